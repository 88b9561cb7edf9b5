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
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

if TYPE_CHECKING:
    from grok_interp.reporting import Report

FIGURE_HEIGHT = 460
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
.figure { width: 100%; height: HEIGHTpx; margin: 1em 0; }
.notes { color: #444; font-size: 0.9em; }
"""


def finish(fig: go.Figure, height: int = FIGURE_HEIGHT) -> go.Figure:
    """A figure as the page shows it: its height set, log axes ticked in powers of ten."""
    fig.update_layout(height=fig.layout.height or height, autosize=True)
    fig.for_each_xaxis(lambda ax: ax.update(exponentformat="power") if ax.type == "log" else None)
    fig.for_each_yaxis(lambda ax: ax.update(exponentformat="power") if ax.type == "log" else None)
    return fig


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
    return f"<h2>Attention of every head on ({a}, {b})</h2>\n{src}"


def page(report: Report, pair: tuple[int, int] | None = None) -> str:
    """The whole page (module docstring); ``pair`` is the input of the attention view."""
    title = html.escape(report.header())
    parts = [
        f"<h1>{title}</h1>",
        "<h2>Summary (Table 5 row)</h2>",
        report.table5().to_html(index=False),
        _notes(report.summary_notes()),
    ]
    for name, res in report.results.items():
        parts += [
            f'<h2 id="{name}">{html.escape(res.heading())}</h2>',
            res.table().to_html(index=False),
        ]
        extra = getattr(res, "summary", None)
        if callable(extra):
            parts.append(extra().to_html(index=False))
        parts.append(_notes(res.notes()))
        try:
            parts.append(_figure_div(res.figure()))
        except NotImplementedError:
            pass
    if report.not_run:
        parts += ["<h2>Analyses not run</h2>", _notes(list(report.not_run.values()))]
    if report.attention is not None:
        parts.append(_view(report, pair))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{STYLE.replace('HEIGHT', str(FIGURE_HEIGHT))}</style>\n"
        f"<script>{get_plotlyjs()}</script>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )


def _notes(notes: list[str]) -> str:
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<ul class="notes">{items}</ul>' if items else ""
