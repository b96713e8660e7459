// Loss kernels: cross-entropy of one row (hard or soft labels, class weights, label smoothing) and
// binary cross-entropy with logits (elementwise), each with its gradient from the same passes.
//
// Cross-entropy, per row x of C logits (numerics.md, semantics.md):
//   m = max(x), L = log(k + S') as in softmax.hpp; d_c = x_c - m exactly (hi + lo); so
//   -log p_c = L - d_c, a sum of two non-negative terms (no cancellation), and p_c = exp(d_c)/(k + S').
//   hard label t: loss = (1-ε)·w_t·(L - d_t) + (ε/C)·Σ_c w_c·(L - d_c)
//                 grad = g·[p_c·((1-ε)·w_t + (ε/C)·W) - (1-ε)·w_t·[c = t] - (ε/C)·w_c],  W = Σ w_c
//   soft target y: a_c = w_c·((1-ε)·y_c + ε/C); loss = Σ_c a_c·(L - d_c) (a_c = 0 adds 0 even where
//                 x_c = -inf); grad = g·[p_c·Σ_c a_c - a_c]
// g is the caller's gradient scale (sample weight × the reduction's factor). Passes over the row:
// max, exp-sum, then one pass that writes the gradient and sums the smoothing/soft term; the loss
// alone with a hard label and no smoothing needs only the first two. No temporary array.
// A negative label marks an ignored row: loss 0 and a zero gradient.
//
// Cancellation. Where p_c·Σa ~ a_c (a soft target, or label smoothing, close to the model's own
// probability) the gradient entry cancels, and the working-precision p (a few ulp) would leave an
// absolute error of a few 2^-24 / 2^-53 times the entry's scale. The gradient passes flag such
// entries (|u| < 0.75·p·Σa, where 8 ulp of u may be less than the fast path's error of about
// 5·2^-p·p·Σa, and p·Σa large enough that the error could exceed numerics.md's bound,
// max(8 ulp, 2^-p·max(1, |g|·Σa))); a flagged row's gradient is then recomputed by
// ce_grad_accurate in double-length arithmetic (exp_dd, float-float or double-double), about three
// times the work of the row. With reduction 'mean' over more than 8 items no entry can be flagged.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "../math/exp.hpp"
#include "../math/exp_dd.hpp"
#include "../math/log1p.hpp"
#include "activations.hpp"
#include "common.hpp"
#include "softmax.hpp"

namespace logitkit::kernels {

// Everything the last pass needs about a row.
template <class V>
struct CeRow {
  scalar_t<V> m;
  double L;    // log(k + S')
  double inv;  // 1/(k + S')
  double k, Sp;
};

// Returns false (and sets `special` to the row's loss) for NaN / +inf / all -inf rows.
template <class V>
inline bool ce_prepare(const scalar_t<V>* x, std::size_t n, CeRow<V>& r, scalar_t<V>& special) {
  const RowKind kind = row_max<V>(x, n, r.m);
  if (kind != row_ok) {
    special = lim<V>::nan;
    return false;
  }
  const RowSum<V> rs = row_expsum<V, false>(x, n, r.m, 1.0);
  r.L = rs.L();
  r.inv = 1.0 / (rs.k + rs.Sp);
  r.k = rs.k;
  r.Sp = rs.Sp;
  return true;
}

// CeRow of a row the direct pass declined as top-heavy (every entry finite and in range, m its max):
// from the exp(x) that pass stored (in the gradient's row), else computed again the same way (the
// loss has the same bits with or without the gradient); no max pass.
template <class V>
inline CeRow<V> ce_row_heavy(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, const scalar_t<V>* stored) {
  const RowSum<V> rs = row_sum_stored<V>(x, stored, n, m);  // (null: computed again, the same bits)
  CeRow<V> r;
  r.m = m;
  r.L = rs.L();
  r.inv = 1.0 / (rs.k + rs.Sp);
  r.k = rs.k;
  r.Sp = rs.Sp;
  return r;
}

// -log p_t = L - (x_t - m), with x_t - m exact (TwoSum) for either precision.
template <class V>
inline double ce_nll_at(const CeRow<V>& r, scalar_t<V> xt) {
  if (xt == -lim<V>::inf) return double(lim<V>::inf);  // p_t = 0: the loss is +inf (torch's value)
  const double a = double(xt), b = -double(r.m);
  const double s = a + b, bb = s - a, err = (a - (s - bb)) + (b - bb);
  return (r.L - s) - err;
}

// The sum of a row's loss terms Σ a_c·(L - d_c) (soft targets, smoothing): positive terms of similar
// size, C of them. Float lanes are summed in double (29 spare bits). Double lanes are summed plainly
// over a block of kBlock vectors (the caller's loop calls flush() after each), and the block sums are
// added with Neumaier's compensation: a plain sum of C = 20000 terms drifts by tens of ulps, this one
// by the few roundings of one block. (No counter in add(): the loops keep their bodies unchanged.)
template <class V>
struct LossAcc {
  static constexpr int kBlock = 8;
  static constexpr std::size_t block = kBlock * std::size_t(V::size);
  decltype(acc_make(V::zero())) acc;
  V run = V::zero();
  CompensatedSum<V> total;
  LOGITKIT_INLINE void add(V t) {
    if constexpr (sizeof(scalar_t<V>) == 8) run = run + t;
    else acc_add(acc, t);
  }
  LOGITKIT_INLINE void flush() {
    if constexpr (sizeof(scalar_t<V>) == 8) {
      total.add(hsum(run));
      run = V::zero();
    }
  }
  double sum() {
    if constexpr (sizeof(scalar_t<V>) == 8) {
      flush();
      // an infinite (or NaN) term: S holds it and the compensation is NaN (inf - inf)
      return std::isfinite(total.S) ? total.value() : total.S;
    } else {
      return acc_sum(acc);
    }
  }
};

// The last pass. COEF: gradient p_c·coef - w_c·b (hard label: b = (ε/C)·g; soft: a_c·g).
// SUM: accumulate Σ a_c·(L - d_c) with a_c = w_c·(soft_scale·y_c + soft_add) (y = nullptr: a_c = w_c·soft_add).
// thr: the flag threshold of ce_cancel_threshold; `flagged` is set when some entry needs
// ce_grad_accurate (never cleared).
template <class V, bool GRAD, bool HAS_W, bool SOFT>
inline double ce_last_pass(const scalar_t<V>* x, std::size_t n, const CeRow<V>& r, const scalar_t<V>* w,
                           const scalar_t<V>* y, scalar_t<V> soft_scale, scalar_t<V> soft_add,
                           scalar_t<V> coef, scalar_t<V> g, scalar_t<V>* grad, scalar_t<V> thr = 0,
                           bool* flagged = nullptr) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const V negm = V::set1(-r.m), vinv = V::set1(T(r.inv)), vcoef = V::set1(coef), vg = V::set1(g);
  const T Lh = T(r.L), Ll = T(r.L - double(Lh));
  const V vLh = V::set1(Lh), vLl = V::set1(Ll), vss = V::set1(soft_scale), vsa = V::set1(soft_add);
  const V dummy = V::zero(), vthr = V::set1(thr), vq = V::set1(T(0.75));
  const bool check = flagged != nullptr && thr < lim<V>::inf;
  auto flags = lt(V::zero(), V::zero());
  LossAcc<V> acc;
  auto step = [&](V xv, V wv, V yv, V& gout) LOGITKIT_INLINE {
    V lo;
    V hi = row_diff<V, false, true>(xv, negm, dummy, dummy, dummy, lo);
    V a = SOFT ? mul_add(yv, vss, vsa) : vsa;
    if constexpr (HAS_W) a = a * wv;
    // a·(L - d): both factors >= 0; a = 0 contributes 0 even where L - d = inf.
    V nlp = (vLh - hi) + (vLl - lo);
    V term = mask_zero(lt(V::zero(), a), a * nlp);
    if constexpr (GRAD) {
      V p = math::exp_neg_lo(hi, lo) * vinv;
      V u = mul_add(p, vcoef, neg(a));  // one rounding in p·coef - a
      if (check) {
        V pc = p * vcoef;
        flags = mask_or(flags, mask_and(lt(abs(u), pc * vq), lt(vthr, pc)));
      }
      gout = vg * u;
    }
    return term;
  };
  std::size_t i = 0;
  const V one = V::set1(T(1));
  while (i + W <= n) {
    const std::size_t stop = n - i > acc.block ? i + acc.block : n;
    for (; i + W <= stop; i += W) {
      V gv;
      V wv = HAS_W ? V::load(w + i) : one;
      V yv = SOFT ? V::load(y + i) : one;
      acc.add(step(V::load(x + i), wv, yv, gv));
      if constexpr (GRAD) store(grad + i, gv);
    }
    acc.flush();
  }
  if (i < n) {
    const std::size_t rest = n - i;
    V gv;
    V wv = HAS_W ? load_partial<V>(w + i, rest, T(0)) : one;
    V yv = SOFT ? load_partial<V>(y + i, rest, T(0)) : one;
    V t = step(load_partial<V>(x + i, rest, r.m), wv, yv, gv);
    acc.add(mask_zero(first_lanes<V>(rest), t));
    if constexpr (GRAD) store_partial(grad + i, gv, rest);
    if (flagged && any(flags)) *flagged = true;
    return acc.sum();
  }
  if (flagged && any(flags)) *flagged = true;
  return acc.sum();
}

// The flag threshold on p_c·Σa (bracket units, before the scale g): the fast path's error, at most
// about 5·2^-p·p_c·Σa, can exceed the absolute bound 2^-p·max(1, |g|·Σa)/|g| only above it.
// Infinite (no flags) for g = 0.
template <class V>
inline scalar_t<V> ce_cancel_threshold(double g, double A) {
  using T = scalar_t<V>;
  const double ag = std::fabs(g);
  if (!(ag > 0) || !(A > 0)) return lim<V>::inf;
  const double thr = std::max(1.0, ag * A) / (8.0 * ag);
  return thr < double(std::numeric_limits<T>::max()) ? T(thr) : lim<V>::inf;
}

// A per-thread scratch row, for the in-place gradient (grad == x) of rows that may need
// ce_grad_accurate, which reads the logits again. nullptr if it cannot be allocated (the row then
// keeps its fast-path gradient). Templated on V: every ISA translation unit has its own.
template <class V>
inline scalar_t<V>* ce_scratch_row(std::size_t n) {
  thread_local std::vector<scalar_t<V>> buf;
  try {
    if (buf.size() < n) buf.resize(n);
  } catch (...) {
    return nullptr;
  }
  return buf.data();
}

// The cancellation fix-up's setup for one row: the flag threshold, infinite where no entry can be
// flagged (no gradient, g = 0, or thr >= Σa = A since p <= 1: the passes then skip the check), and
// whether a flagged row can be recomputed. An in-place gradient (grad == x) gets a per-thread copy
// of the logits in x, since ce_grad_accurate reads them again; without one the row keeps its
// fast-path gradient.
template <class V>
struct CeFix {
  scalar_t<V> thr;
  bool can_fix;
};
template <class V>
inline CeFix<V> ce_fix_setup(const scalar_t<V>*& x, std::size_t n, scalar_t<V>* grad, double g, double A) {
  using T = scalar_t<V>;
  const T thr = grad ? ce_cancel_threshold<V>(g, A) : lim<V>::inf;
  if (!(double(thr) < A)) return {lim<V>::inf, false};
  if (grad == x) {
    T* copy = ce_scratch_row<V>(n);
    if (!copy) return {lim<V>::inf, false};
    for (std::size_t i = 0; i < n; ++i) copy[i] = x[i];
    x = copy;
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
// x must still hold the logits (not the gradient).
template <class V>
inline void ce_grad_accurate(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, const scalar_t<V>* w,
                             const scalar_t<V>* y, std::int64_t t, scalar_t<V> eps, scalar_t<V> g,
                             scalar_t<V>* grad) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  // (1 - ε) and ε/C as pairs (vectors of equal lanes).
  V sc_l;
  const V sc_h = two_sum(V::set1(T(1)), V::set1(-eps), sc_l);
  const V vn = V::set1(T(n)), veps = V::set1(eps);
  const V ad_h = veps / vn;
  const V ad_l = quotient_residual(veps, ad_h, vn) / vn;
  const V negm = V::set1(-m), zero = V::zero();
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


// The direct path of cross-entropy (no max, two passes): when every |x_c| is inside exp's normal
// range, the gradient is not written over x, and no class holds more than half the probability
// mass, S = Σ exp(x_c) (in double), log S - x_c >= log 2 for every c, and
//   -log p_c = log S - x_c, p_c = exp(x_c)/S
// are accurate without the max (the confident rows, p > 1/2, need the max-relative path: they return
// false here, as do NaN/inf rows and rows out of range). Pass 1 writes exp(x) into grad (when asked)
// and sums it; pass 2 scales it into the gradient and sums the smoothing/soft term.
// a_c = w_c·(soft_scale·y_c + soft_add); coef = Σ_c a_c + (hard) (1-ε)·w_t.
template <class V, bool HAS_W, bool SOFT, bool SMOOTH>
inline bool ce_direct(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n,
                      const scalar_t<V>* w, scalar_t<V> soft_scale, scalar_t<V> soft_add, double coef,
                      scalar_t<V> g, scalar_t<V>* grad, double& S_out, double& term_out,
                      scalar_t<V>& m_out, scalar_t<V> thr, bool& flagged, bool& heavy) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if (grad == x || n == 0) return false;
  double S;
  T m;
  const bool ok = grad ? row_direct_sum<V, true>(x, n, S, m, grad) : row_direct_sum<V, false>(x, n, S, m);
  if (!ok) return false;
  if (std::exp(double(m)) > 0.5 * S) {  // top-heavy: m is the max, exp(x) is in grad (if given)
    heavy = true;
    m_out = m;
    return false;
  }
  const double logS = std::log(S);
  S_out = S;
  m_out = m;
  term_out = 0;
  if (!grad && !SMOOTH && !SOFT) return true;
  // Pass 2: grad_c = g·(exp(x_c)·coef/S - a_c); the term Σ a_c·(log S - x_c) for smoothing/soft.
  const V vc = V::set1(T(coef / S)), vg = V::set1(g), vlogS = V::set1(T(logS)),
          vlogSl = V::set1(T(logS - double(T(logS)))), vss = V::set1(soft_scale), vsa = V::set1(soft_add);
  const V vthr = V::set1(thr), vq = V::set1(T(0.75));
  const bool check = thr < lim<V>::inf;
  auto flags = lt(V::zero(), V::zero());
  LossAcc<V> acc;
  auto step = [&](std::size_t i, std::size_t m) LOGITKIT_INLINE {
    const bool full = m == W;
    V a = (SOFT || SMOOTH) ? vsa : V::zero();
    if constexpr (SOFT) a = mul_add(full ? V::load(y + i) : load_partial<V>(y + i, m, T(0)), vss, vsa);
    if constexpr (HAS_W) a = a * (full ? V::load(w + i) : load_partial<V>(w + i, m, T(0)));
    if constexpr (SOFT || SMOOTH) {
      V xv = full ? V::load(x + i) : load_partial<V>(x + i, m, T(0));
      V nlp = (vlogS - xv) + vlogSl;  // log S - x_c >= log 2: no cancellation
      V tv = a * nlp;
      if (!full) tv = mask_zero(first_lanes<V>(m), tv);
      acc.add(tv);
    }
    if (grad) {
      V e = full ? V::load(grad + i) : load_partial<V>(grad + i, m, T(0));
      V u = mul_add(e, vc, neg(a));
      if ((SOFT || SMOOTH) && check) {
        V pc = e * vc;
        flags = mask_or(flags, mask_and(lt(abs(u), pc * vq), lt(vthr, pc)));
      }
      V gv = vg * u;
      if (full) store(grad + i, gv);
      else store_partial(grad + i, gv, m);
    }
  };
  std::size_t i = 0;
  while (i + W <= n) {
    const std::size_t stop = n - i > acc.block ? i + acc.block : n;
    for (; i + W <= stop; i += W) step(i, W);
    acc.flush();
  }
  if (i < n) step(i, n - i);
  term_out = acc.sum();
  if (any(flags)) flagged = true;
  return true;
}

// Cross-entropy of one row with hard label t (t < 0: ignored). w: class weights or nullptr (all 1),
// Wsum = Σ w_c (C when unweighted). grad: nullptr for the loss alone. Returns the row's loss
// (class weight and smoothing included; the sample weight is the caller's).
template <class V>
inline scalar_t<V> ce_hard_row(const scalar_t<V>* x, std::size_t n, std::int64_t t, const scalar_t<V>* w,
                               scalar_t<V> Wsum, scalar_t<V> eps, scalar_t<V> g, scalar_t<V>* grad) {
  using T = scalar_t<V>;
  if (t < 0) {
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[i] = T(0);
    return T(0);
  }
  const T wt = w ? w[t] : T(1), xt = x[t];  // (read before the gradient may overwrite x)
  const T add = eps / T(n);                  // a_c = w_c·ε/C: the smoothing part
  const double coef = double(T(1) - eps) * double(wt) + double(add) * double(Wsum);  // Σ a_c
  // Smoothing makes every entry p_c·Σa - a_c, which can cancel: such rows may need
  // ce_grad_accurate (without smoothing only the label's entry differs from p_c·Σa).
  const CeFix<V> fix = ce_fix_setup<V>(x, n, eps != T(0) ? grad : nullptr, double(g), coef);
  const T thr = fix.thr;
  bool flagged = false;
  // The label's entry, (1-ε)·w_t·(p_t - 1) + (ε/C)·(W·p_t - w_t), computed in double from p_t (and
  // p_t - 1 where it is given more accurately); flagged like the others.
  auto label_entry = [&](double pt, double pt_m1) {
    const double u = double(T(1) - eps) * double(wt) * pt_m1 + double(add) * (double(Wsum) * pt - double(wt));
    const double pc = pt * coef;
    if (std::fabs(u) < 0.75 * pc && double(thr) < pc) flagged = true;
    grad[t] = T(double(g) * u);
  };
  bool heavy = false;
  T m = 0;
  {  // the direct path first; it declines rows it cannot do exactly
    double S = 0, term = 0;
    bool ok;
    if (eps == T(0)) {
      ok = w ? ce_direct<V, true, false, false>(x, nullptr, n, w, T(0), T(0), coef, g, grad, S, term, m, thr, flagged, heavy)
             : ce_direct<V, false, false, false>(x, nullptr, n, w, T(0), T(0), coef, g, grad, S, term, m, thr, flagged, heavy);
    } else {
      ok = w ? ce_direct<V, true, false, true>(x, nullptr, n, w, T(0), add, coef, g, grad, S, term, m, thr, flagged, heavy)
             : ce_direct<V, false, false, true>(x, nullptr, n, w, T(0), add, coef, g, grad, S, term, m, thr, flagged, heavy);
    }
    if (ok) {
      const double pt = std::exp(double(xt)) / S;
      if (grad) {
        label_entry(pt, pt - 1.0);
        if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, m, w, nullptr, t, eps, g, grad);
      }
      return T(double(T(1) - eps) * double(wt) * (std::log(S) - double(xt)) + term);
    }
  }
  CeRow<V> r;
  T special;
  if (heavy) {
    r = ce_row_heavy<V>(x, n, m, grad);
  } else if (!ce_prepare<V>(x, n, r, special)) {
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[i] = special;
    return special;
  }
  const double nll_t = ce_nll_at<V>(r, xt);
  double loss = double(T(1) - eps) * double(wt) * nll_t;
  if (eps == T(0) && !grad) return T(loss);
  double smooth;
  if (grad) {
    smooth = w ? ce_last_pass<V, true, true, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad, thr, &flagged)
               : ce_last_pass<V, true, false, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad, thr, &flagged);
    // p_t - 1 = -S'/(1 + S') when the label is the unique max (a confident, correct row), so that it
    // keeps its relative accuracy.
    const double pt = std::exp(double(xt) - double(r.m)) * r.inv;
    label_entry(pt, (xt == r.m && r.k == 1.0) ? -r.Sp * r.inv : pt - 1.0);
    if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, r.m, w, nullptr, t, eps, g, grad);
  } else {
    smooth = w ? ce_last_pass<V, false, true, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad)
               : ce_last_pass<V, false, false, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad);
  }
  if (eps != T(0)) loss += smooth;
  return T(loss);
}

// Σ_c a_c = (1-ε)·Σ w_c·y_c + (ε/C)·Σ w_c for a soft target, vectorized (the products w_c·y_c
// split exactly by two_prod, the sums in double), in the accuracy of the scalar double sum.
template <class V>
inline double soft_coef_sum(const scalar_t<V>* y, const scalar_t<V>* w, std::size_t n, scalar_t<V> scale,
                            scalar_t<V> add) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  auto ay = acc_make(V::zero()), ae = acc_make(V::zero()), aw = acc_make(V::zero());
  for (std::size_t i = 0; i < n; i += W) {
    const std::size_t k = n - i < W ? n - i : W;
    V yv = k == W ? V::load(y + i) : load_partial<V>(y + i, k, T(0));
    if (w) {
      V wv = k == W ? V::load(w + i) : load_partial<V>(w + i, k, T(0));
      V e;
      acc_add(ay, two_prod(yv, wv, e));
      acc_add(ae, e);
      acc_add(aw, wv);
    } else {
      acc_add(ay, yv);
    }
  }
  const double Sy = acc_sum(ay) + acc_sum(ae), Sw = w ? acc_sum(aw) : double(n);
  return double(scale) * Sy + double(add) * Sw;
}

// Cross-entropy of one row with a soft target y (probabilities), smoothed y' = (1-ε)·y + ε/C.
template <class V>
inline scalar_t<V> ce_soft_row(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, const scalar_t<V>* w,
                               scalar_t<V> eps, scalar_t<V> g, scalar_t<V>* grad) {
  using T = scalar_t<V>;
  const T scale = T(1) - eps, add = eps / T(n);
  // Σ a_c, needed by the gradient before it is written: a pass over the targets, not the logits.
  const double A = soft_coef_sum<V>(y, w, n, scale, add);
  const CeFix<V> fix = ce_fix_setup<V>(x, n, grad, double(g), A);
  const T thr = fix.thr;
  bool flagged = false;
  bool heavy = false;
  T m = 0;
  {  // the direct path first; it declines rows it cannot do exactly
    double S = 0, term = 0;
    const bool ok = w ? ce_direct<V, true, true, false>(x, y, n, w, scale, add, A, g, grad, S, term, m, thr, flagged, heavy)
                      : ce_direct<V, false, true, false>(x, y, n, w, scale, add, A, g, grad, S, term, m, thr, flagged, heavy);
    if (ok) {
      if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, m, w, y, -1, eps, g, grad);
      return T(term);
    }
  }
  CeRow<V> r;
  T special;
  if (heavy) {
    r = ce_row_heavy<V>(x, n, m, grad);
  } else if (!ce_prepare<V>(x, n, r, special)) {
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[i] = special;
    return special;
  }
  double loss;
  if (grad) {
    loss = w ? ce_last_pass<V, true, true, true>(x, n, r, w, y, scale, add, T(A), g, grad, thr, &flagged)
             : ce_last_pass<V, true, false, true>(x, n, r, w, y, scale, add, T(A), g, grad, thr, &flagged);
    if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, r.m, w, y, -1, eps, g, grad);
  } else {
    loss = w ? ce_last_pass<V, false, true, true>(x, n, r, w, y, scale, add, T(0), g, grad)
             : ce_last_pass<V, false, false, true>(x, n, r, w, y, scale, add, T(0), g, grad);
  }
  return T(loss);
}

// Binary cross-entropy with logits, elementwise, with pos_weight P, weight w and label smoothing ε
// (numerics.md): with y+ = y·(1-ε) + ε/2 and y- = (1-y)·(1-ε) + ε/2 (= 1 - y+, computed from 1 - y so
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
    // out-of-range value in the same lane of the other; docs/numerics.md)
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
  // outside [0, 1] that it hid in the same lane: min/max reductions assume no NaN, docs/numerics.md)
  if (hmin(lo) < T(0) || hmax(hi) > T(1)) return std::numeric_limits<double>::quiet_NaN();
  return acc_sum(acc);
}

}  // namespace logitkit::kernels
