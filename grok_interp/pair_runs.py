"""Runs on pairs, below the families: the run a continuation starts from, the subset of
pairs it trains on, the continued Run itself (Varma et al. 2023, Section 5.2: ungrokking
continues a network that generalised on fewer pairs), and the labels a run trains on
(the task's, or random ones: Zhang et al.'s memorisation control). The pair families and
``training.continue_on`` share them (docs/DESIGN.md, "Layers").
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp.config import TrainConfig
from grok_interp.runs import Run, RunSpec, load_run

__all__ = ["continued", "init_run", "subset", "train_labels"]


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


def train_labels(run: Run) -> Int[Tensor, " n_train"]:
    """The labels a run trains on: the task's, or with ``random_labels`` a uniform draw
    over the classes for each training pair from a generator seeded by the run's seed."""
    true = run.pairs_task.labels()[run.train_idx]
    if not run.train.random_labels:
        return true
    gen = torch.Generator().manual_seed(run.seed + 2)  # + 1 seeds the dropout masks
    return torch.randint(run.task.d_vocab_out, true.shape, generator=gen)
