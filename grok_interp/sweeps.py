"""Sweeps: a grid of runs over the task, model and trainer fields and seeds, trained into
one folder with a results table (the layer that experiments stand on).

A :class:`Grid` is a product of values (``{"train.weight_decay": [0.3, 1, 3], "seed": [0,
1]}``) over dotted field names (``task.*``, ``model.*``, ``train.*``, ``seed``) on top of a
base :class:`~grok_interp.training.RunSpec`, plus explicit points. The field ``family``
(a kind of :mod:`grok_interp.families.registry`) starts a point from that family's
default run before its other fields apply, so a grid can change the task class
(``{"family": ["modular", "parity"]}``, or a base of ``family=sequences`` with
``task.kind`` over the three sequence tasks). Every point is built and
validated before anything trains: an unknown field or an invalid value is one error that
names it.

:func:`run_sweep` writes one Run file per point, ``OUT/runs/NNNN.pt``, and the grid itself,
``OUT/sweep.json``; a folder holding another sweep is refused. Started again on the same
folder, it skips the finished points and resumes the interrupted ones from their last save,
bit for bit (the trainer's resume), so a killed sweep loses at most the epochs since each
run's last save. The points train through :func:`~grok_interp.training.train_many`, which
stacks those that can share a step (small models gain 1.5-2x on the CPU; mainline-sized
ones run one per forward, see ``grok-interp bench``). The results table
(:func:`results_table`, saved as ``results.csv`` and ``results.json``) has one row per
point: its configuration (and the ``init`` run it starts from, if any), final metrics,
parameter norm and when it groks: the first
evaluated epoch where test accuracy reaches 99% of the best possible (``test_acc_ceiling``:
1, except where the run's family says otherwise: App. D.3's repeated subsequences,
:func:`grok_interp.sequences.accuracy_ceiling`),
and where train and test loss fall below 1e-6 (empty when not by the run's last epoch,
which the table also gives). Beside it, ``history.json`` holds every point's history (its
evaluations over training, :func:`load_histories`), so a figure of the sweep's curves
reads two small files instead of every Run file.

Executors (:func:`run_sweep`): the local one trains the stacks of points one after
another in this process; worker processes would not pay on the CPU, where one training
process already keeps both cores busy (two single-thread processes measured 1.08x one
two-thread process). ``executor="ray"`` sends each stack to a Ray cluster as a task
(optional extra ``grok_interp[ray]``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm import tqdm

from grok_interp.config import describe_type, fits_type
from grok_interp.families import registry
from grok_interp.models import resolve_device
from grok_interp.runs import Run, load_run
from grok_interp.training import Callback, RunSpec, init_run, new_run, step_key, train_many

SECTIONS = ("task", "model", "train")  # a RunSpec's config fields


class SweepError(ValueError):
    """A grid or an output folder that cannot be swept, with what to do instead."""


@dataclass(frozen=True)
class Grid:
    """``values``: dotted field -> the values it takes (the product is swept);
    ``points``: explicit extra points, each a dotted field -> value mapping."""

    values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    points: Sequence[Mapping[str, Any]] = ()
    base: RunSpec = field(default_factory=RunSpec)

    def settings(self) -> list[dict[str, Any]]:
        names = list(self.values)
        product = [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(self.values[n] for n in names))
        ]
        return (product if names else []) + [dict(p) for p in self.points]

    def specs(self) -> list[RunSpec]:
        """Every point as a RunSpec, all validated before any is returned."""
        return [apply(self.base, s) for s in self.settings()]

    def to_json(self) -> dict[str, Any]:
        return {
            "values": {k: list(v) for k, v in self.values.items()},
            "points": [dict(p) for p in self.points],
            "base": spec_dict(self.base),
        }


def spec_dict(spec: RunSpec) -> dict[str, Any]:
    """A RunSpec as plain values under dotted names (``train.betas`` as a list)."""
    out: dict[str, Any] = {"family": spec.family.kind, "seed": spec.seed}
    out |= {"init": spec.init} if spec.init else {}
    for section in SECTIONS:
        for k, v in dataclasses.asdict(getattr(spec, section)).items():
            out[f"{section}.{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def apply(base: RunSpec, setting: Mapping[str, Any]) -> RunSpec:
    """``base`` with the dotted fields of ``setting`` replaced, or a SweepError naming the
    field or value that does not fit."""
    changes: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    if "family" in setting and setting["family"] != base.family.kind:
        try:
            base = replace(registry.get(str(setting["family"])).default_spec(), seed=base.seed)
        except ValueError as e:
            raise SweepError(f"grid point {dict(setting)}: {e}") from e
    seed, init = base.seed, base.init
    for name, value in setting.items():
        if name == "family":
            continue
        if name == "seed":
            _check_value(name, value, int)
            seed = value
            continue
        if name == "init":
            init = None if value is None else str(value)
            continue
        section, _, key = name.partition(".")
        kinds = (
            {f.name: str(f.type) for f in dataclasses.fields(getattr(base, section))}
            if section in SECTIONS
            else {}
        )
        if key not in kinds:
            known = ", ".join(["family", "seed", "init"] + [f"{s}.FIELD" for s in SECTIONS])
            raise SweepError(f"unknown grid field {name!r}: {_near(name, base)}use {known}")
        if kinds[key].startswith("float") and type(value) is int:
            value = float(value)  # 1 on the command line or in TOML means 1.0 here
        _check_value(name, value, typing.get_type_hints(type(getattr(base, section)))[key])
        changes[section][key] = tuple(value) if isinstance(value, list) else value
    try:
        parts = {s: replace(getattr(base, s), **c) for s, c in changes.items() if c}
        spec = replace(base, seed=seed, init=init, **parts)
        _ = spec.family  # the task and model must make a family
    except (TypeError, ValueError) as e:
        raise SweepError(f"grid point {dict(setting)}: {e}") from e
    return spec


def _near(name: str, base: RunSpec) -> str:
    """'did you mean ...? ' for the field of ``base`` nearest a misspelt ``name``, if any."""
    import difflib

    fields = ["family", "seed", "init"]
    fields += [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(base, s))]
    near = difflib.get_close_matches(name, fields, n=1, cutoff=0.8)
    return f"did you mean {near[0]!r}? " if near else ""


def _check_value(name: str, value: Any, kind: Any) -> None:
    """A SweepError in the grid's own words when ``value`` is not of the field's type
    (``train.epochs takes a whole number, got 'ten'``), before the config compares it."""
    if not fits_type(value, kind):
        raise SweepError(f"{name} takes {describe_type(kind)}, got {value!r}")


TOML_SECTIONS = ("base", "grid", "points")


def _dotted(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A TOML table's keys as dotted field names: TOML reads a bare ``train.lr = 1`` as the
    nested table ``{"train": {"lr": 1}}`` and a quoted ``"train.lr" = 1`` as one key; both
    name the field ``train.lr``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        out.update(_dotted(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def grid_from_toml(path: str | Path, base: RunSpec | None = None) -> Grid:
    """A Grid from a TOML file: ``[base]`` (the values every point shares, on top of
    ``base``), ``[grid]`` (dotted fields -> lists of values, swept as a product) and
    ``[[points]]`` (explicit points), dotted keys bare or quoted. Any other section or
    top-level key is refused, naming it, rather than silently dropped."""
    import tomllib

    try:
        doc = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SweepError(f"{path}: {e}") from e
    _check_sections(path, doc)
    try:
        shared = apply(base or RunSpec(), _dotted(doc.get("base", {})))
    except SweepError as e:
        raise SweepError(f"{path}, [base]: {e}") from None
    values = {k: v if isinstance(v, list) else [v] for k, v in _dotted(doc.get("grid", {})).items()}
    points = [_dotted(p) for p in doc.get("points", [])]
    return Grid(values=values, points=points, base=shared)


def _check_sections(path: str | Path, doc: Mapping[str, Any]) -> None:
    layout = "a sweep file has [base] (values every point shares), [grid] and [[points]]"
    for name, part in doc.items():
        if name not in TOML_SECTIONS:
            what = (f"section [{name}]" if isinstance(part, dict) else f"section [[{name}]]"
                    if isinstance(part, list) and part and isinstance(part[0], dict)
                    else f"key {name!r} outside the sections")  # fmt: skip
            raise SweepError(f"{path}: unknown {what}; {layout}")
        if (name == "points") != isinstance(part, list) or (
            name == "points" and not all(isinstance(p, dict) for p in part)
        ):
            shape = "[[points]], one table per point" if name == "points" else f"[{name}]"
            raise SweepError(f"{path}: write {name} as {shape}; {layout}")


Executor = Literal["local", "ray"]


def run_sweep(
    grid: Grid,
    out: str | Path,
    *,
    executor: Executor = "local",
    ray_address: str | None = None,
    device: str = "cpu",
    stack: int | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
) -> pd.DataFrame:
    """Train every point of ``grid`` into ``out`` (module docstring); the results table.

    The points still to train are cut into stacks (:func:`stacks`): points that share a
    step, as many as ``stack`` (default: the trainer's rule for ``device``). The local
    executor trains the stacks one after another in this process; ``executor="ray"``
    makes each stack a Ray task (on the cluster at ``ray_address``, or a local one started
    here), retried by Ray if its worker dies. Each stack re-reads its points' files when it
    starts, so a retried or restarted stack resumes from the last save, bit for bit, and
    finished points are never trained twice. Both executors compute the same stacks, so
    their Run files agree bit for bit on the CPU (tested)."""
    out = Path(out)
    specs = grid.specs()
    if not specs:
        raise SweepError("the grid has no points: give values or points")
    if executor not in ("local", "ray"):
        raise SweepError(f"unknown executor {executor!r}: use 'local' or 'ray'")
    parents = _load_inits(specs)
    _claim(out, grid, sorted(parents))
    paths = point_paths(out, len(specs))
    states = [
        (_state(spec, path, parents), spec, path) for spec, path in zip(specs, paths, strict=True)
    ]
    todo = [(state, spec, path) for state, spec, path in states if state is not None]
    if progress:
        print(f"{out}: {len(specs)} points, {len(specs) - len(todo)} done, {len(todo)} to train")
    work = stacks(todo, stack=stack, device=device)
    if executor == "ray":
        _on_ray(work, ray_address, device, callbacks, progress)
    else:
        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc="points",
                   unit="point", disable=not progress, position=1)  # fmt: skip
        for part in work:  # the trainer's own bar counts each stack's epochs
            train_stack(part, device=device, callbacks=callbacks, progress=progress)
            bar.update(len(part))
        bar.close()
    runs = [load_run(p) for p in paths]
    table = results_table(runs)
    if any(spec.init for spec in specs):
        table.insert(1, "init", [spec.init for spec in specs])
    table.to_csv(out / "results.csv", index=False)
    (out / "results.json").write_text(table.to_json(orient="records", indent=1) + "\n")
    (out / "history.json").write_text(json.dumps([r.history for r in runs]) + "\n")
    return table


def point_paths(out: str | Path, n: int) -> list[Path]:
    """The Run files of a sweep's ``n`` points, in grid order."""
    return [Path(out) / "runs" / f"{i:04d}.pt" for i in range(n)]


def load_points(out: str | Path) -> list[Run]:
    """Every point's Run of the sweep in ``out``, in grid order."""
    n = len(list((Path(out) / "runs").glob("*.pt")))
    return [load_run(p) for p in point_paths(out, n)]


def load_histories(out: str | Path) -> list[dict[str, list[float]]]:
    """Every point's history (its evaluations: ``epoch``, losses, accuracies and whatever
    its callbacks recorded), in grid order, as :func:`run_sweep` stored it in
    ``OUT/history.json`` beside the results table: the curves a figure of the sweep
    draws, without reading the Run files (their weights and snapshots). A folder written
    before that file existed is read from its Run files."""
    path = Path(out) / "history.json"
    if not path.exists():
        return [run.history for run in load_points(out)]
    return list(json.loads(path.read_text()))


def named_points(
    settings: Mapping[str, Mapping[str, Any]], seeds: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The explicit points of a sweep over named settings (each a mapping of dotted fields,
    ``{"wd 1": {"train.weight_decay": 1.0}}``), every setting at seeds ``0..seeds-1`` in
    order; and each point's setting name."""
    points = [{**fields, "seed": s} for fields in settings.values() for s in range(seeds)]
    return points, [name for name in settings for _ in range(seeds)]


def settings_sweep(
    settings: Mapping[str, Mapping[str, Any]],
    base: RunSpec,
    out: str | Path,
    *,
    seeds: int = 1,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[dict[str, list[float]]], list[str]]:
    """Named settings (:func:`named_points`) at ``seeds`` seeds each, swept from ``base``
    into ``out``: the results table, every point's history and its setting's name, in
    grid order (setting by setting, seed by seed)."""
    points, names = named_points(settings, seeds)
    table = run_sweep(Grid(points=points, base=base), out, progress=progress)
    return table, load_histories(out), names


def grok_markdown(table: pd.DataFrame, names: Sequence[str]) -> str:
    """A Markdown table of a sweep's results table: per point (its setting's name from
    ``names`` and its seed), the epoch test accuracy reaches 99% (of its ceiling), the
    epochs train and test loss fall below 1e-6, and the final losses. A point that never
    gets there reads "not by" its last epoch."""

    def when(value: Any, last: Any) -> str:
        return f"not by {float(last):g}" if pd.isna(value) else f"{float(value):g}"

    rows = [
        "| setting | seed | test acc >= 99% | train loss < 1e-6 | test loss < 1e-6 "
        "| final train loss | final test loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (_, r) in zip(names, table.iterrows(), strict=True):
        times = [when(r[f"epoch_{k}"], r["epoch"])
                 for k in ("test_acc_99", "train_loss_1e-6", "test_loss_1e-6")]  # fmt: skip
        rows.append(f"| {name} | {int(r['seed'])} | {' | '.join(times)} "
                    f"| {r['final_train_loss']:.3g} | {r['final_test_loss']:.3g} |")  # fmt: skip
    return "\n".join(rows) + "\n"


def _load_inits(specs: Sequence[RunSpec]) -> dict[str, Run]:
    """Every ``init`` run, loaded once and checked to exist and fit its points, before
    anything is written."""
    loaded: dict[str, Run] = {}
    for spec in specs:
        if spec.init is None:
            continue
        try:
            loaded[spec.init] = init_run(spec, loaded.get(spec.init))
        except (ValueError, OSError) as e:
            raise SweepError(f"grid point with init {spec.init}: {e}") from e
    return loaded


def _state(spec: RunSpec, path: Path, parents: dict[str, Run]) -> Run | None:
    """The point as it stands, read once: its saved Run to resume, a new Run to start, or
    None when it is done. ``parents`` caches the init runs already read."""
    if not path.exists():
        if spec.init is not None and spec.init not in parents:
            parents[spec.init] = load_run(spec.init)
        return new_run(spec, parents.get(spec.init) if spec.init else None)
    run = load_run(path)
    return None if run.done else run


def stacks(
    todo: Sequence[tuple[Run, RunSpec, Path]], *, stack: int | None = None, device: str = "cpu"
) -> list[list[tuple[RunSpec, Path]]]:
    """The points (their current state, spec and file) cut into units of work: those whose
    runs share a step (the trainer's :func:`~grok_interp.training.step_key`), in grid
    order, at most ``stack`` at a time (default: what the family says a stack holds on
    ``device``)."""
    groups: dict[tuple[object, ...], list[tuple[Run, RunSpec, Path]]] = {}
    for item in todo:
        groups.setdefault(step_key(item[0]), []).append(item)
    out = []
    for members in groups.values():
        run = members[0][0]
        size = stack or run.family.stack_size(run, len(members), resolve_device(device))
        parts = [members[i : i + size] for i in range(0, len(members), size)]
        out += [[(spec, path) for _, spec, path in part] for part in parts]
    return out


def train_stack(
    part: Sequence[tuple[RunSpec, Path]],
    *,
    device: str = "cpu",
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> None:
    """Train one stack of points into their files, resuming each from its file if it has
    one and skipping those already done (so a retry loses and repeats nothing): the files
    are read here, where the work runs, not where it was planned."""
    parents: dict[str, Run] = {}
    left = [
        (state, path) for spec, path in part if (state := _state(spec, path, parents)) is not None
    ]
    if left:
        train_many(
            [state for state, _ in left],
            outs=[path for _, path in left],
            device=device,
            stack=len(left),
            callbacks=callbacks,
            progress=progress,
            overwrite=True,  # a file here is resumed, never replaced: see _state
        )


def _on_ray(
    work: Sequence[Sequence[tuple[RunSpec, Path]]],
    address: str | None,
    device: str,
    callbacks: Sequence[Callback],
    progress: bool,
) -> None:
    try:
        import ray
    except ImportError as e:
        raise SweepError("the Ray executor needs Ray: pip install 'grok_interp[ray]'") from e
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=progress)
    remote: Any = ray.remote(num_cpus=1, max_retries=3)(train_stack)
    ray.get([remote.remote(part, device=device, callbacks=callbacks) for part in work])


def _claim(out: Path, grid: Grid, inits: Sequence[str] = ()) -> None:
    """Write ``sweep.json``, or check that the folder holds this very sweep. The grid is
    stored with the SHA-256 of every ``init`` run file (``inits``), so points trained from
    one init are never taken for points of a changed one."""
    meta = out / "sweep.json"
    mine = json.loads(json.dumps(grid.to_json()))
    if inits:
        mine["init_sha256"] = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in inits}
    if meta.exists():
        theirs = json.loads(meta.read_text())
        changed = [p for p in inits if theirs.get("init_sha256", {}).get(p) not in (None,
                   mine["init_sha256"][p])]  # fmt: skip
        if changed:
            raise SweepError(
                f"the init run {changed[0]} changed since {out} started (its SHA-256 differs):"
                " its points would mix two inits; give another folder, or restore the file"
            )
        theirs.pop("init_sha256", None)  # compared above (absent in older folders)
        # fields added since the folder was written read as their defaults
        defaults = spec_dict(RunSpec(task=grid.base.task.__class__(),
                                     model=grid.base.model.__class__()))  # fmt: skip
        base = theirs.get("base", {})
        for k, v in mine["base"].items():
            if k not in base and defaults.get(k, object()) == v:
                base[k] = v
        if theirs != {k: v for k, v in mine.items() if k != "init_sha256"}:
            raise SweepError(
                f"{out} holds another sweep (its sweep.json differs); give another folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise SweepError(f"{out} holds other files; give an empty or new folder")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(mine, indent=1) + "\n")


def first_epoch(history: Mapping[str, Sequence[float]], key: str, hit: Any) -> int | None:
    """The first evaluated epoch where ``hit(history[key])`` holds, or None."""
    idx = np.nonzero(hit(np.asarray(history[key])))[0]
    return int(history["epoch"][idx[0]]) if len(idx) else None


def results_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: configuration (dotted names), final metrics, when it groks."""
    rows = []
    for run in runs:
        spec = RunSpec(task=run.task, model=run.model, train=run.train, seed=run.seed)
        h = run.history
        top = run.family.accuracy_ceiling(run)
        rows.append({
            **{k: v if not isinstance(v, list) else str(v) for k, v in spec_dict(spec).items()},
            "epoch": run.epoch,
            **{f"final_{k}": v for k, v in run.final_metrics().items() if k != "epoch"},
            "test_acc_ceiling": top,
            "epoch_test_acc_99": first_epoch(h, "test_acc", lambda v, t=top: v >= 0.99 * t),
            "epoch_train_loss_1e-6": first_epoch(h, "train_loss", lambda v: v < 1e-6),
            "epoch_test_loss_1e-6": first_epoch(h, "test_loss", lambda v: v < 1e-6),
        })  # fmt: skip
    return pd.DataFrame(rows)


def results_summary(table: pd.DataFrame) -> str:
    """The results table as a sweep prints it at the end: the configuration columns whose
    values differ between points (``results.csv`` keeps them all; the last epoch too where
    it differs), when each point grokked (``epoch_*``: '-' when not by its last epoch) and
    its final metrics (``final_`` dropped from their names)."""
    config = [c for c in table.columns if c in ("seed", "init") or c.split(".")[0] in SECTIONS]
    shown = [c for c in [*config, "epoch"] if table[c].astype(str).nunique() > 1]
    groks = [c for c in table.columns if c.startswith("epoch_")]
    finals = [c for c in table.columns if c.startswith("final_")]
    frame = table[shown + groks + finals].copy()
    frame[groks] = frame[groks].apply(pd.to_numeric)  # None -> NaN, shown as '-'
    frame.columns = [c.removeprefix("final_") for c in frame.columns]
    return frame.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}")
