// SSE2 vectors (the x86-64 baseline): 4 floats / 2 doubles, no FMA. Same interface as scalar.hpp.
#pragma once
#include "isa_namespace.hpp"
#include <emmintrin.h>

#include <cstdint>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace simd::sse2 {

struct MF { __m128 m; };
struct MD { __m128d m; };
struct IF { __m128i i; };
struct ID { __m128i i; };

struct VF {
  using scalar = float;
  using ivec = IF;
  using mask = MF;
  static constexpr int size = 4;
  static constexpr bool has_fma = false;
  __m128 v;
  static VF set1(float x) { return {_mm_set1_ps(x)}; }
  static VF zero() { return {_mm_setzero_ps()}; }
  static VF load(const float* p) { return {_mm_loadu_ps(p)}; }
  static VF from_bits(IF i) { return {_mm_castsi128_ps(i.i)}; }
};
struct VD {
  using scalar = double;
  using ivec = ID;
  using mask = MD;
  static constexpr int size = 2;
  static constexpr bool has_fma = false;
  __m128d v;
  static VD set1(double x) { return {_mm_set1_pd(x)}; }
  static VD zero() { return {_mm_setzero_pd()}; }
  static VD load(const double* p) { return {_mm_loadu_pd(p)}; }
  static VD from_bits(ID i) { return {_mm_castsi128_pd(i.i)}; }
};

inline void store(float* p, VF a) { _mm_storeu_ps(p, a.v); }
inline void store(double* p, VD a) { _mm_storeu_pd(p, a.v); }
inline VF operator+(VF a, VF b) { return {_mm_add_ps(a.v, b.v)}; }
inline VD operator+(VD a, VD b) { return {_mm_add_pd(a.v, b.v)}; }
inline VF operator-(VF a, VF b) { return {_mm_sub_ps(a.v, b.v)}; }
inline VD operator-(VD a, VD b) { return {_mm_sub_pd(a.v, b.v)}; }
inline VF operator*(VF a, VF b) { return {_mm_mul_ps(a.v, b.v)}; }
inline VD operator*(VD a, VD b) { return {_mm_mul_pd(a.v, b.v)}; }
inline VF operator/(VF a, VF b) { return {_mm_div_ps(a.v, b.v)}; }
inline VD operator/(VD a, VD b) { return {_mm_div_pd(a.v, b.v)}; }
// No FMA on SSE2: rounded twice; polynomial use only.
inline VF mul_add(VF a, VF b, VF c) { return a * b + c; }
inline VD mul_add(VD a, VD b, VD c) { return a * b + c; }
inline VF neg_mul_add(VF a, VF b, VF c) { return c - a * b; }
inline VD neg_mul_add(VD a, VD b, VD c) { return c - a * b; }
inline VF max(VF a, VF b) { return {_mm_max_ps(a.v, b.v)}; }
inline VD max(VD a, VD b) { return {_mm_max_pd(a.v, b.v)}; }
inline VF min(VF a, VF b) { return {_mm_min_ps(a.v, b.v)}; }
inline VD min(VD a, VD b) { return {_mm_min_pd(a.v, b.v)}; }
inline VF abs(VF a) { return {_mm_andnot_ps(_mm_set1_ps(-0.0f), a.v)}; }
inline VD abs(VD a) { return {_mm_andnot_pd(_mm_set1_pd(-0.0), a.v)}; }
inline VF neg_abs(VF a) { return {_mm_or_ps(a.v, _mm_set1_ps(-0.0f))}; }
inline VD neg_abs(VD a) { return {_mm_or_pd(a.v, _mm_set1_pd(-0.0))}; }
inline MF lt(VF a, VF b) { return {_mm_cmplt_ps(a.v, b.v)}; }
inline MD lt(VD a, VD b) { return {_mm_cmplt_pd(a.v, b.v)}; }
inline MF le(VF a, VF b) { return {_mm_cmple_ps(a.v, b.v)}; }
inline MD le(VD a, VD b) { return {_mm_cmple_pd(a.v, b.v)}; }
inline MF nge(VF a, VF b) { return {_mm_cmpnge_ps(a.v, b.v)}; }
inline MD nge(VD a, VD b) { return {_mm_cmpnge_pd(a.v, b.v)}; }
inline MF eq(VF a, VF b) { return {_mm_cmpeq_ps(a.v, b.v)}; }
inline MD eq(VD a, VD b) { return {_mm_cmpeq_pd(a.v, b.v)}; }
inline MF isnan(VF a) { return {_mm_cmpunord_ps(a.v, a.v)}; }
inline MD isnan(VD a) { return {_mm_cmpunord_pd(a.v, a.v)}; }
inline VF select(MF m, VF a, VF b) { return {_mm_or_ps(_mm_and_ps(m.m, a.v), _mm_andnot_ps(m.m, b.v))}; }
inline VD select(MD m, VD a, VD b) { return {_mm_or_pd(_mm_and_pd(m.m, a.v), _mm_andnot_pd(m.m, b.v))}; }
// select_neg(s, a, b): a where the sign bit of s is set, else b.
inline VF select_neg(VF s, VF a, VF b) { return select(MF{_mm_castsi128_ps(_mm_srai_epi32(_mm_castps_si128(s.v), 31))}, a, b); }
inline VD select_neg(VD s, VD a, VD b) {
  const __m128i hi = _mm_srai_epi32(_mm_castpd_si128(s.v), 31);
  return select(MD{_mm_castsi128_pd(_mm_shuffle_epi32(hi, _MM_SHUFFLE(3, 3, 1, 1)))}, a, b);
}
inline VF neg(VF a) { return {_mm_xor_ps(a.v, _mm_set1_ps(-0.0f))}; }
inline VD neg(VD a) { return {_mm_xor_pd(a.v, _mm_set1_pd(-0.0))}; }
inline VF mask_zero(MF m, VF a) { return {_mm_and_ps(m.m, a.v)}; }
inline VD mask_zero(MD m, VD a) { return {_mm_and_pd(m.m, a.v)}; }
inline MF mask_or(MF a, MF b) { return {_mm_or_ps(a.m, b.m)}; }
inline MD mask_or(MD a, MD b) { return {_mm_or_pd(a.m, b.m)}; }
inline MF mask_and(MF a, MF b) { return {_mm_and_ps(a.m, b.m)}; }
inline MD mask_and(MD a, MD b) { return {_mm_and_pd(a.m, b.m)}; }
inline MF mask_not(MF a) { return {_mm_xor_ps(a.m, _mm_castsi128_ps(_mm_set1_epi32(-1)))}; }
inline MD mask_not(MD a) { return {_mm_xor_pd(a.m, _mm_castsi128_pd(_mm_set1_epi32(-1)))}; }
inline bool any(MF m) { return _mm_movemask_ps(m.m) != 0; }
inline bool any(MD m) { return _mm_movemask_pd(m.m) != 0; }
// Lane l of a mask as bit l.
inline std::uint32_t mask_bits(MF m) { return std::uint32_t(_mm_movemask_ps(m.m)); }
inline std::uint32_t mask_bits(MD m) { return std::uint32_t(_mm_movemask_pd(m.m)); }

inline float hmax(VF a) {
  __m128 x = _mm_max_ps(a.v, _mm_movehl_ps(a.v, a.v));
  x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}
inline double hmax(VD a) { return _mm_cvtsd_f64(_mm_max_sd(a.v, _mm_unpackhi_pd(a.v, a.v))); }
inline float hmin(VF a) {
  __m128 x = _mm_min_ps(a.v, _mm_movehl_ps(a.v, a.v));
  x = _mm_min_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}
inline double hmin(VD a) { return _mm_cvtsd_f64(_mm_min_sd(a.v, _mm_unpackhi_pd(a.v, a.v))); }
inline double hsum(VD a) { return _mm_cvtsd_f64(_mm_add_sd(a.v, _mm_unpackhi_pd(a.v, a.v))); }
inline double hsum(VF a) {
  VD lo{_mm_cvtps_pd(a.v)};
  VD hi{_mm_cvtps_pd(_mm_movehl_ps(a.v, a.v))};
  return hsum(lo + hi);
}

// transpose(r): r[i] lane j becomes r[j] lane i (a W x W block in registers: the short-row kernel's
// rows into lanes and back).
inline void transpose(VF* r) {
  const __m128 t0 = _mm_unpacklo_ps(r[0].v, r[1].v), t1 = _mm_unpackhi_ps(r[0].v, r[1].v);
  const __m128 t2 = _mm_unpacklo_ps(r[2].v, r[3].v), t3 = _mm_unpackhi_ps(r[2].v, r[3].v);
  r[0].v = _mm_movelh_ps(t0, t2);
  r[1].v = _mm_movehl_ps(t2, t0);
  r[2].v = _mm_movelh_ps(t1, t3);
  r[3].v = _mm_movehl_ps(t3, t1);
}
inline void transpose(VD* r) {
  const __m128d t0 = _mm_unpacklo_pd(r[0].v, r[1].v), t1 = _mm_unpackhi_pd(r[0].v, r[1].v);
  r[0].v = t0;
  r[1].v = t1;
}

// deinterleave(a, b, ev, od): of the 2W entries a then b, the even-indexed ones into ev and the odd
// ones into od, in order; interleave(ev, od, a, b) is its inverse (rows of 2 and 4 into lanes and
// back: kernels/row/short_rows.hpp).
inline void deinterleave(VF a, VF b, VF& ev, VF& od) {
  ev.v = _mm_shuffle_ps(a.v, b.v, 0x88);
  od.v = _mm_shuffle_ps(a.v, b.v, 0xDD);
}
inline void deinterleave(VD a, VD b, VD& ev, VD& od) {
  ev.v = _mm_unpacklo_pd(a.v, b.v);
  od.v = _mm_unpackhi_pd(a.v, b.v);
}
inline void interleave(VF ev, VF od, VF& a, VF& b) {
  a.v = _mm_unpacklo_ps(ev.v, od.v);
  b.v = _mm_unpackhi_ps(ev.v, od.v);
}
inline void interleave(VD ev, VD od, VD& a, VD& b) {
  a.v = _mm_unpacklo_pd(ev.v, od.v);
  b.v = _mm_unpackhi_pd(ev.v, od.v);
}
// narrow(a, b): the float lanes a then b, each rounded to nearest.
inline VF narrow(VD a, VD b) { return {_mm_movelh_ps(_mm_cvtpd_ps(a.v), _mm_cvtpd_ps(b.v))}; }

inline IF bits(VF a) { return {_mm_castps_si128(a.v)}; }
inline ID bits(VD a) { return {_mm_castpd_si128(a.v)}; }
inline IF slli(IF a, int n) { return {_mm_slli_epi32(a.i, n)}; }
inline ID slli(ID a, int n) { return {_mm_slli_epi64(a.i, n)}; }
inline IF srli(IF a, int n) { return {_mm_srli_epi32(a.i, n)}; }
inline ID srli(ID a, int n) { return {_mm_srli_epi64(a.i, n)}; }
inline IF iadd(IF a, IF b) { return {_mm_add_epi32(a.i, b.i)}; }
inline ID iadd(ID a, ID b) { return {_mm_add_epi64(a.i, b.i)}; }
inline IF isub(IF a, IF b) { return {_mm_sub_epi32(a.i, b.i)}; }
inline ID isub(ID a, ID b) { return {_mm_sub_epi64(a.i, b.i)}; }

struct AccF {
  VD a = VD::zero(), b = VD::zero();
};
inline void acc_add(AccF& acc, VF x) {
  acc.a = acc.a + VD{_mm_cvtps_pd(x.v)};
  acc.b = acc.b + VD{_mm_cvtps_pd(_mm_movehl_ps(x.v, x.v))};
}
inline void acc_add_mem(AccF& acc, const float* p) { acc_add(acc, VF::load(p)); }
inline double acc_sum(const AccF& acc) { return hsum(acc.a + acc.b); }
struct AccD {
  VD a = VD::zero();
};
inline void acc_add(AccD& acc, VD x) { acc.a = acc.a + x; }
inline double acc_sum(const AccD& acc) { return hsum(acc.a); }

inline AccF acc_make(VF) { return {}; }
inline AccD acc_make(VD) { return {}; }

}  // namespace simd::sse2
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
