"""Full-batch AdamW training of one or many models (Nanda et al. 2023, Section 3, App. D.1).

Every evaluation records train/test loss and accuracy and the parameter norm (the L2
norm of all trainable parameters, Varma et al. 2023 Section 2) in the Run's history.

Each epoch is one full-batch step on the training pairs: cross-entropy of the logits at
the last position, computed in float64 (the papers report losses near 1e-7, below what a
float32 log-softmax resolves), plus the optional L1 penalty; AdamW with decoupled weight
decay; linear warm-up (:class:`~grok_interp.runs.TrainConfig`).

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

import contextlib
import copy
import math
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm  # the text bar: tqdm.auto warns in notebooks without ipywidgets

from grok_interp import fast, tl
from grok_interp.config import Preset, RNNPreset, ToyPreset
from grok_interp.hooks import dropout_hook
from grok_interp.models import ModelPreset, build_model, resolve_device
from grok_interp.parity import (
    ParityTask,
    all_strings,
    build_rnn,
    eval_strings,
    length_batches,
    mse,
    parity_targets,
    prefix_fit,
    prefix_rows,
)
from grok_interp.runs import Run, TrainConfig, load_params, load_run, save_run
from grok_interp.sequences import IGNORE, SeqTask, fresh_batch, test_set, training_set
from grok_interp.tasks import Task, split

# Called at every evaluation with (epoch, model, run); the returned numbers are appended
# to run.history under their names. Later analyses record progress measures this way.
Callback = Callable[[int, tl.Model, Run], dict[str, float] | None]
StepKind = Literal["auto", "fast", "plain"]


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """What to train: a task, a model preset, a trainer config and a seed.

    ``init``: the path of a Run file whose final weights this run starts from instead of a
    seeded initialisation (Varma et al. 2023, Section 5.2: ungrokking continues a network
    that generalised). Its training pairs are then drawn, seeded by ``seed``, from that
    run's training set (``train.n_train`` of them, or ``train.frac_train`` of all pairs);
    task and model must be that run's. The optimizer starts afresh."""

    task: Task | SeqTask | ParityTask = field(default_factory=Task)
    model: Preset = field(default_factory=ModelPreset)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    init: str | None = None


def new_run(spec: RunSpec, parent: Run | None = None) -> Run:
    """A fresh Run for ``spec``; with ``spec.init``, continued from that run (``parent``:
    it, already loaded, so a sweep reads the file once rather than once per point)."""
    cfg = spec.train
    if cfg.batch_size is not None and not isinstance(spec.task, ParityTask):
        raise ValueError("batch_size applies to streaming parity only; the other tasks "
                         "train full-batch")  # fmt: skip
    parity = isinstance(spec.task, ParityTask)
    if (isinstance(spec.model, RNNPreset) and not parity) or (
        parity and isinstance(spec.model, ToyPreset)
    ):
        raise ValueError("an RNN trains on streaming parity only, and streaming parity "
                         "with an RNN or a transformer preset")
    if isinstance(spec.task, ParityTask):
        if spec.init is not None or cfg.fresh_data or cfg.random_labels:
            raise ValueError("streaming parity trains on all its strings: no init, "
                             "fresh_data or random_labels")  # fmt: skip
        return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed,
                   train_idx=torch.arange(spec.task.n_train))  # fmt: skip
    if isinstance(spec.task, SeqTask):
        if cfg.n_train is None or spec.init is not None:
            raise ValueError("a sequence task needs n_train (the training set's size, or the "
                             "fresh batch's with fresh_data) and no init")  # fmt: skip
        return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed,
                   train_idx=torch.arange(cfg.n_train))  # fmt: skip
    if cfg.fresh_data:
        raise ValueError("fresh_data (infinite data) applies to sequence tasks only")
    if spec.init is None:
        idx = split(spec.task, **cfg.train_size, seed=spec.seed)  # type: ignore[arg-type]
        return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed, train_idx=idx)
    parent = init_run(spec, parent)
    size = cfg.train_size
    n = int(size.get("n_train", 0)) or round(size["frac_train"] * parent.pairs_task.n_pairs)
    return _continued(parent, cfg, subset(parent, n, seed=spec.seed), spec.seed)


def init_run(spec: RunSpec, parent: Run | None = None) -> Run:
    """The Run that ``spec.init`` names (or ``parent``, already loaded from it), checked to
    have the spec's task and model."""
    if spec.init is None:
        raise ValueError("the spec has no init run")
    parent = parent or load_run(spec.init)
    for what in ("task", "model"):
        if getattr(parent, what) != getattr(spec, what):
            raise ValueError(
                f"init {spec.init} has {what} {getattr(parent, what)}, the spec "
                f"{getattr(spec, what)}: give the init run's {what}"
            )
    return parent


def subset(run: Run, n_train: int, *, source: Literal["train", "all"] = "train",
           seed: int = 0) -> Tensor:  # fmt: skip
    """``n_train`` pair indices drawn, seeded by ``seed``, from ``run``'s training set
    (``source="train"``) or from all inputs, sorted; a clear error when they do not fit."""
    n_pairs = run.pairs_task.n_pairs
    pool = run.train_idx if source == "train" else torch.arange(n_pairs)
    if not 0 < n_train <= len(pool) or n_train >= n_pairs:
        raise ValueError(
            f"n_train must lie in 1..{min(len(pool), n_pairs - 1)} "
            f"(drawn from the {len(pool)} {source} pairs), got {n_train}"
        )
    gen = torch.Generator().manual_seed(seed)
    return pool[torch.randperm(len(pool), generator=gen)[:n_train]].sort().values


def _continued(run: Run, cfg: TrainConfig, idx: Tensor, seed: int, step: int | None = None,
               optimizer: dict[str, Any] | None = None) -> Run:  # fmt: skip
    weights = run.weights if step is None else run.snapshots[step]
    return Run(
        task=run.task,
        model=run.model,
        train=cfg,
        seed=seed,
        train_idx=idx,
        weights={k: v.float().clone() for k, v in weights.items()},
        optimizer=copy.deepcopy(optimizer) if optimizer else {},
    )


@dataclass
class _Member:
    """One model being trained, with its optimizer and dropout generator."""

    run: Run
    model: tl.Model | Any  # a HookedRNN on streaming parity
    opt: torch.optim.Optimizer
    gen: torch.Generator
    out: Path | None


def _member(run: Run, out: Path | None, device: torch.device) -> _Member:
    if run.train.lr_embed is not None or run.train.weight_decay_embed is not None:
        raise ValueError("lr_embed and weight_decay_embed apply to toy models only; for a "
                         "transformer leave them unset")  # fmt: skip
    model: Any
    if isinstance(run.model, RNNPreset):
        model = build_rnn(run.model, seed=run.seed, device=device)
    else:
        assert isinstance(run.model, ModelPreset)  # toy runs train in toy.ToyLoop
        model = build_model(run.model, run.task, seed=run.seed, device=device)
    cfg = run.train
    # A transformer's in HookedTransformer's order, so its state converts by name between
    # the TransformerLens majors (grok_interp.tl)
    params = ([p for _, p in tl.trainable(model)] if tl.is_transformer(model)
              else [p for p in model.parameters() if p.requires_grad])  # fmt: skip
    opt: torch.optim.Optimizer
    if cfg.sgd:
        opt = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:  # fused: one kernel for the whole update, ~3x faster than foreach on the CPU
        opt = torch.optim.AdamW(
            params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=True
        )
    gen = torch.Generator(device=device).manual_seed(run.seed + 1)
    if run.weights:  # a resumed run, or one continued from another run's weights
        load_params(model, run.weights)
    if run.optimizer:
        opt.load_state_dict(tl.optimizer_in(model, run.optimizer))
    if run.rng is not None:
        gen.set_state(run.rng)
    return _Member(run=run, model=model, opt=opt, gen=gen, out=out)


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
    if outs is not None and len(outs) != len(specs):
        raise ValueError(f"{len(specs)} runs but {len(outs)} output paths")
    for spec, out in zip(specs, outs or (), strict=False):  # lengths checked above
        if Path(out).exists() and not (overwrite or isinstance(spec, Run)):
            raise OutputExistsError(
                f"{out} exists; pass overwrite=True to replace it, or resume it "
                "(train(load_run(path), out=path))"
            )
    device = resolve_device(device)
    runs = [s if isinstance(s, Run) else new_run(s) for s in specs]
    loops: dict[tuple[object, ...], list[int]] = {}
    for i, r in enumerate(runs):
        loops.setdefault(_step_key(r), []).append(i)
    for idx in loops.values():
        every = save_every or runs[idx[0]].train.snapshot_every
        if isinstance(runs[idx[0]].model, ToyPreset):
            from grok_interp.toy import ToyLoop

            size = stack or len(idx)
            for at in range(0, len(idx), size):
                part = idx[at : at + size]
                chunk = [(runs[i], None if outs is None else Path(outs[i])) for i in part]
                ToyLoop(chunk, device, callbacks).run(progress, every)
            continue
        members = [_member(runs[i], None if outs is None else Path(outs[i]), device) for i in idx]
        if isinstance(runs[idx[0]].task, SeqTask):
            _SeqLoop(members, device, callbacks).run(progress, every)
            continue
        if isinstance(runs[idx[0]].task, ParityTask):
            _ParityLoop(members, device, callbacks).run(progress, every)
            continue
        loop = _Loop(members, device, step, callbacks, stack, compile)
        loop.run(progress, every)
    return runs


class OutputExistsError(FileExistsError):
    """An output file that would be replaced without being asked to."""


def _step_key(r: Run) -> tuple[object, ...]:
    """What members of one loop share: shapes, the epoch schedule and dropout."""
    cfg = r.train
    schedule = (cfg.epochs, r.epoch, bool(r.history), cfg.eval_every, cfg.snapshot_every)
    if isinstance(r.model, ToyPreset):  # the toy loop masks training sets of any size
        return (r.task, r.model, *schedule)
    return (r.task, r.model, len(r.train_idx), cfg.dropout, *schedule)


class _Loop:
    """The epoch loop shared by every member; only shapes are shared, not state."""

    def __init__(
        self,
        members: list[_Member],
        device: torch.device,
        step: StepKind,
        callbacks: Sequence[Callback],
        stack: int | None = None,
        compile: bool = False,
    ) -> None:
        self.members = members
        self.callbacks = callbacks
        task = members[0].run.pairs_task
        self.all_tokens = task.tokens().to(device)
        self.all_labels = task.labels().to(device)
        idx = torch.stack([m.run.train_idx for m in members]).to(device)
        self.tokens = self.all_tokens[idx]  # (model, batch, pos)
        self.labels = torch.stack([train_labels(m.run) for m in members]).to(device)
        self.splits = [
            (
                ("train", m.run.train_idx.to(device), self.labels[i]),
                ("test", m.run.test_idx.to(device), self.all_labels[m.run.test_idx.to(device)]),
            )
            for i, m in enumerate(members)
        ]
        self.fast = self._use_fast(step)
        # torch.compile of the table forward (opt-in, module docstring): without dropout
        self.compiled = torch.compile(fast.last_logits, dynamic=False) if compile else None
        cfg0 = members[0].model.cfg
        size = stack if stack is not None else default_stack(cfg0, self.tokens.shape[1], device)
        self.groups = [slice(i, i + size) for i in range(0, len(members), size)]

    def _use_fast(self, step: StepKind) -> bool:
        if step == "plain":
            return False
        reason = fast.unsupported_reason(self.members[0].model, self.tokens)
        if step == "fast" and reason:
            raise ValueError(f"the fast step cannot reproduce this model: {reason}")
        return reason is None

    def logits(self, tokens: Tensor, train: bool, group: slice) -> Tensor:
        """Last-position logits of the members in ``group``; ``tokens`` is theirs."""
        members = self.members[group]
        p_drop = members[0].run.train.dropout if train else 0.0
        if self.fast:
            params = fast.stacked_params([m.model for m in members])
            act = members[0].model.cfg.act_fn or "relu"
            gens = [m.gen for m in members]
            if p_drop == 0 and self.compiled is not None:
                return self.compiled(params, tokens, act_fn=act)
            return fast.last_logits(params, tokens, act_fn=act, dropout=p_drop, generators=gens)
        pairs = zip(members, tokens, strict=True)
        return torch.stack([self._plain(m, t, p_drop) for m, t in pairs])

    @staticmethod
    def _plain(m: _Member, tokens: Tensor, p_drop: float) -> Tensor:
        if p_drop == 0:
            return m.model(tokens)[:, -1]
        hooks: list[tuple[str | Callable[..., Any], Callable[..., Any]]] = [
            (f"blocks.{i}.mlp.hook_post", dropout_hook(p_drop, m.gen))
            for i in range(m.model.cfg.n_layers)
        ]
        return m.model.run_with_hooks(tokens, fwd_hooks=hooks)[:, -1]

    def step(self, epoch: int) -> None:
        for m in self.members:
            m.opt.zero_grad(set_to_none=True)
        for g in self.groups:  # one backward per group: its activations are freed before the next
            losses = cross_entropy64(self.logits(self.tokens[g], True, g), self.labels[g])
            (losses.sum() + sum(_l1(m) for m in self.members[g])).backward()
        for m in self.members:
            _update(m, epoch)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> list[dict[str, float]]:
        n = len(self.members)
        tokens = self.all_tokens.expand(n, -1, -1)
        logits = [lg for g in self.groups for lg in self.logits(tokens[g], False, g)]
        out = []
        for m, lg, splits in zip(self.members, logits, self.splits, strict=True):
            row = {"epoch": float(epoch)}
            for name, idx, lab in splits:
                sel = lg[idx]
                row[f"{name}_loss"] = cross_entropy64(sel[None], lab[None]).item()
                row[f"{name}_acc"] = (sel.argmax(-1) == lab).double().mean().item()
            out.append(self.record(m, row, epoch))
        return out

    def record(self, m: _Member, row: dict[str, float], epoch: int) -> dict[str, float]:
        """``row`` with the parameter norm and the callbacks' numbers, appended to the
        member's history."""
        row["param_norm"] = param_norm(m.opt.param_groups[0]["params"])
        for cb in self.callbacks:
            row.update(cb(epoch, m.model, m.run) or {})
        for k, v in row.items():
            m.run.history.setdefault(k, []).append(v)
        return row

    def checkpoint(self, epoch: int, snapshot: bool, save: bool = True) -> None:
        for m in self.members:
            run = m.run
            run.epoch = epoch
            run.weights = _params(m.model, torch.float32)
            if snapshot:
                run.snapshots[epoch] = _params(m.model, getattr(torch, run.train.snapshot_dtype))
            run.optimizer = tl.optimizer_out(m.model, m.opt.state_dict())
            run.rng = m.gen.get_state()
            if m.out is not None and save:
                save_run(run, m.out)

    def run(self, progress: bool, save_every: int) -> None:
        run_epochs(self, progress, save_every)


def run_epochs(loop: Any, progress: bool, save_every: int) -> None:
    """The epoch loop of a stacked trainer (:class:`_Loop`, :class:`~grok_interp.toy.ToyLoop`):
    step, evaluate, snapshot and save on the run's schedule; Ctrl-C saves and raises."""
    first = loop.members[0].run
    cfg = first.train
    start = first.epoch
    if start == 0 and not first.history:
        loop.evaluate(0)
        loop.checkpoint(0, snapshot=True)
    bar = tqdm(
        range(start, cfg.epochs),
        disable=not progress,
        initial=start,
        total=cfg.epochs,
        desc="train",
        mininterval=1.0,
    )
    with _sigint_deferred() as interrupted:
        for epoch in bar:
            loop.step(epoch)
            done = epoch + 1
            snap = done % cfg.snapshot_every == 0 or done == cfg.epochs
            if done % cfg.eval_every == 0 or done == cfg.epochs:
                row = loop.evaluate(done)[0]
                bar.set_postfix(
                    train=f"{row['train_loss']:.2e}",
                    test=f"{row['test_loss']:.2e}",
                    acc=f"{row['test_acc']:.3f}",
                )
            if snap:
                save = done % save_every == 0 or done == cfg.epochs
                loop.checkpoint(done, snapshot=True, save=save)
            if interrupted.is_set():
                loop.checkpoint(done, snapshot=snap)  # saved, whatever --save-every says
                bar.close()
                raise KeyboardInterrupt(f"training interrupted at epoch {done}")


class _OwnForwardLoop(_Loop):
    """A loop whose members step one by one through their own forward (sequence tasks,
    streaming parity); dropout and L1, features of the table forward, are refused."""

    what = "this task"

    def __init__(self, members: list[_Member], device: torch.device,
                 callbacks: Sequence[Callback]) -> None:  # fmt: skip
        self.members, self.callbacks, self.device = members, callbacks, device
        if any(m.run.train.dropout or m.run.train.l1 for m in members):
            raise ValueError(f"dropout and l1 are not supported on {self.what}")


class _SeqLoop(_OwnForwardLoop):
    """The loop of sequence tasks (:mod:`grok_interp.sequences`): each member its own
    forward (the models' own, at every position), cross-entropy in float64 over the
    positions with a target; a fixed training set or, with ``fresh_data``, a fresh batch
    of the same size every step. The history adds loss and accuracy per output position
    (``test_loss_pos11`` ...) where the task has fixed ones."""

    what = "sequence tasks"

    def __init__(self, members: list[_Member], device: torch.device,
                 callbacks: Sequence[Callback]) -> None:  # fmt: skip
        super().__init__(members, device, callbacks)
        task = members[0].run.task
        assert isinstance(task, SeqTask)
        self.task = task
        self.fixed = [training_set(task, len(m.run.train_idx), m.run.seed) for m in members]
        self.test = [test_set(task, m.run.seed) for m in members]
        self.last = list(self.fixed)

    def batch(self, i: int, epoch: int) -> tuple[Tensor, Tensor]:
        run = self.members[i].run
        if run.train.fresh_data:
            return fresh_batch(self.task, len(run.train_idx), run.seed, epoch)
        return self.fixed[i]

    def step(self, epoch: int) -> None:
        with _deterministic():
            for i, m in enumerate(self.members):
                m.opt.zero_grad(set_to_none=True)
                tokens, targets = self.batch(i, epoch)
                self.last[i] = (tokens, targets)
                logits = m.model(tokens.to(self.device))
                seq_loss(logits, targets.to(self.device)).backward()
                _update(m, epoch)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> list[dict[str, float]]:
        out = []
        for i, m in enumerate(self.members):
            row = {"epoch": float(epoch)}
            for name, (tokens, targets) in (("train", self.last[i]), ("test", self.test[i])):
                logits = m.model(tokens.to(self.device)).cpu()
                row[f"{name}_loss"] = float(seq_loss(logits, targets))
                hit = (logits.argmax(-1) == targets)[targets != IGNORE]
                row[f"{name}_acc"] = float(hit.double().mean())
                for pos in self.task.output_positions:
                    at = slice(pos, pos + 1)
                    row[f"{name}_loss_pos{pos}"] = float(seq_loss(logits[:, at], targets[:, at]))
            out.append(self.record(m, row, epoch))
        return out


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Torch's deterministic algorithms within the block, as they were after it. The
    embedding lookup's backward (an accumulating ``index_put_``) sums in thread order on
    the CPU, so two identical multi-threaded runs of a sequence model differed by ~1e-7;
    its deterministic variant sorts the indices first. ``warn_only``: an op without a
    deterministic variant warns instead of stopping the run."""
    before = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn)


class _ParityLoop(_OwnForwardLoop):
    """The loop of streaming parity (:mod:`grok_interp.parity`): per epoch, the training
    strings by length in increasing order, shuffled within a length, in batches of
    ``batch_size``; the MSE of the last position's output against the one-hot parity (the
    authors' many-to-one loss). The history: ``train_loss`` / ``train_acc`` over all
    training strings (every prefix, so every position); ``test_loss`` the last position's
    MSE on the validation strings (the authors' validation loss), ``test_position_loss``
    the MSE over all their positions, ``test_acc`` their per-position accuracy and
    ``test_string_acc`` the fraction right at every position; the long lengths are
    measured by :func:`grok_interp.analyses.automaton.length_generalisation` (one forward
    of 10,000 steps costs more than an epoch)."""

    what = "streaming parity"

    def __init__(self, members: list[_Member], device: torch.device,
                 callbacks: Sequence[Callback]) -> None:  # fmt: skip
        super().__init__(members, device, callbacks)
        task = members[0].run.task
        assert isinstance(task, ParityTask)
        self.task = task
        self.val = [eval_strings(task, m.run.seed)["val"] for m in members]

    def step(self, epoch: int) -> None:
        with _deterministic():
            for m in self.members:
                cfg = m.run.train
                for batch in length_batches(self.task, cfg.batch_size, m.run.seed, epoch):
                    batch = batch.to(self.device)
                    m.opt.zero_grad(set_to_none=True)
                    out = m.model(batch)[:, -1]
                    mse(out, parity_targets(batch)[:, -1]).backward()
                    _update(m, epoch)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> list[dict[str, float]]:
        out = []
        longest = all_strings(self.task.max_len).to(self.device)
        for m, val in zip(self.members, self.val, strict=True):
            row = {"epoch": float(epoch)}
            # every training string is a prefix of a longest one: read it there, once
            nodes = prefix_rows(m.model(longest).double(), self.task.max_len)
            row["train_loss"], row["train_acc"] = prefix_fit(nodes, self.task)
            yv = m.model(val.to(self.device)).double()
            tv = parity_targets(val).to(self.device)
            row["test_loss"] = float(mse(yv[:, -1], tv[:, -1]))
            row["test_position_loss"] = float(mse(yv, tv))
            right = yv.argmax(-1) == tv
            row["test_acc"] = float(right.double().mean())
            row["test_string_acc"] = float(right.all(-1).double().mean())
            out.append(self.record(m, row, epoch))
        return out


def _update(m: _Member, epoch: int) -> None:
    """One optimizer step (AdamW, or SGD with ``sgd``) of ``m`` at its warmed-up learning
    rate, ``lr * min(epoch / warmup, 1)`` (Nanda et al.'s LambdaLR)."""
    cfg = m.run.train
    scale = min(epoch / cfg.warmup, 1.0) if cfg.warmup else 1.0
    for group in m.opt.param_groups:
        group["lr"] = cfg.lr * scale
    m.opt.step()


def seq_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy in float64 over the positions with a target (IGNORE elsewhere)."""
    return F.cross_entropy(logits.double().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE)  # fmt: skip


class _sigint_deferred:
    """Within the block, SIGINT sets an event instead of raising at once, so the loop
    stops between epochs with every member's state whole. Only in the main thread (signal
    handlers can be set nowhere else); elsewhere SIGINT behaves as usual."""

    def __enter__(self) -> threading.Event:
        self.event = threading.Event()
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *_: self.event.set())
        return self.event

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def default_stack(cfg: Any, batch: int, device: torch.device) -> int:
    """Models per batched forward: all on a GPU; on the CPU as many as keep a group's MLP
    activations (models x batch x d_mlp) within 2^20 floats, at least one (module doc)."""
    if device.type != "cpu":
        return 1 << 30
    return max(1, (1 << 20) // (batch * max(cfg.d_mlp or 0, cfg.d_model)))


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
    return _continued(run, cfg, idx, run.seed, step, kept)


def train_labels(run: Run) -> Tensor:
    """The labels a run trains on: the task's, or with ``random_labels`` a uniform draw
    over the classes for each training pair from a generator seeded by the run's seed."""
    true = run.pairs_task.labels()[run.train_idx]
    if not run.train.random_labels:
        return true
    gen = torch.Generator().manual_seed(run.seed + 2)  # + 1 seeds the dropout masks
    return torch.randint(run.task.d_vocab_out, true.shape, generator=gen)


def param_norm(params: Sequence[Tensor]) -> float:
    """The L2 norm of all trainable parameters together (Varma et al. 2023, Section 2)."""
    return math.sqrt(sum(float(p.detach().double().square().sum()) for p in params))


def cross_entropy64(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over the batch axis, in float64: (..., batch, vocab) -> (...).

    ``labels`` has the logits' shape without the vocabulary axis."""
    flat = logits.double().reshape(-1, logits.shape[-1])
    per = F.cross_entropy(flat, labels.reshape(-1), reduction="none")
    return per.reshape(labels.shape).mean(-1)


def _l1(m: _Member) -> Tensor | float:
    lam = m.run.train.l1
    if lam == 0:
        return 0.0
    return lam * sum(p.abs().sum() for p in m.opt.param_groups[0]["params"])


def _params(model: torch.nn.Module, dtype: torch.dtype) -> dict[str, Tensor]:
    """Every weight, a transformer's in HookedTransformer's layout (grok_interp.tl)."""
    named = tl.hooked_params(model) if tl.is_bridge(model) else dict(model.named_parameters())
    return {k: v.detach().to("cpu", dtype).clone() for k, v in named.items()}
