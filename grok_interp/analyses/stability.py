"""Softmax collapse and naive loss minimisation over a run's snapshots (Prieto, Barsbey,
Mediano and Birdal 2025, *Grokking at the edge of numerical stability*).

At each snapshot, on the run's training pairs: the training loss, the share of training
examples in softmax collapse at a float precision (:func:`grok_interp.losses.
softmax_collapse`, the authors' ``logger.py``: ``compute_softmax_collapse``), and the
cosine between the loss's descent direction and the weights
(:func:`grok_interp.optim.nlm_alignment`). The gradient is the loss's alone (a weight
decay term is not part of it) over the trainable parameters, with the cross-entropy of
the trainer (float64) or StableMax (:func:`grok_interp.losses.stablemax_cross_entropy`).

Snapshots stored in float16 or bfloat16 (``TrainConfig.snapshot_dtype``) give logits
that differ from the trained model's in the last bits, so the collapsed share read from
them is approximate near the threshold; the notes say when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
from jaxtyping import Int
from plotly.subplots import make_subplots
from torch import Tensor

from grok_interp.analyses.common import Result, check_model
from grok_interp.losses import cross_entropy64, softmax_collapse, stablemax_cross_entropy
from grok_interp.optim import nlm_alignment
from grok_interp.runs import Run, model_from_run
from grok_interp.tasks import Task
from grok_interp.tl import Model

Loss = Literal["cross_entropy", "stablemax"]


@dataclass(frozen=True)
class StabilityResult(Result):
    """One row per snapshot: ``epoch``, ``train_loss``, ``collapsed`` (share of training
    examples) and ``nlm_alignment``; ``precision`` the collapse was read at."""

    frame: pd.DataFrame
    precision: str
    loss: str
    snapshot_dtype: str = "float32"

    title = "Softmax collapse and naive loss minimisation"
    section = "Prieto et al. 2025"
    paper_name = "Prieto et al. 2025"

    def table(self) -> pd.DataFrame:
        return self.frame

    def figure(self) -> go.Figure:
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        x = self.frame["epoch"]
        fig.add_scatter(x=x, y=self.frame["collapsed"], name=f"collapsed ({self.precision})")
        fig.add_scatter(x=x, y=self.frame["nlm_alignment"], name="cos(-grad, weights)")
        fig.add_scatter(x=x, y=self.frame["train_loss"], name="train loss", secondary_y=True)
        fig.update_yaxes(type="log", secondary_y=True)
        fig.update_layout(title=self.title, xaxis_title="epoch")
        return fig

    def notes(self) -> list[str]:
        notes = [f"Collapse read at {self.precision}; gradients of the {self.loss} loss."]
        if self.snapshot_dtype != "float32":
            notes.append(
                f"Snapshots are stored in {self.snapshot_dtype}: the collapsed share is "
                "approximate near the threshold."
            )
        return notes


def stability_point(
    model: Model,
    task: Task,
    train_idx: Int[Tensor, " n_train"],
    *,
    precision: str = "float32",
    loss: Loss = "cross_entropy",
    labels: Int[Tensor, " n_train"] | None = None,
) -> dict[str, float]:
    """Training loss, collapsed share and NLM alignment of one model (module docstring);
    ``labels``: those trained on, when not the task's (``random_labels``)."""
    check_model(model, task, "stability")
    tokens = task.tokens()[train_idx].to(model.cfg.device)
    labels = (task.labels()[train_idx] if labels is None else labels).to(model.cfg.device)
    model.zero_grad(set_to_none=True)
    logits = model(tokens)[:, -1]
    fn = stablemax_cross_entropy if loss == "stablemax" else cross_entropy64
    value = fn(logits, labels)
    value.backward()
    align = nlm_alignment(p for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
    return {
        "train_loss": float(value.detach()),
        "collapsed": softmax_collapse(logits.detach(), precision),
        "nlm_alignment": align,
    }


def stability_over_training(
    run: Run,
    *,
    precision: str = "float32",
    loss: Loss = "cross_entropy",
    steps: Sequence[int] | None = None,
) -> StabilityResult:
    """:func:`stability_point` at each snapshot of ``run`` (or at ``steps``)."""
    rows = []
    for step in sorted(run.snapshots) if steps is None else steps:
        model = model_from_run(run, step)
        point = stability_point(model, run.pairs_task, run.train_idx, precision=precision,
                                loss=loss)  # fmt: skip
        rows.append({"epoch": step, **point})
    return StabilityResult(
        frame=pd.DataFrame(rows),
        precision=precision,
        loss=loss,
        snapshot_dtype=run.train.snapshot_dtype,
    )
