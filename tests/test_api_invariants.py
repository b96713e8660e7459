"""Whole-API invariants, for every public callable of logitkit found by introspection.

The callables: the public names of ``logitkit`` and of its public submodules (``__all__``, and any
name defined in the module without a leading underscore), and the public methods of every class
among them. EXAMPLES gives each one example call (or a few) on inputs large enough that the
threaded loops split them into parts (300 rows of 1001 classes, far above the split grain), with
special rows inside. For every call:

(a) every input array keeps its bytes (out= variants included: the inputs that are not ``out``);
(b) no floating-point warning escapes: each call runs under ``np.errstate(all="raise")`` with
    every warning an error (the examples are chosen so that no documented UserWarning, such as the
    probabilities-as-logits warning, applies: any warning here is one that escaped);
(c) the result is bit-identical for 1, 2 and 5 threads, and an ``out=`` call writes the same bytes
    as the call without it.

A public callable without an entry in EXAMPLES, and not in NOT_NUMERIC with its reason, fails
test_every_public_callable_has_an_example: a new function is covered here or the suite is red.
The values themselves are checked against the oracle elsewhere (tests/registry.py and the concern
tests); these are the properties that must hold whatever the values are.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import logitkit as lk
import numpy as np
import oracle
import pytest
from logitkit import multiclass as mc
from logitkit import multilabel as ml
from test_entry_points import _methods

THREADS = (1, 2, 5)
ROWS, CLASSES = 300, 1001  # 300 × 1001 elements: many times the kernels' split grain

# The public submodules of logitkit whose callables are enumerated. A new public submodule fails
# test_the_public_submodules_are_enumerated until it is added here.
MODULES: tuple[types.ModuleType, ...] = (lk, lk.multiclass, lk.multilabel, lk.losses, lk.ufuncs)

# Public callables that compute nothing from arrays, each with the reason it is not tested here.
NOT_NUMERIC = {
    "logitkit.set_num_threads": "sets the thread count: the lever of (c), not a computation",
    "logitkit.get_num_threads": "reads the thread count; takes no array",
    "logitkit.simd_target": "names the active instruction set; takes no array",
    "logitkit.simd_targets_available": "lists instruction sets; takes no array",
    "logitkit.simd_targets_compiled": "lists instruction sets; takes no array",
    "logitkit.cmake_dir": "a path for CMake's find_package; takes no array",
    "logitkit.include_dir": "a path to the C++ headers; takes no array",
    "logitkit.InvalidTargetError": "an exception type",
    "logitkit.multiclass.CalibrationWarning": "a warning type",
    "logitkit.multiclass.ProbabilitiesWarning": "a warning type",
    "logitkit.multilabel.CalibrationWarning": "a warning type",
    "logitkit.multilabel.ProbabilitiesWarning": "a warning type",
    "logitkit.multiclass.MultiClass": (
        "a config class: constructing it computes nothing; its methods are enumerated and tested"
    ),
    "logitkit.multilabel.MultiLabel": (
        "a config class: constructing it computes nothing; its methods are enumerated and tested"
    ),
    "logitkit.multiclass.Sample": "the NamedTuple sample(logprobs=) returns; no methods of its own",
    "logitkit.multilabel.PlattScaling": (
        "the NamedTuple fit_temperature returns; no methods of its own"
    ),
    "logitkit.losses.explain_target_shape": (
        "a validation helper shared with logitkit.multiclass (not in losses.__all__): it raises on "
        "a misshapen target and returns nothing; its messages are tested with the loss errors"
    ),
}


# ----------------------------------------------------------------------------- enumeration


def _is_mutant(name: str) -> bool:
    """The copies of each function and method that a mutation-testing run adds (docs/testing.md)."""
    return "\u01c1" in name or "__mutmut" in name


def _module_names(mod: types.ModuleType) -> list[str]:
    """mod's public names: its __all__, and every callable defined in mod itself without a leading
    underscore (a function left out of __all__ is still public)."""
    names = set(getattr(mod, "__all__", ()))
    for n in dir(mod):
        obj = getattr(mod, n)
        if (
            not n.startswith("_")
            and not _is_mutant(n)
            and callable(obj)
            and getattr(obj, "__module__", None) == mod.__name__
        ):
            names.add(n)
    return sorted(names)


def public_callables() -> dict[str, Callable]:
    """Qualified name -> object, for every public callable (classes included) and every public
    method of a public class (as the function found on the class)."""
    found: dict[str, Callable] = {}
    for mod in MODULES:
        for n in _module_names(mod):
            obj = getattr(mod, n)
            if isinstance(obj, types.ModuleType) or not callable(obj):
                continue  # the submodules are enumerated in their turn; __version__ is a string
            found[f"{mod.__name__}.{n}"] = obj
            if isinstance(obj, type) and not issubclass(obj, BaseException):
                for m in _methods(obj):
                    found[f"{mod.__name__}.{n}.{m}"] = getattr(obj, m)
    return found


# ----------------------------------------------------------------------------- the inputs


@dataclass
class Inputs:
    """The arrays the examples read, of one float dtype. Row 5 holds a NaN, row 9 is all -inf;
    the variants below differ where a function documents that it rejects such rows."""

    x: np.ndarray  # logits with a NaN row (5) and an all -inf row (9)
    x_ranked: np.ndarray  # no NaN (row 5 holds a -inf instead), row 9 all -inf: ranking verbs
    x_sampled: np.ndarray  # every row has a finite entry and no NaN: sampling and its filters
    x_finite: np.ndarray  # finite, one confident row (fit_temperature needs finite logits)
    q: np.ndarray  # second logits (teacher, q), NaN in row 13 and row 17 all -inf
    g: np.ndarray  # an upstream gradient
    p: np.ndarray  # elementwise probabilities in (0, 1) (sigmoid_backward's y)
    soft: np.ndarray  # probability rows (soft targets, softmax_backward's y)
    log_probs: np.ndarray  # log_softmax(x) (nll_loss, log_softmax_backward's y)
    labels: np.ndarray  # int64 class labels drawn from softmax(x_finite), some -100 (ignored)
    multi: np.ndarray  # 0/1 multi-label targets drawn from sigmoid(x_finite)
    mask: np.ndarray  # where=
    weight: np.ndarray  # class weights
    pos_weight: np.ndarray
    bias: np.ndarray  # a per-class bias (multi-label)
    sample_weight: np.ndarray
    prev: np.ndarray  # previous tokens (apply_penalties)


def make_inputs(dtype, rows: int = ROWS, classes: int = CLASSES) -> Inputs:
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(20)
    base = rng.normal(0.0, 4.0, (rows, classes))
    base[7] *= 40.0  # a confident row
    x = base.copy()
    x[5, 17] = np.nan
    x[9] = -np.inf
    x_ranked = x.copy()
    x_ranked[5, 17] = -np.inf
    x_sampled = x_ranked.copy()
    x_sampled[9, classes // 2] = 1.0  # one token left in the row
    x_sampled[11, ::3] = -np.inf
    q = rng.normal(0.0, 4.0, (rows, classes))
    q[13, 2] = np.nan
    q[17] = -np.inf
    gumbel = -np.log(-np.log(rng.random((rows, classes))))
    labels = np.argmax(base + gumbel, axis=-1).astype(np.int64)  # calibrated: T = 1 fits
    labels[::41] = -100
    with np.errstate(over="ignore"):
        multi = rng.random(base.shape) < 1.0 / (1.0 + np.exp(-base))
    mask = rng.random(base.shape) < 0.9
    mask[9, classes // 2] = True  # x_sampled's one token of row 9 stays in where=
    with np.errstate(invalid="ignore"):
        log_probs = oracle.log_softmax(x)  # rows 5 and 9 NaN (docs/numerics.md, special values)
    return Inputs(
        x=x.astype(dtype),
        x_ranked=x_ranked.astype(dtype),
        x_sampled=x_sampled.astype(dtype),
        x_finite=base.astype(dtype),
        q=q.astype(dtype),
        g=rng.normal(0.0, 1.0, base.shape).astype(dtype),
        p=rng.uniform(0.0, 1.0, base.shape).astype(dtype),
        soft=rng.dirichlet(np.ones(classes), rows).astype(dtype),
        log_probs=log_probs.astype(dtype),
        labels=labels,
        multi=multi.astype(dtype),
        mask=mask,
        weight=rng.uniform(0.5, 2.0, classes).astype(dtype),
        pos_weight=rng.uniform(0.5, 3.0, classes).astype(dtype),
        bias=rng.normal(0.0, 0.3, classes).astype(dtype),
        sample_weight=rng.uniform(0.0, 2.0, rows).astype(dtype),
        prev=rng.integers(-1, classes, (rows, 16)),
    )


@dataclass(frozen=True)
class Call:
    args: tuple
    kwargs: dict = field(default_factory=dict)


def _c(*args, **kwargs) -> Call:
    return Call(args, kwargs)


# ----------------------------------------------------------------------------- the examples

L, MC, ML, UF = "logitkit.", "logitkit.multiclass.", "logitkit.multilabel.", "logitkit.ufuncs."

# Qualified name -> the example calls (the callable is found by its name). Each runs on inputs
# with special rows unless the function documents that it rejects them (x_ranked, x_sampled,
# x_finite above say which); several calls reach other paths (options, axis 0, reductions).
EXAMPLES: dict[str, Callable[[Inputs], list[Call]]] = {
    # --- elementwise, row-wise and backward functions
    L + "sigmoid": lambda d: [_c(d.x), _c(d.x[:, ::2])],
    L + "log_sigmoid": lambda d: [_c(d.x)],
    L + "softplus": lambda d: [_c(d.x)],
    L + "sigmoid_backward": lambda d: [_c(d.g, d.p)],
    L + "log_sigmoid_backward": lambda d: [_c(d.g, d.x)],
    L + "softmax": lambda d: [_c(d.x), _c(d.x, where=d.mask, temperature=0.7), _c(d.x, axis=0)],
    L + "log_softmax": lambda d: [_c(d.x), _c(d.x, where=d.mask, temperature=1.3)],
    L + "logsumexp": lambda d: [
        _c(d.x),
        _c(d.x, where=d.mask, temperature=1.3, keepdims=True),
        _c(d.x, axis=0),
    ],
    L + "softmax_backward": lambda d: [_c(d.g, d.soft)],
    L + "log_softmax_backward": lambda d: [_c(d.g, d.log_probs)],
    # --- losses
    L + "cross_entropy": lambda d: [
        _c(d.x, d.labels, weight=d.weight, label_smoothing=0.1),
        _c(d.x, d.soft, temperature=1.7, reduction="none"),
        _c(d.x.T, d.labels, axis=0, sample_weight=d.sample_weight, reduction="sum"),
    ],
    L + "cross_entropy_with_grad": lambda d: [
        _c(d.x, d.labels, weight=d.weight, label_smoothing=0.1),
        _c(d.x, d.soft, temperature=1.7, reduction="none"),
    ],
    L + "nll_loss": lambda d: [_c(d.log_probs, d.labels, weight=d.weight, reduction="none")],
    L + "binary_cross_entropy_with_logits": lambda d: [
        _c(d.x, d.multi, weight=d.weight, pos_weight=d.pos_weight),
        _c(d.x, d.p, label_smoothing=0.1, temperature=1.3, bias=d.bias, reduction="none"),
    ],
    L + "binary_cross_entropy_with_logits_with_grad": lambda d: [
        _c(d.x, d.multi, weight=d.weight, pos_weight=d.pos_weight),
        _c(d.x, d.p, temperature=0.8, reduction="none"),
    ],
    L + "sigmoid_focal_loss": lambda d: [_c(d.x, d.multi, reduction="mean")],
    L + "sigmoid_focal_loss_with_grad": lambda d: [_c(d.x, d.p, alpha=-1.0, gamma=1.5)],
    L + "grad_hess": lambda d: [
        _c(d.x, d.labels, family="multiclass", weight=d.weight),
        _c(d.x, d.multi, family="binary", pos_weight=d.pos_weight),
    ],
    # --- entropy and divergences
    L + "entropy": lambda d: [_c(d.x, where=d.mask, temperature=1.5)],
    L + "entropy_with_grad": lambda d: [_c(d.x, reduction="mean")],
    L + "kl_divergence": lambda d: [_c(d.x, d.q), _c(d.x, d.q, reduction="none", temperature=2)],
    L + "kl_divergence_with_grad": lambda d: [_c(d.x, d.q, temperature=2.0)],
    L + "js_divergence": lambda d: [_c(d.x, d.q)],
    L + "js_divergence_with_grad": lambda d: [_c(d.x, d.q, reduction="sum")],
    L + "distillation_loss": lambda d: [
        _c(d.x, d.q, d.labels, temperature=2.0, alpha=0.7, reduction="none"),
        _c(d.x, d.q, temperature=3.0),
    ],
    L + "distillation_loss_with_grad": lambda d: [
        _c(d.x, d.q, d.labels, temperature=2.0, alpha=0.7, label_smoothing=0.1)
    ],
    L + "binary_entropy": lambda d: [_c(d.x, temperature=1.5)],
    L + "binary_entropy_with_grad": lambda d: [_c(d.x, reduction="sum")],
    L + "binary_kl_divergence": lambda d: [_c(d.x, d.q, reduction="none")],
    L + "binary_kl_divergence_with_grad": lambda d: [_c(d.x, d.q, temperature=0.5)],
    # --- the raw ufuncs
    UF + "sigmoid": lambda d: [_c(d.x)],
    UF + "log_sigmoid": lambda d: [_c(d.x)],
    UF + "softplus": lambda d: [_c(d.x)],
    UF + "sigmoid_backward": lambda d: [_c(d.g, d.p)],
    UF + "log_sigmoid_backward": lambda d: [_c(d.g, d.x)],
    UF + "softmax": lambda d: [_c(d.x)],
    UF + "log_softmax": lambda d: [_c(d.x)],
    UF + "logsumexp": lambda d: [_c(d.x)],
    UF + "softmax_ext": lambda d: [_c(d.x, d.mask, 0.7)],
    UF + "log_softmax_ext": lambda d: [_c(d.x, d.mask, 1.3)],
    UF + "logsumexp_ext": lambda d: [_c(d.x, d.mask, 1.3)],
    UF + "softmax_backward": lambda d: [_c(d.g, d.soft)],
    UF + "log_softmax_backward": lambda d: [_c(d.g, d.log_probs)],
    # --- logitkit.multiclass
    MC + "proba": lambda d: [
        _c(d.x, temperature=1.3, where=d.mask),
        _c(d.x_sampled, temperature=0.8, top_k=50, top_p=0.9, min_p=0.01),  # filters: no NaN
    ],
    MC + "log_proba": lambda d: [_c(d.x, temperature=0.7)],
    MC + "entropy": lambda d: [_c(d.x, where=d.mask, reduction="sum")],
    MC + "predict": lambda d: [_c(d.x_ranked)],  # a NaN row has no most likely class: ValueError
    MC + "top_k": lambda d: [_c(d.x_ranked, 5, temperature=1.5)],  # as predict
    MC + "loss": lambda d: [
        _c(d.x, d.labels, weight=d.weight, label_smoothing=0.1, reduction="none"),
        _c(d.x, d.soft, temperature=1.3),
    ],
    MC + "loss_with_grad": lambda d: [
        _c(d.x, d.labels, weight=d.weight, sample_weight=d.sample_weight),
        _c(d.x, d.soft, reduction="none"),
    ],
    MC + "grad_hess": lambda d: [_c(d.x, d.labels, hess_scale="xgboost")],
    # fit_temperature needs finite logits (ValueError naming the row otherwise)
    MC + "fit_temperature": lambda d: [_c(d.x_finite, d.labels, sample_weight=d.sample_weight)],
    MC + "expected_calibration_error": lambda d: [_c(d.x_ranked, d.labels, n_bins=10)],
    MC + "brier_score": lambda d: [_c(d.x, d.labels), _c(d.x, d.soft, temperature=1.2)],
    MC + "sample": lambda d: [
        _c(d.x_sampled, temperature=0.8, top_p=0.9, rng=0),  # a NaN or all -inf row: ValueError
        _c(d.x_sampled, top_k=40, min_p=0.05, rng=1, logprobs=3, where=d.mask),
    ],
    MC + "apply_penalties": lambda d: [
        _c(d.x, d.prev, repetition_penalty=1.3, presence_penalty=0.5, frequency_penalty=0.2),
        _c(d.x, logit_bias=d.bias),
    ],
    # --- logitkit.multilabel
    ML + "proba": lambda d: [_c(d.x, temperature=1.3, bias=d.bias), _c(d.x, complement=True)],
    ML + "log_proba": lambda d: [_c(d.x, temperature=0.7), _c(d.x, complement=True)],
    ML + "entropy": lambda d: [_c(d.x, bias=d.bias, reduction="mean")],
    ML + "predict": lambda d: [_c(d.x, threshold=0.3, temperature=1.2)],
    ML + "top_k": lambda d: [_c(d.x_ranked, 5, bias=d.bias)],  # a NaN row: ValueError
    ML + "loss": lambda d: [
        _c(d.x, d.multi, weight=d.weight, pos_weight=d.pos_weight, reduction="none"),
        _c(d.x, d.p, label_smoothing=0.1, temperature=1.3, bias=d.bias),
    ],
    ML + "loss_with_grad": lambda d: [
        _c(d.x, d.multi, pos_weight=d.pos_weight),
        _c(d.x, d.p, reduction="none", temperature=0.8),
    ],
    ML + "grad_hess": lambda d: [_c(d.x, d.multi, weight=d.weight, bias=d.bias)],
    # fit_temperature needs finite logits (ValueError naming the row otherwise)
    ML + "fit_temperature": lambda d: [_c(d.x_finite, d.multi)],
    ML + "expected_calibration_error": lambda d: [_c(d.x, d.multi, n_bins=10)],
    ML + "brier_score": lambda d: [_c(d.x, d.multi, temperature=1.2, bias=d.bias)],
    ML + "distillation_loss": lambda d: [_c(d.x, d.q, d.multi, temperature=2.0, alpha=0.6)],
    ML + "distillation_loss_with_grad": lambda d: [_c(d.x, d.q, temperature=2.0)],
}


# The config objects' methods: each is its module's function with the object's options, so its
# example is that function's, with the options the object holds left to the object. A method with
# no module function of its name has no example (and fails the coverage test).
def _config(cls: type, d: Inputs):
    if cls is mc.MultiClass:
        return mc.MultiClass(weight=d.weight, label_smoothing=0.1, temperature=1.3)
    return ml.MultiLabel(
        weight=d.weight, pos_weight=d.pos_weight, threshold=0.4, temperature=1.2, bias=d.bias
    )


def _method_example(module_name: str, cls: type, method: str):
    fields = {f.name for f in dataclasses.fields(cls)}

    def example(d: Inputs) -> list[Call]:
        return [
            Call(c.args, {k: v for k, v in c.kwargs.items() if k not in fields})
            for c in EXAMPLES[module_name + method](d)
        ]

    return example


CONFIGS = {mc.MultiClass: MC, ml.MultiLabel: ML}
for _cls, _mod in CONFIGS.items():
    for _m in _methods(_cls):
        if _mod + _m in EXAMPLES:
            EXAMPLES[f"{_mod}{_cls.__name__}.{_m}"] = _method_example(_mod, _cls, _m)


def _resolve(name: str, d: Inputs) -> tuple[Callable, Callable]:
    """(the callable to call, the function whose signature it follows): a method is bound to a
    config object holding non-default options, and follows its module function."""
    owner, _, attr = name.rpartition(".")
    for cls, mod in CONFIGS.items():
        if owner == mod + cls.__name__:
            module_fn = public_callables()[mod + attr]
            return getattr(_config(cls, d), attr), module_fn
    obj = public_callables()[name]
    return obj, obj


# ----------------------------------------------------------------------------- helpers


def _arrays(obj, seen=None) -> list[np.ndarray]:
    """Every ndarray reachable from obj (arguments, keyword values, a config object's fields)."""
    out = [] if seen is None else seen
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _arrays(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _arrays(o, out)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _arrays(getattr(obj, f.name), out)
    elif isinstance(obj, types.MethodType):
        _arrays(obj.__self__, out)
    return out


def _leaves(r) -> list[np.ndarray]:
    """A result as a flat list of arrays (tuples, NamedTuples, config objects, scalars)."""
    if isinstance(r, (np.ndarray, np.generic, float, int, bool)):
        return [np.asarray(r)]
    if isinstance(r, (tuple, list)):
        return [a for v in r for a in _leaves(v)]
    if dataclasses.is_dataclass(r):
        return [a for f in dataclasses.fields(r) for a in _leaves(getattr(r, f.name))]
    if r is None:
        return []
    raise TypeError(f"a result of type {type(r).__name__}: add it to _leaves")


def _bits(r) -> list[tuple]:
    """Each array of a result as (dtype, shape, bytes): equal only when bit-identical (NaN
    payloads and the sign of zero included)."""
    return [(a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()) for a in _leaves(r)]


def _guarded(fn, call: Call, **extra):
    """fn(*args, **kwargs) with floating-point errors raised and every warning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return fn(*call.args, **call.kwargs, **extra)


def _takes_out(signature_of) -> bool:
    if isinstance(signature_of, np.ufunc):
        return True
    try:
        return "out" in inspect.signature(signature_of).parameters
    except (TypeError, ValueError):
        return False


def _out_target(r):
    """The array an out= call fills: the result, or the gradient of a (loss, gradient) pair."""
    return r if isinstance(r, np.ndarray) else r[-1]


@pytest.fixture
def restore_threads():
    n = lk.get_num_threads()
    yield
    lk.set_num_threads(n)


# ----------------------------------------------------------------------------- the tests


def test_the_public_submodules_are_enumerated():
    """A new public submodule of logitkit has public callables of its own: list it in MODULES."""
    subs = {
        obj
        for n in dir(lk)
        if not n.startswith("_")
        and isinstance(obj := getattr(lk, n), types.ModuleType)
        and obj.__name__.startswith("logitkit.")
    }
    assert subs == set(MODULES[1:])


def test_every_public_callable_has_an_example():
    """Every public callable has an example or a reasoned exclusion; an alias (``lk.losses.X`` is
    ``lk.X``) is covered by the example of the object it names."""
    found = public_callables()
    covered = {id(found[n]) for n in found if n in EXAMPLES}
    missing = sorted(
        n for n, obj in found.items() if n not in NOT_NUMERIC and id(obj) not in covered
    )
    assert missing == [], f"public callables without an entry in EXAMPLES or NOT_NUMERIC: {missing}"
    stale = sorted((set(EXAMPLES) | set(NOT_NUMERIC)) - set(found))
    assert stale == [], f"entries that name no public callable: {stale}"
    assert not set(EXAMPLES) & set(NOT_NUMERIC)


def test_the_enumeration_finds_what_it_must():
    """The introspection itself: known callables of each kind are found (a filter that found
    nothing would make the coverage test pass vacuously)."""
    found = public_callables()
    for name in (
        L + "softmax",
        L + "cross_entropy_with_grad",
        L + "losses.cross_entropy",
        UF + "softmax_ext",
        MC + "sample",
        MC + "MultiClass.loss_with_grad",
        ML + "PlattScaling",
        ML + "MultiLabel.fit_temperature",
    ):
        assert name in found, name


def _written(inputs, before) -> list[int]:
    """The positions (in the call's input list) of the inputs whose bytes changed."""
    return [i for i, (a, b) in enumerate(zip(inputs, before, strict=True)) if not _same(a, b)]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _differing(bits, first) -> list[str]:
    """Which outputs differ from the first run's, bit for bit."""
    if len(bits) != len(first):
        return [f"{len(bits)} outputs, not {len(first)}"]
    return [f"output {k}" for k, (u, v) in enumerate(zip(bits, first, strict=True)) if u != v]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_inputs_kept_no_warning_and_same_bits_for_every_thread_count(name, dtype, restore_threads):
    d = make_inputs(dtype)
    for i, call in enumerate(EXAMPLES[name](d)):
        fn, sig = _resolve(name, d)
        inputs = _arrays((call.args, call.kwargs, fn))
        before = [a.copy() for a in inputs]
        first = None
        for n in THREADS:
            lk.set_num_threads(n)
            r = _guarded(fn, call)
            assert _written(inputs, before) == [], f"{name} call {i} wrote inputs ({n} threads)"
            bits = _bits(r)
            first = bits if first is None else first
            assert _differing(bits, first) == [], f"{name} call {i}: {n} threads differ from 1"
            if _takes_out(sig):
                out = np.full_like(_out_target(r), 7)
                r2 = _guarded(fn, call, out=out)
                assert _out_target(r2) is out, f"{name} call {i}: out= is not the result"
                assert _written(inputs, before) == [], f"{name} call {i} out=: wrote inputs"
                assert _differing(_bits(r2), bits) == [], f"{name} call {i}: out= differs"
