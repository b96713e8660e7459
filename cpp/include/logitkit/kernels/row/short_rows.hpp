// Short rows, V::size rows at a time (one row per lane): softmax, log_softmax and logsumexp of rows
// shorter than four vectors, at temperature 1.
// (docs/numerics.md, "Short rows: one row per lane")
//
// Such rows pay more per row than per element in the one-row paths (reductions across lanes, a tail, a
// libm log). rows_short transposes a group of V::size rows into a stack buffer, one row per lane
// (in registers, V::size columns at a time: simd/*.hpp transpose),
// and runs the max-relative algorithm lane-wise: m, then S' = Σ_{x_j<m} exp(x_j - m) with x_j - m
// exact (TwoSum) and k = #{x_j = m}, then L = log(k + S') in double lanes (math/log.hpp), then
// y = (d_hi - L_hi) + (d_lo - L_lo): the max-relative path's formulas, so its accuracy.
//
// Chosen by kernels/softmax.hpp for 2 <= n < short_rows_below at temperature 1, on the ISAs with
// several lanes. A lane whose row needs more (a NaN, an infinity, an entry more than 87 (float) below
// the max: -inf or a subnormal term; logsumexp's cancellation) is redone by the row's own path.
//
// Invariant: no lane depends on another: a row gets the same bits in any group, alone (a short
// row's softmax_row comes here as a group of one) or in a batch, on any thread.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <type_traits>
#include <utility>

#include "../../math/exp.hpp"
#include "../../math/log.hpp"
#include "basics.hpp"
#include "direct_sum.hpp"
#include "max_relative.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

template <class V>
constexpr std::size_t short_rows_below = V::size > 1 ? 4 * std::size_t(V::size) : 0;

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

enum class ShortKind { log_softmax, softmax, logsumexp };

// `rows` contiguous rows of n (2 <= n < short_rows_below), y may equal x (logsumexp: y[r], one per row).
// (rows_short_t is compiled only for ISAs with several lanes; rows_short is the entry.)
template <class V, ShortKind K>
inline void rows_short_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  constexpr bool SOFTMAX = K == ShortKind::softmax;
  // cols[j][l]: entry j of lane l's row
  alignas(64) T cols[short_rows_below<V>][W];
  alignas(64) T ecol[SOFTMAX ? short_rows_below<V> : 1][W];  // softmax: exp(x_j - m) per lane
  alignas(64) T pcol[SOFTMAX && scale_in_double<V> ? short_rows_below<V> : 1][W];  // softmax: the outputs
  // per lane: k as counted, whether the row is redone by its own path, softmax's factor 1/(k + S'),
  // log_softmax's L as a pair, the max
  alignas(64) T kt[W], redo[W], inv[W], Lh[W], Ll[W], mt[W];
  alignas(64) double Sd[W], kd[W], Ld[W];
  const V one = V::set1(T(1)), zero = V::zero();
  const T* const xend = x + rows * n;
  for (std::size_t r0 = 0; r0 < rows; r0 += W) {
    const std::size_t g = rows - r0 < W ? rows - r0 : W;
    // rows a few groups ahead (at least prefetch_ahead bytes), asked for now: the arithmetic of the
    // groups in between hides their cache misses
    {
      const std::size_t bytes = W * n * sizeof(T), ahead = bytes < prefetch_ahead ? prefetch_ahead : bytes;
      for (std::size_t b = 0; b < bytes; b += 64) prefetch_read<V>(x + r0 * n, ahead + b);
    }
    // rows into lanes, W columns at a time through registers (simd/*.hpp transpose); lanes past g
    // repeat the group's first row. A load may run into the next row (columns past n are never
    // read), never past the array.
    for (std::size_t j0 = 0; j0 < n; j0 += W) {
      const std::size_t w = n - j0 < W ? n - j0 : W;
      V blk[W];
      for (std::size_t l = 0; l < W; ++l) {
        const T* p = x + (r0 + (l < g ? l : 0)) * n + j0;
        blk[l] = xend - p >= std::ptrdiff_t(W) ? V::load(p) : load_partial<V>(p, w, T(0));
      }
      transpose(blk);
      // all W columns (those past n are never read; cols has room: j0 + W <= 4W): a fixed count
      // of vector stores, which the compiler would otherwise turn into a memcpy call
      for (std::size_t i = 0; i < W; ++i) store(cols[j0 + i], blk[i]);
    }
    V m = V::set1(-lim<V>::inf), mn = V::set1(lim<V>::inf);
    auto nan = lt(zero, zero);
    for (std::size_t j = 0; j < n; ++j) {
      const V v = V::load(cols[j]);
      m = max(m, v);
      mn = min(mn, v);
      nan = mask_or(nan, isnan(v));
    }
    // NaN anywhere, m = ±inf, or an entry below m + fast_lo (NaN difference included): the row's own path
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
    store(kt, k);
    for (std::size_t l = 0; l < W; ++l) kd[l] = double(kt[l]);
    if constexpr (SOFTMAX) {
      if constexpr (scale_in_double<V>) {
        double F[W];
        for (std::size_t l = 0; l < W; ++l) F[l] = 1.0 / (kd[l] + Sd[l]);
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t l = 0; l < W; ++l) pcol[j][l] = T(double(ecol[j][l]) * F[l]);
      } else {
        for (std::size_t l = 0; l < W; ++l) inv[l] = T(1.0 / (kd[l] + Sd[l]));  // (scaled below)
      }
    } else if constexpr (K == ShortKind::log_softmax || sizeof(T) == 4) {
      // (float logsumexp too: L in double is far more exact than its float result needs, even
      // where m + L partly cancels)
      for (std::size_t l = 0; l < W; l += D::size) store(Ld + l, math::log_k_plus(D::load(kd + l), D::load(Sd + l)));
    } else {
      // double logsumexp = m + L can cancel (m < 0 < L): L to libm's accuracy, as in the max-relative path
      for (std::size_t l = 0; l < g; ++l) Ld[l] = RowSum<V>{kd[l], Sd[l]}.L();
    }
    if constexpr (K == ShortKind::log_softmax) {
      for (std::size_t l = 0; l < W; ++l) {
        Lh[l] = T(Ld[l]);
        Ll[l] = T(Ld[l] - double(Lh[l]));
      }
      store(mt, m);
    }
    store(redo, mask_zero(bad, one));
    if constexpr (K == ShortKind::logsumexp) {
      store(mt, m);
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        const double a = double(mt[l]), L = Ld[l];
        // m < 0 < L cancelling (max_relative.hpp's rule): that path sums the row in the wide type
        if (redo[l] != T(0) || (a < 0 && math::libm_fabs(a + L) < logsumexp_cancel * L))
          y[r] = logsumexp_row_maxrel<V>(x + r * n, n, 1.0);
        else y[r] = T(a + L);
      }
    } else {
      if constexpr (SOFTMAX) {
        // lanes back into rows, W columns at a time; each store stays inside its row (a redone
        // row, computed in place, still has its input)
        for (std::size_t j0 = 0; j0 < n; j0 += W) {
          const std::size_t w = n - j0 < W ? n - j0 : W;
          V blk[W];
          for (std::size_t i = 0; i < W; ++i) {
            if constexpr (scale_in_double<V>) blk[i] = i < w ? V::load(pcol[j0 + i]) : zero;
            else blk[i] = i < w ? V::load(ecol[j0 + i]) * V::load(inv) : zero;
          }
          transpose(blk);
          for (std::size_t l = 0; l < g; ++l) {
            if (redo[l] != T(0)) continue;
            T* p = y + (r0 + l) * n + j0;
            if (w == W) store(p, blk[l]);
            else store_partial(p, blk[l], w);
          }
        }
      }
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        if (redo[l] != T(0)) {
          if constexpr (SOFTMAX) softmax_row_direct_or_maxrel<V>(x + r * n, y + r * n, n, 1.0);
          else log_softmax_row_maxrel<V>(x + r * n, y + r * n, n, 1.0);
        } else if constexpr (!SOFTMAX) {
          // from the row itself with lane l's m and L (the max-relative output pass: the same
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

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
