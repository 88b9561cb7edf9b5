"""Humayun, Balestriero and Baraniuk, Figure 3: accuracy beside the circuit density of
training, test and random points over training, with Nanda et al.'s phase boundaries
(memorisation end, cleanup start and end; :func:`grok_interp.analyses.progress.phases`).

For each run (default: the shipped mainline and seeds 1-4, one MLP layer, p = 113) the
same ``--points`` training, test and random inputs at every snapshot, neighbourhoods of
radius ``--r`` = 0.05 on ``--n`` = 50 directions (100 vertices), neurons read at every
position (:mod:`grok_interp.analyses.circuit_density` for each choice). Prints, per run,
the density of each set at the memorisation end, the cleanup start and the last snapshot.

Default (2-core CPU, about 30 s per run): 200 points per set, all 23 snapshots.

    python examples/humayun_fig03_density.py OUT [--runs checkpoints/mainline.pt ...]
"""

from pathlib import Path

from _paths import SEEDS, parser

COLOURS = {"train": "#1f77b4", "test": "#d62728", "random": "#7f7f7f"}


def nearest(frame, epoch):
    """The row of ``frame`` at the snapshot nearest ``epoch``."""
    epochs = frame["epoch"].unique()
    return epochs[abs(epochs - epoch).argmin()]


def main(argv=None):
    ap = parser(__doc__, key_freqs=False, checkpoint=False)
    ap.add_argument("--runs", nargs="+", default=[str(p) for p in SEEDS])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--r", type=float, default=0.05)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--positions", choices=["all", "final"], default="all")
    args = ap.parse_args(argv)
    import pandas as pd
    import plotly.graph_objects as go
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
                                              positions=args.positions)  # fmt: skip
        frame.insert(0, "run", Path(path).stem)
        frames.append(frame)
        hist = pd.DataFrame({k: run.history[k] for k in ("epoch", "train_loss", "test_loss",
                                                        "train_acc", "test_acc")})  # fmt: skip
        bounds = phases(hist)
        for key in ("train_acc", "test_acc"):
            fig.add_trace(go.Scatter(x=hist["epoch"], y=hist[key], name=key, showlegend=i == 1,
                                     line={"color": COLOURS[key[:-4]]}), row=i, col=1)  # fmt: skip
        total = frame.groupby(["epoch", "set"])["count"].sum().reset_index()
        for s, part in total.groupby("set"):
            fig.add_trace(go.Scatter(x=part["epoch"], y=part["count"], name=f"{s} points",
                                     showlegend=i == 1, line={"color": COLOURS[s]}),
                          row=i, col=2)  # fmt: skip
        marks = dict(zip(("memorisation end", "cleanup start", "cleanup end"), bounds or (),
                         strict=False))  # fmt: skip
        for name, epoch in marks.items():
            for col in (1, 2):
                fig.add_vline(x=epoch, line_dash="dot", line_color="black", row=i, col=col)
            for s in ("train", "test", "random"):
                e = nearest(total, epoch)
                v = total[(total["epoch"] == e) & (total["set"] == s)]["count"].iloc[0]
                rows.append({"run": Path(path).stem, "at": name, "epoch": e, "set": s,
                             "neurons cut": round(float(v), 1)})  # fmt: skip
        last = total["epoch"].max()
        first_after = sorted(total["epoch"].unique())[1]
        for name, e in (("first snapshot after init", first_after), ("last snapshot", last)):
            for s in ("train", "test", "random"):
                v = total[(total["epoch"] == e) & (total["set"] == s)]["count"].iloc[0]
                rows.append({"run": Path(path).stem, "at": name, "epoch": e, "set": s,
                             "neurons cut": round(float(v), 1)})  # fmt: skip
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title="Accuracy and circuit density over training (Humayun et al., "
                      "Figure 3); dotted: Nanda et al.'s phase boundaries",
                      height=260 * len(args.runs))  # fmt: skip
    table = pd.DataFrame(rows).pivot_table(index=["run", "at", "epoch"], columns="set",
                                           values="neurons cut").reset_index()  # fmt: skip
    table = table.sort_values(["run", "epoch"])
    pd.concat(frames).to_csv(out / "humayun_fig03_density.csv", index=False)
    text = ("## Circuit density over training (neurons cut per neighbourhood, summed over "
            f"layers; r = {args.r}, {2 * args.n} vertices, {args.points} points per set)\n\n"
            + table.to_markdown(index=False, floatfmt=".1f") + "\n")  # fmt: skip
    (out / "humayun_fig03_density.md").write_text(text)
    print(text)
    return [out / "humayun_fig03_density.md", *write(fig, out, "humayun_fig03_density")]


if __name__ == "__main__":
    print(*main(), sep="\n")
