"""Figure 8: the key frequencies' cosines interfere constructively only at x = 0 mod p.

python examples/fig08_interference.py OUT [--checkpoint C | --key-freqs 14 35 41 42 52 --p 113]
"""

from grok_interp.examples_cli import parser, result


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    ap.add_argument("--p", type=int, default=None, help="with --key-freqs: skip the checkpoint")
    args = ap.parse_args(argv)
    from grok_interp import load_model
    from grok_interp.plots import interference, write

    keys, p = args.key_freqs, args.p
    if keys is None or p is None:
        keys, p = list(result(args, "neuron_logit_map").key_freqs), load_model(args.checkpoint)[1].p
        if not keys:
            raise SystemExit(f"{args.checkpoint}: W_L has no sparse Fourier structure")
    return write(interference(p, keys), args.out, "fig08_interference")


if __name__ == "__main__":
    print(*main(), sep="\n")
