// The max-relative path: softmax, log_softmax and logsumexp of one row from its max, for any row and
// any temperature (docs/numerics.md, "Max-relative sum").
//
//   m = max(x); k = #{x_j = m}; S' = Σ_{x_j<m} exp(d_j), d_j = (x_j - m)/T carried as hi + lo
//   (TwoSum, then an exact quotient residual when T != 1), exp(hi)·(1 + lo), summed in double (float
//   lanes are widened) in blocks of sum_block whose sums are added with Neumaier's compensation.
//   L = log1p(S') if k = 1, else log(k + S'), in double, once per row. Then
//   logsumexp = m/T + L;  log_softmax_i = (hi_i - L_hi) + (lo_i - L_lo);
//   softmax_i = exp(hi_i)·(1 + lo_i)·(1/(k + S')).
// Three reads of the row (max, sum, output) and one write; no temporary array.
//
// Chosen for every row the faster strategies do not take or decline: temperatures other than 1,
// rows with NaN, infinities or logits outside exp's normal range, rows that direct_sum.hpp declines,
// the special lanes of short_rows.hpp. Special rows: any NaN -> NaN row (logsumexp NaN); any +inf ->
// NaN row (logsumexp +inf); every entry -inf -> NaN row (logsumexp -inf); n = 0 -> nothing written
// (logsumexp -inf).
//
// Invariant: every result is the one these formulas give, whichever strategy sent the row here; the
// entries equal to the max never enter S' (they are counted in k), so S' keeps the relative accuracy
// that a confident row's top output, -log1p(S'), needs.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>

#include "../../math/exp.hpp"
#include "basics.hpp"
#include "wide.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Σ exp(hi + lo) over the lanes of `sel` whose exp is below the lane type's normal range, in the wide
// type: a subnormal term would carry an absolute, not a relative, rounding error, and a row whose
// whole S' is such terms (log_softmax of [0, -100, ..., -100] in float32) needs them relatively exact.
// Terms below e^-120 (float) / e^-800 (double) cannot reach any result and are skipped.
template <class V>
inline wide_t<V> tiny_terms(V hi, V lo, typename V::mask sel) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  constexpr T cutoff = sizeof(T) == 4 ? T(-120) : T(-800);
  alignas(64) T h[V::size], l[V::size], f[V::size];
  store(h, hi);
  store(l, lo);
  store(f, mask_zero(sel, V::set1(T(1))));
  Wd s = 0;
  for (int i = 0; i < V::size; ++i)
    if (f[i] != T(0) && h[i] > cutoff) s += math::libm_exp(Wd(h[i]) + Wd(l[i]));
  return s;
}

// k and S' of a row whose max m is finite. With STORE, exp(d_i) (1 at the max entries) is also
// written to y[i] (softmax's first output pass).
//
// DIRECT (no temperature, no store), the sum takes a shortcut: S' = exp(-m)·Σ exp(x_j), the x_j used as
// given (exact) and exp(-m) applied once, in double, to the sum. A vector with any lane outside
// exp's normal range [fast_lo, fast_hi] (huge or very negative logits) takes the exact-difference
// path instead, into a second sum. Both paths err by one exp rounding per term.
template <class V, bool TEMP, bool STORE = false, bool DIRECT = false>
inline RowSum<V> row_expsum_t(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, double temp,
                              scalar_t<V>* y = nullptr) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  constexpr std::size_t block = sum_block<V>;
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp));
  const V one = V::set1(T(1)), vm = V::set1(m);

  const auto all = eq(vm, vm);
  using EC = math::exp_consts<T>;
  CompensatedSum<V> total;
  double k = 0;
  wide_t<V> S2 = 0;  // terms summed outside the vector accumulators (tiny ones, DIRECT's exact path)
  // exp(d) for the exact-difference path; without STORE, lanes whose exp would be subnormal are
  // summed into S2 in the wide type instead.
  auto exact = [&](V hi, V lo, typename V::mask valid) LOGITKIT_INLINE {
    V e = math::exp_neg_lo(hi, lo);
    if constexpr (!STORE) {
      auto tiny = mask_and(valid, lt(hi, V::set1(EC::fast_lo)));
      if (any(tiny)) {
        S2 += tiny_terms<V>(hi, lo, tiny);
        e = select(tiny, V::zero(), e);
      }
    }
    return e;
  };
  auto term = [&](V a, double& k, std::size_t i, typename V::mask valid) LOGITKIT_INLINE {
    V e;
    if constexpr (DIRECT) {
      auto outside = mask_or(lt(a, V::set1(EC::fast_lo)), lt(V::set1(EC::fast_hi), a));
      if (!any(outside)) {
        e = math::exp_normal(a);
      } else {
        V lo;
        V hi = row_diff<V, false, false>(a, negm, t, tl, invt, lo);
        V ed = exact(hi, lo, valid);
        S2 += hsum(mask_zero(valid, select(eq(a, vm), V::zero(), ed)));
        e = V::zero();
      }
    } else {
      V lo;
      V hi = row_diff<V, TEMP, false>(a, negm, t, tl, invt, lo);
      e = exact(hi, lo, valid);
    }
    if constexpr (STORE) {
      if (n - i >= W) store(y + i, e);
      else store_partial(y + i, e, n - i);
    }
    // Entries equal to the max are counted in k, not summed (usually one vector per row).
    auto at_max = mask_and(valid, eq(a, vm));
    if (any(at_max)) {
      k += hsum(mask_zero(at_max, one));
      e = select(at_max, V::zero(), e);
    }
    return e;
  };
  for (std::size_t b0 = 0; b0 < n; b0 += block) {
    const std::size_t b1 = (n - b0 > block) ? b0 + block : n;
    Acc acc0, acc1;
    std::size_t i = b0;
    // Four terms are added in the lane type (at most two roundings, relative 2^-24 for float),
    // then widened: the sum keeps the terms' own accuracy at a quarter of the widening cost.
    for (; i + 4 * W <= b1; i += 4 * W) {
      V e0 = term(V::load(x + i), k, i, all), e1 = term(V::load(x + i + W), k, i + W, all);
      V e2 = term(V::load(x + i + 2 * W), k, i + 2 * W, all), e3 = term(V::load(x + i + 3 * W), k, i + 3 * W, all);
      acc_add(acc0, e0 + e1);
      acc_add(acc1, e2 + e3);
    }
    for (; i + W <= b1; i += W) acc_add(acc0, term(V::load(x + i), k, i, all));
    if (i < b1) {
      // The row's tail: padded with m (a value every path handles fast), then masked out.
      const auto valid = first_lanes<V>(b1 - i);
      acc_add(acc0, mask_zero(valid, term(load_partial<V>(x + i, b1 - i, m), k, i, valid)));
    }
    total.add(acc_sum(acc0) + acc_sum(acc1));
  }
  // (a zero sum means every vector took the exact path, as when m < fast_lo: exp(-m) may be inf)
  using Wd = wide_t<V>;
  if constexpr (DIRECT) {
    if (total.value() == 0) return {k, double(S2)};
    return {k, double(Wd(total.value()) * math::libm_exp(-Wd(m)) + S2)};
  }
  return {k, double(Wd(total.value()) + S2)};
}

// row_expsum_t with DIRECT where it applies.
template <class V, bool TEMP, bool STORE = false>
inline RowSum<V> row_expsum(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, double temp,
                            scalar_t<V>* y = nullptr) {
  // Short rows skip the direct shortcut: its one libm exp per row would cost more than it saves.
  // It also needs exp(-m) and Σ exp(x_j) comfortably inside double's range: |m| <= fast_hi / 2.
  if constexpr (!TEMP && !STORE) {
    constexpr scalar_t<V> lim_m = math::exp_consts<scalar_t<V>>::fast_hi / 2;
    if (n >= 8 * std::size_t(V::size) && m <= lim_m && m >= -lim_m)
      return row_expsum_t<V, false, false, true>(x, n, m, temp, y);
  }
  return row_expsum_t<V, TEMP, STORE, false>(x, n, m, temp, y);
}

// y = (x - m)/T - L, (x - m)/T held as hi + lo (row_diff) and L as the pair Lh + Ll: the max-relative
// path's output pass (and short rows', row by row: MASK false, their entries are within exp's range
// of m, so lo never needs clearing).
template <class V, bool TEMP, bool MASK = true>
inline void log_softmax_out(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp,
                            scalar_t<V> Lh, scalar_t<V> Ll) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp));
  const V vLh = V::set1(Lh), vLl = V::set1(Ll);
  auto out = [&](V a) LOGITKIT_INLINE {
    V lo;
    V hi = row_diff<V, TEMP, MASK>(a, negm, t, tl, invt, lo);
    return (hi - vLh) + (lo - vLl);
  };
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, out(V::load(x + i)));
  if (i < n) store_partial(y + i, out(load_partial<V>(x + i, n - i, m)), n - i);
}

// log_softmax of a row whose max m is finite, in the lane type.
template <class V, bool TEMP>
inline void log_softmax_row_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp) {
  using T = scalar_t<V>;
  const double L = row_expsum<V, TEMP>(x, n, m, temp).L();
  log_softmax_out<V, TEMP>(x, y, n, m, temp, T(L), T(L - double(T(L))));
}

// Softmax: the sum pass also stores exp(d_i) in y; a last pass scales y by 1/(k + S').
// Error: exp 1 ulp + store 0.5 + the factor 0.5 + the product 0.5 (subnormal outputs: two roundings,
// at most one unit of the smallest subnormal).
template <class V, bool TEMP>
inline void softmax_row_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const RowSum<V> rs = row_expsum<V, TEMP, true>(x, n, m, temp, y);
  const double F = 1.0 / (rs.k + rs.Sp);
  const T f = T(F);
  if constexpr (scale_in_double<V>) {
    for (std::size_t j = 0; j < n; ++j) y[j] = T(double(y[j]) * F);
    return;
  }
  const V inv = V::set1(f);
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(y + i, V::load(y + i) * inv);
  if (i < n) store_partial(y + i, load_partial<V>(y + i, n - i, T(0)) * inv, n - i);
}

// logsumexp = m/T + L with m < 0 < L cancels when the result is small against L: L's error (about an
// ulp of the lane type from the exp terms of S') is then multiplied by L/|result|. Below this
// fraction of L the row is summed again in the wide type. float: 3/4 (a factor of at most 4/3;
// at 1/2, rows of 2 to 4 with a result near L/2 measured 3.5-3.8 ulp against the 3-ulp bound);
// double: 1/2 (a factor of at most 2, within its 8-ulp bound).
template <class T>
constexpr double logsumexp_cancel = sizeof(T) == 4 ? 0.75 : 0.5;

// ---- The path's entry points: one row, any temperature (temp > 0 finite).

// softmax; also direct_sum.hpp's fallback for the rows its direct sum declines.
template <class V>
inline void softmax_row_maxrel(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  using T = scalar_t<V>;
  T m{}, mn{};
  RowKind kind = row_max<V>(x, n, m, &mn);
  if (kind != row_ok) return fill_row<V>(y, n, lim<V>::nan);
  if (temp == 1.0) softmax_row_t<V, false>(x, y, n, m, temp);
  else if (temp_needs_wide<V>(x, n, m, mn, temp)) rowwise_wide<V>(x, y, n, m, temp, false);
  else softmax_row_t<V, true>(x, y, n, m, temp);
}

template <class V>
inline void log_softmax_row_maxrel(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  using T = scalar_t<V>;
  T m{}, mn{};
  RowKind kind = row_max<V>(x, n, m, &mn);
  if (kind != row_ok) return fill_row<V>(y, n, lim<V>::nan);
  if (temp == 1.0) log_softmax_row_t<V, false>(x, y, n, m, temp);
  else if (temp_needs_wide<V>(x, n, m, mn, temp)) rowwise_wide<V>(x, y, n, m, temp, true);
  else log_softmax_row_t<V, true>(x, y, n, m, temp);
}

template <class V>
inline scalar_t<V> logsumexp_row_maxrel(const scalar_t<V>* x, std::size_t n, double temp) {
  using T = scalar_t<V>;
  T m{}, mn{};
  switch (row_max<V>(x, n, m, &mn)) {
    case row_nan: return lim<V>::nan;
    case row_posinf: return lim<V>::inf;
    case row_neginf: return -lim<V>::inf;
    default: break;
  }
  if (temp != 1.0 && temp_needs_wide<V>(x, n, m, mn, temp)) return logsumexp_wide<V>(x, n, m, temp);
  const RowSum<V> rs = (temp == 1.0) ? row_expsum<V, false>(x, n, m, temp) : row_expsum<V, true>(x, n, m, temp);
  const double mt = double(m) / temp, L = rs.L();
  // m/T < 0 < L cancel when the result is much smaller than L: every ulp of L is then many of the
  // result. Such rows are summed again in the wide type.
  if (mt < 0 && math::libm_fabs(mt + L) < logsumexp_cancel<T> * L) return logsumexp_wide<V>(x, n, m, temp);
  return T(mt + L);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
