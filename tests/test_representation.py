"""Representation quality (Liu et al. 2022): known answers on constructed representations,
checked against a brute-force count, and a real checkpoint."""

import itertools
from pathlib import Path

import pytest
import torch

from grok_interp.analyses.representation import (
    parallelogram_counts,
    representation_quality,
    unordered,
)

P = 12


def _all_pairs(p):
    return torch.tensor([(i, j) for i in range(p) for j in range(i, p)])


def _split(p, n_train, seed=0):
    pairs = _all_pairs(p)
    perm = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    return pairs[perm[:n_train]], pairs[perm[n_train:]]


def _brute(reps, pairs, modulus, delta):
    pairs = [tuple(x) for x in unordered(pairs).tolist()]
    total = hits = 0
    for (i, j), (m, n) in itertools.combinations(pairs, 2):
        same = (i + j) % modulus == (m + n) % modulus if modulus else i + j == m + n
        if same:
            total += 1
            hits += bool(torch.linalg.norm(reps[i] + reps[j] - reps[m] - reps[n]) <= delta)
    return total, hits


def test_a_linear_representation_has_rqi_1_and_reaches_every_test_sum_seen_in_training():
    reps = torch.arange(P, dtype=torch.float64)[:, None] * torch.tensor([[0.3, -1.2, 2.0]])
    train, test = _split(P, 30)
    res = representation_quality(reps, train, test, modulus=None)
    assert res.rqi == 1.0 and res.n_quadruples == _brute(reps, train, None, 1e-9)[0]
    seen = set(train.sum(1).tolist())
    want = sum(int(s) in seen for s in test.sum(1).tolist()) / len(test)
    assert res.predicted_test_acc == pytest.approx(want)
    assert 0 < want < 1  # the training set leaves some sums unseen


def test_a_random_representation_has_rqi_near_0():
    reps = torch.randn(P, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    train, test = _split(P, 50)
    res = representation_quality(reps, train, test, modulus=None)
    assert res.rqi < 0.05 and res.predicted_test_acc < 0.1


@pytest.mark.parametrize("modulus", [None, 7])
def test_counts_match_brute_force(modulus):
    gen = torch.Generator().manual_seed(1)
    reps = torch.arange(7, dtype=torch.float64)[:, None].repeat(1, 2)
    reps[3] += torch.randn(2, generator=gen, dtype=torch.float64)  # breaks some quadruples
    pairs = torch.cat([_all_pairs(7), _all_pairs(7).flip(1)])  # both orders, as in a task
    got = parallelogram_counts(reps, pairs, modulus=modulus, delta=0.5)
    assert got == _brute(reps, pairs, modulus, 0.5)
    assert 0 < got[1] < got[0]


def test_over_all_pairs_ignores_the_training_set():
    reps = torch.randn(P, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a, b = _split(P, 20, seed=0), _split(P, 40, seed=1)
    ra = representation_quality(reps, *a, modulus=None, over="all")
    rb = representation_quality(reps, *b, modulus=None, over="all")
    assert ra.rqi == rb.rqi and ra.n_quadruples == _brute(reps, _all_pairs(P), None, 0.0)[0]


def test_shipped_mainline_embedding_has_no_parallelograms():
    """W_E of the grokked transformer is Fourier (a circle per key frequency), not linear:
    no quadruple is a parallelogram, so the only test pairs reached are those whose swap
    is a training pair (E_a + E_b is symmetric)."""
    from grok_interp.analyses.representation import representation_over_training
    from grok_interp.report import analyze
    from grok_interp.runs import load_run

    mainline = Path(__file__).resolve().parents[1] / "checkpoints" / "mainline.pt"
    run = load_run(mainline)
    res = analyze(mainline).representation
    assert res.rqi == 0.0 and res.n_quadruples > 40_000 and res.measured_test_acc == 1.0
    pairs = run.task.pairs()
    train = {tuple(x) for x in pairs[run.train_idx].tolist()}
    test = pairs[run.test_idx].tolist()
    swapped = sum((b, a) in train for a, b in test) / len(test)
    assert res.predicted_test_acc == pytest.approx(swapped)
    frame = representation_over_training(run, steps=[0, run.epoch])
    assert list(frame["rqi"]) == [0.0, 0.0]
    assert frame["predicted_test_acc"].iloc[-1] == pytest.approx(res.predicted_test_acc)
    assert frame["test_acc"].iloc[-1] == pytest.approx(res.measured_test_acc)
