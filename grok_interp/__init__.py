"""grok_interp: train and reverse-engineer grokking transformers (TransformerLens).

Quick tour::

    from grok_interp import Task, RunSpec, TrainConfig, preset, train, load_model
    run = train(RunSpec(task=Task(op="add", p=113), model=preset("mainline")))
    model, task = load_model("checkpoints/mainline.pt")

The names below load their modules on first use (PEP 562), so ``import grok_interp`` and
the CLI's ``--help`` do not pay for importing torch and TransformerLens.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CheckpointError": "grok_interp.runs",
    "ModelPreset": "grok_interp.config",
    "Run": "grok_interp.runs",
    "RunSpec": "grok_interp.training",
    "Task": "grok_interp.tasks",
    "TaskError": "grok_interp.tasks",
    "TrainConfig": "grok_interp.config",
    "analyze": "grok_interp.report",
    "build_model": "grok_interp.models",
    "load_model": "grok_interp.runs",
    "load_run": "grok_interp.runs",
    "preset": "grok_interp.config",
    "save_run": "grok_interp.runs",
    "split": "grok_interp.tasks",
    "train": "grok_interp.training",
    "train_many": "grok_interp.training",
}
__all__ = [
    "CheckpointError",
    "ModelPreset",
    "Run",
    "RunSpec",
    "Task",
    "TaskError",
    "TrainConfig",
    "analyze",
    "build_model",
    "load_model",
    "load_run",
    "preset",
    "save_run",
    "split",
    "train",
    "train_many",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:
    from grok_interp.config import ModelPreset, TrainConfig, preset
    from grok_interp.models import build_model
    from grok_interp.report import analyze
    from grok_interp.runs import CheckpointError, Run, load_model, load_run, save_run
    from grok_interp.tasks import Task, TaskError, split
    from grok_interp.training import RunSpec, train, train_many


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'grok_interp' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
