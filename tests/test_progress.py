"""Progress measures: known answers on constructed logits, agreement with the analyses,
live recording, and the phase rule."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from grok_interp.analyses.ablations import keep_key_blocks, remove_sum_waves, restrict
from grok_interp.analyses.common import loss_acc
from grok_interp.analyses.logits import fit_logits
from grok_interp.analyses.progress import (
    _Waves,
    measures_from_logits,
    phases,
    progress_callback,
    progress_measures,
)
from grok_interp.models import preset
from grok_interp.report import analyze
from grok_interp.runs import TrainConfig
from grok_interp.tasks import Task, heldout_indices, split
from grok_interp.training import RunSpec, train

P = 13
TASK = Task(p=P)


def _logits(seed=0):
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    waves = 4 * torch.cos(2 * math.pi * 2 * (s - a) / P) + 2 * torch.cos(
        2 * math.pi * 5 * (s - a) / P
    )
    noise = torch.randn(
        P * P, P, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    return waves + 0.3 * noise


def test_measures_match_the_analyses():
    logits, labels = _logits(), TASK.labels()
    train_idx = split(TASK, frac_train=0.4, seed=0)
    test_idx = heldout_indices(TASK, train_idx)
    m = measures_from_logits(
        logits, labels, train_idx, test_idx, [2, 5], _Waves(P), restricted="blocks2"
    )
    restricted = keep_key_blocks(logits, P, [2, 5])[test_idx]
    assert m["restricted_loss"] == pytest.approx(
        loss_acc(restricted, labels[test_idx])[0], rel=1e-9
    )
    excluded = remove_sum_waves(logits, P, [2, 5])[train_idx]
    assert m["excluded_loss"] == pytest.approx(loss_acc(excluded, labels[train_idx])[0], rel=1e-9)
    only5 = remove_sum_waves(logits, P, [5])[train_idx]
    assert m["excluded_loss_5"] == pytest.approx(loss_acc(only5, labels[train_idx])[0], rel=1e-9)
    fit = fit_logits(logits.float(), labels, [2, 5])
    assert [m["alpha_2"], m["alpha_5"]] == pytest.approx(fit.alphas.tolist(), rel=1e-5)
    assert m["alpha_2"] == pytest.approx(4.0, abs=0.05)
    assert m["excluded_loss_max_any"] >= max(m["excluded_loss_2"], m["excluded_loss_5"])
    assert m["train_loss"] == pytest.approx(loss_acc(logits[train_idx], labels[train_idx])[0])


def test_phase_rule_on_constructed_curves():
    epoch = np.arange(0, 20000, 100)
    test = np.where(
        epoch < 8000, 20.0, np.where(epoch < 12000, 20 * 10 ** (-(epoch - 8000) / 500), 1e-7)
    )
    train = np.maximum(10 ** (-epoch / 200), 1e-7)  # falls 10x per 200 epochs to a floor
    frame = pd.DataFrame({"epoch": epoch, "test_loss": test, "train_loss": train})
    # log10 test loss falls from 1.301 to -7 (range 8.301): 10% down is reached when
    # (e - 8000) / 500 >= 0.830 -> e >= 8415 -> 8500 on the grid; 90% down when
    # (e - 8000) / 500 >= 7.471 -> e >= 11736 -> 11800. The train loss is 1e-7 at cleanup
    # start and first within 2x of it where 10^(-e/200) <= 2e-7: e >= 1340 -> 1400.
    assert phases(frame) == (1400, 8500, 11800)
    flat = frame.assign(test_loss=3.0)
    assert phases(flat) is None


def test_progress_over_snapshots_and_live():
    spec = RunSpec(task=TASK, model=preset("small", d_model=32, d_head=8, d_mlp=64), seed=0,
                   train=TrainConfig(epochs=200, lr=3e-3, frac_train=0.5, eval_every=50,
                                     snapshot_every=50))  # fmt: skip
    run = train(spec, callbacks=[progress_callback(TASK, [1, 3])], progress=False)
    res = progress_measures(run, key_freqs=[1, 3], chunk=3)
    frame = res.frame
    assert list(frame["epoch"]) == [0, 50, 100, 150, 200]
    np.testing.assert_allclose(frame["train_loss"], run.history["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(frame["excluded_loss"], run.history["pm_excluded_loss"], rtol=1e-4)
    np.testing.assert_allclose(frame["gini_W_L"], run.history["pm_gini_W_L"], rtol=1e-4)
    np.testing.assert_allclose(
        frame["restricted_loss"], run.history["pm_restricted_loss"], rtol=1e-4
    )
    assert frame["sum_sq_weights"].iloc[0] != frame["sum_sq_weights"].iloc[-1]
    # the curve's last point is the ablation table's restricted row on the test pairs
    report = analyze(run, key_freqs=[1, 3])
    row = report.results["ablations"].get("restricted (only key frequencies)")
    assert frame["restricted_loss"].iloc[-1] == pytest.approx(row.loss["test"], rel=1e-4)
    fig = res.figure()
    names = [t.name for t in fig.data]
    assert {"train_loss", "test_loss", "excluded_loss", "restricted_loss"} <= set(names)
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert len(legend) == len(set(legend))  # one legend entry per curve
    logs = [ax for ax in (fig.layout.yaxis, fig.layout.yaxis2) if ax.type == "log"]
    assert logs and all(ax.exponentformat == "power" and ax.title.text for ax in logs)


def test_authors_restricted_loss_from_activations():
    """Activations const + cos(w_2(a+b)) + a nuisance through W_L = cos(w_2 c) rows: the
    authors' restricted logits are the mean logit plus the cos(w_2(a+b)) part alone."""
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    wave = torch.cos(2 * math.pi * 2 * s / P)
    nuisance = torch.cos(2 * math.pi * 3 * a[:, None].expand(P, P).reshape(-1, 1) / P)
    post = torch.cat([1 + 3 * wave + nuisance, 2 + nuisance], 1)
    W_L = torch.stack([torch.cos(2 * math.pi * 2 * a / P), torch.sin(2 * math.pi * 4 * a / P)])
    logits = post @ W_L + 0.7
    kept = restrict(logits, [2], "authors", post=post, W_L=W_L)
    want = logits.mean(0) + 3 * wave @ W_L[:1]
    torch.testing.assert_close(kept, want)
