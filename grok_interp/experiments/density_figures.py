"""Humayun, Balestriero and Baraniuk's Figures 3 and 4 from Run files
(:mod:`grok_interp.analyses.circuit_density` computes the measures): accuracy beside the
circuit density of training, test and random points over training, with Nanda et al.'s
phase boundaries (Figure 3); and the measure on the plane through three training inputs,
per MLP layer, at chosen snapshots (Figures 2 and 4). Each returns its figure and its
Markdown table, which ``examples/humayun_*.py`` write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from grok_interp.analyses.circuit_density import (
    Plane,
    PlaneMeasure,
    Positions,
    RandomDraw,
    circuit_density_over_training,
    density,
    operand_embeddings,
    plane,
    plane_extent,
    plane_figure,
)
from grok_interp.analyses.common import markdown
from grok_interp.analyses.progress import phases
from grok_interp.runs import Run, load_run, model_from_run

COLOURS = {"train": "#1f77b4", "test": "#d62728", "random": "#7f7f7f"}
# the accuracies in colours of their own: the density's colours name the point sets
ACCURACY = {"train_acc": ("train accuracy", "#2ca02c", "solid"),
            "test_acc": ("test accuracy", "#9467bd", "dash")}  # fmt: skip
PAPER_ANCHORS = ((72, 65), (28, 93), (61, 66))  # Figure 4's '72+65', '28+93', '61+66'


def nearest(frame: pd.DataFrame, epoch: float | int) -> Any:
    """The epoch of ``frame``'s snapshot nearest ``epoch``."""
    epochs = frame["epoch"].unique()
    return epochs[abs(epochs - epoch).argmin()]


def marked_rows(name: str, total: pd.DataFrame, bounds: Sequence[int] | None
                ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Per set, the density (over the positions read, and per position) at initialisation,
    the first snapshot after it, the phase boundaries ``bounds`` and the last snapshot."""
    epochs = sorted(total["epoch"].unique())
    marks = [("initialisation", epochs[0]), ("first snapshot after init", epochs[1])]
    marks += [(m, nearest(total, e)) for m, e in zip(("memorisation end", "cleanup start",
                                                      "cleanup end"), bounds or (),
                                                     strict=False)]  # fmt: skip
    marks.append(("last snapshot", epochs[-1]))
    at_cols = [c for c in total.columns if c.startswith("at ")]
    for mark, e in marks:
        for _, row in total[total["epoch"] == e].iterrows():
            yield {"run": name, "at": mark, "epoch": int(e), "set": row["set"],
                   "neurons cut": round(float(row["count"]), 1),
                   **{c: round(float(row[c]), 1) for c in at_cols}}  # fmt: skip


def _draw_run(fig: go.Figure, i: int, run: Run, total: pd.DataFrame,
              bounds: Sequence[int] | None) -> None:  # fmt: skip
    """Row ``i`` of Figure 3: the accuracies, and the density of each set, with the phase
    boundaries dotted."""
    for key, (name, colour, dash) in ACCURACY.items():
        if key in run.history:  # a Run from one's own snapshots may record none
            fig.add_trace(go.Scatter(x=run.history["epoch"], y=run.history[key], name=name,
                                     showlegend=i == 1, line={"color": colour, "dash": dash}),
                          row=i, col=1)  # fmt: skip
    for s, part in total.groupby("set"):
        fig.add_trace(go.Scatter(x=part["epoch"], y=part["count"], name=f"{s} points",
                                 showlegend=i == 1, line={"color": COLOURS[str(s)]}),
                      row=i, col=2)  # fmt: skip
    for epoch in bounds or ():
        for col in (1, 2):
            fig.add_vline(x=epoch, line_dash="dot", line_color="black", row=i, col=col)


def density_figure(paths: Sequence[str | Path], *, points: int = 200, r: float = 0.05,
                   n: int = 50, positions: Positions = "output", random: RandomDraw = "inputs"
                   ) -> tuple[go.Figure, str, pd.DataFrame]:  # fmt: skip
    """Figure 3 for the runs at ``paths`` (one row each): the figure, the Markdown table
    (per run, the density of each set at initialisation, the first snapshot after it, the
    phase boundaries and the last snapshot; then per position) and the full frame."""
    fig = make_subplots(rows=len(paths), cols=2, shared_xaxes=True,
                        subplot_titles=[t for p in paths for t in
                                        (f"{Path(p).stem}: accuracy",
                                         "circuit density")])  # fmt: skip
    rows: list[dict[str, Any]] = []
    frames = []
    for i, path in enumerate(paths, start=1):
        run = load_run(path)
        frame = circuit_density_over_training(run, n_points=points, r=r, n=n,
                                              positions=positions,
                                              random=random)  # fmt: skip
        frame.insert(0, "run", Path(path).stem)
        frames.append(frame)
        hist = pd.DataFrame({k: run.history[k] for k in ("epoch", "train_loss", "test_loss")})
        bounds = phases(hist)
        at_cols = [c for c in frame.columns if c.startswith("at ")]
        total = frame.groupby(["epoch", "set"])[["count", *at_cols]].sum().reset_index()
        _draw_run(fig, i, run, total, bounds)
        rows += marked_rows(Path(path).stem, total, bounds)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title="Accuracy and circuit density over training (Humayun et al., "
                      "Figure 3); dotted: Nanda et al.'s phase boundaries",
                      height=220 + 280 * len(paths))  # fmt: skip
    long = pd.DataFrame(rows).sort_values(["run", "epoch"], kind="stable")
    table = long.pivot_table(index=["run", "at", "epoch"], columns="set",
                             values="neurons cut").reset_index()  # fmt: skip
    table = table.sort_values(["run", "epoch"])
    text = ("## Circuit density over training (neurons cut per neighbourhood, summed over "
            f"layers; r = {r}, {2 * n} vertices, {points} points per set; "
            f"positions read: {positions}; random points: {random})\n\n"
            + markdown(table, ".1f")
            + "\n\n## Per position (every position, read or not)\n\n"
            + markdown(long.drop(columns="neurons cut"), ".1f")
            + "\n")  # fmt: skip
    return fig, text, pd.concat(frames)


def anchors_of(run: Run, seed: int = 0) -> list[list[int]]:
    """The paper's three inputs if they are training pairs of ``run``, else seeded ones."""
    pairs = run.task.pairs()
    train = {tuple(p) for p in pairs[run.train_idx].tolist()}
    if all(a in train for a in PAPER_ANCHORS):
        return [list(a) for a in PAPER_ANCHORS]
    gen = torch.Generator().manual_seed(seed)
    pick = run.train_idx[torch.randperm(len(run.train_idx), generator=gen)[:3]]
    return pairs[pick].tolist()


def nearest_snapshots(run: Run, wanted: Sequence[int]) -> list[int]:
    """The run's snapshots nearest the epochs ``wanted``, each once, in order."""
    have = sorted(run.snapshots)
    return sorted({min(have, key=lambda s: abs(s - w)) for w in wanted})


def plane_summary(pl: Plane, extent: float, grid: int, at_inputs: Sequence[float]
                  ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Per layer of ``pl``: the measure at the inputs, near them (within 10% of the
    half-width) and over the plane."""
    t = torch.linspace(-extent, extent, grid)
    ss, tt = torch.meshgrid(t, t, indexing="ij")
    near = torch.zeros(grid, grid, dtype=torch.bool)
    for x, y in pl.anchors.tolist():
        near |= ((ss - x) ** 2 + (tt - y) ** 2).sqrt() < 0.1 * extent
    for layer, counts in enumerate(pl.counts):
        yield {"layer": layer, "at the inputs": at_inputs[layer],
               "near the inputs": float(counts[near].double().mean()),
               "whole plane": float(counts.double().mean())}  # fmt: skip


def plane_over_training(path: str | Path, *, steps: Sequence[int] | None = None,
                        grid: int = 60, measure: PlaneMeasure = "density",
                        positions: Positions = "output", r: float = 0.05, n: int = 50
                        ) -> tuple[go.Figure, str]:  # fmt: skip
    """Figures 2 and 4 for the run at ``path``: the plane through three training inputs
    (:func:`anchors_of`) at the snapshots nearest ``steps`` (default 0, 1k, 8k, 12k and
    the last), at a fixed half-width; the figure and the Markdown table of
    :func:`plane_summary` per snapshot and layer."""
    run = load_run(path)
    last = max(run.snapshots)
    steps = nearest_snapshots(run, steps or [0, 1000, 8000, 12000, last])
    pairs = anchors_of(run)
    labels = [f"{a}+{b}" for a, b in pairs]
    task = run.task
    extent = plane_extent(operand_embeddings(model_from_run(run, last), task,
                                             torch.tensor(pairs)))  # fmt: skip
    planes, rows = [], []
    for step in steps:
        model = model_from_run(run, step)
        emb = operand_embeddings(model, task, torch.tensor(pairs))
        pl = plane(model, task, emb, grid=grid, extent=extent, positions=positions,
                   measure=measure, r=r, n=n, labels=labels)
        planes.append((f"epoch {step}", pl))
        at_inputs = density(model, task, emb, r=r, n=n,
                            positions=positions)[0].double().mean(0).tolist()  # fmt: skip
        rows += [{"epoch": step, **row} for row in plane_summary(pl, extent, grid, at_inputs)]
    name = Path(path).stem
    what = {"density": "circuit density<br>(neurons cut per neighbourhood of radius "
                       f"{r}, {2 * n} vertices)",
            "sign_changes": "neurons changing sign to a neighbouring lattice point"}
    fig = plane_figure(planes, title=f"{name}: {what[measure]} on the plane<br>through "
                       f"{', '.join(labels)} (Humayun et al., Figures 2 and 4)")  # fmt: skip
    text = (f"## {name}: {what[measure].replace('<br>', ' ')} per lattice point, plane through "
            f"{', '.join(labels)} (half-width {extent:.3f}, grid {grid}, positions "
            f"read: {positions}; 'at the inputs': the circuit density of the three "
            "inputs' own neighbourhoods)\n\n"
            + markdown(pd.DataFrame(rows), ".2f") + "\n")  # fmt: skip
    return fig, text
