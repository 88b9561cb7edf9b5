"""Shared code of the sweep figures (20-21, 24, 26, 27): settings that keep the model's
and the training set's shape train together in one batch (``train_many``)."""

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
