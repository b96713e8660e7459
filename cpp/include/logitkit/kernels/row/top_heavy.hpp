// Top-heavy rows: k and S' of a row in which one entry holds more than half the mass, from the
// exps that the direct sum (direct_sum.hpp) already computed, without a max pass or a second exp.
// (docs/numerics.md, "Top-heavy rows: reusing the stored exps")
//
// Chosen by row_groups.hpp (log_softmax) and the cross-entropy kernels (kernels/loss/) for rows that
// row_direct_sum summed (every |x_j| inside exp's normal range) and found top-heavy: S·e^-m < 2.
// The log-sum offset log S then errs by a rounding of S, too much for the top entry's output
// -log1p(S'), which needs S' to relative accuracy. The alternative is the max-relative path, a
// second pass of exps; the reuse is kept while it pays (docs/architecture.md, "Fast paths"):
// bench/compare.py case log_softmax_confident/16384x100.
//
// Invariant: the e_j are exactly the bits row_direct_sum computed (stored, or recomputed by the same
// exp_normal call where the pass could not store them, e.g. in place): the result does not depend
// on whether they were stored. The max entries are left out of S', not subtracted.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>

#include "../../math/exp.hpp"
#include "basics.hpp"
#include "direct_sum.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// k and S' = Σ_{x_j < m} e_j·e^-m from e_j = exp(x_j) as the direct pass stored them (every x_j
// finite, |x_j| <= 87 for float, or masked: e_j = 0, direct_sum.hpp): the top-heavy log_softmax
// row's exact sum without a second exp.
// Each e_j is within an ulp of exp(x_j), and the max entries are left out, not subtracted: S' keeps
// the relative accuracy that -log1p(S'), the top entry's output, needs.
template <class V, bool STORED>
inline RowSum<V> row_sum_stored_t(const scalar_t<V>* x, const scalar_t<V>* e, std::size_t n, scalar_t<V> m,
                                  double em) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  const V vm = V::set1(m), one = V::set1(T(1));
  auto ev = [&](std::size_t i, std::size_t r) LOGITKIT_INLINE {
    if constexpr (STORED) {
      return r == W ? V::load(e + i) : load_partial<V>(e + i, r, T(0));
    } else {  // as row_direct_sum computed them (an entry below the range, masked there: 0)
      const V a = r == W ? V::load(x + i) : load_partial<V>(x + i, r, m);
      const auto z = lt(a, V::set1(-direct_sum_limit<T>));
      return math::exp_normal_masked(a, z);
    }
  };
  CompensatedSum<V> total;  // blocks as in row_expsum_t: float64 rows of 32000 need it
  V kv = V::zero(), kv2 = V::zero();
  for (std::size_t b0 = 0; b0 < n; b0 += sum_block<V>) {
    const std::size_t b1 = (n - b0 > sum_block<V>) ? b0 + sum_block<V> : n;
    Acc acc0, acc1;
    std::size_t i = b0;
    for (; i + 4 * W <= b1; i += 4 * W) {
      // (written out, not a loop over an array of four: the compilers measured kept such an array
      // on the stack; the two count vectors keep each addition chain short, the counts are exact)
      const auto t0 = eq(V::load(x + i), vm), t1 = eq(V::load(x + i + W), vm);
      const auto t2 = eq(V::load(x + i + 2 * W), vm), t3 = eq(V::load(x + i + 3 * W), vm);
      kv = kv + (mask_zero(t0, one) + mask_zero(t1, one));
      kv2 = kv2 + (mask_zero(t2, one) + mask_zero(t3, one));
      const V s0 = select(t0, V::zero(), ev(i, W)), s1 = select(t1, V::zero(), ev(i + W, W));
      const V s2 = select(t2, V::zero(), ev(i + 2 * W, W)), s3 = select(t3, V::zero(), ev(i + 3 * W, W));
      acc_add(acc0, s0 + s1);
      acc_add(acc1, s2 + s3);
    }
    for (; i < b1; i += W) {
      const std::size_t r = b1 - i < W ? b1 - i : W;
      const auto valid = first_lanes<V>(r);
      const auto top = mask_and(valid, eq(load_partial<V>(x + i, r, m), vm));
      kv = kv + mask_zero(top, one);
      acc_add(acc0, mask_zero(mask_and(valid, mask_not(top)), ev(i, r)));
    }
    const double s = acc_sum(acc0) + acc_sum(acc1);
    total.add_block(b0, s);
  }
  kv = kv + kv2;
  using Wd = wide_t<V>;
  if (std::is_same_v<Wd, double> && em > 0) return {hsum(kv), total.value() * em};
  return {hsum(kv), double(Wd(total.value()) * math::libm_exp(-Wd(m)))};
}

// With e null the e_j are computed again, the same way (so the same bits as a stored row). em: e^-m
// in double where the caller has it (float rows: used instead of computing it), else 0.
template <class V>
inline RowSum<V> row_sum_stored(const scalar_t<V>* x, const scalar_t<V>* e, std::size_t n, scalar_t<V> m,
                                double em = 0) {
  if (!e) return row_sum_stored_t<V, false>(x, e, n, m, em);
  return row_sum_stored_t<V, true>(x, e, n, m, em);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
