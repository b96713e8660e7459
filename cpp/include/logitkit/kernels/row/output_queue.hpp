// Output passes of rows whose offset is known: log_softmax's y = x - (m + L) and softmax's y *= 1/S,
// run at once or queued (OutputQueue) to run inside the next row's sum pass.
//
// Chosen by the direct sum's callers (direct_sum.hpp, row_groups.hpp) once a row's S and m are known.
// An output pass alone is a load, one or two operations and a store per vector: it waits on the
// caches while the arithmetic units idle, and a sum pass is the other way round; the queue lets
// long rows overlap the two (docs/numerics.md, "Long rows: the output pass inside the next row's
// sum pass"). Kept while it pays (docs/architecture.md, "Fast paths"): bench/compare.py case
// log_softmax/64x32000.
//
// Invariant: a queued pass performs the same operations on the same values as the pass run at once,
// so the outputs do not depend on whether, or how far, a pass was queued.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>

#include "basics.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// y = x - (m + L), log S = m + L held as an unevaluated sum hi + lo (TwoSum), in two operations per
// entry: when |m| is large and the outputs are not, log S rounded to double alone would cost
// float64 results many ulps. Each output errs by two roundings plus lo's own rounding, at most
// 2^-p·|lo|. That stays below an ulp of every output, |y| >= L, even for a top-heavy row with tiny
// L: where L is below half the spacing of the lane type at m, hi = m and lo is L itself (relative
// rounding); elsewhere |lo| <= ulp(hi)/2 <= 2L.
template <class V>
inline void log_shift_consts(scalar_t<V> m, double L, V& hi, V& lo) {
  using T = scalar_t<V>;
  const double a = double(m);
  const double s1 = a + L, bb = s1 - a, e1 = (a - (s1 - bb)) + (L - bb);
  const T hi_t = T(s1);
  hi = V::set1(hi_t);
  lo = V::set1(T((s1 - double(hi_t)) + e1));
}
// With STREAM, y is written with non-temporal stores (common.hpp, store_range; y != x).
template <class V, bool STREAM = false>
LOGITKIT_INLINE inline void log_shift_range(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, V hi, V lo) {
  using T = scalar_t<V>;
  store_range<V, STREAM>(y, n, [&](std::size_t i, std::size_t m) LOGITKIT_INLINE {
    return ((m == V::size ? V::load(x + i) : load_partial<V>(x + i, m, T(0))) - hi) - lo;
  });
}
// softmax's last pass: y *= f. With scale_in_double the factor is the pair f + fl of the double
// 1/S, applied in double (one rounding); elsewhere f alone, in the lane type.
template <class V>
LOGITKIT_INLINE inline void scale_range(scalar_t<V>* y, std::size_t n, V f, V fl = V::zero()) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if constexpr (scale_in_double<V>) {
    alignas(64) T a[W], b[W];
    store(a, f);
    store(b, fl);
    const double F = double(a[0]) + double(b[0]);  // (equal lanes)
    for (std::size_t i = 0; i < n; ++i) y[i] = T(double(y[i]) * F);
    return;
  }
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, V::load(y + i) * f);
  if (i < n) store_partial(y + i, load_partial<V>(y + i, n - i, T(0)) * f, n - i);
}

// Rows' output passes waiting to run inside the next rows' sum pass (row_direct_sum's side job):
// LOG: y = (x - hi) - lo (log_shift_range), else y *= f (scale_range). step() does four vectors of
// the oldest pending row; finish() the rest. Any interleaving gives the same outputs: rows never
// share memory, except a row with itself in place. Every caller finishes the queue before it pushes
// again, so one job is pending at a time; kJobs leaves room for a group's rows.
template <class V, bool LOG>
struct OutputQueue {
  using T = scalar_t<V>;
  static constexpr std::size_t W = V::size;
  struct Job {
    const T* x;
    T* y;
    std::size_t n;
    V a, b;
    bool stream;  // (LOG: non-temporal stores; each step then starts on a 64-byte line of y)
  };
  static constexpr std::size_t kJobs = 16;
  Job jobs[kJobs];
  std::size_t count = 0, cur = 0, off = 0;

  void push(const T* x, T* y, std::size_t n, V a, V b, bool stream = false) {
    jobs[count++] = Job{x, y, n, a, b, LOG && stream};
  }
  LOGITKIT_INLINE void run(const Job& j, std::size_t i, std::size_t len) {
    if constexpr (LOG) {
      if (j.stream) log_shift_range<V, true>(j.x + i, j.y + i, len, j.a, j.b);
      else log_shift_range<V>(j.x + i, j.y + i, len, j.a, j.b);
    } else {
      scale_range<V>(j.y + i, len, j.a, j.b);
    }
  }
  LOGITKIT_INLINE void step() {
    if (cur == count) return;
    const Job& j = jobs[cur];
    // (a streamed row's first step also takes the entries before y's first line boundary, so that
    // no later step splits a line between two steps' plain head and tail stores)
    const std::size_t len = 4 * W + (j.stream && off == 0 ? stream_head<V>(j.y, j.n) : 0);
    if (off + len < j.n) {
      run(j, off, len);
      off += len;
    } else {
      run(j, off, j.n - off);
      ++cur;
      off = 0;
    }
  }
  void finish() {
    for (; cur < count; ++cur, off = 0) run(jobs[cur], off, jobs[cur].n - off);
    count = cur = off = 0;
  }
};

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
