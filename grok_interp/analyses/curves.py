"""Every paper's measures over one run's training, read from its snapshots, and one
figure that no paper has: all of them on a shared epoch axis, as small multiples (one row
per measure, in its own units) with Nanda et al.'s phases shaded across every row, so a
reader sees which measure moves first.

Nothing is measured here; each part is an existing over-training analysis:

- Nanda et al. (2023), Section 5.1, Figure 7: the progress measures
  (:func:`grok_interp.analyses.progress.progress_measures`; the Run's stored ones when it
  has them) and the phases (:func:`~grok_interp.analyses.progress.phases`);
- Varma et al. (2023), Figure 9: loss, parameter norm, o_trig and o_mem
  (:func:`grok_interp.analyses.efficiency.efficiency_over_training`);
- Humayun et al. (2024), Figure 3: the circuit density of training, test and random
  points (:func:`grok_interp.analyses.circuit_density.circuit_density_over_training`);
- Liu et al. (2022), Section 3: the representation quality index
  (:func:`grok_interp.analyses.representation.representation_over_training`).

They cost a forward per snapshot (the circuit density many), several seconds on a
shipped run; ``analyze()`` computes them for every Run with snapshots unless told not
to (``over_training=False``; ``grok-interp analyze --no-over-training``). A part that
does not apply to the run (say o_trig on a task other than addition) is left out with
its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from grok_interp.analyses.common import AnalysisError, Result
from grok_interp.analyses.progress import PHASE_NAMES, phase_label, phases, progress_figure
from grok_interp.runs import Run

# (label, part, column, log axis) of each series in the combined figure
COMBINED: tuple[tuple[str, str, str, bool], ...] = (
    ("train loss", "progress", "train_loss", True),
    ("test loss", "progress", "test_loss", True),
    ("restricted loss (Nanda)", "progress", "restricted_loss", True),
    ("excluded loss (Nanda)", "progress", "excluded_loss", True),
    ("sum of squared weights (Nanda)", "progress", "sum_sq_weights", False),
    ("o_trig, test pairs (Varma)", "efficiency", "o_trig_test", False),
    ("o_mem, train pairs (Varma)", "efficiency", "o_mem_train", False),
    ("circuit density, train points (Humayun)", "density", "train", False),
    ("circuit density, test points (Humayun)", "density", "test", False),
    ("RQI (Liu)", "representation", "rqi", False),
    ("circle index (Liu)", "representation", "circle_index", False),
)
# the combined figure's rows: (y-axis title, the labels of COMBINED drawn in it)
ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss (Nanda)", ("train loss", "test loss", "restricted loss (Nanda)",
                      "excluded loss (Nanda)")),
    ("sum of squares (Nanda)", ("sum of squared weights (Nanda)",)),
    ("logit (Varma)", ("o_trig, test pairs (Varma)", "o_mem, train pairs (Varma)")),
    ("neurons cut (Humayun)", ("circuit density, train points (Humayun)",
                               "circuit density, test points (Humayun)")),
    ("index (Liu)", ("RQI (Liu)", "circle index (Liu)")),
)  # fmt: skip
# the three phases between the boundaries of progress.phases, and their shading
PHASE_SPANS = (("memorisation", "rgba(99, 110, 250, 0.10)"),
               ("circuit formation", "rgba(255, 161, 90, 0.14)"),
               ("cleanup", "rgba(0, 204, 150, 0.12)"))  # fmt: skip
CAPTION = ("one row per measure in its own units, one epoch axis; shaded: Nanda et al.'s "
           "phases (memorisation, circuit formation, cleanup)")  # fmt: skip


def thin(steps: Sequence[int], n: int) -> list[int]:
    """At most ``n`` of ``steps`` (sorted), evenly spaced, the first and last kept."""
    steps = sorted(steps)
    if len(steps) <= n:
        return steps
    pick = np.unique(np.linspace(0, len(steps) - 1, n).round().astype(int))
    return [steps[i] for i in pick]


@dataclass(frozen=True)
class CurvesResult(Result):
    """The over-training measures of one run (module docstring). Each part is a frame with
    one row per epoch (``density``: per epoch, set and layer), None when it did not apply
    (``skipped`` says why); ``phases`` are Nanda et al.'s boundaries, None without
    grokking."""

    progress: pd.DataFrame | None
    efficiency: pd.DataFrame | None
    density: pd.DataFrame | None
    representation: pd.DataFrame | None
    key_freqs: tuple[int, ...] = ()
    phases: tuple[int, int, int] | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    title = "Every paper's measures over training"
    section = "Nanda et al. Fig 7, Varma et al. Fig 9, Humayun et al. Fig 3, Liu et al."
    paper_name = "All papers, over training"

    def series(self) -> dict[str, tuple[pd.Series, pd.Series, bool]]:
        """label -> (epochs, values, log) of every combined-figure series that exists and
        moves (a constant, such as the RQI of a sum mod p, says nothing on this axis)."""
        out = {}
        for label, part, col, log in COMBINED:
            frame = self._part(part)
            if frame is not None and col in frame and frame[col].nunique(dropna=True) > 1:
                out[label] = (frame["epoch"], frame[col], log)
        return out

    def _part(self, part: str) -> pd.DataFrame | None:
        if part != "density" or self.density is None:
            return getattr(self, part)  # type: ignore[no-any-return]
        d = self.density[self.density["layer"] == self.density["layer"].max()]
        return d.pivot_table(index="epoch", columns="set", values="count").reset_index()

    def table(self) -> pd.DataFrame:
        """Each series at the start, at each phase boundary and at the end."""
        rows = []
        for label, (x, y, _) in self.series().items():
            row = {"measure": label, "first epoch": f"{y.iloc[0]:.4g}"}
            for b, name in zip(self.phases or (), PHASE_NAMES, strict=False):
                row[f"{name} ({b})"] = f"{np.interp(b, x, y):.4g}"
            rows.append(row | {"last epoch": f"{y.iloc[-1]:.4g}"})
        return pd.DataFrame(rows)

    def figure(self) -> go.Figure:
        return combined_figure(self.series(), self.phases)

    def figures(self) -> list[tuple[str, str, go.Figure]]:
        """(anchor, heading, figure): each paper's over-training figure, then the
        combined one."""
        from grok_interp.analyses.efficiency import efficiency_figure

        out = []
        if self.progress is not None:
            out.append(("progress", "Nanda et al.: progress measures and phases (Figure 7)",
                        progress_figure(self.progress, self.key_freqs, self.phases)))  # fmt: skip
        if self.efficiency is not None:
            out.append(("efficiency_over_training", "Varma et al.: C_trig and C_mem over "
                        "training (Figure 9)", efficiency_figure(self.efficiency)))  # fmt: skip
        if self.density is not None:
            out.append(("density_over_training", "Humayun et al.: circuit density over "
                        "training (Figure 3)", density_figure(self._part("density"))))  # fmt: skip
        if self.representation is not None:
            out.append(("representation_over_training", "Liu et al.: representation "
                        "quality over training", representation_figure(self.representation)))
        for _, _, fig in out[1:]:
            add_phases(fig, self.phases)
        out.append(("all_measures", "All papers' measures on one epoch axis", self.figure()))
        return out

    def notes(self) -> list[str]:
        out = [f"Combined figure: {CAPTION}."]
        if self.phases is None:
            out.append("No phase boundaries: the test loss never falls by 10x (no grokking).")
        return out + [f"Not drawn: {why}" for why in self.skipped.values()]


def add_phases(fig: go.Figure, bounds: tuple[int, int, int] | None, label: bool = False) -> None:
    """Dotted vertical lines at the phase boundaries, on every panel of ``fig``."""
    for b, name in zip(bounds or (), PHASE_NAMES, strict=False):
        fig.add_vline(x=b, line_dash="dot", line_color="grey",
                      **phase_label(f"{name} ({b})" if label else None))


def combined_figure(series: dict[str, tuple[Any, Any, bool]],
                    bounds: tuple[int, int, int] | None) -> go.Figure:  # fmt: skip
    """Small multiples (``CAPTION``): one row of :data:`ROWS` per measure that has a
    series, every row on the same epoch axis, the phases shaded across all rows."""
    from plotly.subplots import make_subplots

    rows = [(title, [lb for lb in labels if lb in series]) for title, labels in ROWS]
    rows = [(title, labels) for title, labels in rows if labels]
    fig = make_subplots(rows=max(len(rows), 1), cols=1, shared_xaxes=True,
                        vertical_spacing=0.03)  # fmt: skip
    colours = iter(DISTINCT)
    for r, (title, labels) in enumerate(rows, start=1):
        for label in labels:
            x, y, log = series[label]
            fig.add_trace(go.Scatter(x=np.asarray(x), y=np.asarray(y), name=label,
                                     mode="lines", line={"color": next(colours)},
                                     legendgroup=title, legendgrouptitle_text=title),
                          row=r, col=1)  # fmt: skip
        log = series[labels[0]][2]
        fig.update_yaxes(title_text=title, type="log" if log else None,
                         exponentformat="power" if log else None, row=r, col=1)  # fmt: skip
    fig.update_xaxes(title_text="epoch", row=max(len(rows), 1), col=1)
    if series:
        shade_phases(fig, bounds, min(float(np.min(x)) for x, _, _ in series.values()))
    fig.update_layout(title=f"All papers' measures of one run<br><sup>{CAPTION}</sup>",
                      height=170 + 150 * max(len(rows), 1), margin={"t": 130},
                      legend={"tracegroupgap": 12})  # fmt: skip
    return fig


# colours for up to 12 series, each its own (plotly's ten, then two more)
DISTINCT = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692",
            "#B6E880", "#FF97FF", "#FECB52", "#1F77B4", "#8C564B")  # fmt: skip


def shade_phases(fig: go.Figure, bounds: tuple[int, int, int] | None, start: float) -> None:
    """Nanda et al.'s three phases (``bounds``: where memorisation, circuit formation and
    cleanup end) as shaded spans over the whole height of ``fig``, each named above it
    from where it starts, one name a line higher than the last (a short phase's name
    would run into the next one's)."""
    edges = [start, *(bounds or ())]
    spans = zip(PHASE_SPANS, edges, edges[1:], strict=False)
    for i, ((name, colour), x0, x1) in enumerate(spans):
        fig.add_shape(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1,
                      fillcolor=colour, line_width=0, layer="below")  # fmt: skip
        fig.add_annotation(x=x0, xref="x", xanchor="left", y=1, yref="paper",
                           yanchor="bottom", yshift=2 + 13 * (2 - i), showarrow=False,
                           text=f"{name} ({x0:.0f}-{x1:.0f})", font={"size": 10})  # fmt: skip


def density_figure(frame: pd.DataFrame | None) -> go.Figure:
    """Mean circuit density of the final MLP around training, test and random points."""
    fig = go.Figure()
    for s in [c for c in (frame.columns if frame is not None else []) if c != "epoch"]:
        fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[s], name=f"{s} points"))  # type: ignore[index]
    fig.update_layout(title="Circuit density over training (Humayun et al. 2024, Figure 3)")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="neurons changing sign nearby (mean)")
    return fig


def representation_figure(frame: pd.DataFrame) -> go.Figure:
    """RQI and the accuracy it predicts, beside the measured test accuracy."""
    fig = go.Figure()
    names = {"rqi": "RQI", "predicted_test_acc": "predicted test accuracy",
             "test_acc": "measured test accuracy", "circle_index": "circle index"}  # fmt: skip
    for col, name in names.items():
        if col in frame and frame[col].notna().any():  # an own Run may record no accuracy
            fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[col], name=name))
    fig.update_layout(title="Representation quality over training (Liu et al. 2022, Section 3)")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="index or accuracy", range=[0, 1.02])
    return fig


def _stored_progress(run: Run) -> tuple[pd.DataFrame, tuple[int, ...]] | None:
    pr = run.progress
    if not pr or "test_loss" not in pr:
        return None
    cols = {k: v for k, v in pr.items() if k not in ("key_freqs", "phases")}
    return pd.DataFrame(cols), tuple(int(k) for k in pr.get("key_freqs", ()))


PARTS = ("progress", "efficiency", "density", "representation")


def over_training(run: Run, *, parts: Sequence[str] = PARTS, max_steps: int = 12,
                  density_steps: int = 6, density_points: int = 50) -> CurvesResult:  # fmt: skip
    """The over-training measures of ``run`` (module docstring) named in ``parts``: the
    progress measures (stored, else at up to ``max_steps`` snapshots), o_trig/o_mem and
    the representation at up to ``max_steps`` snapshots, the circuit density of
    ``density_points`` points per set at up to ``density_steps``."""
    from grok_interp.analyses.circuit_density import circuit_density_over_training
    from grok_interp.analyses.efficiency import efficiency_over_training
    from grok_interp.analyses.progress import progress_measures
    from grok_interp.analyses.representation import representation_over_training

    if len(run.snapshots) < 2:
        raise AnalysisError("over training: needs a Run with at least two snapshots")
    steps = thin(sorted(run.snapshots), max_steps)
    skipped: dict[str, str] = {}
    makers: dict[str, Callable[[], Any]] = {
        "progress": lambda: _stored_progress(run) or _measured(
            progress_measures(run, steps=steps)),
        "efficiency": lambda: efficiency_over_training(run, steps=steps),
        "density": lambda: circuit_density_over_training(
            run, steps=thin(sorted(run.snapshots), density_steps), n_points=density_points),
        "representation": lambda: representation_over_training(run, steps=steps),
    }  # fmt: skip
    got: dict[str, Any] = dict.fromkeys(PARTS)
    for name in parts:
        try:
            got[name] = makers[name]()
        except (AnalysisError, ValueError) as e:
            skipped[name] = f"{name}: {e}"
    frame, keys = got.pop("progress") or (None, ())
    return CurvesResult(progress=frame, key_freqs=keys, skipped=skipped,
                        phases=None if frame is None else phases(frame), **got)  # fmt: skip


def _measured(res: Any) -> tuple[pd.DataFrame, tuple[int, ...]]:
    return res.frame, tuple(res.key_freqs)
