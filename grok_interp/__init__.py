"""grok_interp: train and reverse-engineer grokking transformers (TransformerLens).

Quick tour::

    from grok_interp import Task, RunSpec, TrainConfig, preset, train, load_model
    run = train(RunSpec(task=Task(op="add", p=113), model=preset("mainline")))
    model, task = load_model("checkpoints/mainline.pt")
"""

from grok_interp.models import ModelPreset, build_model, preset
from grok_interp.runs import CheckpointError, Run, TrainConfig, load_model, load_run, save_run
from grok_interp.tasks import Task, TaskError, split
from grok_interp.training import RunSpec, train, train_many

__all__ = [
    "CheckpointError",
    "ModelPreset",
    "Run",
    "RunSpec",
    "Task",
    "TaskError",
    "TrainConfig",
    "build_model",
    "load_model",
    "load_run",
    "preset",
    "save_run",
    "split",
    "train",
    "train_many",
]
