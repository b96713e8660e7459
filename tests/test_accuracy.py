"""Accuracy against the oracle (tests/oracle.py) and mpmath, in ulps, on every ISA.

Bounds are docs/numerics.md's table, "The bounds" (registry.BOUNDS). Every test records
its max error with registry.record; conftest.py prints the table at the end of the session.

float64 references come from oracle.F64_REFERENCE: np.longdouble, or mpmath where longdouble is
plain double (or LOGITKIT_TEST_ORACLE=mpmath). mpmath costs microseconds per operation, so on that
path every float64 family is checked on a sample of its rows (``_sampled``), at the same bounds.
"""

from __future__ import annotations

import functools

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry
from oracle import ulp_errors, worst_report
from registry import BOUNDS

mpmath = pytest.importorskip("mpmath")

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]
SCALES = [1.0, 10.0, 1000.0]
ROW_FUNCS = registry.names("row", "row reduction")
ELEMENTWISE = registry.names("elementwise")
LENGTHS = list(range(71)) + [1000, 32000]


@pytest.fixture(autouse=True)
def _f64_reference():
    """Every test here computes float64 references on oracle.F64_REFERENCE's path."""
    with oracle.reference(oracle.F64_REFERENCE):
        yield


def _param_dtypes():
    return [pytest.param(DTYPES[0], id="f32"), pytest.param(DTYPES[1], id="f64")]


def _sampled(dtype) -> bool:
    """Whether dtype's references are on the mpmath path now: float64 inside
    oracle.reference("mpmath"). The data functions below then keep a sample of their rows (every
    length, value range and special row they cover stays in it), and their cached references are
    keyed by this flag, so the two paths never share one."""
    return np.dtype(dtype) == np.float64 and oracle.work_dtype(np.float64) == oracle.MP


def _rng(*key):
    return np.random.default_rng([20240611, *key])


def _check(func, dtype, isa, cases, category):
    """cases: iterable of (x, got, exact, axis). Records and asserts the max ulp error."""
    worst, report = 0.0, ""
    for x, got, exact, axis in cases:
        assert got.dtype == dtype, (func, got.dtype)
        assert got.shape == exact.shape, (func, got.shape, exact.shape)
        err = ulp_errors(got, exact, dtype)
        if err.size and err.max() > worst:
            worst = float(err.max())
            report = worst_report(x, got, exact, dtype, err, axis=axis, row_wise=func in ROW_FUNCS)
    registry.record(func, dtype, isa, worst, category)
    bound = BOUNDS[func][dtype]
    assert worst <= bound, f"{func} {dtype} on {isa}: {worst:.3g} ulp > {bound}: {report}"
    return worst


def _check_family_results(func, dtype, isa, kind, xs, results, sample, category):
    """_check of a family's row batches xs (results: func's outputs) against their cached
    references (_cached_exact(kind, ...))."""
    _check(
        func,
        dtype,
        isa,
        (
            (x, r, _cached_exact(kind, dtype.name, func, i, sample=sample), -1)
            for i, (x, r) in enumerate(zip(xs, results, strict=True))
        ),
        category,
    )


def _row_exact(x, func, **kw):
    return registry.BY_NAME[func].oracle(x, **kw)


# ----------------------------------------------------------------------------- random rows


@functools.cache
def random_rows(dtype_name: str, scale: float, sample: bool = False):
    """A batch of N(0, scale^2) rows for every length 0..70, and lengths 1000 and 32000 (sample:
    2 rows of every length up to 70 and 1 of each long one)."""
    rng = _rng(1, int(dtype_name == "float64"), int(scale))
    out = []
    for n in LENGTHS:
        rows = 16 if n <= 70 else (6 if n == 1000 else 2)
        out.append((rng.standard_normal((rows, n)) * scale).astype(dtype_name))
    if sample:
        out = [x[: 2 if x.shape[1] <= 70 else 1] for x in out]
    return out


@functools.cache
def random_rows_exact(dtype_name: str, scale: float, func: str, sample: bool = False):
    return [_row_exact(x, func) for x in random_rows(dtype_name, scale, sample)]


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"x{s:g}")
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_random_rows(isa, dtype, scale, func):
    f = getattr(lk, func)
    xs = random_rows(dtype.name, scale, _sampled(dtype))
    exacts = random_rows_exact(dtype.name, scale, func, _sampled(dtype))
    _check(
        func, dtype, isa, ((x, f(x), e, -1) for x, e in zip(xs, exacts)), f"random N(0,{scale:g}^2)"
    )


# ----------------------------------------------------------------------------- confident rows


@functools.cache
def confident_rows(dtype_name: str, sample: bool = False):
    """One logit 30..100 above the rest (N(0, 1)): p(top) = 1 - tiny, log p(top) = -tiny (sample:
    4 rows of each length)."""
    rng = _rng(2, int(dtype_name == "float64"))
    out = []
    for n in [2, 3, 5, 8, 16, 17, 33, 64, 100, 1000]:
        rows = 32
        x = rng.standard_normal((rows, n))
        top = rng.integers(0, n, rows)
        gap = rng.uniform(30, 100, rows)
        x[np.arange(rows), top] = x.max(axis=1) + gap
        out.append(x.astype(dtype_name))
    return [x[:4] for x in out] if sample else out


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_confident_rows(isa, dtype, func):
    _check_family(func, dtype, isa, "confident", confident_rows, "confident rows")


def _check_family(func, dtype, isa, kind, rows, label):
    """Each row batch of a family, through the public function with default options, against
    its cached reference."""
    f = getattr(lk, func)
    smp = _sampled(dtype)
    _check(
        func,
        dtype,
        isa,
        (
            (x, f(x), _cached_exact(kind, dtype.name, func, i, sample=smp), -1)
            for i, x in enumerate(rows(dtype.name, smp))
        ),
        label,
    )


@functools.cache
def top_heavy_rows(dtype_name: str, sample: bool = False):
    """One entry holding between half and all but 1e-13 of the mass (a trained classifier's usual
    row): top = max of the rest + gap, gap 0..31, the rest N(0, 1), offsets up to +-60, n from 16
    (rows of whole vectors, whose S' is S - exp(m) above 2^-20 and a second pass below) and 32
    (the one-pass paths' range) to 4000. log p(top) runs from -0.7 to -1e-13. (sample: 3 rows of
    each length.)"""
    rng = _rng(3, int(dtype_name == "float64"))
    out = []
    for n in [16, 24, 32, 33, 48, 64, 100, 1000, 4000]:
        rows = 24
        x = rng.standard_normal((rows, n))
        top = rng.integers(0, n, rows)
        gap = np.log(n) + rng.uniform(-0.5, 30, rows)
        x[np.arange(rows), top] = x.max(axis=1) + gap
        x += rng.uniform(-60, 60, (rows, 1))
        out.append(x.astype(dtype_name))
    return [x[:3] for x in out] if sample else out


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_top_heavy_rows(isa, dtype, func):
    """Rows the one-pass sum declines (the top entry holds more than half the mass): log_softmax's
    top output -log1p(S') must keep its relative accuracy; log_softmax in place gives the same bits
    (its sum pass stores exp(x) in the output row, or computes it again in place)."""
    f = getattr(lk, func)
    smp = _sampled(dtype)
    xs = top_heavy_rows(dtype.name, smp)
    results = [f(x) for x in xs]
    if func == "log_softmax":
        for x, r in zip(xs, results, strict=True):
            xc = x.copy()
            f(xc, out=xc)
            np.testing.assert_array_equal(xc, r)
    _check_family_results(func, dtype, isa, "top heavy", xs, results, smp, "top-heavy rows")


@functools.cache
def _cached_exact(kind: str, dtype_name: str, func: str, i: int, extra=None, *, sample=False):
    """The reference of row batch i of a family (sample: of its sampled rows, on the mpmath path)."""
    if kind == "confident":
        return _row_exact(confident_rows(dtype_name, sample)[i], func)
    if kind == "top heavy":
        return _row_exact(top_heavy_rows(dtype_name, sample)[i], func)
    if kind == "temperature":
        scale, t = extra
        return _row_exact(temperature_rows(dtype_name, scale, sample)[i], func, temperature=t)
    if kind == "masked":
        x, w = masked_rows(dtype_name, sample)[i]
        return _row_exact(x, func, where=w, temperature=extra)
    if kind == "exp range":
        return _row_exact(exp_range_rows(dtype_name, sample)[i], func)
    if kind == "masked classes":
        return _row_exact(neg_inf_rows(dtype_name, sample)[i], func)
    if kind == "masked long rows":
        return _row_exact(masked_long_rows(dtype_name, sample)[i], func)
    if kind == "near zero":
        return _row_exact(near_zero_lse_rows(dtype_name, sample)[i], func)
    if kind == "partial cancel":
        return _row_exact(partial_cancel_lse_rows(dtype_name, sample)[i], func)
    raise KeyError(kind)


@functools.cache
def exp_range_rows(dtype_name: str, sample: bool = False):
    """Rows whose max and other entries sit on both sides of the limits of exp's normal range
    (where a kernel may switch between a fast and a wide exp path or scale by exp(-max)): the max
    m near +-88/104 (float32) or +-709/746 (float64), the others at m - gap, laid out so that
    whole SIMD vectors are inside or outside the range (n = 2, 16, 33, 200, 1000), and rows of whole
    vectors on some ISA, every entry inside the range (n = 12, 24, 32, 48, 64: softmax's sum may leave
    the range where 1/sum is a normal number). (sample: every
    7th (top, gap) pair; 7 is prime to the number of gaps and below it, so every top and every gap
    stays.)"""
    if dtype_name == "float32":
        tops = [-200, -104, -103, -88, -87.5, -87, -80, 0, 80, 87, 88, 88.5, 89, 100, 104, 127, 200]
        gaps = [0.5, 1, 5, 20, 40, 60, 100]
        far = -1e4
    else:
        tops = [
            -1000,
            -800,
            -746,
            -745,
            -710,
            -709.5,
            -708,
            -700,
            0,
            700,
            708,
            709,
            709.5,
            710,
            720,
            745,
            746,
            800,
            1000,
        ]
        gaps = [0.5, 1, 5, 20, 37, 50, 100, 800]
        far = -1e5
    two, sixteen, thirty3, long_, longer = [], [], [], [], []
    whole = {n: [] for n in (12, 24, 32, 48, 64)}
    for m in tops:
        for g in gaps:
            for n, rows in whole.items():
                rows.append([m - g] * (n - 1) + [m])
            two.append([m, m - g])
            sixteen.append([m] + [far] * 7 + [m - g] * 8)
            thirty3.append([m - g] * 32 + [m])
            long_.append([m] + [far] * 99 + [m - g] * 100)  # long rows may take other paths
            longer.append([m - g] * 999 + [m])
    if sample:
        assert len(gaps) > 7 and len(gaps) % 7
    step = 7 if sample else 1
    families = (two, sixteen, thirty3, long_, longer, *whole.values())
    return [np.array(r, dtype=dtype_name)[::step] for r in families]


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_rows_across_exp_range(isa, dtype, func):
    _check_family(func, dtype, isa, "exp range", exp_range_rows, "exp-range rows")


@functools.cache
def neg_inf_rows(dtype_name: str, sample: bool = False):
    """Rows with -inf entries (masked classes) among N(0, 3^2) ones: one, several, or all but one
    entry masked, lengths 2 to 63 (the short-row kernels, their rows of whole vectors, and the
    one-row paths beyond), mixed with unmasked rows in each batch (sample: 8 rows of each length)."""
    rng = _rng(10, int(dtype_name == "float64"))
    out = []
    for n in [2, 3, 4, 5, 8, 12, 16, 24, 31, 32, 48, 63]:
        x = rng.normal(0, 3, (64, n))
        count = np.minimum(rng.choice([0, 1, 2, n - 1], 64), n - 1)
        for r in range(64):
            x[r, rng.choice(n, count[r], replace=False)] = -np.inf
        out.append(x.astype(dtype_name))
    return [x[:8] for x in out] if sample else out


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_neg_inf_entries(isa, dtype, func):
    """-inf entries contribute exactly nothing: softmax gives 0 there, log_softmax -inf, and every
    other output keeps its bound; a row's bits are its own, alone or among unmasked rows."""
    f = getattr(lk, func)
    smp = _sampled(dtype)
    xs = neg_inf_rows(dtype.name, smp)
    results = [f(x) for x in xs]
    for x, r in zip(xs, results, strict=True):
        if func != "logsumexp":
            assert np.all(r[np.isneginf(x)] == (0 if func == "softmax" else -np.inf))
        np.testing.assert_array_equal(f(x[::-1])[::-1], r)
        np.testing.assert_array_equal(np.concatenate([f(x[i : i + 1]) for i in range(len(x))]), r)
        # rows of -inf only among them: NaN rows (logsumexp -inf), the other rows unchanged
        x2 = x.copy()
        x2[5::7] = -np.inf
        r2 = f(x2)
        keep = np.ones(len(x), bool)
        keep[5::7] = False
        np.testing.assert_array_equal(r2[keep], r[keep])
        assert np.all(np.isneginf(r2[~keep]) if func == "logsumexp" else np.isnan(r2[~keep]))
    _check_family_results(
        func, dtype, isa, "masked classes", xs, results, smp, "masked classes (-inf)"
    )


@functools.cache
def masked_long_rows(dtype_name: str, sample: bool = False):
    """Masked rows of 64 to 4100 entries (the direct sum's paths: row groups, softmax's one-row and
    queued paths, rows past the first sum block), N(0, 3^2) entries, the kinds in turn: none masked;
    one, a quarter, or all but one at -inf; far below the max (-1e5, the dtype's extreme, max - 120
    or - 760: they act as -inf); below exp's range but not that far (max - 100 or - 716: exp(x - m)
    is not negligible); a top-heavy masked row (one entry 30 above the rest); an entry above exp's
    range with a -inf (sample: one row of each kind per length)."""
    rng = _rng(11, int(dtype_name == "float64"))
    f32 = dtype_name == "float32"
    lim, far, below = (87.0, 120.0, 100.0) if f32 else (708.0, 760.0, 716.0)
    assert lim < below < (104.0 if f32 else 746.0)
    extreme = -3e38 if f32 else -1e300
    out = []
    for n in [64, 65, 100, 200, 1000, 1100, 2100, 4100]:
        x = rng.normal(0, 3, (24, n))
        for r in range(24):
            kind, row = r % 8, x[r]
            where = rng.choice(n, max(1, n // 4), replace=False)
            if kind == 1:
                row[where[:1]] = -np.inf
            elif kind == 2:
                row[where] = -np.inf
            elif kind == 3:
                row[np.arange(n) != rng.integers(n)] = -np.inf
            elif kind == 4:
                row[where[:3]] = [-1e5, extreme, row.max() - far]
                row[where[3:6]] = -np.inf
            elif kind == 5:
                row -= row.max()  # max 0: below exp's range, not far below the max
                row[where[:2]] = row.max() - below
                row[where[2:4]] = -np.inf
            elif kind == 6:
                row[where[0]] = row.max() + 30
                row[where[1:5]] = -np.inf
            elif kind == 7:
                row[where[0]] = lim + 5
                row[where[1:3]] = -np.inf
        out.append(x.astype(dtype_name))
    return [x[:8] for x in out] if sample else out


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_masked_long_rows(isa, dtype, func):
    """Masked long rows (masked_long_rows): exact 0 / -inf at -inf entries, every output within its
    bound, a row's bits its own (alone, in the batch, the batch reversed) and, for log_softmax,
    the same in place; softmax in place (another path) within its bound."""
    f = getattr(lk, func)
    smp = _sampled(dtype)
    xs = masked_long_rows(dtype.name, smp)
    results = [f(x) for x in xs]
    in_place = []
    for x, r in zip(xs, results, strict=True):
        if func != "logsumexp":
            assert np.all(r[np.isneginf(x)] == (0 if func == "softmax" else -np.inf))
        np.testing.assert_array_equal(f(x[::-1])[::-1], r)
        np.testing.assert_array_equal(np.concatenate([f(x[i : i + 1]) for i in range(8)]), r[:8])
        if func != "logsumexp":
            y = x.copy()
            f(y, out=y)
            in_place.append(y)
            if func == "log_softmax":
                np.testing.assert_array_equal(y, r)
    _check_family_results(
        func, dtype, isa, "masked long rows", xs, results, smp, "masked long rows"
    )
    if func == "softmax":
        _check_family_results(
            func, dtype, isa, "masked long rows", xs, in_place, smp, "masked long rows in place"
        )


@functools.cache
def near_zero_lse_rows(dtype_name: str, sample: bool = False):
    """Rows whose logsumexp is (nearly) 0 while max and log(sum) are not: m + L cancels.
    [a, log(1 - e^a)] rounded to the dtype, in both orders, a three-entry variant,
    log-probability rows of 6 to 48 entries among ordinary rows, and the same with -inf entries
    (masked classes), 3 to 48 entries (sample: 16 rows of each)."""
    rng = _rng(7, int(dtype_name == "float64"))
    a = -np.exp(rng.uniform(np.log(1e-3), np.log(5.0), 64))
    b = np.log1p(-np.exp(a))
    c = np.log(np.exp(a) / 2)  # [c, c, b]: e^c + e^c + e^b = 1
    rows = [np.stack([a, b], 1), np.stack([b, a], 1), np.stack([c, c, b], 1)]
    # Rows of whole SIMD vectors on some ISA (the short whole-vector path declines a row whose
    # |log S| < 1): log-probabilities (logsumexp about 0) mixed with N(0, 9) rows, 53 rows per
    # length, so that the declined rows come in batches of the lane count and a remainder.
    for n in (6, 8, 12, 16, 24, 32, 48):
        z = rng.normal(0, 3, (53, n))
        lp = z - z.max(axis=1, keepdims=True)
        lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
        rows.append(np.where(rng.random((53, 1)) < 0.6, lp, z))
    # masked log-probability rows (a cancelling row's sum, taken again in a wider type, sees its
    # -inf entries too) among masked N(0, 9) rows, 1 to n - 2 entries masked
    for n in (3, 6, 10, 12, 24, 32, 48):
        z = rng.normal(0, 3, (53, n))
        for r in range(53):
            z[r, rng.choice(n, 1 + r % (n - 2), replace=False)] = -np.inf
        m = z.max(axis=1, keepdims=True)
        lp = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
        rows.append(np.where(rng.random((53, 1)) < 0.6, lp, z))
    return [r.astype(dtype_name)[: 16 if sample else None] for r in rows]


@pytest.mark.parametrize("dtype", _param_dtypes())
def test_logsumexp_near_zero(isa, dtype):
    """logsumexp = m + L with m < 0 < L and |m + L| << L: the result must still be accurate in
    ulps of itself (docs/numerics.md, "The bounds", measures every output against the exact
    result)."""
    smp = _sampled(dtype)
    xs = near_zero_lse_rows(dtype.name, smp)
    # The condition number of m + L here is L/|m + L|, unbounded: no fixed-precision method is
    # accurate in ulps of the result for every such row. logitkit detects the cancellation and
    # recomputes the row in a wider type (double for float32, x87 long double for float64), so the
    # documented bound is 3 ulp of the result or 4·2^-p_wide·L absolute, whichever is larger.
    wide_eps = 2.0**-53 if dtype == np.float32 else float(np.finfo(np.longdouble).eps)
    worst = 0.0
    for i, x in enumerate(xs):
        got = lk.logsumexp(x)
        exact = _cached_exact("near zero", dtype.name, "logsumexp", i, sample=smp)
        m = np.max(x, axis=-1).astype(np.float64)
        L = exact.astype(np.float64) - m
        ue = ulp_errors(got, exact, dtype) / BOUNDS["logsumexp"][dtype]
        w = oracle.work_dtype(dtype)
        ae = np.abs(got.astype(w) - exact.astype(w)).astype(np.float64) / (4 * wide_eps * np.abs(L))
        err = np.minimum(ue, ae)
        worst = max(worst, float(err.max()))
        i = int(np.argmax(err))
        assert err[i] <= 1, (x[i], got[i], exact[i], float(ue[i]))
        # each row's result is its own, alone or in the batch, in either order
        np.testing.assert_array_equal(lk.logsumexp(x[::-1])[::-1], got)
        np.testing.assert_array_equal([lk.logsumexp(r) for r in x], got)
    registry.record("logsumexp", dtype, isa, worst, "near-zero logsumexp (/bound)")


@functools.cache
def partial_cancel_lse_rows(dtype_name: str, sample: bool = False):
    """Rows whose logsumexp m + L is a fraction f of L (m < 0 < L), f in 0.2..0.95: on either side
    of the wide-type recomputation's threshold, where L's own error is multiplied by 1/f. Short
    rows (one row per SIMD lane) and long ones (sample: 24 rows of each length)."""
    rng = _rng(8, int(dtype_name == "float64"))
    out = []
    for n in [2, 3, 5, 8, 11, 15, 16, 31, 40, 100, 6, 12, 24, 32, 48]:
        x = rng.normal(0, rng.choice([0.3, 1.0, 3.0], (512, 1)), (512, n))
        m = x.max(axis=1, keepdims=True)
        L = np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        f = np.where(
            rng.random((512, 1)) < 0.75,
            rng.uniform(0.24, 0.55, (512, 1)),
            rng.uniform(0.2, 0.95, (512, 1)),
        )
        out.append((x - m + (f - 1) * L).astype(dtype_name))  # max = (f - 1)·L < 0, result f·L
    # Rows of 2-4 whose result lies just above the recomputation's cut for float64 (L/2), many of
    # them: where L's error counts up to twice. At that cut float32 measured 3.5-3.8 ulp (bound
    # 3) on 32768 rows per length; its cut is 3L/4.
    rng = _rng(9, int(dtype_name == "float64"))
    for n in [2, 3, 4]:
        x = rng.normal(0, rng.choice([0.3, 1.0, 3.0], (32768, 1)), (32768, n))
        m = x.max(axis=1, keepdims=True)
        L = np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        f = rng.uniform(0.5, 0.62, (32768, 1))
        out.append((x - m + (f - 1) * L).astype(dtype_name))
    return [x[:24] for x in out] if sample else out


@pytest.mark.parametrize("dtype", _param_dtypes())
def test_logsumexp_partial_cancellation(isa, dtype):
    """logsumexp where m + L cancels only partly: within the logsumexp bound in ulps of the result,
    whether the row is recomputed in the wide type or not."""
    smp = _sampled(dtype)
    xs = partial_cancel_lse_rows(dtype.name, smp)
    _check(
        "logsumexp",
        dtype,
        isa,
        (
            (
                x,
                lk.logsumexp(x),
                _cached_exact("partial cancel", dtype.name, "logsumexp", i, sample=smp),
                -1,
            )
            for i, x in enumerate(xs)
        ),
        "partial cancellation",
    )


def test_confident_row_top_entry_is_not_rounded_away():
    """log p(top) of [0, -40] is -exp(-40)-ish, not 0
    (docs/numerics.md, "Where the textbook formulas lose accuracy", point 1)."""
    for dt in (np.float32, np.float64):
        ls = lk.log_softmax(np.array([0.0, -40.0], dtype=dt))
        assert ls[0] < 0
        assert oracle.ulp_error(ls, oracle.log_softmax(np.array([0.0, -40.0], dtype=dt)), dt) <= 1


# ----------------------------------------------------------------------------- temperature

EXACT_T = [0.25, 0.5, 2.0, 4.0]  # exactly representable in float16/32/64
INEXACT_T = [0.1, 0.3, 7.3]  # Python floats that float32 cannot hold: x / T must use T as given


@functools.cache
def temperature_rows(dtype_name: str, scale: float, sample: bool = False):
    """8 rows of every length 1..39, 100 and 1000 (sample: 2)."""
    rng = _rng(3, int(dtype_name == "float64"), int(scale))
    return [
        (rng.standard_normal((8, n)) * scale).astype(dtype_name)[: 2 if sample else None]
        for n in list(range(1, 40)) + [100, 1000]
    ]


def _temperature_case(isa, dtype, scale, t, func, category):
    f = getattr(lk, func)
    smp = _sampled(dtype)
    xs = temperature_rows(dtype.name, scale, smp)
    _check(
        func,
        dtype,
        isa,
        (
            (
                x,
                f(x, temperature=t),
                _cached_exact("temperature", dtype.name, func, i, (scale, t), sample=smp),
                -1,
            )
            for i, x in enumerate(xs)
        ),
        category,
    )


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("t", EXACT_T)
@pytest.mark.parametrize("scale", [1.0, 10.0], ids=lambda s: f"x{s:g}")
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_temperature(isa, dtype, scale, t, func):
    """Against the oracle of x/T computed exactly in higher precision."""
    _temperature_case(isa, dtype, scale, t, func, "temperature (exact T)")


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("t", INEXACT_T)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_temperature_not_representable_in_input_dtype(isa, dtype, t, func):
    """temperature=0.1 means x / 0.1 (the Python float), not x / float32(0.1)."""
    _temperature_case(isa, dtype, 10.0, t, func, "temperature 0.1/0.3/7.3")


@functools.cache
def masked_rows(dtype_name: str, sample: bool = False):
    """12 rows of each length, the first fully masked, the second not masked at all (sample: the
    first 4)."""
    rng = _rng(4, int(dtype_name == "float64"))
    out = []
    for n in [1, 2, 3, 7, 16, 31, 64, 129]:
        x = (rng.standard_normal((12, n)) * 10).astype(dtype_name)
        w = rng.random((12, n)) < 0.7
        w[0] = False  # a fully masked row
        w[1] = True
        x[~w] = rng.choice([np.nan, np.inf, -np.inf, 3e38], size=int((~w).sum()))
        out.append((x[:4], w[:4]) if sample else (x, w))
    return out


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("t", [None, 0.5])
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_masked_rows(isa, dtype, t, func):
    """where= with garbage (NaN, inf, huge) under the mask: accuracy of the unmasked part."""
    f = getattr(lk, func)
    smp = _sampled(dtype)
    cases = []
    with np.errstate(all="raise"):
        for i, (x, w) in enumerate(masked_rows(dtype.name, smp)):
            cases.append(
                (
                    x,
                    f(x, where=w, temperature=t),
                    _cached_exact("masked", dtype.name, func, i, t, sample=smp),
                    -1,
                )
            )
    _check(func, dtype, isa, cases, "masked (where=)")


# ----------------------------------------------------------------------------- elementwise


def _neighbourhood(anchors, dtype, k):
    """Every float within k ulps of each anchor (and of its negative)."""
    a = np.asarray(anchors, dtype=dtype)
    ibits = {4: np.int32, 8: np.int64}[a.dtype.itemsize]
    base = np.abs(a).view(ibits)[:, None] + np.arange(-k, k + 1, dtype=ibits)[None, :]
    v = base.ravel().view(dtype)
    v = v[np.isfinite(v)]
    return np.concatenate([v, -v])


@functools.cache
def sweep(dtype_name: str, sample: bool = False):
    """A dense sweep of the whole float range: random bit patterns (every exponent), a fine grid
    over the interesting range, all scales of tiny numbers down to the subnormals, the listed
    special points, and every float within 200 ulp of the points where a branch, an overflow or
    an underflow happens (sample: 1/64 of the random patterns, 1/256 of the grid, 1/8 of the tiny
    numbers; all of the rest)."""
    dt = np.dtype(dtype_name)
    fi = np.finfo(dt)
    rng = _rng(5, int(dt == np.float64))
    ubits = {4: np.uint32, 8: np.uint64}[dt.itemsize]
    rand = rng.integers(0, np.iinfo(ubits).max, size=1 << 18, dtype=ubits, endpoint=True).view(dt)
    rand = rand[np.isfinite(rand)]
    lim = 120.0 if dt == np.float32 else 800.0
    grid = np.linspace(-lim, lim, (1 << 20) + 1).astype(dt)
    tiny = np.geomspace(float(fi.smallest_subnormal), 1.0, 1 << 13).astype(dt)
    special = np.array(
        [
            1e-40,
            88,
            104,
            750,
            3e38,
            1e-300,
            710,
            1000,
            0.5,
            1.0,
            2.0,
            np.log(2.0),
            float(fi.max),
            float(fi.smallest_normal),
            float(fi.smallest_subnormal),
            2 * float(fi.smallest_subnormal),
            float(fi.eps),
        ],
        dtype=np.float64,
    )
    with np.errstate(over="ignore", under="ignore"):
        special = special.astype(dt)
    special = special[np.isfinite(special)]
    anchors = [
        np.log(2.0),
        1.0,
        16.635532,
        17.32868,
        36.043653,
        36.7368,
        87.33655,
        88.72284,
        89.0,
        103.27893,
        103.97208,
        104.0,
        708.39642,
        709.78271,
        710.0,
        744.44007,
        745.13322,
        746.0,
    ]
    with np.errstate(over="ignore"):
        near = _neighbourhood(anchors, dt, 200)
    if sample:
        rand, grid, tiny = rand[::64], grid[::256], tiny[::8]
    x = np.concatenate(
        [
            rand,
            grid,
            tiny,
            -tiny,
            special,
            -special,
            near,
            np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dt),
        ]
    )
    return x


@functools.cache
def sweep_exact(dtype_name: str, func: str, sample: bool = False):
    return registry.BY_NAME[func].oracle(sweep(dtype_name, sample))


@pytest.mark.parametrize("func", ELEMENTWISE)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_elementwise_sweep(isa, dtype, func):
    x = sweep(dtype.name, _sampled(dtype))
    got = getattr(lk, func)(x)
    exact = sweep_exact(dtype.name, func, _sampled(dtype))
    _check(func, dtype, isa, [(x, got, exact, -1)], "elementwise sweep")


@pytest.mark.parametrize("func", ELEMENTWISE)
@pytest.mark.parametrize("dtype", _param_dtypes())
def test_elementwise_sweep_every_alignment(isa, dtype, func):
    """Same values through every tail length and offset of the SIMD loops (and strided input)."""
    x = sweep(dtype.name, _sampled(dtype))[-4000:]
    exact = sweep_exact(dtype.name, func, _sampled(dtype))[-4000:]
    f = getattr(lk, func)
    cases = []
    for start in range(17):
        for n in (1, 7, 15, 33):
            cases.append(
                (x[start : start + n], f(x[start : start + n]), exact[start : start + n], -1)
            )
    cases.append((x[::3], f(x[::3]), exact[::3], -1))
    _check(func, dtype, isa, cases, "elementwise sweep")


# ----------------------------------------------------------------------------- mpmath points


def _mp(v):
    return mpmath.mpf(float(v))


def _mp_ulps(got, exact_mp, dtype):
    """ulp error of got against an mpmath value (subnormal rule as in oracle.ulp_errors)."""
    fi = np.finfo(dtype)
    g = mpmath.mpf(float(got))
    if exact_mp == 0:
        return float(abs(g) / (2 * _mp(fi.smallest_subnormal)))
    if abs(exact_mp) < _mp(fi.smallest_normal):
        return float(abs(g - exact_mp) / (2 * _mp(fi.smallest_subnormal)))
    e = int(mpmath.floor(mpmath.log(abs(exact_mp), 2)))
    return float(abs(g - exact_mp) / mpmath.mpf(2) ** (e - fi.nmant))


@pytest.fixture
def mp2000():
    with mpmath.workprec(2000):
        yield


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_known_logsumexp_values(isa, dtype, mp2000):
    got = lk.logsumexp(np.array([0.0, -40.0], dtype=dtype))
    exact = mpmath.log(1 + mpmath.exp(-40))
    assert _mp_ulps(got, exact, dtype) <= BOUNDS["logsumexp"][dtype]
    got = lk.logsumexp(np.array([1000.0, 1000.0], dtype=dtype))
    exact = 1000 + mpmath.log(2)
    assert _mp_ulps(got, exact, dtype) <= BOUNDS["logsumexp"][dtype]
    if dtype == np.float64:  # the known values of docs/numerics.md, "Known values"
        assert float(lk.logsumexp(np.array([0.0, -40.0]))) == pytest.approx(
            4.248354255291589e-18, rel=8 * 2**-52
        )
        assert float(lk.logsumexp(np.array([1000.0, 1000.0]))) == pytest.approx(
            1000.6931471805599, rel=8 * 2**-52
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_known_softmax_values(isa, dtype, mp2000):
    x = np.array([1.0, 325.0, 749.0, 750.0], dtype=dtype)
    got = lk.softmax(x)
    v = [_mp(a) for a in x]
    s = mpmath.fsum(mpmath.exp(a - v[-1]) for a in v)
    for g, a in zip(got, v):
        assert _mp_ulps(g, mpmath.exp(a - v[-1]) / s, dtype) <= BOUNDS["softmax"][dtype], (g, a)
    if dtype == np.float64:
        assert got[0] == 0.0
        np.testing.assert_allclose(
            got[1:],
            [1.9444526359919372e-185, 0.2689414213699951, 0.7310585786300048],
            rtol=8 * 2**-52,
        )
    ls = lk.log_softmax(x)
    for g, a in zip(ls, v):
        assert _mp_ulps(g, a - v[-1] - mpmath.log(s), dtype) <= BOUNDS["log_softmax"][dtype]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_known_log_sigmoid_values(isa, dtype, mp2000):
    assert lk.log_sigmoid(np.array([-750.0], dtype=dtype))[0] == -750.0
    r = lk.log_sigmoid(np.array([1000.0], dtype=dtype))[0]
    assert r == 0.0 and np.signbit(r), repr(r)
    if dtype == np.float64:
        got = lk.log_sigmoid(np.array([710.0]))[0]
        exact = -mpmath.log1p(mpmath.exp(-710))
        assert _mp_ulps(got, exact, dtype) <= 1, (got, exact)
        assert got == pytest.approx(-4.47628622567513e-309, rel=1e-9)
        assert np.abs(got) < np.finfo(np.float64).smallest_normal and got != 0
    # A few more points across the range, against mpmath.
    pts = [-104.0, -88.5, -20.0, -1.0, -1e-40, 0.0, 1e-40, 0.5, 16.0, 36.0, 87.0, 89.0, 103.0]
    if dtype == np.float64:
        pts += [-745.0, 36.8, 700.0, 709.0, 744.0, 745.5]
    x = np.array(pts, dtype=dtype)
    for f, mpf in [
        (lk.log_sigmoid, lambda a: -mpmath.log1p(mpmath.exp(-a))),
        (lk.softplus, lambda a: mpmath.log1p(mpmath.exp(a))),
        (lk.sigmoid, lambda a: 1 / (1 + mpmath.exp(-a))),
    ]:
        got = f(x)
        name = f.__name__
        for g, a in zip(got, x):
            err = _mp_ulps(g, mpf(_mp(a)), dtype)
            assert err <= BOUNDS[name][dtype], (name, a, g, err)


# ----------------------------------------------------------------------------- oracle self-check


def test_oracle_matches_mpmath(mp2000, f64_path):
    """The oracle is far more accurate than the bounds it checks (float64 rows, with T), on both
    of its float64 paths."""
    rng = _rng(6)
    worst = 0.0
    for t in [None, 0.1, 3.7]:
        for n in [1, 2, 5, 17]:
            x = rng.standard_normal((3, n)) * 30
            x[0, 0] += 60  # a confident row
            res = {f: registry.BY_NAME[f].oracle(x, temperature=t) for f in ROW_FUNCS}
            tt = mpmath.mpf(1.0 if t is None else t)
            for r in range(3):
                v = [_mp(a) for a in x[r]]
                m = max(v)
                s = mpmath.fsum(mpmath.exp((a - m) / tt) for a in v)
                exact = {
                    "softmax": [mpmath.exp((a - m) / tt) / s for a in v],
                    "log_softmax": [(a - m) / tt - mpmath.log(s) for a in v],
                    "logsumexp": [m / tt + mpmath.log(s)],
                }
                for f in ROW_FUNCS:
                    got = np.atleast_1d(res[f][r])
                    assert (got.dtype == oracle.MP) == (f64_path == "mpmath"), got.dtype
                    for g, e in zip(got, exact[f]):
                        if e != 0:
                            if f64_path == "mpmath":
                                g_mp = mpmath.mpf(g)
                            else:
                                g_mp = mpmath.mpf(np.format_float_scientific(g, unique=True))
                            worst = max(worst, float(abs((g_mp - e) / e)))
    assert worst < 2.0**-58, worst  # 1/64 ulp of float64
