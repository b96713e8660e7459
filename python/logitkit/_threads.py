"""Thread count of the kernels: large calls are split across threads by rows (or blocks of
elements), with the GIL released; results are bit-identical for every thread count."""

from __future__ import annotations

import operator
import os
import re

import numpy as np

from . import _core

ENV = "LOGITKIT_NUM_THREADS"


def max_num_threads() -> int:
    """The most threads a call may use: ``max(8, 4 * CPUs this process may run on)``."""
    return int(_core.max_num_threads())


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for large calls (``1``: single-threaded).

    A call is split only when it is large enough to pay for the threads (about 2^15 elements of
    work per thread); small calls always run on the calling thread. Results do not depend on ``n``:
    every row (or element) is computed by the same kernel whichever thread runs it. The default is
    the number of CPUs this process may run on, or ``LOGITKIT_NUM_THREADS`` if set at import.

    ``n`` above ``max(8, 4 * CPUs this process may run on)`` is clamped to that cap (more threads
    than cores only add switching), and :func:`get_num_threads` then reports the cap. A call uses
    the calling thread and at most ``cap - 1`` worker threads, which are created on the first call
    that needs them and live as long as the process (a lower ``n`` later leaves them idle). If the system refuses to create one (a thread or
    address-space limit), the call is not an error: it runs on the threads that exist, the calling
    thread included, with the same results, and a later call tries again.

    ``n`` must be an integer (``operator.index``), not a bool, and at least 1.
    """
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"set_num_threads: n must be an integer, got {type(n).__name__}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads: n must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _core.set_num_threads(min(n, max_num_threads()))


def get_num_threads() -> int:
    """The number of threads large calls are split across (see :func:`set_num_threads`)."""
    return int(_core.get_num_threads())


_ENV_VALUE = re.compile(r"\+?[0-9]+")


def _init_from_env() -> None:
    """Reads LOGITKIT_NUM_THREADS: unset or blank keeps the default; otherwise ASCII digits
    (surrounding whitespace and a leading '+' allowed) giving n >= 1, clamped as by
    set_num_threads. Anything else raises ValueError at import."""
    value = os.environ.get(ENV)
    if value is None or value.strip() == "":
        return
    text = value.strip()
    if not _ENV_VALUE.fullmatch(text) or int(text) < 1:
        raise ValueError(f"{ENV}={value!r}: expected a positive integer")
    _core.set_num_threads(min(int(text), max_num_threads()))
