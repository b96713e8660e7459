"""Binary (multi-label) entropy and KL divergence from logits: lk.binary_entropy,
lk.binary_kl_divergence and their gradients (python/logitkit/_divergence.py,
kernels/binary_divergence.hpp), on every ISA, against mpmath at 120 digits: both tails, tiny
divergences of nearly equal logits, temperatures, the special values, every reduction with every
dtype, and the errors.
"""

from __future__ import annotations

import itertools

import logitkit as lk
import mpmath as mp
import numpy as np
import pytest
from budgets import assert_within_budget
from registry import LOSS_BOUNDS
from test_divergence import MP_DPS, _wide, ulps, within

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F32, F64]


def _sig(z):
    return 1 / (1 + mp.e ** (-z))


def mp_binary_entropy(x, t=1.0):
    with mp.workdps(MP_DPS):
        if mp.isinf(mp.mpf(float(x))):
            return mp.mpf(0)
        z = mp.mpf(float(x)) / mp.mpf(t)
        # -log p = softplus(-z), -log(1 - p) = softplus(z): no 1 - p formed (p = 1 - 1e-304 at 700)
        return _sig(z) * mp.log1p(mp.e ** (-z)) + _sig(-z) * mp.log1p(mp.e**z)


def mp_binary_entropy_grad(x, t=1.0):
    with mp.workdps(MP_DPS):
        z = mp.mpf(float(x)) / mp.mpf(t)
        return -z * _sig(z) * _sig(-z) / mp.mpf(t)


def mp_binary_kl(a, b, t=1.0):
    with mp.workdps(MP_DPS):
        za, zb = mp.mpf(float(a)) / mp.mpf(t), mp.mpf(float(b)) / mp.mpf(t)
        if mp.isnan(za) or mp.isnan(zb):
            return mp.nan
        if mp.isinf(za) or mp.isinf(zb):
            if za == zb:
                return mp.mpf(0)  # the same certainty
            if mp.isinf(zb):
                return mp.inf  # Q certain, P not the same
            # P certain: -log q of the class it picks
            return mp.log1p(mp.e ** (-zb)) if za > 0 else mp.log1p(mp.e**zb)
        # log p - log q = softplus(-b) - softplus(-a); log(1-p) - log(1-q) = softplus(b) - softplus(a)
        sp = lambda v: mp.log1p(mp.e**v)
        return _sig(za) * (sp(-zb) - sp(-za)) + _sig(-za) * (sp(zb) - sp(za))


def mp_binary_kl_grad(a, b, t=1.0):
    with mp.workdps(MP_DPS):
        za, zb = mp.mpf(float(a)) / mp.mpf(t), mp.mpf(float(b)) / mp.mpf(t)
        # q - p on the side where both are small (1 - 1e-304 is not held even at 120 digits)
        d = _sig(-za) - _sig(-zb) if za + zb > 0 else _sig(zb) - _sig(za)
        return d / mp.mpf(t)


def rel_ok(got, exact, dtype, k=8):
    """A gradient within k ulps of the dtype relative to the exact value (its formula has no
    cancellation), or within the dtype's smallest normal where the value is below the normal range."""
    fi = np.finfo(dtype)
    g, e = float(got), float(exact)
    if abs(e) >= float(fi.smallest_normal):
        return abs(g - e) <= k * float(fi.eps) * abs(e)
    return abs(g - e) <= float(fi.smallest_normal)


LOGITS = [
    0.0,
    1e-9,
    -1e-9,
    0.3,
    -0.7,
    1.0,
    -2.5,
    5.0,
    17.0,
    -30.0,
    40.0,
    -40.0,
    88.0,
    -100.0,
    700.0,
    741.25,  # e^-741 is subnormal: the entropy ≈ 742·e^-741 must not take e's rounding times 742
]


# ------------------------------------------------------------------------------ binary entropy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.3, 7.0])
def test_binary_entropy_against_mpmath_in_both_tails(isa, dtype, t):
    x = np.array(LOGITS + [-v for v in LOGITS], dtype)
    h, g = lk.binary_entropy_with_grad(x, temperature=t)
    assert h.dtype == dtype and g.dtype == dtype
    for xi, hi, gi in zip(x, h, g, strict=True):
        exact = mp_binary_entropy(xi, t)
        assert hi >= 0
        assert within("binary_entropy", hi, exact, dtype, isa, "mpmath tails"), (xi, hi, exact)
        assert rel_ok(gi, mp_binary_entropy_grad(xi, t), dtype), (xi, gi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.3, 7.0])
def test_binary_entropy_over_every_magnitude_at_every_lane(isa, dtype, t):
    """200 logits from 1e-10 to 760 in magnitude, both signs (every lane offset of every ISA's
    vectors, and a tail): the vector lanes and the elements they hand to the scalar path
    (|x/T| > 700, where e^-|x/T| may be subnormal while H and the gradient are not). Each element
    has the bits it has alone, with or without the gradient."""
    rng = np.random.default_rng(21)
    x = rng.choice([-1.0, 1.0], 200) * 10 ** rng.uniform(-10, np.log10(760), 200)
    x[:8] = [708.5, -709.5, 710.25, -712.3, 714.0, 700.5, 88.5, -87.5]  # the ends of exp's ranges
    x[8:10] = [3.524276798163673, 213.462]  # the worst found in wider screens (float64, T = 0.3)
    x = x.astype(dtype)
    h, g = lk.binary_entropy_with_grad(x, temperature=t)
    assert np.array_equal(lk.binary_entropy(x, temperature=t), h)
    for i, xi in enumerate(x):
        assert within(
            "binary_entropy", h[i], mp_binary_entropy(xi, t), dtype, isa, "every magnitude"
        )
        assert rel_ok(g[i], mp_binary_entropy_grad(xi, t), dtype), (xi, g[i])
        h1, g1 = lk.binary_entropy_with_grad(x[i : i + 1], temperature=t)
        assert h1.tobytes() == h[i : i + 1].tobytes() and g1.tobytes() == g[i : i + 1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_entropy_exact_values(isa, dtype):
    assert lk.binary_entropy(np.array(0.0, dtype)) == np.array(np.log(2), dtype)
    # x = 40: about 41·e^-40 ≈ 1.74e-16, not 0 (1 - p rounds to 0 in float32 and float64)
    h40 = lk.binary_entropy(np.array(40.0, dtype))
    assert abs(float(h40) / 1.7418252e-16 - 1) < 1e-6
    h, g = lk.binary_entropy_with_grad(np.array([np.inf, -np.inf, np.nan], dtype))
    assert h[0] == 0 and h[1] == 0 and np.isnan(h[2])
    assert g[0] == 0 and g[1] == 0 and np.isnan(g[2])


# -------------------------------------------------------------------------- binary KL divergence


def _pairs(dtype):
    """(a, b) pairs: far apart, nearly equal (relative 1e-3 .. one ulp), in both tails."""
    eps = float(np.finfo(dtype).eps)
    out = []
    for a in LOGITS + [-v for v in LOGITS]:
        for b in (0.0, 3.0, -3.0, 41.0, -41.0, 800.0, -800.0):
            out.append((a, b))
        for rel in (1e-3, 1e-7, eps):
            out.append((a, a * (1 + rel) + rel))
            out.append((a, a - abs(a) * rel - rel))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.3, 7.0])
def test_binary_kl_against_mpmath(isa, dtype, t):
    ab = np.array(_pairs(dtype), dtype)
    a, b = ab[:, 0], ab[:, 1]
    kl, g = lk.binary_kl_divergence_with_grad(a, b, temperature=t, reduction="none")
    assert kl.dtype == dtype and g.dtype == dtype
    for ai, bi, ki, gi in zip(a, b, kl, g, strict=True):
        exact = mp_binary_kl(ai, bi, t)
        assert ki >= 0
        assert within("binary_kl_divergence", ki, exact, dtype, isa, "mpmath"), (ai, bi, ki, exact)
        assert rel_ok(gi, mp_binary_kl_grad(ai, bi, t), dtype), (ai, bi, gi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1.0, 0.3, 7.0])
def test_binary_kl_of_random_pairs_at_every_lane(isa, dtype, t):
    """200 pairs: teacher logits from 1e-6 to 760 in magnitude, both signs, students a relative
    1e-12 to 10 away, or of the other sign (every lane offset of every ISA's vectors, and a tail):
    each regime of φ (|u| <= 1, below -1, above 1), the gradient's two forms, and the pairs handed
    to the scalar path (|a| or |b| over 700). Each pair has the bits it has alone."""
    rng = np.random.default_rng(22)
    a = rng.choice([-1.0, 1.0], 200) * 10 ** rng.uniform(-6, np.log10(760), 200)
    gap = rng.choice([-1.0, 1.0], 200) * 10 ** rng.uniform(-12, 1, 200)
    b = np.where(rng.random(200) < 0.2, -a, a + gap * (np.abs(a) + 1))
    # the worst found in wider screens (float64, T = 1): u just above 1, its 3.8-fold cancellation
    a[:2], b[:2] = [11.050154847334802, 2.534243874391208], [9.957490334347673, 1.3972631401023536]
    a, b = a.astype(dtype), b.astype(dtype)
    kl, g = lk.binary_kl_divergence_with_grad(a, b, temperature=t, reduction="none")
    assert np.array_equal(lk.binary_kl_divergence(a, b, temperature=t, reduction="none"), kl)
    for i, (ai, bi) in enumerate(zip(a, b, strict=True)):
        exact = mp_binary_kl(ai, bi, t)
        assert within("binary_kl_divergence", kl[i], exact, dtype, isa, "random pairs"), (ai, bi)
        assert rel_ok(g[i], mp_binary_kl_grad(ai, bi, t), dtype), (ai, bi, g[i])
        k1, g1 = lk.binary_kl_divergence_with_grad(
            a[i : i + 1], b[i : i + 1], temperature=t, reduction="none"
        )
        assert k1.tobytes() == kl[i : i + 1].tobytes() and g1.tobytes() == g[i : i + 1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_kl_of_logits_one_ulp_apart_keeps_its_digits(isa, dtype):
    # a KL of order δ²·p·(1 - p)/2: 1e-34 (float32) or 1e-34 (float64 at logits of 1e-17 apart)
    for a in (0.5, 2.0, -7.0, 30.0, -35.0):
        x = np.array(a, dtype)
        y = np.nextafter(x, np.array(np.inf, dtype))
        got = lk.binary_kl_divergence(x, y, reduction="none")
        exact = mp_binary_kl(x, y)
        assert 0 < float(exact) < 1e-12
        assert within("binary_kl_divergence", got, exact, dtype, isa, "mpmath one ulp apart")


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_kl_special_values(isa, dtype):
    inf, nan = np.inf, np.nan
    a = np.array([1.0, 2.0, inf, -inf, inf, -inf, inf, -inf, 3.0, 3.0, nan, 0.0], dtype)
    b = np.array([1.0, 2.0, inf, -inf, -inf, inf, 2.0, -2.0, inf, -inf, 0.0, nan], dtype)
    kl, g = lk.binary_kl_divergence_with_grad(a, b, reduction="none")
    assert kl[0] == 0 and kl[1] == 0  # equal logits: exactly 0
    assert kl[2] == 0 and kl[3] == 0  # the same certainty
    assert kl[4] == inf and kl[5] == inf  # opposite certainties
    # P certain, Q not: -log q of the class P picks = softplus(∓b)
    assert ulps(kl[6], mp.log1p(mp.e**-2), dtype) <= LOSS_BOUNDS[dtype]
    assert ulps(kl[7], mp.log1p(mp.e**-2), dtype) <= LOSS_BOUNDS[dtype]
    assert kl[8] == inf and kl[9] == inf  # Q certain, P not
    assert np.isnan(kl[10]) and np.isnan(kl[11])
    # the gradient q - p stays finite wherever no NaN is involved
    assert np.all(np.isfinite(g[:10])) and np.all(np.isnan(g[10:]))
    for i in (4, 5, 8, 9):
        assert rel_ok(g[i], mp_binary_kl_grad(a[i], b[i]), dtype), (i, g[i])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_special_value_at_every_offset_changes_only_its_element(isa, dtype, value):
    rng = np.random.default_rng(4)
    n = 67
    x = (rng.standard_normal((n, n)) * 4).astype(dtype)
    y = (rng.standard_normal((n, n)) * 4).astype(dtype)
    clean = [
        lk.binary_kl_divergence_with_grad(x, y, reduction="none"),
        lk.binary_entropy_with_grad(x),
    ]
    for target in ("p", "q"):
        xs, ys = x.copy(), y.copy()
        inj = xs if target == "p" else ys
        idx = np.arange(n)
        inj[idx, idx] = value
        got = [
            lk.binary_kl_divergence_with_grad(xs, ys, reduction="none"),
            lk.binary_entropy_with_grad(xs),
        ]
        off = ~np.eye(n, dtype=bool)
        for (v0, g0), (v1, g1) in zip(clean, got, strict=True):
            assert np.array_equal(v0[off], v1[off]) and np.array_equal(g0[off], g1[off])
        kl = got[0][0]
        for i in range(n):
            exact = mp_binary_kl(xs[i, i], ys[i, i])
            if mp.isnan(exact) or np.isnan(value):
                assert np.isnan(kl[i, i])
            elif exact == mp.inf:
                assert kl[i, i] == np.inf
            else:
                assert ulps(kl[i, i], exact, dtype) <= LOSS_BOUNDS[dtype], (i, kl[i, i], exact)


# -------------------------------------------------------------------- options, reductions, dtypes


def _fd(f, x, h):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("t", [1.0, 2.5])
def test_reductions_and_gradients_against_finite_differences(reduction, t):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((4, 5)) * 3
    b = rng.standard_normal((4, 5)) * 3
    kl, g = lk.binary_kl_divergence_with_grad(a, b, temperature=t, reduction=reduction)
    per = _wide(mp_binary_kl(u, v, t) for u, v in zip(a.flat, b.flat, strict=True)).reshape(4, 5)
    want = {"none": per, "sum": per.sum(), "mean": per.mean(), "batchmean": per.sum() / 4}[
        reduction
    ]
    assert_within_budget(kl, want, budget="binary_kl" if reduction == "none" else "reduced")

    def total(v):
        return float(np.sum(lk.binary_kl_divergence(a, v, temperature=t, reduction=reduction)))

    # not an oracle comparison: a central difference's own error is ~1e-9
    np.testing.assert_allclose(g, _fd(total, b, 1e-6), rtol=1e-6, atol=1e-9)
    er = {"none": "none", "sum": "sum", "mean": "mean", "batchmean": "sum"}
    if reduction in ("none", "sum", "mean"):
        h, gh = lk.binary_entropy_with_grad(a, temperature=t, reduction=er[reduction])
        ph = _wide(mp_binary_entropy(u, t) for u in a.flat).reshape(4, 5)
        want = {"none": ph, "sum": ph.sum(), "mean": ph.mean()}[reduction]
        budget = "binary_entropy" if reduction == "none" else "reduced"
        assert_within_budget(h, want, budget=budget, what="binary_entropy")

        def htotal(v):
            return float(np.sum(lk.binary_entropy(v, temperature=t, reduction=er[reduction])))

        np.testing.assert_allclose(gh, _fd(htotal, a, 1e-6), rtol=1e-6, atol=1e-9)  # as above


@pytest.mark.parametrize(
    "dtype, want",
    [
        (np.float16, np.float16),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int64, np.float64),
        ("bfloat16", np.float32),
    ],
)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_dtypes_with_every_reduction_and_a_temperature(dtype, want, reduction):
    if dtype == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dtype = ml.bfloat16
    rng = np.random.default_rng(5)
    a = (rng.standard_normal((3, 6)) * 4).astype(dtype)
    b = (rng.standard_normal((3, 6)) * 4).astype(dtype)
    a0, b0 = a.copy(), b.copy()
    t = 1.7
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for fn, args, exact, budget in (
        (
            lk.binary_kl_divergence_with_grad,
            (a, b),
            lambda u, v: mp_binary_kl(u, v, t),
            "binary_kl",
        ),
        (lk.binary_entropy_with_grad, (a,), lambda u: mp_binary_entropy(u, t), "binary_entropy"),
    ):
        val, g = fn(*args, temperature=t, reduction=reduction)
        assert np.asarray(val).dtype == want
        assert g.dtype == (
            np.float64 if dtype == np.int64 else np.dtype(dtype)
        )  # bfloat16: bfloat16
        cols = [x.reshape(-1) for x in (a64, b64)[: len(args)]]
        per = _wide(exact(*z) for z in zip(*cols, strict=True)).reshape(a.shape)
        expect = {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]
        budget = budget if reduction == "none" else "reduced"
        assert_within_budget(val, expect, budget=budget, what=f"{fn.__name__} {reduction}")
    # inputs are never written
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_strided_and_broadcast_inputs_give_the_contiguous_bits():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((6, 10)) * 5
    b = rng.standard_normal((6, 10)) * 5
    for sl in (np.s_[:, ::2], np.s_[::2, :], np.s_[:, ::-1]):
        v, g = lk.binary_kl_divergence_with_grad(a[sl], b[sl], reduction="none")
        vc, gc = lk.binary_kl_divergence_with_grad(
            np.ascontiguousarray(a[sl]), np.ascontiguousarray(b[sl]), reduction="none"
        )
        assert np.array_equal(v, vc) and np.array_equal(g, gc)
        assert np.array_equal(
            lk.binary_entropy(a[sl].T), lk.binary_entropy(np.ascontiguousarray(a[sl].T))
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_raw_ufuncs_gather_strided_runs_without_changing_a_bit(isa, dtype):
    """The raw ufuncs on strided elements gather runs that share g and T into one kernel call:
    runs of many (g and T broadcast), of a few (T repeating in blocks) and of one (T per
    element), every element with the bits it has alone in a contiguous call."""
    from logitkit import _core

    rng = np.random.default_rng(23)
    x = (rng.standard_normal((9, 600)) * 6).astype(dtype)[:, ::3]  # 200 strided columns
    y = (rng.standard_normal((9, 600)) * 6).astype(dtype)[:, ::3]
    x[2, 5], x[4, 17], y[6, 33] = np.nan, np.inf, 900.0  # the scalar path's elements too
    g = np.full(x.shape, 0.75, dtype)
    g[3] = 0.25
    temps = [
        1.0,
        np.repeat([1.0, 0.5, 2.0, 1.0], 50),  # runs of 50 along each row
        np.linspace(0.3, 3.0, 200),  # a new temperature at every element
    ]
    for t in temps:
        tt = np.broadcast_to(np.asarray(t, np.float64), x.shape)
        h, gh = _core.binary_entropy_grad(x, g, tt)
        k, gk = _core.binary_kl_divergence_grad(x, y, g, tt)
        for i, j in itertools.product(range(x.shape[0]), range(0, x.shape[1], 7)):
            one = (np.array([x[i, j]]), np.array([g[i, j]]), float(tt[i, j]))
            h1, gh1 = _core.binary_entropy_grad(*one)
            k1, gk1 = _core.binary_kl_divergence_grad(one[0], np.array([y[i, j]]), *one[1:])
            assert h1.tobytes() == h[i, j : j + 1].tobytes(), (i, j)
            assert gh1.tobytes() == gh[i, j : j + 1].tobytes(), (i, j)
            assert k1.tobytes() == k[i, j : j + 1].tobytes(), (i, j)
            assert gk1.tobytes() == gk[i, j : j + 1].tobytes(), (i, j)
        assert np.array_equal(h, _core.binary_entropy(x, g, tt), equal_nan=True)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (
            lambda: lk.binary_kl_divergence(np.zeros(3), np.zeros(4)),
            ValueError,
            ["p_logits", "q_logits", "shapes"],
        ),
        (
            lambda: lk.binary_kl_divergence(np.zeros(3), np.zeros(3), reduction="avg"),
            ValueError,
            ["reduction", "'avg'"],
        ),
        (
            lambda: lk.binary_kl_divergence(np.zeros(3), np.zeros(3), temperature=0.0),
            ValueError,
            ["temperature"],
        ),
        (lambda: lk.binary_entropy(np.zeros(3), temperature=np.inf), ValueError, ["temperature"]),
        (lambda: lk.binary_entropy(np.zeros(3), reduction="batchmean"), ValueError, ["reduction"]),
        (lambda: lk.binary_entropy(["a"]), TypeError, ["logits"]),
        (lambda: lk.binary_kl_divergence([1.0], ["a"]), TypeError, ["q_logits"]),
        (lambda: lk.binary_entropy(np.zeros(3), temperature="2"), TypeError, ["temperature"]),
    ],
)
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_thread_counts_give_the_same_bits():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((300, 400)) * 6
    b = a + rng.standard_normal((300, 400)) * 1e-6
    base = lk.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 5):
            lk.set_num_threads(n)
            outs.append(
                lk.binary_kl_divergence_with_grad(a, b, reduction="none")
                + lk.binary_entropy_with_grad(a)
            )
        for o in outs[1:]:
            for u, v in itertools.zip_longest(outs[0], o):
                assert np.array_equal(u, v)
    finally:
        lk.set_num_threads(base)


# ------------------------------------------------------------------------ the multilabel verb


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel_entropy_with_a_temperature_and_a_bias_per_class(dtype):
    x = np.array([[1.0, -30.0, 45.0, 0.25], [-2.0, 60.0, -700.0, 3.0]], dtype)
    T = np.array([1.0, 0.5, 3.0, 1e-3])
    b = np.array([0.0, 2.0, -1.5, 0.0])
    got = lk.multilabel.entropy(x, temperature=T, bias=b)
    assert got.dtype == dtype and got.shape == x.shape
    for i, j in np.ndindex(x.shape):
        with mp.workdps(MP_DPS):
            z = mp.mpf(float(x[i, j])) / mp.mpf(T[j]) + mp.mpf(b[j])
            exact = _sig(z) * mp.log1p(mp.e ** (-z)) + _sig(-z) * mp.log1p(mp.e**z)
        assert ulps(got[i, j], exact, dtype) <= LOSS_BOUNDS[dtype], (i, j, got[i, j], exact)
    # the config object passes its own temperature, bias and axis
    ml = lk.multilabel.MultiLabel(temperature=T, bias=b, axis=0)
    np.testing.assert_array_equal(ml.entropy(x.T), got.T)
    assert not np.array_equal(ml.entropy(x.T), lk.multilabel.entropy(x.T, axis=0))
    assert lk.multilabel.MultiLabel(temperature=2.0).entropy(
        x, reduction="sum"
    ) == lk.binary_entropy(x, temperature=2.0, reduction="sum")
    # a scalar temperature without a bias is binary_entropy's own call, bit for bit
    np.testing.assert_array_equal(
        lk.multilabel.entropy(x, temperature=0.7), lk.binary_entropy(x, temperature=0.7)
    )


def test_multilabel_entropy_warns_on_probabilities_and_checks_its_options():
    rng = np.random.default_rng(2)
    with pytest.warns(lk.multilabel.ProbabilitiesWarning):
        lk.multilabel.entropy(lk.sigmoid(rng.standard_normal((8, 6))))
    with pytest.raises(ValueError, match="temperature"):
        lk.multilabel.entropy(np.zeros((2, 3)), temperature=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="bias"):
        lk.multilabel.entropy(np.zeros((2, 3)), bias=[1.0, 2.0])
    with pytest.raises(ValueError, match="reduction"):
        lk.multilabel.entropy(np.zeros((2, 3)), bias=1.0, reduction="batchmean")


def test_multilabel_entropy_of_infinite_and_huge_logits_with_an_affine():
    inf = np.inf
    np.testing.assert_array_equal(
        lk.multilabel.entropy([[inf, 0.0]], bias=0.5),
        [[0.0, float(mp_binary_entropy(0.5))]],
    )
    np.testing.assert_array_equal(
        lk.multilabel.entropy([[inf, -inf]], temperature=[2.0, 3.0]), [[0.0, 0.0]]
    )
    # 1e308 / 0.1 is past float64 (finite in long double): its entropy is 0, with no warning
    with np.errstate(all="raise"):
        h = lk.multilabel.entropy([[1e308, 0.0]], temperature=[0.1, 1.0])
    np.testing.assert_array_equal(h, [[0.0, np.log(2)]])
