"""Reusable TransformerLens hook functions for interventions.

Each factory returns a function ``hook(activation, hook) -> activation`` for
``model.run_with_hooks(tokens, fwd_hooks=[(name, fn)])`` or ``model.hooks(...)``, so every
intervention works on any HookedTransformer or TransformerBridge, not only on models
trained here. Each writes where its maths needs under both TransformerLens majors
(:mod:`grok_interp.tl` lists where their hooks differ).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens.hook_points import HookPoint

HookFn = Callable[[Tensor, HookPoint], Tensor]


def dropout_hook(p: float, generator: torch.Generator | None = None) -> HookFn:
    """Inverted dropout with probability ``p`` (Nanda et al. App. D.1: dropout on neurons)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        keep = torch.full_like(act, 1 - p)
        return act * torch.bernoulli(keep, generator=generator) / (1 - p)

    return hook


def replace_last(
    values: Float[Tensor, "batch d"],
    index: Bool[Tensor, " d"] | Int[Tensor, " n"] | slice = slice(None),
) -> HookFn:
    """Set the last position's ``act[:, -1, index]`` to ``values[:, index]``.

    Used to swap neurons for their fitted polynomials (Nanda et al. Section 4.4)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        act = act.clone()
        act[:, -1, index] = values[:, index].to(act)
        return act

    return hook


def project_last(projector: Float[Tensor, "d d"],
                 mean: Float[Tensor, " d"] | None = None) -> HookFn:  # fmt: skip
    """Replace the last position's activation ``x`` by ``x @ projector`` (Section 4.4);
    with ``mean``, by ``(x - mean) @ projector + mean``: the part of the mean outside the
    projector's range is kept, as the Nanda et al. authors' ``test_logits(...,
    bias_correction=True)`` does."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        act = act.clone()
        m = 0 if mean is None else mean.to(act)
        act[:, -1] = (act[:, -1] - m) @ projector.to(act) + m
        return act

    return hook


def ablate_last(mode: str) -> HookFn:
    """Zero- or mean-ablate the last position's activation (mean over the batch)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        act = act.clone()
        act[:, -1] = 0 if mode == "zero" else act[:, -1].mean(0, keepdim=True)
        return act

    return hook


def store(cache: dict[str, Float[Tensor, "..."]], key: str | None = None) -> HookFn:
    """Keep the activation under ``key`` (default: its hook's name, which on a
    TransformerBridge is the canonical one, not the alias it was added under), unchanged
    (for a later hook to use)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        cache[key or str(hook.name)] = act
        return act

    return hook


def ablate_stored_term(cache: dict[str, Float[Tensor, "..."]], name: str, mode: str) -> HookFn:
    """Zero- or mean-ablate one summand of a residual stream at the last position.

    ``resid_post = resid_mid + mlp_out``: removing the stored ``resid_mid`` from
    ``resid_post`` zero-ablates the skip connection around the MLP (Appendix A.1);
    adding back its mean over the batch mean-ablates it.
    """

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        term = cache[name][:, -1]
        act = act.clone()
        act[:, -1] -= term if mode == "zero" else term - term.mean(0, keepdim=True)
        return act

    return hook


def set_pattern_last(pattern: Float[Tensor, "batch head key"]) -> HookFn:
    """Overwrite the attention pattern of the last query position (batch, head, key)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        act = act.clone()
        act[:, :, -1, :] = pattern.to(act)
        return act

    return hook


def pattern_last_hooks(
    layer: int, pattern: Float[Tensor, "batch head key"], pos: int = -1
) -> list[tuple[str, HookFn]]:
    """The attention of the query position ``pos`` (the last by default: a layout's
    answer position) replaced by ``pattern`` (batch, head, key):
    ``z = pattern v`` there, recomputed from the cached values and written at
    ``hook_z``. (Not at ``hook_pattern``: 3.9's TransformerBridge ignores writes to it.)"""
    values: list[Tensor] = []  # (batch, key, head, d_head); a bridge names hooks its own way
    at = f"blocks.{layer}.attn."

    def keep_v(act: Tensor, hook: HookPoint) -> Tensor:
        values[:] = [act]
        return act

    def write_z(act: Tensor, hook: HookPoint) -> Tensor:
        act = act.clone()
        act[:, pos] = torch.einsum("bhk,bkhe->bhe", pattern.to(values[0]), values[0]).to(act)
        return act

    return [(at + "hook_v", keep_v), (at + "hook_z", write_z)]


def attention_rate(rate: float, causal: bool = True) -> HookFn:
    """Zhong et al. (2023)'s attention rate on ``attn.hook_pattern``: ``rate * softmax +
    (1 - rate)`` on every key the query may attend to (all keys when not ``causal``).

    The authors' ``Attention.forward`` (fjzzq2002/pizza, ``code/train-main.py``) computes
    ``softmax(scores) * attn_coeff + (1 - attn_coeff)`` with no causal mask, so rate 1 is
    ordinary attention and rate 0 is constant ("uniform") attention of weight 1 on every
    position (rows then sum to the number of keys, not 1, as theirs do). With a causal
    mask the last position still sees every key, so a 1-layer model's output is theirs;
    earlier positions keep the mask."""
    if not 0 <= rate <= 1:
        raise ValueError(f"the attention rate lies in [0, 1] (1: learned attention), got {rate}")

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        q, k = act.shape[-2:]
        allowed = torch.ones(q, k, dtype=act.dtype, device=act.device)
        if causal:
            allowed = allowed.tril(k - q)
        return act * rate + (1 - rate) * allowed

    return hook
