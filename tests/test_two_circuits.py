"""Varma et al. (2023)'s two-circuit simulation: Figure 2's three behaviours from Table 1,
Theorem D.4 at convergence, and the gradients against autograd."""

import math

import pytest
import torch

from grok_interp.theory.two_circuits import (
    TABLE_1,
    TwoCircuits,
    converge,
    figure,
    losses,
    simulate,
    theorem_d4_ratio,
)


@pytest.fixture(scope="module")
def runs():
    return {k: simulate(cfg, steps=10_000, every=100) for k, cfg in TABLE_1.items()}


def _first(frame, col, hit):
    rows = frame[hit(frame[col])]
    return rows["step"].iloc[0] if len(rows) else None


def test_a_groks(runs):
    f = runs["a"]
    fit, grok = _first(f, "train_acc", lambda c: c == 1), _first(f, "test_acc", lambda c: c == 1)
    assert fit <= 100 and grok >= 2000  # train fits at once, test accuracy comes much later
    early = f[f["step"] == 1000].iloc[0]
    assert early["train_loss"] < 0.2 and early["test_loss"] > 5  # memorised, not generalised
    end = f.iloc[-1]
    assert end["test_loss"] < 0.1 and end["gen_logit"] > 5 * end["mem_logit"]
    assert end["param_norm"] < f["param_norm"].max() - 1  # norm falls as C_gen takes over


def test_b_never_groks(runs):
    f = runs["b"]
    assert f["test_acc"].max() == 0 and f["test_loss"].iloc[-1] > 4
    assert f["train_acc"].iloc[-1] == 1


def test_c_has_no_delay(runs):
    f = runs["c"]
    assert _first(f, "test_acc", lambda c: c == 1) <= 200
    # test loss follows train loss down from the start (no plateau at high test loss)
    assert f[f["step"] == 1000].iloc[0]["test_loss"] < 0.5


@pytest.mark.parametrize(
    "setting", [TABLE_1["a"], TABLE_1["b"], TwoCircuits(P_g=1.0, P_m=1.5, kappa=1.5, w_g2=1.0)]
)
def test_converged_weights_satisfy_theorem_d4(setting):
    u, v = converge(setting, steps=300_000)
    assert u / v == pytest.approx(theorem_d4_ratio(setting), rel=1e-3)
    assert theorem_d4_ratio(TABLE_1["a"]) == pytest.approx(8.0)  # (2/1)^(2*1.2/0.8)


def test_case_1_gives_all_weight_to_the_efficient_circuit():
    cfg = TwoCircuits(kappa=3.0, w_g2=1.0, alpha=0.005)
    u, v = converge(cfg, steps=100_000)
    assert theorem_d4_ratio(cfg) == math.inf and u > 1 and abs(v) < 1e-2 * u


def _paper_losses(cfg, w):
    """Appendix C written out with autograd: Equations (3)-(5) as logit vectors over the
    q labels (label 0 right; on a test input C_mem picks label 1), softmax cross-entropy,
    P'_c = |w_c1 w_c2|^(1/kappa) P_c, and L_wd = P'_g^2 + P'_m^2 (Equation 6's
    alpha/q sum P'^q with ``wd_over_q``)."""
    q = cfg.n_labels
    right, wrong = torch.zeros(q, dtype=torch.float64), torch.zeros(q, dtype=torch.float64)
    right[0], wrong[1] = 1.0, 1.0
    gen, mem = w[0] * w[1], w[2] * w[3]
    train_logits = gen * right + mem * right  # (3), (4) on a training input, then (5)
    test_logits = gen * right + mem * wrong  # on a test input C_mem's label is wrong
    label = torch.tensor([0])
    train = torch.nn.functional.cross_entropy(train_logits[None], label)
    test = torch.nn.functional.cross_entropy(test_logits[None], label)
    p_g = gen.abs() ** (1 / cfg.kappa) * cfg.P_g
    p_m = mem.abs() ** (1 / cfg.kappa) * cfg.P_m
    wd = p_g**cfg.norm_q + p_m**cfg.norm_q
    return train, test, cfg.alpha * (wd / cfg.norm_q if cfg.wd_over_q else wd)


@pytest.mark.parametrize("cfg", [
    TwoCircuits(w_g1=0.7, w_g2=1.9, w_m1=-0.5, w_m2=0.8),
    TwoCircuits(norm_q=3.0, wd_over_q=True, alpha=0.1, w_g1=1.1, w_m1=0.3),
    TwoCircuits(n_labels=5, kappa=0.7, P_m=3.0, w_g1=0.4, w_g2=-0.9, w_m1=1.3, w_m2=0.6),
])  # fmt: skip
def test_losses_and_one_step_follow_appendix_c(cfg):
    w = torch.tensor([cfg.w_g1, cfg.w_g2, cfg.w_m1, cfg.w_m2], dtype=torch.float64,
                     requires_grad=True)  # fmt: skip
    train, test, wd = _paper_losses(cfg, w)
    u, v = cfg.w_g1 * cfg.w_g2, cfg.w_m1 * cfg.w_m2
    got = losses(cfg, u, v)
    assert got == pytest.approx((train.item(), test.item(), wd.item()), rel=1e-12)
    (train + wd).backward()  # w <- w - lr dL/dw, L the train loss with its weight decay
    after = (w - cfg.lr * w.grad).detach()
    row = simulate(cfg, steps=1, every=1).iloc[-1]
    assert row["gen_logit"] == pytest.approx(float(after[0] * after[1]), rel=1e-12)
    assert row["mem_logit"] == pytest.approx(float(after[2] * after[3]), rel=1e-12)
    start = simulate(cfg, steps=0, every=1).iloc[0]
    p_g, p_m = abs(u) ** (1 / cfg.kappa) * cfg.P_g, abs(v) ** (1 / cfg.kappa) * cfg.P_m
    assert start["param_norm"] == pytest.approx(math.sqrt(p_g**2 + p_m**2), rel=1e-12)
    assert start["train_acc"] == float(u + v > 0) and start["test_acc"] == float(u > v)


def test_bad_settings_and_the_figure(runs):
    with pytest.raises(ValueError, match="positive"):
        TwoCircuits(kappa=0.0)
    with pytest.raises(ValueError, match="n_labels"):
        TwoCircuits(n_labels=1)
    names = {t.name for t in figure(runs).data}
    assert names == {"train_loss", "test_loss", "gen_logit", "mem_logit", "param_norm"}
