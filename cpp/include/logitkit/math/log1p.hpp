// log1p(e) for e in [0, 1] (and NaN), the only range the sigmoid family needs (e = exp(-|x|)).
//
// Algorithm: for e >= 1/2 write 1 + e = 2·(1 + f) with f = (e - 1)/2 in [-1/4, 0] (exact: Sterbenz),
// else f = e in [0, 1/2). Then log(1 + f) = f - s·(f - R(s²)) with s = f/(2 + f), |s| <= 0.2, and
// R(z) = z·(2/3 + z·(2/5 + z·(2/7 + ...))) the atanh series, which follows from
// 2·atanh(s) = log(1 + f) and 2s = f - s·f. The leading term f is exact; s and R only enter a
// correction at most 0.2·|result|, so their rounding costs little. k·ln2 is added in two parts.
// Subnormal e gives e exactly (the correction underflows to 0).
//
// Error: float <= 1.05 ulp (the series is cut after z^4; each further term costs an FMA and
// brings the bound nearer 0.94 ulp), double <= 1.0 ulp (docs/numerics.md, "log1p on [0, 1]").
#pragma once
#include "../simd/isa_namespace.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace math {

template <class T> struct log1p_consts;
template <> struct log1p_consts<float> {
  static constexpr float ln2_hi = 0.693145751953125f;
  static constexpr float ln2_lo = 1.428606765330187045e-06f;
  static constexpr int nR = 4;  // the z^5 term would change s·R by < 2^-28 relative to the result
  static constexpr float R[] = {2.f / 3, 2.f / 5, 2.f / 7, 2.f / 9};
};
template <> struct log1p_consts<double> {
  static constexpr double ln2_hi = 6.93147180369123816490e-01;
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr int nR = 12;
  static constexpr double R[] = {2. / 3,  2. / 5,  2. / 7,  2. / 9,  2. / 11, 2. / 13,
                                 2. / 15, 2. / 17, 2. / 19, 2. / 21, 2. / 23, 2. / 25};
};

// The steps of log1p_unit around its one division s = f/(2 + f), for callers that need f or its
// other parts (the binary cross-entropy kernel): log1p_reduce gives f and 2 + f, log1p_finish the
// result from f and s.
template <class V>
inline V log1p_reduce(V e, typename V::mask& big, V& den) {
  using T = typename V::scalar;
  const V half = V::set1(T(0.5));
  big = le(half, e);  // e >= 1/2 (false for NaN)
  V f = select(big, (e - V::set1(T(1))) * half, e);
  den = V::set1(T(2)) + f;
  return f;
}

// NR: how many terms of the series (at most, and by default, log1p_consts' nR).
template <class V, int NR = log1p_consts<typename V::scalar>::nR>
inline V log1p_finish(V f, V s, typename V::mask big) {
  using T = typename V::scalar;
  using C = log1p_consts<T>;
  static_assert(NR >= 1 && NR <= C::nR, "log1p_finish: NR terms of the series");
  V z = s * s;
  V R = V::set1(C::R[NR - 1]);
  for (int i = NR - 2; i >= 0; --i) R = mul_add(R, z, V::set1(C::R[i]));
  R = R * z;
  V y = mul_add(s, R - f, f);  // f - s·(f - R), one rounding
  V k_lo = mask_zero(big, V::set1(C::ln2_lo));
  V k_hi = mask_zero(big, V::set1(C::ln2_hi));
  return k_hi + (y + k_lo);
}

template <class V, int NR = log1p_consts<typename V::scalar>::nR>
inline V log1p_unit(V e) {
  typename V::mask big;
  V den;
  const V f = log1p_reduce(e, big, den);
  return log1p_finish<V, NR>(f, f / den, big);
}

// log1p(e) for float lanes with FMA, e in [0, 1] (and NaN), with no division: e + e²·Q(e), Q of
// degree 8 fitted to (log1p(e) - e)/e² on [0, 1], weighted so that its error counts relative to
// log1p(e) (a Lawson-reweighted least-squares fit, coefficients rounded to float). The leading term
// e is exact and e²·Q is at most 0.31 of the result, so the Horner steps' roundings are scaled
// down. A subnormal e gives e exactly (e² underflows). Error: float <= 1.243 ulp (measured over every
// float in [0, 1] against log1p in double; tests/cpp/test_math.cpp checks 2^16 of each binade).
// Without FMA each step would round twice, so the ISAs without it keep log1p_unit.
template <class V>
inline V log1p_unit_poly(V e) {
  static_assert(sizeof(typename V::scalar) == 4 && V::has_fma, "log1p_unit_poly: float lanes with FMA");
  static constexpr float Q[] = {-0.4999995529651642f,  0.33331218361854553f, -0.24966217577457428f,
                                0.19735759496688843f,  -0.1547437608242035f, 0.10885890573263168f,
                                -0.05972621589899063f, 0.02131991647183895f, -0.003569722641259432f};
  V q = V::set1(Q[8]);
  for (int i = 7; i >= 0; --i) q = mul_add(q, e, V::set1(Q[i]));
  return mul_add(e * e, q, e);
}

// log1p(e) for e = exp(-|x|) in [0, 1], the sigmoid family's: log1p_unit_poly where it applies
// (float lanes with FMA: no division, which bounds log_sigmoid's and softplus's throughput there),
// else log1p_unit.
template <class V>
inline V log1p_exp_term(V e) {
  if constexpr (sizeof(typename V::scalar) == 4 && V::has_fma) return log1p_unit_poly(e);
  else return log1p_unit(e);
}

}  // namespace math
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
