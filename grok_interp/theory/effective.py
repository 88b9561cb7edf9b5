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
parallelogram); the third, lambda_3, is the grokking rate. :func:`hessian` reports it for
Z_0 = 1 (embeddings normalised to unit Z_0), since Z_0 only rescales it.

Decisions: the slides normalise by Z_0 of the current embeddings; the authors' code
freezes Z_0 at its value at initialisation (``freeze_z0=True`` here). Modular tasks use
i + j = m + n (mod p) for P_0(D) (``modulus``); then the linear representation no longer
satisfies every quadruple and lambda_2 need not be 0.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.representation import quadruples, unordered


def quadruple_matrix(pairs: Int[Tensor, "n 2"], p: int, *, modulus: int | None = None) -> Tensor:
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


def hessian(pairs: Int[Tensor, "n 2"], p: int, *, modulus: int | None = None) -> Tensor:
    """``2 A^T A / |P_0(D)|``: the effective loss's Hessian per embedding dimension at
    Z_0 = 1 (module docstring)."""
    a = quadruple_matrix(pairs, p, modulus=modulus)
    return 2 * a.T @ a / max(len(a), 1)


def eigenvalues(pairs: Int[Tensor, "n 2"], p: int, *, modulus: int | None = None) -> np.ndarray:
    """The Hessian's eigenvalues, ascending; ``[2]`` is the grokking rate lambda_3."""
    return np.linalg.eigvalsh(hessian(pairs, p, modulus=modulus).numpy())


def effective_loss(
    emb: Float[Tensor, "p d"], a: Tensor, z0: Tensor | float | None = None
) -> Tensor:
    """l_eff = l_0 / Z_0 of the centred embeddings (``z0`` given: the frozen Z_0)."""
    e = emb - emb.mean(0)
    l0 = (a @ e).square().sum() / max(len(a), 1)
    return l0 / (e.square().sum() if z0 is None else z0)


def effective_flow(
    emb: Float[Tensor, "p d"],
    pairs: Int[Tensor, "n 2"],
    *,
    steps: int = 2000,
    lr: float = 0.1,
    modulus: int | None = None,
    freeze_z0: bool = False,
    every: int = 100,
) -> list[Tensor]:
    """The embeddings under the effective loss's gradient flow, every ``every`` steps
    (the first and last always): what the theory predicts the network learns."""
    a = quadruple_matrix(pairs, emb.shape[0], modulus=modulus)
    e = emb.detach().double().clone().requires_grad_(True)
    z0 = (e - e.mean(0)).square().sum().detach() if freeze_z0 else None
    out = [e.detach().clone()]
    for step in range(1, steps + 1):
        loss = effective_loss(e, a, z0)
        (grad,) = torch.autograd.grad(loss, e)
        with torch.no_grad():
            e -= lr * grad
        if step % every == 0 or step == steps:
            out.append(e.detach().clone())
    return out
