"""Varma et al. (2023), Section 5.2 and Appendix A.2, A.4: ungrokking (P2, P3), the
critical dataset size D_crit, and the logit ratio at convergence (Figures 4, 7, 10).

A base network is trained on ``--base-frac`` of all pairs until it generalises
(OUT/base_<op>.pt), then continued on random subsets D' of its training set, drawn per
seed, over sizes x weight decays x seeds: the points of one sweep (OUT/sweep_<op>/, with
``init`` = the base run; run the script again to resume a killed one). Every other pair is
a test pair. Per point: test accuracy at the end, o_trig / o_mem on D' (addition only,
recorded live; Appendix B) and the parameter norm. D_crit per (weight decay, seed) is where
test accuracy at the end crosses 0.5, interpolated in log D'
(:mod:`grok_interp.analyses.dataset_size`). A run counts as converged when its test
accuracy moved by at most 0.05 over the last 20% of its epochs; the table says which did not.

Default (2-core CPU, ~10 min): p = 47, the ``small`` preset, a base of 3,000 epochs at lr
1e-3 on 70% of pairs, continued for 6,000 epochs at lr 3e-3 (full batch, AdamW as in
Appendix A). Paper scale: ``--p 113 --preset mainline --base-frac 0.9 --base-epochs 20000
--sizes 390 490 610 770 960 1200 1494 --weight-decays 0.1 0.5 1 1.5 2 --seeds 10 --lr 1e-3
--epochs 1000000`` (Figure 7: 7 sizes in [390, 1494], 10 seeds).

    python examples/varma_ungrokking.py OUT [--op add] [--seeds 2] ...
"""

import argparse
import math
from pathlib import Path


def add_args(ap, sizes=(60, 120, 200, 300, 450), wds=(0.5, 1.0, 2.0), seeds=2):
    ap.add_argument("out")
    ap.add_argument("--p", type=int, default=47, help="paper: 113 (S5 tasks: always 120)")
    ap.add_argument("--preset", default="small", help="paper: mainline")
    ap.add_argument("--base-frac", type=float, default=0.7)
    ap.add_argument("--base-epochs", type=int, default=3000)
    ap.add_argument("--base-lr", type=float, default=1e-3)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(sizes), help="D'")
    ap.add_argument("--weight-decays", type=float, nargs="+", default=list(wds))
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--epochs", type=int, default=6000, help="of each continuation")
    ap.add_argument("--lr", type=float, default=3e-3, help="of each continuation")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--quiet", action="store_true")
    return ap


def task_for(op, p):
    from grok_interp import Task

    return Task(op=op, p=120 if op.startswith("s5") else p)


def base_run(args, op):
    """The network that generalised (trained here, resumed if interrupted)."""
    from grok_interp import RunSpec, TrainConfig, load_run, preset, train

    path = Path(args.out) / f"base_{op}.pt"
    if path.exists():
        run = load_run(path)
        return path, run if run.done else train(run, out=path, progress=not args.quiet)
    spec = RunSpec(
        task=task_for(op, args.p),
        model=preset(args.preset),
        train=TrainConfig(
            epochs=args.base_epochs,
            lr=args.base_lr,
            frac_train=args.base_frac,
            eval_every=args.eval_every,
            snapshot_every=args.base_epochs,
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, train(spec, out=path, progress=not args.quiet)


def continuations(args, op, path, base):
    """The sweep of continuations of ``base`` (the run saved at ``path``); its results
    table and runs."""
    from grok_interp import RunSpec, TrainConfig
    from grok_interp.analyses.efficiency import trig_mem_callback
    from grok_interp.sweeps import Grid, load_points, run_sweep

    spec = RunSpec(
        task=base.task,
        model=base.model,
        init=str(path),
        train=TrainConfig(
            epochs=args.epochs,
            lr=args.lr,
            n_train=args.sizes[0],
            eval_every=args.eval_every,
            snapshot_every=args.epochs,
        ),
    )
    grid = Grid(
        values={
            "train.n_train": args.sizes,
            "train.weight_decay": args.weight_decays,
            "seed": list(range(args.seeds)),
        },
        base=spec,
    )
    folder = Path(args.out) / f"sweep_{op}"
    table = run_sweep(grid, folder, callbacks=[trig_mem_callback()], progress=not args.quiet)
    runs = load_points(folder)
    table["test_acc_moved_last_20pct"] = [_moved(r.history["test_acc"]) for r in runs]
    return table, runs


def _moved(values, tail=0.2):
    import numpy as np

    last = np.asarray(values[-max(2, math.ceil(tail * len(values))) :])
    return float(last.max() - last.min())


def summary(table, dcrit, op):
    """Markdown: mean test accuracy per D' and weight decay, D_crit per curve and overall."""
    acc = table.pivot_table(
        index="train.n_train", columns="train.weight_decay", values="final_test_acc", aggfunc="mean"
    )
    acc.columns = [f"wd {c:g}" for c in acc.columns]
    lines = [
        f"## Ungrokking, {op}: test accuracy at the end (mean over seeds)",
        "",
        acc.to_markdown(floatfmt=".3f"),
        "",
    ]
    if "final_o_trig_train" in table:
        t = table.assign(ratio=table["final_o_trig_train"] / table["final_o_mem_train"])
        ratio = t.pivot_table(
            index="train.n_train", columns="train.weight_decay", values="ratio", aggfunc="median"
        )
        ratio.columns = [f"wd {c:g}" for c in ratio.columns]
        lines += [
            "o_trig / o_mem on D' at the end (median over seeds; Figure 10a):",
            "",
            ratio.to_markdown(floatfmt=".3g"),
            "",
        ]
    d = dcrit["D_crit"]
    per_wd = dcrit.groupby("train.weight_decay")["D_crit"].median()
    lines += [
        "D_crit per weight decay and seed (test accuracy at the end crosses 0.5, log-linear):",
        "", dcrit.to_markdown(index=False, floatfmt=".4g"), "",
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


def figures(table, runs, op, n_pairs):
    """Figure 4 (test accuracy against D' per weight decay), Figure 7 (test accuracy over
    the continuation, coloured by D'), Figure 10 (o_trig / o_mem against D', coloured by
    parameter norm bucket)."""
    import plotly.graph_objects as go

    from grok_interp.analyses.dataset_size import bucket_edges, geometric_buckets

    fig4 = go.Figure()
    for wd, part in table.groupby("train.weight_decay"):
        mean = part.groupby("train.n_train")["final_test_acc"].mean()
        fig4.add_trace(go.Scatter(x=mean.index, y=mean.values, name=f"wd {wd:g} (mean)"))
        fig4.add_trace(
            go.Scatter(
                x=part["train.n_train"],
                y=part["final_test_acc"],
                mode="markers",
                name=f"wd {wd:g} (per seed)",
            )
        )
    fig4.update_xaxes(type="log", title_text=f"reduced dataset size D' (of {n_pairs} pairs)")
    fig4.update_yaxes(title_text="test accuracy at the end", range=[0, 1.02])
    fig4.update_layout(title=f"Ungrokking, {op} (Varma et al. 2023, Figure 4)")
    fig7 = go.Figure()
    lo, hi = math.log(min(table["train.n_train"])), math.log(max(table["train.n_train"]))
    for run in runs:
        n = len(run.train_idx)
        shade = (math.log(n) - lo) / max(hi - lo, 1e-9)
        fig7.add_trace(
            go.Scatter(
                x=run.history["epoch"],
                y=run.history["test_acc"],
                name=f"D' {n}, wd {run.train.weight_decay:g}, seed {run.seed}",
                line={"color": f"rgb({int(255 * (1 - shade))},80,{int(255 * shade)})"},
                showlegend=False,
            )
        )
    fig7.update_layout(
        title=f"Ungrokking runs, {op}, red = small D', blue = large (Varma et al. 2023, Figure 7)",
        xaxis_title="epoch of the continuation",
        yaxis_title="test accuracy",
    )
    figs = {"fig04": fig4, "fig07": fig7}
    if "final_o_trig_train" in table:
        ratio = table["final_o_trig_train"] / table["final_o_mem_train"]
        bucket = geometric_buckets(table["final_param_norm"], n=4)
        edges = bucket_edges(table["final_param_norm"], n=4)
        fig10 = go.Figure()
        for b in sorted(set(bucket)):
            sel = bucket == b
            fig10.add_trace(
                go.Scatter(
                    x=table["train.n_train"][sel],
                    y=ratio[sel],
                    mode="markers",
                    name=f"parameter norm {edges[b]:.3g}-{edges[b + 1]:.3g}",
                )
            )
        fig10.update_xaxes(type="log", title_text="D'")
        fig10.update_yaxes(type="log", exponentformat="power", title_text="o_trig / o_mem on D'")
        fig10.update_layout(
            title="o_trig / o_mem at the end (Varma et al. 2023, Fig. 10a; ratios < 0 not shown)"
        )
        figs["fig10"] = fig10
    return figs


def experiment(args, op):
    """Base run, continuations, table and figures for one task; (table, D_crit, paths,
    base run)."""
    from grok_interp.analyses.dataset_size import critical_sizes
    from grok_interp.plots import write

    path, base = base_run(args, op)
    table, runs = continuations(args, op, path, base)
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
    out = Path(args.out)
    (out / f"ungrokking_{op}.md").write_text(text)
    table.to_csv(out / f"ungrokking_{op}.csv", index=False)
    paths = [out / f"ungrokking_{op}.md"]
    for name, fig in figures(table, runs, op, base.task.n_pairs).items():
        paths += write(fig, out, f"varma_{name}_{op}")
    print(text)
    return table, dcrit, paths, base


def main(argv=None):
    ap = add_args(
        argparse.ArgumentParser(
            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
    )
    ap.add_argument("--op", default="add")
    args = ap.parse_args(argv)
    return experiment(args, args.op)[2]


if __name__ == "__main__":
    print(*main(), sep="\n")
