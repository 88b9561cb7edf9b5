"""The family of modular pairs: binary operations over Z_p and S5 (:mod:`grok_interp.tasks`)
on a transformer (:mod:`grok_interp.models`), trained full-batch (Nanda et al. 2023,
Section 3; Varma et al. 2023), analysed by every Nanda et al. analysis (Table 5 and the
sections behind it). Continued runs (``RunSpec.init``, Varma et al. 2023, Section 5.2)
belong here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import fast, tl
from grok_interp.analyses.ablations import ablations
from grok_interp.analyses.algorithm import CLOCK, AlgorithmResult, algorithm
from grok_interp.analyses.attention import attention_heads
from grok_interp.analyses.circuit_density import circuit_density
from grok_interp.analyses.common import (
    AnalysisError,
    ModelData,
    Result,
    check_model,
    gather,
    losses_by_set,
    paper_setup_differences,
    pct,
    sci,
    setup_note,
)
from grok_interp.analyses.curves import over_training
from grok_interp.analyses.efficiency import efficiency
from grok_interp.analyses.embedding import embedding_fourier
from grok_interp.analyses.logits import (
    DEFAULT_THRESHOLD,
    NeuronLogitMapResult,
    logit_fit,
    neuron_logit_map,
    read_off_directions,
)
from grok_interp.analyses.neurons import NeuronsResult, neuron_fits
from grok_interp.analyses.representation import representation
from grok_interp.analyses.stability import stability_point
from grok_interp.config import NEWER_OPTIONS, PRESETS, ModelPreset, TrainConfig
from grok_interp.engine import (
    Callback,
    Member,
    MemberLoop,
    TrainOptions,
    member,
    run_epochs,
    update,
)
from grok_interp.families.base import AnalyzeOptions, Family
from grok_interp.hooks import dropout_hook
from grok_interp.losses import cross_entropy64, stablemax_cross_entropy
from grok_interp.models import build_model, to_config
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec, load_run
from grok_interp.snapshots import train_indices
from grok_interp.tasks import Task, heldout_indices, split

StepKind = Literal["auto", "fast", "plain"]
# Table 5's mainline row (Appendix C.2), with the pair set each loss is read on.
PAPER_TABLE5: dict[str, tuple[str, str | None]] = {
    "loss (test pairs)": ("2.41e-7", "test"),
    "key frequencies": ("14, 35, 41, 42, 52", None),
    "logit FVE": ("95%", None),
    "mean FVE of u_k, v_k projections": ("> 90%", None),
    "algorithm (Zhong et al.)": ("clock", None),
}
PAIR_ANALYSES = (
    "embedding",
    "neuron_logit_map",
    "directions",
    "logit_fit",
    "neurons",
    "attention",
    "ablations",
    "efficiency",
    "representation",
    "circuit_density",
    "algorithm",
)


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
           seed: int = 0) -> Int[Tensor, " n_train"]:  # fmt: skip
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


def continued(run: Run, cfg: TrainConfig, idx: Int[Tensor, " n_train"], seed: int,
              step: int | None = None, optimizer: dict[str, Any] | None = None) -> Run:  # fmt: skip
    """A new Run on ``run``'s task and model from its weights (final, or the snapshot at
    ``step``) training on the pairs ``idx`` (training.continue_on's docstring)."""
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


def default_stack(cfg: Any, batch: int, device: torch.device) -> int:
    """Models per batched forward: all on a GPU; on the CPU as many as keep a group's MLP
    activations (models x batch x d_mlp) within 2^20 floats, at least one (module doc)."""
    if device.type != "cpu":
        return 1 << 30
    return max(1, (1 << 20) // (batch * max(cfg.d_mlp or 0, cfg.d_model)))


def train_labels(run: Run) -> Int[Tensor, " n_train"]:
    """The labels a run trains on: the task's, or with ``random_labels`` a uniform draw
    over the classes for each training pair from a generator seeded by the run's seed."""
    true = run.pairs_task.labels()[run.train_idx]
    if not run.train.random_labels:
        return true
    gen = torch.Generator().manual_seed(run.seed + 2)  # + 1 seeds the dropout masks
    return torch.randint(run.task.d_vocab_out, true.shape, generator=gen)


def l1_penalty(m: Member) -> Float[Tensor, ""] | float:
    """The L1 penalty of Appendix D.1: lambda times the sum of absolute trainable weights."""
    lam = m.run.train.l1
    if lam == 0:
        return 0.0
    return lam * sum(p.abs().sum() for p in m.opt.param_groups[0]["params"])


class PairLoop(MemberLoop):
    """The loop of pairs (Nanda et al. 2023, Section 3): full-batch steps on the training
    pairs, stacked into batched matmuls in groups of ``stack``, cross-entropy of the last
    position in float64 plus the optional L1 penalty; dropout on the MLP neurons. Members
    share shapes only, not state (:mod:`grok_interp.training`'s docstring)."""

    def __init__(
        self,
        members: list[Member],
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
        cfg = members[0].run.train  # the loss and precision are shared (Family.step_key)
        self.loss_fn = stablemax_cross_entropy if cfg.loss == "stablemax" else cross_entropy64
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

    def logits(self, tokens: Int[Tensor, "members batch pos"], train: bool,
               group: slice) -> Float[Tensor, "members batch d_vocab_out"]:  # fmt: skip
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
    def _plain(m: Member, tokens: Tensor, p_drop: float) -> Tensor:
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
        loss = self.loss_fn
        for g in self.groups:  # one backward per group: its activations are freed before the next
            losses = loss(self.logits(self.tokens[g], True, g), self.labels[g])
            (losses.sum() + sum(l1_penalty(m) for m in self.members[g])).backward()
        for m in self.members:
            update(m, epoch)

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
            row.update(self._newer(m, lg[splits[0][1]], splits[0][2]))
            out.append(self.record(m, row, epoch))
        return out

    def _newer(self, m: Member, logits: Tensor, labels: Tensor) -> dict[str, float]:
        """The loss trained on when it is not the cross-entropy (``train_objective``), and
        with ``record_stability`` Prieto et al.'s two measures (TrainConfig's docstring)."""
        cfg, row = m.run.train, {}
        if cfg.loss != "cross_entropy":
            row["train_objective"] = self.loss_fn(logits[None], labels[None]).item()
        if cfg.record_stability:
            with torch.enable_grad():
                point = stability_point(m.model, m.run.pairs_task, m.run.train_idx,
                                        precision=cfg.precision, loss=cfg.loss,  # type: ignore[arg-type]
                                        labels=labels)  # fmt: skip
            row.update(collapsed=point["collapsed"], nlm_alignment=point["nlm_alignment"])
        return row

    def run(self, progress: bool, save_every: int) -> None:
        run_epochs(self, progress, save_every)


def task_from_model(model: tl.Model) -> tuple[Task, list[str]]:
    """The task a bare HookedTransformer is taken to learn: ``add`` with the layout its
    context length implies, over its output classes (an assumption the report states)."""
    cfg = model.cfg
    fmt = "a b =" if cfg.n_ctx == 3 else "a o b ="
    task = Task(op="add", p=cfg.d_vocab_out, token_format=fmt)  # type: ignore[arg-type]
    return task, [f"task {task.describe()} assumed from the shapes (d_vocab, n_ctx); give the task"]


@torch.no_grad()
def pair_report(model: tl.Model, task: Task, run: Run | None, name: str,
                options: AnalyzeOptions, assumed: list[str],
                split: Int[Tensor, " n_train"] | None = None) -> Report:  # fmt: skip
    """Every Nanda et al. analysis of ``model`` on ``task`` (report.analyze's docstring);
    ``split``: the training pairs of a bare model."""
    check_model(model, task)
    results: dict[str, Result] = {}
    not_run: dict[str, str] = {}

    def attempt(key: str, fn: Callable[[], Result], needs: str | None = None) -> None:
        if needs is not None:
            not_run[key] = f"{key.replace('_', ' ')}: {needs}"
            return
        try:
            results[key] = fn()
        except AnalysisError as e:
            msg = str(e)
            not_run[key] = msg if msg.startswith(key.replace("_", " ")) else f"{key}: {msg}"

    attempt("embedding", lambda: embedding_fourier(model, task))
    train_idx = split if run is None else run.train_idx
    try:
        data: ModelData | None = gather(model, task, train_idx)
    except AnalysisError as e:
        data = None
        for key in PAIR_ANALYSES[1:]:
            attempt(key, lambda: results["embedding"], needs=str(e))
    losses: dict[str, tuple[float, float]] = {}
    if data is not None:
        _run_all(model, task, data, options, attempt, results)
        losses = losses_by_set(data.logits, data.labels, data.sets)
    if options.over_training:
        attempt("over_training", lambda: over_training(_with_snapshots(run)))
    return Report(
        source=name,
        task=task,
        results=results,
        not_run={k: not_run[k] for k in (*PAIR_ANALYSES, "over_training") if k in not_run},
        losses=losses,
        setup_differences=tuple(paper_setup_differences(model, task)),
        assumptions=tuple(assumed),
        model=model,
        family="modular",
    )


def _run_all(
    model: tl.Model,
    task: Task,
    data: ModelData,
    options: AnalyzeOptions,
    attempt: Callable[..., None],
    results: dict[str, Result],
) -> None:
    key_freqs, threshold = options.key_freqs, options.threshold or DEFAULT_THRESHOLD
    basis, restricted = options.basis, options.restricted
    attempt(
        "neuron_logit_map",
        lambda: neuron_logit_map(model, task, key_freqs=key_freqs, threshold=threshold, data=data),
    )
    wl = results.get("neuron_logit_map")
    keys = key_freqs or (list(wl.key_freqs) if isinstance(wl, NeuronLogitMapResult) else [])
    why = None if keys else _no_keys_reason(wl)
    attempt("directions", lambda: read_off_directions(model, task, key_freqs=keys, data=data), why)
    attempt("logit_fit", lambda: logit_fit(model, task, key_freqs=keys, data=data), why)
    attempt(
        "neurons",
        lambda: neuron_fits(model, task, key_freqs=keys, basis=basis, data=data),
        why,
    )
    attempt("attention", lambda: attention_heads(model, task, data=data))
    attempt("efficiency", lambda: efficiency(model, task, data=data))
    attempt("representation", lambda: representation(model, task, data=data,
                                                      key_freqs=keys or None))
    attempt("circuit_density", lambda: circuit_density(model, task, data.sets.get("train")))
    attempt("algorithm", lambda: algorithm(model, task, data=data))
    neurons = results.get("neurons")
    attempt(
        "ablations",
        lambda: ablations(
            model,
            task,
            key_freqs=keys,
            data=data,
            neurons=neurons,  # type: ignore[arg-type]
            restricted=restricted,
        ),
        why
        or (
            None
            if isinstance(neurons, NeuronsResult)
            else "needs the neuron fits, which did not run"
        ),
    )


def _with_snapshots(run: Run | None) -> Run:
    if run is None:
        raise AnalysisError("over training: needs a Run with snapshots, not a bare model")
    return run


def _no_keys_reason(wl: Result | None) -> str:
    if isinstance(wl, NeuronLogitMapResult):
        n = len(wl.norms) - 1
        return (
            f"needs key frequencies, and W_L has no sparse Fourier structure "
            f"({wl.n_above_threshold} of {n} frequencies cross the rule; Gini "
            f"{wl.fourier.gini:.3f}); give key_freqs to run it anyway"
        )
    return "needs key frequencies from the neuron-logit map, which did not run; give key_freqs"


def table5(report: Report, unit: str = "pairs") -> pd.DataFrame:
    """The Table 5 row: losses per pair set, Gini coefficients, key frequencies, FVEs; the
    paper's mainline values beside them for a model of the paper's setup."""
    vals = {f"loss ({s} {unit})": sci(v[0]) for s, v in report.losses.items()}
    if report.embedding:
        vals["Gini(W_E)"] = f"{report.embedding.gini:.3f}"
    if report.neuron_logit_map:
        vals["Gini(W_L)"] = f"{report.neuron_logit_map.fourier.gini:.3f}"
        vals["key frequencies"] = report.neuron_logit_map.table().iloc[0]["ours"]
    if report.logit_fit:
        vals["logit FVE"] = pct(report.logit_fit.fve)
    if report.directions:
        vals["mean FVE of u_k, v_k projections"] = pct(report.directions.mean_fve)
    which = report.results.get("algorithm")
    if isinstance(which, AlgorithmResult):
        vals["algorithm (Zhong et al.)"] = (
            f"{which.verdict} (symmetricity {which.gradient_symmetricity:.3f}, "
            f"irrelevance {which.distance_irrelevance:.3f})"
        )
    rows = [{"quantity": k, "ours": v} for k, v in vals.items()]
    if not report.setup_differences:
        for row in rows:
            paper = PAPER_TABLE5.get(row["quantity"])
            row["paper (mainline)"] = "-" if paper is None else paper[0]
    return pd.DataFrame(rows)


def algorithm_note(report: Report) -> list[str]:
    """The caveat under the tables when Zhong et al.'s verdict is not the clock, the
    algorithm Nanda et al.'s analyses describe (:mod:`grok_interp.analyses.algorithm`)."""
    which = report.results.get("algorithm")
    if not isinstance(which, AlgorithmResult) or which.verdict == CLOCK:
        return []
    return [
        f"Algorithm {which.verdict} (Zhong et al. 2023: gradient symmetricity "
        f"{which.gradient_symmetricity:.3f}, distance irrelevance "
        f"{which.distance_irrelevance:.3f}): Nanda et al.'s tables describe the clock "
        "algorithm (cos/sin products through the MLP); here their Fourier terms may describe "
        "another computation, so read them with care."
    ]


class Modular(Family):
    """Pairs of Z_p or S5 on a HookedTransformer (module docstring)."""

    kind = "modular"
    task_type: ClassVar[type] = Task
    preset_types: ClassVar[tuple[type, ...]] = (ModelPreset,)
    presets: ClassVar[Mapping[str, Any]] = PRESETS
    analyses: ClassVar[tuple[str, ...]] = (*PAIR_ANALYSES, "over_training")
    title = "Nanda et al. 2023"
    what = "pairs of Z_p or S5"
    newer_options: ClassVar[frozenset[str]] = frozenset(NEWER_OPTIONS)

    def build(self, preset: ModelPreset, task: Task, *, seed: int,
              device: torch.device) -> tl.Model:  # fmt: skip
        return build_model(preset, task, seed=seed, device=device)

    def owns(self, model: Any) -> bool:
        """A HookedTransformer or a TransformerBridge (:mod:`grok_interp.tl`)."""
        return tl.is_transformer(model)

    def new_run(self, spec: RunSpec, parent: Run | None = None) -> Run:
        cfg = spec.train
        if cfg.batch_size is not None:
            raise ValueError("batch_size applies to streaming parity only; the other tasks "
                             "train full-batch")  # fmt: skip
        if cfg.fresh_data:
            raise ValueError("fresh_data (infinite data) applies to sequence tasks only")
        if spec.init is None:
            idx = split(spec.task, **cfg.train_size, seed=spec.seed)  # type: ignore[arg-type]
            return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed,
                       train_idx=idx)  # fmt: skip
        parent = init_run(spec, parent)
        size = cfg.train_size
        n = int(size.get("n_train", 0)) or round(size["frac_train"] * parent.pairs_task.n_pairs)
        return continued(parent, cfg, subset(parent, n, seed=spec.seed), spec.seed)

    def test_idx(self, run: Run) -> Int[Tensor, " n_test"]:
        return heldout_indices(run.task, run.train_idx)

    def pairs_task(self, run: Run) -> Task:
        return run.task  # type: ignore[no-any-return]

    def train(self, members: list[tuple[Run, Any]], device: torch.device,
              options: TrainOptions) -> None:  # fmt: skip
        ms = [member(r, out, device) for r, out in members]
        loop = PairLoop(ms, device, options.step, options.callbacks,  # type: ignore[arg-type]
                        options.stack, options.compile)  # fmt: skip
        loop.run(options.progress, options.save_every or members[0][0].train.snapshot_every)

    def stack_size(self, run: Run, n: int, device: torch.device) -> int:
        return default_stack(to_config(run.model, run.task), len(run.train_idx), device)

    def report(self, model: Any, task: Any, run: Run | None, name: str,
               options: AnalyzeOptions, assumed: Iterable[str] = ()) -> Report:  # fmt: skip
        assumed = list(assumed)
        if task is None:
            task, guess = task_from_model(model)
            assumed += guess
        split = None if options.split is None else train_indices(options.split, task)
        return pair_report(model, task, run, name, options, assumed, split)

    def summary(self, report: Report) -> pd.DataFrame:
        return table5(report)

    def summary_heading(self) -> str:
        return "Summary (Table 5 row)"

    def notes(self, report: Report) -> list[str]:
        return super().notes(report) + setup_note(report.setup_differences) + algorithm_note(report)

    def default_spec(self) -> RunSpec:
        return RunSpec()


FAMILY = Modular()
