"""Liu et al. (2022)'s four phases of learning (Kolber's slides, "Definition of phases",
Table 1), read off a run's history.

With ``threshold`` = 0.9 and a step ``budget`` (1e5 in the slides): t_train and t_val are
the first evaluated steps at which train and validation (test) accuracy exceed the
threshold, if within the budget.

| phase | train reached | validation reached | t_val - t_train < ``gap`` (1e3) |
|---|---|---|---|
| comprehension | yes | yes | yes |
| grokking | yes | yes | no |
| memorization | yes | no | - |
| confusion | no | no | - |

The table leaves one case open: validation reached, train not. The authors' code labels it
comprehension (its test falls through to that branch); here it is its own phase,
``"validation only"``, unless ``code_compatible=True``. A validation step before the train
step (negative gap) is comprehension, as the table's "< gap" says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from grok_interp.config import field_words

PHASES = ("comprehension", "grokking", "memorization", "confusion", "validation only")


@dataclass(frozen=True)
class Phase:
    """The phase of one run, with the steps the rule read (None: not within the budget)."""

    phase: str
    train_step: float | None
    val_step: float | None


def _first(
    steps: np.ndarray, acc: np.ndarray, threshold: float, budget: float | int
) -> float | None:
    hit = np.nonzero((acc > threshold) & (steps <= budget))[0]
    return float(steps[hit[0]]) if len(hit) else None


def liu_phase(
    history: Mapping[str, ArrayLike],
    *,
    budget: float | int = 1e5,
    gap: float | int = 1e3,
    threshold: float = 0.9,
    train: str = "train_acc",
    val: str = "test_acc",
    step: str = "epoch",
    code_compatible: bool = False,
) -> Phase:
    """The phase of a history by the slides' Table 1 (module docstring)."""
    steps = np.asarray(history[step], float)
    t = _first(steps, np.asarray(history[train], float), threshold, budget)
    v = _first(steps, np.asarray(history[val], float), threshold, budget)
    if t is None:
        name = "confusion" if v is None else ("comprehension" if code_compatible
                                              else "validation only")  # fmt: skip
    elif v is None:
        name = "memorization"
    else:
        name = "comprehension" if v - t < gap else "grokking"
    return Phase(name, t, v)


def phases_of(histories: Sequence[Mapping[str, ArrayLike]],
              **options: float | int) -> list[str]:  # fmt: skip
    """The phase name of each history (the options of :func:`liu_phase`)."""
    return [liu_phase(h, **options).phase for h in histories]  # type: ignore[arg-type]


COLOURS = {
    "comprehension": "#2ca02c",
    "grokking": "#1f77b4",
    "memorization": "#d62728",
    "confusion": "#7f7f7f",
    "validation only": "#ff7f0e",
}


def phase_diagram(table: pd.DataFrame, x: str, y: str, *, title: str = "") -> go.Figure:
    """A phase diagram as the slides draw it: one cell per (x, y) value of ``table`` (a
    sweep's results with a ``phase`` column), one colour per phase; several runs in a
    cell (seeds) show the phase most of them have."""
    cells = table.groupby([x, y])["phase"].agg(lambda s: s.mode().iloc[0]).reset_index()
    xs, ys = sorted(cells[x].unique()), sorted(cells[y].unique())
    codes = {name: i for i, name in enumerate(PHASES)}
    z = np.full((len(ys), len(xs)), np.nan)
    text = np.full((len(ys), len(xs)), "", dtype=object)
    for _, row in cells.iterrows():
        i, j = ys.index(row[y]), xs.index(row[x])
        z[i, j], text[i, j] = codes[row["phase"]], row["phase"]
    n = len(PHASES)
    scale = [[(k + e) / n, COLOURS[name]] for k, name in enumerate(PHASES) for e in (0, 1)]
    fig = go.Figure(go.Heatmap(
        x=[f"{v:.3g}" for v in xs], y=[f"{v:.3g}" for v in ys], z=z, text=text,
        texttemplate="%{text}", colorscale=scale, zmin=-0.5, zmax=n - 0.5, showscale=False,
    ))  # fmt: skip
    fig.update_layout(title=title or "Phase diagram (Liu et al. 2022; slides: Phase diagrams)",
                      xaxis_title=field_words(x), yaxis_title=field_words(y))  # fmt: skip
    return fig


def with_phases(table: pd.DataFrame, histories: Sequence[Mapping[str, ArrayLike]],
                **options: float | int) -> pd.DataFrame:  # fmt: skip
    """A sweep's results table with each run's ``phase``, ``train_step`` and ``val_step``
    (``histories`` in the table's order; the options of :func:`liu_phase`)."""
    found = [liu_phase(h, **options) for h in histories]  # type: ignore[arg-type]
    return table.assign(phase=[f.phase for f in found], train_step=[f.train_step for f in found],
                        val_step=[f.val_step for f in found])  # fmt: skip
