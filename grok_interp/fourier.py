"""The real Fourier basis over Z_p, 1D/2D DFTs, per-frequency norms and the Gini coefficient.

Nanda et al. 2023, Section 4.1 and Appendix A: for frequencies ``w_k = 2 pi k / p``,
``k = 1 .. K``, ``K = ceil((p-1)/2)`` (Varma et al. 2023, App. B: "we set 1 <= k <= K,
where K = ceil((p-1)/2)"), the basis vectors over ``x = 0 .. p-1`` are the constant,
``cos(w_k x)`` and ``sin(w_k x)``, each normalised to unit norm. Row order:
``[const, cos 1, sin 1, cos 2, sin 2, ...]`` (the authors' ``fourier_basis``). For prime
(odd) p, K = (p-1)/2; for even p, K = p/2 and the last frequency, k = p/2, has only a
cosine (``sin(pi x) = 0``): one row, ``cos(pi x)``, the basis's last. Every per-frequency
quantity in the package covers k = 1 .. K, p/2 included (:func:`freq_rows` gives a
frequency's rows). The basis is orthonormal, so a DFT is one matmul and a norm per
frequency is the norm of its rows.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor


def n_freqs(p: int) -> int:
    """Number of non-constant frequencies, ``K = ceil((p-1)/2)`` (module docstring)."""
    return p // 2


def freq_rows(p: int, k: int) -> list[int]:
    """The basis rows of frequency ``k``: cos and sin, or the cosine alone for k = p/2."""
    if not 1 <= k <= n_freqs(p):
        raise ValueError(f"frequency {k} is not in 1..{n_freqs(p)} for p = {p}")
    return [2 * k - 1] if 2 * k == p else [2 * k - 1, 2 * k]


def basis(p: int, dtype: torch.dtype = torch.float32) -> Float[Tensor, "p p"]:
    """Orthonormal real Fourier basis, one basis vector per row (module docstring)."""
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, n_freqs(p) + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        if 2 * k != p:
            rows.append(torch.sin(2 * math.pi * k * x / p))
    b = torch.stack(rows)
    return (b / b.norm(dim=1, keepdim=True)).to(dtype)


def labels(p: int) -> list[str]:
    names = ["const"]
    for k in range(1, n_freqs(p) + 1):
        names += ["cos p/2"] if 2 * k == p else [f"cos {k}", f"sin {k}"]
    return names


def dft(x: Float[Tensor, "*shape"], dim: int = 0) -> Float[Tensor, "*shape"]:
    """Coefficients of ``x`` along ``dim`` (length p) in the basis, at the same position."""
    p = x.shape[dim]
    moved = x.movedim(dim, 0)
    out = torch.tensordot(basis(p, x.dtype).to(x.device), moved, dims=([1], [0]))
    return out.movedim(0, dim)


def dft2(x: Float[Tensor, "p p *rest"]) -> Float[Tensor, "p p *rest"]:
    """2D DFT over the first two axes (a, b), e.g. of per-pair values reshaped to (p, p, ...)."""
    return dft(dft(x, 0), 1)


def freq_norms(coeffs: Float[Tensor, "*shape"], dim: int = 0) -> Float[Tensor, " n_freqs_plus_1"]:
    """L2 norm per frequency of DFT coefficients along ``dim`` over every other axis.

    Index 0 is the constant; index k the norm of the (cos k, sin k) pair (Fig 3), of the
    cosine alone for k = p/2 (even p).
    """
    c = coeffs.movedim(dim, 0).reshape(coeffs.shape[dim], -1)
    sq = c.square().sum(1)
    p = c.shape[0]
    per = [sq[:1]] + [sq[freq_rows(p, k)].sum(0, keepdim=True) for k in range(1, n_freqs(p) + 1)]
    return torch.cat(per).sqrt()


def gini(x: Float[Tensor, "*shape"]) -> float:
    """Gini coefficient of non-negative values: 0 for equal values, near 1 for one spike.

    ``G = sum_i (2i - n - 1) x_(i) / (n sum x)`` over the sorted values (Section 5.1 uses
    it on the per-frequency norms of W_E and W_L as a sparsity measure).
    """
    v = x.detach().double().flatten().sort().values
    n = v.numel()
    if n == 0 or v.sum() == 0:
        return 0.0
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * i - n - 1) * v).sum() / (n * v.sum()))
