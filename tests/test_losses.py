"""Losses and their gradients (semantics.md, numerics.md): worked values, every option against the
oracle (tests/oracle_losses.py) on every SIMD target, gradients against finite differences,
extreme inputs, and validation errors.

Tolerances (numerics.md): per-item losses ≤ 8 ulp (float32) / ≤ 16 ulp (float64); mean and sum
≤ 1e-6 / 1e-13 relative; gradients (and grad_hess's Hessians) ≤ 8 ulp or 2^-24 absolute (float32),
≤ 16 ulp or 2^-53 absolute (float64). The absolute bound is read as the bound for a gradient of
unit scale (p - y, σ - y); where class weights, sample weights, pos_weight or a 'sum' scale the
gradient up by s > 1 it becomes s × 2^-24 / s × 2^-53 (oracle_losses.grad_errors; never tighter
than numerics.md). The error summary at the end of the run also lists the errors against the
unscaled bound. Every library call runs under np.errstate(all="raise") (and pyproject's
filterwarnings=error): no floating-point warning for any input (numerics.md).

Speed: small shapes, seeded RNG; ~2000 cases run in about 10 s.
"""

from __future__ import annotations

import zlib

import logitkit as lk
import numpy as np
import oracle_losses as O
import pytest
from logitkit import _core

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F32, F64]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
REDUCTIONS = ("none", "sum", "mean")


# ----------------------------------------------------------------------------- error summary


class _ErrorSummary:
    """Prints the largest errors measured (oracle_losses.ERROR_RECORD) at the end of the run."""

    def pytest_terminal_summary(self, terminalreporter):
        rec = O.ERROR_RECORD
        if not rec:
            return
        quantities = sorted({k[0] for k in rec})
        dtypes_ = sorted({k[1] for k in rec})
        isas = [i for i in lk.simd_targets_available() if any(k[2] == i for k in rec)]
        tr = terminalreporter
        tr.section(
            "losses: largest errors measured (ulp for per-item losses, relative for "
            "reductions, fraction of the bound for gradients)"
        )
        header = f"{'quantity':<40} {'dtype':<8} " + " ".join(f"{i:>9}" for i in isas)
        tr.write_line(header)
        tr.write_line("-" * len(header))
        for q in quantities:
            for d in dtypes_:
                if not any((q, d, i) in rec for i in isas):
                    continue
                cells = " ".join(
                    f"{rec[(q, d, i)]:>9.3g}" if (q, d, i) in rec else f"{'-':>9}" for i in isas
                )
                tr.write_line(f"{q:<40} {d:<8} {cells}")


@pytest.fixture(scope="module", autouse=True)
def _error_summary(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin("logitkit-loss-error-summary"):
        pm.register(_ErrorSummary(), "logitkit-loss-error-summary")
    yield


# ----------------------------------------------------------------------------- checks


def _where_worst(err, got, exact):
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    g = np.asarray(got)[i]
    e = np.broadcast_to(np.asarray(exact), np.shape(got))[i]
    return f"worst at {tuple(int(v) for v in i)}: got {g!r}, exact {e!r}"


def check_items(name, got, exact, dtype, isa):
    """Per-item losses: ulps of the output dtype (numerics.md)."""
    got = np.asarray(got)
    assert got.dtype == dtype, f"{name}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == np.shape(exact), f"{name}: shape {got.shape}, expected {np.shape(exact)}"
    err = O.ulp_errors(got, exact, dtype)
    worst = float(err.max()) if err.size else 0.0
    O.record(f"{name} per-item (ulp)", dtype, isa, worst)
    bound = O.BOUNDS[dtype]
    assert worst <= bound, f"{name} {dtype} on {isa}: {worst:.3g} ulp > {bound}; " + _where_worst(
        err, got, exact
    )


def check_reduced(name, got, exact, dtype, isa):
    """Mean / sum: relative error (numerics.md)."""
    got = np.asarray(got)
    assert got.dtype == dtype and got.shape == (), f"{name}: {got.dtype} {got.shape}"
    err = O.rel_error(got, exact)
    O.record(f"{name} mean/sum (rel)", dtype, isa, err)
    bound = O.REDUCED_BOUNDS[dtype]
    assert err <= bound, (
        f"{name} {dtype} on {isa}: relative error {err:.3g} > {bound}: got {got!r}, exact {exact!r}"
    )


def check_loss(name, got, exact, dtype, isa, reduction):
    if reduction == "none":
        check_items(name, got, exact, dtype, isa)
    else:
        check_reduced(name, got, exact, dtype, isa)


def check_grad(name, got, exact, dtype, isa, scale=None):
    """Gradients (and Hessians): within 8/16 ulp or 2^-24/2^-53 absolute, the absolute bound times
    max(1, scale) where weights scale the gradient up (oracle_losses.grad_errors)."""
    got = np.asarray(got)
    assert got.dtype == dtype, f"{name}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == np.shape(exact), f"{name}: shape {got.shape}, expected {np.shape(exact)}"
    err = O.grad_errors(got, exact, dtype, scale)
    worst = float(err.max()) if err.size else 0.0
    O.record(f"{name} (/bound)", dtype, isa, worst)
    if scale is not None:  # for the record: against the plain (unscaled) numerics.md bound
        plain = O.grad_errors(got, exact, dtype)
        O.record(f"{name} (/unscaled bound)", dtype, isa, float(plain.max()) if plain.size else 0)
    if worst > 1:
        where = _where_worst(err, got, exact)
        if scale is not None:
            i = np.unravel_index(int(np.argmax(err)), err.shape)
            where += f", scale {np.broadcast_to(scale, err.shape)[i]:.3g}"
        pytest.fail(
            f"{name} {dtype} on {isa}: error {worst:.3g} x the bound "
            f"{O.GRAD_BOUNDS[dtype]}; " + where
        )


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


# ----------------------------------------------------------------------------- worked values

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


# ----------------------------------------------------------------------------- the oracle itself


def test_oracle_against_mpmath():
    """The float64 oracle (computed in longdouble) agrees with 300-bit mpmath at extreme points:
    confident rows, huge logits, smoothing, pos_weight, tiny focal losses, and the gradients."""
    mp = pytest.importorskip("mpmath")
    mp.mp.prec = 300
    tol = 1e-17 if O.LONGDOUBLE_IS_EXTENDED else 1e-14

    def close(got, exact, atol=0.0):
        got = np.asarray(got, dtype=np.longdouble).reshape(-1)
        for g, e in zip(got, exact):
            if not mp.isfinite(e) or abs(e) < mp.mpf("1e-4900"):  # beyond longdouble's range
                e_ld = np.longdouble(float(e))
            else:
                e_ld = np.longdouble(mp.nstr(e, 40))
            assert abs(g - e_ld) <= tol * abs(e_ld) + atol, (g, e)

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


# ----------------------------------------------------------------------------- cross-entropy


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


@pytest.mark.parametrize("n", [3, 8, 19, 64, 1000])
@pytest.mark.parametrize("kind", ["soft", "soft-eps", "hard-eps"])
@dtypes
def test_cross_entropy_grad_cancellation(isa, dtype, kind, n):
    """The gradient entries p_c·Σa - a_c cancel where the target matches the model: logits made
    from the (smoothed) target itself, log y', so that p = y' up to the rounding of the logits.
    The fast path flags these entries and recomputes the row in double-length arithmetic
    (losses.hpp, ce_grad_accurate); every entry must meet numerics.md's bound exactly (no slack):
    8/16 ulp or 2^-24/2^-53 times max(1, scale). Also in place (out=logits) and with weights."""
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


def test_class_axis_positions_agree(isa):
    """The class axis anywhere gives the loss of the moved array, bit for bit, and the gradient in
    the input's layout."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (3, 4, 5, 6))
    for axis in range(4):
        t = rng.integers(0, x.shape[axis], np.delete(x.shape, axis))
        moved = np.moveaxis(x, axis, -1)
        w = rng.uniform(0.5, 1.5, x.shape[axis])
        kw = {"weight": w, "label_smoothing": 0.05, "reduction": "none"}
        with np.errstate(all="raise"):
            a, ga = lk.cross_entropy_with_grad(x, t, axis=axis, **kw)
            b, gb = lk.cross_entropy_with_grad(np.ascontiguousarray(moved), t, axis=-1, **kw)
            c = lk.cross_entropy(x, t, axis=axis - 4, **kw)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(ga, np.moveaxis(gb, -1, axis))


def test_label_dtypes_and_ignore_index_in_range(isa):
    x = np.random.default_rng(3).normal(0, 2, (8, 5))
    t = np.array([0, 1, 2, 3, 4, 4, 3, 2])
    ref = lk.cross_entropy(x, t, reduction="none")
    for dt in (np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64):
        np.testing.assert_array_equal(lk.cross_entropy(x, t.astype(dt), reduction="none"), ref)
    # ignore_index may be a class: those items drop out of the loss and the mean
    got = lk.cross_entropy(x, t, ignore_index=4)
    keep = t != 4
    np.testing.assert_allclose(got, np.mean(ref[keep]), rtol=1e-14)
    _, g = lk.cross_entropy_with_grad(x, t, ignore_index=4)
    assert np.all(g[~keep] == 0)


# ----------------------------------------------------------------------------- out=


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("layout", ["last", "nchw", "first"])
@dtypes
def test_cross_entropy_grad_out(isa, dtype, layout, kind):
    x, target, kw = ce_case(layout, kind, dtype, True, 0.1, True, _seed("out", layout, kind))
    with np.errstate(all="raise"):
        loss, grad = lk.cross_entropy_with_grad(x, target, **kw)
        buf = np.full_like(x, np.nan)
        loss_b, g_b = lk.cross_entropy_with_grad(x, target, out=buf, **kw)
        assert g_b is buf
        np.testing.assert_array_equal(buf, grad)
        assert loss_b == loss
        # in place: the gradient overwrites the logits
        xi = x.copy()
        loss_i, g_i = lk.cross_entropy_with_grad(xi, target, out=xi, **kw)
        assert g_i is xi
        # in place may take another path (the max-relative one, unless the row is first copied
        # for the cancellation fix-up): it agrees with the out-of-place result to the accuracy
        # bounds, not bitwise
        tol = 64 * float(np.finfo(dtype).eps)
        np.testing.assert_allclose(xi, grad, rtol=tol, atol=tol)
        np.testing.assert_allclose(loss_i, loss, rtol=tol)
        # a non-contiguous out
        big = np.zeros(x.shape + (2,), dtype)
        lk.cross_entropy_with_grad(x, target, out=big[..., 1], **kw)
        np.testing.assert_array_equal(big[..., 1], grad)
        assert np.all(big[..., 0] == 0)


@dtypes
def test_bce_grad_out(isa, dtype):
    rng = np.random.default_rng(11)
    x = rng.normal(0, 4, (7, 13)).astype(dtype)
    y = rng.random((7, 13)).astype(dtype)
    pw = rng.uniform(0.5, 3, 13).astype(dtype)
    with np.errstate(all="raise"):
        loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, pos_weight=pw)
        buf = np.empty_like(x)
        loss_b, g_b = lk.binary_cross_entropy_with_logits_with_grad(x, y, pos_weight=pw, out=buf)
        assert g_b is buf
        np.testing.assert_array_equal(buf, grad)
        assert loss_b == loss
        xi = x.copy()
        loss_i, g_i = lk.binary_cross_entropy_with_logits_with_grad(xi, y, pos_weight=pw, out=xi)
        assert g_i is xi
        # in place may take another path (the max-relative one, unless the row is first copied
        # for the cancellation fix-up): it agrees with the out-of-place result to the accuracy
        # bounds, not bitwise
        tol = 64 * float(np.finfo(dtype).eps)
        np.testing.assert_allclose(xi, grad, rtol=tol, atol=tol)
        np.testing.assert_allclose(loss_i, loss, rtol=tol)


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


# ----------------------------------------------------------------------------- binary


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


BCE_WEIGHTINGS = {
    "none": lambda rng, shape, dt: {},
    "pos_weight row": lambda rng, shape, dt: {
        "pos_weight": rng.uniform(0.1, 4, shape[-1]).astype(dt)
    },
    "pos_weight (1, C)": lambda rng, shape, dt: {
        "pos_weight": rng.uniform(0.1, 4, (1, shape[-1])).astype(dt)
    },
    "pos_weight 0-d": lambda rng, shape, dt: {"pos_weight": np.asarray(2.5, dt)},
    "weight full": lambda rng, shape, dt: {"weight": rng.uniform(0, 2, shape).astype(dt)},
    "weight scalar + smoothing": lambda rng, shape, dt: {"weight": 0.5, "label_smoothing": 0.1},
    "weight (N, 1)": lambda rng, shape, dt: {"weight": rng.uniform(0, 2, (shape[0], 1)).astype(dt)},
}


@pytest.mark.parametrize("weighting", list(BCE_WEIGHTINGS))
@dtypes
def test_bce_one_pass_path(isa, dtype, weighting):
    """mean/sum of C-contiguous inputs take the one-pass path (the kernel sums the losses, in fixed
    blocks of elements, and checks the targets); the same call on Fortran-ordered copies takes the
    general path (per-element losses, then a sum). Same gradient bits; both sums within the
    reduction target of the float64 oracle. (300, 101) spans two of the one-pass path's blocks."""
    rng = np.random.default_rng(_seed("bce one pass", dtype.name, weighting))
    shape = (300, 101)
    x = rng.normal(0, 4, shape)
    x.reshape(-1)[::7] *= 10
    x = x.astype(dtype)
    y = rng.random(shape)
    y[rng.random(shape) < 0.5] = 0.0
    y[rng.random(shape) < 0.2] = 1.0
    y = y.astype(dtype)
    kw = BCE_WEIGHTINGS[weighting](rng, shape, dtype)
    xf, yf = np.asfortranarray(x), np.asfortranarray(y)
    # which path each layout takes
    assert _core.bce_reduced(x, y, None, None, 0.0, True, True, None) is not None
    with pytest.raises(TypeError, match="C-contiguous"):  # Fortran order: losses.py copies it first
        _core.bce_reduced(xf, yf, None, None, 0.0, True, True, None)
    for reduction in ("mean", "sum"):
        loss, grad = lk.binary_cross_entropy_with_logits_with_grad(x, y, reduction=reduction, **kw)
        loss_f, grad_f = lk.binary_cross_entropy_with_logits_with_grad(
            xf, yf, reduction=reduction, **kw
        )
        assert np.array_equal(grad, grad_f)
        exact = O.bce_with_logits(x, y, reduction=reduction, **kw)
        check_loss("bce_with_logits (one pass)", loss, exact, dtype, isa, reduction)
        check_loss("bce_with_logits (general)", loss_f, exact, dtype, isa, reduction)
        alone = lk.binary_cross_entropy_with_logits(x, y, reduction=reduction, **kw)
        assert alone == loss
        # in place: the gradient replaces the logits
        xc = x.copy()
        loss_i, grad_i = lk.binary_cross_entropy_with_logits_with_grad(
            xc, y, reduction=reduction, out=xc, **kw
        )
        assert grad_i is xc and np.array_equal(xc, grad) and loss_i == loss


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


# ----------------------------------------------------------------------------- focal


def focal_case(dtype, soft, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (6, 11))
    y = rng.random(x.shape) if soft else (rng.random(x.shape) < 0.3).astype(float)
    return x.astype(dtype), y.astype(dtype)


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


@dtypes
def test_focal_underflowing_loss_raises_no_warning(isa, dtype):
    """Where the exact focal loss is below the smallest subnormal the result is 0 (within 2
    subnormals, numerics.md), without an underflow warning."""
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


# ----------------------------------------------------------------------------- grad_hess


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


@dtypes
def test_grad_hess_multiclass_confident_rows_raise_no_warning(isa, dtype):
    """Hessians of tiny probabilities underflow to (sub)normal values without a floating-point
    warning (numerics.md: np.errstate(all="raise") must pass for any input)."""
    far = {F32: -87.0, F64: -708.0}[dtype]  # p = e^far just above the smallest normal
    x = np.array([[0.0, far, far - 1, -800.0], [50.0, -50.0, 0.0, far + 2]], dtype)
    t = np.array([0, 0])
    w = np.array([0.3, 0.25, 1.0, 1.0], dtype)  # hess = 0.3·p·(1-p): subnormal, inexact
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass", weight=w)
    eg, eh = O.grad_hess(x, t, family="multiclass", weight=w)
    check_grad("grad_hess multiclass grad (confident)", g, eg, dtype, isa)
    check_grad("grad_hess multiclass hess (confident)", h, eh, dtype, isa)


def test_grad_hess_unknown_family():
    with pytest.raises(ValueError, match=r"family: expected 'multiclass' or 'binary'"):
        lk.grad_hess(np.zeros((2, 3)), np.array([0, 1]), family="regression")


# ----------------------------------------------------------------------------- extremes


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


@dtypes
def test_empty_batch(isa, dtype):
    x = np.zeros((0, 5), dtype)
    with np.errstate(all="raise"):
        for target in (np.zeros(0, np.int64), np.zeros((0, 5), dtype)):
            assert np.isnan(lk.cross_entropy(x, target))
            assert lk.cross_entropy(x, target, reduction="sum") == 0
            assert lk.cross_entropy(x, target, reduction="none").shape == (0,)
            loss, g = lk.cross_entropy_with_grad(x, target)
            assert np.isnan(loss) and g.shape == (0, 5) and g.dtype == dtype
            loss, g = lk.cross_entropy_with_grad(x, target, reduction="none")
            assert loss.shape == (0,) and g.shape == (0, 5)
        assert np.isnan(lk.nll_loss(x, np.zeros(0, np.int64)))
        assert np.isnan(lk.binary_cross_entropy_with_logits(x, x))
        assert lk.binary_cross_entropy_with_logits(x, x, reduction="sum") == 0
        loss, g = lk.binary_cross_entropy_with_logits_with_grad(x, x, reduction="none")
        assert loss.shape == (0, 5) and g.shape == (0, 5)
        loss, g = lk.sigmoid_focal_loss_with_grad(x, x)
        assert loss.shape == (0, 5) and g.shape == (0, 5)
        assert np.isnan(lk.sigmoid_focal_loss(x, x, reduction="mean"))
        g, h = lk.grad_hess(x, np.zeros(0, np.int64), family="multiclass")
        assert g.shape == h.shape == (0, 5)
        g, h = lk.grad_hess(x, x, family="binary")
        assert g.shape == h.shape == (0, 5)


@dtypes
def test_nd_inputs(isa, dtype):
    rng = np.random.default_rng(9)
    x = rng.normal(0, 3, (2, 3, 6, 4)).astype(dtype)
    t = rng.integers(0, 6, (2, 3, 4))
    y = make_soft(x, 2, rng, dtype)
    sw = rng.uniform(0, 1, (2, 3, 4)).astype(dtype)
    for target in (t, y):
        for reduction in REDUCTIONS:
            kw = {"axis": 2, "sample_weight": sw, "label_smoothing": 0.05, "reduction": reduction}
            with np.errstate(all="raise"):
                loss, g = lk.cross_entropy_with_grad(x, target, **kw)
            check_loss(
                "cross_entropy n-d", loss, O.cross_entropy(x, target, **kw), dtype, isa, reduction
            )
            eg, scale = O.cross_entropy_grad(x, target, with_scale=True, **kw)
            check_grad("cross_entropy n-d grad", g, eg, dtype, isa, scale)
    # sample_weight broadcasts to the items' shape
    with np.errstate(all="raise"):
        a = lk.cross_entropy(x, t, axis=2, sample_weight=sw[:, :1, :], reduction="none")
    check_items(
        "cross_entropy n-d",
        a,
        O.cross_entropy(
            x, t, axis=2, sample_weight=np.broadcast_to(sw[:, :1, :], t.shape), reduction="none"
        ),
        dtype,
        isa,
    )
    yb = (rng.random(x.shape) < 0.5).astype(dtype)
    pw = rng.uniform(0.5, 2, 4).astype(dtype)
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            loss, g = lk.binary_cross_entropy_with_logits_with_grad(
                x, yb, pos_weight=pw, reduction=reduction
            )
        check_loss(
            "bce_with_logits n-d",
            loss,
            O.bce_with_logits(x, yb, pos_weight=pw, reduction=reduction),
            dtype,
            isa,
            reduction,
        )
        eg, scale = O.bce_with_logits_grad(
            x, yb, pos_weight=pw, reduction=reduction, with_scale=True
        )
        check_grad("bce_with_logits n-d grad", g, eg, dtype, isa, scale)
    with np.errstate(all="raise"):
        g, h = lk.grad_hess(x, t, family="multiclass", axis=2)
    eg, eh, scale = O.grad_hess(x, t, family="multiclass", axis=2, with_scale=True)
    check_grad("grad_hess multiclass n-d grad", g, eg, dtype, isa, scale)
    check_grad("grad_hess multiclass n-d hess", h, eh, dtype, isa, scale)


# ----------------------------------------------------------------------------- validation

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
    with pytest.raises(ValueError, match=r"target: probabilities must not be NaN; nan at position \(0, 1\)"):
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
    with pytest.raises(ValueError, match=r"class indices of shape \(N,\).*logitkit\.multiclass"):
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


# ----------------------------------------------------------------------------- small calls


@pytest.mark.parametrize("shape", [(1, 10), (7, 3), (64, 512)])
@dtypes
def test_small_call_path_agrees_with_general(isa, dtype, shape):
    """Small C-contiguous (N, C) logits with int64 labels and no weights take one C++ call
    (register_losses.cpp, ce_hard_small); the same logits in Fortran order take the general
    gufunc path. Same kernels: identical gradients and per-item losses, reductions within 1e-6 /
    1e-13 (the small path sums in double, in order), and both against the oracle."""
    rng = np.random.default_rng(_seed("small", dtype.name, *shape))
    x = rng.normal(0, 3, shape).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[1::3] = -100  # ignored items
    for eps in (0.0, 0.1):
        for reduction in REDUCTIONS:
            kw = {"label_smoothing": eps, "reduction": reduction}
            with np.errstate(all="raise"):
                loss, grad = lk.cross_entropy_with_grad(x, t, **kw)
                loss_g, grad_g = lk.cross_entropy_with_grad(np.asfortranarray(x), t, **kw)
                loss_only = lk.cross_entropy(x, t, **kw)
                buf = np.full_like(x, np.nan)
                loss_b, grad_b = lk.cross_entropy_with_grad(x, t, out=buf, **kw)
                xi = x.copy()
                _, grad_i = lk.cross_entropy_with_grad(xi, t, out=xi, **kw)
            assert grad_b is buf and grad_i is xi
            np.testing.assert_array_equal(grad, grad_g)
            np.testing.assert_array_equal(grad_b, grad)
            assert np.array_equal(loss_b, loss, equal_nan=True)
            tol = 64 * float(np.finfo(dtype).eps)
            np.testing.assert_allclose(grad_i, grad, rtol=tol, atol=tol)
            assert type(loss) is type(loss_g) is type(loss_only)
            if reduction == "none":
                np.testing.assert_array_equal(loss, loss_g)
                np.testing.assert_array_equal(loss_only, loss)
            else:
                rtol = O.REDUCED_BOUNDS[dtype]
                np.testing.assert_allclose(loss, loss_g, rtol=rtol)
                np.testing.assert_allclose(loss_only, loss, rtol=rtol)
            exact = O.cross_entropy(x, t, **kw)
            check_loss("cross_entropy small call", loss, exact, dtype, isa, reduction)
            eg, scale = O.cross_entropy_grad(x, t, with_scale=True, **kw)
            check_grad("cross_entropy small call grad", grad, eg, dtype, isa, scale)


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
