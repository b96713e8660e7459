"""Temperature on the cross-entropy losses (issue 16, item 7): the loss of z = logits/T computed
inside the kernels, the gradient with respect to the raw logits (dL/dx = (dL/dz)/T) and
grad_hess's Hessian (d²L/dx² = (d²L/dz²)/T²), against the oracle of the exact x/T
(tests/oracle.py, the division in the work dtype) with the bounds of tests/registry.py, with every
option of the losses, on every ISA. Shared checks and test data: tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from logitkit import multiclass
from loss_cases import (
    CE_KINDS,
    F32,
    F64,
    LAYOUTS,
    REDUCTIONS,
    _seed,
    assert_fd_close,
    ce_case,
    check_grad,
    check_loss,
    dtypes,
    fd_grad,
)

TEMPS = [0.37, 2.5]


def _ce_check(x, target, kw, dtype, isa, reduction, T, name):
    with np.errstate(all="raise"):
        got = lk.cross_entropy(x, target, reduction=reduction, temperature=T, **kw)
        got2, grad = lk.cross_entropy_with_grad(x, target, reduction=reduction, temperature=T, **kw)
    exact = O.cross_entropy(x, target, reduction=reduction, temperature=T, **kw)
    if reduction != "none" and abs(float(exact)) < np.finfo(dtype).tiny:
        reduction = "none"  # a sum below the dtype's normal range: its absolute (ulp) bound
    check_loss(name, got, exact, dtype, isa, reduction)
    check_loss(name + " (with grad)", got2, exact, dtype, isa, reduction)
    eg, scale = O.cross_entropy_grad(
        x, target, reduction=reduction, temperature=T, with_scale=True, **kw
    )
    check_grad(name + " grad", grad, eg, dtype, isa, scale)


@dtypes
@pytest.mark.parametrize("T", TEMPS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_cross_entropy_temperature_options(isa, dtype, T, reduction, kind, layout):
    """Every layout (class axis last, 1 of NCHW, first) and target kind, with class weights,
    smoothing and sample weights in turn, against the oracle at x/T."""
    for weighted, eps, sw in [(False, 0.0, False), (True, 0.1, False), (True, 0.0, True)]:
        seed = _seed("ce-T", dtype.name, T, reduction, kind, layout, weighted, eps, sw)
        x, target, kw = ce_case(layout, kind, dtype, weighted, eps, sw, seed)
        _ce_check(x, target, kw, dtype, isa, reduction, T, f"cross_entropy T={T} {kind} {layout}")


@dtypes
@pytest.mark.parametrize(
    "T", [1e-3, 0.999999, 1.0000001, 7.0, 1e3, 1e-30, 1e30, 3e-300, 2.0**-1000]
)
def test_cross_entropy_temperature_extremes(isa, dtype, T):
    """Temperatures near 1, small and large, and those whose float pair or reciprocal leaves the
    lane type's range (the wide-type rows); confident rows, -inf logits, a label at -inf."""
    if dtype == F32 and T < 1e-38:  # float32 stand-ins: x/T in range, and 1/T subnormal (wide)
        T = 2.0**-118 if T > 1e-301 else 1e38
    rng = np.random.default_rng(_seed("ce-T-ext", dtype.name, T))
    x = rng.normal(0, 3, (7, 21))
    x[0] *= 30
    x[1, 3] = -np.inf
    x[2, :] = 0.0  # all equal: uniform
    x = x.astype(dtype)
    t = rng.integers(0, 21, 7)
    t[0] = int(np.argmax(x[0]))
    for eps in (0.0, 0.2):
        for red in ("none", "sum"):
            _ce_check(x, t, {"label_smoothing": eps}, dtype, isa, red, T, f"T={T} eps={eps}")


@dtypes
def test_cross_entropy_temperature_overflowing_difference(isa, dtype):
    """x - m overflows the lane type (a finite max and a finite min of opposite huge signs): the
    wide-type rows, at T = 1e10 where the scaled logits are ordinary numbers."""
    big = np.finfo(dtype).max
    x = np.array([[big * 0.75, -big * 0.75, 0.0, 1.0]], dtype)
    T = float(big) / 1e3
    for t in ([0], [1], [2]):
        _ce_check(x, np.array(t), {}, dtype, isa, "none", T, f"overflow label {t}")


@dtypes
def test_cross_entropy_temperature_cancelling_gradient(isa, dtype):
    """Smoothing with 'sum' makes p·Σa - a_c cancel (the double-length fix-up of
    ce_accurate.hpp, here with the temperature inside its difference)."""
    C = 40
    x = np.zeros((3, C))
    x[:, 0] = np.log(0.9 * (C - 1) / 0.1) * 2.5  # at T = 2.5: p_0 = 0.9
    x = x.astype(dtype)
    t = np.array([0, 0, 5])
    for eps in (0.0, 0.3, 1.0):
        _ce_check(x, t, {"label_smoothing": eps}, dtype, isa, "sum", 2.5, f"cancel eps={eps}")
        y = np.full((3, C), 1.0 / C, dtype)
        _ce_check(x, y, {"label_smoothing": eps}, dtype, isa, "sum", 2.5, f"cancel soft eps={eps}")


@dtypes
@pytest.mark.parametrize("T", TEMPS)
def test_cross_entropy_temperature_layouts_out_threads(isa, dtype, T):
    """Strided logits, out= (a separate array and the logits themselves), several threads, and
    the small-call shape: the same bits as the contiguous call, which meets the oracle."""
    rng = np.random.default_rng(_seed("ce-T-lay", dtype.name, T))
    base = rng.normal(0, 4, (300, 2 * 37)).astype(dtype)
    xs = base[:, ::2]  # strided rows
    x = np.ascontiguousarray(xs)
    t = rng.integers(0, 37, 300)
    ref_l, ref_g = lk.cross_entropy_with_grad(x, t, temperature=T, label_smoothing=0.05)
    _ce_check(x, t, {"label_smoothing": 0.05}, dtype, isa, "mean", T, "contiguous")
    l1, g1 = lk.cross_entropy_with_grad(xs, t, temperature=T, label_smoothing=0.05)
    out = np.empty_like(x)
    l2, g2 = lk.cross_entropy_with_grad(x, t, temperature=T, label_smoothing=0.05, out=out)
    xi = x.copy()
    l3, g3 = lk.cross_entropy_with_grad(xi, t, temperature=T, label_smoothing=0.05, out=xi)
    old = lk.get_num_threads()
    try:
        lk.set_num_threads(2)
        big = np.tile(x, (40, 1))
        tb = np.tile(t, 40)
        lb, gb = lk.cross_entropy_with_grad(big, tb, temperature=T, reduction="none")
        lk.set_num_threads(1)
        lb1, gb1 = lk.cross_entropy_with_grad(big, tb, temperature=T, reduction="none")
    finally:
        lk.set_num_threads(old)
    assert g2 is out and g3 is xi
    for a, b in [(l1, ref_l), (l2, ref_l), (l3, ref_l), (lb, lb1)]:
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    for a, b in [(g1, ref_g), (g2, ref_g), (g3, ref_g), (gb, gb1)]:
        assert a.tobytes() == b.tobytes()
    check_loss(
        "threads", lb, O.cross_entropy(big, tb, reduction="none", temperature=T), dtype, isa, "none"
    )
    # the small-call shape (one row of 10) against the oracle too
    _ce_check(x[:1, :10], t[:1] % 10, {}, dtype, isa, "mean", T, "small call")


def test_cross_entropy_temperature_float16():
    """float16 logits are computed in float32 at the same temperature."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (5, 9)).astype(np.float16)
    t = rng.integers(0, 9, 5)
    got = lk.cross_entropy(x, t, temperature=1.7, reduction="none")
    ref = lk.cross_entropy(x.astype(np.float32), t, temperature=1.7, reduction="none")
    np.testing.assert_allclose(np.asarray(got, np.float64), ref, rtol=1e-3)


def test_cross_entropy_temperature_finite_differences():
    """One float64 sanity check of the chain rule: the gradient is with respect to the raw
    logits."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 2, (4, 6))
    t = np.array([0, 3, 5, 1])
    w = np.array([0.5, 1, 2, 1, 1, 0.7])
    T = 0.6
    _, g = lk.cross_entropy_with_grad(x, t, temperature=T, weight=w, label_smoothing=0.1)
    fd = fd_grad(lambda v: lk.cross_entropy(v, t, temperature=T, weight=w, label_smoothing=0.1), x)
    assert_fd_close(g, fd, "cross_entropy temperature")


@dtypes
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_grad_hess_multiclass_temperature(isa, dtype, kind):
    """grad_hess: (dL/dz)/T and (d²L/dz²)/T² against the oracle, with weights and smoothing."""
    rng = np.random.default_rng(_seed("gh-T", dtype.name, kind))
    x, target, kw = ce_case("nchw", kind, dtype, True, 0.1, True, _seed("gh", kind))
    kw.pop("axis")
    for T in TEMPS:
        g, h = lk.grad_hess(x, target, family="multiclass", axis=1, temperature=T, **kw)
        eg, eh, s = O.grad_hess(
            x, target, family="multiclass", axis=1, temperature=T, with_scale=True, **kw
        )
        check_grad("grad_hess T grad", g, eg, dtype, isa, s)
        check_grad("grad_hess T hess", h, eh, dtype, isa, s / T)
        g2, h2 = multiclass.grad_hess(x, target, axis=1, temperature=T, **kw)
        assert g2.tobytes() == g.tobytes() and h2.tobytes() == h.tobytes()
    del rng


@dtypes
def test_multiclass_temperature(isa, dtype):
    """multiclass.loss / loss_with_grad take temperature; a MultiClass holding T uses it in
    .loss, .loss_with_grad and .grad_hess (a fitted T gives the calibrated NLL, the mean NLL of
    proba at T)."""
    rng = np.random.default_rng(_seed("mc-T", dtype.name))
    x = (rng.normal(0, 1, (200, 5)) * 4).astype(dtype)
    t = np.where(rng.random(200) < 0.7, np.argmax(x, 1), rng.integers(0, 5, 200))
    T = 1.9
    check_loss(
        "multiclass.loss T",
        multiclass.loss(x, t, temperature=T),
        O.cross_entropy(x, t, temperature=T),
        dtype,
        isa,
        "mean",
    )
    mc = multiclass.MultiClass(temperature=T)
    assert mc.loss(x, t).tobytes() == multiclass.loss(x, t, temperature=T).tobytes()
    l1, g1 = mc.loss_with_grad(x, t)
    l2, g2 = multiclass.loss_with_grad(x, t, temperature=T)
    assert l1.tobytes() == l2.tobytes() and g1.tobytes() == g2.tobytes()
    check_grad("MultiClass T grad", g1, O.cross_entropy_grad(x, t, temperature=T), dtype, isa)
    h1 = mc.grad_hess(x, t)
    h2 = lk.grad_hess(x, t, family="multiclass", temperature=T)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(h1, h2))
    # the calibrated NLL: a fitted T, and the loss equals the mean -log proba at T
    fitted = multiclass.MultiClass().fit_temperature(x.astype(np.float64), t)
    p = fitted.proba(x.astype(np.float64))
    nll = -np.mean(np.log(p[np.arange(200), t]))
    np.testing.assert_allclose(fitted.loss(x.astype(np.float64), t), nll, rtol=1e-12)
    # and it is the minimum: T a little off gives a larger loss
    for f in (0.9, 1.1):
        assert multiclass.loss(x.astype(np.float64), t, temperature=fitted.temperature * f) > nll


@pytest.mark.parametrize(
    "bad, exc",
    [
        (0.0, ValueError),
        (-1.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (True, TypeError),
        ("2", TypeError),
        (np.array([1.0, 2.0]), TypeError),
    ],
)
def test_cross_entropy_bad_temperature(bad, exc):
    x = np.zeros((2, 3))
    t = np.array([0, 1])
    for fn in (
        lambda: lk.cross_entropy(x, t, temperature=bad),
        lambda: lk.cross_entropy_with_grad(x, t, temperature=bad),
        lambda: lk.cross_entropy(x, np.full((2, 3), 1 / 3), temperature=bad),
        lambda: multiclass.loss(x, t, temperature=bad),
        lambda: lk.grad_hess(x, t, family="multiclass", temperature=bad),
    ):
        with pytest.raises(exc, match="^temperature: "):
            fn()


def test_cross_entropy_temperature_one_is_plain(isa):
    """T = 1 (float or int) gives the bits of the call without it, on both paths."""
    rng = np.random.default_rng(5)
    for shape in [(1, 10), (300, 37)]:
        for dt in (F32, F64):
            x = rng.normal(0, 3, shape).astype(dt)
            t = rng.integers(0, shape[1], shape[0])
            a = lk.cross_entropy_with_grad(x, t, label_smoothing=0.1)
            for one in (1.0, 1):
                b = lk.cross_entropy_with_grad(x, t, label_smoothing=0.1, temperature=one)
                assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
