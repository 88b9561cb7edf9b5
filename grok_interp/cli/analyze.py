"""grok-interp analyze (the report of a Run or checkpoint) and import (a Run file from
snapshots trained by other code)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grok_interp.cli.common import RESTRICTED, flags
from grok_interp.config import OP_NAMES, TOKEN_FORMATS


def layout_arg(text: str) -> str:
    """A token layout flag: any layout string (grok_interp.layouts), e.g. one of the
    known ones (TOKEN_FORMATS), checked here so a typo is a usage error."""
    from grok_interp.layouts import LayoutError, layout

    try:
        return layout(text).name if text not in TOKEN_FORMATS else text
    except LayoutError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    _analyze_parser(sub)
    _import_parser(sub)
    return {"analyze": _cmd_analyze, "import": _cmd_import}


def _analyze_parser(sub: Any) -> None:
    an = sub.add_parser("analyze", help="the analyses that apply to a Run or checkpoint")
    an.add_argument("run", help="Run file or foreign checkpoint")
    an.add_argument("--out", help="write the report here: index.html, report.md, report.json")
    an.add_argument("--overwrite", action="store_true", help="replace the files in --out")
    an.add_argument("--step", type=int, default=None, help="analyse this snapshot epoch")
    an.add_argument("--key-freqs", type=int, nargs="+", default=None)
    an.add_argument("--basis", default="fourier", choices=["fourier", "monomials"])
    an.add_argument(
        "--restricted",
        default="authors",
        choices=RESTRICTED,
        help="restricted-loss definition (authors' code; Section 5.1; Section 4.4)",
    )
    an.add_argument(
        "--act-fn",
        default=None,
        choices=["relu", "gelu"],
        help="a foreign checkpoint's MLP activation (assumed relu when not given)",
    )
    an.add_argument("--task", default=None, choices=list(OP_NAMES), help="default: the run's")
    an.add_argument("--p", type=int, default=None, help="default: the run's")
    an.add_argument(
        "--format", default=None, type=layout_arg, help="default: the run's"
    )
    an.add_argument(
        "--split",
        default=None,
        help="the training pairs of a model trained elsewhere: a file of pair indices a*p+b "
        "or a 0/1 mask over the p^2 pairs (.pt, .npy, .json or text); losses per pair set",
    )
    an.add_argument("--pair", type=int, nargs=2, default=None, help="the attention view's input")
    an.add_argument("--full", action="store_true", help="print every table, not only Table 5")
    an.add_argument("--no-figures", action="store_true", help="with --out: Markdown, JSON only")
    an.add_argument("--over-training", action=argparse.BooleanOptionalAction, default=None,
                    help="every paper's measures over the Run's snapshots, and the figure "
                    "with all of them on one epoch axis (seconds more); default: shown when "
                    "the Run holds snapshots, --no-over-training leaves them out")  # fmt: skip
    an.add_argument("--device", default="cpu", help="where the forwards run: cpu, cuda")


def _cmd_analyze(args: argparse.Namespace) -> int:
    from grok_interp.report import analyze, check_folder

    if args.out:  # before any work: the same check Report.save makes
        check_folder(Path(args.out), args.overwrite)
    task = _task_of(args, args.run) if args.task or args.p or args.format else None
    split = None
    if args.split:  # checked before any work, in the flag's name
        from grok_interp.snapshots import train_indices

        split = train_indices(args.split, task or _task_of(args, args.run), name="--split")
    report = analyze(
        args.run,
        task,
        step=args.step,
        key_freqs=args.key_freqs,
        basis=args.basis,
        restricted=args.restricted,
        act_fn=args.act_fn,
        device=args.device,
        split=split,
        over_training=args.over_training,
    )
    pair = None if args.pair is None else (args.pair[0], args.pair[1])
    pairs = None if report.attention is None else report.task.pairs()  # the pairs' view
    if pair and (pairs is None or not (pairs == pairs.new_tensor(pair)).all(1).any()):
        raise ValueError(f"--pair {pair[0]} {pair[1]} is not an input of {report.task.describe()}")
    print(report.to_markdown() if args.full else report.table5().to_markdown(index=False))
    for note in report.summary_notes():
        print(flags(note), file=sys.stderr)
    for why in report.not_run.values():
        print(f"not run: {flags(why)}", file=sys.stderr)
    if args.out:
        paths = report.save(args.out, figures=not args.no_figures, overwrite=True, pair=pair)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _task_of(args: argparse.Namespace, source: str) -> Any:
    """The task the flags give; what they leave out comes from the checkpoint's shapes."""
    from grok_interp.runs import load_model
    from grok_interp.tasks import Task

    found = load_model(source, act_fn=args.act_fn)[1]
    return Task(op=args.task or found.op, p=args.p or found.p,
                token_format=args.format or found.token_format)  # fmt: skip


def _import_parser(sub: Any) -> None:
    im = sub.add_parser(
        "import",
        help="a Run file from snapshots trained by other code",
        description="Build a Run file from checkpoints of a training run made with other "
        "code (TransformerLens state dicts or the Nanda et al. authors' format; a folder "
        "stands for its .pt/.pth files), so progress, analyze --step and the over-training "
        "measures apply. One file holding train_losses and test_losses gives the history.",
    )
    im.add_argument("snapshots", nargs="+", help="checkpoint files, or a folder of them")
    im.add_argument("--split", required=True, help="the training pairs: a file of indices "
                    "a*p+b or a 0/1 mask over the p^2 pairs (.pt, .npy, .json or text)")
    im.add_argument("--out", required=True, help="the Run file to write")
    im.add_argument("--epochs", type=int, nargs="+", default=None, help="one per snapshot "
                    "(default: each file's epoch entry, or the number in its name)")
    im.add_argument("--task", default=None, choices=list(OP_NAMES), help="default add")
    im.add_argument("--p", type=int, default=None, help="default: from the shapes")
    im.add_argument("--format", default=None, type=layout_arg,
                    help="default: from the shapes")  # fmt: skip
    im.add_argument("--act-fn", default=None, choices=["relu", "gelu"], help="default relu")
    im.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def _cmd_import(args: argparse.Namespace) -> int:
    from grok_interp.snapshots import run_from_files, train_indices

    if Path(args.out).exists() and not args.overwrite:
        raise ValueError(f"{args.out} exists; add --overwrite to replace it")
    first = args.snapshots[0]
    if Path(first).is_dir():
        first = str(min([*Path(first).glob("*.pt"), *Path(first).glob("*.pth")], default=first))
    task = _task_of(args, first)
    split = train_indices(args.split, task, name="--split")
    run = run_from_files(args.snapshots, task, split, epochs=args.epochs, act_fn=args.act_fn,
                         out=args.out, overwrite=True)  # fmt: skip
    snaps = sorted(run.snapshots)
    print(f"{args.out}: {task.describe()}, {len(snaps)} snapshot(s) at epochs "
          f"{', '.join(map(str, snaps[:3]))}{' ... ' + str(snaps[-1]) if len(snaps) > 3 else ''}"
          f", {len(run.train_idx)} training pairs; history: "
          f"{', '.join(k for k in run.history if k != 'epoch') or 'none'}. Next: grok-interp "
          f"progress {args.out}, or grok-interp analyze {args.out}")  # fmt: skip
    return 0
