// The row passes of sampling (kernels/list.hpp, kind SELECT; the C++ API's sample and sample_proba
// in api.hpp drive them, docs/semantics.md "Sampling" defines what they serve).
//
// sample_scan_row: one row's max (a NaN, +inf or all -inf row is reported, nothing else computed),
// then one pass over the weights w_j = exp((x_j - m)/T), each from the exact difference hi + lo
// (row/basics.hpp row_diff, math/exp.hpp exp_neg_lo: one rounding of exp, <= 1 ulp of the lane
// type), giving
//   ties  = #{x_j = m}, rest = Σ w_j over the other entries (the max-relative sum of
//           row/max_relative.hpp: double lanes, blocks added with compensation, the terms below
//           exp's normal range summed apart in the wide type), so log(ties + rest) is the row's
//           logsumexp minus m/T to the row type's accuracy;
//   below[j] = Σ w_j over the entries x_j < edge[j], edge[j] = the row type's rounding of
//           m - T·delta[j]: the weight beyond each of K edges, for the top-p bound in api.hpp.
//           Each lane adds at most sample_block terms in the lane type before the block's sum is
//           added in double, so below[j] is within (sample_block + 2)·u of the exact sum of its
//           terms (u: the lane type's unit roundoff), plus the terms below exp's normal range,
//           which it drops (each under 2^-125 for float, 2^-1021 for double).
// sample_at_least_row: the indices of the entries x_i >= edge, in index order (the candidates of
// the kept set); the caller has ruled out NaN.
//
// Invariant: every result depends only on the row, n, T and the edges, never on the ISA beyond
// the lane type's rounding of each term and the order of the sums (the caller's decisions carry the
// error bounds above, so the kept set does not depend on the ISA).
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
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

// The scan with K edges known at compile time (the accumulators stay in registers).
template <class V, std::size_t K>
inline void sample_scan_k(const scalar_t<V>* x, std::size_t n, double temp, scalar_t<V> m, const scalar_t<V>* edges,
                          kernel_types::SampleScan* out) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  V edge[K > 0 ? K : 1];
  for (std::size_t j = 0; j < K; ++j) edge[j] = V::set1(edges[j]);
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp)), vm = V::set1(m), one = V::set1(T(1));
  CompensatedSum<V> total;
  double ties = 0, below[K > 0 ? K : 1] = {};
  wide_t<V> tiny_sum = 0;
  // the weight of lanes `valid` of a, the entries at the max counted in ties instead
  const auto term = [&](V a, typename V::mask valid) LOGITKIT_INLINE {
    V lo;
    const V hi = row_diff<V, true, false>(a, negm, t, tl, invt, lo);
    V e = math::exp_neg_lo(hi, lo);
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
  constexpr std::size_t block = sample_block * W;
  for (std::size_t b0 = 0; b0 < n; b0 += block) {
    const std::size_t b1 = (n - b0 > block) ? b0 + block : n;
    Acc acc;
    V part[K > 0 ? K : 1];
    for (std::size_t j = 0; j < K; ++j) part[j] = V::zero();
    const auto add = [&](V a, V e) LOGITKIT_INLINE {
      acc_add(acc, e);
      for (std::size_t j = 0; j < K; ++j) part[j] = sample_mask_add(lt(a, edge[j]), part[j], e);
    };
    std::size_t i = b0;
    for (; i + W <= b1; i += W) {
      const V a = V::load(x + i);
      add(a, term(a, all));
    }
    if (i < b1) {
      // the row's tail: padded with m (a fast value), then masked out
      const auto valid = first_lanes<V>(b1 - i);
      const V a = load_partial<V>(x + i, b1 - i, m);
      add(a, mask_zero(valid, term(a, valid)));
    }
    total.add(acc_sum(acc));
    for (std::size_t j = 0; j < K; ++j) below[j] += hsum(part[j]);
  }
  out->ties = ties;
  out->rest = double(wide_t<V>(total.value()) + tiny_sum);
  for (std::size_t j = 0; j < K; ++j) out->below[j] = below[j];
}

template <class V>
inline void sample_scan_row(const scalar_t<V>* x, std::size_t n, double temp, const double* delta, std::size_t K,
                            kernel_types::SampleScan* out) {
  using T = scalar_t<V>;
  constexpr std::size_t E = kernel_types::sample_edges;
  T m;
  const RowKind kind = row_max<V>(x, n, m);
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
  if (K == 0) {
    sample_scan_k<V, 0>(x, n, temp, m, edges, out);
  } else {
    sample_scan_k<V, E>(x, n, temp, m, edges, out);
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

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
