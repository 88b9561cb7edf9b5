"""Figure 6 and Tables 4, 6: loss under each ablation (key frequencies, restricted,
excluded, neurons replaced by fits, W_L directions, skip connections, heads).

    python examples/fig06_ablations.py OUT [--checkpoint C]
"""

from grok_interp.examples_cli import parser, result


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    args = ap.parse_args(argv)
    from grok_interp.plots import write

    abl = result(args, "ablations")
    print(abl.table().to_string(index=False))
    return write(abl.figure(), args.out, "fig06_ablations")


if __name__ == "__main__":
    print(*main(), sep="\n")
