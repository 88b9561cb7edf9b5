"""Two-token unmasked models (Zhong et al.'s setting, layout "a b, bidirectional") from the
CLI and a sweep, and the pair analyses on layouts other than "a b =" and on two layers."""

import json

import torch

from grok_interp.analyses.common import gather
from grok_interp.cli import main
from grok_interp.fast import unsupported_reason
from grok_interp.models import ModelPreset, build_model
from grok_interp.report import analyze
from grok_interp.runs import load_model, load_run
from grok_interp.tasks import Task

from .conftest import randomize

SMALL = ["--d-model", "16", "--n-heads", "2", "--d-head", "8", "--d-mlp", "32"]


def test_train_resume_analyze_report_from_the_cli(tmp_path, capsys):
    out = tmp_path / "r.pt"
    args = ["train", "--format", "a b, bidirectional", "--p", "11", *SMALL, "--attention-rate",
            "0.5", "--epochs", "6", "--eval-every", "2", "--snapshot-every", "2", "--out", str(out),
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert main(["train", "--resume", "--epochs", "10", "--out", str(out), "--quiet"]) == 0
    run = load_run(out)
    assert run.epoch == 10 and run.task.token_format == "a b, bidirectional"
    assert run.model.attention_rate == 0.5
    model, task = load_model(out)
    assert model.cfg.attention_dir == "bidirectional" and task.n_ctx == 2
    assert main(["analyze", str(out), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "a b, bidirectional" in md and "Heads of layer 0" in md
    capsys.readouterr()


def test_sweep_over_the_attention_rate(tmp_path, capsys):
    base = ["task.p=11", "task.token_format=a b, bidirectional", "train.epochs=4",
            "model.d_model=16", "model.n_heads=2", "model.d_head=8", "model.d_mlp=32"]  # fmt: skip
    args = ["sweep", "--out", str(tmp_path / "s"), "--set", "model.attention_rate=0,1",
            "--base", *base, "--quiet"]  # fmt: skip
    assert main(args) == 0
    rates = sorted(load_run(p).model.attention_rate for p in (tmp_path / "s" / "runs").glob("*.pt"))
    assert rates == [0.0, 1.0]
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())
    capsys.readouterr()


def test_two_layers_separate_vocab_every_analysis_says_its_layer():
    task = Task(p=13, token_format="a b, bidirectional, separate vocab")
    model = build_model(ModelPreset(n_layers=2, d_model=32, n_heads=2, d_head=16, d_mlp=64), task)
    randomize(model, 0.3)
    assert "bidirectional attention over several layers" in unsupported_reason(model)
    report = analyze(model, task, key_freqs=[1, 2])
    emb = report.results["embedding"]
    assert set(emb.per_operand) == {"a", "b"} and "separate vocabularies" in emb.notes()[0]
    assert {h.layer for h in report.results["attention"].heads} == {0, 1}
    assert any("Heads of each of the 2 layers" in n for n in report.results["attention"].notes())
    assert report.results["neurons"].layer == 1 and report.results["ablations"].layer == 1
    data = gather(model, task)
    with torch.no_grad():
        want = model(task.tokens())[:, task.answer_pos]
    torch.testing.assert_close(data.logits, want)


def test_uniform_attention_says_why_the_attention_analysis_cannot_apply():
    task = Task(p=11, token_format="a b, bidirectional")
    model = build_model(ModelPreset(d_model=16, n_heads=2, d_head=8, d_mlp=32, attention_rate=0.0),
                        task)  # fmt: skip
    report = analyze(model, task, key_freqs=[1])
    assert "attention rate of 0" in report.not_run["attention"]
    assert "\n" not in report.not_run["attention"]


def test_analyze_and_import_take_any_layout_string(tmp_path, capsys):
    task = Task(p=11, token_format="b a, bidirectional")  # a layout no list names
    model = build_model(ModelPreset(d_model=16, n_heads=2, d_head=8, d_mlp=32), task)
    from grok_interp import tl

    torch.save(tl.hooked_state_dict(model), tmp_path / "m.pt")
    args = ["analyze", str(tmp_path / "m.pt"), "--format", "b a, bidirectional", "--key-freqs",
            "1", "--out", str(tmp_path / "rep")]  # fmt: skip
    assert main(args) == 0
    assert "b a, bidirectional" in (tmp_path / "rep" / "report.md").read_text()
    capsys.readouterr()
    try:
        main(["analyze", str(tmp_path / "m.pt"), "--format", "a c ="])
    except SystemExit as e:
        assert e.code == 2
    assert "unknown token layout 'a c ='" in capsys.readouterr().err
