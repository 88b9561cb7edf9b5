"""The trainer: grokking, determinism, resume equivalence, batching, regularisers."""

import numpy as np
import pytest
import torch

from grok_interp.models import build_model, preset
from grok_interp.runs import TrainConfig, load_run
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, default_stack, train, train_many

from .conftest import TINY


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

    def kill(epoch, model, run):
        if epoch == 15:  # after the snapshot at 10 was saved
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_spec(**kw), out=path, callbacks=[kill], progress=False)
    half = load_run(path)
    assert half.epoch == 10
    resumed = train(half, out=path, progress=False)
    _assert_equal_weights(resumed.weights, full.weights)
    assert resumed.history == full.history
    assert sorted(load_run(path).snapshots) == [0, 10, 20, 30]


def test_fast_and_plain_paths_agree():
    spec = _spec(epochs=300, eval_every=50, frac_train=0.5)
    fast = train(spec, step="fast", progress=False).history
    plain = train(spec, step="plain", progress=False).history
    np.testing.assert_allclose(fast["train_loss"], plain["train_loss"], rtol=2e-2)
    np.testing.assert_allclose(fast["test_loss"], plain["test_loss"], rtol=2e-2)


def test_batched_matches_sequential():
    specs = [_spec(seed=s, lr=lr) for s, lr in [(0, 1e-3), (1, 3e-3), (2, 2e-3)]]
    together = train_many(specs, progress=False)
    for spec, run in zip(specs, together, strict=False):
        alone = train(spec, progress=False)
        np.testing.assert_allclose(
            run.history["train_loss"], alone.history["train_loss"], rtol=1e-3
        )
        assert torch.equal(run.train_idx, alone.train_idx)


def test_stack_groups_do_not_change_results():
    specs = [_spec(seed=s, epochs=40) for s in range(3)]
    one_stack = train_many(specs, progress=False)
    for stack in (1, 2):
        grouped = train_many(specs, progress=False, stack=stack)
        for a, b in zip(one_stack, grouped, strict=True):
            np.testing.assert_allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-4)
            torch.testing.assert_close(a.weights, b.weights, rtol=1e-3, atol=1e-5)


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


def test_batched_needs_same_shapes():
    other = RunSpec(task=Task(p=11), model=preset("small"), train=_spec().train)
    with pytest.raises(ValueError, match="one task, model shape"):
        train_many([_spec(), other], progress=False)


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
