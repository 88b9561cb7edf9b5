"""Where the example scripts find the shipped runs."""

from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
MAINLINE = CHECKPOINTS / "mainline.pt"
SEEDS = [MAINLINE] + [CHECKPOINTS / f"seed{s}.pt" for s in range(1, 5)]


def load_progress(path):
    """A Run with its progress measures (``grok-interp progress``), and its key frequencies."""
    from grok_interp.runs import load_run

    run = load_run(path)
    if not run.progress:
        raise SystemExit(f"{path} has no progress measures: run grok-interp progress on it")
    return run, [int(k) for k in run.progress["key_freqs"]]


def parser(doc, key_freqs=True, checkpoint=True):
    """The figure scripts' common arguments: the output folder, the model to read
    (``--checkpoint``, every script alike) and the key frequencies (found in W_L unless
    given); scripts that train their own runs take the folder only."""
    import argparse

    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out")
    if checkpoint:
        ap.add_argument("--checkpoint", default=str(MAINLINE), help="Run file or checkpoint")
    if key_freqs:
        ap.add_argument("--key-freqs", type=int, nargs="+", default=None)
    return ap


def result(args, name):
    """One analysis of ``args.checkpoint``, or an exit that says why it did not run."""
    from grok_interp.report import analyze

    report = analyze(args.checkpoint, key_freqs=args.key_freqs)
    if name not in report.results:
        raise SystemExit(f"{args.checkpoint}: {report.not_run[name]}")
    return report.results[name]
