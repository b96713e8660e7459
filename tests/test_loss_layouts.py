"""Loss layouts: the class axis anywhere, label dtypes, out= (separate, in place, strided),
n-d inputs, empty batches, and the paths a call may take (the one-pass BCE reduction, the small
cross-entropy call) giving the results of the general path. Shared checks and test data:
tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from logitkit import _core
from loss_cases import (
    F64,
    REDUCTIONS,
    _seed,
    ce_case,
    check_grad,
    check_items,
    check_loss,
    check_reduced,
    dtypes,
    make_soft,
)


def test_class_axis_positions_agree(isa):
    """The class axis anywhere gives the loss of the moved array, bit for bit, and the gradient in
    the input's layout."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (3, 4, 5, 6))
    for axis in range(4):
        t = rng.integers(0, x.shape[axis], np.delete(x.shape, axis))
        moved = np.moveaxis(x, axis, -1)
        w = rng.uniform(0.5, 1.5, x.shape[axis])
        kw = {"weight": w, "label_smoothing": 0.05, "reduction": "none"}
        with np.errstate(all="raise"):
            a, ga = lk.cross_entropy_with_grad(x, t, axis=axis, **kw)
            b, gb = lk.cross_entropy_with_grad(np.ascontiguousarray(moved), t, axis=-1, **kw)
            c = lk.cross_entropy(x, t, axis=axis - 4, **kw)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(ga, np.moveaxis(gb, -1, axis))


def test_label_dtypes_and_ignore_index_in_range(isa):
    x = np.random.default_rng(3).normal(0, 2, (8, 5))
    t = np.array([0, 1, 2, 3, 4, 4, 3, 2])
    ref = lk.cross_entropy(x, t, reduction="none")
    for dt in (np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64):
        np.testing.assert_array_equal(lk.cross_entropy(x, t.astype(dt), reduction="none"), ref)
    # ignore_index may be a class: those items drop out of the loss and the mean
    got = lk.cross_entropy(x, t, ignore_index=4)
    keep = t != 4
    check_reduced(
        "cross_entropy ignore_index=4", got, O.cross_entropy(x, t, ignore_index=4), F64, isa
    )
    _, g = lk.cross_entropy_with_grad(x, t, ignore_index=4)
    assert np.all(g[~keep] == 0)


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("layout", ["last", "nchw", "first"])
@dtypes
def test_cross_entropy_grad_out(isa, dtype, layout, kind):
    x, target, kw = ce_case(layout, kind, dtype, True, 0.1, True, _seed("out", layout, kind))
    with np.errstate(all="raise"):
        loss, grad = lk.cross_entropy_with_grad(x, target, **kw)
        buf = np.full_like(x, np.nan)
        loss_b, g_b = lk.cross_entropy_with_grad(x, target, out=buf, **kw)
        assert g_b is buf
        np.testing.assert_array_equal(buf, grad)
        assert loss_b == loss
        # in place: the gradient overwrites the logits
        xi = x.copy()
        loss_i, g_i = lk.cross_entropy_with_grad(xi, target, out=xi, **kw)
        assert g_i is xi
        # in place may take another path (the max-relative one, unless the row is first copied
        # for the cancellation fix-up): not the out-of-place bits, but within the bounds
        exact = O.cross_entropy(x, target, **kw)
        eg, scale = O.cross_entropy_grad(x, target, with_scale=True, **kw)
        check_loss("cross_entropy out=", loss, exact, dtype, isa, "mean")
        check_grad("cross_entropy out= grad", grad, eg, dtype, isa, scale)
        check_loss("cross_entropy in place", loss_i, exact, dtype, isa, "mean")
        check_grad("cross_entropy in place grad", xi, eg, dtype, isa, scale)
        # a non-contiguous out
        big = np.zeros(x.shape + (2,), dtype)
        lk.cross_entropy_with_grad(x, target, out=big[..., 1], **kw)
        np.testing.assert_array_equal(big[..., 1], grad)
        assert np.all(big[..., 0] == 0)


@pytest.mark.parametrize("shape", [(24, 37), (2, 12, 37)])
@dtypes
def test_cross_entropy_in_place_with_declined_rows(isa, dtype, shape):
    """out=logits with rows that the two-pass direct path declines (a logit outside exp's range,
    a -inf) between ordinary and confident ones: the direct path's first pass writes exps over
    the gradient row, so a declined row must not have been computed in place. (N, C) logits take
    the small call (a block of rows at a time), three dimensions the gufunc loop."""
    rng = np.random.default_rng(_seed("in place declined", dtype.name, *shape))
    x = rng.normal(0, 3, shape)
    t = rng.integers(0, shape[-1], shape[:-1])
    xf, tf = x.reshape(-1, shape[-1]), t.reshape(-1)
    xf[1, 5] = 200.0  # outside exp's range
    xf[2, 0] = -np.inf
    xf[3, 7], tf[3] = 40.0, 7  # confident, the label on the max
    xf[4, 2], tf[4] = 40.0, 0  # confident, the label elsewhere
    xf[5, 9] = -150.0
    x = x.astype(dtype)
    for reduction in ("none", "mean"):
        xi = x.copy()
        with np.errstate(all="raise"):
            loss, grad = lk.cross_entropy_with_grad(xi, t, reduction=reduction, out=xi)
        assert grad is xi
        exact = O.cross_entropy(x, t, reduction=reduction)
        eg, scale = O.cross_entropy_grad(x, t, reduction=reduction, with_scale=True)
        check_loss("cross_entropy in place, declined rows", loss, exact, dtype, isa, reduction)
        check_grad("cross_entropy in place, declined rows grad", xi, eg, dtype, isa, scale)


@dtypes
def test_cross_entropy_gradient_rows_sharing_memory(isa, dtype):
    """An out= whose rows share one row of memory (stride 0 along the batch: NumPy does not copy
    an output that overlaps only itself). Its content is then some row's gradient, but every loss
    is the row's own, as the loss alone gives it: the gradient passes store each row's exps there,
    so a row must not have its sum's exps overwritten by another row's before its own pass (one
    thread: rows on two threads would write the shared row at once)."""
    rng = np.random.default_rng(_seed("shared grad rows", dtype.name))
    N, C = 70, 40
    x = rng.normal(0, 3, (N, C))
    t = rng.integers(0, C, N)
    x[::3, 5], t[::3] = 30.0, 5  # confident rows, the label on the max (their loss sums the others)
    x = x.astype(dtype)
    shared = np.lib.stride_tricks.as_strided(np.zeros(C, dtype), (N, C), (0, dtype.itemsize))
    alone = lk.cross_entropy(x, t, reduction="none")
    threads = lk.get_num_threads()
    lk.set_num_threads(1)
    try:
        with np.errstate(all="raise"):
            for logits in (x, x[np.newaxis]):  # the small call, the gufunc loop
                out = shared if logits.ndim == 2 else shared[np.newaxis]
                loss, _ = lk.cross_entropy_with_grad(
                    logits, t.reshape(logits.shape[:-1]), reduction="none", out=out
                )
                np.testing.assert_array_equal(np.asarray(loss).reshape(N), alone)
    finally:
        lk.set_num_threads(threads)


def test_cross_entropy_negative_zero_smoothing(isa):
    """label_smoothing=-0.0 is no smoothing on every path: the small call (C-contiguous logits)
    and the gufunc loop (Fortran order) give the same gradient bits, the sign of a zero label
    entry included (p_t - 1 = -0 where p_t rounds to 1)."""
    x = np.array([[600.0, -600.0], [1.0, 2.0], [3.0, -1.0], [-600.0, 600.0]])
    t = np.array([0, 1, 0, 1])
    for eps in (-0.0, 0.0):
        _, g = lk.cross_entropy_with_grad(x, t, label_smoothing=eps)
        _, gf = lk.cross_entropy_with_grad(np.asfortranarray(x), t, label_smoothing=eps)
        _, g0 = lk.cross_entropy_with_grad(x, t)
        for other in (gf, g0):
            np.testing.assert_array_equal(g, other)
            np.testing.assert_array_equal(np.signbit(g), np.signbit(other))
    # the gufunc itself takes ε as given: -0 on every row, whether its rows come a block at a
    # time (C order) or one by one (Fortran order)
    ones = np.broadcast_to(np.ones(()), (2,))
    for eps in (-0.0, 0.0):
        args = (t, ones, 2.0, eps, 1.0, 1.0)
        _, g = _core.cross_entropy_hard_grad(np.repeat(x, 20, axis=0), np.repeat(t, 20), *args[1:])
        _, gf = _core.cross_entropy_hard_grad(
            np.asfortranarray(np.repeat(x, 20, axis=0)), np.repeat(t, 20), *args[1:]
        )
        np.testing.assert_array_equal(np.signbit(g), np.signbit(gf))
        assert np.signbit(g[0, 0]) == np.signbit(eps)  # (1-ε)·(p_t - 1) + ε·(...) = -0 + ε·0


@dtypes
def test_bce_grad_out(isa, dtype):
    rng = np.random.default_rng(11)
    x = rng.normal(0, 4, (7, 13)).astype(dtype)
    y = rng.random((7, 13)).astype(dtype)
    pw = rng.uniform(0.5, 3, 13).astype(dtype)
    with np.errstate(all="raise"):
        loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, pos_weight=pw)
        buf = np.empty_like(x)
        loss_b, g_b = lk.binary_cross_entropy_with_logits_with_grad(x, y, pos_weight=pw, out=buf)
        assert g_b is buf
        np.testing.assert_array_equal(buf, grad)
        assert loss_b == loss
        xi = x.copy()
        loss_i, g_i = lk.binary_cross_entropy_with_logits_with_grad(xi, y, pos_weight=pw, out=xi)
        assert g_i is xi
        # in place may take another path: not the out-of-place bits, but within the bounds
        exact = O.bce_with_logits(x, y, pos_weight=pw)
        eg, scale = O.bce_with_logits_grad(x, y, pos_weight=pw, with_scale=True)
        check_loss("bce_with_logits out=", loss, exact, dtype, isa, "mean")
        check_grad("bce_with_logits out= grad", grad, eg, dtype, isa, scale)
        check_loss("bce_with_logits in place", loss_i, exact, dtype, isa, "mean")
        check_grad("bce_with_logits in place grad", xi, eg, dtype, isa, scale)


BCE_WEIGHTINGS = {
    "none": lambda rng, shape, dt: {},
    "pos_weight row": lambda rng, shape, dt: {
        "pos_weight": rng.uniform(0.1, 4, shape[-1]).astype(dt)
    },
    "pos_weight (1, C)": lambda rng, shape, dt: {
        "pos_weight": rng.uniform(0.1, 4, (1, shape[-1])).astype(dt)
    },
    "pos_weight 0-d": lambda rng, shape, dt: {"pos_weight": np.asarray(2.5, dt)},
    "weight full": lambda rng, shape, dt: {"weight": rng.uniform(0, 2, shape).astype(dt)},
    "weight scalar + smoothing": lambda rng, shape, dt: {"weight": 0.5, "label_smoothing": 0.1},
    "weight (N, 1)": lambda rng, shape, dt: {"weight": rng.uniform(0, 2, (shape[0], 1)).astype(dt)},
}


@pytest.mark.parametrize("weighting", list(BCE_WEIGHTINGS))
@dtypes
def test_bce_one_pass_path(isa, dtype, weighting):
    """mean/sum of C-contiguous inputs take the one-pass path (the kernel sums the losses, in fixed
    blocks of elements, and checks the targets); the same call on Fortran-ordered copies takes the
    general path (per-element losses, then a sum). Same gradient bits; both sums within the
    reduction target of the float64 oracle. (300, 101) spans two of the one-pass path's blocks."""
    rng = np.random.default_rng(_seed("bce one pass", dtype.name, weighting))
    shape = (300, 101)
    x = rng.normal(0, 4, shape)
    x.reshape(-1)[::7] *= 10
    x = x.astype(dtype)
    y = rng.random(shape)
    y[rng.random(shape) < 0.5] = 0.0
    y[rng.random(shape) < 0.2] = 1.0
    y = y.astype(dtype)
    kw = BCE_WEIGHTINGS[weighting](rng, shape, dtype)
    xf, yf = np.asfortranarray(x), np.asfortranarray(y)
    # which path each layout takes
    assert _core.bce_reduced(x, y, None, None, 0.0, True, True, None) is not None
    # Fortran order: declined as it is (losses.py passes C-contiguous copies)
    assert _core.bce_reduced(xf, yf, None, None, 0.0, True, True, None) is None
    for reduction in ("mean", "sum"):
        loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction, **kw)
        loss_f, grad_f = lk.binary_cross_entropy_with_logits_with_grad(
            xf, yf, reduction=reduction, **kw
        )
        assert np.array_equal(grad, grad_f)
        exact = O.bce_with_logits(x, y, reduction=reduction, **kw)
        check_loss("bce_with_logits (one pass)", loss, exact, dtype, isa, reduction)
        check_loss("bce_with_logits (general)", loss_f, exact, dtype, isa, reduction)
        alone = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **kw)
        assert alone == loss
        # in place: the gradient replaces the logits
        xc = x.copy()
        loss_i, grad_i = lk.binary_cross_entropy_with_logits_with_grad(
            xc, y, reduction=reduction, out=xc, **kw
        )
        assert grad_i is xc and np.array_equal(xc, grad) and loss_i == loss
        # and so the in-place gradient is the oracle's within the bound
        eg, scale = O.bce_with_logits_grad(x, y, reduction=reduction, with_scale=True, **kw)
        check_grad("bce_with_logits (one pass) in place grad", xc, eg, dtype, isa, scale)


@dtypes
def test_bce_mean_and_sum_bits_in_every_layout(isa, dtype):
    """mean/sum of BCE with logits: the one-pass sum's bits whatever the operands' layout. Those
    it declines (Fortran order, a stride, unaligned, byte-swapped) are copied to plain arrays
    first; an unaligned or byte-swapped C-contiguous array is not one (np.ascontiguousarray
    would keep it as it is, and the general path's per-element sum would differ in its last bit)."""
    rng = np.random.default_rng(_seed("bce layouts", dtype.name))
    shape = (3, 41)
    x = (rng.normal(0, 3, shape)).astype(dtype)
    y = rng.random(shape).astype(dtype)

    def unaligned(a):
        raw = np.zeros(a.nbytes + 1, np.uint8)
        u = raw[1:].view(a.dtype).reshape(a.shape)
        u[...] = a
        return u

    layouts = {
        "fortran": np.asfortranarray,
        "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        "unaligned": unaligned,
        "byte-swapped": lambda a: a.astype(
            a.dtype.newbyteorder(">" if a.dtype.byteorder != ">" else "<")
        ),
    }
    for reduction in ("mean", "sum"):
        want = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction)
        want_g = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction)
        for name, lay in layouts.items():
            xl = lay(x)
            assert np.array_equal(xl, x)
            got = lk.binary_cross_entropy_with_logits(xl, y, reduction=reduction)
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (name, reduction)
            got_g = lk.binary_cross_entropy_with_logits_with_grad(xl, lay(y), reduction=reduction)
            assert np.asarray(got_g[0]).tobytes() == np.asarray(want_g[0]).tobytes(), name
            assert np.array_equal(got_g[1], want_g[1]), name


@dtypes
def test_empty_batch(isa, dtype):
    x = np.zeros((0, 5), dtype)
    with np.errstate(all="raise"):
        for target in (np.zeros(0, np.int64), np.zeros((0, 5), dtype)):
            assert np.isnan(lk.cross_entropy(x, target))
            assert lk.cross_entropy(x, target, reduction="sum") == 0
            assert lk.cross_entropy(x, target, reduction="none").shape == (0,)
            loss, g = lk.cross_entropy_with_grad(x, target)
            assert np.isnan(loss) and g.shape == (0, 5) and g.dtype == dtype
            loss, g = lk.cross_entropy_with_grad(x, target, reduction="none")
            assert loss.shape == (0,) and g.shape == (0, 5)
        assert np.isnan(lk.nll_loss(x, np.zeros(0, np.int64)))
        assert np.isnan(lk.binary_cross_entropy_with_logits(x, x))
        assert lk.binary_cross_entropy_with_logits(x, x, reduction="sum") == 0
        loss, g = lk.binary_cross_entropy_with_logits_with_grad(x, x, reduction="none")
        assert loss.shape == (0, 5) and g.shape == (0, 5)
        loss, g = lk.sigmoid_focal_loss_with_grad(x, x)
        assert loss.shape == (0, 5) and g.shape == (0, 5)
        assert np.isnan(lk.sigmoid_focal_loss(x, x, reduction="mean"))
        g, h = lk.grad_hess(x, np.zeros(0, np.int64), family="multiclass")
        assert g.shape == h.shape == (0, 5)
        g, h = lk.grad_hess(x, x, family="binary")
        assert g.shape == h.shape == (0, 5)


@dtypes
def test_nd_inputs(isa, dtype):
    rng = np.random.default_rng(9)
    x = rng.normal(0, 3, (2, 3, 6, 4)).astype(dtype)
    t = rng.integers(0, 6, (2, 3, 4))
    y = make_soft(x, 2, rng, dtype)
    sw = rng.uniform(0, 1, (2, 3, 4)).astype(dtype)
    for target in (t, y):
        for reduction in REDUCTIONS:
            kw = {"axis": 2, "sample_weight": sw, "label_smoothing": 0.05, "reduction": reduction}
            with np.errstate(all="raise"):
                loss, g = lk.cross_entropy_with_grad(x, target, **kw)
            check_loss(
                "cross_entropy n-d", loss, O.cross_entropy(x, target, **kw), dtype, isa, reduction
            )
            eg, scale = O.cross_entropy_grad(x, target, with_scale=True, **kw)
            check_grad("cross_entropy n-d grad", g, eg, dtype, isa, scale)
    # sample_weight broadcasts to the items' shape
    with np.errstate(all="raise"):
        a = lk.cross_entropy(x, t, axis=2, sample_weight=sw[:, :1, :], reduction="none")
    check_items(
        "cross_entropy n-d",
        a,
        O.cross_entropy(
            x, t, axis=2, sample_weight=np.broadcast_to(sw[:, :1, :], t.shape), reduction="none"
        ),
        dtype,
        isa,
    )
    yb = (rng.random(x.shape) < 0.5).astype(dtype)
    pw = rng.uniform(0.5, 2, 4).astype(dtype)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss, g = lk.binary_cross_entropy_with_logits_with_grad(
                x, yb, pos_weight=pw, reduction=reduction
            )
        check_loss(
            "bce_with_logits n-d",
            loss,
            O.bce_with_logits(x, yb, pos_weight=pw, reduction=reduction),
            dtype,
            isa,
            reduction,
        )
        eg, scale = O.bce_with_logits_grad(
            x, yb, pos_weight=pw, reduction=reduction, with_scale=True
        )
        check_grad("bce_with_logits n-d grad", g, eg, dtype, isa, scale)
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass", axis=2)
    eg, eh, scale = O.grad_hess(x, t, family="multiclass", axis=2, with_scale=True)
    check_grad("grad_hess multiclass n-d grad", g, eg, dtype, isa, scale)
    check_grad("grad_hess multiclass n-d hess", h, eh, dtype, isa, scale)


@pytest.mark.parametrize("shape", [(1, 10), (7, 3), (64, 512)])
@dtypes
def test_small_call_path_agrees_with_general(isa, dtype, shape):
    """Small C-contiguous (N, C) logits with int64 labels and no weights take one C++ call
    (register_losses.cpp, ce_hard_small); the same logits in Fortran order take the general
    gufunc path. Same kernels: identical gradients and per-item losses, reductions within 1e-6 /
    1e-13 (the small path sums in double, in order), and both against the oracle."""
    rng = np.random.default_rng(_seed("small", dtype.name, *shape))
    x = rng.normal(0, 3, shape).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[1::3] = -100  # ignored items
    for eps in (0.0, 0.1):
        for reduction in REDUCTIONS:
            kw = {"label_smoothing": eps, "reduction": reduction}
            with np.errstate(all="raise"):
                loss, grad = lk.cross_entropy_with_grad(x, t, **kw)
                loss_g, grad_g = lk.cross_entropy_with_grad(np.asfortranarray(x), t, **kw)
                loss_only = lk.cross_entropy(x, t, **kw)
                buf = np.full_like(x, np.nan)
                loss_b, grad_b = lk.cross_entropy_with_grad(x, t, out=buf, **kw)
                xi = x.copy()
                _, grad_i = lk.cross_entropy_with_grad(xi, t, out=xi, **kw)
            assert grad_b is buf and grad_i is xi
            np.testing.assert_array_equal(grad, grad_g)
            np.testing.assert_array_equal(grad_b, grad)
            assert np.array_equal(loss_b, loss, equal_nan=True)
            assert type(loss) is type(loss_g) is type(loss_only)
            if reduction == "none":
                np.testing.assert_array_equal(loss, loss_g)
                np.testing.assert_array_equal(loss_only, loss)
            exact = O.cross_entropy(x, t, **kw)
            check_loss("cross_entropy small call", loss, exact, dtype, isa, reduction)
            check_loss("cross_entropy general call", loss_g, exact, dtype, isa, reduction)
            check_loss(
                "cross_entropy small call, loss only", loss_only, exact, dtype, isa, reduction
            )
            eg, scale = O.cross_entropy_grad(x, t, with_scale=True, **kw)
            check_grad("cross_entropy small call grad", grad, eg, dtype, isa, scale)
            # in place takes another path: not the out-of-place bits, but within the bound
            check_grad("cross_entropy small call in place grad", grad_i, eg, dtype, isa, scale)
