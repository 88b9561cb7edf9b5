"""Nanda et al. (2023), Appendix D.3, Figures 29-34: limited data is necessary for grokking,
on five-digit addition, repeated subsequences and skip trigrams
(:mod:`grok_interp.sequences`), each trained with infinite data (a fresh batch every step)
and with limited data (a fixed set: 700 sequences for five-digit addition, 512 for the
others), as one two-point sweep per task (OUT/<task>/, resumable).

Models as the appendix: a 1-layer full transformer for five-digit addition, a 2-layer
attention-only one for repeated subsequences, a 1-layer attention-only one for skip
trigrams; otherwise the mainline's hyperparameters (AdamW lr 1e-3, weight decay 1, betas
(0.9, 0.98), 10 warm-up steps). The batch of the infinite regime is the limited set's
size. Figures: train and test loss of both regimes; per output token for five-digit
addition (Fig 29's lower panel); the best induction and previous-token scores over
training for repeated subsequences (the induction circuit's phase change, Fig 31); the
best big-token attention for skip trigrams. Printed per task and regime: the steps at
which train accuracy passes 99% and test accuracy passes 99% of the best possible
(:func:`grok_interp.sequences.accuracy_ceiling`: 1 for five-digit addition and skip
trigrams, 0.974 on the repeat task's seed-0 test set, whose first repeated target is
ambiguous), the final losses, and the final test accuracy beside its ceiling.

Default (2-core CPU, see the README for the wall times): the ``small`` preset's width
(d_model 64, 4 heads of 16, d_mlp 256) and 3,000 steps. The appendix's width:
``--preset mainline`` (about 4x the compute); ``--regimes limited`` trains one regime.
The choices the appendix leaves open are swept with ``--lengths`` (repeat and skip
trigrams) and ``--big-at any before_last`` (skip trigrams: whether the big token may sit
at the last position); each value becomes a point of the task's sweep.

    python examples/nanda_d3_limited_data.py OUT [--tasks five_digit_add repeat skip_trigram]
"""

from pathlib import Path

from grok_interp.examples_cli import parser

SHAPE = {"five_digit_add": {}, "repeat": {"n_layers": 2, "attn_only": True},
         "skip_trigram": {"attn_only": True}}  # fmt: skip
SIZE = {"five_digit_add": 700, "repeat": 512, "skip_trigram": 512}
REGIME = {False: "limited", True: "infinite"}


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--tasks", nargs="+", choices=list(SHAPE), default=list(SHAPE))
    ap.add_argument("--preset", default="small")
    ap.add_argument("--epochs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--regimes", nargs="+", choices=["limited", "infinite"],
                    default=["limited", "infinite"])
    ap.add_argument("--lengths", type=int, nargs="+", help="sequence lengths (repeat, skip "
                    "trigram; default: the task's own)")
    ap.add_argument("--big-at", nargs="+", choices=["any", "before_last"], default=["any"],
                    help="where a skip trigram's big token may sit")
    args = ap.parse_args(argv)
    if args.lengths and "five_digit_add" in args.tasks:
        ap.error("--lengths applies to repeat and skip_trigram; five-digit addition has 17")
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from grok_interp import RunSpec, TrainConfig, preset
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.sequence_heads import head_scores_over_training
    from grok_interp.plots import write
    from grok_interp.sequences import SeqTask, accuracy_ceiling
    from grok_interp.sweeps import Grid, first_epoch, load_points, run_sweep

    out = Path(args.out)
    written, rows = [], []
    for kind in args.tasks:
        base = RunSpec(task=SeqTask(kind=kind), model=preset(args.preset, **SHAPE[kind]),
                       seed=args.seed,
                       train=TrainConfig(epochs=args.epochs, n_train=SIZE[kind],
                                         eval_every=max(args.epochs // 150, 1),
                                         snapshot_every=max(args.epochs // 30, 1)))  # fmt: skip
        folder = out / kind
        values: dict[str, list] = {"train.fresh_data": [r == "infinite" for r in args.regimes]}
        values |= {"task.length": args.lengths} if args.lengths else {}
        if kind == "skip_trigram" and args.big_at != ["any"]:  # else the grid of older folders
            values["task.big_at"] = args.big_at
        print(f"{kind}: {', '.join(args.regimes)} data, {args.epochs} steps ...", flush=True)
        run_sweep(Grid(values=values, base=base), folder, progress=not args.quiet,
                  callbacks=[_finished(kind)])  # one line per task and regime, quiet or not
        runs = load_points(folder)
        extra = 1 if kind == "five_digit_add" else 0
        fig = make_subplots(rows=1, cols=2 + extra, subplot_titles=[
            "loss", *(["test loss per output digit (infinite data)"] if extra else []),
            {"five_digit_add": "", "repeat": "best head score",
             "skip_trigram": "best attention to the token >= 10"}[kind] or "accuracy"])  # fmt: skip
        for run in runs:
            h, name = run.history, REGIME[run.train.fresh_data]
            variant = _variant(run.task, args)
            name = f"{name}, {variant}" if variant else name
            dash = "dot" if run.train.fresh_data else "solid"
            last = 2 + extra
            for split, colour in (("train", "#1f77b4"), ("test", "#d62728")):
                line = {"dash": dash} | ({} if variant else {"color": colour})
                fig.add_trace(go.Scatter(x=h["epoch"], y=h[f"{split}_loss"], line=line,
                                         name=f"{name} {split}", legendgroup=f"{name} {split}"),
                              row=1, col=1)  # fmt: skip
                if kind == "five_digit_add":  # the same run and split: the loss's line style
                    fig.add_trace(go.Scatter(x=h["epoch"], y=h[f"{split}_acc"], line=line,
                                             name=f"{name} {split}", showlegend=False,
                                             legendgroup=f"{name} {split}"),
                                  row=1, col=last)  # fmt: skip
            if extra and run.train.fresh_data:
                for pos, colour in zip(run.task.output_positions, DIGITS, strict=False):
                    fig.add_trace(go.Scatter(x=h["epoch"], y=h[f"test_loss_pos{pos}"],
                                             name=f"digit {pos - 11}", line={"color": colour}),
                                  row=1, col=2)  # fmt: skip
            extra_cols = {}
            if kind != "five_digit_add":
                heads = head_scores_over_training(run)
                best = heads.groupby(["epoch", "score"])["value"].max().reset_index()
                for (score, part), colour in zip(best.groupby("score"), SCORES, strict=False):
                    words = str(score).replace("_", "-")  # one colour per score, as the loss's
                    fig.add_trace(go.Scatter(x=part["epoch"], y=part["value"],
                                             name=f"{name} {words}",
                                             line={"dash": dash, "color": colour}),
                                  row=1, col=last)  # fmt: skip
                    extra_cols[f"best {score} at end"] = float(part["value"].iloc[-1])
            top = accuracy_ceiling(run.task, run.seed)
            row = {"task": kind, "regime": name,
                   "train acc >= 99% at": first_epoch(h, "train_acc", lambda v: v >= 0.99),
                   "test acc >= 99% of ceiling at": first_epoch(h, "test_acc",
                                                                lambda v, t=top: v >= 0.99 * t),
                   "final train loss": h["train_loss"][-1], "final test loss": h["test_loss"][-1],
                   "final test acc": h["test_acc"][-1], "test acc ceiling": top,
                   "best test acc": max(h["test_acc"])}  # fmt: skip
            rows.append(row | extra_cols)
        fig.update_yaxes(type="log", row=1, col=1)
        fig.update_xaxes(title_text="step")
        tasks = {run.task for run in runs}
        what = tasks.pop().describe() if len(tasks) == 1 else kind
        fig.update_layout(title=f"{what}<br><sup>limited (solid) and infinite (dotted) data; "
                          "Nanda et al. 2023, Figs 29-34</sup>")  # fmt: skip
        written += write(fig, out, f"nanda_d3_{kind}")
    table = pd.DataFrame(rows)
    steps = ["train acc >= 99% at", "test acc >= 99% of ceiling at"]
    table[steps] = table[steps].astype("Int64")  # a step, or empty where never
    text = (f"## Limited vs infinite data ({args.preset} width, {args.epochs} steps)\n\n"
            + markdown(table) + "\n")  # fmt: skip
    (out / "nanda_d3_limited_data.md").write_text(text)
    print(text)
    return [out / "nanda_d3_limited_data.md", *written]


# the output digits' colours: none near the loss panel's train blue and test red
DIGITS = ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f")
SCORES = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")  # the head scores' colours, in order


def _finished(kind: str):
    """A training callback that prints one line when a run reaches its last step: the task,
    the regime, the wall time since the task began and the final test loss."""
    import time

    start = time.perf_counter()

    def record(epoch, model, run):
        if epoch >= run.train.epochs:
            print(f"{kind}, {REGIME[run.train.fresh_data]} data: {epoch} steps done "
                  f"({run.task.describe()}), {time.perf_counter() - start:.0f} s since the "
                  "task began", flush=True)
        return None

    return record


def _variant(task, args) -> str:
    """The open choices that distinguish a run of a swept task, for names and rows."""
    parts = [f"length {task.seq_len}"] if args.lengths else []
    if task.kind == "skip_trigram" and args.big_at != ["any"]:
        parts.append(f"big token {task.big_at}")
    return ", ".join(parts)


if __name__ == "__main__":
    print(*main(), sep="\n")
