"""Sampling a token per row: :func:`logitkit.multiclass.sample` and the filters of
:func:`logitkit.multiclass.proba` (``top_k=``, ``top_p=``, ``min_p=``).

The row pass runs in the C++ core (``_core.sample`` / ``_core.sample_proba``; the C++ API's
``logitkit::sample`` and ``logitkit::sample_proba`` in api.hpp): docs/semantics.md, "Sampling",
defines the kept set and the draw. This module moves the class axis last, applies ``where=`` (the
masked entries become -inf), reads the options (one value, or one per row), draws one uniform per
row in C order of the rows; the logprobs come from the same C++ row pass (the row's max-relative
log-sum, as ``log_softmax`` computes it, at the row's temperature, before filtering).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from . import _core, _functional
from ._multi import class_axis, float_logits
from ._validation import as_real_array, is_bfloat16, scalar_of


class Sample(NamedTuple):
    """The result of ``multiclass.sample(..., logprobs=n)``.

    tokens: the sampled token of each row (intp; the logits' shape without the class axis).
    logprob: the chosen token's log-probability (float64, as accurate as ``log_softmax`` of the
    logits' dtype: float32 logits give float32's accuracy).
    top_tokens, top_logprobs: the n most likely tokens of each row, most likely first (ties to the
    lower index), and their log-probabilities; the last axis has length n.
    The log-probabilities are those of the distribution after temperature (and whatever penalties
    the caller applied to the logits), before top-k/top-p/min-p: vLLM's "processed" logprobs. A
    row sampled at temperature 0 reports those of temperature 1.
    """

    tokens: Any
    logprob: Any
    top_tokens: Any
    top_logprobs: Any


_SPECS = {
    # name: (rule, test of one float64 value)
    "temperature": ("must be a finite number >= 0", lambda a: np.isfinite(a) & (a >= 0)),
    "top_p": ("must be in (0, 1] (1: no filter)", lambda a: (a > 0) & (a <= 1)),
    "min_p": ("must be in [0, 1] (0: no filter)", lambda a: (a >= 0) & (a <= 1)),
}

# the same tests of one Python float (NaN fails each)
_PLAIN = {
    "temperature": lambda v: math.isfinite(v) and v >= 0,
    "top_p": lambda v: 0 < v <= 1,
    "min_p": lambda v: 0 <= v <= 1,
}

# the same tests of a float64 array by its least and largest values (NaN fails each: min and max
# propagate it); a failure is explained by the elementwise test
_RANGE = {
    "temperature": lambda lo, hi: lo >= 0 and hi < math.inf,
    "top_p": lambda lo, hi: lo > 0 and hi <= 1,
    "min_p": lambda lo, hi: lo >= 0 and hi <= 1,
}


def _bad(name: str, rule: str, a: np.ndarray, ok: np.ndarray, batch: tuple[int, ...]) -> ValueError:
    pos = tuple(int(i) for i in np.argwhere(~ok)[0]) if a.ndim else ()
    v = a[pos] if a.ndim else a[()]
    where = f" (row {pos})" if a.ndim else ""
    return ValueError(f"{name}: {rule}, got {v!r}{where}")


def _option(value: Any, name: str, batch: tuple[int, ...]) -> Any:
    """A float option as a Python float or a 1-d float64 array of one value per row (C order)."""
    if type(value) is float or type(value) is int:  # the common call: one plain number
        v = float(value)
        if not _PLAIN[name](v):
            raise ValueError(f"{name}: {_SPECS[name][0]}, got {v!r}")
        return v
    if (
        type(value) is np.ndarray
        and value.dtype == _F64
        and value.shape == batch
        and value.ndim == 1
        and value.size > 0
        and value.flags.c_contiguous
        and _RANGE[name](value.min(), value.max())
    ):  # one value per row of a 2-d batch, as a serving loop keeps them
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a real number or one per row, got {value!r}")
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number or one per row, got {value!r}") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected a real number or one per row, got dtype {a.dtype}")
    a = a.astype(np.float64)
    rule, test = _SPECS[name]
    if a.ndim == 0:
        if not test(a):
            raise _bad(name, rule, a, test(a), batch)
        return float(a)
    try:
        a = np.broadcast_to(a, batch)
    except ValueError:
        raise ValueError(
            f"{name}: shape {a.shape} does not broadcast to the rows' shape {batch} (one value per row)"
        ) from None
    ok = test(a)
    if not ok.all():
        raise _bad(name, rule, a, ok, batch)
    return np.ascontiguousarray(a).reshape(-1)


def _top_k_option(value: Any, batch: tuple[int, ...]) -> Any:
    """top_k as an int (0: no filter) or a 1-d int64 array of one value per row."""
    if value is None:
        return 0
    if type(value) is int and value >= 0:
        return min(value, 2**62)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"top_k: expected an integer or one per row, got {value!r}")
    if (
        type(value) is np.ndarray
        and value.dtype == np.int64
        and value.shape == batch
        and value.ndim == 1
        and value.size > 0
        and value.flags.c_contiguous
        and value.min() >= 0
        and value.max() <= 2**62
    ):  # one value per row of a 2-d batch, as a serving loop keeps them
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        raise TypeError(f"top_k: expected an integer or one per row, got {value!r}")
    if a.ndim == 0:
        if a < 0:
            raise ValueError(f"top_k: must be >= 0 (0 or None: no filter), got {int(a)}")
        return min(int(a), 2**62)
    try:
        a = np.broadcast_to(a, batch)
    except ValueError:
        raise ValueError(
            f"top_k: shape {a.shape} does not broadcast to the rows' shape {batch} (one value per row)"
        ) from None
    neg = a < 0
    if neg.any():
        pos = tuple(int(i) for i in np.argwhere(neg)[0])
        raise ValueError(
            f"top_k: must be >= 0 (0 or None: no filter), got {int(a[pos])} (row {pos})"
        )
    # the cap in the array's own kind: a Python 2**62 does not fit the narrow integer dtypes
    cap = np.uint64(2**62) if a.dtype.kind == "u" else np.int64(2**62)
    return np.ascontiguousarray(np.minimum(a, cap), dtype=np.int64).reshape(-1)


def _rows(
    logits: Any, axis: Any, where: Any
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], int, Any]:
    """(x as rows × V float32/float64 with -inf where masked, the class axis, batch shape, V,
    original dtype)."""
    x0 = as_real_array(logits, "logits")
    ax = class_axis(x0, axis)
    x = float_logits(x0)
    dtype = np.asarray(x0).dtype if not hasattr(x0, "dtype") else x0.dtype
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32 if x.dtype.itemsize <= 4 else np.float64)
    if where is not None:
        # a Dask or other array-like mask is read here, as the logits are: sampling is eager
        mask = np.asarray(_functional._where_mask(where, x.shape))
        x = np.where(mask, x, x.dtype.type(-np.inf))
    xm = x if ax == x.ndim - 1 else np.moveaxis(x, ax, -1)
    batch, V = xm.shape[:-1], xm.shape[-1]
    if V == 0:
        raise ValueError("logits: the class axis has length 0; there is no token to sample")
    return xm.reshape(-1, V), ax, batch, V, dtype


def _row_error(r: tuple[int, str], batch: tuple[int, ...]) -> ValueError:
    row, kind = r
    pos = tuple(int(i) for i in np.unravel_index(row, batch)) if batch else ()
    what = {
        "nan": "contains NaN",
        "posinf": "contains +inf (at a temperature > 0 its probabilities are undefined)",
        "neginf": "is all -inf (after where=): no token can be sampled",
    }[kind]
    return ValueError(f"logits: row {pos} {what}")


def _options(temperature, top_k, top_p, min_p, batch):
    t = _option(1.0 if temperature is None else temperature, "temperature", batch)
    k = _top_k_option(top_k, batch)
    p = 1.0 if top_p is None else _option(top_p, "top_p", batch)
    m = 0.0 if min_p is None else _option(min_p, "min_p", batch)
    return t, k, p, m


def _uniforms(rng: Any, rows: int) -> np.ndarray:
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return gen.random(rows)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_NUMBER = (float, int)


def _fast_sample(
    logits: Any, temperature: Any, top_k: Any, top_p: Any, min_p: Any, rng: Any, logprobs: Any
) -> Any:
    """The serving loop's call — a 1-d or 2-d native float32/float64 array, options that are plain
    numbers in range, no axis or where= — in fewer steps. None for any other call, which the
    general path checks and explains."""
    if type(logits) is not np.ndarray:
        return None
    dt = logits.dtype
    shape = logits.shape
    if (dt is not _F32 and dt is not _F64) or not 1 <= len(shape) <= 2 or shape[-1] == 0:
        return None
    t = temperature
    if type(t) is not float and (type(t) is not int or type(t) is bool):
        return None
    if not 0 <= t < math.inf:
        return None
    if top_k is None:
        k = 0
    elif type(top_k) is int and top_k >= 0:
        k = min(top_k, 2**62)
    else:
        return None
    p = 1.0 if top_p is None else top_p
    m = 0.0 if min_p is None else min_p
    if type(p) not in _NUMBER or type(m) not in _NUMBER or not (0 < p <= 1 and 0 <= m <= 1):
        return None
    if logprobs is not None and (type(logprobs) is not int or not 0 <= logprobs <= shape[-1]):
        return None
    gen = rng if type(rng) is np.random.Generator else np.random.default_rng(rng)
    rows = 1 if len(shape) == 1 else shape[0]
    u = gen.random() if rows == 1 else gen.random(rows)
    r = _core.sample(logits, u, t, k, p, m, -1 if logprobs is None else logprobs)
    if type(r) is tuple and len(r) == 2:
        raise _row_error(r, shape[:-1])
    if logprobs is None:
        return r if len(shape) == 2 else r[0]
    if len(shape) == 2:
        return Sample(*r)
    return Sample(r[0][0], r[1][0], r[2][0], r[3][0])


def sample(
    logits: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    min_p: Any,
    rng: Any,
    axis: Any,
    where: Any,
    logprobs: Any,
) -> Any:
    logprobs = scalar_of(logprobs)
    if logprobs is not None and (
        isinstance(logprobs, (bool, np.bool_)) or not isinstance(logprobs, numbers.Integral)
    ):
        raise TypeError(f"logprobs: expected None or an integer >= 0, got {logprobs!r}")
    x, _ax, batch, V, _dtype = _rows(logits, axis, where)
    t, k, p, m = _options(temperature, top_k, top_p, min_p, batch)
    if logprobs is not None and not 0 <= logprobs <= V:
        raise ValueError(f"logprobs: must be in [0, {V}] (the number of classes), got {logprobs}")
    u = _uniforms(rng, x.shape[0])
    r = _core.sample(x, u, t, k, p, m, -1 if logprobs is None else int(logprobs))
    if isinstance(r, tuple) and len(r) == 2:
        raise _row_error(r, batch)
    if logprobs is None:
        tokens = r.reshape(batch)
        return tokens[()] if not batch else tokens
    tokens, chosen, top, top_lp = r
    n = int(logprobs)
    tok = tokens.reshape(batch)
    return Sample(
        tok[()] if not batch else tok,
        chosen.reshape(batch)[()] if not batch else chosen.reshape(batch),
        top.reshape(batch + (n,)),
        top_lp.reshape(batch + (n,)),
    )


def filtered_proba(
    logits: Any,
    axis: Any,
    temperature: Any,
    where: Any,
    out: Any,
    top_k: Any,
    top_p: Any,
    min_p: Any,
) -> np.ndarray:
    """The distribution sample draws from, the logits' shape and floating dtype (float16 and
    bfloat16 computed in float32 and rounded)."""
    x, ax, batch, V, dtype = _rows(logits, axis, where)
    t, k, p, m = _options(temperature, top_k, top_p, min_p, batch)
    r = _core.sample_proba(x, t, k, p, m)
    if isinstance(r, tuple):
        raise _row_error(r, batch)
    res = np.moveaxis(r.reshape(batch + (V,)), -1, ax)
    target = dtype if (dtype.kind == "f" or is_bfloat16(dtype)) else np.dtype(np.float64)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out: expected an ndarray, got {type(out).__name__}")
        if out.shape != res.shape:
            raise ValueError(f"out: expected shape {res.shape}, got {out.shape}")
        if out.dtype != target:
            raise TypeError(f"out: expected dtype {target}, got {out.dtype}")
        out[...] = res
        return out
    return np.ascontiguousarray(res.astype(target, copy=False))
