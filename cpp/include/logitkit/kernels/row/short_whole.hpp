// Short rows of whole vectors: softmax and logsumexp rows of one to three vectors (16, 32 and 48
// floats with AVX-512; 8, 16, 24 with AVX2), float log_softmax rows of two or three, D::size rows
// at a time, each row's vectors where they lie and the rows' sums (log_softmax: and maxes) through
// one transposition of double lanes.
// (docs/numerics.md, "Short rows of whole vectors")
//
// Chosen by kernels/softmax.hpp at temperature 1 for the lengths that short_rows.hpp would take
// (n < 4·V::size) and that are a whole number of vectors: softmax not in place
// (short_whole_fits), logsumexp except rows of 2 and 4 (short_whole_fits_lse), float log_softmax
// rows of two or three vectors of 8 lanes or more (short_whole_fits_lsm). Such a row needs
// neither the transposition into lanes and back (short_rows.hpp) nor a reduction across lanes per
// row (the one-row direct path): its exps are computed from the row where it lies and added
// lane-wise, and the partial sums of D::size rows (D: the double lanes of a vector) are transposed
// together so that each row's sum ends in one lane. softmax's exps wait in a small buffer for the
// last pass, which writes each output once. Kept while it pays (docs/architecture.md, "Fast
// paths"): bench/compare.py cases softmax/131072x32, softmax/87381x48, softmax/262144x16,
// logsumexp/131072x32, logsumexp/262144x16, log_softmax/131072x32, log_softmax/87381x48; for
// masked rows (a -inf entry, taken by the masked first pass) softmax_masked/131072x32,
// softmax_masked/262144x16, logsumexp_masked/131072x32, logsumexp_masked/262144x16,
// log_softmax_masked/131072x32.
//
// The formulas are the direct path's (direct_sum.hpp): y_j = exp(x_j)·(1/S) and logsumexp = log S,
// but with each exp widened to double exactly and added there, and 1/S applied with one rounding
// (scale_pair): after exp, softmax's only rounding is the last one. log_softmax's are the row
// groups' (row_groups.hpp), y_j = x_j - (m + L), with S' = S - exp(m) in double where that keeps
// its relative accuracy (log_softmax_rows_whole_t).
//
// Invariant: a row's result depends only on the row. Each lane of the transposition holds one row,
// and every row's sum is added in the same order whichever slot it has. A row with -inf entries
// gets the masked pass's result whichever pass saw it first (the two agree on every other row). A
// row that the direct sum declines (an entry outside exp's normal range other than -inf, a NaN, a
// row of -inf only, 1/S not a normal number, logsumexp's |log S| < 1) gets the short-row kernel's
// result, which does not depend on the rows beside it (DeclinedRows); softmax's input is intact
// because the path never runs in place, and log_softmax's because a row is written only after its
// last read (a declined row is copied aside before the rows are written).
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../math/exp.hpp"
#include "../../math/log.hpp"
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

// logsumexp rows of n take this path: the same lengths except 2 and 4, where the short-row
// kernel's deinterleaving (rows_narrow_t) is faster.
template <class V>
inline bool short_whole_fits_lse(std::size_t n) {
  return short_whole_fits<V>(n) && n != 2 && n != 4;
}

// log_softmax rows of n take this path: float rows of two or three whole vectors of 8 lanes or
// more (AVX2, AVX-512). Rows of one vector, and the 4-lane ISAs' rows, are faster on the short-row
// kernel.
template <class V>
inline bool short_whole_fits_lsm(std::size_t n) {
  return sizeof(scalar_t<V>) == 4 && V::size >= 8 && short_whole_fits<V>(n) && n >= 2 * V::size;
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

// One vector of a row's first pass: exp(a), and `out` gains a's lanes outside exp's normal range
// or NaN (nge: |a| > limit, or unordered). MASKED: a -inf lane (a masked class) is not outside, and
// its exp is exactly 0.
template <class V, bool MASKED, class M>
LOGITKIT_INLINE inline V whole_exp(V a, M& out) {
  const V limit = V::set1(direct_sum_limit<scalar_t<V>>);
  if constexpr (MASKED) {
    const auto z = eq(a, V::set1(-lim<V>::inf));
    out = mask_or(out, nge(limit, abs(select(z, V::zero(), a))));
    return math::exp_normal_masked(a, z);
  } else {
    out = mask_or(out, nge(limit, abs(a)));
    return math::exp_normal(a);
  }
}

// logsumexp's pass 1 for a group of g <= D::size rows of C vectors at x, row by row: softmax's
// pass 1 without storing the exps. u[l]: row l's exps, each widened to double and added lane-wise
// (a slot past g: 1.0, a harmless sum). Bit l of the result: row l has an entry outside exp's
// normal range or a NaN (nge: |x| > limit, or unordered). MASKED: a -inf entry (a masked class)
// is not outside: its term is exactly 0.
template <class V, std::size_t C, bool MASKED>
LOGITKIT_INLINE inline std::uint32_t lse_whole_sums(const scalar_t<V>* x, std::size_t g, wide_lanes_t<V>* u) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  constexpr std::size_t W = V::size, R = D::size, n = C * W;
  prefetch_rows<V>(x, nullptr, R * n * sizeof(T), prefetch_ahead);  // a few groups ahead
  std::uint32_t dec = 0;
  for (std::size_t l = 0; l < R; ++l) {
    if (l >= g) {
      u[l] = D::set1(1.0);
      continue;
    }
    auto acc = acc_make(V::zero());
    auto out = lt(V::zero(), V::zero());  // (no lane)
    for (std::size_t c = 0; c < C; ++c) acc_add(acc, whole_exp<V, MASKED>(V::load(x + l * n + c * W), out));
    dec |= std::uint32_t(any(out)) << l;
    u[l] = acc_lanes(acc);
  }
  return dec;
}

// The rows a group declines, copied aside and redone V::size at a time by the short-row kernel,
// whose result for a row does not depend on the rows beside it: a batch where every row is
// declined (masked rows with -inf entries for softmax, log-probabilities for logsumexp) then costs
// that kernel's own time plus the first pass, not a kernel call per row. out: softmax's rows (row
// r at out + r·n) or logsumexp's results (out[r]). Out of line: the hot loops stay as they are.
// RETRY: the rows are first redone by the masked pass of this path (a row with -inf entries gets
// the result it gets there whichever pass saw it first); `masked` counts the rows that pass took,
// and only the rows it declines reach the short-row kernel.
template <class V, std::size_t C, bool MASKED>
inline std::size_t softmax_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows);
template <class V, std::size_t C, bool MASKED>
inline std::size_t logsumexp_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows);
template <class V, std::size_t C, bool MASKED>
inline std::size_t log_softmax_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows);

template <class V, ShortKind K, std::size_t n, bool RETRY = false>
struct DeclinedRows {
  using T = scalar_t<V>;
  static constexpr std::size_t W = V::size;
  alignas(64) T x[W * n];
  std::size_t at[W];
  std::size_t count = 0, declined = 0, masked = 0;
  LOGITKIT_NOINLINE void add(const T* xr, std::size_t r, T* out) {
    for (std::size_t i = 0; i < n; i += W) store(x + count * n + i, V::load(xr + i));
    at[count++] = r;
    if (count == W) redo(out);
  }
  LOGITKIT_NOINLINE void redo(T* out) {
    if (count == 0) return;
    alignas(64) T res[K == ShortKind::logsumexp ? W : W * n];
    if constexpr (RETRY) {
      std::size_t d;
      if constexpr (K == ShortKind::logsumexp) d = logsumexp_rows_whole_t<V, n / W, true>(x, res, count);
      else if constexpr (K == ShortKind::log_softmax) d = log_softmax_rows_whole_t<V, n / W, true>(x, res, count);
      else d = softmax_rows_whole_t<V, n / W, true>(x, res, count);
      masked += count - d;
    } else {
      rows_short<V, K>(x, res, count, n);
    }
    declined += count;
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (K == ShortKind::logsumexp) {
        out[at[i]] = res[i];
      } else {
        for (std::size_t j = 0; j < n; j += W) store(out + at[i] * n + j, V::load(res + i * n + j));
      }
    }
    count = 0;
  }
};

// softmax of rows of C vectors each; x != y. (Compiled only for ISAs with several lanes.)
// MASKED: a -inf entry (a masked class) is taken, its output exactly 0, at a compare and two
// selects per vector; a row of -inf only is declined (1/S infinite). The unmasked pass runs first
// and sets its declined rows aside for the masked pass (DeclinedRows with RETRY); once that pass
// has taken a row, the rest of the batch runs the masked pass directly. A row without -inf gets
// the same bits from either pass. The masked pass returns the number of rows it sent to the
// short-row kernel (DeclinedRows counts with it); the unmasked pass's value is not used.
template <class V, std::size_t C, bool MASKED>
inline std::size_t softmax_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  constexpr std::size_t W = V::size, R = D::size, n = C * W;
  // Each group's last pass runs after the next group's first pass, not at once: by then its
  // division has finished, where at once the pass would wait on it. Two sets of exps, 1/S pairs and
  // declined bits: the group being summed and the one waiting for its last pass. The exps wait in
  // this buffer, not in y: y is written once, and the first pass's reads of x never alternate with
  // stores to y, which stall when x and y lie at the same offset in their huge pages.
  alignas(64) T ebuf[2][R * n];
  alignas(64) T f[2][W], fl[2][W];
  std::uint32_t declined[2] = {0, 0};
  std::size_t wait_r0 = 0, wait_g = 0;  // the waiting group: its first row and row count
  DeclinedRows<V, ShortKind::softmax, n, !MASKED> declined_rows;
  // Pass 2 of the group in set b: y = e·(1/S), or the row set aside (declined_rows).
  const auto last_pass = [&](int b, std::size_t p0, std::size_t pg) {
    for (std::size_t l = 0; l < pg; ++l) {
      const T* xr = x + (p0 + l) * n;
      T* yr = y + (p0 + l) * n;
      if (declined[b] >> l & 1u) declined_rows.add(xr, p0 + l, y);
      else scale_pair<V>(ebuf[b] + l * n, yr, n, f[b][l], fl[b][l]);
    }
  };
  int cur = 0;
  for (std::size_t r0 = 0; r0 < rows; r0 += R, cur ^= 1) {
    if constexpr (!MASKED) {
      if (declined_rows.masked) {  // the batch comes masked: the masked pass for the rest
        if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
        declined_rows.redo(y);
        return softmax_rows_whole_t<V, C, true>(x + r0 * n, y + r0 * n, rows - r0);
      }
    }
    const std::size_t g = rows - r0 < R ? rows - r0 : R;
    prefetch_rows<V>(x + r0 * n, y + r0 * n, R * n * sizeof(T), prefetch_ahead);  // a few groups ahead
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
        const V e = whole_exp<V, MASKED>(V::load(xr + c * W), out);
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
    if constexpr (MASKED) declined[cur] |= mask_bits(eq(F, D::set1(lim<D>::inf)));  // S = 0: all -inf
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
  declined_rows.redo(y);
  return declined_rows.declined;
}

// logsumexp of rows of C vectors each: out[r] = log S, S the row's direct sum. log S errs by S's
// relative error, absolute: a row whose |log S| < 1, and a row the direct sum declines (an entry
// outside exp's normal range, a NaN, S beyond 2^1000: double rows near 708), takes the short-row
// kernel's result (which does not depend on the row's neighbours).
// MASKED, the set-aside rows and the return value: as in softmax_rows_whole_t (a row of -inf only,
// S = 0, is declined).
template <class V, std::size_t C, bool MASKED>
inline std::size_t logsumexp_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  constexpr std::size_t W = V::size, R = D::size, n = C * W;
  // a float result needs L only far inside float's rounding (math::log_terms_for_float)
  constexpr int NR = sizeof(T) == 4 ? math::log_terms_for_float : math::log1p_consts<double>::nR;
  // Each group's results are stored after the next group's first pass, not at once: by then its
  // log has finished, where at once the stores would wait on it.
  D L_wait = D::zero();
  std::uint32_t dec_wait = 0;
  std::size_t wait_r0 = 0, wait_g = 0;  // the waiting group: its first row and row count
  DeclinedRows<V, ShortKind::logsumexp, n, !MASKED> declined_rows;
  const auto finish = [&]() {
    alignas(64) double L[R];
    store(L, L_wait);
    for (std::size_t l = 0; l < wait_g; ++l) {
      const std::size_t r = wait_r0 + l;
      if (dec_wait >> l & 1u) declined_rows.add(x + r * n, r, out);
      else out[r] = T(L[l]);
    }
  };
  for (std::size_t r0 = 0; r0 < rows; r0 += R) {
    if constexpr (!MASKED) {
      if (declined_rows.masked) {  // the batch comes masked: the masked pass for the rest
        if (wait_g) finish();
        declined_rows.redo(out);
        return logsumexp_rows_whole_t<V, C, true>(x + r0 * n, out + r0, rows - r0);
      }
    }
    const std::size_t g = rows - r0 < R ? rows - r0 : R;
    D u[R];
    std::uint32_t dec = lse_whole_sums<V, C, MASKED>(x + r0 * n, g, u);
    if (wait_g) finish();
    // S per row: after the transposition u[j] lane l is part j of row l's sum; added in order.
    transpose(u);
    D S = u[0];
    for (std::size_t j = 1; j < R; ++j) S = S + u[j];
    dec |= mask_bits(nge(D::set1(0x1p1000), S));  // (log_pos needs a finite S)
    if constexpr (MASKED) dec |= mask_bits(eq(S, D::zero()));  // all -inf (log_pos needs S > 0)
    L_wait = math::log_pos<D, NR>(S);
    dec_wait = dec | mask_bits(nge(abs(L_wait), D::set1(1.0)));
    wait_r0 = r0, wait_g = g;
  }
  if (wait_g) finish();
  declined_rows.redo(out);
  return declined_rows.declined;
}

// log_softmax of float rows of C vectors each (C >= 2); y may equal x. y_j = x_j - log S with log S
// = m + L as the pair hi + lo (log_shift_consts, here in the double lanes of D::size rows at once),
// L = log1p(S') and S' = (S - e_m)·e^-m: S the row's direct sum (each exp widened to double and
// added there, the rows' partial sums through one transposition, their maxes through another),
// e_m = exp_normal(m), the very term pass 1 added for a max entry. The subtraction leaves S' with
// an absolute error of a few roundings of S in double (S is within a dozen double additions of
// the exact sum of the float exps), about 2^-49·(1 + S'): relative accuracy for the top output
// -log1p(S') down to S' = 2^-20 (below 2^-28 relative error). A row with a smaller S' (one entry
// holds all but 2^-20 of the mass: a confident classifier's row) takes S' from a second pass over
// the exps that pass 1 kept in a buffer, which leaves the max entries out (row_sum_stored's sum,
// top_heavy.hpp); L is then log1p of that S' (k = 1, which S' < 1 implies). Elsewhere S' includes
// the other max entries, each as e_m·e^-m = 1 within exp's float rounding: with k >= 2 (S' >= 1) L is
// log(k + rest) to about 2^-24 relative, the error the row groups' log q has (at most about an ulp
// more on a tied top output, within log_softmax's bound).
// MASKED, the set-aside rows and the return value: as in softmax_rows_whole_t (a row of -inf only,
// S = 0, is declined). Each group's output pass runs after the next group's first pass, so that it
// does not wait on the group's exp and log.
template <class V, std::size_t C, bool MASKED>
inline std::size_t log_softmax_rows_whole_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  static_assert(sizeof(T) == 4 && C >= 2, "float rows of two vectors or more");
  constexpr std::size_t W = V::size, R = D::size, n = C * W;
  alignas(64) T hi[2][W], lo[2][W];
  alignas(64) T ebuf[R * n];  // the group's exps, for a row whose S' takes the second pass
  std::uint32_t declined[2] = {0, 0};
  std::size_t wait_r0 = 0, wait_g = 0;  // the waiting group: its first row and row count
  DeclinedRows<V, ShortKind::log_softmax, n, !MASKED> declined_rows;
  const auto last_pass = [&](int b, std::size_t p0, std::size_t pg) {
    for (std::size_t l = 0; l < pg; ++l) {
      const T* xr = x + (p0 + l) * n;
      T* yr = y + (p0 + l) * n;
      if (declined[b] >> l & 1u) {
        declined_rows.add(xr, p0 + l, y);
        continue;
      }
      const V vh = V::set1(hi[b][l]), vl = V::set1(lo[b][l]);
      for (std::size_t c = 0; c < C; ++c) store(yr + c * W, (V::load(xr + c * W) - vh) - vl);
    }
  };
  int cur = 0;
  for (std::size_t r0 = 0; r0 < rows; r0 += R, cur ^= 1) {
    if constexpr (!MASKED) {
      if (declined_rows.masked) {  // the batch comes masked: the masked pass for the rest
        if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
        declined_rows.redo(y);
        return log_softmax_rows_whole_t<V, C, true>(x + r0 * n, y + r0 * n, rows - r0);
      }
    }
    const std::size_t g = rows - r0 < R ? rows - r0 : R;
    prefetch_rows<V>(x + r0 * n, y + r0 * n, R * n * sizeof(T), prefetch_ahead);  // a few groups ahead
    // Pass 1, row by row: u[l] the row's exps widened to double and added lane-wise, mw[l] its
    // lane-wise max in double; bit l of dec: an entry outside exp's normal range or a NaN.
    D u[R], mw[R];
    std::uint32_t dec = 0;
    for (std::size_t l = 0; l < R; ++l) {
      if (l >= g) {  // a slot past the batch: harmless values (S = 2, m = 0)
        u[l] = D::set1(2.0);
        mw[l] = D::zero();
        continue;
      }
      const T* xr = x + (r0 + l) * n;
      auto acc = acc_make(V::zero());
      auto out = lt(V::zero(), V::zero());  // (no lane)
      V mx = V::set1(-lim<V>::inf);
      for (std::size_t c = 0; c < C; ++c) {
        const V a = V::load(xr + c * W);
        const V e = whole_exp<V, MASKED>(a, out);
        store(ebuf + l * n + c * W, e);
        acc_add(acc, e);
        mx = max(mx, a);
      }
      dec |= std::uint32_t(any(out)) << l;
      u[l] = acc_lanes(acc);
      const auto w = wide_of(mx);
      mw[l] = max(w.a, w.b);
    }
    if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
    // S and m per row: after the transpositions u[j], mw[j] lane l are part j of row l's.
    transpose(u);
    transpose(mw);
    D S = u[0], M = mw[0];
    for (std::size_t j = 1; j < R; ++j) {
      S = S + u[j];
      M = max(M, mw[j]);
    }
    if constexpr (MASKED) dec |= mask_bits(eq(S, D::zero()));  // all -inf
    const D em = math::exp(neg(M));
    D Sp = (S - wide_of(math::exp_normal(narrow(M, M))).a) * em;
    // rows with S' < 2^-20 (or not a number: the row is declined anyway): S' from a second pass
    if (std::uint32_t tiny = mask_bits(nge(Sp, D::set1(0x1p-20))) & ~dec & ((1u << g) - 1u)) {
      alignas(64) double md[R], emd[R], Spd[R];
      store(md, M);
      store(emd, em);
      store(Spd, Sp);
      for (std::size_t l = 0; tiny; ++l, tiny >>= 1) {
        if (!(tiny & 1u)) continue;
        // row_sum_stored's S' for a row of C whole vectors (the same bits, without its blocks, its
        // count of max entries and its partial loads, which a batch of such rows pays for)
        const T* xr = x + (r0 + l) * n;
        const V vm = V::set1(T(md[l]));
        auto acc = acc_make(V::zero());
        for (std::size_t c = 0; c < C; ++c)
          acc_add(acc, mask_zero(lt(V::load(xr + c * W), vm), V::load(ebuf + l * n + c * W)));
        Spd[l] = hsum(acc_lanes(acc)) * emd[l];
      }
      Sp = D::load(Spd);
    }
    const D L = math::log_k_plus<D, math::log_terms_for_float>(D::set1(1.0), Sp);
    // log_shift_consts in the lanes: s1 + e1 = M + L exactly, hi = s1 rounded, lo = the rest
    D e1;
    const D s1 = two_sum(M, L, e1);
    const V h = narrow(s1, s1);
    const D rest = (s1 - wide_of(h).a) + e1;
    store(hi[cur], h);
    store(lo[cur], narrow(rest, rest));
    declined[cur] = dec;
    wait_r0 = r0, wait_g = g;
  }
  if (wait_g) last_pass(cur ^ 1, wait_r0, wait_g);
  declined_rows.redo(y);
  return declined_rows.declined;
}

// f(std::integral_constant<std::size_t, C>{}) for rows of n = C·V::size, C = 1, 2 or 3.
template <class V, class F>
inline void by_vector_count(std::size_t n, F&& f) {
  constexpr std::size_t W = V::size;
  if (n == W) return f(std::integral_constant<std::size_t, 1>{});
  if (n == 2 * W) return f(std::integral_constant<std::size_t, 2>{});
  f(std::integral_constant<std::size_t, 3>{});
}

// softmax of `rows` contiguous rows of n (short_whole_fits<V>(n)), y != x, temperature 1.
template <class V>
inline void softmax_rows_whole(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0)
    by_vector_count<V>(n, [&](auto c) { softmax_rows_whole_t<V, decltype(c)::value, false>(x, y, rows); });
}

// logsumexp of `rows` contiguous rows of n (short_whole_fits_lse<V>(n)), temperature 1.
template <class V>
inline void logsumexp_rows_whole(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0)
    by_vector_count<V>(n, [&](auto c) { logsumexp_rows_whole_t<V, decltype(c)::value, false>(x, out, rows); });
}

// log_softmax of `rows` contiguous float rows of n (short_whole_fits_lsm<V>(n)), temperature 1; y
// may equal x.
template <class V>
inline void log_softmax_rows_whole(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  if constexpr (short_rows_below<V> > 0 && sizeof(scalar_t<V>) == 4) {
    if (n == 2 * V::size) log_softmax_rows_whole_t<V, 2, false>(x, y, rows);
    else log_softmax_rows_whole_t<V, 3, false>(x, y, rows);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
