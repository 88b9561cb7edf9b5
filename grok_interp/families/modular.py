"""The family of modular pairs: binary operations on Z_p and on finite groups
(:mod:`grok_interp.tasks`) on a transformer (:mod:`grok_interp.models`), trained
full-batch (Nanda et al. 2023, Section 3; Varma et al. 2023), analysed by every pair
analysis of the catalog (Table 5 and the sections behind it). Continued runs
(``RunSpec.init``, Varma et al. 2023, Section 5.2) belong here. The machinery it shares
with the toy model's family is :mod:`grok_interp.families.pairs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import pandas as pd
import torch

from grok_interp import tl
from grok_interp.analyses import catalog
from grok_interp.analyses.common import setup_note
from grok_interp.config import NEWER_OPTIONS, PRESETS, ModelPreset
from grok_interp.engine import TrainOptions, default_stack, member
from grok_interp.families.base import AnalyzeOptions
from grok_interp.families.pairs import (
    PairFamily,
    PairLoop,
    algorithm_note,
    pair_report,
    task_from_model,
)
from grok_interp.models import build_model, to_config
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec
from grok_interp.snapshots import train_indices
from grok_interp.tasks import Task


class Modular(PairFamily):
    """Pairs of Z_p or a group on a transformer (module docstring)."""

    kind = "modular"
    preset_types: ClassVar[tuple[type, ...]] = (ModelPreset,)
    presets: ClassVar[Mapping[str, Any]] = PRESETS
    title = "Nanda et al. 2023"
    what = "pairs of Z_p or a group"
    newer_options: ClassVar[frozenset[str]] = frozenset(NEWER_OPTIONS)

    @property
    def analyses(self) -> tuple[str, ...]:  # type: ignore[override]
        """The catalog's pair analyses (those declared later too) and the curves."""
        return (*catalog.section("pairs"), "over_training")

    def title_of(self, report: Report) -> str:
        """Chughtai et al.'s for a task over a group that is not cyclic (their irreps are
        what applies), else Nanda et al.'s."""
        return "Chughtai, Chan & Nanda 2023" if report.task.group else self.title

    def progress(self, run: Run) -> pd.DataFrame | None:
        """None: ``grok-interp progress`` computes Nanda et al.'s measures with its own
        options (key frequencies, restricted loss) and phases."""
        return None

    def build(self, preset: ModelPreset, task: Task, *, seed: int,
              device: torch.device) -> tl.Model:  # fmt: skip
        return build_model(preset, task, seed=seed, device=device)

    def owns(self, model: Any) -> bool:
        """A HookedTransformer or a TransformerBridge (:mod:`grok_interp.tl`)."""
        return tl.is_transformer(model)

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

    def summary_heading(self) -> str:
        return "Summary (Table 5 row)"

    def notes(self, report: Report) -> list[str]:
        return super().notes(report) + setup_note(report.setup_differences) + algorithm_note(report)

    def default_spec(self) -> RunSpec:
        return RunSpec()


FAMILY = Modular()
