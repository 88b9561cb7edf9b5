"""The table forward equals HookedTransformer's last-position logits."""

import copy

import pytest
import torch

from grok_interp import fast
from grok_interp.models import preset
from grok_interp.runs import load_model
from grok_interp.tasks import Task

from .conftest import CHUGHTAI, NANDA_LOW_PRECISION, external, randomize


def _compare(model, task):
    """In float64 the table forward is TransformerLens' forward up to summation order
    (measured 1e-15 of the largest logit); in float32 it is as accurate as TransformerLens'
    own float32 forward, both measured against float64 (each ~4e-7 of the largest logit)."""
    tokens = task.tokens()
    with torch.no_grad():
        model64 = copy.deepcopy(model).to(torch.float64)
        ref = model64(tokens)[:, -1]
        scale = ref.abs().max().item()
        exact = fast.model_last_logits(model64, tokens)
        torch.testing.assert_close(exact, ref, rtol=0, atol=1e-12 * scale)
        err_plain = (model(tokens)[:, -1].double() - ref).abs().max().item()
        err_fast = (fast.model_last_logits(model, tokens).double() - ref).abs().max().item()
    assert err_fast <= 2 * err_plain + 2**-24 * scale, (err_fast, err_plain)


@pytest.mark.parametrize("fmt", ["a b =", "a o b ="])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_random_weights(fmt, act):
    from grok_interp.models import build_model

    task = Task(p=17, token_format=fmt)
    model = build_model(preset("small", act_fn=act, frozen_biases=False), task, seed=0)
    randomize(model)
    assert fast.unsupported_reason(model, task.tokens()) is None
    _compare(model, task)


@pytest.mark.parametrize("path", [CHUGHTAI, NANDA_LOW_PRECISION])
def test_trained_weights(path):
    model, task = load_model(external(path))
    _compare(model, task)


def test_gradients_match(tiny_model, tiny_task):
    randomize(tiny_model)
    for p in tiny_model.parameters():
        p.requires_grad_(True)
    tokens, labels = tiny_task.tokens(), tiny_task.labels()
    grads = []
    for f in (lambda t: tiny_model(t)[:, -1], lambda t: fast.model_last_logits(tiny_model, t)):
        tiny_model.zero_grad()
        torch.nn.functional.cross_entropy(f(tokens), labels).backward()
        grads.append({n: p.grad.clone() for n, p in tiny_model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)


def test_batched_models_equal_single():
    from grok_interp.models import build_model

    task = Task(p=11)
    models = [build_model(preset("small"), task, seed=s) for s in range(3)]
    tokens = task.tokens().expand(3, -1, -1)
    with torch.no_grad():
        batched = fast.last_logits(fast.stacked_params(models), tokens)
        for i, m in enumerate(models):
            torch.testing.assert_close(batched[i], m(task.tokens())[:, -1], rtol=1e-4, atol=1e-5)


def test_falls_back_for_two_layers():
    from grok_interp.models import build_model

    task = Task(p=7)
    model = build_model(preset("small", n_layers=2), task)
    assert "2 layers" in fast.unsupported_reason(model)
    _compare(model, task)
