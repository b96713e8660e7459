"""Loss gradients and grad_hess's Hessians against central finite differences of the losses
themselves (independent of the oracle), every option, every SIMD target; ignored items have a zero
gradient and Hessian. Shared checks and test data: tests/loss_cases.py."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import pytest
from loss_cases import (
    CE_KINDS,
    F64,
    LAYOUTS,
    REDUCTIONS,
    _seed,
    assert_fd_close,
    bce_case,
    fd_grad,
    focal_case,
    make_hard,
    make_soft,
)


@pytest.mark.parametrize("sample_weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("layout", ["last", "nchw"])
def test_cross_entropy_grad_finite_differences(isa, layout, kind, weighted, eps, sample_weighted):
    shape = {"last": (3, 5), "nchw": (2, 4, 2, 1)}[layout]
    axis = LAYOUTS[layout][1]
    rng = np.random.default_rng(_seed("fd", layout, kind, weighted, eps, sample_weighted))
    x = rng.normal(0.0, 2.0, shape)
    target = (
        make_soft(x, axis, rng, F64)
        if kind == "soft"
        else make_hard(x, axis, rng, ignore=kind == "hard-ignore")
    )
    items = np.moveaxis(x, axis, -1).shape[:-1]
    kw = {"axis": axis, "label_smoothing": eps}
    if weighted:
        kw["weight"] = rng.uniform(0.25, 2.0, shape[axis])
    if sample_weighted:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, items)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            _, grad = lk.cross_entropy_with_grad(x, target, reduction=reduction, **kw)
            fd = fd_grad(lambda z: lk.cross_entropy(z, target, reduction=reduction, **kw), x)  # noqa: B023 (called at once)
        assert_fd_close(grad, fd, f"cross_entropy {kind} {reduction}")


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("pos_weighted", [False, True], ids=["", "pos_weight"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
def test_bce_grad_finite_differences(isa, weighted, pos_weighted, eps):
    x, y, kw = bce_case(
        "2d",
        F64,
        "full" if weighted else None,
        pos_weighted,
        eps,
        _seed("bce-fd", weighted, pos_weighted, eps),
    )
    x = np.clip(x[:2], -30, 30)  # where the loss still has curvature to difference
    y = y[:2]
    if weighted:
        kw["weight"] = kw["weight"][:2]
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            _, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction, **kw)
            fd = fd_grad(
                lambda z, r=reduction: lk.binary_cross_entropy_with_logits(z, y, reduction=r, **kw),
                x,
            )
        assert_fd_close(grad, fd, f"bce {reduction}")


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [0.25, -1.0])
def test_focal_grad_finite_differences(isa, alpha, gamma):
    x, y = focal_case(F64, True, _seed("focal-fd", alpha, gamma))
    x, y = x[:2], y[:2]
    y[0, :4] = [0, 1, 0, 1]
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            _, grad = lk.sigmoid_focal_loss_with_grad(
                x, y, alpha=alpha, gamma=gamma, reduction=reduction
            )
            fd = fd_grad(
                lambda z, r=reduction: lk.sigmoid_focal_loss(
                    z, y, alpha=alpha, gamma=gamma, reduction=r
                ),
                x,
            )
        assert_fd_close(grad, fd, f"focal {reduction}")


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("kind", CE_KINDS)
def test_grad_hess_multiclass_finite_differences(isa, kind, eps):
    """grad is d/dx of Σ_i sw_i·ℓ_i; hess is the diagonal of d grad / dx."""
    rng = np.random.default_rng(_seed("gh-fd", kind, eps))
    x = rng.normal(0, 2, (4, 5))
    target = (
        make_soft(x, -1, rng, F64)
        if kind == "soft"
        else make_hard(x, -1, rng, ignore=kind == "hard-ignore")
    )
    kw = {
        "weight": rng.uniform(0.5, 2, 5),
        "label_smoothing": eps,
        "sample_weight": rng.uniform(0, 2, 4),
    }
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, target, family="multiclass", **kw)
        fd = fd_grad(lambda z: lk.cross_entropy(z, target, reduction="sum", **kw), x)
        assert_fd_close(g, fd, "grad_hess multiclass grad")
        fdh = np.empty_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = 1e-5
            gp = lk.grad_hess(x + e, target, family="multiclass", **kw)[0]
            gm = lk.grad_hess(x - e, target, family="multiclass", **kw)[0]
            fdh[i] = (gp[i] - gm[i]) / 2e-5
    assert_fd_close(h, fdh, "grad_hess multiclass hess")


def test_grad_hess_binary_finite_differences(isa):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, (3, 4))
    y = rng.random((3, 4))
    kw = {
        "weight": rng.uniform(0.5, 2, (3, 4)),
        "pos_weight": rng.uniform(0.5, 3, 4),
        "label_smoothing": 0.05,
    }
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, y, family="binary", **kw)
        fd = fd_grad(lambda z: lk.binary_cross_entropy_with_logits(z, y, reduction="sum", **kw), x)
        assert_fd_close(g, fd, "grad_hess binary grad")
        fdh = fd_grad(lambda z: np.sum(lk.grad_hess(z, y, family="binary", **kw)[0]), x)
    # d grad_j / d x_i = 0 for i != j: the sum's derivative is the diagonal
    assert_fd_close(h, fdh, "grad_hess binary hess")


def test_grad_hess_ignored_items_are_zero(isa):
    """An ignored item's loss is the constant 0: its gradient and Hessian are 0, with label
    smoothing too (the smoothing term belongs to the item, and the item is ignored)."""
    x = np.random.default_rng(12).normal(0, 2, (3, 4))
    t = np.array([0, -100, 2])
    for eps in (0.0, 0.1):
        for w in (None, np.array([0.5, 1.0, 1.5, 2.0])):
            with np.errstate(all="raise"):
                g, h = lk.grad_hess(x, t, family="multiclass", label_smoothing=eps, weight=w)
            assert np.all(g[1] == 0), g[1]
            assert np.all(h[1] == 0), (eps, w, h[1])
