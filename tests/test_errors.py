"""Bad input raises clear exceptions that name the argument; the SIMD target controls and the
LOGITKIT_SIMD environment variable."""

from __future__ import annotations

import os
import subprocess
import sys

import logitkit as lk
import numpy as np
import pytest
import registry

ROW_FUNCS = registry.publics("row", "row reduction")
ELEMENTWISE = registry.publics("elementwise")
ALL_FUNCS = ROW_FUNCS + ELEMENTWISE
fid = pytest.mark.parametrize("f", ALL_FUNCS, ids=lambda f: f.__name__)
rid = pytest.mark.parametrize("f", ROW_FUNCS, ids=lambda f: f.__name__)

X = np.zeros((3, 4))


# ----------------------------------------------------------------------------- x


@fid
@pytest.mark.parametrize(
    "bad",
    [
        np.array(["a", "b"]),
        ["a", "b"],
        np.array([1.0, 2.0], dtype=object),
        None,
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype=[("a", "f8")]),
    ],
    ids=["str", "str-list", "object", "None", "datetime", "timedelta", "structured"],
)
def test_non_numeric_x(f, bad):
    with pytest.raises(TypeError, match=r"^x: .*dtype"):
        f(bad)


@fid
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_x(f, dtype):
    with pytest.raises(TypeError, match=r"^x: complex dtype"):
        f(np.array([1 + 0j, 2 + 0j], dtype=dtype))


@fid
def test_ragged_x(f):
    with pytest.raises(TypeError, match=r"^x: cannot be read as a numeric array"):
        f([[1.0], [1.0, 2.0]])


# ----------------------------------------------------------------------------- where


@rid
@pytest.mark.parametrize("wshape", [(5,), (3, 5), (2, 3, 4), (4, 1)])
def test_where_that_does_not_broadcast(f, wshape):
    with pytest.raises(ValueError, match=r"^where: shape .* does not broadcast"):
        f(X, where=np.ones(wshape, bool))


@rid
@pytest.mark.parametrize(
    "w",
    [np.ones(4), np.ones(4, dtype=np.int64), [1, 0, 1, 1], np.ones(4, dtype=np.uint8), 1],
    ids=["float", "int", "int-list", "uint8", "int-scalar"],
)
def test_where_with_non_bool_dtype(f, w):
    with pytest.raises(TypeError, match=r"^where: expected a boolean mask"):
        f(X, where=w)


# ----------------------------------------------------------------------------- out


@fid
def test_out_of_wrong_shape(f):
    shape = (3,) if f is lk.logsumexp else (3, 4)
    for bad in [(4, 3), (3, 5), (12,), (1, 3, 4), ()]:
        if bad == shape:
            continue
        with pytest.raises(ValueError, match=r"^out: shape"):
            f(X, out=np.empty(bad))


def test_logsumexp_out_keepdims_shape():
    with pytest.raises(ValueError, match=r"^out: shape"):
        lk.logsumexp(X, keepdims=True, out=np.empty(3))
    with pytest.raises(ValueError, match=r"^out: shape"):
        lk.logsumexp(X, out=np.empty((3, 1)))


@fid
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128])
def test_out_of_wrong_dtype(f, dtype):
    shape = (3,) if f is lk.logsumexp else (3, 4)
    with pytest.raises(TypeError, match=r"^out: dtype"):
        f(X, out=np.empty(shape, dtype=dtype))


@fid
def test_read_only_out(f):
    shape = (3,) if f is lk.logsumexp else (3, 4)
    out = np.empty(shape)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"^out: array is read-only"):
        f(X, out=out)


@fid
def test_out_not_an_array(f):
    with pytest.raises(TypeError, match=r"^out: expected a numpy.ndarray"):
        f(X, out=[0.0] * 4)


@fid
def test_read_only_input_is_fine(f):
    x = X.copy()
    x.flags.writeable = False
    f(x)


# ----------------------------------------------------------------------------- temperature


@rid
@pytest.mark.parametrize(
    "t", [0, 0.0, -0.0, -1, -1e-300, np.inf, -np.inf, np.nan, np.float32(0)], ids=repr
)
def test_bad_temperature_value(f, t):
    with pytest.raises(ValueError, match=r"^temperature: must be a positive finite number"):
        f(X, temperature=t)


@rid
@pytest.mark.parametrize(
    "t",
    ["a", "2.0", True, [1.0], np.array([2.0]), 1j, object()],
    ids=["str", "numeric-str", "bool", "list", "1-d array", "complex", "object"],
)
def test_bad_temperature_type(f, t):
    with pytest.raises(TypeError, match=r"^temperature: expected a positive real number"):
        f(X, temperature=t)


@rid
def test_good_temperature_types(f):
    want = f(X, temperature=2.0)
    for t in (2, np.float32(2.0), np.int64(2), np.array(2.0)):
        np.testing.assert_array_equal(f(X, temperature=t), want)


# ----------------------------------------------------------------------------- axis


@rid
@pytest.mark.parametrize("axis", [2, -3, (0, 2), (5,), 100])
def test_axis_out_of_range(f, axis):
    with pytest.raises(np.exceptions.AxisError):
        f(X, axis=axis)


@rid
def test_axis_out_of_range_0d(f):
    with pytest.raises(np.exceptions.AxisError):
        f(np.float64(1.0), axis=1)


@rid
@pytest.mark.parametrize("axis", [1.5, "a", True, (0, "a")], ids=repr)
def test_axis_of_wrong_type(f, axis):
    with pytest.raises(TypeError, match=r"^axis: expected an integer"):
        f(X, axis=axis)


@rid
def test_repeated_axis(f):
    with pytest.raises(ValueError, match=r"^axis: repeated axis"):
        f(X, axis=(0, 0))
    with pytest.raises(ValueError, match=r"^axis: repeated axis"):
        f(X, axis=(1, -1))


# ----------------------------------------------------------------------------- backward


@pytest.mark.parametrize(
    "f", [lk.softmax_backward, lk.log_softmax_backward], ids=lambda f: f.__name__
)
def test_row_backward_errors(f):
    with pytest.raises(TypeError, match=r"^grad: "):
        f(np.array(["a"]), np.zeros(1))
    with pytest.raises(TypeError, match=r"^y: "):
        f(np.zeros(1), np.array(["a"]))
    with pytest.raises(TypeError, match=r"^y: complex"):
        f(np.zeros(1), np.zeros(1, complex))
    with pytest.raises(ValueError, match=r"grad, y"):
        f(np.float64(1.0), np.zeros(3))
    with pytest.raises(ValueError):
        f(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(np.exceptions.AxisError):
        f(X, X, axis=2)
    with pytest.raises(ValueError, match=r"^out: shape"):
        f(X, X, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match=r"^out: dtype"):
        f(X, X, out=np.empty((3, 4), int))


def test_elementwise_backward_errors():
    with pytest.raises(TypeError, match=r"^grad: "):
        lk.sigmoid_backward(np.array(["a"]), np.zeros(1))
    with pytest.raises(TypeError, match=r"^y: "):
        lk.sigmoid_backward(np.zeros(1), np.array(["a"]))
    with pytest.raises(TypeError, match=r"^x: "):
        lk.log_sigmoid_backward(np.zeros(1), np.array(["a"]))
    with pytest.raises(TypeError, match=r"^grad: complex"):
        lk.log_sigmoid_backward(np.zeros(1, complex), np.zeros(1))
    with pytest.raises(ValueError, match=r"^out: shape"):
        lk.sigmoid_backward(X, X, out=np.empty(4))
    with pytest.raises(ValueError):
        lk.sigmoid_backward(np.zeros(3), np.zeros(4))


# ----------------------------------------------------------------------------- ufuncs, SIMD


def test_ufunc_objects():
    names = [
        "sigmoid",
        "log_sigmoid",
        "softplus",
        "sigmoid_backward",
        "log_sigmoid_backward",
        "softmax",
        "log_softmax",
        "logsumexp",
        "softmax_backward",
        "log_softmax_backward",
        "softmax_ext",
        "log_softmax_ext",
        "logsumexp_ext",
    ]
    for name in names:
        assert isinstance(getattr(lk.ufuncs, name), np.ufunc), name
    assert lk.ufuncs.softmax.signature == "(n)->(n)"
    assert lk.ufuncs.logsumexp.signature == "(n)->()"
    assert lk.ufuncs.sigmoid.signature is None
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_array_equal(lk.ufuncs.softmax(x), lk.softmax(x))
    np.testing.assert_array_equal(lk.ufuncs.sigmoid(x), lk.sigmoid(x))


def test_simd_target_is_available():
    avail = lk.simd_targets_available()
    assert lk.simd_target() in avail
    assert avail[0] == "scalar"
    assert set(avail) <= set(lk.simd_targets_compiled())
    assert set(avail) <= {"scalar", "sse2", "avx2", "avx512", "neon"}


def test_set_simd_target_roundtrip():
    original = lk.simd_target()
    try:
        for name in lk.simd_targets_available():
            lk._set_simd_target(name)
            assert lk.simd_target() == name
    finally:
        lk._set_simd_target(original)
    assert lk.simd_target() == original


@pytest.mark.parametrize("name", ["avx9000", "", "AVX2", "neon-ish", "sse4"])
def test_set_unknown_simd_target(name):
    original = lk.simd_target()
    with pytest.raises(ValueError) as info:
        lk._set_simd_target(name)
    msg = str(info.value)
    for supported in lk.simd_targets_available():
        assert supported in msg, msg
    assert "supports" in msg
    assert lk.simd_target() == original  # unchanged


def test_set_compiled_but_unsupported_simd_target():
    unsupported = [t for t in lk.simd_targets_compiled() if t not in lk.simd_targets_available()]
    if not unsupported:
        pytest.skip("this CPU supports every compiled target")
    with pytest.raises(ValueError, match="does not support"):
        lk._set_simd_target(unsupported[0])


def _import_with_env(value):
    env = dict(os.environ)
    env["LOGITKIT_SIMD"] = value
    code = "import logitkit as lk; print(lk.simd_target())"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "value", ["avx9000", "neon" if sys.platform != "darwin" else "avx512", "bogus"]
)
def test_env_var_unknown_value_fails_import(value):
    if value in lk.simd_targets_available():
        pytest.skip(f"{value} is supported here")
    r = _import_with_env(value)
    assert r.returncode != 0, r.stdout
    assert "LOGITKIT_SIMD" in r.stderr, r.stderr
    for supported in lk.simd_targets_available():
        assert supported in r.stderr, r.stderr


def test_env_var_compiled_but_unsupported_fails_import():
    unsupported = [t for t in lk.simd_targets_compiled() if t not in lk.simd_targets_available()]
    if not unsupported:
        pytest.skip("this CPU supports every compiled target")
    r = _import_with_env(unsupported[0])
    assert r.returncode != 0
    assert "does not support" in r.stderr
    for supported in lk.simd_targets_available():
        assert supported in r.stderr


@pytest.mark.parametrize(
    "name", ["scalar"] + [t for t in lk.simd_targets_available() if t != "scalar"][-1:]
)
def test_env_var_selects_target(name):
    r = _import_with_env(name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_env_var_empty_means_default():
    r = _import_with_env("")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lk.simd_targets_available()[-1]
