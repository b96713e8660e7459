// Entropy and KL divergence of Bernoulli distributions straight from logits, elementwise (the
// multi-label forms of kernels/divergence.hpp; docs/numerics.md, "Entropy and divergences").
//
// The scalar forms compute in double, for float and double inputs alike: x/T is carried as a pair
// h + l (l = the quotient's rounding error, 0 for T = 1), so that a logit of 40 at a temperature
// keeps the relative accuracy of sigmoid(-40) ≈ 4e-18. The entropy's common case, e = e^-|x/T|
// normal, runs in vector lanes with the same formulas (binary_detail::entropy_lanes): float lanes
// for float32 at T = 1, double lanes otherwise (float32 widened: its x/T needs no pair); every other
// element, and the KL, takes the scalar form.
//
// Binary entropy of p = sigmoid(a), by symmetry (H(a) = H(-a)) with a = |x/T| >= 0 and e = e^-a:
//   H = log1p(e) + a·e/(1 + e)
// two non-negative terms (no cancellation; H(40) ≈ 41·e^-40 ≈ 1.7e-16, not 0). Its derivative is
// dH/da = -a·σ(a)·σ(-a), which also corrects H for l: H(h + l) = H(h) + H'(h)·l.
//
// Binary KL(Bern(σ(a)) ‖ Bern(σ(b))), a, b the logits over T: the two-class case of the softmax KL
// (rows (a, 0) and (b, 0)), with the same form: δ = a - b, p = σ(a), r = 1 - p = σ(-a),
//   u1 = -r·δ (weight p),  u2 = p·δ (weight r),  p·u1 + r·u2 = 0,
//   KL = log(p·e^u1 + r·e^u2) = log1p(F),  F = p·φ(u1) + r·φ(u2),  φ(u) = e^u - 1 - u >= 0.
// Never negative, exactly 0 for a = b, and as accurate for a KL of 1e-30 as for one of 1. The
// function is even under (a, b) -> (-a, -b), so a >= 0 is taken (p >= 1/2, r = e/(1 + e)). φ is a
// Taylor series for |u| <= 1; for u < -1, (e^u - 1) - u is a sum of positive terms; for u > 1 the
// weighted term is e^w - w8·(1 + u) with w = log(w8·e^u) formed without the cancellation of its
// parts (w2 = -b - log1p(e) + u1, since log r + p·δ = -a - log1p(e) + δ - r·δ), at most a 3.8-fold
// cancellation. When some e^w would overflow the divergence is above 700 and KL = max w +
// log1p(e^(min w - max w)). The gradient with respect to b is σ(b) - σ(a): σ(a)·σ(-b)·(-expm1(δ))
// for |δ| <= 1 (no cancellation), else the difference of the two sigmoids on the side where they
// are small.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "../math/exp.hpp"
#include "../math/libm.hpp"
#include "../math/log1p.hpp"
#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

namespace binary_detail {

// Classification without <cmath>'s inline functions: a weak symbol shared by the per-ISA objects
// would let the linker keep one ISA's copy for all (tests/test_isa_symbols.py).
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
inline bool is_nan(double v) { return v != v; }
inline bool is_inf(double v) { return v == inf || v == -inf; }
inline bool is_finite(double v) { return v - v == 0; }

// v·(g/T), a derivative with respect to z = x/T turned into one with respect to x: through the
// quotient g/T where it is finite; where it overflows (T subnormal), as (v·g)/T, so that a
// derivative that is exactly 0 stays 0 (not 0·inf) and any other is its value or ±inf.
inline double times_g_over_t(double v, double g, double temp) {
  const double gs = g / temp;
  return is_finite(gs) ? v * gs : (v * g) / temp;
}

// x/T as h + l (l: the rounding error of the quotient; 0 for T = 1 or a non-finite quotient).
inline double quotient(double x, double temp, double& l) {
  if (temp == 1.0) {
    l = 0;
    return x;
  }
  const double h = x / temp;
  l = is_finite(h) ? std::fma(-h, temp, x) / temp : 0.0;
  return h;
}

// σ(h + l), l small beside h (a pair's low part): σ(h)·(1 + σ(-h)·l).
inline double sig(double h, double l) {
  const double e = std::exp(-std::fabs(h)), d = 1 + e;
  const double sp = h >= 0 ? 1 / d : e / d, sm = h >= 0 ? e / d : 1 / d;
  return l != 0 ? sp + sp * sm * l : sp;
}

// σ(a) with a = h + l, a >= 0: p = σ(a), r = σ(-a) = 1 - p, lp = log p, lr = log r, e = e^-h.
struct Sig {
  double p, r, lp, lr, e;
};
inline Sig sig_pos(double h, double l) {
  Sig s;
  s.e = std::exp(-h);
  const double d = 1 + s.e, l1 = std::log1p(s.e);
  s.p = 1 / d;
  s.r = s.e / d;
  s.lp = -l1;
  s.lr = -h - l1;
  if (l != 0) {  // first-order correction for the low part: dp = p·r·l, d log p = r·l, d log r = -p·l
    const double pr = s.p * s.r * l;
    s.p += pr;
    s.r -= pr;
    s.lp += s.r * l;
    s.lr -= s.p * l;
  }
  return s;
}

// φ(u) = e^u - 1 - u for |u| <= 1, by its Taylor series to double precision.
inline double phi_series(double u) {
  double term = u * u / 2, sum = 0;
  for (int j = 3; j < 24 && term != 0; ++j) {
    sum += term;
    term *= u / double(j);
  }
  return sum;
}

// wt·φ(u), given w = log(wt·e^u) = wh + wl (used for u > 1, where e^u alone may overflow; the pair
// keeps e^w's relative accuracy where w is large and negative, a tiny term of a tiny divergence).
inline double weighted_phi(double wt, double u, double wh, double wl) {
  if (u > 1) {  // wt may underflow to 0 where wt·e^u does not
    const double w = wh + wl, err = (wh - w) + wl;
    return std::exp(w) * (1 + err) - wt * (1 + u);
  }
  if (wt == 0) return 0;
  if (u < -1) return wt * (std::expm1(u) - u);
  return wt * phi_series(u);
}

}  // namespace binary_detail

// The binary entropy of one element a = x/T (h + l): H in nats; dH/dx into *grad (times g/T).
inline double binary_entropy_one(double x, double temp, double g, double* grad) {
  if (binary_detail::is_nan(x)) {
    if (grad) *grad = x;
    return x;
  }
  double l;
  const double h0 = binary_detail::quotient(x, temp, l);
  if (binary_detail::is_inf(h0)) {  // a one-hot limit
    if (grad) *grad = 0;
    return 0;
  }
  const double a = std::fabs(h0), la = h0 < 0 ? -l : l;
  const double e = std::exp(-a), d = 1 + e, sp = 1 / d, sm = e / d;  // σ(a), σ(-a)
  const double dH = -a * sp * sm;                                      // dH/da
  double H;
  if (a > 700) {
    // e = e^-a is subnormal: H = (1 + a)·e^-a = e^(log1p(a) - a), the exponent as an exact pair
    // (the product a·e would multiply e's rounding error by a)
    // (where e^s is 0, a is past exp's range, and a·la could overflow: a near double's largest)
    const double L = std::log1p(a), s = L - a, bb = s - L, err = (L - (s - bb)) + (-a - bb);
    const double E = std::exp(s);
    H = E == 0 ? 0.0 : E * (1 + err - a * la / (1 + a));
  } else {
    H = std::log1p(e) + a * sm;
    if (la != 0) H += dH * la;
  }
  // dH/dx = -(x/T)·p·(1 - p)/T at x/T = h0 + l: d(z·p·r)/dz = p·r·(1 + z·(r - p))
  if (grad) {
    double apr;  // a·p·r at a + la (z·p·r is odd: at a = |z|)
    if (a > 700) {
      // p = 1 and r = e, which may be subnormal where a·e is not (a up to 714): a·e = e^(log a - a),
      // the exponent as an exact pair as for H, and la through d(a·e)/da = (1 - a)·e
      const double L = std::log(a), s = L - a, bb = s - L, err = (L - (s - bb)) + (-a - bb);
      const double E = std::exp(s);
      apr = E == 0 ? 0.0 : E * (1 + err + la * (1 - a) / a);
    } else {
      const double lz = la != 0 ? la * (1 + a * (sm - sp)) : 0.0;
      apr = a * sp * sm + sp * sm * lz;
    }
    *grad = binary_detail::times_g_over_t(-apr * (h0 < 0 ? -1.0 : 1.0), g, temp);
  }
  return H;
}

// The binary KL divergence of one element pair (teacher a, student b, both over T); dKL/db into
// *grad (times g/T).
inline double binary_kl_one(double xa, double xb, double temp, double g, double* grad) {
  using binary_detail::Sig;
  constexpr double inf = binary_detail::inf;
  if (binary_detail::is_nan(xa) || binary_detail::is_nan(xb)) {
    if (grad) *grad = binary_detail::nan;
    return binary_detail::nan;
  }
  double la, lb;
  double ha = binary_detail::quotient(xa, temp, la), hb = binary_detail::quotient(xb, temp, lb);
  // the gradient σ(b) - σ(a), in the original orientation, each σ(h + l) = σ(h)·(1 + σ(-h)·l)
  if (grad) {
    const double dd = (xa - xb) / temp;
    double q_minus_p;
    if (binary_detail::is_finite(ha) && binary_detail::is_finite(hb) && std::fabs(dd) <= 1)
      q_minus_p = binary_detail::sig(ha, la) * binary_detail::sig(-hb, -lb) * std::expm1(-dd);
    else if (ha + hb > 0)
      q_minus_p = binary_detail::sig(-ha, -la) - binary_detail::sig(-hb, -lb);
    else
      q_minus_p = binary_detail::sig(hb, lb) - binary_detail::sig(ha, la);
    *grad = binary_detail::times_g_over_t(q_minus_p, g, temp);
  }
  // infinite logits: the limits (p or q is exactly 0 or 1)
  if (binary_detail::is_inf(ha) || binary_detail::is_inf(hb)) {
    if (ha == hb) return 0;                  // both +inf or both -inf: the same point mass
    if (binary_detail::is_inf(hb)) return inf;          // q is 0 or 1 where p is not the same
    // p is a point mass (a = ±inf), q is not: KL = -log q(the class p picks) = softplus(∓b)
    const double z = ha > 0 ? -hb : hb;  // -log σ(b) = softplus(-b); -log σ(-b) = softplus(b)
    const double sp = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
    return sp;
  }
  // the even symmetry: take a >= 0
  if (ha < 0) {
    ha = -ha, la = -la, hb = -hb, lb = -lb;
    xa = -xa, xb = -xb;
  }
  const double delta = (xa - xb) / temp;
  const Sig s = binary_detail::sig_pos(ha, la);
  if (!binary_detail::is_finite(delta)) {
    // |a - b| beyond double's range (|b| near double's largest): b -> -inf gives KL ≈ p·(-b), q
    // -> 1 gives KL ≈ r·b - H(p)
    return delta > 0 ? s.p * -hb : s.r * hb + (s.p * s.lp + s.r * s.lr);
  }
  const double u1 = -s.r * delta, u2 = s.p * delta;
  const double l1 = std::log1p(s.e);
  // log(p·e^u1) and log(r·e^u2), each without the cancellation of its parts
  // log p + u1 (log p in [-log 2, 0]); log r + p·δ = -b - log1p(e) + r·l_a + u1 (b = hb + lb)
  const double w1 = s.lp + u1;
  const double w2h = -hb, w2l = (u1 - l1 + s.r * la) - lb, w2 = w2h + w2l;
  if (w1 > 700 || w2 > 700) {
    const double hi = w1 > w2 ? w1 : w2, lo = w1 > w2 ? w2 : w1;
    return hi + std::log1p(std::exp(lo - hi));
  }
  const double F = binary_detail::weighted_phi(s.p, u1, w1, 0) + binary_detail::weighted_phi(s.r, u2, w2h, w2l);
  const double kl = std::log1p(F);
  return kl > 0 ? kl : 0;
}

namespace binary_detail {

// binary_entropy_one's common case over vector lanes: the same formulas, with the vector exp and
// log1p (math/). Double lanes take a = |x/T| <= 700, float lanes (T = 1 only) a <= 87: e = e^-a
// is normal in both. DIV: T != 1, z = x/T; LO: z's rounding error l too (x - z·T is exact only with
// FMA), for float64 inputs (a float32 input's quotient in double is far more accurate than its
// result). G = (g/T)·dH/dx with gs = g/T. Returns the lanes that are not this case (NaN, ±inf, a
// beyond the range): their H and G are meaningless, and the caller redoes them.
template <class D, bool DIV, bool LO, bool GRAD>
LOGITKIT_INLINE inline auto entropy_lanes(D x, D temp, D gs, D& H, D& G) {
  using T = scalar_t<D>;
  static_assert(sizeof(T) == 8 || !DIV, "entropy_lanes: float lanes take T = 1 only");
  D z = x, la = D::zero();
  if constexpr (DIV) z = x / temp;
  const auto bad = nge(D::set1(sizeof(T) == 8 ? T(700) : T(87)), abs(z));
  const D a = mask_zero(mask_not(bad), abs(z));
  const auto neg_z = lt(z, D::zero());
  if constexpr (LO) {
    const D l = mask_zero(mask_not(bad), neg_mul_add(z, temp, x) / temp);
    la = select(neg_z, neg(l), l);  // the error of a = |z|
  }
  const D one = D::set1(T(1));
  const D e = math::exp_normal(neg(a)), sp = one / (one + e), sm = e * sp;  // σ(a), σ(-a)
  const D pr = sp * sm;
  H = mul_add(a, sm, math::log1p_exp_term(e));
  if constexpr (LO) H = mul_add(neg(a * pr), la, H);  // + dH/da·l
  if constexpr (GRAD) {
    // dH/dz = -z·σ(z)·σ(-z), odd in z: -sign(z)·(a·p·r), with l through d(a·p·r)/da = p·r·(1 + a·(r - p))
    D q = a * pr;
    if constexpr (LO) q = mul_add(pr, la * mul_add(a, sm - sp, one), q);
    G = q * select(neg_z, gs, neg(gs));
  }
  return bad;
}

template <class V>
void binary_entropy_scalar(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* h, scalar_t<V>* grad,
                           double temp) {
  using T = scalar_t<V>;
  for (std::size_t i = 0; i < n; ++i) {
    double gr = 0;
    const double v = binary_entropy_one(double(x[i]), temp, double(g), grad ? &gr : nullptr);
    if (grad) grad[i] = T(gr);
    h[i] = T(v);
  }
}

// V::size elements at a time through entropy_lanes (float lanes widened to double and narrowed
// back); the lanes it does not take are redone by binary_entropy_one, each from its own value, so
// that no element's result depends on its neighbours.
template <class V, bool DIV, bool GRAD>
void binary_entropy_vec(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* h, scalar_t<V>* grad,
                        double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  constexpr bool FLOAT = sizeof(T) == 4;
  using D = std::conditional_t<FLOAT, decltype(acc_make(V::zero()).a), V>;
  const D tv = D::set1(temp), gs = D::set1(double(g) / temp);
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t m = n - i < W ? n - i : W;
    const V v = m == W ? V::load(x + i) : load_partial<V>(x + i, m, T(0));
    V hv, gv = V::zero();
    bool redo;
    if constexpr (FLOAT && !DIV) {
      redo = any(entropy_lanes<V, false, false, GRAD>(v, V::zero(), V::set1(g), hv, gv));
    } else if constexpr (FLOAT) {
      auto w = acc_make(V::zero());  // v's lanes in double, exactly: 0 + v
      acc_add(w, v);
      D ha, hb, ga, gb;
      const auto bad_a = entropy_lanes<D, DIV, false, GRAD>(w.a, tv, gs, ha, ga);
      const auto bad_b = entropy_lanes<D, DIV, false, GRAD>(w.b, tv, gs, hb, gb);
      redo = any(mask_or(bad_a, bad_b));
      hv = narrow(ha, hb);
      if constexpr (GRAD) gv = narrow(ga, gb);
    } else {
      redo = any(entropy_lanes<D, DIV, DIV, GRAD>(v, tv, gs, hv, gv));
    }
    if (m == W) {
      store(h + i, hv);
      if constexpr (GRAD) store(grad + i, gv);
    } else {
      store_partial(h + i, hv, m);
      if constexpr (GRAD) store_partial(grad + i, gv, m);
    }
    if (redo) [[unlikely]] {
      alignas(64) T xs[W];  // the inputs, which h or grad may have overwritten
      store(xs, v);
      for (std::size_t j = 0; j < m; ++j) {
        const double z = DIV ? double(xs[j]) / temp : double(xs[j]);
        if (!(std::fabs(z) <= (FLOAT && !DIV ? 87 : 700)))
          binary_entropy_scalar<V>(xs + j, 1, g, h + i + j, GRAD ? grad + i + j : nullptr, temp);
      }
    }
  }
}

}  // namespace binary_detail

// Elementwise over n contiguous elements: h[i] = H(sigmoid(x[i]/T)), grad[i] = g·dH/dx (grad may be
// null; h or grad may equal x). The vector path takes every element except where g/T is not finite
// (T subnormal), or float64 at T != 1 without FMA (its quotient's error is not exact there): those
// calls, and the one-lane ISA, take binary_entropy_one throughout.
template <class V>
void binary_entropy_kernel(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* h, scalar_t<V>* grad,
                           double temp) {
  using T = scalar_t<V>;
  const bool div = temp != 1.0;
  if constexpr (V::size == 1) {
    binary_detail::binary_entropy_scalar<V>(x, n, g, h, grad, temp);
  } else if (!binary_detail::is_finite(double(g) / temp) || (sizeof(T) == 8 && div && !V::has_fma)) {
    binary_detail::binary_entropy_scalar<V>(x, n, g, h, grad, temp);
  } else if (div) {
    if (grad) binary_detail::binary_entropy_vec<V, true, true>(x, n, g, h, grad, temp);
    else binary_detail::binary_entropy_vec<V, true, false>(x, n, g, h, grad, temp);
  } else {
    if (grad) binary_detail::binary_entropy_vec<V, false, true>(x, n, g, h, grad, temp);
    else binary_detail::binary_entropy_vec<V, false, false>(x, n, g, h, grad, temp);
  }
}

// Elementwise over n contiguous pairs: kl[i] = KL(Bern(σ(p[i]/T)) ‖ Bern(σ(q[i]/T))), grad[i] =
// g·dKL/dq (grad may be null; kl or grad may equal p or q).
template <class V>
void binary_kl_kernel(const scalar_t<V>* p, const scalar_t<V>* q, std::size_t n, scalar_t<V> g, scalar_t<V>* kl,
                      scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  for (std::size_t i = 0; i < n; ++i) {
    double gr = 0;
    const double v = binary_kl_one(double(p[i]), double(q[i]), temp, double(g), grad ? &gr : nullptr);
    if (grad) grad[i] = T(gr);
    kl[i] = T(v);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
