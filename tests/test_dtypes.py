"""Result dtypes of every public function, float16 and bfloat16 (ml_dtypes).

The rule (docs: README "dtypes"): transforms and backward rules return the logits' dtype (float16
and bfloat16 computed in float32 and rounded once); losses return float16 for float16 logits and
float32 for bfloat16 logits, gradients and Hessians the logits' dtype; logsumexp of bfloat16 is
float32; calibration values are Python floats (temperatures of multilabel: float64 arrays);
predictions are integer indices (multiclass) or bool (multilabel).

bfloat16 values are checked against the float64 / long double oracles of tests/oracle.py, run on
the bfloat16 input's exact values: a transform's result is within half a bfloat16 ulp of the exact
value plus the float32 kernel's own error (so it is the correctly rounded bfloat16 except where the
exact value lies within that error of a rounding boundary).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry
from logitkit import _core, multiclass, multilabel

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)

rng0 = np.random.default_rng(16)


def _x(dtype, shape, scale=4.0, rng=rng0):
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(dtype)


def _labels(shape, C, rng=rng0):
    return rng.integers(0, C, shape)


def _ulp(exact: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The spacing of `dtype` at each exact value (float64), subnormals included."""
    nmant = {BF16: 7, F16: 10, F32: 23}[dtype]
    tiny = {BF16: 2.0**-126, F16: 2.0**-14, F32: 2.0**-126}[dtype]
    a = np.maximum(np.abs(exact), tiny)
    return np.ldexp(1.0, np.floor(np.log2(a)).astype(int) - nmant)


def _check_close(got, exact, dtype, ulps, absolute=0.0):
    """got (of `dtype`) within `ulps` of `dtype` (or `absolute`) of the exact values; specials equal."""
    got = np.asarray(got)
    assert got.dtype == dtype
    g = got.astype(np.float64)
    e = np.asarray(exact, dtype=np.float64)
    assert g.shape == e.shape
    fin = np.isfinite(e)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(e))
    np.testing.assert_array_equal(g[np.isinf(e)], e[np.isinf(e)])
    err = np.abs(g[fin] - e[fin])
    tol = np.maximum(ulps * _ulp(e[fin], dtype), absolute)
    bad = err > tol
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} off: got {g[fin][bad][:5]}, exact {e[fin][bad][:5]}"
    )
    return float(np.max(err / _ulp(e[fin], dtype), initial=0.0))


# Half a bfloat16 ulp (correct rounding) plus the float32 kernel's error (a few float32 ulps =
# 2^-16 bfloat16 ulps each) and the double rounding bound it implies.
CR = 0.5 + 2.0**-12


# ============================================================================ float16 (item 10)

# (name, call(x16) -> result) of every loss, _with_grad form and grad_hess: float16 in, float16 out.
rng = np.random.default_rng(1)
_C = 7
_T = _labels((5,), _C, rng)
_Y = (rng.random((5, _C)) < 0.5).astype(np.float32)
_P = rng.dirichlet(np.ones(_C), 5).astype(np.float32)
LOSSES = [
    ("cross_entropy", lambda x, **k: lk.cross_entropy(x, _T, **k), oracle.cross_entropy, _T),
    ("cross_entropy soft", lambda x, **k: lk.cross_entropy(x, _P, **k), oracle.cross_entropy, _P),
    ("nll_loss", lambda x, **k: lk.nll_loss(x, _T, validate=False, **k), oracle.nll_loss, _T),
    (
        "bce",
        lambda x, **k: lk.binary_cross_entropy_with_logits(x, _Y, **k),
        oracle.bce_with_logits,
        _Y,
    ),
    (
        "focal",
        lambda x, **k: lk.sigmoid_focal_loss(x, _Y, **k),
        oracle.sigmoid_focal_loss,
        _Y,
    ),
    ("multiclass.loss", lambda x, **k: multiclass.loss(x, _T, **k), oracle.cross_entropy, _T),
    (
        "multilabel.loss",
        lambda x, **k: multilabel.loss(x, _Y, **k),
        oracle.bce_with_logits,
        _Y,
    ),
]
GRADS = [
    ("cross_entropy_with_grad", lambda x, **k: lk.cross_entropy_with_grad(x, _T, **k)),
    (
        "bce_with_grad",
        lambda x, **k: lk.binary_cross_entropy_with_logits_with_grad(x, _Y, **k),
    ),
    ("focal_with_grad", lambda x, **k: lk.sigmoid_focal_loss_with_grad(x, _Y, **k)),
    ("multiclass.loss_with_grad", lambda x, **k: multiclass.loss_with_grad(x, _T, **k)),
    ("multilabel.loss_with_grad", lambda x, **k: multilabel.loss_with_grad(x, _Y, **k)),
]
HESS = [
    ("grad_hess multiclass", lambda x: lk.grad_hess(x, _T, family="multiclass")),
    ("grad_hess binary", lambda x: lk.grad_hess(x, _Y, family="binary")),
    ("multiclass.grad_hess", lambda x: multiclass.grad_hess(x, _T)),
    ("multilabel.grad_hess", lambda x: multilabel.grad_hess(x, _Y)),
]


def _loss_input(name, dtype):
    x = _x(np.float32, (5, _C), 2.0, np.random.default_rng(2))
    if name == "nll_loss":
        x = oracle.log_softmax(x).astype(np.float32)
    return x.astype(dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,f,orc,target", LOSSES, ids=[c[0] for c in LOSSES])
def test_float16_losses_are_float16_and_rounded_from_float32(name, f, orc, target, reduction):
    x = _loss_input(name, F16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lk.multiclass.ProbabilitiesWarning)
        got = f(x, reduction=reduction)
    assert np.asarray(got).dtype == F16, name
    assert np.ndim(got) == (
        0
        if reduction != "none"
        else x.ndim - (name != "bce" and name != "focal" and name != "multilabel.loss")
    )
    exact = orc(x.astype(np.float64), target, reduction=reduction)
    # the float32 result rounded once to float16: half a float16 ulp (and the float32 error)
    _check_close(got, exact, F16, 0.5 + 2.0**-8, absolute=2.0**-24)
    # the same values as the float32 computation, rounded
    got32 = f(x.astype(np.float32), reduction=reduction)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(got32).astype(F16))


@pytest.mark.parametrize("name,f", GRADS, ids=[c[0] for c in GRADS])
def test_float16_gradients_are_float16(name, f):
    x = _loss_input(name, F16)
    loss, grad = f(x)
    assert np.asarray(loss).dtype == F16 and grad.dtype == F16 and grad.shape == x.shape
    loss32, grad32 = f(x.astype(np.float32))
    np.testing.assert_array_equal(grad, grad32.astype(F16))
    np.testing.assert_array_equal(np.asarray(loss), np.asarray(loss32).astype(F16))


@pytest.mark.parametrize("name,f", HESS, ids=[c[0] for c in HESS])
def test_float16_grad_hess_is_float16(name, f):
    x = _loss_input(name, F16)
    g, h = f(x)
    assert g.dtype == F16 and h.dtype == F16
    g32, h32 = f(x.astype(np.float32))
    np.testing.assert_array_equal(g, g32.astype(F16))
    np.testing.assert_array_equal(h, h32.astype(F16))


def test_float16_gradient_out_and_overflow():
    x = _loss_input("cross_entropy", F16)
    out = np.empty_like(x)
    _loss, grad = lk.cross_entropy_with_grad(x, _T, out=out)
    assert grad is out and out.dtype == F16
    np.testing.assert_array_equal(out, lk.cross_entropy_with_grad(x, _T)[1])
    with pytest.raises(
        TypeError, match="out: dtype float32 does not match the gradient's dtype float16"
    ):
        lk.cross_entropy_with_grad(x, _T, out=np.empty(x.shape, np.float32))
    # a float32 loss past float16's range is inf, without a warning (filterwarnings=error)
    big = np.full((1, 3), -60000.0, F16)
    big[0, 0] = 60000.0
    assert lk.cross_entropy(big, np.array([1]), reduction="sum") == np.inf


# ============================================================================ bfloat16 (item 12)


def test_bfloat16_loops_are_registered_on_the_ufuncs():
    x = _x(BF16, (3, 5))
    for name in ("sigmoid", "log_sigmoid", "softplus", "softmax", "log_softmax"):
        r = getattr(lk.ufuncs, name)(x)
        assert r.dtype == BF16, name
    assert lk.ufuncs.logsumexp(x).dtype == F32
    assert _core.softmax_ext(x, np.ones(x.shape, bool), 2.0).dtype == BF16
    assert _core.logsumexp_ext(x, np.ones(x.shape, bool), 2.0).dtype == F32
    assert lk.ufuncs.sigmoid_backward(x, x).dtype == BF16
    assert lk.ufuncs.softmax_backward(x, x).dtype == BF16


ELEMENTWISE = [
    ("sigmoid", oracle.sigmoid),
    ("log_sigmoid", oracle.log_sigmoid),
    ("softplus", oracle.softplus),
]
ROWS = [("softmax", oracle.softmax), ("log_softmax", oracle.log_softmax)]


def _f64(a):
    return np.asarray(a).astype(np.float64)


@pytest.mark.parametrize("shape", [(7, 37), (3, 300), (1000,), (2, 3, 65)])
def test_bfloat16_transforms_are_correctly_rounded(isa, shape):
    rng = np.random.default_rng(hash(shape) % 2**32)
    x = _x(BF16, shape, 8.0, rng)
    for name, orc in ELEMENTWISE + ROWS:
        _check_close(getattr(lk, name)(x), orc(_f64(x)), BF16, CR)
    got = lk.logsumexp(x)
    assert got.dtype == F32
    _check_close(got, oracle.logsumexp(_f64(x)), F32, 3)


@pytest.mark.parametrize("layout", ["strided", "transposed", "reversed"])
def test_bfloat16_strided_input(isa, layout):
    base = _x(BF16, (40, 90), 6.0)
    x = {"strided": base[::3, ::2], "transposed": base.T, "reversed": base[:, ::-1]}[layout]
    for name, orc in ELEMENTWISE:
        _check_close(getattr(lk, name)(x), orc(_f64(x)), BF16, CR)
    for axis in (0, -1):
        for name, orc in ROWS:
            _check_close(getattr(lk, name)(x, axis=axis), orc(_f64(x), axis=axis), BF16, CR)
        _check_close(lk.logsumexp(x, axis=axis), oracle.logsumexp(_f64(x), axis=axis), F32, 3)


@pytest.mark.parametrize("n", [5, 37, 70])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_bfloat16_special_at_every_lane(isa, n, special):
    rng = np.random.default_rng(n)
    clean = _x(BF16, (4, n), 5.0, rng)
    ref = {name: getattr(lk, name)(clean) for name, _ in ELEMENTWISE + ROWS + [("logsumexp", 0)]}
    for j in range(n):
        x = clean.copy()
        x[2, j] = special
        for name, orc in ELEMENTWISE + ROWS + [("logsumexp", oracle.logsumexp)]:
            got = getattr(lk, name)(x)
            dt = F32 if name == "logsumexp" else BF16
            _check_close(got, orc(_f64(x)), dt, 3 if dt == F32 else CR)
            # no other row (row-wise) or element (elementwise) changes
            other = np.ones(got.shape, bool)
            if name in ("softmax", "log_softmax", "logsumexp"):
                other[2] = False
            else:
                other[2, j] = False
            np.testing.assert_array_equal(
                _f64(got)[other].view(np.int64), _f64(ref[name])[other].view(np.int64), name
            )


def test_bfloat16_rounding_keeps_nan_and_rounds_to_even():
    # -x of a bfloat16 is exact: log_sigmoid(x) = -softplus(-x); sigmoid(0) = 0.5 exactly
    x = np.array([0.0, np.nan, -np.nan, np.inf, -np.inf, 1e38, -1e38], BF16)
    s = lk.sigmoid(x)
    np.testing.assert_array_equal(_f64(s), [0.5, np.nan, np.nan, 1.0, 0.0, 1.0, 0.0])
    sp = lk.softplus(x)
    assert np.isnan(_f64(sp)[1:3]).all() and _f64(sp)[5] == float(np.float32(1e38).astype(BF16))
    # softplus(x) for x just above 0: exact value rounds to nearest even in bfloat16
    xs = (np.arange(-300, 300) / 37.0).astype(BF16)
    _check_close(lk.softplus(xs), oracle.softplus(_f64(xs)), BF16, CR)


def test_bfloat16_empty_arrays():
    for shape in [(0,), (0, 5), (3, 0)]:
        x = np.empty(shape, BF16)
        for name in ("sigmoid", "softmax", "log_softmax"):
            r = getattr(lk, name)(x)
            assert r.dtype == BF16 and r.shape == shape
    r = lk.logsumexp(np.empty((3, 0), BF16))
    assert r.dtype == F32 and (r == -np.inf).all() and r.shape == (3,)
    assert lk.logsumexp(np.empty((0, 4), BF16)).shape == (0,)


def test_bfloat16_out():
    x = _x(BF16, (6, 11))
    for name in ("sigmoid", "log_sigmoid", "softplus", "softmax", "log_softmax"):
        out = np.empty(x.shape, BF16)
        r = getattr(lk, name)(x, out=out)
        assert r is out
        np.testing.assert_array_equal(_f64(out), _f64(getattr(lk, name)(x)))
    out = np.empty(6, BF16)
    assert lk.logsumexp(x, out=out) is out
    np.testing.assert_array_equal(_f64(out), _f64(lk.logsumexp(x).astype(BF16)))
    out32 = np.empty(6, np.float32)
    assert lk.logsumexp(x, out=out32) is out32
    np.testing.assert_array_equal(out32, lk.logsumexp(x))
    # in place
    y = x.copy()
    lk.softmax(y, out=y)
    np.testing.assert_array_equal(_f64(y), _f64(lk.softmax(x)))
    with pytest.raises(TypeError, match="out: dtype int32 cannot hold the result"):
        lk.softmax(x, out=np.empty(x.shape, np.int32))
    with pytest.raises(TypeError, match="out: dtype int16"):
        lk.sigmoid(x, out=np.empty(x.shape, np.int16))
    with pytest.raises(
        TypeError, match="out: dtype float32 does not match the gradient's dtype bfloat16"
    ):
        lk.cross_entropy_with_grad(x, _labels((6,), 11), out=np.empty(x.shape, np.float32))
    g = np.empty(x.shape, BF16)
    t = _labels((6,), 11)
    loss, grad = lk.cross_entropy_with_grad(x, t, out=g)
    assert grad is g and loss.dtype == F32
    np.testing.assert_array_equal(_f64(g), _f64(lk.cross_entropy_with_grad(x, t)[1]))


@pytest.mark.parametrize("axis", [0, -1, (0, 1), None])
@pytest.mark.parametrize("temperature", [None, 0.5, 3.0])
@pytest.mark.parametrize("masked", [False, True])
def test_bfloat16_axis_temperature_where(isa, axis, temperature, masked):
    rng = np.random.default_rng(7)
    x = _x(BF16, (9, 13), 6.0, rng)
    where = (rng.random(x.shape) < 0.7) if masked else None
    kw = {"axis": axis, "temperature": temperature, "where": where}
    for name in ("softmax", "log_softmax"):
        got = getattr(lk, name)(x, **kw)
        exact = (
            getattr(oracle, name)(
                _f64(x), axis if axis is not None else (0, 1), where=where, temperature=temperature
            )
            if not isinstance(axis, tuple) and axis is not None
            else _multi_axis_oracle(name, x, where, temperature)
        )
        _check_close(got, exact, BF16, CR)
    got = lk.logsumexp(x, **kw)
    assert got.dtype == F32
    if axis is None or isinstance(axis, tuple):
        exact = _multi_axis_oracle("logsumexp", x, where, temperature)
    else:
        exact = oracle.logsumexp(_f64(x), axis, where=where, temperature=temperature)
    _check_close(got, exact, F32, 3)


def _multi_axis_oracle(name, x, where, temperature):
    """The oracle over both axes of a 2-D x: one row of all entries."""
    flat = _f64(x).reshape(-1)
    w = None if where is None else where.reshape(-1)
    r = getattr(oracle, name)(flat, -1, where=w, temperature=temperature)
    return np.asarray(r).reshape(x.shape) if name != "logsumexp" else np.asarray(r)


def test_bfloat16_backward_rules(isa):
    x = _x(BF16, (5, 40), 3.0)
    g = _x(BF16, (5, 40), 1.0, np.random.default_rng(3))
    y = lk.softmax(x)
    cases = [
        (lk.softmax_backward(g, y), oracle.softmax_backward(_f64(g), _f64(y))),
        (
            lk.log_softmax_backward(g, lk.log_softmax(x)),
            oracle.log_softmax_backward(_f64(g), _f64(lk.log_softmax(x))),
        ),
        (
            lk.sigmoid_backward(g, lk.sigmoid(x)),
            oracle.sigmoid_backward(_f64(g), _f64(lk.sigmoid(x))),
        ),
        (lk.log_sigmoid_backward(g, x), oracle.log_sigmoid_backward(_f64(g), _f64(x))),
    ]
    for got, exact in cases:
        # rounded once from float32: half a bfloat16 ulp, or the float32 kernel's absolute error
        # where a difference cancels
        _check_close(got, exact, BF16, CR, absolute=2.0**-18)


def test_bfloat16_losses_are_float32_gradients_bfloat16():
    x = _loss_input("cross_entropy", BF16)
    x32 = x.astype(np.float32)
    for name, f, orc, target in LOSSES:
        xi = _loss_input(name, BF16)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lk.multiclass.ProbabilitiesWarning)
            for reduction in ("mean", "none"):
                got = f(xi, reduction=reduction)
                assert np.asarray(got).dtype == F32, name
                np.testing.assert_array_equal(got, f(xi.astype(np.float32), reduction=reduction))
    for name, f in GRADS:
        loss, grad = f(x)
        loss32, grad32 = f(x32)
        assert np.asarray(loss).dtype == F32 and grad.dtype == BF16, name
        np.testing.assert_array_equal(loss, loss32)
        np.testing.assert_array_equal(_f64(grad), _f64(grad32.astype(BF16)))
    for name, f in HESS:
        g, h = f(x)
        assert g.dtype == BF16 and h.dtype == BF16, name
    # bfloat16 probabilities as soft targets
    p = _P.astype(BF16)
    np.testing.assert_array_equal(
        lk.cross_entropy(x, p), lk.cross_entropy(x32, p.astype(np.float32))
    )


def test_bfloat16_multiclass_multilabel():
    x = _x(BF16, (6, 9), 3.0)
    x32 = x.astype(np.float32)
    for m in (multiclass, multilabel):
        for verb in ("proba", "log_proba"):
            got = getattr(m, verb)(x)
            assert got.dtype == BF16
            np.testing.assert_array_equal(_f64(got), _f64(getattr(m, verb)(x32).astype(BF16)))
            got = getattr(m, verb)(x, temperature=2.0)
            assert got.dtype == BF16
    assert multilabel.proba(x, bias=0.5).dtype == BF16
    np.testing.assert_array_equal(multiclass.predict(x), multiclass.predict(x32))
    np.testing.assert_array_equal(multilabel.predict(x), multilabel.predict(x32))
    for m in (multiclass, multilabel):
        for kw in ({}, {"temperature": 2.0}):
            idx, p = m.top_k(x, 3, **kw)
            idx32, p32 = m.top_k(x32, 3, **kw)
            np.testing.assert_array_equal(idx, idx32)
            # the probabilities in the logits' dtype, as proba gives them
            assert p.dtype == BF16, (m.__name__, p.dtype)
            np.testing.assert_array_equal(_f64(p), _f64(p32.astype(BF16)))
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"row \(4,\) contains NaN"):
        multiclass.predict(bad)
    t = _labels((6,), 9)
    assert isinstance(multiclass.expected_calibration_error(x, t), float)
    assert isinstance(multiclass.brier_score(x, t), float)
    with warnings.catch_warnings():  # random labels: the fit may end at a bound
        warnings.simplefilter("ignore", lk.multiclass.CalibrationWarning)
        T = multiclass.fit_temperature(x, t)
        assert T == multiclass.fit_temperature(x32, t)


def test_bfloat16_never_copies_the_whole_input_to_float32():
    x = _x(BF16, (2048, 1024), 3.0)  # 4 MiB; a float32 copy would be 8 MiB
    out = np.empty_like(x)
    for f in (
        lambda: lk.softmax(x, out=out),
        lambda: lk.sigmoid(x, out=out),
        lambda: lk.logsumexp(x),
    ):
        f()
        tracemalloc.start()
        try:
            f()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, peak


def test_bfloat16_message_is_gone_and_other_void_dtypes_are_refused():
    x = _x(BF16, (2, 3))
    lk.softmax(x)  # no "is not a real numeric dtype"
    with pytest.raises(TypeError, match="dtype .V4 is not a real numeric dtype"):
        lk.softmax(np.zeros(3, "V4"))


def test_without_ml_dtypes_everything_else_works():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ml_dtypes"] = None  # import ml_dtypes raises ImportError
        import numpy as np
        import logitkit as lk
        from logitkit import _validation
        assert _validation.bfloat16() is None
        x = np.array([[1.0, 2.0, 3.0]], np.float16)
        assert lk.softmax(x).dtype == np.float16
        assert lk.cross_entropy(x, np.array([2])).dtype == np.float16
        assert lk.cross_entropy(x.astype(np.float32), np.array([2])).dtype == np.float32
        try:
            lk.softmax(np.zeros(3, "V2"))
        except TypeError as e:
            assert "is not a real numeric dtype" in str(e)
        else:
            raise AssertionError("V2 accepted")
        print("ok")
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ============================================================================ every registry entry


def _expected_dtypes(fn, narrow):
    """The result dtypes of fn for logits of dtype `narrow` (float16 or bfloat16), per output."""
    if fn.kind == "row reduction":
        return (F32,) if narrow == BF16 else (narrow,)
    if fn.kind == "loss":
        loss_dt = F32 if narrow == BF16 else narrow
        return tuple(narrow if m == "grad" else loss_dt for m in fn.measures)
    return (narrow,) * len(fn.measures)


@pytest.mark.parametrize("narrow", [F16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", registry.names())
def test_every_public_function_computes_narrow_dtypes_in_float32(name, narrow):
    """Every public math function of the registry: float16 / bfloat16 logits give the float32
    computation on the same (exactly widened) values, rounded once to the documented dtypes."""
    fn = registry.BY_NAME[name]
    args, kw = fn.example(F32, np.random.default_rng(5), (4, 9))
    # the logits (and the second array of a backward rule) in the narrow dtype; targets stay
    n_narrow = 2 if fn.kind == "backward" else fn.logit_inputs
    nargs = tuple(a.astype(narrow) if i < n_narrow else a for i, a in enumerate(args))
    wide = tuple(a.astype(F32) if i < n_narrow else a for i, a in enumerate(nargs))
    if name == "nll_loss":
        kw = dict(kw, validate=False)  # log-probabilities rounded to float16 may not sum to 1
    got, ref = fn.call(*nargs, **kw), fn.call(*wide, **kw)
    if len(fn.measures) == 1:
        got, ref = (got,), (ref,)
    for g, r, dt in zip(got, ref, _expected_dtypes(fn, narrow), strict=True):
        assert np.asarray(g).dtype == dt, f"{name}: {np.asarray(g).dtype}, expected {dt}"
        with np.errstate(over="ignore"):
            expect = np.asarray(r).astype(dt)
        np.testing.assert_array_equal(_f64(g), _f64(expect), name)


def _run(code: str) -> None:
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_logitkit_does_not_import_ml_dtypes_and_registers_once_it_is_imported():
    # logitkit first: no ml_dtypes import of its own; the loops are registered when ml_dtypes's
    # import ends, before any bfloat16 array exists (NumPy caches the loop a ufunc resolved for a
    # dtype: a raw call before registration would cast bfloat16 to float32 for good)
    _run(
        """
        import sys
        import numpy as np
        import logitkit as lk
        assert "ml_dtypes" not in sys.modules
        import ml_dtypes
        x = np.array([[1.0, 2.0, 3.0]], ml_dtypes.bfloat16)
        assert lk.ufuncs.sigmoid(x).dtype == x.dtype
        assert lk.ufuncs.softmax(x).dtype == x.dtype
        assert lk.softmax(x).dtype == x.dtype
        print("ok")
        """
    )
    # ml_dtypes first: the raw ufuncs take bfloat16 from logitkit's import on
    _run(
        """
        import numpy as np
        import ml_dtypes
        import logitkit as lk
        x = np.array([[1.0, 2.0, 3.0]], ml_dtypes.bfloat16)
        assert lk.ufuncs.log_softmax(x).dtype == x.dtype
        assert lk.ufuncs.logsumexp(x).dtype == np.float32
        print("ok")
        """
    )


def test_the_import_hook_registers_bfloat16_once_ml_dtypes_has_run(monkeypatch):
    """The finder that logitkit puts first on sys.meta_path (while ml_dtypes is not imported):
    other names pass it by; for ml_dtypes it removes itself, asks the other finders with the same
    arguments, and wraps the loader so that bfloat16's loops are registered right after the
    module has run. Fake finders and loaders stand in for the import system here."""
    from logitkit import _validation

    registered = []
    monkeypatch.setattr(_validation, "bfloat16", lambda: registered.append("bfloat16"))
    asked = []

    class Loader:
        def exec_module(self, module):
            registered.append(f"ran {module}")

    class Spec:
        def __init__(self, loader):
            self.loader = loader

    class Finder:
        def __init__(self, loader):
            self.loader = loader

        def find_spec(self, name, path=None, target=None):
            asked.append((name, path, target))
            return Spec(self.loader) if self.loader is not None else None

    hook = _validation._RegisterOnImport()
    assert hook.find_spec("numpy", None, None) is None and asked == []

    loader = Loader()
    monkeypatch.setattr(sys, "meta_path", [hook, object(), Finder(loader)])
    spec = hook.find_spec("ml_dtypes", ["somewhere"], "the module")
    assert hook not in sys.meta_path  # used once
    assert asked == [("ml_dtypes", ["somewhere"], "the module")]
    assert spec.loader is loader and registered == []
    spec.loader.exec_module("ml_dtypes")
    assert registered == ["ran ml_dtypes", "bfloat16"]

    # no other finder knows ml_dtypes: the import fails as it would without logitkit
    monkeypatch.setattr(sys, "meta_path", [hook, Finder(None)])
    assert hook.find_spec("ml_dtypes") is None and hook not in sys.meta_path
    # a loader without exec_module (a legacy loader) is left as it is
    bare = object()
    monkeypatch.setattr(sys, "meta_path", [hook, Finder(bare)])
    assert hook.find_spec("ml_dtypes").loader is bare
