"""Figure 2: train and test accuracy and loss of the five shipped seeds (mainline setup);
prints when each run groks (the sweeps' results table: first epoch with test accuracy
>= 99%, train and test loss < 1e-6).

python examples/fig02_seeds.py OUT [--checkpoints R1.pt R2.pt ...]
"""

from grok_interp.examples_cli import SEEDS, parser


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--checkpoints", nargs="+", default=[str(p) for p in SEEDS])
    args = ap.parse_args(argv)
    from grok_interp.plots import loss_curves, write
    from grok_interp.runs import load_run
    from grok_interp.sweeps import results_table

    runs = [load_run(r) for r in args.checkpoints]
    cols = ["seed", "epoch_test_acc_99", "epoch_train_loss_1e-6", "epoch_test_loss_1e-6"]
    print(results_table(runs)[cols].to_markdown(index=False))
    fig = loss_curves(runs, [f"seed {r.seed}" for r in runs], "Grokking over seeds (Figure 2)")
    return write(fig, args.out, "fig02_seeds")


if __name__ == "__main__":
    print(*main(), sep="\n")
