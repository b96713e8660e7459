"""multiclass.sample and the filters of multiclass.proba (top_k, top_p, min_p) against a sort-based
reference written here from docs/semantics.md, "Sampling".

The reference (``ref_kept``/``ref_proba``) sorts the row (``np.argsort`` of -x, stable: largest
first, ties to the lower index), takes the top-k prefix, decides the top-p prefix on the
``np.cumsum`` of the float64 weights exp(z - max) and confirms the crossing in exact integer
arithmetic (each float64 weight is an integer multiple of 2**-1074), applies min-p and renormalises
in long double. The draw's reference is the inverse CDF over the float64 filtered probabilities
(those proba returns for float64 logits), summed by blocks of 64 token indices with ``np.cumsum``.
"""

from __future__ import annotations

import re

import logitkit as lk
import numpy as np
import oracle
import pytest

mc = lk.multiclass

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
# softmax's ulp budgets (tests/registry.py) plus the renormalisation over the kept set: a float64
# value is a quotient of two float64 sums, each within softmax's budget of the weights.
BOUNDS = {F32: 4, F64: 16}


# ------------------------------------------------------------------------------ the reference


def _exact(v: float) -> int:
    """A non-negative float64 as an integer multiple of 2**-1074 (exact)."""
    n, d = float(v).as_integer_ratio()
    return n << (1074 - (d.bit_length() - 1))


def ref_kept(x: np.ndarray, temperature: float, top_k, top_p, min_p) -> np.ndarray:
    """The kept set of one row (float64 logits, -inf where masked, no NaN), temperature > 0."""
    x = np.asarray(x, np.float64)
    V = x.size
    z = x / temperature
    w = np.exp(z - z.max())
    order = np.argsort(-x, kind="stable")  # largest first, equal logits by the lower index
    k = V if not top_k or top_k >= V else int(top_k)
    cand = order[:k]
    if top_p is not None and top_p < 1:
        ws = w[cand]
        cs = np.cumsum(ws)
        target = top_p * cs[-1]
        m = int(np.argmax(cs >= target)) if (cs >= target).any() else k - 1
        # confirm the crossing exactly: the first prefix whose exact sum reaches top_p * total
        ints = [_exact(v) for v in ws]
        a, b = float(top_p).as_integer_ratio()
        total = sum(ints)
        lo, hi = max(m - 3, 0), min(m + 3, k - 1)
        run = sum(ints[:lo])
        for j in range(lo, k):
            run += ints[j]
            if run * b >= a * total:
                m = j
                break
        assert lo <= m <= hi or k < 8, "np.cumsum's crossing far from the exact one"
        cand = cand[: m + 1]
    kept = np.zeros(V, bool)
    kept[cand] = True
    if min_p:
        kept &= w >= min_p * w.max()
    return kept


def ref_proba(x, temperature, top_k=None, top_p=None, min_p=None) -> np.ndarray:
    """The filtered distribution of one row, in long double."""
    x = np.asarray(x, np.float64)
    if temperature == 0:
        p = np.zeros(x.size, np.longdouble)
        p[np.argmax(x)] = 1
        return p
    kept = ref_kept(x, temperature, top_k, top_p, min_p)
    z = x.astype(np.longdouble) / np.longdouble(temperature)
    e = np.where(kept, np.exp(z - z.max()), 0)
    return e / e.sum()


DRAW_BLOCK = 64  # docs/semantics.md's draw: the sums are taken by blocks of 64 token indices


def ref_draw(P: np.ndarray, u: float) -> int:
    """docs/semantics.md's draw: the first j with C_j > u * C_total in float64, C_j = (the blocks'
    sums before j's block, added left to right) + (P summed left to right within j's block)."""
    V = P.size
    nb = -(-V // DRAW_BLOCK)
    Q = np.zeros(nb * DRAW_BLOCK)
    Q[:V] = P
    part = np.cumsum(Q.reshape(nb, DRAW_BLOCK), axis=1)
    run = np.cumsum(part[:, -1])
    prefix = np.concatenate([[0.0], run[:-1]])
    C = (prefix[:, None] + part).reshape(-1)[:V]
    hit = np.flatnonzero(C > u * run[-1])
    return int(hit[0]) if hit.size else int(np.flatnonzero(P > 0)[-1])


# -------------------------------------------------------------------------------------- rows


def _rows(rng, V: int) -> dict[str, np.ndarray]:
    """Row families: random, tied (few distinct values), confident, flat, with -inf entries."""
    rows = {
        "random": rng.standard_normal(V) * 3,
        "tied": rng.integers(-3, 3, V).astype(np.float64),
        "confident": np.where(np.arange(V) == rng.integers(V), 40.0, rng.standard_normal(V)),
        "flat": np.zeros(V),
    }
    r = rng.standard_normal(V) * 2
    r[rng.random(V) < 0.3] = -np.inf
    r[rng.integers(V)] = 1.0  # at least one finite entry
    rows["neginf"] = r
    return rows


SETTINGS = [
    # (temperature, top_k, top_p, min_p)
    (1.0, None, 0.9, None),
    (0.8, None, 0.5, None),
    (1.0, 5, None, None),
    (1.0, None, None, 0.1),
    (0.7, 40, 0.95, 0.05),
    (1.3, 3, 0.6, None),
    (1.0, 100, 0.3, 0.2),
    (2.0, None, 0.999, 0.01),
    (1.0, None, 1e-9, None),
    (1.0, None, 1.0, 0.0),
    (1.0, 0, None, 1.0),
]


def _check_proba(x: np.ndarray, dtype, settings, where=None) -> None:
    t, k, p, m = settings
    got = mc.proba(x.astype(dtype), temperature=t, top_k=k, top_p=p, min_p=m, where=where)
    xm = x if where is None else np.where(where, x, -np.inf)
    exp = ref_proba(xm, t, k, p, m)
    assert got.dtype == dtype
    assert np.array_equal(got > 0, exp.astype(dtype) > 0), (
        settings,
        np.flatnonzero((got > 0) != (exp > 0)),
    )
    err = oracle.ulp_error(got, exp.astype(np.float64) if dtype == F32 else exp, dtype)
    assert err <= BOUNDS[dtype], (settings, err)


# ------------------------------------------------------------------------ the filtered proba


@pytest.mark.parametrize("V", [2, 3, 7, 64, 1000, 5003])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_proba_matches_sorted_reference(isa, V, dtype):
    rng = np.random.default_rng(V)
    for x in _rows(rng, V).values():
        x = x.astype(dtype).astype(np.float64)  # the reference sees the values the kernel sees
        for s in SETTINGS:
            _check_proba(x, dtype, s)


def test_proba_large_vocabulary(isa):
    """One row of 128256 (a Llama-3 vocabulary), float32: top-p by selection, not a sort."""
    rng = np.random.default_rng(128256)
    x = (rng.standard_normal(128256) * 2.5).astype(np.float32).astype(np.float64)
    for s in [(0.8, None, 0.9, None), (0.8, 40, 0.95, 0.05), (1.0, None, 0.5, 0.01)]:
        _check_proba(x, F32, s)


def test_proba_ties_at_the_boundary():
    """Equal logits at the top-k/top-p boundary: the lower indices are kept."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 2.0])
    p = mc.proba(x, top_k=3)
    assert np.flatnonzero(p).tolist() == [1, 3, 6]
    # flat row of 10: top_p = 0.5 keeps exactly 5 tokens (the crossing one included), the first 5
    p = mc.proba(np.zeros(10), top_p=0.5)
    assert np.flatnonzero(p).tolist() == [0, 1, 2, 3, 4]
    p = mc.proba(np.zeros(10), top_p=0.51)
    assert np.flatnonzero(p).tolist() == [0, 1, 2, 3, 4, 5]
    # min_p = 1 keeps every token tied with the top one
    p = mc.proba(np.array([1.0, 3.0, 3.0, 2.0]), min_p=1.0)
    assert np.array_equal(p, [0, 0.5, 0.5, 0])


def test_proba_top_p_exact_not_float32_cumsum():
    """A float32 cumsum of many small weights drifts; the kept set is that of float64 sums."""
    V = 1 << 17
    x = np.zeros(V, np.float32)
    x[0] = np.log(V)  # the top token holds half the mass
    for p in (0.5, 0.75, 0.9):
        got = mc.proba(x, top_p=p)
        exp = ref_proba(x.astype(np.float64), 1.0, None, p, None)
        assert np.array_equal(got > 0, exp > 0)


def test_proba_options_where_axis_dtype():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 30, 2))
    where = rng.random((4, 30, 2)) < 0.8
    t = np.array([0.5, 1.0, 2.0, 0.0])[:, None]  # one per row: rows are (4, 2)
    k = np.array([[0, 3], [5, 30], [100, 1], [2, 2]])
    got = mc.proba(x, axis=1, where=where, temperature=t, top_k=k, top_p=0.8, min_p=0.05)
    assert got.shape == x.shape
    for i in range(4):
        for j in range(2):
            exp = ref_proba(
                np.where(where[i, :, j], x[i, :, j], -np.inf), float(t[i, 0]), k[i, j], 0.8, 0.05
            )
            assert np.array_equal(got[i, :, j] > 0, exp > 0)
            assert oracle.ulp_error(got[i, :, j], exp, F64) <= BOUNDS[F64]
    x16 = x.astype(np.float16)
    got16 = mc.proba(x16, axis=1, top_p=0.7)
    assert got16.dtype == np.float16
    exp16 = mc.proba(x16.astype(np.float32), axis=1, top_p=0.7).astype(np.float16)
    assert np.array_equal(got16, exp16)
    out = np.empty_like(x)
    assert mc.proba(x, axis=1, top_k=2, out=out) is out
    assert np.array_equal(out, mc.proba(x, axis=1, top_k=2))


def test_proba_without_filters_is_softmax():
    x = np.random.default_rng(0).standard_normal((3, 50)).astype(np.float32)
    assert np.array_equal(mc.proba(x, top_p=1.0), mc.proba(x, top_p=1.0, top_k=0, min_p=0))
    np.testing.assert_allclose(mc.proba(x, top_p=1.0), lk.softmax(x), rtol=2e-7)


# ---------------------------------------------------------------------------------- the draw


@pytest.mark.parametrize("settings", SETTINGS)
def test_draw_is_inverse_cdf_of_proba(isa, settings):
    """Each token equals the reference draw over proba's float64 values with the same uniform."""
    t, k, p, m = settings
    rng = np.random.default_rng(11)
    x = np.concatenate([r[None] for r in _rows(rng, 300).values()] * 40)
    got = mc.sample(x, temperature=t, top_k=k, top_p=p, min_p=m, rng=123)
    P = mc.proba(x, temperature=t, top_k=k, top_p=p, min_p=m)
    u = np.random.default_rng(123).random(x.shape[0])
    assert got.dtype == np.intp and got.shape == (x.shape[0],)
    assert [ref_draw(P[i], u[i]) for i in range(x.shape[0])] == got.tolist()


def _chi2_pvalue(counts: np.ndarray, probs: np.ndarray) -> float:
    import mpmath

    n = counts.sum()
    exp = n * probs
    stat = float(((counts - exp) ** 2 / exp).sum())
    df = probs.size - 1
    return float(mpmath.gammainc(df / 2, stat / 2, mpmath.inf, regularized=True))


@pytest.mark.parametrize(
    "settings", [(1.0, None, None, None), (0.8, None, 0.9, None), (0.7, 8, 0.95, 0.05)]
)
def test_chi_square_goodness_of_fit(settings):
    """200,000 draws (fixed seed: deterministic) against proba's distribution.

    Threshold: the test fails when the chi-square p-value is below 1e-4. Power: with 2e5 draws, a
    shift of 0.005 in the probability of a token of probability 0.1 (noncentrality ~ 50 with about
    10 degrees of freedom) is detected with probability > 0.99. No token outside the kept set may
    be drawn.
    """
    t, k, p, m = settings
    x = np.random.default_rng(5).standard_normal(12) * 1.5
    N = 200_000
    tokens = mc.sample(
        np.broadcast_to(x, (N, 12)), temperature=t, top_k=k, top_p=p, min_p=m, rng=2024
    )
    P = mc.proba(x, temperature=t, top_k=k, top_p=p, min_p=m)
    counts = np.bincount(tokens, minlength=12)
    assert (counts[P == 0] == 0).all()
    assert _chi2_pvalue(counts[P > 0], P[P > 0]) > 1e-4


def test_chi_square_detects_a_wrong_distribution():
    """The statistic above rejects draws from a slightly different distribution (its power)."""
    x = np.random.default_rng(5).standard_normal(12) * 1.5
    P = mc.proba(x, top_p=0.9)
    tokens = mc.sample(np.broadcast_to(x * 1.02, (200_000, 12)), top_p=0.9, rng=2024)
    counts = np.bincount(tokens, minlength=12)
    assert _chi2_pvalue(counts[P > 0], P[P > 0]) < 1e-4


def test_same_seed_same_tokens_for_any_thread_count():
    x = np.random.default_rng(8).standard_normal((64, 32000)).astype(np.float32)
    kw = {
        "temperature": np.linspace(0, 1.5, 64),
        "top_p": 0.9,
        "top_k": np.arange(64) * 10,
        "min_p": 0.01,
    }
    n0 = lk.get_num_threads()
    try:
        lk.set_num_threads(1)
        a = mc.sample(x, rng=7, **kw)
        lk.set_num_threads(2)
        b = mc.sample(x, rng=7, **kw)
        c = mc.sample(x, rng=np.random.default_rng(7), **kw)
    finally:
        lk.set_num_threads(n0)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.array_equal(a, mc.sample(x, rng=8, **kw))


def test_greedy_is_argmax(isa):
    rng = np.random.default_rng(9)
    x = rng.integers(-5, 5, (200, 37)).astype(np.float32)  # many ties: the lower index wins
    x[3, :] = -np.inf
    x[3, 20] = 0
    got = mc.sample(x, temperature=0, top_p=0.5, top_k=3, min_p=0.5, rng=1)
    assert np.array_equal(got, np.argmax(x, axis=1))
    assert np.array_equal(mc.proba(x, temperature=0, top_k=3), np.eye(37)[np.argmax(x, axis=1)])


def test_one_class_and_shapes():
    assert mc.sample(np.zeros(1), rng=0) == 0
    assert mc.sample(np.zeros((4, 1)), top_p=0.3, rng=0).tolist() == [0, 0, 0, 0]
    t = mc.sample(np.zeros(5), rng=0)
    assert isinstance(t, np.intp)
    x = np.random.default_rng(1).standard_normal((2, 3, 10))
    assert mc.sample(x, axis=1, rng=0).shape == (2, 10)
    assert mc.sample(x, rng=0).shape == (2, 3)
    assert mc.sample(np.zeros((0, 10)), rng=0).shape == (0,)


def test_where_masks_and_input_untouched():
    x = np.random.default_rng(2).standard_normal((50, 20))
    x[0, 5] = np.nan  # masked out below: never seen
    keep = x.copy()
    where = np.ones_like(x, bool)
    where[:, :10] = False
    where[0, 5] = False
    tokens = mc.sample(x, where=where, rng=0)
    assert (tokens >= 10).all()
    assert np.array_equal(x, keep, equal_nan=True)


def test_per_row_options_match_one_row_at_a_time():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 40))
    t = np.array([0.0, 0.5, 1.0, 1.5, 1.0, 0.9])
    k = np.array([0, 1, 5, 40, 3, 2**63 - 1])  # the last: no filter, past the C++ clamp
    p = np.array([1.0, 0.9, 0.5, 0.2, 1e-3, 0.99])
    m = np.array([0.0, 0.1, 0.0, 0.3, 1.0, 0.01])
    u = np.random.default_rng(77).random(6)
    got = mc.sample(x, temperature=t, top_k=k, top_p=p, min_p=m, rng=77)
    P = mc.proba(x, temperature=t, top_k=k, top_p=p, min_p=m)
    for i in range(6):
        Pi = mc.proba(x[i], temperature=t[i], top_k=int(k[i]), top_p=p[i], min_p=m[i])
        assert np.array_equal(P[i], Pi)
        assert got[i] == ref_draw(Pi, u[i])


# ----------------------------------------------------------------------------------- logprobs


# logprobs: float64 values as accurate as log_softmax of the logits' dtype (the row's max-relative
# sum of the kernels): within LOGPROB_ULPS ulps of that dtype of the float64 oracle (softmax's budgets).
LOGPROB_ULPS = {F32: 4, F64: 16}


@pytest.mark.parametrize("dtype", [F32, F64])
def test_logprobs_against_float64_log_softmax(isa, dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((20, 300)) * 4).astype(dtype)
    t = np.linspace(0, 2, 20)
    s = mc.sample(x, temperature=t, top_p=0.8, rng=3, logprobs=5)
    assert isinstance(s, mc.Sample) and isinstance(s, tuple)
    assert (
        s.tokens.shape == (20,)
        and s.top_tokens.shape == (20, 5)
        and s.top_logprobs.shape == (20, 5)
    )
    assert s.logprob.dtype == np.float64 and s.top_logprobs.dtype == np.float64
    assert np.array_equal(s.tokens, mc.sample(x, temperature=t, top_p=0.8, rng=3))
    tt = np.where(t > 0, t, 1.0)
    exact = oracle.log_softmax(x.astype(np.float64) / tt[:, None])
    chosen = exact[np.arange(20), s.tokens]
    assert oracle.ulp_error(s.logprob.astype(dtype), chosen, dtype) <= LOGPROB_ULPS[dtype]
    assert np.allclose(s.logprob, chosen, rtol=LOGPROB_ULPS[dtype] * np.finfo(dtype).eps, atol=0)
    assert np.array_equal(s.top_tokens, np.argsort(-x, axis=1, kind="stable")[:, :5])
    top = np.take_along_axis(exact, s.top_tokens, 1)
    assert np.allclose(s.top_logprobs, top, rtol=LOGPROB_ULPS[dtype] * np.finfo(dtype).eps, atol=0)
    s0 = mc.sample(x[0], rng=3, logprobs=0)
    assert s0.top_tokens.shape == (0,) and np.ndim(s0.logprob) == 0


@pytest.mark.parametrize(
    "settings",
    [
        (0.7, 40, 0.95, 0.05),
        (1.0, None, None, None),
        (0.0, None, None, None),
        (1.3, None, 0.9, None),
        (0.9, None, None, 0.1),
    ],
)
def test_logprobs_every_path_and_strided(settings):
    """Each row path (top-k, whole row, greedy, top-p, min-p) reports the same logprobs: those of the
    row's softmax at its temperature (1 when greedy), on strided and class-axis-first input too."""
    t, k, p, m = settings
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 1000)) * 3
    x[1, ::7] = -np.inf
    s = mc.sample(x, temperature=t, top_k=k, top_p=p, min_p=m, rng=1, logprobs=70)
    exact = oracle.log_softmax(x / (t if t > 0 else 1.0))
    np.testing.assert_allclose(s.logprob, exact[np.arange(6), s.tokens], rtol=1e-14)
    np.testing.assert_allclose(
        s.top_logprobs, np.take_along_axis(exact, s.top_tokens, 1), rtol=1e-14
    )
    assert np.array_equal(s.top_tokens, np.argsort(-x, axis=1, kind="stable")[:, :70])
    sT = mc.sample(
        np.asfortranarray(x.T), temperature=t, top_k=k, top_p=p, min_p=m, rng=1, logprobs=70, axis=0
    )
    assert np.array_equal(sT.tokens, s.tokens) and np.array_equal(sT.top_tokens, s.top_tokens)
    assert np.array_equal(sT.top_logprobs, s.top_logprobs)


def test_logprob_of_a_confident_token_is_not_zero():
    d = -np.log(1e-9)
    x = np.array([0.0, -d])
    s = mc.sample(x, temperature=0, logprobs=1)
    exact = -np.log1p(np.exp(-d))
    assert s.tokens == 0
    assert abs(s.logprob - exact) <= 1e-15 * abs(exact)
    assert s.logprob < 0


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kw, exc, words",
    [
        ({"temperature": -0.5}, ValueError, ["temperature", "-0.5"]),
        ({"temperature": np.nan}, ValueError, ["temperature", "nan"]),
        ({"temperature": np.inf}, ValueError, ["temperature", "inf"]),
        (
            {"temperature": np.array([1.0, -1.0, 1.0])},
            ValueError,
            ["temperature: must be a finite number >= 0, got", "row (1,)"],
        ),
        ({"temperature": np.array([1.0, 1.0, np.nan])}, ValueError, ["temperature", "row (2,)"]),
        ({"temperature": np.array([np.inf, 1.0, 1.0])}, ValueError, ["temperature", "row (0,)"]),
        ({"top_p": np.array([0.5, 0.0, 0.5])}, ValueError, ["top_p", "row (1,)"]),
        (
            {"top_p": np.array([0.5, 0.5, 1.5])},
            ValueError,
            ["top_p: must be in (0, 1]", "1.5", "row (2,)"],
        ),
        ({"top_p": np.array([np.nan, 0.5, 0.5])}, ValueError, ["top_p", "row (0,)"]),
        (
            {"min_p": np.array([0.0, -0.1, 1.0])},
            ValueError,
            ["min_p: must be in [0, 1]", "row (1,)"],
        ),
        ({"min_p": np.array([0.0, 1.0, 1.01])}, ValueError, ["min_p", "row (2,)"]),
        ({"temperature": np.ones(4)}, ValueError, ["temperature", "shape"]),
        ({"top_p": 0.0}, ValueError, ["top_p", "0.0"]),
        ({"top_p": 1.5}, ValueError, ["top_p", "1.5"]),
        ({"top_p": -0.1}, ValueError, ["top_p"]),
        ({"top_p": np.nan}, ValueError, ["top_p", "nan"]),
        ({"min_p": -0.1}, ValueError, ["min_p", "-0.1"]),
        ({"min_p": 1.01}, ValueError, ["min_p", "1.01"]),
        ({"top_k": -1}, ValueError, ["top_k", "-1"]),
        ({"top_k": np.array([1, -2, 3])}, ValueError, ["top_k", "-2", "row (1,)"]),
        ({"top_k": 2.5}, TypeError, ["top_k"]),
        ({"top_k": True}, TypeError, ["top_k"]),
        ({"temperature": "hot"}, TypeError, ["temperature"]),
        ({"logprobs": 11}, ValueError, ["logprobs", "11"]),
        ({"logprobs": -1}, ValueError, ["logprobs", "-1"]),
        ({"logprobs": True}, TypeError, ["logprobs"]),
        ({"where": np.ones(3, bool)}, ValueError, ["where"]),
    ],
)
def test_bad_options_raise_naming_the_argument(kw, exc, words):
    x = np.random.default_rng(0).standard_normal((3, 10))
    with pytest.raises(exc) as e:
        mc.sample(x, rng=0, **kw)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    if "logprobs" not in kw:
        with pytest.raises(exc):
            mc.proba(x, **{"top_p": 1.0, **kw})


def test_bad_rows_raise_naming_the_row():
    x = np.random.default_rng(0).standard_normal((2, 3, 10))
    bad = x.copy()
    bad[1, 2, 4] = np.nan
    for t in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"logits: row \(1, 2\) contains NaN"):
            mc.sample(bad, temperature=t, rng=0)
    with pytest.raises(ValueError, match=r"logits: row \(1, 2\) contains NaN"):
        mc.proba(bad, top_k=3)
    where = np.ones_like(x, bool)
    where[0, 1] = False
    with pytest.raises(ValueError, match=r"row \(0, 1\) is all -inf"):
        mc.sample(x, where=where, rng=0)
    with pytest.raises(ValueError, match=r"row \(0, 1\) is all -inf"):
        mc.proba(x, where=where, top_p=0.5)
    inf = x.copy()
    inf[0, 0, 3] = np.inf
    with pytest.raises(ValueError, match=r"row \(0, 0\) contains \+inf"):
        mc.sample(inf, rng=0)
    assert mc.sample(inf, temperature=0)[0, 0] == 3  # greedy: +inf is the largest logit
    with pytest.raises(ValueError, match="class axis has length 0"):
        mc.sample(np.zeros((3, 0)))


def test_bad_row_does_not_change_other_rows():
    x = np.random.default_rng(1).standard_normal((5, 30))
    base = mc.sample(x, rng=4, top_p=0.9)
    y = x.copy()
    y[2, 7] = 1e30  # a huge but finite logit: row 2 changes, no other does
    got = mc.sample(y, rng=4, top_p=0.9)
    assert got[2] == 7
    assert np.array_equal(np.delete(got, 2), np.delete(base, 2))


def test_penalties_then_filters_and_draw():
    """apply_penalties (in place) then proba's filters and sample: the filters and the draw see the
    penalised logits; a token banned by a large negative bias is never drawn."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((8, 60))
    prev = rng.integers(-1, 60, (8, 12))  # -1: padding
    y = x.copy()
    mc.apply_penalties(
        y,
        prev,
        repetition_penalty=1.3,
        presence_penalty=0.4,
        frequency_penalty=0.2,
        logit_bias={5: -1e4, 7: 2.0},
        out=y,
    )
    assert not np.array_equal(x, y)
    P = mc.proba(y, temperature=0.9, top_k=20, top_p=0.85, min_p=0.02)
    for i in range(8):
        exp = ref_proba(y[i], 0.9, 20, 0.85, 0.02)
        assert np.array_equal(P[i] > 0, exp > 0)
        assert oracle.ulp_error(P[i], exp, F64) <= BOUNDS[F64]
    tokens = mc.sample(np.repeat(y, 500, axis=0), temperature=0.9, top_p=0.99, rng=3)
    assert not (tokens == 5).any()
    u = np.random.default_rng(4).random(8)
    got = mc.sample(y, temperature=0.9, top_k=20, top_p=0.85, min_p=0.02, rng=4)
    assert [ref_draw(P[i], u[i]) for i in range(8)] == got.tolist()


# ------------------------------------------------------------- special values at every lane offset


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(
    "settings",
    [(0.8, None, 0.9, None), (1.0, None, None, 0.2), (1.0, None, None, None), (0.7, 5, 0.95, None)],
)
def test_special_value_at_every_lane_offset(isa, dtype, settings):
    """A NaN or +inf at any position of a row (every lane of the row pass's vectors, the tail too)
    is reported for that row; a -inf there only removes that token. The other rows are unchanged."""
    t, k, p, m = settings
    V = 67  # more than four AVX-512 vectors of float32, and a tail
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((3, V)) * 2).astype(dtype)
    base_p = mc.proba(x, temperature=t, top_k=k, top_p=p, min_p=m)
    base_s = mc.sample(x, temperature=t, top_k=k, top_p=p, min_p=m, rng=5)
    for i in range(V):
        for v, what in ((np.nan, "NaN"), (np.inf, "+inf")):
            y = x.copy()
            y[1, i] = v
            with pytest.raises(ValueError, match=rf"row \(1,\) contains {re.escape(what)}"):
                mc.sample(y, temperature=t, top_k=k, top_p=p, min_p=m, rng=5)
        y = x.copy()
        y[1, i] = -np.inf
        got = mc.proba(y, temperature=t, top_k=k, top_p=p, min_p=m)
        assert np.array_equal(got[[0, 2]], base_p[[0, 2]])
        assert got[1, i] == 0
        exp = ref_proba(y[1].astype(np.float64), t, k, p, m)
        assert np.array_equal(got[1] > 0, exp.astype(dtype) > 0)
        assert (
            oracle.ulp_error(got[1], exp.astype(np.float64) if dtype == F32 else exp, dtype)
            <= BOUNDS[dtype]
        )
        s = mc.sample(y, temperature=t, top_k=k, top_p=p, min_p=m, rng=5)
        assert s[0] == base_s[0] and s[2] == base_s[2] and s[1] != i


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("t", [1e-30, 1e-45, 3e-39, 1e30, 1e39, 1e300])
def test_extreme_temperatures(isa, dtype, t):
    """Temperatures beyond float32's range (the float32 row pass widens the row) give the limits:
    greedy-like rows for tiny T, a flat kept set for huge T; logprobs finite and exact."""
    x = np.random.default_rng(2).standard_normal((2, 50)).astype(dtype)
    for settings in ((t, None, 0.9, None), (t, None, None, 0.5), (t, 7, 0.9, None)):
        _check_proba(x[0], dtype, settings)
    s = mc.sample(x, temperature=t, top_p=0.9, rng=0, logprobs=3)
    exact = oracle.log_softmax(x.astype(np.float64) / t)
    assert np.isfinite(s.logprob).all() and np.isfinite(s.top_logprobs[:, 0]).all()
    rel = LOGPROB_ULPS[dtype] * np.finfo(dtype).eps
    np.testing.assert_allclose(s.logprob, exact[np.arange(2), s.tokens], rtol=rel, atol=1e-300)
    np.testing.assert_allclose(s.top_logprobs, np.take_along_axis(exact, s.top_tokens, 1), rtol=rel)


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("side", [-1, 1])
def test_top_p_crossing_closer_than_the_row_scan_can_tell(isa, dtype, side):
    """top_p set 1e-12 (relatively) above or below a prefix sum of the order: closer than the float32
    row scan's sums can decide, so the exact set comes from the double sums (the row's sum again in
    float64, then the whole row); it equals the exact reference on both sides. Also the bench's
    mixed-batch row that met such a crossing by chance."""
    rng = np.random.default_rng(44)
    x = (rng.standard_normal(5000) * 3).astype(dtype)
    x64 = x.astype(np.float64)
    w = np.exp(x64 - x64.max())
    order = np.argsort(-x64, kind="stable")
    c = np.cumsum(w[order])
    S = c[-1]
    for j in (3, 40, 400):
        p = float(c[j - 1] * (1 + side * 1e-12) / S)
        _check_proba(x, dtype, (1.0, None, p, None))
        kept = mc.proba(x, top_p=p) > 0
        assert kept.sum() == (j if side < 0 else j + 1)
    row = np.random.default_rng([20261204, 64, 32000]).standard_normal((64, 32000))[63] * 3
    _check_proba(row.astype(dtype).astype(np.float64), dtype, (0.9, None, 0.8, 0.02))


def test_per_row_top_k_beyond_any_row_length():
    """top_k one per row, some far above the row length (up to int64's largest): a k at least the
    row's length keeps the whole row, a smaller one its k largest; no k is cut to a smaller one."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 300))
    k = np.array([200, 299, 2**62 + 5, 2**63 - 1], np.int64)
    got = mc.proba(x, top_k=k)
    for i in range(4):
        assert np.count_nonzero(got[i]) == min(int(k[i]), 300)
        exp = ref_proba(x[i], 1.0, int(min(k[i], 300)), None, None)
        assert oracle.ulp_error(got[i], exp, F64) <= BOUNDS[F64]
    for kk in (k.tolist(), k.astype(np.uint64), k[:, None]):  # lists, unsigned, other shapes
        assert np.array_equal(mc.proba(x, top_k=kk if np.ndim(kk) < 2 else kk[:, 0]), got)
    # one k for every row, as a Python int (past int64's range too), a NumPy int, a 0-d array
    for k1 in (200, 299, 2**62 + 5, 2**63 - 1, 2**70):
        want = np.stack([ref_proba(r, 1.0, min(k1, 300), None, None) for r in x])
        for kk in (k1, np.uint64(min(k1, 2**64 - 1)), np.array(min(k1, 2**63 - 1))):
            one = mc.proba(x, top_k=kk)
            assert (np.count_nonzero(one, axis=1) == min(k1, 300)).all(), kk
            assert oracle.ulp_error(one, want, F64) <= BOUNDS[F64], kk


def test_filtered_proba_of_integer_logits_is_float64():
    """Integer logits are read as float64 (as every function reads them): the filtered
    probabilities are float64, the same numbers as for the float64 logits."""
    x = np.array([[3, 1, 0, -2, 5], [0, 0, 1, 1, 2]], np.int32)
    for kw in ({"top_k": 2}, {"top_p": 0.8}, {"min_p": 0.2}):
        got = mc.proba(x, **kw)
        assert got.dtype == F64
        assert np.array_equal(got, mc.proba(x.astype(F64), **kw))
        assert got.sum(axis=1) == pytest.approx([1.0, 1.0], rel=1e-15)
