"""Softmax collapse and NLM alignment over a run (Prieto et al. 2025): hand-scaled logits
and the shipped mainline."""

import torch

from grok_interp.analyses.stability import stability_over_training, stability_point
from grok_interp.models import build_model, preset
from grok_interp.runs import load_run
from grok_interp.tasks import Task

TASK = Task(op="add", p=7)


def _scaled(scale: float):
    model = build_model(preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32), TASK)
    with torch.no_grad():
        model.W_U.mul_(scale)
    return model


def test_collapse_of_scaled_logits():
    every = torch.arange(TASK.n_pairs)
    # W_U = 0: all logits equal, sum of exp = 7, never 1
    assert stability_point(_scaled(0.0), TASK, every)["collapsed"] == 0.0
    # W_U x 1e6: every gap to the top logit is far past 37 nats: collapsed at any precision
    point = stability_point(_scaled(1e6), TASK, every, precision="float64")
    assert point["collapsed"] == 1.0  # whether or not the top class is the right one
    # only the training pairs given are read: 5 pairs, shares in fifths
    five = stability_point(_scaled(3.0), TASK, every[:5], loss="stablemax")
    assert five["collapsed"] * 5 == round(five["collapsed"] * 5)


def test_mainline_over_training():
    run = load_run("checkpoints/mainline.pt")
    res = stability_over_training(run, steps=[0, 40000])
    first, last = res.frame.iloc[0], res.frame.iloc[-1]
    assert first["collapsed"] == 0.0 and last["collapsed"] > 0.5
    assert last["nlm_alignment"] > 0.99 and abs(first["nlm_alignment"]) < 0.5
    assert any("float16" in n for n in res.notes())
    assert len(res.figure().data) == 3
