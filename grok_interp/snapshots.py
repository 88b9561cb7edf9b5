"""Your own model, your own snapshots: a split and a training run made by other code.

Two entry points for models trained elsewhere:

- :func:`train_indices` reads a train/test split of the p^2 pairs in the form other code
  keeps it: pair indices ``a*p + b`` (the a-major order of :meth:`Task.pairs`), or a
  boolean mask over the p^2 pairs, or a file holding either (``.pt``/``.pth`` through
  ``torch.load(weights_only=True)``, ``.npy``, ``.json``, or plain text of numbers). With
  it, ``analyze(model, task, split=...)`` reports losses, o_mem and predicted accuracy per
  pair set (train, test, all) exactly as it does for a Run file.
- :func:`run_from_snapshots` builds a :class:`~grok_interp.runs.Run` from snapshots
  (state dicts, HookedTransformers, or files in any layout :mod:`grok_interp.foreign`
  reads) with their epochs, the task, the split and, optionally, the losses over
  training, so that every over-training measure (Nanda et al. 2023 Section 5's progress
  measures, Varma et al. 2023 Fig 9 via ``efficiency_over_training``, Humayun et al.'s
  circuit density over training, Liu et al.'s representation over training) applies to it.

Conventions of the imported Run: its model preset comes from the tensors' shapes (the
activation is ReLU unless ``act_fn`` is given, as for foreign checkpoints); the biases
TransformerLens has and the paper's model lacks (``b_Q, b_K, b_V, b_O, b_U``) count as
frozen when they are zero in every snapshot; ``train`` (a TrainConfig) is provenance only,
by default ``epochs`` = the last snapshot's epoch and ``n_train`` = the split's size; the
Run holds no optimizer state, so it is analysed, not resumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp import tl
from grok_interp.config import ModelPreset, TrainConfig
from grok_interp.foreign import model_from_foreign
from grok_interp.models import FROZEN_BIASES
from grok_interp.runs import CheckpointError, Run, StateDict, read_checkpoint, save_run
from grok_interp.tasks import Task, on_pairs
from grok_interp.tl import Model

SplitLike = Tensor | np.ndarray | Sequence[int] | Sequence[bool] | str | Path
Snapshot = StateDict | Model | str | Path | Mapping[str, Any]
# keys under which a file may keep the split instead of holding it bare
History = dict[str, list[float]]
SPLIT_KEYS = ("train_idx", "train_indices", "train_mask", "is_train")


def _read_split(path: Path, name: str) -> Any:
    if not path.exists():
        raise ValueError(f"{name}: no such file: {path}")
    if path.suffix in (".pt", ".pth"):
        obj = read_checkpoint(path)
    elif path.suffix == ".npy":
        obj = np.load(path, allow_pickle=False)
    elif path.suffix == ".json":
        obj = json.loads(path.read_text())
    else:
        words = re.split(r"[\s,]+", path.read_text().strip())
        bools = {"true": True, "false": False}
        try:
            obj = [bools[w.lower()] if w.lower() in bools else int(w) for w in words if w]
        except ValueError:
            raise ValueError(
                f"{name}: {path} holds text that is not integers or true/false; "
                "give pair indices a*p + b or a mask over the p^2 pairs"
            ) from None
    if isinstance(obj, dict):
        found = [k for k in SPLIT_KEYS if k in obj]
        if not found:
            raise ValueError(f"{name}: {path} holds a dict without any of {', '.join(SPLIT_KEYS)}")
        obj = obj[found[0]]
    return obj


def train_indices(split: SplitLike, task: Task, *, name: str = "split") -> Int[Tensor, " n_train"]:
    """The training pairs' indices (``a*p + b``) from indices, a mask over the p^2 pairs, or
    a file holding either (module docstring). A bool mask, or a 0/1 list of length p^2,
    is a mask; anything else lists indices. Refused with a one-line error naming ``name``:
    the wrong length, an index out of range or repeated, an empty training or test set."""
    if not on_pairs(task):
        raise ValueError(f"{name}: a split of pairs applies to pair tasks, not {task.describe()}")
    raw = _read_split(Path(split), name) if isinstance(split, str | Path) else split
    try:
        t = torch.as_tensor(np.asarray(raw) if not isinstance(raw, Tensor) else raw).detach()
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: not a list of pair indices or a mask ({e})") from None
    n = task.n_pairs
    if t.ndim != 1:
        raise ValueError(f"{name}: give one list of pair indices or a mask of length p^2 = {n}; "
                         f"got shape {tuple(t.shape)}")  # fmt: skip
    if t.dtype.is_floating_point:
        if not bool((t == t.round()).all()):
            raise ValueError(f"{name}: pair indices must be integers a*p + b")
        t = t.long()
    is_mask = t.dtype == torch.bool or (len(t) == n and bool(((t == 0) | (t == 1)).all()))
    if t.dtype == torch.bool and len(t) != n:
        raise ValueError(f"{name}: a mask needs one entry per pair, p^2 = {n} for "
                         f"{task.describe()}; got {len(t)}")  # fmt: skip
    idx = t.bool().nonzero().squeeze(1) if is_mask else t.long()
    if len(idx) and not bool(((idx >= 0) & (idx < n)).all()):
        bad = int(idx[(idx < 0) | (idx >= n)][0])
        raise ValueError(f"{name}: pair index {bad} is out of range 0..{n - 1} (a*p + b for "
                         f"{task.describe()})")  # fmt: skip
    if len(idx.unique()) != len(idx):
        raise ValueError(f"{name}: pair indices repeat; give each training pair once")
    if len(idx) == 0 or len(idx) == n:
        side = "training" if len(idx) == 0 else "test"
        raise ValueError(
            f"{name}: the {side} set is empty ({len(idx)} of {n} pairs in training); "
            "give the training pairs' indices a*p + b or a mask over the p^2 pairs"
        )
    return idx


def _params(snapshot: Snapshot, task: Task, act_fn: str | None) -> tuple[ModelPreset, StateDict]:
    """One snapshot as HookedTransformer parameters, with its shape as a preset."""
    label = str(snapshot) if isinstance(snapshot, str | Path) else "a snapshot"
    if isinstance(snapshot, str | Path):
        snapshot = read_checkpoint(snapshot)
    if tl.is_transformer(snapshot):  # either major (grok_interp.tl)
        snapshot = tl.hooked_state_dict(snapshot)
    model, _, _ = model_from_foreign(snapshot, label, task=task, act_fn=act_fn)
    cfg = model.cfg
    spec = ModelPreset(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_head=cfg.d_head,
        d_mlp=cfg.d_mlp or 4 * cfg.d_model,
        act_fn=cfg.act_fn,  # type: ignore[arg-type]
        normalization="LN" if cfg.normalization_type else None,
        frozen_biases=False,
        attn_only=cfg.attn_only,
    )
    return spec, tl.hooked_state_dict(model)


def _check_history(history: Mapping[str, Sequence[float] | Sequence[int]]) -> History:
    if "epoch" not in history:
        raise ValueError(
            "history: needs an 'epoch' list that the other lists align with "
            "(history_from_losses builds one from per-epoch losses)"
        )
    n = len(history["epoch"])
    bad = [k for k, v in history.items() if len(v) != n]
    if bad:
        raise ValueError(f"history: {bad[0]!r} has {len(history[bad[0]])} values, 'epoch' {n}")
    return {k: [float(x) for x in v] for k, v in history.items()}


def run_from_snapshots(
    snapshots: Sequence[Snapshot] | Mapping[int, Snapshot],
    epochs: Sequence[int] | None,
    task: Task,
    split: SplitLike,
    *,
    history: Mapping[str, Sequence[float] | Sequence[int]] | None = None,
    act_fn: str | None = None,
    train: TrainConfig | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> Run:
    """A Run from snapshots taken by other code (module docstring): ``snapshots`` with
    their ``epochs`` (or a mapping epoch -> snapshot, ``epochs=None``), the ``task``, the
    ``split`` (:func:`train_indices`) and optionally ``history`` (name -> values aligned
    with ``history["epoch"]``, e.g. ``train_loss``, ``test_loss``). The last epoch's
    snapshot is the Run's final weights. With ``out`` the Run file is written there too
    (an existing file only with ``overwrite``)."""
    if isinstance(snapshots, Mapping):
        epochs, snapshots = list(snapshots), list(snapshots.values())
    if epochs is None or len(epochs) != len(snapshots) or not snapshots:
        raise ValueError(f"epochs: give one epoch per snapshot ({len(snapshots)} snapshots, "
                         f"{None if epochs is None else len(epochs)} epochs)")  # fmt: skip
    if len(set(epochs)) != len(epochs) or min(epochs) < 0:
        raise ValueError(f"epochs: each snapshot needs its own epoch >= 0; got {list(epochs)}")
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    train_idx = train_indices(split, task)
    converted = [_params(s, task, act_fn) for s in snapshots]
    specs = {spec for spec, _ in converted}
    if len(specs) != 1:
        raise ValueError(f"snapshots: their shapes differ ({len(specs)} model shapes); "
                         "give the snapshots of one training run")  # fmt: skip
    by_epoch = {int(e): w for e, (_, w) in zip(epochs, converted, strict=True)}
    frozen = all(not bool(w[k].any()) for w in by_epoch.values() for k in w
                 if k.endswith(FROZEN_BIASES))  # fmt: skip
    last = max(by_epoch)
    run = Run(
        task=task,
        model=replace(specs.pop(), frozen_biases=frozen),
        train=train or TrainConfig(epochs=last, n_train=len(train_idx)),
        seed=seed,
        train_idx=train_idx,
        epoch=last,
        history=_check_history(history) if history else {},
        snapshots=dict(sorted(by_epoch.items())),
        weights=by_epoch[last],
    )
    if out is not None:
        save_run(run, out)
    return run


def history_from_losses(
    train_losses: Sequence[float], test_losses: Sequence[float]
) -> dict[str, list[float]]:
    """A Run history from per-epoch training losses and test losses taken every k-th epoch
    (k = len(train) / len(test), 1 when they have the same length), as the Nanda et al.
    authors' files keep them: ``epoch``, ``train_loss``, ``test_loss`` at the test epochs."""
    n_train, n_test = len(train_losses), len(test_losses)
    if not n_test or n_train % n_test:
        raise ValueError(
            f"history: {n_train} training losses and {n_test} test losses; the "
            "training losses must be per epoch, the test losses every k-th"
        )
    k = n_train // n_test
    return {
        "epoch": [float(e) for e in range(0, n_train, k)],
        "train_loss": [float(x) for x in list(train_losses)[::k]],
        "test_loss": [float(x) for x in test_losses],
    }


def _files(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        found = sorted([*p.glob("*.pt"), *p.glob("*.pth")]) if p.is_dir() else [p]
        if p.is_dir() and not found:
            raise CheckpointError(f"{p} is a folder without .pt or .pth files")
        out += found
    return out


def _epoch_of(obj: Any, path: Path) -> int:
    if isinstance(obj, dict) and isinstance(obj.get("epoch"), int):
        return int(obj["epoch"])
    if isinstance(obj, dict) and "train_losses" in obj and "test_losses" in obj:
        hist = history_from_losses(obj["train_losses"], obj["test_losses"])
        return int(hist["epoch"][-1])
    numbers = re.findall(r"\d+", path.stem)
    if not numbers:
        raise ValueError(f"epochs: {path} names no epoch (no 'epoch' entry, no number in its "
                         "name); give the epochs")  # fmt: skip
    return int(numbers[-1])


# Nanda et al.'s full-run file (progress-measures-paper, transformers.py's final save):
# every snapshot with its epoch, the losses per epoch and the run's config.
FULL_RUN_KEYS = ("state_dicts", "epochs")


def is_full_run(obj: Any) -> bool:
    """Whether a file is Nanda et al.'s full-run format: a dict holding ``state_dicts`` (a
    list) and their ``epochs``, beside ``model``, ``train_losses``, ``test_losses`` and
    ``config``."""
    return isinstance(obj, dict) and isinstance(obj.get("state_dicts"), list) and "epochs" in obj


def _train_of(config: Any, last: int, n_train: int) -> tuple[TrainConfig, int]:
    """The full-run file's ``config`` (their Config's fields: ``lr``, ``weight_decay``,
    ``frac_train``, ``num_epochs``, ``seed``) as a TrainConfig and the seed."""
    if not isinstance(config, Mapping):
        return TrainConfig(epochs=last, n_train=n_train), 0
    frac = config.get("frac_train")
    kw: dict[str, Any] = {"frac_train": float(frac)} if frac is not None else {"n_train": n_train}
    for key in ("lr", "weight_decay"):
        if config.get(key) is not None:
            kw[key] = float(config[key])
    epochs = int(config.get("num_epochs", last))
    return TrainConfig(epochs=max(epochs, last), **kw), int(config.get("seed", 0))


def _expand_full_run(obj: dict[str, Any]) -> tuple[list[Any], list[int]]:
    """A full-run file's snapshots, each wrapped with its epoch as their files are, and
    the final ``model`` too where it is newer than the last snapshot (at the last epoch
    of the per-epoch training losses)."""
    snaps = [{"model": sd, "epoch": int(e)} for sd, e in zip(obj["state_dicts"], obj["epochs"],
                                                              strict=True)]  # fmt: skip
    final = obj.get("model")
    end = len(obj.get("train_losses", [])) - 1
    if isinstance(final, dict) and snaps and end > snaps[-1]["epoch"]:
        last = snaps[-1]["model"]
        if any(not torch.equal(final[k], last[k]) for k in final if k in last):
            snaps.append({"model": final, "epoch": end})
    return snaps, [s["epoch"] for s in snaps]


def run_from_files(
    paths: Sequence[str | Path],
    task: Task,
    split: SplitLike,
    *,
    epochs: Sequence[int] | None = None,
    act_fn: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> Run:
    """:func:`run_from_snapshots` on checkpoint files (a folder stands for its ``.pt`` and
    ``.pth`` files). Without ``epochs``, each file's epoch is its ``epoch`` entry, else
    the last epoch of the losses it holds, else the last number in its name. One file
    holding ``train_losses`` and ``test_losses`` (the Nanda et al. authors' format) gives
    the history too (:func:`history_from_losses`). One file in their full-run format
    (:func:`is_full_run`) gives every snapshot at its epoch, the history, and the
    config's ``frac_train``, ``lr``, ``weight_decay``, ``num_epochs`` and ``seed`` as the
    Run's settings."""
    files = _files(paths)
    objs = [read_checkpoint(f) for f in files]
    if len(objs) == 1 and is_full_run(objs[0]):
        return _from_full_run(objs[0], task, split, epochs, act_fn, out, overwrite)
    if epochs is None:
        epochs = [_epoch_of(o, f) for o, f in zip(objs, files, strict=True)]
    history = None
    if len(objs) == 1 and isinstance(objs[0], dict) and "train_losses" in objs[0]:
        history = history_from_losses(objs[0]["train_losses"], objs[0].get("test_losses", []))
    return run_from_snapshots(objs, epochs, task, split, history=history, act_fn=act_fn,
                              out=out, overwrite=overwrite)  # fmt: skip


def _from_full_run(obj: dict[str, Any], task: Task, split: SplitLike,
                   epochs: Sequence[int] | None, act_fn: str | None,
                   out: str | Path | None, overwrite: bool) -> Run:  # fmt: skip
    snaps, found = _expand_full_run(obj)
    epochs = list(epochs) if epochs is not None else found
    history = None
    if obj.get("train_losses") and obj.get("test_losses"):
        history = history_from_losses(obj["train_losses"], obj["test_losses"])
    n_train = len(train_indices(split, task))
    train, seed = _train_of(obj.get("config"), max(epochs, default=0), n_train)
    return run_from_snapshots(snaps, epochs, task, split, history=history, act_fn=act_fn,
                              train=train, seed=seed, out=out, overwrite=overwrite)  # fmt: skip
