"""Length generalisation of streaming parity (van Rossem & Saxe 2025; the notes' "Set Up"):
the accuracy and MSE of a model at every position of the validation strings and of the
long test lengths, at one snapshot (:func:`length_generalisation`) or over a run's
snapshots (:func:`lengths_over_training`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import torch

from grok_interp import tl
from grok_interp.analyses.automaton import check_parity_model, parity_task, snapshot_model
from grok_interp.analyses.common import Result
from grok_interp.runs import Run
from grok_interp.streaming import ParityTask, eval_strings, mse, parity_targets


@dataclass(frozen=True)
class LengthResult(Result):
    """Accuracy on random strings of each test length."""

    lengths: list[int]
    position_acc: list[float]
    string_acc: list[float]
    last_mse: list[float]
    position_mse: list[float]
    n_strings: list[int]
    n_ctx: int | None
    within_acc: list[float]
    beyond_acc: list[float]
    max_len: int

    title = "Length generalisation (van Rossem & Saxe 2025)"
    section = "the notes' Set Up; authors' long_seq_lens"

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"length": self.lengths, "strings": self.n_strings,
                             "per-position accuracy": self.position_acc,
                             f"accuracy at positions 1-{self.max_len}": self.within_acc,
                             f"accuracy after position {self.max_len}": self.beyond_acc,
                             "whole-string accuracy": self.string_acc,
                             "last-position MSE": self.last_mse,
                             "per-position MSE": self.position_mse})  # fmt: skip

    def notes(self) -> list[str]:
        if self.n_ctx is None:
            return []
        return [f"a transformer reads at most n_ctx = {self.n_ctx} positions: longer "
                "strings are not measured (NaN)"]

    def figure(self) -> go.Figure:
        fig = go.Figure([go.Scatter(x=self.lengths, y=v, name=k, mode="lines+markers")
                         for k, v in (("per-position", self.position_acc),
                                      ("whole-string", self.string_acc))])  # fmt: skip
        fig.update_layout(title=self.title, xaxis_title="string length", xaxis_type="log",
                          yaxis_title="accuracy", yaxis_range=[0, 1.02])  # fmt: skip
        return fig


@torch.no_grad()
def length_generalisation(model: Any, task: ParityTask | None = None,
                          seed: int = 0) -> LengthResult:  # fmt: skip
    """Per-position accuracy (all positions; those within the training lengths; those
    beyond), whole-string accuracy, and the MSE at the last position and over all
    positions, on the task's
    validation strings and each long length (seeded by ``seed``, a run's own test sets
    when it is the run's seed)."""
    task = task or ParityTask()
    check_parity_model(model, task)
    n_ctx = model.cfg.n_ctx if tl.is_transformer(model) else None
    device = next(model.parameters()).device
    keys = ("pos", "str", "mse", "all_mse", "in", "out")
    out: dict[str, list[Any]] = {k: [] for k in ("len", "n", *keys)}
    for strings in eval_strings(task, seed).values():
        n = strings.shape[1]
        out["len"].append(n)
        out["n"].append(len(strings))
        if n_ctx is not None and n > n_ctx:
            for k in keys:
                out[k].append(float("nan"))
            continue
        y = model(strings.to(device)).double().cpu()
        t = parity_targets(strings)
        right = y.argmax(-1) == t
        out["pos"].append(float(right.double().mean()))
        out["in"].append(float(right[:, : task.max_len].double().mean()))
        out["out"].append(float(right[:, task.max_len :].double().mean()))
        out["str"].append(float(right.all(-1).double().mean()))
        out["mse"].append(float(mse(y[:, -1], t[:, -1])))
        out["all_mse"].append(float(mse(y, t)))
    return LengthResult(lengths=out["len"], position_acc=out["pos"], string_acc=out["str"],
                        last_mse=out["mse"], position_mse=out["all_mse"],
                        n_strings=out["n"], n_ctx=n_ctx,
                        within_acc=out["in"], beyond_acc=out["out"],
                        max_len=task.max_len)  # fmt: skip


def lengths_over_training(run: Run, steps: list[int] | None = None) -> pd.DataFrame:
    """:func:`length_generalisation` at every snapshot (the authors' long-sequence
    validation over training): one row per (epoch, length) with ``position_acc``,
    ``string_acc`` and ``last_mse``."""
    task = parity_task(run)
    rows = []
    for s in sorted(run.snapshots) if steps is None else steps:
        res = length_generalisation(snapshot_model(run, s), task, run.seed)
        for n, pos, whole, err in zip(res.lengths, res.position_acc, res.string_acc,
                                      res.last_mse, strict=True):  # fmt: skip
            rows.append({"epoch": s, "length": n, "position_acc": pos, "string_acc": whole,
                         "last_mse": err})  # fmt: skip
    return pd.DataFrame(rows)


def lengths_figure(frame: pd.DataFrame, title: str = "test lengths over training") -> go.Figure:
    """The last position's MSE per test length over training (the authors' plot)."""
    fig = go.Figure([go.Scatter(x=g["epoch"], y=g["last_mse"], name=f"length {n}")
                     for n, g in frame.groupby("length")])  # fmt: skip
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="last-position MSE")
    return fig
