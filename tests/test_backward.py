"""Backward rules: against central finite differences of the forward functions (float64), and
against the oracle formulas (float32 and float64) with docs/numerics.md's gradient bounds
("The bounds"; tests/budgets.py)."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry
from budgets import assert_within_budget

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]


def _rng(*k):
    return np.random.default_rng([31337, *k])


# ----------------------------------------------------------------------------- finite differences

# Not oracle comparisons (those are below): a central difference with step 1e-5 carries a
# truncation error of about h² and a rounding error of about eps/h, so these tolerances are the
# difference's, far above the gradient budget.


def _fd_rowwise(forward, x, g, h=1e-5):
    """d/dx_j of sum_i g_i forward(x)_i by central differences, for each row of x (float64)."""
    rows, n = x.shape
    out = np.empty_like(x)
    eye = np.eye(n) * h
    for r in range(rows):
        xp = x[r][None, :] + eye  # row j: x + h e_j
        xm = x[r][None, :] - eye
        out[r] = (forward(xp) @ g[r] - forward(xm) @ g[r]) / (2 * h)
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 33])
def test_softmax_backward_finite_differences(isa, n):
    rng = _rng(1, n)
    x = rng.standard_normal((4, n)) * 3
    g = rng.standard_normal((4, n))
    got = lk.softmax_backward(g, lk.softmax(x))
    fd = _fd_rowwise(lk.softmax, x, g)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 33])
def test_log_softmax_backward_finite_differences(isa, n):
    rng = _rng(2, n)
    x = rng.standard_normal((4, n)) * 3
    g = rng.standard_normal((4, n))
    got = lk.log_softmax_backward(g, lk.log_softmax(x))
    fd = _fd_rowwise(lk.log_softmax, x, g)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_sigmoid_backward_finite_differences(isa):
    rng = _rng(3)
    x = np.concatenate([rng.standard_normal(500) * 5, [0.0, -30.0, 30.0, 700.0, -700.0]])
    g = rng.standard_normal(x.size)
    h = 1e-5
    fd = g * (lk.sigmoid(x + h) - lk.sigmoid(x - h)) / (2 * h)
    np.testing.assert_allclose(lk.sigmoid_backward(g, lk.sigmoid(x)), fd, rtol=1e-6, atol=1e-10)


def test_log_sigmoid_backward_finite_differences(isa):
    rng = _rng(4)
    x = np.concatenate([rng.standard_normal(500) * 5, [0.0, -30.0, 30.0, 700.0, -700.0, -1e4]])
    g = rng.standard_normal(x.size)
    h = 1e-5
    fd = g * (lk.log_sigmoid(x + h) - lk.log_sigmoid(x - h)) / (2 * h)
    np.testing.assert_allclose(lk.log_sigmoid_backward(g, x), fd, rtol=1e-6, atol=1e-10)


# ----------------------------------------------------------------------------- oracle formulas


def _assert_grad(name, got, exact, dtype, inputs, scale=None):
    """The gradient budget; on failure, also the inputs at the worst element."""
    try:
        assert_within_budget(got, exact, budget="gradient", dtype=dtype, scale=scale, what=name)
    except AssertionError as e:
        err = oracle.grad_errors(got, exact, dtype, scale)
        i = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), err.shape)
        detail = ", ".join(f"{k}={np.asarray(v)[i[: np.ndim(v)]]!r}" for k, v in inputs.items())
        raise AssertionError(f"{e}; {detail}") from None


def _lsb_scale(g, y):
    return registry.BY_NAME["log_softmax_backward"].grad_scale(g, y)


def _row_cases(dtype, seed):
    rng = _rng(5, seed, int(dtype == np.float64))
    for n in list(range(1, 41)) + [1000]:
        for scale in (1.0, 10.0):
            x = rng.standard_normal((6, n)) * scale
            x[0, 0] += 40  # a confident row: y ~ (1, tiny, ...)
            g = rng.standard_normal((6, n))
            yield x, g.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_backward_vs_oracle(isa, dtype):
    for x, g in _row_cases(dtype, 1):
        y = lk.softmax(x.astype(dtype))
        got = lk.softmax_backward(g, y)
        assert got.dtype == dtype and got.shape == y.shape
        _assert_grad(
            "softmax_backward", got, oracle.softmax_backward(g, y), dtype, {"g_row": g, "y_row": y}
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_softmax_backward_vs_oracle(isa, dtype):
    for x, g in _row_cases(dtype, 2):
        y = lk.log_softmax(x.astype(dtype))
        got = lk.log_softmax_backward(g, y)
        assert got.dtype == dtype and got.shape == y.shape
        exact = oracle.log_softmax_backward(g, y)
        # g - exp(y)·Σg: exp(y) is rounded once in the working precision, so the result is held to
        # the gradient bound or to 2 ulp of the product it subtracts, whichever is larger (the
        # registry's gradient scale of log_softmax_backward, docs/numerics.md)
        _assert_grad(
            "log_softmax_backward", got, exact, dtype, {"g_row": g, "y_row": y}, _lsb_scale(g, y)
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_sigmoid_backward_vs_oracle(isa, dtype):
    rng = _rng(6, int(dtype == np.float64))
    x = np.concatenate([rng.standard_normal(5000) * 10, np.linspace(-120, 120, 2001)])
    x = x.astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    y = lk.sigmoid(x)
    got = lk.sigmoid_backward(g, y)
    assert got.dtype == dtype
    _assert_grad("sigmoid_backward", got, oracle.sigmoid_backward(g, y), dtype, {"g": g, "y": y})


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_sigmoid_backward_vs_oracle(isa, dtype):
    rng = _rng(7, int(dtype == np.float64))
    x = np.concatenate(
        [
            rng.standard_normal(5000) * 10,
            np.linspace(-800, 800, 4001),
            [np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38],
        ]
    )
    x = x.astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    with np.errstate(all="raise"):
        got = lk.log_sigmoid_backward(g, x)
    assert got.dtype == dtype
    _assert_grad(
        "log_sigmoid_backward", got, oracle.log_sigmoid_backward(g, x), dtype, {"g": g, "x": x}
    )


# ----------------------------------------------------------------------------- layout, axis, out


@pytest.mark.parametrize(
    "func", [registry.BY_NAME[b].of for b in registry.names("backward", rowwise=True)]
)
def test_row_backward_axis_strides_out(isa, func):
    rng = _rng(8)
    x = rng.standard_normal((5, 6, 7))
    g = rng.standard_normal(x.shape)
    back = getattr(lk, f"{func}_backward")
    fwd = getattr(lk, func)
    for axis in (0, 1, 2, -1):
        y = fwd(x, axis=axis)
        got = back(g, y, axis=axis)
        ref = np.moveaxis(
            back(
                np.ascontiguousarray(np.moveaxis(g, axis, -1)),
                np.ascontiguousarray(np.moveaxis(y, axis, -1)),
            ),
            -1,
            axis,
        )
        np.testing.assert_array_equal(got, ref)
    y = fwd(x)
    # strided / reversed inputs
    got = back(g[:, ::-1, ::2], y[:, ::-1, ::2].copy())
    want = back(np.ascontiguousarray(g[:, ::-1, ::2]), y[:, ::-1, ::2].copy())
    np.testing.assert_array_equal(got, want)
    # out=, including out=grad in place
    out = np.empty_like(g)
    assert back(g, y, out=out) is out
    np.testing.assert_array_equal(out, back(g, y))
    g2 = g.copy()
    assert back(g2, y, out=g2) is g2
    np.testing.assert_array_equal(g2, back(g, y))
    # out= and in place against the oracle, not only against the out-of-place call
    exact = getattr(oracle, f"{func}_backward")(g, y)
    scale = _lsb_scale(g, y) if func == "log_softmax" else None
    _assert_grad(f"{func}_backward out=", out, exact, g.dtype, {"g": g, "y": y}, scale)
    _assert_grad(f"{func}_backward in place", g2, exact, g.dtype, {"g": g, "y": y}, scale)
    # broadcasting grad against y (the same upstream gradient for every row)
    got = back(g[0, 0], y)
    np.testing.assert_array_equal(got, back(np.broadcast_to(g[0, 0], y.shape).copy(), y))


@pytest.mark.parametrize("func", registry.names("backward", rowwise=False))
def test_elementwise_backward_broadcast_and_out(isa, func):
    rng = _rng(9)
    a = rng.standard_normal((4, 9))
    b = lk.sigmoid(rng.standard_normal((4, 9)))
    f = getattr(lk, func)
    np.testing.assert_array_equal(f(a[0], b), f(np.broadcast_to(a[0], b.shape).copy(), b))
    np.testing.assert_array_equal(f(2.0, b), f(np.full(b.shape, 2.0), b))
    out = np.empty((4, 9))
    assert f(a, b, out=out) is out
    np.testing.assert_array_equal(out, f(a, b))
    exact = getattr(oracle, func)(a, b)
    _assert_grad(f"{func} out=", out, exact, out.dtype, {"a": a, "b": b})
    a2 = a.copy()
    assert f(a2, b, out=a2) is a2  # in place over the upstream gradient
    _assert_grad(f"{func} in place", a2, exact, a2.dtype, {"a": a, "b": b})
    np.testing.assert_array_equal(
        f(a[:, ::-2], b[:, ::-2]), f(a[:, ::-2].copy(), b[:, ::-2].copy())
    )
    r16 = f(a.astype(np.float16), b.astype(np.float16))
    assert r16.dtype == np.float16
    np.testing.assert_array_equal(
        r16,
        f(a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32)).astype(
            np.float16
        ),
    )


def test_row_backward_rejects_0d(isa):
    with pytest.raises(ValueError, match="grad"):
        lk.softmax_backward(np.float64(1.0), np.float64(1.0))
