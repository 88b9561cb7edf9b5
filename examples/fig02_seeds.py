"""Figure 2: train and test accuracy and loss of the five shipped seeds (mainline setup).

python examples/fig02_seeds.py OUT [--checkpoints R1.pt R2.pt ...]
"""

import argparse

from _paths import SEEDS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--checkpoints", nargs="+", default=[str(p) for p in SEEDS])
    args = ap.parse_args(argv)
    from grok_interp.plots import loss_curves, write
    from grok_interp.runs import load_run

    runs = [load_run(r) for r in args.checkpoints]
    fig = loss_curves(runs, [f"seed {r.seed}" for r in runs], "Grokking over seeds (Figure 2)")
    return write(fig, args.out, "fig02_seeds")


if __name__ == "__main__":
    print(*main(), sep="\n")
