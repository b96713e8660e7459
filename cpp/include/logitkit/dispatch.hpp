// Runtime dispatch: one table of kernel entry points per compiled ISA; the best one this CPU
// supports is chosen once, at first use (or the one named by LOGITKIT_SIMD / set_simd_target).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/list.hpp"

namespace logitkit {

// One field per entry of the kernel list (kernels/list.hpp), of the type its kind gives; a row
// kind also has the field name_rows (a block of contiguous rows).
template <class T>
struct TypedKernels {
#define LOGITKIT_FIELD(name, ...) kernel_types::unary<T> name;
#define LOGITKIT_FIELD_BINARY(name, ...) kernel_types::binary<T> name;
#define LOGITKIT_FIELD_ROW(name, ...) \
  kernel_types::row<T> name;          \
  kernel_types::rows<T> name##_rows;
#define LOGITKIT_FIELD_REDUCE(name, ...) \
  kernel_types::reduce<T> name;          \
  kernel_types::reduce_rows<T> name##_rows;
#define LOGITKIT_FIELD_ROW_BINARY(name, ...) kernel_types::row_binary<T> name;
#define LOGITKIT_FIELD_LOSS(name, ...) kernel_types::name<T> name;
#define LOGITKIT_FIELD_SELECT(name, ...) kernel_types::name<T> name;
  LOGITKIT_KERNEL_LIST(LOGITKIT_FIELD, LOGITKIT_FIELD_BINARY, LOGITKIT_FIELD_ROW, LOGITKIT_FIELD_REDUCE,
                       LOGITKIT_FIELD_ROW_BINARY, LOGITKIT_FIELD_LOSS, LOGITKIT_FIELD, LOGITKIT_FIELD_SELECT)
#undef LOGITKIT_FIELD
#undef LOGITKIT_FIELD_BINARY
#undef LOGITKIT_FIELD_ROW
#undef LOGITKIT_FIELD_REDUCE
#undef LOGITKIT_FIELD_ROW_BINARY
#undef LOGITKIT_FIELD_LOSS
#undef LOGITKIT_FIELD_SELECT
};

// float16 and bfloat16 storage <-> float32 (kernels/convert.hpp): n elements of 16-bit storage at
// a byte stride, to or from n contiguous floats. Not kernels of the list: the bindings' float16 and
// bfloat16 loops convert with them around the float32 kernels.
struct Conversions {
  void (*half_to_float)(const void* in, std::ptrdiff_t stride, float* out, std::size_t n);
  void (*float_to_half)(const float* in, void* out, std::ptrdiff_t stride, std::size_t n);
  void (*bf16_to_float)(const void* in, std::ptrdiff_t stride, float* out, std::size_t n);
  void (*float_to_bf16)(const float* in, void* out, std::ptrdiff_t stride, std::size_t n);
};

struct KernelTable {
  const char* name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  Conversions convert;
  template <class T> const TypedKernels<T>& get() const;
};
template <> inline const TypedKernels<float>& KernelTable::get<float>() const { return f32; }
template <> inline const TypedKernels<double>& KernelTable::get<double>() const { return f64; }

// The table in use. Thread-safe; the first call reads LOGITKIT_SIMD.
const KernelTable& active_kernels();
// Name of the ISA in use: "scalar", "sse2", "avx2", "avx512" or "neon".
const char* simd_target();
// ISAs compiled into this build that this CPU supports, lowest first.
std::vector<std::string> simd_targets_available();
// ISAs compiled into this build, lowest first.
std::vector<std::string> simd_targets_compiled();
// Switch to the named ISA. Returns false and fills *error when it is unknown, not compiled, or not
// supported by this CPU.
bool set_simd_target(const std::string& name, std::string* error);
// Non-empty when LOGITKIT_SIMD named an ISA that cannot be used (the best one is used instead).
const std::string& simd_env_error();

namespace detail {
const KernelTable* table_scalar();
const KernelTable* table_sse2();
const KernelTable* table_avx2();
const KernelTable* table_avx512();
const KernelTable* table_neon();
}  // namespace detail

}  // namespace logitkit
