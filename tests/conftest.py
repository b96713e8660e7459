"""Shared fixtures: run the numeric tests on every SIMD instruction set this CPU supports."""

from __future__ import annotations

import logitkit as lk
import numpy as np
import oracle
import pytest

ISAS = list(lk.simd_targets_available())


@pytest.fixture(params=ISAS)
def isa(request):
    """Switch every kernel to one ISA for the duration of a test, then restore the original."""
    original = lk.simd_target()
    lk._set_simd_target(request.param)
    try:
        assert lk.simd_target() == request.param
        yield request.param
    finally:
        lk._set_simd_target(original)


@pytest.fixture(autouse=True)
def _isa_is_restored():
    """Guard: no test leaves a different ISA behind."""
    before = lk.simd_target()
    yield
    assert lk.simd_target() == before


def pytest_report_header(config):
    return [
        (
            f"logitkit {lk.__version__}: simd_target={lk.simd_target()}, "
            f"available={lk.simd_targets_available()}, compiled={lk.simd_targets_compiled()}"
        ),
        (
            f"numpy {np.__version__}; oracle for float64 in np.longdouble "
            f"(extended precision: {oracle.LONGDOUBLE_IS_EXTENDED})"
        ),
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The max ulp errors measured by the accuracy tests, per input family, function, dtype and
    ISA ("all" is the max over every family)."""
    rec = dict(oracle.ULP_RECORD)
    if not rec:
        return
    for (cat, f, d, i), v in list(rec.items()):
        rec[("all", f, d, i)] = max(rec.get(("all", f, d, i), 0.0), v)
    cats = ["all"] + sorted({k[0] for k in rec} - {"all"})
    funcs = sorted({k[1] for k in rec}, key=list(oracle.BOUNDS).index)
    dtypes = sorted({k[2] for k in rec})
    isas = [i for i in ISAS if any(k[3] == i for k in rec)]
    tr = terminalreporter
    tr.section("max ulp error measured (bound: numerics.md)")
    header = f"{'inputs':<22} {'function':<12} {'dtype':<8} {'bound':>5} " + " ".join(
        f"{i:>9}" for i in isas
    )
    tr.write_line(header)
    tr.write_line("-" * len(header))
    for c in cats:
        for f in funcs:
            for d in dtypes:
                if not any((c, f, d, i) in rec for i in isas):
                    continue
                bound = oracle.BOUNDS[f].get(np.dtype(d), "")
                cells = " ".join(
                    f"{rec[(c, f, d, i)]:>9.3f}" if (c, f, d, i) in rec else f"{'-':>9}"
                    for i in isas
                )
                flag = "" if all(rec.get((c, f, d, i), 0) <= bound for i in isas) else "  <-- over"
                tr.write_line(f"{c:<22} {f:<12} {d:<8} {bound!s:>5} {cells}{flag}")
