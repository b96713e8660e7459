// Backward rules: sigmoid_backward, log_sigmoid_backward (elementwise ufuncs, 2 inputs) and
// softmax_backward, log_softmax_backward (n),(n)->(n). Kernels: kernels/activations.hpp, kernels/backward.hpp.
#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {
LOGITKIT_OP(SigmoidBackwardOp, sigmoid_backward);
LOGITKIT_OP(LogSigmoidBackwardOp, log_sigmoid_backward);
LOGITKIT_OP(SoftmaxBackwardOp, softmax_backward);
LOGITKIT_OP(LogSoftmaxBackwardOp, log_softmax_backward);

const char types[] = {NPY_HALF,  NPY_HALF,  NPY_HALF,   NPY_FLOAT,  NPY_FLOAT,
                      NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
}  // namespace

void register_backward(py::module_& m) {
  add_ufunc(m, "sigmoid_backward", LOGITKIT_LOOPS3(binary_loop, SigmoidBackwardOp), types, 3, 2, 1, nullptr,
            "sigmoid_backward(grad, y): grad·y·(1 - y), y = sigmoid(x).");
  add_ufunc(m, "log_sigmoid_backward", LOGITKIT_LOOPS3(binary_loop, LogSigmoidBackwardOp), types, 3, 2, 1, nullptr,
            "log_sigmoid_backward(grad, x): grad·sigmoid(-x).");
  add_ufunc(m, "softmax_backward", LOGITKIT_LOOPS3(row_binary_loop, SoftmaxBackwardOp), types, 3, 2, 1, "(n),(n)->(n)",
            "softmax_backward(grad, y): y·(grad - Σ grad·y), y = softmax(x).");
  add_ufunc(m, "log_softmax_backward", LOGITKIT_LOOPS3(row_binary_loop, LogSoftmaxBackwardOp), types, 3, 2, 1, "(n),(n)->(n)",
            "log_softmax_backward(grad, y): grad - exp(y)·Σ grad, y = log_softmax(x).");
}

}  // namespace logitkit::bindings
