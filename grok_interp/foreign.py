"""Checkpoints trained by other code, converted to a transformer and a Task.

Two layouts are recognised from the tensors themselves:

- **TransformerLens state dicts**, including early TransformerLens files with extra
  non-parameter keys (``x_embed``, ``y_embed``, ``blocks.0.attn.mask``, ``IGNORE``) and
  trained attention/unembedding biases. Extra keys are dropped; biases are kept.
- **The Nanda et al. authors' own format** (``progress-measures-paper/transformers.py``):
  a dict whose ``model`` entry stores weights transposed, ``W_O`` as one
  ``(d_model, n_heads*d_head)`` matrix, no attention or unembedding biases, and an
  unembedding over all ``p + 1`` tokens, of which the first ``p`` columns are kept.

The model's shape comes from the tensors. What the tensors cannot tell is assumed unless
the caller gives it, and each assumption is returned in words (:func:`model_from_foreign`;
``analyze()`` prints them in its report):

- the task: ``add`` with ``p = d_vocab_out`` and the token layout the vocabulary and
  context imply (``p + 1`` tokens and 3 positions: ``a b =``; ``p + 2`` and 4:
  ``a o b =``); pass ``task=``;
- the MLP's activation: ReLU (the Nanda et al. authors' and Chughtai et al.'s models use
  it; a state dict does not store it, and a GELU model read as ReLU gives other logits);
  pass ``act_fn=``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grok_interp import tl
from grok_interp.errors import CheckpointError
from grok_interp.models import ModelPreset, StateDict, build_model, load_params
from grok_interp.tasks import Task, TaskError
from grok_interp.tl import Model

ACT_FNS = ("relu", "gelu")


def _state_dict_of(obj: Any, path: str | Path) -> StateDict:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if isinstance(obj, dict) and "blocks.0.attn.q.weight" in obj:
        raise CheckpointError(
            f"{path} is a TransformerBridge state dict, which does not store the head count; "
            "save grok_interp.tl.hooked_state_dict(model) instead, or convert it with "
            "grok_interp.tl.to_hooked_state(state_dict, n_heads)"
        )
    if not (isinstance(obj, dict) and "embed.W_E" in obj):
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{path} is neither a grok_interp run nor a known checkpoint (no 'embed.W_E'; "
            f"found {keys}). Supported: Run files, TransformerLens state dicts, and the "
            "Nanda et al. authors' format"
        )
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


def _from_authors_layout(sd: StateDict) -> StateDict:
    """Nanda et al.'s ``transformers.py`` layout -> TransformerLens (fixtures README table)."""
    out: StateDict = {
        "embed.W_E": sd["embed.W_E"].T,
        "pos_embed.W_pos": sd["pos_embed.W_pos"],
        "unembed.W_U": sd["unembed.W_U"][:, : sd["embed.W_E"].shape[1] - 1],
    }
    for i in range(_n_layers(sd)):
        b = f"blocks.{i}."
        n_heads, d_head, _ = sd[b + "attn.W_Q"].shape
        for w in ("W_Q", "W_K", "W_V"):
            out[b + "attn." + w] = sd[b + "attn." + w].transpose(1, 2)
        w_o = sd[b + "attn.W_O"]
        out[b + "attn.W_O"] = w_o.reshape(w_o.shape[0], n_heads, d_head).permute(1, 2, 0)
        out[b + "mlp.W_in"] = sd[b + "mlp.W_in"].T
        out[b + "mlp.W_out"] = sd[b + "mlp.W_out"].T
        out[b + "mlp.b_in"] = sd[b + "mlp.b_in"]
        out[b + "mlp.b_out"] = sd[b + "mlp.b_out"]
    return out


def _n_layers(sd: StateDict) -> int:
    return sum(1 for k in sd if k.endswith("attn.W_Q"))


def _preset_from_shapes(sd: StateDict) -> ModelPreset:
    try:
        n_heads, d_model, d_head = sd["blocks.0.attn.W_Q"].shape
        attn_only = "blocks.0.mlp.W_in" not in sd
        d_mlp = 4 * d_model if attn_only else sd["blocks.0.mlp.W_in"].shape[1]
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"state dict shapes fit no supported layout ({e})") from e
    has_ln = any(".ln1." in k or ".ln2." in k for k in sd)
    return ModelPreset(
        n_layers=_n_layers(sd),
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        normalization="LN" if has_ln else None,
        frozen_biases=False,
        attn_only=attn_only,
    )


def _task_from_shapes(sd: StateDict) -> Task:
    d_vocab = sd["embed.W_E"].shape[0]
    p = sd["unembed.W_U"].shape[1]
    n_ctx = sd["pos_embed.W_pos"].shape[0]
    for fmt in ("a b =", "a o b ="):
        task = Task(op="add", p=p, token_format=fmt)  # type: ignore[arg-type]
        if (task.d_vocab, task.n_ctx) == (d_vocab, n_ctx):
            return task
    raise CheckpointError(
        f"cannot infer the task: d_vocab={d_vocab}, d_vocab_out={p}, n_ctx={n_ctx} match "
        "neither 'a b =' (p+1 tokens, 3 positions) nor 'a o b =' (p+2, 4); give the task"
    )


def model_from_foreign(
    obj: Any,
    path: str | Path,
    *,
    task: Task | None = None,
    act_fn: str | None = None,
    device: str | torch.device = "cpu",
) -> tuple[Model, Task, list[str]]:
    """Convert a loaded foreign checkpoint (see module docstring) to a HookedTransformer;
    also returns the assumptions made, in words."""
    sd = _state_dict_of(obj, path)
    w_o = sd.get("blocks.0.attn.W_O")
    if w_o is not None and w_o.ndim == 2:
        sd = _from_authors_layout(sd)
    if act_fn is not None and act_fn not in ACT_FNS:
        raise CheckpointError(f"act_fn must be one of {', '.join(ACT_FNS)}; got {act_fn!r}")
    assumed = []
    if act_fn is None:
        assumed.append("activation ReLU assumed (a state dict does not store it; give act_fn)")
    spec = replace(_preset_from_shapes(sd), act_fn=act_fn or "relu")  # type: ignore[arg-type]
    if task is None:
        try:
            task = _task_from_shapes(sd)
        except TaskError as e:
            raise CheckpointError(f"{path}: {e}; give the task") from e
        assumed.append(
            f"task {task.describe()} assumed from the shapes (d_vocab, n_ctx); give the task"
        )
    model = build_model(spec, task, device=device)
    own = tl.hooked_params(model)
    for name, value in own.items():
        if name in sd and sd[name].shape != value.shape:
            raise CheckpointError(
                f"{path}: state dict shapes fit no supported layout: {name} is "
                f"{tuple(sd[name].shape)}, expected {tuple(value.shape)} for {task.describe()}"
            )
    params = {n: sd.get(n, torch.zeros_like(p)) for n, p in own.items()}
    missing = [n for n in params if n not in sd and not n.split(".")[-1].startswith("b_")]
    if missing:
        raise CheckpointError(f"{path}: state dict lacks {missing[:5]}; not a supported layout")
    load_params(model, params)
    return model.eval(), task, assumed
