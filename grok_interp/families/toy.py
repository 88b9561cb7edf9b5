"""The family of Liu et al. (2022)'s toy model, Dec(E_i + E_j): the learner, its stacked
training, its run and its report (its representation's quality).

Kolber's slides, "Setup": symbols i, j in {0..p-1} map to learnable embeddings E_i, E_j
in R^d_in; their sum goes through a decoder MLP; the output is regressed onto a fixed
random vector Y_c of the answer's class c (accuracy: the nearest Y_c) or classified.
Shapes and defaults: :class:`~grok_interp.config.ToyPreset`; the authors' training
settings (two AdamWs, the representation at lr 1e-3 and the decoder at 1e-4, no weight
decay, 45 of the 55 unordered pairs of p = 10): :func:`toy_spec`.

A toy Run is an ordinary Run of pairs (same trainer, sweeps and Run files; the split,
continuations and summary of :class:`~grok_interp.families.pairs.PairFamily`): its
``model`` is a ToyPreset and its parameters are ``embed`` (p, d_in), ``decoder.K.weight/
bias`` and, for regression, the frozen ``targets`` (classes, d_out), so a checkpoint
carries its targets.

**Hook points** (a TransformerLens ``HookedRootModule``, as every learner is, so
``run_with_hooks``, ``run_with_cache`` and interventions work as on the others):
``hook_embed`` on E_i + E_j (batch, d_in), ``hook_hidden.K`` after the K-th decoder
layer's tanh (batch, width), ``hook_out`` on the decoder's output (batch, out) and
``hook_scores`` on the scores (batch, classes).

**Scores.** The forward returns one score per class: the logits for ``loss="ce"``; for
regression, minus the mean squared distance to each target, so that argmax is the
nearest target and minus the score at the label is the authors' MSE loss
(``torch.mean((out - Y) ** 2)``). The history's losses are these.

**Stacked training** (:class:`ToyLoop`). The toy models are tiny, so one step of one model
is all Python and kernel-launch overhead. The loop keeps every member's parameters
stacked along a leading axis, (members, ...), as the leaves of one autograd graph: one
forward of batched matmuls, one backward, one optimizer step for all. Members may
differ in seed, training set (its size too: the loss is a masked mean), learning rates,
weight decays and betas. torch's optimizers take one learning rate per parameter group,
and a stacked leaf is one parameter, so :class:`StackedAdamW` applies torch.optim.AdamW's
update rule (decoupled weight decay, bias-corrected moments; the same operations in the
same order) with per-member settings; each member's state is saved in
``torch.optim.AdamW.state_dict()``'s layout, two parameter groups (the representation,
then the decoder), and a test checks the two optimizers agree step for step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from grok_interp.analyses import catalog
from grok_interp.analyses.common import Result, pair_sets
from grok_interp.analyses.curves import over_training
from grok_interp.analyses.representation import quadruples, toy_representation, unordered
from grok_interp.config import TOY_PRESETS, ToyPreset, TrainConfig
from grok_interp.engine import Callback, TrainOptions, run_epochs
from grok_interp.families.base import AnalyzeOptions
from grok_interp.families.pairs import PairFamily
from grok_interp.pair_runs import train_labels
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec, load_params, model_from_run, save_run
from grok_interp.tasks import Task
from grok_interp.tl import StateDict

__all__ = ["TOY_PRESETS", "ToyModel", "ToyPreset", "StackedAdamW", "toy_spec", "build_toy",
           "toy_model"]

EPS = 1e-8  # torch.optim.AdamW's default, as the authors use it


Hook = Callable[[str, Tensor], Tensor]


class ToyModel(HookedRootModule):
    """Dec(E_i + E_j) for one member; :func:`scores` is its forward, with hook points
    (module docstring)."""

    def __init__(self, spec: ToyPreset, task: Task) -> None:
        super().__init__()
        self.spec, self.task = spec, task
        classes = task.d_vocab_out
        self.embed = nn.Parameter((torch.rand(task.p, spec.d_in) - 0.5) * spec.init_scale_embed)
        out = spec.d_out if spec.loss == "mse" else classes
        dims = [spec.d_in] + [spec.width] * (spec.depth - 1) + [out]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:], strict=False))
        with torch.no_grad():
            for p in self.decoder.parameters():
                p.mul_(spec.init_scale_decoder)
        if spec.loss == "mse":
            y = torch.randn(classes, spec.d_out) * spec.label_scale
            self.targets = nn.Parameter(y, requires_grad=False)
        self.hook_embed = HookPoint()
        self.hook_hidden = nn.ModuleList(HookPoint() for _ in range(spec.depth - 1))
        self.hook_out = HookPoint()
        self.hook_scores = HookPoint()
        self.setup()

    def forward(self, pairs: Int[Tensor, "batch 2"]) -> Float[Tensor, "batch classes"]:
        """Scores (pairs, classes) of the pairs (n, 2)."""
        params = {k: stacked_layout(k, v[None]) for k, v in self.named_parameters()}
        return self.hook_scores(scores(params, pairs[None], self.spec, self._hook)[0])

    def _hook(self, name: str, t: Tensor) -> Tensor:
        # the functional forward's stage ``name`` (members axis of 1) through its hook point
        point = self.hook_dict["hook_" + name]
        return point(t[0])[None]


def stacked_layout(name: str, t: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """A stacked parameter in the loop's layout: decoder weights as (members, in, out),
    the layout bmm takes without a copy; every other parameter as it is. Its own inverse."""
    return t.transpose(-1, -2) if name.startswith("decoder.") and name.endswith("weight") else t


def build_toy(spec: ToyPreset, task: Task, *, seed: int = 0,
              device: str | torch.device = "cpu") -> ToyModel:  # fmt: skip
    """A freshly initialised toy model, seeded without touching the global RNG."""
    if task.token_format != "a b =" or task.group:
        raise ValueError(f"the toy model adds two numbers' embeddings; {task.describe()} "
                         "is not such a task (use op add or sum with tokens 'a b =')")  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ToyModel(spec, task).to(device)


def toy_spec(name: str = "toy_1d", *, p: int = 10, op: str = "sum", n_train: int = 45,
             seed: int = 0, **train: Any) -> RunSpec:  # fmt: skip
    """The authors' toy run (toy/train_add.py defaults) as a RunSpec: ``name`` a
    :data:`TOY_PRESETS` key, addition of 0..p-1 over unordered pairs (``op="add"`` for
    modular addition), ``n_train`` training pairs, 5,000 full-batch steps, the
    representation's AdamW at lr 1e-3 and the decoder's at 1e-4, betas (0.9, 0.999), no
    weight decay, no warm-up; ``train`` replaces any TrainConfig field."""
    if name not in TOY_PRESETS:
        raise ValueError(f"unknown toy preset {name!r}; known: {', '.join(TOY_PRESETS)}")
    cfg = TrainConfig(
        epochs=5000, lr=1e-4, lr_embed=1e-3, weight_decay=0.0, weight_decay_embed=0.0,
        betas=(0.9, 0.999), warmup=0, n_train=n_train, eval_every=10, snapshot_every=500,
    )  # fmt: skip
    return RunSpec(task=Task(op=op, p=p, unordered=True), model=TOY_PRESETS[name],
                   train=replace(cfg, **train), seed=seed)  # fmt: skip


def _same(name: str, t: Tensor) -> Tensor:
    return t


def outputs(params: StateDict, pairs: Int[Tensor, "members batch 2"], spec: ToyPreset,
            hook: Hook = _same) -> Float[Tensor, "members batch out"]:  # fmt: skip
    """Decoder outputs (members, batch, out) of stacked parameters (in
    :func:`stacked_layout`) for pairs (members, batch, 2); ``hook(name, activation)``
    sees (and may replace) each stage (module docstring's hook points)."""
    e = params["embed"]
    rows = torch.arange(e.shape[0], device=e.device)[:, None]
    h = hook("embed", e[rows, pairs[..., 0]] + e[rows, pairs[..., 1]])
    for k in range(spec.depth):
        w, b = params[f"decoder.{k}.weight"], params[f"decoder.{k}.bias"]
        h = torch.baddbmm(b[:, None], h, w)
        if k < spec.depth - 1:
            h = hook(f"hidden.{k}", torch.tanh(h))
    return hook("out", h)


def scores(params: StateDict, pairs: Int[Tensor, "members batch 2"], spec: ToyPreset,
           hook: Hook = _same) -> Float[Tensor, "members batch classes"]:  # fmt: skip
    """One score per class (members, batch, classes): logits, or minus the mean squared
    distance to each target (module docstring)."""
    h = outputs(params, pairs, spec, hook)
    if spec.loss == "ce":
        return h
    exact = "donot_use_mm_for_euclid_dist"  # the matmul form loses small distances
    return -torch.cdist(h, params["targets"], compute_mode=exact).square() / h.shape[-1]


def loss_of_scores(s: Float[Tensor, "*batch classes"], labels: Int[Tensor, "*batch"],
                   spec: ToyPreset) -> Float[Tensor, "*batch"]:  # fmt: skip
    """Per-pair loss from scores (..., classes) and labels (...)."""
    if spec.loss == "ce":
        flat = F.cross_entropy(s.reshape(-1, s.shape[-1]).double(), labels.reshape(-1),
                               reduction="none")  # fmt: skip
        return flat.reshape(labels.shape)
    return -s.gather(-1, labels[..., None])[..., 0].double()


def _adamw(ps: list[Tensor], gs: list[Tensor], ms: list[Tensor], vs: list[Tensor],
           lrs: list[Tensor], wds: list[Tensor], b1: Tensor, b2: Tensor, bc1: Tensor,
           bc2_sqrt: Tensor) -> None:  # fmt: skip
    # torch.optim.AdamW's single-tensor update, with per-member (leading axis) settings
    for p, g, m, v, lr, wd in zip(ps, gs, ms, vs, lrs, wds, strict=True):
        shape = (-1,) + (1,) * (p.dim() - 1)
        lr = lr.view(shape)
        p.mul_(1 - lr * wd.view(shape))
        m.lerp_(g, 1 - b1.view(shape))
        v.mul_(b2.view(shape)).add_((1 - b2.view(shape)) * g * g)
        p.sub_(lr / bc1.view(shape) * m / (v.sqrt() / bc2_sqrt.view(shape) + EPS))


@cache
def _compiled_adamw() -> Callable[..., None]:
    """The compiled update, made on first use: ``torch.compile`` imports torch._dynamo
    (about 2 s and 500 modules), which an import of this module should not pay."""
    return torch.compile(_adamw, dynamic=False)  # type: ignore[return-value]


# Eager, the update makes about a dozen passes over every stacked tensor; compiled, one
# fused loop: 100 width-200 members step in 2.5 ms instead of 40 ms on the 2-core CPU,
# after a 5.5 s compile per stack shape. So it is compiled from this many elements on.
COMPILE_FROM = 1_000_000


class StackedAdamW:
    """torch.optim.AdamW's update over parameters stacked along a member axis, with each
    member's own learning rate and weight decay per group and its own betas (module
    docstring). ``groups`` maps a parameter name to its group, 0 (representation) or 1
    (decoder); ``lr`` and ``weight_decay`` are (members, 2), ``betas`` (members, 2).
    ``compile``: fuse the update with torch.compile (None: from :data:`COMPILE_FROM`
    elements; if compiling fails, as without a C++ compiler, it runs eagerly)."""

    def __init__(self, params: StateDict, groups: dict[str, int], lr: Float[Tensor, "members 2"],
                 weight_decay: Float[Tensor, "members 2"], betas: Float[Tensor, "members 2"],
                 compile: bool | None = None) -> None:  # fmt: skip
        self.params, self.groups = params, groups
        self.lr, self.weight_decay, self.betas = lr, weight_decay, betas
        self.steps = torch.zeros(lr.shape[0], dtype=torch.float64)
        self.exp_avg = {k: torch.zeros_like(v) for k, v in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in params.items()}
        size = sum(v.numel() for v in params.values())
        self.compile = size >= COMPILE_FROM if compile is None else compile

    @torch.no_grad()
    def step(self, scale: float | Float[Tensor, " members"] = 1.0) -> None:
        """One update; ``scale`` (a number, or one per member) multiplies every learning
        rate (the warm-up)."""
        self.steps += 1
        b1, b2 = self.betas[:, 0], self.betas[:, 1]
        bc1 = (1 - b1.double() ** self.steps).to(b1)
        bc2_sqrt = (1 - b2.double() ** self.steps).sqrt().to(b1)
        names = [k for k, p in self.params.items() if p.grad is not None]
        args = (
            [self.params[k] for k in names], [self.params[k].grad for k in names],
            [self.exp_avg[k] for k in names], [self.exp_avg_sq[k] for k in names],
            [self.lr[:, self.groups[k]] * scale for k in names],
            [self.weight_decay[:, self.groups[k]] for k in names], b1, b2, bc1, bc2_sqrt,
        )  # fmt: skip
        if self.compile:
            try:
                _compiled_adamw()(*args)
                return
            except Exception:  # noqa: BLE001 - no compiler here: the same update, eagerly
                self.compile = False
        _adamw(*args)  # type: ignore[arg-type]


def trainable(model: ToyModel) -> list[str]:
    """The trained parameters, representation first (the optimizer's order)."""
    return [k for k, v in model.named_parameters() if v.requires_grad]


def _settings(cfg: TrainConfig) -> tuple[list[float], list[float]]:
    lr_e = cfg.lr if cfg.lr_embed is None else cfg.lr_embed
    wd_e = cfg.weight_decay if cfg.weight_decay_embed is None else cfg.weight_decay_embed
    return [lr_e, cfg.lr], [wd_e, cfg.weight_decay]


@dataclass
class _ToyMember:
    run: Run
    out: Path | None


class ToyLoop:
    """The stacked step, evaluation and checkpoint of toy members sharing a task, a
    model shape and an epoch schedule; :func:`grok_interp.training.train_many` builds it
    and runs its epochs (module docstring)."""

    def __init__(self, members: list[tuple[Run, Path | None]], device: torch.device,
                 callbacks: Sequence[Callback] = (),
                 compile: bool | None = None) -> None:  # fmt: skip
        self.members = [_ToyMember(r, o) for r, o in members]
        self.callbacks = callbacks
        runs = [m.run for m in self.members]
        spec, task = runs[0].model, runs[0].pairs_task
        self.spec: ToyPreset = spec
        self._stack_params(runs, task, device)
        self.pairs = task.pairs().to(device)
        self.labels = task.labels().to(device)
        self._training_sets(runs, device)
        self._rqi_sets(runs, task, device)
        lrs, wds = zip(*(_settings(r.train) for r in runs), strict=True)
        self.opt = StackedAdamW(
            {k: self.params[k] for k in self.trainable},
            {k: 0 if k == "embed" else 1 for k in self.trainable},
            lr=torch.tensor(lrs, device=device),
            weight_decay=torch.tensor(wds, device=device),
            betas=torch.tensor([r.train.betas for r in runs], device=device),
            compile=compile,
        )
        for i, r in enumerate(runs):
            if r.optimizer:
                self.load_optimizer(i, r.optimizer)

    def _stack_params(self, runs: list[Run], task: Task, device: torch.device) -> None:
        """Every member's parameters (seeded, or the run's weights), stacked in
        :func:`stacked_layout` as the leaves of one graph."""
        models = [build_toy(self.spec, task, seed=r.seed) for r in runs]
        for model, r in zip(models, runs, strict=True):
            if r.weights:
                load_params(model, r.weights)
        names = [k for k, _ in models[0].named_parameters()]
        self.trainable = trainable(models[0])
        self.params = {
            k: stacked_layout(k, torch.stack([dict(m.named_parameters())[k].detach()
                                              for m in models]))
            .contiguous().to(device).requires_grad_(k in self.trainable)
            for k in names
        }  # fmt: skip

    def _training_sets(self, runs: list[Run], device: torch.device) -> None:
        """Each member's training pairs, labels and loss weights (1/n: a masked mean), and
        for evaluation its labels on every pair (its trained-on labels on its training
        pairs, the true ones elsewhere) and which pairs are its training ones."""
        n_max = max(len(r.train_idx) for r in runs)
        idx = torch.zeros(len(runs), n_max, dtype=torch.long)
        lab = torch.zeros(len(runs), n_max, dtype=torch.long)
        weight = torch.zeros(len(runs), n_max, dtype=torch.float64)
        for i, r in enumerate(runs):
            n = len(r.train_idx)
            idx[i, :n], lab[i, :n], weight[i, :n] = r.train_idx, train_labels(r), 1.0 / n
        self.train_pairs = self.pairs[idx.to(device)]
        self.train_lab, self.train_weight = lab.to(device), weight.to(device)
        self.train_mask = torch.zeros(len(runs), len(self.labels), dtype=torch.bool)
        self.eval_labels = self.labels.cpu().repeat(len(runs), 1)
        for i, r in enumerate(runs):
            self.train_mask[i, r.train_idx] = True
            self.eval_labels[i, r.train_idx] = lab[i, : len(r.train_idx)]
        self.train_mask = self.train_mask.to(device)
        self.eval_labels = self.eval_labels.to(device)

    def _rqi_sets(self, runs: list[Run], task: Task, device: torch.device) -> None:
        """For the RQI at every evaluation, of all members at once: the quadruples of the
        distinct unordered pairs (representation_quality's rule), and which lie in each
        member's training set (P_0(D))."""
        p = task.p
        self.rqi_pairs = unordered(self.pairs.cpu())
        self.quads = quadruples(self.rqi_pairs, None if task.op == "sum" else p)

        def keys(pairs: Tensor) -> Tensor:
            s = pairs.sort(dim=1).values
            return s[:, 0] * p + s[:, 1]

        every = keys(self.rqi_pairs)
        in_train = torch.stack([torch.isin(every, keys(self.pairs.cpu()[r.train_idx]))
                                for r in runs])  # fmt: skip
        self.quad_train = in_train[:, self.quads].all(-1).to(device)
        self.rqi_pairs, self.quads = self.rqi_pairs.to(device), self.quads.to(device)

    def step(self, epoch: int) -> None:
        for k in self.trainable:
            self.params[k].grad = None
        h = outputs(self.params, self.train_pairs, self.spec)
        if self.spec.loss == "mse":
            rows = torch.arange(h.shape[0], device=h.device)[:, None]
            per = (h - self.params["targets"][rows, self.train_lab]).square().mean(-1)
        else:
            per = loss_of_scores(h, self.train_lab, self.spec)
        (per.double() * self.train_weight).sum().backward()
        cfgs = [m.run.train for m in self.members]
        warm = [min(epoch / c.warmup, 1.0) if c.warmup else 1.0 for c in cfgs]
        scale = 1.0 if all(w == 1.0 for w in warm) else torch.tensor(warm)[:, None]
        self.opt.step(scale)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> list[dict[str, float]]:
        n = len(self.members)
        s = scores(self.params, self.pairs.expand(n, -1, -1), self.spec)
        # every member's loss and hit on every pair, on the labels it trains on, then
        # averaged over each set with one masked sum: no per-member kernels
        loss = loss_of_scores(s, self.eval_labels, self.spec)
        hit = (s.argmax(-1) == self.eval_labels).double()
        cols = {}
        for name, mask in (("train", self.train_mask), ("test", ~self.train_mask)):
            count = mask.sum(1).double()
            cols[f"{name}_loss"] = ((loss * mask).sum(1) / count).tolist()
            cols[f"{name}_acc"] = ((hit * mask).sum(1) / count).tolist()
        norms = torch.stack([torch.linalg.vector_norm(self.params[k].flatten(1), dim=1)
                             for k in self.trainable]).double()  # fmt: skip
        cols["param_norm"] = norms.square().sum(0).sqrt().tolist()
        cols.update(self.rqi())
        out = []
        for i, m in enumerate(self.members):
            row = {"epoch": float(epoch), **{k: v[i] for k, v in cols.items()}}
            if self.callbacks:
                model = self.model(i)
                for cb in self.callbacks:
                    row.update(cb(epoch, model, m.run) or {})
            for k, v in row.items():
                m.run.history.setdefault(k, []).append(v)
            out.append(row)
        return out

    def rqi(self) -> dict[str, list[float]]:
        """Each member's RQI (:func:`grok_interp.analyses.representation.
        representation_quality`'s defaults: standardised, delta = 0.1 sqrt(d_in)) over its
        training quadruples P_0(D) (``rqi``, the slides) and over all quadruples
        (``rqi_all``, the authors' code)."""
        e = self.params["embed"].detach().double()
        e = (e - e.mean(1, keepdim=True)) / e.std(1, keepdim=True).clamp_min(1e-12)
        p, q = self.rqi_pairs, self.quads
        sums = e[:, p[:, 0]] + e[:, p[:, 1]]
        hit = (sums[:, q[:, 0]] - sums[:, q[:, 1]]).norm(dim=-1) <= 0.1 * e.shape[-1] ** 0.5
        mask = self.quad_train
        train = (hit & mask).sum(1).double() / mask.sum(1).clamp_min(1)
        return {"rqi": train.tolist(), "rqi_all": hit.double().mean(1).tolist()}

    def model(self, i: int) -> ToyModel:
        """Member ``i`` as a ToyModel with its current weights."""
        r = self.members[i].run
        model = build_toy(self.spec, r.pairs_task, seed=r.seed)
        load_params(model, self.weights(i, torch.float32))
        return model

    def weights(self, i: int, dtype: torch.dtype) -> StateDict:
        """Member ``i``'s parameters as its ToyModel names and shapes them."""
        return {k: stacked_layout(k, v[i].detach()).to("cpu", dtype, copy=True).contiguous()
                for k, v in self.params.items()}  # fmt: skip

    def optimizer_state(self, i: int) -> dict[str, Any]:
        """Member ``i``'s optimizer state in torch.optim.AdamW's layout: two parameter
        groups (the representation, then the decoder), parameters in ToyModel's order."""
        o = self.opt
        state = {
            j: {"step": torch.tensor(float(o.steps[i])),
                "exp_avg": stacked_layout(k, o.exp_avg[k][i]).to("cpu", copy=True).contiguous(),
                "exp_avg_sq": stacked_layout(k, o.exp_avg_sq[k][i]).to("cpu", copy=True)
                .contiguous()}
            for j, k in enumerate(self.trainable)
        }  # fmt: skip
        groups = [
            {"lr": float(o.lr[i, g]), "betas": tuple(float(b) for b in o.betas[i]),
             "eps": EPS, "weight_decay": float(o.weight_decay[i, g]), "amsgrad": False,
             "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
             "fused": None, "decoupled_weight_decay": True,
             "params": [j for j, k in enumerate(self.trainable) if o.groups[k] == g]}
            for g in (0, 1)
        ]  # fmt: skip
        return {"state": state, "param_groups": groups}

    def load_optimizer(self, i: int, sd: dict[str, Any]) -> None:
        """Member ``i``'s optimizer state from :meth:`optimizer_state`'s layout."""
        o = self.opt
        with torch.no_grad():
            for j, k in enumerate(self.trainable):
                s = sd["state"].get(j, sd["state"].get(str(j)))
                if s is not None:
                    o.exp_avg[k][i] = stacked_layout(k, s["exp_avg"]).to(o.exp_avg[k])
                    o.exp_avg_sq[k][i] = stacked_layout(k, s["exp_avg_sq"]).to(o.exp_avg_sq[k])
                    o.steps[i] = float(s["step"])

    def checkpoint(self, epoch: int, snapshot: bool, save: bool = True) -> None:
        for i, m in enumerate(self.members):
            run = m.run
            run.epoch = epoch
            run.weights = self.weights(i, torch.float32)
            if snapshot:
                run.snapshots[epoch] = self.weights(i, getattr(torch, run.train.snapshot_dtype))
            run.optimizer = self.optimizer_state(i)
            if m.out is not None and save:
                save_run(run, m.out)

    def run(self, progress: bool, save_every: int) -> None:
        run_epochs(self, progress, save_every)


# The name of the loader that model_from_run replaced, kept for scripts written against it.
toy_model = model_from_run


class Toy(PairFamily):
    """Liu et al.'s toy model on pairs (module docstring)."""

    kind = "toy"
    preset_types = (ToyPreset,)
    learner_types = (ToyModel,)
    presets = TOY_PRESETS
    analyses = ("representation", "over_training")
    title = "Liu et al. 2022"
    what = "Liu et al.'s toy model"
    newer_options: ClassVar[frozenset[str]] = frozenset()  # its own stacked AdamW

    def progress(self, run: Run) -> pd.DataFrame:
        """RQI and predicted test accuracy of the embedding at each snapshot, beside the
        measured test accuracy (Liu et al. Sec. 4: representation quality over training)."""
        from grok_interp.analyses.representation import representation_over_training

        return representation_over_training(run)

    def build(self, preset: ToyPreset, task: Task, *, seed: int,  # type: ignore[override]
              device: torch.device) -> ToyModel:  # fmt: skip
        return build_toy(preset, task, seed=seed, device=device)

    def train(self, members: list[tuple[Run, Any]], device: torch.device,
              options: TrainOptions) -> None:  # fmt: skip
        size = options.stack or len(members)
        every = options.save_every or members[0][0].train.snapshot_every
        for at in range(0, len(members), size):
            ToyLoop(members[at : at + size], device, options.callbacks).run(options.progress,
                                                                            every)  # fmt: skip

    def step_key(self, run: Run) -> tuple[object, ...]:
        """The toy loop masks training sets of any size, and has no dropout."""
        cfg = run.train
        return (run.task, run.model, cfg.epochs, run.epoch, bool(run.history), cfg.eval_every,
                cfg.snapshot_every)  # fmt: skip

    def stack_size(self, run: Run, n: int, device: torch.device) -> int:
        return n  # the toy loop stacks any number

    @torch.no_grad()
    def report(self, model: Any, task: Any, run: Run | None, name: str,
               options: AnalyzeOptions, assumed: Iterable[str] = ()) -> Report:  # fmt: skip
        """Its representation's quality; every transformer analysis is listed as not
        applying."""
        task = model.task
        sets = pair_sets(task, None if run is None else run.train_idx)
        s, labels = model(task.pairs()), task.labels()
        losses = {k: (float(loss_of_scores(s[i], labels[i], model.spec).mean()),
                      float((s[i].argmax(-1) == labels[i]).double().mean()))
                  for k, i in sets.items()}  # fmt: skip
        why = "the toy model (Liu et al. 2022) has no attention, MLP neurons or unembedding"
        results: dict[str, Result] = {
            "representation": toy_representation(model, None if run is None else run.train_idx)}
        not_run = {k: f"{k.replace('_', ' ')}: {why}"
                   for k in catalog.section("pairs") if k != "representation"}  # fmt: skip
        if options.over_training and run is not None and len(run.snapshots) > 1:
            results["over_training"] = over_training(run, parts=("representation",))
        elif options.over_training:
            not_run["over_training"] = "over training: needs a Run with snapshots"
        return Report(
            source=name, task=task, results=results, not_run=not_run,
            losses=losses, model=model, assumptions=tuple(assumed), family=self.kind,
            setup_differences=(f"Liu et al.'s toy model Dec(E_i + E_j), {model.spec}",),
        )  # fmt: skip

    def summary_heading(self) -> str:
        return f"Summary ({self.title}'s toy model: losses per pair set)"

    def default_spec(self) -> RunSpec:
        return toy_spec()


FAMILY = Toy()
