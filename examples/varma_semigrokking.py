"""Varma et al. (2023), Section 5.3 and Appendix A.1: semi-grokking (P4; Figures 1c, 5, 6).

Many seeds train from scratch at dataset sizes just above the critical size D_crit
(``--dcrit``, or read from an ungrokking run's table with ``--from-ungrokking``), as one
sweep (OUT/sweep/, resumable). Every run records o_trig and o_mem live (Appendix B). A run
is flagged as semi-grokking by the documented rule of
:func:`grok_interp.analyses.dataset_size.semi_grokking`: train accuracy reaches 0.99, then
test accuracy rises by at least 0.1 and settles (range <= 0.1 over the last 20% of
evaluations) at a middling value in [0.2, 0.9]. Figures: test accuracy of every run over
training coloured by its final value (Figure 5), and the clearest flagged run in detail:
accuracy, loss, parameter norm, o_trig and o_mem (Figures 1c and 6).

Default (2-core CPU): p = 47, the ``small`` preset, D = 1.0, 1.2, 1.4 x D_crit with D_crit
= 223 (measured by ``varma_ungrokking.py`` at its defaults), 6 seeds each, 10,000 epochs at
lr 3e-3, weight decay 1. Paper scale: ``--p 113 --preset mainline --dcrit 1500 --factors 0.9
1 1.1 1.2 --seeds 50 --lr 1e-3 --epochs 30000000`` (Figure 5: 200 runs, up to 3e7 epochs).

    python examples/varma_semigrokking.py OUT [--from-ungrokking OUT_OF_UNGROKKING]
"""

import argparse
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grok_interp import RunSpec, Task, TrainConfig, load_run, preset
from grok_interp.analyses.dataset_size import critical_sizes, semi_grokking
from grok_interp.analyses.efficiency import trig_mem_callback
from grok_interp.plots import write
from grok_interp.sweeps import Grid, run_sweep


def args_parser():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out")
    ap.add_argument("--p", type=int, default=47, help="paper: 113")
    ap.add_argument("--preset", default="small", help="paper: mainline")
    ap.add_argument("--dcrit", type=float, default=223.0)
    ap.add_argument("--from-ungrokking", help="folder of varma_ungrokking.py: its D_crit")
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.2, 1.4])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=10_000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=1.0)
    ap.add_argument("--quiet", action="store_true")
    return ap


def dcrit(args):
    if not args.from_ungrokking:
        return args.dcrit
    table = pd.read_csv(Path(args.from_ungrokking) / "ungrokking_add.csv")
    return float(critical_sizes(table)["D_crit"].median())


def detail(run, verdict):
    """Figure 6 and the o_trig / o_mem logits over training for one run."""
    h = run.history
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
        title=f"Semi-grokking in detail: D = {len(run.train_idx)}, seed {run.seed}, test "
        f"accuracy settles at {verdict.settled_test_acc:.2f} (Varma et al. 2023, Figure 6)",
    )
    return fig


def main(argv=None):
    args = args_parser().parse_args(argv)
    d = dcrit(args)
    sizes = sorted({round(f * d) for f in args.factors})
    base = RunSpec(
        task=Task(p=args.p),
        model=preset(args.preset),
        train=TrainConfig(
            epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, n_train=sizes[0],
            eval_every=max(args.epochs // 100, 1), snapshot_every=args.epochs,
        ),
    )  # fmt: skip
    grid = Grid(values={"train.n_train": sizes, "seed": list(range(args.seeds))}, base=base)
    folder = Path(args.out) / "sweep"
    table = run_sweep(grid, folder, callbacks=[trig_mem_callback()], progress=not args.quiet)
    runs = [load_run(folder / "runs" / f"{i:04d}.pt") for i in range(len(table))]
    verdicts = [semi_grokking(r.history) for r in runs]
    rows = pd.DataFrame(
        [{"D": len(r.train_idx), "seed": r.seed, "train acc fits at": v.fit_epoch,
          "test acc then": v.test_acc_at_fit, "test acc settles at": v.settled_test_acc,
          "range, last 20%": v.tail_range, "semi-grokking": v.flagged}
         for r, v in zip(runs, verdicts, strict=True)]
    )  # fmt: skip
    flagged = [i for i, v in enumerate(verdicts) if v.flagged]
    score = [v.settled_test_acc - v.test_acc_at_fit - v.tail_range for v in verdicts]
    pick = max(flagged or range(len(runs)), key=lambda i: score[i] if flagged else
               -abs(verdicts[i].settled_test_acc - 0.5))  # fmt: skip
    text = "\n".join([
        f"## Semi-grokking at D = {', '.join(map(str, sizes))} (D_crit = {d:.4g})", "",
        f"{len(flagged)} of {len(runs)} runs semi-grok by the rule; shown in detail: run "
        f"{pick} ({'the clearest flagged' if flagged else 'none flagged: the most middling'}).",
        "", rows.to_markdown(floatfmt=".3g"),
    ]) + "\n"  # fmt: skip
    out = Path(args.out)
    (out / "varma_semigrokking.md").write_text(text)
    print(text)
    fig5 = go.Figure()
    for r, v in zip(runs, verdicts, strict=True):
        shade = min(max(v.settled_test_acc, 0.0), 1.0)
        fig5.add_trace(go.Scatter(
            x=r.history["epoch"], y=r.history["test_acc"], showlegend=False,
            line={"color": f"rgb({int(255 * (1 - shade))},60,{int(255 * shade)})"},
            name=f"D {len(r.train_idx)}, seed {r.seed}",
        ))  # fmt: skip
    fig5.update_layout(title="Test accuracy of every run, red = low final accuracy, blue = "
                       "high (Varma et al. 2023, Figure 5)", xaxis_title="epoch",
                       yaxis_title="test accuracy")  # fmt: skip
    return [
        out / "varma_semigrokking.md",
        *write(fig5, out, "varma_fig05"),
        *write(detail(runs[pick], verdicts[pick]), out, "varma_fig06"),
    ]


if __name__ == "__main__":
    print(*main(), sep="\n")
