"""Same numbers as torch.nn.functional for the same inputs and options: cross_entropy (hard and
soft targets, class weights, ignore_index, label smoothing, every reduction) and
binary_cross_entropy_with_logits (element and class weights, pos_weight, every reduction), values and
gradients (PyTorch's autograd), a few hundred random combinations in float64.

PyTorch is an optional test dependency: without it these tests are skipped, with that reason.
"""

from __future__ import annotations

import importlib.util
import zlib

import logitkit as lk
import numpy as np
import pytest

HAVE_TORCH = importlib.util.find_spec("torch") is not None
pytestmark = pytest.mark.skipif(
    not HAVE_TORCH, reason="PyTorch is not installed (optional test dependency)"
)

REDUCTIONS = ["none", "mean", "sum"]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _ce_case(i):
    rng = _rng("ce", i)
    n, c = int(rng.integers(1, 8)), int(rng.integers(2, 10))
    x = rng.standard_normal((n, c)) * float(rng.choice([0.5, 3.0, 20.0]))
    soft = bool(rng.random() < 0.35)
    if soft:
        target = rng.dirichlet(np.ones(c), n)
        ignore_index = -100
    else:
        target = rng.integers(0, c, n)
        ignore_index = int(target[0]) if rng.random() < 0.3 else -100
    weight = rng.random(c) * 2 + 0.1 if rng.random() < 0.5 else None
    smoothing = float(rng.choice([0.0, 0.0, 0.1, 0.5, 1.0]))
    reduction = REDUCTIONS[int(rng.integers(0, 3))]
    return (
        x,
        target,
        {
            "weight": weight,
            "ignore_index": ignore_index,
            "label_smoothing": smoothing,
            "reduction": reduction,
        },
    )


def _bce_case(i):
    rng = _rng("bce", i)
    n, c = int(rng.integers(1, 8)), int(rng.integers(1, 10))
    x = rng.standard_normal((n, c)) * float(rng.choice([0.5, 3.0, 40.0]))
    target = (rng.random((n, c)) < 0.4).astype(np.float64)
    if rng.random() < 0.3:
        target = rng.random((n, c))  # probabilities
    shapes = [None, (c,), (n, c), (n, 1)]
    wshape = shapes[int(rng.integers(0, 4))]
    weight = None if wshape is None else rng.random(wshape) * 2 + 0.1
    pos_weight = rng.random(c) * 4 + 0.1 if rng.random() < 0.5 else None
    reduction = REDUCTIONS[int(rng.integers(0, 3))]
    return x, target, {"weight": weight, "pos_weight": pos_weight, "reduction": reduction}


def _t(a, torch):
    return None if a is None else torch.tensor(np.asarray(a))


def _close(ours, theirs, what):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-14, equal_nan=True), (what, ours, theirs)


@pytest.mark.parametrize("i", range(200))
def test_cross_entropy_matches_pytorch(i):
    import torch
    import torch.nn.functional as F

    x, target, kw = _ce_case(i)
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(target)
    ref = F.cross_entropy(
        xt, tt, weight=_t(kw["weight"], torch), **{k: v for k, v in kw.items() if k != "weight"}
    )
    loss, grad = lk.cross_entropy_with_grad(x, target, **kw)
    _close(lk.cross_entropy(x, target, **kw), ref.detach().numpy(), ("value", kw))
    _close(loss, ref.detach().numpy(), ("value with grad", kw))
    ref.backward(torch.ones_like(ref))
    _close(grad, xt.grad.numpy(), ("gradient", kw))


@pytest.mark.parametrize("i", range(150))
def test_binary_cross_entropy_with_logits_matches_pytorch(i):
    import torch
    import torch.nn.functional as F

    x, target, kw = _bce_case(i)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(
        xt,
        torch.tensor(target),
        weight=_t(kw["weight"], torch),
        pos_weight=_t(kw["pos_weight"], torch),
        reduction=kw["reduction"],
    )
    loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, target, **kw)
    _close(
        lk.binary_cross_entropy_with_logits(x, target, **kw), ref.detach().numpy(), ("value", kw)
    )
    _close(loss, ref.detach().numpy(), ("value with grad", kw))
    ref.backward(torch.ones_like(ref))
    _close(grad, xt.grad.numpy(), ("gradient", kw))
