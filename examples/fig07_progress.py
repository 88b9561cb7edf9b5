"""Figure 7 (and 18, 19 for the other seeds): progress measures over training with the
phase boundaries: excluded, restricted, train and test loss, Gini of W_E and W_L, sum of
squared weights. Reads the measures stored by ``grok-interp progress``.

    python examples/fig07_progress.py OUT [--run checkpoints/mainline.pt]
"""

import argparse

import pandas as pd
from _paths import MAINLINE

from grok_interp.analyses.progress import phases, progress_figure
from grok_interp.plots import write
from grok_interp.runs import load_run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--run", default=str(MAINLINE))
    args = ap.parse_args(argv)
    run = load_run(args.run)
    if not run.progress:
        raise SystemExit(f"{args.run} has no progress measures: run grok-interp progress on it")
    keys = [int(k) for k in run.progress["key_freqs"]]
    frame = pd.DataFrame(
        {k: v for k, v in run.progress.items() if len(v) == len(run.progress["epoch"])}
    )
    bounds = phases(frame)
    print(f"phase boundaries {bounds}; paper mainline (1400, 9400, 14000)")
    return write(progress_figure(frame, keys, bounds), args.out, f"fig07_progress_seed{run.seed}")


if __name__ == "__main__":
    print(*main(), sep="\n")
