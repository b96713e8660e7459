"""Loss accuracy (docs/semantics.md for the definitions, docs/numerics.md "The bounds" for
the bounds): worked values, every option of every loss and its gradient against the oracle
(tests/oracle.py) on every SIMD target, the oracle itself against mpmath, and the inputs where an
accurate result needs care (cancelling gradients, confident elements, smoothing near 1).
Every library call runs under np.errstate(all="raise") (and pyproject's filterwarnings=error).
Shared checks and test data: tests/loss_cases.py. float64 references come from
oracle.F64_REFERENCE (np.longdouble, or mpmath where longdouble is plain double or
LOGITKIT_TEST_ORACLE=mpmath asks for it); the cases here are small enough for either."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle as O
import pytest
from loss_cases import (
    BCE_SHAPES,
    CE_KINDS,
    F32,
    F64,
    LAYOUTS,
    REDUCTIONS,
    _seed,
    bce_case,
    ce_case,
    check_grad,
    check_items,
    check_loss,
    dtypes,
    focal_case,
)


@pytest.fixture(autouse=True)
def _f64_reference():
    """Every test here computes float64 references on oracle.F64_REFERENCE's path."""
    with O.reference(O.F64_REFERENCE):
        yield


_WX = np.array([[1, 2, 3], [1, 0, -1], [0.5, 0.5, 0.5], [-2, 4, 0]], dtype=np.float64)


_WT = np.array([2, 1, 1, 0])


_WW = np.array([0.2, 0.3, 0.5])


CE_WORKED = [
    ("plain, mean", {}, 2.23360133912605),
    ("weight, mean", {"weight": _WW}, 1.6613728353426178),
    ("weight + ignore_index=1, mean", {"weight": _WW, "ignore_index": 1}, 2.011313157159509),
    ("eps=0.15, mean", {"label_smoothing": 0.15}, 2.17110133912605),
    ("eps=0.15 + weight, mean", {"label_smoothing": 0.15, "weight": _WW}, 1.6865671160606173),
    (
        "eps=0.15 + weight + ignore_index=1, mean",
        {"label_smoothing": 0.15, "weight": _WW, "ignore_index": 1},
        2.018772405256419,
    ),
    (
        "same, sum",
        {"label_smoothing": 0.15, "weight": _WW, "ignore_index": 1, "reduction": "sum"},
        1.4131406836794933,
    ),
    (
        "same, none",
        {"label_smoothing": 0.15, "weight": _WW, "ignore_index": 1, "reduction": "none"},
        np.array([0.2286128331110807, 0, 0, 1.1845278505684125]),
    ),
]


@pytest.mark.parametrize("case", CE_WORKED, ids=[c[0] for c in CE_WORKED])
def test_cross_entropy_worked_values(isa, case):
    _, kw, expected = case
    with np.errstate(all="raise"):
        got = lk.cross_entropy(_WX, _WT, **kw)
        got2, _ = lk.cross_entropy_with_grad(_WX, _WT, **kw)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(got2, expected, rtol=1e-14, atol=0)
    # the oracle agrees with the worked values too
    np.testing.assert_allclose(
        O.cross_entropy(_WX, _WT, **kw).astype(np.float64), expected, rtol=1e-14, atol=0
    )


def test_cross_entropy_worked_values_soft_one_hot(isa):
    """One-hot soft targets give the hard-label values when no item is ignored and no class is
    weighted (the soft mean divides by the number of items)."""
    y = np.eye(3)[_WT]
    with np.errstate(all="raise"):
        np.testing.assert_allclose(lk.cross_entropy(_WX, y), 2.23360133912605, rtol=1e-14)
        np.testing.assert_allclose(
            lk.cross_entropy(_WX, y, label_smoothing=0.15), 2.17110133912605, rtol=1e-14
        )


def test_bce_worked_values(isa):
    x = np.array([0, -120, 120, -1e4, 1e4, 3.0])
    y = np.array([0, 1, 0, 1, 1, 0.25])
    expected = np.array([0.6931471805599453, 120, 120, 1e4, 0, 2.298587351573742])
    with np.errstate(all="raise"):
        got = lk.binary_cross_entropy_with_logits(x, y, reduction="none")
        got2, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(got2, expected, rtol=1e-14, atol=0)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        O.bce_with_logits(x, y, reduction="none").astype(np.float64), expected, rtol=1e-14, atol=0
    )


def test_oracle_against_mpmath(f64_path):
    """The float64 oracle, on both of its paths (longdouble, mpmath), agrees with 300-bit mpmath
    at extreme points: confident rows, huge logits, smoothing, pos_weight, tiny focal losses, and
    the gradients."""
    mp = pytest.importorskip("mpmath")
    mp.mp.prec = 300
    tol = 1e-17

    def as_mp(g):
        """An oracle value as an mpmath number, exactly: a longdouble is f·2^e with f in [0.5, 1),
        and f is hi + lo, two float64s (its 64 bits are 53 + at most 11)."""
        if isinstance(g, np.longdouble):
            if not np.isfinite(g):
                return mp.mpf(float(g))
            f, e = np.frexp(g)
            hi = np.float64(f)
            return mp.ldexp(mp.mpf(float(hi)) + mp.mpf(float(f - np.longdouble(hi))), int(e))
        return mp.mpf(g)

    def close(got, exact, atol=0.0):
        got = np.asarray(got).reshape(-1)
        assert (got.dtype == O.MP) == (f64_path == "mpmath"), got.dtype
        for g, e in zip(got, exact):
            if f64_path == "longdouble" and abs(e) < mp.mpf("1e-4900"):  # beyond longdouble's range
                e = mp.mpf(float(e))
            assert abs(as_mp(g) - e) <= tol * abs(e) + atol, (g, e)

    def mp_log_softmax(row):
        r = [mp.mpf(float(v)) for v in row]
        m = max(r)
        k = sum(1 for v in r if v == m)
        rest = mp.fsum(mp.exp(v - m) for v in r if v != m)  # the tiny part, kept apart
        L = mp.log1p(rest) if k == 1 else mp.log(k + rest)
        return [(v - m) - L for v in r]

    x = np.array(
        [
            [39.8303657, -59.88717594, 26.00102983, -1.78172017, -23.71529725],
            [1e4, -1e4, 0.0, 3.0, 2.5],
            [-1e20, 1e20, 0.0, 1.0, 0.5],
        ]
    )
    w = np.array([0.2, 1.3, 0.7, 1.0, 2.0])
    for t in (np.array([0, 0, 1]), np.array([2, 3, 4])):
        for eps in (0.0, 0.1):
            exact = []
            grads = []
            for row, ti in zip(x, t):
                lp = mp_log_softmax(row)
                a = [
                    (1 - mp.mpf(eps)) * mp.mpf(w[ti]) * (c == ti) + mp.mpf(eps) / 5 * mp.mpf(w[c])
                    for c in range(5)
                ]
                exact.append(-mp.fsum(ac * l for ac, l in zip(a, lp)))
                A = mp.fsum(a)
                grads += [mp.exp(l) * A - ac for l, ac in zip(lp, a)]
            kw = {"weight": w, "label_smoothing": eps, "reduction": "none"}
            close(O.cross_entropy(x, t, **kw), exact)
            close(O.cross_entropy_grad(x, t, **kw), grads, atol=1e-19)
    # soft labels with a zero target at a -inf logit
    xs = np.array([[-np.inf, 1.0, 2.0, 30.0]])
    ys = np.array([[0.0, 0.25, 0.25, 0.5]])
    lp = mp_log_softmax([1.0, 2.0, 30.0])
    close(
        O.cross_entropy(xs, ys, reduction="none"),
        [-(mp.mpf(0.25) * lp[0] + mp.mpf(0.25) * lp[1] + mp.mpf(0.5) * lp[2])],
    )

    def mp_bce(xv, yv, pw, eps):
        with mp.workprec(6000):  # the textbook formula cancels: e^-745 needs ~1100 digits
            xv, yv = mp.mpf(float(xv)), mp.mpf(float(yv))
            ys_ = yv * (1 - mp.mpf(eps)) + mp.mpf(eps) / 2
            sp = mp.log1p(mp.exp(-xv))  # softplus(-x)
            loss = (1 - ys_) * xv + (1 + (mp.mpf(pw) - 1) * ys_) * sp
            sig = 1 / (1 + mp.exp(-xv))
            grad = (1 + (mp.mpf(pw) - 1) * ys_) * sig - mp.mpf(pw) * ys_
            return +loss, +grad

    xb = np.array([-30.0, 3.0, 30.0, 1e4, -745.0, 0.5])
    yb = np.array([0.0, 0.25, 1.0, 1.0, 0.0, 0.9])
    for pw, eps in ((1.0, 0.0), (2.5, 0.1), (0.3, 0.01)):
        ref = [mp_bce(a, b, pw, eps) for a, b in zip(xb, yb)]
        kw = {"pos_weight": pw, "label_smoothing": eps, "reduction": "none"}
        close(O.bce_with_logits(xb, yb, **kw), [r[0] for r in ref])
        close(O.bce_with_logits_grad(xb, yb, **kw), [r[1] for r in ref], atol=1e-19)

    def mp_focal(xv, yv, alpha, gamma):
        xv, yv = mp.mpf(float(xv)), mp.mpf(float(yv))
        p, pm = 1 / (1 + mp.exp(-xv)), 1 / (1 + mp.exp(xv))
        ce = yv * mp.log1p(mp.exp(-xv)) + (1 - yv) * mp.log1p(mp.exp(xv))  # -y·log p - ...
        q = p * (1 - yv) + pm * yv
        return (alpha * yv + (1 - alpha) * (1 - yv)) * ce * q ** mp.mpf(gamma)

    xf = np.array([20.0, 150.0, -40.0, 0.3, -2.0])
    yf = np.array([1.0, 1.0, 0.0, 0.6, 1.0])
    for gamma in (0.5, 2.0, 3.0):
        close(
            O.sigmoid_focal_loss(xf, yf, gamma=gamma),
            [mp_focal(a, b, mp.mpf(0.25), gamma) for a, b in zip(xf, yf)],
        )
        h = mp.mpf(2) ** -40
        fd = [
            (
                mp_focal(mp.mpf(float(a)) + h, b, mp.mpf(0.25), gamma)
                - mp_focal(mp.mpf(float(a)) - h, b, mp.mpf(0.25), gamma)
            )
            / (2 * h)
            for a, b in zip(xf, yf)
        ]
        close(O.sigmoid_focal_loss_grad(xf, yf, gamma=gamma), fd, atol=1e-19)


@pytest.mark.parametrize("sample_weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@dtypes
def test_cross_entropy_against_oracle(isa, dtype, layout, kind, weighted, eps, sample_weighted):
    x, target, kw = ce_case(
        layout,
        kind,
        dtype,
        weighted,
        eps,
        sample_weighted,
        _seed(layout, kind, dtype.name, weighted, eps, sample_weighted),
    )
    name = f"cross_entropy {kind.split('-')[0]}"
    grads = {}
    for reduction in REDUCTIONS:  # the losses first, then the gradients
        with np.errstate(all="raise"):
            loss = lk.cross_entropy(x, target, reduction=reduction, **kw)
            loss2, grads[reduction] = lk.cross_entropy_with_grad(
                x, target, reduction=reduction, **kw
            )
        exact = O.cross_entropy(x, target, reduction=reduction, **kw)
        check_loss(name, loss, exact, dtype, isa, reduction)
        check_loss(name + " (with_grad)", loss2, exact, dtype, isa, reduction)
    for reduction in REDUCTIONS:
        eg, scale = O.cross_entropy_grad(x, target, reduction=reduction, with_scale=True, **kw)
        check_grad(f"{name} grad", grads[reduction], eg, dtype, isa, scale)


def _ce_per_item(x, label, kw):
    """Per-item loss and gradient, and the loss alone, with no floating-point error raised; the
    loss alone has the bits of the loss with its gradient (the label-on-top rows sum the other
    classes' exps in either pass, in the same order)."""
    with np.errstate(all="raise"):
        loss, g = lk.cross_entropy_with_grad(x, label, reduction="none", **kw)
        loss_only = lk.cross_entropy(x, label, reduction="none", **kw)
    np.testing.assert_array_equal(loss_only, loss)
    return loss, g, loss_only


@pytest.mark.parametrize("n", [3, 19, 100, 1000, 1100])
@dtypes
def test_cross_entropy_masked_rows(isa, dtype, n):
    """Rows with masked classes (-inf logits, or finite ones far below the max: -1e5, max - 120 /
    - 760), the kinds in turn: one or a third of the classes masked, a top-heavy masked row with
    the label on its top class or elsewhere, the label's own logit masked (+inf loss) or far below
    (a large finite loss), and an entry below exp's range but near the max. With and without class
    weights and label smoothing: the loss and gradient within their bounds, the loss alone with the
    bits of the loss with its gradient, and every row's bits its own (alone, or the batch
    reversed)."""
    rng = np.random.default_rng(_seed("masked", dtype.name, n))
    f32 = dtype == np.float32
    far, below = (120.0, 100.0) if f32 else (760.0, 716.0)
    rows = 48
    x = rng.normal(0.0, 3.0, (rows, n))
    label = rng.integers(0, n, rows)
    for i in range(rows):
        kind, row = i % 8, x[i]
        others = np.delete(np.arange(n), label[i])
        pick = rng.choice(others, max(1, min(len(others), n // 3)), replace=False)
        if kind == 0:
            row[pick[0]] = -np.inf
        elif kind == 1:
            row[pick] = -np.inf
        elif kind in (2, 3):  # top-heavy: the top class on the label (2) or elsewhere (3)
            top = label[i] if kind == 2 else pick[0]
            row[top] = row.max() + 12
            row[pick[1:]] = -np.inf
        elif kind == 4:
            row[label[i]] = -np.inf
            row[pick[:1]] = -np.inf
        elif kind == 5:
            row[label[i]] = -1e5
            row[pick[:1]] = -np.inf
        elif kind == 6:
            row[pick[:2]] = [-1e5, row.max() - far][: len(pick[:2])]
            row[pick[2:3]] = -np.inf
        elif kind == 7:
            row -= row.max()
            row[pick[:1]] = -below
            row[pick[1:2]] = -np.inf
    x = x.astype(dtype)
    for weight in (None, rng.uniform(0.5, 2.0, n).astype(dtype)):
        for eps in (0.0, 0.1):
            kw = {"label_smoothing": eps, "weight": weight}
            loss, g, _ = _ce_per_item(x, label, kw)
            lr, gr = lk.cross_entropy_with_grad(x[::-1], label[::-1], reduction="none", **kw)
            np.testing.assert_array_equal(lr[::-1], loss)
            np.testing.assert_array_equal(gr[::-1], g)
            for i in range(0, rows, 5):
                li, gi = lk.cross_entropy_with_grad(
                    x[i : i + 1], label[i : i + 1], reduction="none", **kw
                )
                np.testing.assert_array_equal(li, loss[i : i + 1])
                np.testing.assert_array_equal(gi, g[i : i + 1])
            exact = O.cross_entropy(x, label, reduction="none", **kw)
            name = f"cross_entropy masked rows (eps {eps})"
            check_loss(name, loss, exact, dtype, isa, "none")
            eg, scale = O.cross_entropy_grad(x, label, reduction="none", with_scale=True, **kw)
            check_grad(name + " grad", g, eg, dtype, isa, scale)


@pytest.mark.parametrize("n", [3, 19, 100, 1000])
@dtypes
def test_cross_entropy_confident_rows(isa, dtype, n):
    """Rows where one class holds most of the mass (p from 0.62 up to 1 - 4e-8), the label on it or
    elsewhere, with and without label smoothing and class weights, among them a weight 1e4 on the
    confident class: every entry of every row within the per-item and gradient bounds. A hard
    label's loss alone keeps such a row on the direct path when the label is not the confident class
    (kernels/loss/ce_direct.hpp); smoothing, whose terms include the confident class's -log p near 0
    (weighted up to dominate the row), must not; with the label on the confident class, the direct
    path sums the other classes' mass for -log p_t and p_t - 1."""
    rng = np.random.default_rng(_seed("confident", dtype.name, n))
    deltas = np.array([0.5, 3.0, 10.0, 17.0])  # log(p_top / (1 - p_top))
    rows = 4 * len(deltas)
    x = rng.normal(0.0, 2.0, (rows, n))
    top = rng.integers(0, n, rows)
    label = top.copy()
    label[rows // 2 :] = (
        top[rows // 2 :] + 1 + rng.integers(0, n - 1, rows // 2)
    ) % n  # not the top
    for i in range(rows):
        others = np.delete(x[i], top[i])
        x[i, top[i]] = np.log(np.exp(others).sum()) + deltas[i % len(deltas)]
    x = x.astype(dtype)
    w_heavy = np.ones(n, dtype=dtype)
    w_heavy[top[0]] = 1e4
    weights = (None, rng.uniform(0.5, 2.0, n).astype(dtype), w_heavy)
    for weight in weights:
        for eps in (0.0, 0.1):
            kw = {"label_smoothing": eps, "weight": weight}
            loss, g, loss_only = _ce_per_item(x, label, kw)
            exact = O.cross_entropy(x, label, reduction="none", **kw)
            name = f"cross_entropy confident rows (eps {eps})"
            check_loss(name, loss, exact, dtype, isa, "none")
            check_loss(name + " (loss only)", loss_only, exact, dtype, isa, "none")
            eg, scale = O.cross_entropy_grad(x, label, reduction="none", with_scale=True, **kw)
            check_grad(name + " grad", g, eg, dtype, isa, scale)


@pytest.mark.parametrize("n", [3, 8, 19, 64, 1000])
@pytest.mark.parametrize("kind", ["soft", "soft-eps", "hard-eps"])
@dtypes
def test_cross_entropy_grad_cancellation(isa, dtype, kind, n):
    """The gradient entries p_c·Σa - a_c cancel where the target matches the model: logits made
    from the (smoothed) target itself, log y', so that p = y' up to the rounding of the logits.
    The fast path flags these entries and recomputes the row in double-length arithmetic
    (losses.hpp, ce_grad_accurate); every entry must meet the gradient bound exactly (no slack):
    8/16 ulp or 2^-24/2^-53 times max(1, scale). Also in place (out=logits) and with weights.
    On the oracle's mpmath path (float64 where np.longdouble is plain double) the long rows keep a
    sample of 2 of their 6 rows: mpmath costs microseconds per operation."""
    rng = np.random.default_rng(_seed("cancel", kind, dtype.name, n))
    rows = 6
    eps = 0.0 if kind == "soft" else 0.1
    if kind == "hard-eps":
        target = rng.integers(0, n, rows)
        y = np.full((rows, n), eps / n)
        y[np.arange(rows), target] += 1 - eps
    else:
        y = rng.dirichlet(np.full(n, 0.3), rows)
        y[:, 0] += 0.5  # one large entry, where the cancellation matters most
        y /= y.sum(axis=1, keepdims=True)
        target = y.astype(dtype)
        y = (1 - eps) * target.astype(np.float64) + eps / n
    with np.errstate(divide="ignore"):
        x = (np.log(y) + rng.normal(0, 1e-6, (rows, 1))).astype(dtype)
    if n >= 1000 and O.work_dtype(dtype) == O.MP:
        x, target = x[:2], target[:2]
    for weighted in (False, True):
        kw = {"label_smoothing": eps}
        if weighted:
            kw["weight"] = rng.uniform(0.5, 2.0, n).astype(dtype)
        for reduction in ("none", "sum"):
            with np.errstate(all="raise"):
                _, g = lk.cross_entropy_with_grad(x, target, reduction=reduction, **kw)
                xi = x.copy()
                _, gi = lk.cross_entropy_with_grad(xi, target, reduction=reduction, out=xi, **kw)
            eg, scale = O.cross_entropy_grad(x, target, reduction=reduction, with_scale=True, **kw)
            check_grad(f"cross_entropy grad (cancelling, {kind})", g, eg, dtype, isa, scale)
            check_grad(
                f"cross_entropy grad (cancelling, {kind}, in place)", gi, eg, dtype, isa, scale
            )


@pytest.mark.parametrize("sample_weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("ignore", [False, True], ids=["", "ignore"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@dtypes
def test_nll_loss_against_oracle(dtype, layout, ignore, weighted, eps, sample_weighted):
    """nll_loss is NumPy code (no SIMD kernel): one run, not one per ISA."""
    x, target, kw = ce_case(
        layout,
        "hard-ignore" if ignore else "hard",
        dtype,
        weighted,
        eps,
        sample_weighted,
        _seed("nll", layout, ignore, dtype.name, weighted, eps, sample_weighted),
    )
    log_probs = O.log_softmax(x, axis=kw["axis"]).astype(dtype)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss = lk.nll_loss(log_probs, target, reduction=reduction, **kw)
        exact = O.nll_loss(log_probs, target, reduction=reduction, **kw)
        check_loss("nll_loss", loss, exact, dtype, "numpy", reduction)
        # the same number as cross_entropy on the logits (to the tolerance of either)
        ce = O.cross_entropy(x, target, reduction=reduction, **kw)
        rtol = 64 * np.finfo(dtype).eps
        np.testing.assert_allclose(
            np.asarray(exact, np.float64),
            np.asarray(ce, np.float64),
            rtol=rtol,
            atol=np.finfo(dtype).tiny,
        )


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("pos_weighted", [False, True], ids=["", "pos_weight"])
@pytest.mark.parametrize("weight_kind", [None, "class", "full"], ids=["", "w-class", "w-full"])
@pytest.mark.parametrize("shape_name", list(BCE_SHAPES))
@dtypes
def test_bce_against_oracle(isa, dtype, shape_name, weight_kind, pos_weighted, eps):
    x, y, kw = bce_case(
        shape_name,
        dtype,
        weight_kind,
        pos_weighted,
        eps,
        _seed("bce", shape_name, dtype.name, weight_kind, pos_weighted, eps),
    )
    grads = {}
    for reduction in REDUCTIONS:  # the losses first, then the gradients
        with np.errstate(all="raise"):
            loss = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **kw)
            loss2, grads[reduction] = lk.binary_cross_entropy_with_logits_with_grad(
                x, y, reduction=reduction, **kw
            )
        exact = O.bce_with_logits(x, y, reduction=reduction, **kw)
        check_loss("bce_with_logits", loss, exact, dtype, isa, reduction)
        check_loss("bce_with_logits (with_grad)", loss2, exact, dtype, isa, reduction)
    for reduction in REDUCTIONS:
        eg, scale = O.bce_with_logits_grad(x, y, reduction=reduction, with_scale=True, **kw)
        check_grad("bce_with_logits grad", grads[reduction], eg, dtype, isa, scale)


@pytest.mark.parametrize("eps", [0.01, 0.1], ids=["eps0.01", "eps0.1"])
@dtypes
def test_bce_label_smoothing_near_one(isa, dtype, eps):
    """y = 1 with smoothing: the loss of a confident right logit is (ε/2)·x + ..., whose relative
    accuracy needs 1 - y' = ε/2 exactly, not 1 minus y' rounded to the dtype."""
    x = np.array([5.0, 20.0, 60.0, 100.0, 1e3, -3.0], dtype)
    y = np.ones_like(x)
    with np.errstate(all="raise"):
        loss = lk.binary_cross_entropy_with_logits(x, y, label_smoothing=eps, reduction="none")
    check_items(
        "bce_with_logits smoothing y=1",
        loss,
        O.bce_with_logits(x, y, label_smoothing=eps, reduction="none"),
        dtype,
        isa,
    )


@dtypes
def test_bce_grad_near_saturation_unweighted(isa, dtype):
    """The plainest gradient, σ(x) - y with y = 1 (x > 0) or y = 0 (x < 0), no weights: it is
    -σ(-x) (resp. σ(x)), which must not come from 1 - (a rounded σ(x))."""
    x = np.linspace(0.5, 16.0, 63).astype(dtype)
    xs = np.concatenate([x, -x])
    y = np.concatenate([np.ones_like(x), np.zeros_like(x)])
    with np.errstate(all="raise"):
        _, grad = lk.binary_cross_entropy_with_logits_with_grad(xs, y, reduction="none")
        g, _ = lk.grad_hess(xs, y, family="binary")
    eg = O.bce_with_logits_grad(xs, y, reduction="none")
    check_grad("bce_with_logits grad (saturation, unweighted)", grad, eg, dtype, isa)
    check_grad("grad_hess binary grad (saturation, unweighted)", g, eg, dtype, isa)


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [0.25, -1.0])
@dtypes
def test_focal_against_oracle(isa, dtype, alpha, gamma, soft):
    x, y = focal_case(dtype, soft, _seed("focal", dtype.name, alpha, gamma, soft))
    grads = {}
    for reduction in REDUCTIONS:  # the losses first, then the gradients
        with np.errstate(all="raise"):
            loss = lk.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction=reduction)
            loss2, grads[reduction] = lk.sigmoid_focal_loss_with_grad(
                x, y, alpha=alpha, gamma=gamma, reduction=reduction
            )
        exact = O.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction=reduction)
        check_loss("sigmoid_focal_loss", loss, exact, dtype, isa, reduction)
        check_loss("sigmoid_focal_loss (with_grad)", loss2, exact, dtype, isa, reduction)
    for reduction in REDUCTIONS:
        check_grad(
            "sigmoid_focal_loss grad",
            grads[reduction],
            O.sigmoid_focal_loss_grad(x, y, alpha=alpha, gamma=gamma, reduction=reduction),
            dtype,
            isa,
        )


def test_focal_defaults_are_torchvision():
    """alpha=0.25, gamma=2, reduction='none' by default (torchvision.ops.sigmoid_focal_loss)."""
    x, y = focal_case(F64, False, 5)
    np.testing.assert_array_equal(
        lk.sigmoid_focal_loss(x, y),
        lk.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="none"),
    )
    # gamma = 0, alpha < 0: plain BCE-with-logits
    np.testing.assert_allclose(
        lk.sigmoid_focal_loss(x, y, alpha=-1, gamma=0),
        lk.binary_cross_entropy_with_logits(x, y, reduction="none"),
        rtol=1e-15,
    )


@dtypes
def test_focal_confident_elements(isa, dtype):
    """Very confident right elements: loss = α_t·ce·q^γ with ce ≈ q ≈ e^-|x| is tiny but exact, not
    0 from rounding 1 - p_t."""
    big = {F32: [5.0, 8.0, 12.0, 18.0], F64: [20.0, 40.0, 100.0, 150.0]}[dtype]
    x = np.array(big + [-v for v in big], dtype)
    y = np.array([1.0] * len(big) + [0.0] * len(big), dtype)
    for gamma in (0.5, 2.0, 3.0):
        with np.errstate(all="raise"):
            loss = lk.sigmoid_focal_loss(x, y, gamma=gamma)
            loss2, grad = lk.sigmoid_focal_loss_with_grad(x, y, gamma=gamma)
        exact = O.sigmoid_focal_loss(x, y, gamma=gamma)
        assert np.all(np.asarray(exact) > np.finfo(dtype).smallest_normal)  # the case is normal
        assert np.all(loss > 0)
        check_items("sigmoid_focal_loss confident", loss, exact, dtype, isa)
        check_items("sigmoid_focal_loss confident (with_grad)", loss2, exact, dtype, isa)
        check_grad(
            "sigmoid_focal_loss confident grad",
            grad,
            O.sigmoid_focal_loss_grad(x, y, gamma=gamma),
            dtype,
            isa,
        )


@pytest.mark.parametrize("sample_weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("kind", CE_KINDS)
@pytest.mark.parametrize("layout", ["last", "nchw"])
@dtypes
def test_grad_hess_multiclass(isa, dtype, layout, kind, weighted, eps, sample_weighted):
    x, target, kw = ce_case(
        layout,
        kind,
        dtype,
        weighted,
        eps,
        sample_weighted,
        _seed("gh", layout, kind, dtype.name, weighted, eps, sample_weighted),
    )
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, target, family="multiclass", **kw)
    eg, eh, scale = O.grad_hess(x, target, family="multiclass", with_scale=True, **kw)
    check_grad("grad_hess multiclass grad", g, eg, dtype, isa, scale)
    check_grad("grad_hess multiclass hess", h, eh, dtype, isa, scale)


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["eps0", "eps0.1"])
@pytest.mark.parametrize("pos_weighted", [False, True], ids=["", "pos_weight"])
@pytest.mark.parametrize("weight_kind", [None, "full"], ids=["", "weight"])
@dtypes
def test_grad_hess_binary(isa, dtype, weight_kind, pos_weighted, eps):
    x, y, kw = bce_case(
        "2d",
        dtype,
        weight_kind,
        pos_weighted,
        eps,
        _seed("ghb", dtype.name, weight_kind, pos_weighted, eps),
    )
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, y, family="binary", **kw)
    eg, eh, scale = O.grad_hess(x, y, family="binary", with_scale=True, **kw)
    check_grad("grad_hess binary grad", g, eg, dtype, isa, scale)
    check_grad("grad_hess binary hess", h, eh, dtype, isa, scale)


def test_grad_hess_binary_1d_labels(isa):
    """LightGBM hands binary labels as a 1-D float array; 1-D logits of the same length."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, 50)
    y = (rng.random(50) < 0.4).astype(np.float64)
    g, h = lk.grad_hess(x, y, family="binary")
    eg, eh = O.grad_hess(x, y, family="binary")
    check_grad("grad_hess binary grad", g, eg, F64, isa)
    check_grad("grad_hess binary hess", h, eh, F64, isa)


@dtypes
def test_grad_hess_multiclass_hess_of_likely_class(isa, dtype):
    """hess = p·(1 - p) where p is close to 1: 1 - p must not come from a rounded p."""
    rng = np.random.default_rng(13)
    x = rng.normal(0, 1, (64, 5))
    x[:, 0] += rng.uniform(2, 12, 64)  # p_0 from ~0.7 to 1 - 1e-5
    x = x.astype(dtype)
    t = np.zeros(64, np.int64)
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass")
    eg, eh = O.grad_hess(x, t, family="multiclass")
    check_grad("grad_hess multiclass grad (likely class)", g, eg, dtype, isa)
    check_grad("grad_hess multiclass hess (likely class)", h, eh, dtype, isa)
