"""Reusable TransformerLens hook functions for interventions.

Each factory returns a function ``hook(activation, hook) -> activation`` for
``model.run_with_hooks(tokens, fwd_hooks=[(name, fn)])`` or ``model.hooks(...)``, so every
intervention works on any HookedTransformer, not only on models trained here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from transformer_lens.hook_points import HookPoint

HookFn = Callable[[Tensor, HookPoint], Tensor]


def dropout_hook(p: float, generator: torch.Generator | None = None) -> HookFn:
    """Inverted dropout with probability ``p`` (Nanda et al. App. D.1: dropout on neurons)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:
        keep = torch.full_like(act, 1 - p)
        return act * torch.bernoulli(keep, generator=generator) / (1 - p)

    return hook
