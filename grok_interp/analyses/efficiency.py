"""Trigonometric and memorisation logits (Varma et al. 2023, Appendix B; Section 5.1).

The logits over every input form a p^3 vector ``Z[a, b, c]``. For k = 1..K, K = (p-1)/2
(odd p), ``Z_k[a, b, c] = cos(w_k (a + b - c))`` with ``w_k = 2 pi k / p``; these are
orthogonal, each of squared norm p^3 / 2. The trigonometric logits are the projection on
all of them (no key frequencies needed, no constant): ``Z_T = sum_k (Z . Ẑ_k) Ẑ_k``, and
the memorisation logits the rest, ``Z_M = Z - Z_T``. Reported per pair set (test, train,
all): the mean correct-class logit of each, ``o_trig`` and ``o_mem`` (the paper's o^y_t and
o^y_m), and the share of the logit norm in the trigonometric subspace, ``||Z_T|| / ||Z||``
over all p^3 entries (Section 5.1's ">95% of the logit norm"; its square is reported too).

Decisions where the text is silent:
- The logits are not centred over c: Appendix B projects ``Z`` itself. A per-input offset
  (which the softmax ignores) therefore counts towards ``Z_M`` and the norm.
- For addition ``Z_T[a, b, a+b]`` is ``sum_k alpha_k`` for every input (the cosines are 1
  at the correct label), so ``o_trig`` is the same on every pair set; ``o_mem`` is not.
- Only ``add`` has this basis; other tasks are refused with the reason (Appendix B
  derives it for modular addition).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import fast, fourier, tl
from grok_interp.analyses.common import (
    UNKNOWN_SETUP,
    ModelData,
    Result,
    gather,
    history_at,
    pair_sets,
    pct,
    require,
    require_pairs,
    setup_note,
)
from grok_interp.models import param_norm
from grok_interp.runs import Callback, Run, load_params, model_from_run
from grok_interp.tasks import Task
from grok_interp.tl import Model


@dataclass(frozen=True)
class EfficiencyResult(Result):
    """C_trig and C_mem logits (module docstring); dicts are keyed by pair set."""

    o_trig: dict[str, float]
    o_mem: dict[str, float]
    trig_norm_share: float
    trig_sq_share: float
    alphas: Float[Tensor, " K"]
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP

    title = "Trigonometric and memorisation logits (Varma et al. 2023)"
    section = "Appendix B, Section 5.1"
    paper_name = "Varma et al. 2023"

    def table(self) -> pd.DataFrame:
        rows = [
            {"pairs": s, "o_trig (mean correct logit)": f"{self.o_trig[s]:.4g}",
             "o_mem (mean correct logit)": f"{self.o_mem[s]:.4g}"}
            for s in self.o_trig
        ]  # fmt: skip
        rows.append(
            {
                "pairs": "all p^3 logits",
                "o_trig (mean correct logit)": f"norm share {pct(self.trig_norm_share)}",
                "o_mem (mean correct logit)": f"squared {pct(self.trig_sq_share)}",
            }
        )
        return pd.DataFrame(rows)

    def figure(self) -> go.Figure:
        ks = list(range(1, len(self.alphas) + 1))
        fig = go.Figure(go.Bar(x=ks, y=self.alphas.tolist()))
        fig.update_layout(title=f"{self.title}: Z's coefficient on each cos(w_k(a+b-c)) "
                          f"({self.section})", xaxis_title="frequency k",
                          yaxis_title="alpha_k")  # fmt: skip
        return fig

    def notes(self) -> list[str]:
        return [
            "Z_T projects the p^3 logits on cos(w_k(a+b-c)) for every k = 1..ceil((p-1)/2); "
            "Z_M = Z - Z_T; the logits are not centred over c.",
            "Section 5.1 calls a network generalisation-only when the norm share exceeds 95%.",
            *setup_note(self.setup_differences),
        ]


def trig_mem(
    logits: Float[Tensor, "pairs p"], labels: Int[Tensor, " pairs"],
    sets: dict[str, Int[Tensor, " n"]],
) -> EfficiencyResult:
    """The tensor-level part of :func:`efficiency` (pairs a-major over the p x p grid)."""
    p = logits.shape[1]
    z = logits.double()
    a = torch.arange(p, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1)
    ks = torch.arange(1, fourier.n_freqs(p) + 1, dtype=torch.float64)
    w = 2 * math.pi * ks / p
    cs, ss = torch.cos(s[:, None] * w), torch.sin(s[:, None] * w)  # (p^2, K)
    cc, sc = torch.cos(w[:, None] * a), torch.sin(w[:, None] * a)  # (K, p)
    # Z . Z_k, using cos(w(s - c)) = cos ws cos wc + sin ws sin wc
    dots = (cs * (z @ cc.T)).sum(0) + (ss * (z @ sc.T)).sum(0)
    # Z_T = sum_k alpha_k Z_k; |Z_k|^2 = p^3 / 2, or p^3 for k = p/2 (even p: cos(pi n)^2 = 1)
    alphas = dots / torch.where(2 * ks == p, float(p**3), p**3 / 2)
    z_t = (cs * alphas) @ cc + (ss * alphas) @ sc
    rows = torch.arange(len(labels))
    correct_t, correct = z_t[rows, labels], z[rows, labels]
    sq = float(z_t.square().sum() / z.square().sum())
    return EfficiencyResult(
        o_trig={k: float(correct_t[i].mean()) for k, i in sets.items()},
        o_mem={k: float((correct - correct_t)[i].mean()) for k, i in sets.items()},
        trig_norm_share=math.sqrt(sq),
        trig_sq_share=sq,
        alphas=alphas.float(),
    )


@torch.no_grad()
def efficiency(
    model: Model, task: Task, *, data: ModelData | None = None
) -> EfficiencyResult:
    """o_trig, o_mem and the trigonometric norm share of any add checkpoint."""
    require_pairs(task, "efficiency")
    data = data or gather(model, task)
    require(task.op == "add", "efficiency", f"cos(w(a+b-c)) describes add, not {task.op}")
    res = trig_mem(data.logits, data.labels, data.sets)
    return replace(res, setup_differences=data.differences)


def trig_mem_callback() -> Callback:
    """A training callback that records Figure 9's measures live, at every evaluation:
    ``o_trig_<set>``, ``o_mem_<set>`` (test, train, all) and ``trig_norm_share`` go into the
    run's history beside the losses and ``param_norm``. Records nothing for tasks other
    than ``add`` (the basis is addition's)."""

    @torch.no_grad()
    def record(epoch: int, model: Model, run: Run) -> dict[str, float] | None:
        task = run.task
        if getattr(task, "op", None) != "add":  # another task, or another family
            return None
        tokens = task.tokens().to(model.cfg.device)
        res = trig_mem(fast.model_last_logits(model, tokens).cpu(), task.labels(),
                       pair_sets(task, run.train_idx))  # fmt: skip
        row = {f"o_trig_{k}": v for k, v in res.o_trig.items()}
        row |= {f"o_mem_{k}": v for k, v in res.o_mem.items()}
        return row | {"trig_norm_share": res.trig_norm_share}

    return record


@torch.no_grad()
def efficiency_over_training(run: Run, *, steps: Sequence[int] | None = None) -> pd.DataFrame:
    """Figure 9 of Varma et al.: per snapshot of ``run`` (or ``steps``), the parameter norm
    (all trainable parameters), ``o_trig`` and ``o_mem`` per pair set, the trigonometric
    norm share, and the run's train and test loss at that epoch (from its history)."""
    task = run.pairs_task
    require(task.op == "add", "efficiency", f"cos(w(a+b-c)) describes add, not {task.op}")
    sets = pair_sets(task, run.train_idx)
    labels, tokens = task.labels(), task.tokens()
    model = model_from_run(run)
    trainable = {n for n, _ in tl.trainable(model)}
    rows = []
    for step in sorted(run.snapshots) if steps is None else steps:
        weights = run.snapshots[step]
        load_params(model, weights)
        res = trig_mem(fast.model_last_logits(model, tokens), labels, sets)
        row: dict[str, float] = {"epoch": float(step)}
        row["param_norm"] = param_norm([v for n, v in weights.items() if n in trainable])
        for s in sets:
            row[f"o_trig_{s}"], row[f"o_mem_{s}"] = res.o_trig[s], res.o_mem[s]
        row["trig_norm_share"] = res.trig_norm_share
        row |= history_at(run.history, step, ("train_loss", "test_loss"))
        rows.append(row)
    return pd.DataFrame(rows)


def efficiency_figure(frame: pd.DataFrame, title: str = "") -> go.Figure:
    """Figure 9: losses, parameter norm, and the correct-class logits of C_trig and C_mem
    on the train and test pairs over training."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=["loss", "parameter norm",
                                                        "correct-class logit"])  # fmt: skip
    x = frame["epoch"]
    for col in ("train_loss", "test_loss"):
        fig.add_trace(go.Scatter(x=x, y=frame[col], name=col), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=frame["param_norm"], name="param_norm"), row=1, col=2)
    for col in [c for c in frame.columns if c.startswith(("o_trig_", "o_mem_"))]:
        if not col.endswith("_all"):
            fig.add_trace(go.Scatter(x=x, y=frame[col], name=col), row=1, col=3)
    fig.update_yaxes(type="log", exponentformat="power", title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="L2 norm", row=1, col=2)
    fig.update_yaxes(title_text="logit", row=1, col=3)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=f"C_trig and C_mem over training (Varma et al. 2023, Figure 9){title}")
    return fig
