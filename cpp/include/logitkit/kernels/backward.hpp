// Backward rules of the row-wise functions, one contiguous row at a time (docs/numerics.md,
// "Backward rules"):
//   softmax:     grad_in = y ⊙ (g - Σ g⊙y)      (y = softmax(x))
//   log_softmax: grad_in = g - exp(y)·Σ g        (y = log_softmax(x))
// The row sum is carried as two numbers (hi + lo): each product g·y is split exactly into its
// rounded value and its error (TwoProduct), both summed in double, so g - Σ keeps the digits that
// cancel; then g - hi - lo is rounded once more before the last product.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cmath>
#include <cstddef>

#include "../math/exp.hpp"
#include "../math/libm.hpp"
#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Σ a·b (or Σ a when b is null) as hi + lo in the lane type.
template <class V>
inline void row_dot2(const scalar_t<V>* a, const scalar_t<V>* b, std::size_t n, scalar_t<V>& hi, scalar_t<V>& lo) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  Acc sp, se;
  // double lanes: the running lane sums are themselves compensated (TwoSum), since their rounding
  // is as large as the cancellation the two-number result is there to keep.
  V run = V::zero(), comp = V::zero();
  auto add = [&](V p) LOGITKIT_INLINE {
    if constexpr (sizeof(T) == 8) {
      V err;
      run = two_sum(run, p, err);
      comp = comp + err;
    } else {
      acc_add(sp, p);
    }
  };
  auto step = [&](V av, V bv) LOGITKIT_INLINE {
    if (b) {
      V p = av * bv;
      add(p);
      acc_add(se, neg(quotient_residual(p, av, bv)));  // a·b - p, exactly
    } else {
      add(av);
    }
  };
  std::size_t i = 0;
  for (; i + W <= n; i += W) step(V::load(a + i), b ? V::load(b + i) : V::zero());
  if (i < n) step(load_partial<V>(a + i, n - i, T(0)), b ? load_partial<V>(b + i, n - i, T(0)) : V::zero());
  double D = acc_sum(sp), E = acc_sum(se);
  if constexpr (sizeof(T) == 8) {
    // the lanes of run, added with their errors into E
    alignas(64) T r[V::size];
    store(r, run);
    E += hsum(comp);
    D = 0;
    for (int j = 0; j < V::size; ++j) {
      const double t = D + r[j];
      E += (math::libm_fabs(D) >= math::libm_fabs(r[j])) ? (D - t) + r[j] : (r[j] - t) + D;
      D = t;
    }
  }
  hi = T(D + E);
  lo = T((D - double(hi)) + E);
}

template <class V>
inline void softmax_backward_row(const scalar_t<V>* g, const scalar_t<V>* y, scalar_t<V>* out, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  T dh, dl;
  row_dot2<V>(g, y, n, dh, dl);
  const V vh = V::set1(dh), vl = V::set1(dl);
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(out + i, V::load(y + i) * ((V::load(g + i) - vh) - vl));
  if (i < n) {
    V gv = load_partial<V>(g + i, n - i, T(0)), yv = load_partial<V>(y + i, n - i, T(0));
    store_partial(out + i, yv * ((gv - vh) - vl), n - i);
  }
}

template <class V>
inline void log_softmax_backward_row(const scalar_t<V>* g, const scalar_t<V>* y, scalar_t<V>* out, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  T sh, sl;
  row_dot2<V>(g, nullptr, n, sh, sl);
  const V vh = V::set1(sh), vl = V::set1(sl);
  auto f = [&](V gv, V yv) LOGITKIT_INLINE {
    V e = math::exp(yv);
    return mul_add(neg(e), vh, gv) - e * vl;
  };
  std::size_t i = 0;
  for (; i + W <= n; i += W) store(out + i, f(V::load(g + i), V::load(y + i)));
  if (i < n) store_partial(out + i, f(load_partial<V>(g + i, n - i, T(0)), load_partial<V>(y + i, n - i, T(0))), n - i);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
