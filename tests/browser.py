"""Headless Chromium (Debian's package, installed by scripts/setup.sh) driven by
Playwright, with every request that would leave the machine blocked: what the report
page's test and the examples' test open their HTML in."""

import re
import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCAL = ("file://", "data:", "blob:")

# per plotly figure on the page: has it drawn (an SVG with a size and at least one trace)
# and can it be read: its title within the figure's box and clear of the subplots' titles
# and other annotations, its axis titles, and whether a colour that carries a value (a
# heatmap, a contour, markers coloured by a number) has its colour bar (a heatmap whose
# cells are labelled, as the phase diagrams are, needs none)
DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
  const svg = p.querySelector('.main-svg'); const box = p.getBoundingClientRect();
  const title = p.querySelector('.gtitle'); const t = title && title.getBoundingClientRect();
  const numeric = c => Array.isArray(c) && c.length > 0 && typeof c[0] === 'number';
  const valued = (p.data || []).some(d => (['heatmap', 'contour', 'histogram2d'].includes(d.type)
      && !d.texttemplate)
    || (d.marker && numeric(d.marker.color) && d.marker.showscale !== false
        && (d.marker.colorscale || d.marker.coloraxis)));
  return {svg: !!svg, width: box.width, height: box.height, traces: (p.data || []).length,
    marks: p.querySelectorAll('.trace, .hm image, .shape-group path, .annotation').length,
    title: title ? title.textContent : '',
    titleInside: !t || (t.left >= box.left - 1 && t.right <= box.right + 1 && t.top >= box.top - 1),
    axisTitles: Array.from(p.querySelectorAll('.xtitle, .ytitle, .g-xtitle text, .g-ytitle text'))
      .map(e => e.textContent),
    valueColour: valued, colourBar: !!p.querySelector('.colorbar'),
    titleOver: !t ? [] : Array.from(p.querySelectorAll('.annotation')).filter(a => {
      const r = a.getBoundingClientRect();
      return r.width > 0 && r.left < t.right && r.right > t.left && r.top < t.bottom
        && r.bottom > t.top; }).map(a => a.textContent)};
})"""

# an axis title that is a field's name, not words: a dotted path ('train.lr') or a
# snake_case identifier of two words or more ('weight_decay'; 'o_mem', 'W_E' are notation)
FIELD_NAME = r"\b[a-z]\w*\.[a-z_]+\b|\b[a-z]{2,}_[a-z]{2,}\w*\b"


def unreadable(figure: dict) -> list[str]:
    """What keeps one figure of :func:`figures_drawn` from being read: a clipped title or
    one drawn over a subplot's title, axis titles that are field names, a colour that
    carries a value without its bar."""
    found = [] if figure["titleInside"] else [f"title clipped: {figure['title']!r}"]
    if figure["titleOver"]:
        found.append(f"title over {figure['titleOver']}: {figure['title']!r}")
    names = [t for t in figure["axisTitles"] if re.search(FIELD_NAME, t)]
    found += [f"axis titles not in words: {names}"] if names else []
    if figure["valueColour"] and not figure["colourBar"]:
        found.append(f"no colour bar: {figure['title']!r}")
    return found


def figures_drawn(paths: list[Path]) -> dict[str, list]:
    """For each HTML file: a dict per plotly figure (see :data:`DRAWN`),
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
