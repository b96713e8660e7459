"""The functional API: activations, row-wise transforms and their backward rules.

Each function is a thin wrapper over a NumPy ufunc or generalized ufunc of ``logitkit.ufuncs``: the
wrapper adds keyword options and validation, the ufunc does the work (so broadcasting, ``out=``,
dtype handling and ``__array_ufunc__`` overrides such as Dask's come from NumPy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _core, _dask
from ._validation import (
    Array,
    as_logits,
    as_real_array,
    check_out,
    check_temperature,
    no_dim,
    normalize_axes,
    register_bfloat16_when_imported,
)

# The public functions: one per entry of the kernel list whose kind has a functional form
# (cpp/include/logitkit/kernels/list.hpp; _core.kernel_list). The import fails when this list and
# the kernel list disagree (the check at the end of this module).
__all__ = [
    "log_sigmoid",
    "log_sigmoid_backward",
    "log_softmax",
    "log_softmax_backward",
    "logsumexp",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "softplus",
]
_FUNCTIONAL_KINDS = ("unary", "binary", "row", "reduce", "row_binary")

_ndarray = np.ndarray
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

# Once ml_dtypes is imported, every ufunc of the kernel list but the losses gets a bfloat16 loop
# (cpp/bindings/register_list.cpp, register_bfloat16): computed in float32 a block or a row at a
# time, transforms returned as bfloat16, logsumexp as float32. Registered here when ml_dtypes was
# imported before logitkit, else as soon as its import ends (_validation).
register_bfloat16_when_imported()


# ----------------------------------------------------------------------------- elementwise


def _elementwise(uf: np.ufunc, x: Any, out: Any) -> Any:
    if type(x) is _ndarray:
        dt = x.dtype
        if dt is _F32 or dt is _F64:
            if out is None:
                return uf(x)
            if type(out) is _ndarray and out.dtype is dt and out.shape == x.shape:
                try:  # a read-only out is refused by NumPy: then name the argument
                    return uf(x, out)
                except ValueError:
                    check_out(out, x.shape)
                    raise
    # masked arrays: an elementwise ufunc keeps their mask (NumPy's masked-array rules are exact)
    if out is None:
        return uf(as_logits(x, masked_ok=True))
    x = as_logits(x, masked_ok=True)
    check_out(out, np.shape(x))
    return uf(x, out=out)


def _pair(grad: Any, y: Any, elementwise: bool, name: str = "y") -> tuple[Any, Any]:
    """The two inputs of a backward rule; when neither is floating, both as float64 (NumPy would
    pick the narrowest float loop: float16 for int8 and bool)."""
    grad = as_real_array(grad, "grad", masked_ok=elementwise)
    y = as_real_array(y, name, masked_ok=elementwise)
    kinds = (getattr(getattr(grad, "dtype", None), "kind", "f"), getattr(y.dtype, "kind", "f"))
    if kinds[0] in "iub" and kinds[1] in "iub":
        grad, y = grad.astype(np.float64), y.astype(np.float64)
    return grad, y


def sigmoid(x: Any, /, *, out: np.ndarray | None = None) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise: the probability of each class on its own
    (multi-label logits).

    Exact to 3 ulp (float32) / 4 ulp (float64) over the whole range: ``sigmoid(-inf) = 0``,
    ``sigmoid(inf) = 1``, subnormal results for ``x < -87`` (float32) are correct, NaN stays NaN.

    >>> import logitkit as lk
    >>> lk.sigmoid([0.0, 2.0, -800.0])
    array([0.5       , 0.88079708, 0.        ])
    """
    return _elementwise(_core.sigmoid, x, out)


def log_sigmoid(x: Any, /, *, out: np.ndarray | None = None) -> Array:
    """``log(sigmoid(x)) = -softplus(-x)``, elementwise, without rounding sigmoid first.

    ``log_sigmoid(-750) = -750`` and ``log_sigmoid(710) = -4.476e-309`` (float64) exactly; where
    ``log(sigmoid(x))`` gives ``-inf`` and ``0``.
    """
    return _elementwise(_core.log_sigmoid, x, out)


def softplus(x: Any, /, *, out: np.ndarray | None = None) -> Array:
    """``log(1 + exp(x))``, elementwise, exact over the whole range (no overflow for large x)."""
    return _elementwise(_core.softplus, x, out)


def _elementwise_backward(uf: np.ufunc, grad: Any, a: Any, name: str, out: Any) -> Any:
    grad, a = _pair(grad, a, True, name)
    if out is not None:
        check_out(out, np.broadcast_shapes(np.shape(grad), np.shape(a)))
    return uf(grad, a, out=out)


def sigmoid_backward(grad: Any, y: Any, /, *, out: np.ndarray | None = None) -> Array:
    """Gradient through ``y = sigmoid(x)``: ``grad * y * (1 - y)``."""
    return _elementwise_backward(_core.sigmoid_backward, grad, y, "y", out)


def log_sigmoid_backward(grad: Any, x: Any, /, *, out: np.ndarray | None = None) -> Array:
    """Gradient through ``log_sigmoid(x)``: ``grad * sigmoid(-x)`` (takes the input ``x``)."""
    return _elementwise_backward(_core.log_sigmoid_backward, grad, x, "x", out)


# ----------------------------------------------------------------------------- row-wise


def _where_mask(where: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(where, (bool, np.bool_)):
        return np.broadcast_to(np.bool_(where), shape)
    w = where if hasattr(where, "__array_ufunc__") else np.asarray(where)
    if getattr(w, "dtype", None) != np.bool_:
        raise TypeError(f"where: expected a boolean mask, got dtype {getattr(w, 'dtype', type(w))}")
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"where: shape {np.shape(w)} does not broadcast to the shape of x {shape}"
        ) from None


def _mask_like(mask: Any, x: Any) -> Any:
    """A Dask x needs its mask as a Dask array of the same chunks (apply_gufunc aligns chunks)."""
    if type(x).__module__.split(".")[0] == "dask":
        import dask.array as da

        if type(mask).__module__.split(".")[0] == "dask":
            return da.broadcast_to(mask, x.shape).rechunk(x.chunks)
        return da.from_array(np.asarray(mask), chunks=x.chunks)
    return mask


def _rowwise(
    uf: np.ufunc,
    uf_ext: np.ufunc,
    x: Any,
    axis: Any,
    out: Any,
    where: Any,
    temperature: Any,
    reduce: bool,
    keepdims: bool = False,
) -> Any:
    if type(x) is not _ndarray and _dask.is_xarray(x):
        return _xarray_rowwise(uf, uf_ext, x, axis, out, where, temperature, reduce, keepdims)
    x = as_logits(x)
    t = check_temperature(temperature)
    ndim = x.ndim
    if ndim == 0:  # a 0-d input is a row of one
        if axis not in (None, -1, 0, (), (0,), (-1,)):
            normalize_axes(axis, 1)  # raises AxisError for a bad axis
        x1 = x.reshape(1)
        w1 = None if where is None else _where_mask(where, (1,))
        if out is not None:
            check_out(out, ())
        o1 = None if out is None else (out if reduce else out.reshape(1))
        r = _rowwise(uf, uf_ext, x1, -1, o1, w1, t, reduce)
        return out if out is not None else (r if reduce else r.reshape(())[()])
    axes = normalize_axes(axis, ndim)
    if len(axes) != 1:
        return _multi_axis(uf, uf_ext, x, axes, out, where, t, reduce, keepdims)
    ax = axes[0]
    if type(x) is not _ndarray and _dask.is_dask(x):
        _dask.check_class_chunks(x, ax)
    if out is not None:
        shape = x.shape
        if reduce:
            shape = shape[:ax] + ((1,) if keepdims else ()) + shape[ax + 1 :]
        check_out(out, shape)
    if where is None and t == 1.0:
        if reduce:
            return uf(x, axis=ax, keepdims=keepdims, out=out)
        return uf(x, axis=ax, out=out)
    mask = _mask_like(_where_mask(True if where is None else where, x.shape), x)
    if reduce and keepdims:
        # NumPy allows keepdims only when every input has a core axis; the temperature has none.
        o = None if out is None else np.squeeze(out, axis=ax)
        r = uf_ext(x, mask, t, axis=ax, out=o)
        return out if out is not None else np.expand_dims(r, ax)
    return uf_ext(x, mask, t, axis=ax, out=out)


def _xarray_rowwise(uf, uf_ext, x, axis, out, where, temperature, reduce, keepdims):
    """A DataArray along its dimension number ``axis`` (or named ``axis``): xr.apply_ufunc with
    that dimension as the core dimension (a Dask-backed DataArray stays lazy)."""
    if out is not None or where is not None:
        raise TypeError(
            "out, where: not supported for an xarray.DataArray; pass its .data, or use "
            "xr.apply_ufunc with the class dimension as the core dimension"
        )
    if axis is not None and not isinstance(axis, (str, int, np.integer)):
        raise TypeError(
            f"axis: an xarray.DataArray takes one class axis (a number or a name), got {axis!r}"
        )

    def f(a: Any, ax: int) -> Any:
        return _rowwise(uf, uf_ext, a, ax, None, None, temperature, reduce)

    ax = -1 if axis is None and x.ndim == 1 else axis
    return _dask.xarray_rowwise(f, x, ax, reduce, keepdims)


def _multi_axis(uf, uf_ext, x, axes, out, where, t, reduce, keepdims):
    """Row-wise over several axes (or none): move them last, flatten them into one, undo after."""
    ndim = x.ndim
    k = len(axes)
    rest = [a for a in range(ndim) if a not in axes]
    if k == 0:  # an empty axis tuple: every element is a row of one
        xr = x[..., None]
        mask = None if where is None else _where_mask(where, x.shape)[..., None]
        r = _rowwise(uf, uf_ext, xr, -1, None, mask, t, reduce)
        r = r if reduce else r[..., 0]
    else:
        perm = rest + list(axes)
        xt = np.transpose(x, perm)
        lead = xt.shape[: ndim - k]
        # the row length spelled out: -1 is ambiguous when a leading dimension is 0
        xr = xt.reshape(lead + (math.prod(xt.shape[ndim - k :]),))
        if type(xr).__module__.split(".")[0] == "dask":
            xr = xr.rechunk({xr.ndim - 1: -1})  # a gufunc's core dimension is one chunk
        mask = None
        if where is not None:
            mask = np.transpose(_where_mask(where, x.shape), perm).reshape(xr.shape)
        r = _rowwise(uf, uf_ext, xr, -1, None, mask, t, reduce)
        if reduce:
            if keepdims:
                r = np.expand_dims(r, axes)
        else:
            r = np.transpose(r.reshape(xt.shape), tuple(int(a) for a in np.argsort(perm)))
    if out is not None:
        check_out(out, np.shape(r))
        np.copyto(out, r, casting="same_kind")
        return out
    return r


def _row_function(name: str, doc: str) -> Callable[..., Any]:
    """The public function of the row-wise kernel list entry `name` ("row": (n)->(n), "reduce":
    (n)->()): with default options on a small float32/float64 array the entry's small-call function
    (cpp/bindings/register_list.cpp), else its gufunc, else ``_rowwise`` for axes, masks and
    temperatures. The function is built here, not wrapped, so that a call costs one Python frame.
    The small-call function is kept while it pays (docs/architecture.md, "Fast paths"): bench/compare.py
    cases softmax/1x10, log_softmax/1x10, logsumexp_alloc/1x10."""
    kind = {n: k for n, k, _, _ in _core.kernel_list}[name]
    uf, uf_ext, small = (getattr(_core, name + s) for s in ("", "_ext", "_small"))
    if kind == "reduce":

        def f(
            x: Any,
            axis: int | tuple[int, ...] | None = -1,
            *,
            keepdims: bool = False,
            out: np.ndarray | None = None,
            where: Any = None,
            temperature: float | None = None,
            dim: None = None,
        ) -> Array:
            if (
                type(x) is _ndarray
                and where is None
                and temperature is None
                and type(axis) is int
                and axis == -1
                and dim is None
            ):
                dt = x.dtype
                if (dt is _F32 or dt is _F64) and x.ndim and out is None and not keepdims:
                    r = small(x, None)
                    return uf(x) if r is None else r
            if dim is not None:
                no_dim(dim)
            return _rowwise(uf, uf_ext, x, axis, out, where, temperature, True, keepdims)

    else:
        if kind != "row":
            raise ValueError(f"_row_function: {name!r} is a {kind!r} entry, not a row-wise one")

        def f(
            x: Any,
            axis: int | tuple[int, ...] | None = -1,
            *,
            out: np.ndarray | None = None,
            where: Any = None,
            temperature: float | None = None,
            dim: None = None,
        ) -> Array:
            if (
                type(x) is _ndarray
                and where is None
                and temperature is None
                and type(axis) is int
                and axis == -1
                and dim is None
            ):
                dt = x.dtype
                if (dt is _F32 or dt is _F64) and x.ndim:
                    r = small(x, out)
                    if r is not None:
                        return r
                    if out is None:
                        return uf(x)
                    if type(out) is _ndarray and out.dtype is dt and out.shape == x.shape:
                        try:  # a read-only out is refused by NumPy: then name the argument
                            return uf(x, out)
                        except ValueError:
                            check_out(out, x.shape)
                            raise
            if dim is not None:
                no_dim(dim)
            return _rowwise(uf, uf_ext, x, axis, out, where, temperature, False)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


softmax = _row_function(
    "softmax",
    """Softmax along ``axis``: probabilities that sum to 1 (multi-class logits).

    Parameters
    ----------
    x : array_like
        Logits. float16 and bfloat16 (``ml_dtypes.bfloat16``) are computed in float32 and
        returned in their own dtype (rounded once, to nearest even); integer and bool logits
        are computed and returned in float64; float64 is the widest dtype (long double is a
        TypeError); other byte orders give native results. Masked arrays are refused (pass the
        mask as ``where=~x.mask``).
    axis : int, tuple of ints, or None
        The class axis (default: last). A tuple, or None for all axes, treats those axes together
        as one row, like SciPy.
    out : ndarray, optional
        Where to write the result (may be ``x`` itself).
    where : array_like of bool, optional
        Mask broadcastable to ``x``: only entries where it is True take part; the others get
        probability 0. Their values, even NaN or inf, are never read into arithmetic. A row with no
        True entry is all 0.
    temperature : float, optional
        Softmax of ``x / temperature``, computed exactly inside the kernel (no temporary array).

    Special rows: a NaN or +inf anywhere, or every entry -inf, gives a row of NaN; -inf entries
    get probability 0. Huge finite logits (±3e38) give exact limits, never overflow.
    Accuracy: 4 ulp (float32) / 8 ulp (float64) on every entry, rows with spreads of 80+ included.

    >>> import logitkit as lk
    >>> lk.softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    """,
)


log_softmax = _row_function(
    "log_softmax",
    """Log-softmax along ``axis``: ``x - logsumexp(x)``, the log-probabilities of a multi-class row.

    Same parameters and special rows as :func:`softmax`; masked entries get ``-inf``. Accurate to
    4 ulp (float32) / 8 ulp (float64) including the log-probability of the top class in a
    confident row (where ``x - logsumexp(x)`` loses everything to rounding).

    >>> import logitkit as lk
    >>> lk.log_softmax([0.0, -40.0])
    array([-4.24835426e-18, -4.00000000e+01])
    """,
)


logsumexp = _row_function(
    "logsumexp",
    """``log(sum(exp(x)))`` along ``axis``, without overflow or loss of the small terms.

    With ``temperature=T`` it is ``logsumexp(x / T)``; with ``where`` only the True entries are
    summed (``-inf`` when there is none). An empty axis gives ``-inf``, a NaN gives NaN, a +inf
    gives +inf. Accurate to 3 ulp (float32) / 8 ulp (float64). Returns the logits' dtype, except
    for bfloat16 logits: float32 (a reduction keeps float32's precision; it is computed in float32).

    >>> import logitkit as lk
    >>> float(lk.logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    """,
)


def _row_backward(uf: np.ufunc, grad: Any, y: Any, axis: int, out: Any) -> Any:
    grad, y = _pair(grad, y, False)
    if np.ndim(grad) == 0 or np.ndim(y) == 0:
        raise ValueError("grad, y: row-wise backward rules need arrays with at least one dimension")
    if _dask.is_dask(grad) or _dask.is_dask(y):
        nd = len(np.broadcast_shapes(np.shape(grad), np.shape(y)))
        ax = normalize_axes(axis, nd)[0]
        for name, a in (("grad", grad), ("y", y)):
            if _dask.is_dask(a) and a.shape[ax - nd + a.ndim] != 1:
                _dask.check_class_chunks(a, ax - nd + a.ndim, name)
    if out is not None:
        check_out(out, np.broadcast_shapes(np.shape(grad), np.shape(y)))
    return uf(grad, y, axis=axis, out=out)


def softmax_backward(
    grad: Any, y: Any, axis: int = -1, *, out: np.ndarray | None = None, dim: None = None
) -> Array:
    """Gradient through ``y = softmax(x, axis)``: ``y * (grad - sum(grad * y, axis))``.

    A row whose ``grad`` holds an infinity (or NaN) is all NaN (docs/numerics.md, "Special values
    and lane isolation")."""
    if dim is not None:
        no_dim(dim)
    return _row_backward(_core.softmax_backward, grad, y, axis, out)


def log_softmax_backward(
    grad: Any, y: Any, axis: int = -1, *, out: np.ndarray | None = None, dim: None = None
) -> Array:
    """Gradient through ``y = log_softmax(x, axis)``: ``grad - exp(y) * sum(grad, axis)``.

    A row whose ``grad`` holds an infinity (or NaN) is all NaN (docs/numerics.md, "Special values
    and lane isolation")."""
    if dim is not None:
        no_dim(dim)
    return _row_backward(_core.log_softmax_backward, grad, y, axis, out)


def _check_against_the_kernel_list() -> None:
    listed = {name for name, kind, _, _ in _core.kernel_list if kind in _FUNCTIONAL_KINDS}
    if listed != set(__all__) or not all(callable(globals().get(name)) for name in listed):
        raise ImportError(
            "logitkit._functional: __all__ and its definitions must match the kernel list's "
            f"functions {sorted(listed)}; got {sorted(__all__)}"
        )


_check_against_the_kernel_list()
