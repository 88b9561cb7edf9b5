"""The analysis catalog is the one list of analyses (docs/DESIGN.md, "Layers"): the
families' lists, the Report's accessors, the pair report and the guards agree with it,
and adding an analysis is one declaration plus its function."""

from __future__ import annotations

import typing
from dataclasses import dataclass

import pandas as pd
import pytest
import torch

from grok_interp import analyze
from grok_interp.analyses import catalog
from grok_interp.analyses.common import Result
from grok_interp.families import registry
from grok_interp.reporting import Report
from grok_interp.tasks import Task


def test_every_family_lists_only_declared_analyses_of_its_own_capabilities():
    for family in registry.families():
        spec = family.default_spec()
        learner = family.build(spec.model, spec.task, seed=0, device=torch.device("cpu"))
        for name in family.analyses:
            a = catalog.get(name)  # a KeyError for a name the catalog does not declare
            if a.section != "over training":
                assert a.unmet(spec.task, learner) is None, (family.kind, name)


def test_the_reports_typed_accessors_are_the_catalogs_names_and_types():
    hints = {n: typing.get_type_hints(getattr(Report, n).fget) for n in dir(Report)
             if isinstance(getattr(Report, n, None), property)}  # fmt: skip
    accessors = {n: h["return"] for n, h in hints.items() if n in catalog.CATALOG}
    assert set(accessors) == set(catalog.CATALOG)
    for name, returns in accessors.items():
        assert typing.get_args(returns)[0] is catalog.get(name).result, name


def test_a_misspelt_analysis_is_an_error_not_none(mainline_report):
    with pytest.raises(AttributeError, match="catalog"):
        mainline_report.neuron  # noqa: B018
    with pytest.raises(KeyError, match="not in the catalog"):
        Report(source="x", task=Task(p=5), results={}, not_run={"neurons_": "?"}, losses={},
               setup_differences=(), model=None)  # fmt: skip


@dataclass(frozen=True)
class _NormResult(Result):
    """The Frobenius norm of W_E (a stand-in for a user's own analysis)."""

    norm: float
    title = "W_E norm"

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"quantity": "||W_E||", "ours": self.norm}])


def test_adding_an_analysis_is_one_declaration_plus_its_function(tiny_model, tiny_task):
    def w_e_norm(model, task) -> _NormResult:
        return _NormResult(norm=float(model.W_E[: task.p].norm()))

    catalog.register(catalog.Analysis(
        name="w_e_norm", result=_NormResult, section="pairs", task=catalog.OnPairs,
        learner=(catalog.Transformer,), run=lambda c: w_e_norm(c.model, c.task)))  # fmt: skip
    try:
        report = analyze(tiny_model, tiny_task)
        assert report.w_e_norm.norm == pytest.approx(float(tiny_model.W_E[:13].norm()))
        assert "w_e_norm" in report.to_json()["results"]
        assert "w_e_norm" in registry.get("modular").analyses
    finally:
        catalog.unregister("w_e_norm")
    assert "w_e_norm" not in registry.get("modular").analyses


def test_a_guard_names_the_capability_that_is_missing(tiny_model):
    from grok_interp.streaming import ParityTask

    a = catalog.get("embedding")
    assert a.unmet(Task(p=5), tiny_model) is None
    assert "OnPairs" in a.unmet(ParityTask(), tiny_model)
    assert "Transformer" in a.unmet(Task(p=5), torch.nn.Linear(2, 2))
