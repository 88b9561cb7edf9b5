"""The epoch machinery every family's trainer shares: members (a model with its optimizer
and dropout generator), the epoch loop with its evaluation, snapshot and save schedule,
Ctrl-C that saves before it stops, and the warmed-up optimizer step.

A family's loop (:mod:`grok_interp.families`) supplies ``step(epoch)`` and
``evaluate(epoch)``; :func:`run_epochs` does the rest. Determinism: initialisation and
dropout derive from the run's seed through private generators; the global RNG is
untouched, so a run saved mid-way and resumed ends, bit for bit on the CPU, as an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from jaxtyping import Shaped
from torch import Tensor
from tqdm import tqdm  # the text bar: tqdm.auto warns in notebooks without ipywidgets

from grok_interp import tl
from grok_interp.config import TrainConfig
from grok_interp.models import param_norm
from grok_interp.optim import GrokfastEMA, OrthoGrad
from grok_interp.runs import Callback, Run, learner, load_params, save_run

# How the pair families step: the fast table forward where it reproduces the model, or
# the plain TransformerLens forward (training.train's ``step``).
StepKind = Literal["auto", "fast", "plain"]


class OutputExistsError(FileExistsError):
    """An output file that would be replaced without being asked to."""


@dataclass
class Member:
    """One model being trained, with its optimizer, dropout generator and gradient
    filter (Grokfast-EMA, or None)."""

    run: Run
    model: Any  # the family's learner, a HookedRootModule
    opt: torch.optim.Optimizer
    gen: torch.Generator
    out: Path | None
    filter: GrokfastEMA | None = None


GROKFAST = "grokfast"  # the key of the filter's state in Run.optimizer


def optimizer(cfg: TrainConfig, params: list[Shaped[Tensor, "..."]]) -> torch.optim.Optimizer:
    """AdamW, or SGD with ``sgd``; wrapped in ⊥Grad with ``orthograd``
    (:class:`grok_interp.optim.OrthoGrad`)."""
    kind: type[torch.optim.Optimizer] = torch.optim.SGD if cfg.sgd else torch.optim.AdamW
    # fused AdamW: one kernel for the whole update, ~3x faster than foreach on the CPU
    kw: dict[str, Any] = ({"lr": cfg.lr, "weight_decay": cfg.weight_decay} if cfg.sgd else
                          {"lr": cfg.lr, "betas": cfg.betas, "weight_decay": cfg.weight_decay,
                           "fused": True})  # fmt: skip
    return OrthoGrad(params, kind, **kw) if cfg.orthograd else kind(params, **kw)


def to_float64(model: Any) -> Any:
    """``model`` in float64, its config saying so (TransformerLens reads ``cfg.dtype``)."""
    model = model.double()
    if hasattr(model, "cfg"):
        model.cfg.dtype = torch.float64
    return model


def weights_dtype(cfg: TrainConfig) -> torch.dtype:
    """The dtype a run trains and keeps its weights in (``precision``)."""
    return torch.float64 if cfg.precision == "float64" else torch.float32


def member(run: Run, out: Path | None, device: torch.device) -> Member:
    """A member for ``run``: its family's learner (:func:`~grok_interp.runs.learner`,
    with the run's weights when it has any), its optimizer (AdamW, or SGD with ``sgd``)
    and dropout generator, restored from the run when it resumes."""
    if run.train.lr_embed is not None or run.train.weight_decay_embed is not None:
        raise ValueError("lr_embed and weight_decay_embed apply to toy models only; for a "
                         "transformer leave them unset")  # fmt: skip
    cfg = run.train
    model = learner(run, device)
    if cfg.precision == "float64":
        model = to_float64(model)
    if run.weights:  # a resumed run, or one continued from another run's weights
        load_params(model, run.weights)
    # A transformer's in HookedTransformer's order, so its state converts by name between
    # the TransformerLens majors (grok_interp.tl)
    params = ([p for _, p in tl.trainable(model)] if tl.is_transformer(model)
              else [p for p in model.parameters() if p.requires_grad])  # fmt: skip
    opt = optimizer(cfg, params)
    gen = torch.Generator(device=device).manual_seed(run.seed + 1)
    state = {k: v for k, v in run.optimizer.items() if k != GROKFAST}
    if state:
        opt.load_state_dict(tl.optimizer_in(model, state))
    filt = GrokfastEMA(cfg.grokfast_alpha, cfg.grokfast_lamb) if cfg.grokfast_lamb else None
    if filt is not None and GROKFAST in run.optimizer:
        filt.load_state_dict(run.optimizer[GROKFAST])
    if run.rng is not None:
        gen.set_state(run.rng)
    return Member(run=run, model=model, opt=opt, gen=gen, out=out, filter=filt)


def update(m: Member, epoch: int) -> None:
    """One optimizer step (:func:`optimizer`) of ``m`` at its warmed-up learning rate,
    ``lr * min(epoch / warmup, 1)`` (Nanda et al.'s LambdaLR), on the gradients filtered
    by ``m.filter`` when it has one."""
    cfg = m.run.train
    scale = min(epoch / cfg.warmup, 1.0) if cfg.warmup else 1.0
    for group in m.opt.param_groups:
        group["lr"] = cfg.lr * scale
    if m.filter is not None:  # keyed by position in the optimizer's parameter list
        m.filter.filter((str(i), p) for i, p in enumerate(m.opt.param_groups[0]["params"]))
    m.opt.step()


def default_stack(cfg: Any, batch: int, device: torch.device) -> int:
    """Models per batched forward: all on a GPU; on the CPU as many as keep a group's MLP
    activations (models x batch x d_mlp) within 2^20 floats, at least one."""
    if device.type != "cpu":
        return 1 << 30
    return max(1, (1 << 20) // (batch * max(cfg.d_mlp or 0, cfg.d_model)))


def params_of(model: torch.nn.Module, dtype: torch.dtype) -> tl.StateDict:
    """The model's parameters, copied to the CPU in ``dtype`` (a Run's weights), a
    transformer's in HookedTransformer's layout (:mod:`grok_interp.tl`)."""
    named = tl.hooked_params(model) if tl.is_bridge(model) else dict(model.named_parameters())
    return {k: v.detach().to("cpu", dtype).clone() for k, v in named.items()}


@runtime_checkable
class Loop(Protocol):
    """What :func:`run_epochs` needs of a family's loop."""

    @property
    def members(self) -> Sequence[Any]: ...

    def step(self, epoch: int) -> None: ...
    def evaluate(self, epoch: int) -> list[dict[str, float]]: ...
    def checkpoint(self, epoch: int, snapshot: bool, save: bool = True) -> None: ...


class MemberLoop:
    """A loop over :class:`Member` s: records their evaluations (parameter norm and the
    callbacks' numbers added) and checkpoints them into their Runs and files."""

    members: list[Member]
    callbacks: Sequence[Callback]

    def record(self, m: Member, row: dict[str, float], epoch: int) -> dict[str, float]:
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
            run.weights = params_of(m.model, weights_dtype(run.train))
            if snapshot:
                run.snapshots[epoch] = params_of(m.model, getattr(torch, run.train.snapshot_dtype))
            run.optimizer = tl.optimizer_out(m.model, m.opt.state_dict())
            if m.filter is not None:
                run.optimizer[GROKFAST] = m.filter.state_dict()
            run.rng = m.gen.get_state()
            if m.out is not None and save:
                save_run(run, m.out)


class OwnForwardLoop(MemberLoop):
    """A loop whose members step one by one through their own forward (sequence tasks,
    streaming parity, a family of a few lines); dropout and L1, features of the stacked
    table forward, are refused."""

    what = "this task"

    def __init__(self, members: list[Member], device: torch.device,
                 callbacks: Sequence[Callback]) -> None:  # fmt: skip
        self.members, self.callbacks, self.device = members, callbacks, device
        if any(m.run.train.dropout or m.run.train.l1 for m in members):
            raise ValueError(f"dropout and l1 are not supported on {self.what}")


class StepLoop(OwnForwardLoop):
    """The loop of a family that says only what a step and an evaluation are (its
    ``batches``, ``loss`` and ``evaluate``; :class:`~grok_interp.families.base.
    StepwiseFamily`): each member steps through its own forward on each batch, under
    torch's deterministic algorithms (:func:`deterministic`), and is evaluated without
    gradients."""

    def __init__(self, family: Any, members: list[Member], device: torch.device,
                 callbacks: Sequence[Callback]) -> None:  # fmt: skip
        self.family, self.what = family, family.what
        super().__init__(members, device, callbacks)

    def step(self, epoch: int) -> None:
        with deterministic():
            for m in self.members:
                for inputs, targets in self.family.batches(m.run, epoch):
                    m.opt.zero_grad(set_to_none=True)
                    loss = self.family.loss(m.model, inputs.to(self.device),
                                            targets.to(self.device))  # fmt: skip
                    loss.backward()
                    update(m, epoch)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> list[dict[str, float]]:
        return [self.record(m, {"epoch": float(epoch), **self.family.evaluate(
            m.model, m.run, epoch, self.device)}, epoch) for m in self.members]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """How :func:`~grok_interp.training.train_many` trains, passed on to each family's
    loop: ``step`` (the table forward: auto, fast or plain), ``callbacks``, ``progress``,
    ``save_every``, ``stack`` (models per batched forward) and ``compile``."""

    step: str = "auto"
    callbacks: Sequence[Callback] = ()
    progress: bool = True
    save_every: int | None = None
    stack: int | None = None
    compile: bool = False


def run_epochs(loop: Loop, progress: bool, save_every: int) -> None:
    """The epoch loop of a family's trainer: step, evaluate, snapshot and save on the
    run's schedule; Ctrl-C saves and raises."""
    first = loop.members[0].run
    cfg = first.train
    start = first.epoch
    if start == 0 and not first.history:
        loop.evaluate(0)
        loop.checkpoint(0, snapshot=True)
    bar = tqdm(range(start, cfg.epochs), disable=not progress, initial=start,
               total=cfg.epochs, desc="train", mininterval=1.0)  # fmt: skip
    with sigint_deferred() as interrupted:
        for epoch in bar:
            loop.step(epoch)
            done = epoch + 1
            snap = done % cfg.snapshot_every == 0 or done == cfg.epochs
            if done % cfg.eval_every == 0 or done == cfg.epochs:
                row = loop.evaluate(done)[0]
                bar.set_postfix(train=f"{row['train_loss']:.2e}",
                                test=f"{row['test_loss']:.2e}",
                                acc=f"{row['test_acc']:.3f}")  # fmt: skip
            if snap:
                save = done % save_every == 0 or done == cfg.epochs
                loop.checkpoint(done, snapshot=True, save=save)
            if interrupted.is_set():
                loop.checkpoint(done, snapshot=snap)  # saved, whatever --save-every says
                bar.close()
                raise KeyboardInterrupt(f"training interrupted at epoch {done}")


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
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


class sigint_deferred:
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


__all__ = ["GROKFAST", "Callback", "Member", "MemberLoop", "OutputExistsError", "StepKind",
           "default_stack",
           "OwnForwardLoop", "StepLoop", "TrainOptions", "deterministic", "member",
           "optimizer", "param_norm", "params_of", "run_epochs", "sigint_deferred", "update",
           "weights_dtype"]  # fmt: skip
