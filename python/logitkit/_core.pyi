"""Type stubs for the extension module logitkit._core (built from cpp/bindings/)."""

import numpy as np

__version__: str

def simd_target() -> str: ...
def simd_targets_available() -> list[str]: ...
def simd_targets_compiled() -> list[str]: ...
def set_simd_target(name: str) -> None: ...

# Elementwise ufuncs (cpp/bindings/register_activations.cpp, register_backward.cpp)
sigmoid: np.ufunc
log_sigmoid: np.ufunc
softplus: np.ufunc
sigmoid_backward: np.ufunc
log_sigmoid_backward: np.ufunc
_exp: np.ufunc
_log1p_unit: np.ufunc

# Generalized ufuncs (cpp/bindings/register_softmax.cpp, register_backward.cpp)
softmax: np.ufunc  # (n)->(n)
log_softmax: np.ufunc  # (n)->(n)
logsumexp: np.ufunc  # (n)->()
softmax_ext: np.ufunc  # (n),(n),()->(n): x, where, temperature
log_softmax_ext: np.ufunc  # (n),(n),()->(n)
logsumexp_ext: np.ufunc  # (n),(n),()->()
softmax_backward: np.ufunc  # (n),(n)->(n)
log_softmax_backward: np.ufunc  # (n),(n)->(n)

# Losses (cpp/bindings/register_losses.cpp)
cross_entropy_hard: np.ufunc  # (n),(),(n),(),(),()->(): x, label, weight, weight_sum, eps, g
cross_entropy_hard_grad: np.ufunc  # (n),(),(n),(),(),()->(),(n)
cross_entropy_soft: np.ufunc  # (n),(n),(n),(),()->(): x, target, weight, eps, g
cross_entropy_soft_grad: np.ufunc  # (n),(n),(n),(),()->(),(n)
bce_with_logits: np.ufunc  # x, y, pos_weight, weight, eps, gscale -> loss
bce_with_logits_grad: np.ufunc  # x, y, pos_weight, weight, eps, gscale -> loss, grad
