"""Periodicity of the embedding (Nanda et al. 2023, Section 4.1, Figure 3 left).

The DFT is taken along W_E's input axis over the p number tokens (the ``=`` and operator
tokens are left out, as the paper's footnote does) and the L2 norm over d_model. Norms
of k and p-k coincide, so only k = 0 .. (p-1)/2 are reported (k = 0 is the constant).
The Gini coefficient (Section 5.1) is taken over the norms of k = 1 .. (p-1)/2.

When the layout gives the operands separate vocabularies (Zhong et al.'s ``diff_vocab``,
``", separate vocab"``), each operand's p rows are transformed on their own
(``per_operand``), and ``norms`` combines the two (the root of the sum of their squares,
the norm over both operands' rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float
from torch import Tensor

from grok_interp import fourier
from grok_interp.analyses.common import Result, check_model, require_modular
from grok_interp.tasks import Task
from grok_interp.tl import Model


@dataclass(frozen=True)
class FourierNormsResult(Result):
    """L2 norm of a matrix's Fourier components per frequency (index 0: constant)."""

    name: str
    norms: Float[Tensor, " n_freqs_plus_1"]
    per_operand: dict[str, Float[Tensor, " n_freqs_plus_1"]] | None = None

    title = "Fourier components"
    section = "Section 4.1, Figure 3"

    def heading(self) -> str:
        where = (
            "Section 4.2, Figure 3 right" if self.name == "W_L" else "Section 4.1, Figure 3 left"
        )
        return f"Fourier norms of {self.name} ({where})"

    @property
    def gini(self) -> float:
        return fourier.gini(self.norms[1:])

    def top(self, n: int = 8) -> list[int]:
        return [int(k) + 1 for k in self.norms[1:].argsort(descending=True)[:n]]

    def table(self) -> pd.DataFrame:
        rel = self.norms[1:] / self.norms[1:].max()
        rows = [
            (str(k), f"{float(self.norms[k]):.4g}", f"{float(rel[k - 1]):.3f}") for k in self.top()
        ]
        rows.append(("Gini (k>=1)", f"{self.gini:.3f}", ""))
        frame = pd.DataFrame(rows, columns=["k", "norm", "relative to largest"])
        for slot, norms in (self.per_operand or {}).items():
            frame[f"norm ({slot}'s tokens)"] = [
                f"{float(norms[k]):.4g}" for k in self.top()] + [f"{fourier.gini(norms[1:]):.3f}"]
        return frame

    def notes(self) -> list[str]:
        if not self.per_operand:
            return []
        return ["The operands have separate vocabularies: each one's p tokens are "
                "transformed on their own; 'norm' combines both."]  # fmt: skip

    def figure(self) -> go.Figure:
        ks = list(range(1, len(self.norms)))
        fig = go.Figure(go.Bar(x=ks, y=self.norms[1:].tolist()))
        fig.update_layout(title=self.heading(), xaxis_title="frequency k", yaxis_title="norm")
        return fig


@torch.no_grad()
def embedding_fourier(model: Model, task: Task) -> FourierNormsResult:
    """Norms of W_E's Fourier components per frequency (Figure 3, left)."""
    check_model(model, task, "embedding")
    require_modular(task, "embedding")
    w_e = model.W_E.detach().float().cpu()
    lay = task.layout
    per = {s: fourier.freq_norms(fourier.dft(w_e[lay.operand_tokens(s, task.p)], 0))
           for s in ("a", "b")}  # fmt: skip
    if lay.shared_vocab:
        return FourierNormsResult(name="W_E", norms=per["a"])
    both = (per["a"].square() + per["b"].square()).sqrt()
    return FourierNormsResult(name="W_E", norms=both, per_operand=per)
