"""Figure 4: periodic attention (head 0, = to a) and neuron activations over (a, b), and
the logits in the 2D Fourier basis (norm over c).

    python examples/fig04_periodicity.py OUT [--checkpoint C] [--head 0] [--neuron 0]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    ap.add_argument("--head", type=int, default=0)
    ap.add_argument("--neuron", type=int, default=0)
    args = ap.parse_args(argv)
    from grok_interp import load_model
    from grok_interp.analyses.common import gather
    from grok_interp.plots import periodicity, write

    model, task = load_model(args.checkpoint)
    fig = periodicity(gather(model, task), args.head, args.neuron)
    return write(fig, args.out, "fig04_periodicity")


if __name__ == "__main__":
    print(*main(), sep="\n")
