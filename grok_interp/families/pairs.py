"""The shared machinery of runs on pairs (docs/DESIGN.md, "Layers"): the loop that trains
a stack of transformers full-batch on pairs (Nanda et al. 2023, Section 3), the pair
report that runs every pair analysis of the catalog (:mod:`grok_interp.analyses.catalog`)
on one gathered forward, the Table 5 summary, and :class:`PairFamily`, the base of the
families whose task is one of pairs (a transformer's: :mod:`~grok_interp.families.
modular`; Liu et al.'s toy model: :mod:`~grok_interp.families.toy`). No family imports
another; both import this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import fast, tl
from grok_interp.analyses import catalog
from grok_interp.analyses.algorithm import CLOCK, AlgorithmResult
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
)
from grok_interp.analyses.curves import over_training
from grok_interp.analyses.irreps import IrrepsResult
from grok_interp.analyses.stability import stability_point
from grok_interp.engine import (
    Callback,
    Member,
    MemberLoop,
    StepKind,
    default_stack,
    run_epochs,
    update,
)
from grok_interp.families.base import AnalyzeOptions, Family
from grok_interp.foreign import guess_task
from grok_interp.hooks import dropout_hook
from grok_interp.losses import cross_entropy64, stablemax_cross_entropy
from grok_interp.pair_runs import continued, init_run, subset, train_labels
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec
from grok_interp.tasks import Task, heldout_indices, split

# Table 5's mainline row (Appendix C.2), with the pair set each loss is read on.
PAPER_TABLE5: dict[str, tuple[str, str | None]] = {
    "loss (test pairs)": ("2.41e-7", "test"),
    "key frequencies": ("14, 35, 41, 42, 52", None),
    "logit FVE": ("95%", None),
    "mean FVE of u_k, v_k projections": ("> 90%", None),
    "algorithm (Zhong et al.)": ("clock", None),
}
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
        task = self.members[0].run.pairs_task
        reason = fast.unsupported_reason(self.members[0].model, self.tokens)
        if reason is None and task.answer_pos != task.n_ctx - 1:
            reason = "the fast forward reads the last position, this layout's answer is not there"
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
        at = m.run.pairs_task.answer_pos  # the layout's answer position
        if p_drop == 0:
            return m.model(tokens)[:, at]
        hooks: list[tuple[str | Callable[..., Any], Callable[..., Any]]] = [
            (f"blocks.{i}.mlp.hook_post", dropout_hook(p_drop, m.gen))
            for i in range(m.model.cfg.n_layers)
        ]
        return m.model.run_with_hooks(tokens, fwd_hooks=hooks)[:, at]

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
    """The task a bare transformer is taken to learn: ``add`` with the layout its context
    length, vocabularies and attention direction allow (:func:`grok_interp.foreign.
    guess_task`; an assumption the report states)."""
    return guess_task(model)


@torch.no_grad()
def pair_report(model: tl.Model, task: Task, run: Run | None, name: str,
                options: AnalyzeOptions, assumed: list[str],
                split: Int[Tensor, " n_train"] | None = None) -> Report:  # fmt: skip
    """Every pair analysis of the catalog on ``model`` and ``task``, in declaration order,
    on one gathered forward (report.analyze's docstring); each that cannot run is listed
    with its reason. ``split``: the training pairs of a bare model."""
    check_model(model, task)
    names = catalog.section("pairs")
    results: dict[str, Result] = {}
    not_run: dict[str, str] = {}
    train_idx = split if run is None else run.train_idx
    try:
        _fits_one_forward(task)
        data: ModelData | None = gather(model, task, train_idx)
        failed = None
    except AnalysisError as e:
        data, failed = None, str(e)
    ctx = catalog.Context(model, task, data, options, results, train_idx)
    for key in names:
        a = catalog.get(key)
        why = a.unmet(task, model) or (failed if a.forward else None) or a.ready(ctx)
        if why is not None or a.run is None:
            not_run[key] = f"{key.replace('_', ' ')}: {why or 'declares no way to run'}"
            continue
        _attempt(key, lambda a=a: a.run(ctx), results, not_run)  # type: ignore[misc]
    losses: dict[str, tuple[float, float]] = {}
    if data is not None:
        losses = losses_by_set(data.logits, data.labels, data.sets)
    elif isinstance(results.get("irreps"), IrrepsResult):  # read in chunks by the irreps
        losses = _irreps_losses(results["irreps"])  # type: ignore[arg-type]
    if options.over_training:
        _attempt("over_training", lambda: over_training(_with_snapshots(run)), results, not_run)
    return Report(
        source=name,
        task=task,
        results=results,
        not_run={k: not_run[k] for k in (*names, "over_training") if k in not_run},
        losses=losses,
        setup_differences=tuple(paper_setup_differences(model, task)),
        assumptions=tuple(assumed),
        model=model,
        family="modular",
    )


# The largest task one forward over every pair serves (pairs x classes): the analyses on
# it peak near 150 bytes per entry (2.6 GB at Z_257, 1.7e7 entries), so 2.5e7 keeps them
# within 4 GB. Beyond it (Z_p for p > 292, S6's 518,400 pairs x 720 classes) the forward
# is skipped and the irreps, read in chunks, give the losses.
ONE_FORWARD = 25_000_000


def _fits_one_forward(task: Task) -> None:
    n = task.n_pairs * task.d_vocab_out
    if n > ONE_FORWARD:
        irreps = "the irreducible representations" + (
            "" if task.group else " (C_p's: the Fourier frequencies)")  # fmt: skip
        raise AnalysisError(f"{task.n_pairs:,} pairs x {task.d_vocab_out} classes are too "
                            f"many for one forward over every pair within 4 GB (over "
                            f"{ONE_FORWARD:.1e}); {irreps} read them in chunks")  # fmt: skip


def _irreps_losses(res: IrrepsResult) -> dict[str, tuple[float, float]]:
    """The losses per set that the irreps analysis read in chunks (accuracy: all pairs)."""
    out = {s: (res.totals[f"{s}_loss"], float("nan")) for s in ("train", "test")
           if f"{s}_loss" in res.totals}  # fmt: skip
    return {**out, "all": (res.loss, res.accuracy)}


def _attempt(key: str, fn: Callable[[], Result], results: dict[str, Result],
             not_run: dict[str, str]) -> None:  # fmt: skip
    """Run one analysis into ``results``, or its one-line reason into ``not_run``."""
    try:
        results[key] = fn()
    except AnalysisError as e:
        msg = str(e)
        not_run[key] = msg if msg.startswith(key.replace("_", " ")) else f"{key}: {msg}"


def _with_snapshots(run: Run | None) -> Run:
    if run is None:
        raise AnalysisError("over training: needs a Run with snapshots, not a bare model")
    return run


def table5(report: Report, unit: str = "pairs") -> pd.DataFrame:
    """The Table 5 row: losses per pair set, Gini coefficients, key frequencies, FVEs; the
    paper's mainline values beside them for a model of the paper's setup."""
    vals = {f"loss ({s} {unit})": sci(v[0]) for s, v in report.losses.items()}
    if getattr(report.task, "group", False) and report.irreps is not None:
        res = report.irreps  # a group that is not cyclic: Chughtai et al.'s summary
        vals["group"] = f"{res.group} ({report.task.p} elements)"
        vals["key irreps (Chughtai et al.)"] = ", ".join(res.key) or "none"
        if "percent_logits_explained" in res.totals:
            vals["logits explained by the irreps"] = pct(res.totals["percent_logits_explained"])
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




class PairFamily(Family, abstract=True):
    """A family whose task is one of pairs (:class:`~grok_interp.tasks.Task`): its runs
    split the pairs (or continue another run on a subset of its pairs, ``RunSpec.init``),
    test on the rest, and summarise as Table 5's row."""

    task_type: ClassVar[type] = Task

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

    def summary(self, report: Report) -> pd.DataFrame:
        return table5(report)
