// The wide fallback: a row's softmax, log_softmax or logsumexp in the wide type wide_t (double for
// float rows; long double for double rows), scalar, with libm's exp and log.
// (docs/numerics.md, "Wide-type fallbacks")
//
// Chosen for the rows the lane type cannot do exactly: a temperature whose float pair or reciprocal
// leaves the lane type's normal range, a row where x - m overflows (temp_needs_wide), and logsumexp
// rows where m/T + L cancels (max_relative.hpp). Rare by construction, so plain loops.
//
// Invariant: the same formulas as the max-relative path (max-relative k, S', L = log1p(S') for
// k = 1, else log(k + S')), each step in the wide type; one rounding to the lane type at the end.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <limits>

#include "basics.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// k = #{x_j = m} and S' = Σ_{x_j != m} exp((x_j - m)/T), in the wide type.
template <class V>
struct WideSum {
  wide_t<V> k, S;
  wide_t<V> L() const { return (k == 1) ? math::libm_log1p(S) : math::libm_log(k + S); }
};
template <class V>
inline WideSum<V> wide_expsum(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, double temp) {
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp);
  Wd S = 0, k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] == m) k += 1;
    else S += math::libm_exp((Wd(x[i]) - wm) / wt);
  }
  return {k, S};
}

// softmax (log false) or log_softmax (log true) of a row whose max m is finite.
template <class V>
inline void rowwise_wide(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp, bool log) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp);
  const WideSum<V> ws = wide_expsum<V>(x, n, m, temp);
  const Wd L = ws.L();
  for (std::size_t i = 0; i < n; ++i) {
    const Wd d = (Wd(x[i]) - wm) / wt;
    y[i] = log ? T(d - L) : T(math::libm_exp(d) / (ws.k + ws.S));
  }
}

// logsumexp of a row whose max m is finite.
template <class V>
inline scalar_t<V> logsumexp_wide(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp);
  const Wd L = wide_expsum<V>(x, n, m, temp).L();
  return T(wm / wt + L);
}

// True when the temperature path cannot run in the lane type: T or 1/T outside the normal range,
// or x - m overflowing for some finite x (then the -inf entries are set aside to find the finite min).
template <class V>
inline bool temp_needs_wide(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> mn, double temp) {
  using T = scalar_t<V>;
  constexpr T tiny = std::numeric_limits<T>::min(), huge = std::numeric_limits<T>::max();
  const T t = T(temp), it = T(1.0 / temp);
  if (!(t >= tiny && t <= huge && it >= tiny && it <= huge)) return true;
  if (m - mn <= huge) return false;
  T fmin = m;
  for (std::size_t i = 0; i < n; ++i)
    if (x[i] > -lim<V>::inf && x[i] < fmin) fmin = x[i];
  return !(m - fmin <= huge);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
