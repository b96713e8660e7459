"""The kernel list (cpp/include/logitkit/kernels/list.hpp) and what is generated from it: the ufuncs
and their metadata _core.kernel_list, the type stub _core.pyi, logitkit.ufuncs and the functional
API's exports, and each row-wise function's small-call path."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import logitkit as lk
import numpy as np
import pytest
from logitkit import _core

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIST_HPP = ROOT / "cpp" / "include" / "logitkit" / "kernels" / "list.hpp"
MAKE_STUB = ROOT / "cpp" / "bindings" / "make_stub.py"

# kind -> (nin, nout, gufunc signature or None); losses vary per entry
FORMS = {
    "unary": (1, 1, None),
    "internal": (1, 1, None),
    "binary": (2, 1, None),
    "row": (1, 1, "(n)->(n)"),
    "row_ext": (3, 1, "(n),(n),()->(n)"),
    "reduce": (1, 1, "(n)->()"),
    "reduce_ext": (3, 1, "(n),(n),()->()"),
    "row_binary": (2, 1, "(n),(n)->(n)"),
}


def _make_stub():
    spec = importlib.util.spec_from_file_location("make_stub", MAKE_STUB)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _canonical(sig):
    return None if sig is None else sig.replace(" ", "")


def test_kernel_list_describes_the_registered_ufuncs():
    names = [e[0] for e in _core.kernel_list]
    assert len(names) == len(set(names))
    for name, kind, sig, public in _core.kernel_list:
        uf = getattr(_core, name)
        assert isinstance(uf, np.ufunc), name
        assert uf.__name__ == name
        assert _canonical(uf.signature) == sig, name
        if kind in FORMS:
            assert (uf.nin, uf.nout, sig) == FORMS[kind], name
        else:
            assert kind in ("loss", "loss_grad"), kind
            assert uf.nout == (1 if kind == "loss" else 2), name
        assert public == (kind in FORMS and kind != "internal"), name
        assert uf.__doc__ and uf.__doc__.strip(), name
        want_types = 2 if kind.startswith("loss") else 3  # float16 is computed in float32
        assert uf.ntypes == want_types, name
    # every ufunc object in _core is in the list
    ufuncs_in_core = {n for n in dir(_core) if isinstance(getattr(_core, n), np.ufunc)}
    assert ufuncs_in_core == set(names)


@pytest.mark.skipif(not LIST_HPP.exists(), reason="needs the source tree (list.hpp)")
def test_the_stub_generator_reads_the_list_as_the_compiler_does():
    """make_stub.py parses list.hpp; the bindings expand it with the preprocessor: both must give
    the same ufuncs, kinds and signatures."""
    parsed = _make_stub().ufuncs(LIST_HPP.read_text(encoding="utf-8"))
    assert [tuple(e) for e in parsed] == [tuple(e) for e in _core.kernel_list]


def test_installed_stub_matches_the_kernel_list():
    stub = pathlib.Path(_core.__file__).with_name("_core.pyi")
    assert stub.exists(), "the build installs the generated _core.pyi next to _core"
    text = stub.read_text(encoding="utf-8")
    declared = dict(re.findall(r"^(\w+): np\.ufunc  # (.*)$", text, re.MULTILINE))
    want = {name: kind + (f" {sig}" if sig else "") for name, kind, sig, _ in _core.kernel_list}
    assert declared == want
    functions = set(re.findall(r"^def (\w+)\(", text, re.MULTILINE))
    public_callables = {
        n for n in dir(_core) if not n.startswith("__") and callable(getattr(_core, n))
    }
    assert functions == public_callables - set(want)
    assert "kernel_list:" in text and "__version__:" in text


def test_python_exports_come_from_the_list():
    public = sorted(name for name, _, _, p in _core.kernel_list if p)
    assert sorted(lk.ufuncs.__all__) == public
    for name in public:
        assert getattr(lk.ufuncs, name) is getattr(_core, name)
    functional = sorted(
        name
        for name, kind, _, _ in _core.kernel_list
        if kind in ("unary", "binary", "row", "reduce", "row_binary")
    )
    assert sorted(lk._functional.__all__) == functional
    for name in functional:
        assert name in lk.__all__ and callable(getattr(lk, name))


ROW_KINDS = [(n, k) for n, k, _, _ in _core.kernel_list if k in ("row", "reduce")]


@pytest.mark.parametrize("name,kind", ROW_KINDS, ids=[n for n, _ in ROW_KINDS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_small_call_function_of_each_row_entry(isa, name, kind, dtype):
    """Each row-wise entry's small-call function gives the gufunc's bits, and None where it does
    not apply (the caller then takes the gufunc)."""
    small, uf = getattr(_core, name + "_small"), getattr(_core, name)
    x = np.random.default_rng(5).normal(0, 5, (7, 13)).astype(dtype)
    x[2, 3] = -np.inf
    for a in (x, x[0]):
        got, want = small(a, None), uf(a)
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)
    out = np.full(uf(x).shape, np.nan, dtype)
    assert small(x, out) is out
    np.testing.assert_array_equal(out, uf(x))
    assert small(x.astype(np.float16), None) is None  # float16: the gufunc
    assert small(np.asfortranarray(x), None) is None  # not C-contiguous
    assert small(x[None], None) is None  # 3-d
    assert small(x[:, :0], None) is None  # empty
    if kind == "row":
        assert small(x, x) is None  # in place: the gufunc
