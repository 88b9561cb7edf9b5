"""The grok-interp command: train, info, analyze, import, progress, sweep, bench, demo.

Nothing is replaced without being asked: train refuses an existing --out unless --resume
or --overwrite; progress writes a new file unless --in-place; analyze refuses a
non-empty --out folder unless --overwrite. Ctrl-C during training saves every run at the
epoch it reached and says how to continue. Heavy modules (torch, TransformerLens) are
imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from grok_interp.cli import analyze, info, progress, sweep, train
from grok_interp.cli.common import message, preflight

# Each module adds its commands' parsers and names the function that runs each, in the
# order of the help text: train; info, demo; analyze, import; progress; sweep, bench.
MODULES = (train, info, analyze, progress, sweep)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grok-interp", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    commands: dict[str, Callable[[argparse.Namespace], int]] = {}
    for module in MODULES:
        commands |= module.add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        preflight(args)  # the files and folders named, before torch loads
        return commands[args.cmd](args)
    except (ValueError, FileExistsError) as e:  # CheckpointError, TaskError, AnalysisError too
        print(f"grok-interp {args.cmd}: error: {message(args.cmd, e)}", file=sys.stderr)
        return 2
