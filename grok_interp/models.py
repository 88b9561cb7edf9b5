"""Model presets and the one function that turns them into a HookedTransformer.

The ``mainline`` preset is the model of Nanda et al. 2023, Section 3: one layer,
d_model 128, 4 heads of d_head 32, d_mlp 512, ReLU, no LayerNorm, learned positional
embeddings, untied embed/unembed. The paper's model has no biases in the embedding,
attention or unembedding; TransformerLens' ``b_Q, b_K, b_V, b_O`` and ``b_U`` therefore
stay at zero and are frozen (``requires_grad=False``) by :func:`build_model`. The MLP
biases train. ``n_ctx``, ``d_vocab`` and ``d_vocab_out`` follow the task.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from grok_interp.tasks import Task

# Parameters that the paper's architecture does not have: kept at zero, never trained.
FROZEN_BIASES = ("attn.b_Q", "attn.b_K", "attn.b_V", "attn.b_O", "unembed.b_U")


@dataclass(frozen=True, kw_only=True)
class ModelPreset:
    """Shape of a HookedTransformer for an algorithmic task (vocabulary comes from the task)."""

    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act_fn: Literal["relu", "gelu"] = "relu"
    normalization: Literal["LN"] | None = None
    frozen_biases: bool = True
    attn_only: bool = False  # no MLPs (d_mlp is then unused)

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.act_fn not in ("relu", "gelu"):
            raise ValueError(f"act_fn must be 'relu' or 'gelu', got {self.act_fn!r}")


PRESETS: dict[str, ModelPreset] = {
    "mainline": ModelPreset(),
    # The small model of the foundation tests: groks on p = 31 in about a minute.
    "small": ModelPreset(d_model=64, n_heads=4, d_head=16, d_mlp=256),
    "two_layer": ModelPreset(n_layers=2),
}


def preset(name: str, **overrides: Any) -> ModelPreset:
    """A registered preset, with any field replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


def to_config(
    spec: ModelPreset, task: Task, device: str | torch.device = "cpu"
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
    spec: ModelPreset, task: Task, *, seed: int = 0, device: str | torch.device = "cpu"
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
    return model


def freeze_biases(model: HookedTransformer) -> None:
    """Zero and freeze the biases the paper's architecture lacks (see module docstring)."""
    for name, param in model.named_parameters():
        if name.endswith(FROZEN_BIASES):
            param.requires_grad_(False)
            param.data.zero_()


def preset_dict(spec: ModelPreset) -> dict[str, Any]:
    return asdict(spec)
