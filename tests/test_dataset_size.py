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
    return {"epoch": list(range(len(test))), "train_acc": train, "test_acc": test}


def test_semi_grokking_rule():
    fit = [0.5] + [1.0] * 9
    semi = semi_grokking(_history(fit, [0.0, 0.05, 0.1, 0.3, 0.5, 0.6, 0.6, 0.62, 0.6, 0.61]))
    assert semi.flagged and semi.fit_epoch == 1 and semi.test_acc_at_fit == 0.05
    assert semi.settled_test_acc == pytest.approx(0.605)
    full = [0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 1.0, 1.0, 1.0, 1.0]
    assert not semi_grokking(_history(fit, full)).flagged  # groks fully
    assert not semi_grokking(_history(fit, [0.5] * 10)).flagged  # middling, but no rise
    moving = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.3, 0.7]
    assert not semi_grokking(_history(fit, moving)).flagged  # not settled
    assert not semi_grokking(_history([0.5] * 10, [0.6] * 10)).flagged  # never fits


def test_geometric_buckets():
    got = geometric_buckets([1, 3, 5, 11, 20, 45, 64, -1], n=6)  # edges 1, 2, 4 ... 64
    assert got.tolist() == [0, 1, 2, 3, 4, 5, 5, -1]
    assert np.all(geometric_buckets([-1.0, 0.0]) == -1)
