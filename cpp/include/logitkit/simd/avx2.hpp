// AVX2 + FMA vectors: 8 floats / 4 doubles. Compile only in a translation unit built with
// -mavx2 -mfma (cpp/src/kernels/avx2/). Same interface as scalar.hpp.
#pragma once
#include "isa_namespace.hpp"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace simd::avx2 {

struct MF { __m256 m; };
struct MD { __m256d m; };
struct IF { __m256i i; };
struct ID { __m256i i; };

struct VF {
  using scalar = float;
  using ivec = IF;
  using mask = MF;
  static constexpr int size = 8;
  static constexpr bool has_fma = true;
  __m256 v;
  static VF set1(float x) { return {_mm256_set1_ps(x)}; }
  static VF zero() { return {_mm256_setzero_ps()}; }
  static VF load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static VF from_bits(IF i) { return {_mm256_castsi256_ps(i.i)}; }
  // The first n < 8 lanes from p, the others `fill`; masked lanes are never read (no fault).
  static __m256i first(std::size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static VF load_n(const float* p, std::size_t n, float fill) {
    const __m256i k = first(n);
    return {_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k))};
  }
  static void store_n(float* p, VF a, std::size_t n) { _mm256_maskstore_ps(p, first(n), a.v); }
  // 8 float16 / bfloat16 values at p <-> floats, as kernels/convert.hpp's scalar reference converts
  // them (round to nearest even; NaN quieted, payload kept). float16 needs F16C (compiled with it).
#if defined(__F16C__) || defined(_MSC_VER)
  static VF load_half(const std::uint16_t* p) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))};
  }
  static void store_half(std::uint16_t* p, VF a) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(a.v, _MM_FROUND_TO_NEAREST_INT));
  }
#endif
  static VF load_bf16(const std::uint16_t* p) {
    const __m256i b = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    return {_mm256_castsi256_ps(_mm256_or_si256(b, _mm256_and_si256(nan, _mm256_set1_epi32(0x400000))))};
  }
  static void store_bf16(std::uint16_t* p, VF a) {
    const __m256i x = _mm256_castps_si256(a.v);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
    const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
  }
};
struct VD {
  using scalar = double;
  using ivec = ID;
  using mask = MD;
  static constexpr int size = 4;
  static constexpr bool has_fma = true;
  __m256d v;
  static VD set1(double x) { return {_mm256_set1_pd(x)}; }
  static VD zero() { return {_mm256_setzero_pd()}; }
  static VD load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static VD from_bits(ID i) { return {_mm256_castsi256_pd(i.i)}; }
  static __m256i first(std::size_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(std::int64_t(n)), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static VD load_n(const double* p, std::size_t n, double fill) {
    const __m256i k = first(n);
    return {_mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, k), _mm256_castsi256_pd(k))};
  }
  static void store_n(double* p, VD a, std::size_t n) { _mm256_maskstore_pd(p, first(n), a.v); }
};

inline void store(float* p, VF a) { _mm256_storeu_ps(p, a.v); }
inline void store(double* p, VD a) { _mm256_storeu_pd(p, a.v); }
inline VF operator+(VF a, VF b) { return {_mm256_add_ps(a.v, b.v)}; }
inline VD operator+(VD a, VD b) { return {_mm256_add_pd(a.v, b.v)}; }
inline VF operator-(VF a, VF b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline VD operator-(VD a, VD b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline VF operator*(VF a, VF b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline VD operator*(VD a, VD b) { return {_mm256_mul_pd(a.v, b.v)}; }
inline VF operator/(VF a, VF b) { return {_mm256_div_ps(a.v, b.v)}; }
inline VD operator/(VD a, VD b) { return {_mm256_div_pd(a.v, b.v)}; }
inline VF mul_add(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline VD mul_add(VD a, VD b, VD c) { return {_mm256_fmadd_pd(a.v, b.v, c.v)}; }
inline VF neg_mul_add(VF a, VF b, VF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
inline VD neg_mul_add(VD a, VD b, VD c) { return {_mm256_fnmadd_pd(a.v, b.v, c.v)}; }
inline VF max(VF a, VF b) { return {_mm256_max_ps(a.v, b.v)}; }
inline VD max(VD a, VD b) { return {_mm256_max_pd(a.v, b.v)}; }
inline VF min(VF a, VF b) { return {_mm256_min_ps(a.v, b.v)}; }
inline VD min(VD a, VD b) { return {_mm256_min_pd(a.v, b.v)}; }
inline VF abs(VF a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline VD abs(VD a) { return {_mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v)}; }
inline VF neg_abs(VF a) { return {_mm256_or_ps(a.v, _mm256_set1_ps(-0.0f))}; }
inline VD neg_abs(VD a) { return {_mm256_or_pd(a.v, _mm256_set1_pd(-0.0))}; }
// select_neg(s, a, b): a where the sign bit of s is set, else b (blendv reads the sign bit).
inline VF select_neg(VF s, VF a, VF b) { return {_mm256_blendv_ps(b.v, a.v, s.v)}; }
inline VD select_neg(VD s, VD a, VD b) { return {_mm256_blendv_pd(b.v, a.v, s.v)}; }
inline MF lt(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline MD lt(VD a, VD b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
inline MF le(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline MD le(VD a, VD b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
// nge(a, b): !(a >= b), true where a < b or either is NaN (the range checks' predicate: a NaN lane
// takes the lane-exact path, never hides another lane's value).
inline MF nge(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NGE_UQ)}; }
inline MD nge(VD a, VD b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_NGE_UQ)}; }
// max_bits(a, b): the lane-wise signed-integer max of the bit patterns. On nonnegative floats it is
// the float max with NaN above +inf (never dropped, unlike max_ps). Floats only: AVX2 has no 64-bit max.
inline VF max_bits(VF a, VF b) {
  return {_mm256_castsi256_ps(_mm256_max_epi32(_mm256_castps_si256(a.v), _mm256_castps_si256(b.v)))};
}
inline MF eq(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline MD eq(VD a, VD b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
inline MF isnan(VF a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline MD isnan(VD a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }
inline VF select(MF m, VF a, VF b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
inline VD select(MD m, VD a, VD b) { return {_mm256_blendv_pd(b.v, a.v, m.m)}; }
inline VF neg(VF a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
inline VD neg(VD a) { return {_mm256_xor_pd(a.v, _mm256_set1_pd(-0.0))}; }
inline VF mask_zero(MF m, VF a) { return {_mm256_and_ps(m.m, a.v)}; }
inline VD mask_zero(MD m, VD a) { return {_mm256_and_pd(m.m, a.v)}; }
inline MF mask_or(MF a, MF b) { return {_mm256_or_ps(a.m, b.m)}; }
inline MD mask_or(MD a, MD b) { return {_mm256_or_pd(a.m, b.m)}; }
inline MF mask_and(MF a, MF b) { return {_mm256_and_ps(a.m, b.m)}; }
inline MD mask_and(MD a, MD b) { return {_mm256_and_pd(a.m, b.m)}; }
inline MF mask_not(MF a) { return {_mm256_xor_ps(a.m, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))}; }
inline MD mask_not(MD a) { return {_mm256_xor_pd(a.m, _mm256_castsi256_pd(_mm256_set1_epi32(-1)))}; }
inline bool any(MF m) { return _mm256_movemask_ps(m.m) != 0; }
inline bool any(MD m) { return _mm256_movemask_pd(m.m) != 0; }
// Lane l of a mask as bit l.
inline std::uint32_t mask_bits(MF m) { return std::uint32_t(_mm256_movemask_ps(m.m)); }
inline std::uint32_t mask_bits(MD m) { return std::uint32_t(_mm256_movemask_pd(m.m)); }

inline float hmax(VF a) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}
inline double hmax(VD a) {
  __m128d x = _mm_max_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  x = _mm_max_sd(x, _mm_unpackhi_pd(x, x));
  return _mm_cvtsd_f64(x);
}
inline float hmin(VF a) {
  __m128 x = _mm_min_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  x = _mm_min_ps(x, _mm_movehl_ps(x, x));
  x = _mm_min_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}
inline double hmin(VD a) {
  __m128d x = _mm_min_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  x = _mm_min_sd(x, _mm_unpackhi_pd(x, x));
  return _mm_cvtsd_f64(x);
}
inline double hsum(VD a) {
  __m128d x = _mm_add_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  x = _mm_add_sd(x, _mm_unpackhi_pd(x, x));
  return _mm_cvtsd_f64(x);
}
inline double hsum(VF a) {
  VD lo{_mm256_cvtps_pd(_mm256_castps256_ps128(a.v))};
  VD hi{_mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1))};
  return hsum(lo + hi);
}

// transpose(r): r[i] lane j becomes r[j] lane i (a W x W block in registers: the short-row kernel's
// rows into lanes and back). Pairs within 128-bit lanes, then the 128-bit halves across vectors.
inline void transpose(VF* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i].v, r[i + 1].v);
    t[i + 1] = _mm256_unpackhi_ps(r[i].v, r[i + 1].v);
  }
  // u[4q + c], 128-bit half k: column 4k + c of rows 4q .. 4q + 3
  for (int q = 0; q < 8; q += 4) {
    const __m256d a = _mm256_castps_pd(t[q]), b = _mm256_castps_pd(t[q + 1]);
    const __m256d c = _mm256_castps_pd(t[q + 2]), d = _mm256_castps_pd(t[q + 3]);
    u[q] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, c));
    u[q + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, c));
    u[q + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, d));
    u[q + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, d));
  }
  for (int c = 0; c < 4; ++c) {
    r[c].v = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c].v = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}
inline void transpose(VD* r) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0].v, r[1].v), t1 = _mm256_unpackhi_pd(r[0].v, r[1].v);
  const __m256d t2 = _mm256_unpacklo_pd(r[2].v, r[3].v), t3 = _mm256_unpackhi_pd(r[2].v, r[3].v);
  r[0].v = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1].v = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2].v = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3].v = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// deinterleave(a, b, ev, od): of the 2W entries a then b, the even-indexed ones into ev and the odd
// ones into od, in order; interleave(ev, od, a, b) is its inverse (rows of 2 and 4 into lanes and
// back: kernels/row/short_rows.hpp).
// (The in-lane shuffles leave 64-bit quarters in the order 0, 2, 1, 3; one permute restores it.)
inline void deinterleave(VF a, VF b, VF& ev, VF& od) {
  ev.v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a.v, b.v, 0x88)), 0xD8));
  od.v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a.v, b.v, 0xDD)), 0xD8));
}
inline void deinterleave(VD a, VD b, VD& ev, VD& od) {
  ev.v = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a.v, b.v), 0xD8);
  od.v = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a.v, b.v), 0xD8);
}
inline void interleave(VF ev, VF od, VF& a, VF& b) {
  const __m256 lo = _mm256_unpacklo_ps(ev.v, od.v), hi = _mm256_unpackhi_ps(ev.v, od.v);
  a.v = _mm256_permute2f128_ps(lo, hi, 0x20);
  b.v = _mm256_permute2f128_ps(lo, hi, 0x31);
}
inline void interleave(VD ev, VD od, VD& a, VD& b) {
  const __m256d lo = _mm256_unpacklo_pd(ev.v, od.v), hi = _mm256_unpackhi_pd(ev.v, od.v);
  a.v = _mm256_permute2f128_pd(lo, hi, 0x20);
  b.v = _mm256_permute2f128_pd(lo, hi, 0x31);
}
// narrow(a, b): the float lanes a then b, each rounded to nearest.
inline VF narrow(VD a, VD b) {
  return {_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(a.v)), _mm256_cvtpd_ps(b.v), 1)};
}

inline IF bits(VF a) { return {_mm256_castps_si256(a.v)}; }
inline ID bits(VD a) { return {_mm256_castpd_si256(a.v)}; }
inline IF slli(IF a, int n) { return {_mm256_slli_epi32(a.i, n)}; }
inline ID slli(ID a, int n) { return {_mm256_slli_epi64(a.i, n)}; }
inline IF srli(IF a, int n) { return {_mm256_srli_epi32(a.i, n)}; }
inline ID srli(ID a, int n) { return {_mm256_srli_epi64(a.i, n)}; }
inline IF iadd(IF a, IF b) { return {_mm256_add_epi32(a.i, b.i)}; }
inline ID iadd(ID a, ID b) { return {_mm256_add_epi64(a.i, b.i)}; }
inline IF isub(IF a, IF b) { return {_mm256_sub_epi32(a.i, b.i)}; }
inline ID isub(ID a, ID b) { return {_mm256_sub_epi64(a.i, b.i)}; }

// Sums of float lanes are kept in double (docs/numerics.md, "Max-relative sum", step 3).
struct AccF {
  VD a = VD::zero(), b = VD::zero();
};
inline void acc_add(AccF& acc, VF x) {
  acc.a = acc.a + VD{_mm256_cvtps_pd(_mm256_castps256_ps128(x.v))};
  acc.b = acc.b + VD{_mm256_cvtps_pd(_mm256_extractf128_ps(x.v, 1))};
}
// (each half converted from memory: the load takes the place of the extract's shuffle)
inline void acc_add_mem(AccF& acc, const float* p) {
  acc.a = acc.a + VD{_mm256_cvtps_pd(_mm_loadu_ps(p))};
  acc.b = acc.b + VD{_mm256_cvtps_pd(_mm_loadu_ps(p + 4))};
}
inline double acc_sum(const AccF& acc) { return hsum(acc.a + acc.b); }
struct AccD {
  VD a = VD::zero();
};
inline void acc_add(AccD& acc, VD x) { acc.a = acc.a + x; }
inline double acc_sum(const AccD& acc) { return hsum(acc.a); }

inline AccF acc_make(VF) { return {}; }
inline AccD acc_make(VD) { return {}; }

}  // namespace simd::avx2
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
