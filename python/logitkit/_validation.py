"""Argument checks shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import math
import numbers
import operator
import os
import sys
from typing import Any

import numpy as np

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.25/1.26
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

# ml_dtypes.bfloat16 (an optional dependency: the extra logitkit[bfloat16]) as a NumPy dtype, once
# ml_dtypes has been imported by anyone; None until then. logitkit never imports ml_dtypes itself
# (its import costs far more than logitkit's): a bfloat16 array exists only once ml_dtypes has been
# imported, and the bfloat16 loops are added to the ufuncs (_core._register_bfloat16) as soon as it
# is: at logitkit's import when it came first, else when its import ends (_RegisterOnImport).
# Either way before any bfloat16 array reaches a ufunc: NumPy caches the loop a ufunc resolved for
# a dtype (a bfloat16 input would otherwise be cast to float32 for good in that process). Its kind
# is "V" (a NumPy user dtype), so the dtype checks below name it where they test kinds.
_BFLOAT16: list[np.dtype] = []


class _RegisterOnImport:
    """A sys.meta_path finder that lets the other finders find ml_dtypes and registers the
    bfloat16 loops right after the module has run; it removes itself on first use."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "ml_dtypes":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_and_register(module: Any) -> None:
            exec_module(module)
            bfloat16()

        loader.exec_module = exec_and_register
        return spec


def register_bfloat16_when_imported() -> None:
    """Register the bfloat16 loops now if ml_dtypes has been imported, else when it is."""
    if bfloat16() is None and "ml_dtypes" not in sys.modules:
        sys.meta_path.insert(0, _RegisterOnImport())


def bfloat16() -> np.dtype | None:
    """ml_dtypes.bfloat16 as a NumPy dtype, or None while ml_dtypes has not been imported (or
    cannot be). The first call that finds it registers the ufuncs' bfloat16 loops."""
    if _BFLOAT16:
        return _BFLOAT16[0]
    module = sys.modules.get("ml_dtypes")
    if module is None:
        return None
    from . import _core

    dt = np.dtype(module.bfloat16)
    _core._register_bfloat16(dt.num)
    _BFLOAT16.append(dt)
    return dt


def is_bfloat16(dtype: Any) -> bool:
    """Whether ``dtype`` is ml_dtypes.bfloat16 (cheap for every other dtype: one attribute)."""
    return getattr(dtype, "kind", None) == "V" and dtype == bfloat16()


__all__ = [
    "Array",
    "InvalidTargetError",
    "LossValue",
    "as_index",
    "as_logits",
    "as_real_array",
    "bfloat16",
    "caller_stacklevel",
    "check_out",
    "check_temperature",
    "class_axis_index",
    "describe",
    "format_value",
    "is_bfloat16",
    "label_error",
    "no_dim",
    "normalize_axes",
    "normalize_axis_index",
    "one_class_error",
    "position_text",
    "register_bfloat16_when_imported",
    "row_sum_error",
    "target_error",
]


# What the transforms (softmax, sigmoid, proba, ...) return: a NumPy array, or a NumPy scalar where
# the result is 0-d (logsumexp of one row). An array type that implements __array_ufunc__ (Dask)
# comes back as its own type, which no annotation can name.
Array = np.ndarray | np.generic
# What a loss returns: with reduction 'mean' or 'sum' a 0-d NumPy scalar of the loss dtype
# (np.float32 for float32 logits, np.float64 for float64), as NumPy's reductions return; with
# 'none' an ndarray of the items' shape.
LossValue = np.floating | np.ndarray


class InvalidTargetError(ValueError):
    """A class label or a target value outside its domain (a label outside [0, C) that is not
    ``ignore_index``, a probability outside [0, 1], NaN or negative, a row of probabilities that
    does not sum to 1).

    Attributes: ``argument`` (the argument's name, e.g. ``"target"``), ``position`` (the offending
    element's index in that argument, a tuple; for a row sum, the row's index without the class
    axis), ``value`` (the label as an int, the target value or the row's sum as a float), and
    ``row_sum`` (True when the value is a row's sum). The message is the same whichever code path
    (Python or the C++ API) found the error."""

    def __init__(
        self,
        message: str,
        *,
        position: tuple[int, ...] = (),
        value: Any = None,
        argument: str | None = None,
        row_sum: bool = False,
    ) -> None:
        super().__init__(message)
        self.position = tuple(int(i) for i in position)
        self.value = value
        self.argument = message.split(":", 1)[0] if argument is None else argument
        self.row_sum = row_sum


def format_value(v: Any) -> str:
    """``v`` with the fewest significant digits (``%.1g`` .. ``%.17g``) that read back as ``v``;
    NaN as ``nan``: the rule of the C++ API's describe() (api.hpp), so messages match."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    text = ""
    for p in range(1, 18):
        text = f"{v:.{p}g}"
        if float(text) == v:
            break
    return text


def position_text(position: tuple[int, ...]) -> str:
    """A position as Python's tuple notation, ``(2,)`` or ``(1, 2)``, as describe() writes it."""
    return repr(tuple(int(i) for i in position))


def describe(
    kind: str, argument: str, value: Any = None, position: tuple[int, ...] = (), **label: Any
) -> str:
    """The message of an error, formatted by the C++ API's describe() (api.hpp): Python and C++
    raise the same text for the same error, from one source. ``kind`` names a rule of api.hpp's
    ``messages`` ("probabilities_in_unit", "probabilities_not_nan", "probabilities_nonnegative",
    "row_sum", "unit_interval", "weight_nonnegative", "positive_finite") or is "invalid_label"
    (then ``label``, ``classes`` and ``ignore_index`` are given)."""
    from . import _core  # the extension imports this module while it loads

    v = None if value is None else float(value)
    return _core.describe_status(kind, argument, v, tuple(int(i) for i in position), **label)


def label_error(
    argument: str, label: int, position: tuple[int, ...], classes: int, ignore_index: int
) -> InvalidTargetError:
    """The error for a class label outside [0, classes) that is not ``ignore_index``."""
    return InvalidTargetError(
        describe(
            "invalid_label",
            argument,
            position=position,
            label=int(label),
            classes=int(classes),
            ignore_index=int(ignore_index),
        ),
        position=position,
        value=int(label),
        argument=argument,
    )


def target_error(
    argument: str, kind: str, value: Any, position: tuple[int, ...]
) -> InvalidTargetError:
    """The error for a target value that breaks the rule ``kind`` (see :func:`describe`)."""
    return InvalidTargetError(
        describe(kind, argument, value, position),
        position=position,
        value=float(value),
        argument=argument,
    )


def row_sum_error(argument: str, row_sum: float, position: tuple[int, ...]) -> InvalidTargetError:
    """The error for a row of probability targets that does not sum to 1 (``position``: the row's
    index without the class axis); a sum above 1 adds the hint that the logits may be multi-label."""
    return InvalidTargetError(
        describe("row_sum", argument, row_sum, position),
        position=position,
        value=float(row_sum),
        argument=argument,
        row_sum=True,
    )


def one_class_error(name: str, ax: int) -> ValueError:
    """The error for multi-class logits with one class: a single logit per input is a binary model.

    Every entry point that takes multi-class logits (the losses and metrics of class logits,
    :mod:`logitkit.multiclass`) raises it: one class makes the softmax 1 and the cross-entropy 0
    whatever the logit, so a result would be silently meaningless. The math functions
    (softmax, log_softmax, logsumexp) accept an axis of length 1 (attention over one key)."""
    return ValueError(
        f"{name}: the class axis (axis {ax}) has length 1: a single logit per input is a binary "
        "model, not a multi-class one (its softmax is always 1 and its cross-entropy always 0); "
        "use logitkit.multilabel, i.e. lk.sigmoid(logits) for the probability and "
        "lk.binary_cross_entropy_with_logits(logits, target) for the loss"
    )


def no_dim(dim: Any, axis: Any = -1) -> None:
    """``dim=`` (torch's name) given to a function whose class axis is ``axis=``: a TypeError."""
    raise TypeError(
        f"dim: logitkit names the class axis axis=, not dim= (torch's name); use axis={dim!r}"
    )


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called by the caller of this function that names
    the first frame outside the logitkit package: the user's line, whatever path (module
    function, config object method, helper) led there."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def as_real_array(x: Any, name: str = "x", *, masked_ok: bool = False) -> Any:
    """Return ``x`` itself when it is an array (NumPy, Dask, ...), else ``np.asarray(x)``.

    Arrays that implement ``__array_ufunc__`` are passed through untouched so that they can take over
    the ufunc call; a NumPy array of non-native byte order becomes one of native order (the kernels
    and the result dtypes are native). Raises TypeError for complex, non-numeric and wider than
    float64 dtypes, and for masked arrays unless ``masked_ok`` (an elementwise function applies
    NumPy's masked ufunc rules exactly; everywhere else the mask would be ignored).
    """
    if isinstance(x, np.ma.MaskedArray) and not masked_ok:
        raise TypeError(
            f"{name}: masked arrays are not supported (the mask would be ignored); pass the data "
            f"and the mask as where=~{name}.mask (softmax, log_softmax, logsumexp, "
            "multiclass.proba/log_proba), or select the unmasked items"
        )
    if not hasattr(x, "__array_ufunc__"):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name}: cannot be read as a numeric array ({e})") from None
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        kind = getattr(dtype, "kind", "f")
        if kind == "c":
            raise TypeError(
                f"{name}: complex dtype {dtype} is not supported; logits are real numbers "
                "(pass x.real if the imaginary part is zero)"
            )
        if kind not in "fiub" and not is_bfloat16(dtype):
            raise TypeError(
                f"{name}: dtype {dtype} is not a real numeric dtype; expected float16, bfloat16 "
                "(ml_dtypes), float32, float64, or an integer or bool array"
            )
        if kind == "f" and dtype.itemsize > 8:
            raise TypeError(
                f"{name}: dtype {dtype} is not supported: float64 is the widest supported "
                f"(pass {name}.astype(np.float64))"
            )
        if not dtype.isnative and hasattr(x, "astype"):
            x = x.astype(dtype.newbyteorder("="))
    return x


def as_logits(x: Any, name: str = "x", *, masked_ok: bool = False) -> Any:
    """:func:`as_real_array`, with integer and bool arrays as float64 (NumPy would pick the
    narrowest float loop that holds them: float16 for int8 and bool)."""
    x = as_real_array(x, name, masked_ok=masked_ok)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "f") in "iub":
        x = x.astype(np.float64)
    return x


def as_index(value: Any, name: str, what: str = "an integer") -> int:
    """``operator.index(value)`` (Python and NumPy integers, 0-d integer arrays); bools, floats,
    strings and arrays of more than one element are a TypeError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "b"
    ):
        raise TypeError(f"{name}: expected {what}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected {what}, got {value!r}") from None


def scalar_of(value: Any) -> Any:
    """A 0-d array's element (a NumPy scalar), so that the scalar checks accept a number read
    from an array as they accept the number; any other value unchanged."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def class_axis_index(axis: Any, ndim: int) -> int:
    """The class axis as a non-negative int (strict integer, AxisError when out of range)."""
    return normalize_axis_index(as_index(axis, "axis", "an integer (the class axis)"), ndim)


def check_temperature(temperature: Any) -> float:
    """A temperature is a positive finite real number; None means 1."""
    if temperature is None:
        return 1.0
    temperature = scalar_of(temperature)
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise TypeError(
            f"temperature: expected a positive real number, got {type(temperature).__name__} "
            f"{temperature!r}"
        )
    t = float(temperature)
    if not (t > 0.0 and math.isfinite(t)):
        raise ValueError(describe("positive_finite", "temperature", t))
    return t


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """axis (int, tuple of ints, or None for all axes) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis_index(_as_int(a), ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis: repeated axis in {axis!r}")
        return tuple(sorted(axes))
    return (normalize_axis_index(_as_int(axis), ndim),)


def _as_int(a: Any) -> int:
    return as_index(a, "axis", "an integer or a tuple of integers")


def check_out(out: Any, shape: tuple[int, ...], name: str = "out") -> None:
    """out must be a writeable floating (float16, bfloat16, float32, float64) ndarray of the
    result's shape."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: array is read-only")
    if out.dtype.kind != "f" and not is_bfloat16(out.dtype):
        raise TypeError(
            f"{name}: dtype {out.dtype} cannot hold the result; expected a floating dtype"
        )
    if out.shape != tuple(shape):
        raise ValueError(
            f"{name}: shape {out.shape} does not match the result's shape {tuple(shape)}"
        )
