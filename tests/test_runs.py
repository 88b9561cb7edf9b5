"""Run files: round trip, atomic save, safe load, and every error path."""

import os
import pickle

import pytest
import torch

from grok_interp.runs import (
    CheckpointError,
    TrainConfig,
    atomic_save,
    load_model,
    load_run,
    save_run,
)
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train

from .conftest import TINY

SPEC = RunSpec(
    task=Task(p=7),
    model=TINY,
    seed=3,
    train=TrainConfig(epochs=20, eval_every=5, snapshot_every=10),
)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "run.pt"
    train(SPEC, out=path, progress=False)
    return path


def test_round_trip(run_file):
    run = load_run(run_file)
    assert run.task == SPEC.task and run.model == SPEC.model and run.train == SPEC.train
    assert run.seed == 3 and run.epoch == 20 and sorted(run.snapshots) == [0, 10, 20]
    assert run.history["epoch"] == [0, 5, 10, 15, 20]
    model, task = load_model(run_file)
    assert task == SPEC.task
    torch.testing.assert_close(model.W_E, run.weights["embed.W_E"])
    early, _ = load_model(run_file, step=10)
    torch.testing.assert_close(early.W_E, run.snapshots[10]["embed.W_E"])


def test_loads_with_weights_only(run_file):
    obj = torch.load(run_file, weights_only=True)
    assert obj["format"] == "grok_interp.run" and obj["version"] == 1


def test_missing_snapshot(run_file):
    with pytest.raises(CheckpointError, match="snapshots exist at"):
        load_model(run_file, step=7)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "nope.pt")


def test_truncated_file(run_file, tmp_path):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(run_file.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_run(bad)


def test_garbage_file(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="could not be read"):
        load_model(bad)


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as f:
        pickle.dump({"x": Evil()}, f)
    with pytest.raises(CheckpointError, match="refused on purpose"):
        load_model(bad)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"hello": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="neither a grok_interp run nor a known"):
        load_model(path)
    with pytest.raises(CheckpointError, match="not a grok_interp Run file"):
        load_run(path)


def test_unsupported_version(run_file, tmp_path):
    obj = torch.load(run_file, weights_only=True)
    obj["version"] = 99
    path = tmp_path / "future.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="version 99 is not supported"):
        load_run(path)


def test_atomic_save_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    atomic_save({"a": 1}, path)

    def boom(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"a": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary left behind


def test_save_run_round_trip_in_memory(tmp_path):
    run = train(SPEC, progress=False)
    save_run(run, tmp_path / "r.pt")
    assert load_run(tmp_path / "r.pt").history == run.history


def test_run_reprs_are_short_summaries():
    from pathlib import Path

    run = load_run(Path(__file__).resolve().parents[1] / "checkpoints" / "seed1.pt")
    text = repr([run, run])
    assert len(text) < 400 and "seed 1" in text and "epoch 40000" in text
    page = run._repr_html_()
    assert "<table>" in page and "snapshots" in page and len(page) < 2000


def test_a_bundle_with_a_config_object_is_called_intact_and_told_what_to_do(tmp_path):
    """torch.save of a dict holding a config object: torch's message carries terminal codes
    and the file is sound, not 'truncated or corrupt'."""
    bundle = tmp_path / "bundle.pt"
    torch.save({"config": TrainConfig(), "state_dict": {"w": torch.zeros(2)}}, bundle)
    with pytest.raises(CheckpointError) as caught:
        load_run(bundle)
    msg = str(caught.value)
    assert "\x1b" not in msg and "truncated" not in msg and "corrupt" not in msg
    assert "intact" in msg and "grok_interp.config.TrainConfig" in msg
    assert "torch.load(path, weights_only=False)" in msg and msg.endswith(")")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"\(UnpicklingError: Unsupported operand \d+\)"):
        load_run(garbage)
