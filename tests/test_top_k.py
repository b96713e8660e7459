"""multiclass.top_k and multilabel.top_k: the C++ selection (kernels/top_k.hpp, logitkit::top_k)
against an independent oracle, on every SIMD target.

Oracle: the indices of a stable argsort of -x in float64 (ties to the lower index; NaN rows are
errors), the probabilities those of ``proba`` at the oracle's indices, bit for bit (top_k promises
exactly proba's values). Row lengths cross the vector widths (4 .. 16 lanes, blocks of four
vectors), the short-row kernel's limit and the small-k/large-k switch of the selection
(kernel_types::top_k_small_max = 64).
"""

from __future__ import annotations

import logitkit as lk
import numpy as np
import pytest
from logitkit import _core
from logitkit import multiclass as mc
from logitkit import multilabel as ml

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F16, F32, F64]
LENGTHS = [2, 3, 5, 8, 15, 16, 17, 31, 33, 63, 64, 65, 66, 100, 129, 257, 1000]
SMALL_K_MAX = 64


def _ks(C):
    return sorted(
        {k for k in (1, 2, C // 2, C - 1, C, SMALL_K_MAX, SMALL_K_MAX + 1) if 1 <= k <= C}
    )


def _oracle_idx(x, k, axis=-1):
    """Stable argsort of -x in float64 (negation is exact), the first k along axis."""
    order = np.argsort(-np.asarray(x, np.float64), axis=axis, kind="stable")
    return np.take(order, np.arange(k), axis=axis)


def _check_mc(x, k, axis=-1, temperature=1.0):
    idx, p = mc.top_k(x, k, axis=axis, temperature=temperature)
    want = _oracle_idx(x, k, axis)
    np.testing.assert_array_equal(idx, want)
    assert idx.dtype == np.intp
    want_p = np.take_along_axis(mc.proba(x, axis=axis, temperature=temperature), want, axis=axis)
    assert p.dtype == want_p.dtype == (x.dtype if x.dtype.kind == "f" else F64)
    np.testing.assert_array_equal(p.view(np.uint8), want_p.view(np.uint8))  # the same bits
    return idx, p


def _rows(rng, rows, C, dtype):
    """Logits of several scales, with ties (rounded entries) and equal rows."""
    x = rng.standard_normal((rows, C)) * rng.choice([0.5, 4.0, 40.0], size=(rows, 1))
    x[::3, ::2] = np.round(x[::3, ::2])  # ties inside a row
    x[1::4] = np.round(x[1::4] / 4)  # many equal values
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C", LENGTHS)
def test_against_oracle(isa, dtype, C):
    rng = np.random.default_rng(C)
    x = _rows(rng, 9, C, dtype)
    for k in _ks(C):
        _check_mc(x, k)


@pytest.mark.parametrize("C", [17, 64, 65, 1000])
@pytest.mark.parametrize("temperature", [0.25, 3.0])
def test_temperature(isa, C, temperature):
    x = _rows(np.random.default_rng(1), 6, C, F32)
    for k in _ks(C):
        _check_mc(x, k, temperature=temperature)
        _check_mc(x.astype(F64), k, temperature=temperature)


@pytest.mark.parametrize("C", [5, 16, 33, 64, 65, 130, 1000])
def test_special_rows(isa, C):
    inf = np.inf
    rows = [
        np.full(C, 1.5),  # all equal
        np.full(C, -inf),  # all -inf: 0..k-1
        np.full(C, inf),  # all +inf
        np.where(np.arange(C) % 7 == 3, inf, 0.0),  # +inf wins, the first ones
        np.where(np.arange(C) % 5 == 0, -inf, np.arange(C) % 3),  # -inf below everything
        np.arange(C, dtype=float),  # ascending: every entry beats the last
        -np.arange(C, dtype=float),  # descending
        np.where(np.arange(C) == C - 1, 1e30, -1e30),  # the winner last; huge magnitudes
        np.r_[np.full(C - 1, -inf), 0.0],  # one finite entry
    ]
    for dtype in (F32, F64):
        x = np.array(rows).astype(dtype)
        for k in _ks(C):
            _check_mc(x, k)
    idx, _ = mc.top_k(np.full((1, C), -inf), C)
    np.testing.assert_array_equal(idx[0], np.arange(C))


@pytest.mark.parametrize(
    "C,k", [(C, k) for C in (2, 9, 16, 17, 64, 65, 100) for k in (1, 2, 64, 65) if k <= C]
)
def test_nan_at_every_offset(isa, C, k):
    """A NaN at any position of row 1 (any lane of any vector, the tail) raises for row 1 only."""
    rng = np.random.default_rng(C)
    base = rng.standard_normal((3, C)).astype(np.float32)
    for pos in range(C):
        for dtype in (F32, F64):
            x = base.astype(dtype)
            x[1, pos] = np.nan
            with pytest.raises(ValueError, match=r"logits: row \(1,\) contains NaN"):
                mc.top_k(x, k)
            with pytest.raises(ValueError, match=r"logits: row \(1,\) contains NaN"):
                ml.top_k(x, k)
            # the other rows, alone, are unaffected
            _check_mc(x[[0, 2]], k)


def test_nan_row_is_named_in_the_batch_shape():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    x[1, 0, 3, 2] = np.nan
    x[1, 2, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"row \(1, 0, 3\) contains NaN"):
        mc.top_k(x, 2)
    with pytest.raises(ValueError, match=r"row \(1, 0, 2\) contains NaN"):  # class axis 2
        mc.top_k(x, 2, axis=2)
    with pytest.raises(ValueError, match=r"row \(\) contains NaN"):  # one row
        mc.top_k(np.array([1.0, np.nan, 2.0]), 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_axis(isa, dtype):
    x = _rows(np.random.default_rng(3), 60, 70, dtype).reshape(3, 4, 5, 70)
    x = np.moveaxis(x, -1, 1)  # (3, 70, 4, 5), a non-contiguous view
    for axis in range(-4, 4):
        C = x.shape[axis]
        for k in _ks(C):
            idx, p = _check_mc(x, k, axis=axis)
            assert idx.flags.c_contiguous and p.flags.c_contiguous


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_layouts(isa, dtype):
    """Strided, reversed, Fortran-ordered, unaligned and byte-swapped logits: the results of a
    C-contiguous copy."""
    x = _rows(np.random.default_rng(5), 40, 150, dtype)
    buf = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(buf[1:].data, dtype, x.size).reshape(x.shape)
    unaligned[...] = x
    views = [
        x[:, ::2],
        x[::3, ::-1],
        x[::2],  # contiguous rows, a row stride of two rows
        x[:, :40],  # contiguous rows longer than needed (short rows: whole blocks)
        x[:, 10:110],
        x.reshape(40, 3, 50)[:, 1],  # a middle slice of a 3-d array
        np.asfortranarray(x),
        x.T,  # class axis 0 along memory rows
        unaligned,
        x.astype(x.dtype.newbyteorder()),
    ]
    for v in views:
        c = np.ascontiguousarray(v, dtype=dtype)
        for k in sorted({1, 5, min(66, v.shape[-1]), v.shape[-1]}):
            idx, p = mc.top_k(v, k)
            idx_c, p_c = mc.top_k(c, k)
            np.testing.assert_array_equal(idx, idx_c)
            np.testing.assert_array_equal(p, p_c)
            _check_mc(c, k)
    before = x.copy()
    mc.top_k(x, 3)
    np.testing.assert_array_equal(x, before)  # never writes its input


def test_integer_logits_are_float64():
    x = np.array([[3, 1, 3, 2], [0, 0, 5, 5]])
    idx, _ = _check_mc(x, 3)
    np.testing.assert_array_equal(idx, [[0, 2, 3], [2, 3, 0]])


def test_threads_give_the_same_bits():
    rng = np.random.default_rng(7)
    big = [_rows(rng, 3000, 100, F32), _rows(rng, 500, 1000, F64), _rows(rng, 4000, 20, F32)]
    n0 = lk.get_num_threads()
    try:
        for x in big:
            for k in (1, 5, min(65, x.shape[-1])):
                lk.set_num_threads(1)
                one = mc.top_k(x, k, temperature=0.7)
                lk.set_num_threads(2)
                two = mc.top_k(x, k, temperature=0.7)
                for a, b in zip(one, two):
                    np.testing.assert_array_equal(a, b)
                _check_mc(x, k, temperature=0.7)
        # the first NaN row is named whichever thread finds it
        x = big[0].copy()
        # (two threads: rows [0, 1500) and [1500, 3000); the first part stops early at row 10)
        x[10, 50] = x[2900, 5] = x[1600, 1] = x[1700, 99] = np.nan
        for t in (1, 2):
            lk.set_num_threads(t)
            with pytest.raises(ValueError, match=r"row \(10,\)"):
                mc.top_k(x, 3)
            x[10, 50] = 0.0
            with pytest.raises(ValueError, match=r"row \(1600,\)"):
                mc.top_k(x, 3)
            x[10, 50] = np.nan
    finally:
        lk.set_num_threads(n0)


def test_bad_k():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for k in (0, 5, -1, 2**70):
        with pytest.raises(ValueError, match=r"k: must be in \[1, 4\]"):
            mc.top_k(x, k)
        with pytest.raises(ValueError, match=r"k: must be in \[1, 4\]"):
            ml.top_k(x, k)
    for k in (1.0, True, "2", None):
        with pytest.raises(TypeError, match="k: expected an integer"):
            mc.top_k(x, k)
    idx, _ = mc.top_k(x, np.int64(2))
    assert idx.shape == (3, 2)


def test_core_rejects_what_python_does_not_send():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"k: must be in \[1, 3\]"):
        _core.top_k(x, 4, 1.0, True)
    with pytest.raises(ValueError, match="temperature"):
        _core.top_k(x, 1, 0.0, True)
    with pytest.raises(TypeError):
        _core.top_k(x.astype(np.float16), 1, 1.0, True)
    with pytest.raises(TypeError):
        _core.top_k(np.zeros(3), 1, 1.0, True)


def test_small_call_path(isa):
    """The one-call path (_core.top_k_small) gives the general path's results, and declines what
    the general path must see: NaN, probabilities, one class, bad k or temperature."""
    rng = np.random.default_rng(2)
    for shape in [(10,), (1, 10), (4, 17), (3, 64), (2, 100)]:
        for dtype in (F32, F64):
            x = (rng.standard_normal(shape) * 3).astype(dtype)
            for k in (1, 2, shape[-1]):
                r = _core.top_k_small(x, k, 1.0)
                assert r is not None
                idx, p = _check_mc(x, k)
                np.testing.assert_array_equal(r[0], idx)
                np.testing.assert_array_equal(r[1], p)
                r2 = _core.top_k_small(x, k, 0.5)
                np.testing.assert_array_equal(r2[1], mc.top_k(x, k, temperature=0.5)[1])
    x = np.array([[0.1, 0.7, 0.2]])
    assert _core.top_k_small(x, 1, 1.0) is None  # probabilities: the general path warns
    with pytest.warns(mc.ProbabilitiesWarning):
        mc.top_k(x, 1)
    assert _core.top_k_small(np.array([[1.0, np.nan, 3.0]]), 1, 1.0) is None
    assert _core.top_k_small(np.array([[3.0], [4.0]]), 1, 1.0) is None
    assert _core.top_k_small(np.array([[3.0, 4.0]]), 3, 1.0) is None
    assert _core.top_k_small(np.array([[3.0, 4.0]]), 1, -1.0) is None
    assert _core.top_k_small(np.array([[3.0, 4.0]]), 1, np.inf) is None
    assert _core.top_k_small(np.array([[3.0, 4.0]])[:, ::-1], 1, 1.0) is None
    assert _core.top_k_small(np.zeros((100, 100)) + 2, 1, 1.0) is None  # large: the general path


# ----------------------------------------------------------------------------- multilabel


def _check_ml(x, k, axis=-1, **kw):
    idx, p = ml.top_k(x, k, axis=axis, **kw)
    T = kw.get("temperature", 1.0)
    b = kw.get("bias", 0.0)
    shape = [1] * x.ndim
    shape[axis] = -1
    z = np.asarray(x, np.float64)
    if not (np.ndim(T) == 0 and T == 1.0):
        z = z / np.reshape(np.asarray(T, np.float64), shape if np.ndim(T) else ())
    if not (np.ndim(b) == 0 and b == 0.0):
        z = z + np.reshape(np.asarray(b, np.float64), shape if np.ndim(b) else ())
    want = _oracle_idx(z, k, axis)
    np.testing.assert_array_equal(idx, want)
    want_p = np.take_along_axis(ml.proba(x, axis=axis, **kw), want, axis=axis)
    assert p.dtype == want_p.dtype
    np.testing.assert_array_equal(p.view(np.uint8), want_p.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("C", [3, 17, 65, 300])
def test_multilabel_against_oracle(isa, dtype, C):
    rng = np.random.default_rng(C)
    x = _rows(rng, 7, C, dtype)
    x[2, ::4] = np.inf
    x[3] = -np.inf
    T = rng.uniform(0.3, 3.0, C)
    b = np.round(rng.uniform(-1, 1, C), 1)
    for k in _ks(C):
        _check_ml(x, k)
        _check_ml(x, k, temperature=2.5)
        _check_ml(x, k, temperature=T, bias=b)
        _check_ml(x, k, bias=0.5)
    _check_ml(np.moveaxis(x.reshape(7, 1, C), -1, 0), 2, axis=0, temperature=T, bias=b)
