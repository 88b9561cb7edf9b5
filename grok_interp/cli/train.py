"""grok-interp train: new runs of any family from its default run and the flags, or
--resume of Run files with only their length and spacing changed."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grok_interp.cli.analyze import layout_arg
from grok_interp.cli.common import metrics_line, pairs, tune_malloc, value
from grok_interp.config import OP_NAMES, PRESETS, TOKEN_FORMATS, ModelPreset, TrainConfig
from grok_interp.families import registry

if TYPE_CHECKING:
    from grok_interp.runs import Run, RunSpec

SKIP = {"frozen_biases", "betas", "normalization"}
# What may change when a run resumes: its length, its evaluation and snapshot spacing
# (and, not being part of a run, --device, --step, --save-every, --quiet).
RESUMABLE = {"train.epochs", "train.eval_every", "train.snapshot_every"}
# The pair flags' fields of a run (the other flags are model.FIELD and train.FIELD).
PAIR_FLAGS = {"task": "task.op", "p": "task.p", "format": "task.token_format",
              "group": "task.structure"}


def _truth(text: str) -> bool:
    """A yes/no flag's value: true/false, 1/0, yes/no (argparse's own error otherwise)."""
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"takes true or false, got {text!r}")
    return words[text.lower()]


def _add_fields(parser: argparse.ArgumentParser, cls: type, defaults: Any) -> None:
    for f in dataclasses.fields(cls):
        if f.name in SKIP:
            continue
        default = getattr(defaults, f.name)
        kind = {bool: _truth, type(None): float if f.name == "frac_train" else int}.get(
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


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
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
    p.add_argument("--group", default=None,
                   help="a finite group (C_n, D_n, S_n n <= 6, A_n n <= 5, e.g. S4, D13, A5) "
                   "for xy, xyx_inv, xyx: p is its order, --task defaults to xy")  # fmt: skip
    p.add_argument("--format", default=None, type=layout_arg,
                   help=f"a token layout: {', '.join(map(repr, TOKEN_FORMATS))} or any other "
                   "(grok_interp.layouts); default 'a b ='")  # fmt: skip
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
    return {"train": _cmd_train}


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The run's fields the flags give, under dotted names (``train.lr``...)."""
    given: dict[str, Any] = {v: getattr(args, k) for k, v in PAIR_FLAGS.items()
                             if getattr(args, k) is not None}  # fmt: skip
    if args.group is not None:  # a group task: its order, and the composition by default
        from grok_interp.structures import structure

        given.setdefault("task.p", structure(args.group, 0).order)
        given.setdefault("task.op", "xy")
    given |= {f"model.{k}": v for k, v in _overrides(args, ModelPreset).items()}
    given |= {f"train.{k}": v for k, v in _overrides(args, TrainConfig).items()}
    if args.betas:
        given["train.betas"] = tuple(args.betas)
    return given | {k: value(v) for k, v in pairs(args.set, "--set").items()}


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

    tune_malloc()
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
        print(f"{out}: {metrics_line(run)}")
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
