"""Representation quality (Liu et al. 2022): known answers on constructed representations,
checked against a brute-force count, and a real checkpoint."""

import itertools
import math
from pathlib import Path

import pytest
import torch

from grok_interp.analyses.representation import (
    circle_index,
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


def test_shipped_mainline_embedding_has_no_parallelograms(mainline_report):
    """W_E of the grokked transformer is Fourier (a circle per key frequency), not linear:
    no quadruple is a parallelogram, so the only test pairs reached are those whose swap
    is a training pair (E_a + E_b is symmetric)."""
    from grok_interp.analyses.representation import representation_over_training
    from grok_interp.runs import load_run

    mainline = Path(__file__).resolve().parents[1] / "checkpoints" / "mainline.pt"
    run = load_run(mainline)
    res = mainline_report.representation
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


def _circles(p, freqs, d, seed=0):
    """Exact circles: E_i = sum_k u_k cos(w_k i) + v_k sin(w_k i), the u_k, v_k orthonormal
    directions of R^d (a random rotation)."""
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))  # fmt: skip
    i = torch.arange(p, dtype=torch.float64)
    emb = torch.zeros(p, d, dtype=torch.float64)
    for n, k in enumerate(freqs):
        w = 2 * math.pi * k * i / p
        emb += torch.outer(torch.cos(w), q[2 * n]) + torch.outer(torch.sin(w), q[2 * n + 1])
    return emb


def test_rqi_mod_p_cannot_reach_1_and_the_circle_index_can():
    """Sums mod p: the exactly linear representation is not all parallelograms (E_i + E_j
    would have to be a function of (i + j) mod p, which only a constant is), exact circles
    score RQI ~0 yet circle index 1 at their frequencies, a random embedding ~0 on both."""
    p = 31
    pairs = _all_pairs(p)
    lin = torch.arange(p, dtype=torch.float64)[:, None]
    res = representation_quality(lin, pairs, pairs[:0], modulus=p)
    assert 0.5 < res.rqi < 0.7  # exact, yet far from 1
    circ = _circles(p, [3, 7], 16)
    res = representation_quality(circ, pairs, pairs[:0], modulus=p)
    assert res.rqi < 0.05
    assert set(res.key_freqs) == {3, 7} and res.circle_per_freq == (1.0, 1.0)
    assert res.circle_index == 1.0 and any("circle parallelogram" in n for n in res.notes())
    assert representation_quality(lin, pairs, pairs[:0], modulus=None).circle_index is None


def test_circle_index_of_a_random_embedding_is_near_0():
    p = 113
    reps = torch.randn(p, 128, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    train, _ = _split(p, 2000)
    per = circle_index(reps, train, [1, 17, 40, 56])
    assert max(per) < 0.03
    assert circle_index(_circles(p, [17, 40], 128), train, [17, 40]) == [1.0, 1.0]


def test_default_delta_and_standardisation_on_a_nearly_linear_representation():
    """p = 4, every pair: P_0 = {(0,2,1,1), (0,3,1,2), (1,3,2,2)}. E = s [0, 1, 2, 3 + x]
    breaks the last two by x in each dimension, x / std(E) once standardised (Bessel's
    std, torch.std as in the authors' code), whatever the scale s: RQI is 1 when that is
    at most 0.1 (the authors' mean(Delta^2) < 0.01, whatever the number d of repeated
    dimensions: the default delta's sqrt(d)), else 1/3. x = 0.1 gives 0.0757, x = 0.5
    gives 0.335."""
    pairs = _all_pairs(4)

    def rqi(x, scale, d, **kw):
        col = scale * torch.tensor([0.0, 1.0, 2.0, 3.0 + x], dtype=torch.float64)
        return representation_quality(col[:, None].repeat(1, d), pairs, pairs[:0],
                                      modulus=None, **kw).rqi  # fmt: skip

    for x, want in ((0.1, 1.0), (0.5, 1 / 3)):
        for d in (1, 4):
            for scale in (0.01, 1.0, 100.0):  # standardised: the scale does not matter
                assert rqi(x, scale, d) == pytest.approx(want), (x, d, scale)
    # x = 0.1 is a parallelogram in 4 dimensions only through delta's sqrt(d)
    assert rqi(0.1, 1.0, 4, delta=0.1) == pytest.approx(1 / 3)
    # and x = 0.5 at scale 0.01 only without standardising (raw |Delta| = 0.005)
    assert rqi(0.5, 0.01, 1, standardise=False) == 1.0


def test_circle_index_over_training_on_the_shipped_runs():
    """The mainline's circle index at the key frequencies of its final W_E rises with
    grokking, where its RQI stays 0."""
    from grok_interp.analyses.representation import representation_over_training
    from grok_interp.runs import load_run

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    run = load_run(root / "mainline.pt")
    frame = representation_over_training(run, steps=[0, 7000, 10000, run.epoch])
    ci = frame["circle_index"].tolist()
    assert ci[0] < 0.03 and ci[1] < 0.2 and ci[2] > 0.95 and ci[3] > 0.95
    assert (frame["rqi"] == 0).all()
    seed1 = representation_over_training(load_run(root / "seed1.pt"), steps=[0, 10000])
    assert seed1["circle_index"].iloc[0] < 0.03 < 0.9 < seed1["circle_index"].iloc[1]
