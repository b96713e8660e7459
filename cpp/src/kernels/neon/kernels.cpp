// Instantiates every kernel for the neon vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here.
#include "logitkit/simd/neon.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_neon() {
  static const KernelTable table = kernels::make_table<simd::neon::VF, simd::neon::VD>("neon");
  return &table;
}
}  // namespace logitkit::detail
