"""multiclass.apply_penalties: repetition, presence and frequency penalties and logit bias.

Oracle: a plain Python loop over every row and token (Python floats are IEEE float64), applying
the definitions of docs/semantics.md, "Penalties and logit bias", in their order: the count of
the token in the row's previous tokens; if it is > 0, the repetition penalty (``y * r`` for
``y < 0``, else ``y / r``) and then ``y - (frequency * count + presence)``; then ``y + bias``
where the token has a bias; rounded once from float64 to the output dtype. Results are compared
exactly: every value, the sign of every zero, NaN where NaN.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from logitkit import multiclass as mc

try:
    import ml_dtypes

    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
    BF16 = None

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
DTYPES = [F16, F32, F64] + (
    [BF16]
    if BF16 is not None
    else [pytest.param(None, marks=pytest.mark.skip(reason="ml_dtypes is not installed"))]
)
V = 29


# ----------------------------------------------------------------------------- the oracle


def _row_value(v, b):
    """A penalty's value for row b: a scalar, or one per row (the batch shape)."""
    return float(v) if np.ndim(v) == 0 else float(np.asarray(v, np.float64)[b])


def oracle(
    x,
    prev=None,
    *,
    counts=None,
    rep=1.0,
    pres=0.0,
    freq=0.0,
    bias=None,
    axis=-1,
    dtype=None,
):
    x = np.asarray(x)
    if dtype is None:
        dtype = x.dtype if (x.dtype.kind == "f" or x.dtype == BF16) else F64
    xm = np.moveaxis(x, axis, -1)
    batch, n_tok = xm.shape[:-1], xm.shape[-1]
    ym = np.empty(xm.shape, np.float64)
    for b in np.ndindex(*batch):
        n = {}
        if prev is not None:
            for t in np.asarray(prev)[b].tolist():
                if t != -1:
                    n[t] = n.get(t, 0) + 1
        if counts is not None:
            cm = np.moveaxis(np.asarray(counts), axis, -1)
            for t in range(n_tok):
                if cm[b + (t,)] > 0:
                    n[t] = int(cm[b + (t,)])
        r, p, f = _row_value(rep, b), _row_value(pres, b), _row_value(freq, b)
        for t in range(n_tok):
            y = float(xm[b + (t,)])
            k = n.get(t, 0)
            if k > 0:
                y = y * r if y < 0 else y / r
                y = y - (f * k + p)
            if isinstance(bias, dict):
                if t in bias:
                    y = y + float(bias[t])
            elif bias is not None:
                bb = np.asarray(bias, np.float64)
                y = y + float(bb[t] if bb.ndim == 1 else np.moveaxis(bb, axis, -1)[b + (t,)])
            ym[b + (t,)] = y
    with np.errstate(over="ignore"):
        return np.moveaxis(ym, -1, axis).astype(dtype)


def assert_same(got, want):
    """Equal dtype, shape, values and signs of zeros; NaN exactly where NaN."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan = np.isnan(w)
    np.testing.assert_array_equal(np.isnan(g), nan)
    np.testing.assert_array_equal(g[~nan], w[~nan])
    np.testing.assert_array_equal(np.signbit(g[~nan]), np.signbit(w[~nan]))


# ----------------------------------------------------------------------------- inputs


def _logits(rng, shape, dtype):
    """Positive, negative and zero logits (both signs of zero), ties."""
    x = rng.standard_normal(shape) * 3.0
    x.flat[::7] = 0.0
    x.flat[3::11] = -0.0
    x.flat[5::13] = np.round(x.flat[5::13])
    return x.astype(dtype)


def _prev(rng, rows, length, n_tok=V):
    """Token ids with repeats, padded with -1 at random places; one row all padding."""
    p = rng.integers(0, n_tok, size=rows + (length,))
    p[rng.random(p.shape) < 0.3] = -1
    if p.size:
        p.reshape(-1, length)[-1] = -1
    return p


def _counts_of(prev, shape, axis):
    """The counts array (the logits' shape) of prev_tokens (shape batch + (L,))."""
    cm = np.zeros(np.moveaxis(np.empty(shape), axis, -1).shape, np.int64)
    for b in np.ndindex(*prev.shape[:-1]):
        for t in prev[b]:
            if t >= 0:
                cm[b + (t,)] += 1
    return np.moveaxis(cm, -1, axis)


REPS = [1.0, 1.3, 0.7]
PRESENCES = [0.0, 0.5, -0.25]
FREQUENCIES = [0.0, 0.3]
BIASES = [None, "dict", "dense", "per_row"]


def _bias(kind, rng, shape, axis=-1):
    n_tok = shape[axis]
    if kind == "dict":
        toks = rng.choice(n_tok, size=6, replace=False)
        return {int(t): float(v) for t, v in zip(toks, rng.uniform(-5, 5, 6))}
    if kind == "dense":
        b = rng.uniform(-3, 3, n_tok)
        b[::3] = 0.0
        return b
    if kind == "per_row":
        return rng.uniform(-3, 3, shape)
    return None


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "rep, pres, freq, bias", list(itertools.product(REPS, PRESENCES, FREQUENCIES, BIASES))
)
def test_every_option_alone_and_combined(dtype, rep, pres, freq, bias):
    rng = np.random.default_rng(
        [REPS.index(rep), PRESENCES.index(pres), FREQUENCIES.index(freq), BIASES.index(bias)]
    )
    x = _logits(rng, (5, V), dtype)
    prev = _prev(rng, (5,), 12)
    b = _bias(bias, rng, x.shape)
    x0 = x.copy()
    got = mc.apply_penalties(
        x,
        prev,
        repetition_penalty=rep,
        presence_penalty=pres,
        frequency_penalty=freq,
        logit_bias=b,
    )
    assert_same(got, oracle(x, prev, rep=rep, pres=pres, freq=freq, bias=b))
    assert got is not x and not np.shares_memory(got, x)
    assert_same(x, x0)  # the input is never written


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", BIASES)
def test_counts_instead_of_prev_tokens(dtype, bias):
    rng = np.random.default_rng(5)
    x = _logits(rng, (4, V), dtype)
    prev = _prev(rng, (4,), 20)
    counts = _counts_of(prev, x.shape, -1)
    b = _bias(bias, rng, x.shape)
    kw = {
        "repetition_penalty": 1.25,
        "presence_penalty": 0.4,
        "frequency_penalty": 0.15,
        "logit_bias": b,
    }
    got = mc.apply_penalties(x, counts=counts, **kw)
    assert_same(got, oracle(x, counts=counts, rep=1.25, pres=0.4, freq=0.15, bias=b))
    # the same previous tokens given either way give the same logits
    assert_same(got, mc.apply_penalties(x, prev, **kw))
    # counts of an unsigned dtype, and large counts
    big = counts.astype(np.uint16) * 1000
    assert_same(
        mc.apply_penalties(x, counts=big, **kw),
        oracle(x, counts=big, rep=1.25, pres=0.4, freq=0.15, bias=b),
    )


def test_repetition_once_per_token_frequency_per_occurrence():
    """A token generated 3 times is divided by r once, and pays 3 frequency penalties."""
    x = np.array([[4.0, -4.0, 4.0, -4.0]])
    once = mc.apply_penalties(x, [[0, 1, -1, -1, -1]], repetition_penalty=2.0)
    thrice = mc.apply_penalties(x, [[0, 0, 0, 1, 1]], repetition_penalty=2.0)
    assert_same(once, thrice)
    assert_same(once, oracle(x, [[0, 1]], rep=2.0))
    f1 = mc.apply_penalties(x, [[0, -1, -1]], frequency_penalty=0.5, presence_penalty=1.0)
    f3 = mc.apply_penalties(x, [[0, 0, 0]], frequency_penalty=0.5, presence_penalty=1.0)
    assert f1[0, 0] - f3[0, 0] == 2 * 0.5  # two more occurrences, presence paid once
    assert_same(f3, oracle(x, [[0, 0, 0]], pres=1.0, freq=0.5))


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("bias", BIASES)
def test_axis_other_than_last_and_per_row_penalties(dtype, bias):
    """Logits (2, V, 3) with the vocabulary on axis 1: prev_tokens (2, 3, L), penalties one per
    row (2, 3), a per-row bias of the logits' shape; the same as the class-last layout."""
    rng = np.random.default_rng(11)
    x = _logits(rng, (2, V, 3), dtype)
    prev = _prev(rng, (2, 3), 9)
    rep = rng.uniform(0.5, 2.0, (2, 3))
    pres = rng.uniform(-1, 1, (2, 3))
    freq = rng.uniform(0, 1, (2, 3))
    b = _bias(bias, rng, x.shape, axis=1)
    got = mc.apply_penalties(
        x,
        prev,
        repetition_penalty=rep,
        presence_penalty=pres,
        frequency_penalty=freq,
        logit_bias=b,
        axis=1,
    )
    assert_same(got, oracle(x, prev, rep=rep, pres=pres, freq=freq, bias=b, axis=1))
    bl = np.moveaxis(b, 1, -1) if isinstance(b, np.ndarray) and b.ndim == 3 else b
    last = mc.apply_penalties(
        np.moveaxis(x, 1, -1),
        prev,
        repetition_penalty=rep,
        presence_penalty=pres,
        frequency_penalty=freq,
        logit_bias=bl,
    )
    assert_same(np.moveaxis(got, 1, -1), last)
    counts = _counts_of(prev, x.shape, 1)
    assert_same(
        mc.apply_penalties(
            x,
            counts=counts,
            repetition_penalty=rep,
            presence_penalty=pres,
            frequency_penalty=freq,
            logit_bias=b,
            axis=-2,
        ),
        got,
    )


def test_one_row_and_one_dimensional_inputs():
    rng = np.random.default_rng(2)
    x = _logits(rng, (V,), F32)
    prev = [3, 3, 7, -1, 0]
    got = mc.apply_penalties(x, prev, repetition_penalty=1.5, presence_penalty=0.2)
    assert_same(got, oracle(x, np.array(prev), rep=1.5, pres=0.2))
    # a list of logits and a list of tokens; integer logits give float64
    xi = [3, -2, 0, 5]
    got = mc.apply_penalties(xi, [0, 1, 1], frequency_penalty=0.5, logit_bias=[1, 0, 0, -1])
    assert_same(got, oracle(np.array(xi), [0, 1, 1], freq=0.5, bias=[1, 0, 0, -1]))


def test_empty_histories_and_no_options():
    rng = np.random.default_rng(3)
    x = _logits(rng, (3, V), F32)
    for prev in (np.empty((3, 0), np.int64), np.full((3, 4), -1), [[], [], []]):
        got = mc.apply_penalties(x, prev, repetition_penalty=2.0, presence_penalty=1.0)
        assert_same(got, x)
        assert not np.shares_memory(got, x)
    assert_same(mc.apply_penalties(x), x)  # nothing to do: a copy
    assert_same(mc.apply_penalties(x, [[1], [2], [3]]), x)  # neutral penalties
    assert_same(mc.apply_penalties(x, logit_bias={}), x)
    # no rows at all, and a vocabulary of one token
    e = np.empty((0, V), np.float32)
    got = mc.apply_penalties(
        e, np.empty((0, 3), np.int64), repetition_penalty=2.0, logit_bias={1: 1.0}
    )
    assert got.shape == (0, V) and got.dtype == F32
    one = np.array([[2.0], [-2.0]])
    assert_same(
        mc.apply_penalties(one, [[0], [0]], repetition_penalty=2.0, logit_bias=[0.5]),
        oracle(one, [[0], [0]], rep=2.0, bias=[0.5]),
    )


# ----------------------------------------------------------------------------- out=


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", BIASES)
def test_out_is_logits_in_place(dtype, bias):
    rng = np.random.default_rng(7)
    x = _logits(rng, (4, V), dtype)
    prev = _prev(rng, (4,), 10)
    b = _bias(bias, rng, x.shape)
    want = oracle(x, prev, rep=1.2, pres=0.3, freq=0.1, bias=b)
    before = x.copy()
    got = mc.apply_penalties(
        x,
        prev,
        repetition_penalty=1.2,
        presence_penalty=0.3,
        frequency_penalty=0.1,
        logit_bias=b,
        out=x,
    )
    assert got is x
    assert_same(x, want)
    if bias in (None, "dict"):  # only the penalised and biased elements were written
        touched = np.zeros(x.shape, bool)
        for i, row in enumerate(prev):
            touched[i, row[row >= 0]] = True
        if bias == "dict":
            touched[:, list(b)] = True
        np.testing.assert_array_equal(
            x.view(np.uint8).reshape(4, V, -1)[~touched],
            before.view(np.uint8).reshape(4, V, -1)[~touched],
        )


@pytest.mark.parametrize("bias", BIASES)
def test_out_of_another_array_and_dtype(bias):
    """out= another array: the logits are never written; float64 logits into float32 out are
    rounded once (from the float64 result, not from a float32 copy of the logits)."""
    rng = np.random.default_rng(8)
    x = _logits(rng, (3, V), F64)
    x.flags.writeable = False  # any write would raise
    prev = _prev(rng, (3,), 8)
    b = _bias(bias, rng, x.shape)
    for dt in (F64, F32, F16):
        out = np.full(x.shape, 123.0, dt)
        got = mc.apply_penalties(
            x, prev, repetition_penalty=1.7, frequency_penalty=0.3, logit_bias=b, out=out
        )
        assert got is out
        assert_same(out, oracle(x, prev, rep=1.7, freq=0.3, bias=b, dtype=dt))
    # a non-contiguous out, the vocabulary on axis 0
    xt = np.ascontiguousarray(x.T)
    out = np.zeros((V, 6))[:, ::2]
    bt = b.T if isinstance(b, np.ndarray) and b.ndim == 2 else b
    mc.apply_penalties(xt, prev, repetition_penalty=1.7, logit_bias=bt, axis=0, out=out)
    assert_same(out, oracle(xt, prev, rep=1.7, bias=bt, axis=0))


def test_read_only_logits_without_out():
    rng = np.random.default_rng(9)
    x = _logits(rng, (3, V), F32)
    x.flags.writeable = False
    prev = _prev(rng, (3,), 5)
    for b in (None, {1: 2.0}, np.ones(V)):
        got = mc.apply_penalties(
            x, prev, repetition_penalty=1.1, presence_penalty=0.5, logit_bias=b
        )
        assert got.flags.writeable
        assert_same(got, oracle(x, prev, rep=1.1, pres=0.5, bias=b))


# ----------------------------------------------------------------------------- special values


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", BIASES)
def test_nan_and_inf_stay_in_their_element(dtype, bias):
    rng = np.random.default_rng(13)
    x = _logits(rng, (3, V), F64)
    prev = np.array([[0, 1, 2, 3, 4, -1], [5, 6, 6, -1, -1, -1], [0, 0, 0, 0, 0, 0]])
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    x[0, :5] = specials  # penalised
    x[1, 10:15] = specials  # not penalised
    x[2, 0] = np.nan
    x = x.astype(dtype)
    b = _bias(bias, rng, x.shape)
    kw = {
        "repetition_penalty": 1.3,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.2,
        "logit_bias": b,
    }
    got = mc.apply_penalties(x, prev, **kw)
    assert_same(got, oracle(x, prev, rep=1.3, pres=0.5, freq=0.2, bias=b))
    # every other element is what it is with finite logits in those places
    clean = x.copy()
    special = ~np.isfinite(x.astype(np.float64))
    clean[special] = 1.0
    ref = mc.apply_penalties(clean, prev, **kw)
    assert_same(got[~special], ref[~special])
    assert np.isnan(got[0, 0].astype(np.float64)) and np.isnan(got[2, 0].astype(np.float64))


def test_overflow_rounds_to_inf_without_a_warning():
    """float16 65504 / 0.5 and -65504 * 2 are beyond float16: +-inf (IEEE rounding), and no
    warning (pytest runs with filterwarnings=error)."""
    x = np.array([[65504.0, -65504.0, 1.0]], np.float16)
    up = mc.apply_penalties(x, [[0, 1]], repetition_penalty=0.5)
    assert_same(up, oracle(x, [[0, 1]], rep=0.5))
    down = mc.apply_penalties(x, [[0, 1]], repetition_penalty=2.0)
    assert_same(down, oracle(x, [[0, 1]], rep=2.0))
    assert np.isposinf(up[0, 0]) and np.isneginf(down[0, 1])
    # no floating-point error even under the caller's errstate(all="raise"): overflow, and
    # underflow to a subnormal or zero, are the IEEE results of the definitions
    tiny = np.array([[-1e-320, 5e-324, 1e308, -1e308]])
    with np.errstate(all="raise"):
        got = mc.apply_penalties(tiny, [[0, 1, 2, 3]], repetition_penalty=0.3, logit_bias={1: 0.0})
        got16 = mc.apply_penalties(x, [[0, 1]], repetition_penalty=0.5, out=x.copy())
    assert_same(got, oracle(tiny, [[0, 1, 2, 3]], rep=0.3, bias={1: 0.0}))
    assert_same(got16, up)
    y = np.array([1e308, -1e308])
    got = mc.apply_penalties(y, [0, 1], repetition_penalty=1e-10, logit_bias=[1e308, -1e308])
    assert_same(got, oracle(y, [0, 1], rep=1e-10, bias=[1e308, -1e308]))


# ----------------------------------------------------------------------------- errors

X = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
P = np.array([[1, 2, -1], [3, 3, 3]])

ERRORS = [
    # token ids
    (
        {"prev_tokens": [[1, 8, -1], [0, 0, 0]]},
        IndexError,
        r"prev_tokens: token id 8 at \(0, 1\) is outside \[0, 8\)",
    ),
    (
        {"prev_tokens": [[1, 2, -1], [0, -2, 0]]},
        IndexError,
        r"prev_tokens: token id -2 at \(1, 1\)",
    ),
    (
        {"prev_tokens": [[1, 2], [0, 2**40]]},
        IndexError,
        r"prev_tokens: token id 1099511627776 at \(1, 1\)",
    ),
    ({"logit_bias": {8: 1.0}}, IndexError, r"logit_bias: token id 8 is outside \[0, 8\)"),
    ({"logit_bias": {-1: 1.0}}, IndexError, r"logit_bias: token id -1 is outside \[0, 8\)"),
    ({"logit_bias": {"5": 1.0}}, TypeError, r"logit_bias: key '5' is not a token id .*int\(\)"),
    ({"logit_bias": {1.0: 1.0}}, TypeError, r"logit_bias: key 1.0 is not a token id"),
    ({"logit_bias": {True: 1.0}}, TypeError, r"logit_bias: key True is not a token id"),
    # penalties
    (
        {"prev_tokens": P, "repetition_penalty": 0.0},
        ValueError,
        r"repetition_penalty: must be a positive finite number, got 0.0",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": -1.2},
        ValueError,
        r"repetition_penalty: .* got -1.2",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": np.nan},
        ValueError,
        r"repetition_penalty: .* got nan",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": np.inf},
        ValueError,
        r"repetition_penalty: .* got inf",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": [1.0, 0.0]},
        ValueError,
        r"repetition_penalty: must be positive and finite; row \(1,\) has 0.0",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": [1.0, 1.0, 1.0]},
        ValueError,
        r"repetition_penalty: shape \(3,\) is neither a scalar nor one value per row .*\(2,\)",
    ),
    (
        {"prev_tokens": P, "repetition_penalty": "1.2"},
        TypeError,
        r"repetition_penalty: expected a positive real number",
    ),
    ({"prev_tokens": P, "repetition_penalty": True}, TypeError, r"repetition_penalty: expected"),
    (
        {"prev_tokens": P, "presence_penalty": np.inf},
        ValueError,
        r"presence_penalty: must be a finite number, got inf",
    ),
    (
        {"prev_tokens": P, "presence_penalty": [0.0, np.nan]},
        ValueError,
        r"presence_penalty: must be finite; row \(1,\) has nan",
    ),
    (
        {"prev_tokens": P, "frequency_penalty": -np.inf},
        ValueError,
        r"frequency_penalty: must be a finite number, got -inf",
    ),
    ({"prev_tokens": P, "frequency_penalty": None}, TypeError, r"frequency_penalty: "),
    # biases
    (
        {"logit_bias": {2: np.inf}},
        ValueError,
        r"logit_bias: the bias of token 2 must be finite, got inf",
    ),
    (
        {"logit_bias": {2: np.nan}},
        ValueError,
        r"logit_bias: the bias of token 2 must be finite, got nan",
    ),
    ({"logit_bias": {2: "x"}}, TypeError, r"logit_bias: the bias of token 2 is not a real number"),
    (
        {"logit_bias": np.r_[np.zeros(3), -np.inf, np.zeros(4)]},
        ValueError,
        r"logit_bias: must be finite; \(3,\) has -inf",
    ),
    (
        {"logit_bias": np.where(np.arange(16).reshape(2, 8) == 9, np.nan, 0.0)},
        ValueError,
        r"logit_bias: must be finite; \(1, 1\) has nan",
    ),
    ({"logit_bias": np.zeros(7)}, ValueError, r"logit_bias: shape \(7,\) is neither \(8,\)"),
    ({"logit_bias": np.zeros((1, 8))}, ValueError, r"logit_bias: shape \(1, 8\) is neither"),
    ({"logit_bias": np.ones(8, bool)}, TypeError, r"logit_bias: a bool array"),
    ({"logit_bias": np.zeros(8, complex)}, TypeError, r"logit_bias: complex"),
    # histories
    (
        {"prev_tokens": [[1.0, 2.0], [0.0, 1.0]]},
        TypeError,
        r"prev_tokens: expected an integer array .* got dtype float64",
    ),
    (
        {"prev_tokens": np.ones((2, 3), bool)},
        TypeError,
        r"prev_tokens: expected an integer array .* bool",
    ),
    (
        {"prev_tokens": [1, 2, 3]},
        ValueError,
        r"prev_tokens: shape \(3,\) does not fit logits of shape \(2, 8\)",
    ),
    (
        {"prev_tokens": np.zeros((3, 2), int)},
        ValueError,
        r"prev_tokens: shape \(3, 2\) does not fit",
    ),
    (
        {"prev_tokens": [[1, 2], [3]]},
        ValueError,
        r"prev_tokens: .*pad the rows to one length with -1",
    ),
    (
        {"prev_tokens": P, "counts": np.zeros((2, 8), int)},
        TypeError,
        r"prev_tokens, counts: give the previous tokens or their counts, not both",
    ),
    ({"counts": np.full((2, 8), -1)}, ValueError, r"counts: must be >= 0; \(0, 0\) has -1"),
    ({"counts": np.zeros((2, 8))}, TypeError, r"counts: expected an integer array .* float64"),
    ({"counts": np.zeros((2, 8), bool)}, TypeError, r"counts: .*astype\(int\)"),
    (
        {"counts": np.zeros((2, 7), int)},
        ValueError,
        r"counts: shape \(2, 7\) does not match the logits' shape \(2, 8\)",
    ),
    (
        {"repetition_penalty": 1.2},
        ValueError,
        r"repetition_penalty: needs the previous tokens \(prev_tokens\) or their counts",
    ),
    (
        {"presence_penalty": 0.5, "frequency_penalty": 0.1},
        ValueError,
        r"presence_penalty, frequency_penalty: needs",
    ),
    # out, axis, logits
    ({"out": np.zeros((2, 8), np.int32)}, TypeError, r"out: dtype int32 cannot hold the result"),
    ({"out": np.zeros((8, 2), np.float32)}, ValueError, r"out: shape \(8, 2\) does not match"),
    ({"axis": 2}, np.exceptions.AxisError, r"axis 2 is out of bounds"),
    ({"axis": 1.0}, TypeError, r"axis: expected an integer"),
    ({"dim": 1}, TypeError, r"dim: .*use axis="),
]


@pytest.mark.parametrize("kw, exc, match", ERRORS)
def test_errors_name_the_argument_and_value(kw, exc, match):
    x = X.copy()
    with pytest.raises(exc, match=match):
        mc.apply_penalties(x, **kw)
    assert_same(x, X)
    # the same with out=logits: an error leaves the logits as they were
    if "out" not in kw:
        with pytest.raises(exc, match=match):
            mc.apply_penalties(x, **kw, out=x)
        assert_same(x, X)


def test_bad_logits_and_out():
    with pytest.raises(ValueError, match=r"logits: need at least one dimension"):
        mc.apply_penalties(1.0)
    with pytest.raises(TypeError, match=r"logits: complex"):
        mc.apply_penalties(np.zeros(4, complex))
    with pytest.raises(TypeError, match=r"logits: masked arrays"):
        mc.apply_penalties(np.ma.masked_array(np.zeros(4)))
    x = X.copy()
    x.flags.writeable = False
    with pytest.raises(ValueError, match=r"out: array is read-only"):
        mc.apply_penalties(x, P, repetition_penalty=1.2, out=x)
    with pytest.raises(TypeError, match=r"out: expected a numpy.ndarray, got list"):
        mc.apply_penalties(X, out=[[0.0] * 8] * 2)
