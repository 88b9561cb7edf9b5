import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from grok_interp.cli import main
from grok_interp.runs import TrainConfig, load_run
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train


def test_train_info_resume(tmp_path, capsys):
    out = str(tmp_path / "r{seed}.pt")
    args = [
        "train",
        "--p",
        "7",
        "--d-model",
        "16",
        "--n-heads",
        "2",
        "--d-head",
        "8",
        "--d-mlp",
        "32",
        "--epochs",
        "20",
        "--snapshot-every",
        "10",
        "--eval-every",
        "10",
        "--frac-train",
        "0.5",
        "--seed",
        "0",
        "1",
        "--out",
        out,
        "--quiet",
    ]
    assert main(args) == 0
    assert main(["info", str(tmp_path / "r1.pt"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 2)[2])
    assert info["seed"] == 1 and info["snapshots"] == [0, 10, 20] and info["model"]["d_mlp"] == 32
    # resuming continues training: 20 -> 30 epochs ends where 30 epochs from scratch do
    assert (
        main(["train", "--resume", "--seed", "0", "--out", out, "--epochs", "30", "--quiet"]) == 0
    )
    full = str(tmp_path / "full.pt")
    at = args.index("--epochs") + 1
    seed = args.index("--seed")
    assert main([*args[:at], "30", *args[at + 1 : seed], "--seed", "0", "--out", full]) == 0
    resumed, fresh = load_run(tmp_path / "r0.pt"), load_run(full)
    assert resumed.epoch == 30 and resumed.history["epoch"][-1] == 30
    for k in fresh.weights:
        assert torch.equal(resumed.weights[k], fresh.weights[k]), k


def test_clear_errors(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.pt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--task", "div", "--p", "12", "--out", str(tmp_path / "x.pt")]) == 2
    assert "prime" in capsys.readouterr().err


def test_device_errors_say_what_the_machine_has(tmp_path, capsys):
    shipped = "checkpoints/mainline.pt"
    assert main(["analyze", shipped, "--device", "gpu"]) == 2
    assert "unknown device 'gpu'" in capsys.readouterr().err
    n_gpus = torch.cuda.device_count()
    out = str(tmp_path / "x.pt")
    for cmd in (["train", "--p", "7", "--out", out], ["progress", shipped, "--out", out]):
        assert main([*cmd, "--device", f"cuda:{n_gpus}"]) == 2
        assert f"this machine has {n_gpus} CUDA device(s)" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()  # nothing trained or written


SMALL = ["--p", "11", "--preset", "small", "--eval-every", "10", "--snapshot-every", "10",
         "--quiet"]  # fmt: skip


def _train(out, *extra):
    return main(["train", *SMALL, "--epochs", "20", "--out", str(out), *extra])


def test_existing_files_are_not_replaced_without_being_asked(tmp_path, capsys):
    note = tmp_path / "notes.txt"
    note.write_text("a user's file")
    assert _train(note) == 2
    assert "exists; add --resume to continue it or --overwrite" in capsys.readouterr().err
    assert note.read_text() == "a user's file"
    run = tmp_path / "run.pt"
    assert _train(run) == 0
    before = run.read_bytes()
    assert _train(run) == 2 and run.read_bytes() == before
    assert _train(run, "--overwrite") == 0
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train(RunSpec(task=Task(p=11), train=TrainConfig(epochs=1)), out=run, progress=False)


def test_info_and_progress_say_what_they_found_in_words(tmp_path, capsys):
    run = tmp_path / "run.pt"
    assert _train(run) == 0 and main(["info", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]  # after train's own line
    assert lines[0] == "task       add mod 11, tokens 'a b ='" and "{" not in "".join(lines)
    assert "epoch      20 (done), 36 training examples" in lines
    assert main(["progress", str(run)]) == 0  # 20 epochs: nothing grokked, nothing sparse
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("measured at 3 snapshots (epochs 0 to 20): train_loss, train_acc")
    assert "excluded_loss_k, alpha_k" in said[0]
    assert said[1].startswith("no sparse structure: ") and "--key-freqs" in said[1]
    assert said[2] == "phases: none (the test loss never falls tenfold: the run has not grokked)"
    assert main(["info", str(tmp_path / "run-progress.pt")]) == 0
    assert "progress   measured at 3 snapshots; no phases" in capsys.readouterr().out


def test_progress_writes_a_new_file_unless_in_place(tmp_path):
    run = tmp_path / "run.pt"
    assert _train(run) == 0
    before = run.read_bytes()
    assert main(["progress", str(run), "--key-freqs", "1", "2", "--keep-every", "20"]) == 0
    assert run.read_bytes() == before  # the input is untouched
    out = load_run(tmp_path / "run-progress.pt")
    assert out.progress["epoch"] == [0.0, 10.0, 20.0] and sorted(out.snapshots) == [0, 20]
    assert main(["progress", str(run), "--key-freqs", "1", "2"]) == 2  # would replace
    assert main(["progress", str(run), "--key-freqs", "1", "2", "--in-place"]) == 0
    assert load_run(run).progress


def test_resume_refuses_flags_that_change_the_run(tmp_path, capsys):
    run = tmp_path / "run.pt"
    assert _train(run) == 0
    before = run.read_bytes()
    bad = ["train", "--resume", "--out", str(run), "--lr", "0.01", "--d-mlp", "64", "--quiet"]
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "--lr 0.01 (the run has 0.001)" in err and "--d-mlp 64 (the run has 256)" in err
    assert run.read_bytes() == before
    ok = ["train", "--resume", "--out", str(run), "--epochs", "30", "--eval-every", "5"]
    assert main([*ok, "--quiet"]) == 0
    resumed = load_run(run)
    assert resumed.epoch == 30 and resumed.train.eval_every == 5


def test_ctrl_c_saves_the_epoch_reached_and_resumes_bit_for_bit(tmp_path):
    run = tmp_path / "run.pt"
    cmd = [sys.executable, "-m", "grok_interp.cli", "train", *SMALL, "--epochs", "1000000",
           "--save-every", "1000000", "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not run.exists() and time.time() < deadline:  # saved once, at epoch 0
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted at epoch "), err
    epoch = load_run(run).epoch
    assert f"interrupted at epoch {epoch}, saved to {run}" in lines[0] and epoch > 0
    assert (
        main(["train", "--resume", "--out", str(run), "--epochs", str(epoch + 15), "--quiet"]) == 0
    )
    fresh = tmp_path / "fresh.pt"
    assert main(["train", *SMALL, "--epochs", str(epoch + 15), "--out", str(fresh)]) == 0
    a, b = load_run(run), load_run(fresh)
    for k in b.weights:
        assert torch.equal(a.weights[k], b.weights[k]), k


def test_one_line_errors_and_nothing_written(tmp_path, capsys):
    shipped = "checkpoints/mainline.pt"
    assert main(["train", "--seed", "0", "1", "--out", str(tmp_path / "r.pt")]) == 2
    assert "{seed}" in capsys.readouterr().err and not list(tmp_path.iterdir())
    full = tmp_path / "report"
    full.mkdir()
    (full / "mine.txt").write_text("keep")
    assert main(["analyze", shipped, "--out", str(full)]) == 2
    assert "--overwrite" in capsys.readouterr().err and os.listdir(full) == ["mine.txt"]
    empty = tmp_path / "empty"
    assert main(["analyze", shipped, "--out", str(empty), "--pair", "3", "200"]) == 2
    assert "--pair 3 200 is not an input" in capsys.readouterr().err and not empty.exists()
    assert main(["analyze", shipped, "--p", "97"]) == 2  # the model does not fit the task
    assert "does not fit" in capsys.readouterr().err
    assert main(["info", "checkpoints"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["train", "--p", "7", "--n-train", "49", "--out", str(tmp_path / "n.pt")]) == 2
    err = capsys.readouterr().err  # the CLI names its flags, Python its arguments
    assert "--n-train" in err and "n_train" not in err.replace("--n-train", "")


def test_task_flags_without_p_take_the_checkpoints_p(capsys):
    assert main(["analyze", "checkpoints/mainline.pt", "--task", "mul", "--no-over-training"]) == 0
    captured = capsys.readouterr()
    assert "mul" in captured.err  # logit fit and ablations describe add, not mul
    assert "loss (test pairs)" in captured.out


def test_help_imports_no_torch():
    code = (
        "import sys\nfrom grok_interp.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'transformer_lens' not in sys.modules\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "default: the preset's (mainline 512, small 256" in subprocess.run(
        [sys.executable, "-m", "grok_interp.cli", "train", "--help"], capture_output=True, text=True
    ).stdout.replace("\n", " ").replace("  ", " ")


def test_moduli_the_readme_states_are_the_ones_the_code_takes(tmp_path, capsys):
    """README, CLI section: every task trains on any p >= 2 but div and div_or_sub, which
    need a prime p; `train --p 24` trains."""
    from grok_interp.tasks import OPERATIONS, TaskError

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    said = re.search(r"Every task trains on any p >= 2 \(`train --p 24` trains add mod 24\), "
                     r"except ((?:`\w+`(?:,| and)? ?)+), which need", readme)  # fmt: skip
    assert said, "the README's CLI section no longer says which tasks need a prime p"
    need_prime = set(re.findall(r"`(\w+)`", said.group(1)))
    for op, operation in OPERATIONS.items():
        field = operation.needs == "field"
        if operation.needs == "group":
            continue
        try:
            Task(op=op, p=24)
            refused = False
        except TaskError as e:
            refused = "prime" in str(e)
        assert refused == (op in need_prime) == field, op
    out = tmp_path / "p24.pt"
    assert main(["train", "--p", "24", *SMALL[2:], "--epochs", "10", "--out", str(out)]) == 0
    assert load_run(out).task.p == 24 and "epoch 10" in capsys.readouterr().out
    assert main(["train", "--task", "div", "--p", "24", "--out", str(tmp_path / "d.pt")]) == 2
    assert "prime" in capsys.readouterr().err and not (tmp_path / "d.pt").exists()


def test_progress_serves_every_family(tmp_path, capsys):
    """A parity Run gets its automaton at each snapshot, a toy Run its representation
    quality; both stored in the Run's progress and named by info."""
    shipped = Path(__file__).resolve().parents[1] / "checkpoints" / "parity_rnn.pt"
    out = tmp_path / "parity.pt"
    assert main(["progress", str(shipped), "--out", str(out), "--keep-every", "500"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("measured at 41 snapshots (van Rossem & Saxe 2025):")
    run = load_run(out)
    assert sorted(run.snapshots) == [0, 500, 1000] and len(run.progress["epoch"]) == 41
    # docs/parity.md's table: the leader rule's automaton grows from 7 states at
    # initialisation to 47 at epoch 1,000, whose minimal automaton is the parity machine
    assert run.progress["n_states"][0] == 7 and run.progress["n_states"][-1] == 47
    assert run.progress["n_minimal"][-1] == 2 and run.progress["test_acc"][-1] == 1.0
    assert set(run.progress["complete"]) <= {0.0, 1.0}
    assert main(["info", str(out)]) == 0
    assert "n_states" in capsys.readouterr().out
    toy = tmp_path / "toy.pt"
    assert main(["train", "--family", "toy", "--epochs", "200", "--snapshot-every", "100",
                 "--out", str(toy), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["progress", str(toy), "--in-place"]) == 0
    assert capsys.readouterr().out.startswith("measured at 3 snapshots (Liu et al. 2022):")
    assert set(load_run(toy).progress) >= {"epoch", "rqi", "predicted_test_acc"}
    assert main(["progress", str(toy), "--in-place", "--key-freqs", "1"]) == 2
    assert "--key-freqs applies to runs of pairs" in capsys.readouterr().err
