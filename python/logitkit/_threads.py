"""Thread count of the kernels: large calls are split across threads by rows (or blocks of
elements), with the GIL released; results are bit-identical for every thread count."""

from __future__ import annotations

import operator
import os

from . import _core

ENV = "LOGITKIT_NUM_THREADS"


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for large calls (``1``: single-threaded).

    A call is split only when it is large enough to pay for the threads (about 2^15 elements of
    work per thread); small calls always run on the calling thread. Results do not depend on ``n``:
    every row (or element) is computed by the same kernel whichever thread runs it. The default is
    the number of CPUs this process may run on, or ``LOGITKIT_NUM_THREADS`` if set at import.
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads: n must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads large calls are split across (see :func:`set_num_threads`)."""
    return int(_core.get_num_threads())


def _init_from_env() -> None:
    value = os.environ.get(ENV)
    if value is None or value.strip() == "":
        return
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{ENV}={value!r}: expected a positive integer") from None
    if n < 1:
        raise ValueError(f"{ENV}={value!r}: expected a positive integer")
    _core.set_num_threads(n)
