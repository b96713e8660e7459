// Builds the dispatch table of one ISA from the kernel templates. Included only by the per-ISA
// translation units in cpp/src/kernels/<isa>/.
#pragma once
#include "../dispatch.hpp"
#include "activations.hpp"
#include "backward.hpp"
#include "losses.hpp"
#include "softmax.hpp"

namespace logitkit::kernels {

template <class V>
TypedKernels<scalar_t<V>> make_typed_kernels() {
  TypedKernels<scalar_t<V>> t{};
  t.sigmoid = &sigmoid<V>;
  t.log_sigmoid = &log_sigmoid<V>;
  t.softplus = &softplus<V>;
  t.sigmoid_backward = &sigmoid_backward<V>;
  t.log_sigmoid_backward = &log_sigmoid_backward<V>;
  t.softmax = &softmax_row<V>;
  t.log_softmax = &log_softmax_row<V>;
  t.logsumexp = &logsumexp_row<V>;
  t.log_softmax_rows = &log_softmax_rows<V>;
  t.softmax_rows = &softmax_rows<V>;
  t.logsumexp_rows = &logsumexp_rows<V>;
  t.softmax_backward = &softmax_backward_row<V>;
  t.log_softmax_backward = &log_softmax_backward_row<V>;
  t.cross_entropy_hard = &ce_hard_row<V>;
  t.cross_entropy_soft = &ce_soft_row<V>;
  t.bce_with_logits = &bce<V>;
  t.exp = [](const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
    map_unary<V>(x, y, n, [](V a) { return math::exp(a); });
  };
  t.log1p_unit = [](const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
    map_unary<V>(x, y, n, [](V a) { return math::log1p_unit(a); });
  };
  return t;
}

template <class VF, class VD>
KernelTable make_table(const char* name) {
  return KernelTable{name, make_typed_kernels<VF>(), make_typed_kernels<VD>()};
}

}  // namespace logitkit::kernels
