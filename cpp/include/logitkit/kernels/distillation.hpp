// Knowledge distillation (Hinton et al., 2015) of one row, fused with its gradient:
//   loss = a_kl·KL(softmax(t/T) ‖ softmax(s/T)) + a_ce·CE(s, label),
// s the student's logits, t the teacher's, a_kl = α·T²·(the reduction's factor of the KL term),
// a_ce = (1 - α)·(that of the cross-entropy, at temperature 1). The gradient with respect to s is
// a_kl·(Q - P)/T + a_ce·(softmax(s) - onehot(label)) (label smoothing eps: the smoothed target),
// from the KL kernel (kernels/divergence.hpp, its gradient written into grad) and the hard-label
// cross-entropy kernel (kernels/losses.hpp, its gradient into the caller's scratch row, then added):
// no temporary beyond one row. A label < 0 is an ignored row: the KL term alone. Each term is exact
// to its own kernel's bound; the sum is rounded once.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "divergence.hpp"
#include "losses.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

template <class V>
inline scalar_t<V> distillation_row(const scalar_t<V>* s, const scalar_t<V>* t, std::size_t n, std::int64_t label,
                                    scalar_t<V> a_kl, scalar_t<V> a_ce, scalar_t<V> eps, scalar_t<V>* grad,
                                    scalar_t<V>* scratch, double temp) {
  using T = scalar_t<V>;
  // the cross-entropy first (its gradient into scratch): the KL kernel may then write its gradient
  // over s (it reads each chunk of s before writing that chunk's gradient)
  const bool ce = a_ce != T(0) && label >= 0;
  double loss = 0;
  if (ce) loss += double(a_ce) * double(ce_hard_row<V>(s, n, label, nullptr, T(n), eps, a_ce, grad ? scratch : nullptr));
  if (a_kl != T(0)) {
    loss += double(a_kl) * double(kl_row<V>(t, s, n, a_kl, grad, temp));
  } else if (grad) {
    for (std::size_t i = 0; i < n; ++i) grad[i] = T(0);
  }
  if (ce && grad) {
    constexpr std::size_t W = V::size;
    std::size_t i = 0;
    for (; i + W <= n; i += W) store(grad + i, V::load(grad + i) + V::load(scratch + i));
    for (; i < n; ++i) grad[i] += scratch[i];
  }
  return T(loss);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
