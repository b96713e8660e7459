"""The loss driver: one C++ implementation (api.hpp) behind the one-call paths, one exception type
for bad labels and targets (logitkit.InvalidTargetError, with position and value), one message
whichever path finds the error, and the one-call paths' decisions (ce_hard_small's in C++,
BCE's predicate in losses.py)."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import pytest
from logitkit import _core

DTYPES = [np.float32, np.float64]
SMALL = (6, 5)  # the one-call path (C-contiguous)
LARGE = (getattr(_core, "small_call_elements", 1 << 15) // 5 + 7, 5)  # beyond it: the gufunc path


def _logits(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(0, 2, shape).astype(dtype)


def _raises(fn, *args, **kw) -> lk.InvalidTargetError:
    with pytest.raises(lk.InvalidTargetError) as info:
        fn(*args, **kw)
    e = info.value
    assert isinstance(e, ValueError)
    return e


def test_exported():
    assert "InvalidTargetError" in lk.__all__
    assert issubclass(lk.InvalidTargetError, ValueError)


# ----------------------------------------------------------------------------- hard labels


@pytest.mark.parametrize("dtype", DTYPES + [np.int64])
@pytest.mark.parametrize("shape", [SMALL, LARGE])
@pytest.mark.parametrize("bad", [-1, 5, 2**40])
def test_bad_label_every_entry_point(isa, dtype, shape, bad):
    x = _logits(shape, np.float64).astype(dtype)
    t = np.random.default_rng(1).integers(0, 5, shape[0])
    at = shape[0] - 2
    t[at] = bad
    want = f"target: label {bad} at position ({at},) is outside [0, 5) and is not ignore_index=-100"
    calls = [
        lambda: lk.cross_entropy(x, t),
        lambda: lk.cross_entropy_with_grad(x, t, reduction="none"),
        lambda: lk.cross_entropy(x, t, reduction="sum", label_smoothing=0.1),
        lambda: lk.nll_loss(lk.log_softmax(np.asarray(x, np.float64)), t),
        lambda: lk.grad_hess(x, t, family="multiclass"),
        lambda: lk.multiclass.loss(x, t),
        lambda: lk.multiclass.loss_with_grad(x, t),
        lambda: lk.multiclass.MultiClass().loss(x, t),
    ]
    for call in calls:
        e = _raises(call)
        assert str(e) == want
        assert e.position == (at,) and e.value == bad and type(e.value) is int
        assert e.argument == "target" and not e.row_sum


def _small(x, t, want_grad, out):
    """_core.ce_hard_small with the default options, as cross_entropy passes them."""
    return _core.ce_hard_small(x, t, -1, None, -100, 0.0, "mean", None, want_grad, out, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_label_same_message_small_and_gufunc_path(isa, dtype):
    """The one-call path (C++ API) and the gufunc path (Python's check) give one message and the
    same attributes for the same bad label, also for a label beyond double's precision."""
    x = _logits(SMALL, dtype)
    for bad in (7, -3, 2**53 + 1, -(2**62) - 1):
        t = np.array([0, 1, bad, 2, 3, 4])
        xf = np.asfortranarray(x)
        assert _small(xf, t, False, None) is None  # the gufunc path
        with pytest.raises(lk.InvalidTargetError) as direct:
            _small(x, t, True, None)
        errors = [direct.value] + [
            _raises(f, xx, t)
            for f in (lk.cross_entropy, lk.cross_entropy_with_grad)
            for xx in (x, xf)
        ]
        assert len({str(e) for e in errors}) == 1, [str(e) for e in errors]
        assert {(e.position, e.value) for e in errors} == {((2,), bad)}
        assert f"label {bad} at position (2,)" in str(errors[0])


def test_unsigned_label_beyond_int64():
    x = np.zeros((3, 4))
    big = 2**64 - 100
    e = _raises(lk.cross_entropy, x, np.array([1, big, 2], np.uint64))
    assert e.value == big and e.position == (1,)
    # the multiclass metrics (ignore_index as the losses): the same type, attributes and text
    e = _raises(lk.multiclass.brier_score, x, np.array([1, big, 2], np.uint64))
    assert e.value == big and e.position == (1,) and e.argument == "labels"
    assert str(e) == (
        f"labels: label {big} at position (1,) is outside [0, 4) and is not ignore_index=-100"
    )


def test_labels_in_nd_target_position():
    x = np.zeros((2, 4, 3))  # class axis 1
    t = np.array([[0, 1, 2], [3, 9, 0]])
    e = _raises(lk.cross_entropy, x, t, axis=1)
    assert e.position == (1, 1) and e.value == 9


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unvalidated_bad_label_takes_the_gufunc_meaning(isa, dtype, reduction):
    """validate=False: the one-call path refuses the bad label and the gufunc path computes it
    (a label >= C gives NaN for its row, one < 0 counts as 0): the same bits as the gufunc path
    that Fortran-ordered logits take."""
    x = _logits(SMALL, dtype)
    for bad in (-7, 9):
        t = np.array([0, 1, bad, 2, 3, 4])
        got = lk.cross_entropy(x, t, validate=False, reduction=reduction)
        want = lk.cross_entropy(np.asfortranarray(x), t, validate=False, reduction=reduction)
        assert np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True)
        per = lk.cross_entropy(x, t, validate=False, reduction="none")
        assert np.isnan(per[2]) == (bad >= 5)
        assert per[2] == 0 or bad >= 5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [SMALL, LARGE])
def test_unvalidated_label_beyond_the_classes_has_a_nan_gradient_row(isa, dtype, shape):
    """validate=False, a label >= C: its row's loss and gradient are NaN (not uninitialised
    memory), the other rows' gradients those of a valid call."""
    x = _logits(shape, dtype)
    t = np.random.default_rng(4).integers(0, 5, shape[0])
    ok = t.copy()
    t[1] = 8
    for out in (None, np.zeros(shape, dtype)):
        per, grad = lk.cross_entropy_with_grad(x, t, reduction="none", validate=False, out=out)
        _, want = lk.cross_entropy_with_grad(x, ok, reduction="none")
        assert np.isnan(per[1]) and np.isnan(grad[1]).all()
        keep = np.arange(shape[0]) != 1
        assert np.array_equal(grad[keep], want[keep]) and np.isfinite(per[keep]).all()


# ----------------------------------------------------------------------------- soft targets


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [SMALL, LARGE])
def test_bad_soft_targets(isa, dtype, shape):
    x = _logits(shape, dtype)
    y = np.full(shape, 0.2)
    y[3, 1] = -0.25
    y[3, 2] += 0.25
    e = _raises(lk.cross_entropy, x, y)
    assert e.position == (3, 1) and e.value == -0.25 and not e.row_sum
    assert str(e) == "target: probabilities must be >= 0; -0.25 at position (3, 1)"
    y[3, 1], y[3, 2] = np.nan, 0.2
    e = _raises(lk.cross_entropy_with_grad, x, y)
    assert e.position == (3, 1) and np.isnan(e.value)
    assert str(e) == "target: probabilities must not be NaN; nan at position (3, 1)"
    y[3, 1] = 0.7  # row 3 sums to 1.5
    for f in (lk.cross_entropy, lk.multiclass.loss):
        e = _raises(f, x, y)
        assert e.row_sum and e.position == (3,) and e.value == pytest.approx(1.5)
    assert "logitkit.multilabel" in str(e)  # the multi-label hint survives the structured type


def test_soft_target_tolerance_is_the_cpp_one():
    """One tolerance: Python asks the C++ API for it."""
    assert _core.soft_target_tolerance(True, 16) == pytest.approx(4e-3, rel=1e-15)
    assert _core.soft_target_tolerance(False, 1) == 1e-6
    C = 16
    x = np.zeros((1, C))
    tol = _core.soft_target_tolerance(False, C)
    y = np.full((1, C), 1 / C)
    y[0, 0] += 0.9 * tol
    lk.cross_entropy(x, y)  # within
    y[0, 0] += 0.2 * tol
    _raises(lk.cross_entropy, x, y)


# ----------------------------------------------------------------------------- binary


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (300, 101)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bad_binary_target_every_entry_point(isa, dtype, shape, reduction):
    x = _logits(shape, dtype)
    y = np.random.default_rng(2).random(shape).astype(dtype)
    pos = tuple(d - 1 for d in shape)
    y[pos] = 1.5
    want = f"target: probabilities must be in [0, 1]; 1.5 at position {pos}"
    calls = [
        lambda: lk.binary_cross_entropy_with_logits(x, y, reduction=reduction),
        lambda: lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction),
        lambda: lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, weight=2.0),
        lambda: lk.binary_cross_entropy_with_logits(np.asfortranarray(x), y, reduction=reduction),
        lambda: lk.multilabel.loss(x, y, reduction=reduction),
        lambda: lk.multilabel.loss_with_grad(x, y, reduction=reduction),
        lambda: lk.sigmoid_focal_loss(x, y, reduction=reduction),
        lambda: lk.grad_hess(x, y, family="binary"),
    ]
    for call in calls:
        e = _raises(call)
        assert str(e) == want and e.position == pos and e.value == 1.5 and e.argument == "target"


@pytest.mark.parametrize(
    "value", [2.0, -0.1, 1e15, 1e-300 - 1, np.inf, -np.inf, np.nan, 1 + 2**-52]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_target_same_message_one_pass_and_general_path(isa, value, dtype):
    """The one-pass path (the C++ API's describe()) and the general path (Python) format the value
    and the position alike: the fewest digits that read back, Python's tuple notation."""
    x = _logits((3, 5, 4), dtype)
    y = np.full(x.shape, 0.5, dtype)
    y[2, 1, 3] = value
    v = float(y[2, 1, 3])
    if 0 <= v <= 1:
        pytest.skip("the value rounds into [0, 1] in this dtype")
    with pytest.raises(lk.InvalidTargetError) as one_pass:
        _core.bce_reduced(x, y, None, None, 0.0, True, False, None)
    general = _raises(lk.binary_cross_entropy_with_logits, x, y, reduction="none")
    assert str(one_pass.value) == str(general)
    assert one_pass.value.position == general.position == (2, 1, 3)
    assert np.array_equal(one_pass.value.value, general.value, equal_nan=True)
    assert str(general).endswith(f"; {lk._validation.format_value(v)} at position (2, 1, 3)")


def test_format_value_reads_back():
    for v in (2.0, 0.1, -0.25, 1e15, 1e16, 1e-5, 123456789.0, float(np.float32(0.1)), 5e-324):
        s = lk._validation.format_value(v)
        assert float(s) == v
        assert len(s) <= len(repr(v)) + 4
    assert lk._validation.format_value(2.0) == "2"
    assert lk._validation.format_value(np.nan) == "nan"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_unvalidated_bad_binary_target_takes_the_general_path(isa, reduction):
    """validate=False: the one-pass path refuses a bad target (its sum is NaN) and the general path
    computes it, in place too (the logits are intact when the general path reads them)."""
    x = _logits((4, 6), np.float64)
    y = np.random.default_rng(3).random((4, 6))
    y[1, 2] = 1.5
    want_loss, want_grad = lk.binary_cross_entropy_with_logits_with_grad(
        np.asfortranarray(x), y, reduction=reduction, validate=False
    )
    loss, grad = lk.binary_cross_entropy_with_logits_with_grad(
        x, y, reduction=reduction, validate=False
    )
    assert loss == want_loss and np.array_equal(grad, want_grad)
    xi = x.copy()
    loss_i, grad_i = lk.binary_cross_entropy_with_logits_with_grad(
        xi, y, reduction=reduction, validate=False, out=xi
    )
    assert grad_i is xi and loss_i == want_loss and np.array_equal(grad_i, want_grad)
    assert np.isfinite(loss)  # the general path's value, not the one-pass NaN


def test_multilabel_labels_error():
    e = _raises(lk.multilabel.brier_score, np.zeros((2, 3)), np.array([[0, 1, 2.0], [0, 0, 0]]))
    assert str(e) == "labels: must be in [0, 1]; 2 at position (0, 2)"
    assert e.position == (0, 2) and e.value == 2.0 and e.argument == "labels"


# ----------------------------------------------------------------------------- one decision


def test_one_call_paths_decline_arrays_they_do_not_take():
    """The arrays are C++'s half of the one-call decision: ce_hard_small and bce_reduced return
    None (the caller takes the general path) for arrays they do not take as they are, never a
    crash; an invalid reduction code is a ValueError."""
    x = np.zeros((3, 4), np.float32)
    t = np.array([0, 1, 2])
    declined = [
        (np.asfortranarray(np.zeros((3, 4))), t, False, None),
        (np.zeros((3, 4), np.float16), t, False, None),
        (np.zeros((3, 4)).astype(">f8"), t, False, None),
        (np.zeros((3, 4, 1), np.float32), t, False, None),
        (np.zeros((3, 0), np.float32), t, False, None),
        (np.zeros(LARGE), np.zeros(LARGE[0], np.int64), False, None),
        (x, t.astype(np.int32), False, None),
        (x, np.array([0, 1]), False, None),
        (x, t, True, np.zeros((4, 3), np.float32)),
        (x, t, True, np.zeros((3, 4))),
        (x, t, True, np.asfortranarray(np.zeros((3, 4), np.float32))),
        (x, t, True, np.zeros((3, 4), np.float32)[:, ::-1]),
        (x.view(np.ndarray).view(type("Sub", (np.ndarray,), {})), t, False, None),
    ]
    for xx, tt, grad, out in declined:
        assert _small(xx, tt, grad, out) is None, (xx.shape, out)
    buf = np.zeros(13, np.float32)  # out overlaps the logits, not exactly
    assert _small(buf[:12].reshape(3, 4), t, True, buf[1:].reshape(3, 4)) is None
    assert _small(x, t, False, None) is not None
    assert _small(x, t, True, x) is not None  # in place
    y = np.zeros((3, 4), np.float32)
    for xx, yy, pw, w in [
        (x, y, None, np.ones((3, 1), np.float32)),
        (x, y.astype(np.float64), None, None),
        (np.zeros((), np.float32), np.zeros((), np.float32), None, None),
        (np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32), None, None),
        (np.asfortranarray(x), y, None, None),
        (x, y[:, ::-1], None, None),
        (x, y, np.ones(4, np.float32)[::-1], None),
    ]:
        assert _core.bce_reduced(xx, yy, pw, w, 0.0, True, False, None) is None
    assert _core.bce_reduced(x, y, None, np.ones(4, np.float32), 0.0, True, False, None) is not None


def test_predicates():
    """ce_hard_small reads the options as passed: the plain ones take the one call, every other
    (weights, another axis, NumPy or bool scalars, a bad reduction or smoothing, a temperature
    other than the float 1.0, out= without a gradient) returns None for the general path."""
    x = np.zeros((4, 3))
    t = np.array([0, 1, 2, 0])
    opts = {
        "axis": -1,
        "weight": None,
        "ignore_index": -100,
        "label_smoothing": 0.0,
        "reduction": "mean",
        "sample_weight": None,
        "want_grad": False,
        "out": None,
        "temperature": 1.0,
    }

    def small(**kw):
        return _core.ce_hard_small(x, t, **{**opts, **kw})

    assert small() is not None
    assert small(label_smoothing=1, reduction="none") is not None  # an int smoothing
    assert small(reduction="sum", ignore_index=2**63 - 1) is not None
    assert small(want_grad=True, out=x.copy()) is not None
    assert small(want_grad=True, out=x) is not None  # in place
    for kw in (
        {"out": x.copy()},  # out= without a gradient
        {"weight": np.ones(3)},
        {"sample_weight": np.ones(4)},
        {"axis": 1},
        {"axis": np.int64(-1)},
        {"axis": True},
        {"ignore_index": np.int64(-100)},
        {"ignore_index": 2**63},
        {"ignore_index": False},
        {"label_smoothing": 2.0},
        {"label_smoothing": float("nan")},
        {"label_smoothing": np.float64(0.0)},
        {"label_smoothing": True},
        {"reduction": "avg"},
        {"reduction": None},
        {"temperature": 2.0},
        {"temperature": 1},
        {"temperature": np.float64(1.0)},
    ):
        assert small(**kw) is None, kw
    # the general path gives the one call's values for the declined plain-looking options
    xr = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(
        lk.cross_entropy(xr, t, ignore_index=np.int64(-100), temperature=1),
        lk.cross_entropy(xr, t),
    )


# ------------------------------------------------------------------------ entropy's one call


def _same(a, b):
    """The same type, dtype, shape and bits (NaN included)."""
    return (
        type(a) is type(b)
        and a.dtype == b.dtype
        and np.shape(a) == np.shape(b)
        and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10,), (2,), (1, 7), (37, 10), (5, 64), (3, 130)])
def test_entropy_one_call_gives_the_general_paths_results(dtype, shape):
    """entropy and entropy_with_grad through _core.entropy_small (float32/float64 (C,) or (N, C)
    logits as they are, the default axis, temperature and where) give the general path's values,
    gradients, types and bits for every reduction, special rows included; the general path is
    reached here through an equivalent option the one call declines (a NumPy float temperature
    of 1, an axis counted from the front)."""
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    if x.ndim == 2 and x.shape[0] > 3:
        x[1, 0] = np.nan
        x[2, -1] = -np.inf
        x[3, 1] = np.inf
    general = {"temperature": np.float64(1.0), "axis": x.ndim - 1}
    for reduction in ("none", "mean", "sum"):
        assert _core.entropy_small(x, -1, 1.0, None, reduction, False) is not None
        with np.errstate(all="raise"):
            a = lk.entropy(x, reduction=reduction)
            ha, ga = lk.entropy_with_grad(x, reduction=reduction)
        b = lk.entropy(x, reduction=reduction, **general)
        hb, gb = lk.entropy_with_grad(x, reduction=reduction, **general)
        assert _same(a, b), (reduction, a, b)
        assert _same(ha, hb) and _same(ga, gb), reduction
        assert _same(a, ha), reduction  # with or without the gradient: the same value
        # the gufunc's row-by-row path (rows not contiguous: a Fortran-order copy)
        f = np.asfortranarray(x)
        hf, gf = lk.entropy_with_grad(f, reduction=reduction)
        assert _same(hf, ha) and np.array_equal(gf, ga, equal_nan=True), reduction


def test_entropy_one_call_declines_what_it_does_not_take():
    """_core.entropy_small reads the options and the array as passed and returns None (the general
    path) for anything else: another axis or axis type, a temperature other than the float 1.0,
    where=, another reduction, other dtypes, layouts, subclasses, one class, no rows, too many
    elements; never a crash. The general path then computes what the call asked for."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    opts = {"axis": -1, "temperature": 1.0, "where": None, "reduction": "none", "want_grad": False}

    def small(xx=x, **kw):
        return _core.entropy_small(xx, **{**opts, **kw})

    assert small() is not None
    assert small(want_grad=True) is not None
    for kw in (
        {"axis": 1},
        {"axis": 0},
        {"axis": np.int64(-1)},
        {"axis": True},
        {"axis": (-1,)},
        {"temperature": 2.0},
        {"temperature": 1},
        {"temperature": np.float64(1.0)},
        {"where": np.ones((4, 3), bool)},
        {"reduction": "batchmean"},
        {"reduction": None},
    ):
        assert small(**kw) is None, kw
    for xx in (
        np.asfortranarray(x),
        x[:, ::-1],
        x.astype(np.float16),
        x.astype(">f8"),
        x.astype(np.int64),
        x.reshape(2, 2, 3),
        np.zeros(()),
        np.zeros((4, 1)),
        np.zeros((0, 3)),
        np.zeros(LARGE),
        x.view(type("Sub", (np.ndarray,), {})),
        x.tolist(),
    ):
        assert small(xx) is None, getattr(xx, "shape", xx)
    # declined options still compute: where= and a temperature, against the oracle's values
    w = np.array([True, True, False])
    np.testing.assert_allclose(lk.entropy(x, where=w), lk.entropy(x[:, :2]), rtol=1e-15)
    np.testing.assert_allclose(
        lk.entropy(x, temperature=2.0), lk.entropy(x / 2.0), rtol=1e-14, atol=1e-15
    )


# ------------------------------------------------------------------ KL's and JS's one call


@pytest.mark.parametrize("fn", ["kl_divergence", "js_divergence"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10,), (2,), (1, 7), (37, 10), (5, 64), (3, 130)])
def test_divergence_one_call_gives_the_general_paths_results(fn, dtype, shape):
    """kl_divergence and js_divergence (and their _with_grad forms) through
    _core.divergence_small give the general path's values, gradients, types and bits for every
    reduction, special rows included; the general path is reached through equivalent options the
    one call declines."""
    rng = np.random.default_rng(22)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = (x + rng.standard_normal(shape)).astype(dtype)
    if x.ndim == 2 and x.shape[0] > 3:
        x[1, 0] = np.nan
        y[2, -1] = -np.inf  # q has no mass where p has: KL = inf
        x[3, 1] = -np.inf
    f, fg = getattr(lk, fn), getattr(lk, fn + "_with_grad")
    general = {"temperature": np.float64(1.0), "axis": x.ndim - 1}
    reductions = ("none", "mean", "sum") + (("batchmean",) if fn == "kl_divergence" else ())
    kind = 0 if fn == "kl_divergence" else 1
    for reduction in reductions:
        assert _core.divergence_small(kind, x, y, -1, 1.0, 0, False) is not None
        with np.errstate(all="raise"):
            a = f(x, y, reduction=reduction)
            va, ga = fg(x, y, reduction=reduction)
        b = f(x, y, reduction=reduction, **general)
        vb, gb = fg(x, y, reduction=reduction, **general)
        assert _same(a, b), (reduction, a, b)
        assert _same(va, vb) and _same(ga, gb), reduction
        assert _same(a, va), reduction


def test_divergence_one_call_declines_what_it_does_not_take():
    """_core.divergence_small returns None (the general path) for another axis, a temperature other
    than the float 1.0, arrays of two dtypes or shapes, other dtypes, layouts, subclasses, one
    class, no rows or too many elements; a bad kind or scale is a ValueError, never a crash."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = x[::-1].copy()

    def small(xx=x, yy=y, axis=-1, temperature=1.0, scale=0):
        return _core.divergence_small(0, xx, yy, axis, temperature, scale, True)

    assert small() is not None
    for kw in (
        {"axis": 1},
        {"axis": np.int64(-1)},
        {"axis": True},
        {"temperature": 2.0},
        {"temperature": 1},
        {"temperature": np.float64(1.0)},
        {"yy": y.astype(np.float32)},
        {"yy": y[:, :2].copy()},
        {"yy": y.reshape(3, 4)},
        {"yy": y[:, ::-1]},
        {"yy": y.tolist()},
        {"xx": np.asfortranarray(x)},
        {"xx": x.astype(np.float16), "yy": y.astype(np.float16)},
        {"xx": x.astype(">f8"), "yy": y.astype(">f8")},
        {"xx": x.reshape(2, 2, 3), "yy": y.reshape(2, 2, 3)},
        {"xx": np.zeros((4, 1)), "yy": np.zeros((4, 1))},
        {"xx": np.zeros((0, 3)), "yy": np.zeros((0, 3))},
        {"xx": np.zeros(LARGE), "yy": np.zeros(LARGE)},
        {"xx": x.view(type("Sub", (np.ndarray,), {}))},
    ):
        assert small(**kw) is None, kw
    for kind, scale in ((2, 0), (-1, 0), (0, 3), (1, -1)):
        with pytest.raises(ValueError):
            _core.divergence_small(kind, x, y, -1, 1.0, scale, False)


# ------------------------------------------------------------------- binary_entropy's one call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10,), (1,), (1, 7), (37, 10), (3, 4, 5)])
def test_binary_entropy_one_call_gives_the_general_paths_results(dtype, shape):
    """binary_entropy and binary_entropy_with_grad through _core.binary_entropy_small give the
    general path's values, gradients, types and bits for every reduction, NaN and ±inf included
    (the general path reached with a NumPy float temperature of 1, and with a strided view)."""
    rng = np.random.default_rng(23)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    flat = x.reshape(-1)
    for i, v in enumerate([np.nan, np.inf, -np.inf, 40.0, 0.0]):
        if i < flat.size // 2:
            flat[2 * i] = v
    for reduction in ("none", "mean", "sum"):
        assert _core.binary_entropy_small(x, 1.0, reduction, False) is not None
        with np.errstate(all="raise"):
            a = lk.binary_entropy(x, reduction=reduction)
            ha, ga = lk.binary_entropy_with_grad(x, reduction=reduction)
        b = lk.binary_entropy(x, reduction=reduction, temperature=np.float64(1.0))
        hb, gb = lk.binary_entropy_with_grad(x, reduction=reduction, temperature=np.float64(1.0))
        assert _same(a, b), (reduction, a, b)
        assert _same(ha, hb) and _same(ga, gb), reduction
        assert _same(a, ha), reduction
        wide = np.repeat(x, 2, axis=-1)[..., ::2]  # the same values, not contiguous
        hs, gs = lk.binary_entropy_with_grad(wide, reduction=reduction)
        assert np.array_equal(hs, ha, equal_nan=True) and np.array_equal(gs, ga, equal_nan=True)


def test_binary_entropy_one_call_declines_what_it_does_not_take():
    """_core.binary_entropy_small returns None (the general path) for a temperature other than
    the float 1.0, another reduction, 0-d or empty arrays, other dtypes, byte order, layouts,
    subclasses and too many elements."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert _core.binary_entropy_small(x, 1.0, "none", True) is not None
    for t, r in (
        (2.0, "none"),
        (1, "none"),
        (np.float64(1.0), "none"),
        (1.0, "batchmean"),
        (1.0, None),
    ):
        assert _core.binary_entropy_small(x, t, r, False) is None, (t, r)
    for xx in (
        np.zeros(()),
        np.zeros((0, 3)),
        x.astype(np.float16),
        x.astype(">f8"),
        x.astype(np.int64),
        np.asfortranarray(x),
        x[:, ::-1],
        np.zeros(LARGE),
        x.view(type("Sub", (np.ndarray,), {})),
        x.tolist(),
    ):
        assert _core.binary_entropy_small(xx, 1.0, "none", False) is None, getattr(xx, "shape", xx)
