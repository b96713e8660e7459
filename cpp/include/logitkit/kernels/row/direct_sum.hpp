// The direct sum: S = Σ exp(x_j) in one pass with no max pass, where every |x_j| lies inside exp's
// normal range (|x| <= 87 for float, 708 for double), and softmax from it in two passes (exp, store
// and sum; then scale by 1/S) instead of three.
// (docs/numerics.md, "Direct sum (no max pass)")
//
// Chosen at temperature 1: softmax rows of two or more entries that short_rows.hpp does not take,
// not in place (softmax_row_direct_or_maxrel; long rows: softmax_rows_queued); log_softmax and
// logsumexp rows in row groups (row_groups.hpp); cross-entropy rows (kernels/loss/ce_direct.hpp).
//
// Invariant: the direct sum declines (returns false) every row it cannot do exactly: an entry
// outside the range (-inf is taken where the caller asks, as exp = 0: a masked class), a NaN, a sum
// that overflows or underflows, a row of -inf only; its caller then takes the
// max-relative path (max_relative.hpp) for the whole row, never a mix. Without the max, each term
// is within an ulp of exp(x_j) and S within one exp rounding; the callers decide where that is
// enough (a top-heavy row's log, logsumexp near 0, are not: top_heavy.hpp, row_groups.hpp).
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <type_traits>

#include "../../math/exp.hpp"
#include "basics.hpp"
#include "max_relative.hpp"
#include "output_queue.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The largest |x| the direct sum takes: exp(x) is a normal number for every |x| up to it.
template <class T>
constexpr T direct_sum_limit = -math::exp_consts<T>::fast_lo < math::exp_consts<T>::fast_hi
                                   ? -math::exp_consts<T>::fast_lo
                                   : math::exp_consts<T>::fast_hi;

// How far below its row's max an entry must lie to count as masked in the direct sum: exp of
// minus this is below half the smallest subnormal, so the entry's softmax output rounds to 0.
template <class T>
constexpr double masked_below = sizeof(T) == 4 ? 104.0 : 746.0;

// One pass, no max: S = Σ exp(x_i) in double and m = max(x), when every |x_i| is inside exp's
// normal range (else declined: huge logits, -inf, NaN). log S is then log_softmax's and logsumexp's
// offset to within one exp rounding of S, which is exact enough unless one entry holds more than
// half the mass (log_softmax's top entry is then -log1p(S'), tiny: the max-relative path keeps it)
// or log S is near 0 (logsumexp cancels): the callers check those.
// MASKED: an entry below the range is also taken where it is -inf (a masked class) or more than
// masked_below under the row's max, with exp = 0 exactly; so such a value gives every other entry
// the bits -inf would. A row of -inf only is declined (S = 0). A row inside the range gets the same
// S and m bits from either pass. Returns `masked` for a row declined where the masked pass may take
// it: no entry above the range, some below it.
// With STORE, exp(x_i) is also written to y[i] (softmax's and cross-entropy's first pass; y != x).
// The input is prefetched a few KB ahead (the next rows, for a batch of contiguous rows), and so is
// y with STORE: a row from memory then costs little more than one from cache.
// side: other rows' output passes (OutputQueue), a few vectors of them after every four vectors
// here.
struct NoSide {};
enum class DirectSum { ok, declined, masked };
template <class V, bool STORE, class Side, bool MASKED>
inline DirectSum direct_sum_pass(const scalar_t<V>* x, std::size_t n, double& S_out, scalar_t<V>& m_out,
                                 scalar_t<V>* y, Side* side) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  const T limit = direct_sum_limit<T>;
  const V ninf = V::set1(-lim<V>::inf);
  // The range is checked at the end of each block, from the max and min (a NaN makes S NaN): a row
  // outside it has been summed for nothing, and the caller takes the max-relative path.
  V vmax = V::set1(x[0]), vmin = vmax, vlow = ninf;
  const V vlim = V::set1(-limit);
  CompensatedSum<V> total;
  for (std::size_t b0 = 0; b0 < n; b0 += sum_block<V>) {
    const std::size_t b1 = (n - b0 > sum_block<V>) ? b0 + sum_block<V> : n;
    Acc acc0, acc1;
    std::size_t i = b0;
    for (; i + 4 * W <= b1; i += 4 * W) {
      for (std::size_t c = 0; c < 4 * W * sizeof(T); c += 64) {  // (SSE2, NEON: one line; AVX2: two)
        prefetch_read<V>(x + i, prefetch_ahead + c);
        if constexpr (STORE) prefetch_write<V>(y + i, prefetch_ahead + c);
      }
      V a0 = V::load(x + i), a1 = V::load(x + i + W), a2 = V::load(x + i + 2 * W), a3 = V::load(x + i + 3 * W);
      vmax = max(max(vmax, max(a0, a1)), max(a2, a3));
      V e0, e1, e2, e3;
      if constexpr (MASKED) {  // an entry below the range: its max kept, 0 into the exp, e = 0
        const auto z0 = lt(a0, vlim), z1 = lt(a1, vlim), z2 = lt(a2, vlim), z3 = lt(a3, vlim);
        vlow = max(max(vlow, max(select(z0, a0, ninf), select(z1, a1, ninf))),
                   max(select(z2, a2, ninf), select(z3, a3, ninf)));
        e0 = math::exp_normal_masked(a0, z0);
        e1 = math::exp_normal_masked(a1, z1);
        e2 = math::exp_normal_masked(a2, z2);
        e3 = math::exp_normal_masked(a3, z3);
      } else {
        vmin = min(min(vmin, min(a0, a1)), min(a2, a3));
        e0 = math::exp_normal(a0), e1 = math::exp_normal(a1), e2 = math::exp_normal(a2), e3 = math::exp_normal(a3);
      }
      if constexpr (STORE) {
        store(y + i, e0);
        store(y + i + W, e1);
        store(y + i + 2 * W, e2);
        store(y + i + 3 * W, e3);
      }
      // four terms summed in the lane type (two roundings, a sum of positive terms), one widening
      acc_add(acc0, (e0 + e1) + (e2 + e3));
      if constexpr (!std::is_same_v<Side, NoSide>) side->step();
    }
    const std::size_t first_tail = i;
    for (; i < b1; i += W) {
      const std::size_t m = (b1 - i >= W) ? W : b1 - i;
      V a = (m == W) ? V::load(x + i) : load_partial<V>(x + i, m, x[i]);  // padded with a row value
      vmax = max(vmax, a);
      V e;
      if constexpr (MASKED) {
        const auto z = lt(a, vlim);
        vlow = max(vlow, select(z, a, ninf));
        e = math::exp_normal_masked(a, z);
      } else {
        vmin = min(vmin, a);
        e = math::exp_normal(a);
      }
      if (m < W) e = mask_zero(first_lanes<V>(m), e);
      if constexpr (STORE) {
        if (m == W) store(y + i, e);
        else store_partial(y + i, e, m);
      }
      acc_add(acc1, e);
    }
    // (acc1 is zero when no vector went through the second loop, and is left out)
    const double s = i > first_tail ? acc_sum(acc0) + acc_sum(acc1) : acc_sum(acc0);
    total.add_block(b0, s);
    // (an out-of-range row stops at the end of its first block; a NaN row at the latest at the end,
    // by its sum). vmax and vmin may have lost a NaN, and a value a NaN hid in the same lane (x86
    // max/min): that value is in a row with a NaN, whose sum is NaN; nge also sends a NaN they kept
    // to the max-relative path at once (docs/numerics.md, "Special values and lane isolation").
    const auto high = nge(V::set1(limit), vmax);
    if constexpr (MASKED) {
      if (any(high)) return DirectSum::declined;
    } else if (any(mask_or(high, nge(vmin, vlim)))) {
      return !any(high) && any(lt(vmin, vlim)) ? DirectSum::masked : DirectSum::declined;
    }
  }
  S_out = total.value();
  m_out = hmax(vmax);
  // (masked: every entry below the range is far enough below the max that its exp(x_j - m), and
  // with it its softmax output, rounds to 0 and its share of S is below S's rounding)
  if constexpr (MASKED) {
    const T low = hmax(vlow);
    if (low != -lim<V>::inf && !(double(low) - double(m_out) < -masked_below<T>)) return DirectSum::declined;
  }
  return S_out > 0 && S_out < 1e300 ? DirectSum::ok : DirectSum::declined;
}

// Whether a batch's rows have come masked (a -inf entry): once one has, the following rows take
// the masked pass first, instead of an unmasked pass that would decline them. Either pass gives a
// row the same bits, so the choice never changes a result.
struct MaskedRows {
  bool seen = false;
};

// row_direct_sum: the direct sum of one row, true where it is taken (S_out, m_out set).
// Without `masked` a row with a -inf entry is declined; with it, such a row takes the masked pass.
template <class V, bool STORE = false, class Side = NoSide>
inline bool row_direct_sum(const scalar_t<V>* x, std::size_t n, double& S_out, scalar_t<V>& m_out,
                           scalar_t<V>* y = nullptr, MaskedRows* masked = nullptr, Side* side = nullptr) {
  if (n == 0) return false;
  if (masked && masked->seen) return direct_sum_pass<V, STORE, Side, true>(x, n, S_out, m_out, y, side) == DirectSum::ok;
  const DirectSum r = direct_sum_pass<V, STORE, Side, false>(x, n, S_out, m_out, y, side);
  if (r == DirectSum::ok) return true;
  if (r == DirectSum::declined || !masked) return false;
  if (direct_sum_pass<V, STORE, Side, true>(x, n, S_out, m_out, y, side) != DirectSum::ok) return false;
  masked->seen = true;
  return true;
}

// Softmax without the max: when every |x_i| <= 87 (float; 708 for double), exp(x_i) is a normal
// number, so y_i = exp(x_i) · (1/S) with S = Σ exp(x_i) in double keeps softmax's 4-ulp bound in
// two passes (exp + store + sum, then scale) instead of three. Returns false, having written nothing that
// matters, when a vector leaves that range, the sum is NaN, or 1/S is not a normal float: the
// caller then takes the exact-difference path. Never used in place (y == x), where a fallback
// would have lost the input.
// With a queue (softmax_rows' long rows), the last pass is queued to run inside the next row's sum
// pass instead, after the queue's earlier rows are finished. With `masked`, a -inf entry is taken
// (row_direct_sum): its output is exactly 0.
template <class V, class Queue = NoSide>
inline bool softmax_direct(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, MaskedRows* masked = nullptr,
                           Queue* pending = nullptr) {
  using T = scalar_t<V>;
  constexpr bool queued = !std::is_same_v<Queue, NoSide>;
  double S;
  T m;
  const bool ok = row_direct_sum<V, true>(x, n, S, m, y, masked, pending);
  if constexpr (queued) pending->finish();
  if (!ok) return false;
  const double F = 1.0 / S;
  if (!(F >= 0x1p-100)) return false;  // NaN sum (a NaN input), or a row too large to scale once
  const T f = T(F), fl = T(F - double(f));
  if constexpr (queued) pending->push(x, y, n, V::set1(f), V::set1(fl));
  else scale_range<V>(y, n, V::set1(f), V::set1(fl));
  return true;
}

// softmax of one row: a row of one, else the direct path where it applies (temperature 1, not in
// place: a declined row must still have its input), else the max-relative path. masked: as in
// row_direct_sum (the batch's memory of masked rows).
template <class V>
inline void softmax_row_direct_or_maxrel(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp,
                                         MaskedRows* masked = nullptr) {
  using T = scalar_t<V>;
  if (n == 1) {  // a row of one: exactly 1 (NaN for NaN or inf, -inf: NaN as an all -inf row)
    y[0] = (x[0] - x[0] == T(0)) ? T(1) : lim<V>::nan;
    return;
  }
  if (temp == 1.0 && x != y && softmax_direct<V>(x, y, n, masked)) return;
  softmax_row_maxrel<V>(x, y, n, temp);
}

// softmax of `rows` contiguous rows of n at temperature 1, y != x: each row's direct path
// (softmax_direct) with its last pass, y *= 1/S, queued to run inside the next row's sum pass
// (OutputQueue); a row the direct sum declines takes the max-relative path at once. Masked classes
// (-inf entries) are taken by the direct sum.
template <class V>
inline void softmax_rows_queued(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n) {
  OutputQueue<V, false> pending;
  MaskedRows masked;
  for (std::size_t r = 0; r < rows; ++r)
    if (!softmax_direct<V>(x + r * n, y + r * n, n, &masked, &pending))
      softmax_row_maxrel<V>(x + r * n, y + r * n, n, 1.0);
  pending.finish();
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
