"""Headless Chromium (Debian's package, installed by scripts/setup.sh) driven by
Playwright, with every request that would leave the machine blocked: what the report
page's test and the examples' test open their HTML in."""

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCAL = ("file://", "data:", "blob:")

# every plotly figure on the page has drawn: an SVG with a size and at least one trace
DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
  const svg = p.querySelector('.main-svg'); const box = p.getBoundingClientRect();
  return [!!svg, box.width, box.height, (p.data || []).length,
          p.querySelectorAll('.trace, .hm image, .shape-group path, .annotation').length];
})"""


def figures_drawn(paths: list[Path]) -> dict[str, list]:
    """For each HTML file: [svg drawn, width, height, traces, marks] per plotly figure,
    opened offline; a request that leaves the machine fails the caller's check through
    the ``"outside"`` key."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list] = {"outside": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(r):
            if r.request.url.startswith(LOCAL):
                return r.continue_()
            out["outside"].append(r.request.url)
            return r.abort()

        page.route("**/*", route)
        for path in paths:
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            out[path.name] = page.evaluate(DRAWN)
        browser.close()
    return out
