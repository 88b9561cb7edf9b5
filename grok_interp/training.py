"""Full-batch AdamW training of one or many models (Nanda et al. 2023, Section 3, App. D.1).

Every evaluation records train/test loss and accuracy and the parameter norm (the L2
norm of all trainable parameters, Varma et al. 2023 Section 2) in the Run's history.

Each epoch is one full-batch step on the training pairs: cross-entropy of the logits at
the last position, computed in float64 (the papers report losses near 1e-7, below what a
float32 log-softmax resolves), plus the optional L1 penalty; AdamW with decoupled weight
decay; linear warm-up (:class:`~grok_interp.runs.TrainConfig`).

Each experiment family trains its runs its own way (:mod:`grok_interp.families`: the
stacked table forward for pairs, the stacked toy loop, a step per batch for streaming
parity and the sequence tasks); the shared epoch machinery is :mod:`grok_interp.engine`.
The rest of this docstring is about pairs on a transformer.

Speed: one-layer models use the table forward of :mod:`grok_interp.fast` (same function,
several times fewer FLOPs); other models fall back to ``model(tokens)[:, -1]``.
``train_many`` trains N models in as few loops as their shapes and schedules allow;
each keeps its own seed, split, optimizer and hyperparameters. Models are stacked into
batched matmuls in groups (``stack``): on a GPU all at once, where one small model leaves
the device idle; on the CPU only as many as keep a group's MLP activations within a few
MB. A mainline step (3,830 x 512 activations, 7.8 MB) already runs its GEMMs near the
matmul peak of a 2-core CPU, and stacking five makes every elementwise pass
(ReLU, its backward, the gathers) stream 39 MB out of cache: measured 0.68-1.05x the
throughput of running them one by one. Small models (p = 31) do gain from stacking
(1.6-2.1x for five); ``grok-interp bench`` prints both. Each model has its own
``torch.optim.AdamW`` and dropout generator, so every run's state saves and resumes on
its own.

Determinism: initialisation, split and dropout derive from the run's seed through
private generators; the global RNG is untouched. A run saved mid-way and resumed ends
with the same weights, bit for bit on the CPU, as an uninterrupted one.

Nothing is lost: an existing output file is never replaced unless asked
(``overwrite=True``; resuming a Run writes to its file), and Ctrl-C (SIGINT) during
training finishes the epoch under way, saves every member with an output file at that
epoch (atomically, as always) and then raises ``KeyboardInterrupt``; the saved state
resumes bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch

from grok_interp.config import TrainConfig
from grok_interp.engine import (
    Callback,
    OutputExistsError,
    StepKind,
    TrainOptions,
    default_stack,
    param_norm,
)
from grok_interp.losses import cross_entropy64, seq_loss
from grok_interp.models import resolve_device
from grok_interp.pair_runs import continued, init_run, subset, train_labels
from grok_interp.runs import Run, RunSpec

__all__ = ["Callback", "OutputExistsError", "RunSpec", "StepKind", "TrainConfig", "continue_on",
           "cross_entropy64", "default_stack", "init_run", "new_run", "param_norm",
           "seq_loss", "step_key", "subset", "train", "train_labels", "train_many",
           "train_or_resume"]  # fmt: skip


def train(
    spec: RunSpec | Run,
    *,
    out: str | Path | None = None,
    device: str | torch.device = "cpu",
    step: StepKind = "auto",
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    save_every: int | None = None,
    overwrite: bool = False,
    compile: bool = False,
) -> Run:
    """Train one model (or resume a :class:`Run`); see :func:`train_many`."""
    outs = None if out is None else [out]
    return train_many(
        [spec],
        outs=outs,
        device=device,
        step=step,
        callbacks=callbacks,
        progress=progress,
        save_every=save_every,
        overwrite=overwrite,
        compile=compile,
    )[0]


def train_or_resume(spec: RunSpec, out: str | Path, *, progress: bool = True,
                    **options: Any) -> Run:  # fmt: skip
    """The Run at ``out``: trained from ``spec`` when the file does not exist; else read,
    extended to ``spec``'s epochs when it has fewer, and resumed when unfinished (bit for
    bit, as :func:`train` resumes). A file of another task or model is refused, as the
    example scripts' long runs are continued in stages. ``options`` go to :func:`train`."""
    from grok_interp.runs import load_run

    path = Path(out)
    if not path.exists():
        return train(spec, out=path, progress=progress, **options)
    run = load_run(path)
    if (run.task, run.model) != (spec.task, spec.model):
        raise ValueError(f"{path} holds a run of {run.task.describe()} on another model than "
                         "asked: give another path, or remove it to train anew")  # fmt: skip
    if run.train.epochs < spec.train.epochs:
        run.train = replace(run.train, epochs=spec.train.epochs)
    return run if run.done else train(run, out=path, progress=progress, **options)


def train_many(
    specs: Sequence[RunSpec | Run],
    *,
    outs: Sequence[str | Path] | None = None,
    device: str | torch.device = "cpu",
    step: StepKind = "auto",
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    save_every: int | None = None,
    stack: int | None = None,
    overwrite: bool = False,
    compile: bool = False,
) -> list[Run]:
    """Train several models together, each with its own configuration and state.

    Members that can share a step (same task, model shape, training-set size, epoch
    count, starting epoch, dropout probability, evaluation and snapshot spacing) form one
    loop and are stacked into batched matmuls (``stack`` caps how many share one forward;
    default :func:`default_stack`); the others train in loops of their own, one after
    another. Learning rate, warm-up, betas, weight decay, L1 and seed are per member
    inside a loop. Each member ends as it would alone: bit for bit when members step
    separately (``stack=1``), and within float32 rounding when stacked (a batched GEMM
    sums in another order than a single one).

    A :class:`Run` with ``epoch > 0`` resumes from its saved state. With ``outs``, each
    run is saved atomically every ``save_every`` epochs (default: at every snapshot; a
    multiple of ``snapshot_every``) and at the end, so a killed job resumes from there.
    ``step="fast"`` insists on the table forward; ``"plain"`` uses each model's own
    forward; ``"auto"`` picks fast where it is exact. Returns the runs in input order.

    ``compile=True`` runs the table forward through ``torch.compile`` (steps without
    dropout). Measured on the 2-core CPU: a stack of 5 small models (p = 31) steps 1.36x
    faster after an 11 s compile; one mainline model steps 0.93x (slower) after 26 s. So
    it pays for long runs of stacked small models only, and is off by default. Compiled
    kernels fuse operations, so results differ from the eager ones by float32 rounding.

    An existing file in ``outs`` is an error (:class:`OutputExistsError`, before anything
    trains) unless ``overwrite`` or its run is a :class:`Run` being resumed. Ctrl-C saves
    every member at the current epoch, then raises ``KeyboardInterrupt`` (module doc).
    """
    if stack is not None and stack < 1:
        raise ValueError(f"stack is the number of models per forward, at least 1; got {stack}")
    _check_outs(specs, outs, overwrite)
    device = resolve_device(device)
    runs = [s if isinstance(s, Run) else new_run(s) for s in specs]
    for r in runs:
        r.family.check_train(r)
    options = TrainOptions(step=step, callbacks=callbacks, progress=progress,
                           save_every=save_every, stack=stack, compile=compile)  # fmt: skip
    loops: dict[tuple[object, ...], list[int]] = {}
    for i, r in enumerate(runs):
        loops.setdefault(step_key(r), []).append(i)
    for idx in loops.values():
        members = [(runs[i], None if outs is None else Path(outs[i])) for i in idx]
        runs[idx[0]].family.train(members, device, options)
    return runs


def _check_outs(specs: Sequence[RunSpec | Run], outs: Sequence[str | Path] | None,
                overwrite: bool) -> None:  # fmt: skip
    if outs is not None and len(outs) != len(specs):
        raise ValueError(f"{len(specs)} runs but {len(outs)} output paths")
    for spec, out in zip(specs, outs or (), strict=False):  # lengths checked above
        if Path(out).exists() and not (overwrite or isinstance(spec, Run)):
            raise OutputExistsError(
                f"{out} exists; pass overwrite=True to replace it, or resume it "
                "(train(load_run(path), out=path))"
            )


def step_key(run: Run) -> tuple[object, ...]:
    """What runs that train in one loop share: their family, and what it says they share
    (shapes, the epoch schedule)."""
    return (run.family.kind, *run.family.step_key(run))


def new_run(spec: RunSpec, parent: Run | None = None) -> Run:
    """A fresh Run for ``spec``, as its family starts one; with ``spec.init``, continued
    from that run (``parent``: it, already loaded, so a sweep reads the file once rather
    than once per point)."""
    return spec.family.new_run(spec, parent)


def continue_on(
    run: Run,
    *,
    n_train: int,
    source: Literal["train", "all"] = "train",
    seed: int = 0,
    step: int | None = None,
    optimizer: Literal["fresh", "kept"] = "fresh",
    **changes: Any,
) -> Run:
    """A new Run that starts from ``run``'s weights (its final ones, or the snapshot at
    epoch ``step``) and trains on ``n_train`` pairs drawn, seeded by ``seed``, from its
    training set (``source="train"``) or from all inputs; every other pair is a test pair.
    Varma et al. (2023), Section 5.2: ungrokking trains a network that generalised on a
    large dataset further on a reduced one. ``optimizer="fresh"`` starts AdamW anew (the
    default: the paper describes new training, not a resumed one); ``"kept"`` carries the
    run's AdamW state over (final weights only: snapshots keep no optimizer state). The new
    run counts its epochs from 0 (so its warm-up runs again unless ``warmup=0`` is among
    ``changes``, which replace TrainConfig fields: ``epochs``, ``lr``, ``weight_decay``...).
    Train it with :func:`train`; it saves and resumes like any Run."""
    if optimizer == "kept" and step is not None:
        raise ValueError("optimizer='kept' needs the final weights: snapshots keep no optimizer")
    idx = subset(run, n_train, source=source, seed=seed)
    cfg = replace(run.train, n_train=n_train, frac_train=None, **changes)
    kept = run.optimizer if optimizer == "kept" else None
    return continued(run, cfg, idx, run.seed, step, kept)
