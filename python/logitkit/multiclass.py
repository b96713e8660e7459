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
The warning points at the caller's line. It is a heuristic, so only this module and
:mod:`logitkit.multilabel` run it; the top-level functions (``lk.softmax``, ``lk.cross_entropy``)
compute on whatever they are given, but share every unambiguous diagnosis below.

One class is not a multi-class problem: logits whose class axis has length 1 (a single logit per
input: a binary model) raise ValueError in every verb, pointing at :mod:`logitkit.multilabel`
(``lk.sigmoid``): their softmax is always 1 and their cross-entropy always 0, whatever the model
says. ``lk.cross_entropy``, ``lk.cross_entropy_with_grad``, ``lk.nll_loss`` and ``lk.grad_hess``
(multiclass) raise the same error; ``lk.softmax`` itself accepts an axis of length 1.

Labels: integer class labels equal to ``ignore_index`` (default -100) are skipped by every verb
that takes labels (:func:`loss`, :func:`fit_temperature`, :func:`expected_calibration_error`,
:func:`brier_score`; :class:`MultiClass` passes its own). A one-hot integer matrix, a multi-hot one
and labels that fit class-major (C, N) logits are explained, as in the top-level losses; errors
name the argument (``target`` for the losses, ``labels`` for the calibration functions), and
``dim=`` (torch's name) is a TypeError that says to use ``axis=``.

Return values: a loss with reduction ``mean`` or ``sum`` is a NumPy scalar of the logits' loss
dtype (``np.float32`` for float32 logits), as NumPy reductions return; calibration values
(:func:`fit_temperature`, :func:`expected_calibration_error`, :func:`brier_score`) are Python
floats.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from . import _core, _dask, _divergence, _functional, _sample, _top_k, losses
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
    float_logits,
    options_eq,
    options_hash,
    warn_if_probabilities,
)
from ._penalties import apply_penalties
from ._sample import Sample
from ._validation import (
    Array,
    InvalidTargetError,
    LossValue,
    as_real_array,
    check_temperature,
    is_bfloat16,
    no_dim,
    one_class_error,
    scalar_of,
)

__all__ = [
    "CalibrationWarning",
    "MultiClass",
    "ProbabilitiesWarning",
    "Sample",
    "apply_penalties",
    "brier_score",
    "entropy",
    "expected_calibration_error",
    "fit_temperature",
    "grad_hess",
    "log_proba",
    "loss",
    "loss_with_grad",
    "predict",
    "proba",
    "sample",
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
    if x.shape[ax] == 1:
        raise one_class_error("logits", ax)
    warn_if_probabilities(x, ax)
    return x, ax


def _temperature(temperature: Any) -> float | None:
    t = check_temperature(temperature)
    return None if t == 1.0 else t


# ----------------------------------------------------------------------------- targets


def _with_hint(fn, x: Any, target: Any, ax: int, **kw: Any) -> Any:
    """Call a loss; when it rejects probability rows that do not sum to 1 and some row sums to
    more than 1 (a multi-hot target), add the hint to use logitkit.multilabel. (The losses
    themselves explain one-hot and multi-hot integer targets and class-major logits.)"""
    return _add_multilabel_hint(fn, x, target, ax, **kw)


def _add_multilabel_hint(fn, x: Any, target: Any, ax: int, **kw: Any) -> Any:
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
    """Probability labels (rows summing to 1) with the logits' shape, as float64; errors name
    ``labels``."""
    t = np.asarray(as_real_array(labels, "labels"))
    return _add_multilabel_hint(
        lambda x_, t_: losses._soft_target(t_, x_.shape, ax, np.dtype(np.float64), True, "labels"),
        x,
        t,
        ax,
    )


def _checked_labels(
    x: np.ndarray, labels: Any, ax: int, ignore_index: Any
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """The labels of a calibration function, checked with errors that name ``labels``:
    (class indices as int64 with ignored items = -1 and the ignored mask or None, hard=True), or
    (probability rows as float64, None, hard=False)."""
    t = np.asarray(as_real_array(labels, "labels"))
    if is_bfloat16(t.dtype):  # probabilities in bfloat16: float32 holds each exactly
        t = t.astype(np.float32)
    if t.dtype.kind in "iu":
        ii = losses.as_index(ignore_index, "ignore_index")
        shape = tuple(x.shape)
        item_shape = shape[:ax] + shape[ax + 1 :]
        lab, ignored = losses._hard_target(t, item_shape, shape[ax], ii, True, shape, ax, "labels")
        return lab, ignored, True
    if t.dtype.kind == "b" and t.shape == x.shape:
        losses.explain_target_shape(t, tuple(x.shape), ax, "labels")
    if t.dtype.kind != "f":
        raise TypeError(
            f"labels: expected integer class labels or float probabilities, got dtype {t.dtype}"
        )
    return _soft_labels(x, t, ax), None, False


# ----------------------------------------------------------------------------- probabilities


def proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    out: np.ndarray | None = None,
    dim: None = None,
    top_k: Any = None,
    top_p: Any = None,
    min_p: Any = None,
) -> Array:
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
    top_k, top_p, min_p : optional, a number or one per row
        The filters of :func:`sample` (docs/semantics.md, "Sampling"): with any of them, the result
        is the filtered, renormalised distribution that :func:`sample` draws from (0 outside the
        kept set); ``temperature`` may then be 0 (one-hot at the first largest logit) or one value
        per row, and a row holding NaN, +inf, or only -inf raises ValueError naming the row.

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
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    if top_k is not None or top_p is not None or min_p is not None:
        return _sample.filtered_proba(x, ax, temperature, where, out, top_k, top_p, min_p)
    return _functional.softmax(x, ax, out=out, where=where, temperature=_temperature(temperature))


def sample(
    logits: Any,
    *,
    temperature: Any = 1.0,
    top_k: Any = None,
    top_p: Any = None,
    min_p: Any = None,
    rng: Any = None,
    axis: int = -1,
    where: Any = None,
    logprobs: int | None = None,
    dim: None = None,
) -> np.ndarray | np.intp | Sample:
    """One token per row, drawn from the filtered distribution (LLM decoding).

    Per row: ``temperature`` divides the logits, then top-k, top-p and min-p filter, the kept set is
    renormalised (:func:`proba` with the same options returns it) and one uniform ``u`` picks the
    token by the inverse CDF of the kept set in token order (docs/semantics.md, "Sampling", has the
    exact definitions). No sort of the row: the top-p set is found by selection, in float64 sums.

    Parameters
    ----------
    logits : array_like, shape (..., V, ...)
        Raw scores (apply penalties and logit bias first: :func:`apply_penalties`).
    temperature : float >= 0 or one per row
        0 is greedy: the first largest logit (no uniform is used, but one is still drawn for the
        row so that the other rows get the same ones).
    top_k : int >= 0 or one per row, optional
        Keep the k largest logits (ties to the lower index); None, 0 or k >= V: no filter.
    top_p : float in (0, 1] or one per row, optional
        Keep the smallest set of most likely tokens whose probability reaches top_p (the token that
        crosses it is kept; ties to the lower index); None or 1: no filter.
    min_p : float in [0, 1] or one per row, optional
        Keep the tokens with probability >= min_p times the top token's; None or 0: no filter.
    rng : None, int, numpy.random.Generator
        ``np.random.default_rng(rng)``; one uniform per row, in C order of the rows, so a seed gives
        the same tokens for any thread count.
    axis : int
        The token axis.
    where : array_like of bool, optional
        Only the True entries can be sampled (the others are -inf). A row with no finite entry left
        raises ValueError naming it, as does a row holding NaN (or +inf, at a temperature > 0).
    logprobs : int >= 0, optional
        Also return the log-probabilities (float64) of the chosen tokens and of the ``logprobs``
        most likely tokens of each row, under the distribution after temperature and before the
        filters: a :class:`Sample` ``(tokens, logprob, top_tokens, top_logprobs)``
        (``logitkit.multiclass.Sample``). They are as accurate as ``log_softmax`` of the logits'
        dtype (float32 logits: within a few float32 ulps), from the same C++ row pass.

    Returns
    -------
    ndarray of intp (a NumPy intp scalar for 1-d logits), or a Sample
        The logits' shape without the token axis.

    Examples
    --------
    >>> import logitkit as lk
    >>> int(lk.multiclass.sample([2.0, 1.0, -1.0], temperature=0))
    0
    >>> int(lk.multiclass.sample([2.0, 1.0, -1.0], top_k=1, rng=0))
    0
    """
    if where is None and axis == -1 and dim is None:
        r = _sample._fast_sample(logits, temperature, top_k, top_p, min_p, rng, logprobs)
        if r is not None:
            return r
    if dim is not None:
        no_dim(dim)
    return _sample.sample(logits, temperature, top_k, top_p, min_p, rng, axis, where, logprobs)


def log_proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    out: np.ndarray | None = None,
    dim: None = None,
) -> Array:
    """Class log-probabilities: ``log_softmax(logits / temperature)`` along the class axis.

    Exact where ``log(proba(...))`` is not: the top class of a confident row keeps its tiny
    log-probability (``log_proba([0, -40])[0] = -4.25e-18``, not 0). Parameters as :func:`proba`;
    masked entries get ``-inf``.
    """
    if dim is not None:
        no_dim(dim)
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


def predict(logits: Any, *, axis: int = -1, dim: None = None) -> np.ndarray | np.intp:
    """The most likely class of each input: the argmax of the logits along the class axis.

    Decided on the logits themselves, so two classes whose probabilities round to the same number
    are still told apart; exact ties go to the lowest class index. ``+inf`` wins (the first one);
    a row of only ``-inf`` gives 0. A row containing NaN raises ValueError naming the row (it has
    no most likely class).

    Returns
    -------
    ndarray of intp, or np.intp
        The logits' shape without the class axis: one ``np.intp`` scalar for 1-d logits (one
        row), as ``np.argmax`` returns.
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    if type(x) is not np.ndarray and _dask.is_dask(x):
        return _dask.map_rows(lambda b, axis: _argmax(np.asarray(b), axis), x, ax)
    return _argmax(np.asarray(x), ax)


def _argmax(x: np.ndarray, ax: int) -> np.ndarray:
    if x.shape[ax] == 0:
        raise ValueError("logits: the class axis is empty; there is no class to predict")
    if is_bfloat16(x.dtype):  # float32 holds it exactly; NaN is seen
        x = x.astype(np.float32)
    idx = np.argmax(x, axis=ax)
    _check_nan_rows(x, idx, ax)
    return idx


def _check_k(k: Any, C: int) -> int:
    k = scalar_of(k)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k: expected an integer, got {k!r}")
    if not 1 <= k <= C:
        raise ValueError(f"k: must be in [1, {C}] (the number of classes), got {k}")
    return int(k)


def top_k(
    logits: Any,
    k: int,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    dim: None = None,
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
    if dim is not None:
        no_dim(dim)
    # Small plain arrays along the last axis in one call; None for any array the checks below must
    # see (values in [0, 1], a single class, NaN, bad k or temperature).
    if axis == -1 and type(logits) is np.ndarray and type(temperature) is float:
        r = _core.top_k_small(logits, k, temperature)
        if r is not None:
            return r
    x, ax = _logits(logits, axis)
    if type(x) is not np.ndarray and _dask.is_dask(x):
        kk = _check_k(k, x.shape[ax])
        return _dask.map_rows(top_k, x, ax, kk, width=kk, temperature=temperature)
    if is_bfloat16(getattr(x, "dtype", None)):  # selected in float32 (exact), returned in bfloat16
        idx, p = top_k(np.asarray(x, np.float32), k, axis=ax, temperature=temperature)
        return idx, p.astype(x.dtype)
    x = float_logits(x)
    kk = _check_k(k, x.shape[ax])
    t = _temperature(temperature)
    return _top_k.select(x, ax, kk, t, True)


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
    temperature: float = 1.0,
    dim: None = None,
) -> LossValue:
    """Cross-entropy of multi-class logits: :func:`logitkit.cross_entropy` with the same options.

    ``target`` holds class indices (the logits' shape without the class axis, integer dtype) or
    probabilities (the logits' shape, float dtype, rows summing to 1). Rows that sum to more than 1,
    or a 0/1 integer matrix with several 1s in a row, raise ValueError pointing to
    :mod:`logitkit.multilabel`; a one-hot integer matrix raises one that says how to pass it.

    ``temperature`` T > 0: the loss of ``logits / T`` (computed inside the kernel, no temporary); a
    fitted T (:func:`fit_temperature`) gives the calibrated NLL. Gradients are with respect to the
    raw logits, (d loss/d z)/T with z = logits/T.
    """
    if dim is not None:
        no_dim(dim)
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
        temperature=temperature,
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
    temperature: float = 1.0,
    dim: None = None,
) -> tuple[LossValue, np.ndarray]:
    """``(loss, d loss / d logits)`` from one fused pass: :func:`logitkit.cross_entropy_with_grad`
    with the same options (``out`` receives the gradient). Targets and ``temperature`` as
    :func:`loss` (the gradient is with respect to the raw logits)."""
    if dim is not None:
        no_dim(dim)
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
        temperature=temperature,
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
    hess_scale: float | str = 1.0,
    temperature: float = 1.0,
    dim: None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-element gradient ``p - y`` and diagonal Hessian ``p·(1 - p)`` of the per-item
    cross-entropy (times weights), for gradient-boosting custom objectives:
    :func:`logitkit.grad_hess` with ``family="multiclass"``. With ``temperature`` T, of the loss of
    z = logits/T, with respect to the raw logits: grad = (dL/dz)/T, hess = (d²L/dz²)/T².
    ``hess_scale="xgboost"`` or ``"lightgbm"`` gives the Hessian of that library's built-in multiclass objective (see
    :func:`logitkit.grad_hess`)."""
    if dim is not None:
        no_dim(dim)
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
        hess_scale=hess_scale,
        temperature=temperature,
    )


# ----------------------------------------------------------------------------- calibration


def fit_temperature(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    sample_weight: Any = None,
    bounds: tuple[float, float] = (1e-3, 1e3),
    ignore_index: int = -100,
    dim: None = None,
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
        Class indices (integer, the logits' shape without the class axis) or probability rows
        (float, the logits' shape). Errors name ``labels``.
    axis : int
        The class axis.
    sample_weight : array_like, optional
        One weight per item.
    ignore_index : int
        Items labelled ``ignore_index`` are skipped, as in :func:`loss` (and in
        :func:`expected_calibration_error` and :func:`brier_score`).
    bounds : (T_min, T_max)
        The search interval. When the optimum lies beyond it — every item classified correctly
        with a margin (the loss keeps falling as T -> 0), or logits that carry no information
        about the labels (T -> inf) — the bound is returned with a :class:`CalibrationWarning`.

    A NaN or infinite logit raises ValueError naming its row.

    Returns
    -------
    float
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    x64 = np.asarray(x, np.float64)
    if _dask.is_dask(labels) or _dask.is_dask(sample_weight):  # computed once, not once per step
        labels = np.asarray(labels)
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)
    lo, hi = check_bounds(bounds)
    check_finite_rows(x64, ax, "fit_temperature")
    lab, _, hard = _checked_labels(x64, labels, ax, ignore_index)
    ii = -1 if hard else -100  # _checked_labels marks ignored items -1
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):

        def dloss_dlogT(s: float) -> float:
            z = x64 * math.exp(-s)
            _, g = losses.cross_entropy_with_grad(
                z, lab, axis=ax, sample_weight=sample_weight, ignore_index=ii, validate=False
            )
            return -float(np.vdot(g, z))

        s, side = solve_log_temperature(dloss_dlogT, math.log(lo), math.log(hi))
        T = lo if side < 0 else hi if side > 0 else math.exp(s)
        if side:
            warn_at_bounds(T, lo, hi, "fit_temperature")
        return T


def _proba64(x: Any, ax: int, temperature: Any) -> np.ndarray:
    return _functional.softmax(np.asarray(x, np.float64), ax, temperature=_temperature(temperature))


def expected_calibration_error(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    n_bins: int = 15,
    temperature: float = 1.0,
    ignore_index: int = -100,
    dim: None = None,
) -> float:
    """Expected calibration error of the top-1 prediction, with equal-width confidence bins.

    For each item the confidence is the probability of the predicted class (``predict``) and the
    outcome is 1 if that class is the label, else 0 (for probability labels: the label's
    probability of the predicted class). Bin k of ``n_bins`` holds the confidences in
    (k/n_bins, (k+1)/n_bins]; ECE = Σ_k (n_k / N)·|mean outcome_k - mean confidence_k|.
    Probabilities are computed in float64, at ``temperature``. Items labelled ``ignore_index``
    are skipped (they do not count in N), as in :func:`loss`. No items gives NaN.

    Returns
    -------
    float
        A Python float (as every calibration value: :func:`brier_score`, :func:`fit_temperature`).
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        nb = check_n_bins(n_bins)
        x = np.asarray(x)
        lab, ignored, hard = _checked_labels(x, labels, ax, ignore_index)
        pred = _argmax(x, ax)
        p = _proba64(x, ax, temperature)
        conf = np.take_along_axis(p, np.expand_dims(pred, ax), axis=ax).squeeze(ax)
        if hard:
            outcome = (lab == pred).astype(np.float64)
        else:
            outcome = np.take_along_axis(lab, np.expand_dims(pred, ax), axis=ax).squeeze(ax)
        if ignored is not None:
            conf, outcome = conf[~ignored], outcome[~ignored]
        return ece_from(conf.ravel(), outcome.ravel(), nb)


def brier_score(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    ignore_index: int = -100,
    dim: None = None,
) -> float:
    """Multi-class Brier score: the mean over items of Σ_c (p_c - y_c)², with y the one-hot label
    (or the probability label). 0 is perfect; 2 is the worst. Probabilities are computed in
    float64, at ``temperature``. Items labelled ``ignore_index`` are skipped (they do not count in
    the mean), as in :func:`loss`. No items gives NaN.

    Returns
    -------
    float
        A Python float.
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        x = np.asarray(x)
        item_shape = x.shape[:ax] + x.shape[ax + 1 :]
        lab, ignored, hard = _checked_labels(x, labels, ax, ignore_index)
        d = _proba64(x, ax, temperature)
        n = math.prod(item_shape)
        if hard:
            idx = np.expand_dims(np.where(lab < 0, 0, lab), ax)
            np.put_along_axis(d, idx, np.take_along_axis(d, idx, axis=ax) - 1.0, axis=ax)
            if ignored is not None:  # the counted items' rows, class axis last, in C order
                d = np.moveaxis(d, ax, -1)[~ignored]
                n = d.shape[0]
        else:
            d = d - lab
        # squares in C order: the sum's order, and so its bits, never depend on the layout
        return float(np.sum(np.multiply(d, d, order="C")) / n) if n else math.nan


# ----------------------------------------------------------------------------- config object


def entropy(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    reduction: str = "none",
    dim: None = None,
) -> Array | LossValue:
    """The entropy of each input's class distribution, ``softmax(logits / temperature)``, in nats:
    :func:`logitkit.entropy` (exact for confident and flat rows alike; 0 to log C), with this
    module's checks (a single logit per input is a binary model; probabilities where logits
    belong warn).

    >>> import logitkit as lk
    >>> float(lk.multiclass.entropy([0.0, 0.0, 0.0, 0.0]))  # log 4
    1.3862943611198906
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    return _divergence.entropy(
        x, axis=ax, temperature=temperature, where=where, reduction=reduction
    )


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
    # not a field: `dim=` (PyTorch's name) raises a TypeError that says to use axis=
    dim: dataclasses.InitVar[None] = None

    def __post_init__(self, dim: None) -> None:
        if dim is not None:
            no_dim(dim)

    # array-valued options (weight, pos_weight, threshold, ...) compare by value
    __eq__ = options_eq

    __hash__ = options_hash

    def proba(self, logits: Any, **kw: Any) -> Array:
        """:func:`proba` with this object's axis and temperature."""
        return proba(logits, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def log_proba(self, logits: Any, **kw: Any) -> Array:
        """:func:`log_proba` with this object's axis and temperature."""
        return log_proba(logits, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def entropy(self, logits: Any, **kw: Any) -> Array | LossValue:
        """:func:`entropy` with this object's axis and temperature."""
        return entropy(logits, **{"axis": self.axis, "temperature": self.temperature, **kw})

    def predict(self, logits: Any, **kw: Any) -> np.ndarray | np.intp:
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
            "temperature": self.temperature,
        }

    def loss(self, logits: Any, target: Any, **kw: Any) -> LossValue:
        """:func:`loss` with this object's axis, weight, ignore_index, label_smoothing and
        temperature (a fitted temperature gives the calibrated NLL)."""
        return loss(logits, target, **{**self._loss_options(), **kw})

    def loss_with_grad(self, logits: Any, target: Any, **kw: Any) -> tuple[LossValue, np.ndarray]:
        """:func:`loss_with_grad` with this object's loss options."""
        return loss_with_grad(logits, target, **{**self._loss_options(), **kw})

    def grad_hess(self, logits: Any, target: Any, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        """:func:`grad_hess` with this object's axis, weight, label_smoothing and temperature."""
        opts = self._loss_options()
        del opts["ignore_index"]
        return grad_hess(logits, target, **{**opts, **kw})

    def fit_temperature(self, logits: Any, labels: Any, **kw: Any) -> MultiClass:
        """A copy of this object with ``temperature`` from :func:`fit_temperature` (with this
        object's axis and ignore_index)."""
        T = fit_temperature(
            logits, labels, **{"axis": self.axis, "ignore_index": self.ignore_index, **kw}
        )
        return dataclasses.replace(self, temperature=T)

    def expected_calibration_error(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`expected_calibration_error` with this object's axis, temperature and
        ignore_index."""
        return expected_calibration_error(logits, labels, **{**self._cal_options(), **kw})

    def brier_score(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`brier_score` with this object's axis, temperature and ignore_index."""
        return brier_score(logits, labels, **{**self._cal_options(), **kw})

    def _cal_options(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "temperature": self.temperature,
            "ignore_index": self.ignore_index,
        }
