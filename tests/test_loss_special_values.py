"""Loss special values (docs/numerics.md, "Special values"; docs/semantics.md, "Cross-entropy",
for 0·log 0 = 0): ±inf and huge logits, -inf at the label, zero targets at -inf, ignored items
with NaN / inf logits, all-ignored means, underflowing results without a floating-point warning.
Every library call runs under np.errstate(all="raise"). Shared checks: tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from loss_cases import (
    F32,
    F64,
    REDUCTIONS,
    check_grad,
    check_items,
    check_loss,
    check_reduced,
    dtypes,
)


@dtypes
def test_bce_one_pass_nan_and_signed_zero(isa, dtype):
    """A NaN logit makes the sum NaN without a target error; -0.0 is a valid target; a target
    outside [0, 1] in any block is reported with its position."""
    x = np.array([[np.nan, 1.0, -2.0]], dtype)
    y = np.array([[0.0, -0.0, 1.0]], dtype)
    assert np.isnan(lk.binary_cross_entropy_with_logits(x, y))
    loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x[:, 1:], y[:, 1:], reduction="sum")
    exact = O.bce_with_logits(x[:, 1:], y[:, 1:], reduction="sum")
    check_loss("bce_with_logits -0.0 target", loss, exact, dtype, isa, "sum")
    eg, scale = O.bce_with_logits_grad(x[:, 1:], y[:, 1:], reduction="sum", with_scale=True)
    check_grad("bce_with_logits -0.0 target grad", grad, eg, dtype, isa, scale)
    big = np.zeros((200, 100), dtype)
    yb = np.zeros_like(big)
    yb[170, 3] = 1.5
    with pytest.raises(ValueError, match=r"in \[0, 1\]; 1\.5 at position \(170, 3\)"):
        lk.binary_cross_entropy_with_logits_with_grad(big, yb)
    # in place with a bad target: the error leaves the logits intact; validate=False gives the
    # same values as out of place (the general path's)
    xi = np.arange(1.0, 5.0, dtype=dtype).reshape(2, 2)
    for bad in (2.0, np.nan):
        yi = np.array([[0.0, bad], [1.0, 0.0]], dtype)
        x0 = xi.copy()
        with pytest.raises(ValueError, match="target"):
            lk.binary_cross_entropy_with_logits_with_grad(x0, yi, out=x0)
        np.testing.assert_array_equal(x0, xi)
        ref_loss, ref_grad = lk.binary_cross_entropy_with_logits_with_grad(xi, yi, validate=False)
        x0 = xi.copy()
        loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x0, yi, validate=False, out=x0)
        np.testing.assert_array_equal(grad, ref_grad)
        np.testing.assert_array_equal(loss, ref_loss)
        # no oracle comparison: a target outside [0, 1] has no defined loss; the in-place values
        # of valid targets are held to the oracle in test_loss_layouts.py


@dtypes
def test_focal_underflowing_loss_raises_no_warning(isa, dtype):
    """Where the exact focal loss is below the smallest subnormal the result is 0 (within 2
    subnormals, docs/numerics.md "The bounds"), without an underflow warning."""
    v = {F32: 40.0, F64: 400.0}[dtype]
    x = np.array([v, -v], dtype)
    y = np.array([1.0, 0.0], dtype)
    with np.errstate(all="raise"):
        loss = lk.sigmoid_focal_loss(x, y)
        _, grad = lk.sigmoid_focal_loss_with_grad(x, y)
    check_items("sigmoid_focal_loss underflow", loss, O.sigmoid_focal_loss(x, y), dtype, isa)
    check_grad(
        "sigmoid_focal_loss underflow grad", grad, O.sigmoid_focal_loss_grad(x, y), dtype, isa
    )


@dtypes
def test_grad_hess_multiclass_confident_rows_raise_no_warning(isa, dtype):
    """Hessians of tiny probabilities underflow to (sub)normal values without a floating-point
    warning (docs/numerics.md, "Special values": np.errstate(all="raise") must pass for any
    input)."""
    far = {F32: -87.0, F64: -708.0}[dtype]  # p = e^far just above the smallest normal
    x = np.array([[0.0, far, far - 1, -800.0], [50.0, -50.0, 0.0, far + 2]], dtype)
    t = np.array([0, 0])
    w = np.array([0.3, 0.25, 1.0, 1.0], dtype)  # hess = 0.3·p·(1-p): subnormal, inexact
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass", weight=w)
    eg, eh = O.grad_hess(x, t, family="multiclass", weight=w)
    check_grad("grad_hess multiclass grad (confident)", g, eg, dtype, isa)
    check_grad("grad_hess multiclass hess (confident)", h, eh, dtype, isa)


@dtypes
def test_cross_entropy_extreme_logits(isa, dtype):
    inf = np.inf
    x = np.array(
        [
            [0.0, -inf, 1.0, 2.0],  # -inf off the label: finite
            [1e4, -1e4, 0.0, 3.0],
            [-1e4, 1e4, 1e4, 0.0],
            [1e20, -1e20, 0.0, 1.0],
            [-1e20, 1e20, -inf, 5.0],
            [-1e20, -1e20, -1e20, -1e20],
            [1e20, 1e20 * (1 + 2 * np.finfo(dtype).eps), 0.0, -1e20],
        ],
        dtype,
    )
    t = np.array([2, 1, 2, 1, 1, 3, 0])
    for eps in (0.0, 0.1):
        for w in (None, np.array([0.5, 1.0, 2.0, 0.0], dtype)):
            kw = {"label_smoothing": eps, "weight": w}
            for reduction in REDUCTIONS:
                with np.errstate(all="raise"):
                    loss = lk.cross_entropy(x, t, reduction=reduction, **kw)
                    loss2, grad = lk.cross_entropy_with_grad(x, t, reduction=reduction, **kw)
                exact = O.cross_entropy(x, t, reduction=reduction, **kw)
                assert not np.any(np.isnan(loss))
                assert np.all(np.isfinite(grad)), grad
                check_loss("cross_entropy extreme", loss, exact, dtype, isa, reduction)
                check_loss("cross_entropy extreme", loss2, exact, dtype, isa, reduction)
                eg, scale = O.cross_entropy_grad(x, t, reduction=reduction, with_scale=True, **kw)
                check_grad("cross_entropy extreme grad", grad, eg, dtype, isa, scale)
    per = lk.cross_entropy(x, t, reduction="none")
    assert np.isfinite(per[0]) and per[0] > 0
    assert per[1] == np.asarray(2e4, dtype) and per[4] == 0
    assert per[3] == 2 * np.asarray(1e20, dtype)


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@dtypes
def test_cross_entropy_hard_label_at_neg_inf_logit(isa, dtype, eps):
    """-log p_t = +inf where x_t = -inf (torch gives inf too), not NaN; the gradient stays finite
    (p - onehot: p_t = 0)."""
    x = np.array([[-np.inf, 0.0, 1.0, 2.0], [1.0, 2.0, 3.0, -np.inf]], dtype)
    t = np.array([0, 3])
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss = lk.cross_entropy(x, t, label_smoothing=eps, reduction=reduction)
            loss2, grad = lk.cross_entropy_with_grad(x, t, label_smoothing=eps, reduction=reduction)
        assert np.all(loss == np.inf) and np.all(loss2 == np.inf), (loss, loss2)
        assert np.all(np.isfinite(grad))
        eg, scale = O.cross_entropy_grad(
            x, t, label_smoothing=eps, reduction=reduction, with_scale=True
        )
        check_grad("cross_entropy -inf at label grad", grad, eg, dtype, isa, scale)


@dtypes
def test_cross_entropy_soft_zero_target_at_neg_inf(isa, dtype):
    """0·log 0 = 0: a zero target probability at a -inf logit adds nothing, and the gradient is
    finite (p = 0 there). With smoothing the target there is ε/C > 0: the loss is +inf."""
    inf = np.inf
    x = np.array([[-inf, 1.0, 2.0, -inf], [0.0, -inf, 3.0, 1e4], [-1e20, -inf, 1e20, 0.0]], dtype)
    y = np.array([[0.0, 0.5, 0.5, 0.0], [0.25, 0.0, 0.75, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype)
    for w in (None, np.array([1.0, 2.0, 0.5, 0.0], dtype)):
        for reduction in REDUCTIONS:
            with np.errstate(all="raise"):
                loss = lk.cross_entropy(x, y, weight=w, reduction=reduction)
                loss2, grad = lk.cross_entropy_with_grad(x, y, weight=w, reduction=reduction)
            assert np.all(np.isfinite(loss)) and np.all(np.isfinite(loss2))
            assert np.all(np.isfinite(grad))
            exact = O.cross_entropy(x, y, weight=w, reduction=reduction)
            check_loss("cross_entropy soft extreme", loss, exact, dtype, isa, reduction)
            check_loss("cross_entropy soft extreme", loss2, exact, dtype, isa, reduction)
            eg, scale = O.cross_entropy_grad(x, y, weight=w, reduction=reduction, with_scale=True)
            check_grad("cross_entropy soft extreme grad", grad, eg, dtype, isa, scale)
    with np.errstate(all="raise"):
        sm = lk.cross_entropy(x[:1], y[:1], label_smoothing=0.1, reduction="none")
        _, g = lk.cross_entropy_with_grad(x[:1], y[:1], label_smoothing=0.1)
    assert sm[0] == np.inf and np.all(np.isfinite(g))


@dtypes
def test_cross_entropy_ignored_rows_never_leak(isa, dtype):
    """An ignored item contributes 0 whatever its logits (NaN, ±inf) and has a zero gradient."""
    x = np.array([[np.nan, 0, 1], [np.inf, 0, 1], [-np.inf, -np.inf, -np.inf], [1, 2, 3]], dtype)
    t = np.array([-100, -100, -100, 2])
    for eps in (0.0, 0.2):
        with np.errstate(all="raise"):
            loss = lk.cross_entropy(x, t, label_smoothing=eps)
            loss_g, grad = lk.cross_entropy_with_grad(x, t, label_smoothing=eps)
        exact = O.cross_entropy(x, t, label_smoothing=eps)
        check_reduced("cross_entropy ignored rows", loss, exact, dtype, isa)
        check_reduced("cross_entropy ignored rows", loss_g, exact, dtype, isa)
        assert np.all(grad[:3] == 0) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("pos_weighted", [False, True], ids=["", "pos_weight"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@dtypes
def test_bce_extreme_logits(isa, dtype, eps, pos_weighted):
    vals = [np.inf, -np.inf, 1e4, -1e4, 1e20, -1e20, 0.0, 3.0, -3.0, 80.0, -80.0]
    x = np.repeat(np.array(vals, dtype)[:, None], 3, axis=1)
    y = np.broadcast_to(np.array([0.0, 1.0, 0.25], dtype), x.shape)
    kw = {"label_smoothing": eps}
    if pos_weighted:
        kw["pos_weight"] = np.array([2.0, 0.5, 3.0], dtype)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **kw)
            loss2, grad = lk.binary_cross_entropy_with_logits_with_grad(
                x, y, reduction=reduction, **kw
            )
        assert not np.any(np.isnan(loss)) and not np.any(np.isnan(loss2))
        assert np.all(np.isfinite(grad)), grad
        exact = O.bce_with_logits(x, y, reduction=reduction, **kw)
        check_loss("bce_with_logits extreme", loss, exact, dtype, isa, reduction)
        check_loss("bce_with_logits extreme", loss2, exact, dtype, isa, reduction)
        eg, scale = O.bce_with_logits_grad(x, y, reduction=reduction, with_scale=True, **kw)
        check_grad("bce_with_logits extreme grad", grad, eg, dtype, isa, scale)
    if eps == 0:
        per = lk.binary_cross_entropy_with_logits(x, y, reduction="none", **kw)
        assert per[0, 1] == 0  # x = +inf, y = 1
        assert per[1, 0] == 0  # x = -inf, y = 0
        assert per[0, 0] == np.inf  # x = +inf, y = 0
        assert per[1, 1] == np.inf  # x = -inf, y = 1
        assert per[0, 2] == np.inf and per[1, 2] == np.inf


@dtypes
def test_bce_extreme_grad_hess(isa, dtype):
    x = np.array([np.inf, -np.inf, 1e20, -1e20, 1e4, -1e4, 0.0], dtype)
    for yv in (0.0, 1.0, 0.3):
        y = np.full_like(x, yv)
        with np.errstate(all="raise"):
            g, h = lk.grad_hess(x, y, family="binary", pos_weight=np.asarray(2.0, dtype))
        eg, eh, scale = O.grad_hess(x, y, family="binary", pos_weight=2.0, with_scale=True)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(h))
        check_grad("grad_hess binary extreme grad", g, eg, dtype, isa, scale)
        check_grad("grad_hess binary extreme hess", h, eh, dtype, isa, scale)


@dtypes
def test_grad_hess_multiclass_extreme(isa, dtype):
    x = np.array([[0.0, -np.inf, 1.0], [1e20, -1e20, 0.0], [1e4, 1e4, -1e4]], dtype)
    t = np.array([2, 0, 1])
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass")
    eg, eh = O.grad_hess(x, t, family="multiclass")
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(h))
    check_grad("grad_hess multiclass extreme grad", g, eg, dtype, isa)
    check_grad("grad_hess multiclass extreme hess", h, eh, dtype, isa)


@dtypes
def test_nll_loss_extreme_log_probs(dtype):
    """-inf log-probabilities off the label are harmless; at an ignored item too."""
    lp = np.array([[-np.inf, 0.0, -np.inf], [-np.inf, -0.5, -0.9], [-1e20, 0.0, -1e20]], dtype)
    t = np.array([1, -100, 1])
    w = np.array([0.0, 1.0, 2.0], dtype)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss = lk.nll_loss(lp, t, reduction=reduction)
        check_loss(
            "nll_loss extreme",
            loss,
            O.nll_loss(lp, t, reduction=reduction),
            dtype,
            "numpy",
            reduction,
        )
    # weight 0 at the -inf classes: smoothing adds 0·(-inf) = 0 there
    with np.errstate(all="raise"):
        loss = lk.nll_loss(lp[:1], t[:1], weight=w, label_smoothing=0.1, reduction="none")
    check_items(
        "nll_loss extreme",
        loss,
        O.nll_loss(lp[:1], t[:1], weight=w, label_smoothing=0.1, reduction="none"),
        dtype,
        "numpy",
    )


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
def test_nll_loss_ignored_item_with_neg_inf_log_prob(eps):
    """An ignored item's log-probabilities never enter the arithmetic (no 0·inf warning)."""
    lp = np.array([[-np.inf, 0.0, -np.inf], [-0.1, -2.5, -3.0]])
    t = np.array([-100, 0])
    with np.errstate(all="raise"):
        loss = lk.nll_loss(lp, t, label_smoothing=eps, reduction="none")
    check_items(
        "nll_loss ignored -inf",
        loss,
        O.nll_loss(lp, t, label_smoothing=eps, reduction="none"),
        F64,
        "numpy",
    )


def test_nll_loss_tiny_float32_losses_raise_no_warning():
    """A float32 per-item loss below the smallest normal (a confident row, weighted) comes back
    without a floating-point warning."""
    lp = np.array([[-3e-39, -88.0], [-0.5, -0.9]], np.float32)
    t = np.array([0, 1])
    w = np.array([0.7, 1.3], np.float32)
    with np.errstate(all="raise"):
        loss = lk.nll_loss(lp, t, weight=w, reduction="none")
    check_items("nll_loss tiny", loss, O.nll_loss(lp, t, weight=w, reduction="none"), F32, "numpy")


def test_all_ignored_mean_is_nan_without_warning(isa):
    x = np.random.default_rng(1).normal(0, 1, (4, 3))
    t = np.full(4, -100)
    with np.errstate(all="raise"):
        assert np.isnan(lk.cross_entropy(x, t))
        assert np.isnan(lk.cross_entropy(x, t, weight=[1.0, 2.0, 3.0], label_smoothing=0.1))
        loss, g = lk.cross_entropy_with_grad(x, t, label_smoothing=0.1)
        assert np.isnan(loss) and np.all(g == 0)
        assert lk.cross_entropy(x, t, reduction="sum") == 0
        np.testing.assert_array_equal(lk.cross_entropy(x, t, reduction="none"), np.zeros(4))
        assert np.isnan(lk.nll_loss(lk.log_softmax(x), t))
        # masked by sample weights: hard and soft labels
        sw = np.zeros(4)
        assert np.isnan(lk.cross_entropy(x, np.array([0, 1, 2, 0]), sample_weight=sw))
        y = np.full((4, 3), 1 / 3)
        assert np.isnan(lk.cross_entropy(x, y, sample_weight=sw))
        loss, g = lk.cross_entropy_with_grad(x, y, sample_weight=sw)
        assert np.isnan(loss) and np.all(g == 0)
        # a zero class weight on every label
        assert np.isnan(lk.cross_entropy(x, np.zeros(4, int), weight=[0.0, 1.0, 1.0]))


@pytest.mark.parametrize("temperature", [1.0, 0.5])
@pytest.mark.parametrize("C", [2, 3, 9, 17])
def test_cross_entropy_label_logit_past_the_range_of_the_difference(isa, C, temperature):
    """float64 logits whose difference x_t - m overflows (1e308 - (-1e308)): the exact loss
    exceeds the largest double, so it is +inf, not NaN; the gradient is p - onehot (p_t = 0)."""
    x = np.zeros((1, C))
    x[0, 0], x[0, 1] = 1e308, -1e308
    t = np.array([1])
    with np.errstate(all="raise"):
        loss = lk.cross_entropy(x, t, reduction="none", temperature=temperature)
        loss2, grad = lk.cross_entropy_with_grad(x, t, reduction="none", temperature=temperature)
    assert loss[0] == np.inf and loss2[0] == np.inf, (loss, loss2)
    expected = np.zeros((1, C))
    expected[0, 0], expected[0, 1] = 1.0 / temperature, -1.0 / temperature
    np.testing.assert_array_equal(grad, expected)


@dtypes
def test_zero_weight_removes_an_item_whose_loss_is_infinite(isa, dtype):
    """A zero sample weight or class weight times an infinite loss is 0 (the item does not count),
    not NaN; the other items' losses and the NaN of a NaN item are unchanged."""
    x = np.array([[0.0, -np.inf], [1.0, 2.0], [np.nan, 0.0]], dtype)
    t = np.array([1, 0, 0])
    with np.errstate(all="raise"):
        for kw in ({"sample_weight": [0.0, 1.0, 0.0]}, {"weight": [1.0, 0.0]}):
            per = lk.cross_entropy(x, t, reduction="none", **kw)
            assert per[0] == 0 and np.isnan(per[2]), (kw, per)
            # the finite item against the oracle of that item alone
            kw1 = {k: v[1:2] if k == "sample_weight" else v for k, v in kw.items()}
            exact = O.cross_entropy(x[1:2], t[1:2], reduction="none", **kw1)
            check_items(f"cross_entropy zero-weighted neighbour {kw}", per[1:2], exact, dtype, isa)
            per2, _ = lk.cross_entropy_with_grad(x, t, reduction="none", **kw)
            assert per2[0] == 0 and np.isnan(per2[2]), (kw, per2)
        two = x[:2]
        s = lk.cross_entropy(two, t[:2], reduction="sum", sample_weight=[0.0, 2.0])
        exact = O.cross_entropy(x[1:2], t[1:2], reduction="sum", sample_weight=[2.0])
        check_reduced("cross_entropy zero-weighted infinite item, sum", s, exact, dtype, isa)
        lp = np.array([[0.0, -np.inf], [np.log(0.5), np.log(0.5)]], dtype)
        per = lk.nll_loss(lp, t[:2], reduction="none", sample_weight=[0.0, 1.0])
        assert per[0] == 0, per
        exact = O.nll_loss(lp[1:], t[1:2], reduction="none")
        check_items("nll_loss zero-weighted neighbour", per[1:2], exact, dtype, isa)
        # BCE: weight 0 on x = +inf, y = 0 (loss +inf); a NaN logit with weight 0 stays NaN
        xb = np.array([np.inf, 1.0, np.nan, -np.inf] * 5, dtype)
        yb = np.array([0.0, 1.0, 0.0, 1.0] * 5, dtype)
        wb = np.array([0.0, 1.0, 0.0, 0.0] * 5, dtype)
        for T in (1.0, 2.0):
            per = lk.binary_cross_entropy_with_logits(
                xb, yb, weight=wb, reduction="none", temperature=T
            )
            assert np.all(per[0::4] == 0) and np.all(per[3::4] == 0), per
            assert np.all(np.isnan(per[2::4])), per
            exact = O.bce_with_logits(
                xb[1::4], yb[1::4], weight=wb[1::4], reduction="none", temperature=T
            )
            check_items(
                f"bce_with_logits zero-weighted neighbour T={T}", per[1::4], exact, dtype, isa
            )
        s = lk.binary_cross_entropy_with_logits(
            xb[[0, 1]], yb[[0, 1]], weight=wb[[0, 1]], reduction="sum"
        )
        exact = O.bce_with_logits(xb[[1]], yb[[1]], weight=wb[[1]], reduction="sum")
        check_reduced("bce_with_logits zero-weighted infinite item, sum", s, exact, dtype, isa)
