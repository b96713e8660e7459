"""logitkit: exact, fast transforms of a network's logits on the CPU.

Multi-class logits (trained with cross-entropy) become probabilities with :func:`softmax`;
multi-label logits (trained with binary cross-entropy) with :func:`sigmoid`. Every function is a
NumPy ufunc underneath (see :mod:`logitkit.ufuncs`), runs on the best SIMD instruction set of the CPU
(:func:`simd_target`), and is accurate to a few ulp where the usual formulas lose precision or
return NaN.
"""

from __future__ import annotations

from . import _functional, multiclass, multilabel, ufuncs
from ._cmake import cmake_dir, include_dir
from ._core import __version__, simd_target, simd_targets_available, simd_targets_compiled
from ._core import set_simd_target as _set_simd_target  # noqa: F401  (the tests' ISA hook)
from ._divergence import (
    binary_entropy,
    binary_entropy_with_grad,
    binary_kl_divergence,
    binary_kl_divergence_with_grad,
    distillation_loss,
    distillation_loss_with_grad,
    entropy,
    entropy_with_grad,
    js_divergence,
    js_divergence_with_grad,
    kl_divergence,
    kl_divergence_with_grad,
)
from ._functional import *  # one function per public entry of the kernel list
from ._threads import _init_from_env as _threads_from_env
from ._threads import get_num_threads, set_num_threads
from ._validation import InvalidTargetError
from .losses import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_with_grad,
    cross_entropy,
    cross_entropy_with_grad,
    grad_hess,
    nll_loss,
    sigmoid_focal_loss,
    sigmoid_focal_loss_with_grad,
)

__all__ = [
    "InvalidTargetError",
    "__version__",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_with_grad",
    "binary_entropy",
    "binary_entropy_with_grad",
    "binary_kl_divergence",
    "binary_kl_divergence_with_grad",
    "cmake_dir",
    "cross_entropy",
    "cross_entropy_with_grad",
    "distillation_loss",
    "distillation_loss_with_grad",
    "entropy",
    "entropy_with_grad",
    "get_num_threads",
    "grad_hess",
    "include_dir",
    "js_divergence",
    "js_divergence_with_grad",
    "kl_divergence",
    "kl_divergence_with_grad",
    "multiclass",
    "multilabel",
    "nll_loss",
    "set_num_threads",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_with_grad",
    "simd_target",
    "simd_targets_available",
    "simd_targets_compiled",
    "ufuncs",
]
__all__ += _functional.__all__

_threads_from_env()
