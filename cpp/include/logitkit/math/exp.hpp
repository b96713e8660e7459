// Vector exp for every ISA, written once over the vector type V (float or double lanes).
//
// Algorithm: x = n·ln2 + r with n = round(x·log2(e)) found by the 1.5·2^p "magic number" addition
// (whose low mantissa bits then hold n + 2·bias), r = x - n·ln2_hi - n·ln2_lo (Cody-Waite, ln2_hi
// with enough trailing zeros that n·ln2_hi is exact), |r| <= ln2/2 (+ a little when the product was
// rounded). exp(r) = 1 + r·(1 + r·P(r)) by Horner, P a relative-error least-squares fit (degree 4 for float,
// 9 for double; fit error 0.10 ulp and 0.09 ulp). The result is scaled by 2^n: in one exact
// multiplication when every lane's 2^n is normal, else in two, 2^floor(u/2) then 2^(u - floor(u/2))
// (biased), so that a subnormal result is rounded once, like a correctly scaled product, and results
// below half the smallest subnormal are 0, not a flushed garbage value.
//
// exp_neg_lo(x, lo) = exp(x)·(1 + lo) = exp(x + lo) to within rounding when lo is the rounding
// error of x: the kernels use it with x - m computed as hi + lo (TwoSum).
//
// Error: float <= 0.9 ulp, double <= 0.95 ulp on the FMA paths (docs/numerics.md, "exp"); the ISAs
// without FMA round the reduction and Horner steps twice and err a little more. No test asserts
// exp's bound alone: the kernels' bounds built on it are asserted by tests/cpp/test_kernels.cpp and
// tests/test_accuracy.py, on every ISA.
// Special values: exp(NaN) = NaN, exp(-inf) = 0, exp(+inf) = +inf, no NaN for any other input.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstdint>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace math {

template <class T> struct exp_consts;
template <> struct exp_consts<float> {
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693145751953125f;        // 0x1.62e4p-1, 16 significant bits
  static constexpr float ln2_lo = 1.428606765330187045e-06f;  // ln2 - ln2_hi
  static constexpr float lo_clamp = -104.0f;                  // exp(-104) < 2^-150: rounds to 0
  static constexpr float hi_clamp = 89.0f;                    // exp(89) > FLT_MAX: overflows to inf
  static constexpr float fast_lo = -87.0f;                    // n >= -126: 2^n normal
  static constexpr float fast_hi = 88.0f;                     // n <= 127
  static constexpr float shifter = 12582912.0f;               // 1.5·2^23
  static constexpr float bias = 127.0f;
  static constexpr int mant_bits = 23;
  static constexpr float P[] = {0x1.fffff8p-2f, 0x1.555486p-3f, 0x1.555b94p-5f, 0x1.124188p-7f,
                                0x1.686acap-10f};
};
template <> struct exp_consts<double> {
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // 0x1.62e42feep-1, 32 significant bits
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double lo_clamp = -746.0;  // exp(-746) < 2^-1075: rounds to 0
  static constexpr double hi_clamp = 710.0;   // exp(710) > DBL_MAX
  static constexpr double fast_lo = -708.0;  // n >= -1022
  static constexpr double fast_hi = 709.0;   // n <= 1023
  static constexpr double shifter = 6755399441055744.0;  // 1.5·2^52
  static constexpr double bias = 1023.0;
  static constexpr int mant_bits = 52;
  static constexpr double P[] = {0x1.000000000000dp-1, 0x1.555555555550cp-3, 0x1.555555554f9bcp-5,
                                 0x1.111111112312bp-7, 0x1.6c16c1870f276p-10, 0x1.a01a0144dd174p-13,
                                 0x1.a01992b7210e1p-16, 0x1.71dee697d1df9p-19, 0x1.28b3ebb764f9bp-22,
                                 0x1.ade8ec39f236ap-26};
};

// The polynomial part: returns p = exp(r)·(1 + lo) and z, whose low mantissa bits hold n + bias.
// NEG: p and z of exp(-x), without negating x: every step holds -r instead of r, with the signs of
// log2(e), ln2 and the odd coefficients flipped and the last two steps 1 - (-r)·q (negation is
// exact and commutes with rounding: the same p and z, bit for bit; no lo).
template <class V, bool LO, bool NEG = false>
inline V exp_poly(V x, V lo, V& z) {
  using T = typename V::scalar;
  using C = exp_consts<T>;
  static_assert(!(LO && NEG), "exp_poly: NEG takes no lo");
  constexpr T s = NEG ? T(-1) : T(1);
  z = mul_add(x, V::set1(s * C::log2e), V::set1(C::shifter + C::bias));
  V n = z - V::set1(C::shifter + C::bias);
  V r = mul_add(n, V::set1(-s * C::ln2_hi), x);  // (NEG: -r)
  r = mul_add(n, V::set1(-s * C::ln2_lo), r);
  // Horner over 1 + r + r²·P(r): the last two steps are r·q + 1 with q = 1 + r·P, each one FMA
  // rounding (the leading 1s are exact), with no r² formed apart.
  constexpr int deg = int(sizeof(C::P) / sizeof(C::P[0])) - 1;
  const V one = V::set1(T(1));
  auto coef = [](int i) { return V::set1(NEG && i % 2 ? -C::P[i] : C::P[i]); };
  V p = coef(deg);
  for (int i = deg - 1; i >= 0; --i) p = mul_add(p, r, coef(i));
  if constexpr (NEG) {
    p = neg_mul_add(p, r, one);
    p = neg_mul_add(p, r, one);
  } else {
    p = mul_add(p, r, one);
    p = mul_add(p, r, one);
  }
  if constexpr (LO) p = mul_add(p, lo, p);
  return p;
}

// Rare lanes: some result is subnormal, zero, huge or infinite (or lo is not finite). x is clamped
// to where 2^n splits into two normal factors, 2^floor(u/2) and 2^(u - floor(u/2)) with
// u = n + 2·bias, so that a subnormal result is rounded once, like a correctly scaled product.
template <class V, bool LO>
inline V exp_wide(V x, V lo) {
  using T = typename V::scalar;
  using C = exp_consts<T>;
  // Constant first: if x is NaN, the x86 max/min rule returns x (the second operand).
  V xc = min(V::set1(C::hi_clamp), max(V::set1(C::lo_clamp), x));
  if constexpr (LO) lo = mask_zero(le(V::set1(C::lo_clamp), x), lo);  // x = -inf: lo may be NaN
  V z;
  V p = exp_poly<V, LO>(xc, lo, z);
  // shifter - bias lies in the binade of z, so the bit difference is (n + bias) + bias.
  auto u = isub(bits(z), bits(V::set1(C::shifter - C::bias)));
  auto e1 = srli(u, 1);
  auto e2 = isub(u, e1);
  return (p * V::from_bits(slli(e1, C::mant_bits))) * V::from_bits(slli(e2, C::mant_bits));
}

// exp(x)·(1 + lo) where the caller has checked that every lane is in [fast_lo, fast_hi] (or NaN):
// exp_any's common case, for loops that check several vectors at once.
template <class V, bool LO = false>
inline V exp_normal(V x, V lo = V::zero()) {
  using C = exp_consts<typename V::scalar>;
  V z;
  V p = exp_poly<V, LO>(x, lo, z);
  return p * V::from_bits(slli(bits(z), C::mant_bits));
}

// exp(x) where z is false and exactly 0 where z is true: the lanes in z (a masked entry, -inf or
// below exp's range) go into exp_normal as 0, so every lane exp_normal sees is in its range.
template <class V, class M>
inline V exp_normal_masked(V x, M z) {
  return select(z, V::zero(), exp_normal(select(z, V::zero(), x)));
}

// exp(x)·(1 + lo). The common case, every lane's 2^n normal, costs one exact multiplication; a
// vector with any lane outside [fast_lo, fast_hi] (checked only below when UPPER is false: the
// caller promises x <= 0) takes exp_wide. NaN lanes stay on the fast path and give NaN.
template <class V, bool UPPER, bool LO>
inline V exp_any(V x, V lo) {
  using C = exp_consts<typename V::scalar>;
  auto outside = lt(x, V::set1(C::fast_lo));
  if constexpr (UPPER) outside = mask_or(outside, lt(V::set1(C::fast_hi), x));
  if (any(outside)) return exp_wide<V, LO>(x, lo);
  return exp_normal<V, LO>(x, lo);
}

// exp(x) over the whole range.
template <class V>
inline V exp(V x) {
  return exp_any<V, true, false>(x, V::zero());
}
// exp(x) for x <= 0 or NaN (the row kernels and the sigmoid family never need more).
template <class V>
inline V exp_neg(V x) {
  return exp_any<V, false, false>(x, V::zero());
}
// exp(x + lo) ~ exp(x)·(1 + lo) for x <= 0, lo the rounding error of x (|lo| <= ulp(x)/2; may be
// NaN where x = -inf).
template <class V>
inline V exp_neg_lo(V x, V lo) {
  return exp_any<V, false, true>(x, lo);
}

}  // namespace math
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
