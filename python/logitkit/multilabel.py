"""Multi-label logits: each class is on or off by itself, any number of classes per input.

Logits from a model trained with binary cross-entropy (sigmoid + BCE per class) are independent
log-odds, one per class: each probability comes from :func:`logitkit.sigmoid` on its own, and a
row's probabilities need not sum to 1. If exactly one class per input is right, the logits are
multi-class: use :mod:`logitkit.multiclass` instead, which offers the same verbs.

Verbs: :func:`proba`, :func:`log_proba`, :func:`predict`, :func:`top_k`, :func:`loss`,
:func:`loss_with_grad`, :func:`grad_hess`, :func:`entropy`, :func:`distillation_loss`,
:func:`fit_temperature` (Platt
scaling: a temperature and a bias per class), :func:`expected_calibration_error`,
:func:`brier_score`;
:class:`MultiLabel` holds options and exposes the same verbs.

``temperature`` and ``bias`` (a number, or one per class along the class axis) turn logits x into
``x / temperature + bias`` before the sigmoid: the form :func:`fit_temperature` fits.

Every verb that reads logits warns (:class:`ProbabilitiesWarning`, a ``UserWarning``) when they
look like probabilities: up to 16 rows spread over the batch are read (the check costs the same
for any batch size); it fires when every sampled row lies in [0, 1] and sums to 1 (softmax
outputs), or when at least 32 sampled entries all lie in [0, 1] and are not all equal (sigmoid
outputs). The warning points at the caller's line.

There is no ``ignore_index``: every (input, class) pair is its own binary label, as in
``torch.nn.functional.binary_cross_entropy_with_logits``. To leave pairs out of a loss, give them
``weight=0`` (``weight`` broadcasts to the logits' shape; the mean still divides by the number of
elements, torch's rule); the calibration functions read every pair. Errors name the argument
(``target`` for the losses, ``labels`` for the calibration functions); ``dim=`` (torch's name) is
a TypeError that says to use ``axis=``. A loss with reduction ``mean`` or ``sum`` is a NumPy
scalar of the logits' loss dtype; calibration values are Python floats (and
:class:`PlattScaling` from :func:`fit_temperature`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np

from . import _core, _dask, _divergence, _functional, _top_k, losses
from ._calibration import (
    check_bounds,
    check_n_bins,
    ece_from,
    platt_newton,
    platt_targets,
    separable_columns,
    warn_at_bounds,
)
from ._multi import (
    CalibrationWarning,
    ProbabilitiesWarning,
    along,
    check_finite_rows,
    class_axis,
    float_logits,
    logit_cut,
    multilabel_target,
    options_eq,
    options_hash,
    per_class,
    warn_if_probabilities,
)
from ._validation import (
    Array,
    LossValue,
    as_real_array,
    check_out,
    check_temperature,
    is_bfloat16,
    no_dim,
    target_error,
)

__all__ = [
    "CalibrationWarning",
    "MultiLabel",
    "PlattScaling",
    "ProbabilitiesWarning",
    "brier_score",
    "distillation_loss",
    "distillation_loss_with_grad",
    "entropy",
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

# float64 logits with a temperature or bias: z = x / T + b is formed in long double where it is
# wider than double (x86: 64-bit mantissa), so the rounding of z does not grow with |z| in the
# sigmoid's tail; elsewhere in float64.
_WIDE = np.dtype(np.longdouble)
_WIDE_IS_WIDER = np.finfo(_WIDE).nmant > np.finfo(np.float64).nmant


class PlattScaling(NamedTuple):
    """Per-class Platt scaling ``sigmoid(x / temperature + bias)``, as fitted by
    :func:`fit_temperature`; ``proba(x, **fit._asdict())`` applies it."""

    temperature: np.ndarray
    bias: np.ndarray


def _logits(logits: Any, axis: Any, name: str = "logits") -> tuple[Any, int]:
    x = as_real_array(logits, name)
    ax = class_axis(x, axis)
    warn_if_probabilities(x, ax, multilabel=True)
    return x, ax


def _affine(
    x: Any, ax: int, temperature: Any, bias: Any
) -> tuple[np.ndarray | float, np.ndarray | float, bool]:
    C = np.shape(x)[ax]
    T = per_class(temperature, C, "temperature", positive=True)
    b = per_class(bias, C, "bias", positive=False)
    trivial = isinstance(T, float) and isinstance(b, float) and T == 1.0 and b == 0.0
    return T, b, trivial


def _z(x: np.ndarray, ax: int, T: Any, b: Any, wide: np.dtype) -> np.ndarray:
    """x / T + b in the dtype ``wide`` (T, b scalars or per class along ``ax``)."""
    z = x.astype(wide)
    with np.errstate(all="ignore"):  # x / T past the dtype's range is its limit, ±inf
        if not (isinstance(T, float) and T == 1.0):
            z = z / np.asarray(along(T, ax, x.ndim), wide)
        if not (isinstance(b, float) and b == 0.0):
            z = z + np.asarray(along(b, ax, x.ndim), wide)
    return z


def _sigmoid_wide(z: np.ndarray, log: bool) -> np.ndarray:
    """sigmoid or log_sigmoid in long double, by the stable formulas of docs/numerics.md, "Sigmoid, log-sigmoid, softplus"."""
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(z))
        if log:
            return np.minimum(z, 0) - np.log1p(e)
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _transform(logits, axis, temperature, bias, complement, log, out):
    x, ax = _logits(logits, axis)
    return _apply(x, ax, temperature, bias, complement, log, out)


def _apply(x, ax, temperature, bias, complement, log, out):
    """sigmoid / log_sigmoid of ±(x / temperature + bias) (x already checked)."""
    T, b, trivial = _affine(x, ax, temperature, bias)
    f = _functional.log_sigmoid if log else _functional.sigmoid
    if trivial:
        if not complement:
            return f(x, out=out)
        lazy = hasattr(x, "__array_ufunc__") and not isinstance(x, np.ndarray)  # Dask & co.
        lazy = lazy or is_bfloat16(x.dtype)  # bfloat16: -x is exact
        return f(-(x if lazy else float_logits(x)), out=out)
    # a Dask array: block by block, each block with its classes' temperature and bias
    if type(x) is not np.ndarray and _dask.is_dask(x):
        return _dask.map_classes(_apply, x, ax, (T, b), complement, log, out)
    rdt = getattr(x, "dtype", None)  # bfloat16 results stay bfloat16 (float_logits: float32)
    x = float_logits(x)
    dt = rdt if is_bfloat16(rdt) else x.dtype
    if dt == np.float64 and _WIDE_IS_WIDER:
        z = _z(x, ax, T, b, _WIDE)
        r = _sigmoid_wide(-z if complement else z, log)
    else:
        z = _z(x, ax, T, b, np.dtype(np.float64))
        r = np.asarray(f(-z if complement else z))
    with np.errstate(all="ignore"):  # a tail probability below the dtype's range rounds to 0
        r = r.astype(dt)
    if out is not None:
        check_out(out, x.shape)
        np.copyto(out, r, casting="same_kind")
        return out
    return r


def proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    complement: bool = False,
    out: np.ndarray | None = None,
    dim: None = None,
) -> Array:
    """Per-class probabilities ``sigmoid(logits / temperature + bias)``, each on its own.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Raw scores of a multi-label model.
    axis : int
        The class axis (where per-class ``temperature``, ``bias`` apply).
    temperature : float > 0 or array of shape (C,)
    bias : float or array of shape (C,)
        As fitted by :func:`fit_temperature` (Platt scaling).
    complement : bool
        Return ``1 - p = sigmoid(-(logits / temperature + bias))`` instead, computed directly: exact
        where ``1 - proba(...)`` rounds to 0 (``p`` near 1).
    out : ndarray, optional

    Returns
    -------
    ndarray
        The logits' shape and floating dtype (integers give float64). Without temperature and bias
        this is :func:`logitkit.sigmoid` (3 ulp float32, 4 ulp float64). With them, the argument is
        formed in float64 (float32 logits) or long double (float64 logits, where long double is
        wider), so its rounding does not grow with its size in the tails.

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.multilabel.proba([2.0, 1.0, -1.0])
    array([0.88079708, 0.73105858, 0.26894142])
    """
    if dim is not None:
        no_dim(dim)
    return _transform(logits, axis, temperature, bias, complement, False, out)


def log_proba(
    logits: Any,
    *,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    complement: bool = False,
    out: np.ndarray | None = None,
    dim: None = None,
) -> Array:
    """``log p`` per class, ``log_sigmoid(logits / temperature + bias)``, without rounding p first.

    ``complement=True`` gives ``log(1 - p) = log_sigmoid(-z)`` accurately: for a confident
    positive (z = 40) it is -40 exactly where ``log(1 - proba(...))`` gives -inf; for z = -40 it
    is -4.25e-18 where ``log1p(-proba(...))`` loses most digits. Parameters as :func:`proba`.
    """
    if dim is not None:
        no_dim(dim)
    return _transform(logits, axis, temperature, bias, complement, True, out)


def _cuts(x: np.ndarray, ax: int, threshold: Any, temperature: Any, bias: Any) -> np.ndarray | Any:
    C = x.shape[ax]
    t = per_class(threshold, C, "threshold", positive=False)
    ta = np.atleast_1d(t)
    if np.any((ta < 0) | (ta > 1)):
        bad = int(np.argmax((ta < 0) | (ta > 1)))
        at = "" if isinstance(t, float) else f" at class {bad}"
        raise ValueError(f"threshold: must be in [0, 1]; got {float(ta[bad])!r}{at}")
    T, b, _ = _affine(x, ax, temperature, bias)
    dt = x.dtype
    if all(isinstance(v, float) for v in (t, T, b)):
        return logit_cut(t, T, b, dt)
    cache: dict[tuple[float, float, float], Any] = {}
    cuts = np.empty(C, dt)
    tv, Tv, bv = (np.broadcast_to(np.asarray(v, np.float64), (C,)) for v in (t, T, b))
    for c in range(C):
        key = (float(tv[c]), float(Tv[c]), float(bv[c]))
        if key not in cache:
            cache[key] = logit_cut(*key, dt)
        cuts[c] = cache[key]
    return cuts.reshape((-1,) + (1,) * (x.ndim - 1 - ax))


def predict(
    logits: Any,
    *,
    threshold: Any = 0.5,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> np.ndarray:
    """Which classes are on: ``proba(logits, ...) > threshold``, decided on the logits.

    No sigmoid is computed: ``sigmoid(x / T + b) > t`` is the same as ``x > T·(logit(t) - b)``,
    and that cut is computed once per class from the float64 values of t, T and b in 60-digit
    decimal arithmetic (cached), then rounded down to the logits' dtype. So the decision is the exact one
    for every logit: no rounding of a probability can flip it (a probability that rounds to t
    may still be above it).

    Parameters
    ----------
    threshold : float in [0, 1] or array of shape (C,)
        One for all classes, or one per class (along ``axis``). ``t = 0``: every class is on except
        where the logit is -inf (``sigmoid(-inf) = 0`` is not > 0); ``t = 1``: no class is on, not
        even at +inf (``sigmoid(+inf) = 1`` is not > 1).
    axis, temperature, bias
        As in :func:`proba`.

    Returns
    -------
    ndarray of bool
        The logits' shape. NaN logits are never on.
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    # a Dask array stays lazy: the cuts need only its shape and dtype
    if type(x) is not np.ndarray and _dask.is_dask(x):
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        return x > _cuts(x, ax, threshold, temperature, bias)
    x = float_logits(x)
    return x > _cuts(x, ax, threshold, temperature, bias)


def top_k(
    logits: Any,
    k: int,
    *,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k classes of highest probability per input and their (independent) probabilities.

    Ordered by ``x / temperature + bias`` (the logits themselves when both are trivial; in float64
    otherwise), ties broken by the lower class index. A row containing NaN raises ValueError naming
    the row. Returns (indices, probabilities) with the class axis of length k: ``proba(logits,
    temperature=..., bias=...)`` at ``indices``. A partial selection per row, then a sort of the k
    winners.
    """
    if dim is not None:
        no_dim(dim)
    from .multiclass import _check_k

    x, ax = _logits(logits, axis)
    if type(x) is not np.ndarray and _dask.is_dask(x):
        kk = _check_k(k, x.shape[ax])
        return _dask.map_rows(top_k, x, ax, kk, width=kk, temperature=temperature, bias=bias)
    if is_bfloat16(getattr(x, "dtype", None)):  # selected in float32 (exact), returned in bfloat16
        idx, p = top_k(np.asarray(x, np.float32), k, axis=ax, temperature=temperature, bias=bias)
        return idx, p.astype(x.dtype)
    x = float_logits(x)
    kk = _check_k(k, x.shape[ax])
    T, b, trivial = _affine(x, ax, temperature, bias)
    key = x if trivial else _z(x, ax, T, b, np.dtype(np.float64))
    idx = _top_k.select(key, ax, kk, None, False)[0]
    # proba's elementwise steps on the winners only: x / T + b at each winner's own class.
    xg = np.take_along_axis(x, idx, axis=ax)
    if trivial:
        return idx, _functional.sigmoid(xg)
    Tg = T if isinstance(T, float) else np.asarray(T)[idx]
    bg = b if isinstance(b, float) else np.asarray(b)[idx]
    wide = _WIDE if x.dtype == np.float64 and _WIDE_IS_WIDER else np.dtype(np.float64)
    z = xg.astype(wide)
    with np.errstate(all="ignore"):
        if not (isinstance(T, float) and T == 1.0):
            z = z / np.asarray(Tg, wide)
        if not (isinstance(b, float) and b == 0.0):
            z = z + np.asarray(bg, wide)
        r = _sigmoid_wide(z, False) if wide == _WIDE else np.asarray(_functional.sigmoid(z))
        return idx, r.astype(x.dtype)


# ----------------------------------------------------------------------------- losses


def _target(x: Any, target: Any, ax: int) -> Any:
    return multilabel_target(target, tuple(np.shape(x)), ax)


def loss(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    pos_weight: Any = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    validate: bool = True,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> LossValue:
    """Binary cross-entropy of multi-label logits: :func:`logitkit.binary_cross_entropy_with_logits`
    with the same options (``pos_weight`` and a 1-d ``weight`` are one value per class, along
    ``axis``).

    ``target`` has the logits' shape, entries in [0, 1]. A target of the logits' shape without the
    class axis holding class indices raises ValueError pointing to :mod:`logitkit.multiclass`.

    ``temperature`` (> 0) and ``bias``, numbers or one per class along ``axis`` (as :func:`proba`
    takes them): the loss of z = logits/temperature + bias, formed inside the kernel; gradients are
    with respect to the raw logits, (d loss/d z)/temperature (Hessians /temperature²).
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    return losses.binary_cross_entropy_with_logits(
        x,
        _target(x, target, ax),
        axis=ax,
        weight=weight,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        reduction=reduction,
        validate=validate,
        temperature=temperature,
        bias=bias,
    )


def loss_with_grad(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    pos_weight: Any = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    validate: bool = True,
    out: np.ndarray | None = None,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> tuple[LossValue, np.ndarray]:
    """``(loss, d loss / d logits)`` from one pass:
    :func:`logitkit.binary_cross_entropy_with_logits_with_grad` with the same options
    (``temperature`` and ``bias`` as :func:`loss`; the gradient is with respect to the raw logits)."""
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    return losses.binary_cross_entropy_with_logits_with_grad(
        x,
        _target(x, target, ax),
        axis=ax,
        weight=weight,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        reduction=reduction,
        validate=validate,
        out=out,
        temperature=temperature,
        bias=bias,
    )


def grad_hess(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    pos_weight: Any = None,
    label_smoothing: float = 0.0,
    validate: bool = True,
    hess_scale: float | str = 1.0,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-element gradient ``c·σ - pos_weight·y`` and Hessian ``c·σ·(1 - σ)`` of the BCE
    (``c = 1 + (pos_weight - 1)·y``), for gradient-boosting custom objectives:
    :func:`logitkit.grad_hess` with ``family="binary"``. With ``temperature`` T and ``bias``: of
    z = logits/T + b, with respect to the raw logits (grad /T, hess /T²).
    ``hess_scale="xgboost"`` floors ``σ·(1 - σ)`` at 1e-16 as XGBoost's ``binary:logistic`` does (see :func:`logitkit.grad_hess`)."""
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    return losses.grad_hess(
        x,
        _target(x, target, ax),
        family="binary",
        axis=ax,
        weight=weight,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        validate=validate,
        hess_scale=hess_scale,
        temperature=temperature,
        bias=bias,
    )


# ----------------------------------------------------------------------------- calibration


def entropy(
    logits: Any,
    *,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    reduction: str = "none",
    dim: None = None,
) -> Array | LossValue:
    """The entropy of each label's Bernoulli distribution, ``sigmoid(logits / temperature + bias)``,
    in nats: :func:`logitkit.binary_entropy` (exact in both tails; 0 to log 2), with this module's
    checks (probabilities where logits belong warn) and a per-class ``temperature`` and ``bias`` (a
    fitted Platt scaling gives the calibrated uncertainty).

    reduction: 'none' (default, the logits' shape), 'mean' or 'sum' over every element. The
    entropy of an input's labels together (they are independent) is the sum along ``axis``.

    With a bias or a per-class temperature, z = logits / temperature + bias is formed first (in
    long double where it is wider than float64, and the entropy taken at z's pair of doubles), the
    way :func:`proba` forms it.

    >>> import logitkit as lk
    >>> lk.multilabel.entropy([[0.0, 40.0]])
    array([[6.93147181e-01, 1.74182524e-16]])
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    T, b, _ = _affine(x, ax, temperature, bias)
    if isinstance(T, float) and isinstance(b, float) and b == 0.0:
        return _divergence.binary_entropy(x, temperature=T, reduction=reduction)
    xf, (vdt, _) = _divergence._float_rows(x, "logits")
    if xf.dtype == np.float64 and _WIDE_IS_WIDER:
        zw = _z(xf, ax, T, b, _WIDE)
        with np.errstate(over="ignore"):  # beyond float64: ±inf, whose entropy is 0
            z = zw.astype(np.float64)
        with np.errstate(all="ignore"):
            lo = (zw - z).astype(np.float64)
        h, g = _divergence.binary_entropy_with_grad(z)
        with np.errstate(all="ignore"):  # H(z + lo) = H(z) + H'(z)·lo where z is finite
            h = np.where(np.isfinite(lo) & (lo != 0), h + g * lo, h)
    else:
        h = _divergence.binary_entropy(_z(xf, ax, T, b, np.dtype(np.float64)))
    return _divergence._reduce(
        np.asarray(h),
        _divergence._check_reduction(reduction, _divergence._BINARY_ENTROPY_REDUCTIONS),
        h.size,
        vdt,
    )


def _distillation(
    student_logits, teacher_logits, target, axis, temperature, alpha, reduction, want_grad
):
    s, ax = _logits(student_logits, axis, "student_logits")
    t, _ = _logits(teacher_logits, axis, "teacher_logits")
    if np.shape(s) != np.shape(t):
        raise ValueError(
            f"student_logits and teacher_logits: the shapes differ, {np.shape(s)} and "
            f"{np.shape(t)} (one logit of each model per label)"
        )
    a = _divergence._alpha(alpha, target)
    check_temperature(temperature)
    red = _divergence._check_reduction(reduction, ("mean", "sum", "none"))
    # float16 and bfloat16 computed in float32 and rounded once at the end, as the losses are
    s, (vdt, gdt) = _divergence._float_rows(s, "student_logits")
    t, _ = _divergence._float_rows(t, "teacher_logits")
    T = _divergence._distillation_temperature(temperature, s.dtype)
    kl, gk = _divergence.binary_kl_divergence_with_grad(t, s, temperature=T, reduction=red)
    w_kl = a * T * T
    with np.errstate(over="ignore", under="ignore"):
        value = np.asarray(kl, np.float64) * w_kl
        grad = gk * gk.dtype.type(w_kl)
        if a < 1.0:
            bce, gb = losses.binary_cross_entropy_with_logits_with_grad(
                s, _target(s, target, ax), axis=ax, reduction=red
            )
            value = value + np.asarray(bce, np.float64) * (1.0 - a)
            grad = grad + gb.astype(grad.dtype) * grad.dtype.type(1.0 - a)
        value = value.astype(np.asarray(kl).dtype).astype(vdt)
        grad = grad.astype(gdt, copy=False)
    value = value if red == "none" else value[()]
    return (value, grad) if want_grad else value


def distillation_loss(
    student_logits: Any,
    teacher_logits: Any,
    target: Any = None,
    *,
    temperature: float = 1.0,
    alpha: float | None = None,
    axis: int = -1,
    reduction: str = "mean",
    dim: None = None,
) -> Array | LossValue:
    """Knowledge distillation for multi-label models: each label's Bernoulli distribution,

        alpha·T²·KL(Bernoulli(σ(teacher/T)) ‖ Bernoulli(σ(student/T))) + (1 - alpha)·BCE(student, target)

    elementwise, reduced over every element ('mean', default, as
    :func:`logitkit.binary_cross_entropy_with_logits`; 'sum'; 'none': the logits' shape). The KL
    term is :func:`logitkit.binary_kl_divergence` (exact in both tails, never negative); ``target``
    (the logits' shape, entries in [0, 1]) is optional, ``alpha`` defaults to 1.0 without it and
    0.5 with it.

    >>> import logitkit as lk
    >>> print(f"{lk.multilabel.distillation_loss([[2.0, -1.0]], [[3.0, -2.0]], temperature=2.0):.6f}")
    0.093960
    """
    if dim is not None:
        no_dim(dim)
    return _distillation(
        student_logits, teacher_logits, target, axis, temperature, alpha, reduction, False
    )


def distillation_loss_with_grad(
    student_logits: Any,
    teacher_logits: Any,
    target: Any = None,
    *,
    temperature: float = 1.0,
    alpha: float | None = None,
    axis: int = -1,
    reduction: str = "mean",
    dim: None = None,
) -> tuple[Array | LossValue, np.ndarray]:
    """:func:`distillation_loss` and its gradient with respect to ``student_logits``:
    alpha·T·(q - p) + (1 - alpha)·(σ(student) - target) elementwise, times the reduction's factor."""
    if dim is not None:
        no_dim(dim)
    return _distillation(
        student_logits, teacher_logits, target, axis, temperature, alpha, reduction, True
    )


def _labels01(x: np.ndarray, labels: Any, ax: int) -> np.ndarray:
    """Labels with the logits' shape, values in [0, 1], as float64."""
    y = np.asarray(multilabel_target(labels, x.shape, ax, "labels"))
    if y.dtype.kind not in "fiub":
        as_real_array(y, "labels")
    y = y.astype(np.float64)
    bad = ~((y >= 0) & (y <= 1))
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise target_error("labels", "unit_interval", y[pos], pos)
    return y


def fit_temperature(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    fit_bias: bool = True,
    regularize: bool = True,
    bounds: tuple[float, float] = (1e-3, 1e3),
    max_iter: int = 100,
    dim: None = None,
) -> PlattScaling:
    """Platt scaling per class: the temperature T_c > 0 and bias b_c that minimize the mean BCE of
    ``sigmoid(x / T_c + b_c)`` against the labels of class c.

    Each class is a convex 2-parameter logistic fit in (1/T_c, b_c), solved for all classes at once
    by Newton's method with a backtracking line search (a tiny ridge keeps a constant column
    solvable). The loss and probabilities come from the BCE and sigmoid kernels, in float64.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Held-out logits.
    labels : array_like, the logits' shape
        0/1 (or probabilities in [0, 1]) per class.
    axis : int
        The class axis.
    fit_bias : bool
        False fits T_c alone (b_c = 0).
    regularize : bool
        Use Platt's (1999) targets: positives count as (N₊+1)/(N₊+2), negatives as 1/(N₋+2), with
        N₊, N₋ the class's numbers of positives and negatives. This keeps every fit finite: a
        class whose logits separate its labels perfectly gets a large but finite 1/T_c instead of
        an optimum at T_c -> 0, and a class with only one label value gets T_c at the upper bound
        and b_c = logit of its target. False fits the labels as given (maximum likelihood): a
        separable class (every positive's logit above every negative's) is then fitted at the
        lower bound T_min (with b_c optimal there, starting from the cut in the middle of the gap
        between the classes; a :class:`CalibrationWarning` names it), and a
        class with only one label value raises ValueError (its bias would be infinite).
    bounds : (T_min, T_max)
        Limits of every T_c. A class whose optimum lies beyond them is fitted at the bound (with b_c
        optimal there) and named in a :class:`CalibrationWarning`.
    max_iter : int
        Newton iterations at most (a fit typically takes 5-10).

    A NaN or infinite logit raises ValueError naming its row.

    Returns
    -------
    PlattScaling
        ``(temperature, bias)``, two float64 arrays of shape (C,), usable as
        ``proba(logits, temperature=..., bias=...)`` or ``proba(logits, **fit._asdict())``.
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    x = float_logits(x)
    y = _labels01(x, labels, ax)
    lo, hi = check_bounds(bounds)
    check_finite_rows(x, ax, "fit_temperature")
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        C = x.shape[ax]
        X = np.moveaxis(x, ax, -1).reshape(-1, C).astype(np.float64)
        Y = np.moveaxis(y, ax, -1).reshape(-1, C)
        if Y.shape[0] == 0:  # no items: nothing to fit, the identity (as multiclass returns T = 1)
            return PlattScaling(temperature=np.ones(C), bias=np.zeros(C))
        held = b_start = None
        if regularize:
            t = platt_targets(Y)
        else:
            t = Y
            if fit_bias and Y.shape[0]:
                one_valued = np.all(Y == 0, axis=0) | np.all(Y == 1, axis=0)
                if one_valued.any():
                    c = int(np.argmax(one_valued))
                    which = "negative" if Y[0, c] == 0 else "positive"
                    raise ValueError(
                        f"labels: class {c} has only {which} labels, so its maximum-likelihood bias is "
                        "infinite; use regularize=True (Platt's targets) or drop the class"
                    )
            held = separable_columns(Y, X)
            if held.any():  # start with the cut in the middle of the gap, at the steepest slope
                top_neg = np.where(Y == 0, X, -np.inf).max(axis=0, initial=-np.inf)
                low_pos = np.where(Y == 1, X, np.inf).min(axis=0, initial=np.inf)
                with np.errstate(all="ignore"):
                    b_start = np.where(held, -(top_neg + low_pos) / (2 * lo), 0.0)
        a, b, _ = platt_newton(
            X,
            t,
            fit_bias=bool(fit_bias),
            a_lo=1.0 / hi,
            a_hi=1.0 / lo,
            hold_at_max=held,
            b_start=b_start,
            max_iter=int(max_iter),
        )
        T = np.clip(1.0 / a, lo, hi)
        warn_at_bounds(T, lo, hi, "fit_temperature")
        return PlattScaling(temperature=T, bias=b)


def _p_and_complement(x: np.ndarray, ax: int, temperature: Any, bias: Any):
    T, b, _ = _affine(x, ax, temperature, bias)
    z = _z(x, ax, T, b, np.dtype(np.float64))
    return np.asarray(_core.sigmoid(z)), np.asarray(_core.sigmoid(-z))


def expected_calibration_error(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    n_bins: int = 15,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> float:
    """Expected calibration error over every (input, class) pair, with equal-width bins.

    Each pair's confidence is its probability ``p`` of being on (``proba``, in float64) and its
    outcome is its label (0/1, or a probability). Bin k of ``n_bins`` holds the p in
    (k/n_bins, (k+1)/n_bins]; ECE = Σ_k (n_k / N)·|mean label_k - mean p_k| over the N pairs — the
    distance of the reliability diagram of "class is on" from the diagonal. No pairs gives NaN.
    """
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        x = float_logits(x)
        nb = check_n_bins(n_bins)
        y = _labels01(x, labels, ax)
        p, _ = _p_and_complement(x, ax, temperature, bias)
        return ece_from(p.ravel(), y.ravel(), nb)


def brier_score(
    logits: Any,
    labels: Any,
    *,
    axis: int = -1,
    temperature: Any = 1.0,
    bias: Any = 0.0,
    dim: None = None,
) -> float:
    """Multi-label Brier score: the mean of ``(p - y)²`` over every (input, class) pair, in
    float64 (``p - 1`` taken as ``-sigmoid(-z)``, exact for confident positives). 0 is perfect,
    1 the worst. No pairs gives NaN."""
    if dim is not None:
        no_dim(dim)
    x, ax = _logits(logits, axis)
    # valid input never raises under np.errstate(all='raise'): tails underflow, limits overflow
    with np.errstate(all="ignore"):
        x = float_logits(x)
        y = _labels01(x, labels, ax)
        p, q = _p_and_complement(x, ax, temperature, bias)
        d = np.where(y >= 0.5, (1.0 - y) - q, p - y)
        return (
            float(np.mean(np.multiply(d, d, order="C"))) if d.size else math.nan
        )  # layout-free order


# ----------------------------------------------------------------------------- config object


@dataclasses.dataclass(frozen=True, eq=False)
class MultiLabel:
    """Options for multi-label logits, held once and applied by the same verbs as the module.

    >>> import logitkit as lk
    >>> ml = lk.multilabel.MultiLabel(pos_weight=[1.0, 3.0, 1.0], threshold=[0.5, 0.3, 0.5])
    >>> ml = ml.fit_temperature(val_logits, val_labels)  # doctest: +SKIP  (a new object)
    >>> ml.predict(test_logits)  # doctest: +SKIP

    Each method forwards to the module function of the same name with the options that apply to
    it (keyword arguments given to the method override them). ``fit_temperature`` returns a copy
    with the fitted per-class ``temperature`` and ``bias``.
    """

    axis: int = -1
    weight: Any = None
    pos_weight: Any = None
    label_smoothing: float = 0.0
    threshold: Any = 0.5
    temperature: Any = 1.0
    bias: Any = 0.0
    # not a field: `dim=` (PyTorch's name) raises a TypeError that says to use axis=
    dim: dataclasses.InitVar[None] = None

    def __post_init__(self, dim: None) -> None:
        if dim is not None:
            no_dim(dim)

    # array-valued options (weight, pos_weight, threshold, ...) compare by value
    __eq__ = options_eq

    __hash__ = options_hash

    def _cal(self) -> dict[str, Any]:
        return {"axis": self.axis, "temperature": self.temperature, "bias": self.bias}

    def _loss_options(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "weight": self.weight,
            "pos_weight": self.pos_weight,
            "label_smoothing": self.label_smoothing,
            "temperature": self.temperature,
            "bias": self.bias,
        }

    def proba(self, logits: Any, **kw: Any) -> Array:
        """:func:`proba` with this object's axis, temperature and bias."""
        return proba(logits, **{**self._cal(), **kw})

    def log_proba(self, logits: Any, **kw: Any) -> Array:
        """:func:`log_proba` with this object's axis, temperature and bias."""
        return log_proba(logits, **{**self._cal(), **kw})

    def predict(self, logits: Any, **kw: Any) -> np.ndarray:
        """:func:`predict` with this object's threshold, axis, temperature and bias."""
        return predict(logits, **{**self._cal(), "threshold": self.threshold, **kw})

    def top_k(self, logits: Any, k: int, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        """:func:`top_k` with this object's axis, temperature and bias."""
        return top_k(logits, k, **{**self._cal(), **kw})

    def loss(self, logits: Any, target: Any, **kw: Any) -> LossValue:
        """:func:`loss` with this object's axis, weight, pos_weight, label_smoothing, temperature
        and bias (a fitted Platt scaling gives the calibrated BCE)."""
        return loss(logits, target, **{**self._loss_options(), **kw})

    def loss_with_grad(self, logits: Any, target: Any, **kw: Any) -> tuple[LossValue, np.ndarray]:
        """:func:`loss_with_grad` with this object's loss options."""
        return loss_with_grad(logits, target, **{**self._loss_options(), **kw})

    def grad_hess(self, logits: Any, target: Any, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
        """:func:`grad_hess` with this object's loss options."""
        return grad_hess(logits, target, **{**self._loss_options(), **kw})

    def entropy(self, logits: Any, **kw: Any) -> Array | LossValue:
        """:func:`entropy` with this object's axis, temperature and bias."""
        return entropy(logits, **{**self._cal(), **kw})

    def fit_temperature(self, logits: Any, labels: Any, **kw: Any) -> MultiLabel:
        """A copy with ``temperature`` and ``bias`` from :func:`fit_temperature`."""
        fit = fit_temperature(logits, labels, **{"axis": self.axis, **kw})
        return dataclasses.replace(self, temperature=fit.temperature, bias=fit.bias)

    def expected_calibration_error(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`expected_calibration_error` with this object's axis, temperature and bias."""
        return expected_calibration_error(logits, labels, **{**self._cal(), **kw})

    def brier_score(self, logits: Any, labels: Any, **kw: Any) -> float:
        """:func:`brier_score` with this object's axis, temperature and bias."""
        return brier_score(logits, labels, **{**self._cal(), **kw})
