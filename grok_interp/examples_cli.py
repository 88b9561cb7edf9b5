"""The example scripts' one skeleton (``examples/*.py``): a single builder of their
argument parsers, the argument groups several of them share, where the shipped runs lie,
and how a script reads a run's analyses and writes a figure with its table.

Every script is a short driver: ``args = parser(__doc__, ...).parse_args(argv)``, then the
library does the work and this module's :func:`save` writes it. Nothing heavy is imported
here at module level (only inside the functions that need it), so ``python
examples/X.py --help`` answers before torch, TransformerLens, plotly or pandas load.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from grok_interp.analyses.common import Result
    from grok_interp.runs import Run

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
MAINLINE = CHECKPOINTS / "mainline.pt"
SEEDS = [MAINLINE] + [CHECKPOINTS / f"seed{s}.pt" for s in range(1, 5)]


def parser(
    doc: str | None,
    *,
    checkpoint: bool = False,
    key_freqs: bool = False,
    quiet: bool = False,
    sweep: dict[str, int] | None = None,
) -> argparse.ArgumentParser:
    """An example's parser: the output folder ``out`` always; ``--checkpoint`` (the Run
    file or checkpoint to read, default the shipped mainline), ``--key-freqs`` (found in
    W_L unless given), ``--quiet`` (no progress bars) when asked; ``sweep``: the defaults
    of a sweep figure's ``--epochs``, ``--seeds`` and ``--p`` (keys ``epochs``, ``seeds``,
    ``p``; 113 when ``p`` is not given). The script adds its own arguments after."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out", help="folder the figures and tables are written to")
    if checkpoint:
        ap.add_argument("--checkpoint", default=str(MAINLINE), help="Run file or checkpoint")
    if key_freqs:
        ap.add_argument("--key-freqs", type=int, nargs="+", default=None)
    if quiet:
        ap.add_argument("--quiet", action="store_true", help="no progress bars")
    if sweep is not None:
        ap.add_argument("--epochs", type=int, default=sweep["epochs"], help="paper: 40000")
        ap.add_argument("--seeds", type=int, default=sweep["seeds"])
        ap.add_argument("--p", type=int, default=sweep.get("p", 113))
    return ap


def ungrokking_args(
    ap: argparse.ArgumentParser,
    sizes: Sequence[int] = (60, 120, 200, 300, 450),
    wds: Sequence[float] = (0.5, 1.0, 2.0),
    seeds: int = 2,
) -> argparse.ArgumentParser:
    """The arguments of Varma et al.'s ungrokking experiment
    (:class:`grok_interp.experiments.ungrokking.Ungrokking`), shared by its scripts."""
    ap.add_argument("--p", type=int, default=47, help="paper: 113 (S5 tasks: always 120)")
    ap.add_argument("--preset", default="small", help="paper: mainline")
    ap.add_argument("--base-frac", type=float, default=0.7)
    ap.add_argument("--base-epochs", type=int, default=3000)
    ap.add_argument("--base-lr", type=float, default=1e-3)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(sizes), help="D'")
    ap.add_argument("--weight-decays", type=float, nargs="+", default=list(wds))
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--epochs", type=int, default=6000, help="of each continuation")
    ap.add_argument("--lr", type=float, default=3e-3, help="of each continuation")
    ap.add_argument("--eval-every", type=int, default=100)
    return ap


def load_progress(path: str | Path) -> tuple[Run, list[int]]:
    """A Run with its progress measures (``grok-interp progress``), and its key frequencies."""
    from grok_interp.runs import load_run

    run = load_run(path)
    if not run.progress:
        raise SystemExit(f"{path} has no progress measures: run grok-interp progress on it")
    return run, [int(k) for k in run.progress["key_freqs"]]


def result(args: argparse.Namespace, name: str) -> Result:
    """One analysis of ``args.checkpoint``, or an exit that says why it did not run."""
    from grok_interp.report import analyze

    report = analyze(args.checkpoint, key_freqs=args.key_freqs)
    if name not in report.results:
        raise SystemExit(f"{args.checkpoint}: {report.not_run[name]}")
    return report.results[name]


def save(
    out: str | Path,
    stem: str,
    text: str,
    fig: go.Figure | None = None,
    frame: pd.DataFrame | None = None,
) -> list[Path]:
    """Write ``OUT/stem.md`` (``text``, also printed), ``OUT/stem.csv`` (``frame``, if
    given) and the figure, if given (HTML, with a PNG where kaleido is installed); the
    paths of the Markdown file and the figure."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if frame is not None:
        frame.to_csv(out / f"{stem}.csv", index=False)
    (out / f"{stem}.md").write_text(text)
    print(text)
    if fig is None:
        return [out / f"{stem}.md"]
    from grok_interp.plots import write

    return [out / f"{stem}.md", *write(fig, out, stem)]


def sweep_base(args: argparse.Namespace) -> Any:
    """The RunSpec a sweep figure of Nanda et al.'s appendix starts from (the ``sweep``
    arguments of :func:`parser`): addition mod ``--p`` on the mainline model for
    ``--epochs``, evaluated every 100 epochs, a snapshot every twentieth of the run."""
    from grok_interp import RunSpec, Task, TrainConfig, preset

    every = max(args.epochs // 20, 1)
    train = TrainConfig(epochs=args.epochs, eval_every=100, snapshot_every=every)
    return RunSpec(task=Task(p=args.p), model=preset("mainline"), train=train)


def trained(settings: dict[str, dict[str, Any]], args: argparse.Namespace,
            out: str | Path) -> dict[str, Run]:  # fmt: skip
    """One seed-0 run per named setting (a dict of TrainConfig fields) from the sweep
    figures' base (addition mod --p on the mainline model for --epochs), swept into
    ``out``/sweep (resumable); the Runs by setting name."""
    from grok_interp.sweeps import load_points, settings_sweep

    folder = Path(out) / "sweep"
    dotted = {n: {f"train.{k}": v for k, v in f.items()} for n, f in settings.items()}
    settings_sweep(dotted, sweep_base(args), folder, progress=False)
    return dict(zip(settings, load_points(folder), strict=True))


def circuit_row(label: str, run: Run) -> dict[str, str]:
    """A table row of one pair run: when it groks (99% test accuracy), its final losses,
    collapsed share and NLM alignment (``record_stability``), and the circuit of its final
    model from :func:`~grok_interp.report.analyze` (key frequencies, logit FVE, restricted
    and excluded loss, o_trig/o_mem, Zhong et al.'s verdict)."""
    from grok_interp.report import analyze
    from grok_interp.sweeps import first_epoch

    h = run.history
    rep = analyze(run)
    grok = first_epoch(h, "test_acc", lambda v: v >= 0.99)
    rows = rep.ablations.rows if rep.ablations else ()
    abl = {r.name.split(" ")[0]: r.loss["test"] for r in rows}
    eff, alg = rep.efficiency, rep.algorithm
    keys = rep.neuron_logit_map.key_freqs if rep.neuron_logit_map else ()
    return {
        "setting": label,
        "test acc >= 99% at": f"not by {h['epoch'][-1]:g}" if grok is None else f"{grok:g}",
        "final test acc": f"{h['test_acc'][-1]:.3f}",
        "final train / test loss": f"{h['train_loss'][-1]:.2g} / {h['test_loss'][-1]:.2g}",
        "collapsed (final)": f"{h['collapsed'][-1]:.2f}",
        "cos(-grad, w) (final)": f"{h['nlm_alignment'][-1]:.2f}",
        "param norm": f"{h['param_norm'][-1]:.1f}",
        "key freqs": ", ".join(map(str, keys)) or "none",
        "logit FVE": f"{rep.logit_fit.fve:.0%}" if rep.logit_fit else "-",
        "restricted / excluded loss (test)": (
            f"{abl['restricted']:.2g} / {abl['excluded']:.2g}" if abl else "-"
        ),
        "o_trig / o_mem (test)": (
            f"{eff.o_trig['test']:.3g} / {eff.o_mem['test']:.3g}" if eff else "-"
        ),
        "algorithm (sym., irr.)": (
            f"{alg.verdict} ({alg.gradient_symmetricity:.2f}, {alg.distance_irrelevance:.2f})"
            if alg
            else rep.not_run.get("algorithm", "-")
        ),
    }


def markdown_table(rows: list[dict[str, str]], path: Path) -> Path:
    """Write (and print) the rows as a Markdown table."""
    cols = list(rows[0])
    text = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    text += "".join("| " + " | ".join(r[c] for c in cols) + " |\n" for r in rows)
    print(text)
    path.write_text(text)
    return path
