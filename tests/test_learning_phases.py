"""Liu et al.'s four phases (slides, Table 1) on constructed curves, every case."""

import pytest

from grok_interp.analyses.learning_phases import liu_phase


def _h(train, val, every=500):
    return {"epoch": [i * every for i in range(len(train))], "train_acc": train, "test_acc": val}


@pytest.mark.parametrize(
    "train, val, phase, t, v",
    [
        ([0.1, 0.95, 1, 1], [0.1, 0.5, 0.95, 1], "comprehension", 500, 1000),  # gap 500
        ([0.1, 0.95, 1, 1, 1], [0.1, 0.1, 0.1, 0.5, 0.95], "grokking", 500, 2000),  # gap 1500
        ([0.1, 0.95, 1, 1], [0.1, 0.2, 0.3, 0.3], "memorization", 500, None),
        ([0.1, 0.5, 0.6, 0.6], [0.1, 0.2, 0.3, 0.3], "confusion", None, None),
        ([0.1, 0.5, 0.6, 0.6], [0.1, 0.95, 1, 1], "validation only", None, 500),
        ([0.1, 0.5, 0.95, 1], [0.1, 0.95, 1, 1], "comprehension", 1000, 500),  # val first
        ([0.1, 0.9, 1, 1], [0.1, 0.9, 1, 1], "comprehension", 1000, 1000),  # > 0.9, strictly
    ],
)
def test_table_1(train, val, phase, t, v):
    got = liu_phase(_h(train, val))
    assert (got.phase, got.train_step, got.val_step) == (phase, t, v)


def test_budget_gap_and_the_codes_variant():
    grok = _h([0.1, 0.95, 1, 1, 1], [0.1, 0.1, 0.1, 0.5, 0.95])
    assert liu_phase(grok, budget=1500).phase == "memorization"  # validation too late
    assert liu_phase(grok, gap=2000).phase == "comprehension"
    val_only = _h([0.1, 0.5, 0.6], [0.1, 0.95, 1])
    assert liu_phase(val_only, code_compatible=True).phase == "comprehension"
