"""``analyze()``: every analysis that applies to one checkpoint, as a Report.

The checkpoint's experiment family (:mod:`grok_interp.families`) says which analyses
apply and writes its report section: the Nanda et al. (2023) tables for a transformer on
pairs, the automaton of van Rossem & Saxe (2025) for streaming parity, the
representation of Liu et al. (2022) for the toy model, the attention heads and
per-position losses of App. D.3 for the sequence tasks. An analysis that does not apply
to the model (LayerNorm, no MLP, another task, no sparse Fourier structure) is listed
with its reason, and so is each analysis that needed it; the others still run. What was
assumed about a foreign checkpoint is stated. The Report itself:
:mod:`grok_interp.reporting`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import torch

from grok_interp.analyses.ablations import Restricted
from grok_interp.analyses.logits import DEFAULT_THRESHOLD
from grok_interp.families import registry
from grok_interp.families.base import AnalyzeOptions
from grok_interp.foreign import model_from_foreign, recorded_split
from grok_interp.reporting import SCHEMA_VERSION, Report, check_folder
from grok_interp.runs import CheckpointError, Run, is_run_dict, model_from_run, read_checkpoint
from grok_interp.runs import run_from_checkpoint as _from_file
from grok_interp.snapshots import SplitLike, train_indices

__all__ = ["SCHEMA_VERSION", "Report", "analyze", "check_folder"]


def _resolve(
    source: Any, task: Any, step: int | None, act_fn: str | None, device: str | torch.device
) -> tuple[Any, Any, Run | None, str, list[str]]:
    """The model, task (None: the family's default), Run (if any), name and assumptions
    behind ``source``, reading a file once."""
    if isinstance(source, torch.nn.Module):
        return source, task, None, f"a {type(source).__name__}", []
    run, name = (source, "a Run") if isinstance(source, Run) else (None, str(source))
    if run is None:
        obj = read_checkpoint(source)
        if not is_run_dict(obj):
            if step is not None:
                raise CheckpointError(f"{source} is a foreign checkpoint: it has no snapshots")
            model, found, assumed = model_from_foreign(obj, name, task=task, act_fn=act_fn,
                                                       device=device)  # fmt: skip
            return model, found, None, name, assumed
        run = _from_file(obj, name)
    return model_from_run(run, step, device), task or run.task, run, name, []


def _recorded(source: Any, split: Any, assumed: list[str]) -> Any:
    """The split a foreign file records beside it (Chughtai et al.'s cfg.json) when none
    is given, said in the assumptions."""
    if split is not None or not isinstance(source, str | Path):
        return split
    found = recorded_split(source)
    if found is None:
        return None
    assumed.append(found[1])
    return found[0]


def analyze(
    source: str | Path | Run | torch.nn.Module,
    task: Any = None,
    *,
    step: int | None = None,
    key_freqs: list[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    basis: Literal["fourier", "monomials"] = "fourier",
    restricted: Restricted = "authors",
    act_fn: str | None = None,
    device: str | torch.device = "cpu",
    split: SplitLike | None = None,
    over_training: bool | None = None,
) -> Report:
    """Run every analysis that applies to a checkpoint, a Run (of any family) or a bare
    learner (a HookedTransformer is taken for a model of pairs, a HookedRNN for one of
    streaming parity, a toy model for Liu et al.'s).

    For a transformer on pairs (Nanda et al. 2023): ``task`` defaults to the Run's, or
    ``add`` with the layout the shapes imply (an assumption the report states; so is
    ``act_fn``, ReLU unless given, for foreign checkpoints). ``split`` gives the training
    pairs of a model trained elsewhere (indices ``a*p + b``, a mask over the p^2 pairs,
    or a file holding either: :func:`grok_interp.snapshots.train_indices`), or replaces a
    Run's, so losses, o_mem and predicted accuracy are reported per pair set. ``key_freqs``
    defaults to those found in W_L (``threshold``, Appendix C.2); ``restricted`` picks the
    restricted-loss definition (see :mod:`grok_interp.analyses.ablations`). The forwards
    run on ``device`` (a bare model stays where it is); the fits and tables are computed
    on the CPU.

    An analysis that does not apply to the model (an ``AnalysisError``: LayerNorm, no
    MLP, another task, no sparse Fourier structure) is listed in ``not_run`` with its
    reason; a model that does not fit the task raises, and so does any other error.

    ``over_training`` adds every paper's measures over a Run's training and the figure
    that puts them on one epoch axis (:mod:`grok_interp.analyses.curves`); by default
    (None) whenever the Run holds two snapshots or more. They cost a forward per snapshot
    (seconds on a shipped run): ``over_training=False`` leaves them out.
    """
    model, task, run, name, assumed = _resolve(source, task, step, act_fn, device)
    if run is None:
        split = _recorded(source, split, assumed)
    family = registry.of_learner(model) if run is None else run.family
    if split is not None and run is not None:  # a split is of pairs: else a one-line error
        run = dataclasses.replace(run, train_idx=train_indices(split, run.pairs_task))
    if over_training is None:
        over_training = run is not None and len(run.snapshots) >= 2
    options = AnalyzeOptions(key_freqs=key_freqs, threshold=threshold, basis=basis,
                             restricted=restricted, device=device,
                             split=split if run is None else None,
                             over_training=over_training)  # fmt: skip
    return family.finish(family.report(model, task, run, name, options, assumed))
