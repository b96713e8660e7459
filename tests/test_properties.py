"""Property tests (hypothesis): identities that hold for every input, within the ulp bounds."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from registry import BOUNDS

hypothesis = pytest.importorskip("hypothesis")
import logitkit as lk
import oracle
import registry
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from oracle import ulp_errors

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]

prop_settings = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no slow "explain" phase
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _rows(dtype, lo=-1e4, hi=1e4, max_n=80, neginf=False):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    elems = st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False)
    if neginf:
        elems = st.one_of(elems, st.just(-np.inf))
    shape = st.tuples(st.integers(1, 4), st.integers(1, max_n))
    return hnp.arrays(dtype, shape, elements=elems)


def _dyadic_rows(dtype, max_n=60):
    """Multiples of 2^-10 in [-100, 100]: x + c is exact in float32 for integer |c| <= 10^4."""
    ints = st.integers(-100 * 1024, 100 * 1024)
    shape = st.tuples(st.integers(1, 3), st.integers(1, max_n))
    return hnp.arrays(np.int64, shape, elements=ints).map(lambda a: (a / 1024.0).astype(dtype))


# ----------------------------------------------------------------------------- shift invariance


@pytest.mark.parametrize("func", registry.names("row"))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_shift_invariance(isa, dtype, func):
    f = getattr(lk, func)
    bound = BOUNDS[func][dtype]

    @prop_settings
    @given(x=_dyadic_rows(dtype), c=st.integers(-10_000, 10_000))
    def prop(x, c):
        xc = x + dtype.type(c)
        assert np.array_equal(xc - dtype.type(c), x)  # the shift is exact
        a, b = f(x), f(xc)
        # Both are within `bound` of the same exact result.
        err = ulp_errors(b, a.astype(oracle.work_dtype(dtype)), dtype)
        assert err.max() <= 2 * bound, (x, c, err.max())

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_logsumexp_shift(isa, dtype):
    """logsumexp(x + c) = logsumexp(x) + c (compared through the oracle: the sum rounds)."""
    bound = BOUNDS["logsumexp"][dtype]

    @prop_settings
    @given(x=_dyadic_rows(dtype), c=st.integers(-10_000, 10_000))
    def prop(x, c):
        xc = x + dtype.type(c)
        got = lk.logsumexp(xc)
        err = ulp_errors(got, oracle.logsumexp(x) + c, dtype)
        assert err.max() <= bound, (x, c, err.max())

    prop()


# ----------------------------------------------------------------------------- sums, identities


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_softmax_rows_sum_to_one(isa, dtype):
    """|sum(softmax(x)) - 1| <= 4 ulp(1) * n (each entry <= 8 ulp of an entry < 1 for float64)."""
    eps = float(np.finfo(dtype).eps)

    @prop_settings
    @given(x=_rows(dtype, neginf=True))
    def prop(x):
        x[:, 0] = np.where(np.isinf(x[:, 0]), 0, x[:, 0])  # at least one finite entry per row
        y = lk.softmax(x)
        n = x.shape[1]
        for row in y.astype(np.float64):
            assert abs(math.fsum(row) - 1.0) <= 4 * eps * n, (x, row)
        assert np.all(y >= 0) and np.all(y <= 1)
        assert np.all(y[np.isneginf(x)] == 0)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_exp_log_softmax_is_softmax(isa, dtype):
    fi = np.finfo(dtype)
    eps = float(fi.eps)
    b_ls, b_sm = BOUNDS["log_softmax"][dtype], BOUNDS["softmax"][dtype]

    @prop_settings
    @given(x=_rows(dtype, lo=-300, hi=300))
    def prop(x):
        ls = lk.log_softmax(x).astype(oracle.work_dtype(dtype))
        sm = lk.softmax(x).astype(oracle.work_dtype(dtype))
        e = np.exp(ls)
        # ls is within b_ls ulp(ls) <= b_ls*eps*|ls| absolute: exp(ls) within that, relatively.
        rtol = b_ls * eps * (np.abs(ls) + 1) + b_sm * eps
        atol = 4 * float(fi.smallest_subnormal)
        assert np.all(np.abs(e - sm) <= rtol * sm + atol), (x, ls, sm)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_logsumexp_between_max_and_max_plus_log_n(isa, dtype):
    bound = BOUNDS["logsumexp"][dtype]

    @prop_settings
    @given(x=_rows(dtype, neginf=True))
    def prop(x):
        x[:, -1] = np.where(np.isinf(x[:, -1]), 1.5, x[:, -1])
        lse = lk.logsumexp(x)
        m = x.max(axis=-1)
        n = x.shape[-1]
        assert np.all(lse >= m), (x, lse, m)
        w = oracle.work_dtype(dtype).type
        upper = m.astype(w) + w(np.log(np.longdouble(n)))
        # the rounded result may exceed the exact upper bound by the error bound
        ulp = np.spacing(np.abs(upper.astype(dtype))).astype(w)
        assert np.all(lse.astype(w) <= upper + bound * ulp), (x, lse, upper)

    prop()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_softmax_is_x_minus_logsumexp(isa, dtype):
    """log_softmax(x) and x - logsumexp(x) agree where the subtraction does not cancel."""

    @prop_settings
    @given(x=_rows(dtype, lo=-1e3, hi=1e3))
    def prop(x):
        ls = lk.log_softmax(x).astype(np.longdouble)
        d = x.astype(np.longdouble) - lk.logsumexp(x, keepdims=True).astype(np.longdouble)
        # |d - ls| is at most the rounding of lse (relative to |lse|) plus ls's own error
        lse = np.abs(lk.logsumexp(x, keepdims=True)).astype(np.longdouble)
        eps = np.longdouble(np.finfo(dtype).eps)
        tol = 8 * eps * (lse + np.abs(x).astype(np.longdouble) + np.abs(ls)) + 1e-300
        assert np.all(np.abs(d - ls) <= tol), (x,)

    prop()


@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid", "softplus"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_elementwise_identities(isa, dtype, func):
    """sigmoid(x) + sigmoid(-x) = 1, softplus(x) - softplus(-x) = x, log_sigmoid = -softplus(-x)."""
    width = 32 if dtype == np.float32 else 64
    eps = float(np.finfo(dtype).eps)

    @prop_settings
    @given(
        x=hnp.arrays(
            dtype, st.integers(1, 200), elements=st.floats(-1e3, 1e3, width=width, allow_nan=False)
        )
    )
    def prop(x):
        y = getattr(lk, func)(x)
        if func == "sigmoid":
            s = y.astype(np.float64) + lk.sigmoid(-x).astype(np.float64)
            assert np.all(np.abs(s - 1) <= 2 * 4 * eps), x
        elif func == "log_sigmoid":
            ref = -lk.softplus(-x)
            assert ulp_errors(y, ref.astype(oracle.work_dtype(dtype)), dtype).max() <= 2 * 4, x
        else:
            y2 = lk.softplus(-x)
            d = y.astype(np.longdouble) - y2.astype(np.longdouble)
            big = np.maximum(np.abs(y), np.abs(y2)).astype(np.longdouble)
            assert np.all(np.abs(d - x.astype(np.longdouble)) <= 2 * 4 * eps * big), x

    prop()


# ------------------------------------------------------------ hard inputs, every option at once


def _row_oracle(name, z, mask):
    """softmax / log_softmax / logsumexp of the rows of z (float64 or longdouble, last axis) with
    the README's special values: NaN anywhere (unmasked) → NaN; +inf → NaN rows, logsumexp +inf;
    every entry -inf → NaN rows, logsumexp -inf; masked entries 0 / -inf (rows all masked too)."""
    z = np.where(mask, z, -np.inf)
    with np.errstate(all="ignore"):
        m = np.max(np.where(np.isnan(z), -np.inf, z), axis=-1, keepdims=True)
        has_nan = np.any(np.isnan(z), axis=-1, keepdims=True)
        has_pinf = m == np.inf
        all_masked = ~np.any(mask, axis=-1, keepdims=True)
        safe_m = np.where(np.isfinite(m), m, 0)
        # log Σ e^(z - m) = log1p(the sum without one largest entry): exact where it is tiny
        e = np.exp(z - safe_m)
        k = np.argmax(np.where(np.isnan(z), -np.inf, z), axis=-1)[..., None]
        np.put_along_axis(e, k, 0, axis=-1)
        d = np.log1p(np.sum(np.where(np.isnan(e), 0, e), axis=-1, keepdims=True))
        lse = safe_m + d
        lse = np.where(m == -np.inf, -np.inf, lse)
        lse = np.where(has_pinf, np.inf, lse)
        lse = np.where(has_nan, np.nan, lse)
        if name == "logsumexp":
            return lse[..., 0]
        lsm = (z - safe_m) - d
        bad = has_nan | has_pinf | ((m == -np.inf) & ~all_masked)
        lsm = np.where(bad, np.nan, lsm)
        lsm = np.where(all_masked, -np.inf, lsm)
        lsm = np.where(~mask, -np.inf, lsm)  # masked entries: 0 / -inf, whatever the row holds
        return lsm if name == "log_softmax" else np.exp(lsm)


def _hard_rows(draw, dtype, min_n=1, max_rows=3):
    """A 2-D array up to max_rows × 2100 (past the kernels' row-length switches), entries from a
    wide range with NaN, ±inf and -inf runs sprinkled in, as a contiguous, strided or broadcast
    view; rows of at least min_n entries."""
    n_rows = draw(st.integers(1, max_rows))
    n = draw(st.sampled_from([k for k in (1, 2, 7, 16, 33, 100, 257, 1000, 2100) if k >= min_n]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 30.0, 1e4, 1e30]))
    x = (rng.standard_normal((n_rows, 2 * n)) * scale).astype(dtype)
    for special in (np.nan, np.inf, -np.inf):
        if draw(st.booleans()):
            k = draw(st.integers(1, 3))
            x.flat[rng.integers(0, x.size, k)] = special
    layout = draw(st.sampled_from(["contiguous", "strided", "broadcast"]))
    if layout == "strided":
        return x[:, ::2]
    if layout == "broadcast":
        return np.broadcast_to(x[:1, :n], (n_rows, n))
    return np.ascontiguousarray(x[:, :n])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_row_functions_on_hard_inputs_with_every_option(isa, dtype, name):
    """NaN/±inf anywhere, long rows, huge magnitudes, where=, temperatures, either axis, strided and
    broadcast views, all at once, against a plain oracle (float64 / longdouble)."""
    work = oracle.work_dtype(dtype)
    fn = getattr(lk, name)
    bound = BOUNDS[name][dtype]

    @prop_settings
    @given(data=st.data())
    def run(data):
        x = _hard_rows(data.draw, dtype)
        axis = data.draw(st.sampled_from([-1, 0]))
        t = data.draw(st.sampled_from([1.0, 0.5, 3.0]))
        mask = None
        if data.draw(st.booleans()):
            rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
            mask = rng.random(x.shape) < 0.8
        kw = {"axis": axis, "temperature": t}
        if mask is not None:
            kw["where"] = mask
        with np.errstate(all="raise"):
            got = fn(x, **kw)
        xm = np.moveaxis(x, axis, -1).astype(work) / work.type(t)
        mm = np.ones(xm.shape, bool) if mask is None else np.moveaxis(mask, axis, -1)
        want = _row_oracle(name, xm, mm)
        if name != "logsumexp":
            want = np.moveaxis(want, -1, axis)
        assert got.shape == want.shape
        assert np.array_equal(np.isnan(got), np.isnan(want)), (name, kw)
        ok = ~np.isnan(want)
        assert np.array_equal(got[ok] == np.inf, want[ok] == np.inf)
        assert np.array_equal(got[ok] == -np.inf, want[ok] == -np.inf)
        fin = ok & np.isfinite(want)
        err = ulp_errors(got[fin], want[fin], dtype)
        if name == "logsumexp":  # relative error: a logsumexp near 0 cancels (docs/numerics.md)
            err = np.abs(got[fin].astype(work) - want[fin]) / np.maximum(np.abs(want[fin]), 1)
            assert np.all(err <= 4 * np.finfo(dtype).eps), (name, kw, err.max())
        else:
            assert np.all(err <= bound), (name, kw, err.max(), x, got, want)

    run()


# ------------------------------------------------------------------ the losses on hard inputs

# LOGITKIT_FUZZ_EXAMPLES (tests/test_fuzz.py's knob) raises the budget for a longer run.
loss_settings = settings(
    prop_settings, max_examples=int(os.environ.get("LOGITKIT_FUZZ_EXAMPLES", "0") or 0) or 20
)


def _special_rows(x2):
    """The rows (class axis last) whose softmax is NaN: a NaN, a +inf, or every entry -inf."""
    return np.isnan(x2).any(-1) | (x2 == np.inf).any(-1) | (x2 == -np.inf).all(-1)


def _check_loss(got, exact, dtype, reduction, what):
    """Per item: LOSS_BOUNDS ulps; a mean or sum: REDUCED_BOUNDS relative (docs/numerics.md)."""
    got = np.asarray(got)
    assert got.dtype == dtype, (what, got.dtype)
    if reduction == "none":
        assert got.shape == np.shape(exact), (what, got.shape)
        err = ulp_errors(got, exact, dtype)
        assert err.max(initial=0) <= registry.LOSS_BOUNDS[dtype], (what, got, exact)
    else:
        assert got.shape == (), what
        err = oracle.rel_error(got, exact)
        fi = np.finfo(dtype)
        e = np.asarray(exact, np.longdouble)
        if abs(e) < fi.smallest_normal and abs(got - e) <= 2 * fi.smallest_subnormal:
            return  # a subnormal output: 2 smallest subnormals absolute (docs/numerics.md)
        assert err <= registry.REDUCED_BOUNDS[dtype], (what, got, exact, err)


def _check_grad(got, exact, scale, dtype, what):
    assert got.dtype == dtype and got.shape == exact.shape, (what, got.dtype, got.shape)
    err = oracle.grad_errors(got, exact, dtype, scale)
    assert err.max(initial=0) <= 1, (what, err.max(), got, exact)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _rows_alone(call, rows, results, axis, loss_axis):
    """A row's loss and gradient do not depend on the other rows: the given rows computed as a
    batch of their own give the same bits (reduction='none'). results: (loss, the _with_grad
    function's loss, its gradient) of the whole batch; the rows lie along axis 0 of a result when
    its class axis (axis, or loss_axis for the losses) is -1, along axis 1 when it is 0."""

    def take(a, ax):
        return a[rows] if ax == -1 else a[:, rows]

    if not rows.any():
        return
    loss, loss2, grad = results
    alone = call(rows)
    assert _same_bits(alone[0], take(loss, loss_axis)), "a row's loss depends on the other rows"
    assert _same_bits(alone[1], take(loss2, loss_axis)), "a row's loss depends on the other rows"
    assert _same_bits(alone[2], take(grad, axis)), "a row's gradient depends on the other rows"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_cross_entropy_on_hard_inputs_with_every_option(isa, dtype, kind):
    """cross_entropy and cross_entropy_with_grad on rows with NaN/±inf, long rows, huge
    magnitudes, strided and broadcast views, either class axis, with weight, ignore_index,
    label_smoothing, sample_weight, temperature and every reduction, against the oracle; a special
    row makes only its own loss and gradient NaN, and the other rows keep their bits."""

    @loss_settings
    @given(data=st.data())
    def run(data):
        draw = data.draw
        x2 = _hard_rows(draw, dtype, min_n=2, max_rows=5)  # (items, classes)
        n_items, n_classes = x2.shape
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        axis = draw(st.sampled_from([-1, 0]))
        kw = {
            "label_smoothing": draw(st.sampled_from([0.0, 0.1, 1.0])),
            "temperature": draw(st.sampled_from([1.0, 0.5, 3.0])),
        }
        weight_kind = draw(st.sampled_from(["none", "positive", "with zeros"]))
        if weight_kind != "none":
            w = rng.uniform(0.25, 2.0, n_classes)
            if weight_kind == "with zeros":
                w[rng.random(n_classes) < 0.3] = 0.0
            kw["weight"] = w.astype(dtype)
        sw = rng.uniform(0.0, 2.0, n_items).astype(dtype) if draw(st.booleans()) else None
        ignored = np.zeros(n_items, bool)
        if kind == "hard":
            ignore_index = draw(st.sampled_from([-100, 0]))
            t2 = rng.integers(0, n_classes, n_items)
            if ignore_index == -100:
                t2[rng.random(n_items) < 0.3] = -100
            ignored = t2 == ignore_index
            kw["ignore_index"] = ignore_index
        else:
            y = rng.dirichlet(np.full(n_classes, 0.5), n_items)
            y[rng.random(y.shape) < 0.3] = 0.0  # exact zeros: 0·log p = 0, at -inf too
            y[:, 0] += y.sum(-1) == 0
            t2 = (y / y.sum(-1, keepdims=True)).astype(dtype)
        reduction = draw(st.sampled_from(["none", "sum", "mean"]))

        def call(rows, reduction=reduction):
            """The library on the given items (a boolean mask or a slice), class axis `axis`."""
            x, t = x2[rows], t2[rows]
            if axis == 0:
                x, t = x.T, (t if kind == "hard" else t.T)
            extra = {} if sw is None else {"sample_weight": sw[rows]}
            with np.errstate(all="raise"):
                loss = lk.cross_entropy(x, t, axis=axis, reduction=reduction, **kw, **extra)
                loss2, grad = lk.cross_entropy_with_grad(
                    x, t, axis=axis, reduction=reduction, **kw, **extra
                )
            return loss, loss2, grad

        results = loss, loss2, grad = call(slice(None))
        x = x2 if axis == -1 else x2.T
        t = t2 if axis == -1 or kind == "hard" else t2.T
        okw = dict(kw, axis=axis, reduction=reduction, sample_weight=sw)
        exact = oracle.cross_entropy(x, t, **okw)
        eg, scale = oracle.cross_entropy_grad(x, t, with_scale=True, **okw)
        # Special values (docs/numerics.md): a row whose softmax is NaN (a NaN, a +inf, or only
        # -inf) has a NaN loss and a NaN gradient row unless it is ignored (loss 0, gradient 0),
        # whatever its weights: a NaN stays NaN (test_loss_special_values.py). The oracle's rule
        # 0·x = 0 for a zero coefficient would give 0 for a zero-weighted row: the library's rule
        # is the one asserted here.
        special = _special_rows(x2) & ~ignored
        if reduction == "none":
            exact = np.where(special, np.nan, exact)
        elif special.any():
            exact = exact.dtype.type(np.nan)
        eg = np.moveaxis(np.moveaxis(eg, axis, -1).copy(), -1, axis)
        np.moveaxis(eg, axis, -1)[special] = np.nan
        _check_loss(loss, exact, dtype, reduction, kw)
        _check_loss(loss2, exact, dtype, reduction, kw)
        _check_grad(grad, eg, scale, dtype, kw)
        # ... and only that row: the others are finite and keep their bits without it
        assert np.isfinite(np.moveaxis(grad, axis, -1)[~special]).all()
        if reduction == "none":
            assert not np.isnan(loss[~special]).any() and not np.isnan(loss2[~special]).any()
            _rows_alone(call, ~special, results, axis, loss_axis=-1)  # one loss per row

    run()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bce_on_hard_inputs_with_every_option(isa, dtype):
    """binary_cross_entropy_with_logits and its _with_grad on NaN/±inf, long rows, huge
    magnitudes, strided and broadcast views (logits, targets, weights), either class axis, with
    weight, pos_weight, label_smoothing, temperature, bias (numbers or one per class) and every
    reduction, against the oracle; a NaN logit makes only its own element NaN, and the other rows
    keep their bits."""

    @loss_settings
    @given(data=st.data())
    def run(data):
        draw = data.draw
        x2 = _hard_rows(draw, dtype, max_rows=5)  # (items, classes)
        n_classes = x2.shape[1]
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        axis = draw(st.sampled_from([-1, 0]))
        y = rng.random(x2.shape)
        y[rng.random(y.shape) < 0.3] = 0.0
        y[rng.random(y.shape) < 0.3] = 1.0
        y = y.astype(dtype)
        if draw(st.booleans()):  # a broadcast view: every item the same targets
            y = np.broadcast_to(y[:1], x2.shape)

        def per_class(lo, hi):
            return rng.uniform(lo, hi, n_classes).astype(dtype)

        # weights as the library takes them: a 1-d one lies along the class axis, a full-shaped
        # one (or a broadcast view) has the logits' shape
        weight = draw(st.sampled_from(["none", "scalar", "class", "full", "broadcast"]))
        w = {
            "none": None,
            "scalar": dtype.type(1.5),
            "class": per_class(0.25, 2.0),
            "full": rng.uniform(0.25, 2.0, x2.shape).astype(dtype),
            "broadcast": np.broadcast_to(per_class(0.25, 2.0)[None], x2.shape),
        }[weight]
        pw = draw(st.sampled_from([None, "scalar", "class"]))
        pw = {None: None, "scalar": dtype.type(3.0), "class": per_class(0.1, 4.0)}[pw]
        temp = draw(st.sampled_from([1.0, 0.5, 3.0, "class"]))
        temp = per_class(0.5, 3.0).astype(np.float64) if temp == "class" else temp
        bias = draw(st.sampled_from([None, -0.4, "class"]))
        bias = per_class(-1.0, 1.0).astype(np.float64) if isinstance(bias, str) else bias
        eps = draw(st.sampled_from([0.0, 0.1]))
        reduction = draw(st.sampled_from(["none", "sum", "mean"]))

        def rows_of(v, rows):
            return v[rows] if isinstance(v, np.ndarray) and v.shape == x2.shape else v

        def orient(v):
            """A full-shaped array follows the logits to class axis 0; a 1-d one stays 1-d."""
            return v.T if axis == 0 and isinstance(v, np.ndarray) and v.ndim == 2 else v

        def call(rows, reduction=reduction):
            x = orient(x2[rows])
            kw = {
                "weight": orient(rows_of(w, rows)),
                "pos_weight": pw,
                "label_smoothing": eps,
                "temperature": temp,
                "bias": bias,
            }
            t = orient(rows_of(y, rows))
            with np.errstate(all="raise"):
                loss = lk.binary_cross_entropy_with_logits(
                    x, t, axis=axis, reduction=reduction, **kw
                )
                loss2, grad = lk.binary_cross_entropy_with_logits_with_grad(
                    x, t, axis=axis, reduction=reduction, **kw
                )
            return loss, loss2, grad

        results = loss, loss2, grad = call(slice(None))

        def oracle_form(v):
            """The oracle broadcasts NumPy's way: a per-class vector along axis 0 is a column."""
            v = orient(v)
            if axis == 0 and isinstance(v, np.ndarray) and v.ndim == 1:
                return v[:, None]
            return v

        okw = {
            "weight": oracle_form(w),
            "pos_weight": oracle_form(pw),
            "label_smoothing": eps,
            "reduction": reduction,
            "temperature": oracle_form(temp),
            "bias": 0.0 if bias is None else oracle_form(bias),
        }
        x, t = orient(x2), orient(y)
        exact = oracle.bce_with_logits(x, t, **okw)
        _check_loss(loss, exact, dtype, reduction, okw)
        _check_loss(loss2, exact, dtype, reduction, okw)
        eg, scale = oracle.bce_with_logits_grad(x, t, with_scale=True, **okw)
        _check_grad(grad, np.asarray(eg), scale, dtype, okw)

        # special values: a NaN logit makes its own element NaN and no other (docs/numerics.md);
        # ±inf logits have finite gradients
        nan = np.isnan(x)
        if reduction == "none":
            assert np.array_equal(np.isnan(loss), nan) and np.array_equal(np.isnan(loss2), nan)
        assert np.array_equal(np.isnan(grad), nan) and np.isfinite(grad[~nan]).all()
        if reduction == "none":
            clean = ~np.isnan(x2).any(-1)
            _rows_alone(call, clean, results, axis, loss_axis=axis)  # one loss per element

    run()


def test_cross_entropy_soft_gradient_of_a_long_confident_row(isa):
    """A confident row of 20,000 classes (p ≈ 1 at the top logit, target 0 there, uniform
    elsewhere): the top entry of the gradient is p·Σ_c y_c, and Σ_c y_c of the given (rounded)
    targets is what the oracle sums exactly. (The soft-target property test above reaches the same
    error on shorter rows with a larger LOGITKIT_FUZZ_EXAMPLES budget.)"""
    n = 20_000
    x = np.zeros((1, n))
    x[0, 0] = 40.0
    y = np.full((1, n), 1.0 / (n - 1))
    y[0, 0] = 0.0
    with np.errstate(all="raise"):
        loss, grad = lk.cross_entropy_with_grad(x, y, reduction="none")
    _check_loss(loss, oracle.cross_entropy(x, y, reduction="none"), x.dtype, "none", "loss")
    eg, scale = oracle.cross_entropy_grad(x, y, reduction="none", with_scale=True)
    _check_grad(grad, eg, scale, x.dtype, "gradient")
