// Short rows, V::size rows at a time (one row per lane): softmax, log_softmax and logsumexp of rows
// shorter than four vectors, at temperature 1.
// (docs/numerics.md, "Short rows: one row per lane")
//
// Such rows pay more per row than per element in the one-row paths (reductions across lanes, a tail, a
// libm log). rows_short transposes a group of V::size rows into a stack buffer, one row per lane
// (in registers, V::size columns at a time: simd/*.hpp transpose),
// and runs the max-relative algorithm lane-wise: m, then S' = Σ_{x_j<m} exp(x_j - m) with x_j - m
// exact (TwoSum) and k = #{x_j = m}, then L = log(k + S') in double lanes (math/log.hpp), then
// y = (d_hi - L_hi) + (d_lo - L_lo): the max-relative path's formulas, so its accuracy. Rows of 2
// and 4 (rows_narrow_t, below) reach the lanes by deinterleaving instead, with the same operations.
//
// Chosen by kernels/softmax.hpp for 2 <= n < short_rows_below at temperature 1, on the ISAs with
// several lanes. A lane whose row needs more (a NaN, an infinity, an entry more than 87 (float) below
// the max: -inf or a subnormal term) is redone by the row's own path; logsumexp's cancellation is
// redone in double lanes (float: logsumexp_lanes_wide) or in long double (double: wide.hpp):
// lse_finish.
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

// v's lanes in double, in an accumulator's layout (.a, and .b for float lanes): 0 + v is exact (a
// -0 lane becomes +0, which no caller here can tell apart).
template <class V>
inline auto wide_of(V v) {
  auto w = acc_make(V::zero());
  acc_add(w, v);
  return w;
}

// How a lane's logsumexp = m + L is finished, L = log(k + S') from math::log_k_plus (both kernels
// decide with this one function, so a row gets the same bits from either):
// - wide: m < 0 < L cancel, |m + L| < logsumexp_cancel<T>·L (max_relative.hpp's rule), and L is
//   taken again in a wider type (float: logsumexp_lanes_wide, double exps; double: long double,
//   wide.hpp);
// - libm_log: a double result smaller than L (L's error is multiplied by up to 2) takes L from
//   libm, half an ulp where log_k_plus is about one;
// - sum: m + L.
enum class LseFinish { sum, libm_log, wide };
template <class T>
inline LseFinish lse_finish(double m, double L) {
  if (!(m < 0)) return LseFinish::sum;
  const double r = math::libm_fabs(m + L);
  if (r < logsumexp_cancel<T> * L) return LseFinish::wide;
  if (sizeof(T) == 8 && r < L) return LseFinish::libm_log;
  return LseFinish::sum;
}

// Float logsumexp where m < 0 < L cancel: L = log(k + S') again, from double exps, for every lane
// (the callers use the lanes that cancel), in an accumulator's layout. S' from float exps is good
// to about an ulp of float, and the cancellation multiplies that by L/|m + L|; from double exps of
// x_j - m (exact as a TwoSum pair), about an ulp of double. col(j) gives column j.
template <class V, class Col>
inline auto logsumexp_lanes_wide(Col col, std::size_t n, V m) {
  using D = wide_lanes_t<V>;
  static_assert(sizeof(scalar_t<V>) == 4, "float lanes");
  const D one = D::set1(1.0), zero = D::zero();
  const auto mw = wide_of(m);
  D Sa = zero, Sb = zero, ka = zero, kb = zero;
  auto term = [&](D xj, D mj, D& Sh, D& kh) {
    D lo;
    const D hi = two_sum(xj, neg(mj), lo);
    const auto at = eq(xj, mj);
    kh = kh + mask_zero(at, one);
    Sh = Sh + select(at, zero, math::exp_normal<D, true>(hi, lo));
  };
  for (std::size_t j = 0; j < n; ++j) {
    const auto xw = wide_of(col(j));
    term(xw.a, mw.a, Sa, ka);
    term(xw.b, mw.b, Sb, kb);
  }
  auto L = acc_make(V::zero());
  L.a = math::log_k_plus(ka, Sa);
  L.b = math::log_k_plus(kb, Sb);
  return L;
}

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
    } else {
      for (std::size_t l = 0; l < W; l += D::size) store(Ld + l, math::log_k_plus(D::load(kd + l), D::load(Sd + l)));
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
      bool wide = false;  // some lane's m + L cancels (lse_finish)
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        const double a = double(mt[l]), L = Ld[l];
        if (redo[l] != T(0)) {
          y[r] = logsumexp_row_maxrel<V>(x + r * n, n, 1.0);
          continue;
        }
        switch (lse_finish<T>(a, L)) {
          case LseFinish::sum: y[r] = T(a + L); break;
          case LseFinish::libm_log: y[r] = T(a + RowSum<V>{kd[l], Sd[l]}.L()); break;
          case LseFinish::wide: wide = true; break;
        }
      }
      if (wide) {
        alignas(64) double Lw[sizeof(T) == 4 ? W : 1];
        if constexpr (sizeof(T) == 4) acc_store(Lw, logsumexp_lanes_wide<V>([&](std::size_t j) { return V::load(cols[j]); }, n, m));
        for (std::size_t l = 0; l < g; ++l) {
          const std::size_t r = r0 + l;
          const double a = double(mt[l]);
          if (redo[l] != T(0) || lse_finish<T>(a, Ld[l]) != LseFinish::wide) continue;
          if constexpr (sizeof(T) == 4) y[r] = T(a + Lw[l]);
          else y[r] = logsumexp_wide<V>(x + r * n, n, mt[l], 1.0);
        }
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

// ---- Rows of 2 and 4: columns by deinterleaving, not by transposition.
//
// N vectors hold W whole rows of N; deinterleave (simd/*.hpp) splits them into the N columns with
// N·log2(N) two-vector shuffles, where the transposition above shuffles W vectors to fill N
// columns. The lanes then run rows_short_t's formulas operation for operation, and the outputs are
// interleaved back and stored whole: a row gets the same bits here as in rows_short_t (the group
// of one that a single row's call makes, the tail of a batch). A group with a lane that
// rows_short_t would redo goes to rows_short_t whole, before anything is stored (y may be x).

// c[j] = column j of the W rows of N at p. (Loaded into locals, not into c: a copy into the array
// may be done in narrower moves, and then reading the array back stalls on store forwarding.)
template <std::size_t N, class V>
inline void rows_to_columns(const scalar_t<V>* p, V* c) {
  static_assert(N == 2 || N == 4, "rows of 2 or 4");
  constexpr std::size_t W = V::size;
  if constexpr (N == 2) {
    deinterleave(V::load(p), V::load(p + W), c[0], c[1]);
  } else {  // entries 0 and 2 of each row, then 1 and 3; then each pair split
    V e01, o01, e23, o23;
    deinterleave(V::load(p), V::load(p + W), e01, o01);
    deinterleave(V::load(p + 2 * W), V::load(p + 3 * W), e23, o23);
    deinterleave(e01, e23, c[0], c[2]);
    deinterleave(o01, o23, c[1], c[3]);
  }
}
template <std::size_t N, class V>
inline void columns_to_rows(V* c) {
  if constexpr (N == 2) {
    V a, b;
    interleave(c[0], c[1], a, b);
    c[0] = a, c[1] = b;
  } else {
    V e01, o01, e23, o23;
    interleave(c[0], c[2], e01, e23);
    interleave(c[1], c[3], o01, o23);
    interleave(e01, o01, c[0], c[1]);
    interleave(e23, o23, c[2], c[3]);
  }
}

// The full groups of W rows of N (returns how many rows it did); x and y as in rows_short_t.
template <class V, ShortKind K, std::size_t N>
inline std::size_t rows_narrow_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  constexpr bool FLOAT = sizeof(T) == 4;
  const V one = V::set1(T(1)), zero = V::zero();
  const std::size_t full = rows / W * W;
  for (std::size_t r0 = 0; r0 < full; r0 += W) {
    const T* const xs = x + r0 * N;
    for (std::size_t b = 0; b < W * N * sizeof(T); b += 64) prefetch_read<V>(xs, prefetch_ahead + b);
    V c[N];
    rows_to_columns<N>(xs, c);
    V m = c[0], mn = c[0];
    auto nan = isnan(c[0]);
    for (std::size_t j = 1; j < N; ++j) {
      m = max(m, c[j]);
      mn = min(mn, c[j]);
      nan = mask_or(nan, isnan(c[j]));
    }
    if (any(mask_or(nan, mask_not(le(V::set1(EC::fast_lo), mn - m))))) {
      rows_short_t<V, K>(xs, K == ShortKind::logsumexp ? y + r0 : y + r0 * N, W, N);
      continue;
    }
    const V negm = neg(m);
    decltype(acc_make(V::zero())) acc;
    V k = zero, hi[N], lo[N], e[N];
    for (std::size_t j = 0; j < N; ++j) {
      hi[j] = two_sum(c[j], negm, lo[j]);
      V z;
      const V p = math::exp_poly<V, true>(hi[j], lo[j], z);
      e[j] = p * V::from_bits(slli(bits(z), EC::mant_bits));
      const auto at = eq(c[j], m);
      k = k + mask_zero(at, one);
      acc_add(acc, select(at, zero, e[j]));
    }
    const auto kw = wide_of(k);
    if constexpr (K == ShortKind::softmax) {
      const D F = D::set1(1.0) / (kw.a + acc.a);
      if constexpr (scale_in_double<V>) {
        const D Fb = D::set1(1.0) / (kw.b + acc.b);
        for (std::size_t j = 0; j < N; ++j) {
          const auto ew = wide_of(e[j]);
          e[j] = narrow(ew.a * F, ew.b * Fb);
        }
      } else {
        V inv;
        if constexpr (FLOAT) inv = narrow(F, D::set1(1.0) / (kw.b + acc.b));
        else inv = F;
        for (std::size_t j = 0; j < N; ++j) e[j] = e[j] * inv;
      }
      columns_to_rows<N>(e);
      for (std::size_t i = 0; i < N; ++i) store(y + r0 * N + i * W, e[i]);
    } else if constexpr (K == ShortKind::log_softmax) {
      const D La = math::log_k_plus(kw.a, acc.a);
      V Lh, Ll;
      if constexpr (FLOAT) {
        const D Lb = math::log_k_plus(kw.b, acc.b);
        Lh = narrow(La, Lb);
        const auto hw = wide_of(Lh);
        Ll = narrow(La - hw.a, Lb - hw.b);
      } else {
        Lh = La, Ll = zero;
      }
      for (std::size_t j = 0; j < N; ++j) hi[j] = (hi[j] - Lh) + (lo[j] - Ll);
      columns_to_rows<N>(hi);
      for (std::size_t i = 0; i < N; ++i) store(y + r0 * N + i * W, hi[i]);
    } else {
      // m + L per lane in double, then the lanes that lse_finish sends elsewhere
      if constexpr (FLOAT) {
        const auto mw = wide_of(m);
        const D La = math::log_k_plus(kw.a, acc.a), Lb = math::log_k_plus(kw.b, acc.b);
        D sa = mw.a + La, sb = mw.b + Lb;
        // lse_finish's float rule in lanes (the same operations): wide where it says wide
        const D cut = D::set1(logsumexp_cancel<T>), dz = D::zero();
        const auto ca = mask_and(lt(mw.a, dz), lt(abs(sa), cut * La));
        const auto cb = mask_and(lt(mw.b, dz), lt(abs(sb), cut * Lb));
        if (any(mask_or(ca, cb))) {
          const auto Lw = logsumexp_lanes_wide<V>([&](std::size_t j) { return c[j]; }, N, m);
          sa = select(ca, mw.a + Lw.a, sa);
          sb = select(cb, mw.b + Lw.b, sb);
        }
        store(y + r0, narrow(sa, sb));
      } else {
        const D L = math::log_k_plus(kw.a, acc.a), s = m + L;
        store(y + r0, s);
        if (any(mask_and(lt(m, zero), lt(abs(s), L)))) {  // (every lane lse_finish sends elsewhere)
          alignas(64) double md[W], Ld[W], kd[W], Sd[W];
          store(md, m), store(Ld, L), store(kd, kw.a), store(Sd, acc.a);
          for (std::size_t l = 0; l < W; ++l) {
            switch (lse_finish<T>(md[l], Ld[l])) {
              case LseFinish::sum: break;
              case LseFinish::libm_log: y[r0 + l] = md[l] + RowSum<V>{kd[l], Sd[l]}.L(); break;
              case LseFinish::wide: y[r0 + l] = logsumexp_wide<V>(x + (r0 + l) * N, N, md[l], 1.0); break;
            }
          }
        }
      }
    }
  }
  return full;
}

template <class V, ShortKind K>
inline void rows_short(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0) {
    std::size_t done = 0;
    if (n == 2) done = rows_narrow_t<V, K, 2>(x, y, rows);
    else if (n == 4) done = rows_narrow_t<V, K, 4>(x, y, rows);
    if (done < rows) rows_short_t<V, K>(x + done * n, K == ShortKind::logsumexp ? y + done : y + done * n, rows - done, n);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
