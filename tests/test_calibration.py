"""Calibration: multiclass.fit_temperature and multilabel.fit_temperature (Platt scaling) on
synthetic data drawn from a known temperature (and bias), checked against the known values and
against the optimality conditions of a plain NumPy loss; expected calibration error and Brier score
against plain NumPy implementations written here."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from logitkit import multiclass as mc
from logitkit import multilabel as ml

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
dtypes = pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.name)


# ----------------------------------------------------------------------------- plain NumPy oracle


def np_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_sigmoid(z):
    z = np.asarray(z, np.float64)
    with np.errstate(over="ignore"):
        return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(z) / (1 + np.exp(z)))


def np_mean_nll(x, labels, T):
    """Mean NLL of softmax(x / T) at integer labels, in float64 (last axis)."""
    z = np.asarray(x, np.float64) / T
    m = z.max(axis=-1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=-1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels]))


def np_ece(conf, outcome, n_bins):
    """ECE with equal-width bins (k/n, (k+1)/n], 0 counted in the first bin."""
    conf = np.asarray(conf, np.float64).ravel()
    outcome = np.asarray(outcome, np.float64).ravel()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for k in range(n_bins):
        in_bin = (conf > edges[k]) & (conf <= edges[k + 1])
        if k == 0:
            in_bin |= conf <= edges[0]
        n = int(in_bin.sum())
        if n:
            total += n / conf.size * abs(outcome[in_bin].mean() - conf[in_bin].mean())
    return total


def _multiclass_data(T_true, N=50_000, C=10, seed=0, dtype=F64):
    """Logits x = T_true·z whose calibrated probabilities are softmax(z) = softmax(x / T_true),
    with labels drawn from them."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (N, C))
    p = np_softmax(z)
    labels = np.minimum((p.cumsum(axis=1) < rng.random((N, 1))).sum(axis=1), C - 1)
    return (z * T_true).astype(dtype), labels, p


def _multilabel_data(T, b, N=100_000, seed=0, dtype=F64):
    """Logits x with P(y_c = 1) = sigmoid(x_c / T_c + b_c)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 3.0, (N, len(T))).astype(dtype)
    p = np_sigmoid(x.astype(np.float64) / T + b)
    y = (rng.random(p.shape) < p).astype(np.float64)
    return x, y, p


# ----------------------------------------------------------------------------- multiclass


@dtypes
@pytest.mark.parametrize("T_true", [0.4, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(dtype, T_true):
    x, labels, _ = _multiclass_data(T_true, seed=int(T_true * 10), dtype=dtype)
    T = mc.fit_temperature(x, labels)
    assert abs(T / T_true - 1) < 0.02, (T, T_true)
    # and it is the minimizer of the plain NumPy loss (not just near the truth)
    f0 = np_mean_nll(x, labels, T)
    for r in (1 - 1e-4, 1 + 1e-4):
        assert np_mean_nll(x, labels, T * r) >= f0 - 1e-13
    slope = (np_mean_nll(x, labels, T * (1 + 1e-5)) - np_mean_nll(x, labels, T * (1 - 1e-5))) / 2e-5
    assert abs(slope) < 1e-7


def test_fit_temperature_on_every_isa_is_the_same_optimum(isa):
    x, labels, _ = _multiclass_data(1.7, N=3000, C=5, seed=3)
    T = mc.fit_temperature(x, labels)
    slope = (np_mean_nll(x, labels, T * (1 + 1e-5)) - np_mean_nll(x, labels, T * (1 - 1e-5))) / 2e-5
    assert abs(slope) < 1e-7


def test_fit_temperature_soft_labels_is_exact():
    # with the true probabilities as targets the cross-entropy is minimized exactly at T_true
    x, _, p = _multiclass_data(1.9, N=2000, C=6, seed=4)
    assert mc.fit_temperature(x, p) == pytest.approx(1.9, rel=1e-9)


def test_fit_temperature_sample_weight_axis_and_config():
    x, labels, _ = _multiclass_data(0.8, N=3000, C=4, seed=5)
    w = np.random.default_rng(6).integers(0, 4, len(labels))
    T_w = mc.fit_temperature(x, labels, sample_weight=w.astype(np.float64))
    T_rep = mc.fit_temperature(np.repeat(x, w, axis=0), np.repeat(labels, w))
    assert T_w == pytest.approx(T_rep, rel=1e-9)
    T = mc.fit_temperature(x, labels)
    assert mc.fit_temperature(np.ascontiguousarray(x.T), labels, axis=0) == pytest.approx(
        T, rel=1e-12
    )
    cfg = mc.MultiClass().fit_temperature(x, labels)
    assert cfg.temperature == pytest.approx(T, rel=1e-12)
    np.testing.assert_array_equal(cfg.proba(x), mc.proba(x, temperature=cfg.temperature))


def test_fit_temperature_at_the_bounds_warns():
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (500, 4))
    x[np.arange(500), np.argmax(x, axis=1)] += 5.0  # every item right with a margin
    with pytest.warns(mc.CalibrationWarning, match=r"lower bound T_min=0\.001.*separate"):
        T = mc.fit_temperature(x, np.argmax(x, axis=1))
    assert T == 1e-3
    with pytest.warns(UserWarning, match=r"upper bound T_max=50"):
        T = mc.fit_temperature(x, np.argmin(x, axis=1), bounds=(0.1, 50))  # wrong way round
    assert T == 50


def test_fit_temperature_errors():
    x, labels, _ = _multiclass_data(1.0, N=20, C=3)
    for bad in ((0, 1), (2.0, 1.0), (1.0, math.inf)):
        with pytest.raises(ValueError, match="bounds"):
            mc.fit_temperature(x, labels, bounds=bad)
    with pytest.raises(TypeError, match="bounds"):
        mc.fit_temperature(x, labels, bounds=1.0)
    multi_hot = np.zeros((20, 3))
    multi_hot[:, :2] = 1.0
    with pytest.raises(ValueError, match=r"logitkit\.multilabel"):
        mc.fit_temperature(x, multi_hot)
    with pytest.raises(ValueError, match="outside"):
        mc.fit_temperature(x, np.full(20, 3))


@dtypes
@pytest.mark.parametrize("n_bins", [1, 10, 15, 40])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_multiclass_ece_and_brier_against_numpy(dtype, n_bins, temperature):
    x, labels, _ = _multiclass_data(2.5, N=4000, C=7, seed=8, dtype=dtype)
    p = np_softmax(x.astype(np.float64) / temperature)
    pred = np.argmax(x, axis=1)
    conf = p[np.arange(len(pred)), pred]
    want = np_ece(conf, pred == labels, n_bins)
    got = mc.expected_calibration_error(x, labels, n_bins=n_bins, temperature=temperature)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-13)
    onehot = np.eye(7)[labels]
    want_b = float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    assert mc.brier_score(x, labels, temperature=temperature) == pytest.approx(want_b, rel=1e-12)
    # probability labels: outcome = the label's probability of the predicted class
    soft = 0.9 * onehot + 0.1 / 7
    want_soft = np_ece(conf, soft[np.arange(len(pred)), pred], n_bins)
    assert mc.expected_calibration_error(
        x, soft, n_bins=n_bins, temperature=temperature
    ) == pytest.approx(want_soft, rel=1e-9, abs=1e-13)
    want_bs = float(np.mean(np.sum((p - soft) ** 2, axis=1)))
    assert mc.brier_score(x, soft, temperature=temperature) == pytest.approx(want_bs, rel=1e-12)


def test_multiclass_metrics_axis_calibration_and_errors():
    x, labels, _ = _multiclass_data(2.5, N=20_000, C=5, seed=9)
    before = mc.expected_calibration_error(x, labels)
    T = mc.fit_temperature(x, labels)
    after = mc.expected_calibration_error(x, labels, temperature=T)
    assert after < 0.2 * before  # over-confident logits, fixed by the fitted temperature
    assert mc.brier_score(x, labels, temperature=T) < mc.brier_score(x, labels)
    assert mc.expected_calibration_error(x.T, labels, axis=0) == pytest.approx(before, rel=1e-12)
    assert mc.brier_score(x.T, labels, axis=0) == pytest.approx(mc.brier_score(x, labels))
    assert math.isnan(mc.expected_calibration_error(np.zeros((0, 3)), np.zeros(0, np.int64)))
    assert math.isnan(mc.brier_score(np.zeros((0, 3)), np.zeros(0, np.int64)))
    for bad in (0, -3):
        with pytest.raises(ValueError, match="n_bins"):
            mc.expected_calibration_error(x, labels, n_bins=bad)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="n_bins"):
            mc.expected_calibration_error(x, labels, n_bins=bad)
    with pytest.raises(ValueError, match=r"label 5 at position \(0,\) is outside \[0, 5\)"):
        mc.brier_score(x[:3], np.array([5, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        mc.expected_calibration_error(x, labels[:-1])


# ----------------------------------------------------------------------------- multilabel (Platt)

T_TRUE = np.array([0.5, 1.0, 2.0, 3.0])
B_TRUE = np.array([-1.0, 0.0, 0.5, 1.5])


def _platt_targets(y):
    """Platt (1999): positives -> (N+ + 1)/(N+ + 2), negatives -> 1/(N- + 2), per class."""
    n_pos = y.sum(axis=0)
    n_neg = y.shape[0] - n_pos
    return np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))


def _platt_gradient(x, t, T, b):
    """Gradient of the mean BCE of sigmoid(a·x + b), a = 1/T, against targets t, per class."""
    x = np.asarray(x, np.float64)
    r = np_sigmoid(x / T + b) - t
    return (r * x).mean(axis=0), r.mean(axis=0)


@dtypes
def test_platt_recovers_known_temperatures_and_biases(dtype):
    x, y, _ = _multilabel_data(T_TRUE, B_TRUE, dtype=dtype)
    fit = ml.fit_temperature(x, y)
    assert isinstance(fit, ml.PlattScaling)
    assert fit.temperature.shape == (4,) and fit.bias.shape == (4,)
    np.testing.assert_array_less(np.abs(fit.temperature / T_TRUE - 1), 0.03)
    np.testing.assert_array_less(np.abs(fit.bias - B_TRUE), 0.05)
    # the optimum of Platt's regularized loss, by the plain NumPy gradient
    ga, gb = _platt_gradient(x, _platt_targets(y), fit.temperature, fit.bias)
    np.testing.assert_array_less(np.abs(ga), 1e-9)
    np.testing.assert_array_less(np.abs(gb), 1e-9)


def test_platt_soft_labels_unregularized_is_exact():
    x, _, p = _multilabel_data(T_TRUE, B_TRUE, N=3000, seed=1)
    fit = ml.fit_temperature(x, p, regularize=False)
    np.testing.assert_allclose(fit.temperature, T_TRUE, rtol=1e-8)
    np.testing.assert_allclose(fit.bias, B_TRUE, rtol=0, atol=1e-8)


def test_platt_without_bias_and_along_axis0():
    T = np.array([0.7, 1.3, 2.2])
    x, y, _ = _multilabel_data(T, np.zeros(3), N=60_000, seed=2)
    fit = ml.fit_temperature(x, y, fit_bias=False)
    np.testing.assert_array_equal(fit.bias, 0.0)
    np.testing.assert_array_less(np.abs(fit.temperature / T - 1), 0.03)
    ga, _ = _platt_gradient(x, _platt_targets(y), fit.temperature, 0.0)
    np.testing.assert_array_less(np.abs(ga), 1e-9)
    fit0 = ml.fit_temperature(x.T, y.T, axis=0, fit_bias=False)
    np.testing.assert_allclose(fit0.temperature, fit.temperature, rtol=1e-10)
    cfg = ml.MultiLabel().fit_temperature(x[:5000], y[:5000])
    direct = ml.fit_temperature(x[:5000], y[:5000])
    np.testing.assert_array_equal(cfg.temperature, direct.temperature)
    np.testing.assert_array_equal(cfg.proba(x[:10]), ml.proba(x[:10], **direct._asdict()))


def test_platt_separable_and_degenerate_classes():
    rng = np.random.default_rng(3)
    N = 2000
    x = rng.normal(0, 2, (N, 3))
    x[:, 0] += np.sign(x[:, 0])  # |x| >= 1: class 0 is separable at 0
    y = np.stack([x[:, 0] > 0, rng.random(N) < np_sigmoid(x[:, 1]), np.zeros(N, bool)], axis=1)
    y = y.astype(np.float64)
    # regularized (default): the separable class gets a finite, steep fit; the class without
    # positives sits at T_max with b = logit of its target 1/(N+2)
    with pytest.warns(ml.CalibrationWarning, match=r"upper bound T_max=1000 for classes \[2\]"):
        fit = ml.fit_temperature(x, y)
    assert 1e-3 < fit.temperature[0] < 0.5 and np.all(np.isfinite(fit.bias))
    ga, gb = _platt_gradient(x[:, :2], _platt_targets(y[:, :2]), fit.temperature[:2], fit.bias[:2])
    np.testing.assert_array_less(np.abs(np.concatenate([ga, gb])), 1e-9)
    assert fit.temperature[2] == 1000.0
    assert fit.bias[2] == pytest.approx(math.log(1 / (N + 2) / (1 - 1 / (N + 2))), abs=0.02)
    # unregularized: the separable class runs to the lower bound, named in the warning
    with pytest.warns(ml.CalibrationWarning, match=r"lower bound T_min=0\.001 for classes \[0\]"):
        fit = ml.fit_temperature(x[:, :2], y[:, :2], regularize=False)
    assert fit.temperature[0] == 1e-3
    p = ml.proba(x[:, :2], **fit._asdict())
    assert np.all(np.isfinite(p))


def test_platt_errors():
    x, y, _ = _multilabel_data(T_TRUE, B_TRUE, N=50)
    with pytest.raises(ValueError, match=r"labels: must be in \[0, 1\]"):
        ml.fit_temperature(x, y * 2)
    with pytest.raises(ValueError, match="bounds"):
        ml.fit_temperature(x, y, bounds=(1.0, 0.5))
    with pytest.raises(ValueError, match=r"expected the shape of logits \(50, 4\)"):
        ml.fit_temperature(x, y[:, :3])


@dtypes
@pytest.mark.parametrize("n_bins", [1, 10, 15, 33])
def test_multilabel_ece_and_brier_against_numpy(dtype, n_bins):
    x, y, _ = _multilabel_data(T_TRUE, B_TRUE, N=3000, seed=4, dtype=dtype)
    y[0, 0] = 0.25  # a probability label
    for T, b in ((1.0, 0.0), (T_TRUE, B_TRUE), (2.0, -0.5)):
        p = np_sigmoid(x.astype(np.float64) / T + b)
        got = ml.expected_calibration_error(x, y, n_bins=n_bins, temperature=T, bias=b)
        assert got == pytest.approx(np_ece(p, y, n_bins), rel=1e-9, abs=1e-13)
        want_b = float(np.mean((p - y) ** 2))
        assert ml.brier_score(x, y, temperature=T, bias=b) == pytest.approx(want_b, rel=1e-12)


def test_multilabel_metrics_calibration_and_edges():
    x, y, _ = _multilabel_data(T_TRUE, B_TRUE, N=40_000, seed=5)
    fit = ml.fit_temperature(x, y)
    assert ml.expected_calibration_error(x, y, **fit._asdict()) < 0.25 * (
        ml.expected_calibration_error(x, y)
    )
    assert ml.brier_score(x, y, **fit._asdict()) < ml.brier_score(x, y)
    # Brier is exact for confident right answers: (1 - p)^2 with 1 - p = sigmoid(-40)
    assert ml.brier_score(np.array([[40.0, -40.0]]), np.array([[1.0, 0.0]])) == pytest.approx(
        math.exp(-80), rel=1e-12
    )
    assert math.isnan(ml.brier_score(np.zeros((0, 2)), np.zeros((0, 2))))
    with pytest.raises(ValueError, match="n_bins"):
        ml.expected_calibration_error(x, y, n_bins=0)


def test_platt_just_past_a_bound_keeps_the_bias_optimal():
    """Optima a little beyond the bounds (the last Newton steps in 1/T short, well under 1): the
    class is held at the bound, named in the warning, and its bias is the optimum at that T (the
    bias's gradient is 0 there), not what the joint step would give."""
    rng = np.random.default_rng(21)
    N = 4000
    x = rng.normal(0, 1, (N, 2))
    y = (rng.random((N, 2)) < np_sigmoid(x * np.array([2.6, 0.7]) + 0.4)).astype(np.float64)
    free = ml.fit_temperature(x, y)
    assert 1 / free.temperature[0] > 2.1 and 1 / free.temperature[1] < 0.9  # the optima
    with pytest.warns(ml.CalibrationWarning, match=r"lower bound T_min=0\.5 for classes \[0\]"):
        fit = ml.fit_temperature(x[:, :1], y[:, :1], bounds=(0.5, 1e3))
    assert fit.temperature[0] == 0.5
    _, gb = _platt_gradient(x[:, :1], _platt_targets(y[:, :1]), fit.temperature, fit.bias)
    assert abs(gb[0]) < 1e-12
    with pytest.warns(ml.CalibrationWarning, match=r"upper bound T_max=1\.2 for classes \[0\]"):
        fit = ml.fit_temperature(x[:, 1:], y[:, 1:], bounds=(1e-3, 1.2))
    assert fit.temperature[0] == 1.2
    _, gb = _platt_gradient(x[:, 1:], _platt_targets(y[:, 1:]), fit.temperature, fit.bias)
    assert abs(gb[0]) < 1e-12


def test_platt_without_bias_or_regularization_on_a_class_with_one_label_value():
    """fit_bias=False, regularize=False: a class whose labels are all positive has a finite
    maximum-likelihood 1/T when its logits take both signs (it is not a separable class, whose
    1/T would run to the bound): the T whose gradient in 1/T is 0, no warning."""
    rng = np.random.default_rng(22)
    x = rng.normal(1.0, 2.0, (500, 2))
    y = np.stack([np.ones(500), (rng.random(500) < np_sigmoid(x[:, 1])).astype(float)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = ml.fit_temperature(x, y, fit_bias=False, regularize=False)
    assert np.all(fit.bias == 0) and np.all((1e-3 < fit.temperature) & (fit.temperature < 1e3))
    ga, _ = _platt_gradient(x, y, fit.temperature, fit.bias)
    np.testing.assert_array_less(np.abs(ga), 1e-12)


def test_platt_separable_class_far_from_zero_puts_the_cut_in_the_gap():
    """Unregularized, a separable class is held at T_min; its bias puts the decision in the gap
    between the classes (every positive above p = 1/2, every negative below), wherever the gap
    lies: here around logit 50, where a fit started at b = 0 sees only saturated sigmoids."""
    rng = np.random.default_rng(23)
    neg, pos = rng.uniform(40, 49, 300), rng.uniform(51, 60, 300)
    x = np.concatenate([neg, pos])[:, None]
    y = np.concatenate([np.zeros(300), np.ones(300)])[:, None]
    with pytest.warns(ml.CalibrationWarning, match="lower bound"):
        fit = ml.fit_temperature(x, y, regularize=False)
    assert fit.temperature[0] == 1e-3
    cut = -fit.bias[0] * fit.temperature[0]  # the logit where x / T + b = 0
    assert neg.max() < cut < pos.min(), cut
    p = ml.proba(x, **fit._asdict())[:, 0]
    assert np.all(p[:300] < 0.5) and np.all(p[300:] > 0.5)


def test_platt_inside_the_bounds_does_not_warn():
    """A fitted T inside the bounds, even near one (here 1.3 × T_min), is no warning; the warning
    is for a class held at a bound."""
    rng = np.random.default_rng(21)
    x = rng.normal(0, 1, (4000, 1))
    y = (rng.random((4000, 1)) < np_sigmoid(x * 2.6 + 0.4)).astype(np.float64)
    free = ml.fit_temperature(x, y)
    lo = free.temperature[0] / 1.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = ml.fit_temperature(x, y, bounds=(lo, 1e3))
        fit_hi = ml.fit_temperature(x, y, bounds=(1e-3, free.temperature[0] * 1.3))
    np.testing.assert_allclose(fit.temperature, free.temperature, rtol=1e-9)
    np.testing.assert_allclose(fit_hi.temperature, free.temperature, rtol=1e-9)


# ----------------------------------------------------------------------------- the 1-d solver


def _counted(h):
    calls = []

    def f(s):
        calls.append(s)
        return h(s)

    return f, calls


@pytest.mark.parametrize(
    "h, root, most",
    [
        (lambda s: s - 0.3, 0.3, 5),
        (lambda s: s + 2.5, -2.5, 8),
        (lambda s: math.tanh(4.0 * (s - 1.7)), 1.7, 16),  # flat tails: secants leave the bracket
        (lambda s: (s + 0.6) ** 3, -0.6, 120),  # a triple root: the Illinois halving matters
        (lambda s: math.expm1(s - 5.0), 5.0, 24),  # one side far steeper than the other
        (lambda s: math.atan(s - 0.01) * 1e-300, 0.01, 16),  # tiny values: only signs matter
        # a jump from -1e-300 to 1e300: every secant point rounds to an endpoint, bisection
        (lambda s: 1e300 if s >= 1.7 else -1e-300, 1.7, 48),
        (lambda s: 1e-300 if s >= -1.2 else -1e300, -1.2, 48),
    ],
    ids=["linear", "negative", "tanh", "cubic", "expm1", "tiny", "jump-up", "jump-down"],
)
def test_solve_log_temperature_finds_the_root_in_few_evaluations(h, root, most):
    """The root to the solver's tolerance (1e-11, relative to 1 + |root|), in few evaluations of
    h (each is a pass over the data): doubling steps to a bracket, then superlinear narrowing
    (linear for a multiple root)."""
    from logitkit._calibration import solve_log_temperature

    f, calls = _counted(h)
    s, side = solve_log_temperature(f, -math.log(1e3) * 3, math.log(1e3) * 3)
    assert side == 0
    assert abs(s - root) <= 1e-10 * (1 + abs(root)), (s, root)
    assert len(calls) <= most, len(calls)


def test_solve_log_temperature_at_its_bounds_and_its_edges():
    from logitkit._calibration import solve_log_temperature

    lo, hi = -3.0, 2.0
    assert solve_log_temperature(lambda s: s - 9.0, lo, hi) == (hi, 1)  # root beyond hi
    assert solve_log_temperature(lambda s: s + 9.0, lo, hi) == (lo, -1)  # root below lo
    assert solve_log_temperature(lambda s: s, lo, hi) == (0.0, 0)  # the start (T = 1) is the root
    # a derivative that underflows to 0 on the way to a bound is not a root
    assert solve_log_temperature(lambda s: 0.0 if s > 1.0 else -1.0, lo, hi) == (hi, 1)
    # no narrowing step allowed: the secant point of the bracket (exact for a linear h)
    s, side = solve_log_temperature(lambda s: 4.0 * (s - 0.3), lo, hi, max_eval=0)
    assert side == 0 and abs(s - 0.3) <= 1e-15
    # one narrowing step of a bracket whose secant point falls outside: the midpoint rule
    s, side = solve_log_temperature(lambda s: math.tanh(40.0 * (s - 1.7)), lo, hi, max_eval=1)
    assert side == 0 and 1.5 <= s <= 2.0


# ----------------------------------------------------------------------------- the Platt fit


def _bce_gradient_per_column(X, t, a, b):
    """The float64 gradient of mean_i BCE(a·X_i + b, t_i) per column: (d/da, d/db)."""
    z = X * a + b
    r = 1.0 / (1.0 + np.exp(-z)) - t
    return (r * X).mean(axis=0), r.mean(axis=0)


def _platt_data(seed=3, N=4000):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 2.0, (N, 4))
    a_true, b_true = np.array([0.5, 1.0, 2.0, 0.25]), np.array([0.3, -1.0, 0.0, 2.0])
    t = (rng.random((N, 4)) < 1.0 / (1.0 + np.exp(-(X * a_true + b_true)))).astype(np.float64)
    return X, t


def test_platt_newton_reaches_the_stationary_point_quickly():
    """Damped Newton on every column at once: the gradient vanishes at the result (to 1e-12),
    within 12 iterations on well-conditioned data; without the bias, b stays 0 and d/da
    vanishes."""
    from logitkit._calibration import platt_newton

    X, t = _platt_data()
    a, b, it = platt_newton(X, t, fit_bias=True, a_lo=1e-3, a_hi=1e3)
    ga, gb = _bce_gradient_per_column(X, t, a, b)
    assert np.abs(ga).max() <= 1e-12 and np.abs(gb).max() <= 1e-12, (ga, gb)
    assert it <= 12, it
    a0, b0, it0 = platt_newton(X, t, fit_bias=False, a_lo=1e-3, a_hi=1e3)
    assert (b0 == 0).all() and np.abs(_bce_gradient_per_column(X, t, a0, b0)[0]).max() <= 1e-12
    assert it0 <= 12, it0


def test_platt_newton_at_the_bounds_of_a_and_with_columns_held():
    """A column whose optimum lies past a bound of a stops at it and fits b alone (d/db = 0
    there); a held column keeps a = a_hi and fits b from its start."""
    from logitkit._calibration import platt_newton

    X, t = _platt_data(seed=5)
    a, b, _ = platt_newton(X, t, fit_bias=True, a_lo=0.6, a_hi=0.9)
    ga, gb = _bce_gradient_per_column(X, t, a, b)
    assert np.array_equal(a, [0.6, 0.9, 0.9, 0.6]), a
    assert np.abs(gb).max() <= 1e-12
    assert ga[0] > 0 and ga[3] > 0 and ga[1] < 0 and ga[2] < 0  # pushing past the bounds
    held = np.array([False, True, False, True])
    a, b, _ = platt_newton(
        X, t, fit_bias=True, a_lo=1e-3, a_hi=3.0, hold_at_max=held, b_start=np.full(4, 0.5)
    )
    ga, gb = _bce_gradient_per_column(X, t, a, b)
    assert (a[held] == 3.0).all() and np.abs(gb).max() <= 1e-12
    assert np.abs(ga[~held]).max() <= 1e-12
