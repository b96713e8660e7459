"""Reference implementations (the oracle) of every logitkit function, written for clarity.

Each function computes the exact result of the given inputs to far better than the library's
accuracy targets (numerics.md), in a wider type than the output:

* float16 / float32 (and integer) inputs are computed in float64 (29+ extra bits);
* float64 inputs are computed in ``np.longdouble`` (80-bit x87 on x86: 11 extra bits).

Only two places need more than "the obvious formula in a wider type":

1. ``x_i - max`` (and its quotient by a temperature) is kept as an unevaluated sum ``hi + lo``
   (TwoSum / Dekker), because its rounding error is multiplied by ``|x_i - max|`` in ``exp``.
2. The row sum is split into the count ``k`` of entries equal to the max and the rest ``S'``, and
   ``log(k + S')`` is ``log1p(S')`` when ``k = 1`` (so the tiny part of the sum is not lost).
   When ``logsumexp = m/T + L`` cancels (the result is much smaller than ``L``), the row is
   recomputed with mpmath.

Special rows follow the special-values table of numerics.md: masked entries (``where=False``) are
excluded from the row (0 / -inf in the output); an unmasked NaN or +inf, or every unmasked entry
-inf, gives a NaN row (logsumexp NaN / +inf / -inf); an empty or fully masked row gives a 0 row,
a -inf row, and logsumexp -inf.

Also here: ``ulp_errors`` / ``ulp_error`` (error in ulps of the output dtype, with the numerics.md
rule for outputs below the smallest normal) and ``ULP_RECORD``, where the tests store the maximum
errors they measured (printed at the end of the session by conftest.py).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = [
    "BOUNDS",
    "GRAD_BOUNDS",
    "LONGDOUBLE_IS_EXTENDED",
    "ULP_RECORD",
    "grad_errors",
    "log_sigmoid",
    "log_sigmoid_backward",
    "log_softmax",
    "log_softmax_backward",
    "logsumexp",
    "out_dtype",
    "record",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "softplus",
    "ulp_error",
    "ulp_errors",
    "work_dtype",
    "worst_report",
]

LONGDOUBLE_IS_EXTENDED = np.finfo(np.longdouble).nmant >= 63

# numerics.md accuracy targets, in ulps of the output dtype.
BOUNDS = {
    "softmax": {np.dtype(np.float32): 4, np.dtype(np.float64): 8},
    "log_softmax": {np.dtype(np.float32): 4, np.dtype(np.float64): 8},
    "logsumexp": {np.dtype(np.float32): 3, np.dtype(np.float64): 8},
    "sigmoid": {np.dtype(np.float32): 3, np.dtype(np.float64): 4},
    "log_sigmoid": {np.dtype(np.float32): 3, np.dtype(np.float64): 4},
    "softplus": {np.dtype(np.float32): 3, np.dtype(np.float64): 4},
}
# Gradients: (ulps, absolute) - an output passes if it meets either.
GRAD_BOUNDS = {np.dtype(np.float32): (8, 2.0**-24), np.dtype(np.float64): (16, 2.0**-53)}

# (category, function, dtype name, isa) -> max ulp error measured by the accuracy tests.
ULP_RECORD: dict[tuple[str, str, str, str], float] = defaultdict(float)


def record(func: str, dtype, isa: str, err: float, category: str = "other") -> None:
    key = (category, func, np.dtype(dtype).name, isa)
    ULP_RECORD[key] = max(ULP_RECORD[key], float(err))


# ----------------------------------------------------------------------------- dtypes


def out_dtype(dtype) -> np.dtype:
    """The dtype logitkit returns for an input dtype: the one np.exp returns (float16 stays)."""
    return np.exp(np.zeros(1, dtype=dtype)).dtype


def work_dtype(dtype) -> np.dtype:
    """The dtype the oracle computes in: float64 for float16/float32 outputs, longdouble for f64."""
    if out_dtype(dtype) == np.float64:
        return np.dtype(np.longdouble)
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
    return s, np.where(np.isfinite(s), err, 0)


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

    hi + lo is accurate to about 2^-2p |hi|; lo is 0 where hi is not finite.
    """
    hi, lo = _two_sum(x, -m)
    if t != 1:
        q = hi / t
        p, e = _two_prod(q, t)
        r = (hi - p) - e  # hi - q*t: hi - p is exact (Sterbenz), e is the product's low part
        lo = (r + lo) / t
        hi = q
    # (lo is also dropped where the split overflowed: |hi| > 2^970 makes it irrelevant)
    return hi, np.where(np.isfinite(hi) & np.isfinite(lo), lo, 0)


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
    xw = np.moveaxis(x.astype(w), axis, -1)  # exact: the work dtype holds every input value
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
    w = xw.dtype.type
    t = w(1.0 if temperature is None else float(temperature))
    inf = w(np.inf)
    n = xw.shape[-1]
    with np.errstate(all="ignore"):
        xm = np.where(mask, xw, -inf)  # masked entries leave the row before any arithmetic
        n_valid = mask.sum(-1)
        nan_row = np.isnan(xm).any(-1)
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
        lo = np.where(np.isfinite(hi), lo, w(0))  # (x - m)/T overflowed: hi is the exact -inf limit
        e = np.exp(hi) * (1 + lo)  # exp(hi + lo), |lo| tiny
        at_max = xs == m
        k = at_max.sum(-1).astype(xw.dtype)
        s_rest = np.where(at_max, w(0), e).sum(-1)  # S' = sum over the entries below the max
        L = np.where(k == 1, np.log1p(s_rest), np.log(k + s_rest))

        softmax_ = e / (k + s_rest)[..., None]
        log_softmax_ = (hi - L[..., None]) + lo
        lse = m[..., 0] / t + L

        # logsumexp cancels when m/T and L nearly cancel: recompute those rows with mpmath.
        cancel = ~special & (np.abs(lse) < np.abs(L) / 256)
        for idx in zip(*np.nonzero(cancel)):
            vals = xs[idx][mask[idx]]
            h, l = _mp_logsumexp(vals, t)
            lse[idx] = w(h) + w(l)

        # Special rows (numerics.md table).
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
    return x.astype(work_dtype(x.dtype))


def sigmoid(x):
    """1/(1 + e) for x >= 0, e/(1 + e) for x < 0, e = exp(-|x|)."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(xw))
        return np.where(xw >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        return np.maximum(xw, 0) + np.log1p(np.exp(-np.abs(xw)))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (so log_sigmoid(+inf) = -0)."""
    xw = _work(x)
    with np.errstate(all="ignore"):
        return -(np.maximum(-xw, 0) + np.log1p(np.exp(-np.abs(xw))))


# ----------------------------------------------------------------------------- backward


def _work2(a, b):
    dt = np.result_type(np.asarray(a).dtype, np.asarray(b).dtype)
    w = work_dtype(dt)
    return np.asarray(a).astype(w), np.asarray(b).astype(w)


def softmax_backward(grad, y, axis=-1):
    """y * (g - sum(g * y)) along axis."""
    g, yw = _work2(grad, y)
    with np.errstate(all="ignore"):
        return yw * (g - np.sum(g * yw, axis=axis, keepdims=True))


def log_softmax_backward(grad, y, axis=-1):
    """g - exp(y) * sum(g) along axis."""
    g, yw = _work2(grad, y)
    with np.errstate(all="ignore"):
        return g - np.exp(yw) * np.sum(g, axis=axis, keepdims=True)


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


# ----------------------------------------------------------------------------- error measures


def ulp_errors(got, exact, dtype) -> np.ndarray:
    """Elementwise error of got against exact, in ulps of dtype (float64 array).

    * where |exact| >= the smallest normal of dtype: |got - exact| / ulp(exact);
    * below it: |got - exact| / (2 * smallest subnormal), so the numerics.md target "absolute error
      2 x the smallest subnormal" reads as <= 1;
    * NaN must match NaN (0 if both, inf if only one is NaN);
    * where exact rounds to +-inf in dtype, got must be that inf (0 or inf); an inf got against a
      finite exact is inf.
    """
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    w = work_dtype(dtype)
    got = np.asarray(got)
    exact = np.asarray(exact)
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


def ulp_error(got, exact, dtype) -> float:
    """Max of ulp_errors (0 for empty arrays)."""
    err = ulp_errors(got, exact, dtype)
    return float(err.max()) if err.size else 0.0


def grad_errors(got, exact, dtype) -> np.ndarray:
    """Gradient errors in units of the numerics.md target: <= 1 where the output is within
    GRAD_BOUNDS ulps or within the absolute bound of the exact value."""
    dtype = np.dtype(dtype)
    ulps, absolute = GRAD_BOUNDS[dtype]
    ue = ulp_errors(got, exact, dtype) / ulps
    w = work_dtype(dtype)
    with np.errstate(all="ignore"):
        ae = np.abs(np.asarray(got).astype(w) - np.asarray(exact).astype(w)) / w.type(absolute)
    ae = np.where(np.isnan(ae), np.inf, ae.astype(np.float64))
    return np.minimum(ue, ae)


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
