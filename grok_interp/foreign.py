"""Checkpoints trained by other code, recognised by what they are and converted to a
transformer and a Task.

A file is read one way only when its content says which; where two readings fit it, the
load refuses and names both and the argument that chooses; where its shapes fit no
layout, the refusal lists the layouts tried. The formats (docs/foreign.md):

- **TransformerLens state dicts** (``embed.W_E`` is (d_vocab, d_model), ``attn.W_O``
  (n_heads, d_head, d_model)), including early TransformerLens files with extra
  non-parameter keys (``x_embed``, ``y_embed``, ``blocks.0.attn.mask``, ``IGNORE``) and
  trained attention/unembedding biases. Extra keys are dropped; biases are kept.
- **The Nanda et al. authors' format** (``progress-measures-paper/transformers.py``),
  recognised by its keys: a dict whose ``model`` entry holds the transposed layout
  (``attn.W_O`` one (d_model, n_heads*d_head) matrix, no attention or unembedding
  biases) beside their ``train_losses``, ``test_losses``, ``epoch`` or ``state_dicts``.
  Their own layout rules: three tokens ``a b =`` (``=`` is token ``p``), causal
  attention, an unembedding over all ``p + 1`` tokens of which the first ``p`` columns
  are kept.
- **Zhong et al.'s saved models** (fjzzq2002/pizza, ``code/save/model_<runid>.pt``): the
  same transposed layout, bare, with ``config_<runid>.json`` beside it, which gives the
  layout, the attention rate, the activation and the layers (:mod:`grok_interp.zhong`).
- **Chughtai et al.'s group models** (bilal-chughtai/rep-theory-mech-interp): a
  TransformerLens state dict with ``cfg.json`` beside it naming the group. A cyclic group
  is Z_p (``add``); any other group is read by :mod:`grok_interp.chughtai` where it has
  a loader, and refused otherwise, never taken for a task over Z_n.

What the tensors cannot tell is assumed unless the caller gives it, and each assumption
is returned in words (:func:`model_from_foreign`; ``analyze()`` prints them):

- the task: ``add`` with ``p = d_vocab_out`` and the layout the vocabulary, the context
  length and the attention direction imply (:func:`layouts_for`: ``p + 1`` tokens and 3
  positions ``a b =``; ``p + 2`` and 4 ``a o b =``; ``p`` and 2 ``a b``; ``2p`` and 2
  ``a b, separate vocab``); a TransformerLens state dict does not store the direction,
  so TransformerLens' default, causal, is assumed; pass ``task=``;
- the MLP's activation: ReLU (a state dict does not store it); pass ``act_fn=``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from grok_interp import tl, zhong
from grok_interp.errors import CheckpointError
from grok_interp.layouts import layout
from grok_interp.models import ModelPreset, StateDict, build_model, load_params
from grok_interp.tasks import Task, TaskError
from grok_interp.tl import Model

ACT_FNS = ("relu", "gelu")
# The entries beside ``model`` in the Nanda et al. authors' files (transformers.py saves).
NANDA_KEYS = ("train_losses", "test_losses", "epoch", "state_dicts", "epochs", "train_loss",
              "test_loss", "optimizer", "scheduler")  # fmt: skip
# The layouts a shape guess may give (the slots with a before b; any other, pass task=).
GUESSED = ("a b =", "a o b =", "a b", "a b =, separate vocab", "a o b =, separate vocab",
           "a b, separate vocab")  # fmt: skip
NANDA_LAYOUT = "a b ="
CHUGHTAI_CYCLIC = "CyclicGroup"


def layouts_for(d_vocab: int, d_vocab_out: int, n_ctx: int, causal: bool = True) -> list[str]:
    """The layouts of :data:`GUESSED` (with ``", bidirectional"`` unless ``causal``) whose
    vocabulary and context fit a model of ``add`` over ``d_vocab_out`` classes."""
    out = []
    for fmt in GUESSED:
        lay = layout(fmt)
        if (lay.d_vocab(d_vocab_out), lay.n_ctx) == (d_vocab, n_ctx):
            head, *flags = fmt.split(", ")
            out.append(", ".join([head] + ([] if causal else ["bidirectional"]) + flags))
    return out


def _tried(d_vocab: int, d_vocab_out: int, n_ctx: int) -> str:
    p = d_vocab_out
    tried = "; ".join(f"'{f}' ({layout(f).d_vocab(p)} tokens, {layout(f).n_ctx} positions)"
                      for f in GUESSED)  # fmt: skip
    return (f"d_vocab {d_vocab}, d_vocab_out {p}, n_ctx {n_ctx} fit no layout of add mod {p} "
            f"(tried {tried}); give the task")  # fmt: skip


def guess_task(model: Model) -> tuple[Task, list[str]]:
    """The task a bare transformer is taken to learn, and the assumption in words: ``add``
    over its output classes with the layout its ``n_ctx``, vocabularies and attention
    direction (``cfg.attention_dir``) imply (:func:`layouts_for`); a one-line
    CheckpointError listing the layouts tried when none fits."""
    cfg = model.cfg
    causal = getattr(cfg, "attention_dir", "causal") != "bidirectional"
    found = layouts_for(cfg.d_vocab, cfg.d_vocab_out, cfg.n_ctx, causal)
    if not found:
        tried = _tried(cfg.d_vocab, cfg.d_vocab_out, cfg.n_ctx)
        raise CheckpointError(f"cannot guess the task: {tried}")
    task = Task(op="add", p=cfg.d_vocab_out, token_format=found[0])
    direction = "causal" if causal else "bidirectional"
    return task, [f"task {task.describe()} assumed from the model's shapes (d_vocab "
                  f"{cfg.d_vocab}, d_vocab_out {cfg.d_vocab_out}, n_ctx {cfg.n_ctx}) and its "
                  f"{direction} attention; give the task"]  # fmt: skip


# ---- what a file is ----------------------------------------------------------------


def _beside(path: str | Path, name: str) -> Path | None:
    path = Path(path)
    if not path.exists():  # a label such as "a snapshot", not a file
        return None
    found = path / name if path.is_dir() else path.with_name(name)
    return found if found.is_file() else None


def _chughtai(path: str | Path) -> dict[str, Any] | None:
    """Chughtai et al.'s ``cfg.json`` beside the file (or in the folder given), if it names
    a group."""
    cfg = _beside(path, "cfg.json")
    if cfg is None:
        return None
    try:
        raw = json.loads(cfg.read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and "group" in raw else None


def recorded_split(path: str | Path) -> tuple[Int[Tensor, " n_train"], str] | None:
    """The training pairs a foreign checkpoint records beside it, as pair indices of ours
    (``a n + b``), and where they come from in words: Chughtai et al.'s cfg.json gives
    ``frac_train`` and ``seed``, from which their split is drawn again
    (:func:`grok_interp.chughtai.chughtai_train_pairs`). None where nothing records one."""
    cfg = _chughtai(path)
    if cfg is None:
        return None
    from grok_interp.chughtai import chughtai_group, chughtai_train_pairs

    idx = chughtai_train_pairs(chughtai_group(cfg), cfg)
    return idx.sort().values, (f"training pairs: Chughtai et al.'s split, drawn again from "
                               f"cfg.json (frac_train {cfg['frac_train']}, seed {cfg['seed']})")


def _group_model(obj: Any, path: str | Path, cfg: dict[str, Any], *, task: Task | None,
                 device: str | torch.device) -> tuple[Model, Task, list[str]]:  # fmt: skip
    """A non-cyclic group's model through :mod:`grok_interp.chughtai`'s loader (their
    element order mapped onto the package's), or a one-line refusal naming the group
    where no loader is installed."""
    group = f"{cfg['group']} {cfg.get('group_parameter', '')}".strip()
    try:
        from grok_interp import chughtai
    except ImportError:
        chughtai = None  # type: ignore[assignment]
    loader = getattr(chughtai, "load_chughtai", None)
    if loader is None:
        raise CheckpointError(
            f"{path} is Chughtai et al.'s model of the group {group} (its cfg.json says "
            "so); this grok_interp has no loader for their group files, and it is not "
            "read as a task over Z_n"
        )
    model, grp, _ = loader(path, device=str(device))
    found = Task.over(grp.name, "xy")
    if task is not None and task.elements.name != grp.name:
        raise CheckpointError(f"{path} is a model of {grp.name} (cfg.json: {group}), not of "
                              f"{task.describe()}")  # fmt: skip
    said = [f"Chughtai et al.'s model of {group} (cfg.json): x y over {grp.name} in this "
            "package's element order, layout 'a b =', causal, ReLU (their code)"]  # fmt: skip
    return model, task or found, said


def _unwrap(obj: Any) -> tuple[Any, bool]:
    """The state dict inside a file, and whether the file carries the Nanda et al.
    authors' entries beside it."""
    nanda = False
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            nanda = key == "model" and any(k in obj for k in NANDA_KEYS)
            obj = obj[key]
            break
    return obj, nanda


def _state_dict_of(obj: Any, path: str | Path) -> StateDict:
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
            f"found {keys}). Supported: Run files, TransformerLens state dicts, the Nanda "
            "et al. authors' format and Zhong et al.'s saved models (docs/foreign.md)"
        )
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


# ---- the transposed layout: Nanda et al.'s or Zhong et al.'s -----------------------


def _nanda_task(sd: StateDict, path: str | Path, task: Task | None) -> Task:
    """Nanda et al.'s own layout rules: ``a b =``, causal, ``p + 1`` tokens (module
    docstring); ``task`` may change the operation, not the layout."""
    d_vocab, n_ctx = sd["embed.W_E"].shape[1], sd["pos_embed.W_pos"].shape[0]
    if task is not None:
        if task.token_format != NANDA_LAYOUT:
            raise CheckpointError(f"{path}: the Nanda et al. authors' format is laid out "
                                  f"'{NANDA_LAYOUT}', not '{task.token_format}'")  # fmt: skip
        return task
    if n_ctx != 3 or sd["unembed.W_U"].shape[1] != d_vocab:
        raise CheckpointError(
            f"{path}: holds the Nanda et al. authors' entries, but its shapes (d_vocab "
            f"{d_vocab}, n_ctx {n_ctx}, {sd['unembed.W_U'].shape[1]} unembedding columns) fit "
            f"not their layout '{NANDA_LAYOUT}' (p + 1 tokens, 3 positions, p + 1 columns); "
            "give the task"
        )
    return Task(op="add", p=d_vocab - 1, token_format=NANDA_LAYOUT)


def _two_readings(sd: StateDict, path: str | Path) -> str:
    p = sd["embed.W_E"].shape[1] - 1
    return (
        f"{path}: two readings fit this bare state dict in the transposed layout: the Nanda "
        f"et al. authors' ('{NANDA_LAYOUT}' over p = {p}, causal attention) and Zhong et "
        f"al.'s with an '=' (eqn_sign; 'a b =, bidirectional', with an attention rate). "
        f"Choose: task=Task(p={p}, token_format='{NANDA_LAYOUT}') for Nanda et al.'s, or "
        "put the run's config_<runid>.json beside the file as model_<runid>.pt for Zhong "
        "et al.'s"
    )


def _transposed(sd: StateDict, path: str | Path, nanda: bool, task: Task | None,
                config: Any) -> tuple[StateDict, Task, ModelPreset | None, list[str]]:  # fmt: skip
    """Which of the two transposed formats a file is, by its content (module docstring):
    the HookedTransformer parameters, the task, Zhong et al.'s preset (None for Nanda
    et al.'s) and what was read."""
    config = config or (None if nanda else zhong.config_path(path))
    if config is not None:
        cfg = zhong.read_config(config)
        zhong.check_shapes(sd, cfg, path)
        found = Task(op=cfg.op, p=cfg.C, token_format=cfg.token_format)
        if task is not None and task.layout != found.layout:
            raise CheckpointError(f"{path}: its config gives the layout '{cfg.token_format}', "
                                  f"the task '{task.token_format}'")  # fmt: skip
        said = zhong.assumptions(cfg, config if isinstance(config, str | Path) else None)
        return zhong.transposed_to_hooked(sd, cfg.C), task or found, cfg.preset(), said
    n_ctx = sd["pos_embed.W_pos"].shape[0]
    causal_task = task is not None and task.causal and task.token_format == NANDA_LAYOUT
    if not nanda and not causal_task:
        if n_ctx == 3 and sd["unembed.W_U"].shape[1] == sd["embed.W_E"].shape[1]:
            raise CheckpointError(_two_readings(sd, path))
        raise CheckpointError(
            f"{path}: a bare state dict in the transposed layout with {n_ctx} positions: "
            "Zhong et al.'s (fjzzq2002/pizza), not the Nanda et al. authors' (3 positions "
            "and their train_losses, test_losses beside it). Its attention rate, activation "
            "and vocabulary are in the run's config_<runid>.json: put it beside the file "
            "as model_<runid>.pt"
        )
    found = _nanda_task(sd, path, task)
    chosen = f"the Nanda et al. authors' layout '{NANDA_LAYOUT}' (chosen by the task)"
    said = [] if nanda else [chosen]
    return zhong.transposed_to_hooked(sd, found.p), found, None, said


# ---- TransformerLens state dicts ----------------------------------------------------


def _preset_from_shapes(sd: StateDict) -> ModelPreset:
    try:
        n_heads, d_model, d_head = sd["blocks.0.attn.W_Q"].shape
        attn_only = "blocks.0.mlp.W_in" not in sd
        d_mlp = 4 * d_model if attn_only else sd["blocks.0.mlp.W_in"].shape[1]
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"state dict shapes fit no supported layout ({e})") from e
    has_ln = any(".ln1." in k or ".ln2." in k for k in sd)
    return ModelPreset(
        n_layers=zhong.n_layers_of(sd),
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        normalization="LN" if has_ln else None,
        frozen_biases=False,
        attn_only=attn_only,
    )


def _task_from_shapes(sd: StateDict) -> Task:
    d_vocab, p = sd["embed.W_E"].shape[0], sd["unembed.W_U"].shape[1]
    n_ctx = sd["pos_embed.W_pos"].shape[0]
    found = layouts_for(d_vocab, p, n_ctx)
    if not found:
        raise CheckpointError(f"cannot infer the task: {_tried(d_vocab, p, n_ctx)}")
    return Task(op="add", p=p, token_format=found[0])


def _check_act_fn(act_fn: str | None) -> None:
    if act_fn is not None and act_fn not in ACT_FNS:
        raise CheckpointError(f"act_fn must be one of {', '.join(ACT_FNS)}; got {act_fn!r}")


def model_from_foreign(
    obj: Any,
    path: str | Path,
    *,
    task: Task | None = None,
    act_fn: str | None = None,
    device: str | torch.device = "cpu",
    config: str | Path | dict[str, Any] | None = None,
) -> tuple[Model, Task, list[str]]:
    """Convert a loaded foreign checkpoint (module docstring) read from ``path`` to a
    transformer; also returns what was assumed or read beside the file, in words.
    ``config``: Zhong et al.'s run config (a path or its dict) when it is not beside the
    file as ``config_<runid>.json``."""
    _check_act_fn(act_fn)
    group = _chughtai(path) if config is None else None
    if group is not None and group["group"] != CHUGHTAI_CYCLIC:
        return _group_model(obj, path, group, task=task, device=device)
    inner, nanda = _unwrap(obj)
    sd = _state_dict_of(inner, path)
    assumed: list[str] = []
    spec: ModelPreset | None = None
    if zhong.is_transposed_layout(sd):
        sd, found, spec, assumed = _transposed(sd, path, nanda, task, config)
        task = task or found
    if spec is None:
        if act_fn is None:
            assumed.append("activation ReLU assumed (a state dict does not store it; give act_fn)")
        spec = replace(_preset_from_shapes(sd), act_fn=act_fn or "relu")  # type: ignore[arg-type]
    elif act_fn is not None and act_fn != spec.act_fn:
        raise CheckpointError(
            f"{path}: its config gives the activation {spec.act_fn}, not {act_fn}"
        )
    if task is None:
        try:
            task = _task_from_shapes(sd)
        except TaskError as e:
            raise CheckpointError(f"{path}: {e}; give the task") from e
        where = f" (Chughtai et al.'s cfg.json: {CHUGHTAI_CYCLIC} {task.p})" if group else ""
        assumed.append(
            f"task {task.describe()} assumed from the shapes (d_vocab, n_ctx) and "
            f"TransformerLens' default causal attention{where}; give the task"
        )
    return _build(sd, spec, task, path, device), task, assumed


def _build(sd: StateDict, spec: ModelPreset, task: Task, path: str | Path,
           device: str | torch.device) -> Model:  # fmt: skip
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
    return model.eval()
