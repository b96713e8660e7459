// Backward rules of the row-wise functions, one contiguous row at a time (numerics.md):
//   softmax:     grad_in = y ⊙ (g - Σ g⊙y)      (y = softmax(x))
//   log_softmax: grad_in = g - exp(y)·Σ g        (y = log_softmax(x))
// The row sums are accumulated in double (float lanes widened), so the only error left is the
// cancellation inherent in g - Σ, at most one rounding of each operand.
#pragma once
#include <cstddef>

#include "../math/exp.hpp"
#include "common.hpp"

namespace logitkit::kernels {

template <class V>
inline void softmax_backward_row(const scalar_t<V>* g, const scalar_t<V>* y, scalar_t<V>* out, std::size_t n) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  Acc acc;
  std::size_t i = 0;
  for (; i + W <= n; i += W) acc_add(acc, V::load(g + i) * V::load(y + i));
  double dot = acc_sum(acc);
  for (; i < n; ++i) dot += double(g[i]) * double(y[i]);
  const V vdot = V::set1(T(dot));
  i = 0;
  for (; i + W <= n; i += W) store(out + i, V::load(y + i) * (V::load(g + i) - vdot));
  for (; i < n; ++i) out[i] = y[i] * (g[i] - T(dot));
}

template <class V>
inline void log_softmax_backward_row(const scalar_t<V>* g, const scalar_t<V>* y, scalar_t<V>* out, std::size_t n) {
  using T = scalar_t<V>;
  using Acc = decltype(acc_make(V::zero()));
  constexpr std::size_t W = V::size;
  Acc acc;
  std::size_t i = 0;
  for (; i + W <= n; i += W) acc_add(acc, V::load(g + i));
  double sum = acc_sum(acc);
  for (; i < n; ++i) sum += double(g[i]);
  const V vsum = V::set1(T(sum));
  i = 0;
  for (; i + W <= n; i += W) store(out + i, V::load(g + i) - math::exp(V::load(y + i)) * vsum);
  if (i < n) {
    V gv = load_partial<V>(g + i, n - i, T(0)), yv = load_partial<V>(y + i, n - i, T(0));
    store_partial(out + i, gv - math::exp(yv) * vsum, n - i);
  }
}

}  // namespace logitkit::kernels
