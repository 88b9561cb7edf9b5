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

**RQI mod p says little.** With sums mod p, a representation in which every quadruple is
a parallelogram has E_i + E_j a function of (i + j) mod p alone, so i -> E_i - E_0 is a
homomorphism from Z_p into R^d, which is zero: only the constant representation scores
1. Over all pairs, the exactly linear E_i = i scores 0.560 (p = 10) and 0.634 (p = 31),
the circle (cos, sin)(2 pi i / p) 0 and 0.017, and a grokked transformer's W_E 0. RQI
measures the toy model's additive representation (non-modular sums, ``op="sum"``); for
modular tasks it is reported beside the measure below, and its predicted accuracy is then
essentially the share of test pairs whose swap (b, a) is a training pair.

**Circle parallelogram index (ours, not the paper's; modular tasks only).** The
representation a grokked transformer learns places i on circles, one per key frequency k
(Nanda et al. 2023, Section 4.1): E_i ~ u_k cos(w_k i) + v_k sin(w_k i) + (other
frequencies), w_k = 2 pi k / p. There addition mod p is composition of rotations, and the
modular counterpart of a parallelogram is a quadruple whose rotations compose. Precisely,
for each key frequency k:

1. ``B_k`` (2 x d): the least-squares fit of the centred R by [cos(w_k i), sin(w_k i)]
   over the symbols (R's projection onto frequency k of the Fourier basis);
2. ``x_i = R~_i B_k^+`` (B_k^+ the pseudo-inverse): the coordinates of the whole centred
   E_i in the plane of B_k's rows, read as ``z_i`` in C and scaled so mean |z_i|^2 = 1.
   An exact circle gives z_i = e^{i w_k i}; whatever else E_i holds in that plane (other
   frequencies, noise) moves z_i off it;
3. a quadruple (i, j, m, n) of P_0(D) (i + j = m + n mod p) is a **circle parallelogram**
   when ``|z_i z_j - z_m z_n| <= delta``, delta = 0.1 sqrt(2) (RQI's default rule for a
   2-D representation);
4. the index at k is the share of P_0(D)'s quadruples that are circle parallelograms;
   ``circle_index`` is its mean over the key frequencies.

Exact circles score 1 at every frequency they use; a random embedding scores about
0.001 (p = 113, d = 128). ``key_freqs``: given (``analyze()`` passes the key frequencies
it finds in W_L), or the frequencies holding at least 10% of R's non-constant Fourier
energy (at least the largest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Bool, Complex, Float, Int
from torch import Tensor

from grok_interp import fourier
from grok_interp.analyses.common import (
    ModelData,
    Result,
    gather,
    history_at,
    loss_acc,
    require,
    require_pairs,
)
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
    key_freqs: tuple[int, ...] = ()
    circle_index: float | None = None
    circle_per_freq: tuple[float, ...] = ()

    title = "Representation quality (Liu et al. 2022)"
    section = "slides: Definitions, Representation Quality Index, Predicted Accuracy"
    paper_name = "Liu et al. 2022"

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
        if self.circle_index is not None:
            rows.append(("circle parallelogram index (ours; mean over key frequencies)",
                         f"{self.circle_index:.4f}"))  # fmt: skip
            per = zip(self.key_freqs, self.circle_per_freq, strict=True)
            rows += [(f"circle parallelogram index, k = {k}", f"{v:.4f}") for k, v in per]
        return pd.DataFrame(rows, columns=["measure", "value"])

    def figure(self) -> go.Figure:
        names = ["RQI", "predicted test acc", "measured test acc", "circle index (ours)"]
        shown = (self.rqi, self.predicted_test_acc, self.measured_test_acc, self.circle_index)
        vals = [math.nan if v is None else v for v in shown]
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
        ] + ([] if self.circle_index is None else [
            "Sums mod p: RQI cannot reach 1 here (a representation with E_i + E_j a "
            "function of (i + j) mod p is constant; the linear E_i = i scores 0.56-0.66, "
            "a circle 0-0.04 for p = 10-113), and the predicted accuracy is then about the "
            "share of test pairs whose swap is a training pair. The circle parallelogram "
            "index (ours, not the paper's) is the modular counterpart: per key frequency "
            "k, the share of "
            "quadruples whose rotations compose, |z_i z_j - z_m z_n| <= 0.1 sqrt(2), z_i "
            "E_i's coordinates on frequency k's plane (unit mean radius); 1 on exact "
            "circles, ~0 on a random embedding.",
        ])


def unordered(pairs: Int[Tensor, "n 2"]) -> Int[Tensor, "m 2"]:
    """The distinct unordered pairs (i <= j), sorted."""
    return torch.unique(pairs.sort(dim=1).values, dim=0)


def sum_groups(pairs: Int[Tensor, "n 2"], modulus: int | None) -> Int[Tensor, " n"]:
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
) -> Bool[Tensor, " t"]:  # fmt: skip
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


def circle_coordinates(reps: Float[Tensor, "p d"], k: int) -> Complex[Tensor, " p"]:
    """z_i (complex, shape (p,)): E_i's coordinates in the plane of frequency k, scaled to
    mean |z|^2 = 1 (module docstring, steps 1-2)."""
    p = reps.shape[0]
    w = 2 * math.pi * k * torch.arange(p, dtype=torch.float64) / p
    f = torch.stack([torch.cos(w), torch.sin(w)], 1)
    r = reps.double() - reps.double().mean(0)
    b = torch.linalg.lstsq(f, r).solution
    x = r @ torch.linalg.pinv(b)
    z = torch.complex(x[:, 0], x[:, 1])
    return z / z.abs().square().mean().sqrt().clamp_min(1e-12)


def embedding_key_freqs(reps: Float[Tensor, "p d"], share: float = 0.1) -> list[int]:
    """The frequencies holding at least ``share`` of the centred representation's
    non-constant Fourier energy, largest first (at least the largest one)."""
    energy = fourier.freq_norms(fourier.dft(reps.double(), 0))[1:].square()
    order = torch.argsort(energy, descending=True)
    keep = [int(i) + 1 for i in order if energy[i] >= share * energy.sum()]
    return keep or [int(order[0]) + 1]


def circle_index(
    reps: Float[Tensor, "p d"], pairs: Int[Tensor, "n 2"], key_freqs: Sequence[int], *,
    delta: float = 0.1 * math.sqrt(2),
) -> list[float]:  # fmt: skip
    """The circle parallelogram index (ours) at each of ``key_freqs``: the share of the
    quadruples of ``pairs`` (i + j = m + n mod p) whose rotations compose (module
    docstring)."""
    p = reps.shape[0]
    require(all(0 < k <= fourier.n_freqs(p) for k in key_freqs), "circle index",
            f"key frequencies lie in 1..{fourier.n_freqs(p)}, not {list(key_freqs)}")  # fmt: skip
    pr = unordered(pairs)
    q = quadruples(pr, p)
    out = []
    for k in key_freqs:
        z = circle_coordinates(reps, k)
        prod = z[pr[:, 0]] * z[pr[:, 1]]
        ok = (prod[q[:, 0]] - prod[q[:, 1]]).abs() <= delta
        out.append(float(ok.double().mean()) if len(q) else math.nan)
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
    key_freqs: Sequence[int] | None = None,
) -> RepresentationResult:
    """RQI and predicted test accuracy of ``reps`` for the training pairs ``train`` and
    test pairs ``test``, and for sums mod p the circle parallelogram index at
    ``key_freqs`` (module docstring for every choice)."""
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
    keys: list[int] = []
    per: list[float] = []
    if modulus:
        keys = list(key_freqs) if key_freqs else embedding_key_freqs(reps)
        per = circle_index(reps, train, keys)
    return RepresentationResult(
        rqi=hits / total if total else None,
        n_quadruples=total,
        n_parallelograms=hits,
        predicted_test_acc=float(reach.double().mean()) if len(test) else None,
        measured_test_acc=measured_test_acc,
        delta=delta,
        over=over,
        key_freqs=tuple(keys),
        circle_index=sum(per) / len(per) if per else None,
        circle_per_freq=tuple(per),
    )


@torch.no_grad()
def representation(
    model: Model, task: Task, *, data: ModelData | None = None, **options: Any
) -> RepresentationResult:
    """RQI and predicted accuracy of a transformer's embedding: W_E's rows for the numbers
    0..p-1, the training pairs of its split (all pairs when the split is unknown, then no
    predicted accuracy), and the measured accuracy on the test pairs beside it; the
    circle parallelogram index (ours) at ``key_freqs`` (``analyze()`` passes W_L's)."""
    require_pairs(task, "representation")
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
def toy_representation(model: Any, train_idx: Int[Tensor, " n_train"] | None = None,
                       **options: Any) -> RepresentationResult:  # fmt: skip
    """RQI and predicted accuracy of a toy model's embeddings E (:mod:`grok_interp.families.toy`),
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
    beside its measured test accuracy then: representation quality as a progress measure.
    Sums mod p: the circle parallelogram index too, at the key frequencies of the final
    W_E (or ``key_freqs``) for every snapshot."""
    task = run.pairs_task
    require(task.op in ("add", "sum"), "representation", f"parallelograms describe "
            f"addition, not {task.op}")  # fmt: skip
    pairs, test_idx = task.pairs(), run.test_idx
    train, test = pairs[run.train_idx], pairs[test_idx]
    rows = []
    toy = "embed.W_E" not in run.weights  # Liu et al.'s toy model names its embeddings "embed"
    key, modulus = ("embed", None if task.op == "sum" else task.p) if toy else ("embed.W_E", task.p)
    if modulus and not options.get("key_freqs"):  # one set of frequencies for every step
        options["key_freqs"] = embedding_key_freqs(run.weights[key].double()[: task.p])
    recorded = ["test_acc"] if "test_acc" in run.history else []  # own Runs may lack it
    for step in sorted(run.snapshots) if steps is None else steps:
        w_e = run.snapshots[step][key].float()[: task.p]
        res = representation_quality(w_e, train, test, modulus=modulus, **options)
        rows.append({"epoch": float(step), "rqi": res.rqi, "n_parallelograms":
                     res.n_parallelograms, "predicted_test_acc": res.predicted_test_acc,
                     **({} if res.circle_index is None else {"circle_index": res.circle_index}),
                     "test_acc": math.nan, **history_at(run.history, step, recorded)})  # fmt: skip
    return pd.DataFrame(rows)
