"""Whole-API checks of how the public functions are called, for every public callable of
tests/test_api_invariants.py's EXAMPLES (found by introspection):

- a parameter's declared default, given explicitly, changes nothing;
- every parameter name has one default across the API (DEFAULTS), or a listed difference;
- a number option may come as a NumPy scalar or a 0-d array: the same bits;
- dim= (torch's name) is refused with the axis= call to write;
- logits at the ends of each dtype's range raise no floating-point error under
  np.errstate(all="raise");
- float16 and bfloat16 inputs give the float32 computation (float64 where documented) rounded
  once to the narrow type, with every option of the examples.

The examples run on a small batch (SMALL): each function is called many times here."""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import numpy as np
import pytest
from logitkit import multiclass as mc
from logitkit import multilabel as ml
from test_api_invariants import (
    EXAMPLES,
    Call,
    _bits,
    _differing,
    _guarded,
    _leaves,
    _resolve,
    make_inputs,
    public_callables,
)

SMALL = (64, 64)  # rows, classes: the option tests call each function many times
L, MC, ML = "logitkit.", "logitkit.multiclass.", "logitkit.multilabel."

# Parameters whose declared default is not a fixed value: two calls differ by design.
FRESH_DEFAULTS = {"rng": "None draws fresh entropy from the OS for each call"}


def _signature(name: str):
    """The signature a caller sees: a config method's own (its options default to the object's),
    or the function's."""
    obj = public_callables()[name]
    return None if isinstance(obj, np.ufunc) else inspect.signature(obj)


def _names_with(param: str) -> list[str]:
    return sorted(n for n in EXAMPLES if (s := _signature(n)) is not None and param in s.parameters)


_PYTHON_FUNCTIONS = sorted(n for n in EXAMPLES if _signature(n) is not None)


def test_the_option_tests_see_the_functions():
    """The enumerations below are not empty: every Python-level function, and every one with
    dim=, is found."""
    assert len(_PYTHON_FUNCTIONS) > 60 and len(_names_with("dim")) > 40


@pytest.mark.parametrize("name", _PYTHON_FUNCTIONS)
def test_each_default_given_explicitly_changes_nothing(name):
    """A caller who writes out a parameter's declared default gets the same bits as one who leaves
    it out (a default that the code treats apart from the same value given, or a signature that
    documents a default the code does not use, fails here)."""
    d = make_inputs(np.float64, *SMALL)
    fn, _ = _resolve(name, d)
    params = inspect.signature(fn).parameters
    for i, call in enumerate(EXAMPLES[name](d)):
        base = _bits(_guarded(fn, call))
        given = set(list(params)[: len(call.args)]) | set(call.kwargs)
        for p in params.values():
            if p.default is inspect.Parameter.empty or p.name in given or p.name in FRESH_DEFAULTS:
                continue
            got = _bits(_guarded(fn, Call(call.args, {**call.kwargs, p.name: p.default})))
            assert _differing(got, base) == [], f"{name} call {i}: {p.name}={p.default!r} given"


def _as_numpy(v):
    """A Python number as the NumPy scalar and the 0-d array of the same value."""
    scalar = np.float64(v) if isinstance(v, float) else np.int64(v)
    return scalar, np.array(v)


@pytest.mark.parametrize("name", _PYTHON_FUNCTIONS)
def test_a_number_as_a_numpy_scalar_or_0d_array_gives_the_same_bits(name):
    """Every number option (temperature=0.7, top_k=50, ...) and positional number (top_k's k) may
    come as a NumPy scalar or a 0-d array, as a value read from an array does: the same bits."""
    d = make_inputs(np.float64, *SMALL)
    fn, _ = _resolve(name, d)
    numbers = 0
    for i, call in enumerate(EXAMPLES[name](d)):
        base = _bits(_guarded(fn, call))
        for key in [*range(len(call.args)), *call.kwargs]:
            v = call.args[key] if isinstance(key, int) else call.kwargs[key]
            if type(v) not in (int, float) or key == "rng":  # rng: a seed, read by NumPy
                continue
            numbers += 1
            for w in _as_numpy(v):
                args = tuple(w if j == key else a for j, a in enumerate(call.args))
                kwargs = {k: (w if k == key else a) for k, a in call.kwargs.items()}
                got = _bits(_guarded(fn, Call(args, kwargs)))
                assert _differing(got, base) == [], f"{name} call {i}: {key}={w!r} ({type(w)})"


@pytest.mark.parametrize("name", _names_with("dim"))
def test_dim_is_refused_with_the_axis_to_use(name):
    """torch's dim= names the class axis; logitkit's is axis=: every function that takes dim=
    (only to explain this) raises TypeError naming the axis= call to write instead."""
    d = make_inputs(np.float64, *SMALL)
    fn, _ = _resolve(name, d)
    call = EXAMPLES[name](d)[0]
    for dim in (1, -1):
        with pytest.raises(TypeError) as e:
            fn(*call.args, **call.kwargs, dim=dim)
        assert str(e.value) == (
            f"dim: logitkit names the class axis axis=, not dim= (torch's name); use axis={dim}"
        )


# The declared default of every parameter name, one value across the API: a user who learned
# temperature=1.0 or ignore_index=-100 in one function finds it in every other. Where a function
# differs by design, DIFFERENT lists it (by its name under logitkit: lk.losses.X is lk.X).
DEFAULTS = {
    "axis": -1,
    "dim": None,
    "temperature": 1.0,
    "bias": 0.0,
    "label_smoothing": 0.0,
    "ignore_index": -100,
    "validate": True,
    "weight": None,
    "pos_weight": None,
    "sample_weight": None,
    "where": None,
    "out": None,
    "keepdims": False,
    "reduction": "mean",
    "target": None,  # distillation: the hard-label term is optional
    "alpha": None,  # distillation: 1 without a target, 0.5 with one
    "gamma": 2.0,
    "hess_scale": 1.0,
    "n_bins": 15,
    "threshold": 0.5,
    "complement": False,
    "bounds": (1e-3, 1e3),
    "max_iter": 100,
    "fit_bias": True,
    "regularize": True,
    "counts": None,
    "top_k": None,
    "top_p": None,
    "min_p": None,
    "rng": None,
    "logprobs": None,
    "prev_tokens": None,
    "repetition_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "logit_bias": None,
    "name": "target",  # explain_target_shape: the argument its messages name
}
_FOCAL = {"sigmoid_focal_loss", "sigmoid_focal_loss_with_grad"}
_BCE = {"binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_with_grad"}
DIFFERENT = {
    # the row functions mirror scipy.special: temperature None (= 1), as their ufunc form
    ("temperature", None): {"softmax", "log_softmax", "logsumexp"},
    # the loss functions' bias: None (no bias); the multi-label verbs' 0.0 is the same logit
    ("bias", None): _BCE | _FOCAL | {"grad_hess"},
    # per-item values by default, as scipy.stats.entropy and torchvision's sigmoid_focal_loss
    ("reduction", "none"): _FOCAL
    | {"entropy", "entropy_with_grad", "binary_entropy", "binary_entropy_with_grad"}
    | {"multiclass.entropy", "multilabel.entropy"}
    | {"js_divergence", "js_divergence_with_grad"},
    # the KL divergence of a batch: the sum over classes, the mean over rows
    ("reduction", "batchmean"): {"kl_divergence", "kl_divergence_with_grad"},
    ("alpha", 0.25): _FOCAL,  # torchvision's positives' weight
}


def _declared_defaults() -> list[tuple[str, str, object]]:
    found = []
    for n, obj in public_callables().items():
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):  # the ufuncs and the C++ functions declare none
            continue
        if isinstance(obj, (type, np.ufunc)):  # NumPy's ufunc keywords are NumPy's
            continue
        for p in params:
            if p.default is not inspect.Parameter.empty:
                found.append((n, p.name, p.default))
    return found


def test_every_parameter_has_one_default_across_the_api():
    """Each public function's declared defaults are the API's (DEFAULTS), or a documented
    difference (DIFFERENT); a config method's option defaults to None: the object's value."""
    wrong, unlisted, used = [], set(), set()
    for n, param, default in _declared_defaults():
        short = n.removeprefix("logitkit.").removeprefix("losses.")
        is_method = n.rsplit(".", 2)[-2] in ("MultiClass", "MultiLabel")
        if param not in DEFAULTS:
            unlisted.add(param)
            continue
        different = [v for (p, v), names in DIFFERENT.items() if p == param and short in names]
        expected = different[0] if different else DEFAULTS[param]
        if different:
            used.add((param, expected))
        if default == expected or (is_method and default is None):
            continue
        wrong.append(f"{n}: {param}={default!r}, the API's is {expected!r}")
    assert unlisted == set(), f"parameters with a default not in DEFAULTS: {sorted(unlisted)}"
    assert wrong == []
    assert used == set(DIFFERENT), f"DIFFERENT entries that match nothing: {set(DIFFERENT) - used}"


# Magnitudes at the ends of each dtype's range: the logits (and teacher logits) of the examples
# scaled by each. Valid input never raises under np.errstate(all="raise"): tails underflow to 0
# and limits overflow to their IEEE values inside the functions, not in the caller's face.
EXTREME_SCALES = {np.float32: (1e30, 1e-35), np.float64: (1e300, 1e-300)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_extreme_magnitudes_raise_no_floating_point_error(name, dtype):
    for scale in EXTREME_SCALES[dtype]:
        d = make_inputs(dtype, *SMALL)
        for f in ("x", "x_ranked", "x_sampled", "x_finite", "q"):
            with np.errstate(over="ignore", under="ignore"):
                setattr(d, f, (getattr(d, f) * dtype(scale)).astype(dtype))
        fn, _ = _resolve(name, d)
        for i, call in enumerate(EXAMPLES[name](d)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                warnings.simplefilter("ignore", mc.CalibrationWarning)  # a fit at its bound
                warnings.simplefilter("ignore", ml.CalibrationWarning)
                with np.errstate(all="raise"):
                    try:
                        fn(*call.args, **call.kwargs)
                    except (FloatingPointError, RuntimeWarning) as e:
                        pytest.fail(f"{name} call {i} at scale {scale:g}: {e!r}")


def _narrowed(obj, dtype):
    """obj with every floating array converted to dtype (labels and masks unchanged)."""
    if isinstance(obj, np.ndarray) and (obj.dtype.kind == "f" or obj.dtype.name == "bfloat16"):
        return obj.astype(dtype)
    if isinstance(obj, tuple):
        return tuple(_narrowed(o, dtype) for o in obj)
    if isinstance(obj, dict):
        return {k: _narrowed(v, dtype) for k, v in obj.items()}
    return obj


def _bfloat16():
    import ml_dtypes  # a test dependency (pyproject.toml's test extra)

    return np.dtype(ml_dtypes.bfloat16)


def _rounded(r, like):
    """The leaves of a result computed in a wider type, each floating one rounded once to the
    dtype of the corresponding leaf of ``like`` (the narrow call's result)."""
    out = []
    for a, b in zip(like, _leaves(r), strict=True):
        if b.dtype.kind == "f" and a.dtype != b.dtype:
            with np.errstate(over="ignore"):
                b = b.astype(a.dtype)
        out.append(b)
    return out


@pytest.mark.parametrize("narrow", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_narrow_floats_are_a_wider_computation_rounded_once(name, narrow):
    """float16 and bfloat16 arrays are computed in float32 (or, for some functions and options,
    float64) and each result is rounded once to the narrow type: every element is the float32 or
    the float64 computation's value, rounded; with every option of every example (an option that
    the narrow path drops fails here)."""
    nt = np.dtype(np.float16) if narrow == "float16" else _bfloat16()
    d = make_inputs(np.float64, *SMALL)
    fn, _ = _resolve(name, d)
    for i, call in enumerate(EXAMPLES[name](d)):
        half = Call(_narrowed(call.args, nt), _narrowed(call.kwargs, nt))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = _leaves(fn(*half.args, **half.kwargs))
            wants = [fn(*_narrowed(half.args, np.float32), **_narrowed(half.kwargs, np.float32))]
            try:  # float64 holds soft targets to its own sum tolerance: rounded ones may fail
                wants.append(
                    fn(*_narrowed(half.args, np.float64), **_narrowed(half.kwargs, np.float64))
                )
            except ValueError:
                pass
        wants = [_rounded(w, got) for w in wants]
        for k, a in enumerate(got):
            ok = np.zeros(a.shape, bool)
            for want in wants:
                b = want[k]
                assert a.dtype == b.dtype and a.shape == b.shape, f"{name} call {i} output {k}"
                if a.dtype.kind == "f" or a.dtype == nt:  # compared as float32: bfloat16 fits
                    a32, b32 = a.astype(np.float32), b.astype(np.float32)
                    ok |= (a32 == b32) | (np.isnan(a32) & np.isnan(b32))
                else:
                    ok |= a == b
            assert ok.all(), (
                f"{name} call {i} output {k}: {int((~ok).sum())} differ, first at "
                f"{np.argwhere(~ok)[0]}"
            )


# ----------------------------------------------------------------------------- every option


def _relabeled(d):
    """The labels with the ignored rows given class 3: for ignore_index=3."""
    return np.where(d.labels < 0, 3, d.labels)


def _T(a):
    """A per-item or per-element array with the class axis first (for axis=0)."""
    return a.T


def _ce_class_axis_first(d):
    """A hard-label cross-entropy call with the class axis first and every per-item option."""
    return Call(
        (_T(d.x), _relabeled(d)),
        {"axis": 0, "ignore_index": 3, "sample_weight": d.sample_weight, "validate": False},
    )


# Calls that set the options EXAMPLES leaves at their defaults (class axis first, ignore_index,
# validate=False, reductions, temperatures, biases, bounds, ...): with EXAMPLES, every parameter
# of every function is given a value other than its default somewhere.
OPTION_EXAMPLES = {
    L + "binary_cross_entropy_with_logits": lambda d: [
        Call((_T(d.x), _T(d.multi)), {"axis": 0, "validate": False, "weight": d.weight})
    ],
    L + "binary_cross_entropy_with_logits_with_grad": lambda d: [
        Call(
            (_T(d.x), _T(d.p)),
            {"axis": 0, "label_smoothing": 0.2, "validate": False, "bias": d.bias},
        )
    ],
    L + "binary_entropy": lambda d: [Call((d.x,), {"reduction": "mean"})],
    L + "binary_entropy_with_grad": lambda d: [Call((d.x,), {"temperature": 0.7})],
    L + "binary_kl_divergence": lambda d: [Call((d.x, d.q), {"temperature": 1.5})],
    L + "binary_kl_divergence_with_grad": lambda d: [Call((d.x, d.q), {"reduction": "sum"})],
    L + "cross_entropy": lambda d: [
        Call((d.x, _relabeled(d)), {"ignore_index": 3, "validate": False})
    ],
    L + "cross_entropy_with_grad": lambda d: [_ce_class_axis_first(d)],
    L + "distillation_loss": lambda d: [
        Call(
            (_T(d.x), _T(d.q), _relabeled(d)),
            {"axis": 0, "ignore_index": 3, "label_smoothing": 0.1, "validate": False},
        )
    ],
    L + "distillation_loss_with_grad": lambda d: [
        Call(
            (_T(d.x), _T(d.q), _relabeled(d)),
            {"axis": 0, "ignore_index": 3, "reduction": "sum", "validate": False},
        )
    ],
    L + "entropy": lambda d: [Call((_T(d.x),), {"axis": 0, "reduction": "mean"})],
    L + "entropy_with_grad": lambda d: [
        Call((_T(d.x),), {"axis": 0, "temperature": 0.8, "where": _T(d.mask)})
    ],
    L + "grad_hess": lambda d: [
        Call(
            (_T(d.x), d.labels),
            {
                "family": "multiclass",
                "axis": 0,
                "label_smoothing": 0.1,
                "sample_weight": d.sample_weight,
                "validate": False,
                "hess_scale": 2.0,
                "temperature": 1.3,
            },
        ),
        Call((d.x, d.multi), {"family": "binary", "bias": d.bias, "temperature": 0.9}),
    ],
    L + "js_divergence": lambda d: [
        Call((_T(d.x), _T(d.q)), {"axis": 0, "temperature": 1.3, "reduction": "sum"})
    ],
    L + "js_divergence_with_grad": lambda d: [
        Call((_T(d.x), _T(d.q)), {"axis": 0, "temperature": 0.7})
    ],
    L + "kl_divergence": lambda d: [Call((_T(d.x), _T(d.q)), {"axis": 0})],
    L + "kl_divergence_with_grad": lambda d: [
        Call((_T(d.x), _T(d.q)), {"axis": 0, "reduction": "mean"})
    ],
    L + "log_softmax": lambda d: [Call((d.x,), {"axis": 0})],
    L + "log_softmax_backward": lambda d: [Call((_T(d.g), _T(d.log_probs)), {"axis": 0})],
    L + "softmax_backward": lambda d: [Call((_T(d.g), _T(d.soft)), {"axis": 0})],
    L + "nll_loss": lambda d: [
        Call(
            (_T(d.log_probs), _relabeled(d)),
            {
                "axis": 0,
                "ignore_index": 3,
                "label_smoothing": 0.1,
                "sample_weight": d.sample_weight,
                "validate": False,
            },
        )
    ],
    L + "sigmoid_focal_loss": lambda d: [
        Call(
            (_T(d.x), _T(d.multi)),
            {
                "alpha": 0.6,
                "gamma": 1.0,
                "validate": False,
                "temperature": 1.3,
                "bias": d.bias,
                "axis": 0,
            },
        )
    ],
    L + "sigmoid_focal_loss_with_grad": lambda d: [
        Call(
            (_T(d.x), _T(d.p)),
            {
                "reduction": "sum",
                "validate": False,
                "temperature": 0.9,
                "bias": d.bias,
                "axis": 0,
            },
        )
    ],
    MC + "apply_penalties": lambda d: [
        Call(
            (_T(d.x),),
            {
                "counts": _T(d.mask.astype(np.int64) * 2),
                "axis": 0,
                "repetition_penalty": 1.2,
                "logit_bias": d.bias,
            },
        )
    ],
    MC + "brier_score": lambda d: [Call((_T(d.x), _relabeled(d)), {"axis": 0, "ignore_index": 3})],
    MC + "entropy": lambda d: [Call((_T(d.x),), {"axis": 0, "temperature": 1.4})],
    MC + "expected_calibration_error": lambda d: [
        Call((_T(d.x_ranked), _relabeled(d)), {"axis": 0, "temperature": 0.9, "ignore_index": 3})
    ],
    MC + "fit_temperature": lambda d: [
        Call((_T(d.x_finite), _relabeled(d)), {"axis": 0, "ignore_index": 3}),
        Call((d.x_finite, d.labels), {"bounds": (1.5, 3.0)}),
    ],
    MC + "grad_hess": lambda d: [
        Call(
            (_T(d.x), d.labels),
            {
                "axis": 0,
                "weight": d.weight,
                "label_smoothing": 0.1,
                "sample_weight": d.sample_weight,
                "validate": False,
                "temperature": 1.2,
            },
        )
    ],
    MC + "log_proba": lambda d: [Call((_T(d.x),), {"axis": 0, "where": _T(d.mask)})],
    MC + "loss": lambda d: [_ce_class_axis_first(d)],
    MC + "loss_with_grad": lambda d: [
        Call(
            (_T(d.x), _relabeled(d)),
            {
                "axis": 0,
                "ignore_index": 3,
                "label_smoothing": 0.1,
                "validate": False,
                "temperature": 1.3,
            },
        )
    ],
    MC + "predict": lambda d: [Call((_T(d.x_ranked),), {"axis": 0})],
    MC + "proba": lambda d: [
        Call((_T(d.x),), {"axis": 0}),
        Call((d.x_sampled,), {"min_p": 0.05}),
    ],
    MC + "sample": lambda d: [
        Call((_T(d.x_sampled),), {"axis": 0, "rng": 2}),
        Call((d.x_sampled,), {"top_k": 3, "rng": 1}),
    ],
    MC + "top_k": lambda d: [Call((_T(d.x_ranked), 3), {"axis": 0})],
    ML + "brier_score": lambda d: [Call((_T(d.x), _T(d.multi)), {"axis": 0, "bias": d.bias})],
    ML + "distillation_loss": lambda d: [
        Call((_T(d.x), _T(d.q), _T(d.multi)), {"axis": 0, "reduction": "sum"})
    ],
    ML + "distillation_loss_with_grad": lambda d: [
        Call(
            (_T(d.x), _T(d.q)),
            {"target": _T(d.multi), "alpha": 0.3, "axis": 0, "reduction": "none"},
        )
    ],
    ML + "entropy": lambda d: [
        Call((_T(d.x),), {"axis": 0, "temperature": 1.3 + np.arange(64.0) / 64})
    ],
    ML + "expected_calibration_error": lambda d: [
        Call((_T(d.x), _T(d.multi)), {"axis": 0, "temperature": 1.2, "bias": d.bias})
    ],
    ML + "fit_temperature": lambda d: [
        Call(
            (_T(d.x_finite), _T(d.multi)),
            {
                "axis": 0,
                "fit_bias": False,
                "regularize": False,
                "bounds": (0.5, 3.0),
                "max_iter": 1,
            },
        )
    ],
    ML + "grad_hess": lambda d: [
        Call(
            (_T(d.x), _T(d.multi)),
            {
                "axis": 0,
                "pos_weight": d.pos_weight,
                "label_smoothing": 0.1,
                "validate": False,
                "hess_scale": 2.0,
                "temperature": 1.3,
            },
        )
    ],
    ML + "log_proba": lambda d: [Call((_T(d.x),), {"axis": 0, "bias": d.bias})],
    ML + "loss": lambda d: [
        Call((_T(d.x), _T(d.multi)), {"axis": 0, "validate": False, "pos_weight": d.pos_weight})
    ],
    ML + "loss_with_grad": lambda d: [
        Call(
            (_T(d.x), _T(d.p)),
            {
                "axis": 0,
                "weight": d.weight,
                "label_smoothing": 0.1,
                "validate": False,
                "bias": d.bias,
            },
        )
    ],
    ML + "predict": lambda d: [Call((_T(d.x),), {"axis": 0, "bias": d.bias})],
    ML + "proba": lambda d: [Call((_T(d.x),), {"axis": 0, "bias": d.bias})],
    ML + "top_k": lambda d: [Call((_T(d.x_ranked), 3), {"axis": 0, "temperature": 1.4})],
}

# Parameters no example needs to set: dim= only raises (test_dim_is_refused_with_the_axis_to_use),
# out= has its own tests (test_api_invariants.py), rng= makes draws that differ by design.
UNSET = {"dim", "out", "rng"}
# Options whose non-default value gives the same result on valid input, by design.
SAME_RESULT = {"validate": "validate=False skips the checks of valid targets: the same values"}
# (function, option) pairs that cannot change these results, each with its reason.
NO_EFFECT = {
    (ML + "distillation_loss", "axis"): "elementwise, and no per-class option to align",
    (ML + "distillation_loss_with_grad", "axis"): "elementwise, and no per-class option to align",
}


def _all_calls(name, d):
    """EXAMPLES' calls and OPTION_EXAMPLES' (for a config object's method: its module function's,
    without the options the object holds)."""
    owner, _, attr = name.rpartition(".")
    for cls in (mc.MultiClass, ml.MultiLabel):
        if owner.endswith("." + cls.__name__):
            held = {f.name for f in dataclasses.fields(cls)}
            module_calls = OPTION_EXAMPLES.get(owner.rpartition(".")[0] + "." + attr)
            more = [] if module_calls is None else module_calls(d)
            more = [
                Call(c.args, {k: v for k, v in c.kwargs.items() if k not in held}) for c in more
            ]
            return [*EXAMPLES[name](d), *more]
    return [*EXAMPLES[name](d), *OPTION_EXAMPLES.get(name, lambda d: [])(d)]


def test_every_parameter_of_every_function_is_set_by_an_example():
    d = make_inputs(np.float64, *SMALL)
    missing = {}
    for name in _PYTHON_FUNCTIONS:
        fn, _ = _resolve(name, d)
        params = inspect.signature(fn).parameters
        given = set()
        for c in _all_calls(name, d):
            given |= set(list(params)[: len(c.args)]) | set(c.kwargs)
        left = [
            p
            for p, v in params.items()
            if v.default is not inspect.Parameter.empty and p not in given and p not in UNSET
        ]
        if left and name.rsplit(".", 2)[-2] not in ("MultiClass", "MultiLabel"):
            missing[name] = left
    assert missing == {}
    assert set(OPTION_EXAMPLES) <= set(EXAMPLES)


def _calibrated(fn, call):
    """_guarded, but a fit at a bound of its temperature (which bounds= asks for) may warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mc.CalibrationWarning)
        warnings.simplefilter("ignore", ml.CalibrationWarning)
        return fn(*call.args, **call.kwargs)


def _outcome(fn, call):
    """The result's bits, or the exception's type and message."""
    try:
        return _bits(_calibrated(fn, call))
    except Exception as e:  # noqa: BLE001 - an option that makes the call fail is one that acts
        return (type(e).__name__, str(e))


def _finite_inputs():
    """The small inputs without their NaN and -inf rows: a NaN row would make every reduction NaN,
    with or without an option."""
    import oracle

    d = make_inputs(np.float64, *SMALL)
    q = np.where(np.isfinite(d.q), d.q, 0.0)
    return dataclasses.replace(
        d,
        x=d.x_finite,
        x_ranked=d.x_finite,
        x_sampled=d.x_finite,
        q=q,
        log_probs=np.asarray(oracle.log_softmax(d.x_finite), np.float64),
    )


@pytest.mark.parametrize("name", _PYTHON_FUNCTIONS)
def test_every_option_given_is_used(name):
    """Each keyword an example sets changes the result when it is left out (an option accepted and
    ignored fails here); validate=False gives the same result on valid input."""
    d = _finite_inputs()
    fn, _ = _resolve(name, d)
    acts: dict[str, bool] = {}
    for i, call in enumerate(_all_calls(name, d)):
        base = _bits(_calibrated(fn, call))
        for key in call.kwargs:
            if key in UNSET or (name, key) in NO_EFFECT:
                continue
            without = _outcome(
                fn, Call(call.args, {k: v for k, v in call.kwargs.items() if k != key})
            )
            if key in SAME_RESULT:
                assert without == base, f"{name} call {i}: {key}"
            else:  # one call where the option acts is enough: filters can hide each other
                acts[key] = acts.get(key, False) or without != base
    ignored = sorted(k for k, acted in acts.items() if not acted)
    assert ignored == [], f"{name}: options that change no result: {ignored}"
