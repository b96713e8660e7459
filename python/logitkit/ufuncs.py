"""The NumPy ufunc objects behind the functional API (``numpy.ufunc`` instances).

One ufunc per public entry of the kernel list (``logitkit._core.kernel_list``;
cpp/include/logitkit/kernels/list.hpp): the elementwise ufuncs ``sigmoid``, ``log_sigmoid``,
``softplus``, ``sigmoid_backward(grad, y)``, ``log_sigmoid_backward(grad, x)``; the generalized ufuncs
``softmax`` and ``log_softmax`` ``(n)->(n)``, ``logsumexp`` ``(n)->()``, ``softmax_backward`` and
``log_softmax_backward`` ``(n),(n)->(n)``, and each row-wise function's extended form
(``softmax_ext``/``log_softmax_ext`` ``(n),(n),()->(n)``, ``logsumexp_ext`` ``(n),(n),()->()``)
taking ``(x, where, temperature)``.

Use them directly for the lowest call overhead, or with NumPy's own keywords (``axes=``, ``out=``,
``keepdims=``); the functions in :mod:`logitkit` add validation and options.
"""

from . import _core

__all__ = [name for name, _kind, _signature, public in _core.kernel_list if public]

globals().update({name: getattr(_core, name) for name in __all__})
