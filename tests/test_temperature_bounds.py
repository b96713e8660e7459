"""Temperature at the edges of its domain, through every public function that takes one, for
float32 and float64 logits: the smallest and largest positive doubles are temperatures (no NaN, no
floating-point warning, and at the largest a value is the value at zero logits); 0 (except sample's
greedy), -0.0, negatives, inf and NaN are refused with an error naming temperature. Distillation
takes the narrower range where T² is a normal number of the logits' dtype (docs/semantics.md). At
tiny temperatures the results are checked against their exact limits. A new function with a
temperature parameter fails the table test until it has an entry here."""

from __future__ import annotations

import inspect
import types
import warnings

import logitkit as lk
import numpy as np
import pytest
from logitkit import multiclass as mc
from logitkit import multilabel as ml

_X64 = np.array([[3.0, -1.0, 0.5, 2.0, -4.0], [0.0, 1.0, -2.0, 7.0, 1.5]])
_LABELS = np.array([3, 1])
_PROBS64 = np.array([[0.1, 0.2, 0.3, 0.2, 0.2], [0.5, 0.1, 0.1, 0.2, 0.1]])
_BINARY64 = np.array([[1.0, 0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0]])
_Q64 = np.array([[0.5, 0.0, -1.0, 2.5, 1.0], [2.0, -3.0, 0.0, 1.0, 0.5]])

# the operands of the table's calls, in the dtype under test (set by _use)
A = types.SimpleNamespace()


def _use(dtype, *, zero_logits=False):
    """Point the table's calls at operands of this dtype (the logits 0 with zero_logits)."""
    dt = np.dtype(dtype)
    A.X, A.Q = (np.zeros_like(v, dt) if zero_logits else v.astype(dt) for v in (_X64, _Q64))
    A.PROBS, A.BINARY = _PROBS64.astype(dt), _BINARY64.astype(dt)


_use(np.float64)

# name -> a call with the given temperature (the other arguments fixed and valid)
_WITH_T = {
    "logitkit.softmax": lambda T: lk.softmax(A.X, temperature=T),
    "logitkit.log_softmax": lambda T: lk.log_softmax(A.X, temperature=T),
    "logitkit.logsumexp": lambda T: lk.logsumexp(A.X, temperature=T),
    "logitkit.cross_entropy": lambda T: lk.cross_entropy(A.X, _LABELS, temperature=T),
    "logitkit.cross_entropy_with_grad": lambda T: lk.cross_entropy_with_grad(
        A.X, A.PROBS, temperature=T
    ),
    "logitkit.binary_cross_entropy_with_logits": lambda T: lk.binary_cross_entropy_with_logits(
        A.X, A.BINARY, temperature=T
    ),
    "logitkit.binary_cross_entropy_with_logits_with_grad": lambda T: (
        lk.binary_cross_entropy_with_logits_with_grad(A.X, A.BINARY, temperature=T)
    ),
    "logitkit.sigmoid_focal_loss": lambda T: lk.sigmoid_focal_loss(A.X, A.BINARY, temperature=T),
    "logitkit.sigmoid_focal_loss_with_grad": lambda T: lk.sigmoid_focal_loss_with_grad(
        A.X, A.BINARY, temperature=T
    ),
    "logitkit.grad_hess": lambda T: lk.grad_hess(A.X, _LABELS, family="multiclass", temperature=T),
    "logitkit.entropy": lambda T: lk.entropy(A.X, temperature=T),
    "logitkit.entropy_with_grad": lambda T: lk.entropy_with_grad(A.X, temperature=T),
    "logitkit.binary_entropy": lambda T: lk.binary_entropy(A.X, temperature=T),
    "logitkit.binary_entropy_with_grad": lambda T: lk.binary_entropy_with_grad(A.X, temperature=T),
    "logitkit.kl_divergence": lambda T: lk.kl_divergence(A.X, A.Q, temperature=T),
    "logitkit.kl_divergence_with_grad": lambda T: lk.kl_divergence_with_grad(
        A.X, A.Q, temperature=T
    ),
    "logitkit.js_divergence": lambda T: lk.js_divergence(A.X, A.Q, temperature=T),
    "logitkit.js_divergence_with_grad": lambda T: lk.js_divergence_with_grad(
        A.X, A.Q, temperature=T
    ),
    "logitkit.binary_kl_divergence": lambda T: lk.binary_kl_divergence(A.X, A.Q, temperature=T),
    "logitkit.binary_kl_divergence_with_grad": lambda T: lk.binary_kl_divergence_with_grad(
        A.X, A.Q, temperature=T
    ),
    "logitkit.distillation_loss": lambda T: lk.distillation_loss(
        A.X, A.Q, target=_LABELS, alpha=0.5, temperature=T
    ),
    "logitkit.distillation_loss_with_grad": lambda T: lk.distillation_loss_with_grad(
        A.X, A.Q, target=_LABELS, alpha=0.5, temperature=T
    ),
    "logitkit.multiclass.proba": lambda T: mc.proba(A.X, temperature=T),
    "logitkit.multiclass.log_proba": lambda T: mc.log_proba(A.X, temperature=T),
    "logitkit.multiclass.top_k": lambda T: mc.top_k(A.X, 2, temperature=T),
    "logitkit.multiclass.sample": lambda T: mc.sample(A.X, temperature=T, rng=0),
    "logitkit.multiclass.loss": lambda T: mc.loss(A.X, _LABELS, temperature=T),
    "logitkit.multiclass.loss_with_grad": lambda T: mc.loss_with_grad(A.X, _LABELS, temperature=T),
    "logitkit.multiclass.grad_hess": lambda T: mc.grad_hess(A.X, _LABELS, temperature=T),
    "logitkit.multiclass.entropy": lambda T: mc.entropy(A.X, temperature=T),
    "logitkit.multiclass.expected_calibration_error": lambda T: mc.expected_calibration_error(
        A.X, _LABELS, temperature=T
    ),
    "logitkit.multiclass.brier_score": lambda T: mc.brier_score(A.X, _LABELS, temperature=T),
    "logitkit.multilabel.proba": lambda T: ml.proba(A.X, temperature=T),
    "logitkit.multilabel.log_proba": lambda T: ml.log_proba(A.X, temperature=T),
    "logitkit.multilabel.predict": lambda T: ml.predict(A.X, temperature=T),
    "logitkit.multilabel.top_k": lambda T: ml.top_k(A.X, 2, temperature=T),
    "logitkit.multilabel.loss": lambda T: ml.loss(A.X, A.BINARY, temperature=T),
    "logitkit.multilabel.loss_with_grad": lambda T: ml.loss_with_grad(A.X, A.BINARY, temperature=T),
    "logitkit.multilabel.grad_hess": lambda T: ml.grad_hess(A.X, A.BINARY, temperature=T),
    "logitkit.multilabel.entropy": lambda T: ml.entropy(A.X, temperature=T),
    "logitkit.multilabel.expected_calibration_error": lambda T: ml.expected_calibration_error(
        A.X, A.BINARY, temperature=T
    ),
    "logitkit.multilabel.brier_score": lambda T: ml.brier_score(A.X, A.BINARY, temperature=T),
    "logitkit.multilabel.distillation_loss": lambda T: ml.distillation_loss(
        A.X, A.Q, target=A.BINARY, alpha=0.5, temperature=T
    ),
    "logitkit.multilabel.distillation_loss_with_grad": lambda T: ml.distillation_loss_with_grad(
        A.X, A.Q, target=A.BINARY, alpha=0.5, temperature=T
    ),
}

_TINY = 5e-324
_HUGE = 1.7976931348623157e308
_DTYPES = [np.float32, np.float64]

# distillation's temperature range: T² a normal number of the logits' dtype (docs/semantics.md)
_DISTILL = tuple(
    n for n in _WITH_T if n.endswith(("distillation_loss", "distillation_loss_with_grad"))
)


def _distill_bounds(dtype):
    e = 63 if np.dtype(dtype) == np.float32 else 511
    return 2.0**-e, 2.0**e


# results that are the function's value (the first of a _with_grad pair); at the largest
# temperature every z = x / T is within 2^-1021 of 0, so the value is the value at zero logits
# (every logit operand 0: both distributions of a divergence)
_VALUE_AT_ZERO = [
    n
    for n in _WITH_T
    if not n.endswith(("top_k", "sample", "predict", "grad_hess"))
    and n not in ("logitkit.logsumexp",)  # logsumexp(x / T) itself: x / T's log-sum, not log C
    and n not in _DISTILL  # refused there
]


def _public_with_temperature():
    out = []
    for m in (lk, mc, ml):
        for n in m.__all__:
            f = getattr(m, n)
            try:
                params = inspect.signature(f).parameters
            except (TypeError, ValueError):  # classes' and compiled functions' signatures
                continue
            if callable(f) and not inspect.isclass(f) and "temperature" in params:
                out.append(f"{m.__name__}.{n}")
    return out


def test_every_function_with_a_temperature_is_in_the_bounds_table():
    assert sorted(_public_with_temperature()) == sorted(_WITH_T)


def _parts(r):
    return [np.asarray(a, np.float64) for a in (r if isinstance(r, tuple) else (r,))]


def _strict(call, T):
    """call(T) with every floating-point exception and warning an error."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(T)


@pytest.fixture(params=_DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    _use(request.param)
    yield request.param
    _use(np.float64)


@pytest.mark.parametrize("name", list(_WITH_T))
def test_temperature_at_its_bounds(name, dtype):
    """The smallest and the largest positive double are temperatures (and the edges of float32's
    range for float32 logits); 0 (except for sample: greedy), -0.0, the negative side, inf and NaN
    are not, and the error names temperature. At the largest temperature a value is the value at
    zero logits. Distillation: the bounds of its own range, and just past them refused."""
    call = _WITH_T[name]
    if name in _DISTILL:
        lo, hi = _distill_bounds(dtype)
        valid = (lo, 1e-18 if dtype == np.float32 else 1e-150, 1.0, hi / 3, hi)
    else:
        valid = (
            _TINY,
            1e-310,
            1e-300,
            1e-200,
            1e-45,
            1e-40,
            1e-38,
            1e20,
            1e38,
            1e154,
            1e200,
            _HUGE,
        )
    for T in valid:
        for part in _parts(_strict(call, T)):
            assert not np.isnan(part).any(), (T, part)
    if name in _VALUE_AT_ZERO:
        at_huge = _parts(_strict(call, _HUGE))[0]
        _use(dtype, zero_logits=True)
        at_zero = _parts(call(1.0))[0]
        _use(dtype)
        eps = float(np.finfo(dtype).eps)
        np.testing.assert_allclose(at_huge, at_zero, rtol=4 * eps, atol=1e-300)
    refused = [-5e-324, -1.0, np.inf, -np.inf, np.nan]
    if name in _DISTILL:
        lo, hi = _distill_bounds(dtype)
        refused += [np.nextafter(lo, 0), lo / 2, np.nextafter(hi, np.inf), 2 * hi, _TINY, _HUGE]
    if not name.endswith("sample"):
        refused += [0.0, -0.0]
    else:  # 0 (either sign) is greedy
        assert np.array_equal(call(0.0), np.argmax(A.X, axis=-1))
        assert np.array_equal(call(-0.0), np.argmax(A.X, axis=-1))
    for T in refused:
        with pytest.raises(ValueError) as e:
            call(T)
        assert str(e.value).startswith("temperature: "), (T, str(e.value))


# --------------------------------------------------------------------- exact limits as T -> 0
#
# At T = 1e-300 and below, z = x/T is beyond exp's range for every nonzero logit of the table (or
# infinite), so the probabilities are the one-hot (sign) limits and the results are known exactly:
# references from the logits' signs and argmaxes alone, in float64, then rounded to the dtype.

_SMALL_T = (_TINY, 1e-310, 1e-300)


def _step(v):
    """sigmoid(v/T) as T -> 0: 1, 0, and 1/2 at v = 0."""
    return np.where(v > 0, 1.0, np.where(v < 0, 0.0, 0.5))


def _onehot_argmax(v):
    return np.eye(v.shape[-1])[np.argmax(v, axis=-1)]


def _over_t(v, T, dtype):
    """v/T rounded to the dtype: 0 where v is 0, ±inf past the range."""
    with np.errstate(all="ignore"):
        return (np.asarray(v, np.float64) / T).astype(dtype)


def _cast(v, dtype):
    """A float64 reference rounded to the dtype (±inf past its range)."""
    with np.errstate(all="ignore"):
        return np.asarray(v, np.float64).astype(dtype)


def _same(actual, expected):
    """Equal to the last bit (±inf and 0 included; the limits are exact)."""
    actual = np.asarray(actual)
    assert actual.dtype == np.asarray(expected).dtype, (actual.dtype, np.asarray(expected).dtype)
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("T", _SMALL_T)
def test_limits_at_tiny_temperatures(T, dtype):
    x, q, y = A.X, A.Q, A.BINARY
    x64, q64, y64 = (v.astype(np.float64) for v in (x, q, y))
    ln2 = np.log(2.0)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        # binary entropy: 0 where x != 0, log 2 at x = 0; its gradient -(z·p·(1 - p))/T is 0 in both
        h, gh = lk.binary_entropy_with_grad(x, temperature=T)
        _same(h, _cast(np.where(x64 == 0, ln2, 0.0), dtype))
        _same(gh, np.zeros_like(x))
        _same(lk.binary_entropy(x, temperature=T), h)
        _same(ml.entropy(x, temperature=T), h)
        # BCE with logits: the hinge limit max(z, 0) - y·z for y in {0, 1} (|z| where the sign
        # disagrees with the label, 0 where it agrees, log 2 at z = 0); gradient (step(x) - y)/T
        loss, g = lk.binary_cross_entropy_with_logits_with_grad(
            x, y, temperature=T, reduction="none"
        )
        hinge = np.where(y64 == 1, np.maximum(-x64, 0), np.maximum(x64, 0))
        _same(loss, _cast(np.where(x64 == 0, ln2, _over_t(hinge, T, np.float64)), dtype))
        _same(g, _over_t(_step(x64) - y64, T, dtype))
        total = lk.binary_cross_entropy_with_logits(x, y, temperature=T, reduction="sum")
        _same(
            total, _cast(np.sum(np.where(x64 == 0, ln2, _over_t(hinge, T, np.float64))), dtype)[()]
        )
        # binary KL: gradient (step(q) - step(p))/T
        _, gk = lk.binary_kl_divergence_with_grad(x, q, temperature=T, reduction="none")
        _same(gk, _over_t(_step(q64) - _step(x64), T, dtype))
        # softmax entropy: one-hot rows (a unique max each), H = 0 and gradient 0
        he, ge = lk.entropy_with_grad(x, temperature=T)
        _same(he, np.zeros(x.shape[0], dtype))
        _same(ge, np.zeros_like(x))
        # KL: gradient (Q - P)/T with P, Q one-hot at the argmaxes
        _, gkl = lk.kl_divergence_with_grad(x, q, temperature=T, reduction="none")
        _same(gkl, _over_t(_onehot_argmax(q64) - _onehot_argmax(x64), T, dtype))
        # cross-entropy: gradient (P - onehot(label))/T
        _, gce = lk.cross_entropy_with_grad(x, _LABELS, temperature=T, reduction="none")
        _same(gce, _over_t(_onehot_argmax(x64) - np.eye(5)[_LABELS], T, dtype))
        # grad_hess (multiclass): the same gradient, and the Hessian p·(1 - p)/T² is 0 (one-hot)
        gg, hh = lk.grad_hess(x, _LABELS, family="multiclass", temperature=T)
        _same(gg, gce)
        _same(hh, np.zeros_like(x))
        # grad_hess (binary): σσ/T² is 0 where x != 0, 1/(4T²) at x = 0
        gb, hb = lk.grad_hess(x, y, family="binary", temperature=T)
        _same(gb, g)
        with np.errstate(all="ignore"):
            quarter = np.float64(0.25) / T / T  # (inf for every T here but in float64 at 1e-300)
        _same(hb, _cast(np.where(x64 == 0, quarter, 0.0), dtype))
        # a zero weight: 0 (also where σσ/T² is infinite), not 0·inf
        w0 = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
        gw, hw = lk.grad_hess(x, y, family="binary", weight=w0, temperature=T)
        _same(gw, np.where(w0 == 0, 0, g).astype(dtype))
        _same(hw, np.where(w0 == 0, 0, hb).astype(dtype))
        # focal loss: where the logit's sign agrees with the label the gradient is exactly 0
        _, gf = lk.sigmoid_focal_loss_with_grad(x, y, temperature=T, reduction="none")
        agree = (x64 != 0) & (_step(x64) == y64)
        _same(np.where(agree, gf, 0), np.zeros_like(x))


def test_loss_sum_past_float32_is_summed_wider():
    """A float32 mean whose float32 sum overflows (every loss near float32's largest, at a tiny
    temperature): the mean is finite, the sum of float64 values rounded once."""
    x = np.full((2, 5), -3.0, np.float32)
    y = np.ones((2, 5), np.float32)
    T = 1e-38
    expected = np.float32(3.0 / T)  # every element |x|/T, in float32's range
    with np.errstate(all="raise"):
        _same(lk.binary_cross_entropy_with_logits(x, y, temperature=T), expected)
        _same(ml.loss(x, y, temperature=T), expected)


def test_distillation_at_its_smallest_temperature(dtype):
    """At T = 2^-511 (float64) or 2^-63 (float32), T² is still normal: T²·KL is T·(max s - s at
    the teacher's argmax) (P one-hot at the teacher's argmax, -log Q there = that gap/T), and the
    gradient α·T·(Q - P) is T·(onehot(argmax s) - onehot(argmax t))."""
    T, _ = _distill_bounds(dtype)
    s, t = A.Q, A.X
    s64, t64 = s.astype(np.float64), t.astype(np.float64)
    k = np.argmax(t64, axis=-1)
    gap = s64.max(axis=-1) - s64[np.arange(2), k]
    with np.errstate(all="raise"):
        v, g = lk.distillation_loss_with_grad(s, t, temperature=T, reduction="none")
    np.testing.assert_allclose(v, (T * gap).astype(dtype), rtol=8 * np.finfo(dtype).eps, atol=0)
    _same(g, (T * (_onehot_argmax(s64) - _onehot_argmax(t64))).astype(dtype))
    # multi-label, each label's T²·KL as T -> 0 (b = s/T, P and Q their sign limits): signs that
    # disagree, -log q = |b|; t = 0 (P = 1/2), s != 0: |b|/2 - log 2; s = 0, t != 0: log 2; signs
    # that agree (or both 0): 0 (to within e^-|b|)
    with np.errstate(all="raise"):
        vm, gm = ml.distillation_loss_with_grad(s, t, temperature=T, reduction="none")
    ps, pt = _step(s64), _step(t64)
    ln2 = np.log(2.0)
    t2kl = np.select(
        [ps == pt, pt == 0.5, ps == 0.5],
        [0.0, T * np.abs(s64) / 2 - T * T * ln2, T * T * ln2],
        T * np.abs(s64),
    )
    tiny = float(np.finfo(dtype).smallest_subnormal)
    np.testing.assert_allclose(vm, t2kl.astype(dtype), rtol=8 * np.finfo(dtype).eps, atol=2 * tiny)
    _same(gm, (T * (ps - pt)).astype(dtype))
