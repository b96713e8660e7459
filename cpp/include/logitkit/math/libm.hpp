// The C library's exp, log, log1p and expm1 for double and long double, called by name, for the kernels'
// scalar steps (a row's offset L, the wide fallbacks).
//
// Invariant: no function of the C++ standard library is instantiated or emitted under an ISA's flags
// (simd/isa_namespace.hpp). std::exp(long double) and its kin are inline
// functions of <cmath>: compiled into each ISA's object file under one name, the linker would keep
// one of them for all. These wrappers live in the ISA's namespace and call the C functions
// themselves, which <cmath>'s overloads also call: the same results.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <math.h>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace math {

inline double libm_exp(double x) { return ::exp(x); }
inline long double libm_exp(long double x) { return ::expl(x); }
inline double libm_log(double x) { return ::log(x); }
inline long double libm_log(long double x) { return ::logl(x); }
inline double libm_log1p(double x) { return ::log1p(x); }
inline long double libm_log1p(long double x) { return ::log1pl(x); }
inline double libm_expm1(double x) { return ::expm1(x); }
// log1p(x) for x >= 0 (or NaN) from the C library's log, which costs a fraction of its log1p: with
// u = 1 + x rounded, log(u)·(x/(u - 1)) takes u's rounding back out (u - 1 is exact for x below
// 2^52; beyond, x/(u - 1) is 1 within 2^-52). Within a few ulps of double (tests/cpp/test_math.cpp):
// for the kernels whose result is a float, far below its ulp. The long double overload (the
// float64 kernels' wide type) is log1pl itself.
inline double log1p_nonneg(double x) {
  const double u = 1.0 + x;
  if (u == 1.0) return x;  // x <= 2^-53: log1p(x) = x(1 - x/2 + ...) rounds to x
  const double um1 = u - 1.0, r = ::log(u);
  return um1 == x ? r : r * (x / um1);  // (x = +inf: um1 = inf = x)
}
inline long double log1p_nonneg(long double x) { return ::log1pl(x); }
inline float libm_fabs(float x) { return ::fabsf(x); }
inline double libm_fabs(double x) { return ::fabs(x); }
// x is finite (not inf or NaN): x - x is 0 exactly for every finite x, NaN otherwise.
inline bool is_finite(double x) { return x - x == 0.0; }

}  // namespace math
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
