"""Special values (docs/numerics.md, "Special values"): NaN, +-inf, all -inf rows, empty axes,
where= masking, huge finite logits. Every call here runs under np.errstate(all="raise"), never
writes to its input, and the rows of a batch that hold no special value must be unaffected (equal to
their oracle)."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import pytest
import registry
from oracle import ulp_errors, worst_report
from registry import BOUNDS

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]
ROW_FUNCS = registry.names("row", "row reduction")
ELEMENTWISE = registry.names("elementwise")


@pytest.fixture(autouse=True)
def _raise_on_fp_warnings():
    """No function may raise floating-point warnings for any input (docs/numerics.md, "Special
    values")."""
    with np.errstate(all="raise"):
        yield


def call(func, x, *args, **kw):
    """lk.<func>(x, ...), checking that x (and any array argument) is not written to."""
    arrays = [a for a in (x, *args, kw.get("where")) if isinstance(a, np.ndarray)]
    copies = [a.copy() for a in arrays]
    r = getattr(lk, func)(x, *args, **kw)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg=f"{func} wrote to its input")
    return r


def assert_close(func, x, got, exact, dtype, axis=-1):
    err = ulp_errors(got, exact, dtype)
    worst = float(err.max()) if err.size else 0.0
    assert worst <= BOUNDS[func][dtype], worst_report(
        x, got, exact, dtype, err, axis=axis, row_wise=func in ROW_FUNCS
    )


def _reduces(func) -> bool:
    """Whether func reduces each row to one value (the registry's 'row reduction' kind)."""
    return registry.BY_NAME[func].kind == "row reduction"


def _is(got, want) -> bool:
    """Every entry of got is want (NaN: every entry NaN), the registry's special value."""
    return bool(np.isnan(got).all() if np.isnan(want) else np.all(got == want))


def _base_rows(rng, n, dtype, rows):
    return (rng.standard_normal((rows, n)) * 5).astype(dtype)


# ----------------------------------------------------------------------------- one special entry


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf], ids=["nan", "+inf", "-inf"])
@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_special_at_every_position(isa, dtype, func, special):
    """Rows of length 1..40, the special value at each position in turn (row i has it at i),
    plus two ordinary rows in the same batch."""
    specials = registry.BY_NAME[func].specials
    rng = np.random.default_rng([7, int(dtype == np.float64)])
    for n in range(1, 41):
        x = _base_rows(rng, n, dtype, n + 2)
        x[np.arange(n), np.arange(n)] = special
        got = call(func, x)
        exact = registry.BY_NAME[func].oracle(x)
        sp, ok = got[:n], got[n:]
        # The ordinary rows: equal to their oracle, and bit-identical to computing them alone.
        assert_close(func, x[n:], ok, exact[n:], dtype)
        np.testing.assert_array_equal(ok, getattr(lk, func)(x[n:].copy()))
        if np.isnan(special):
            assert _is(sp, specials["nan"]), (n, sp)
        elif special > 0:
            assert _is(sp, specials["+inf"]), (n, sp)
        elif n == 1:  # a row of one -inf: every entry -inf
            assert _is(sp, specials["all -inf"]), sp
        else:  # some -inf: 0 / -inf there, the rest as the oracle says
            if func == "softmax":
                d = np.diagonal(sp)
                assert np.all(d == 0) and not np.signbit(d).any(), d
            elif func == "log_softmax":
                assert np.all(np.diagonal(sp) == -np.inf)
            if _reduces(func):
                assert np.isfinite(sp).all(), sp
            else:
                assert np.isfinite(sp[~np.eye(n, dtype=bool)]).all(), sp
            assert_close(func, x[:n], sp, exact[:n], dtype)


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_nan_and_inf_in_one_row(isa, dtype, func):
    """NaN wins over +inf (logsumexp NaN); +inf with -inf gives a NaN row / +inf."""
    x = np.array(
        [
            [1.0, np.nan, np.inf, 2.0],
            [np.inf, -np.inf, 0.0, 1.0],
            [np.inf, np.inf, 1.0, 1.0],
            [-np.inf, np.nan, -np.inf, 0.0],
        ],
        dtype=dtype,
    )
    got = call(func, x)
    sp = registry.BY_NAME[func].specials
    assert _is(got[0], sp["nan"]) and _is(got[3], sp["nan"]), got
    assert _is(got[1], sp["+inf"]) and _is(got[2], sp["+inf"]), got


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_all_neginf_rows(isa, dtype, func):
    for n in list(range(1, 20)) + [64, 1000]:
        x = np.full((3, n), -np.inf, dtype=dtype)
        x[1] = np.linspace(-3, 3, n)  # an ordinary row between two all -inf rows
        got = call(func, x)
        assert _is(got[[0, 2]], registry.BY_NAME[func].specials["all -inf"]), got
        assert_close(func, x[1], got[1], registry.BY_NAME[func].oracle(x[1]), dtype)


@pytest.mark.parametrize("func", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_elementwise_special_values(isa, dtype, func):
    expected = registry.BY_NAME[func].specials
    rng = np.random.default_rng(8)
    for n in range(1, 41):
        base = (rng.standard_normal(n) * 5).astype(dtype)
        ref = getattr(lk, func)(base.copy())
        for special in (np.nan, np.inf, -np.inf):
            for p in range(n):
                x = base.copy()
                x[p] = special
                got = call(func, x)
                others = np.arange(n) != p
                np.testing.assert_array_equal(got[others], ref[others])
                if np.isnan(special):
                    assert np.isnan(got[p])
                else:
                    want = expected[special]
                    assert got[p] == want and np.signbit(got[p]) == np.signbit(want), (
                        func,
                        special,
                        got[p],
                    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_elementwise_signed_zero_and_limits(isa, dtype):
    fi = np.finfo(dtype)
    big = np.array([fi.max, 1e4, 3e38], dtype=dtype)
    assert np.all(call("sigmoid", big) == 1.0)
    assert np.all(call("sigmoid", -big) == 0.0)
    ls = call("log_sigmoid", big)
    assert np.all(ls == 0.0) and np.all(np.signbit(ls))  # -0.0: log of a probability just below 1
    np.testing.assert_array_equal(call("log_sigmoid", -big), -big)
    np.testing.assert_array_equal(call("softplus", big), big)
    sp = call("softplus", -big)
    assert np.all(sp == 0.0) and not np.signbit(sp).any()
    z = np.array([0.0, -0.0], dtype=dtype)
    np.testing.assert_array_equal(call("sigmoid", z), [0.5, 0.5])
    np.testing.assert_array_equal(call("softplus", z), np.log(np.array([2.0, 2.0], dtype=dtype)))


# ----------------------------------------------------------------------------- empty axis


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_empty_axis(isa, dtype, func):
    for shape, axis in [((0,), -1), ((3, 0), -1), ((0, 3), 0), ((2, 0, 4), 1), ((0, 5), -1)]:
        x = np.zeros(shape, dtype=dtype)
        for kw in ({}, {"temperature": 2.0}, {"where": np.ones(shape, bool)}):
            got = call(func, x, axis=axis, **kw)
            assert got.dtype == dtype
            if registry.BY_NAME[func].kind == "row reduction":
                rshape = shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
                assert got.shape == rshape
                assert np.all(got == registry.BY_NAME[func].specials["empty"])
            else:
                assert got.shape == shape


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_empty_elementwise(isa, dtype):
    for f in ELEMENTWISE:
        r = call(f, np.zeros((0, 3), dtype=dtype))
        assert r.shape == (0, 3) and r.dtype == dtype


# ----------------------------------------------------------------------------- where= masking


@pytest.mark.parametrize(
    "garbage",
    [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e30],
    ids=["nan", "+inf", "-inf", "+3e38", "-3e38", "1e30"],
)
@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_masked_values_do_not_leak(isa, dtype, func, garbage):
    """Whatever sits under where=False never takes part (same result as the row without it)."""
    rng = np.random.default_rng([9, int(dtype == np.float64)])
    for n in range(2, 41):
        x = _base_rows(rng, n, dtype, n)
        w = np.ones((n, n), bool)
        w[np.arange(n), np.arange(n)] = False  # row i: entry i is masked
        x[~w] = garbage
        for t in (None, 0.5):
            got = call(func, x, where=w, temperature=t)
            exact = registry.BY_NAME[func].oracle(x, where=w, temperature=t)
            if func == "softmax":
                d = np.diagonal(got)
                assert np.all(d == 0) and not np.signbit(d).any()
            elif func == "log_softmax":
                assert np.all(np.diagonal(got) == -np.inf)
            assert_close(func, x, got, exact, dtype)
            # As accurate as the row without the masked entry (oracle without where=).
            for i in (0, n - 1):
                row = np.delete(x[i], i)
                alone = registry.BY_NAME[func].oracle(row, temperature=t)
                g = got[i] if _reduces(func) else np.delete(got[i], i)
                assert_close(func, row, g, alone, dtype)


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_every_entry_masked(isa, dtype, func):
    for n in (1, 2, 7, 33):
        x = np.array([[np.nan] * n, [np.inf] * n, [1.0] * n, [-np.inf] * n], dtype=dtype)
        for t in (None, 3.0):
            got = call(func, x, where=np.zeros(x.shape, bool), temperature=t)
            if func == "softmax":
                assert np.all(got == 0) and not np.signbit(got).any()
            elif func == "log_softmax":
                assert np.all(got == -np.inf)
            else:
                assert got.shape == (4,) and np.all(got == -np.inf)
            got_scalar = call(func, x, where=False, temperature=t)
            np.testing.assert_array_equal(got_scalar, got)


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_masked_special_rows(isa, dtype, func):
    """An unmasked NaN / +inf still makes the row special; unmasked -inf only: like all -inf."""
    x = np.array(
        [[np.nan, 1.0, 2.0], [np.inf, 1.0, 2.0], [-np.inf, 1.0, 2.0], [1.0, 2.0, np.nan]],
        dtype=dtype,
    )
    w = np.array(
        [[True, False, True], [True, True, False], [True, False, False], [True, True, False]]
    )
    got = call(func, x, where=w)
    exact = registry.BY_NAME[func].oracle(x, where=w)
    if _reduces(func):
        assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf
        assert_close(func, x[3], got[3], exact[3], dtype)
    else:
        masked_value = 0.0 if func == "softmax" else -np.inf
        assert np.all(got[~w] == masked_value)
        assert np.isnan(got[:3][w[:3]]).all()
        assert_close(func, x[3], got[3], exact[3], dtype)


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_where_true_equals_no_where(isa, func):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 37))
    a = call(func, x)
    np.testing.assert_array_equal(call(func, x, where=True), a)
    np.testing.assert_array_equal(call(func, x, where=np.ones(x.shape, bool)), a)


# ----------------------------------------------------------------------------- huge finite


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_huge_finite_logits(isa, dtype, func):
    """+-3e38 and +-finfo.max: exact limits, no overflow, no NaN."""
    fi = np.finfo(dtype)
    H, M = 3e38, float(fi.max)
    rows = [
        [H, -H, 0.0],
        [H, H, 0.0],
        [-H, -H, -H],
        [M, -M],
        [-M, M, 0.0],
        [M, M, M],
        [-M, -M],
        [H, 1.0, 2.0, 3.0],
        [-H, 1.0, -2.0],
        [M, np.nextafter(M, 0, dtype=dtype), 0.0],
        [-M, -np.nextafter(M, 0, dtype=dtype), -M],
    ]
    if dtype == np.float64:
        rows += [[1e308, -1e308, 0.0], [-1e308, -1e308, 1e300]]
    for row in rows:
        x = np.array([row], dtype=dtype)
        for t in (None, 0.5, 1e3):
            got = call(func, x, temperature=t)
            exact = registry.BY_NAME[func].oracle(x, temperature=t)
            assert not np.isnan(got).any(), (row, t, got)
            assert_close(func, x, got, exact, dtype)
            if func == "softmax" and t is None:
                assert np.isfinite(got).all()
                assert abs(float(got.astype(np.float64).sum()) - 1) <= 4 * len(row) * fi.eps


@pytest.mark.parametrize("func", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_huge_finite_elementwise(isa, dtype, func):
    fi = np.finfo(dtype)
    x = np.array(
        [
            3e38,
            -3e38,
            fi.max,
            -fi.max,
            fi.smallest_subnormal,
            -fi.smallest_subnormal,
            fi.smallest_normal,
            -fi.smallest_normal,
            1e-40,
            -1e-40,
        ],
        dtype=dtype,
    )
    got = call(func, x)
    assert not np.isnan(got).any()
    assert_close(func, x, got, registry.BY_NAME[func].oracle(x), dtype)


# ----------------------------------------------------------------------------- in place


@pytest.mark.parametrize("func", registry.names("row"))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_out_is_x_in_place(isa, dtype, func):
    rng = np.random.default_rng(11)
    for n in (1, 3, 8, 17, 64, 1000):
        x = (rng.standard_normal((4, n)) * 10).astype(dtype)
        x[1, 0] = -np.inf
        x[2, -1] = np.nan
        # In place may take another path than out-of-place: compare with the oracle.
        for kw in ({}, {"temperature": 0.5}, {"where": np.arange(n) % 3 != 1}, {"axis": 0}):
            exact = registry.BY_NAME[func].oracle(x, **kw)
            y = x.copy()
            r = getattr(lk, func)(y, out=y, **kw)
            assert r is y
            assert_close(func, x, y, exact, dtype)


@pytest.mark.parametrize("func", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_elementwise_out_is_x_in_place(isa, dtype, func):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal(1003) * 50).astype(dtype)
    x[::7] = [np.nan, np.inf, -np.inf] * 48
    want = getattr(lk, func)(x)
    y = x.copy()
    assert getattr(lk, func)(y, out=y) is y
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_logsumexp_out(isa, dtype):
    x = np.random.default_rng(13).standard_normal((6, 9)).astype(dtype)
    out = np.empty(6, dtype)
    r = lk.logsumexp(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, lk.logsumexp(x))


# ----------------------------------------------------------------------------- extreme temperature


@pytest.mark.parametrize(
    "t", [5e-324, 1e-310, 1e-300, 1e-45, 1e-40, 1e-30, 1e30, 1e39, 1e300], ids=lambda t: f"T={t:g}"
)
@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_extreme_temperatures(isa, dtype, func, t):
    """Any positive finite temperature is accepted; x / T is taken as exact (it may overflow to
    -inf differences, or flatten the row): no NaN, no warning, results as the oracle says."""
    x = np.array(
        [[0.0, 1.0, -2.0, -np.inf], [3.0, 3.0, -1e4, 2.5], [-5.0, -5.0, -5.0, -5.0]], dtype=dtype
    )
    got = call(func, x, temperature=t)
    exact = registry.BY_NAME[func].oracle(x, temperature=t)
    assert not np.isnan(got).any(), (t, got)
    assert_close(func, x, got, exact, dtype)
