"""Varma et al. (2023)'s minimal example of grokking: two lookup-table circuits whose
weights are products of sub-weights learnt by gradient descent (Section 3, Appendix C,
Table 1, Figure 2; Theorem D.4 for where it converges).

C_gen gives logit 1 to the right label on train and test inputs; C_mem gives 1 to the
right label on train inputs and to a wrong one (D_mem) on test inputs. The logits are
``o = w_g1 w_g2 o_G + w_m1 w_m2 o_M`` over ``n_labels`` classes (Equation 5), so with
``u = w_g1 w_g2`` and ``v = w_m1 w_m2`` (Appendix C):

    L_train = -log(e^(u+v) / ((q - 1) + e^(u+v)))
    L_test  = -log(e^u / ((q - 2) + e^u + e^v))
    P'_c = |w_c1 w_c2|^(1/kappa) P_c                     (the parameter-norm model)
    L = L_train + alpha * L_wd,   L_wd = (P'_g^q + P'_m^q) (/ q with ``wd_over_q``)

and every sub-weight moves by ``w <- w - lr dL/dw`` (plain gradient descent, the train
loss only). Train accuracy is 1 once u + v > 0; test accuracy is 1 when u > v (C_gen's
label beats C_mem's), 0 otherwise.

Where Appendix C, Section 3 and Table 1 disagree, the choice here, each a parameter:
- **alpha.** Table 1 lists alpha = 0.005 but Appendix C's L_wd has none. Here alpha
  multiplies L_wd as in Equations 2 and 6 (``alpha``; set 1 for the appendix's literal
  equation). Without it the weights settle below 1 and none of Figure 2's 0-10 logit
  scale appears; with it, Table 1 (a) reproduces Figure 2 (a) (tested).
- **The factor of L_wd.** Equation 2 writes alpha/2 P^2 (alpha/q in Equation 6); Appendix
  C writes P'_g^2 + P'_m^2. The default follows Appendix C (``wd_over_q=False``), the
  simulation's own section; the factor only rescales alpha.
- **Two q's.** Appendix C's q is the number of labels (113); Theorem D.4's q is the L_q
  norm (2). They are ``n_labels`` and ``norm_q``.
- **Setting (c).** Section 3 says "we set w_G1 = w_M1" for equal speeds, but both are 0 at
  initialisation in every setting; Table 1 (c) instead raises w_g2(0) from 0.005 to 1 =
  w_m2(0). The default follows the table (``TABLE_1["c"]``).
- **Negative products.** P' uses |w1 w2| so the norm stays real if a weight crosses zero.
- **Parameter norm reported.** sqrt(P'_g^2 + P'_m^2), the L2 norm of both circuits'
  parameters together (Figure 2 does not say which combination it plots).

Theorem D.4 (case 2, kappa < q): when both circuits give the same train logits, the
minimiser has w_i proportional to P_i^(-q kappa / (q - kappa)); :func:`theorem_d4_ratio`
gives u*/v* so, and the test checks the converged simulation against it. Case 1
(kappa >= q): the less efficient circuit's weight is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go


@dataclass(frozen=True, kw_only=True)
class TwoCircuits:
    """One setting of the simulation (module docstring; defaults: Table 1 (a))."""

    P_g: float = 1.0
    P_m: float = 2.0
    kappa: float = 1.2
    alpha: float = 0.005
    w_g1: float = 0.0
    w_g2: float = 0.005
    w_m1: float = 0.0
    w_m2: float = 1.0
    n_labels: int = 113
    lr: float = 0.01
    norm_q: float = 2.0
    wd_over_q: bool = False

    def __post_init__(self) -> None:
        if min(self.P_g, self.P_m, self.kappa, self.norm_q, self.lr) <= 0:
            raise ValueError("P_g, P_m, kappa, norm_q and lr must be positive")
        if self.n_labels < 2:
            raise ValueError(f"n_labels must be at least 2, got {self.n_labels}")


TABLE_1 = {
    "a": TwoCircuits(),  # C_gen learnt slower but more efficient: grokking
    "b": TwoCircuits(P_g=4.0),  # C_gen less efficient: no grokking
    "c": TwoCircuits(w_g2=1.0),  # both learnt at the same speed: no delay
}


def losses(cfg: TwoCircuits, u: float, v: float) -> tuple[float, float, float]:
    """(train cross-entropy, test cross-entropy, weight-decay term) at weights u, v."""
    q = cfg.n_labels
    train = math.log((q - 1) + math.exp(u + v)) - (u + v)
    test = math.log((q - 2) + math.exp(u) + math.exp(v)) - u
    return train, test, cfg.alpha * _wd(cfg, u, v)


def _wd(cfg: TwoCircuits, u: float, v: float) -> float:
    e = cfg.norm_q / cfg.kappa
    total = abs(u) ** e * cfg.P_g**cfg.norm_q + abs(v) ** e * cfg.P_m**cfg.norm_q
    return total / cfg.norm_q if cfg.wd_over_q else total


def simulate(cfg: TwoCircuits, steps: int = 10_000, every: int = 50) -> pd.DataFrame:
    """Gradient descent on the sub-weights for ``steps`` steps; a row every ``every``
    steps: the weights, both losses, both accuracies, the circuits' logits and norms."""
    g1, g2, m1, m2 = cfg.w_g1, cfg.w_g2, cfg.w_m1, cfg.w_m2
    q, e = cfg.n_labels, cfg.norm_q / cfg.kappa
    scale = cfg.alpha * e / (cfg.norm_q if cfg.wd_over_q else 1.0)
    cg, cm = scale * cfg.P_g**cfg.norm_q, scale * cfg.P_m**cfg.norm_q
    rows = []
    # one loop with no calls: it runs 10^5 steps a second (the wd term's derivative at 0
    # is taken as 0, its subgradient, where e < 1 would make it infinite)
    for step in range(steps + 1):
        u, v = g1 * g2, m1 * m2
        if step % every == 0 or step == steps:
            rows.append(_row(cfg, step, u, v))
        dtrain = -(q - 1) / ((q - 1) + math.exp(u + v))  # dL_train/du = dL_train/dv
        du = dtrain + (cg * abs(u) ** (e - 1) * math.copysign(1, u) if u else 0.0)
        dv = dtrain + (cm * abs(v) ** (e - 1) * math.copysign(1, v) if v else 0.0)
        g1, g2 = g1 - cfg.lr * du * g2, g2 - cfg.lr * du * g1
        m1, m2 = m1 - cfg.lr * dv * m2, m2 - cfg.lr * dv * m1
    return pd.DataFrame(rows)


def _row(cfg: TwoCircuits, step: int, u: float, v: float) -> dict[str, float]:
    train, test, wd = losses(cfg, u, v)
    pg, pm = abs(u) ** (1 / cfg.kappa) * cfg.P_g, abs(v) ** (1 / cfg.kappa) * cfg.P_m
    return {
        "step": float(step), "gen_logit": u, "mem_logit": v, "train_loss": train,
        "test_loss": test, "wd_loss": wd, "train_acc": float(u + v > 0),
        "test_acc": float(u > v), "param_norm": math.hypot(pg, pm),
    }  # fmt: skip


def theorem_d4_ratio(cfg: TwoCircuits) -> float:
    """u* / v* at the minimum by Theorem D.4: (P_g / P_m)^(-q kappa / (q - kappa)) when
    kappa < q (case 2); when kappa >= q, inf or 0 (all weight on the more efficient
    circuit; case 1)."""
    q, k = cfg.norm_q, cfg.kappa
    if k >= q:
        return math.inf if cfg.P_g < cfg.P_m else 0.0 if cfg.P_g > cfg.P_m else math.nan
    return (cfg.P_g / cfg.P_m) ** (-q * k / (q - k))


def figure(frames: dict[str, pd.DataFrame]) -> go.Figure:
    """Figure 2: per setting, train and test loss (log) and the two circuits' logits and
    the parameter norm (linear), over steps."""
    from plotly.subplots import make_subplots

    names = list(frames)
    fig = make_subplots(rows=2, cols=len(names), shared_xaxes=True,
                        subplot_titles=[f"Table 1 ({n})" for n in names])  # fmt: skip
    colours = {"train_loss": "#1f77b4", "test_loss": "#d62728", "gen_logit": "#2ca02c",
               "mem_logit": "#9467bd", "param_norm": "#7f7f7f"}  # fmt: skip
    for col, name in enumerate(names, start=1):
        f = frames[name]
        for row, keys in ((1, ("train_loss", "test_loss")),
                          (2, ("gen_logit", "mem_logit", "param_norm"))):  # fmt: skip
            for k in keys:
                fig.add_trace(go.Scatter(x=f["step"], y=f[k], name=k, legendgroup=k,
                                         showlegend=col == 1, line={"color": colours[k]}),
                              row=row, col=col)  # fmt: skip
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=col)
    fig.update_xaxes(title_text="step", row=2)
    fig.update_layout(title="The two-circuit simulation (Varma et al. 2023, Figure 2)")
    return fig


def converge(cfg: TwoCircuits, steps: int = 200_000) -> tuple[float, float]:
    """(u, v) after ``steps`` steps of :func:`simulate` (for Theorem D.4)."""
    last = simulate(cfg, steps=steps, every=steps).iloc[-1]
    return float(last["gen_logit"]), float(last["mem_logit"])
