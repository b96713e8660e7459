// Vector log in double lanes, for the row kernels' offsets L of several rows at once (row groups,
// short rows): log(u) of a positive normal u, and log(k + S') of a row's sum parts.
//
// Algorithm: u = 2^e·(1 + f) with f in [0, 1) read from u's bits; log u = e·ln2 + log1p(f), ln2 in
// two parts and log1p_unit (math/log1p.hpp) for log1p(f).
//
// Invariant: where e = 0 the result is log1p_unit's own, exactly (the e·ln2 terms are 0 + 0); so
// log_k_plus gives log1p(S') itself when k = 1 and S' <= 1, keeping S''s relative accuracy.
#pragma once
#include "../simd/isa_namespace.hpp"

#include "log1p.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace math {

// log(u) for a positive normal u in double lanes: e·ln2 + log1p(f) from u = 2^e·(1 + f), f in [0, 1).
// Within about an ulp (log1p_unit) plus one rounding (absolute near u = 1).
template <class D>
inline D log_split(D u, D& e) {  // returns f, sets e
  const D one = D::set1(1.0);
  const auto ub = bits(u);
  const auto eb = srli(ub, 52);  // biased exponent
  e = D::from_bits(iadd(eb, bits(D::set1(0x1p52)))) - D::set1(0x1p52 + 1023.0);
  return D::from_bits(iadd(isub(ub, slli(eb, 52)), bits(one))) - one;  // mantissa - 1
}
template <class D>
inline D log_join(D e, D log1p_f) {  // e·ln2 + log1p(f), exactly log1p(f) where e = 0
  using C = math::log1p_consts<double>;
  return mul_add(e, D::set1(C::ln2_hi), mul_add(e, D::set1(C::ln2_lo), log1p_f));
}
// NR: log1p_unit's series terms (all of them by default: about an ulp of double).
template <class D, int NR = log1p_consts<double>::nR>
inline D log_pos(D u) {
  D e;
  const D f = log_split(u, e);
  return log_join(e, math::log1p_unit<D, NR>(f));
}

// log(k + S') for k >= 1, S' >= 0 finite, in double lanes: log1p(S') where k = 1 and S' <= 1 (S'
// keeps its relative accuracy: a confident row's top output is -L), else log_pos(k + S'). One
// log1p_unit for both: its argument S' or f, with e = 0 for the first. NR: log1p_unit's series
// terms (all of them by default: about an ulp of double).
template <class D, int NR = log1p_consts<double>::nR>
inline D log_k_plus(D k, D Sp) {
  const D one = D::set1(1.0);
  const auto direct = mask_and(eq(k, one), le(Sp, one));
  D e;
  const D f = log_split(k + Sp, e);
  return log_join(select(direct, D::zero(), e), math::log1p_unit<D, NR>(select(direct, Sp, f)));
}

// The series terms that log(k + S') needs where its result only has to be far inside float's
// rounding (the L of float rows, kept as a float pair or added to the max in double and rounded
// once): cut after z^7, log1p_unit's truncation stays below 2^-41 of its result (measured against
// mpmath over its whole argument range; all 12 terms: 2^-52).
constexpr int log_terms_for_float = 7;

}  // namespace math
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
