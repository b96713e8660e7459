"""Whole-API checks of how the public functions are called, for every public callable of
tests/test_api_invariants.py's EXAMPLES (found by introspection):

- a parameter's declared default, given explicitly, changes nothing;
- every parameter name has one default across the API (DEFAULTS), or a listed difference;
- a number option may come as a NumPy scalar or a 0-d array: the same bits;
- dim= (torch's name) is refused with the axis= call to write;
- logits at the ends of each dtype's range raise no floating-point error under
  np.errstate(all="raise").

The examples run on a small batch (SMALL): each function is called many times here."""

from __future__ import annotations

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

SMALL = (24, 33)  # rows, classes: the option tests call each function many times

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


# Functions that compute narrow floats in a wider type than float32, as documented.
COMPUTED_IN = {
    "logitkit.multiclass.apply_penalties": np.float64,  # each result the float64 value, rounded
}


@pytest.mark.parametrize("narrow", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_narrow_floats_are_the_float32_computation_rounded_once(name, narrow):
    """float16 and bfloat16 arrays are computed in float32 and the results rounded to the narrow
    type: with every option of every example (an option that the narrow path drops fails here)."""
    nt = np.dtype(np.float16) if narrow == "float16" else _bfloat16()
    wt = np.dtype(COMPUTED_IN.get(name, np.float32))
    d = make_inputs(np.float64, *SMALL)
    fn, _ = _resolve(name, d)
    for i, call in enumerate(EXAMPLES[name](d)):
        half = Call(_narrowed(call.args, nt), _narrowed(call.kwargs, nt))
        wide = Call(_narrowed(half.args, wt), _narrowed(half.kwargs, wt))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = fn(*half.args, **half.kwargs)
            want = fn(*wide.args, **wide.kwargs)
        g, w = _leaves(got), _leaves(want)
        assert len(g) == len(w), f"{name} call {i}"
        for k, (a, b) in enumerate(zip(g, w, strict=True)):
            if a.dtype == nt and b.dtype == wt:
                with np.errstate(over="ignore"):
                    b = b.astype(nt)
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name} call {i} output {k}"
            if a.dtype == nt:  # compared as float32: every bfloat16 is one
                a, b = a.astype(np.float32), b.astype(np.float32)
            bad = ~((a == b) | (np.isnan(a) & np.isnan(b))) if a.dtype.kind == "f" else a != b
            assert not bad.any(), (
                f"{name} call {i} output {k}: {int(bad.sum())} differ, first at "
                f"{np.argwhere(bad)[0]}: {a[tuple(np.argwhere(bad)[0])]!r} vs "
                f"{b[tuple(np.argwhere(bad)[0])]!r}"
            )
