// Short softmax rows of whole vectors: rows of one to three vectors (16, 32 and 48 floats with
// AVX-512; 8, 16, 24 with AVX2), D::size rows at a time, each row's vectors where they lie and the
// rows' sums through one transposition of double lanes.
// (docs/numerics.md, "Short softmax rows of whole vectors")
//
// Chosen by kernels/softmax.hpp for softmax at temperature 1, not in place, for the lengths that
// short_rows.hpp would take (n < 4·V::size) and that are a whole number of vectors
// (short_whole_fits). Such a row needs neither the transposition into lanes and back
// (short_rows.hpp) nor a reduction across lanes per row (the one-row direct path): its exps are
// computed from the row where it lies and added lane-wise, and the partial sums of D::size rows (D:
// the double lanes of a vector) are transposed together so that each row's sum ends in one lane.
// The exps wait in a small buffer for the last pass, which writes each output once. Kept while it
// pays (docs/architecture.md, "Fast paths"): bench/compare.py cases softmax/131072x32,
// softmax/87381x48, softmax/262144x16.
//
// The formulas are the direct path's (direct_sum.hpp): y_j = exp(x_j)·(1/S), but with each exp
// widened to double exactly and added there, and 1/S applied with one rounding (scale_pair): after
// exp, the only rounding is the last one.
//
// Invariant: a row's result depends only on the row. Each lane of the transposition holds one row,
// and every row's sum is added in the same order whichever slot it has. A row that the direct sum
// declines (an entry outside exp's normal range, a NaN, 1/S not a normal number) takes the
// short-row kernel alone (rows_short_t, a group of one), whatever its neighbours are; its input is
// intact because the path never runs in place.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "../../math/exp.hpp"
#include "basics.hpp"
#include "direct_sum.hpp"
#include "output_queue.hpp"
#include "short_rows.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Rows of n take this path (at temperature 1, x != y): the short-row kernel's lengths that are a
// whole number of vectors.
template <class V>
inline bool short_whole_fits(std::size_t n) {
  constexpr std::size_t W = V::size;
  return n >= W && n < short_rows_below<V> && n % W == 0;  // (none where short_rows_below is 0)
}

// An accumulator's lanes added into D::size double lanes (float vectors: the two halves).
template <class Acc>
LOGITKIT_INLINE inline auto acc_lanes(const Acc& acc) {
  if constexpr (acc_has_b<Acc>::value) return acc.a + acc.b;
  else return acc.a;
}

// y = e·F for F = f + fl, the double 1/S as a pair of the lane type, with one rounding: float lanes
// with FMA, e·f + e·fl rounded once; without FMA, the product in double (scale_in_double, as the
// other softmax paths); double lanes, e·f (fl is 0).
template <class V>
LOGITKIT_INLINE inline void scale_pair(const scalar_t<V>* e, scalar_t<V>* y, std::size_t n, scalar_t<V> f,
                                       scalar_t<V> fl) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if constexpr (V::has_fma && sizeof(T) == 4) {
    const V vf = V::set1(f), vfl = V::set1(fl);
    for (std::size_t i = 0; i < n; i += W) {
      const V a = V::load(e + i);
      store(y + i, mul_add(a, vf, a * vfl));
    }
  } else if constexpr (scale_in_double<V>) {
    const double F = double(f) + double(fl);
    for (std::size_t i = 0; i < n; ++i) y[i] = T(double(e[i]) * F);
  } else {
    const V vf = V::set1(f);
    for (std::size_t i = 0; i < n; i += W) store(y + i, V::load(e + i) * vf);
  }
}

// softmax of rows of C vectors each; x != y. (Compiled only for ISAs with several lanes.)
template <class V, std::size_t C>
inline void softmax_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  constexpr std::size_t W = V::size, R = D::size, n = C * W;
  const V limit = V::set1(direct_sum_limit<T>);
  // Each group's last pass runs after the next group's first pass, not at once: by then its
  // division has finished, where at once the pass would wait on it. Two sets of exps, 1/S pairs and
  // declined bits: the group being summed and the one waiting for its last pass. The exps wait in
  // this buffer, not in y: y is written once, and the first pass's reads of x never alternate with
  // stores to y, which stall when x and y lie at the same offset in their huge pages.
  alignas(64) T ebuf[2][R * n];
  alignas(64) T f[2][W], fl[2][W];
  std::uint32_t declined[2] = {0, 0};
  std::size_t wait_r0 = 0, wait_g = 0;  // the waiting group: its first row and row count
  // Pass 2 of the group in set b: y = e·(1/S), or the row's own path.
  const auto last_pass = [&](int b, std::size_t p0, std::size_t pg) {
    for (std::size_t l = 0; l < pg; ++l) {
      const T* xr = x + (p0 + l) * n;
      T* yr = y + (p0 + l) * n;
      if (declined[b] >> l & 1u) rows_short_t<V, ShortKind::softmax>(xr, yr, 1, n);
      else scale_pair<V>(ebuf[b] + l * n, yr, n, f[b][l], fl[b][l]);
    }
  };
  int cur = 0;
  for (std::size_t r0 = 0; r0 < rows; r0 += R, cur ^= 1) {
    const std::size_t g = rows - r0 < R ? rows - r0 : R;
    for (std::size_t b = 0; b < R * n * sizeof(T); b += 64) prefetch_read<V>(x + r0 * n, prefetch_ahead + b);
    // Pass 1, row by row: e = exp(x) into the buffer, each widened to double and added lane-wise
    // (u[l]: row l's partial sums). Bit l of dec: an entry outside exp's normal range or NaN
    // (nge: |x| > limit, or unordered).
    D u[R];
    std::uint32_t dec = 0;
    for (std::size_t l = 0; l < R; ++l) {
      if (l >= g) {
        u[l] = D::set1(1.0);  // a slot past the batch: a harmless sum
        continue;
      }
      const T* xr = x + (r0 + l) * n;
      T* er = ebuf[cur] + l * n;
      auto acc = acc_make(V::zero());
      auto out = lt(V::zero(), V::zero());  // (no lane)
      for (std::size_t c = 0; c < C; ++c) {
        const V a = V::load(xr + c * W);
        out = mask_or(out, nge(limit, abs(a)));
        const V e = math::exp_normal(a);
        store(er + c * W, e);
        acc_add(acc, e);
      }
      dec |= std::uint32_t(any(out)) << l;
      u[l] = acc_lanes(acc);
    }
    if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
    // S per row: after the transposition u[j] lane l is part j of row l's sum; added in order.
    transpose(u);
    D S = u[0];
    for (std::size_t j = 1; j < R; ++j) S = S + u[j];
    const D F = D::set1(1.0) / S;
    declined[cur] = dec | mask_bits(nge(F, D::set1(0x1p-100)));  // 1/S below the normal range, or NaN
    // 1/S as a pair of the lane type (short_split, on an accumulator holding F in every half)
    auto Fw = acc_make(V::zero());
    Fw.a = F;
    if constexpr (acc_has_b<decltype(Fw)>::value) Fw.b = F;
    V fh, flo;
    short_split(Fw, fh, flo);
    store(f[cur], fh);
    store(fl[cur], flo);
    wait_r0 = r0, wait_g = g;
  }
  if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
}

// softmax of `rows` contiguous rows of n (short_whole_fits<V>(n)), y != x, temperature 1.
template <class V>
inline void softmax_rows_whole(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0) {
    constexpr std::size_t W = V::size;
    if (n == W) return softmax_rows_whole_t<V, 1>(x, y, rows);
    if (n == 2 * W) return softmax_rows_whole_t<V, 2>(x, y, rows);
    return softmax_rows_whole_t<V, 3>(x, y, rows);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
