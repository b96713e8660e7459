// Instantiates every kernel for the avx512 vector types; compiled with this ISA's flags only
// (CMakeLists.txt). Nothing else belongs here. Everything it compiles lives in logitkit::isa_avx512
// (simd/isa_namespace.hpp), so no symbol of this object is shared with another ISA's.
#define LOGITKIT_ISA_NAMESPACE isa_avx512
#include "logitkit/simd/avx512.hpp"
#include "logitkit/kernels/table.hpp"

namespace logitkit::detail {
const KernelTable* table_avx512() {
  static const KernelTable table = kernels::make_table<simd::avx512::VF, simd::avx512::VD>("avx512");
  return &table;
}
}  // namespace logitkit::detail
