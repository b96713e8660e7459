"""Temperature (and bias, for BCE) on the losses (issue 16, item 7): the loss of z = logits/T computed
inside the kernels, the gradient with respect to the raw logits (dL/dx = (dL/dz)/T) and
grad_hess's Hessian (d²L/dx² = (d²L/dz²)/T²), against the oracle of the exact x/T
(tests/oracle.py, the division in the work dtype) with the bounds of tests/registry.py, with every
option of the losses, on every ISA. Shared checks and test data: tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from budgets import assert_within_budget
from logitkit import multiclass, multilabel
from loss_cases import (
    BCE_SHAPES,
    CE_KINDS,
    F32,
    F64,
    LAYOUTS,
    REDUCTIONS,
    _seed,
    assert_fd_close,
    bce_case,
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
    # out= and in place against the oracle too, not only against the contiguous call
    eg, s = O.cross_entropy_grad(x, t, temperature=T, label_smoothing=0.05, with_scale=True)
    check_grad("cross_entropy T out= grad", out, eg, dtype, isa, s)
    check_grad("cross_entropy T in place grad", xi, eg, dtype, isa, s)
    # the small-call shape (one row of 10) against the oracle too
    _ce_check(x[:1, :10], t[:1] % 10, {}, dtype, isa, "mean", T, "small call")


def test_cross_entropy_temperature_float16():
    """float16 logits are computed in float32 at the same temperature."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (5, 9)).astype(np.float16)
    t = rng.integers(0, 9, 5)
    got = lk.cross_entropy(x, t, temperature=1.7, reduction="none")
    exact = O.cross_entropy(x, t, temperature=1.7, reduction="none")
    assert_within_budget(got, exact, budget="cross_entropy", dtype=np.float16, what="float16 T")


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
    x64 = x.astype(np.float64)
    fitted = multiclass.MultiClass().fit_temperature(x64, t)
    nll = O.cross_entropy(x64, t, temperature=fitted.temperature)  # mean -log softmax(x/T)[t]
    check_loss("fitted MultiClass", fitted.loss(x64, t), nll, F64, isa, "mean")
    # and it is the minimum: T a little off gives a larger loss
    for f in (0.9, 1.1):
        assert multiclass.loss(x64, t, temperature=fitted.temperature * f) > nll


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


# ----------------------------------------------------------------------------- BCE


def _bce_check(x, y, kw, dtype, isa, reduction, T, b, name, axis=-1):
    """Loss and gradient of binary_cross_entropy_with_logits at x/T + b against the oracle (T and
    b numbers or per class along axis; the oracle takes them broadcast)."""
    ax = axis % x.ndim
    Tb = T if np.ndim(T) == 0 else np.reshape(T, (-1,) + (1,) * (x.ndim - 1 - ax))
    bb = b if np.ndim(b) == 0 else np.reshape(b, (-1,) + (1,) * (x.ndim - 1 - ax))
    okw = dict(kw)
    for k in ("weight", "pos_weight"):
        if k in okw and np.ndim(okw[k]) == 1:
            okw[k] = np.reshape(okw[k], (-1,) + (1,) * (x.ndim - 1 - ax))
    with np.errstate(all="raise"):
        got = lk.binary_cross_entropy_with_logits(
            x, y, reduction=reduction, temperature=T, bias=b, axis=axis, **kw
        )
        got2, grad = lk.binary_cross_entropy_with_logits_with_grad(
            x, y, reduction=reduction, temperature=T, bias=b, axis=axis, **kw
        )
    exact = O.bce_with_logits(x, y, reduction=reduction, temperature=Tb, bias=bb, **okw)
    check_loss(name, got, exact, dtype, isa, reduction)
    check_loss(name + " (with grad)", got2, exact, dtype, isa, reduction)
    eg, scale = O.bce_with_logits_grad(
        x, y, reduction=reduction, temperature=Tb, bias=bb, with_scale=True, **okw
    )
    check_grad(name + " grad", grad, eg, dtype, isa, scale)
    return grad


@dtypes
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape_name", list(BCE_SHAPES))
def test_bce_temperature_bias_options(isa, dtype, reduction, shape_name):
    """Scalar and per-class temperature and bias, with weight (per class, per element),
    pos_weight and smoothing, every reduction, against the oracle at x/T + b."""
    C = BCE_SHAPES[shape_name][-1]
    rng = np.random.default_rng(_seed("bce-Tb", dtype.name, reduction, shape_name))
    Tc = rng.uniform(0.3, 3.0, C)
    bc = rng.normal(0, 2, C)
    for wk, pw, eps in [(None, False, 0.0), ("class", True, 0.1), ("full", True, 0.0)]:
        x, y, kw = bce_case(shape_name, dtype, wk, pw, eps, _seed(shape_name, wk, pw, eps))
        for T, b in [(2.5, 0.0), (0.37, -1.5), (Tc, bc), (1.0, bc), (Tc, 0.0)]:
            _bce_check(x, y, kw, dtype, isa, reduction, T, b, f"bce T/b {shape_name} {wk}")


@dtypes
def test_bce_temperature_bias_tails_and_specials(isa, dtype):
    """Confident elements (the sigmoid's tail, where z must be formed beyond the lane type's
    precision), infinite logits, huge and tiny temperatures, class axis first."""
    rng = np.random.default_rng(_seed("bce-tail", dtype.name))
    x = rng.uniform(-60, 60, (4, 33))
    x[0, :3] = [np.inf, -np.inf, 0.0]
    x = x.astype(dtype)
    y = (rng.random(x.shape) < 0.5).astype(dtype)
    y[:, ::5] = 0.3
    for T, b in [(1.0 / 3.0, 0.1), (0.7, 1e-3), (3.3, -2.0), (1e-3, 0.0), (1e3, 0.5)]:
        _bce_check(x, y, {}, dtype, isa, "none", T, b, f"bce tail T={T}")
    Tc = rng.uniform(0.2, 2.0, 4)
    bc = rng.normal(0, 1, 4)
    _bce_check(x, y, {"pos_weight": np.full(4, 2.0, dtype)}, dtype, isa, "none", Tc, bc, "ax0", 0)
    _bce_check(x, y, {"weight": np.full(4, 0.5, dtype)}, dtype, isa, "sum", Tc, bc, "ax0 sum", 0)


@dtypes
def test_bce_temperature_layouts_out_threads(isa, dtype):
    """Strided logits, out=, several threads: the bits of the contiguous single-thread call."""
    rng = np.random.default_rng(_seed("bce-lay", dtype.name))
    base = rng.normal(0, 5, (600, 2 * 41)).astype(dtype)
    xs = base[:, ::2]
    x = np.ascontiguousarray(xs)
    y = (rng.random(x.shape) < 0.4).astype(dtype)
    Tc, bc = rng.uniform(0.5, 2, 41), rng.normal(0, 1, 41)
    ref = lk.binary_cross_entropy_with_logits_with_grad(x, y, temperature=Tc, bias=bc)
    _bce_check(x, y, {}, dtype, isa, "mean", Tc, bc, "contiguous")
    out = np.empty_like(x)
    r1 = lk.binary_cross_entropy_with_logits_with_grad(xs, y, temperature=Tc, bias=bc)
    r2 = lk.binary_cross_entropy_with_logits_with_grad(x, y, temperature=Tc, bias=bc, out=out)
    old = lk.get_num_threads()
    try:
        lk.set_num_threads(2)
        r3 = lk.binary_cross_entropy_with_logits_with_grad(x, y, temperature=Tc, bias=bc)
    finally:
        lk.set_num_threads(old)
    assert r2[1] is out
    for r in (r1, r2, r3):
        assert np.asarray(r[0]).tobytes() == np.asarray(ref[0]).tobytes()
        assert r[1].tobytes() == ref[1].tobytes()
    # out= against the oracle too, and in place
    eg, s = O.bce_with_logits_grad(x, y, temperature=Tc, bias=bc, with_scale=True)
    check_grad("bce_with_logits T/b out= grad", out, eg, dtype, isa, s)
    xi = x.copy()
    li, gi = lk.binary_cross_entropy_with_logits_with_grad(xi, y, temperature=Tc, bias=bc, out=xi)
    assert gi is xi
    check_loss(
        "bce_with_logits T/b in place",
        li,
        O.bce_with_logits(x, y, temperature=Tc, bias=bc),
        dtype,
        isa,
        "mean",
    )
    check_grad("bce_with_logits T/b in place grad", xi, eg, dtype, isa, s)


def test_bce_temperature_finite_differences():
    rng = np.random.default_rng(12)
    x = rng.normal(0, 3, (3, 5))
    y = rng.random((3, 5))
    Tc, bc = np.array([0.5, 1, 2, 3, 0.8]), np.array([0.1, -1, 0, 2, 0.3])
    kw = {"pos_weight": np.array([1, 2, 0.5, 1, 3.0]), "label_smoothing": 0.1}
    _, g = lk.binary_cross_entropy_with_logits_with_grad(
        x, y, temperature=Tc, bias=bc, reduction="sum", **kw
    )
    fd = fd_grad(
        lambda v: lk.binary_cross_entropy_with_logits(
            v, y, temperature=Tc, bias=bc, reduction="sum", **kw
        ),
        x,
    )
    assert_fd_close(g, fd, "bce temperature/bias")


@dtypes
def test_grad_hess_binary_temperature_bias(isa, dtype):
    rng = np.random.default_rng(_seed("gh-bin", dtype.name))
    x = rng.normal(0, 8, (6, 7)).astype(dtype)
    y = (rng.random(x.shape) < 0.5).astype(dtype)
    Tc, bc = rng.uniform(0.3, 3, 7), rng.normal(0, 2, 7)
    pw = rng.uniform(0.5, 2, 7).astype(dtype)
    g, h = lk.grad_hess(x, y, family="binary", temperature=Tc, bias=bc, pos_weight=pw)
    eg, eh, s = O.grad_hess(
        x, y, family="binary", temperature=Tc, bias=bc, pos_weight=pw, with_scale=True
    )
    check_grad("grad_hess binary T/b grad", g, eg, dtype, isa, s)
    check_grad("grad_hess binary T/b hess", h, eh, dtype, isa, s / np.min(Tc))
    g2, h2 = multilabel.grad_hess(x, y, temperature=Tc, bias=bc, pos_weight=pw)
    assert g2.tobytes() == g.tobytes() and h2.tobytes() == h.tobytes()


@dtypes
def test_multilabel_temperature_bias(isa, dtype):
    """multilabel.loss / loss_with_grad / grad_hess take temperature and bias; a MultiLabel
    holding a fitted Platt scaling uses them (the calibrated BCE: the mean BCE of its proba)."""
    rng = np.random.default_rng(_seed("ml-Tb", dtype.name))
    x = rng.normal(0, 3, (300, 4)).astype(dtype)
    y = (rng.random(x.shape) < 1 / (1 + np.exp(-x / 2 - 0.3))).astype(dtype)
    ml = multilabel.MultiLabel().fit_temperature(x.astype(np.float64), y)
    assert not np.allclose(ml.temperature, 1.0)
    kw = {"temperature": ml.temperature, "bias": ml.bias}
    got = ml.loss(x, y)
    assert got.tobytes() == multilabel.loss(x, y, **kw).tobytes()
    check_loss("MultiLabel T/b", got, O.bce_with_logits(x, y, **kw), dtype, isa, "mean")
    l1, g1 = ml.loss_with_grad(x, y)
    l2, g2 = multilabel.loss_with_grad(x, y, **kw)
    assert l1.tobytes() == l2.tobytes() == got.tobytes() and g1.tobytes() == g2.tobytes()
    check_grad("MultiLabel T/b grad", g1, O.bce_with_logits_grad(x, y, **kw), dtype, isa)
    if dtype == F64:
        # not an oracle comparison (check_loss above is): the loss is the mean BCE of proba's
        # probabilities; log1p(-p) of a rounded p near 1 loses digits, hence the loose tolerance
        p = ml.proba(x)
        ref = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
        np.testing.assert_allclose(got, ref, rtol=1e-10)


@pytest.mark.parametrize(
    "kw, exc",
    [
        ({"temperature": 0.0}, ValueError),
        ({"temperature": -2.0}, ValueError),
        ({"temperature": float("nan")}, ValueError),
        ({"temperature": True}, TypeError),
        ({"temperature": np.array([1.0, 2.0])}, ValueError),  # 3 classes
        ({"temperature": np.array([1.0, 0.0, 1.0])}, ValueError),
        ({"bias": float("inf")}, ValueError),
        ({"bias": np.array([0.0, 1.0])}, ValueError),
        ({"bias": False}, TypeError),
    ],
)
def test_bce_bad_temperature_bias(kw, exc):
    x, y = np.zeros((2, 3)), np.zeros((2, 3))
    name = next(iter(kw))
    for fn in (
        lambda: lk.binary_cross_entropy_with_logits(x, y, **kw),
        lambda: lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none", **kw),
        lambda: multilabel.loss(x, y, **kw),
        lambda: lk.grad_hess(x, y, family="binary", **kw),
    ):
        with pytest.raises(exc, match=f"^{name}: "):
            fn()


def test_bce_temperature_one_bias_zero_is_plain(isa):
    """T = 1 and b = 0 (numbers or per-class arrays of ones and zeros) give the plain call's bits."""
    rng = np.random.default_rng(8)
    for shape in [(1, 10), (64, 300)]:
        for dt in (F32, F64):
            x = rng.normal(0, 4, shape).astype(dt)
            y = (rng.random(shape) < 0.3).astype(dt)
            for red in REDUCTIONS:
                a = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=red)
                for T, b in [(1.0, 0.0), (1, None), (np.ones(shape[1]), np.zeros(shape[1]))]:
                    r = lk.binary_cross_entropy_with_logits_with_grad(
                        x, y, reduction=red, temperature=T, bias=b
                    )
                    assert np.asarray(r[0]).tobytes() == np.asarray(a[0]).tobytes()
                    assert r[1].tobytes() == a[1].tobytes()


@dtypes
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_temperature_bias(isa, dtype, reduction):
    """sigmoid_focal_loss at x/T + b (per class along the last axis and along axis 0), gradient
    with respect to the raw logits, against the oracle."""
    rng = np.random.default_rng(_seed("focal-Tb", dtype.name, reduction))
    x = rng.normal(0, 6, (6, 11)).astype(dtype)
    y = (rng.random(x.shape) < 0.3).astype(dtype)
    for axis, C in ((-1, 11), (0, 6)):
        Tc, bc = rng.uniform(0.3, 3, C), rng.normal(0, 1, C)
        shp = (-1,) if axis == -1 else (-1, 1)
        for T, b in [(0.6, 0.4), (Tc, bc)]:
            kw = {"temperature": T, "bias": b, "axis": axis, "reduction": reduction}
            got = lk.sigmoid_focal_loss(x, y, **kw)
            l2, g = lk.sigmoid_focal_loss_with_grad(x, y, **kw)
            okw = {
                "temperature": np.reshape(T, shp) if np.ndim(T) else T,
                "bias": np.reshape(b, shp) if np.ndim(b) else b,
                "reduction": reduction,
            }
            exact = O.sigmoid_focal_loss(x, y, **okw)
            check_loss("focal T/b", got, exact, dtype, isa, reduction)
            check_loss("focal T/b (with grad)", l2, exact, dtype, isa, reduction)
            check_grad("focal T/b grad", g, O.sigmoid_focal_loss_grad(x, y, **okw), dtype, isa)
