"""Helpers shared by :mod:`logitkit.multiclass` and :mod:`logitkit.multilabel`: reading logits,
the cheap "these look like probabilities" warning, per-class parameters, target shape checks that
name the other module, and exact decision thresholds on the logit scale."""

from __future__ import annotations

import dataclasses
import decimal
import functools
import math
import numbers
import warnings
from typing import Any

import numpy as np

from ._validation import (
    as_real_array,
    caller_stacklevel,
    is_bfloat16,
    normalize_axis_index,
)

__all__ = [
    "CalibrationWarning",
    "ProbabilitiesWarning",
    "check_finite_rows",
    "class_axis",
    "float_logits",
    "logit_cut",
    "multilabel_target",
    "options_eq",
    "options_hash",
    "per_class",
    "warn_if_probabilities",
]


class ProbabilitiesWarning(UserWarning):
    """Values passed as logits look like probabilities (see ``warn_if_probabilities``)."""


class CalibrationWarning(UserWarning):
    """A calibration fit ended at a bound of the temperature (its optimum lies beyond it)."""


# How many rows the probability check reads, at most: it costs O(SAMPLE_ROWS · C) whatever N is.
SAMPLE_ROWS = 16
# The multi-label check for sigmoid outputs needs this many sampled entries before it speaks.
_SIGMOID_MIN_ENTRIES = 32


def float_logits(logits: Any, name: str = "logits") -> np.ndarray:
    """``logits`` as a NumPy floating array (no copy when it already is one; integers -> float64,
    bfloat16 -> float32, exact)."""
    x = np.asarray(as_real_array(logits, name))
    if x.dtype.kind != "f":
        x = x.astype(np.float32 if is_bfloat16(x.dtype) else np.float64)
    return x


def class_axis(x: Any, axis: Any) -> int:
    """The class axis as a non-negative int; logits need at least one dimension."""
    ndim = np.ndim(x)
    if ndim == 0:
        raise ValueError("logits: need at least one dimension (the class axis)")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis: expected an integer (the class axis), got {axis!r}")
    return normalize_axis_index(int(axis), ndim)


def _same_option(a: Any, b: Any) -> bool:
    """Two option values are the same: equal scalars, or arrays of one shape and equal values."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    scalar = (numbers.Number, str, np.generic)
    if isinstance(a, scalar) and isinstance(b, scalar):
        return bool(a == b)
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return False


def options_eq(self: Any, other: Any) -> Any:
    """``__eq__`` of the option objects: the same class and the same value in every field (array
    fields compared by shape and values, which the generated ``__eq__`` cannot do)."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(
        _same_option(getattr(self, f.name), getattr(other, f.name))
        for f in dataclasses.fields(self)
    )


def _hashable(v: Any) -> Any:
    if isinstance(v, (np.ndarray, list, tuple)):
        a = np.asarray(v)
        return (a.shape, tuple(a.ravel().tolist()))  # equal values hash alike in any dtype
    return v


def options_hash(self: Any) -> int:
    """``__hash__`` consistent with :func:`options_eq`."""
    return hash(tuple(_hashable(getattr(self, f.name)) for f in dataclasses.fields(self)))


def check_finite_rows(x: np.ndarray, ax: int, what: str) -> None:
    """ValueError naming the first row (index without the class axis) with a NaN or infinite logit:
    a fit has no meaningful optimum for it."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    pos = tuple(int(i) for i in np.argwhere(bad)[0])
    row = pos[:ax] + pos[ax + 1 :]
    raise ValueError(
        f"logits: row {row} contains {float(x[pos])!r}; {what} needs finite logits (drop or fix "
        "the rows with NaN or inf)"
    )


def _sample_rows(x: np.ndarray, ax: int) -> np.ndarray:
    """Up to SAMPLE_ROWS rows of x (class axis last), evenly spaced over the batch, as float64."""
    xm = np.moveaxis(x, ax, -1)
    lead = xm.shape[:-1]
    n_rows = math.prod(lead)
    if n_rows == 0:
        return np.empty((0, xm.shape[-1]))
    if n_rows <= SAMPLE_ROWS:
        return np.asarray(xm, np.float64).reshape(-1, xm.shape[-1])
    flat = np.linspace(0, n_rows - 1, SAMPLE_ROWS).astype(np.intp)
    return np.asarray(xm[np.unravel_index(flat, lead)], np.float64)


def warn_if_probabilities(logits: Any, ax: int, *, multilabel: bool = False) -> None:
    """Warn (:class:`ProbabilitiesWarning`, a UserWarning) when ``logits`` look like probabilities.

    The check reads at most ``SAMPLE_ROWS`` rows, evenly spaced over the batch (O(1) in the batch
    size): the values look like probabilities when every sampled entry lies in [0, 1] and every
    sampled row sums to 1 (within 1e-3) — a softmax output. For multi-label logits, a sample of at
    least 32 entries that all lie in [0, 1] and are not all equal also warns (sigmoid outputs:
    real logits are that rarely all non-negative and below 1). Rows of one class, empty arrays and
    arrays that are not NumPy arrays (Dask, ...) are not checked. The warning points at the first
    line outside logitkit (the user's call), whichever function or method led here.

    Only :mod:`logitkit.multiclass` and :mod:`logitkit.multilabel` run this check: it is a
    heuristic, and the top-level functions (``lk.softmax``, ``lk.cross_entropy``, ...) are plain
    math on whatever they are given.
    """
    if type(logits) is not np.ndarray or logits.ndim == 0 or logits.shape[ax] < 2:
        return
    if logits.size == 0 or logits.dtype.kind not in "fiu":
        return
    # Usual logits fail at the first test (a negative entry): two reductions of <= 16 rows.
    small = logits.size <= SAMPLE_ROWS * logits.shape[ax]
    sample = logits if small else _sample_rows(logits, ax)
    if not (sample.min() >= 0 and sample.max() <= 1):  # also False for NaN
        return
    rows = _sample_rows(logits, ax) if small else sample
    with np.errstate(all="ignore"):
        sums_to_one = bool(np.all(np.abs(rows.sum(axis=-1) - 1.0) <= 1e-3))
    where = (
        f"every one of the {rows.shape[0]} rows checked"
        if rows.shape[0] < SAMPLE_ROWS
        else f"{SAMPLE_ROWS} rows spread over the batch"
    )
    if sums_to_one:
        fix = (
            "np.log(p) gives logits with the same softmax"
            if not multilabel
            else "softmax outputs are multi-class probabilities: use logitkit.multiclass"
        )
        warnings.warn(
            f"logits: the values look like probabilities, not logits ({where} lie in [0, 1] and "
            f"sum to 1); pass the raw scores (logits) the model produced ({fix})",
            ProbabilitiesWarning,
            stacklevel=caller_stacklevel(),
        )
    elif multilabel and rows.size >= _SIGMOID_MIN_ENTRIES and rows.min() < rows.max():
        warnings.warn(
            f"logits: the values look like probabilities, not logits ({where}: all "
            f"{rows.size} entries lie in [0, 1]); pass the raw scores (logits) the model produced "
            "(log(p) - log1p(-p) turns sigmoid outputs back into logits)",
            ProbabilitiesWarning,
            stacklevel=caller_stacklevel(),
        )


def per_class(value: Any, C: int, name: str, *, positive: bool) -> np.ndarray | float:
    """A scalar (returned as float) or one float64 value per class (shape (C,)), finite;
    ``positive`` also requires > 0."""
    if type(value) is float or type(value) is int:  # the common case, without an array
        v = float(value)
        if math.isfinite(v) and (v > 0 or not positive):
            return v
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a number or one number per class, got {value!r}")
    a = np.asarray(as_real_array(value, name), np.float64)
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != C):
        raise ValueError(
            f"{name}: expected a number or one per class, shape ({C},); got shape {a.shape}"
        )
    bad = ~np.isfinite(a) | ((a <= 0) if positive else False)
    if np.any(bad):
        what = "positive finite numbers" if positive else "finite numbers"
        first = a if a.ndim == 0 else a[int(np.argmax(bad))]
        at = "" if a.ndim == 0 else f" at class {int(np.argmax(bad))}"
        raise ValueError(f"{name}: must be {what}; got {float(first)!r}{at}")
    return float(a) if a.ndim == 0 else a


def along(v: np.ndarray | float, ax: int, ndim: int) -> np.ndarray | float:
    """A per-class vector shaped to broadcast along axis ``ax`` of an ndim-dimensional array."""
    if isinstance(v, float):
        return v
    return v.reshape((-1,) + (1,) * (ndim - 1 - ax))


def multilabel_target(target: Any, x_shape: tuple[int, ...], ax: int, name: str = "target"):
    """Check a multi-label target's shape (the logits' shape); explain the usual mix-ups.

    Returns the target as an array (not converted). Values are checked by the loss functions.
    """
    y = target if hasattr(target, "__array_ufunc__") else np.asarray(as_real_array(target, name))
    shape = tuple(np.shape(y))
    if shape == x_shape:
        return y
    item_shape = x_shape[:ax] + x_shape[ax + 1 :]
    if shape == item_shape and len(x_shape) >= 1:
        if x_shape[ax] == 1:
            raise ValueError(
                f"{name}: shape {shape}, but the logits {x_shape} have one column (one binary "
                f"label per input): give the target the logits' shape, e.g. "
                f"np.expand_dims(target, {ax})"
            )
        yy = np.asarray(y)
        integral = yy.dtype.kind in "iub" or (
            yy.dtype.kind == "f" and bool(np.all(np.isfinite(yy) & (yy == np.round(yy))))
        )
        if integral:
            raise ValueError(
                f"{name}: expected one 0/1 entry per class, the logits' shape {x_shape}; got "
                f"shape {shape}, which looks like class indices: one class per input? use "
                "logitkit.multiclass (softmax, cross_entropy)"
            )
    raise ValueError(f"{name}: expected the shape of logits {x_shape}, got {shape}")


# ----------------------------------------------------------------------------- exact thresholds

_CTX = decimal.Context(prec=60, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _logit_decimal(t: float) -> decimal.Decimal:
    """logit(t) = log(t / (1 - t)) of the float64 value t, to 60 significant digits."""
    d = decimal.Decimal(t)  # exact: every float64 is a finite decimal fraction
    return _CTX.ln(_CTX.divide(d, _CTX.subtract(decimal.Decimal(1), d)))


def _round_down(v: decimal.Decimal, dtype: np.dtype) -> Any:
    """The largest number of ``dtype`` that is <= v (v finite)."""
    # beyond the dtype's range: inf, stepped back below; steps among subnormals flag underflow
    with np.errstate(all="ignore"):
        f = dtype.type(float(v))  # nearest double, then (float32) nearest float32: <= 1 step off
        ninf, pinf = dtype.type(-np.inf), dtype.type(np.inf)
        while decimal.Decimal(float(f)) > v:
            f = np.nextafter(f, ninf)
        while True:
            up = np.nextafter(f, pinf)
            if decimal.Decimal(float(up)) <= v:
                f = up
            else:
                return f


@functools.lru_cache(maxsize=1 << 16)
def logit_cut(t: float, T: float, b: float, dtype: np.dtype) -> Any:
    """The decision value c of ``dtype`` with ``x > c  <=>  sigmoid(x / T + b) > t`` for every x of
    ``dtype``, in exact arithmetic on the float64 values t, T, b.

    sigmoid(x/T + b) > t  <=>  x > T·(logit(t) - b)  (T > 0). The right side is computed in 60-digit
    decimal arithmetic and rounded down to ``dtype``: for x of that dtype, x > v <=> x > round_down(v).
    t = 0 gives -inf (every x but -inf and NaN is above), t = 1 gives +inf (none is).
    """
    if t <= 0.0:
        return dtype.type(-np.inf)
    if t >= 1.0:
        return dtype.type(np.inf)
    with decimal.localcontext(_CTX):
        v = _logit_decimal(t)
        if b != 0.0:
            v = _CTX.subtract(v, decimal.Decimal(b))
        if T != 1.0:
            v = _CTX.multiply(decimal.Decimal(T), v)
    return _round_down(v, dtype)
