"""A split and snapshots from other code: analyze(split=...), run_from_snapshots, the CLI."""

import json
import random

import numpy as np
import pytest
import torch

from grok_interp import tl
from grok_interp.analyses.efficiency import efficiency_over_training
from grok_interp.analyses.progress import progress_measures
from grok_interp.analyses.representation import representation_over_training
from grok_interp.cli import main
from grok_interp.models import build_model
from grok_interp.report import analyze
from grok_interp.runs import load_run, model_from_run
from grok_interp.snapshots import (
    history_from_losses,
    run_from_files,
    run_from_snapshots,
    train_indices,
)
from grok_interp.tasks import Task
from grok_interp.training import cross_entropy64

from .conftest import CHUGHTAI, NANDA_LOW_PRECISION, NANDA_NO_WD, TINY, external, randomize

MAINLINE = "checkpoints/mainline.pt"
STEPS = [0, 1000, 8000, 40000]  # before, during and after grokking, and the final weights


@pytest.fixture(scope="module")
def mainline():
    return load_run(MAINLINE)


def authors_split(p: int = 113, frac: float = 0.3, seed: int = 0) -> torch.Tensor:
    """The Nanda et al. authors' gen_train_test: random.seed(seed), shuffle the a-major
    pairs, the first int(frac * p^2) train."""
    pairs = [(i, j) for i in range(p) for j in range(p)]
    random.Random(seed).shuffle(pairs)
    return torch.tensor([i * p + j for i, j in pairs[: int(frac * p * p)]])


# ---- the split: every form gives the same indices, bad ones a one-line error


def test_split_forms_agree(tmp_path):
    task = Task(p=13)
    idx = torch.tensor([5, 0, 17, 168])
    mask = torch.zeros(169, dtype=torch.bool)
    mask[idx] = True
    torch.save({"train_idx": idx}, tmp_path / "d.pt")
    torch.save(mask, tmp_path / "m.pt")
    np.save(tmp_path / "i.npy", idx.numpy())
    (tmp_path / "m.json").write_text(json.dumps(mask.tolist()))
    (tmp_path / "i.txt").write_text("5, 0\n17 168\n")
    (tmp_path / "m.txt").write_text(" ".join(str(int(b)) for b in mask))
    forms = [idx.tolist(), mask, mask.int().tolist(), np.asarray(idx), *tmp_path.iterdir()]
    for form in forms:
        got = train_indices(form, task)
        assert sorted(got.tolist()) == [0, 5, 17, 168], form


@pytest.mark.parametrize(
    "split, words",
    [
        (torch.ones(100, dtype=torch.bool), "a mask needs one entry per pair, p^2 = 169"),
        ([3, 169], "pair index 169 is out of range 0..168"),
        ([-1, 4], "pair index -1 is out of range"),
        ([3, 3], "pair indices repeat"),
        ([], "the training set is empty"),
        (torch.ones(169, dtype=torch.bool), "the test set is empty"),
        (list(range(169)), "the test set is empty"),
        (torch.ones(1, 2, dtype=torch.long), "got shape (1, 2)"),
        (torch.tensor([1.5]), "must be integers"),
    ],
)
def test_bad_split_is_named(split, words):
    with pytest.raises(ValueError, match="^my_split: ") as e:
        train_indices(split, Task(p=13), name="my_split")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_split_file_of_words_refused(tmp_path):
    (tmp_path / "x.txt").write_text("1 2 x")
    with pytest.raises(ValueError, match="split: .* not integers or true/false"):
        train_indices(tmp_path / "x.txt", Task(p=13))


# ---- analyze(split=...) on the shipped mainline equals the Run file's report


@pytest.fixture(scope="module")
def mainline_reports(mainline, mainline_report):
    model = model_from_run(mainline)
    mask = torch.zeros(113 * 113, dtype=torch.bool)
    mask[mainline.train_idx] = True
    return mainline_report, analyze(model, mainline.task, split=mask)


def test_split_gives_the_run_files_numbers(mainline, mainline_reports):
    ours, given = mainline_reports
    assert set(given.losses) == {"test", "train", "all"}
    assert given.losses == ours.losses  # per pair set, to the last bit
    assert given.efficiency.o_mem == ours.efficiency.o_mem
    assert given.representation.predicted_test_acc == ours.representation.predicted_test_acc
    # indices in any order name the same split as the mask
    shuffled = mainline.train_idx[torch.randperm(len(mainline.train_idx))]
    mask = torch.zeros(113 * 113, dtype=torch.bool)
    mask[shuffled] = True
    assert torch.equal(train_indices(shuffled, mainline.task).sort().values,
                       train_indices(mask, mainline.task))  # fmt: skip


def test_without_split_only_all_pairs(mainline_reports):
    # the point of the split: a bare model knows only 'all'; the training pairs' o_mem
    # (memorised on them) differs from the test pairs'
    ours, _ = mainline_reports
    assert ours.efficiency.o_mem["train"] != pytest.approx(ours.efficiency.o_mem["test"], 0.1)


# ---- a Run from the mainline's own snapshots gives the shipped Run's measures


@pytest.fixture(scope="module")
def rebuilt(mainline):
    states = [tl.hooked_state_dict(model_from_run(mainline, e)) for e in STEPS]
    return run_from_snapshots(states, STEPS, mainline.task, mainline.train_idx,
                              history=mainline.history)  # fmt: skip


def test_rebuilt_run_is_the_shipped_one(mainline, rebuilt):
    assert rebuilt.model == mainline.model  # frozen biases found: zero in every snapshot
    assert rebuilt.epoch == 40000 and sorted(rebuilt.snapshots) == STEPS


def test_rebuilt_run_same_efficiency_over_training(mainline, rebuilt):
    ours = efficiency_over_training(mainline, steps=STEPS)
    pd_equal(efficiency_over_training(rebuilt), ours)
    assert ours["o_mem_train"].iloc[1] > 0  # memorised at epoch 1000: not a vacuous check


def test_rebuilt_run_same_progress_measures(mainline, rebuilt):
    ours = progress_measures(mainline, steps=STEPS)
    theirs = progress_measures(rebuilt)
    assert theirs.key_freqs == ours.key_freqs
    pd_equal(theirs.frame, ours.frame)
    pd_equal(representation_over_training(rebuilt, steps=STEPS[1:3]),
             representation_over_training(mainline, steps=STEPS[1:3]))  # fmt: skip


def pd_equal(a, b):
    import pandas as pd

    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_run_from_files_reads_epochs_from_names(mainline, tmp_path):
    for e in STEPS[:2]:
        torch.save(tl.hooked_state_dict(model_from_run(mainline, e)), tmp_path / f"step_{e}.pt")
    out = tmp_path / "runs" / "mine.pt"
    run = run_from_files([tmp_path], mainline.task, mainline.train_idx, out=out)
    back = load_run(out)
    assert sorted(back.snapshots) == STEPS[:2] and back.epoch == 1000
    for e in STEPS[:2]:
        for k, v in back.snapshots[e].items():
            assert torch.equal(v, mainline.snapshots[e][k].float()), (e, k)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        run_from_files([tmp_path], mainline.task, mainline.train_idx, out=out)
    assert run.history == {}


def test_run_from_snapshots_bad_input(tiny_task, tiny_model):
    sd = tl.hooked_state_dict(tiny_model)
    with pytest.raises(ValueError, match="^epochs: give one epoch per snapshot"):
        run_from_snapshots([sd, sd], [0], tiny_task, [1, 2])
    with pytest.raises(ValueError, match="^epochs: each snapshot needs its own epoch"):
        run_from_snapshots([sd, sd], [3, 3], tiny_task, [1, 2])
    with pytest.raises(ValueError, match="^split: pair index 500"):
        run_from_snapshots([sd], [3], tiny_task, [1, 500])
    with pytest.raises(ValueError, match="^history: 'train_loss' has 1 values, 'epoch' 2"):
        run_from_snapshots([sd], [3], tiny_task, [1], history={"epoch": [0, 3],
                                                                 "train_loss": [1.0]})  # fmt: skip
    other = build_model(TINY.__class__(d_model=16, n_heads=2, d_head=8, d_mlp=32), tiny_task)
    with pytest.raises(ValueError, match="^snapshots: their shapes differ"):
        run_from_snapshots([sd, other], [0, 1], tiny_task, [1])


def test_trained_biases_stay_trainable(tiny_task, tiny_model):
    randomize(tiny_model)  # b_Q ... b_U non-zero: the run's model keeps them as parameters
    run = run_from_snapshots({5: tiny_model}, None, tiny_task, [0, 1, 2])
    assert not run.model.frozen_biases
    assert torch.equal(model_from_run(run).b_U, tiny_model.b_U)


def test_history_from_losses():
    h = history_from_losses([float(i) for i in range(20)], [1.0, 2.0])
    assert h == {"epoch": [0.0, 10.0], "train_loss": [0.0, 10.0], "test_loss": [1.0, 2.0]}
    with pytest.raises(ValueError, match="^history: 20 training losses and 3 test losses"):
        history_from_losses([0.5] * 20, [1.0, 2.0, 3.0])


# ---- external checkpoints with their losses over training


def test_nanda_file_as_run():
    split = authors_split()
    run = run_from_files([external(NANDA_NO_WD)], Task(), split)
    raw = torch.load(NANDA_NO_WD, map_location="cpu", weights_only=True)
    assert sorted(run.snapshots) == [4999] and len(run.history["epoch"]) == 5000
    frame = efficiency_over_training(run)
    assert frame["train_loss"].iloc[0] == raw["train_losses"][-1]
    assert frame["trig_norm_share"].iloc[0] > 0.95  # generalised: Section 5.1's criterion
    # the reconstructed split is the authors': our train loss on it is the file's last
    # (1.668e-10 against 1.681e-10; another seed's split gives >= 8.8e-9)
    model, task = model_from_run(run), run.pairs_task
    with torch.no_grad():
        logits = model(task.tokens())[:, -1]
    ours = float(cross_entropy64(logits[split], task.labels()[split]))
    assert ours == pytest.approx(raw["train_losses"][-1], rel=0.02)


def test_low_precision_file_as_run():
    run = run_from_files([external(NANDA_LOW_PRECISION)], Task(), authors_split())
    raw = torch.load(NANDA_LOW_PRECISION, map_location="cpu", weights_only=True)
    # 50,000 training losses, 5,000 test losses: one row every 10 epochs
    assert run.history["epoch"][-1] == 49990 and sorted(run.snapshots) == [49990]
    frame = efficiency_over_training(run)
    assert frame["test_loss"].iloc[0] == raw["test_losses"][-1]
    assert frame["train_loss"].iloc[0] == raw["train_losses"][49990]


# ---- the CLI


def test_cli_import_then_analyze(tmp_path, capsys):
    split = tmp_path / "split.txt"
    split.write_text(" ".join(map(str, authors_split().tolist())))
    out = tmp_path / "nanda.pt"
    assert main(["import", str(external(NANDA_NO_WD)), "--split", str(split),
                 "--out", str(out)]) == 0  # fmt: skip
    assert "1 snapshot(s) at epochs 4999" in capsys.readouterr().out
    assert torch.equal(load_run(out).train_idx, authors_split())
    # no epoch in the name or the file: the flag is asked for, and then it imports
    folder = external(CHUGHTAI)
    assert main(["import", str(folder), "--split", str(split), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err
    args = ["import", str(folder), "--split", str(split), "--out", str(tmp_path / "c.pt")]
    assert main(args) == 2
    assert "names no epoch" in capsys.readouterr().err
    assert main([*args, "--epochs", "50000"]) == 0
    assert load_run(tmp_path / "c.pt").epoch == 50000


def test_cli_analyze_split(tmp_path, tiny_task, tiny_model, capsys):
    torch.save(tl.hooked_state_dict(tiny_model), tmp_path / "m.pt")
    (tmp_path / "split.json").write_text(json.dumps(list(range(0, 169, 3))))
    base = ["analyze", str(tmp_path / "m.pt"), "--p", "13", "--key-freqs", "1"]
    assert main([*base, "--split", str(tmp_path / "split.json")]) == 0
    shown = capsys.readouterr().out
    assert "loss (train pairs)" in shown and "loss (test pairs)" in shown
    (tmp_path / "bad.json").write_text(json.dumps([0, 169]))
    assert main([*base, "--split", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("grok-interp analyze: error: --split: pair index 169 is out of range")
    assert "\n" not in err
