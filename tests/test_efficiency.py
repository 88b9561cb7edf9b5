"""Trigonometric and memorisation logits (Varma et al. 2023, Appendix B): known answers
on constructed logits, and real checkpoints."""

import math

import pytest
import torch

from grok_interp.analyses.common import pair_sets
from grok_interp.analyses.efficiency import trig_mem
from grok_interp.report import analyze
from grok_interp.tasks import Task, split

from .conftest import CHUGHTAI, NANDA_LOW_PRECISION, NANDA_NO_WD, external

P = 13
TASK = Task(p=P)
BETA = {2: 3.0, 5: 1.5}


def _parts():
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    trig = sum(b * torch.cos(2 * math.pi * k * (s - a) / P) for k, b in BETA.items())
    table = torch.randn(P * P, P, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # a lookup table with no component in the trigonometric subspace: remove its projection
    for k in range(1, (P - 1) // 2 + 1):
        zk = torch.cos(2 * math.pi * k * (s - a) / P)
        table -= (table * zk).sum() / zk.square().sum() * zk
    return trig, table


def test_both_parts_recovered_exactly():
    trig, table = _parts()
    labels = TASK.labels()
    sets = pair_sets(TASK, split(TASK, frac_train=0.5, seed=0))
    res = trig_mem(trig + table, labels, sets)
    assert res.alphas[1].item() == pytest.approx(3.0, rel=1e-6)  # k = 2
    assert res.alphas[4].item() == pytest.approx(1.5, rel=1e-6)  # k = 5
    others = [i for i in range(len(res.alphas)) if i not in (1, 4)]
    assert res.alphas[others].abs().max() < 1e-6
    rows = torch.arange(P * P)
    for name, idx in sets.items():
        assert res.o_trig[name] == pytest.approx(4.5, rel=1e-6)  # cos(0) at the right label
        want = table[rows, labels][idx].mean().item()
        assert res.o_mem[name] == pytest.approx(want, abs=1e-9)
    share = (trig.square().sum() / (trig + table).square().sum()).item()
    assert res.trig_sq_share == pytest.approx(share, rel=1e-9)
    assert res.trig_norm_share == pytest.approx(math.sqrt(share), rel=1e-9)
    pure = trig_mem(trig, labels, sets)
    assert pure.trig_norm_share == pytest.approx(1.0) and pure.o_mem["all"] == pytest.approx(0.0)


def test_even_p_projects_on_k_equal_p_over_2():
    # K = ceil((p-1)/2) = p/2 for even p: cos(pi (a+b-c)) is one of the Z_k, with norm p^3
    p = 12
    a = torch.arange(p, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    logits = 3.0 * torch.cos(2 * math.pi * 2 * (s - a) / p) + 1.5 * torch.cos(math.pi * (s - a))
    labels = (s[:, 0] % p).long()
    res = trig_mem(logits, labels, {"all": torch.arange(p * p)})
    assert len(res.alphas) == 6
    assert res.alphas[1].item() == pytest.approx(3.0) and res.alphas[5].item() == pytest.approx(1.5)
    assert res.trig_norm_share == pytest.approx(1.0) and res.o_mem["all"] == pytest.approx(0.0)


@pytest.mark.parametrize("path", [CHUGHTAI, NANDA_NO_WD, NANDA_LOW_PRECISION])
def test_external_checkpoints(path):
    report = analyze(external(path))
    res = report.efficiency
    assert res is not None and set(res.o_trig) == {"all"}  # no split known
    assert 0 < res.trig_norm_share <= 1 and res.o_trig["all"] > 0


def test_shipped_mainline_is_generalisation_only_by_section_5_1s_test(tmp_path):
    from pathlib import Path

    report = analyze(Path(__file__).resolve().parents[1] / "checkpoints" / "mainline.pt")
    res = report.efficiency
    assert list(res.o_trig) == ["test", "train", "all"]
    assert res.o_trig["test"] == pytest.approx(res.o_trig["train"])  # one value for add
    assert res.trig_norm_share > 0.95  # measured 0.983
    report.save(tmp_path, figures=False)
    import json

    doc = json.loads((tmp_path / "report.json").read_text())
    values = doc["results"]["efficiency"]["values"]
    assert values["o_trig"] == res.o_trig and values["o_mem"] == res.o_mem


def test_over_training_matches_the_analysis_and_the_history():
    from grok_interp.analyses.efficiency import (
        efficiency_figure,
        efficiency_over_training,
        trig_mem_callback,
    )
    from grok_interp.models import preset
    from grok_interp.runs import TrainConfig, model_from_run
    from grok_interp.training import RunSpec, train

    spec = RunSpec(task=TASK, model=preset("small", d_model=32, d_head=8, d_mlp=64),
                   train=TrainConfig(epochs=40, lr=3e-3, frac_train=0.5, eval_every=10,
                                     snapshot_every=20))  # fmt: skip
    run = train(spec, callbacks=[trig_mem_callback()], progress=False)
    frame = efficiency_over_training(run)
    assert list(frame["epoch"]) == [0, 20, 40]
    last = analyze(model_from_run(run), TASK).efficiency
    assert frame["o_trig_all"].iloc[-1] == pytest.approx(last.o_trig["all"], rel=1e-5)
    at = run.history["epoch"].index(40.0)
    assert frame["param_norm"].iloc[-1] == pytest.approx(run.history["param_norm"][at], rel=1e-6)
    assert frame["test_loss"].iloc[-1] == run.history["test_loss"][at]
    # recorded live at every evaluation, the same numbers as read from the snapshots
    for col in ("o_trig_train", "o_mem_test", "trig_norm_share"):
        live = [run.history[col][run.history["epoch"].index(e)] for e in frame["epoch"]]
        assert live == pytest.approx(list(frame[col]), rel=1e-4, abs=1e-5), col
    assert len(run.history["o_mem_train"]) == len(run.history["epoch"]) == 5
    names = {t.name for t in efficiency_figure(frame).data}
    assert {"o_trig_train", "o_mem_test", "param_norm", "test_loss"} <= names
