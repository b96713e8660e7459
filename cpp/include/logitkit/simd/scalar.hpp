// Scalar "vector" of one lane: the reference path, and the fallback on any CPU.
// Every ISA header (scalar, sse2, avx2, avx512, neon) gives the same interface in its own namespace,
// so the kernel templates in kernels/ compile unchanged for each:
//   V::scalar, V::size, V::has_fma, V::set1, V::zero, V::load (unaligned), V::from_bits; store;
//   + - * /, mul_add and neg_mul_add (c - a·b) (fused where the ISA has FMA), max/min (x86 rule:
//   NaN in either gives the second operand: a min/max reduction may lose a NaN, docs/numerics.md,
//   "Special values and lane isolation"),
//   abs, neg, neg_abs, select_neg; lt/le/eq/isnan -> V::mask, nge(a, b) = !(a >= b) (true where
//   either is NaN: the predicate of range checks); select, mask_zero, mask_or/and/not, any;
//   hmax/hmin/hsum; integer lanes (V::ivec): bits, slli, srli, iadd, isub; acc_make(V) -> an accumulator (sums of
//   float lanes kept in double), acc_add(acc, v) and, for float lanes, acc_add_mem(acc, p) (the VF::size
//   values at p, widened as they are loaded: the same sum as acc_add(acc, VF::load(p)); on AVX2 and
//   AVX-512 with no shuffle).
// All operands are passed through ADL, so every type here is a struct of this namespace.
#pragma once
#include "isa_namespace.hpp"
#include <cmath>
#include <cstdint>
#include <cstring>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace simd::scalar {

struct M { bool m; };
template <class U> struct I { U i; };
using IF = I<std::uint32_t>;
using ID = I<std::uint64_t>;

template <class T, class U>
struct Vec1 {
  using scalar = T;
  using ivec = I<U>;
  using mask = M;
  static constexpr int size = 1;
  static constexpr bool has_fma = false;
  T v;
  static Vec1 set1(T x) { return {x}; }
  static Vec1 zero() { return {T(0)}; }
  static Vec1 load(const T* p) { return {*p}; }
  static Vec1 from_bits(I<U> i) {
    Vec1 r;
    std::memcpy(&r.v, &i.i, sizeof(T));
    return r;
  }
};
using VF = Vec1<float, std::uint32_t>;
using VD = Vec1<double, std::uint64_t>;

// transpose(r): r[i] lane j becomes r[j] lane i; one lane: nothing moves.
template <class T, class U>
inline void transpose(Vec1<T, U>*) {}

#define LK_V template <class T, class U> inline
LK_V void store(T* p, Vec1<T, U> a) { *p = a.v; }
LK_V Vec1<T, U> operator+(Vec1<T, U> a, Vec1<T, U> b) { return {a.v + b.v}; }
LK_V Vec1<T, U> operator-(Vec1<T, U> a, Vec1<T, U> b) { return {a.v - b.v}; }
LK_V Vec1<T, U> operator*(Vec1<T, U> a, Vec1<T, U> b) { return {a.v * b.v}; }
LK_V Vec1<T, U> operator/(Vec1<T, U> a, Vec1<T, U> b) { return {a.v / b.v}; }
// a*b + c, rounded twice here (no FMA on the baseline); polynomial use only.
LK_V Vec1<T, U> mul_add(Vec1<T, U> a, Vec1<T, U> b, Vec1<T, U> c) { return {a.v * b.v + c.v}; }
LK_V Vec1<T, U> neg_mul_add(Vec1<T, U> a, Vec1<T, U> b, Vec1<T, U> c) { return {c.v - a.v * b.v}; }
LK_V Vec1<T, U> max(Vec1<T, U> a, Vec1<T, U> b) { return {a.v > b.v ? a.v : b.v}; }
LK_V Vec1<T, U> min(Vec1<T, U> a, Vec1<T, U> b) { return {a.v < b.v ? a.v : b.v}; }
LK_V Vec1<T, U> abs(Vec1<T, U> a) { return {a.v < T(0) ? -a.v : (a.v == T(0) ? T(0) : a.v)}; }
LK_V Vec1<T, U> neg(Vec1<T, U> a) { return {-a.v}; }
LK_V Vec1<T, U> neg_abs(Vec1<T, U> a) { return {-abs(a).v}; }
// select_neg(s, a, b): a where the sign bit of s is set, else b.
LK_V Vec1<T, U> select_neg(Vec1<T, U> s, Vec1<T, U> a, Vec1<T, U> b) { return std::signbit(s.v) ? a : b; }
LK_V M lt(Vec1<T, U> a, Vec1<T, U> b) { return {a.v < b.v}; }
LK_V M le(Vec1<T, U> a, Vec1<T, U> b) { return {a.v <= b.v}; }
LK_V M nge(Vec1<T, U> a, Vec1<T, U> b) { return {!(a.v >= b.v)}; }
LK_V M eq(Vec1<T, U> a, Vec1<T, U> b) { return {a.v == b.v}; }
LK_V M isnan(Vec1<T, U> a) { return {a.v != a.v}; }
LK_V Vec1<T, U> select(M m, Vec1<T, U> a, Vec1<T, U> b) { return m.m ? a : b; }
LK_V Vec1<T, U> mask_zero(M m, Vec1<T, U> a) { return m.m ? a : Vec1<T, U>{T(0)}; }
LK_V T hmax(Vec1<T, U> a) { return a.v; }
LK_V T hmin(Vec1<T, U> a) { return a.v; }
LK_V double hsum(Vec1<T, U> a) { return double(a.v); }
LK_V I<U> bits(Vec1<T, U> a) {
  I<U> i;
  std::memcpy(&i.i, &a.v, sizeof(T));
  return i;
}
#undef LK_V
inline M mask_or(M a, M b) { return {a.m || b.m}; }
inline M mask_and(M a, M b) { return {a.m && b.m}; }
inline M mask_not(M a) { return {!a.m}; }
inline bool any(M m) { return m.m; }
template <class U> inline I<U> slli(I<U> a, int n) { return {U(a.i << n)}; }
template <class U> inline I<U> srli(I<U> a, int n) { return {U(a.i >> n)}; }
template <class U> inline I<U> iadd(I<U> a, I<U> b) { return {U(a.i + b.i)}; }
template <class U> inline I<U> isub(I<U> a, I<U> b) { return {U(a.i - b.i)}; }

// Sums of float lanes are kept in double (docs/numerics.md, "Max-relative sum", step 3).
struct AccF {
  double a = 0;
};
inline void acc_add(AccF& acc, VF x) { acc.a += double(x.v); }
inline void acc_add_mem(AccF& acc, const float* p) { acc.a += double(*p); }
inline double acc_sum(const AccF& acc) { return acc.a; }
struct AccD {
  double a = 0;
};
inline void acc_add(AccD& acc, VD x) { acc.a += x.v; }
inline double acc_sum(const AccD& acc) { return acc.a; }

inline AccF acc_make(VF) { return {}; }
inline AccD acc_make(VD) { return {}; }

}  // namespace simd::scalar
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
