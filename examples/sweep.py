"""Shared code of the sweep figures (20-21, 24, 26, 27): settings that keep the model's
and the training set's shape train together in one ``train_many`` loop, and a table of
when each run groks, written beside the figures."""

import math
from pathlib import Path

import numpy as np

from grok_interp import RunSpec, Task, TrainConfig, preset, train_many


def sweep(settings, *, p, epochs, seeds, eval_every=100, quiet=True):
    """``seeds`` runs per setting (a dict of TrainConfig fields), keyed by setting name."""
    specs = {
        name: [
            RunSpec(
                task=Task(p=p),
                model=preset("mainline"),
                seed=s,
                train=TrainConfig(
                    epochs=epochs,
                    eval_every=eval_every,
                    snapshot_every=max(epochs // 20, 1),
                    **fields,
                ),
            )
            for s in range(seeds)
        ]
        for name, fields in settings.items()
    }
    groups = {}
    for name, fields in settings.items():  # one batch per training fraction
        groups.setdefault(fields.get("frac_train", 0.3), []).append(name)
    runs = {}
    for names in groups.values():
        batch = [s for n in names for s in specs[n]]
        done = iter(train_many(batch, progress=not quiet))
        runs.update({n: [next(done) for _ in specs[n]] for n in names})
    return runs


def add_sweep_args(ap, epochs, seeds, p=113):
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=epochs, help="paper: 40000")
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--p", type=int, default=p)


def first_epoch(history, key, hit):
    """The first evaluated epoch where ``hit(history[key])`` holds, or nan."""
    idx = np.nonzero(hit(np.asarray(history[key])))[0]
    return history["epoch"][idx[0]] if len(idx) else math.nan


def _when(history, key, hit):
    e = first_epoch(history, key, hit)
    return f"not by {history['epoch'][-1]:g}" if math.isnan(e) else f"{e:g}"


def summary(runs, out, stem):
    """Write (and print) a Markdown table: per run, the epoch test accuracy reaches 99%,
    the epochs train and test loss fall below 1e-6, and the final losses. A run that never
    gets there reads "not by" its last epoch."""
    rows = [
        "| setting | seed | test acc >= 99% | train loss < 1e-6 | test loss < 1e-6 "
        "| final train loss | final test loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rs in runs.items():
        for r in rs:
            h = r.history
            grok = _when(h, "test_acc", lambda v: v >= 0.99)
            train_fit = _when(h, "train_loss", lambda v: v < 1e-6)
            test_fit = _when(h, "test_loss", lambda v: v < 1e-6)
            rows.append(
                f"| {name} | {r.seed} | {grok} | {train_fit} | {test_fit} "
                f"| {h['train_loss'][-1]:.3g} | {h['test_loss'][-1]:.3g} |"
            )
    text = "\n".join(rows) + "\n"
    print(text)
    path = Path(out) / f"{stem}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return [path]
