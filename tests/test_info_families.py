"""``grok-interp info`` states what each run used: the loss it trained on (the toy
model's MSE, not the pair trainer's cross-entropy field), the optimizer (SGD without
Adam's betas for streaming parity, AdamW with them elsewhere), the training set it had
(no "frac_train None, n_train None" beside the number of examples), and leaves out the
options that were off."""

from pathlib import Path

from grok_interp.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _info(capsys, path) -> str:
    assert main(["info", str(path)]) == 0
    return capsys.readouterr().out.replace("\n           ", " ")


def _training(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith("training")]
    return line


def test_mainline_says_adamw_cross_entropy_and_its_training_set(capsys):
    line = _training(_info(capsys, ROOT / "checkpoints" / "mainline.pt"))
    assert "optimizer AdamW, betas (0.9, 0.98)" in line and "loss cross_entropy" in line
    assert "None" not in line and "False" not in line  # options off are left out
    assert "dropout" not in line and "grokfast" not in line


def test_parity_says_sgd_without_betas(capsys):
    line = _training(_info(capsys, ROOT / "checkpoints" / "parity_rnn.pt"))
    assert "optimizer SGD (no momentum)" in line and "betas" not in line
    assert "batch_size 128" in line


def test_parity_says_mse(capsys):
    line = _training(_info(capsys, ROOT / "checkpoints" / "parity_rnn.pt"))
    assert "loss mse" in line and "cross_entropy" not in line


def test_toy_says_its_own_loss(capsys, tmp_path):
    toy = tmp_path / "toy.pt"
    assert main(["train", "--family", "toy", "--set", "train.epochs=4", "--snapshot-every",
                 "2", "--eval-every", "2", "--out", str(toy), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    line = _training(_info(capsys, toy))
    assert "loss mse" in line and "cross_entropy" not in line
    assert "lr_embed 0.001" in line and "n_train 45" in line
