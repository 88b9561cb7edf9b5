"""StableMax cross-entropy and softmax collapse (Prieto et al. 2025) on hand-computed values."""

import math

import pytest
import torch

from grok_interp.losses import softmax_collapse, stablemax_cross_entropy, stablemax_s


def test_stablemax_ramp():
    x = torch.tensor([-3.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(stablemax_s(x), torch.tensor([0.25, 0.5, 1.0, 3.0]).double())


def test_stablemax_cross_entropy_hand_computed():
    # s = (1, 2, 0.5): p(label 1) = 2 / 3.5 = 4/7; s = (3, 1, 1/3): p(label 0) = 9/13
    logits = torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, -2.0]])
    loss = stablemax_cross_entropy(logits, torch.tensor([1, 0]))
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx((math.log(7 / 4) + math.log(13 / 9)) / 2, rel=1e-12)
    stacked = stablemax_cross_entropy(
        torch.stack([logits, logits.flip(0)]), torch.tensor([[1, 0], [0, 1]])
    )
    torch.testing.assert_close(stacked, torch.stack([loss, loss]))  # one loss per stacked model


def test_stablemax_has_a_gradient_where_softmax_collapses():
    logits = torch.tensor([[0.0, 40.0, -40.0]], requires_grad=True)
    stablemax_cross_entropy(logits, torch.tensor([1])).backward()
    assert logits.grad is not None and logits.grad[0, 1] < 0  # the correct logit still rises
    soft = logits.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(soft, torch.tensor([1])).backward()
    assert soft.grad is not None and soft.grad[0, 1] == 0  # float32: p = 1, p - 1 = 0


def test_softmax_collapse_thresholds():
    # float32: 1 + x == 1 for x <= 2^-24 = 5.96e-8; exp(-16) = 1.1e-7 stays, exp(-17) = 4.1e-8
    # is absorbed. float64: up to 2^-53 = 1.1e-16, exp(-36) = 2.3e-16 stays, exp(-37) goes.
    gaps = torch.tensor([16.0, 17.0, 36.0, 37.0])
    logits = torch.stack([torch.zeros(4), -gaps], 1)
    assert softmax_collapse(logits, "float32") == 0.75
    assert softmax_collapse(logits, "float64") == 0.25
    assert softmax_collapse(torch.zeros(3, 5)) == 0.0
    with pytest.raises(ValueError, match="precision must be one of"):
        softmax_collapse(logits, "float8")
