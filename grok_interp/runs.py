"""Run files: one self-describing, safely loadable file per training run.

A Run file is a ``torch.save`` of plain containers (dicts, lists, str, numbers, tensors),
so it loads with ``torch.load(..., weights_only=True)``: loading never executes pickled
code. It holds the format version, the task, model preset and trainer config, the seed,
the training indices, the history, weight snapshots, the final weights, and the optimizer
and RNG state needed to resume bit for bit. Saves are atomic: written to a temporary file
in the same folder, flushed, then renamed over the target (nanoGPT's habit of
self-describing checkpoints; POSIX rename for atomicity).

Foreign checkpoints (:func:`load_model` on a path that is not a Run file) are handled by
:mod:`grok_interp.foreign`.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grok_interp import tl
from grok_interp.config import Preset, RNNPreset, ToyPreset, TrainConfig
from grok_interp.models import ModelPreset, build_model
from grok_interp.parity import HookedRNN, ParityTask, build_rnn
from grok_interp.sequences import SeqTask
from grok_interp.tasks import Task, heldout_indices
from grok_interp.tl import Model

FORMAT = "grok_interp.run"
VERSION = 1

StateDict = dict[str, Tensor]


class CheckpointError(ValueError):
    """A file that cannot be read as a run or a supported checkpoint; says what to do."""


@dataclass(kw_only=True, repr=False)
class Run:
    """Everything about one training run; :func:`save_run` / :func:`load_run` persist it.

    ``history`` maps a metric name to a list aligned with ``history["epoch"]``;
    ``snapshots`` maps an epoch to the trainable parameters then (``snapshot_dtype``);
    ``progress`` holds the progress measures per snapshot epoch (``grok-interp progress``).
    """

    task: Task | SeqTask | ParityTask
    model: Preset
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
    def pairs_task(self) -> Task:
        """The run's task when it is one of pairs (a :class:`Task`), which the pair
        analyses need; a one-line error for a sequence task."""
        if isinstance(self.task, SeqTask | ParityTask):
            raise CheckpointError(
                f"this run is on {self.task.describe()}: the pair analyses do not apply "
                "(see grok_interp.analyses.sequence_heads, or .automaton for parity)"
            )
        return self.task

    @property
    def test_idx(self) -> Tensor:
        if isinstance(self.task, SeqTask):  # its test set is its own stream
            return torch.arange(self.task.n_test)
        if isinstance(self.task, ParityTask):
            return torch.arange(self.task.n_val)
        return heldout_indices(self.task, self.train_idx)

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
        "task": asdict(run.task),
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


def preset_from_dict(d: dict[str, Any]) -> Preset:
    """A transformer preset, a toy one (``kind: "toy"``) or an RNN (``kind: "rnn"``),
    from its dict."""
    kind = d.get("kind")
    if kind == "toy":
        return ToyPreset(**d)
    return RNNPreset(**d) if kind == "rnn" else ModelPreset(**d)


def task_from_dict(d: dict[str, Any]) -> Task | SeqTask | ParityTask:
    if d.get("kind") == "parity":
        return ParityTask(**{**d, "long_lens": tuple(d["long_lens"])})
    return SeqTask(**d) if "kind" in d else Task(**d)


def _from_dict(d: dict[str, Any], path: str | Path) -> Run:
    if d.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: run format version {d.get('version')} is not supported (this "
            f"grok_interp reads version {VERSION}); regenerate it with grok-interp train"
        )
    train = {**d["train"], "betas": tuple(d["train"]["betas"])}
    return Run(
        task=task_from_dict(d["task"]),
        model=preset_from_dict(d["model"]),
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


def load_params(model: torch.nn.Module, params: StateDict) -> None:
    """Copy saved parameters, frozen ones included, into ``model`` (a transformer or
    a toy model; buffers such as attention masks are kept). ``params`` are named and laid
    out as a HookedTransformer's, whichever kind ``model`` is (:mod:`grok_interp.tl`)."""
    if tl.is_bridge(model):
        try:
            return tl.load_hooked(model, params)
        except KeyError as e:
            raise CheckpointError(e.args[0]) from None
    dtype = next(model.parameters()).dtype
    own = dict(model.named_parameters())
    missing = set(own) - set(params)
    if missing:
        raise CheckpointError(f"checkpoint lacks parameters {sorted(missing)[:5]}")
    with torch.no_grad():
        for name, p in own.items():
            p.copy_(params[name].to(dtype))


def model_from_run(
    run: Run, step: int | None = None, device: str | torch.device = "cpu"
) -> Model:
    """The run's transformer: final weights, or the snapshot at epoch ``step``."""
    if isinstance(run.model, ToyPreset):
        raise CheckpointError(
            "a toy-model run holds no transformer: use grok_interp.toy.toy_model(run)"
        )
    if isinstance(run.model, RNNPreset):
        raise CheckpointError("an RNN run holds no transformer: use "
                              "grok_interp.runs.rnn_from_run(run)")  # fmt: skip
    model = build_model(run.model, run.task, seed=run.seed, device=device)
    _load_step(model, run, step)
    return model.eval()


def rnn_from_run(
    run: Run, step: int | None = None, device: str | torch.device = "cpu"
) -> HookedRNN:
    """The run's :class:`~grok_interp.parity.HookedRNN`: final weights, or the snapshot at
    epoch ``step``."""
    if not isinstance(run.model, RNNPreset):
        raise CheckpointError("this run's model is not an RNN: use model_from_run(run)")
    model = build_rnn(run.model, seed=run.seed, device=device)
    _load_step(model, run, step)
    return model.eval()


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
) -> tuple[Model, Task]:
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
