"""Chughtai, Chan & Nanda (2023) checkpoints (bilal-chughtai/rep-theory-mech-interp,
``rep_theory/batch_experiments/<run>/``): a folder with ``model.pt`` and ``cfg.json``,
read into a TransformerLens transformer over our element order.

Recognised by content: ``cfg.json`` names a group (``"group": "SymmetricGroup"``,
``"group_parameter": 5``) and a ``"model"``; ``model.pt`` is a state dict of an early
TransformerLens ``HookedTransformer`` (``embed.W_E``, ``blocks.0.attn.W_Q``...) with the
entries their ``Transformer`` class adds (``x_embed``, ``y_embed``: copies of ``W_E``; the
attention's ``mask`` and ``IGNORE`` buffers).

Their architecture (``rep_theory/utils/models.py``, class ``Transformer``): a
``HookedTransformer`` with 1 layer, 4 heads of 32, d_model 128, d_mlp 512, ReLU, no
LayerNorm, TransformerLens' default causal attention, ``d_vocab = |G| + 1`` and
``d_vocab_out = |G|``, 3 positions; the input is ``x y =`` with ``=`` token |G|, and the
logits are read at the last position. Biases are present but frozen at their initial
zeros (``requires_grad = False`` for every ``b_``). The shapes here are read from the
tensors; the activation (ReLU) and the attention direction (causal) from their code,
since a state dict stores neither.

Element order. Their element i is ``chughtai_order(name)[i]`` of ours
(:func:`grok_interp.groups.chughtai_order`; for S_n and A_5 their sympy permutation's
inverse, since sympy composes the other way). The loader moves embedding row i and
unembedding column i (and ``b_U[i]``) to that index, so the model computes our
``table`` on our element tokens; ``=`` stays token |G|.

Their split (``Group.get_all_data``, ``generate_train_test_data``): all pairs
``(i, j)`` with index ``i |G| + j`` shuffled by ``torch.randperm`` after
``torch.manual_seed(seed)`` (no shuffle when the seed is 0), the first
``int(frac_train |G|^2)`` for training. :func:`chughtai_train_pairs` gives those pairs
as indices of ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp import tl
from grok_interp.errors import CheckpointError
from grok_interp.groups import Group, chughtai_order, group
from grok_interp.tl import Model, StateDict

GROUP_CLASSES = {"CyclicGroup": "C", "DihedralGroup": "D", "SymmetricGroup": "S",
                 "AlternatingGroup": "A"}  # fmt: skip
# The entries of their state dicts that are not HookedTransformer parameters.
EXTRA_SUFFIXES = ("x_embed", "y_embed", "attn.mask", "attn.IGNORE")
# Their Transformer's settings that a state dict does not store (module docstring).
ACT_FN = "relu"


def _folder(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def read_cfg(path: str | Path) -> dict[str, Any]:
    """Their ``cfg.json`` in the folder (or beside the file) given."""
    cfg_file = _folder(path) / "cfg.json"
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{cfg_file}: not a readable cfg.json ({err})") from None
    if not isinstance(cfg, dict) or "group" not in cfg or "group_parameter" not in cfg:
        raise CheckpointError(f"{cfg_file} names no group (no 'group' and 'group_parameter')")
    return cfg


def is_chughtai(path: str | Path) -> bool:
    """Whether ``path`` (a folder or its ``model.pt``) holds one of their checkpoints: a
    cfg.json naming a group and a model, and a state dict with their extra entries."""
    folder = _folder(path)
    try:
        cfg = read_cfg(folder)
        sd = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    except (CheckpointError, OSError, RuntimeError, ValueError):
        return False
    return "model" in cfg and isinstance(sd, Mapping) and {"x_embed", "embed.W_E"} <= set(sd)


def chughtai_group(cfg: Mapping[str, Any]) -> Group:
    """The group their cfg names (``SymmetricGroup`` 5 -> S5)."""
    letter = GROUP_CLASSES.get(str(cfg.get("group")))
    if letter is None:
        raise CheckpointError(f"unknown group {cfg.get('group')!r} in cfg.json: this package "
                              f"knows {', '.join(GROUP_CLASSES)}")  # fmt: skip
    try:
        return group(f"{letter}{int(cfg['group_parameter'])}")
    except ValueError as err:
        raise CheckpointError(f"cfg.json's group is not supported: {err}") from None


def chughtai_train_pairs(grp: Group, cfg: Mapping[str, Any]) -> Int[Tensor, " n_train"]:
    """Their train pairs (module docstring) as pair indices of ours (``x n + y``)."""
    n = grp.order
    seed = int(cfg["seed"])
    gen = torch.Generator().manual_seed(seed)
    shuffled = torch.randperm(n * n, generator=gen) if seed else torch.arange(n * n)
    theirs = shuffled[: int(float(cfg["frac_train"]) * n * n)]
    order = chughtai_order(grp.name)
    return order[theirs // n] * n + order[theirs % n]


def _shapes(sd: StateDict) -> dict[str, int]:
    n_heads, d_model, d_head = sd["blocks.0.attn.W_Q"].shape
    return {
        "n_layers": len({k.split(".")[1] for k in sd if k.startswith("blocks.")}),
        "d_model": d_model, "n_heads": n_heads, "d_head": d_head,
        "d_mlp": sd["blocks.0.mlp.W_in"].shape[1], "d_vocab": sd["embed.W_E"].shape[0],
        "d_vocab_out": sd["unembed.W_U"].shape[1], "n_ctx": sd["pos_embed.W_pos"].shape[0],
    }  # fmt: skip


def _check(cfg: Mapping[str, Any], grp: Group, shapes: dict[str, int], where: Path) -> None:
    if cfg.get("model") != "Transformer":
        raise CheckpointError(f"{where}: cfg.json's model is {cfg.get('model')!r}; only their "
                              "'Transformer' is a TransformerLens model")  # fmt: skip
    n = grp.order
    if (shapes["d_vocab"], shapes["d_vocab_out"], shapes["n_ctx"]) != (n + 1, n, 3):
        raise CheckpointError(
            f"{where}: cfg.json says {grp.name} ({n} elements), so {n + 1} input tokens, {n} "
            f"classes and 3 positions, but the tensors have {shapes['d_vocab']}, "
            f"{shapes['d_vocab_out']} and {shapes['n_ctx']}"
        )


def convert_state(sd: StateDict, grp: Group) -> StateDict:
    """Their state dict with their extra entries dropped and element rows of ``W_E`` and
    element columns of ``W_U`` and ``b_U`` moved to our order (module docstring)."""
    order = chughtai_order(grp.name)
    out = {k: v.clone() for k, v in sd.items() if not k.endswith(EXTRA_SUFFIXES)}
    out["embed.W_E"][order] = sd["embed.W_E"][: grp.order]
    out["unembed.W_U"][:, order] = sd["unembed.W_U"]
    out["unembed.b_U"][order] = sd["unembed.b_U"]
    return out


def load_chughtai(path: str | Path, *, device: str = "cpu") -> tuple[Model, Group, dict[str, Any]]:
    """Their checkpoint folder (or its ``model.pt``) as ``(model, group, cfg)``: a
    TransformerLens transformer (a ``HookedTransformer`` on TransformerLens 3.x, a native
    bridge on 4.x; :func:`grok_interp.tl.build`) that reads ``x y =`` with our element
    tokens and gives logits over our element order, the :class:`Group`, and their
    ``cfg.json``. A cfg.json that disagrees with the tensors, or names a group or model
    this package does not know, is refused in one line (``CheckpointError``, a
    ValueError)."""
    folder = _folder(path)
    cfg = read_cfg(folder)
    grp = chughtai_group(cfg)
    sd = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    shapes = _shapes(sd)
    _check(cfg, grp, shapes, folder)
    model = tl.build(tl.config(**shapes, act_fn=ACT_FN, normalization_type=None,
                               attn_only=False, device=device), seed=0)  # fmt: skip
    tl.load_hooked(model, convert_state(sd, grp))
    return model.eval(), grp, cfg
