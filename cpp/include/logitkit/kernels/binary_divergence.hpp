// Entropy and KL divergence of Bernoulli distributions straight from logits, elementwise (the
// multi-label forms of kernels/divergence.hpp; docs/numerics.md, "Entropy and divergences").
//
// The scalar forms compute in double, for float and double inputs alike: x/T is carried as a pair
// h + l (l = the quotient's rounding error, 0 for T = 1), so that a logit of 40 at a temperature
// keeps the relative accuracy of sigmoid(-40) ≈ 4e-18. The common cases run in vector lanes with
// the same formulas: the entropy where e = e^-|x/T| is normal (binary_detail::entropy_lanes: float
// lanes for float32 at T = 1, double lanes otherwise), the KL where |a|, |b| <= 700 for float32 at
// any T and float64 at T = 1 (binary_detail::kl_lanes, double lanes); float32 is widened, its x/T
// in double needing no pair. Every other element takes the scalar form.
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
// weighted term is e^w - wt·(1 + u) with w = log(wt·e^u) formed without the cancellation of its
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
#include "../math/log.hpp"
#include "common.hpp"
#include "phi.hpp"
#include "row/basics.hpp"

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
// quotient g/T where it is finite; where it overflows (T subnormal, or a huge g), as (v·g)/T, so
// that a derivative that is exactly 0 stays 0 (not 0·inf) and any other is its value or ±inf.
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
    // dH/dz = -z·σ(z)·σ(-z), odd in z: -sign(z)·(a·p·r), with l through
    // d(a·p·r)/da = p·r·(1 + a·(r - p))
    D q = a * pr;
    if constexpr (LO) q = mul_add(pr, la * mul_add(a, sm - sp, one), q);
    G = q * select(neg_z, gs, neg(gs));
  }
  return bad;
}

// m <= V::size elements at p (an array's tail: the missing lanes 0).
template <class V>
LOGITKIT_INLINE inline V load_upto(const scalar_t<V>* p, std::size_t m) {
  return m == V::size ? V::load(p) : load_partial<V>(p, m, scalar_t<V>(0));
}

// The lanes of a vector of V that the vector functions flag for binary_*_one to redo: one mask of
// V's lanes, or two of double lanes (float lanes widened: the first half, then the second).
template <class V>
struct Redo {
  bool found = false;
  alignas(64) scalar_t<V> f[V::size];
  template <class M>
  void mark(M bad) {
    found = any(bad);
    if (found) store(f, mask_zero(bad, V::set1(scalar_t<V>(1))));
  }
  template <class M>
  void mark(M bad0, M bad1) {  // (M: the masks of double lanes)
    found = any(mask_or(bad0, bad1));
    if (!found) return;
    using D = wide_lanes_t<V>;
    alignas(64) double d[V::size];
    store(d, mask_zero(bad0, D::set1(1.0)));
    store(d + D::size, mask_zero(bad1, D::set1(1.0)));
    for (std::size_t j = 0; j < V::size; ++j) f[j] = scalar_t<V>(d[j]);
  }
  bool lane(std::size_t j) const { return f[j] != 0; }
};

// A vector of results and, with GRAD, of gradients: m of each (m < V::size: an array's tail).
template <class V, bool GRAD>
LOGITKIT_INLINE inline void store_results(scalar_t<V>* v, scalar_t<V>* grad, std::size_t m, V vv, V gv) {
  if (m == V::size) {
    store(v, vv);
    if constexpr (GRAD) store(grad, gv);
  } else {
    store_partial(v, vv, m);
    if constexpr (GRAD) store_partial(grad, gv, m);
  }
}

template <class V>
void binary_entropy_each(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* h, scalar_t<V>* grad,
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
  using D = wide_lanes_t<V>;
  const D tv = D::set1(temp), gs = D::set1(double(g) / temp);
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t m = n - i < W ? n - i : W;
    const V v = load_upto<V>(x + i, m);
    V hv, gv = V::zero();
    Redo<V> redo;
    if constexpr (FLOAT && !DIV) {
      redo.mark(entropy_lanes<V, false, false, GRAD>(v, V::zero(), V::set1(g), hv, gv));
    } else if constexpr (FLOAT) {
      auto w = acc_make(V::zero());  // v's lanes in double, exactly: 0 + v
      acc_add(w, v);
      D ha, hb, ga, gb;
      redo.mark(entropy_lanes<D, DIV, false, GRAD>(w.a, tv, gs, ha, ga),
                entropy_lanes<D, DIV, false, GRAD>(w.b, tv, gs, hb, gb));
      hv = narrow(ha, hb);
      if constexpr (GRAD) gv = narrow(ga, gb);
    } else {
      redo.mark(entropy_lanes<D, DIV, DIV, GRAD>(v, tv, gs, hv, gv));
    }
    store_results<V, GRAD>(h + i, GRAD ? grad + i : nullptr, m, hv, gv);
    if (redo.found) [[unlikely]] {
      alignas(64) T xs[W];  // the inputs, which h or grad may have overwritten
      store(xs, v);
      for (std::size_t j = 0; j < m; ++j)
        if (redo.lane(j)) binary_entropy_each<V>(xs + j, 1, g, h + i + j, GRAD ? grad + i + j : nullptr, temp);
    }
  }
}

}  // namespace binary_detail

// Elementwise over n contiguous elements: h[i] = H(sigmoid(x[i]/T)), grad[i] = g·dH/dx (grad may be
// null; h or grad may equal x). The vector path takes every element except where g/T is not finite
// (T subnormal, or a huge g from a C++ caller), or float64 at T != 1 without FMA (its quotient's
// error is not exact there): those calls, and the one-lane ISA, take binary_entropy_one throughout.
template <class V>
void binary_entropy_kernel(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* h, scalar_t<V>* grad,
                           double temp) {
  using T = scalar_t<V>;
  const bool div = temp != 1.0;
  if constexpr (V::size == 1) {
    binary_detail::binary_entropy_each<V>(x, n, g, h, grad, temp);
  } else if (!binary_detail::is_finite(double(g) / temp) || (sizeof(T) == 8 && div && !V::has_fma)) {
    binary_detail::binary_entropy_each<V>(x, n, g, h, grad, temp);
  } else if (div) {
    if (grad) binary_detail::binary_entropy_vec<V, true, true>(x, n, g, h, grad, temp);
    else binary_detail::binary_entropy_vec<V, true, false>(x, n, g, h, grad, temp);
  } else {
    if (grad) binary_detail::binary_entropy_vec<V, false, true>(x, n, g, h, grad, temp);
    else binary_detail::binary_entropy_vec<V, false, false>(x, n, g, h, grad, temp);
  }
}

namespace binary_detail {

// wt·φ(u) in lanes, as weighted_phi: wt·φ(u) by the series for |u| <= 1, wt·((e^u - 1) - u) below
// -1, e^w·(1 + err) - wt·(1 + u) above 1 with w = wh + wl and err its rounding (w <= 700 there):
// one exp serves both sides, e^u or e^w·(1 + err) by lane.
template <class D, class R>
LOGITKIT_INLINE inline D weighted_phi_lanes(D wt, D u, D wh, D wl) {
  const D one = D::set1(1.0);
  D t = wt * phi_small<D, R>(min(one, max(neg(one), u)));
  const auto above = lt(one, u), below = lt(u, neg(one));
  if (any(mask_or(above, below))) {
    const D w = wh + wl, err = (wh - w) + wl;
    const D E = math::exp_any<D, true, true>(select(above, w, mask_zero(below, u)), mask_zero(above, err));
    t = select(below, wt * ((E - one) - u), t);
    t = select(above, E - wt * (one + u), t);
  }
  return t;
}

// binary_kl_one's common case over double lanes: |a|, |b| <= 700 (a, b the logits over T, with no
// low parts: T = 1, or float32 inputs, whose quotient in double is far more accurate than their
// result). The same formulas, with the vector exp, log1p and φ (expm1(v) = v + φ(v) for the
// gradient's |δ| <= 1). Returns the lanes that are not this case: their KL and G are meaningless,
// and the caller redoes them.
template <class D, class R, bool DIV, bool GRAD>
LOGITKIT_INLINE inline auto kl_lanes(D xa, D xb, D temp, D gs, D& KL, D& G) {
  // the series' terms for a result of R's precision (float: far inside its rounding)
  constexpr int NR = sizeof(R) == 4 ? math::log_terms_for_float : math::log1p_consts<double>::nR;
  const D one = D::set1(1.0), zero = D::zero(), lim = D::set1(700.0);
  D ha = xa, hb = xb, dd = xa - xb;  // dd: δ = a - b in the original orientation
  if constexpr (DIV) ha = xa / temp, hb = xb / temp, dd = dd / temp;
  const auto bad = mask_or(nge(lim, abs(ha)), nge(lim, abs(hb)));
  const auto ok = mask_not(bad);
  ha = mask_zero(ok, ha), hb = mask_zero(ok, hb), dd = mask_zero(ok, dd);
  const D ea = math::exp_normal(neg(abs(ha)));
  const D pa = one / (one + ea), ra = ea * pa;  // σ(|a|), σ(-|a|)
  if constexpr (GRAD) {
    // σ(b) - σ(a): σ(a)·σ(-b)·expm1(-δ) for |δ| <= 1; else the difference of the two sigmoids
    // on the side where both are small
    const D eb = math::exp_normal(neg(abs(hb)));
    const D pb = one / (one + eb), rb = eb * pb;
    const auto na = lt(ha, zero), nb = lt(hb, zero);
    const D sa = select(na, ra, pa), sma = select(na, pa, ra), sb = select(nb, rb, pb), smb = select(nb, pb, rb);
    const D v = neg(min(one, max(neg(one), dd)));
    const D em1 = select(eq(v, zero), v, v + phi_small<D, R>(v));  // expm1(v), -0 kept as -0
    const D near = sa * smb * em1;
    const D far = select(lt(zero, ha + hb), sma - smb, sb - sa);
    G = select(le(abs(dd), one), near, far) * gs;
  }
  // the even symmetry: a >= 0
  const auto flip = lt(ha, zero);
  const D b = select(flip, neg(hb), hb), delta = select(flip, neg(dd), dd);
  const D l1 = math::log1p_unit<D, NR>(ea);
  const D u1 = neg(ra * delta), u2 = pa * delta;
  // log p + u1, and log r + p·δ = -b - log1p(e) + u1; both <= 700 (u1 = r·(b - a) <= 350 with
  // r <= 1/2, and u1 <= 0 where b < 0), so the scalar form's closed form above 700 is never needed
  const D w1 = u1 - l1, w2h = neg(b);  // (w2's low part, u1 - log1p(e), is w1)
  const D F = weighted_phi_lanes<D, R>(pa, u1, w1, zero) + weighted_phi_lanes<D, R>(ra, u2, w2h, w1);
  KL = max(math::log_k_plus<D, NR>(one, F), zero);
  return bad;
}

template <class V>
void binary_kl_each(const scalar_t<V>* p, const scalar_t<V>* q, std::size_t n, scalar_t<V> g, scalar_t<V>* kl,
                      scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  for (std::size_t i = 0; i < n; ++i) {
    double gr = 0;
    const double v = binary_kl_one(double(p[i]), double(q[i]), temp, double(g), grad ? &gr : nullptr);
    if (grad) grad[i] = T(gr);
    kl[i] = T(v);
  }
}

// V::size pairs at a time through kl_lanes (float lanes widened to double and narrowed back); the
// lanes it does not take are redone by binary_kl_one, each from its own pair.
template <class V, bool DIV, bool GRAD>
void binary_kl_vec(const scalar_t<V>* p, const scalar_t<V>* q, std::size_t n, scalar_t<V> g, scalar_t<V>* kl,
                   scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  constexpr bool FLOAT = sizeof(T) == 4;
  using D = wide_lanes_t<V>;
  const D tv = D::set1(temp), gs = D::set1(double(g) / temp);
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t m = n - i < W ? n - i : W;
    const V a = load_upto<V>(p + i, m), b = load_upto<V>(q + i, m);
    V kv, gv = V::zero();
    Redo<V> redo;
    if constexpr (FLOAT) {
      auto wa = acc_make(V::zero()), wb = acc_make(V::zero());  // the lanes in double, exactly: 0 + v
      acc_add(wa, a), acc_add(wb, b);
      D k0, k1, g0, g1;
      redo.mark(kl_lanes<D, float, DIV, GRAD>(wa.a, wb.a, tv, gs, k0, g0),
                kl_lanes<D, float, DIV, GRAD>(wa.b, wb.b, tv, gs, k1, g1));
      kv = narrow(k0, k1);
      if constexpr (GRAD) gv = narrow(g0, g1);
    } else {
      redo.mark(kl_lanes<D, double, DIV, GRAD>(a, b, tv, gs, kv, gv));
    }
    store_results<V, GRAD>(kl + i, GRAD ? grad + i : nullptr, m, kv, gv);
    if (redo.found) [[unlikely]] {
      alignas(64) T as[W], bs[W];  // the inputs, which kl or grad may have overwritten
      store(as, a), store(bs, b);
      for (std::size_t j = 0; j < m; ++j)
        if (redo.lane(j)) binary_kl_each<V>(as + j, bs + j, 1, g, kl + i + j, GRAD ? grad + i + j : nullptr, temp);
    }
  }
}

}  // namespace binary_detail

// Elementwise over n contiguous pairs: kl[i] = KL(Bern(σ(p[i]/T)) ‖ Bern(σ(q[i]/T))), grad[i] =
// g·dKL/dq (grad may be null; kl or grad may equal p or q). The vector path takes float32 at any
// temperature and float64 at T = 1 (where x/T needs no low part), unless g/T is not finite (T
// subnormal, or a huge g from a C++ caller); other calls, and the one-lane ISA, take binary_kl_one
// throughout.
template <class V>
void binary_kl_kernel(const scalar_t<V>* p, const scalar_t<V>* q, std::size_t n, scalar_t<V> g, scalar_t<V>* kl,
                      scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  const bool div = temp != 1.0;
  if constexpr (V::size == 1) {
    binary_detail::binary_kl_each<V>(p, q, n, g, kl, grad, temp);
  } else if (!binary_detail::is_finite(double(g) / temp) || (sizeof(T) == 8 && div)) {
    binary_detail::binary_kl_each<V>(p, q, n, g, kl, grad, temp);
  } else if (div) {
    if (grad) binary_detail::binary_kl_vec<V, true, true>(p, q, n, g, kl, grad, temp);
    else binary_detail::binary_kl_vec<V, true, false>(p, q, n, g, kl, grad, temp);
  } else {
    if (grad) binary_detail::binary_kl_vec<V, false, true>(p, q, n, g, kl, grad, temp);
    else binary_detail::binary_kl_vec<V, false, false>(p, q, n, g, kl, grad, temp);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
