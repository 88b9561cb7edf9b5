"""What the commands share: errors in the CLI's words, the malloc tuning of the
training commands, FIELD=VALUE parsing, the metrics line."""

from __future__ import annotations

import argparse
import ctypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grok_interp.runs import Run

RESTRICTED = ["authors", "blocks2", "blocks3"]  # analyses.ablations.Restricted
# Python's words in messages -> the CLI's flags.
FLAGS = {
    "pass overwrite=True": "add --overwrite",
    "give the task": "give --task, --p and --format",
    "load_model()": "grok-interp analyze",
}
ARGUMENTS = ("key_freqs", "act_fn", "frac_train", "n_train", "snapshot_every", "eval_every")


def flags(msg: str) -> str:
    for word, flag in FLAGS.items():
        msg = msg.replace(word, flag)
    for name in ARGUMENTS:
        msg = re.sub(rf"(?<![\w.]){name}\b=?", "--" + name.replace("_", "-"), msg)
    return msg


def message(cmd: str, error: Exception) -> str:
    """An error in the user's terms: the CLI's flags for Python's arguments (except in a
    sweep, whose fields are the dotted names the user wrote), without the terminal escape
    codes that some torch messages carry."""
    msg = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    return msg if cmd == "sweep" else flags(msg)


def preflight(args: argparse.Namespace) -> None:
    """The checks of the files and folders on the command line that need no torch, made
    before a command imports it (10 to 20 s): each raises the error, in the same words,
    that the command itself would raise later."""
    cmd = args.cmd
    if cmd in ("analyze", "info", "progress"):
        checkpoint(args.run)
    if cmd == "import":
        if Path(args.out).exists() and not args.overwrite:
            raise ValueError(f"{args.out} exists; add --overwrite to replace it")
        for path in args.snapshots:
            if not Path(path).exists():
                raise ValueError(f"no such file: {path}")
    if getattr(args, "split", None) and not Path(args.split).exists():
        raise ValueError(f"--split: no such file: {args.split}")
    if cmd == "analyze" and args.out:
        _report_folder(Path(args.out), args.overwrite)
    if cmd == "progress":
        src = Path(args.run)
        out = src if args.in_place else Path(args.out or src.with_name(f"{src.stem}-progress.pt"))
        if out.exists() and not (args.in_place or args.overwrite):
            raise ValueError(f"{out} exists; add --overwrite to replace it (or --in-place)")
    if cmd == "train" and ("{seed}" in args.out or len(args.seed) == 1):
        _train_outs(args)  # (several seeds and one file: the command's own error)


def checkpoint(path: str) -> None:
    """A checkpoint's path as :func:`grok_interp.runs.read_checkpoint` checks it: a file,
    or a folder holding exactly one ``.pt``/``.pth`` file."""
    p = Path(path)
    if p.is_dir() and len([*p.glob("*.pt"), *p.glob("*.pth")]) != 1:
        raise ValueError(f"{p} is a folder; give the checkpoint file inside it")
    if not p.exists():
        raise ValueError(f"no such file: {p}")


def _report_folder(out: Path, overwrite: bool) -> None:
    """:func:`grok_interp.reporting.check_folder` in the CLI's words."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is a folder with files in it; add --overwrite to "
                              "replace its report files, or give another folder")  # fmt: skip


def _train_outs(args: argparse.Namespace) -> None:
    outs = [args.out.format(seed=s) for s in args.seed]
    if args.resume:
        for o in outs:
            checkpoint(o)
        return
    taken = [o for o in outs if Path(o).exists()]
    if taken and not args.overwrite:
        raise ValueError(f"{taken[0]} exists; add --resume to continue it or --overwrite to "
                         "replace it")  # fmt: skip


def tune_malloc() -> None:
    """Keep freed multi-MB blocks in the heap (glibc): training re-allocates the same
    activations every step, and mmap-ing each afresh costs page faults (~20% of a CPU
    step). The mmap threshold is raised to glibc's 32 MB cap (the mainline's activations
    are ~8 MB) rather than mmap switched off, which would keep every freed block and
    push peak memory past 1 GB. Process-wide, so only the CLI does it."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def value(text: str) -> Any:
    """A grid value from the command line: int, float, None, true/false, or the text."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"{flag} takes FIELD=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


def metrics_line(run: Run) -> str:
    m = run.final_metrics()
    keys = ("train_loss", "test_loss", "train_acc", "test_acc")
    return f"epoch {run.epoch}, " + ", ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
