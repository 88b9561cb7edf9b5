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

import argparse
from pathlib import Path


def trained(settings, args, out):
    """One seed-0 run per named setting (a dict of TrainConfig fields) from the sweep
    figures' base (addition mod --p on the mainline model for --epochs), swept into
    ``out``/sweep (resumable); the Runs by setting name."""
    from grok_interp.examples_cli import sweep_base
    from grok_interp.sweeps import load_points, settings_sweep

    folder = Path(out) / "sweep"
    dotted = {n: {f"train.{k}": v for k, v in f.items()} for n, f in settings.items()}
    settings_sweep(dotted, sweep_base(args), folder, progress=False)
    return dict(zip(settings, load_points(folder), strict=True))

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


def row(label, run):
    """The table's row of one run: when it groks, and its final circuit."""
    from grok_interp.report import analyze
    from grok_interp.sweeps import first_epoch

    h = run.history
    rep = analyze(run)
    grok = first_epoch(h, "test_acc", lambda v: v >= 0.99)
    rows = rep.ablations.rows if rep.ablations else ()
    abl = {r.name.split(" ")[0]: r.loss["test"] for r in rows}
    eff, alg = rep.efficiency, rep.algorithm
    keys = rep.neuron_logit_map.key_freqs if rep.neuron_logit_map else ()
    return {
        "setting": label,
        "test acc >= 99% at": f"not by {h['epoch'][-1]:g}" if grok is None else f"{grok:g}",
        "final test acc": f"{h['test_acc'][-1]:.3f}",
        "final train / test loss": f"{h['train_loss'][-1]:.2g} / {h['test_loss'][-1]:.2g}",
        "collapsed (final)": f"{h['collapsed'][-1]:.2f}",
        "cos(-grad, w) (final)": f"{h['nlm_alignment'][-1]:.2f}",
        "param norm": f"{h['param_norm'][-1]:.1f}",
        "key freqs": ", ".join(map(str, keys)) or "none",
        "logit FVE": f"{rep.logit_fit.fve:.0%}" if rep.logit_fit else "-",
        "restricted / excluded loss (test)": (
            f"{abl['restricted']:.2g} / {abl['excluded']:.2g}" if abl else "-"
        ),
        "o_trig / o_mem (test)": (
            f"{eff.o_trig['test']:.3g} / {eff.o_mem['test']:.3g}" if eff else "-"
        ),
        "algorithm (sym., irr.)": (
            f"{alg.verdict} ({alg.gradient_symmetricity:.2f}, {alg.distance_irrelevance:.2f})"
            if alg
            else rep.not_run.get("algorithm", "-")
        ),
    }


def figure(runs):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "collapsed share (train)"))
    for key, run in runs.items():
        h = run.history
        for col, name in ((1, "test_acc"), (2, "collapsed")):
            trace = go.Scatter(x=h["epoch"], y=h[name], name=SETTINGS[key][0],
                               legendgroup=key, showlegend=col == 1)  # fmt: skip
            fig.add_trace(trace, row=1, col=col)
    fig.update_layout(title="The mainline without weight decay: StableMax, ⊥Grad, float64")
    fig.update_xaxes(title="epoch")
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--only", nargs="+", choices=list(SETTINGS), default=None)
    ap.add_argument("--epochs", type=int, default=1500)
    ap.add_argument("--p", type=int, default=59)
    ap.add_argument("--frac", type=float, default=0.5)
    ap.add_argument("--train-only", action="store_true", help="train, write no table")
    args = ap.parse_args(argv)
    for key in args.only or SETTINGS:
        train_setting(key, args)
    if args.train_only:
        return []
    from grok_interp.plots import write

    done = {k: train_setting(k, args) for k in SETTINGS if (Path(args.out) / k).exists()}
    rows = [row(SETTINGS[k][0], r) for k, r in done.items()]
    path = table(rows, Path(args.out) / "beyond_no_weight_decay.md")
    return [path, *write(figure(done), args.out, "beyond_no_weight_decay")]


def table(rows, path):
    """Write (and print) the rows as a Markdown table."""
    cols = list(rows[0])
    text = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    text += "".join("| " + " | ".join(r[c] for c in cols) + " |\n" for r in rows)
    print(text)
    path.write_text(text)
    return path


if __name__ == "__main__":
    print(*main(), sep="\n")
