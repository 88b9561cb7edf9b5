"""The last-position forward of one-layer HookedTransformers, computed from tables.

Training on an algorithmic task reads the logits at the final (``=``) position only.
For a one-layer model without LayerNorm everything before the MLP depends on an
example only through its tokens, and each position's residual
``x[c] = W_E[tok] + W_pos[c]`` takes one of ``n_ctx * d_vocab`` values. So per step we
build, once, small tables over (position, token):

- the attention score of the ``=`` query against every (position, token) key: the query
  is the same for every example, since the last token is always ``=``;
- the value ``x W_V + b_V`` of every (position, token) per head;

and per example we only gather those rows into TransformerLens' ``z`` (``embedding_bag``
with the attention probabilities as per-sample weights, so the (batch, pos, head,
d_head) gather is never materialised), apply ``W_O``, then run the MLP and unembedding
on the one position that is read.
This is the same function as ``HookedTransformer(tokens)[:, -1]`` (same parameters, same
order of operations up to float32 rounding); tests assert the equality on random and
trained weights.

All functions take parameters stacked over a leading ``model`` axis, so N models of one
shape train in one set of batched matmuls (issue: seed and hyperparameter sweeps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import tl
from grok_interp.tl import Model

PARAMS = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.W_O",
    "blocks.0.attn.b_Q",
    "blocks.0.attn.b_K",
    "blocks.0.attn.b_V",
    "blocks.0.attn.b_O",
    "blocks.0.mlp.W_in",
    "blocks.0.mlp.b_in",
    "blocks.0.mlp.W_out",
    "blocks.0.mlp.b_out",
    "unembed.W_U",
    "unembed.b_U",
)


def unsupported_reason(model: Model,
                       tokens: Int[Tensor, "*batch pos"] | None = None) -> str | None:  # fmt: skip
    """Why the table forward cannot reproduce ``model``, or None when it can."""
    cfg = model.cfg
    checks = [
        (cfg.n_layers != 1, f"{cfg.n_layers} layers (the tables need 1)"),
        (
            cfg.n_layers != 1 and getattr(cfg, "attention_dir", "causal") == "bidirectional",
            "bidirectional attention over several layers (earlier positions read later "
            "ones, so the answer position's input is not a table lookup)",
        ),
        (cfg.normalization_type is not None, f"normalization {cfg.normalization_type}"),
        (cfg.attn_only, "an attention-only model"),
        (cfg.positional_embedding_type != "standard", "non-standard positional embeddings"),
        (cfg.act_fn not in ("relu", "gelu"), f"activation {cfg.act_fn}"),
        (not cfg.use_attn_scale, "attention without 1/sqrt(d_head) scaling"),
        (tokens is not None and _last_varies(tokens), "the last token differs between examples"),
        (
            any(hp.fwd_hooks for hp in model.hook_dict.values()),
            "hooks on the model (an attention rate below 1, for example), which the tables "
            "do not run",
        ),
    ]
    reasons = [why for bad, why in checks if bad]
    return "; ".join(reasons) if reasons else None


def _last_varies(tokens: Tensor) -> bool:
    last = tokens[..., -1]
    return bool((last != last.reshape(-1)[0]).any())


def stacked_params(models: Sequence[Model]) -> tl.StateDict:
    """Each parameter stacked over models (a view for one model), differentiable; in
    HookedTransformer's layout whichever kind the models are (:mod:`grok_interp.tl`)."""
    sds = [tl.hooked_params(m) for m in models]
    if len(sds) == 1:
        return {k: sds[0][k].unsqueeze(0) for k in PARAMS}
    return {k: torch.stack([sd[k] for sd in sds]) for k in PARAMS}


def last_logits(
    params: tl.StateDict,
    tokens: Int[Tensor, "model batch pos"],
    *,
    act_fn: str = "relu",
    dropout: float = 0.0,
    generators: Sequence[torch.Generator] | None = None,
) -> Float[Tensor, "model batch d_vocab_out"]:
    """Logits at the last position of stacked one-layer models (module docstring)."""
    return _last(params, tokens, act_fn, dropout, generators)[1]


def last_post_and_logits(
    params: tl.StateDict, tokens: Int[Tensor, "model batch pos"], *, act_fn: str = "relu"
) -> tuple[Float[Tensor, "model batch d_mlp"], Float[Tensor, "model batch d_vocab_out"]]:
    """The MLP's activations and the logits at the last position (no dropout)."""
    return _last(params, tokens, act_fn, 0.0, None)


def _last(
    params: dict[str, Tensor],
    tokens: Tensor,
    act_fn: str,
    dropout: float,
    generators: Sequence[torch.Generator] | None,
) -> tuple[Tensor, Tensor]:
    resid = residual_mid(params, tokens)
    n_models = resid.shape[0]
    names = ("mlp.W_in", "mlp.b_in", "mlp.W_out", "mlp.b_out")
    w = [params[f"blocks.0.{k}"] for k in names] + [params["unembed.W_U"], params["unembed.b_U"]]
    if n_models == 1:  # 2-D tensors: the faster GEMM path, and in-place ops on a base
        resid, w = resid.squeeze(0), [v.squeeze(0) for v in w]
    W_in, b_in, W_out, b_out, W_U, b_U = w
    pre = _affine(resid, W_in, b_in)
    # In place: the GEMM's output is not needed by its own backward. (On a view, such as
    # ``unsqueeze(0)`` of it, autograd would copy the whole activation twice per step.)
    post = F.relu(pre, inplace=True) if act_fn == "relu" else F.gelu(pre)
    if dropout > 0:
        post = post * _dropout_mask(post, n_models, dropout, generators)
    logits = _affine(resid + _affine(post, W_out, b_out), W_U, b_U)
    return (
        post.reshape(n_models, *post.shape[-2:]),
        logits.reshape(n_models, *logits.shape[-2:]),
    )


def _affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``x @ w + b``, per model where stacked; one model takes the (faster) 2-D GEMM path.
    (``squeeze``, not ``x[0]``: the backward of a select fills the whole stacked input.)"""
    if x.dim() == 2:
        return torch.addmm(b, x, w)
    if x.shape[0] == 1:
        return torch.addmm(b.squeeze(0), x.squeeze(0), w.squeeze(0)).unsqueeze(0)
    return torch.baddbmm(b.unsqueeze(1), x, w)


def residual_mid(
    params: tl.StateDict, tokens: Int[Tensor, "model batch pos"]
) -> Float[Tensor, "model batch d_model"]:
    """The residual stream after attention at the last position (``resid_mid``)."""
    n_models, batch, n_ctx = tokens.shape
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    d_vocab, d_model = W_E.shape[1:]
    n_heads, _, d_head = params["blocks.0.attn.W_Q"].shape[1:]
    x = W_pos[:, :, None, :] + W_E[:, None, :, :]  # (model, pos, token, d_model)
    x_last = x[torch.arange(n_models), n_ctx - 1, tokens[:, 0, -1]]  # (model, d_model)
    W_Q, b_Q = params["blocks.0.attn.W_Q"], params["blocks.0.attn.b_Q"]
    q = torch.einsum("md,mhde->mhe", x_last, W_Q) + b_Q
    qk = torch.einsum("mhde,mhe->mhd", params["blocks.0.attn.W_K"], q)
    qb = (params["blocks.0.attn.b_K"] * q).sum(-1)  # (model, head)
    scores = (torch.einsum("mcvd,mhd->mcvh", x, qk) + qb[:, None, None, :]) / d_head**0.5
    v = torch.einsum("mcvd,mhde->mcvhe", x, params["blocks.0.attn.W_V"])
    v = v + params["blocks.0.attn.b_V"][:, None, None]  # (model, pos, token, head, d_head)
    # Row of (model, pos, token) in the flattened tables, per example and position.
    offsets = (torch.arange(n_models, device=tokens.device) * n_ctx)[:, None, None]
    rows = (offsets + torch.arange(n_ctx, device=tokens.device)) * d_vocab + tokens
    s = scores.reshape(-1, n_heads)[rows.reshape(-1)].reshape(n_models, batch, n_ctx, n_heads)
    pattern = s.softmax(dim=2)  # the causal mask is void at the last position
    # z[b, h] = sum_c pattern[b, c, h] v[c, tok_c, h]: one bag of n_ctx rows per (b, h).
    heads = torch.arange(n_heads, device=tokens.device)
    bags = rows[:, :, None, :] * n_heads + heads[:, None]  # (model, batch, head, pos)
    weights = pattern.transpose(2, 3).reshape(-1, n_ctx)
    z = _WeightedGather.apply(v.reshape(-1, d_head), bags.reshape(-1, n_ctx), weights)
    z = z.reshape(n_models, batch, n_heads * d_head)
    W_O = params["blocks.0.attn.W_O"].reshape(n_models, n_heads * d_head, d_model)
    return x_last[:, None, :] + _affine(z, W_O, params["blocks.0.attn.b_O"])


class _WeightedGather(torch.autograd.Function):
    """``out[n] = sum_k w[n, k] table[idx[n, k]]``: ``embedding_bag`` forward, with a
    scatter-add backward (index_add_) that is ~2x faster on the CPU than its sort-based one."""

    @staticmethod
    def forward(ctx: Any, table: Tensor, idx: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(table, idx, w)
        return F.embedding_bag(idx, table, per_sample_weights=w, mode="sum")

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None, Tensor]:
        table, idx, w = ctx.saved_tensors
        grad_w = (table[idx] * g.unsqueeze(1)).sum(-1)
        rows = (w.unsqueeze(-1) * g.unsqueeze(1)).reshape(-1, table.shape[1])
        grad_table = torch.zeros_like(table).index_add_(0, idx.reshape(-1), rows)
        return grad_table, None, grad_w


def _dropout_mask(
    post: Tensor, n_models: int, p: float, generators: Sequence[torch.Generator] | None
) -> Tensor:
    """Inverted-dropout mask of ``post``'s shape, drawn per model from its own generator."""
    keep = torch.full(post.shape[-2:], 1 - p, device=post.device)
    gens = generators or [None] * n_models  # type: ignore[list-item]
    mask = torch.stack([torch.bernoulli(keep, generator=g) for g in gens]) / (1 - p)
    return mask.reshape(post.shape)


def model_last_logits(
    model: Model, tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch d_vocab_out"]:
    """``model(tokens)[:, -1]`` through the tables when exact, else the model's own forward."""
    if unsupported_reason(model, tokens) is not None:
        return model(tokens)[:, -1]
    params = stacked_params([model])
    return last_logits(params, tokens.unsqueeze(0), act_fn=model.cfg.act_fn or "relu")[0]
