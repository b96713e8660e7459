// Top-k selection of one row for small k (kernels/list.hpp, kind SELECT; the C++ API's top_k in
// api.hpp calls it for k <= kernel_types::top_k_small_max and selects larger k itself).
//
// Algorithm: the k best entries so far are kept sorted, largest first, in vals/idx (the first k
// entries of the row, insertion-sorted). The rest of the row is read four vectors at a time and
// compared with the current k-th value t: a block whose entries are all <= t (the usual case once
// t has risen) costs four compares and one mask test. A block with an entry > t, or a NaN (which
// fails "<= t"), is walked entry by entry: an entry > t is inserted in order (t rises), a NaN ends
// the row.
//
// Order: by value, largest first; equal values by the lower index. An entry enters only when it
// is strictly greater than the k-th value and is placed after every kept entry it equals, and the
// entries are visited in index order, so among equal values the lower indices are kept and come
// first: the order of a stable sort of -x. +inf ranks above every finite value, -inf below; a row
// of only -inf keeps indices 0..k-1.
//
// Invariant: the result depends only on the row, n and k (never on the ISA: only compares are
// vectorised, and a block is re-read entry by entry whenever a compare passes).
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

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

// The k largest entries of x[0..n) (1 <= k <= n), largest first, ties to the lower index, into
// vals[0..k) and idx[0..k). Returns false (vals/idx unspecified) when the row holds a NaN.
template <class V>
inline bool top_k_row(const scalar_t<V>* x, std::size_t n, std::size_t k, scalar_t<V>* vals, std::int64_t* idx) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  for (std::size_t i = 0; i < k; ++i) {
    const T v = x[i];
    if (v != v) return false;
    top_k_place(vals, idx, i, v, std::int64_t(i));
  }
  T t = vals[k - 1];
  // Entries [b, e) one by one against the current k-th value; false on a NaN.
  const auto walk = [&](std::size_t b, std::size_t e) LOGITKIT_INLINE {
    for (std::size_t j = b; j < e; ++j) {
      const T v = x[j];
      if (v > t) {
        top_k_place(vals, idx, k - 1, v, std::int64_t(j));
        t = vals[k - 1];
      } else if (v != v) {
        return false;
      }
    }
    return true;
  };
  std::size_t i = k;
  for (; i + 4 * W <= n; i += 4 * W) {
    const V tv = V::set1(t);
    const auto below = mask_and(mask_and(le(V::load(x + i), tv), le(V::load(x + i + W), tv)),
                                mask_and(le(V::load(x + i + 2 * W), tv), le(V::load(x + i + 3 * W), tv)));
    if (any(mask_not(below)) && !walk(i, i + 4 * W)) return false;
  }
  for (; i + W <= n; i += W) {
    if (any(mask_not(le(V::load(x + i), V::set1(t)))) && !walk(i, i + W)) return false;
  }
  return walk(i, n);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
