"""Varma et al. (2023), Section 5.1 and Figure 3: the efficiency of C_mem and C_gen against
dataset size (prediction P1).

C_mem-only networks train on random labels (``TrainConfig.random_labels``), so all their
parameter norm is memorisation; C_gen-only networks train on large datasets and count only
if more than 95% of their logit norm lies in the trigonometric subspace (Appendix B; the
table says how many pass). Each run, over seeds x weight decays x dataset sizes, gives a
triple (correct logit, parameter norm, D): the mean logit of the trained label over the
training pairs at the end, and the L2 norm of all trainable parameters. Figures: the
scatter plots and the isologit curves (logits bucketed geometrically into six buckets;
per bucket, mean parameter norm against D). The summary fits
``log P = a + b log(logit) + c log(D)`` by least squares over each family's runs:
``c`` is how parameter norm grows with D at a fixed logit (P1: c > 0 for C_mem, c ~ 0
for C_gen).

Default (2-core CPU): p = 47, the ``small`` preset, 2 seeds, weight decays 0.3 / 1 / 2;
C_mem at 10%, 20%, 40% of the 2,209 pairs, C_gen at 50%, 70%, 90%; 4,000 epochs at lr
3e-3. Paper scale: ``--p 113 --preset mainline --mem-fracs 0.04 0.08 0.16 0.32 0.63
--gen-fracs 0.31 0.47 0.63 --seeds 5 --lr 1e-3 --epochs 100000`` (Figure 3: D from 500
to 8,000 for C_mem and 4,000 to 8,000 for C_gen).

    python examples/varma_fig03_efficiency.py OUT
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def args_parser():
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--p", type=int, default=47, help="paper: 113")
    ap.add_argument("--preset", default="small", help="paper: mainline")
    ap.add_argument("--mem-fracs", type=float, nargs="+", default=[0.1, 0.2, 0.4])
    ap.add_argument("--gen-fracs", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    ap.add_argument("--weight-decays", type=float, nargs="+", default=[0.3, 1.0, 2.0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=3e-3)
    return ap


def family(args, name, fracs, random_labels):
    """One family's sweep (OUT/<name>/) and its triples."""
    import torch

    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.analyses.efficiency import trig_mem_callback
    from grok_interp.fast import model_last_logits
    from grok_interp.runs import model_from_run
    from grok_interp.sweeps import Grid, load_points, run_sweep
    from grok_interp.training import train_labels

    base = RunSpec(
        task=Task(p=args.p),
        model=preset(args.preset),
        train=TrainConfig(
            epochs=args.epochs, lr=args.lr, random_labels=random_labels,
            eval_every=max(args.epochs // 40, 1), snapshot_every=args.epochs,
        ),
    )  # fmt: skip
    grid = Grid(
        values={"train.frac_train": fracs, "train.weight_decay": args.weight_decays,
                "seed": list(range(args.seeds))},
        base=base,
    )  # fmt: skip
    folder = Path(args.out) / name
    table = run_sweep(grid, folder, callbacks=[trig_mem_callback()], progress=not args.quiet)
    logits = []
    for run in load_points(folder):
        with torch.no_grad():
            z = model_last_logits(model_from_run(run), run.task.tokens()[run.train_idx])
        logits.append(float(z.gather(1, train_labels(run)[:, None]).mean()))
    return table.assign(
        family=name,
        D=[round(f * args.p**2) for f in table["train.frac_train"]],
        correct_logit=logits,
    )


def elasticity(t):
    """Least squares log P = a + b log(logit) + c log(D): (c, its standard error, n)."""
    import numpy as np

    t = t[t["correct_logit"] > 0]
    x = np.column_stack(
        [np.ones(len(t)), np.log(t["correct_logit"]), np.log(t["D"].astype(float))]
    )
    y = np.log(t["final_param_norm"])
    coef, res, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = max(len(t) - 3, 1)
    sigma2 = float(res[0]) / dof if len(res) else float(np.sum((y - x @ coef) ** 2)) / dof
    se = np.sqrt(np.diag(sigma2 * np.linalg.pinv(x.T @ x)))
    return float(coef[2]), float(se[2]), len(t)


def isologits(t):
    """Per geometric logit bucket and D: mean parameter norm (the isologit curves)."""
    from grok_interp.analyses.dataset_size import geometric_buckets

    t = t.assign(bucket=geometric_buckets(t["correct_logit"], 6))
    return t[t["bucket"] >= 0].groupby(["bucket", "D"])["final_param_norm"].mean().unstack("D")


def figure(triples):
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from grok_interp.analyses.dataset_size import bucket_edges

    fams = list(dict.fromkeys(triples["family"]))
    fig = make_subplots(
        rows=2, cols=len(fams),
        subplot_titles=[f"{f}: scatter" for f in fams] + [f"{f}: isologit curves" for f in fams],
    )  # fmt: skip
    for col, fam in enumerate(fams, start=1):
        t = triples[triples["family"] == fam]
        fig.add_trace(
            go.Scatter(
                x=t["final_param_norm"], y=t["correct_logit"], mode="markers",
                marker={"color": np.log(t["D"]), "colorscale": "Viridis"},
                text=[f"D {d}" for d in t["D"]], name=f"{fam} runs (colour: log D)",
            ),
            row=1, col=col,
        )  # fmt: skip
        iso, edges = isologits(t), bucket_edges(t["correct_logit"], 6)
        for b, row in iso.iterrows():
            fig.add_trace(
                go.Scatter(x=row.index, y=row.values, mode="lines+markers",
                           name=f"{fam}: logit {edges[b]:.3g}-{edges[b + 1]:.3g}"),
                row=2, col=col,
            )  # fmt: skip
        fig.update_xaxes(title_text="parameter norm", type="log", row=1, col=col)
        fig.update_yaxes(title_text="correct logit", row=1, col=col)
        fig.update_xaxes(title_text="dataset size D", type="log", row=2, col=col)
        fig.update_yaxes(title_text="parameter norm", row=2, col=col)
    fig.update_layout(title="Efficiency of C_mem and C_gen (Varma et al. 2023, Figure 3)")
    return fig


def main(argv=None):
    args = args_parser().parse_args(argv)
    import pandas as pd

    from grok_interp.analyses.common import markdown
    from grok_interp.plots import write

    mem = family(args, "C_mem", args.mem_fracs, True)
    gen = family(args, "C_gen", args.gen_fracs, False)
    gen = gen.assign(gen_only=gen["final_trig_norm_share"] > 0.95)
    fitted = mem["final_train_acc"] >= 0.99
    triples = pd.concat([mem[fitted], gen[gen["gen_only"]]], ignore_index=True)
    cols = ["family", "D", "train.weight_decay", "seed", "correct_logit", "final_param_norm",
            "final_train_acc", "final_trig_norm_share"]  # fmt: skip
    lines = [
        "## Efficiency against dataset size (P1)", "",
        f"C_mem runs that fit their random labels (train acc >= 0.99): {int(fitted.sum())} of "
        f"{len(mem)}; C_gen runs with > 95% of the logit norm trigonometric: "
        f"{int(gen['gen_only'].sum())} of {len(gen)}.", "",
    ]  # fmt: skip
    for fam in ("C_mem", "C_gen"):
        t = triples[triples["family"] == fam]
        if len(t) >= 4:
            c, se, n = elasticity(t)
            lines.append(
                f"- {fam}: log P = a + b log(logit) + c log(D) over {n} runs: "
                f"c = {c:.3f} +- {se:.3f} (parameter norm at a fixed logit grows as D^c)"
            )
        iso = markdown(isologits(t), ".3g", index=True) if len(t) else "(none)"
        lines += ["", f"{fam} isologit curves (mean parameter norm per logit bucket and D):",
                  "", iso, ""]  # fmt: skip
    lines += ["All runs:", "", markdown(pd.concat([mem, gen])[cols])]  # fmt: skip
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    (out / "varma_fig03.md").write_text(text)
    triples.to_csv(out / "varma_fig03_triples.csv", index=False)
    print(text)
    return [out / "varma_fig03.md", *write(figure(triples), out, "varma_fig03")]


if __name__ == "__main__":
    print(*main(), sep="\n")
