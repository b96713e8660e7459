"""Memory layouts, axes, dtypes and array types: results must not depend on how the data is laid
out, and follow NumPy / SciPy conventions for dtypes, 0-d inputs, tuple axes and keepdims."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry
from budgets import assert_within_budget

ROW_FUNCS = registry.names("row", "row reduction")
ELEMENTWISE = registry.names("elementwise")
ALL_FUNCS = ROW_FUNCS + ELEMENTWISE
DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
DT_IDS = ["f32", "f64"]


def _reduces(func) -> bool:
    """Whether func reduces each row to one value (the registry's 'row reduction' kind)."""
    return registry.BY_NAME[func].kind == "row reduction"


def _x(shape, dtype=np.float64, seed=0, scale=5.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _assert_accurate(func, got, exact, dtype):
    """func's budget (README.md, "Accuracy") against the oracle's exact result."""
    assert_within_budget(got, exact, budget=func, dtype=dtype, what=func)


def _call(func, x, **kw):
    return getattr(lk, func)(x, **kw)


# ----------------------------------------------------------------------------- strides


def _views(base):
    """Non-contiguous and negative-stride views of a 2-D array (rows along the last axis)."""
    return {
        "contiguous": base,
        "fortran": np.asfortranarray(base),
        "every_other_column": base[:, ::2],
        "every_third_row": base[::3],
        "reversed_columns": base[:, ::-1],
        "reversed_both": base[::-1, ::-1],
        "reversed_stride3": base[::-2, ::-3],
        "transposed_copy_T": np.ascontiguousarray(base.T).T,
        "broadcast_row": np.broadcast_to(base[0], base.shape),
    }


@pytest.mark.parametrize("func", ALL_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_strided_inputs(isa, dtype, func):
    base = _x((12, 45), dtype, seed=1)
    for name, v in _views(base).items():
        got = _call(func, v)
        want = _call(func, np.ascontiguousarray(v))
        np.testing.assert_array_equal(got, want, err_msg=name)
        _assert_accurate(func, got, registry.BY_NAME[func].oracle(v), dtype)
        for kw in ({"temperature": 0.5}, {"where": np.ones(v.shape, bool)}):
            if func in ROW_FUNCS:
                got = _call(func, v, **kw)
                want = _call(func, np.ascontiguousarray(v), **kw)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {kw}")


@pytest.mark.parametrize(
    "n",
    [2, 3, 4, 5, 7, 8, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1025, 2048, 2049, 5000],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("func", ROW_FUNCS)
def test_short_rows_same_bits_every_way(isa, func, dtype, n):
    """Short rows are computed several per SIMD vector (one row per lane) when they come in blocks,
    and rows up to 2048 in groups whose passes interleave (log_softmax, logsumexp; longer rows pass
    their output pass to the next row's sum pass: log_softmax, softmax); every other way
    of reaching a row (one row alone, a strided or Fortran view, a large array split across
    threads, the raw gufunc; log_softmax in place) gives the same bits, special rows (which leave
    the group for the max-relative path) and top-heavy rows included."""
    f = getattr(lk, func)
    x = _x((37, n), dtype, seed=n, scale=4.0)
    x[5, 1] = np.nan
    x[6, 0] = -np.inf
    x[7, n - 1] = np.inf
    x[8, :] = -np.inf
    x[9, 0] = x[9, 1] = 3.0
    x[10, 0] = -200.0
    x[11, :] = -0.8 * np.log(n) + np.arange(n) * 1e-3  # logsumexp: m < 0 cancelling against L
    x[12, n // 2] = 60.0  # one entry holds nearly all the mass (log_softmax's top-heavy rows)
    x[13, 0] = 100.0  # outside exp's range: the direct sum declines the row
    for r in range(14, 17):  # top-heavy rows in a row: long rows' sums then store their exps
        x[r, r % n] = 60.0
    ref = f(x)
    for i in range(x.shape[0]):
        np.testing.assert_array_equal(f(x[i]), ref[i])
    np.testing.assert_array_equal(f(np.asfortranarray(x)), ref)
    np.testing.assert_array_equal(getattr(lk.ufuncs, func)(x), ref)
    wide = np.zeros((37, 2 * n), dtype)
    wide[:, ::2] = x
    np.testing.assert_array_equal(f(wide[:, ::2]), ref)
    exact = registry.BY_NAME[func].oracle(x)
    if func == "log_softmax":  # (softmax in place may take another path: its accuracy is tested)
        xc = x.copy()
        f(xc, out=xc)
        np.testing.assert_array_equal(xc, ref)
        _assert_accurate(func, xc, exact, dtype)
    reps = 70_000 // (37 * n) + 2  # over two parallel grains: split across two threads
    before = lk.get_num_threads()
    lk.set_num_threads(2)
    try:
        big = f(np.tile(x, (reps, 1)))
    finally:
        lk.set_num_threads(before)
    np.testing.assert_array_equal(
        big, np.tile(ref, reps) if _reduces(func) else np.tile(ref, (reps, 1))
    )
    _assert_accurate(func, ref, exact, dtype)


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("func", ["log_softmax", "softmax", "logsumexp"])
def test_rows_of_2_and_4_one_special_row_in_every_lane(isa, func, dtype, n):
    """Rows of 2 and 4 go through the short-row kernel a vector's worth of rows at a time, split into
    columns by shuffles; a row that needs its own path (NaN, an infinity, an entry far below the max,
    logsumexp's cancellation of m < 0 against log(k + S')) sends its whole group to the transposing
    kernel. With such a row at every lane of two groups and of the tail, and the special value at
    every entry of the row: every other row keeps its bits, the row gets its single-row bits and
    the oracle's value, and log_softmax in place gives the same bits (softmax in place: the
    oracle's values)."""
    f = getattr(lk, func)
    rows = 35  # two groups of 16 rows (more groups of fewer lanes), then a tail
    base = _x((rows, n), dtype, seed=n, scale=3.0)
    ref = f(base)
    cancel = np.array([-0.5, -0.6] if n == 2 else [-1.2, -1.3, -1.25, -1.4], dtype)
    assert abs(oracle.logsumexp(cancel)) < 0.5 * (oracle.logsumexp(cancel) - cancel.max())
    cases = [(j, v) for j in range(n) for v in (np.nan, np.inf, -np.inf, -200.0, 1e30)]
    cases.append((None, None))  # the whole row: the cancelling row
    injected, results = [], []
    for r in range(rows):
        for j, v in cases:
            x = base.copy()
            if j is None:
                x[r] = cancel
            else:
                x[r, j] = v
            injected.append(x[r].copy())
            got = f(x)
            results.append(got[r])
            what = f"{func} rows of {n}, row {r}, entry {j} = {v}"
            others = np.arange(rows) != r
            np.testing.assert_array_equal(got[others], ref[others], err_msg=what)
            np.testing.assert_array_equal(got[r], f(x[r]), err_msg=what)
            if func == "log_softmax":
                f(x, out=x)
                np.testing.assert_array_equal(x, got, err_msg=what + ", in place")
            elif func == "softmax":  # in place it may take another path: accurate, other bits
                exact = registry.BY_NAME[func].oracle(x)
                f(x, out=x)
                _assert_accurate(func, x, exact, dtype)
    injected, results = np.array(injected), np.array(results)
    _assert_accurate(func, results, registry.BY_NAME[func].oracle(injected), dtype)


@pytest.mark.parametrize("n", [333, 777, 3000])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_big_outputs_same_bits(isa, dtype, n):
    """An output of 24 MiB or more, which misses the cache and, for rows of 3 KiB or more, is
    written with non-temporal stores where the ISA has them (kernels/common.hpp, streams_output):
    its rows get the same bits as in a small array, into an output that starts mid-line, in place,
    and split across two threads."""
    x = _x((37, n), dtype, seed=n, scale=4.0)
    x[3, 1] = np.nan
    x[4, 0] = 100.0  # outside exp's range: the max-relative path
    x[5:9, 2] = 60.0  # top-heavy rows, several in a row
    x[20:24] *= 0.01  # flat rows
    ref = lk.log_softmax(x)
    _assert_accurate("log_softmax", ref, oracle.log_softmax(x), dtype)
    reps = (24 << 20) // (37 * n * dtype.itemsize) + 1
    big = np.tile(x, (reps, 1))
    want = np.tile(ref, (reps, 1))
    before = lk.get_num_threads()
    try:
        lk.set_num_threads(1)  # (the whole output in one kernel call)
        np.testing.assert_array_equal(lk.log_softmax(big), want)
        # an output one element past a 64-byte line: each row's first and last lines are partly
        # its neighbours', stored plainly, and the lines between stream
        out = np.empty(big.size + 16, dtype)[1 : big.size + 1].reshape(big.shape)
        assert out.ctypes.data % 64 != 0
        lk.log_softmax(big, out=out)
        np.testing.assert_array_equal(out, want)
        lk.log_softmax(big, out=big)
        np.testing.assert_array_equal(big, want)  # the bits of ref, held to the oracle above
        lk.set_num_threads(2)  # (each thread's part 24 MiB or more)
        np.testing.assert_array_equal(
            lk.log_softmax(np.tile(x, (2 * reps + 2, 1))), np.tile(ref, (2 * reps + 2, 1))
        )
    finally:
        lk.set_num_threads(before)


@pytest.mark.parametrize("func", ELEMENTWISE + ["sigmoid_backward", "log_sigmoid_backward"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_big_elementwise_outputs_same_bits(isa, dtype, func):
    """An elementwise output of 24 MiB or more (non-temporal stores where the ISA has them, after the
    entries before the output's first 64-byte line): every element gets the bits it gets in a small
    array, into an output that starts mid-line, in place, and split across two threads."""
    small = _x(1001, dtype, seed=7, scale=8.0)
    small[[3, 500, 999]] = [np.nan, np.inf, -np.inf]
    small[[10, 11, 700]] = [120.0, -120.0, -800.0]  # outside exp's normal range: the exact lanes
    other = _x(1001, dtype, seed=8, scale=3.0)
    if func.endswith("backward"):
        other = other if func == "log_sigmoid_backward" else lk.sigmoid(other)
        call = getattr(lk, func)
        ref = call(small, other)
        args = lambda reps: (np.tile(small, reps), np.tile(other, reps))
    else:
        call = getattr(lk, func)
        ref = call(small)
        _assert_accurate(func, ref, registry.BY_NAME[func].oracle(small), dtype)
        args = lambda reps: (np.tile(small, reps),)
    reps = (24 << 20) // (small.size * dtype.itemsize) + 1
    want = np.tile(ref, reps)
    before = lk.get_num_threads()
    try:
        lk.set_num_threads(1)  # (the whole output in one kernel call)
        a = args(reps)
        np.testing.assert_array_equal(call(*a), want)
        out = np.empty(want.size + 16, dtype)[3 : want.size + 3]
        assert out.ctypes.data % 64 != 0
        call(*a, out=out)
        np.testing.assert_array_equal(out, want)
        call(*a, out=a[0])  # in place: plain stores
        np.testing.assert_array_equal(a[0], want)
        lk.set_num_threads(2)  # (each thread's part 24 MiB or more)
        np.testing.assert_array_equal(call(*args(2 * reps + 2)), np.tile(ref, 2 * reps + 2))
    finally:
        lk.set_num_threads(before)


@pytest.mark.parametrize("func", registry.names("row") + ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_strided_out(isa, dtype, func):
    x = _x((6, 33), dtype, seed=2)
    want = _call(func, x)
    buf = np.full((6, 99), 7.0, dtype)
    out = buf[:, ::3]
    r = _call(func, x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, want)
    _assert_accurate(func, out, registry.BY_NAME[func].oracle(x), dtype)
    assert np.all(buf[:, 1::3] == 7.0) and np.all(buf[:, 2::3] == 7.0)  # no write outside out
    out = np.empty((6, 33), dtype)[::-1, ::-1]
    _call(func, x, out=out)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("func", registry.names("row") + ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_out_equal_to_input(isa, dtype, func):
    """out=x: in place, for contiguous and strided views, with every axis."""
    base = _x((5, 6, 7), dtype, seed=3)
    axes = [0, 1, 2] if func in ROW_FUNCS else [None]
    for axis in axes:
        kw = {} if axis is None else {"axis": axis}
        for view in (lambda a: a, lambda a: a[:, ::2, ::-1], lambda a: a.transpose(2, 0, 1)):
            x = view(base.copy())
            exact = registry.BY_NAME[func].oracle(x.copy(), **kw)
            r = _call(func, x, out=x, **kw)
            assert r is x
            # In place may take another (equally accurate) path than out-of-place: compare with
            # the oracle, not bit for bit.
            _assert_accurate(func, x, exact, dtype)


# ----------------------------------------------------------------------------- class axis


@pytest.mark.parametrize("func", ROW_FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_class_axis_first_middle_last(isa, dtype, func):
    x = _x((7, 9, 11), dtype, seed=4)
    for axis in (0, 1, 2, -1, -2, -3):
        got = _call(func, x, axis=axis)
        moved = np.moveaxis(x, axis, -1)
        ref = _call(func, np.ascontiguousarray(moved))
        if not _reduces(func):
            ref = np.moveaxis(ref, -1, axis)
        np.testing.assert_array_equal(got, ref, err_msg=f"axis={axis}")
        _assert_accurate(func, got, registry.BY_NAME[func].oracle(x, axis=axis), dtype)
        # with where / temperature too
        w = np.random.default_rng(5).random(x.shape) < 0.8
        got = _call(func, x, axis=axis, where=w, temperature=2.0)
        exact = registry.BY_NAME[func].oracle(x, axis=axis, where=w, temperature=2.0)
        _assert_accurate(func, got, exact, dtype)


# ----------------------------------------------------------------------------- where broadcasting


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_where_broadcasting(isa, func):
    x = _x((4, 5, 6), seed=6)
    rng = np.random.default_rng(7)
    for wshape in [(6,), (5, 6), (4, 1, 6), (1, 5, 1), (4, 5, 1), ()]:
        w = rng.random(wshape) < 0.6
        if w.ndim:
            w.flat[0] = True
        full = np.broadcast_to(w, x.shape)
        for axis in (-1, 0, 1):
            got = _call(func, x, axis=axis, where=w)
            want = _call(func, x, axis=axis, where=np.ascontiguousarray(full))
            np.testing.assert_array_equal(got, want, err_msg=f"{wshape} axis={axis}")
            _assert_accurate(
                func, got, registry.BY_NAME[func].oracle(x, axis=axis, where=full), np.float64
            )
    # a Python list of bools broadcasts too
    np.testing.assert_array_equal(
        _call(func, x, where=[True, False, True, True, False, True]),
        _call(func, x, where=np.array([True, False, True, True, False, True])),
    )


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_float16_computed_in_float32(isa, func):
    x16 = _x((9, 40), np.float16, seed=8, scale=3.0)
    x16[0, :4] = [np.inf, -np.inf, np.nan, 65504]
    x16[1, :3] = [-np.inf, 6e-8, -65504]

    def as16(a):  # out-of-range float32 results become +-inf in float16, as in the library
        with np.errstate(over="ignore"):
            return a.astype(np.float16)

    got = _call(func, x16)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, as16(_call(func, x16.astype(np.float32))))
    if func in ROW_FUNCS:
        w = np.arange(40) % 4 != 0
        got = _call(func, x16, where=w, temperature=0.5)
        assert got.dtype == np.float16
        want = as16(_call(func, x16.astype(np.float32), where=w, temperature=0.5))
        np.testing.assert_array_equal(got, want)
        got = _call(func, x16[:, ::-3], axis=0)
        want = as16(_call(func, x16[:, ::-3].astype(np.float32), axis=0))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("func", ALL_FUNCS)
@pytest.mark.parametrize(
    "int_dtype",
    [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64],
)
def test_integer_input_computes_in_float64(isa, func, int_dtype):
    # not NumPy's promotion (np.exp(int8) is float16): integer logits are exact numbers, and a
    # float16 result would round them (softmax(int8([100, 90, -100])) to 1.0, 4.5e-05, 0.0)
    x = (np.arange(24).reshape(4, 6) % 5).astype(int_dtype)
    got = _call(func, x)
    assert got.dtype == np.float64, got.dtype
    np.testing.assert_array_equal(got, _call(func, x.astype(np.float64)))


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_python_sequences(isa, func):
    got = _call(func, [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(got, _call(func, np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])))
    got = _call(func, [1, 2, 3])
    assert got.dtype == np.float64


# ----------------------------------------------------------------------------- 0-d, tuple axes


@pytest.mark.parametrize("v", [3.5, -1000.0, 0.0, 60000.0, np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("dtype", DTYPES + [np.dtype(np.float16)], ids=DT_IDS + ["f16"])
def test_zero_d_values(isa, dtype, v):
    """A 0-d input is a row of one: softmax exactly 1, log_softmax exactly 0, logsumexp x."""
    x = np.array(v, dtype=dtype)
    sm, ls, lse = lk.softmax(x), lk.log_softmax(x), lk.logsumexp(x)
    for r in (sm, ls, lse):
        assert np.shape(r) == () and np.asarray(r).dtype == dtype
    if np.isfinite(v):
        assert (sm, ls, lse) == (1.0, 0.0, x)
    elif v == -np.inf:
        assert np.isnan(sm) and np.isnan(ls) and lse == -np.inf
    else:
        assert np.isnan(sm) and np.isnan(ls) and (np.isnan(lse) if np.isnan(v) else lse == v)
    # the same as a 1-D row of one
    for f, r in (("softmax", sm), ("log_softmax", ls), ("logsumexp", lse)):
        np.testing.assert_array_equal(
            r,
            getattr(lk, f)(np.array([v], dtype=dtype))[..., 0]
            if f != "logsumexp"
            else lk.logsumexp(np.array([v], dtype)),
        )


@pytest.mark.parametrize("dtype", DTYPES + [np.dtype(np.float16)], ids=DT_IDS + ["f16"])
def test_zero_d_input_is_a_row_of_one(isa, dtype):
    x = np.array(2.0, dtype=dtype)
    assert lk.softmax(x, where=False) == 0.0
    assert lk.log_softmax(x, where=False) == -np.inf
    assert lk.logsumexp(x, where=False) == -np.inf
    assert lk.softmax(x, temperature=4.0) == 1.0
    assert lk.logsumexp(x, temperature=4.0) == 0.5
    for axis in (None, 0, -1, ()):
        assert lk.softmax(x, axis=axis) == 1.0
        assert lk.logsumexp(x, axis=axis) == 2.0
    # Python scalars and 0-d out
    assert lk.softmax(2.0) == 1.0 and lk.logsumexp(2.0) == 2.0
    out = np.empty((), dtype)
    assert lk.logsumexp(x, out=out) is out and out == 2.0
    out = np.empty((), dtype)
    assert lk.log_softmax(x, out=out) is out and out == 0.0
    for f in ELEMENTWISE:
        r = getattr(lk, f)(x)
        assert np.shape(r) == ()
        assert r == getattr(lk, f)(np.array([2.0], dtype=dtype))[0]


def _scipy_like(func, x, axis, keepdims=False):
    """SciPy semantics of a tuple axis / None: those axes together form one row (oracle)."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(a % x.ndim for a in axis)
    rest = [a for a in range(x.ndim) if a not in axes]
    xt = np.transpose(x, rest + list(axes))
    lead = xt.shape[: len(rest)]
    xr = xt.reshape(lead + (-1,))
    r = registry.BY_NAME[func].oracle(np.ascontiguousarray(xr))
    if _reduces(func):
        return np.expand_dims(r, axes) if keepdims else r
    return np.transpose(r.reshape(xt.shape), np.argsort(rest + list(axes)))


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_tuple_axis_and_none(isa, func):
    x = _x((3, 4, 5, 2), seed=9)
    for axis in [(0, 2), (1, 3), (-1, -2), (0, 1, 2, 3), None, (2,), (3, 0)]:
        got = _call(func, x, axis=axis)
        exact = _scipy_like(func, x, axis)
        assert np.shape(got) == np.shape(exact), (axis, np.shape(got))
        _assert_accurate(func, got, exact, np.float64)
        if func == "softmax":  # the tuple axes form one row: not an oracle comparison, the sum
            # of the row's entries, each within the bound, is 1 to about the row's length in ulps
            axes = tuple(range(x.ndim)) if axis is None else axis
            np.testing.assert_allclose(got.sum(axis=axes), 1.0, rtol=1e-14)
    # axis=None on a 1-D array is the ordinary row; on 2-D the whole array is one row
    v = _x(10, seed=10)
    np.testing.assert_array_equal(_call(func, v, axis=None), _call(func, v))
    if _reduces(func):
        assert np.shape(lk.logsumexp(x, axis=None)) == ()


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_tuple_axis_with_where_and_temperature(isa, func):
    x = _x((3, 4, 5), seed=11)
    w = np.random.default_rng(12).random(x.shape) < 0.7
    for axis in [(0, 2), None, (1, 2)]:
        got = _call(func, x, axis=axis, where=w, temperature=3.0)
        axes = tuple(range(3)) if axis is None else axis
        rest = [a for a in range(3) if a not in axes]
        xt = np.transpose(x, rest + list(axes)).reshape(tuple(x.shape[a] for a in rest) + (-1,))
        wt = np.transpose(w, rest + list(axes)).reshape(xt.shape)
        exact = registry.BY_NAME[func].oracle(xt, where=wt, temperature=3.0)
        if not _reduces(func):
            perm = rest + list(axes)
            exact = np.transpose(exact.reshape(np.transpose(x, perm).shape), np.argsort(perm))
        _assert_accurate(func, got, exact, np.float64)


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_empty_axis_tuple_each_element_is_a_row(isa, func):
    x = _x((3, 4), seed=13)
    got = _call(func, x, axis=())
    assert got.shape == x.shape
    wide = x.astype(oracle.work_dtype(x.dtype))
    exact = {"softmax": np.ones_like(wide), "log_softmax": np.zeros_like(wide), "logsumexp": wide}
    exact = exact[func]
    _assert_accurate(func, got, exact, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_rows_of_one_are_exact(isa, dtype):
    """softmax of a row of one is exactly 1, log_softmax exactly 0, logsumexp x itself (the exact
    results are representable; stricter than the ulp bounds, as SciPy's formula gives)."""
    rng = np.random.default_rng(16)
    x = np.concatenate(
        [
            rng.standard_normal(200) * 10,
            rng.standard_normal(200) * 300,
            [0.0, -0.0, 1e-30, 88.0, -103.0, 700.0],
        ]
    ).astype(dtype)[:, None]
    np.testing.assert_array_equal(lk.softmax(x), np.ones_like(x))
    np.testing.assert_array_equal(lk.log_softmax(x), np.zeros_like(x))
    np.testing.assert_array_equal(lk.logsumexp(x), x[:, 0])


def test_keepdims(isa):
    x = _x((3, 4, 5), seed=14)
    for axis in (0, 1, 2, -1):
        r = lk.logsumexp(x, axis=axis, keepdims=True)
        want_shape = list(x.shape)
        want_shape[axis] = 1
        assert r.shape == tuple(want_shape)
        np.testing.assert_array_equal(r, np.expand_dims(lk.logsumexp(x, axis=axis), axis))
        # broadcasts back against x (not an oracle comparison: Σ exp(x - r) is 1 to a few ulps)
        np.testing.assert_allclose(np.exp(x - r).sum(axis=axis), 1.0, rtol=1e-14)
    for axis in [(0, 2), None, (1,)]:
        r = lk.logsumexp(x, axis=axis, keepdims=True)
        exact = _scipy_like("logsumexp", x, axis, keepdims=True)
        assert r.shape == exact.shape
        _assert_accurate("logsumexp", r, exact, np.float64)
    r = lk.logsumexp(x, axis=1, keepdims=True, temperature=2.0)
    assert r.shape == (3, 1, 5)
    r = lk.logsumexp(x, axis=1, keepdims=True, where=x > 0)
    assert r.shape == (3, 1, 5)
    out = np.empty((3, 1, 5))
    assert lk.logsumexp(x, axis=1, keepdims=True, out=out) is out
    np.testing.assert_array_equal(out, lk.logsumexp(x, axis=1, keepdims=True))
    _assert_accurate("logsumexp", out, _scipy_like("logsumexp", x, (1,), True), np.float64)


# ----------------------------------------------------------------------------- dask


@pytest.fixture
def dask_array():
    return pytest.importorskip("dask.array")


def _dask_check(da, r, want):
    assert isinstance(r, da.Array), type(r)
    got = r.compute(scheduler="synchronous")
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


_DX = _x((8, 6, 7), seed=15)


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_dask_arrays_go_through(isa, dask_array, func):
    da = dask_array
    dx = da.from_array(_DX, chunks=(3, 2, 7))  # the class axis (last) in one chunk
    _dask_check(da, _call(func, dx), _call(func, _DX))


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_dask_class_axis_first(isa, dask_array, func):
    da = dask_array
    dx = da.from_array(_DX, chunks=(8, 3, 3))  # class axis 0 in one chunk
    _dask_check(da, _call(func, dx, axis=0), _call(func, _DX, axis=0))


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_dask_temperature(isa, dask_array, func):
    da = dask_array
    dx = da.from_array(_DX, chunks=(3, 2, 7))
    _dask_check(da, _call(func, dx, temperature=2.0), _call(func, _DX, temperature=2.0))


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_dask_where_numpy_mask(isa, dask_array, func):
    da = dask_array
    dx = da.from_array(_DX, chunks=(3, 2, 7))
    w = _DX > -1
    _dask_check(da, _call(func, dx, where=w), _call(func, _DX, where=w))
    w1 = np.arange(7) % 3 != 0  # broadcast along the class axis
    _dask_check(da, _call(func, dx, where=w1), _call(func, _DX, where=w1))


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_dask_where_dask_mask(isa, dask_array, func):
    da = dask_array
    dx = da.from_array(_DX, chunks=(3, 2, 7))
    _dask_check(da, _call(func, dx, where=dx > -1), _call(func, _DX, where=_DX > -1))


def test_dask_logsumexp_keepdims(isa, dask_array):
    da = dask_array
    dx = da.from_array(_DX, chunks=(3, 2, 7))
    r = lk.logsumexp(dx, keepdims=True)
    assert r.shape == (8, 6, 1)
    _dask_check(da, r, lk.logsumexp(_DX, keepdims=True))


@pytest.mark.parametrize("shape", [(10,), (1, 10), (5, 37), (64, 512), (3, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_small_call_path_matches_the_gufuncs(isa, dtype, shape):
    """Small C-contiguous arrays skip NumPy's gufunc machinery (cpp/bindings/register_list.cpp,
    _core.<name>_small): the same row kernels, so bit-identical results, result types and out=."""
    x = (np.random.default_rng(3).normal(0, 4, shape)).astype(dtype)
    x.flat[0] = -np.inf
    for name in ROW_FUNCS:
        f, uf = getattr(lk, name), getattr(lk.ufuncs, name)
        got, want = f(x), uf(x)
        assert type(got) is type(want)
        assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        out = np.full(np.shape(want), np.nan, dtype)
        if name != "logsumexp":
            assert f(x, out=out) is out
            np.testing.assert_array_equal(out, want)
            xi = x.copy()
            assert f(xi, out=xi) is xi  # in place takes the gufunc (overlap), whose in-place
            # softmax takes the max-relative path: not the bits of want, but within the bound
            _assert_accurate(name, xi, registry.BY_NAME[name].oracle(x), dtype)
