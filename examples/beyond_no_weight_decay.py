"""Grokking without weight decay (Prieto, Barsbey, Mediano and Birdal 2025) on the
mainline model: the setup of Nanda et al.'s Figure 26 (no weight decay, which does not
grok) trained with StableMax, with ⊥Grad (around AdamW) and in float64, beside the
weight-decay baseline and the plain no-weight-decay run; for each, when it groks and the
circuit it forms (key frequencies, logit FVE, restricted and excluded loss, o_trig and
o_mem, Zhong et al.'s clock/pizza verdict), with the softmax-collapse share and the NLM
alignment recorded over training.

CPU scale (the default): p = 59, half of the pairs for training, 1,500 epochs, one seed;
each setting trains into OUT/<setting>/sweep (resumable: run again to continue), so the
settings can be trained one job at a time with --only. The table is written to
OUT/beyond_no_weight_decay.md, the figure (test accuracy and collapsed share against
epoch) to OUT/beyond_no_weight_decay.html.

    PYTHONPATH=. python examples/beyond_no_weight_decay.py OUT [--only wd1 nowd ...]
        [--epochs N] [--p P] [--frac F] [--train-only]
"""

from pathlib import Path

from grok_interp.examples_cli import circuit_row, markdown_table, parser, trained

SETTINGS = {  # key: (label, TrainConfig fields)
    "wd1": ("weight decay 1 (baseline)", {"weight_decay": 1.0}),
    "nowd": ("no weight decay", {"weight_decay": 0.0}),
    "stablemax": ("no wd, StableMax", {"weight_decay": 0.0, "loss": "stablemax"}),
    "orthograd": ("no wd, ⊥Grad (AdamW)", {"weight_decay": 0.0, "orthograd": True}),
    "float64": ("no wd, float64", {"weight_decay": 0.0, "precision": "float64"}),
}


def train_setting(key, args):
    label, fields = SETTINGS[key]
    fields = {**fields, "frac_train": args.frac, "record_stability": True}
    return trained({label: fields}, args, Path(args.out) / key)[label]


def figure(runs):
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "collapsed share (train)"))
    for (key, run), colour in zip(runs.items(), px.colors.qualitative.Plotly, strict=False):
        h = run.history
        for col, name in ((1, "test_acc"), (2, "collapsed")):  # one colour per setting in both
            trace = go.Scatter(x=h["epoch"], y=h[name], name=SETTINGS[key][0],
                               line={"color": colour}, legendgroup=key,
                               showlegend=col == 1)  # fmt: skip
            fig.add_trace(trace, row=1, col=col)
    fig.update_layout(title="The mainline without weight decay: StableMax, ⊥Grad, float64")
    fig.update_xaxes(title="epoch")
    return fig


def main(argv=None):
    ap = parser(__doc__, sweep={"epochs": 1500, "seeds": 1, "p": 59})
    ap.add_argument("--only", nargs="+", choices=list(SETTINGS), default=None)
    ap.add_argument("--frac", type=float, default=0.5)
    ap.add_argument("--train-only", action="store_true", help="train, write no table")
    args = ap.parse_args(argv)
    if args.seeds != 1:
        ap.error("one seed per setting (--seeds 1)")
    for key in args.only or SETTINGS:
        train_setting(key, args)
    if args.train_only:
        return []
    from grok_interp.plots import write

    done = {k: train_setting(k, args) for k in SETTINGS if (Path(args.out) / k).exists()}
    rows = [circuit_row(SETTINGS[k][0], r) for k, r in done.items()]
    path = markdown_table(rows, Path(args.out) / "beyond_no_weight_decay.md")
    return [path, *write(figure(done), args.out, "beyond_no_weight_decay")]


if __name__ == "__main__":
    print(*main(), sep="\n")
