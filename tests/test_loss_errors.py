"""Loss validation errors: each bad argument raises ValueError / TypeError naming the argument and
the offending value (labels, soft targets, shapes, weights, label_smoothing, reduction, out=,
family); validate=False skips the target checks. Shared checks: tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from loss_cases import (
    F64,
    check_grad,
    check_items,
)


def test_grad_out_errors():
    x = np.zeros((3, 4))
    t = np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"out: shape \(4, 3\) does not match"):
        lk.cross_entropy_with_grad(x, t, out=np.zeros((4, 3)))
    with pytest.raises(TypeError, match=r"out: dtype float32 does not match"):
        lk.cross_entropy_with_grad(x, t, out=np.zeros((3, 4), np.float32))
    ro = np.zeros((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"out: array is read-only"):
        lk.cross_entropy_with_grad(x, t, out=ro)
    with pytest.raises(ValueError, match=r"out: shape \(3, 3\) does not match"):
        lk.binary_cross_entropy_with_logits_with_grad(x, np.zeros((3, 4)), out=np.zeros((3, 3)))


def test_grad_hess_unknown_family():
    with pytest.raises(ValueError, match=r"family: expected 'multiclass' or 'binary'"):
        lk.grad_hess(np.zeros((2, 3)), np.array([0, 1]), family="regression")


X3 = np.zeros((4, 3))


def test_label_outside_range_names_position_and_value():
    with pytest.raises(ValueError, match=r"label 3 at position \(2,\) is outside \[0, 3\)"):
        lk.cross_entropy(X3, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"label -1 at position \(1,\) is outside \[0, 3\)"):
        lk.cross_entropy_with_grad(X3, np.array([0, -1, 0, 2]))
    with pytest.raises(ValueError, match=r"label 7 at position \(0, 1\)"):
        lk.cross_entropy(np.zeros((2, 3, 5)), np.array([[0, 7, 1], [0, 0, 0]]), axis=-1)
    with pytest.raises(ValueError, match=r"label 5 at position \(1, 0\)"):
        lk.cross_entropy(np.zeros((2, 5, 2)), np.array([[0, 1], [5, 0]]), axis=1)
    with pytest.raises(ValueError, match=r"label 4 at position \(3,\)"):
        lk.nll_loss(X3, np.array([0, 1, 2, 4]))
    with pytest.raises(ValueError, match=r"label 3 at position \(0,\)"):
        lk.grad_hess(X3, np.array([3, 0, 0, 0]), family="multiclass")
    # ignore_index itself is fine, another negative label is not
    lk.cross_entropy(X3, np.array([0, -100, 1, 2]))
    with pytest.raises(ValueError, match=r"label -100 at position \(1,\).*ignore_index=-1"):
        lk.cross_entropy(X3, np.array([0, -100, 1, 2]), ignore_index=-1)


def test_soft_target_errors():
    with pytest.raises(ValueError, match=r"probabilities must be >= 0; -0\.1 at position \(1, 2\)"):
        lk.cross_entropy(X3, np.array([[1, 0, 0], [0.6, 0.5, -0.1], [1, 0, 0], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"row \(2,\) sums to 0\.9\b"):
        lk.cross_entropy(X3, np.array([[1, 0, 0], [0, 1, 0], [0.5, 0.4, 0], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"row \(0,\) sums to 2\b.*logitkit\.multilabel"):
        lk.cross_entropy(
            X3, np.array([[1, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]], float), reduction="none"
        )
    with pytest.raises(ValueError, match=r"row \(1,\) sums to 0\.5") as info:
        lk.cross_entropy_with_grad(X3, np.array([[1, 0, 0], [0.5, 0, 0], [0, 1, 0], [1, 0, 0.0]]))
    assert "multilabel" not in str(info.value)
    with pytest.raises(
        ValueError, match=r"target: probabilities must not be NaN; nan at position \(0, 1\)"
    ):
        lk.cross_entropy(X3, np.array([[0.5, np.nan, 0.5], [0, 1, 0], [0, 1, 0], [1, 0, 0]]))
    # the class axis is where the rows are summed
    with pytest.raises(ValueError, match=r"row \(0, 1\) sums to"):
        lk.cross_entropy(np.zeros((1, 3, 2)), np.array([[[1.0, 0.2], [0, 0.3], [0, 0.4]]]), axis=1)


def test_bce_target_errors():
    with pytest.raises(
        ValueError, match=r"probabilities must be in \[0, 1\]; 1\.5 at position \(1,\)"
    ):
        lk.binary_cross_entropy_with_logits(np.zeros(3), np.array([0, 1.5, 1]))
    with pytest.raises(
        ValueError, match=r"probabilities must be in \[0, 1\]; -0\.25 at position \(0, 2\)"
    ):
        lk.binary_cross_entropy_with_logits_with_grad(np.zeros((1, 3)), np.array([[0, 1, -0.25]]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]; nan at position \(1,\)"):
        lk.binary_cross_entropy_with_logits(np.zeros(2), np.array([0, np.nan]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]; 2 at position"):
        lk.sigmoid_focal_loss(np.zeros(2), np.array([0, 2.0]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        lk.grad_hess(np.zeros(2), np.array([0, 2.0]), family="binary")
    # class indices of shape (N,) for (N, C) logits: the multi-class API
    with pytest.raises(ValueError, match=r"looks like class indices.*logitkit\.multiclass"):
        lk.binary_cross_entropy_with_logits(np.zeros((4, 3)), np.array([0, 2, 1, 1]))
    with pytest.raises(ValueError, match=r"logitkit\.multiclass"):
        lk.binary_cross_entropy_with_logits_with_grad(np.zeros((4, 3)), np.array([0, 2, 1, 1]))


def test_shape_errors():
    with pytest.raises(
        ValueError,
        match=r"integer class labels must have the shape of logits "
        r"without the class axis, \(4,\); got \(3,\)",
    ):
        lk.cross_entropy(X3, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"without the class axis, \(3,\); got \(4,\)"):
        lk.cross_entropy(X3, np.array([0, 1, 2, 0]), axis=0)
    with pytest.raises(
        ValueError,
        match=r"probability targets must have the shape of logits "
        r"\(4, 3\); got \(4, 2\)",
    ):
        lk.cross_entropy(X3, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match=r"without the class axis"):
        lk.nll_loss(X3, np.zeros((4, 3), np.int64))
    with pytest.raises(
        ValueError, match=r"target: expected the shape of logits \(4, 3\), got \(4, 2\)"
    ):
        lk.binary_cross_entropy_with_logits(X3, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"target: expected the shape of logits"):
        lk.sigmoid_focal_loss(X3, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"sample_weight: shape \(3,\) does not broadcast"):
        lk.cross_entropy(X3, np.array([0, 1, 2, 0]), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"pos_weight: shape \(4,\) does not broadcast"):
        lk.binary_cross_entropy_with_logits(X3, np.zeros((4, 3)), pos_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"weight: shape \(2,\) does not broadcast"):
        lk.binary_cross_entropy_with_logits(X3, np.zeros((4, 3)), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"need at least one dimension"):
        lk.cross_entropy(np.float64(1.0), np.int64(0))
    with pytest.raises(
        TypeError,
        match=r"target: expected integer class labels or float "
        r"probabilities, got dtype bool",
    ):
        lk.cross_entropy(X3, np.zeros(4, bool))
    with pytest.raises(TypeError, match=r"nll_loss takes integer class labels"):
        lk.nll_loss(X3, np.zeros((4, 3)))


def test_weight_of_wrong_length():
    with pytest.raises(
        ValueError,
        match=r"weight: expected one weight per class, shape \(3,\), "
        r"got shape \(4,\)",
    ):
        lk.cross_entropy(X3, np.array([0, 1, 2, 0]), weight=np.ones(4))
    with pytest.raises(ValueError, match=r"shape \(3,\), got shape \(2,\)"):
        lk.cross_entropy_with_grad(X3, np.full((4, 3), 1 / 3), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"shape \(3,\), got shape \(1, 3\)"):
        lk.nll_loss(X3, np.array([0, 1, 2, 0]), weight=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"shape \(4,\), got shape \(3,\)"):
        lk.cross_entropy(X3, np.array([0, 1, 2]), axis=0, weight=np.ones(3))


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), float("inf")])
def test_label_smoothing_outside_unit_interval(eps):
    t = np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"label_smoothing: must be in \[0, 1\]"):
        lk.cross_entropy(X3, t, label_smoothing=eps)
    with pytest.raises(ValueError, match=r"label_smoothing: must be in \[0, 1\]"):
        lk.nll_loss(X3, t, label_smoothing=eps)
    with pytest.raises(ValueError, match=r"label_smoothing: must be in \[0, 1\]"):
        lk.binary_cross_entropy_with_logits(X3, np.zeros((4, 3)), label_smoothing=eps)
    with pytest.raises(ValueError, match=r"label_smoothing: must be in \[0, 1\]"):
        lk.cross_entropy_with_grad(X3, t, label_smoothing=eps)


def test_label_smoothing_not_a_number():
    with pytest.raises(TypeError, match=r"label_smoothing: expected a number"):
        lk.cross_entropy(X3, np.array([0, 1, 2, 0]), label_smoothing="a lot")


@pytest.mark.parametrize("reduction", ["avg", "Mean", None, "batchmean"])
def test_unknown_reduction(reduction):
    t = np.array([0, 1, 2, 0])
    msg = r"reduction: expected one of 'mean', 'sum', 'none', got "
    for call in (
        lambda: lk.cross_entropy(X3, t, reduction=reduction),
        lambda: lk.cross_entropy_with_grad(X3, t, reduction=reduction),
        lambda: lk.nll_loss(X3, t, reduction=reduction),
        lambda: lk.binary_cross_entropy_with_logits(X3, X3, reduction=reduction),
        lambda: lk.binary_cross_entropy_with_logits_with_grad(X3, X3, reduction=reduction),
        lambda: lk.sigmoid_focal_loss(X3, X3, reduction=reduction),
        lambda: lk.sigmoid_focal_loss_with_grad(X3, X3, reduction=reduction),
    ):
        with pytest.raises(ValueError, match=msg + repr(reduction).replace("(", r"\(")):
            call()


def test_validate_false_skips_target_checks(isa):
    """validate=False skips the label and probability checks (labels must still be in range:
    out-of-range labels are undefined behaviour then, so only in-range labels are used here)."""
    rng = np.random.default_rng(8)
    x = rng.normal(0, 2, (4, 3))
    t = np.array([0, 1, 2, 1])
    np.testing.assert_array_equal(
        lk.cross_entropy(x, t, validate=False, reduction="none"),
        lk.cross_entropy(x, t, reduction="none"),
    )
    # soft rows not summing to 1 are accepted and follow the formula
    y = np.array([[0.5, 0.1, 0.0], [1.0, 1.0, 0.0], [0.2, 0.2, 0.2], [0.0, 0.0, 3.0]])
    with pytest.raises(ValueError, match=r"sums to"):
        lk.cross_entropy(x, y)
    with np.errstate(all="raise"):
        loss = lk.cross_entropy(x, y, validate=False, reduction="none")
        _, g = lk.cross_entropy_with_grad(x, y, validate=False, reduction="none")
    check_items(
        "cross_entropy validate=False", loss, O.cross_entropy(x, y, reduction="none"), F64, isa
    )
    check_grad(
        "cross_entropy validate=False grad",
        g,
        O.cross_entropy_grad(x, y, reduction="none"),
        F64,
        isa,
    )
    # BCE targets outside [0, 1] likewise are accepted (the value is not specified there)
    yb = np.array([[1.5, -0.5, 0.5]] * 4)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        lk.binary_cross_entropy_with_logits(x, yb)
    with np.errstate(all="raise"):
        loss = lk.binary_cross_entropy_with_logits(x, yb, validate=False, reduction="none")
    assert loss.shape == x.shape and np.all(np.isfinite(loss))


def test_small_call_path_errors():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"label 4 at position \(1,\) is outside \[0, 4\)"):
        lk.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"label -1 at position \(2,\) is outside"):
        lk.cross_entropy_with_grad(x, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match="reduction"):
        lk.cross_entropy(x, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        lk.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=1.5)
    ro = np.zeros_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out: array is read-only"):
        lk.cross_entropy_with_grad(x, np.array([0, 1, 2]), out=ro)
    with pytest.raises(ValueError, match="shape"):
        lk.cross_entropy_with_grad(x, np.array([0, 1, 2]), out=np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="shape"):
        lk.cross_entropy(x, np.array([0, 1]))
