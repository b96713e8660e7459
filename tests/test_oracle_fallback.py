"""The oracle's mpmath path for float64 (tests/oracle.py, ``reference("mpmath")``): the reference
of the float64 accuracy tests where np.longdouble is plain double (macOS arm64, Windows x64), or
everywhere with LOGITKIT_TEST_ORACLE=mpmath (docs/testing.md).

So that every push exercises that path, whatever the platform:

* the two paths agree far below an ulp of float64 wherever both exist (extended longdouble);
* its error measures (ulp_errors, rel_error, grad_errors on an mpmath reference) give the
  values their rules give, the same as on the longdouble path;
* a representative subset of test_accuracy.py's and test_loss_accuracy.py's float64 checks
  runs on it (their own test functions, on the sample of rows they keep on that path; on the
  default ISA: the per-ISA runs are those files' own);
* LOGITKIT_TEST_ORACLE is read as documented.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import logitkit as lk
import numpy as np
import oracle as O
import pytest
import test_accuracy as acc
import test_loss_accuracy as lacc
from loss_cases import F64

mpmath = pytest.importorskip("mpmath")

ROW_FUNCS = acc.ROW_FUNCS
ELEMENTWISE = acc.ELEMENTWISE
AGREE = 2.0**-6  # the paths' largest allowed difference, in float64 ulps (far below one)


@pytest.fixture
def mpmath_path():
    with O.reference("mpmath"):
        yield


def _reference(kind, f, *args, **kw):
    with O.reference(kind):
        return np.asarray(f(*args, **kw))


def _exactly(v):
    """An oracle value (longdouble, mpmath number, or a float NaN/inf placeholder) as an mpmath
    number, exactly: a longdouble is m·2^e, m in [0.5, 1) the sum of two float64s (53 + 11 bits)."""
    if isinstance(v, np.longdouble):
        if not np.isfinite(v):
            return mpmath.mpf(float(v))
        m, e = np.frexp(v)
        hi = np.float64(m)
        with mpmath.workprec(128):
            lo = mpmath.mpf(float(m - np.longdouble(hi)))
            return mpmath.ldexp(mpmath.mpf(float(hi)) + lo, int(e))
    with mpmath.workprec(O.MP_PREC):
        return +mpmath.mpf(v)


def _difference(ld, mp, floor):
    """|ld - mp| in ulps of float64 at max(|mp|, floor), elementwise (0 where both are the same
    NaN or infinity). floor = 1 for gradients (their unit scale: the absolute bound's), 0 else."""

    def one(a, b):
        with mpmath.workprec(400):
            a, b = _exactly(a), _exactly(b)
            if mpmath.isnan(a) or mpmath.isnan(b) or mpmath.isinf(a) or mpmath.isinf(b):
                same = (mpmath.isnan(a) and mpmath.isnan(b)) or a == b
                return 0.0 if same else np.inf
            size = max(abs(b), floor)
            if size < mpmath.ldexp(1, -1022):
                unit = mpmath.ldexp(1, -1074)
            else:
                unit = mpmath.ldexp(1, mpmath.frexp(size)[1] - 53)
            return float(abs(a - b) / unit)

    with np.errstate(all="ignore"):
        return np.asarray(np.frompyfunc(one, 2, 1)(ld, mp), dtype=np.float64)


# ----------------------------------------------------------------------------- the paths agree


def _agreement_cases():
    """name -> (call, floor): one call per oracle function family, on data with the hard cases
    (confident rows, exp-range rows, masks, temperatures, the elementwise sweep's sample)."""
    rng = np.random.default_rng(20260611)
    x = rng.standard_normal((8, 19)) * 5
    x[0] *= 15  # a confident row
    q = rng.standard_normal((8, 19)) * 5
    g = rng.standard_normal((8, 19))
    t = rng.integers(0, 19, 8)
    t[1] = -100
    y = rng.dirichlet(np.full(19, 0.5), 8)
    w = rng.uniform(0.25, 2.0, 19)
    sw = rng.uniform(0.0, 2.0, 8)
    xb = rng.normal(0, 4, (5, 19))
    xb.flat[::7] *= 10
    yb = rng.random((5, 19))
    mask = rng.random((8, 19)) < 0.6
    mask[2] = False
    sweep = acc.sweep("float64", True)
    cases = {}
    for f in ROW_FUNCS:
        for name, rows in (
            ("random", x),
            ("exp range", acc.exp_range_rows("float64", True)[2]),
            ("confident", acc.confident_rows("float64", True)[5]),
        ):
            cases[f"{f} {name}"] = ((getattr(O, f), rows), {}), 0
        cases[f"{f} masked T=0.1"] = ((getattr(O, f), x), {"where": mask, "temperature": 0.1}), 0
    for f in ELEMENTWISE:
        cases[f"{f} sweep"] = ((getattr(O, f), sweep[::5]), {}), 0
    sm, ls = O.softmax(x).astype(np.float64), O.log_softmax(x).astype(np.float64)
    backward = {
        "softmax_backward": ((O.softmax_backward, g, sm), {}),
        "log_softmax_backward": ((O.log_softmax_backward, g, ls), {}),
        "sigmoid_backward": ((O.sigmoid_backward, g, O.sigmoid(x).astype(np.float64)), {}),
        "log_sigmoid_backward": ((O.log_sigmoid_backward, g, x), {}),
        "cross_entropy grad": (
            (O.cross_entropy_grad, x, t),
            {"weight": w, "label_smoothing": 0.1, "sample_weight": sw, "reduction": "sum"},
        ),
        "bce grad": ((O.bce_with_logits_grad, xb, yb), {"pos_weight": 2.5, "reduction": "none"}),
        "focal grad": ((O.sigmoid_focal_loss_grad, xb, yb), {"gamma": 0.5}),
        "entropy grad": ((O.entropy_grad, x), {"temperature": 2.0}),
        "kl grad": ((O.kl_divergence_grad, x, q), {}),
        "js grad": ((O.js_divergence_grad, x, q), {}),
        "distillation grad": ((O.distillation_loss_grad, x, q, t), {"temperature": 3.0}),
        "binary_entropy grad": ((O.binary_entropy_grad, xb), {}),
        "binary_kl grad": ((O.binary_kl_divergence_grad, xb, xb[::-1]), {}),
    }
    values = {
        "cross_entropy hard": (
            (O.cross_entropy, x, t),
            {"weight": w, "label_smoothing": 0.1, "sample_weight": sw, "reduction": "none"},
        ),
        "cross_entropy soft": (
            (O.cross_entropy, x, y),
            {"label_smoothing": 0.1, "reduction": "none"},
        ),
        "cross_entropy mean": ((O.cross_entropy, x, t), {"weight": w}),
        "nll_loss": ((O.nll_loss, ls, t), {"weight": w, "reduction": "none"}),
        "bce": ((O.bce_with_logits, xb, yb), {"label_smoothing": 0.1, "reduction": "none"}),
        "bce T, bias": (
            (O.bce_with_logits, xb, yb),
            {"temperature": 0.3, "bias": 0.2, "reduction": "none"},
        ),
        "focal": ((O.sigmoid_focal_loss, xb, yb), {"gamma": 2.0}),
        "entropy": ((O.entropy, x), {"where": ~np.eye(8, 19, dtype=bool)}),
        "kl": ((O.kl_divergence, x, q), {"reduction": "none"}),
        "js": ((O.js_divergence, x, q), {}),
        "distillation": ((O.distillation_loss, x, q, t), {"reduction": "none"}),
        "binary_entropy": ((O.binary_entropy, xb), {}),
        "binary_kl": ((O.binary_kl_divergence, xb, xb[::-1]), {"reduction": "none"}),
    }
    cases.update({k: (v, 1) for k, v in backward.items()})
    cases.update({k: (v, 0) for k, v in values.items()})
    cases["grad_hess multiclass"] = (
        ((lambda *a, **k: np.stack(O.grad_hess(*a, **k)), x, t), {"family": "multiclass"}),
        1,
    )
    cases["grad_hess binary"] = (
        ((lambda *a, **k: np.stack(O.grad_hess(*a, **k)), xb, yb), {"family": "binary"}),
        1,
    )
    return cases


AGREEMENT = _agreement_cases()


@pytest.mark.skipif(
    not O.LONGDOUBLE_IS_EXTENDED, reason="np.longdouble is plain double here: no second path"
)
@pytest.mark.parametrize("case", list(AGREEMENT))
def test_paths_agree(case):
    """The longdouble and mpmath paths give the same float64 references to far below an ulp
    (gradients: below the same fraction of their absolute bound's unit), and each is what its path
    says it is (longdouble, mpmath numbers)."""
    ((f, *args), kw), floor = AGREEMENT[case]
    ld = _reference("longdouble", f, *args, **kw)
    mp = _reference("mpmath", f, *args, **kw)
    assert ld.dtype == np.longdouble and mp.dtype == O.MP, (ld.dtype, mp.dtype)
    assert ld.shape == mp.shape
    d = _difference(ld, mp, floor)
    i = np.unravel_index(int(np.argmax(d)), d.shape) if d.size else ()
    assert d.size == 0 or d.max() <= AGREE, (case, i, ld[i], mp[i], float(d.max()))


@pytest.mark.skipif(
    not O.LONGDOUBLE_IS_EXTENDED, reason="np.longdouble is plain double here: no second path"
)
def test_agreement_check_detects_a_wrong_path():
    """The comparison above is not vacuous: the longdouble path rounded to float64 (what a
    plain-double longdouble gives) differs from the mpmath path by far more than AGREE."""
    x = acc.random_rows("float64", 10.0, True)[30]
    ld = _reference("longdouble", O.log_softmax, x)
    mp = _reference("mpmath", O.log_softmax, x)
    assert _difference(ld.astype(np.float64).astype(np.longdouble), mp, 0).max() > 0.1
    assert _difference(ld, mp, 0).max() <= AGREE


# ----------------------------------------------------------------------------- error measures


F64_MAX = float(np.finfo(np.float64).max)
SUB = float(np.finfo(np.float64).smallest_subnormal)


def _mp(v):
    """v (mpmath numbers) as the oracle's MP array."""
    return O._to_work(np.asarray(v, dtype=object), O.MP)


def _p2(k):
    return mpmath.ldexp(1, k)


# (got, exact (a function of nothing, run at MP_PREC bits), the error in ulps by ulp_errors' rules)
ULP_CASES = {
    "exact": (1.0, lambda: mpmath.mpf(1), 0.0),
    "half an ulp above 1": (1.0, lambda: 1 + _p2(-53), 0.5),
    "one ulp above 1": (np.nextafter(1.0, 2.0), lambda: mpmath.mpf(1), 1.0),
    "below 1 the ulp halves": (1.0, lambda: 1 - _p2(-54), 0.5),
    "one ulp below 1": (1.0, lambda: 1 - _p2(-53), 1.0),
    "NaN for NaN": (np.nan, lambda: mpmath.nan, 0.0),
    "NaN for 1": (np.nan, lambda: mpmath.mpf(1), np.inf),
    "1 for NaN": (1.0, lambda: mpmath.nan, np.inf),
    # max + half its ulp rounds (the tie to the even 2^1024) to inf
    "inf for max + half ulp": (np.inf, lambda: _p2(1024) - _p2(970), 0.0),
    "max for max + half ulp": (F64_MAX, lambda: _p2(1024) - _p2(970), np.inf),
    "max for just below it": (F64_MAX, lambda: _p2(1024) - _p2(970) - _p2(960), 0.5 - 2.0**-11),
    "inf for just below it": (np.inf, lambda: _p2(1024) - _p2(970) - _p2(960), np.inf),
    "-inf for -inf": (-np.inf, lambda: -mpmath.inf, 0.0),
    "inf for -inf": (np.inf, lambda: -mpmath.inf, np.inf),
    # below the smallest normal the unit is 2 subnormals
    "subnormal": (SUB, lambda: 3 * _p2(-1075), 0.25),
    "0 for a tiny exact": (0.0, lambda: _p2(-1080), 2.0**-7),
    "0 for 0": (0.0, lambda: mpmath.mpf(0), 0.0),
    "-0 for 0": (-0.0, lambda: mpmath.mpf(0), 0.0),
}


def _longdouble(e):
    """An mpmath number of at most 64 bits as a longdouble: m·2^k, m the sum of two float64s."""
    if not mpmath.isfinite(e):
        return np.longdouble(float(e))
    with mpmath.workprec(O.MP_PREC):
        m, k = mpmath.frexp(e)
        hi = float(m)
        lo = float(m - hi)
    return np.ldexp(np.longdouble(hi) + np.longdouble(lo), k)


@pytest.mark.parametrize("case", list(ULP_CASES))
def test_ulp_errors_on_mpmath_reference(case):
    """ulp_errors against an mpmath reference: the values its rules give, and the longdouble
    path's (where longdouble holds the reference exactly, as it does these)."""
    got, exact, ulps = ULP_CASES[case]
    with mpmath.workprec(O.MP_PREC):
        e = exact()
    got = np.asarray(got, np.float64)
    assert O.ulp_errors(got, _mp([e]), np.float64)[0] == ulps
    if O.LONGDOUBLE_IS_EXTENDED:
        e_ld = _longdouble(e)
        assert _exactly(e_ld) == e or not mpmath.isfinite(e)
        assert O.ulp_errors(got, e_ld, np.float64) == ulps


def test_rel_and_grad_errors_on_mpmath_reference():
    """rel_error and grad_errors against mpmath references: exact values of their definitions."""
    with mpmath.workprec(O.MP_PREC):
        one_up = mpmath.mpf(1) + _p2(-60)
        tiny = _p2(-54)
        rel = float((one_up - 1) / one_up)
    assert O.rel_error(np.float64(1.0), _mp(one_up)) == rel
    assert O.rel_error(np.float64(2.0), _mp(mpmath.mpf(2))) == 0.0
    assert O.rel_error(np.float64(np.nan), _mp(mpmath.nan)) == 0.0
    assert O.rel_error(np.float64(1e-300), _mp(mpmath.mpf(0))) == np.inf
    # a gradient of 0 against 2^-54: 2^52 ulps, but half the absolute bound 2^-53
    err = O.grad_errors(np.zeros(2), _mp([tiny, tiny]), np.float64, scale=np.array([1.0, 4.0]))
    np.testing.assert_array_equal(err, [0.5, 0.125])
    assert O.grad_errors(np.array([np.nan]), _mp([tiny]), np.float64)[0] == np.inf
    # an absolute error beyond float64's range (2e308 / 2^-53) is inf, not an OverflowError; the
    # ulp measure is what remains
    big = O.grad_errors(np.array([1e308]), _mp([mpmath.mpf(-1e308)]), np.float64)
    assert big[0] == O.ulp_errors(np.array([1e308]), _mp([mpmath.mpf(-1e308)]), np.float64)[0] / 16
    assert np.isfinite(big[0])


# ----------------------------------------------------------------------------- the checks, forced


def _isa():
    return lk.simd_target()


@pytest.mark.parametrize("func", ROW_FUNCS)
def test_rows_on_mpmath_path(mpmath_path, func):
    """test_accuracy's float64 row families on the mpmath path (the sample of rows it keeps):
    random, confident, exp-range, masked with a temperature, a temperature float64 cannot hold."""
    assert acc._sampled(F64)
    isa = _isa()
    acc.test_random_rows(isa, F64, 10.0, func)
    acc.test_confident_rows(isa, F64, func)
    acc.test_rows_across_exp_range(isa, F64, func)
    acc.test_masked_rows(isa, F64, 0.5, func)
    acc.test_temperature_not_representable_in_input_dtype(isa, F64, 0.1, func)


def test_logsumexp_cancellation_on_mpmath_path(mpmath_path):
    isa = _isa()
    acc.test_logsumexp_near_zero(isa, F64)
    acc.test_logsumexp_partial_cancellation(isa, F64)


@pytest.mark.parametrize("func", ELEMENTWISE)
def test_elementwise_on_mpmath_path(mpmath_path, func):
    """The sampled sweep (every branch, overflow and underflow neighbourhood kept whole)."""
    acc.test_elementwise_sweep(_isa(), F64, func)


def test_losses_on_mpmath_path(mpmath_path):
    """test_loss_accuracy's float64 checks of every loss, with their options, on the mpmath path."""
    isa = _isa()
    for kind in ("hard-ignore", "soft"):
        lacc.test_cross_entropy_against_oracle(isa, F64, "nchw", kind, True, 0.1, True)
    lacc.test_cross_entropy_grad_cancellation(isa, F64, "soft-eps", 64)
    lacc.test_nll_loss_against_oracle(F64, "last", True, True, 0.1, True)
    lacc.test_bce_against_oracle(isa, F64, "3d", "full", True, 0.1)
    lacc.test_bce_label_smoothing_near_one(isa, F64, 0.01)
    lacc.test_focal_against_oracle(isa, F64, 0.25, 0.5, True)
    lacc.test_focal_confident_elements(isa, F64)
    lacc.test_grad_hess_multiclass(isa, F64, "last", "hard", True, 0.1, True)
    lacc.test_grad_hess_binary(isa, F64, "full", True, 0.1)
    lacc.test_grad_hess_multiclass_hess_of_likely_class(isa, F64)


def test_mpmath_path_fails_a_result_beyond_the_bound(mpmath_path):
    """On the mpmath path a library result moved by k ulps measures k ulps further (or nearer)
    from the reference, and one moved past the bound fails the check (softmax, 8 ulp)."""
    x = acc.random_rows("float64", 10.0, True)[40]
    exact = acc._row_exact(x, "softmax")
    assert exact.dtype == O.MP
    got = lk.softmax(x)
    bad = got.copy()
    bad.view(np.int64)[0, 3] += 10  # 10 ulps up (a positive normal value, within its binade)
    before = O.ulp_errors(got, exact, F64)[0, 3]
    after = O.ulp_errors(bad, exact, F64)[0, 3]
    assert min(abs(after - (10 + before)), abs(after - (10 - before))) < 1e-9, (before, after)
    acc._check("softmax", F64, _isa(), [(x, got, exact, -1)], "mpmath path (moved)")
    with pytest.raises(AssertionError, match="ulp > 8"):
        acc._check("softmax", F64, _isa(), [(x, bad, exact, -1)], "mpmath path (moved)")


# ----------------------------------------------------------------------------- the switch


def _import_oracle(value):
    env = {k: v for k, v in os.environ.items() if k != "LOGITKIT_TEST_ORACLE"}
    if value is not None:
        env["LOGITKIT_TEST_ORACLE"] = value
    code = "import oracle; print(oracle.F64_REFERENCE, oracle.LONGDOUBLE_IS_EXTENDED)"
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=Path(__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_environment_variable():
    """LOGITKIT_TEST_ORACLE=mpmath forces the mpmath path; unset, the path follows np.longdouble;
    any other value is an error at import, not a silent choice."""
    forced = _import_oracle("mpmath")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.split()[0] == "mpmath"
    default = _import_oracle(None)
    assert default.returncode == 0, default.stderr
    ref, extended = default.stdout.split()
    assert ref == ("longdouble" if extended == "True" else "mpmath")
    wrong = _import_oracle("mpmat")
    assert wrong.returncode != 0
    assert "LOGITKIT_TEST_ORACLE='mpmat'" in wrong.stderr
