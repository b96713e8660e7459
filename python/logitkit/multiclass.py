"""Multi-class logits: exactly one class per input is right.

Logits from a model trained with cross-entropy (softmax + NLL) are unnormalized log-probabilities
of one class among C: the probabilities come from :func:`logitkit.softmax` and sum to 1 over the
class axis. If each input can be in several classes at once (tags, attributes), the logits are
multi-label: use :mod:`logitkit.multilabel` instead, which offers the same verbs.

Verbs: :func:`proba`, :func:`log_proba`, :func:`predict`, :func:`top_k`, :func:`loss`,
:func:`loss_with_grad`, :func:`grad_hess`, :func:`fit_temperature`,
:func:`expected_calibration_error`, :func:`brier_score`; :class:`MultiClass` holds options and
exposes the same verbs.

Every verb that reads logits warns (:class:`ProbabilitiesWarning`, a ``UserWarning``) when they
look like probabilities instead: up to 16 rows spread over the batch are read (so the check costs
the same for any batch size), and the warning fires when every one lies in [0, 1] and sums to 1.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from . import _core, _functional, _top_k, losses
from ._calibration import (
    check_bounds,
    check_n_bins,
    ece_from,
    solve_log_temperature,
    warn_at_bounds,
)
from ._multi import (
    CalibrationWarning,
    ProbabilitiesWarning,
    check_finite_rows,
    class_axis,
    class_labels,
    float_logits,
    options_eq,
    options_hash,
    warn_if_probabilities,
)
from ._validation import InvalidTargetError, as_real_array, check_temperature

__all__ = [
    "CalibrationWarning",
    "MultiClass",
    "ProbabilitiesWarning",
    "brier_score",
    "expected_calibration_error",
    "fit_temperature",
    "grad_hess",
    "log_proba",
    "loss",
    "loss_with_grad",
    "predict",
    "proba",
    "top_k",
]

_MULTILABEL_HINT = (
    "; some rows sum to more than 1: if each input can be in several classes at once, the logits "
    "are multi-label: use logitkit.multilabel (binary_cross_entropy_with_logits)"
)


def _logits(logits: Any, axis: Any) -> tuple[Any, int]:
    """(logits as an array, class axis), after the cheap probability check."""
    x = as_real_array(logits, "logits")
    ax = class_axis(x, axis)
    warn_if_probabilities(x, ax, stacklevel=4)
    return x, ax


def _temperature(temperature: Any) -> float | None:
    t = check_temperature(temperature)
    return None if t == 1.0 else t


# ----------------------------------------------------------------------------- targets


def _explain_integer_matrix(x: Any, target: Any, ax: int) -> None:
    """An integer/bool target with the logits' own shape is a one-hot or multi-hot matrix, not
    class labels: say which, and what to pass instead."""
    t = target if isinstance(target, np.ndarray) else None
    if t is None and not hasattr(target, "__array_ufunc__"):
        try:
            t = np.asarray(target)
        except (TypeError, ValueError):
            return
    if t is None or t.dtype.kind not in "iub" or t.shape != np.shape(x) or t.ndim == 0:
        return
    sums = np.sum(t, axis=ax, dtype=np.int64)
    binary = bool(np.all((t == 0) | (t == 1)))
    if binary and bool(np.all(sums == 1)):
        raise ValueError(
            f"target: an integer matrix with the logits' shape {t.shape} and one 1 per row is a "
            f"one-hot encoding; pass class indices (target.argmax(axis={ax})) or probabilities "
            "(target.astype(float))"
        )
    if binary and bool(np.any(sums > 1)):
        raise ValueError(
            f"target: a 0/1 matrix with the logits' shape {t.shape} and several 1s in a row: each "
            "input can be in several classes? use logitkit.multilabel "
            "(binary_cross_entropy_with_logits)"
        )


def _with_hint(fn, x: Any, target: Any, ax: int, **kw: Any) -> Any:
    """Call a loss; when it rejects probability rows that do not sum to 1 and some row sums to
    more than 1 (a multi-hot target), add the hint to use logitkit.multilabel."""
    _explain_integer_matrix(x, target, ax)
    try:
        return fn(x, target, **kw)
    except InvalidTargetError as e:
        if not e.row_sum or "logitkit.multilabel" in str(e):
            raise
        t = np.asarray(target)
        if (
            t.dtype.kind == "f"
            and t.shape == np.shape(x)
            and bool(np.any(np.sum(t, axis=ax, dtype=np.float64) > 1.0 + 1e-3))
        ):
            raise InvalidTargetError(
                str(e) + _MULTILABEL_HINT,
                position=e.position,
                value=e.value,
                argument=e.argument,
                row_sum=True,
            ) from None
        raise


def _soft_labels(x: np.ndarray, labels: Any, ax: int) -> np.ndarray:
    """Probability targets (rows summing to 1) with the logits' shape, as float64."""
    t = np.asarray(as_real_array(labels, "labels"))
    return _with_hint(
        lambda x_, t_: losses._soft_target(t_, x_.shape, ax, np.dtype(np.float64), True), x, t, ax
    )


# ----------------------------------------------------------------------------- probabilities


def proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    out: np.ndarray | None = None,
) -> Any:
    """Class probabilities: ``softmax(logits / temperature)`` along the class axis (rows sum to 1).

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Raw scores of a multi-class model (not probabilities: see the module's warning).
    axis : int
        The class axis (default: last).
    temperature : float > 0
        Divides the logits inside the kernel (no temporary); :func:`fit_temperature` finds the one
        that calibrates a model.
    where : array_like of bool, optional
        Only the True entries take part; the others get probability 0 (see
        :func:`logitkit.softmax`).
    out : ndarray, optional
        Where to write the result.

    Returns
    -------
    ndarray
        The probabilities, the logits' shape and floating dtype. Special rows as
        :func:`logitkit.softmax`: a NaN or +inf in a row gives a NaN row.

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.multiclass.proba([2.0, 1.0, -1.0])
    array([0.70538451, 0.25949646, 0.03511903])
    """
    x, ax = _logits(logits, axis)
    return _functional.softmax(x, ax, out=out, where=where, temperature=_temperature(temperature))


def log_proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    out: np.ndarray | None = None,
) -> Any:
    """Class log-probabilities: ``log_softmax(logits / temperature)`` along the class axis.

    Exact where ``log(proba(...))`` is not: the top class of a confident row keeps its tiny
    log-probability (``log_proba([0, -40])[0] = -4.25e-18``, not 0). Parameters as :func:`proba`;
    masked entries get ``-inf``.
    """
    x, ax = _logits(logits, axis)
    return _functional.log_softmax(
        x, ax, out=out, where=where, temperature=_temperature(temperature)
    )


def _check_nan_rows(x: np.ndarray, idx: np.ndarray, ax: int) -> None:
    """np.argmax returns the first NaN of a row that has one: a NaN at the picked place means
    the row has a NaN (O(N) check after the O(N·C) argmax)."""
    if x.dtype.kind != "f" or idx.size == 0:
        return
    picked = np.take_along_axis(x, np.expand_dims(idx, ax), axis=ax)
    bad = np.isnan(np.squeeze(picked, axis=ax))
    if bad.any():
        row = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        raise ValueError(
            f"logits: row {row} contains NaN; it has no most likely class (softmax gives NaN)"
        )


def predict(logits: Any, *, axis: int = -1) -> np.ndarray:
    """The most likely class of each input: the argmax of the logits along the class axis.

    Decided on the logits themselves, so two classes whose probabilities round to the same number
    are still told apart; exact ties go to the lowest class index. ``+inf`` wins (the first one);
    a row of only ``-inf`` gives 0. A row containing NaN raises ValueError naming the row (it has
    no most likely class).

    Returns
    -------
    ndarray of intp
        The logits' shape without the class axis.
    """
    x, ax = _logits(logits, axis)
    return _argmax(np.asarray(x), ax)


def _argmax(x: np.ndarray, ax: int) -> np.ndarray:
    if x.shape[ax] == 0:
        raise ValueError("logits: the class axis is empty; there is no class to predict")
    idx = np.argmax(x, axis=ax)
    _check_nan_rows(x, idx, ax)
    return idx


def _check_k(k: Any, C: int) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k: expected an integer, got {k!r}")
    if not 1 <= k <= C:
        raise ValueError(f"k: must be in [1, {C}] (the number of classes), got {k}")
    return int(k)


def top_k(
    logits: Any, k: int, *, axis: int = -1, temperature: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The k most likely classes of each input and their probabilities, most likely first.

    Ordered by the logits (so no two probabilities that round alike swap places); ties are broken
    by the lower class index (the order of a stable sort), ``+inf`` ranks first, a row of only
    ``-inf`` gives classes 0..k-1. A row containing NaN raises ValueError naming the row. A partial
    selection per row (O(C) for small k), then a sort of the k winners.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
    k : int in [1, C]
    axis : int
        The class axis; the results have it too, with length k.
    temperature : float > 0
        For the probabilities (does not change the order).

    Returns
    -------
    indices : ndarray of intp
    probabilities : ndarray of the logits' floating dtype
        ``proba(logits, temperature=...)`` at ``indices``.
    """
    # Small plain arrays along the last axis in one call; None for any array the checks below must
    # see (values in [0, 1], a single class, NaN, bad k or temperature).
    if axis == -1 and type(logits) is np.ndarray and type(temperature) is float:
        r = _core.top_k_small(logits, k, temperature)
        if r is not None:
            return r
    x, ax = _logits(logits, axis)
    x = float_logits(x)
    kk = _check_k(k, x.shape[ax])
    t = _temperature(temperature)
    r = _top_k.select(x, ax, kk, t, True)
    if r is not None:
        return r
    order = np.argsort(-x, axis=ax, kind="stable")  # dtypes the core does not take; NaN sorts last
    idx = np.take(order, np.arange(kk), axis=ax)
    _check_nan_rows(x, np.take(order, -1, axis=ax), ax)
    p = _functional.softmax(x, ax, temperature=t)
    return idx, np.take_along_axis(p, idx, axis=ax)


# ----------------------------------------------------------------------------- losses


def loss(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    sample_weight: Any = None,
    validate: bool = True,
) -> Any:
    """Cross-entropy of multi-class logits: :func:`logitkit.cross_entropy` with the same options.

    ``target`` holds class indices (the logits' shape without the class axis, integer dtype) or
    probabilities (the logits' shape, float dtype, rows summing to 1). Rows that sum to more than 1,
    or a 0/1 integer matrix with several 1s in a row, raise ValueError pointing to
    :mod:`logitkit.multilabel`; a one-hot integer matrix raises one that says how to pass it.
    """
    x, ax = _logits(logits, axis)
    return _with_hint(
        losses.cross_entropy,
        x,
        target,
        ax,
        axis=ax,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
        sample_weight=sample_weight,
        validate=validate,
    )


def loss_with_grad(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    sample_weight: Any = None,
    validate: bool = True,
    out: np.ndarray | None = None,
) -> tuple[Any, np.ndarray]:
    """``(loss, d loss / d logits)`` from one fused pass: :func:`logitkit.cross_entropy_with_grad`
    with the same options (``out`` receives the gradient). Targets as :func:`loss`."""
    x, ax = _logits(logits, axis)
    return _with_hint(
        losses.cross_entropy_with_grad,
        x,
        target,
        ax,
        axis=ax,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
        sample_weight=sample_weight,
        validate=validate,
        out=out,
    )


def grad_hess(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    validate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-element gradient ``p - y`` and diagonal Hessian ``p·(1 - p)`` of the per-item
    cross-entropy (times weights), for gradient-boosting custom objectives:
    :func:`logitkit.grad_hess` with ``family="multiclass"``."""
    x, ax = _logits(logits, axis)
    return _with_hint(
        losses.grad_hess,
        x,
        target,
        ax,
        family="multiclass",
        axis=ax,
        weight=weight,
        label_smoothing=label_smoothing,
        sample_weight=sample_weight,
        validate=validate,
    )


# ----------------------------------------------------------------------------- calibration


def fit_temperature(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    sample_weight: Any = None,
    bounds: tuple[float, float] = (1e-3, 1e3),
) -> float:
    """The temperature T > 0 that minimizes the mean NLL of ``softmax(logits / T)`` (temperature
    scaling, Guo et al. 2017): ``proba(logits, temperature=T)`` is then calibrated.

    The mean NLL is convex in 1/T, so its derivative in s = log T changes sign once. That
    derivative comes from the fused loss+gradient kernel: with z = logits/T and g = d loss/d z
    from :func:`logitkit.cross_entropy_with_grad`, d loss / d log T = -Σ g·z (= T · Σ g·(-x/T²)).
    A bracket is found by doubling steps from T = 1, then narrowed by regula falsi with the
    Illinois modification (bisection as the fallback) until T is known to ~1e-11 relative; a
    fit takes ~10-30 passes over the logits, computed in float64.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Held-out logits (not those the model was trained on).
    labels : array_like
        Class indices (integer, the logits' shape without the class axis; ``-100`` is ignored as
        in :func:`loss`) or probability rows (float, the logits' shape).
    axis : int
        The class axis.
    sample_weight : array_like, optional
        One weight per item.
    bounds : (T_min, T_max)
        The search interval. When the optimum lies beyond it — every item classified correctly
        with a margin (the loss keeps falling as T -> 0), or logits that carry no information
        about the labels (T -> inf) — the bound is returned with a :class:`CalibrationWarning`.

    A NaN or infinite logit raises ValueError naming its row.

    Returns
    -------
    float
    """
    x, ax = _logits(logits, axis)
    x64 = np.asarray(x, np.float64)
    lo, hi = check_bounds(bounds)
    check_finite_rows(x64, ax, "fit_temperature")
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        state = {"validate": True}

        def dloss_dlogT(s: float) -> float:
            z = x64 * math.exp(-s)
            _, g = _with_hint(
                losses.cross_entropy_with_grad,
                z,
                labels,
                ax,
                axis=ax,
                sample_weight=sample_weight,
                validate=state["validate"],
            )
            state["validate"] = False
            return -float(np.vdot(g, z))

        s, side = solve_log_temperature(dloss_dlogT, math.log(lo), math.log(hi))
        T = lo if side < 0 else hi if side > 0 else math.exp(s)
        if side:
            warn_at_bounds(T, lo, hi, "fit_temperature", stacklevel=3)
        return T


def _proba64(x: Any, ax: int, temperature: Any) -> np.ndarray:
    return _functional.softmax(np.asarray(x, np.float64), ax, temperature=_temperature(temperature))


def expected_calibration_error(
    logits: Any, labels: Any, *, axis: int = -1, n_bins: int = 15, temperature: float = 1.0
) -> float:
    """Expected calibration error of the top-1 prediction, with equal-width confidence bins.

    For each item the confidence is the probability of the predicted class (``predict``) and the
    outcome is 1 if that class is the label, else 0 (for probability labels: the label's
    probability of the predicted class). Bin k of ``n_bins`` holds the confidences in
    (k/n_bins, (k+1)/n_bins]; ECE = Σ_k (n_k / N)·|mean outcome_k - mean confidence_k|.
    Probabilities are computed in float64, at ``temperature``. No items gives NaN.

    Returns
    -------
    float
    """
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        nb = check_n_bins(n_bins)
        x = np.asarray(x)
        C = x.shape[ax]
        item_shape = x.shape[:ax] + x.shape[ax + 1 :]
        t = np.asarray(as_real_array(labels, "labels"))
        pred = _argmax(x, ax)
        p = _proba64(x, ax, temperature)
        conf = np.take_along_axis(p, np.expand_dims(pred, ax), axis=ax)
        if t.dtype.kind in "iu":
            outcome = (class_labels(t, item_shape, C) == pred).astype(np.float64)
        else:
            y = _soft_labels(x, t, ax)
            outcome = np.take_along_axis(y, np.expand_dims(pred, ax), axis=ax)
        return ece_from(conf.ravel(), np.asarray(outcome, np.float64).ravel(), nb)


def brier_score(logits: Any, labels: Any, *, axis: int = -1, temperature: float = 1.0) -> float:
    """Multi-class Brier score: the mean over items of Σ_c (p_c - y_c)², with y the one-hot label
    (or the probability label). 0 is perfect; 2 is the worst. Probabilities are computed in
    float64, at ``temperature``. No items gives NaN.

    Returns
    -------
    float
    """
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        x = np.asarray(x)
        C = x.shape[ax]
        item_shape = x.shape[:ax] + x.shape[ax + 1 :]
        t = np.asarray(as_real_array(labels, "labels"))
        d = _proba64(x, ax, temperature)
        if t.dtype.kind in "iu":
            lab = np.expand_dims(class_labels(t, item_shape, C), ax)
            np.put_along_axis(d, lab, np.take_along_axis(d, lab, axis=ax) - 1.0, axis=ax)
        else:
            d = d - _soft_labels(x, t, ax)
        n = math.prod(item_shape)
        # squares in C order: the sum's order, and so its bits, never depend on the layout
        return float(np.sum(np.multiply(d, d, order="C")) / n) if n else math.nan


# ----------------------------------------------------------------------------- config object


@dataclasses.dataclass(frozen=True, eq=False)
class MultiClass:
    """Options for multi-class logits, held once and applied by the same verbs as the module.

    >>> import logitkit as lk
    >>> mc = lk.multiclass.MultiClass(label_smoothing=0.1)
    >>> mc = mc.fit_temperature(val_logits, val_labels)  # doctest: +SKIP  (a new object)
    >>> mc.proba(test_logits)  # doctest: +SKIP

    Each method forwards to the module function of the same name with the options that apply to
    it (keyword arguments given to the method override them). ``fit_temperature`` returns a copy
    with the fitted ``temperature``.
    """

    axis: int = -1
    weight: Any = None
    ignore_index: int = -100
    label_smoothing: float = 0.0
    temperature: float = 1.0

    # array-valued options (weight, pos_weight, threshold, ...) compare by value
    __eq__ = options_eq

    __hash__ = options_hash

    def proba(self, logits: Any, **kw: Any) -> Any:
        """:func:`proba` with this object's axis and temperature."""
        return proba(logits, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def log_proba(self, logits: Any, **kw: Any) -> Any:
        """:func:`log_proba` with this object's axis and temperature."""
        return log_proba(logits, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def predict(self, logits: Any, **kw: Any) -> np.ndarray:
        """:func:`predict` along this object's axis."""
        return predict(logits, **{"axis": self.axis, **kw})

    def top_k(self, logits: Any, k: int, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        """:func:`top_k` with this object's axis and temperature."""
        return top_k(logits, k, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def _loss_options(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "label_smoothing": self.label_smoothing,
        }

    def loss(self, logits: Any, target: Any, **kw: Any) -> Any:
        """:func:`loss` with this object's axis, weight, ignore_index and label_smoothing."""
        return loss(logits, target, **{**self._loss_options(), **kw})

    def loss_with_grad(self, logits: Any, target: Any, **kw: Any) -> tuple[Any, np.ndarray]:
        """:func:`loss_with_grad` with this object's loss options."""
        return loss_with_grad(logits, target, **{**self._loss_options(), **kw})

    def grad_hess(self, logits: Any, target: Any, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        """:func:`grad_hess` with this object's axis, weight and label_smoothing."""
        opts = self._loss_options()
        del opts["ignore_index"]
        return grad_hess(logits, target, **{**opts, **kw})

    def fit_temperature(self, logits: Any, labels: Any, **kw: Any) -> MultiClass:
        """A copy of this object with ``temperature`` from :func:`fit_temperature`."""
        T = fit_temperature(logits, labels, **{"axis": self.axis, **kw})
        return dataclasses.replace(self, temperature=T)

    def expected_calibration_error(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`expected_calibration_error` with this object's axis and temperature."""
        return expected_calibration_error(
            logits, labels, **{"axis": self.axis, "temperature": self.temperature, **kw}
        )

    def brier_score(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`brier_score` with this object's axis and temperature."""
        return brier_score(
            logits, labels, **{"axis": self.axis, "temperature": self.temperature, **kw}
        )
