"""Every array argument of every public function, given as an array of strings, is refused with a
TypeError or ValueError whose message starts with that argument's name (the parameter name of the
function's signature): the user learns which argument is wrong, whichever function they called.

The functions and their example calls come from tests/test_api_invariants.py's EXAMPLES (every
public callable with array inputs); each call's arrays are replaced one at a time."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
import test_api_invariants as api

_inputs = functools.cache(api.make_inputs)  # read only: the tests replace arguments, not values

# The raw ufuncs: NumPy itself refuses a string operand (its message names the ufunc, not the
# parameter), before logitkit sees it.
_NUMPY_OWN = ("logitkit.ufuncs.",)


def _cases():
    d = _inputs(np.float64)
    out = []
    for name in sorted(api.EXAMPLES):
        if name.startswith(_NUMPY_OWN):
            continue
        _, signature_of = api._resolve(name, d)
        call = api.EXAMPLES[name](d)[0]
        try:
            sig = inspect.signature(signature_of)
        except (TypeError, ValueError):  # compiled functions without a signature
            continue
        bound = sig.bind_partial(*call.args, **call.kwargs)
        for param, value in bound.arguments.items():
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiub" and param != "out":
                out.append(pytest.param(name, param, id=f"{name}-{param}"))
    return out


@pytest.mark.parametrize("name, param", _cases())
def test_an_array_of_strings_is_refused_naming_its_argument(name, param):
    d = _inputs(np.float64)
    fn, signature_of = api._resolve(name, d)
    call = api.EXAMPLES[name](d)[0]
    bound = inspect.signature(signature_of).bind_partial(*call.args, **call.kwargs)
    value = bound.arguments[param]
    bound.arguments[param] = np.full(value.shape, "a")
    with pytest.raises((TypeError, ValueError)) as e:
        fn(*bound.args, **bound.kwargs)
    assert str(e.value).startswith(f"{param}: "), str(e.value)
