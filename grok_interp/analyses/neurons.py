"""MLP neurons as degree-2 polynomials of one frequency (Nanda et al. 2023, Section 4.3,
Figure 5).

For each neuron and key frequency k the activations over the (a, b) grid are fitted by
least squares on a degree-2 basis of that frequency, and the FVE (about the mean) is
reported. Two bases:

- ``"fourier"`` (default, as in the authors' code): the products
  ``{1, cos w_k a, sin w_k a} x {1, cos w_k b, sin w_k b}``, i.e. the 3x3 block of the 2D
  Fourier basis. Being orthonormal on the full grid, the fit is the block of the 2D DFT
  and costs one transform for every neuron and frequency at once.
- ``"monomials"``: all 15 monomials of degree <= 2 in ``cos w_k a, sin w_k a, cos w_k b,
  sin w_k b`` (which adds the 2k harmonics ``cos^2``, ``sin cos``), fitted by batched
  least squares.

Each neuron is assigned its best key frequency; neurons whose best FVE exceeds 0.85 are
clustered by it (paper: 433 of 512). For each cluster, the share of its W_L rows' squared
norm that lies on its own frequency's cos/sin (Figure 5 right: "only two non-trivial
components").

A model of several layers: the above reads the final MLP (the one W_L maps to the
logits); each earlier MLP gets the same fits at the answer position over every
frequency (``NeuronsResult.earlier``): how many neurons one frequency explains, by
frequency.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from grok_interp import fourier
from grok_interp.analyses.common import UNKNOWN_SETUP, ModelData, Result, gather, setup_note
from grok_interp.analyses.logits import check_keys, wave, wave_kinds, wl_coeffs
from grok_interp.tasks import Task
from grok_interp.tl import Model

FVE_THRESHOLD = 0.85


@dataclass(frozen=True)
class Cluster:
    k: int
    n_neurons: int
    wl_share: float  # share of the cluster's W_L squared norm on cos/sin of k


@dataclass(frozen=True)
class LayerNeurons:
    """An earlier MLP of a model of several layers: how many of its neurons a degree-2
    fit of one frequency explains (FVE > 0.85), by frequency (every frequency searched)."""

    layer: int
    n_well_fit: int
    d_mlp: int
    by_freq: tuple[tuple[int, int], ...]  # (k, neurons), the largest first


@dataclass(frozen=True)
class NeuronsResult(Result):
    """Per-neuron degree-2 fits, their frequency clusters, and W_L's localisation."""

    key_freqs: tuple[int, ...]
    fve: Float[Tensor, "d_mlp key"]
    best_freq: Int[Tensor, " d_mlp"]
    best_fve: Float[Tensor, " d_mlp"]
    clusters: tuple[Cluster, ...]
    basis: str
    wl_fourier: Float[Tensor, "d_mlp p"]
    layer: int = 0
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP
    earlier: tuple[LayerNeurons, ...] = ()  # MLPs before the final one

    title = "MLP neurons as degree-2 polynomials of one frequency"
    section = "Section 4.3, Figure 5"

    @property
    def well_fit(self) -> Bool[Tensor, " d_mlp"]:
        return self.best_fve > FVE_THRESHOLD

    def table(self) -> pd.DataFrame:
        n, d = int(self.well_fit.sum()), len(self.best_fve)
        rows: list[dict[str, object]] = [
            {
                "cluster": "all",
                "neurons": _well_fit(n, d),
                "W_L share on own frequency": "-",
                "paper": "433/512 (84.6%)",
            }
        ]
        rows += [
            {
                "cluster": f"k = {c.k}",
                "neurons": c.n_neurons,
                "W_L share on own frequency": f"{c.wl_share:.2%}",
                "paper": "only sin/cos of k non-trivial",
            }
            for c in self.clusters
        ]
        if self.earlier:
            for row in rows:
                row["cluster"] = f"layer {self.layer}: {row['cluster']}"
        for e in self.earlier:
            rows.append({"cluster": f"layer {e.layer}: all",
                         "neurons": _well_fit(e.n_well_fit, e.d_mlp),
                         "W_L share on own frequency": "- (not the final MLP)", "paper": "-"})
            rows += [{"cluster": f"layer {e.layer}: k = {k}", "neurons": n,
                      "W_L share on own frequency": "-", "paper": "-"} for k, n in e.by_freq]
        frame = pd.DataFrame(rows)
        return frame if not self.setup_differences else frame.drop(columns="paper")

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for k in self.key_freqs:
            mask = self.best_freq == k
            fig.add_trace(
                go.Histogram(
                    x=self.best_fve[mask].tolist(),
                    name=f"k={k}",
                    xbins={"start": 0, "end": 1, "size": 0.02},
                )
            )
        fig.update_layout(
            barmode="stack",
            title=self.heading() + (f"; layer {self.layer}, the final MLP" if self.earlier
                                    else ""),  # fmt: skip
            xaxis_title="FVE by best key frequency",
            yaxis_title="neurons",
        )
        return fig

    def cluster_heatmap(self, k: int | None = None) -> go.Figure:
        """W_L rows of one cluster in the Fourier basis (Figure 5, right).

        Default: the largest cluster; with no neuron above 0.85 FVE, the neurons whose
        best frequency is the most common one (the title says so)."""
        members = self.well_fit
        if k is None:
            pool = self.best_freq[members] if members.any() else self.best_freq
            k = int(pool.mode().values)
        rows = self.wl_fourier[(self.best_freq == k) & (members if members.any() else True)]
        which = "" if members.any() else " (none above 0.85 FVE: all with this best frequency)"
        fig = go.Figure(
            go.Heatmap(
                z=rows.tolist(),
                x=fourier.labels(self.wl_fourier.shape[1]),
                colorscale="RdBu",
                zmid=0,
            )
        )
        fig.update_layout(
            title=f"W_L of the {len(rows)} neurons of frequency {k}{which} (Figure 5)",
            yaxis_title="neuron",
            xaxis_title="Fourier component of the logits",
        )
        return fig

    def notes(self) -> list[str]:
        basis = (
            "the 3x3 block {1, cos, sin}(a) x {1, cos, sin}(b) of the 2D Fourier basis"
            if self.basis == "fourier"
            else "all 15 degree-2 monomials"
        )
        earlier = [] if not self.earlier else [
            f"Earlier MLPs (layer {', '.join(str(e.layer) for e in self.earlier)}): the same "
            "fits at the answer position, every frequency searched (the key frequencies are "
            "the final MLP's W_L's); no W_L share, since W_out W_U is only an earlier MLP's "
            "direct path to the logits."]  # fmt: skip
        return [
            f"Neurons of layer {self.layer}'s MLP (the final one) at the answer position.",
            f"Degree-2 basis: {basis}; frequencies searched: the key frequencies.",
            *earlier,
            *setup_note(self.setup_differences),
        ]


def block_fve(grid: Float[Tensor, "p p n"], key_freqs: list[int]
              ) -> tuple[Float[Tensor, "n key"], Float[Tensor, "p p n"]]:  # fmt: skip
    """FVE of the 3x3 Fourier block per key frequency, and the 2D DFT: (n, key), (p, p, n)."""
    c = fourier.dft2(grid.double())
    sq = c.square()
    const = sq[0, 0]
    total = sq.sum((0, 1)) - const
    out = []
    for k in key_freqs:
        idx = torch.tensor([0, *fourier.freq_rows(grid.shape[0], k)])
        out.append((sq[idx][:, idx].sum((0, 1)) - const) / total)
    return torch.stack(out, 1), c


def monomial_fve(grid: Float[Tensor, "p p n"], key_freqs: list[int]) -> Float[Tensor, "n key"]:
    """FVE of all degree-2 monomials in cos/sin of w_k a and w_k b: (n, key)."""
    p = grid.shape[0]
    y = grid.double().reshape(p * p, -1)
    x = torch.arange(p, dtype=torch.float64)
    out = []
    for k in key_freqs:
        w = 2 * math.pi * k * x / p
        a, b = torch.meshgrid(w, w, indexing="ij")
        vars_ = [torch.cos(a), torch.sin(a), torch.cos(b), torch.sin(b)]
        cols = [torch.ones_like(a)] + vars_
        # sin^2 = 1 - cos^2 of each operand: dropping those two products leaves the span
        # of the 15 monomials unchanged and the design full rank (a rank-deficient
        # lstsq gave order-dependent wrong fits)
        pairs = itertools.combinations_with_replacement(range(4), 2)
        cols += [vars_[i] * vars_[j] for i, j in pairs if not (i == j and i in (1, 3))]
        design = torch.stack([c.reshape(-1) for c in cols], 1)
        coef = torch.linalg.lstsq(design, y).solution
        out.append(1 - (y - design @ coef).square().sum(0) / (y - y.mean(0)).square().sum(0))
    return torch.stack(out, 1)


@torch.no_grad()
def neuron_fits(
    model: Model,
    task: Task,
    *,
    key_freqs: list[int],
    basis: Literal["fourier", "monomials"] = "fourier",
    data: ModelData | None = None,
) -> NeuronsResult:
    """Degree-2 fits of every neuron, clusters, and W_L localisation (module docstring)."""
    data = data or gather(model, task)
    post, W_L = data.mlp("neurons")
    check_keys(key_freqs, task.p)
    p = task.p
    fves, best_fve, best_freq = _fits(post, p, key_freqs, basis)
    coeffs = wl_coeffs(W_L)
    clusters = []
    for k in key_freqs:
        members = (best_freq == k) & (best_fve > FVE_THRESHOLD)
        if not members.any():
            continue
        rows = coeffs[members]
        share = rows[:, fourier.freq_rows(rows.shape[1], k)].square().sum() / rows.square().sum()
        clusters.append(Cluster(k=k, n_neurons=int(members.sum()), wl_share=float(share)))
    return NeuronsResult(
        key_freqs=tuple(key_freqs),
        fve=fves.float(),
        best_freq=best_freq,
        best_fve=best_fve.float(),
        clusters=tuple(clusters),
        basis=basis,
        wl_fourier=coeffs.float(),
        layer=data.last,
        setup_differences=data.differences,
        earlier=tuple(_earlier(i, act, p, basis) for i, act in enumerate(data.earlier_posts)),
    )


def _well_fit(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.1%}) with FVE > {FVE_THRESHOLD}"


def _fits(post: Float[Tensor, "pairs d_mlp"], p: int, freqs: list[int],
          basis: Literal["fourier", "monomials"]) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Every neuron's FVE per frequency, its best FVE and its best frequency."""
    grid = post.reshape(p, p, -1)
    fves = block_fve(grid, freqs)[0] if basis == "fourier" else monomial_fve(grid, freqs)
    fves = torch.nan_to_num(fves, nan=0.0)  # dead neurons have no variance
    best_fve, best_i = fves.max(1)
    return fves, best_fve, torch.tensor(freqs)[best_i]


def _earlier(layer: int, post: Float[Tensor, "pairs d_mlp"], p: int,
             basis: Literal["fourier", "monomials"]) -> LayerNeurons:  # fmt: skip
    """An earlier MLP's fits over every frequency."""
    _, best_fve, best_freq = _fits(post, p, list(range(1, p // 2 + 1)), basis)
    ks, counts = best_freq[best_fve > FVE_THRESHOLD].unique(return_counts=True)
    by_freq = sorted(zip(ks.tolist(), counts.tolist(), strict=True), key=lambda kc: -kc[1])
    return LayerNeurons(layer=layer, n_well_fit=int((best_fve > FVE_THRESHOLD).sum()),
                        d_mlp=post.shape[1], by_freq=tuple(by_freq))  # fmt: skip


def fitted_activations(
    post: Float[Tensor, "pairs d_mlp"], p: int, best_freq: Int[Tensor, " d_mlp"], *,
    restricted: bool = False,
) -> Float[Tensor, "pairs d_mlp"]:
    """Each neuron's fit on its best frequency: the 3x3 Fourier block, or with
    ``restricted`` only the constant and cos/sin(w_k(a+b)) (Section 4.4)."""
    grid = post.double().reshape(p, p, -1)
    out = torch.empty_like(grid)
    b = fourier.basis(p, torch.float64)
    for k in best_freq.unique().tolist():
        sel = best_freq == k
        g = grid[:, :, sel]
        if restricted:
            mean = g.mean((0, 1))
            fit = mean.expand_as(g).clone()
            for kind in wave_kinds(p, k):
                f = wave(p, k, kind)[:, :, None]
                fit += ((g - mean) * f).sum((0, 1)) / f.square().sum() * f
        else:
            idx = torch.tensor([0, *fourier.freq_rows(p, k)])
            c = torch.einsum("ia,jb,abn->ijn", b[idx], b[idx], g)
            fit = torch.einsum("ia,jb,ijn->abn", b[idx], b[idx], c)
        out[:, :, sel] = fit
    return out.reshape(p * p, -1).float()
