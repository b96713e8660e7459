"""Differential fuzzing of every public function against the float64 / long double / mpmath oracle
(oracle.py), on every SIMD instruction set (the ``isa`` fixture).

What is fuzzed (REGISTRY below lists every function: a function added to logitkit is fuzzed once it
has an entry there, and test_registry_covers_the_public_api fails until it has one):

* test_layouts_dtypes_shapes - shapes (0-d, 0-size, long rows > 1024, up to 4 dimensions), every
  option (axis, tuple axes, where, temperature, keepdims, hard/soft labels, class and sample
  weights, ignore_index, label smoothing, reductions, pos_weight, ...), dtypes (float16/32/64,
  integers, bool, byte-swapped) and layouts (negative, broadcast, strided, unaligned, Fortran):
  the result of any layout / byte order is bit-identical to the result of a native C-contiguous
  copy and has the native dtype; integer and bool logits give the float64 result of the same
  values; float16 gives the float32 result rounded (float32 for the losses); float32/float64
  results meet the bounds of tests/registry.py against the oracle; nothing raises a
  floating-point error (every call runs under ``np.errstate(all="raise")``).
* test_every_dtype_and_layout - the same properties on one fixed case for every dtype x layout
  (no dtype left to the luck of the draw).
* test_special_value_at_every_lane - NaN, +-inf, values just outside and far outside exp's range,
  subnormals and -0.0 injected at every offset 0..63 of a vector group (and at 1024..1087 of long
  rows), alone and in pairs (an out-of-range value and a NaN in the same lane of different
  vectors of one group: i +- W, 2W, 3W): every element (elementwise functions) or row (row-wise
  functions) without an injected value is bit-identical to the result without injection, the
  injected elements / rows are correct against the oracle, and in a row a value whose exp is 0
  next to the row's max acts exactly as -inf on every other entry. These calls run under
  ``np.errstate(all="raise")`` too (the README: no floating-point error for any input).
* test_oracle_agrees_with_mpmath_at_the_injected_values - the elementwise oracle against mpmath
  at every injected value.

Budget: a fixed seed (derandomized) and 12 examples per function and ISA in CI.
Set LOGITKIT_FUZZ_EXAMPLES=N for a longer run (N examples per test, and N // 10 extra random base
seeds for the special-value batches), e.g. ``LOGITKIT_FUZZ_EXAMPLES=500 python -m pytest
tests/test_fuzz.py``; LOGITKIT_FUZZ_RANDOM=1 draws new examples on every run (no fixed seed);
LOGITKIT_FUZZ_DTYPES=f4,f8 draws only those (native) logits dtypes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import fuzz_strategies as fs
import logitkit as lk
import numpy as np
import oracle as O
import pytest
import registry as R
from fuzz_strategies import F16, F32, F64
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# ----------------------------------------------------------------------------- settings

FUZZ_EXAMPLES = int(os.environ.get("LOGITKIT_FUZZ_EXAMPLES", "0") or 0)
_DEFAULT_EXAMPLES = 12
settings.register_profile(
    "logitkit-fuzz",
    max_examples=FUZZ_EXAMPLES or _DEFAULT_EXAMPLES,
    deadline=None,  # long rows and the long double oracle take variable time
    database=None,  # the CI result must not depend on a local example database
    derandomize=not os.environ.get("LOGITKIT_FUZZ_RANDOM"),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    # the isa fixture is function-scoped on purpose (one ISA per run); inputs are drawn from a
    # seed, so Hypothesis' data generation is small even when arrays are long
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ = settings.get_profile("logitkit-fuzz")
EXTRA_SEEDS = FUZZ_EXAMPLES // 10
# LOGITKIT_FUZZ_DTYPES=f4,f8 (NumPy dtype strings) draws only those logits dtypes (a focused run)
FUZZ_DTYPES = [
    d
    for d in fs.ALL_DTYPES
    if not os.environ.get("LOGITKIT_FUZZ_DTYPES")
    or d.str.lstrip("<>=|") in os.environ["LOGITKIT_FUZZ_DTYPES"].split(",")
    and d.isnative
]


@pytest.fixture(autouse=True)
def _only_probability_warnings_ignored():
    """Random logits can look like probabilities to the multiclass/multilabel verbs' cheap check;
    that warning is not under test here. Every other warning stays an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=lk.multiclass.ProbabilitiesWarning)
        # a calibration fit on random labels may stop at a bound and say so
        warnings.filterwarnings("ignore", category=lk.multiclass.CalibrationWarning)
        yield


# ----------------------------------------------------------------------------- checks


@dataclass
class Check:
    """One output's expected value: ``kind`` is 'ulp' (bound in ulps), 'grad' (oracle_losses
    grad_errors <= 1, with ``scale``), 'reduced' (relative error), or 'equal' (exact)."""

    exact: object
    kind: str
    bound: object = None
    scale: object = None


def _ulp(name):
    return lambda exact: Check(exact, "ulp", R.BOUNDS[name])


def _check(name, got, chk: Check, dt: np.dtype):
    got = np.asarray(got)
    if chk.kind == "equal":
        assert np.array_equal(got, chk.exact), f"{name}: got {got!r}, expected {chk.exact!r}"
        return
    exact = np.asarray(chk.exact)
    assert got.shape == exact.shape, f"{name}: shape {got.shape}, expected {exact.shape}"
    if chk.kind == "reduced":
        err = O.rel_error(got, exact)
        # (a result below the dtype's range: its rounding to 0 or a subnormal, whatever relative
        # error that is, e.g. a float32 mean of 8e-52 is 0)
        if dt in (F32, F64):
            with np.errstate(all="ignore"):
                diff = abs(float(got) - float(np.asarray(exact)[()]))
            if diff <= float(np.finfo(dt).smallest_subnormal):
                err = 0.0
        assert err <= R.REDUCED_BOUNDS[dt], (
            f"{name}: got {got!r}, exact {exact!r}, relative error {err:.3g}"
        )
        return
    if chk.kind == "grad":
        err = O.grad_errors(got, exact, dt, chk.scale)
        limit = 1.0
    else:
        bound = chk.bound[dt] if isinstance(chk.bound, dict) else chk.bound
        err = O.ulp_errors(got, exact, dt)
        limit = bound
    if err.size and float(err.max()) > limit:
        i = np.unravel_index(int(np.argmax(err)), err.shape)
        raise AssertionError(
            f"{name}: at {tuple(int(v) for v in i)} got {got[i]!r}, exact {exact[i]!r}, "
            f"error {float(err[i]):.3g} (limit {limit}; {int((err > limit).sum())} of {err.size} "
            "elements over)"
        )


def _loss_check(exact, reduction, dt):
    if reduction == "none":
        return Check(exact, "ulp", R.LOSS_BOUNDS)
    return Check(exact, "reduced")


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Fn:
    """One public function under fuzz.

    call(x, o, a) -> tuple of outputs; x the fuzzed logits (or gradient), o the drawn options,
    a the auxiliary inputs (targets, y, weights) from aux(shape, dtype, o).
    oracle(x, o, a) -> list of Check, one per output (None: no oracle; the layout, dtype and
    errstate properties are still checked).
    kind: 'elementwise' (each output element depends on its own input element), 'rowwise' (on its
    row along o['axis']), 'other' (losses reduced over everything, calibration).
    f16_out: the dtype float16 logits give (float16 for every function: the losses compute float16
    in float32 and round their results).
    """

    name: str
    kind: str
    call: Callable
    oracle: Callable | None
    opts: Callable  # shape -> strategy of option dicts
    aux: Callable = lambda shape, dt, o: {}
    min_ndim: int = 0
    min_class: int = 0  # the class axis needs at least this many entries
    one_class_error: bool = False  # a class axis of length 1 is an error (a binary model)
    f16_out: np.dtype = F16
    lanes: bool = True  # take part in the special-value test
    float_outputs: tuple = (0,)  # outputs whose dtype follows the logits' dtype
    f16_like_f32: bool = True  # float16 logits give the float32 result rounded (see nll_loss)
    special_rows_oracle: bool = True  # rows with an injected inf/NaN are checked against the oracle


def _rng(o, salt=0):
    return np.random.default_rng([int(o.get("seed", 0)), salt])


def _axis_st(shape):
    return st.sampled_from(list(range(len(shape))) + [-1]) if shape else st.just(-1)


def _ax(shape, o):
    return o["axis"] % len(shape) if shape else 0


# --- elementwise


def _no_opts(shape):
    return st.fixed_dictionaries({"seed": st.integers(0, 3)})


def _elem(name):
    f = R.BY_NAME[name].call
    ref = R.BY_NAME[name].oracle
    return Fn(
        name,
        "elementwise",
        lambda x, o, a: (f(x),),
        lambda x, o, a: [_ulp(name)(ref(x))],
        _no_opts,
    )


def _bwd_aux(shape, dt, o):
    r = _rng(o)
    return {"other": (r.random(shape) * 0.98 + 0.01).astype(dt)}


REGISTRY: list[Fn] = [_elem(n) for n in R.names("elementwise")]
REGISTRY += [
    Fn(
        "sigmoid_backward",  # fuzzed: grad; y = a sigmoid output
        "elementwise",
        lambda x, o, a: (lk.sigmoid_backward(x, a["other"]),),
        lambda x, o, a: [Check(O.sigmoid_backward(x, a["other"]), "grad")],
        _no_opts,
        _bwd_aux,
    ),
    Fn(
        "log_sigmoid_backward",  # fuzzed: the input x; grad in (0, 1)
        "elementwise",
        lambda x, o, a: (lk.log_sigmoid_backward(a["other"], x),),
        lambda x, o, a: [Check(O.log_sigmoid_backward(a["other"], x), "grad")],
        _no_opts,
        _bwd_aux,
    ),
]

# --- row-wise


def _row_opts(shape, tuple_axes=True, keepdims=False):
    axes = [-1] + list(range(len(shape)))
    if tuple_axes and len(shape) >= 2:
        axes += [(0, len(shape) - 1), None]
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "axis": st.sampled_from(axes),
            "where": st.sampled_from([None, None, "random", "true"]),
            "temperature": st.sampled_from([None, None, 0.5, 3.0, 1e-3]),
            "keepdims": st.booleans() if keepdims else st.just(False),
        }
    )


def _where(shape, o):
    if o["where"] is None:
        return None
    if o["where"] == "true":
        return np.ones(shape, bool)
    return _rng(o, 7).random(shape) < 0.8


def _to_rows(v, shape, axis):
    """v (x's shape) with the axes of ``axis`` merged into one last axis, and a function that
    undoes it for a row-shaped result (reduce=False) or gives the reduced shape."""
    nd = len(shape)
    axes = tuple(range(nd)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % nd for a in axes)
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + list(axes)
    lead = tuple(shape[i] for i in rest)
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    vr = np.transpose(v, perm).reshape(lead + (n,))

    def back(r):
        return np.transpose(r.reshape(tuple(shape[i] for i in perm)), np.argsort(perm))

    return vr, back, axes


def _row_oracle(name):
    def oracle(x, o, a):
        ref = getattr(O, name)
        w = _where(x.shape, o)
        t = o["temperature"]
        if x.ndim == 0:
            r = ref(x, where=w, temperature=t)
            return [_ulp(name)(r)]
        xr, back, axes = _to_rows(x, x.shape, o["axis"])
        wr = None if w is None else _to_rows(w, x.shape, o["axis"])[0]
        r = ref(xr, -1, where=wr, temperature=t)
        if name == "logsumexp":
            if o["keepdims"]:
                r = np.expand_dims(r, axes)
            return [_ulp(name)(r)]
        return [_ulp(name)(back(r))]

    return oracle


def _row(name, f=None, kw=None):
    f = f or getattr(lk, name)
    kw = kw or (lambda o: {})

    def call(x, o, a):
        opts = {"where": _where(np.shape(x), o), "temperature": o["temperature"]}
        if name == "logsumexp":
            opts["keepdims"] = o["keepdims"]
        return (f(x, axis=o["axis"], **opts, **kw(o)),)

    return call


REGISTRY += [
    Fn(n, "rowwise", _row(n), _row_oracle(n), lambda s, k=(n == "logsumexp"): _row_opts(s, True, k))
    for n in ("softmax", "log_softmax", "logsumexp")
]


def _mc_row(name, ref):
    f = getattr(lk.multiclass, name)

    def call(x, o, a):
        return (
            f(
                x,
                axis=o["axis"],
                temperature=1.0 if o["temperature"] is None else o["temperature"],
                where=_where(np.shape(x), o),
            ),
        )

    return Fn(
        f"multiclass.{name}",
        "rowwise",
        call,
        _row_oracle(ref),
        lambda s: _row_opts(s, False),
        min_ndim=1,
        one_class_error=True,
    )


REGISTRY += [_mc_row("proba", "softmax"), _mc_row("log_proba", "log_softmax")]


def _rowbwd_aux(shape, dt, o):
    r = _rng(o)
    y = O.softmax(r.normal(0, 2, shape).astype(dt), axis=_ax(shape, o)).astype(dt)
    return {"y": y, "logy": np.log(y.astype(np.float64)).astype(dt)}


def _row_scale(g, axis, reduce=np.max):
    """The scale of a backward rule's output: the size of the row's incoming gradient (max or sum
    of |g| over its finite entries), at least 1."""
    with np.errstate(all="ignore"):
        a = np.abs(np.asarray(g, np.float64))
        a = np.where(np.isfinite(a), a, 0.0)
        r = reduce(a, axis=axis, keepdims=True) if a.ndim else a
    return np.maximum(r, 1.0)


def _rowbwd_opts(shape):
    return st.fixed_dictionaries({"seed": st.integers(0, 3), "axis": _axis_st(shape)})


REGISTRY += [
    Fn(
        "softmax_backward",
        "rowwise",
        lambda x, o, a: (lk.softmax_backward(x, a["y"], axis=o["axis"]),),
        lambda x, o, a: [
            Check(
                O.softmax_backward(x, a["y"], axis=o["axis"]),
                "grad",
                scale=_row_scale(x, o["axis"]),
            )
        ],
        _rowbwd_opts,
        _rowbwd_aux,
        min_ndim=1,
        special_rows_oracle=False,
    ),
    Fn(
        "log_softmax_backward",
        "rowwise",
        lambda x, o, a: (lk.log_softmax_backward(x, a["logy"], axis=o["axis"]),),
        lambda x, o, a: [
            Check(
                O.log_softmax_backward(x, a["logy"], axis=o["axis"]),
                "grad",
                scale=_row_scale(x, o["axis"], np.sum),
            )
        ],
        _rowbwd_opts,
        _rowbwd_aux,
        min_ndim=1,
        special_rows_oracle=False,
    ),
]

# --- multi-class losses


def _ce_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "axis": _axis_st(shape),
            "soft": st.booleans(),
            "weight": st.booleans(),
            "ignore": st.booleans(),
            "label_smoothing": st.sampled_from([0.0, 0.0, 0.1, 1.0]),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
            "sample_weight": st.sampled_from([None, "items", "scalar"]),
        }
    )


def _ce_aux(shape, dt, o):
    r = _rng(o)
    ax = _ax(shape, o)
    C = shape[ax]
    items = shape[:ax] + shape[ax + 1 :]
    a = {
        "kw": {
            "axis": o["axis"],
            "label_smoothing": o["label_smoothing"],
            "reduction": o["reduction"],
        }
    }
    if o.get("soft"):
        p = r.random(shape) + 0.01
        p = p / p.sum(axis=ax, keepdims=True)
        a["target"] = p.astype(dt)
    else:
        t = r.integers(0, C, items)
        if o.get("ignore"):
            t = np.where(r.random(items) < 0.3, -100, t)
            a["kw"]["ignore_index"] = -100
        a["target"] = t.astype(np.int64)
    if o.get("weight"):
        a["kw"]["weight"] = (r.random(C) * 2 + 0.1).astype(dt)
    if o.get("sample_weight") == "items":
        a["kw"]["sample_weight"] = (r.random(items) * 3).astype(dt)
    elif o.get("sample_weight") == "scalar":
        a["kw"]["sample_weight"] = 0.5
    return a


def _oracle_kw(a):
    kw = dict(a["kw"])
    kw.pop("validate", None)
    return kw


def _ce_oracle(with_grad):
    def oracle(x, o, a):
        kw = _oracle_kw(a)
        dt = O.loss_work_dtype(x.dtype)
        checks = [_loss_check(O.cross_entropy(x, a["target"], **kw), o["reduction"], x.dtype)]
        if with_grad:
            g, s = O.cross_entropy_grad(x, a["target"], **kw, with_scale=True)
            checks.append(Check(g, "grad", scale=s))
        del dt
        return checks

    return oracle


def _ce(name, f, with_grad):
    def call(x, o, a):
        r = f(x, a["target"], **a["kw"])
        return tuple(r) if with_grad else (r,)

    return Fn(
        name,
        "rowwise",
        call,
        _ce_oracle(with_grad),
        _ce_opts,
        _ce_aux,
        min_ndim=1,
        min_class=2,  # one class is a binary model: an error
        float_outputs=(0, 1) if with_grad else (0,),
    )


REGISTRY += [
    _ce("cross_entropy", lk.cross_entropy, False),
    _ce("cross_entropy_with_grad", lk.cross_entropy_with_grad, True),
    _ce("multiclass.loss", lk.multiclass.loss, False),
    _ce("multiclass.loss_with_grad", lk.multiclass.loss_with_grad, True),
]


def _gh_mc_oracle(x, o, a):
    kw = _oracle_kw(a)
    kw.pop("reduction")
    g, h, s = O.grad_hess(x, a["target"], family="multiclass", **kw, with_scale=True)
    return [Check(g, "grad", scale=s), Check(h, "grad", scale=s)]


def _gh_opts(shape):
    return _ce_opts(shape).map(lambda o: {**o, "reduction": "none", "ignore": False})


def _gh_mc(name, f, fam):
    def call(x, o, a):
        kw = dict(a["kw"])
        kw.pop("reduction")
        kw.pop("ignore_index", None)
        return tuple(f(x, a["target"], **fam, **kw))

    return Fn(
        name,
        "rowwise",
        call,
        _gh_mc_oracle,
        _gh_opts,
        _ce_aux,
        min_ndim=1,
        min_class=2,  # one class is a binary model: an error
        float_outputs=(0, 1),
    )


REGISTRY += [
    _gh_mc("grad_hess(multiclass)", lk.grad_hess, {"family": "multiclass"}),
    _gh_mc("multiclass.grad_hess", lk.multiclass.grad_hess, {}),
]


def _nll_input(x, o):
    """nll_loss's input, built by the test: the log-probabilities of x in x's float dtype. Integer
    and bool logits take those of their float64 values, so that the integer case and its float64
    copy give nll_loss the same input (the oracle's work dtype depends on the input dtype)."""
    xf = x.astype(F64) if x.dtype.kind in "iub" else x
    return O.log_softmax(xf, axis=o["axis"]).astype(x.dtype if x.dtype.kind == "f" else F64)


def _nll_call(x, o, a):
    # The test builds nll_loss's input itself: its rounding to float16 may underflow, which is the
    # test's doing, not the library's, so only the nll_loss call runs under errstate(all="raise").
    with np.errstate(under="ignore"):
        lp = _nll_input(x, o)
    return (lk.nll_loss(lp, a["target"], **a["kw"]),)


def _nll_oracle(x, o, a):
    lp = _nll_input(x, o)
    return [_loss_check(O.nll_loss(lp, a["target"], **_oracle_kw(a)), o["reduction"], x.dtype)]


REGISTRY.append(
    Fn(
        "nll_loss",
        "rowwise",
        _nll_call,
        _nll_oracle,
        lambda s: _ce_opts(s).map(lambda o: {**o, "soft": False}),
        _ce_aux,
        min_ndim=1,
        min_class=2,  # one class is a binary model: an error
        lanes=False,
        f16_like_f32=False,
    )
)


def _mc_predict_oracle(x, o, a):
    xr = np.asarray(x).astype(np.float64)
    return [Check(np.argmax(xr, axis=o["axis"]), "equal")]


def _mc_topk_oracle(x, o, a):
    ax = o["axis"]
    xr = np.asarray(x).astype(O.loss_work_dtype(x.dtype))
    k = min(o["k"], x.shape[ax])
    idx = np.take(np.argsort(-xr, axis=ax, kind="stable"), np.arange(k), axis=ax)
    p = O.softmax(x, axis=ax, temperature=o["temperature"])
    return [Check(idx, "equal"), _ulp("softmax")(np.take_along_axis(p, idx, axis=ax))]


def _k_opts(shape, extra=None):
    d = {
        "seed": st.integers(0, 3),
        "axis": _axis_st(shape),
        "k": st.sampled_from([1, 2, 5]),
        "temperature": st.sampled_from([None, 2.0]),
    }
    d.update(extra or {})
    return st.fixed_dictionaries(d)


REGISTRY += [
    Fn(
        "multiclass.predict",
        "rowwise",
        lambda x, o, a: (lk.multiclass.predict(x, axis=o["axis"]),),
        _mc_predict_oracle,
        _k_opts,
        min_ndim=1,
        min_class=2,  # one class is a binary model: an error
        float_outputs=(),
        lanes=False,
    ),
    Fn(
        "multiclass.sample",  # greedy: deterministic (tests/test_sample.py tests the draws)
        "rowwise",
        lambda x, o, a: (
            lk.multiclass.sample(x, axis=o["axis"], temperature=0, top_k=o["k"], rng=0),
        ),
        _mc_predict_oracle,
        _k_opts,
        min_ndim=1,
        min_class=1,
        float_outputs=(),
        lanes=False,
    ),
    Fn(
        "multiclass.top_k",
        "rowwise",
        lambda x, o, a: lk.multiclass.top_k(
            x,
            min(o["k"], np.shape(x)[o["axis"]]),
            axis=o["axis"],
            temperature=o["temperature"] or 1.0,
        ),
        _mc_topk_oracle,
        _k_opts,
        min_ndim=1,
        min_class=2,  # one class is a binary model: an error
        float_outputs=(1,),
        lanes=False,
    ),
]

# --- multiclass.apply_penalties: elementwise given the previous tokens (tests/test_penalties.py
# has the Python-loop oracle; this one is the same definitions in NumPy float64)


def _pen_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "axis": _axis_st(shape),
            "pen_rep": st.sampled_from([1.0, 1.3, 0.6]),
            "pen_pres": st.sampled_from([0.0, 0.5]),
            "pen_freq": st.sampled_from([0.0, -0.2]),
            "pen_bias": st.sampled_from([None, "dict", "dense"]),
            "pen_counts": st.booleans(),
        }
    )


def _pen_aux(shape, dt, o):
    """Previous tokens (batch + (6,), padded with -1), their counts (the logits' layout), the
    bias as given and as a (mask, dense float64) pair."""
    r = _rng(o, 7)
    ax = _ax(shape, o)
    V = shape[ax] if shape else 1
    batch = shape[:ax] + shape[ax + 1 :]
    prev = r.integers(0, max(V, 1), batch + (6,))
    prev[(r.random(prev.shape) < 0.3) | (V == 0)] = -1
    cm = np.zeros(batch + (V,), np.int64)
    for b in np.ndindex(*batch):
        for t in prev[b]:
            if t >= 0:
                cm[b + (t,)] += 1
    has, dense, bias = np.zeros(V, bool), np.zeros(V), None
    if o.get("pen_bias", "dict") == "dict" and V:
        toks = r.choice(V, size=min(V, 3), replace=False)
        bias = {int(t): float(v) for t, v in zip(toks, r.uniform(-2, 2, toks.size))}
        has[toks], dense[toks] = True, [bias[int(t)] for t in toks]
    elif o.get("pen_bias") == "dense":
        dense = r.uniform(-2, 2, V)
        has[:], bias = True, dense
    return {
        "prev": prev,
        "counts": np.moveaxis(cm, -1, ax),
        "bias": bias,
        "has": has,
        "dense": dense,
    }


def _pen_call(x, o, a):
    hist = {"counts": a["counts"]} if o.get("pen_counts") else {"prev_tokens": a["prev"]}
    return (
        lk.multiclass.apply_penalties(
            x,
            **hist,
            repetition_penalty=o.get("pen_rep", 1.3),
            presence_penalty=o.get("pen_pres", 0.5),
            frequency_penalty=o.get("pen_freq", -0.2),
            logit_bias=a["bias"],
            axis=o["axis"],
        ),
    )


def _pen_oracle(x, o, a):
    ax = _ax(np.shape(x), o)
    y = np.moveaxis(np.asarray(x).astype(F64), ax, -1)
    c = np.moveaxis(a["counts"], ax, -1)
    r, p, f = o.get("pen_rep", 1.3), o.get("pen_pres", 0.5), o.get("pen_freq", -0.2)
    with np.errstate(all="ignore"):
        y = np.where(c > 0, np.where(y < 0, y * r, y / r), y)
        y = np.where(c > 0, y - (f * c + p), y)
        y = np.where(a["has"], y + a["dense"], y)
        exact = np.moveaxis(y, -1, ax).astype(x.dtype if x.dtype.kind == "f" else F64)
    return [Check(exact, "equal")]


REGISTRY.append(
    Fn(
        "multiclass.apply_penalties",
        "elementwise",
        _pen_call,
        _pen_oracle,
        _pen_opts,
        _pen_aux,
        min_ndim=1,
        f16_like_f32=False,  # float16 results round once from float64, not through float32
    )
)

# --- binary losses


# --- entropy and KL divergence


def _div_opts(reductions):
    def opts(shape):
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 3),
                "axis": _axis_st(shape),
                "temperature": st.sampled_from([1.0, 0.5, 3.0]),
                "reduction": st.sampled_from(reductions),
                "where": st.booleans(),
            }
        )

    return opts


def _div_aux(shape, dt, o):
    r = _rng(o, 1)
    a = {"q": (r.standard_normal(shape) * 3).astype(dt)}
    if o.get("where") and shape:
        a["where"] = r.random(shape) < 0.8
    return a


def _entropy(name, f, with_grad):
    def kw(o, a):
        return {
            "axis": o["axis"],
            "temperature": o["temperature"] or 1.0,
            "reduction": o["reduction"],
            "where": a.get("where"),
        }

    def call(x, o, a):
        r = f(x, **kw(o, a))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        checks = [_loss_check(O.entropy(x, **kw(o, a)), o["reduction"], x.dtype)]
        if with_grad:
            C = x.shape[_ax(x.shape, o)]
            scale = max(1.0, float(np.log(C))) / (o["temperature"] or 1.0)
            checks.append(Check(O.entropy_grad(x, **kw(o, a)), "grad", scale=scale))
        return checks

    return Fn(
        name,
        "other",
        call,
        oracle,
        _div_opts(["none", "mean", "sum"]),
        _div_aux,
        min_ndim=1,
        min_class=1,
        one_class_error=True,
        float_outputs=(0, 1) if with_grad else (0,),
    )


def _kl(name, f, with_grad):
    def kw(o):
        t = o["temperature"] or 1.0
        return {"axis": o["axis"], "temperature": t, "reduction": o["reduction"]}

    def call(x, o, a):
        r = f(x, a["q"], **kw(o))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        checks = [_loss_check(O.kl_divergence(x, a["q"], **kw(o)), o["reduction"], x.dtype)]
        if with_grad:
            g = O.kl_divergence_grad(x, a["q"], **kw(o))
            # (q - p)/T from p and q each within an ulp: the error bound of docs/numerics.md is
            # an ulp of the larger of p and q over T, twice the plain gradient target
            checks.append(Check(g, "grad", scale=2.0 / (o["temperature"] or 1.0)))
        return checks

    return Fn(
        name,
        "other",
        call,
        oracle,
        _div_opts(["batchmean", "sum", "none", "mean"]),
        _div_aux,
        min_ndim=1,
        min_class=1,
        one_class_error=True,
        float_outputs=(0, 1) if with_grad else (0,),
    )


def _js(name, f, with_grad):
    def kw(o):
        return {
            "axis": o["axis"],
            "temperature": o["temperature"] or 1.0,
            "reduction": o["reduction"],
        }

    def call(x, o, a):
        r = f(x, a["q"], **kw(o))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        checks = [_loss_check(O.js_divergence(x, a["q"], **kw(o)), o["reduction"], x.dtype)]
        if with_grad:
            g = O.js_divergence_grad(x, a["q"], **kw(o))
            checks.append(Check(g, "grad", scale=2.0 / (o["temperature"] or 1.0)))
        return checks

    return Fn(
        name,
        "other",
        call,
        oracle,
        _div_opts(["none", "mean", "sum"]),
        _div_aux,
        min_ndim=1,
        min_class=1,
        one_class_error=True,
        float_outputs=(0, 1) if with_grad else (0,),
    )


def _distill_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "axis": _axis_st(shape),
            "temperature": st.sampled_from([1.0, 0.5, 3.0]),
            "alpha": st.sampled_from([0.0, 0.5, 1.0]),
            "ignore": st.booleans(),
            "label_smoothing": st.sampled_from([0.0, 0.1]),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
        }
    )


def _distill_aux(shape, dt, o):
    a = _ce_aux(shape, dt, {**o, "soft": False, "weight": False, "sample_weight": None})
    a["q"] = (_rng(o, 1).standard_normal(shape) * 3).astype(dt)
    a["kw"] = {
        **a["kw"],
        "temperature": o["temperature"] or 1.0,
        "alpha": o["alpha"],
    }
    return a


def _distill(name, f, with_grad):
    def call(x, o, a):
        r = f(x, a["q"], a["target"], **a["kw"])
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        kw = _oracle_kw(a)
        checks = [
            _loss_check(O.distillation_loss(x, a["q"], a["target"], **kw), o["reduction"], x.dtype)
        ]
        if with_grad:
            g = O.distillation_loss_grad(x, a["q"], a["target"], **kw)
            t = kw["temperature"]
            # the KL gradient's 2-ulp bound (docs/numerics.md) times alpha·T, plus the CE part's
            checks.append(Check(g, "grad", scale=2.0 * kw["alpha"] * t + 1.0))
        return checks

    return Fn(
        name,
        "other",
        call,
        oracle,
        _distill_opts,
        _distill_aux,
        min_ndim=1,
        min_class=2,
        one_class_error=True,
        float_outputs=(0, 1) if with_grad else (0,),
    )


REGISTRY += [
    _entropy("entropy", lk.entropy, False),
    _entropy("entropy_with_grad", lk.entropy_with_grad, True),
    _entropy("multiclass.entropy", lk.multiclass.entropy, False),
    _kl("kl_divergence", lk.kl_divergence, False),
    _kl("kl_divergence_with_grad", lk.kl_divergence_with_grad, True),
    _js("js_divergence", lk.js_divergence, False),
    _js("js_divergence_with_grad", lk.js_divergence_with_grad, True),
    _distill("distillation_loss", lk.distillation_loss, False),
    _distill("distillation_loss_with_grad", lk.distillation_loss_with_grad, True),
]


# --- binary (multi-label) entropy and KL divergence, elementwise


def _bin_opts(reductions):
    def opts(shape):
        return st.fixed_dictionaries(
            {
                "seed": st.integers(0, 3),
                "temperature": st.sampled_from([1.0, 0.5, 3.0]),
                "reduction": st.sampled_from(reductions),
            }
        )

    return opts


def _bin_aux(shape, dt, o):
    return {"q": (_rng(o, 2).standard_normal(shape) * 4).astype(dt)}


def _binary_entropy(name, f, with_grad, min_ndim=0):
    def kw(o):
        return {"temperature": o["temperature"] or 1.0, "reduction": o["reduction"]}

    def call(x, o, a):
        r = f(x, **kw(o))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        checks = [_loss_check(O.binary_entropy(x, **kw(o)), o["reduction"], x.dtype)]
        if with_grad:
            checks.append(Check(O.binary_entropy_grad(x, **kw(o)), "grad", scale=1.0))
        return checks

    return Fn(
        name,
        "elementwise",
        call,
        oracle,
        _bin_opts(["none", "mean", "sum"]),
        _bin_aux,
        min_ndim=min_ndim,
        float_outputs=(0, 1) if with_grad else (0,),
    )


def _binary_kl(name, f, with_grad):
    def kw(o):
        return {"temperature": o["temperature"] or 1.0, "reduction": o["reduction"]}

    def call(x, o, a):
        r = f(x, a["q"], **kw(o))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        checks = [_loss_check(O.binary_kl_divergence(x, a["q"], **kw(o)), o["reduction"], x.dtype)]
        if with_grad:
            checks.append(Check(O.binary_kl_divergence_grad(x, a["q"], **kw(o)), "grad", scale=1.0))
        return checks

    return Fn(
        name,
        "elementwise",
        call,
        oracle,
        _bin_opts(["mean", "sum", "none", "batchmean"]),
        _bin_aux,
        float_outputs=(0, 1) if with_grad else (0,),
    )


def _ml_distill_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "temperature": st.sampled_from([1.0, 0.5, 3.0]),
            "alpha": st.sampled_from([0.0, 0.5, 1.0]),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
        }
    )


def _ml_distill_aux(shape, dt, o):
    r = _rng(o, 2)
    return {
        "q": (r.standard_normal(shape) * 4).astype(dt),
        "target": (r.random(shape) < 0.4).astype(dt),
    }


def _ml_distill(name, f, with_grad):
    def kw(o):
        return {
            "temperature": o["temperature"] or 1.0,
            "alpha": o["alpha"],
            "reduction": o["reduction"],
        }

    def call(x, o, a):
        r = f(x, a["q"], a["target"], **kw(o))
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        k = kw(o)
        T, al, red = k["temperature"], k["alpha"], k["reduction"]
        per = al * T * T * O.binary_kl_divergence(a["q"], x, temperature=T, reduction="none")
        g = al * T * T * O.binary_kl_divergence_grad(a["q"], x, temperature=T, reduction="none")
        if al < 1:
            W = np.asarray(per).dtype.type
            per = per + W(1 - al) * O.bce_with_logits(x, a["target"], reduction="none").astype(W)
            g = g + W(1 - al) * O.bce_with_logits_grad(x, a["target"], reduction="none").astype(W)
        mean = per.sum() / per.size if per.size else O._mean_of_nothing(np.asarray(per).dtype)
        val = {"none": per, "sum": per.sum(), "mean": mean}[red]
        checks = [_loss_check(val, red, x.dtype)]
        if with_grad:
            g = g / max(g.size, 1) if red == "mean" else g
            checks.append(Check(g, "grad", scale=2.0 * al * T + 1.0))
        return checks

    return Fn(
        name,
        "elementwise",
        call,
        oracle,
        _ml_distill_opts,
        _ml_distill_aux,
        min_ndim=1,
        float_outputs=(0, 1) if with_grad else (0,),
    )


REGISTRY += [
    _binary_entropy("binary_entropy", lk.binary_entropy, False),
    _binary_entropy("binary_entropy_with_grad", lk.binary_entropy_with_grad, True),
    _binary_entropy("multilabel.entropy", lk.multilabel.entropy, False, 1),
    _binary_kl("binary_kl_divergence", lk.binary_kl_divergence, False),
    _binary_kl("binary_kl_divergence_with_grad", lk.binary_kl_divergence_with_grad, True),
    _ml_distill("multilabel.distillation_loss", lk.multilabel.distillation_loss, False),
    _ml_distill(
        "multilabel.distillation_loss_with_grad", lk.multilabel.distillation_loss_with_grad, True
    ),
]


def _bce_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "soft": st.booleans(),
            "weight": st.sampled_from([None, "scalar", "class", "full"]),
            "pos_weight": st.sampled_from([None, "class"]),
            "label_smoothing": st.sampled_from([0.0, 0.0, 0.1]),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
        }
    )


def _bce_aux(shape, dt, o):
    r = _rng(o)
    y = r.random(shape) if o.get("soft") else (r.random(shape) < 0.3)
    a = {
        "target": np.asarray(y, dtype=dt),
        "kw": {"label_smoothing": o["label_smoothing"], "reduction": o["reduction"]},
    }
    C = shape[-1] if shape else 1
    w = o.get("weight")
    if w == "scalar":
        a["kw"]["weight"] = np.asarray(0.7, dt)
    elif w == "class" and shape:
        a["kw"]["weight"] = (r.random(C) * 2 + 0.1).astype(dt)
    elif w == "full":
        a["kw"]["weight"] = (r.random(shape) * 2 + 0.1).astype(dt)
    if o.get("pos_weight") == "class" and shape:
        a["kw"]["pos_weight"] = (r.random(C) * 3 + 0.1).astype(dt)
    return a


def _bce_oracle(with_grad):
    def oracle(x, o, a):
        kw = _oracle_kw(a)
        checks = [_loss_check(O.bce_with_logits(x, a["target"], **kw), o["reduction"], x.dtype)]
        if with_grad:
            g, s = O.bce_with_logits_grad(x, a["target"], **kw, with_scale=True)
            checks.append(Check(g, "grad", scale=s))
        return checks

    return oracle


def _bce(name, f, with_grad, min_ndim=0):
    def call(x, o, a):
        r = f(x, a["target"], **a["kw"])
        return tuple(r) if with_grad else (r,)

    return Fn(
        name,
        "elementwise",
        call,
        _bce_oracle(with_grad),
        _bce_opts,
        _bce_aux,
        min_ndim=min_ndim,
        float_outputs=(0, 1) if with_grad else (0,),
    )


REGISTRY += [
    _bce("binary_cross_entropy_with_logits", lk.binary_cross_entropy_with_logits, False),
    _bce(
        "binary_cross_entropy_with_logits_with_grad",
        lk.binary_cross_entropy_with_logits_with_grad,
        True,
    ),
    _bce("multilabel.loss", lk.multilabel.loss, False, 1),
    _bce("multilabel.loss_with_grad", lk.multilabel.loss_with_grad, True, 1),
]


def _gh_bin_oracle(x, o, a):
    kw = _oracle_kw(a)
    kw.pop("reduction")
    g, h, s = O.grad_hess(x, a["target"], family="binary", **kw, with_scale=True)
    return [Check(g, "grad", scale=s), Check(h, "grad", scale=s)]


def _gh_bin(name, f, fam, min_ndim=0):
    def call(x, o, a):
        kw = dict(a["kw"])
        kw.pop("reduction")
        return tuple(f(x, a["target"], **fam, **kw))

    return Fn(
        name,
        "elementwise",
        call,
        _gh_bin_oracle,
        lambda s: _bce_opts(s).map(lambda o: {**o, "reduction": "none"}),
        _bce_aux,
        min_ndim=min_ndim,
        float_outputs=(0, 1),
    )


REGISTRY += [
    _gh_bin("grad_hess(binary)", lk.grad_hess, {"family": "binary"}),
    _gh_bin("multilabel.grad_hess", lk.multilabel.grad_hess, {}, 1),
]


def _focal_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "soft": st.booleans(),
            "alpha": st.sampled_from([0.25, -1.0]),
            "gamma": st.sampled_from([0.0, 2.0, 0.5]),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
        }
    )


def _focal_aux(shape, dt, o):
    r = _rng(o)
    y = r.random(shape) if o.get("soft") else (r.random(shape) < 0.3)
    return {
        "target": np.asarray(y, dtype=dt),
        "kw": {"alpha": o["alpha"], "gamma": o["gamma"], "reduction": o["reduction"]},
    }


def _focal(with_grad):
    f = lk.sigmoid_focal_loss_with_grad if with_grad else lk.sigmoid_focal_loss

    def call(x, o, a):
        r = f(x, a["target"], **a["kw"])
        return tuple(r) if with_grad else (r,)

    def oracle(x, o, a):
        kw = a["kw"]
        checks = [_loss_check(O.sigmoid_focal_loss(x, a["target"], **kw), o["reduction"], x.dtype)]
        if with_grad:
            checks.append(Check(O.sigmoid_focal_loss_grad(x, a["target"], **kw), "grad"))
        return checks

    return Fn(
        f.__name__,
        "elementwise",
        call,
        oracle,
        _focal_opts,
        _focal_aux,
        float_outputs=(0, 1) if with_grad else (0,),
    )


REGISTRY += [_focal(False), _focal(True)]

# --- multi-label verbs


def _ml_opts(shape):
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 3),
            "axis": _axis_st(shape),
            "temperature": st.sampled_from([1.0, 1.0, 2.5, "class"]),
            "bias": st.sampled_from([0.0, 0.0, -1.5, "class"]),
            "complement": st.booleans(),
            "k": st.sampled_from([1, 3]),
            "threshold": st.sampled_from([0.5, 0.9, 0.0]),
        }
    )


def _ml_aux(shape, dt, o):
    r = _rng(o)
    C = shape[_ax(shape, o)] if shape else 1
    T = (r.random(C) * 2 + 0.5) if o["temperature"] == "class" else o["temperature"]
    b = (r.random(C) * 2 - 1) if o["bias"] == "class" else o["bias"]
    return {"T": T, "b": b}


def _ml_z(x, o, a):
    """x / T + b in the oracle's work dtype, per class along the axis."""
    ax = _ax(x.shape, o)
    W = O.loss_work_dtype(x.dtype)
    sh = (-1,) + (1,) * (x.ndim - 1 - ax)
    T = np.asarray(a["T"], W).reshape(sh) if np.ndim(a["T"]) else W.type(a["T"])
    b = np.asarray(a["b"], W).reshape(sh) if np.ndim(a["b"]) else W.type(a["b"])
    return np.asarray(x).astype(W) / T + b


def _ml_proba(name, log):
    f = getattr(lk.multilabel, name)

    def call(x, o, a):
        return (f(x, axis=o["axis"], temperature=a["T"], bias=a["b"], complement=o["complement"]),)

    def oracle(x, o, a):
        z = _ml_z(x, o, a)
        z = -z if o["complement"] else z
        with np.errstate(all="ignore"):
            r = O.log_sigmoid(z) if log else O.sigmoid(z)
        return [Check(r, "ulp", R.BOUNDS["log_sigmoid" if log else "sigmoid"])]

    return Fn(f"multilabel.{name}", "elementwise", call, oracle, _ml_opts, _ml_aux, min_ndim=1)


def _ml_predict_oracle(x, o, a):
    import mpmath

    z = _ml_z(x, o, a)
    # sigmoid(z) > t  <=>  z > logit(t); logit in mpmath (exact decision away from ties)
    t = o["threshold"]
    cut = np.inf if t == 1 else (-np.inf if t == 0 else float(mpmath.log(t / (1 - mpmath.mpf(t)))))
    return [Check(z > cut, "equal")]


def _ml_topk_oracle(x, o, a):
    ax = o["axis"]
    z = _ml_z(x, o, a)
    k = min(o["k"], x.shape[ax])
    idx = np.take(np.argsort(-z.astype(np.float64), axis=ax, kind="stable"), np.arange(k), axis=ax)
    return [Check(idx, "equal"), _ulp("sigmoid")(np.take_along_axis(O.sigmoid(z), idx, axis=ax))]


REGISTRY += [
    _ml_proba("proba", False),
    _ml_proba("log_proba", True),
    Fn(
        "multilabel.predict",
        "elementwise",
        lambda x, o, a: (
            lk.multilabel.predict(
                x, axis=o["axis"], threshold=o["threshold"], temperature=a["T"], bias=a["b"]
            ),
        ),
        _ml_predict_oracle,
        _ml_opts,
        _ml_aux,
        min_ndim=1,
        float_outputs=(),
    ),
    Fn(
        "multilabel.top_k",
        "rowwise",
        lambda x, o, a: lk.multilabel.top_k(
            x, min(o["k"], np.shape(x)[o["axis"]]), axis=o["axis"], temperature=a["T"], bias=a["b"]
        ),
        _ml_topk_oracle,
        _ml_opts,
        _ml_aux,
        min_ndim=1,
        min_class=1,
        float_outputs=(1,),
        lanes=False,
    ),
]

# --- calibration (no oracle: layouts, dtypes and errstate)


def _cal_aux_mc(shape, dt, o):
    r = _rng(o)
    ax = _ax(shape, o)
    return {"labels": r.integers(0, shape[ax], shape[:ax] + shape[ax + 1 :])}


def _cal_aux_ml(shape, dt, o):
    r = _rng(o)
    return {"labels": (r.random(shape) < 0.4).astype(np.int64)}


def _cal(mod, name, aux):
    f = getattr(getattr(lk, mod), name)

    def call(x, o, a):
        r = f(x, a["labels"], axis=o["axis"])
        return tuple(np.asarray(v) for v in r) if isinstance(r, tuple) else (np.asarray(r),)

    return Fn(
        f"{mod}.{name}",
        "other",
        call,
        None,
        _rowbwd_opts,
        aux,
        min_ndim=1,
        min_class=2,
        lanes=False,
        float_outputs=(),
    )


REGISTRY += [
    _cal(m, n, aux)
    for m, aux in (("multiclass", _cal_aux_mc), ("multilabel", _cal_aux_ml))
    for n in ("brier_score", "expected_calibration_error", "fit_temperature")
]

BY_NAME = {f.name: f for f in REGISTRY}
assert len(BY_NAME) == len(REGISTRY)

# Public names that are not numeric functions of logits (configuration, introspection, classes
# whose verbs are the module functions above).
NOT_FUZZED = R.NOT_MATH | {
    "grad_hess",  # grad_hess: registered per family
    "MultiClass",
    "MultiLabel",
    "PlattScaling",
    "ProbabilitiesWarning",
    "CalibrationWarning",
    "Sample",  # sample's result type (a NamedTuple), not a function
}


def test_registry_covers_the_public_api():
    """Every public function has a registry entry (a new function is fuzzed or this fails)."""
    names = set(BY_NAME)
    missing = [n for n in lk.__all__ if n not in NOT_FUZZED and n not in names]
    for mod in ("multiclass", "multilabel"):
        missing += [
            f"{mod}.{n}"
            for n in getattr(lk, mod).__all__
            if n not in NOT_FUZZED and f"{mod}.{n}" not in names
        ]
    assert {"grad_hess(multiclass)", "grad_hess(binary)"} <= names
    # and every function of tests/registry.py (grad_hess: one entry per family)
    missing += [n for n in R.names() if n != "grad_hess" and n not in names]
    assert not missing, f"public functions without a fuzz registry entry: {missing}"


# ----------------------------------------------------------------------------- helpers


def _compute_dtype(fn: Fn, dt: np.dtype) -> np.dtype:
    """The dtype logitkit computes and returns for logits of dtype dt (the expected behaviour:
    integers and bool in float64, float16 per fn.f16_out, any byte order as native)."""
    dt = fs.native(dt)
    if dt.kind in "iub":
        return F64
    if dt == F16:
        return fn.f16_out
    return dt


def _aux_dtype(fn: Fn, dt: np.dtype) -> np.dtype:
    cdt = _compute_dtype(fn, dt)
    return F16 if fs.native(dt) == F16 and cdt == F16 else cdt


def _cast_aux(a, dt):
    def c(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(dt)
        if isinstance(v, dict):
            return {k: c(w) for k, w in v.items()}
        return v

    return c(a)


def _call(fn, x, o, a):
    with np.errstate(all="raise"):
        out = fn.call(x, o, a)
    return tuple(np.asarray(v) for v in out)


def _same_bits(name, got, ref, what):
    assert len(got) == len(ref)
    for i, (g, r) in enumerate(zip(got, ref)):
        assert g.shape == r.shape, f"{name} output {i} ({what}): shape {g.shape} vs {r.shape}"
        if g.dtype.kind == "f" and r.dtype.kind == "f" and g.dtype != r.dtype:
            raise AssertionError(f"{name} output {i} ({what}): dtype {g.dtype} vs {r.dtype}")
        ok = np.array_equal(g, r, equal_nan=g.dtype.kind == "f")
        if ok and g.dtype.kind == "f":  # -0.0 and 0.0 differ in bits
            ok = np.array_equal(np.signbit(g), np.signbit(r))
        if not ok:
            bad = np.argwhere(~((g == r) | (np.isnan(g) & np.isnan(r))) if g.ndim else [[]])
            pos = tuple(int(v) for v in bad[0]) if len(bad) else ()
            raise AssertionError(
                f"{name} output {i} ({what}): not bit-identical at {pos}: {g[pos]!r} vs {r[pos]!r}"
            )


# ----------------------------------------------------------------------------- property 1


@st.composite
def _case(draw, fn: Fn):
    shape = draw(fs.shapes(min_ndim=fn.min_ndim))
    opts = draw(fn.opts(shape))
    if fn.min_class and shape:
        ax = opts["axis"] if isinstance(opts.get("axis"), int) else -1
        ax %= len(shape)
        if shape[ax] < fn.min_class:
            shape = shape[:ax] + (max(fn.min_class, 3),) + shape[ax + 1 :]
    if fn.one_class_error and shape:
        ax = (opts["axis"] if isinstance(opts.get("axis"), int) else -1) % len(shape)
        if shape[ax] == 1:
            shape = shape[:ax] + (2,) + shape[ax + 1 :]
    dtype = draw(st.sampled_from(FUZZ_DTYPES))
    layout = draw(st.sampled_from(fs.LAYOUTS))
    scale = draw(st.sampled_from(["unit", "moderate", "wide"]))
    seed = draw(st.integers(0, 2**16))
    return shape, opts, dtype, layout, scale, seed


@pytest.mark.parametrize("fn", REGISTRY, ids=lambda f: f.name)
def test_layouts_dtypes_shapes(isa, fn):
    @FUZZ
    @given(case=_case(fn))
    def prop(case):
        _run_case(fn, *case)

    prop()


@pytest.mark.parametrize("fn", REGISTRY, ids=lambda f: f.name)
def test_every_dtype_and_layout(isa, fn):
    """The same properties on one fixed (3, 17) case for every dtype x layout, so that no dtype
    depends on the luck of the draw; every failing combination is listed."""
    o = _lane_opts(fn, (3, 17))
    errors = []
    for dtype in fs.ALL_DTYPES:
        for layout in fs.LAYOUTS:
            try:
                _run_case(fn, (3, 17), o, dtype, layout, "moderate", 0)
            except (AssertionError, ArithmeticError, ValueError, TypeError) as e:
                errors.append(f"{dtype.str} {layout}: {type(e).__name__}: {str(e)[:300]}")
    assert not errors, f"{fn.name} on {isa}:\n" + "\n".join(errors)


def _run_case(fn, shape, o, dtype, layout, scale, seed):
    rng = np.random.default_rng(seed)
    x0 = fs.base_values(rng, shape, dtype, scale)
    ax_hint = o["axis"] if isinstance(o.get("axis"), int) else 0
    x = fs.lay_out(x0, dtype, layout, ax_hint)
    native = np.array(x, dtype=fs.native(dtype), order="C")  # (keeps 0-d arrays 0-d)
    cdt = _compute_dtype(fn, dtype)
    a = fn.aux(shape, _aux_dtype(fn, dtype), o)

    got = _call(fn, x, o, a)  # errstate(all="raise"): valid inputs raise no FP error
    for i in fn.float_outputs:
        assert got[i].dtype == cdt, (
            f"{fn.name} output {i}: dtype {got[i].dtype} for {dtype} logits, expected {cdt}"
        )
    # any layout and byte order: bit-identical to a native C-contiguous copy
    _same_bits(fn.name, got, _call(fn, native, o, a), f"{layout} {dtype.str} vs native copy")
    # integers and bool: the float64 result of the same values; float16: the float32 one
    if native.dtype.kind in "iub":
        _same_bits(fn.name, got, _call(fn, native.astype(F64), o, a), "integer vs float64")
    elif native.dtype == F16 and fn.f16_like_f32:
        ref = _call(fn, native.astype(F32), o, _cast_aux(a, F32))
        ref = tuple(r.astype(cdt) if i in fn.float_outputs else r for i, r in enumerate(ref))
        _same_bits(fn.name, got, ref, "float16 vs float32 rounded")
    elif fn.oracle is not None:
        for i, chk in enumerate(fn.oracle(native, o, a)):
            _check(f"{fn.name} output {i} {dtype.str} {shape} {o}", got[i], chk, cdt)


# ----------------------------------------------------------------------------- property 2


def _lane_cases(dtype, L, positions, long_row):
    """(row, [(position, value), ...]) cases: every special value alone at every position, and
    pairs (out-of-range value at i, NaN at i + d) in the same lane of another vector. Long rows
    (the long-row strategies) get the non-finite values and the farthest out-of-range ones alone."""
    cases = []
    specials = fs.special_values(dtype)
    oor = fs.out_of_range(dtype)
    if long_row:
        specials = [np.nan, np.inf, -np.inf] + oor[2:]
        oor = []
    else:
        oor = [oor[1], oor[2]]  # one near exp's range, one far outside, of either sign
    for v in specials:
        cases += [[(p, v)] for p in positions]
    for v in oor:
        for p in positions:
            for d in fs.PAIR_DISTANCES:
                q = p + d
                if positions[0] <= q <= positions[-1]:
                    cases.append([(p, v), (q, np.nan)])
    return cases


def _lane_batch(fn, dtype, L, positions, seed):
    """Rows of length L: an injected row after every clean row (clean rows check that a special
    value never reaches a neighbouring row)."""
    cases = _lane_cases(dtype, L, positions, L > fs.WINDOW)
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 4.0, (2 * len(cases), L)).astype(dtype)
    base[1::2] = base[1]  # every injected row starts from the same values (rows compare)
    x = base.copy()
    mask = np.zeros(x.shape, bool)
    for k, inj in enumerate(cases):
        for p, v in inj:
            x[2 * k + 1, p] = v
            mask[2 * k + 1, p] = True
    return base, x, mask, cases


def _lane_opts(fn, shape):
    """Fixed options for the special-value batches: the class axis last, the plain call, and for
    the losses unweighted per-item results ('none') so each item can be compared."""
    o = {
        "seed": 1,
        "axis": -1,
        "where": None,
        "temperature": None,
        "keepdims": False,
        "soft": False,
        "weight": None,
        "ignore": False,
        "label_smoothing": 0.0,
        "reduction": "none",
        "sample_weight": None,
        "pos_weight": None,
        "alpha": 0.25,
        "gamma": 2.0,
        "k": 3,
        "threshold": 0.5,
        "complement": False,
        "bias": 0.0,
    }
    if fn.name.startswith("multilabel."):
        o["temperature"] = 1.0
    return o


def _per_row(v, n_rows):
    """An output as (rows, ...) when it has the rows as its first axis, else None (reduced)."""
    return v if v.ndim >= 1 and v.shape[0] == n_rows else None


LANE_FNS = [f for f in REGISTRY if f.lanes]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn", LANE_FNS, ids=lambda f: f.name)
def test_special_value_at_every_lane(isa, fn, dtype):
    geometries = [(fs.WINDOW, list(range(fs.WINDOW)))]
    if fn.kind == "rowwise":  # the long-row strategies, injections past the first 1024 entries
        geometries.append((1100, list(range(1024, 1024 + fs.WINDOW))))
    for L, positions in geometries:
        for seed in range(1 + EXTRA_SEEDS):
            _lane_run(fn, dtype, L, positions, seed)


def _lane_run(fn, dtype, L, positions, seed):
    base, x, mask, cases = _lane_batch(fn, dtype, L, positions, seed)
    o = _lane_opts(fn, x.shape)
    a = fn.aux(x.shape, dtype, o)
    what = f"{fn.name} {dtype} on {lk.simd_target()}, rows of {L}"
    with np.errstate(all="raise"):
        ref = _call(fn, base, o, a)  # valid inputs: no FP error
    # no floating-point error for any input, special values included (README)
    got = _call(fn, x, o, a)
    injected_rows = mask.any(axis=1)
    for i, (g, r) in enumerate(zip(got, ref)):
        gr = _per_row(g, x.shape[0])
        if gr is None:
            continue
        if fn.kind == "elementwise" and g.shape == x.shape:
            keep = ~mask  # every element without an injected value
        else:
            keep = np.broadcast_to(~injected_rows.reshape((-1,) + (1,) * (g.ndim - 1)), g.shape)
        same = (g == r) | (np.isnan(g) & np.isnan(r)) if g.dtype.kind == "f" else g == r
        if g.dtype.kind == "f":
            same &= np.signbit(g) == np.signbit(r)
        bad = keep & ~same
        if bad.any():
            pos = tuple(int(v) for v in np.argwhere(bad)[0])
            row = pos[0]
            inj = f"injected {cases[row // 2]}" if row % 2 else "a clean row"
            raise AssertionError(
                f"{what}, output {i}: element {pos} ({inj}) differs from the call without "
                f"injected values: got {g[pos]!r}, expected {r[pos]!r}"
            )
    if fn.oracle is not None:
        chks = fn.oracle(x, o, a)
        # backward rules: a row with an infinite or NaN gradient entry is NaN as a whole, where
        # the formula's IEEE evaluation gives +-inf for some entries; only its neighbours count
        nonfinite = np.zeros(x.shape[0], bool)
        if not fn.special_rows_oracle:
            nonfinite = (mask & ~np.isfinite(x)).any(axis=1)
        for i, chk in enumerate(chks):
            if chk.kind == "equal":
                continue
            g = got[i]
            if nonfinite.any() and g.shape[:1] == nonfinite.shape:
                e = np.array(chk.exact)
                e[nonfinite] = g[nonfinite]
                chk = Check(e, chk.kind, chk.bound, chk.scale)
            _check_rows(f"{what}, output {i}", g, chk, dtype, cases)
    if fn.name in (
        "softmax",
        "log_softmax",
        "logsumexp",
        "multiclass.proba",
        "multiclass.log_proba",
    ):
        _negligible_acts_as_neginf(fn, x, mask, cases, got, o, a, what)


def _check_rows(name, got, chk, dtype, cases):
    try:
        _check(name, got, chk, dtype)
    except AssertionError as e:
        msg = str(e)
        try:
            row = int(msg.split(" at (")[1].split(",")[0].rstrip(")"))
            inj = cases[row // 2] if row % 2 else "none (a clean row)"
            msg += f"; injected in that row: {inj}"
        except (IndexError, ValueError):
            pass
        raise AssertionError(msg) from None


def _negligible_acts_as_neginf(fn, x, mask, cases, got, o, a, what):
    """A value whose exp(x - max) is exactly 0 gives every other entry of its row the bits that
    -inf at the same place gives (the math: it contributes nothing)."""
    dt = x.dtype
    neg = set(fs.negligible(dt))
    at = {}
    for k, inj in enumerate(cases):
        if len(inj) == 1:
            at[(inj[0][0], inj[0][1])] = 2 * k + 1
    for (p, v), row in at.items():
        if v not in neg:
            continue
        ref_row = at[(p, -np.inf)]
        for i, g in enumerate(got):
            gv, rv = g[row], g[ref_row]
            if gv.ndim:
                gv, rv = np.delete(gv, p), np.delete(rv, p)
            if not np.array_equal(gv, rv, equal_nan=True):
                j = int(np.argmax(gv != rv)) if gv.ndim else ()
                raise AssertionError(
                    f"{what}, output {i}: x[{p}] = {v} changes other entries of its row "
                    f"differently from x[{p}] = -inf: {gv[j]!r} vs {rv[j]!r}"
                )


# ----------------------------------------------------------------------------- the oracle itself


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_oracle_agrees_with_mpmath_at_the_injected_values(dtype):
    """The elementwise oracle (float64 / long double) at every special value the lane test
    injects, against mpmath at 200 bits: the reference is right where the kernels are stressed."""
    mpmath = pytest.importorskip("mpmath")
    xs = np.array([v for v in fs.special_values(dtype) if np.isfinite(v)], dtype)
    exact = {"sigmoid": [], "log_sigmoid": [], "softplus": []}
    with mpmath.workprec(200):
        for v in xs:
            m = mpmath.mpf(float(v))
            exact["sigmoid"].append(1 / (1 + mpmath.exp(-m)))
            exact["log_sigmoid"].append(-mpmath.log1p(mpmath.exp(-m)))
            exact["softplus"].append(mpmath.log1p(mpmath.exp(m)))
    for name, vals in exact.items():
        ref = getattr(O, name)(xs)
        mp = np.array([float(v) for v in vals])  # round to float64 (mpmath keeps subnormals)
        err = O.ulp_errors(ref.astype(dtype), mp, dtype)
        assert float(err.max()) <= 0.5 + 1e-9, (name, xs[int(np.argmax(err))], float(err.max()))
