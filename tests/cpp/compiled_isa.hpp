// Whether this CPU can run the header-only kernels a test was compiled for (the ISA its compiler
// flags select, logitkit/header_only.hpp). The tests built with -mavx2 or -mavx512* exit with 77
// (skipped) where it cannot.
#pragma once
#include "logitkit/header_only.hpp"

inline bool cpu_has_compiled_isa() {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#if LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_AVX512
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#elif LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_AVX2
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#endif
  return true;
}
