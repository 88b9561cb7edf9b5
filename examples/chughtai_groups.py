"""Chughtai, Chan & Nanda (2023): a transformer trained here on a finite group, its key
irreducible representations and the order it learns them in (logit trace similarity of
each irrep at each snapshot, with the losses).

The run is the authors' setting (cfg.json of their batch_experiments: 1 layer, d_model
128, 4 heads, d_mlp 512, AdamW lr 1e-3, wd 1, betas (0.9, 0.98), 60% of the pairs,
full batch) on ``--group`` with ``--op``, resumed or extended when OUT already holds it.

    python examples/chughtai_groups.py OUT [--group A5] [--op xy] [--epochs 50000]
        [--measure-only]   # the run OUT holds, as it stands (a stopped run, say)
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--group", default="A5", help="C_n, D_n, S_n (n <= 6), A_n (n <= 5)")
    ap.add_argument("--op", default="xy", choices=["xy", "xyx_inv", "xyx"])
    ap.add_argument("--epochs", type=int, default=50_000, help="the authors': 50000")
    ap.add_argument("--frac-train", type=float, default=0.6, help="the authors': 0.6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snapshot-every", type=int, default=200)
    ap.add_argument("--max-steps", type=int, default=40, help="snapshots measured")
    ap.add_argument("--measure-only", action="store_true",
                    help="measure the run OUT holds as it stands, without training it further")
    args = ap.parse_args(argv)
    from pathlib import Path

    import pandas as pd

    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.irreps import (
        irreps_over_training,
        learning_order,
        over_training_figure,
    )
    from grok_interp.analyses.progress import PHASE_NAMES, phases
    from grok_interp.examples_cli import save
    from grok_interp.training import train_or_resume

    task = Task.over(args.group, args.op)
    cfg = TrainConfig(epochs=args.epochs, frac_train=args.frac_train, eval_every=100,
                      snapshot_every=args.snapshot_every)  # fmt: skip
    spec = RunSpec(task=task, model=preset("mainline"), train=cfg, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{args.group}_{args.op}_seed{args.seed}"
    path = out / f"{name}.pt"
    if args.measure_only:
        from grok_interp import load_run

        run = load_run(path)
    else:
        run = train_or_resume(spec, path, progress=not args.quiet)
    frame = irreps_over_training(run, max_steps=args.max_steps)
    order = learning_order(frame)
    end = run.final_metrics()
    bounds = phases(pd.DataFrame(run.history))  # Nanda et al.'s rule on the run's losses
    said = ("Phases (the rule of grok_interp.analyses.progress.phases on the losses): "
            + (", ".join(f"{n} at {b}" for n, b in zip(PHASE_NAMES, bounds, strict=True))
               if bounds else "none: the test loss never fell 10x from its peak"))  # fmt: skip
    last = frame[frame["epoch"] == frame["epoch"].max()]
    text = (f"## {task.describe()}: key irreps over training ({run.epoch} epochs)\n\n"
            f"Final train loss {end['train_loss']:.3g}, test loss {end['test_loss']:.3g}, "
            f"test accuracy {end['test_acc']:.3f}. {said}.\n\n"
            "### Order of learning (key irreps at the end)\n\n" + markdown(order) + "\n\n"
            "### Every irrep at the last snapshot\n\n"
            + markdown(last.drop(columns=["train_loss", "test_loss"])) + "\n")  # fmt: skip
    fig = over_training_figure(frame, f"Irreps over training: {task.describe()}", bounds)
    return save(out, f"chughtai_{name}", text, fig, frame)


if __name__ == "__main__":
    print(*main(), sep="\n")
