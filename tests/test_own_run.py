"""A Run built from one's own snapshots with the losses alone (no accuracies), as the
README invites: every over-training analysis, ``over_training`` and ``grok-interp analyze
--over-training`` take it, the accuracies missing (NaN) where nothing recorded them."""

import math

import pytest

from grok_interp import tl
from grok_interp.analyses.circuit_density import circuit_density_over_training
from grok_interp.analyses.curves import over_training
from grok_interp.analyses.representation import representation_over_training
from grok_interp.cli import main
from grok_interp.runs import load_run, model_from_run
from grok_interp.snapshots import run_from_snapshots

MAINLINE = "checkpoints/mainline.pt"
STEPS = [0, 1000, 8000, 12000, 40000]


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The mainline's snapshots with its losses only, as other code would hand them."""
    mainline = load_run(MAINLINE)
    states = [tl.hooked_state_dict(model_from_run(mainline, e)) for e in STEPS]
    history = {k: mainline.history[k] for k in ("epoch", "train_loss", "test_loss")}
    out = tmp_path_factory.mktemp("own") / "own.pt"
    run = run_from_snapshots(states, STEPS, mainline.task, mainline.train_idx,
                             history=history, out=out)  # fmt: skip
    return run, out


def test_representation_over_training_without_accuracies(own):
    frame = representation_over_training(own[0], steps=STEPS[1:3])
    assert frame["test_acc"].isna().all() and frame["rqi"].notna().all()


def test_circuit_density_over_training_without_accuracies(own):
    frame = circuit_density_over_training(own[0], steps=STEPS[:2], n_points=3, n=4)
    assert frame["train_acc"].isna().all() and frame["test_acc"].isna().all()


def test_over_training_without_accuracies(own):
    res = over_training(own[0], density_steps=2, density_points=3)
    assert res.progress is not None and res.representation is not None
    assert not math.isnan(res.progress["test_loss"].iloc[-1])
    for _, _, fig in res.figures():
        assert fig.data


def test_cli_analyze_over_training_writes_the_page(own, tmp_path, capsys):
    page = tmp_path / "page"
    assert main(["analyze", str(own[1]), "--over-training", "--out", str(page)]) == 0
    assert (page / "index.html").exists()
    assert "Traceback" not in capsys.readouterr().err
