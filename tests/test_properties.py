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
