"""grad_hess against the built-in objectives of the gradient-boosting libraries.

The oracles below restate, in NumPy, the gradient and Hessian that XGBoost's
``multi:softprob`` / ``binary:logistic`` and LightGBM's ``multiclass`` / ``binary`` objectives
compute (no library is installed), evaluated in the oracle's work dtype (tests/oracle.py: float64
for float32 logits, long double for float64): ``hess_scale="xgboost"`` / ``"lightgbm"`` must
reproduce them within the gradient budget (tests/budgets.py), and the default must stay the exact
diagonal p·(1 - p).
"""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle
import pytest
from budgets import assert_within_budget

XGB_FLOOR = 1e-16


def _wide(x):
    """x in the oracle's work dtype (exact)."""
    x = np.asarray(x)
    return x.astype(oracle.loss_work_dtype(x.dtype))


def _softmax_parts(x):
    """p and 1 - p (the latter as the sum of the other classes' shares: exact for p near 1)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    S = e.sum(axis=-1, keepdims=True)
    others = (e[:, None, :] * (1.0 - np.eye(x.shape[-1]))).sum(axis=-1)  # Σ_{j≠c} e_j
    return e / S, others / S


def _one_hot(labels, C):
    return (labels[:, None] == np.arange(C)).astype(np.float64)


def xgboost_softprob(x, labels, w):
    """XGBoost multi:softprob: g = (p - y)·w, h = max(2·p·(1 - p)·w, eps)."""
    x = _wide(x)
    w = w.astype(x.dtype)
    p, q = _softmax_parts(x)
    y = _one_hot(labels, x.shape[1])
    return (p - y) * w[:, None], np.maximum(2 * p * q * w[:, None], x.dtype.type(XGB_FLOOR))


def lightgbm_multiclass(x, labels, w):
    """LightGBM multiclass: g = (p - y)·w, h = C/(C - 1)·p·(1 - p)·w."""
    x = _wide(x)
    w = w.astype(x.dtype)
    C = x.dtype.type(x.shape[1])
    p, q = _softmax_parts(x)
    y = _one_hot(labels, x.shape[1])
    return (p - y) * w[:, None], C / (C - 1) * p * q * w[:, None]


def _sigmoid_pair(x):
    """σ(x) and σ(-x) = 1 - σ(x), each computed directly."""
    return 1.0 / (1.0 + np.exp(-x)), 1.0 / (1.0 + np.exp(x))


def xgboost_logistic(x, y, spw):
    """XGBoost binary:logistic: w = scale_pos_weight where y = 1; g = (σ - y)·w,
    h = max(σ·(1 - σ), eps)·w."""
    x = _wide(x)
    s, q = _sigmoid_pair(x)
    w = np.where(y == 1, x.dtype.type(spw), x.dtype.type(1))
    g = np.where(y == 1, -q, s)  # σ - y without cancellation (y is 0 or 1)
    return g * w, np.maximum(s * q, x.dtype.type(XGB_FLOOR)) * w


def lightgbm_binary(x, y):
    """LightGBM binary (sigmoid = 1, labels ±1): r = -l/(1 + exp(l·x)), g = r, h = |r|·(1 - |r|)
    (1 - |r| = 1/(1 + exp(-l·x)), computed so)."""
    x = _wide(x)
    lab = (2 * np.asarray(y) - 1).astype(x.dtype)
    r = -lab / (1 + np.exp(lab * x))
    return r, np.abs(r) / (1 + np.exp(-lab * x))


def _check(what, got, want, scale):
    """The gradient budget (grad_hess's gradient and Hessian), the absolute part times the
    weights' scale."""
    assert_within_budget(got, want, budget="gradient", scale=scale, what=what)


def _multiclass_case(rng, dtype):
    x = rng.normal(0, 3, (64, 7))
    x[0] = [0, 45, -3, 0, 0, 1, 2]  # p(1 - p) of the top class below XGBoost's floor
    x[1] = [-800, 0, 800, 0, 1, 2, 3]  # saturated
    x = x.astype(dtype)
    labels = rng.integers(0, 7, 64)
    w = rng.uniform(0.5, 2.0, 64)
    return x, labels, w


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiclass_xgboost_and_lightgbm(isa, dtype):
    rng = np.random.default_rng(5)
    x, labels, w = _multiclass_case(rng, dtype)
    C = x.shape[1]
    for scale, restated, hs in (
        ("xgboost", xgboost_softprob, 2.0),
        ("lightgbm", lightgbm_multiclass, C / (C - 1)),
    ):
        g, h = lk.grad_hess(x, labels, family="multiclass", sample_weight=w, hess_scale=scale)
        eg, eh = restated(x, labels, w)
        assert g.dtype == h.dtype == dtype
        _check(f"{scale} gradient", g, eg, w[:, None])
        _check(f"{scale} Hessian", h, eh, hs * w[:, None])
        # the module verb and the config object take it too
        g2, h2 = lk.multiclass.grad_hess(x, labels, sample_weight=w, hess_scale=scale)
        assert np.array_equal(h2, h) and np.array_equal(g2, g)
    # the floor is what XGBoost returns where the exact Hessian is below it
    _, h = lk.grad_hess(x, labels, family="multiclass", hess_scale="xgboost")
    _, h1 = lk.grad_hess(x, labels, family="multiclass")
    assert h1[0, 1] < XGB_FLOOR and h[0, 1] == dtype(XGB_FLOOR)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_xgboost_and_lightgbm(isa, dtype):
    rng = np.random.default_rng(6)
    x = rng.normal(0, 4, (40, 3))
    x[0] = [40.0, -40.0, 0.0]  # σ(1 - σ) below XGBoost's floor
    x = x.astype(dtype)
    y = rng.integers(0, 2, (40, 3)).astype(dtype)
    g, h = lk.grad_hess(x, y, family="binary", pos_weight=3.0, hess_scale="xgboost")
    eg, eh = xgboost_logistic(x, y, 3.0)
    c = 1 + 2.0 * y  # the pos_weight factor 1 + (P - 1)·y of the gradient's scale
    _check("xgboost binary gradient", g, eg, c)
    _check("xgboost binary Hessian", h, eh, c)
    g, h = lk.grad_hess(x, y, family="binary", hess_scale="lightgbm")
    eg, eh = lightgbm_binary(x, y)
    _check("lightgbm binary gradient", g, eg, None)
    _check("lightgbm binary Hessian", h, eh, None)
    g2, h2 = lk.multilabel.grad_hess(x, y, pos_weight=3.0, hess_scale="xgboost")
    g3, h3 = lk.grad_hess(x, y, family="binary", pos_weight=3.0, hess_scale="xgboost")
    assert np.array_equal(g2, g3) and np.array_equal(h2, h3)


@pytest.mark.parametrize("family", ["multiclass", "binary"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numeric_scale_is_exact_and_default_unchanged(family, dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (16, 5)).astype(dtype)
    t = rng.integers(0, 5, 16) if family == "multiclass" else rng.uniform(0, 1, (16, 5))
    g0, h0 = lk.grad_hess(x, t, family=family)
    g1, h1 = lk.grad_hess(x, t, family=family, hess_scale=1.0)
    g2, h2 = lk.grad_hess(x, t, family=family, hess_scale=2)
    assert np.array_equal(g0, g1) and np.array_equal(h0, h1) and np.array_equal(g0, g2)
    assert np.array_equal(h2, 2 * h0)  # a power of two scales exactly
    assert lk.grad_hess(x, t, family=family, hess_scale="lightgbm")[1].dtype == dtype


def test_lightgbm_factor_follows_the_class_axis():
    rng = np.random.default_rng(8)
    x = rng.normal(0, 2, (4, 9))  # C = 4 along axis 0
    labels = rng.integers(0, 4, 9)
    _, h = lk.grad_hess(x, labels, family="multiclass", axis=0, hess_scale="lightgbm")
    _, eh = lightgbm_multiclass(x.T, labels, np.ones(9))
    _check("lightgbm Hessian, axis 0", h.T, eh, 4 / 3)


@pytest.mark.parametrize(
    "bad, exc, text",
    [
        ("xgb", ValueError, "'xgb'"),
        (0.0, ValueError, "0.0"),
        (-2, ValueError, "-2"),
        (float("nan"), ValueError, "nan"),
        (float("inf"), ValueError, "inf"),
        (True, TypeError, "True"),
        ([2.0], TypeError, "[2.0]"),
        (None, TypeError, "None"),
    ],
)
@pytest.mark.parametrize("family", ["multiclass", "binary"])
def test_bad_hess_scale(bad, exc, text, family):
    x = np.zeros((2, 3))
    t = np.zeros(2, np.int64) if family == "multiclass" else np.zeros((2, 3))
    with pytest.raises(exc, match="hess_scale") as e:
        lk.grad_hess(x, t, family=family, hess_scale=bad)
    assert text in str(e.value)
