"""Property tests (hypothesis): identities that hold for every input, within the ulp bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from registry import BOUNDS

hypothesis = pytest.importorskip("hypothesis")
import logitkit as lk
import oracle
import registry
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from oracle import ulp_errors

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]

prop_settings = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no slow "explain" phase
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _rows(dtype, lo=-1e4, hi=1e4, max_n=80, neginf=False):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    elems = st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False)
    if neginf:
        elems = st.one_of(elems, st.just(-np.inf))
    shape = st.tuples(st.integers(1, 4), st.integers(1, max_n))
    return hnp.arrays(dtype, shape, elements=elems)


def _dyadic_rows(dtype, max_n=60):
    """Multiples of 2^-10 in [-100, 100]: x + c is exact in float32 for integer |c| <= 10^4."""
    ints = st.integers(-100 * 1024, 100 * 1024)
    shape = st.tuples(st.integers(1, 3), st.integers(1, max_n))
    return hnp.arrays(np.int64, shape, elements=ints).map(lambda a: (a / 1024.0).astype(dtype))


# ----------------------------------------------------------------------------- shift invariance


@pytest.mark.parametrize("func", registry.names("row"))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_shift_invariance(isa, dtype, func):
    f = getattr(lk, func)
    bound = BOUNDS[func][dtype]

    @prop_settings
    @given(x=_dyadic_rows(dtype), c=st.integers(-10_000, 10_000))
    def prop(x, c):
        xc = x + dtype.type(c)
        assert np.array_equal(xc - dtype.type(c), x)  # the shift is exact
        a, b = f(x), f(xc)
        # Both are within `bound` of the same exact result.
        err = ulp_errors(b, a.astype(oracle.work_dtype(dtype)), dtype)
        assert err.max() <= 2 * bound, (x, c, err.max())

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_logsumexp_shift(isa, dtype):
    """logsumexp(x + c) = logsumexp(x) + c (compared through the oracle: the sum rounds)."""
    bound = BOUNDS["logsumexp"][dtype]

    @prop_settings
    @given(x=_dyadic_rows(dtype), c=st.integers(-10_000, 10_000))
    def prop(x, c):
        xc = x + dtype.type(c)
        got = lk.logsumexp(xc)
        err = ulp_errors(got, oracle.logsumexp(x) + c, dtype)
        assert err.max() <= bound, (x, c, err.max())

    prop()


# ----------------------------------------------------------------------------- sums, identities


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_rows_sum_to_one(isa, dtype):
    """|sum(softmax(x)) - 1| <= 4 ulp(1) * n (each entry <= 8 ulp of an entry < 1 for float64)."""
    eps = float(np.finfo(dtype).eps)

    @prop_settings
    @given(x=_rows(dtype, neginf=True))
    def prop(x):
        x[:, 0] = np.where(np.isinf(x[:, 0]), 0, x[:, 0])  # at least one finite entry per row
        y = lk.softmax(x)
        n = x.shape[1]
        for row in y.astype(np.float64):
            assert abs(math.fsum(row) - 1.0) <= 4 * eps * n, (x, row)
        assert np.all(y >= 0) and np.all(y <= 1)
        assert np.all(y[np.isneginf(x)] == 0)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_exp_log_softmax_is_softmax(isa, dtype):
    fi = np.finfo(dtype)
    eps = float(fi.eps)
    b_ls, b_sm = BOUNDS["log_softmax"][dtype], BOUNDS["softmax"][dtype]

    @prop_settings
    @given(x=_rows(dtype, lo=-300, hi=300))
    def prop(x):
        ls = lk.log_softmax(x).astype(oracle.work_dtype(dtype))
        sm = lk.softmax(x).astype(oracle.work_dtype(dtype))
        e = np.exp(ls)
        # ls is within b_ls ulp(ls) <= b_ls*eps*|ls| absolute: exp(ls) within that, relatively.
        rtol = b_ls * eps * (np.abs(ls) + 1) + b_sm * eps
        atol = 4 * float(fi.smallest_subnormal)
        assert np.all(np.abs(e - sm) <= rtol * sm + atol), (x, ls, sm)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_logsumexp_between_max_and_max_plus_log_n(isa, dtype):
    bound = BOUNDS["logsumexp"][dtype]

    @prop_settings
    @given(x=_rows(dtype, neginf=True))
    def prop(x):
        x[:, -1] = np.where(np.isinf(x[:, -1]), 1.5, x[:, -1])
        lse = lk.logsumexp(x)
        m = x.max(axis=-1)
        n = x.shape[-1]
        assert np.all(lse >= m), (x, lse, m)
        w = oracle.work_dtype(dtype).type
        upper = m.astype(w) + w(np.log(np.longdouble(n)))
        # the rounded result may exceed the exact upper bound by the error bound
        ulp = np.spacing(np.abs(upper.astype(dtype))).astype(w)
        assert np.all(lse.astype(w) <= upper + bound * ulp), (x, lse, upper)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_softmax_is_x_minus_logsumexp(isa, dtype):
    """log_softmax(x) and x - logsumexp(x) agree where the subtraction does not cancel."""

    @prop_settings
    @given(x=_rows(dtype, lo=-1e3, hi=1e3))
    def prop(x):
        ls = lk.log_softmax(x).astype(np.longdouble)
        d = x.astype(np.longdouble) - lk.logsumexp(x, keepdims=True).astype(np.longdouble)
        # |d - ls| is at most the rounding of lse (relative to |lse|) plus ls's own error
        lse = np.abs(lk.logsumexp(x, keepdims=True)).astype(np.longdouble)
        eps = np.longdouble(np.finfo(dtype).eps)
        tol = 8 * eps * (lse + np.abs(x).astype(np.longdouble) + np.abs(ls)) + 1e-300
        assert np.all(np.abs(d - ls) <= tol), (x,)

    prop()


@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid", "softplus"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_elementwise_identities(isa, dtype, func):
    """sigmoid(x) + sigmoid(-x) = 1, softplus(x) - softplus(-x) = x, log_sigmoid = -softplus(-x)."""
    width = 32 if dtype == np.float32 else 64
    eps = float(np.finfo(dtype).eps)

    @prop_settings
    @given(
        x=hnp.arrays(
            dtype, st.integers(1, 200), elements=st.floats(-1e3, 1e3, width=width, allow_nan=False)
        )
    )
    def prop(x):
        y = getattr(lk, func)(x)
        if func == "sigmoid":
            s = y.astype(np.float64) + lk.sigmoid(-x).astype(np.float64)
            assert np.all(np.abs(s - 1) <= 2 * 4 * eps), x
        elif func == "log_sigmoid":
            ref = -lk.softplus(-x)
            assert ulp_errors(y, ref.astype(oracle.work_dtype(dtype)), dtype).max() <= 2 * 4, x
        else:
            y2 = lk.softplus(-x)
            d = y.astype(np.longdouble) - y2.astype(np.longdouble)
            big = np.maximum(np.abs(y), np.abs(y2)).astype(np.longdouble)
            assert np.all(np.abs(d - x.astype(np.longdouble)) <= 2 * 4 * eps * big), x

    prop()


# ------------------------------------------------------------ hard inputs, every option at once


def _row_oracle(name, z, mask):
    """softmax / log_softmax / logsumexp of the rows of z (float64 or longdouble, last axis) with
    the README's special values: NaN anywhere (unmasked) → NaN; +inf → NaN rows, logsumexp +inf;
    every entry -inf → NaN rows, logsumexp -inf; masked entries 0 / -inf (rows all masked too)."""
    z = np.where(mask, z, -np.inf)
    with np.errstate(all="ignore"):
        m = np.max(np.where(np.isnan(z), -np.inf, z), axis=-1, keepdims=True)
        has_nan = np.any(np.isnan(z), axis=-1, keepdims=True)
        has_pinf = m == np.inf
        all_masked = ~np.any(mask, axis=-1, keepdims=True)
        safe_m = np.where(np.isfinite(m), m, 0)
        # log Σ e^(z - m) = log1p(the sum without one largest entry): exact where it is tiny
        e = np.exp(z - safe_m)
        k = np.argmax(np.where(np.isnan(z), -np.inf, z), axis=-1)[..., None]
        np.put_along_axis(e, k, 0, axis=-1)
        d = np.log1p(np.sum(np.where(np.isnan(e), 0, e), axis=-1, keepdims=True))
        lse = safe_m + d
        lse = np.where(m == -np.inf, -np.inf, lse)
        lse = np.where(has_pinf, np.inf, lse)
        lse = np.where(has_nan, np.nan, lse)
        if name == "logsumexp":
            return lse[..., 0]
        lsm = (z - safe_m) - d
        bad = has_nan | has_pinf | ((m == -np.inf) & ~all_masked)
        lsm = np.where(bad, np.nan, lsm)
        lsm = np.where(all_masked, -np.inf, lsm)
        lsm = np.where(~mask, -np.inf, lsm)  # masked entries: 0 / -inf, whatever the row holds
        return lsm if name == "log_softmax" else np.exp(lsm)


def _hard_rows(draw, dtype):
    """A 2-D array up to 3 × 2100 (past the kernels' row-length switches), entries from a wide
    range with NaN, ±inf and -inf runs sprinkled in, as a contiguous, strided or broadcast view."""
    n_rows = draw(st.integers(1, 3))
    n = draw(st.sampled_from([1, 2, 7, 16, 33, 100, 257, 1000, 2100]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 30.0, 1e4, 1e30]))
    x = (rng.standard_normal((n_rows, 2 * n)) * scale).astype(dtype)
    for special in (np.nan, np.inf, -np.inf):
        if draw(st.booleans()):
            k = draw(st.integers(1, 3))
            x.flat[rng.integers(0, x.size, k)] = special
    layout = draw(st.sampled_from(["contiguous", "strided", "broadcast"]))
    if layout == "strided":
        return x[:, ::2]
    if layout == "broadcast":
        return np.broadcast_to(x[:1, :n], (n_rows, n))
    return np.ascontiguousarray(x[:, :n])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_row_functions_on_hard_inputs_with_every_option(isa, dtype, name):
    """NaN/±inf anywhere, long rows, huge magnitudes, where=, temperatures, either axis, strided and
    broadcast views, all at once, against a plain oracle (float64 / longdouble)."""
    work = oracle.work_dtype(dtype)
    fn = getattr(lk, name)
    bound = BOUNDS[name][dtype]

    @prop_settings
    @given(data=st.data())
    def run(data):
        x = _hard_rows(data.draw, dtype)
        axis = data.draw(st.sampled_from([-1, 0]))
        t = data.draw(st.sampled_from([1.0, 0.5, 3.0]))
        mask = None
        if data.draw(st.booleans()):
            rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
            mask = rng.random(x.shape) < 0.8
        kw = {"axis": axis, "temperature": t}
        if mask is not None:
            kw["where"] = mask
        with np.errstate(all="raise"):
            got = fn(x, **kw)
        xm = np.moveaxis(x, axis, -1).astype(work) / work.type(t)
        mm = np.ones(xm.shape, bool) if mask is None else np.moveaxis(mask, axis, -1)
        want = _row_oracle(name, xm, mm)
        if name != "logsumexp":
            want = np.moveaxis(want, -1, axis)
        assert got.shape == want.shape
        assert np.array_equal(np.isnan(got), np.isnan(want)), (name, kw)
        ok = ~np.isnan(want)
        assert np.array_equal(got[ok] == np.inf, want[ok] == np.inf)
        assert np.array_equal(got[ok] == -np.inf, want[ok] == -np.inf)
        fin = ok & np.isfinite(want)
        err = ulp_errors(got[fin], want[fin], dtype)
        if name == "logsumexp":  # relative error: a logsumexp near 0 cancels (docs/numerics.md)
            err = np.abs(got[fin].astype(work) - want[fin]) / np.maximum(np.abs(want[fin]), 1)
            assert np.all(err <= 4 * np.finfo(dtype).eps), (name, kw, err.max())
        else:
            assert np.all(err <= bound), (name, kw, err.max(), x, got, want)

    run()
