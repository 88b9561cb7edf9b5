"""Figure 3: Fourier norms of the embedding W_E (left) and the neuron-logit map W_L (right).

python examples/fig03_fourier_norms.py OUT [--checkpoint RUN_OR_CHECKPOINT]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, checkpoint=True, key_freqs=True)
    args = ap.parse_args(argv)
    from plotly.subplots import make_subplots

    from grok_interp import load_model
    from grok_interp.analyses.embedding import embedding_fourier
    from grok_interp.analyses.logits import neuron_logit_map
    from grok_interp.plots import write

    model, task = load_model(args.checkpoint)
    w_e, w_l = embedding_fourier(model, task), neuron_logit_map(model, task).fourier
    fig = make_subplots(rows=1, cols=2, subplot_titles=["W_E", "W_L"])
    for col, res in ((1, w_e), (2, w_l)):
        fig.add_trace(res.figure().data[0], row=1, col=col)
    fig.update_layout(
        title="Fourier components of W_E and W_L (Figure 3)",
        showlegend=False,
    )
    fig.update_xaxes(title_text="frequency k")
    fig.update_yaxes(title_text="norm", col=1)
    return write(fig, args.out, "fig03_fourier_norms")


if __name__ == "__main__":
    print(*main(), sep="\n")
