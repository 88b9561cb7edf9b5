"""Shared fixtures: tiny tasks and models, and the external checkpoints in ../shared."""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch


def _import_dependencies_first() -> None:
    """Import every third-party module that grok_interp imports at module level, before
    grok_interp itself. jaxtyping's import hook (pytest's addopts) looks for bytecode under
    its own tag while an instrumented module executes, so a dependency first imported from
    inside one (torch, transformer_lens, scipy, ... 2,800 modules) was compiled from source
    in every test process where bytecode is not written (PYTHONDONTWRITEBYTECODE): 8 s of
    each worker's start."""
    package = Path(__file__).resolve().parents[1] / "grok_interp"
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    for name in sorted(names):
        if name.split(".")[0] not in sys.stdlib_module_names | {"grok_interp"}:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    with contextlib.suppress(ImportError):  # beartype imports most of itself on first use
        from beartype import beartype
        from jaxtyping import Float, jaxtyped

        @jaxtyped(typechecker=beartype)
        def first(x: Float[torch.Tensor, " n"]) -> Float[torch.Tensor, " n"]:
            return x

        first(torch.zeros(1))


_import_dependencies_first()


def _one_share_of_the_cores() -> None:
    """Under pytest-xdist each worker takes its share of the cores (and passes it to the
    processes it starts): torch's default, every core in every worker, oversubscribes the
    CPU, and the small models' many short parallel regions then wait on each other (a
    trainer test of 0.6 s alone took 30 s beside another worker on 2 cores)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


_one_share_of_the_cores()

# after the two calls above, which must come first
from grok_interp import tl  # noqa: E402
from grok_interp.models import ModelPreset, build_model  # noqa: E402
from grok_interp.tasks import Task  # noqa: E402

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
    """``analyze()`` of the shipped mainline with every default but the measures over
    training (seconds more; tests/test_page.py adds them), once per test process: the
    tests that read it do not change it."""
    from grok_interp.report import analyze

    return analyze(MAINLINE, over_training=False)


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
