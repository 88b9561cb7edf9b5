"""grok-interp info (a Run file's summary) and demo (a small model trained and read)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grok_interp.cli.common import metrics_line, tune_malloc
from grok_interp.config import TrainConfig, preset

if TYPE_CHECKING:
    from grok_interp.runs import Run


def add_parsers(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    info = sub.add_parser("info", help="print a Run file's configs, final metrics, snapshots")
    info.add_argument("run")
    info.add_argument("--json", action="store_true", help="the same as JSON, for programs")
    demo = sub.add_parser("demo", help="train a small model (~20 s) and show what it learnt")
    demo.add_argument("--epochs", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="also save the Run file here")
    demo.add_argument("--quiet", action="store_true")
    return {"info": _cmd_info, "demo": _cmd_demo}


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
        "training": fields(training_used(run)),
        "seed": str(run.seed),
        "epoch": f"{run.epoch} ({state}), {info['n_train']} training examples",
        "final": fields({k: f"{v:.4g}" for k, v in info["final"].items() if k != "epoch"})
        or "-",
        "snapshots": f"{len(snaps)}" + (f" (epochs {snaps[0]} to {snaps[-1]})" if snaps else ""),
    }
    if run.progress:
        n = len(set(run.progress["epoch"]))
        if "phases" in run.progress:  # Nanda et al.'s measures (pairs)
            b = [int(x) for x in run.progress["phases"]]
            phases = (f"memorisation ends at epoch {b[0]}, cleanup from {b[1]} to {b[2]}" if b
                      else "no phases (not grokked)")  # fmt: skip
            rows["progress"] = f"measured at {n} snapshots; {phases}"
        else:  # another family's own measures (Family.progress)
            rows["progress"] = f"measured at {n} snapshots: {', '.join(run.progress)}"
    return "\n".join(
        textwrap.fill(v, 88, initial_indent=f"{k:<10} ", subsequent_indent=" " * 11)
        for k, v in rows.items()
    )


# options that are off at these values, and play no part then
OFF: dict[str, Any] = {"dropout": 0.0, "l1": 0.0, "random_labels": False, "fresh_data": False,
                       "orthograd": False, "record_stability": False, "precision": "float32",
                       "grokfast_lamb": 0.0}  # fmt: skip


def training_used(run: Run) -> dict[str, Any]:
    """The training settings ``run`` used, as ``info`` prints them: the optimizer (SGD
    without momentum, or AdamW with its betas), the loss trained on (the family's own when
    it declares one, else the learner's, else the config's), and the config's other
    fields, less those left unset (None) and the options that were off."""
    cfg = dataclasses.asdict(run.train)
    loss = (run.family.objective or getattr(run.model, "loss", None)
            or cfg["loss"])  # fmt: skip
    optimizer = "SGD (no momentum)" if cfg["sgd"] else f"AdamW, betas {tuple(cfg['betas'])}"
    if cfg["orthograd"]:
        optimizer += " under ⊥Grad"
    if cfg["grokfast_lamb"] == OFF["grokfast_lamb"]:
        del cfg["grokfast_alpha"]
    drop = {"sgd", "betas", "loss", "orthograd"}
    rest = {k: v for k, v in cfg.items()
            if k not in drop and v is not None and (k not in OFF or OFF[k] != v)}  # fmt: skip
    return {"optimizer": optimizer, "loss": loss, **rest}


def _cmd_demo(args: argparse.Namespace) -> int:
    """Train the small model on add mod 31 (~20 s) and show what it learnt."""
    import numpy as np

    from grok_interp import fourier
    from grok_interp.runs import model_from_run
    from grok_interp.tasks import Task
    from grok_interp.training import RunSpec, train

    tune_malloc()
    cfg = TrainConfig(epochs=args.epochs, lr=1e-3, frac_train=0.6, eval_every=50)
    spec = RunSpec(task=Task(op="add", p=31), model=preset("small"), train=cfg, seed=args.seed)
    print(f"training {spec.task.describe()}, preset small, 60% of pairs, {cfg.epochs} epochs")
    run = train(spec, out=args.out, progress=not args.quiet)
    h = {k: np.array(v) for k, v in run.history.items()}
    fit = h["epoch"][h["train_acc"] >= 1.0]
    grok = h["epoch"][h["test_acc"] >= 0.99]
    print(f"final: {metrics_line(run)}")
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
