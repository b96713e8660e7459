// Instantiates every kernel for the scalar vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here.
#include "logitkit/simd/scalar.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_scalar() {
  static const KernelTable table = kernels::make_table<simd::scalar::VF, simd::scalar::VD>("scalar");
  return &table;
}
}  // namespace logitkit::detail
