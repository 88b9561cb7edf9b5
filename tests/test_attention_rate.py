"""Zhong et al. (2023)'s attention rate: the hook on hand-built patterns, and the model
option through training, a Run file and the analyses."""

from dataclasses import replace

import pytest
import torch
from transformer_lens.hook_points import HookPoint

from grok_interp.fast import unsupported_reason
from grok_interp.hooks import attention_rate
from grok_interp.models import build_model, preset
from grok_interp.runs import load_model
from grok_interp.tasks import Task

TASK = Task(op="add", p=7)


def test_hook_on_a_hand_built_pattern():
    pattern = torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]])[None, None]
    out = attention_rate(0.25)(pattern, HookPoint())  # 0.25 * softmax + 0.75 where visible
    expected = torch.tensor([[1.0, 0, 0], [0.875, 0.875, 0], [0.8, 0.825, 0.875]])
    torch.testing.assert_close(out[0, 0], expected)
    both = attention_rate(0.0, causal=False)(pattern, HookPoint())  # the authors': no mask
    torch.testing.assert_close(both[0, 0], torch.ones(3, 3))
    torch.testing.assert_close(attention_rate(1.0)(pattern, HookPoint()), pattern)
    with pytest.raises(ValueError, match=r"lies in \[0, 1\]"):
        attention_rate(1.5)


def _pattern(model):
    _, cache = model.run_with_cache(TASK.tokens()[:5])
    return cache["blocks.0.attn.hook_pattern"]


def test_model_option_uniform_and_mixed():
    spec = preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32)
    learned = build_model(spec, TASK, seed=0)
    uniform = build_model(replace(spec, attention_rate=0.0), TASK, seed=0)
    half = build_model(replace(spec, attention_rate=0.5), TASK, seed=0)
    soft = _pattern(learned)
    assert not torch.allclose(soft[:, :, -1], torch.full_like(soft[:, :, -1], 1 / 3))
    torch.testing.assert_close(_pattern(uniform)[:, :, -1], torch.ones(5, 2, 3))
    torch.testing.assert_close(_pattern(half), 0.5 * soft + 0.5 * torch.ones(3, 3).tril())
    # a temporary hook and reset_hooks leave the permanent one in place
    uniform.run_with_hooks(TASK.tokens()[:1], fwd_hooks=[("hook_embed", lambda x, hook: x)])
    uniform.reset_hooks()
    torch.testing.assert_close(_pattern(uniform)[:, :, -1], torch.ones(5, 2, 3))
    with pytest.raises(ValueError, match="attention_rate"):
        replace(spec, attention_rate=-0.1)


def test_table_forward_refuses_a_hooked_model():
    spec = preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32)
    assert unsupported_reason(build_model(spec, TASK)) is None
    reason = unsupported_reason(build_model(replace(spec, attention_rate=0.0), TASK))
    assert reason is not None and "attention rate" in reason


def test_trained_run_keeps_its_rate(tmp_path):
    from grok_interp.training import RunSpec, TrainConfig, train

    spec = preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32, attention_rate=0.0)
    cfg = TrainConfig(epochs=3, eval_every=1)
    run = train(RunSpec(task=TASK, model=spec, train=cfg), out=tmp_path / "r.pt", progress=False)
    assert run.model.attention_rate == 0.0
    model, _ = load_model(tmp_path / "r.pt")
    torch.testing.assert_close(_pattern(model)[:, :, -1], torch.ones(5, 2, 3))


def test_cli_flag(tmp_path):
    from grok_interp.cli import main

    out = str(tmp_path / "u.pt")
    args = ["train", "--p", "7", "--preset", "small", "--attention-rate", "0", "--epochs", "2"]
    assert main([*args, "--out", out, "--quiet"]) == 0
    model, task = load_model(out)
    _, cache = model.run_with_cache(task.tokens()[:5])
    torch.testing.assert_close(cache["blocks.0.attn.hook_pattern"][:, :, -1], torch.ones(5, 4, 3))
