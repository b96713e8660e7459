// Output passes of rows whose offset is known: log_softmax's y = x - (m + L) and softmax's y *= 1/S.
//
// Called by the direct sum's users (direct_sum.hpp, row_groups.hpp) once a row's S and m are known,
// and by the max-relative path's last pass.
//
// Invariant: each output is computed from its own input and the row's constants only.
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
template <class V>
LOGITKIT_INLINE inline void log_shift_range(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, V hi, V lo) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, (V::load(x + i) - hi) - lo);
  if (i < n) store_partial(y + i, (load_partial<V>(x + i, n - i, T(0)) - hi) - lo, n - i);
}
template <class V>
inline void log_softmax_shift(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double L) {
  V hi, lo;
  log_shift_consts<V>(m, L, hi, lo);
  log_shift_range<V>(x, y, n, hi, lo);
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

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
