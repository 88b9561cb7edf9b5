"""The losses the trainers and analyses share, and the loss numerics of Prieto, Barsbey,
Mediano and Birdal (2025).

- **Cross-entropy in float64** (:func:`cross_entropy64`, :func:`seq_loss`): the papers
  report losses near 1e-7, below what a float32 log-softmax resolves (Nanda et al. 2023,
  Section 3).

Prieto et al., *Grokking at the edge of numerical stability*, as their code defines them
(LucasPrietoAl/grokking-at-the-edge-of-numerical-stability; the paper's text is not at
hand):

- **StableMax** (``utils.py``: ``s``, ``log_stablemax``, ``stablemax_cross_entropy``):
  Softmax with ``exp`` replaced by the ramp ``s(x) = x + 1`` for ``x >= 0`` and
  ``1 / (1 - x + 1e-30)`` for ``x < 0``; the cross-entropy of ``s(x) / sum s(x)``,
  computed in float64 and returned in float64, as theirs.
- **Softmax collapse** (``logger.py``: ``MetricsLogger.compute_softmax_collapse``): an
  example is collapsed when, in the given float precision, the sum of
  ``exp(logit - max logit)`` over the classes equals 1 exactly: every other class's term
  is absorbed, so the loss and its gradient are exactly 0. The measure is the share of
  the (training) examples that are collapsed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

IGNORE = -100  # a position without a target (sequence tasks, App. D.3)
PRECISIONS = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


def cross_entropy64(logits: Float[Tensor, "*models batch d_vocab"],
                    labels: Int[Tensor, "*models batch"]) -> Float[Tensor, "*models"]:  # fmt: skip
    """Mean cross-entropy over the batch axis, in float64: (..., batch, vocab) -> (...).

    ``labels`` has the logits' shape without the vocabulary axis."""
    flat = logits.double().reshape(-1, logits.shape[-1])
    per = F.cross_entropy(flat, labels.reshape(-1), reduction="none")
    return per.reshape(labels.shape).mean(-1)


def seq_loss(logits: Float[Tensor, "batch pos d_vocab"],
             targets: Int[Tensor, "batch pos"]) -> Float[Tensor, ""]:  # fmt: skip
    """Mean cross-entropy in float64 over the positions with a target (IGNORE elsewhere)."""
    return F.cross_entropy(logits.double().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE)  # fmt: skip


def stablemax_s(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    """The ramp that replaces ``exp`` (``utils.s``)."""
    return torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)


def log_stablemax(x: Float[Tensor, "... vocab"]) -> Float[Tensor, "... vocab"]:
    s = stablemax_s(x)
    return torch.log(s / s.sum(-1, keepdim=True))


def stablemax_cross_entropy(
    logits: Float[Tensor, "*models batch vocab"], labels: Int[Tensor, "*models batch"]
) -> Float[Tensor, "*models"]:
    """Mean StableMax cross-entropy over the batch axis, in float64 (module docstring);
    stacked models (leading axes) give one loss each, as :func:`cross_entropy64`."""
    logp = log_stablemax(logits.double())
    return -logp.gather(-1, labels[..., None].long())[..., 0].mean(-1)


def softmax_collapse(logits: Float[Tensor, "batch vocab"], precision: str = "float32") -> float:
    """Share of rows whose ``sum(exp(logits - max))`` is exactly 1 in ``precision``
    (module docstring); ``precision`` is the run's float precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    x = logits.to(PRECISIONS[precision])
    total = torch.exp(x - x.amax(-1, keepdim=True)).sum(-1)
    return float((total == 1).double().mean())
