"""The real Fourier basis over Z_p, 1D/2D DFTs, per-frequency norms and the Gini coefficient.

Nanda et al. 2023, Section 4.1 and Appendix A: for frequencies ``w_k = 2 pi k / p``,
``k = 1 .. (p-1)/2``, the basis vectors over ``x = 0 .. p-1`` are the constant,
``cos(w_k x)`` and ``sin(w_k x)``, each normalised to unit norm. Row order:
``[const, cos 1, sin 1, cos 2, sin 2, ...]`` (the authors' ``fourier_basis``); for even
``p`` a final ``cos(pi x)`` row completes it. The basis is orthonormal, so a DFT is one
matmul and a norm per frequency is the norm of its two rows.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor


def n_freqs(p: int) -> int:
    """Number of non-constant frequencies ``k = 1 .. (p-1)//2``."""
    return (p - 1) // 2


def basis(p: int, dtype: torch.dtype = torch.float32) -> Float[Tensor, "p p"]:
    """Orthonormal real Fourier basis, one basis vector per row (module docstring)."""
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, n_freqs(p) + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    if p % 2 == 0:
        rows.append(torch.cos(math.pi * x))
    b = torch.stack(rows)
    return (b / b.norm(dim=1, keepdim=True)).to(dtype)


def labels(p: int) -> list[str]:
    names = ["const"]
    for k in range(1, n_freqs(p) + 1):
        names += [f"cos {k}", f"sin {k}"]
    return names + (["cos p/2"] if p % 2 == 0 else [])


def dft(x: Tensor, dim: int = 0) -> Tensor:
    """Coefficients of ``x`` along ``dim`` (length p) in the basis, at the same position."""
    p = x.shape[dim]
    moved = x.movedim(dim, 0)
    out = torch.tensordot(basis(p, x.dtype).to(x.device), moved, dims=([1], [0]))
    return out.movedim(0, dim)


def dft2(x: Tensor) -> Tensor:
    """2D DFT over the first two axes (a, b), e.g. of per-pair values reshaped to (p, p, ...)."""
    return dft(dft(x, 0), 1)


def freq_norms(coeffs: Tensor, dim: int = 0) -> Float[Tensor, " n_freqs_plus_1"]:
    """L2 norm per frequency of DFT coefficients along ``dim`` over every other axis.

    Index 0 is the constant; index k the norm of the (cos k, sin k) pair (Fig 3).
    """
    c = coeffs.movedim(dim, 0).reshape(coeffs.shape[dim], -1)
    sq = c.square().sum(1)
    k = n_freqs(c.shape[0])
    per = torch.cat([sq[:1], sq[1 : 1 + 2 * k].reshape(k, 2).sum(1)])
    return per.sqrt()


def gini(x: Tensor) -> float:
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
