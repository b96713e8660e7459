"""Repetition, presence and frequency penalties and logit bias: :func:`apply_penalties`.

The definitions (docs/semantics.md, "Penalties and logit bias"), for each row and token t with
count c = the number of times t occurs in the row's previous tokens (or ``counts``):

1. repetition (Hugging Face ``RepetitionPenaltyLogitsProcessor``), once per distinct token with
   c > 0: ``x < 0 -> x * r``, else ``x / r``;
2. presence and frequency (OpenAI), tokens with c > 0: ``x - (frequency * c + presence)``;
3. logit bias, tokens that have one: ``x + bias``.

Each result is computed in float64 from the exact float64 value of the logit, in that order and
with those operations, and rounded once to the output's dtype; elements that no rule touches are
copied unchanged. The work is O(rows x previous tokens + rows x biased tokens) with a dict bias or
no bias (only the touched elements are read and written), O(rows x V) with a dense bias or
``counts``. The arithmetic is elementwise: a NaN or infinite logit changes only its own element.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._multi import class_axis
from ._validation import as_logits, as_real_array, check_out, is_bfloat16, no_dim

__all__ = ["apply_penalties"]


def _position(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _per_row(value: Any, name: str, batch: tuple[int, ...], positive: bool) -> np.ndarray | float:
    """A penalty: a real number, or one per row (an array of the logits' shape without the class
    axis); finite, and > 0 when ``positive``. A float, or a float64 array of ``batch``'s shape."""
    what = "a positive real number" if positive else "a real number"
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name}: expected {what} or one per row, got {value!r}")
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v) or (positive and not v > 0.0):
            need = "a positive finite number" if positive else "a finite number"
            raise ValueError(f"{name}: must be {need}, got {v!r}")
        return v
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: cannot be read as a number or an array ({e})") from None
    if a.dtype.kind not in "iuf" and not is_bfloat16(a.dtype):
        raise TypeError(f"{name}: expected {what} or one per row, got dtype {a.dtype}")
    if a.ndim == 0:
        return _per_row(float(a), name, batch, positive)
    if a.shape != batch:
        raise ValueError(
            f"{name}: shape {a.shape} is neither a scalar nor one value per row (the logits' "
            f"shape without the class axis: {batch})"
        )
    a = a.astype(np.float64)
    bad = ~np.isfinite(a) | (a <= 0.0) if positive else ~np.isfinite(a)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        need = "positive and finite" if positive else "finite"
        raise ValueError(f"{name}: must be {need}; row {pos} has {float(a[pos])!r}")
    return a


def _is_neutral(v: np.ndarray | float, neutral: float) -> bool:
    return bool(np.all(v == neutral))


def _history(
    prev_tokens: Any, counts: Any, x: np.ndarray, ax: int, batch: tuple[int, ...], V: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(flat keys row * V + token, sorted and distinct; their counts > 0) from prev_tokens or
    counts; None when neither is given."""
    if prev_tokens is not None and counts is not None:
        raise TypeError("prev_tokens, counts: give the previous tokens or their counts, not both")
    R = math.prod(batch)
    if prev_tokens is not None:
        try:
            p = np.asarray(prev_tokens)
        except (TypeError, ValueError) as e:
            raise ValueError(
                "prev_tokens: cannot be read as an integer array; pad the rows to one length "
                f"with -1 ({e})"
            ) from None
        if p.size == 0 and p.dtype.kind in "f":  # [] and [[], []] read as float64
            p = p.astype(np.int64)
        if p.dtype.kind not in "iu":
            raise TypeError(
                f"prev_tokens: expected an integer array of token ids (rows padded with -1), got "
                f"dtype {p.dtype}"
            )
        if p.ndim != len(batch) + 1 or p.shape[:-1] != batch:
            raise ValueError(
                f"prev_tokens: shape {p.shape} does not fit logits of shape {x.shape} with the "
                f"class axis {ax}: expected {batch + ('L',)} (the logits' shape without the class "
                "axis, then one row of L previous tokens, padded with -1)"
            )
        bad = (p < -1) | (p >= V)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise IndexError(
                f"prev_tokens: token id {int(p[pos])} at {pos} is outside [0, {V}) (the "
                f"vocabulary: the class axis has length {V}); -1 pads a row"
            )
        p = p.reshape(R, p.shape[-1]).astype(np.int64, copy=False)
        r, j = np.nonzero(p >= 0)
        keys = r * V + p[r, j]
        keys.sort()
        if not keys.size:
            return keys, keys
        # the distinct keys and their run lengths (one sort: cheaper than np.unique)
        first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        return keys[first], np.diff(np.append(first, keys.size))
    if counts is not None:
        try:
            c = np.asarray(counts)
        except (TypeError, ValueError) as e:
            raise TypeError(f"counts: cannot be read as an integer array ({e})") from None
        if c.dtype.kind not in "iu":
            raise TypeError(
                f"counts: expected an integer array (how often each token occurred), got dtype "
                f"{c.dtype}" + ("; use counts.astype(int)" if c.dtype.kind == "b" else "")
            )
        if c.shape != x.shape:
            raise ValueError(f"counts: shape {c.shape} does not match the logits' shape {x.shape}")
        if c.dtype.kind == "i" and (neg := c < 0).any():
            pos = tuple(int(i) for i in np.argwhere(neg)[0])
            raise ValueError(f"counts: must be >= 0; {pos} has {int(c[pos])}")
        cm = np.moveaxis(c, ax, -1).reshape(R, V)
        r, t = np.nonzero(cm)
        return r * V + t, cm[r, t].astype(np.int64)
    return None


def _bias_dict(bias: Mapping, V: int) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, biases) of a {token: bias} mapping, checked."""
    tokens, values = [], []
    for k, b in bias.items():
        if isinstance(k, (bool, np.bool_)):
            raise TypeError(f"logit_bias: key {k!r} is not a token id (an integer)")
        try:
            t = operator.index(k)
        except TypeError:
            hint = "; convert JSON keys with int()" if isinstance(k, str) else ""
            raise TypeError(f"logit_bias: key {k!r} is not a token id (an integer){hint}") from None
        if not 0 <= t < V:
            raise IndexError(
                f"logit_bias: token id {t} is outside [0, {V}) (the vocabulary: the class axis "
                f"has length {V})"
            )
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"logit_bias: the bias of token {t} is not a real number: {b!r}")
        fb = float(b)
        if not math.isfinite(fb):
            raise ValueError(
                f"logit_bias: the bias of token {t} must be finite, got {fb!r} (to exclude a "
                "token, pass where= to sample/proba)"
            )
        tokens.append(t)
        values.append(fb)
    return np.asarray(tokens, np.int64), np.asarray(values, np.float64)


def _bias_dense(bias: Any, x: np.ndarray, ax: int, V: int) -> np.ndarray:
    """A dense bias of length V (every row) or of the logits' shape, as float64 with the class
    axis last (shape (V,) or batch + (V,))."""
    b = np.asarray(as_real_array(bias, "logit_bias"))
    if b.dtype.kind == "b":
        raise TypeError("logit_bias: a bool array is not a bias; expected real numbers")
    if b.shape != (V,) and b.shape != x.shape:
        raise ValueError(
            f"logit_bias: shape {b.shape} is neither ({V},) (one bias per token, every row) nor "
            f"the logits' shape {x.shape}"
        )
    b = b.astype(np.float64)
    bad = ~np.isfinite(b)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"logit_bias: must be finite; {pos} has {float(b[pos])!r} (to exclude a token, pass "
            "where= to sample/proba)"
        )
    return b if b.shape == (V,) else np.moveaxis(b, ax, -1)


def apply_penalties(
    logits: Any,
    prev_tokens: Any = None,
    *,
    counts: Any = None,
    repetition_penalty: Any = 1.0,
    presence_penalty: Any = 0.0,
    frequency_penalty: Any = 0.0,
    logit_bias: Any = None,
    axis: int = -1,
    out: np.ndarray | None = None,
    dim: None = None,
) -> np.ndarray:
    """Penalise the tokens already generated and add a logit bias, as serving stacks do before
    sampling (docs/semantics.md, "Penalties and logit bias").

    For each row and token t occurring c > 0 times in the row's previous tokens: first the
    repetition penalty of Hugging Face transformers (``RepetitionPenaltyLogitsProcessor``, the
    CTRL paper's), once per distinct token: a negative logit is multiplied by
    ``repetition_penalty``, any other divided by it; then OpenAI's presence and frequency
    penalties, ``x - (frequency_penalty * c + presence_penalty)``. Last, ``logit_bias`` is added
    (to every token that has one, generated or not). Each result is the float64 value of these
    operations on the exact logit, rounded once to the output dtype; untouched elements are
    copied unchanged, and a NaN or inf stays in its own element.

    Parameters
    ----------
    logits : array_like, shape (..., V, ...)
        Logits, the vocabulary along ``axis``. float16, bfloat16 (ml_dtypes), float32 and float64
        keep their dtype; integers and bool give float64.
    prev_tokens : array_like of int, shape (..., L), optional
        The previous tokens of each row: the logits' shape without the class axis, then L token
        ids in [0, V); shorter rows are padded with -1. Their order does not matter.
    counts : array_like of int, the logits' shape, optional
        Instead of ``prev_tokens``: how many times each token occurred (>= 0).
    repetition_penalty : float > 0, or one per row
        1 (default) does nothing; > 1 discourages repeats, < 1 encourages them.
    presence_penalty, frequency_penalty : float, or one per row
        Finite; 0 (default) does nothing, negative values encourage repeats.
    logit_bias : dict {token: bias}, or array_like, optional
        Finite biases added to the logits: a mapping of token ids to biases (every row), a dense
        vector of length V (every row) or an array of the logits' shape (one per row).
    axis : int
        The class (vocabulary) axis.
    out : ndarray, optional
        Where to write the result, the logits' shape, a floating dtype; ``out=logits`` works in
        place and touches only the penalised and biased elements. Without ``out`` the logits are
        never written.

    Returns
    -------
    ndarray
        The penalised logits (``out`` when given).

    Raises
    ------
    TypeError
        Wrong argument types, both ``prev_tokens`` and ``counts``, a non-integer token id.
    ValueError
        Shapes that do not fit, a penalty that is not finite, ``repetition_penalty <= 0``, a bias
        that is not finite, negative counts, a penalty without ``prev_tokens`` or ``counts``.
    IndexError
        A token id outside [0, V) in ``prev_tokens`` (other than the -1 padding) or
        ``logit_bias``.

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> x = np.array([2.0, -1.0, 0.5, 3.0])
    >>> lk.multiclass.apply_penalties(x, [0, 1, 1, -1], repetition_penalty=2.0)
    array([ 1. , -2. ,  0.5,  3. ])
    >>> lk.multiclass.apply_penalties(
    ...     x, [0, 1, 1, -1], presence_penalty=0.5, frequency_penalty=0.25, logit_bias={3: -1.0}
    ... )
    array([ 1.25, -2.  ,  0.5 ,  2.  ])
    """
    if dim is not None:
        no_dim(dim)
    x = np.asarray(as_logits(logits, "logits"))
    ax = class_axis(x, axis)
    xm = np.moveaxis(x, ax, -1)
    batch, V = xm.shape[:-1], xm.shape[-1]
    R = math.prod(batch)

    rep = _per_row(repetition_penalty, "repetition_penalty", batch, positive=True)
    pres = _per_row(presence_penalty, "presence_penalty", batch, positive=False)
    freq = _per_row(frequency_penalty, "frequency_penalty", batch, positive=False)
    do_rep = not _is_neutral(rep, 1.0)
    do_sub = not (_is_neutral(pres, 0.0) and _is_neutral(freq, 0.0))
    hist = _history(prev_tokens, counts, x, ax, batch, V)
    if hist is None and (do_rep or do_sub):
        used = [
            n
            for n, on in (
                ("repetition_penalty", do_rep),
                ("presence_penalty", not _is_neutral(pres, 0.0)),
                ("frequency_penalty", not _is_neutral(freq, 0.0)),
            )
            if on
        ]
        raise ValueError(
            f"{', '.join(used)}: needs the previous tokens (prev_tokens) or their counts (counts)"
        )

    dense = None
    bias_keys = bias_vals = None
    if logit_bias is not None:
        if isinstance(logit_bias, Mapping):
            bt, bv = _bias_dict(logit_bias, V)
            if bt.size and R:
                # every row gets the mapping's biases (a Mapping's keys are distinct)
                bias_keys = (np.arange(R, dtype=np.int64)[:, None] * V + bt).ravel()
                bias_vals = np.tile(bv, R)
        else:
            dense = _bias_dense(logit_bias, x, ax, V)

    check_out(out, x.shape)
    pen_keys = pen_counts = None
    if hist is not None and (do_rep or do_sub) and hist[0].size:
        pen_keys, pen_counts = hist

    with np.errstate(all="ignore"):  # IEEE results (inf, subnormals) are the definition
        if dense is not None:
            y = xm.astype(np.float64).reshape(R, V)  # a fresh C-contiguous copy
            if pen_keys is not None:
                r, t = np.divmod(pen_keys, V)
                y[r, t] = _penalise(y[r, t], r, pen_counts, rep, pres, freq, do_rep, do_sub)
            y += dense if dense.ndim == 1 else dense.reshape(R, V)
            res = np.empty(x.shape, x.dtype) if out is None else out
            np.copyto(np.moveaxis(res, ax, -1), y.reshape(xm.shape), casting="unsafe")
            return res

        # two disjoint sets of flat positions: the penalised ones (their biases added there)
        # and the biased ones that are not penalised; every value is read before out (maybe the
        # logits themselves) is written.
        writes = []
        if pen_keys is not None:
            r, t = np.divmod(pen_keys, V)
            idx = (*np.unravel_index(r, batch), t) if batch else (t,)
            v = _penalise(
                xm[idx].astype(np.float64), r, pen_counts, rep, pres, freq, do_rep, do_sub
            )
            writes.append((idx, v))
            if bias_keys is not None:
                at = np.minimum(np.searchsorted(pen_keys, bias_keys), pen_keys.size - 1)
                hit = pen_keys[at] == bias_keys
                v[at[hit]] += bias_vals[hit]  # distinct keys: no position twice
                bias_keys, bias_vals = bias_keys[~hit], bias_vals[~hit]
        if bias_keys is not None and bias_keys.size:
            r, t = np.divmod(bias_keys, V)
            idx = (*np.unravel_index(r, batch), t) if batch else (t,)
            writes.append((idx, xm[idx].astype(np.float64) + bias_vals))
        if out is None:
            res = np.array(x, copy=True)
        else:
            res = out
            if not (out is x or (out.dtype == x.dtype and _same_memory(out, x))):
                np.copyto(out, x, casting="unsafe")
        rm = np.moveaxis(res, ax, -1)
        for idx, v in writes:
            rm[idx] = v
        return res


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b are the same elements (one array seen twice): copying b into a does nothing."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _penalise(
    v: np.ndarray,
    rows: np.ndarray,
    c: np.ndarray,
    rep: np.ndarray | float,
    pres: np.ndarray | float,
    freq: np.ndarray | float,
    do_rep: bool,
    do_sub: bool,
) -> np.ndarray:
    """Steps 1 and 2 of the module's definitions at elements with counts c > 0 (float64)."""
    if do_rep:
        r = rep if isinstance(rep, float) else rep.reshape(-1)[rows]
        v = np.where(v < 0.0, v * r, v / r)
    if do_sub:
        f = freq if isinstance(freq, float) else freq.reshape(-1)[rows]
        p = pres if isinstance(pres, float) else pres.reshape(-1)[rows]
        v = v - (f * c + p)
    return v
