// Row-wise gufuncs: softmax, log_softmax (n)->(n) and logsumexp (n)->(), each with an extended
// form taking a mask and a temperature: (n),(n),()->(n) and (n),(n),()->().
// Kernels: cpp/include/logitkit/kernels/softmax.hpp.
#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {
struct SoftmaxOp {
  template <class C> static auto fn() { return active_kernels().get<C>().softmax; }
  template <class C> static C masked_value() { return C(0); }
};
struct LogSoftmaxOp {
  template <class C> static auto fn() { return active_kernels().get<C>().log_softmax; }
  template <class C> static C masked_value() { return -std::numeric_limits<C>::infinity(); }
};
LOGITKIT_OP(LogsumexpOp, logsumexp);

const char row_types[] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
// x, where, temperature, out (the temperature is float64 for every row type).
const char ext_types[] = {NPY_HALF,  NPY_BOOL, NPY_DOUBLE, NPY_HALF,   NPY_FLOAT,  NPY_BOOL,
                          NPY_DOUBLE, NPY_FLOAT, NPY_DOUBLE, NPY_BOOL, NPY_DOUBLE, NPY_DOUBLE};
}  // namespace

void register_softmax(py::module_& m) {
  add_ufunc(m, "softmax", LOGITKIT_LOOPS3(row_loop, SoftmaxOp),
            row_types, 3, 1, 1, "(n)->(n)", "softmax(x): exp(x - logsumexp(x)) along the last core axis.");
  add_ufunc(m, "log_softmax", LOGITKIT_LOOPS3(row_loop, LogSoftmaxOp), row_types, 3, 1, 1, "(n)->(n)",
            "log_softmax(x): x - logsumexp(x) along the last core axis.");
  add_ufunc(m, "logsumexp", LOGITKIT_LOOPS3(reduce_loop, LogsumexpOp), row_types, 3, 1, 1, "(n)->()",
            "logsumexp(x): log(sum(exp(x))) along the last core axis.");
  add_ufunc(m, "softmax_ext", LOGITKIT_LOOPS3(row_ext_loop, SoftmaxOp), ext_types, 3, 3, 1, "(n),(n),()->(n)",
            "softmax_ext(x, where, temperature): softmax of x/temperature over the entries where "
            "`where` is true; 0 elsewhere.");
  add_ufunc(m, "log_softmax_ext", LOGITKIT_LOOPS3(row_ext_loop, LogSoftmaxOp), ext_types, 3, 3, 1, "(n),(n),()->(n)",
            "log_softmax_ext(x, where, temperature): log_softmax of x/temperature over the entries "
            "where `where` is true; -inf elsewhere.");
  add_ufunc(m, "logsumexp_ext", LOGITKIT_LOOPS3(reduce_ext_loop, LogsumexpOp), ext_types, 3, 3, 1, "(n),(n),()->()",
            "logsumexp_ext(x, where, temperature): logsumexp of x/temperature over the entries "
            "where `where` is true (-inf when none is).");
}

}  // namespace logitkit::bindings
