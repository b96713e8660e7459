// What every row strategy shares: the max pass, the exact difference (x - m)/T as hi + lo, the row
// sum's parts k and S' and its offset L, the compensated sum of block sums, and the wide type of the
// exact fallbacks. The algorithm these serve is in kernels/softmax.hpp's header comment and
// docs/numerics.md, "Row-wise functions: softmax, log_softmax, logsumexp".
//
// Invariant: nothing here rounds differently by strategy: a row that two strategies could take is
// built from these same steps by either, and each strategy's file states which steps it reorders.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <type_traits>

#include "../../math/libm.hpp"
#include "../common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// What the max pass found: a row to compute, or a special row whose outputs are all NaN.
enum RowKind : int { row_ok = 0, row_nan = 1, row_posinf = 2, row_neginf = 3 };

// Below -big the low part of d is dropped: it is then at most ulp/2 and cannot change the result by
// more than one rounding; it also keeps the exact-arithmetic steps away from overflow.
template <class T> struct drop_lo;
template <> struct drop_lo<float> { static constexpr float below = -1.8446744e19f; };    // -2^64
template <> struct drop_lo<double> { static constexpr double below = -1.3407807929942597e154; };  // -2^512

// m = max(x) and (min_out) the min, in one pass; NaN anywhere makes the row row_nan, whatever else it
// holds (a NaN lane is tracked apart: max/min may drop it, simd/scalar.hpp).
template <class V>
inline RowKind row_max(const scalar_t<V>* x, std::size_t n, scalar_t<V>& m_out, scalar_t<V>* min_out = nullptr) {
  using T = scalar_t<V>;
  constexpr T ninf = -lim<V>::inf;
  constexpr std::size_t W = V::size;
  V m0 = V::set1(ninf), m1 = m0, lo0 = V::set1(lim<V>::inf), lo1 = lo0;
  auto nan0 = isnan(m0), nan1 = nan0;
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V a = V::load(x + i), b = V::load(x + i + W);
    m0 = max(m0, a);
    m1 = max(m1, b);
    lo0 = min(lo0, a);
    lo1 = min(lo1, b);
    nan0 = mask_or(nan0, isnan(a));
    nan1 = mask_or(nan1, isnan(b));
  }
  for (; i < n; i += W) {
    V a = (n - i >= W) ? V::load(x + i) : load_partial<V>(x + i, n - i, ninf);
    m0 = max(m0, a);
    lo0 = min(lo0, mask_zero(first_lanes<V>(n - i), a) + select(first_lanes<V>(n - i), V::zero(), V::set1(lim<V>::inf)));
    nan0 = mask_or(nan0, isnan(a));
  }
  if (any(mask_or(nan0, nan1))) return row_nan;
  T m = hmax(max(m0, m1));
  m_out = m;
  if (min_out) *min_out = hmin(min(lo0, lo1));
  if (m == lim<V>::inf) return row_posinf;
  if (m == ninf) return row_neginf;
  return row_ok;
}

// The first i with x[i] == v; v must occur in x[0..n) (the max pass found it there). A vector at a
// time: a scalar scan of a long row costs as much as one of the row's passes.
template <class V>
inline std::size_t first_index_of(const scalar_t<V>* x, std::size_t n, scalar_t<V> v) {
  constexpr std::size_t W = V::size;
  const V vv = V::set1(v);
  std::size_t i = 0;
  while (i + W <= n && !any(eq(V::load(x + i), vv))) i += W;
  while (x[i] != v) ++i;
  return i;
}

// (hi + lo)/T as a pair, returned and in lo, with T = t + tl and invt ~ 1/T:
// q + (hi - q·t + lo - q·tl)/T, the residual hi - q·t exact.
template <class V>
LOGITKIT_INLINE inline V pair_over_t(V hi, V& lo, V t, V tl, V invt) {
  const V q = hi * invt;
  lo = mul_add(neg(q), tl, quotient_residual(hi, q, t) + lo) * invt;
  return q;
}

// d = (x - m)/T as hi + lo. lo may be NaN where hi is -inf (x = -inf, or x - m overflowed): the
// exp path clears it there itself; MASK clears it for callers that use lo directly. Below -2^64
// (float) lo is dropped: it is then below ulp/2 of a result that is -inf-like or 0 anyway.
// With TEMP, T = t + tl (the float pair of the caller's double temperature) and invt ~ 1/T:
// (hi + lo)/T = q + (hi - q·t + lo - q·tl)/T, the residual hi - q·t exact.
template <class V, bool TEMP, bool MASK>
inline V row_diff(V x, V negm, V t, V tl, V invt, V& lo) {
  V hi = two_sum(x, negm, lo);
  if constexpr (TEMP) hi = pair_over_t(hi, lo, t, tl, invt);
  if constexpr (MASK || TEMP) lo = mask_zero(le(V::set1(drop_lo<scalar_t<V>>::below), hi), lo);
  return hi;
}

// A wider type for rare exact fallbacks: double for float; long double (x87 80-bit or quad where the
// platform has one, else double) for double.
template <class V>
using wide_t = std::conditional_t<sizeof(scalar_t<V>) == 4, double, long double>;

// The double lanes that hold a float vector's sums (the accumulator's halves), or V itself.
template <class V>
using wide_lanes_t = std::remove_cv_t<std::remove_reference_t<decltype(acc_make(V::zero()).a)>>;

// Sum of block sums with Neumaier's compensation: the running total keeps its rounding error. The
// error is taken from the larger of the two in magnitude (the other way round it is not exact),
// whatever their signs.
template <class V>
struct CompensatedSum {
  double S = 0, comp = 0;
  void add(double s) {
    const double t = S + s;
    comp += math::libm_fabs(S) >= math::libm_fabs(s) ? (S - t) + s : (s - t) + S;
    S = t;
  }
  double value() const { return S + comp; }
  // add(s) for the sum of a row's block starting at b0: the first block's sum is stored as add
  // would store it into an empty sum, in fewer operations on a short row's critical path.
  void add_block(std::size_t b0, double s) {
    if (b0 == 0) S = s;
    else add(s);
  }
};
// Elements per block whose sum is kept in the vector accumulators before it is added to the
// compensated total: 64 vectors, so each accumulator lane adds at most 16 pair-sums.
template <class V> constexpr std::size_t sum_block = 64 * std::size_t(V::size);

template <class V>
struct RowSum {
  double k;   // number of entries equal to the max
  double Sp;  // Σ exp(d_j) over the others
  double L() const { return k == 1.0 ? math::libm_log1p(Sp) : math::libm_log(k + Sp); }
};

// Every output of a special row (RowKind other than row_ok).
template <class V>
inline void fill_row(scalar_t<V>* y, std::size_t n, scalar_t<V> value) {
  for (std::size_t i = 0; i < n; ++i) y[i] = value;
}

// Float lanes without FMA (scalar, SSE2): exp errs a little more there (its reduction and Horner
// steps round twice), so softmax's last pass multiplies by the double 1/S in double, one rounding
// instead of two (1/S rounded to float, then the product). The FMA ISAs keep the float product.
template <class V>
constexpr bool scale_in_double = !V::has_fma && sizeof(scalar_t<V>) == 4;

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
