"""Van Rossem & Saxe (2025), streaming parity: the RNN fits the training strings with a
tree of hidden states, merges them into the two-state parity machine and then generalises
to any length; the interaction theory predicts which pairs of states merge.

Trains (or resumes) the authors' ReLU RNN at their settings (``parity_spec``: 100 units,
gain 0.1, SGD lr 0.02, batches of 128 strings of one length, 1,000 epochs; the paper's
scale is the default) and a causal transformer on the same strings (the ``small`` preset,
1 layer, the mainline's AdamW lr 1e-3, weight decay 1; ``--transformer-epochs``), then
writes into OUT:

- ``states.csv`` and ``states.html``: states of the extracted automaton (both rules) and
  of its minimal equivalent, mergers and splits, beside the train and test loss;
- ``automaton_<epoch>.html`` at ``--steps`` (default: start, the most states, the end):
  the extracted automaton (when small enough to draw) and the minimal one;
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

from dataclasses import replace
from pathlib import Path

from _paths import parser


def trained(spec, path, quiet):
    """The Run at ``path``, resumed or extended to the spec's epochs, or trained anew."""
    from grok_interp import train
    from grok_interp.runs import load_run

    if path.exists():
        run = load_run(path)
        if run.train.epochs < spec.train.epochs:
            run.train = replace(run.train, epochs=spec.train.epochs)
        if not run.done:
            train(run, out=path, progress=not quiet)
        return run
    return train(spec, out=path, progress=not quiet)


def main(argv=None):
    ap = parser(__doc__, key_freqs=False, checkpoint=False)
    ap.add_argument("--run", default=None, help="the RNN's Run file (default OUT/rnn.pt)")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--snapshot-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transformer-epochs", type=int, default=300)
    ap.add_argument("--steps", type=int, nargs="*", default=None)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--quiet", action="store_true")
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

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    every = dict(snapshot_every=args.snapshot_every, eval_every=args.snapshot_every)
    rnn = trained(parity_spec(seed=args.seed, epochs=args.epochs, **every),
                  Path(args.run or out / "rnn.pt"), args.quiet)  # fmt: skip
    frames = {m: automaton_over_training(rnn, method=m) for m in ("leader", "scale-free")}
    states = StatesResult(frames=frames)
    written = [out / "states.csv", out / "states.html"]
    pd.concat([f.assign(rule=m) for m, f in frames.items()]).to_csv(written[0], index=False)
    states.figure().write_html(written[1], include_plotlyjs="cdn")
    peak = int(frames["scale-free"]["epoch"][frames["scale-free"]["n_states"].idxmax()])
    steps = args.steps or sorted({0, peak, rnn.epoch})
    for s in steps:
        model = snapshot_model(rnn, s)
        res = extract_automaton(model, rnn.task, method="scale-free")
        path = out / f"automaton_{s}.html"
        with open(path, "w") as fh:
            fh.write(f"<h3>epoch {s}: {' '.join(res.notes())}</h3>")
            for fig in (automaton_figure(res.automaton, f"epoch {s}: extracted"),
                        automaton_figure(res.minimal, f"epoch {s}: minimal")):  # fmt: skip
                fh.write(fig.to_html(full_html=False, include_plotlyjs="cdn"))
        written.append(path)
    lengths_frame = lengths_over_training(rnn)
    lengths_frame.to_csv(out / "lengths.csv", index=False)
    lengths_figure(lengths_frame, "RNN: test lengths over training").write_html(
        out / "lengths.html", include_plotlyjs="cdn")
    written += [out / "lengths.csv", out / "lengths.html"]
    inter = InteractionResult(frame=interaction_over_training(rnn, n_pairs=args.pairs))
    inter.frame.to_csv(out / "interaction.csv", index=False)
    inter.figure().write_html(out / "interaction.html", include_plotlyjs="cdn")
    written += [out / "interaction.csv", out / "interaction.html"]
    lengths = {"RNN": length_generalisation(snapshot_model(rnn), rnn.task, rnn.seed)}
    if args.transformer_epochs:
        spec = parity_spec(model=preset("small", n_layers=1), seed=args.seed,
                           epochs=args.transformer_epochs, sgd=False, lr=1e-3,
                           weight_decay=1.0, warmup=10, **every)  # fmt: skip
        tf = trained(spec, out / "transformer.pt", args.quiet)
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
