// Instantiates every kernel for the avx2 vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here. Everything it compiles lives in logitkit::isa_avx2
// (simd/isa_namespace.hpp), so no symbol of this object is shared with another ISA's.
#define LOGITKIT_ISA_NAMESPACE isa_avx2
#include "logitkit/simd/avx2.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_avx2() {
  static const KernelTable table = kernels::make_table<simd::avx2::VF, simd::avx2::VD>("avx2");
  return &table;
}
}  // namespace logitkit::detail
