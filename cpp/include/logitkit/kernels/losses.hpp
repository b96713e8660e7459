// Loss kernels: cross-entropy of one row (hard or soft labels, class weights, label smoothing) and
// binary cross-entropy with logits (elementwise, loss/bce.hpp), each with its gradient from the same
// passes. This file routes a cross-entropy row between its strategies.
//
// Cross-entropy, per row x of C logits (docs/numerics.md, "Cross-entropy"; docs/semantics.md):
//   m = max(x), L = log(k + S') as in kernels/softmax.hpp; d_c = x_c - m exactly (hi + lo); so
//   -log p_c = L - d_c, a sum of two non-negative terms (no cancellation), and p_c = exp(d_c)/(k + S').
//   hard label t: loss = (1-ε)·w_t·(L - d_t) + (ε/C)·Σ_c w_c·(L - d_c)
//                 grad = g·[p_c·((1-ε)·w_t + (ε/C)·W) - (1-ε)·w_t·[c = t] - (ε/C)·w_c],  W = Σ w_c
//   soft target y: a_c = w_c·((1-ε)·y_c + ε/C); loss = Σ_c a_c·(L - d_c) (a_c = 0 adds 0 even where
//                 x_c = -inf); grad = g·[p_c·Σ_c a_c - a_c]
// g is the caller's gradient scale (sample weight × the reduction's factor). A negative label marks
// an ignored row: loss 0 and a zero gradient. No temporary array (except an in-place gradient's
// copy for the fix-up).
//
// Every row takes, in order:
//   loss/ce_direct.hpp        first: no max pass, two passes; declines rows it cannot do exactly;
//   loss/ce_max_relative.hpp  the declined rows: max, exp-sum (or the top-heavy sum, from the
//                             direct pass's exps), then one pass that writes the gradient and sums
//                             the smoothing/soft term; the loss alone with a hard label and no
//                             smoothing needs only the first two;
//   loss/ce_accurate.hpp      then, where a gradient entry was flagged as cancelling, the row's
//                             gradient again in double-length arithmetic.
// A temperature T != 1 (the loss of z = x/T, the gradient with respect to x: dL/dx = (dL/dz)/T)
// sends the row to loss/ce_temperature.hpp instead, before any pass; T = 1 takes the steps above.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "../math/libm.hpp"
#include "common.hpp"
#include "loss/bce.hpp"
#include "loss/ce_accurate.hpp"
#include "loss/ce_direct.hpp"
#include "loss/ce_max_relative.hpp"
#include "loss/ce_temperature.hpp"
#include "row/top_heavy.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The label's gradient entry of a hard-label row, g·[(1-ε)·w_t·(p_t - 1) + (ε/C)·(W·p_t - w_t)],
// computed in double from p_t (and p_t - 1 where it is given more accurately); flagged like the
// other entries where it cancels (thr: ce_fix_setup's threshold).
template <class T>
inline T ce_label_entry(double pt, double pt_m1, T eps, T wt, T add, T Wsum, double coef, T thr, T g, bool& flagged) {
  const double u = double(T(1) - eps) * double(wt) * pt_m1 + double(add) * (double(Wsum) * pt - double(wt));
  const double pc = pt * coef;
  if (math::libm_fabs(u) < 0.75 * pc && double(thr) < pc) flagged = true;
  return T(double(g) * u);
}

// The loss of a hard-label row that the direct path accepted without a gradient pass of its own
// (ce_rows.hpp queues that pass): (1-ε)·w_t·(log S - x_t) + term, or for a confident row whose label
// holds the max (rest = R = Σ_{c != t} exp(x_c) >= 0, et = exp(x_t)), w_t·log1p(R/e_t).
template <class T>
inline T ce_direct_loss(double S, double term, double rest, double et, T xt, T wt, T eps) {
  if (rest >= 0) return T(double(wt) * math::libm_log1p(rest / et));
  return T(double(T(1) - eps) * double(wt) * (math::libm_log(S) - double(xt)) + term);
}

// The max-relative path's row sums for a row the direct path declined: from the direct pass's exps
// in grad where the row is top-heavy (m its max), else computed. False for a special row (NaN,
// infinities): its value is in special, and every gradient entry (with grad) is set to it.
template <class V>
inline bool ce_declined_sums(const scalar_t<V>* x, std::size_t n, bool heavy, scalar_t<V> m, scalar_t<V>* grad,
                             CeRow<V>& r, scalar_t<V>& special) {
  if (heavy) {
    r = ce_row_heavy<V>(x, n, m, grad);
    return true;
  }
  if (ce_prepare<V>(x, n, r, special)) return true;
  if (grad)
    for (std::size_t i = 0; i < n; ++i) grad[i] = special;
  return false;
}

// ce_hard_row's steps for a row the direct path declined (heavy: a top-heavy row, m its max, the
// direct pass's exps in grad): the max-relative path, then the label's entry and, where an entry
// was flagged, the accurate gradient. fix: ce_hard_row's ce_fix_setup (x may be its copy).
template <class V>
inline scalar_t<V> ce_hard_declined(const scalar_t<V>* x, std::size_t n, std::int64_t t, const scalar_t<V>* w,
                                    scalar_t<V> Wsum, scalar_t<V> eps, scalar_t<V> g, scalar_t<V>* grad,
                                    const CeFix<V>& fix, bool heavy, scalar_t<V> m, scalar_t<V> xt) {
  using T = scalar_t<V>;
  const T wt = w ? w[t] : T(1), add = eps / T(n), thr = fix.thr;
  const double coef = double(T(1) - eps) * double(wt) + double(add) * double(Wsum);
  bool flagged = false;
  CeRow<V> r;
  T special;
  if (!ce_declined_sums<V>(x, n, heavy, m, grad, r, special)) return special;
  const double nll_t = ce_nll_at<V>(r, xt);
  // a zero label coefficient (weight 0, or ε = 1) takes nothing from the label's term, even where
  // its -log p_t is infinite
  const double label_coef = double(T(1) - eps) * double(wt);
  double loss = label_coef == 0 ? 0.0 : label_coef * nll_t;
  if (eps == T(0) && !grad) return T(loss);
  double smooth;
  if (grad) {
    smooth = w ? ce_last_pass<V, true, true, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad, thr, &flagged)
               : ce_last_pass<V, true, false, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad, thr, &flagged);
    // p_t - 1 = -S'/(1 + S') when the label is the unique max (a confident, correct row), so that it
    // keeps its relative accuracy.
    const double pt = math::libm_exp(double(xt) - double(r.m)) * r.inv;
    grad[t] = ce_label_entry<T>(pt, (xt == r.m && r.k == 1.0) ? -r.Sp * r.inv : pt - 1.0, eps, wt, add, Wsum, coef,
                                thr, g, flagged);
    if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, r.m, w, nullptr, t, eps, g, grad);
  } else {
    smooth = w ? ce_last_pass<V, false, true, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad)
               : ce_last_pass<V, false, false, false>(x, n, r, w, nullptr, T(0), add, T(coef), g, grad);
  }
  if (eps != T(0)) loss += smooth;
  return T(loss);
}

// Cross-entropy of one row with hard label t (t < 0: ignored). w: class weights or nullptr (all 1),
// Wsum = Σ w_c (C when unweighted). grad: nullptr for the loss alone. Returns the row's loss
// (class weight and smoothing included; the sample weight is the caller's).
template <class V>
inline scalar_t<V> ce_hard_row(const scalar_t<V>* x, std::size_t n, std::int64_t t, const scalar_t<V>* w,
                               scalar_t<V> Wsum, scalar_t<V> eps, scalar_t<V> g, scalar_t<V>* grad,
                               double temp = 1.0) {
  using T = scalar_t<V>;
  if (t < 0) {
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[i] = T(0);
    return T(0);
  }
  const T wt = w ? w[t] : T(1), xt = x[t];  // (read before the gradient may overwrite x)
  const T add = eps / T(n);                  // a_c = w_c·ε/C: the smoothing part
  const double coef = double(T(1) - eps) * double(wt) + double(add) * double(Wsum);  // Σ a_c
  if (temp != 1.0) return ce_temp_row<V>(x, nullptr, n, t, w, eps, coef, g, grad, temp);
  // Smoothing makes every entry p_c·Σa - a_c, which can cancel: such rows may need
  // ce_grad_accurate (without smoothing only the label's entry differs from p_c·Σa).
  const CeFix<V> fix = ce_fix_setup<V>(x, n, eps != T(0) ? grad : nullptr, double(g), coef);
  const T thr = fix.thr;
  bool flagged = false;
  bool heavy = false;
  T m = 0;
  {  // the direct path first; it declines rows it cannot do exactly
    double S = 0, term = 0, rest = -1;
    bool ok;
    if (eps == T(0)) {
      ok = w ? ce_direct<V, true, false, false>(x, nullptr, n, w, T(0), T(0), coef, g, grad, S, term, m, thr, flagged, heavy, t, &rest)
             : ce_direct<V, false, false, false>(x, nullptr, n, w, T(0), T(0), coef, g, grad, S, term, m, thr, flagged, heavy, t, &rest);
    } else {
      ok = w ? ce_direct<V, true, false, true>(x, nullptr, n, w, T(0), add, coef, g, grad, S, term, m, thr, flagged, heavy)
             : ce_direct<V, false, false, true>(x, nullptr, n, w, T(0), add, coef, g, grad, S, term, m, thr, flagged, heavy);
    }
    if (ok) {
      // (rest >= 0: a confident row whose label holds the max, no smoothing)
      const double et = rest >= 0 ? math::libm_exp(double(xt)) : 0.0;
      if (grad) {
        if (rest >= 0) {
          grad[t] = ce_label_entry<T>(et / (et + rest), -rest / (et + rest), eps, wt, add, Wsum, coef, thr, g, flagged);
        } else {
          const double pt = math::libm_exp(double(xt)) / S;
          grad[t] = ce_label_entry<T>(pt, pt - 1.0, eps, wt, add, Wsum, coef, thr, g, flagged);
          if (flagged && fix.can_fix) ce_grad_accurate<V>(x, n, m, w, nullptr, t, eps, g, grad);
        }
      }
      return ce_direct_loss<T>(S, term, rest, et, xt, wt, eps);
    }
  }
  return ce_hard_declined<V>(x, n, t, w, Wsum, eps, g, grad, fix, heavy, m, xt);
}

// Σ_c a_c = (1-ε)·Σ w_c·y_c + (ε/C)·Σ w_c for a soft target, vectorized (the products w_c·y_c
// split exactly by two_prod). float: the sums in double lanes, far below a float ulp. double: each
// lane's sum carries its rounding errors (TwoSum) and the lanes are added with compensation, since
// the gradient's top entry p·Σ a_c - a_t of a confident row keeps Σ a_c's relative error, which a
// plain sum of C terms lets grow with C.
template <class V>
struct LaneTwoSum {  // per-lane sums that keep their rounding errors (TwoSum) in c
  V s = V::zero(), c = V::zero();
  void add(V v) {
    V e;
    s = two_sum(s, v, e);
    c = c + e;
  }
  double value() const {  // the lanes added with compensation
    using T = scalar_t<V>;
    alignas(64) T sl[V::size], cl[V::size];
    store(sl, s);
    store(cl, c);
    double plain = 0;
    for (std::size_t j = 0; j < V::size; ++j) plain += double(sl[j]);
    if (!(plain - plain == 0)) return plain;  // an infinite or NaN entry: no error terms to add
    CompensatedSum<V> total;
    for (std::size_t j = 0; j < V::size; ++j) total.add(double(sl[j]));
    for (std::size_t j = 0; j < V::size; ++j) total.add(double(cl[j]));
    return total.value();
  }
};

template <class V>
inline double soft_coef_sum(const scalar_t<V>* y, const scalar_t<V>* w, std::size_t n, scalar_t<V> scale,
                            scalar_t<V> add) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if constexpr (sizeof(T) == 8) {
    LaneTwoSum<V> sy, sw;
    for (std::size_t i = 0; i < n; i += W) {
      const std::size_t k = n - i < W ? n - i : W;
      const V yv = k == W ? V::load(y + i) : load_partial<V>(y + i, k, T(0));
      if (w) {
        const V wv = k == W ? V::load(w + i) : load_partial<V>(w + i, k, T(0));
        V pe;
        sy.add(two_prod(yv, wv, pe));
        sy.c = sy.c + pe;
        sw.add(wv);
      } else {
        sy.add(yv);
      }
    }
    return double(scale) * sy.value() + double(add) * (w ? sw.value() : double(n));
  }
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
                               scalar_t<V> eps, scalar_t<V> g, scalar_t<V>* grad, double temp = 1.0) {
  using T = scalar_t<V>;
  const T scale = T(1) - eps, add = eps / T(n);
  // Σ a_c, needed by the gradient before it is written: a pass over the targets, not the logits.
  const double A = soft_coef_sum<V>(y, w, n, scale, add);
  if (temp != 1.0) return ce_temp_row<V>(x, y, n, -1, w, eps, A, g, grad, temp);
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
  if (!ce_declined_sums<V>(x, n, heavy, m, grad, r, special)) return special;
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

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
