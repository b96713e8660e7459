// float16 and bfloat16 storage <-> float32, the conversions of the ufuncs' float16 and bfloat16 loops
// (cpp/bindings/ufunc_util.hpp gather/scatter), which compute in float32 a block of rows at a time.
//
// Each is one loop over n elements at a byte stride: contiguous runs take the ISA's vector
// conversion where it has one (V::load_half / store_half: F16C on AVX2, AVX-512F, NEON's FCVT;
// V::load_bf16 / store_bf16: integer shifts) and ask for the memory a few KB ahead (a batch of
// contiguous rows is converted row by row: the next rows' cache misses overlap this row's work);
// the rest and every tail take the scalar reference below. Both give the same bits for every input (tests/cpp/test_kernels.cpp, test_conversions):
//   widening is exact; a NaN stays NaN with its payload, quieted;
//   narrowing rounds to nearest even (float16: subnormal results, and overflow to infinity at
//   65520, as IEEE rounding gives); a NaN stays NaN, quieted, with the top bits of its payload.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// ---------------------------------------------------------------- scalar reference
inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u);  // a NaN comes out quiet
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal half: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline std::uint16_t float_to_half_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return std::uint16_t(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN, quiet
  if (ax >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // rounds to >= 65520 (or inf): inf
  if (ax < 0x38800000u) {                                         // below 2^-14: subnormal half or 0
    // |f| in units of the smallest subnormal half, 2^-24: its integer part and the rest, rounded to
    // even (integer arithmetic: no floating-point rounding mode or flush-to-zero involved)
    const std::uint32_t e = ax >> 23;
    if (e < 102) return sign;  // below 2^-25: rounds to 0
    const std::uint32_t m = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;  // value = m·2^(e-150)
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return std::uint16_t(sign | r);
  }
  std::uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
  return std::uint16_t(sign | r);
}
// bfloat16: the upper 16 bits of a float32.
inline float bf16_bits_to_float(std::uint16_t h) {
  std::uint32_t bits = std::uint32_t(h) << 16;
  if ((bits & 0x7fffffffu) > 0x7f800000u) bits |= 0x400000u;  // a NaN comes out quiet
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
// Round to nearest even; NaN stays NaN, quieted, sign kept (truncating a NaN whose payload lies in
// the low half only would give an infinity); overflow rounds to an infinity as IEEE rounding does.
inline std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x0040u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return std::uint16_t(x >> 16);
}

// Whether V converts a vector of float16 / bfloat16 at a time.
template <class V, class = void> struct has_half_convert : std::false_type {};
template <class V>
struct has_half_convert<V, std::void_t<decltype(V::load_half(nullptr))>> : std::true_type {};
template <class V, class = void> struct has_bf16_convert : std::false_type {};
template <class V>
struct has_bf16_convert<V, std::void_t<decltype(V::load_bf16(nullptr))>> : std::true_type {};

// n elements of 16-bit storage at byte stride `stride` -> out[0..n); BF16 picks the format.
template <class V, bool BF16>
inline void widen_16(const void* in, std::ptrdiff_t stride, float* out, std::size_t n) {
  const char* p = static_cast<const char*>(in);
  std::size_t i = 0;
  constexpr bool vec = BF16 ? has_bf16_convert<V>::value : has_half_convert<V>::value;
  if constexpr (vec) {
    if (stride == 2) {
      const std::uint16_t* s = static_cast<const std::uint16_t*>(in);
      for (; i + V::size <= n; i += V::size) {
        prefetch_read<V>(reinterpret_cast<const float*>(s + i), prefetch_ahead);  // the next rows
        if constexpr (BF16) store(out + i, V::load_bf16(s + i));
        else store(out + i, V::load_half(s + i));
      }
    }
  }
  for (; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, p + std::ptrdiff_t(i) * stride, 2);
    out[i] = BF16 ? bf16_bits_to_float(h) : half_bits_to_float(h);
  }
}
// in[0..n) -> n elements of 16-bit storage at byte stride `stride`.
template <class V, bool BF16>
inline void narrow_16(const float* in, void* out, std::ptrdiff_t stride, std::size_t n) {
  char* p = static_cast<char*>(out);
  std::size_t i = 0;
  constexpr bool vec = BF16 ? has_bf16_convert<V>::value : has_half_convert<V>::value;
  if constexpr (vec) {
    if (stride == 2) {
      std::uint16_t* d = static_cast<std::uint16_t*>(out);
      for (; i + V::size <= n; i += V::size) {
        prefetch_write<V>(reinterpret_cast<float*>(d + i), prefetch_ahead);
        if constexpr (BF16) V::store_bf16(d + i, V::load(in + i));
        else V::store_half(d + i, V::load(in + i));
      }
    }
  }
  for (; i < n; ++i) {
    const std::uint16_t h = BF16 ? float_to_bf16_bits(in[i]) : float_to_half_bits(in[i]);
    std::memcpy(p + std::ptrdiff_t(i) * stride, &h, 2);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
