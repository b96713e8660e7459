// The row passes of sampling (kernels/list.hpp, kind SELECT; the C++ API's sample and sample_proba
// in api.hpp drive them, docs/semantics.md "Sampling" defines what they serve).
//
// sample_scan_row: one row's max (a NaN, +inf or all -inf row is reported, nothing else computed;
// skipped when the caller knows the max), then one pass over the weights w_j = exp((x_j - m)/T),
// each from an exact argument hi + lo and one rounding of exp (math/exp.hpp, exp(hi)·(1 + lo): <= 1
// ulp of the lane type), giving
//   ties  = #{x_j = m}, rest = Σ w_j over the other entries (the max-relative sum of
//           row/max_relative.hpp: double lanes, blocks added with compensation, the terms below
//           exp's normal range summed apart in the wide type), so log(ties + rest) is the row's
//           logsumexp minus m/T to the row type's accuracy;
//   below[j] = Σ w_j over the entries x_j < edge[j], edge[j] = the row type's rounding of
//           m - T·delta[j]: the weight beyond each of K edges, for the top-p bound in api.hpp.
// The argument: (x - m)/T by row_diff, or, when 0 <= m/T <= fast_hi/2, x/T directly (x times the
// pair of 1/T, exact by TwoProduct) with the sums scaled by exp(-m/T) once at the end (DIRECT).
// Error: each term within 1 ulp; four terms are added in the lane type (2 roundings) before the
// double sum, and each edge sum adds at most sample_block terms per lane in the lane type before
// the block's sum is added in double, so below[j] is within (sample_block + 3)·u of the exact sum
// of its terms (u: the lane type's unit roundoff), plus the terms below exp's normal range, which
// it drops (each under 2^-125 for float, 2^-1021 for double, relative to the max's weight).
// sample_at_least_row: the indices of the entries x_i >= edge, in index order (the candidates of
// the kept set); the caller has ruled out NaN.
// sample_quotients_row: (x_i - max)/T in double as q + r at the candidates, for their exact weights
// exp(q)·(1 + r) (the caller applies the vector exp of double).
//
// Invariant: every result depends only on the row, n, T and the edges, never on the ISA beyond
// the lane type's rounding of each term and the order of the sums (the caller's decisions carry the
// error bounds above, so the kept set does not depend on the ISA).
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../math/exp.hpp"
#include "common.hpp"
#include "list.hpp"
#include "row/basics.hpp"
#include "row/max_relative.hpp"
#include "top_k.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The largest finite value, as data (no function of std::numeric_limits is emitted into an ISA object).
template <class T> struct sample_limits {
  static constexpr T max = std::numeric_limits<T>::max();
};

// Vectors per block of the edge sums (see the header comment's bound).
constexpr std::size_t sample_block = 16;

// Whether V's masks convert to lane bits in one instruction (x86), and whether V has a masked add
// (AVX-512); else the lane bits come from a sum of powers of two and the masked add is two steps.
template <class V, class = void> struct has_mask_bits : std::false_type {};
template <class V>
struct has_mask_bits<V, std::void_t<decltype(mask_bits(eq(V::zero(), V::zero())))>> : std::true_type {};
template <class V, class = void> struct has_mask_add : std::false_type {};
template <class V>
struct has_mask_add<V, std::void_t<decltype(mask_add(eq(V::zero(), V::zero()), V::zero(), V::zero()))>>
    : std::true_type {};

template <class V>
LOGITKIT_INLINE inline std::uint64_t sample_lanes(typename V::mask m, V pow2) {
  if constexpr (has_mask_bits<V>::value) {
    return mask_bits(m);
  } else {
    return std::uint64_t(hsum(mask_zero(m, pow2)));
  }
}
template <class V>
LOGITKIT_INLINE inline V sample_mask_add(typename V::mask m, V a, V b) {
  if constexpr (has_mask_add<V>::value) {
    return mask_add(m, a, b);
  } else {
    return a + mask_zero(m, b);
  }
}

// The scan with K edges known at compile time (the accumulators stay in registers). DIRECT: the
// terms are exp(x_j/T) (x_j/T carried as hi + lo: x·s_hi exact by FMA plus x·s_lo, s_hi + s_lo the
// float pair of 1/T), the max-relative ones scaled once at the end by exp(-m/T) in the wide type; the
// caller takes it only when 0 <= m/T <= fast_hi/2 (no term overflows, and the terms below exp's
// normal range are as small relative to the max as on the other path). Else each term is
// exp((x_j - m)/T) from row_diff.
template <class V, std::size_t K, bool DIRECT>
inline void sample_scan_k(const scalar_t<V>* x, std::size_t n, double temp, scalar_t<V> m, const scalar_t<V>* edges,
                          kernel_types::SampleScan* out) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  using EC = math::exp_consts<T>;
  using Wd = wide_t<V>;
  constexpr std::size_t W = V::size;
  V edge[K > 0 ? K : 1];
  for (std::size_t j = 0; j < K; ++j) edge[j] = V::set1(edges[j]);
  // 1/T as a pair of the lane type: inv + inv_lo (the quotient's residual, exact by FMA) holds it to
  // about 2^-100; its float pair to about 2^-48
  const double inv = 1.0 / temp, inv_lo = std::fma(-inv, temp, 1.0) / temp;
  const T inv_hi = T(inv);
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(inv_hi), invt_lo = V::set1(T((inv - double(inv_hi)) + inv_lo)), vm = V::set1(m),
          one = V::set1(T(1));
  CompensatedSum<V> total;
  double ties = 0, below[K > 0 ? K : 1] = {};
  Wd tiny_sum = 0;
  // x/T or (x - m)/T of a as hi + lo
  const auto diff = [&](V a, V& lo) LOGITKIT_INLINE {
    if constexpr (DIRECT) {
      V err;
      const V hi = two_prod(a, invt, err);  // exact: FMA, or Dekker's product without one
      lo = mul_add(a, invt_lo, err);
      return hi;
    } else {
      return row_diff<V, true, false>(a, negm, t, tl, invt, lo);
    }
  };
  // the weight of lanes `valid` of a, the entries at the max counted in ties instead, the terms
  // below exp's normal range summed apart in the wide type
  const auto term = [&](V a, V hi, V lo, typename V::mask valid) LOGITKIT_INLINE {
    V e = math::exp_any<V, false, true>(hi, lo);
    const auto tiny = mask_and(valid, lt(hi, V::set1(EC::fast_lo)));
    const auto at_max = mask_and(valid, eq(a, vm));
    if (any(mask_or(tiny, at_max))) {
      if (any(tiny)) {
        tiny_sum += tiny_terms<V>(hi, lo, tiny);
        e = select(tiny, V::zero(), e);
      }
      ties += hsum(mask_zero(at_max, one));
      e = select(at_max, V::zero(), e);
    }
    return e;
  };
  const auto all = eq(vm, vm);
  const V lowest = V::set1(EC::fast_lo);
  constexpr std::size_t block = sample_block * W;
  for (std::size_t b0 = 0; b0 < n; b0 += block) {
    const std::size_t b1 = (n - b0 > block) ? b0 + block : n;
    Acc acc0, acc1;
    V part[K > 0 ? K : 1];
    for (std::size_t j = 0; j < K; ++j) part[j] = V::zero();
    const auto edges_add = [&](V a, V e) LOGITKIT_INLINE {
      for (std::size_t j = 0; j < K; ++j) part[j] = sample_mask_add(lt(a, edge[j]), part[j], e);
    };
    std::size_t i = b0;
    // Four vectors at a time: one test for the rare lanes (an entry at the max, a term below exp's
    // normal range) before the plain exp; the four terms are added in the lane type (two
    // roundings, relative 2u) before they are widened.
    for (; i + 4 * W <= b1; i += 4 * W) {
      const V a0 = V::load(x + i), a1 = V::load(x + i + W), a2 = V::load(x + i + 2 * W), a3 = V::load(x + i + 3 * W);
      V l0, l1, l2, l3;
      const V h0 = diff(a0, l0), h1 = diff(a1, l1), h2 = diff(a2, l2), h3 = diff(a3, l3);
      const auto rare = mask_or(mask_or(mask_or(eq(a0, vm), eq(a1, vm)), mask_or(eq(a2, vm), eq(a3, vm))),
                                lt(min(min(h0, h1), min(h2, h3)), lowest));
      V e0, e1, e2, e3;
      if (!any(rare)) {
        e0 = math::exp_normal<V, true>(h0, l0);
        e1 = math::exp_normal<V, true>(h1, l1);
        e2 = math::exp_normal<V, true>(h2, l2);
        e3 = math::exp_normal<V, true>(h3, l3);
      } else {
        e0 = term(a0, h0, l0, all);
        e1 = term(a1, h1, l1, all);
        e2 = term(a2, h2, l2, all);
        e3 = term(a3, h3, l3, all);
      }
      if constexpr (K == 0) {
        acc_add(acc0, (e0 + e1) + (e2 + e3));
      } else {
        acc_add(acc0, e0 + e1);
        acc_add(acc1, e2 + e3);
      }
      edges_add(a0, e0);
      edges_add(a1, e1);
      edges_add(a2, e2);
      edges_add(a3, e3);
    }
    for (; i < b1; i += W) {
      // the row's tail: padded with m (a fast value), then masked out
      const auto valid = first_lanes<V>(b1 - i);
      const V a = b1 - i >= W ? V::load(x + i) : load_partial<V>(x + i, b1 - i, m);
      V lo;
      const V hi = diff(a, lo);
      const V e = mask_zero(valid, term(a, hi, lo, valid));
      acc_add(acc0, e);
      edges_add(a, e);
    }
    total.add(acc_sum(acc0) + acc_sum(acc1));
    for (std::size_t j = 0; j < K; ++j) below[j] += hsum(part[j]);
  }
  // DIRECT: back to max-relative units, exp(-m/T) once (m/T in the wide type)
  const Wd scale = DIRECT ? math::libm_exp(-Wd(m) / Wd(temp)) : Wd(1);
  out->ties = ties;
  out->rest = double((Wd(total.value()) + tiny_sum) * scale);
  for (std::size_t j = 0; j < K; ++j) out->below[j] = double(Wd(below[j]) * scale);
}

template <class V>
inline void sample_scan_row(const scalar_t<V>* x, std::size_t n, double temp, const double* delta, std::size_t K,
                            const scalar_t<V>* known_max, kernel_types::SampleScan* out) {
  using T = scalar_t<V>;
  constexpr std::size_t E = kernel_types::sample_edges;
  T m;
  const RowKind kind = known_max ? row_ok : row_max<V>(x, n, m);
  if (known_max) m = *known_max;
  out->kind = int(kind);
  if (kind != row_ok) return;
  out->max = double(m);
  if (K > E) K = E;
  out->edges = K;
  // the edges, rounded to T (-inf below T's range); unused ones at -inf (nothing below them)
  T edges[E];
  for (std::size_t j = 0; j < E; ++j) {
    const double e = j < K ? double(m) - temp * delta[j] : -double(lim<V>::inf);
    edges[j] = e < -double(sample_limits<T>::max) ? -lim<V>::inf : T(e);
    out->edge[j] = double(edges[j]);
  }
  const double mt = double(m) / temp;
  const bool direct = mt >= 0 && mt <= double(math::exp_consts<T>::fast_hi) / 2;
  if (K == 0) {
    if (direct) sample_scan_k<V, 0, true>(x, n, temp, m, edges, out);
    else sample_scan_k<V, 0, false>(x, n, temp, m, edges, out);
  } else {
    if (direct) sample_scan_k<V, E, true>(x, n, temp, m, edges, out);
    else sample_scan_k<V, E, false>(x, n, temp, m, edges, out);
  }
}

template <class V>
inline std::size_t sample_at_least_row(const scalar_t<V>* x, std::size_t n, scalar_t<V> edge, std::uint32_t* idx) {
  constexpr std::size_t W = V::size;
  const V pow2 = V::load(top_k_lane_bit<V>::values), ev = V::set1(edge);
  std::size_t c = 0;
  const auto take = [&](std::size_t i, std::uint64_t bits) LOGITKIT_INLINE {
    for (; bits; bits &= bits - 1) idx[c++] = std::uint32_t(i + top_k_lowest_bit(bits));
  };
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const auto m0 = le(ev, V::load(x + i)), m1 = le(ev, V::load(x + i + W));
    const auto m2 = le(ev, V::load(x + i + 2 * W)), m3 = le(ev, V::load(x + i + 3 * W));
    if (!any(mask_or(mask_or(m0, m1), mask_or(m2, m3)))) continue;
    take(i, sample_lanes<V>(m0, pow2) | sample_lanes<V>(m1, pow2) << W | sample_lanes<V>(m2, pow2) << (2 * W) |
                sample_lanes<V>(m3, pow2) << (3 * W));
  }
  for (; i < n; i += W) {
    const bool full = n - i >= W;
    const V a = full ? V::load(x + i) : load_partial<V>(x + i, n - i, -lim<V>::inf);
    const auto mk = mask_and(le(ev, a), full ? eq(ev, ev) : first_lanes<V>(n - i));
    if (any(mk)) take(i, sample_lanes<V>(mk, pow2));
  }
  return c;
}

// (x_i - b)/t as q[j] + r[j] at the tokens i = idx[j] (idx null: i = j), j < m, and xs[j] = x_i:
// the difference carried exactly (TwoSum) and the quotient's residual by FMA, so exp(q)·(1 + r)
// and q + r are as exact as exp and a sum; -inf gives q = -inf, r = 0. Scalar code: the ISA's
// flags give it a hardware FMA. Returns the smallest finite x_i.
template <class V>
inline double sample_quotients_row(const scalar_t<V>* x, const std::uint32_t* idx, std::size_t m, double b, double t,
                                   double* xs, double* q, double* r) {
  constexpr double ninf = -double(lim<V>::inf);
  const double it = 1.0 / t;
  double xmin = -ninf;
  // without branches (the compiler may vectorise it): -inf lanes are fixed by selects
  for (std::size_t j = 0; j < m; ++j) {
    const double a = double(x[idx ? idx[j] : j]);
    xs[j] = a;
    const double d = a - b;
    const bool fin = d > ninf;
    xmin = fin && a < xmin ? a : xmin;
    const double dp = d - a, err = (a - (d - dp)) + (-b - dp);  // d + err = a - b exactly
    const double qq = d * it;
    q[j] = fin ? qq : ninf;
    const double rr = (std::fma(-qq, t, d) + err) * it;  // qq + rr = (a - b)/t to about 2^-100 relatively
    r[j] = fin ? rr : 0.0;
  }
  return xmin;
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
