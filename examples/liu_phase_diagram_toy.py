"""Liu et al. (2022), as in Kolber's slides "Phase diagrams": the toy model's two phase
diagrams, each one sweep of stacked toy runs (OUT/<diagram>/, resumable).

- ``decoder``: decoder learning rate x decoder weight decay, the representation's AdamW
  at lr 1e-3 without weight decay (the authors' phase_diagram_plot/phase_diagram.ipynb:
  lr 10^linspace(-4, -2), weight decay 0..10, 45 of the 55 pairs, one seed for every
  cell).
- ``size``: training-set size x representation learning rate, the decoder at the
  authors' default lr 1e-4 (the ranges are ours: the slides do not give them).

Each run's phase comes from the slides' Table 1 (:func:`grok_interp.analyses.
learning_phases.liu_phase`): 90% train and validation accuracy within ``--budget`` steps,
and the gap between the two steps against ``--gap``. The slides' budget is 1e5 steps,
gap 1e3; the default budget is 1e4 (so a run that would reach 90% between 1e4 and 1e5
steps counts as not reaching it), the gap the slides' 1e3.

Default (2-core CPU, about 4 minutes per diagram): p = 10, the ``toy_1d`` preset (width
200), 10 x 10 grids, 1e4 steps, seed 1. Seed 1's 45 training pairs reach every test pair
through the linear representation; seed 0's leave 2 of the 10 test pairs with a sum no
training pair has, so no run of seed 0 passes 80% test accuracy and every cell would read
memorization or confusion (measured: 73 and 27). Paper scale: ``--budget 100000`` (ten times
longer) and ``--seeds 0 1 2`` for the majority phase per cell.

    python examples/liu_phase_diagram_toy.py OUT [--diagram decoder size]
"""

from pathlib import Path

from grok_interp.examples_cli import parser

AXES = {
    "decoder": ("train.lr", "train.weight_decay"),
    "size": ("train.n_train", "train.lr_embed"),
}


def grid_values(diagram, n):
    import numpy as np

    if diagram == "decoder":
        return {"train.lr": [float(v) for v in np.round(10 ** np.linspace(-4, -2, n), 8)],
                "train.weight_decay": [float(v) for v in np.round(np.linspace(0, 10, n), 4)]}
    sizes = np.unique(np.round(np.linspace(15, 54, n)).astype(int))
    return {"train.n_train": [int(v) for v in sizes],
            "train.lr_embed": [float(v) for v in np.round(10 ** np.linspace(-4, -1, n), 8)]}


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--diagram", nargs="+", choices=list(AXES), default=list(AXES))
    ap.add_argument("--n", type=int, default=10, help="values per axis")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--gap", type=float, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--preset", default="toy_1d")
    args = ap.parse_args(argv)
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.learning_phases import phase_diagram, with_phases
    from grok_interp.config import field_words
    from grok_interp.plots import write
    from grok_interp.sweeps import Grid, load_histories, run_sweep
    from grok_interp.toy import toy_spec

    out = Path(args.out)
    base = toy_spec(args.preset, epochs=args.budget, eval_every=10, snapshot_every=args.budget)
    written = []
    for diagram in args.diagram:
        x, y = AXES[diagram]
        grid = Grid(values={**grid_values(diagram, args.n), "seed": args.seeds}, base=base)
        folder = out / diagram
        table = run_sweep(grid, folder, progress=not args.quiet)
        table = with_phases(table, load_histories(folder),
                            budget=args.budget, gap=args.gap)  # fmt: skip
        counts = table["phase"].value_counts().to_dict()
        cols = [x, y, "seed", "phase", "train_step", "val_step", "final_train_acc",
                "final_test_acc"]  # fmt: skip
        text = (f"## Toy phase diagram ({diagram}): {y} x {x}, {args.budget} steps, gap "
                f"{args.gap:g}\n\n" + ", ".join(f"{k}: {v}" for k, v in counts.items())
                + "\n\n" + markdown(table[cols]) + "\n")  # fmt: skip
        (out / f"liu_phase_diagram_toy_{diagram}.md").write_text(text)
        print(text)
        fig = phase_diagram(table, x, y, title=f"Toy model phases, {field_words(y)} x "
                            f"{field_words(x)} (Liu et al. 2022)")  # fmt: skip
        written += [out / f"liu_phase_diagram_toy_{diagram}.md",
                    *write(fig, out, f"liu_phase_diagram_toy_{diagram}")]  # fmt: skip
    return written


if __name__ == "__main__":
    print(*main(), sep="\n")
