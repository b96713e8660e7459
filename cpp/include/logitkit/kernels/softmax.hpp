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
#include <type_traits>
#include <utility>

#include "../math/exp.hpp"
#include "../math/log1p.hpp"
#include "common.hpp"

namespace logitkit::kernels {

enum RowKind : int { row_ok = 0, row_nan = 1, row_posinf = 2, row_neginf = 3 };

// Row groups (log_softmax_rows_grouped, logsumexp_rows_grouped): up to kRowGroup rows and about
// kRowGroupMaxN entries at a time.
constexpr std::size_t kRowGroup = 16;
constexpr std::size_t kRowGroupMaxN = 2048;
// An output of this many bytes or more is taken to miss the last-level cache: log_softmax's long rows
// then store their exps in the sum pass, and rows over kRowGroupMaxN / 4 are long rows.
constexpr std::size_t kBigOutput = std::size_t(16) << 20;

// Below -big the low part of d is dropped: it is then at most ulp/2 and cannot change the result by
// more than one rounding; it also keeps the exact-arithmetic steps away from overflow.
template <class T> struct drop_lo;
template <> struct drop_lo<float> { static constexpr float below = -1.8446744e19f; };    // -2^64
template <> struct drop_lo<double> { static constexpr double below = -1.3407807929942597e154; };  // -2^512

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

// d = (x - m)/T as hi + lo. lo may be NaN where hi is -inf (x = -inf, or x - m overflowed): the
// exp path clears it there itself; MASK clears it for callers that use lo directly. Below -2^64
// (float) lo is dropped: it is then below ulp/2 of a result that is -inf-like or 0 anyway.
// With TEMP, T = t + tl (the float pair of the caller's double temperature) and invt ~ 1/T:
// (hi + lo)/T = q + (hi - q·t + lo - q·tl)/T, the residual hi - q·t exact.
template <class V, bool TEMP, bool MASK>
inline V row_diff(V x, V negm, V t, V tl, V invt, V& lo) {
  V hi = two_sum(x, negm, lo);
  if constexpr (TEMP) {
    V q = hi * invt;
    V r = quotient_residual(hi, q, t);
    lo = mul_add(neg(q), tl, r + lo) * invt;
    hi = q;
  }
  if constexpr (MASK || TEMP) lo = mask_zero(le(V::set1(drop_lo<scalar_t<V>>::below), hi), lo);
  return hi;
}

// A wider type for rare exact fallbacks: double for float; long double (x87 80-bit or quad where the
// platform has one, else double) for double.
template <class V>
using wide_t = std::conditional_t<sizeof(scalar_t<V>) == 4, double, long double>;

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
    if (f[i] != T(0) && h[i] > cutoff) s += std::exp(Wd(h[i]) + Wd(l[i]));
  return s;
}

// Sum of block sums with Neumaier's compensation: the running total keeps its rounding error.
template <class V>
struct CompensatedSum {
  double S = 0, comp = 0;
  void add(double s) {
    const double t = S + s;
    comp += (S >= s || S <= -s) ? (S - t) + s : (s - t) + S;
    S = t;
  }
  double value() const { return S + comp; }
};
// Elements per block whose sum is kept in the vector accumulators before it is added to the
// compensated total: 64 vectors, so each accumulator lane adds at most 16 pair-sums.
template <class V> constexpr std::size_t sum_block = 64 * std::size_t(V::size);

template <class V>
struct RowSum {
  double k;   // number of entries equal to the max
  double Sp;  // Σ exp(d_j) over the others
  double L() const { return k == 1.0 ? std::log1p(Sp) : std::log(k + Sp); }
};

// With STORE, exp(d_i) (1 at the max entries) is also written to y[i] (softmax's first output pass).
//
// Without temperature and store, the sum takes a shortcut: S' = exp(-m)·Σ exp(x_j), the x_j used as
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
    return {k, double(Wd(total.value()) * std::exp(-Wd(m)) + S2)};
  }
  return {k, double(Wd(total.value()) + S2)};
}

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

template <class V>
inline void fill_row(scalar_t<V>* y, std::size_t n, scalar_t<V> value) {
  for (std::size_t i = 0; i < n; ++i) y[i] = value;
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

template <class V, bool TEMP>
inline void log_softmax_row_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp) {
  using T = scalar_t<V>;
  const double L = row_expsum<V, TEMP>(x, n, m, temp).L();
  log_softmax_out<V, TEMP>(x, y, n, m, temp, T(L), T(L - double(T(L))));
}

// k and S' = Σ_{x_j < m} e_j·e^-m from e_j = exp(x_j) as the direct pass stored them (every x_j
// finite, |x_j| <= 87 for float): the top-heavy log_softmax row's exact sum without a second exp.
// Each e_j is within an ulp of exp(x_j), and the max entries are left out, not subtracted: S' keeps
// the relative accuracy that -log1p(S'), the top entry's output, needs.
template <class V, bool STORED>
inline RowSum<V> row_sum_stored_t(const scalar_t<V>* x, const scalar_t<V>* e, std::size_t n, scalar_t<V> m,
                                  double em) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  const V vm = V::set1(m), one = V::set1(T(1));
  auto ev = [&](std::size_t i, std::size_t r) LOGITKIT_INLINE {
    if constexpr (STORED) {
      return r == W ? V::load(e + i) : load_partial<V>(e + i, r, T(0));
    } else {  // as row_direct_sum computed them
      return math::exp_normal(r == W ? V::load(x + i) : load_partial<V>(x + i, r, m));
    }
  };
  CompensatedSum<V> total;  // blocks as in row_expsum_t: float64 rows of 32000 need it
  V kv = V::zero();
  for (std::size_t b0 = 0; b0 < n; b0 += sum_block<V>) {
    const std::size_t b1 = (n - b0 > sum_block<V>) ? b0 + sum_block<V> : n;
    Acc acc0, acc1;
    std::size_t i = b0;
    for (; i + 4 * W <= b1; i += 4 * W) {
      V s[4];
      for (std::size_t j = 0; j < 4; ++j) {
        const auto top = eq(V::load(x + i + j * W), vm);
        kv = kv + mask_zero(top, one);
        s[j] = select(top, V::zero(), ev(i + j * W, W));
      }
      acc_add(acc0, s[0] + s[1]);
      acc_add(acc1, s[2] + s[3]);
    }
    for (; i < b1; i += W) {
      const std::size_t r = b1 - i < W ? b1 - i : W;
      const auto valid = first_lanes<V>(r);
      const auto top = mask_and(valid, eq(load_partial<V>(x + i, r, m), vm));
      kv = kv + mask_zero(top, one);
      acc_add(acc0, mask_zero(mask_and(valid, mask_not(top)), ev(i, r)));
    }
    total.add(acc_sum(acc0) + acc_sum(acc1));
  }
  using Wd = wide_t<V>;
  if (std::is_same_v<Wd, double> && em > 0) return {hsum(kv), total.value() * em};
  return {hsum(kv), double(Wd(total.value()) * std::exp(-Wd(m)))};
}

// With e null the e_j are computed again, the same way (the same bits as a stored row). em: e^-m
// in double where the caller has it (float rows: used instead of computing it), else 0.
template <class V>
inline RowSum<V> row_sum_stored(const scalar_t<V>* x, const scalar_t<V>* e, std::size_t n, scalar_t<V> m,
                                double em = 0) {
  if (!e) return row_sum_stored_t<V, false>(x, e, n, m, em);
  return row_sum_stored_t<V, true>(x, e, n, m, em);
}

// Float lanes without FMA (scalar, SSE2): exp errs a little more there (its reduction and Horner
// steps round twice), so softmax's last pass multiplies by the double 1/S in double, one rounding
// instead of two (1/S rounded to float, then the product). The FMA ISAs keep the float product.
template <class V>
constexpr bool scale_in_double = !V::has_fma && sizeof(scalar_t<V>) == 4;

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

// Rows' output passes waiting to run inside the next rows' sum pass (row_direct_sum's side job):
// LOG: y = (x - hi) - lo (log_softmax_shift), else y *= f (softmax). An output pass alone is a
// load, one or two operations and a store per vector: it waits on the caches while the arithmetic
// units idle, and the sum pass is the other way round. step() does four vectors of the oldest
// pending row; finish() the rest. The same operations on the same values: the same bits, in any
// order (rows never share memory, except a row with itself in place).
template <class V, bool LOG>
struct OutputQueue {
  using T = scalar_t<V>;
  static constexpr std::size_t W = V::size;
  struct Job {
    const T* x;
    T* y;
    std::size_t n;
    V a, b;
  };
  Job jobs[kRowGroup];
  std::size_t count = 0, cur = 0, off = 0;

  void push(const T* x, T* y, std::size_t n, V a, V b) { jobs[count++] = Job{x, y, n, a, b}; }
  LOGITKIT_INLINE void run(const Job& j, std::size_t i, std::size_t len) {
    if constexpr (LOG) log_shift_range<V>(j.x + i, j.y + i, len, j.a, j.b);
    else scale_range<V>(j.y + i, len, j.a, j.b);
  }
  LOGITKIT_INLINE void step() {
    if (cur == count) return;
    const Job& j = jobs[cur];
    if (off + 4 * W < j.n) {
      run(j, off, 4 * W);
      off += 4 * W;
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

// One pass, no max: S = Σ exp(x_i) in double and m = max(x), when every |x_i| is inside exp's
// normal range (else false: huge logits, -inf, NaN). log S is then log_softmax's and logsumexp's
// offset to within one exp rounding of S, which is exact enough unless one entry holds more than
// half the mass (log_softmax's top entry is then -log1p(S'), tiny: the max-relative path keeps it)
// or log S is near 0 (logsumexp cancels): the callers check those.
// With STORE, exp(x_i) is also written to y[i] (softmax's and cross-entropy's first pass; y != x).
// The input is prefetched a few KB ahead (the next rows, for a batch of contiguous rows), and so is
// y with STORE: a row from memory then costs little more than one from cache.
// side: other rows' output passes (OutputQueue), a few vectors of them after every four vectors
// here.
struct NoSide {};
template <class V, bool STORE = false, class Side = NoSide>
inline bool row_direct_sum(const scalar_t<V>* x, std::size_t n, double& S_out, scalar_t<V>& m_out,
                           scalar_t<V>* y = nullptr, Side* side = nullptr) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  if (n == 0) return false;
  const T limit = -EC::fast_lo < EC::fast_hi ? -EC::fast_lo : EC::fast_hi;
  // The range is checked at the end of each block, from the max and min (a NaN makes S NaN): a row
  // outside it has been summed for nothing, and the caller takes the max-relative path.
  V vmax = V::set1(x[0]), vmin = vmax;
  CompensatedSum<V> total;
  for (std::size_t b0 = 0; b0 < n; b0 += sum_block<V>) {
    const std::size_t b1 = (n - b0 > sum_block<V>) ? b0 + sum_block<V> : n;
    Acc acc0, acc1;
    std::size_t i = b0;
    for (; i + 4 * W <= b1; i += 4 * W) {
      for (std::size_t c = 0; c < 4 * W * sizeof(T); c += 64) {  // (SSE2, NEON: one line; AVX2: two)
        prefetch_read<V>(x + i, prefetch_ahead + c);
        if constexpr (STORE) prefetch_write<V>(y + i, prefetch_ahead + c);
      }
      V a0 = V::load(x + i), a1 = V::load(x + i + W), a2 = V::load(x + i + 2 * W), a3 = V::load(x + i + 3 * W);
      vmax = max(max(vmax, max(a0, a1)), max(a2, a3));
      vmin = min(min(vmin, min(a0, a1)), min(a2, a3));
      V e0 = math::exp_normal(a0), e1 = math::exp_normal(a1), e2 = math::exp_normal(a2), e3 = math::exp_normal(a3);
      if constexpr (STORE) {
        store(y + i, e0);
        store(y + i + W, e1);
        store(y + i + 2 * W, e2);
        store(y + i + 3 * W, e3);
      }
      // four terms summed in the lane type (two roundings, a sum of positive terms), one widening
      acc_add(acc0, (e0 + e1) + (e2 + e3));
      if constexpr (!std::is_same_v<Side, NoSide>) side->step();
    }
    const std::size_t first_tail = i;
    for (; i < b1; i += W) {
      const std::size_t m = (b1 - i >= W) ? W : b1 - i;
      V a = (m == W) ? V::load(x + i) : load_partial<V>(x + i, m, x[i]);  // padded with a row value
      vmax = max(vmax, a);
      vmin = min(vmin, a);
      V e = math::exp_normal(a);
      if (m < W) e = mask_zero(first_lanes<V>(m), e);
      if constexpr (STORE) {
        if (m == W) store(y + i, e);
        else store_partial(y + i, e, m);
      }
      acc_add(acc1, e);
    }
    // (acc1 is still zero when no vector went through the second loop; the first block's sum
    // goes into the compensated total exactly: the same values as total.add, fewer operations
    // on a short row's critical path)
    const double s = i > first_tail ? acc_sum(acc0) + acc_sum(acc1) : acc_sum(acc0);
    if (b0 == 0) total.S = s;
    else total.add(s);
    // (an out-of-range row stops at the end of its first block; a NaN row at the latest at the end,
    // by its sum). vmax and vmin may have lost a NaN, and a value a NaN hid in the same lane (x86
    // max/min): that value is in a row with a NaN, whose sum is NaN; nge also sends a NaN they kept
    // to the max-relative path at once (docs/numerics.md).
    if (any(mask_or(nge(V::set1(limit), vmax), nge(vmin, V::set1(-limit))))) return false;
  }
  S_out = total.value();
  m_out = hmax(vmax);
  return S_out > 0 && S_out < 1e300;
}

// Softmax without the max: when every |x_i| <= 87 (float; 708 for double), exp(x_i) is a normal
// number, so y_i = exp(x_i) · (1/S) with S = Σ exp(x_i) in double is exact to 3 ulp in two passes
// (exp + store + sum, then scale) instead of three. Returns false, having written nothing that
// matters, when a vector leaves that range, the sum is NaN, or 1/S is not a normal float: the
// caller then takes the exact-difference path. Never used in place (y == x), where a fallback
// would have lost the input.
// With a queue (softmax_rows' long rows), the last pass is queued to run inside the next row's sum
// pass instead, after the queue's earlier rows are finished.
template <class V, class Queue = NoSide>
inline bool softmax_direct(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, Queue* pending = nullptr) {
  using T = scalar_t<V>;
  constexpr bool queued = !std::is_same_v<Queue, NoSide>;
  double S;
  T m;
  const bool ok = row_direct_sum<V, true>(x, n, S, m, y, pending);
  if constexpr (queued) pending->finish();
  if (!ok) return false;
  const double F = 1.0 / S;
  if (!(F >= 0x1p-100)) return false;  // NaN sum (a NaN input), or a row too large to scale once
  const T f = T(F), fl = T(F - double(f));
  if constexpr (queued) pending->push(x, y, n, V::set1(f), V::set1(fl));
  else scale_range<V>(y, n, V::set1(f), V::set1(fl));
  return true;
}

// softmax / log_softmax of a row in the wide type, scalar: the fallback for temperatures whose
// float pair or reciprocal leaves the lane type's normal range, and for rows where x - m overflows.
template <class V>
inline void rowwise_wide(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, scalar_t<V> m, double temp, bool log) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp);
  Wd S = 0, k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] == m) k += 1;
    else S += std::exp((Wd(x[i]) - wm) / wt);
  }
  const Wd L = (k == 1) ? std::log1p(S) : std::log(k + S);
  for (std::size_t i = 0; i < n; ++i) {
    const Wd d = (Wd(x[i]) - wm) / wt;
    y[i] = log ? T(d - L) : T(std::exp(d) / (k + S));
  }
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

// logsumexp of a row in the wide type, scalar: the fallback for cancellation and extreme temperatures.
template <class V>
inline scalar_t<V> logsumexp_wide(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  Wd S = 0, k = 0;
  const Wd wm = Wd(m), wt = Wd(temp);
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] == m) k += 1;
    else S += std::exp((Wd(x[i]) - wm) / wt);
  }
  const Wd L = (k == 1) ? std::log1p(S) : std::log(k + S);
  return T(wm / wt + L);
}

// ---- public row kernels (temp > 0 finite; temp == 1 takes the plain path)

// ---- short rows, V::size rows at a time (one row per lane)
//
// Rows shorter than 4 vectors pay more per row than per element in the row kernels (reductions
// across lanes, a tail, a libm log). rows_short transposes a group of V::size rows into a
// stack buffer, one row per lane, and runs the max-relative algorithm lane-wise: m, then
// S' = Σ_{x_j<m} exp(x_j - m) with x_j - m exact (TwoSum) and k = #{x_j = m}, then
// L = log(k + S') in double lanes, then y = (d_hi - L_hi) + (d_lo - L_lo): the row kernel's own
// formulas, so the same accuracy. A lane whose row needs more (a NaN, an infinity, an entry more
// than 87 (float) below the max: -inf or a subnormal term) is redone by the row kernel. No lane
// depends on another: a row gets the same bits in any group, alone (log_softmax_row on a short row
// comes here with one row) or in a batch, on any thread.
template <class V>
constexpr std::size_t short_rows_below = V::size > 1 ? 4 * std::size_t(V::size) : 0;

// The double lanes that hold a float vector's sums (the accumulator's halves), or V itself.
template <class V>
using wide_lanes_t = std::remove_cv_t<std::remove_reference_t<decltype(acc_make(V::zero()).a)>>;

// Stores an accumulator's lanes in order (the float accumulators keep lanes 0..W/2-1 in a and the
// rest in b: simd/*.hpp acc_add).
template <class Acc, class = void> struct acc_has_b : std::false_type {};
template <class Acc> struct acc_has_b<Acc, std::void_t<decltype(std::declval<Acc&>().b)>> : std::true_type {};
template <class Acc>
inline void acc_store(double* out, const Acc& acc) {
  using D = std::remove_cv_t<std::remove_reference_t<decltype(acc.a)>>;
  store(out, acc.a);
  if constexpr (acc_has_b<Acc>::value) store(out + D::size, acc.b);
}

// log(u) for a positive normal u in double lanes: e·ln2 + log1p(f) from u = 2^e·(1 + f), f in [0, 1).
// Within about an ulp (log1p_unit) plus one rounding (absolute near u = 1).
template <class D>
inline D log_split(D u, D& e) {  // returns f, sets e
  const D one = D::set1(1.0);
  const auto ub = bits(u);
  const auto eb = srli(ub, 52);  // biased exponent
  e = D::from_bits(iadd(eb, bits(D::set1(0x1p52)))) - D::set1(0x1p52 + 1023.0);
  return D::from_bits(iadd(isub(ub, slli(eb, 52)), bits(one))) - one;  // mantissa - 1
}
template <class D>
inline D log_join(D e, D log1p_f) {  // e·ln2 + log1p(f), exactly log1p(f) where e = 0
  using C = math::log1p_consts<double>;
  return mul_add(e, D::set1(C::ln2_hi), mul_add(e, D::set1(C::ln2_lo), log1p_f));
}
template <class D>
inline D log_pos(D u) {
  D e;
  const D f = log_split(u, e);
  return log_join(e, math::log1p_unit(f));
}

// log(k + S') for k >= 1, S' >= 0 finite, in double lanes: log1p(S') where k = 1 and S' <= 1 (S'
// keeps its relative accuracy: a confident row's top output is -L), else log_pos(k + S'). One
// log1p_unit for both: its argument S' or f, with e = 0 for the first.
template <class D>
inline D log_k_plus(D k, D Sp) {
  const D one = D::set1(1.0);
  const auto direct = mask_and(eq(k, one), le(Sp, one));
  D e;
  const D f = log_split(k + Sp, e);
  return log_join(select(direct, D::zero(), e), math::log1p_unit(select(direct, Sp, f)));
}

// For the rows of a group (kRowGroup values, a multiple of every ISA's double lane count; unused
// entries hold harmless values): out = exp(-a), log(u), log(k + S') in the double lanes, several
// rows per call instead of a libm call per row (the scalar ISA calls libm).
template <class V>
inline void group_exp_neg(const double* a, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = std::exp(-a[i]);
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, math::exp(neg(D::load(a + i))));
  }
}
template <class V>
inline void group_log(const double* u, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = std::log(u[i]);
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, log_pos(D::load(u + i)));
  }
}
template <class V>
inline void group_log_k_plus(const double* k, const double* Sp, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = RowSum<V>{k[i], Sp[i]}.L();
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, log_k_plus(D::load(k + i), D::load(Sp + i)));
  }
}

template <class V>
inline void log_softmax_row_general(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp);
template <class V>
inline void softmax_row_general(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp);
template <class V>
inline void softmax_row_maxrel(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp);
template <class V>
inline scalar_t<V> logsumexp_row_general(const scalar_t<V>* x, std::size_t n, double temp);

enum class ShortKind { log_softmax, softmax, logsumexp };

// logsumexp = m/T + L with m < 0 < L cancels when the result is small against L: L's error (about an
// ulp of the lane type from the exp terms of S') is then multiplied by L/|result|. Below this
// fraction the row is summed again in the wide type; above it the factor is at most 2 (3 ulp).
constexpr double logsumexp_cancel = 0.5;

// `rows` contiguous rows of n (2 <= n < short_rows_below), y may equal x (logsumexp: y[r], one per row).
// (rows_short_t is compiled only for ISAs with several lanes; rows_short is the entry.)
template <class V, ShortKind K>
inline void rows_short_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  constexpr bool SOFTMAX = K == ShortKind::softmax;
  // cols[j][l]: entry j of lane l's row. Two buffers: the next group is transposed before this one
  // is computed, so that its scalar stores have long reached the cache when the vector loads come
  // (a load that spans several stores still in flight waits for them all)
  alignas(64) T colbuf[2][short_rows_below<V>][W];
  alignas(64) T ecol[SOFTMAX ? short_rows_below<V> : 1][W];  // softmax: exp(x_j - m) per lane
  alignas(64) T tmp[W], Lh[W], Ll[W], mt[W];
  alignas(64) double Sd[W], kd[W], Ld[W];
  const V one = V::set1(T(1)), zero = V::zero();
  auto transpose = [&](T (*c)[W], std::size_t r0) {
    const std::size_t g = rows - r0 < W ? rows - r0 : W;
    for (std::size_t l = 0; l < W; ++l) {  // lanes past g repeat the group's first row
      const T* xr = x + (r0 + (l < g ? l : 0)) * n;
      for (std::size_t j = 0; j < n; ++j) c[j][l] = xr[j];
    }
  };
  transpose(colbuf[0], 0);
  for (std::size_t r0 = 0, b = 0; r0 < rows; r0 += W, b ^= 1) {
    const std::size_t g = rows - r0 < W ? rows - r0 : W;
    if (r0 + W < rows) transpose(colbuf[b ^ 1], r0 + W);  // (rows never overlap other rows)
    T (*cols)[W] = colbuf[b];
    V m = V::set1(-lim<V>::inf), mn = V::set1(lim<V>::inf);
    auto nan = lt(zero, zero);
    for (std::size_t j = 0; j < n; ++j) {
      const V v = V::load(cols[j]);
      m = max(m, v);
      mn = min(mn, v);
      nan = mask_or(nan, isnan(v));
    }
    // NaN anywhere, m = ±inf, or an entry below m + fast_lo (NaN difference included): the row kernel
    const auto bad = mask_or(nan, mask_not(le(V::set1(EC::fast_lo), mn - m)));
    const V negm = neg(m);
    decltype(acc_make(V::zero())) acc;
    V k = zero;
    for (std::size_t j = 0; j < n; ++j) {
      const V v = V::load(cols[j]);
      V lo;
      const V hi = two_sum(v, negm, lo);
      V z;
      const V p = math::exp_poly<V, true>(hi, lo, z);
      const V e = p * V::from_bits(slli(bits(z), EC::mant_bits));
      if constexpr (SOFTMAX) store(ecol[j], e);
      const auto at = eq(v, m);
      k = k + mask_zero(at, one);
      acc_add(acc, select(at, zero, e));
    }
    acc_store(Sd, acc);
    store(tmp, k);
    for (std::size_t l = 0; l < W; ++l) kd[l] = double(tmp[l]);
    if constexpr (SOFTMAX) {
      if constexpr (scale_in_double<V>) {
        double F[W];
        for (std::size_t l = 0; l < W; ++l) F[l] = 1.0 / (kd[l] + Sd[l]);
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t l = 0; l < W; ++l) cols[j][l] = T(double(ecol[j][l]) * F[l]);
      } else {
        for (std::size_t l = 0; l < W; ++l) Lh[l] = T(1.0 / (kd[l] + Sd[l]));
        const V inv = V::load(Lh);
        for (std::size_t j = 0; j < n; ++j) store(cols[j], V::load(ecol[j]) * inv);
      }
    } else if constexpr (K == ShortKind::log_softmax || sizeof(T) == 4) {
      // (float logsumexp too: L in double is far more exact than its float result needs, even
      // where m + L partly cancels)
      for (std::size_t l = 0; l < W; l += D::size) store(Ld + l, log_k_plus(D::load(kd + l), D::load(Sd + l)));
    } else {
      // double logsumexp = m + L can cancel (m < 0 < L): L to libm's accuracy, as in the row kernel
      for (std::size_t l = 0; l < g; ++l) Ld[l] = RowSum<V>{kd[l], Sd[l]}.L();
    }
    if constexpr (K == ShortKind::log_softmax) {
      for (std::size_t l = 0; l < W; ++l) {
        Lh[l] = T(Ld[l]);
        Ll[l] = T(Ld[l] - double(Lh[l]));
      }
      store(mt, m);
    }
    store(tmp, mask_zero(bad, one));
    if constexpr (K == ShortKind::logsumexp) {
      store(mt, m);
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        const double a = double(mt[l]), L = Ld[l];
        // m < 0 < L cancelling (the row kernel's rule): the row kernel sums the row in the wide type
        if (tmp[l] != T(0) || (a < 0 && std::fabs(a + L) < logsumexp_cancel * L))
          y[r] = logsumexp_row_general<V>(x + r * n, n, 1.0);
        else y[r] = T(a + L);
      }
    } else {
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        if (tmp[l] != T(0)) {
          if constexpr (SOFTMAX) softmax_row_general<V>(x + r * n, y + r * n, n, 1.0);
          else log_softmax_row_general<V>(x + r * n, y + r * n, n, 1.0);
        } else if constexpr (SOFTMAX) {
          T* yr = y + r * n;
          for (std::size_t j = 0; j < n; ++j) yr[j] = cols[j][l];
        } else {
          // from the row itself with lane l's m and L (the row kernel's output pass: the same
          // operations entry by entry), not transposed back
          log_softmax_out<V, false, false>(x + r * n, y + r * n, n, mt[l], 1.0, Lh[l], Ll[l]);
        }
      }
    }
  }
}

template <class V, ShortKind K>
inline void rows_short(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0) rows_short_t<V, K>(x, y, rows, n);
}

// Whether rows of n at this temperature take rows_short.
template <class V>
inline bool short_rows(std::size_t n, double temp) {
  return temp == 1.0 && n >= 2 && n < short_rows_below<V>;
}

// `rows` contiguous rows of n (row i at x + i·n), y may equal x: short rows V::size at a time. One
// row is a block of one (the same bits, whichever way a row comes).
// Row groups (log_softmax_rows_grouped, logsumexp_rows_grouped): every row of 4 vectors or more at
// temperature 1 goes through one, up to 16 rows and about 2048 entries at a time (so that a
// group's rows are still in L1 for their last pass; a longer row is a group of one, as is a row
// that comes alone).
inline std::size_t rows_per_group(std::size_t n) {
  const std::size_t per = kRowGroupMaxN / n;
  return per < 1 ? 1 : per > kRowGroup ? kRowGroup : per;
}
template <class V>
inline bool group_rows(std::size_t n, double temp) {
  return temp == 1.0 && n >= 4 * std::size_t(V::size);
}

// log_softmax of rows several at a time, each phase for every row of the group before the next:
//  1. the direct sums (row_direct_sum: S = Σ exp(x_j) with no max pass where every logit is inside
//     exp's range; rows outside it, or with a NaN, take the max-relative path at the end). Unless
//     in place, the pass also writes exp(x) to y, which the last pass overwrites: the output's cache
//     misses are taken while the exp arithmetic runs, and a top-heavy row reuses those exps (long
//     rows: only while the rows come top-heavy, see step 5);
//  2. the rows' e^-m together in double lanes, and q = S·e^-m >= 1 (the max's own term);
//  3. rows where one entry holds more than half the mass (q < 2, a confident classifier's usual
//     row: its top output -log1p(S') needs S' = Σ_{j != top} exp(x_j - m) to relative accuracy):
//     S' from the stored exps (row_sum_stored; in place, computed again: the same bits). Elsewhere
//     every output is <= -log 2 and log q's error stays below an ulp of it;
//  4. every row's offset L together in double lanes (log_k_plus: log1p(S'), or log q);
//  5. the outputs, x - (m + L) (log_softmax_shift). Long rows (over kRowGroupMaxN / 2, or / 4
//     for an output of kBigOutput or more: groups of one) pass theirs to the next row's phase 1
//     (OutputQueue), whose arithmetic then hides the output's misses: rows of 32000, 0.93 x the
//     time; rows of 1000 in cache: no gain, in memory: 0.97 x.
// A row alone waits on the chain from its sum through exp and log to its output pass, and would
// pay a libm call for each; a group's chains overlap and its exps and logs share vector
// instructions (rows of 32 floats: 0.6 x the time of row by row with libm).
template <class V>
inline void log_softmax_rows_grouped(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t G = kRowGroup;
  const bool big = rows * n * sizeof(T) >= kBigOutput;
  const bool queue = n > (big ? kRowGroupMaxN / 4 : kRowGroupMaxN / 2);
  const std::size_t per = queue ? 1 : rows_per_group(n);
  alignas(64) double S[G], md[G], em[G], k[G], Sp[G], L[G];
  T m[G];
  bool ok[G];
  // Queued rows (groups of one): each row's output pass runs inside the next row's sum pass. Their
  // sum pass stores its exps (taking the output's misses while the exp arithmetic runs) where the
  // output is big, else only while the rows come top-heavy (they reuse them; in cache, the output
  // pass's own misses overlap the next row's arithmetic). Either way, the same bits.
  bool store_exps = !queue || big;
  OutputQueue<V, true> pending;
  for (std::size_t r0 = 0; r0 < rows; r0 += per) {
    const std::size_t g = rows - r0 < per ? rows - r0 : per;
    for (std::size_t i = 0; i < G; ++i) {  // entries past g: harmless values
      md[i] = 0;
      k[i] = Sp[i] = 1;
    }
    for (std::size_t i = 0; i < g; ++i) {
      const T* xr = x + (r0 + i) * n;
      T* yr = y + (r0 + i) * n;
      const bool st = store_exps && yr != xr;
      if (queue) ok[i] = st ? row_direct_sum<V, true>(xr, n, S[i], m[i], yr, &pending)
                            : row_direct_sum<V, false>(xr, n, S[i], m[i], nullptr, &pending);
      else ok[i] = st ? row_direct_sum<V, true>(xr, n, S[i], m[i], yr) : row_direct_sum<V, false>(xr, n, S[i], m[i]);
      if (ok[i]) md[i] = double(m[i]);
    }
    pending.finish();
    const bool stored = store_exps;  // whether this group's sums wrote their exps (not in place)
    group_exp_neg<V>(md, em, g);
    for (std::size_t i = 0; i < g; ++i) {
      if (!ok[i]) continue;
      const double q = S[i] * em[i];  // >= 1 (the max's own term); top-heavy where < 2
      if (q < 2.0) {  // S' from the stored exps (else computed again: the same bits)
        const T* xr = x + (r0 + i) * n;
        T* yr = y + (r0 + i) * n;
        const RowSum<V> rs = row_sum_stored<V>(xr, stored && yr != xr ? yr : nullptr, n, m[i], em[i]);
        k[i] = rs.k;
        Sp[i] = rs.Sp;
      } else {
        Sp[i] = q - 1;  // exact (q >= 2); log(1 + (q - 1)) = log q
      }
      if (queue) store_exps = big || q < 2.0;
    }
    group_log_k_plus<V>(k, Sp, L, g);
    for (std::size_t i = 0; i < g; ++i) {
      const T* xr = x + (r0 + i) * n;
      T* yr = y + (r0 + i) * n;
      if (ok[i] && queue) {
        V hi, lo;
        log_shift_consts<V>(m[i], L[i], hi, lo);
        pending.push(xr, yr, n, hi, lo);
      } else if (ok[i]) {
        log_softmax_shift<V>(xr, yr, n, m[i], L[i]);
      } else {
        log_softmax_row_general<V>(xr, yr, n, 1.0);
      }
    }
  }
  pending.finish();
}

template <class V>
inline void log_softmax_rows(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) return rows_short<V, ShortKind::log_softmax>(x, y, rows, n);
  if (group_rows<V>(n, temp)) return log_softmax_rows_grouped<V>(x, y, rows, n);
  for (std::size_t r = 0; r < rows; ++r) log_softmax_row_general<V>(x + r * n, y + r * n, n, temp);
}
template <class V>
inline void log_softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  log_softmax_rows<V>(x, y, 1, n, temp);
}

// The max-relative path: rows the groups do not take (short rows' special lanes, temperatures) and
// rows their direct sum declined.
template <class V>
inline void log_softmax_row_general(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  using T = scalar_t<V>;
  T m{}, mn{};
  RowKind kind = row_max<V>(x, n, m, &mn);
  if (kind != row_ok) return fill_row<V>(y, n, lim<V>::nan);
  if (temp == 1.0) log_softmax_row_t<V, false>(x, y, n, m, temp);
  else if (temp_needs_wide<V>(x, n, m, mn, temp)) rowwise_wide<V>(x, y, n, m, temp, true);
  else log_softmax_row_t<V, true>(x, y, n, m, temp);
}

// Long rows (over kRowGroupMaxN / 2) at temperature 1, not in place: softmax_row_general's direct
// path (softmax_direct) with each row's last pass, y *= 1/S, inside the next row's sum pass
// (OutputQueue; rows of 32000: 0.93 x the time, rows of 1000: no gain, rows of 100: a loss); a row
// the direct sum declines takes the max-relative path at once.
template <class V>
inline void softmax_rows(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) return rows_short<V, ShortKind::softmax>(x, y, rows, n);
  if (!(group_rows<V>(n, temp) && rows_per_group(n) == 1 && x != y)) {
    for (std::size_t r = 0; r < rows; ++r) softmax_row_general<V>(x + r * n, y + r * n, n, temp);
    return;
  }
  OutputQueue<V, false> pending;
  for (std::size_t r = 0; r < rows; ++r)
    if (!softmax_direct<V>(x + r * n, y + r * n, n, &pending)) softmax_row_maxrel<V>(x + r * n, y + r * n, n, 1.0);
  pending.finish();
}
template <class V>
inline void softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  softmax_rows<V>(x, y, 1, n, temp);
}

// Rows grouped as in log_softmax_rows_grouped: the direct sums of a group, then their logs
// together in double lanes.
template <class V>
inline void logsumexp_rows_grouped(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t G = kRowGroup;
  const std::size_t per = rows_per_group(n);
  alignas(64) double S[G], L[G];
  bool ok[G];
  for (std::size_t r0 = 0; r0 < rows; r0 += per) {
    const std::size_t g = rows - r0 < per ? rows - r0 : per;
    for (std::size_t i = 0; i < G; ++i) S[i] = 1;
    for (std::size_t i = 0; i < g; ++i) {
      T m;
      double s;
      ok[i] = row_direct_sum<V>(x + (r0 + i) * n, n, s, m);
      if (ok[i]) S[i] = s;
    }
    group_log<V>(S, L, g);
    // log S errs by one exp rounding of S, absolute: fine where |log S| >= 1
    for (std::size_t i = 0; i < g; ++i)
      out[r0 + i] = (ok[i] && std::fabs(L[i]) >= 1.0) ? T(L[i]) : logsumexp_row_general<V>(x + (r0 + i) * n, n, 1.0);
  }
}

// out[r] = logsumexp of row r of `rows` contiguous rows of n.
template <class V>
inline void logsumexp_rows(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) return rows_short<V, ShortKind::logsumexp>(x, out, rows, n);
  if (group_rows<V>(n, temp)) return logsumexp_rows_grouped<V>(x, out, rows, n);
  for (std::size_t r = 0; r < rows; ++r) out[r] = logsumexp_row_general<V>(x + r * n, n, temp);
}
template <class V>
inline scalar_t<V> logsumexp_row(const scalar_t<V>* x, std::size_t n, double temp) {
  scalar_t<V> r;
  logsumexp_rows<V>(x, &r, 1, n, temp);
  return r;
}

template <class V>
inline void softmax_row_general(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  using T = scalar_t<V>;
  if (n == 1) {  // a row of one: exactly 1 (NaN for NaN or inf, -inf: NaN as an all -inf row)
    y[0] = (x[0] - x[0] == T(0)) ? T(1) : lim<V>::nan;
    return;
  }
  if (temp == 1.0 && x != y && softmax_direct<V>(x, y, n)) return;
  softmax_row_maxrel<V>(x, y, n, temp);
}
// softmax_row_general's path after the direct one (or instead of it).
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

// The max-relative path: rows the groups do not take (short rows' special lanes, temperatures) and
// rows their direct sum declined.
template <class V>
inline scalar_t<V> logsumexp_row_general(const scalar_t<V>* x, std::size_t n, double temp) {
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
  if (mt < 0 && std::fabs(mt + L) < logsumexp_cancel * L) return logsumexp_wide<V>(x, n, m, temp);
  return T(mt + L);
}

}  // namespace logitkit::kernels
