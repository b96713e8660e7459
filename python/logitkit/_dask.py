"""Dask and xarray paths of the public functions.

A Dask array keeps its laziness through every function that maps over its rows: each block of rows
goes through the NumPy function itself (so a block's values are exactly the NumPy values of those
rows), and the reductions combine per-block partial sums with ``dask.array`` reductions. The
row-wise functions (softmax and its relatives, the multi-class losses, ``predict``, ``top_k``) need
the class axis in one chunk, and say how to rechunk it when it is not; the elementwise ones
(sigmoid, the binary losses) take any chunks.

Nothing here imports Dask or xarray unless the caller passed one of their arrays.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ._validation import InvalidTargetError, class_axis_index, position_text

__all__ = [
    "check_class_chunks",
    "is_dask",
    "is_xarray",
    "loss",
    "map_classes",
    "map_rows",
    "xarray_rowwise",
]


def is_dask(a: Any) -> bool:
    """Whether ``a`` is a Dask collection (decided by its type's module: no import of Dask)."""
    return type(a).__module__.startswith("dask.")


def is_xarray(a: Any) -> bool:
    return type(a).__module__.startswith("xarray.")


def check_class_chunks(x: Any, ax: int, name: str = "x") -> None:
    """A row-wise function sees a whole row per block: the class axis must be one chunk."""
    chunks = x.chunks[ax]
    if len(chunks) > 1:
        raise ValueError(
            f"{name}: the class axis {ax} of this Dask array is split into {len(chunks)} chunks "
            f"{chunks}; a row-wise function needs each row in one chunk: rechunk that axis, "
            f"{name}.rechunk({{{ax}: -1}})"
        )


def _as_dask(a: Any, chunks: tuple[tuple[int, ...], ...]) -> Any:
    import dask.array as da

    if is_dask(a):
        return a.rechunk(chunks)
    return da.from_array(np.asarray(a), chunks=chunks)


# ----------------------------------------------------------------------------- block errors


def _shift_error(e: Exception, offsets: tuple[int, ...], ax: int, lead: int) -> Exception | None:
    """The error a block raised, with its position made global (the block's offsets added: all of
    them for a position in the logits' shape, those of the items' axes for an item's position;
    ``lead`` leading axes that the Dask path added removed), or None to re-raise as is."""
    if isinstance(e, InvalidTargetError):
        local = e.position
        if len(local) != len(offsets):
            offsets = offsets[:ax] + offsets[ax + 1 :]
        full = tuple(int(o) + int(i) for o, i in zip(offsets, local))
        full = full[lead:] if local else local
        msg = str(e).replace(position_text(local), position_text(full), 1)
        return InvalidTargetError(
            msg, position=full, value=e.value, argument=e.argument, row_sum=e.row_sum
        )
    return None


def _call_block(fn, offsets, ax, lead, **kw):
    try:
        return fn(**kw)
    except InvalidTargetError as e:
        raise _shift_error(e, offsets, ax, lead) from None
    except ValueError as e:  # nll_loss's "row (i,) has logsumexp ..."
        shifted = _shift_row(e, offsets, ax, lead)
        if shifted is None:
            raise
        raise shifted from None


# ----------------------------------------------------------------------------- losses

# the public loss functions: (first argument, family) with family "rows" (the class axis is a
# softmax axis: one chunk) or "elements" (elementwise in the logits: any chunks)
_LOSSES = {
    "cross_entropy": ("logits", "rows"),
    "cross_entropy_with_grad": ("logits", "rows"),
    "nll_loss": ("log_probs", "rows"),
    "binary_cross_entropy_with_logits": ("logits", "elements"),
    "binary_cross_entropy_with_logits_with_grad": ("logits", "elements"),
    "sigmoid_focal_loss": ("logits", "elements"),
    "sigmoid_focal_loss_with_grad": ("logits", "elements"),
    "grad_hess": ("logits", None),
}


def _zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.broadcast_to(np.zeros((), dtype), shape)


def loss(fn: Any, kw: dict[str, Any]) -> Any:
    """``fn`` (a public function of :mod:`logitkit.losses`) over a Dask array of logits, lazily.

    ``kw`` holds the call's arguments by name (the function's ``locals()``). Each block of rows
    goes through ``fn`` with ``reduction="none"``; "sum" and "mean" add the per-item losses (and,
    for "mean", the per-block sums of the items' weights) with ``dask.array`` sums in float64.
    A "mean" gradient is the block's unscaled gradient times 1/Σweights in the gradient's dtype.
    """
    import dask.array as da

    name = fn.__name__
    first, family = _LOSSES[name]
    kw = dict(kw)
    if name == "grad_hess":
        family = "rows" if kw.get("family") == "multiclass" else "elements"
    if kw.get("out") is not None:
        raise TypeError(
            "out: not supported for Dask logits (the result is a lazy Dask array; compute it, or "
            "store it with dask.array.store)"
        )
    kw.pop("out", None)
    x = kw[first]
    if x.dtype.kind not in "fiub":
        fn(**{**kw, first: _zeros((0,), x.dtype)})  # raises the dtype error
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    rows = family == "rows"
    if rows and x.ndim == 0:
        fn(**{**kw, first: _zeros((), x.dtype)})  # raises the "need a class axis" error
    axis = kw.get("axis", -1)
    given = dict(kw)  # for the shape errors, as the caller gave them
    # a lead axis of one row where the logits have no other axis: the Dask path needs an axis of rows
    lead = int(x.ndim == (1 if rows else 0))
    ax = None if x.ndim == 0 else class_axis_index(axis, x.ndim)
    if rows:
        check_class_chunks(x, ax, first)
    if lead:
        x = x[None]
        ax = 0 if ax is None else ax + 1
        kw["axis"] = ax
    elif ax is not None and "axis" in kw:
        kw["axis"] = ax
    if ax is None:
        ax = x.ndim - 1
    shape = x.shape
    item_shape = shape[:ax] + shape[ax + 1 :]
    C = shape[ax]

    # the arrays that go with the logits, block by block: name -> (array with the logits' ndim,
    # whether it has the class axis (else it is item-shaped, with a class axis of 1 inserted))
    target = kw["target"]
    if not hasattr(target, "__array_ufunc__"):
        target = np.asarray(target)
    if lead:
        target = target[None]
    tkind = getattr(target.dtype, "kind", "f")
    hard = rows and tkind in "iu"
    aligned: dict[str, tuple[Any, bool]] = {}
    bad_shape = False
    if hard:
        bad_shape = tuple(target.shape) != item_shape
        aligned["target"] = (target, False)
    else:
        bad_shape = tuple(target.shape) != shape
        aligned["target"] = (target, True)
    sw = kw.get("sample_weight")
    if rows and sw is not None:
        sw = sw if hasattr(sw, "__array_ufunc__") else np.asarray(sw)
        try:
            np.broadcast_shapes(tuple(sw.shape), item_shape)
            ok = np.broadcast_shapes(tuple(sw.shape), item_shape) == item_shape
        except ValueError:
            ok = False
        bad_shape |= not ok
        if ok:
            aligned["sample_weight"] = (_broadcast(sw, item_shape), False)
    if not rows:
        for wname in ("weight", "pos_weight"):
            w = kw.get(wname)
            if w is None:
                continue
            w = w if hasattr(w, "__array_ufunc__") else np.asarray(w)
            if w.ndim == 1 and ax != x.ndim - 1 and w.shape[0] in (1, C):
                w = w.reshape((-1,) + (1,) * (x.ndim - 1 - ax))
            try:
                ok = np.broadcast_shapes(tuple(w.shape), shape) == shape
            except ValueError:
                ok = False
            bad_shape |= not ok
            if ok:
                aligned[wname] = (_broadcast(w, shape), True)
    elif kw.get("weight") is not None and is_dask(kw["weight"]):
        kw["weight"] = np.asarray(kw["weight"])  # one weight per class: small
    if bad_shape:
        _shape_error(fn, given, first, x, lead)

    # the options, checked by fn on no rows (reads no values)
    r = next(i for i in range(x.ndim) if i != ax)
    probe = dict(kw)
    probe[first] = _zeros(shape[:r] + (0,) + shape[r + 1 :], x.dtype)
    for k, (a, has_class) in aligned.items():
        s = list(a.shape)
        s[r if has_class or r < ax else r - 1] = 0
        probe[k] = _zeros(tuple(s), a.dtype)
    if name != "grad_hess":
        probe["reduction"] = "none"
    res = fn(**probe)
    if name != "grad_hess" and kw.get("reduction") != "none":
        fn(**{**probe, "reduction": kw.get("reduction")})  # its check of the reduction's name

    # the blocks
    names = list(aligned)
    ops = []
    for k in names:
        a, has_class = aligned[k]
        if not has_class:
            a = a[(slice(None),) * ax + (None,)]
        chunks = tuple(
            (c if a.shape[i] == shape[i] else (a.shape[i],)) for i, c in enumerate(x.chunks)
        )
        ops.append(_as_dask(a, chunks))
    want_grad = name == "grad_hess" or name.endswith("_with_grad")
    has_loss = name != "grad_hess"
    pair = want_grad  # fn returns two arrays per block
    per_shape_has_class = not rows  # per-item losses: the logits' shape (elementwise) or items

    reduction = kw.get("reduction")
    denom = None
    if has_loss and reduction == "mean":
        lt0 = np.asarray(res[0] if pair else res).dtype
        denom = _denominator(name, kw, hard, ops, names, x, ax, item_shape, lt0)
    # A multi-class "mean" gradient is scaled inside the kernel by sample_weight / Σweights
    # rounded once to the dtype: the block gets that factor as its sample weights (reduction
    # "sum"), so its gradient has the NumPy call's bits; its loss comes from a second call.
    inject = rows and pair and denom is not None

    def block(xb, *obs, block_info=None):
        kwb = dict(kw)
        kwb[first] = xb
        if inject:
            obs, d = obs[:-1], float(obs[-1])
        for k, ob in zip(names, obs):
            has_class = aligned[k][1]
            kwb[k] = ob if has_class else np.squeeze(ob, axis=ax)
        if has_loss:
            kwb["reduction"] = "none"
        offsets = tuple(s for s, _ in block_info[0]["array-location"])
        if inject:
            from . import losses

            per = _call_block(losses.cross_entropy, offsets, ax, lead, **kwb)
            sw = kwb.get("sample_weight")
            item = xb.shape[:ax] + xb.shape[ax + 1 :]
            sw = np.ones(item) if sw is None else np.asarray(sw, np.float64)
            kwb["sample_weight"] = sw * (1.0 / d if d != 0 else 0.0)
            kwb["reduction"] = "sum"
            out = (per, _call_block(fn, offsets, ax, lead, **kwb)[1])
        else:
            out = _call_block(fn, offsets, ax, lead, **kwb)
        if not has_loss:
            return out
        per = out[0] if pair else out
        per = np.asarray(per)
        if not per_shape_has_class:
            per = np.expand_dims(per, ax)
        return (per, out[1]) if pair else per

    per_chunks = tuple((1,) if i == ax and rows else c for i, c in enumerate(x.chunks))
    nd = x.ndim
    if pair:
        extra = [denom] if inject else []
        both = da.map_blocks(block, x, *ops, *extra, dtype=object, meta=np.empty((0,) * nd, object))
        d0 = np.asarray(res[0]).dtype
        d1 = np.asarray(res[1]).dtype
        c0 = per_chunks if has_loss else x.chunks
        first_out = both.map_blocks(
            operator.itemgetter(0), dtype=d0, chunks=c0, meta=np.empty((0,) * nd, d0)
        )
        second = both.map_blocks(
            operator.itemgetter(1), dtype=d1, chunks=x.chunks, meta=np.empty((0,) * nd, d1)
        )
    else:
        d0 = np.asarray(res).dtype
        first_out = da.map_blocks(
            block, x, *ops, dtype=d0, chunks=per_chunks, meta=np.empty((0,) * nd, d0)
        )
        second = None
    if not has_loss:
        return _unlead(first_out, lead), _unlead(second, lead)
    per = first_out if not rows else da.squeeze(first_out, axis=ax)
    lt = per.dtype
    if inject:
        value = da.map_blocks(_mean, per.sum(dtype=np.float64), denom, lt, dtype=lt)
        return value, _unlead(second, lead)
    if reduction == "none":
        result = _unlead(per, lead)
        return (result, _unlead(second, lead)) if pair else result
    total = per.sum(dtype=np.float64)
    if reduction == "sum":
        value = total.astype(lt)
        return (value, _unlead(second, lead)) if pair else value
    value = da.map_blocks(_mean, total, denom, lt, dtype=lt, meta=np.empty((), lt))
    if not pair:
        return value
    scale = da.map_blocks(_inverse, denom, second.dtype, dtype=second.dtype)
    return value, _unlead(second * scale, lead)


def _unlead(a: Any, lead: int) -> Any:
    return a[0] if lead else a


def _broadcast(a: Any, shape: tuple[int, ...]) -> Any:
    if is_dask(a):
        import dask.array as da

        return da.broadcast_to(a, shape)
    return np.broadcast_to(a, shape)


def _mean(total: np.ndarray, denom: np.ndarray, dtype: np.dtype) -> np.ndarray:
    t, d = float(total), float(denom)
    return np.asarray(dtype.type(t / d) if d != 0 else dtype.type(np.nan))


def _inverse(denom: np.ndarray, dtype: np.dtype) -> np.ndarray:
    d = float(denom)
    return np.asarray(dtype.type(1.0 / d if d != 0 else 0.0))


def _shape_error(fn: Any, kw: dict[str, Any], first: str, x: Any, lead: int) -> None:
    """Raise fn's own error for arguments whose shapes do not fit the logits: fn on stand-ins of
    the same shapes and dtypes, which it rejects before it reads a value."""
    probe = dict(kw)
    shape = x.shape[lead:]
    probe[first] = _zeros(shape, x.dtype)
    for k in ("target", "sample_weight", "weight", "pos_weight"):
        v = kw.get(k)
        if v is not None and hasattr(v, "shape") and hasattr(v, "dtype"):
            probe[k] = _zeros(tuple(v.shape), v.dtype)
        elif v is not None:
            probe[k] = np.asarray(v)
    fn(**probe)
    raise ValueError(f"{fn.__name__}: an argument's shape does not fit the logits' shape {shape}")


def _denominator(name, kw, hard, ops, names, x, ax, item_shape, lt):
    """The "mean" denominator as a lazy float64 0-d array: PyTorch's Σ weight[t]·sample_weight over
    the items that are not ignored (hard labels), the number of items or Σ sample_weight (soft
    labels), the number of elements (binary losses)."""
    import dask.array as da

    if name.startswith(("binary", "sigmoid")):
        return da.from_array(np.float64(x.size))
    sw = ops[names.index("sample_weight")] if "sample_weight" in names else None
    if not hard:
        if sw is None:
            return da.from_array(np.float64(math.prod(item_shape)))
        return sw.sum(dtype=np.float64)
    from . import losses

    C = x.shape[ax]
    ignore = kw.get("ignore_index", -100)
    dt = np.dtype(np.float64)
    w = kw.get("weight")
    w64 = None if w is None else np.asarray(w).astype(lt).astype(np.float64)
    t = ops[names.index("target")]

    def part(tb, *swb):
        tb = np.squeeze(tb, axis=ax)
        t64, ignored = losses._hard_target(tb, tb.shape, C, ignore, False)
        valid = np.ones(tb.shape, bool) if ignored is None else ~ignored
        wt = np.zeros(tb.shape, dt)
        wt[valid] = 1.0 if w64 is None else w64[t64[valid]]
        if swb:
            wt = wt * np.squeeze(swb[0], axis=ax)
        return np.full((1,) * x.ndim, np.sum(wt), dt)

    one = tuple((1,) * len(c) for c in t.chunks)
    args = (t,) if sw is None else (t, sw)
    return da.map_blocks(part, *args, dtype=dt, chunks=one).sum()


# ----------------------------------------------------------------------------- row maps


def map_rows(fn: Any, x: Any, ax: int, *args: Any, width: Any = None, **kw):
    """``fn(block, *args, axis=ax, **kw)`` over the row blocks of a Dask array (the class axis in
    one chunk), lazily. ``width`` None: fn returns one array without the class axis (predict);
    else fn returns two arrays whose class axis has length ``width`` (top_k's indices and
    probabilities), and so does the result."""
    import dask.array as da

    check_class_chunks(x, ax, "logits")
    nd = x.ndim

    def block(xb, block_info=None):
        offsets = tuple(s for s, _ in block_info[0]["array-location"])
        try:
            return fn(xb, *args, axis=ax, **kw)
        except ValueError as e:
            shifted = _shift_row(e, offsets, ax)
            if shifted is None:
                raise
            raise shifted from None

    one_row = tuple(x.shape[ax] if i == ax else 1 for i in range(nd))
    probe = fn(_zeros(one_row, x.dtype), *args, axis=ax, **kw)
    if width is None:
        return da.map_blocks(block, x, dtype=probe.dtype, drop_axis=ax)
    chunks = tuple((width,) if i == ax else c for i, c in enumerate(x.chunks))
    both = da.map_blocks(block, x, dtype=object, chunks=chunks, meta=np.empty((0,) * nd, object))
    return tuple(
        both.map_blocks(
            operator.itemgetter(j),
            dtype=probe[j].dtype,
            chunks=chunks,
            meta=np.empty((0,) * nd, probe[j].dtype),
        )
        for j in (0, 1)
    )


def map_classes(fn: Any, x: Any, ax: int, params: tuple[Any, ...], *args: Any) -> Any:
    """``fn(block, ax, *params, *args)`` over the blocks of a Dask array, elementwise in the
    logits: each block gets the slice of the per-class ``params`` (floats or arrays of shape (C,))
    for its classes, so the class axis may be in any chunks."""
    import dask.array as da

    if args and args[-1] is not None:
        raise TypeError("out: not supported for Dask logits (the result is a lazy Dask array)")

    def block(xb, block_info=None):
        lo, hi = block_info[0]["array-location"][ax]
        ps = [p if isinstance(p, float) else p[lo:hi] for p in params]
        return fn(xb, ax, *ps, *args)

    one_row = tuple(x.shape[ax] if i == ax else 1 for i in range(x.ndim))
    probe = fn(_zeros(one_row, x.dtype), ax, *params, *args)
    return da.map_blocks(block, x, dtype=probe.dtype)


def _shift_row(
    e: ValueError, offsets: tuple[int, ...], ax: int, lead: int = 0
) -> ValueError | None:
    """A "row (i, j)" in a block's error message, made global."""
    text = str(e)
    start = text.find("row (")
    if start < 0:
        return None
    end = text.find(")", start)
    try:
        local = tuple(int(v) for v in text[start + 5 : end].split(",") if v.strip())
    except ValueError:
        return None
    item = offsets[:ax] + offsets[ax + 1 :]
    full = tuple(o + i for o, i in zip(item, local))[lead:]
    return ValueError(text[:start] + "row " + position_text(full) + text[end + 1 :])


# ----------------------------------------------------------------------------- xarray


def xarray_rowwise(f: Any, x: Any, axis: Any, reduce: bool, keepdims: bool) -> Any:
    """``f(array, -1)`` (a row-wise function along the last axis) over a DataArray along its
    dimension number ``axis`` or the dimension named ``axis``: xr.apply_ufunc with that dimension
    as the core dimension (a Dask-backed DataArray stays lazy)."""
    import xarray as xr

    if isinstance(axis, str):
        dim = axis
        if dim not in x.dims:
            raise ValueError(f"axis: {dim!r} is not a dimension of the DataArray {x.dims}")
    else:
        dim = x.dims[class_axis_index(axis, x.ndim)]
    r = xr.apply_ufunc(
        lambda a: f(a, -1),
        x,
        input_core_dims=[[dim]],
        output_core_dims=[[] if reduce else [dim]],
        dask="allowed",
        keep_attrs=True,
    )
    if reduce:
        return r.expand_dims(dim, axis=x.dims.index(dim)) if keepdims else r
    return r.transpose(*x.dims)
