"""Multi-threading (cpp/bindings/parallel.hpp, python/logitkit/_threads.py): large calls split
across threads give bit-identical results for every thread count and every ISA; the thread count
is validated, read from LOGITKIT_NUM_THREADS, and survives fork()."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading

import logitkit as lk
import numpy as np
import pytest
import registry
from logitkit import _core


@pytest.fixture
def restore_threads():
    n = lk.get_num_threads()
    yield
    lk.set_num_threads(n)


def _calls(dtype, inputs=None):
    """One large call of every threaded loop kind (rows × length well above the split grain), and
    every public function of tests/registry.py.
    inputs: a list that receives every array the calls read."""
    rng = np.random.default_rng(7)
    x = (rng.normal(0, 4, (300, 1001))).astype(dtype)
    x[5, 17] = np.nan  # special rows stay special, whichever thread takes them
    x[9] = -np.inf
    s = rng.normal(0, 30, 200_003).astype(dtype)
    t = rng.integers(0, 1001, 300)
    y = rng.dirichlet(np.ones(1001), 300).astype(dtype)
    mask = rng.random((300, 1001)) < 0.9
    yb = (rng.random(s.shape) < 0.3).astype(dtype)
    pw = np.asarray(2.0, dtype)
    if inputs is not None:
        inputs += [x, s, t, y, mask, yb, pw]
    calls = {
        "softmax": lambda: lk.softmax(x),
        "log_softmax": lambda: lk.log_softmax(x),
        "logsumexp": lambda: lk.logsumexp(x),
        "softmax where+T": lambda: lk.softmax(x, where=mask, temperature=0.7),
        "logsumexp where+T": lambda: lk.logsumexp(x, where=mask, temperature=1.3),
        "log_softmax axis 0 (strided)": lambda: lk.log_softmax(x, axis=0),
        "sigmoid": lambda: lk.sigmoid(s),
        "sigmoid strided": lambda: lk.sigmoid(s[::3]),
        "log_sigmoid": lambda: lk.log_sigmoid(s),
        "softplus": lambda: lk.softplus(s),
        "sigmoid_backward": lambda: lk.sigmoid_backward(s, lk.sigmoid(s)),
        "softmax_backward": lambda: lk.softmax_backward(x, lk.softmax(x)),
        "ce hard + grad": lambda: lk.cross_entropy_with_grad(x, t, label_smoothing=0.1),
        "ce soft + grad": lambda: lk.cross_entropy_with_grad(
            x, y, reduction="none", validate=False
        ),
        "bce + grad": lambda: lk.binary_cross_entropy_with_logits_with_grad(s, yb, pos_weight=pw),
    }
    # every public function of the registry on its example, at a size that is split into parts
    for name in registry.names():
        fn = registry.BY_NAME[name]
        args, kw = fn.example(np.dtype(dtype), rng, (300, 1001))
        if inputs is not None:
            inputs += [a for a in args if isinstance(a, np.ndarray)]
        calls[f"{name} (registry example)"] = lambda fn=fn, args=args, kw=kw: fn.call(*args, **kw)
    return calls


def _equal(a, b):
    if isinstance(a, tuple):
        return all(_equal(u, v) for u, v in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bit_identical_across_thread_counts(isa, dtype, restore_threads):
    calls = _calls(dtype)
    lk.set_num_threads(1)
    with np.errstate(all="raise"):
        single = {name: f() for name, f in calls.items()}
        for n in (2, 3, 8):
            lk.set_num_threads(n)
            for name, f in calls.items():
                assert _equal(f(), single[name]), f"{name} differs with {n} threads on {isa}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_inputs_are_never_written(dtype, restore_threads):
    """Every loop kind, split or not: the inputs keep their bytes; read-only inputs are accepted."""
    inputs = []
    calls = _calls(dtype, inputs)
    before = [a.tobytes() for a in inputs]
    for a in inputs:
        a.flags.writeable = False
    for n in (1, 2):
        lk.set_num_threads(n)
        for name, f in calls.items():
            f()
            for a, b in zip(inputs, before, strict=True):
                assert a.tobytes() == b, f"{name} wrote to an input with {n} threads"


def test_set_num_threads_validates(restore_threads):
    lk.set_num_threads(3)
    assert lk.get_num_threads() == 3
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        lk.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an integer, got float"):
        lk.set_num_threads(2.5)
    assert lk.get_num_threads() == 3


def test_default_is_the_usable_cpus():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = {k: v for k, v in os.environ.items() if k != "LOGITKIT_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", "import logitkit; print(logitkit.get_num_threads())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout) == expected


def _cap():
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(8, 4 * cpus)


@pytest.mark.parametrize("flag", [True, False, np.True_, np.bool_(False)], ids=repr)
def test_set_num_threads_rejects_bools(flag, restore_threads):
    lk.set_num_threads(3)
    with pytest.raises(TypeError, match="n must be an integer, got (bool|numpy.bool)"):
        lk.set_num_threads(flag)
    assert lk.get_num_threads() == 3


def test_set_num_threads_takes_integer_types(restore_threads):
    for n in (np.int64(2), np.uint8(3), 4):
        lk.set_num_threads(n)
        assert lk.get_num_threads() == int(n)


def test_set_num_threads_clamps_to_the_cap(restore_threads):
    """Above max(8, 4 x usable CPUs) the count is clamped (get_num_threads reports the cap);
    huge values, too large for a C int, are clamped the same way."""
    cap = _cap()
    assert _core.max_num_threads() == cap
    for n in (cap, cap + 1, 512 + cap, 2**31, 10**30):
        lk.set_num_threads(n)
        assert lk.get_num_threads() == cap
    lk.set_num_threads(cap - 1)
    assert lk.get_num_threads() == cap - 1


ENV_VALUES = [
    ("1", 1),
    ("5", 5),
    (" 3 ", 3),
    ("+2", 2),
    ("007", 7),
    ("", None),
    ("   ", None),
    ("0", "error"),
    ("-1", "error"),
    ("two", "error"),
    ("2.0", "error"),
    ("1e3", "error"),
    ("1_0", "error"),
    ("0x4", "error"),
    ("\u0663", "error"),  # ARABIC-INDIC DIGIT THREE: int() would take it
    ("4 4", "error"),
    ("99999999999999999999999", "cap"),
]


def _expected_threads(expected):
    if expected is None:  # blank: the default
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return _cap() if expected == "cap" else expected


@pytest.mark.parametrize("value, expected", ENV_VALUES, ids=repr)
def test_environment_variable(value, expected):
    env = dict(os.environ, LOGITKIT_NUM_THREADS=value)
    out = subprocess.run(
        [sys.executable, "-c", "import logitkit; print(logitkit.get_num_threads())"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if expected == "error":
        assert out.returncode != 0
        assert f"LOGITKIT_NUM_THREADS={value!r}: expected a positive integer" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == _expected_threads(expected)


@pytest.mark.parametrize("value, expected", ENV_VALUES, ids=repr)
def test_environment_variable_read_in_this_process(value, expected, monkeypatch, restore_threads):
    """The same rule as at import, through the reader itself: a blank value keeps the count the
    process has, an invalid one raises naming the variable and leaves the count as it was."""
    from logitkit import _threads

    lk.set_num_threads(3 if expected != 3 else 2)
    before = lk.get_num_threads()
    monkeypatch.setenv("LOGITKIT_NUM_THREADS", value)
    if expected == "error":
        with pytest.raises(ValueError) as e:
            _threads._init_from_env()
        assert str(e.value) == f"LOGITKIT_NUM_THREADS={value!r}: expected a positive integer"
        assert lk.get_num_threads() == before
        return
    _threads._init_from_env()
    assert lk.get_num_threads() == (before if expected is None else _expected_threads(expected))


def _child_softmax(q):
    x = np.random.default_rng(1).normal(size=(2000, 500))
    q.put(float(lk.softmax(x).sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+: threads + fork
def test_pool_survives_fork(restore_threads):
    """The parent's pool threads do not exist in a fork()ed child: the child starts its own."""
    lk.set_num_threads(2)
    x = np.random.default_rng(1).normal(size=(2000, 500))
    expected = float(lk.softmax(x).sum())  # the parent's pool is running now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_softmax, args=(q,))
    p.start()
    p.join(60)
    assert p.exitcode == 0, "the child hung or crashed"
    assert q.get(timeout=5) == expected


_COUNT_WORKERS = """
import os, numpy as np, logitkit as lk
lk.set_num_threads(2)
before = len(os.listdir("/proc/self/task"))
x = np.random.default_rng(0).normal(0, 3, (64, 32000)).astype(np.float32)
lk.multiclass.sample(x, temperature=0.8, top_p=0.9, rng=0)  # cut into more parts than threads
lk.softmax(x)
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_a_call_cut_into_more_parts_than_threads_starts_no_extra_worker():
    """A sampling batch is cut into up to 32 parts per thread; with 2 threads the pool must still
    start one worker, not one per part (extra workers would share the cores, and busy-waiting ones
    would take them)."""
    env = {**os.environ, "LOGITKIT_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", _COUNT_WORKERS],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 1


def test_concurrent_callers_while_the_count_changes(restore_threads):
    """Python threads calling at once (each call releases the GIL; one holds the pool, the others
    run single-threaded) while another thread keeps changing the thread count: every result is
    bit-identical to a single-threaded call."""
    calls = _calls(np.float64)
    lk.set_num_threads(1)
    single = {name: f() for name, f in calls.items()}
    stop = threading.Event()
    errors = []

    def changer():
        n = 1
        while not stop.is_set():
            n = n % 8 + 1
            lk.set_num_threads(n)

    def caller(offset):
        try:
            names = list(calls)
            for i in range(2 * len(names)):
                name = names[(i + offset) % len(names)]
                if not _equal(calls[name](), single[name]):
                    errors.append(name)
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    ch = threading.Thread(target=changer)
    ch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    ch.join(10)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    assert errors == []


def _child_after_busy_fork(q):
    x = np.random.default_rng(1).normal(size=(2000, 500))
    q.put(float(lk.softmax(x).sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+: threads + fork
def test_fork_while_another_thread_holds_the_pool(restore_threads):
    """fork() while another thread is inside a split call (the pool's locks held, its workers
    busy): the child has a fresh pool and its own large call completes."""
    lk.set_num_threads(2)
    x = np.random.default_rng(1).normal(size=(2000, 500))
    expected = float(lk.softmax(x).sum())
    big = np.random.default_rng(2).normal(size=(4000, 2000))
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            lk.log_softmax(big)

    t = threading.Thread(target=busy)
    t.start()
    try:
        ctx = mp.get_context("fork")
        for _ in range(5):
            q = ctx.Queue()
            p = ctx.Process(target=_child_after_busy_fork, args=(q,))
            p.start()
            p.join(60)
            if p.is_alive():
                p.kill()
            assert p.exitcode == 0, "the child hung or crashed"
            assert q.get(timeout=5) == expected
    finally:
        stop.set()
        t.join(60)
