"""Figures 9-11: attention from = to a per head (9), the score lookup C_j (10) and the OV
circuit (11) in the Fourier basis; prints Table 2 (pattern fits) beside the paper.

    python examples/fig09_11_attention.py OUT [--checkpoint C]
"""

from grok_interp.examples_cli import parser, result


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    args = ap.parse_args(argv)
    from grok_interp.plots import write

    att = result(args, "attention")
    print(att.table().to_string(index=False))
    return write(att.figure(), args.out, "fig09_attention") + write(
        att.fourier_figure(), args.out, "fig10_11_attention_fourier"
    )


if __name__ == "__main__":
    print(*main(), sep="\n")
