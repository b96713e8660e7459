"""Every array argument of every public function, given as an array or a list of strings, is refused with a
TypeError or ValueError whose message starts with that argument's name (the parameter name of the
function's signature): the user learns which argument is wrong, whichever function they called.

The functions and their example calls come from tests/test_api_invariants.py's EXAMPLES (every
public callable with array inputs); each call's arrays are replaced one at a time."""

from __future__ import annotations

import functools
import inspect

import logitkit as lk
import numpy as np
import pytest
import test_api_invariants as api

_inputs = functools.cache(api.make_inputs)  # read only: the tests replace arguments, not values

# The raw ufuncs: NumPy itself refuses a string operand (its message names the ufunc, not the
# parameter), before logitkit sees it.
_NUMPY_OWN = ("logitkit.ufuncs.",)


def _bound_first_examples():
    """(name, the first example's arguments bound to their parameter names), for every public
    function with a Python signature."""
    d = _inputs(np.float64)
    for name in sorted(api.EXAMPLES):
        if name.startswith(_NUMPY_OWN):
            continue
        _, signature_of = api._resolve(name, d)
        call = api.EXAMPLES[name](d)[0]
        try:
            sig = inspect.signature(signature_of)
        except (TypeError, ValueError):  # compiled functions without a signature
            continue
        yield name, sig.bind_partial(*call.args, **call.kwargs).arguments


def _cases():
    return [
        pytest.param(name, param, id=f"{name}-{param}")
        for name, arguments in _bound_first_examples()
        for param, value in arguments.items()
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub" and param != "out"
    ]


# The bad value as a NumPy array of strings, and as the nested list a user writes (lists take the
# conversion path that NumPy arrays skip).
_FORMS = {
    "array": lambda shape: np.full(shape, "a"),
    "list": lambda shape: np.full(shape, "a").tolist(),
}


@pytest.mark.parametrize("form", sorted(_FORMS))
@pytest.mark.parametrize("name, param", _cases())
def test_an_array_of_strings_is_refused_naming_its_argument(name, param, form):
    d = _inputs(np.float64)
    fn, signature_of = api._resolve(name, d)
    call = api.EXAMPLES[name](d)[0]
    bound = inspect.signature(signature_of).bind_partial(*call.args, **call.kwargs)
    value = bound.arguments[param]
    bound.arguments[param] = _FORMS[form](value.shape)
    with pytest.raises((TypeError, ValueError)) as e:
        fn(*bound.args, **bound.kwargs)
    assert str(e.value).startswith(f"{param}: "), str(e.value)


def _target_cases():
    """(function, target parameter) for every public function whose first example takes a target:
    class labels (an integer array) or per-element targets (a float array of the logits' shape)."""
    return [
        pytest.param(name, param, id=f"{name}-{param}")
        for name, arguments in _bound_first_examples()
        for param in ("target", "labels")
        if isinstance(arguments.get(param), np.ndarray)
    ]


def _bad_targets(value: np.ndarray, C: int):
    """(kind, the bad target, the position and value InvalidTargetError must report)."""
    if value.dtype.kind in "iu":
        t = value.copy()
        t[3] = C + 5
        yield "label", t, (3,), C + 5
        return
    for kind, v in (("nan", np.nan), ("above-one", 1.5), ("negative", -0.25)):
        t = value.copy()
        t[3, 2] = v
        yield kind, t, (3, 2), v


@pytest.mark.parametrize("name, param", _target_cases())
def test_an_invalid_target_error_agrees_with_its_message(name, param):
    """InvalidTargetError's attributes (argument, position, value) are those its message states,
    for every function that takes a target, whichever check (a label, a probability, a row sum)
    found it."""
    from logitkit._validation import format_value

    d = _inputs(np.float64)
    fn, signature_of = api._resolve(name, d)
    call = api.EXAMPLES[name](d)[0]
    bound = inspect.signature(signature_of).bind_partial(*call.args, **call.kwargs)
    kinds = []
    for kind, bad, position, value in _bad_targets(bound.arguments[param], api.CLASSES):
        bound.arguments[param] = bad
        with pytest.raises(lk.InvalidTargetError) as e:
            fn(*bound.args, **bound.kwargs)
        err, msg = e.value, str(e.value)
        kinds.append(kind)
        assert err.argument == param and msg.startswith(f"{param}: "), msg
        if err.row_sum:  # a probability row's sum was checked first: the row and its sum
            assert err.position == position[:1] and f"{format_value(err.value)}" in msg, msg
            continue
        assert err.position == position, (err.position, msg)
        assert str(position) in msg, msg
        if isinstance(value, float) and np.isnan(value):
            assert np.isnan(err.value) and "nan" in msg.lower(), msg
        else:
            assert err.value == value and format_value(value) in msg, msg
    assert kinds, name
