"""Knowledge distillation: lk.distillation_loss[_with_grad] (kernels/distillation.hpp, fused KL
and cross-entropy per row) and lk.multilabel.distillation_loss[_with_grad] (binary KL and BCE),
against the float64 / long double oracle built from the KL and cross-entropy definitions, against
finite differences, and against PyTorch's composition where torch is installed (a visible skip
otherwise): every option with every other, the special values, the errors.
"""

from __future__ import annotations

import importlib.util

import logitkit as lk
import numpy as np
import oracle
import pytest
from budgets import assert_within_budget

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _batch(dtype, rows=6, C=9, seed=0, ignore=False):
    rng = np.random.default_rng(seed)
    s = (rng.standard_normal((rows, C)) * 3).astype(dtype)
    t = (rng.standard_normal((rows, C)) * 3).astype(dtype)
    y = rng.integers(0, C, rows)
    if ignore:
        y[::3] = -100
    return s, t, y


def _budget(reduction):
    return "distillation" if reduction == "none" else "reduced"


def _grad_scale(alpha, T):
    """The gradient's scale, as tests/registry.py's distillation entry: the KL term's
    alpha·T²·(q - p)/T is within 2·alpha·T absolute units, the cross-entropy's p - y within 1."""
    return 2.0 * (1.0 if alpha is None else alpha) * T + 1.0


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("T", [1.0, 4.0])
@pytest.mark.parametrize("ignore, eps", [(False, 0.0), (True, 0.1)])
def test_every_option_against_the_oracle(isa, dtype, reduction, alpha, T, ignore, eps):
    s, t, y = _batch(dtype, ignore=ignore)
    s0, t0 = s.copy(), t.copy()
    kw = {"temperature": T, "alpha": alpha, "label_smoothing": eps, "reduction": reduction}
    v, g = lk.distillation_loss_with_grad(s, t, y, **kw)
    assert np.array_equal(v, lk.distillation_loss(s, t, y, **kw))
    ev = oracle.distillation_loss(s, t, y, **kw)
    eg = oracle.distillation_loss_grad(s, t, y, **kw)
    assert g.dtype == dtype and np.asarray(v).dtype == dtype
    assert_within_budget(v, ev, budget=_budget(reduction), what="distillation loss")
    scale = _grad_scale(alpha, T)
    assert_within_budget(g, eg, budget="gradient", scale=scale, what="distillation grad")
    assert np.array_equal(s, s0) and np.array_equal(t, t0)  # inputs never written


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradient_against_finite_differences(reduction):
    s, t, y = _batch(F64, rows=4, C=5, seed=3, ignore=True)
    kw = {"temperature": 2.0, "alpha": 0.6, "label_smoothing": 0.05, "reduction": reduction}
    _, g = lk.distillation_loss_with_grad(s, t, y, **kw)
    fd = np.zeros_like(s)
    h = 1e-6
    for i in np.ndindex(s.shape):
        e = np.zeros_like(s)
        e[i] = h
        fd[i] = (
            np.sum(lk.distillation_loss(s + e, t, y, **kw))
            - np.sum(lk.distillation_loss(s - e, t, y, **kw))
        ) / (2 * h)
    # not an oracle comparison (those are above): a central difference's own error is ~1e-9
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_other_axis_layouts_and_dtypes():
    s, t, y = _batch(F64, rows=5, C=7, seed=4)
    kw = {"temperature": 3.0, "alpha": 0.4, "reduction": "none"}
    v, g = lk.distillation_loss_with_grad(s, t, y, **kw)
    vT, gT = lk.distillation_loss_with_grad(s.T, t.T, y, axis=0, **kw)
    assert np.array_equal(v, vT) and np.array_equal(g, gT.T)
    # the classes reversed (a different order of the row's sums): the oracle's values
    vs, gs = lk.distillation_loss_with_grad(s[:, ::-1], t[:, ::-1], 6 - y, **kw)
    assert_within_budget(vs, oracle.distillation_loss(s, t, y, **kw), budget="distillation")
    eg = oracle.distillation_loss_grad(s, t, y, **kw)
    scale = _grad_scale(0.4, 3.0)
    assert_within_budget(gs[:, ::-1], eg, budget="gradient", scale=scale, what="reversed")
    # float16 values computed in float32, integers in float64
    v16 = lk.distillation_loss(s.astype(np.float16), t.astype(np.float16), y, **kw)
    assert v16.dtype == np.float16
    ev = oracle.distillation_loss(s.astype(np.float16), t.astype(np.float16), y, **kw)
    assert_within_budget(v16, ev, budget="distillation", what="float16")
    vi = lk.distillation_loss(np.round(s).astype(np.int64), np.round(t).astype(np.int64), y, **kw)
    assert vi.dtype == np.float64


def test_without_a_target_it_is_the_scaled_kl():
    s, t, _ = _batch(F64, seed=5)
    for T in (1.0, 2.5):
        v, g = lk.distillation_loss_with_grad(s, t, temperature=T)
        kl = oracle.kl_divergence(t, s, temperature=T)  # batchmean
        gk = oracle.kl_divergence_grad(t, s, temperature=T)
        T2 = kl.dtype.type(T * T)
        assert_within_budget(v, T2 * kl, budget="reduced", what=f"T²·KL, T={T}")
        # (q - p)/T within 2 units of the absolute bound per 1/T (docs/numerics.md), times T²
        assert_within_budget(g, T2 * gk, budget="gradient", scale=2.0 * T, what=f"T={T}")


def test_special_values_stay_in_their_row():
    s, t, y = _batch(F64, rows=6, C=9, seed=6)
    clean = lk.distillation_loss_with_grad(s, t, y, temperature=2.0, alpha=0.5, reduction="none")
    for arr, val in ((t, np.nan), (s, np.inf), (t, np.inf), (s, np.nan)):
        a = arr.copy()
        a[2, 4] = val
        args = (s, a) if arr is t else (a, t)
        v, g = lk.distillation_loss_with_grad(
            *args, y, temperature=2.0, alpha=0.5, reduction="none"
        )
        assert np.isnan(v[2]) and np.all(np.isnan(g[2]))
        keep = np.arange(6) != 2
        assert np.array_equal(v[keep], clean[0][keep]) and np.array_equal(g[keep], clean[1][keep])
    # an ignored row keeps its KL term; a student with q = 0 where the teacher has mass: +inf
    y2 = y.copy()
    y2[1] = -100
    kw = {"temperature": 2.0, "alpha": 0.5, "reduction": "none"}
    v, _ = lk.distillation_loss_with_grad(s, t, y2, **kw)
    want = oracle.distillation_loss(s, t, y2, **kw)
    assert_within_budget(v, want, budget="distillation", what="an ignored row")
    kl = oracle.kl_divergence(t[1:2], s[1:2], temperature=2.0, reduction="none")
    assert_within_budget(v[1:2], 0.5 * 4.0 * kl, budget="distillation", what="its KL term")
    s3 = s.copy()
    s3[0, 0] = -np.inf
    v = lk.distillation_loss(s3, t, y, alpha=1.0, reduction="none")
    assert v[0] == np.inf
    # every row ignored: the mean of no counted items is NaN, as torch's
    assert np.isnan(lk.distillation_loss(s, t, np.full(6, -100), alpha=0.5))


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 4))),
            ValueError,
            ["student_logits", "teacher_logits", "shapes"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), alpha=0.5),
            ValueError,
            ["alpha", "target"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], alpha=1.5),
            ValueError,
            ["alpha", "1.5"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], alpha="x"),
            TypeError,
            ["alpha"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 3]),
            ValueError,
            ["target", "3"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0.5, 1.0]),
            TypeError,
            ["target", "integer"],
        ),
        (
            lambda: lk.distillation_loss(
                np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], reduction="batchmean"
            ),
            ValueError,
            ["reduction"],
        ),
        (
            lambda: lk.distillation_loss(
                np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], label_smoothing=2.0
            ),
            ValueError,
            ["label_smoothing"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), temperature=0.0),
            ValueError,
            ["temperature"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 1)), np.zeros((2, 1))),
            ValueError,
            ["student_logits", "single logit"],
        ),
        (
            lambda: lk.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1, 2]),
            ValueError,
            ["target"],
        ),
        (
            lambda: lk.multilabel.distillation_loss(np.zeros((2, 3)), np.zeros((2, 3)), alpha=0.2),
            ValueError,
            ["alpha", "target"],
        ),
    ],
)
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_thread_counts_give_the_same_bits():
    rng = np.random.default_rng(8)
    s = (rng.standard_normal((64, 3000)) * 3).astype(np.float32)
    t = (rng.standard_normal((64, 3000)) * 3).astype(np.float32)
    y = rng.integers(0, 3000, 64)
    base = lk.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 5):
            lk.set_num_threads(n)
            outs.append(
                lk.distillation_loss_with_grad(
                    s, t, y, temperature=2.0, alpha=0.5, reduction="none"
                )
            )
        for v, g in outs[1:]:
            assert np.array_equal(v, outs[0][0]) and np.array_equal(g, outs[0][1])
    finally:
        lk.set_num_threads(base)


# ------------------------------------------------------------------------------- multilabel


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "alpha, with_target", [(None, False), (1.0, True), (0.25, True), (0.0, True)]
)
def test_multilabel_distillation_against_the_oracle(reduction, alpha, with_target):
    rng = np.random.default_rng(9)
    s = rng.standard_normal((5, 4)) * 4
    t = rng.standard_normal((5, 4)) * 4
    y = (rng.random((5, 4)) < 0.4).astype(np.float64) if with_target else None
    T = 2.5
    v, g = lk.multilabel.distillation_loss_with_grad(
        s, t, y, temperature=T, alpha=alpha, reduction=reduction
    )
    a = 1.0 if alpha is None else alpha
    kl = oracle.binary_kl_divergence(t, s, temperature=T, reduction="none")
    gk = oracle.binary_kl_divergence_grad(t, s, temperature=T, reduction="none")
    per = a * T * T * kl
    gper = a * T * T * gk
    if a < 1:
        per = per + (1 - a) * oracle.bce_with_logits(s, y, reduction="none")
        gper = gper + (1 - a) * oracle.bce_with_logits_grad(s, y, reduction="none")
    want = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
    gw = gper / per.size if reduction == "mean" else gper
    assert_within_budget(v, want, budget=_budget(reduction), what="multilabel distillation")
    scale = _grad_scale(a, T)
    assert_within_budget(g, gw, budget="gradient", scale=scale, what="multilabel distillation")
    assert np.array_equal(
        v, lk.multilabel.distillation_loss(s, t, y, temperature=T, alpha=alpha, reduction=reduction)
    )


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (optional test dependency)")
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("ignore, eps", [(False, 0.0), (True, 0.1)])
def test_matches_the_pytorch_composition(reduction, ignore, eps):
    import torch
    import torch.nn.functional as F

    s, t, y = _batch(F64, rows=8, C=11, seed=10, ignore=ignore)
    T, alpha = 3.0, 0.7
    st = torch.tensor(s, requires_grad=True)
    tt = torch.tensor(t)
    kl = F.kl_div(
        F.log_softmax(st / T, dim=1),
        F.log_softmax(tt / T, dim=1),
        log_target=True,
        reduction="batchmean" if reduction == "mean" else "sum",
    )
    ce = F.cross_entropy(
        st, torch.tensor(y), ignore_index=-100, label_smoothing=eps, reduction=reduction
    )
    total = alpha * T * T * kl + (1 - alpha) * ce
    total.backward()
    v, g = lk.distillation_loss_with_grad(
        s, t, y, temperature=T, alpha=alpha, label_smoothing=eps, reduction=reduction
    )
    # conformance, not accuracy: torch's float64 composition carries its own rounding errors
    # (docs/testing.md: PyTorch conformance within 1e-12 relative)
    np.testing.assert_allclose(v, total.item(), rtol=1e-12)
    np.testing.assert_allclose(g, st.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_the_kernel_may_write_the_gradient_over_the_student():
    """The loss ufunc with out=(loss, student): the cross-entropy is taken first, and the KL kernel
    reads each chunk of the student before writing its gradient there."""
    from logitkit import _core

    s, t, y = _batch(F64, rows=4, C=37, seed=11)
    y[3] = -1  # an ignored row
    v0, g0 = _core.distillation_grad(s, t, y, 0.7 * 4.0, 0.3, 0.05, 2.0)
    s2, v = s.copy(), np.empty(4)
    _core.distillation_grad(s2, t, y, 0.7 * 4.0, 0.3, 0.05, 2.0, out=(v, s2))
    assert np.array_equal(s2, g0) and np.array_equal(v, v0)
    # and against the oracle: α = 0.7, T = 2, smoothing 0.05, per row, the label -1 ignored
    kw = {"temperature": 2.0, "alpha": 0.7, "label_smoothing": 0.05, "ignore_index": -1}
    want_v = oracle.distillation_loss(s, t, y, reduction="none", **kw)
    want_g = oracle.distillation_loss_grad(s, t, y, reduction="none", **kw)
    assert_within_budget(v, want_v, budget="distillation", what="out=(loss, student) loss")
    scale = _grad_scale(0.7, 2.0)
    assert_within_budget(s2, want_g, budget="gradient", scale=scale, what="over the student")
