"""Figure 5: neurons' FVE by a degree-2 polynomial of one key frequency (left), and W_L of
one frequency cluster in the Fourier basis (right).

    python examples/fig05_neurons.py OUT [--checkpoint C] [--cluster K]
"""

from grok_interp.examples_cli import parser, result


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    ap.add_argument("--cluster", type=int, default=None, help="frequency of the heatmap")
    args = ap.parse_args(argv)
    from grok_interp.plots import write

    neurons = result(args, "neurons")
    return write(neurons.figure(), args.out, "fig05_neuron_fve") + write(
        neurons.cluster_heatmap(args.cluster), args.out, "fig05_cluster_wl"
    )


if __name__ == "__main__":
    print(*main(), sep="\n")
