"""A group checkpoint through analyze() and the CLI: the group named, the authors' key
irreps and per-irrep numbers in the Report, report.json and the page; on Z_p the irreps
name the Fourier analyses' key frequencies (Chughtai et al. 2023: the cyclic case)."""

from __future__ import annotations

import json

import pytest

from grok_interp import analyze
from grok_interp.cli import main
from tests.conftest import EXTERNAL, external

GROUPS = EXTERNAL / "chughtai_groups"
# The authors' A5 3-d matrices are not representations (grok_interp.groups): on the true
# irreps a5_3d_a alone is key, and the two 3-d irreps' numbers differ from theirs.
NOT_THEIRS = {"A5_T_seed1": {"a5_3d_a", "a5_3d_b"}}


@pytest.mark.parametrize("run", ["S5_T_seed1", "D59_T_seed1", "A5_T_seed1"])
def test_analyze_on_the_raw_file_names_the_group_and_gives_the_authors_numbers(run, tmp_path,
                                                                               capsys):  # fmt: skip
    folder = external(GROUPS / run)
    out = tmp_path / "report"
    assert main(["analyze", str(folder / "model.pt"), "--out", str(out), "--no-figures"]) == 0
    doc = json.loads((out / "report.json").read_text())
    group = run.split("_")[0]
    printed = capsys.readouterr().out  # the summary names the group and its key irreps
    assert doc["task"]["structure"] == group and "| group " in printed and group in printed
    assert "key irreps (Chughtai et al.)" in printed
    values = doc["results"]["irreps"]["values"]
    theirs = json.loads((folder / "summary_metrics.json").read_text())
    keys = (folder / "key_reps.txt").read_text().split()
    if run in NOT_THEIRS:
        assert values["key"] == ["a5_3d_a"] and set(keys) == NOT_THEIRS[run]
    else:
        assert values["key"] == keys
    for name, ours in values["per_irrep"].items():
        if name in NOT_THEIRS.get(run, ()):
            continue
        assert ours["percent_x_embed"] == pytest.approx(
            theirs[f"percent_x_embed_{name}_rep"], abs=1e-2), name
        if name != "trivial":
            assert ours["logit_excluded_loss"] == pytest.approx(
                theirs[f"logit_excluded_loss_{name}_rep"], abs=1e-2), name
    assert doc["losses"]["all"]["loss"] < 1e-3
    assert "Chughtai et al.'s split" in " ".join(doc["assumptions"])
    # the Fourier analyses over Z_p say why they do not apply, in one line each
    assert f"over {group}" in doc["not_run"]["neurons"]


def test_on_z_p_the_irreps_name_the_fourier_key_frequencies(mainline_report):
    fourier = sorted(mainline_report.neuron_logit_map.key_freqs)
    irreps = mainline_report.irreps
    assert irreps.group == "C113"
    assert sorted(int(k.removeprefix("freq_")) for k in irreps.key) == fourier


def test_the_c113_fixture_names_the_same_frequencies_both_ways():
    folder = external(EXTERNAL / "chughtai_C113_T_seed1")
    report = analyze(folder / "model.pt")
    fourier = sorted(report.neuron_logit_map.key_freqs)
    assert sorted(int(k.removeprefix("freq_")) for k in report.irreps.key) == fourier
    assert report.losses["all"][0] < 1e-3


def test_a_misread_group_is_refused_in_one_line(tmp_path):
    """A cfg.json whose group disagrees with the tensors: one line, nothing analysed."""
    import shutil

    folder = external(GROUPS / "A5_T_seed1")
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    cfg = json.loads((bad / "cfg.json").read_text())
    (bad / "cfg.json").write_text(json.dumps({**cfg, "group": "SymmetricGroup"}))
    with pytest.raises(ValueError, match="S5") as err:
        analyze(bad / "model.pt")
    assert "\n" not in str(err.value)


def test_learning_order_reads_when_each_key_irrep_rises():
    """A hand-made frame: irrep 'b' reaches half its final similarity at epoch 20, 'a'
    at 30; 'c' is not key at the end."""
    import pandas as pd

    from grok_interp.analyses.irreps import learning_order

    sims = {"a": [0.0, 0.01, 0.2, 0.6, 0.8], "b": [0.0, 0.3, 0.5, 0.6, 0.6],
            "c": [0.0, 0.1, 0.0, 0.0, 0.001], "d": [0.0, 0.6, 0.7, 0.8, 1.0]}  # fmt: skip
    frame = pd.DataFrame([{"epoch": 10 * i, "irrep": n, "key": n != "c" and i == 4,
                           "logit_trace_similarity": s[i]}
                          for n, s in sims.items() for i in range(5)])  # fmt: skip
    order = learning_order(frame)  # 'd' is half-way with 'b' but near its plateau later
    assert order["irrep"].tolist() == ["b", "d", "a"]  # by 90%, then by 50%
    assert order["epoch at 50% of final"].tolist() == [10, 10, 30]
    assert order["epoch at 90% of final"].tolist() == [30, 40, 40]
    assert order["epoch above 0.005"].tolist() == [10, 10, 10]


def test_a_group_task_trains_from_the_cli_and_in_a_sweep(tmp_path, capsys):
    from grok_interp import load_run
    from grok_interp.sweeps import Grid, load_points, run_sweep
    from grok_interp.tasks import Task

    out = tmp_path / "s3.pt"
    assert main(["train", "--group", "S3", "--preset", "small", "--epochs", "4", "--out",
                 str(out), "--quiet"]) == 0  # fmt: skip
    run = load_run(out)
    assert run.task == Task.over("S3", "xy") and "over S3" in run.task.describe()
    assert main(["train", "--group", "Q8", "--out", str(tmp_path / "q.pt")]) == 2
    assert "unknown structure 'Q8'" in capsys.readouterr().err
    base = load_run(out)
    from grok_interp.runs import RunSpec

    spec = RunSpec(task=base.task, model=base.model, train=base.train)
    grid = Grid(base=spec, values={"task.op": ["xy", "xyx_inv"]})
    run_sweep(grid, tmp_path / "sweep", progress=False)
    assert [r.task.op for r in load_points(tmp_path / "sweep")] == ["xy", "xyx_inv"]


@pytest.mark.parametrize("task_args", [("S4", "xy"), None])
def test_a_task_past_the_one_forward_bound_is_read_in_chunks(monkeypatch, task_args):
    """Past ONE_FORWARD (pairs x classes) the forward over every pair is skipped, each
    analysis that needs it says why in one line, and the irreps (read in chunks) still
    give the losses: the same losses as the one forward gives below the bound."""
    import grok_interp.families.pairs as pairs
    from grok_interp import Task
    from grok_interp.models import build_model, preset

    task = Task.over(*task_args) if task_args else Task(p=23)
    model = build_model(preset("small"), task, seed=0)
    whole = analyze(model, task)
    monkeypatch.setattr(pairs, "ONE_FORWARD", task.n_pairs * task.d_vocab_out - 1)
    chunked = analyze(model, task)
    assert "irreps" in chunked.results and "circuit_density" not in chunked.results
    why = chunked.not_run["circuit_density"]
    assert "too many for one forward over every pair" in why and "\n" not in why
    assert chunked.losses["all"][0] == pytest.approx(whole.losses["all"][0], rel=1e-6)
    assert chunked.losses["all"][1] == whole.losses["all"][1]


def test_irreps_over_training_figure_marks_the_phases():
    """The run's phase boundaries are dotted in both panels and named once, in the top."""
    import pandas as pd

    from grok_interp.analyses.irreps import over_training_figure

    frame = pd.DataFrame([{"epoch": e, "irrep": "sign", "key": True,
                           "logit_trace_similarity": e / 100, "train_loss": 1.0,
                           "test_loss": 2.0} for e in (0, 50, 100)])  # fmt: skip
    fig = over_training_figure(frame, "t", bounds=(10, 40, 90))
    assert sorted(s.x0 for s in fig.layout.shapes) == [10, 10, 40, 40, 90, 90]
    texts = [a.text for a in fig.layout.annotations if a.text and "(" in a.text]
    assert texts == ["memorisation ends (10)", "cleanup starts (40)", "cleanup ends (90)"]
    assert not over_training_figure(frame, "t").layout.shapes
