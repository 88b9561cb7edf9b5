"""Shared fixtures: tiny tasks and models, and the external checkpoints in ../shared."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grok_interp import tl
from grok_interp.models import ModelPreset, build_model
from grok_interp.tasks import Task

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


def hand_built(**fields) -> tl.Model:
    """A transformer of ``tl.config(**fields)`` with every weight zero, under either
    TransformerLens major: the start of a known-answer model (set its weights with
    :func:`weights`); on the CPU unless ``device`` says otherwise.

    ``act_fn="relu2"`` (squared ReLU, which exact products need) exists in 3.x's
    HookedTransformer but not in 4.x's native MLP (relu, gelu, silu, solu only): there the
    model is built with ReLU and each native MLP's activation squared afterwards (the
    bridge's ``mlp.hook_pre`` / ``hook_post`` sit on its linear layers, around it)."""
    squared = fields.get("act_fn") == "relu2" and tl.major() >= 4
    cfg = tl.config(**{"device": "cpu", **fields, **({"act_fn": "relu"} if squared else {})})
    model = tl.build(cfg, seed=0)
    if squared:
        for block in model.blocks:
            block.mlp.original_component.act = lambda x: torch.relu(x) ** 2
        model.cfg.act_fn = "relu2"
    with weights(model) as w:
        for t in w.values():
            t.zero_()
    return model


@contextlib.contextmanager
def weights(model) -> Iterator[dict[str, torch.Tensor]]:
    """``model``'s weights as a HookedTransformer-layout state dict (``embed.W_E``,
    ``blocks.0.attn.W_Q`` of shape (head, d_model, d_head)...) to edit in place; written
    back into the model, of either kind, on leaving the block."""
    sd = tl.hooked_state_dict(model)
    yield sd
    tl.load_hooked(model, sd)


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


def interrupted(spec, path: Path, at: int = 15):
    """``spec`` trained into ``path`` and stopped by a KeyboardInterrupt at epoch ``at``,
    as Ctrl-C stops it: the Run file as it was saved then."""
    from grok_interp.runs import load_run
    from grok_interp.training import train

    def kill(epoch, model, run):
        if epoch == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(spec, out=path, callbacks=[kill], progress=False)
    return load_run(path)
