// The top-k functions of _core (the kernel list's SELECT entry top_k; C++ API: logitkit::top_k in
// api.hpp), for multiclass.top_k and multilabel.top_k (python/logitkit/_top_k.py):
//   top_k(x, k, temperature, probs)  x a 2-d float32/float64 array of any strides: (indices, probs
//                                    or None), or the index of the first row holding a NaN (int)
//   top_k_small(x, k, temperature)   the one-call path of multiclass.top_k for small arrays
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>

#include "ufunc_util.hpp"
// after ufunc_util.hpp, which includes Python.h first
#include "logitkit/api.hpp"

namespace logitkit::bindings {
namespace lk = ::logitkit;
namespace {

static_assert(sizeof(npy_intp) == sizeof(std::int64_t), "the indices are written as int64 into intp arrays");

PyArrayObject* empty_array(int nd, const npy_intp* dims, int type, py::object& owner) {
  PyObject* a = PyArray_EMPTY(nd, const_cast<npy_intp*>(dims), type, 0);
  if (!a) throw py::error_already_set();
  owner = py::reinterpret_steal<py::object>(a);
  return reinterpret_cast<PyArrayObject*>(a);
}

// Runs lk::top_k over an aligned native array a of T viewed as rows × C with its strides; the
// outputs are new C-contiguous arrays of shape out_dims (nd dimensions, the last one k).
// Returns (indices, probs or None), or the first NaN row as an int. threaded: rows split across the
// pool without the GIL.
template <class T>
py::object run(PyArrayObject* a, std::size_t rows, std::size_t C, npy_intp rs, npy_intp cs, std::size_t k,
               double temperature, bool want_probs, int nd, const npy_intp* out_dims, int type, bool threaded) {
  py::object idx_obj, p_obj = py::none();
  PyArrayObject* ia = empty_array(nd, out_dims, NPY_INTP, idx_obj);
  const lk::MatrixView<const T> xv(static_cast<const T*>(PyArray_DATA(a)), rows, C, rs, cs);
  const lk::MatrixView<std::int64_t> iv(static_cast<std::int64_t*>(PyArray_DATA(ia)), rows, k);
  lk::MatrixView<T> pv;
  if (want_probs) pv = lk::MatrixView<T>(static_cast<T*>(PyArray_DATA(empty_array(nd, out_dims, type, p_obj))), rows, k);
  lk::Status st;
  std::exception_ptr failure;
  {
    FlagGuard guard;
    if (threaded) {
      const PoolFor par{failure};
      py::gil_scoped_release release;
      st = lk::top_k<T>(xv, k, iv, pv, temperature, par);
    } else {
      st = lk::top_k<T>(xv, k, iv, pv, temperature);
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (st.code == lk::Errc::invalid_argument && std::string(st.argument) == "logits" && st.has_row)
    return py::int_(st.row);
  if (st.code == lk::Errc::out_of_memory) throw std::bad_alloc();
  if (!st) {
    char buf[256];
    lk::describe(st, buf, sizeof buf);
    throw py::value_error(buf);
  }
  return py::make_tuple(idx_obj, p_obj);
}

// top_k(x, k, temperature, probs): x a 2-d float32 or float64 ndarray (rows × C, any strides),
// 1 <= k <= C, temperature > 0 finite (checked by the callers: a violation raises ValueError).
py::object top_k(py::handle xh, long long k, double temperature, bool probs) {
  if (!PyArray_Check(xh.ptr())) throw py::type_error("top_k: x must be an ndarray");
  auto* x0 = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x0);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x0) != 2)
    throw py::type_error("top_k: x must be a 2-d float32 or float64 array");
  // An aligned array in native byte order (a copy only when x is neither): its strides are then
  // whole elements.
  PyObject* conv = PyArray_FromAny(xh.ptr(), PyArray_DescrFromType(type), 2, 2, NPY_ARRAY_ALIGNED, nullptr);
  if (!conv) throw py::error_already_set();
  py::object keep = py::reinterpret_steal<py::object>(conv);
  auto* a = reinterpret_cast<PyArrayObject*>(conv);
  const npy_intp rows = PyArray_DIM(a, 0), C = PyArray_DIM(a, 1);
  if (k < 1 || k > C)
    throw py::value_error("k: must be in [1, " + std::to_string(C) + "] (the number of classes), got " +
                          std::to_string(k));
  const npy_intp e = PyArray_ITEMSIZE(a);
  const npy_intp dims[2] = {rows, npy_intp(k)};
  if (type == NPY_FLOAT)
    return run<float>(a, std::size_t(rows), std::size_t(C), PyArray_STRIDE(a, 0) / e, PyArray_STRIDE(a, 1) / e,
                      std::size_t(k), temperature, probs, 2, dims, type, true);
  return run<double>(a, std::size_t(rows), std::size_t(C), PyArray_STRIDE(a, 0) / e, PyArray_STRIDE(a, 1) / e,
                     std::size_t(k), temperature, probs, 2, dims, type, true);
}

// The most elements top_k_small takes: a call this small costs less than waking the pool.
constexpr npy_intp small_max_elements = 4096;

// The one-call path of multiclass.top_k (axis -1, no Python-side validation): None unless x is a
// plain (C-contiguous, aligned, native) 1-d or 2-d float32/float64 ndarray of at most
// small_max_elements, with C >= 2 classes, 1 <= k <= C, a positive finite temperature, no NaN and
// some entry outside [0, 1]; the caller then takes the general path, which validates, warns
// (values that may be probabilities, a single class) and raises. Returns (indices, probs).
py::object top_k_small(py::handle xh, py::handle kh, double temperature) {
  if (!plain_array(xh.ptr(), -1) || !PyLong_CheckExact(kh.ptr())) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x), nd = PyArray_NDIM(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || nd < 1 || nd > 2) return py::none();
  const npy_intp C = PyArray_DIM(x, nd - 1), size = PyArray_SIZE(x);
  if (C < 2 || size > small_max_elements || !(temperature > 0) || !std::isfinite(temperature)) return py::none();
  int overflow = 0;
  const long long k = PyLong_AsLongLongAndOverflow(kh.ptr(), &overflow);
  if (overflow || k < 1 || k > C) return py::none();
  // Every entry in [0, 1] (the probabilities warning's first test) or a NaN: the general path.
  bool outside = false;
  auto scan = [&](const auto* d) {
    for (npy_intp i = 0; i < size; ++i) {
      if (d[i] != d[i]) return false;
      outside = outside || d[i] < 0 || d[i] > 1;
    }
    return true;
  };
  const bool clean = type == NPY_FLOAT ? scan(static_cast<const float*>(PyArray_DATA(x)))
                                       : scan(static_cast<const double*>(PyArray_DATA(x)));
  if (!clean || !outside) return py::none();
  const npy_intp rows = size / C;
  npy_intp dims[2] = {rows, npy_intp(k)};
  const npy_intp* out_dims = nd == 1 ? dims + 1 : dims;
  if (type == NPY_FLOAT)
    return run<float>(x, std::size_t(rows), std::size_t(C), C, 1, std::size_t(k), temperature, true, nd, out_dims,
                      type, false);
  return run<double>(x, std::size_t(rows), std::size_t(C), C, 1, std::size_t(k), temperature, true, nd, out_dims,
                     type, false);
}

}  // namespace

void register_top_k(py::module_& m) {
  m.def("top_k", &top_k, py::arg("x"), py::arg("k"), py::arg("temperature"), py::arg("probs"),
        "top_k(x, k, temperature, probs): the k largest entries of each row of the 2-d float32/float64 "
        "array x, largest first, equal values by the lower index, and (probs) softmax(x / temperature) "
        "there: (indices, probabilities or None), or the index of the first row holding a NaN.");
  m.def("top_k_small", &top_k_small, py::arg("x"), py::arg("k"), py::arg("temperature"),
        "top_k_small(x, k, temperature): top_k along the last axis of a small plain array, or None "
        "for the arrays the general path must see (multiclass.top_k).");
}

}  // namespace logitkit::bindings
