"""Top-k selection for :func:`logitkit.multiclass.top_k` and :func:`logitkit.multilabel.top_k`.

The selection runs in the C++ core (``_core.top_k``: the kernel list's SELECT entry ``top_k`` and
``logitkit::top_k`` in api.hpp): a partial selection per row, then a sort of the k winners only;
equal values by the lower index (the order of a stable sort of ``-x``), a row holding NaN raises
ValueError naming it. The softmax probabilities of the winners come from the same row kernel as
:func:`logitkit.softmax`, so they are its values bit for bit. float16 is selected and computed in
float32 (exact widening), its probabilities rounded to float16 as the softmax ufunc rounds them.
"""

from __future__ import annotations

import numpy as np

from . import _core

# The dtypes the core selects in; others (longdouble) take the sort below.
_CORE = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def nan_row_error(row: int, batch: tuple[int, ...]) -> ValueError:
    """The message of a row holding NaN (the same as multiclass.predict's), the row named by its
    position in the batch dimensions."""
    pos = tuple(int(i) for i in np.unravel_index(row, batch)) if batch else ()
    return ValueError(
        f"logits: row {pos} contains NaN; it has no most likely class (softmax gives NaN)"
    )


def select(
    x: np.ndarray, ax: int, k: int, temperature: float | None, probs: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """(indices, softmax(x / temperature) at them or None) of the k largest entries along ``ax``
    (a checked class axis, 1 <= k <= its length) of the float16/32/64 ndarray x (what
    ``float_logits`` leaves: integers and bfloat16 are converted before, wider floats refused), the
    class axis of length k in both."""
    if x.dtype not in _CORE:
        raise TypeError(f"logits: top_k takes float16, float32 or float64, got {x.dtype}")
    xm = np.moveaxis(x, ax, -1)
    batch, C = xm.shape[:-1], xm.shape[-1]
    if x.dtype == np.float16:
        xm = xm.astype(np.float32)
    r = _core.top_k(xm.reshape(-1, C), k, 1.0 if temperature is None else temperature, probs)
    if isinstance(r, int):
        raise nan_row_error(r, batch)
    idx, p = r
    if p is not None and x.dtype == np.float16:
        p = p.astype(np.float16)
    return _place(idx, batch, k, ax), None if p is None else _place(p, batch, k, ax)


def _place(a: np.ndarray, batch: tuple[int, ...], k: int, ax: int) -> np.ndarray:
    """(rows, k) back to the batch shape with the class axis at ``ax`` (C-contiguous)."""
    a = a.reshape(batch + (k,))
    if ax != a.ndim - 1:
        a = np.ascontiguousarray(np.moveaxis(a, -1, ax))
    return a
