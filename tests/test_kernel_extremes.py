"""Kernel arithmetic at the edges of the finite range: softmax_backward's exact products for huge
finite gradients (Dekker's splitting without FMA), infinite gradients, and BCE with |x| near the
largest finite value and weights, on every ISA, against the float64/longdouble oracles."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]

# huge finite gradient entries: above max/4097 (float) and max/(2^27 + 1) (double), where the
# splitting of a product's operand overflows, up to the largest finite value
HUGE = {
    np.dtype(np.float32): [8e34, 1e35, 1e37, 1e38, 3.4e38, np.finfo(np.float32).max],
    np.dtype(np.float64): [1e300, 1e305, 1e307, 1.7e308, np.finfo(np.float64).max],
}


def _rows_with_huge(dtype, n, rng):
    """Rows of n: a huge gradient entry (either sign) at every position, each followed by a row
    without one; the softmax outputs y of random logits."""
    g_rows, clean = [], []
    for h in HUGE[dtype]:
        for pos in range(n):
            g = rng.standard_normal(n)
            g[pos] = h if pos % 2 == 0 else -h
            g_rows += [g, rng.standard_normal(n)]
            clean += [False, True]
    g = np.array(g_rows).astype(dtype)
    x = (rng.standard_normal(g.shape) * 3).astype(dtype)
    return g, lk.softmax(x), np.array(clean)


@pytest.mark.parametrize("n", [1, 2, 4, 7, 8, 17, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_backward_huge_finite_gradient(isa, dtype, n):
    rng = np.random.default_rng([91, n, int(dtype == np.float64)])
    g, y, clean = _rows_with_huge(dtype, n, rng)
    got = lk.softmax_backward(g, y)
    exact = oracle.softmax_backward(g, y)
    assert np.isfinite(exact).all()
    assert np.isfinite(got).all(), np.argwhere(~np.isfinite(got))[:5]
    # the absolute error scales with the row's Σ|g·y| (the sum that cancels): within 16 units of
    # it, and within the gradient bound where no cancellation is involved
    w = oracle.work_dtype(dtype)
    eps = float(np.finfo(dtype).eps)
    scale = np.abs(g.astype(w) * y.astype(w)).sum(-1, keepdims=True).astype(np.float64)
    ae = np.abs(got.astype(w) - exact.astype(w)).astype(np.float64)
    err = np.minimum(oracle.grad_errors(got, exact, dtype), ae / (16 * eps * scale))
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err.max() <= 1, (worst, g[worst[0]], got[worst], exact[worst])
    # the ordinary rows have the bits they have alone
    alone = lk.softmax_backward(g[clean], y[clean])
    np.testing.assert_array_equal(got[clean].view(np.uint8), alone.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_backward_huge_matches_fma_isas(isa, dtype):
    """A huge gradient against a softmax output: the ISAs without FMA give the FMA ISAs'
    (exact-product) result."""
    y = lk.softmax(dtype.type([0, 1, 2, 3]).astype(dtype))
    big = 1e38 if dtype == np.float32 else 1e305
    got = lk.softmax_backward(np.array([big, 0, 0, 0], dtype), y)
    exact = oracle.softmax_backward(np.array([big, 0, 0, 0], dtype), y)
    assert oracle.ulp_errors(got, exact, dtype).max() <= 4, (got, exact)


@pytest.mark.parametrize("which", [np.inf, -np.inf])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_row_backward_infinite_gradient_is_nan_row(isa, dtype, which):
    """An infinite gradient entry makes its row NaN (the entry's own g - Σ is inf - inf), in both
    row backward functions and at every position; the other rows keep their bits."""
    n = 9
    rng = np.random.default_rng([92, int(dtype == np.float64)])
    x = rng.standard_normal((2 * n, n)).astype(dtype)
    g = rng.standard_normal((2 * n, n)).astype(dtype)
    for pos in range(n):
        g[2 * pos, pos] = which
    bad = np.zeros(2 * n, bool)
    bad[0::2] = True
    for fwd, bwd in [(lk.softmax, lk.softmax_backward), (lk.log_softmax, lk.log_softmax_backward)]:
        y = fwd(x)
        got = bwd(g, y)
        assert np.isnan(got[bad]).all()
        alone = bwd(g[~bad], y[~bad])
        assert np.isfinite(alone).all()
        np.testing.assert_array_equal(got[~bad].view(np.uint8), alone.view(np.uint8))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bce_weighted_huge_logits_finite(isa, dtype, smoothing):
    """BCE with pos_weight > 1 > weight and |x| near the largest finite value: the loss is finite
    and correct wherever the exact loss is representable (the product pos_weight·|x| alone is not),
    at every lane position; the gradient is correct too."""
    big = np.finfo(dtype).max
    xs = np.array(
        [-big, -0.9 * big, -3e38 if dtype == np.float32 else -1e308, big, 0.8 * big], dtype
    )
    n = 19
    rng = np.random.default_rng([93, int(dtype == np.float64)])
    for xv in xs:
        for pos in range(n):
            x = rng.standard_normal(n).astype(dtype)
            x[pos] = xv
            y = rng.uniform(0, 1, n).astype(dtype)
            y[pos] = 1.0 if xv < 0 else 0.0
            pw = rng.uniform(0.5, 3, n).astype(dtype)
            w = rng.uniform(0.1, 3, n).astype(dtype)
            pw[pos], w[pos] = 2.5, 0.3  # w·P·|x| representable, P·|x| not
            kw = {"weight": w, "pos_weight": pw, "label_smoothing": smoothing}
            loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none", **kw)
            ol = oracle.bce_with_logits(x, y, reduction="none", **kw)
            og, scale = oracle.bce_with_logits_grad(x, y, reduction="none", with_scale=True, **kw)
            assert np.isfinite(loss).all(), (xv, pos, loss)
            err = oracle.ulp_errors(loss, ol, dtype)
            assert err.max() <= registry.LOSS_BOUNDS[dtype], (xv, pos, loss, ol)
            assert oracle.grad_errors(grad, og, dtype, scale).max() <= 1, (xv, pos)
            alone = lk.binary_cross_entropy_with_logits(
                x[pos : pos + 1],
                y[pos : pos + 1],
                reduction="none",
                weight=w[pos : pos + 1],
                pos_weight=pw[pos : pos + 1],
                label_smoothing=smoothing,
            )
            np.testing.assert_array_equal(loss[pos : pos + 1].view(np.uint8), alone.view(np.uint8))


@pytest.mark.parametrize("scale", [4, 6])
def test_softmax_float32_bound_ordinary_rows(isa, scale):
    """float32 softmax within its 4-ulp bound (docs/numerics.md, "The bounds") on ordinary
    rows, on every ISA, including those without FMA (rows of 1100 from N(0, 4²): row 4362 of seed 0
    is the worst one known)."""
    rng = np.random.default_rng(0)
    batches = [rng.normal(0, scale, (4363, 1100)).astype(np.float32)]
    rng = np.random.default_rng([94, scale])
    for n in [17, 33, 63, 64, 65, 100, 130]:
        batches.append((rng.standard_normal((200_000 // n, n)) * scale).astype(np.float32))
    for x in batches:
        got = lk.softmax(x)
        exact = oracle.softmax(x)
        err = oracle.ulp_errors(got, exact, np.float32)
        assert err.max() <= registry.BOUNDS["softmax"][np.dtype(np.float32)], oracle.worst_report(
            x, got, exact, np.float32, err, row_wise=True
        )
