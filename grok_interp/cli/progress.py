"""grok-interp progress: the progress measures over a run's snapshots, and its phases."""

from __future__ import annotations

import argparse
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grok_interp.cli.common import RESTRICTED, flags, tune_malloc


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    pr = sub.add_parser("progress", help="progress measures over a run's snapshots, and phases")
    pr.add_argument("run")
    pr.add_argument("--out", help="write the run with its measures here (default RUN-progress.pt)")
    pr.add_argument("--in-place", action="store_true", help="rewrite RUN itself")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    pr.add_argument("--keep-every", type=int, default=None, help="then keep every Nth epoch")
    pr.add_argument("--sparse-after", type=int, default=None, help="past this epoch, keep ...")
    pr.add_argument("--sparse-every", type=int, default=None, help="... only every Nth epoch")
    pr.add_argument("--key-freqs", type=int, nargs="+", default=None)
    pr.add_argument("--chunk", type=int, default=4, help="snapshots per batched forward")
    pr.add_argument("--restricted", default="authors", choices=RESTRICTED)
    pr.add_argument("--device", default="cpu", help="where the forwards run: cpu, cuda")
    return {"progress": _cmd_progress}


def _cmd_progress(args: argparse.Namespace) -> int:
    from grok_interp.analyses.progress import phases, progress_measures
    from grok_interp.runs import load_run

    tune_malloc()
    src = Path(args.run)
    out = src if args.in_place else Path(args.out or src.with_name(f"{src.stem}-progress.pt"))
    if out.exists() and not (args.in_place or args.overwrite):
        raise ValueError(f"{out} exists; add --overwrite to replace it (or --in-place)")
    run = load_run(src)
    frame = run.family.progress(run)
    if frame is not None:  # another family's own measures over training
        return _save_family_progress(run, frame, out, args)
    with warnings.catch_warnings():  # its note is printed below, in the CLI's flags
        warnings.filterwarnings("ignore", message="no sparse structure")
        res = progress_measures(
            run, key_freqs=args.key_freqs, chunk=args.chunk, device=args.device,
            restricted=args.restricted,
        )  # fmt: skip
    run.progress = {k: [float(v) for v in res.frame[k]] for k in res.frame.columns}
    run.progress["key_freqs"] = [float(k) for k in res.key_freqs]
    bounds = phases(res.frame)
    run.progress["phases"] = [float(b) for b in bounds] if bounds else []
    _thin_and_save(run, out, args)
    print(_progress_text(res, bounds))
    print(f"wrote {out}, {len(run.snapshots)} snapshots kept")
    return 0


def _thin_and_save(run: Any, out: Path, args: argparse.Namespace) -> None:
    from grok_interp.runs import save_run

    if args.keep_every:

        def kept(e: int) -> bool:
            every = args.sparse_every if args.sparse_after and e > args.sparse_after else None
            return e % (every or args.keep_every) == 0 or e == run.epoch

        run.snapshots = {e: w for e, w in run.snapshots.items() if kept(e)}
    save_run(run, out)


def _save_family_progress(run: Any, frame: Any, out: Path, args: argparse.Namespace) -> int:
    """A family's own measures (``Family.progress``): printed, and stored in the Run's
    ``progress`` as one list per numeric column."""
    if args.key_freqs:
        raise ValueError("--key-freqs applies to runs of pairs; this run is on "
                         f"{run.task.describe()}")  # fmt: skip
    numeric = frame.select_dtypes(["number", "bool"])
    run.progress = {k: [float(v) for v in numeric[k]] for k in numeric.columns}
    _thin_and_save(run, out, args)
    print(f"measured at {frame['epoch'].nunique()} snapshots ({run.family.title}):")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {out}, {len(run.snapshots)} snapshots kept")
    return 0


def _progress_text(res: Any, bounds: Any) -> str:
    """What ``progress`` measured: the measures and epochs, where the key frequencies came
    from (the note progress_measures makes, in the CLI's flags), and the phases."""
    epochs = res.frame["epoch"]
    names = dict.fromkeys(re.sub(r"_\d+$", "_k", c) for c in res.frame.columns if c != "epoch")
    lines = [
        f"measured at {len(epochs)} snapshots (epochs {epochs.iloc[0]:.0f} to "
        f"{epochs.iloc[-1]:.0f}): {', '.join(names)} (_k: per key frequency k)",
        flags(res.keys_note),
    ]
    lines.append(
        "phases: memorisation ends at epoch {}, circuit formation until {}, cleanup until {} "
        "(the paper's mainline: 1400, 9400, 14000)".format(*bounds)
        if bounds
        else "phases: none (the test loss never falls tenfold: the run has not grokked)"
    )
    return "\n".join(lines)
