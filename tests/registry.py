"""The one list of logitkit's math functions, for the tests.

Every public math function (and every ufunc of ``logitkit._core``) is described here once: its
name, its kind, how to call it (the public function and the raw ufuncs that compute it), the
dtypes it accepts, its oracle (tests/oracle.py: NumPy in a wider type, mpmath at the extremes),
its accuracy bound per dtype (docs/numerics.md, "The bounds") and its special values
(docs/numerics.md, "Special values").

The concern tests take their function lists from here (``names``, ``publics``, ``BOUNDS``):
test_accuracy, test_special_values, test_layouts, test_errors, test_threads, test_lane_isolation,
test_properties, test_backward, test_fuzz. test_registry.py checks that every ufunc of
``logitkit._core`` and every math function of ``logitkit.__all__`` has an entry, and runs every
entry's raw ufuncs and public function against its oracle on every ISA: a function added to
logitkit fails the suite until it is described here, and is then tested by all of them.

Also here: ``record`` and ``ERRORS``, the largest errors the tests measured, which conftest.py
prints at the end of the run next to the bounds of this table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import logitkit as lk
import numpy as np
import oracle
from logitkit import _core

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
KINDS = ("elementwise", "row", "row reduction", "backward", "loss")

# docs/numerics.md, "The bounds": per-item losses (ulps of the output dtype), reductions
# (relative error), gradients (oracle.GRAD_BOUNDS: ulps or absolute, whichever is met).
# float16 losses are computed in float32 and rounded once: half a float16 ulp plus float32's error
# (1 ulp per item; relative 2^-11 + 1e-6 for a mean or sum).
LOSS_BOUNDS = {F16: 1, F32: 8, F64: 16}
REDUCED_BOUNDS = {F16: 2.0**-11 + 1e-6, F32: 1e-6, F64: 1e-13}
GRAD_BOUNDS = oracle.GRAD_BOUNDS


@dataclass(frozen=True)
class Check:
    """One output of one call and what it must meet: ``measure`` is 'ulp' (``bound`` ulps) or
    'grad' (oracle.grad_errors <= 1, with ``scale``)."""

    what: str
    got: np.ndarray
    exact: np.ndarray
    measure: str
    bound: object = None
    scale: object = None
    ufunc: str | None = None  # the raw ufunc called, when it is one


@dataclass(frozen=True)
class Fn:
    """One function.

    name      the public name (``logitkit.<name>``) or, for an internal ufunc, its ``_core`` name
    kind      one of KINDS
    ufuncs    the ``_core`` ufuncs that compute it (each appears in ``raw_checks``)
    oracle    the oracle (tests/oracle.py: float64, longdouble or mpmath), called like the public
              function
    bounds    ulps of the output dtype per input dtype (per item for losses)
    dtypes    the float dtypes it returns for inputs of the same dtype (float16 is computed in
              float32 and rounded, by every function). bfloat16 (ml_dtypes), not listed here:
              transforms and gradients return bfloat16, losses and logsumexp float32
              (test_dtypes.py checks every entry with both narrow dtypes)
    specials  elementwise: input -> exact output; row-wise: special row -> output of its entries
              ('nan', '+inf', 'all -inf') or the reduction's value
    of        backward functions: the forward function
    public    False for the internal ufuncs (``_core._exp``, ``_core._log1p_unit``)
    mp_oracle an mpmath oracle at the extremes, where one is used
    example   (dtype, rng, shape) -> (args, kwargs) of a typical public call
    measures  per output of the public call: 'ulp' or 'grad'
    raw       (dtype, rng) -> the raw ufunc calls, as Checks
    grad_scale (args of the public call) -> the gradient's scale (oracle.grad_errors), if not 1
    logit_inputs the number of leading arguments that are logits (a divergence takes two)
    """

    name: str
    kind: str
    ufuncs: tuple[str, ...]
    oracle: Callable
    bounds: Mapping[np.dtype, float]
    example: Callable
    raw: Callable | None = None
    dtypes: tuple[np.dtype, ...] = (F16, F32, F64)
    specials: Mapping = field(default_factory=dict)
    of: str | None = None
    public: bool = True
    mp_oracle: Callable | None = None
    measures: tuple[str, ...] = ("ulp",)
    grad_scale: Callable | None = None
    logit_inputs: int = 1  # leading arguments that are logits (two for a divergence)

    @property
    def call(self) -> Callable:
        """The public function (``logitkit.<name>``), or the ufunc itself for an internal one."""
        return getattr(lk, self.name) if self.public else getattr(_core, self.name)

    @property
    def rowwise(self) -> bool:
        """Whether it works along a class axis (row, row reduction, their backward, the losses)."""
        if self.kind == "backward":
            return BY_NAME[self.of].rowwise
        return self.kind in ("row", "row reduction", "loss")


# ----------------------------------------------------------------------------- examples


def _x(dtype, rng, shape, scale=5.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _unary_example(dtype, rng, shape):
    return (_x(dtype, rng, shape),), {}


def _row_example(dtype, rng, shape):
    return (_x(dtype, rng, shape),), {"axis": -1}


def _grad_y_example(forward):
    def example(dtype, rng, shape):
        x = _x(dtype, rng, shape)
        return (_x(dtype, rng, shape, 1.0), getattr(lk, forward)(x)), {}

    return example


def _grad_x_example(dtype, rng, shape):
    return (_x(dtype, rng, shape, 1.0), _x(dtype, rng, shape)), {}


def _labels(rng, shape):
    return rng.integers(0, shape[-1], shape[:-1])


def _ce_example(dtype, rng, shape):
    return (_x(dtype, rng, shape, 3.0), _labels(rng, shape)), {"reduction": "none"}


def _nll_example(dtype, rng, shape):
    lp = oracle.log_softmax(_x(dtype, rng, shape, 3.0)).astype(dtype)
    return (lp, _labels(rng, shape)), {"reduction": "none"}


def _binary_example(dtype, rng, shape):
    y = rng.random(shape).astype(dtype)
    return (_x(dtype, rng, shape, 3.0), y), {"reduction": "none"}


def _grad_hess_example(dtype, rng, shape):
    return (_x(dtype, rng, shape, 3.0), _labels(rng, shape)), {"family": "multiclass"}


# ----------------------------------------------------------------------------- raw ufunc calls


def _raw_unary(name, ufunc, lo=None, hi=None):
    def raw(dtype, rng):
        x = _x(dtype, rng, (7, 37)) if lo is None else rng.uniform(lo, hi, (7, 37)).astype(dtype)
        yield Check(name, getattr(_core, ufunc)(x), BY_NAME[name].oracle(x), "ulp", ufunc=ufunc)

    return raw


def _raw_row(name):
    def raw(dtype, rng):
        x = _x(dtype, rng, (7, 37))
        exact = BY_NAME[name].oracle(x)
        yield Check(name, getattr(_core, name)(x), exact, "ulp", ufunc=name)
        where = rng.random(x.shape) < 0.8
        exact = BY_NAME[name].oracle(x, where=where, temperature=0.7)
        got = getattr(_core, name + "_ext")(x, where, 0.7)
        yield Check(name + " where+T", got, exact, "ulp", ufunc=name + "_ext")

    return raw


def _raw_backward(name):
    def raw(dtype, rng):
        (g, y), _ = BY_NAME[name].example(dtype, rng, (7, 37))
        got = getattr(_core, name)(g, y)
        yield Check(name, got, BY_NAME[name].oracle(g, y), "grad", ufunc=name)

    return raw


def _log_softmax_backward_scale(g, y):
    """g - exp(y)·Σg: exp(y) is rounded once in the working precision, so the result is held to
    the gradient bound or to 2 ulp of the product it subtracts, whichever is larger (as in
    test_backward): the gradient scale that makes grad_errors' absolute bound 2 ulp of it."""
    dtype = np.asarray(y).dtype
    w = oracle.work_dtype(dtype)
    with np.errstate(all="ignore"):
        prod = np.abs(np.exp(y.astype(w)) * np.sum(g.astype(w), -1, keepdims=True))
    return prod.astype(np.float64) * 2 * float(np.finfo(dtype).eps) / GRAD_BOUNDS[dtype][1]


def _raw_log_softmax_backward(dtype, rng):
    (g, y), _ = BY_NAME["log_softmax_backward"].example(dtype, rng, (7, 37))
    got = _core.log_softmax_backward(g, y)
    exact = oracle.log_softmax_backward(g, y)
    scale = _log_softmax_backward_scale(g, y)
    yield Check("log_softmax_backward", got, exact, "grad", None, scale, "log_softmax_backward")


def _raw_cross_entropy(with_grad):
    def raw(dtype, rng):
        shape = (7, 37)
        x = _x(dtype, rng, shape, 3.0)
        C = shape[-1]
        ones = np.ones(C, dtype)
        t = _labels(rng, shape)
        y = rng.dirichlet(np.ones(C), shape[0]).astype(dtype)
        one = dtype.type(1)
        zero = dtype.type(0)
        cases = [("hard", t, (ones, dtype.type(C), zero, one)), ("soft", y, (ones, zero, one))]
        for kind, target, rest in cases:
            uf = f"cross_entropy_{kind}" + ("_grad" if with_grad else "")
            for temp in (1.0, 1.7):  # the last operand: the temperature (float64)
                r = getattr(_core, uf)(x, target, *rest, temp)
                exact = oracle.cross_entropy(x, target, reduction="none", temperature=temp)
                loss = r[0] if with_grad else r
                yield Check(f"{uf} loss T={temp}", loss, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
                if with_grad:
                    eg = oracle.cross_entropy_grad(x, target, reduction="none", temperature=temp)
                    yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", ufunc=uf)

    return raw


def _raw_bce(with_grad):
    def raw(dtype, rng):
        (x, y), _ = _binary_example(dtype, rng, (7, 37))
        one, zero = dtype.type(1), dtype.type(0)
        uf = "bce_with_logits" + ("_grad" if with_grad else "")
        # the last two operands: temperature and bias (float64; 1 and 0: the plain kernel)
        for temp, bias in ((1.0, 0.0), (1.7, -0.4)):
            r = getattr(_core, uf)(x, y, one, one, zero, one, temp, bias)
            exact = oracle.bce_with_logits(x, y, reduction="none", temperature=temp, bias=bias)
            loss = r[0] if with_grad else r
            yield Check(f"{uf} loss T={temp}", loss, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = oracle.bce_with_logits_grad(
                    x, y, reduction="none", temperature=temp, bias=bias
                )
                yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", ufunc=uf)

    return raw


def _kl_example(dtype, rng, shape):
    return (_x(dtype, rng, shape, 3.0), _x(dtype, rng, shape, 3.0)), {"reduction": "none"}


def _raw_entropy(with_grad):
    def raw(dtype, rng):
        x = _x(dtype, rng, (7, 37), 3.0)
        uf = "entropy" + ("_grad" if with_grad else "")
        for temp in (1.0, 1.7):  # the last operand: the temperature (float64)
            r = getattr(_core, uf)(x, dtype.type(1), temp)
            exact = oracle.entropy(x, temperature=temp)
            h = r[0] if with_grad else r
            yield Check(f"{uf} T={temp}", h, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = oracle.entropy_grad(x, temperature=temp)
                yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", ufunc=uf)

    return raw


def _raw_kl(with_grad):
    def raw(dtype, rng):
        (x, y), _ = _kl_example(dtype, rng, (7, 37))
        uf = "kl_divergence" + ("_grad" if with_grad else "")
        for temp in (1.0, 1.7):
            r = getattr(_core, uf)(x, y, dtype.type(1), temp)
            exact = oracle.kl_divergence(x, y, temperature=temp, reduction="none")
            kl = r[0] if with_grad else r
            yield Check(f"{uf} T={temp}", kl, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = oracle.kl_divergence_grad(x, y, temperature=temp, reduction="sum")
                # (q - p)/T: within an ulp of max(p, q)/T (docs/numerics.md)
                yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", None, 2.0 / temp, ufunc=uf)

    return raw


def _raw_js(with_grad):
    def raw(dtype, rng):
        (x, y), _ = _kl_example(dtype, rng, (7, 37))
        uf = "js_divergence" + ("_grad" if with_grad else "")
        for temp in (1.0, 1.7):
            r = getattr(_core, uf)(x, y, dtype.type(1), temp)
            v = r[0] if with_grad else r
            exact = oracle.js_divergence(x, y, temperature=temp)
            yield Check(f"{uf} T={temp}", v, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = oracle.js_divergence_grad(x, y, temperature=temp)
                # q·(log(q/m) - KL(Q ‖ M))/(2T): within an ulp of 2·q/T, as the KL gradient
                yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", None, 2.0 / temp, ufunc=uf)

    return raw


def _distill_example(dtype, rng, shape):
    s, t = _x(dtype, rng, shape, 3.0), _x(dtype, rng, shape, 3.0)
    return (s, t, _labels(rng, shape)), {"temperature": 2.0, "alpha": 0.7, "reduction": "none"}


def _raw_distillation(with_grad):
    def raw(dtype, rng):
        (s, t, y), _ = _distill_example(dtype, rng, (7, 37))
        uf = "distillation" + ("_grad" if with_grad else "")
        for temp, a in ((1.0, 0.5), (2.5, 0.9)):
            r = getattr(_core, uf)(
                s, t, y, dtype.type(a * temp * temp), dtype.type(1 - a), dtype.type(0), temp
            )
            kw = {"temperature": temp, "alpha": a, "reduction": "none"}
            v = r[0] if with_grad else r
            exact = oracle.distillation_loss(s, t, y, **kw)
            yield Check(f"{uf} T={temp}", v, exact, "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = oracle.distillation_loss_grad(s, t, y, **kw)
                yield Check(
                    f"{uf} grad T={temp}", r[1], eg, "grad", None, 2.0 * a * temp + 1, ufunc=uf
                )

    return raw


def _binary_kl_example(dtype, rng, shape):
    return (_x(dtype, rng, shape, 4.0), _x(dtype, rng, shape, 4.0)), {"reduction": "none"}


def _raw_binary(name, with_grad):
    """The elementwise divergences' raw ufuncs: (inputs..., g, T) -> value[, g·gradient]."""

    def raw(dtype, rng):
        args = (_x(dtype, rng, (7, 37), 4.0),) + (
            (_x(dtype, rng, (7, 37), 4.0),) if "kl" in name else ()
        )
        uf = name + ("_grad" if with_grad else "")
        for temp in (1.0, 1.7):
            r = getattr(_core, uf)(*args, dtype.type(1), temp)
            f = getattr(oracle, name)
            kw = {"temperature": temp, "reduction": "none"}
            v = r[0] if with_grad else r
            yield Check(f"{uf} T={temp}", v, f(*args, **kw), "ulp", LOSS_BOUNDS[dtype], ufunc=uf)
            if with_grad:
                eg = getattr(oracle, name + "_grad")(*args, **kw)
                yield Check(f"{uf} grad T={temp}", r[1], eg, "grad", ufunc=uf)

    return raw


# ----------------------------------------------------------------------------- oracles


def _with_grad(loss, grad):
    """The oracle of a *_with_grad function: (loss, gradient)."""

    def f(*args, **kw):
        return loss(*args, **kw), grad(*args, **kw)

    return f


def _nan_special(lse_value):
    return {"nan": np.nan, "+inf": np.nan, "all -inf": np.nan, "lse": lse_value}


FUNCTIONS: list[Fn] = [
    # --- elementwise
    Fn(
        "sigmoid",
        "elementwise",
        ("sigmoid",),
        oracle.sigmoid,
        {F32: 3, F64: 4},
        _unary_example,
        raw=_raw_unary("sigmoid", "sigmoid"),
        specials={np.inf: 1.0, -np.inf: 0.0},
    ),
    Fn(
        "log_sigmoid",
        "elementwise",
        ("log_sigmoid",),
        oracle.log_sigmoid,
        {F32: 3, F64: 4},
        _unary_example,
        raw=_raw_unary("log_sigmoid", "log_sigmoid"),
        specials={np.inf: -0.0, -np.inf: -np.inf},
    ),
    Fn(
        "softplus",
        "elementwise",
        ("softplus",),
        oracle.softplus,
        {F32: 3, F64: 4},
        _unary_example,
        raw=_raw_unary("softplus", "softplus"),
        specials={np.inf: np.inf, -np.inf: 0.0},
    ),
    # --- row-wise
    Fn(
        "softmax",
        "row",
        ("softmax", "softmax_ext"),
        oracle.softmax,
        {F32: 4, F64: 8},
        _row_example,
        raw=_raw_row("softmax"),
        specials=_nan_special(None),
        mp_oracle=oracle._mp_logsumexp,
    ),
    Fn(
        "log_softmax",
        "row",
        ("log_softmax", "log_softmax_ext"),
        oracle.log_softmax,
        {F32: 4, F64: 8},
        _row_example,
        raw=_raw_row("log_softmax"),
        specials=_nan_special(None),
        mp_oracle=oracle._mp_logsumexp,
    ),
    Fn(
        "logsumexp",
        "row reduction",
        ("logsumexp", "logsumexp_ext"),
        oracle.logsumexp,
        {F32: 3, F64: 8},
        _row_example,
        raw=_raw_row("logsumexp"),
        specials={"nan": np.nan, "+inf": np.inf, "all -inf": -np.inf, "empty": -np.inf},
        mp_oracle=oracle._mp_logsumexp,  # rows where m/T + L cancels
    ),
    # --- backward
    Fn(
        "softmax_backward",
        "backward",
        ("softmax_backward",),
        oracle.softmax_backward,
        GRAD_BOUNDS,
        _grad_y_example("softmax"),
        raw=_raw_backward("softmax_backward"),
        of="softmax",
        measures=("grad",),
    ),
    Fn(
        "log_softmax_backward",
        "backward",
        ("log_softmax_backward",),
        oracle.log_softmax_backward,
        GRAD_BOUNDS,
        _grad_y_example("log_softmax"),
        raw=_raw_log_softmax_backward,
        grad_scale=_log_softmax_backward_scale,
        of="log_softmax",
        measures=("grad",),
    ),
    Fn(
        "sigmoid_backward",
        "backward",
        ("sigmoid_backward",),
        oracle.sigmoid_backward,
        GRAD_BOUNDS,
        _grad_y_example("sigmoid"),
        raw=_raw_backward("sigmoid_backward"),
        of="sigmoid",
        measures=("grad",),
    ),
    Fn(
        "log_sigmoid_backward",
        "backward",
        ("log_sigmoid_backward",),
        oracle.log_sigmoid_backward,
        GRAD_BOUNDS,
        _grad_x_example,
        raw=_raw_backward("log_sigmoid_backward"),
        of="log_sigmoid",
        measures=("grad",),
    ),
    # --- losses (docs/semantics.md)
    Fn(
        "cross_entropy",
        "loss",
        ("cross_entropy_hard", "cross_entropy_soft"),
        oracle.cross_entropy,
        LOSS_BOUNDS,
        _ce_example,
        raw=_raw_cross_entropy(False),
    ),
    Fn(
        "cross_entropy_with_grad",
        "loss",
        ("cross_entropy_hard_grad", "cross_entropy_soft_grad"),
        _with_grad(oracle.cross_entropy, oracle.cross_entropy_grad),
        LOSS_BOUNDS,
        _ce_example,
        raw=_raw_cross_entropy(True),
        measures=("ulp", "grad"),
    ),
    Fn("nll_loss", "loss", (), oracle.nll_loss, LOSS_BOUNDS, _nll_example),
    Fn(
        "binary_cross_entropy_with_logits",
        "loss",
        ("bce_with_logits",),
        oracle.bce_with_logits,
        LOSS_BOUNDS,
        _binary_example,
        raw=_raw_bce(False),
    ),
    Fn(
        "binary_cross_entropy_with_logits_with_grad",
        "loss",
        ("bce_with_logits_grad",),
        _with_grad(oracle.bce_with_logits, oracle.bce_with_logits_grad),
        LOSS_BOUNDS,
        _binary_example,
        raw=_raw_bce(True),
        measures=("ulp", "grad"),
    ),
    # --- entropy and divergences (docs/numerics.md, "Entropy and divergences")
    Fn(
        "entropy",
        "loss",
        ("entropy",),
        oracle.entropy,
        LOSS_BOUNDS,
        _row_example,
        raw=_raw_entropy(False),
    ),
    Fn(
        "entropy_with_grad",
        "loss",
        ("entropy_grad",),
        _with_grad(oracle.entropy, oracle.entropy_grad),
        LOSS_BOUNDS,
        _row_example,
        raw=_raw_entropy(True),
        measures=("ulp", "grad"),
    ),
    Fn(
        "kl_divergence",
        "loss",
        ("kl_divergence",),
        oracle.kl_divergence,
        LOSS_BOUNDS,
        _kl_example,
        raw=_raw_kl(False),
        logit_inputs=2,
    ),
    Fn(
        "kl_divergence_with_grad",
        "loss",
        ("kl_divergence_grad",),
        _with_grad(oracle.kl_divergence, oracle.kl_divergence_grad),
        LOSS_BOUNDS,
        _kl_example,
        raw=_raw_kl(True),
        measures=("ulp", "grad"),
        grad_scale=lambda *args: 2.0,
        logit_inputs=2,
    ),
    Fn(
        "js_divergence",
        "loss",
        ("js_divergence",),
        oracle.js_divergence,
        LOSS_BOUNDS,
        _kl_example,
        raw=_raw_js(False),
        logit_inputs=2,
    ),
    Fn(
        "js_divergence_with_grad",
        "loss",
        ("js_divergence_grad",),
        _with_grad(oracle.js_divergence, oracle.js_divergence_grad),
        LOSS_BOUNDS,
        _kl_example,
        raw=_raw_js(True),
        measures=("ulp", "grad"),
        grad_scale=lambda *args: 2.0,
        logit_inputs=2,
    ),
    Fn(
        "distillation_loss",
        "loss",
        ("distillation",),
        oracle.distillation_loss,
        LOSS_BOUNDS,
        _distill_example,
        raw=_raw_distillation(False),
        logit_inputs=2,
    ),
    Fn(
        "distillation_loss_with_grad",
        "loss",
        ("distillation_grad",),
        _with_grad(oracle.distillation_loss, oracle.distillation_loss_grad),
        LOSS_BOUNDS,
        _distill_example,
        raw=_raw_distillation(True),
        measures=("ulp", "grad"),
        grad_scale=lambda *args, **kw: 2.0 * 0.7 * 2.0 + 1,
        logit_inputs=2,
    ),
    Fn(
        "binary_entropy",
        "loss",
        ("binary_entropy",),
        oracle.binary_entropy,
        LOSS_BOUNDS,
        _unary_example,
        raw=_raw_binary("binary_entropy", False),
    ),
    Fn(
        "binary_entropy_with_grad",
        "loss",
        ("binary_entropy_grad",),
        _with_grad(oracle.binary_entropy, oracle.binary_entropy_grad),
        LOSS_BOUNDS,
        _unary_example,
        raw=_raw_binary("binary_entropy", True),
        measures=("ulp", "grad"),
    ),
    Fn(
        "binary_kl_divergence",
        "loss",
        ("binary_kl_divergence",),
        oracle.binary_kl_divergence,
        LOSS_BOUNDS,
        _binary_kl_example,
        raw=_raw_binary("binary_kl_divergence", False),
        logit_inputs=2,
    ),
    Fn(
        "binary_kl_divergence_with_grad",
        "loss",
        ("binary_kl_divergence_grad",),
        _with_grad(oracle.binary_kl_divergence, oracle.binary_kl_divergence_grad),
        LOSS_BOUNDS,
        _binary_kl_example,
        raw=_raw_binary("binary_kl_divergence", True),
        measures=("ulp", "grad"),
        logit_inputs=2,
    ),
    Fn(
        "sigmoid_focal_loss",
        "loss",
        (),
        oracle.sigmoid_focal_loss,
        LOSS_BOUNDS,
        _binary_example,
    ),
    Fn(
        "sigmoid_focal_loss_with_grad",
        "loss",
        (),
        _with_grad(oracle.sigmoid_focal_loss, oracle.sigmoid_focal_loss_grad),
        LOSS_BOUNDS,
        _binary_example,
        measures=("ulp", "grad"),
    ),
    Fn(
        "grad_hess",
        "loss",
        (),
        oracle.grad_hess,
        GRAD_BOUNDS,
        _grad_hess_example,
        measures=("grad", "grad"),
    ),
    # --- internal ufuncs: the kernels' own exp and log1p (log1p valid on [0, 1]; _log1p_exp_term:
    # the sigmoid family's, a polynomial in float lanes with FMA)
    Fn(
        "_exp",
        "elementwise",
        ("_exp",),
        lambda x: np.exp(np.asarray(x).astype(oracle.work_dtype(np.asarray(x).dtype))),
        {F32: 2, F64: 2},
        _unary_example,
        raw=_raw_unary("_exp", "_exp", -80.0, 80.0),
        specials={np.inf: np.inf, -np.inf: 0.0},
        public=False,
    ),
    Fn(
        "_log1p_unit",
        "elementwise",
        ("_log1p_unit",),
        lambda x: np.log1p(np.asarray(x).astype(oracle.work_dtype(np.asarray(x).dtype))),
        {F32: 2, F64: 2},
        _unary_example,
        raw=_raw_unary("_log1p_unit", "_log1p_unit", 0.0, 1.0),
        public=False,
    ),
    Fn(
        "_log1p_exp_term",
        "elementwise",
        ("_log1p_exp_term",),
        lambda x: np.log1p(np.asarray(x).astype(oracle.work_dtype(np.asarray(x).dtype))),
        {F32: 1.3, F64: 2},  # (float: the polynomial's worst over every float in [0, 1] is 1.243)
        _unary_example,
        raw=_raw_unary("_log1p_exp_term", "_log1p_exp_term", 0.0, 1.0),
        public=False,
    ),
]

BY_NAME: dict[str, Fn] = {f.name: f for f in FUNCTIONS}
assert len(BY_NAME) == len(FUNCTIONS)
assert all(f.kind in KINDS for f in FUNCTIONS)

# name -> {dtype: ulps}: the bound of every function with an ulp bound (docs/numerics.md)
BOUNDS: dict[str, Mapping[np.dtype, float]] = {
    f.name: f.bounds for f in FUNCTIONS if f.measures[0] == "ulp"
}


def names(*kinds: str, public: bool = True, rowwise: bool | None = None) -> list[str]:
    """The names of the functions of the given kinds (all kinds if none), in registry order."""
    return [
        f.name
        for f in FUNCTIONS
        if (not kinds or f.kind in kinds)
        and (f.public or not public)
        and (rowwise is None or f.rowwise == rowwise)
    ]


def publics(*kinds: str, rowwise: bool | None = None) -> list[Callable]:
    """The public functions (``logitkit.<name>``) of the given kinds, in registry order."""
    return [BY_NAME[n].call for n in names(*kinds, rowwise=rowwise)]


def raw_checks(fn: Fn, dtype, rng) -> Iterator[Check]:
    """Every raw ufunc of fn called once on a (7, 37) input, with its oracle."""
    if fn.raw is not None:
        yield from fn.raw(np.dtype(dtype), rng)


def public_checks(fn: Fn, dtype, rng, shape=(5, 19)) -> Iterator[Check]:
    """fn's public function on its example input, with its oracle, one Check per output."""
    args, kw = fn.example(np.dtype(dtype), rng, shape)
    got = fn.call(*args, **kw)
    exact = fn.oracle(*args, **kw)
    if len(fn.measures) == 1:
        got, exact = (got,), (exact,)
    scale = None if fn.grad_scale is None else fn.grad_scale(*args)
    for i, (g, e, m) in enumerate(zip(got, exact, fn.measures, strict=True)):
        b = fn.bounds.get(np.dtype(dtype))
        yield Check(f"{fn.name} output {i}", np.asarray(g), e, m, b, scale if m == "grad" else None)


# ----------------------------------------------------------------------------- the error record

# (function, quantity, dtype name, isa) -> the largest error measured: ulps for 'ulp' quantities,
# relative error for reductions, a fraction of the bound for gradients. conftest.py prints it.
ERRORS: dict[tuple[str, str, str, str], float] = defaultdict(float)


def record(func: str, dtype, isa: str, err: float, quantity: str = "other") -> None:
    """Keep the largest error measured for (func, quantity, dtype, isa) for the end-of-run report.
    func is a registry name (or a name that starts with one: 'cross_entropy hard')."""
    key = (func, quantity, np.dtype(dtype).name, isa)
    ERRORS[key] = max(ERRORS[key], float(err))


def bound_of(func: str, quantity: str, dtype) -> object:
    """The bound the report prints next to a recorded error ('' where it has none)."""
    d = np.dtype(dtype)
    if "(rel)" in quantity:
        return REDUCED_BOUNDS.get(d, "")
    if "(/bound)" in quantity or "(/unscaled bound)" in quantity:
        return 1
    if "per-item (ulp)" in quantity:
        return LOSS_BOUNDS.get(d, "")
    base = func.split(" ")[0]
    f = BY_NAME.get(base)
    if f is None or f.measures[0] != "ulp":
        return ""
    return f.bounds.get(d, "")


def order_key(func: str) -> tuple[int, str]:
    """Registry order of a recorded function name (names not in the registry last)."""
    base = func.split(" ")[0]
    return (list(BY_NAME).index(base) if base in BY_NAME else len(BY_NAME), func)


# Public names that are not math functions of logits: configuration, introspection, modules
# (the multiclass / multilabel verbs are fuzzed by test_fuzz.py against its own entries).
NOT_MATH = {
    "InvalidTargetError",  # an exception type, not a function
    "__version__",
    "cmake_dir",
    "include_dir",
    "get_num_threads",
    "set_num_threads",
    "simd_target",
    "simd_targets_available",
    "simd_targets_compiled",
    "multiclass",
    "multilabel",
    "ufuncs",
}
