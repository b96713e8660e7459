// Instantiates every kernel for the neon vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here. Everything it compiles lives in logitkit::isa_neon
// (simd/isa_namespace.hpp), so no symbol of this object is shared with another ISA's.
#define LOGITKIT_ISA_NAMESPACE isa_neon
#include "logitkit/simd/neon.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_neon() {
  static const KernelTable table = kernels::make_table<simd::neon::VF, simd::neon::VD>("neon");
  return &table;
}
}  // namespace logitkit::detail
