// Vector exp for every ISA, written once over the vector type V (float or double lanes).
//
// Algorithm: x = n·ln2 + r with n = round(x·log2(e)) found by the 1.5·2^p "magic number" addition
// (whose low mantissa bits then hold n + 2·bias), r = x - n·ln2_hi - n·ln2_lo (Cody-Waite, ln2_hi
// with enough trailing zeros that n·ln2_hi is exact), |r| <= ln2/2 (+ a little when the product was
// rounded). exp(r) = 1 + r + r²·P(r), P a relative-error least-squares fit (degree 4 for float,
// 9 for double; fit error 0.10 ulp and 0.09 ulp). The result is scaled by 2^n in two exact steps,
// 2^floor(n/2) then 2^(n - floor(n/2)), so a subnormal result is rounded once, like a correctly
// scaled product, and results below half the smallest subnormal are 0, not a flushed garbage value.
//
// exp_scaled(x, lo, f) = exp(x)·(1 + lo)·f, with the factor applied before the final scaling: it
// gives exp(x + lo)·f when lo is the rounding error of x (|lo| <= ulp(x)/2) and f in [2^-60, 1].
//
// Measured error (tests/cpp/test_math.cpp, every float32 in [-104, 89]; 10^7 random doubles in
// [-746, 710]): float <= 0.9 ulp, double <= 0.6 ulp on the AVX2 path (see the test's output).
// Special values: exp(NaN) = NaN, exp(-inf) = 0, exp(+inf) = +inf, no NaN for any other input.
#pragma once
#include <cstdint>

namespace logitkit::math {

template <class T> struct exp_consts;
template <> struct exp_consts<float> {
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693145751953125f;        // 0x1.62e4p-1, 16 significant bits
  static constexpr float ln2_lo = 1.428606765330187045e-06f;  // ln2 - ln2_hi
  static constexpr float lo_clamp = -104.0f;                  // exp(-104) < 2^-150: rounds to 0
  static constexpr float hi_clamp = 89.0f;                    // exp(89) > FLT_MAX: overflows to inf
  static constexpr float shifter = 12582912.0f;               // 1.5·2^23
  static constexpr float bias2 = 254.0f;                      // 2·127
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
  static constexpr double shifter = 6755399441055744.0;  // 1.5·2^52
  static constexpr double bias2 = 2046.0;                // 2·1023
  static constexpr int mant_bits = 52;
  static constexpr double P[] = {0x1.000000000000dp-1, 0x1.555555555550cp-3, 0x1.555555554f9bcp-5,
                                 0x1.111111112312bp-7, 0x1.6c16c1870f276p-10, 0x1.a01a0144dd174p-13,
                                 0x1.a01992b7210e1p-16, 0x1.71dee697d1df9p-19, 0x1.28b3ebb764f9bp-22,
                                 0x1.ade8ec39f236ap-26};
};

// exp(x)·(1 + lo)·f; see the header comment. With lo = 0 and f = 1 it is plain exp(x).
template <class V>
inline V exp_scaled(V x, V lo, V f) {
  using T = typename V::scalar;
  using C = exp_consts<T>;
  // Constant first: if x is NaN, the x86 max/min rule returns x (the second operand).
  x = max(V::set1(C::lo_clamp), x);
  x = min(V::set1(C::hi_clamp), x);
  const V shifter = V::set1(C::shifter);
  V z = mul_add(x, V::set1(C::log2e), V::set1(C::shifter + C::bias2));
  V n = z - V::set1(C::shifter + C::bias2);
  V r = mul_add(n, V::set1(-C::ln2_hi), x);
  r = mul_add(n, V::set1(-C::ln2_lo), r);
  constexpr int deg = int(sizeof(C::P) / sizeof(C::P[0])) - 1;
  V p = V::set1(C::P[deg]);
  for (int i = deg - 1; i >= 0; --i) p = mul_add(p, r, V::set1(C::P[i]));
  V r2 = r * r;
  p = mul_add(r2, p, r) + V::set1(T(1));
  p = mul_add(p, lo, p) * f;
  // Biased exponent u = n + 2·bias from z's low bits, split into two normal scale factors.
  auto u = isub(bits(z), bits(shifter));
  auto e1 = srli(u, 1);
  auto e2 = isub(u, e1);
  V s1 = V::from_bits(slli(e1, C::mant_bits));
  V s2 = V::from_bits(slli(e2, C::mant_bits));
  return (p * s1) * s2;
}

template <class V>
inline V exp(V x) {
  return exp_scaled(x, V::zero(), V::set1(typename V::scalar(1)));
}

}  // namespace logitkit::math
