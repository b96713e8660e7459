// Instantiates every kernel for the sse2 vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here. Everything it compiles lives in logitkit::isa_sse2
// (simd/isa_namespace.hpp), so no symbol of this object is shared with another ISA's.
#define LOGITKIT_ISA_NAMESPACE isa_sse2
#include "logitkit/simd/sse2.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_sse2() {
  static const KernelTable table = kernels::make_table<simd::sse2::VF, simd::sse2::VD>("sse2");
  return &table;
}
}  // namespace logitkit::detail
