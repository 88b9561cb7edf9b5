"""Liu et al. (2022)'s effective theory of representation learning, as in Kolber's slides
("Effective Loss", "Grokking Rate"): the embeddings alone, pulled towards parallelograms.

For a training set D, every quadruple q = (i, j, m, n) of P_0(D) (see
:mod:`grok_interp.analyses.representation`) is a row ``a_q`` of the matrix A with +1 at i
and j and -1 at m and n (the authors' code builds the same ``A``), so that

    l_0 = sum_q |a_q E~|^2 / |P_0(D)|,    Z_0 = sum_k |E~_k|^2,    l_eff = l_0 / Z_0,

with ``E~`` the embeddings centred over the symbols, and the representation follows the
gradient flow ``dE~/dt = -d l_eff / dE~`` (Euler steps of size ``lr`` here).

Hessian (the slides' H_ij = (1/Z_0) d^2 l_0 / dE_i dE_j): l_0 is quadratic, so per
embedding dimension ``H = 2 A^T A / (|P_0(D)| Z_0)``. Its two lowest eigenvalues are 0
(translations E_k + c and the linear representation E_k = k, which satisfies every
parallelogram); the third, lambda_3, is the grokking rate.

**Two normalisations** (``norm``), which differ by the factor 2 / |P_0(D)| (6x to 35x
for p = 10 between 20 and 55 pairs):

- ``"slides"`` (default; slides "Effective Loss", "Grokking Rate"): l_0 is the mean over
  P_0(D) and the Hessian ``2 A^T A / |P_0(D)|`` is taken at Z_0 = 1 (Z_0 only rescales it).
- ``"authors"``: the authors' code, l_0 the plain sum over quadruples
  (``toy/train_add.py``), and lambda_3 the third eigenvalue of the Gram matrix ``A^T A``
  itself (``phase_diagram_plot/effective_linear_eq.ipynb``: ``eigh(mat.T @ mat)``).

**Z_0** (``freeze_z0``). The slides normalise by Z_0 of the current embeddings
(``freeze_z0=False``): the exact gradient of l_0 / Z_0. The authors' code
(``toy/train_add.py``, "effective theory") evaluates Z_0 once, at the start, and steps

    E <- E + lr * (2 l_0 / Z_0^2 E - 2 / Z_0 * A^T A E)

with l_0 at the current E: the gradient of l_0 / Z with Z = |E~|^2, where Z's value is
frozen but its derivative is kept (``freeze_z0=True``). That term is what holds |E~|
constant: d|E~|^2/dt = 4 (l_0 / Z_0)(|E~|^2 / Z_0 - 1) = 0 at |E~|^2 = Z_0, up to the
Euler step's drift. (Their code starts from the standardised initial representation and
uses A over all quadruples of the full table; here A is P_0(D)'s, the slides' choice.)

Modular tasks use i + j = m + n (mod p) for P_0(D) (``modulus``); then the linear
representation no longer satisfies every quadruple and lambda_2 need not be 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.representation import quadruples, unordered

Norm = Literal["slides", "authors"]


def quadruple_matrix(pairs: Int[Tensor, "n 2"], p: int, *,
                     modulus: int | None = None) -> Float[Tensor, "q p"]:  # fmt: skip
    """A: one row per quadruple of P_0(D) over the distinct unordered pairs of ``pairs``
    (+1 at i, j; -1 at m, n), float64."""
    pairs = unordered(pairs)
    q = quadruples(pairs, modulus)
    rows = torch.arange(len(q))
    a = torch.zeros(len(q), p, dtype=torch.float64)
    for side, sign in ((pairs[q[:, 0]], 1.0), (pairs[q[:, 1]], -1.0)):
        for col in (0, 1):
            a.index_put_((rows, side[:, col]), torch.tensor(sign, dtype=torch.float64),
                         accumulate=True)  # fmt: skip
    return a


def _check(norm: str) -> None:
    if norm not in ("slides", "authors"):
        raise ValueError(f"norm must be 'slides' or 'authors', not {norm!r}")


def hessian(pairs: Int[Tensor, "n 2"], p: int, *, modulus: int | None = None,
            norm: Norm = "slides") -> Float[Tensor, "p p"]:  # fmt: skip
    """The curvature matrix whose third eigenvalue is lambda_3: ``2 A^T A / |P_0(D)|``
    (``norm="slides"``, the Hessian at Z_0 = 1) or ``A^T A`` (``norm="authors"``, their
    notebook's Gram matrix); module docstring."""
    _check(norm)
    a = quadruple_matrix(pairs, p, modulus=modulus)
    return 2 * a.T @ a / max(len(a), 1) if norm == "slides" else a.T @ a


def eigenvalues(pairs: Int[Tensor, "n 2"], p: int, *, modulus: int | None = None,
                norm: Norm = "slides") -> np.ndarray:  # fmt: skip
    """:func:`hessian`'s eigenvalues, ascending; ``[2]`` is the grokking rate lambda_3."""
    return np.linalg.eigvalsh(hessian(pairs, p, modulus=modulus, norm=norm).numpy())


def effective_loss(
    emb: Float[Tensor, "p d"], a: Float[Tensor, "q p"], z0: Float[Tensor, ""] | float | None = None,
    norm: Norm = "slides",
) -> Float[Tensor, ""]:  # fmt: skip
    """l_eff = l_0 / Z_0 of the centred embeddings (``z0`` given: the frozen Z_0, value
    and derivative both; see :func:`effective_flow` for the authors' update)."""
    _check(norm)
    e = emb - emb.mean(0)
    l0 = (a @ e).square().sum() / (max(len(a), 1) if norm == "slides" else 1)
    return l0 / (e.square().sum() if z0 is None else z0)


def _authors_step(e: Tensor, a: Tensor, z0: Tensor, scale: float) -> Tensor:
    """-d(l_0 / Z)/dE with Z's value frozen at ``z0`` and its derivative kept: the
    authors' ``dE = 2 l0/Z0^2 E - 2/Z0 temp`` (module docstring)."""
    c = e - e.mean(0)
    ae = a @ c
    l0 = ae.square().sum() / scale
    return 2 * l0 / z0**2 * c - 2 / z0 * (a.T @ ae) / scale


def effective_flow(
    emb: Float[Tensor, "p d"],
    pairs: Int[Tensor, "n 2"],
    *,
    steps: int = 2000,
    lr: float = 0.1,
    modulus: int | None = None,
    freeze_z0: bool = False,
    norm: Norm = "slides",
    every: int = 100,
) -> list[Float[Tensor, "p d"]]:
    """The embeddings under the effective loss's gradient flow (Euler steps of ``lr``),
    every ``every`` steps (the first and last always): what the theory predicts the
    network learns. ``freeze_z0=True``: the authors' update, Z_0 of the starting
    embeddings in place of Z (module docstring); ``norm="authors"`` with it and
    ``lr=1e-3`` is their ``toy/train_add.py`` step for step."""
    _check(norm)
    a = quadruple_matrix(pairs, emb.shape[0], modulus=modulus)
    scale = float(max(len(a), 1)) if norm == "slides" else 1.0
    e = emb.detach().double().clone()
    z0 = (e - e.mean(0)).square().sum()
    out = [e.clone()]
    for step in range(1, steps + 1):
        if freeze_z0:
            e += lr * _authors_step(e, a, z0, scale)
        else:
            leaf = e.requires_grad_(True)
            (grad,) = torch.autograd.grad(effective_loss(leaf, a, None, norm), leaf)
            e = (leaf - lr * grad).detach()
        if step % every == 0 or step == steps:
            out.append(e.clone())
    return out
