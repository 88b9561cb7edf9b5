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


def test_phase_diagram_colours_each_cell_by_its_majority_phase():
    import pandas as pd

    from grok_interp.analyses.learning_phases import COLOURS, phase_diagram

    table = pd.DataFrame({
        "lr": [1e-3, 1e-3, 1e-3, 1e-2, 1e-3, 1e-2],
        "wd": [0.1, 0.1, 0.1, 0.1, 1.0, 1.0],
        "phase": ["grokking", "grokking", "memorization", "confusion", "comprehension",
                  "validation only"],
    })  # fmt: skip
    fig = phase_diagram(table, "lr", "wd")
    heat = fig.data[0]
    assert list(heat.x) == ["0.001", "0.01"] and list(heat.y) == ["0.1", "1"]
    assert [list(r) for r in heat.text] == [["grokking", "confusion"],
                                           ["comprehension", "validation only"]]  # fmt: skip
    # each phase's code falls in its own colour band; plotly needs the stops in order
    n = len(COLOURS)
    stops = [pos for pos, _ in heat.colorscale]
    assert stops == sorted(stops)
    for row_text, row_z in zip(heat.text, heat.z, strict=True):
        for name, code in zip(row_text, row_z, strict=True):
            # code k sits at the middle of [k / n, (k + 1) / n], which is its colour only
            ends = {(round(pos * n, 9), c) for pos, c in heat.colorscale}
            assert {(code, COLOURS[name]), (code + 1, COLOURS[name])} <= ends
