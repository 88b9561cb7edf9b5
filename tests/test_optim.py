"""⊥Grad, Grokfast-EMA and the NLM alignment against hand-computed steps, and their
state dicts resuming a run bit for bit."""

import io

import pytest
import torch

from grok_interp.models import build_model, preset
from grok_interp.optim import GrokfastEMA, OrthoGrad, nlm_alignment
from grok_interp.tasks import Task


def _param(w, g):
    p = torch.nn.Parameter(torch.tensor(w))
    p.grad = torch.tensor(g)
    return p


def test_orthograd_sgd_step_hand_computed():
    # w = (3, 4), g = (1, 0): g - (3/25) w = (0.64, -0.48), norm 0.8 -> rescaled (0.8, -0.6)
    p = _param([3.0, 4.0], [1.0, 0.0])
    OrthoGrad([p], torch.optim.SGD, lr=0.1).step()
    torch.testing.assert_close(p.detach(), torch.tensor([2.92, 4.06]))


def test_orthograd_adamw_step_hand_computed():
    # Adam's first step moves each coordinate by lr * g / (|g| + eps) = lr * sign(g_perp);
    # weight decay first shrinks w by (1 - lr * wd)
    p = _param([3.0, 4.0], [1.0, 0.0])
    OrthoGrad([p], torch.optim.AdamW, lr=0.1, weight_decay=0.5, betas=(0.9, 0.98)).step()
    expected = torch.tensor([3.0, 4.0]) * (1 - 0.1 * 0.5) + torch.tensor([-0.1, 0.1])
    torch.testing.assert_close(p.detach(), expected, atol=1e-6, rtol=0)


def test_orthograd_zero_weights_keep_gradient():
    p = _param([0.0, 0.0], [1.0, 2.0])
    OrthoGrad([p], torch.optim.SGD, lr=1.0).step()
    torch.testing.assert_close(p.detach(), torch.tensor([-1.0, -2.0]))


def test_grokfast_ema_hand_computed():
    model = torch.nn.Linear(2, 1, bias=False)
    filt = GrokfastEMA(alpha=0.5, lamb=2.0)
    model.weight.grad = torch.tensor([[1.0, 0.0]])
    filt(model)  # ema = g1 = (1, 0); g1 + 2 ema = (3, 0)
    torch.testing.assert_close(model.weight.grad, torch.tensor([[3.0, 0.0]]))
    model.weight.grad = torch.tensor([[0.0, 1.0]])
    filt(model)  # ema = (0.5, 0.5); g2 + 2 ema = (1, 2)
    torch.testing.assert_close(model.weight.grad, torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="alpha"):
        GrokfastEMA(alpha=1.0)


def test_nlm_alignment_hand_computed():
    w = _param([3.0, 4.0], [-3.0, -4.0])  # descent along +w: cosine 1
    assert nlm_alignment([w]) == pytest.approx(1.0)
    a, b = _param([1.0, 0.0], [0.0, 0.0]), _param([0.0], [-1.0])  # w = (1,0,0), -g = (0,0,1)
    assert nlm_alignment([a, b]) == pytest.approx(0.0)
    c = _param([1.0, 1.0], [-1.0, 0.0])  # cos 45 degrees
    assert nlm_alignment([c]) == pytest.approx(2**-0.5)
    with pytest.raises(ValueError, match="backward"):
        nlm_alignment([torch.nn.Parameter(torch.ones(2))])


def test_orthograd_removes_the_nlm_component():
    model = build_model(preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32), Task(p=7))
    task = Task(p=7)
    loss = torch.nn.functional.cross_entropy(model(task.tokens())[:, -1], task.labels())
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        OrthoGrad.project(p)
        w, g = p.detach().reshape(-1), p.grad.reshape(-1)
        assert torch.dot(w, g).abs() <= 1e-5 * w.norm() * g.norm() + 1e-12


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _train(steps, model=None, opt_state=None, filt_state=None, sched_state=None):
    task = Task(p=7)
    spec = preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32)
    model = model or build_model(spec, task, seed=0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = OrthoGrad(params, torch.optim.AdamW, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(s / 6, 1)
    )  # still warming at the cut
    filt = GrokfastEMA(alpha=0.9, lamb=2.0)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
        sched.load_state_dict(sched_state)
        filt.load_state_dict(filt_state)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(task.tokens())[:, -1], task.labels()).backward()
        filt(model)
        opt.step()
        sched.step()
    states = (_roundtrip(opt.state_dict()), _roundtrip(filt.state_dict()), sched.state_dict())
    return model, states


def test_resume_is_bit_for_bit():
    full, _ = _train(8)
    half, (opt_state, filt_state, sched_state) = _train(4)
    resumed = build_model(preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32), Task(p=7))
    resumed.load_state_dict(_roundtrip(half.state_dict()))
    resumed, _ = _train(4, resumed, opt_state, filt_state, sched_state)
    ours = resumed.state_dict()
    for name, a in full.state_dict().items():
        assert torch.equal(a, ours[name]), name
    # and the warm-up really ran: a run restarted without the optimizer state differs
    fresh, _ = _train(4, half)
    assert not torch.equal(fresh.W_E, full.W_E)
