"""Measures over sweeps of dataset size (Varma et al. 2023, Sections 4-5, Appendix A).

These read a sweep's results table or a run's history, never a model, so they apply to
any task and learner. Each is an operational definition of something the paper describes
in words; the choices are stated here and in the example scripts' tables.

- **Critical dataset size** (Section 4.2, P2): ``D_crit`` of one curve of test accuracy at
  the end of training against the (reduced) training-set size is where that curve first
  crosses ``level`` (0.5) going up, interpolated linearly in log D between the two sizes
  that bracket it. A curve entirely above or below ``level`` has no crossing (NaN, with
  which side it lies on). :func:`critical_sizes` gives one per curve (per weight decay and
  seed), so its spread over seeds and weight decays is the experiment's answer to P3.
- **Semi-grokking** (Section 5.3, P4: "If the latter, we should observe a transition to
  middling test accuracy well after near-perfect train accuracy"; Section 4.2: "an
  initial phase with good train performance and bad test performance, followed by a
  transition to significantly improved test performance"; Figure 1c: "a transition to
  improved but not perfect test loss" at convergence). :func:`semi_grokking` flags a
  history when every condition holds (each named in the verdict's ``failed`` otherwise):

  1. ``fits``: train accuracy reaches ``fit`` (0.99) at some evaluation, epoch t_fit
     ("near-perfect train accuracy");
  2. ``stays_fitted``: train accuracy stays at or above ``hold`` (0.95) at every
     evaluation from t_fit on (the good train performance lasts; Section 5.3 notes that
     train loss "fluctuates in a set range" in a semi-grokking run, so a dip is allowed);
  3. ``settled``: over the last ``tail`` (20%, at least 4) of the evaluations, test
     accuracy moves within a range of at most ``settle`` (0.1) and has no trend: the
     means of the tail's second and first halves differ by at most ``drift`` (0.02)
     (the value at convergence, not a transient on its way up or down);
  4. ``middling``: the settled value (the tail's mean) lies in ``middling`` (0.2, 0.9);
  5. ``rose``: it exceeds test accuracy at t_fit by at least ``rise`` (0.1) (a
     transition to "significantly improved test performance");
  6. ``well_after``: the transition comes well after the fit: the first evaluation after
     t_fit at which test accuracy has covered half the rise (t_rise) satisfies
     t_rise >= ``after`` (2) x t_fit, that is, the epoch count at least doubles between
     the fit and the transition.

  The thresholds are ours; the paper gives no rule and names runs by eye in Figure 5
  ("at least 6 show clear semi-grokking at the end of training").
- **Isologit buckets** (Figure 3): logits bucketed geometrically into six buckets between
  their minimum and maximum (equal ratios), for the isologit curves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


def crossing(sizes: ArrayLike, accs: ArrayLike, level: float = 0.5) -> float:
    """Where test accuracy first crosses ``level`` going up as the size grows, linear in
    log size between the bracketing sizes; NaN when it never does (module docstring)."""
    order = np.argsort(sizes)
    d, a = np.log(np.asarray(sizes, float)[order]), np.asarray(accs, float)[order]
    for i in range(len(d) - 1):
        if a[i] < level <= a[i + 1]:
            t = (level - a[i]) / (a[i + 1] - a[i])
            return float(math.exp(d[i] + t * (d[i + 1] - d[i])))
    return math.nan


def critical_sizes(
    table: pd.DataFrame,
    *,
    size: str = "train.n_train",
    acc: str = "final_test_acc",
    by: Sequence[str] = ("train.weight_decay", "seed"),
    level: float = 0.5,
) -> pd.DataFrame:
    """One row per curve (the ``by`` columns): its D_crit, and where the curve lies when it
    never crosses ``level`` ("above" or "below" at every size)."""
    rows = []
    for key, part in table.groupby(list(by), sort=True):
        d = crossing(part[size].tolist(), part[acc].tolist(), level)
        side = "" if not math.isnan(d) else ("above" if part[acc].min() >= level else "below")
        rows.append({**dict(zip(by, key, strict=True)), "D_crit": d, "no_crossing": side})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SemiGrokking:
    """The rule's verdict on one history, with the numbers it read; ``failed`` names the
    conditions that do not hold (module docstring), empty when ``flagged``."""

    flagged: bool
    fit_epoch: float | None
    test_acc_at_fit: float
    settled_test_acc: float
    tail_range: float
    tail_drift: float
    min_train_acc_after_fit: float
    rise_epoch: float | None
    failed: tuple[str, ...]


def semi_grokking(
    history: Mapping[str, ArrayLike],
    *,
    fit: float = 0.99,
    hold: float = 0.95,
    tail: float = 0.2,
    settle: float = 0.1,
    drift: float = 0.02,
    middling: tuple[float, float] = (0.2, 0.9),
    rise: float = 0.1,
    after: float = 2.0,
) -> SemiGrokking:
    """Varma et al.'s semi-grokking (Section 5.3, P4), as the six conditions of the module
    docstring."""
    epoch = np.asarray(history["epoch"], float)
    train, test = np.asarray(history["train_acc"], float), np.asarray(history["test_acc"], float)
    if len(test) < 4:
        raise ValueError(f"semi_grokking needs at least 4 evaluations, got {len(test)}")
    last = test[-max(4, math.ceil(tail * len(test))) :]
    half = len(last) // 2
    settled, spread = float(last.mean()), float(last.max() - last.min())
    trend = float(last[-half:].mean() - last[:half].mean())
    hit = np.nonzero(train >= fit)[0]
    at = float(test[hit[0]]) if len(hit) else math.nan
    t_fit = float(epoch[hit[0]]) if len(hit) else None
    low = float(train[hit[0] :].min()) if len(hit) else math.nan
    up = np.nonzero((np.arange(len(test)) > (hit[0] if len(hit) else 0))
                    & (test >= at + (settled - at) / 2))[0]  # fmt: skip
    t_rise = float(epoch[up[0]]) if len(hit) and settled > at and len(up) else None
    checks = {
        "fits": t_fit is not None,
        "stays_fitted": low >= hold,
        "settled": spread <= settle and abs(trend) <= drift,
        "middling": middling[0] <= settled <= middling[1],
        "rose": settled - at >= rise,
        "well_after": t_fit is not None and t_rise is not None and t_rise >= after * t_fit,
    }
    failed = tuple(name for name, ok in checks.items() if not ok)
    return SemiGrokking(not failed, t_fit, at, settled, spread, trend, low, t_rise, failed)


def geometric_buckets(values: ArrayLike, n: int = 6) -> np.ndarray:
    """Each value's bucket, 0..n-1, of n geometrically equal buckets spanning the positive
    values' range (Figure 3's isologit buckets); -1 for values that are not positive."""
    v = np.asarray(values, float)
    edges = bucket_edges(v, n)
    if not len(edges):
        return np.full(len(v), -1)
    out = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, n - 1)
    return np.where(v > 0, out, -1)


def bucket_edges(values: ArrayLike, n: int = 6) -> np.ndarray:
    """The n + 1 edges :func:`geometric_buckets` uses."""
    pos = np.asarray(values, float)
    pos = pos[pos > 0]
    return np.geomspace(pos.min(), pos.max(), n + 1) if len(pos) else np.array([])
