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
// the max: -inf or a subnormal term) is redone by the row's own path, except masked lanes (every
// such entry -inf, the max finite), which stay. logsumexp's
// cancellation is redone in double lanes (float: lse_wide_L, for rows of 2 and 4 gathered one row
// per lane) or in long double (double: wide.hpp): lse_finish.
//
// Invariant: no lane depends on another: a row gets the same bits in any group, alone (a short
// row's softmax_row comes here as a group of one) or in a batch, on any thread.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
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

// ---- The steps both short-row kernels take, lane by lane: one definition each, so that a row gets
// the same bits from rows_short_t and rows_narrow_t.

// The lanes whose rows are redone by their own path: a NaN, m = ±inf, or an entry below
// m + fast_lo (a NaN difference included).
template <class V, class M>
LOGITKIT_INLINE inline M short_row_redo(V m, V mn, M nan) {
  using EC = math::exp_consts<scalar_t<V>>;
  return mask_or(nan, mask_not(le(V::set1(EC::fast_lo), mn - m)));
}

// The g rows of n at p (g <= V::size; the rows end before xend) into lanes: cols[j][l] = entry j of
// row l, W columns at a time through registers (simd/*.hpp transpose); lanes past g repeat the
// first row. A load may run into the next row (columns past n are never read), never past xend.
// cols holds short_rows_below<V> columns.
template <class V>
LOGITKIT_INLINE inline void rows_to_lanes(const scalar_t<V>* p, const scalar_t<V>* xend, std::size_t g, std::size_t n,
                                          scalar_t<V> (*cols)[V::size]) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  for (std::size_t j0 = 0; j0 < n; j0 += W) {
    const std::size_t w = n - j0 < W ? n - j0 : W;
    V blk[W];
    for (std::size_t l = 0; l < W; ++l) {
      const T* q = p + (l < g ? l : 0) * n + j0;
      blk[l] = xend - q >= std::ptrdiff_t(W) ? V::load(q) : load_partial<V>(q, w, T(0));
    }
    transpose(blk);
    // all W columns (those past n are never read; cols has room: j0 + W <= 4W): a fixed count
    // of vector stores, which the compiler would otherwise turn into a memcpy call
    for (std::size_t i = 0; i < W; ++i) store(cols[j0 + i], blk[i]);
  }
}

// The inverse of rows_to_lanes for outputs: col(j) gives output column j (lane l: row l's entry j)
// as V; W columns at a time are transposed back and stored into the g rows of n at y, each store
// inside its row, except the rows whose redo[l] is not 0 (a redone row, computed in place, keeps its
// input).
template <class V, class Col>
LOGITKIT_INLINE inline void lanes_to_rows(scalar_t<V>* y, std::size_t g, std::size_t n, const scalar_t<V>* redo,
                                          Col col) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  for (std::size_t j0 = 0; j0 < n; j0 += W) {
    const std::size_t w = n - j0 < W ? n - j0 : W;
    V blk[W];
    for (std::size_t i = 0; i < W; ++i) blk[i] = i < w ? col(j0 + i) : V::zero();
    transpose(blk);
    for (std::size_t l = 0; l < g; ++l) {
      if (redo[l] != T(0)) continue;
      T* p = y + l * n + j0;
      if (w == W) store(p, blk[l]);
      else store_partial(p, blk[l], w);
    }
  }
}

// Each lane's max m, and the lanes whose rows are redone by their own path (returned: a NaN, m =
// ±inf, an entry below m + fast_lo) or stay as masked lanes (masked): those whose entries below
// m + fast_lo are all -inf (a masked class: e = 0, softmax 0, log_softmax -inf, nothing added to a
// sum), their max finite. Masked lanes are looked for only where some lane would be redone; a lane
// without -inf gets the same bits either way.
template <class V, class M>
LOGITKIT_INLINE inline M short_lanes_max(const scalar_t<V> (*cols)[V::size], std::size_t n, V& m, M& masked) {
  const V pinf = V::set1(lim<V>::inf), ninf = V::set1(-lim<V>::inf);
  V mn = pinf;
  m = ninf;
  auto nan = lt(V::zero(), V::zero());
  for (std::size_t j = 0; j < n; ++j) {
    const V v = V::load(cols[j]);
    m = max(m, v);
    mn = min(mn, v);
    nan = mask_or(nan, isnan(v));
  }
  auto bad = short_row_redo(m, mn, nan);
  masked = lt(V::zero(), V::zero());
  if (any(bad)) {
    V mnf = pinf;  // the min of the entries that are not -inf
    for (std::size_t j = 0; j < n; ++j) {
      const V v = V::load(cols[j]);
      mnf = min(mnf, select(eq(v, ninf), pinf, v));
    }
    const auto still = mask_or(short_row_redo(m, mnf, nan), eq(m, ninf));
    masked = mask_and(bad, mask_not(still));
    bad = still;
  }
  return bad;
}

// One column's share of S' = Σ_{x_j<m} exp(x_j - m): x_j - m exact as hi + lo (TwoSum), e_j =
// exp(hi + lo) from the polynomial and its 2^z scale (no lane reaching here is below fast_lo); a
// lane at the max counts into k instead of into the sum. Returns e_j.
// MASKED: a -inf entry (a masked class) gives e_j = 0 (rows_short_t's masked lanes).
template <class V, class Acc, bool MASKED = false>
LOGITKIT_INLINE inline V short_exp_term(V v, V m, V negm, V& k, Acc& acc, V& hi, V& lo) {
  using T = scalar_t<V>;
  hi = two_sum(v, negm, lo);
  V z;
  const V p = math::exp_poly<V, true>(hi, lo, z);
  V e = p * V::from_bits(slli(bits(z), math::exp_consts<T>::mant_bits));
  if constexpr (MASKED) e = select(eq(v, V::set1(-lim<V>::inf)), V::zero(), e);
  const auto at = eq(v, m);
  k = k + mask_zero(at, V::set1(T(1)));
  acc_add(acc, select(at, V::zero(), e));
  return e;
}

// L = log(k + S') per lane in double (math::log_k_plus), k and S' and L in an accumulator's layout.
// Float rows (the accumulators with a .b half) need L only far inside float's rounding: a shorter
// series (math::log_terms_for_float). L's error, 2^-41 of it, is at most 2^-41 of the output (a
// log_softmax output is at least L in size, a logsumexp that is not recomputed at least 3L/4):
// it moves an output only where the exact value lies that close to a rounding boundary.
// (logsumexp's cancelling lanes take L again with every term: logsumexp_lanes_wide.)
template <class Acc>
LOGITKIT_INLINE inline Acc short_log(const Acc& k, const Acc& S) {
  Acc L = S;
  if constexpr (acc_has_b<Acc>::value) {
    using D = std::remove_cv_t<std::remove_reference_t<decltype(S.a)>>;
    constexpr int NR = math::log_terms_for_float;
    L.a = math::log_k_plus<D, NR>(k.a, S.a);
    L.b = math::log_k_plus<D, NR>(k.b, S.b);
  } else {
    L.a = math::log_k_plus(k.a, S.a);
  }
  return L;
}

// L as a pair of the lane type, Lh + Ll: Lh = L rounded, Ll = the rest rounded (double lanes:
// Ll = 0). log_softmax's outputs are (d_hi - Lh) + (d_lo - Ll).
template <class V, class Acc>
LOGITKIT_INLINE inline void short_split(const Acc& L, V& Lh, V& Ll) {
  if constexpr (acc_has_b<Acc>::value) {
    Lh = narrow(L.a, L.b);
    const auto hw = wide_of(Lh);
    Ll = narrow(L.a - hw.a, L.b - hw.b);
  } else {
    Lh = L.a;
    Ll = V::zero();
  }
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

// L = log(k + S') in double lanes from double exps, for float rows whose m + L cancels: col(j)
// gives column j and m the max, both in double (floats widened exactly), x_j - m exact as a TwoSum
// pair. S' from float exps is good to about an ulp of float, and the cancellation multiplies that
// by L/|m + L|; from double exps, about an ulp of double. Both ways of reaching it
// (logsumexp_lanes_wide, and rows_narrow_t's gathered lanes) take L here: a row gets the same bits
// from either.
// A -inf entry (a masked lane's) adds nothing: it is replaced by m for the arithmetic and its term
// left out, so no NaN is formed.
template <class D, class Col>
LOGITKIT_INLINE inline D lse_wide_L(Col col, std::size_t n, D m) {
  const D one = D::set1(1.0), zero = D::zero(), ninf = D::set1(-lim<D>::inf);
  D S = zero, k = zero;
  for (std::size_t j = 0; j < n; ++j) {
    const D x0 = col(j);
    const auto masked = eq(x0, ninf);
    const D xj = select(masked, m, x0);
    D lo;
    const D hi = two_sum(xj, neg(m), lo);
    const auto at = eq(x0, m);
    k = k + mask_zero(at, one);
    S = S + select(mask_or(at, masked), zero, math::exp_normal<D, true>(hi, lo));
  }
  return math::log_k_plus(k, S);
}

// lse_wide_L for the rows in the float lanes of V, in an accumulator's layout, for the lanes of
// the halves asked for (low: the lanes in .a, high: those in .b; a half not asked for is left 0).
// col(j) gives column j as V.
template <class V, class Col>
inline auto logsumexp_lanes_wide(Col col, std::size_t n, V m, bool low, bool high) {
  static_assert(sizeof(scalar_t<V>) == 4, "float lanes");
  const auto mw = wide_of(m);
  auto L = acc_make(V::zero());
  if (low) L.a = lse_wide_L([&](std::size_t j) { return wide_of(col(j)).a; }, n, mw.a);
  if (high) L.b = lse_wide_L([&](std::size_t j) { return wide_of(col(j)).b; }, n, mw.b);
  return L;
}

// `rows` contiguous rows of n (2 <= n < short_rows_below), y may equal x (logsumexp: y[r], one per row).
// (rows_short_t is compiled only for ISAs with several lanes; rows_short is the entry.)
template <class V, ShortKind K>
inline void rows_short_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  constexpr bool SOFTMAX = K == ShortKind::softmax;
  // cols[j][l]: entry j of lane l's row
  alignas(64) T cols[short_rows_below<V>][W];
  alignas(64) T ecol[SOFTMAX ? short_rows_below<V> : 1][W];  // softmax: exp(x_j - m) per lane
  alignas(64) T pcol[SOFTMAX && scale_in_double<V> ? short_rows_below<V> : 1][W];  // softmax: the outputs
  // per lane: whether the row is redone by its own path, softmax's factor 1/(k + S'), log_softmax's
  // L as a pair, the max; and k, S' and L in double
  alignas(64) T redo[W], maskd[W], inv[W], Lh[W], Ll[W], mt[W];
  alignas(64) double Sd[W], kd[W], Ld[W];
  const V one = V::set1(T(1)), zero = V::zero();
  const T* const xend = x + rows * n;
  for (std::size_t r0 = 0; r0 < rows; r0 += W) {
    const std::size_t g = rows - r0 < W ? rows - r0 : W;
    // rows a few groups ahead (at least prefetch_ahead bytes), and their output lines
    // (prefetch_rows; logsumexp writes one value per row): the arithmetic of the groups in between
    // hides their cache misses
    {
      const std::size_t bytes = W * n * sizeof(T), ahead = bytes < prefetch_ahead ? prefetch_ahead : bytes;
      prefetch_rows<V>(x + r0 * n, K != ShortKind::logsumexp ? y + r0 * n : nullptr, bytes, ahead);
    }
    rows_to_lanes<V>(x + r0 * n, xend, g, n, cols);
    V m;
    auto masked = lt(zero, zero);
    const auto bad = short_lanes_max<V>(cols, n, m, masked);
    const V negm = neg(m);
    decltype(acc_make(V::zero())) acc;
    V k = zero;
    const auto exp_pass = [&](auto masked_c) LOGITKIT_INLINE {
      for (std::size_t j = 0; j < n; ++j) {
        V hi, lo;
        const V e = short_exp_term<V, decltype(acc), decltype(masked_c)::value>(V::load(cols[j]), m, negm, k, acc, hi, lo);
        if constexpr (SOFTMAX) store(ecol[j], e);
      }
    };
    if (any(masked)) exp_pass(std::true_type{});
    else exp_pass(std::false_type{});
    const auto kw = wide_of(k);
    acc_store(Sd, acc);
    acc_store(kd, kw);
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
      const auto L = short_log(kw, acc);
      acc_store(Ld, L);
      if constexpr (K == ShortKind::log_softmax) {
        V vh, vl;
        short_split(L, vh, vl);
        store(Lh, vh);
        store(Ll, vl);
        store(mt, m);
      }
    }
    store(redo, mask_zero(bad, one));
    store(maskd, mask_zero(masked, one));
    if constexpr (K == ShortKind::logsumexp) {
      store(mt, m);
      bool wide_low = false, wide_high = false;  // some lane's m + L cancels (lse_finish), by half
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
          case LseFinish::wide: (2 * l < W ? wide_low : wide_high) = true; break;
        }
      }
      if (wide_low || wide_high) {
        alignas(64) double Lw[sizeof(T) == 4 ? W : 1];
        if constexpr (sizeof(T) == 4)
          acc_store(Lw, logsumexp_lanes_wide<V>([&](std::size_t j) { return V::load(cols[j]); }, n, m, wide_low, wide_high));
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
        lanes_to_rows<V>(y + r0 * n, g, n, redo, [&](std::size_t j) LOGITKIT_INLINE {
          if constexpr (scale_in_double<V>) return V::load(pcol[j]);
          else return V::load(ecol[j]) * V::load(inv);
        });
      }
      for (std::size_t l = 0; l < g; ++l) {
        const std::size_t r = r0 + l;
        if (redo[l] != T(0)) {
          if constexpr (SOFTMAX) softmax_row_direct_or_maxrel<V>(x + r * n, y + r * n, n, 1.0);
          else log_softmax_row_maxrel<V>(x + r * n, y + r * n, n, 1.0);
        } else if constexpr (!SOFTMAX) {
          // from the row itself with lane l's m and L (the max-relative output pass: the same
          // operations entry by entry), not transposed back; a masked row's -inf entries need lo
          // cleared (MASK: -inf - m has a NaN lo), which changes no other entry
          if (maskd[l] != T(0)) log_softmax_out<V, false, true>(x + r * n, y + r * n, n, mt[l], 1.0, Lh[l], Ll[l]);
          else log_softmax_out<V, false, false>(x + r * n, y + r * n, n, mt[l], 1.0, Lh[l], Ll[l]);
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
  constexpr std::size_t W = V::size;
  constexpr bool FLOAT = sizeof(T) == 4;
  const V zero = V::zero();
  const std::size_t full = rows / W * W;
  // logsumexp: the lanes that lse_finish sends elsewhere (float: L from double exps; double: L
  // from libm, or the long double sum) are noted during the loop and finished a few groups at a
  // time (fix_later). Finishing them in the loop would branch on the end of the group's long chain
  // of dependent operations (exp, then log); that branch goes one way or the other about as often
  // as such rows come (on N(0, 3²) logits, 46 % of AVX-512 groups of float rows of 2 hold one),
  // and each misprediction throws away the following groups' work in flight. Noting is
  // branch-free: every group's columns, max (and double rows' k, S' and L) are written to the next
  // entry, which is kept only where a lane needs more (y may be x, so the rows may not be read
  // again). Float rows are then gathered one per double lane: a group's single cancelling row
  // costs one double lane, not a half of the double lanes.
  constexpr bool GATHER = K == ShortKind::logsumexp && FLOAT;
  struct Later {
    V c[N], m;
    V k, S, L;           // double rows: lane l's k, S' and L
    std::uint32_t bits;  // bit l: lane l needs more
    std::size_t r0;
  };
  constexpr std::size_t later_cap = K == ShortKind::logsumexp ? 8 : 1;
  Later later[later_cap];
  std::size_t nlater = 0;
  const auto fix_later = [&] {
    if constexpr (K == ShortKind::logsumexp && !FLOAT) {
      for (std::size_t i = 0; i < nlater; ++i) {
        const Later& e = later[i];
        alignas(64) T cs[N][W], md[W], kd[W], Sd[W], Ld[W];
        for (std::size_t j = 0; j < N; ++j) store(cs[j], e.c[j]);
        store(md, e.m), store(kd, e.k), store(Sd, e.S), store(Ld, e.L);
        for (std::size_t l = 0, b = e.bits; b; ++l, b >>= 1) {
          if (!(b & 1u)) continue;
          switch (lse_finish<T>(md[l], Ld[l])) {
            case LseFinish::sum: break;
            case LseFinish::libm_log: y[e.r0 + l] = md[l] + RowSum<V>{kd[l], Sd[l]}.L(); break;
            case LseFinish::wide: {
              T row[N];
              for (std::size_t j = 0; j < N; ++j) row[j] = cs[j][l];
              y[e.r0 + l] = logsumexp_wide<V>(row, N, md[l], 1.0);
              break;
            }
          }
        }
      }
    }
    if constexpr (GATHER) {
      constexpr std::size_t lanes_max = later_cap * W + D::size;
      alignas(64) double gm[lanes_max], gx[N][lanes_max], out[D::size];
      std::size_t grow[lanes_max];
      std::size_t cnt = 0;
      for (std::size_t i = 0; i < nlater; ++i) {
        const Later& e = later[i];
        alignas(64) T cs[N][W], ms[W];
        for (std::size_t j = 0; j < N; ++j) store(cs[j], e.c[j]);
        store(ms, e.m);
        for (std::size_t l = 0, b = e.bits; b; ++l, b >>= 1) {
          if (!(b & 1u)) continue;
          gm[cnt] = 0.0 + double(ms[l]);  // (widened as wide_of does)
          for (std::size_t j = 0; j < N; ++j) gx[j][cnt] = 0.0 + double(cs[j][l]);
          grow[cnt++] = e.r0 + l;
        }
      }
      for (std::size_t c = cnt; c % D::size; ++c) {  // padding lanes: k = 1, S' = 0
        gm[c] = 0;
        for (std::size_t j = 0; j < N; ++j) gx[j][c] = 0;
      }
      for (std::size_t i = 0; i < cnt; i += D::size) {
        const D m = D::load(gm + i);
        store(out, m + lse_wide_L([&](std::size_t j) { return D::load(gx[j] + i); }, N, m));
        for (std::size_t l = 0; l < D::size && i + l < cnt; ++l) y[grow[i + l]] = T(out[l]);
      }
    }
    nlater = 0;
  };
  // The group at r0 into the next entry (a double row's k, S' and L already there), kept where a
  // lane needs more (bits); branch-free but for a full list.
  const auto note = [&](const V* c, V m, std::size_t r0, std::uint32_t bits) LOGITKIT_INLINE {
    Later& e = later[nlater];
    for (std::size_t j = 0; j < N; ++j) e.c[j] = c[j];
    e.m = m;
    e.bits = bits;
    e.r0 = r0;
    nlater += std::size_t(bits != 0);
    if (nlater == later_cap) fix_later();
  };
  for (std::size_t r0 = 0; r0 < full; r0 += W) {
    const T* const xs = x + r0 * N;
    // (as rows_short_t: these rows a few groups ahead, and their output lines)
    prefetch_rows<V>(xs, K != ShortKind::logsumexp ? y + r0 * N : nullptr, W * N * sizeof(T), prefetch_ahead);
    V c[N];
    rows_to_columns<N>(xs, c);
    V m = c[0], mn = c[0];
    auto nan = isnan(c[0]);
    for (std::size_t j = 1; j < N; ++j) {
      m = max(m, c[j]);
      mn = min(mn, c[j]);
      nan = mask_or(nan, isnan(c[j]));
    }
    if (any(short_row_redo(m, mn, nan))) {
      rows_short_t<V, K>(xs, K == ShortKind::logsumexp ? y + r0 : y + r0 * N, W, N);
      continue;
    }
    const V negm = neg(m);
    decltype(acc_make(V::zero())) acc;
    V k = zero, hi[N], lo[N], e[N];
    for (std::size_t j = 0; j < N; ++j) e[j] = short_exp_term(c[j], m, negm, k, acc, hi[j], lo[j]);
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
      V Lh, Ll;
      short_split(short_log(kw, acc), Lh, Ll);
      for (std::size_t j = 0; j < N; ++j) hi[j] = (hi[j] - Lh) + (lo[j] - Ll);
      columns_to_rows<N>(hi);
      for (std::size_t i = 0; i < N; ++i) store(y + r0 * N + i * W, hi[i]);
    } else {
      // m + L per lane in double, then the lanes that lse_finish sends elsewhere
      if constexpr (FLOAT) {
        const auto mw = wide_of(m);
        const auto L = short_log(kw, acc);
        store(y + r0, narrow(mw.a + L.a, mw.b + L.b));
        // lse_finish's float rule in lanes (the same operations): the lanes it sends to the wide
        // L are noted with their group's columns, for fix_later
        const D cut = D::set1(logsumexp_cancel<T>), dz = D::zero();
        const auto ca = mask_and(lt(mw.a, dz), lt(abs(mw.a + L.a), cut * L.a));
        const auto cb = mask_and(lt(mw.b, dz), lt(abs(mw.b + L.b), cut * L.b));
        note(c, m, r0, mask_bits(ca) | mask_bits(cb) << (W / 2));
      } else {
        const D L = short_log(kw, acc).a, s = m + L;
        store(y + r0, s);
        // every lane lse_finish sends elsewhere, noted for fix_later
        Later& e = later[nlater];
        e.k = kw.a, e.S = acc.a, e.L = L;
        note(c, m, r0, mask_bits(mask_and(lt(m, zero), lt(abs(s), L))));
      }
    }
  }
  fix_later();
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
