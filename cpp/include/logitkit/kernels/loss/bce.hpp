// Binary cross-entropy with logits, elementwise, and its gradient from the same exp (one strategy:
// every element takes the same formulas; PLAIN only leaves out unit factors).
//
// Invariant: the loss is written as a sum of non-negative terms and the gradient without
// subtracting a rounded sigmoid, so neither cancels; a NaN in one element (logit, target, weight)
// never changes another element (docs/numerics.md, "Special values and lane isolation").
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <limits>

#include "../../math/exp.hpp"
#include "../../math/libm.hpp"
#include "../../math/log1p.hpp"
#include "../common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Binary cross-entropy with logits, elementwise, with pos_weight P, weight w and label smoothing ε
// (docs/numerics.md, "BCE with logits"): with y+ = y·(1-ε) + ε/2 and y- = (1-y)·(1-ε) + ε/2 (= 1 - y+, computed from 1 - y so
// that a target near 1 keeps its accuracy), c = y- + P·y+,
//   loss = w·[c1·|x| + c·log1p(exp(-|x|))], c1 = y- for x >= 0, P·y+ for x < 0
//   (the same value as (1-y+)·x + c·softplus(-x), written as a sum of non-negative terms, so x = ±inf
//   gives the finite limit where there is one: a zero coefficient times inf is 0);
//   grad = gscale·w·(y-·σ(x) - P·y+·σ(-x)) = w·(y-·A - P·y+·B)/(1 + e), A, B = 1, e or e, 1 by the sign of x:
//   no rounded σ is subtracted from anything. One e = exp(-|x|) serves loss and gradient.
// PLAIN: no pos_weight, no weight, no smoothing (P = w = 1, ε = 0), the common case: the same
// formulas with the unit factors left out (bit-identical results).
// e = exp(-|x|) comes from the caller (exp_neg, or exp_normal where it checked the range: the same bits).
template <class V, bool PLAIN>
LOGITKIT_INLINE inline void bce_v(V x, V e, V y, V p, V w, V eps, V gs, V& loss, V& grad) {
  using T = scalar_t<V>;
  const V one = V::set1(T(1));
  // log1p(e)'s division s = f/(2 + f), and the gradient's by 1 + e below: two divisions, each
  // one rounding (the divider works beside the arithmetic units: sharing one division through a
  // reciprocal took more operations than it saved)
  typename V::mask big;
  V den;
  const V f = math::log1p_reduce(e, big, den);
  const V l1 = math::log1p_finish(f, f / den, big);
  // The gradient's numerator y-·A - P·y+·B is Pn + Qn·e: Pn = y-, Qn = -P·y+ for x >= 0, and
  // Pn = -P·y+, Qn = y- for x < 0, one FMA; Pn·x is also the linear term c1·|x|.
  const auto pos = le(V::zero(), x);
  V ym, c, Pn, Qn;
  if constexpr (PLAIN) {
    // no selects: with u = 1 where x >= 0, else 0, Pn = u - y and Qn = (1 - u) - y are y- = 1 - y
    // and -y exactly (the same roundings as the general formulas)
    ym = one - y;
    c = ym + y;  // = 1 for y in [0, 1] ((1 - y) + y is exact: Sterbenz); NaN y stays NaN
    const V u = mask_zero(pos, one);
    Pn = u - y;
    Qn = (one - u) - y;
  } else {
    const V half_eps = eps * V::set1(T(0.5)), keep = one - eps;
    const V yp = mul_add(y, keep, half_eps);
    ym = mul_add(one - y, keep, half_eps);
    const V npyp = neg(p * yp);
    c = ym - npyp;
    Pn = select(pos, ym, npyp);
    Qn = select(pos, npyp, ym);
  }
  // c1·|x| = Pn·x, kept where positive: a zero coefficient times an infinite x gives 0, not NaN
  const V t = Pn * x;
  const V lin = mask_zero(lt(V::zero(), t), t);
  const V d = mul_add(Qn, e, Pn) / (one + e);
  if constexpr (PLAIN) {
    loss = mul_add(c, l1, lin);
    grad = gs * d;
  } else {
    const V inner = mul_add(c, l1, lin);
    loss = w * inner;
    grad = (w * gs) * d;
    // c·l1 + Pn·x may overflow where w·(c·l1 + Pn·x) does not (P > 1 > w, |x| near the largest
    // finite value): those lanes are redone with c and Pn scaled by 2^-64 and the loss scaled
    // back. Every scaling is exact there (|Pn| >= 2^-62 when Pn·x overflows, and c >= |Pn|), so
    // the loss is the one an unbounded exponent range would give; an infinite x gives what it did.
    const auto over = eq(abs(inner), V::set1(lim<V>::inf));
    if (any(over)) {
      const V down = V::set1(T(0x1p-64));
      const V t2 = (Pn * down) * x;
      const V inner2 = mul_add(c * down, l1, mask_zero(lt(V::zero(), t2), t2));
      loss = select(over, (w * inner2) * V::set1(T(0x1p64)), loss);
    }
    // a zero weight removes the element: w·inf is 0 there, not NaN (a NaN inner stays NaN)
    loss = select(mask_and(eq(w, V::zero()), eq(inner, V::set1(lim<V>::inf))), V::zero(), loss);
  }
}

// Losses summed into acc (two vectors per widening), the targets' range tracked in lo/hi.
template <class V, bool PLAIN, bool SUM>
inline void bce_run(const scalar_t<V>* x, const scalar_t<V>* y, const scalar_t<V>* p, const scalar_t<V>* w,
                    scalar_t<V> eps, scalar_t<V> gscale, scalar_t<V>* loss, scalar_t<V>* grad, std::size_t n,
                    decltype(acc_make(V::zero()))& acc_out, V& lo_out, V& hi_out) {
  using T = scalar_t<V>;
  // locals, written back at the end: updated through the references, they would make a chain of
  // stores and reloads in every iteration (the compiler cannot prove the stores to loss and grad
  // leave them alone)
  auto acc = acc_out;
  V lo = lo_out, hi = hi_out;
  constexpr std::size_t W = V::size;
  const V veps = V::set1(eps), vgs = V::set1(gscale), one = V::set1(T(1));
  auto ld = [&](const T* a, std::size_t i, std::size_t r, T fill) LOGITKIT_INLINE {
    if (PLAIN) return one;
    return r == W ? V::load(a + i) : load_partial<V>(a + i, r, fill);
  };
  auto step = [&](std::size_t i, std::size_t r, V xv, V e) LOGITKIT_INLINE {
    const V yv = r == W ? V::load(y + i) : load_partial<V>(y + i, r, T(0));
    V l, g;
    bce_v<V, PLAIN>(xv, e, yv, ld(p, i, r, T(1)), ld(w, i, r, T(0)), veps, vgs, l, g);
    if (r < W) l = mask_zero(first_lanes<V>(r), l);
    if constexpr (SUM) {
      lo = min(lo, yv);
      hi = max(hi, yv);
    } else {
      if (r == W) store(loss + i, l);
      else store_partial(loss + i, l, r);
    }
    if (grad) {
      if (r == W) store(grad + i, g);
      else store_partial(grad + i, g, r);
    }
    return l;
  };
  // two vectors share one range check of -|x| (exp_normal where both are in range)
  const V lo_x = V::set1(math::exp_consts<T>::fast_lo);
  std::size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const V x0 = V::load(x + i), x1 = V::load(x + i + W);
    const V n0 = neg_abs(x0), n1 = neg_abs(x1);
    V l0, l1;
    // one compare per vector, true for NaN (not min(n0, n1): a NaN in one vector would hide an
    // out-of-range value in the same lane of the other; docs/numerics.md, "Special values and lane
    // isolation")
    if (any(mask_or(nge(n0, lo_x), nge(n1, lo_x)))) {
      l0 = step(i, W, x0, math::exp_neg(n0));
      l1 = step(i + W, W, x1, math::exp_neg(n1));
    } else {
      l0 = step(i, W, x0, math::exp_normal(n0));
      l1 = step(i + W, W, x1, math::exp_normal(n1));
    }
    if constexpr (SUM) acc_add(acc, l0 + l1);
  }
  for (; i < n; i += W) {
    const std::size_t r = n - i < W ? n - i : W;
    const V xv = r == W ? V::load(x + i) : load_partial<V>(x + i, r, T(0));
    V l = step(i, r, xv, math::exp_neg(neg_abs(xv)));
    if constexpr (SUM) acc_add(acc, l);
  }
  acc_out = acc;
  lo_out = lo;
  hi_out = hi;
}

// With `loss` null the per-element losses are not stored: their sum is returned instead (in double),
// NaN if a target lies outside [0, 1] or is NaN (the caller's validation then finds it). Otherwise
// the losses go to loss[] and 0 is returned. grad may be null (the loss alone). p and w may be null
// (all ones).
template <class V>
inline double bce(const scalar_t<V>* x, const scalar_t<V>* y, const scalar_t<V>* p, const scalar_t<V>* w,
                  scalar_t<V> eps, scalar_t<V> gscale, scalar_t<V>* loss, scalar_t<V>* grad, std::size_t n) {
  using T = scalar_t<V>;
  decltype(acc_make(V::zero())) acc;
  V lo = V::zero(), hi = V::zero();
  // the general kernel reads p and w: point null ones at a row of ones
  constexpr std::size_t kOnes = 256;
  alignas(64) T ones[kOnes];
  const bool plain = !p && !w && eps == T(0);
  if (!plain && (!p || !w)) {
    for (std::size_t j = 0; j < kOnes; ++j) ones[j] = T(1);
    for (std::size_t i = 0; i < n; i += kOnes) {
      const std::size_t m = n - i < kOnes ? n - i : kOnes;
      const T* pp = p ? p + i : ones;
      const T* wp = w ? w + i : ones;
      if (loss) bce_run<V, false, false>(x + i, y + i, pp, wp, eps, gscale, loss + i, grad ? grad + i : nullptr, m, acc, lo, hi);
      else bce_run<V, false, true>(x + i, y + i, pp, wp, eps, gscale, nullptr, grad ? grad + i : nullptr, m, acc, lo, hi);
    }
  } else if (plain) {
    if (loss) bce_run<V, true, false>(x, y, p, w, eps, gscale, loss, grad, n, acc, lo, hi);
    else bce_run<V, true, true>(x, y, p, w, eps, gscale, loss, grad, n, acc, lo, hi);
  } else {
    if (loss) bce_run<V, false, false>(x, y, p, w, eps, gscale, loss, grad, n, acc, lo, hi);
    else bce_run<V, false, true>(x, y, p, w, eps, gscale, loss, grad, n, acc, lo, hi);
  }
  if (loss) return 0;
  // a NaN target makes its loss, and so the sum, NaN (lo and hi may have lost it, and a target
  // outside [0, 1] that it hid in the same lane: min/max reductions assume no NaN,
  // docs/numerics.md, "Special values and lane isolation")
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  if (hmin(lo) < T(0) || hmax(hi) > T(1)) return nan;
  return acc_sum(acc);
}

// BCE of z = x/T + b (temperature T > 0 and bias b per element, float64, either null for 1 / 0),
// the gradient with respect to the raw x: dL/dx = (dL/dz)/T. Block by block, z is formed as a pair
// hi + lo (float: in double, then split; double: x/T with its exact residual and the sum with b by
// TwoSum), the kernel runs on hi with unit gradient scale, and the pair's low part enters to first
// order: L(z) = L(hi) + L'(hi)·lo, L'(z) = L'(hi) + L''(hi)·lo with L'' = w·c·σ(hi)·σ(-hi), in
// double. |lo| <= ulp(hi)/2, so the neglected second-order terms are below the results' rounding,
// and the loss keeps its relative accuracy where it is tiny and sensitive to z (the sigmoid's tail),
// which rounding z to the lane type would not. The same contract as bce otherwise (loss null: the
// sum is returned, NaN for a target outside [0, 1]).
template <class V>
inline double bce_affine(const scalar_t<V>* x, const scalar_t<V>* y, const scalar_t<V>* p, const scalar_t<V>* w,
                         scalar_t<V> eps, scalar_t<V> gscale, const double* temp, const double* bias,
                         scalar_t<V>* loss, scalar_t<V>* grad, std::size_t n) {
  using T = scalar_t<V>;
  constexpr std::size_t K = 256;
  alignas(64) T zh[K], zl[K], lb[K], gb[K];
  double sum = 0;
  bool bad_target = false;
  const double e_ = double(eps), keep = 1.0 - e_, half = 0.5 * e_;
  for (std::size_t i = 0; i < n; i += K) {
    const std::size_t m = n - i < K ? n - i : K;
    for (std::size_t j = 0; j < m; ++j) {
      const double tj = temp ? temp[i + j] : 1.0, bj = bias ? bias[i + j] : 0.0;
      T hi, lo;
      if constexpr (sizeof(T) == 4) {
        const double zd = double(x[i + j]) / tj + bj;
        hi = T(zd);
        lo = T(zd - double(hi));
      } else {
        const V xv = V::set1(x[i + j]), tv = V::set1(tj);
        const V q = xv / tv;
        const V ql = quotient_residual(xv, q, tv) / tv;
        V e;
        const V s = two_sum(q, V::set1(bj), e);
        V l = e + ql;
        const V h = s + l;
        l = l - (h - s);
        alignas(64) T hb[V::size], lbuf[V::size];
        store(hb, h);
        store(lbuf, l);
        hi = hb[0];
        lo = lbuf[0];
        const T qs = x[i + j] / T(tj);
        if (!(qs - qs == T(0))) hi = qs + T(bj);  // x/T infinite or NaN: z is that (the pair is NaN)
      }
      // infinite or NaN z (x infinite or NaN, or x/T past the range): no low part
      if (!(hi - hi == T(0)) || !(lo - lo == T(0))) lo = T(0);
      zh[j] = hi;
      zl[j] = lo;
    }
    bce<V>(zh, y + i, p ? p + i : nullptr, w ? w + i : nullptr, eps, T(1), lb, gb, m);
    for (std::size_t j = 0; j < m; ++j) {
      const double lo = double(zl[j]), dz = double(gb[j]);
      const double l = lo != 0 ? double(lb[j]) + dz * lo : double(lb[j]);
      if (loss) loss[i + j] = T(l);
      else sum += l;
      const T yj = y[i + j];
      if (!(yj >= T(0) && yj <= T(1))) bad_target = true;
      if (grad) {
        double d = dz;
        if (lo != 0) {
          const double hi = double(zh[j]), ea = math::libm_exp(-math::libm_fabs(hi)), op = 1.0 + ea;
          const double yy = double(yj), P = p ? double(p[i + j]) : 1.0, ww = w ? double(w[i + j]) : 1.0;
          const double c = ((1.0 - yy) * keep + half) + P * (yy * keep + half);
          d += ww * c * (ea / (op * op)) * lo;
        }
        // g/T overflows for a subnormal T: then (d·g)/T, so that d = 0 stays 0 (not 0·inf)
        const double tj = temp ? temp[i + j] : 1.0, gs = double(gscale) / tj;
        grad[i + j] = T(gs - gs == 0 ? d * gs : (d * double(gscale)) / tj);
      }
    }
  }
  if (loss) return 0;
  // (a constant: a call of numeric_limits would be a weak symbol shared by the ISA objects)
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  if (bad_target) return nan;
  return sum;
}

// The kernel list's entry: temperature and bias (per element, float64) both null take bce itself,
// so that T = 1, b = 0 is the plain kernel bit for bit; else bce_affine.
template <class V>
inline double bce_entry(const scalar_t<V>* x, const scalar_t<V>* y, const scalar_t<V>* p, const scalar_t<V>* w,
                        scalar_t<V> eps, scalar_t<V> gscale, scalar_t<V>* loss, scalar_t<V>* grad, std::size_t n,
                        const double* temp, const double* bias) {
  if (!temp && !bias) return bce<V>(x, y, p, w, eps, gscale, loss, grad, n);
  return bce_affine<V>(x, y, p, w, eps, gscale, temp, bias, loss, grad, n);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
