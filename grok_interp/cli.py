"""The grok-interp command: train, info, analyze, import, progress, sweep, bench, demo.

Nothing is replaced without being asked: train refuses an existing --out unless --resume
or --overwrite; progress writes a new file unless --in-place; analyze refuses a
non-empty --out folder unless --overwrite. Ctrl-C during training saves every run at the
epoch it reached and says how to continue. Heavy modules (torch, TransformerLens) are
imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grok_interp.config import OP_NAMES, PRESETS, TOKEN_FORMATS, ModelPreset, TrainConfig, preset
from grok_interp.families import registry

if TYPE_CHECKING:
    from grok_interp.runs import Run, RunSpec

SKIP = {"frozen_biases", "betas", "normalization"}
# What may change when a run resumes: its length, its evaluation and snapshot spacing
# (and, not being part of a run, --device, --step, --save-every, --quiet).
RESUMABLE = {"train.epochs", "train.eval_every", "train.snapshot_every"}
# The pair flags' fields of a run (the other flags are model.FIELD and train.FIELD).
PAIR_FLAGS = {"task": "task.op", "p": "task.p", "format": "task.token_format"}
RESTRICTED = ["authors", "blocks2", "blocks3"]  # analyses.ablations.Restricted
# Python's words in messages -> the CLI's flags.
FLAGS = {
    "pass overwrite=True": "add --overwrite",
    "give the task": "give --task, --p and --format",
    "load_model()": "grok-interp analyze",
}
ARGUMENTS = ("key_freqs", "act_fn", "frac_train", "n_train", "snapshot_every", "eval_every")


def _flags(msg: str) -> str:
    for word, flag in FLAGS.items():
        msg = msg.replace(word, flag)
    for name in ARGUMENTS:
        msg = re.sub(rf"(?<![\w.]){name}\b=?", "--" + name.replace("_", "-"), msg)
    return msg


def _message(cmd: str, error: Exception) -> str:
    """An error in the user's terms: the CLI's flags for Python's arguments (except in a
    sweep, whose fields are the dotted names the user wrote), without the terminal escape
    codes that some torch messages carry."""
    msg = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    return msg if cmd == "sweep" else _flags(msg)


def _tune_malloc() -> None:
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


def _add_fields(parser: argparse.ArgumentParser, cls: type, defaults: Any) -> None:
    for f in dataclasses.fields(cls):
        if f.name in SKIP:
            continue
        default = getattr(defaults, f.name)
        kind = {bool: int, type(None): float if f.name == "frac_train" else int}.get(
            type(default), type(default)
        )
        if cls is ModelPreset:
            values = ", ".join(f"{n} {getattr(p, f.name)}" for n, p in PRESETS.items())
            text = f"default: the preset's ({values})"
        else:
            text = f"default {'0.3 (unless --n-train)' if f.name == 'frac_train' else default}"
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=None, help=text)


def _overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - SKIP
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def _train_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train models of any experiment family into Run files",
        description="Train models into Run files. --family picks the experiment family "
        "and the run it starts from (its default run); every field of the transformer "
        "preset and of the trainer's config is a flag, any other field of the run a "
        "--set FIELD=VALUE (task.kind=repeat, model.d_hidden=50); flags left out keep "
        "the family's default. Several --seed values train that many models together, "
        "one Run file each (--out must then contain {seed}).",
    )
    p.add_argument("--family", default=None, choices=registry.kinds(),
                   help=f"the experiment family (default {registry.kinds()[0]}; a resumed "
                        "run keeps its own)")  # fmt: skip
    p.add_argument("--set", action="append", default=[],
                   help="FIELD=VALUE: task.FIELD, model.FIELD or train.FIELD (repeatable)")
    p.add_argument("--task", default=None, choices=list(OP_NAMES), help="default add")
    p.add_argument("--p", type=int, default=None, help="default 113")
    p.add_argument("--format", default=None, choices=list(TOKEN_FORMATS), help="default 'a b ='")
    p.add_argument("--preset", default=None,
                   help=f"a preset of the family (default: its own; transformers: "
                        f"{', '.join(PRESETS)})")  # fmt: skip
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--betas", type=float, nargs=2, default=None)
    p.add_argument("--out", required=True, help="Run file; may contain {seed}")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the Run files at --out; only --epochs (a new total), --eval-every, "
        "--snapshot-every, --save-every, --device, --step may be given with it",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing --out files")
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the table forward (pays for long runs of stacked small models)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--step", default="auto", choices=["auto", "fast", "plain"])
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--save-every",
        type=int,
        default=None,
        help="write the Run file every N epochs (default: every snapshot)",
    )
    _add_fields(p, ModelPreset, PRESETS["mainline"])
    _add_fields(p, TrainConfig, TrainConfig())


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The run's fields the flags give, under dotted names (``train.lr``...)."""
    given: dict[str, Any] = {v: getattr(args, k) for k, v in PAIR_FLAGS.items()
                             if getattr(args, k) is not None}  # fmt: skip
    given |= {f"model.{k}": v for k, v in _overrides(args, ModelPreset).items()}
    given |= {f"train.{k}": v for k, v in _overrides(args, TrainConfig).items()}
    if args.betas:
        given["train.betas"] = tuple(args.betas)
    return given | {k: _value(v) for k, v in _pairs(args.set, "--set").items()}


def _flag(field: str) -> str:
    """The flag that sets a dotted field."""
    pair = {v: k for k, v in PAIR_FLAGS.items()}.get(field)
    section, _, name = field.partition(".")
    if pair or section in ("model", "train", "family"):
        return "--" + (pair or name or section).replace("_", "-")
    return f"--set {field}="


def _preset(family: Any, name: str) -> Any:
    if name not in family.presets:
        raise ValueError(f"unknown preset {name!r} for {family.kind}; known presets: "
                         f"{', '.join(family.presets)}")  # fmt: skip
    return family.presets[name]


def _specs(args: argparse.Namespace) -> list[RunSpec]:
    """The runs the flags ask for, one per seed: the family's default run with the
    flags' fields replaced."""
    from dataclasses import replace

    from grok_interp.sweeps import apply

    family = registry.get(args.family or registry.kinds()[0])
    base = family.default_spec()
    if args.preset:
        base = replace(base, model=_preset(family, args.preset))
    base = apply(base, _given(args))
    return [replace(base, seed=s) for s in args.seed]


def _cmd_train(args: argparse.Namespace) -> int:
    from grok_interp.runs import load_run
    from grok_interp.training import train_many

    _tune_malloc()
    if len(args.seed) > 1 and "{seed}" not in args.out:
        raise ValueError("several --seed values need --out with {seed} in it, one file each")
    outs = [args.out.format(seed=s) for s in args.seed]
    specs: list[RunSpec | Run]
    if args.resume:
        specs = [_resumed(load_run(o), args) for o in outs]
    else:
        taken = [o for o in outs if Path(o).exists()]
        if taken and not args.overwrite:
            raise ValueError(
                f"{taken[0]} exists; add --resume to continue it or --overwrite to replace it"
            )
        specs = list(_specs(args))
    try:
        runs = train_many(
            specs,
            outs=outs,
            device=args.device,
            step=args.step,
            progress=not args.quiet,
            save_every=args.save_every,
            overwrite=True,  # checked above, with the CLI's words
            compile=args.compile,
        )
    except KeyboardInterrupt:
        done = [o for o in outs if Path(o).exists()]
        epoch = load_run(done[0]).epoch if done else 0
        print(
            f"interrupted at epoch {epoch}, saved to {', '.join(done) or 'nothing yet'}; "
            f"continue with grok-interp train --out {args.out} --resume",
            file=sys.stderr,
        )
        return 130
    for out, run in zip(outs, runs, strict=False):
        print(f"{out}: {_metrics_line(run)}")
    return 0


def _resumed(run: Run, args: argparse.Namespace) -> Run:
    """The run to continue, with the settings that may change on resume applied; any
    other flag that would change the run is refused, listing the differences."""
    from grok_interp.sweeps import spec_dict
    from grok_interp.training import RunSpec

    have = spec_dict(RunSpec(task=run.task, model=run.model, train=run.train, seed=run.seed))
    have["train.betas"] = tuple(have["train.betas"])
    given = _given(args)
    if args.family:
        given["family"] = args.family
    if args.preset:
        wanted = dataclasses.asdict(_preset(run.family, args.preset))
        given = {**{f"model.{k}": v for k, v in wanted.items()
                    if v != have.get(f"model.{k}")}, **given}  # fmt: skip
    diff = [
        f"{_flag(k)}{'' if _flag(k).endswith('=') else ' '}{v} (the run has {have.get(k)})"
        for k, v in given.items()
        if k not in RESUMABLE and v != have.get(k)
    ]
    if diff:
        raise ValueError(
            "--resume continues a run as it was; these flags would change it: "
            + "; ".join(diff)
            + ". Train a new run instead (another --out)"
        )
    changes = {k.partition(".")[2]: v for k, v in given.items() if k in RESUMABLE}
    if changes.get("epochs", run.epoch) < run.epoch:
        raise ValueError(f"--epochs {changes['epochs']} is below the run's epoch {run.epoch}")
    run.train = dataclasses.replace(run.train, **changes)
    return run


def _metrics_line(run: Run) -> str:
    m = run.final_metrics()
    keys = ("train_loss", "test_loss", "train_acc", "test_acc")
    return f"epoch {run.epoch}, " + ", ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)


def _cmd_info(args: argparse.Namespace) -> int:
    from grok_interp.runs import load_run

    run = load_run(args.run)
    info = {
        "family": run.family.kind,
        "task": dataclasses.asdict(run.task),
        "model": dataclasses.asdict(run.model),
        "train": dataclasses.asdict(run.train),
        "seed": run.seed,
        "epoch": run.epoch,
        "n_train": len(run.train_idx),
        "final": run.final_metrics(),
        "snapshots": sorted(run.snapshots),
    }
    print(json.dumps(info, indent=2) if args.json else _info_text(run, info))
    return 0


def _info_text(run: Run, info: dict[str, Any]) -> str:
    """A Run file's summary for reading: one labelled line (wrapped) per part."""
    import textwrap

    def fields(d: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items())

    snaps = info["snapshots"]
    state = "done" if run.done else f"of {run.train.epochs}; continue with --resume"
    rows = {
        "task": run.task.describe(),
        "model": fields(info["model"]),
        "training": fields(info["train"]),
        "seed": str(run.seed),
        "epoch": f"{run.epoch} ({state}), {info['n_train']} training examples",
        "final": fields({k: f"{v:.4g}" for k, v in info["final"].items() if k != "epoch"})
        or "-",
        "snapshots": f"{len(snaps)}" + (f" (epochs {snaps[0]} to {snaps[-1]})" if snaps else ""),
    }
    if run.progress:
        b = [int(x) for x in run.progress.get("phases", [])]
        phases = (f"memorisation ends at epoch {b[0]}, cleanup from {b[1]} to {b[2]}" if b
                  else "no phases (not grokked)")  # fmt: skip
        rows["progress"] = f"measured at {len(run.progress['epoch'])} snapshots; {phases}"
    return "\n".join(
        textwrap.fill(v, 88, initial_indent=f"{k:<10} ", subsequent_indent=" " * 11)
        for k, v in rows.items()
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    """Train the small model on add mod 31 (~20 s) and show what it learnt."""
    import numpy as np

    from grok_interp import fourier
    from grok_interp.runs import model_from_run
    from grok_interp.tasks import Task
    from grok_interp.training import RunSpec, train

    _tune_malloc()
    cfg = TrainConfig(epochs=args.epochs, lr=1e-3, frac_train=0.6, eval_every=50)
    spec = RunSpec(task=Task(op="add", p=31), model=preset("small"), train=cfg, seed=args.seed)
    print(f"training {spec.task.describe()}, preset small, 60% of pairs, {cfg.epochs} epochs")
    run = train(spec, out=args.out, progress=not args.quiet)
    h = {k: np.array(v) for k, v in run.history.items()}
    fit = h["epoch"][h["train_acc"] >= 1.0]
    grok = h["epoch"][h["test_acc"] >= 0.99]
    print(f"final: {_metrics_line(run)}")
    print(
        f"train accuracy 1 at epoch {int(fit[0]) if len(fit) else 'never'}; "
        f"test accuracy >= 0.99 at epoch {int(grok[0]) if len(grok) else 'never'}"
    )
    model = model_from_run(run)
    w_e = fourier.freq_norms(fourier.dft(model.W_E[: run.task.p].detach(), 0))[1:]
    top = w_e.argsort(descending=True)[:6]
    print(
        "largest Fourier components of W_E (k: norm): "
        + ", ".join(f"{int(k) + 1}: {w_e[k]:.2f}" for k in top)
    )
    print(f"Gini of W_E's frequency norms: {fourier.gini(w_e):.3f} (sparse when near 1)")
    return 0


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
        print(_flags(note), file=sys.stderr)
    for why in report.not_run.values():
        print(f"not run: {_flags(why)}", file=sys.stderr)
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


def _cmd_progress(args: argparse.Namespace) -> int:
    from grok_interp.analyses.progress import phases, progress_measures
    from grok_interp.runs import load_run, save_run

    _tune_malloc()
    src = Path(args.run)
    out = src if args.in_place else Path(args.out or src.with_name(f"{src.stem}-progress.pt"))
    if out.exists() and not (args.in_place or args.overwrite):
        raise ValueError(f"{out} exists; add --overwrite to replace it (or --in-place)")
    run = load_run(src)
    res = progress_measures(
        run, key_freqs=args.key_freqs, chunk=args.chunk, device=args.device,
        restricted=args.restricted,
    )  # fmt: skip
    run.progress = {k: [float(v) for v in res.frame[k]] for k in res.frame.columns}
    run.progress["key_freqs"] = [float(k) for k in res.key_freqs]
    bounds = phases(res.frame)
    run.progress["phases"] = [float(b) for b in bounds] if bounds else []
    if args.keep_every:

        def kept(e: int) -> bool:
            every = args.sparse_every if args.sparse_after and e > args.sparse_after else None
            return e % (every or args.keep_every) == 0 or e == run.epoch

        run.snapshots = {e: w for e, w in run.snapshots.items() if kept(e)}
    save_run(run, out)
    print(_progress_text(res, bounds, given=bool(args.key_freqs), p=run.pairs_task.p))
    print(f"wrote {out}, {len(run.snapshots)} snapshots kept")
    return 0


def _progress_text(res: Any, bounds: Any, *, given: bool, p: int) -> str:
    """What ``progress`` measured: the measures and epochs, the key frequencies (and, as
    analyze says, when W_L has no sparse structure to take them from), and the phases."""
    from grok_interp import fourier
    from grok_interp.analyses.logits import is_sparse

    epochs = res.frame["epoch"]
    keys = list(res.key_freqs)
    names = dict.fromkeys(re.sub(r"_\d+$", "_k", c) for c in res.frame.columns if c != "epoch")
    lines = [
        f"measured at {len(epochs)} snapshots (epochs {epochs.iloc[0]:.0f} to "
        f"{epochs.iloc[-1]:.0f}): {', '.join(names)} (_k: per key frequency k)"
    ]
    if given:
        lines.append(f"key frequencies {keys} (given)")
    elif is_sparse(len(keys), fourier.n_freqs(p)):
        lines.append(f"key frequencies {keys} (found in W_L at the last snapshot)")
    else:
        lines.append(
            f"no sparse structure: {len(keys)} of {fourier.n_freqs(p)} frequencies of W_L "
            "cross the rule at the last snapshot, so the restricted and excluded losses "
            "describe no circuit; give --key-freqs to choose them"
        )
    lines.append(
        "phases: memorisation ends at epoch {}, circuit formation until {}, cleanup until {} "
        "(the paper's mainline: 1400, 9400, 14000)".format(*bounds)
        if bounds
        else "phases: none (the test loss never falls tenfold: the run has not grokked)"
    )
    return "\n".join(lines)


def _value(text: str) -> Any:
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


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"{flag} takes FIELD=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


def _cmd_sweep(args: argparse.Namespace) -> int:
    from grok_interp.sweeps import Grid, apply, grid_from_toml, results_summary, run_sweep
    from grok_interp.training import RunSpec

    _tune_malloc()
    given = {k: _value(v) for k, v in _pairs(args.base, "--base").items()}
    if args.toml:  # --base on top of the file's [base]
        grid = grid_from_toml(args.toml)
        grid = dataclasses.replace(grid, base=apply(grid.base, given))
    else:
        values = {
            k: [_value(x) for x in v.split(",")] for k, v in _pairs(args.set, "--set").items()
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


def _cmd_bench(args: argparse.Namespace) -> int:
    from grok_interp.bench import format_bench, run_bench
    from grok_interp.models import build_model
    from grok_interp.report import analyze
    from grok_interp.tasks import Task

    _tune_malloc()
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


def _small_parsers(sub: Any) -> None:
    info = sub.add_parser("info", help="print a Run file's configs, final metrics, snapshots")
    info.add_argument("run")
    info.add_argument("--json", action="store_true", help="the same as JSON, for programs")
    demo = sub.add_parser("demo", help="train a small model (~20 s) and show what it learnt")
    demo.add_argument("--epochs", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="also save the Run file here")
    demo.add_argument("--quiet", action="store_true")


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
        "--format", default=None, choices=list(TOKEN_FORMATS), help="default: the run's"
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
    an.add_argument("--over-training", action="store_true",
                    help="also every paper's measures over the Run's snapshots, and the "
                    "figure with all of them on one epoch axis (seconds more)")  # fmt: skip
    an.add_argument("--device", default="cpu", help="where the forwards run: cpu, cuda")


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
    im.add_argument("--format", default=None, choices=list(TOKEN_FORMATS),
                    help="default: from the shapes")  # fmt: skip
    im.add_argument("--act-fn", default=None, choices=["relu", "gelu"], help="default relu")
    im.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def _progress_parser(sub: Any) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grok-interp", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for build in (_train_parser, _small_parsers, _analyze_parser, _import_parser,
                  _progress_parser, _sweep_parser, _bench_parser):  # fmt: skip
        build(sub)
    args = parser.parse_args(argv)
    commands = {
        "train": _cmd_train,
        "info": _cmd_info,
        "demo": _cmd_demo,
        "analyze": _cmd_analyze,
        "progress": _cmd_progress,
        "import": _cmd_import,
        "sweep": _cmd_sweep,
        "bench": _cmd_bench,
    }
    try:
        return commands[args.cmd](args)
    except (ValueError, FileExistsError) as e:  # CheckpointError, TaskError, AnalysisError too
        print(f"grok-interp {args.cmd}: error: {_message(args.cmd, e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
