"""Circuit density (Humayun et al.): hyperplanes placed by hand, GELU, batching, and the
shipped mainline."""

from __future__ import annotations

import pytest
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from grok_interp.analyses.circuit_density import (
    circuit_density,
    circuit_density_over_training,
    density,
    frame,
)
from grok_interp.analyses.common import AnalysisError
from grok_interp.runs import load_run, model_from_run
from grok_interp.tasks import Task

TASK = Task(p=5)


def placed(act_fn: str = "relu") -> HookedTransformer:
    """One layer whose attention writes nothing and whose three neurons have the
    hyperplanes x_0 = 0, x_1 = 0 and x_2 = 5 in the residual stream."""
    cfg = HookedTransformerConfig(n_layers=1, d_model=4, n_heads=1, d_head=4, d_mlp=3,
                                  act_fn=act_fn, d_vocab=TASK.d_vocab, d_vocab_out=TASK.p,
                                  n_ctx=3, normalization_type=None)  # fmt: skip
    model = HookedTransformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        w_in = torch.zeros(4, 3)
        w_in[0, 0] = w_in[1, 1] = w_in[2, 2] = 1.0
        model.blocks[0].mlp.W_in.copy_(w_in)
        model.blocks[0].mlp.b_in.copy_(torch.tensor([0.0, 0.0, -5.0]))
        model.W_E[TASK.eq_token] = torch.tensor([3.0, 3.0, 0.0, 0.0])  # far from all three
    return model


def points(*pairs: tuple[list[float], list[float]]) -> torch.Tensor:
    return torch.tensor([[a, b] for a, b in pairs], dtype=torch.float32)


@pytest.mark.parametrize("act_fn", ["relu", "gelu"])
def test_hand_placed_hyperplanes_are_counted(act_fn):
    model = placed(act_fn)
    x = points(
        ([1, 1, 0, 0], [2, -1, 0, 0]),  # far from every hyperplane
        ([0, 0, 0, 1], [1, 1, 0, 0]),  # a lies on x_0 = 0 and x_1 = 0
        ([1, 1, 0, 0], [1, 1, 5, 0]),  # b lies on x_2 = 5
        ([0, 0, 5, 0], [0, 2, 5, 0]),  # a on all three, b on two
    )
    counts, per = density(model, TASK, x, r=1e-3, n=8)  # n = 8 spans the whole space
    assert counts[:, 0].tolist() == [0, 2, 1, 5]
    assert torch.allclose(per[:, 0], counts[:, 0].double() / (3 * 3))  # 3 positions x 3
    final, _ = density(model, TASK, x, r=1e-3, n=8, positions="final")
    assert final.sum() == 0  # the = position sees only its own, constant embedding
    # a frame spanning R^8 has, along every axis, a direction of component >= 1/sqrt(8):
    # a radius of 100 reaches every hyperplane at both operand positions
    wide, _ = density(model, TASK, x, r=100.0, n=8)
    assert wide[:, 0].tolist() == [6, 6, 6, 6]


def test_batched_equals_one_point_at_a_time():
    run = load_run("checkpoints/mainline.pt")
    model = model_from_run(run, 2000)
    x = torch.randn(7, 2, 128) * 0.5
    batched, _ = density(model, run.task, x, n=10)
    single = torch.cat([density(model, run.task, x[i : i + 1], n=10, chunk=1)[0]
                        for i in range(len(x))])  # fmt: skip
    assert torch.equal(batched, single)


def test_frame_is_orthonormal_and_seeded():
    v = frame(16, 5, r=0.05, seed=3)
    u = v[:5] / 0.05
    assert v.shape == (10, 16) and torch.allclose(v[5:], -v[:5])
    assert torch.allclose(u @ u.T, torch.eye(5), atol=1e-6)
    assert torch.equal(v, frame(16, 5, r=0.05, seed=3))
    with pytest.raises(ValueError, match="n \\(directions\\)"):
        frame(4, 5)


def test_attention_only_model_is_refused():
    cfg = HookedTransformerConfig(n_layers=1, d_model=4, n_heads=1, d_head=4, attn_only=True,
                                  d_vocab=TASK.d_vocab, d_vocab_out=TASK.p, n_ctx=3)  # fmt: skip
    with pytest.raises(AnalysisError, match="no MLP"):
        density(HookedTransformer(cfg), TASK, torch.zeros(1, 2, 4))


def test_mainline_density_falls_around_training_points_as_it_groks():
    run = load_run("checkpoints/mainline.pt")
    frame_ = circuit_density_over_training(run, steps=[1000, 40000], n_points=60)
    train = frame_[frame_["set"] == "train"].set_index("epoch")["count"]
    assert train[40000.0] < 0.85 * train[1000.0]
    res = circuit_density(model_from_run(run), run.task, run.train_idx, n_points=20)
    assert res.sets == ("train", "test", "random") and len(res.table()) == 3
