"""The report page (index.html) in a real browser: headless Chromium (Debian's package,
installed by scripts/setup.sh) driven by Playwright. Every table is in the DOM, every
figure has a size, the attention view renders, the screenshot is not blank, and no
request leaves the machine."""

import base64
import dataclasses
import html
import os
import re
from pathlib import Path

import pytest

from grok_interp.analyses.curves import over_training
from grok_interp.runs import load_run
from tests.browser import CHROMIUM, figures_drawn, unreadable

ROOT = Path(__file__).resolve().parents[1]
sync_api = pytest.importorskip("playwright.sync_api")

if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("CI needs Debian's chromium (bash scripts/setup.sh installs it)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: bash scripts/setup.sh")

# Pixel statistics of a PNG, computed by the browser itself (no image library needed).
PIXELS = """async (src) => {
  const img = new Image(); img.src = src; await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set(); let dark = 0;
  for (let i = 0; i < d.length; i += 4 * 7) {
    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (d[i] + d[i + 1] + d[i + 2] < 300) dark++;
  }
  return [colours.size, dark];
}"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory, mainline_report):
    out = tmp_path_factory.mktemp("page")
    run = load_run(ROOT / "checkpoints" / "mainline.pt")  # + every paper's curves
    results = {**mainline_report.results, "over_training": over_training(run)}
    report = dataclasses.replace(mainline_report, results=results)
    report.save(out)
    return report, out / "index.html"


def test_page_is_valid_html5_and_self_contained(report_page):
    report, path = report_page
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert f"<title>{html.escape(report.header())}</title>" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", text)  # all inlined


def test_page_in_headless_chromium(report_page):
    report, path = report_page
    outside = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(r):
            if r.request.url.startswith(("file://", "data:", "blob:")):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        page.route("**/*", route)
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        assert page.evaluate("document.compatMode") == "CSS1Compat"  # not quirks mode
        n_tables = 1 + len(report.results) + 1  # Table 5, each Result, attention summary
        assert page.locator("table").count() == n_tables
        body = page.inner_text("body")
        for res in report.results.values():
            assert res.heading() in body
        assert "key frequencies" in body and "2.41e-7" in body
        assert "\u26a0" in body and "19.1 (test)" in body  # the departing number is flagged
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == len(report.figures())
        for i in range(plots.count()):
            box = plots.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 200
        # the contents bar: every link lands on a section, and stays in view when scrolled
        hrefs = page.eval_on_selector_all("nav#contents a", "as => as.map(a => a.hash)")
        assert len(hrefs) >= len(report.results) + 6  # + the over-training figures
        assert all(page.evaluate(f"!!document.getElementById('{h[1:]}')") for h in hrefs)
        page.click("a[href='#over_training-all_measures']")
        assert page.locator("nav#contents").bounding_box()["y"] == 0
        assert page.evaluate("window.scrollY") > 1000
        view = page.locator("[id^=circuits-vis]")
        assert view.count() == 1 and view.first.inner_html()  # circuitsvis rendered
        shot = base64.b64encode(page.screenshot(full_page=False)).decode()
        colours, dark = page.evaluate(PIXELS, f"data:image/png;base64,{shot}")
        browser.close()
    assert colours > 20 and dark > 100, (colours, dark)  # text and tables drawn
    assert outside == []


def test_every_figure_on_the_page_can_be_read(report_page):
    """Titles within their figure, axis titles in words, a colour bar wherever colour
    carries a value (tests/browser.py), on the page with every paper's curves."""
    _, page = report_page
    drawn = figures_drawn([page])
    assert drawn.pop("outside") == []
    assert len(drawn[page.name]) > 10
    assert [(f["title"], unreadable(f)) for f in drawn[page.name] if unreadable(f)] == []
