"""Progress measures and the phases of grokking (Nanda et al. 2023, Section 5,
Figures 7, 13-15, Appendices C.1.5 and C.2).

Per snapshot, from the logits over all p^2 pairs (last position) and the weights:

- train / test loss and accuracy;
- **restricted** loss and accuracy on the test pairs, by the Nanda et al. authors'
  definition (``get_restricted_loss``, evaluated on the test pairs): the final MLP's
  activations reduced to their mean plus their projections on ``cos/sin(w_k(a+b))`` of
  the key frequencies, mapped through W_L, the mean logit kept (Fig 7, Fig 13).
  ``restricted="blocks2"`` / ``"blocks3"`` use the 2D-DFT readings of Sections 5.1 and
  4.4 instead (:mod:`grok_interp.analyses.ablations`);
- **excluded** loss on the training pairs: ``cos/sin(w_k(a+b))`` of the key frequencies
  projected out, all at once and each alone (Fig 15), and the footnote's
  model-independent variant: the largest single-frequency excluded loss over all
  (p-1)/2 frequencies;
- Gini coefficients of the Fourier norms of W_E and W_L (k >= 1), the total sum of
  squared weights, and each key frequency's coefficient ``alpha_k`` of
  ``cos(w_k(a+b-c))`` in the logits (Fig 14).

Key frequencies come from the run's final model unless given. For one-layer models the
logits of many snapshots are computed together by the table forward
(:mod:`grok_interp.fast`), which stacks snapshots as it stacks batched models.

**Phases** (:func:`phases`) are read off the curves by a rule stated in its docstring;
the paper's mainline: memorisation 0-1.4k, circuit formation 1.4k-9.4k, cleanup 9.4k-14k.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp import fast, fourier, tl
from grok_interp.analyses.ablations import Restricted, restrict
from grok_interp.analyses.common import AnalysisError, Result, loss_acc
from grok_interp.analyses.logits import is_sparse, select_key_freqs, wl_coeffs
from grok_interp.losses import cross_entropy64
from grok_interp.models import resolve_device
from grok_interp.runs import Run, StateDict, load_params, model_from_run
from grok_interp.tasks import Task
from grok_interp.tl import Model

PAPER_PHASES = (1400, 9400, 14000)


class _Waves:
    """cos/sin(w_k(a+b)) over the a-major pairs for every k, and cos/sin(w_k c)."""

    def __init__(self, p: int):
        a = torch.arange(p, dtype=torch.float64)
        ks = torch.arange(1, fourier.n_freqs(p) + 1, dtype=torch.float64)
        s = (a[:, None] + a[None, :]).reshape(-1)
        self.cos_s = torch.cos(2 * math.pi * s[:, None] * ks / p)  # (p^2, K)
        self.sin_s = torch.sin(2 * math.pi * s[:, None] * ks / p)
        self.cos_c = torch.cos(2 * math.pi * ks[:, None] * a / p)  # (K, p)
        self.sin_c = torch.sin(2 * math.pi * ks[:, None] * a / p)
        # |cos(w_k(a+b))|^2 over the grid: p^2 / 2, or p^2 for k = p/2 (even p); (K, 1)
        self.sq = torch.where(2 * ks == p, float(p * p), p * p / 2)[:, None]


def measures_from_logits(
    logits: Float[Tensor, "pairs vocab"], labels: Int[Tensor, " pairs"],
    train_idx: Int[Tensor, " n_train"], test_idx: Int[Tensor, " n_test"], keys: list[int],
    waves: _Waves, *, post: Float[Tensor, "pairs d_mlp"] | None = None,
    W_L: Float[Tensor, "d_mlp vocab"] | None = None,
    restricted: Restricted = "authors",
) -> dict[str, float]:  # fmt: skip
    """The measures of one snapshot from its logits (and, for the authors' restricted
    loss, the final MLP's activations ``post`` and ``W_L``; module docstring)."""
    p = logits.shape[1]
    lg = logits.double()
    lg = lg - lg.mean(-1, keepdim=True)  # softmax-invariant; makes alpha_k a projection
    out: dict[str, float] = {}
    for name, idx in (("train", train_idx), ("test", test_idx)):
        out[f"{name}_loss"], out[f"{name}_acc"] = loss_acc(lg[idx], labels[idx])
    kept = restrict(lg, keys, restricted, post=post, W_L=W_L)[test_idx]
    out["restricted_loss"], out["restricted_acc"] = loss_acc(kept, labels[test_idx])
    c_cos = waves.cos_s.T @ lg / waves.sq  # (K, p): coefficient on cos(w_k(a+b)) per c
    c_sin = waves.sin_s.T @ lg / waves.sq
    tr, tr_labels = lg[train_idx], labels[train_idx]
    cos_tr, sin_tr = waves.cos_s[train_idx].T, waves.sin_s[train_idx].T  # (K, n_train)

    def drop(ks: slice | Tensor) -> Tensor:  # the (k, a+b) terms of the logits: (k, n_train, p)
        return cos_tr[ks, :, None] * c_cos[ks, None, :] + sin_tr[ks, :, None] * c_sin[ks, None, :]

    # Excluded loss for each single frequency, a few frequencies at a time: all 56 at
    # once would allocate ~200 MB per snapshot (p = 113), most of a progress run's time.
    parts = []
    for i in range(0, len(c_cos), 4):
        d = drop(slice(i, i + 4))
        parts.append(cross_entropy64(tr - d, tr_labels.expand(len(d), -1)))
    single = torch.cat(parts)
    ki = torch.tensor(keys) - 1
    out["excluded_loss"] = float(cross_entropy64(tr - drop(ki).sum(0), tr_labels))
    out["excluded_loss_max_any"] = float(single.max())
    for k in keys:
        out[f"excluded_loss_{k}"] = float(single[k - 1])
        alpha = (waves.cos_c[k - 1] * c_cos[k - 1] + waves.sin_c[k - 1] * c_sin[k - 1]).sum()
        # alpha sq_k = Z . Z_k and |Z_k|^2 = sq_k p over the p^3 entries
        out[f"alpha_{k}"] = float(alpha / p)
    return out


def w_l_of(params: StateDict) -> Float[Tensor, "d_mlp d_vocab_out"]:
    """W_L = W_out W_U of the final layer, float64, from a state dict."""
    last = max(int(k.split(".")[1]) for k in params if k.startswith("blocks."))
    return params[f"blocks.{last}.mlp.W_out"].double() @ params["unembed.W_U"].double()


def measures_from_weights(params: StateDict, p: int) -> dict[str, float]:
    """Gini of W_E's and W_L's Fourier norms, and the sum of squared weights."""
    w_e = params["embed.W_E"][:p].double()
    w_l = w_l_of(params)
    return {
        "gini_W_E": fourier.gini(fourier.freq_norms(fourier.dft(w_e, 0))[1:]),
        "gini_W_L": fourier.gini(fourier.freq_norms(wl_coeffs(w_l), 1)[1:]),
        "sum_sq_weights": float(sum(v.double().square().sum() for v in params.values())),
    }


def final_key_freqs(model: Model, threshold: float = 0.3) -> list[int]:
    w_l = model.blocks[-1].mlp.W_out.detach() @ model.W_U.detach()
    return select_key_freqs(fourier.freq_norms(wl_coeffs(w_l.cpu()), 1), threshold)


@dataclass(frozen=True)
class ProgressResult(Result):
    """Progress measures over a run's snapshots (one row per epoch)."""

    frame: pd.DataFrame
    key_freqs: tuple[int, ...]
    keys_note: str = ""  # where the key frequencies came from (:func:`keys_note`)

    title = "Progress measures"
    section = "Section 5.1, Figures 7, 13-15"

    def table(self) -> pd.DataFrame:
        return self.frame

    def notes(self) -> list[str]:
        return [self.keys_note] if self.keys_note else []

    def figure(self) -> go.Figure:
        return progress_figure(self.frame, self.key_freqs, phases(self.frame))


def _forward(models: list[Model], tokens: Tensor) -> tuple[Tensor, Tensor]:
    """The final MLP's activations and the logits at the last position, per model."""
    if fast.unsupported_reason(models[0], tokens) is None:
        params = fast.stacked_params(models)
        act = models[0].cfg.act_fn or "relu"
        return fast.last_post_and_logits(params, tokens.expand(len(models), -1, -1), act_fn=act)
    name = f"blocks.{models[0].cfg.n_layers - 1}.mlp.hook_post"
    posts, logits = [], []
    for m in models:
        out, cache = m.run_with_cache(tokens, names_filter=name)
        posts.append(cache[name][:, -1])
        logits.append(out[:, -1])  # type: ignore[call-overload]
    return torch.stack(posts), torch.stack(logits)


@torch.no_grad()
def progress_measures(
    run: Run, *, key_freqs: list[int] | None = None, steps: Sequence[int] | None = None,
    chunk: int = 4, device: str | torch.device = "cpu", restricted: Restricted = "authors",
) -> ProgressResult:  # fmt: skip
    """Every measure at every snapshot of ``run`` (or ``steps``), a few snapshots at a time;
    the forwards run on ``device``, the measures on the CPU. The key frequencies are
    ``key_freqs``, else those of the final W_L; when W_L has no sparse structure they are
    taken all the same, with a warning and a note (:func:`keys_note`): the command line
    says the same."""
    if not {"unembed.W_U", "blocks.0.mlp.W_out"} <= set(run.weights):
        family = run.family
        raise AnalysisError(
            "progress measures: Nanda et al.'s measures read a transformer's MLP and "
            f"unembedding (Section 5.1); this run is {family.what} ({family.title}), whose "
            "own measures over training are run.family.progress(run) (grok-interp progress "
            "RUN)"
        )
    task, device = run.pairs_task, resolve_device(device)
    keys = key_freqs or final_key_freqs(model_from_run(run))
    note = keys_note(keys, task.p, given=bool(key_freqs))
    if not key_freqs and note.startswith("no sparse"):
        warnings.warn(note, stacklevel=2)
    steps = sorted(run.snapshots) if steps is None else list(steps)
    waves, tokens, labels = _Waves(task.p), task.tokens().to(device), task.labels()
    train_idx, test_idx = run.train_idx, run.test_idx
    models = [model_from_run(run, device=device) for _ in range(min(chunk, len(steps)))]
    rows = []
    for start in range(0, len(steps), chunk):
        part = steps[start : start + chunk]
        for m, step in zip(models, part, strict=False):
            load_params(m, run.snapshots[step])
        post, logits = (t.cpu() for t in _forward(models[: len(part)], tokens))
        for i, step in enumerate(part):
            row: dict[str, float] = {"epoch": float(step)}
            w = run.snapshots[step]
            row.update(measures_from_logits(
                logits[i], labels, train_idx, test_idx, keys, waves, post=post[i],
                W_L=w_l_of(w), restricted=restricted))  # fmt: skip
            row.update(measures_from_weights(w, task.p))
            rows.append(row)
    return ProgressResult(frame=pd.DataFrame(rows), key_freqs=tuple(keys), keys_note=note)


def keys_note(keys: Sequence[int], p: int, *, given: bool) -> str:
    """Where the progress measures' key frequencies came from, in one sentence: given,
    found in W_L (sparse: :func:`~grok_interp.analyses.logits.is_sparse`), or taken from a
    W_L without sparse structure, where the restricted and excluded losses describe no
    circuit."""
    n = fourier.n_freqs(p)
    if given:
        return f"key frequencies {list(keys)} (given)"
    if is_sparse(len(keys), n):
        return f"key frequencies {list(keys)} (found in W_L at the last snapshot)"
    return (f"no sparse structure: {len(keys)} of {n} frequencies of W_L cross the rule at "
            "the last snapshot, so the restricted and excluded losses describe no circuit; "
            "give key_freqs= to choose them")  # fmt: skip


def progress_callback(  # type: ignore[no-untyped-def]
    task: Task, key_freqs: list[int], restricted: Restricted = "authors"
):
    """A trainer callback recording every measure live (Run.history gets the columns)."""
    waves, tokens, labels = _Waves(task.p), task.tokens(), task.labels()

    def callback(epoch: int, model: Model, run: Run) -> dict[str, float]:
        with torch.no_grad():
            post, logits = (t[0].cpu() for t in _forward([model], tokens.to(model.cfg.device)))
        params = {k: v.detach().cpu() for k, v in tl.hooked_params(model).items()}
        out = measures_from_logits(
            logits, labels, run.train_idx, run.test_idx, key_freqs, waves,
            post=post, W_L=w_l_of(params), restricted=restricted,
        )  # fmt: skip
        out.update(measures_from_weights(params, task.p))
        return {f"pm_{k}": v for k, v in out.items() if not k.startswith(("train", "test"))}

    return callback


def phases(frame: pd.DataFrame) -> tuple[int, int, int] | None:
    """Boundaries (memorisation end, cleanup start, cleanup end) by this rule:

    With ``L`` the log10 test loss, ``L_peak`` its maximum and ``L_end`` its last value,
    cleanup starts at the first epoch after the peak where ``L`` has fallen 10% of the
    way from ``L_peak`` to ``L_end``, and ends where it has fallen 90% of the way (test
    loss drops "suddenly" during cleanup, Section 5.2). Memorisation ends at the first
    epoch where the train loss is within 2x of its value at the start of cleanup: the
    train loss declines while the model memorises, then stays flat while the circuit
    forms (Section 5.2; App. C.2.1 finds memorisation complete near 1.4k epochs for every
    seed, which this rule reproduces on all five shipped runs). None when the test loss
    never falls by 10x (no grokking).
    """
    epoch = frame["epoch"].to_numpy()
    log_test = np.log10(frame["test_loss"].to_numpy())
    peak = int(np.argmax(log_test))
    top, end = log_test[peak], log_test[-1]
    if top - end < 1:
        return None
    after = np.arange(len(epoch)) > peak
    start = int(np.argmax(after & (log_test <= top - 0.1 * (top - end))))
    stop = int(np.argmax(after & (log_test <= end + 0.1 * (top - end))))
    train = frame["train_loss"].to_numpy()[: start + 1]
    mem_end = int(np.argmax(train <= 2 * train[-1]))
    return int(epoch[mem_end]), int(epoch[start]), int(epoch[stop])


PHASE_NAMES = ("memorisation ends", "cleanup starts", "cleanup ends")


def progress_figure(
    frame: pd.DataFrame, keys: Sequence[int], bounds: tuple[int, int, int] | None
) -> go.Figure:
    """Figure 7: losses, restricted and excluded loss, Gini, weight norm, phase lines."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, subplot_titles=[
        "excluded loss (train pairs) vs train/test loss", "restricted loss (test pairs) vs test",
        "Gini of W_E, W_L Fourier norms", "sum of squared weights"])  # fmt: skip
    x = frame["epoch"]
    panels = [(1, 1, ["train_loss", "test_loss", "excluded_loss"], "log", "loss"),
              (1, 2, ["test_loss", "restricted_loss"], "log", "loss"),
              (2, 1, ["gini_W_E", "gini_W_L"], "linear", "Gini"),
              (2, 2, ["sum_sq_weights"], "linear", "sum of squares")]  # fmt: skip
    colours = dict(zip(
        ["train_loss", "test_loss", "excluded_loss", "restricted_loss", "gini_W_E", "gini_W_L",
         "sum_sq_weights"], plotly_colours(), strict=False))  # fmt: skip
    shown: set[str] = set()
    for r, c, cols, scale, title in panels:
        for col in cols:
            fig.add_trace(
                go.Scatter(x=x, y=frame[col], name=col, mode="lines", legendgroup=col,
                           showlegend=col not in shown, line={"color": colours[col]}),
                row=r, col=c,
            )  # fmt: skip
            shown.add(col)
        fig.update_yaxes(type=scale, title_text=title, row=r, col=c,
                         exponentformat="power" if scale == "log" else None)  # fmt: skip
        fig.update_xaxes(title_text="epoch", row=r, col=c)
        for b, label in zip(bounds or (), PHASE_NAMES, strict=False):
            fig.add_vline(x=b, line_dash="dot", line_color="grey", row=r, col=c,  # type: ignore[arg-type]
                          **phase_label(f"{label} ({b})" if (r, c) == (1, 1) else None))
    fig.update_layout(
        title=f"Progress measures (Section 5.1, Figure 7); key frequencies {list(keys)}",
        height=700,
    )
    return fig


def phase_label(text: str | None) -> dict[str, Any]:
    """The keywords of ``add_vline`` that label a phase line with ``text``; none for an
    unlabelled line (an annotation's style without its text draws plotly's placeholder,
    "new text")."""
    if text is None:
        return {}
    return {"annotation_text": text, "annotation_textangle": -90, "annotation_font_size": 10}


def plotly_colours() -> list[str]:
    import plotly.express as px

    return list(px.colors.qualitative.Plotly)
