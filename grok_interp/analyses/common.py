"""What every analysis shares: one cached forward over all p^2 inputs, fits, and Results.

:func:`gather` runs the model once on every pair (a-major, so per-pair values reshape to
``(p, p)``) with ``run_with_cache`` and keeps only the answer position (the last in the
layouts the package trains): the logits, the final layer's MLP neuron activations
``MLP(a, b)``, and the first layer's attention pattern from the answer position; in a
model of several layers also every later layer's pattern and every earlier MLP's
activations. ``W_L = W_out W_U`` is the neuron-logit map (d_mlp x p; Nanda et al. write
its transpose, Section 3).

Layers. The W_L analyses (Table 1, the logit fits, the ablations, the clusters' W_L
share) read the final layer's MLP, the only one whose output reaches the logits through
W_L alone, as the paper's Table 5 does ("for 2 Layer models, we use the final layer MLP
activations"). The neuron fits read every MLP (the earlier ones by their fits alone).
The attention analysis reads every layer: the score lookup ``C_j`` and the OV circuit
assume the embeddings as input, so they are read for the first layer only; the pattern
fits for each. Each Result says which layers it read.

Pair sets. Losses are reported per pair set: ``train`` and ``test`` where the split is
known (a Run), and ``all`` p^2 pairs always (:func:`pair_sets`). A paper value is set
beside our value on the same pair set only, and only for a model of the paper's setup
(:func:`paper_setup_differences`).

FVE (fraction of variance explained) is ``1 - SS_res / SS_tot`` with ``SS_tot`` taken
about the mean, everywhere in this package.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grok_interp import tl
from grok_interp.losses import cross_entropy64
from grok_interp.tasks import Task, heldout_indices, on_pairs
from grok_interp.tl import Model

# The paper's mainline (Nanda et al. 2023, Section 3): what a model must match for the
# paper's numbers to be set beside its own.
PAPER_SETUP = {
    "task": "add",
    "p": 113,
    "token layout": "a b =",
    "n_layers": 1,
    "d_model": 128,
    "n_heads": 4,
    "d_head": 32,
    "d_mlp": 512,
    "act_fn": "relu",
    "normalization": None,
}
UNKNOWN_SETUP = ("the model behind these tensors is not known",)
PAPER_SETUP_TEXT = (
    "the paper's mainline setup: add mod 113 as 'a b =', 1 layer, d_model 128, 4 heads of "
    "32, d_mlp 512, ReLU, no LayerNorm"
)


def paper_setup_differences(model: Model, task: Task) -> list[str]:
    """How ``model`` and ``task`` differ from the paper's mainline setup (empty: none)."""
    cfg = model.cfg
    ours = {
        "task": task.op,
        "p": task.p,
        "token layout": task.token_format,
        "n_layers": cfg.n_layers,
        "d_model": cfg.d_model,
        "n_heads": cfg.n_heads,
        "d_head": cfg.d_head,
        "d_mlp": None if cfg.attn_only else cfg.d_mlp,
        "act_fn": cfg.act_fn,
        "normalization": cfg.normalization_type,
    }
    return [f"{k} {ours[k]} (paper {v})" for k, v in PAPER_SETUP.items() if ours[k] != v]


def history_at(history: Mapping[str, Sequence[float]], step: int,
               keys: Sequence[str]) -> dict[str, float]:  # fmt: skip
    """A run's recorded ``keys`` at epoch ``step`` (NaN where it was not evaluated then):
    a snapshot's measures beside the losses and accuracies of the same epoch."""
    epochs = [int(e) for e in history.get("epoch", [])]
    i = epochs.index(step) if step in epochs else None
    return {k: float("nan") if i is None or k not in history else float(history[k][i])
            for k in keys}


def pair_sets(
    task: Task, train_idx: Int[Tensor, " n_train"] | None
) -> dict[str, Int[Tensor, " n"]]:
    """Index sets losses are reported on: test, train (split known) and all pairs."""
    every = torch.arange(task.n_pairs)
    if train_idx is None:
        return {"all": every}
    return {"test": heldout_indices(task, train_idx), "train": train_idx, "all": every}


def losses_by_set(
    logits: Float[Tensor, "pairs vocab"], labels: Int[Tensor, " pairs"],
    sets: dict[str, Int[Tensor, " n"]],
) -> dict[str, tuple[float, float]]:
    """(loss, accuracy) of ``logits`` on each pair set: per-pair losses computed once
    (float64), then averaged over each set."""
    per = F.cross_entropy(logits.double(), labels, reduction="none")
    hit = (logits.argmax(-1) == labels).double()
    return {name: (per[idx].mean().item(), hit[idx].mean().item()) for name, idx in sets.items()}


def paper_value(paper: tuple[str, str] | None, sets: Collection[str]) -> str:
    """A paper value (value, pair set) for display: '-' unless we report that pair set."""
    if paper is None or paper[1] not in sets:
        return "-"
    return f"{paper[0]} ({paper[1]})"


# A value that departs from the paper's by more than this factor (either way) is flagged.
DEPARTURE_FACTOR = 10.0


def departure(ours: float, paper: str, factor: float = DEPARTURE_FACTOR) -> float | None:
    """How many times ``ours`` lies outside the paper's value (a number, or a range "lo to
    hi"; anything else, such as "> 90%", is not compared), when that exceeds ``factor``;
    None when within it. 67.0 means 67x above or below."""
    nums = [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", paper)]
    ranged = " to " in paper and len(nums) >= 2
    if not nums or not (ranged or re.fullmatch(r"\s*[-+\d.e]+\s*", paper)):
        return None
    lo, hi = (nums[0], nums[1]) if ranged else (nums[0], nums[0])
    if not (ours > 0 and lo > 0):
        return None
    ratio = max(lo / ours, ours / hi, 1.0)
    return ratio if ratio > factor else None


def flag_departure(shown: str, ours: float, paper: tuple[str, str] | None) -> str:
    """A paper cell (:func:`paper_value`'s text) with a warning appended when ``ours``
    departs from the paper's value by more than :data:`DEPARTURE_FACTOR`."""
    ratio = None if paper is None or shown == "-" else departure(ours, paper[0])
    return shown if ratio is None else f"{shown} \u26a0 {ratio:.0f}x off"


def setup_note(differences: Sequence[str]) -> list[str]:
    """The note that explains a missing paper column."""
    if not differences:
        return [f"Paper values are for {PAPER_SETUP_TEXT}, as this model is."]
    return [
        f"No paper column: the paper's values are for {PAPER_SETUP_TEXT}; this model "
        f"differs ({'; '.join(differences)})."
    ]


def pct(x: float) -> str:
    """A fraction as a percentage; '-' for a value that does not exist (nan)."""
    return "-" if x != x else f"{x:.2%}"


class AnalysisError(ValueError):
    """An analysis that does not apply to this model or task, and why."""


def require(ok: bool, analysis: str, why: str) -> None:
    if not ok:
        raise AnalysisError(f"{analysis}: {why}")


@dataclass(frozen=True, eq=False)
class ModelData:
    """Activations of one model over every input pair (see module docstring)."""

    model: Model
    task: Task
    logits: Float[Tensor, "pairs d_vocab_out"]
    post: Float[Tensor, "pairs d_mlp"] | None
    pattern: Float[Tensor, "pairs head pos"]
    W_L: Float[Tensor, "d_mlp d_vocab_out"] | None
    resid_pre: Float[Tensor, "pairs d_model"]
    attn_out: Float[Tensor, "pairs d_model"]
    train_idx: Tensor | None = None
    # a model of several layers: the attention patterns of layers 1 .. last (from the
    # answer position) and the activations of MLPs 0 .. last - 1 (at the answer position)
    later_patterns: tuple[Float[Tensor, "pairs head pos"], ...] = ()
    earlier_posts: tuple[Float[Tensor, "pairs d_mlp"], ...] = ()

    @property
    def sets(self) -> dict[str, Int[Tensor, " n"]]:
        return pair_sets(self.task, self.train_idx)

    @property
    def last(self) -> int:
        return self.model.cfg.n_layers - 1

    @property
    def differences(self) -> tuple[str, ...]:
        """How the model differs from the paper's setup (empty: it is that setup)."""
        return tuple(paper_setup_differences(self.model, self.task))

    def mlp(
        self, analysis: str
    ) -> tuple[Float[Tensor, "pairs d_mlp"], Float[Tensor, "d_mlp d_vocab_out"]]:
        """The final MLP's activations and W_L, or why this analysis cannot run."""
        require(self.post is not None and self.W_L is not None, analysis, "the model has no MLP")
        require(
            self.model.cfg.normalization_type is None,
            analysis,
            f"W_L = W_out W_U is the neuron-logit map only without a final LayerNorm; this "
            f"model uses {self.model.cfg.normalization_type}",
        )
        assert self.post is not None and self.W_L is not None
        return self.post, self.W_L

    @property
    def p(self) -> int:
        return self.task.p

    @property
    def labels(self) -> Int[Tensor, " pairs"]:
        return self.task.labels()

    @property
    def a_pos(self) -> int:
        return self.task.layout.a_pos

    @property
    def b_pos(self) -> int:
        return self.task.layout.b_pos


def require_pairs(task: object, analysis: str) -> None:
    """An analysis of pairs (a, b) given another family's task (a sequence task, streaming
    parity) says so in one line, rather than failing on a missing attribute."""
    if not on_pairs(task):
        what = task.describe() if hasattr(task, "describe") else type(task).__name__
        require(False, analysis, f"applies to tasks on pairs (a, b) (grok_interp.tasks.Task), "
                f"not to {what}")  # fmt: skip


def check_model(model: Model, task: Task, analysis: str = "analyze") -> None:
    """Clear errors for models whose shapes do not fit the task (an MLP is not needed)."""
    require_pairs(task, analysis)
    cfg = model.cfg
    require(
        cfg.d_vocab == task.d_vocab and cfg.n_ctx == task.n_ctx,
        analysis,
        f"the model (d_vocab {cfg.d_vocab}, n_ctx {cfg.n_ctx}) does not fit "
        f"{task.describe()} (d_vocab {task.d_vocab}, n_ctx {task.n_ctx}); pass the right task",
    )
    require(
        cfg.d_vocab_out == task.d_vocab_out,
        analysis,
        f"d_vocab_out is {cfg.d_vocab_out}, expected {task.d_vocab_out} ({task.describe()})",
    )


@torch.no_grad()
def gather(model: Model, task: Task,
           train_idx: Int[Tensor, " n_train"] | None = None) -> ModelData:  # fmt: skip
    """One cached forward over all pairs, the answer position only (module docstring);
    ``train_idx`` (the run's split, if known) adds train and test pair sets."""
    check_model(model, task)
    require_modular(task, "analyze", fourier=False)
    require(
        task.full_grid,
        "analyze",
        f"{task.op} has no answer for every pair (b = 0); "
        "the Fourier analyses need the full p x p grid",
    )
    last = model.cfg.n_layers - 1
    has_mlp = not model.cfg.attn_only
    post_name = f"blocks.{last}.mlp.hook_post"
    patterns = [f"blocks.{i}.attn.hook_pattern" for i in range(last + 1)]
    posts = [f"blocks.{i}.mlp.hook_post" for i in range(last)] if has_mlp else []
    names = {
        *patterns,
        *posts,
        f"blocks.{last}.hook_resid_pre",
        f"blocks.{last}.hook_attn_out",
    } | ({post_name} if has_mlp else set())
    tokens = task.tokens().to(model.cfg.device)
    out, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    logits = out if isinstance(out, Tensor) else out[0]
    at = task.answer_pos  # the last position in the layouts the package trains
    def last_pos(name: str) -> Tensor:
        return cache[name][:, at].float().cpu()

    W_L = (model.blocks[last].mlp.W_out @ model.W_U).detach().float().cpu() if has_mlp else None
    return ModelData(
        model=model,
        task=task,
        logits=logits[:, at].float().cpu(),
        post=last_pos(post_name) if has_mlp else None,
        pattern=cache[patterns[0]][:, :, at, :].float().cpu(),
        W_L=W_L,
        resid_pre=last_pos(f"blocks.{last}.hook_resid_pre"),
        attn_out=last_pos(f"blocks.{last}.hook_attn_out"),
        train_idx=train_idx,
        later_patterns=tuple(cache[n][:, :, at, :].float().cpu() for n in patterns[1:]),
        earlier_posts=tuple(last_pos(n) for n in posts),
    )


def fourier_reason(task: Task) -> str | None:
    """Why the Fourier analyses over Z_p do not apply to a task over a group that is not
    cyclic (None: they do); the group's own analyses (irreps) and the others still run."""
    if not task.group:
        return None
    return (f"{task.op} is over {task.elements.name}, and the Fourier analyses need a task "
            "over Z_p (the irreducible representations analyse it; training, sweeps and the "
            "loss, accuracy and norm measures work on it)")


def require_modular(task: Task, analysis: str, fourier: bool = True) -> None:
    """The Fourier analyses work over Z_p; a group task (S5) is refused with the reason.
    ``fourier=False``: only an operation on every pair is needed (the forward over all
    pairs)."""
    why = fourier_reason(task) if fourier else None
    require(why is None, analysis, why or "")
    require(
        task.op != "sum" and not task.unordered,
        analysis,
        f"{task.describe()} is not an operation on all of Z_p x Z_p, which the Fourier "
        "analyses need (the representation analysis works on it)",
    )


Hooks = list[tuple[str | Callable[..., Any], Callable[..., Any]]]


@torch.no_grad()
def run_hooked(data: ModelData, hooks: Hooks) -> Float[Tensor, "pairs d_vocab_out"]:
    """Last-position logits with ``hooks`` applied, as ``model.run_with_hooks`` gives.

    ``hook_mlp_in`` carries the MLP's input alone on either kind of model (a bridge's
    ``hook_resid_mid`` is that too; a HookedTransformer's also feeds the skip connection).
    When every hook sits in the final block after its attention (``hook_resid_pre``,
    ``hook_attn_out``, ``hook_resid_mid``, ``hook_mlp_in``, ``mlp.*``, ``hook_mlp_out``,
    ``hook_resid_post``) of a HookedTransformer without LayerNorm, only that block's tail
    runs, at the last position, through the model's own modules and HookPoints (so the
    same hook functions fire), starting from the cached ``resid_pre`` and ``attn_out``; this skips
    the attention over every position and the MLP on the positions nobody reads.
    Otherwise the whole model runs.
    """
    model, last = data.model, data.model.cfg.n_layers - 1
    tail = (
        f"blocks.{last}.hook_resid_pre",
        f"blocks.{last}.hook_attn_out",
        f"blocks.{last}.hook_resid_mid",
        f"blocks.{last}.hook_mlp_in",
        f"blocks.{last}.mlp.",
        f"blocks.{last}.hook_mlp_out",
        f"blocks.{last}.hook_resid_post",
    )
    with tl.mlp_in_hook(model):  # hook_mlp_in fires on either kind (grok_interp.tl)
        if tl.is_bridge(model) or model.cfg.normalization_type is not None or not all(
            isinstance(n, str) and n.startswith(tail) for n, _ in hooks
        ):
            tokens = data.task.tokens().to(model.cfg.device)
            at = data.task.answer_pos
            return model.run_with_hooks(tokens, fwd_hooks=hooks)[:, at].float().cpu()
        block = model.blocks[last]
        dev = model.cfg.device
        with model.hooks(fwd_hooks=hooks):
            pre = block.hook_resid_pre(data.resid_pre[:, None].to(dev))
            mid = block.hook_resid_mid(pre + block.hook_attn_out(data.attn_out[:, None].to(dev)))
            out = block.hook_mlp_out(block.mlp(block.hook_mlp_in(mid)))
            post = block.hook_resid_post(mid + out)
            return model.unembed(post)[:, 0].float().cpu()  # the one position fed


def fve(y: Float[Tensor, "*shape"], fit: Float[Tensor, "*shape"],
        dim: int | tuple[int, ...] | None = None) -> Float[Tensor, "..."]:  # fmt: skip
    """``1 - SS_res / SS_tot`` about the mean (over ``dim``; all axes when None)."""
    y, fit = y.double(), fit.double()
    if dim is None:
        return 1 - (y - fit).square().sum() / (y - y.mean()).square().sum()
    res = (y - fit).square().sum(dim)
    tot = (y - y.mean(dim, keepdim=True)).square().sum(dim)
    return 1 - res / tot


def loss_acc(logits: Float[Tensor, "pairs vocab"],
             labels: Int[Tensor, " pairs"]) -> tuple[float, float]:  # fmt: skip
    """Float64 cross-entropy and accuracy of last-position logits (pairs, p)."""
    loss = cross_entropy64(logits, labels).item()
    return loss, (logits.argmax(-1) == labels).double().mean().item()


def sci(x: float) -> str:
    return f"{x:.3g}"


def markdown(frame: pd.DataFrame, floatfmt: str = ".4g", index: bool = False) -> str:
    """``frame`` as a Markdown table, floats in ``floatfmt`` and integer columns (epochs,
    layers, sizes) as integers: pandas' ``to_markdown`` hands tabulate one float array
    for a frame of mixed dtypes, so epoch 12000 would read '12000.00' or '1.2e+04'. A count
    that may be missing (the step a run first passed a threshold) goes in as pandas'
    nullable ``Int64``: its numbers print whole and a missing one as an empty cell."""
    obj = frame.astype(object)
    for name in frame.columns[[pd.api.types.is_extension_array_dtype(t) for t in frame.dtypes]]:
        obj[name] = obj[name].where(frame[name].notna(), None)
    return obj.to_markdown(index=index, floatfmt=floatfmt)


class Result:
    """Shared display for analysis results: ``table()``, ``figure()``, ``_repr_html_``.

    Subclasses are frozen dataclasses; ``notes()`` states decisions the paper leaves open.
    """

    title: ClassVar[str] = ""
    section: ClassVar[str] = ""
    paper_name: ClassVar[str] = ""  # the paper it comes from; "": its family's (Family.title)

    def table(self) -> pd.DataFrame:
        raise NotImplementedError

    def figure(self) -> go.Figure:
        raise NotImplementedError

    def notes(self) -> list[str]:
        return []

    def heading(self) -> str:
        return f"{self.title} ({self.section})"

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes())
        return (
            f"<h4>{html.escape(self.heading())}</h4>"
            + self.table().to_html(index=False)
            + (f"<ul>{notes}</ul>" if notes else "")
        )

    def to_markdown(self) -> str:
        notes = "".join(f"\n- {n}" for n in self.notes())
        return f"### {self.heading()}\n\n{self.table().to_markdown(index=False)}\n{notes}\n"


def to_jsonable(x: Any, tensors: dict[str, Shaped[Tensor, "..."]] | None = None,
                name: str = "") -> Any:  # fmt: skip
    """Numbers, strings, lists, dicts and nulls (nan -> null) for JSON (numpy arrays as
    lists, a DataFrame as a dict of columns). A tensor goes into
    ``tensors`` under ``name`` and is replaced by ``{"tensor": name, "shape": [...]}``
    (without ``tensors``: by its values as nested lists); a dataclass by its fields."""
    if isinstance(x, pd.DataFrame):
        return to_jsonable(x.to_dict(orient="list"), tensors, name)
    if isinstance(x, np.ndarray | np.generic):
        return to_jsonable(x.tolist())
    if isinstance(x, Tensor):
        if tensors is None:
            return to_jsonable(x.tolist())
        tensors[name] = x.detach().cpu().contiguous()
        return {"tensor": name, "shape": list(x.shape)}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        x = {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): to_jsonable(v, tensors, f"{name}.{k}") for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v, tensors, f"{name}.{i}") for i, v in enumerate(x)]
    if isinstance(x, float) and x != x:
        return None
    return x


def result_json(res: Result, name: str,
                tensors: dict[str, Shaped[Tensor, "..."]] | None) -> dict[str, Any]:  # fmt: skip
    """A Result as JSON: its title, section and notes, and ``values``, its fields under
    their own names (the dataclass fields documented on each Result; losses in nats,
    FVEs and shares as fractions, pair sets named in the keys)."""
    return {
        "title": res.title,
        "section": res.section,
        "notes": res.notes(),
        "values": to_jsonable(res, tensors, name),
    }
