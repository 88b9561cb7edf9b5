"""Sweep-level measures of Varma et al. (2023): known answers on constructed curves."""

import math

import numpy as np
import pandas as pd
import pytest

from grok_interp.analyses.dataset_size import (
    critical_sizes,
    crossing,
    geometric_buckets,
    semi_grokking,
)


def test_crossing_interpolates_in_log_size():
    # 0.2 at 100, 0.8 at 400: halfway in log size is 200
    assert crossing([400, 100, 50], [0.8, 0.2, 0.0]) == pytest.approx(200.0)
    assert crossing([50, 100, 400], [0.4, 0.5, 0.9]) == pytest.approx(100.0)  # reaches it at 100
    assert math.isnan(crossing([100, 400], [0.6, 0.9]))
    assert math.isnan(crossing([100, 400], [0.1, 0.3]))


def test_critical_sizes_per_curve_and_the_side_of_curves_that_never_cross():
    rows = []
    for wd, accs in {0.5: [0.0, 0.2, 0.8], 1.0: [0.0, 0.1, 0.3], 2.0: [0.7, 0.9, 1.0]}.items():
        rows += [{"train.weight_decay": wd, "seed": 0, "train.n_train": n, "final_test_acc": a}
                 for n, a in zip([50, 100, 400], accs, strict=True)]  # fmt: skip
    got = critical_sizes(pd.DataFrame(rows)).set_index("train.weight_decay")
    assert got.loc[0.5, "D_crit"] == pytest.approx(200.0)
    assert math.isnan(got.loc[1.0, "D_crit"]) and got.loc[1.0, "no_crossing"] == "below"
    assert got.loc[2.0, "no_crossing"] == "above"


def _history(train, test):
    return {"epoch": [100.0 * i for i in range(len(test))], "train_acc": train, "test_acc": test}


def _semi(n=100, fit_at=5, rise_at=30, settle=0.6):
    """A clean semi-grokking curve: train fits at evaluation ``fit_at``; test accuracy
    0.05 until ``rise_at``, then up to ``settle`` over 10 evaluations, then flat within
    +-0.02."""
    train = [0.5] * fit_at + [1.0] * (n - fit_at)
    ramp = [0.05 + (settle - 0.05) * min(max(i - rise_at, 0) / 10, 1) for i in range(n)]
    wiggle = [0.02 * (-1) ** i if i > rise_at + 10 else 0.0 for i in range(n)]
    return train, [r + w for r, w in zip(ramp, wiggle, strict=True)]


def test_semi_grokking_flags_a_clean_curve():
    semi = semi_grokking(_history(*_semi()))
    assert semi.flagged and semi.failed == ()
    assert semi.fit_epoch == 500 and semi.test_acc_at_fit == pytest.approx(0.05)
    assert semi.settled_test_acc == pytest.approx(0.6) and semi.rise_epoch == 3500


def test_semi_grokking_names_each_condition_that_fails():
    train, test = _semi()
    cases = {
        "fits": ([min(a, 0.98) for a in train], test),
        "stays_fitted": (train[:60] + [0.8] * 3 + train[63:], test),
        # still creeping up: range 0.06 over the last 20%, but a trend of 0.03
        "settled": (train, test[:80] + [0.57 + 0.003 * i for i in range(20)]),
        "middling": _semi(settle=0.97),
        "rose": (train, [0.55] * 50 + [0.6] * 50),
        "well_after": _semi(fit_at=30, rise_at=29),  # the rise comes with the fit
    }
    for condition, (tr, te) in cases.items():
        verdict = semi_grokking(_history(tr, te))
        assert not verdict.flagged, condition
        want = ("fits", "stays_fitted", "rose", "well_after") if condition == "fits" else (
            condition,)  # fmt: skip
        assert verdict.failed == want, condition
    spike = test[:90] + [0.6, 0.6, 0.9, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    assert semi_grokking(_history(train, spike)).failed == ("settled",)  # a spike: range 0.3
    with pytest.raises(ValueError, match="at least 4"):
        semi_grokking(_history([1.0] * 3, [0.5] * 3))


def test_semi_grokking_on_the_shipped_runs():
    # full grokking: fitted at 200 epochs, test accuracy settles at 1 thousands of epochs
    # later; every condition but "middling" holds
    from grok_interp.runs import load_run

    for name in ("mainline", "seed1", "seed2", "seed3", "seed4"):
        verdict = semi_grokking(load_run(f"checkpoints/{name}.pt").history)
        assert verdict.failed == ("middling",), name
        assert verdict.rise_epoch is not None and verdict.rise_epoch > 20 * verdict.fit_epoch


def test_geometric_buckets():
    got = geometric_buckets([1, 3, 5, 11, 20, 45, 64, -1], n=6)  # edges 1, 2, 4 ... 64
    assert got.tolist() == [0, 1, 2, 3, 4, 5, 5, -1]
    assert np.all(geometric_buckets([-1.0, 0.0]) == -1)
