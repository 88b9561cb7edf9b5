"""The trainer: grokking, determinism, resume equivalence, batching, regularisers."""

import numpy as np
import pytest
import torch

from grok_interp.models import build_model, preset
from grok_interp.runs import TrainConfig, load_run
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, default_stack, train, train_many

from .conftest import TINY, interrupted


def _spec(seed=0, **kw):
    cfg = dict(epochs=30, eval_every=5, snapshot_every=10, lr=3e-3, frac_train=0.5)
    cfg.update(kw)
    return RunSpec(task=Task(p=11), model=TINY, seed=seed, train=TrainConfig(**cfg))


def _assert_equal_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_deterministic_for_a_seed():
    _assert_equal_weights(
        train(_spec(), progress=False).weights, train(_spec(), progress=False).weights
    )
    assert not torch.equal(
        train(_spec(seed=1), progress=False).weights["embed.W_E"],
        train(_spec(), progress=False).weights["embed.W_E"],
    )


@pytest.mark.parametrize("kw", [{}, {"dropout": 0.2}, {"l1": 1e-4, "weight_decay": 0.0}])
def test_resume_is_bit_for_bit(tmp_path, kw):
    full = train(_spec(**kw), progress=False)
    path = tmp_path / "run.pt"
    half = interrupted(_spec(**kw), path)  # at 15, after the snapshot at 10 was saved
    assert half.epoch == 10
    resumed = train(half, out=path, progress=False)
    _assert_equal_weights(resumed.weights, full.weights)
    assert resumed.history == full.history
    assert sorted(load_run(path).snapshots) == [0, 10, 20, 30]


@pytest.mark.parametrize("kw", [{}, {"l1": 1e-4}])
def test_fast_and_plain_paths_agree(kw):
    """The two forwards are one function summed in another order (test_fast): after 40
    epochs the weights were measured 4e-7 apart, within the stacking bound's reasoning.
    (With dropout the paths draw their masks over different shapes, so they differ.)"""
    spec = _spec(epochs=40, **kw)
    fast = train(spec, step="fast", progress=False)
    plain = train(spec, step="plain", progress=False)
    torch.testing.assert_close(fast.weights, plain.weights, rtol=0, atol=STACK_ATOL)
    np.testing.assert_allclose(fast.history["train_loss"], plain.history["train_loss"], rtol=1e-4)


MIXED = [  # one spec per way a member may differ from the others
    {},
    {"dropout": 0.5},
    {"weight_decay": 0.1, "lr": 1e-3},
    {"warmup": 0, "betas": (0.8, 0.95)},
    {"l1": 1e-4, "weight_decay": 0.0},
    {"n_train": 40, "frac_train": None},
    {"eval_every": 10, "snapshot_every": 20},
]


def _mixed_specs():
    return [_spec(seed=i, epochs=40, **kw) for i, kw in enumerate(MIXED)]


def test_mixed_group_members_train_as_alone():
    """Each member of a mixed group ends as it would alone, bit for bit, when members
    step separately (stack=1): dropout, spacing and training-set size are its own."""
    specs = _mixed_specs()
    together = train_many(specs, progress=False, stack=1)
    for spec, run in zip(specs, together, strict=True):
        alone = train(spec, progress=False)
        assert run.train == spec.train and torch.equal(run.train_idx, alone.train_idx)
        _assert_equal_weights(run.weights, alone.weights)
        assert run.history == alone.history
        assert run.snapshots.keys() == alone.snapshots.keys()
        for e in run.snapshots:
            _assert_equal_weights(run.snapshots[e], alone.snapshots[e])


# Stacked members run their GEMMs as one batched GEMM, which sums in another order than
# the single GEMM: each float32 product differs by a few ulps (~1e-7 relative). Adam's
# step is a ratio m / sqrt(v) of the gradients, so such a relative difference moves each
# update by about lr x 1e-7 per epoch; over 40 epochs of the tiny preset the weights were
# measured 2e-7 to 2e-6 apart. The bound is 10x that; training each member with another's
# dropout (the bug this guards) moved them by 5e-2.
STACK_ATOL = 2e-5


def test_stacked_members_match_alone_within_rounding():
    specs = _mixed_specs()
    stacked = train_many(specs, progress=False)
    for spec, run in zip(specs, stacked, strict=True):
        alone = train(spec, progress=False)
        torch.testing.assert_close(run.weights, alone.weights, rtol=0, atol=STACK_ATOL)
        assert run.snapshots.keys() == alone.snapshots.keys()
        assert run.history["epoch"] == alone.history["epoch"]
        np.testing.assert_allclose(
            run.history["train_loss"], alone.history["train_loss"], rtol=1e-4
        )


def test_stack_groups_do_not_change_results():
    specs = [_spec(seed=s, epochs=40) for s in range(3)]
    one_stack = train_many(specs, progress=False)
    for stack in (1, 2):
        grouped = train_many(specs, progress=False, stack=stack)
        for a, b in zip(one_stack, grouped, strict=True):
            torch.testing.assert_close(a.weights, b.weights, rtol=0, atol=STACK_ATOL)


def test_n_train_alone_just_works_and_contradictions_fail_early():
    cfg = TrainConfig(n_train=25)
    assert cfg.train_size == {"n_train": 25}
    assert TrainConfig().train_size == {"frac_train": 0.3}
    run = train(
        RunSpec(task=Task(p=11), model=TINY, train=TrainConfig(n_train=25, epochs=2)),
        progress=False,
    )
    assert len(run.train_idx) == 25
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(n_train=25, frac_train=0.5)
    with pytest.raises(ValueError, match="frac_train"):
        TrainConfig(frac_train=1.5)


def test_stack_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        train_many([_spec()], progress=False, stack=0)


def test_default_stack():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    tiny = build_model(TINY, Task(p=11)).cfg
    main = build_model(preset("mainline"), Task(p=113)).cfg
    assert default_stack(tiny, 60, cpu) >= 5  # small models stack on the CPU
    assert default_stack(main, 3830, cpu) == 1  # the mainline runs one model per forward
    assert default_stack(main, 3830, cuda) >= 5


def test_other_shapes_train_in_loops_of_their_own():
    other = RunSpec(task=Task(p=11), model=preset("small"), train=_spec().train)
    runs = train_many([_spec(), other], progress=False)
    _assert_equal_weights(runs[1].weights, train(other, progress=False).weights)
    assert runs[1].model == preset("small")


def test_plain_step_for_two_layers():
    spec = RunSpec(
        task=Task(p=7),
        model=preset("small", n_layers=2),
        train=TrainConfig(epochs=20, eval_every=10, frac_train=0.5),
    )
    run = train(spec, progress=False)
    assert run.history["train_loss"][-1] < run.history["train_loss"][0]
    with pytest.raises(ValueError, match="2 layers"):
        train(spec, step="fast", progress=False)


def test_callbacks_record_into_history():
    def weight_norm(epoch, model, run):
        return {"w_norm": sum(p.square().sum().item() for p in model.parameters())}

    run = train(_spec(), callbacks=[weight_norm], progress=False)
    assert len(run.history["w_norm"]) == len(run.history["epoch"])
    assert run.history["w_norm"][-1] != run.history["w_norm"][0]


def test_warmup_starts_at_zero_learning_rate():
    run = train(_spec(epochs=1, eval_every=1, weight_decay=1.0), progress=False)
    assert run.history["train_loss"][0] == run.history["train_loss"][1]


@pytest.mark.slow
def test_small_model_groks():
    """Train accuracy reaches 1 long before test accuracy passes 0.99 (about a minute)."""
    spec = RunSpec(
        task=Task(p=31),
        model=preset("small"),
        seed=0,
        train=TrainConfig(
            epochs=GROK_EPOCHS, lr=1e-3, frac_train=GROK_FRAC, eval_every=50, snapshot_every=10**6
        ),
    )
    h = train(spec, progress=False).history
    epoch = np.array(h["epoch"])
    fit = epoch[np.array(h["train_acc"]) >= 1.0][0]
    grok = epoch[np.array(h["test_acc"]) >= 0.99][0]
    assert grok >= 4 * fit and grok - fit >= 500, (fit, grok)
    assert h["test_loss"][-1] < 1e-2


GROK_EPOCHS = 2000
GROK_FRAC = 0.6


def test_random_labels_train_on_a_seeded_relabelling_and_test_on_the_truth():
    from grok_interp.training import train_labels

    spec = _spec(epochs=200, random_labels=True, weight_decay=0.0)
    run = train(spec, progress=False)
    trained_on = train_labels(run)
    true = run.task.labels()[run.train_idx]
    assert (trained_on != true).float().mean() > 0.5  # most labels are not the true ones
    assert torch.equal(trained_on, train_labels(train(spec, progress=False)))  # seeded
    assert run.history["train_acc"][-1] == 1.0  # memorised the random labels
    assert run.history["test_acc"][-1] < 0.5  # measured on the true test labels


def test_continue_on_a_subset_of_the_training_set(tmp_path):
    from grok_interp.analyses.common import loss_acc
    from grok_interp.runs import model_from_run
    from grok_interp.training import continue_on

    parent = train(_spec(epochs=30), progress=False)
    child = continue_on(parent, n_train=20, seed=3, epochs=30, lr=2e-3)
    assert len(child.train_idx) == 20 and set(child.train_idx.tolist()) <= set(
        parent.train_idx.tolist()
    )
    assert child.train.n_train == 20 and child.train.lr == 2e-3 and not child.optimizer
    full = train(child, progress=False)
    logits = model_from_run(parent)(parent.task.tokens())[:, -1]
    idx = full.train_idx
    want = loss_acc(logits[idx], parent.task.labels()[idx])[0]
    assert full.history["train_loss"][0] == pytest.approx(want, rel=1e-5)  # starts from parent
    kept = continue_on(parent, n_train=20, seed=3, optimizer="kept")
    assert kept.optimizer["state"].keys() == parent.optimizer["state"].keys()
    # a continued run saves and resumes bit for bit like any other
    path = tmp_path / "child.pt"

    def kill(epoch, model, run):
        if epoch == 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(continue_on(parent, n_train=20, seed=3, epochs=30, lr=2e-3), out=path,
              callbacks=[kill], progress=False)  # fmt: skip
    resumed = train(load_run(path), out=path, progress=False)
    _assert_equal_weights(resumed.weights, full.weights)
    with pytest.raises(ValueError, match="n_train must lie"):
        continue_on(parent, n_train=10**6)


COMPILED = """
import torch
from grok_interp import RunSpec, Task, TrainConfig, ModelPreset, train_many
tiny = ModelPreset(d_model=32, n_heads=2, d_head=16, d_mlp=64)
cfg = TrainConfig(epochs=20, eval_every=5, snapshot_every=10, lr=3e-3, frac_train=0.5)
specs = [RunSpec(task=Task(p=11), model=tiny, seed=s, train=cfg) for s in range(3)]
eager = train_many(specs, progress=False)
compiled = train_many(specs, progress=False, compile=True)
for a, b in zip(eager, compiled, strict=True):
    torch.testing.assert_close(a.weights, b.weights, rtol=0, atol=ATOL)
print("ok")
"""


@pytest.mark.slow
def test_compiled_table_forward_trains_the_same_runs_within_rounding():
    """In a fresh process: torch.compile cannot trace the test suite's runtime type checks
    (jaxtyping + beartype wrap every function), which normal use does not have."""
    import subprocess
    import sys

    code = COMPILED.replace("ATOL", repr(STACK_ATOL))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
