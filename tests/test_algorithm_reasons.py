"""The clock/pizza table says why a verdict is mixed/undetermined (the accuracy below the
cut-off, or which measure misses each algorithm's cut-off) and gives the sampled gradient
symmetricity with its standard error."""

import pytest
import torch

from grok_interp.analyses.algorithm import MIXED, Thresholds, algorithm
from tests.test_algorithm import TASK, clock_model, pizza_model, weights


def _rows(res) -> dict[str, str]:
    return dict(zip(res.table()["measure"], res.table()["value"], strict=True))


def test_a_model_that_does_not_add_says_so_in_the_table():
    model = clock_model()
    with weights(model) as w:
        w["unembed.b_U"][:] = 5.0 * torch.arange(w["unembed.b_U"].shape[0])
    res = algorithm(model, TASK)
    assert res.verdict == MIXED
    why = _rows(res)["why not named"]
    assert f"{res.accuracy:.1%}" in why and "below 99%" in why


def test_measures_between_the_cut_offs_are_named():
    res = algorithm(pizza_model(), TASK, thresholds=Thresholds(pizza_symmetricity=1.5))
    why = _rows(res)["why not named"]
    assert "not the pizza: gradient symmetricity" in why and "< 1.5" in why
    assert "not the clock: gradient symmetricity" in why


def test_symmetricity_with_its_standard_error():
    res = algorithm(clock_model(), TASK, n_triples=200)
    cos = res.cosines[res.cosines.isfinite()]
    se = float(cos.std() / len(cos) ** 0.5)
    assert res.symmetricity_se == pytest.approx(se, rel=1e-9)
    assert _rows(res)["gradient symmetricity"] == f"{res.gradient_symmetricity:.3f} ± {se:.3f}"
    assert "why not named" not in _rows(res)  # a clock needs no reason

