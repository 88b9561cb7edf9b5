"""Van Rossem & Saxe (2025), streaming parity: the RNN fits the training strings with a
tree of hidden states, merges them into the two-state parity machine and then generalises
to any length; the interaction theory predicts which pairs of states merge.

Trains (or resumes) the authors' ReLU RNN at their settings (``parity_spec``: 100 units,
gain 0.1, SGD lr 0.02, batches of 128 strings of one length, 1,000 epochs; the paper's
scale is the default) and a causal transformer on the same strings (the ``small`` preset,
1 layer, the mainline's AdamW lr 1e-3, weight decay 1; ``--transformer-epochs``), then
writes into OUT:

Every figure is self-contained HTML (plotly inlined: it opens offline) with a PNG beside
it (when kaleido is installed):

- ``states.csv`` and ``states.html``: states of the extracted automaton (both rules) and
  of its minimal equivalent, mergers and splits, beside the train and test loss;
- ``automaton_<epoch>_extracted.html`` and ``_minimal.html`` at ``--steps`` (default:
  start, the most states, the end): the extracted automaton (when small enough to draw)
  and the minimal one;
- ``lengths.csv`` / ``lengths.html``: the last position's MSE and the accuracies on the
  test strings of every length at every snapshot (the authors' long-sequence plot);
- ``interaction.csv`` / ``interaction.html``: measured squared distances of
  ``--pairs`` pairs of each kind and the theory's prediction, over training;
- ``parity.md``: every table, with the length generalisation of both models.

``--run`` names the RNN's Run file (default OUT/rnn.pt; resumed if it exists and
extended when ``--epochs`` is larger); the shipped ``checkpoints/parity_rnn.pt`` is made by
``python examples/vanrossem_parity.py out/parity --run checkpoints/parity_rnn.pt
--snapshot-every 25 --transformer-epochs 0``.

    python examples/vanrossem_parity.py OUT [--epochs 1000] [--transformer-epochs 300]
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--run", default=None, help="the RNN's Run file (default OUT/rnn.pt)")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--snapshot-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transformer-epochs", type=int, default=300)
    ap.add_argument("--steps", type=int, nargs="*", default=None)
    ap.add_argument("--pairs", type=int, default=50)
    args = ap.parse_args(argv)
    import pandas as pd

    from grok_interp import preset
    from grok_interp.analyses.automaton import (
        StatesResult,
        automaton_figure,
        automaton_over_training,
        extract_automaton,
        snapshot_model,
    )
    from grok_interp.analyses.interaction import InteractionResult, interaction_over_training
    from grok_interp.analyses.lengths import (
        length_generalisation,
        lengths_figure,
        lengths_over_training,
    )
    from grok_interp.parity import parity_spec
    from grok_interp.plots import write
    from grok_interp.training import train_or_resume

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    every = dict(snapshot_every=args.snapshot_every, eval_every=args.snapshot_every)
    rnn = train_or_resume(parity_spec(seed=args.seed, epochs=args.epochs, **every),
                          Path(args.run or out / "rnn.pt"), progress=not args.quiet)
    frames = {m: automaton_over_training(rnn, method=m) for m in ("leader", "scale-free")}
    states = StatesResult(frames=frames)
    written = [out / "states.csv"]
    pd.concat([f.assign(rule=m) for m, f in frames.items()]).to_csv(written[0], index=False)
    written += write(states.figure(), out, "states")
    peak = int(frames["scale-free"]["epoch"][frames["scale-free"]["n_states"].idxmax()])
    steps = args.steps or sorted({0, peak, rnn.epoch})
    for s in steps:
        model = snapshot_model(rnn, s)
        res = extract_automaton(model, rnn.task, method="scale-free")
        for kind, auto in (("extracted", res.automaton), ("minimal", res.minimal)):
            title = f"epoch {s}: {kind}, {auto.n_states} states"
            written += write(automaton_figure(auto, title), out, f"automaton_{s}_{kind}")
    lengths_frame = lengths_over_training(rnn)
    lengths_frame.to_csv(out / "lengths.csv", index=False)
    written += [out / "lengths.csv",
                *write(lengths_figure(lengths_frame, "RNN: test lengths over training"), out,
                       "lengths")]  # fmt: skip
    inter = InteractionResult(frame=interaction_over_training(rnn, n_pairs=args.pairs))
    inter.frame.to_csv(out / "interaction.csv", index=False)
    written += [out / "interaction.csv", *write(inter.figure(), out, "interaction")]
    lengths = {"RNN": length_generalisation(snapshot_model(rnn), rnn.task, rnn.seed)}
    if args.transformer_epochs:
        spec = parity_spec(model=preset("small", n_layers=1), seed=args.seed,
                           epochs=args.transformer_epochs, sgd=False, lr=1e-3,
                           weight_decay=1.0, warmup=10, **every)  # fmt: skip
        tf = train_or_resume(spec, out / "transformer.pt", progress=not args.quiet)
        lengths["transformer"] = length_generalisation(snapshot_model(tf), tf.task, tf.seed)
        final = {k: tf.history[k][-1] for k in ("train_loss", "train_acc", "test_acc")}
    md = ["# Streaming parity (van Rossem & Saxe 2025)", "", states.to_markdown(),
          inter.to_markdown(), "### Length generalisation", ""]  # fmt: skip
    for name, res in lengths.items():
        md += [f"{name}:", "", res.table().to_markdown(index=False), ""]
    if args.transformer_epochs:
        md += [f"transformer after {tf.epoch} epochs: " + ", ".join(
            f"{k} {v:.4g}" for k, v in final.items()), ""]  # fmt: skip
    (out / "parity.md").write_text("\n".join(md) + "\n")
    return [*written, out / "parity.md"]


if __name__ == "__main__":
    print(*main(), sep="\n")
