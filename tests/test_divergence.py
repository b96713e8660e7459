"""Entropy and KL divergence from logits (python/logitkit/_divergence.py, kernels/divergence.hpp).

The registry (tests/registry.py) runs both on every ISA against the NumPy oracle on random rows;
this file covers what that cannot: the extremes against mpmath (a confident row's tiny entropy, the
divergence 1e-30 of two nearly identical rows), the exact zeros (identical rows, rows that differ by
a constant), the special values and entries far below the max at every lane offset, the gradients
against finite differences and PyTorch, every reduction and option with every other, and the errors.
"""

from __future__ import annotations

import importlib.util

import logitkit as lk
import mpmath as mp
import numpy as np
import oracle
import pytest
import registry
from budgets import assert_within_budget
from registry import LOSS_BOUNDS

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F32, F64]
MP_DPS = 120  # a KL of 1e-40 from terms of order 1: 40 digits cancel, 80 remain


def _mp_rows(x, t):
    z = [mp.mpf(float(v)) / mp.mpf(t) for v in x]
    fin = [v for v in z if v != -mp.inf]
    m = max(fin)
    s = mp.fsum(mp.e ** (v - m) for v in fin)
    lse = m + mp.log(s)
    return [(v - lse) if v != -mp.inf else -mp.inf for v in z]


def _wide(values):
    """mpmath values as a long double array (wider than float64: a reference for the budgets)."""
    return np.array([np.longdouble(mp.nstr(v, 30)) for v in values], dtype=np.longdouble)


def _loss_budget(name, reduction):
    return name if reduction == "none" else "reduced"


def mp_entropy(x, t=1.0):
    with mp.workdps(MP_DPS):
        lp = _mp_rows(x, t)
        return -mp.fsum(mp.e**v * v for v in lp if v != -mp.inf)


def mp_kl(x, y, t=1.0, dps=MP_DPS):
    with mp.workdps(dps):
        lp, lq = _mp_rows(x, t), _mp_rows(y, t)
        total = mp.mpf(0)
        for a, b in zip(lp, lq, strict=True):
            if a == -mp.inf:
                continue
            if b == -mp.inf:
                return mp.inf
            total += mp.e**a * (a - b)
        return total


def ulps(got, exact, dtype):
    """|got - exact| in ulps of dtype at the exact (mpmath) value, without rounding it first
    (oracle.ulp_errors' conventions: 2 x the smallest subnormal below the normal range)."""
    fi = np.finfo(dtype)
    g = float(np.asarray(got, dtype=np.float64))
    if not mp.isfinite(exact) or not np.isfinite(g):
        return 0.0 if g == float(exact) else np.inf
    with mp.workdps(MP_DPS):
        e = +exact
        if abs(e) >= fi.smallest_normal:
            unit = mp.mpf(2) ** (mp.floor(mp.log(abs(e), 2)) - fi.nmant)
        else:
            unit = 2 * mp.mpf(float(fi.smallest_subnormal))
        return float(abs(mp.mpf(g) - e) / unit)


def within(name, got, exact, dtype, isa, what):
    """Whether got is within the losses' ulp bound of the mpmath value; the error is recorded for
    the end-of-run table (conftest.py) under `what`."""
    err = ulps(got, exact, dtype)
    registry.record(name, dtype, isa, err, f"{what} (ulp)")
    return err <= LOSS_BOUNDS[dtype]


# ------------------------------------------------------------------------------ entropy extremes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "row, t",
    [
        ([40.0, 0.0], 1.0),  # 1.7e-16: not 0
        ([80.0, 0.0, -3.0], 1.0),
        ([0.0, -60.0, -61.0, -200.0], 1.0),
        ([3.0] * 7, 1.0),  # flat: log 7
        ([5.0, -np.inf, 5.0, -np.inf], 1.0),  # log 2: the -inf entries are not classes
        ([1.0, 2.0, 3.0], 1e-3),  # a tiny temperature: nearly one-hot
        ([1.0, 2.0, 3.0], 1e4),  # a huge one: nearly flat
        (list(np.linspace(-30, 30, 301)), 0.5),
    ],
)
def test_entropy_against_mpmath_at_the_extremes(isa, dtype, row, t):
    x = np.array(row, dtype)
    got = lk.entropy(x, temperature=t)
    exact = mp_entropy(x, t)
    assert got >= 0
    assert within("entropy", got, exact, dtype, isa, "mpmath extremes"), (got, float(exact))


@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_of_a_very_confident_float64_row_keeps_its_digits(isa, dtype):
    # float64: H = 201·e^-200 ≈ 2.8e-85; float32 rows go as far as their range allows
    big = 200.0 if dtype == F64 else 60.0
    x = np.array([big, 0.0], dtype)
    exact = mp_entropy(x)
    assert 0 < float(exact) < 1e-20
    assert within("entropy", lk.entropy(x), exact, dtype, isa, "mpmath extremes")


@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_exact_values(isa, dtype):
    assert lk.entropy(np.array([-np.inf, 1.0, -np.inf], dtype)) == 0  # one finite entry
    n = 1000
    h = lk.entropy(np.zeros(n, dtype))
    assert ulps(h, mp.log(n), dtype) <= LOSS_BOUNDS[dtype]


# --------------------------------------------------------------------------------- KL extremes


def _near(dtype, rng, n, rel):
    """Two rows that differ by a constant shift and a relative perturbation of about rel."""
    x = (rng.standard_normal(n) * 3).astype(dtype)
    y = (x.astype(np.float64) * (1 + rel * rng.standard_normal(n)) + 4.0).astype(dtype)
    return x, y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 9, 67, 300, 1000])
@pytest.mark.parametrize("t", [1.0, 0.6])
def test_kl_of_nearly_identical_rows_against_mpmath(isa, dtype, n, t):
    rng = np.random.default_rng(n)
    rel = 1e-6 if dtype == F32 else 1e-13
    for _ in range(3):
        x, y = _near(dtype, rng, n, rel)
        got = lk.kl_divergence(x, y, temperature=t)
        exact = mp_kl(x, y, t)
        assert got >= 0
        assert within("kl_divergence", got, exact, dtype, isa, "nearly identical rows"), (
            got,
            float(exact),
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 8, 9, 16, 100, 700])
def test_kl_of_rows_one_ulp_apart_at_one_entry(isa, dtype, n):
    """The divergence lives in the low part of one entry's difference (10^-30 and below): every
    part of the centred difference must reach the sum."""
    rng = np.random.default_rng(100 + n)
    for j in range(min(n, 5)):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        y = x.copy()
        y[j] = np.nextafter(y[j], dtype.type(np.inf))
        got = lk.kl_divergence(x, y)
        exact = mp_kl(x, y)
        assert float(exact) > 0
        assert within("kl_divergence", got, exact, dtype, isa, "rows one ulp apart"), (
            j,
            got,
            float(exact),
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2000, 20000])
def test_kl_when_the_largest_entry_is_the_one_that_moved(isa, dtype, n):
    """A nearly flat row whose largest entry (the reference of the centred differences) is the only
    one Q changes: every other u_i is about -p_k·δ and c is about δ, so the weights must sum to 1
    as used (an error η in Σ p costs η·c²/2, relatively η/p_k = η·n)."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 0.01).astype(dtype)
    k = int(np.argmax(x))
    y = x.copy()
    y[k] = x[k] + dtype.type(1e-3 if dtype == F32 else 1e-9)
    got = lk.kl_divergence(x, y)
    exact = mp_kl(x, y)
    assert within("kl_divergence", got, exact, dtype, isa, "the largest entry moved"), (
        got,
        float(exact),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_is_exactly_zero_for_identical_and_shifted_rows(isa, dtype):
    rng = np.random.default_rng(3)
    x = rng.integers(-20, 20, (6, 301)).astype(dtype)  # integers: x + 1024 is exact
    assert np.all(lk.kl_divergence(x, x, reduction="none") == 0)
    assert np.all(lk.kl_divergence(x, x + dtype.type(1024), reduction="none") == 0)
    assert np.all(lk.kl_divergence(x, x - dtype.type(7), temperature=0.3, reduction="none") == 0)
    kl, g = lk.kl_divergence_with_grad(x, x + dtype.type(5), reduction="none")
    assert np.all(kl == 0) and np.all(np.abs(g) <= 4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_is_never_negative(isa, dtype):
    rng = np.random.default_rng(5)
    for rel in (1e-3, 1e-7, 1e-12):
        x = (rng.standard_normal((200, 33)) * 4).astype(dtype)
        y = (x * (1 + rel * rng.standard_normal(x.shape)) + 1).astype(dtype)
        assert np.all(lk.kl_divergence(x, y, reduction="none") >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_of_far_apart_rows(isa, dtype):
    """|u| > 1 (φ from exp) and a divergence of ~1000 (some p·e^u beyond double's range: the log
    domain)."""
    for x, y in (
        ([0.0, 0.0, 0.0], [0.0, -3.0, 5.0]),
        ([10.0, 0.0, -5.0, 2.0], [-10.0, 1.0, 4.0, 0.0]),
        ([0.0, 0.0], [0.0, -2000.0]),  # 1000 - log 2
        ([0.0, 0.0] + [-1e4] * 20, [0.0, -1500.0] + [30.0] * 20),
    ):
        xa, ya = np.array(x, dtype), np.array(y, dtype)
        got = lk.kl_divergence(xa, ya)
        exact = mp_kl(xa, ya)
        assert within("kl_divergence", got, exact, dtype, isa, "mpmath extremes"), (x, y, got)


def mp_kl_grad(x, y, t=1.0):
    """(q_i - p_i)/T at MP_DPS digits."""
    with mp.workdps(MP_DPS):
        lp, lq = _mp_rows(x, t), _mp_rows(y, t)
        return [(mp.e**b - mp.e**a) / t for a, b in zip(lp, lq, strict=True)]


# The absolute part of (Q - P)/T's bound, times 1/T (docs/numerics.md, "Documented exceptions"):
# float32 2·2^-24, float64 1.25·2^-53.
KL_GRAD_ABS = {np.dtype(np.float32): 2.0 * 2.0**-24, np.dtype(np.float64): 1.25 * 2.0**-53}


def _kl_grad_bound_fraction(g, eg, dtype, t):
    """Each gradient entry's error as a fraction of the looser of its two bounds (the documented
    exception for (Q - P)/T): KL_GRAD_ABS/T absolute, or the gradient's ulp bound. At most 1
    passes. eg may be np.longdouble (a screening estimate): the absolute error is then taken in it."""
    dtype = np.dtype(dtype)
    wide = np.result_type(eg, np.float64)
    return np.minimum(
        np.abs(np.asarray(g, wide) - eg) / wide.type(KL_GRAD_ABS[dtype] / t),
        oracle.ulp_errors(g, np.asarray(eg, np.float64), dtype) / oracle.GRAD_BOUNDS[dtype][0],
    )


def _check_kl_rows_against_mpmath(x, y, t, dtype, isa, what, dps=MP_DPS):
    """Each row's KL within the losses' ulp bound of mpmath, and its gradient within its bound;
    returns the gradient's largest error as a fraction of that bound."""
    kl, g = lk.kl_divergence_with_grad(x, y, temperature=t, reduction="none")
    worst = 0.0
    for r in range(x.shape[0]):
        exact = mp_kl(x[r], y[r], t, dps=dps)
        assert within("kl_divergence", kl[r], exact, dtype, isa, what), (r, kl[r], float(exact))
        eg = np.array([float(v) for v in mp_kl_grad(x[r], y[r], t)])
        frac = _kl_grad_bound_fraction(g[r], eg, dtype, t)
        worst = max(worst, float(frac.max()))
        assert (frac <= 1).all(), (r, np.flatnonzero(frac > 1), g[r][frac > 1], eg[frac > 1])
    return worst


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "n, spread, diff, t", [(100, 120.0, 5.0, 3.0), (17, 300.0, 30.0, 0.7), (40, 60.0, 1.0, 3.0)]
)
def test_kl_of_a_confident_teacher_at_a_temperature(isa, dtype, n, spread, diff, t):
    """A nearly one-hot P whose divergence (1e-28, say) comes from entries with (x_i - x_k)/T near
    -60 and u of a few units: their p·e^u must come from exact quotients by T (a rounded 1/T scales
    every d' by up to 1 + 2^-24, which such an entry turns into tens of ulps). Also e subnormal with
    u > 1, and the gradient against mpmath."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((6, n)) * spread).astype(dtype)
    y = (x + rng.standard_normal((6, n)) * diff).astype(dtype)
    # dps: KLs down to 1e-112 from terms of order 1
    _check_kl_rows_against_mpmath(x, y, t, dtype, isa, "confident rows, T != 1", dps=400)


def test_kl_gradient_when_its_scale_is_near_the_smallest_normal(isa):
    """float32 rows at a temperature near float's largest: the gradient's scale 1/T (2.5e-38) is a
    normal float, but its quotients by the rows' sums (1/(T·S)) are not, and the kernel folds those
    into its factors; such rows take the kernel that scales by 1/T alone. Divergence and gradient
    against mpmath (the gradient's entries are mostly subnormal: within its absolute bound). The
    factors' subnormal rounding would stay within that bound too, so this checks the results in
    this regime (a factor flushed to 0, say), not which kernel ran."""
    f32 = np.float32
    t = 4e37
    rng = np.random.default_rng(5)
    x = (np.clip(rng.standard_normal((3, 300)), -7, 7) * t).astype(f32)
    y = (np.clip(rng.standard_normal((3, 300)), -7, 7) * t).astype(f32)
    _check_kl_rows_against_mpmath(
        x, y, t, np.dtype(f32), isa, "gradient scale near the smallest normal"
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [16, 61, 300])
@pytest.mark.parametrize("t", [1.0, 0.7])
def test_kl_of_rows_a_few_units_apart_against_mpmath(isa, dtype, n, t):
    """u_i = c - d'_i spread over about [-5, 5]: entries on both sides of [-1, 2], where float32 rows
    take φ(u) from its polynomial, and beyond it, where they form e_i·φ(u_i) as e^c·f_i - e_i·(1 + u_i)
    and the gradient as f_i/S_y - e_i/S_x. Divergence and gradient against mpmath."""
    rng = np.random.default_rng(31 + n)
    x = (rng.standard_normal((3, n)) * 2).astype(dtype)
    y = (x + np.stack([rng.permutation(np.linspace(-4.0, 5.0, n)) for _ in range(3)])).astype(dtype)
    _check_kl_rows_against_mpmath(x, y, t, dtype, isa, "rows a few units apart")


def _kl_estimate(x, y, t):
    """Each row's KL in np.longdouble by the φ form, u = c - d with d = (x - y)/T taken from the
    difference of the logits (not of their quotients, whose roundings a tiny u would not survive),
    where oracle.kl_divergence's Σ p·(log p - log q) cancels to noise on small divergences: a
    reference for choosing which rows to check against mpmath, not for asserting."""
    ld = np.longdouble
    lx = x.astype(ld) / ld(t)
    lx -= lx.max(axis=1, keepdims=True)
    p = np.exp(lx)
    p /= p.sum(axis=1, keepdims=True)
    d = (x.astype(ld) - y.astype(ld)) / ld(t)
    u = (p * d).sum(axis=1, keepdims=True) - d
    return np.log1p((p * (np.expm1(u) - u)).sum(axis=1))


def _kl_grad_estimate(x, y, t):
    """Each row's gradient (q - p)/T in np.longdouble: to choose rows to check against mpmath."""
    ld = np.longdouble

    def softmax(v):
        v = v.astype(ld) / ld(t)
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return (softmax(y) - softmax(x)) / ld(t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 3, 17, 300])
@pytest.mark.parametrize("t", [1.0, 0.7])
def test_kl_worst_rows_of_a_large_sample_against_mpmath(isa, dtype, n, t):
    """Rows that disagree by a fraction of a unit to a few units, P and Q anywhere from flat to
    confident and not always alike (x a multiple of y plus noise): short rows put most of F on one
    or two entries, with u on either side of φ's polynomial range, so each entry's rounding (of u,
    of φ, of p) reaches the result undiluted; a flat P against a confident Q moves the centre c far
    from 0 (up to KL + log n); P and Q sharing a heavy entry put q - p between two numbers near 1/2,
    where each one's rounding, and that of its row's offset log S, reaches the gradient whole. Up to
    40000 rows are screened with long double estimates of each row's KL and gradient; the eight
    worst in KL (in ulps of the estimate) and the eight worst in the gradient (as fractions of its
    bound) are checked against mpmath, divergence and gradient, and their worst errors are the ones
    recorded."""
    rng = np.random.default_rng(1000 * n + int(10 * t))
    rows = min(40000, 1_000_000 // n)
    scale = rng.choice([0.3, 1.0, 3.0, 10.0], size=(rows, 1))
    ratio = rng.choice([0.1, 1.0, 1.0, 3.0], size=(rows, 1))
    diff = rng.choice([0.3, 0.5, 1.0, 2.0], size=(rows, 1))
    y = (rng.standard_normal((rows, n)) * scale).astype(dtype)
    x = (y * ratio + rng.standard_normal((rows, n)) * diff).astype(dtype)
    kl, g = lk.kl_divergence_with_grad(x, y, temperature=t, reduction="none")
    est = _kl_estimate(x, y, t)
    unit = np.spacing(np.abs(est).astype(dtype)).astype(np.longdouble)
    worst_kl = np.argsort(np.abs(kl.astype(np.longdouble) - est) / unit)[-8:]
    worst_grad = np.argsort(
        _kl_grad_bound_fraction(g, _kl_grad_estimate(x, y, t), dtype, t).max(axis=1)
    )[-8:]
    worst = np.union1d(worst_kl, worst_grad)
    fraction = _check_kl_rows_against_mpmath(
        x[worst], y[worst], t, dtype, isa, "worst rows of large samples"
    )
    registry.record(
        "kl_divergence",
        dtype,
        isa,
        fraction,
        "gradient, worst rows of large samples (/bound)",
    )


@pytest.mark.parametrize("t", [1.0, 0.5])
def test_kl_gradient_entries_near_the_bottom_of_doubles_range(isa, t):
    """float64 entries whose p and q lie between e^-690 and e^-745 (subnormal), on either side of
    where the double-length exp the kernel takes p and q from gives 0: each gradient entry (q - p)/T
    within its ulp bound of mpmath (2 x the smallest subnormal below the normals), not only within
    the absolute bound that a 0 would meet. At each such entry p and q differ by a factor of e or
    more, so that (q - p)/T keeps their relative accuracy."""
    f64 = np.dtype(np.float64)
    x = np.array([0.0, -1.0, -698.0, -703.0, -712.0, -735.0, -744.0, -np.inf]) * t
    y = np.array([0.0, -1.5, -703.0, -698.0, -706.0, -742.0, -739.0, -720.0]) * t
    _, g = lk.kl_divergence_with_grad(x, y, temperature=t, reduction="sum")
    eg = mp_kl_grad(x, y, t)
    err = oracle.ulp_errors(g, np.array(eg, dtype=object), f64)
    assert np.all(err <= oracle.GRAD_BOUNDS[f64][0]), (err, g, [float(v) for v in eg])


def test_kl_gradient_where_q_nearly_equals_p_at_a_heavy_entry(isa):
    """float32: q_i close to p_i at an entry that carries most of P, with u_i = c - d'_i between 1
    and 2 (near KL). There the form e_i·(e^u - 1 - F~)·K cancels to a small difference of numbers
    near 2 to 6, and a polynomial's rounding of e^u - 1 exceeded the gradient's bound; the kernel
    keeps that form for |u| <= 1. A row found by review, and random short rows of two families,
    against (q - p)/T in float64 (each entry within 2^-23/T or the gradient's ulp bound)."""
    f32 = np.dtype(np.float32)
    eps = float(np.finfo(f32).eps)
    rows = [
        ([-2.71255827, -1.33211231], [-7.04680729, 4.22961283]),
        (
            [2.33964515, -1.15590584, -0.103337802, 0.120634131],
            [2.49335718, -36.0416298, -54.2285995, -35.836174],
        ),
    ]
    for x, y in rows:
        x, y = np.array(x, f32), np.array(y, f32)
        # each row also padded with -inf past the scratch row (kl_scratch_max): the other kernel
        pad = np.full(65537 - x.size, -np.inf, f32)
        for xr, yr in ((x, y), (np.concatenate([x, pad]), np.concatenate([y, pad]))):
            _, g = lk.kl_divergence_with_grad(xr, yr, reduction="sum")
            eg = oracle.kl_divergence_grad(xr, yr, reduction="sum")
            assert np.all(np.abs(g - eg) <= eps), (xr.size, g[: x.size], eg[: x.size])
    rng = np.random.default_rng(77)
    worst = 0.0
    for n in range(2, 32):
        for t in (1.0, float(np.exp(rng.standard_normal()))):
            xs = (rng.standard_normal((2000, n)) * 5).astype(f32)
            if n <= 5:  # one entry near p's, the others far below: q ≈ p where p ≈ 1
                ys = (xs - 20 - 30 * np.abs(rng.standard_normal(xs.shape))).astype(f32)
                ys[:, 0] = xs[:, 0] + (rng.standard_normal(2000) * 0.3).astype(f32)
            else:
                ys = (xs + rng.standard_normal(xs.shape) * 3).astype(f32)
            _, g = lk.kl_divergence_with_grad(xs, ys, temperature=t, reduction="none")
            eg = oracle.kl_divergence_grad(xs, ys, temperature=t, reduction="none")
            frac = _kl_grad_bound_fraction(g, eg, f32, t)
            worst = max(worst, float(frac.max()))
            bad = frac > 1
            assert not bad.any(), (n, t, np.argwhere(bad)[:3], g[bad][:3], eg[bad][:3])
    registry.record("kl_divergence", f32, isa, worst, "gradient where q ≈ p (/bound)")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "x, y, t",
    [
        ([0.0, -np.inf], [0.0, -180.0], 3.0),  # KL = log1p(e^-60): Q's mass where P has none
        ([1.0, -np.inf, 0.5], [1.0, -120.3, 0.5], 0.7),
        ([0.0, -330.0, -1.0], [0.0, -200.0, -1.0], 3.0),  # e^-110 subnormal in float, u = 43
    ],
)
def test_kl_where_q_has_mass_that_p_lacks_at_a_temperature(isa, dtype, x, y, t):
    """p·e^u formed as one exponent, (y_i - y_k)/T + c, exact as a pair: near -60 its rounding
    alone would cost its exp 60 rounding units."""
    xa, ya = np.array(x, dtype), np.array(y, dtype)
    got = lk.kl_divergence(xa, ya, temperature=t)
    exact = mp_kl(xa, ya, t)
    assert within("kl_divergence", got, exact, dtype, isa, "q's mass where p has none, T != 1"), (
        got,
        float(exact),
    )


# ------------------------------------------------------------------------------ special values


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_special_entries(isa, dtype):
    inf = np.inf
    # p = 0 where x = -inf adds nothing, even where q = 0 too
    x, y = np.array([0.0, -inf, 1.0], dtype), np.array([1.0, -inf, 0.5], dtype)
    assert ulps(lk.kl_divergence(x, y), mp_kl(x, y), dtype) <= LOSS_BOUNDS[dtype]
    # q = 0 where p has mass: +inf, and the gradient (q - p)/T stays finite
    y2 = np.array([1.0, 3.0, -inf], dtype)
    kl, g = lk.kl_divergence_with_grad(x, y2, temperature=2.0)
    assert kl == inf
    eg = oracle.kl_divergence_grad(x, y2, temperature=2.0)
    assert np.all(np.isfinite(g))
    # (q - p)/T: within the bound of 2·max(p, q)/T (docs/numerics.md), as tests/registry.py
    assert_within_budget(g, eg, budget="gradient", scale=2.0 / 2.0, what="q = 0 where p > 0")
    # NaN or +inf anywhere, or no finite entry: NaN, and a NaN gradient row
    for bad in ([np.nan, 0.0, 1.0], [inf, 0.0, 1.0], [-inf, -inf, -inf]):
        b = np.array(bad, dtype)
        for args in ((b, y), (x, b)):
            kl, g = lk.kl_divergence_with_grad(*args)
            assert np.isnan(kl) and np.all(np.isnan(g))
        h, gh = lk.entropy_with_grad(b)
        assert np.isnan(h) and np.all(np.isnan(gh))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_special_value_at_every_lane_changes_only_its_row(isa, dtype, value):
    """NaN, +inf or -inf at each position of a 67-wide row (every lane of every vector, the tail,
    the widened chunks), in p or in q: the other rows keep their bits."""
    rng = np.random.default_rng(9)
    n = 67
    x = (rng.standard_normal((n, n)) * 3).astype(dtype)
    y = (rng.standard_normal((n, n)) * 3).astype(dtype)
    clean_kl, clean_g = lk.kl_divergence_with_grad(x, y, reduction="none")
    clean_h, clean_gh = lk.entropy_with_grad(x)
    for target in ("p", "q"):
        xs, ys = x.copy(), y.copy()
        inj = xs if target == "p" else ys
        idx = np.arange(n)
        inj[idx, idx] = value  # row i gets the special value at position i
        kl, g = lk.kl_divergence_with_grad(xs, ys, reduction="none")
        for i in range(n):
            xr, yr = xs[i], ys[i]
            if np.isnan(value) or value == np.inf:
                assert np.isnan(kl[i]) and np.all(np.isnan(g[i])), i
            else:
                ek = mp_kl(xr, yr)
                if ek == mp.inf:
                    assert kl[i] == np.inf, i
                else:
                    assert ulps(kl[i], ek, dtype) <= LOSS_BOUNDS[dtype], i
                eg = oracle.kl_divergence_grad(xr, yr, reduction="sum")
                assert_within_budget(g[i], eg, budget="gradient", scale=2.0, what=f"row {i}")
        # the same bits as the clean rows' where nothing was injected: checked on a second batch
        # whose injected rows are left clean
        keep = np.arange(n) % 2 == 0
        xs2, ys2 = x.copy(), y.copy()
        inj2 = xs2 if target == "p" else ys2
        inj2[idx[~keep], idx[~keep]] = value
        kl2, g2 = lk.kl_divergence_with_grad(xs2, ys2, reduction="none")
        assert np.array_equal(kl2[keep], clean_kl[keep]) and np.array_equal(g2[keep], clean_g[keep])
        if target == "p":
            h2, gh2 = lk.entropy_with_grad(xs2)
            assert np.array_equal(h2[keep], clean_h[keep])
            assert np.array_equal(gh2[keep], clean_gh[keep])
            h, _ = lk.entropy_with_grad(xs)
            for i in range(n):
                if np.isnan(value) or value == np.inf:
                    assert np.isnan(h[i])
                else:
                    assert ulps(h[i], mp_entropy(xs[i]), dtype) <= LOSS_BOUNDS[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.7])
def test_an_entry_far_below_the_max_at_every_lane(isa, dtype, t):
    """An entry 95, 750 or 1e30 below its row's max at each position of a 67-wide row (every lane of
    every vector, and the tail): below float's exp range, below double's, or far below both. Such
    lanes skip exp's own range handling in entropy's sum pass and are cleared or summed in the wide
    type apart: the entropy stays within its ulp budget of mpmath, the gradient within its budget,
    and the rows' other entries count as before."""
    rng = np.random.default_rng(12)
    n = 67
    base = (rng.standard_normal((n, n)) * 3).astype(dtype)
    idx = np.arange(n)
    for offset in (95.0, 750.0, 1e30):
        x = base.copy()
        x[idx, idx] = (base.max(axis=1).astype(np.float64) - offset).astype(dtype)
        h, g = lk.entropy_with_grad(x, temperature=t, reduction="none")
        for i in range(n):
            assert ulps(h[i], mp_entropy(x[i], t), dtype) <= LOSS_BOUNDS[dtype], (offset, i)
        eg = oracle.entropy_grad(x.astype(np.float64), temperature=t)
        assert_within_budget(g, eg, budget="gradient", what=f"entropy grad, offset {offset}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "far", "farther", "huge"])
def test_short_rows_with_a_special_entry_at_every_lane(isa, dtype, value):
    """Short rows (one row per lane, several at a time: kernels/divergence.hpp entropy_rows_short)
    of every length around the ISAs' vector widths, in batches of 37 rows: every odd row gets a
    special entry (NaN, +inf, a masked class's -inf, an entry 95 or 750 below the max, or -1e30)
    at position r mod n, so that it lands on every lane of a group and every column. The special
    row gives NaN (NaN, +inf) or its entropy within the ulp budget of mpmath, and its gradient
    within budget; the clean rows keep the bits of a batch without the injection; each row has
    the bits it has alone, and entropy's equal entropy_with_grad's."""
    rng = np.random.default_rng(14)
    rows = 37
    for n in (2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63):
        clean = (rng.standard_normal((rows, n)) * 3).astype(dtype)
        x = clean.copy()
        hit = np.arange(rows) % 2 == 1
        for r in np.flatnonzero(hit):
            top = float(np.max(x[r]))
            x[r, r % n] = {
                "nan": np.nan,
                "inf": np.inf,
                "-inf": -np.inf,
                "far": top - 95.0,
                "farther": top - 750.0,
                "huge": -1e30,
            }[value]
        h = lk.entropy(x)
        h2, g = lk.entropy_with_grad(x, reduction="none")
        assert np.array_equal(h, h2, equal_nan=True), n
        alone = np.array([lk.entropy(r) for r in x])
        assert np.array_equal(h, alone, equal_nan=True), (
            f"n={n}: a row's entropy depends on its batch"
        )
        hc, gc = lk.entropy_with_grad(clean, reduction="none")
        assert np.array_equal(h[~hit], hc[~hit]) and np.array_equal(g[~hit], gc[~hit]), n
        for r in range(rows):
            if hit[r] and value in ("nan", "inf"):
                assert np.isnan(h[r]) and np.all(np.isnan(g[r])), (n, r)
                continue
            assert ulps(h[r], mp_entropy(x[r]), dtype) <= LOSS_BOUNDS[dtype], (n, r, h[r])
        ok = ~hit if value in ("nan", "inf") else np.ones(rows, bool)
        eg = oracle.entropy_grad(x[ok].astype(np.float64))
        assert_within_budget(g[ok], eg, budget="gradient", what=f"entropy grad, n={n}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 10, 33, 100])
def test_entropy_gradient_scale_below_the_normal_range(isa, dtype, n):
    """The raw gufunc with a gradient scale g below the dtype's normal range (the Python layer never
    passes one; a caller of _core may): such a row takes the wide path, so its gradient is g·dH/dx
    rounded once, short rows (one per lane) included, not g's few bits times a rounded product
    (or 0), and its entropy is as accurate as ever."""
    from logitkit import _core

    rng = np.random.default_rng(15)
    x = (rng.standard_normal((20, n)) * 3).astype(dtype)
    g = dtype.type(np.finfo(dtype).smallest_normal * 2.0**-10)
    h, grad = _core.entropy_grad(x, g, 1.0)
    # (the wide path's entropy: within the budget, not always the bits of lk.entropy's path)
    np.testing.assert_allclose(h, lk.entropy(x), rtol=16 * np.finfo(dtype).eps, atol=0)
    exact = oracle.entropy_grad(x.astype(np.float64)) * float(g)
    if dtype == F64:  # scaled in float64 by the oracle: compare to its rounding's own error
        exact = oracle.entropy_grad(x.astype(np.longdouble)) * np.longdouble(float(g))
    err = np.abs(grad.astype(np.longdouble) - np.asarray(exact, np.longdouble))
    unit = np.longdouble(np.finfo(dtype).smallest_subnormal)
    assert np.max(err / unit) <= 1.0, float(np.max(err / unit))
    assert np.count_nonzero(grad) > grad.size // 2


# ---------------------------------------------------------------------------------- gradients


def _fd(f, x, h):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("t", [1.0, 0.7])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_entropy_gradient_against_finite_differences(isa, t, reduction):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 6)) * 2
    _, g = lk.entropy_with_grad(x, temperature=t, reduction=reduction)

    def f(v):
        h = oracle.entropy(v, temperature=t).astype(np.float64)
        return h.sum() / (3 if reduction == "mean" else 1)

    # not an oracle comparison: a central difference's own error is ~1e-9
    assert np.allclose(g, _fd(f, x, 1e-6), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("t", [1.0, 2.5])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
def test_kl_gradient_against_finite_differences(isa, t, reduction):
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5)) * 2
    _, g = lk.kl_divergence_with_grad(x, y, temperature=t, reduction=reduction)
    red = "sum" if reduction == "none" else reduction

    def f(v):
        return float(oracle.kl_divergence(x, v, temperature=t, reduction=red))

    # not an oracle comparison: a central difference's own error is ~1e-9
    assert np.allclose(g, _fd(f, y, 1e-6), atol=1e-8, rtol=1e-6)


HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed (optional test dependency)")
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's own warning
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
@pytest.mark.parametrize("t", [1.0, 3.0])
def test_kl_matches_pytorch_kl_div_of_log_softmax(reduction, t):
    """F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True): the same value (and the
    same meaning of each reduction) and the same gradient with respect to the student's logits."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(13)
    teacher = rng.standard_normal((6, 10)) * 3
    student = rng.standard_normal((6, 10)) * 3
    s = torch.tensor(student, requires_grad=True)
    tt = torch.tensor(teacher)
    ref = F.kl_div(
        F.log_softmax(s / t, dim=1),
        F.log_softmax(tt / t, dim=1),
        log_target=True,
        reduction=reduction,
    )
    if reduction == "none":
        ref = ref.sum(dim=1)  # torch keeps the elements; ours is one value per row
    ref.sum().backward()
    kl, g = lk.kl_divergence_with_grad(teacher, student, temperature=t, reduction=reduction)
    # conformance, not accuracy: torch's float64 composition carries its own rounding errors
    assert np.allclose(kl, ref.detach().numpy(), rtol=1e-12, atol=0)
    assert np.allclose(g, s.grad.numpy(), rtol=1e-10, atol=1e-15)


# --------------------------------------------------------------------------- options combined


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
def test_kl_options_together(dtype, axis, reduction):
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((4, 7, 5)) * 3).astype(dtype)
    y = (rng.standard_normal((4, 7, 5)) * 3).astype(dtype)
    t = 1.3
    kl, g = lk.kl_divergence_with_grad(x, y, axis=axis, temperature=t, reduction=reduction)
    kl_only = lk.kl_divergence(x, y, axis=axis, temperature=t, reduction=reduction)
    assert np.array_equal(kl, kl_only)
    ek = oracle.kl_divergence(x, y, axis=axis, temperature=t, reduction=reduction)
    eg = oracle.kl_divergence_grad(x, y, axis=axis, temperature=t, reduction=reduction)
    out = np.dtype(np.float64) if np.dtype(dtype).kind == "i" else np.dtype(dtype)
    assert g.shape == x.shape and g.dtype == out
    assert np.asarray(kl).dtype == out
    lb = _loss_budget("kl_divergence", reduction)
    assert_within_budget(kl, ek, budget=lb, what=f"kl_divergence {reduction}")
    if out == np.float16:
        # no float16 gradient budget: float16 results are float32's rounded once (test_dtypes.py
        # checks those bits); here only the magnitude of that rounding
        assert np.allclose(g.astype(np.float64), eg.astype(np.float64), rtol=0, atol=2e-3)
    else:
        assert_within_budget(g, eg, budget="gradient", scale=2.0 / t, what="kl_divergence grad")
    # strided and class-axis-first views give the same bits as contiguous copies
    xs, ys = np.asfortranarray(x), np.asfortranarray(y)
    kl2, g2 = lk.kl_divergence_with_grad(xs, ys, axis=axis, temperature=t, reduction=reduction)
    assert np.array_equal(kl2, kl) and np.array_equal(g2, g)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_entropy_options_together(dtype, axis, reduction):
    rng = np.random.default_rng(22)
    x = (rng.standard_normal((6, 9)) * 3).astype(dtype)
    where = rng.random((6, 9)) < 0.7
    where[:, 0] = True
    where[0, :] = True
    t = 0.8
    h, g = lk.entropy_with_grad(x, axis=axis, temperature=t, where=where, reduction=reduction)
    assert np.array_equal(
        h, lk.entropy(x, axis=axis, temperature=t, where=where, reduction=reduction)
    )
    eh = oracle.entropy(x, axis=axis, temperature=t, where=where, reduction=reduction)
    eg = oracle.entropy_grad(x, axis=axis, temperature=t, where=where, reduction=reduction)
    assert_within_budget(h, eh, budget=_loss_budget("entropy", reduction), what="entropy")
    if np.dtype(dtype) == np.float16:
        # no float16 gradient budget: float16 results are float32's rounded once (test_dtypes.py
        # checks those bits); here only the magnitude of that rounding
        assert np.allclose(g.astype(np.float64), eg.astype(np.float64), rtol=0, atol=3e-3)
    else:
        assert_within_budget(g, eg, budget="gradient", what="entropy grad")
    assert np.all(g[~where] == 0)


def test_inputs_are_not_written_and_bfloat16_gives_float32_values():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((5, 40)).astype(np.float32)
    y = rng.standard_normal((5, 40)).astype(np.float32)
    x0, y0 = x.copy(), y.copy()
    lk.kl_divergence_with_grad(x, y)
    lk.entropy_with_grad(x)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)
    ml = pytest.importorskip("ml_dtypes", reason="ml_dtypes (bfloat16) is not installed")
    xb, yb = x.astype(ml.bfloat16), y.astype(ml.bfloat16)
    kl, g = lk.kl_divergence_with_grad(xb, yb)
    assert np.asarray(kl).dtype == np.float32 and g.dtype == ml.bfloat16
    assert kl == lk.kl_divergence(xb.astype(np.float32), yb.astype(np.float32))


def test_long_rows_in_float32_and_float64():
    """Rows past the widening chunk (256), the kernels' blocks and the scratch row."""
    rng = np.random.default_rng(24)
    # (65537: past the float32 kernel's scratch row, kl_scratch_max, so the two-pass kernel that
    # recomputes instead)
    for n in (255, 256, 257, 4099, 65536, 65537):
        for dt in DTYPES:
            x = (rng.standard_normal((2, n)) * 4).astype(dt)
            y = (rng.standard_normal((2, n)) * 4).astype(dt)
            kl, g = lk.kl_divergence_with_grad(x, y, reduction="none")
            want = oracle.kl_divergence(x, y, reduction="none")
            assert_within_budget(kl, want, budget="kl_divergence", what=f"n={n}")
            eg = oracle.kl_divergence_grad(x, y, reduction="sum")
            assert_within_budget(g, eg, budget="gradient", what=f"KL gradient n={n}")
            h = lk.entropy(x)
            assert_within_budget(h, oracle.entropy(x), budget="entropy", what=f"entropy n={n}")


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (
            lambda: lk.kl_divergence(np.zeros((2, 3)), np.zeros((2, 4))),
            ValueError,
            ["shapes differ", "(2, 3)", "(2, 4)"],
        ),
        (
            lambda: lk.kl_divergence(np.zeros(3), np.zeros(3), reduction="avg"),
            ValueError,
            ["reduction", "'avg'", "batchmean"],
        ),
        (
            lambda: lk.kl_divergence(np.zeros(3), np.zeros(3), temperature=0),
            ValueError,
            ["temperature"],
        ),
        (
            lambda: lk.kl_divergence(np.zeros(3), np.zeros(3), temperature=np.nan),
            ValueError,
            ["temperature"],
        ),
        (lambda: lk.kl_divergence(np.zeros(3), np.zeros(3), dim=1), TypeError, ["axis="]),
        (
            lambda: lk.kl_divergence(np.zeros((2, 0)), np.zeros((2, 0))),
            ValueError,
            ["p_logits", "length 0"],
        ),
        (
            lambda: lk.kl_divergence(np.float64(1.0), np.float64(1.0)),
            ValueError,
            ["p_logits", "scalar"],
        ),
        (
            lambda: lk.kl_divergence(np.zeros(3), np.zeros(3), axis=2),
            np.exceptions.AxisError,
            ["axis"],
        ),
        (lambda: lk.kl_divergence(["a", "b"], [1.0, 2.0]), TypeError, ["p_logits"]),
        (
            lambda: lk.entropy(np.zeros(3), reduction="batchmean"),
            ValueError,
            ["reduction", "'batchmean'"],
        ),
        (lambda: lk.entropy(np.zeros(3), where=np.ones(4, bool)), ValueError, ["where"]),
        (lambda: lk.entropy(np.zeros(3), temperature=-1.0), ValueError, ["temperature"]),
        (lambda: lk.entropy(np.zeros((3, 0))), ValueError, ["logits", "length 0"]),
        (lambda: lk.entropy(np.zeros((3, 1))), ValueError, ["logits", "single logit", "binary"]),
        (
            lambda: lk.kl_divergence(np.zeros((3, 1)), np.zeros((3, 1))),
            ValueError,
            ["p_logits", "single logit"],
        ),
    ],
)
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_the_multiclass_verb_and_the_config_object():
    rng = np.random.default_rng(30)
    x = rng.standard_normal((5, 8)) * 2
    assert np.array_equal(lk.multiclass.entropy(x), lk.entropy(x))
    assert np.array_equal(
        lk.multiclass.MultiClass(temperature=2.0, axis=0).entropy(x),
        lk.entropy(x, temperature=2.0, axis=0),
    )
    assert lk.multiclass.MultiClass().entropy(x, reduction="mean") == lk.entropy(
        x, reduction="mean"
    )
    with pytest.warns(lk.multiclass.ProbabilitiesWarning):
        lk.multiclass.entropy(lk.softmax(x))


# ------------------------------------------------------------------ Jensen-Shannon divergence


def mp_js(x, y, t=1.0):
    with mp.workdps(MP_DPS):
        lp, lq = _mp_rows(x, t), _mp_rows(y, t)
        total = mp.mpf(0)
        for a, b in zip(lp, lq, strict=True):
            p = mp.e**a if a != -mp.inf else mp.mpf(0)
            q = mp.e**b if b != -mp.inf else mp.mpf(0)
            m = (p + q) / 2
            if p > 0:
                total += p * mp.log(p / m) / 2
            if q > 0:
                total += q * mp.log(q / m) / 2
        return total


def mp_js_grad(x, y, t=1.0):
    with mp.workdps(MP_DPS):
        lp, lq = _mp_rows(x, t), _mp_rows(y, t)
        p = [mp.e**a if a != -mp.inf else mp.mpf(0) for a in lp]
        q = [mp.e**b if b != -mp.inf else mp.mpf(0) for b in lq]
        lqm = [
            mp.log(2 * qi / (pi + qi)) if qi > 0 else mp.mpf(0) for pi, qi in zip(p, q, strict=True)
        ]
        kl = mp.fsum(qi * v for qi, v in zip(q, lqm, strict=True))
        return _wide(qi / (2 * mp.mpf(t)) * (v - kl) for qi, v in zip(q, lqm, strict=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 9, 67, 300])
@pytest.mark.parametrize("t", [1.0, 0.6])
def test_js_of_nearly_identical_and_far_rows_against_mpmath(isa, dtype, n, t):
    rng = np.random.default_rng(n)
    rels = (1e-3, 1e-6) if dtype == F32 else (1e-3, 1e-8, 1e-13)
    cases = [_near(dtype, rng, n, rel) for rel in rels]
    cases.append(
        ((rng.standard_normal(n) * 4).astype(dtype), (rng.standard_normal(n) * 4).astype(dtype))
    )
    x = np.array([c[0] for c in cases])
    y = np.array([c[1] for c in cases])
    js, g = lk.js_divergence_with_grad(x, y, temperature=t)
    assert js.dtype == dtype
    for i in range(len(cases)):
        exact = mp_js(x[i], y[i], t)
        assert 0 <= js[i] <= np.log(2)
        assert within("js_divergence", js[i], exact, dtype, isa, "mpmath"), (i, js[i], exact)
        eg = mp_js_grad(x[i], y[i], t)
        # q·(log(q/m) - KL(Q ‖ M))/(2T): the bound of 2·q/T (docs/numerics.md), as tests/registry.py
        assert_within_budget(g[i], eg, budget="gradient", scale=2.0 / t, what=f"js grad row {i}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.6])
def test_js_in_vector_lanes_with_masked_classes_at_every_offset(isa, dtype, t):
    """js_divergence's vector lanes (js_lanes; the scalar ISA takes the scalar form): rows whose
    lengths end a vector anywhere, a -inf (masked class) at every offset in either row or both,
    entries nearly equal (|r| <= 2: the small polynomials), apart (2 < |r| <= 4) and far apart
    (|r| > 4, the exp/log1p form), y's max far above its entry where x is largest; each row's value
    and gradient against mpmath, and the same bits alone as in a batch."""
    rng = np.random.default_rng(31)
    for n in (2, 3, 5, 8, 9, 16, 17, 33):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        gaps = rng.choice([1e-6, 0.5, 3.0, 12.0], size=n)
        y = (x + 2.0 + gaps * rng.standard_normal(n)).astype(dtype)
        rows_x, rows_y = [], []
        for j in range(n):
            for which in ("x", "y", "both"):
                a, b = x.copy(), y.copy()
                if which in ("x", "both"):
                    a[j] = -np.inf
                if which in ("y", "both"):
                    b[(j + 1) % n if which == "both" else j] = -np.inf
                if np.all(a == -np.inf) or np.all(b == -np.inf):
                    continue
                rows_x.append(a)
                rows_y.append(b)
        rows_x.append(x)
        rows_y.append(y)
        xs, ys = np.array(rows_x), np.array(rows_y)
        js, g = lk.js_divergence_with_grad(xs, ys, temperature=t)
        for i in range(0, len(xs), 5 if n > 9 else 1):
            exact = mp_js(xs[i], ys[i], t)
            assert within("js_divergence", js[i], exact, dtype, isa, "mpmath lanes"), (n, i)
            eg = mp_js_grad(xs[i], ys[i], t)
            assert_within_budget(g[i], eg, budget="gradient", scale=2.0 / t, what=f"n={n} row {i}")
            alone, g1 = lk.js_divergence_with_grad(xs[i], ys[i], temperature=t)
            assert alone.tobytes() == js[i].tobytes() and g1.tobytes() == g[i].tobytes()


def test_js_gradient_where_one_entry_holds_q_and_the_rest_is_tiny(isa):
    """float64 rows where y's largest entry holds nearly all of Q and the rest are tiny: KL(Q ‖ M)
    is about log 2 there and carries S's rounding into every gradient entry, so S must be summed
    without a block sum's roundings (the lanes' plain sums reached 1.1-1.7 × the bound)."""
    x = np.zeros(64)
    x[0] = -40.0
    y = np.full(64, -36.73780107001068)
    y[0] = 0.0
    a = np.full(64, -15.39804906174583)
    b = np.full(64, -20.110593209309627)
    a[::8] = b[::8] = -36.73780107001068
    a[0] = b[0] = 0.0
    for p, q, t in ((x, y, 1.0), (2 * x, 2 * y, 2.0), (a, b, 1.0)):
        js, g = lk.js_divergence_with_grad(p, q, temperature=t)
        assert within("js_divergence", js, mp_js(p, q, t), F64, isa, "mpmath lanes")
        eg = mp_js_grad(p, q, t)
        assert_within_budget(g, eg, budget="gradient", scale=2.0 / t, what=f"T={t}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_js_of_rows_one_ulp_apart_keeps_its_digits(isa, dtype):
    rng = np.random.default_rng(3)
    for n in (3, 40, 257):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        for j in (0, int(np.argmax(x)), n - 1):
            y = x.copy()
            y[j] = np.nextafter(y[j], np.array(np.inf, dtype))
            exact = mp_js(x, y)
            assert 0 < float(exact) < 1e-12
            got = lk.js_divergence(x, y)
            assert within("js_divergence", got, exact, dtype, isa, "mpmath one ulp apart"), (n, j)


@pytest.mark.parametrize("dtype", DTYPES)
def test_js_exact_values_symmetry_and_bounds(isa, dtype):
    inf = np.inf
    x = np.array([1.0, 2.0, 3.0], dtype)
    assert lk.js_divergence(x, x) == 0
    assert lk.js_divergence(x, x + dtype.type(100)) == 0  # a shift: the same distribution
    # disjoint supports: exactly log 2, the bound
    d = lk.js_divergence(np.array([0.0, -inf], dtype), np.array([-inf, 0.0], dtype))
    assert ulps(d, mp.log(2), dtype) <= LOSS_BOUNDS[dtype]
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((20, 30)) * 5).astype(dtype)
    b = (rng.standard_normal((20, 30)) * 5).astype(dtype)
    ab, ba = lk.js_divergence(a, b), lk.js_divergence(b, a)
    assert np.all(ab <= np.log(2)) and np.all(ab >= 0)
    # symmetric: both orders within the bound of the one exact value
    exact = oracle.js_divergence(a, b)
    assert_within_budget(ab, exact, budget="js_divergence", what="JS(a, b)")
    assert_within_budget(ba, exact, budget="js_divergence", what="JS(b, a)")
    # entries where one side is 0: q·log(2)/2; NaN or +inf anywhere, or no finite entry: NaN
    p = np.array([0.0, -inf, 1.0], dtype)
    q = np.array([0.5, 2.0, -inf], dtype)
    assert ulps(lk.js_divergence(p, q), mp_js(p, q), dtype) <= LOSS_BOUNDS[dtype]
    for bad in ([np.nan, 0.0, 1.0], [inf, 0.0, 1.0], [-inf, -inf, -inf]):
        bb = np.array(bad, dtype)
        for args in ((bb, x), (x, bb)):
            v, g = lk.js_divergence_with_grad(*args)
            assert np.isnan(v) and np.all(np.isnan(g))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("t", [1.0, 2.5])
def test_js_gradient_against_finite_differences(reduction, t):
    rng = np.random.default_rng(12)
    a = rng.standard_normal((3, 6)) * 2
    b = rng.standard_normal((3, 6)) * 2
    v, g = lk.js_divergence_with_grad(a, b, temperature=t, reduction=reduction)

    def total(q):
        return float(np.sum(lk.js_divergence(a, q, temperature=t, reduction=reduction)))

    # not an oracle comparison: a central difference's own error is ~1e-9
    np.testing.assert_allclose(g, _fd(total, b, 1e-6), rtol=1e-6, atol=1e-9)
    per = _wide(mp_js(a[i], b[i], t) for i in range(3))
    want = {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]
    assert_within_budget(v, want, budget=_loss_budget("js_divergence", reduction))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("axis", [0, -1])
def test_js_options_together(dtype, axis):
    rng = np.random.default_rng(13)
    a = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    b = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    a0, b0 = a.copy(), b.copy()
    for red in ("none", "mean", "sum"):
        v, g = lk.js_divergence_with_grad(a, b, axis=axis, temperature=1.5, reduction=red)
        am, bm = (
            np.moveaxis(a.astype(np.float64), axis, -1),
            np.moveaxis(b.astype(np.float64), axis, -1),
        )
        per = _wide(mp_js(am[i], bm[i], 1.5) for i in range(am.shape[0]))
        want = {"none": per, "mean": per.mean(), "sum": per.sum()}[red]
        assert_within_budget(v, want, budget=_loss_budget("js_divergence", red), what=red)
        assert g.shape == a.shape
        eg = np.moveaxis(
            np.array([mp_js_grad(am[i], bm[i], 1.5) for i in range(am.shape[0])]), -1, axis
        )
        if red == "mean":
            eg = eg / am.shape[0]
        if g.dtype == np.float16:
            # no float16 gradient budget: float16 results are float32's rounded once
            # (test_dtypes.py checks those bits); here only the magnitude of that rounding
            np.testing.assert_allclose(g.astype(np.float64), eg.astype(np.float64), atol=2e-2)
        else:
            assert_within_budget(g, eg, budget="gradient", scale=2.0 / 1.5, what=f"js grad {red}")
    assert np.array_equal(a, a0) and np.array_equal(b, b0)
    with pytest.raises(ValueError, match="reduction"):
        lk.js_divergence(a, b, reduction="batchmean")
    with pytest.raises(ValueError, match="shapes differ"):
        lk.js_divergence(a, b[:2])
    with pytest.raises(ValueError, match="single logit"):
        lk.js_divergence(a[:, :1], b[:, :1])


def test_js_of_rows_whose_differences_overflow():
    """Logit differences beyond double's range (huge logits, tiny temperatures) are entries whose
    probability is 0, not NaN swallowed into a 0 divergence."""
    v, g = lk.js_divergence_with_grad([1e308, -1e308], [-1e308, 1e308])  # disjoint: log 2
    assert ulps(v, mp.log(2), F64) <= LOSS_BOUNDS[F64]
    assert np.array_equal(g, [0.0, 0.0])
    # P = (1, 0), Q = (1/2, 1/2): JS = ½·log(4/3) + ¼·log 2 ... from mpmath
    v, g = lk.js_divergence_with_grad([0.0, -1e308], [0.0, 0.0], temperature=0.1)
    with mp.workdps(MP_DPS):
        p, q = [mp.mpf(1), mp.mpf(0)], [mp.mpf(1) / 2, mp.mpf(1) / 2]
        exact = mp.fsum(
            (pi * mp.log(2 * pi / (pi + qi)) if pi else 0) / 2
            + (qi * mp.log(2 * qi / (pi + qi)) if qi else 0) / 2
            for pi, qi in zip(p, q, strict=True)
        )
    assert ulps(v, exact, F64) <= LOSS_BOUNDS[F64], (v, exact)
    eg = mp_js_grad([0.0, -1e308], [0.0, 0.0], 0.1)  # ±1.3732653608351372
    assert_within_budget(g, eg, budget="gradient", scale=2.0 / 0.1, what="JS gradient")
    assert (
        ulps(lk.js_divergence([0.0, 1e300], [0.0, -1e300], temperature=1e-10), mp.log(2), F64) <= 1
    )


def test_kl_when_a_difference_over_the_temperature_overflows():
    """(x_i - max x)/T beyond double's range: p_i = 0 there, not NaN from inf - inf."""
    kl, g = lk.kl_divergence_with_grad([0.0, -1e308], [0.0, 0.0], temperature=0.1)
    assert ulps(kl, mp.log(2), F64) <= LOSS_BOUNDS[F64]
    # (q - p)/T = (1/2 - 1, 1/2 - 0)/0.1, exactly
    want = np.array([-5, 5], np.longdouble)
    assert_within_budget(g, want, budget="gradient", scale=2.0 / 0.1, what="KL gradient")
    x, y = np.array([0.0, -1e308, 3.0]), np.array([0.0, 0.0, 1.0])
    assert (
        ulps(lk.kl_divergence(x, y, temperature=0.1), mp_kl([0.0, -mp.inf, 3.0], y, 0.1), F64)
        <= LOSS_BOUNDS[F64]
    )
    # q_i = e^(-1e309) where p has mass: a divergence of about p_i·1e309, finite in double
    got = lk.kl_divergence(y, x, temperature=0.1)
    assert ulps(got, mp_kl(y, x, 0.1), F64) <= LOSS_BOUNDS[F64], got
