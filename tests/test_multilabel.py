"""logitkit.multilabel: every verb against an independent oracle — tests/oracle.py (float64 /
long double) for the sigmoid family, mpmath for temperature/bias and for the exactness of
``predict`` at the decision boundary, plain Python for top_k, tests/oracle.py for the
losses — plus the misuse messages (naming logitkit.multiclass) and the probability warning.
Calibration lives in test_calibration.py."""

from __future__ import annotations

import dataclasses

import logitkit as lk
import mpmath
import numpy as np
import oracle
import pytest
from budgets import assert_within_budget
from logitkit import multilabel as ml

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
dtypes = pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.name)
mp = mpmath.mp


def _logits(shape, dtype, seed=0, scale=4.0):
    return (np.random.default_rng(seed).normal(0, scale, shape)).astype(dtype)


def _mp_sigmoid(v) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-v))


def _mp_log_sigmoid(v) -> mpmath.mpf:
    return -mpmath.log1p(mpmath.exp(-v))  # no 1 - tiny rounding to 1 inside a log


def _mp_proba(x, T, b, axis, *, complement=False, log=False, dps=60):
    """sigmoid(±(x/T + b)) (or its log) elementwise in mpmath, T and b per class along axis."""
    x = np.asarray(x)
    T = np.broadcast_to(np.asarray(T, np.float64), (x.shape[axis],))
    b = np.broadcast_to(np.asarray(b, np.float64), (x.shape[axis],))
    out = np.empty(x.shape, np.float64)
    with mpmath.workdps(dps):
        for i in np.ndindex(x.shape):
            c = i[axis]
            z = mpmath.mpf(float(x[i])) / mpmath.mpf(float(T[c])) + mpmath.mpf(float(b[c]))
            v = -z if complement else z
            out[i] = float(_mp_log_sigmoid(v) if log else _mp_sigmoid(v))
    return out


# ----------------------------------------------------------------------------- proba / log_proba


@dtypes
@pytest.mark.parametrize("complement", [False, True])
def test_proba_and_log_proba_against_oracle(isa, dtype, complement):
    x = _logits((20, 7), dtype, seed=1, scale=15.0)
    x[0, :] = [-750, -100, -40, 0, 40, 100, 750] if dtype == F64 else [-90, -40, -17, 0, 17, 40, 90]
    with np.errstate(all="raise"):
        p = ml.proba(x, complement=complement)
        lp = ml.log_proba(x, complement=complement)
    arg = -x.astype(np.float64) if complement else x
    arg = arg.astype(dtype)
    assert p.dtype == dtype and lp.dtype == dtype
    assert_within_budget(p, oracle.sigmoid(arg), budget="sigmoid", what="proba")
    assert_within_budget(lp, oracle.log_sigmoid(arg), budget="log_sigmoid", what="log_proba")


def test_complement_is_exact_where_one_minus_p_is_not():
    x = np.array([40.0, -40.0, 800.0])
    lq = ml.log_proba(x, complement=True)
    # log σ(-x): -40 - e^-40, -e^-40 (not 0), -800
    assert_within_budget(lq, oracle.log_sigmoid(-x), budget="log_sigmoid", what="log_proba(-x)")
    assert lq[1] < 0 and lq[2] == -800.0
    q = ml.proba(x, complement=True)
    assert_within_budget(q, oracle.sigmoid(-x), budget="sigmoid", what="proba(-x)")
    assert 1.0 - ml.proba(x)[0] == 0.0  # the premise: 1 - proba(40) loses all of e^-40


@dtypes
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("complement", [False, True])
def test_temperature_and_bias_against_mpmath(dtype, axis, complement):
    C = 4
    shape = (6, C) if axis == -1 else (C, 6)
    x = _logits(shape, dtype, seed=2, scale=10.0)
    big = 700.0 if dtype == F64 else 80.0
    x.flat[:4] = [-big, big, -big / 2, big / 2]
    T = np.array([0.5, 1.0, 2.5, 7.0])
    b = np.array([-1.0, 0.25, 0.0, 3.0])
    for kw in ({"temperature": T, "bias": b}, {"temperature": 2.0}, {"bias": b}):
        Tk, bk = kw.get("temperature", 1.0), kw.get("bias", 0.0)
        p = ml.proba(x, axis=axis, complement=complement, **kw)
        lp = ml.log_proba(x, axis=axis, complement=complement, **kw)
        want_p = _mp_proba(x, Tk, bk, axis, complement=complement)
        want_lp = _mp_proba(x, Tk, bk, axis, complement=complement, log=True)
        assert p.dtype == dtype
        w = oracle.work_dtype(dtype)
        assert_within_budget(p, want_p.astype(w), budget="sigmoid", what=f"proba {kw}")
        assert_within_budget(lp, want_lp.astype(w), budget="log_sigmoid", what=f"log_proba {kw}")


def test_proba_out_and_integer_logits():
    x = np.array([[1, -2, 3]])
    np.testing.assert_array_equal(ml.proba(x), lk.sigmoid(x.astype(np.float64)))
    out = np.empty((1, 3))
    assert ml.proba(x.astype(np.float64), temperature=2.0, out=out) is out
    want = oracle.sigmoid(x / 2.0)  # x/2 is exact
    assert_within_budget(out, want, budget="sigmoid", what="proba(out=)")
    xi = x.astype(np.float64)
    assert ml.proba(xi, temperature=2.0, out=xi) is xi
    assert_within_budget(xi, want, budget="sigmoid", what="proba(out=x)")


def test_parameter_errors():
    x = _logits((3, 4), F64)
    with pytest.raises(ValueError, match=r"temperature: must be positive finite numbers; got 0\.0"):
        ml.proba(x, temperature=0.0)
    with pytest.raises(ValueError, match="at class 2"):
        ml.proba(x, temperature=[1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"bias: expected a number or one per class, shape \(4,\)"):
        ml.proba(x, bias=[0.0, 1.0])
    with pytest.raises(ValueError, match="bias: must be finite"):
        ml.log_proba(x, bias=np.nan)
    with pytest.raises(TypeError, match="temperature"):
        ml.proba(x, temperature=True)


# ----------------------------------------------------------------------------- predict


def _mp_on(x, t, T=1.0, b=0.0) -> bool:
    """sigmoid(x/T + b) > t in 60-digit arithmetic (t, T, b as float64 values), as the sign of
    (1 - 2t) - t·expm1(-z) (= (1 + e^-z)·(sigmoid(z) - t)), which keeps its digits for tiny z."""
    with mpmath.workdps(60):
        z = mpmath.mpf(float(x)) / mpmath.mpf(float(T)) + mpmath.mpf(float(b))
        tt = mpmath.mpf(float(t))
        return bool((1 - 2 * tt) - tt * mpmath.expm1(-z) > 0)


@dtypes
@pytest.mark.parametrize("t", [0.5, 0.3, 0.9, 1e-6, 0.999999, 0.1, 2.0**-30])
@pytest.mark.parametrize(("T", "b"), [(1.0, 0.0), (1.7, -0.4), (0.3, 2.0)])
def test_predict_is_exact_at_the_boundary(dtype, t, T, b):
    # the logits nearest the cut T·(logit(t) - b), a few ulps either side: a rounded sigmoid could
    # not tell them apart, the decision must match the exact comparison
    with mpmath.workdps(60):
        cut = float(mpmath.mpf(T) * (mpmath.log(mpmath.mpf(t) / (1 - mpmath.mpf(t))) - b))
    c = dtype.type(cut)
    xs = [c]
    lo = hi = c
    for _ in range(4):
        lo, hi = np.nextafter(lo, dtype.type(-np.inf)), np.nextafter(hi, dtype.type(np.inf))
        xs += [lo, hi]
    x = np.array(xs, dtype)[None, :]
    got = ml.predict(np.repeat(x, 2, axis=0), threshold=t, temperature=T, bias=b)
    want = [_mp_on(v, t, T, b) for v in x[0]]
    assert got[0].tolist() == want
    assert any(want) and not all(want)


@dtypes
def test_predict_per_class_thresholds_against_mpmath(dtype):
    x = _logits((25, 5), dtype, seed=3)
    thr = np.array([0.5, 0.1, 0.75, 0.999, 0.02])
    T = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    b = np.array([0.0, -0.5, 0.5, 0.0, 1.0])
    got = ml.predict(x, threshold=thr)
    want = np.array([[_mp_on(v, thr[c]) for c, v in enumerate(r)] for r in x])
    np.testing.assert_array_equal(got, want)
    got = ml.predict(x, threshold=thr, temperature=T, bias=b)
    want = np.array([[_mp_on(v, thr[c], T[c], b[c]) for c, v in enumerate(r)] for r in x])
    np.testing.assert_array_equal(got, want)
    # along axis 0
    got0 = ml.predict(x.T, threshold=thr, axis=0, temperature=T, bias=b)
    np.testing.assert_array_equal(got0, want.T)


def test_predict_edge_thresholds_and_special_values():
    x = np.array([[-np.inf, -1e300, 0.0, 1e300, np.inf, np.nan]])
    np.testing.assert_array_equal(
        ml.predict(x, threshold=0.0), [[False, True, True, True, True, False]]
    )
    np.testing.assert_array_equal(ml.predict(x, threshold=1.0), [[False] * 6])
    np.testing.assert_array_equal(
        ml.predict(x, threshold=0.5), [[False, False, False, True, True, False]]
    )
    x32 = np.array([[-np.inf, -3e38, 3e38, np.inf]], np.float32)
    np.testing.assert_array_equal(ml.predict(x32, threshold=0.0), [[False, True, True, True]])
    np.testing.assert_array_equal(ml.predict(x32, threshold=1.0), [[False] * 4])


def test_predict_threshold_errors():
    x = _logits((3, 4), F64)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"threshold: must be in \[0, 1\]"):
            ml.predict(x, threshold=bad)
    with pytest.raises(ValueError, match=r"threshold: must be in \[0, 1\]; got 2\.0 at class 1"):
        ml.predict(x, threshold=[0.5, 2.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="threshold: must be finite"):
        ml.predict(x, threshold=np.nan)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        ml.predict(x, threshold=[0.5, 0.5])


# ----------------------------------------------------------------------------- top_k


@dtypes
def test_top_k_against_python_sort(dtype):
    x = _logits((7, 6), dtype, seed=4)
    x[3] = np.array([1, 2, 2, -1, 2, 0], dtype)
    T = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    b = np.array([0.0, 0.1, 0.0, -0.2, 0.0, 0.3])
    for kw in ({}, {"temperature": T, "bias": b}):
        idx, p = ml.top_k(x, 3, **kw)
        Tk = np.broadcast_to(kw.get("temperature", 1.0), (6,))
        bk = np.broadcast_to(kw.get("bias", 0.0), (6,))
        z = [[float(x[i, c]) / float(Tk[c]) + float(bk[c]) for c in range(6)] for i in range(7)]
        want = np.array([sorted(range(6), key=lambda c, r=r: (-r[c], c))[:3] for r in z])
        np.testing.assert_array_equal(idx, want)
        want_p = np.take_along_axis(_mp_proba(x, Tk, bk, -1), want, axis=-1)
        w = oracle.work_dtype(dtype)
        assert_within_budget(p, want_p.astype(w), budget="sigmoid", what=f"top_k {kw}")
    np.testing.assert_array_equal(ml.top_k(x, 3)[0][3], [1, 2, 4])


# ----------------------------------------------------------------------------- losses


@dtypes
def test_losses_forward_with_options(isa, dtype):
    x = _logits((6, 4), dtype, seed=5)
    y = (np.random.default_rng(6).random((6, 4)) < 0.4).astype(dtype)
    y[0, 0] = 0.3  # soft
    opts = {
        "pos_weight": np.array([1.0, 3.0, 0.5, 2.0]),
        "weight": np.array([1.0, 0.5, 2.0, 1.0]),
        "label_smoothing": 0.1,
    }
    for reduction in ("mean", "sum"):
        got = ml.loss(x, y, reduction=reduction, **opts)
        want = oracle.bce_with_logits(x, y, reduction=reduction, **opts)
        assert got.dtype == dtype
        assert_within_budget(got, want, budget="reduced", what=f"loss {reduction}")
    per = ml.loss(x, y, reduction="none", **opts)
    want_per = oracle.bce_with_logits(x, y, reduction="none", **opts)
    assert_within_budget(per, want_per, budget="bce", what="per-element loss")
    loss, grad = ml.loss_with_grad(x, y, **opts)
    want = oracle.bce_with_logits(x, y, **opts)
    assert_within_budget(loss, want, budget="reduced", what="loss_with_grad loss")
    want_g, scale = oracle.bce_with_logits_grad(x, y, with_scale=True, **opts)
    assert_within_budget(grad, want_g, budget="gradient", scale=scale, what="loss_with_grad grad")
    xi = x.copy()
    loss, grad = ml.loss_with_grad(xi, y, out=xi, **opts)  # in place: the gradient over the logits
    assert grad is xi
    assert_within_budget(loss, want, budget="reduced", what="loss_with_grad(out=x) loss")
    assert_within_budget(xi, want_g, budget="gradient", scale=scale, what="grad out=x")
    g, h = ml.grad_hess(x, y, **opts)
    g_o, h_o, s = oracle.grad_hess(x, y, family="binary", with_scale=True, **opts)
    assert_within_budget(g, g_o, budget="gradient", scale=s, what="grad_hess gradient")
    assert_within_budget(h, h_o, budget="gradient", scale=s, what="grad_hess Hessian")


# ----------------------------------------------------------------------------- misuse


def test_class_indices_name_multiclass():
    x = _logits((5, 3), F64)
    for t in (np.array([0, 2, 1, 1, 0]), np.array([0.0, 2.0, 1.0, 1.0, 0.0])):
        for f in (ml.loss, ml.loss_with_grad, ml.grad_hess):
            with pytest.raises(ValueError, match=r"one class per input\? use logitkit\.multiclass"):
                f(x, t)
        for f in (ml.fit_temperature, ml.expected_calibration_error, ml.brier_score):
            with pytest.raises(ValueError, match=r"logitkit\.multiclass"):
                f(x, t)


def test_one_column_and_other_shape_errors():
    x = _logits((5, 1), F64)
    with pytest.raises(ValueError, match="one column.*expand_dims"):
        ml.loss(x, np.array([0, 1, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"expected the shape of logits \(5, 1\), got \(2,\)"):
        ml.loss(x, np.array([0.0, 1.0]))
    # float targets of the items' shape that are not class indices get no multiclass hint
    with pytest.raises(ValueError, match="expected the shape of logits") as e:
        ml.loss(_logits((4, 3), F64), np.array([0.5, 0.2, 0.1, 0.9]))
    assert "multiclass" not in str(e.value)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ml.loss(x, np.full((5, 1), 2.0))


def test_probabilities_warning_points_at_the_callers_line():
    soft = lk.softmax(_logits((6, 4), F64))
    with pytest.warns(ml.ProbabilitiesWarning) as rec:
        ml.proba(soft)
    assert rec[0].filename == __file__


def test_probabilities_passed_as_logits_warn():
    soft = lk.softmax(_logits((6, 4), F64))
    with pytest.warns(ml.ProbabilitiesWarning, match="use logitkit.multiclass"):
        ml.proba(soft)
    sig = lk.sigmoid(_logits((8, 5), F64))  # 40 entries in (0, 1)
    for f in (ml.proba, ml.log_proba, ml.predict):
        with pytest.warns(UserWarning, match="log1p"):
            f(sig)
    with pytest.warns(ml.ProbabilitiesWarning):
        ml.loss(sig, (sig > 0.5).astype(np.float64))
    # quiet: logits, few entries, constant arrays (zero-initialized models)
    ml.proba(_logits((30, 5), F64))
    ml.proba(lk.sigmoid(_logits((2, 5), F64)))
    ml.proba(np.zeros((10, 10)))


def test_sigmoid_output_check_needs_32_entries_that_differ():
    """The multi-label check for sigmoid outputs speaks from 32 sampled entries in [0, 1] that are
    not all equal; 0 and 1 themselves count as probabilities."""
    import warnings

    def warned(x):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            ml.proba(x)
        return [str(r.message) for r in rec if issubclass(r.category, ml.ProbabilitiesWarning)]

    p = np.linspace(0.0, 1.0, 32).reshape(1, 32)  # 0 and 1 included, one row: no sum of 1
    msgs = warned(p)
    assert len(msgs) == 1 and "all 32 entries lie in [0, 1]" in msgs[0]
    assert "every one of the 1 rows checked" in msgs[0]
    assert warned(p[:, 1:]) == []  # 31 entries
    assert warned(np.full((4, 8), 0.25)) == []  # all equal
    assert warned(np.r_[p[0, :31], 1.0 + 2**-40].reshape(1, 32)) == []  # one above 1


# ----------------------------------------------------------------------------- config object


def test_config_object_forwards_its_options():
    x = _logits((6, 3), F64, seed=8)
    y = (x > 0.5).astype(np.float64)
    cfg = ml.MultiLabel(pos_weight=np.array([1.0, 2.0, 3.0]), threshold=[0.2, 0.5, 0.8])
    assert float(cfg.loss(x, y)) == float(
        lk.binary_cross_entropy_with_logits(x, y, pos_weight=cfg.pos_weight)
    )
    np.testing.assert_array_equal(cfg.predict(x), ml.predict(x, threshold=[0.2, 0.5, 0.8]))
    g, h = cfg.grad_hess(x, y)
    g2, h2 = lk.grad_hess(x, y, family="binary", pos_weight=cfg.pos_weight)
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_array_equal(h, h2)
    hot = dataclasses.replace(cfg, temperature=np.array([1.0, 2.0, 4.0]), bias=0.5)
    np.testing.assert_array_equal(hot.proba(x), ml.proba(x, temperature=[1.0, 2.0, 4.0], bias=0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.threshold = 0.5
