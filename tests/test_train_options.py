"""The training options from the newer work on grokking (StableMax, ⊥Grad, Grokfast-EMA,
float64, the stability record): each against an optimizer step written out by hand on a
tiny model, each resumed bit for bit, and refused where it does not apply."""

import pytest
import torch

from grok_interp import tl
from grok_interp.runs import TrainConfig, load_run, model_from_run
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train

from .conftest import TINY, interrupted

TASK = Task(p=11)
LR = 0.05


def _spec(**kw):
    cfg = dict(epochs=1, eval_every=1, snapshot_every=1, lr=LR, warmup=0, frac_train=0.5,
               weight_decay=0.0)  # fmt: skip
    cfg.update(kw)
    return RunSpec(task=TASK, model=TINY, seed=0, train=TrainConfig(**cfg))


def _grads(run, weights, loss_fn, dtype=torch.float32):
    """The loss's gradient by name at ``weights`` (a run's snapshot layout), with the
    hand-written ``loss_fn(logits, labels)``."""
    model = model_from_run(run, 0)
    model = model.double() if dtype == torch.float64 else model
    with torch.no_grad():
        for name, p in tl.trainable(model):
            p.copy_(weights[name])
    params = tl.trainable(model)
    logits = model(TASK.tokens()[run.train_idx])[:, -1]
    loss = loss_fn(logits.double(), TASK.labels()[run.train_idx])
    grads = torch.autograd.grad(loss, [p for _, p in params])
    return {n: g.detach().double() for (n, _), g in zip(params, grads, strict=True)}


def _softmax_ce(logits, labels):
    return -(logits.log_softmax(-1).gather(1, labels[:, None])).mean()


def _stablemax_ce(logits, labels):
    """Prieto et al.'s StableMax by hand: s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)."""
    s = torch.where(logits >= 0, logits + 1, 1 / (1 - logits))
    return -torch.log(s.gather(1, labels[:, None])[:, 0] / s.sum(-1)).mean()


def _adamw_first_step(w, g, lr=LR, betas=(0.9, 0.98), eps=1e-8):
    """torch's AdamW at step 1 without weight decay: m_hat = g, v_hat = g^2."""
    m_hat = (1 - betas[0]) * g / (1 - betas[0])
    v_hat = (1 - betas[1]) * g * g / (1 - betas[1])
    return w - lr * m_hat / (v_hat.sqrt() + eps)


def _initial(run):
    return {k: v.double() for k, v in run.snapshots[0].items()}


def _close(actual, expected, atol):
    for name, e in expected.items():
        torch.testing.assert_close(actual[name].double(), e, rtol=0, atol=atol, msg=name)


def test_stablemax_step_by_hand():
    run = train(_spec(loss="stablemax", sgd=True), progress=False)
    w0 = _initial(run)
    g = _grads(run, w0, _stablemax_ce)
    _close(run.weights, {n: w0[n] - LR * g[n] for n in g}, atol=1e-6)
    # the hand step is StableMax's: the softmax cross-entropy's step lands elsewhere
    g_ce = _grads(run, w0, _softmax_ce)
    assert max((g[n] - g_ce[n]).abs().max() for n in g) * LR > 1e-5
    assert run.history["train_objective"][-1] == pytest.approx(
        float(_stablemax_ce(model_from_run(run)(TASK.tokens()[run.train_idx])[:, -1].double(),
                            TASK.labels()[run.train_idx])), rel=1e-6)  # fmt: skip


@pytest.mark.parametrize("sgd", [False, True])
def test_orthograd_step_by_hand(sgd):
    """⊥Grad: g_perp = g - (w.g / w.w) w rescaled to |g|, per tensor, then AdamW/SGD."""
    run = train(_spec(orthograd=True, sgd=sgd), progress=False)
    w0 = _initial(run)
    g = _grads(run, w0, _softmax_ce)
    expected = {}
    for n, gn in g.items():
        w = w0[n]
        perp = gn - (w * gn).sum() / ((w * w).sum() + 1e-30) * w  # the authors' 1e-30
        perp = perp * gn.norm() / (perp.norm() + 1e-30)
        expected[n] = w - LR * perp if sgd else _adamw_first_step(w, perp)
    # AdamW's first step is lr g / (|g| + eps): for |g| ~ 1e-7 float32 rounding of g
    # moves it by ~5e-6
    atol = 2e-6 if sgd else 2e-5
    _close(run.weights, expected, atol=atol)
    # the projection matters: the unprojected step differs by more than the tolerance
    plain = {n: w0[n] - LR * g[n] if sgd else _adamw_first_step(w0[n], g[n]) for n in g}
    assert max((plain[n] - expected[n]).abs().max() for n in g) > 5 * atol


def test_grokfast_two_steps_by_hand():
    """Grokfast-EMA around SGD: step 1 uses g0 + lamb g0 (the EMA starts at the first
    gradient); step 2 uses g1 + lamb (alpha g0 + (1 - alpha) g1)."""
    alpha, lamb = 0.8, 2.0
    run = train(_spec(epochs=2, sgd=True, grokfast_alpha=alpha, grokfast_lamb=lamb),
                progress=False)  # fmt: skip
    w0 = _initial(run)
    g0 = _grads(run, w0, _softmax_ce)
    w1 = {n: w0[n] - LR * (1 + lamb) * g0[n] for n in g0}
    _close(run.snapshots[1], w1, atol=2e-6)
    g1 = _grads(run, w1, _softmax_ce)
    ema = {n: alpha * g0[n] + (1 - alpha) * g1[n] for n in g0}
    _close(run.weights, {n: w1[n] - LR * (g1[n] + lamb * ema[n]) for n in g0}, atol=4e-6)
    torch.testing.assert_close(run.optimizer["grokfast"]["ema"]["0"].double(),
                               ema["embed.W_E"], rtol=0, atol=1e-6)  # fmt: skip


def test_float64_step_by_hand():
    """float64: the AdamW step in float64 agrees to 1e-12 (a float32 run: ~1e-8 off), and
    the Run keeps float64 weights."""
    run = train(_spec(precision="float64"), progress=False)
    assert all(v.dtype == torch.float64 for v in run.weights.values())
    w0 = _initial(run)
    g = _grads(run, w0, _softmax_ce, dtype=torch.float64)
    expected = {n: _adamw_first_step(w0[n], g[n]) for n in g}
    _close(run.weights, expected, atol=1e-12)
    single = train(_spec(), progress=False)
    assert max((single.weights[n].double() - expected[n]).abs().max() for n in g) > 1e-10


def test_stability_recorded_by_hand():
    """collapsed: the share of training rows whose sum of exp(logit - max) is exactly 1 in
    the run's precision; nlm_alignment: cos(-grad, weights) over the trainable tensors."""
    run = train(_spec(epochs=3, lr=0.5, record_stability=True), progress=False)
    model = model_from_run(run)
    logits = model(TASK.tokens()[run.train_idx])[:, -1]
    total = torch.exp(logits - logits.max(-1, keepdim=True).values).sum(-1)
    assert run.history["collapsed"][-1] == float((total == 1).double().mean())
    g = _grads(run, run.weights, _softmax_ce)
    w = torch.cat([run.weights[n].double().flatten() for n in g])
    gv = torch.cat([g[n].flatten() for n in g])
    expected = float(-(w @ gv) / (w.norm() * gv.norm()))
    assert run.history["nlm_alignment"][-1] == pytest.approx(expected, abs=1e-6)
    assert len(run.history["collapsed"]) == len(run.history["epoch"]) == 4


def test_collapse_recorded_when_training_collapses():
    """Past 100% training accuracy without weight decay, float32 softmax collapses on a
    share of the training pairs (measured 18% at 200 epochs) and the descent direction
    turns towards the weights (cos 0.26, from -0.02); in float64 fewer collapse (5%)."""
    kw = dict(epochs=200, lr=0.03, record_stability=True, eval_every=50, snapshot_every=200)
    h32 = train(_spec(**kw), progress=False).history
    h64 = train(_spec(precision="float64", **kw), progress=False).history
    assert h32["train_acc"][-1] == h64["train_acc"][-1] == 1.0
    assert h32["collapsed"][0] == 0 and h32["collapsed"][-1] > 0.1
    assert h64["collapsed"][-1] < h32["collapsed"][-1]  # measured 0.05 vs 0.18
    assert h32["nlm_alignment"][-1] > 0.2 > h32["nlm_alignment"][0]


OPTIONS = [
    {"loss": "stablemax"},
    {"orthograd": True},
    {"grokfast_lamb": 2.0, "grokfast_alpha": 0.9},
    {"precision": "float64"},
    {"orthograd": True, "loss": "stablemax", "record_stability": True, "grokfast_lamb": 1.0},
]


@pytest.mark.parametrize("kw", OPTIONS, ids=lambda kw: "+".join(kw))
def test_resume_is_bit_for_bit(tmp_path, kw):
    kw = dict(epochs=20, eval_every=5, snapshot_every=10, lr=3e-3, **kw)
    full = train(_spec(**kw), progress=False)
    path = tmp_path / "run.pt"
    half = interrupted(_spec(**kw), path)  # at 15, after the snapshot at 10 was saved
    assert half.epoch == 10 and half.train == full.train
    resumed = train(half, out=path, progress=False)
    for k in full.weights:
        assert torch.equal(resumed.weights[k], full.weights[k]), k
    assert resumed.history == full.history


def test_options_refused_where_they_do_not_apply():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="mse")
    with pytest.raises(ValueError, match="precision must be"):
        TrainConfig(precision="float16")
    with pytest.raises(ValueError, match="Grokfast needs"):
        TrainConfig(grokfast_alpha=1.0)
    from grok_interp.config import ToyPreset

    spec = RunSpec(task=TASK, model=ToyPreset(), train=TrainConfig(epochs=1, orthograd=True))
    with pytest.raises(ValueError, match="orthograd: .*trainer does not support them"):
        train(spec, progress=False)


def test_cli_flags_and_sweep_points(tmp_path):
    """The options are flags of ``grok-interp train`` and fields of a sweep's points; the
    runs they write carry them and train as the same spec built in Python."""
    from grok_interp.cli import main
    from grok_interp.sweeps import Grid, run_sweep

    out = tmp_path / "r.pt"
    args = ["train", "--p", "11", "--preset", "small", "--epochs", "4", "--eval-every", "2",
            "--snapshot-every", "2", "--frac-train", "0.5", "--loss", "stablemax",
            "--orthograd", "1", "--grokfast-lamb", "2", "--precision", "float64",
            "--record-stability", "true", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    cfg = load_run(out).train
    assert (cfg.loss, cfg.orthograd, cfg.grokfast_lamb, cfg.precision, cfg.record_stability) \
        == ("stablemax", True, 2.0, "float64", True)  # fmt: skip
    assert {"collapsed", "nlm_alignment", "train_objective"} <= set(load_run(out).history)
    assert main([*args[:-3], "--loss", "mse", "--out", str(tmp_path / "x.pt"), "--quiet"]) == 2

    base = _spec(epochs=4, eval_every=2, snapshot_every=2, lr=3e-3)
    grid = Grid(values={"train.grokfast_lamb": [0.0, 2.0], "train.orthograd": [True]},
                base=base)  # fmt: skip
    run_sweep(grid, tmp_path / "sweep", stack=1, progress=False)
    for i, spec in enumerate(grid.specs()):
        got = load_run(tmp_path / "sweep" / "runs" / f"{i:04d}.pt")
        alone = train(spec, progress=False)
        assert got.train.orthograd and got.train.grokfast_lamb == [0.0, 2.0][i]
        for k in alone.weights:
            assert torch.equal(got.weights[k], alone.weights[k]), (i, k)
