"""Clock or pizza: which algorithm a modular-addition model uses (Zhong, Liu, Tegmark and
Andreas 2023, *The Clock and the Pizza*).

Both algorithms embed each number on circles ``(cos w a, sin w a)``. The **clock** (Nanda
et al.'s algorithm) multiplies the two embeddings (angle addition), so the logit of ``c``
is ``cos(w (a + b - c))``: the correct logit does not depend on the distance ``a - b``,
and it reads ``a`` and ``b`` through different products. The **pizza** adds the two
embeddings, ``E_a + E_b = 2 cos(w (a-b)/2) (cos(w (a+b)/2), sin(w (a+b)/2))``, and reads
the angle of the sum, so the logit depends on ``E_a + E_b`` only and the correct logit
scales with ``|cos(w (a-b)/2)|``. The paper's two measures, as the authors' code
computes them (the paper's text is not at hand; fjzzq2002/pizza, ``code/eval-main.ipynb``):

- **Gradient symmetricity** (notebook section "Gradient Symmetricity"): for sampled
  triples ``(a, b, c)`` (the authors draw 100 of all ``p^3`` with seed 42), the cosine
  between the gradients of the logit of ``c`` at the last position with respect to the
  token embeddings of ``a`` and of ``b`` (their ``forward_h``'s ``t``, the embedding
  before the positional embedding: TransformerLens' ``hook_embed``), averaged over the
  triples. A function of ``E_a + E_b`` (the pizza) gives 1 exactly; the ideal clock gives
  ``cos(w (a - b))`` per triple, about 0 on average. A one-layer model with uniform
  attention (attention rate 0) reads ``a`` and ``b`` only through ``E_a + E_b`` whatever
  it computes, so its symmetricity is 1 by construction: there only distance irrelevance
  tells the algorithms apart.
- **Distance irrelevance** (notebook section "Distance Irrelevance"): the correct logits
  laid out as ``L[(a+b) mod p, (a-b) mod p]``; ``mean over columns of std(L[:, d]) /
  std(L)`` (numpy's ``np.mean(np.std(oo, axis=0)) / np.std(oo.flatten())``, population
  standard deviations). 1 when the correct logit does not depend on ``a - b`` (clock), 0
  when it depends on ``a - b`` only (pizza). (``code/train-main.py`` logs a variant on
  the largest wrong logit; the notebook's correct-logit form is the one used here.)

The triples are drawn uniformly without replacement from all ``p^3`` with a seeded
``torch.randperm`` (the same seed gives the same triples on every machine);
``triples="authors"`` takes the authors' own draw instead (``random.Random(42).shuffle``
of all ``p^3`` triples in a-major order, the first 100: :func:`authors_triples`), which
gives their published 0.3336 on their clock model B. The default draws 1,000 rather than
100: the mean is the same quantity, estimated closer, and the table gives it with its
standard error (our uniform draw on model B: 100 triples give 0.406, 1,000 give 0.363,
10,000 give 0.349; on their pizza model A all give 0.994; the mainline: 0.190 ± 0.012 from
1,000, 0.2085 from all 113^3).

Verdict. The authors' code reports both measures as continuous values and names no
cut-offs; the thresholds here are ours, read off the authors' table of 1-layer runs
(``result/1l_fixedwidth.csv``): "pizza" when gradient symmetricity >= 0.98 and distance
irrelevance <= 0.5, "clock" when gradient symmetricity <= 0.9 and distance irrelevance >=
0.7, "mixed/undetermined" otherwise (mixtures of clock and pizza circles fall between),
and for a model that answers fewer than 99% of all pairs right (the measures describe a
model that computes ``a + b``; an untrained one has irrelevance about 1).
On that table's 4,852 runs (p = 59, no ``=`` token, one vocabulary) these cut-offs call
84% of the runs with attention rate >= 0.8 clocks (2% pizzas) and 39% of those with rate
< 0.2 pizzas (10% clocks); 45% of all runs fall between. The authors' model A
(``code/save/model_p99zdpze5l.pt``, uniform attention) measures 0.994 and 0.172 here
(pizza), their model B (``model_l8k1hzciux.pt``, learned attention) 0.363 and 0.848
(clock).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.common import ModelData, Result, gather, require
from grok_interp.tasks import Task
from grok_interp.tl import Model

CLOCK, PIZZA, MIXED = "clock", "pizza", "mixed/undetermined"


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Cut-offs of the verdict (module docstring; ours, not the authors')."""

    pizza_symmetricity: float = 0.98
    pizza_irrelevance: float = 0.5
    clock_symmetricity: float = 0.9
    clock_irrelevance: float = 0.7
    min_accuracy: float = 0.99

    def verdict(self, symmetricity: float, irrelevance: float, accuracy: float = 1.0) -> str:
        if accuracy < self.min_accuracy:
            return MIXED
        if symmetricity >= self.pizza_symmetricity and irrelevance <= self.pizza_irrelevance:
            return PIZZA
        if symmetricity <= self.clock_symmetricity and irrelevance >= self.clock_irrelevance:
            return CLOCK
        return MIXED

    def reason(self, symmetricity: float, irrelevance: float, accuracy: float = 1.0) -> str:
        """Why :meth:`verdict` names no algorithm ("" when it names one): the accuracy
        below ``min_accuracy``, else each measure that misses each algorithm's cut-off."""
        if accuracy < self.min_accuracy:
            return (f"the model answers {accuracy:.1%} of all pairs right, below "
                    f"{self.min_accuracy:.0%}: the measures describe one that adds")  # fmt: skip
        if self.verdict(symmetricity, irrelevance, accuracy) != MIXED:
            return ""
        sym = f"gradient symmetricity {symmetricity:.3f}"
        irr = f"distance irrelevance {irrelevance:.3f}"
        clock = [f"{sym} > {self.clock_symmetricity}"] * (symmetricity > self.clock_symmetricity)
        clock += [f"{irr} < {self.clock_irrelevance}"] * (irrelevance < self.clock_irrelevance)
        pizza = [f"{sym} < {self.pizza_symmetricity}"] * (symmetricity < self.pizza_symmetricity)
        pizza += [f"{irr} > {self.pizza_irrelevance}"] * (irrelevance > self.pizza_irrelevance)
        return f"not the clock: {' and '.join(clock)}; not the pizza: {' and '.join(pizza)}"


@dataclass(frozen=True)
class AlgorithmResult(Result):
    """Zhong et al.'s measures and the verdict. ``triples`` are the sampled ``(a, b, c)``,
    ``cosines`` each one's gradient cosine (NaN where a gradient is zero, left out of the
    mean), ``correct_logits[s, d]`` the correct logit of the pair with ``a + b = s`` and
    ``a - b = d`` (mod p)."""

    gradient_symmetricity: float
    distance_irrelevance: float
    verdict: str
    accuracy: float
    triples: Int[Tensor, "n 3"]
    cosines: Float[Tensor, " n"]
    correct_logits: Float[Tensor, "p p"]
    thresholds: Thresholds

    title = "Clock or pizza"
    section = "Zhong et al. 2023, gradient symmetricity and distance irrelevance"
    paper_name = "Zhong et al. 2023"

    @property
    def symmetricity_se(self) -> float:
        """The standard error of the sampled gradient symmetricity (the cosines' sample
        standard deviation over the square root of their number): the mean over all p^3
        triples lies within about two of it (mainline: 0.190 from 1,000 triples, 0.2085
        from all 113^3)."""
        cos = self.cosines[self.cosines.isfinite()].double()
        return float(cos.std() / len(cos) ** 0.5) if len(cos) > 1 else float("nan")

    def table(self) -> pd.DataFrame:
        t = self.thresholds
        why = t.reason(self.gradient_symmetricity, self.distance_irrelevance, self.accuracy)
        return pd.DataFrame(
            [
                ("gradient symmetricity",
                 f"{self.gradient_symmetricity:.3f} ± {self.symmetricity_se:.3f}",
                 f"<= {t.clock_symmetricity}", f">= {t.pizza_symmetricity}"),
                ("distance irrelevance", f"{self.distance_irrelevance:.3f}",
                 f">= {t.clock_irrelevance}", f"<= {t.pizza_irrelevance}"),
                ("verdict", self.verdict, CLOCK, PIZZA),
                *([("why not named", why, "", "")] if why else []),
            ],
            columns=["measure", "value", "clock", "pizza"],
        )  # fmt: skip

    def figure(self) -> go.Figure:
        fig = go.Figure(go.Heatmap(z=self.correct_logits.tolist(), colorscale="Viridis"))
        p = self.correct_logits.shape[0]
        fig.update_layout(
            title=(f"Correct logits (distance irrelevance {self.distance_irrelevance:.3f}; "
                   "Section 'Distance Irrelevance' of Zhong et al.'s eval-main.ipynb)"),
            xaxis_title=f"(a - b) mod {p}",
            yaxis_title=f"(a + b) mod {p}",
        )
        return fig

    def notes(self) -> list[str]:
        n = int(self.cosines.isfinite().sum())
        notes = [
            f"Gradient symmetricity over {n} sampled (a, b, c) triples, ± its standard error; "
            "the thresholds are ours (the authors give none): see "
            "grok_interp.analyses.algorithm."
        ]
        if self.accuracy < self.thresholds.min_accuracy:
            notes.append(
                f"No algorithm is named: the model answers {self.accuracy:.2%} of all pairs "
                f"right, below {self.thresholds.min_accuracy:.0%}."
            )
        if self.verdict != CLOCK:
            notes.append(
                f"Verdict {self.verdict}: Nanda et al.'s tables assume the clock algorithm; "
                "read them with care."
            )
        return notes


def correct_logit_grid(logits: Float[Tensor, "pairs d_vocab_out"], p: int) -> Float[Tensor, "p p"]:
    """The correct logits of all ``p^2`` pairs (a-major, ``a + b mod p`` the answer) laid
    out as ``L[(a+b) mod p, (a-b) mod p]``, the authors' ``oo`` (a bijection for odd p)."""
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    grid = torch.empty(p, p, dtype=torch.float64)
    grid[(a + b) % p, (a - b) % p] = logits.double()[torch.arange(p * p), (a + b) % p]
    return grid


def distance_irrelevance(grid: Float[Tensor, "p p"]) -> float:
    """Mean over columns (fixed ``a - b``) of the std over rows, over the std of all
    (population stds, as numpy's ``np.std``)."""
    return float(grid.std(0, correction=0).mean() / grid.std(correction=0))


def circularity(embed: Float[Tensor, "p d_model"], n_components: int = 4) -> float:
    """Zhong et al.'s circularity of the number tokens' embeddings (Appendix B, Definition
    B.1; ``eval-main.ipynb`` section "Circularity"): for each of the first four principal
    components ``v`` of the ``p`` embeddings (centred, as sklearn's PCA), the largest
    share of its power in one Fourier frequency, ``max_k 2 |sum_j v_j e^{2 pi i jk/p}|^2 /
    (p sum_j v_j^2)`` over ``k = 1..p-1`` (clipped to [0, 1] as the notebook does),
    averaged over the components. 1 when the components are Fourier waves; the paper calls
    a model circular at >= 0.995 (App. B) and its Figure 7 shows circular runs only."""
    p = embed.shape[0]
    require(p >= 3 and embed.shape[1] >= n_components, "circularity",
            f"needs >= 3 tokens and >= {n_components} embedding dimensions, got "
            f"{tuple(embed.shape)}")  # fmt: skip
    x = embed.detach().double().cpu()
    u, s, _ = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    pcs = (u * s)[:, :n_components]  # (p, component): the PCA scores
    power = torch.fft.fft(pcs, dim=0).abs()[1:] ** 2
    share = 2 * power / (p * (pcs**2).sum(0))
    return float(share.max(0).values.clamp(0, 1).mean())


def sample_triples(p: int, n: int, seed: int = 42) -> Int[Tensor, "n 3"]:
    """``n`` distinct ``(a, b, c)`` drawn uniformly from ``Z_p^3`` (seeded)."""
    idx = torch.randperm(p**3, generator=torch.Generator().manual_seed(seed))[: min(n, p**3)]
    return torch.stack([idx // (p * p), idx // p % p, idx % p], 1)


def authors_triples(p: int, n: int = 100, seed: int = 42) -> Int[Tensor, "n 3"]:
    """The authors' triples (``eval-main.ipynb``): the first ``n`` of all ``(a, b, c)``
    in a-major order after ``random.Random(seed).shuffle``. The shuffle's draws do not
    depend on the items, so shuffling the indices ``a p^2 + b p + c`` gives their order
    (about 0.1 s at p = 59, 1 s at p = 113)."""
    idx = list(range(p**3))
    random.Random(seed).shuffle(idx)
    t = torch.tensor(idx[:n])
    return torch.stack([t // (p * p), t // p % p, t % p], 1)


def gradient_cosines(
    model: Model, tokens: Int[Tensor, "n pos"], c: Int[Tensor, " n"],
    a_pos: int, b_pos: int, answer_pos: int = -1,
) -> Float[Tensor, " n"]:  # fmt: skip
    """Per input, the cosine between the gradients of the last position's logit ``c``
    with respect to ``hook_embed`` at ``a_pos`` and at ``b_pos`` (NaN where one is 0).

    Inputs do not interact, so one backward of the summed logits gives every input's own
    gradient."""
    leaf: list[Tensor] = []

    def grab(act: Tensor, hook: object) -> Tensor:
        leaf.append(act.detach().requires_grad_(True))
        return leaf[0]

    with torch.enable_grad(), model.hooks(fwd_hooks=[("hook_embed", grab)]):
        logits = model(tokens.to(model.cfg.device))[:, answer_pos]
        picked = logits.gather(1, c.to(logits.device)[:, None]).sum()
        (grad,) = torch.autograd.grad(picked, leaf[0])
    ga, gb = grad[:, a_pos].double().cpu(), grad[:, b_pos].double().cpu()
    return (ga * gb).sum(-1) / (ga.norm(dim=-1) * gb.norm(dim=-1))


def algorithm(
    model: Model,
    task: Task,
    *,
    n_triples: int = 1000,
    seed: int = 42,
    triples: Literal["uniform", "authors"] = "uniform",
    thresholds: Thresholds = Thresholds(),
    data: ModelData | None = None,
) -> AlgorithmResult:
    """Gradient symmetricity, distance irrelevance and the clock/pizza verdict (module
    docstring) of a model of ``a + b mod p`` (odd p, full grid); ``data`` reuses a
    :func:`gather` of the same model. ``triples="authors"`` takes the authors' triples
    (:func:`authors_triples`; with ``n_triples=100`` their notebook's) instead of a
    uniform draw. The operands and the answer are read where the task's layout puts
    them."""
    require(task.op == "add", "algorithm", f"the measures are for a + b mod p, not {task.op}")
    require(task.p % 2 == 1, "algorithm", f"(a+b, a-b) covers Z_p^2 only for odd p, not {task.p}")
    data = data if data is not None else gather(model, task)
    grid = correct_logit_grid(data.logits, task.p)
    draw = authors_triples if triples == "authors" else sample_triples
    picked = draw(task.p, n_triples, seed)
    tokens = task.tokens()[picked[:, 0] * task.p + picked[:, 1]]
    cos = gradient_cosines(model, tokens, picked[:, 2], data.a_pos, data.b_pos, task.answer_pos)
    sym, irr = float(cos.nanmean()), distance_irrelevance(grid)
    acc = float((data.logits.argmax(-1) == data.labels).double().mean())
    return AlgorithmResult(
        gradient_symmetricity=sym,
        distance_irrelevance=irr,
        verdict=thresholds.verdict(sym, irr, acc),
        accuracy=acc,
        triples=picked,
        cosines=cos,
        correct_logits=grid,
        thresholds=thresholds,
    )
