// Elementwise ufuncs: sigmoid, log_sigmoid, softplus. Kernels: cpp/include/logitkit/kernels/activations.hpp.
#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {
LOGITKIT_OP(SigmoidOp, sigmoid);
LOGITKIT_OP(LogSigmoidOp, log_sigmoid);
LOGITKIT_OP(SoftplusOp, softplus);
LOGITKIT_OP(ExpOp, exp);
LOGITKIT_OP(Log1pUnitOp, log1p_unit);

const char unary_types[] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
}  // namespace

void register_activations(py::module_& m) {
  add_ufunc(m, "sigmoid", LOGITKIT_LOOPS3(unary_loop, SigmoidOp),
            unary_types, 3, 1, 1, nullptr, "sigmoid(x): 1/(1 + exp(-x)), exact over the whole range.");
  add_ufunc(m, "log_sigmoid", LOGITKIT_LOOPS3(unary_loop, LogSigmoidOp), unary_types, 3, 1, 1, nullptr,
            "log_sigmoid(x): log(sigmoid(x)) = -softplus(-x), exact over the whole range.");
  add_ufunc(m, "softplus", LOGITKIT_LOOPS3(unary_loop, SoftplusOp),
            unary_types, 3, 1, 1, nullptr, "softplus(x): log(1 + exp(x)), exact over the whole range.");
  // The vector math underneath, for the accuracy tests only (not part of the public API).
  add_ufunc(m, "_exp", LOGITKIT_LOOPS3(unary_loop, ExpOp), unary_types,
            3, 1, 1, nullptr, "internal: the kernels' vector exp");
  add_ufunc(m, "_log1p_unit", LOGITKIT_LOOPS3(unary_loop, Log1pUnitOp), unary_types, 3, 1, 1, nullptr,
            "internal: the kernels' vector log1p, valid on [0, 1]");
}

}  // namespace logitkit::bindings
