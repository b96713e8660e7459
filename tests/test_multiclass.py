"""logitkit.multiclass: every verb against a plain NumPy float64 (or long double) oracle, on every
SIMD target where a kernel runs; predictions and top_k against plain-Python argmax/sorting;
the losses against tests/oracle.py; the misuse messages (naming logitkit.multilabel) and the
"these look like probabilities" warning. Calibration lives in test_calibration.py."""

from __future__ import annotations

import dataclasses

import logitkit as lk
import numpy as np
import oracle
import pytest
from budgets import assert_within_budget
from logitkit import multiclass as mc

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
dtypes = pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.name)


def _logits(shape, dtype, seed=0, scale=4.0):
    return (np.random.default_rng(seed).normal(0, scale, shape)).astype(dtype)


def _py_argmax(row) -> int:
    """First index of the largest value, in plain Python."""
    best = 0
    for j in range(1, len(row)):
        if row[j] > row[best]:
            best = j
    return best


# ----------------------------------------------------------------------------- proba / log_proba


@dtypes
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("temperature", [1.0, 0.7, 3.0])
def test_proba_and_log_proba_against_oracle(isa, dtype, axis, temperature):
    x = _logits((9, 6), dtype, seed=1)
    with np.errstate(all="raise"):
        p = mc.proba(x, axis=axis, temperature=temperature)
        lp = mc.log_proba(x, axis=axis, temperature=temperature)
    t = None if temperature == 1.0 else temperature
    assert p.dtype == dtype and lp.dtype == dtype and p.shape == x.shape
    assert_within_budget(p, oracle.softmax(x, axis, temperature=t), budget="softmax", what="proba")
    want_lp = oracle.log_softmax(x, axis, temperature=t)
    assert_within_budget(lp, want_lp, budget="log_softmax", what="log_proba")
    # not an oracle comparison: a sum of a few entries, each within the bound of a row summing to 1
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-6 if dtype == F32 else 1e-14)


def test_proba_plain_numpy_example():
    x = np.array([[2.0, 1.0, -1.0], [0.0, -40.0, 3.5]])
    assert_within_budget(mc.proba(x), oracle.softmax(x, 1), budget="softmax", what="proba")
    # the confident entry keeps its tiny log-probability (about -e^-40) where log(proba) gives 0
    y = np.array([0.0, -40.0])
    assert_within_budget(mc.log_proba(y), oracle.log_softmax(y), budget="log_softmax")
    assert np.log(mc.proba(y))[0] == 0.0  # the premise


def test_proba_where_and_out():
    x = _logits((4, 5), F64, seed=2)
    where = np.array([True, False, True, True, False])
    out = np.empty_like(x)
    r = mc.proba(x, where=where, out=out)
    assert r is out
    assert np.all(out[:, ~where] == 0)
    want = oracle.softmax(x, where=where)
    assert_within_budget(out, want, budget="softmax", what="proba(where, out=)")
    xi = x.copy()
    assert mc.proba(xi, where=where, out=xi) is xi  # in place
    assert_within_budget(xi, want, budget="softmax", what="proba(where, out=x)")
    lp = mc.log_proba(x, where=where)
    assert np.all(lp[:, ~where] == -np.inf)
    want_lp = oracle.log_softmax(x, where=where)
    assert_within_budget(lp, want_lp, budget="log_softmax", what="log_proba(where)")


def test_proba_temperature_errors():
    with pytest.raises(ValueError, match="temperature"):
        mc.proba(np.array([1.0, 2.0]), temperature=0.0)
    with pytest.raises(TypeError, match="temperature"):
        mc.proba(np.array([1.0, 2.0]), temperature=np.array([1.0, 2.0]))


# ----------------------------------------------------------------------------- predict


@dtypes
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_predict_against_python_argmax(dtype, axis):
    x = _logits((5, 7, 4), dtype, seed=3)
    x[1, 2, :] = 1.5  # a row of ties along the last axis
    x[0, :, 3] = -0.25  # ties along axis 1
    got = mc.predict(x, axis=axis)
    xm = np.moveaxis(x, axis, -1)
    want = np.array([_py_argmax(list(r)) for r in xm.reshape(-1, xm.shape[-1])]).reshape(
        xm.shape[:-1]
    )
    np.testing.assert_array_equal(got, want)
    assert got.shape == xm.shape[:-1]


@dtypes
def test_predict_decides_on_logits_not_rounded_probabilities(dtype):
    # two logits one ulp apart: their probabilities round to the same number, the argmax of the
    # probabilities would say class 0; the larger logit is class 1.
    a = dtype.type(0.1)
    x = np.array([a, np.nextafter(a, dtype.type(np.inf)), dtype.type(-30.0)], dtype)
    p = mc.proba(x)
    assert p[0] == p[1]  # the premise: the rounding ties them
    assert mc.predict(x) == 1
    idx, _ = mc.top_k(x, 2)
    assert idx.tolist() == [1, 0]


def test_predict_special_rows():
    x = np.array([[-np.inf, -np.inf, -np.inf], [1.0, np.inf, np.inf], [5.0, 5.0, -1.0]])
    np.testing.assert_array_equal(mc.predict(x), [0, 1, 0])
    bad = np.array([[1.0, 2.0, 0.0], [0.0, np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"row \(1,\) contains NaN"):
        mc.predict(bad)
    with pytest.raises(ValueError, match="empty"):
        mc.predict(np.zeros((3, 0)))
    np.testing.assert_array_equal(mc.predict(np.array([[3, 7, 7]])), [1])  # integer logits


# ----------------------------------------------------------------------------- top_k


def _top_k_oracle(x, k, axis, temperature=None):
    """Sort each row by (-logit, index) in plain Python; probabilities from the long double oracle."""
    xm = np.moveaxis(x, axis, -1)
    pm = np.moveaxis(oracle.softmax(x, axis, temperature=temperature), axis, -1)
    rows = xm.reshape(-1, xm.shape[-1])
    prow = pm.reshape(-1, xm.shape[-1])
    idx = np.array([sorted(range(len(r)), key=lambda j, r=r: (-float(r[j]), j))[:k] for r in rows])
    probs = np.take_along_axis(prow, idx, axis=-1)
    shape = xm.shape[:-1] + (k,)
    return np.moveaxis(idx.reshape(shape), -1, axis), np.moveaxis(probs.reshape(shape), -1, axis)


@dtypes
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_top_k_against_oracle(isa, dtype, axis, k):
    x = _logits((6, 6), dtype, seed=4)
    x[2, :] = np.array([1, 3, 3, -2, 3, 1], dtype)  # ties: 1, 2, 4 then 0, 5
    x[5, :] = x[1, :]  # ties along axis 0
    idx, probs = mc.top_k(x, k, axis=axis, temperature=1.5)
    want_idx, want_p = _top_k_oracle(x, k, axis, temperature=1.5)
    np.testing.assert_array_equal(idx, want_idx)
    assert probs.dtype == dtype
    assert_within_budget(probs, want_p, budget="softmax", what="top_k probabilities")
    # sorted descending
    assert np.all(np.diff(probs.astype(np.float64), axis=axis) <= 0)


def test_top_k_ties_broken_by_lower_index():
    x = np.array([[0.0, 2.0, 2.0, 1.0, 2.0], [-1.0, -1.0, -1.0, -1.0, -1.0]])
    idx, p = mc.top_k(x, 4)
    np.testing.assert_array_equal(idx, [[1, 2, 4, 3], [0, 1, 2, 3]])
    assert_within_budget(p[1], oracle.softmax(x[1])[:4], budget="softmax", what="tied top_k")


def test_top_k_validates_k():
    x = _logits((3, 4), F64)
    for k in (0, 5, -1):
        with pytest.raises(ValueError, match=r"k: must be in \[1, 4\]"):
            mc.top_k(x, k)
    for k in (1.0, True, "2"):
        with pytest.raises(TypeError, match="k: expected an integer"):
            mc.top_k(x, k)
    with pytest.raises(ValueError, match="NaN"):
        mc.top_k(np.array([[1.0, np.nan]]), 1)
    idx, _ = mc.top_k(x, np.int64(2))
    assert idx.shape == (3, 2)


# ----------------------------------------------------------------------------- losses


@dtypes
def test_loss_and_grad_forward_with_options(isa, dtype):
    x = _logits((8, 5), dtype, seed=5)
    t = np.array([0, 4, 2, -100, 1, 3, 3, 0])
    w = np.array([0.2, 1.0, 0.5, 2.0, 1.5])
    opts = {"weight": w, "ignore_index": -100, "label_smoothing": 0.1, "reduction": "mean"}
    want = oracle.cross_entropy(x, t, **opts)
    got = mc.loss(x, t, **opts)
    assert got.dtype == dtype
    assert_within_budget(got, want, budget="reduced", what="loss")
    loss, grad = mc.loss_with_grad(x, t, **opts)
    assert_within_budget(loss, want, budget="reduced", what="loss_with_grad loss")
    want_g, scale = oracle.cross_entropy_grad(x, t, with_scale=True, **opts)
    assert_within_budget(grad, want_g, budget="gradient", scale=scale, what="loss_with_grad grad")
    per = mc.loss(x, t, **{**opts, "reduction": "none"})
    want_per = oracle.cross_entropy(x, t, **{**opts, "reduction": "none"})
    assert_within_budget(per, want_per, budget="cross_entropy", what="per-item loss")


@dtypes
def test_soft_labels_axis0_and_grad_hess(isa, dtype):
    x = _logits((4, 6), dtype, seed=6)  # classes along axis 0
    y = np.random.default_rng(7).dirichlet(np.ones(4), size=6).T.astype(dtype)
    want = oracle.cross_entropy(x, y, axis=0)
    assert_within_budget(mc.loss(x, y, axis=0), want, budget="reduced", what="soft loss")
    g, h = mc.grad_hess(x, y, axis=0, label_smoothing=0.05)
    g_o, h_o, s = oracle.grad_hess(
        x, y, family="multiclass", axis=0, label_smoothing=0.05, with_scale=True
    )
    assert_within_budget(g, g_o, budget="gradient", scale=s, what="grad_hess gradient")
    assert_within_budget(h, h_o, budget="gradient", scale=s, what="grad_hess Hessian")


@dtypes
def test_loss_with_grad_out(isa, dtype):
    x = _logits((3, 4), dtype, seed=8)
    t = np.array([0, 1, 2])
    want_g, scale = oracle.cross_entropy_grad(x, t, with_scale=True)
    want = oracle.cross_entropy(x, t)
    out = np.empty_like(x)
    loss, g = mc.loss_with_grad(x, t, out=out)
    assert g is out
    assert_within_budget(loss, want, budget="reduced", what="loss_with_grad(out=) loss")
    assert_within_budget(out, want_g, budget="gradient", scale=scale, what="grad out=")
    xi = x.copy()
    loss, g = mc.loss_with_grad(xi, t, out=xi)  # in place: the gradient over the logits
    assert g is xi
    assert_within_budget(loss, want, budget="reduced", what="loss_with_grad(out=x) loss")
    assert_within_budget(xi, want_g, budget="gradient", scale=scale, what="grad out=x")


# ----------------------------------------------------------------------------- misuse


def test_soft_targets_summing_to_two_name_multilabel():
    x = _logits((3, 3), F64)
    y = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    for f in (mc.loss, mc.loss_with_grad, mc.grad_hess):
        with pytest.raises(ValueError, match=r"several classes.*use logitkit\.multilabel"):
            f(x, y)
    with pytest.raises(ValueError, match=r"logitkit\.multilabel"):
        mc.brier_score(x, y)


def test_multi_hot_with_an_empty_first_row_still_names_multilabel():
    # the first bad row sums to 0, a later one to 2: the hint must still appear
    x = _logits((3, 3), F64)
    y = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"sums to 0.*logitkit\.multilabel"):
        mc.loss(x, y)
    # rows that merely do not sum to 1 (and none above 1) get no multilabel hint
    with pytest.raises(ValueError, match="must sum to 1") as e:
        mc.loss(x, np.full((3, 3), 0.2))
    assert "multilabel" not in str(e.value)


def test_integer_matrices_are_explained():
    x = _logits((3, 3), F64)
    multi_hot = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"several classes\? use logitkit\.multilabel"):
        mc.loss(x, multi_hot)
    with pytest.raises(ValueError, match=r"one-hot.*argmax"):
        mc.loss(x, np.eye(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"logitkit\.multilabel"):
        mc.loss(x, multi_hot.astype(bool))


def test_probabilities_warning_points_at_the_callers_line():
    p = lk.softmax(_logits((5, 4), F64))
    with pytest.warns(mc.ProbabilitiesWarning) as rec:
        mc.proba(p)
    assert rec[0].filename == __file__  # points at the caller


def test_probabilities_passed_as_logits_warn():
    p = lk.softmax(_logits((5, 4), F64))
    with pytest.warns(UserWarning, match="look like probabilities") as rec:
        mc.proba(p)
    assert rec[0].category is mc.ProbabilitiesWarning
    for f in (mc.log_proba, mc.predict):
        with pytest.warns(mc.ProbabilitiesWarning, match="np.log"):
            f(p)
    with pytest.warns(mc.ProbabilitiesWarning):
        mc.loss(p, np.array([0, 1, 2, 3, 0]))
    with pytest.warns(mc.ProbabilitiesWarning):
        mc.top_k(p.astype(np.float32), 2)


def _probability_warnings(f, x):
    import warnings

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f(x)
    return [str(r.message) for r in rec if issubclass(r.category, mc.ProbabilitiesWarning)]


def test_probability_check_at_its_edges():
    """The check's documented edges: rows of two classes count; 0 and 1 themselves are
    probabilities; a row sum within 1e-3 of 1 counts and one just past does not; one entry above 1
    or below 0 silences it; the message says how many rows it read."""
    warned = [
        np.array([[0.3, 0.7], [0.6, 0.4]]),  # two classes
        np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]),  # one-hot rows: 0 and 1 exactly
        np.array([[0.5, 0.5009], [0.2, 0.8]]),  # a row sum 1 + 0.9e-3
        np.array([[0.5, 0.4991], [0.2, 0.8]]),  # a row sum 1 - 0.9e-3
    ]
    for x in warned:
        msgs = _probability_warnings(mc.proba, x)
        assert len(msgs) == 1, x
        assert f"every one of the {x.shape[0]} rows checked lie in [0, 1] and sum to 1" in msgs[0]
    quiet = [
        np.array([[0.5, 0.5011], [0.2, 0.8]]),  # a row sum 1 + 1.1e-3
        np.array([[1.0 + 2**-40, 0.0], [0.2, 0.8]]),  # sums to 1 within 1e-3, above 1
        np.array([[-(2.0**-40), 1.0], [0.2, 0.8]]),  # sums to 1 within 1e-3, below 0
        np.array([[np.nan, 1.0], [0.2, 0.8]]),
    ]
    for x in quiet:
        assert _probability_warnings(mc.proba, x) == [], x
    # 15 rows are all read; from 16 on, 16 of them spread over the batch
    rows = lk.softmax(_logits((15, 3), F64))
    assert "every one of the 15 rows checked" in _probability_warnings(mc.proba, rows)[0]
    rows = lk.softmax(_logits((16, 3), F64))
    assert "16 rows spread over the batch" in _probability_warnings(mc.proba, rows)[0]
    rows = lk.softmax(_logits((17, 3), F64))
    assert "16 rows spread over the batch" in _probability_warnings(mc.proba, rows)[0]


def test_probability_check_is_bounded_and_quiet_on_logits():
    from logitkit import _multi

    big = lk.softmax(_logits((200_000, 3), F32, seed=9))
    with pytest.warns(mc.ProbabilitiesWarning, match="16 rows spread over the batch"):
        mc.predict(big)
    assert _multi._sample_rows(big, 1).shape == (_multi.SAMPLE_ROWS, 3)
    assert _multi._sample_rows(np.moveaxis(big, 1, 0), 0).shape == (_multi.SAMPLE_ROWS, 3)
    # not probabilities: logits, or rows in [0, 1] not summing to 1 (filterwarnings = error turns
    # any warning here into a failure); one class is an error (test_diagnostics.py)
    mc.proba(_logits((50, 4), F64))
    mc.proba(np.full((3, 4), 0.5))
    mc.proba(np.array([[0.2, 0.8], [0.5, -0.5]]))


# ----------------------------------------------------------------------------- config object


def test_config_object_forwards_its_options():
    x = _logits((6, 4), F64, seed=10)
    t = np.array([0, 1, 2, 3, 0, 1])
    cfg = mc.MultiClass(weight=np.array([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1)
    assert float(cfg.loss(x, t)) == float(
        lk.cross_entropy(x, t, weight=cfg.weight, label_smoothing=0.1)
    )
    assert float(cfg.loss(x, t, label_smoothing=0.0)) == float(
        lk.cross_entropy(x, t, weight=cfg.weight)
    )
    g, h = cfg.grad_hess(x, t)
    g2, h2 = lk.grad_hess(x, t, family="multiclass", weight=cfg.weight, label_smoothing=0.1)
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_array_equal(h, h2)
    warm = mc.MultiClass(axis=0, temperature=2.0)
    np.testing.assert_array_equal(warm.proba(x), lk.softmax(x, axis=0, temperature=2.0))
    np.testing.assert_array_equal(warm.predict(x), np.argmax(x, axis=0))
    assert warm.top_k(x, 2)[0].shape == (2, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        warm.temperature = 3.0
