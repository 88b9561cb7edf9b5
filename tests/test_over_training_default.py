"""A Run with snapshots shows every paper's measures over training without being asked:
``analyze()`` and ``grok-interp analyze`` compute them when the Run holds two snapshots or
more, ``over_training=False`` / ``--no-over-training`` leave them out, and a bare model
(which has no training to show) is not asked for them."""

import pytest

from grok_interp.cli import main
from grok_interp.models import preset
from grok_interp.report import analyze
from grok_interp.runs import TrainConfig, load_run, model_from_run
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("ot") / "run.pt"
    spec = RunSpec(task=Task(p=13), model=preset("small", d_model=32, d_head=8, d_mlp=64),
                   train=TrainConfig(epochs=60, lr=3e-3, frac_train=0.5, eval_every=20,
                                     snapshot_every=20))  # fmt: skip
    train(spec, out=path, progress=False)
    return path


def test_analyze_shows_training_by_default(tiny_run):
    assert len(load_run(tiny_run).snapshots) >= 2
    assert "over_training" in analyze(tiny_run).results
    assert "over_training" not in analyze(tiny_run, over_training=False).results


def test_a_bare_model_is_not_asked_for_training(tiny_run):
    run = load_run(tiny_run)
    report = analyze(model_from_run(run), run.task)
    assert "over_training" not in report.results and "over_training" not in report.not_run


def test_cli_page_shows_training_unless_told_not_to(tiny_run, tmp_path):
    assert main(["analyze", str(tiny_run), "--out", str(tmp_path / "a")]) == 0
    assert 'id="over_training' in (tmp_path / "a" / "index.html").read_text()
    assert main(["analyze", str(tiny_run), "--no-over-training", "--out",
                 str(tmp_path / "b")]) == 0  # fmt: skip
    assert 'id="over_training' not in (tmp_path / "b" / "index.html").read_text()
