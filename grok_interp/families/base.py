"""The contract of an experiment family (docs/DESIGN.md, "Families").

A family holds everything that differs between kinds of run: its task type, its learner
(built from a preset; a TransformerLens ``HookedRootModule``), its training loop, how its
Run is written and read, the analyses that apply to it and its report section, and the
run it starts from on the command line and in a sweep. The rest of the package asks the
family of a run (:mod:`grok_interp.families.registry`) and never branches on its type.

A subclass that leaves a part out fails when it is defined, not when it is first used
(equinox's abstract/final habit): a missing class attribute or an abstract method not
overridden is a TypeError naming it. An intermediate base says so with
``class Base(Family, abstract=True)``.
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from grok_interp.errors import CheckpointError

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from jaxtyping import Int
    from torch import Tensor
    from transformer_lens import HookedRootModule

    from grok_interp.engine import TrainOptions
    from grok_interp.report import Report
    from grok_interp.runs import Run, RunSpec

# What a family must set (class attributes) besides overriding the abstract methods.
REQUIRED = ("kind", "task_type", "preset_types", "presets", "analyses", "title")


@dataclass(frozen=True, kw_only=True)
class AnalyzeOptions:
    """What :func:`~grok_interp.report.analyze` passes to a family's report; each family
    reads the options that apply to it (the pair analyses: ``key_freqs``, ``threshold``
    (None: the default), ``basis``, ``restricted``, and ``split``, the training pairs of
    a bare model: :func:`grok_interp.snapshots.train_indices`); ``over_training``: the
    measures over a Run's snapshots too (:mod:`grok_interp.analyses.curves`, seconds)."""

    key_freqs: list[int] | None = None
    threshold: float | None = None
    basis: Literal["fourier", "monomials"] = "fourier"
    restricted: Literal["authors", "blocks2", "blocks3"] = "authors"
    device: Any = "cpu"
    split: Any = None
    over_training: bool = False


class Family(ABC):
    """One experiment family (module docstring). Class attributes:

    - ``kind``: the key of the registry and of the Run file (``"family"``);
    - ``task_type``, ``preset_types``: its task, and the presets its learners are built
      from (a run belongs to the family whose task type and preset type it has);
    - ``learner_types``: learners that, handed to ``analyze()`` bare, belong to it;
    - ``presets``: named presets (the CLI's ``--preset``);
    - ``analyses``: the names of the analyses that apply (the report's keys);
    - ``title``: the papers its analyses come from (the report's header);
    - ``what``: how error messages name its runs."""

    kind: ClassVar[str]
    task_type: ClassVar[type]
    preset_types: ClassVar[tuple[type, ...]]
    learner_types: ClassVar[tuple[type, ...]] = ()
    presets: ClassVar[Mapping[str, Any]]
    analyses: ClassVar[tuple[str, ...]]
    title: ClassVar[str]
    what: ClassVar[str] = "this task"
    # TrainConfig's options from the newer work on grokking its trainer supports
    newer_options: ClassVar[frozenset[str]] = frozenset()
    # the loss its trainer minimises where it is not TrainConfig.loss (None: that one)
    objective: ClassVar[str | None] = None

    def __init_subclass__(cls, abstract: bool = False, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if abstract:
            return
        missing = [n for n in REQUIRED if not hasattr(cls, n)]
        missing += [n for n, v in inspect.getmembers(cls)
                    if getattr(v, "__isabstractmethod__", False)]  # fmt: skip
        if missing:
            raise TypeError(f"family {cls.__name__} leaves out {', '.join(missing)}: every "
                            "family gives them (grok_interp.families.base)")  # fmt: skip

    # -- task and learner -------------------------------------------------------------
    def accepts(self, task: Any, model: Any) -> bool:
        """Whether a run of ``task`` on a ``model`` preset is of this family."""
        return type(task) is self.task_type and type(model) in self.preset_types

    def read_task(self, d: dict[str, Any]) -> Any:
        """The task from its Run-file dict."""
        return self.task_type(**d)

    def read_preset(self, d: dict[str, Any]) -> Any:
        """The preset from its Run-file dict: the preset type whose ``kind`` it names (a
        type without one when the dict names none)."""
        for cls in self.preset_types:
            if getattr(cls, "kind", None) == d.get("kind"):
                return cls(**d)
        raise CheckpointError(f"{self.kind} runs have no preset of kind {d.get('kind')!r}")

    @abstractmethod
    def build(self, preset: Any, task: Any, *, seed: int,
              device: torch.device) -> HookedRootModule:  # fmt: skip
        """A freshly initialised learner, seeded without touching the global RNG."""

    def owns(self, model: Any) -> bool:
        """Whether ``model``, handed to ``analyze()`` bare, is one of this family's
        learners (an instance of ``learner_types``)."""
        return isinstance(model, self.learner_types)

    # -- runs -------------------------------------------------------------------------
    @abstractmethod
    def new_run(self, spec: RunSpec, parent: Run | None = None) -> Run:
        """A fresh Run for ``spec`` (its training indices chosen), or a ValueError saying
        what this family does not accept."""

    @abstractmethod
    def test_idx(self, run: Run) -> Int[Tensor, " n_test"]:
        """The indices of the run's test inputs."""

    def pairs_task(self, run: Run) -> Any:
        """The run's task of (a, b) pairs, which the pair analyses need: a family of pairs
        gives it; the others say in one line that they have none."""
        own = ", ".join(self.analyses)
        raise CheckpointError(f"this run is on {run.task.describe()} ({self.what}), not on "
                              "pairs (a, b): the pair analyses and a split of pairs do not "
                              f"apply; its own analyses are {own}")  # fmt: skip

    # -- training ---------------------------------------------------------------------
    @abstractmethod
    def train(self, members: list[tuple[Run, Any]], device: torch.device,
              options: TrainOptions) -> None:  # fmt: skip
        """Train ``members`` ((Run, output path or None), sharing :meth:`step_key`) to
        their epochs, saving each where it has a path (engine.run_epochs' schedule)."""

    def step_key(self, run: Run) -> tuple[object, ...]:
        """What runs that train in one loop share: shapes, the epoch schedule, the loss
        and the float precision."""
        cfg = run.train
        schedule = (cfg.epochs, run.epoch, bool(run.history), cfg.eval_every,
                    cfg.snapshot_every)  # fmt: skip
        return (run.task, run.model, len(run.train_idx), cfg.dropout, *schedule, cfg.loss,
                cfg.precision)  # fmt: skip

    def check_train(self, run: Run) -> None:
        """A one-line error when the run sets a training option (``TrainConfig.
        newer_options``) that this family's trainer does not support."""
        unsupported = [n for n in run.train.newer_options() if n not in self.newer_options]
        if unsupported:
            raise ValueError(f"{', '.join(unsupported)}: {self.what}'s trainer does not "
                             "support them; leave them at their defaults")  # fmt: skip

    def stack_size(self, run: Run, n: int, device: torch.device) -> int:
        """How many of ``n`` runs sharing a step a sweep hands to one loop."""
        return n

    def accuracy_ceiling(self, run: Run) -> float:
        """The best test accuracy a run can reach (the sweep's results table reads
        generalisation as 99% of it): 1 where every input determines its target."""
        return 1.0

    # -- report -----------------------------------------------------------------------
    @abstractmethod
    def report(self, model: Any, task: Any, run: Run | None, name: str,
               options: AnalyzeOptions, assumed: Iterable[str] = ()) -> Report:  # fmt: skip
        """The report of a learner of this family (``run``: its Run, when there is one):
        every analysis in ``analyses`` that applies, the others listed with the reason."""

    def summary(self, report: Report) -> pd.DataFrame:
        """The report's summary table: the loss on each set."""
        return report.losses_table()

    def summary_heading(self) -> str:
        """The heading of the report's summary table: the family's papers."""
        return f"Summary ({self.title})"

    def notes(self, report: Report) -> list[str]:
        """Notes under the summary: what was assumed."""
        return [f"Assumed: {a}." for a in report.assumptions]

    def progress(self, run: Run) -> pd.DataFrame | None:
        """This family's measures at each snapshot of ``run``, one row per snapshot (or per
        snapshot and unit), for ``grok-interp progress``; None where the command computes
        them itself with its own options (Nanda et al.'s, for the transformer on pairs).
        A family without measures over training says so (this default)."""
        raise ValueError(f"{self.what} has no measures over training; its analyses are "
                         f"{', '.join(self.analyses)} (analyze())")  # fmt: skip

    def title_of(self, report: Report) -> str:
        """The papers whose analyses ``report`` holds: the family's ``title``."""
        return self.title

    def finish(self, report: Report) -> Report:
        """``report`` holding what this family builds of it: the papers' names, the summary
        table, its heading and the notes (the Report asks no one for them)."""
        report = dataclasses.replace(report, family=self.kind, title=self.title_of(report))
        return dataclasses.replace(report, summary=self.summary(report),
                                   summary_title=self.summary_heading(),
                                   notes=tuple(self.notes(report)))  # fmt: skip

    # -- command line and sweeps ------------------------------------------------------
    @abstractmethod
    def default_spec(self) -> RunSpec:
        """The run that ``grok-interp train --family KIND`` and a sweep point with
        ``family=KIND`` start from; their flags and fields replace its parts."""
