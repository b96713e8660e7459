// Header-only mode (CMake target logitkit::headers, which defines LOGITKIT_HEADER_ONLY): the
// kernels are compiled into the including translation unit for the one ISA that its own compiler
// flags allow, instead of being chosen at run time from the compiled library. Included by api.hpp.
//
//   -mavx512f -mavx512dq -mavx512bw -mavx512vl (-march=skylake-avx512 and later)  -> avx512
//   -mavx2 -mfma (-march=haswell and later; MSVC /arch:AVX2)                       -> avx2
//   any x86-64 compiler (SSE2 is part of x86-64)                                   -> sse2
//   AArch64 (NEON is part of it)                                                   -> neon
//   anything else                                                                  -> scalar
// Define LOGITKIT_HEADER_ONLY_ISA to LOGITKIT_ISA_SCALAR (or another ISA the flags allow) to choose.
//
// Everything is in an inline namespace named after the ISA (logitkit::header_only_avx2, ...:
// simd/isa_namespace.hpp), so translation units compiled with different flags, and the compiled
// library's own ISA objects (logitkit::isa_avx2, ...), do not share a definition of one function. Give
// every translation unit flags its target machine supports; -ffast-math is refused (the kernels'
// exact steps and special values rely on IEEE arithmetic), and the target adds -ffp-contract=off for
// the same reason.
#pragma once

#if defined(__FAST_MATH__)
#error "logitkit's kernels need IEEE arithmetic: do not compile them with -ffast-math (or /fp:fast)"
#endif

#define LOGITKIT_ISA_SCALAR 0
#define LOGITKIT_ISA_SSE2 1
#define LOGITKIT_ISA_AVX2 2
#define LOGITKIT_ISA_AVX512 3
#define LOGITKIT_ISA_NEON 4

#ifndef LOGITKIT_HEADER_ONLY_ISA
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define LOGITKIT_HEADER_ONLY_ISA LOGITKIT_ISA_AVX512
#elif defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define LOGITKIT_HEADER_ONLY_ISA LOGITKIT_ISA_AVX2
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define LOGITKIT_HEADER_ONLY_ISA LOGITKIT_ISA_SSE2
#elif defined(__aarch64__) || defined(_M_ARM64)
#define LOGITKIT_HEADER_ONLY_ISA LOGITKIT_ISA_NEON
#else
#define LOGITKIT_HEADER_ONLY_ISA LOGITKIT_ISA_SCALAR
#endif
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_*), wherever it is included.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_AVX512
#define LOGITKIT_ISA_NAMESPACE header_only_avx512
#include "simd/avx512.hpp"
#define LOGITKIT_HEADER_ONLY_SIMD avx512
#define LOGITKIT_HEADER_ONLY_NAME "avx512"
#elif LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_AVX2
#define LOGITKIT_ISA_NAMESPACE header_only_avx2
#include "simd/avx2.hpp"
#define LOGITKIT_HEADER_ONLY_SIMD avx2
#define LOGITKIT_HEADER_ONLY_NAME "avx2"
#elif LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_SSE2
#define LOGITKIT_ISA_NAMESPACE header_only_sse2
#include "simd/sse2.hpp"
#define LOGITKIT_HEADER_ONLY_SIMD sse2
#define LOGITKIT_HEADER_ONLY_NAME "sse2"
#elif LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_NEON
#define LOGITKIT_ISA_NAMESPACE header_only_neon
#include "simd/neon.hpp"
#define LOGITKIT_HEADER_ONLY_SIMD neon
#define LOGITKIT_HEADER_ONLY_NAME "neon"
#elif LOGITKIT_HEADER_ONLY_ISA == LOGITKIT_ISA_SCALAR
#define LOGITKIT_ISA_NAMESPACE header_only_scalar
#include "simd/scalar.hpp"
#define LOGITKIT_HEADER_ONLY_SIMD scalar
#define LOGITKIT_HEADER_ONLY_NAME "scalar"
#else
#error "LOGITKIT_HEADER_ONLY_ISA: expected LOGITKIT_ISA_SCALAR, _SSE2, _AVX2, _AVX512 or _NEON"
#endif
// The public API's namespace in this mode (api.hpp): the ISA's own.
#define LOGITKIT_HEADER_ONLY_NAMESPACE LOGITKIT_ISA_NAMESPACE

#include "kernels/table.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
// The kernel table of this translation unit's ISA, built at first use (thread-safe).
inline const KernelTable& header_only_table() noexcept {
  static const KernelTable table =
      kernels::make_table<simd::LOGITKIT_HEADER_ONLY_SIMD::VF, simd::LOGITKIT_HEADER_ONLY_SIMD::VD>(
          LOGITKIT_HEADER_ONLY_NAME);
  return table;
}
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
