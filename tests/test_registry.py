"""The registry (tests/registry.py) is complete and right: every ufunc of logitkit._core and every
math function of logitkit.__all__ has an entry, every entry is consistent, and every entry's raw
ufuncs and public function meet its bound against its oracle on every ISA."""

from __future__ import annotations

import zlib

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry as R
from logitkit import _core

ALL_UFUNCS = sorted(n for n in dir(_core) if isinstance(getattr(_core, n), np.ufunc))


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def test_every_core_ufunc_has_an_entry():
    """A new kernel registered as a ufunc fails here until the registry describes it."""
    assert ALL_UFUNCS, "no ufunc found in logitkit._core"
    listed = {u for f in R.FUNCTIONS for u in f.ufuncs}
    missing = [n for n in ALL_UFUNCS if n not in listed]
    assert not missing, f"_core ufuncs without a registry entry (tests/registry.py): {missing}"
    unknown = sorted(listed - set(ALL_UFUNCS))
    assert not unknown, f"registry entries name ufuncs that _core does not have: {unknown}"


def test_every_public_math_function_has_an_entry():
    missing = [n for n in lk.__all__ if n not in R.NOT_MATH and n not in R.BY_NAME]
    assert not missing, f"public functions without a registry entry (tests/registry.py): {missing}"
    not_public = [f.name for f in R.FUNCTIONS if f.public and f.name not in lk.__all__]
    assert not not_public, f"registry entries that are not in logitkit.__all__: {not_public}"


@pytest.mark.parametrize("name", list(R.BY_NAME))
def test_entry_is_consistent(name):
    f = R.BY_NAME[name]
    assert f.kind in R.KINDS
    assert callable(f.call) and callable(f.oracle) and callable(f.example)
    assert set(f.dtypes) >= {R.F32, R.F64}
    assert all(d in f.bounds for d in (R.F32, R.F64)), "a bound for float32 and float64"
    assert all(m in ("ulp", "grad") for m in f.measures)
    if f.kind == "backward":
        assert f.of in R.BY_NAME and R.BY_NAME[f.of].kind != "backward"
    else:
        assert f.of is None
    for u in f.ufuncs:
        assert isinstance(getattr(_core, u, None), np.ufunc), u
    if f.ufuncs:
        # the raw calls exercise every ufunc the entry lists
        called = {c.ufunc for c in R.raw_checks(f, R.F64, _rng(name))}
        assert called == set(f.ufuncs), (called, f.ufuncs)
    for special, want in f.specials.items():
        assert isinstance(special, (float, str)) and (want is None or isinstance(want, float))


def _assert_meets(c: R.Check, dtype, isa, func):
    got = np.asarray(c.got)
    assert got.shape == np.shape(c.exact), f"{c.what}: shape {got.shape} vs {np.shape(c.exact)}"
    assert got.dtype == dtype, f"{c.what}: dtype {got.dtype}, expected {dtype}"
    if c.measure == "ulp":
        err = oracle.ulp_errors(got, c.exact, dtype)
        worst, bound = (float(err.max()) if err.size else 0.0), c.bound
    else:
        err = oracle.grad_errors(got, c.exact, dtype, c.scale)
        worst, bound = (float(err.max()) if err.size else 0.0), 1
    R.record(func, dtype, isa, worst, c.what + (" (ulp)" if c.measure == "ulp" else " (/bound)"))
    assert worst <= bound, f"{c.what} {dtype} on {isa}: {worst:.3g} > {bound}; " + (
        oracle.worst_report(np.zeros(got.shape), got, c.exact, dtype, err, row_wise=False)
    )


@pytest.mark.parametrize("dtype", [R.F32, R.F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", [f.name for f in R.FUNCTIONS if f.ufuncs])
def test_raw_ufuncs_against_oracle(isa, name, dtype):
    """Each ufunc of each entry, called directly, meets the entry's bound on this ISA."""
    f = R.BY_NAME[name]
    checks = list(R.raw_checks(f, dtype, _rng(name, dtype.name)))
    assert checks
    for c in checks:
        bound = f.bounds[dtype] if c.bound is None and c.measure == "ulp" else c.bound
        check = R.Check("raw " + c.what, c.got, c.exact, c.measure, bound, c.scale)
        _assert_meets(check, dtype, isa, name)


@pytest.mark.parametrize("dtype", [R.F32, R.F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", R.names())
def test_public_function_against_oracle(isa, name, dtype):
    """Each public function on its registry example meets the entry's bound on this ISA."""
    f = R.BY_NAME[name]
    with np.errstate(all="raise"):
        checks = list(R.public_checks(f, dtype, _rng("public", name, dtype.name)))
    for c in checks:
        _assert_meets(c, dtype, isa, name)


@pytest.mark.parametrize("name", [n for n in R.names("elementwise", public=False)])
@pytest.mark.parametrize("dtype", [R.F32, R.F64], ids=["f32", "f64"])
def test_elementwise_specials(isa, name, dtype):
    """Each elementwise entry's special values (the raw ufunc: public and internal ones)."""
    f = R.BY_NAME[name]
    uf = getattr(_core, f.ufuncs[0])
    ins = [np.nan] + list(f.specials)
    with np.errstate(all="raise"):
        got = uf(np.array(ins, dtype))
    assert np.isnan(got[0])
    for g, want in zip(got[1:], f.specials.values()):
        assert g == want and np.signbit(g) == np.signbit(want), (name, g, want)
