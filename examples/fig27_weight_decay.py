"""Figure 27: weight decay 0.3, 1 and 3: larger weight decay groks sooner. All settings
train together in one batch. Default epochs are short for a laptop CPU (--epochs 40000).

    python examples/fig27_weight_decay.py OUT [--epochs N] [--decays 0.3 1 3]
"""

import argparse

from sweep import add_sweep_args, summary, sweep

from grok_interp.plots import loss_curves, write


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    add_sweep_args(ap, epochs=3000, seeds=1)
    ap.add_argument("--decays", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    args = ap.parse_args(argv)
    runs = sweep(
        {f"wd {w}": {"weight_decay": w} for w in args.decays},
        p=args.p,
        epochs=args.epochs,
        seeds=args.seeds,
    )
    flat = [r for rs in runs.values() for r in rs]
    names = [f"{n} seed {r.seed}" for n, rs in runs.items() for r in rs]
    fig = loss_curves(flat, names, "Time to grok by weight decay (Figure 27)")
    return write(fig, args.out, "fig27_weight_decay") + summary(
        runs, args.out, "fig27_weight_decay"
    )


if __name__ == "__main__":
    print(*main(), sep="\n")
