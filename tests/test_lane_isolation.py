"""Lane isolation (docs/numerics.md, "Special values and lane isolation"): a special value (NaN,
+-inf, a value just outside exp's range, a huge or subnormal value) in one element never changes
another element, nor another row.

The kernels check ranges a group of vectors at a time (up to four vectors of 4..16 lanes). The
pattern that breaks a careless check is two special values in the same lane of different vectors
of one group: an out-of-range value at i and a NaN (or another special) at j = i + k*W. Every test
here injects such pairs at every position of rows that span several groups, on every ISA and both
dtypes, and asserts that

* every element (elementwise functions) equals, bit for bit, the result for its own value computed
  without the other special values, and is correct against the oracle;
* every row (row-wise functions and losses) equals, bit for bit, the same row computed in another
  batch (other neighbours, alone), and clean rows between special ones are unchanged.
"""

from __future__ import annotations

import functools
import itertools

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]

# Special values per dtype: NaN, infinities, just outside exp's fast range (|x| > 87 / 708), far
# outside it, the largest values, subnormals and zeros.
SPECIALS = {
    np.dtype(np.float32): [
        np.nan,
        np.inf,
        -np.inf,
        88.5,
        -88.5,
        100.0,
        -100.0,
        1e5,
        -1e5,
        3e38,
        -3e38,
        1e-45,
        -1e-40,
        -0.0,
    ],
    np.dtype(np.float64): [
        np.nan,
        np.inf,
        -np.inf,
        709.5,
        -709.5,
        800.0,
        -800.0,
        1e5,
        -1e5,
        1e308,
        -1e308,
        5e-324,
        -1e-310,
        -0.0,
    ],
}
# The second value of a pair: the ones that hide others from min/max (NaN) or dominate them.
SECOND = {
    np.dtype(np.float32): [np.nan, np.inf, -np.inf, -1e5, 100.0],
    np.dtype(np.float64): [np.nan, np.inf, -np.inf, -1e5, 800.0],
}
# Offsets j - i: the same lane of another vector of a 4-vector group, for 4-, 8- and 16-lane vectors.
OFFSETS = sorted({s * k * w for w in (4, 8, 16) for k in (1, 2, 3) for s in (1, -1)} | {1, -1})
ROW = 64  # a multiple of every ISA's 4-vector group (float32 AVX-512: 64)


def same_bits(got, ref, what):
    """got and ref bit-identical (NaN positions equal; NaN payloads may differ)."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype, what
    gn, rn = np.isnan(got), np.isnan(ref)
    u = np.uint32 if got.dtype == np.float32 else np.uint64
    bad = (gn != rn) | (~gn & (got.view(u) != ref.view(u)))
    if bad.any():
        idx = tuple(int(a[0]) for a in np.nonzero(bad))
        raise AssertionError(
            f"{what}: {int(bad.sum())} element(s) differ; first at {idx}: got {got[idx]!r}, "
            f"expected {ref[idx]!r}"
        )


def pair_rows(dtype, n, firsts=None, seconds=None):
    """(positions i, j, values a, b) of every pair: a at i in 0..n-1, b at j = i + offset (or none:
    j = -1), for a in firsts and b in seconds."""
    firsts = SPECIALS[dtype] if firsts is None else firsts
    seconds = SECOND[dtype] if seconds is None else seconds
    out = []
    for i in range(n):
        for a in firsts:
            out.append((i, -1, a, 0.0))
            for d in OFFSETS:
                j = i + d
                if 0 <= j < n:
                    for b in seconds:
                        out.append((i, j, a, b))
    return out


def inject(base, pairs):
    """Rows of base (one per pair, tiled) with the pair's values written in; the special mask."""
    n = base.shape[-1]
    x = np.tile(base, (len(pairs), 1)) if base.ndim == 1 else base[: len(pairs)].copy()
    special = np.zeros(x.shape, dtype=bool)
    r = np.arange(len(pairs))
    ii = np.array([p[0] for p in pairs])
    jj = np.array([p[1] for p in pairs])
    x[r, ii] = np.array([p[2] for p in pairs], dtype=x.dtype)
    special[r, ii] = True
    has_j = jj >= 0
    x[r[has_j], jj[has_j]] = np.array([p[3] for p in pairs], dtype=x.dtype)[has_j]
    special[r[has_j], jj[has_j]] = True
    assert x.shape[-1] == n
    return x, special


def ordinary(rng, shape, dtype):
    return (rng.standard_normal(shape) * 6).astype(dtype)


def alone(values, fill=0.0):
    """values as column 0 of rows of ROW whose other entries are `fill`: each value with only
    ordinary neighbours, all in one call."""
    values = np.asarray(values)
    x = np.full((values.size, ROW), fill, dtype=values.dtype)
    x[:, 0] = values.ravel()
    return x


def random_mixtures(rng, n, dtype, count):
    """count arrays of n: ordinary values with random specials at random positions."""
    sp = np.array(SPECIALS[dtype], dtype=dtype)
    x = ordinary(rng, (count, n), dtype)
    special = rng.random((count, n)) < rng.uniform(0.05, 0.6, (count, 1))
    x[special] = sp[rng.integers(0, len(sp), int(special.sum()))]
    return x, special


# ----------------------------------------------------------------------------- elementwise

UNARY = {
    n: (registry.BY_NAME[n].call, registry.BY_NAME[n].oracle) for n in registry.names("elementwise")
}


def _unary_ref(f, values, dtype):
    """f of each value alone (an array of one: the tail path, lane-exact)."""
    return np.array([f(np.array([v], dtype=dtype))[0] for v in values], dtype=dtype)


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_unary_pairs_every_position(isa, dtype, name):
    f, orc = UNARY[name]
    rng = np.random.default_rng([1, ROW, int(dtype == np.float64)])
    base = ordinary(rng, ROW, dtype)
    # the base alone, and each of its values alone, are the reference: the same bits either way
    fb = f(base)
    same_bits(fb, _unary_ref(f, base, dtype), f"{name}: base vs elements alone")
    assert oracle.ulp_error(fb, orc(base), dtype) <= registry.BOUNDS[name][dtype]
    sp = np.array(SPECIALS[dtype], dtype=dtype)
    sp_ref = _unary_ref(f, sp, dtype)
    assert oracle.ulp_error(sp_ref, orc(sp), dtype) <= registry.BOUNDS[name][dtype], name
    x, special = inject(base, pair_rows(dtype, ROW))
    expected = np.tile(fb, (x.shape[0], 1))

    # special entries: their own value's result
    def key(v):
        return "nan" if np.isnan(v) else float(v).hex()

    lookup = {key(v): r for v, r in zip(sp, sp_ref)}
    vals = x[special]
    expected[special] = np.array([lookup[key(v)] for v in vals], dtype)
    for lo in range(0, x.shape[0], 2048):  # (calls of at most 2048 rows)
        same_bits(f(x[lo : lo + 2048]), expected[lo : lo + 2048], f"{name} pairs, rows from {lo}")


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_unary_mixtures_every_length(isa, dtype, name):
    """Lengths 1..70 (every tail), random mixtures of specials: each element as if alone."""
    f, orc = UNARY[name]
    rng = np.random.default_rng([2, int(dtype == np.float64)])
    for n in range(1, 71):
        x, _ = random_mixtures(rng, n, dtype, 6)
        for row in x:
            got = f(row)
            same_bits(got, f(alone(row))[:, 0], f"{name} n={n} {row!r}")
            assert oracle.ulp_error(got, orc(row), dtype) <= registry.BOUNDS[name][dtype], row


BINARY = {
    n: (registry.BY_NAME[n].call, registry.BY_NAME[n].oracle)
    for n in registry.names("backward", rowwise=False)
}


@pytest.mark.parametrize("which", [0, 1], ids=["in_grad", "in_x"])
@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_backward_pairs_every_position(isa, dtype, name, which):
    f, orc = BINARY[name]
    rng = np.random.default_rng([3, which, int(dtype == np.float64)])
    g = ordinary(rng, ROW, dtype)
    v = ordinary(rng, ROW, dtype)
    if name == "sigmoid_backward":
        v = lk.sigmoid(v)
    args = [g, v]
    ref = f(*args)
    err = oracle.grad_errors(ref, orc(*args), dtype)
    assert err.max() <= 1, err.max()
    pairs = pair_rows(dtype, ROW)
    x, special = inject(args[which], pairs)
    other = np.tile(args[1 - which], (x.shape[0], 1))
    call = (lambda a: f(a, other)) if which == 0 else (lambda a: f(other, a))
    got = call(x)
    # a special at (r, c): the result of that value with the same other operand, everywhere at once
    expected = np.tile(ref, (x.shape[0], 1))
    for s in SPECIALS[dtype]:
        m = special & ((x == s) | (np.isnan(x) & np.isnan(s)))
        if m.any():
            full = np.full(ROW, s, dtype=dtype)
            rs = f(full, args[1]) if which == 0 else f(args[0], full)
            e2 = oracle.grad_errors(
                rs, orc(full, args[1]) if which == 0 else orc(args[0], full), dtype
            )
            assert e2.max() <= 1, (name, s)
            expected[m] = np.tile(rs, (x.shape[0], 1))[m]
    same_bits(got, expected, f"{name} specials in argument {which}")


# ----------------------------------------------------------------------------- binary cross-entropy

BCE_OPTIONS = [
    {},
    {"weight": True},
    {"pos_weight": True},
    {"weight": True, "pos_weight": True, "label_smoothing": 0.1},
    {"label_smoothing": 0.2},
]


def _bce_kw(opts, rng, shape, dtype):
    kw = {}
    if opts.get("weight"):
        kw["weight"] = rng.uniform(0.1, 3, shape).astype(dtype)
    if opts.get("pos_weight"):
        kw["pos_weight"] = rng.uniform(0.1, 3, shape).astype(dtype)
    if "label_smoothing" in opts:
        kw["label_smoothing"] = opts["label_smoothing"]
    return kw


@pytest.mark.parametrize("opts", BCE_OPTIONS, ids=lambda o: "+".join(o) or "plain")
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bce_pairs_every_position(isa, dtype, opts):
    """Logits with pairs of specials in rows of 64 (-1e5 at 0 and NaN at 8 share a lane of one
    group), each element's loss and gradient as if alone, and correct."""
    rng = np.random.default_rng([4, len(opts), int(dtype == np.float64)])
    pairs = pair_rows(dtype, ROW)
    R = len(pairs)
    base = ordinary(rng, ROW, dtype)
    x, special = inject(base, pairs)
    y1 = rng.uniform(0, 1, ROW).astype(dtype)
    y1[::5] = rng.integers(0, 2, y1[::5].shape)  # hard 0/1 targets too
    y = np.tile(y1, (R, 1))
    kw1 = _bce_kw(opts, rng, (ROW,), dtype)
    kw = {k: (np.tile(v, (R, 1)) if isinstance(v, np.ndarray) else v) for k, v in kw1.items()}
    f = lk.binary_cross_entropy_with_logits_with_grad
    # references: the base row, and a row of each special value, with the same targets and weights
    ref_l, ref_g = f(base, y[0], reduction="none", **kw1)
    expected_l, expected_g = np.tile(ref_l, (R, 1)), np.tile(ref_g, (R, 1))
    for s in SPECIALS[dtype]:
        full = np.full(ROW, s, dtype=dtype)
        sl, sg = f(full, y[0], reduction="none", **kw1)
        ol = oracle.bce_with_logits(full, y[0], reduction="none", **kw1)
        og, scale = oracle.bce_with_logits_grad(
            full, y[0], reduction="none", with_scale=True, **kw1
        )
        assert oracle.ulp_errors(sl, ol, dtype).max() <= registry.LOSS_BOUNDS[dtype], s
        assert oracle.grad_errors(sg, og, dtype, scale).max() <= 1, s
        m = special & ((x == s) | (np.isnan(x) & np.isnan(s)))
        expected_l[m] = np.tile(sl, (R, 1))[m]
        expected_g[m] = np.tile(sg, (R, 1))[m]
    for lo in range(0, R, 2048):
        sl_ = slice(lo, lo + 2048)
        kws = {k: (v[sl_] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        loss, grad = f(x[sl_], y[sl_], reduction="none", **kws)
        same_bits(loss, expected_l[sl_], f"BCE loss {opts}, rows from {lo}")
        same_bits(grad, expected_g[sl_], f"BCE grad {opts}, rows from {lo}")
        loss2 = lk.binary_cross_entropy_with_logits(x[sl_], y[sl_], reduction="none", **kws)
        same_bits(loss2, expected_l[sl_], f"BCE loss alone {opts}, rows from {lo}")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("opts", BCE_OPTIONS[::2], ids=lambda o: "+".join(o) or "plain")
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bce_reduced_every_length(isa, dtype, opts, reduction):
    """Reductions over lengths 1..70 with random specials: the gradient elementwise as if alone,
    the reduced loss correct (NaN exactly when a logit is NaN)."""
    rng = np.random.default_rng([5, len(opts), int(dtype == np.float64)])
    f = lk.binary_cross_entropy_with_logits_with_grad
    for n in [*range(1, 18), 31, 32, 33, 48, 63, 64, 65, 70]:
        x, _ = random_mixtures(rng, n, dtype, 3)
        y = rng.uniform(0, 1, n).astype(dtype)
        kw = _bce_kw(opts, rng, (n,), dtype)
        for row in x:
            loss, grad = f(row, y, reduction=reduction, **kw)
            ln, gn = f(row, y, reduction="none", **kw)
            # each element alone (columns: one element per row of a (n, 1) call)
            kw1 = {k: (alone(v, 1.0) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
            la, ga = f(alone(row), alone(y), reduction="none", **kw1)
            same_bits(ln, la[:, 0], f"BCE n={n} loss vs alone {row!r}")
            same_bits(gn, ga[:, 0], f"BCE n={n} grad vs alone {row!r}")
            factor = dtype.type(1.0 / n) if reduction == "mean" else dtype.type(1)
            same_bits(grad, (gn * factor).astype(dtype), f"BCE n={n} {reduction} grad")
            ol = oracle.bce_with_logits(row, y, reduction=reduction, **kw)
            with np.errstate(over="ignore"):
                ol_rounded = np.asarray(ol).astype(dtype)
            if np.isnan(row).any():
                assert np.isnan(loss), row
            elif np.isinf(ol_rounded):  # a sum past the largest finite value
                assert loss == ol_rounded, (row, loss, ol)
            elif np.abs(row).max() < 1e30:  # (an element's own loss may overflow beyond)
                assert oracle.rel_error(loss, ol) <= registry.REDUCED_BOUNDS[dtype], (
                    row,
                    loss,
                    ol,
                )


# ----------------------------------------------------------------------------- row-wise

# ([::2]: the backward tests' lengths. 6, 12, 24, 32 and 48 are whole numbers of vectors on some
# ISA: the short rows of whole vectors of softmax and logsumexp)
ROW_LENGTHS = [2, 3, 5, 8, 15, 16, 17, 31, 33, 63, 64, 65, 70, 100, 130, 12, 24, 32, 48, 4, 6]
ROW_FIRSTS = {
    np.dtype(np.float32): [np.nan, np.inf, -np.inf, 100.0, -100.0, 1e5, -1e5, 3e38, 1e-45],
    np.dtype(np.float64): [np.nan, np.inf, -np.inf, 800.0, -800.0, 1e5, -1e5, 1e308, 5e-324],
}


@functools.cache
def _row_batch(dtype, n, seed):
    """Rows of n with pairs of specials (first at every position, the second at the offsets), each
    followed by a clean row; returns x and the mask of clean rows."""
    rng = np.random.default_rng([6, n, seed, int(dtype == np.float64)])
    pairs = pair_rows(dtype, n, ROW_FIRSTS[dtype])
    if len(pairs) > 700:  # long rows: a fixed sample of the pairs, singles all kept
        keep = [p for p in pairs if p[1] < 0]
        rest = [p for p in pairs if p[1] >= 0]
        idx = rng.choice(len(rest), max(700 - len(keep), 100), replace=False)
        pairs = keep + [rest[k] for k in sorted(idx)]
    R = len(pairs)
    base = ordinary(rng, (2 * R, n), dtype)
    x = base.copy()
    xs, _ = inject(base[0::2], pairs)
    x[0::2] = xs
    clean = np.zeros(2 * R, dtype=bool)
    clean[1::2] = True
    x.flags.writeable = False  # (cached across ISAs)
    return x, clean


@functools.cache
def _row_oracle(dtype, n, name):
    """The oracle of _row_batch(dtype, n, 0) (computed once for every ISA)."""
    x = _row_batch(dtype, n, 0)[0]
    return ROWWISE[name][1](x)


def _check_rows(f, x, clean, rng, what):
    """f over rows of x: bit-identical to the same rows in reverse order, to the clean rows alone,
    and to a sample of rows each alone."""
    got = f(x)
    rev = f(x[::-1].copy())[::-1]
    same_bits(got, rev, f"{what}: rows in reverse order")
    same_bits(got[clean], f(x[clean]), f"{what}: clean rows without the special ones")
    for r in rng.choice(x.shape[0], 12, replace=False):
        same_bits(got[r : r + 1], f(x[r : r + 1]), f"{what}: row {r} alone {x[r]!r}")
    return got


ROWWISE = {
    n: (lambda x, f=registry.BY_NAME[n].call: f(x, axis=-1), registry.BY_NAME[n].oracle)
    for n in registry.names("row", "row reduction")
}


@pytest.mark.parametrize("name", list(ROWWISE))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_rowwise_pairs_every_position(isa, dtype, name):
    f = ROWWISE[name][0]
    for n in ROW_LENGTHS:
        x, clean = _row_batch(dtype, n, 0)
        rng = np.random.default_rng([7, n])
        got = _check_rows(f, x, clean, rng, f"{name} n={n}")
        exact = _row_oracle(dtype, n, name)
        err = oracle.ulp_errors(got, exact, dtype)
        assert err.max() <= registry.BOUNDS[name][dtype], oracle.worst_report(
            x, got, exact, dtype, err, row_wise=True
        )


@pytest.mark.parametrize("name", registry.names("backward", rowwise=True))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_rowwise_backward_pairs(isa, dtype, name):
    """Specials in the incoming gradient: rows are independent (a row's own entries share its sum)."""
    fwd = registry.BY_NAME[registry.BY_NAME[name].of].call
    bwd = getattr(lk, name)
    orc = getattr(oracle, name)
    for n in ROW_LENGTHS[::2]:
        g, clean = _row_batch(dtype, n, 1)
        rng = np.random.default_rng([8, n])
        y = fwd(ordinary(rng, g.shape, dtype), axis=-1)
        got = bwd(g, y)
        same_bits(got, bwd(g[::-1].copy(), y[::-1].copy())[::-1], f"{name} n={n} reversed")
        same_bits(got[clean], bwd(g[clean], y[clean]), f"{name} n={n} clean rows")
        # finite rows against the oracle, the absolute bound scaled by the row's sum Σ|g| (the
        # gradient's scale); rows near overflow are checked for isolation above
        ok = np.isfinite(g).all(-1) & (np.abs(g).max(-1) <= 1e5)
        exact = orc(g[ok], y[ok])
        scale = np.maximum(1, np.abs(g[ok].astype(np.float64)).sum(-1, keepdims=True))
        eps = np.finfo(dtype).eps
        err = np.abs(got[ok].astype(np.longdouble) - exact) / (16 * eps * scale)
        assert err.max() <= 1, err.max()
        assert np.isnan(got[~np.isfinite(g).all(-1)]).any(-1).all()


@functools.cache
def _ce_case(dtype, n, soft, smoothing):
    """Rows of _row_batch, targets, class weights, and the oracle's (loss, grad, scale) without and
    with the weights (computed once for every ISA)."""
    x, clean = _row_batch(dtype, n, 2)
    rng = np.random.default_rng([10, n, int(soft)])
    R = x.shape[0]
    t = rng.dirichlet(np.ones(n), R).astype(dtype) if soft else rng.integers(0, n, R)
    weight = rng.uniform(0.5, 2, n).astype(dtype)
    oracles = []
    for kw in ({}, {"weight": weight}):
        ol = oracle.cross_entropy(x, t, reduction="none", label_smoothing=smoothing, **kw)
        og, scale = oracle.cross_entropy_grad(
            x, t, reduction="none", label_smoothing=smoothing, with_scale=True, **kw
        )
        oracles.append((ol, og, scale))
    return x, clean, t, weight, oracles


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_cross_entropy_pairs(isa, dtype, soft, smoothing):
    for n in (5, 17, 64, 70):
        x, clean, t, weight, oracles = _ce_case(dtype, n, soft, smoothing)
        R = x.shape[0]
        rng = np.random.default_rng([9, n])

        def f(xx, tt=t, kw=None):
            kw = kw or {}
            return lk.cross_entropy_with_grad(
                xx, tt, reduction="none", label_smoothing=smoothing, **kw
            )

        for kw, (ol, og, scale) in zip(({}, {"weight": weight}), oracles):
            loss, grad = f(x, t, kw)
            l2, g2 = f(x[::-1].copy(), t[::-1].copy(), kw)
            same_bits(loss, l2[::-1], f"CE n={n} loss reversed")
            same_bits(grad, g2[::-1], f"CE n={n} grad reversed")
            l3, g3 = f(x[clean], t[clean], kw)
            same_bits(loss[clean], l3, f"CE n={n} clean rows")
            same_bits(grad[clean], g3, f"CE n={n} clean rows grad")
            lo_only = lk.cross_entropy(x, t, reduction="none", label_smoothing=smoothing, **kw)
            same_bits(lo_only, loss, f"CE n={n} loss without grad")
            for r in rng.choice(R, 8, replace=False):
                la, ga = f(x[r : r + 1], t[r : r + 1], kw)
                same_bits(la, loss[r : r + 1], f"CE n={n} row {r} alone")
                same_bits(ga, grad[r : r + 1], f"CE n={n} row {r} alone grad")
            err = oracle.ulp_errors(loss, ol, dtype)
            assert err.max() <= registry.LOSS_BOUNDS[dtype], (
                n,
                x[err.argmax()],
                loss[err.argmax()],
            )
            ge = oracle.grad_errors(grad, og, dtype, scale)
            assert ge.max() <= 1, (n, np.unravel_index(ge.argmax(), ge.shape))


def test_issue_examples(isa):
    """Two lane-sharing cases, on every ISA: an out-of-range logit hidden behind a NaN in the
    same lane of another vector of its group."""
    x = np.zeros(32, np.float32)
    x[0] = -100.0
    x[8] = np.nan
    assert lk.sigmoid(x)[0] == np.float32(oracle.sigmoid(np.float32(-100.0)))
    x[0] = 100.0
    assert lk.sigmoid(x)[0] == 1.0
    x = np.zeros((1, 16), np.float32)
    x[0, 0] = -1e5
    x[0, 8] = np.nan
    loss, grad = lk.binary_cross_entropy_with_logits_with_grad(
        x, np.zeros_like(x), reduction="none"
    )
    assert loss[0, 0] == 0 and grad[0, 0] == 0
    assert np.isnan(loss[0, 8]) and np.isnan(grad[0, 8])
    assert (loss[0, 1:8] == np.float32(np.log(2))).all()


def test_pairs_cover_the_groups():
    """The injected pairs reach the same lane of every other vector of a 4-vector group."""
    for w in (4, 8, 16):
        assert {w, 2 * w, 3 * w, -w, -2 * w, -3 * w} <= set(OFFSETS)
    assert all(ROW % (4 * w) == 0 for w in (4, 8, 16))
    assert len(list(itertools.islice(pair_rows(DTYPES[0], ROW), 10))) == 10
