"""Attention heads as waves of one frequency (Nanda et al. 2023, Appendix A.1, C.1.2,
C.1.3, Table 2, Figures 9-11). Per head j of the first layer (the paper's model has one):

- **= -> =**: mean attention from ``=`` to itself (paper: 0.1 to 0.4%).
- **Score lookup** ``C_j[a] = (W_E[a] W_K^j) . q_j / sqrt(d_head)`` with the ``=`` query
  ``q_j = (W_E[=] + W_pos[last]) W_Q^j + b_Q^j``: the token-dependent part of the score
  (positional and bias terms add a constant per position). Its best single-frequency fit
  ``C_j[a] ~ c + F_j cos(w_k a) + G_j sin(w_k a)`` with FVE (paper: 99.02, 95.21, 99.10,
  92.42%). That frequency ``k_j`` is the head's frequency below.
- **Pattern fit** (Table 2): attention from ``=`` to ``a`` over the (a, b) grid fitted by
  ``c + alpha (cos w_k a - cos w_k b) + beta (sin w_k a - sin w_k b)``; the paper fixes
  ``c = 0.5``; we fit it and report it (it is 0.5 by symmetry when the positional offsets
  cancel).
- **Sigmoid linearity** (``a b =`` only): with ``= -> =`` ignored the pattern is
  ``sigma(x)``, x the score difference of positions 0 and 1 (all terms included). The
  linear fit ``sigma(x) ~ c_j + E_j x`` per head, its FVE per head and pooled (paper:
  97.5%), and the loss when the sigmoid is replaced by the fit through a hook on
  ``hook_pattern`` (paper, test pairs: 2.41e-7 -> 2.12e-7), on each pair set. The replacement keeps
  each example's ``= -> =`` attention and splits the rest between a and b by the linear
  fit: the same as the paper's where ``= -> =`` is negligible, and faithful where a
  head attends to ``=`` (one external checkpoint has a head at 13%).
- **OV circuit** ``(W_E[a] + W_pos[pos_a]) W_V^j + b_V^j) W_O^j`` in the Fourier basis over
  a (Figure 11), and the score lookup's Fourier norms (Figure 10).

In a model of several layers each later layer's heads get what reads the pattern alone:
the ``= -> =`` attention, the pattern fit (at the frequency that fits the pattern best)
and the sigmoid fit. The score lookup and the OV circuit take the embeddings as the
head's input, which holds for the first layer only; a layer whose attention is the same
for every input (an attention rate near 0) is named and skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch
from jaxtyping import Float
from plotly.subplots import make_subplots
from torch import Tensor

from grok_interp import fourier, tl
from grok_interp.analyses.common import (
    UNKNOWN_SETUP,
    ModelData,
    Result,
    fve,
    gather,
    losses_by_set,
    paper_value,
    pct,
    require,
    sci,
    setup_note,
)
from grok_interp.hooks import pattern_last_hooks
from grok_interp.tasks import Task
from grok_interp.tl import Model

PAPER_SCORE_FVE = (0.9902, 0.9521, 0.9910, 0.9242)  # Appendix C.1.2, the paper's heads 0-3


@dataclass(frozen=True)
class Head:
    head: int
    eq_attention: float
    k: int
    F: float
    G: float
    score_fve: float
    intercept: float
    alpha: float
    beta: float
    pattern_fve: float
    sigmoid_slope: float
    sigmoid_intercept: float
    sigmoid_fve: float
    layer: int = 0


@dataclass(frozen=True)
class AttentionResult(Result):
    """Per-head single-frequency structure of the first attention layer."""

    heads: tuple[Head, ...]
    sigmoid_fve_pooled: float
    loss_model: dict[str, float]
    loss_linear_sigmoid: dict[str, float]
    score_norms: Float[Tensor, "first_heads n_freqs_plus_1"]  # layer 0's heads
    ov_norms: Float[Tensor, "first_heads n_freqs_plus_1"]
    pattern_to_a: Float[Tensor, "heads p p"]  # one per entry of ``heads``
    setup_differences: tuple[str, ...] = UNKNOWN_SETUP
    query: str = "="  # the slot at the answer position, whose attention is read
    answer_pos: int = -1
    n_layers: int = 1
    flat_layers: tuple[int, ...] = ()  # layers whose pattern is the same for every input

    title = "Attention heads"
    section = "Appendix A.1, C.1.2, C.1.3, Table 2, Figures 9-11"

    def table(self) -> pd.DataFrame:
        rows = []
        for h in self.heads:
            rows.append(
                {
                    **({"layer": h.layer} if self.n_layers > 1 else {}),
                    "head": h.head,
                    f"{self.query} -> {self.query} attn": pct(h.eq_attention),
                    "k": h.k,
                    "C_j fit F, G": f"{h.F:.3g}, {h.G:.3g}",
                    "C_j FVE": pct(h.score_fve),
                    "pattern c, alpha, beta": f"{h.intercept:.3f}, {h.alpha:.3g}, {h.beta:.3g}",
                    "pattern FVE": pct(h.pattern_fve),
                    "sigmoid ~ c + E x": "-"
                    if h.sigmoid_slope != h.sigmoid_slope
                    else f"{h.sigmoid_intercept:.3f} + {h.sigmoid_slope:.3g} x",
                    "sigmoid FVE": pct(h.sigmoid_fve),
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        def span(xs: list[float]) -> str:
            xs = [x for x in xs if x == x]
            return f"{pct(min(xs))} to {pct(max(xs))}" if xs else "-"

        first = [h for h in self.heads if h.layer == 0]
        of = " of layer 0" if self.n_layers > 1 else ""
        rows = [
            (f"{self.query} -> {self.query} attention (range over heads{of})",
             span([h.eq_attention for h in first]), "0.1% to 0.4%"),
            (f"C_j FVE of the best frequency (range over heads{of})",
             span([h.score_fve for h in first]),
             f"{pct(min(PAPER_SCORE_FVE))} to {pct(max(PAPER_SCORE_FVE))}"),
            (f"linear sigmoid FVE (pooled over heads{of})", pct(self.sigmoid_fve_pooled),
             "97.5%"),
        ]  # fmt: skip
        for s in self.loss_model:
            lin = self.loss_linear_sigmoid.get(s, float("nan"))
            rows.append(
                (
                    f"loss, model -> sigmoid replaced by linear fit ({s} pairs)",
                    f"{sci(self.loss_model[s])} -> {'-' if lin != lin else sci(lin)}",
                    paper_value(("2.41e-7 -> 2.12e-7", "test"), [s]),
                )
            )
        frame = pd.DataFrame(rows, columns=["quantity", "ours", "paper (mainline)"])
        return frame if not self.setup_differences else frame.drop(columns="paper (mainline)")

    def _repr_html_(self) -> str:
        return super()._repr_html_() + self.summary().to_html(index=False)

    def to_markdown(self) -> str:
        return super().to_markdown() + "\n" + self.summary().to_markdown(index=False) + "\n"

    def figure(self) -> go.Figure:
        """Attention from the answer position to a over (a, b), per head (Figure 9); one
        row per layer in a model of several."""
        layers = sorted({h.layer for h in self.heads})
        cols = max(sum(h.layer == layer for h in self.heads) for layer in layers)
        named = len(layers) > 1 or self.n_layers > 1
        fig = make_subplots(
            rows=len(layers), cols=cols,
            subplot_titles=[f"layer {h.layer} head {h.head}" if named else f"head {h.head}"
                            for h in self.heads],
        )  # fmt: skip
        for i, h in enumerate(self.heads):
            fig.add_trace(go.Heatmap(z=self.pattern_to_a[i].tolist(), coloraxis="coloraxis"),
                          row=layers.index(h.layer) + 1, col=h.head + 1)  # fmt: skip
        fig.update_layout(
            title=f"Attention from {self.query} to a, per head (Appendix A.1, Figure 9)",
            coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": "attention"}}},
            height=max(450, 300 * len(layers)),
        )
        fig.update_xaxes(title_text="b")
        fig.update_yaxes(title_text="a", col=1)
        return fig

    def fourier_figure(self) -> go.Figure:
        """Score lookup C_j (Figure 10) and OV circuit (Figure 11) in the Fourier basis,
        layer 0's heads (the later layers' input is not the embeddings)."""
        fig = make_subplots(rows=2, cols=1, subplot_titles=["C_j (Figure 10)", "OV (Figure 11)"])
        ks = list(range(self.ov_norms.shape[1]))
        palette = px.colors.qualitative.Plotly  # one colour per head in both panels
        for i, h in enumerate(h for h in self.heads if h.layer == 0):
            for r, norms in ((1, self.score_norms), (2, self.ov_norms)):
                fig.add_trace(
                    go.Bar(x=ks, y=norms[i].tolist(), name=f"head {h.head}", showlegend=r == 1,
                           legendgroup=f"head {h.head}",
                           marker_color=palette[h.head % len(palette)]),
                    row=r,
                    col=1,
                )  # fmt: skip
        if not bool(self.score_norms.isfinite().any()):  # say why the panel is empty
            fig.add_annotation(text=f"no score lookup: the query sits at the operand "
                               f"'{self.query}', so it changes with the input",
                               x=0.5, y=0.5, xref="x domain", yref="y domain",
                               showarrow=False)  # fmt: skip
        of = " of layer 0" if self.n_layers > 1 else ""
        fig.update_layout(
            title=f"Attention heads{of} in the Fourier basis (Appendix C.1.2, Figures 10-11)",
            barmode="group",
        )
        fig.update_xaxes(title_text="frequency k")
        fig.update_yaxes(title_text="norm")
        return fig

    def notes(self) -> list[str]:
        sigmoid = (
            []
            if self.sigmoid_fve_pooled == self.sigmoid_fve_pooled
            else ["The sigmoid fit needs the 'a b =' layout (softmax over a and b alone)."]
        )
        at = "the last position" if self.answer_pos == -1 else f"position {self.answer_pos}"
        lookup = [] if self.query in ("=", "o") else [
            f"No score lookup C_j: the query sits at the operand '{self.query}' (the answer "
            "position), so it changes with the input; each head's frequency k is the best "
            "of its pattern fit."]  # fmt: skip
        if self.n_layers == 1:
            which = [f"Heads of layer 0, attending from the answer position ('{self.query}', "
                     f"{at})."]  # fmt: skip
        else:
            which = [f"Heads of each of the {self.n_layers} layers, attending from the answer "
                     f"position ('{self.query}', {at}). The score lookup C_j, the OV circuit "
                     "(Figures 10-11), the sigmoid fit's pooled FVE and its replacement loss "
                     "read the embeddings, so layer 0's heads only; a later layer's head has "
                     f"its {self.query} -> {self.query} attention and its pattern fit, at the "
                     "frequency that fits it best."]  # fmt: skip
        if self.flat_layers:
            which.append(f"Layer(s) {', '.join(map(str, self.flat_layers))} not fitted: "
                         "attention the same for every input (an attention rate near 0).")
        return [
            *which,
            "Pattern fit: the intercept c is fitted (the paper fixes 0.5).",
            *lookup,
            *sigmoid,
            *setup_note(self.setup_differences),
        ]


def _wave_fit(c: Tensor) -> tuple[int, float, float, float, Tensor]:
    """Best single frequency of a lookup over Z_p: k, F, G, FVE, and the norms."""
    p = c.shape[0]
    coeffs = fourier.dft(c.double(), 0)
    norms = fourier.freq_norms(coeffs)
    k = int(norms[1:].argmax()) + 1
    rows = fourier.freq_rows(p, k)  # k = p/2 (even p) has no sine
    # basis rows are cos(w_k a) * sqrt(2/p), cos(pi a) * sqrt(1/p) for k = p/2
    scale = math.sqrt(len(rows) / p)
    fve_k = float(norms[k] ** 2 / (norms[1:] ** 2).sum())
    sin = float(coeffs[rows[1]]) * scale if len(rows) == 2 else 0.0
    return k, float(coeffs[rows[0]]) * scale, sin, fve_k, norms


@torch.no_grad()
def attention_heads(
    model: Model, task: Task, *, data: ModelData | None = None
) -> AttentionResult:
    """Per-head analyses of every attention layer (module docstring): all of them for the
    first layer, whose input is the embeddings; the pattern fits for the later ones."""
    data = data or gather(model, task)
    require(
        model.cfg.normalization_type is None,
        "attention",
        "the score lookup assumes no LayerNorm before attention",
    )
    layers = (data.pattern, *data.later_patterns)
    flat = [i for i, pat in enumerate(layers)
            if pat.shape[0] < 2 or float(pat.std(0).max()) <= 1e-9]  # fmt: skip
    which = "layer 0" if len(layers) == 1 else "every layer"
    require(len(flat) < len(layers), "attention", f"the attention of {which} is the same for "
            "every input (an attention rate of 0 weights every key 1), so no head has a "
            "pattern to fit")  # fmt: skip
    p, own = task.p, tl.hooked_params(model)  # either kind of model (grok_interp.tl)
    wt = {n.split(".")[-1]: t.detach().cpu().double()
          for n, t in own.items() if n.startswith("blocks.0.attn.")}  # fmt: skip
    W_E, W_pos = (own[n].detach().cpu().double() for n in ("embed.W_E", "pos_embed.W_pos"))
    d_head, lay, n_heads = model.cfg.d_head, task.layout, model.cfg.n_heads
    query = lay.slots[lay.answer_pos]
    a_rows = W_E[lay.operand_tokens("a", p)]
    lookup = torch.full((n_heads, p), float("nan"), dtype=torch.float64)
    if query in ("=", "o"):  # a query that is the same for every input
        x_eq = W_E[lay.token(query, p)] + W_pos[lay.answer_pos]
        q = torch.einsum("d,hde->he", x_eq, wt["W_Q"]) + wt["b_Q"]
        lookup = torch.einsum("ad,hde,he->ha", a_rows, wt["W_K"], q) / math.sqrt(d_head)
    heads, patterns, score_norms, ov_norms = [], [], [], []
    sig_y, sig_fit = [], []
    replaced = data.pattern.clone().double()
    for layer, pattern in enumerate(layers):
        if layer in flat:
            continue
        for j in range(n_heads):
            head, norms, pat, sig = _head(task, pattern, layer, j, lookup[j] if layer == 0
                                          else torch.full((p,), float("nan")))  # fmt: skip
            heads.append(head)
            patterns.append(pat)
            if layer > 0:
                continue
            score_norms.append(norms)
            if sig is not None:  # the replacement and its loss: layer 0's heads
                x, y, slope, icpt = sig
                sig_y.append(y)
                sig_fit.append(icpt + slope * x)
                a_at, b_at = data.a_pos, data.b_pos
                rest = replaced[:, j, a_at] + replaced[:, j, b_at]  # 1 - (attention = -> =)
                replaced[:, j, a_at] = rest * (icpt + slope * x)
                replaced[:, j, b_at] = rest * (1 - icpt - slope * x)
            ov = (a_rows + W_pos[data.a_pos]) @ wt["W_V"][j] + wt["b_V"][j]
            ov_norms.append(fourier.freq_norms(fourier.dft(ov @ wt["W_O"][j], 0)))
    loss_model = {s: v[0] for s, v in losses_by_set(data.logits, data.labels, data.sets).items()}
    loss_lin: dict[str, float] = {}
    pooled = float("nan")
    if sig_y:
        pooled = float(fve(torch.cat(sig_y), torch.cat(sig_fit)))
        loss_lin = _linear_sigmoid_losses(model, task, data, replaced)
    return AttentionResult(
        heads=tuple(heads),
        sigmoid_fve_pooled=pooled,
        loss_model=loss_model,
        loss_linear_sigmoid=loss_lin,
        score_norms=_stack(score_norms, p // 2 + 1),
        ov_norms=_stack(ov_norms, p // 2 + 1),
        pattern_to_a=torch.stack(patterns).float(),
        setup_differences=data.differences,
        query=query,
        answer_pos=-1 if lay.answer_pos == lay.n_ctx - 1 else lay.answer_pos,
        n_layers=len(layers),
        flat_layers=tuple(flat),
    )


def _stack(rows: list[Tensor], width: int) -> Tensor:
    """Layer 0's per-head rows as one float tensor (none: layer 0 attends uniformly)."""
    return torch.stack(rows).float() if rows else torch.zeros(0, width)


def _head(task: Task, pattern: Tensor, layer: int, j: int,
          lookup: Tensor) -> tuple[Head, Tensor, Tensor, Any]:  # fmt: skip
    """Head ``j`` of ``layer`` (``pattern``: that layer's, from the answer position): its
    score lookup's wave, its attention to a as a wave over (a, b), and (three-token layout)
    the sigmoid of its = -> a attention."""
    p, lay = task.p, task.layout
    pat = pattern[:, j, lay.a_pos].double().reshape(p, p)
    if bool(lookup.isfinite().all()):
        k, F, G, s_fve, norms = _wave_fit(lookup)
    else:  # no lookup (a later layer, an operand's query): the pattern's best frequency
        k = max(range(1, p // 2 + 1), key=lambda f: float(_pattern_fit(pat, f)[1]))
        F = G = s_fve = float("nan")
        norms = torch.full((p // 2 + 1,), float("nan"), dtype=torch.float64)
    coefs, pattern_fve = _pattern_fit(pat, k)
    fixed = lay.slots[lay.answer_pos] in ("=", "o") and lay.n_ctx == 3
    sig = _sigmoid_fit(pattern[:, j].double(), lay.a_pos, lay.b_pos) if fixed else None
    head = Head(
        head=j,
        eq_attention=float(pattern[:, j, task.answer_pos].mean()),
        k=k,
        F=F,
        G=G,
        score_fve=s_fve,
        intercept=float(pat.mean()),
        alpha=coefs[0],
        beta=coefs[1],
        pattern_fve=float(pattern_fve),
        sigmoid_slope=sig[2] if sig else float("nan"),
        sigmoid_intercept=sig[3] if sig else float("nan"),
        sigmoid_fve=float(fve(sig[1], sig[3] + sig[2] * sig[0])) if sig else float("nan"),
        layer=layer,
    )
    return head, norms, pat, sig


def _pattern_fit(pat: Tensor, k: int) -> tuple[list[float], Tensor]:
    """Table 2's fit of the attention to a over (a, b) at frequency k: (alpha, beta), FVE."""
    p = pat.shape[0]
    w = 2 * math.pi * k * torch.arange(p, dtype=torch.float64) / p
    regs = [
        torch.cos(w)[:, None] - torch.cos(w)[None, :],
        torch.sin(w)[:, None] - torch.sin(w)[None, :],
    ]
    coefs = [float(((pat - pat.mean()) * r).sum() / r.square().sum()) for r in regs]
    fit = pat.mean() + coefs[0] * regs[0] + coefs[1] * regs[1]
    return coefs, fve(pat, fit)


def _linear_sigmoid_losses(model: Model, task: Task, data: ModelData,
                           replaced: Tensor) -> dict[str, float]:  # fmt: skip
    """The loss per pair set with every head's attention replaced by its fitted sigmoid."""
    with torch.no_grad():
        at = task.answer_pos
        hooks = pattern_last_hooks(0, replaced.float(), pos=at)
        tokens = task.tokens().to(model.cfg.device)
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks)[:, at].cpu()  # type: ignore[arg-type]
    return {s: v[0] for s, v in losses_by_set(logits, data.labels, data.sets).items()}


def _sigmoid_fit(pat: Tensor, a_pos: int, b_pos: int) -> tuple[Tensor, Tensor, float, float]:
    """One head's pattern (pairs, pos): x = score(a) - score(b), y = sigma(x), and the
    linear fit y ~ c + E x."""
    a0, a1 = pat[:, a_pos], pat[:, b_pos]
    # softmax over (a, b) alone: sigma(x) = A0 / (A0 + A1); x = log(A0 / A1)
    y = a0 / (a0 + a1)
    x = torch.log(a0) - torch.log(a1)
    # closed-form least squares (lstsq's threaded LAPACK varied in the last bits per run)
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / xc.square().sum())
    icpt = float(y.mean() - slope * x.mean())
    return x, y, slope, icpt


@torch.no_grad()
def attention_view(model: Model, task: Task, a: int, b: int) -> Any:
    """Every head's attention pattern on the input (a, b) as a circuitsvis widget.

    Displays itself in Jupyter; ``.local_src`` is HTML with circuitsvis' bundled
    JavaScript, which works offline (``str()`` gives the CDN version)."""
    import circuitsvis as cv

    require(
        0 <= a < task.p and 0 <= b < task.p, "attention view", f"a, b must lie in 0..{task.p - 1}"
    )
    found = (task.pairs() == torch.tensor([a, b])).all(1)
    require(bool(found.any()), "attention view", f"({a}, {b}) is not an input of {task.op}")
    row = task.tokens()[found][0]
    _, cache = model.run_with_cache(row[None].to(model.cfg.device))
    names = {task.layout.token(s, task.p): s for s in task.layout.extras}
    tokens = [names.get(int(t), str(int(t))) for t in row]
    return cv.attention.attention_heads(
        attention=cache["blocks.0.attn.hook_pattern"][0].cpu(), tokens=tokens
    )
