// The ufuncs of the kernel list (cpp/include/logitkit/kernels/list.hpp), every kind but the losses
// (register_losses.cpp): one registration per entry, the inner loop chosen by the entry's kind
// (ufunc_util.hpp), plus the small-call functions of the row kinds and the metadata
// _core.kernel_list. Nothing here names a function: adding one to the list adds its ufunc.
#include <limits>

#include "logitkit/kernels/list.hpp"
#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {

// One Op type per entry (ufunc_util.hpp: fn<C>() is the active table's kernel for compute type C;
// a row kind adds rows<C>() and, for (n)->(n), the value of a masked-out entry).
#define LOGITKIT_OP_PLAIN(name, ...) LOGITKIT_OP(Op_##name, name);
#define LOGITKIT_OP_ROW(name, row_kernel, rows_kernel, masked, ...)                 \
  struct Op_##name {                                                                \
    template <class C> static auto fn() { return active_kernels().get<C>().name; } \
    template <class C> static auto rows() { return active_kernels().get<C>().name##_rows; } \
    template <class C> static C masked_value() { return masked; }                   \
  };
#define LOGITKIT_OP_REDUCE(name, ...)                                               \
  struct Op_##name {                                                                \
    template <class C> static auto fn() { return active_kernels().get<C>().name; } \
    template <class C> static auto rows() { return active_kernels().get<C>().name##_rows; } \
  };
LOGITKIT_KERNEL_LIST(LOGITKIT_OP_PLAIN, LOGITKIT_OP_PLAIN, LOGITKIT_OP_ROW, LOGITKIT_OP_REDUCE, LOGITKIT_OP_PLAIN,
                     LOGITKIT_LIST_SKIP, LOGITKIT_OP_PLAIN, LOGITKIT_LIST_SKIP)
#undef LOGITKIT_OP_PLAIN
#undef LOGITKIT_OP_ROW
#undef LOGITKIT_OP_REDUCE

// float16, float32, float64 loops: x -> y; (a, b) -> out; x, where, temperature -> out (the
// temperature is float64 for every row type).
const char unary_types[] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
const char binary_types[] = {NPY_HALF,  NPY_HALF,  NPY_HALF,   NPY_FLOAT,  NPY_FLOAT,
                             NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char ext_types[] = {NPY_HALF,  NPY_BOOL, NPY_DOUBLE, NPY_HALF,   NPY_FLOAT,  NPY_BOOL,
                          NPY_DOUBLE, NPY_FLOAT, NPY_DOUBLE, NPY_BOOL, NPY_DOUBLE, NPY_DOUBLE};

// The small-call path of the functional row-wise functions with default options: a C-contiguous
// 1-D or 2-D float32/float64 array of at most parallel_grain elements, the class axis last, out=
// None or an exactly matching C-contiguous array that does not overlap x. The same rows kernel as
// the gufunc, called directly: NumPy's gufunc machinery costs more than the kernels on small rows.
// Returns None where it does not apply (the caller takes the gufunc). Reduce: the result drops the
// last axis.
template <class Op, bool Reduce, class T>
py::object rowwise_small_typed(PyArrayObject* x, PyArrayObject* out, int type) {
  const int nd = PyArray_NDIM(x);
  const npy_intp n = PyArray_DIM(x, nd - 1), rows = nd == 2 ? PyArray_DIM(x, 0) : 1;
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  py::object result;
  T* yd;
  if (out) {
    result = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
    yd = static_cast<T*>(PyArray_DATA(out));
  } else {
    const int ond = Reduce ? nd - 1 : nd;
    PyObject* a = PyArray_EMPTY(ond, PyArray_DIMS(x), type, 0);
    if (!a) throw py::error_already_set();
    result = py::reinterpret_steal<py::object>(a);
    yd = static_cast<T*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(a)));
  }
  {
    FlagGuard guard;
    Op::template rows<T>()(xd, yd, std::size_t(rows), std::size_t(n), 1.0);
  }
  if (Reduce && nd == 1 && !out) {  // a 0-d result is returned as a NumPy scalar, as by the ufunc
    PyObject* sc = PyArray_Return(reinterpret_cast<PyArrayObject*>(result.release().ptr()));
    if (!sc) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(sc);
  }
  return result;
}

template <class Op, bool Reduce>
py::object rowwise_small(py::handle xh, py::handle outh) {
  if (!PyArray_CheckExact(xh.ptr()) || !plain_array(xh.ptr(), -1)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x), nd = PyArray_NDIM(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || (nd != 1 && nd != 2)) return py::none();
  const npy_intp size = PyArray_SIZE(x);
  if (size == 0 || size > parallel_grain) return py::none();
  PyArrayObject* out = nullptr;
  if (!outh.is_none()) {
    if (!plain_out(outh.ptr(), type)) return py::none();
    out = reinterpret_cast<PyArrayObject*>(outh.ptr());
    const int ond = Reduce ? nd - 1 : nd;
    if (PyArray_NDIM(out) != ond) return py::none();
    for (int d = 0; d < ond; ++d)
      if (PyArray_DIM(out, d) != PyArray_DIM(x, d)) return py::none();
    if (extents_overlap(out, x)) return py::none();  // in place: the gufunc
  }
  if (type == NPY_FLOAT) return rowwise_small_typed<Op, Reduce, float>(x, out, type);
  return rowwise_small_typed<Op, Reduce, double>(x, out, type);
}

py::object signature_or_none(const char* signature) {
  return signature ? py::object(py::str(signature)) : py::object(py::none());
}
}  // namespace

void register_list(py::module_& m) {
  // _core.kernel_list: one (name, kind, gufunc signature or None, public) per ufunc object, in the
  // list's order; `public` marks the ufuncs logitkit.ufuncs exports.
  py::list meta;
  auto entry = [&](const char* name, const char* kind, const char* signature, bool is_public) {
    meta.append(py::make_tuple(name, kind, signature_or_none(signature), is_public));
  };

#define LOGITKIT_REG_UNARY(name, kernel, doc)                                                       \
  add_ufunc(m, #name, LOGITKIT_LOOPS3(unary_loop, Op_##name), unary_types, 3, 1, 1, nullptr, doc); \
  entry(#name, "unary", nullptr, true);
#define LOGITKIT_REG_BINARY(name, kernel, arg, doc)                                                   \
  add_ufunc(m, #name, LOGITKIT_LOOPS3(binary_loop, Op_##name), binary_types, 3, 2, 1, nullptr, doc); \
  entry(#name, "binary", nullptr, true);
#define LOGITKIT_REG_ROW(name, row_kernel, rows_kernel, masked, doc, ext_doc)                                     \
  add_ufunc(m, #name, LOGITKIT_LOOPS3(row_loop, Op_##name), unary_types, 3, 1, 1, "(n)->(n)", doc);              \
  add_ufunc(m, #name "_ext", LOGITKIT_LOOPS3(row_ext_loop, Op_##name), ext_types, 3, 3, 1, "(n),(n),()->(n)",     \
            ext_doc);                                                                                             \
  m.def(#name "_small", &rowwise_small<Op_##name, false>, py::arg("x"), py::arg("out"),                          \
        "Small-call " #name " of the last axis; None where it does not apply (see _functional.py).");          \
  entry(#name, "row", "(n)->(n)", true);                                                                          \
  entry(#name "_ext", "row_ext", "(n),(n),()->(n)", true);
#define LOGITKIT_REG_REDUCE(name, row_kernel, rows_kernel, doc, ext_doc)                                          \
  add_ufunc(m, #name, LOGITKIT_LOOPS3(reduce_loop, Op_##name), unary_types, 3, 1, 1, "(n)->()", doc);            \
  add_ufunc(m, #name "_ext", LOGITKIT_LOOPS3(reduce_ext_loop, Op_##name), ext_types, 3, 3, 1, "(n),(n),()->()",  \
            ext_doc);                                                                                             \
  m.def(#name "_small", &rowwise_small<Op_##name, true>, py::arg("x"), py::arg("out"),                           \
        "Small-call " #name " of the last axis; None where it does not apply (see _functional.py).");          \
  entry(#name, "reduce", "(n)->()", true);                                                                        \
  entry(#name "_ext", "reduce_ext", "(n),(n),()->()", true);
#define LOGITKIT_REG_ROW_BINARY(name, kernel, arg, doc)                                                           \
  add_ufunc(m, #name, LOGITKIT_LOOPS3(row_binary_loop, Op_##name), binary_types, 3, 2, 1, "(n),(n)->(n)", doc); \
  entry(#name, "row_binary", "(n),(n)->(n)", true);
  // The losses' ufuncs are registered by register_losses (their own loops); their metadata here.
#define LOGITKIT_REG_LOSS(name, kernel, loop, nin, types, grad_types, signature, grad_signature, doc, grad_doc) \
  entry(#name, "loss", signature, false);                                                                        \
  entry(#name "_grad", "loss_grad", grad_signature, false);
#define LOGITKIT_REG_INTERNAL(name, math_fn, doc)                                                        \
  add_ufunc(m, "_" #name, LOGITKIT_LOOPS3(unary_loop, Op_##name), unary_types, 3, 1, 1, nullptr, doc); \
  entry("_" #name, "internal", nullptr, false);

  LOGITKIT_KERNEL_LIST(LOGITKIT_REG_UNARY, LOGITKIT_REG_BINARY, LOGITKIT_REG_ROW, LOGITKIT_REG_REDUCE,
                       LOGITKIT_REG_ROW_BINARY, LOGITKIT_REG_LOSS, LOGITKIT_REG_INTERNAL,
                       LOGITKIT_LIST_SKIP)
#undef LOGITKIT_REG_UNARY
#undef LOGITKIT_REG_BINARY
#undef LOGITKIT_REG_ROW
#undef LOGITKIT_REG_REDUCE
#undef LOGITKIT_REG_ROW_BINARY
#undef LOGITKIT_REG_LOSS
#undef LOGITKIT_REG_INTERNAL

  m.attr("kernel_list") = py::tuple(meta);
}

// bfloat16 loops for every ufunc of the list but the losses (whose Python functions compute
// bfloat16 logits in float32): the kind's loop over storage type bf16, computing in float32 a block
// or a row at a time (ufunc_util.hpp). Transforms and backward rules return bfloat16; the
// reductions float32 (reduce_out). The temperature stays float64 and the mask bool.
void register_bfloat16(py::module_& m, int type) {
  constexpr int B = NPY_BOOL, D = NPY_DOUBLE, F = NPY_FLOAT;
#define LOGITKIT_BF16_UNARY(name, ...) \
  add_user_loop(m, #name, type, &safe_loop<&unary_loop<bf16, Op_##name>>, {type, type});
#define LOGITKIT_BF16_BINARY(name, ...) \
  add_user_loop(m, #name, type, &safe_loop<&binary_loop<bf16, Op_##name>>, {type, type, type});
#define LOGITKIT_BF16_ROW(name, ...)                                                                  \
  add_user_loop(m, #name, type, &safe_loop<&row_loop<bf16, Op_##name>>, {type, type});               \
  add_user_loop(m, #name "_ext", type, &safe_loop<&row_ext_loop<bf16, Op_##name>>, {type, B, D, type});
#define LOGITKIT_BF16_REDUCE(name, ...)                                                           \
  add_user_loop(m, #name, type, &safe_loop<&reduce_loop<bf16, Op_##name>>, {type, F});           \
  add_user_loop(m, #name "_ext", type, &safe_loop<&reduce_ext_loop<bf16, Op_##name>>, {type, B, D, F});
#define LOGITKIT_BF16_ROW_BINARY(name, ...) \
  add_user_loop(m, #name, type, &safe_loop<&row_binary_loop<bf16, Op_##name>>, {type, type, type});
#define LOGITKIT_BF16_INTERNAL(name, ...) \
  add_user_loop(m, "_" #name, type, &safe_loop<&unary_loop<bf16, Op_##name>>, {type, type});
  LOGITKIT_KERNEL_LIST(LOGITKIT_BF16_UNARY, LOGITKIT_BF16_BINARY, LOGITKIT_BF16_ROW, LOGITKIT_BF16_REDUCE,
                       LOGITKIT_BF16_ROW_BINARY, LOGITKIT_LIST_SKIP, LOGITKIT_BF16_INTERNAL,
                       LOGITKIT_LIST_SKIP)
#undef LOGITKIT_BF16_UNARY
#undef LOGITKIT_BF16_BINARY
#undef LOGITKIT_BF16_ROW
#undef LOGITKIT_BF16_REDUCE
#undef LOGITKIT_BF16_ROW_BINARY
#undef LOGITKIT_BF16_INTERNAL
}

}  // namespace logitkit::bindings
