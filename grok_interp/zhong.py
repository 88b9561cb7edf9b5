"""Zhong, Liu, Tegmark and Andreas (2023), *The Clock and the Pizza*: their saved models,
read as plain transformers.

Their repository (fjzzq2002/pizza) keeps each model as ``code/save/model_<runid>.pt``, a
state dict of their own ``Transformer`` (``code/train-main.py``), with the run's settings
beside it as ``config_<runid>.json``. What a faithful load keeps, read from their code:

- weights stored transposed, as Nanda et al.'s ``transformers.py`` stores them
  (``embed.W_E`` is (d_model, d_vocab), ``attn.W_O`` (d_model, n_heads * d_head)); no
  LayerNorm, no attention biases, no unembedding bias; ``d_mlp = 4 d_model``;
- the inputs (their ``MyAddDataSet``): ``[a, b]``, with ``b`` shifted to ``C + b`` when
  ``diff_vocab`` is set and a last token ``vocab - 1`` (an ``=``) when ``eqn_sign`` is set;
  the answer is read at the last position (``model(x)[:, -1]``). In this package's terms
  the layout is ``"a b"`` or ``"a b ="`` with ``", bidirectional"`` and, with
  ``diff_vocab``, ``", separate vocab"`` (:mod:`grok_interp.layouts`);
- the attention mask is registered but never applied (``attn_scores_masked =
  attn_scores_pre``), so every position sees every other, although the config says
  ``"attention_dir": "casual"``; the pattern is ``attn_coeff * softmax + (1 -
  attn_coeff)`` on every key (:func:`grok_interp.hooks.attention_rate`, a permanent hook
  that :func:`grok_interp.models.build_model` adds when the rate is below 1);
- the activation (``act_fn``: ``ReLU`` or ``GeLU``, torch's exact GELU; ``Tanh`` has no
  TransformerLens counterpart and is refused);
- the unembedding spans the whole input vocabulary (``Unembed(d_vocab, ...)``), of which
  only the first ``C`` columns are answers; the others (``b``'s own tokens with
  ``diff_vocab``, the ``=``) are dropped, as the Nanda et al. authors' format drops its
  ``=`` column, and the load says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from grok_interp.errors import CheckpointError
from grok_interp.models import ModelPreset, StateDict

SOURCE = "Zhong et al. 2023 (fjzzq2002/pizza, code/train-main.py)"
ACT_FNS = {"relu": "relu", "gelu": "gelu"}
# The keys of their Transformer's state dict (one block), as code/train-main.py names them.
BLOCK_KEYS = ("attn.W_K", "attn.W_Q", "attn.W_V", "attn.W_O", "mlp.W_in", "mlp.b_in",
              "mlp.W_out", "mlp.b_out")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ZhongConfig:
    """The settings of one of their runs that decide the model (their config file)."""

    C: int
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    act_fn: str
    attn_coeff: float
    diff_vocab: bool
    eqn_sign: bool
    op: str = "add"
    runid: str = ""

    @property
    def token_format(self) -> str:
        head = "a b =" if self.eqn_sign else "a b"
        return head + ", bidirectional" + (", separate vocab" if self.diff_vocab else "")

    @property
    def d_vocab(self) -> int:
        return self.C * (2 if self.diff_vocab else 1) + (1 if self.eqn_sign else 0)

    @property
    def n_ctx(self) -> int:
        return 3 if self.eqn_sign else 2

    def preset(self) -> ModelPreset:
        return ModelPreset(
            n_layers=self.n_layers, d_model=self.d_model, n_heads=self.n_heads,
            d_head=self.d_head, d_mlp=4 * self.d_model,
            act_fn=self.act_fn,  # type: ignore[arg-type]
            normalization=None, frozen_biases=True, attention_rate=self.attn_coeff,
        )  # fmt: skip


def config_path(path: str | Path) -> Path | None:
    """``config_<runid>.json`` beside ``model_<runid>.pt`` (their ``code/save/``), if present."""
    path = Path(path)
    if not path.name.startswith("model_"):
        return None
    runid = path.name[len("model_") :].rsplit(".", 1)[0]
    found = path.with_name(f"config_{runid}.json")
    return found if found.is_file() else None


def _op_of(funcs: str | None, C: int) -> str:
    """Their ``funcs`` string as an operation name: the released models are ``(x[0]+x[1])%C``."""
    text = (funcs or "").replace(" ", "")
    if text in (f"lambdax:(x[0]+x[1])%{C}", ""):
        return "add"
    raise CheckpointError(f"{SOURCE}: the run's function {funcs!r} is not a + b mod {C}; give "
                          "the task")  # fmt: skip


def read_config(source: str | Path | dict[str, Any]) -> ZhongConfig:
    """Their config (a ``config_<runid>.json`` path or its dict) as a :class:`ZhongConfig`."""
    raw = json.loads(Path(source).read_text()) if isinstance(source, str | Path) else source
    try:
        C, d_model, n_heads = int(raw["C"]), int(raw["d_model"]), int(raw["n_heads"])
        act = str(raw.get("act_fn", "relu")).lower()
        if act not in ACT_FNS:
            raise CheckpointError(f"{SOURCE}: activation {raw.get('act_fn')!r} has no "
                                  "TransformerLens counterpart (ReLU and GeLU load)")  # fmt: skip
        return ZhongConfig(
            C=C, n_layers=int(raw.get("n_layers", 1)), n_heads=n_heads, d_model=d_model,
            d_head=int(raw.get("d_head", d_model // n_heads)), act_fn=ACT_FNS[act],
            attn_coeff=float(raw["attn_coeff"]), diff_vocab=bool(raw.get("diff_vocab", False)),
            eqn_sign=bool(raw.get("eqn_sign", False)), op=_op_of(raw.get("funcs"), C),
            runid=str(raw.get("runid", "")),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{SOURCE}: config lacks or garbles {e}") from None


def is_transposed_layout(sd: Any) -> bool:
    """Whether a state dict has the transposed layout of Nanda et al.'s ``transformers.py``
    (and Zhong et al.'s copy of it): ``attn.W_O`` stored as one 2-d matrix."""
    w_o = sd.get("blocks.0.attn.W_O") if isinstance(sd, dict) else None
    return isinstance(w_o, Tensor) and w_o.ndim == 2 and "embed.W_E" in sd


def n_layers_of(sd: StateDict) -> int:
    return sum(1 for k in sd if k.endswith("attn.W_Q"))


def transposed_to_hooked(sd: StateDict, n_answers: int) -> StateDict:
    """The transposed layout (module docstring) as HookedTransformer parameters, the
    unembedding cut to its first ``n_answers`` columns."""
    out: StateDict = {
        "embed.W_E": sd["embed.W_E"].T,
        "pos_embed.W_pos": sd["pos_embed.W_pos"],
        "unembed.W_U": sd["unembed.W_U"][:, :n_answers],
    }
    for i in range(n_layers_of(sd)):
        b = f"blocks.{i}."
        n_heads, d_head, _ = sd[b + "attn.W_Q"].shape
        for w in ("W_Q", "W_K", "W_V"):
            out[b + "attn." + w] = sd[b + "attn." + w].transpose(1, 2)
        w_o = sd[b + "attn.W_O"]
        out[b + "attn.W_O"] = w_o.reshape(w_o.shape[0], n_heads, d_head).permute(1, 2, 0)
        for w in ("W_in", "W_out"):
            out[b + "mlp." + w] = sd[b + "mlp." + w].T
        for w in ("b_in", "b_out"):
            out[b + "mlp." + w] = sd[b + "mlp." + w]
    return out


def check_shapes(sd: StateDict, cfg: ZhongConfig, path: str | Path) -> None:
    """One-line refusal when the tensors are not the model the config describes."""
    want = {
        "embed.W_E": (cfg.d_model, cfg.d_vocab),
        "pos_embed.W_pos": (cfg.n_ctx, cfg.d_model),
        "unembed.W_U": (cfg.d_model, cfg.d_vocab),
        "blocks.0.attn.W_Q": (cfg.n_heads, cfg.d_head, cfg.d_model),
        "blocks.0.mlp.W_in": (4 * cfg.d_model, cfg.d_model),
    }
    for key, shape in want.items():
        got = tuple(sd[key].shape) if key in sd else None
        if got != shape:
            raise CheckpointError(f"{path}: {key} is {got}, but its config ({SOURCE}) gives "
                                  f"{shape}; the file and its config are not one run")  # fmt: skip
    if n_layers_of(sd) != cfg.n_layers:
        raise CheckpointError(f"{path}: {n_layers_of(sd)} layers in the file, "
                              f"{cfg.n_layers} in its config")  # fmt: skip


def assumptions(cfg: ZhongConfig, config: str | Path | None) -> list[str]:
    """What the load read and dropped, in words (the report states them)."""
    where = f"read from {config}" if config else "read from the config given"
    dropped = cfg.d_vocab - cfg.C
    said = [
        f"{SOURCE}'s saved model: layout '{cfg.token_format}', attention rate "
        f"{cfg.attn_coeff:g}, {cfg.act_fn}, {cfg.n_layers} layer(s) ({where}); attention "
        "without the causal mask, as their forward applies none"
    ]
    if dropped:
        said.append(f"the unembedding's last {dropped} column(s) (tokens that are never "
                    "answers) are dropped; the authors' softmax includes them")  # fmt: skip
    return said
