"""Representation quality (Liu et al. 2022, as presented in Kolber's slides: "Definitions",
"Representation Quality Index", "Predicted Accuracy").

A representation ``R = [E_0 .. E_{p-1}]`` (one vector per symbol: the toy model's
embeddings, or a transformer's W_E rows for the numbers) and a training set D of pairs.

- ``P_0(D)``: the quadruples (i, j, m, n) with (i, j) and (m, n) in D and i + j = m + n
  (mod p for modular tasks).
- (i, j, m, n) is a **delta-parallelogram** when ``|(E_i + E_j) - (E_m + E_n)| <= delta``.
- ``RQI(R) = |P(R, delta)| / |P_0(D)|``: 1 for a linear representation, near 0 for a
  random one.
- **Predicted accuracy**: a test pair (i, j) is reachable when some training pair (m, n)
  has m + n = i + j and (i, j, m, n) is a delta-parallelogram; the predicted test accuracy
  is the share of test pairs reachable (the authors' ``acc_pred_test``).

Decisions, each a parameter:
- **Pairs are unordered** (the authors' ``D0_id`` keeps i <= j: a + b and b + a are one
  sample). A transformer's training set with both orders is reduced to its distinct
  unordered pairs, and a quadruple of one pair with itself is not counted (it is a
  parallelogram in every representation).
- **Standardisation** (``standardise=True``, the authors' code): each dimension of R is
  shifted to mean 0 and scaled to standard deviation 1 first, so delta does not depend on
  the representation's scale.
- **delta**: the slides' test ``|Delta| <= delta``, default ``delta = 0.1 sqrt(d)``, which
  is exactly the authors' ``mean(Delta^2) < threshold_P = 0.01`` over d dimensions.
- **Denominator** (``over="train"``, the slides): quadruples of P_0(D). The authors' code
  (``over="all"``) counts all parallelograms of all p(p+1)/2 pairs instead, whether in D
  or not, so its RQI does not depend on D.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.common import (
    ModelData,
    Result,
    gather,
    history_at,
    loss_acc,
    require,
)
from grok_interp.config import ToyPreset
from grok_interp.runs import Run
from grok_interp.tasks import Task
from grok_interp.tl import Model

Over = Literal["train", "all"]


@dataclass(frozen=True)
class RepresentationResult(Result):
    """RQI and predicted accuracy of one representation (module docstring)."""

    rqi: float | None
    n_quadruples: int
    n_parallelograms: int
    predicted_test_acc: float | None
    measured_test_acc: float | None
    delta: float
    over: str

    title = "Representation quality (Liu et al. 2022)"
    section = "slides: Definitions, Representation Quality Index, Predicted Accuracy"

    def table(self) -> pd.DataFrame:
        def show(v: float | None) -> str:
            return "- (no test pairs: split unknown)" if v is None else f"{v:.4f}"

        rows = [
            ("RQI", "-" if self.rqi is None else f"{self.rqi:.4f}"),
            (f"parallelograms / quadruples ({self.over} pairs)",
             f"{self.n_parallelograms} / {self.n_quadruples}"),
            ("predicted test accuracy", show(self.predicted_test_acc)),
            ("measured test accuracy", show(self.measured_test_acc)),
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["measure", "value"])

    def figure(self) -> go.Figure:
        names = ["RQI", "predicted test acc", "measured test acc"]
        vals = [math.nan if v is None else v
                for v in (self.rqi, self.predicted_test_acc, self.measured_test_acc)]  # fmt: skip
        fig = go.Figure(go.Bar(x=names, y=vals))
        fig.update_layout(
            title=f"{self.title}, delta {self.delta:.3g} ({self.section})",
            yaxis_range=[0, 1],
            xaxis_title="measure",
            yaxis_title="share",
        )
        return fig

    def notes(self) -> list[str]:
        return [
            "Standardised representation; a quadruple is a parallelogram when "
            f"|E_i + E_j - E_m - E_n| <= {self.delta:.3g}; pairs unordered, so a test pair "
            "whose swap is a training pair counts as reached (E_a + E_b is symmetric).",
        ]


def unordered(pairs: Int[Tensor, "n 2"]) -> Int[Tensor, "m 2"]:
    """The distinct unordered pairs (i <= j), sorted."""
    return torch.unique(pairs.sort(dim=1).values, dim=0)


def sum_groups(pairs: Tensor, modulus: int | None) -> Tensor:
    """Each pair's i + j (mod ``modulus`` when given): quadruples pair within a group."""
    s = pairs.sum(1)
    return s % modulus if modulus else s


def quadruples(pairs: Int[Tensor, "n 2"], modulus: int | None) -> Int[Tensor, "q 2"]:
    """P_0 of ``pairs`` (taken as given: pass distinct unordered pairs): each quadruple as
    the indices (into ``pairs``) of its two pairs, which have equal sums."""
    groups = sum_groups(pairs, modulus)
    out = []
    for g in torch.unique(groups):
        idx = (groups == g).nonzero().squeeze(1)
        a, b = torch.triu_indices(len(idx), len(idx), offset=1)
        out.append(torch.stack([idx[a], idx[b]], dim=1))
    return torch.cat(out) if out else torch.zeros(0, 2, dtype=torch.long)


def standardised(reps: Float[Tensor, "p d"]) -> Float[Tensor, "p d"]:
    r = reps.double()
    return (r - r.mean(0)) / r.std(0).clamp_min(1e-12)


def parallelogram_counts(
    reps: Float[Tensor, "p d"], pairs: Int[Tensor, "n 2"], *, modulus: int | None,
    delta: float,
) -> tuple[int, int]:  # fmt: skip
    """(quadruples, delta-parallelograms) over distinct unordered pairs of ``pairs`` with
    equal sums; ``reps`` as given (standardise it first to follow the module's rule)."""
    pairs = unordered(pairs)
    sums = reps[pairs[:, 0]] + reps[pairs[:, 1]]
    groups = sum_groups(pairs, modulus)
    total = hits = 0
    for g in torch.unique(groups):
        s = sums[groups == g]
        if len(s) < 2:
            continue
        close = torch.cdist(s, s) <= delta
        n = len(s)
        total += n * (n - 1) // 2
        hits += int((close.sum() - n) // 2)  # the diagonal is each pair with itself
    return total, hits


def reachable(
    reps: Float[Tensor, "p d"], train: Int[Tensor, "n 2"], test: Int[Tensor, "t 2"], *,
    modulus: int | None, delta: float,
) -> Tensor:  # fmt: skip
    """For each test pair, whether a training pair with the same sum forms a
    delta-parallelogram with it (the predicted-accuracy rule)."""
    tr = unordered(train)
    s_tr, g_tr = reps[tr[:, 0]] + reps[tr[:, 1]], sum_groups(tr, modulus)
    s_te, g_te = reps[test[:, 0]] + reps[test[:, 1]], sum_groups(test, modulus)
    out = torch.zeros(len(test), dtype=torch.bool)
    for g in torch.unique(g_te):
        rows = (g_te == g).nonzero().squeeze(1)
        mine = s_tr[g_tr == g]
        if len(mine):
            out[rows] = (torch.cdist(s_te[rows], mine) <= delta).any(1)
    return out


def representation_quality(
    reps: Float[Tensor, "p d"],
    train: Int[Tensor, "n 2"],
    test: Int[Tensor, "t 2"],
    *,
    modulus: int | None,
    delta: float | None = None,
    standardise: bool = True,
    over: Over = "train",
    measured_test_acc: float | None = None,
) -> RepresentationResult:
    """RQI and predicted test accuracy of ``reps`` for the training pairs ``train`` and
    test pairs ``test`` (module docstring for every choice)."""
    r = standardised(reps) if standardise else reps.double()
    delta = 0.1 * math.sqrt(r.shape[1]) if delta is None else delta
    p = r.shape[0]
    if over == "all":
        a = torch.arange(p)
        pool = torch.cartesian_prod(a, a)
    else:
        pool = train
    total, hits = parallelogram_counts(r, pool, modulus=modulus, delta=delta)
    reach = reachable(r, train, test, modulus=modulus, delta=delta)
    return RepresentationResult(
        rqi=hits / total if total else None,
        n_quadruples=total,
        n_parallelograms=hits,
        predicted_test_acc=float(reach.double().mean()) if len(test) else None,
        measured_test_acc=measured_test_acc,
        delta=delta,
        over=over,
    )


@torch.no_grad()
def representation(
    model: Model, task: Task, *, data: ModelData | None = None, **options: Any
) -> RepresentationResult:
    """RQI and predicted accuracy of a transformer's embedding: W_E's rows for the numbers
    0..p-1, the training pairs of its split (all pairs when the split is unknown, then no
    predicted accuracy), and the measured accuracy on the test pairs beside it."""
    data = data or gather(model, task)
    require(task.op == "add", "representation", f"parallelograms i + j = m + n describe add, "
            f"not {task.op}")  # fmt: skip
    pairs = task.pairs()
    sets = data.sets
    train = pairs[sets["train"]] if "train" in sets else pairs
    test = pairs[sets["test"]] if "test" in sets else pairs[:0]
    measured = None
    if len(test):
        measured = loss_acc(data.logits[sets["test"]], task.labels()[sets["test"]])[1]
    return representation_quality(
        model.W_E[: task.p].detach().cpu(),
        train,
        test,
        modulus=task.p,
        measured_test_acc=measured,
        **options,
    )


@torch.no_grad()
def toy_representation(model: Any, train_idx: Tensor | None = None,
                       **options: Any) -> RepresentationResult:  # fmt: skip
    """RQI and predicted accuracy of a toy model's embeddings E (:mod:`grok_interp.toy`),
    with the measured accuracy on its test pairs beside them (``train_idx``: the run's
    split; without it every pair counts as training, and nothing is predicted)."""
    task = model.task
    pairs, labels = task.pairs(), task.labels()
    train_idx = torch.arange(len(pairs)) if train_idx is None else train_idx
    test_mask = torch.ones(len(pairs), dtype=torch.bool)
    test_mask[train_idx] = False
    measured = None
    if test_mask.any():
        measured = float((model(pairs[test_mask]).argmax(-1) == labels[test_mask]).double().mean())
    return representation_quality(
        model.embed.detach().cpu(), pairs[train_idx], pairs[test_mask],
        modulus=None if task.op == "sum" else task.p, measured_test_acc=measured, **options,
    )  # fmt: skip


@torch.no_grad()
def representation_over_training(run: Run, *, steps: Sequence[int] | None = None,
                                 **options: Any) -> pd.DataFrame:  # fmt: skip
    """RQI and predicted test accuracy of W_E at each snapshot of ``run`` (or ``steps``),
    beside its measured test accuracy then: representation quality as a progress measure."""
    task = run.pairs_task
    require(task.op in ("add", "sum"), "representation", f"parallelograms describe "
            f"addition, not {task.op}")  # fmt: skip
    pairs, test_idx = task.pairs(), run.test_idx
    train, test = pairs[run.train_idx], pairs[test_idx]
    rows = []
    key, modulus = ("embed", None if task.op == "sum" else task.p) if isinstance(
        run.model, ToyPreset) else ("embed.W_E", task.p)  # fmt: skip
    for step in sorted(run.snapshots) if steps is None else steps:
        w_e = run.snapshots[step][key].float()[: task.p]
        res = representation_quality(w_e, train, test, modulus=modulus, **options)
        rows.append({"epoch": float(step), "rqi": res.rqi, "n_parallelograms":
                     res.n_parallelograms, "predicted_test_acc": res.predicted_test_acc,
                     **history_at(run.history, step, ("test_acc",))})  # fmt: skip
    return pd.DataFrame(rows)
