// Top-k selection of one row for small k (kernels/list.hpp, kind SELECT; the C++ API's top_k in
// api.hpp calls it for k <= kernel_types::top_k_small_max and selects larger k itself).
//
// Algorithm: a lower bound t0 of the k-th largest entry from per-lane maxima of the row,
// then one pass that keeps the k best entries so far sorted, largest first, in vals/idx. The row is
// read four vectors at a time and compared with the threshold (t0, then the kept k-th value t): a
// block whose entries are all below it (the usual case) costs four compares and one mask test. A
// vector with an entry at or above it, or a NaN (which fails every compare), is walked entry by
// entry: an entry that beats the kept k-th value is inserted in order (t rises), a NaN ends the
// row.
//
// Order: by value, largest first; equal values by the lower index. An entry enters only when it
// is strictly greater than the k-th value and is placed after every kept entry it equals, and the
// entries are visited in index order, so among equal values the lower indices are kept and come
// first: the order of a stable sort of -x. +inf ranks above every finite value, -inf below; a row
// of only -inf keeps indices 0..k-1.
//
// Invariant: the result depends only on the row, n and k (never on the ISA: only compares are
// vectorised, and a block is re-read entry by entry whenever a compare passes).
//
// softmax_at_row: the softmax of a row at k of its entries (the winners), the same bits as
// softmax_row gives there. Where softmax_row takes the direct path (row/direct_sum.hpp: temperature
// 1, rows the short-row kernel does not take, every |x_j| in exp's normal range), its sum pass runs
// over the row as softmax_direct runs it, and its output pass, y_j = exp(x_j) then y *= 1/S, over
// the k entries only: exp and the scaling are lane by lane (math/exp.hpp exp_normal,
// row/output_queue.hpp scale_range), so an entry's output does not depend on its neighbours. Every
// other row (a temperature, short rows, a row the direct sum declines) is computed whole by
// softmax_row into the caller's scratch and gathered.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "../math/exp.hpp"
#include "common.hpp"
#include "softmax.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Lane l's bit, 2^l, as a value of the lane type (exact: at most 16 lanes).
template <class V> struct top_k_lane_bit {
  alignas(64) static constexpr scalar_t<V> values[16] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
                                                         8192, 16384, 32768};
};

// The index of the lowest set bit of b != 0.
inline std::size_t top_k_lowest_bit(std::uint64_t b) {
#if defined(__GNUC__) || defined(__clang__)
  return std::size_t(__builtin_ctzll(b));
#else
  std::size_t j = 0;
  while (!(b & 1u)) b >>= 1, ++j;
  return j;
#endif
}

// Places (v, i) among the m sorted entries of vals/idx (m < capacity or v > vals[m-1]): after the
// entries >= v, before those < v; the last one falls off when m == k.
template <class T>
LOGITKIT_INLINE inline void top_k_place(T* vals, std::int64_t* idx, std::size_t m, T v, std::int64_t i) {
  std::size_t p = m;
  while (p > 0 && vals[p - 1] < v) {
    vals[p] = vals[p - 1];
    idx[p] = idx[p - 1];
    --p;
  }
  vals[p] = v;
  idx[p] = i;
}

// A lower bound of the k-th largest entry of x[0..n) (1 <= k <= n): A·V::size vector lanes each
// take the max of a disjoint set of entries (entry j goes to lane j mod A·V::size, the tail's
// padding is -inf); then k rounds each take the largest lane value left and drop every lane equal
// to it (no branch per lane). The last value taken is at most the k-th largest lane maximum, so at
// most the k-th largest entry: it and the values taken before it are maxima of k distinct lanes,
// that is, k distinct entries. -inf when there are fewer than k lanes, when the row is too short
// for the first pass to pay (fewer than 8 entries per lane), or when a NaN reached the result (the
// second pass finds the NaN).
template <class V, std::size_t A>
inline scalar_t<V> top_k_bound(const scalar_t<V>* x, std::size_t n, std::size_t k) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size, S = A * W;
  constexpr T ninf = -lim<V>::inf;
  if (k > S || n < 8 * S) return ninf;
  V acc[A];
  for (std::size_t a = 0; a < A; ++a) acc[a] = V::set1(ninf);
  std::size_t i = 0;
  for (; i + S <= n; i += S)
    for (std::size_t a = 0; a < A; ++a) acc[a] = max(acc[a], V::load(x + i + a * W));
  for (std::size_t a = 0; i < n; i += W, ++a)
    acc[a] = max(acc[a], n - i >= W ? V::load(x + i) : load_partial<V>(x + i, n - i, ninf));
  T b = ninf;
  for (std::size_t r = 0; r < k; ++r) {
    V m = acc[0];
    for (std::size_t a = 1; a < A; ++a) m = max(m, acc[a]);
    b = hmax(m);
    if (b != b) return ninf;
    const V bv = V::set1(b), drop = V::set1(ninf);
    for (std::size_t a = 0; a < A; ++a) acc[a] = select(eq(acc[a], bv), drop, acc[a]);
  }
  return b;
}

// The k largest entries of x[0..n) (1 <= k <= n), largest first, ties to the lower index, into
// vals[0..k) and idx[0..k). Returns false (vals/idx unspecified) when the row holds a NaN.
//
// A first pass bounds the k-th largest entry from below by t0 (top_k_bound: the k-th largest of
// per-lane maxima), so an entry below t0 is not among the k largest. The second pass visits the
// entries in index order, skipping the vectors below the current threshold (t0 while fewer than k
// are kept, then the k-th value kept), and places each
// other entry in the kept set by the rule above. A NaN is never below a threshold: it is visited
// and ends the row.
template <class V>
inline bool top_k_row(const scalar_t<V>* x, std::size_t n, std::size_t k, scalar_t<V>* vals, std::int64_t* idx) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  // lanes for about four maxima per winner
  const T t0 = 4 * k <= 4 * W ? top_k_bound<V, 4>(x, n, k) : top_k_bound<V, 16>(x, n, k);
  std::size_t kept = 0;
  T t = t0;
  // The entries i + j of a vector for the set bits j of `lanes`, one by one; false on a NaN.
  const auto walk = [&](std::size_t i, std::uint64_t lanes) LOGITKIT_INLINE {
    for (; lanes; lanes &= lanes - 1) {
      const std::size_t j = i + top_k_lowest_bit(lanes);
      const T v = x[j];
      if (kept == k) {
        if (v > t) {
          top_k_place(vals, idx, k - 1, v, std::int64_t(j));
          t = vals[k - 1];
        } else if (v != v) {
          return false;
        }
      } else if (v >= t0) {
        top_k_place(vals, idx, kept, v, std::int64_t(j));
        if (++kept == k) t = vals[k - 1];
      } else if (v != v) {
        return false;
      }
    }
    return true;
  };
  // The lanes of a that are not skipped: below t0 while the set fills, at most t once it is full
  // (a NaN is never skipped). Bit l for lane l, from a sum of distinct powers of two (exact).
  const V pow2 = V::load(top_k_lane_bit<V>::values);
  const auto visit = [&](V a) LOGITKIT_INLINE {
    const V tv = V::set1(t);
    return mask_not(kept == k ? le(a, tv) : lt(a, tv));
  };
  const auto lanes = [&](decltype(visit(pow2)) m) LOGITKIT_INLINE {
    return std::uint64_t(hsum(mask_zero(m, pow2)));
  };
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    const V a0 = V::load(x + i), a1 = V::load(x + i + W), a2 = V::load(x + i + 2 * W), a3 = V::load(x + i + 3 * W);
    const auto m0 = visit(a0), m1 = visit(a1), m2 = visit(a2), m3 = visit(a3);
    if (!any(mask_or(mask_or(m0, m1), mask_or(m2, m3)))) continue;
    // the block's lanes to visit as one word (4·W <= 64 bits), without a branch per vector
    const std::uint64_t bits = lanes(m0) | lanes(m1) << W | lanes(m2) << (2 * W) | lanes(m3) << (3 * W);
    if (!walk(i, bits)) return false;
  }
  for (; i + W <= n; i += W) {
    const auto m = visit(V::load(x + i));
    if (any(m) && !walk(i, lanes(m))) return false;
  }
  // the tail: padded with -inf, which is skipped or (a set still filling at t0 = -inf) cut off
  if (i < n) {
    const auto m = visit(load_partial<V>(x + i, n - i, -lim<V>::inf));
    if (any(m) && !walk(i, lanes(m) & ((std::uint64_t(1) << (n - i)) - 1))) return false;
  }
  return true;
}

// softmax(x / temp) of the row x[0..n) (n >= 1) at the entries idx[0..k), into out[0..k): the same
// bits as softmax_row<V>(x, y, n, temp) at those entries, y != x. y: scratch for n entries.
template <class V>
inline void softmax_at_row(const scalar_t<V>* x, std::size_t n, double temp, const std::int64_t* idx, std::size_t k,
                           scalar_t<V>* out, scalar_t<V>* y) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if (temp == 1.0 && n >= 2 && !short_rows<V>(n, temp)) {
    double S;
    T m;
    if (row_direct_sum<V>(x, n, S, m)) {
      const double F = 1.0 / S;
      if (F >= 0x1p-100) {  // softmax_direct's test: otherwise it declines too
        const T f = T(F), fl = T(F - double(f));
        alignas(64) T g[W];
        for (std::size_t j = 0; j < k; j += W) {
          const std::size_t c = k - j < W ? k - j : W;
          for (std::size_t l = 0; l < W; ++l) g[l] = x[idx[j + (l < c ? l : 0)]];
          const V e = math::exp_normal(V::load(g));
          if (c == W) store(out + j, e);
          else store_partial(out + j, e, c);
        }
        scale_range<V>(out, k, V::set1(f), V::set1(fl));
        return;
      }
    }
  }
  softmax_row<V>(x, y, n, temp);
  for (std::size_t j = 0; j < k; ++j) out[j] = y[idx[j]];
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
