"""Zhong, Liu, Tegmark and Andreas (2023), *The Clock and the Pizza*, Figure 7: which
algorithm a one-layer transformer learns for a + b mod p, Nanda et al.'s clock or the
pizza, against the attention rate (Section 4.2: ``rate * softmax + (1 - rate)``; 1 is
learned attention, 0 uniform) and the model width, as one sweep.

Each point trains for the whole epoch budget (as the paper, which trains 20,000 epochs
and keeps the runs at 100% validation accuracy); its final model is then read by the
package's analyses: Zhong et al.'s gradient symmetricity and distance irrelevance and the
verdict of :mod:`grok_interp.analyses.algorithm`, and the embedding's circularity (their
App. B; Figure 7 shows only runs with circularity >= 0.995). A point below 99% final test
accuracy is marked "not generalised": its measures describe no algorithm for a + b.

Model of width d (App. F.1): one layer, 4 heads of d/4, MLP 4d, ReLU, no LayerNorm (the
mainline preset's shape at d = 128). Training (App. F.1): full-batch AdamW, lr 1e-3,
weight decay 2, 80% of the pairs, 10-epoch warm-up. Differences from the paper: the input
is "a b =" read at "=" (theirs "a b", read at b), so at rate 0 the model sees a and b only
through E_a + E_b and its gradient symmetricity is 1 by construction; and a causal mask
(the last position sees every key either way, so a one-layer model computes the same).

CPU scale (the default, 17 CPU-minutes): p = 31, widths 32, 64, 128, rates 0, 0.25,
0.5, 0.75, 1, one seed, 2,500 epochs. The paper's: ``--p 59 --epochs 20000 --widths 32
45 64 91 128 181 256 362 512 --rates 0 0.1 ... 1 --seeds 5`` (it samples width
log-uniformly in [32, 512] and the rate uniformly in [0, 1]). Trained into OUT/sweep
(resumable: run again to continue; results.csv there); the table with the measures is
OUT/beyond_clock_pizza_phase.md (and .csv), the figure OUT/beyond_clock_pizza_phase.html
(and .png).

    PYTHONPATH=. python examples/beyond_clock_pizza_phase.py OUT [--rates R ...]
        [--widths D ...] [--p P] [--epochs N] [--seeds S] [--frac F] [--quiet]
"""

from pathlib import Path

from grok_interp.examples_cli import parser, save

STEM = "beyond_clock_pizza_phase"
NOT_GENERALISED = "not generalised (measures not meaningful)"


def width_fields(d: int) -> dict:
    """The paper's model of width d (App. F.1): 4 heads of d/4, an MLP of 4d."""
    return {"model.d_model": d, "model.n_heads": 4, "model.d_head": d // 4, "model.d_mlp": 4 * d}


def measure(run) -> dict:
    """The algorithm measures of a run's final model, and its final test accuracy."""
    from grok_interp import tl
    from grok_interp.analyses.algorithm import algorithm, circularity
    from grok_interp.runs import load_model

    model, task = load_model(run)
    which = algorithm(model, task)
    return {
        "test_acc": run.history["test_acc"][-1],
        "symmetricity": which.gradient_symmetricity,
        "irrelevance": which.distance_irrelevance,
        "circularity": circularity(tl.hooked_params(model)["embed.W_E"][: task.p]),
        "verdict": which.verdict,
    }


def points_frame(table, runs):
    """One row per point: rate, width, seed, when it reached 99% test accuracy, and its
    measures; ``generalised`` is a final test accuracy >= 99%."""
    import pandas as pd

    rows = [
        {"rate": r["model.attention_rate"], "width": int(r["model.d_model"]),
         "seed": int(r["seed"]), "grok_epoch": r["epoch_test_acc_99"], **measure(run)}
        for (_, r), run in zip(table.iterrows(), runs, strict=True)
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["generalised"] = frame["test_acc"] >= 0.99
    return frame


def cells(frame, column: str):
    """The heatmap of ``column`` over width (rows) x rate (columns): the mean over a
    cell's generalised points (NaN where none generalised), and each cell's label (the
    verdict its generalised points share, or how many of each, "mixed/undetermined"
    written "mixed"; "not generalised")."""
    rates, widths = sorted(frame["rate"].unique()), sorted(frame["width"].unique())
    z = [[float("nan")] * len(rates) for _ in widths]
    text = [["not generalised"] * len(rates) for _ in widths]
    for (width, rate), group in frame[frame["generalised"]].groupby(["width", "rate"]):
        i, j = widths.index(width), rates.index(rate)
        z[i][j] = float(group[column].mean())
        short = group["verdict"].replace("mixed/undetermined", "mixed")
        counts = sorted(short.value_counts().items(), key=lambda vn: (-vn[1], vn[0]))
        label = counts[0][0] if len(counts) == 1 else ", ".join(f"{n} {v}" for v, n in counts)
        text[i][j] = f"{label}<br>{z[i][j]:.2f}"
    return rates, widths, z, text


def figure(frame):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    measures = [("symmetricity", "gradient symmetricity", -1, 0.44),
                ("irrelevance", "distance irrelevance", 0, 1.0)]  # fmt: skip
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.16,
        subplot_titles=(
            "gradient symmetricity (pizza: 1)",
            "distance irrelevance (clock: 1, pizza: 0)",
        ),
    )
    for col, (name, title, zmin, bar_x) in enumerate(measures, start=1):
        rates, widths, z, text = cells(frame, name)
        axes = {"x": [f"{r:g}" for r in rates], "y": [str(w) for w in widths]}
        grey = [[1.0 if v != v else None for v in row] for row in z]  # v != v: NaN
        fig.add_trace(go.Heatmap(**axes, z=grey, text=text, texttemplate="%{text}", zmin=0,
                                 zmax=1, colorscale=[[0, "lightgrey"], [1, "lightgrey"]],
                                 showscale=False, hoverinfo="skip"), row=1, col=col)  # fmt: skip
        shown = [[t if v == v else "" for t, v in zip(ts, vs, strict=True)]
                 for ts, vs in zip(text, z, strict=True)]  # fmt: skip
        fig.add_trace(go.Heatmap(
            **axes, z=z, text=shown, texttemplate="%{text}", zmin=zmin, zmax=1,
            colorscale="Viridis",
            colorbar={"title": {"text": title, "side": "right"}, "x": bar_x},
        ), row=1, col=col)  # fmt: skip
    fig.update_xaxes(title="attention rate (0: uniform, 1: learned)", type="category")
    fig.update_yaxes(type="category")
    fig.update_yaxes(title="model width d_model (4 heads of d/4, MLP 4d)", col=1)
    fig.update_layout(width=1250, height=520, title=(
        "Clock or pizza against attention rate and width (Zhong et al. 2023, Fig. 7); "
        "cells: verdict and value, mean over generalised seeds"))  # fmt: skip
    return fig


def markdown(frame, args) -> str:
    import pandas as pd

    def value(row, name):
        v = getattr(row, name)
        return f"{v:.3f}" if row.generalised else f"({v:.3f})"

    head = ("| attention rate | width | seed | final test acc | test acc >= 99% at "
            "| gradient symmetricity | distance irrelevance | circularity | verdict |\n"
            "|---|---|---|---|---|---|---|---|---|\n")  # fmt: skip
    body = "".join(
        f"| {r.rate:g} | {r.width} | {r.seed} | {r.test_acc:.3f} "
        f"| {'not by the end' if pd.isna(r.grok_epoch) else f'{r.grok_epoch:g}'} "
        f"| {value(r, 'symmetricity')} | {value(r, 'irrelevance')} | {r.circularity:.3f} "
        f"| {r.verdict if r.generalised else NOT_GENERALISED} |\n"
        for r in frame.itertuples()
    )  # fmt: skip
    return (f"## Clock or pizza: add mod {args.p}, {args.epochs} epochs, {args.frac:g} of "
            f"pairs, weight decay {args.weight_decay:g}\n\n" + head + body +
            "\nValues in parentheses: a model below 99% test accuracy, for which the "
            "measures describe no algorithm. Circularity >= 0.995: circular embeddings "
            "(the runs the paper's Figure 7 keeps).\n")  # fmt: skip


def main(argv=None):
    ap = parser(__doc__, quiet=True, sweep={"epochs": 2500, "seeds": 1, "p": 31})
    ap.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128], help="d_model")
    ap.add_argument("--frac", type=float, default=0.8, help="training fraction (paper: 0.8)")
    ap.add_argument("--weight-decay", type=float, default=2.0, help="paper: 2")
    ap.add_argument("--lr", type=float, default=1e-3, help="paper: 1e-3")
    ap.add_argument("--eval-every", type=int, default=50)
    args = ap.parse_args(argv)
    if min(args.widths) < 4 or not all(0 <= r <= 1 for r in args.rates):
        ap.error("widths are >= 4 (4 heads of width/4) and rates lie in [0, 1]")
    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.sweeps import grok_markdown, load_points, settings_sweep

    train = TrainConfig(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                        frac_train=args.frac, eval_every=args.eval_every,
                        snapshot_every=max(args.epochs // 5, 1))  # fmt: skip
    base = RunSpec(task=Task(p=args.p), model=preset("mainline"), train=train)
    settings = {f"rate {r:g}, width {d}": {"model.attention_rate": r, **width_fields(d)}
                for d in args.widths for r in args.rates}  # fmt: skip
    folder = Path(args.out) / "sweep"
    table, _, names = settings_sweep(settings, base, folder, seeds=args.seeds,
                                     progress=not args.quiet)  # fmt: skip
    frame = points_frame(table, load_points(folder))
    text = markdown(frame, args) + "\n" + grok_markdown(table, names)
    return save(args.out, STEM, text, figure(frame), frame)


if __name__ == "__main__":
    print(*main(), sep="\n")
