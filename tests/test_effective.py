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
