"""The NumPy ufunc objects behind the functional API (``numpy.ufunc`` instances).

Elementwise ufuncs: ``sigmoid``, ``log_sigmoid``, ``softplus``, ``sigmoid_backward(grad, y)``,
``log_sigmoid_backward(grad, x)``. Generalized ufuncs: ``softmax`` and ``log_softmax`` ``(n)->(n)``,
``logsumexp`` ``(n)->()``, ``softmax_backward`` and ``log_softmax_backward`` ``(n),(n)->(n)``, and the
extended forms ``softmax_ext``/``log_softmax_ext`` ``(n),(n),()->(n)`` and ``logsumexp_ext``
``(n),(n),()->()`` taking ``(x, where, temperature)``.

Use them directly for the lowest call overhead, or with NumPy's own keywords (``axes=``, ``out=``,
``keepdims=``); the functions in :mod:`logitkit` add validation and options.
"""

from ._core import (
    log_sigmoid,
    log_sigmoid_backward,
    log_softmax,
    log_softmax_backward,
    log_softmax_ext,
    logsumexp,
    logsumexp_ext,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    softmax_ext,
    softplus,
)

__all__ = [
    "log_sigmoid",
    "log_sigmoid_backward",
    "log_softmax",
    "log_softmax_backward",
    "log_softmax_ext",
    "logsumexp",
    "logsumexp_ext",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "softmax_ext",
    "softplus",
]
