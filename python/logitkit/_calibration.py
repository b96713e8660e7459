"""Calibration machinery shared by :mod:`logitkit.multiclass` and :mod:`logitkit.multilabel`:
the bracketed 1-D root finder behind ``fit_temperature``, the per-class Platt-scaling Newton
solver, and equal-width reliability binning for the expected calibration error."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _core
from ._multi import CalibrationWarning
from ._validation import caller_stacklevel, scalar_of

__all__ = [
    "check_bounds",
    "check_n_bins",
    "ece_from",
    "platt_newton",
    "platt_targets",
    "separable_columns",
    "solve_log_temperature",
    "warn_at_bounds",
]


def check_bounds(bounds: Any) -> tuple[float, float]:
    """``bounds = (T_min, T_max)`` with 0 < T_min < T_max < inf."""
    try:
        lo, hi = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"bounds: expected a pair (T_min, T_max), got {bounds!r}") from None
    if not (0.0 < lo < hi < math.inf):
        raise ValueError(f"bounds: need 0 < T_min < T_max < inf, got {bounds!r}")
    return lo, hi


def check_n_bins(n_bins: Any) -> int:
    """A positive integer number of bins."""
    n_bins = scalar_of(n_bins)
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, numbers.Integral):
        raise TypeError(f"n_bins: expected a positive integer, got {n_bins!r}")
    if n_bins < 1:
        raise ValueError(f"n_bins: must be >= 1, got {n_bins}")
    return int(n_bins)


# ----------------------------------------------------------------------------- ECE


def ece_from(confidence: np.ndarray, outcome: np.ndarray, n_bins: int) -> float:
    """Expected calibration error of confidences against outcomes (both 1-D float64).

    Equal-width bins over [0, 1]: bin k holds the confidences in (k/n, (k+1)/n], the first bin also
    0 (edges from ``np.linspace(0, 1, n + 1)``). ECE = Σ_k (n_k / N)·|mean outcome_k − mean
    confidence_k| = Σ_k |Σ outcome_k − Σ confidence_k| / N. Empty input gives NaN.
    """
    n = confidence.shape[0]
    if n == 0:
        return math.nan
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    sum_conf = np.bincount(idx, weights=confidence, minlength=n_bins)
    sum_out = np.bincount(idx, weights=outcome, minlength=n_bins)
    return float(np.sum(np.abs(sum_out - sum_conf)) / n)


# ----------------------------------------------------------------------------- scalar temperature


def solve_log_temperature(
    h: Callable[[float], float], lo: float, hi: float, tol: float = 1e-11, max_eval: int = 200
) -> tuple[float, int]:
    """The root s* in [lo, hi] of h(s) = d loss / d log T, which is < 0 left of the optimum and
    > 0 right of it (the mean NLL is convex in 1/T, so its derivative changes sign once).

    Starts at s = 0 (T = 1), brackets the root by steps doubling away from 0, then narrows the
    bracket by regula falsi with the Illinois modification (superlinear; the endpoint kept twice
    in a row has its value halved), falling back to bisection when a secant point leaves the
    bracket. Returns (s, side): side is -1 or +1 when the optimum lies beyond the lower or upper
    bound and that bound is returned, else 0.
    """
    s0 = min(max(0.0, lo), hi)
    f0 = h(s0)
    if f0 == 0.0:
        return s0, 0
    direction = -1.0 if f0 > 0 else 1.0  # loss rises with s: the optimum is at a smaller T
    prev, fprev, step = s0, f0, 0.5
    while True:
        s = min(max(prev + direction * step, lo), hi)
        f = h(s)
        # f == 0 away from T = 1 is a derivative that underflowed on the way to a bound (every
        # item right with a huge margin), not a root: keep going.
        if f != 0.0 and (f > 0) != (f0 > 0):
            break
        if s in (lo, hi):
            return s, (-1 if s == lo else 1)
        prev, fprev, step = s, f, step * 2.0
    a, fa, b, fb = (s, f, prev, fprev) if f < 0 else (prev, fprev, s, f)
    kept = 0  # which endpoint the last step kept: -1 = b kept (a moved), +1 = a kept
    for _ in range(max_eval):
        if b - a <= tol * (1.0 + abs(a)):
            break
        c = (a * fb - b * fa) / (fb - fa)
        if not (a < c < b):
            c = 0.5 * (a + b)
        fc = h(c)
        if fc == 0.0:
            return c, 0
        if fc < 0:
            a, fa = c, fc
            if kept == -1:
                fb *= 0.5
            kept = -1
        else:
            b, fb = c, fc
            if kept == 1:
                fa *= 0.5
            kept = 1
    c = (a * fb - b * fa) / (fb - fa)
    return (c if a <= c <= b else 0.5 * (a + b)), 0


# ----------------------------------------------------------------------------- Platt scaling


def _bce_per_class(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mean over rows of BCE-with-logits(z, t), one value per column (our fused kernel)."""
    one = np.float64(1.0)
    return np.asarray(_core.bce_with_logits(z, t, one, one, np.float64(0.0), one, 1.0, 0.0)).mean(
        axis=0
    )


def platt_targets(y: np.ndarray) -> np.ndarray:
    """Platt's (1999) regularized targets per column: positives (N₊+1)/(N₊+2), negatives
    1/(N₋+2), mixed linearly for soft labels. They keep the optimum finite for separable data."""
    n_pos = y.sum(axis=0)
    n_neg = y.shape[0] - n_pos
    hi = (n_pos + 1.0) / (n_pos + 2.0)
    lo = 1.0 / (n_neg + 2.0)
    return y * hi + (1.0 - y) * lo


def separable_columns(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Columns with 0/1 labels only, both present, every positive's logit above every negative's:
    their maximum-likelihood fit has 1/T -> inf."""
    pos, neg = y == 1, y == 0
    binary = np.all(pos | neg, axis=0) & pos.any(axis=0) & neg.any(axis=0)
    top_neg = np.where(neg, X, -np.inf).max(axis=0, initial=-np.inf)
    low_pos = np.where(pos, X, np.inf).min(axis=0, initial=np.inf)
    return binary & (top_neg < low_pos)


def platt_newton(
    X: np.ndarray,
    t: np.ndarray,
    *,
    fit_bias: bool,
    a_lo: float,
    a_hi: float,
    hold_at_max: np.ndarray | None = None,
    b_start: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-24,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per column c, the (a_c, b_c) minimizing mean_i BCE(a_c·X_ic + b_c, t_ic), a_c in [a_lo, a_hi].

    Damped Newton on all columns at once: the 2×2 Hessian [[Σ w x², Σ w x], [Σ w x, Σ w]]/N with
    w = σ(z)σ(−z) (a ridge of 1e-12 of its trace keeps a constant column solvable), a backtracking
    (Armijo) line search per column, and a projected step at the bounds of a: a column whose
    Newton step points out of [a_lo, a_hi] at a bound moves b alone. Once a column's Newton
    decrement gᵀH⁻¹g is below 1e-12 (inside the region of quadratic convergence, where the loss
    can no longer see the decrease through its own rounding) full steps are taken as long as the
    loss does not rise beyond rounding. Stops when every decrement is below ``tol`` or no column
    moves. Columns flagged in ``hold_at_max`` keep a = a_hi and fit b alone (from ``b_start``).
    Returns (a, b, iterations).
    """
    C = X.shape[1]
    a = np.full(C, min(max(1.0, a_lo), a_hi))
    held = np.zeros(C, bool) if hold_at_max is None else hold_at_max
    a[held] = a_hi
    b = np.zeros(C) if b_start is None else np.array(b_start, np.float64)

    def loss(a_: np.ndarray, b_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = X * a_ + b_
        return _bce_per_class(z, t), z

    L, z = loss(a, b)
    it = 0
    for it in range(1, max_iter + 1):
        p = np.asarray(_core.sigmoid(z))
        w = p * np.asarray(_core.sigmoid(-z))
        r = p - t
        ga, gb = (r * X).mean(axis=0), r.mean(axis=0)
        haa, hab, hbb = (w * X * X).mean(axis=0), (w * X).mean(axis=0), w.mean(axis=0)
        ridge = 1e-12 * (haa + hbb) + 1e-300
        haa, hbb = haa + ridge, hbb + ridge
        with np.errstate(all="ignore"):  # a vanishing Hessian gives no finite step: no move
            if fit_bias:
                det = haa * hbb - hab * hab
                da = -(hbb * ga - hab * gb) / det
                db = -(haa * gb - hab * ga) / det
            else:
                da, db = -ga / haa, np.zeros(C)
            stuck = held | ((a <= a_lo) & (da < 0)) | ((a >= a_hi) & (da > 0))
            if stuck.any():
                da = np.where(stuck, 0.0, da)
                db = np.where(stuck, -gb / hbb, db) if fit_bias else np.zeros(C)
            finite = np.isfinite(da) & np.isfinite(db)
            da, db = np.where(finite, da, 0.0), np.where(finite, db, 0.0)
        decrement = -(ga * da + gb * db)
        active = decrement > tol
        if not active.any():
            break
        near = decrement < 1e-12
        slack = 64 * np.finfo(np.float64).eps * np.abs(L)
        step = np.ones(C)
        a_new, b_new = a.copy(), b.copy()
        done = ~active
        for _ in range(40):
            trial = ~done
            if not trial.any():
                break
            at = np.clip(a + step * da, a_lo, a_hi)
            bt = b + step * db
            Lt, _ = loss(np.where(trial, at, a), np.where(trial, bt, b))
            predicted = ga * (at - a) + gb * (bt - b)
            ok = trial & ((Lt <= L + 1e-4 * predicted) | (near & (Lt <= L + slack)))
            a_new[ok], b_new[ok] = at[ok], bt[ok]
            done |= ok | (trial & near)  # a near column that rises beyond rounding has converged
            step = np.where(trial & ~ok, 0.5 * step, step)
        if not np.any(done & active & ((a_new != a) | (b_new != b))):
            break  # no column can lower its loss any more: rounding level
        a, b = a_new, b_new
        L, z = loss(a, b)
    return a, b, it


def warn_at_bounds(T: np.ndarray | float, lo: float, hi: float, what: str) -> None:
    """A CalibrationWarning naming the classes (or the scalar) whose temperature sits at a bound;
    it points at the first line outside logitkit (the user's call)."""
    Ta = np.atleast_1d(np.asarray(T, np.float64))
    at_lo = Ta <= lo * (1 + 1e-12)
    at_hi = Ta >= hi * (1 - 1e-12)
    if not (at_lo.any() or at_hi.any()):
        return
    parts = []
    if at_lo.any():
        which = "" if np.ndim(T) == 0 else f" for classes {np.flatnonzero(at_lo).tolist()}"
        parts.append(
            f"the lower bound T_min={lo:g}{which} (the loss keeps falling as T -> 0: the logits "
            "separate the labels perfectly)"
        )
    if at_hi.any():
        which = "" if np.ndim(T) == 0 else f" for classes {np.flatnonzero(at_hi).tolist()}"
        parts.append(
            f"the upper bound T_max={hi:g}{which} (the logits carry no usable information about "
            "the labels, rank them the wrong way round, or the labels are all the same)"
        )
    warnings.warn(
        f"{what}: the fitted temperature is at " + "; and at ".join(parts),
        CalibrationWarning,
        stacklevel=caller_stacklevel(),
    )
