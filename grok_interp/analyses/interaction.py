"""The interaction theory of state mergers in streaming parity (van Rossem & Saxe 2025; the
notes' "Explanation", equations (1)-(7)); the automaton it explains:
:mod:`grok_interp.analyses.automaton`.

(:func:`interaction_terms`, :func:`interaction_over_training`) for a pair of training
strings x_1, x_2, the continuations c_i are the strings of length 0..``max_len`` -
max(|x_1|, |x_2|) (so x_a c_i is a training string), y_i(x_a) the model's output after
x_a c_i and y*_{a,i} its one-hot target, d_h = h(x_2) - h(x_1). Equations (4)-(6): A_low
= <||y~_i||^2> - ||<y~_i>||^2 with y~_i = y*_{2,i} - y*_{1,i}; A_high = ||<y~_i>||^2 -
<||y_i(x_2) - y_i(x_1)||^2 / ||d_h||^2>^-1; the predicted final squared distance
||d_h(inf)||^2 = (A_high + sqrt(A_high^2 + 4 A_low)) / 2; the pair merges when (7) A_low
= 0 and A_high < 0. For parity, strings with equal targets have equal targets under
every continuation, so y~ = 0, A_low = 0 and A_high = -<...>^-1 < 0 for every such pair:
the theory as summarised predicts that *every* equal-target pair merges and no unequal
one does. What it does not say is when; the measured distances over training show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from grok_interp.analyses.automaton import (
    Recurrent,
    extract_automaton,
    parity_task,
    prefix_states,
    snapshot_model,
)
from grok_interp.analyses.common import AnalysisError, Result
from grok_interp.runs import Run, learner
from grok_interp.streaming import (
    ParityTask,
    all_strings,
    node_lengths,
    node_strings,
    parity_targets,
    prefix_rows,
)


def interaction_terms(
    y_tilde: Float[Tensor, "pairs n d_out"], dy: Float[Tensor, "pairs n d_out"],
    dh2: Float[Tensor, " pairs"],
) -> tuple[Float[Tensor, " pairs"], Float[Tensor, " pairs"], Float[Tensor, " pairs"]]:
    """Equations (4)-(6) of the notes for pairs: ``y_tilde`` and ``dy`` (pairs, N, d_out)
    the target and output differences over the N continuations, ``dh2`` (pairs,) the
    squared representational distance. Returns A_low, A_high and the predicted
    ||d_h(inf)||^2 (pairs,)."""
    mean = y_tilde.mean(1)
    a_low = (y_tilde**2).sum(-1).mean(1) - (mean**2).sum(-1)
    gain = ((dy**2).sum(-1) / dh2[:, None]).mean(1)
    a_high = (mean**2).sum(-1) - 1 / gain
    return a_low, a_high, (a_high + torch.sqrt(a_high**2 + 4 * a_low)) / 2


def merger_predicted(a_low: Float[Tensor, " pairs"], a_high: Float[Tensor, " pairs"],
                     eps: float = 1e-12) -> Bool[Tensor, " pairs"]:  # fmt: skip
    """Condition (7): A_low = 0 (within ``eps``) and A_high < 0."""
    return (a_low.abs() <= eps) & (a_high < 0)


def sample_pairs(task: ParityTask, n_pairs: int, seed: int = 0) -> pd.DataFrame:
    """``n_pairs`` pairs of distinct training strings with equal targets and as many with
    unequal ones, seeded; each string of a uniform length in ``min_len..max_len``, then
    uniform among that length's (uniform over strings would make nine pairs in ten hold a
    string of the longest two lengths, whose continuations are the empty one alone).
    Columns ``node1``, ``node2`` (prefix nodes), ``x1``, ``x2``, ``equal_target``."""
    names = node_strings(task.max_len)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for equal in (True, False):
        got = 0
        while got < n_pairs:
            lens = rng.integers(task.min_len, task.max_len + 1, 2)
            a, b = (int(2**n - 1 + rng.integers(0, 2**n)) for n in lens)
            if a != b and (names[a].count("1") % 2 == names[b].count("1") % 2) == equal:
                rows.append({"node1": a, "node2": b, "x1": names[a], "x2": names[b],
                             "equal_target": equal})  # fmt: skip
                got += 1
    return pd.DataFrame(rows)


def _continuations(pairs: pd.DataFrame, max_len: int) -> list[tuple[Tensor, Tensor, Tensor]]:
    """For each pair, the prefix nodes of x_1 c_i and x_2 c_i over its continuations c_i
    (module docstring) and y~_i = y*_{2,i} - y*_{1,i}: fixed by the pair, not the
    snapshot."""
    lengths = node_lengths(max_len)
    parity = prefix_rows(parity_targets(all_strings(max_len)), max_len)
    onehot = torch.eye(2, dtype=torch.float64)
    out = []
    for n1, n2 in zip(pairs["node1"], pairs["node2"], strict=True):
        l1, l2 = int(lengths[n1]), int(lengths[n2])
        ks = range(max_len - max(l1, l2) + 1)
        # the node of x c, |c| = k: 2^(|x| + k) - 1 + value(x) 2^k + value(c)
        ids = [torch.cat([2 ** (n + k) - 1 + (x - 2**n + 1) * 2**k + torch.arange(2**k)
                          for k in ks]) for x, n in ((n1, l1), (n2, l2))]  # fmt: skip
        # targets: the parity of the whole string x c, the node's own (node 0 has none)
        y_tilde = onehot[parity[ids[1] - 1]] - onehot[parity[ids[0] - 1]]
        out.append((ids[0], ids[1], y_tilde))
    return out


def _pair_terms(pairs: pd.DataFrame, conts: list[tuple[Tensor, Tensor, Tensor]], h: Tensor,
                y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """dh2, A_low, A_high and the prediction for each pair at one snapshot."""
    out = [torch.empty(len(pairs), dtype=torch.float64) for _ in range(4)]
    for i, (n1, n2, (a, b, y_tilde)) in enumerate(
        zip(pairs["node1"], pairs["node2"], conts, strict=True)
    ):
        dh2 = ((h[n2] - h[n1]) ** 2).sum()[None]
        a_low, a_high, pred = interaction_terms(y_tilde[None], (y[b] - y[a])[None], dh2)
        for t, v in zip(out, (dh2, a_low, a_high, pred), strict=True):
            t[i] = v[0]
    return out[0], out[1], out[2], out[3]


def interaction_over_training(run: Run, n_pairs: int = 100, seed: int = 0,
                              steps: list[int] | None = None,
                              method: str = "scale-free") -> pd.DataFrame:  # fmt: skip
    """For :func:`sample_pairs` pairs at every snapshot: the measured squared distance
    ``dh2``, ``A_low``, ``A_high``, the predicted final squared distance ``dh2_pred``
    (equation (6)) and ``merge_pred`` (condition (7)); plus ``merged_final``: whether the
    pair shares a state in the final snapshot's automaton (``method``'s clustering; the
    scale-free one by default, as the leader rule's 1% tolerance leaves a generalised
    network's tight clusters in tens of pieces)."""
    task = parity_task(run)
    if not isinstance(learner(run), Recurrent):
        raise AnalysisError("the interaction theory reads an RNN's hidden states")
    steps = sorted(run.snapshots) if steps is None else steps
    pairs = sample_pairs(task, n_pairs, seed)
    conts = _continuations(pairs, task.max_len)
    frames = []
    for s in steps:
        model = snapshot_model(run, s)
        h, y = prefix_states(model, task.max_len)
        dh2, a_low, a_high, pred = _pair_terms(pairs, conts, h, y)
        frames.append(pairs.assign(epoch=s, dh2=dh2.numpy(), A_low=a_low.numpy(),
                                   A_high=a_high.numpy(), dh2_pred=pred.numpy(),
                                   merge_pred=merger_predicted(a_low, a_high).numpy()))  # fmt: skip
    final = extract_automaton(model, task, method=method).labels  # the last step's
    frame = pd.concat(frames, ignore_index=True)
    frame["merged_final"] = final[frame["node1"]] == final[frame["node2"]]
    return frame


def _spearman(a: pd.Series, b: pd.Series) -> float:
    """Spearman's rank correlation; NaN where either side is constant (all predicted 0)."""
    if a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(a.reset_index(drop=True).corr(b.reset_index(drop=True), method="spearman"))


@dataclass(frozen=True)
class InteractionResult(Result):
    """The interaction theory against the measured distances (:func:`interaction_over_training`)."""

    frame: pd.DataFrame = field(repr=False)

    title = "Interaction theory (van Rossem & Saxe 2025)"
    section = "the notes' equations (4)-(7)"

    def table(self) -> pd.DataFrame:
        f = self.frame
        first, last = f["epoch"].min(), f["epoch"].max()
        rows = []
        for equal, g in f.groupby("equal_target", sort=False):
            a, z = g[g["epoch"] == first], g[g["epoch"] == last]
            rows.append({"targets": "equal" if equal else "unequal", "pairs": len(z),
                         "merge predicted (7), start": float(a["merge_pred"].mean()),
                         "merge predicted (7), end": float(z["merge_pred"].mean()),
                         "merged (final automaton)": float(z["merged_final"].mean()),
                         "median ||d_h||^2 start": float(a["dh2"].median()),
                         "median ||d_h||^2 end": float(z["dh2"].median()),
                         "median predicted (6), start": float(a["dh2_pred"].median()),
                         "median predicted (6), end": float(z["dh2_pred"].median()),
                         "Spearman predicted (6) end vs measured end": _spearman(
                             z["dh2_pred"], z["dh2"])})  # fmt: skip
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        return ["equal targets on parity mean equal targets under every continuation, so "
                "A_low = 0 and A_high < 0 for every such pair: (7) predicts that all merge",
                "merged: the pair shares a state in the final snapshot's automaton "
                "(scale-free rule)"]  # fmt: skip

    def figure(self) -> go.Figure:
        """Median measured and predicted squared distances; a median of exactly 0 (the
        equal-target pairs' predicted final distance: they merge) is drawn on the dashed
        floor line, a tenth of the smallest positive value, as a log axis has no 0."""
        f = self.frame
        meds = {("equal" if eq else "unequal"): g.groupby("epoch")[["dh2", "dh2_pred"]].median()
                for eq, g in f.groupby("equal_target", sort=False)}  # fmt: skip
        positive = [float(m[c][m[c] > 0].min()) for m in meds.values() for c in m
                    if (m[c] > 0).any()]  # fmt: skip
        floor = 0.1 * min(positive) if positive else 1e-6
        fig = go.Figure()
        for name, med in meds.items():
            for col, what, dash in (("dh2", "measured", None),
                                    ("dh2_pred", "predicted (6)", "dot")):
                y = med[col].where(med[col] > 0, floor)
                zero = " (0: on the floor)" if (med[col] <= 0).any() else ""
                fig.add_trace(go.Scatter(x=med.index, y=y, name=f"{name} targets: {what}{zero}",
                                         mode="lines+markers", line=dict(dash=dash),
                                         marker=dict(symbol="circle" if name == "equal"
                                                     else "square-open", size=8)))  # fmt: skip
        fig.add_trace(go.Scatter(x=[f["epoch"].min(), f["epoch"].max()], y=[floor, floor],
                                 mode="lines", name="floor: where 0 is drawn",
                                 line=dict(color="grey", dash="dash")))  # fmt: skip
        fig.update_layout(title=f"{self.title}: median squared distance of pairs",
                          xaxis_title="epoch", yaxis_title="squared distance ||h_2 - h_1||^2",
                          yaxis_type="log")  # fmt: skip
        return fig
