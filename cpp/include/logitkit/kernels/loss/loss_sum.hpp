// LossAcc: the sum of a row's loss terms Σ a_c·(L - d_c) (soft targets, label smoothing), for the
// cross-entropy passes of ce_max_relative.hpp and ce_direct.hpp.
//
// Invariant: the sum does not depend on which pass computed the terms: both feed the same LossAcc in
// the same order (blocks of kBlock vectors, then the row's tail).
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>

#include "../../math/libm.hpp"
#include "../common.hpp"
#include "../row/basics.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The sum of a row's loss terms Σ a_c·(L - d_c) (soft targets, smoothing): positive terms of similar
// size, C of them. Float lanes are summed in double (29 spare bits). Double lanes are summed plainly
// over a block of kBlock vectors (the caller's loop calls flush() after each), and the block sums are
// added with Neumaier's compensation: a plain sum of C = 20000 terms drifts by tens of ulps, this one
// by the few roundings of one block. (add() keeps no counter: the caller's loop knows the block ends.)
template <class V>
struct LossAcc {
  static constexpr int kBlock = 8;
  static constexpr std::size_t block = kBlock * std::size_t(V::size);
  decltype(acc_make(V::zero())) acc;
  V run = V::zero();
  CompensatedSum<V> total;
  LOGITKIT_INLINE void add(V t) {
    if constexpr (sizeof(scalar_t<V>) == 8) run = run + t;
    else acc_add(acc, t);
  }
  LOGITKIT_INLINE void flush() {
    if constexpr (sizeof(scalar_t<V>) == 8) {
      total.add(hsum(run));
      run = V::zero();
    }
  }
  // Calls step(i, m) over a row of n, m = V::size entries at a time and the tail last, flushing
  // after each block: the order every pass that feeds this sum keeps.
  template <class Step>
  LOGITKIT_INLINE void over_row(std::size_t n, Step&& step) {
    constexpr std::size_t W = V::size;
    std::size_t i = 0;
    while (i + W <= n) {
      const std::size_t stop = n - i > block ? i + block : n;
      for (; i + W <= stop; i += W) step(i, W);
      flush();
    }
    if (i < n) step(i, n - i);
  }
  double sum() {
    if constexpr (sizeof(scalar_t<V>) == 8) {
      flush();
      // an infinite (or NaN) term: S holds it and the compensation is NaN (inf - inf)
      return math::is_finite(total.S) ? total.value() : total.S;
    } else {
      return acc_sum(acc);
    }
  }
};

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
