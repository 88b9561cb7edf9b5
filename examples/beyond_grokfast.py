"""Grokfast (Lee et al. 2024) on the mainline setup: the EMA gradient filter (alpha 0.99,
lambda 5, the authors' defaults) against none, at two training fractions, as one sweep;
for each run when it groks and the circuit it forms (the columns of
beyond_no_weight_decay.py), and the test accuracy against epoch.

CPU scale (the default): p = 59, weight decay 1, training fractions 0.5 and 0.3, 1,500
epochs, one seed; trained into OUT/sweep (resumable: run again to continue). Table:
OUT/beyond_grokfast.md; figure: OUT/beyond_grokfast.html.

    PYTHONPATH=. python examples/beyond_grokfast.py OUT [--epochs N] [--p P]
        [--fracs F ...] [--lamb L] [--alpha A]
"""

from pathlib import Path

from grok_interp.examples_cli import circuit_row, markdown_table, parser, trained


def main(argv=None):
    ap = parser(__doc__, sweep={"epochs": 1500, "seeds": 1, "p": 59})
    ap.add_argument("--fracs", type=float, nargs="+", default=[0.5, 0.3])
    ap.add_argument("--lamb", type=float, default=5.0)
    ap.add_argument("--alpha", type=float, default=0.99)
    args = ap.parse_args(argv)
    if args.seeds != 1:
        ap.error("one seed per setting (--seeds 1)")
    import plotly.graph_objects as go

    from grok_interp.plots import write

    settings = {}
    for frac in args.fracs:
        common = {"frac_train": frac, "record_stability": True}
        settings[f"frac {frac}, no filter"] = common
        settings[f"frac {frac}, Grokfast"] = {**common, "grokfast_lamb": args.lamb,
                                               "grokfast_alpha": args.alpha}  # fmt: skip
    runs = trained(settings, args, args.out)
    rows = [circuit_row(name, run) for name, run in runs.items()]
    path = markdown_table(rows, Path(args.out) / "beyond_grokfast.md")
    fig = go.Figure()
    for name, run in runs.items():
        fig.add_trace(go.Scatter(x=run.history["epoch"], y=run.history["test_acc"], name=name))
    fig.update_layout(title=f"Grokfast-EMA (alpha {args.alpha}, lambda {args.lamb}) vs none",
                      xaxis_title="epoch", yaxis_title="test accuracy")  # fmt: skip
    return [path, *write(fig, args.out, "beyond_grokfast")]


if __name__ == "__main__":
    print(*main(), sep="\n")
