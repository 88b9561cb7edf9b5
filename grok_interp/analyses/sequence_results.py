"""The report sections of the sequence tasks (Nanda et al. 2023, Appendix D.3, Figures
31-34): the attention heads' scores (:mod:`grok_interp.analyses.sequence_heads`) and the
loss at each output position.

- :class:`HeadScoresResult`: per layer and head, the induction and previous-token scores
  (repeated subsequences) or the big-token attention (skip trigrams).
- :class:`PositionLossResult`: the test loss and accuracy at each position that carries a
  target, read on the run's test sequences: the appendix's per-digit losses of five-digit
  addition (each sum digit groks on its own), the skip trigram's last position, and the
  repeat task's positions within the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.common import Result
from grok_interp.losses import IGNORE, seq_loss


@dataclass(frozen=True)
class HeadScoresResult(Result):
    """``scores`` maps a score's name (``induction``, ``previous_token``, ``big_token``)
    to its (layers, heads) values, each between 0 and 1 (an attention weight)."""

    title: ClassVar[str] = "Attention heads of the sequence task"
    section: ClassVar[str] = "App. D.3, Figures 31-34"
    scores: dict[str, Tensor]

    def table(self) -> pd.DataFrame:
        rows = [{"score": name, "layer": layer, "head": head, "value": float(s[layer, head])}
                for name, s in self.scores.items()
                for layer in range(s.shape[0]) for head in range(s.shape[1])]  # fmt: skip
        return pd.DataFrame(rows)

    def best(self) -> dict[str, tuple[int, int, float]]:
        """Each score's highest head: (layer, head, value)."""
        out = {}
        for name, s in self.scores.items():
            k = int(s.flatten().argmax())
            out[name] = (k // s.shape[1], k % s.shape[1], float(s.flatten()[k]))
        return out

    def notes(self) -> list[str]:
        return ["Mean attention weight over 200 seeded test sequences: 1 for a head that "
                "does only this, about 1/position for a uniform one."]  # fmt: skip

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for name, s in self.scores.items():
            labels = [f"L{i}H{j}" for i in range(s.shape[0]) for j in range(s.shape[1])]
            fig.add_bar(x=labels, y=s.flatten().tolist(), name=name)
        return fig.update_layout(title=self.heading(), yaxis_title="score", barmode="group")


@dataclass(frozen=True)
class PositionLossResult(Result):
    """``positions``: the positions with a target; ``loss`` and ``accuracy`` there
    (float64 cross-entropy and argmax accuracy over the test sequences with a target at
    that position); ``count``: how many of them have one."""

    title: ClassVar[str] = "Test loss per output position"
    section: ClassVar[str] = "App. D.3"
    positions: list[int]
    loss: list[float]
    accuracy: list[float]
    count: list[int]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"position": self.positions, "loss": self.loss,
                             "accuracy": self.accuracy, "sequences": self.count})  # fmt: skip

    def figure(self) -> go.Figure:
        fig = go.Figure(go.Scatter(x=self.positions, y=self.loss, mode="lines+markers"))
        return fig.update_layout(title=self.heading(), xaxis_title="position",
                                 yaxis_title="test loss", yaxis_type="log")  # fmt: skip


def position_losses(logits: Float[Tensor, "batch pos d_vocab"],
                    targets: Int[Tensor, "batch pos"]) -> PositionLossResult:  # fmt: skip
    """The loss and accuracy at every position where some sequence has a target."""
    has = targets != IGNORE
    positions = [int(p) for p in torch.nonzero(has.any(0))[:, 0]]
    loss, acc, count = [], [], []
    for p in positions:
        keep = has[:, p]
        lg, tg = logits[keep, p : p + 1], targets[keep, p : p + 1]
        loss.append(float(seq_loss(lg, tg)))
        acc.append(float((lg.argmax(-1) == tg).double().mean()))
        count.append(int(keep.sum()))
    return PositionLossResult(positions=positions, loss=loss, accuracy=acc, count=count)
