"""Model presets and the one function that turns them into a HookedTransformer.

The ``mainline`` preset is the model of Nanda et al. 2023, Section 3: one layer,
d_model 128, 4 heads of d_head 32, d_mlp 512, ReLU, no LayerNorm, learned positional
embeddings, untied embed/unembed. The paper's model has no biases in the embedding,
attention or unembedding; TransformerLens' ``b_Q, b_K, b_V, b_O`` and ``b_U`` therefore
stay at zero and are frozen (``requires_grad=False``) by :func:`build_model`. The MLP
biases train. ``n_ctx``, ``d_vocab`` and ``d_vocab_out`` follow the task. ``attention_rate`` below 1
(Zhong et al. 2023's ``attn_coeff``) is a permanent hook on every layer's attention
pattern (:func:`grok_interp.hooks.attention_rate`), so every forward, training and
analyses alike, uses it, and a model rebuilt from its Run has it again.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Any

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from grok_interp.config import PRESETS, ModelPreset, preset
from grok_interp.hooks import attention_rate
from grok_interp.parity import ParityTask
from grok_interp.sequences import SeqTask
from grok_interp.tasks import Task

__all__ = ["PRESETS", "ModelPreset", "preset", "build_model", "to_config"]

# Parameters that the paper's architecture does not have: kept at zero, never trained.
FROZEN_BIASES = ("attn.b_Q", "attn.b_K", "attn.b_V", "attn.b_O", "unembed.b_U")


def to_config(
    spec: ModelPreset, task: Task | SeqTask | ParityTask, device: str | torch.device = "cpu"
) -> HookedTransformerConfig:
    """The HookedTransformerConfig of ``spec`` on ``task`` (pure: no RNG, no side effect)."""
    return HookedTransformerConfig(
        n_layers=spec.n_layers,
        d_model=spec.d_model,
        n_heads=spec.n_heads,
        d_head=spec.d_head,
        d_mlp=spec.d_mlp,
        act_fn=spec.act_fn,
        normalization_type=spec.normalization,
        attn_only=spec.attn_only,
        d_vocab=task.d_vocab,
        d_vocab_out=task.d_vocab_out,
        n_ctx=task.n_ctx,
        positional_embedding_type="standard",
        device=str(device),
        default_prepend_bos=False,
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, or a ValueError that says what this machine has
    (rather than torch's error from deep inside the first tensor moved there)."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'") from None
    have = torch.cuda.device_count()  # 0 with a CPU-only torch
    if dev.type == "cuda" and (dev.index or 0) >= have:
        raise ValueError(
            f"device {str(dev)!r} is not available: this machine has {have} CUDA device(s)"
            f"{'' if have else ' or a CPU-only torch'}; use 'cpu'"
        )
    return dev


def build_model(
    spec: ModelPreset,
    task: Task | SeqTask | ParityTask,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> HookedTransformer:
    """A freshly initialised HookedTransformer; seeded without touching the global RNG."""
    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # transformer-lens 3.x warns on every HookedTransformer that 4.0 removes it; the
        # dependency is pinned below 4, so the warning says nothing a user can act on.
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        torch.manual_seed(seed)
        model = HookedTransformer(to_config(spec, task, device), move_to_device=True)
    if spec.frozen_biases:
        freeze_biases(model)
    if spec.attention_rate != 1:
        causal = model.cfg.attention_dir == "causal"
        for i in range(spec.n_layers):
            hook = attention_rate(spec.attention_rate, causal)
            # TransformerLens calls hooks as hook(act, hook=point), which ours accept
            model.add_perma_hook(f"blocks.{i}.attn.hook_pattern", hook)  # type: ignore[arg-type]
    return model


def freeze_biases(model: HookedTransformer) -> None:
    """Zero and freeze the biases the paper's architecture lacks (see module docstring)."""
    for name, param in model.named_parameters():
        if name.endswith(FROZEN_BIASES):
            param.requires_grad_(False)
            param.data.zero_()


def preset_dict(spec: ModelPreset) -> dict[str, Any]:
    return asdict(spec)
