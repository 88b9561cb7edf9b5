"""Model presets and the one function that turns them into a transformer: a
HookedTransformer on TransformerLens 3.x, a native TransformerBridge on 4.x
(:mod:`grok_interp.tl`).

The ``mainline`` preset is the model of Nanda et al. 2023, Section 3: one layer,
d_model 128, 4 heads of d_head 32, d_mlp 512, ReLU, no LayerNorm, learned positional
embeddings, untied embed/unembed. The paper's model has no biases in the embedding,
attention or unembedding; TransformerLens' ``b_Q, b_K, b_V, b_O`` and ``b_U`` therefore
stay at zero and are frozen (``requires_grad=False``) by :func:`build_model` (named as
HookedTransformer names them, under either major). The MLP biases train. ``n_ctx``,
``d_vocab`` and ``d_vocab_out`` follow the task. ``attention_rate`` below 1
(Zhong et al. 2023's ``attn_coeff``) is a permanent hook on every layer's attention
pattern (:func:`grok_interp.hooks.attention_rate`), so every forward, training and
analyses alike, uses it, and a model rebuilt from its Run has it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor

from grok_interp import tl
from grok_interp.config import PRESETS, ModelPreset, preset
from grok_interp.errors import CheckpointError
from grok_interp.hooks import attention_rate

__all__ = ["PRESETS", "ModelPreset", "StateDict", "preset", "build_model", "load_params",
           "to_config"]  # fmt: skip

StateDict = tl.StateDict


@runtime_checkable
class TaskShape(Protocol):
    """What a transformer reads of its task, whatever the family: the vocabularies and
    the context length."""

    @property
    def d_vocab(self) -> int: ...
    @property
    def d_vocab_out(self) -> int: ...
    @property
    def n_ctx(self) -> int: ...

# Parameters that the paper's architecture does not have: kept at zero, never trained.
FROZEN_BIASES = ("attn.b_Q", "attn.b_K", "attn.b_V", "attn.b_O", "unembed.b_U")


def to_config(
    spec: ModelPreset, task: TaskShape, device: str | torch.device = "cpu"
) -> Any:
    """The installed TransformerLens' config of ``spec`` on ``task`` (pure: no RNG, no
    side effect): a HookedTransformerConfig on 3.x, a TransformerBridgeConfig on 4.x."""
    return tl.config(
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
        device=str(device),
        # a layout without a causal mask (Zhong et al.'s models; grok_interp.layouts)
        **({} if getattr(task, "causal", True) else {"attention_dir": "bidirectional"}),
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
    task: TaskShape,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tl.Model:
    """A freshly initialised transformer (:mod:`grok_interp.tl`); seeded without touching
    the global RNG."""
    device = resolve_device(device)
    model = tl.build(to_config(spec, task, device), seed)
    if spec.frozen_biases:
        freeze_biases(model)
    if spec.attention_rate != 1:
        causal = model.cfg.attention_dir == "causal"
        for i in range(spec.n_layers):
            hook = attention_rate(spec.attention_rate, causal)
            # TransformerLens calls hooks as hook(act, hook=point), which ours accept
            model.add_perma_hook(f"blocks.{i}.attn.hook_pattern", hook)  # type: ignore[arg-type]
    return model


def freeze_biases(model: tl.Model) -> None:
    """Zero and freeze the biases the paper's architecture lacks (see module docstring)."""
    tl.frozen_zero(model, FROZEN_BIASES)


def preset_dict(spec: ModelPreset) -> dict[str, Any]:
    return asdict(spec)


def load_params(model: torch.nn.Module, params: StateDict) -> None:
    """Copy saved parameters, frozen ones included, into ``model`` (a transformer or
    a toy model; buffers such as attention masks are kept). ``params`` are named and laid
    out as a HookedTransformer's, whichever kind ``model`` is (:mod:`grok_interp.tl`)."""
    if tl.is_bridge(model):
        try:
            return tl.load_hooked(model, params)
        except KeyError as e:
            raise CheckpointError(e.args[0]) from None
    dtype = next(model.parameters()).dtype
    own = dict(model.named_parameters())
    missing = set(own) - set(params)
    if missing:
        raise CheckpointError(f"checkpoint lacks parameters {sorted(missing)[:5]}")
    with torch.no_grad():
        for name, p in own.items():
            p.copy_(params[name].to(dtype))


def param_norm(params: Sequence[Float[Tensor, "..."]]) -> float:
    """The L2 norm of all trainable parameters together (Varma et al. 2023, Section 2)."""
    return math.sqrt(sum(float(p.detach().double().square().sum()) for p in params))
