"""A family added in a few lines, here, touching no other module, gets training, Run files,
bit-for-bit resume, sweeps, analyze() and the command line; a family that leaves a part
out fails when it is defined; the four families answer for their runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from torch import nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from grok_interp.cli import main
from grok_interp.config import TrainConfig
from grok_interp.families import registry
from grok_interp.families.stepwise import StepwiseFamily
from grok_interp.report import analyze
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec, load_run, read_checkpoint
from grok_interp.sweeps import Grid, run_sweep

from .conftest import full_and_resumed

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


# -- a family of a few lines: fit y = 3x + 1 on n points with one linear unit ------------
@dataclass(frozen=True, kw_only=True)
class LineTask:
    n: int = 16

    def describe(self) -> str:
        return f"a line through {self.n} points"

    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.linspace(-1, 1, self.n)[:, None]
        return x, 3 * x + 1


@dataclass(frozen=True, kw_only=True)
class LinePreset:
    bias: bool = True


class LineModel(HookedRootModule):
    def __init__(self, spec: LinePreset) -> None:
        super().__init__()
        self.lin, self.hook_out = nn.Linear(1, 1, bias=spec.bias), HookPoint()
        self.setup()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hook_out(self.lin(x))


class Line(StepwiseFamily):
    kind, task_type, preset_types, presets = "line", LineTask, (LinePreset,), {"line": LinePreset()}
    analyses, title = (), "A test family"

    def build(self, preset, task, *, seed, device):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return LineModel(preset).to(device)

    def new_run(self, spec, parent=None):
        return Run(task=spec.task, model=spec.model, train=spec.train, seed=spec.seed,
                   train_idx=torch.arange(spec.task.n))  # fmt: skip

    def test_idx(self, run):
        return torch.arange(run.task.n)

    def batches(self, run, epoch):
        return [run.task.data()]

    def loss(self, model, inputs, targets):
        return (model(inputs) - targets).double().square().mean()

    def evaluate(self, model, run, epoch, device):
        x, y = run.task.data()
        loss = float(self.loss(model, x.to(device), y.to(device)))
        acc = float(((model(x.to(device)) - y.to(device)).abs() < 0.1).double().mean())
        return {"train_loss": loss, "train_acc": acc, "test_loss": loss, "test_acc": acc}

    def report(self, model, task, run, name, options, assumed=()):
        x, y = (task or LineTask()).data()
        loss = float(self.loss(model, x, y))
        return Report(source=name, task=task or LineTask(), results={}, not_run={},
                      losses={"train": (loss, 1.0)}, setup_differences=(), model=model,
                      family=self.kind)  # fmt: skip

    def default_spec(self):
        cfg = TrainConfig(epochs=20, lr=0.5, sgd=True, weight_decay=0.0, warmup=0, eval_every=5,
                          snapshot_every=5)  # fmt: skip
        return RunSpec(task=LineTask(), model=LinePreset(), train=cfg)


@pytest.fixture
def line():
    registry.register(Line)
    yield Line
    registry.unregister("line")


def test_a_new_family_trains_saves_resumes_sweeps_and_reports(line, tmp_path):
    spec = Line().default_spec()
    full, resumed = full_and_resumed(spec, 10, tmp_path / "r.pt")
    for k, v in full.weights.items():
        assert torch.equal(resumed.weights[k], v), k
    assert resumed.history == full.history and full.history["train_loss"][-1] < 1e-3
    assert read_checkpoint(tmp_path / "r.pt")["family"] == "line"
    assert isinstance(resumed.family, Line) and isinstance(resumed.task, LineTask)
    report = analyze(tmp_path / "r.pt")
    assert report.family == "line" and report.header().startswith("A test family")
    assert report.table5()["quantity"].tolist() == ["loss (train)"]
    table = run_sweep(Grid(values={"seed": [0, 1], "train.lr": [0.1, 0.5]}, base=spec),
                      tmp_path / "sweep", progress=False)  # fmt: skip
    assert len(table) == 4 and set(table["family"]) == {"line"}
    assert table.loc[(table["seed"] == 0) & (table["train.lr"] == 0.5), "final_train_loss"
                     ].item() == full.history["train_loss"][-1]  # fmt: skip


def test_a_new_family_on_the_command_line(line, tmp_path, capsys):
    out = str(tmp_path / "r.pt")
    assert main(["train", "--family", "line", "--set", "train.epochs=10", "--out", out,
                 "--quiet"]) == 0  # fmt: skip
    assert main(["train", "--resume", "--out", out, "--epochs", "20", "--quiet"]) == 0
    assert load_run(out).epoch == 20
    assert main(["train", "--resume", "--out", out, "--set", "task.n=8"]) == 2
    assert "--set task.n=8 (the run has 16)" in capsys.readouterr().err
    assert main(["analyze", out]) == 0
    assert "loss (train)" in capsys.readouterr().out
    sweep = ["sweep", "--out", str(tmp_path / "sw"), "--base", "family=line",
             "train.epochs=5", "--set", "seed=0,1", "--quiet"]  # fmt: skip
    assert main(sweep) == 0 and len(list((tmp_path / "sw" / "runs").glob("*.pt"))) == 2


def test_a_family_that_leaves_a_part_out_fails_when_defined() -> None:
    with pytest.raises(TypeError, match="leaves out .*report"):

        class NoReport(StepwiseFamily):
            kind, task_type, preset_types, presets = "x", LineTask, (LinePreset,), {}
            analyses, title = (), "x"

            def build(self, preset, task, *, seed, device): ...
            def new_run(self, spec, parent=None): ...
            def test_idx(self, run): ...
            def batches(self, run, epoch): ...
            def loss(self, model, inputs, targets): ...
            def evaluate(self, model, run, epoch, device): ...
            def default_spec(self): ...

    with pytest.raises(TypeError, match="leaves out kind"):
        type("NoKind", (StepwiseFamily,), {k: v for k, v in vars(Line).items() if k != "kind"})

    with pytest.raises(ValueError, match="exists already"):
        registry.register(type("Modular2", (Line,), {"kind": "modular"}))


def test_the_shipped_runs_name_their_family_and_load_by_one_loader() -> None:
    from grok_interp.parity import HookedRNN
    from grok_interp.runs import model_from_run

    kinds = {p.stem: load_run(p).family.kind for p in sorted(CHECKPOINTS.glob("*.pt"))}
    assert kinds["mainline"] == "modular" and kinds["parity_rnn"] == "parity"
    assert isinstance(model_from_run(load_run(CHECKPOINTS / "parity_rnn.pt")), HookedRNN)
    assert "family" not in read_checkpoint(CHECKPOINTS / "mainline.pt")  # an older file
    with pytest.raises(ValueError, match="RNNPreset trains on streaming parity only"):
        from grok_interp.config import RNNPreset

        _ = replace(RunSpec(), model=RNNPreset()).family


def test_analyze_reports_a_sequence_run_with_its_heads_and_position_losses(tmp_path):
    """Known answer: the hand-built induction circuit (layer 1 reads the token after the
    match) with a zero unembedding, so every position's loss is log(vocab) exactly."""
    import math

    from grok_interp import tl
    from grok_interp.config import ModelPreset
    from grok_interp.page import page
    from grok_interp.runs import learner
    from grok_interp.sequences import SeqTask

    from .test_sequences import hand_built_induction

    task = SeqTask(kind="repeat", vocab=40, length=16, span=4, n_test=100)
    hand = hand_built_induction(task)
    model = ModelPreset(n_layers=2, d_model=96, n_heads=1, d_head=40, attn_only=True)
    run = Run(task=task, model=model, train=TrainConfig(n_train=8, epochs=0), seed=0,
              train_idx=torch.arange(8),
              weights=tl.hooked_state_dict(hand))  # fmt: skip
    report = analyze(run)
    scores = report.head_scores.scores
    assert scores["induction"][1, 0] > 0.8 and scores["previous_token"][0, 0] > 0.95
    pos = report.position_losses
    assert pos.positions == list(range(4, 15)) and sum(pos.count) == 100 * 3
    assert all(abs(x - math.log(40)) < 1e-12 for x in pos.loss)
    assert report.losses["test"][0] == pytest.approx(math.log(40), abs=1e-12)
    assert "no (a, b) pairs" in report.not_run["neurons"]
    doc = report.to_json()
    assert doc["results"]["head_scores"]["values"]["scores"]["induction"][1][0] > 0.8
    assert doc["results"]["position_losses"]["values"]["positions"] == pos.positions
    html = page(report)
    assert 'id="head_scores"' in html and 'id="position_losses"' in html
    five = replace(run, task=SeqTask(n_test=20), model=ModelPreset(d_model=24, n_heads=2,
                                                                   d_head=8, d_mlp=32))
    five.weights = tl.hooked_state_dict(learner(five))
    report = analyze(five)
    assert "not five_digit_add's" in report.not_run["head_scores"]
    assert report.position_losses.positions == list(range(11, 17))


def test_the_cli_trains_resumes_analyses_and_sweeps_every_family(tmp_path, capsys):
    toy, parity = str(tmp_path / "toy.pt"), str(tmp_path / "parity.pt")
    assert main(["train", "--family", "toy", "--set", "train.epochs=20",
                 "--snapshot-every", "10", "--eval-every", "10", "--out", toy, "--quiet"]) == 0
    assert main(["train", "--resume", "--out", toy, "--epochs", "30", "--quiet"]) == 0
    assert load_run(toy).epoch == 30 and load_run(toy).family.kind == "toy"
    assert main(["train", "--family", "parity", "--set", "train.epochs=3",
                 "--set", "task.max_len=4", "--set", "task.n_long=1", "--snapshot-every", "1",
                 "--eval-every", "1", "--out", parity, "--quiet"]) == 0  # fmt: skip
    assert load_run(parity).task.max_len == 4
    assert main(["train", "--family", "parity", "--preset", "small", "--n-layers", "1",
                 "--set", "train.epochs=1", "--set", "task.max_len=3", "--out",
                 str(tmp_path / "tf.pt"), "--quiet"]) == 0  # fmt: skip
    assert load_run(tmp_path / "tf.pt").model.n_layers == 1
    capsys.readouterr()
    assert main(["analyze", toy, "--full"]) == 0
    assert "# Liu et al. 2022 analyses of" in capsys.readouterr().out
    assert main(["analyze", parity, "--full"]) == 0
    assert "automaton states" in capsys.readouterr().out
    sweep = ["sweep", "--out", str(tmp_path / "seq"), "--base", "family=sequences",
             "train.epochs=2", "train.n_train=16", "task.n_test=10",
             "--set", "task.kind=repeat,skip_trigram", "--quiet"]  # fmt: skip
    assert main(sweep) == 0
    kinds = [load_run(p).task.kind for p in sorted((tmp_path / "seq" / "runs").glob("*.pt"))]
    assert kinds == ["repeat", "skip_trigram"]
    capsys.readouterr()
    assert main(["analyze", str(tmp_path / "seq" / "runs" / "0001.pt"), "--full"]) == 0
    out = capsys.readouterr().out
    assert "big_token" in out and "Test loss per output position" in out


def test_a_sweep_grid_changes_the_task_class(line, tmp_path):
    """``family`` in a grid starts a point from that family's default run, so one sweep
    holds runs of different task, preset and learner types."""
    from grok_interp.parity import ParityTask
    from grok_interp.sweeps import SweepError, apply

    grid = Grid(points=[{"seed": 1}, {"family": "parity", "train.epochs": 1,
                                      "task.max_len": 3, "task.n_long": 1}],
                base=Line().default_spec())  # fmt: skip
    table = run_sweep(grid, tmp_path / "sw", progress=False)
    assert table["family"].tolist() == ["line", "parity"]
    runs = [load_run(p) for p in sorted((tmp_path / "sw" / "runs").glob("*.pt"))]
    assert isinstance(runs[0].task, LineTask) and isinstance(runs[1].task, ParityTask)
    assert runs[1].history["epoch"] == [0.0, 1.0]
    with pytest.raises(SweepError, match="unknown experiment family 'nope'"):
        apply(RunSpec(), {"family": "nope"})
