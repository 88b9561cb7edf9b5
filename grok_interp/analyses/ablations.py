"""Ablations (Nanda et al. 2023, Section 4.4, Figure 6, Appendix A.1, Tables 4 and 6).

Each row reports loss and accuracy over all p^2 pairs; interventions on activations go
through TransformerLens hooks (:mod:`grok_interp.hooks`), those on the logits through
their 2D DFT over (a, b).

- **Neurons.** Neurons with FVE > 0.85 replaced by their degree-2 fits (paper:
  2.41e-7 -> 2.48e-7); or restricted to the constant and their frequency's
  ``cos/sin(w_k(a+b))`` terms (paper: 5.54e-8). The constant is kept: dropping it would
  shift every logit of c by a constant vector, which is not a trig term.
- **Logit frequencies.** The component of the logits (as functions of (a, b), for each c)
  along ``cos(w_k(a+b))`` and ``sin(w_k(a+b))`` is removed for each key frequency alone
  (Figure 6) and for all of them ("excluded", Section 5.1; Table 4: ~6.5); or everything
  but the constant and the 2x2 blocks ``{cos, sin}(w_k a) x {cos, sin}(w_k b)`` of the key
  frequencies is set to zero ("restricted": the paper's "20 terms" for 5 frequencies;
  paper: 7.24e-8).
- **W_L directions.** MLP activations projected onto the 2K directions u_k, v_k (paper:
  1.19e-7) or onto their orthogonal complement (paper: 5.27).
- **Skip connections and heads** (Appendix A.1, Table 6): zero or mean ablation of the
  skip connection around the final MLP (paper: 9.12e-7, 7.25e-7), of all attention
  heads' output (paper: 24.3 when zeroed), and of the skip connection around attention
  (paper: 19.1 when zeroed), all in the final layer at the last position. Means are
  over all pairs. At the last position the skip around attention carries
  ``W_E[=] + W_pos[last]``, the same for every pair, so its mean ablation changes
  nothing in a one-layer model (a check that the hooks do what they say).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import torch
from torch import Tensor
from transformer_lens import HookedTransformer

from grok_interp import fourier
from grok_interp.analyses.common import (
    Hooks,
    ModelData,
    Result,
    gather,
    loss_acc,
    require,
    run_hooked,
    sci,
)
from grok_interp.analyses.logits import _check_keys, wave, wl_coeffs
from grok_interp.analyses.neurons import NeuronsResult, fitted_activations
from grok_interp.hooks import ablate_last, ablate_stored_term, project_last, replace_last, store
from grok_interp.tasks import Task

PAPER = {
    "none": "2.41e-7",
    "neurons -> degree-2 fits": "2.48e-7",
    "neurons -> cos/sin(w_k(a+b)) terms": "5.54e-8",
    "restricted (only key frequencies)": "7.24e-8",
    "excluded (all key frequencies removed)": "6.5 (Table 4, seeds)",
    "MLP acts projected on u_k, v_k": "1.19e-7",
    "MLP acts projected on their null space": "5.27",
    "skip around MLP zeroed": "9.12e-7",
    "skip around MLP mean": "7.25e-7",
    "attention heads zeroed": "24.3",
    "skip around attention zeroed": "19.1",
}


@dataclass(frozen=True)
class Ablation:
    name: str
    loss: float
    accuracy: float


@dataclass(frozen=True)
class AblationsResult(Result):
    """Loss and accuracy of the model under each ablation (module docstring)."""

    rows: tuple[Ablation, ...]

    title = "Ablations"
    section = "Section 4.4, Figure 6, Appendix A.1, Tables 4 and 6"

    def get(self, name: str) -> Ablation:
        return next(r for r in self.rows if r.name == name)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "ablation": r.name,
                    "loss": sci(r.loss),
                    "accuracy": f"{r.accuracy:.4f}",
                    "paper loss (mainline)": PAPER.get(r.name, "-"),
                }
                for r in self.rows
            ]
        )

    def figure(self) -> go.Figure:
        fig = go.Figure(go.Bar(x=[r.name for r in self.rows], y=[r.loss for r in self.rows]))
        fig.update_layout(title=self.heading(), yaxis_type="log", yaxis_title="loss")
        return fig

    def notes(self) -> list[str]:
        return [
            "All losses over all p^2 pairs; the paper's are test losses.",
            "Single-frequency rows remove cos/sin(w_k(a+b)) of that frequency.",
        ]


def remove_sum_waves(logits: Tensor, p: int, freqs: list[int]) -> Tensor:
    """Project out cos(w_k(a+b)) and sin(w_k(a+b)) (over the a-major pairs) per output c."""
    out = logits.double().clone()
    for k in freqs:
        for kind in ("cos", "sin"):
            f = wave(p, k, kind).reshape(-1, 1)
            out -= f @ (f.T @ out) / f.square().sum()
    return out


def keep_key_blocks(logits: Tensor, p: int, freqs: list[int]) -> Tensor:
    """Zero every 2D Fourier component over (a, b) except the constant and key 2x2 blocks.

    Only the kept basis rows are used: project on them, mask, and map back."""
    idx = [0] + [i for k in freqs for i in (2 * k - 1, 2 * k)]
    rows = fourier.basis(p, torch.float64)[idx]  # (m, p)
    grid = logits.double().reshape(p, p, -1)
    c = torch.einsum("ia,abc->ibc", rows, grid)
    c = torch.einsum("jb,ibc->ijc", rows, c)  # (m, m, c)
    mask = torch.zeros(len(idx), len(idx), dtype=torch.bool)
    mask[0, 0] = True
    for n in range(len(freqs)):
        mask[1 + 2 * n : 3 + 2 * n, 1 + 2 * n : 3 + 2 * n] = True
    c = c * mask[:, :, None]
    out = torch.einsum("jb,ijc->ibc", rows, c)
    return torch.einsum("ia,ibc->abc", rows, out).reshape(p * p, -1)


def logit_ablations(logits: Tensor, labels: Tensor, freqs: list[int]) -> list[Ablation]:
    """The logit-level rows: none, restricted, excluded, each key frequency."""
    p = logits.shape[1]

    def row(name: str, logits: Tensor) -> Ablation:
        return Ablation(name, *loss_acc(logits, labels))

    rows = [
        row("none", logits),
        row("restricted (only key frequencies)", keep_key_blocks(logits, p, freqs)),
        row("excluded (all key frequencies removed)", remove_sum_waves(logits, p, freqs)),
    ]
    rows += [row(f"frequency {k} removed", remove_sum_waves(logits, p, [k])) for k in freqs]
    return rows


@torch.no_grad()
def ablations(
    model: HookedTransformer,
    task: Task,
    *,
    key_freqs: list[int],
    neurons: NeuronsResult,
    data: ModelData | None = None,
) -> AblationsResult:
    """Every ablation of the module docstring, in one table."""
    data = data or gather(model, task)
    _check_keys(key_freqs, task.p)
    require(task.op == "add", "ablations", f"the key-frequency waves describe add, not {task.op}")
    labels, last = data.labels, model.cfg.n_layers - 1
    post, mid = f"blocks.{last}.mlp.hook_post", f"blocks.{last}.hook_resid_mid"
    pre, attn_out = f"blocks.{last}.hook_resid_pre", f"blocks.{last}.hook_attn_out"

    def run(name: str, hooks: Hooks) -> Ablation:
        return Ablation(name, *loss_acc(run_hooked(data, hooks), labels))

    rows = logit_ablations(data.logits, labels, key_freqs)
    well = neurons.well_fit
    for name, restricted in (
        ("neurons -> degree-2 fits", False),
        ("neurons -> cos/sin(w_k(a+b)) terms", True),
    ):
        fits = fitted_activations(data.post, task.p, neurons.best_freq, restricted=restricted)
        rows.append(run(name, [(post, replace_last(fits, well))]))
    coeffs = wl_coeffs(data.W_L)
    cols = [i for k in key_freqs for i in (2 * k - 1, 2 * k)]
    q, _ = torch.linalg.qr(coeffs[:, cols])  # orthonormal basis of span{u_k, v_k}
    proj = (q @ q.T).float()
    rows.append(run("MLP acts projected on u_k, v_k", [(post, project_last(proj))]))
    null = torch.eye(len(proj)) - proj
    rows.append(run("MLP acts projected on their null space", [(post, project_last(null))]))
    for mode in ("zero", "mean"):
        cache: dict[str, Tensor] = {}
        rows.append(
            run(
                f"skip around MLP {mode}" if mode == "mean" else "skip around MLP zeroed",
                [
                    (mid, store(cache)),
                    (f"blocks.{last}.hook_resid_post", ablate_stored_term(cache, mid, mode)),
                ],
            )
        )
    for mode, label in (("zero", "zeroed"), ("mean", "mean")):
        rows.append(run(f"attention heads {label}", [(attn_out, ablate_last(mode))]))
        cache = {}
        rows.append(
            run(
                f"skip around attention {label}",
                [(pre, store(cache)), (mid, ablate_stored_term(cache, pre, mode))],
            )
        )
    return AblationsResult(rows=tuple(rows))
