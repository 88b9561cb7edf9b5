"""Humayun, Balestriero and Baraniuk's own setting, at a scale the CPU affords: a
two-layer transformer with GELU MLPs on addition mod 97, then their Figure 3 (accuracy
and circuit density over training) and Figure 4 (the plane through three training
inputs, per MLP layer, at five snapshots) redrawn from it.

The paper trains about 5e5 steps; its model's size and optimiser are not given in the
text. Here: the ``small`` preset with two layers and GELU (d_model 64, 4 heads of 16,
d_mlp 256, no LayerNorm), AdamW lr 1e-3, weight decay 1, 30% of pairs, full batch,
``--epochs`` (default 6,000) with a snapshot every ``epochs / 20``. The Run file
OUT/two_layer.pt is resumed if it exists (and extended when ``--epochs`` is larger), so an
interrupted run loses nothing.

    python examples/humayun_two_layer.py OUT [--epochs 6000]
"""

from dataclasses import replace
from pathlib import Path

import humayun_fig03_density
import humayun_fig04_plane
from _paths import parser


def main(argv=None):
    ap = parser(__doc__, key_freqs=False, checkpoint=False)
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--epochs", type=int, default=6000)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from grok_interp import RunSpec, Task, TrainConfig, preset, train
    from grok_interp.runs import load_run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "two_layer.pt"
    every = max(args.epochs // 20, 1)
    spec = RunSpec(task=Task(p=args.p), model=preset("small", n_layers=2, act_fn="gelu"),
                   train=TrainConfig(epochs=args.epochs, eval_every=max(every // 10, 1),
                                     snapshot_every=every))  # fmt: skip
    if path.exists():  # resume it, or extend it to --epochs
        run = load_run(path)
        if run.train.epochs < args.epochs:
            run.train = replace(run.train, epochs=args.epochs)
        if not run.done:
            train(run, out=path, progress=not args.quiet)
    else:
        train(spec, out=path, progress=not args.quiet)
    last = args.epochs
    steps = [0, last // 20, last // 4, last // 2, last]
    return [
        *humayun_fig03_density.main([str(out), "--runs", str(path), "--points", str(args.points)]),
        *humayun_fig04_plane.main([str(out), "--checkpoint", str(path), "--grid", str(args.grid),
                                   "--steps", *map(str, steps)]),
    ]


if __name__ == "__main__":
    print(*main(), sep="\n")
