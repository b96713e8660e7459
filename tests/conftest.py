"""Shared fixtures: run the numeric tests on every SIMD instruction set this CPU supports."""

from __future__ import annotations

import os

import logitkit as lk
import numpy as np
import oracle
import pytest
import registry

# LOGITKIT_TEST_ISA=avx512 (or a comma-separated list) holds the per-ISA tests to those; with
# LOGITKIT_SIMD set alike, the whole run uses one instruction set (docs/testing.md).
_ONLY = [i for i in os.environ.get("LOGITKIT_TEST_ISA", "").split(",") if i]
ISAS = [i for i in lk.simd_targets_available() if not _ONLY or i in _ONLY]
if _ONLY and sorted(ISAS) != sorted(_ONLY):
    raise pytest.UsageError(
        f"LOGITKIT_TEST_ISA={','.join(_ONLY)}: this CPU has {lk.simd_targets_available()}"
    )


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


@pytest.fixture(
    params=[
        pytest.param(
            "longdouble",
            marks=pytest.mark.skipif(
                not oracle.LONGDOUBLE_IS_EXTENDED,
                reason="np.longdouble is plain double here: float64 references take mpmath's path",
            ),
        ),
        "mpmath",
    ]
)
def f64_path(request):
    """Each of the oracle's float64 paths in turn, for the test's duration."""
    with oracle.reference(request.param):
        yield request.param


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
            f"numpy {np.__version__}; float64 reference of the accuracy tests: "
            f"{oracle.F64_REFERENCE} (np.longdouble extended: {oracle.LONGDOUBLE_IS_EXTENDED})"
        ),
    ]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One report of the largest errors the tests measured (registry.ERRORS), for every function:
    per function, quantity, dtype and ISA, next to the bound (docs/numerics.md, "Accuracy
    targets"). Quantities: ulps ('ulp' and the activations' input families; "all" is the max over
    the families of a function), relative error ('(rel)': reductions), fraction of the bound
    ('(/bound)': gradients; '(/unscaled bound)': the same against the bound without the weights'
    scale)."""
    rec = dict(registry.ERRORS)
    if not rec:
        return
    for (f, q, d, i), v in list(rec.items()):
        if registry.bound_of(f, q, d) != "" and "(" not in q:  # ulp families of one function
            rec[(f, "all", d, i)] = max(rec.get((f, "all", d, i), 0.0), v)
    rows = sorted({(f, q, d) for f, q, d, _ in rec}, key=lambda r: (registry.order_key(r[0]), r))
    isas = [i for i in ISAS if any(k[3] == i for k in rec)]
    tr = terminalreporter
    tr.section('largest errors measured (bounds: docs/numerics.md, "The bounds")')
    header = f"{'function':<44} {'quantity':<34} {'dtype':<8} {'bound':>6} " + " ".join(
        f"{i:>9}" for i in isas
    )
    tr.write_line(header)
    tr.write_line("-" * len(header))
    for f, q, d in rows:
        bound = registry.bound_of(f, q, d)
        cells = " ".join(
            f"{rec[(f, q, d, i)]:>9.3g}" if (f, q, d, i) in rec else f"{'-':>9}" for i in isas
        )
        over = bound != "" and any(rec.get((f, q, d, i), 0) > bound for i in isas)
        flag = "  <-- over" if over and "unscaled" not in q else ""
        tr.write_line(f"{f:<44} {q:<34} {d:<8} {bound!s:>6} {cells}{flag}")
