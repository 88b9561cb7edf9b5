"""Varma et al. (2023), Appendix A.2 and Figure 8: ungrokking on other tasks.

For each task, the experiment of ``varma_ungrokking.py`` (a base run that generalised,
continued on random subsets D' of its training set over sizes x weight decays x seeds),
with D' given as fractions of the task's pairs (``--size-fracs``) so one setting serves
p^2 and the 14,400 pairs of S5. A task whose base run did not generalise (test accuracy
below 0.99) is reported as such: ungrokking needs a network that generalised first. Writes
per task what ``varma_ungrokking.py`` writes, and ``varma_fig08.md`` / ``varma_fig08.html``:
test accuracy at the end against D' / pairs for every task.

Default (2-core CPU): the tasks x/y, x-y, x*y, the odd/even mixture (x/y if y is odd,
else x-y), x^2+y^2, x^2+xy+y^2 (p = 47) and xy, xyx^-1, xyx in S5; the ``small`` preset;
bases of 3,000 epochs (S5: 1,500 at lr 3e-3) on 70% of pairs; continuations of 4,000
epochs at lr 3e-3 on 4 sizes x weight decays 0.5 and 2, one seed. Paper scale: ``--p 113
--preset mainline --base-frac 0.9 --seeds 3 --epochs 100000 --weight-decays 0.1 0.5 1 1.5
2`` (Figure 8: 100k steps per continuation).

A base that did not generalise can be trained on first with ``--base-only`` (bases only,
their test accuracy in OUT/varma_fig08_bases.md); a larger ``--base-epochs`` /
``--s5-base-epochs`` extends a saved base.

    python examples/varma_fig08_other_tasks.py OUT [--ops sub div ...] [--base-only]
"""

from pathlib import Path

from grok_interp.examples_cli import parser, ungrokking_args

OPS = ["div", "sub", "mul", "div_or_sub", "x2_plus_y2", "x2_plus_xy_plus_y2",
       "s5_xy", "s5_xyx_inv", "s5_xyx"]  # fmt: skip


def main(argv=None):
    ap = ungrokking_args(parser(__doc__, quiet=True), wds=(0.5, 2.0), seeds=1)
    ap.add_argument("--ops", nargs="+", default=OPS)
    ap.add_argument("--size-fracs", type=float, nargs="+", default=[0.03, 0.07, 0.12, 0.2])
    ap.add_argument("--s5-base-epochs", type=int, default=1500)
    ap.add_argument("--s5-base-lr", type=float, default=3e-3)
    ap.add_argument("--base-only", action="store_true", help="train the bases, then stop")
    ap.set_defaults(epochs=4000)
    args = ap.parse_args(argv)
    import pandas as pd
    import plotly.graph_objects as go

    from grok_interp.analyses.common import markdown
    from grok_interp.experiments.ungrokking import Ungrokking, base_run, experiment, task_for
    from grok_interp.plots import write

    rows, paths, fig = [], [], go.Figure()
    for op in args.ops:
        n_pairs = task_for(op, args.p).n_pairs
        s5 = op.startswith("s5")
        opts = Ungrokking.from_args(
            args, sizes=[round(f * n_pairs) for f in args.size_fracs],
            base_epochs=args.s5_base_epochs if s5 else args.base_epochs,
            base_lr=args.s5_base_lr if s5 else args.base_lr,
        )  # fmt: skip
        if args.base_only:
            _, base = base_run(opts, op)
            rows.append({"task": op, "pairs": n_pairs, "training pairs": len(base.train_idx),
                         "epochs": base.epoch, "lr": base.train.lr,
                         "train acc": base.history["train_acc"][-1],
                         "test acc": base.history["test_acc"][-1]})  # fmt: skip
            continue
        table, _, written, base = experiment(opts, op)
        paths += written
        base_acc = base.history["test_acc"][-1]
        mean = table.groupby(["train.weight_decay", "train.n_train"])["final_test_acc"].mean()
        for (wd, n), acc in mean.items():
            rows.append({"task": f"{op} (base test acc {base_acc:.3f})", "wd": wd,
                         "D'/pairs": round(n / n_pairs, 3), "test acc": acc})  # fmt: skip
        for wd, part in mean.groupby(level=0):
            fig.add_trace(go.Scatter(
                x=[n / n_pairs for _, n in part.index], y=part.values, name=f"{op}, wd {wd:g}",
            ))  # fmt: skip
    if args.base_only:
        return _bases_table(rows, Path(args.out))
    fig.update_xaxes(type="log", title_text="D' as a share of all pairs")
    fig.update_yaxes(title_text="test accuracy at the end", range=[0, 1.02])
    fig.update_layout(title="Ungrokking on other tasks (Varma et al. 2023, Figure 8)")
    frame = pd.DataFrame(rows).pivot_table(index=["task", "D'/pairs"], columns="wd",
                                           values="test acc")  # fmt: skip
    frame.columns = [f"wd {c:g}" for c in frame.columns]
    text = "## Ungrokking on other tasks: test accuracy at the end\n\n" + markdown(
        frame.reset_index(), ".3f") + "\n"  # fmt: skip
    out = Path(args.out)
    (out / "varma_fig08.md").write_text(text)
    print(text)
    return paths + [out / "varma_fig08.md", *write(fig, out, "varma_fig08")]


def _bases_table(rows, out):
    import pandas as pd

    from grok_interp.analyses.common import markdown

    text = "## Ungrokking on other tasks: the base runs\n\n" + markdown(
        pd.DataFrame(rows), ".3f") + "\n"  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "varma_fig08_bases.md").write_text(text)
    print(text)
    return [out / "varma_fig08_bases.md"]


if __name__ == "__main__":
    print(*main(), sep="\n")
