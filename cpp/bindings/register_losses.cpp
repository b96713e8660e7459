// Loss gufuncs and ufuncs (kernels: cpp/include/logitkit/kernels/losses.hpp):
//   cross_entropy_hard       (n),(),(n),(),(),(),()->()      x, label, weight, Σweight, ε, g, T -> loss
//   cross_entropy_hard_grad  (n),(),(n),(),(),(),()->(),(n)  ... -> loss, grad
//   cross_entropy_soft       (n),(n),(n),(),(),()->()        x, target, weight, ε, g, T -> loss
//   cross_entropy_soft_grad  (n),(n),(n),(),(),()->(),(n)    ... -> loss, grad
// T (float64, > 0 finite, checked by the caller) is the temperature: the loss of x/T, the gradient
// with respect to x.
//   bce_with_logits          x, y, pos_weight, weight, ε, gscale, T, b -> loss        (elementwise)
//   bce_with_logits_grad     x, y, pos_weight, weight, ε, gscale, T, b -> loss, grad  (elementwise)
// A weight row of stride 0 holding 1 is "no weights" (the kernel's fast path).
//   entropy                  (n),(),()->()                   x, g, T -> H
//   entropy_grad             (n),(),()->(),(n)               x, g, T -> H, g·dH/dx
//   kl_divergence            (n),(n),(),()->()               p, q, g, T -> KL(softmax(p/T) || softmax(q/T))
//   kl_divergence_grad       (n),(n),(),()->(),(n)           p, q, g, T -> KL, g·dKL/dq
//   js_divergence[_grad]     as kl_divergence                 p, q, g, T -> JS[, g·dJS/dq]
//   distillation[_grad]      (n),(n),(),(),(),(),()->()[,(n)] s, t, label, a_kl, a_ce, ε, T -> loss[, dloss/ds]
//   binary_entropy[_grad]          x, g, T -> H[, g·dH/dx]          (elementwise)
//   binary_kl_divergence[_grad]    p, q, g, T -> KL[, g·dKL/dq]     (elementwise)
#include <algorithm>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "ufunc_util.hpp"
// after ufunc_util.hpp, which includes Python.h first
#include "logitkit/api.hpp"

namespace logitkit::bindings {
namespace lk = ::logitkit;
namespace {

template <class T>
inline T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
// The same bits (a NaN equals itself: a run of one gradient scale or temperature, whatever it is).
template <class T>
inline bool same_value(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Class weights: nullptr when all ones given as a broadcast scalar.
template <class T>
inline const T* weight_row(const char* p, npy_intp stride, npy_intp n, int which) {
  if (stride == 0 && (n == 0 || load<T>(p) == T(1))) return nullptr;
  return row_in<T, T>(p, stride, n, which);
}

// Whether m rows of `bytes` each, starting at a and b with byte strides sa and sb, share memory.
inline bool row_spans_overlap(const char* a, npy_intp sa, const char* b, npy_intp sb, npy_intp m, npy_intp bytes) {
  const auto span = [&](const char* p, npy_intp s, const char*& lo, const char*& hi) {
    const npy_intp last = (m - 1) * s;
    lo = p + (last < 0 ? last : 0);
    hi = p + (last > 0 ? last : 0) + bytes;
  };
  const char *alo, *ahi, *blo, *bhi;
  span(a, sa, alo, ahi);
  span(b, sb, blo, bhi);
  return alo < bhi && blo < ahi;
}

template <class T, bool GRAD>
void ce_hard_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto& table = active_kernels().get<T>();
  const auto f = table.cross_entropy_hard;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 9 : 8;  // x, t, w, W, eps, g, T, loss[, grad]
  const npy_intp xs = steps[nargs], ws = steps[nargs + 1];
  const auto one_row = [&](npy_intp r) {
    const T* x = row_in<T, T>(args[0] + r * steps[0], xs, n, 0);
    const std::int64_t t = load<std::int64_t>(args[1] + r * steps[1]);
    const T* w = weight_row<T>(args[2] + r * steps[2], ws, n, 2);
    const T W = load<T>(args[3] + r * steps[3]), eps = load<T>(args[4] + r * steps[4]);
    const T g = load<T>(args[5] + r * steps[5]);
    const double temp = load<double>(args[6] + r * steps[6]);
    T* grad = nullptr;
    if constexpr (GRAD) grad = row_out<T, T>(args[8] + r * steps[8], steps[nargs + 2], n, 1);
    // a label >= n (unchecked: validate=False) has no class: NaN loss and gradient row
    const T nan = std::numeric_limits<T>::quiet_NaN();
    if constexpr (GRAD)
      if (t >= n) std::fill(grad, grad + n, nan);
    const T loss = (t >= n) ? nan : f(x, std::size_t(n), t, w, W, eps, g, grad, temp);
    std::memcpy(args[7] + r * steps[7], &loss, sizeof(T));
    if constexpr (GRAD) row_done<T, T>(grad, args[8] + r * steps[8], steps[nargs + 2], n);
  };
  // With the gradient, rows contiguous along the classes, without class weights, smoothing or
  // temperature, the gradient not over the logits: a block of rows in one call of
  // cross_entropy_hard_rows (the same bits as one_row).
  constexpr npy_intp kRows = 64;
  constexpr npy_intp e = npy_intp(sizeof(T));
  bool layout_fits = false;  // (the same for every block of this call)
  if constexpr (GRAD) {
    const npy_intp gs = steps[nargs + 2];  // the gradient's stride along the classes
    // (gradient rows apart from each other: a row's exps are stored there until its queued pass)
    layout_fits = n > 0 && xs == e && gs == e && steps[0] % e == 0 && steps[8] % e == 0 &&
                  (steps[8] >= n * e || steps[8] <= -n * e) && steps[2] == 0 && ws == 0 && load<T>(args[2]) == T(1);
  }
  const auto block = [&](npy_intp r0, npy_intp m) {
    if constexpr (!GRAD) {
      return false;
    } else {
      if (!layout_fits) return false;
      std::int64_t t[kRows];
      T g[kRows], loss[kRows];
      for (npy_intp j = 0; j < m; ++j) {
        const npy_intp r = r0 + j;
        t[j] = load<std::int64_t>(args[1] + r * steps[1]);
        g[j] = load<T>(args[5] + r * steps[5]);
        // (ε = -0 is not taken: a label entry of -0 keeps its sign in cross_entropy_hard)
        const T eps = load<T>(args[4] + r * steps[4]);
        if (t[j] >= n || load<T>(args[3] + r * steps[3]) != T(n) || eps != T(0) || std::signbit(eps) ||
            load<double>(args[6] + r * steps[6]) != 1.0)
          return false;
      }
      const char* x0 = args[0] + r0 * steps[0];
      char* g0 = args[8] + r0 * steps[8];
      if (row_spans_overlap(x0, steps[0], g0, steps[8], m, n * e)) return false;
      table.cross_entropy_hard_rows(reinterpret_cast<const T*>(x0), steps[0] / e, reinterpret_cast<T*>(g0),
                                    steps[8] / e, std::size_t(m), std::size_t(n), t, g, loss);
      for (npy_intp j = 0; j < m; ++j) std::memcpy(args[7] + (r0 + j) * steps[7], &loss[j], sizeof(T));
      return true;
    }
  };
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r0 = rb; r0 < re; r0 += kRows) {
      const npy_intp m = re - r0 < kRows ? re - r0 : kRows;
      if (block(r0, m)) continue;
      for (npy_intp r = r0; r < r0 + m; ++r) one_row(r);
    }
  });
}

template <class T, bool GRAD>
void ce_soft_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().cross_entropy_soft;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 8 : 7;  // x, y, w, eps, g, T, loss[, grad]
  const npy_intp xs = steps[nargs], ys = steps[nargs + 1], ws = steps[nargs + 2];
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const T* x = row_in<T, T>(args[0] + r * steps[0], xs, n, 0);
      const T* y = row_in<T, T>(args[1] + r * steps[1], ys, n, 3);
      const T* w = weight_row<T>(args[2] + r * steps[2], ws, n, 2);
      const T eps = load<T>(args[3] + r * steps[3]), g = load<T>(args[4] + r * steps[4]);
      const double temp = load<double>(args[5] + r * steps[5]);
      T* grad = nullptr;
      if constexpr (GRAD) grad = row_out<T, T>(args[7] + r * steps[7], steps[nargs + 3], n, 1);
      const T loss = f(x, y, std::size_t(n), w, eps, g, grad, temp);
      std::memcpy(args[6] + r * steps[6], &loss, sizeof(T));
      if constexpr (GRAD) row_done<T, T>(grad, args[7] + r * steps[7], steps[nargs + 3], n);
    }
  });
}

template <class T, bool GRAD>
void entropy_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto& table = active_kernels().get<T>();
  const auto f = table.entropy;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 5 : 4;  // x, g, T, H[, grad]
  const npy_intp xs = steps[nargs];
  const auto one_row = [&](npy_intp r) {
    const T* x = row_in<T, T>(args[0] + r * steps[0], xs, n, 0);
    const T g = load<T>(args[1] + r * steps[1]);
    const double temp = load<double>(args[2] + r * steps[2]);
    T* grad = nullptr;
    if constexpr (GRAD) grad = row_out<T, T>(args[4] + r * steps[4], steps[nargs + 1], n, 1);
    const T h = f(x, std::size_t(n), g, grad, temp);
    std::memcpy(args[3] + r * steps[3], &h, sizeof(T));
    if constexpr (GRAD) row_done<T, T>(grad, args[4] + r * steps[4], steps[nargs + 1], n);
  };
  // Contiguous rows at temperature 1 (the gradient's rows contiguous too, the logits' rows
  // themselves or apart from them): a block of rows in one call of entropy_rows, which takes
  // short rows several at a time (the same bits as one_row).
  constexpr npy_intp kRows = 64;
  constexpr npy_intp e = npy_intp(sizeof(T));
  bool layout_fits = n > 0 && xs == e && steps[0] == n * e;
  if constexpr (GRAD) layout_fits = layout_fits && steps[nargs + 1] == e && steps[4] == n * e;
  const auto block = [&](npy_intp r0, npy_intp m) {
    if (!layout_fits) return false;
    T g[kRows], h[kRows];
    for (npy_intp j = 0; j < m; ++j) {
      if (load<double>(args[2] + (r0 + j) * steps[2]) != 1.0) return false;
      g[j] = load<T>(args[1] + (r0 + j) * steps[1]);
    }
    const char* x0 = args[0] + r0 * steps[0];
    T* grad = nullptr;
    if constexpr (GRAD) {
      char* g0 = args[4] + r0 * steps[4];
      if (g0 != x0 && row_spans_overlap(x0, steps[0], g0, steps[4], m, n * e)) return false;
      grad = reinterpret_cast<T*>(g0);
    }
    table.entropy_rows(reinterpret_cast<const T*>(x0), std::size_t(m), std::size_t(n), g, h, grad);
    for (npy_intp j = 0; j < m; ++j) std::memcpy(args[3] + (r0 + j) * steps[3], &h[j], sizeof(T));
    return true;
  };
  parallel_for(N, n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r0 = rb; r0 < re; r0 += kRows) {
      const npy_intp m = re - r0 < kRows ? re - r0 : kRows;
      if (block(r0, m)) continue;
      for (npy_intp r = r0; r < r0 + m; ++r) one_row(r);
    }
  });
}

// Two rows of logits in, one value per row out (and a gradient row): kl_divergence, js_divergence.
template <class T, bool GRAD, class F>
void two_row_loop(char** args, const npy_intp* dims, const npy_intp* steps, F f) {
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 6 : 5;  // p, q, g, T, value[, grad]
  const npy_intp ps = steps[nargs], qs = steps[nargs + 1];
  parallel_for(N, 2 * n, 1, [&](npy_intp rb, npy_intp re) {
    for (npy_intp r = rb; r < re; ++r) {
      const T* p = row_in<T, T>(args[0] + r * steps[0], ps, n, 0);
      const T* q = row_in<T, T>(args[1] + r * steps[1], qs, n, 3);
      const T g = load<T>(args[2] + r * steps[2]);
      const double temp = load<double>(args[3] + r * steps[3]);
      T* grad = nullptr;
      if constexpr (GRAD) grad = row_out<T, T>(args[5] + r * steps[5], steps[nargs + 2], n, 1);
      const T v = f(p, q, std::size_t(n), g, grad, temp);
      std::memcpy(args[4] + r * steps[4], &v, sizeof(T));
      if constexpr (GRAD) row_done<T, T>(grad, args[5] + r * steps[5], steps[nargs + 2], n);
    }
  });
}

template <class T, bool GRAD>
void kl_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  two_row_loop<T, GRAD>(args, dims, steps, active_kernels().get<T>().kl_divergence);
}

template <class T, bool GRAD>
void js_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  two_row_loop<T, GRAD>(args, dims, steps, active_kernels().get<T>().js_divergence);
}

template <class T, bool GRAD>
void distillation_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().distillation;
  const npy_intp N = dims[0], n = dims[1];
  constexpr int nargs = GRAD ? 9 : 8;  // s, t, label, a_kl, a_ce, eps, T, loss[, grad]
  const npy_intp ss = steps[nargs], ts = steps[nargs + 1];
  parallel_for(N, 3 * n, 1, [&](npy_intp rb, npy_intp re) {
    T* scratch = GRAD ? static_cast<T*>(scratch_bytes(2, std::size_t(n) * sizeof(T))) : nullptr;
    for (npy_intp r = rb; r < re; ++r) {
      const T* s = row_in<T, T>(args[0] + r * steps[0], ss, n, 0);
      const T* t = row_in<T, T>(args[1] + r * steps[1], ts, n, 3);
      const std::int64_t label = load<std::int64_t>(args[2] + r * steps[2]);
      const T a_kl = load<T>(args[3] + r * steps[3]), a_ce = load<T>(args[4] + r * steps[4]);
      const T eps = load<T>(args[5] + r * steps[5]);
      const double temp = load<double>(args[6] + r * steps[6]);
      T* grad = nullptr;
      if constexpr (GRAD) grad = row_out<T, T>(args[8] + r * steps[8], steps[nargs + 2], n, 1);
      // a label >= n (unchecked: validate=False) has no class: NaN loss and gradient row
      T loss;
      if (label >= n) {
        loss = std::numeric_limits<T>::quiet_NaN();
        if constexpr (GRAD) std::fill(grad, grad + n, loss);
      } else {
        loss = f(s, t, std::size_t(n), label, a_kl, a_ce, eps, grad, scratch, temp);
      }
      std::memcpy(args[7] + r * steps[7], &loss, sizeof(T));
      if constexpr (GRAD) row_done<T, T>(grad, args[8] + r * steps[8], steps[nargs + 2], n);
    }
  });
}

// The elementwise divergences: NIN array inputs (x, or p and q), then g and T (float64), then the
// value[, gradient]. A run of contiguous elements with one g and T is one kernel call; strided
// elements are gathered into runs with one g and T (an element's result depends on it alone, so
// the runs' bounds change no bit).
template <class T, bool GRAD, int NIN, class Call>
void binary_divergence_loop(char** args, const npy_intp* dims, const npy_intp* steps, Call call) {
  const npy_intp n = dims[0];
  constexpr int G = NIN, TT = NIN + 1, V = NIN + 2, GR = NIN + 3;
  bool contiguous = steps[G] == 0 && steps[TT] == 0 && steps[V] == npy_intp(sizeof(T)) &&
                    (!GRAD || steps[GR] == npy_intp(sizeof(T)));
  for (int k = 0; k < NIN; ++k) contiguous = contiguous && steps[k] == npy_intp(sizeof(T));
  parallel_for(n, 64, 256, [&](npy_intp b, npy_intp e) {
    if (contiguous) {
      const T* in[NIN];
      for (int k = 0; k < NIN; ++k) in[k] = reinterpret_cast<const T*>(args[k]) + b;
      T* gr = GRAD ? reinterpret_cast<T*>(args[GR]) + b : nullptr;
      call(in, std::size_t(e - b), load<T>(args[G]), reinterpret_cast<T*>(args[V]) + b, gr,
           load<double>(args[TT]));
      return;
    }
    // Strided elements are gathered into runs of up to `chunk` that share g and T (every element
    // where both are broadcast; one at a time where T varies per element), one kernel call each.
    constexpr npy_intp chunk = 256;
    T in_v[NIN][chunk], v[chunk], gv[chunk];
    for (npy_intp i = b; i < e;) {
      const T g = load<T>(args[G] + i * steps[G]);
      const double temp = load<double>(args[TT] + i * steps[TT]);
      npy_intp m = 0;
      for (; m < chunk && i + m < e; ++m) {
        const npy_intp j = i + m;
        if (m > 0 && (!same_value(load<T>(args[G] + j * steps[G]), g) ||
                      !same_value(load<double>(args[TT] + j * steps[TT]), temp)))
          break;
        for (int k = 0; k < NIN; ++k) in_v[k][m] = load<T>(args[k] + j * steps[k]);
      }
      const T* in[NIN];
      for (int k = 0; k < NIN; ++k) in[k] = in_v[k];
      call(in, std::size_t(m), g, v, GRAD ? gv : nullptr, temp);
      for (npy_intp r = 0; r < m; ++r) {
        std::memcpy(args[V] + (i + r) * steps[V], &v[r], sizeof(T));
        if constexpr (GRAD) std::memcpy(args[GR] + (i + r) * steps[GR], &gv[r], sizeof(T));
      }
      i += m;
    }
  });
}

template <class T, bool GRAD>
void binary_entropy_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().binary_entropy;
  binary_divergence_loop<T, GRAD, 1>(args, dims, steps,
                                     [f](const T* const* in, std::size_t m, T g, T* v, T* gr, double t) {
                                       f(in[0], m, g, v, gr, t);
                                     });
}

template <class T, bool GRAD>
void binary_kl_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().binary_kl_divergence;
  binary_divergence_loop<T, GRAD, 2>(args, dims, steps,
                                     [f](const T* const* in, std::size_t m, T g, T* v, T* gr, double t) {
                                       f(in[0], in[1], m, g, v, gr, t);
                                     });
}

template <class T, bool GRAD>
void bce_loop(char** args, const npy_intp* dims, const npy_intp* steps, void*) {
  FlagGuard guard;
  const auto f = active_kernels().get<T>().bce_with_logits;
  const npy_intp n = dims[0];
  // inputs x, y, pos_weight, weight, eps, gscale, temperature, bias (the last two float64);
  // outputs loss[, grad]. eps and gscale are scalars in every call the Python layer makes;
  // elsewhere they are read per chunk element run.
  constexpr int LO = 8, GR = 9;
  constexpr npy_intp chunk = 1024;
  T cst[2][chunk];
  double dcst[2][chunk];
  const bool fast_xy = steps[0] == npy_intp(sizeof(T)) && steps[1] == npy_intp(sizeof(T)) &&
                       steps[LO] == npy_intp(sizeof(T)) && (!GRAD || steps[GR] == npy_intp(sizeof(T))) &&
                       steps[4] == 0 && steps[5] == 0;
  // A broadcast weight or pos_weight of exactly 1 is passed as null (the kernel's "all ones"), so an
  // unweighted call takes the kernel's plain variant, as the one-pass reductions do; so are a
  // broadcast temperature of 1 and bias of 0 (the kernel's T = 1, b = 0 path, bit for bit).
  const T* cptr[2] = {cst[0], cst[1]};
  for (int k : {2, 3})
    if (steps[k] == 0) {
      for (npy_intp j = 0; j < chunk; ++j) cst[k - 2][j] = load<T>(args[k]);
      if (steps[4] == 0 && steps[5] == 0 && cst[k - 2][0] == T(1)) cptr[k - 2] = nullptr;
    }
  const double* dptr[2] = {dcst[0], dcst[1]};
  for (int k : {6, 7})
    if (steps[k] == 0) {
      const double v = load<double>(args[k]);
      for (npy_intp j = 0; j < chunk; ++j) dcst[k - 6][j] = v;
      if (v == (k == 6 ? 1.0 : 0.0)) dptr[k - 6] = nullptr;
    }
  parallel_for(n, 4, chunk, [&](npy_intp lo_i, npy_intp hi_i) {
  T buf[6][chunk];
  double dbuf[2][chunk];
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
    const double* tb[2];
    for (int k : {6, 7}) {
      if (steps[k] == 0) {
        tb[k - 6] = dptr[k - 6];
      } else if (steps[k] == npy_intp(sizeof(double))) {
        tb[k - 6] = reinterpret_cast<const double*>(args[k] + i * steps[k]);
      } else {
        gather<double>(args[k] + i * steps[k], steps[k], m, dbuf[k - 6]);
        tb[k - 6] = dbuf[k - 6];
      }
    }
    T* lo = fast_xy ? reinterpret_cast<T*>(args[LO]) + i : buf[4];
    T* go = GRAD ? (fast_xy ? reinterpret_cast<T*>(args[GR]) + i : buf[5]) : nullptr;
    if (steps[4] == 0 && steps[5] == 0) {
      f(in[0], in[1], in[2], in[3], load<T>(args[4]), load<T>(args[5]), lo, go, std::size_t(m), tb[0], tb[1]);
    } else {
      for (npy_intp j = 0; j < m; ++j)
        f(in[0] + j, in[1] + j, in[2] ? in[2] + j : nullptr, in[3] ? in[3] + j : nullptr,
          load<T>(args[4] + (i + j) * steps[4]), load<T>(args[5] + (i + j) * steps[5]), lo + j,
          go ? go + j : nullptr, 1, tb[0] ? tb[0] + j : nullptr, tb[1] ? tb[1] + j : nullptr);
    }
    if (!fast_xy) {
      scatter<T>(buf[4], m, args[LO] + i * steps[LO], steps[LO]);
      if constexpr (GRAD) scatter<T>(buf[5], m, args[GR] + i * steps[GR], steps[GR]);
    }
  }
  });
}

// ---------------------------------------------------------------- small-call paths
// The one-call paths of cross_entropy[_with_grad] (hard labels) and binary_cross_entropy_with_logits
// [_with_grad] (mean, sum). python/logitkit/losses.py decides when they apply (_ce_small_call,
// _bce_one_pass); here the arrays become views of the C++ API (api.hpp), which checks the labels and
// targets, runs the rows and takes the reduction. Input outside that decision is refused with
// TypeError or ValueError, never read.

// A Status of the C++ API as a Python exception, the one way it becomes one: the message is
// describe()'s, with `argument` (the Python name, when not null) in place of the C++ argument's and
// positions in the array's shape (shape, ndim). A bad label or target raises
// logitkit.InvalidTargetError (a ValueError) with position (a tuple) and value.
[[noreturn]] void raise_status(lk::Status s, const char* argument, const npy_intp* shape, int ndim) {
  if (argument) s.argument = argument;
  std::size_t shp[32], idx[32];
  const std::size_t nd = ndim > 0 && ndim <= 32 ? std::size_t(ndim) : 0;
  for (std::size_t d = 0; d < nd; ++d) shp[d] = std::size_t(shape[d]);
  char msg[512];
  lk::describe(s, msg, sizeof msg, nd ? shp : nullptr, nd);
  if (s.code == lk::Errc::out_of_memory) throw std::bad_alloc();
  if (s.code != lk::Errc::invalid_label && s.code != lk::Errc::invalid_target) throw py::value_error(msg);
  const std::size_t n = lk::status_position(s, idx, nd ? shp : nullptr, nd);
  py::tuple position(n);
  for (std::size_t d = 0; d < n; ++d) position[d] = py::int_(idx[d]);
  py::object value;
  if (s.has_label)
    value = s.label_unsigned ? py::int_(static_cast<unsigned long long>(static_cast<std::uint64_t>(s.label)))
                             : py::int_(static_cast<long long>(s.label));
  else
    value = py::float_(s.value);
  py::object cls = py::module_::import("logitkit._validation").attr("InvalidTargetError");
  py::object exc = cls(msg, py::arg("position") = position, py::arg("value") = value);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

// describe()'s text for an error that Python found itself (logitkit._validation formats every
// target, label, weight and option error through it): `kind` names a rule of lk::messages, or
// "invalid_label"; position is the element's index in the user's array.
std::string describe_status(const std::string& kind, const std::string& argument, py::object value,
                            py::tuple position, py::int_ label, std::size_t classes, long long ignore_index) {
  static const std::pair<const char*, std::pair<lk::Errc, const char*>> rules[] = {
      {"probabilities_in_unit", {lk::Errc::invalid_target, lk::messages::probabilities_in_unit}},
      {"probabilities_not_nan", {lk::Errc::invalid_target, lk::messages::probabilities_not_nan}},
      {"probabilities_nonnegative", {lk::Errc::invalid_target, lk::messages::probabilities_nonnegative}},
      {"row_sum", {lk::Errc::invalid_target, lk::messages::row_sum}},
      {"unit_interval", {lk::Errc::invalid_argument, lk::messages::unit_interval}},
      {"weight_nonnegative", {lk::Errc::invalid_weight, lk::messages::weight_nonnegative}},
      {"positive_finite", {lk::Errc::invalid_argument, lk::messages::positive_finite}},
      {"distillation_temperature", {lk::Errc::invalid_argument, lk::messages::distillation_temperature}},
  };
  lk::Status s;
  s.argument = argument.c_str();
  if (kind == "invalid_label") {
    s.code = lk::Errc::invalid_label;
    s.has_label = true;
    // a label beyond int64 (an unsigned dtype's) keeps its bits, as ce_hard reports it
    s.label_unsigned = label > py::int_(std::numeric_limits<std::int64_t>::max());
    s.label = s.label_unsigned ? static_cast<std::int64_t>(label.cast<unsigned long long>())
                               : static_cast<std::int64_t>(label.cast<long long>());
    s.classes = classes;
    s.ignore_index = ignore_index;
  } else {
    bool found = false;
    for (const auto& r : rules)
      if (kind == r.first) {
        s.code = r.second.first;
        s.what = r.second.second;
        found = true;
      }
    if (!found) throw py::value_error("describe_status: unknown kind " + kind);
  }
  if (!value.is_none()) {
    s.has_value = true;
    s.value = value.cast<double>();
  }
  const std::size_t n = position.size();
  if (n > 32) throw py::value_error("describe_status: at most 32 indices");
  std::size_t idx[32];
  for (std::size_t d = 0; d < n; ++d) idx[d] = position[d].cast<std::size_t>();
  s.has_row = n > 0;
  char msg[512];
  lk::describe_at(s, idx, n, msg, sizeof msg);
  return msg;
}

bool same_shape(PyArrayObject* a, PyArrayObject* b) {
  return PyArray_NDIM(a) == PyArray_NDIM(b) && PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(b), PyArray_NDIM(a));
}

PyArrayObject* new_array(int nd, const npy_intp* dims, int type, py::object& owner) {
  PyObject* a = PyArray_EMPTY(nd, const_cast<npy_intp*>(dims), type, 0);
  if (!a) throw py::error_already_set();
  owner = py::reinterpret_steal<py::object>(a);
  return reinterpret_cast<PyArrayObject*>(a);
}

template <class T>
py::object scalar(T value, int type) {
  PyArray_Descr* descr = PyArray_DescrFromType(type);
  PyObject* sc = PyArray_Scalar(&value, descr, nullptr);
  Py_DECREF(descr);
  if (!sc) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(sc);
}

// The array half of the one-call paths' decision (losses.py decides on the options, these on the
// arrays; no condition is checked on both sides), read in C because these facts cost more to read
// from Python than a small call itself. An exact ndarray,
// C-contiguous, aligned, native byte order, of `type`:
bool exact_plain(py::handle h, int type) { return PyArray_CheckExact(h.ptr()) && plain_array(h.ptr(), type); }

// out= for a gradient of x's shape that a one-call path writes as it is: x itself, writeable (in
// place), or a plain writeable array of x's dtype and shape apart from every input (one that starts
// exactly at x's data counts as x).
bool out_usable(py::handle outh, PyArrayObject* x, std::initializer_list<py::handle> inputs) {
  if (outh.ptr() == reinterpret_cast<PyObject*>(x)) {
    if (!PyArray_ISWRITEABLE(x)) return false;
    for (py::handle a : inputs)
      if (!a.is_none() && a.ptr() != outh.ptr() && extents_overlap(x, reinterpret_cast<PyArrayObject*>(a.ptr())))
        return false;
    return true;
  }
  if (!plain_out(outh.ptr(), PyArray_TYPE(x))) return false;
  auto* out = reinterpret_cast<PyArrayObject*>(outh.ptr());
  if (PyArray_NDIM(out) != PyArray_NDIM(x) || !PyArray_CompareLists(PyArray_DIMS(out), PyArray_DIMS(x), PyArray_NDIM(x)))
    return false;
  for (py::handle a : inputs) {
    if (a.is_none()) continue;
    auto* aa = reinterpret_cast<PyArrayObject*>(a.ptr());
    if (extents_overlap(out, aa) && !(aa == x && PyArray_DATA(out) == PyArray_DATA(x))) return false;
  }
  return true;
}

// cross_entropy's one call takes these arrays as they are: (N, C) float32/float64 logits with
// C > 1 (one class is diagnosed in Python) and N·C <= small_call_elements, (N,) int64 labels, out None or usable.
bool ce_small_layout(py::handle xh, py::handle th, py::handle outh) {
  if (!PyArray_CheckExact(xh.ptr())) return false;
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x) != 2 || !exact_plain(xh, type)) return false;
  const npy_intp N = PyArray_DIM(x, 0), C = PyArray_DIM(x, 1);
  if (C <= 1 || N * C > npy_intp(parallel_grain) || !exact_plain(th, NPY_INT64)) return false;
  auto* t = reinterpret_cast<PyArrayObject*>(th.ptr());
  if (PyArray_NDIM(t) != 1 || PyArray_DIM(t, 0) != N) return false;
  return outh.is_none() || out_usable(outh, x, {xh});
}

// BCE's one pass takes these operands as they are: x a non-empty float32/float64 array of at least
// one dimension, y, pos_weight and weight (each None or) plain arrays of x's dtype, out None or usable.
bool bce_direct_layout(py::handle xh, py::handle yh, py::handle pwh, py::handle wh, py::handle outh) {
  if (!PyArray_CheckExact(xh.ptr())) return false;
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x) == 0 || PyArray_SIZE(x) == 0) return false;
  return exact_plain(xh, type) && exact_plain(yh, type) && (pwh.is_none() || exact_plain(pwh, type)) &&
         (wh.is_none() || exact_plain(wh, type)) && (outh.is_none() || out_usable(outh, x, {xh, yh, pwh, wh}));
}

// cross_entropy[_with_grad], hard labels: (N, C) logits, (N,) int64 labels, no class or sample
// weights. reduction: 0 mean, 1 sum, 2 none.
template <class T>
py::object ce_hard_small_typed(PyArrayObject* x, PyArrayObject* t, T eps, int reduction, std::int64_t ignore,
                               bool want_grad, PyArrayObject* out, int type) {
  const npy_intp N = PyArray_DIM(x, 0), C = PyArray_DIM(x, 1);
  lk::CrossEntropyOptions<T> o;
  o.ignore_index = ignore;
  o.label_smoothing = eps;
  o.reduction = reduction == 0 ? lk::Reduction::mean : reduction == 1 ? lk::Reduction::sum : lk::Reduction::none;
  py::object grad_obj, items_obj;
  T* gd = nullptr;
  if (want_grad) {
    const npy_intp dims[2] = {N, C};
    PyArrayObject* g = out ? out : new_array(2, dims, type, grad_obj);
    if (out) grad_obj = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
    gd = static_cast<T*>(PyArray_DATA(g));
  }
  T value = T(0);
  lk::VectorView<T> loss(&value, 1);
  if (reduction == 2) loss = lk::VectorView<T>(static_cast<T*>(PyArray_DATA(new_array(1, &N, type, items_obj))), std::size_t(N));
  const lk::MatrixView<const T> xv(static_cast<const T*>(PyArray_DATA(x)), std::size_t(N), std::size_t(C));
  const auto labels = lk::vec(static_cast<const std::int64_t*>(PyArray_DATA(t)), std::size_t(N));
  lk::Status st;
  {
    FlagGuard guard;
    st = gd ? lk::cross_entropy_with_grad<T>(xv, labels, loss, lk::view(gd, std::size_t(N), std::size_t(C)), o)
            : lk::cross_entropy<T>(xv, labels, loss, o);
  }
  if (!st) raise_status(st, st.code == lk::Errc::invalid_argument ? nullptr : "target", PyArray_DIMS(t), 1);
  py::object result = reduction == 2 ? items_obj : scalar<T>(value, type);
  if (want_grad) return py::make_tuple(result, grad_obj);
  return result;
}

// The options' half of the one-call decision, read from the Python objects as passed: no class or
// sample weights, the class axis -1, an int ignore_index within int64, a float or int
// label_smoothing in [0, 1], reduction "mean", "sum" or "none", temperature the float 1.0 (other
// temperatures take the gufuncs, whose rows reach the same kernel), out only with the gradient.
// Exact types only (a bool or NumPy scalar takes the general path, whose checks explain it).
bool ce_small_options(py::handle axis, py::handle weight, py::handle ignore, py::handle eps, py::handle reduction,
                      py::handle sample_weight, bool want_grad, py::handle out, py::handle temperature,
                      long long& ignore_v, double& eps_v, int& reduction_v) {
  if (!weight.is_none() || !sample_weight.is_none() || (!want_grad && !out.is_none())) return false;
  int overflow = 0;
  if (!PyLong_CheckExact(axis.ptr()) || PyLong_AsLongAndOverflow(axis.ptr(), &overflow) != -1 || overflow)
    return false;
  if (!PyFloat_CheckExact(temperature.ptr()) || PyFloat_AS_DOUBLE(temperature.ptr()) != 1.0) return false;
  if (!PyLong_CheckExact(ignore.ptr())) return false;
  ignore_v = PyLong_AsLongLongAndOverflow(ignore.ptr(), &overflow);
  if (overflow) return false;
  if (PyFloat_CheckExact(eps.ptr())) {
    eps_v = PyFloat_AS_DOUBLE(eps.ptr());
  } else if (PyLong_CheckExact(eps.ptr())) {
    const long v = PyLong_AsLongAndOverflow(eps.ptr(), &overflow);
    if (overflow) return false;
    eps_v = double(v);
  } else {
    return false;
  }
  if (!(eps_v >= 0.0 && eps_v <= 1.0)) return false;
  if (!PyUnicode_CheckExact(reduction.ptr())) return false;
  static const char* const names[3] = {"mean", "sum", "none"};
  for (reduction_v = 0; reduction_v < 3; ++reduction_v)
    if (PyUnicode_CompareWithASCIIString(reduction.ptr(), names[reduction_v]) == 0) return true;
  return false;
}

// cross_entropy[_with_grad] in one call: the options as the user passed them (ce_small_options) and
// the arrays as they are (ce_small_layout); None where either declines: the caller takes the
// general path. Python decides nothing before calling (its predicate cost more than the call).
py::object ce_hard_small(py::handle xh, py::handle th, py::handle axis, py::handle weight, py::handle ignore,
                         py::handle eps, py::handle reduction, py::handle sample_weight, bool want_grad,
                         py::handle outh, py::handle temperature) {
  long long ig = 0;
  double e = 0;
  int red = 0;
  if (!ce_small_options(axis, weight, ignore, eps, reduction, sample_weight, want_grad, outh, temperature, ig, e, red))
    return py::none();
  const py::handle o = want_grad ? outh : py::none();
  if (!ce_small_layout(xh, th, o)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  auto* t = reinterpret_cast<PyArrayObject*>(th.ptr());
  auto* out = o.is_none() ? nullptr : reinterpret_cast<PyArrayObject*>(o.ptr());
  const int type = PyArray_TYPE(x);
  if (type == NPY_FLOAT)
    return ce_hard_small_typed<float>(x, t, float(e), red, std::int64_t(ig), want_grad, out, type);
  return ce_hard_small_typed<double>(x, t, e, red, std::int64_t(ig), want_grad, out, type);
}

// The one-call paths of the row reductions (entropy, KL, JS) take the options that are the
// defaults, as passed: axis the int -1, temperature the float 1.0.
bool default_axis_and_temperature(py::handle axis, py::handle temperature) {
  int overflow = 0;
  if (!PyLong_CheckExact(axis.ptr()) || PyLong_AsLongAndOverflow(axis.ptr(), &overflow) != -1 || overflow)
    return false;
  return PyFloat_CheckExact(temperature.ptr()) && PyFloat_AS_DOUBLE(temperature.ptr()) == 1.0;
}

// ... and logits they take as they are: float32/float64 (C,) or (N, C) (exact_plain) with C > 1
// (one class is diagnosed in Python), N > 0 and N·C <= small_call_elements; N, C and the type out.
bool small_rows_layout(py::handle h, npy_intp& N, npy_intp& C, int& type) {
  if (!PyArray_CheckExact(h.ptr())) return false;
  auto* x = reinterpret_cast<PyArrayObject*>(h.ptr());
  const int nd = PyArray_NDIM(x);
  type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || (nd != 1 && nd != 2) || !exact_plain(h, type)) return false;
  C = PyArray_DIM(x, nd - 1), N = nd == 1 ? 1 : PyArray_DIM(x, 0);
  return C > 1 && N > 0 && N * C <= npy_intp(parallel_grain);
}

// ... and a reduction, as passed, that is the str "none", "mean" or "sum" (mean: whether "mean").
bool none_mean_or_sum(py::handle reduction, bool& mean) {
  if (!PyUnicode_CheckExact(reduction.ptr())) return false;
  mean = PyUnicode_CompareWithASCIIString(reduction.ptr(), "mean") == 0;
  return mean || PyUnicode_CompareWithASCIIString(reduction.ptr(), "none") == 0 ||
         PyUnicode_CompareWithASCIIString(reduction.ptr(), "sum") == 0;
}

// A one-call path's outputs: the rows' values (an array of the rows' shape, 0-d for one row: the
// general path's before its reduction) and, with want_grad, the gradient (x's shape).
template <class T>
struct SmallRowsOut {
  py::object v_obj, grad_obj;
  T* v;
  T* grad = nullptr;
  SmallRowsOut(PyArrayObject* x, bool want_grad, int type) {
    const int nd = PyArray_NDIM(x);
    v = static_cast<T*>(PyArray_DATA(new_array(nd - 1, PyArray_DIMS(x), type, v_obj)));
    if (want_grad) grad = static_cast<T*>(PyArray_DATA(new_array(nd, PyArray_DIMS(x), type, grad_obj)));
  }
  py::object result() const { return grad ? py::object(py::make_tuple(v_obj, grad_obj)) : v_obj; }
};

// entropy[_with_grad] in one call: logits as small_rows_layout takes them, the default axis and
// temperature (default_axis_and_temperature), where None, reduction "none", "mean" or "sum". The
// rows go to entropy_rows, as the gufunc's do (the same bits), with the gradient scale the general
// path gives them (1/N for "mean"); _divergence.py applies the reduction. None where anything does
// not fit: the caller takes the general path.
template <class T>
py::object entropy_small_typed(PyArrayObject* x, npy_intp N, npy_intp C, bool mean, bool want_grad, int type) {
  SmallRowsOut<T> out(x, want_grad, type);
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  constexpr npy_intp kRows = 256;
  T g[kRows];
  std::fill(g, g + kRows, mean ? T(1.0 / double(N)) : T(1));
  {
    FlagGuard guard;
    const auto f = active_kernels().get<T>().entropy_rows;
    for (npy_intp r0 = 0; r0 < N; r0 += kRows) {
      const npy_intp m = N - r0 < kRows ? N - r0 : kRows;
      f(xd + r0 * C, std::size_t(m), std::size_t(C), g, out.v + r0, out.grad ? out.grad + r0 * C : nullptr);
    }
  }
  return out.result();
}

py::object entropy_small(py::handle xh, py::handle axis, py::handle temperature, py::handle where,
                         py::handle reduction, bool want_grad) {
  bool mean = false;
  if (!where.is_none() || !default_axis_and_temperature(axis, temperature) || !none_mean_or_sum(reduction, mean))
    return py::none();
  npy_intp N, C;
  int type;
  if (!small_rows_layout(xh, N, C, type)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  if (type == NPY_FLOAT) return entropy_small_typed<float>(x, N, C, mean, want_grad, type);
  return entropy_small_typed<double>(x, N, C, mean, want_grad, type);
}

// kl_divergence / js_divergence[_with_grad] in one call (kind 0: KL, 1: JS): p and q as
// small_rows_layout takes them, of one dtype and shape; the default axis and temperature. scale:
// the gradient's scale as the general path forms it, 0: 1, 1: 1/N, 2: 1/(N·C). Each row goes to
// the row kernel the gufunc loop calls (the same bits); _divergence.py applies the reduction. None
// where anything does not fit.
template <class T>
py::object divergence_small_typed(int kind, PyArrayObject* x, PyArrayObject* y, npy_intp N, npy_intp C, int scale,
                                  bool want_grad, int type) {
  SmallRowsOut<T> out(x, want_grad, type);
  const T* xd = static_cast<const T*>(PyArray_DATA(x));
  const T* yd = static_cast<const T*>(PyArray_DATA(y));
  const T g = T(scale == 0 ? 1.0 : 1.0 / double(scale == 1 ? N : N * C));
  {
    FlagGuard guard;
    const auto& table = active_kernels().get<T>();
    const auto f = kind == 0 ? table.kl_divergence : table.js_divergence;
    for (npy_intp r = 0; r < N; ++r)
      out.v[r] = f(xd + r * C, yd + r * C, std::size_t(C), g, out.grad ? out.grad + r * C : nullptr, 1.0);
  }
  return out.result();
}

py::object divergence_small(int kind, py::handle xh, py::handle yh, py::handle axis, py::handle temperature,
                            int scale, bool want_grad) {
  if ((kind != 0 && kind != 1) || scale < 0 || scale > 2) throw py::value_error("divergence_small: kind or scale");
  npy_intp N, C;
  int type;
  if (!default_axis_and_temperature(axis, temperature) || !small_rows_layout(xh, N, C, type) ||
      !exact_plain(yh, type))
    return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  auto* y = reinterpret_cast<PyArrayObject*>(yh.ptr());
  if (PyArray_NDIM(y) != PyArray_NDIM(x) || !PyArray_CompareLists(PyArray_DIMS(x), PyArray_DIMS(y), PyArray_NDIM(x)))
    return py::none();
  if (type == NPY_FLOAT) return divergence_small_typed<float>(kind, x, y, N, C, scale, want_grad, type);
  return divergence_small_typed<double>(kind, x, y, N, C, scale, want_grad, type);
}

// binary_entropy[_with_grad] in one call: x an exact, plain (C-contiguous, native) float32/float64
// array of at least one dimension and 1 to small_call_elements elements, temperature the float 1.0,
// reduction "none", "mean" or "sum". The elements go to the kernel the ufunc loop calls (each
// element's value depends on it alone: the same bits), with the gradient scale the general path
// forms (1/size for "mean"). Returns the values (x's shape) and the gradient with want_grad; None
// where anything does not fit.
template <class T>
py::object binary_entropy_small_typed(PyArrayObject* x, bool mean, bool want_grad, int type) {
  const int nd = PyArray_NDIM(x);
  const npy_intp n = PyArray_SIZE(x);
  py::object h_obj, grad_obj;
  T* h = static_cast<T*>(PyArray_DATA(new_array(nd, PyArray_DIMS(x), type, h_obj)));
  T* grad = want_grad ? static_cast<T*>(PyArray_DATA(new_array(nd, PyArray_DIMS(x), type, grad_obj))) : nullptr;
  const T g = mean ? T(1.0 / double(n)) : T(1);
  {
    FlagGuard guard;
    active_kernels().get<T>().binary_entropy(static_cast<const T*>(PyArray_DATA(x)), std::size_t(n), g, h, grad, 1.0);
  }
  if (want_grad) return py::make_tuple(h_obj, grad_obj);
  return h_obj;
}

py::object binary_entropy_small(py::handle xh, py::handle temperature, py::handle reduction, bool want_grad) {
  bool mean = false;
  if (!PyFloat_CheckExact(temperature.ptr()) || PyFloat_AS_DOUBLE(temperature.ptr()) != 1.0 ||
      !none_mean_or_sum(reduction, mean) || !PyArray_CheckExact(xh.ptr()))
    return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  const int type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_NDIM(x) == 0 || !exact_plain(xh, type)) return py::none();
  const npy_intp n = PyArray_SIZE(x);
  if (n == 0 || n > npy_intp(parallel_grain)) return py::none();
  if (type == NPY_FLOAT) return binary_entropy_small_typed<float>(x, mean, want_grad, type);
  return binary_entropy_small_typed<double>(x, mean, want_grad, type);
}

// binary_cross_entropy_with_logits[_with_grad], mean or sum: x and y of one float dtype and one shape
// (at least one dimension); pos_weight and weight each None, one value (0-d), a row of the last
// axis' length (per class) or an array of x's shape. The blocks run on the thread pool, without the
// GIL. A target outside [0, 1] raises InvalidTargetError (found when the sum is NaN).
template <class T>
py::object bce_reduced_typed(PyArrayObject* x, PyArrayObject* y, PyArrayObject* pw, PyArrayObject* w, T eps,
                             bool mean, bool want_grad, PyArrayObject* out, int type) {
  const int nd = PyArray_NDIM(x);
  const std::size_t n = std::size_t(PyArray_SIZE(x)), C = std::size_t(PyArray_DIM(x, nd - 1));
  const std::size_t rows = C ? n / C : 0;
  auto matrix = [&](PyArrayObject* a) {
    const T* d = static_cast<const T*>(PyArray_DATA(a));
    return lk::MatrixView<const T>(d, rows, C, std::ptrdiff_t(C), 1);
  };
  lk::BceOptions<T> o;
  o.label_smoothing = eps;
  o.reduction = mean ? lk::Reduction::mean : lk::Reduction::sum;
  o.validate = false;  // pos_weight: checked by the caller
  o.check_targets_after = true;
  if (w) {
    const T* d = static_cast<const T*>(PyArray_DATA(w));
    o.weight = PyArray_NDIM(w) == 0 ? lk::MatrixView<const T>(d, rows, C, 0, 0)
               : same_shape(w, x)   ? matrix(w)
                                    : lk::MatrixView<const T>(d, rows, C, 0, 1);
  }
  if (pw) {
    const T* d = static_cast<const T*>(PyArray_DATA(pw));
    if (PyArray_NDIM(pw) == 0) o.pos_weight = lk::vec(d, C, 0);
    else if (same_shape(pw, x)) o.pos_weight_elements = matrix(pw);
    else o.pos_weight = lk::vec(d, C, 1);
  }
  py::object grad_obj;
  T* gd = nullptr;
  if (want_grad) {
    PyArrayObject* g = out ? out : new_array(nd, PyArray_DIMS(x), type, grad_obj);
    if (out) grad_obj = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(out));
    gd = static_cast<T*>(PyArray_DATA(g));
  }
  T value = T(0);
  std::exception_ptr failure;
  const PoolFor par{failure};
  lk::Status st;
  {
    FlagGuard guard;
    py::gil_scoped_release release;
    const lk::MatrixView<T> lv(&value, 1, 1);
    st = gd ? lk::binary_cross_entropy_with_logits_with_grad<T>(matrix(x), matrix(y), lv,
                                                                lk::MatrixView<T>(gd, rows, C, std::ptrdiff_t(C), 1), o, par)
            : lk::binary_cross_entropy_with_logits<T>(matrix(x), matrix(y), lv, o, par);
  }
  if (failure) std::rethrow_exception(failure);
  if (!st) raise_status(st, nullptr, PyArray_DIMS(x), nd);
  py::object loss = scalar<T>(value, type);
  if (want_grad) return py::make_tuple(loss, grad_obj);
  return loss;
}

// None unless bce_direct_layout takes the operands as they are and each weight is None, one
// value, a per-class row or of x's shape: the caller then passes C-contiguous copies, or takes the
// general path.
py::object bce_reduced(py::handle xh, py::handle yh, py::handle pwh, py::handle wh, double eps, bool mean,
                       bool want_grad, py::handle outh) {
  const py::handle o = want_grad ? outh : py::none();
  if (!bce_direct_layout(xh, yh, pwh, wh, o)) return py::none();
  auto* x = reinterpret_cast<PyArrayObject*>(xh.ptr());
  auto* y = reinterpret_cast<PyArrayObject*>(yh.ptr());
  const int type = PyArray_TYPE(x), nd = PyArray_NDIM(x);
  if (!same_shape(x, y)) return py::none();
  auto weight = [&](py::handle h, bool& ok) -> PyArrayObject* {
    if (h.is_none()) return nullptr;
    auto* a = reinterpret_cast<PyArrayObject*>(h.ptr());
    ok = ok && (PyArray_NDIM(a) == 0 || same_shape(a, x) ||
                (PyArray_NDIM(a) == 1 && PyArray_DIM(a, 0) == PyArray_DIM(x, nd - 1)));
    return a;
  };
  bool ok = true;
  PyArrayObject* pw = weight(pwh, ok);
  PyArrayObject* w = weight(wh, ok);
  if (!ok) return py::none();
  auto* out = o.is_none() ? nullptr : reinterpret_cast<PyArrayObject*>(o.ptr());
  if (type == NPY_FLOAT) return bce_reduced_typed<float>(x, y, pw, w, float(eps), mean, want_grad, out, type);
  return bce_reduced_typed<double>(x, y, pw, w, eps, mean, want_grad, out, type);
}

// The temperature operand is float64 in every loop (as the row functions' temperature).
const char ce_hard_types[] = {NPY_FLOAT,  NPY_INT64, NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_DOUBLE, NPY_FLOAT,
                              NPY_DOUBLE, NPY_INT64, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char ce_hard_grad_types[] = {NPY_FLOAT,  NPY_INT64,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,
                                   NPY_DOUBLE, NPY_FLOAT,  NPY_FLOAT,  NPY_DOUBLE, NPY_INT64,  NPY_DOUBLE,
                                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char ce_soft_types[] = {NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_DOUBLE, NPY_FLOAT,
                              NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
const char ce_soft_grad_types[] = {NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_FLOAT,  NPY_DOUBLE, NPY_FLOAT,  NPY_FLOAT,
                                   NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
#define LK_F NPY_FLOAT
#define LK_D NPY_DOUBLE
const char entropy_types[] = {LK_F, LK_F, LK_D, LK_F, LK_D, LK_D, LK_D, LK_D};
const char entropy_grad_types[] = {LK_F, LK_F, LK_D, LK_F, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D};
const char kl_types[] = {LK_F, LK_F, LK_F, LK_D, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D};
const char kl_grad_types[] = {LK_F, LK_F, LK_F, LK_D, LK_F, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D};
const char distillation_types[] = {LK_F, LK_F, NPY_INT64, LK_F, LK_F, LK_F, LK_D, LK_F,
                                   LK_D, LK_D, NPY_INT64, LK_D, LK_D, LK_D, LK_D, LK_D};
const char distillation_grad_types[] = {LK_F, LK_F, NPY_INT64, LK_F, LK_F, LK_F, LK_D, LK_F, LK_F,
                                        LK_D, LK_D, NPY_INT64, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D};
const char binary_entropy_types[] = {LK_F, LK_F, LK_D, LK_F, LK_D, LK_D, LK_D, LK_D};
const char binary_entropy_grad_types[] = {LK_F, LK_F, LK_D, LK_F, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D};
const char binary_kl_types[] = {LK_F, LK_F, LK_F, LK_D, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D};
const char binary_kl_grad_types[] = {LK_F, LK_F, LK_F, LK_D, LK_F, LK_F, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D};
const char bce_types[] = {LK_F, LK_F, LK_F, LK_F, LK_F, LK_F, LK_D, LK_D, LK_F,
                          LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D};
const char bce_grad_types[] = {LK_F, LK_F, LK_F, LK_F, LK_F, LK_F, LK_D, LK_D, LK_F, LK_F,
                               LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D, LK_D};
#undef LK_F
#undef LK_D

}  // namespace

void register_losses(py::module_& m) {
  m.def("ce_hard_small", &ce_hard_small, py::arg("x"), py::arg("t"), py::arg("axis"), py::arg("weight"),
        py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("reduction"), py::arg("sample_weight"),
        py::arg("want_grad"), py::arg("out"), py::arg("temperature"),
        "cross_entropy[_with_grad] with hard labels in one call, the options as the user passed them; None where "
        "the options (ce_small_options) or the arrays (ce_small_layout) do not fit.");
  m.def("entropy_small", &entropy_small, py::arg("x"), py::arg("axis"), py::arg("temperature"), py::arg("where"),
        py::arg("reduction"), py::arg("want_grad"),
        "entropy[_with_grad] in one call, the options as the user passed them; None where the options or the "
        "array do not fit (entropy_small).");
  m.def("divergence_small", &divergence_small, py::arg("kind"), py::arg("p"), py::arg("q"), py::arg("axis"),
        py::arg("temperature"), py::arg("scale"), py::arg("want_grad"),
        "kl_divergence (kind 0) or js_divergence (kind 1) [_with_grad] in one call, the options as the user "
        "passed them; None where the options or the arrays do not fit (divergence_small).");
  m.def("binary_entropy_small", &binary_entropy_small, py::arg("x"), py::arg("temperature"), py::arg("reduction"),
        py::arg("want_grad"),
        "binary_entropy[_with_grad] in one call, the options as the user passed them; None where the options or "
        "the array do not fit (binary_entropy_small).");
  m.def("bce_reduced", &bce_reduced, py::arg("x"), py::arg("y"), py::arg("pos_weight"), py::arg("weight"),
        py::arg("eps"), py::arg("mean"), py::arg("want_grad"), py::arg("out"),
        "Binary cross-entropy with logits, mean or sum, one pass; None where the operands do not fit as they are (bce_direct_layout).");
  m.def("soft_target_tolerance", &lk::soft_target_tolerance, py::arg("coarse"), py::arg("classes"),
        "How far from 1 a row of probability targets may sum (api.hpp, soft_target_tolerance).");
  m.attr("small_call_elements") = py::int_(parallel_grain);
  m.def("describe_status", &describe_status, py::arg("kind"), py::arg("argument"), py::arg("value") = py::none(),
        py::arg("position") = py::tuple(), py::arg("label") = py::int_(0), py::arg("classes") = 0,
        py::arg("ignore_index") = 0,
        "The C++ API's describe() text of an error (kind: a rule of api.hpp's messages, or 'invalid_label').");
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
                       LOGITKIT_LIST_SKIP, LOGITKIT_REG_LOSS, LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP)
#undef LOGITKIT_REG_LOSS
}

}  // namespace logitkit::bindings
