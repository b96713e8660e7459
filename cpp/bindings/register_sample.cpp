// The sampling functions of _core (C++ API: logitkit::sample and logitkit::sample_proba in api.hpp),
// for multiclass.sample and multiclass.proba's filters (python/logitkit/_sample.py):
//   sample(x, uniforms, temperature, top_k, top_p, min_p, logprobs=-1)   one token per row of the
//       2-d float32/float64 array x (any strides; a 1-d array is one row) with uniforms[r] (a 1-d
//       array, or a Python float for one row): an intp array of rows; with
//       logprobs = n >= 0 the tuple (tokens, chosen, top_tokens, top_logprobs) of
//       logitkit::SampleLogprobs (float64 log-probabilities, top_* rows × n)
//   sample_proba(x, temperature, top_k, top_p, min_p)        the filtered distribution, x's shape
// Each option is a Python number (every row) or a 1-d C-contiguous array of one value per row
// (float64; int64 for top_k). A row that cannot be sampled comes back as (row, kind), kind one of
// "nan", "posinf", "neginf", for the caller's message; a bad option raises ValueError.
#include <cstdint>
#include <exception>
#include <string>

#include "ufunc_util.hpp"
// after ufunc_util.hpp, which includes Python.h first
#include "logitkit/api.hpp"

namespace logitkit::bindings {
namespace lk = ::logitkit;
namespace {

// A per-row option: a view of a 1-d C-contiguous array of `type` and `rows` elements, or empty
// (the scalar, *scalar, applies) for a Python number.
template <class V>
lk::VectorView<const V> option(py::handle h, int type, std::size_t rows, const char* name, V* scalar,
                               py::object& keep) {
  if (PyArray_Check(h.ptr())) {
    PyObject* a = PyArray_FromAny(h.ptr(), PyArray_DescrFromType(type), 1, 1,
                                  NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, nullptr);
    if (!a) throw py::error_already_set();
    keep = py::reinterpret_steal<py::object>(a);
    auto* arr = reinterpret_cast<PyArrayObject*>(a);
    if (std::size_t(PyArray_DIM(arr, 0)) != rows)
      throw py::value_error(std::string(name) + ": expected one value per row (" + std::to_string(rows) + ")");
    return lk::VectorView<const V>(static_cast<const V*>(PyArray_DATA(arr)), rows);
  }
  *scalar = h.cast<V>();
  return {};
}

lk::SampleOptions options(py::handle t, py::handle k, py::handle p, py::handle m, std::size_t rows, py::object* keep) {
  lk::SampleOptions o;
  std::int64_t kk = 0;
  o.temperatures = option<double>(t, NPY_DOUBLE, rows, "temperature", &o.temperature, keep[0]);
  o.top_ks = option<std::int64_t>(k, NPY_INT64, rows, "top_k", &kk, keep[1]);
  if (kk < 0) throw py::value_error("top_k: must be >= 0, got " + std::to_string(kk));
  o.top_k = std::size_t(kk);
  o.top_ps = option<double>(p, NPY_DOUBLE, rows, "top_p", &o.top_p, keep[2]);
  o.min_ps = option<double>(m, NPY_DOUBLE, rows, "min_p", &o.min_p, keep[3]);
  return o;
}

// x as an aligned native 2-d float32/float64 array (a copy only when it is neither); a 1-d array
// (sample only) is one row.
PyArrayObject* matrix(py::handle xh, py::object& keep, int min_nd = 2) {
  if (!PyArray_Check(xh.ptr())) throw py::type_error("sample: x must be an ndarray");
  auto* x0 = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x0);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x0) < min_nd || PyArray_NDIM(x0) > 2)
    throw py::type_error("sample: x must be a 2-d float32 or float64 array");
  PyObject* conv = PyArray_FromAny(xh.ptr(), PyArray_DescrFromType(type), min_nd, 2, NPY_ARRAY_ALIGNED, nullptr);
  if (!conv) throw py::error_already_set();
  keep = py::reinterpret_steal<py::object>(conv);
  return reinterpret_cast<PyArrayObject*>(conv);
}

// Runs f(par) with the rows split across the pool without the GIL; a row error becomes (row, kind).
template <class F>
py::object run(py::object result, F&& f) {
  lk::Status st;
  std::exception_ptr failure;
  {
    FlagGuard guard;
    const PoolFor par{failure, 32};  // rows differ in cost (filters, kept sets): finer parts
    py::gil_scoped_release release;
    st = f(par);
  }
  if (failure) std::rethrow_exception(failure);
  if (st.code == lk::Errc::out_of_memory) throw std::bad_alloc();
  if (st.code == lk::Errc::invalid_argument && std::string(st.argument) == "logits" && st.has_row) {
    const char* kind = st.value != st.value ? "nan" : st.value > 0 ? "posinf" : "neginf";
    return py::make_tuple(py::int_(st.row), py::str(kind));
  }
  if (!st) {
    char buf[256];
    lk::describe(st, buf, sizeof buf);
    throw py::value_error(buf);
  }
  return result;
}

// The rows × C view of x (a 1-d array: one row).
template <class T>
lk::MatrixView<const T> rows_view(PyArrayObject* a) {
  const bool one = PyArray_NDIM(a) == 1;
  const npy_intp e = PyArray_ITEMSIZE(a), rows = one ? 1 : PyArray_DIM(a, 0), C = PyArray_DIM(a, one ? 0 : 1);
  return lk::MatrixView<const T>(static_cast<const T*>(PyArray_DATA(a)), std::size_t(rows), std::size_t(C),
                                 one ? C : PyArray_STRIDE(a, 0) / e, PyArray_STRIDE(a, one ? 0 : 1) / e);
}

template <class T>
py::object sample_t(PyArrayObject* a, py::handle uh, const lk::SampleOptions& o, npy_intp nlp) {
  const lk::MatrixView<const T> xv = rows_view<T>(a);
  const npy_intp rows = npy_intp(xv.rows);
  // the uniforms: a 1-d array of one per row, or a Python float for one row
  double u1 = 0;
  py::object ukeep;
  lk::VectorView<const double> uv;
  if (PyFloat_CheckExact(uh.ptr())) {
    u1 = PyFloat_AS_DOUBLE(uh.ptr());
    uv = lk::VectorView<const double>(&u1, 1);
  } else {
    PyObject* u = PyArray_FromAny(uh.ptr(), PyArray_DescrFromType(NPY_DOUBLE), 1, 1,
                                  NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, nullptr);
    if (!u) throw py::error_already_set();
    ukeep = py::reinterpret_steal<py::object>(u);
    auto* ua = reinterpret_cast<PyArrayObject*>(u);
    uv = lk::VectorView<const double>(static_cast<const double*>(PyArray_DATA(ua)), std::size_t(PyArray_DIM(ua, 0)));
  }
  const auto array = [](int nd, const npy_intp* dims, int type) {
    PyObject* p = PyArray_EMPTY(nd, const_cast<npy_intp*>(dims), type, 0);
    if (!p) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(p);
  };
  const auto data = [](const py::object& o) { return PyArray_DATA(reinterpret_cast<PyArrayObject*>(o.ptr())); };
  py::object tokens = array(1, &rows, NPY_INTP);
  const lk::VectorView<std::int64_t> tv(static_cast<std::int64_t*>(data(tokens)), std::size_t(rows));
  if (nlp < 0)
    return run(tokens, [&](auto& par) { return lk::sample<T>(xv, uv, tv, o, par); });
  // with logprobs: the chosen token's and the nlp most likely ones'
  const npy_intp dims[2] = {rows, nlp};
  py::object chosen = array(1, &rows, NPY_DOUBLE), top = array(2, dims, NPY_INTP), top_lp = array(2, dims, NPY_DOUBLE);
  lk::SampleLogprobs lp;
  lp.chosen = lk::VectorView<double>(static_cast<double*>(data(chosen)), std::size_t(rows));
  lp.top_tokens = lk::MatrixView<std::int64_t>(static_cast<std::int64_t*>(data(top)), std::size_t(rows), std::size_t(nlp));
  lp.top_logprobs = lk::MatrixView<double>(static_cast<double*>(data(top_lp)), std::size_t(rows), std::size_t(nlp));
  return run(py::make_tuple(tokens, chosen, top, top_lp),
             [&](auto& par) { return lk::sample<T>(xv, uv, tv, lp, o, par); });
}

template <class T>
py::object proba_t(PyArrayObject* a, const lk::SampleOptions& o) {
  const lk::MatrixView<const T> xv = rows_view<T>(a);
  const npy_intp rows = npy_intp(xv.rows), C = npy_intp(xv.cols);
  const npy_intp dims[2] = {rows, C};
  PyObject* p = PyArray_EMPTY(2, const_cast<npy_intp*>(dims), PyArray_TYPE(a), 0);
  if (!p) throw py::error_already_set();
  py::object probs = py::reinterpret_steal<py::object>(p);
  const lk::MatrixView<T> pv(static_cast<T*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(p))), std::size_t(rows),
                             std::size_t(C));
  return run(probs,
             [&](auto& par) { return lk::sample_proba<T>(xv, pv, o, par); });
}

py::object sample(py::handle xh, py::handle uh, py::handle t, py::handle k, py::handle p, py::handle m,
                  npy_intp logprobs) {
  py::object keep, okeep[4];
  PyArrayObject* a = matrix(xh, keep, 1);
  const bool one = PyArray_NDIM(a) == 1;
  const lk::SampleOptions o = options(t, k, p, m, one ? 1 : std::size_t(PyArray_DIM(a, 0)), okeep);
  if (logprobs > PyArray_DIM(a, one ? 0 : 1))
    throw py::value_error("logprobs: must be at most the number of classes, got " + std::to_string(logprobs));
  return PyArray_TYPE(a) == NPY_FLOAT ? sample_t<float>(a, uh, o, logprobs) : sample_t<double>(a, uh, o, logprobs);
}

py::object sample_proba(py::handle xh, py::handle t, py::handle k, py::handle p, py::handle m) {
  py::object keep, okeep[4];
  PyArrayObject* a = matrix(xh, keep);
  const lk::SampleOptions o = options(t, k, p, m, std::size_t(PyArray_DIM(a, 0)), okeep);
  return PyArray_TYPE(a) == NPY_FLOAT ? proba_t<float>(a, o) : proba_t<double>(a, o);
}

}  // namespace

void register_sample(py::module_& m) {
  m.def("sample", &sample, py::arg("x"), py::arg("uniforms"), py::arg("temperature"), py::arg("top_k"),
        py::arg("top_p"), py::arg("min_p"), py::arg("logprobs") = -1,
        "sample(x, uniforms, temperature, top_k, top_p, min_p, logprobs=-1): one token per row of the "
        "2-d float32/float64 array x drawn with uniforms[r] (docs/semantics.md, Sampling); with "
        "logprobs = n >= 0, (tokens, chosen logprob, top n tokens, their logprobs); or (row, kind) "
        "for the first row that cannot be sampled.");
  m.def("sample_proba", &sample_proba, py::arg("x"), py::arg("temperature"), py::arg("top_k"), py::arg("top_p"),
        py::arg("min_p"),
        "sample_proba(x, temperature, top_k, top_p, min_p): the filtered distribution sample draws "
        "from, or (row, kind) for the first row that cannot be sampled.");
}

}  // namespace logitkit::bindings
