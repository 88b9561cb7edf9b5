"""Plotly figures that are not one Result's own ``.figure()``, and writing them to disk.

Used by the scripts in ``examples/`` that redraw the figures of Nanda et al. (2023).
``write`` produces self-contained HTML (plotly's JavaScript inlined, so it opens
offline) and a PNG beside it when a static renderer (kaleido) is installed.
"""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from grok_interp import fourier
from grok_interp.analyses.common import ModelData
from grok_interp.runs import Run

# The PNG is drawn by kaleido in a process of its own, in a session of its own: kaleido's
# Chromium has been seen to sit without answering (12 minutes, holding a finished sweep's
# script), and a timeout inside one process cannot stop it. PNG_TIMEOUT_S bounds the wait;
# on expiry the whole session (kaleido and its Chromium) is killed and the PNG given up.
PNG_TIMEOUT_S = 120
# kaleido's default page is 700 px wide, narrower than the HTML's, and clipped long titles:
# a figure without a width of its own is drawn 1,000 px wide
PNG_CHILD = (
    "import sys, plotly.io as pio\n"
    "fig = pio.from_json(sys.stdin.read(), skip_invalid=True)\n"
    "fig.write_image(sys.argv[1], width=fig.layout.width or 1000)"
)


def write(fig: go.Figure, out: str | Path, name: str) -> list[Path]:
    """``out/name.html`` (self-contained) and ``out/name.png`` when kaleido is available
    and draws it within ``PNG_TIMEOUT_S`` (otherwise a warning and the HTML alone)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.html"]
    fig.write_html(paths[0], include_plotlyjs=True)
    if importlib.util.find_spec("kaleido") is None:
        return paths  # no static renderer installed: HTML only
    png = out / f"{name}.png"
    why = _draw_png(fig.to_json(), png)
    if why is None:
        return [*paths, png]
    png.unlink(missing_ok=True)
    warnings.warn(f"{name}: no PNG ({why}); the HTML is written", stacklevel=2)
    return paths


def _draw_png(spec: str, png: Path) -> str | None:
    """Run PNG_CHILD on ``spec``: None when it wrote ``png``, else why not."""
    child = subprocess.Popen([sys.executable, "-c", PNG_CHILD, str(png)],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    try:
        _, err = child.communicate(spec, timeout=PNG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return f"kaleido did not answer within {PNG_TIMEOUT_S} s"
    lines = err.strip().splitlines()
    return None if child.returncode == 0 and png.exists() else (lines or ["failed"])[-1]


def loss_curves(
    runs: Sequence[Run | Mapping[str, Sequence[float]]], names: Sequence[str], title: str
) -> go.Figure:
    """Train/test accuracy (left) and loss (right, log) per run (Figure 2 style); each run
    a Run or its history (a sweep's :func:`~grok_interp.sweeps.load_histories`), in one
    colour in both panels, train solid and test dotted."""
    import plotly.express as px

    fig = make_subplots(rows=1, cols=2, subplot_titles=["accuracy", "loss"])
    palette = px.colors.qualitative.Plotly + px.colors.qualitative.Dark24
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        h = run.history if isinstance(run, Run) else run
        for split, dash in (("train", "solid"), ("test", "dot")):
            style = {"dash": dash, "color": palette[i % len(palette)]}
            fig.add_trace(
                go.Scatter(
                    x=h["epoch"],
                    y=h[f"{split}_acc"],
                    name=f"{name} {split}",
                    line=style,
                    legendgroup=name,
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=h["epoch"],
                    y=h[f"{split}_loss"],
                    name=f"{name} {split}",
                    line=style,
                    legendgroup=name,
                    showlegend=False,  # the accuracy's entry, in the same style
                ),
                row=1,
                col=2,
            )
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=title)
    return fig


def interference(p: int, keys: Sequence[int]) -> go.Figure:
    """cos(w_k x) for each key frequency and their sum (Figure 8, Appendix B)."""
    x = torch.arange(p, dtype=torch.float64)
    fig = go.Figure()
    total = torch.zeros(p, dtype=torch.float64)
    for k in keys:
        wave = torch.cos(2 * math.pi * k * x / p)
        total += wave
        fig.add_trace(go.Scatter(x=x.tolist(), y=wave.tolist(), name=f"cos(w_{k} x)", opacity=0.5))
    fig.add_trace(go.Scatter(x=x.tolist(), y=total.tolist(), name="sum", line={"width": 3}))
    fig.update_layout(
        title=f"Constructive interference at x = 0 mod {p} (Figure 8)",
        xaxis_title="x = a + b - c mod p",
    )
    return fig


def periodicity(data: ModelData, head: int = 0, neuron: int = 0) -> go.Figure:
    """Attention from = to a of one head, one neuron's activation over (a, b), and the
    logits' 2D Fourier norms over c (Figure 4)."""
    p = data.p
    assert data.pattern is not None
    coeffs = fourier.dft2(data.logits.double().reshape(p, p, -1))
    norms = coeffs.square().sum(-1).sqrt()
    labels = fourier.labels(p)
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.1,
        subplot_titles=[
            f"attention =→a, head {head}",
            f"neuron {neuron}",
            "logits, 2D Fourier norm",
        ],
    )
    fig.add_trace(
        go.Heatmap(z=data.pattern[:, head, data.a_pos].reshape(p, p).tolist(), showscale=False),
        row=1,
        col=1,
    )
    post, _ = data.mlp("Figure 4")
    fig.add_trace(
        go.Heatmap(z=post[:, neuron].reshape(p, p).tolist(), showscale=False), row=1, col=2
    )
    fig.add_trace(
        go.Heatmap(z=norms.tolist(), x=labels, y=labels, colorscale="Blues"), row=1, col=3
    )
    fig.update_layout(title="Periodicity in attention, neurons and logits (Figure 4)", height=500)
    for col in (1, 2):
        fig.update_xaxes(title_text="b", row=1, col=col)
        fig.update_yaxes(title_text="a", row=1, col=col)
    fig.update_xaxes(title_text="component over b", row=1, col=3)
    fig.update_yaxes(title_text="component over a", row=1, col=3)
    return fig


def progress_extra(progress: dict[str, list[float]], keys: Sequence[int]) -> go.Figure:
    """Restricted accuracy (Fig 13), alpha_k of cos(w_k(a+b-c)) (Fig 14), excluded loss per
    key frequency (Fig 15)."""
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=[
            "restricted vs test accuracy (Fig 13)",
            "alpha_k (Fig 14)",
            "excluded loss per key frequency (Fig 15)",
        ],
    )
    x = progress["epoch"]
    for col in ("test_acc", "restricted_acc"):
        fig.add_trace(go.Scatter(x=x, y=progress[col], name=col), row=1, col=1)
    for k in keys:
        fig.add_trace(go.Scatter(x=x, y=progress[f"alpha_{k}"], name=f"alpha_{k}"), row=1, col=2)
        fig.add_trace(
            go.Scatter(x=x, y=progress[f"excluded_loss_{k}"], name=f"excluded {k}"), row=1, col=3
        )
    fig.add_trace(
        go.Scatter(x=x, y=progress["excluded_loss_max_any"], name="max over all k"), row=1, col=3
    )
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_yaxes(title_text="alpha_k", row=1, col=2)
    fig.update_yaxes(title_text="loss", row=1, col=3)
    fig.update_layout(title="Further progress measures (Appendix C.1.5)")
    return fig
