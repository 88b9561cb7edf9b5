"""TransformerLens 3.x and 4.x: the one place that knows which major is installed.

TransformerLens 4.0 removed ``HookedTransformer``; its ``TransformerBridge.boot_native``
builds a from-scratch TransformerLens-native transformer instead (the 4.x migration
guide's route for toy and train-from-scratch models; it exists in 3.9 too). This module
decides by the installed major (:func:`major`) and is the only one that imports
``HookedTransformer``, ``HookedTransformerConfig`` or ``TransformerBridge``, each
lazily, inside a function:

- :func:`build` makes our transformers: ``HookedTransformer`` on 3.x (as before), a
  native ``TransformerBridge`` with no weight processing on 4.x (the bridge's
  ``enable_compatibility_mode()`` would fold and centre weights, changing every Fourier
  table, so it is never called).
- Run files keep one weight layout, the HookedTransformer state dict (``embed.W_E``,
  ``blocks.0.attn.W_Q`` of shape ``(head, d_model, d_head)``...). :func:`hooked_params`
  reads any model in that layout (differentiably: the table forward trains through it),
  :func:`load_hooked` writes it into any model, and :func:`to_bridge_state` /
  :func:`to_hooked_state` convert state dicts both ways (4.x's
  ``convert_tl_checkpoint`` does not exist in 3.9, so both directions are ours).
  Optimizer states are converted alike (:func:`optimizer_out`, :func:`optimizer_in`),
  so a Run trained under one major resumes under the other.
- Hook differences the analyses must respect: on a bridge, writing
  ``blocks.L.hook_resid_mid`` reaches only the MLP's input (it aliases ``ln2.hook_in``),
  not the skip connection; ``hook_attn_scores`` carries the post-softmax pattern; there is
  no ``ln_final.hook_normalized``; and 3.9's bridges ignore writes to ``hook_pattern``.
  :func:`mlp_in_hook` and the intervention helpers in :mod:`grok_interp.hooks` write
  where the maths needs under both.

``Model`` is the type of a transformer in annotations: checked as ``torch.nn.Module`` at
run time (a ``HookedTransformer`` or a ``TransformerBridge``), read as a
``HookedTransformer`` by type checkers (the bridge mirrors its API).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeGuard

import torch
from jaxtyping import Shaped
from torch import Tensor

# A state dict or a dict of parameters: tensors of every shape, under their names.
StateDict = dict[str, Shaped[Tensor, "..."]]

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer as Model
else:
    Model = torch.nn.Module

__all__ = [
    "Model",
    "major",
    "is_bridge",
    "is_transformer",
    "build",
    "config",
    "to_bridge",
    "hooked_params",
    "hooked_state_dict",
    "load_hooked",
    "to_bridge_state",
    "to_hooked_state",
    "trainable",
    "optimizer_out",
    "optimizer_in",
    "mlp_in_hook",
    "resid_mid_writes",
]


@functools.cache
def major() -> int:
    """The installed TransformerLens major version (3 or 4)."""
    try:
        return int(importlib.metadata.version("transformer-lens").split(".")[0])
    except importlib.metadata.PackageNotFoundError:  # a source checkout on sys.path
        import transformer_lens

        return 3 if "HookedTransformer" in getattr(transformer_lens, "__all__", ()) else 4


def _bridge_class() -> Any:
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge


def is_bridge(model: object) -> bool:
    """A ``TransformerBridge`` (of either major)."""
    return isinstance(model, torch.nn.Module) and isinstance(model, _bridge_class())


def is_transformer(model: object) -> TypeGuard[Model]:
    """A ``HookedTransformer`` (3.x) or a ``TransformerBridge`` (either major)."""
    if is_bridge(model):
        return True
    if major() >= 4 or not isinstance(model, torch.nn.Module):
        return False
    from transformer_lens import HookedTransformer

    return isinstance(model, HookedTransformer)


def config(**fields: Any) -> Any:
    """The installed major's config for our transformers: a ``HookedTransformerConfig``
    on 3.x, a ``TransformerBridgeConfig`` on 4.x (the fields both take: n_layers,
    d_model, n_heads, d_head, d_mlp, act_fn, normalization_type, attn_only, d_vocab,
    d_vocab_out, n_ctx, device)."""
    if major() >= 4:
        from transformer_lens.config import TransformerBridgeConfig

        return TransformerBridgeConfig(**fields, positional_embedding_type="standard")
    from transformer_lens import HookedTransformerConfig

    return HookedTransformerConfig(
        **fields, positional_embedding_type="standard", default_prepend_bos=False
    )


def build(cfg: Any, seed: int) -> Model:
    """A freshly initialised transformer for ``cfg`` (from :func:`config`), seeded by
    ``seed`` without touching the global RNG. Under both majors the weights are
    HookedTransformer's GPT-2 initialisation drawn in its parameter order (matrices
    N(0, 0.8 / sqrt(d_model)), biases 0, LayerNorm scales 1), so a seed gives the same
    model, and the same run, under 3.x and 4.x."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if major() < 4:
            return _hooked_transformer(cfg)
        cfg.seed = None  # boot_native's own init is replaced below
        bridge = _bridge_class().boot_native(cfg, device=cfg.device)
        torch.manual_seed(seed)
        hooked_init(bridge)
        return bridge


def _hooked_transformer(cfg: Any) -> Model:
    from transformer_lens import HookedTransformer

    with warnings.catch_warnings():
        # 3.x warns on every HookedTransformer that 4.0 removes it; we build
        # TransformerBridges wherever 4.x is installed, so the warning says nothing a
        # user of this package can act on. (A user's own HookedTransformer still warns.)
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        return HookedTransformer(cfg, move_to_device=True)


def hooked_init(bridge: torch.nn.Module) -> None:
    """HookedTransformer's ``_init_weights_gpt2`` on a bridge, from the global RNG: one
    ``normal_`` per ``W_`` matrix in HookedTransformer's parameter order and shape."""
    cfg = _cfg(bridge)
    std = 0.8 / cfg.d_model**0.5
    params = {}
    for name, t in to_hooked_state(_bridge_tensors(bridge), cfg.n_heads).items():
        if "W_" in name:
            params[name] = torch.nn.init.normal_(torch.empty(t.shape), std=std)
        else:  # biases 0, LayerNorm scales 1
            params[name] = torch.ones(t.shape) if name.endswith(".w") else torch.zeros(t.shape)
    load_hooked(bridge, params)


def to_bridge(model: torch.nn.Module) -> Any:
    """A native TransformerBridge (either major) with ``model``'s shape and weights: how a
    HookedTransformer's analyses are checked against a bridge's, and a way to hand a 3.x
    model to code written for 4.x."""
    from transformer_lens.config import TransformerBridgeConfig

    cfg = _cfg(model)
    fields = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "act_fn",
              "normalization_type", "attn_only", "d_vocab", "d_vocab_out", "n_ctx")  # fmt: skip
    bridge_cfg = TransformerBridgeConfig(
        **{f: getattr(cfg, f) for f in fields}, positional_embedding_type="standard",
        device=str(cfg.device), seed=0,
    )  # fmt: skip
    bridge = _bridge_class().boot_native(bridge_cfg, device=cfg.device)
    load_hooked(bridge, {k: v.detach() for k, v in hooked_params(model).items()})
    for name, t in _hooked_objects(bridge):  # the same parameters train
        if isinstance(t, torch.nn.Parameter):
            t.requires_grad_(name in {n for n, _ in trainable(model)})
    return bridge.train(model.training)


# HookedTransformer name suffix -> bridge state-dict suffix, in HookedTransformer's own
# parameter order (the optimizer's parameter order follows it).
_BLOCK = (
    ("ln1.w", "ln1.weight"),
    ("ln1.b", "ln1.bias"),
    ("ln2.w", "ln2.weight"),
    ("ln2.b", "ln2.bias"),
    ("attn.W_Q", "attn.q.weight"),
    ("attn.W_O", "attn.o.weight"),
    ("attn.b_Q", "attn.q.bias"),
    ("attn.b_O", "attn.o.bias"),
    ("attn.W_K", "attn.k.weight"),
    ("attn.W_V", "attn.v.weight"),
    ("attn.b_K", "attn.k.bias"),
    ("attn.b_V", "attn.v.bias"),
    ("mlp.W_in", "mlp.in.weight"),
    ("mlp.b_in", "mlp.in.bias"),
    ("mlp.W_out", "mlp.out.weight"),
    ("mlp.b_out", "mlp.out.bias"),
)
_TOP_FIRST = (("embed.W_E", "embed.weight"), ("pos_embed.W_pos", "pos_embed.weight"))
_TOP_LAST = (
    ("ln_final.w", "ln_final.weight"),
    ("ln_final.b", "ln_final.bias"),
    ("unembed.W_U", "unembed.weight"),
    ("unembed.b_U", "unembed.bias"),
)


def _names(n_layers: int) -> list[tuple[str, str]]:
    """(HookedTransformer name, bridge name) pairs in HookedTransformer's order."""
    blocks = [(f"blocks.{i}.{h}", f"blocks.{i}.{b}") for i in range(n_layers) for h, b in _BLOCK]
    return [*_TOP_FIRST, *blocks, *_TOP_LAST]


def _to_hooked(name: str, t: Tensor, n_heads: int) -> Tensor:
    """One bridge tensor (``nn.Linear`` layout) in HookedTransformer's layout."""
    if name.endswith(("W_Q", "W_K", "W_V")):  # (head*d_head, d_model) -> (head, d_model, d_head)
        return t.reshape(n_heads, -1, t.shape[-1]).transpose(1, 2)
    if name.endswith("W_O"):  # (d_model, head*d_head) -> (head, d_head, d_model)
        return t.T.reshape(n_heads, -1, t.shape[0])
    if name.endswith(("b_Q", "b_K", "b_V")):
        return t.reshape(n_heads, -1)
    if name.endswith(("W_in", "W_out", "W_U")):
        return t.T
    return t


def _to_bridge(name: str, t: Tensor) -> Tensor:
    """One HookedTransformer tensor in the bridge's (``nn.Linear``) layout."""
    if name.endswith(("W_Q", "W_K", "W_V")):  # (head, d_model, d_head) -> (head*d_head, d_model)
        return t.transpose(1, 2).reshape(-1, t.shape[1])
    if name.endswith("W_O"):  # (head, d_head, d_model) -> (d_model, head*d_head)
        return t.reshape(-1, t.shape[-1]).T
    if name.endswith(("b_Q", "b_K", "b_V")):
        return t.reshape(-1)
    if name.endswith(("W_in", "W_out", "W_U")):
        return t.T
    return t


def _n_layers(sd: dict[str, Tensor]) -> int:
    return len({k.split(".")[1] for k in sd if k.startswith("blocks.")})


def to_hooked_state(sd: StateDict, n_heads: int) -> StateDict:
    """A bridge state dict (``blocks.0.attn.q.weight``...) in HookedTransformer's names
    and layout; keys it does not hold (an absent LayerNorm or MLP) are left out."""
    pairs = _names(_n_layers(sd))
    # contiguous, as a HookedTransformer's own parameters are: the table forward then sums
    # in the same order on either kind (strided views gave other float32 roundings)
    return {h: _to_hooked(h, sd[b], n_heads).contiguous() for h, b in pairs if b in sd}


def to_bridge_state(sd: StateDict) -> StateDict:
    """A HookedTransformer state dict in the bridge's names and layout (buffers such as
    ``blocks.0.attn.mask`` and ``IGNORE`` dropped); ``bridge.load_state_dict`` takes it."""
    pairs = _names(_n_layers(sd))
    return {b: _to_bridge(h, sd[h]).contiguous() for h, b in pairs if h in sd}


def _cfg(model: torch.nn.Module) -> Any:
    return model.cfg


def _bridge_tensors(model: torch.nn.Module) -> dict[str, Tensor]:
    """The bridge's parameters and buffers under their state-dict names (the objects
    themselves: 4.x keeps the unembedding bias as a buffer, 3.9 as a parameter)."""
    return dict(model.state_dict(keep_vars=True))


def hooked_params(model: torch.nn.Module) -> StateDict:
    """Every weight of ``model`` under HookedTransformer's names and layout, frozen ones
    and the unembedding bias included: the parameters themselves on a HookedTransformer,
    differentiable views of them on a bridge."""
    if not is_bridge(model):
        return dict(model.named_parameters())
    return to_hooked_state(_bridge_tensors(model), _cfg(model).n_heads)


def hooked_state_dict(model: torch.nn.Module) -> StateDict:
    """``model``'s weights as a HookedTransformer state dict (detached copies), whichever
    kind it is: what Run files keep and what :func:`grok_interp.load_model` reads back."""
    return {k: v.detach().clone() for k, v in hooked_params(model).items()}


def _hooked_objects(model: torch.nn.Module) -> list[tuple[str, Tensor]]:
    """(HookedTransformer name, the model's own tensor), in HookedTransformer's order."""
    if not is_bridge(model):
        return list(model.named_parameters())
    own = _bridge_tensors(model)
    return [(h, own[b]) for h, b in _names(_cfg(model).n_layers) if b in own]


def trainable(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """The trainable parameters with their HookedTransformer names, in its order (the
    optimizer's order, so an optimizer state converts by name between the majors)."""
    return [(n, t) for n, t in _hooked_objects(model)
            if isinstance(t, torch.nn.Parameter) and t.requires_grad]  # fmt: skip


def frozen_zero(model: torch.nn.Module, suffixes: tuple[str, ...]) -> None:
    """Zero and freeze the tensors whose HookedTransformer names end with ``suffixes``
    (a bridge buffer, such as 4.x's unembedding bias, is zeroed: it never trains)."""
    for name, t in _hooked_objects(model):
        if name.endswith(suffixes):
            t.requires_grad_(False)
            t.data.zero_()


def load_hooked(model: torch.nn.Module, params: StateDict) -> None:
    """Copy HookedTransformer-layout weights into ``model`` (either kind), frozen ones and
    bridge buffers included. Raises KeyError naming what ``params`` lacks."""
    own = _hooked_objects(model)
    missing = [n for n, _ in own if n not in params]
    if missing:
        raise KeyError(f"checkpoint lacks parameters {missing[:5]}")
    convert: Callable[[str, Tensor], Tensor] = _to_bridge if is_bridge(model) else _keep
    with torch.no_grad():
        for name, t in own:
            t.copy_(convert(name, params[name]).to(t.dtype))


def _keep(name: str, t: Tensor) -> Tensor:
    return t


def _convert_state(state: dict[str, Any], fn: Callable[[str, Tensor], Tensor],
                   names: list[str]) -> dict[str, Any]:  # fmt: skip
    """A torch optimizer state dict with each parameter-shaped tensor converted by name."""
    per = {}
    for i, s in state.get("state", {}).items():
        per[i] = {k: fn(names[int(i)], v) if isinstance(v, Tensor) and v.dim() else v
                  for k, v in s.items()}  # fmt: skip
    return {**state, "state": per}


def optimizer_out(model: torch.nn.Module, state: dict[str, Any]) -> dict[str, Any]:
    """An optimizer state of ``model``'s :func:`trainable` parameters in
    HookedTransformer's layout (what Run files keep)."""
    if not is_bridge(model):
        return state
    names = [n for n, _ in trainable(model)]
    heads = _cfg(model).n_heads
    return _convert_state(state, lambda n, t: _to_hooked(n, t, heads).contiguous(), names)


def optimizer_in(model: torch.nn.Module, state: dict[str, Any]) -> dict[str, Any]:
    """A Run file's optimizer state (HookedTransformer layout) for ``model``."""
    if not is_bridge(model) or not state:
        return state
    names = [n for n, _ in trainable(model)]
    return _convert_state(state, lambda n, t: _to_bridge(n, t).contiguous(), names)


def resid_mid_writes(model: torch.nn.Module, layer: int) -> list[str]:
    """Where a write must go to change ``blocks.{layer}.hook_resid_mid`` for everything
    after it (the MLP's input and the skip connection around the MLP): that hook on a
    HookedTransformer; on a bridge, whose ``hook_resid_mid`` reaches the MLP's input
    only, the MLP's input and ``hook_resid_post`` (for an additive edit; run under
    :func:`mlp_in_hook`)."""
    b = f"blocks.{layer}."
    if is_bridge(model):
        return [b + "hook_mlp_in", b + "hook_resid_post"]
    return [b + "hook_resid_mid"]


@contextlib.contextmanager
def mlp_in_hook(model: Model) -> Iterator[str]:
    """Within the block, ``blocks.L.hook_mlp_in`` fires on either kind: it carries the
    MLP's input only (not the skip connection around the MLP), as a bridge's
    ``hook_resid_mid`` does. Yields the name's suffix."""
    before = bool(getattr(model.cfg, "use_hook_mlp_in", False))
    model.set_use_hook_mlp_in(True)
    try:
        yield "hook_mlp_in"
    finally:
        model.set_use_hook_mlp_in(before)
