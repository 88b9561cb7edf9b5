"""Figure 7 (and 18, 19 for the other seeds): progress measures over training with the
phase boundaries: excluded, restricted, train and test loss, Gini of W_E and W_L, sum of
squared weights. Reads the measures stored by ``grok-interp progress``.

    python examples/fig07_progress.py OUT [--checkpoint checkpoints/mainline.pt]
"""

from grok_interp.examples_cli import load_progress, parser


def main(argv=None):
    ap = parser(__doc__, checkpoint=True)
    args = ap.parse_args(argv)
    import pandas as pd

    from grok_interp.analyses.progress import phases, progress_figure
    from grok_interp.plots import write

    run, keys = load_progress(args.checkpoint)
    frame = pd.DataFrame(
        {k: v for k, v in run.progress.items() if len(v) == len(run.progress["epoch"])}
    )
    bounds = phases(frame)
    print(f"phase boundaries {bounds}; paper mainline (1400, 9400, 14000)")
    return write(progress_figure(frame, keys, bounds), args.out, f"fig07_progress_seed{run.seed}")


if __name__ == "__main__":
    print(*main(), sep="\n")
