"""Argument checks shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.25/1.26
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

__all__ = [
    "as_real_array",
    "check_out",
    "check_temperature",
    "normalize_axes",
    "normalize_axis_index",
]


def as_real_array(x: Any, name: str = "x") -> Any:
    """Return ``x`` itself when it is an array (NumPy, Dask, ...), else ``np.asarray(x)``.

    Arrays that implement ``__array_ufunc__`` are passed through untouched so that they can take over
    the ufunc call. Raises TypeError for complex and non-numeric dtypes.
    """
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
        if kind not in "fiub":
            raise TypeError(
                f"{name}: dtype {dtype} is not a real numeric dtype; expected float16, float32, "
                "float64, or an integer or bool array"
            )
    return x


def check_temperature(temperature: Any) -> float:
    """A temperature is a positive finite real number; None means 1."""
    if temperature is None:
        return 1.0
    if isinstance(temperature, np.ndarray) and temperature.ndim == 0:
        temperature = temperature[()]
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise TypeError(
            f"temperature: expected a positive real number, got {type(temperature).__name__} "
            f"{temperature!r}"
        )
    t = float(temperature)
    if not (t > 0.0 and math.isfinite(t)):
        raise ValueError(f"temperature: must be a positive finite number, got {temperature!r}")
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
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
        raise TypeError(f"axis: expected an integer or a tuple of integers, got {a!r}")
    return int(a)


def check_out(out: Any, shape: tuple[int, ...], name: str = "out") -> None:
    """out must be a writeable floating ndarray of the result's shape."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: array is read-only")
    if out.dtype.kind != "f":
        raise TypeError(
            f"{name}: dtype {out.dtype} cannot hold the result; expected a floating dtype"
        )
    if out.shape != tuple(shape):
        raise ValueError(
            f"{name}: shape {out.shape} does not match the result's shape {tuple(shape)}"
        )
