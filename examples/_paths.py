"""Where the example scripts find the shipped runs."""

from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
MAINLINE = CHECKPOINTS / "mainline.pt"
SEEDS = [MAINLINE] + [CHECKPOINTS / f"seed{s}.pt" for s in range(1, 5)]
