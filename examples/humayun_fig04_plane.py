"""Humayun, Balestriero and Baraniuk, Figures 2 and 4: circuit formation on the plane
through three training inputs, per MLP layer, at chosen snapshots.

The plane passes through the operand embeddings of three training inputs (the paper's
'72+65', '28+93', '61+66' where they are training pairs of the run, otherwise seeded
training pairs); a ``--grid`` x ``--grid`` lattice of fixed half-width (1.5 times the
anchors' largest distance from their centroid at the last snapshot, the same at every
snapshot, as the paper fixes the area). At each lattice point the paper's measure
(Section 3, ``--measure density``): the circuit density of the point's neighbourhood, the
neurons whose pre-activation changes sign within the cross-polytope of radius ``--r`` =
0.05 on ``--n`` = 50 directions around it, in the whole input space; neurons counted where
their output reaches the logits (``--positions output``). ``--measure sign_changes``
draws instead the neurons whose sign differs from a neighbouring lattice point's, each
zero-level set's trace on the plane as a line
(:func:`grok_interp.analyses.circuit_density.plane`). The paper's snapshots are 10, 12k,
30k, 108k and 498k steps of a 5e5-step run; the default takes the nearest snapshots of
the run to 0, 1k (memorised), 8k, 12k (cleanup) and its end. Prints, per snapshot and
layer, the measure at the three inputs themselves, its mean within 10% of the half-width
of each of them and its mean over the whole plane.

Default (2-core CPU, about 30 s when the machine is otherwise idle): the shipped mainline,
grid 60 (3,600 neighbourhoods of 100 vertices per snapshot).

    python examples/humayun_fig04_plane.py OUT [--checkpoint PATH] [--steps 0 1000 ...]
        [--measure density|sign_changes] [--positions output|all|final]
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


def summary(pl, extent, grid, at_inputs):
    """Per layer of ``pl``: the measure at the inputs, near them and over the plane."""
    import torch

    t = torch.linspace(-extent, extent, grid)
    ss, tt = torch.meshgrid(t, t, indexing="ij")
    near = torch.zeros(grid, grid, dtype=torch.bool)
    for x, y in pl.anchors.tolist():
        near |= ((ss - x) ** 2 + (tt - y) ** 2).sqrt() < 0.1 * extent
    for layer, counts in enumerate(pl.counts):
        yield {"layer": layer, "at the inputs": at_inputs[layer],
               "near the inputs": float(counts[near].double().mean()),
               "whole plane": float(counts.double().mean())}  # fmt: skip


def main(argv=None):
    ap = parser(__doc__, key_freqs=False)
    ap.add_argument("--steps", type=int, nargs="+", default=None)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--measure", choices=["density", "sign_changes"], default="density")
    ap.add_argument("--positions", choices=["output", "all", "final"], default="output")
    ap.add_argument("--r", type=float, default=0.05)
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args(argv)
    import pandas as pd
    import torch

    from grok_interp.analyses.circuit_density import (
        density,
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
        emb = operand_embeddings(model, run.task, torch.tensor(pairs))
        pl = plane(model, run.task, emb, grid=args.grid, extent=extent,
                   positions=args.positions, measure=args.measure, r=args.r, n=args.n,
                   labels=labels)  # fmt: skip
        planes.append((f"epoch {step}", pl))
        at_inputs = density(model, run.task, emb, r=args.r, n=args.n,
                            positions=args.positions)[0].double().mean(0).tolist()  # fmt: skip
        rows += [{"epoch": step, **row} for row in summary(pl, extent, args.grid, at_inputs)]
    name = Path(args.checkpoint).stem
    what = {"density": "circuit density (neurons cut per neighbourhood of radius "
                       f"{args.r}, {2 * args.n} vertices)",
            "sign_changes": "neurons changing sign to a neighbouring lattice point"}
    fig = plane_figure(planes, title=f"{name}: {what[args.measure]} on the plane through "
                       f"{', '.join(labels)} (Humayun et al., Figures 2 and 4)")  # fmt: skip
    table = pd.DataFrame(rows)
    text = (f"## {name}: {what[args.measure]} per lattice point, plane through "
            f"{', '.join(labels)} (half-width {extent:.3f}, grid {args.grid}, positions "
            f"read: {args.positions}; 'at the inputs': the circuit density of the three "
            "inputs' own neighbourhoods)\n\n"
            + table.to_markdown(index=False, floatfmt=".2f") + "\n")  # fmt: skip
    (out / f"humayun_fig04_plane_{name}.md").write_text(text)
    print(text)
    return [out / f"humayun_fig04_plane_{name}.md", *write(fig, out, f"humayun_fig04_plane_{name}")]


if __name__ == "__main__":
    print(*main(), sep="\n")
