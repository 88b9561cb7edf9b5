"""Shared fixtures: tiny tasks and models, and the external checkpoints in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grok_interp import tl
from grok_interp.models import ModelPreset, build_model
from grok_interp.tasks import Task

# These modules build HookedTransformers by hand, which TransformerLens 4 removed: under
# 4.x they are not collected (.ci/run runs a named subset there; README, Install).
HAND_BUILT = ["test_sequences.py", "test_circuit_density.py", "test_algorithm.py"]
collect_ignore = HAND_BUILT if tl.major() >= 4 else []

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "external"
MAINLINE = Path(__file__).resolve().parents[1] / "checkpoints" / "mainline.pt"
CHUGHTAI = EXTERNAL / "chughtai_C113_T_seed1"
NANDA_LOW_PRECISION = EXTERNAL / "nanda_low_precision_mod_addition.pth"
NANDA_NO_WD = EXTERNAL / "nanda_mod_addition_no_wd.pth"

TINY = ModelPreset(d_model=32, n_heads=2, d_head=16, d_mlp=64)


def external(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"external fixture {path} is absent (needs ../shared beside the repo)")
    return path


@pytest.fixture(scope="session")
def mainline_report():
    """``analyze()`` of the shipped mainline with every default, once per test process:
    the tests that read it do not change it."""
    from grok_interp.report import analyze

    return analyze(MAINLINE)


@pytest.fixture
def tiny_task() -> Task:
    return Task(op="add", p=13)


@pytest.fixture
def tiny_model(tiny_task: Task):
    return build_model(TINY, tiny_task, seed=0)


def randomize(model, scale: float = 0.3, seed: int = 0) -> None:
    """Perturb every parameter (biases included) so no zero hides a bug."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)


def full_and_resumed(spec, stop_at: int, path: Path):
    """``spec`` trained without a stop, and trained to ``stop_at`` epochs into ``path``,
    then reloaded and resumed to the end there: (uninterrupted Run, resumed Run)."""
    from dataclasses import replace

    from grok_interp.runs import load_run
    from grok_interp.training import train

    full = train(spec, progress=False)
    train(replace(spec, train=replace(spec.train, epochs=stop_at)), out=path, progress=False)
    resumed = load_run(path)
    resumed.train = spec.train
    train(resumed, out=path, progress=False)
    return full, load_run(path)
