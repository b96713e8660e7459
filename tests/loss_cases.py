"""Shared pieces of the loss tests (test_loss_*.py): the checks against the oracle, with the
bounds of docs/numerics.md ("The bounds"), finite differences, and the test data.

Tolerances: tests/budgets.py's assert_within_budget, with the README's budgets (per-item losses
in ulps, mean and sum relative, gradients and grad_hess's Hessians in ulps or absolute). The
absolute gradient bound is read as the bound for a gradient of unit scale (p - y, σ - y); where
class weights, sample weights, pos_weight or a 'sum' scale the gradient up by s > 1 it is s times
larger (oracle.grad_errors; never tighter than the documented bound). Every check records its error
for the end-of-run report (conftest.py), which also lists the gradient errors against the
unscaled bound.
"""

from __future__ import annotations

import zlib

import numpy as np
import oracle as O
import pytest
import registry
from budgets import assert_within_budget

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F32, F64]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
REDUCTIONS = ("none", "sum", "mean")


# ----------------------------------------------------------------------------- checks


def _check_shape(name, got, exact, dtype):
    got = np.asarray(got)
    assert got.dtype == dtype, f"{name}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == np.shape(exact), f"{name}: shape {got.shape}, expected {np.shape(exact)}"


def check_items(name, got, exact, dtype, isa):
    """Per-item losses: ulps of the output dtype (docs/numerics.md, "The bounds"; every per-item
    loss has the bound of the cross_entropy row)."""
    _check_shape(name, got, exact, dtype)
    assert_within_budget(got, exact, budget="cross_entropy", what=name, isa=isa)


def check_reduced(name, got, exact, dtype, isa):
    """Mean / sum: relative error (docs/numerics.md, "The bounds")."""
    got = np.asarray(got)
    assert got.dtype == dtype and got.shape == (), f"{name}: {got.dtype} {got.shape}"
    assert_within_budget(got, exact, budget="reduced", what=name, isa=isa)


def check_loss(name, got, exact, dtype, isa, reduction):
    if reduction == "none":
        check_items(name, got, exact, dtype, isa)
    else:
        check_reduced(name, got, exact, dtype, isa)


def check_grad(name, got, exact, dtype, isa, scale=None):
    """Gradients (and Hessians): within 8/16 ulp or 2^-24/2^-53 absolute, the absolute bound times
    max(1, scale) where weights scale the gradient up (oracle.grad_errors)."""
    _check_shape(name, got, exact, dtype)
    if scale is not None:  # for the record: against the plain (unscaled) bound
        plain = O.grad_errors(got, exact, dtype)
        registry.record(
            name, dtype, isa, float(plain.max()) if plain.size else 0, "(/unscaled bound)"
        )
    assert_within_budget(got, exact, budget="gradient", scale=scale, what=name, isa=isa)


def fd_grad(f, x, rel_step=1e-5):
    """Central finite differences of sum(f(x)) (float64)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        h = rel_step * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (np.sum(f(xp)) - np.sum(f(xm))) / (xp[i] - xm[i])
    return g


def assert_fd_close(got, fd, what):
    # not an oracle comparison: central differences carry truncation and rounding errors of about
    # 1e-7 relative, far above the gradient budget (the oracle checks use check_grad)
    scale = max(1.0, float(np.max(np.abs(fd)))) if fd.size else 1.0
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7 * scale, err_msg=what)


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


# ----------------------------------------------------------------------------- test data

# name -> (shape of the logits, class axis): C = 19 covers a full SIMD vector and a tail for every
# ISA (AVX-512: 16 float32 / 8 float64 lanes); axis 1 is the (N, C, H, W) layout; axis 0 the first.
LAYOUTS = {"last": ((6, 19), -1), "nchw": ((2, 5, 3, 2), 1), "first": ((11, 4), 0)}
CE_KINDS = ["hard", "hard-ignore", "soft"]


def _first_item(ndim):
    return (0,) * ndim


def make_logits(shape, axis, dtype, rng, scale=3.0):
    """N(0, scale²) logits; the first item's row is stretched to a spread of ~100 (a confident row,
    whose argmax has a tiny loss)."""
    x = rng.normal(0.0, scale, shape)
    xm = np.moveaxis(x, axis, -1)
    xm[_first_item(xm.ndim - 1)] *= 15.0
    return x.astype(dtype)


def make_hard(x, axis, rng, ignore=False):
    xm = np.moveaxis(x, axis, -1)
    items, C = xm.shape[:-1], xm.shape[-1]
    t = rng.integers(0, C, items)
    first = _first_item(len(items))
    t[first] = int(np.argmax(xm[first]))  # the confident row at its argmax: loss ~1e-20
    if ignore:
        mask = rng.random(items) < 0.35
        mask[first] = False
        mask.flat[-1] = True
        t[mask] = -100
    return t


def make_soft(x, axis, rng, dtype):
    xm = np.moveaxis(x, axis, -1)
    items, C = xm.shape[:-1], xm.shape[-1]
    y = rng.dirichlet(np.full(C, 0.5), size=items)
    y[rng.random(y.shape) < 0.3] = 0.0  # exact zeros (0·log p = 0)
    y[..., 0] += y.sum(-1) == 0
    first = _first_item(len(items))
    y[first] = 0.0
    y[first + (int(np.argmax(xm[first])),)] = 1.0  # confident and right: a tiny loss
    y /= y.sum(-1, keepdims=True)
    return np.moveaxis(y.astype(dtype), -1, axis)


def ce_case(layout, kind, dtype, weighted, eps, sample_weighted, seed):
    shape, axis = LAYOUTS[layout]
    rng = np.random.default_rng(seed)
    x = make_logits(shape, axis, dtype, rng)
    C = shape[axis]
    items = np.moveaxis(x, axis, -1).shape[:-1]
    if kind == "soft":
        target = make_soft(x, axis, rng, dtype)
    else:
        target = make_hard(x, axis, rng, ignore=kind == "hard-ignore")
    kw = {"axis": axis, "label_smoothing": eps}
    if weighted:
        kw["weight"] = rng.uniform(0.25, 2.0, C).astype(dtype)
    if sample_weighted:
        sw = rng.uniform(0.0, 2.0, items).astype(dtype)
        sw.flat[1] = 0.0
        kw["sample_weight"] = sw
    return x, target, kw


BCE_SHAPES = {"1d": (37,), "2d": (5, 19), "3d": (2, 3, 17)}


def bce_case(shape_name, dtype, weight_kind, pos_weighted, eps, seed):
    shape = BCE_SHAPES[shape_name]
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 4, shape)
    flat = x.reshape(-1)
    flat[::7] *= 10  # some confident elements (|x| up to ~100)
    x = x.astype(dtype)
    y = rng.random(shape)
    y[rng.random(shape) < 0.6] = 0.0
    y[rng.random(shape) < 0.3] = 1.0
    y = y.astype(dtype)
    kw = {"label_smoothing": eps}
    C = shape[-1]
    if weight_kind == "class":
        kw["weight"] = rng.uniform(0.25, 2.0, C).astype(dtype)
    elif weight_kind == "full":
        kw["weight"] = rng.uniform(0.0, 2.0, shape).astype(dtype)
    if pos_weighted:
        kw["pos_weight"] = rng.uniform(0.1, 4.0, C).astype(dtype)
    return x, y, kw


def focal_case(dtype, soft, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (6, 11))
    y = rng.random(x.shape) if soft else (rng.random(x.shape) < 0.3).astype(float)
    return x.astype(dtype), y.astype(dtype)
