"""Figures 13-15: restricted accuracy, the coefficients alpha_k of cos(w_k(a+b-c)) in the
logits, and the excluded loss of each key frequency over training.

    python examples/fig13_15_progress_extra.py OUT [--checkpoint checkpoints/mainline.pt]
"""

from grok_interp.examples_cli import load_progress, parser


def main(argv=None):
    ap = parser(__doc__, checkpoint=True)
    args = ap.parse_args(argv)
    from grok_interp.plots import progress_extra, write

    run, keys = load_progress(args.checkpoint)
    return write(progress_extra(run.progress, keys), args.out, "fig13_15_progress_extra")


if __name__ == "__main__":
    print(*main(), sep="\n")
