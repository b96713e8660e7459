// Builds the dispatch table of one ISA from the kernel templates. Included only by the per-ISA
// translation units in cpp/src/kernels/<isa>/.
#pragma once
#include "../dispatch.hpp"
#include "list.hpp"
#include "activations.hpp"
#include "backward.hpp"
#include "binary_divergence.hpp"
#include "convert.hpp"
#include "distillation.hpp"
#include "divergence.hpp"
#include "loss/ce_rows.hpp"
#include "losses.hpp"
#include "sample.hpp"
#include "softmax.hpp"
#include "top_k.hpp"

namespace logitkit::kernels {

// One ISA's table for element type scalar_t<V>: each field bound to the kernel template its list
// entry names (kernels/list.hpp), instantiated for V.
template <class V>
TypedKernels<scalar_t<V>> make_typed_kernels() {
  using T = scalar_t<V>;
  TypedKernels<T> t{};
#define LOGITKIT_BIND(name, kernel, ...) t.name = &kernel<V>;
#define LOGITKIT_BIND_ROWS(name, row_kernel, rows_kernel, ...) \
  t.name = &row_kernel<V>;                                     \
  t.name##_rows = &rows_kernel<V>;
#define LOGITKIT_BIND_INTERNAL(name, math_fn, doc) \
  t.name = [](const T* x, T* y, std::size_t n) { map_unary<V>(x, y, n, [](V a) { return math::math_fn(a); }); };
  LOGITKIT_KERNEL_LIST(LOGITKIT_BIND, LOGITKIT_BIND, LOGITKIT_BIND_ROWS, LOGITKIT_BIND_ROWS, LOGITKIT_BIND,
                       LOGITKIT_BIND, LOGITKIT_BIND_INTERNAL, LOGITKIT_BIND)
#undef LOGITKIT_BIND
#undef LOGITKIT_BIND_ROWS
#undef LOGITKIT_BIND_INTERNAL
  return t;
}

template <class VF, class VD>
KernelTable make_table(const char* name) {
  const Conversions convert{&widen_16<VF, false>, &narrow_16<VF, false>, &widen_16<VF, true>, &narrow_16<VF, true>};
  return KernelTable{name, make_typed_kernels<VF>(), make_typed_kernels<VD>(), convert};
}

}  // namespace logitkit::kernels
