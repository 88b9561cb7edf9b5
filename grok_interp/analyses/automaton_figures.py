"""Figures of the automaton extraction (:mod:`grok_interp.analyses.automaton`): an
automaton drawn with its states, symbol-labelled edges and self-loops, and the states
found over training by one clustering rule or by each side by side (van Rossem & Saxe
2025, Figs 3-4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from grok_interp.analyses.automaton import Automaton


def automaton_figure(auto: Automaton, title: str = "automaton", max_states: int = 40) -> go.Figure:
    """The automaton's states on a circle, coloured by output, with an arrow per
    transition labelled by its symbol (self-loops as a label beside the state)."""
    fig = go.Figure()
    n = auto.n_states
    if n > max_states:
        fig.update_layout(title=f"{title}: {n} states, too many to draw (max {max_states})")
        return fig
    ang = 2 * np.pi * np.arange(n) / n + np.pi / 2
    x, y = np.cos(ang), np.sin(ang)
    edges: dict[tuple[int, int], list[str]] = {}
    for q in range(n):
        for s in (0, 1):
            r = int(auto.transitions[q, s])
            if r >= 0:
                edges.setdefault((q, r), []).append(str(s))
    for (q, r), symbols in edges.items():
        _edge(fig, (x[q], y[q]), (x[r], y[r]), ",".join(symbols), loop=q == r)
    label = [str(q) for q in range(n)]
    q0 = auto.initial
    fig.add_annotation(x=x[q0], y=y[q0], ax=x[q0] - 0.5, ay=y[q0], xref="x", yref="y",
                       axref="x", ayref="y", text="start", showarrow=True, arrowhead=2,
                       standoff=16)  # fmt: skip
    bar = dict(title="output class", tickvals=[0, 1])
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers+text", text=label,
                             textposition="middle center", textfont=dict(color="white"),
                             hoverinfo="text", marker=dict(size=30, color=auto.outputs,
                             colorscale="Viridis", cmin=0, cmax=1, showscale=True,
                             colorbar=bar)))  # fmt: skip
    fig.update_layout(title=title + " (arrows labelled by the symbol read)", showlegend=False,
                      xaxis=dict(visible=False, range=[-1.6, 1.6]),
                      yaxis=dict(visible=False, scaleanchor="x", range=[-1.6, 1.6]))  # fmt: skip
    return fig


def _edge(fig: go.Figure, a: tuple[float, float], b: tuple[float, float], text: str,
          loop: bool) -> None:  # fmt: skip
    """One transition: a self-loop as a ring outside its state, labelled beyond it; else an
    arrow, each direction of a pair on its own side, labelled at its middle."""
    if loop:
        norm = max(float(np.hypot(*a)), 1e-9)
        ux, uy = a[0] / norm, a[1] / norm
        cx, cy, rad = a[0] + 0.2 * ux, a[1] + 0.2 * uy, 0.13
        fig.add_shape(type="circle", x0=cx - rad, x1=cx + rad, y0=cy - rad, y1=cy + rad,
                      line=dict(color="#555"))  # fmt: skip
        fig.add_annotation(x=cx + 0.24 * ux, y=cy + 0.24 * uy, text=f"<b>{text}</b>",
                           showarrow=False)  # fmt: skip
        return
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = max(float(np.hypot(dx, dy)), 1e-9)
    px, py = -dy / length * 0.06, dx / length * 0.06  # to the left of the direction of travel
    fig.add_annotation(x=b[0] + px, y=b[1] + py, ax=a[0] + px, ay=a[1] + py, xref="x", yref="y",
                       axref="x", ayref="y", showarrow=True, arrowhead=2, arrowsize=1.3,
                       arrowcolor="#555", text="", standoff=16, startstandoff=16)  # fmt: skip
    fig.add_annotation(x=(a[0] + b[0]) / 2 + 2 * px, y=(a[1] + b[1]) / 2 + 2 * py,
                       text=f"<b>{text}</b>", showarrow=False, bgcolor="white")  # fmt: skip


def states_figure(frame: pd.DataFrame, title: str = "states over training") -> go.Figure:
    """The number of states (and of the minimal automaton's) beside the train and test
    loss over training (the paper's loss-and-states figure)."""
    return rules_figure({"": frame}, title)


def rules_figure(frames: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """:func:`states_figure` for each clustering rule, side by side (one panel per rule,
    ``frames``: rule -> :func:`automaton_over_training`'s frame), so the collapse of the
    states under each can be compared."""
    names = [f"{m} rule" if m else "" for m in frames]
    fig = make_subplots(rows=1, cols=len(frames), subplot_titles=names,
                        specs=[[{"secondary_y": True}] * len(frames)])  # fmt: skip
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    for col, frame in enumerate(frames.values(), start=1):
        first = col == 1
        for k, name in (("train_loss", "train loss"), ("test_loss", "test loss")):
            if k in frame:
                fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[k], name=name,
                                         legendgroup=k, showlegend=first,
                                         line=dict(color=_COLOURS[k])),
                              row=1, col=col, secondary_y=False)  # fmt: skip
        for k, name in (("n_states", "states"), ("n_minimal", "minimal automaton's states")):
            fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[k], name=name, legendgroup=k,
                                     showlegend=first,
                                     line=dict(dash="dot", color=_COLOURS[k])),
                          row=1, col=col, secondary_y=True)  # fmt: skip
        fig.update_yaxes(title_text="MSE", secondary_y=False, row=1, col=col)
        fig.update_yaxes(title_text="states (log)", type="log", tickvals=ticks,
                         secondary_y=True, row=1, col=col)  # fmt: skip
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(title=title)
    return fig


_COLOURS = {"train_loss": "#636efa", "test_loss": "#ef553b", "n_states": "#00cc96",
            "n_minimal": "#ab63fa"}  # fmt: skip
