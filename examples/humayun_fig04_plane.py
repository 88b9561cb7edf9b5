"""Humayun, Balestriero and Baraniuk, Figures 2 and 4: circuit formation on the plane
through three training inputs, per MLP layer, at chosen snapshots.

The plane passes through the operand embeddings of three training inputs (the paper's
'72+65', '28+93', '61+66' where they are training pairs of the run, otherwise seeded
training pairs); a ``--grid`` x ``--grid`` lattice of fixed half-width (1.5 times the
anchors' largest distance from their centroid at the last snapshot, the same at every
snapshot, as the paper fixes the area); per lattice point the number of neurons whose
pre-activation changes sign to a neighbouring point, so every neuron's zero-level set shows
as a line and their density as the colour
(:func:`grok_interp.analyses.circuit_density.plane`). The paper's snapshots are 10, 12k,
30k, 108k and 498k steps of a 5e5-step run; the default takes the nearest snapshots of
the run to 0, 1k (memorised), 8k, 12k (cleanup) and its end. Prints, per snapshot and
layer, the mean density within 10% of the extent of each anchor and over the whole plane.

Default (2-core CPU, about 20 s): the shipped mainline, grid 120.

    python examples/humayun_fig04_plane.py OUT [--checkpoint PATH] [--steps 0 1000 ...]
"""

from pathlib import Path

from _paths import parser

PAPER_ANCHORS = ((72, 65), (28, 93), (61, 66))


def anchors_of(run, seed=0):
    """The paper's three inputs if they are training pairs of ``run``, else seeded ones."""
    import torch

    pairs = run.task.pairs()
    train = {tuple(p) for p in pairs[run.train_idx].tolist()}
    if all(a in train for a in PAPER_ANCHORS):
        return [list(a) for a in PAPER_ANCHORS]
    gen = torch.Generator().manual_seed(seed)
    pick = run.train_idx[torch.randperm(len(run.train_idx), generator=gen)[:3]]
    return pairs[pick].tolist()


def nearest_snapshots(run, wanted):
    have = sorted(run.snapshots)
    return sorted({min(have, key=lambda s: abs(s - w)) for w in wanted})


def main(argv=None):
    ap = parser(__doc__, key_freqs=False)
    ap.add_argument("--steps", type=int, nargs="+", default=None)
    ap.add_argument("--grid", type=int, default=120)
    ap.add_argument("--positions", choices=["all", "final"], default="all")
    args = ap.parse_args(argv)
    import pandas as pd
    import torch

    from grok_interp.analyses.circuit_density import (
        operand_embeddings,
        plane,
        plane_extent,
        plane_figure,
    )
    from grok_interp.plots import write
    from grok_interp.runs import load_run, model_from_run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(args.checkpoint)
    last = max(run.snapshots)
    steps = nearest_snapshots(run, args.steps or [0, 1000, 8000, 12000, last])
    pairs = anchors_of(run)
    labels = [f"{a}+{b}" for a, b in pairs]
    final = model_from_run(run, last)
    extent = plane_extent(operand_embeddings(final, run.task, torch.tensor(pairs)))
    planes, rows = [], []
    for step in steps:
        model = model_from_run(run, step)
        pl = plane(model, run.task, operand_embeddings(model, run.task, torch.tensor(pairs)),
                   grid=args.grid, extent=extent, positions=args.positions,
                       labels=labels)  # fmt: skip
        planes.append((f"epoch {step}", pl))
        t = torch.linspace(-extent, extent, args.grid)
        ss, tt = torch.meshgrid(t, t, indexing="ij")
        for layer, counts in enumerate(pl.counts):
            near = torch.zeros_like(counts, dtype=torch.bool)
            for x, y in pl.anchors.tolist():
                near |= ((ss - x) ** 2 + (tt - y) ** 2).sqrt() < 0.1 * extent
            rows.append({"epoch": step, "layer": layer,
                         "near anchors": float(counts[near].double().mean()),
                         "whole plane": float(counts.double().mean())})  # fmt: skip
    name = Path(args.checkpoint).stem
    fig = plane_figure(planes, title=f"{name}: circuit formation on the plane through "
                       f"{', '.join(labels)} (Humayun et al., Figures 2 and 4)")  # fmt: skip
    table = pd.DataFrame(rows)
    text = (f"## {name}: neurons changing sign per lattice point, plane through "
            f"{', '.join(labels)} (half-width {extent:.3f})\n\n"
            + table.to_markdown(index=False, floatfmt=".2f") + "\n")  # fmt: skip
    (out / f"humayun_fig04_plane_{name}.md").write_text(text)
    print(text)
    return [out / f"humayun_fig04_plane_{name}.md", *write(fig, out, f"humayun_fig04_plane_{name}")]


if __name__ == "__main__":
    print(*main(), sep="\n")
