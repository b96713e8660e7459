"""Losses and their gradients: cross-entropy (hard and soft labels), NLL, BCE-with-logits, focal
loss, and per-element gradient/Hessian pairs for gradient-boosting objectives.

Every option follows ``torch.nn.functional`` (the class axis is ``axis``, default -1, instead of
torch's dim 1) and gives the same number for the same input; where torch returns NaN or cannot
express an option, logitkit gives the exact limit or the documented extension (README, "Losses").
The per-row work runs in one C++ kernel per row (max, exp-sum, then one pass that writes the
gradient): no N×C log-probability array is ever allocated.

Diagnoses, the same as :mod:`logitkit.multiclass` and :mod:`logitkit.multilabel` give wherever
the situation is unambiguous: a one-hot (or multi-hot) integer target for cross-entropy, labels
that fit class-major (C, N) logits (use ``axis=0``), ``dim=`` instead of ``axis=`` (TypeError),
and logits with one class for cross-entropy, NLL and ``grad_hess(family="multiclass")`` (a single
logit per input is a binary model: ValueError pointing at the sigmoid losses). Error texts are the
C++ API's describe() texts (one vocabulary). Only the check that logits look like probabilities
is left to the two modules: it is a heuristic, and a warning here would fire on legitimate input.

Return values: a loss with reduction ``mean`` or ``sum`` is a 0-d NumPy scalar of the loss dtype
(``np.float32`` for float32 logits, ``np.float64`` for float64), as NumPy's reductions return
(``LossValue``); ``none`` gives an ndarray, ``grad_hess`` two ndarrays.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _core, _dask
from ._multi import multilabel_target
from ._validation import (
    InvalidTargetError,
    LossValue,
    as_index,
    as_real_array,
    check_out,
    check_temperature,
    class_axis_index,
    describe,
    is_bfloat16,
    label_error,
    no_dim,
    one_class_error,
    row_sum_error,
    scalar_of,
    target_error,
)

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_with_grad",
    "cross_entropy",
    "cross_entropy_with_grad",
    "grad_hess",
    "nll_loss",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_with_grad",
]

_REDUCTIONS = ("mean", "sum", "none")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


# ----------------------------------------------------------------------------- checks


def _check_reduction(reduction: Any) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of 'mean', 'sum', 'none', got {reduction!r}")
    return reduction


def _check_smoothing(eps: Any) -> float:
    if isinstance(eps, (str, bytes, bool, np.bool_)):
        raise TypeError(f"label_smoothing: expected a number in [0, 1], got {eps!r}")
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"label_smoothing: expected a number in [0, 1], got {eps!r}") from None
    if not (0.0 <= e <= 1.0):
        raise ValueError(describe("unit_interval", "label_smoothing", e))
    return e


def _float_logits(logits: Any, name: str = "logits") -> np.ndarray:
    """The logits as the array the loss is computed in: float16 and bfloat16 as float32 (exact),
    integers and bool as float64."""
    x = np.asarray(as_real_array(logits, name))
    if x.dtype == np.float16 or is_bfloat16(x.dtype):
        x = x.astype(np.float32)
    elif x.dtype.kind != "f":
        x = x.astype(np.float64)
    return x


_F16 = np.dtype(np.float16)


def _narrow_dtypes(logits: Any) -> tuple[np.dtype, np.dtype] | None:
    """(loss dtype, gradient dtype) of logits that are computed in float32 and returned narrower:
    float16 gives float16 losses and gradients; bfloat16 gives float32 losses (a bfloat16 sum or
    mean would keep 3 significant digits) and bfloat16 gradients (the logits' dtype, like every
    array of the logits' shape). None for every other dtype: its results are in the dtype it is
    computed in."""
    dt = getattr(logits, "dtype", None)
    if dt is None or dt is _F32 or dt is _F64:
        return None
    if dt == _F16:
        return _F16, _F16
    if is_bfloat16(dt):
        return _F32, dt
    return None


def _narrowed(
    fn: Any, args: tuple, kw: dict, dts: tuple[np.dtype, np.dtype], want_grad: bool, out: Any
) -> Any:
    """fn(*args, **kw), whose first argument is the float32 logits, with its results rounded to
    ``dts`` (_narrow_dtypes): the loss to dts[0] (a NumPy scalar stays one), the gradient to dts[1],
    written to ``out`` (which must be of dts[1]) when given. A value beyond the narrow dtype's range
    rounds to ±inf, without a warning. (A function and its arguments, not a closure: a closure
    would make the caller's variables cells, which costs its small-call path.)"""
    if want_grad and out is not None:
        check_out(out, args[0].shape)
        if out.dtype != dts[1]:
            raise TypeError(f"out: dtype {out.dtype} does not match the gradient's dtype {dts[1]}")
    r = fn(*args, **kw)
    loss, grad = r if want_grad else (r, None)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if isinstance(loss, np.ndarray):
            loss = loss.astype(dts[0])
        else:
            loss = np.asarray(loss).astype(dts[0])[()]
        if not want_grad:
            return loss
        if out is not None:
            np.copyto(out, grad, casting="unsafe")
            grad = out
        else:
            grad = np.asarray(grad).astype(dts[1])
    return loss, grad


def _weight_array(given: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """A weight argument as an array of the logits' dtype (a tiny float64 weight becomes a float32
    0 or subnormal there, which is no floating-point error)."""
    a = np.asarray(as_real_array(given, name))
    with np.errstate(under="ignore"):
        return a.astype(dtype, copy=False)


def _class_weight(
    weight: Any, C: int, dtype: np.dtype
) -> tuple[np.ndarray, float] | tuple[None, float]:
    if weight is None:
        return None, float(C)
    w = _weight_array(weight, "weight", dtype)
    if w.ndim != 1 or w.shape[0] != C:
        raise ValueError(
            f"weight: expected one weight per class, shape ({C},), got shape {w.shape}"
        )
    return w, float(np.sum(w, dtype=np.float64))


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def explain_target_shape(
    target: np.ndarray, x_shape: tuple[int, ...], ax: int, name: str = "target"
) -> None:
    """Class labels whose shape is not the logits' without the class axis: say what the shape
    suggests when it is unambiguous, else the plain shape error (a ValueError, always raised).

    An integer (or bool) matrix with the logits' shape is a one-hot encoding (one 1 per row: pass
    ``argmax``) or a multi-hot one (several 1s: the logits are multi-label); labels that match the
    logits without another axis ``a`` mean the classes lie along ``a`` (class-major (C, N) logits:
    pass ``axis=a``)."""
    expected = x_shape[:ax] + x_shape[ax + 1 :]
    t = target
    if t.shape == x_shape and t.ndim and t.dtype.kind in "iub":
        sums = np.sum(t, axis=ax, dtype=np.int64)
        binary = bool(np.all((t == 0) | (t == 1)))
        if binary and bool(np.all(sums == 1)):
            raise ValueError(
                f"{name}: an integer matrix with the logits' shape {t.shape} and one 1 per row is "
                f"a one-hot encoding; pass class indices ({name}.argmax(axis={ax})) or "
                f"probabilities ({name}.astype(float))"
            )
        if binary and bool(np.any(sums > 1)):
            raise ValueError(
                f"{name}: a 0/1 matrix with the logits' shape {t.shape} and several 1s in a row: "
                "each input can be in several classes? use logitkit.multilabel "
                "(binary_cross_entropy_with_logits)"
            )
    hint = ""
    for a in range(len(x_shape)):
        if a != ax and t.shape == x_shape[:a] + x_shape[a + 1 :]:
            hint = (
                f": the logits {x_shape} look class-major (C, N), with the classes along axis {a}: "
                f"pass axis={a}"
            )
            break
    raise ValueError(
        f"{name}: integer class labels must have the shape of logits without the class axis, "
        f"{expected}; got {t.shape}{hint}"
    )


def _hard_target(
    target: np.ndarray,
    expected: tuple[int, ...],
    C: int,
    ignore_index: int,
    validate: bool,
    x_shape: tuple[int, ...] = (),
    ax: int = -1,
    name: str = "target",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Returns (labels as int64 with ignored items = -1, the ignored mask or None if none is).

    Labels are compared with [0, C) and with ignore_index in their own dtype, so that no unsigned
    label wraps onto a negative one (2**64 - 100 is not -100) and an ignore_index that the dtype
    cannot hold matches nothing. A shape that is not ``expected`` is explained against the logits'
    shape ``x_shape`` and class axis ``ax`` (explain_target_shape)."""
    if target.shape != expected:
        explain_target_shape(
            target, x_shape or expected + (C,), ax if x_shape else len(expected), name
        )
    if target.size == 0:
        return target.astype(np.int64), None
    info = np.iinfo(target.dtype)
    ii = target.dtype.type(ignore_index) if info.min <= ignore_index <= info.max else None
    lo, hi = int(target.min()), int(target.max())
    if lo >= 0 and hi < C:  # every label valid, none ignored (the fast, common case)
        t = target if target.dtype == np.int64 else target.astype(np.int64)
        if ii is not None and 0 <= ignore_index < C and (target == ii).any():
            ignored = target == ii
            return np.where(ignored, -1, t), ignored
        return t, None
    ignored = (target == ii) if ii is not None else np.zeros(target.shape, bool)
    bad = ~ignored & ((target < 0) | (target >= C))
    if validate and bad.any():
        pos = _first_bad(bad)
        raise label_error(name, int(target[pos]), pos, C, ignore_index)
    if hi > np.iinfo(np.int64).max:  # unvalidated labels beyond int64: out of range, as C is
        target = np.where(target > np.iinfo(np.int64).max, np.uint64(C), target)
    t = target if target.dtype == np.int64 else target.astype(np.int64)
    if not ignored.any():
        return t, None
    return np.where(ignored, -1, t), ignored


def _soft_target(
    target: np.ndarray,
    shape: tuple[int, ...],
    ax: int,
    dtype: np.dtype,
    validate: bool,
    name: str = "target",
) -> np.ndarray:
    if target.shape != shape:
        raise ValueError(
            f"{name}: probability targets must have the shape of logits {shape}; got "
            f"{target.shape} (class labels must have an integer dtype)"
        )
    y = target.astype(dtype, copy=False)
    if validate:
        if np.isnan(y).any():
            pos = _first_bad(np.isnan(y))
            raise target_error(name, "probabilities_not_nan", np.nan, pos)
        if (y < 0).any():
            pos = _first_bad(y < 0)
            raise target_error(name, "probabilities_nonnegative", y[pos], pos)
        sums = np.sum(y, axis=ax, dtype=np.float64)
        # rounding to the coarser of the logits' and the targets' dtype moves a row's sum
        coarse = dtype == np.float32 or target.dtype.itemsize < 8
        tol = _core.soft_target_tolerance(coarse, shape[ax])
        bad = np.abs(sums - 1.0) > tol
        if bad.any():
            pos = _first_bad(bad)
            raise row_sum_error(name, float(sums[pos]), pos)
    return y


def _sample_weight(
    sample_weight: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray | None:
    if sample_weight is None:
        return None
    sw = np.asarray(as_real_array(sample_weight, "sample_weight"), dtype=np.float64)
    try:
        return np.broadcast_to(sw, shape)
    except ValueError:
        raise ValueError(
            f"sample_weight: shape {sw.shape} does not broadcast to the items' shape {shape}"
        ) from None


def _finish(per_item: np.ndarray, reduction: str, denom: float, dtype: np.dtype) -> Any:
    if reduction == "none":
        return per_item.astype(dtype, copy=False)
    # NumPy's pairwise summation in the loss dtype: relative error O(log n)·eps, well inside the
    # mean/sum targets (1e-6 / 1e-13), without a float64 copy of an N×C array
    with np.errstate(over="ignore"):
        total = float(np.add.reduce(per_item, axis=None))
        if np.isinf(total) and per_item.dtype != np.float64 and np.isfinite(per_item).all():
            # the loss dtype's sum overflowed (a huge loss at a tiny temperature): in float64
            total = float(np.add.reduce(per_item, axis=None, dtype=np.float64))
        if reduction == "sum":  # (past the dtype's range: inf)
            return dtype.type(total)
        return dtype.type(total / denom) if denom != 0 else dtype.type(np.nan)


# ----------------------------------------------------------------------------- cross-entropy


_ONES: dict[tuple[np.dtype, int], np.ndarray] = {}


def _ones_row(dt: np.dtype, C: int) -> np.ndarray:
    """A read-only row of C ones (stride 0), cached: the kernels read it as 'no class weights'."""
    key = (dt, C)
    r = _ONES.get(key)
    if r is None:
        if len(_ONES) > 64:
            _ONES.clear()
        r = _ONES[key] = np.broadcast_to(np.ones((), dt), (C,))
    return r


def _cross_entropy(
    logits,
    target,
    axis,
    weight,
    ignore_index,
    label_smoothing,
    reduction,
    sample_weight,
    validate,
    want_grad,
    out,
    temperature=1.0,
):
    # The one-call path (_core.ce_hard_small: the C++ API's cross_entropy on (N, C) logits and (N,)
    # int64 labels, no weights, plain scalar options, temperature 1.0). C++ reads the options and
    # the arrays as passed and returns None where either does not fit: a predicate in Python cost
    # more than the call. Kept while it pays (docs/architecture.md, "Fast paths"): bench/compare.py
    # cases cross_entropy/1x10, cross_entropy+grad/1x10.
    try:
        r = _core.ce_hard_small(
            logits,
            target,
            axis,
            weight,
            ignore_index,
            label_smoothing,
            reduction,
            sample_weight,
            want_grad,
            out,
            temperature,
        )
    except InvalidTargetError:
        if validate:
            raise
        # validate=False: the gufunc path gives an unchecked label its meaning
        r = None
    if r is not None:
        return r
    ignore = as_index(ignore_index, "ignore_index")
    x = logits
    if not (type(x) is np.ndarray and (x.dtype is _F32 or x.dtype is _F64)):
        if _dask.is_dask(logits):  # lazy, block by block (_dask.py)
            fn = cross_entropy_with_grad if want_grad else cross_entropy
            kw = {"out": out} if want_grad else {}
            return _dask.loss(
                fn,
                dict(
                    logits=logits,
                    target=target,
                    axis=axis,
                    weight=weight,
                    ignore_index=ignore_index,
                    label_smoothing=label_smoothing,
                    reduction=reduction,
                    sample_weight=sample_weight,
                    validate=validate,
                    temperature=temperature,
                    **kw,
                ),
            )
        x = _float_logits(logits)
        narrow = _narrow_dtypes(as_real_array(logits, "logits"))
        if narrow is not None:  # float16, bfloat16: computed in float32 (x), rounded after
            args = (x, target, axis, weight, ignore, label_smoothing, reduction, sample_weight)
            return _narrowed(
                _cross_entropy,
                (*args, validate, want_grad, None, temperature),
                {},
                narrow,
                want_grad,
                out,
            )
    dt = x.dtype
    if x.ndim == 0:
        raise ValueError("logits: need at least one dimension (the class axis)")
    ax = x.ndim - 1 if type(axis) is int and axis == -1 else class_axis_index(axis, x.ndim)
    C = x.shape[ax]
    if C == 1:
        raise one_class_error("logits", ax)
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction)
    eps = 0.0 if label_smoothing == 0.0 else _check_smoothing(label_smoothing)
    temp = check_temperature(temperature)
    w, wsum = _class_weight(weight, C, dt)
    tgt = target if type(target) is np.ndarray else np.asarray(as_real_array(target, "target"))
    if is_bfloat16(tgt.dtype):  # bfloat16 probabilities: exact in float32
        tgt = tgt.astype(np.float32)
    item_shape = x.shape[:ax] + x.shape[ax + 1 :]
    sw = _sample_weight(sample_weight, item_shape, dt)
    wrow = _ones_row(dt, C) if w is None else w
    kind = tgt.dtype.kind
    hard = kind in "iu"
    if not hard and kind != "f":
        if kind == "b" and tgt.shape == x.shape:
            explain_target_shape(tgt, x.shape, ax)  # a one-hot or multi-hot bool matrix
        raise TypeError(
            f"target: expected integer class labels or float probabilities, got dtype {tgt.dtype}"
        )
    last = ax == x.ndim - 1
    if hard:
        t, ignored = _hard_target(tgt, item_shape, C, ignore, validate, x.shape, ax)
        if ignored is None and w is None:  # every item counts with weight 1
            denom = float(t.size) if sw is None else float(np.sum(sw))
        else:
            valid = np.ones(item_shape, bool) if ignored is None else ~ignored
            wt = np.zeros(item_shape, np.float64)
            wt[valid] = 1.0 if w is None else w.astype(np.float64)[t[valid]]
            denom = float(np.sum(wt if sw is None else wt * sw))
    else:
        y = _soft_target(tgt, x.shape, ax, dt, validate)
        denom = float(np.sum(sw)) if sw is not None else float(np.prod(item_shape))
    factor = (1.0 / denom if denom != 0 else 0.0) if reduction == "mean" else 1.0
    with np.errstate(under="ignore", over="ignore"):  # tiny sample weights: 0 or subnormal
        g = dt.type(factor) if sw is None else (sw * factor).astype(dt)
    kw: dict[str, Any] = {}
    if want_grad:
        if out is not None:
            check_out(out, x.shape)
            if out.dtype != dt:
                raise TypeError(f"out: dtype {out.dtype} does not match the gradient's dtype {dt}")
            kw["out"] = (None, out)
        if not last:
            kw["axes"] = (
                [(ax,), (), (0,), (), (), (), (), (), (ax,)]
                if hard
                else [(ax,), (ax,), (0,), (), (), (), (), (ax,)]
            )
        if hard:
            per_item, grad = _core.cross_entropy_hard_grad(
                x, t, wrow, dt.type(wsum), dt.type(eps), g, temp, **kw
            )
        else:
            per_item, grad = _core.cross_entropy_soft_grad(x, y, wrow, dt.type(eps), g, temp, **kw)
    else:
        if not last:
            kw["axes"] = (
                [(ax,), (), (0,), (), (), (), (), ()]
                if hard
                else [(ax,), (ax,), (0,), (), (), (), ()]
            )
        if hard:
            per_item = _core.cross_entropy_hard(
                x, t, wrow, dt.type(wsum), dt.type(eps), g, temp, **kw
            )
        else:
            per_item = _core.cross_entropy_soft(x, y, wrow, dt.type(eps), g, temp, **kw)
    per_item = np.asarray(per_item)
    if sw is not None:
        per_item = _weighted(per_item, sw, dt)
    loss = _finish(per_item, reduction, denom, dt)
    return (loss, grad) if want_grad else loss


def cross_entropy(
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
    """Cross-entropy between multi-class logits and targets, like ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Raw scores; the class axis is ``axis`` (``axis=1`` for (N, C, H, W) layouts, no copy).
    target : array_like
        Integer class labels with the shape of ``logits`` without the class axis (hard labels), or
        float probabilities with the shape of ``logits`` (soft labels).
    weight : array_like of shape (C,), optional
        Per-class weights.
    ignore_index : int
        Hard-label items with this label contribute nothing (and do not count in the mean).
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution: ``(1 - ε)·target + ε/C``.
    reduction : {'mean', 'sum', 'none'}
        ``mean`` divides by the summed weights of the items (hard labels: Σ weight[t]·sample_weight;
        soft labels: the number of items, or Σ sample_weight), as torch does.
    sample_weight : array_like, optional
        One weight per item (broadcast to the items' shape). With soft labels it is how items are
        masked out (weight 0), which torch cannot do.
    validate : bool
        Check labels and probability rows (default). False skips those checks for callers that
        already know; shapes are always checked. Validation reads the targets, never the logits.
    temperature : float > 0
        The loss of ``logits / temperature`` (temperature scaling: a fitted T gives the calibrated
        NLL), computed inside the kernel (no temporary array). Gradients are with respect to the
        raw ``logits``: d loss/d logits = (d loss/d z)/T with z = logits/T.

    Returns the loss (a scalar of the logits' floating dtype, or per item for ``none``; float16
    and bfloat16 logits are computed in float32, float16 losses returned as float16, bfloat16 ones
    as float32; gradients always have the logits' dtype). A zero
    target probability contributes 0 even where the logit is -inf (0·log 0 = 0). When every item is
    ignored the mean is NaN, without a warning (torch's value).
    """
    if dim is not None:
        no_dim(dim)
    return _cross_entropy(
        logits,
        target,
        axis,
        weight,
        ignore_index,
        label_smoothing,
        reduction,
        sample_weight,
        validate,
        False,
        None,
        temperature,
    )


def cross_entropy_with_grad(
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
    """``(loss, d loss / d logits)`` of :func:`cross_entropy` for the chosen reduction, from one
    fused pass per row. ``out`` receives the gradient (it may be ``logits`` itself, for in-place
    backward); its dtype must match the logits' floating dtype (float16 for float16 logits,
    bfloat16 for bfloat16 logits: gradients have the logits' dtype, losses float32 for bfloat16).
    With ``temperature`` T the loss is that of ``logits / T`` and the gradient is with respect to
    the raw ``logits``: (d loss/d z)/T."""
    if dim is not None:
        no_dim(dim)
    return _cross_entropy(
        logits,
        target,
        axis,
        weight,
        ignore_index,
        label_smoothing,
        reduction,
        sample_weight,
        validate,
        True,
        out,
        temperature,
    )


def nll_loss(
    log_probs: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    sample_weight: Any = None,
    validate: bool = True,
    dim: None = None,
) -> LossValue:
    """Negative log-likelihood of hard labels given log-probabilities (e.g. from
    :func:`logitkit.log_softmax`), like ``torch.nn.functional.nll_loss`` with the options of
    :func:`cross_entropy` (label smoothing uses ``-Σ_c weight_c·log_probs_c``).

    With ``validate`` (default), every row that counts (not ``ignore_index``) must be
    log-probabilities: its logsumexp within 0.05 of 0 (probabilities summing to 1 within about 5%).
    Probabilities or raw logits raise ValueError naming the row (use :func:`cross_entropy` for
    logits); a NaN row propagates as in the other losses."""
    if dim is not None:
        no_dim(dim)
    if type(log_probs) is not np.ndarray and _dask.is_dask(log_probs):
        return _dask.loss(nll_loss, locals())
    lp = _float_logits(log_probs, "log_probs")
    narrow = _narrow_dtypes(as_real_array(log_probs, "log_probs"))
    if narrow is not None:  # float16, bfloat16: computed in float32 (lp), rounded after
        kw = {
            "axis": axis,
            "weight": weight,
            "ignore_index": ignore_index,
            "label_smoothing": label_smoothing,
            "reduction": reduction,
            "sample_weight": sample_weight,
            "validate": validate,
        }
        return _narrowed(nll_loss, (lp, target), kw, narrow, False, None)
    dt = lp.dtype
    if lp.ndim == 0:
        raise ValueError("log_probs: need at least one dimension (the class axis)")
    ax = class_axis_index(axis, lp.ndim)
    ignore = as_index(ignore_index, "ignore_index")
    C = lp.shape[ax]
    if C == 1:
        raise one_class_error("log_probs", ax)
    reduction = _check_reduction(reduction)
    eps = _check_smoothing(label_smoothing)
    w, _ = _class_weight(weight, C, dt)
    tgt = np.asarray(as_real_array(target, "target"))
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"target: nll_loss takes integer class labels, got dtype {tgt.dtype}")
    item_shape = lp.shape[:ax] + lp.shape[ax + 1 :]
    sw = _sample_weight(sample_weight, item_shape, dt)
    t, ignored = _hard_target(tgt, item_shape, C, ignore, validate, lp.shape, ax)
    if ignored is None:
        ignored = np.zeros(item_shape, bool)
    if validate:
        _check_log_probs(lp, ax, ignored)
    with np.errstate(all="ignore"):
        return _nll(lp, dt, ax, C, reduction, eps, w, sw, t, ignored)


# |logsumexp| of a row of log-probabilities (probabilities that sum to 1 within about 5%): rounding
# each entry to float16 moves it by at most entropy·2^-11 <= log(C)·2^-11 (5e-3 at C = 32768), and
# hand-made or truncated rows are a few percent off; probability rows have logsumexp >=
# 1/C + log C (>= 0.69 for C >= 2), raw logits anything.
_LOG_PROBS_TOL = 0.05


def _check_log_probs(lp: np.ndarray, ax: int, ignored: np.ndarray) -> None:
    """Each counted row of log_probs must be log-probabilities: logsumexp within the tolerance of 0.
    NaN rows pass (they propagate as in every loss); ignored rows are not read."""
    if lp.size == 0:
        return
    with np.errstate(all="ignore"):
        lse = np.asarray(_core.logsumexp(lp, axis=ax), np.float64)
        bad = (np.abs(lse) > _LOG_PROBS_TOL) & ~ignored
    if bad.any():
        pos = _first_bad(bad)
        raise ValueError(
            f"log_probs: nll_loss takes log-probabilities (each row's logsumexp is 0), but row "
            f"{pos} has logsumexp {float(lse[pos]):.6g}: for raw logits use cross_entropy (or "
            "log_softmax first); for probabilities use np.log(p) (validate=False skips this check)"
        )


def _weighted(per_item: np.ndarray, sw: np.ndarray, dt: Any = None) -> np.ndarray:
    """per_item·sw (sw cast to dt first, where given), where a zero sample weight removes the item:
    0 even where its loss is infinite (0·inf would be NaN); a NaN loss stays NaN."""
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        if dt is not None:
            sw = sw.astype(dt)  # tiny weights round to 0 or subnormals in float32
        r = per_item * sw
    if np.isnan(r).any():
        r = np.where((sw == 0) & np.isinf(per_item), r.dtype.type(0), r)
    return r


def _nll(lp, dt, ax, C, reduction, eps, w, sw, t, ignored):
    lpm = np.moveaxis(lp, ax, -1).astype(np.float64)
    idx = np.where(ignored, 0, t)[..., None]
    picked = np.take_along_axis(lpm, idx, axis=-1)[..., 0]
    wv = np.ones(C) if w is None else w.astype(np.float64)
    wt = np.where(ignored, 0.0, wv[idx[..., 0]])
    per = np.where(ignored, 0.0, -(1.0 - eps) * np.where(ignored, 0.0, wt * picked))
    if eps > 0:
        smooth = -np.sum(np.where(wv > 0, wv * lpm, 0.0), axis=-1)
        per = per + np.where(ignored, 0.0, eps / C * np.where(ignored, 0.0, smooth))
    item_w = wt if sw is None else wt * sw
    if sw is not None:
        per = _weighted(per, sw)
    return _finish(per.astype(dt), reduction, float(np.sum(item_w)), dt)


# ----------------------------------------------------------------------------- binary


def _bce_weight(given: Any, name: str, x: np.ndarray, ax: int | None, dt: np.dtype) -> np.ndarray:
    """A BCE weight or pos_weight as an array of dtype dt that broadcasts to the logits' shape
    (never the logits to a larger shape). A 1-d one lies along the class axis ``ax`` (per class)."""
    a = _weight_array(given, name, dt)
    if ax is not None and a.ndim == 1 and ax != x.ndim - 1:
        if a.shape[0] not in (1, x.shape[ax]):
            raise ValueError(
                f"{name}: shape {a.shape} is not one value per class along the class axis {ax} "
                f"({x.shape[ax]} classes) of the logits' shape {x.shape}"
            )
        a = a.reshape((-1,) + (1,) * (x.ndim - 1 - ax))
    try:
        ok = np.broadcast_shapes(a.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name}: shape {a.shape} does not broadcast to the logits' shape {x.shape}"
        )
    return a


def _bce_affine(temperature: Any, bias: Any, x: np.ndarray, ax: int | None):
    """(T, b, trivial): the temperature and bias as float64 operands that broadcast to the logits
    (a number, or one value per class along ``ax``, as multilabel.proba takes them)."""
    if (type(temperature) is float and temperature == 1.0) and (
        bias is None or (type(bias) is float and bias == 0.0)
    ):
        return 1.0, 0.0, True
    from ._multi import along, per_class

    C = 1 if ax is None else x.shape[ax]
    T = per_class(temperature, C, "temperature", positive=True)
    b = per_class(0.0 if bias is None else bias, C, "bias", positive=False)
    # T = 1 and b = 0 everywhere (numbers or per-class arrays) take the plain kernel paths
    if bool(np.all(np.asarray(T) == 1.0)) and bool(np.all(np.asarray(b) == 0.0)):
        return 1.0, 0.0, True
    trivial = False
    if ax is None:  # 0-d logits: one value
        T, b = float(np.asarray(T).reshape(-1)[0]), float(np.asarray(b).reshape(-1)[0])
    else:
        T, b = along(T, ax, x.ndim), along(b, ax, x.ndim)
    return T, b, trivial


def _bce(
    logits,
    target,
    weight,
    pos_weight,
    label_smoothing,
    reduction,
    validate,
    want_grad,
    out,
    axis,
    temperature=1.0,
    bias=None,
):
    x = logits
    if not (type(x) is np.ndarray and (x.dtype is _F32 or x.dtype is _F64)):
        if _dask.is_dask(logits):  # lazy, block by block (_dask.py)
            fn = binary_cross_entropy_with_logits_with_grad
            kw = {"out": out} if want_grad else {}
            return _dask.loss(
                fn if want_grad else binary_cross_entropy_with_logits,
                dict(
                    logits=logits,
                    target=target,
                    axis=axis,
                    weight=weight,
                    pos_weight=pos_weight,
                    label_smoothing=label_smoothing,
                    reduction=reduction,
                    validate=validate,
                    temperature=temperature,
                    bias=bias,
                    **kw,
                ),
            )
        x = _float_logits(logits)
        narrow = _narrow_dtypes(as_real_array(logits, "logits"))
        if narrow is not None:  # float16, bfloat16: computed in float32 (x), rounded after
            args = (x, target, weight, pos_weight, label_smoothing, reduction, validate, want_grad)
            return _narrowed(
                _bce, (*args, None, axis, temperature, bias), {}, narrow, want_grad, out
            )
    dt = x.dtype
    if type(axis) is int and axis == -1:
        ax = x.ndim - 1 if x.ndim else None
    else:
        ax = class_axis_index(axis, max(x.ndim, 1))
        if x.ndim == 0:
            ax = None
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction)
    eps = 0.0 if label_smoothing == 0.0 else _check_smoothing(label_smoothing)
    y = target if type(target) is np.ndarray else np.asarray(as_real_array(target, "target"))
    if y.shape != x.shape:  # the diagnosis of logitkit.multilabel (one column, class indices)
        multilabel_target(y, x.shape, 0 if ax is None else ax)
    if y.dtype.kind not in "fiub":
        as_real_array(y, "target")  # raises the dtype error
    if y.dtype != dt:
        y = y.astype(dt)
    one = dt.type(1)
    pw, w = one, one
    if type(temperature) is float and temperature == 1.0 and bias is None:  # the defaults
        temp, bias_, trivial = 1.0, 0.0, True
    else:
        temp, bias_, trivial = _bce_affine(temperature, bias, x, ax)
    # the one-pass sum takes T = 1, b = 0 only (the kernel's plain path); other temperatures and
    # biases take the elementwise ufunc, which forms x/T + b inside its kernel
    fast = reduction != "none" and x.ndim > 0 and trivial
    fast_pw = fast_w = None
    for name, given in (("pos_weight", pos_weight), ("weight", weight)):
        if given is None:
            continue
        a = _bce_weight(given, name, x, ax, dt)
        if name == "pos_weight":
            if validate and (a < 0).any():
                g = np.asarray(given, np.float64)  # the position in the array the user passed
                pos = _first_bad(g < 0) if g.ndim else ()
                raise ValueError(describe("weight_nonnegative", name, g[pos], pos))
            pw = a
        else:
            w = a
        if fast:
            # the one-pass path takes one weight, a weight per class (a row of the last axis) or
            # per element; other shapes are refused there and take the general path
            if a.size == 1 and a.shape != x.shape:
                a = a.reshape(())
            elif a.shape != x.shape and a.ndim and a.shape[-1] == a.size == x.shape[-1]:
                a = a.reshape(-1)
            if name == "pos_weight":
                fast_pw = a
            else:
                fast_w = a
    n = x.size
    e = dt.type(eps)
    if fast:
        if want_grad and out is not None:
            check_out(out, x.shape)
        # The one-pass sum (_core.bce_reduced, the C++ API's blocked sum) is the reference for mean
        # and sum: it takes the operands as they are where C++ finds them plain and a weight one
        # value, one per class or per element (bce_direct_layout in register_losses.cpp), else
        # returns None; then plain copies take it, so that a layout or an out= never changes the
        # sum's bits (the gradient is copied to out). Kept while it pays (docs/architecture.md,
        # "Fast paths"): bench/compare.py cases bce_with_logits/1x10, bce_with_logits/4096x1000.
        mean = reduction == "mean"
        try:
            r = _core.bce_reduced(x, y, fast_pw, fast_w, float(eps), mean, want_grad, out)
            if r is None and x.size:
                # (plain: C-contiguous, aligned, native byte order; ascontiguousarray alone keeps an
                # unaligned or byte-swapped array as it is)
                ops = [None if a is None else _plain_copy(a) for a in (x, y, fast_pw, fast_w)]
                r = _core.bce_reduced(*ops, float(eps), mean, want_grad, None)
                if r is not None and want_grad and out is not None:
                    np.copyto(out, r[1])
                    r = (r[0], out)
        except InvalidTargetError:
            if validate:
                raise
            # validate=False: the general path computes what an unchecked target gives
            r = None
        if r is not None:
            return r
    # the general path: any layout, reduction "none", and the target errors
    if validate and y.size and not (y.min() >= 0 and y.max() <= 1):  # two reads, no temporaries
        pos = _first_bad(~((y >= 0) & (y <= 1)))
        raise target_error("target", "probabilities_in_unit", y[pos], pos)
    if not want_grad:
        per = _core.bce_with_logits(x, y, pw, w, e, dt.type(1), temp, bias_)
        return _finish(np.asarray(per), reduction, float(n), dt)
    factor = (1.0 / n if n else 0.0) if reduction == "mean" else 1.0
    if out is not None:
        check_out(out, x.shape)
    kw = {} if out is None else {"out": (None, out)}
    per, grad = _core.bce_with_logits_grad(x, y, pw, w, e, dt.type(factor), temp, bias_, **kw)
    return _finish(np.asarray(per), reduction, float(n), dt), grad


def _plain_copy(a: np.ndarray) -> np.ndarray:
    """a as a C-contiguous, aligned array of native byte order (a copy where it is not one)."""
    return np.require(a.astype(a.dtype.newbyteorder("="), copy=False), requirements=["C", "A"])


def binary_cross_entropy_with_logits(
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
    bias: Any = None,
    dim: None = None,
) -> LossValue:
    """Binary cross-entropy between multi-label logits and targets in [0, 1] (soft targets allowed),
    like ``torch.nn.functional.binary_cross_entropy_with_logits``.

    ``weight`` and ``pos_weight`` broadcast to the logits' shape (never the logits to a larger
    shape: that is a ValueError); a 1-d one lies along the class axis ``axis`` (default last, where
    torch's ``pos_weight`` lies: one value per class);
    ``mean`` divides by the number of elements (weights do not enter it, torch's rule); label
    smoothing uses ``y·(1 - ε) + ε/2``. Infinite logits give the finite limit where there is one:
    ``x = +inf, y = 1`` and ``x = -inf, y = 0`` give 0 (torch gives NaN), ``x = +inf, y = 0`` gives inf.

    ``temperature`` (> 0) and ``bias``: numbers or one value per class along ``axis`` (as
    :func:`logitkit.multilabel.proba` takes them): the loss of z = logits/temperature + bias, formed
    inside the kernel (no temporary array). The gradient is with respect to the raw ``logits``:
    (d loss/d z)/temperature.
    """
    if dim is not None:
        no_dim(dim)
    return _bce(
        logits,
        target,
        weight,
        pos_weight,
        label_smoothing,
        reduction,
        validate,
        False,
        None,
        axis,
        temperature,
        bias,
    )


def binary_cross_entropy_with_logits_with_grad(
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
    bias: Any = None,
    dim: None = None,
) -> tuple[LossValue, np.ndarray]:
    """``(loss, d loss / d logits)`` of :func:`binary_cross_entropy_with_logits`, from one pass
    (one ``exp(-|x|)`` per element serves the loss and the gradient). The gradient stays finite at
    infinite logits. With ``temperature``/``bias`` it is with respect to the raw logits:
    (d loss/d z)/temperature, z = logits/temperature + bias."""
    if dim is not None:
        no_dim(dim)
    return _bce(
        logits,
        target,
        weight,
        pos_weight,
        label_smoothing,
        reduction,
        validate,
        True,
        out,
        axis,
        temperature,
        bias,
    )


# ----------------------------------------------------------------------------- focal loss


def _focal(
    logits,
    target,
    alpha,
    gamma,
    reduction,
    validate,
    want_grad,
    temperature=1.0,
    bias=None,
    axis=-1,
):
    x = _float_logits(logits)
    narrow = _narrow_dtypes(as_real_array(logits, "logits"))
    if narrow is not None:  # float16, bfloat16: computed in float32 (x), rounded after
        args = (x, target, alpha, gamma, reduction, validate, want_grad, temperature, bias, axis)
        return _narrowed(_focal, args, {}, narrow, want_grad, None)
    dt = x.dtype
    ax = None if x.ndim == 0 else class_axis_index(axis, x.ndim)
    temp, bias_, trivial = _bce_affine(temperature, bias, x, ax)
    reduction = _check_reduction(reduction)
    y = np.asarray(as_real_array(target, "target"))
    if y.shape != x.shape:  # the diagnosis of logitkit.multilabel (one column, class indices)
        multilabel_target(y, x.shape, x.ndim - 1 if x.ndim else 0)
    y = y.astype(dt, copy=False)
    if validate:
        bad = ~((y >= 0) & (y <= 1))
        if bad.any():
            pos = _first_bad(bad)
            raise target_error("target", "probabilities_in_unit", y[pos], pos)
    gamma = float(gamma)
    if not gamma >= 0:
        raise ValueError(f"gamma: must be >= 0, got {gamma!r}")
    alpha = scalar_of(alpha)
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha: expected a real number, got {type(alpha).__name__} {alpha!r}")
    alpha = float(alpha)
    if not alpha <= 1:  # NaN too: it would turn the weighting off unseen
        raise ValueError(
            f"alpha: must be in [0, 1] (the positives' weight; negative turns the weighting off), "
            f"got {alpha!r}"
        )
    # Computed in a wider type (float64 for float32 input, long double for float64) and in log space:
    # q^γ = exp(γ·log q) multiplies the error of log q by γ·|log q|, which the extra bits absorb.
    wt = np.float64 if dt != np.float64 else np.longdouble
    xw, yw = x.astype(wt), y.astype(wt)
    with np.errstate(all="ignore"):
        if not trivial:  # z = x/T + b in the wide type; the gradient is divided by T below
            xw = xw / np.asarray(temp, wt) + np.asarray(bias_, wt)
        ax = np.abs(xw)
        e = np.exp(-ax)
        l1 = np.log1p(e)
        ls_pos = np.minimum(xw, 0) - l1  # log σ(x)
        ls_neg = np.minimum(-xw, 0) - l1  # log σ(-x)
        # BCE as a sum of non-negative terms (see kernels/losses.hpp)
        c1 = np.where(xw >= 0, 1 - yw, yw)
        ce = np.where(c1 > 0, c1 * ax, 0) + l1
        # log(1 - p_t) = log(p·(1 - y) + (1 - p)·y)
        log_q = np.logaddexp(ls_pos + np.log1p(-yw), ls_neg + np.log(yw))
        mod = np.exp(gamma * log_q) if gamma != 0 else np.ones_like(xw)
        loss = ce * mod
        a_t = alpha * yw + (1 - alpha) * (1 - yw)
        if alpha >= 0:
            loss = a_t * loss
        loss = np.asarray(loss).astype(dt)
    result = _finish(loss, reduction, float(x.size), dt)
    if not want_grad:
        return result
    with np.errstate(all="ignore"):
        # d/dx [ce·q^γ] = (σ(x) - y)·q^γ + γ·ce·q^γ·σ(x)σ(-x)(1 - 2y)/q, the last factor in log space.
        sig_pos, sig_neg = np.exp(ls_pos), np.exp(ls_neg)
        dce = (1 - yw) * sig_pos - yw * sig_neg
        r = np.exp(gamma * log_q + ls_pos + ls_neg - log_q) if gamma != 0 else np.zeros_like(xw)
        r = np.where(np.isfinite(r), r, 0)
        term = gamma * ce * r
        # a finite x whose z = x/T is past the wide type's range (a tiny T): ce = inf, r = 0, and
        # the term's limit is 0 (ce·r ~ |z|·e^-|z|), not 0·inf (an infinite x keeps its NaN)
        term = np.where(np.isinf(xw) & np.isfinite(x), 0, term)
        grad = dce * mod + term * (1 - 2 * yw)
        if alpha >= 0:
            grad = a_t * grad
        if not trivial:
            grad = grad / np.asarray(temp, wt)  # d/dx = (d/dz)/T
        if reduction == "mean" and x.size:
            grad = grad / x.size
        grad = np.asarray(grad).astype(dt)
    return result, grad


def sigmoid_focal_loss(
    logits: Any,
    target: Any,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    validate: bool = True,
    temperature: Any = 1.0,
    bias: Any = None,
    axis: int = -1,
    dim: None = None,
) -> LossValue:
    """Focal loss of multi-label logits (torchvision's ``sigmoid_focal_loss`` definition):
    ``α_t · BCE(x, y) · (1 - p_t)^γ`` with ``p_t = p·y + (1 - p)·(1 - y)``,
    ``α_t = α·y + (1 - α)·(1 - y)`` (``alpha`` in [0, 1]; ``alpha < 0`` disables it). ``(1 - p_t)^γ`` is computed in log
    space from ``log_sigmoid``, so confident elements keep their tiny losses exactly.
    ``temperature`` and ``bias`` (numbers or one per class along ``axis``): the loss of
    x/temperature + bias, formed in the wide work type; gradients with respect to the raw x."""
    if dim is not None:
        no_dim(dim)
    if type(logits) is not np.ndarray and _dask.is_dask(logits):
        return _dask.loss(sigmoid_focal_loss, locals())
    return _focal(logits, target, alpha, gamma, reduction, validate, False, temperature, bias, axis)


def sigmoid_focal_loss_with_grad(
    logits: Any,
    target: Any,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    validate: bool = True,
    temperature: Any = 1.0,
    bias: Any = None,
    axis: int = -1,
    dim: None = None,
) -> tuple[LossValue, np.ndarray]:
    """``(loss, d loss / d logits)`` of :func:`sigmoid_focal_loss` (with ``temperature``/``bias``:
    with respect to the raw logits)."""
    if dim is not None:
        no_dim(dim)
    if type(logits) is not np.ndarray and _dask.is_dask(logits):
        return _dask.loss(sigmoid_focal_loss_with_grad, locals())
    return _focal(logits, target, alpha, gamma, reduction, validate, True, temperature, bias, axis)


# ----------------------------------------------------------------------------- grad_hess


def grad_hess(
    logits: Any,
    target: Any,
    *,
    family: str,
    axis: int = -1,
    weight: Any = None,
    pos_weight: Any = None,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    validate: bool = True,
    hess_scale: float | str = 1.0,
    temperature: Any = 1.0,
    bias: Any = None,
    dim: None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-element gradient and diagonal Hessian of the per-item loss, for gradient-boosting
    custom objectives.

    ``temperature`` T (and, for ``family="binary"``, ``bias`` b; per class allowed there, as in
    :func:`binary_cross_entropy_with_logits`): the loss of z = logits/T (+ b); both derivatives are
    with respect to the raw logits: grad = (dL/dz)/T, hess = (d²L/dz²)/T².

    ``family="multiclass"``: cross-entropy; ``grad = p - y``, ``hess = p·(1 - p)`` (y one-hot or
    soft), times the class weight of the label, the sample weight, and the smoothing mix.
    ``family="binary"``: BCE-with-logits; ``grad = c·σ - pos_weight·y``, ``hess = c·σ·(1 - σ)`` with
    ``c = 1 + (pos_weight - 1)·y``, times ``weight``.

    ``axis`` is the class axis: the softmax axis (multiclass), and where a 1-d ``weight`` or
    ``pos_weight`` lies (binary, one value per class, as in
    :func:`binary_cross_entropy_with_logits`).

    Both arrays have the shape of ``logits``. Hand them to XGBoost (``obj=lambda predt, dtrain:
    lk.grad_hess(predt, dtrain.get_label().astype(int), family="multiclass")`` with
    ``predt`` of shape (n_samples, n_classes), raw margins) or LightGBM (a custom ``objective``
    returning ``grad, hess`` of shape (n_samples, n_classes) for multiclass, (n_samples,) for binary:
    ``lk.grad_hess(preds, train_data.get_label(), family="binary")``).

    The Hessian is the exact diagonal of the per-item loss's second derivative, ``p·(1 - p)``
    (``σ·(1 - σ)`` for binary), never floored. The gradient-boosting libraries' built-in objectives
    use other diagonals for multiclass, and ``hess_scale`` reproduces them:

    * ``hess_scale="xgboost"``: XGBoost's ``multi:softprob`` / ``multi:softmax``, Hessian
      ``max(2·p·(1 - p)·w, 1e-16)``; for ``family="binary"``, ``binary:logistic``,
      ``w·max(σ·(1 - σ), 1e-16)`` (``pos_weight`` plays ``scale_pos_weight``'s part).
    * ``hess_scale="lightgbm"``: LightGBM's ``multiclass``, Hessian ``C/(C - 1)·p·(1 - p)·w``;
      for ``family="binary"``, ``binary`` (``sigmoid=1``), ``σ·(1 - σ)·w`` (the default).
    * a positive number ``s``: the Hessian times ``s`` (no floor).

    The gradient never changes (all three use ``p - y``). The factor 2 is XGBoost's upper bound on
    the softmax Hessian's spectral radius, C/(C - 1) LightGBM's; either makes a boosting step more
    cautious than the exact diagonal does.
    """
    if dim is not None:
        no_dim(dim)
    if type(logits) is not np.ndarray and _dask.is_dask(logits):
        return _dask.loss(grad_hess, locals())
    narrow = _narrow_dtypes(as_real_array(logits, "logits"))
    if narrow is not None:  # float16, bfloat16: computed in float32, both in the gradient's dtype
        g, h = grad_hess(
            _float_logits(logits),
            target,
            family=family,
            axis=axis,
            weight=weight,
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            sample_weight=sample_weight,
            validate=validate,
            hess_scale=hess_scale,
            temperature=temperature,
            bias=bias,
        )
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return g.astype(narrow[1]), h.astype(narrow[1])
    scale, floor = _hess_rule(hess_scale, family)
    if family == "binary":
        x = _float_logits(logits)
        dt = x.dtype
        _, grad = binary_cross_entropy_with_logits_with_grad(
            x,
            target,
            axis=axis,
            weight=weight,
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            reduction="none",
            validate=validate,
            temperature=temperature,
            bias=bias,
        )
        eps = float(label_smoothing)
        ax = x.ndim - 1 if x.ndim else None
        if x.ndim and not (type(axis) is int and axis == -1):
            ax = class_axis_index(axis, x.ndim)
        temp, bias_, trivial = _bce_affine(temperature, bias, x, ax)
        f64 = np.dtype(np.float64)
        with np.errstate(all="ignore"):
            y = np.asarray(target, np.float64)
            yp = y * (1 - eps) + eps / 2
            ym = (1 - eps) * (1 - y) + eps / 2
            pw = 1.0 if pos_weight is None else _bce_weight(pos_weight, "pos_weight", x, ax, f64)
            w = 1.0 if weight is None else _bce_weight(weight, "weight", x, ax, f64)
            if trivial:
                # c·σ(x)·σ(-x), both factors computed directly (no 1 - σ)
                s2 = _core.sigmoid(x) * _core.sigmoid(-x)
            else:
                # of z = x/T + b in a wider type (long double for float64: the tail's σ(z)σ(-z)
                # keeps its relative accuracy), e/(1 + e)² = σ(z)σ(-z), then /T²
                wide = np.longdouble if dt == np.float64 else np.float64
                tw = np.asarray(temp, wide)
                z = x.astype(wide) / tw + np.asarray(bias_, wide)
                ez = np.exp(-np.abs(z))
                # divided by T twice: T² may underflow where σσ/T² does not (then 0/0 or x/0)
                s2 = ez / ((1 + ez) * (1 + ez)) / tw / tw
            if floor:  # XGBoost floors σ·(1 - σ) before the weights
                s2 = np.maximum(s2, s2.dtype.type(floor))
            cw = scale * w * (ym + pw * yp)
            # a zero weight gives 0 where σσ/T² overflowed to inf (not 0·inf)
            hess = np.where(cw == 0, 0.0, cw * s2) if not trivial else cw * s2
            hess = np.asarray(hess).astype(dt)
        return grad, np.broadcast_to(hess, x.shape).copy() if hess.shape != x.shape else hess
    if family != "multiclass":
        raise ValueError(f"family: expected 'multiclass' or 'binary', got {family!r}")
    if bias is not None:
        raise TypeError(
            "bias: only family='binary' takes a bias (multiclass logits are shift-invariant)"
        )
    x = _float_logits(logits)
    dt = x.dtype
    temp = check_temperature(temperature)
    _, grad = cross_entropy_with_grad(
        x,
        target,
        axis=axis,
        weight=weight,
        label_smoothing=label_smoothing,
        reduction="none",
        sample_weight=sample_weight,
        validate=validate,
        temperature=temp,
    )
    ax = class_axis_index(axis, x.ndim)
    C = x.shape[ax]
    if isinstance(hess_scale, str) and hess_scale == "lightgbm" and C > 1:
        scale = C / (C - 1)
    if x.size == 0:
        return grad, np.zeros(x.shape, dt)
    tgt = np.asarray(target)
    eps = float(label_smoothing)
    wv = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    with np.errstate(all="ignore"):
        # p and 1 - p in a wider type (float64 for float32, long double for float64); 1 - p of the
        # top entry as the sum of the others, so a confident row keeps its tiny Hessian exact.
        wide = np.float64 if dt != np.float64 else np.longdouble
        xw = np.moveaxis(x, ax, -1).astype(wide)
        top = np.argmax(xw, axis=-1)[..., None]
        d = xw - np.take_along_axis(xw, top, axis=-1)
        if temp != 1.0:  # (x - max)/T: x/T alone may overflow (T tiny), and inf - inf is NaN
            d = d / wide(temp)
        e = np.exp(d)
        S = np.sum(e, axis=-1, keepdims=True)
        is_top = np.arange(C) == top
        others = np.sum(np.where(is_top, 0, e), axis=-1, keepdims=True)
        p = e / S
        one_minus = np.where(is_top, others, S - e) / S
        p = np.moveaxis(p, -1, ax)
        one_minus = np.moveaxis(one_minus, -1, ax)
        if tgt.dtype.kind in "iu":
            valid = (tgt >= 0) & (tgt < C)  # in the labels' own dtype: no unsigned wrap
            t = np.where(valid, tgt, 0).astype(np.int64)
            wt = np.where(valid, wv[t], 0.0)
            coef = np.where(valid, (1 - eps) * wt + eps / C * float(np.sum(wv)), 0.0)
        else:
            y = np.moveaxis(tgt.astype(np.float64), ax, -1)
            coef = np.sum(wv * ((1 - eps) * y + eps / C), axis=-1)
        if sample_weight is not None:
            coef = coef * np.broadcast_to(np.asarray(sample_weight, np.float64), coef.shape)
        hess = (scale * np.expand_dims(coef, ax)) * p * one_minus
        if temp != 1.0:  # d²/dx² = (d²/dz²)/T², divided twice: T² may underflow where this does not
            hess = hess / wide(temp) / wide(temp)
        hess = hess.astype(dt)
        if floor:  # XGBoost floors the weighted Hessian
            hess = np.maximum(hess, dt.type(floor))
    return grad, hess


# XGBoost's floor on the Hessian (its kRtEps, a float constant)
_XGBOOST_HESS_FLOOR = 1e-16


def _hess_rule(hess_scale: Any, family: Any) -> tuple[float, float]:
    """(scale, floor) of grad_hess's Hessian for ``hess_scale`` (see grad_hess)."""
    if isinstance(hess_scale, str):
        if hess_scale not in ("xgboost", "lightgbm"):
            raise ValueError(
                "hess_scale: expected a positive number, 'xgboost' or 'lightgbm'; got "
                f"{hess_scale!r}"
            )
        if hess_scale == "xgboost":
            return (2.0 if family == "multiclass" else 1.0), _XGBOOST_HESS_FLOOR
        return 1.0, 0.0  # LightGBM's multiclass factor C/(C - 1) is set where C is known
    hess_scale = scalar_of(hess_scale)
    if isinstance(hess_scale, (bool, np.bool_)) or not isinstance(hess_scale, numbers.Real):
        raise TypeError(
            "hess_scale: expected a positive number, 'xgboost' or 'lightgbm'; got "
            f"{type(hess_scale).__name__} {hess_scale!r}"
        )
    v = float(hess_scale)
    if not (v > 0.0 and np.isfinite(v)):
        raise ValueError(f"hess_scale: must be a positive finite number, got {hess_scale!r}")
    return v, 0.0
