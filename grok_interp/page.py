"""The report page: ``index.html``, one self-contained HTML5 file that works offline.

It holds every table of the Report (the paper beside ours where comparable), every
figure, and the circuitsvis attention view of one input. plotly.js is inlined once and
the circuitsvis bundle with its view, so the page makes no network request. Figures get
a fixed height and the page's width, log axes read in powers of ten
(:func:`finish`).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

if TYPE_CHECKING:
    from grok_interp.reporting import Report

FIGURE_HEIGHT = 460
# a title longer than this goes on two lines: the most characters that plotly's 17 px
# title font fits on a figure 720 px wide (the page's on a 1,000 px window)
TITLE_CHARS = 80
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; display: flex; align-items: flex-start; }
nav#contents { position: sticky; top: 0; flex: 0 0 17em; max-height: 100vh; overflow-y: auto;
  box-sizing: border-box; padding: 1em; border-right: 1px solid #ddd; font-size: 0.85em;
  background: #fafafa; }
nav#contents ul { padding-left: 1em; margin: 0.2em 0; }
nav#contents > ul { padding-left: 0; list-style: none; }
nav#contents a { text-decoration: none; }
main { flex: 1 1 auto; min-width: 0; max-width: 1200px; padding: 0 1.5em 2em; }
h2, h3 { scroll-margin-top: 0.5em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
.figure { width: 100%; height: HEIGHTpx; margin: 1em 0; }
.notes { color: #444; font-size: 0.9em; }
"""
# (anchor, heading) of one entry of the contents, grouped under its paper
Entry = tuple[str, str]


def finish(fig: go.Figure, height: int = FIGURE_HEIGHT) -> go.Figure:
    """A figure as the page shows it: its height set, log axes ticked in powers of ten, a
    long title on two lines (:func:`wrap_title`)."""
    fig.update_layout(height=fig.layout.height or height, autosize=True)
    wrap_title(fig)
    fig.for_each_xaxis(lambda ax: ax.update(exponentformat="power") if ax.type == "log" else None)
    fig.for_each_yaxis(lambda ax: ax.update(exponentformat="power") if ax.type == "log" else None)
    return fig


def wrap_title(fig: go.Figure, width: int = TITLE_CHARS) -> None:
    """Break a title longer than ``width`` characters (and without a break of its own) at
    the space nearest its middle, and give the second line room: plotly does not wrap,
    and a long title runs past the right edge of a figure on a narrow window."""
    text = fig.layout.title.text or ""
    if len(text) <= width or "<br>" in text or " " not in text:
        return
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    top = fig.layout.margin.t
    fig.update_layout(title_text=f"{text[:cut]}<br>{text[cut + 1:]}",
                      margin_t=max(top if top is not None else 100, 110))  # fmt: skip


def _figure_div(fig: go.Figure) -> str:
    fig = finish(go.Figure(fig))
    h = int(fig.layout.height)
    body = fig.to_html(
        full_html=False, include_plotlyjs=False, default_width="100%", default_height=f"{h}px"
    )
    return f'<div class="figure" style="height: {h}px">{body}</div>'


def _view(report: Report, pair: tuple[int, int] | None) -> str:
    from grok_interp.analyses.attention import attention_view

    pairs = report.task.pairs()
    a, b = pair if pair is not None else (int(x) for x in pairs[len(pairs) // 2])
    src = attention_view(report.model, report.task, a, b).local_src
    src = re.sub(r"^<div ([^>]*)/>", r"<div \1></div>", src.lstrip())  # HTML5: no void divs
    return f'<h2 id="attention-view">Attention of every head on ({a}, {b})</h2>\n{src}'


def _result(name: str, res: Any, toc: dict[str, list[Entry]], paper: str) -> list[str]:
    """One Result's section: heading (anchor ``name``), tables, notes and figures; its
    entries go into ``toc`` under its paper."""
    heading = res.heading()
    short = heading.replace(f" ({res.section})", "") if res.section else heading
    toc.setdefault(res.paper_name or paper, []).append((name, short))
    parts = [f'<h2 id="{name}">{html.escape(heading)}</h2>', res.table().to_html(index=False)]
    extra = getattr(res, "summary", None)
    if callable(extra):
        parts.append(extra().to_html(index=False))
    parts.append(_notes(res.notes()))
    many = getattr(res, "figures", None)
    if callable(many):  # a Result with several figures: one anchored sub-section each
        for anchor, title, fig in many():
            toc[res.paper_name or paper].append((f"{name}-{anchor}", f"\u2003{title}"))
            parts += [f'<h3 id="{name}-{anchor}">{html.escape(title)}</h3>', _figure_div(fig)]
        return parts
    try:
        parts.append(_figure_div(res.figure()))
    except NotImplementedError:
        pass
    return parts


def contents(toc: dict[str, list[Entry]]) -> str:
    """The side bar: one list per paper, one link per section."""
    items = []
    for paper, entries in toc.items():
        links = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in entries)
        items.append(f"<li><b>{html.escape(paper)}</b><ul>{links}</ul></li>")
    return f'<nav id="contents"><b>Contents</b><ul>{"".join(items)}</ul></nav>'


def page(report: Report, pair: tuple[int, int] | None = None) -> str:
    """The whole page (module docstring); ``pair`` is the input of the attention view.
    A contents bar stays at the side, one link per section, each an anchor
    (``index.html#ablations``); the sections are grouped by the paper they come from."""
    title = html.escape(report.header())
    paper = report.family_title()
    toc: dict[str, list[Entry]] = {"This run": [("summary", report.summary_heading())]}
    parts = [
        f"<h1>{title}</h1>",
        f'<h2 id="summary">{html.escape(report.summary_heading())}</h2>',
        report.table5().to_html(index=False),
        _notes(report.summary_notes()),
    ]
    for name, res in report.results.items():
        parts += _result(name, res, toc, paper)
    if report.attention is not None:
        toc.setdefault(paper, []).append(("attention-view", "Attention of every head"))
        parts.append(_view(report, pair))
    if report.not_run:
        toc["This run"].append(("not-run", "Analyses not run"))
        parts += ['<h2 id="not-run">Analyses not run</h2>', _notes(list(report.not_run.values()))]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{STYLE.replace('HEIGHT', str(FIGURE_HEIGHT))}</style>\n"
        f"<script>{get_plotlyjs()}</script>\n</head>\n<body>\n{contents(toc)}\n<main>\n"
        + "\n".join(parts)
        + "\n</main>\n</body>\n</html>\n"
    )


def _notes(notes: list[str]) -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<ul class="notes">{items}</ul>' if items else ""
