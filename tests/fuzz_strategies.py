"""Inputs for the differential fuzzer (test_fuzz.py): shapes, dtypes, memory layouts, values and the
special values injected at every lane offset of a vector group.

Values are drawn by NumPy from a seed that Hypothesis draws (with the shape, dtype, layout and
options), so long rows cost no more to generate than short ones and a failing example shrinks to a
small seed / shape / layout.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)

# Every dtype logitkit accepts for logits, the non-native byte orders included.
NATIVE_FLOATS = [F16, F32, F64]
INTEGERS = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16)]
BOOL = np.dtype(np.bool_)
SWAPPED = [np.dtype(t).newbyteorder() for t in (np.float16, np.float32, np.float64, np.int32)]
ALL_DTYPES = NATIVE_FLOATS + INTEGERS + [BOOL] + SWAPPED

# A vector group is 4 vectors of 2..16 lanes (sse2 f64 .. avx512 f32): 64 consecutive elements hold
# every lane offset of every vector of a group for both float widths.
WINDOW = 64
# Distances between two injected values that put them in the same lane of different vectors of
# one group, for vectors of 1 (scalar f64), 2, 4, 8 and 16 lanes (i +- W, i +- 2W, i +- 3W).
PAIR_DISTANCES = sorted({s * k * w for w in (1, 2, 4, 8, 16) for k in (1, 2, 3) for s in (1, -1)})


def native(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("=")


def special_values(dtype: np.dtype) -> list[float]:
    """NaN, infinities, values just outside and far outside exp's range, subnormals, -0."""
    if dtype == F32:
        return [np.nan, np.inf, -np.inf, 88.8, -88.8, 89.5, -89.5, 100.0, -100.0, -104.0, 1e5,
                -1e5, 3e38, -3e38, 1e-40, -1e-40, 1.4e-45, -0.0]  # fmt: skip
    return [np.nan, np.inf, -np.inf, 709.8, -709.8, 710.0, -710.0, -745.2, -746.0, 1e5, -1e5,
            1e300, -1e300, 1e-310, -1e-310, 5e-324, -0.0]  # fmt: skip


def out_of_range(dtype: np.dtype) -> list[float]:
    """Finite values whose exp overflows or underflows (what a hidden range check lets through)."""
    return [100.0, -100.0, 1e5, -1e5] if dtype == F32 else [1000.0, -1000.0, 1e300, -1e300]


def negligible(dtype: np.dtype) -> list[float]:
    """Finite values whose exp(x - max) is 0 in any precision next to a moderate row max: in a row
    they must act exactly as -inf on every other entry."""
    return [-1e5, -3e38] if dtype == F32 else [-1e5, -1e300]


def base_values(rng: np.random.Generator, shape, dtype: np.dtype, scale: str) -> np.ndarray:
    """Valid (finite, moderate or wide) values of the native dtype."""
    dt = native(dtype)
    if dt == BOOL:
        return rng.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = max(info.min, -120), min(info.max, 120)
        return rng.integers(lo, hi + 1, shape).astype(dt)
    s = {"unit": 1.0, "moderate": 8.0, "wide": 60.0}[scale]
    if dt == F16:
        s = min(s, 8.0)
    v = rng.normal(0.0, s, shape)
    if scale == "wide" and v.size:
        # some ties and exact integers (cancellation and tie handling)
        v = np.where(rng.random(shape) < 0.2, np.round(v), v)
    return v.astype(dt)


# ----------------------------------------------------------------------------- layouts

LAYOUTS = ["contiguous", "negative", "strided", "broadcast", "unaligned", "fortran"]


def lay_out(x0: np.ndarray, dtype: np.dtype, layout: str, axis_hint: int = 0) -> np.ndarray:
    """A view of dtype ``dtype`` (possibly byte-swapped) in the memory layout ``layout`` whose
    values are those of ``x0`` (for ``broadcast``: those of x0's first slice along ``axis_hint``,
    repeated with stride 0)."""
    x = np.asarray(x0).astype(dtype)
    if x.ndim == 0 and layout not in ("contiguous", "unaligned"):
        layout = "contiguous"
    if layout == "contiguous":
        return x
    if layout == "negative":
        rev = tuple(slice(None, None, -1) for _ in range(x.ndim))
        return x[rev].copy()[rev]
    if layout == "strided":
        buf = np.zeros(tuple(2 * n + 1 for n in x.shape), dtype)
        view = buf[tuple(slice(1, None, 2) for _ in range(x.ndim))]
        view[...] = x
        return view
    if layout == "broadcast":
        ax = axis_hint % x.ndim
        first = np.take(x, [0], axis=ax) if x.shape[ax] else x
        return np.broadcast_to(first, x.shape)
    if layout == "unaligned":
        raw = np.zeros(x.nbytes + x.itemsize + 1, np.uint8)
        view = raw[1 : 1 + x.nbytes].view(dtype).reshape(x.shape)
        view[...] = x
        return view
    if layout == "fortran":
        return np.asfortranarray(x)
    raise AssertionError(layout)


# ----------------------------------------------------------------------------- strategies

SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100]
LONG = [1025, 1100, 2049, 4100]


@st.composite
def shapes(draw, min_ndim: int = 0, max_ndim: int = 4, min_last: int = 0):
    """Shapes with 0-size axes, 0-d, long last axes (> 1024) and many dimensions, at most ~20k
    elements."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    if ndim == 0:
        return ()
    dims = [draw(st.sampled_from(SIZES[:10])) for _ in range(ndim - 1)]
    last = draw(st.one_of(st.sampled_from(SIZES), st.sampled_from(LONG)))
    dims.append(max(last, min_last))
    for i in range(ndim - 1):
        dims[i] = max(dims[i], min_last if i == ndim - 1 else 0)
    while np.prod(dims) > 20_000:
        i = int(np.argmax(dims[:-1])) if ndim > 1 else 0
        if ndim == 1 or dims[i] <= 1:
            dims[-1] //= 2
        else:
            dims[i] //= 2
    return tuple(int(d) for d in dims)
