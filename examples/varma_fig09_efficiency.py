"""Varma et al. (2023), Figure 9: loss, parameter norm, and the correct-class logits of
the trigonometric and memorisation circuits (Appendix B) over a run's snapshots.

    python examples/varma_fig09_efficiency.py OUT [--checkpoint checkpoints/mainline.pt]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    args = parser(__doc__, checkpoint=True).parse_args(argv)
    from grok_interp import load_run
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.efficiency import efficiency_figure, efficiency_over_training
    from grok_interp.examples_cli import save

    frame = efficiency_over_training(load_run(args.checkpoint))
    frame["epoch"] = frame["epoch"].astype(int)  # a count: 10000, not 1e+04
    text = (f"## C_trig and C_mem over training ({args.checkpoint})\n\n"
            + markdown(frame) + "\n")  # fmt: skip
    fig = efficiency_figure(frame, f" for {args.checkpoint}")
    return save(args.out, "varma_fig09", text, fig, frame)


if __name__ == "__main__":
    print(*main(), sep="\n")
