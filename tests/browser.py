"""Headless Chromium (Debian's package, installed by scripts/setup.sh) driven by
Playwright, with every request that would leave the machine blocked: what the report
page's test and the examples' test open their HTML in."""

import re
import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCAL = ("file://", "data:", "blob:")
PNG_WIDTH = 1000

# per plotly figure on the page: has it drawn (an SVG with a size and at least one trace)
# and can it be read: its title within the figure's box and clear of the subplots' titles
# and other annotations, its axis titles, whether a colour that carries a value (a
# heatmap, a contour, markers coloured by a number) has its colour bar (a heatmap whose
# cells are labelled, as the phase diagrams are, needs none), annotations without text
# (plotly.js draws them as its placeholder, "new text"), the legend's entries (a trace
# without a name reads "trace 3"), whether the legend shows every entry inside the figure
# (a scrolled legend hides the entries below its box), and the style (colour, dash,
# marker) of each trace per panel and per legend entry, to find two quantities drawn alike
# (an arrow drawn as an annotation has text '', which is no placeholder)
DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
  const svg = p.querySelector('.main-svg'); const box = p.getBoundingClientRect();
  const title = p.querySelector('.gtitle'); const t = title && title.getBoundingClientRect();
  const numeric = c => Array.isArray(c) && c.length > 0 && typeof c[0] === 'number';
  const valued = (p.data || []).some(d => (['heatmap', 'contour', 'histogram2d'].includes(d.type)
      && !d.texttemplate)
    || (d.marker && numeric(d.marker.color) && d.marker.showscale !== false
        && (d.marker.colorscale || d.marker.coloraxis)));
  const bg = p.querySelector('.legend .bg'); const lb = bg && bg.getBoundingClientRect();
  const inside = (r, o) => r.left >= o.left - 1 && r.right <= o.right + 1 && r.top >= o.top - 1
    && r.bottom <= o.bottom + 1;
  const entries = Array.from(p.querySelectorAll('.legend .traces')).map(e => ({
    text: (e.querySelector('.legendtext') || e).textContent,
    shown: !!lb && inside(e.getBoundingClientRect(), lb) && inside(lb, box)}));
  const style = d => {
    const lines = !d.mode || d.mode.includes('lines'); const m = d.marker || {};
    const colour = lines && d.line ? d.line.color : m.color;
    return typeof colour !== 'string' ? null : [colour, lines && d.line ? d.line.dash || 'solid'
      : '', lines ? '' : m.symbol || 'circle'].join(' ');
  };
  const known = v => v !== null && v !== undefined && !(typeof v === 'number' && isNaN(v));
  const draws = d => {  // a line needs two neighbouring points (or connectgaps), a marker one
    const y = Array.from(d.y || []); const ok = y.map(known);
    if ((d.mode || '').includes('markers') || (d.mode || '').includes('text') || d.fill
        && d.fill !== 'none') return ok.some(Boolean);
    return d.connectgaps ? ok.filter(Boolean).length > 1 : ok.some((o, i) => o && ok[i + 1]);
  };
  const traces = (p._fullData || []).filter(d => d.visible === true && d.type === 'scatter')
    .map(d => ({name: (d._input || d).name || '', style: style(d), legend: d.showlegend !== false,
                draws: draws(d),
                labelled: (d.mode || '').includes('text'),
                panel: (d.xaxis || 'x') + (d.yaxis || 'y')}));
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
        && r.bottom > t.top; }).map(a => a.textContent),
    blankAnnotations: Math.max(((p.layout || {}).annotations || []).filter(a =>
      a.visible !== false && (a.text === undefined || a.text === null)).length,
      Array.from(p.querySelectorAll('.annotation')).filter(a => a.textContent === 'new text')
        .length),
    legend: entries, traceStyles: traces};
})"""

# a default trace name, as plotly writes it for a trace that was given none
UNNAMED = r"^\s*(trace \d+)?\s*$"

# an axis title that is a field's name, not words: a dotted path ('train.lr') or a
# snake_case identifier of two words or more ('weight_decay'; 'o_mem', 'W_E' are notation)
FIELD_NAME = r"\b[a-z]\w*\.[a-z_]+\b|\b[a-z]{2,}_[a-z]{2,}\w*\b"


def unreadable(figure: dict) -> list[str]:
    """What keeps one figure of :func:`figures_drawn` from being read: a clipped title or
    one drawn over a subplot's title, axis titles that are field names, a colour that
    carries a value without its bar, an annotation without text, an unnamed trace in the
    legend, a legend that hides entries or runs past the figure, two quantities (traces of
    different names) in one style in one panel or in the legend, a trace without a name
    beside others in its panel (its hover reads "trace 7"), or one beside others that
    neither the legend (by its style) nor a label of its own identifies (where a colour
    bar is the key to the lines' colours, the last two are the bar's to tell), a trace in
    the legend that draws nothing (a line whose points are all separated by gaps)."""
    title = figure["title"]
    found = [] if figure["titleInside"] else [f"title clipped: {title!r}"]
    if figure["titleOver"]:
        found.append(f"title over {figure['titleOver']}: {title!r}")
    names = [t for t in figure["axisTitles"] if re.search(FIELD_NAME, t)]
    found += [f"axis titles not in words: {names}"] if names else []
    if figure["valueColour"] and not figure["colourBar"]:
        found.append(f"no colour bar: {title!r}")
    if figure.get("blankAnnotations"):
        found.append(f"{figure['blankAnnotations']} annotations without text: {title!r}")
    legend = figure.get("legend", [])
    unnamed = [e["text"] for e in legend if re.match(UNNAMED, e["text"])]
    found += [f"unnamed traces in the legend {unnamed}: {title!r}"] if unnamed else []
    cut = [e["text"] for e in legend if not e["shown"]]
    found += [f"legend cut off, hiding {cut}: {title!r}"] if cut else []
    traces = figure.get("traceStyles", [])
    keyed = figure["colourBar"]  # colour carries a value, and the bar is its key
    found += [f"{a} and {b} drawn alike ({where}): {title!r}"
              for where, a, b in alike(traces) if not keyed]  # fmt: skip
    panels = [t["panel"] for t in traces]
    blank = sorted({t["panel"] for t in traces if not t["name"] and panels.count(t["panel"]) > 1})
    found += [f"unnamed traces beside others in panels {blank}: {title!r}"] if blank else []
    empty = [t["name"] for t in traces if t["legend"] and not t.get("draws", True)]
    found += [f"traces {empty} in the legend draw nothing: {title!r}"] if empty else []
    listed = {t["style"] for t in traces if t["legend"]}
    unlisted = [t["name"] for t in traces if t["name"] and not t["legend"] and not t["labelled"]
                and t["style"] not in listed and panels.count(t["panel"]) > 1
                and t.get("draws", True)]  # a trace that draws nothing needs no key  # fmt: skip
    if unlisted and not keyed:
        found.append(f"traces {unlisted} beside others, in no legend: {title!r}")
    return found


def alike(traces: list[dict]) -> list[tuple[str, str, str]]:
    """(where, name, name) for two traces of different names drawn in one style (colour,
    dash, marker) in one panel, or shown so in the legend: a reader cannot tell them
    apart."""
    out = []
    for where, key in (("one panel", "panel"), ("the legend", None)):
        seen: dict[tuple, str] = {}
        for t in traces:
            if t["style"] is None or not t["name"] or (key is None and not t["legend"]):
                continue
            at = (t[key] if key else "", t["style"])
            if seen.setdefault(at, t["name"]) != t["name"]:
                out.append((where if key is None else f"{where}, {t[key]}", seen[at], t["name"]))
    return sorted(set(out))


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
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            wide = page.evaluate(DRAWN)
            # the PNG is drawn 1,000 px wide (grok_interp/plots.py): what fits the browser's
            # 1,280 px may still be cut there
            page.set_viewport_size({"width": PNG_WIDTH, "height": 900})
            out[path.name] = [narrowest(w, n) for w, n in
                              zip(wide, settled(page), strict=True)]  # fmt: skip
        browser.close()
    return out


def settled(page, tries: int = 20) -> list[dict]:
    """:data:`DRAWN` once two readings 200 ms apart agree: plotly redraws a responsive
    figure some time after the window's size changes, its legend missing meanwhile."""
    last = None
    for _ in range(tries):
        page.wait_for_timeout(200)
        now = page.evaluate(DRAWN)
        if now == last:
            return now  # type: ignore[no-any-return]
        last = now
    return last  # type: ignore[return-value]


def narrowest(wide: dict, narrow: dict) -> dict:
    """One figure's :data:`DRAWN` at the browser's width with what was cut at the PNG's:
    a title or a legend entry that fits only the wider page counts as cut."""
    shown = {e["text"] for e in narrow["legend"] if e["shown"]}
    return wide | {"titleInside": wide["titleInside"] and narrow["titleInside"],
                   "legend": [e | {"shown": e["shown"] and e["text"] in shown}
                              for e in wide["legend"]]}  # fmt: skip
