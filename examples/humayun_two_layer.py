"""Humayun, Balestriero and Baraniuk's own setting, at a scale the CPU affords: a
two-layer transformer with GELU MLPs on addition mod 97, then their Figure 3 (accuracy
and circuit density over training) and Figure 4 (the plane through three training
inputs, per MLP layer, at five snapshots) redrawn from it.

The paper trains about 5e5 steps; its model's size and optimiser are not given in the
text. Here: the ``small`` preset with two layers and GELU (d_model 64, 4 heads of 16,
d_mlp 256, no LayerNorm), AdamW lr 1e-3, weight decay 1, 30% of pairs, full batch,
``--epochs`` (default 6,000) with a snapshot every ``epochs / 20``. The Run file
OUT/two_layer.pt is resumed if it exists (and extended when ``--epochs`` is larger), so an
interrupted run loses nothing (stop it with SIGINT: it saves the epoch under way).
``--train-only`` trains (or extends) and stops; the figures can then be drawn from the
run as it stands with ``humayun_fig03_density.py OUT --runs OUT/two_layer.pt``.

    python examples/humayun_two_layer.py OUT [--epochs 6000] [--train-only]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--epochs", type=int, default=6000)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--train-only", action="store_true", help="train or extend, no figures")
    args = ap.parse_args(argv)
    from pathlib import Path

    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.examples_cli import save
    from grok_interp.experiments.density_figures import density_figure, plane_over_training
    from grok_interp.training import train_or_resume

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "two_layer.pt"
    every = max(args.epochs // 20, 1)
    spec = RunSpec(task=Task(p=args.p), model=preset("small", n_layers=2, act_fn="gelu"),
                   train=TrainConfig(epochs=args.epochs, eval_every=max(every // 10, 1),
                                     snapshot_every=every))  # fmt: skip
    train_or_resume(spec, path, progress=not args.quiet)  # resumed, or extended to --epochs
    if args.train_only:
        return [path]
    last = args.epochs
    steps = [0, last // 20, last // 4, last // 2, last]
    fig3, text3, frame = density_figure([path], points=args.points)
    fig4, text4 = plane_over_training(path, steps=steps, grid=args.grid)
    return [*save(out, "humayun_fig03_density", text3, fig3, frame),
            *save(out, "humayun_fig04_plane_two_layer", text4, fig4)]  # fmt: skip


if __name__ == "__main__":
    print(*main(), sep="\n")
