"""Trigonometric and memorisation logits (Varma et al. 2023, Appendix B): known answers
on constructed logits, and real checkpoints."""

import math
from pathlib import Path

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


def _by_fft(logits, labels, sets):
    """Appendix B computed another way: Z's coefficient on cos(w_k(a+b-c)) is the real
    part of its 3-D DFT at (-k, -k, k) over (p^3 / 2), and Z_T[a, b, c] depends on
    (a + b - c) mod p alone."""
    p = logits.shape[1]
    z = logits.double().reshape(p, p, p)
    f = torch.fft.fftn(z)
    ks = torch.arange(1, (p - 1) // 2 + 1)
    alphas = f[-ks % p, -ks % p, ks].real / (p**3 / 2)
    s = torch.arange(p, dtype=torch.float64)
    wave = (alphas[:, None] * torch.cos(2 * math.pi * ks[:, None] * s / p)).sum(0)
    a = torch.arange(p)
    diff = (a[:, None, None] + a[None, :, None] - a[None, None, :]) % p
    z_t = wave[diff].reshape(p * p, p)
    rows = torch.arange(p * p)
    correct, correct_t = logits.double()[rows, labels], z_t[rows, labels]
    share = (z_t.square().sum() / z.square().sum()).sqrt().item()
    trig = {k: correct_t[i].mean().item() for k, i in sets.items()}
    mem = {k: (correct - correct_t)[i].mean().item() for k, i in sets.items()}
    return trig, mem, share


def _check_by_fft(model, task, res, sets):
    with torch.no_grad():
        logits = model(task.tokens())[:, -1]  # the model's own forward, not the table one
    trig, mem, share = _by_fft(logits, task.labels(), sets)
    assert res.trig_norm_share == pytest.approx(share, rel=1e-4)
    for k in sets:
        assert res.o_trig[k] == pytest.approx(trig[k], rel=1e-4), k
        assert res.o_mem[k] == pytest.approx(mem[k], rel=1e-3, abs=1e-4), k


def test_the_fft_reference_recovers_known_parts():
    trig, table = _parts()
    labels = TASK.labels()
    sets = pair_sets(TASK, split(TASK, frac_train=0.3, seed=1))
    o_trig, o_mem, share = _by_fft(trig + table, labels, sets)
    rows = torch.arange(P * P)
    assert o_trig["test"] == pytest.approx(4.5) and o_mem["train"] == pytest.approx(
        table[rows, labels][sets["train"]].mean().item()
    )
    assert share == pytest.approx((trig.norm() / (trig + table).norm()).item())


@pytest.mark.parametrize(("path", "grokked"), [(CHUGHTAI, True), (NANDA_NO_WD, True),
                                               (NANDA_LOW_PRECISION, False)])  # fmt: skip
def test_external_checkpoints(path, grokked):
    from grok_interp import load_model

    model, task = load_model(external(path))
    res = analyze(model, task).efficiency
    assert res is not None and set(res.o_trig) == {"all"}  # no split known
    _check_by_fft(model, task, res, {"all": torch.arange(task.p**2)})
    # Section 5.1's test (> 95% of the logit norm): measured 0.984, 0.972 and 0.236
    assert (res.trig_norm_share > 0.95) == grokked


def test_shipped_mainline_is_generalisation_only_by_section_5_1s_test(tmp_path):
    from grok_interp import load_run
    from grok_interp.runs import model_from_run

    path = Path(__file__).resolve().parents[1] / "checkpoints" / "mainline.pt"
    report = analyze(path, over_training=False)
    res = report.efficiency
    assert list(res.o_trig) == ["test", "train", "all"]
    run = load_run(path)
    _check_by_fft(
        model_from_run(run), run.pairs_task, res, pair_sets(run.pairs_task, run.train_idx)
    )
    assert res.trig_norm_share > 0.95  # measured 0.983
    # what C_trig leaves on the correct logit: positive on the memorised pairs only
    assert res.o_mem["train"] > 0.1 and res.o_mem["test"] < 0
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
    # each row's losses are its own snapshot's, recomputed from its weights
    from grok_interp.runs import load_params

    model = model_from_run(run)
    sets = pair_sets(TASK, run.train_idx)
    for row in frame.itertuples():
        load_params(model, run.snapshots[int(row.epoch)])
        with torch.no_grad():
            logits = model(TASK.tokens())[:, -1].double()
        loss = torch.nn.functional.cross_entropy(logits, TASK.labels(), reduction="none")
        assert row.test_loss == pytest.approx(loss[sets["test"]].mean().item(), rel=1e-4)
        assert row.train_loss == pytest.approx(loss[sets["train"]].mean().item(), rel=1e-4)
    # recorded live at every evaluation, the same numbers as read from the snapshots
    for col in ("o_trig_train", "o_mem_test", "trig_norm_share"):
        live = [run.history[col][run.history["epoch"].index(e)] for e in frame["epoch"]]
        assert live == pytest.approx(list(frame[col]), rel=1e-4, abs=1e-5), col
    assert len(run.history["o_mem_train"]) == len(run.history["epoch"]) == 5
    names = {t.name for t in efficiency_figure(frame).data}
    assert {"o_trig_train", "o_mem_test", "param_norm", "test_loss"} <= names
