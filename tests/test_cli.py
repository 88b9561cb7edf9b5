import json

import torch

from grok_interp.cli import main
from grok_interp.runs import load_run


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
    assert main(["info", str(tmp_path / "r1.pt")]) == 0
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
