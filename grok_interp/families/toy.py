"""The family of Liu et al. (2022)'s toy model, Dec(E_i + E_j) (:mod:`grok_interp.toy`), on
pairs of numbers: the tasks, splits and continued runs of modular pairs, its own stacked
loop (:class:`~grok_interp.toy.ToyLoop`) and a report of its representation's quality."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import torch

from grok_interp.analyses.common import Result, pair_sets
from grok_interp.analyses.curves import over_training
from grok_interp.analyses.representation import toy_representation
from grok_interp.config import TOY_PRESETS, ToyPreset
from grok_interp.engine import TrainOptions
from grok_interp.families.base import AnalyzeOptions
from grok_interp.families.modular import PAIR_ANALYSES, Modular, table5
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec
from grok_interp.tasks import Task
from grok_interp.toy import ToyLoop, ToyModel, build_toy, loss_of_scores, toy_spec


class Toy(Modular):
    """Liu et al.'s toy model on pairs (module docstring)."""

    kind = "toy"
    task_type = Task
    preset_types = (ToyPreset,)
    learner_types = (ToyModel,)
    presets = TOY_PRESETS
    analyses = ("representation", "over_training")
    title = "Liu et al. 2022"
    what = "Liu et al.'s toy model"


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
                   for k in PAIR_ANALYSES if k != "representation"}  # fmt: skip
        if options.over_training and run is not None and len(run.snapshots) > 1:
            results["over_training"] = over_training(run, parts=("representation",))
        elif options.over_training:
            not_run["over_training"] = "over training: needs a Run with snapshots"
        return Report(
            source=name, task=task, results=results, not_run=not_run,
            losses=losses, model=model, assumptions=tuple(assumed), family=self.kind,
            setup_differences=(f"Liu et al.'s toy model Dec(E_i + E_j), {model.spec}",),
        )  # fmt: skip

    def summary(self, report: Report) -> pd.DataFrame:
        return table5(report)

    def summary_heading(self) -> str:
        return f"Summary ({self.title}'s toy model: losses per pair set)"

    def default_spec(self) -> RunSpec:
        return toy_spec()


FAMILY = Toy()
