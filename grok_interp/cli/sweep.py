"""grok-interp sweep (a grid of runs into a folder, with its results table) and bench
(speed and memory, measured side by side)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grok_interp.cli.common import pairs, tune_malloc, value
from grok_interp.config import preset


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    _sweep_parser(sub)
    _bench_parser(sub)
    return {"sweep": _cmd_sweep, "bench": _cmd_bench}


def _sweep_parser(sub: Any) -> None:
    sw = sub.add_parser(
        "sweep",
        help="train a grid of runs into a folder, with a results table",
        description="Train every point of a grid (the product of --set values, or a TOML "
        "file's [grid] and [[points]] on its [base]) into OUT/runs/NNNN.pt, with "
        "OUT/results.csv and results.json, and prints the fields that vary with each "
        "point's results. Started again on the same folder it skips finished points and "
        "resumes interrupted ones; Ctrl-C saves and says how to continue. Fields: seed, "
        "task.FIELD, model.FIELD, train.FIELD.",
    )
    sw.add_argument("--out", required=True, help="the sweep's folder")
    sw.add_argument("--set", action="append", default=[], help="FIELD=V1,V2,... (repeatable)")
    sw.add_argument("--toml", default=None, help="a TOML file with [base], [grid] and [[points]]")
    sw.add_argument("--base", nargs="+", default=[],
                    help="FIELD=VALUE for every point (over the file's [base])")
    sw.add_argument("--stack", type=int, default=None, help="models per batched forward")
    sw.add_argument("--executor", default="local", choices=["local", "ray"])
    sw.add_argument("--ray-address", default=None, help="a running Ray cluster (ray start)")
    sw.add_argument("--device", default="cpu")
    sw.add_argument("--quiet", action="store_true")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from grok_interp.sweeps import Grid, apply, grid_from_toml, results_summary, run_sweep
    from grok_interp.training import RunSpec

    tune_malloc()
    given = {k: value(v) for k, v in pairs(args.base, "--base").items()}
    if args.toml:  # --base on top of the file's [base]
        grid = grid_from_toml(args.toml)
        grid = dataclasses.replace(grid, base=apply(grid.base, given))
    else:
        values = {
            k: [value(x) for x in v.split(",")] for k, v in pairs(args.set, "--set").items()
        }
        grid = Grid(values=values, base=apply(RunSpec(), given))
    try:
        table = run_sweep(
            grid,
            args.out,
            executor=args.executor,
            ray_address=args.ray_address,
            device=args.device,
            stack=args.stack,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print(_sweep_interrupted(args, len(grid.specs())), file=sys.stderr)
        return 130
    print(results_summary(table))
    print(f"{args.out}: {len(table)} runs; every column in results.csv, results.json")
    return 0


def _sweep_interrupted(args: argparse.Namespace, n: int) -> str:
    """What a Ctrl-C left in the sweep's folder, and the command that continues it."""
    from grok_interp.runs import load_run
    from grok_interp.sweeps import point_paths

    runs = [load_run(p) for p in point_paths(args.out, n) if p.exists()]
    done = sum(r.done for r in runs)
    part = [str(r.epoch) for r in runs if not r.done]
    command = ["grok-interp", "sweep", "--out", args.out]
    command += ["--toml", args.toml] if args.toml else []
    command += [w for s in args.set for w in ("--set", s)]
    command += ["--base", *args.base] if args.base else []
    for flag in ("stack", "executor", "ray_address", "device"):
        if getattr(args, flag) not in (None, "local", "cpu"):
            command += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    command += ["--quiet"] if args.quiet else []
    saved = f"{len(part)} saved part-way (at epoch {', '.join(part)})" if part else ""
    return (
        f"interrupted: {done} of {n} points finished, {saved}{', ' if saved else ''}"
        f"{n - len(runs)} not started, in {args.out}; continue with {shlex.join(command)}"
    )


def _bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="speed and memory ratios, measured side by side")
    bench.add_argument("--device", default="cpu")
    bench.add_argument("--repeats", type=int, default=10)
    bench.add_argument("--models", type=int, default=5)
    bench.add_argument("--rss-epochs", type=int, default=300)
    bench.add_argument("--checkpoint", default="checkpoints/mainline.pt", help="for analyze()")
    bench.add_argument("--sweep-points", type=int, default=12, help="0 skips the sweep figures")
    bench.add_argument("--parity-checkpoint", default="checkpoints/parity_rnn.pt",
                       help="streaming-parity Run for the speed of extraction ('' skips parity)")


def _cmd_bench(args: argparse.Namespace) -> int:
    from grok_interp.bench import format_bench, run_bench
    from grok_interp.models import build_model
    from grok_interp.report import analyze
    from grok_interp.tasks import Task

    tune_malloc()
    shipped = Path(args.checkpoint)
    source = shipped if shipped.exists() else build_model(preset("mainline"), Task())
    res = run_bench(
        args.device,
        repeats=args.repeats,
        n_models=args.models,
        rss_epochs=args.rss_epochs,
        analyze_fn=lambda: analyze(source),
        sweep_points=args.sweep_points,
        parity_checkpoint=args.parity_checkpoint or None,
    )
    print(format_bench(res))
    return 0
