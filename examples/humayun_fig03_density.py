"""Humayun, Balestriero and Baraniuk, Figure 3: accuracy beside the circuit density of
training, test and random points over training, with Nanda et al.'s phase boundaries
(memorisation end, cleanup start and end; :func:`grok_interp.analyses.progress.phases`).

For each run (default: the shipped mainline and seeds 1-4, one MLP layer, p = 113) the
same ``--points`` training, test and random inputs at every snapshot, neighbourhoods of
radius ``--r`` = 0.05 on ``--n`` = 50 directions (100 vertices), neurons counted where
their output reaches the logits (``--positions output``: in a one-layer model the answer
position's MLP), random points from the Gaussian with the inputs' mean and covariance
(``--random inputs``; :mod:`grok_interp.analyses.circuit_density` for each choice and
its alternatives). Prints, per run, the density of each set at initialisation, the first
snapshot after it, the memorisation end, the cleanup start and end and the last snapshot,
and the same rows per position (every position, read or not).

Default (2-core CPU, about 3.5 min for the five runs when the machine is otherwise idle):
200 points per set, every snapshot.

    python examples/humayun_fig03_density.py OUT [--runs checkpoints/mainline.pt ...]
        [--positions output|all|final] [--random inputs|per_coordinate]
"""

from grok_interp.examples_cli import SEEDS, parser


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--runs", nargs="+", default=[str(p) for p in SEEDS])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--r", type=float, default=0.05)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--positions", choices=["output", "all", "final"], default="output")
    ap.add_argument("--random", choices=["inputs", "per_coordinate"], default="inputs")
    args = ap.parse_args(argv)
    from grok_interp.examples_cli import save
    from grok_interp.experiments.density_figures import density_figure

    fig, text, frame = density_figure(args.runs, points=args.points, r=args.r, n=args.n,
                                      positions=args.positions, random=args.random)  # fmt: skip
    return save(args.out, "humayun_fig03_density", text, fig, frame)


if __name__ == "__main__":
    print(*main(), sep="\n")
