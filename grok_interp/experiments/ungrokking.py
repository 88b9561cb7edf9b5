"""Varma et al. (2023), Section 5.2 and Appendix A.2, A.4: the ungrokking experiment, as
``examples/varma_ungrokking.py`` (one task) and ``examples/varma_fig08_other_tasks.py``
(other tasks, Figure 8) run it.

A base network trained on a share of all pairs until it generalises (``OUT/base_<op>.pt``,
resumed, or extended to a larger ``base_epochs``) is continued on random subsets D' of its
training set over sizes x weight decays x seeds, as one sweep (``OUT/sweep_<op>/``, with
``init`` = the base run). From the sweep's results table and histories: test accuracy at
the end per D' and weight decay, o_trig / o_mem on D' (recorded live, Appendix B),
D_crit per (weight decay, seed) (:func:`~grok_interp.analyses.dataset_size.critical_sizes`)
and whether each run converged (test accuracy moved by at most 0.05 over the last 20% of
its epochs); Figures 4, 7 and 10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from grok_interp.analyses.common import markdown
from grok_interp.analyses.dataset_size import bucket_edges, critical_sizes, geometric_buckets
from grok_interp.analyses.efficiency import trig_mem_callback
from grok_interp.config import TrainConfig, preset
from grok_interp.plots import write
from grok_interp.runs import Run
from grok_interp.sweeps import Grid, load_histories, run_sweep
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train_or_resume


@dataclass(frozen=True)
class Ungrokking:
    """The experiment's settings (the scripts' arguments of the same names)."""

    out: str | Path
    p: int = 47
    preset: str = "small"
    base_frac: float = 0.7
    base_epochs: int = 3000
    base_lr: float = 1e-3
    sizes: Sequence[int] = (60, 120, 200, 300, 450)
    weight_decays: Sequence[float] = (0.5, 1.0, 2.0)
    seeds: int = 2
    epochs: int = 6000
    lr: float = 3e-3
    eval_every: int = 100
    progress: bool = True

    @classmethod
    def from_args(cls, args: Any, **changes: Any) -> Ungrokking:
        """The settings from a script's parsed arguments (``--quiet``: no progress),
        with ``changes`` on top."""
        names = [f.name for f in fields(cls) if f.name != "progress"]
        values = {n: getattr(args, n) for n in names} | {"progress": not args.quiet}
        return cls(**values | changes)


def task_for(op: str, p: int) -> Task:
    """The task of ``op``: mod ``p``, or S5 (120 elements) for an ``s5_*`` operation."""
    return Task(op=op, p=120 if op.startswith("s5") else p)


def base_run(setup: Ungrokking, op: str) -> tuple[Path, Run]:
    """The network that generalised: trained into ``OUT/base_<op>.pt``, resumed if
    interrupted, extended when ``base_epochs`` is larger than it was."""
    path = Path(setup.out) / f"base_{op}.pt"
    spec = RunSpec(
        task=task_for(op, setup.p),
        model=preset(setup.preset),
        train=TrainConfig(epochs=setup.base_epochs, lr=setup.base_lr,
                          frac_train=setup.base_frac, eval_every=setup.eval_every,
                          snapshot_every=setup.base_epochs),
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, train_or_resume(spec, path, progress=setup.progress)


def continuations(setup: Ungrokking, op: str, path: Path, base: Run
                  ) -> tuple[pd.DataFrame, list[dict[str, list[float]]]]:  # fmt: skip
    """The sweep of continuations of ``base`` (the run saved at ``path``): its results
    table (with ``test_acc_moved_last_20pct``) and every point's history."""
    spec = RunSpec(
        task=base.task,
        model=base.model,
        init=str(path),
        train=TrainConfig(epochs=setup.epochs, lr=setup.lr, n_train=setup.sizes[0],
                          eval_every=setup.eval_every, snapshot_every=setup.epochs),
    )  # fmt: skip
    grid = Grid(values={"train.n_train": list(setup.sizes),
                        "train.weight_decay": list(setup.weight_decays),
                        "seed": list(range(setup.seeds))}, base=spec)  # fmt: skip
    folder = Path(setup.out) / f"sweep_{op}"
    table = run_sweep(grid, folder, callbacks=[trig_mem_callback()], progress=setup.progress)
    histories = load_histories(folder)
    table["test_acc_moved_last_20pct"] = [moved(h["test_acc"]) for h in histories]
    return table, histories


def moved(values: Sequence[float], tail: float = 0.2) -> float:
    """How far ``values`` range over their last ``tail`` (at least two of them)."""
    last = np.asarray(values[-max(2, math.ceil(tail * len(values))) :])
    return float(last.max() - last.min())


def _per_size(table: pd.DataFrame, values: str | pd.Series, how: str) -> pd.DataFrame:
    frame = table.assign(v=values) if isinstance(values, pd.Series) else table
    col = "v" if isinstance(values, pd.Series) else values
    out = frame.pivot_table(index="train.n_train", columns="train.weight_decay", values=col,
                            aggfunc=how)  # fmt: skip
    out.columns = [f"wd {c:g}" for c in out.columns]
    return out


def summary(table: pd.DataFrame, dcrit: pd.DataFrame, op: str) -> str:
    """Markdown: mean test accuracy per D' and weight decay, D_crit per curve and overall."""
    acc = _per_size(table, "final_test_acc", "mean")
    lines = [f"## Ungrokking, {op}: test accuracy at the end (mean over seeds)", "",
             markdown(acc, ".3f", index=True), ""]  # fmt: skip
    if "final_o_trig_train" in table:
        ratio = _per_size(table, table["final_o_trig_train"] / table["final_o_mem_train"],
                          "median")  # fmt: skip
        lines += ["o_trig / o_mem on D' at the end (median over seeds; Figure 10a):", "",
                  markdown(ratio, ".3g", index=True), ""]  # fmt: skip
    d = dcrit["D_crit"]
    per_wd = dcrit.groupby("train.weight_decay")["D_crit"].median()
    lines += [
        "D_crit per weight decay and seed (test accuracy at the end crosses 0.5, log-linear):",
        "", markdown(dcrit), "",
    ]  # fmt: skip
    if d.notna().any():
        spread = per_wd.max() - per_wd.min()
        lines.append(
            f"D_crit, median over curves: {d.median():.4g} (range {d.min():.4g}-{d.max():.4g}, "
            f"{d.notna().sum()} of {len(d)} curves cross); median per weight decay: "
            + ", ".join(f"wd {k:g}: {v:.4g}" for k, v in per_wd.items())
            + f"; spread of those medians {spread:.3g} ({spread / d.median():.1%} of D_crit)."
        )
    else:
        sides = ", ".join(sorted(set(dcrit["no_crossing"])))
        lines.append(f"No curve crosses 0.5 (every curve lies {sides} it): no D_crit here.")
    lines += [
        "",
        f"Not converged (test accuracy moved > 0.05 in the last 20% of epochs): "
        f"{int((table['test_acc_moved_last_20pct'] > 0.05).sum())} of {len(table)} runs.",
    ]
    return "\n".join(lines) + "\n"


def _fig4(table: pd.DataFrame, op: str, n_pairs: int) -> go.Figure:
    fig = go.Figure()
    for wd, part in table.groupby("train.weight_decay"):
        mean = part.groupby("train.n_train")["final_test_acc"].mean()
        fig.add_trace(go.Scatter(x=mean.index, y=mean.values, name=f"wd {wd:g} (mean)"))
        fig.add_trace(go.Scatter(x=part["train.n_train"], y=part["final_test_acc"],
                                 mode="markers", name=f"wd {wd:g} (per seed)"))  # fmt: skip
    fig.update_xaxes(type="log", title_text=f"reduced dataset size D' (of {n_pairs} pairs)")
    fig.update_yaxes(title_text="test accuracy at the end", range=[0, 1.02])
    fig.update_layout(title=f"Ungrokking, {op} (Varma et al. 2023, Figure 4)")
    return fig


def _fig7(table: pd.DataFrame, histories: Sequence[Mapping[str, Sequence[float]]],
          op: str) -> go.Figure:  # fmt: skip
    fig = go.Figure()
    lo, hi = math.log(min(table["train.n_train"])), math.log(max(table["train.n_train"]))
    wds = sorted(table["train.weight_decay"].unique())
    dashes = ["solid", "dash", "dot", "dashdot"]
    for (_, row), h in zip(table.iterrows(), histories, strict=True):
        n = int(row["train.n_train"])
        shade = (math.log(n) - lo) / max(hi - lo, 1e-9)
        dash = dashes[wds.index(row["train.weight_decay"]) % len(dashes)]
        fig.add_trace(go.Scatter(
            x=h["epoch"], y=h["test_acc"],
            name=f"D' {n}, wd {row['train.weight_decay']:g}, seed {int(row['seed'])}",
            line={"color": f"rgb({int(255 * (1 - shade))},80,{int(255 * shade)})", "dash": dash},
            showlegend=False,
        ))  # fmt: skip
    fig.add_trace(go.Scatter(  # the colour key: D' on a colour bar
        x=[None], y=[None], mode="markers", name="colour key", showlegend=False,
        hoverinfo="skip",
        marker={"color": [math.exp(lo)], "cmin": math.exp(lo), "cmax": math.exp(hi),
                "showscale": True, "colorscale": [[0, "rgb(255,80,0)"], [1, "rgb(0,80,255)"]],
                "colorbar": {"title": {"text": "D'"}}},
    ))  # fmt: skip
    fig.update_layout(
        title=f"Ungrokking runs, {op}, coloured by D' (dash: weight decay; Varma et al. 2023, "
              "Figure 7)",
        xaxis_title="epoch of the continuation",
        yaxis_title="test accuracy",
    )
    return fig


def _fig10(table: pd.DataFrame) -> go.Figure:
    ratio = table["final_o_trig_train"] / table["final_o_mem_train"]
    bucket = geometric_buckets(table["final_param_norm"], n=4)
    edges = bucket_edges(table["final_param_norm"], n=4)
    fig = go.Figure()
    for b in sorted(set(bucket)):
        sel = bucket == b
        name = f"parameter norm {edges[b]:.3g}-{edges[b + 1]:.3g}"
        fig.add_trace(go.Scatter(x=table["train.n_train"][sel], y=ratio[sel], mode="markers",
                                 name=name))  # fmt: skip
    fig.update_xaxes(type="log", title_text="D'")
    fig.update_yaxes(type="log", exponentformat="power", title_text="o_trig / o_mem on D'")
    fig.update_layout(
        title="o_trig / o_mem at the end (Varma et al. 2023, Fig. 10a; ratios < 0 not shown)"
    )
    return fig


def figures(table: pd.DataFrame, histories: Sequence[Mapping[str, Sequence[float]]], op: str,
            n_pairs: int) -> dict[str, go.Figure]:  # fmt: skip
    """Figure 4 (test accuracy against D' per weight decay), Figure 7 (test accuracy over
    the continuation, coloured by D'), Figure 10 (o_trig / o_mem against D', coloured by
    parameter norm bucket; where the runs recorded them)."""
    figs = {"fig04": _fig4(table, op, n_pairs), "fig07": _fig7(table, histories, op)}
    if "final_o_trig_train" in table:
        figs["fig10"] = _fig10(table)
    return figs


def experiment(setup: Ungrokking, op: str) -> tuple[pd.DataFrame, pd.DataFrame, list[Path], Run]:
    """Base run, continuations, table and figures for one task, written into ``OUT``
    (``ungrokking_<op>.md`` and ``.csv``, ``varma_fig04/07/10_<op>``); (table, D_crit,
    paths, base run)."""
    path, base = base_run(setup, op)
    table, histories = continuations(setup, op, path, base)
    dcrit = critical_sizes(table)
    acc = base.history["test_acc"][-1]
    head = (
        f"Base run: {base.task.describe()}, {len(base.train_idx)} training pairs, "
        f"{base.epoch} epochs, test accuracy {acc:.3f}"
        + (" (below 0.9: it did not generalise, so this is no test of ungrokking)"
           if acc < 0.9 else "")
        + ".\n\n"
    )  # fmt: skip
    text = head + summary(table, dcrit, op)
    out = Path(setup.out)
    (out / f"ungrokking_{op}.md").write_text(text)
    table.to_csv(out / f"ungrokking_{op}.csv", index=False)
    paths = [out / f"ungrokking_{op}.md"]
    for name, fig in figures(table, histories, op, base.task.n_pairs).items():
        paths += write(fig, out, f"varma_{name}_{op}")
    print(text)
    return table, dcrit, paths, base
