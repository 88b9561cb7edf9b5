"""Shared code of the sweep figures (20-21, 24, 26, 27): the settings as points of a
sweep (:mod:`grok_interp.sweeps`, trained into OUT/sweep, resumable: run the script again
to continue a killed one), and a table of when each run groks, written beside the
figures."""

from pathlib import Path


def sweep(settings, *, p, epochs, seeds, eval_every=100, quiet=True, out=None):
    """``seeds`` runs per setting (a dict of TrainConfig fields), keyed by setting name;
    trained as one sweep into ``out``/sweep (a temporary folder without ``out``)."""
    import tempfile

    from grok_interp import RunSpec, Task, TrainConfig, preset
    from grok_interp.sweeps import Grid, load_points, run_sweep

    base = RunSpec(
        task=Task(p=p),
        model=preset("mainline"),
        train=TrainConfig(
            epochs=epochs, eval_every=eval_every, snapshot_every=max(epochs // 20, 1)
        ),
    )
    points = [
        {**{f"train.{k}": v for k, v in fields.items()}, "seed": s}
        for fields in settings.values()
        for s in range(seeds)
    ]
    folder = Path(out) / "sweep" if out else Path(tempfile.mkdtemp()) / "sweep"
    run_sweep(Grid(points=points, base=base), folder, progress=not quiet)
    runs = iter(load_points(folder))
    return {name: [next(runs) for _ in range(seeds)] for name in settings}


def add_sweep_args(ap, epochs, seeds, p=113):
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=epochs, help="paper: 40000")
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--p", type=int, default=p)


def _when(history, key, hit):
    from grok_interp.sweeps import first_epoch

    e = first_epoch(history, key, hit)
    return f"not by {history['epoch'][-1]:g}" if e is None else f"{e:g}"


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
