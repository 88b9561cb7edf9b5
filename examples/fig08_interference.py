"""Figure 8: the key frequencies' cosines interfere constructively only at x = 0 mod p.

python examples/fig08_interference.py OUT [--checkpoint C | --keys 14 35 41 42 52]
"""

from _paths import parser

from grok_interp import load_model
from grok_interp.analyses.logits import neuron_logit_map
from grok_interp.plots import interference, write


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--keys", type=int, nargs="+", default=None, help="skip the checkpoint")
    ap.add_argument("--p", type=int, default=113)
    args = ap.parse_args(argv)
    keys, p = args.keys, args.p
    if keys is None:
        model, task = load_model(args.checkpoint)
        keys, p = list(neuron_logit_map(model, task).key_freqs), task.p
    return write(interference(p, keys), args.out, "fig08_interference")


if __name__ == "__main__":
    print(*main(), sep="\n")
