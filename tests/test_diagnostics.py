"""The same diagnoses at every public entry point (issue 16, items 1-6 and 9): one class is not a
multi-class problem, one-hot targets, class-major logits, ``dim=``, the argument names in
messages, ``ignore_index`` in every metric, one error text from Python and C++, warnings that
point at the caller's line, and the kind of object every loss and metric returns.

The tables below list the public functions by what they take; ``test_tables_cover_the_api``
fails when a public function with a class axis is missing from them, so a new function is checked
here once it is listed."""

from __future__ import annotations

import functools
import inspect
import typing
import warnings

import logitkit as lk
import numpy as np
import pytest
from logitkit import _core
from logitkit import multiclass as mc
from logitkit import multilabel as ml

RNG = np.random.default_rng(16)
LABELS = np.array([0, 1, 2, 3, 1, 2])
X = RNG.normal(0.0, 2.0, (6, 4))
X[[0, 1, 2, 3], LABELS[:4]] += 3.0  # informative logits (a temperature fit has an optimum)
Y01 = (RNG.random((6, 4)) < 0.4).astype(np.float64)


def _public(module):
    return {n: getattr(module, n) for n in module.__all__ if inspect.isfunction(getattr(module, n))}


# name -> call(logits, labels, **kw): every public function that takes multi-class logits with a
# class axis. The labels are integer class indices of the logits' shape without the class axis.
MULTICLASS_CALLS = {
    "multiclass.proba": lambda x, t, **kw: mc.proba(x, **kw),
    "multiclass.log_proba": lambda x, t, **kw: mc.log_proba(x, **kw),
    "multiclass.predict": lambda x, t, **kw: mc.predict(x, **kw),
    "multiclass.top_k": lambda x, t, **kw: mc.top_k(x, 1, **kw),
    "multiclass.loss": lambda x, t, **kw: mc.loss(x, t, **kw),
    "multiclass.loss_with_grad": lambda x, t, **kw: mc.loss_with_grad(x, t, **kw),
    "multiclass.grad_hess": lambda x, t, **kw: mc.grad_hess(x, t, **kw),
    "multiclass.fit_temperature": lambda x, t, **kw: mc.fit_temperature(x, t, **kw),
    "multiclass.expected_calibration_error": lambda x, t, **kw: mc.expected_calibration_error(
        x, t, **kw
    ),
    "multiclass.brier_score": lambda x, t, **kw: mc.brier_score(x, t, **kw),
    "MultiClass.proba": lambda x, t, **kw: mc.MultiClass().proba(x, **kw),
    "MultiClass.log_proba": lambda x, t, **kw: mc.MultiClass().log_proba(x, **kw),
    "MultiClass.predict": lambda x, t, **kw: mc.MultiClass().predict(x, **kw),
    "MultiClass.top_k": lambda x, t, **kw: mc.MultiClass().top_k(x, 1, **kw),
    "MultiClass.loss": lambda x, t, **kw: mc.MultiClass().loss(x, t, **kw),
    "MultiClass.loss_with_grad": lambda x, t, **kw: mc.MultiClass().loss_with_grad(x, t, **kw),
    "MultiClass.grad_hess": lambda x, t, **kw: mc.MultiClass().grad_hess(x, t, **kw),
    "MultiClass.fit_temperature": lambda x, t, **kw: mc.MultiClass().fit_temperature(x, t, **kw),
    "MultiClass.expected_calibration_error": lambda x, t, **kw: (
        mc.MultiClass().expected_calibration_error(x, t, **kw)
    ),
    "MultiClass.brier_score": lambda x, t, **kw: mc.MultiClass().brier_score(x, t, **kw),
    "multiclass.entropy": lambda x, t, **kw: mc.entropy(x, **kw),
    "MultiClass.entropy": lambda x, t, **kw: mc.MultiClass().entropy(x, **kw),
    "entropy": lambda x, t, **kw: lk.entropy(x, **kw),
    "entropy_with_grad": lambda x, t, **kw: lk.entropy_with_grad(x, **kw),
    "kl_divergence": lambda x, t, **kw: lk.kl_divergence(x, x[::-1].copy(), **kw),
    "js_divergence": lambda x, t, **kw: lk.js_divergence(x, x[::-1].copy(), **kw),
    "distillation_loss": lambda x, t, **kw: lk.distillation_loss(x, -x, t, **kw),
    "distillation_loss_with_grad": lambda x, t, **kw: lk.distillation_loss_with_grad(
        x, -x, t, **kw
    ),
    "js_divergence_with_grad": lambda x, t, **kw: lk.js_divergence_with_grad(
        x, x[::-1].copy(), **kw
    ),
    "kl_divergence_with_grad": lambda x, t, **kw: lk.kl_divergence_with_grad(
        x, x[::-1].copy(), **kw
    ),
    "cross_entropy": lambda x, t, **kw: lk.cross_entropy(x, t, **kw),
    "cross_entropy_with_grad": lambda x, t, **kw: lk.cross_entropy_with_grad(x, t, **kw),
    "nll_loss": lambda x, t, **kw: lk.nll_loss(lk.log_softmax(x, axis=kw.get("axis", -1)), t, **kw),
    "grad_hess(multiclass)": lambda x, t, **kw: lk.grad_hess(x, t, family="multiclass", **kw),
}
# the functions of MULTICLASS_CALLS that take labels (the others read only the logits)
TAKES_LABELS = [
    n
    for n in MULTICLASS_CALLS
    if not n.endswith(("proba", "log_proba", "predict", "top_k"))
    and "entropy" not in n
    and "kl_divergence" not in n
    and "js_divergence" not in n
]
LOSSES = [n for n in TAKES_LABELS if "loss" in n or "grad" in n or "entropy" in n]

# name -> call(x, **kw) of every other public function with an ``axis`` (for ``dim=``)
OTHER_AXIS_CALLS = {
    "softmax": lambda **kw: lk.softmax(X, **kw),
    "log_softmax": lambda **kw: lk.log_softmax(X, **kw),
    "logsumexp": lambda **kw: lk.logsumexp(X, **kw),
    "softmax_backward": lambda **kw: lk.softmax_backward(X, lk.softmax(X), **kw),
    "log_softmax_backward": lambda **kw: lk.log_softmax_backward(X, lk.log_softmax(X), **kw),
    "binary_cross_entropy_with_logits": lambda **kw: lk.binary_cross_entropy_with_logits(
        X, Y01, **kw
    ),
    "binary_cross_entropy_with_logits_with_grad": lambda **kw: (
        lk.binary_cross_entropy_with_logits_with_grad(X, Y01, **kw)
    ),
    "grad_hess(binary)": lambda **kw: lk.grad_hess(X, Y01, family="binary", **kw),
    "sigmoid_focal_loss": lambda **kw: lk.sigmoid_focal_loss(X, Y01, **kw),
    "sigmoid_focal_loss_with_grad": lambda **kw: lk.sigmoid_focal_loss_with_grad(X, Y01, **kw),
    "multiclass.sample": lambda **kw: mc.sample(X, rng=0, **kw),
    "multiclass.apply_penalties": lambda **kw: mc.apply_penalties(X, **kw),
    "multilabel.proba": lambda **kw: ml.proba(X, **kw),
    "multilabel.log_proba": lambda **kw: ml.log_proba(X, **kw),
    "multilabel.predict": lambda **kw: ml.predict(X, **kw),
    "multilabel.top_k": lambda **kw: ml.top_k(X, 1, **kw),
    "multilabel.loss": lambda **kw: ml.loss(X, Y01, **kw),
    "multilabel.loss_with_grad": lambda **kw: ml.loss_with_grad(X, Y01, **kw),
    "multilabel.grad_hess": lambda **kw: ml.grad_hess(X, Y01, **kw),
    "multilabel.fit_temperature": lambda **kw: ml.fit_temperature(X, Y01, **kw),
    "multilabel.expected_calibration_error": lambda **kw: ml.expected_calibration_error(
        X, Y01, **kw
    ),
    "multilabel.brier_score": lambda **kw: ml.brier_score(X, Y01, **kw),
    "multilabel.entropy": lambda **kw: ml.entropy(X, **kw),
    "multilabel.distillation_loss": lambda **kw: ml.distillation_loss(X, -X, **kw),
    "multilabel.distillation_loss_with_grad": lambda **kw: ml.distillation_loss_with_grad(
        X, -X, **kw
    ),
    "MultiLabel.proba": lambda **kw: ml.MultiLabel().proba(X, **kw),
    "MultiLabel.loss": lambda **kw: ml.MultiLabel().loss(X, Y01, **kw),
}


def _has_axis(f) -> bool:
    try:
        return "axis" in inspect.signature(f).parameters
    except (TypeError, ValueError):  # a ufunc
        return False


def test_tables_cover_the_api():
    """Every public function with an ``axis`` is in one of the tables above."""
    listed = {n.split("(")[0] for n in list(MULTICLASS_CALLS) + list(OTHER_AXIS_CALLS)}
    missing = []
    for prefix, module in (("", lk), ("multiclass.", mc), ("multilabel.", ml)):
        for name, f in _public(module).items():
            if _has_axis(f) and prefix + name not in listed:
                missing.append(prefix + name)
    assert not missing, f"public functions with an axis missing from the tables: {missing}"


# ----------------------------------------------------------------------------- 1. one class


@pytest.mark.parametrize("name", MULTICLASS_CALLS)
def test_one_class_is_a_binary_model(name):
    """(N, 1) logits: a single logit per input is a binary model; every multi-class entry point
    raises a ValueError that says so and names the functions for it."""
    x = X[:, :1].copy()
    with pytest.raises(ValueError, match=r"single logit per input") as e:
        MULTICLASS_CALLS[name](x, np.zeros(6, np.int64))
    msg = str(e.value)
    assert "logitkit.multilabel" in msg and "sigmoid" in msg, msg
    # the class axis anywhere: (1, N) with axis=0
    with pytest.raises(ValueError, match=r"single logit per input"):
        MULTICLASS_CALLS[name](x.T.copy(), np.zeros(6, np.int64), axis=0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_one_class_is_fine_for_the_math_functions(name):
    """softmax over an axis of length 1 is well defined (attention over one key): no diagnosis."""
    f = getattr(lk, name)
    x = X[:, :1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = np.asarray(f(x, axis=-1), np.float64)
    want = {"softmax": np.ones((6, 1)), "log_softmax": np.zeros((6, 1)), "logsumexp": X[:, 0]}
    np.testing.assert_array_equal(r, want[name])


# ----------------------------------------------------------------------------- 2. hints


def _one_hot():
    return np.eye(4, dtype=np.int64)[LABELS]


@pytest.mark.parametrize("name", TAKES_LABELS)
def test_one_hot_integer_target(name):
    with pytest.raises(ValueError, match=r"one-hot") as e:
        MULTICLASS_CALLS[name](X, _one_hot())
    assert "argmax(axis=1)" in str(e.value) or "argmax(axis=-1)" in str(e.value), str(e.value)


def test_one_hot_message_is_the_same_at_every_level():
    msgs = set()
    for name in ("cross_entropy", "cross_entropy_with_grad", "multiclass.loss", "MultiClass.loss"):
        with pytest.raises(ValueError) as e:
            MULTICLASS_CALLS[name](X, _one_hot())
        msgs.add(str(e.value))
    assert len(msgs) == 1, msgs


@pytest.mark.parametrize("name", TAKES_LABELS)
def test_multi_hot_integer_target_points_at_multilabel(name):
    t = _one_hot()
    t[0, 3] = 1 if LABELS[0] != 3 else 0
    t[0, 0] = 1
    with pytest.raises(ValueError, match=r"logitkit.multilabel"):
        MULTICLASS_CALLS[name](X, t)


@pytest.mark.parametrize("name", TAKES_LABELS)
def test_class_major_logits(name):
    """(C, N) logits with N labels and the default axis: the hint says axis=0."""
    xt = np.ascontiguousarray(X.T)  # (4, 6)
    with pytest.raises(ValueError, match=r"axis=0") as e:
        MULTICLASS_CALLS[name](xt, LABELS)
    assert "class-major" in str(e.value) or "(C, N)" in str(e.value), str(e.value)
    # and axis=0 is then right: the same result as the row-major logits
    got = MULTICLASS_CALLS[name](xt, LABELS, axis=0)
    want = MULTICLASS_CALLS[name](X, LABELS)
    if isinstance(got, tuple):
        got, want = got[0], want[0]
    if isinstance(got, mc.MultiClass):
        got, want = got.temperature, want.temperature
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64).T, 1e-6)


def _bound(f, *args):
    return functools.partial(f, *args)


BINARY_CALLS = {
    "binary_cross_entropy_with_logits": lk.binary_cross_entropy_with_logits,
    "binary_cross_entropy_with_logits_with_grad": lk.binary_cross_entropy_with_logits_with_grad,
    "grad_hess(binary)": functools.partial(lk.grad_hess, family="binary"),
    "sigmoid_focal_loss": lk.sigmoid_focal_loss,
    "sigmoid_focal_loss_with_grad": lk.sigmoid_focal_loss_with_grad,
    "multilabel.loss": ml.loss,
    "multilabel.loss_with_grad": ml.loss_with_grad,
    "multilabel.grad_hess": ml.grad_hess,
    "MultiLabel.loss": ml.MultiLabel().loss,
}


@pytest.mark.parametrize(
    "x, target, hint",
    [
        (X[:, :1], np.zeros(6), "np.expand_dims(target, 1)"),
        (X, LABELS, "looks like class indices"),
        (X, LABELS.astype(np.float64), "looks like class indices"),
        (X, np.zeros((6, 3)), "expected the shape of logits (6, 4), got (6, 3)"),
    ],
    ids=["one-column", "class-indices", "float-class-indices", "other"],
)
def test_binary_targets_get_the_multilabel_diagnosis(x, target, hint):
    """The top-level binary losses explain a target shape as logitkit.multilabel does, in the
    same words."""
    msgs = set()
    for name, f in BINARY_CALLS.items():
        with pytest.raises(ValueError) as e:
            f(x, target)
        assert hint in str(e.value), f"{name}: {e.value}"
        msgs.add(str(e.value))
    assert len(msgs) == 1, msgs


DIM_CALLS = {n: _bound(f, X, LABELS) for n, f in MULTICLASS_CALLS.items()}
DIM_CALLS.update(OTHER_AXIS_CALLS)
DIM_CALLS["MultiClass(...)"] = lambda **kw: mc.MultiClass(**kw)
DIM_CALLS["MultiLabel(...)"] = lambda **kw: ml.MultiLabel(**kw)


@pytest.mark.parametrize("name", DIM_CALLS)
def test_dim_instead_of_axis(name):
    with pytest.raises(TypeError, match=r"use axis=") as e:
        DIM_CALLS[name](dim=1)
    assert str(e.value).startswith("dim:"), str(e.value)


# ----------------------------------------------------------------------------- 3. names


CAL_MC = ["fit_temperature", "expected_calibration_error", "brier_score"]


@pytest.mark.parametrize("fn", CAL_MC)
@pytest.mark.parametrize(
    "bad, what",
    [
        (lambda: np.array([0, 1, 9, 3, 1, 2]), "label 9"),
        (lambda: np.full((6, 4), 0.25) + np.eye(6, 4) * np.nan, "NaN"),
        (lambda: np.full((6, 4), 0.25) - np.eye(6, 4), ">= 0"),
        (lambda: np.full((6, 4), 0.3), "sum to 1"),
        (lambda: np.zeros(5, np.int64), "shape"),
        (lambda: np.full((6, 3), 0.25), "shape"),
    ],
    ids=["label", "nan", "negative", "row-sum", "labels-shape", "soft-shape"],
)
def test_calibration_errors_name_labels_multiclass(fn, bad, what):
    for call in (getattr(mc, fn), getattr(mc.MultiClass(), fn)):
        with pytest.raises(ValueError, match=r"^labels: ") as e:
            call(X, bad())
        assert what in str(e.value), str(e.value)
        if isinstance(e.value, lk.InvalidTargetError):
            assert e.value.argument == "labels"


@pytest.mark.parametrize("fn", CAL_MC)
@pytest.mark.parametrize(
    "bad",
    [np.full((6, 4), 1.5), np.full((6, 4), np.nan), np.zeros((6, 3))],
    ids=["1.5", "nan", "shape"],
)
def test_calibration_errors_name_labels_multilabel(fn, bad):
    for call in (getattr(ml, fn), getattr(ml.MultiLabel(), fn)):
        with pytest.raises(ValueError, match=r"^labels: "):
            call(X, bad)


# ----------------------------------------------------------------------------- 4. ignore_index


def _with_ignored(ii):
    t = LABELS.copy()
    t[[1, 4]] = ii
    return t


@pytest.mark.parametrize("fn", ["expected_calibration_error", "brier_score"])
@pytest.mark.parametrize("ii", [-100, 7, -1])
def test_metrics_skip_ignore_index(fn, ii):
    """Items labelled ignore_index do not count: the metric of the other items alone."""
    t = _with_ignored(ii)
    keep = t != ii
    want = getattr(mc, fn)(X[keep], t[keep])
    kw = {} if ii == -100 else {"ignore_index": ii}
    assert getattr(mc, fn)(X, t, **kw) == want
    assert getattr(mc.MultiClass(**kw), fn)(X, t) == want
    # class-major layout: the same items skipped
    assert getattr(mc, fn)(X.T, t, axis=0, **kw) == want


@pytest.mark.parametrize("ii", [-100, 7])
def test_fit_temperature_skips_ignore_index(ii):
    x = X * 3.0
    t = _with_ignored(ii)
    keep = t != ii
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mc.CalibrationWarning)
        want = mc.fit_temperature(x[keep], t[keep])
        kw = {} if ii == -100 else {"ignore_index": ii}
        np.testing.assert_allclose(mc.fit_temperature(x, t, **kw), want, rtol=1e-9)
        np.testing.assert_allclose(
            mc.MultiClass(**kw).fit_temperature(x, t).temperature, want, rtol=1e-9
        )


@pytest.mark.parametrize("fn", ["expected_calibration_error", "brier_score"])
def test_metrics_every_item_ignored_is_nan(fn):
    assert np.isnan(getattr(mc, fn)(X, np.full(6, -100)))


@pytest.mark.parametrize("fn", ["expected_calibration_error", "brier_score", "fit_temperature"])
def test_ignore_index_is_still_checked(fn):
    """A label that is neither in [0, C) nor ignore_index is still an error naming both."""
    with pytest.raises(ValueError, match=r"^labels: label -5 .* ignore_index=-100"):
        getattr(mc, fn)(X, np.array([0, 1, -5, 3, 1, 2]))


# ----------------------------------------------------------------------------- 5. one vocabulary


def test_label_error_same_text_from_python_and_cpp():
    """The one-call path runs the C++ API (its describe() text); axis=0 takes the Python path."""
    t = np.array([0, 1, 7, 3, 1, 2])
    with pytest.raises(lk.InvalidTargetError) as cpp:
        lk.cross_entropy(X, t)
    with pytest.raises(lk.InvalidTargetError) as py:
        lk.cross_entropy(np.ascontiguousarray(X.T), t, axis=0)
    assert str(cpp.value) == str(py.value)
    assert (
        str(py.value)
        == "target: label 7 at position (2,) is outside [0, 4) and is not ignore_index=-100"
    )


def test_probability_error_same_text_from_python_and_cpp():
    y = Y01.copy()
    y[2, 1] = 1.5
    with pytest.raises(lk.InvalidTargetError) as cpp:  # one-pass C++ sum
        lk.binary_cross_entropy_with_logits(X, y)
    with pytest.raises(lk.InvalidTargetError) as py:  # the general (Python) path
        lk.binary_cross_entropy_with_logits(X, y, reduction="none")
    assert (
        str(cpp.value)
        == str(py.value)
        == ("target: probabilities must be in [0, 1]; 1.5 at position (2, 1)")
    )


ERROR_KINDS = {
    # kind -> (Python call that raises it, the C++ Status fields that describe() formats)
    "label": (
        lambda: lk.cross_entropy(X.T, np.array([0, 1, 7, 3, 1, 2]), axis=0),
        {
            "kind": "invalid_label",
            "argument": "target",
            "label": 7,
            "position": (2,),
            "classes": 4,
            "ignore_index": -100,
        },
    ),
    "probability": (
        lambda: lk.binary_cross_entropy_with_logits(
            X, np.where(np.eye(6, 4) > 0, -0.5, Y01), reduction="none"
        ),
        {"kind": "probabilities_in_unit", "argument": "target", "value": -0.5, "position": (0, 0)},
    ),
    "nan": (
        lambda: lk.cross_entropy(X, np.full((6, 4), 0.25) + np.eye(6, 4) * np.nan),
        {
            "kind": "probabilities_not_nan",
            "argument": "target",
            "value": np.nan,
            "position": (0, 0),
        },
    ),
    "negative": (
        lambda: lk.cross_entropy(X, np.full((6, 4), 0.25) - np.eye(6, 4) * 0.5),
        {
            "kind": "probabilities_nonnegative",
            "argument": "target",
            "value": -0.25,
            "position": (0, 0),
        },
    ),
    "row sum": (
        lambda: lk.cross_entropy(X, np.full((6, 4), 0.3)),
        {"kind": "row_sum", "argument": "target", "value": 1.2, "position": (0,)},
    ),
    "row sum below 1": (
        lambda: lk.cross_entropy(X, np.full((6, 4), 0.2)),
        {"kind": "row_sum", "argument": "target", "value": 0.8, "position": (0,)},
    ),
    "pos_weight": (
        lambda: lk.binary_cross_entropy_with_logits(
            X, Y01, pos_weight=np.array([1.0, -2.0, 1.0, 1.0])
        ),
        {"kind": "weight_nonnegative", "argument": "pos_weight", "value": -2.0, "position": (1,)},
    ),
    "temperature": (
        lambda: lk.softmax(X, temperature=-1.0),
        {"kind": "positive_finite", "argument": "temperature", "value": -1.0},
    ),
    "label_smoothing": (
        lambda: lk.cross_entropy(X, LABELS, label_smoothing=1.5),
        {"kind": "unit_interval", "argument": "label_smoothing", "value": 1.5},
    ),
}


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_one_error_vocabulary(kind):
    """Python raises exactly the text of the C++ API's describe() for the same Status."""
    call, status = ERROR_KINDS[kind]
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == _core.describe_status(**status)


def test_cpp_describe_texts():
    """describe() itself (the text tests/cpp/test_api.cpp also checks)."""
    d = _core.describe_status
    assert d(kind="row_sum", argument="target", value=1.2, position=(3,)) == (
        "target: each row of probabilities must sum to 1; row (3,) sums to 1.2; if each input can "
        "be in several classes at once, the logits are multi-label: use logitkit.multilabel "
        "(binary_cross_entropy_with_logits)"
    )
    assert d(kind="weight_nonnegative", argument="pos_weight", value=-2.0, position=(1,)) == (
        "pos_weight: must be >= 0; -2 at position (1,)"
    )


# ----------------------------------------------------------------------------- 6. stacklevel


P = lk.softmax(X)  # probabilities where logits belong
PL = RNG.random((40, 4)) * 0.9 + 0.05  # sigmoid outputs where logits belong

PROBA_WARNERS = {
    **{n: _bound(f, P, LABELS) for n, f in MULTICLASS_CALLS.items() if "." in n},
    "multilabel.proba": lambda: ml.proba(PL),
    "multilabel.log_proba": lambda: ml.log_proba(PL),
    "multilabel.predict": lambda: ml.predict(PL),
    "multilabel.top_k": lambda: ml.top_k(PL, 2),
    "multilabel.loss": lambda: ml.loss(PL, PL > 0.5),
    "multilabel.loss_with_grad": lambda: ml.loss_with_grad(PL, PL > 0.5),
    "multilabel.grad_hess": lambda: ml.grad_hess(PL, PL > 0.5),
    "multilabel.fit_temperature": lambda: ml.fit_temperature(PL, PL > 0.5),
    "multilabel.expected_calibration_error": lambda: ml.expected_calibration_error(PL, PL > 0.5),
    "multilabel.brier_score": lambda: ml.brier_score(PL, PL > 0.5),
    "MultiLabel.proba": lambda: ml.MultiLabel().proba(PL),
    "MultiLabel.log_proba": lambda: ml.MultiLabel().log_proba(PL),
    "MultiLabel.predict": lambda: ml.MultiLabel().predict(PL),
    "MultiLabel.top_k": lambda: ml.MultiLabel().top_k(PL, 2),
    "MultiLabel.loss": lambda: ml.MultiLabel().loss(PL, PL > 0.5),
    "MultiLabel.loss_with_grad": lambda: ml.MultiLabel().loss_with_grad(PL, PL > 0.5),
    "MultiLabel.grad_hess": lambda: ml.MultiLabel().grad_hess(PL, PL > 0.5),
    "MultiLabel.fit_temperature": lambda: ml.MultiLabel().fit_temperature(PL, PL > 0.5),
    "MultiLabel.expected_calibration_error": lambda: ml.MultiLabel().expected_calibration_error(
        PL, PL > 0.5
    ),
    "MultiLabel.brier_score": lambda: ml.MultiLabel().brier_score(PL, PL > 0.5),
}


@pytest.mark.parametrize("name", PROBA_WARNERS)
def test_probabilities_warning_points_at_the_caller(name):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        PROBA_WARNERS[name]()
    ours = [r for r in rec if issubclass(r.category, mc.ProbabilitiesWarning)]
    assert ours, f"{name}: no ProbabilitiesWarning"
    for r in ours:
        assert r.filename == __file__, f"{name}: warning points at {r.filename}:{r.lineno}"


def _separable():
    x = np.zeros((6, 4))
    x[np.arange(6), LABELS] = 30.0
    return x


CALIBRATION_WARNERS = {
    "multiclass.fit_temperature": lambda: mc.fit_temperature(_separable(), LABELS),
    "MultiClass.fit_temperature": lambda: mc.MultiClass().fit_temperature(_separable(), LABELS),
    "multilabel.fit_temperature": lambda: ml.fit_temperature(
        _separable(), np.eye(4)[LABELS], regularize=False
    ),
    "MultiLabel.fit_temperature": lambda: ml.MultiLabel().fit_temperature(
        _separable(), np.eye(4)[LABELS], regularize=False
    ),
}


@pytest.mark.parametrize("name", CALIBRATION_WARNERS)
def test_calibration_warning_points_at_the_caller(name):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        CALIBRATION_WARNERS[name]()
    ours = [r for r in rec if issubclass(r.category, mc.CalibrationWarning)]
    assert ours, f"{name}: no CalibrationWarning"
    for r in ours:
        assert r.filename == __file__, f"{name}: warning points at {r.filename}:{r.lineno}"


# ----------------------------------------------------------------------------- 9. return types


def _reduced_losses(dt):
    x = X.astype(dt)
    y = Y01.astype(dt)
    lp = lk.log_softmax(x)
    return {
        "cross_entropy": lambda **kw: lk.cross_entropy(x, LABELS, **kw),
        "cross_entropy soft": lambda **kw: lk.cross_entropy(x, np.eye(4, dtype=dt)[LABELS], **kw),
        "cross_entropy axis=0": lambda **kw: lk.cross_entropy(x.T, LABELS, axis=0, **kw),
        "cross_entropy weighted": lambda **kw: lk.cross_entropy(x, LABELS, weight=np.ones(4), **kw),
        "cross_entropy empty": lambda **kw: lk.cross_entropy(x[:0], LABELS[:0], **kw),
        "cross_entropy_with_grad": lambda **kw: lk.cross_entropy_with_grad(x, LABELS, **kw)[0],
        "cross_entropy_with_grad axis=0": lambda **kw: lk.cross_entropy_with_grad(
            x.T, LABELS, axis=0, **kw
        )[0],
        "nll_loss": lambda **kw: lk.nll_loss(lp, LABELS, **kw),
        "bce": lambda **kw: lk.binary_cross_entropy_with_logits(x, y, **kw),
        "bce 1-d": lambda **kw: lk.binary_cross_entropy_with_logits(x[0], y[0], **kw),
        "bce 0-d": lambda **kw: lk.binary_cross_entropy_with_logits(x[0, 0], y[0, 0], **kw),
        "bce axis=0": lambda **kw: lk.binary_cross_entropy_with_logits(x.T, y.T, axis=0, **kw),
        "bce empty": lambda **kw: lk.binary_cross_entropy_with_logits(x[:0], y[:0], **kw),
        "bce_with_grad": lambda **kw: lk.binary_cross_entropy_with_logits_with_grad(x, y, **kw)[0],
        "bce_with_grad F-order": lambda **kw: lk.binary_cross_entropy_with_logits_with_grad(
            np.asfortranarray(x), y, **kw
        )[0],
        "sigmoid_focal_loss": lambda **kw: lk.sigmoid_focal_loss(x, y, **kw),
        "sigmoid_focal_loss_with_grad": lambda **kw: lk.sigmoid_focal_loss_with_grad(x, y, **kw)[0],
        "multiclass.loss": lambda **kw: mc.loss(x, LABELS, **kw),
        "multiclass.loss_with_grad": lambda **kw: mc.loss_with_grad(x, LABELS, **kw)[0],
        "multilabel.loss": lambda **kw: ml.loss(x, y, **kw),
        "multilabel.loss_with_grad": lambda **kw: ml.loss_with_grad(x, y, **kw)[0],
        "MultiClass.loss": lambda **kw: mc.MultiClass().loss(x, LABELS, **kw),
        "MultiLabel.loss": lambda **kw: ml.MultiLabel().loss(x, y, **kw),
    }


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduced_losses_are_numpy_scalars_of_the_logits_dtype(dt, reduction):
    bad = []
    for name, f in _reduced_losses(dt).items():
        with np.errstate(all="ignore"):
            r = f(reduction=reduction)
        if type(r) is not np.dtype(dt).type:
            bad.append(f"{name}: {type(r).__name__}")
    assert not bad, bad


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_grad_hess_returns_arrays_of_the_logits_dtype(dt):
    x = X.astype(dt)
    for g, h in (
        lk.grad_hess(x, LABELS, family="multiclass"),
        lk.grad_hess(x, Y01, family="binary"),
        lk.grad_hess(x[0], Y01[0], family="binary"),
        mc.grad_hess(x, LABELS),
        ml.grad_hess(x, Y01),
    ):
        assert type(g) is np.ndarray and type(h) is np.ndarray
        assert g.dtype == dt and h.dtype == dt


def test_calibration_values_are_python_floats():
    x = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mc.CalibrationWarning)
        values = [
            mc.expected_calibration_error(x, LABELS),
            mc.brier_score(x, LABELS),
            mc.fit_temperature(x, LABELS),
            mc.expected_calibration_error(x[:0], LABELS[:0]),
            mc.brier_score(x[:0], LABELS[:0]),
            ml.expected_calibration_error(x, Y01),
            ml.brier_score(x, Y01),
        ]
    assert [type(v) for v in values] == [float] * len(values)


def test_annotations_say_what_is_returned():
    """No public function returns ``Any`` where the type is known."""
    bad = []
    for prefix, module in (("", lk), ("multiclass.", mc), ("multilabel.", ml)):
        for name, f in _public(module).items():
            ret = inspect.signature(f).return_annotation
            if ret in (inspect.Signature.empty, "Any", typing.Any):
                bad.append(prefix + name)
    assert not bad, f"returns annotated Any (or not at all): {bad}"


def test_predict_annotation_matches_what_it_returns():
    r1 = mc.predict(X[0])
    assert type(r1) is np.intp
    assert type(mc.predict(X)) is np.ndarray
    ann = str(inspect.signature(mc.predict).return_annotation)
    assert "intp" in ann and "ndarray" in ann, ann
