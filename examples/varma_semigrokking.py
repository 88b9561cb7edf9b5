"""Varma et al. (2023), Section 5.3 and Appendix A.1: semi-grokking (P4; Figures 1c, 5, 6).

Semi-grokking needs D near the critical size of networks trained from scratch, which is
not the ungrokking one (Appendix A.2: the paper's semi-grokking run has D ~ 2,000, its
ungrokking transition lies below 1,500). So the script works in two stages, each a sweep
(resumable: run it again on the same folder):

1. scout (OUT/scout/): one seed from scratch at ``--scout-factors`` x D_crit of ungrokking
   (``--dcrit``, or read from ``varma_ungrokking.py``'s folder with ``--from-ungrokking``);
   D_crit from scratch is where its final test accuracy crosses 0.5 (log-linear).
2. seeds (OUT/sweep/): ``--seeds`` seeds at ``--factors`` x that size (or ``--sizes``).

Every run records o_trig and o_mem live (Appendix B). A run is flagged as semi-grokking by
the documented rule of :func:`grok_interp.analyses.dataset_size.semi_grokking`: train
accuracy reaches 0.99 and stays >= 0.95; test accuracy settles (range <= 0.1 and a trend
of at most 0.02 over the last 20% of evaluations) at a middling value in [0.2, 0.9], at
least 0.1 above its value at the fit, and the rise comes well after the fit (half of it
reached at >= 2x the fit's epoch); the table names the conditions each run fails. Figures: test
accuracy of every run over training coloured by its final value (Figure 5), and the
clearest flagged run in detail: accuracy, loss, parameter norm, o_trig and o_mem (Figures
1c and 6).

Default (2-core CPU, ~17 min): p = 47, the ``small`` preset, lr 3e-3, weight decay 1,
10,000 epochs; scout at 1, 1.8, 2.5, 3.2 x 223 (the D_crit ``varma_ungrokking.py``
measures at its defaults), then 4 seeds at 0.9, 1, 1.1 x D_crit from scratch. Paper
scale: ``--p 113 --preset mainline --dcrit 1000 --seeds 50 --lr 1e-3 --epochs 30000000``
(Figure 5: 200 runs, up to 3e7 epochs).

    python examples/varma_semigrokking.py OUT [--from-ungrokking OUT_OF_UNGROKKING]
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def args_parser():
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--p", type=int, default=47, help="paper: 113")
    ap.add_argument("--preset", default="small", help="paper: mainline")
    ap.add_argument("--dcrit", type=float, default=223.0)
    ap.add_argument("--from-ungrokking", help="folder of varma_ungrokking.py: its D_crit")
    ap.add_argument("--scout-factors", type=float, nargs="+", default=[1.0, 1.8, 2.5, 3.2])
    ap.add_argument("--factors", type=float, nargs="+", default=[0.9, 1.0, 1.1])
    ap.add_argument("--sizes", type=int, nargs="+", help="skip the scout: train these sizes")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10_000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=1.0)
    return ap


def dcrit(args):
    import pandas as pd

    from grok_interp.analyses.dataset_size import critical_sizes

    if not args.from_ungrokking:
        return args.dcrit
    table = pd.read_csv(Path(args.from_ungrokking) / "ungrokking_add.csv")
    return float(critical_sizes(table)["D_crit"].median())


def detail(point, verdict):
    """Figure 6 and the o_trig / o_mem logits over training for one run (a point of
    :func:`sweep`)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d, seed, h = point
    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True,
        subplot_titles=["accuracy", "loss", "parameter norm", "correct-class logit"],
    )  # fmt: skip
    for row, keys in enumerate(
        (("train_acc", "test_acc"), ("train_loss", "test_loss"), ("param_norm",),
         ("o_trig_train", "o_mem_train", "o_trig_test", "o_mem_test")),
        start=1,
    ):  # fmt: skip
        for k in keys:
            fig.add_trace(go.Scatter(x=h["epoch"], y=h[k], name=k), row=row, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=2, col=1)
    fig.update_xaxes(title_text="epoch", row=4, col=1)
    fig.update_layout(
        height=900,
        title=f"Semi-grokking in detail: D = {d}, seed {seed}, test "
        f"accuracy settles at {verdict.settled_test_acc:.2f} (Varma et al. 2023, Figure 6)",
    )
    return fig


def sweep(args, name, sizes, seeds):
    """Runs from scratch at ``sizes`` x ``seeds`` (OUT/<name>/); per run, read from the
    sweep's results table and histories: (D, seed, history)."""
    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.analyses.efficiency import trig_mem_callback
    from grok_interp.sweeps import Grid, load_histories, run_sweep

    base = RunSpec(
        task=Task(p=args.p),
        model=preset(args.preset),
        train=TrainConfig(
            epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, n_train=sizes[0],
            eval_every=max(args.epochs // 100, 1), snapshot_every=args.epochs,
        ),
    )  # fmt: skip
    grid = Grid(values={"train.n_train": sizes, "seed": list(range(seeds))}, base=base)
    folder = Path(args.out) / name
    table = run_sweep(grid, folder, callbacks=[trig_mem_callback()], progress=not args.quiet)
    points = zip(table["train.n_train"], table["seed"], load_histories(folder), strict=True)
    return [(int(d), int(s), h) for d, s, h in points]


def scout(args):
    """Stage 1: D_crit from scratch, and the Markdown lines that report it."""
    from grok_interp.analyses.dataset_size import crossing

    d = dcrit(args)
    sizes = sorted({round(f * d) for f in args.scout_factors})
    runs = sweep(args, "scout", sizes, 1)
    accs = [h["test_acc"][-1] for _, _, h in runs]
    found = crossing(sizes, accs)
    listed = ", ".join(f"{a:.3f}" for a in accs)
    lines = [f"Scout from scratch (seed 0) at D = {', '.join(map(str, sizes))} (from D_crit "
             f"of ungrokking {d:.4g}): final test accuracy {listed}; D_crit from scratch "
             f"{found:.4g}.", ""]  # fmt: skip
    return found, lines


def main(argv=None):
    args = args_parser().parse_args(argv)
    import pandas as pd
    import plotly.graph_objects as go

    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.dataset_size import semi_grokking
    from grok_interp.plots import write

    if args.sizes:
        sizes, lines = sorted(args.sizes), []
    else:
        d, lines = scout(args)
        if d != d:  # NaN: no crossing
            raise SystemExit("the scout's test accuracy never crosses 0.5: widen --scout-factors")
        sizes = sorted({round(f * d) for f in args.factors})
    runs = sweep(args, "sweep", sizes, args.seeds)
    verdicts = [semi_grokking(h) for _, _, h in runs]
    rows = pd.DataFrame(
        [{"D": d, "seed": seed, "train acc fits at": v.fit_epoch,
          "min train acc after": v.min_train_acc_after_fit, "test acc then": v.test_acc_at_fit,
          "half-rise at": v.rise_epoch, "test acc settles at": v.settled_test_acc,
          "range, last 20%": v.tail_range, "trend, last 20%": v.tail_drift,
          "semi-grokking": v.flagged, "fails": ", ".join(v.failed)}
         for (d, seed, _), v in zip(runs, verdicts, strict=True)]
    )  # fmt: skip
    flagged = [i for i, v in enumerate(verdicts) if v.flagged]
    score = [v.settled_test_acc - v.test_acc_at_fit - v.tail_range for v in verdicts]
    pick = max(flagged or range(len(runs)), key=lambda i: score[i] if flagged else
               -abs(verdicts[i].settled_test_acc - 0.5))  # fmt: skip
    text = "\n".join([
        f"## Semi-grokking at D = {', '.join(map(str, sizes))}", "", *lines,
        f"{len(flagged)} of {len(runs)} runs semi-grok by the rule; shown in detail: run "
        f"{pick} ({'the clearest flagged' if flagged else 'none flagged: the most middling'}).",
        "", markdown(rows, ".3g", index=True),
    ]) + "\n"  # fmt: skip
    out = Path(args.out)
    (out / "varma_semigrokking.md").write_text(text)
    print(text)
    fig5 = go.Figure()
    for (d, seed, h), v in zip(runs, verdicts, strict=True):
        shade = min(max(v.settled_test_acc, 0.0), 1.0)
        fig5.add_trace(go.Scatter(
            x=h["epoch"], y=h["test_acc"], showlegend=False,
            line={"color": f"rgb({int(255 * (1 - shade))},60,{int(255 * shade)})"},
            name=f"D {d}, seed {seed}",
        ))  # fmt: skip
    fig5.add_trace(go.Scatter(  # the colour's key: a bar, drawn by a trace with no points
        x=[None], y=[None], mode="markers", name="colour key", showlegend=False,
        hoverinfo="skip",
        marker={"color": [0.0], "cmin": 0, "cmax": 1, "showscale": True,
                "colorscale": [[0, "rgb(255,60,0)"], [1, "rgb(0,60,255)"]],
                "colorbar": {"title": {"text": "final test<br>accuracy"}}},
    ))  # fmt: skip
    fig5.update_layout(title="Test accuracy of every run, coloured by its final test accuracy "
                       "(Varma et al. 2023, Figure 5)", xaxis_title="epoch",
                       yaxis_title="test accuracy")  # fmt: skip
    return [
        out / "varma_semigrokking.md",
        *write(fig5, out, "varma_fig05"),
        *write(detail(runs[pick], verdicts[pick]), out, "varma_fig06"),
    ]


if __name__ == "__main__":
    print(*main(), sep="\n")
