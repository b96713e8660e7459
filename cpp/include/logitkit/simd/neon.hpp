// NEON vectors (AArch64): 4 floats / 2 doubles, FMA always present. Same interface as scalar.hpp.
// NEON's max/min propagate NaN from either operand; every kernel use of max/min is written so that
// both this rule and the x86 one (second operand on NaN) give the same result.
#pragma once
#include "isa_namespace.hpp"
#include <arm_neon.h>

#include <cstdint>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace simd::neon {

struct MF { uint32x4_t m; };
struct MD { uint64x2_t m; };
struct IF { uint32x4_t i; };
struct ID { uint64x2_t i; };

struct VF {
  using scalar = float;
  using ivec = IF;
  using mask = MF;
  static constexpr int size = 4;
  static constexpr bool has_fma = true;
  float32x4_t v;
  static VF set1(float x) { return {vdupq_n_f32(x)}; }
  static VF zero() { return {vdupq_n_f32(0.0f)}; }
  static VF load(const float* p) { return {vld1q_f32(p)}; }
  static VF from_bits(IF i) { return {vreinterpretq_f32_u32(i.i)}; }
  // 4 float16 / bfloat16 values at p <-> floats, as kernels/convert.hpp's scalar reference converts
  // them (round to nearest even, FPCR's default; NaN quieted, payload kept).
  static VF load_half(const std::uint16_t* p) { return {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))}; }
  static void store_half(std::uint16_t* p, VF a) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(a.v))); }
  static VF load_bf16(const std::uint16_t* p) {
    const uint32x4_t b = vshll_n_u16(vld1_u16(p), 16);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(b, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
    return {vreinterpretq_f32_u32(vorrq_u32(b, vandq_u32(nan, vdupq_n_u32(0x400000u))))};
  }
  static void store_bf16(std::uint16_t* p, VF a) {
    const uint32x4_t x = vreinterpretq_u32_f32(a.v);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(x, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
    const uint32x4_t hi = vshrq_n_u32(x, 16);
    const uint32x4_t odd = vandq_u32(hi, vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(x, vdupq_n_u32(0x7fffu)), odd), 16);
    const uint32x4_t r = vbslq_u32(nan, vorrq_u32(hi, vdupq_n_u32(0x40)), rounded);
    vst1_u16(p, vmovn_u32(r));
  }
};
struct VD {
  using scalar = double;
  using ivec = ID;
  using mask = MD;
  static constexpr int size = 2;
  static constexpr bool has_fma = true;
  float64x2_t v;
  static VD set1(double x) { return {vdupq_n_f64(x)}; }
  static VD zero() { return {vdupq_n_f64(0.0)}; }
  static VD load(const double* p) { return {vld1q_f64(p)}; }
  static VD from_bits(ID i) { return {vreinterpretq_f64_u64(i.i)}; }
};

inline void store(float* p, VF a) { vst1q_f32(p, a.v); }
inline void store(double* p, VD a) { vst1q_f64(p, a.v); }
inline VF operator+(VF a, VF b) { return {vaddq_f32(a.v, b.v)}; }
inline VD operator+(VD a, VD b) { return {vaddq_f64(a.v, b.v)}; }
inline VF operator-(VF a, VF b) { return {vsubq_f32(a.v, b.v)}; }
inline VD operator-(VD a, VD b) { return {vsubq_f64(a.v, b.v)}; }
inline VF operator*(VF a, VF b) { return {vmulq_f32(a.v, b.v)}; }
inline VD operator*(VD a, VD b) { return {vmulq_f64(a.v, b.v)}; }
inline VF operator/(VF a, VF b) { return {vdivq_f32(a.v, b.v)}; }
inline VD operator/(VD a, VD b) { return {vdivq_f64(a.v, b.v)}; }
inline VF mul_add(VF a, VF b, VF c) { return {vfmaq_f32(c.v, a.v, b.v)}; }
inline VD mul_add(VD a, VD b, VD c) { return {vfmaq_f64(c.v, a.v, b.v)}; }
inline VF neg_mul_add(VF a, VF b, VF c) { return {vfmsq_f32(c.v, a.v, b.v)}; }
inline VD neg_mul_add(VD a, VD b, VD c) { return {vfmsq_f64(c.v, a.v, b.v)}; }
inline VF max(VF a, VF b) { return {vmaxq_f32(a.v, b.v)}; }
inline VD max(VD a, VD b) { return {vmaxq_f64(a.v, b.v)}; }
inline VF min(VF a, VF b) { return {vminq_f32(a.v, b.v)}; }
inline VD min(VD a, VD b) { return {vminq_f64(a.v, b.v)}; }
inline VF abs(VF a) { return {vabsq_f32(a.v)}; }
inline VD abs(VD a) { return {vabsq_f64(a.v)}; }
inline VF neg(VF a) { return {vnegq_f32(a.v)}; }
inline VD neg(VD a) { return {vnegq_f64(a.v)}; }
inline VF neg_abs(VF a) { return {vnegq_f32(vabsq_f32(a.v))}; }
inline VD neg_abs(VD a) { return {vnegq_f64(vabsq_f64(a.v))}; }
// select_neg(s, a, b): a where the sign bit of s is set, else b.
inline VF select_neg(VF s, VF a, VF b) { return {vbslq_f32(vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(s.v), 31)), a.v, b.v)}; }
inline VD select_neg(VD s, VD a, VD b) { return {vbslq_f64(vreinterpretq_u64_s64(vshrq_n_s64(vreinterpretq_s64_f64(s.v), 63)), a.v, b.v)}; }
inline MF lt(VF a, VF b) { return {vcltq_f32(a.v, b.v)}; }
inline MD lt(VD a, VD b) { return {vcltq_f64(a.v, b.v)}; }
inline MF le(VF a, VF b) { return {vcleq_f32(a.v, b.v)}; }
inline MD le(VD a, VD b) { return {vcleq_f64(a.v, b.v)}; }
inline MF nge(VF a, VF b) { return {vmvnq_u32(vcgeq_f32(a.v, b.v))}; }
inline MD nge(VD a, VD b) { return {veorq_u64(vcgeq_f64(a.v, b.v), vdupq_n_u64(~0ull))}; }
inline MF eq(VF a, VF b) { return {vceqq_f32(a.v, b.v)}; }
inline MD eq(VD a, VD b) { return {vceqq_f64(a.v, b.v)}; }
inline MF isnan(VF a) { return {vmvnq_u32(vceqq_f32(a.v, a.v))}; }
inline MD isnan(VD a) { return {veorq_u64(vceqq_f64(a.v, a.v), vdupq_n_u64(~0ull))}; }
inline VF select(MF m, VF a, VF b) { return {vbslq_f32(m.m, a.v, b.v)}; }
inline VD select(MD m, VD a, VD b) { return {vbslq_f64(m.m, a.v, b.v)}; }
inline VF mask_zero(MF m, VF a) { return {vreinterpretq_f32_u32(vandq_u32(m.m, vreinterpretq_u32_f32(a.v)))}; }
inline VD mask_zero(MD m, VD a) { return {vreinterpretq_f64_u64(vandq_u64(m.m, vreinterpretq_u64_f64(a.v)))}; }
inline MF mask_or(MF a, MF b) { return {vorrq_u32(a.m, b.m)}; }
inline MD mask_or(MD a, MD b) { return {vorrq_u64(a.m, b.m)}; }
inline MF mask_and(MF a, MF b) { return {vandq_u32(a.m, b.m)}; }
inline MD mask_and(MD a, MD b) { return {vandq_u64(a.m, b.m)}; }
inline MF mask_not(MF a) { return {vmvnq_u32(a.m)}; }
inline MD mask_not(MD a) { return {veorq_u64(a.m, vdupq_n_u64(~0ull))}; }
inline bool any(MF m) { return vmaxvq_u32(m.m) != 0; }
inline bool any(MD m) { return vmaxvq_u32(vreinterpretq_u32_u64(m.m)) != 0; }
// bit l set where lane l is (as x86's movemask)
inline std::uint32_t mask_bits(MF m) {
  const uint32_t w[4] = {1, 2, 4, 8};
  return vaddvq_u32(vandq_u32(m.m, vld1q_u32(w)));
}
inline std::uint32_t mask_bits(MD m) {
  const uint64_t w[2] = {1, 2};
  return std::uint32_t(vaddvq_u64(vandq_u64(m.m, vld1q_u64(w))));
}

inline float hmax(VF a) { return vmaxvq_f32(a.v); }
inline double hmax(VD a) { return vmaxvq_f64(a.v); }
inline float hmin(VF a) { return vminvq_f32(a.v); }
inline double hmin(VD a) { return vminvq_f64(a.v); }
inline double hsum(VD a) { return vaddvq_f64(a.v); }
inline double hsum(VF a) { return vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(a.v)), vcvt_high_f64_f32(a.v))); }

// transpose(r): r[i] lane j becomes r[j] lane i (a W x W block in registers: the short-row kernel's
// rows into lanes and back).
inline void transpose(VF* r) {
  // t0 = (r0[0], r1[0], r0[2], r1[2]), t1 = (r0[1], r1[1], r0[3], r1[3]); t2, t3 the same of r2, r3
  const float32x4_t t0 = vtrn1q_f32(r[0].v, r[1].v), t1 = vtrn2q_f32(r[0].v, r[1].v);
  const float32x4_t t2 = vtrn1q_f32(r[2].v, r[3].v), t3 = vtrn2q_f32(r[2].v, r[3].v);
  const float64x2_t a = vreinterpretq_f64_f32(t0), b = vreinterpretq_f64_f32(t1);
  const float64x2_t c = vreinterpretq_f64_f32(t2), d = vreinterpretq_f64_f32(t3);
  r[0].v = vreinterpretq_f32_f64(vzip1q_f64(a, c));
  r[1].v = vreinterpretq_f32_f64(vzip1q_f64(b, d));
  r[2].v = vreinterpretq_f32_f64(vzip2q_f64(a, c));
  r[3].v = vreinterpretq_f32_f64(vzip2q_f64(b, d));
}
inline void transpose(VD* r) {
  const float64x2_t t0 = vzip1q_f64(r[0].v, r[1].v), t1 = vzip2q_f64(r[0].v, r[1].v);
  r[0].v = t0;
  r[1].v = t1;
}

// deinterleave(a, b, ev, od): of the 2W entries a then b, the even-indexed ones into ev and the odd
// ones into od, in order; interleave(ev, od, a, b) is its inverse (rows of 2 and 4 into lanes and
// back: kernels/row/short_rows.hpp).
inline void deinterleave(VF a, VF b, VF& ev, VF& od) {
  ev.v = vuzp1q_f32(a.v, b.v);
  od.v = vuzp2q_f32(a.v, b.v);
}
inline void deinterleave(VD a, VD b, VD& ev, VD& od) {
  ev.v = vuzp1q_f64(a.v, b.v);
  od.v = vuzp2q_f64(a.v, b.v);
}
inline void interleave(VF ev, VF od, VF& a, VF& b) {
  a.v = vzip1q_f32(ev.v, od.v);
  b.v = vzip2q_f32(ev.v, od.v);
}
inline void interleave(VD ev, VD od, VD& a, VD& b) {
  a.v = vzip1q_f64(ev.v, od.v);
  b.v = vzip2q_f64(ev.v, od.v);
}
// narrow(a, b): the float lanes a then b, each rounded to nearest.
inline VF narrow(VD a, VD b) { return {vcvt_high_f32_f64(vcvt_f32_f64(a.v), b.v)}; }

inline IF bits(VF a) { return {vreinterpretq_u32_f32(a.v)}; }
inline ID bits(VD a) { return {vreinterpretq_u64_f64(a.v)}; }
inline IF slli(IF a, int n) { return {vshlq_u32(a.i, vdupq_n_s32(n))}; }
inline ID slli(ID a, int n) { return {vshlq_u64(a.i, vdupq_n_s64(n))}; }
inline IF srli(IF a, int n) { return {vshlq_u32(a.i, vdupq_n_s32(-n))}; }
inline ID srli(ID a, int n) { return {vshlq_u64(a.i, vdupq_n_s64(-n))}; }
inline IF iadd(IF a, IF b) { return {vaddq_u32(a.i, b.i)}; }
inline ID iadd(ID a, ID b) { return {vaddq_u64(a.i, b.i)}; }
inline IF isub(IF a, IF b) { return {vsubq_u32(a.i, b.i)}; }
inline ID isub(ID a, ID b) { return {vsubq_u64(a.i, b.i)}; }

struct AccF {
  VD a = VD::zero(), b = VD::zero();
};
inline void acc_add(AccF& acc, VF x) {
  acc.a = acc.a + VD{vcvt_f64_f32(vget_low_f32(x.v))};
  acc.b = acc.b + VD{vcvt_high_f64_f32(x.v)};
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

}  // namespace simd::neon
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
