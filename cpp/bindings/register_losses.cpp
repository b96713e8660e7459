// Loss gufuncs and ufuncs (kernels: cpp/include/logitkit/kernels/losses.hpp):
//   cross_entropy_hard       (n),(),(n),(),(),()->()      x, label, weight, Σweight, ε, g -> loss
//   cross_entropy_hard_grad  (n),(),(n),(),(),()->(),(n)  ... -> loss, grad
//   cross_entropy_soft       (n),(n),(n),(),()->()        x, target, weight, ε, g -> loss
//   cross_entropy_soft_grad  (n),(n),(n),(),()->(),(n)    ... -> loss, grad
//   bce_with_logits          x, y, pos_weight, weight, ε, gscale -> loss        (elementwise)
//   bce_with_logits_grad     x, y, pos_weight, weight, ε, gscale -> loss, grad  (elementwise)
// A weight row of stride 0 holding 1 is "no weights" (the kernel's fast path).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ufunc_util.hpp"

namespace logitkit::bindings {
namespace {

template <class T>
inline T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Class weights: nullptr when all ones given as a broadcast scalar.
template <class T>
inline const T* weight_row(const char* p, npy_intp stride, npy_intp n, int which) {
  if (stride == 0 && (n == 0 || load<T>(p) == T(1))) return nullptr;
  return row_in<T, T>(p, stride, n, which);
}

template <class T, bool GRAD>
void ce_hard_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().cross_entropy_hard;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 8 : 7;  // x, t, w, W, eps, g, loss[, grad]
  const npy_intp xs = steps[nargs], ws = steps[nargs + 1];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const T* x = row_in<T, T>(args[0] + r * steps[0], xs, n, 0);
      const std::int64_t t = load<std::int64_t>(args[1] + r * steps[1]);
      const T* w = weight_row<T>(args[2] + r * steps[2], ws, n, 2);
      const T W = load<T>(args[3] + r * steps[3]), eps = load<T>(args[4] + r * steps[4]);
      const T g = load<T>(args[5] + r * steps[5]);
      T* grad = nullptr;
      if constexpr (GRAD) grad = row_out<T, T>(args[7] + r * steps[7], steps[nargs + 2], n, 1);
      const T loss = (t >= n) ? std::numeric_limits<T>::quiet_NaN() : f(x, std::size_t(n), t, w, W, eps, g, grad);
      std::memcpy(args[6] + r * steps[6], &loss, sizeof(T));
      if constexpr (GRAD) row_done<T, T>(grad, args[7] + r * steps[7], steps[nargs + 2], n);
    }
  });
}

template <class T, bool GRAD>
void ce_soft_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().cross_entropy_soft;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 7 : 6;  // x, y, w, eps, g, loss[, grad]
  const npy_intp xs = steps[nargs], ys = steps[nargs + 1], ws = steps[nargs + 2];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const T* x = row_in<T, T>(args[0] + r * steps[0], xs, n, 0);
      const T* y = row_in<T, T>(args[1] + r * steps[1], ys, n, 3);
      const T* w = weight_row<T>(args[2] + r * steps[2], ws, n, 2);
      const T eps = load<T>(args[3] + r * steps[3]), g = load<T>(args[4] + r * steps[4]);
      T* grad = nullptr;
      if constexpr (GRAD) grad = row_out<T, T>(args[6] + r * steps[6], steps[nargs + 3], n, 1);
      const T loss = f(x, y, std::size_t(n), w, eps, g, grad);
      std::memcpy(args[5] + r * steps[5], &loss, sizeof(T));
      if constexpr (GRAD) row_done<T, T>(grad, args[6] + r * steps[6], steps[nargs + 3], n);
    }
  });
}

template <class T, bool GRAD>
void bce_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().bce_with_logits;
  const npy_intp n = dims[0];
  // inputs x, y, pos_weight, weight, eps, gscale; outputs loss[, grad]. eps and gscale are scalars
  // in every call the Python layer makes; elsewhere they are read per chunk element run.
  constexpr npy_intp chunk = 1024;
  T cst[2][chunk];
  const bool fast_xy = steps[0] == npy_intp(sizeof(T)) && steps[1] == npy_intp(sizeof(T)) &&
                       steps[6] == npy_intp(sizeof(T)) && (!GRAD || steps[7] == npy_intp(sizeof(T))) &&
                       steps[4] == 0 && steps[5] == 0;
  // A broadcast weight or pos_weight of exactly 1 is passed as null (the kernel's "all ones"), so an
  // unweighted call takes the kernel's plain variant, as the one-pass reductions do.
  const T* cptr[2] = {cst[0], cst[1]};
  for (int k : {2, 3})
    if (steps[k] == 0) {
      for (npy_intp j = 0; j < chunk; ++j) cst[k - 2][j] = load<T>(args[k]);
      if (steps[4] == 0 && steps[5] == 0 && cst[k - 2][0] == T(1)) cptr[k - 2] = nullptr;
    }
  parallel_for(n, 4, chunk, [&](npy_intp lo_i, npy_intp hi_i) {
  T buf[6][chunk];
  for (npy_intp i = lo_i; i < hi_i; i += chunk) {
    const npy_intp m = (hi_i - i < chunk) ? hi_i - i : chunk;
    const T* in[4];
    for (int k = 0; k < 4; ++k) {
      if (steps[k] == npy_intp(sizeof(T)) && (k >= 2 || fast_xy)) {
        in[k] = reinterpret_cast<const T*>(args[k] + i * steps[k]);
      } else if (steps[k] == 0 && k >= 2) {
        in[k] = cptr[k - 2];
      } else {
        gather<T>(args[k] + i * steps[k], steps[k], m, buf[k]);
        in[k] = buf[k];
      }
    }
    T* lo = fast_xy ? reinterpret_cast<T*>(args[6]) + i : buf[4];
    T* go = GRAD ? (fast_xy ? reinterpret_cast<T*>(args[7]) + i : buf[5]) : nullptr;
    if (steps[4] == 0 && steps[5] == 0) {
      f(in[0], in[1], in[2], in[3], load<T>(args[4]), load<T>(args[5]), lo, go, std::size_t(m));
    } else {
      for (npy_intp j = 0; j < m; ++j)
        f(in[0] + j, in[1] + j, in[2] + j, in[3] + j, load<T>(args[4] + (i + j) * steps[4]),
          load<T>(args[5] + (i + j) * steps[5]), lo + j, go ? go + j : nullptr, 1);
    }
    if (!fast_xy) {
      scatter<T>(buf[4], m, args[6] + i * steps[6], steps[6]);
      if constexpr (GRAD) scatter<T>(buf[5], m, args[7] + i * steps[7], steps[7]);
    }
  }
  });
}

// The small-call path of cross_entropy / cross_entropy_with_grad with hard labels and default
// layout: C-contiguous (N, C) float32/float64 logits, int64 labels of shape (N,), no class or sample
// weights, at most parallel_grain elements. Labels are checked, the rows computed and the reduction
// taken here, in one call from Python (the general path's gufunc call, label checks and reduction
// cost about ten times the kernels at (1, 10)). Returns None where it does not apply (the caller
// then takes the general path, which also produces every error message but the label one).
// reduction: 0 mean, 1 sum, 2 none. Same kernels, so the same per-item values as the general path;
// the mean/sum is accumulated in double, in order.
template <class T>
py::object ce_hard_small_typed(PyArrayObject* x, PyArrayObject* t, T eps, int reduction, long long ignore,
                               bool validate, bool want_grad, PyArrayObject* out, int type) {
  const npy_intp N = PyArray_DIM(x, 0), C = PyArray_DIM(x, 1);
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  const std::int64_t* td = static_cast<const std::int64_t*>(PyArray_DATA(t));
  // labels: ignored items become -1; the first label outside [0, C) that is not ignore_index is
  // an error (validate=False: the general path decides what such a label means)
  constexpr npy_intp stack_rows = 64;
  std::int64_t lab_stack[stack_rows];
  std::vector<std::int64_t> lab_heap;
  std::int64_t* lab = lab_stack;
  if (N > stack_rows) {
    lab_heap.resize(std::size_t(N));
    lab = lab_heap.data();
  }
  npy_intp valid = 0;
  for (npy_intp i = 0; i < N; ++i) {
    const std::int64_t v = td[i];
    if (v == ignore) {
      lab[i] = -1;
    } else if (v < 0 || v >= C) {
      if (!validate) return py::none();
      throw py::value_error("target: label " + std::to_string(v) + " at position (" + std::to_string(i) +
                            ",) is outside [0, " + std::to_string(C) + ") and is not ignore_index=" +
                            std::to_string(ignore));
    } else {
      lab[i] = v;
      ++valid;
    }
  }
  const double factor = reduction == 0 ? (valid ? 1.0 / double(valid) : 0.0) : 1.0;
  PyArrayObject* grad = nullptr;
  py::object grad_obj;
  if (want_grad) {
    if (out) {
      grad_obj = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
      grad = out;
    } else {
      npy_intp dims[2] = {N, C};
      PyObject* g = PyArray_EMPTY(2, dims, type, 0);
      if (!g) throw py::error_already_set();
      grad_obj = py::reinterpret_steal<py::object>(g);
      grad = reinterpret_cast<PyArrayObject*>(g);
    }
  }
  T* gd = grad ? static_cast<T*>(PyArray_DATA(grad)) : nullptr;
  py::object items_obj;
  T* items = nullptr;
  if (reduction == 2) {
    npy_intp dims[1] = {N};
    PyObject* a = PyArray_EMPTY(1, dims, type, 0);
    if (!a) throw py::error_already_set();
    items_obj = py::reinterpret_steal<py::object>(a);
    items = static_cast<T*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(a)));
  }
  const auto f = active_kernels().get<T>().cross_entropy_hard;
  double total = 0;
  {
    FlagGuard guard;
    for (npy_intp i = 0; i < N; ++i) {
      const T v = f(xd + i * C, std::size_t(C), lab[i], nullptr, T(C), eps, T(factor), gd ? gd + i * C : nullptr);
      if (items) items[i] = v;
      total += double(v);
    }
  }
  py::object loss;
  if (reduction == 2) {
    loss = items_obj;
  } else {
    T value = reduction == 1 ? T(total) : (valid ? T(total / double(valid)) : std::numeric_limits<T>::quiet_NaN());
    PyArray_Descr* descr = PyArray_DescrFromType(type);
    PyObject* sc = PyArray_Scalar(&value, descr, nullptr);
    Py_DECREF(descr);
    if (!sc) throw py::error_already_set();
    loss = py::reinterpret_steal<py::object>(sc);
  }
  if (want_grad) return py::make_tuple(loss, grad_obj);
  return loss;
}

py::object ce_hard_small(py::handle xh, py::handle th, double eps, int reduction, long long ignore, bool validate,
                         bool want_grad, py::handle outh) {
  if (!plain_array(xh.ptr(), -1) || !plain_array(th.ptr(), NPY_INT64)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  auto* t = reinterpret_cast<PyArrayObject*>(th.ptr());
  const int type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x) != 2) return py::none();
  const npy_intp N = PyArray_DIM(x, 0), C = PyArray_DIM(x, 1);
  if (N * C > parallel_grain || C == 0) return py::none();
  if (PyArray_NDIM(t) != 1 || PyArray_DIM(t, 0) != N) return py::none();
  PyArrayObject* out = nullptr;
  if (want_grad && !outh.is_none()) {
    if (!plain_out(outh.ptr(), type)) return py::none();
    out = reinterpret_cast<PyArrayObject*>(outh.ptr());
    if (PyArray_NDIM(out) != 2 || PyArray_DIM(out, 0) != N || PyArray_DIM(out, 1) != C) return py::none();
    // an out that overlaps the logits other than exactly (in place) takes the general path
    if (PyArray_DATA(out) != PyArray_DATA(x) && extents_overlap(out, x)) return py::none();
  }
  if (type == NPY_FLOAT)
    return ce_hard_small_typed<float>(x, t, float(eps), reduction, ignore, validate, want_grad, out, type);
  return ce_hard_small_typed<double>(x, t, eps, reduction, ignore, validate, want_grad, out, type);
}

// The common path of binary_cross_entropy_with_logits[_with_grad] with reduction mean or sum: x and
// y C-contiguous arrays of one float dtype and one shape; pos_weight and weight each None (1), one
// value (0-d), a C-contiguous row of the last axis' length (per class), or an array of x's shape. The losses are
// summed by the kernel (never stored), the targets checked by it too, and the gradient written
// straight into `out` (or a new array): one pass over the data, no temporaries. Returns None where it
// does not apply, or where a target is outside [0, 1] (the general path then finds and reports it).
// The sum is taken over fixed blocks of elements, added in order: the same bits for any thread count.
template <class T>
py::object bce_reduced_typed(PyArrayObject* x, PyArrayObject* y, PyArrayObject* pw, PyArrayObject* w, T eps,
                             bool mean, bool want_grad, PyArrayObject* out, int type) {
  const npy_intp n = PyArray_SIZE(x);
  const npy_intp C = PyArray_NDIM(x) ? PyArray_DIM(x, PyArray_NDIM(x) - 1) : 1;
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  const T* yd = static_cast<const T*>(PyArray_DATA(y));
  // 0: none (1), 1: per class (a row of C), 2: per element (x's shape), 3: one value
  auto mode = [&](PyArrayObject* a) {
    if (!a) return 0;
    if (PyArray_SIZE(a) == n && PyArray_NDIM(a) == PyArray_NDIM(x)) return 2;
    return PyArray_NDIM(a) == 0 ? 3 : 1;
  };
  const int pm = mode(pw), wm = mode(w);
  const T* pd = pw ? static_cast<const T*>(PyArray_DATA(pw)) : nullptr;
  const T* wd = w ? static_cast<const T*>(PyArray_DATA(w)) : nullptr;
  py::object grad_obj;
  T* gd = nullptr;
  if (want_grad) {
    if (out) {
      grad_obj = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
    } else {
      PyObject* g = PyArray_EMPTY(PyArray_NDIM(x), PyArray_DIMS(x), type, 0);
      if (!g) throw py::error_already_set();
      grad_obj = py::reinterpret_steal<py::object>(g);
    }
    gd = static_cast<T*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(grad_obj.ptr())));
  }
  // Every target in [0, 1] (false for NaN). In place, the gradient replaces the logits as the sum
  // goes: the targets are checked first, so that a bad target (the general path's error, or its
  // validate=False values) finds x intact.
  auto targets_ok = [&] {
    bool ok = true;
    for (npy_intp e = 0; e < n; ++e) ok &= (yd[e] >= T(0)) & (yd[e] <= T(1));
    return ok;
  };
  if (gd && static_cast<const void*>(gd) == static_cast<const void*>(xd) && !targets_ok()) return py::none();
  const T gscale = T(mean ? (n ? 1.0 / double(n) : 0.0) : 1.0);
  const auto f = active_kernels().get<T>().bce_with_logits;
  constexpr npy_intp seg = 1024;                       // longest kernel call
  constexpr npy_intp block = npy_intp(1) << 14;        // elements per partial sum
  const npy_intp nblocks = (n + block - 1) / block;
  std::vector<double> partial(std::size_t(nblocks > 0 ? nblocks : 0));
  {
    FlagGuard guard;
    py::gil_scoped_release release;
    parallel_for(nblocks, block, 1, [&](npy_intp b0, npy_intp b1) {
      T pc[seg], wc[seg];  // a pos_weight / weight of one value, repeated
      if (pm == 3) std::fill(pc, pc + seg, *pd);
      if (wm == 3) std::fill(wc, wc + seg, *wd);
      for (npy_intp b = b0; b < b1; ++b) {
        const npy_intp e0 = b * block, e1 = (e0 + block < n) ? e0 + block : n;
        double s = 0;
        for (npy_intp e = e0; e < e1;) {
          const npy_intp c = e % C;
          npy_intp end = e + seg < e1 ? e + seg : e1;
          if ((pm == 1 || wm == 1) && end > e - c + C) end = e - c + C;  // a per-class weight: stay in the row
          const T* pp = pm == 0 ? nullptr : pm == 1 ? pd + c : pm == 2 ? pd + e : pc;  // (null: all ones)
          const T* wp = wm == 0 ? nullptr : wm == 1 ? wd + c : wm == 2 ? wd + e : wc;
          s += f(xd + e, yd + e, pp, wp, eps, gscale, nullptr, gd ? gd + e : nullptr, std::size_t(end - e));
          e = end;
        }
        partial[std::size_t(b)] = s;
      }
    });
  }
  double total = 0;
  for (double s : partial) total += s;
  // a NaN target, or one outside [0, 1], or a NaN logit or weight: only the first two are errors
  if (std::isnan(total) && !targets_ok()) return py::none();
  T value = mean ? (n ? T(total / double(n)) : std::numeric_limits<T>::quiet_NaN()) : T(total);
  PyArray_Descr* descr = PyArray_DescrFromType(type);
  PyObject* sc = PyArray_Scalar(&value, descr, nullptr);
  Py_DECREF(descr);
  if (!sc) throw py::error_already_set();
  py::object loss = py::reinterpret_steal<py::object>(sc);
  if (want_grad) return py::make_tuple(loss, grad_obj);
  return loss;
}

py::object bce_reduced(py::handle xh, py::handle yh, py::handle pwh, py::handle wh, double eps, bool mean,
                       bool want_grad, py::handle outh) {
  if (!plain_array(xh.ptr(), -1)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x);
  if (type != NPY_FLOAT && type != NPY_DOUBLE) return py::none();
  if (!plain_array(yh.ptr(), type)) return py::none();
  auto* y = reinterpret_cast<PyArrayObject*>(yh.ptr());
  const int nd = PyArray_NDIM(x);
  if (PyArray_NDIM(y) != nd || !PyArray_CompareLists(PyArray_DIMS(x), PyArray_DIMS(y), nd)) return py::none();
  // pos_weight / weight: None, one value (0-d), a per-class row, or x's shape
  auto weight = [&](py::handle h, PyArrayObject*& a) {
    a = nullptr;
    if (h.is_none()) return true;
    if (!plain_array(h.ptr(), type)) return false;
    a = reinterpret_cast<PyArrayObject*>(h.ptr());
    if (PyArray_NDIM(a) == 0) return true;
    if (nd >= 1 && PyArray_NDIM(a) == 1 && PyArray_DIM(a, 0) == PyArray_DIM(x, nd - 1)) return true;
    return PyArray_NDIM(a) == nd && PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(x), nd);
  };
  PyArrayObject *pw, *w;
  if (!weight(pwh, pw) || !weight(wh, w)) return py::none();
  if (PyArray_SIZE(x) == 0 || nd == 0) return py::none();
  PyArrayObject* out = nullptr;
  if (want_grad && !outh.is_none()) {
    if (!plain_out(outh.ptr(), type)) return py::none();
    out = reinterpret_cast<PyArrayObject*>(outh.ptr());
    if (PyArray_NDIM(out) != nd || !PyArray_CompareLists(PyArray_DIMS(out), PyArray_DIMS(x), nd)) return py::none();
    // the gradient may replace the logits exactly (in place); any other overlap with an input does
    // not take this path
    for (PyArrayObject* a : {x, y, pw, w})
      if (a && extents_overlap(out, a) && !(a == x && PyArray_DATA(out) == PyArray_DATA(x))) return py::none();
  }
  if (type == NPY_FLOAT) return bce_reduced_typed<float>(x, y, pw, w, float(eps), mean, want_grad, out, type);
  return bce_reduced_typed<double>(x, y, pw, w, eps, mean, want_grad, out, type);
}

const char ce_hard_types[] = {NPY_FLOAT,  NPY_INT64, NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,
                              NPY_DOUBLE, NPY_INT64, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char ce_hard_grad_types[] = {NPY_FLOAT,  NPY_INT64,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,
                                   NPY_FLOAT,  NPY_FLOAT,  NPY_DOUBLE, NPY_INT64,  NPY_DOUBLE, NPY_DOUBLE,
                                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char f6[] = {NPY_FLOAT, NPY_FLOAT, NPY_FLOAT, NPY_FLOAT, NPY_FLOAT, NPY_FLOAT,
                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char f7[] = {NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,
                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char f8[] = {NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,
                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};

}  // namespace

void register_losses(py::module_& m) {
  m.def("ce_hard_small", &ce_hard_small, py::arg("x"), py::arg("t"), py::arg("eps"), py::arg("reduction"),
        py::arg("ignore_index"), py::arg("validate"), py::arg("want_grad"), py::arg("out"),
        "Small-call cross-entropy with hard labels (None where it does not apply; see losses.py).");
  m.def("bce_reduced", &bce_reduced, py::arg("x"), py::arg("y"), py::arg("pos_weight"), py::arg("weight"),
        py::arg("eps"), py::arg("mean"), py::arg("want_grad"), py::arg("out"),
        "Binary cross-entropy with logits, mean or sum, one pass (None where it does not apply; see losses.py).");
  // One loss ufunc and one loss-and-gradient ufunc per LOSS entry of the kernel list
  // (kernels/list.hpp), with the loop and type arrays the entry names.
#define LOGITKIT_REG_LOSS(name, kernel, loop, nin, types, grad_types, signature, grad_signature, doc, grad_doc) \
  {                                                                                                              \
    static PyUFuncGenericFunction f[] = {&safe_loop<&loop<float, false>>, &safe_loop<&loop<double, false>>};    \
    static PyUFuncGenericFunction g[] = {&safe_loop<&loop<float, true>>, &safe_loop<&loop<double, true>>};      \
    add_ufunc(m, #name, f, types, 2, nin, 1, signature, doc);                                                    \
    add_ufunc(m, #name "_grad", g, grad_types, 2, nin, 2, grad_signature, grad_doc);                             \
  }
  LOGITKIT_KERNEL_LIST(LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP,
                       LOGITKIT_LIST_SKIP, LOGITKIT_REG_LOSS, LOGITKIT_LIST_SKIP)
#undef LOGITKIT_REG_LOSS
}

}  // namespace logitkit::bindings
