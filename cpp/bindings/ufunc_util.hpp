// Shared machinery of the bindings: NumPy C-API setup, the floating-point flag guard, float16
// conversion, and inner-loop templates that adapt NumPy's strided loops to the contiguous kernels.
// The bindings know pointers, lengths and strides only: names, options, validation and messages live
// in python/logitkit.
#pragma once
#include <Python.h>

#define PY_ARRAY_UNIQUE_SYMBOL logitkit_ARRAY_API
#define PY_UFUNC_UNIQUE_SYMBOL logitkit_UFUNC_API
#ifndef LOGITKIT_IMPORT_NUMPY
#define NO_IMPORT_ARRAY
#define NO_IMPORT_UFUNC
#endif
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <cfenv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <new>
#include <type_traits>
#include <limits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define LOGITKIT_X86 1
#endif

#include "logitkit/dispatch.hpp"
#include "parallel.hpp"

namespace logitkit::bindings {

namespace py = pybind11;

// Our results are exact or correctly limited (no NaN, no spurious overflow), but intermediate steps
// may raise IEEE flags (exp of a large negative number underflows on purpose; exact-sum steps see
// inf - inf in masked-out lanes). NumPy turns flags into warnings, so every loop restores the flags
// it found: no logitkit function raises floating-point warnings (docs/numerics.md, "Floating-point
// flags"). The rounding mode and FTZ/DAZ bits are never changed.
class FlagGuard {
 public:
#ifdef LOGITKIT_X86
  // SSE flags live in MXCSR; the x87 status word, used only by the long double fallbacks, is
  // cleared (NumPy clears every flag before it runs a loop).
  FlagGuard() : csr_(_mm_getcsr()) {}
  ~FlagGuard() {
    _mm_setcsr(csr_);
#if defined(__GNUC__) || defined(__clang__)
    __asm__ __volatile__("fnclex");
#else
    std::feclearexcept(FE_ALL_EXCEPT & ~0);  // MSVC: long double is double, no x87 use
    _mm_setcsr(csr_);
#endif
  }

 private:
  unsigned csr_;
#else
  FlagGuard() { std::fegetexceptflag(&flags_, FE_ALL_EXCEPT); }
  ~FlagGuard() { std::fesetexceptflag(&flags_, FE_ALL_EXCEPT); }

 private:
  std::fexcept_t flags_;
#endif
};

// bfloat16 (ml_dtypes.bfloat16, a NumPy user dtype): the upper 16 bits of a float32. Its own
// storage type, so that a loop template tells it from float16 (std::uint16_t).
struct bf16 {
  std::uint16_t bits;
};
static_assert(sizeof(bf16) == 2, "bf16 is stored in two bytes");

// Storage type S in NumPy's array, compute type C: float16 and bfloat16 are computed in float32.
template <class S> struct compute_of { using type = S; };
template <> struct compute_of<std::uint16_t> { using type = float; };
template <> struct compute_of<bf16> { using type = float; };
// The storage type of a reduction's result (logsumexp): bfloat16's is float32, the dtype its
// reductions and losses return (a value that is subtracted from or compared with many others keeps
// float32's precision); every other type's is its own.
template <class S> struct reduce_out { using type = S; };
template <> struct reduce_out<bf16> { using type = float; };

// Copies n elements at byte stride `stride` into a contiguous buffer of T. float16 and bfloat16
// are converted by the active ISA's conversions (kernels/convert.hpp: vector instructions where
// the ISA has them, the same bits as its scalar reference).
template <class S, class T>
inline void gather(const char* p, npy_intp stride, npy_intp n, T* out) {
  if constexpr (std::is_same_v<S, std::uint16_t> || std::is_same_v<S, bf16>) {
    static_assert(std::is_same_v<T, float>, "float16 and bfloat16 are computed in float32");
    const auto& c = logitkit::active_kernels().convert;
    (std::is_same_v<S, bf16> ? c.bf16_to_float : c.half_to_float)(p, stride, out, std::size_t(n));
  } else {
    for (npy_intp i = 0; i < n; ++i, p += stride) {
      S v;
      std::memcpy(&v, p, sizeof(S));
      out[i] = T(v);
    }
  }
}
template <class S, class T>
inline void scatter(const T* in, npy_intp n, char* p, npy_intp stride) {
  if constexpr (std::is_same_v<S, std::uint16_t> || std::is_same_v<S, bf16>) {
    static_assert(std::is_same_v<T, float>, "float16 and bfloat16 are computed in float32");
    const auto& c = logitkit::active_kernels().convert;
    (std::is_same_v<S, bf16> ? c.float_to_bf16 : c.float_to_half)(in, p, stride, std::size_t(n));
  } else {
    for (npy_intp i = 0; i < n; ++i, p += stride) {
      const S v = S(in[i]);
      std::memcpy(p, &v, sizeof(S));
    }
  }
}

// Whether the kernels can read or write an array of S at this byte stride in place (S is the
// compute type and the stride is one element).
template <class S> constexpr bool direct(npy_intp stride) {
  return std::is_same_v<S, typename compute_of<S>::type> && stride == npy_intp(sizeof(S));
}

// This thread's scratch buffer `which` (0..3) with room for n elements of T (parallel.hpp: freed
// after the part that used it when larger than scratch_keep_bytes). Throws ScratchAllocError.
template <class T> T* scratch(int which, std::size_t n) {
  if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
    throw ScratchAllocError(std::numeric_limits<std::size_t>::max());
  return static_cast<T*>(scratch_bytes(which, n * sizeof(T)));
}

// Whether a loop on this thread has set a Python error that may not have been raised yet, and
// how many threads have (a global load spares the thread-local lookup on every loop call).
inline thread_local bool t_loop_error = false;
inline std::atomic<int> g_loop_errors{0};

// Sets the calling thread's Python error (taking the GIL: NumPy runs our loops without it).
inline void set_loop_error(PyObject* type, const char* message) noexcept {
  const PyGILState_STATE state = PyGILState_Ensure();
  PyErr_SetString(type, message);
  PyGILState_Release(state);
  if (!t_loop_error) g_loop_errors.fetch_add(1, std::memory_order_relaxed);
  t_loop_error = true;
}
// Whether the error a loop set on this thread is still pending (NumPy keeps calling the loop for
// the rest of the iteration before it raises it).
inline bool loop_error_pending() noexcept {
  const PyGILState_STATE state = PyGILState_Ensure();
  const bool pending = PyErr_Occurred() != nullptr;
  PyGILState_Release(state);
  if (!pending) {
    g_loop_errors.fetch_sub(1, std::memory_order_relaxed);
    t_loop_error = false;
  }
  return pending;
}

// Every inner loop NumPy calls is safe_loop<L>: an exception must not cross into NumPy's C code
// (std::terminate). Allocation failure becomes MemoryError, anything else RuntimeError, set as the
// calling thread's Python error with the GIL taken. NumPy (1.25 to 2.x) raises an error set by a
// loop that released the GIL: the no-iterator path checks PyErr_Occurred() after the loop, the
// iterator paths (gufuncs included) when NpyIter_Deallocate finds it set. The ufunc call then
// returns no result; an out= array may have been partly written. Until NumPy raises it, further
// calls of the loop in the same iteration do nothing.
template <PyUFuncGenericFunction L>
void safe_loop(char** args, const npy_intp* dims, const npy_intp* steps, void* data) noexcept {
  if (g_loop_errors.load(std::memory_order_relaxed) > 0 && t_loop_error && loop_error_pending()) return;
  try {
    L(args, dims, steps, data);
  } catch (const ScratchAllocError& e) {
    set_loop_error(PyExc_MemoryError, e.what());
  } catch (const std::bad_alloc&) {
    set_loop_error(PyExc_MemoryError, "logitkit: out of memory");
  } catch (const std::exception& e) {
    set_loop_error(PyExc_RuntimeError, e.what());
  } catch (...) {
    set_loop_error(PyExc_RuntimeError, "logitkit: unknown C++ exception in a ufunc loop");
  }
}

// ---------------------------------------------------------------- small-call paths
// The functional API's small calls skip NumPy's ufunc machinery (register_list.cpp,
// register_losses.cpp) for arrays the kernels can read as they are: an ndarray of `type` (any when
// type < 0), C-contiguous, aligned, in native byte order.
inline bool plain_array(PyObject* o, int type) {
  if (!PyArray_Check(o)) return false;
  auto* a = reinterpret_cast<PyArrayObject*>(o);
  return (type < 0 || PyArray_TYPE(a) == type) && PyArray_IS_C_CONTIGUOUS(a) && PyArray_ISNOTSWAPPED(a) &&
         PyArray_ISALIGNED(a);
}
// An out= for such a path: an exact ndarray of `type`, plain as above and writeable.
inline bool plain_out(PyObject* o, int type) {
  return PyArray_CheckExact(o) && plain_array(o, type) && PyArray_ISWRITEABLE(reinterpret_cast<PyArrayObject*>(o));
}
// Whether the memory extents of two arrays overlap (a conservative test).
inline bool extents_overlap(PyArrayObject* a, PyArrayObject* b) {
  const char* a0 = static_cast<const char*>(PyArray_DATA(a));
  const char* b0 = static_cast<const char*>(PyArray_DATA(b));
  return a0 < b0 + PyArray_NBYTES(b) && b0 < a0 + PyArray_NBYTES(a);
}

// ---------------------------------------------------------------- inner loops
// Op types name a kernel: `template <class C> static auto fn()` returns the active table's entry
// for compute type C. S is the storage type in the array (std::uint16_t for float16).

// Elementwise y = f(x).
template <class S, class Op>
void unary_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp n = dims[0];
  if (direct<S>(steps[0]) && direct<S>(steps[1])) {
    parallel_for(n, 1, 64, [&](npy_intp b, npy_intp e) {
      f(reinterpret_cast<const C*>(args[0]) + b, reinterpret_cast<C*>(args[1]) + b, std::size_t(e - b));
    });
    return;
  }
  constexpr npy_intp chunk = 1024;
  parallel_for(n, 1, chunk, [&](npy_intp b, npy_intp e) {
    C buf[chunk];
    for (npy_intp i = b; i < e; i += chunk) {
      const npy_intp m = (e - i < chunk) ? e - i : chunk;
      gather<S>(args[0] + i * steps[0], steps[0], m, buf);
      f(buf, buf, std::size_t(m));
      scatter<S>(buf, m, args[1] + i * steps[1], steps[1]);
    }
  });
}

// Elementwise out = f(a, b).
template <class S, class Op>
void binary_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp n = dims[0];
  if (direct<S>(steps[0]) && direct<S>(steps[1]) && direct<S>(steps[2])) {
    parallel_for(n, 1, 64, [&](npy_intp b, npy_intp e) {
      f(reinterpret_cast<const C*>(args[0]) + b, reinterpret_cast<const C*>(args[1]) + b,
        reinterpret_cast<C*>(args[2]) + b, std::size_t(e - b));
    });
    return;
  }
  constexpr npy_intp chunk = 512;
  parallel_for(n, 1, chunk, [&](npy_intp lo, npy_intp hi) {
    C a[chunk], b[chunk];
    for (npy_intp i = lo; i < hi; i += chunk) {
      const npy_intp m = (hi - i < chunk) ? hi - i : chunk;
      gather<S>(args[0] + i * steps[0], steps[0], m, a);
      gather<S>(args[1] + i * steps[1], steps[1], m, b);
      f(a, b, a, std::size_t(m));
      scatter<S>(a, m, args[2] + i * steps[2], steps[2]);
    }
  });
}

// A row given as (pointer, byte stride, n): used in place when contiguous, else copied to scratch.
template <class S, class C>
inline const C* row_in(const char* p, npy_intp stride, npy_intp n, int which) {
  if (direct<S>(stride)) return reinterpret_cast<const C*>(p);
  C* buf = scratch<C>(which, std::size_t(n));
  gather<S>(p, stride, n, buf);
  return buf;
}
template <class S, class C>
inline C* row_out(char* p, npy_intp stride, npy_intp n, int which) {
  if (direct<S>(stride)) return reinterpret_cast<C*>(p);
  return scratch<C>(which, std::size_t(n));
}
template <class S, class C>
inline void row_done(const C* y, char* p, npy_intp stride, npy_intp n) {
  if (!direct<S>(stride)) scatter<S>(y, n, p, stride);
}

// Whether Op has a kernel over a block of contiguous rows (Op::rows<C>()).
template <class Op, class C, class = void> struct has_rows : std::false_type {};
template <class Op, class C>
struct has_rows<Op, C, std::void_t<decltype(Op::template rows<C>())>> : std::true_type {};

// (n)->(n): y = f(x) row by row (or a block of contiguous rows at a time where Op has a rows kernel).
template <class S, class Op>
void row_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp N = dims[0], n = dims[1];
  if constexpr (has_rows<Op, C>::value && std::is_same_v<S, C>) {
    constexpr npy_intp e = npy_intp(sizeof(C));
    if (n > 0 && steps[0] == n * e && steps[1] == n * e && steps[2] == e && steps[3] == e) {
      const auto fr = Op::template rows<C>();
      const C* x = reinterpret_cast<const C*>(args[0]);
      C* y = reinterpret_cast<C*>(args[1]);
      parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
        fr(x + rb * n, y + rb * n, std::size_t(re - rb), std::size_t(n), 1.0);
      });
      return;
    }
  }
  if constexpr (has_rows<Op, C>::value) {
    if (n > 0 && n <= 64) {  // short strided (or float16) rows: blocks of them through scratch
      const auto fr = Op::template rows<C>();
      parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
        constexpr npy_intp B = 64;
        C* bx = scratch<C>(2, std::size_t(B * n));
        C* by = scratch<C>(3, std::size_t(B * n));
        for (npy_intp r = rb; r < re; r += B) {
          const npy_intp m = re - r < B ? re - r : B;
          // rows evenly spaced at n entries (a contiguous float16 batch): the block in one call
          if (steps[0] == n * steps[2]) gather<S>(args[0] + r * steps[0], steps[2], m * n, bx);
          else for (npy_intp i = 0; i < m; ++i) gather<S>(args[0] + (r + i) * steps[0], steps[2], n, bx + i * n);
          fr(bx, by, std::size_t(m), std::size_t(n), 1.0);
          if (steps[1] == n * steps[3]) scatter<S>(by, m * n, args[1] + r * steps[1], steps[3]);
          else for (npy_intp i = 0; i < m; ++i) scatter<S>(by + i * n, n, args[1] + (r + i) * steps[1], steps[3]);
        }
      });
      return;
    }
  }
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const C* x = row_in<S, C>(args[0] + r * steps[0], steps[2], n, 0);
      C* y = row_out<S, C>(args[1] + r * steps[1], steps[3], n, 1);
      f(x, y, std::size_t(n), 1.0);
      row_done<S, C>(y, args[1] + r * steps[1], steps[3], n);
    }
  });
}

// (n)->(): out = f(x) row by row (contiguous or short rows a block at a time where Op has a rows
// kernel). The result is stored as reduce_out<S> (bfloat16: float32).
template <class S, class Op>
void reduce_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp N = dims[0], n = dims[1];
  if constexpr (has_rows<Op, C>::value) {
    constexpr npy_intp e = npy_intp(sizeof(C));
    const bool contiguous = std::is_same_v<S, C> && steps[0] == n * e && steps[2] == e;
    if (n > 0 && (n <= 64 || contiguous)) {  // rows through scratch blocks (contiguous ones read in place)
      const auto fr = Op::template rows<C>();
      parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
        constexpr npy_intp B = 64;
        C* bx = contiguous ? nullptr : scratch<C>(2, std::size_t(B * n));
        C* bo = scratch<C>(3, std::size_t(B));
        for (npy_intp r = rb; r < re; r += B) {
          const npy_intp m = re - r < B ? re - r : B;
          const C* xs = bx;
          if (contiguous) xs = reinterpret_cast<const C*>(args[0] + r * steps[0]);
          else
            for (npy_intp i = 0; i < m; ++i) gather<S>(args[0] + (r + i) * steps[0], steps[2], n, bx + i * n);
          fr(xs, bo, std::size_t(m), std::size_t(n), 1.0);
          scatter<typename reduce_out<S>::type>(bo, m, args[1] + r * steps[1], steps[1]);
        }
      });
      return;
    }
  }
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const C* x = row_in<S, C>(args[0] + r * steps[0], steps[2], n, 0);
      const C v = f(x, std::size_t(n), 1.0);
      scatter<typename reduce_out<S>::type>(&v, 1, args[1] + r * steps[1], 0);
    }
  });
}

// Reads a row of the boolean mask; returns the number of true entries (stride 0: one entry).
inline npy_intp mask_count(const char* m, npy_intp stride, npy_intp n) {
  if (stride == 0) return (n > 0 && *m) ? n : 0;
  npy_intp c = 0;
  for (npy_intp j = 0; j < n; ++j) c += m[j * stride] ? 1 : 0;
  return c;
}
// Copies a row to scratch with masked-out entries replaced by -inf, before any arithmetic.
template <class S, class C>
inline const C* masked_row(const char* x, npy_intp xs, const char* m, npy_intp ms, npy_intp n) {
  C* buf = scratch<C>(0, std::size_t(n));
  gather<S>(x, xs, n, buf);
  for (npy_intp j = 0; j < n; ++j)
    if (!m[j * ms]) buf[j] = -std::numeric_limits<C>::infinity();
  return buf;
}

// (n),(n),()->(n): y = f(x at temperature t) where the mask is true, Op::masked_value elsewhere.
template <class S, class Op>
void row_ext_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp N = dims[0], n = dims[1];
  const npy_intp xs = steps[4], ms = steps[5], ys = steps[6];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const char* xr = args[0] + r * steps[0];
      const char* mr = args[1] + r * steps[1];
      double t;  // the temperature is always float64: x / T uses T as the caller gave it
      std::memcpy(&t, args[2] + r * steps[2], sizeof(double));
      char* yr = args[3] + r * steps[3];
      const npy_intp count = mask_count(mr, ms, n);
      C* y = row_out<S, C>(yr, ys, n, 1);
      if (count == n) {
        f(row_in<S, C>(xr, xs, n, 0), y, std::size_t(n), t);
      } else if (count == 0) {
        for (npy_intp j = 0; j < n; ++j) y[j] = Op::template masked_value<C>();
      } else {
        f(masked_row<S, C>(xr, xs, mr, ms, n), y, std::size_t(n), t);
        for (npy_intp j = 0; j < n; ++j)
          if (!mr[j * ms]) y[j] = Op::template masked_value<C>();
      }
      row_done<S, C>(y, yr, ys, n);
    }
  });
}

// (n),(n),()->(): out = f(x at temperature t) over the entries where the mask is true.
template <class S, class Op>
void reduce_ext_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp N = dims[0], n = dims[1];
  const npy_intp xs = steps[4], ms = steps[5];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const char* xr = args[0] + r * steps[0];
      const char* mr = args[1] + r * steps[1];
      double t;  // the temperature is always float64: x / T uses T as the caller gave it
      std::memcpy(&t, args[2] + r * steps[2], sizeof(double));
      const npy_intp count = mask_count(mr, ms, n);
      C v;
      if (count == n) v = f(row_in<S, C>(xr, xs, n, 0), std::size_t(n), t);
      else if (count == 0) v = -std::numeric_limits<C>::infinity();
      else v = f(masked_row<S, C>(xr, xs, mr, ms, n), std::size_t(n), t);
      scatter<typename reduce_out<S>::type>(&v, 1, args[3] + r * steps[3], 0);
    }
  });
}

// (n),(n)->(n): out = f(a, b) row by row (backward rules).
template <class S, class Op>
void row_binary_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  using C = typename compute_of<S>::type;
  FlagGuard guard;
  const auto f = Op::template fn<C>();
  const npy_intp N = dims[0], n = dims[1];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const C* a = row_in<S, C>(args[0] + r * steps[0], steps[3], n, 0);
      const C* b = row_in<S, C>(args[1] + r * steps[1], steps[4], n, 2);
      C* y = row_out<S, C>(args[2] + r * steps[2], steps[5], n, 1);
      f(a, b, y, std::size_t(n));
      row_done<S, C>(y, args[2] + r * steps[2], steps[5], n);
    }
  });
}

// Loop tables for float16, float32, float64 (in NumPy's resolution order: the first loop that the
// inputs cast to safely is used, as for NumPy's own ufuncs).
#define LOGITKIT_LOOPS3(LOOP, OP)                                                     \
  [] {                                                                                \
    static PyUFuncGenericFunction f[3] = {&safe_loop<&LOOP<std::uint16_t, OP>>,      \
                                          &safe_loop<&LOOP<float, OP>>,              \
                                          &safe_loop<&LOOP<double, OP>>};            \
    return f;                                                                         \
  }()

#define LOGITKIT_OP(NAME, MEMBER)                                          \
  struct NAME {                                                            \
    template <class C> static auto fn() { return active_kernels().get<C>().MEMBER; } \
  }

// Registers a ufunc/gufunc object as attribute `name` of module m. Arrays passed in must be static.
inline void add_ufunc(py::module_& m, const char* name, PyUFuncGenericFunction* funcs,
                      const char* types, int ntypes, int nin, int nout, const char* signature,
                      const char* doc) {
  static void* data[8] = {};
  PyObject* uf = signature
                     ? PyUFunc_FromFuncAndDataAndSignature(funcs, data, types, ntypes, nin, nout,
                                                           PyUFunc_None, name, doc, 0, signature)
                     : PyUFunc_FromFuncAndData(funcs, data, types, ntypes, nin, nout, PyUFunc_None,
                                               name, doc, 0);
  if (!uf) throw py::error_already_set();
  m.add_object(name, py::reinterpret_steal<py::object>(uf));
}

void register_list(py::module_& m);
void register_losses(py::module_& m);
void register_top_k(py::module_& m);
void register_sample(py::module_& m);
// Adds the bfloat16 loops (NumPy type number `type`, ml_dtypes.bfloat16) to the ufuncs of the
// kernel list in m (register_list.cpp).
void register_bfloat16(py::module_& m, int type);

// Registers loop `f` for the user dtype of one of the types in `types` on the ufunc attribute
// `name` of m (PyUFunc_RegisterLoopForType: NumPy's resolver tries it when an input is of the user
// dtype). Throws error_already_set when NumPy refuses.
inline void add_user_loop(py::module_& m, const char* name, int user_type, PyUFuncGenericFunction f,
                          std::initializer_list<int> types) {
  py::object uf = m.attr(name);
  std::vector<int> t(types);
  if (PyUFunc_RegisterLoopForType(reinterpret_cast<PyUFuncObject*>(uf.ptr()), user_type, f, t.data(), nullptr) < 0)
    throw py::error_already_set();
}

}  // namespace logitkit::bindings
