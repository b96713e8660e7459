"""Fault injection (cpp/bindings/parallel.cpp, ufunc_util.hpp's safe_loop; docs/reliability.md).

A C++ exception must never reach NumPy's C code or leave a worker thread (either is
std::terminate: the process aborts). Allocation failures raise MemoryError, a refused worker
thread is not an error (the call runs on the threads that exist), and the process stays usable.

Two kinds of fault:
- injected in this process with the test hook logitkit._core._inject_fault, on every loop kind,
  on the calling thread and on a pool worker;
- real ones in a child process under RLIMIT_AS (Linux), where the scratch copy of a broadcast row
  or a worker's stack cannot be mapped.

Also: scratch buffers above the keep size are freed after the call (RSS), and the thread count is
capped (OS threads counted in /proc/self/task).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import logitkit as lk
import numpy as np
import oracle
import pytest
from budgets import assert_within_budget
from logitkit import _core

LINUX = sys.platform.startswith("linux")
linux_only = pytest.mark.skipif(
    not LINUX, reason="needs Linux: RLIMIT_AS and /proc/self (status, statm, task)"
)


@pytest.fixture
def restore_threads():
    n = lk.get_num_threads()
    yield
    lk.set_num_threads(n)


@pytest.fixture
def disarm():
    """No armed fault outlives a test."""
    yield
    for kind in ("alloc", "part", "worker", "thread"):
        _core._inject_fault(kind, 0)


# ----------------------------------------------------------------------------- calls

_rng = np.random.default_rng(11)
X = _rng.normal(0, 3, (300, 1001))  # 300 rows of 1001: split into parts on 2 threads
S = _rng.normal(0, 8, 200_003)
T = _rng.integers(0, 1001, 300)
Y = _rng.dirichlet(np.ones(1001), 300)
M = _rng.random(X.shape) < 0.9
YB = (_rng.random(S.shape) < 0.3).astype(np.float64)
G = _rng.normal(size=X.shape)
SIG = 1.0 / (1.0 + np.exp(-S))  # an input (values in (0, 1)), not a reference


def _calls(dtype):
    """name -> (call, oracle, budget) of every loop kind the bindings have; each call large enough
    to split. The oracle is tests/oracle.py's, in the wider type; the budget README.md's row."""
    x, s, y, g, yb, sig = (a.astype(dtype) for a in (X, S, Y, G, YB, SIG))
    xs = np.ascontiguousarray(x.T)  # class axis 0: strided rows
    return {
        "softmax": (lambda: lk.softmax(x), lambda: oracle.softmax(x), "softmax"),
        "log_softmax": (lambda: lk.log_softmax(x), lambda: oracle.log_softmax(x), "log_softmax"),
        "logsumexp": (lambda: lk.logsumexp(x), lambda: oracle.logsumexp(x), "logsumexp"),
        "softmax axis 0": (
            lambda: lk.softmax(xs, axis=0),
            lambda: oracle.softmax(xs, axis=0),
            "softmax",
        ),
        "logsumexp axis 0": (
            lambda: lk.logsumexp(xs, axis=0),
            lambda: oracle.logsumexp(xs, axis=0),
            "logsumexp",
        ),
        "softmax where T": (
            lambda: lk.softmax(x, where=M, temperature=0.5),
            lambda: oracle.softmax(x, where=M, temperature=0.5),
            "softmax",
        ),
        "logsumexp where T": (
            lambda: lk.logsumexp(x, where=M, temperature=0.5),
            lambda: oracle.logsumexp(x, where=M, temperature=0.5),
            "logsumexp",
        ),
        "sigmoid": (lambda: lk.sigmoid(s), lambda: oracle.sigmoid(s), "sigmoid"),
        "sigmoid strided": (
            lambda: lk.sigmoid(s[::2]),
            lambda: oracle.sigmoid(s[::2]),
            "sigmoid",
        ),
        "softplus": (lambda: lk.softplus(s), lambda: oracle.softplus(s), "softplus"),
        "log_sigmoid": (lambda: lk.log_sigmoid(s), lambda: oracle.log_sigmoid(s), "log_sigmoid"),
        "sigmoid_backward": (
            lambda: lk.sigmoid_backward(s, sig),
            lambda: oracle.sigmoid_backward(s, sig),
            "gradient",
        ),
        "softmax_backward": (
            lambda: lk.softmax_backward(g, y),
            lambda: oracle.softmax_backward(g, y),
            "gradient",
        ),
        "cross_entropy hard": (
            lambda: lk.cross_entropy(x, T, reduction="none"),
            lambda: oracle.cross_entropy(x, T, reduction="none"),
            "cross_entropy",
        ),
        "cross_entropy soft": (
            lambda: lk.cross_entropy(x, y, reduction="none"),
            lambda: oracle.cross_entropy(x, y, reduction="none"),
            "cross_entropy",
        ),
        "bce none": (
            lambda: lk.binary_cross_entropy_with_logits(s, yb, reduction="none"),
            lambda: oracle.bce_with_logits(s, yb, reduction="none"),
            "bce",
        ),
        "bce sum": (
            lambda: lk.binary_cross_entropy_with_logits(s, yb, reduction="sum"),
            lambda: oracle.bce_with_logits(s, yb, reduction="sum"),
            "reduced",
        ),
    }


CALL_NAMES = list(_calls(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "kind, threads",
    [("part", 1), ("part", 2), ("worker", 2)],
    ids=["caller-1-thread", "first-part-2-threads", "worker-2-threads"],
)
@pytest.mark.parametrize("name", CALL_NAMES)
def test_injected_failure_raises_memoryerror_and_recovers(
    name, kind, threads, dtype, restore_threads, disarm
):
    """A part that throws std::bad_alloc (on the caller, or on a pool worker) makes the call raise
    MemoryError; the next call is correct and bit-identical to a call made before the fault."""
    call, exact, budget = _calls(dtype)[name]
    lk.set_num_threads(threads)
    before = call()
    _core._inject_fault(kind, 1)
    with pytest.raises(MemoryError, match="^logitkit: out of memory$|^std::bad_alloc$"):
        call()
    _core._inject_fault(kind, 0)
    after = call()
    np.testing.assert_array_equal(after, before, err_msg=name)
    assert_within_budget(after, exact(), budget=budget, what=name)


# Rows longer than the kept scratch (1 MiB): every call allocates afresh, so "alloc" fires in it.
_LONG = _rng.normal(0, 3, (2, 2 * 2**19))  # strided view: 2 rows of 2**19 (float32: 2 MiB)


def _alloc_calls():
    """name -> (call, oracle, budget), as _calls."""
    x = _LONG[:, ::2]
    mask = np.ones(x.shape, bool)
    mask[:, 7] = False
    half = x.astype(np.float16)
    t = np.array([3, 5])
    return {
        "logsumexp strided": (lambda: lk.logsumexp(x), lambda: oracle.logsumexp(x), "logsumexp"),
        "softmax strided": (lambda: lk.softmax(x), lambda: oracle.softmax(x), "softmax"),
        # float16 results are the float32 result rounded once (README.md): those bits exactly
        "log_softmax float16": (
            lambda: lk.log_softmax(half),
            lambda: lk.log_softmax(half.astype(np.float32)).astype(np.float16),
            None,
        ),
        "softmax masked": (
            lambda: lk.softmax(x, where=mask),
            lambda: oracle.softmax(x, where=mask),
            "softmax",
        ),
        "logsumexp masked": (
            lambda: lk.logsumexp(x, where=mask),
            lambda: oracle.logsumexp(x, where=mask),
            "logsumexp",
        ),
        "softmax_backward strided": (
            lambda: lk.softmax_backward(x, x),
            lambda: oracle.softmax_backward(x, x),
            "gradient",
        ),
        "cross_entropy strided": (
            lambda: lk.cross_entropy(x, t, reduction="none"),
            lambda: oracle.cross_entropy(x, t, reduction="none"),
            "cross_entropy",
        ),
    }


@pytest.mark.parametrize("threads, countdown", [(1, 1), (2, 1), (2, 2)])
@pytest.mark.parametrize("name", list(_alloc_calls()))
def test_scratch_allocation_failure_raises_memoryerror(
    name, threads, countdown, restore_threads, disarm
):
    """The countdown-th scratch allocation fails: MemoryError naming the size, on whichever thread
    needed it; the process is usable afterwards."""
    call, exact, budget = _alloc_calls()[name]
    lk.set_num_threads(threads)
    _core._inject_fault("alloc", countdown)
    with pytest.raises(
        MemoryError, match=r"^logitkit: cannot allocate \d+ bytes of scratch memory"
    ):
        call()
    got = call()
    if budget is None:
        np.testing.assert_array_equal(got, exact(), err_msg=name)
    else:
        assert_within_budget(got, exact(), budget=budget, what=name)


@pytest.mark.parametrize("threads", [2, 8])
def test_refused_workers_give_the_same_bits(threads, restore_threads, disarm):
    """Every worker creation refused: the parts run on the threads that exist (here: those
    created before, or none), with the same bits as one thread."""
    calls = _calls(np.float64)
    lk.set_num_threads(1)
    single = {name: call() for name, (call, _, _) in calls.items()}
    lk.set_num_threads(threads)
    _core._inject_fault("thread", 10**6)
    for name, (call, _, _) in calls.items():
        np.testing.assert_array_equal(call(), single[name], err_msg=name)


def test_inject_fault_validates(disarm):
    with pytest.raises(ValueError, match="kind must be 'alloc', 'part', 'thread' or 'worker'"):
        _core._inject_fault("disk", 1)


# ----------------------------------------------------------------------------- child processes

PRELUDE = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    import logitkit as lk

    def vmsize():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    HARD = resource.getrlimit(resource.RLIMIT_AS)[1]

    def limit_address_space(headroom):
        resource.setrlimit(resource.RLIMIT_AS, (vmsize() + headroom, HARD))

    def unlimit():
        resource.setrlimit(resource.RLIMIT_AS, (HARD, HARD))

    def tasks():
        return len(os.listdir("/proc/self/task"))

    def report(**kw):
        print("RESULT " + json.dumps(kw), flush=True)
    """
)


def _child(body: str) -> dict:
    """Runs PRELUDE + body in a fresh interpreter; it must exit 0 (an abort is -6) and report."""
    env = {k: v for k, v in os.environ.items() if k != "LOGITKIT_NUM_THREADS"}
    p = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert p.returncode == 0, (
        f"child exited with {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    )
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, p.stdout + p.stderr
    return json.loads(lines[0][len("RESULT ") :])


# Broadcast rows of 2**24 (stride 0: no memory behind them) need a contiguous scratch copy of
# 64 MiB (float32) or 128 MiB (float64) per row; the child allows 48 MiB more than it has mapped
# (room for the Python layer's checks of a row, e.g. a boolean array of 2 rows of soft targets).
# Outputs are preallocated (mapped, never touched before the call). Each case: setup, call, the
# exact (min, max) of the result (evaluated in long double), its budget.
_N = 2**24
_RLIMIT_CASES = {
    "logsumexp": (
        "x = np.broadcast_to(np.float64(0.5), (R, N)); out = np.empty(R)",
        "lk.logsumexp(x, out=out)",
        "np.log(N) + 0.5",
        "logsumexp",
    ),
    "softmax": (
        "x = np.broadcast_to(np.float32(2), (R, N)); out = np.empty((R, N), np.float32)",
        "lk.softmax(x, out=out)",
        "1.0 / N",
        "softmax",
    ),
    "log_softmax": (
        "x = np.broadcast_to(np.float32(2), (R, N)); out = np.empty((R, N), np.float32)",
        "lk.log_softmax(x, out=out)",
        "-np.log(N)",
        "log_softmax",
    ),
    "softmax where": (
        (
            "x = np.broadcast_to(np.float32(5), (R, N)); out = np.empty((R, N), np.float32); "
            "m = np.ones(N, bool); m[::2] = False; m = np.broadcast_to(m, (R, N))"
        ),
        "lk.softmax(x, where=m, out=out)",
        "(0.0, 2.0 / N)",
        "softmax",
    ),
    "logsumexp where T": (
        (
            "x = np.broadcast_to(np.float64(3), (R, N)); out = np.empty(R); m = np.ones(N, bool); "
            "m[: N // 2] = False; m = np.broadcast_to(m, (R, N))"
        ),
        "lk.logsumexp(x, where=m, temperature=2.0, out=out)",
        "1.5 + np.log(N // 2)",
        "logsumexp",
    ),
    "softmax_backward": (
        (
            "g = np.broadcast_to(np.float32(1), (R, N)); out = np.empty((R, N), np.float32); "
            "y = np.broadcast_to(np.float32(0.25), (R, N))"
        ),
        "lk.softmax_backward(g, y, out=out)",
        "0.25 * (1 - 0.25 * N)",
        "gradient",
    ),
    "cross_entropy hard": (
        "x = np.broadcast_to(np.float64(1), (R, N)); t = np.zeros(R, np.int64)",
        "lk.cross_entropy(x, t, reduction='none')",
        "np.log(N)",
        "cross_entropy",
    ),
    "cross_entropy soft": (
        "x = np.broadcast_to(np.float32(1), (R, N)); y = np.broadcast_to(np.float32(1 / N), (R, N))",
        "lk.cross_entropy(x, y, reduction='none')",
        "np.log(N)",
        "cross_entropy",
    ),
}


@linux_only
@pytest.mark.parametrize("rows, threads", [(1, 1), (2, 2)], ids=["1-thread", "2-threads"])
@pytest.mark.parametrize("name", list(_RLIMIT_CASES))
def test_address_space_limit_raises_memoryerror(name, rows, threads):
    """Under RLIMIT_AS the scratch copy cannot be allocated: MemoryError (on any thread), not an
    abort; a small call under the limit works, and the same call works once the limit is lifted."""
    setup, call, expected, budget = _RLIMIT_CASES[name]
    r = _child(
        f"""
        N, R = {_N}, {rows}
        lk.set_num_threads({threads})
        {setup}
        small = np.random.default_rng(3).normal(size=(5, 40))
        limit_address_space(48 << 20)
        try:
            {call}
            error = None
        except MemoryError as e:
            error = str(e)
        small_lse = lk.logsumexp(small).tolist()
        unlimit()
        got = np.asarray({call})
        report(
            error=error, small_lse=small_lse, dtype=got.dtype.name,
            lo=float(got.min()), hi=float(got.max()),
        )
        """
    )
    assert r["error"] is not None, "no MemoryError under the limit (the test did not bite)"
    assert r["error"].startswith("logitkit: cannot allocate"), r["error"]
    small = np.random.default_rng(3).normal(size=(5, 40))  # the child's small call
    assert_within_budget(np.array(r["small_lse"]), oracle.logsumexp(small), budget="logsumexp")
    # (min, max) of the result, exact in long double; float32 results travel exactly as float64
    expected = np.broadcast_to(eval(expected, {"np": np, "N": np.longdouble(_N)}), 2)
    got = np.array([r["lo"], r["hi"]]).astype(r["dtype"])
    assert_within_budget(got, expected.astype(np.longdouble), budget=budget, what=name)


@linux_only
def test_no_worker_can_be_created_under_address_space_limit():
    """RLIMIT_AS leaves no room for a worker's stack: the call runs on the calling thread with
    the same bits, the next one too; once the limit is lifted the workers are created."""
    r = _child(
        """
        x = np.random.default_rng(0).normal(0, 3, (64, 32768)).astype(np.float32)
        out = np.empty(64, np.float32)
        lk.set_num_threads(1)
        single = lk.logsumexp(x).copy()
        lk.set_num_threads(8)
        t0 = tasks()
        limit_address_space(1 << 20)
        a = lk.logsumexp(x, out=out).copy()
        b = lk.logsumexp(x, out=out).copy()
        t1 = tasks()
        unlimit()
        c = lk.logsumexp(x, out=out).copy()
        t2 = tasks()
        report(
            same=[bool(np.array_equal(v, single)) for v in (a, b, c)],
            c=c.tolist(),
            new_tasks_limited=t1 - t0,
            new_tasks_after=t2 - t0,
        )
        """
    )
    assert r["same"] == [True, True, True]
    x = np.random.default_rng(0).normal(0, 3, (64, 32768)).astype(np.float32)  # the child's x
    got = np.array(r["c"], np.float32)  # float32 values travel exactly as JSON float64
    assert_within_budget(got, oracle.logsumexp(x), budget="logsumexp", what="after the limit")
    assert r["new_tasks_limited"] == 0
    assert r["new_tasks_after"] == 7


@linux_only
def test_fewer_workers_than_parts():
    """2 workers exist, 8 parts, further workers refused: the 3 threads share the 8 parts."""
    r = _child(
        """
        from logitkit import _core
        x = np.random.default_rng(0).normal(0, 3, (64, 32768))
        lk.set_num_threads(1)
        single = lk.softmax(x)
        t0 = tasks()
        lk.set_num_threads(3)
        a = lk.softmax(x)
        t1 = tasks()
        lk.set_num_threads(8)
        _core._inject_fault("thread", 10**6)
        b = lk.softmax(x)
        t2 = tasks()
        _core._inject_fault("thread", 0)
        c = lk.softmax(x)
        t3 = tasks()
        report(
            same=[bool(np.array_equal(v, single)) for v in (a, b, c)],
            tasks=[t1 - t0, t2 - t0, t3 - t0],
        )
        """
    )
    assert r["same"] == [True, True, True]
    assert r["tasks"] == [2, 2, 7]


# ----------------------------------------------------------------------------- resources


@linux_only
@pytest.mark.parametrize("threads", [1, 2])
def test_large_scratch_is_released(threads):
    """The 32 MiB scratch copy of a broadcast row is freed when the call ends (RSS)."""
    r = _child(
        f"""
        page = os.sysconf("SC_PAGE_SIZE")
        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page
        lk.set_num_threads({threads})
        n = 2**22
        x = np.broadcast_to(np.float64(0.5), ({threads}, n))
        lk.logsumexp(np.zeros((4, 100)))
        lk.sigmoid(np.zeros(1 << 20))  # starts the workers: their stacks are not scratch
        before = rss()
        got = lk.logsumexp(x)
        after = rss()
        report(grown=(after - before) / 2**20, got=got.tolist())
        """
    )
    want = np.full(threads, np.log(np.longdouble(2**22)) + np.longdouble(0.5))
    assert_within_budget(np.array(r["got"]), want, budget="logsumexp", what="broadcast row")
    assert r["grown"] < 8, f"RSS grew by {r['grown']:.1f} MiB after the call"


@linux_only
def test_thread_count_is_capped():
    """set_num_threads(512) is clamped to max(8, 4 * usable CPUs); one large call creates that
    many threads minus one (the caller), not 511."""
    cpus = len(os.sched_getaffinity(0))
    cap = max(8, 4 * cpus)
    r = _child(
        f"""
        lk.set_num_threads({max(512, 4 * cap)})
        n_after_set = lk.get_num_threads()
        x = np.broadcast_to(np.float32(1.0), (4096, 16384))
        t0 = tasks()
        got = lk.logsumexp(x)
        t1 = tasks()
        report(n=n_after_set, new=t1 - t0, lo=float(got.min()), hi=float(got.max()))
        """
    )
    assert r["n"] == cap
    assert r["new"] == cap - 1
    got = np.array([r["lo"], r["hi"]], np.float32)  # float32 results, exact as JSON float64
    want = np.full(2, np.log(np.longdouble(16384)) + 1)
    assert_within_budget(got, want, budget="logsumexp", what="rows of ones")
