// Elementwise kernels over contiguous arrays: sigmoid, log_sigmoid, softplus.
//
// All three start from e = exp(-|x|) in (0, 1], which never overflows (docs/numerics.md,
// "Sigmoid, log-sigmoid, softplus"):
//   sigmoid(x)     = 1/(1 + exp(-x)) for |x| <= 87 (708 double); beyond, 1/(1 + e) for x >= 0 and
//                    e/(1 + e) for x < 0 (subnormal results exact)
//   log_sigmoid(x) = -(log1p(e) - min(x, 0))                       (both terms have the same sign)
//   softplus(x)    = max(x, 0) + log1p(e)
// log1p(e) is math::log1p_exp_term: a division-free polynomial in float lanes with FMA (<= 1.243
// ulp), log1p_unit elsewhere (<= 1.05 ulp float, 1.0 double).
// Error: exp <= 0.9 ulp, log1p <= 1.243 ulp, then at most two roundings; the tests assert the
// bounds of docs/numerics.md, "Error bounds" (3 ulp float, 4 ulp double) over the whole range, subnormal results included.
// Special values: NaN -> NaN; sigmoid(±inf) = 1, 0; log_sigmoid(+inf) = -0, (-inf) = -inf;
// softplus(+inf) = +inf, (-inf) = 0.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>

#include "../math/exp.hpp"
#include "../math/log1p.hpp"
#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Lane-exact over the whole range: 1/(1 + exp(-x)) where |x| <= fast range (the bulk loop's
// formula, so that a lane's result never depends on its neighbours), else e/(1 + e) or 1/(1 + e)
// with e = exp(-|x|) (subnormal results for x < -87 in float, 0 and 1 at the ends, NaN kept).
template <class V>
inline V sigmoid_v(V x) {
  using T = scalar_t<V>;
  using EC = math::exp_consts<T>;
  const V one = V::set1(T(1));
  V e = math::exp_neg(neg_abs(x));
  V wide = select_neg(x, e, one) / (one + e);  // x < 0 (or -0): e/(1 + e), else 1/(1 + e)
  const auto in = le(abs(x), V::set1(-EC::fast_lo));  // false for NaN
  if (!any(in)) return wide;
  V E = math::exp(mask_zero(in, neg(x)));
  return select(in, one / (one + E), wide);
}

template <class V>
inline V log_sigmoid_v(V x) {
  V e = math::exp_neg(neg_abs(x));
  // min(0, x): the constant first, so a NaN x is returned (x86 rule); neg() makes +inf give -0.
  return neg(math::log1p_exp_term(e) - min(V::zero(), x));
}

template <class V>
inline V softplus_v(V x) {
  V e = math::exp_neg(neg_abs(x));
  return max(V::zero(), x) + math::log1p_exp_term(e);
}

// Applies f lane-wise over n contiguous elements (in place allowed: y == x). With STREAM, y is
// aligned to 64 bytes and its whole vectors are stored non-temporally (elementwise_stream_split).
template <class V, bool STREAM = false, class F>
inline void map_unary(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, F f) {
  constexpr std::size_t W = V::size;
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V a = V::load(x + i), b = V::load(x + i + W);
    store_or_stream<STREAM>(y + i, f(a));
    store_or_stream<STREAM>(y + i + W, f(b));
  }
  for (; i + W <= n; i += W) store_or_stream<STREAM>(y + i, f(V::load(x + i)));
  if (i < n) store_partial(y + i, f(load_partial<V>(x + i, n - i, scalar_t<V>(0))), n - i);
}
// map_unary over the whole output, streamed where it is large (elementwise_stream_split).
template <class V, class F>
inline void map_unary_out(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, F f) {
  elementwise_stream_split<V>(y, n, x == y, [&](auto stream, std::size_t i, std::size_t m) {
    map_unary<V, decltype(stream)::value>(x + i, y + i, m, f);
  });
}

// out = f(a, b) lane-wise; out may equal a or b. Large outputs stream (elementwise_stream_split).
template <class V, class F>
inline void map_binary(const scalar_t<V>* a, const scalar_t<V>* b, scalar_t<V>* y, std::size_t n, F f) {
  using T = scalar_t<V>;
  const auto at = [&](std::size_t i, std::size_t m) LOGITKIT_INLINE {
    if (m == V::size) return f(V::load(a + i), V::load(b + i));
    return f(load_partial<V>(a + i, m, T(0)), load_partial<V>(b + i, m, T(0)));
  };
  elementwise_stream_split<V>(y, n, y == a || y == b, [&](auto stream, std::size_t i, std::size_t m) {
    store_vectors<decltype(stream)::value, V>(y, i, i + m, at);
  });
}

// The bulk of sigmoid: four vectors share one range check (every -|x| >= fast_lo: exp's result is
// normal and needs no wide scaling), the common case; other groups take sigmoid_v lane-exactly.
template <class V, bool STREAM>
inline void sigmoid_t(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
  using T = scalar_t<V>;
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  const V one = V::set1(T(1)), hi = V::set1(-EC::fast_lo);
  // |x| <= 87 (float) / 708 (double) here, so E = exp(-x) is a normal number either side of 0 and
  // sigmoid = 1/(1 + E) needs neither |x| nor a select (fewer operations than e/(1 + e); the
  // sigmoid is bound by the FMA ports). Three roundings (exp, 1 + E, the division); 1 + E rounds at
  // E's ulp when E is near 2^24, which stays within the 3 ulp bound over every float32 in [-87, 87].
  auto fast = [&](V a) LOGITKIT_INLINE {
    V z;
    V p = math::exp_poly<V, false, true>(a, V::zero(), z);  // exp_poly(-a) without negating a (the same bits: exp_poly's NEG)
    V E = p * V::from_bits(slli(bits(z), EC::mant_bits));
    return one / (one + E);
  };
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    V a0 = V::load(x + i), a1 = V::load(x + i + W), a2 = V::load(x + i + 2 * W), a3 = V::load(x + i + 3 * W);
    // some lane has |a| > -fast_lo or is NaN: those groups take the lane-exact path
    if (any_abs_beyond4(a0, a1, a2, a3, hi)) {
      store_or_stream<STREAM>(y + i, sigmoid_v(a0));
      store_or_stream<STREAM>(y + i + W, sigmoid_v(a1));
      store_or_stream<STREAM>(y + i + 2 * W, sigmoid_v(a2));
      store_or_stream<STREAM>(y + i + 3 * W, sigmoid_v(a3));
    } else {
      store_or_stream<STREAM>(y + i, fast(a0));
      store_or_stream<STREAM>(y + i + W, fast(a1));
      store_or_stream<STREAM>(y + i + 2 * W, fast(a2));
      store_or_stream<STREAM>(y + i + 3 * W, fast(a3));
    }
  }
  map_unary<V, STREAM>(x + i, y + i, n - i, [](V a) { return sigmoid_v(a); });
}
// (a lane's result does not depend on which loop or group took it: the split is free)
template <class V>
inline void sigmoid(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
  elementwise_stream_split<V>(y, n, x == y, [&](auto stream, std::size_t i, std::size_t m) {
    sigmoid_t<V, decltype(stream)::value>(x + i, y + i, m);
  });
}
template <class V>
inline void log_sigmoid(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
  map_unary_out<V>(x, y, n, [](V a) { return log_sigmoid_v(a); });
}
template <class V>
inline void softplus(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n) {
  map_unary_out<V>(x, y, n, [](V a) { return softplus_v(a); });
}

// Backward rules of the elementwise functions (docs/numerics.md, "Backward rules"):
//   sigmoid:     grad_in = g·y·(1 - y), y = sigmoid(x)
//   log_sigmoid: grad_in = g·sigmoid(-x)
template <class V>
inline void sigmoid_backward(const scalar_t<V>* g, const scalar_t<V>* y, scalar_t<V>* out, std::size_t n) {
  const V one = V::set1(scalar_t<V>(1));
  map_binary<V>(g, y, out, n, [one](V gv, V yv) { return gv * (yv * (one - yv)); });
}
template <class V>
inline void log_sigmoid_backward(const scalar_t<V>* g, const scalar_t<V>* x, scalar_t<V>* out, std::size_t n) {
  map_binary<V>(g, x, out, n, [](V gv, V xv) { return gv * sigmoid_v(neg(xv)); });
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
