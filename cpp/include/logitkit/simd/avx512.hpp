// AVX-512 (F, DQ, BW, VL) vectors: 16 floats / 8 doubles, mask registers for comparisons. Compile
// only in cpp/src/kernels/avx512/. Same interface as scalar.hpp.
#pragma once
#include "isa_namespace.hpp"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace simd::avx512 {

struct MF { __mmask16 m; };
struct MD { __mmask8 m; };
struct IF { __m512i i; };
struct ID { __m512i i; };

struct VF {
  using scalar = float;
  using ivec = IF;
  using mask = MF;
  static constexpr int size = 16;
  static constexpr bool has_fma = true;
  __m512 v;
  static VF set1(float x) { return {_mm512_set1_ps(x)}; }
  static VF zero() { return {_mm512_setzero_ps()}; }
  static VF load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static VF from_bits(IF i) { return {_mm512_castsi512_ps(i.i)}; }
  // The first n < 16 lanes from p, the others `fill`; masked lanes are never read (no fault).
  static VF load_n(const float* p, std::size_t n, float fill) {
    return {_mm512_mask_loadu_ps(_mm512_set1_ps(fill), __mmask16((1u << n) - 1), p)};
  }
  static void store_n(float* p, VF a, std::size_t n) { _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), a.v); }
  // 16 float16 / bfloat16 values at p <-> floats, as kernels/convert.hpp's scalar reference converts
  // them (round to nearest even; NaN quieted, payload kept).
  static VF load_half(const std::uint16_t* p) {
    return {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))};
  }
  static void store_half(std::uint16_t* p, VF a) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(a.v, _MM_FROUND_TO_NEAREST_INT));
  }
  static VF load_bf16(const std::uint16_t* p) {
    const __m512i b = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    return {_mm512_castsi512_ps(_mm512_mask_or_epi32(b, nan, b, _mm512_set1_epi32(0x400000)))};
  }
  static void store_bf16(std::uint16_t* p, VF a) {
    const __m512i x = _mm512_castps_si512(a.v);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    const __m512i hi = _mm512_srli_epi32(x, 16);
    const __m512i odd = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), odd), 16);
    r = _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(r));
  }
};
struct VD {
  using scalar = double;
  using ivec = ID;
  using mask = MD;
  static constexpr int size = 8;
  static constexpr bool has_fma = true;
  __m512d v;
  static VD set1(double x) { return {_mm512_set1_pd(x)}; }
  static VD zero() { return {_mm512_setzero_pd()}; }
  static VD load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static VD from_bits(ID i) { return {_mm512_castsi512_pd(i.i)}; }
  static VD load_n(const double* p, std::size_t n, double fill) {
    return {_mm512_mask_loadu_pd(_mm512_set1_pd(fill), __mmask8((1u << n) - 1), p)};
  }
  static void store_n(double* p, VD a, std::size_t n) { _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1), a.v); }
};

inline void store(float* p, VF a) { _mm512_storeu_ps(p, a.v); }
inline void store(double* p, VD a) { _mm512_storeu_pd(p, a.v); }
// Non-temporal store of a whole 64-byte line: p aligned to it (kernels/common.hpp, streaming stores;
// the narrower ISAs have none: their half-line non-temporal stores measured slower in the kernels).
inline void store_stream(float* p, VF a) { _mm512_stream_ps(p, a.v); }
inline void store_stream(double* p, VD a) { _mm512_stream_pd(p, a.v); }
// Orders the non-temporal stores before every later store (the argument picks the ISA).
inline void store_stream_fence(VF) { _mm_sfence(); }
inline void store_stream_fence(VD) { _mm_sfence(); }
inline VF operator+(VF a, VF b) { return {_mm512_add_ps(a.v, b.v)}; }
inline VD operator+(VD a, VD b) { return {_mm512_add_pd(a.v, b.v)}; }
inline VF operator-(VF a, VF b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline VD operator-(VD a, VD b) { return {_mm512_sub_pd(a.v, b.v)}; }
inline VF operator*(VF a, VF b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline VD operator*(VD a, VD b) { return {_mm512_mul_pd(a.v, b.v)}; }
inline VF operator/(VF a, VF b) { return {_mm512_div_ps(a.v, b.v)}; }
inline VD operator/(VD a, VD b) { return {_mm512_div_pd(a.v, b.v)}; }
inline VF mul_add(VF a, VF b, VF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline VD mul_add(VD a, VD b, VD c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
inline VF neg_mul_add(VF a, VF b, VF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
inline VD neg_mul_add(VD a, VD b, VD c) { return {_mm512_fnmadd_pd(a.v, b.v, c.v)}; }
inline VF max(VF a, VF b) { return {_mm512_max_ps(a.v, b.v)}; }
inline VD max(VD a, VD b) { return {_mm512_max_pd(a.v, b.v)}; }
inline VF min(VF a, VF b) { return {_mm512_min_ps(a.v, b.v)}; }
inline VD min(VD a, VD b) { return {_mm512_min_pd(a.v, b.v)}; }
inline VF abs(VF a) { return {_mm512_abs_ps(a.v)}; }
inline VD abs(VD a) { return {_mm512_abs_pd(a.v)}; }
inline VF neg(VF a) { return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(int(0x80000000u))))}; }
inline VD neg(VD a) { return {_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(std::int64_t(0x8000000000000000ull))))}; }
inline VF neg_abs(VF a) { return {_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(int(0x80000000u))))}; }
inline VD neg_abs(VD a) { return {_mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(std::int64_t(0x8000000000000000ull))))}; }
// select_neg(s, a, b): a where the sign bit of s is set, else b.
inline VF select_neg(VF s, VF a, VF b) { return {_mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(s.v)), b.v, a.v)}; }
inline VD select_neg(VD s, VD a, VD b) { return {_mm512_mask_blend_pd(_mm512_movepi64_mask(_mm512_castpd_si512(s.v)), b.v, a.v)}; }
inline MF lt(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline MD lt(VD a, VD b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline MF le(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline MD le(VD a, VD b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline MF nge(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NGE_UQ)}; }
inline MD nge(VD a, VD b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_NGE_UQ)}; }
// max_bits(a, b): the lane-wise signed-integer max of the bit patterns. On nonnegative floats it is
// the float max with NaN above +inf (never dropped, unlike max_ps/max_pd).
inline VF max_bits(VF a, VF b) {
  return {_mm512_castsi512_ps(_mm512_max_epi32(_mm512_castps_si512(a.v), _mm512_castps_si512(b.v)))};
}
inline VD max_bits(VD a, VD b) {
  return {_mm512_castsi512_pd(_mm512_max_epi64(_mm512_castpd_si512(a.v), _mm512_castpd_si512(b.v)))};
}
inline MF eq(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline MD eq(VD a, VD b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline MF isnan(VF a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline MD isnan(VD a) { return {_mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline VF select(MF m, VF a, VF b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }
inline VD select(MD m, VD a, VD b) { return {_mm512_mask_blend_pd(m.m, b.v, a.v)}; }
inline VF mask_zero(MF m, VF a) { return {_mm512_maskz_mov_ps(m.m, a.v)}; }
inline VD mask_zero(MD m, VD a) { return {_mm512_maskz_mov_pd(m.m, a.v)}; }
inline MF mask_or(MF a, MF b) { return {__mmask16(a.m | b.m)}; }
inline MD mask_or(MD a, MD b) { return {__mmask8(a.m | b.m)}; }
inline MF mask_and(MF a, MF b) { return {__mmask16(a.m & b.m)}; }
inline MD mask_and(MD a, MD b) { return {__mmask8(a.m & b.m)}; }
inline MF mask_not(MF a) { return {__mmask16(~a.m)}; }
inline MD mask_not(MD a) { return {__mmask8(~a.m)}; }
inline bool any(MF m) { return m.m != 0; }
inline bool any(MD m) { return m.m != 0; }
// Lane l of a mask as bit l.
inline std::uint32_t mask_bits(MF m) { return m.m; }
inline std::uint32_t mask_bits(MD m) { return m.m; }
// a + b in the lanes of m, a elsewhere (one masked add).
inline VF mask_add(MF m, VF a, VF b) { return {_mm512_mask_add_ps(a.v, m.m, a.v, b.v)}; }
inline VD mask_add(MD m, VD a, VD b) { return {_mm512_mask_add_pd(a.v, m.m, a.v, b.v)}; }

inline float hmax(VF a) { return _mm512_reduce_max_ps(a.v); }
inline double hmax(VD a) { return _mm512_reduce_max_pd(a.v); }
inline float hmin(VF a) { return _mm512_reduce_min_ps(a.v); }
inline double hmin(VD a) { return _mm512_reduce_min_pd(a.v); }
inline double hsum(VD a) { return _mm512_reduce_add_pd(a.v); }
inline double hsum(VF a) {
  VD lo{_mm512_cvtps_pd(_mm512_castps512_ps256(a.v))};
  VD hi{_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)))};
  return hsum(lo + hi);
}

// transpose(r): r[i] lane j becomes r[j] lane i (a W x W block in registers: the short-row kernel's
// rows into lanes and back). Floats: pairs within 128-bit lanes, then 128-bit lanes across vectors.
inline void transpose(VF* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i].v, r[i + 1].v);
    t[i + 1] = _mm512_unpackhi_ps(r[i].v, r[i + 1].v);
  }
  // u[4q + c], 128-bit lane k: column 4k + c of rows 4q .. 4q + 3
  for (int q = 0; q < 16; q += 4) {
    const __m512d a = _mm512_castps_pd(t[q]), b = _mm512_castps_pd(t[q + 1]);
    const __m512d c = _mm512_castps_pd(t[q + 2]), d = _mm512_castps_pd(t[q + 3]);
    u[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int c = 0; c < 4; ++c) {  // the 4 x 4 transposition of 128-bit lanes among u[c], u[4 + c], ...
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c].v = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + c].v = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + c].v = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + c].v = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}
inline void transpose(VD* r) {
  __m512d t[8];
  // t[2i + c], 128-bit lane k: column 2k + c of rows 2i, 2i + 1
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_pd(r[i].v, r[i + 1].v);
    t[i + 1] = _mm512_unpackhi_pd(r[i].v, r[i + 1].v);
  }
  for (int c = 0; c < 2; ++c) {
    const __m512d v0 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x44), v1 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xEE);
    const __m512d v2 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x44), v3 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xEE);
    r[c].v = _mm512_shuffle_f64x2(v0, v2, 0x88);
    r[2 + c].v = _mm512_shuffle_f64x2(v0, v2, 0xDD);
    r[4 + c].v = _mm512_shuffle_f64x2(v1, v3, 0x88);
    r[6 + c].v = _mm512_shuffle_f64x2(v1, v3, 0xDD);
  }
}

// deinterleave(a, b, ev, od): of the 2W entries a then b, the even-indexed ones into ev and the odd
// ones into od, in order; interleave(ev, od, a, b) is its inverse (rows of 2 and 4 into lanes and
// back: kernels/row/short_rows.hpp).
inline void deinterleave(VF a, VF b, VF& ev, VF& od) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  ev.v = _mm512_permutex2var_ps(a.v, ie, b.v);
  od.v = _mm512_permutex2var_ps(a.v, io, b.v);
}
inline void deinterleave(VD a, VD b, VD& ev, VD& od) {
  const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), io = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  ev.v = _mm512_permutex2var_pd(a.v, ie, b.v);
  od.v = _mm512_permutex2var_pd(a.v, io, b.v);
}
inline void interleave(VF ev, VF od, VF& a, VF& b) {
  const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  a.v = _mm512_permutex2var_ps(ev.v, il, od.v);
  b.v = _mm512_permutex2var_ps(ev.v, ih, od.v);
}
inline void interleave(VD ev, VD od, VD& a, VD& b) {
  const __m512i il = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ih = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  a.v = _mm512_permutex2var_pd(ev.v, il, od.v);
  b.v = _mm512_permutex2var_pd(ev.v, ih, od.v);
}
// narrow(a, b): the float lanes a then b, each rounded to nearest.
inline VF narrow(VD a, VD b) {
  return {_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(a.v)), _mm512_cvtpd_ps(b.v), 1)};
}

inline IF bits(VF a) { return {_mm512_castps_si512(a.v)}; }
inline ID bits(VD a) { return {_mm512_castpd_si512(a.v)}; }
inline IF slli(IF a, int n) { return {_mm512_slli_epi32(a.i, unsigned(n))}; }
inline ID slli(ID a, int n) { return {_mm512_slli_epi64(a.i, unsigned(n))}; }
inline IF srli(IF a, int n) { return {_mm512_srli_epi32(a.i, unsigned(n))}; }
inline ID srli(ID a, int n) { return {_mm512_srli_epi64(a.i, unsigned(n))}; }
inline IF iadd(IF a, IF b) { return {_mm512_add_epi32(a.i, b.i)}; }
inline ID iadd(ID a, ID b) { return {_mm512_add_epi64(a.i, b.i)}; }
inline IF isub(IF a, IF b) { return {_mm512_sub_epi32(a.i, b.i)}; }
inline ID isub(ID a, ID b) { return {_mm512_sub_epi64(a.i, b.i)}; }

struct AccF {
  VD a = VD::zero(), b = VD::zero();
};
inline void acc_add(AccF& acc, VF x) {
  acc.a = acc.a + VD{_mm512_cvtps_pd(_mm512_castps512_ps256(x.v))};
  acc.b = acc.b + VD{_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x.v), 1)))};
}
// (each half converted from memory: the load takes the place of the extract's shuffle)
inline void acc_add_mem(AccF& acc, const float* p) {
  acc.a = acc.a + VD{_mm512_cvtps_pd(_mm256_loadu_ps(p))};
  acc.b = acc.b + VD{_mm512_cvtps_pd(_mm256_loadu_ps(p + 8))};
}
inline double acc_sum(const AccF& acc) { return hsum(acc.a + acc.b); }
struct AccD {
  VD a = VD::zero();
};
inline void acc_add(AccD& acc, VD x) { acc.a = acc.a + x; }
inline double acc_sum(const AccD& acc) { return hsum(acc.a); }
inline AccF acc_make(VF) { return {}; }
inline AccD acc_make(VD) { return {}; }

}  // namespace simd::avx512
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
