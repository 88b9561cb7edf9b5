"""Run files: one self-describing, safely loadable file per training run.

A Run file is a ``torch.save`` of plain containers (dicts, lists, str, numbers, tensors),
so it loads with ``torch.load(..., weights_only=True)``: loading never executes pickled
code. It holds the format version, the task, model preset and trainer config, the seed,
the training indices, the history, weight snapshots, the final weights, and the optimizer
and RNG state needed to resume bit for bit. Saves are atomic: written to a temporary file
in the same folder, flushed, then renamed over the target (nanoGPT's habit of
self-describing checkpoints; POSIX rename for atomicity).

The file names its experiment family (``"family"``, the registry's key:
:mod:`grok_interp.families.registry`), which reads its task and preset and builds its
learner: :func:`model_from_run` is the one loader of a model from a Run, whatever the
family. Files written before the key existed are read by what their task and model imply.
Foreign checkpoints (:func:`load_model` on a path that is not a Run file) are handled by
:mod:`grok_interp.foreign`.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp.config import ModelPreset, TrainConfig
from grok_interp.errors import CheckpointError
from grok_interp.families import registry
from grok_interp.families.base import Family
from grok_interp.models import StateDict, load_params, resolve_device
from grok_interp.tasks import Task, task_dict

FORMAT = "grok_interp.run"
VERSION = 1



# Called at every evaluation with (epoch, model, run); the returned numbers are appended
# to run.history under their names (grok_interp.engine). Analyses record measures this way.
Callback = Callable[[int, Any, "Run"], "dict[str, float] | None"]

__all__ = ["Callback", "CheckpointError", "Run", "RunSpec", "load_run", "save_run",
           "model_from_run",
           "learner", "load_model", "load_params", "read_checkpoint"]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """What to train: a task, a model preset, a trainer config and a seed; the pair of
    task and preset types names its experiment family (:attr:`family`).

    ``init``: the path of a Run file whose final weights this run starts from instead of a
    seeded initialisation (Varma et al. 2023, Section 5.2: ungrokking continues a network
    that generalised). Its training pairs are then drawn, seeded by ``seed``, from that
    run's training set (``train.n_train`` of them, or ``train.frac_train`` of all pairs);
    task and model must be that run's. The optimizer starts afresh."""

    task: Any = field(default_factory=Task)
    model: Any = field(default_factory=ModelPreset)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    init: str | None = None

    @property
    def family(self) -> Family:
        return registry.of(self.task, self.model)


@dataclass(kw_only=True, repr=False)
class Run:
    """Everything about one training run; :func:`save_run` / :func:`load_run` persist it.

    ``history`` maps a metric name to a list aligned with ``history["epoch"]``;
    ``snapshots`` maps an epoch to the trainable parameters then (``snapshot_dtype``);
    ``progress`` holds the progress measures per snapshot epoch (``grok-interp progress``).
    """

    task: Any  # the family's task type
    model: Any  # the family's preset type
    train: TrainConfig
    seed: int
    train_idx: Tensor
    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: dict[int, StateDict] = field(default_factory=dict)
    weights: StateDict = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)
    rng: Tensor | None = None
    progress: dict[str, list[float]] = field(default_factory=dict)

    @property
    def family(self) -> Family:
        """The run's experiment family (:mod:`grok_interp.families.registry`)."""
        return registry.of(self.task, self.model)

    @property
    def pairs_task(self) -> Task:
        """The run's task when it is one of pairs (a :class:`Task`), which the pair
        analyses need; a one-line error for the other families."""
        return self.family.pairs_task(self)  # type: ignore[no-any-return]

    @property
    def test_idx(self) -> Int[Tensor, " n_test"]:
        return self.family.test_idx(self)

    @property
    def done(self) -> bool:
        return self.epoch >= self.train.epochs

    def final_metrics(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items() if v}

    def _summary(self) -> dict[str, str]:
        m = self.final_metrics()
        snaps = sorted(self.snapshots)
        return {
            "task": self.task.describe(),
            "model": ", ".join(f"{k} {v}" for k, v in asdict(self.model).items()),
            "train": ", ".join(f"{k} {v}" for k, v in asdict(self.train).items()),
            "seed": str(self.seed),
            "epoch": f"{self.epoch} of {self.train.epochs}, {len(self.train_idx)} training pairs",
            "final": ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "epoch") or "-",
            "snapshots": f"{len(snaps)}" + (f": {snaps[0]} ... {snaps[-1]}" if snaps else ""),
        }

    def __repr__(self) -> str:
        s = self._summary()
        return f"Run({s['task']}, seed {s['seed']}, epoch {s['epoch']}; {s['final']})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in self._summary().items()
        )
        return f"<table>{rows}</table>"


def _to_dict(run: Run) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "family": run.family.kind,
        "task": task_dict(run.task),
        "model": asdict(run.model),
        "train": {**asdict(run.train), "betas": list(run.train.betas)},
        "seed": run.seed,
        "train_idx": run.train_idx,
        "epoch": run.epoch,
        "history": run.history,
        "snapshots": {str(k): v for k, v in run.snapshots.items()},
        "weights": run.weights,
        "optimizer": run.optimizer,
        "rng": run.rng,
        "progress": run.progress,
    }


def _from_dict(d: dict[str, Any], path: str | Path) -> Run:
    if d.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: run format version {d.get('version')} is not supported (this "
            f"grok_interp reads version {VERSION}); regenerate it with grok-interp train"
        )
    train = {**d["train"], "betas": tuple(d["train"]["betas"])}
    family = registry.get(registry.kind_of_file(d))
    return Run(
        task=family.read_task(d["task"]),
        model=family.read_preset(d["model"]),
        train=TrainConfig(**train),
        seed=int(d["seed"]),
        train_idx=d["train_idx"],
        epoch=int(d["epoch"]),
        history=d["history"],
        snapshots={int(k): v for k, v in d["snapshots"].items()},
        weights=d["weights"],
        optimizer=d["optimizer"],
        rng=d["rng"],
        progress=d.get("progress", {}),
    )


def usual_mode(path: str | Path) -> None:
    """Give a file the mode the user's umask gives new files (0666 less the umask), for
    writers that create theirs 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        usual_mode(tmp)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_run(run: Run, path: str | Path) -> None:
    atomic_save(_to_dict(run), path)


def read_checkpoint(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``, turning every failure into a clear error."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pt")) + sorted(
            p.name for p in path.glob("*.pth")
        )
        if len(found) != 1:
            raise CheckpointError(f"{path} is a folder; give the checkpoint file inside it")
        path = path / found[0]
    if not path.exists():
        raise CheckpointError(f"no such file: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise CheckpointError(_unreadable(path, e)) from e


def _unreadable(path: Path, error: Exception) -> str:
    """Why torch could not read ``path``, in whole sentences without terminal codes: a
    file that pickles a Python object (a config class...) is intact, and is refused only
    because loading it would run pickled code; anything else may be damaged."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"{path} is intact but holds a pickled Python object ({found.group(1)}); "
            "loading it would run the file's code, which is refused on purpose. If you "
            "trust the file, load it with torch.load(path, weights_only=False) and give analyze() "
            "the model, or save its state dict alone (torch.save(model.state_dict(), ...))"
        )
    unpickler = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(\n\n|$)", text, re.S)
    detail = unpickler.group(1) if unpickler else text.strip() or "no detail"
    first = re.split(r"(?<=\.)\s", detail.splitlines()[0])[0].rstrip(".")  # one whole sentence
    return (
        f"{path} could not be read as a torch checkpoint ({type(error).__name__}: {first}). "
        "The file may be truncated or corrupt, or not a checkpoint, or one that needs "
        "pickled code (refused on purpose); re-download or regenerate it"
    )


def is_run_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def load_run(path: str | Path) -> Run:
    return run_from_checkpoint(read_checkpoint(path), path)


def run_from_checkpoint(obj: Any, path: str | Path) -> Run:
    """The Run in an object already read by :func:`read_checkpoint`."""
    if not is_run_dict(obj):
        raise CheckpointError(
            f"{path} is not a grok_interp Run file; use load_model() for foreign checkpoints"
        )
    try:
        return _from_dict(obj, path)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged Run file ({e}); regenerate it") from e


def learner(run: Run, device: str | torch.device = "cpu") -> Any:
    """The run's learner, freshly initialised from its seed (its family builds it)."""
    return run.family.build(run.model, run.task, seed=run.seed, device=resolve_device(device))


def model_from_run(run: Run, step: int | None = None, device: str | torch.device = "cpu") -> Any:
    """The run's learner, whatever its family (a HookedTransformer, a toy model, an
    RNN: each a HookedRootModule): final weights, or the snapshot at epoch ``step``."""
    model = learner(run, device)
    _load_step(model, run, step)
    return model.eval()


# The names of the loaders this one replaced, kept for scripts written against them.
rnn_from_run = model_from_run


def _load_step(model: torch.nn.Module, run: Run, step: int | None) -> None:
    if step is None:
        load_params(model, run.weights)
    elif step in run.snapshots:
        load_params(model, run.snapshots[step])
    else:
        raise CheckpointError(
            f"no snapshot at epoch {step}; snapshots exist at {sorted(run.snapshots)}"
        )


def load_model(
    source: str | Path | Run,
    step: int | None = None,
    *,
    task: Task | None = None,
    act_fn: str | None = None,
    device: str | torch.device = "cpu",
) -> tuple[Any, Task]:
    """A transformer (:mod:`grok_interp.tl`) and its Task from a Run, a Run file or a
    foreign checkpoint.

    ``step`` picks a snapshot of a Run. For foreign checkpoints (TransformerLens state
    dicts, the Nanda et al. authors' format) ``task`` and ``act_fn`` give what the
    tensors cannot tell; otherwise ``add`` with the layout the vocabulary implies, and
    ReLU, are assumed (:mod:`grok_interp.foreign`; ``analyze()`` states them).
    """
    if isinstance(source, Run):
        return model_from_run(source, step, device), source.pairs_task
    obj = read_checkpoint(source)
    if is_run_dict(obj):
        run = run_from_checkpoint(obj, source)
        return model_from_run(run, step, device), run.pairs_task
    from grok_interp.foreign import model_from_foreign

    if step is not None:
        raise CheckpointError(f"{source} is a foreign checkpoint: it has no snapshots")
    model, found, _ = model_from_foreign(obj, source, task=task, act_fn=act_fn, device=device)
    return model, found
