"""Dask and xarray: every function that maps over rows keeps a Dask array lazy, and its computed
result is the NumPy result for the same input.

The oracle is the NumPy call itself (whose values the other test files check against plain NumPy
float64 and mpmath): a block of rows goes through the NumPy function, so per-item losses, gradients,
Hessians, predictions and top-k are the same bits. Two things differ by design, with the tolerance
stated where they are compared:
- a "sum" or "mean" adds the per-item losses block by block in float64 (NumPy adds all of them in
  one pairwise sum, or in the C++ one-pass sum): a different order of summation, so the scalar
  agrees to the rounding of a sum, relative 1e-6 (float32) / 1e-13 (float64);
- a "mean" gradient of the binary losses is the block's gradient (rounded to the dtype) times 1/N
  (rounded to the dtype), rounded again; NumPy scales before it rounds once: within 2 ulp. The multi-class "mean" gradient is scaled inside the
  kernel as NumPy does, so it has the same bits whenever Σ weights comes out the same; the tests use
  weights that are multiples of 1/4, whose sums are exact in any order.
"""

from __future__ import annotations

import re
import warnings

import logitkit as lk
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask
from dask.array.utils import assert_eq

RNG = np.random.default_rng(16)
CHUNKS = {"one": 12, "several": 4, "uneven": (5, 1, 6)}
TOL = {np.float32: 1e-6, np.float64: 1e-13}


def _compute(*a):
    """The computed values, after checking each lazy result against what it computes: the dtype,
    shape and chunks it declared (what downstream Dask code plans with), and its meta."""
    got = dask.compute(*a, scheduler="synchronous")
    for lazy, value in zip(a, got, strict=True):
        if isinstance(lazy, da.Array):
            assert_eq(lazy, value, check_graph=False, scheduler="synchronous")
            assert lazy._meta.dtype == value.dtype and type(lazy._meta) is type(np.asarray(value))
    return got


def _lazy(*a):
    for r in a:
        assert isinstance(r, da.Array), type(r)


def _quarters(shape):
    """Weights that are multiples of 1/4: their sums are exact in any order."""
    return RNG.integers(1, 9, shape) / 4.0


def _same(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _close_scalar(got, want, dtype):
    assert got.shape == () and got.dtype == np.asarray(want).dtype
    np.testing.assert_allclose(float(got), float(want), rtol=TOL[dtype], atol=0)


def _within_ulp(got, want, n=2):
    assert got.dtype == want.dtype and got.shape == want.shape
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(diff <= n * np.spacing(np.abs(want)).astype(np.float64)), np.max(diff)


def _logits(dtype, shape=(12, 5)):
    return (RNG.normal(0, 3, shape)).astype(dtype)


def _rows_of(x, chunks, ax=-1):
    """x as a Dask array chunked along its first non-class axis, the class axis whole."""
    c = [-1] * x.ndim
    first = 0 if ax % x.ndim != 0 else 1
    c[first] = chunks
    return da.from_array(x, chunks=tuple(c))


# ----------------------------------------------------------------------------- multi-class losses


def _ce_cases():
    n, C = 12, 5
    hard = RNG.integers(0, C, n)
    hard[[2, 7]] = -100
    soft = RNG.random((n, C))
    soft /= soft.sum(axis=1, keepdims=True)
    w = _quarters(C)
    sw = _quarters(n)
    return {
        "hard": (hard, {}),
        "ignore": (hard, {"ignore_index": -100}),
        "weight": (hard, {"weight": w}),
        "sample_weight": (hard, {"sample_weight": sw}),
        "all": (hard, {"weight": w, "sample_weight": sw, "label_smoothing": 0.1}),
        "soft": (soft, {}),
        "soft_sw": (soft, {"sample_weight": sw, "label_smoothing": 0.2}),
    }


CE_CASES = _ce_cases()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunks", list(CHUNKS))
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_cross_entropy_is_lazy_and_equals_numpy(dtype, case, chunks, reduction):
    target, kw = CE_CASES[case]
    x = _logits(dtype)
    dx = _rows_of(x, CHUNKS[chunks])
    want = lk.cross_entropy_with_grad(x, target, reduction=reduction, **kw)
    got = lk.cross_entropy_with_grad(dx, target, reduction=reduction, **kw)
    _lazy(*got)
    loss, grad = _compute(*got)
    _same(grad, want[1])  # "mean": the same Σ weights, so the same factor inside the kernel
    if reduction == "none":
        _same(loss, want[0])
    else:
        _close_scalar(loss, want[0], dtype)
    plain = lk.cross_entropy(dx, target, reduction=reduction, **kw)
    _lazy(plain)
    (p,) = _compute(plain)
    assert p.dtype == loss.dtype and np.array_equal(p, loss)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_axis_not_last(reduction):
    """(N, C, H) logits with axis=1, chunked along N and H; target and sample_weight as Dask
    arrays with chunks of their own (aligned to the logits')."""
    x = _logits(np.float64, (7, 4, 3))
    t = RNG.integers(0, 4, (7, 3))
    t[1, 2] = -1
    sw = _quarters((7, 3))
    dx = da.from_array(x, chunks=(3, 4, 2))
    dt, dsw = da.from_array(t, chunks=(2, 1)), da.from_array(sw, chunks=(4, 3))
    kw = {"axis": 1, "ignore_index": -1, "reduction": reduction, "weight": _quarters(4)}
    want = lk.cross_entropy_with_grad(x, t, sample_weight=sw, **kw)
    got = lk.cross_entropy_with_grad(dx, dt, sample_weight=dsw, **kw)
    _lazy(*got)
    loss, grad = _compute(*got)
    _same(grad, want[1])
    if reduction == "none":
        _same(loss, want[0])
    else:
        _close_scalar(loss, want[0], np.float64)


def test_cross_entropy_all_ignored_mean_is_nan_without_warning():
    x = _logits(np.float32)
    t = np.full(12, -100)
    r = lk.cross_entropy_with_grad(_rows_of(x, 4), t)
    _lazy(*r)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = _compute(*r)
    assert loss.dtype == np.float32 and np.isnan(loss)
    _same(grad, lk.cross_entropy_with_grad(x, t)[1])


def test_cross_entropy_one_row():
    """1-D logits are one item: the result is a lazy 0-d array too."""
    x = _logits(np.float64, (6,))
    for reduction in ("mean", "none"):
        got = lk.cross_entropy_with_grad(da.from_array(x), 3, reduction=reduction)
        _lazy(*got)
        loss, grad = _compute(*got)
        want = lk.cross_entropy_with_grad(x, 3, reduction=reduction)
        _same(grad, want[1])
        assert loss.shape == () and np.isclose(loss, want[0], rtol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunks", list(CHUNKS))
def test_nll_loss(chunks, reduction):
    x = _logits(np.float64)
    lp = lk.log_softmax(x)
    t = RNG.integers(0, 5, 12)
    t[4] = -100
    kw = {"weight": _quarters(5), "sample_weight": _quarters(12), "reduction": reduction}
    got = lk.nll_loss(lk.log_softmax(_rows_of(x, CHUNKS[chunks])), t, **kw)
    _lazy(got)
    (g,) = _compute(got)
    want = lk.nll_loss(lp, t, **kw)
    if reduction == "none":
        _same(g, want)
    else:
        _close_scalar(g, want, np.float64)


@pytest.mark.parametrize("chunks", list(CHUNKS))
@pytest.mark.parametrize("case", ["hard", "all", "soft_sw"])
def test_grad_hess_multiclass(case, chunks):
    target, kw = CE_CASES[case]
    kw = {k: v for k, v in kw.items() if k != "ignore_index"}
    x = _logits(np.float32)
    if case != "soft_sw":
        target = np.where(target < 0, 0, target)
    got = lk.grad_hess(_rows_of(x, CHUNKS[chunks]), target, family="multiclass", **kw)
    _lazy(*got)
    g, h = _compute(*got)
    want = lk.grad_hess(x, target, family="multiclass", **kw)
    _same(g, want[0])
    _same(h, want[1])


# ----------------------------------------------------------------------------- binary losses


def _bce_cases():
    y = (RNG.random((12, 5)) > 0.5).astype(np.float64)
    soft = RNG.random((12, 5))
    return {
        "plain": (y, {}),
        "pos_weight": (y, {"pos_weight": _quarters(5)}),
        "weight_elementwise": (soft, {"weight": _quarters((12, 5)), "label_smoothing": 0.1}),
        "weight_rows": (y, {"weight": _quarters((12, 1))}),
    }


BCE_CASES = _bce_cases()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunks", [(12, 5), (4, 5), ((5, 1, 6), (2, 3))])
@pytest.mark.parametrize("case", list(BCE_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bce_is_lazy_and_equals_numpy(dtype, case, chunks, reduction):
    """Elementwise: the class axis may be chunked too."""
    y, kw = BCE_CASES[case]
    x = _logits(dtype)
    dx = da.from_array(x, chunks=chunks)
    want = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction, **kw)
    got = lk.binary_cross_entropy_with_logits_with_grad(dx, y, reduction=reduction, **kw)
    _lazy(*got)
    loss, grad = _compute(*got)
    if reduction == "mean":
        _within_ulp(grad, want[1])  # the block's gradient times 1/N: more roundings
    else:
        _same(grad, want[1])
    if reduction == "none":
        _same(loss, want[0])
    else:
        _close_scalar(loss, want[0], dtype)
    plain = lk.binary_cross_entropy_with_logits(dx, y, reduction=reduction, **kw)
    _lazy(plain)
    assert np.array_equal(_compute(plain)[0], loss)


def test_bce_per_class_weight_along_axis_0():
    """A 1-d pos_weight lies along the class axis, here axis 0 of (C, N) logits."""
    x = _logits(np.float64, (5, 12))
    y = (RNG.random((5, 12)) > 0.5).astype(np.float64)
    pw = _quarters(5)
    dx = da.from_array(x, chunks=(2, 5))
    got = lk.binary_cross_entropy_with_logits(dx, da.from_array(y, chunks=3), axis=0, pos_weight=pw)
    _lazy(got)
    want = lk.binary_cross_entropy_with_logits(x, y, axis=0, pos_weight=pw)
    _close_scalar(_compute(got)[0], want, np.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_focal_loss(gamma, reduction):
    x = _logits(np.float32)
    y = RNG.random((12, 5))
    dx = da.from_array(x, chunks=(5, 2))
    want = lk.sigmoid_focal_loss_with_grad(x, y, gamma=gamma, reduction=reduction)
    got = lk.sigmoid_focal_loss_with_grad(dx, y, gamma=gamma, reduction=reduction)
    _lazy(*got)
    loss, grad = _compute(*got)
    (_within_ulp if reduction == "mean" else _same)(grad, want[1])
    if reduction == "none":
        _same(loss, want[0])
    else:
        _close_scalar(loss, want[0], np.float32)
    plain = lk.sigmoid_focal_loss(dx, y, gamma=gamma, reduction=reduction)
    _lazy(plain)
    assert np.array_equal(_compute(plain)[0], loss)


def test_grad_hess_binary():
    x = _logits(np.float64)
    y, kw = BCE_CASES["weight_elementwise"]
    got = lk.grad_hess(da.from_array(x, chunks=(5, 3)), y, family="binary", **kw)
    _lazy(*got)
    g, h = _compute(*got)
    want = lk.grad_hess(x, y, family="binary", **kw)
    _same(g, want[0])
    _same(h, want[1])


# ----------------------------------------------------------------------------- the modules' verbs


def test_multiclass_verbs():
    x = _logits(np.float64, (12, 5))
    t = RNG.integers(0, 5, 12)
    dx = _rows_of(x, (5, 1, 6))
    got = [
        lk.multiclass.loss(dx, t, label_smoothing=0.1),
        *lk.multiclass.loss_with_grad(dx, t, reduction="none"),
        *lk.multiclass.grad_hess(dx, t),
        lk.multiclass.predict(dx),
        *lk.multiclass.top_k(dx, 3, temperature=2.0),
        lk.multiclass.proba(dx),
        lk.multiclass.MultiClass(temperature=1.5).predict(dx),
    ]
    _lazy(*got)
    c = _compute(*got)
    _close_scalar(c[0], lk.multiclass.loss(x, t, label_smoothing=0.1), np.float64)
    want = [
        *lk.multiclass.loss_with_grad(x, t, reduction="none"),
        *lk.multiclass.grad_hess(x, t),
        lk.multiclass.predict(x),
        *lk.multiclass.top_k(x, 3, temperature=2.0),
        lk.multiclass.proba(x),
        lk.multiclass.predict(x),
    ]
    for g, w in zip(c[1:], want):
        _same(g, w)


def test_multilabel_verbs_with_per_class_options_and_chunked_classes():
    """The transforms and predict are elementwise: each block of classes gets its slice of the
    per-class temperature, bias and threshold."""
    x = _logits(np.float64, (12, 5))
    y = (RNG.random((12, 5)) > 0.5).astype(np.float64)
    T, b, th = np.array([0.5, 1, 2, 3, 4]), np.array([0, 0.5, -1, 2, 0]), np.linspace(0.1, 0.9, 5)
    dx = da.from_array(x, chunks=(5, 2))
    opts = {"temperature": T, "bias": b}
    got = [
        lk.multilabel.proba(dx, **opts),
        lk.multilabel.log_proba(dx, complement=True, **opts),
        lk.multilabel.predict(dx, threshold=th, **opts),
        *lk.multilabel.loss_with_grad(dx, y, reduction="sum"),
        *lk.multilabel.grad_hess(dx, y),
    ]
    _lazy(*got)
    c = _compute(*got)
    want = [
        lk.multilabel.proba(x, **opts),
        lk.multilabel.log_proba(x, complement=True, **opts),
        lk.multilabel.predict(x, threshold=th, **opts),
        *lk.multilabel.loss_with_grad(x, y, reduction="sum"),
        *lk.multilabel.grad_hess(x, y),
    ]
    for i, (g, w) in enumerate(zip(c, want)):
        if i == 3:
            _close_scalar(g, w, np.float64)
        else:
            _same(g, w)
    idx, p = lk.multilabel.top_k(dx.rechunk({1: -1}), 2, **opts)
    _lazy(idx, p)
    wi, wp = lk.multilabel.top_k(x, 2, **opts)
    gi, gp = _compute(idx, p)
    _same(gi, wi)
    _same(gp, wp)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_predict_and_top_k_any_class_axis(axis):
    x = _logits(np.float32, (6, 5, 4))
    chunks = tuple(-1 if i == axis else 2 for i in range(3))
    dx = da.from_array(x, chunks=chunks)
    pred = lk.multiclass.predict(dx, axis=axis)
    idx, p = lk.multiclass.top_k(dx, 2, axis=axis)
    _lazy(pred, idx, p)
    gp, gi, gpp = _compute(pred, idx, p)
    _same(gp, lk.multiclass.predict(x, axis=axis))
    wi, wp = lk.multiclass.top_k(x, 2, axis=axis)
    _same(gi, wi)
    _same(gpp, wp)


def test_predict_nan_row_names_the_global_row():
    x = _logits(np.float64, (12, 5))
    x[9, 2] = np.nan
    with pytest.raises(ValueError) as want:
        lk.multiclass.predict(x)
    r = lk.multiclass.predict(_rows_of(x, 4))  # row 9 is row 1 of the third block
    _lazy(r)
    with pytest.raises(ValueError) as got:
        _compute(r)
    assert str(got.value) == str(want.value) and "(9,)" in str(got.value)


# ----------------------------------------------------------------------------- errors


def _bad_labels():
    t = RNG.integers(0, 5, 12)
    t[9] = 7  # in the third block of 4 rows
    return t


@pytest.mark.parametrize(
    "call",
    [
        lambda x, t: lk.cross_entropy(x, t),
        lambda x, t: lk.cross_entropy_with_grad(x, t, reduction="none")[1],
        lambda x, t: lk.nll_loss(lk.log_softmax(x), t, reduction="sum"),
        lambda x, t: lk.grad_hess(x, t, family="multiclass")[1],
        lambda x, t: lk.multiclass.loss(x, t),
    ],
    ids=["ce", "ce_grad", "nll", "grad_hess", "multiclass.loss"],
)
def test_invalid_label_raises_the_numpy_message_at_compute(call):
    """The label is checked when its block is computed: the same InvalidTargetError, with the
    position in the whole array, not in the block."""
    x, t = _logits(np.float64), _bad_labels()
    with pytest.raises(lk.InvalidTargetError) as want:
        call(x, t)
    r = call(_rows_of(x, 4), t)
    _lazy(r)
    with pytest.raises(lk.InvalidTargetError) as got:
        _compute(r)
    assert str(got.value) == str(want.value)
    assert got.value.position == want.value.position == (9,)
    assert got.value.value == 7


def test_nll_loss_log_probs_check_names_the_global_row():
    lp = lk.log_softmax(_logits(np.float64))
    lp[10] += 1.0  # row 10 is not log-probabilities
    t = RNG.integers(0, 5, 12)
    with pytest.raises(ValueError) as want:
        lk.nll_loss(lp, t)
    r = lk.nll_loss(_rows_of(lp, 4), t)
    _lazy(r)
    with pytest.raises(ValueError) as got:
        _compute(r)
    assert str(got.value) == str(want.value) and "row (10,)" in str(got.value)


def test_invalid_soft_and_binary_targets_at_compute():
    x = _logits(np.float64)
    soft = np.full((12, 5), 0.2)
    soft[10] = [0.5, 0.5, 0.5, 0.0, 0.0]  # a row that sums to 1.5
    y = (RNG.random((12, 5)) > 0.5).astype(np.float64)
    y[6, 3] = 1.5
    for fn, t in ((lk.cross_entropy, soft), (lk.binary_cross_entropy_with_logits, y)):
        with pytest.raises(lk.InvalidTargetError) as want:
            fn(x, t, reduction="none")
        r = fn(da.from_array(x, chunks=(4, 5)), t, reduction="none")
        with pytest.raises(lk.InvalidTargetError) as got:
            _compute(r)
        assert str(got.value) == str(want.value)
        assert got.value.position == want.value.position


def test_argument_errors_are_raised_at_the_call():
    """Options, dtypes and shapes need no values: they raise when the graph is built, with the
    NumPy call's message."""
    x = _logits(np.float64)
    dx = _rows_of(x, 4)
    t = RNG.integers(0, 5, 12)
    calls = [
        lambda a: lk.cross_entropy(a, t, reduction="avg"),
        lambda a: lk.cross_entropy(a, t[:11]),
        lambda a: lk.cross_entropy(a.T, t[:3], axis=0),
        lambda a: lk.cross_entropy(a[0], t[:2], axis=-1),
        lambda a: lk.cross_entropy(a, t, weight=np.ones(4)),
        lambda a: lk.cross_entropy(a, t, sample_weight=np.ones(5)),
        lambda a: lk.cross_entropy(a, t, label_smoothing=2.0),
        lambda a: lk.cross_entropy(a, t.astype(complex)),
        lambda a: lk.nll_loss(a, t.astype(np.float64)),
        lambda a: lk.binary_cross_entropy_with_logits(a, np.zeros((12, 4))),
        lambda a: lk.binary_cross_entropy_with_logits(a, np.zeros((12, 5)), pos_weight=np.ones(3)),
        lambda a: lk.grad_hess(a, t, family="poisson"),
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError)) as want:
            call(x)
        with pytest.raises(want.type) as got:
            call(dx)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError, match="out: not supported for Dask"):
        lk.cross_entropy_with_grad(dx, t, out=np.empty((12, 5)))


_SPLIT = da.from_array(RNG.normal(size=(6, 8, 3)), chunks=(3, 4, 3))  # class axis 1 in 2 chunks
_T = RNG.integers(0, 8, (6, 3))
_ROW_ENTRY_POINTS = {
    "softmax": lambda: lk.softmax(_SPLIT, axis=1),
    "log_softmax": lambda: lk.log_softmax(_SPLIT, axis=1, temperature=2.0),
    "logsumexp": lambda: lk.logsumexp(_SPLIT, axis=1),
    "softmax_backward": lambda: lk.softmax_backward(_SPLIT, _SPLIT, axis=1),
    "log_softmax_backward": lambda: lk.log_softmax_backward(_SPLIT, _SPLIT, axis=1),
    "cross_entropy": lambda: lk.cross_entropy(_SPLIT, _T, axis=1),
    "cross_entropy_with_grad": lambda: lk.cross_entropy_with_grad(_SPLIT, _T, axis=1),
    "nll_loss": lambda: lk.nll_loss(_SPLIT, _T, axis=1),
    "grad_hess": lambda: lk.grad_hess(_SPLIT, _T, axis=1, family="multiclass"),
    "multiclass.proba": lambda: lk.multiclass.proba(_SPLIT, axis=1),
    "multiclass.log_proba": lambda: lk.multiclass.log_proba(_SPLIT, axis=1),
    "multiclass.predict": lambda: lk.multiclass.predict(_SPLIT, axis=1),
    "multiclass.top_k": lambda: lk.multiclass.top_k(_SPLIT, 2, axis=1),
    "multiclass.loss": lambda: lk.multiclass.loss(_SPLIT, _T, axis=1),
    "multiclass.loss_with_grad": lambda: lk.multiclass.loss_with_grad(_SPLIT, _T, axis=1),
    "multiclass.grad_hess": lambda: lk.multiclass.grad_hess(_SPLIT, _T, axis=1),
    "multilabel.top_k": lambda: lk.multilabel.top_k(_SPLIT, 2, axis=1),
}


@pytest.mark.parametrize("name", list(_ROW_ENTRY_POINTS))
def test_split_class_axis_says_how_to_rechunk(name):
    with pytest.raises(ValueError) as e:
        _ROW_ENTRY_POINTS[name]()
    msg = str(e.value)
    assert "rechunk({1: -1})" in msg and "class axis 1" in msg and "2 chunks" in msg, msg
    assert "Core dimension" not in msg


def test_split_class_axis_last_names_its_number():
    x = da.from_array(RNG.normal(size=(4, 6)), chunks=(2, 3))
    with pytest.raises(ValueError, match=re.escape("x.rechunk({1: -1})")):
        lk.softmax(x)
    r = lk.softmax(x.rechunk({1: -1}))  # the advice works
    _same(_compute(r)[0], lk.softmax(x.compute()))


# ----------------------------------------------------------------------------- calibration


def test_calibration_computes_eagerly_and_equals_numpy():
    """fit_temperature, expected_calibration_error and brier_score compute their Dask inputs (any
    chunks) and return Python floats, the NumPy call's values."""
    x = _logits(np.float64, (40, 4))
    t = np.argmax(x + RNG.normal(0, 3, x.shape), axis=1)
    y = (x + RNG.normal(0, 3, x.shape) > 0).astype(np.float64)
    dx = da.from_array(x, chunks=(7, 2))
    dy = da.from_array(y, chunks=(11, 4))
    reads = []

    def counted(b):
        if b.size:  # not the empty block Dask may call it with to infer the type
            reads.append(b.shape)
        return b

    mc = lk.multiclass
    for fn in (mc.fit_temperature, mc.expected_calibration_error, mc.brier_score):
        reads.clear()
        dt = da.from_array(t, chunks=9).map_blocks(counted, dtype=t.dtype)
        got = fn(dx, dt)
        assert type(got) is float and got == fn(x, t), fn.__name__
        assert len(reads) == 5, (fn.__name__, len(reads))  # each block of labels computed once
    ml = lk.multilabel
    for fn in (ml.expected_calibration_error, ml.brier_score):
        got = fn(dx, dy)
        assert type(got) is float and got == fn(x, y), fn.__name__
    got, want = ml.fit_temperature(dx, dy), ml.fit_temperature(x, y)
    _same(got.temperature, want.temperature)
    _same(got.bias, want.bias)


# ----------------------------------------------------------------------------- xarray


@pytest.fixture
def xr():
    return pytest.importorskip("xarray")


def _data_array(xr, shape=(5, 4, 3)):
    x = RNG.normal(0, 3, shape)
    return x, xr.DataArray(x, dims=("n", "class", "h"), coords={"class": list("abcd")})


def test_xarray_elementwise(xr):
    x, a = _data_array(xr)
    r = lk.sigmoid(a)
    assert isinstance(r, xr.DataArray) and r.dims == a.dims
    _same(r.values, lk.sigmoid(x))


@pytest.mark.parametrize("axis", [1, -2, "class"])
def test_xarray_row_functions(xr, axis):
    """softmax / log_softmax / logsumexp take a DataArray, along a dimension number or name; the
    result keeps the dimensions, their order and coordinates."""
    x, a = _data_array(xr)
    for fn, kw in ((lk.softmax, {}), (lk.log_softmax, {"temperature": 2.0}), (lk.logsumexp, {})):
        r = fn(a, axis=axis, **kw)
        assert isinstance(r, xr.DataArray)
        assert r.dims == (a.dims if fn is not lk.logsumexp else ("n", "h"))
        _same(r.values, fn(x, axis=1, **kw))
    r = lk.logsumexp(a, axis=axis, keepdims=True)
    assert r.dims == a.dims and r.shape == (5, 1, 3)
    _same(r.values, lk.logsumexp(x, axis=1, keepdims=True))
    assert list(lk.softmax(a, axis=axis).coords["class"].values) == list("abcd")


def test_xarray_dask_backed_stays_lazy(xr):
    x, a = _data_array(xr)
    r = lk.softmax(a.chunk({"n": 2}), axis="class")
    assert isinstance(r.data, da.Array)
    _same(r.values, lk.softmax(x, axis=1))
    with pytest.raises(ValueError, match=re.escape("rechunk({")):
        lk.softmax(a.chunk({"class": 2}), axis="class")


def test_xarray_apply_ufunc_recipe(xr):
    """The README's recipe: xr.apply_ufunc with the class dimension as the core dimension."""
    x, a = _data_array(xr)
    r = xr.apply_ufunc(lk.softmax, a, input_core_dims=[["class"]], output_core_dims=[["class"]])
    assert r.dims == ("n", "h", "class")
    _same(r.transpose(*a.dims).values, lk.softmax(x, axis=1))


def test_xarray_refuses_out_and_where_by_name(xr):
    _, a = _data_array(xr)
    with pytest.raises(TypeError, match="out, where"):
        lk.softmax(a, axis=1, where=np.ones(a.shape, bool))
    with pytest.raises(ValueError, match="'klass' is not a dimension"):
        lk.softmax(a, axis="klass")


class _TaskCount(dask.callbacks.Callback):
    """Counts the tasks dask runs while it is active (a graph being built runs none)."""

    def __init__(self):
        super().__init__()
        self.ran = 0

    def _pretask(self, key, dsk, state):
        self.ran += 1


def test_building_a_graph_computes_nothing():
    """Dask operands (logits, targets, per-item and per-element weights) stay lazy while the call
    builds its graph: no task runs until compute, also when an argument's shape is wrong (the error
    comes from shapes alone). The same calls then compute the NumPy result. (cross_entropy's class
    weight, C values, is read when the call is made: it enters the mean's denominator.)"""
    x = _logits(np.float64)
    t = RNG.integers(0, 5, 12)
    y = (RNG.random((12, 5)) > 0.5).astype(np.float64)
    w, sw, pw = _quarters(5), _quarters(12), _quarters(5)
    dx, dt, dy = _rows_of(x, 4), da.from_array(t, chunks=4), _rows_of(y, 4)
    dw, dsw, dpw = da.from_array(w, 5), da.from_array(sw, 4), da.from_array(pw, 5)
    with _TaskCount() as count:
        lazy = [
            lk.cross_entropy(dx, dt, weight=w, sample_weight=dsw, reduction="sum"),
            lk.cross_entropy(dx.T, dt, weight=w, axis=0, reduction="none"),
            lk.binary_cross_entropy_with_logits(
                dx, dy, weight=dw, pos_weight=dpw, reduction="none"
            ),
            lk.binary_cross_entropy_with_logits(
                dx.T, dy.T, pos_weight=dpw, axis=0, reduction="sum"
            ),
            lk.multilabel.loss(dx, dy, reduction="none"),
        ]
        for bad in (
            lambda: lk.cross_entropy(dx, dt[:11]),
            lambda: lk.cross_entropy(dx, dt, sample_weight=dsw[:5]),
            lambda: lk.binary_cross_entropy_with_logits(dx, dy, pos_weight=dpw[:3]),
        ):
            with pytest.raises(ValueError):
                bad()
    assert count.ran == 0
    want = [
        lk.cross_entropy(x, t, weight=w, sample_weight=sw, reduction="sum"),
        lk.cross_entropy(x.T, t, weight=w, axis=0, reduction="none"),
        lk.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw, reduction="none"),
        lk.binary_cross_entropy_with_logits(x.T, y.T, pos_weight=pw, axis=0, reduction="sum"),
        lk.multilabel.loss(x, y, reduction="none"),
    ]
    got = _compute(*lazy)
    _close_scalar(got[0], want[0], np.float64)
    _same(got[1], want[1])
    _same(got[2], want[2])
    _close_scalar(got[3], want[3], np.float64)
    _same(got[4], want[4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_declared_dtype_is_the_computed_dtype(dtype):
    """A lazy result's dtype (what dask reports before computing) is the dtype it computes to."""
    x = _logits(dtype)
    dx = da.from_array(x, chunks=(5, 2))
    T = np.array([0.5, 1, 2, 3, 4])
    lazy = [
        lk.multilabel.proba(dx, temperature=T),
        lk.multilabel.log_proba(dx, complement=True),
        lk.multilabel.predict(dx),
        lk.multiclass.predict(_rows_of(x, 4)),
        *lk.multiclass.top_k(_rows_of(x, 4), 2),
        lk.softmax(_rows_of(x, 4)),
    ]
    lazy += [*lk.multilabel.top_k(_rows_of(x, 4), 2)]
    lazy += [*lk.cross_entropy_with_grad(_rows_of(x, 4), RNG.integers(0, 5, 12), reduction="none")]
    for lz, c in zip(lazy, _compute(*lazy)):
        assert lz.dtype == c.dtype and lz.shape == c.shape
    assert lazy[0].dtype == dtype and lazy[-1].dtype == dtype


def test_predict_at_the_cut_is_the_numpy_decision():
    """A logit exactly at the cut (p exactly the threshold) is not predicted, lazily as eagerly."""
    x = np.array([[0.0, 1e-300, -1e-300, 2.0], [0.0, -0.0, 5.0, -5.0]])
    T = np.array([1.0, 1.0, 2.0, 0.5])
    for kw in ({}, {"temperature": T}, {"threshold": 0.5, "bias": 0.0}):
        got = _compute(lk.multilabel.predict(da.from_array(x, chunks=(1, 2)), **kw))[0]
        _same(got, lk.multilabel.predict(x, **kw))
    assert not lk.multilabel.predict(x)[:, 0].any()


def test_bce_with_a_full_weight_on_square_logits():
    """A weight with the logits' shape is one value per element, also when the batch and the
    classes have the same length (a square array is not read as one weight per class)."""
    x = _logits(np.float64, (5, 5))
    y = (RNG.random((5, 5)) > 0.5).astype(np.float64)
    w = _quarters((5, 5))
    dx = _rows_of(x, 2)
    for reduction in ("none", "sum"):
        lazy = lk.binary_cross_entropy_with_logits(
            dx, y, weight=da.from_array(w, 2), reduction=reduction
        )
        got = _compute(lazy)[0]
        want = lk.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction)
        if reduction == "none":
            _same(got, want)
        else:
            _close_scalar(got, want, np.float64)


# ----------------------------------------------------------------------------- every function


def _dask_rows(v, rows, class_axis_first=False):
    """v with every array of `rows` rows (logits, targets, masks, per-row weights) as a Dask array
    in chunks of 7 rows; per-class arrays and options unchanged. With the class axis first (axis=0),
    the rows are the second axis of 2-d arrays: those are chunked along it, the class axis whole."""
    if isinstance(v, np.ndarray) and v.ndim >= 1 and v.dtype.kind in "fiub":
        if class_axis_first and v.ndim == 2 and v.shape[1] == rows:
            return da.from_array(v, chunks=(-1, 7))
        if v.shape[0] == rows and (v.ndim == 1 or not class_axis_first):
            return da.from_array(v, chunks=(7,) + v.shape[1:])
        return v
    if isinstance(v, tuple):
        return tuple(_dask_rows(a, rows, class_axis_first) for a in v)
    if isinstance(v, dict):
        return {k: _dask_rows(a, rows, class_axis_first) for k, a in v.items()}
    return v


def _api():
    import test_api_invariants as api

    return api


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(_api().EXAMPLES))
def test_every_function_on_dask_rows_is_the_numpy_result(name, dtype):
    """Every public function with its operands as Dask arrays chunked along the rows: a lazy result
    (dtype, shape, chunks and meta as declared) or an eager one (the functions that compute
    eagerly), and the values for the NumPy arrays: the same bits, but for a reduction (to the
    rounding of a sum) and a binary loss's 'mean' gradient (2 ulp: the module's docstring)."""
    api = _api()
    rows = 24
    d = api.make_inputs(dtype, rows, 33)
    fn, _ = api._resolve(name, d)
    for i, call in enumerate(api.EXAMPLES[name](d)):
        first = call.kwargs.get("axis") == 0
        n = call.args[0].shape[1] if first else rows  # the rows: the axis that is not the classes
        args, kwargs = _dask_rows(call.args, n, first), _dask_rows(call.kwargs, n, first)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = fn(*call.args, **call.kwargs)
            got = fn(*args, **kwargs)
            parts = list(got) if isinstance(got, tuple) else [got]
            values = _compute(*parts)
        got_leaves = api._leaves(tuple(values) if isinstance(got, tuple) else values[0])
        want_leaves = api._leaves(want)
        assert len(got_leaves) == len(want_leaves), f"{name} call {i}"
        for k, (g, w) in enumerate(zip(got_leaves, want_leaves, strict=True)):
            assert g.dtype == w.dtype and g.shape == w.shape, f"{name} call {i} output {k}"
            if g.ndim == 0 and g.dtype.kind == "f":  # a reduction: blockwise sums
                np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=0, equal_nan=True)
            elif g.dtype.kind == "f":
                with np.errstate(invalid="ignore"):
                    ok = (g == w) | (np.isnan(g) & np.isnan(w))
                    ok |= np.abs(g - w) <= 2 * np.spacing(np.abs(w))
                assert ok.all(), f"{name} call {i} output {k}: {np.argwhere(~ok)[:3].tolist()}"
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{name} call {i} output {k}")


@pytest.mark.parametrize("form", ["list", "dask"])
def test_class_weights_as_a_list_or_a_dask_array(form):
    """A class weight (and BCE's pos_weight) given as a Python list or a Dask array weighs the
    lazy losses as the NumPy array does."""
    x = _logits(np.float64)
    t = RNG.integers(0, 5, 12)
    y = (RNG.random((12, 5)) > 0.5).astype(np.float64)
    w, pw = _quarters(5), _quarters(5)
    as_form = (lambda a: a.tolist()) if form == "list" else (lambda a: da.from_array(a, 5))
    dx = _rows_of(x, 4)
    got = _compute(
        lk.cross_entropy(dx, t, weight=as_form(w), reduction="none"),
        lk.binary_cross_entropy_with_logits(dx, y, pos_weight=as_form(pw), reduction="none"),
    )
    _same(got[0], lk.cross_entropy(x, t, weight=w, reduction="none"))
    _same(got[1], lk.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none"))
    (mean,) = _compute(lk.cross_entropy(dx, t, weight=as_form(w)))  # Σ weights: the denominator
    _close_scalar(mean, lk.cross_entropy(x, t, weight=w), np.float64)
