"""Humayun, Balestriero and Baraniuk, Figures 2 and 4: circuit formation on the plane
through three training inputs, per MLP layer, at chosen snapshots.

The plane passes through the operand embeddings of three training inputs (the paper's
'72+65', '28+93', '61+66' where they are training pairs of the run, otherwise seeded
training pairs); a ``--grid`` x ``--grid`` lattice of fixed half-width (1.5 times the
anchors' largest distance from their centroid at the last snapshot, the same at every
snapshot, as the paper fixes the area). At each lattice point the paper's measure
(Section 3, ``--measure density``): the circuit density of the point's neighbourhood, the
neurons whose pre-activation changes sign within the cross-polytope of radius ``--r`` =
0.05 on ``--n`` = 50 directions around it, in the whole input space; neurons counted where
their output reaches the logits (``--positions output``). ``--measure sign_changes``
draws instead the neurons whose sign differs from a neighbouring lattice point's, each
zero-level set's trace on the plane as a line
(:func:`grok_interp.analyses.circuit_density.plane`). The paper's snapshots are 10, 12k,
30k, 108k and 498k steps of a 5e5-step run; the default takes the nearest snapshots of
the run to 0, 1k (memorised), 8k, 12k (cleanup) and its end. Prints, per snapshot and
layer, the measure at the three inputs themselves, its mean within 10% of the half-width
of each of them and its mean over the whole plane.

Default (2-core CPU, about 30 s when the machine is otherwise idle): the shipped mainline,
grid 60 (3,600 neighbourhoods of 100 vertices per snapshot).

    python examples/humayun_fig04_plane.py OUT [--checkpoint PATH] [--steps 0 1000 ...]
        [--measure density|sign_changes] [--positions output|all|final]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, checkpoint=True)
    ap.add_argument("--steps", type=int, nargs="+", default=None)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--measure", choices=["density", "sign_changes"], default="density")
    ap.add_argument("--positions", choices=["output", "all", "final"], default="output")
    ap.add_argument("--r", type=float, default=0.05)
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args(argv)
    from pathlib import Path

    from grok_interp.examples_cli import save
    from grok_interp.experiments.density_figures import plane_over_training

    fig, text = plane_over_training(args.checkpoint, steps=args.steps, grid=args.grid,
                                    measure=args.measure, positions=args.positions, r=args.r,
                                    n=args.n)  # fmt: skip
    return save(args.out, f"humayun_fig04_plane_{Path(args.checkpoint).stem}", text, fig)


if __name__ == "__main__":
    print(*main(), sep="\n")
