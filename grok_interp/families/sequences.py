"""The family of the sequence tasks of Nanda et al. (2023), Appendix D.3
(:mod:`grok_interp.sequences`): five-digit addition, repeated subsequences and skip
trigrams on a HookedTransformer, with a fixed training set or a fresh batch every step
(``fresh_data``), cross-entropy in float64 over the positions with a target. Its report:
the attention heads' scores (induction, previous-token, big-token;
:mod:`grok_interp.analyses.sequence_heads`) and the test loss at each output position
(:mod:`grok_interp.analyses.sequence_results`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import tl
from grok_interp.analyses import catalog
from grok_interp.analyses.common import Result
from grok_interp.analyses.sequence_heads import big_token_attention, induction_scores
from grok_interp.analyses.sequence_results import HeadScoresResult, position_losses
from grok_interp.config import PRESETS, ModelPreset, TrainConfig
from grok_interp.families.base import AnalyzeOptions
from grok_interp.families.stepwise import StepwiseFamily, TokenBatch
from grok_interp.losses import IGNORE, seq_loss
from grok_interp.models import build_model
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec
from grok_interp.sequences import (
    SeqTask,
    accuracy_ceiling,
    fresh_batch,
    test_set,
    training_set,
)

SEQUENCE_ANALYSES = catalog.section("sequences")


class Sequences(StepwiseFamily):
    """The App. D.3 sequence tasks on a transformer (module docstring). The history adds
    the loss per output position (``test_loss_pos11`` ...) where the task has fixed ones."""

    kind = "sequences"
    task_type = SeqTask
    preset_types = (ModelPreset,)
    presets = PRESETS
    analyses = SEQUENCE_ANALYSES
    title = "Nanda et al. 2023, App. D.3"
    what = "sequence tasks"

    def progress(self, run: Run) -> pd.DataFrame:
        """Per snapshot and head: the induction and previous-token scores (repeated
        subsequences) or the big-token attention (skip trigrams), beside the test loss then
        (App. D.3); five-digit addition has no head measure and is refused in one line."""
        from grok_interp.analyses.sequence_heads import head_scores_over_training

        return head_scores_over_training(run)

    def build(self, preset: ModelPreset, task: SeqTask, *, seed: int,
              device: torch.device) -> tl.Model:  # fmt: skip
        return build_model(preset, task, seed=seed, device=device)

    def new_run(self, spec: RunSpec, parent: Run | None = None) -> Run:
        cfg = spec.train
        if cfg.batch_size is not None:
            raise ValueError("batch_size applies to streaming parity only; the other tasks "
                             "train full-batch")  # fmt: skip
        if cfg.n_train is None or spec.init is not None:
            raise ValueError("a sequence task needs n_train (the training set's size, or the "
                             "fresh batch's with fresh_data) and no init")  # fmt: skip
        return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed,
                   train_idx=torch.arange(cfg.n_train))  # fmt: skip

    def test_idx(self, run: Run) -> Int[Tensor, " n_test"]:
        return torch.arange(run.task.n_test)  # its test set is its own stream

    def accuracy_ceiling(self, run: Run) -> float:
        """Below 1 for repeated subsequences, whose repeat's first target is ambiguous
        (:func:`~grok_interp.sequences.accuracy_ceiling`)."""
        return accuracy_ceiling(run.task, run.seed)

    def train_batch(self, run: Run, epoch: int) -> TokenBatch:
        """The batch of the step at ``epoch``: the fixed training set, or with
        ``fresh_data`` a fresh batch of the same size, a function of (seed, epoch)."""
        if run.train.fresh_data:
            return fresh_batch(run.task, len(run.train_idx), run.seed, epoch)
        return training_set(run.task, len(run.train_idx), run.seed)

    def batches(self, run: Run, epoch: int) -> Iterable[TokenBatch]:
        return [self.train_batch(run, epoch)]

    def loss(self, model: Any, inputs: Int[Tensor, "batch pos"],
             targets: Int[Tensor, "batch pos"]) -> Float[Tensor, ""]:  # fmt: skip
        return seq_loss(model(inputs), targets)

    def evaluate(self, model: Any, run: Run, epoch: int,
                 device: torch.device) -> dict[str, float]:  # fmt: skip
        """Loss and accuracy on the last step's batch (the training set before the first
        step) and on the test set, and the loss at each fixed output position."""
        fresh = run.train.fresh_data and epoch > 0
        last = self.train_batch(run, epoch - 1) if fresh else self.train_batch(run, 0)
        row: dict[str, float] = {}
        for name, (tokens, targets) in (("train", last), ("test", test_set(run.task, run.seed))):
            logits = model(tokens.to(device)).cpu()
            row[f"{name}_loss"] = float(seq_loss(logits, targets))
            hit = (logits.argmax(-1) == targets)[targets != IGNORE]
            row[f"{name}_acc"] = float(hit.double().mean())
            for pos in run.task.output_positions:
                at = slice(pos, pos + 1)
                row[f"{name}_loss_pos{pos}"] = float(seq_loss(logits[:, at], targets[:, at]))
        return row

    @torch.no_grad()
    def report(self, model: Any, task: Any, run: Run | None, name: str,
               options: AnalyzeOptions, assumed: Iterable[str] = ()) -> Report:  # fmt: skip
        """The heads' scores that apply to the task, the loss at each output position and
        on each set; the pair analyses are listed as not applying."""
        if task is None:
            raise ValueError("a bare transformer's sequence task is not known: analyze its Run")
        seed = 0 if run is None else run.seed
        results: dict[str, Result] = {}
        not_run = {k: f"{k.replace('_', ' ')}: a sequence task has no (a, b) pairs"
                   for k in catalog.section("pairs")}  # fmt: skip
        scores = _head_scores(model, task)
        if scores is None:
            not_run["head_scores"] = (f"head scores: read the repeat and skip_trigram tasks' "
                                      f"heads, not {task.kind}'s")  # fmt: skip
        else:
            results["head_scores"] = scores
        test = test_set(task, seed)
        test_logits = model(test[0].to(model.cfg.device)).cpu()
        results["position_losses"] = position_losses(test_logits, test[1])
        sets = {"test": (test_logits, test[1])}
        if run is not None:
            tokens, targets = training_set(task, len(run.train_idx), seed)
            sets = {"train": (model(tokens.to(model.cfg.device)).cpu(), targets), **sets}
        losses = {k: (float(seq_loss(lg, t)), float((lg.argmax(-1) == t)[t != IGNORE]
                                                   .double().mean()))
                  for k, (lg, t) in sets.items()}  # fmt: skip
        return Report(source=name, task=task, results=results, not_run=not_run,
                      losses=losses, setup_differences=(task.describe(),), model=model,
                      assumptions=tuple(assumed), family=self.kind)  # fmt: skip

    def default_spec(self) -> RunSpec:
        """Five-digit addition on a 1-layer transformer, 700 training sequences (App. D.3)."""
        return RunSpec(task=SeqTask(), model=PRESETS["small"],
                       train=TrainConfig(n_train=700, epochs=1000, eval_every=50,
                                         snapshot_every=100))  # fmt: skip


def _head_scores(model: tl.Model, task: SeqTask) -> HeadScoresResult | None:
    if task.kind == "repeat":
        return HeadScoresResult(scores=induction_scores(model, task))
    if task.kind == "skip_trigram":
        return HeadScoresResult(scores={"big_token": big_token_attention(model, task)})
    return None


FAMILY = Sequences()
