"""The neuron-logit map and the logits (Nanda et al. 2023, Section 4.2, Figure 3 right,
Table 1, Appendix C.2).

- **W_L in the Fourier basis.** W_L = W_out W_U (d_mlp x p) is transformed along its logit
  axis; the norm is taken over neurons (Figure 3, right).
- **Key frequencies** (Appendix C.2: "perform a DFT on the neuron-logit map W_L, then take
  the frequencies with nontrivial coefficients"): decided here as every k whose norm is at
  least ``threshold`` (default 0.3) of the largest, largest first. On the external
  fixtures the kept norms are >= 0.58 and the first dropped <= 0.26 (a frequency whose
  directions explain under 6% of their projections), so any threshold in (0.26, 0.58)
  gives the same keys. Pass ``key_freqs`` to override. When more than a third of the
  frequencies cross the threshold (a random or untrained model: 48 of 56), W_L has no
  sparse Fourier structure: no key frequencies are reported, and the analyses that
  need them say so (pass ``key_freqs`` to run them anyway).
- **Rank-2K approximation** ``W_L ~ sum_k u_k cos(w_k)^T + v_k sin(w_k)^T``: with the
  orthonormal basis, ``u_k, v_k`` are W_L's coefficients on the normalised cos/sin
  vectors and the residual is the rest. The paper's "under 0.55% of the norm" is reported
  both as a fraction of the Frobenius norm and of its square, labelled.
- **Table 1.** For each unit direction ``u_k/|u_k|`` and ``v_k/|v_k|``, the MLP activations
  projected on it, their 2D DFT over (a, b) with the two largest non-constant terms, and
  the FVE of one term ``cos(w_k(a+b))`` (for u_k) or ``sin(w_k(a+b))`` (for v_k) plus a
  constant.
- **Logit fit.** Least squares of the logits by ``sum_k alpha_k cos(w_k(a+b-c))`` over all
  p^3 entries. The logits are first centred over c for each (a, b): that offset does not
  change the softmax and no cosine of c can fit it. Reported: alpha_k, the FVE over all
  p^3 entries (paper: 95%), and the loss of the fitted logits against the model's on each
  pair set (paper, test pairs: 2.4e-7 -> 4.7e-8).

All of these read the final layer's MLP (see :mod:`grok_interp.analyses.common`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import fourier
from grok_interp.analyses.common import (
    UNKNOWN_SETUP,
    ModelData,
    Result,
    fve,
    gather,
    losses_by_set,
    paper_value,
    pct,
    require,
    sci,
    setup_note,
)
from grok_interp.analyses.embedding import FourierNormsResult
from grok_interp.tasks import Task
from grok_interp.tl import Model

DEFAULT_THRESHOLD = 0.3


def wl_coeffs(W_L: Float[Tensor, "d_mlp p"]) -> Float[Tensor, "d_mlp p"]:
    """W_L's coefficients in the Fourier basis over its logit axis: (d_mlp, p)."""
    return fourier.dft(W_L.double(), dim=1)


def select_key_freqs(norms: Float[Tensor, " n_freqs_plus_1"],
                     threshold: float = DEFAULT_THRESHOLD) -> list[int]:  # fmt: skip
    """Frequencies k >= 1 whose norm is at least ``threshold`` of the largest, largest first."""
    rel = norms[1:] / norms[1:].max()
    order = rel.argsort(descending=True)
    return [int(i) + 1 for i in order if rel[i] >= threshold]


def is_sparse(n_keys: int, n_freqs: int) -> bool:
    """Sparse Fourier structure: at most a third of the frequencies are key (module doc)."""
    return 0 < n_keys <= max(1, n_freqs // 3)


@dataclass(frozen=True)
class NeuronLogitMapResult(Result):
    """W_L in the Fourier basis, its key frequencies and rank-2K approximation.

    ``key_freqs`` is empty when W_L has no sparse structure (``n_above_threshold`` of the
    frequencies crossed the threshold; module docstring)."""

    norms: Float[Tensor, " n_freqs_plus_1"]
    key_freqs: tuple[int, ...]
    threshold: float | None
    residual_norm_fraction: float
    residual_sq_fraction: float
    n_above_threshold: int = 0
    layer: int = 0
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP

    title = "Neuron-logit map W_L in the Fourier basis"
    section = "Section 4.2, Figure 3 right, Appendix C.2"

    @property
    def fourier(self) -> FourierNormsResult:
        return FourierNormsResult(name="W_L", norms=self.norms)

    @property
    def sparse(self) -> bool:
        return bool(self.key_freqs)

    def table(self) -> pd.DataFrame:
        rule = (
            f"norm >= {self.threshold} x largest"
            if self.threshold is not None
            else "given by the caller"
        )
        n = len(self.norms) - 1
        keys = (
            ", ".join(map(str, self.key_freqs))
            if self.key_freqs
            else f"none: no sparse structure ({self.n_above_threshold} of {n} cross the rule)"
        )
        res = (
            (pct(self.residual_norm_fraction), pct(self.residual_sq_fraction))
            if self.key_freqs
            else ("-", "-")
        )
        rows = [
            ("key frequencies", keys, "14, 35, 41, 42, 52"),
            ("key-frequency rule", rule, "nontrivial coefficients"),
            ("residual / ‖W_L‖ (Frobenius norm)", res[0], "-"),
            ("residual² / ‖W_L‖² (squared norm)", res[1], "< 0.55%"),
            ("Gini of frequency norms", f"{self.fourier.gini:.3f}", "-"),
        ]
        frame = pd.DataFrame(rows, columns=["quantity", "ours", "paper (mainline)"])
        return frame if not self.setup_differences else frame.drop(columns="paper (mainline)")

    def figure(self) -> go.Figure:
        return self.fourier.figure()

    def notes(self) -> list[str]:
        return [
            f"W_L = W_out W_U of layer {self.layer} (the final one).",
            "The paper's 0.55% matches the squared-norm fraction on real models; both "
            "fractions are shown.",
            *setup_note(self.setup_differences),
        ]


@torch.no_grad()
def neuron_logit_map(
    model: Model,
    task: Task,
    *,
    key_freqs: list[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    data: ModelData | None = None,
) -> NeuronLogitMapResult:
    """Fourier norms of W_L, key frequencies and the rank-2K residual (module docstring)."""
    data = data or gather(model, task)
    _, W_L = data.mlp("neuron-logit map")
    res = wl_analysis(W_L, key_freqs=key_freqs, threshold=threshold)
    return replace(res, layer=data.last, setup_differences=data.differences)


def wl_analysis(
    W_L: Float[Tensor, "d_mlp p"],
    *,
    key_freqs: list[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> NeuronLogitMapResult:
    """The tensor-level part of :func:`neuron_logit_map`."""
    coeffs = wl_coeffs(W_L)
    norms = fourier.freq_norms(coeffs, dim=1)
    found = select_key_freqs(norms, threshold)
    keys = key_freqs or (found if is_sparse(len(found), len(norms) - 1) else [])
    if key_freqs:
        check_keys(keys, W_L.shape[1])
    cols = [i for k in keys for i in fourier.freq_rows(coeffs.shape[1], k)]
    total = coeffs.square().sum()
    res_sq = float((total - coeffs[:, cols].square().sum()) / total)
    return NeuronLogitMapResult(
        norms=norms.float(),
        key_freqs=tuple(keys),
        threshold=None if key_freqs else threshold,
        residual_norm_fraction=math.sqrt(max(res_sq, 0.0)),
        residual_sq_fraction=res_sq,
        n_above_threshold=len(found),
    )


def check_keys(keys: list[int], p: int) -> None:
    require(
        len(keys) > 0 and all(1 <= k <= fourier.n_freqs(p) for k in keys),
        "key frequencies",
        f"need frequencies in 1..{fourier.n_freqs(p)}, got {keys}",
    )


def wave_kinds(p: int, k: int) -> tuple[str, ...]:
    """The waves frequency ``k`` has: cos and sin, or cos alone for k = p/2 (even p),
    where sin(pi n) vanishes (:mod:`grok_interp.fourier`)."""
    return ("cos",) if 2 * k == p else ("cos", "sin")


def wave(p: int, k: int, kind: str) -> Float[Tensor, "p p"]:
    """cos or sin of w_k (a + b) over the a-major (p, p) grid, float64."""
    a = torch.arange(p, dtype=torch.float64)
    s = (a[:, None] + a[None, :]) * (2 * math.pi * k / p)
    return torch.cos(s) if kind == "cos" else torch.sin(s)


def term_label(i: int, j: int, p: int) -> str:
    names = fourier.labels(p)
    return (
        " ".join(f"{names[x]}{v}" if x else "" for x, v in ((i, "a"), (j, "b"))).strip() or "const"
    )


@dataclass(frozen=True)
class Direction:
    k: int
    kind: str  # "cos" (u_k) or "sin" (v_k)
    terms: tuple[tuple[str, float], ...]  # the two largest non-constant 2D DFT terms
    fve: float


@dataclass(frozen=True)
class DirectionsResult(Result):
    """Table 1: MLP activations read off along the W_L directions u_k, v_k."""

    directions: tuple[Direction, ...]
    layer: int = 0
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP

    title = "MLP activations along the W_L directions u_k, v_k (Table 1)"
    section = "Section 4.2, Table 1"

    @property
    def mean_fve(self) -> float:
        return sum(d.fve for d in self.directions) / len(self.directions)

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "direction": f"{'u' if d.kind == 'cos' else 'v'}_{d.k}",
                "largest 2D DFT terms": "; ".join(f"{t}: {c:.3g}" for t, c in d.terms),
                "single term": f"{d.kind}(w_{d.k}(a+b))",
                "FVE": pct(d.fve),
            }
            | ({} if self.setup_differences else {"paper": "> 90% (Table 1)"})
            for d in self.directions
        ]
        return pd.DataFrame(rows)

    # No figure: six bars near 1.0 would repeat the table's FVE column (the report page
    # draws only figures that carry more than their table).

    def notes(self) -> list[str]:
        return [
            f"Activations of layer {self.layer}'s MLP (the final one) at the last position.",
            "Directions are unit vectors; the two largest terms exclude the constant.",
            *setup_note(self.setup_differences),
        ]


@torch.no_grad()
def read_off_directions(
    model: Model,
    task: Task,
    *,
    key_freqs: list[int],
    data: ModelData | None = None,
) -> DirectionsResult:
    """Table 1 (module docstring)."""
    data = data or gather(model, task)
    post, W_L = data.mlp("Table 1 directions")
    res = read_off(post, W_L, key_freqs)
    return replace(res, layer=data.last, setup_differences=data.differences)


def read_off(
    post: Float[Tensor, "pairs d_mlp"], W_L: Float[Tensor, "d_mlp p"], key_freqs: list[int]
) -> DirectionsResult:
    """The tensor-level part of :func:`read_off_directions` (pairs a-major over p x p)."""
    p = W_L.shape[1]
    check_keys(key_freqs, p)
    coeffs = wl_coeffs(W_L)
    post = post.double()
    out = []
    for k in key_freqs:
        for kind, col in zip(("cos", "sin"), fourier.freq_rows(p, k), strict=False):
            direction = coeffs[:, col] / coeffs[:, col].norm()
            proj = (post @ direction).reshape(p, p)
            c2 = fourier.dft2(proj)
            c2[0, 0] = 0
            top = c2.abs().flatten().argsort(descending=True)[:2]
            terms = tuple(
                (term_label(int(i) // p, int(i) % p, p), float(c2.flatten()[i])) for i in top
            )
            f = wave(p, k, kind)
            centred = proj - proj.mean()
            alpha = (centred * f).sum() / f.square().sum()
            out.append(
                Direction(
                    k=k, kind=kind, terms=terms, fve=float(fve(proj, proj.mean() + alpha * f))
                )
            )
    return DirectionsResult(directions=tuple(out))


@dataclass(frozen=True)
class LogitFitResult(Result):
    """Logits fitted by sum_k alpha_k cos(w_k(a+b-c)) (Section 4.2); losses and
    accuracies of the model and of the fit per pair set (``"test"``, ``"train"``,
    ``"all"``)."""

    key_freqs: tuple[int, ...]
    alphas: Float[Tensor, " key"]
    fve: float
    loss_model: dict[str, float]
    loss_fit: dict[str, float]
    acc_model: dict[str, float]
    acc_fit: dict[str, float]
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP

    title = "Logits as a sum of cos(w_k(a+b-c))"
    section = "Section 4.2"

    def table(self) -> pd.DataFrame:
        sets = list(self.loss_model)
        rows = [("FVE of the logits (all p^3 entries)", pct(self.fve), "95%")]
        for s in sets:
            rows += [
                (f"loss, model ({s} pairs)", sci(self.loss_model[s]),
                 paper_value(("2.4e-7", "test"), [s])),
                (f"loss, fitted logits ({s} pairs)", sci(self.loss_fit[s]),
                 paper_value(("4.7e-8", "test"), [s])),
                (f"accuracy, model / fitted ({s} pairs)",
                 f"{self.acc_model[s]:.4f} / {self.acc_fit[s]:.4f}", "-"),
            ]  # fmt: skip
        rows += [
            (f"alpha_{k}", f"{float(a):.4g}", "-")
            for k, a in zip(self.key_freqs, self.alphas, strict=True)
        ]
        frame = pd.DataFrame(rows, columns=["quantity", "ours", "paper (mainline)"])
        return frame if not self.setup_differences else frame.drop(columns="paper (mainline)")

    def figure(self) -> go.Figure:
        fig = go.Figure(go.Bar(x=[str(k) for k in self.key_freqs], y=self.alphas.tolist()))
        fig.update_layout(title=self.heading(), xaxis_title="k", yaxis_title="alpha_k")
        return fig

    def notes(self) -> list[str]:
        return [
            "Logits are centred over c for each (a, b) before the fit (softmax-invariant).",
            *setup_note(self.setup_differences),
        ]


def cos_abc(p: int, k: int) -> Float[Tensor, "pairs p"]:
    """cos(w_k(a+b-c)) as (p^2, p), a-major pairs by c, float64."""
    a = torch.arange(p, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1)
    return torch.cos((s[:, None] - a[None, :]) * (2 * math.pi * k / p))


@torch.no_grad()
def logit_fit(
    model: Model,
    task: Task,
    *,
    key_freqs: list[int],
    data: ModelData | None = None,
) -> LogitFitResult:
    """Least-squares fit of the logits by key-frequency cosines (module docstring)."""
    data = data or gather(model, task)
    require(task.op == "add", "logit fit", f"cos(w(a+b-c)) describes add, not {task.op}")
    res = fit_logits(data.logits, data.labels, key_freqs, sets=data.sets)
    return replace(res, setup_differences=data.differences)


def fit_logits(
    logits: Float[Tensor, "pairs p"],
    labels: Int[Tensor, " pairs"],
    key_freqs: list[int],
    sets: dict[str, Int[Tensor, " n"]] | None = None,
) -> LogitFitResult:
    """The tensor-level part of :func:`logit_fit` (pairs a-major over p x p); losses on
    ``sets`` (default: all pairs)."""
    p = logits.shape[1]
    check_keys(key_freqs, p)
    logits = logits.double()
    centred = logits - logits.mean(-1, keepdim=True)
    fitted = torch.zeros_like(centred)
    alphas = []
    for k in key_freqs:  # the cosines are orthogonal over the full (a, b, c) grid
        f = cos_abc(p, k)
        alpha = (centred * f).sum() / f.square().sum()
        fitted += alpha * f
        alphas.append(float(alpha))
    sets = sets if sets is not None else {"all": torch.arange(len(labels))}
    model, fit = losses_by_set(logits, labels, sets), losses_by_set(fitted, labels, sets)
    return LogitFitResult(
        key_freqs=tuple(key_freqs),
        alphas=torch.tensor(alphas),
        fve=float(fve(centred, fitted)),
        loss_model={s: v[0] for s, v in model.items()},
        loss_fit={s: v[0] for s, v in fit.items()},
        acc_model={s: v[1] for s, v in model.items()},
        acc_fit={s: v[1] for s, v in fit.items()},
    )
