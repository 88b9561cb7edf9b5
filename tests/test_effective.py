"""Liu et al.'s effective theory: the Hessian of a hand-worked case, and the flow's
linear representation."""

import numpy as np
import pytest
import torch

from grok_interp.analyses.representation import representation_quality
from grok_interp.theory.effective import (
    effective_flow,
    eigenvalues,
    hessian,
    quadruple_matrix,
)


def _all_pairs(p):
    return torch.tensor([(i, j) for i in range(p) for j in range(i, p)])


def test_hessian_of_p4_by_hand():
    """p = 4, every pair: P_0 = {(0,2,1,1), (0,3,1,2), (1,3,2,2)}, rows [1,-2,1,0],
    [1,-1,-1,1], [0,1,-2,1]. A^T A = [[2,-3,0,1],[-3,6,-3,0],[0,-3,6,-3],[1,0,-3,2]]: null
    space (1,1,1,1) and (0,1,2,3); the Gram matrix [[6,2,-4],[2,4,2],[-4,2,6]] has trace 16
    and principal minors summing to 60, so the other eigenvalues are 8 -+ 2 = 6, 10. The
    Hessian 2 A^T A / 3 therefore has eigenvalues 0, 0, 4, 20/3: lambda_3 = 4."""
    a = quadruple_matrix(_all_pairs(4), 4)
    want = torch.tensor([[2, -3, 0, 1], [-3, 6, -3, 0], [0, -3, 6, -3], [1, 0, -3, 2]])
    assert torch.equal(a.T @ a, want.double())
    assert eigenvalues(_all_pairs(4), 4) == pytest.approx([0, 0, 4, 20 / 3], abs=1e-12)
    assert hessian(torch.tensor([[0, 1]]), 4).abs().sum() == 0  # no quadruple, no curvature


def test_lambda_3_grows_with_the_training_set():
    pairs = _all_pairs(10)
    perm = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))
    lams = [eigenvalues(pairs[perm[:n]], 10)[2] for n in (20, 35, 55)]
    assert lams[0] <= lams[1] <= lams[2] and lams[2] > 0


def test_flow_finds_the_linear_representation():
    emb = torch.randn(10, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pairs = _all_pairs(10)
    for freeze in (False, True):
        traj = effective_flow(emb, pairs, steps=3000, lr=0.5, freeze_z0=freeze)
        final = traj[-1][:, 0].numpy()
        corr = abs(np.corrcoef(final, np.arange(10))[0, 1])
        assert corr > 0.999, (freeze, corr)
        res = representation_quality(traj[-1], pairs, pairs[:0], modulus=None)
        assert res.rqi == 1.0


def _authors_flow(e, train, p, lr, steps, per_quadruple):
    """The authors' effective-theory loop (toy/train_add.py, "Task 3"), written here from
    its formula: A's rows +1 at i, j and -1 at m, n for each pair of distinct training
    pairs with equal sums; Z0 = sum E^2 once, at the start; then
    E <- E + lr (2 l0 / Z0^2 E - 2 / Z0 A^T A E), l0 = sum (A E)^2 at the current E
    (divided by the number of rows for the slides' mean)."""
    distinct = sorted({tuple(sorted(x)) for x in train.tolist()})
    rows = []
    for k, (i, j) in enumerate(distinct):
        for m, n in distinct[k + 1 :]:
            if i + j == m + n:
                x = np.zeros(p)
                x[i] += 1
                x[j] += 1
                x[m] -= 1
                x[n] -= 1
                rows.append(x)
    a = np.array(rows)
    c = len(a) if per_quadruple else 1
    z0 = np.sum(e**2)
    out = [e.copy()]
    for _ in range(steps):
        l0 = np.sum((a @ e) ** 2) / c
        temp = a.T @ (a @ e) / c
        e = e + lr * (2 * l0 / z0**2 * e - 2 / z0 * temp)
        out.append(e.copy())
    return out


@pytest.mark.parametrize("norm", ["authors", "slides"])
def test_frozen_z0_is_the_authors_update(norm):
    """p = 10, 30 training pairs, from a standardised random 1-D representation (as the
    authors start): ``freeze_z0=True`` follows their update step for step, and |E| stays
    at its start (3.0: nine degrees of freedom of unit variance) where dropping the d(Z)
    term lets it shrink."""
    pairs = _all_pairs(10)
    train = pairs[torch.randperm(55, generator=torch.Generator().manual_seed(3))[:30]]
    e = torch.randn(10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    e = ((e - e.mean()) / e.std())[:, None]
    lr, steps = (1e-3, 5000) if norm == "authors" else (0.1, 5000)
    want = _authors_flow(e[:, 0].numpy(), train, 10, lr, steps, norm == "slides")
    norm_arg = {} if norm == "slides" else {"norm": norm}  # the default: runs on old code
    got = effective_flow(e, train, steps=steps, lr=lr, freeze_z0=True, every=500, **norm_arg)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g[:, 0].numpy(), want[min(500 * k, steps)], atol=1e-9)
    assert np.linalg.norm(want[-1]) == pytest.approx(3.0, rel=0.05)  # Euler drift
    corr = [abs(np.corrcoef(w, np.arange(10))[0, 1]) for w in (want[0], want[-1])]
    assert corr[0] < 0.9 and corr[1] > 0.99  # it moved, towards the linear representation


def test_authors_lambda_3_is_the_gram_matrix_eigenvalue():
    """p = 4, every pair (see the hand-worked case above): A^T A has eigenvalues 0, 0, 6,
    10, so the authors' lambda_3 is 6 where the slides' (2 A^T A / 3) is 4."""
    assert eigenvalues(_all_pairs(4), 4, norm="authors") == pytest.approx([0, 0, 6, 10],
                                                                          abs=1e-12)  # fmt: skip
