// Cross-entropy's cancellation fix-up: the gradient of a row recomputed in double-length arithmetic
// (exp_dd: float-float or double-double) where the fast passes flagged an entry p_c·Σa - a_c that
// cancels (docs/numerics.md, "Cross-entropy").
//
// Chosen by losses.hpp after either path when a gradient entry was flagged: |u| < 0.75·p·Σa (where
// 8 ulp of u may be less than the fast path's error of about 5·2^-p·p·Σa) and p·Σa above
// ce_cancel_threshold (where that error could exceed the bound max(8 ulp, 2^-p·max(1, |g|·Σa))).
// About three times the work of the row; with reduction 'mean' over more than 8 items no entry can
// be flagged.
//
// Invariant: the recomputation reads the logits, never the gradient: an in-place gradient
// (grad == x) works from a per-thread copy (RowScratch); without one the row keeps its fast-path
// gradient.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "../../math/exp_dd.hpp"
#include "../../math/libm.hpp"
#include "../common.hpp"
#include "../row/basics.hpp"
#include "../row/scratch.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The flag threshold on p_c·Σa (bracket units, before the scale g): the fast path's error, at most
// about 5·2^-p·p_c·Σa, can exceed the absolute bound 2^-p·max(1, |g|·Σa)/|g| only above it.
// Infinite (no flags) for g = 0.
template <class V>
inline scalar_t<V> ce_cancel_threshold(double g, double A) {
  using T = scalar_t<V>;
  constexpr double T_max = double(std::numeric_limits<T>::max());
  const double ag = math::libm_fabs(g);
  if (!(ag > 0) || !(A > 0)) return lim<V>::inf;
  const double agA = ag * A;
  const double thr = (1.0 < agA ? agA : 1.0) / (8.0 * ag);  // max(1, |g|·Σa) / (8·|g|)
  return thr < T_max ? T(thr) : lim<V>::inf;
}

template <class V>
inline RowScratch<scalar_t<V>>& ce_scratch() {
  thread_local RowScratch<scalar_t<V>> scratch;
  return scratch;
}

// The cancellation fix-up's setup for one row: the flag threshold, infinite where no entry can be
// flagged (no gradient, g = 0, or thr >= Σa = A since p <= 1: the passes then skip the check), and
// whether a flagged row can be recomputed. An in-place gradient (grad == x) gets a per-thread copy
// of the logits in x, since ce_grad_accurate reads them again; without one the row keeps its
// fast-path gradient. The copy is released (if large) when the CeFix goes out of scope, at the end
// of the row.
template <class V>
struct CeFix {
  scalar_t<V> thr;
  bool can_fix;
  bool copied = false;  // x points at ce_scratch's buffer
  ~CeFix() {
    if (copied) ce_scratch<V>().release_if_large();
  }
};
template <class V>
inline CeFix<V> ce_fix_setup(const scalar_t<V>*& x, std::size_t n, scalar_t<V>* grad, double g, double A) {
  using T = scalar_t<V>;
  const T thr = grad ? ce_cancel_threshold<V>(g, A) : lim<V>::inf;
  if (!(double(thr) < A)) return {lim<V>::inf, false};
  if (grad == x) {
    T* copy = ce_scratch<V>().get(n);
    if (!copy) return {lim<V>::inf, false};
    for (std::size_t i = 0; i < n; ++i) copy[i] = x[i];
    x = copy;
    return {thr, true, true};
  }
  return {thr, true};
}

// Sums the lanes of a double-length vector sum (hi + lo lanes) in double-length scalar arithmetic.
template <class V>
inline void dd_hsum(V hi, V lo, scalar_t<V>& sh, scalar_t<V>& sl) {
  using T = scalar_t<V>;
  alignas(64) T bh[V::size], bl[V::size];
  store(bh, hi);
  store(bl, lo);
  T h = 0, l = 0;
  for (int j = 0; j < V::size; ++j) {
    const T s = h + bh[j], bb = s - h;
    l += ((h - (s - bb)) + (bh[j] - bb)) + bl[j];
    h = s;
  }
  sh = h + l;
  sl = l - (sh - h);
}

// The gradient of a cross-entropy row in double-length arithmetic, for rows where the fast path
// flagged a cancelling entry: grad_c = g·(p_c·A - a_c) with a_c = w_c·((1-ε)·y_c + ε/C) (hard label
// t >= 0: y = onehot(t); y == nullptr otherwise all 0), A = Σ a_c, p_c = exp(x_c - m)/Σ exp(x_j - m),
// every quantity a hi + lo pair; one rounding at the end (and g's product). Two passes over the row;
// x must still hold the logits (not the gradient). TEMP: p_c from (x_c - m)/temp, the pair of
// row_diff with its low part divided too (loss/ce_temperature.hpp; g is then the caller's g/temp).
template <class V, bool TEMP = false>
inline void ce_grad_accurate(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, const scalar_t<V>* w,
                             const scalar_t<V>* y, std::int64_t t, scalar_t<V> eps, scalar_t<V> g,
                             scalar_t<V>* grad, double temp = 1.0) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  // (1 - ε) and ε/C as pairs (vectors of equal lanes).
  V sc_l;
  const V sc_h = two_sum(V::set1(T(1)), V::set1(-eps), sc_l);
  const V vn = V::set1(T(n)), veps = V::set1(eps);
  const V ad_h = veps / vn;
  const V ad_l = quotient_residual(veps, ad_h, vn) / vn;
  const V negm = V::set1(-m), zero = V::zero();
  const V vt = V::set1(T(temp)), vtl = V::set1(T(temp - double(T(temp)))), vinvt = V::set1(T(1.0 / temp));
  // (hi + lo)/temp as a pair (hi returned, lo updated): row_diff's step, lo cleared where hi is
  // -inf or below drop_lo (there it cannot matter, and it may be NaN)
  auto row_diff_temp_lo = [](V hi, V& lo, V t_, V tl_, V invt_) LOGITKIT_INLINE {
    V q = hi * invt_;
    V r = quotient_residual(hi, q, t_);
    lo = mul_add(neg(q), tl_, r + lo) * invt_;
    lo = mask_zero(le(V::set1(drop_lo<scalar_t<V>>::below), q), lo);
    return q;
  };
  alignas(64) T ybuf[W];
  // a_c = w_c·((1-ε)·y_c + ε/C) as a pair, for the lanes from i (count k <= W).
  auto coef = [&](std::size_t i, std::size_t k, V& al) LOGITKIT_INLINE {
    V yv;
    if (y) {
      yv = k == W ? V::load(y + i) : load_partial<V>(y + i, k, T(0));
    } else if (t >= 0 && std::size_t(t) >= i && std::size_t(t) < i + k) {
      for (std::size_t j = 0; j < W; ++j) ybuf[j] = T(0);
      ybuf[std::size_t(t) - i] = T(1);
      yv = V::load(ybuf);
    } else {
      yv = zero;
    }
    V pl;
    V ph = two_prod(yv, sc_h, pl);
    pl = pl + yv * sc_l;
    V e;
    V ah = two_sum(ph, ad_h, e);
    al = (e + pl) + ad_l;
    if (w) {
      V wv = k == W ? V::load(w + i) : load_partial<V>(w + i, k, T(0));
      V bl;
      V bh = two_prod(ah, wv, bl);
      al = bl + al * wv;
      ah = bh;
    }
    if (k < W) {  // lanes past the row: a = 0
      const auto in = first_lanes<V>(k);
      ah = mask_zero(in, ah);
      al = mask_zero(in, al);
    }
    return ah;
  };
  auto expd = [&](std::size_t i, std::size_t k, V& el) LOGITKIT_INLINE {
    V xv = k == W ? V::load(x + i) : load_partial<V>(x + i, k, -lim<V>::inf);
    V dl;
    V dh = two_sum(xv, negm, dl);
    if constexpr (TEMP) dh = row_diff_temp_lo(dh, dl, vt, vtl, vinvt);
    V eh;
    math::exp_dd(dh, dl, eh, el);
    return eh;
  };
  // Pass 1: S = Σ exp(x_c - m) and A = Σ a_c, pairs accumulated per lane.
  V Sh = zero, Sl = zero, Ah = zero, Al = zero;
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t k = n - i < W ? n - i : W;
    V el, al, e;
    V eh = expd(i, k, el);
    V ah = coef(i, k, al);
    Sh = two_sum(Sh, eh, e);
    Sl = Sl + (e + el);
    Ah = two_sum(Ah, ah, e);
    Al = Al + (e + al);
  }
  T s_h, s_l, a_h, a_l;
  dd_hsum<V>(Sh, Sl, s_h, s_l);
  dd_hsum<V>(Ah, Al, a_h, a_l);
  const V vSh = V::set1(s_h), vSl = V::set1(s_l), vAh = V::set1(a_h), vAl = V::set1(a_l), vg = V::set1(g);
  // Pass 2: p = e/S, u = p·A - a, grad = g·u.
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t k = n - i < W ? n - i : W;
    V el, al;
    V eh = expd(i, k, el);
    V ah = coef(i, k, al);
    V q = eh / vSh;
    V ql = ((quotient_residual(eh, q, vSh) + el) - q * vSl) / vSh;
    V pl;
    V ph = two_prod(q, vAh, pl);
    pl = pl + (q * vAl + ql * vAh);
    V e;
    V uh = two_sum(ph, neg(ah), e);
    V gv = vg * (uh + ((e + pl) - al));
    if (k == W) store(grad + i, gv);
    else store_partial(grad + i, gv, k);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
