"""Liu et al. (2022), as in Kolber's slides "Definition of phases" and "Phase diagrams": a
transformer phase diagram, learning rate x weight decay on modular addition, at a scale
the CPU affords.

One sweep (OUT/sweep/, resumable) over learning rates x weight decays; each run's phase is
read off its history by the slides' Table 1 (:func:`grok_interp.analyses.learning_phases.
liu_phase`): train and test accuracy above 90% within the step budget (here the run's
epochs), and the gap between the two steps against ``--gap``. The slides use a budget of
1e5 steps and a gap of 1e3 (1% of the budget); the default keeps that ratio.

Default (2-core CPU, 2.3 min): p = 23, the ``small`` preset, 60% of pairs, 5 x 5 grid,
3,000 epochs, gap 30. At 30% of pairs (``--frac 0.3``) all 25 runs memorise within the
budget. Larger: ``--p 53 --epochs 100000 --gap 1000``.

    python examples/liu_phase_diagram_transformer.py OUT
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--p", type=int, default=23)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--frac", type=float, default=0.6)
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    ap.add_argument("--weight-decays", type=float, nargs="+", default=[0, 0.1, 0.3, 1, 3])
    ap.add_argument("--epochs", type=int, default=3000)
    ap.add_argument("--gap", type=float, default=None, help="default: 1%% of --epochs")
    args = ap.parse_args(argv)
    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.learning_phases import phase_diagram, with_phases
    from grok_interp.plots import write
    from grok_interp.sweeps import Grid, load_histories, run_sweep

    gap = args.gap if args.gap is not None else args.epochs / 100
    base = RunSpec(
        task=Task(p=args.p),
        model=preset(args.preset),
        train=TrainConfig(epochs=args.epochs, frac_train=args.frac,
                          eval_every=max(args.epochs // 300, 1), snapshot_every=args.epochs),
    )  # fmt: skip
    grid = Grid(values={"train.lr": args.lrs, "train.weight_decay": args.weight_decays},
                base=base)  # fmt: skip
    folder = Path(args.out) / "sweep"
    table = run_sweep(grid, folder, progress=not args.quiet)
    table = with_phases(table, load_histories(folder), budget=args.epochs,
                        gap=gap)  # fmt: skip
    cols = ["train.lr", "train.weight_decay", "phase", "train_step", "val_step",
            "final_train_acc", "final_test_acc"]  # fmt: skip
    counts = table["phase"].value_counts().to_dict()
    text = (f"## Transformer phase diagram, add mod {args.p}, {args.epochs} epochs, gap "
            f"{gap:g}\n\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + "\n\n"
            + markdown(table[cols]) + "\n")  # fmt: skip
    out = Path(args.out)
    (out / "liu_phase_diagram_transformer.md").write_text(text)
    print(text)
    fig = phase_diagram(table, "train.weight_decay", "train.lr",
                        title=f"Phases of a transformer on add mod {args.p} (Liu et al. 2022; "
                        "slides: Phase diagrams)")  # fmt: skip
    return [out / "liu_phase_diagram_transformer.md",
            *write(fig, out, "liu_phase_diagram_transformer")]  # fmt: skip


if __name__ == "__main__":
    print(*main(), sep="\n")
