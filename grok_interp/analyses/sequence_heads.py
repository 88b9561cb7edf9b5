"""Attention heads of the sequence tasks (Nanda et al. 2023, Appendix D.3, Figures 31-34;
:mod:`grok_interp.sequences`).

- **Induction score** (repeated subsequences): at each position of the repeat that carries
  a target (t = j + m, 0 <= m <= span - 2, the span copied from i to j; the last token of
  the repeat has none, :mod:`grok_interp.sequences`), the attention weight from t to
  i + m + 1, the token after t's earlier occurrence, whose value is t's target: what an
  induction head attends to (Olsson et al. 2022). Averaged over those positions of ``n``
  seeded sequences, per layer and head: 1 for a perfect induction head, 1 / (t + 1) at
  each position for a uniform one. The **previous-token score** beside it: the mean
  attention from every position t >= 1 to t - 1, which the induction circuit's first
  head shows.
- **Big-token attention** (skip trigrams): the attention weight from the last position to
  the one token >= 10, per layer and head: 1 for the head that reads it.

Both read the patterns through ``run_with_cache`` (``blocks.L.attn.hook_pattern``) and
are tracked over a run's snapshots by :func:`head_scores_over_training`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from grok_interp.analyses.common import history_at, require
from grok_interp.runs import Run, model_from_run
from grok_interp.sequences import SeqTask, sample_with_meta
from grok_interp.tl import Model


def _patterns(model: Model, tokens: Tensor) -> Tensor:
    """(layers, batch, heads, query, key) attention patterns."""
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(tokens.to(model.cfg.device), names_filter=names)
    return torch.stack([cache[n] for n in names]).cpu()


@torch.no_grad()
def induction_scores(model: Model, task: SeqTask, *, n: int = 200,
                     seed: int = 0) -> dict[str, Float[Tensor, "layer head"]]:  # fmt: skip
    """``induction`` and ``previous_token`` scores, each (layers, heads) (module doc)."""
    require(task.kind == "repeat", "induction_scores", f"needs the repeat task, not {task.kind}")
    tokens, _, starts = sample_with_meta(task, n, seed)
    pat = _patterns(model, tokens)
    i, j = starts[:, 0], starts[:, 1]
    m = torch.arange(task.span - 1)  # the offsets in the repeat that carry a target
    q = (j[:, None] + m).reshape(-1)  # query positions t = j + m
    k = (i[:, None] + m + 1).reshape(-1)  # keys: the token after t's earlier occurrence
    b = torch.arange(n).repeat_interleave(len(m))
    by_pair = pat.permute(1, 3, 4, 0, 2)  # (batch, query, key, layers, heads)
    induction = by_pair[b, q, k].mean(0)
    t = torch.arange(1, task.n_ctx)
    previous = pat[:, :, :, t, t - 1].mean((1, 3))
    return {"induction": induction, "previous_token": previous}


@torch.no_grad()
def big_token_attention(model: Model, task: SeqTask, *, n: int = 200,
                        seed: int = 0) -> Float[Tensor, "layer head"]:  # fmt: skip
    """(layers, heads): mean attention from the last position to the token >= 10."""
    require(task.kind == "skip_trigram", "big_token_attention",
            f"needs the skip_trigram task, not {task.kind}")  # fmt: skip
    tokens, _, where = sample_with_meta(task, n, seed)
    pat = _patterns(model, tokens)
    by_pair = pat.permute(1, 3, 4, 0, 2)  # (batch, query, key, layers, heads)
    return by_pair[torch.arange(n), -1, where[:, 0]].mean(0)


@torch.no_grad()
def head_scores_over_training(run: Run, *, steps: Sequence[int] | None = None,
                              n: int = 200) -> pd.DataFrame:  # fmt: skip
    """Per snapshot, layer and head: the induction and previous-token scores (repeat) or
    the big-token attention (skip trigram), beside the run's test loss then."""
    task: SeqTask = run.task
    require("head_scores" in run.family.analyses and task.kind in ("repeat", "skip_trigram"),
            "head_scores_over_training", "needs a repeat or skip_trigram run")  # fmt: skip
    rows = []
    for step in sorted(run.snapshots) if steps is None else steps:
        model = model_from_run(run, step)
        if task.kind == "repeat":
            scores = induction_scores(model, task, n=n)
        else:
            scores = {"big_token": big_token_attention(model, task, n=n)}
        loss = history_at(run.history, step, ("test_loss",))
        for name, s in scores.items():
            for layer in range(s.shape[0]):
                for head in range(s.shape[1]):
                    rows.append({"epoch": float(step), "score": name, "layer": layer,
                                 "head": head, "value": float(s[layer, head]),
                                 **loss})  # fmt: skip
    return pd.DataFrame(rows)
