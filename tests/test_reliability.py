"""Boundary checks of the Python API: weights that would broadcast the loss, the class
axis of the binary losses, nll_loss's input contract, masked arrays, strict integer options and
labels, integer/bool and byte-swapped inputs, non-finite logits in calibration fits, every public
function under np.errstate(all="raise"), and the small corner cases (empty multi-axis rows, array
axes, equality of option objects, empty grad_hess, long double)."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as ol
import pytest
import registry
from budgets import assert_within_budget

RNG = np.random.default_rng(1414)


def _x(shape, dtype=np.float64, scale=3.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _loss_budget(reduction, per_item="bce"):
    """The budget of a loss: per item, or of a mean / sum."""
    return per_item if reduction == "none" else "reduced"


# ----------------------------------------------------------------------------- 2: BCE weights


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
@pytest.mark.parametrize("want_grad", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_weight_must_broadcast_to_logits(name, want_grad, reduction):
    x, y = _x((4, 1)), np.zeros((4, 1))
    f = (
        lk.binary_cross_entropy_with_logits_with_grad
        if want_grad
        else lk.binary_cross_entropy_with_logits
    )
    with pytest.raises(ValueError, match=rf"{name}: shape \(4,\).*\(4, 1\)"):
        f(x, y, reduction=reduction, **{name: np.ones(4)})
    with pytest.raises(ValueError, match=name):
        lk.grad_hess(x, y, family="binary", **{name: np.ones(4)})
    # shapes that broadcast to the logits' shape are still accepted
    for ok in (np.ones(1), np.ones((4, 1)), np.float64(2.0), np.ones((1, 1))):
        r = f(x, y, reduction=reduction, **{name: ok})
        if want_grad:
            want, scale = ol.bce_with_logits_grad(
                x, y, reduction=reduction, with_scale=True, **{name: ok}
            )
            assert np.shape(r[1]) == np.shape(want)
            assert_within_budget(r[1], want, budget="gradient", scale=scale, what=f"{name}={ok}")
        else:
            want = ol.bce_with_logits(x, y, reduction=reduction, **{name: ok})
            assert np.shape(r) == np.shape(want)
            assert_within_budget(r, want, budget=_loss_budget(reduction), what=f"{name}={ok}")


# ----------------------------------------------------------------------------- 3: BCE axis


def _bce_axis_oracle(x, y, ax, weight, pos_weight, eps, reduction):
    """Move the class axis last, where torch's per-class pos_weight lies, and move back."""
    xm, ym = np.moveaxis(x, ax, -1), np.moveaxis(y, ax, -1)
    kw = {"weight": weight, "pos_weight": pos_weight, "label_smoothing": eps}
    loss = ol.bce_with_logits(xm, ym, reduction=reduction, **kw)
    grad, gs = ol.bce_with_logits_grad(xm, ym, reduction=reduction, with_scale=True, **kw)
    g, h, hs = ol.grad_hess(xm, ym, family="binary", with_scale=True, **kw)
    if reduction == "none":
        loss = np.moveaxis(loss, -1, ax)
    return loss, *(np.moveaxis(v, -1, ax) for v in (grad, gs, g, h, hs))


@pytest.mark.parametrize("ax", [0, 1, -2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_axis_applies_per_class_weights_along_axis(isa, ax, reduction, eps, dtype):
    x = _x((3, 4, 4), dtype, seed=3)
    y = (np.random.default_rng(4).random((3, 4, 4)) > 0.5).astype(dtype)
    C = x.shape[ax]
    pw = np.array([0.5, 2.0, 3.0, 1.5][:C], dtype)
    w = np.array([1.0, 0.25, 2.0, 0.75][:C], dtype)
    want_loss, want_grad, gs, want_g, want_h, hs = _bce_axis_oracle(x, y, ax, w, pw, eps, reduction)
    kw = {"axis": ax, "weight": w, "pos_weight": pw, "label_smoothing": eps, "reduction": reduction}
    lb = _loss_budget(reduction)

    def check(what, loss=None, grad=None, g=None, h=None):
        if loss is not None:
            assert_within_budget(loss, want_loss, budget=lb, dtype=dtype, what=f"{what} loss")
        if grad is not None:
            assert_within_budget(grad, want_grad, budget="gradient", scale=gs, what=f"{what} grad")
        if g is not None:
            assert_within_budget(g, want_g, budget="gradient", scale=hs, what=f"{what} g")
            assert_within_budget(h, want_h, budget="gradient", scale=hs, what=f"{what} h")

    check("bce", loss=lk.binary_cross_entropy_with_logits(x, y, **kw))
    loss2, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, **kw)
    check("bce_with_grad", loss=loss2, grad=grad)
    assert grad.shape == x.shape and grad.dtype == dtype
    # the multilabel verbs and the config object take the axis the same way
    ml = lk.multilabel.MultiLabel(axis=ax, weight=w, pos_weight=pw, label_smoothing=eps)
    check("MultiLabel.loss", loss=ml.loss(x, y, reduction=reduction))
    check("MultiLabel.loss_with_grad", *ml.loss_with_grad(x, y, reduction=reduction))
    check("MultiLabel.grad_hess", None, None, *ml.grad_hess(x, y))
    g, h = lk.grad_hess(
        x, y, family="binary", axis=ax, weight=w, pos_weight=pw, label_smoothing=eps
    )
    check("grad_hess", g=g, h=h)
    # out= receives the gradient in the logits' layout
    out = np.empty_like(x)
    loss4, g4 = lk.binary_cross_entropy_with_logits_with_grad(x, y, out=out, **kw)
    assert g4 is out
    check("bce_with_grad out=", loss=loss4, grad=out)
    xi = x.copy()  # and in place
    loss5, g5 = lk.binary_cross_entropy_with_logits_with_grad(xi, y, out=xi, **kw)
    assert g5 is xi
    check("bce_with_grad out=x", loss=loss5, grad=xi)


def test_bce_axis_default_is_last_and_bad_axis_raises():
    x, y = _x((2, 3, 5)), np.zeros((2, 3, 5))
    pw = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(
        lk.binary_cross_entropy_with_logits(x, y, pos_weight=pw, axis=-1),
        lk.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
    )
    with pytest.raises(ValueError, match=r"pos_weight.*\(5,\).*class axis 1.*3"):
        lk.binary_cross_entropy_with_logits(x, y, pos_weight=pw, axis=1)
    with pytest.raises(np.exceptions.AxisError):
        lk.binary_cross_entropy_with_logits(x, y, axis=3)
    with pytest.raises(TypeError, match="axis"):
        lk.binary_cross_entropy_with_logits(x, y, axis=1.0)


# ----------------------------------------------------------------------------- 4: nll_loss input


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 2, 7, 1000, 32768])
def test_nll_loss_accepts_log_softmax_output(dtype, C):
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((6, C)) * 4).astype(np.float32)
    x[1, : C // 2] = -np.inf  # masked classes
    x[2] = 0.0  # uniform row: entropy log C, the largest rounding of the row's sum
    lp = lk.log_softmax(x).astype(dtype)
    t = rng.integers(0, C, 6)
    t[1] = C - 1
    if C == 1:  # one class is a binary model (test_diagnostics.py)
        with pytest.raises(ValueError, match="single logit per input"):
            lk.nll_loss(lp, t, reduction="none")
        return
    got = lk.nll_loss(lp, t, reduction="none")
    want = ol.nll_loss(lp, t, reduction="none")  # -lp at the labels
    assert_within_budget(got, want, budget="nll_loss", what=f"nll_loss C={C}")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nll_loss_refuses_probabilities_and_logits(dtype):
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal((5, 4)) * 3).astype(dtype)
    p = lk.softmax(logits.astype(np.float32)).astype(dtype)
    t = np.array([0, 1, 2, 3, 0])
    for bad, what in ((p, "probabilities"), (logits, "logits")):
        with pytest.raises(ValueError, match=r"log_probs:.*log-probabilities.*row.*cross_entropy"):
            lk.nll_loss(bad, t)
        lk.nll_loss(bad, t, validate=False)  # the caller's responsibility
    # one bad row among good ones is found, and named; an ignored row is not read
    lp = lk.log_softmax(logits.astype(np.float64)).astype(dtype)
    lp[3] += dtype(0.5)
    with pytest.raises(ValueError, match=r"row \(3,\)"):
        lk.nll_loss(lp, t)
    t[3] = -100
    lk.nll_loss(lp, t)
    # a row with NaN propagates, as in the other losses
    lp2 = lk.log_softmax(logits.astype(np.float64)).astype(dtype)
    lp2[0, t[0]] = np.nan
    assert np.isnan(lk.nll_loss(lp2, t, reduction="none")[0])


def test_nll_loss_just_inside_and_outside_the_tolerance():
    lp = lk.log_softmax(_x((1, 10)))
    t = np.array([0])
    lk.nll_loss(lp - 0.049, t)
    lk.nll_loss(lp + 0.049, t)
    with pytest.raises(ValueError, match="log-probabilities"):
        lk.nll_loss(lp - 0.051, t)
    with pytest.raises(ValueError, match="log-probabilities"):
        lk.nll_loss(lp + 0.051, t)


# ----------------------------------------------------------------------------- 5: masked arrays


def _masked():
    return np.ma.array([[1.0, 2.0, 3.0], [0.0, 5.0, -1.0]], mask=[[0, 0, 1], [1, 0, 0]])


ROW_CALLS = [
    ("softmax", lambda x: lk.softmax(x)),
    ("log_softmax", lambda x: lk.log_softmax(x)),
    ("logsumexp", lambda x: lk.logsumexp(x)),
    ("softmax_backward", lambda x: lk.softmax_backward(x, x)),
    ("log_softmax_backward", lambda x: lk.log_softmax_backward(x, x)),
    ("cross_entropy", lambda x: lk.cross_entropy(x, np.array([0, 1]))),
    ("cross_entropy_with_grad", lambda x: lk.cross_entropy_with_grad(x, np.array([0, 1]))),
    ("nll_loss", lambda x: lk.nll_loss(x, np.array([0, 1]))),
    ("bce", lambda x: lk.binary_cross_entropy_with_logits(x, np.zeros((2, 3)))),
    ("bce_grad", lambda x: lk.binary_cross_entropy_with_logits_with_grad(x, np.zeros((2, 3)))),
    ("focal", lambda x: lk.sigmoid_focal_loss(x, np.zeros((2, 3)))),
    ("focal_grad", lambda x: lk.sigmoid_focal_loss_with_grad(x, np.zeros((2, 3)))),
    ("grad_hess_mc", lambda x: lk.grad_hess(x, np.array([0, 1]), family="multiclass")),
    ("grad_hess_bin", lambda x: lk.grad_hess(x, np.zeros((2, 3)), family="binary")),
]
for _mod in ("multiclass", "multilabel"):
    _m = getattr(lk, _mod)
    _lab = np.array([0, 1]) if _mod == "multiclass" else np.zeros((2, 3), int)
    ROW_CALLS += [
        (f"{_mod}.proba", lambda x, m=_m: m.proba(x)),
        (f"{_mod}.log_proba", lambda x, m=_m: m.log_proba(x)),
        (f"{_mod}.predict", lambda x, m=_m: m.predict(x)),
        (f"{_mod}.top_k", lambda x, m=_m: m.top_k(x, 1)),
        (f"{_mod}.loss", lambda x, m=_m, t=_lab: m.loss(x, t)),
        (f"{_mod}.loss_with_grad", lambda x, m=_m, t=_lab: m.loss_with_grad(x, t)),
        (f"{_mod}.grad_hess", lambda x, m=_m, t=_lab: m.grad_hess(x, t)),
        (f"{_mod}.fit_temperature", lambda x, m=_m, t=_lab: m.fit_temperature(x, t)),
        (f"{_mod}.ece", lambda x, m=_m, t=_lab: m.expected_calibration_error(x, t)),
        (f"{_mod}.brier", lambda x, m=_m, t=_lab: m.brier_score(x, t)),
    ]


@pytest.mark.parametrize("name,call", ROW_CALLS, ids=[n for n, _ in ROW_CALLS])
def test_masked_logits_are_refused_with_where_hint(name, call):
    with pytest.raises(TypeError, match=r"masked array.*where="):
        call(_masked())


def test_masked_targets_and_weights_are_refused():
    x = _x((2, 3))
    with pytest.raises(TypeError, match=r"target: .*masked array"):
        lk.cross_entropy(x, np.ma.array([0, 1], mask=[0, 1]))
    with pytest.raises(TypeError, match=r"sample_weight: .*masked array"):
        lk.cross_entropy(x, np.array([0, 1]), sample_weight=np.ma.array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(TypeError, match=r"weight: .*masked array"):
        lk.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), weight=np.ma.ones(3))


@pytest.mark.parametrize("f", registry.publics("elementwise"))
def test_masked_elementwise_keeps_its_mask(f):
    # elementwise: each entry on its own, so NumPy's masked-array ufunc protocol is exact
    m = _masked()
    r = f(m)
    assert isinstance(r, np.ma.MaskedArray)
    np.testing.assert_array_equal(r.mask, m.mask)
    np.testing.assert_array_equal(r.data[~m.mask], f(m.data)[~m.mask])


def test_where_is_the_way_to_mask():
    m = _masked()
    got = lk.softmax(m.data, where=~m.mask)
    want = ol.softmax(m.data, where=~m.mask)  # row 0: 1/(1 + e), e/(1 + e), 0
    assert_within_budget(got, want, budget="softmax", what="softmax(where=~mask)")
    assert got[0, 2] == 0


# ----------------------------------------------------------------------------- 6: strict options


@pytest.mark.parametrize("bad", [1.5, 1.0, "1", True, np.bool_(True), None, np.float64(1.0)])
def test_ignore_index_must_be_an_integer(bad):
    x, t = _x((2, 3)), np.array([1, 0])
    for f in (lk.cross_entropy, lk.cross_entropy_with_grad, lk.nll_loss, lk.multiclass.loss):
        with pytest.raises(TypeError, match=r"ignore_index: expected an integer"):
            f(lk.log_softmax(x), t, ignore_index=bad)


@pytest.mark.parametrize("bad", [1.99, 1.0, "1", True, np.bool_(True), np.array([1])])
def test_axis_must_be_an_integer(bad):
    x, t = _x((2, 3, 2)), np.zeros((2, 2), int)
    calls = [
        lambda: lk.cross_entropy(x, t, axis=bad),
        lambda: lk.cross_entropy_with_grad(x, t, axis=bad),
        lambda: lk.nll_loss(lk.log_softmax(x, axis=1), t, axis=bad),
        lambda: lk.grad_hess(x, t, family="multiclass", axis=bad),
        lambda: lk.grad_hess(x, np.zeros_like(x), family="binary", axis=bad),
        lambda: lk.binary_cross_entropy_with_logits(x, np.zeros_like(x), axis=bad),
        lambda: lk.multiclass.loss(x, t, axis=bad),
    ]
    for c in calls:
        with pytest.raises(TypeError, match=r"axis: expected an integer"):
            c()


def test_integer_like_options_still_accepted():
    x = _x((2, 3, 2))
    t = np.array([[0, 1], [2, 0]])
    want = lk.cross_entropy(x, t, axis=1)
    assert lk.cross_entropy(x, t, axis=np.int64(1)) == want
    assert lk.cross_entropy(x, t, axis=np.array(1)) == want  # 0-d integer array: operator.index
    assert lk.cross_entropy(x, t, axis=1, ignore_index=np.int32(0)) == lk.cross_entropy(
        x, t, axis=1, ignore_index=0
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_unsigned_labels_do_not_wrap(dtype):
    x, C = _x((3, 4)), 4
    big = np.iinfo(dtype).max - 99  # 2**64 - 100 for uint64: -100 after a wrap to int64
    t = np.array([1, big, 2], dtype)
    for f in (lk.cross_entropy, lk.nll_loss, lk.cross_entropy_with_grad):
        with pytest.raises(ValueError, match=rf"label {big} at position \(1,\).*\[0, {C}\)"):
            f(lk.log_softmax(x), t)
    with pytest.raises(ValueError, match=rf"label {big}"):
        lk.grad_hess(x, t, family="multiclass")
    for verb in (lk.multiclass.brier_score, lk.multiclass.expected_calibration_error):
        with pytest.raises(ValueError, match=rf"labels: label {big} at position \(1,\)"):
            verb(x, t)
    # ignore_index compares in the labels' own dtype: the big label is ignored when asked for
    lp = lk.log_softmax(x)
    kept = np.array([0, 2])
    for f, o in ((lk.cross_entropy, ol.cross_entropy), (lk.nll_loss, ol.nll_loss)):
        got = f(lp, t, ignore_index=int(big), reduction="none")
        assert got[1] == 0
        want = o(lp[kept], t[kept].astype(np.int64), reduction="none")  # the items not ignored
        assert_within_budget(got[kept], want, budget="cross_entropy", what=f.__name__)


@pytest.mark.parametrize("ii", [2**63, 2**64 - 100, -(2**63) - 1, 10**30])
def test_ignore_index_outside_int64(ii):
    x = _x((2, 3))
    t = np.array([1, 0])
    lp = lk.log_softmax(x)
    for f, o in ((lk.cross_entropy, ol.cross_entropy), (lk.nll_loss, ol.nll_loss)):
        got = f(lp, t, ignore_index=ii, reduction="none")
        assert_within_budget(got, o(lp, t, reduction="none"), budget="cross_entropy")
    got, _ = lk.cross_entropy_with_grad(x, t, ignore_index=ii)
    assert_within_budget(got, ol.cross_entropy(x, t), budget="reduced")
    # uint64 labels equal to it are ignored
    if 0 <= ii < 2**64:
        tu = np.array([1, ii], np.uint64)
        got = lk.cross_entropy(x, tu, ignore_index=ii, reduction="none")
        assert got[1] == 0
        want = ol.cross_entropy(x[:1], t[:1], reduction="none")
        assert_within_budget(got[:1], want, budget="cross_entropy")


# ----------------------------------------------------------------------------- 7: int/bool logits


INT_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_logits_compute_in_float64(isa, dtype):
    x = np.array([[100, 90, 0, 1], [1, 0, 1, 0]]).astype(dtype)
    x64 = x.astype(np.float64)
    for f in registry.publics("row", "row reduction", "elementwise"):
        r = f(x)
        assert r.dtype == np.float64, (f.__name__, r.dtype)
        np.testing.assert_array_equal(r, f(x64))
    for m in (lk.multiclass, lk.multilabel):
        for verb in ("proba", "log_proba"):
            r = getattr(m, verb)(x)
            assert r.dtype == np.float64
            np.testing.assert_array_equal(r, getattr(m, verb)(x64))
    t = np.array([0, 1])
    assert lk.cross_entropy(x, t) == lk.cross_entropy(x64, t)
    (l1, g1), (l2, g2) = lk.cross_entropy_with_grad(x, t), lk.cross_entropy_with_grad(x64, t)
    assert l1 == l2 and g1.dtype == np.float64
    np.testing.assert_array_equal(g1, g2)
    y = np.zeros(x.shape)
    l1, g1 = lk.binary_cross_entropy_with_logits_with_grad(x, y)
    l2, g2 = lk.binary_cross_entropy_with_logits_with_grad(x64, y)
    assert l1.dtype == g1.dtype == np.float64 and l1 == l2
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(lk.sigmoid_backward(x, x), lk.sigmoid_backward(x64, x64))
    assert lk.softmax_backward(x, x).dtype == np.float64


def test_int8_softmax_is_not_float16():
    r = lk.softmax(np.int8([100, 90, -100]))
    assert r.dtype == np.float64
    # 1/(1 + e^-10), e^-10/(1 + e^-10), e^-200/(1 + e^-10): float64's, not float16's, resolution
    want = ol.softmax(np.array([100.0, 90.0, -100.0]))
    assert_within_budget(r, want, budget="softmax", what="softmax of int8")


# ----------------------------------------------------------------------------- 8: byte order


@pytest.mark.parametrize("code", [">f2", ">f4", ">f8", "<f2", "<f4", "<f8"])
def test_byte_swapped_inputs(isa, code):
    dt = np.dtype(code)
    native = dt.newbyteorder("=")
    x = _x((6, 5), native, seed=8)
    xs = x.astype(dt)
    # float16 results are the float32 ones rounded once (test_dtypes.py checks those bits): the
    # budgets of README.md are for float32 and float64
    budgeted = native != np.float16
    for name in registry.names("row", "row reduction", "elementwise"):
        f = registry.BY_NAME[name].call
        r = f(xs)
        assert r.dtype == native and r.dtype.isnative, f
        np.testing.assert_array_equal(r, f(x))
        out = np.empty(r.shape, native)
        assert f(xs, out=out) is out
        np.testing.assert_array_equal(out, f(x))
        if budgeted:
            want = registry.BY_NAME[name].oracle(x)
            assert_within_budget(out, want, budget=name, what=f"{name} {code} out=")
    t = np.array([0, 1, 2, 3, 4, 0])
    ys = lk.softmax(_x((6, 5), np.float64, seed=9)).astype(native).astype(dt)  # soft targets
    for tgt in (t, ys):
        for reduction in ("mean", "sum", "none"):
            got = lk.cross_entropy(xs, tgt, reduction=reduction)
            want = lk.cross_entropy(x, ys.astype(native) if tgt is ys else t, reduction=reduction)
            assert np.asarray(got).dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        # out= of the dtype the native logits' gradient has (float16 logits: float32)
        out = np.empty(x.shape, lk.cross_entropy_with_grad(x, t)[1].dtype)
        _, g = lk.cross_entropy_with_grad(xs, tgt, out=out)
        assert g is out
        if budgeted:
            want, scale = ol.cross_entropy_grad(
                x, ys.astype(native) if tgt is ys else t, with_scale=True
            )
            assert_within_budget(out, want, budget="gradient", scale=scale, what=f"{code} out=")
    yb = (x > 0).astype(dt)
    for reduction in ("mean", "sum", "none"):
        got = lk.binary_cross_entropy_with_logits(xs, yb, reduction=reduction)
        want = lk.binary_cross_entropy_with_logits(x, yb.astype(native), reduction=reduction)
        assert np.asarray(got).dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    out = np.empty(x.shape, lk.binary_cross_entropy_with_logits_with_grad(x, yb)[1].dtype)
    assert lk.binary_cross_entropy_with_logits_with_grad(xs, yb, out=out)[1] is out
    if budgeted:
        want, scale = ol.bce_with_logits_grad(x, yb.astype(native), with_scale=True)
        assert_within_budget(out, want, budget="gradient", scale=scale, what=f"bce {code} out=")
    lp = lk.log_softmax(x)
    np.testing.assert_array_equal(lk.nll_loss(lp.astype(dt), t), lk.nll_loss(lp, t))
    assert lk.multiclass.proba(xs).dtype == native
    assert lk.multilabel.proba(xs, temperature=2.0).dtype == native


def test_byte_swapped_float16_sum_does_not_overflow():
    x = np.full(100000, 10, ">f2")
    y = np.zeros(100000, ">f2")
    for reduction in ("sum", "mean"):
        got = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction)
        want = lk.binary_cross_entropy_with_logits(
            x.astype(np.float16), y.astype(np.float16), reduction=reduction
        )
        assert np.asarray(got).dtype == np.asarray(want).dtype == np.float16
        assert got == want
    # float16 is summed in float32 and the result rounded once: the mean of terms near 10 is
    # finite (a float16 running sum would pass 65504); the sum itself, 1e6, rounds to inf.
    f32 = lk.binary_cross_entropy_with_logits(x.astype(np.float32), y.astype(np.float32))
    assert np.isfinite(got) and got == f32.astype(np.float16)


# ----------------------------------------------------------------------------- 9: fit_temperature


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_temperature_refuses_non_finite_logits(bad):
    x = _x((20, 3), seed=11)
    t = np.arange(20) % 3
    x[7, 1] = bad
    with pytest.raises(ValueError, match=r"logits: .*row \(7,\).*(NaN|inf)"):
        lk.multiclass.fit_temperature(x, t)
    y = (np.random.default_rng(2).random((20, 3)) > 0.5).astype(float)
    with pytest.raises(ValueError, match=r"logits: .*row \(7,\).*(NaN|inf)"):
        lk.multilabel.fit_temperature(x, y)
    with pytest.raises(ValueError, match=r"row \(7,\)"):
        lk.multilabel.MultiLabel(axis=0).fit_temperature(x.T, y.T)


# ----------------------------------------------------------------------------- 13: errstate


def _errstate_inputs():
    """Logits rows with extremes, confident rows, tiny and huge values (C = 5)."""
    rows = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1e4, -1e4, 0.0, 3.0, -3.0],
        [800.0, -800.0, 0.0, 1.0, 2.0],
        [-1e-310, 1e-310, 5e-324, 0.0, 1.0],
        [3e38, -3e38, 1.0, 0.0, -1.0],
        [1e308, -1e308, 0.0, 0.0, 0.0],
        [40.0, 0.0, 0.0, 0.0, 0.0],
    ]
    x = np.array(rows, np.float64)
    big = np.random.default_rng(13).standard_normal((64, 5)) * 20
    with np.errstate(over="ignore"):  # 3e38 and 1e308 are ±inf in the narrower dtypes
        return [x, big, x.astype(np.float32), big.astype(np.float32), x.astype(np.float16)]


def _all_public_calls(x):
    N, C = x.shape
    t = np.arange(N) % C
    y = (np.arange(N * C).reshape(N, C) % 3 == 0).astype(np.float64)
    tiny = np.full(N, 1e-40)
    tinyc = np.full(C, 1e-40)
    soft = np.full((N, C), 1.0 / C)
    calls = {
        "sigmoid": lambda: lk.sigmoid(x),
        "log_sigmoid": lambda: lk.log_sigmoid(x),
        "softplus": lambda: lk.softplus(x),
        "sigmoid_backward": lambda: lk.sigmoid_backward(x, lk.sigmoid(x)),
        "log_sigmoid_backward": lambda: lk.log_sigmoid_backward(x, x),
        "softmax": lambda: lk.softmax(x, temperature=0.5),
        "log_softmax": lambda: lk.log_softmax(x, where=x > -1),
        "logsumexp": lambda: lk.logsumexp(x, axis=None),
        "softmax_backward": lambda: lk.softmax_backward(x, lk.softmax(x)),
        "log_softmax_backward": lambda: lk.log_softmax_backward(x, lk.log_softmax(x)),
        "cross_entropy": lambda: lk.cross_entropy(x, t, weight=tinyc, sample_weight=tiny),
        "cross_entropy_soft": lambda: lk.cross_entropy(
            x, soft, sample_weight=tiny, label_smoothing=0.1
        ),
        "cross_entropy_with_grad": lambda: lk.cross_entropy_with_grad(
            x, t, weight=tinyc, sample_weight=tiny, label_smoothing=0.2
        ),
        "nll_loss": lambda: lk.nll_loss(
            lk.log_softmax(x), t, weight=tinyc, sample_weight=tiny, label_smoothing=0.1
        ),
        "bce": lambda: lk.binary_cross_entropy_with_logits(x, y, weight=tinyc, pos_weight=tinyc),
        "bce_grad": lambda: lk.binary_cross_entropy_with_logits_with_grad(
            x, y, weight=tinyc, pos_weight=tinyc, label_smoothing=0.1, reduction="none"
        ),
        "focal": lambda: lk.sigmoid_focal_loss_with_grad(x, y, reduction="mean"),
        "grad_hess_mc": lambda: lk.grad_hess(
            x, t, family="multiclass", weight=tinyc, sample_weight=tiny, label_smoothing=0.1
        ),
        "grad_hess_bin": lambda: lk.grad_hess(
            x, y, family="binary", weight=tinyc, pos_weight=tinyc
        ),
    }
    for name in ("multiclass", "multilabel"):
        m = getattr(lk, name)
        lab = t if name == "multiclass" else y
        calls.update(
            {
                f"{name}.proba": lambda m=m: m.proba(x, temperature=0.7),
                f"{name}.log_proba": lambda m=m: m.log_proba(x, temperature=3.0),
                f"{name}.predict": lambda m=m: m.predict(x),
                f"{name}.top_k": lambda m=m: m.top_k(x, 2, temperature=0.3),
                f"{name}.loss": lambda m=m, lab=lab: m.loss(x, lab, weight=tinyc),
                f"{name}.loss_with_grad": lambda m=m, lab=lab: m.loss_with_grad(
                    x, lab, weight=tinyc
                ),
                f"{name}.grad_hess": lambda m=m, lab=lab: m.grad_hess(x, lab, weight=tinyc),
                f"{name}.ece": lambda m=m, lab=lab: m.expected_calibration_error(x, lab),
                f"{name}.brier": lambda m=m, lab=lab: m.brier_score(x, lab),
                f"{name}.brier_T": lambda m=m, lab=lab: m.brier_score(x, lab, temperature=0.01),
            }
        )
    finite = bool(np.all(np.isfinite(x)))
    if finite:
        calls["multiclass.fit_temperature"] = lambda: lk.multiclass.fit_temperature(x, t)
        calls["multilabel.fit_temperature"] = lambda: lk.multilabel.fit_temperature(x, y)
        calls["multilabel.fit_temperature_ml"] = lambda: lk.multilabel.fit_temperature(
            x, y, regularize=False, fit_bias=False
        )
    calls["multilabel.proba_bias"] = lambda: lk.multilabel.proba(
        x, bias=np.full(C, 1e300) * 0 + 700
    )
    return calls


@pytest.mark.parametrize("k", range(5))
def test_every_public_function_under_errstate_raise(k):
    x = _errstate_inputs()[k]
    import warnings

    from logitkit.multiclass import CalibrationWarning, ProbabilitiesWarning

    for name, call in _all_public_calls(x).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)
            warnings.simplefilter("ignore", ProbabilitiesWarning)
            with np.errstate(all="raise"):
                try:
                    call()
                except FloatingPointError as e:  # pragma: no cover - the failure message
                    raise AssertionError(f"{name} (input {k}): {e}") from None


def test_errstate_specific_reports():
    # brier_score of a confident row; tiny weights cast to float32; fit on N(0, 20^2) logits
    with np.errstate(all="raise"):
        assert lk.multiclass.brier_score(np.array([[0.0, -800.0]]), np.array([0])) == 0.0
        x = np.zeros((2, 3), np.float32)
        lk.cross_entropy(x, np.array([0, 1]), sample_weight=np.array([1e-40, 1.0]))
        lk.cross_entropy(x, np.array([0, 1]), weight=np.array([1e-40, 1.0, 1.0]))
        lk.binary_cross_entropy_with_logits(x, np.ones((2, 3)), pos_weight=np.full(3, 1e-40))
        z = np.random.default_rng(0).standard_normal((500, 4)) * 20
        yz = (np.random.default_rng(1).random((500, 4)) < lk.sigmoid(z)).astype(float)
        lk.multilabel.fit_temperature(z, yz)


# ----------------------------------------------------------------------------- 14: corners


@pytest.mark.parametrize(
    "shape,axis", [((0, 3, 4), (1, 2)), ((2, 0, 4), (0, 2)), ((0, 3), None), ((3, 0), (0,))]
)
@pytest.mark.parametrize("f", [lk.softmax, lk.log_softmax, lk.logsumexp])
def test_multi_axis_with_empty_dimensions(shape, axis, f):
    x = np.zeros(shape)
    r = f(x, axis=axis)
    if f is lk.logsumexp:
        axes = tuple(range(x.ndim)) if axis is None else axis
        want_shape = tuple(n for i, n in enumerate(shape) if i not in axes)
        assert r.shape == want_shape
        if r.size:
            assert np.all(r == -np.inf)
    else:
        assert r.shape == shape


def test_array_axis_is_a_type_error():
    x = _x((2, 3))
    for f in (lk.softmax, lk.log_softmax, lk.logsumexp):
        with pytest.raises(TypeError, match="axis"):
            f(x, axis=np.array([0, 1]))
        with pytest.raises(TypeError, match="axis"):
            f(x, axis=np.array([1]))


def test_dask_tuple_and_none_axis():
    da = pytest.importorskip("dask.array")
    x = _x((4, 3, 5), seed=21)
    dx = da.from_array(x, chunks=2)
    for f in (lk.softmax, lk.log_softmax, lk.logsumexp):
        for axis in ((1, 2), None, (0, 2)):
            r = f(dx, axis=axis)
            assert isinstance(r, da.Array)
            np.testing.assert_array_equal(r.compute(scheduler="synchronous"), f(x, axis=axis))


def test_option_objects_compare_by_value():
    MC, ML = lk.multiclass.MultiClass, lk.multilabel.MultiLabel
    assert MC(weight=np.ones(3)) == MC(weight=np.ones(3))
    assert MC(weight=np.ones(3)) != MC(weight=np.arange(3.0))
    assert MC(weight=np.ones(3)) != MC(weight=np.ones(4))
    assert MC(weight=[1.0, 1.0]) == MC(weight=np.ones(2))
    assert MC(weight=np.ones(3)) != MC()
    assert MC(weight=np.ones(3), label_smoothing=0.1) != MC(weight=np.ones(3))
    assert ML(pos_weight=np.ones(3), threshold=np.full(3, 0.3)) == ML(
        pos_weight=np.ones(3), threshold=np.full(3, 0.3)
    )
    assert ML(pos_weight=np.ones(3)) != ML(pos_weight=np.full(3, 2.0))
    assert MC() == MC() and ML() == ML()
    assert MC() != ML()
    assert hash(MC()) == hash(MC())
    a, b = MC(weight=np.ones(3)), MC(weight=np.ones(3, np.float32))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1


def test_fit_temperature_without_items_is_the_identity():
    """No items to fit: both modules return the identity calibration, with no warning."""
    for shape, ax in (((3, 0), 0), ((0, 3), -1), ((2, 0, 4), -1)):
        x = np.zeros(shape, np.float16)
        fit = lk.multilabel.fit_temperature(x, np.zeros(shape), axis=ax)
        C = shape[ax]
        assert np.array_equal(fit.temperature, np.ones(C)) and np.array_equal(fit.bias, np.zeros(C))
    assert lk.multiclass.fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0


def test_grad_hess_empty():
    for shape, t in (
        ((0, 0), np.zeros(0, int)),
        ((0, 3), np.zeros(0, int)),
        ((2, 0, 3), np.zeros((2, 3), int)),
    ):
        x = np.zeros(shape)
        ax = 1
        g, h = lk.grad_hess(x, t, family="multiclass", axis=ax, validate=False)
        assert g.shape == h.shape == shape and g.dtype == h.dtype == np.float64
    g, h = lk.grad_hess(np.zeros((0, 0)), np.zeros((0, 0)), family="binary")
    assert g.shape == h.shape == (0, 0)


def test_longdouble_says_float64_is_the_widest():
    x = np.ones((2, 3), np.longdouble)
    calls = [
        lambda: lk.softmax(x),
        lambda: lk.sigmoid(x),
        lambda: lk.logsumexp(x, axis=None),
        lambda: lk.cross_entropy(x, np.array([0, 1])),
        lambda: lk.binary_cross_entropy_with_logits(x, np.zeros((2, 3))),
        lambda: lk.nll_loss(x, np.array([0, 1])),
        lambda: lk.multiclass.proba(x),
        lambda: lk.multilabel.predict(x),
        lambda: lk.softmax_backward(x, x),
    ]
    for c in calls:
        with pytest.raises(TypeError, match=r"float64 is the widest"):
            c()


# ----------------------------------------------------------------- layout never changes a reduction


@pytest.mark.parametrize("seed", range(12))
def test_reductions_do_not_depend_on_memory_layout(seed):
    """A strided or Fortran-ordered copy of the same logits gives the same bits: the Brier scores
    and the BCE mean/sum (whose one-pass kernel sum is the reference for every layout)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (2, 3, 1025)).astype(np.float16)
    labels = rng.integers(0, 3, (2, 1025))
    hot = rng.random((2, 3, 1025)) < 0.3
    xf = np.asfortranarray(x)
    assert lk.multiclass.brier_score(x, labels, axis=1) == lk.multiclass.brier_score(
        xf, labels, axis=1
    )
    assert lk.multilabel.brier_score(x, hot, axis=1) == lk.multilabel.brier_score(xf, hot, axis=1)
    z = rng.normal(0, 8, (37, 41)).astype(np.float32)
    y = (rng.random(z.shape) < 0.3).astype(np.float32)
    zs = np.empty((37, 82), np.float32)[:, ::2]
    zs[...] = z
    for reduction in ("mean", "sum"):
        ref = lk.binary_cross_entropy_with_logits(z, y, reduction=reduction)
        assert lk.binary_cross_entropy_with_logits(zs, y, reduction=reduction) == ref
        assert lk.binary_cross_entropy_with_logits(z[::-1], y[::-1], reduction=reduction) == ref
        loss, g = lk.binary_cross_entropy_with_logits_with_grad(z, y, reduction=reduction)
        out = np.empty((37, 82), np.float32)[:, ::2]
        loss2, g2 = lk.binary_cross_entropy_with_logits_with_grad(
            zs, y, reduction=reduction, out=out
        )
        assert loss2 == loss and g2 is out and np.array_equal(g2, g)
        want = ol.bce_with_logits(z, y, reduction=reduction)
        assert_within_budget(loss, want, budget="reduced", what=f"bce {reduction}")
        want_g, scale = ol.bce_with_logits_grad(z, y, reduction=reduction, with_scale=True)
        assert_within_budget(out, want_g, budget="gradient", scale=scale, what="strided out=")
