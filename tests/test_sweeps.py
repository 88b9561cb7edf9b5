"""Sweeps: grids validated before anything trains, one Run file per point, a results
table, and a killed sweep that resumes bit for bit."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from grok_interp.cli import main
from grok_interp.runs import TrainConfig, load_run
from grok_interp.sweeps import Grid, SweepError, grid_from_toml, run_sweep
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train

from .conftest import TINY

BASE = RunSpec(
    task=Task(p=11),
    model=TINY,
    train=TrainConfig(epochs=30, eval_every=5, snapshot_every=10, lr=3e-3, frac_train=0.5),
)
GRID = Grid(
    values={"train.weight_decay": [0.1, 1.0], "seed": [0, 1]},
    points=[{"train.lr": 1e-3, "seed": 5}],
    base=BASE,
)


def test_bad_grids_fail_before_anything_trains(tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(SweepError, match="unknown grid field 'train.wd'"):
        run_sweep(Grid(values={"train.wd": [1]}, base=BASE), out, progress=False)
    with pytest.raises(SweepError, match="dropout"):
        run_sweep(Grid(values={"train.dropout": [0.1, 1.5]}, base=BASE), out, progress=False)
    assert not out.exists()


def test_sweep_writes_runs_and_a_table_and_resumes_bit_for_bit(tmp_path):
    out = tmp_path / "sweep"
    specs = GRID.specs()
    assert len(specs) == 5 and specs[4].train.lr == 1e-3 and specs[4].seed == 5

    def kill(epoch, model, run):  # a sweep killed while point 0 trains, after a save at 10
        if epoch == 15:
            raise KeyboardInterrupt

    (out / "runs").mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps(GRID.to_json(), indent=1))
    with pytest.raises(KeyboardInterrupt):
        train(specs[0], out=out / "runs" / "0000.pt", callbacks=[kill], progress=False)
    assert load_run(out / "runs" / "0000.pt").epoch == 10
    table = run_sweep(GRID, out, stack=1, progress=False)
    assert len(table) == 5 and list(table["train.weight_decay"][:4]) == [0.1, 0.1, 1.0, 1.0]
    for i, spec in enumerate(specs):
        alone = train(spec, progress=False)
        got = load_run(out / "runs" / f"{i:04d}.pt")
        assert got.done and got.history == alone.history
        for k in alone.weights:
            assert torch.equal(got.weights[k], alone.weights[k]), (i, k)
    assert {"epoch_test_acc_99", "epoch_train_loss_1e-6", "final_param_norm"} <= set(table)
    assert (out / "results.csv").exists() and len(
        json.loads((out / "results.json").read_text())
    ) == 5
    before = (out / "runs" / "0001.pt").read_bytes()
    again = run_sweep(GRID, out, progress=False)  # everything done: nothing retrains
    assert (out / "runs" / "0001.pt").read_bytes() == before and again.equals(table)
    other = Grid(values={"seed": [7]}, base=BASE)
    with pytest.raises(SweepError, match="another sweep"):
        run_sweep(other, out, progress=False)


def test_toml_and_cli(tmp_path, capsys):
    toml = tmp_path / "grid.toml"
    toml.write_text(
        '[grid]\n"train.weight_decay" = [0.5, 1.0]\nseed = [0]\n[[points]]\n"train.lr" = 0.002\n'
    )
    grid = grid_from_toml(toml, BASE)
    assert [s.train.weight_decay for s in grid.specs()] == [0.5, 1.0, 1.0]
    out = tmp_path / "cli"
    args = [
        "sweep",
        "--out",
        str(out),
        "--set",
        "train.weight_decay=0.5,1",
        "--set",
        "seed=0,1",
        "--base",
        "task.p=11",
        "model.d_model=32",
        "model.n_heads=2",
        "model.d_head=16",
        "model.d_mlp=64",
        "train.epochs=10",
        "--quiet",
    ]
    assert main(args) == 0
    assert len(load_run(out / "runs" / "0003.pt").history["epoch"]) > 1
    assert main(["sweep", "--out", str(out), "--set", "train.bogus=1", "--quiet"]) == 2
    assert "unknown grid field 'train.bogus'" in capsys.readouterr().err


GRID12 = Grid(
    values={"train.weight_decay": [0.1, 1.0, 3.0], "train.lr": [1e-3, 3e-3], "seed": [0, 1]},
    base=BASE,
)


class KillOnce:
    """A trainer callback that kills its process at ``epoch`` the first time only."""

    def __init__(self, marker, epoch):
        self.marker, self.epoch = str(marker), epoch

    def __call__(self, epoch, model, run):
        if epoch == self.epoch and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)


def _same_runs(a_dir, b_dir, n):
    for i in range(n):
        a, b = load_run(a_dir / "runs" / f"{i:04d}.pt"), load_run(b_dir / "runs" / f"{i:04d}.pt")
        assert a.history == b.history, i
        assert a.snapshots.keys() == b.snapshots.keys()
        for k in a.weights:
            assert torch.equal(a.weights[k], b.weights[k]), (i, k)


@pytest.mark.slow
def test_ray_executor_matches_local_and_survives_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # KillOnce, by value
    local = run_sweep(GRID12, tmp_path / "local", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        marker = tmp_path / "killed"
        remote = run_sweep(
            GRID12,
            tmp_path / "ray",
            executor="ray",
            callbacks=[KillOnce(marker, 20)],
            progress=False,
        )
    finally:
        ray.shutdown()
    assert marker.exists()  # a worker died mid-task once; Ray retried its stack
    assert remote.equals(local)
    _same_runs(tmp_path / "local", tmp_path / "ray", len(GRID12.specs()))


def test_points_can_continue_a_trained_run_on_subsets_of_its_training_set(tmp_path):
    from grok_interp.training import continue_on

    parent_path = tmp_path / "parent.pt"
    parent = train(BASE, out=parent_path, progress=False)
    base = RunSpec(
        task=BASE.task,
        model=BASE.model,
        init=str(parent_path),
        train=TrainConfig(epochs=10, eval_every=5, snapshot_every=10, n_train=20),
    )
    grid = Grid(
        values={"train.n_train": [20, 30], "train.weight_decay": [0.1, 2], "seed": [4]}, base=base
    )
    table = run_sweep(grid, tmp_path / "sweep", stack=1, progress=False)
    assert list(table["init"]) == [str(parent_path)] * 4
    for i, spec in enumerate(grid.specs()):
        got = load_run(tmp_path / "sweep" / "runs" / f"{i:04d}.pt")
        fields = {k: v for k, v in vars(spec.train).items() if k not in ("n_train", "frac_train")}
        alone = train(
            continue_on(parent, n_train=spec.train.n_train, seed=4, **fields), progress=False
        )
        assert torch.equal(got.train_idx, alone.train_idx)
        assert set(got.train_idx.tolist()) <= set(parent.train_idx.tolist())
        assert got.history == alone.history
    # a changed init file is not mistaken for the one the points were trained from
    again = run_sweep(grid, tmp_path / "sweep", progress=False)  # unchanged: nothing retrains
    assert again.equals(table)
    changed = load_run(parent_path)
    changed.weights = {k: v + 1 for k, v in changed.weights.items()}
    from grok_interp.runs import save_run

    save_run(changed, parent_path)
    with pytest.raises(SweepError, match="changed since"):
        run_sweep(grid, tmp_path / "sweep", progress=False)
    # a wrong or missing init fails before anything is written, so the fixed grid can run
    with pytest.raises(SweepError, match="init .* has task"):
        run_sweep(Grid(values={"task.p": [13]}, base=base), tmp_path / "other", progress=False)
    with pytest.raises(SweepError, match="no such file"):
        run_sweep(Grid(values={"init": [str(tmp_path / "nope.pt")]}, base=base),
                  tmp_path / "other", progress=False)  # fmt: skip
    assert not (tmp_path / "other").exists()


TINY_BASE = ["task.p=11", "model.d_model=32", "model.n_heads=2", "model.d_head=16",
             "model.d_mlp=64", "train.lr=0.003", "train.frac_train=0.5"]  # fmt: skip


def test_toml_sections_are_checked_and_base_values_are_shared(tmp_path, capsys):
    out = tmp_path / "sweep"
    typo = tmp_path / "typo.toml"
    typo.write_text('[grdi]\nseed = [0, 1]\n[base]\n"train.epochs" = 10\n')
    assert main(["sweep", "--out", str(out), "--toml", str(typo), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown section [grdi]" in err and "[base]" in err
    loose = tmp_path / "loose.toml"
    loose.write_text('"train.epochs" = 10\n[grid]\nseed = [0, 1]\n')
    with pytest.raises(SweepError, match="unknown key 'train.epochs' outside the sections"):
        grid_from_toml(loose)
    toml = tmp_path / "grid.toml"  # bare dotted keys (nested tables to TOML) and quoted ones
    toml.write_text("[base]\n" + "\n".join(TINY_BASE).replace("=", " = ")
                    + '\n"train.epochs" = 20\ntrain.eval_every = 10\n[grid]\nseed = [0, 1]\n')
    specs = grid_from_toml(toml).specs()
    assert [(s.seed, s.task.p, s.model.d_mlp, s.train.epochs) for s in specs] == [
        (0, 11, 64, 20), (1, 11, 64, 20)]  # fmt: skip
    assert not out.exists()
    args = ["sweep", "--out", str(out), "--toml", str(toml), "--base", "train.epochs=10"]
    assert main([*args, "--quiet"]) == 0  # --base on top of the file's [base]
    assert [load_run(out / "runs" / f"000{i}.pt").epoch for i in (0, 1)] == [10, 10]
    printed = capsys.readouterr().out.splitlines()
    header = printed[0].split()
    assert header[:2] == ["seed", "epoch_test_acc_99"] and "test_acc" in header  # varied first
    assert "task.p" not in header and len(printed) == 4  # header, two points, where to find all
    assert [line.split()[0] for line in printed[1:3]] == ["0", "1"]
    csv = pd.read_csv(out / "results.csv")
    assert {"task.p", "model.d_mlp", "train.epochs", "final_test_acc"} <= set(csv.columns)


def test_bad_values_are_named_in_the_users_terms(tmp_path, capsys):
    out = tmp_path / "sweep"
    cases = {
        "train.epochs=ten": "train.epochs takes a whole number, got 'ten'",
        "train.lr=fast": "train.lr takes a number, got 'fast'",
        "model.d_mlp=1.5": "model.d_mlp takes a whole number, got 1.5",
        "seed=x": "seed takes a whole number, got 'x'",
        "train.frac_train=0.3,abc": "train.frac_train takes a number or none, got 'abc'",
        "model.act_fn=tanh": "model.act_fn takes one of 'relu', 'gelu', got 'tanh'",
        "train.betas=0.9": "train.betas takes a list of 2, each a number, got 0.9",
    }
    for given, said in cases.items():
        assert main(["sweep", "--out", str(out), "--set", given, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err == f"grok-interp sweep: error: {said}\n", err
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_in_one_line_and_loses_nothing(tmp_path):
    out = tmp_path / "sweep"
    base = [*TINY_BASE, "train.epochs=2000", "train.eval_every=100", "train.snapshot_every=2000"]
    cmd = [sys.executable, "-m", "grok_interp.cli", "sweep", "--out", str(out),
           "--set", "seed=0,1", "--base", *base, "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = out / "runs" / "0000.pt"
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline:  # saved once, at epoch 0
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    printed, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and not printed
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    epochs = [load_run(out / "runs" / f"000{i}.pt").epoch for i in (0, 1)]
    assert 0 < epochs[0] < 2000 and epochs[0] == epochs[1]  # one stack: both at the epoch reached
    assert lines[0].startswith(
        f"interrupted: 0 of 2 points finished, 2 saved part-way (at epoch {epochs[0]}, "
        f"{epochs[0]}), 0 not started, in {out}; continue with grok-interp sweep --out {out}"
    ), lines[0]
    again = shlex.split(lines[0].split("continue with ")[1])
    assert again[:2] == ["grok-interp", "sweep"]
    assert main(again[1:]) == 0  # the command it gives finishes the sweep, bit for bit
    whole = tmp_path / "whole"  # the same sweep, never interrupted
    assert main(["sweep", "--out", str(whole), *cmd[cmd.index("--set"):]]) == 0
    _same_runs(out, whole, 2)


def test_named_settings_store_every_history_beside_the_table(tmp_path):
    """The figure sweeps' path: named settings x seeds in order, each point's history in
    history.json equal to its Run's (exact floats), read back without the Run files."""
    from grok_interp.sweeps import load_histories, load_points, settings_sweep

    settings = {"wd 1": {"train.weight_decay": 1.0}, "wd 0": {"train.weight_decay": 0.0}}
    table, histories, names = settings_sweep(settings, BASE, tmp_path / "s", seeds=2,
                                             progress=False)  # fmt: skip
    assert names == ["wd 1", "wd 1", "wd 0", "wd 0"] and list(table["seed"]) == [0, 1, 0, 1]
    assert list(table["train.weight_decay"]) == [1.0, 1.0, 0.0, 0.0]
    runs = load_points(tmp_path / "s")
    assert histories == [r.history for r in runs] and histories[0] != histories[2]
    (tmp_path / "s" / "history.json").unlink()  # a folder from before: read from the Runs
    assert load_histories(tmp_path / "s") == histories


def test_grok_markdown_reads_the_results_table():
    from grok_interp.sweeps import grok_markdown

    table = pd.DataFrame({
        "seed": [0, 3], "epoch": [400, 300],
        "epoch_test_acc_99": [250.0, None], "epoch_train_loss_1e-6": [100.0, 120.0],
        "epoch_test_loss_1e-6": [None, None],
        "final_train_loss": [1.23456e-7, 2e-7], "final_test_loss": [0.5, 12.3456],
    })  # fmt: skip
    rows = grok_markdown(table, ["a", "b"]).splitlines()
    assert rows[2:] == [
        "| a | 0 | 250 | 100 | not by 400 | 1.23e-07 | 0.5 |",
        "| b | 3 | not by 300 | 120 | not by 300 | 2e-07 | 12.3 |",
    ]
