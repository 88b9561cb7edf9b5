"""Humayun, Balestriero and Baraniuk, Figure 3: accuracy beside the circuit density of
training, test and random points over training, with Nanda et al.'s phase boundaries
(memorisation end, cleanup start and end; :func:`grok_interp.analyses.progress.phases`).

For each run (default: the shipped mainline and seeds 1-4, one MLP layer, p = 113) the
same ``--points`` training, test and random inputs at every snapshot, neighbourhoods of
radius ``--r`` = 0.05 on ``--n`` = 50 directions (100 vertices), neurons counted where
their output reaches the logits (``--positions output``: in a one-layer model the answer
position's MLP), random points from the Gaussian with the inputs' mean and covariance
(``--random inputs``; :mod:`grok_interp.analyses.circuit_density` for each choice and
its alternatives). Prints, per run, the density of each set at initialisation, the first
snapshot after it, the memorisation end, the cleanup start and end and the last snapshot,
and the same rows per position (every position, read or not).

Default (2-core CPU, about 3.5 min for the five runs when the machine is otherwise idle):
200 points per set, every snapshot.

    python examples/humayun_fig03_density.py OUT [--runs checkpoints/mainline.pt ...]
        [--positions output|all|final] [--random inputs|per_coordinate]
"""

from pathlib import Path

from _paths import SEEDS, parser

COLOURS = {"train": "#1f77b4", "test": "#d62728", "random": "#7f7f7f"}


def nearest(frame, epoch):
    """The row of ``frame`` at the snapshot nearest ``epoch``."""
    epochs = frame["epoch"].unique()
    return epochs[abs(epochs - epoch).argmin()]


def marked_rows(name, total, bounds):
    """Per set, the density (over the positions read, and per position) at initialisation,
    the first snapshot after it, the phase boundaries ``bounds`` and the last snapshot."""
    epochs = sorted(total["epoch"].unique())
    marks = [("initialisation", epochs[0]), ("first snapshot after init", epochs[1])]
    marks += [(m, nearest(total, e)) for m, e in zip(("memorisation end", "cleanup start",
                                                      "cleanup end"), bounds or (),
                                                     strict=False)]  # fmt: skip
    marks.append(("last snapshot", epochs[-1]))
    at_cols = [c for c in total.columns if c.startswith("at ")]
    for mark, e in marks:
        for _, row in total[total["epoch"] == e].iterrows():
            yield {"run": name, "at": mark, "epoch": e, "set": row["set"],
                   "neurons cut": round(float(row["count"]), 1),
                   **{c: round(float(row[c]), 1) for c in at_cols}}  # fmt: skip


def draw_run(fig, i, run, total, bounds):
    """Row ``i`` of the figure: the accuracies, and the density of each set, with the
    phase boundaries dotted."""
    import plotly.graph_objects as go

    for key in ("train_acc", "test_acc"):
        fig.add_trace(go.Scatter(x=run.history["epoch"], y=run.history[key], name=key,
                                 showlegend=i == 1, line={"color": COLOURS[key[:-4]]}),
                      row=i, col=1)  # fmt: skip
    for s, part in total.groupby("set"):
        fig.add_trace(go.Scatter(x=part["epoch"], y=part["count"], name=f"{s} points",
                                 showlegend=i == 1, line={"color": COLOURS[s]}),
                      row=i, col=2)  # fmt: skip
    for epoch in bounds or ():
        for col in (1, 2):
            fig.add_vline(x=epoch, line_dash="dot", line_color="black", row=i, col=col)


def main(argv=None):
    ap = parser(__doc__, key_freqs=False, checkpoint=False)
    ap.add_argument("--runs", nargs="+", default=[str(p) for p in SEEDS])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--r", type=float, default=0.05)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--positions", choices=["output", "all", "final"], default="output")
    ap.add_argument("--random", choices=["inputs", "per_coordinate"], default="inputs")
    args = ap.parse_args(argv)
    import pandas as pd
    from plotly.subplots import make_subplots

    from grok_interp.analyses.circuit_density import circuit_density_over_training
    from grok_interp.analyses.progress import phases
    from grok_interp.plots import write
    from grok_interp.runs import load_run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig = make_subplots(rows=len(args.runs), cols=2, shared_xaxes=True,
                        subplot_titles=[t for p in args.runs for t in
                                        (f"{Path(p).stem}: accuracy",
                                         "circuit density")])  # fmt: skip
    rows, frames = [], []
    for i, path in enumerate(args.runs, start=1):
        run = load_run(path)
        frame = circuit_density_over_training(run, n_points=args.points, r=args.r, n=args.n,
                                              positions=args.positions,
                                              random=args.random)  # fmt: skip
        frame.insert(0, "run", Path(path).stem)
        frames.append(frame)
        hist = pd.DataFrame({k: run.history[k] for k in ("epoch", "train_loss", "test_loss",
                                                        "train_acc", "test_acc")})  # fmt: skip
        bounds = phases(hist)
        at_cols = [c for c in frame.columns if c.startswith("at ")]
        total = frame.groupby(["epoch", "set"])[["count", *at_cols]].sum().reset_index()
        draw_run(fig, i, run, total, bounds)
        rows += marked_rows(Path(path).stem, total, bounds)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title="Accuracy and circuit density over training (Humayun et al., "
                      "Figure 3); dotted: Nanda et al.'s phase boundaries",
                      height=260 * len(args.runs))  # fmt: skip
    long = pd.DataFrame(rows).sort_values(["run", "epoch"], kind="stable")
    table = long.pivot_table(index=["run", "at", "epoch"], columns="set",
                             values="neurons cut").reset_index()  # fmt: skip
    table = table.sort_values(["run", "epoch"])
    pd.concat(frames).to_csv(out / "humayun_fig03_density.csv", index=False)
    text = ("## Circuit density over training (neurons cut per neighbourhood, summed over "
            f"layers; r = {args.r}, {2 * args.n} vertices, {args.points} points per set; "
            f"positions read: {args.positions}; random points: {args.random})\n\n"
            + table.to_markdown(index=False, floatfmt=".1f")
            + "\n\n## Per position (every position, read or not)\n\n"
            + long.drop(columns="neurons cut").to_markdown(index=False, floatfmt=".1f")
            + "\n")  # fmt: skip
    (out / "humayun_fig03_density.md").write_text(text)
    print(text)
    return [out / "humayun_fig03_density.md", *write(fig, out, "humayun_fig03_density")]


if __name__ == "__main__":
    print(*main(), sep="\n")
