// Row groups: log_softmax and logsumexp of up to kRowGroup rows (about kRowGroupMaxN entries) at a
// time, each phase for every row of the group before the next, from the rows' direct sums
// (direct_sum.hpp); the rows' exps and logs share vector instructions (math/log.hpp, math/exp.hpp)
// instead of a libm call per row.
// (docs/numerics.md, "Row groups")
//
// Chosen by kernels/softmax.hpp at temperature 1 for rows of four vectors or more (a row that comes
// alone, and a row over kRowGroupMaxN / 2, is a group of one). Kept while it pays (docs/architecture.md,
// "Fast paths"): bench/compare.py cases log_softmax/16384x100, logsumexp/16384x100, log_softmax/65536x32. A row alone waits on the chain from
// its sum through exp and log to its output pass; a group's chains overlap. Groups are small enough
// that their rows are still in L1 for their last pass.
//
// Invariant: every row's result is the one it gets alone: the group's shared steps are lane-wise
// (no lane reads another), and a row the direct sum declines, or whose direct result is not exact
// enough (logsumexp's |log S| < 1), takes the max-relative path (max_relative.hpp) whole.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <type_traits>

#include "../../math/exp.hpp"
#include "../../math/log.hpp"
#include "basics.hpp"
#include "direct_sum.hpp"
#include "max_relative.hpp"
#include "output_queue.hpp"
#include "top_heavy.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Up to kRowGroup rows and about kRowGroupMaxN entries per group.
constexpr std::size_t kRowGroup = 16;
constexpr std::size_t kRowGroupMaxN = 2048;

// Rows of n per group: kRowGroupMaxN / n, at least 1, at most kRowGroup.
inline std::size_t rows_per_group(std::size_t n) {
  const std::size_t per = kRowGroupMaxN / n;
  return per < 1 ? 1 : per > kRowGroup ? kRowGroup : per;
}

// For the rows of a group (kRowGroup values, a multiple of every ISA's double lane count; unused
// entries hold harmless values): out = exp(-a), log(u), log(k + S') in the double lanes, several
// rows per call instead of a libm call per row (the scalar ISA calls libm).
template <class V>
inline void group_exp_neg(const double* a, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = math::libm_exp(-a[i]);
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, math::exp(neg(D::load(a + i))));
  }
}
template <class V>
inline void group_log(const double* u, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = math::libm_log(u[i]);
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, math::log_pos(D::load(u + i)));
  }
}
template <class V>
inline void group_log_k_plus(const double* k, const double* Sp, double* out, std::size_t g) {
  using D = wide_lanes_t<V>;
  if constexpr (std::is_arithmetic_v<D>) {
    for (std::size_t i = 0; i < g; ++i) out[i] = RowSum<V>{k[i], Sp[i]}.L();
  } else {
    for (std::size_t i = 0; i < g; i += D::size) store(out + i, math::log_k_plus(D::load(k + i), D::load(Sp + i)));
  }
}

// log_softmax of rows several at a time, each phase for every row of the group before the next:
//  1. the direct sums (row_direct_sum: S = Σ exp(x_j) with no max pass where every logit is inside
//     exp's range or -inf, a masked class; rows outside it, or with a NaN, take the max-relative
//     path at the end). Unless
//     in place, the pass also writes exp(x) to y, which the last pass overwrites: the output's cache
//     misses are taken while the exp arithmetic runs, and a top-heavy row reuses those exps (long
//     rows: only while the rows come top-heavy, see step 5);
//  2. the rows' e^-m together in double lanes, and q = S·e^-m >= 1 (the max's own term);
//  3. rows where one entry holds more than half the mass (q < 2, a confident classifier's usual
//     row: its top output -log1p(S') needs S' = Σ_{j != top} exp(x_j - m) to relative accuracy):
//     S' from the stored exps (row_sum_stored; in place, computed again to the same bits). Elsewhere
//     every output is <= -log 2 and log q's error stays below an ulp of it;
//  4. every row's offset L together in double lanes (log_k_plus: log1p(S'), or log q);
//  5. the outputs, x - (m + L) (log_shift_consts, log_shift_range, inlined here: a short row's
//     output pass is a few vectors, less than a call's cost). Long rows (over kRowGroupMaxN / 2:
//     groups of one) pass theirs to the next row's phase 1 (OutputQueue), whose arithmetic then
//     hides the output's latency.
template <class V>
inline void log_softmax_rows_grouped(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t G = kRowGroup;
  const bool queue = n > kRowGroupMaxN / 2;
  const std::size_t per = queue ? 1 : rows_per_group(n);
  alignas(64) double S[G], md[G], em[G], k[G], Sp[G], L[G];
  T m[G];
  bool ok[G];
  // Queued rows (groups of one): each row's output pass runs inside the next row's sum pass. Their
  // sum pass stores its exps only while the rows come top-heavy (they reuse them; otherwise the
  // output pass's own stores overlap the next row's arithmetic). Stored or not, the exps have the
  // same bits (top_heavy.hpp), so the outputs do not depend on this choice.
  // A large output (common.hpp, streams_output) is written with non-temporal stores, and then the
  // sum pass stores no exps: they would bring y's lines into the cache for nothing.
  const bool stream = x != y && streams_output<V>(rows, n);
  const bool queued = queue || stream;  // outputs through `pending`
  bool store_exps = !queue && !stream;
  OutputQueue<V, true> pending;
  MaskedRows masked;
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
      if (queued) ok[i] = st ? row_direct_sum<V, true>(xr, n, S[i], m[i], yr, &masked, &pending)
                             : row_direct_sum<V, false>(xr, n, S[i], m[i], nullptr, &masked, &pending);
      else ok[i] = st ? row_direct_sum<V, true>(xr, n, S[i], m[i], yr, &masked)
                      : row_direct_sum<V, false>(xr, n, S[i], m[i], nullptr, &masked);
      if (ok[i]) md[i] = double(m[i]);
    }
    pending.finish();
    const bool stored = store_exps;  // whether this group's sums wrote their exps (not in place)
    group_exp_neg<V>(md, em, g);
    for (std::size_t i = 0; i < g; ++i) {
      if (!ok[i]) continue;
      const double q = S[i] * em[i];  // >= 1 (the max's own term); top-heavy where < 2
      if (q < 2.0) {  // S' from the stored exps (else computed again, to the same bits)
        const T* xr = x + (r0 + i) * n;
        T* yr = y + (r0 + i) * n;
        const RowSum<V> rs = row_sum_stored<V>(xr, stored && yr != xr ? yr : nullptr, n, m[i], em[i]);
        k[i] = rs.k;
        Sp[i] = rs.Sp;
      } else {
        Sp[i] = q - 1;  // exact (q >= 2); log(1 + (q - 1)) = log q
      }
      if (queue) store_exps = q < 2.0 && !stream;
    }
    group_log_k_plus<V>(k, Sp, L, g);
    for (std::size_t i = 0; i < g; ++i) {
      const T* xr = x + (r0 + i) * n;
      T* yr = y + (r0 + i) * n;
      if (!ok[i]) {
        log_softmax_row_maxrel<V>(xr, yr, n, 1.0);
        continue;
      }
      V hi, lo;
      log_shift_consts<V>(m[i], L[i], hi, lo);
      if (queued) pending.push(xr, yr, n, hi, lo, stream);
      else log_shift_range<V>(xr, yr, n, hi, lo);  // (not queued, so not streamed)
    }
  }
  pending.finish();
  if (stream) stream_fence<V>();
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
  MaskedRows masked;
  for (std::size_t r0 = 0; r0 < rows; r0 += per) {
    const std::size_t g = rows - r0 < per ? rows - r0 : per;
    for (std::size_t i = 0; i < G; ++i) S[i] = 1;
    for (std::size_t i = 0; i < g; ++i) {
      T m;
      double s;
      ok[i] = row_direct_sum<V>(x + (r0 + i) * n, n, s, m, nullptr, &masked);
      if (ok[i]) S[i] = s;
    }
    group_log<V>(S, L, g);
    // log S errs by one exp rounding of S, absolute: fine where |log S| >= 1
    for (std::size_t i = 0; i < g; ++i)
      out[r0 + i] = (ok[i] && math::libm_fabs(L[i]) >= 1.0) ? T(L[i]) : logsumexp_row_maxrel<V>(x + (r0 + i) * n, n, 1.0);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
