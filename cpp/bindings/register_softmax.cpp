// Row-wise gufuncs: softmax, log_softmax (n)->(n) and logsumexp (n)->(), each with an extended
// form taking a mask and a temperature: (n),(n),()->(n) and (n),(n),()->().
// Kernels: cpp/include/logitkit/kernels/softmax.hpp.
#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {
struct SoftmaxOp {
  template <class C> static auto fn() { return active_kernels().get<C>().softmax; }
  template <class C> static auto rows() { return active_kernels().get<C>().softmax_rows; }
  template <class C> static C masked_value() { return C(0); }
};
struct LogSoftmaxOp {
  template <class C> static auto fn() { return active_kernels().get<C>().log_softmax; }
  template <class C> static auto rows() { return active_kernels().get<C>().log_softmax_rows; }
  template <class C> static C masked_value() { return -std::numeric_limits<C>::infinity(); }
};
struct LogsumexpOp {
  template <class C> static auto fn() { return active_kernels().get<C>().logsumexp; }
  template <class C> static auto rows() { return active_kernels().get<C>().logsumexp_rows; }
};

const char row_types[] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
// x, where, temperature, out (the temperature is float64 for every row type).
const char ext_types[] = {NPY_HALF,  NPY_BOOL, NPY_DOUBLE, NPY_HALF,   NPY_FLOAT,  NPY_BOOL,
                          NPY_DOUBLE, NPY_FLOAT, NPY_DOUBLE, NPY_BOOL, NPY_DOUBLE, NPY_DOUBLE};
// The small-call path of the functional softmax / log_softmax / logsumexp with default options:
// a C-contiguous 1-D or 2-D float32/float64 array of at most parallel_grain elements, the class
// axis last, out= None or an exactly matching C-contiguous array that does not overlap x. The same
// row kernels as the gufuncs, called directly: NumPy's gufunc machinery costs more than the
// kernels at (1, 10). Returns None where it does not apply (the caller takes the gufunc).
// which: 0 softmax, 1 log_softmax, 2 logsumexp.
template <class T>
py::object rowwise_small_typed(int which, PyArrayObject* x, PyArrayObject* out, int type) {
  const int nd = PyArray_NDIM(x);
  const npy_intp n = PyArray_DIM(x, nd - 1), rows = nd == 2 ? PyArray_DIM(x, 0) : 1;
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  py::object result;
  T* yd;
  if (out) {
    result = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
    yd = static_cast<T*>(PyArray_DATA(out));
  } else {
    const int ond = which == 2 ? nd - 1 : nd;
    PyObject* a = PyArray_EMPTY(ond, PyArray_DIMS(x), type, 0);
    if (!a) throw py::error_already_set();
    result = py::reinterpret_steal<py::object>(a);
    yd = static_cast<T*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(a)));
  }
  {
    FlagGuard guard;
    const auto& k = active_kernels().get<T>();
    const auto f = which == 0 ? k.softmax_rows : which == 1 ? k.log_softmax_rows : k.logsumexp_rows;
    f(xd, yd, std::size_t(rows), std::size_t(n), 1.0);
  }
  if (which == 2 && nd == 1 && !out) {  // a 0-d result is returned as a NumPy scalar, as by the ufunc
    PyObject* sc = PyArray_Return(reinterpret_cast<PyArrayObject*>(result.release().ptr()));
    if (!sc) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(sc);
  }
  return result;
}

py::object rowwise_small(int which, py::handle xh, py::handle outh) {
  if (which < 0 || which > 2 || !PyArray_CheckExact(xh.ptr()) || !plain_array(xh.ptr(), -1)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x), nd = PyArray_NDIM(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || (nd != 1 && nd != 2)) return py::none();
  const npy_intp size = PyArray_SIZE(x);
  if (size == 0 || size > parallel_grain) return py::none();
  PyArrayObject* out = nullptr;
  if (!outh.is_none()) {
    if (!plain_out(outh.ptr(), type)) return py::none();
    out = reinterpret_cast<PyArrayObject*>(outh.ptr());
    const int ond = which == 2 ? nd - 1 : nd;
    if (PyArray_NDIM(out) != ond) return py::none();
    for (int d = 0; d < ond; ++d)
      if (PyArray_DIM(out, d) != PyArray_DIM(x, d)) return py::none();
    if (extents_overlap(out, x)) return py::none();  // in place: the gufunc
  }
  if (type == NPY_FLOAT) return rowwise_small_typed<float>(which, x, out, type);
  return rowwise_small_typed<double>(which, x, out, type);
}
}  // namespace

void register_softmax(py::module_& m) {
  m.def("rowwise_small", &rowwise_small, py::arg("which"), py::arg("x"), py::arg("out"),
        "Small-call softmax (0) / log_softmax (1) / logsumexp (2) of the last axis; None where it "
        "does not apply (see _functional.py).");
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
