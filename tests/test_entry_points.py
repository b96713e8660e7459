"""Every option through every entry point, and the planted bugs a whole-suite run once missed.

1. The config objects (``multiclass.MultiClass``, ``multilabel.MultiLabel``): for every method and
   every field, an object holding only that field at a non-default value gives exactly what the
   module function of the same name gives with that option, and — where the option belongs to the
   function — not what it gives without it. An option a method accepts and ignores fails here.
2. The module functions: each option a function takes changes its result on inputs chosen so that
   it must (ignore_index hits a label, the threshold cuts a probability, ...). The values of those
   functions against the NumPy oracle are the business of test_multiclass.py, test_multilabel.py and
   the loss tests; this file makes sure no option is dropped on the way there.
3. Named regression tests for one-line bugs that once survived the suite (docs/testing.md lists
   them): a temperature dropped with keepdims, a bin edge, ties past a sort's small-array case,
   boundary values of alpha and label_smoothing, the probabilities check's row sample.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import warnings

import logitkit as lk
import numpy as np
import oracle
import pytest
from logitkit import multiclass as mc
from logitkit import multilabel as ml

N, C = 8, 5
_rng = np.random.default_rng(20)
X = _rng.standard_normal((N, C)) * 2.0
MC_LABELS = np.array([0, 1, 2, 3, 4, 2, 1, 0])  # includes 2, the ignore_index below
ML_TARGET = (_rng.random((N, C)) < 0.4).astype(np.float64)
ML_TARGET[0] = [1, 0, 1, 0, 1]

# One non-default value per field: each changes the result of every method that takes it.
NON_DEFAULT = {
    mc.MultiClass: {
        "axis": 0,
        "weight": np.array([0.5, 2.0, 1.0, 3.0, 0.25]),
        "ignore_index": 2,
        "label_smoothing": 0.2,
        "temperature": 1.7,
    },
    ml.MultiLabel: {
        "axis": 0,
        "weight": np.array([0.5, 2.0, 1.0, 3.0, 0.25]),
        "pos_weight": np.array([2.0, 0.5, 4.0, 1.0, 3.0]),
        "label_smoothing": 0.15,
        "threshold": 0.3,
        "temperature": 1.6,
        "bias": np.array([0.3, -0.2, 0.1, 0.0, -0.4]),
    },
}
MODULE = {mc.MultiClass: mc, ml.MultiLabel: ml}
# Options that matter only beside another: the temperature of a decision at probability 0.5 (logit
# 0, whatever T) changes it only at another threshold.
CONTEXT = {(ml.MultiLabel, "predict", "temperature"): {"threshold": 0.3}}


def _methods(cls):
    return [
        name
        for name, f in inspect.getmembers(cls, inspect.isfunction)
        # ("ǁ": the copies of each method a mutation-testing run adds, docs/testing.md)
        if not name.startswith("_") and "\u01c1" not in name
    ]


# The methods by their positional arguments: logits alone, logits and k, logits and a target.
ONE_INPUT = ("proba", "log_proba", "entropy", "predict")
WITH_TARGET = (
    "loss",
    "loss_with_grad",
    "grad_hess",
    "fit_temperature",
    "expected_calibration_error",
    "brier_score",
)


def _args(cls, method, axis):
    """Positional arguments of `method` for an object along `axis` (axis 0: classes down the
    columns, the same numbers transposed)."""
    x = X if axis == -1 else X.T
    if method == "top_k":
        return (x, 3)
    if method in WITH_TARGET:
        if cls is mc.MultiClass:
            return (x, MC_LABELS)
        return (x, ML_TARGET if axis == -1 else ML_TARGET.T)
    return (x,)


def _result(r):
    """A comparable tuple of arrays from whatever a method returns."""
    if isinstance(r, (mc.MultiClass, ml.MultiLabel)):
        return (
            np.asarray(r.temperature, dtype=float),
            np.asarray(getattr(r, "bias", 0.0), dtype=float),
        )
    if dataclasses.is_dataclass(r):
        return tuple(np.asarray(v, dtype=float) for v in dataclasses.astuple(r))
    if isinstance(r, tuple):
        return tuple(np.asarray(v) for v in r)
    return (np.asarray(r),)


def _same(a, b):
    a, b = _result(a), _result(b)
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        for x, y in zip(a, b, strict=True)
    )


CASES = [
    (cls, method, field)
    for cls in (mc.MultiClass, ml.MultiLabel)
    for method in _methods(cls)
    for field in NON_DEFAULT[cls]
]


@pytest.mark.parametrize(
    "cls, method, field", CASES, ids=[f"{c.__name__}.{m}-{f}" for c, m, f in CASES]
)
def test_every_config_field_reaches_every_method_that_takes_it(cls, method, field):
    value = NON_DEFAULT[cls][field]
    context = CONTEXT.get((cls, method, field), {})
    obj = cls(**{field: value}, **context)
    module_fn = getattr(MODULE[cls], method)
    params = inspect.signature(module_fn).parameters
    axis = value if field == "axis" else -1
    args = _args(cls, method, axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lk.multiclass.CalibrationWarning)
        got = getattr(obj, method)(*args)
        if field in params:
            want = module_fn(*args, **{field: value}, **context)
            plain = module_fn(*args, **context) if field != "axis" else None
        else:
            want = plain = module_fn(*args, **context)
    if method == "fit_temperature":
        # the object's method returns a copy with the fitted values; the function returns them
        want_obj = dataclasses.replace(obj, **_fitted(want))
        assert _same(got, want_obj), (method, field)
    else:
        assert _same(got, want), (method, field, got, want)
    if field in params and field != "axis":
        # the option matters here: leaving it out gives something else
        assert not _same(want, plain), f"{method} ignores {field}={value!r}"


def _fitted(r):
    """The fields fit_temperature's result sets on a config object."""
    if isinstance(r, (float, np.floating)):
        return {"temperature": float(r)}
    out = {"temperature": r.temperature}
    if getattr(r, "bias", None) is not None:
        out["bias"] = r.bias
    return out


@pytest.mark.parametrize("cls", [mc.MultiClass, ml.MultiLabel])
def test_a_keyword_given_to_a_method_overrides_the_objects_field(cls):
    obj = cls(temperature=3.0)
    for method in ("proba", "log_proba", "entropy"):
        got = getattr(obj, method)(X, temperature=0.5)
        want = getattr(MODULE[cls], method)(X, temperature=0.5)
        assert _same(got, want), method


@pytest.mark.parametrize("cls", [mc.MultiClass, ml.MultiLabel])
def test_every_method_of_a_config_object_is_exercised(cls):
    """A method added to a config object without an entry in _args still runs above: this keeps
    the list of methods and the list of their inputs in step."""
    assert set(_methods(cls)) == set(ONE_INPUT) | {"top_k"} | set(WITH_TARGET)


# ------------------------------------------------------------------ options of the module functions


def _probs_mc(x, t=1.0, axis=-1):
    z = np.moveaxis(np.asarray(x, np.float64), axis, -1) / t
    e = np.exp(z - z.max(-1, keepdims=True))
    return np.moveaxis(e / e.sum(-1, keepdims=True), -1, axis)


def test_multiclass_log_proba_and_top_k_with_a_temperature_against_numpy():
    t = 2.5
    lp = mc.log_proba(X, temperature=t)
    assert np.all(oracle.ulp_errors(lp, np.log(_probs_mc(X, t)), np.float64) <= 16)
    obj = mc.MultiClass(temperature=t)
    assert np.all(oracle.ulp_errors(obj.log_proba(X), np.log(_probs_mc(X, t)), np.float64) <= 16)
    idx, vals = obj.top_k(X, 2)
    p = _probs_mc(X, t)
    want_idx = np.argsort(-X, axis=-1, kind="stable")[:, :2]
    assert np.array_equal(idx, want_idx)
    assert np.allclose(vals, np.take_along_axis(p, want_idx, -1), rtol=1e-13, atol=0)


def _bce_oracle(x, y, *, weight=None, pos_weight=None, smoothing=0.0):
    y = y * (1 - smoothing) + 0.5 * smoothing
    pw = 1.0 if pos_weight is None else pos_weight
    w = 1.0 if weight is None else weight
    ls_pos = -np.logaddexp(0, -x)  # log σ(x)
    ls_neg = -np.logaddexp(0, x)  # log σ(-x)
    loss = -w * (pw * y * ls_pos + (1 - y) * ls_neg)
    s = 1 / (1 + np.exp(-x))
    grad = w * (pw * y * (s - 1) + (1 - y) * s)
    return loss, grad


def test_multilabel_loss_with_grad_with_pos_weight_and_smoothing_against_numpy():
    pw = NON_DEFAULT[ml.MultiLabel]["pos_weight"]
    obj = ml.MultiLabel(pos_weight=pw, label_smoothing=0.1)
    loss, grad = obj.loss_with_grad(X, ML_TARGET, reduction="none")
    el, eg = _bce_oracle(X, ML_TARGET, pos_weight=pw, smoothing=0.1)
    assert np.allclose(loss, el, rtol=1e-13, atol=1e-15)
    assert np.allclose(grad, eg, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- planted-bug regressions


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_keepdims_with_temperature_and_where(dtype):
    x = X.astype(dtype)
    t = 2.0
    where = np.ones_like(x, dtype=bool)
    where[:, 1] = False
    for kw, mask in (({}, where | True), ({"where": where}, where)):
        got = lk.logsumexp(x, axis=-1, keepdims=True, temperature=t, **kw)
        z = np.where(mask, x.astype(np.float64) / t, -np.inf)
        m = z.max(-1, keepdims=True)
        want = m + np.log(np.exp(z - m).sum(-1, keepdims=True))
        assert got.shape == (N, 1)
        assert np.all(oracle.ulp_errors(got, want, dtype) <= 8), kw
        out = np.empty((N, 1), dtype)
        r = lk.logsumexp(x, axis=-1, keepdims=True, temperature=t, out=out, **kw)
        assert r is out and np.array_equal(out, got, equal_nan=True)
    got0 = lk.logsumexp(x, axis=0, keepdims=True, temperature=t)
    z = x.astype(np.float64) / t
    want0 = np.log(np.exp(z).sum(0, keepdims=True))
    assert got0.shape == (1, C) and np.all(oracle.ulp_errors(got0, want0, dtype) <= 8)


def _ece_oracle(conf, outcome, n_bins):
    """Bin k holds (k/n, (k+1)/n], the first also 0 — written out with exact rational edges."""
    conf = np.asarray(conf, np.float64)
    idx = np.empty(conf.shape, dtype=int)
    for i, c in enumerate(conf):
        k = int(np.ceil(c * n_bins)) - 1  # c in (k/n, (k+1)/n]
        idx[i] = min(max(k, 0), n_bins - 1)
    total = 0.0
    for k in range(n_bins):
        sel = idx == k
        total += abs(np.sum(np.asarray(outcome, float)[sel]) - np.sum(conf[sel]))
    return total / conf.size


def test_ece_puts_a_confidence_on_a_bin_edge_in_the_lower_bin():
    # confidences exactly 0.5 (two equal logits) and exactly 0.75 (log 3 apart, rounded: checked)
    logits = np.array([[0.0, 0.0], [np.log(9.0), 0.0], [0.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0])
    conf = mc.proba(logits).max(-1)
    assert conf[0] == 0.5 and conf[2] == 0.5
    for n_bins in (2, 4, 10):
        outcome = (np.argmax(logits, -1) == labels).astype(float)
        want = _ece_oracle(conf, outcome, n_bins)
        got = mc.expected_calibration_error(logits, labels, n_bins=n_bins)
        assert abs(got - want) <= 1e-15, (n_bins, got, want)
    # multilabel: each pair's confidence is its p, its outcome its label; logit 0 gives exactly 0.5
    mlx = np.array([[0.0, 2.0], [0.0, -1.0]])
    mly = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = (1 / (1 + np.exp(-mlx))).ravel()
    for n_bins in (2, 4):
        got = ml.expected_calibration_error(mlx, mly, n_bins=n_bins)
        assert abs(got - _ece_oracle(p, mly.ravel(), n_bins)) <= 1e-15, n_bins


@pytest.mark.parametrize("n", [5, 17, 40, 300])
def test_top_k_ties_go_to_the_lower_index_at_every_row_length(n):
    rng = np.random.default_rng(n)
    for dtype in (np.float16, np.float32, np.float64, np.int64):  # many ties
        _check_ties(rng.integers(0, 3, (6, n)).astype(dtype), n)


def _check_ties(x, n):
    for k in (1, 3, n):
        want = np.argsort(-x, axis=-1, kind="stable")[:, :k]
        idx, _ = mc.top_k(x, k)
        assert np.array_equal(idx, want), (n, k)
        idx_ml, _ = ml.top_k(x, k)
        assert np.array_equal(idx_ml, want), (n, k)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.25, -1.0])
def test_sigmoid_focal_loss_at_the_ends_of_alpha(alpha):
    gamma = 2.0
    y = ML_TARGET
    got = lk.sigmoid_focal_loss(X, y, alpha=alpha, gamma=gamma, reduction="none")
    p = 1 / (1 + np.exp(-X))
    bce = np.logaddexp(0, -X) * y + np.logaddexp(0, X) * (1 - y)
    pt = p * y + (1 - p) * (1 - y)
    want = bce * (1 - pt) ** gamma
    if alpha >= 0:
        want = want * (alpha * y + (1 - alpha) * (1 - y))
    assert np.allclose(got, want, rtol=1e-12, atol=1e-300), alpha
    if alpha == 0.0:
        assert np.all(got[y == 1] == 0)  # α_t = 0 on the positives


@pytest.mark.parametrize("alpha", [1.0 + 2**-52, 2.0, np.inf, np.nan])
def test_sigmoid_focal_loss_refuses_alpha_beyond_its_range(alpha):
    """alpha weighs positives by alpha and negatives by 1 - alpha: above 1 a loss would turn
    negative, NaN would silently switch the weighting off. Both are refused naming alpha (a
    negative alpha is the documented switch that turns the weighting off)."""
    for f in (lk.sigmoid_focal_loss, lk.sigmoid_focal_loss_with_grad):
        with pytest.raises(ValueError, match=r"^alpha: must be in \[0, 1\]"):
            f(X, ML_TARGET, alpha=alpha)
    with pytest.raises(TypeError, match="^alpha: "):
        lk.sigmoid_focal_loss(X, ML_TARGET, alpha="0.25")
    off = lk.sigmoid_focal_loss(X, ML_TARGET, alpha=-np.inf, reduction="none")
    assert np.array_equal(off, lk.sigmoid_focal_loss(X, ML_TARGET, alpha=-1.0, reduction="none"))


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
def test_label_smoothing_at_both_ends_is_accepted_and_exact(smoothing):
    # multi-class: the target is (1 - ε)·onehot + ε/C
    loss = mc.loss(X, MC_LABELS, label_smoothing=smoothing, reduction="none")
    q = np.eye(C)[MC_LABELS] * (1 - smoothing) + smoothing / C
    want = -(q * np.log(_probs_mc(X))).sum(-1)
    assert np.allclose(loss, want, rtol=1e-13, atol=0)
    # multi-label: y·(1 - ε) + ε/2
    bl = ml.loss(X, ML_TARGET, label_smoothing=smoothing, reduction="none")
    el, _ = _bce_oracle(X, ML_TARGET, smoothing=smoothing)
    assert np.allclose(bl, el, rtol=1e-13, atol=1e-15)
    for bad in (-1e-9, 1.0 + 1e-9):
        with pytest.raises(ValueError, match="label_smoothing"):
            mc.loss(X, MC_LABELS, label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            ml.loss(X, ML_TARGET, label_smoothing=bad)


def test_the_probabilities_check_reads_rows_spread_over_the_batch():
    """The first 100 rows of this batch are softmax outputs, the rest plainly logits: a check that
    read only the first rows would warn falsely; read spread over the batch, it does not. And the
    other way round: rows spread over a batch of probabilities warn."""
    rng = np.random.default_rng(7)
    probs = _probs_mc(rng.standard_normal((1000, C)))
    mixed = rng.standard_normal((1000, C)) * 3
    mixed[:100] = probs[:100]
    with warnings.catch_warnings():
        warnings.simplefilter("error", mc.ProbabilitiesWarning)
        mc.proba(mixed)
        mc.loss(mixed, rng.integers(0, C, 1000))
    with pytest.warns(mc.ProbabilitiesWarning):
        mc.proba(probs)


def test_multilabel_predict_at_threshold_0_and_1():
    """t = 0: every class on except where the logit is -inf (σ(-inf) = 0 is not > 0); t = 1: none,
    not even at +inf; just inside, the logits that cut there."""
    x = np.array([[-np.inf, -800.0, 0.0, 800.0, np.inf], [-1.0, -40.0, 1e-300, 40.0, 2.0]])
    assert np.array_equal(ml.predict(x, threshold=0.0), np.isfinite(x) | (x == np.inf))
    assert not ml.predict(x, threshold=1.0).any()
    # per-class thresholds at the ends, along axis 0 as well
    t = np.array([0.0, 1.0, 0.5, 1.0, 0.0])
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-x))) > t
    want[:, 0] = x[:, 0] > -np.inf
    want[:, 1] = want[:, 3] = False
    want[:, 2] = x[:, 2] > 0  # σ(1e-300) > 0.5 exactly, though it rounds to 0.5
    assert np.array_equal(ml.predict(x, threshold=t), want)
    assert np.array_equal(ml.predict(x.T, threshold=t, axis=0), want.T)
    for bad in (-1e-12, 1 + 1e-12, np.nan):
        with pytest.raises(ValueError, match="threshold"):
            ml.predict(x, threshold=bad)


@pytest.mark.parametrize("n_bins", [1, 2, 15])
def test_ece_with_one_bin_and_with_confidences_at_0_and_1(n_bins):
    # multi-label probabilities exactly 0 and 1 (logits beyond ±800) land in the first and last bins
    x = np.array([[-900.0, 900.0, 0.0, 1.0], [2.0, -3.0, 900.0, -900.0]])
    y = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    with np.errstate(over="ignore"):
        p = (1 / (1 + np.exp(-x))).ravel()
    got = ml.expected_calibration_error(x, y, n_bins=n_bins)
    assert abs(got - _ece_oracle(p, y.ravel(), n_bins)) <= 1e-15
    if n_bins == 1:  # one bin: |mean label - mean p|
        assert abs(got - abs(y.mean() - p.mean())) <= 1e-15


def test_distillation_alpha_defaults_to_one_half_with_a_target_and_one_without():
    rng = np.random.default_rng(3)
    s, t = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    y = rng.integers(0, 5, 6)
    for fn in (lk.distillation_loss, lambda *a, **k: lk.distillation_loss_with_grad(*a, **k)[0]):
        assert fn(s, t, y, temperature=2.0) == fn(s, t, y, temperature=2.0, alpha=0.5)
        assert fn(s, t, temperature=2.0) == fn(s, t, temperature=2.0, alpha=1.0)
        assert fn(s, t, y, temperature=2.0) != fn(s, t, y, temperature=2.0, alpha=1.0)


def test_sample_top_k_0_and_logprobs_0_at_the_edges_of_their_ranges():
    """top_k = 0 means no filter (as None); logprobs = 0 returns the chosen tokens' log-probabilities
    and empty top lists; -1 of either is an error naming it."""
    x = np.random.default_rng(4).standard_normal((5, 30))
    lp = np.log(_probs_mc(x))
    # the plain call and one that takes the general path (a mask that masks nothing)
    for extra in ({}, {"where": np.ones(x.shape, bool)}):
        a = mc.sample(x, top_k=0, rng=np.random.default_rng(9), **extra)
        b = mc.sample(x, rng=np.random.default_rng(9), **extra)
        assert np.array_equal(a, b)
        r = mc.sample(x, logprobs=0, rng=np.random.default_rng(9), **extra)
        assert (
            np.array_equal(r.tokens, b)
            and r.top_tokens.shape == (5, 0)
            and r.top_logprobs.shape == (5, 0)
        )
        assert np.allclose(r.logprob, lp[np.arange(5), b], rtol=1e-13, atol=0)
        r = mc.sample(x, logprobs=30, rng=np.random.default_rng(9), **extra)  # every class
        assert np.array_equal(np.sort(r.top_tokens, axis=1), np.tile(np.arange(30), (5, 1)))
        for kw in ({"top_k": -1}, {"logprobs": -1}, {"logprobs": 31}):
            with pytest.raises(ValueError, match=next(iter(kw))):
                mc.sample(x, rng=np.random.default_rng(9), **kw, **extra)


# --------------------------------------------------------------- errors name the argument, exactly

_RNG0 = np.random.default_rng(0)


def _read_only(shape):
    a = np.empty(shape)
    a.flags.writeable = False
    return a


ERRORS = [
    (
        lambda: lk.binary_kl_divergence(np.array(["a"]), np.zeros(1)),
        TypeError,
        "p_logits",
        "real numeric",
    ),
    (
        lambda: lk.binary_kl_divergence(np.zeros(1), np.array(["a"])),
        TypeError,
        "q_logits",
        "real numeric",
    ),
    (lambda: mc.proba(np.zeros((2, 3)), axis=1.5), TypeError, "axis", "the class axis"),
    (
        lambda: lk.binary_cross_entropy_with_logits(np.zeros(3), np.array(["x", "y", "z"])),
        TypeError,
        "target",
        "real numeric",
    ),
    (
        lambda: lk.nll_loss(np.zeros((2, 1)), np.zeros(2, int)),
        ValueError,
        "log_probs",
        "use logitkit.multilabel",
    ),
    (
        lambda: lk.cross_entropy(np.zeros((2, 1)), np.zeros(2, int)),
        ValueError,
        "logits",
        "use logitkit.multilabel",
    ),
    (
        lambda: mc.sample(np.zeros((3, 4)), top_k=np.array([1, -1, 2]), rng=_RNG0),
        ValueError,
        "top_k",
        r"got -1 \(row \(1,\)\)",
    ),
    (
        lambda: mc.sample(np.zeros((3, 4)), top_p=np.array([1, 0.5, 2.0]), rng=_RNG0),
        ValueError,
        "top_p",
        r"\(row \(2,\)\)",
    ),
    (lambda: mc.sample(np.zeros(4), top_k=-2, rng=_RNG0), ValueError, "top_k", r"got -2$"),
    (lambda: mc.sample(np.zeros(4), top_p=2.0, rng=_RNG0), ValueError, "top_p", r"got 2\.0$"),
    (lambda: mc.sample(np.zeros(4), min_p=-0.5, rng=_RNG0), ValueError, "min_p", r"got -0\.5$"),
    (
        lambda: mc.sample(np.zeros(4), top_p=np.float64(2.0), rng=_RNG0),
        ValueError,
        "top_p",
        r"got (np\.float64\()?2\.0\)?$",  # a 0-d value: no row
    ),
    (
        lambda: mc.loss(np.zeros((2, 3)), np.zeros(2, int), ignore_index=1.5),
        TypeError,
        "ignore_index",
        "integer",
    ),
    (
        lambda: lk.softmax(_RNG0.normal(size=(2, 3)), out=_read_only((2, 3))),
        ValueError,
        "out",
        "read-only",
    ),
    (
        lambda: mc.apply_penalties(
            np.zeros((2, 3)), prev_tokens=[[0], [1]], logit_bias=np.array([1.0, np.inf, 0.0])
        ),
        ValueError,
        "logit_bias",
        r"must be finite; \(1,\) has inf \(to exclude a token, pass where= to sample/proba\)$",
    ),
    (
        lambda: lk.cross_entropy(np.float64(1.0), 0),
        ValueError,
        "logits",
        r"^logits: need at least one dimension \(the class axis\)$",
    ),
    (
        lambda: lk.grad_hess(
            np.zeros((2, 3)), np.ones((2, 3)), family="binary", pos_weight=np.ones(7)
        ),
        ValueError,
        "pos_weight",
        r"shape \(7,\) does not broadcast to the logits' shape \(2, 3\)$",
    ),
    (
        lambda: lk.grad_hess(np.array([["a"]]), np.array([0]), family="multiclass"),
        TypeError,
        "logits",
        "not a real numeric dtype",
    ),
    (
        lambda: lk.nll_loss(np.log(np.full((2, 3), 1 / 3)), np.array(["a", "b"])),
        TypeError,
        "target",
        "not a real numeric dtype",
    ),
    (
        lambda: ml.fit_temperature(np.zeros((2, 3)), np.full((2, 3), "a")),
        TypeError,
        "labels",
        "not a real numeric dtype",
    ),
    (
        lambda: mc.predict(np.array([1.0, np.nan, 0.0])),
        ValueError,
        "logits",
        r"row \(\) contains NaN",
    ),
    (
        lambda: mc.sample(np.array([["a", "b"]]), rng=0),
        TypeError,
        "logits",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: mc.sample(np.array([["a", "b"]]), rng=0, where=np.ones((1, 2), bool)),
        TypeError,
        "logits",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: lk.nll_loss(np.array([["a", "b"]]), np.array([0])),
        TypeError,
        "log_probs",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: ml.loss(np.zeros((2, 3)), np.full((2, 3), "a")),
        TypeError,
        "target",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: ml.distillation_loss(np.zeros((2, 3)), np.full((2, 3), "a")),
        TypeError,
        "teacher_logits",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: ml.distillation_loss(np.full((2, 3), "a"), np.zeros((2, 3))),
        TypeError,
        "student_logits",
        "not a real numeric dtype; expected float16, bfloat16 \\(ml_dtypes\\), float32, float64, or an integer or bool array$",
    ),
    (
        lambda: lk.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)), axis=1.5),
        TypeError,
        "axis",
        r"expected an integer \(the class axis\), got 1\.5$",
    ),
    (
        lambda: lk.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing="a"),
        TypeError,
        "label_smoothing",
        r"expected a number in \[0, 1\], got 'a'$",
    ),
    (
        lambda: lk.nll_loss(np.float64(1.0), 0),
        ValueError,
        "log_probs",
        r"^log_probs: need at least one dimension \(the class axis\)$",
    ),
    (
        lambda: mc.fit_temperature(np.zeros((2, 3)), np.array([[1, 0, 0], [0, 1, 0]])),
        ValueError,
        "labels",
        r"one-hot encoding; pass class indices \(labels\.argmax\(axis=1\)\)",
    ),
    (
        lambda: lk.sigmoid_focal_loss(np.zeros((2, 3)), np.zeros((2, 3)), alpha="0.25"),
        TypeError,
        "alpha",
        r"expected a real number, got str '0\.25'$",
    ),
    (
        lambda: mc.fit_temperature(
            np.array([[[1.0, np.nan, 0.0]], [[1.0, 2.0, 3.0]]]), np.array([[0], [1]]), axis=2
        ),
        ValueError,
        "logits",
        r"row \(0, 0\) contains nan; fit_temperature needs finite logits",
    ),
    (
        lambda: mc.fit_temperature(
            np.array([[[1.0], [np.nan], [0.0]], [[1.0], [2.0], [3.0]]]),
            np.array([[0], [1]]),
            axis=1,
        ),
        ValueError,
        "logits",
        r"row \(0, 0\) contains nan",
    ),
    (
        lambda: ml.fit_temperature(
            _RNG0.normal(size=(20, 2)), np.stack([np.zeros(20), np.ones(20)], 1), regularize=False
        ),
        ValueError,
        "labels",
        r"class 0 has only negative labels, so its maximum-likelihood bias is infinite",
    ),
    (
        lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), alpha="a"),
        TypeError,
        "alpha",
        r"expected a number in \[0, 1\], got str 'a'$",
    ),
    (
        lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), temperature=1e200),
        ValueError,
        "temperature",
        (
            r"distillation weighs its KL term by T\^2, which must be a normal number of the logits' "
            r"type: 2\^-511 <= T <= 2\^511 for float64, 2\^-63 <= T <= 2\^63 for float32; got 1e\+200$"
        ),
    ),
    (
        lambda: lk.cross_entropy(np.array([["a", "b"]]), np.array([0])),
        TypeError,
        "logits",
        "not a real numeric dtype",
    ),
    (
        lambda: ml.distillation_loss(
            np.zeros((2, 3)), np.zeros((2, 3)), target=np.array([0, 1]), alpha=0.5
        ),
        ValueError,
        "target",
        (
            r"expected one 0/1 entry per class, the logits' shape \(2, 3\); got shape \(2,\), which "
            r"looks like class indices"
        ),
    ),
    (
        lambda: mc.apply_penalties(
            np.zeros((2, 5)), prev_tokens=np.zeros((3, 4), int), repetition_penalty=1.2
        ),
        ValueError,
        "prev_tokens",
        (
            r"shape \(3, 4\) does not fit logits of shape \(2, 5\) with the class axis 1: expected "
            r"\(2, 'L'\) \(the logits' shape without the class axis, then one row of L previous "
            r"tokens, padded with -1\)$"
        ),
    ),
    (
        lambda: mc.fit_temperature(_RNG0.normal(size=(4, 3)), np.arange(4) % 3, ignore_index=1.5),
        TypeError,
        "ignore_index",
        "expected an integer, got 1.5$",
    ),
    (lambda: lk.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)), axis=1.5), TypeError, "axis", ""),
    (lambda: lk.cross_entropy(np.zeros((2, 3)), np.zeros(2, int), axis="a"), TypeError, "axis", ""),
    (
        lambda: lk.grad_hess(np.zeros((2, 3)), np.zeros(2, int), family="multiclass", dim=1),
        TypeError,
        "dim",
        r"not dim= \(torch's name\); use axis=1$",
    ),
    (
        lambda: lk.cross_entropy(np.zeros((2, 1)), np.zeros(2, int)),
        ValueError,
        "logits",
        (
            r"not a multi-class one \(its softmax is always 1 and its cross-entropy always 0\); use "
            r"logitkit\.multilabel, i\.e\. lk\.sigmoid\(logits\) for the probability and "
            r"lk\.binary_cross_entropy_with_logits\(logits, target\) for the loss$"
        ),
    ),
    (
        lambda: lk.cross_entropy(np.zeros((2, 3)), np.array([[1, 1, 0], [0, 1, 0]])),
        ValueError,
        "target",
        (
            r"several 1s in a row: each input can be in several classes\? use logitkit\.multilabel "
            r"\(binary_cross_entropy_with_logits\)$"
        ),
    ),
    (
        lambda: lk.nll_loss(np.zeros((3, 2)), np.array([0, 1, 1]), axis=0),
        ValueError,
        "target",
        (
            r"without the class axis, \(2,\); got \(3,\): the logits \(3, 2\) look class-major "
            r"\(C, N\), with the classes along axis 1: pass axis=1$"
        ),
    ),
    (
        lambda: lk.distillation_loss(
            np.zeros((3, 2)), np.zeros((3, 2)), target=np.eye(3, 2, dtype=int), axis=0, alpha=0.5
        ),
        ValueError,
        "target",
        r"one 1 per row is a one-hot encoding; pass class indices \(target\.argmax\(axis=0\)\)",
    ),
    (
        lambda: lk.distillation_loss(
            np.zeros((3, 2)), np.zeros((3, 2)), target=np.array([0, 1, 1]), axis=0, alpha=0.5
        ),
        ValueError,
        "target",
        (
            r"the logits \(3, 2\) look class-major \(C, N\), with the classes along axis 1: pass "
            r"axis=1$"
        ),
    ),
]


@pytest.mark.parametrize(
    "call, exc, name, words", ERRORS, ids=[f"{e[2]}-{i}" for i, e in enumerate(ERRORS)]
)
def test_an_error_message_starts_with_the_arguments_name(call, exc, name, words):
    """The rule: bad input raises naming the argument (and the offending value or row). The name
    is matched at the start of the message, exactly, and the words that locate the problem."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{name}: "), msg
    assert re.search(words, msg), msg


@pytest.mark.parametrize(
    "call",
    [
        lambda t: lk.cross_entropy(np.zeros((2, 3)), t),
        lambda t: lk.cross_entropy_with_grad(np.zeros((2, 3)), t, reduction="sum"),
        lambda t: lk.nll_loss(np.log(np.full((2, 3), 1 / 3)), t),
        lambda t: mc.loss(np.zeros((2, 3)), t),
        lambda t: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), target=t, alpha=0.5),
    ],
)
def test_a_bad_label_is_located_by_the_errors_attributes(call):
    """InvalidTargetError carries the argument, the position and the value, whichever function
    (and code path: Python or the C++ API) found the label."""
    with pytest.raises(lk.InvalidTargetError) as e:
        call(np.array([0, 7]))
    assert (e.value.argument, e.value.position, e.value.value) == ("target", (1,), 7)
    assert str(e.value).startswith("target: label 7 at position (1,) is outside [0, 3)")


def test_config_objects_compare_by_their_options():
    """Two configurations are equal when every option is: numbers by value, arrays by shape and
    values; None differs from any value."""
    w = np.array([1.0, 2.0, 3.0])
    assert mc.MultiClass(weight=w) == mc.MultiClass(weight=w.copy())
    assert mc.MultiClass(weight=w) != mc.MultiClass(weight=w * 2)
    assert mc.MultiClass(weight=w) != mc.MultiClass()
    assert mc.MultiClass() != mc.MultiClass(weight=w)
    assert mc.MultiClass(weight=w) != mc.MultiClass(weight=w[:2])
    assert mc.MultiClass(temperature=2.0) == mc.MultiClass(temperature=2)
    assert ml.MultiLabel(pos_weight=w, threshold=0.3) == ml.MultiLabel(
        pos_weight=list(w), threshold=0.3
    )
    assert ml.MultiLabel(pos_weight=w) != ml.MultiLabel(pos_weight=None)
    assert ml.MultiLabel(threshold=0.3) != ml.MultiLabel(threshold=0.4)


@pytest.mark.parametrize("complement", [False, True])
@pytest.mark.parametrize("log", [False, True])
def test_multilabel_proba_fills_out(complement, log):
    """out= is filled and returned, with and without complement, for probabilities and logs."""
    x = np.random.default_rng(3).normal(0, 4, (5, 7))
    f = ml.log_proba if log else ml.proba
    out = np.full_like(x, np.nan)
    r = f(x, complement=complement, out=out)
    assert r is out
    z = -x if complement else x
    want = -np.logaddexp(0, -z) if log else 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(out, want, rtol=4 * 2.0**-52, atol=0)


def test_backward_rules_keep_numpys_dtype_unless_both_are_integers():
    """A backward rule's result has NumPy's dtype of its two inputs, except that two integer (or
    bool) inputs compute in float64 (NumPy alone would pick float16 for int8 and bool)."""
    g16 = np.array([[0.5, -1.0, 2.0]], np.float16)
    y8 = np.array([[0, 1, 0]], np.int8)
    assert lk.sigmoid_backward(g16, y8).dtype == np.float16
    assert lk.softmax_backward(g16, y8).dtype == np.float16
    assert lk.sigmoid_backward(y8, y8).dtype == np.float64
    assert lk.softmax_backward(y8.astype(bool), y8).dtype == np.float64
    s = np.array([[0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(
        lk.sigmoid_backward(y8, y8), y8.astype(np.float64) * y8 * (1 - y8.astype(np.float64))
    )
    assert lk.softmax_backward(g16, s).dtype == np.float64


def test_backward_out_has_the_broadcast_shape():
    """out= of a row backward rule takes the shape grad and y broadcast to, either being the
    larger one."""
    rng = np.random.default_rng(5)
    y = lk.softmax(rng.normal(size=6))
    g = rng.normal(size=(4, 6))
    out = np.empty((4, 6))
    assert lk.softmax_backward(g, y, out=out) is out
    want = y * (g - (g * y).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, want, rtol=1e-14, atol=1e-15)
    out2 = np.empty((4, 6))
    lk.softmax_backward(g[0], np.broadcast_to(y, (4, 6)), out=out2)
    want2 = np.broadcast_to(y * (g[0] - g[0] @ y), (4, 6))
    np.testing.assert_allclose(out2, want2, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="out"):
        lk.softmax_backward(g, y, out=np.empty(6))


def test_an_empty_axis_tuple_with_a_broadcast_where():
    """axis=() makes every element a row of one: softmax 1, log_softmax 0, logsumexp the element
    itself; where= broadcast from a smaller shape masks elements (softmax 0, logsumexp -inf)."""
    x = np.random.default_rng(6).normal(size=(3, 4))
    where = np.array([True, False, True, True])
    full = np.broadcast_to(where, x.shape)
    assert np.array_equal(lk.softmax(x, axis=(), where=where), np.where(full, 1.0, 0.0))
    assert np.array_equal(lk.log_softmax(x, axis=(), where=where), np.where(full, 0.0, -np.inf))
    assert np.array_equal(lk.logsumexp(x, axis=(), where=where), np.where(full, x, -np.inf))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_bce_a_per_class_weight_in_any_shape_gives_the_same_bits(name, reduction):
    """A per-class weight as (C,), (1, C) or a list: one value per class in each, the same sum
    (the same one-pass sum over the same numbers, whatever shape carried them)."""
    rng = np.random.default_rng(8)
    x = rng.normal(0, 3, (64, 7))
    y = (rng.random((64, 7)) < 0.4).astype(np.float64)
    w = rng.random(7) + 0.5
    ref = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **{name: w})
    for shaped in (w[None, :], list(w), w.reshape(1, 1, 7)[0]):
        got = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **{name: shaped})
        assert got == ref, (np.shape(shaped), got, ref)
    full = np.broadcast_to(w, x.shape)
    want = -(full if name == "weight" else 1) * (
        (full if name == "pos_weight" else 1) * y * -np.logaddexp(0, -x)
        + (1 - y) * -np.logaddexp(0, x)
    )
    want = want.mean() if reduction == "mean" else want.sum()
    assert ref == pytest.approx(want, rel=1e-13)


@pytest.mark.parametrize("module", [mc, ml])
def test_top_k_at_1_and_at_the_number_of_classes(module):
    """k = 1 is the argmax with its probability, k = C every class in order; 0 and C + 1 are
    refused naming k and its range."""
    probs = _probs_mc(X) if module is mc else 1 / (1 + np.exp(-X))
    order = np.argsort(-X, axis=-1, kind="stable")
    idx, p = module.top_k(X, 1)
    assert np.array_equal(idx[:, 0], np.argmax(X, axis=-1))
    assert np.allclose(p[:, 0], probs.max(axis=-1), rtol=1e-15, atol=0)
    idx, p = module.top_k(X, C)
    assert np.array_equal(idx, order)
    assert np.allclose(p, np.take_along_axis(probs, order, -1), rtol=1e-15, atol=0)
    for k in (0, C + 1):
        with pytest.raises(
            ValueError, match=rf"^k: must be in \[1, {C}\] \(the number of classes\), got {k}$"
        ):
            module.top_k(X, k)


def test_the_row_functions_carry_their_names():
    """The row functions are built at import: their names are the public ones (help(), tracebacks)."""
    for name in ("softmax", "log_softmax", "logsumexp"):
        f = getattr(lk, name)
        assert f.__name__ == f.__qualname__ == name
        assert f.__doc__


@pytest.mark.parametrize("axis", [(0, 1), (1, 2), (0, 2), ()])
def test_row_functions_fill_out_over_several_axes(axis):
    """out= with a tuple of axes (the rows are the flattened axes): filled and returned."""
    x = np.random.default_rng(12).normal(size=(3, 4, 5))
    for f, reduce in ((lk.softmax, False), (lk.log_softmax, False), (lk.logsumexp, True)):
        want = f(x, axis=axis)
        out = np.full(np.shape(want), np.nan)
        assert f(x, axis=axis, out=out) is out
        assert np.array_equal(out, want)
        moved = np.moveaxis(x, axis, list(range(-len(axis), 0))).reshape(
            [d for i, d in enumerate(x.shape) if i not in axis] + [-1]
        )
        ref = {
            "softmax": lambda r: np.exp(r - oracle.logsumexp(r)[..., None]),
            "log_softmax": lambda r: r - oracle.logsumexp(r)[..., None],
            "logsumexp": lambda r: oracle.logsumexp(r),
        }[f.__name__](moved.astype(np.longdouble))
        if not reduce:
            got = np.moveaxis(out, axis, list(range(-len(axis), 0))).reshape(moved.shape)
        else:
            got = out
        assert oracle.ulp_error(got, ref, np.float64) <= 8


def test_penalties_in_place_are_the_out_of_place_result():
    """out= the logits themselves (in place) gives what a separate out gives: the input is read
    before it is overwritten."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(3, 6))
    prev = np.array([[0, 1, 1], [5, -1, -1], [2, 3, 4]])
    kw = {"repetition_penalty": 1.3, "presence_penalty": 0.5, "frequency_penalty": 0.25}
    want = mc.apply_penalties(x, prev, **kw)
    y = x.copy()
    assert mc.apply_penalties(y, prev, out=y, **kw) is y
    assert np.array_equal(y, want)
    z = np.empty_like(x)
    assert mc.apply_penalties(x, prev, out=z, **kw) is z and np.array_equal(z, want)


def test_bfloat16_hook_is_installed_while_ml_dtypes_is_not_imported(monkeypatch):
    from logitkit import _validation

    monkeypatch.setattr(_validation, "_BFLOAT16", [])
    monkeypatch.delitem(sys.modules, "ml_dtypes", raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    _validation.register_bfloat16_when_imported()
    assert isinstance(sys.meta_path[0], _validation._RegisterOnImport)


def test_bce_of_one_logit_with_a_temperature_and_bias():
    """0-d logits: one value, with the temperature and bias as plain numbers."""
    got = lk.binary_cross_entropy_with_logits(
        np.float64(1.5), np.float64(1.0), temperature=2.0, bias=0.25
    )
    assert got == pytest.approx(np.log1p(np.exp(-(1.5 / 2.0 + 0.25))), rel=1e-15)
    got = lk.binary_cross_entropy_with_logits(np.float64(1.5), np.float64(0.0), temperature=2.0)
    assert got == pytest.approx(np.log1p(np.exp(0.75)), rel=1e-15)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_bce_per_class_weight_along_any_axis_of_3d_logits(axis):
    """A 1-d weight (and pos_weight) has one value per class along the class axis, wherever it is."""
    rng = np.random.default_rng(14)
    x = rng.normal(0, 2, (3, 4, 5))
    y = (rng.random(x.shape) < 0.5).astype(np.float64)
    C = x.shape[axis]
    w, pw = rng.random(C) + 0.5, rng.random(C) + 0.5
    shape = [1, 1, 1]
    shape[axis] = C
    wf, pwf = (
        np.broadcast_to(w.reshape(shape), x.shape),
        np.broadcast_to(pw.reshape(shape), x.shape),
    )
    got = lk.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw, axis=axis, reduction="none"
    )
    want = wf * (pwf * y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    g, _ = lk.grad_hess(x, y, family="binary", weight=w, pos_weight=pw, axis=axis)
    p = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(g, wf * ((1 - y) * p - pwf * y * (1 - p)), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_ignore_index_at_the_ends_of_the_labels_dtype(dtype):
    """ignore_index equal to the labels' dtype's smallest or largest value is that label: ignored."""
    info = np.iinfo(dtype)
    x = np.random.default_rng(15).normal(size=(4, 3))
    for ii in {int(info.min), int(info.max)}:
        t = np.array([1, ii, 2, ii], dtype)
        got = lk.cross_entropy(x, t, ignore_index=ii, reduction="none")
        lse = np.log(np.exp(x).sum(-1))
        want = np.array([lse[0] - x[0, 1], 0.0, lse[2] - x[2, 2], 0.0])
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
        assert lk.cross_entropy(x, t, ignore_index=ii) == pytest.approx(want.sum() / 2, rel=1e-14)


def test_fit_temperature_of_no_items_is_the_identity():
    fit = ml.fit_temperature(np.zeros((0, 3)), np.zeros((0, 3)))
    assert np.array_equal(fit.temperature, np.ones(3)) and np.array_equal(fit.bias, np.zeros(3))
    assert mc.fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_nll_loss_with_smoothing_along_any_axis(axis):
    """nll_loss with label smoothing on 3-d log-probabilities, the class axis anywhere."""
    rng = np.random.default_rng(16)
    lp = np.log(lk.softmax(rng.normal(size=(3, 4, 5)), axis=axis))
    C = lp.shape[axis]
    item = [d for i, d in enumerate(lp.shape) if i != axis]
    t = rng.integers(0, C, item)
    got = lk.nll_loss(lp, t, axis=axis, label_smoothing=0.2, reduction="none")
    lpm = np.moveaxis(lp, axis, -1)
    picked = np.take_along_axis(lpm, t[..., None], -1)[..., 0]
    want = -(0.8 * picked + 0.2 * lpm.mean(-1))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_the_mean_of_no_rows_is_nan():
    """A mean over no rows (an empty batch) is NaN, as NumPy's and torch's means are."""
    e = np.zeros((0, 3))
    for f in (lk.kl_divergence, lk.js_divergence):
        v = f(e, e, reduction="mean")
        assert np.isnan(v) and np.asarray(v).dtype == np.float64
    assert np.isnan(lk.entropy(e, reduction="mean"))


def test_focal_loss_of_one_row_with_a_temperature_per_class():
    """1-d logits are one row: a per-class temperature and bias apply class by class."""
    x = np.array([2.0, -1.0, 0.5, 3.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    T, b = np.array([0.5, 1.0, 2.0, 4.0]), np.array([0.0, 0.5, -0.5, 1.0])
    got = lk.sigmoid_focal_loss(x, y, temperature=T, bias=b, reduction="none")
    z = x / T + b
    p = 1 / (1 + np.exp(-z))
    pt = p * y + (1 - p) * (1 - y)
    bce = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    want = (0.25 * y + 0.75 * (1 - y)) * bce * (1 - pt) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_unvalidated_labels_beyond_int64_give_a_nan_row():
    """validate=False with a uint64 label past int64's range: out of range, so a NaN loss and
    gradient row, as any other label >= C (no error, no wrap-around to a valid class)."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    t = np.array([2**63 + 5, 1], np.uint64)
    loss, grad = lk.cross_entropy_with_grad(x, t, validate=False, reduction="none")
    assert np.isnan(loss[0]) and np.isnan(grad[0]).all()
    assert loss[1] == pytest.approx(np.log(np.exp(x[1]).sum()) - x[1, 1], rel=1e-15)


def test_a_huge_sample_weight_overflows_to_inf_quietly():
    """A weighted loss past the dtype's range is inf, with no floating-point warning."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = lk.cross_entropy(
            x, np.array([0, 1]), sample_weight=np.array([1e308, 2.0]), reduction="none"
        )
    assert got[0] == np.inf
    assert got[1] == pytest.approx(2 * (np.log(np.exp(x[1]).sum()) - x[1, 1]), rel=1e-15)


def test_predict_of_no_class_and_of_one_class_explains_itself():
    """No class to predict, or a single logit (a binary model): refused with the reason, eagerly
    and lazily."""
    import dask.array as da

    for zeros in (np.zeros, da.zeros):
        with pytest.raises(
            ValueError, match=r"^logits: the class axis is empty; there is no class to predict$"
        ):
            mc.predict(zeros((3, 0)))
        with pytest.raises(ValueError, match=r"^logits: the class axis \(axis 1\) has length 1"):
            mc.predict(zeros((3, 1)))


def test_multilabel_predict_with_per_class_thresholds_at_0_and_1():
    """Per-class thresholds at the ends of [0, 1] are accepted: 0 predicts every finite logit
    (p > 0), 1 predicts none (p > 1 never holds); outside [0, 1] is refused."""
    x = np.array([[-30.0, 0.0, 30.0], [5.0, -5.0, 0.5]])
    got = ml.predict(x, threshold=np.array([0.0, 1.0, 0.5]))
    assert np.array_equal(got, np.array([[True, False, True], [True, False, True]]))
    with pytest.raises(ValueError, match="threshold"):
        ml.predict(x, threshold=np.array([0.0, 1.0 + 1e-9, 0.5]))


def test_binary_grad_hess_with_zero_weights_and_a_temperature():
    """A zero weight takes the element out: gradient and Hessian 0 there (also at a temperature,
    and where the logit is infinite); the Hessian has the logits' shape for a scalar weight."""
    x = np.array([[np.inf, 1.0, -2.0], [0.5, -np.inf, 3.0]])
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    w = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g, h = lk.grad_hess(x, y, family="binary", weight=w, temperature=2.0)
    assert np.all(g[w == 0] == 0) and np.all(h[w == 0] == 0)
    z = x[0, 2] / 2.0
    s = 1 / (1 + np.exp(-z))
    assert g[0, 2] == pytest.approx(2.0 * (s - 1.0) / 2.0, rel=1e-14)
    assert h[0, 2] == pytest.approx(2.0 * s * (1 - s) / 4.0, rel=1e-14)
    g, h = lk.grad_hess(x[:, 1:], y[:, 1:], family="binary", weight=2.0, temperature=2.0)
    assert g.shape == h.shape == (2, 2)


def test_binary_grad_hess_float64_hessian_keeps_its_tail_at_a_temperature():
    """σ(z)σ(-z) at z = x/T around 60 keeps its relative accuracy (z is formed in a type wider
    than float64: its rounding error would be multiplied by |z| in the exponential)."""
    import mpmath as mp

    mp.mp.dps = 50
    x = np.array([18.1, 19.7, -20.3])
    T = 0.3
    _, h = lk.grad_hess(x, np.ones(3), family="binary", temperature=T)
    for xi, hi in zip(x, h):
        z = mp.mpf(float(xi)) / mp.mpf(T)
        s = 1 / (1 + mp.exp(-z))
        exact = s * (1 - s) / mp.mpf(T) ** 2
        assert abs(hi - float(exact)) <= 16 * np.spacing(float(exact)), (xi, hi, exact)


def test_sample_top_k_as_a_0d_array_and_as_one_value_for_every_row():
    rng = np.random.default_rng(17)
    x = rng.normal(size=(3, 12))
    want = mc.proba(x, top_k=3)
    assert np.array_equal(mc.proba(x, top_k=np.array(3)), want)
    assert np.array_equal(mc.proba(x, top_k=np.array([3], np.int64)), want)
    assert np.array_equal(
        mc.sample(x, top_k=np.array([3], np.int64), rng=np.random.default_rng(1)),
        mc.sample(x, top_k=3, rng=np.random.default_rng(1)),
    )


def test_multilabel_distillation_returns_a_scalar_for_reductions():
    s = np.random.default_rng(18).normal(size=(2, 3))
    for red in ("mean", "sum"):
        v = ml.distillation_loss(s, s + 1, reduction=red)
        assert np.ndim(v) == 0 and not isinstance(v, np.ndarray), type(v)
    v = ml.distillation_loss(s, s + 1, reduction="none")
    assert isinstance(v, np.ndarray) and v.shape == s.shape


def test_multilabel_top_k_of_a_list():
    idx, p = ml.top_k([[1.0, 2.0, 0.5]], 2)
    assert idx.tolist() == [[1, 0]]
    np.testing.assert_allclose(p, [[1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-1.0))]], rtol=1e-15)


def test_multiclass_loss_with_grad_along_axis_0():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(6, 4))
    t = rng.integers(0, 4, 6)
    loss, g = mc.loss_with_grad(x, t)
    loss0, g0 = mc.loss_with_grad(x.T, t, axis=0)
    assert loss0 == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(g0, g.T, rtol=1e-15, atol=0)


def test_sample_logprobs_keep_the_batch_shape():
    """Over a (2, 3) batch of rows (the general path), tokens and their log-probabilities have the
    batch's shape, the top lists one more axis."""
    x = np.random.default_rng(20).normal(size=(2, 3, 7))
    r = mc.sample(x, logprobs=2, rng=np.random.default_rng(4))
    assert r.tokens.shape == r.logprob.shape == (2, 3)
    assert r.top_tokens.shape == r.top_logprobs.shape == (2, 3, 2)
    lp = np.log(lk.softmax(x))
    np.testing.assert_allclose(
        r.logprob, np.take_along_axis(lp, r.tokens[..., None], -1)[..., 0], rtol=1e-13, atol=0
    )


def test_elementwise_backward_rules_take_masked_arrays():
    """The elementwise backward rules are NumPy ufuncs: a masked array stays masked."""
    g = np.ma.array([0.5, 1.0, -2.0], mask=[False, True, False])
    y = np.ma.array([0.2, 0.7, 0.4])
    r = lk.sigmoid_backward(g, y)
    assert isinstance(r, np.ma.MaskedArray) and r.mask.tolist() == [False, True, False]
    np.testing.assert_allclose(r.compressed(), (g * y * (1 - y)).compressed(), rtol=1e-15)


def test_config_objects_hash_by_their_options():
    """Equal configurations hash alike (usable as dict keys and in sets), arrays included."""
    w = np.array([1.0, 2.0, 3.0])
    assert hash(mc.MultiClass(weight=w)) == hash(mc.MultiClass(weight=w.copy()))
    assert len({ml.MultiLabel(threshold=0.3), ml.MultiLabel(threshold=0.3), ml.MultiLabel()}) == 2


# ----------------------------------------------------------------------------- small shapes


def test_a_0d_input_takes_only_the_axes_of_one_dimension():
    """A 0-d input is a row of one: axis -1, 0, (0,), (-1,), () and None are that row; any other
    axis is an AxisError, as for a 1-d input."""
    for fn in (lk.softmax, lk.log_softmax, lk.logsumexp):
        want = fn(np.array([2.5]))
        for axis in (None, -1, 0, (), (0,), (-1,)):
            got = fn(np.float64(2.5), axis=axis)
            assert np.shape(got) == () and float(got) == float(want[0] if want.ndim else want)
        for axis in (1, -2, (1,), (-2,), (0, 1)):
            with pytest.raises(np.exceptions.AxisError):
                fn(np.float64(2.5), axis=axis)


def test_logsumexp_keepdims_into_an_out_of_one_row():
    x = np.array([[0.0, 1.0, 2.0]])
    out = np.full((1, 1), 7.0)
    r = lk.logsumexp(x, axis=1, keepdims=True, out=out)
    want = lk.logsumexp(x[0])  # the row's value (its accuracy: test_accuracy.py)
    assert r is out and out[0, 0] == want
    out = np.full((1, 1), 7.0)
    lk.logsumexp(x.T, axis=0, keepdims=True, out=out)
    assert out[0, 0] == want


def test_a_nan_row_of_a_batch_of_one_is_named_with_its_index():
    """predict and top_k name the NaN row by its index in the batch, (0,) for a batch of one row,
    () for a single 1-d row."""
    x = np.array([[0.0, np.nan, 1.0]])
    for fn in (mc.predict, lambda v: mc.top_k(v, 1)):
        with pytest.raises(ValueError, match=r"^logits: row \(0,\) contains NaN"):
            fn(x)
        with pytest.raises(ValueError, match=r"^logits: row \(\) contains NaN"):
            fn(x[0])


def test_empty_divergences_reduce_as_numpy():
    """No elements: 'sum' is 0 and 'mean' NaN (NumPy's mean of nothing), without an error."""
    e = np.zeros((0, 3))
    for fn in (lk.binary_kl_divergence, lk.kl_divergence, lk.js_divergence):
        assert fn(e, e, reduction="sum") == 0.0
        assert np.isnan(fn(e, e, reduction="mean"))
    for fn in (lk.binary_entropy, lk.entropy):
        assert fn(e, reduction="sum") == 0.0
        assert np.isnan(fn(e, reduction="mean"))


def test_calibration_warning_names_classes_only_for_a_temperature_per_class():
    """Logits unrelated to the labels put the temperature at its upper bound: the multi-class
    warning is about the one temperature, the multi-label one names the classes (labels drawn
    independently of logits of magnitude 1e3)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1e3, (50, 4))
    with pytest.warns(mc.CalibrationWarning) as rec:
        assert mc.fit_temperature(x, rng.integers(0, 4, 50)) == 1000.0
    msg = str(rec[0].message)
    assert msg.startswith(
        "fit_temperature: the fitted temperature is at the upper bound T_max=1000"
    )
    assert "for classes" not in msg, msg
    with pytest.warns(ml.CalibrationWarning) as rec:
        fit = ml.fit_temperature(x, (rng.random((50, 4)) > 0.5).astype(float), fit_bias=False)
    assert (fit.temperature == 1000.0).all()
    assert "upper bound T_max=1000 for classes [0, 1, 2, 3] (" in str(rec[0].message)
    # logits that order the labels perfectly put it at the lower bound, in both families
    x = rng.normal(0.0, 1e-3, (50, 4))
    with pytest.warns(mc.CalibrationWarning) as rec:
        assert mc.fit_temperature(x, np.argmax(x, axis=1)) == 1e-3
    assert str(rec[0].message).startswith(
        "fit_temperature: the fitted temperature is at the lower bound T_min=0.001 (the loss"
    )
    with pytest.warns(ml.CalibrationWarning) as rec:
        fit = ml.fit_temperature(x, (x > 0).astype(float), fit_bias=False, regularize=False)
    assert (fit.temperature == 1e-3).all()
    assert "lower bound T_min=0.001 for classes [0, 1, 2, 3] (" in str(rec[0].message)


def test_nll_loss_log_probs_tolerance_at_its_edge():
    """log_probs rows whose logsumexp is within 0.05 of 0 are accepted (rounded log-probabilities),
    0.05 itself included; past it, ValueError naming the row."""
    lp = np.array([[0.05, -np.inf], [np.log(0.25), np.log(0.75)]])
    assert lk.nll_loss(lp, np.array([0, 1]), reduction="none").tolist() == [-0.05, -np.log(0.75)]
    with pytest.raises(ValueError, match=r"^log_probs: .* row \(0,\) has logsumexp 0\.05"):
        lk.nll_loss(np.array([[np.nextafter(0.05, 1.0), -np.inf]]), np.array([0]))


def test_keepdims_out_with_other_axes_of_length_one():
    """keepdims=True with out=: the out's class axis of length 1 is dropped, not its others."""
    x = np.arange(6.0).reshape(2, 1, 3)
    out = np.full((2, 1, 1), 7.0)
    lk.logsumexp(x, axis=2, keepdims=True, out=out)
    assert out[:, 0, 0].tolist() == [lk.logsumexp(x[0, 0]), lk.logsumexp(x[1, 0])]


def test_backward_out_has_the_broadcast_shape_of_both_operands():
    """out= of an elementwise backward must have the broadcast shape of grad and y: a grad that
    broadcasts against a larger y does not set the shape."""
    g, y = np.ones(3), np.full((2, 3), 0.25)
    out = np.empty((2, 3))
    assert lk.sigmoid_backward(g, y, out=out) is out
    np.testing.assert_array_equal(out, np.full((2, 3), 0.1875))
    with pytest.raises(ValueError, match=r"^out: "):
        lk.sigmoid_backward(g, y, out=np.empty(3))


def test_sample_of_one_row_is_a_numpy_integer_and_refuses_inf_temperature():
    """One 1-d row gives one token as a NumPy integer (not a 0-d array), on every path; a
    temperature of inf is refused by name on every path."""
    r = mc.sample(np.array([1.0, 2.0, 0.5]), rng=0)
    assert isinstance(r, np.integer) and not isinstance(r, np.ndarray)
    r = mc.sample(np.array([1.0, 2.0, 0.5]), rng=0, where=np.array([True, True, False]))
    assert isinstance(r, np.integer)
    for kw in ({}, {"where": np.array([True, True])}):
        with pytest.raises(ValueError, match=r"^temperature: "):
            mc.sample(np.array([1.0, 2.0]), temperature=np.inf, rng=0, **kw)


def test_top_k_per_row_takes_integer_arrays_only():
    """top_k one per row: any integer dtype gives the same probabilities; float arrays are a
    TypeError naming top_k (a float k is ambiguous)."""
    x = np.random.default_rng(2).standard_normal((3, 20))
    k64 = np.array([1, 5, 20])
    want = mc.proba(x, top_k=k64)
    for k in (k64.astype(np.int32), k64.astype(np.uint8), k64.astype(np.uint64)):
        np.testing.assert_array_equal(mc.proba(x, top_k=k), want)
    with pytest.raises(TypeError, match=r"^top_k: "):
        mc.proba(x, top_k=k64.astype(np.float64))


def test_option_type_errors_name_the_option():
    x, t = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(TypeError, match=r"^label_smoothing: expected a number in \[0, 1\], got"):
        lk.cross_entropy(x, t, label_smoothing=[0.1, 0.2])
    with pytest.raises(
        TypeError,
        match=r"^hess_scale: expected a positive number, 'xgboost' or 'lightgbm'; got list \[1\.0\]$",
    ):
        lk.grad_hess(x, t, family="multiclass", hess_scale=[1.0])
    with pytest.raises(
        ValueError,
        match=r"^p_logits and q_logits: the shapes differ, \(2, 3\) and \(3, 2\) \(one logit of "
        r"each distribution per label\)$",
    ):
        lk.binary_kl_divergence(x, x.T)
    import dask.array as da

    with pytest.raises(
        TypeError, match=r"^out: not supported for Dask logits \(the result is a lazy Dask array\)$"
    ):
        ml.proba(da.from_array(x, chunks=1), temperature=[1.0, 2.0, 3.0], out=np.empty((2, 3)))


def test_float16_loss_gradient_into_out():
    """float16 logits with out=: the gradient (float16) is written into out and returned."""
    x = np.array([[0.5, -2.0, 3.0]], np.float16)
    y = np.array([[1.0, 0.0, 1.0]], np.float16)
    want = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none")
    out = np.full((1, 3), 7.0, np.float16)
    got = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none", out=out)
    assert got[1] is out and np.array_equal(out, want[1])


def test_fit_temperature_leaves_out_the_ignored_labels():
    """Labels equal to ignore_index take no part: the fit is the fit of the other rows."""
    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 3.0, (200, 5))
    labels = np.argmax(x + rng.gumbel(size=x.shape), axis=1)  # calibrated: T near 1
    labels[::3] = 7  # not a class: ignored rows
    keep = labels != 7
    T = mc.fit_temperature(x, labels, ignore_index=7)
    assert 0.5 < T < 2.0
    # the same optimum (to the solver's tolerance: the sums run over other layouts)
    assert T == pytest.approx(mc.fit_temperature(x[keep], labels[keep]), rel=1e-9)
