"""bench/peer_accuracy.py, the peers' accuracy table: its oracle against mpmath, its measure on a
formula known to be inexact, logitkit's column within logitkit's bounds, and its command line."""

from __future__ import annotations

import importlib.util
import os
import pathlib

import mpmath
import numpy as np
import pytest
import registry

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def pa():
    """bench/peer_accuracy.py as a module. Importing it imports bench/compare.py, which sets the
    thread-count variables of the numeric libraries for its own process: restored afterwards."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location("peer_accuracy", BENCH / "peer_accuracy.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return mod


def _mp_row(fn: str, row: np.ndarray) -> list[float]:
    mpmath.mp.prec = 200
    xs = [mpmath.mpf(float(v)) for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in xs))
    if fn == "log_softmax":
        return [float(v - lse) for v in xs]
    if fn == "softmax":
        return [float(mpmath.exp(v - lse)) for v in xs]
    return [float(lse)]


@pytest.mark.parametrize("fn", ["log_softmax", "softmax", "logsumexp"])
@pytest.mark.parametrize("family", ["N(0, 3²)", "N(0, 10²)", "confident"])
def test_oracle_agrees_with_mpmath(pa, fn, family):
    x = pa.family_rows(family, np.random.default_rng(3), 4, 37)
    got = pa.oracle(fn, x)
    want = np.array([_mp_row(fn, r) for r in x]).reshape(got.shape)
    # float64 relative accuracy, far below a float32 ulp (2^-24): the top entry's log-probability
    # of a confident row (about -1e-5) included
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_ulp_errors_counts_float32_spacings(pa):
    exact = np.array([1.0, -0.5, 1e-40, 3.0])
    got = np.array([1.0 + 2 * 2.0**-23, -0.5, 1e-40 + 3 * 2.0**-149, np.nan])
    err = pa.ulp_errors(got, exact)
    np.testing.assert_allclose(err[:3], [2.0, 0.0, 3.0], rtol=1e-6)
    assert err[3] == np.inf  # a NaN where the result is finite


def _naive_log_softmax(x: np.ndarray) -> np.ndarray:
    """The usual float32 formula, whose top entry cancels on confident rows."""
    m = x.max(axis=-1, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(axis=-1, keepdims=True, dtype=np.float32))


def test_measure_sees_a_naive_formulas_error(pa):
    x = pa.family_rows("confident", np.random.default_rng(5), 200, 100)
    worst, share = pa.measure(_naive_log_softmax, "log_softmax", x)
    # the top entry, about -1e-5, comes out as 0 or a rounding of 1 + S': about 1e5 to 1e7 ulp
    assert worst > 1e4
    assert 0 < share <= 0.05  # about one entry per row of 100


@pytest.mark.parametrize("n", [10, 100])
def test_logitkit_within_its_bounds(pa, n):
    results, skipped = pa.run_table(["logitkit"], [n], rows=300, seed=1)
    assert skipped == {}
    assert len(results) == len(pa.FUNCTIONS) * len(pa.FAMILIES)
    for (fn, family, _, _), (worst, _) in results.items():
        bound = registry.BY_NAME[fn].bounds[np.dtype(np.float32)]
        assert worst <= bound, (fn, family, n, worst)


def test_command_line(pa, capsys):
    assert pa.main(["--peers", "none", "--lengths", "10,33", "--rows", "20"]) == 0
    out = capsys.readouterr().out
    for fn in pa.FUNCTIONS:
        assert f"{fn}, float32: worst error in ulp" in out
    assert out.count("confident") == 2 * len(pa.FUNCTIONS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lengths", "10,x"], "--lengths must be comma-separated integers"),
        (["--lengths", "0"], "--lengths must be at least 1"),
        (["--rows", "0"], "--rows must be at least 1"),
        (["--peers", "tensorflow"], "--peers must name some of"),
    ],
)
def test_command_line_rejects_bad_arguments(pa, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        pa.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err
