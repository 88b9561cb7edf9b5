"""The report page's parts on hand-built Results with known values: the contents bar
(one anchor per section), the flag on a number that departs from the paper's, the
combined over-training figure (small multiples: one row per measure on one epoch axis,
the phases shaded across every row), the family's
own summary heading, the parity figures (both rules, a visible zero, accuracy in [0, 1])
and report.json's list of results in the README."""

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grok_interp.analyses.ablations import Ablation, AblationsResult
from grok_interp.analyses.automaton import METHODS, rule, rules_figure
from grok_interp.analyses.common import departure
from grok_interp.analyses.curves import COMBINED, CurvesResult, thin
from grok_interp.analyses.interaction import InteractionResult
from grok_interp.analyses.lengths import LengthResult
from grok_interp.analyses.logits import Direction, DirectionsResult
from grok_interp.families import registry
from grok_interp.page import page
from grok_interp.reporting import Report
from grok_interp.tasks import Task

ROOT = Path(__file__).resolve().parents[1]


def _ablations(skip_loss: float) -> AblationsResult:
    rows = (Ablation("none", {"test": 2.0e-7}, {"test": 1.0}),
            Ablation("skip around attention zeroed", {"test": skip_loss}, {"test": 0.9}))
    return AblationsResult(rows=rows, setup_differences=())


def test_departure_factor():
    assert departure(0.293, "19.1") == pytest.approx(19.1 / 0.293)
    assert departure(2.0, "19.1") is None  # 9.55x: within 10x
    assert departure(1.0, "19.1") == pytest.approx(19.1)
    assert departure(0.5, "6.5 to 11, Table 4 seeds") == pytest.approx(13.0)
    assert departure(120.0, "6.5 to 11, Table 4 seeds") == pytest.approx(120 / 11)
    assert departure(8.0, "6.5 to 11, Table 4 seeds") is None
    assert departure(0.001, "> 90%") is None  # not a number: not compared


def test_a_departing_number_is_flagged_with_its_reason():
    flagged = _ablations(0.293)
    table = flagged.table().set_index("ablation")["paper (mainline)"]
    assert "\u26a0 65x off" in table["skip around attention zeroed"]
    assert "\u26a0" not in table["none"]
    (note,) = flagged.departures()
    assert note.startswith("\u26a0 skip around attention zeroed: 0.293") and "reason" in note
    assert note in flagged.notes()
    assert _ablations(19.0).departures() == []
    assert "\u26a0" not in "".join(_ablations(19.0).table()["paper (mainline)"])


def _curves() -> CurvesResult:
    epochs = [0.0, 100.0, 200.0, 300.0]
    progress = pd.DataFrame({"epoch": epochs, "train_loss": [1.0, 1e-2, 1e-3, 1e-3],
                             "test_loss": [1.0, 10.0, 1e-2, 1e-4],
                             "restricted_loss": [1.0, 1e-1, 1e-3, 1e-4],
                             "excluded_loss": [1.0, 2.0, 8.0, 9.0],
                             "sum_sq_weights": [10.0, 20.0, 15.0, 5.0],
                             "gini_W_E": [0.1, 0.2, 0.5, 0.9], "gini_W_L": [0.1, 0.2, 0.6, 0.9]})
    eff = pd.DataFrame({"epoch": epochs, "o_trig_test": [0.0, 1.0, 3.0, 4.0],
                        "o_mem_train": [0.0, 5.0, 2.0, 1.0], "param_norm": [1, 2, 3, 4],
                        "train_loss": [1, 1e-2, 1e-3, 1e-3], "test_loss": [1, 10, 1e-2, 1e-4]})
    dens = pd.DataFrame([{"epoch": e, "set": s, "layer": 0, "count": c + i}
                         for e, c in zip(epochs, [1.0, 2.0, 3.0, 2.5], strict=True)
                         for i, s in enumerate(("train", "test", "random"))])
    rep = pd.DataFrame({"epoch": epochs, "rqi": [0.0] * 4, "circle_index": [0.1, 0.2, 0.8, 0.9],
                        "predicted_test_acc": [0.0] * 4, "test_acc": [0.0, 0.1, 0.9, 1.0]})
    return CurvesResult(progress=progress, efficiency=eff, density=dens, representation=rep,
                        key_freqs=(1, 2), phases=(100, 150, 250))


def test_combined_figure_small_multiples_on_one_epoch_axis():
    res = _curves()
    fig = res.figure()
    names = [t.name for t in fig.data]
    # every measure of COMBINED that moves; the RQI is constant here and left out
    assert names == [label for label, *_ in COMBINED if label != "RQI (Liu)"]
    test = next(t for t in fig.data if t.name == "test loss")
    np.testing.assert_allclose(test.y, [1.0, 10.0, 1e-2, 1e-4])  # its own values and units
    rows = {t.name: t.yaxis for t in fig.data}
    assert rows["test loss"] == rows["train loss"] != rows["o_trig, test pairs (Varma)"]
    assert len(set(rows.values())) == 5  # losses, weights, logits, density, Liu's index
    loss_axis = fig.layout["yaxis" + rows["test loss"][1:]]
    assert loss_axis.type == "log" and "loss" in loss_axis.title.text
    xaxes = [fig.layout[k] for k in fig.layout if k.startswith("xaxis")]
    assert len(xaxes) == 5 and len({ax.matches for ax in xaxes}) == 2  # one epoch axis:
    assert sum(ax.matches is None for ax in xaxes) == 1  # four match the fifth
    assert sum(bool(ax.title.text) for ax in xaxes) == 1  # "epoch", under the last row
    shaded = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(s.x0, s.x1) for s in shaded] == [(0, 100), (100, 150), (150, 250)]
    assert all(s.yref == "paper" and s.y0 <= 0 and s.y1 >= 0.9 for s in shaded)  # every row
    assert len({s.fillcolor for s in shaded}) == 3
    assert "rescaled" not in fig.layout.title.text
    anchors = [a for a, _, _ in res.figures()]
    assert anchors == ["progress", "efficiency_over_training", "density_over_training",
                       "representation_over_training", "all_measures"]
    row = res.table().set_index("measure").loc["excluded loss (Nanda)"]
    assert row["first epoch"] == "1" and row["memorisation ends (100)"] == "2"


def test_thin_keeps_the_ends():
    assert thin(range(0, 1000, 10), 5) == [0, 250, 500, 740, 990]
    assert thin([3, 1, 2], 5) == [1, 2, 3]


def _report(family: str, results: dict) -> Report:
    report = Report(source="hand-built", task=Task(p=5), results=results,
                    not_run={"attention": "attention: why"}, losses={"test": (1e-7, 1.0)},
                    setup_differences=(), model=None)  # fmt: skip
    return registry.get(family).finish(report)  # what the family builds of it


def test_contents_has_one_anchor_per_section():
    report = _report("modular", {"ablations": _ablations(0.293), "over_training": _curves()})
    text = page(report)
    nav = re.search(r'<nav id="contents">(.*?)</nav>', text, re.S).group(1)
    links = re.findall(r'href="#([^"]+)"', nav)
    ids = re.findall(r'<h[23] id="([^"]+)"', text)
    assert sorted(links) == sorted(ids) and len(set(ids)) == len(ids)
    assert ids == ["summary", "ablations", "over_training", "over_training-progress",
                   "over_training-efficiency_over_training",
                   "over_training-density_over_training",
                   "over_training-representation_over_training", "over_training-all_measures",
                   "not-run"]
    assert "position: sticky" in text
    assert "\u26a0 65x off" in text  # the flag reaches the page


def test_summary_heading_is_the_familys():
    assert _report("modular", {}).summary_heading() == "Summary (Table 5 row)"
    for kind in ("toy", "parity", "sequences"):
        heading = _report(kind, {}).summary_heading()
        assert "Table 5" not in heading and registry.get(kind).title in heading
        assert f'<h2 id="summary">{html.escape(heading)}</h2>' in page(_report(kind, {}))
        assert f"### {heading}" in _report(kind, {}).to_markdown()


def test_table_1_draws_no_bar_chart():
    res = DirectionsResult(directions=(Direction(k=1, kind="cos", terms=(), fve=0.99),))
    with pytest.raises(NotImplementedError):
        res.figure()
    assert "directions" not in dict(_report("modular", {"directions": res}).figures())


def test_one_name_per_clustering_rule():
    assert METHODS == ("leader", "scale-free")
    assert rule("consistent") == "scale-free" and rule("leader") == "leader"
    with pytest.raises(ValueError, match="scale-free"):
        rule("k-means")


def test_both_rules_side_by_side():
    frame = pd.DataFrame({"epoch": [0, 10], "train_loss": [0.5, 0.1], "test_loss": [0.5, 0.2],
                          "n_states": [7, 3], "n_minimal": [4, 2]})
    fig = rules_figure({"leader": frame, "scale-free": frame.assign(n_states=[9, 5])}, "t")
    assert [a.text for a in fig.layout.annotations] == ["leader rule", "scale-free rule"]
    assert len(fig.data) == 8 and {t.xaxis for t in fig.data} == {"x", "x2"}


def test_interaction_zero_is_drawn_on_a_log_axis():
    rows = [{"epoch": e, "equal_target": eq, "dh2": 1.0 + e, "dh2_pred": 0.0 if eq else 0.5,
             "merge_pred": eq, "merged_final": eq} for e in (0, 10) for eq in (True, False)]
    fig = InteractionResult(frame=pd.DataFrame(rows)).figure()
    equal_pred = next(t for t in fig.data if t.name.startswith("equal targets: predicted"))
    assert fig.layout.yaxis.type == "log" and min(equal_pred.y) == pytest.approx(0.05)
    assert "0: on the floor" in equal_pred.name


def test_accuracy_axis_within_0_1():
    res = LengthResult(lengths=[10, 100], position_acc=[1.0, 0.9], string_acc=[1.0, 0.5],
                       last_mse=[0.0, 0.1], position_mse=[0.0, 0.1], n_strings=[4, 4],
                       n_ctx=None, within_acc=[1.0, 1.0], beyond_acc=[1.0, 0.8], max_len=10)
    lo, hi = res.figure().layout.yaxis.range
    assert lo == 0 and 1 <= hi <= 1.05


def test_readme_lists_every_result_report_json_holds():
    text = (ROOT / "README.md").read_text()
    bullet = text[text.index("- `report.json` (schema"):text.index("- `tensors.safetensors`")]
    named = set(re.findall(r"`([a-z_0-9]+)`", bullet))
    for family in registry.families():
        missing = set(family.analyses) - named
        assert not missing, (family.kind, missing)
