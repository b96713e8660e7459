// exp in double-length arithmetic (a pair hi + lo of the lane type), for the rare exact fallbacks:
// exp_dd(x, xl) = exp(x + xl) as H + L with a relative error below 2^-(p+5) (p = 24 float, 53 double;
// float-float is about 2^-29, double-double about 2^-58). About three times the work of math::exp.
//
// Algorithm: k = round(x·log2 e); r = x - k·ln2 as rh + rl, with ln2 in three pieces C1 + C2 + C3
// (C1 with trailing zeros, so k·C1 and x - k·C1 are exact; k·C2 split exactly by two_prod), then
//   exp(rh + rl) = (1 + rh + rh²/2 + rh³·P3(rh))·(1 + rl),  P3(r) = Σ_{j>=0} r^j/(j+3)! (Taylor)
// with 1 + rh (two_sum) and rh² (two_prod) exact, so that only the small cubic term, at most 0.008,
// carries rounding errors; the Taylor tail is below 2^-32 (float, to r^8) and 2^-63 (double, to r^14)
// for |rh| <= 0.35. The pair is scaled by 2^k exactly. Domain: x + xl <= 0 (the kernels' x - max);
// lanes with x below `clamp` (exp under 2^-115 / 2^-1009 relative to 1, negligible next to a row's
// sum, which is >= 1) and x = -inf or NaN give 0 + 0.
#pragma once
#include "../simd/isa_namespace.hpp"
#include "../kernels/common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace math {

template <class T> struct exp_dd_consts;
template <> struct exp_dd_consts<float> {
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float C1 = 0x1.62e4p-1f;      // 16 significant bits
  static constexpr float C2 = 0x1.7f7d1cp-20f;   // ln2 - C1, rounded
  static constexpr float C3 = 0x1.ef357ap-45f;   // ln2 - C1 - C2, rounded
  static constexpr float clamp = -80.0f;
  static constexpr float shifter = 12582912.0f;  // 1.5·2^23
  static constexpr float bias = 127.0f;
  static constexpr int mant_bits = 23;
  static constexpr int terms = 6;  // P3 = 1/3! + ... + r^5/8!
};
template <> struct exp_dd_consts<double> {
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double C1 = 0x1.62e42feep-1;            // 32 significant bits
  static constexpr double C2 = 0x1.a39ef35793c76p-33;
  static constexpr double C3 = 0x1.cc01f97b57a08p-87;
  static constexpr double clamp = -700.0;
  static constexpr double shifter = 6755399441055744.0;  // 1.5·2^52
  static constexpr double bias = 1023.0;
  static constexpr int mant_bits = 52;
  static constexpr int terms = 12;  // P3 = 1/3! + ... + r^11/14!
};

// 1/j! for j < N, computed at compile time in T (each rounded once; the terms they scale are small).
template <class T, int N>
struct InvFactorials {
  T v[N];
  constexpr InvFactorials() : v() {
    T f = 1;
    for (int j = 0; j < N; ++j) {
      if (j > 0) f *= T(j);
      v[j] = T(1) / f;
    }
  }
};

template <class V>
inline void exp_dd(V x, V xl, V& H, V& L) {
  using T = typename V::scalar;
  using C = exp_dd_consts<T>;
  using kernels::two_prod;
  using kernels::two_sum;
  const auto ok = le(V::set1(C::clamp), x);  // false for -inf and NaN
  x = select(ok, x, V::set1(C::clamp));
  xl = mask_zero(ok, xl);
  V z = mul_add(x, V::set1(C::log2e), V::set1(C::shifter + C::bias));
  V k = z - V::set1(C::shifter + C::bias);
  V t1 = x - k * V::set1(C::C1);  // both exact (Cody-Waite, Sterbenz)
  V pl;
  V ph = two_prod(k, V::set1(C::C2), pl);
  V e1;
  V rh = two_sum(t1, neg(ph), e1);
  V rl = ((e1 - pl) - k * V::set1(C::C3)) + xl;
  // P3 by Horner from the highest Taylor coefficient 1/(terms+2)! down to 1/3!.
  constexpr InvFactorials<T, C::terms + 3> c{};
  V p = V::set1(c.v[C::terms + 2]);
  for (int j = C::terms + 1; j >= 3; --j) p = mul_add(p, rh, V::set1(c.v[j]));
  V sl;
  V sh = two_sum(V::set1(T(1)), rh, sl);
  V r2l;
  V r2h = two_prod(rh, rh, r2l);
  const V half = V::set1(T(0.5));
  V e2;
  V h = two_sum(sh, half * r2h, e2);
  V q3 = (rh * r2h) * p;
  V lo = ((sl + e2) + half * r2l) + q3;
  lo = lo + (h + lo) * rl;  // ·(1 + rl)
  V hi = h + lo;            // fast two-sum: |h| >= |lo|
  lo = lo - (hi - h);
  V scale = V::from_bits(slli(bits(z), C::mant_bits));  // 2^k, normal: k >= -116 / -1010
  H = mask_zero(ok, hi * scale);
  L = mask_zero(ok, lo * scale);
}

}  // namespace math
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
