// Row kernels: softmax, log_softmax, logsumexp of one contiguous row, optionally at a temperature.
//
// Algorithm (numerics.md): m = max(x); k = #{x_j = m}; S' = Σ_{x_j<m} exp(d_j) with d_j = (x_j - m)/T
// carried as hi + lo (TwoSum, then an exact quotient residual when T != 1), exp(hi)·(1 + lo), summed
// in double (float lanes are widened) in blocks of 1024 whose sums are added with Neumaier's
// compensation. L = log1p(S') if k = 1, else log(k + S'), in double, once per row. Then
//   logsumexp = m/T + L;  log_softmax_i = (hi_i - L_hi) + (lo_i - L_lo);  softmax_i = exp(hi_i)·(1+lo_i)·(1/(k+S')).
// Three reads of the row (max, sum, output) and one write; no temporary array.
// Special rows: any NaN -> NaN row (logsumexp NaN); any +inf -> NaN row (logsumexp +inf); every entry
// -inf -> NaN row (logsumexp -inf); n = 0 -> nothing written (logsumexp -inf).
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>

#include "../math/exp.hpp"
#include "common.hpp"

namespace logitkit::kernels {

enum RowKind : int { row_ok = 0, row_nan = 1, row_posinf = 2, row_neginf = 3 };

// Below -big the low part of d is dropped: it is then at most ulp/2 and cannot change the result by
// more than one rounding; it also keeps the exact-arithmetic steps away from overflow.
template <class T> struct drop_lo;
template <> struct drop_lo<float> { static constexpr float below = -1.8446744e19f; };    // -2^64
template <> struct drop_lo<double> { static constexpr double below = -1.3407807929942597e154; };  // -2^512

template <class V>
inline RowKind row_max(const scalar_t<V>* x, std::size_t n, scalar_t<V>& m_out) {
  using T = scalar_t<V>;
  constexpr T ninf = -lim<V>::inf;
  constexpr std::size_t W = V::size;
  V m0 = V::set1(ninf), m1 = m0;
  auto nan0 = isnan(m0), nan1 = nan0;
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V a = V::load(x + i), b = V::load(x + i + W);
    m0 = max(m0, a);
    m1 = max(m1, b);
    nan0 = mask_or(nan0, isnan(a));
    nan1 = mask_or(nan1, isnan(b));
  }
  for (; i < n; i += W) {
    V a = (n - i >= W) ? V::load(x + i) : load_partial<V>(x + i, n - i, ninf);
    m0 = max(m0, a);
    nan0 = mask_or(nan0, isnan(a));
  }
  if (any(mask_or(nan0, nan1))) return row_nan;
  T m = hmax(max(m0, m1));
  m_out = m;
  if (m == lim<V>::inf) return row_posinf;
  if (m == ninf) return row_neginf;
  return row_ok;
}

// d = (x - m)/T as hi + lo.
template <class V, bool TEMP>
inline V row_diff(V x, V negm, V t, V invt, V& lo) {
  V hi = two_sum(x, negm, lo);
  if constexpr (TEMP) {
    V q = hi * invt;
    V r = quotient_residual(hi, q, t);
    lo = (r + lo) * invt;
    hi = q;
  }
  lo = mask_zero(le(V::set1(drop_lo<scalar_t<V>>::below), hi), lo);
  return hi;
}

template <class V>
struct RowSum {
  double k;   // number of entries equal to the max
  double Sp;  // Σ exp(d_j) over the others
  double L() const { return k == 1.0 ? std::log1p(Sp) : std::log(k + Sp); }
};

template <class V, bool TEMP>
inline RowSum<V> row_expsum(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> temp) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  constexpr std::size_t block = 1024;
  const V negm = V::set1(-m), t = V::set1(temp), invt = V::set1(T(1) / temp);
  const V one = V::set1(T(1)), vm = V::set1(m);
  double S = 0, comp = 0, k = 0;
  auto term = [&](V a, V& kv) {
    V lo;
    V hi = row_diff<V, TEMP>(a, negm, t, invt, lo);
    V e = math::exp_scaled(hi, lo, one);
    auto at_max = eq(a, vm);
    kv = kv + mask_zero(at_max, one);
    return select(at_max, V::zero(), e);
  };
  for (std::size_t b0 = 0; b0 < n; b0 += block) {
    const std::size_t b1 = (n - b0 > block) ? b0 + block : n;
    Acc acc0, acc1;
    V kv0 = V::zero(), kv1 = V::zero();
    std::size_t i = b0;
    for (; i + 2 * W <= b1; i += 2 * W) {
      acc_add(acc0, term(V::load(x + i), kv0));
      acc_add(acc1, term(V::load(x + i + W), kv1));
    }
    for (; i < b1; i += W) {
      V a = (b1 - i >= W) ? V::load(x + i) : load_partial<V>(x + i, b1 - i, -lim<V>::inf);
      acc_add(acc0, term(a, kv0));
    }
    const double s = acc_sum(acc0) + acc_sum(acc1);
    // Neumaier: the running sum keeps its rounding error in comp.
    const double t2 = S + s;
    comp += (S >= s) ? (S - t2) + s : (s - t2) + S;
    S = t2;
    k += hsum(kv0 + kv1);
  }
  return {k, S + comp};
}

template <class V>
inline void fill_row(scalar_t<V>* y, std::size_t n, scalar_t<V> value) {
  for (std::size_t i = 0; i < n; ++i) y[i] = value;
}

template <class V, bool TEMP>
inline void log_softmax_row_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, scalar_t<V> temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const double L = row_expsum<V, TEMP>(x, n, m, temp).L();
  const T Lh = T(L), Ll = T(L - double(Lh));
  const V negm = V::set1(-m), t = V::set1(temp), invt = V::set1(T(1) / temp);
  const V vLh = V::set1(Lh), vLl = V::set1(Ll);
  auto out = [&](V a) {
    V lo;
    V hi = row_diff<V, TEMP>(a, negm, t, invt, lo);
    return (hi - vLh) + (lo - vLl);
  };
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, out(V::load(x + i)));
  if (i < n) store_partial(y + i, out(load_partial<V>(x + i, n - i, m)), n - i);
}

template <class V, bool TEMP>
inline void softmax_row_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, scalar_t<V> temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const RowSum<V> rs = row_expsum<V, TEMP>(x, n, m, temp);
  const V inv = V::set1(T(1.0 / (rs.k + rs.Sp)));
  const V negm = V::set1(-m), t = V::set1(temp), invt = V::set1(T(1) / temp);
  auto out = [&](V a) {
    V lo;
    V hi = row_diff<V, TEMP>(a, negm, t, invt, lo);
    return math::exp_scaled(hi, lo, inv);
  };
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, out(V::load(x + i)));
  if (i < n) store_partial(y + i, out(load_partial<V>(x + i, n - i, m)), n - i);
}

// ---- public row kernels (temp > 0 finite; temp == 1 takes the plain path)

template <class V>
inline void log_softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> temp) {
  using T = scalar_t<V>;
  T m{};
  RowKind kind = row_max<V>(x, n, m);
  if (kind != row_ok) return fill_row<V>(y, n, lim<V>::nan);
  if (temp == T(1)) log_softmax_row_t<V, false>(x, y, n, m, temp);
  else log_softmax_row_t<V, true>(x, y, n, m, temp);
}

template <class V>
inline void softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> temp) {
  using T = scalar_t<V>;
  T m{};
  RowKind kind = row_max<V>(x, n, m);
  if (kind != row_ok) return fill_row<V>(y, n, lim<V>::nan);
  if (temp == T(1)) softmax_row_t<V, false>(x, y, n, m, temp);
  else softmax_row_t<V, true>(x, y, n, m, temp);
}

template <class V>
inline scalar_t<V> logsumexp_row(const scalar_t<V>* x, std::size_t n, scalar_t<V> temp) {
  using T = scalar_t<V>;
  T m{};
  switch (row_max<V>(x, n, m)) {
    case row_nan: return lim<V>::nan;
    case row_posinf: return lim<V>::inf;
    case row_neginf: return -lim<V>::inf;
    default: break;
  }
  const RowSum<V> rs = (temp == T(1)) ? row_expsum<V, false>(x, n, m, temp) : row_expsum<V, true>(x, n, m, temp);
  return T(double(m) / double(temp) + rs.L());
}

}  // namespace logitkit::kernels
