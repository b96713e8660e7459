"""Entropy and KL divergence straight from logits: :func:`logitkit.entropy`,
:func:`logitkit.kl_divergence` and their ``*_with_grad`` forms.

Each row is one C++ kernel call (``_core.entropy`` / ``_core.kl_divergence`` and their ``_grad``
ufuncs; kernels/divergence.hpp): no probability or log-probability array is formed, and the
results are exact where the usual compositions cancel (docs/numerics.md, "Entropy and
divergences"). This module reads the options, moves nothing (the class axis is passed to the
gufunc as a strided view), and applies the reduction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _functional, losses
from ._validation import (
    LossValue,
    as_index,
    as_real_array,
    check_temperature,
    class_axis_index,
    describe,
    no_dim,
    one_class_error,
    scalar_of,
)

__all__ = [
    "binary_entropy",
    "binary_entropy_with_grad",
    "binary_kl_divergence",
    "binary_kl_divergence_with_grad",
    "distillation_loss",
    "distillation_loss_with_grad",
    "entropy",
    "entropy_with_grad",
    "js_divergence",
    "js_divergence_with_grad",
    "kl_divergence",
    "kl_divergence_with_grad",
]


def _float_rows(logits: Any, name: str) -> tuple[np.ndarray, tuple[np.dtype, np.dtype]]:
    """The logits as the losses compute them (float16, bfloat16 as float32; integers, bool as
    float64) and the (value, gradient) dtypes the losses return for them."""
    x0 = np.asarray(as_real_array(logits, name))
    x = losses._float_logits(x0, name)
    return x, losses._narrow_dtypes(x0) or (x.dtype, x.dtype)


def _class_axis(x: np.ndarray, axis: Any, name: str) -> int:
    if x.ndim == 0:
        raise ValueError(f"{name}: expected at least one dimension (the classes), got a scalar")
    ax = class_axis_index(axis, x.ndim)
    if x.shape[ax] == 0:
        raise ValueError(f"{name}: the class axis (axis {ax}) has length 0")
    if x.shape[ax] == 1:  # softmax is 1 whatever the logit: a binary model's single logit
        raise one_class_error(name, ax)
    return ax


def _check_reduction(reduction: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction: expected one of {names}, got {reduction!r}")
    return reduction


def _reduce(per_row: np.ndarray, reduction: str, denom: float, dt: np.dtype) -> Any:
    if reduction == "none":
        with np.errstate(under="ignore", over="ignore"):  # float16 results of tiny values
            return per_row.astype(dt, copy=False)
    # in C order of the rows, whatever the layout of the logits: the same bits for every layout
    total = float(np.add.reduce(np.ascontiguousarray(per_row), axis=None, dtype=np.float64))
    if reduction == "sum":
        value = total
    else:  # the mean of no rows is NaN, as NumPy's and torch's are
        value = total / denom if denom else float("nan")
    # (a tiny divergence is subnormal or 0 in float32: valid, no floating-point error)
    with np.errstate(over="ignore", under="ignore"):
        return np.asarray(value).astype(dt)[()]


def _finish_grad(grad: np.ndarray, dt: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        return grad if grad.dtype == dt else grad.astype(dt)


# ------------------------------------------------------------------------------------- entropy


_ENTROPY_REDUCTIONS = ("none", "mean", "sum")


def _entropy(logits, axis, temperature, where, reduction, want_grad):
    # The one-call path (_core.entropy_small: float32/float64 (C,) or (N, C) logits as they are,
    # the default axis, temperature and where): C++ reads the options and the array as passed and
    # returns None where they do not fit, else the rows' entropies (and the gradient) with the bits
    # and types the path below has before its reduction. Kept while it pays
    # (docs/architecture.md, "Fast paths"): bench/compare.py cases entropy/1x10, entropy+grad/1x10.
    r = _core.entropy_small(logits, axis, temperature, where, reduction, want_grad)
    if r is not None:
        return _small_finish(r, want_grad, reduction)
    x, (vdt, gdt) = _float_rows(logits, "logits")
    ax = _class_axis(x, axis, "logits")
    t = check_temperature(temperature)
    red = _check_reduction(reduction, _ENTROPY_REDUCTIONS)
    if where is not None:
        mask = _functional._where_mask(where, x.shape)
        x = np.where(mask, x, x.dtype.type(-np.inf))
    rows = x.size // x.shape[ax]
    g = 1.0 / rows if red == "mean" and rows else 1.0
    axes = [(ax,), (), (), ()]
    if not want_grad:
        h = _core.entropy(x, x.dtype.type(g), t, axes=axes)
        return _reduce(np.asarray(h), red, rows, vdt)
    h, grad = _core.entropy_grad(x, x.dtype.type(g), t, axes=[*axes, (ax,)])
    return _reduce(np.asarray(h), red, rows, vdt), _finish_grad(grad, gdt)


def entropy(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    reduction: str = "none",
    dim: None = None,
) -> np.ndarray | LossValue:
    """The entropy of ``softmax(logits / temperature)`` along ``axis``, in nats.

    H = -Σ p log p, computed as L + Σ p·(-d) with d = (x - max)/T and L = log Σ exp(d): two
    non-negative terms, so H >= 0 always and a confident row's tiny entropy (1e-30, say) is as
    accurate as a flat row's log n. No probability array is formed.

    Parameters
    ----------
    logits : array_like
        Raw scores; the classes lie along ``axis``.
    axis : int
        The class axis.
    temperature : float > 0
        The entropy of softmax(logits / temperature).
    where : array_like of bool, optional
        Only the True entries are classes of the row (the others have probability 0).
    reduction : {'none', 'mean', 'sum'}
        'none' (default): one entropy per row; 'mean' and 'sum' over the rows.

    Returns
    -------
    ndarray (the logits' shape without ``axis``) or a NumPy scalar
        float32 for float32 logits, float64 for float64 (and integers); float16 logits give
        float16, bfloat16 logits float32. A row holding NaN or +inf, or no finite entry, gives NaN.

    Notes
    -----
    0 for a one-hot limit (one finite entry), log(n) for n equal logits; within 8 ulps (float32)
    or 16 ulps (float64) of the exact value (docs/numerics.md). A class axis of length 1 is a
    binary model's single logit: ValueError (its entropy is that of sigmoid, not of softmax).

    Examples
    --------
    >>> import logitkit as lk
    >>> float(lk.entropy([0.0, 0.0]))  # log 2
    0.6931471805599453
    >>> print(f"{lk.entropy([40.0, 0.0]):.6e}")  # confident: about (1 + 40)·e^-40, not 0
    1.741825e-16
    """
    if dim is not None:
        no_dim(dim)
    return _entropy(logits, axis, temperature, where, reduction, False)


def entropy_with_grad(
    logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    where: Any = None,
    reduction: str = "none",
    dim: None = None,
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`entropy` and its gradient with respect to the logits, from the same passes.

    The gradient is that of the reduced value: for 'none' and 'sum' each row's gradient of its
    own entropy, dH/dx_i = -(p_i / T)·(log p_i + H); for 'mean' that divided by the number of rows.
    It has the logits' shape (and dtype; bfloat16 logits: bfloat16); 0 where ``where`` is False or
    a logit is -inf.
    """
    if dim is not None:
        no_dim(dim)
    return _entropy(logits, axis, temperature, where, reduction, True)


# ------------------------------------------------------------------------------- KL divergence


_KL_REDUCTIONS = ("batchmean", "sum", "none", "mean")


def _two_rows(p_logits, q_logits, axis, names=("p_logits", "q_logits")):
    """Both distributions' logits in one float dtype, the class axis, the result dtypes."""
    x, dts_x = _float_rows(p_logits, names[0])
    y, dts_y = _float_rows(q_logits, names[1])
    if x.shape != y.shape:
        raise ValueError(
            f"{names[0]} and {names[1]}: the shapes differ, {x.shape} and {y.shape} (one row of "
            "logits of each distribution per item)"
        )
    if x.dtype != y.dtype:
        x = x.astype(np.float64)
        y = y.astype(np.float64)
    ax = _class_axis(x, axis, names[0])
    return x, y, ax, (dts_x if dts_x == dts_y else (x.dtype, x.dtype))


def _small_finish(r, want_grad, red, per=1):
    """A one-call path's result r (the per-row values, an array of the logits' dtype, and the
    gradient with want_grad) with the values reduced as _reduce does: 'mean' and 'batchmean'
    divide by the values' count times per (KL's 'mean': the classes); one value's sum, or its
    value divided by 1, is that value."""
    v = r[0] if want_grad else r
    if red != "none":
        denom = v.size * per if red in ("mean", "batchmean") else 1
        if v.size == 1 and denom == 1:
            v = v.reshape(())[()]
        else:
            v = _reduce(v, red, denom, v.dtype)
    return (v, r[1]) if want_grad else v


def _pair_small(kind, p_logits, q_logits, axis, temperature, red, want_grad):
    """The one-call path of kl_divergence (kind 0) and js_divergence (kind 1): _core.divergence_small
    reads the options and the arrays as passed (float32/float64 (C,) or (N, C) of one dtype and
    shape, the default axis and temperature) and returns None where they do not fit, else the
    rows' values (and the gradient) with the bits and types the general path has before its
    reduction. Kept while it pays (docs/architecture.md, "Fast paths"): bench/compare.py cases
    kl_divergence+grad/1x10, kl_divergence+grad/16x1000."""
    # the gradient's scale, 1/denom: 1, 1/rows or 1/(rows x classes)
    scale = {"batchmean": 1, "mean": 2 if kind == 0 else 1}.get(red, 0)
    r = _core.divergence_small(kind, p_logits, q_logits, axis, temperature, scale, want_grad)
    if r is None:
        return None
    return _small_finish(r, want_grad, red, p_logits.shape[-1] if scale == 2 else 1)


def _pair_rows(name, x, y, ax, t, red, denom, dts, want_grad):
    """The ufunc `name` (or its _grad) of two rows of logits along ax, the gradient scaled by
    1/denom, and the reduction (the sum divided by denom unless 'sum' or 'none')."""
    g = x.dtype.type(1.0 / denom if denom else 1.0)
    axes = [(ax,), (ax,), (), ()]
    if not want_grad:
        return _reduce(np.asarray(getattr(_core, name)(x, y, g, t, axes=axes)), red, denom, dts[0])
    v, grad = getattr(_core, name + "_grad")(x, y, g, t, axes=[*axes, (), (ax,)])
    return _reduce(np.asarray(v), red, denom, dts[0]), _finish_grad(grad, dts[1])


def _kl(p_logits, q_logits, axis, temperature, reduction, want_grad):
    if type(reduction) is str and reduction in _KL_REDUCTIONS:
        r = _pair_small(0, p_logits, q_logits, axis, temperature, reduction, want_grad)
        if r is not None:
            return r
    x, y, ax, (vdt, gdt) = _two_rows(p_logits, q_logits, axis)
    t = check_temperature(temperature)
    red = _check_reduction(reduction, _KL_REDUCTIONS)
    C = x.shape[ax]
    rows = x.size // C
    denom = {"batchmean": rows, "mean": rows * C}.get(red, 1)
    return _pair_rows("kl_divergence", x, y, ax, t, red, denom, (vdt, gdt), want_grad)


def kl_divergence(
    p_logits: Any,
    q_logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    reduction: str = "batchmean",
    dim: None = None,
) -> np.ndarray | LossValue:
    """KL(P ‖ Q) between P = softmax(p_logits / T) and Q = softmax(q_logits / T), along ``axis``.

    Both arguments are logits (no log_softmax first). For knowledge distillation P is the teacher
    (the target) and Q the student. Computed as log1p(Σ p_i·φ(u_i)) with φ(u) = e^u - 1 - u and
    u_i the centred log-ratio (docs/numerics.md): never negative, exactly 0 for rows that differ by
    a constant (softmax does not see a shift), and accurate to a few ulps even when two models
    agree to 1e-12 and the divergence is 1e-24 (where Σ p (log p - log q) in the logits' dtype
    returns 0 or negative noise).

    Parameters
    ----------
    p_logits, q_logits : array_like, the same shape
        Logits of P and of Q.
    axis : int
        The class axis.
    temperature : float > 0
        Both softmaxes at this temperature (for distillation's T² scaling, multiply by T²).
    reduction : {'batchmean', 'sum', 'none', 'mean'}
        'batchmean' (default): the sum over rows divided by the number of rows, the mean KL per
        item; 'sum'; 'none': one value per row; 'mean': the sum divided by the number of elements
        (rows × classes), as ``torch.nn.functional.kl_div(reduction='mean')`` computes it (which
        is not a KL divergence per item; PyTorch recommends 'batchmean').

    Returns
    -------
    ndarray or a NumPy scalar
        float32 for float32 logits, float64 for float64 (float16 logits give float16, bfloat16
        logits float32). +inf where Q has probability 0 (a -inf logit) where P has mass; an entry
        where P is 0 adds nothing whatever Q is; a row of P or Q holding NaN or +inf, or no
        finite entry, gives NaN.

    Examples
    --------
    >>> import logitkit as lk
    >>> float(lk.kl_divergence([1.0, 2.0, 3.0], [11.0, 12.0, 13.0]))  # a shift: exactly 0
    0.0
    >>> print(f"{lk.kl_divergence([0.0, 0.0], [0.0, 1e-12]):.6e}")  # about 1e-24 / 8, not 0
    1.250000e-25
    """
    if dim is not None:
        no_dim(dim)
    return _kl(p_logits, q_logits, axis, temperature, reduction, False)


def kl_divergence_with_grad(
    p_logits: Any,
    q_logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    reduction: str = "batchmean",
    dim: None = None,
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`kl_divergence` and its gradient with respect to ``q_logits`` (the student), from the
    same passes: (Q - P)/T per row, times the reduction's factor (1/rows for 'batchmean',
    1/(rows × classes) for 'mean'). The gradient has the logits' shape and dtype."""
    if dim is not None:
        no_dim(dim)
    return _kl(p_logits, q_logits, axis, temperature, reduction, True)


# ---------------------------------------------------------------------- Jensen-Shannon divergence


_JS_REDUCTIONS = ("none", "mean", "sum")


def _js(p_logits, q_logits, axis, temperature, reduction, want_grad):
    if type(reduction) is str and reduction in _JS_REDUCTIONS:
        r = _pair_small(1, p_logits, q_logits, axis, temperature, reduction, want_grad)
        if r is not None:
            return r
    x, y, ax, (vdt, gdt) = _two_rows(p_logits, q_logits, axis)
    t = check_temperature(temperature)
    red = _check_reduction(reduction, _JS_REDUCTIONS)
    rows = x.size // x.shape[ax]
    denom = rows if red == "mean" else 1
    return _pair_rows("js_divergence", x, y, ax, t, red, denom, (vdt, gdt), want_grad)


def js_divergence(
    p_logits: Any,
    q_logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    reduction: str = "none",
    dim: None = None,
) -> np.ndarray | LossValue:
    """The Jensen-Shannon divergence of P = softmax(p_logits / T) and Q = softmax(q_logits / T),
    along ``axis``: ½ KL(P ‖ M) + ½ KL(Q ‖ M) with M = (P + Q)/2, in nats.

    Symmetric, bounded by log 2, 0 for rows equal up to a shift; a disagreement score between two
    models that stays finite where one gives a class probability 0. Computed as
    Σ m_i·(log 2 - H(sigmoid(r_i))) with r_i = log(q_i/p_i) exact from the logits
    (docs/numerics.md): a sum of non-negative terms, as accurate for two models that agree to 1e-12
    (JS ≈ 1e-25) as for two that disagree.

    Parameters
    ----------
    p_logits, q_logits : array_like, the same shape
        Logits of P and of Q.
    axis : int
        The class axis.
    temperature : float > 0
        Both softmaxes at this temperature.
    reduction : {'none', 'mean', 'sum'}
        'none' (default): one value per row; 'mean' and 'sum' over the rows.

    Returns
    -------
    ndarray or a NumPy scalar
        float32 for float32 logits, float64 for float64 (float16 logits give float16, bfloat16
        logits float32). A row of P or Q holding NaN or +inf, or no finite entry, gives NaN.

    Examples
    --------
    >>> import logitkit as lk
    >>> float(lk.js_divergence([0.0, -float("inf")], [-float("inf"), 0.0]))  # disjoint: log 2
    0.6931471805599453
    >>> print(f"{lk.js_divergence([0.0, 0.0], [0.0, 1e-12]):.6e}")  # ≈ δ²/32
    3.125000e-26
    """
    if dim is not None:
        no_dim(dim)
    return _js(p_logits, q_logits, axis, temperature, reduction, False)


def js_divergence_with_grad(
    p_logits: Any,
    q_logits: Any,
    *,
    axis: int = -1,
    temperature: float = 1.0,
    reduction: str = "none",
    dim: None = None,
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`js_divergence` and its gradient with respect to ``q_logits``:
    (q_i/(2T))·(log(q_i/m_i) - KL(Q ‖ M)) per row (divided by the number of rows for 'mean');
    the logits' shape and dtype."""
    if dim is not None:
        no_dim(dim)
    return _js(p_logits, q_logits, axis, temperature, reduction, True)


# ------------------------------------------------------------------------ knowledge distillation


_DISTILL_REDUCTIONS = ("mean", "sum", "none")


def _alpha(alpha: Any, target: Any) -> float:
    if alpha is None:
        return 1.0 if target is None else 0.5
    alpha = scalar_of(alpha)
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(
        alpha, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"alpha: expected a number in [0, 1], got {type(alpha).__name__} {alpha!r}")
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {a!r}")
    if target is None and a != 1.0:
        raise ValueError(
            f"alpha: {a!r} weighs a cross-entropy term, but no target was given; pass the labels as "
            "target, or alpha=1.0 for the distillation term alone"
        )
    return a


def _distillation_temperature(temperature: Any, dt: np.dtype) -> float:
    """Distillation's temperature: positive and finite, and T² a normal number of the dtype the
    loss is computed in (the loss is alpha·T²·KL, the gradient alpha·T²·(q - p)/T, with T² formed in
    that dtype: past the bounds it overflows, or underflows and loses its digits, where T²·KL has a
    finite nonzero limit). float64: 2^-511 <= T <= 2^511; float32: 2^-63 <= T <= 2^63 (the C++
    API's check_distillation_temperature, the same message)."""
    T = check_temperature(temperature)
    e = 63 if np.dtype(dt) == np.float32 else 511
    if not 2.0**-e <= T <= 2.0**e:
        raise ValueError(describe("distillation_temperature", "temperature", T))
    return T


def _distillation(
    student,
    teacher,
    target,
    axis,
    temperature,
    alpha,
    ignore_index,
    label_smoothing,
    reduction,
    validate,
    want_grad,
):
    s, t, ax, (vdt, gdt) = _two_rows(student, teacher, axis, ("student_logits", "teacher_logits"))
    T = _distillation_temperature(temperature, s.dtype)
    a = _alpha(alpha, target)
    red = _check_reduction(reduction, _DISTILL_REDUCTIONS)
    eps = 0.0 if label_smoothing == 0.0 else losses._check_smoothing(label_smoothing)
    C = s.shape[ax]
    item_shape = s.shape[:ax] + s.shape[ax + 1 :]
    if target is None:
        labels = np.full(item_shape, -1, np.int64)
        counted = 0
    else:
        tgt = np.asarray(as_real_array(target, "target"))
        if tgt.dtype.kind not in "iu":
            raise TypeError(
                f"target: expected integer class labels, got dtype {tgt.dtype} (for probability "
                "targets combine kl_divergence and cross_entropy)"
            )
        ignore = as_index(ignore_index, "ignore_index")
        labels, ignored = losses._hard_target(tgt, item_shape, C, ignore, validate, s.shape, ax)
        counted = labels.size - (0 if ignored is None else int(ignored.sum()))
    rows = labels.size
    kl_w, ce_w = a * T * T, 1.0 - a
    if red == "mean":  # the KL term per item; the cross-entropy over the counted items
        kl_w = kl_w / rows if rows else 0.0
        ce_w = ce_w / counted if counted else 0.0
    dt = s.dtype.type
    args = (s, t, labels, dt(kl_w), dt(ce_w), dt(eps), T)
    axes = [(ax,), (ax,), (), (), (), (), ()]
    if want_grad:
        per_row, grad = _core.distillation_grad(*args, axes=[*axes, (), (ax,)])
    else:
        per_row = _core.distillation(*args, axes=axes)
    per_row = np.asarray(per_row)
    if red == "none":
        value = _reduce(per_row, "none", 1, vdt)
    else:
        value = _reduce(per_row, "sum", 1, vdt)
        if red == "mean" and (rows == 0 or (counted == 0 and a < 1.0)):
            value = vdt.type(np.nan)  # the mean of no (counted) items is NaN, as torch's
    return (value, _finish_grad(grad, gdt)) if want_grad else value


def distillation_loss(
    student_logits: Any,
    teacher_logits: Any,
    target: Any = None,
    *,
    temperature: float = 1.0,
    alpha: float | None = None,
    axis: int = -1,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    validate: bool = True,
    dim: None = None,
) -> np.ndarray | LossValue:
    """Knowledge distillation (Hinton et al., 2015), fused: the loss a student is trained on to
    match a teacher,

        alpha·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 - alpha)·cross_entropy(student, target)

    with T = ``temperature`` (the cross-entropy at temperature 1). Each row is one C++ kernel call
    (the KL and cross-entropy kernels, each exact to its bound); no probability array is formed.

    Parameters
    ----------
    student_logits, teacher_logits : array_like, the same shape
        The two models' logits; the classes lie along ``axis``.
    target : array_like of int, optional
        Class labels (the logits' shape without ``axis``); ``ignore_index`` drops an item from the
        cross-entropy term (its KL term stays). None: the distillation term alone (alpha 1).
    temperature : float > 0
        The softening temperature of both softmaxes in the KL term.
    alpha : float in [0, 1], optional
        The weight of the distillation term; default 1.0 without a target, 0.5 with one.
    ignore_index, label_smoothing, validate
        As in :func:`logitkit.cross_entropy`, for the cross-entropy term.
    reduction : {'mean', 'sum', 'none'}
        'mean' (default): the KL term averaged over the items (PyTorch's ``'batchmean'``) and the
        cross-entropy over the counted items (``F.cross_entropy``'s mean): the same number as
        ``alpha * T**2 * F.kl_div(F.log_softmax(s / T), F.log_softmax(t / T), log_target=True,
        reduction='batchmean') + (1 - alpha) * F.cross_entropy(s, y)``. 'sum': both summed;
        'none': one value per item.

    Returns
    -------
    ndarray or a NumPy scalar
        float32 for float32 logits, float64 for float64.

    Examples
    --------
    >>> import numpy as np, logitkit as lk
    >>> s, t = np.array([[1.0, 2.0, 0.5]]), np.array([[3.0, 1.0, 0.0]])
    >>> print(f"{lk.distillation_loss(s, t, np.array([1]), temperature=2.0, alpha=0.7):.6f}")
    0.826228
    """
    if dim is not None:
        no_dim(dim)
    return _distillation(
        student_logits,
        teacher_logits,
        target,
        axis,
        temperature,
        alpha,
        ignore_index,
        label_smoothing,
        reduction,
        validate,
        False,
    )


def distillation_loss_with_grad(
    student_logits: Any,
    teacher_logits: Any,
    target: Any = None,
    *,
    temperature: float = 1.0,
    alpha: float | None = None,
    axis: int = -1,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    validate: bool = True,
    dim: None = None,
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`distillation_loss` and its gradient with respect to ``student_logits``, from the same
    passes: alpha·T·(Q - P) + (1 - alpha)·(softmax(student) - onehot(target)) per row, times the
    reduction's factors (the only array formed is the gradient itself)."""
    if dim is not None:
        no_dim(dim)
    return _distillation(
        student_logits,
        teacher_logits,
        target,
        axis,
        temperature,
        alpha,
        ignore_index,
        label_smoothing,
        reduction,
        validate,
        True,
    )


# --------------------------------------------------------------- binary (multi-label) forms


_BINARY_ENTROPY_REDUCTIONS = ("none", "mean", "sum")
_BINARY_KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


def _binary_entropy(logits, temperature, reduction, want_grad):
    # The one-call path (_core.binary_entropy_small: a plain float32/float64 array of at least one
    # dimension as it is, temperature 1.0), as entropy's: the values (and the gradient) with the
    # bits and types the path below has before its reduction, or None. Kept while it pays
    # (docs/architecture.md, "Fast paths"): bench/compare.py case binary_entropy/1x10.
    r = _core.binary_entropy_small(logits, temperature, reduction, want_grad)
    if r is not None:
        return _small_finish(r, want_grad, reduction)
    x, (vdt, gdt) = _float_rows(logits, "logits")
    t = check_temperature(temperature)
    red = _check_reduction(reduction, _BINARY_ENTROPY_REDUCTIONS)
    g = 1.0 / x.size if red == "mean" and x.size else 1.0
    if not want_grad:
        h = _core.binary_entropy(x, x.dtype.type(g), t)
        return _reduce(np.asarray(h), red, x.size, vdt)
    h, grad = _core.binary_entropy_grad(x, x.dtype.type(g), t)
    return _reduce(np.asarray(h), red, x.size, vdt), _finish_grad(np.asarray(grad), gdt)


def binary_entropy(
    logits: Any, *, temperature: float = 1.0, reduction: str = "none"
) -> np.ndarray | LossValue:
    """The entropy of ``sigmoid(logits / temperature)`` in nats, elementwise: of each label of a
    multi-label model, each a Bernoulli distribution.

    H = log1p(e^-a) + a·e^-a/(1 + e^-a) with a = |x/T|: two non-negative terms, so H >= 0 and a
    confident label's entropy keeps its digits in both tails (x = ±40 gives about 1.74e-16, not 0
    or NaN); log 2 at x = 0. For the entropy of a softmax over classes use :func:`entropy`.

    Parameters
    ----------
    logits : array_like
        One logit per label (any shape).
    temperature : float > 0
        The entropy of sigmoid(logits / temperature).
    reduction : {'none', 'mean', 'sum'}
        'none' (default): the logits' shape; 'mean' and 'sum' over every element. (The entropy
        of an item's independent labels together is the sum along its label axis.)

    Returns
    -------
    ndarray or a NumPy scalar
        float32 for float32 logits, float64 for float64 (and integers); float16 logits give
        float16, bfloat16 logits float32. ±inf gives 0, NaN gives NaN.

    Examples
    --------
    >>> import logitkit as lk
    >>> float(lk.binary_entropy(0.0))  # log 2
    0.6931471805599453
    >>> print(f"{lk.binary_entropy(-40.0):.6e}")
    1.741825e-16
    """
    return _binary_entropy(logits, temperature, reduction, False)


def binary_entropy_with_grad(
    logits: Any, *, temperature: float = 1.0, reduction: str = "none"
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`binary_entropy` and its gradient with respect to the logits,
    dH/dx = -(x/T)·p·(1 - p)/T with p = sigmoid(x/T) (divided by the number of elements for
    'mean'); the gradient has the logits' shape and dtype, 0 at ±inf."""
    return _binary_entropy(logits, temperature, reduction, True)


def _binary_kl(p_logits, q_logits, temperature, reduction, want_grad):
    x, dts_x = _float_rows(p_logits, "p_logits")
    y, dts_y = _float_rows(q_logits, "q_logits")
    if x.shape != y.shape:
        raise ValueError(
            f"p_logits and q_logits: the shapes differ, {x.shape} and {y.shape} (one logit of "
            "each distribution per label)"
        )
    if x.dtype != y.dtype:
        x = x.astype(np.float64)
        y = y.astype(np.float64)
    t = check_temperature(temperature)
    red = _check_reduction(reduction, _BINARY_KL_REDUCTIONS)
    first = x.shape[0] if x.ndim else 1
    denom = {"mean": x.size, "batchmean": first}.get(red, 1)
    g = 1.0 / denom if denom else 1.0
    vdt, gdt = dts_x if dts_x == dts_y else (x.dtype, x.dtype)
    if not want_grad:
        kl = _core.binary_kl_divergence(x, y, x.dtype.type(g), t)
        return _reduce(np.asarray(kl), red, denom, vdt)
    kl, grad = _core.binary_kl_divergence_grad(x, y, x.dtype.type(g), t)
    return _reduce(np.asarray(kl), red, denom, vdt), _finish_grad(np.asarray(grad), gdt)


def binary_kl_divergence(
    p_logits: Any, q_logits: Any, *, temperature: float = 1.0, reduction: str = "mean"
) -> np.ndarray | LossValue:
    """KL(Bernoulli(p) ‖ Bernoulli(q)) with p = sigmoid(p_logits / T), q = sigmoid(q_logits / T),
    elementwise: the divergence between two multi-label models, label by label (P the teacher,
    Q the student in distillation).

    Computed as log1p(p·φ(u1) + (1 - p)·φ(u2)) with φ(u) = e^u - 1 - u and the centred
    log-ratios u1, u2 (docs/numerics.md): never negative, exactly 0 for equal logits, accurate to
    a few ulps for a divergence of 1e-30 as for one of 100, and in both tails (logits of ±40,
    where p log(p/q) + (1 - p) log((1 - p)/(1 - q)) in float64 returns 0 or noise).

    Parameters
    ----------
    p_logits, q_logits : array_like, the same shape
        Logits of P and of Q, one per label.
    temperature : float > 0
        Both sigmoids at this temperature.
    reduction : {'mean', 'sum', 'none', 'batchmean'}
        'mean' (default): over every element, as ``binary_cross_entropy_with_logits``; 'sum';
        'none': the logits' shape; 'batchmean': the sum divided by the length of the first axis
        (the number of items), the mean over items of each item's KL of its labels together.

    Returns
    -------
    ndarray or a NumPy scalar
        float32 for float32 logits, float64 for float64. +inf where Q is certain (a ±inf logit)
        and P is not the same; 0 where both are the same certainty; NaN for NaN.

    Examples
    --------
    >>> import logitkit as lk
    >>> print(f"{lk.binary_kl_divergence(0.0, 1e-12, reduction='none'):.6e}")  # ≈ δ²/8
    1.250000e-25
    """
    return _binary_kl(p_logits, q_logits, temperature, reduction, False)


def binary_kl_divergence_with_grad(
    p_logits: Any, q_logits: Any, *, temperature: float = 1.0, reduction: str = "mean"
) -> tuple[np.ndarray | LossValue, np.ndarray]:
    """:func:`binary_kl_divergence` and its gradient with respect to ``q_logits`` (the student):
    (q - p)/T elementwise, computed without cancellation where q and p are close, times the
    reduction's factor (1/size for 'mean', 1/len(first axis) for 'batchmean')."""
    return _binary_kl(p_logits, q_logits, temperature, reduction, True)
