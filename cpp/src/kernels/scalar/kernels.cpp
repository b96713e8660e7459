// Instantiates every kernel for the scalar vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here. Everything it compiles lives in logitkit::isa_scalar
// (simd/isa_namespace.hpp), so no symbol of this object is shared with another ISA's.
#define LOGITKIT_ISA_NAMESPACE isa_scalar
#include "logitkit/simd/scalar.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_scalar() {
  static const KernelTable table = kernels::make_table<simd::scalar::VF, simd::scalar::VD>("scalar");
  return &table;
}
}  // namespace logitkit::detail
