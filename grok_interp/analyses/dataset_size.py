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
- **Semi-grokking** (Section 5.3, P4: "a transition to middling test accuracy well after
  near-perfect train accuracy"): :func:`semi_grokking` flags a history where (1) train
  accuracy reaches ``fit`` (0.99) at some epoch t; (2) test accuracy settles: over the last
  ``tail`` (20%) of evaluations its range is at most ``settle`` (0.1); (3) its settled
  value (the mean there) is middling, within ``middling`` = (0.2, 0.9); (4) it rose after
  t: the settled value exceeds test accuracy at t by at least ``rise`` (0.1). The paper
  gives no rule; it names runs by eye in Figure 5 ("at least 6 of 200").
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
    """The rule's verdict on one history, with the numbers it read."""

    flagged: bool
    fit_epoch: float | None
    test_acc_at_fit: float
    settled_test_acc: float
    tail_range: float


def semi_grokking(
    history: Mapping[str, ArrayLike],
    *,
    fit: float = 0.99,
    tail: float = 0.2,
    settle: float = 0.1,
    middling: tuple[float, float] = (0.2, 0.9),
    rise: float = 0.1,
) -> SemiGrokking:
    """Varma et al.'s semi-grokking, as the documented rule of the module docstring."""
    train, test = np.asarray(history["train_acc"]), np.asarray(history["test_acc"])
    hit = np.nonzero(train >= fit)[0]
    last = test[-max(1, math.ceil(tail * len(test))) :]
    settled, spread = float(last.mean()), float(last.max() - last.min())
    if not len(hit):
        return SemiGrokking(False, None, math.nan, settled, spread)
    at = float(test[hit[0]])
    flagged = spread <= settle and middling[0] <= settled <= middling[1] and settled - at >= rise
    epoch = float(np.asarray(history["epoch"])[hit[0]])
    return SemiGrokking(bool(flagged), epoch, at, settled, spread)


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
