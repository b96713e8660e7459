"""The oracle: reference implementations of every logitkit function, written for clarity from
docs/numerics.md and docs/semantics.md, not from logitkit's code (this module never imports
logitkit).

Each function computes the exact result of its inputs to far better than the library's accuracy
targets (docs/numerics.md, "The bounds"), in a wider type than the output:

* float16 / float32 (and integer) inputs are computed in float64 (29+ extra bits);
* float64 inputs are computed in ``np.longdouble`` (80-bit x87 on x86: 11 extra bits), or in
  mpmath at ``MP_PREC`` bits inside ``reference("mpmath")``: the float64 accuracy tests' reference
  where ``np.longdouble`` is plain double (macOS arm64, Windows) or ``LOGITKIT_TEST_ORACLE=mpmath``
  asks for it (``F64_REFERENCE``);
* where that is not enough, mpmath at 400 bits.

Activations (softmax, log_softmax, logsumexp, sigmoid, log_sigmoid, softplus and their backward
functions). Only two places need more than "the obvious formula in a wider type":

1. ``x_i - max`` (and its quotient by a temperature) is kept as an unevaluated sum ``hi + lo``
   (TwoSum / Dekker), because its rounding error is multiplied by ``|x_i - max|`` in ``exp``.
2. The row sum is split into the count ``k`` of entries equal to the max and the rest ``S'``, and
   ``log(k + S')`` is ``log1p(S')`` when ``k = 1`` (so the tiny part of the sum is not lost).
   When ``logsumexp = m/T + L`` cancels (the result is much smaller than ``L``), the row is
   recomputed with mpmath.

Special rows follow docs/numerics.md, "Special values": masked entries
(``where=False``) are excluded from the row (0 / -inf in the output); an unmasked NaN or +inf, or
every unmasked entry -inf, gives a NaN row (logsumexp NaN / +inf / -inf); an empty or fully masked
row gives a 0 row, a -inf row, and logsumexp -inf.

Losses (cross_entropy, nll_loss, bce_with_logits, sigmoid_focal_loss, grad_hess and their
gradients), docs/semantics.md ("cross_entropy", "binary_cross_entropy_with_logits",
"Gradients"). Their work dtype is ``loss_work_dtype`` (longdouble for float64
logits, float64 for every other input). Scalars such as ``label_smoothing`` and ``alpha`` are used
as the Python floats they are (the library may round them to float32; that rounding is part of the
error measured). Conventions:

* a zero coefficient times an infinite ``-log p`` contributes 0 (``0·log 0 = 0``): a zero target
  probability at a ``-inf`` logit, a zero class weight, an ignored item;
* the binary cross-entropy is written as a sum of non-negative terms, so ``x = ±inf`` gives the
  limit (``0`` where the coefficient of ``|x|`` is 0, ``+inf`` otherwise);
* a row with NaN or ``+inf``, or all ``-inf``, has NaN log-probabilities.

Error measures (docs/numerics.md, "The bounds"): ``ulp_errors`` / ``ulp_error`` (ulps of the
output dtype, with the rule for outputs below the smallest normal), ``rel_error`` (reductions) and
``grad_errors`` (gradients: a fraction of the ulp-or-absolute target ``GRAD_BOUNDS``). The bounds
each function must meet are in tests/registry.py.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os

import numpy as np

__all__ = [
    "F64_REFERENCE",
    "GRAD_BOUNDS",
    "LONGDOUBLE_IS_EXTENDED",
    "MP",
    "MP_PREC",
    "bce_with_logits",
    "bce_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "grad_errors",
    "grad_hess",
    "log_sigmoid",
    "log_sigmoid_backward",
    "log_softmax",
    "log_softmax_backward",
    "logsumexp",
    "loss_work_dtype",
    "nll_loss",
    "out_dtype",
    "reference",
    "rel_error",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax",
    "softmax_backward",
    "softplus",
    "ulp_error",
    "ulp_errors",
    "work_dtype",
    "worst_report",
]

LONGDOUBLE_IS_EXTENDED = np.finfo(np.longdouble).nmant >= 63

# The float64 reference of the accuracy tests (test_accuracy.py and test_loss_accuracy.py run
# inside ``reference(F64_REFERENCE)``): np.longdouble where it is extended, mpmath where it is plain
# double, whose float64 results could not tell an error of a few ulps. LOGITKIT_TEST_ORACLE=mpmath
# takes the mpmath path on every platform (so an x86 machine can run what macOS and Windows run).
_ORACLE_ENV = os.environ.get("LOGITKIT_TEST_ORACLE", "")
if _ORACLE_ENV not in ("", "mpmath"):  # a misspelt value must not quietly test the other path
    raise ValueError(f"LOGITKIT_TEST_ORACLE={_ORACLE_ENV!r}: the one accepted value is 'mpmath'")
F64_REFERENCE = "mpmath" if _ORACLE_ENV == "mpmath" or not LONGDOUBLE_IS_EXTENDED else "longdouble"

# The mpmath work "dtype": object arrays of mpmath numbers of a private context (its precision
# is independent of mpmath.mp, which tests change). mpmath rather than a double-double: the
# oracle's formulas below run unchanged on these arrays (only the transcendental functions, the
# NaN/inf tests and the scalars go through the helpers of this module), so the fallback is the
# same code as the longdouble path rather than a second implementation, while a double-double
# would need its own exp, log and log1p good to 2^-100 and a rewrite of every formula. The price is
# microseconds per operation: the accuracy tests check a sample of their rows on this path.
MP = np.dtype(object)
# 256 bits: every formula below is free of cancellation except m/T + L (logsumexp) and the
# differences of the gradients, which lose the bits of their condition number; float64 inputs
# (106 bits for a pair) do not cancel by 200 bits, so the result keeps well over 64 bits, the
# precision of the longdouble path.
MP_PREC = 256
_F64_WORK = [np.dtype(np.longdouble)]  # the float64 work dtype now: longdouble, or MP


@contextlib.contextmanager
def reference(kind: str):
    """Compute float64 data in ``kind`` inside the block: 'longdouble' (np.longdouble, whatever
    its precision) or 'mpmath' (object arrays of MP_PREC-bit mpmath numbers)."""
    work = {"longdouble": np.dtype(np.longdouble), "mpmath": MP}[kind]
    before = _F64_WORK[0]
    _F64_WORK[0] = work
    try:
        yield
    finally:
        _F64_WORK[0] = before


@functools.cache
def _ctx():
    import mpmath

    ctx = mpmath.MPContext()
    ctx.prec = MP_PREC
    return ctx


def _mpf(v):
    """v (a Python or NumPy number, or an mpmath number) as an MP_PREC-bit mpmath number, exactly
    (a float64 or narrower float, or an integer)."""
    ctx = _ctx()
    if isinstance(v, (np.integer, np.bool_, bool)):
        return ctx.mpf(int(v))
    if isinstance(v, np.floating):
        return ctx.mpf(float(v))  # exact for float64 and narrower, MP's only float inputs
    return ctx.mpf(v)


_TO_MP = np.frompyfunc(_mpf, 1, 1)


def _to_work(a, W) -> np.ndarray:
    """a converted exactly to the work dtype W (an array, also for a 0-d a)."""
    a = np.asarray(a)
    if np.dtype(W) != MP:
        return a.astype(W)
    with np.errstate(all="ignore"):  # NaN and inf inputs convert, without a NumPy warning
        return np.asarray(_TO_MP(a), dtype=object)


def _scalar(W):
    """The scalar constructor of the work dtype W (a dtype or a NumPy scalar type)."""
    W = np.dtype(W)
    return _mpf if W == MP else W.type


def _is_mp(a) -> bool:
    return np.asarray(a).dtype == MP


def _mp_map(name, out=None):
    """The elementwise mpmath function ``name`` of the private context, on object arrays."""

    def f(a):
        with np.errstate(all="ignore"):  # mpmath returns NaN and inf; NumPy must not warn
            r = np.frompyfunc(getattr(_ctx(), name), 1, 1)(np.asarray(a))
        return np.asarray(r, dtype=out or object)

    return f


def _unary(np_func, mp_name, out=None):
    """np_func on NumPy arrays, mpmath's function of that name on MP (object) arrays."""
    mp_func = _mp_map(mp_name, out)

    def f(a):
        return mp_func(a) if _is_mp(a) else np_func(a)

    return f


_exp = _unary(np.exp, "exp")
_log = _unary(np.log, "log")
_log1p = _unary(np.log1p, "log1p")
_expm1 = _unary(np.expm1, "expm1")
_isnan = _unary(np.isnan, "isnan", bool)
_isinf = _unary(np.isinf, "isinf", bool)
_isfinite = _unary(np.isfinite, "isfinite", bool)


def _max(a, axis, keepdims=False):
    """np.max; on MP arrays NaN wins as in NumPy (an object maximum drops it)."""
    if not _is_mp(a):
        return np.max(a, axis=axis, keepdims=keepdims)
    m = np.max(a, axis=axis, keepdims=keepdims)
    return np.where(_isnan(a).any(axis=axis, keepdims=keepdims), _ctx().nan, m)


def _maximum(a, b):
    """np.maximum, NaN propagating on MP arrays too."""
    if not (_is_mp(a) or _is_mp(b)):
        return np.maximum(a, b)
    return np.where(_isnan(a) | _isnan(b), _ctx().nan, np.maximum(a, b))


def _logaddexp(a, b):
    """log(e^a + e^b) (np.logaddexp; on MP arrays max + log1p(exp(-|a - b|)), and a itself where a
    and b are the same infinity)."""
    if not (_is_mp(a) or _is_mp(b)):
        return np.logaddexp(a, b)
    same_inf = (a == b) & _isinf(a)
    d = np.where(same_inf, 0, a - b)
    return np.where(same_inf, a, _maximum(a, b) + _log1p(_exp(-np.abs(d))))


def _result(v, W):
    """A reduced (scalar) result: as it is in NumPy dtypes, a 0-d array on MP (so that it has
    .astype and a dtype like a NumPy scalar)."""
    return np.asarray(v, dtype=object) if np.dtype(W) == MP else v


# The gradient target of docs/numerics.md ("The bounds"), the unit of grad_errors:
# (ulps, absolute); an output passes if it meets either.
GRAD_BOUNDS = {np.dtype(np.float32): (8, 2.0**-24), np.dtype(np.float64): (16, 2.0**-53)}


# ----------------------------------------------------------------------------- dtypes


def out_dtype(dtype) -> np.dtype:
    """The dtype logitkit returns for an input dtype: the one np.exp returns (float16 stays)."""
    return np.exp(np.zeros(1, dtype=dtype)).dtype


def work_dtype(dtype) -> np.dtype:
    """The dtype the oracle computes in: float64 for float16/float32 outputs, longdouble (or MP
    inside ``reference("mpmath")``) for float64; data already in a wide work dtype (longdouble, MP:
    an intermediate result, e.g. the -x that log_sigmoid_backward hands to sigmoid) stays in it."""
    dtype = np.dtype(dtype)
    if dtype in (MP, np.dtype(np.longdouble)) and dtype != np.float64:
        return dtype
    if out_dtype(dtype) == np.float64:
        return _F64_WORK[0]
    return np.dtype(np.float64)


# ----------------------------------------------------------------------------- exact arithmetic

_SPLIT = {
    np.dtype(np.float64): 2.0**27 + 1,
    np.dtype(np.longdouble): float(2 ** ((np.finfo(np.longdouble).nmant + 2) // 2) + 1),
}


def _two_sum(a, b):
    """a + b = s + err exactly (Knuth), elementwise; err = 0 where s is not finite."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, np.where(_isfinite(s), err, 0)


def _two_prod(a, b):
    """a * b = p + err exactly (Dekker's product with Veltkamp splitting)."""
    c = np.asarray(a).dtype.type(_SPLIT[np.asarray(a).dtype])

    def split(v):
        t = c * v
        hi = t - (t - v)
        return hi, v - hi

    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def _scaled_diff(x, m, t):
    """(x - m) / t as an unevaluated sum hi + lo (|lo| <= ulp(hi)), for x, m, t of the work dtype.

    hi + lo is accurate to about 2^-2p |hi|; lo is 0 where hi is not finite. On MP arrays lo is 0:
    hi is within 2^-MP_PREC of (x - m)/t, relative, already.
    """
    if _is_mp(x):
        return (x - m) / t, 0
    hi, lo = _two_sum(x, -m)
    if t != 1:
        q = hi / t
        p, e = _two_prod(q, t)
        r = (hi - p) - e  # hi - q*t: hi - p is exact (Sterbenz), e is the product's low part
        lo = (r + lo) / t
        hi = q
    # (lo is also dropped where the split overflowed: |hi| > 2^970 makes it irrelevant)
    return hi, np.where(_isfinite(hi) & _isfinite(lo), lo, 0)


# ----------------------------------------------------------------------------- row-wise


def _prepare(x, axis, where):
    """x in the work dtype with the class axis last, and the mask (all True when where is None)."""
    x = np.asarray(x)
    if x.ndim == 0:  # a 0-d input is a row of one
        x = x.reshape(1)
        axis = -1
        if where is not None:
            where = np.asarray(where).reshape(1)
    w = work_dtype(x.dtype)
    xw = np.moveaxis(_to_work(x, w), axis, -1)  # exact: the work dtype holds every input value
    if where is None:
        mask = np.ones(xw.shape, dtype=bool)
    else:
        mask = np.moveaxis(np.broadcast_to(np.asarray(where, dtype=bool), x.shape), axis, -1)
    return xw, mask


def _mp_logsumexp(values, t) -> tuple[float, float]:
    """logsumexp(values / t) with mpmath, as a (hi, lo) pair of Python floats."""
    import mpmath

    with mpmath.workprec(400):
        v = [mpmath.mpf(float(a)) for a in values]
        tt = mpmath.mpf(float(t))
        m = max(v)
        s = mpmath.fsum(mpmath.exp((a - m) / tt) for a in v)
        r = m / tt + mpmath.log(s)
        hi = float(r)
        lo = float(r - hi)
    return hi, lo


def _row_oracle(x, axis, where, temperature):
    """All three row results (softmax, log_softmax, logsumexp) of x, class axis last, work dtype."""
    xw, mask = _prepare(x, axis, where)
    lead, n = xw.shape[:-1], xw.shape[-1]
    rows = int(np.prod(lead))
    r = _row_oracle_2d(xw.reshape(rows, n), mask.reshape(rows, n), temperature)
    return r[0].reshape(xw.shape), r[1].reshape(xw.shape), r[2].reshape(lead)


def _row_oracle_2d(xw, mask, temperature):
    """_row_oracle on a 2-D batch of rows."""
    w = _scalar(xw.dtype)
    t = w(1.0 if temperature is None else float(temperature))
    inf = w(np.inf)
    n = xw.shape[-1]
    with np.errstate(all="ignore"):
        xm = np.where(mask, xw, -inf)  # masked entries leave the row before any arithmetic
        n_valid = mask.sum(-1)
        nan_row = _isnan(xm).any(-1)
        pinf_row = (xm == inf).any(-1)
        neginf_row = (n_valid > 0) & np.all(xm == -inf, axis=-1)
        empty_row = n_valid == 0
        special = nan_row | pinf_row | neginf_row | empty_row

        if n == 0:
            sm = np.zeros(xw.shape, dtype=xw.dtype)
            return sm, sm.copy(), np.full(xw.shape[:-1], -inf, dtype=xw.dtype)

        # Regular rows; special rows are computed on a harmless stand-in and overwritten below.
        xs = np.where(special[..., None], w(0), xm)
        m = xs.max(axis=-1, keepdims=True)
        hi, lo = _scaled_diff(xs, m, t)
        lo = np.where(_isfinite(hi), lo, w(0))  # (x - m)/T overflowed: hi is the exact -inf limit
        e = _exp(hi) * (1 + lo)  # exp(hi + lo), |lo| tiny
        at_max = xs == m
        k = at_max.sum(-1).astype(xw.dtype)
        s_rest = np.where(at_max, w(0), e).sum(-1)  # S' = sum over the entries below the max
        L = np.where(k == 1, _log1p(s_rest), _log(k + s_rest))

        softmax_ = e / (k + s_rest)[..., None]
        log_softmax_ = (hi - L[..., None]) + lo
        lse = m[..., 0] / t + L

        # logsumexp cancels when m/T and L nearly cancel: recompute those rows with mpmath (MP
        # arrays already hold m/T + L to MP_PREC bits).
        cancel = ~special & (np.abs(lse) < np.abs(L) / 256) & (xw.dtype != MP)
        for idx in zip(*np.nonzero(cancel)):
            vals = xs[idx][mask[idx]]
            h, l = _mp_logsumexp(vals, t)
            lse[idx] = w(h) + w(l)

        # Special rows (docs/numerics.md, "Special values").
        bad = (nan_row | pinf_row | neginf_row) & ~empty_row
        softmax_ = np.where(bad[..., None], w(np.nan), softmax_)
        log_softmax_ = np.where(bad[..., None], w(np.nan), log_softmax_)
        lse = np.where(nan_row, w(np.nan), lse)
        lse = np.where(~nan_row & pinf_row, inf, lse)
        lse = np.where(neginf_row | empty_row, -inf, lse)
        # Masked entries: 0 / -inf whatever the row is.
        softmax_ = np.where(mask, softmax_, w(0))
        log_softmax_ = np.where(mask, log_softmax_, -inf)
    return softmax_, log_softmax_, lse


def _finish(r, x, axis):
    """Undo the axis move of a row result (x's original layout)."""
    x = np.asarray(x)
    if x.ndim == 0:
        return r.reshape(())
    return np.moveaxis(r, -1, axis)


def softmax(x, axis=-1, *, where=None, temperature=None):
    """exp((x_i - m)/T) / sum_j exp((x_j - m)/T) over the unmasked entries (exact, work dtype)."""
    return _finish(_row_oracle(x, axis, where, temperature)[0], x, axis)


def log_softmax(x, axis=-1, *, where=None, temperature=None):
    """(x_i - m)/T - log(sum_j exp((x_j - m)/T)) over the unmasked entries (exact, work dtype)."""
    return _finish(_row_oracle(x, axis, where, temperature)[1], x, axis)


def logsumexp(x, axis=-1, *, where=None, temperature=None, keepdims=False):
    """m/T + log(sum_j exp((x_j - m)/T)) over the unmasked entries (exact, work dtype)."""
    r = _row_oracle(x, axis, where, temperature)[2]
    x = np.asarray(x)
    if keepdims and x.ndim:
        r = np.expand_dims(r, axis)
    return r


# ----------------------------------------------------------------------------- elementwise


def _work(x):
    x = np.asarray(x)
    return _to_work(x, work_dtype(x.dtype))


def sigmoid(x):
    """1/(1 + e) for x >= 0, e/(1 + e) for x < 0, e = exp(-|x|)."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        e = _exp(-np.abs(xw))
        return np.where(xw >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        return _maximum(xw, 0) + _log1p(_exp(-np.abs(xw)))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (so log_sigmoid(+inf) = -0)."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        return -(_maximum(-xw, 0) + _log1p(_exp(-np.abs(xw))))


# ----------------------------------------------------------------------------- backward


def _work2(a, b):
    dt = np.result_type(np.asarray(a).dtype, np.asarray(b).dtype)
    w = work_dtype(dt)
    return _to_work(a, w), _to_work(b, w)


def softmax_backward(grad, y, axis=-1):
    """y * (g - sum(g * y)) along axis."""
    g, yw = _work2(grad, y)
    with np.errstate(all="ignore"):
        return yw * (g - np.sum(g * yw, axis=axis, keepdims=True))


def log_softmax_backward(grad, y, axis=-1):
    """g - exp(y) * sum(g) along axis."""
    g, yw = _work2(grad, y)
    with np.errstate(all="ignore"):
        return g - _exp(yw) * np.sum(g, axis=axis, keepdims=True)


def sigmoid_backward(grad, y):
    """g * y * (1 - y)."""
    g, yw = _work2(grad, y)
    with np.errstate(all="ignore"):
        return g * yw * (1 - yw)


def log_sigmoid_backward(grad, x):
    """g * sigmoid(-x)."""
    g, xw = _work2(grad, x)
    with np.errstate(all="ignore"):
        return g * sigmoid(-xw)


# ============================================================================= losses


def loss_work_dtype(dtype) -> np.dtype:
    """The losses' work dtype: longdouble (or MP inside ``reference("mpmath")``) for float64 data,
    float64 for everything else."""
    return _F64_WORK[0] if np.dtype(dtype) == np.float64 else np.dtype(np.float64)


def _w(a, W):
    return _to_work(a, W)


def _zero_times(a, b):
    """a·b elementwise, with 0·(±inf) = 0: a zero coefficient contributes nothing."""
    return np.where(a == 0, 0, a * b)


def _reduce(per_item, denom, reduction):
    """'none': the items; 'sum': their sum; 'mean': sum / denom (0/0 -> NaN, as in torch)."""
    if reduction == "none":
        return per_item
    total = per_item.sum()
    if reduction == "sum":
        return _result(total, per_item.dtype)
    if denom == 0:
        return _result(_scalar(per_item.dtype)(np.nan), per_item.dtype)
    return _result(total / denom, per_item.dtype)


def _mean_scale(denom, reduction, W):
    """The factor d(reduced loss)/d(item loss) (the sample weight aside)."""
    c = _scalar(W)
    if reduction != "mean":
        return c(1)
    return c(0) if denom == 0 else c(1) / denom  # all-zero items: zero gradient


# ----------------------------------------------------------------------------- softmax rows


def _log_softmax_last(xw):
    """(log p, p) along the last axis of xw (work dtype).

    log p_c = (x_c - m) - log(k + S'), with m the row max, k the number of entries equal to m and
    S' the sum of exp(x_j - m) over the others; log(k + S') is log1p(S') when k = 1, so the tiny
    part of the sum is kept (confident rows). x_c - m is computed in the wide work dtype.
    """
    W = _scalar(xw.dtype)
    with np.errstate(all="ignore"):
        m = _max(xw, axis=-1, keepdims=True)
        bad = ~_isfinite(m)  # +inf in the row, NaN in the row, or every entry -inf
        d = xw - np.where(bad, W(0), m)
        e = _exp(d)
        top = d == 0
        k = top.sum(axis=-1, keepdims=True).astype(xw.dtype)
        rest = np.where(top, W(0), e).sum(axis=-1, keepdims=True)
        L = np.where(k == 1, _log1p(rest), _log(k + rest))
        lp = np.where(bad, W(np.nan), d - L)
        p = np.where(bad, W(np.nan), e / (k + rest))
    return lp, p


def _sigmoid_same(x):
    """1/(1 + e^-x), computed as 1/(1+e) or e/(1+e) with e = exp(-|x|) (no overflow)."""
    with np.errstate(all="ignore"):
        e = _exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# ----------------------------------------------------------------------------- cross-entropy


def _target_coefficients(target, C, axis, W, weight, ignore_index, label_smoothing, item_shape):
    """The coefficients a_ic of -log p_ic in the item loss (class axis last), and each hard item's
    weight w_i (0 if ignored; None for soft labels), in the work dtype W.

    Hard label t_i:  a_ic = (1-ε)·w_{t_i}·[c = t_i] + (ε/C)·w_c   (all 0 when t_i is ignored),
                     i.e. (1-ε)·ℓ_i + (ε/C)·s_i of docs/semantics.md, "Cross-entropy".
    Soft target y_i: a_ic = w_c·((1-ε)·y_ic + ε/C).
    """
    c = _scalar(W)
    eps = c(label_smoothing)
    wc = _w(np.ones(C), W) if weight is None else _w(weight, W)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        t = target.astype(np.int64)
        ignored = t == ignore_index
        tt = np.where(ignored, 0, t)
        w_item = np.where(ignored, c(0), wc[tt])
        onehot = np.arange(C) == tt[..., None]
        a = (1 - eps) * w_item[..., None] * onehot + eps / C * wc
        a = np.where(ignored[..., None], c(0), a)
        return a, w_item
    y = np.moveaxis(_w(target, W), axis, -1)
    return wc * ((1 - eps) * y + eps / C), None


def _ce_parts(
    logits, target, axis, weight, ignore_index, label_smoothing, sample_weight, temperature=1.0
):
    """Per-item losses (sample weight applied), the mean's denominator, and for the gradient the
    coefficients a (class last), the probabilities p (class last) and the sample weights.
    temperature: the loss of logits/temperature, the division done in the work dtype."""
    x = np.asarray(logits)
    W = loss_work_dtype(x.dtype)
    xl = np.moveaxis(_w(x, W), axis, -1)
    if temperature != 1.0:
        xl = xl / _scalar(W)(temperature)
    C = xl.shape[-1]
    item_shape = xl.shape[:-1]
    lp, p = _log_softmax_last(xl)
    a, w_item = _target_coefficients(
        target, C, axis, W, weight, ignore_index, label_smoothing, item_shape
    )
    with np.errstate(all="ignore"):
        # an ignored item has a = 0: it adds 0 whatever its logits
        per_item = _zero_times(a, -lp).sum(axis=-1)
    sw = (
        _w(np.ones(item_shape), W)
        if sample_weight is None
        else np.broadcast_to(_w(sample_weight, W), item_shape)
    )
    per_item = per_item * sw
    if w_item is not None:
        denom = (w_item * sw).sum()  # Σ sample_weight_i · w_i
    elif sample_weight is not None:
        denom = sw.sum()  # soft labels: Σ sample_weight (how items are masked)
    else:
        denom = _scalar(W)(int(np.prod(item_shape)))  # soft labels: the number of items
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
    temperature=1.0,
):
    """cross_entropy (hard or soft labels; docs/semantics.md, "Cross-entropy"), work dtype; of
    logits/temperature."""
    per_item, denom, _, _, _ = _ce_parts(
        logits, target, axis, weight, ignore_index, label_smoothing, sample_weight, temperature
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
    temperature=1.0,
):
    """d(reduced loss)/d logits. The item loss Σ_c a_c·(-log p_c) has the gradient
    p_c·Σ_j a_j - a_c; each item's gradient is scaled by its sample weight and, for 'mean', divided
    by the mean's denominator ('none': the gradient of the sum of the items). With a temperature T
    (p of logits/T) the gradient with respect to the raw logits is that divided by T (so is s).

    with_scale: also return the gradient's scale s = |sample weight · factor|·Σ_j a_j per element
    (the gradient is s·(p_c - a_c/Σa), the bracket in [-1, 1]; see grad_errors)."""
    per_item, denom, a, p, sw = _ce_parts(
        logits, target, axis, weight, ignore_index, label_smoothing, sample_weight, temperature
    )
    W = per_item.dtype
    scale = sw * _mean_scale(denom, reduction, W) / _scalar(W)(temperature)
    with np.errstate(all="ignore"):
        A = a.sum(axis=-1, keepdims=True)
        # an item whose coefficients are all 0 (ignored) has the constant loss 0: gradient 0
        g = np.where(A == 0, _scalar(W)(0), scale[..., None] * (p * A - a))
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
    W = loss_work_dtype(lpx.dtype)
    lp = np.moveaxis(_w(lpx, W), axis, -1)
    C = lp.shape[-1]
    a, w_item = _target_coefficients(
        target, C, axis, W, weight, ignore_index, label_smoothing, lp.shape[:-1]
    )
    sw = (
        _w(np.ones(lp.shape[:-1]), W)
        if sample_weight is None
        else np.broadcast_to(_w(sample_weight, W), lp.shape[:-1])
    )
    with np.errstate(all="ignore"):
        per_item = _zero_times(a, -lp).sum(axis=-1) * sw
        return _reduce(per_item, (w_item * sw).sum(), reduction)


# ----------------------------------------------------------------------------- binary


def _bce_parts(logits, target, weight, pos_weight, label_smoothing, temperature=1.0, bias=0.0):
    """(loss, grad, hess) per element, work dtype.

    With y' = (1-ε)·y + ε/2, 1-y' = (1-ε)·(1-y) + ε/2 (no cancellation), pos_weight P and
    c = 1 + (P-1)·y' = (1-y') + P·y':
      ℓ = (1-y')·x + c·softplus(-x)
        = (1-y')·|x| + c·log1p(e^-|x|)   for x >= 0
        = P·y'·|x|   + c·log1p(e^-|x|)   for x <  0     (softplus(-x) = |x| + log1p(e^-|x|))
      dℓ/dx = c·σ(x) - P·y' = (1-y')·σ(x) - P·y'·σ(-x)
      d²ℓ/dx² = c·σ(x)·σ(-x)
    all times weight; the gradient's scale |weight|·c is returned too (see grad_errors).
    temperature T, bias b (numbers or broadcasting arrays): x above is z = logits/T + b, formed in
    the work dtype; the derivatives are with respect to the raw logits (dℓ/dz / T, d²ℓ/dz² / T²).
    """
    x = np.asarray(logits)
    W = loss_work_dtype(x.dtype)
    xw = _w(x, W)
    Tw = _w(temperature, W)
    xw = xw / Tw + _w(bias, W)
    y = _w(target, W)
    c = _scalar(W)
    eps = c(label_smoothing)
    yp = (1 - eps) * y + eps / 2
    ym = (1 - eps) * (1 - y) + eps / 2
    P = c(1) if pos_weight is None else _w(pos_weight, W)
    w = c(1) if weight is None else _w(weight, W)
    with np.errstate(all="ignore"):
        ax = np.abs(xw)
        lg = _log1p(_exp(-ax))
        c = ym + P * yp
        lin = np.where(xw >= 0, _zero_times(ym, ax), _zero_times(P * yp, ax))
        loss = w * (lin + c * lg)
        s_pos, s_neg = _sigmoid_same(xw), _sigmoid_same(-xw)
        grad = w * (ym * s_pos - P * yp * s_neg) / Tw
        hess = w * c * s_pos * s_neg / (Tw * Tw)
        scale = np.abs(w) * c / Tw
        shape = np.broadcast_shapes(loss.shape, x.shape)
    return (
        np.broadcast_to(loss, shape),
        np.broadcast_to(grad, shape),
        np.broadcast_to(hess, shape),
        np.broadcast_to(scale, shape),
    )


def bce_with_logits(
    logits,
    target,
    *,
    weight=None,
    pos_weight=None,
    label_smoothing=0.0,
    reduction="mean",
    temperature=1.0,
    bias=0.0,
):
    """binary_cross_entropy_with_logits (docs/semantics.md, "BCE with logits");
    'mean' divides by the element count. Of logits/temperature + bias."""
    loss, _, _, _ = _bce_parts(
        logits, target, weight, pos_weight, label_smoothing, temperature, bias
    )
    with np.errstate(all="ignore"):
        return _reduce(loss, _scalar(loss.dtype)(loss.size), reduction)


def bce_with_logits_grad(
    logits,
    target,
    *,
    weight=None,
    pos_weight=None,
    label_smoothing=0.0,
    reduction="mean",
    with_scale=False,
    temperature=1.0,
    bias=0.0,
):
    """dℓ/dx of the reduction (x the raw logits); with_scale: also the gradient's scale
    |weight|·c·factor."""
    loss, grad, _, scale = _bce_parts(
        logits, target, weight, pos_weight, label_smoothing, temperature, bias
    )
    f = _mean_scale(_scalar(loss.dtype)(loss.size), reduction, loss.dtype)
    return (grad * f, scale * f) if with_scale else grad * f


# ----------------------------------------------------------------------------- focal


def _focal_parts(logits, target, alpha, gamma, temperature=1.0, bias=0.0):
    """torchvision.ops.sigmoid_focal_loss, elementwise:
        p = σ(x); ce = BCE-with-logits(x, y); p_t = p·y + (1-p)·(1-y)
        loss = ce·(1 - p_t)^γ, times α_t = α·y + (1-α)·(1-y) when α >= 0.
    q = 1 - p_t = p·(1-y) + (1-p)·y is computed from σ(x) and σ(-x) (no cancellation).
    Gradient: α_t·[(p - y)·q^γ + ce·γ·q^γ·(p(1-p)/q)·(1-2y)] (dq/dx = p(1-p)(1-2y)).
    """
    x = np.asarray(logits)
    W = loss_work_dtype(x.dtype)
    Tw = _w(temperature, W)
    xw = _w(x, W) / Tw + _w(bias, W)  # z; dce below is already (dℓ/dz)/T
    y = _w(target, W)
    ce, dce, _, _ = _bce_parts(x, target, None, None, 0.0, temperature, bias)
    with np.errstate(all="ignore"):
        p, pm = _sigmoid_same(xw), _sigmoid_same(-xw)
        q = p * (1 - y) + pm * y
        c = _scalar(W)
        g = c(gamma)
        mod = q**g  # 0**0 = 1
        r = np.where(q > 0, p * pm / q, c(0))
        loss = ce * mod
        grad = dce * mod + ce * g * mod * r * (1 - 2 * y) / Tw
        if alpha >= 0:
            a_t = c(alpha) * y + (1 - c(alpha)) * (1 - y)
            loss = a_t * loss
            grad = a_t * grad
    return loss, grad


def sigmoid_focal_loss(
    logits, target, *, alpha=0.25, gamma=2.0, reduction="none", temperature=1.0, bias=0.0
):
    loss, _ = _focal_parts(logits, target, alpha, gamma, temperature, bias)
    with np.errstate(all="ignore"):
        return _reduce(loss, _scalar(loss.dtype)(loss.size), reduction)


def sigmoid_focal_loss_grad(
    logits, target, *, alpha=0.25, gamma=2.0, reduction="none", temperature=1.0, bias=0.0
):
    loss, grad = _focal_parts(logits, target, alpha, gamma, temperature, bias)
    return grad * _mean_scale(_scalar(loss.dtype)(loss.size), reduction, loss.dtype)


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
    temperature=1.0,
    bias=0.0,
):
    """Per-element gradient and diagonal Hessian of the per-item loss (no reduction), of
    logits/temperature (+ bias, binary), with respect to the raw logits.

    multiclass: item loss Σ_c a_c·(-log p_c) (times the sample weight):
        grad_c = sw·(p_c·A - a_c), hess_c = sw·A·p_c·(1 - p_c), A = Σ_c a_c
        (= w·(p - y) and w·p(1-p) without smoothing; 0 for ignored items).
    binary: the BCE derivatives of _bce_parts.
    with_scale: also the scale of both (sw·A, or |weight|·c; see grad_errors).
    """
    if family == "binary":
        _, g, h, s = _bce_parts(
            logits, target, weight, pos_weight, label_smoothing, temperature, bias
        )
        return (g, h, s) if with_scale else (g, h)
    x = np.asarray(logits)
    _, _, a, p, sw = _ce_parts(
        x, target, axis, weight, ignore_index, label_smoothing, sample_weight, temperature
    )
    with np.errstate(all="ignore"):
        c = _scalar(p.dtype)
        Tw = c(temperature)
        A = a.sum(axis=-1, keepdims=True)
        g = np.where(A == 0, c(0), sw[..., None] * (p * A - a) / Tw)
        h = np.where(A == 0, c(0), sw[..., None] * A * p * (1 - p) / (Tw * Tw))
        s = np.broadcast_to(np.abs(sw[..., None]) * A / Tw, g.shape)
    g, h, s = (np.moveaxis(v, -1, axis) for v in (g, h, s))
    return (g, h, s) if with_scale else (g, h)


# ============================================================================= error measures


# ----------------------------------------------------------------------------- divergences


def _rows_last(x, axis, temperature, where=None):
    """(log p, p) of softmax(x/temperature) along axis, moved last, in the losses' work dtype."""
    x = np.asarray(x)
    W = loss_work_dtype(x.dtype if x.dtype.kind == "f" else np.float64)
    xw = np.moveaxis(_to_work(x, W), axis, -1) / _scalar(W)(temperature)
    if where is not None:
        mask = np.moveaxis(np.broadcast_to(np.asarray(where), x.shape), axis, -1)
        xw = np.where(mask, xw, _scalar(W)(-np.inf))
    return _log_softmax_last(xw)


def _divergence_reduce(per_row, reduction, rows, classes):
    if reduction == "none":
        return per_row
    total = per_row.sum()
    if reduction == "sum":
        return _result(total, per_row.dtype)
    return _result(total / (rows * classes if reduction == "mean" else rows), per_row.dtype)


def entropy(x, *, axis=-1, temperature=1.0, where=None, reduction="none"):
    """H(softmax(x/T)) = -Σ p log p per row (0·log 0 = 0), work dtype."""
    lp, p = _rows_last(x, axis, temperature, where)
    with np.errstate(all="ignore"):
        h = -_zero_times(p, lp).sum(axis=-1)
    if reduction == "none":
        return h
    return _result(h.sum() if reduction == "sum" else h.sum() / h.size, h.dtype)


def entropy_grad(x, *, axis=-1, temperature=1.0, where=None, reduction="none"):
    """dH/dx = -(p/T)·(log p + H) per row (0 where p = 0), divided by the rows for 'mean'."""
    lp, p = _rows_last(x, axis, temperature, where)
    W = _scalar(p.dtype)
    with np.errstate(all="ignore"):
        h = -_zero_times(p, lp).sum(axis=-1, keepdims=True)
        g = np.where(p == 0, W(0), -(p / W(temperature)) * (lp + h))
    if reduction == "mean":
        g = g / W(h.size)
    return np.moveaxis(g, -1, axis)


def kl_divergence(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="batchmean"):
    """KL(softmax(p/T) || softmax(q/T)) = Σ p (log p - log q) per row (p = 0 adds 0; q = 0 where
    p > 0 gives +inf), work dtype."""
    lp, p = _rows_last(p_logits, axis, temperature)
    lq, _ = _rows_last(q_logits, axis, temperature)
    with np.errstate(all="ignore"):
        kl = _zero_times(p, lp - lq).sum(axis=-1)
    return _divergence_reduce(kl, reduction, kl.size, p.shape[-1])


def kl_divergence_grad(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="batchmean"):
    """dKL/dq_logits = (q - p)/T per row, times the reduction's factor."""
    _, p = _rows_last(p_logits, axis, temperature)
    _, q = _rows_last(q_logits, axis, temperature)
    W = _scalar(p.dtype)
    rows, C = p.size // p.shape[-1], p.shape[-1]
    factor = {"batchmean": W(1) / W(rows), "mean": W(1) / W(rows * C)}.get(reduction, W(1))
    with np.errstate(all="ignore"):
        g = (q - p) * (factor / W(temperature))
    return np.moveaxis(g, -1, axis)


def _mp_js_row(a, b, t) -> tuple[float, float]:
    """JS of one pair of rows of finite logits or -inf (softmax(a/t), softmax(b/t)) with mpmath at
    400 bits, as a (hi, lo) pair of Python floats."""
    import mpmath

    with mpmath.workprec(400):
        tt = mpmath.mpf(float(t))

        def log_probs(v):
            z = [mpmath.mpf(float(u)) / tt if float(u) != -np.inf else None for u in v]
            m = max(w for w in z if w is not None)
            L = m + mpmath.log(mpmath.fsum(mpmath.exp(w - m) for w in z if w is not None))
            return [None if w is None else w - L for w in z]

        terms = []
        for la, lb in zip(log_probs(a), log_probs(b), strict=True):
            p = mpmath.exp(la) if la is not None else mpmath.mpf(0)
            q = mpmath.exp(lb) if lb is not None else mpmath.mpf(0)
            m = (p + q) / 2
            if p > 0:
                terms.append(p * mpmath.log(p / m) / 2)
            if q > 0:
                terms.append(q * mpmath.log(q / m) / 2)
        r = mpmath.fsum(terms)
        hi = float(r)
        lo = float(r - hi)
    return hi, lo


def js_divergence(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="none"):
    """JS = ½ Σ p log(2p/(p + q)) + ½ Σ q log(2q/(p + q)) per row (0·log 0 = 0), work dtype.
    Rows whose terms cancel to a JS far below their rounding's reach (nearly equal rows, or two
    nearly one-hot rows at the same class: JS of 1e-12 from terms of 1e-6, where the work dtype's
    log m is off by an ulp of its own size) are recomputed with mpmath."""
    lp, p = _rows_last(p_logits, axis, temperature)
    lq, q = _rows_last(q_logits, axis, temperature)
    W = _scalar(p.dtype)
    with np.errstate(all="ignore"):
        lm = _logaddexp(lp, lq) - _log(W(2))  # log m
        js = W(0.5) * (_zero_times(p, lp - lm).sum(axis=-1) + _zero_times(q, lq - lm).sum(axis=-1))
        if js.dtype != MP:
            # each term's rounding reaches about an ulp of p·(|log p| + |log m| + log 2) (log m is
            # formed as log(2·m) - log 2, which cancels where m is near 1)
            ln2 = _log(W(2))
            size = (
                _zero_times(p, np.abs(lp) + np.abs(lm) + ln2)
                + _zero_times(q, np.abs(lq) + np.abs(lm) + ln2)
            ).sum(-1)
            redo = np.isfinite(js) & np.isfinite(size) & (js < size * W(2.0**-10))
    if js.dtype != MP and np.any(redo):
        xs = np.moveaxis(np.asarray(p_logits), axis, -1)
        ys = np.moveaxis(np.asarray(q_logits), axis, -1)
        js = np.array(js)
        for idx in np.ndindex(js.shape):
            if redo[idx]:
                h, lo = _mp_js_row(xs[idx], ys[idx], temperature)
                js[idx] = W(h) + W(lo)
        js = js[()]
    if reduction == "none":
        return js
    if reduction == "mean" and np.size(js) == 0:
        return _mean_of_nothing(np.asarray(js).dtype)
    return _result(js.sum() if reduction == "sum" else js.sum() / js.size, js.dtype)


def js_divergence_grad(p_logits, q_logits, *, axis=-1, temperature=1.0, reduction="none"):
    """dJS/dq_logits = (q/(2T))·(log(q/m) - Σ q log(q/m)) per row, divided by the rows for 'mean'."""
    lp, p = _rows_last(p_logits, axis, temperature)
    lq, q = _rows_last(q_logits, axis, temperature)
    W = _scalar(p.dtype)
    with np.errstate(all="ignore"):
        lm = _logaddexp(lp, lq) - _log(W(2))
        lqm = np.where(q == 0, 0, lq - lm)
        kl = (q * lqm).sum(axis=-1, keepdims=True)
        g = q / (W(2) * W(temperature)) * (lqm - kl)
    if reduction == "mean":
        g = g / W(g.size // g.shape[-1])
    return np.moveaxis(g, -1, axis)


def distillation_loss(
    student,
    teacher,
    target=None,
    *,
    temperature=1.0,
    alpha=None,
    axis=-1,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
):
    """alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) (batchmean for 'mean') + (1 - alpha)·CE(s, target)
    (its own mean over the counted items), from kl_divergence and cross_entropy above."""
    a = (1.0 if target is None else 0.5) if alpha is None else alpha
    T = temperature
    kl_red = {"mean": "batchmean"}.get(reduction, reduction)
    kl = kl_divergence(teacher, student, axis=axis, temperature=T, reduction=kl_red)
    dt = np.asarray(kl).dtype
    W = _scalar(dt)
    out = W(a * T * T) * kl
    if a < 1.0:
        ce = cross_entropy(
            student,
            target,
            axis=axis,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )
        out = out + W(1.0 - a) * np.asarray(ce, dtype=dt)
    return out


def distillation_loss_grad(
    student,
    teacher,
    target=None,
    *,
    temperature=1.0,
    alpha=None,
    axis=-1,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
):
    """d distillation_loss / d student: alpha·T²·dKL/dq + (1 - alpha)·dCE/dx."""
    a = (1.0 if target is None else 0.5) if alpha is None else alpha
    T = temperature
    kl_red = {"mean": "batchmean", "none": "sum"}.get(reduction, reduction)
    g = kl_divergence_grad(teacher, student, axis=axis, temperature=T, reduction=kl_red)
    dt = g.dtype
    W = _scalar(dt)
    g = W(a * T * T) * g
    if a < 1.0:
        gc = cross_entropy_grad(
            student,
            target,
            axis=axis,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )
        g = g + W(1.0 - a) * np.asarray(gc, dtype=dt)
    return g


def _bernoulli(x, temperature):
    """(z, p, 1 - p, softplus(-z), softplus(z)) of z = x/T elementwise, the losses' work dtype;
    softplus(±z) = -log p, -log(1 - p), with no 1 - p formed by subtraction."""
    x = np.asarray(x)
    W = loss_work_dtype(x.dtype if x.dtype.kind == "f" else np.float64)
    z = _to_work(x, W) / _scalar(W)(temperature)
    with np.errstate(all="ignore"):
        e = _exp(-np.abs(z))
        p = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        r = np.where(z >= 0, e / (1 + e), 1 / (1 + e))
        sp_neg = _log1p(e) + _maximum(-z, 0)  # softplus(-z)
        sp_pos = _log1p(e) + _maximum(z, 0)  # softplus(z)
    return z, p, r, sp_neg, sp_pos


def _mean_of_nothing(W):
    """The mean of no elements: NaN, as the library (and PyTorch) give."""
    return _result(_ctx().nan if np.dtype(W) == MP else np.dtype(W).type(np.nan), W)


def _elementwise_reduce(v, reduction):
    if reduction == "none":
        return v
    if reduction == "sum":
        return _result(v.sum(), v.dtype)
    n = (v.shape[0] if v.ndim else 1) if reduction == "batchmean" else v.size
    if n == 0:
        return _mean_of_nothing(v.dtype)
    return _result(v.sum() / n, v.dtype)


def binary_entropy(x, *, temperature=1.0, reduction="none"):
    """H(sigmoid(x/T)) = p·softplus(-z) + (1 - p)·softplus(z) elementwise (0 at ±inf)."""
    z, p, r, spn, spp = _bernoulli(x, temperature)
    with np.errstate(all="ignore"):
        h = np.where(_isinf(z), 0, _zero_times(p, spn) + _zero_times(r, spp))
    return _elementwise_reduce(h, reduction)


def binary_entropy_grad(x, *, temperature=1.0, reduction="none"):
    """dH/dx = -(z·p·(1 - p))/T, divided by the elements for 'mean'."""
    z, p, r, _, _ = _bernoulli(x, temperature)
    W = _scalar(p.dtype)
    with np.errstate(all="ignore"):
        g = np.where(_isinf(z), W(0), -(z * p * r) / W(temperature))
    return g / W(g.size) if reduction == "mean" else g


def _t_minus_1_minus_log_t(d, log_t):
    """h(t) = t - 1 - log t >= 0 with d = t - 1: by its alternating series in d for |d| < 1/2 (no
    cancellation), else from log t given directly (1 + d may have lost t's digits when t << 1)."""
    with np.errstate(all="ignore"):
        direct = d - log_t
        small = np.abs(d) < 0.5
        ds = np.where(small, d, 0)
        term, series = ds * ds, np.zeros_like(ds)
        for k in range(2, 70):
            series = series + term / k
            term = -term * ds
        return np.where(small, series, direct)


def binary_kl_divergence(p_logits, q_logits, *, temperature=1.0, reduction="mean"):
    """KL(Bern(p) || Bern(q)) elementwise as p·h(q/p) + (1 - p)·h((1 - q)/(1 - p)) with
    h(t) = t - 1 - log t >= 0 (the linear parts cancel exactly), t - 1 from q - p formed without
    cancellation (σ(a)·σ(-b)·expm1(b - a) for logits within 1, else on the side where p and q are
    small), log t from the softplus forms of the logs; infinite logits by their limits."""
    za, p, pr, a_n, a_p = _bernoulli(p_logits, temperature)
    zb, q, qr, b_n, b_p = _bernoulli(q_logits, temperature)
    with np.errstate(all="ignore"):
        far = np.where(za + zb > 0, pr - qr, q - p)
        q_minus_p = np.where(np.abs(zb - za) <= 1, p * qr * _expm1(zb - za), far)
        # w·h(v/w) -> v as the weight w underflows to 0 (p or 1 - p), whatever v is
        t1 = p * _t_minus_1_minus_log_t(q_minus_p / p, a_n - b_n)
        t2 = pr * _t_minus_1_minus_log_t(-q_minus_p / pr, a_p - b_p)
        kl = np.where(p == 0, q, t1) + np.where(pr == 0, qr, t2)
        # infinite logits: P or Q certain. P certain: -log q of its class; Q certain and P not the
        # same: +inf; the same certainty: 0
        kl = np.where(_isinf(za), np.where(za > 0, b_n, b_p), kl)
        kl = np.where(_isinf(zb), np.where(za == zb, 0, np.inf), kl)
        kl = np.where(_isnan(za) | _isnan(zb), np.nan, kl)
    return _elementwise_reduce(kl.astype(p.dtype), reduction)


def binary_kl_divergence_grad(p_logits, q_logits, *, temperature=1.0, reduction="mean"):
    """dKL/dq_logits = (q - p)/T elementwise, times the reduction's factor."""
    _, p, pr, _, _ = _bernoulli(p_logits, temperature)
    _, q, qr, _, _ = _bernoulli(q_logits, temperature)
    W = _scalar(p.dtype)
    n = {"mean": q.size, "batchmean": q.shape[0] if q.ndim else 1}.get(reduction, 1)
    with np.errstate(all="ignore"):
        d = np.where(p + q > 1, pr - qr, q - p)  # on the side where both are small
        return d / W(temperature) / W(n)


def ulp_errors(got, exact, dtype) -> np.ndarray:
    """Elementwise error of got against exact, in ulps of dtype (float64 array).

    * where |exact| >= the smallest normal of dtype: |got - exact| / ulp(exact);
    * below it: |got - exact| / (2 * smallest subnormal), so the docs/numerics.md target
      ("The bounds") "absolute error
      2 x the smallest subnormal" reads as <= 1;
    * NaN must match NaN (0 if both, inf if only one is NaN);
    * where exact rounds to +-inf in dtype, got must be that inf (0 or inf); an inf got against a
      finite exact is inf.
    """
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    got = np.asarray(got)
    exact = np.asarray(exact)
    if _is_mp(exact):
        return _ulp_errors_mp(got, exact, fi)
    w = _wide(dtype)
    got, exact = np.broadcast_arrays(got, exact)
    with np.errstate(all="ignore"):
        g = got.astype(w)
        e = exact.astype(w)
        e_rounded = exact.astype(dtype)
        err = np.zeros(g.shape, dtype=np.float64)

        nan_g, nan_e = np.isnan(g), np.isnan(e)
        err[nan_g != nan_e] = np.inf
        inf_e = ~nan_e & np.isinf(e_rounded)  # exact is, or rounds to, an infinity
        err[inf_e & (g.astype(dtype) != e_rounded)] = np.inf
        err[~nan_e & ~inf_e & ~nan_g & np.isinf(g)] = np.inf

        fin = ~nan_e & ~inf_e & ~nan_g & np.isfinite(g)
        ae = np.abs(e[fin])
        diff = np.abs(g[fin] - e[fin])
        _, ex = np.frexp(ae)  # ae = f * 2^ex, f in [0.5, 1): ulp = 2^(ex - 1 - nmant)
        ulp = np.ldexp(w.type(1), (ex - 1 - fi.nmant).astype(np.int32))
        unit = np.where(ae >= w.type(fi.smallest_normal), ulp, w.type(2 * fi.smallest_subnormal))
        err[fin] = (diff / unit).astype(np.float64)
    return err


def _wide(dtype) -> np.dtype:
    """The NumPy type wider than dtype that the measures below compute in (for a NumPy exact)."""
    return np.dtype(np.longdouble) if out_dtype(dtype) == np.float64 else np.dtype(np.float64)


def _to_float(v) -> float:
    """An mpmath number as the nearest float (±inf beyond float64's range, where float() raises)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _ulp_errors_mp(got, exact, fi) -> np.ndarray:
    """ulp_errors against an MP exact, element by element in mpmath (the same rules)."""
    ctx = _ctx()
    # exact rounds to an infinity from max + half its ulp on (the tie goes to the even 2^maxexp)
    to_inf = _mpf(float(fi.max)) + ctx.ldexp(1, fi.maxexp - fi.nmant - 2)
    normal = _mpf(float(fi.smallest_normal))
    sub_unit = 2 * _mpf(float(fi.smallest_subnormal))

    def one(g, e):
        g, e = float(g), _mpf(e)
        if ctx.isnan(e) or math.isnan(g):
            return 0.0 if ctx.isnan(e) and math.isnan(g) else math.inf
        if abs(e) >= to_inf:  # exact is, or rounds to, an infinity: got must be it
            return 0.0 if g == (math.inf if e > 0 else -math.inf) else math.inf
        if math.isinf(g):
            return math.inf
        ae = abs(e)
        # ae = f * 2^ex, f in [0.5, 1): ulp = 2^(ex - 1 - nmant)
        unit = ctx.ldexp(1, ctx.frexp(ae)[1] - 1 - fi.nmant) if ae >= normal else sub_unit
        return _to_float(abs(ctx.mpf(g) - e) / unit)

    with np.errstate(all="ignore"):
        return np.asarray(np.frompyfunc(one, 2, 1)(got, exact), dtype=np.float64)


def ulp_error(got, exact, dtype) -> float:
    """Max of ulp_errors (0 for empty arrays)."""
    err = ulp_errors(got, exact, dtype)
    return float(err.max()) if err.size else 0.0


def rel_error(got, exact) -> float:
    """|got - exact| / |exact| for reductions (0 when both are equal, including inf and NaN)."""
    if _is_mp(exact):
        ctx = _ctx()
        g, e = _mpf(float(np.asarray(got))), _mpf(np.asarray(exact)[()])
        if (ctx.isnan(g) and ctx.isnan(e)) or g == e:
            return 0.0
        return math.inf if e == 0 else _to_float(abs(g - e) / abs(e))
    g = np.asarray(got).astype(np.longdouble)
    e = np.asarray(exact).astype(np.longdouble)
    if (np.isnan(g) and np.isnan(e)) or g == e:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.abs(g - e) / np.abs(e))


def grad_errors(got, exact, dtype, scale=None) -> np.ndarray:
    """Gradient errors as a fraction of the docs/numerics.md target (<= 1 passes): the smaller of
    ulps / GRAD_BOUNDS ulps and |error| / (GRAD_BOUNDS absolute · max(1, scale)).

    The absolute bound is for a gradient of unit scale (p - y, σ - y, entries in [-1, 1]); where
    weights multiply the gradient by scale > 1 (class weight, sample weight, pos_weight, the
    smoothing mix, a 'sum' over weighted items) its absolute error scales with it. scale < 1 (e.g.
    'mean') never tightens the bound. scale=None: the plain target."""
    dtype = np.dtype(dtype)
    ulps, absolute = GRAD_BOUNDS[dtype]
    ue = ulp_errors(got, exact, dtype) / ulps
    if _is_mp(exact):
        return np.minimum(ue, _abs_errors_mp(got, exact, absolute, scale))
    w = _wide(dtype)
    got, exact = np.broadcast_arrays(np.asarray(got), np.asarray(exact))
    bound = w.type(absolute)
    if scale is not None:
        bound = bound * np.maximum(1, np.asarray(scale).astype(w))
    with np.errstate(all="ignore"):
        ae = np.abs(got.astype(w) - exact.astype(w)) / bound
    ae = np.where(np.isnan(ae), np.inf, ae.astype(np.float64))
    return np.minimum(ue, ae)


def _abs_errors_mp(got, exact, absolute, scale) -> np.ndarray:
    """grad_errors' absolute part against an MP exact: |got - exact| / (absolute · max(1, scale))
    (inf where NaN)."""
    ctx = _ctx()

    def one(g, e, s):
        d = abs(_mpf(float(g)) - _mpf(e)) / (_mpf(absolute) * max(1, _mpf(s)))
        return math.inf if ctx.isnan(d) else _to_float(d)

    s = 1 if scale is None else np.asarray(scale)
    with np.errstate(all="ignore"):
        return np.asarray(np.frompyfunc(one, 3, 1)(np.asarray(got), exact, s), dtype=np.float64)


def worst_report(x, got, exact, dtype, err=None, *, axis=-1, row_wise=True) -> str:
    """A human-readable line about the worst element: where, the input (row), got, exact, ulps."""
    if err is None:
        err = ulp_errors(got, exact, dtype)
    if err.size == 0:
        return "empty"
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    x = np.asarray(x)
    got_v = np.asarray(got)[i] if np.ndim(got) else got
    ex_v = np.asarray(exact)[i] if np.ndim(exact) else exact
    if row_wise and x.ndim:
        xm = np.moveaxis(x, axis, -1)
        row_idx = i[: xm.ndim - 1] if np.ndim(got) == x.ndim else i
        row = xm[tuple(row_idx)]
        if row.size > 12:
            src = f"row {tuple(int(v) for v in row_idx)} of shape {x.shape} (n={row.size})"
        else:
            src = "x=" + np.array2string(row, precision=17, separator=", ", floatmode="unique")
    else:
        src = f"x={x[i]!r}" if x.ndim else f"x={x!r}"
    return (
        f"worst at {tuple(int(v) for v in i)}: {src}; got {got_v!r}, "
        f"exact {ex_v!r}, error {float(err[i]):.3g} ulp"
    )
