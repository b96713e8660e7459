"""Reference implementations (the oracle) of logitkit's losses and their gradients.

Written for clarity from semantics.md, not from logitkit's code. Every function computes the exact
result of the given inputs, to far better than numerics.md's targets, in a wider type:

* float32 (and float16 / integer) inputs are computed in float64;
* float64 inputs are computed in ``np.longdouble`` (80-bit x87 on x86-64: 11 extra bits).

Scalars such as ``label_smoothing`` and ``alpha`` are used as the Python floats they are (the
library may round them to float32; that rounding is part of the error measured).

Conventions (semantics.md):

* a zero coefficient times an infinite ``-log p`` contributes 0 (``0·log 0 = 0``): a zero target
  probability at a ``-inf`` logit, a zero class weight, an ignored item;
* the binary cross-entropy is written as a sum of non-negative terms, so ``x = ±inf`` gives the
  limit (``0`` where the coefficient of ``|x|`` is 0, ``+inf`` otherwise);
* a row with NaN or ``+inf``, or all ``-inf``, has NaN log-probabilities (numerics.md table).

Every function returns arrays of the work dtype; compare them with ``ulp_errors`` /
``rel_error`` / ``grad_errors`` (numerics.md's error measures, below).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = [
    "BOUNDS",
    "ERROR_RECORD",
    "GRAD_BOUNDS",
    "LONGDOUBLE_IS_EXTENDED",
    "REDUCED_BOUNDS",
    "bce_with_logits",
    "bce_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "grad_errors",
    "grad_hess",
    "log_softmax",
    "nll_loss",
    "record",
    "rel_error",
    "sigmoid",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax",
    "ulp_errors",
    "work_dtype",
]

LONGDOUBLE_IS_EXTENDED = np.finfo(np.longdouble).nmant >= 63

# numerics.md: per-sample losses (ulps of the output dtype), reductions (relative), gradients
# (ulps or absolute: an output passes when it meets either).
BOUNDS = {np.dtype(np.float32): 8, np.dtype(np.float64): 16}
REDUCED_BOUNDS = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}
GRAD_BOUNDS = {np.dtype(np.float32): (8, 2.0**-24), np.dtype(np.float64): (16, 2.0**-53)}

# (quantity, dtype name, isa) -> the largest error measured by the tests (ulps for per-item losses,
# relative error for reductions, fraction of the numerics.md bound for gradients and Hessians).
ERROR_RECORD: dict[tuple[str, str, str], float] = defaultdict(float)


def record(quantity: str, dtype, isa: str, err: float) -> None:
    key = (quantity, np.dtype(dtype).name, isa)
    ERROR_RECORD[key] = max(ERROR_RECORD[key], float(err))


def work_dtype(dtype) -> np.dtype:
    """float64 for float32 (and narrower) data, longdouble for float64 data."""
    return np.dtype(np.longdouble) if np.dtype(dtype) == np.float64 else np.dtype(np.float64)


def _w(a, W):
    return np.asarray(a).astype(W)


def _zero_times(a, b):
    """a·b elementwise, with 0·(±inf) = 0: a zero coefficient contributes nothing."""
    return np.where(a == 0, 0, a * b)


def _reduce(per_item, denom, reduction):
    """'none': the items; 'sum': their sum; 'mean': sum / denom (0/0 -> NaN, as in torch)."""
    if reduction == "none":
        return per_item
    total = per_item.sum()
    if reduction == "sum":
        return total
    if denom == 0:
        return per_item.dtype.type(np.nan)
    return total / denom


def _mean_scale(denom, reduction, W):
    """The factor d(reduced loss)/d(item loss) (the sample weight aside)."""
    if reduction != "mean":
        return W.type(1)
    return W.type(0) if denom == 0 else W.type(1) / denom  # all-zero items: zero gradient


# ----------------------------------------------------------------------------- softmax rows


def _log_softmax_last(xw):
    """(log p, p) along the last axis of xw (work dtype).

    log p_c = (x_c - m) - log(k + S'), with m the row max, k the number of entries equal to m and
    S' the sum of exp(x_j - m) over the others; log(k + S') is log1p(S') when k = 1, so the tiny
    part of the sum is kept (confident rows). x_c - m is computed in the wide work dtype.
    """
    W = xw.dtype.type
    with np.errstate(all="ignore"):
        m = np.max(xw, axis=-1, keepdims=True)
        bad = ~np.isfinite(m)  # +inf in the row, NaN in the row, or every entry -inf
        d = xw - np.where(bad, W(0), m)
        e = np.exp(d)
        top = d == 0
        k = top.sum(axis=-1, keepdims=True).astype(xw.dtype)
        rest = np.where(top, W(0), e).sum(axis=-1, keepdims=True)
        L = np.where(k == 1, np.log1p(rest), np.log(k + rest))
        lp = np.where(bad, W(np.nan), d - L)
        p = np.where(bad, W(np.nan), e / (k + rest))
    return lp, p


def log_softmax(x, axis=-1):
    """log-probabilities of x along axis (work dtype, x's layout)."""
    x = np.asarray(x)
    lp, _ = _log_softmax_last(np.moveaxis(_w(x, work_dtype(x.dtype)), axis, -1))
    return np.moveaxis(lp, -1, axis)


def softmax(x, axis=-1):
    """probabilities of x along axis (work dtype, x's layout)."""
    x = np.asarray(x)
    _, p = _log_softmax_last(np.moveaxis(_w(x, work_dtype(x.dtype)), axis, -1))
    return np.moveaxis(p, -1, axis)


def sigmoid(x):
    """1/(1 + e^-x), computed as 1/(1+e) or e/(1+e) with e = exp(-|x|) (no overflow)."""
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# ----------------------------------------------------------------------------- cross-entropy


def _target_coefficients(target, C, axis, W, weight, ignore_index, label_smoothing, item_shape):
    """The coefficients a_ic of -log p_ic in the item loss (class axis last), and each hard item's
    weight w_i (0 if ignored; None for soft labels).

    Hard label t_i:  a_ic = (1-ε)·w_{t_i}·[c = t_i] + (ε/C)·w_c   (all 0 when t_i is ignored),
                     i.e. (1-ε)·ℓ_i + (ε/C)·s_i of semantics.md.
    Soft target y_i: a_ic = w_c·((1-ε)·y_ic + ε/C).
    """
    eps = W(label_smoothing)
    wc = np.ones(C, dtype=W) if weight is None else _w(weight, W)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        t = target.astype(np.int64)
        ignored = t == ignore_index
        tt = np.where(ignored, 0, t)
        w_item = np.where(ignored, W(0), wc[tt])
        onehot = np.arange(C) == tt[..., None]
        a = (1 - eps) * w_item[..., None] * onehot + eps / C * wc
        a = np.where(ignored[..., None], W(0), a)
        return a, w_item
    y = np.moveaxis(_w(target, W), axis, -1)
    return wc * ((1 - eps) * y + eps / C), None


def _ce_parts(logits, target, axis, weight, ignore_index, label_smoothing, sample_weight):
    """Per-item losses (sample weight applied), the mean's denominator, and for the gradient the
    coefficients a (class last), the probabilities p (class last) and the sample weights."""
    x = np.asarray(logits)
    W = work_dtype(x.dtype)
    xl = np.moveaxis(_w(x, W), axis, -1)
    C = xl.shape[-1]
    item_shape = xl.shape[:-1]
    lp, p = _log_softmax_last(xl)
    a, w_item = _target_coefficients(
        target, C, axis, W.type, weight, ignore_index, label_smoothing, item_shape
    )
    with np.errstate(all="ignore"):
        # an ignored item has a = 0: it adds 0 whatever its logits
        per_item = _zero_times(a, -lp).sum(axis=-1)
    sw = (
        np.ones(item_shape, dtype=W)
        if sample_weight is None
        else np.broadcast_to(_w(sample_weight, W), item_shape)
    )
    per_item = per_item * sw
    if w_item is not None:
        denom = (w_item * sw).sum()  # Σ sample_weight_i · w_i
    elif sample_weight is not None:
        denom = sw.sum()  # soft labels: Σ sample_weight (how items are masked)
    else:
        denom = W.type(int(np.prod(item_shape)))  # soft labels: the number of items
    return per_item, denom, a, p, sw


def cross_entropy(
    logits,
    target,
    *,
    axis=-1,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
    sample_weight=None,
):
    """semantics.md's cross_entropy (hard or soft labels), in the work dtype."""
    per_item, denom, _, _, _ = _ce_parts(
        logits, target, axis, weight, ignore_index, label_smoothing, sample_weight
    )
    with np.errstate(all="ignore"):
        return _reduce(per_item, denom, reduction)


def cross_entropy_grad(
    logits,
    target,
    *,
    axis=-1,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
    sample_weight=None,
    with_scale=False,
):
    """d(reduced loss)/d logits. The item loss Σ_c a_c·(-log p_c) has the gradient
    p_c·Σ_j a_j - a_c; each item's gradient is scaled by its sample weight and, for 'mean', divided
    by the mean's denominator ('none': the gradient of the sum of the items).

    with_scale: also return the gradient's scale s = |sample weight · factor|·Σ_j a_j per element
    (the gradient is s·(p_c - a_c/Σa), the bracket in [-1, 1]; see grad_errors)."""
    per_item, denom, a, p, sw = _ce_parts(
        logits, target, axis, weight, ignore_index, label_smoothing, sample_weight
    )
    W = per_item.dtype
    scale = sw * _mean_scale(denom, reduction, W)
    with np.errstate(all="ignore"):
        A = a.sum(axis=-1, keepdims=True)
        # an item whose coefficients are all 0 (ignored) has the constant loss 0: gradient 0
        g = np.where(A == 0, W.type(0), scale[..., None] * (p * A - a))
        s = np.broadcast_to(np.abs(scale[..., None]) * A, g.shape)
    if with_scale:
        return np.moveaxis(g, -1, axis), np.moveaxis(s, -1, axis)
    return np.moveaxis(g, -1, axis)


def nll_loss(
    log_probs,
    target,
    *,
    axis=-1,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
    sample_weight=None,
):
    """Hard-label loss from given log-probabilities: Σ_c a_ic·(-log_probs_ic) with the hard-label
    coefficients of cross_entropy (smoothing: -Σ_c w_c·log_probs_c)."""
    lpx = np.asarray(log_probs)
    W = work_dtype(lpx.dtype)
    lp = np.moveaxis(_w(lpx, W), axis, -1)
    C = lp.shape[-1]
    a, w_item = _target_coefficients(
        target, C, axis, W.type, weight, ignore_index, label_smoothing, lp.shape[:-1]
    )
    sw = (
        np.ones(lp.shape[:-1], dtype=W)
        if sample_weight is None
        else np.broadcast_to(_w(sample_weight, W), lp.shape[:-1])
    )
    with np.errstate(all="ignore"):
        per_item = _zero_times(a, -lp).sum(axis=-1) * sw
        return _reduce(per_item, (w_item * sw).sum(), reduction)


# ----------------------------------------------------------------------------- binary


def _bce_parts(logits, target, weight, pos_weight, label_smoothing):
    """(loss, grad, hess) per element, work dtype.

    With y' = (1-ε)·y + ε/2, 1-y' = (1-ε)·(1-y) + ε/2 (no cancellation), pos_weight P and
    c = 1 + (P-1)·y' = (1-y') + P·y':
      ℓ = (1-y')·x + c·softplus(-x)
        = (1-y')·|x| + c·log1p(e^-|x|)   for x >= 0
        = P·y'·|x|   + c·log1p(e^-|x|)   for x <  0     (softplus(-x) = |x| + log1p(e^-|x|))
      dℓ/dx = c·σ(x) - P·y' = (1-y')·σ(x) - P·y'·σ(-x)
      d²ℓ/dx² = c·σ(x)·σ(-x)
    all times weight; the gradient's scale |weight|·c is returned too (see grad_errors).
    """
    x = np.asarray(logits)
    W = work_dtype(x.dtype)
    xw = _w(x, W)
    y = _w(target, W)
    eps = W.type(label_smoothing)
    yp = (1 - eps) * y + eps / 2
    ym = (1 - eps) * (1 - y) + eps / 2
    P = W.type(1) if pos_weight is None else _w(pos_weight, W)
    w = W.type(1) if weight is None else _w(weight, W)
    with np.errstate(all="ignore"):
        ax = np.abs(xw)
        lg = np.log1p(np.exp(-ax))
        c = ym + P * yp
        lin = np.where(xw >= 0, _zero_times(ym, ax), _zero_times(P * yp, ax))
        loss = w * (lin + c * lg)
        s_pos, s_neg = sigmoid(xw), sigmoid(-xw)
        grad = w * (ym * s_pos - P * yp * s_neg)
        hess = w * c * s_pos * s_neg
        scale = np.abs(w) * c
        shape = np.broadcast_shapes(loss.shape, x.shape)
    return (
        np.broadcast_to(loss, shape),
        np.broadcast_to(grad, shape),
        np.broadcast_to(hess, shape),
        np.broadcast_to(scale, shape),
    )


def bce_with_logits(
    logits, target, *, weight=None, pos_weight=None, label_smoothing=0.0, reduction="mean"
):
    """semantics.md's binary_cross_entropy_with_logits; 'mean' divides by the element count."""
    loss, _, _, _ = _bce_parts(logits, target, weight, pos_weight, label_smoothing)
    with np.errstate(all="ignore"):
        return _reduce(loss, loss.dtype.type(loss.size), reduction)


def bce_with_logits_grad(
    logits,
    target,
    *,
    weight=None,
    pos_weight=None,
    label_smoothing=0.0,
    reduction="mean",
    with_scale=False,
):
    """dℓ/dx of the reduction; with_scale: also the gradient's scale |weight|·c·factor."""
    loss, grad, _, scale = _bce_parts(logits, target, weight, pos_weight, label_smoothing)
    f = _mean_scale(loss.dtype.type(loss.size), reduction, loss.dtype)
    return (grad * f, scale * f) if with_scale else grad * f


# ----------------------------------------------------------------------------- focal


def _focal_parts(logits, target, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss, elementwise:
        p = σ(x); ce = BCE-with-logits(x, y); p_t = p·y + (1-p)·(1-y)
        loss = ce·(1 - p_t)^γ, times α_t = α·y + (1-α)·(1-y) when α >= 0.
    q = 1 - p_t = p·(1-y) + (1-p)·y is computed from σ(x) and σ(-x) (no cancellation).
    Gradient: α_t·[(p - y)·q^γ + ce·γ·q^γ·(p(1-p)/q)·(1-2y)] (dq/dx = p(1-p)(1-2y)).
    """
    x = np.asarray(logits)
    W = work_dtype(x.dtype)
    xw = _w(x, W)
    y = _w(target, W)
    ce, dce, _, _ = _bce_parts(x, target, None, None, 0.0)
    with np.errstate(all="ignore"):
        p, pm = sigmoid(xw), sigmoid(-xw)
        q = p * (1 - y) + pm * y
        g = W.type(gamma)
        mod = q**g  # 0**0 = 1
        r = np.where(q > 0, p * pm / q, W.type(0))
        loss = ce * mod
        grad = dce * mod + ce * g * mod * r * (1 - 2 * y)
        if alpha >= 0:
            a_t = W.type(alpha) * y + (1 - W.type(alpha)) * (1 - y)
            loss = a_t * loss
            grad = a_t * grad
    return loss, grad


def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    loss, _ = _focal_parts(logits, target, alpha, gamma)
    with np.errstate(all="ignore"):
        return _reduce(loss, loss.dtype.type(loss.size), reduction)


def sigmoid_focal_loss_grad(logits, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    loss, grad = _focal_parts(logits, target, alpha, gamma)
    return grad * _mean_scale(loss.dtype.type(loss.size), reduction, loss.dtype)


# ----------------------------------------------------------------------------- grad_hess


def grad_hess(
    logits,
    target,
    *,
    family,
    axis=-1,
    weight=None,
    pos_weight=None,
    label_smoothing=0.0,
    sample_weight=None,
    ignore_index=-100,
    with_scale=False,
):
    """Per-element gradient and diagonal Hessian of the per-item loss (no reduction).

    multiclass: item loss Σ_c a_c·(-log p_c) (times the sample weight):
        grad_c = sw·(p_c·A - a_c), hess_c = sw·A·p_c·(1 - p_c), A = Σ_c a_c
        (= w·(p - y) and w·p(1-p) without smoothing; 0 for ignored items).
    binary: the BCE derivatives of _bce_parts.
    with_scale: also the scale of both (sw·A, or |weight|·c; see grad_errors).
    """
    if family == "binary":
        _, g, h, s = _bce_parts(logits, target, weight, pos_weight, label_smoothing)
        return (g, h, s) if with_scale else (g, h)
    x = np.asarray(logits)
    _, _, a, p, sw = _ce_parts(
        x, target, axis, weight, ignore_index, label_smoothing, sample_weight
    )
    with np.errstate(all="ignore"):
        A = a.sum(axis=-1, keepdims=True)
        g = np.where(A == 0, p.dtype.type(0), sw[..., None] * (p * A - a))
        h = np.where(A == 0, p.dtype.type(0), sw[..., None] * A * p * (1 - p))
        s = np.broadcast_to(np.abs(sw[..., None]) * A, g.shape)
    g, h, s = (np.moveaxis(v, -1, axis) for v in (g, h, s))
    return (g, h, s) if with_scale else (g, h)


# ----------------------------------------------------------------------------- error measures


def ulp_errors(got, exact, dtype) -> np.ndarray:
    """|got - exact| in ulps of exact in dtype (float64 array, elementwise).

    Below dtype's smallest normal the unit is 2 × the smallest subnormal (numerics.md). NaN must
    meet NaN, and an exact value that is (or rounds to) ±inf must be met by that infinity; any
    other mismatch of special values is inf.
    """
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    W = work_dtype(dtype)
    got, exact = np.broadcast_arrays(np.asarray(got), np.asarray(exact))
    with np.errstate(all="ignore"):
        g = got.astype(W)
        e = exact.astype(W)
        e_rounded = exact.astype(dtype)
        err = np.zeros(g.shape, dtype=np.float64)
        nan_g, nan_e = np.isnan(g), np.isnan(e)
        err[nan_g != nan_e] = np.inf
        inf_e = ~nan_e & np.isinf(e_rounded)
        err[inf_e & (g.astype(dtype) != e_rounded)] = np.inf
        err[~nan_e & ~inf_e & np.isinf(g)] = np.inf
        fin = ~nan_e & ~inf_e & ~nan_g & np.isfinite(g)
        ae = np.abs(e[fin])
        _, ex = np.frexp(ae)
        ulp = np.ldexp(W.type(1), (ex - 1 - fi.nmant).astype(np.int32))
        unit = np.where(ae >= W.type(fi.smallest_normal), ulp, W.type(2 * fi.smallest_subnormal))
        err[fin] = (np.abs(g[fin] - e[fin]) / unit).astype(np.float64)
    return err


def rel_error(got, exact) -> float:
    """|got - exact| / |exact| for reductions (0 when both are equal, including inf and NaN)."""
    g = np.asarray(got).astype(np.longdouble)
    e = np.asarray(exact).astype(np.longdouble)
    if (np.isnan(g) and np.isnan(e)) or g == e:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.abs(g - e) / np.abs(e))


def grad_errors(got, exact, dtype, scale=None) -> np.ndarray:
    """Gradient errors as a fraction of the numerics.md target (<= 1 passes): the smaller of
    ulps / GRAD_BOUNDS ulps and |error| / (GRAD_BOUNDS absolute · max(1, scale)).

    The absolute bound is for a gradient of unit scale (p - y, σ - y, entries in [-1, 1]); where
    weights multiply the gradient by scale > 1 (class weight, sample weight, pos_weight, the
    smoothing mix, a 'sum' over weighted items) its absolute error scales with it. scale < 1 (e.g.
    'mean') never tightens the bound. scale=None: the plain numerics.md bound."""
    dtype = np.dtype(dtype)
    ulps, absolute = GRAD_BOUNDS[dtype]
    ue = ulp_errors(got, exact, dtype) / ulps
    W = work_dtype(dtype)
    got, exact = np.broadcast_arrays(np.asarray(got), np.asarray(exact))
    bound = W.type(absolute)
    if scale is not None:
        bound = bound * np.maximum(1, np.asarray(scale).astype(W))
    with np.errstate(all="ignore"):
        ae = np.abs(got.astype(W) - exact.astype(W)) / bound
    ae = np.where(np.isnan(ae), np.inf, ae.astype(np.float64))
    return np.minimum(ue, ae)
