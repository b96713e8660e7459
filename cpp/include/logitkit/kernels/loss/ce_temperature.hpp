// Cross-entropy of z = x/T for a temperature T != 1 (docs/semantics.md, "Cross-entropy"): the loss
// of the scaled logits and the gradient with respect to the raw logits x, dL/dx = (dL/dz)/T.
//
// Chosen by losses.hpp for every row whose temperature is not 1 (temperature 1 never reaches this
// file: its rows keep the direct / max-relative strategies bit for bit). The row takes the
// max-relative path with the temperature inside the exact difference: d_c = (x_c - m)/T as hi + lo
// (row/basics.hpp, row_diff with TEMP), so no x/T array is formed and d_c keeps the accuracy of the
// T = 1 path; the gradient's scale g becomes g/T, once per row. Rows the lane type cannot do exactly
// (T or 1/T outside its normal range, x - m overflowing, g/T not a normal number of the lane type)
// take ce_temp_wide: the same formulas, scalar, in the wide type.
//
// Invariant: every quantity is the T = 1 formula's with d_c = (x_c - m)/T in place of x_c - m and
// g/T in place of g; the cancellation fix-up (ce_accurate.hpp) reads the same d_c as a
// double-length pair.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../../math/exp.hpp"
#include "../../math/libm.hpp"
#include "../common.hpp"
#include "../row/basics.hpp"
#include "../row/max_relative.hpp"
#include "../row/wide.hpp"
#include "ce_accurate.hpp"
#include "ce_max_relative.hpp"

// The temperature path is called out of line (and kept apart as cold code), so that the T = 1 row
// functions that branch to it are compiled as they are without it.
#if defined(__GNUC__) || defined(__clang__)
#define LOGITKIT_CE_TEMP_OUTLINE __attribute__((noinline, cold))
#elif defined(_MSC_VER)
#define LOGITKIT_CE_TEMP_OUTLINE __declspec(noinline)
#else
#define LOGITKIT_CE_TEMP_OUTLINE
#endif

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// A row of cross-entropy at temperature `temp`, scalar in the wide type (rare rows, see the file
// comment). y: soft target or nullptr (hard label t >= 0); a_c = w_c·(scale·y_c + add), the label's
// (1-ε)·w_t added for a hard row; A = Σ a_c. The loss Σ a_c·(L - d_c) (a_c = 0 adds 0) and
// grad_c = (g/T)·(p_c·A - a_c).
template <class V>
inline scalar_t<V> ce_temp_wide(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, std::int64_t t,
                                const scalar_t<V>* w, scalar_t<V> scale, scalar_t<V> add, double A, scalar_t<V> m,
                                scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp), wA = Wd(A), gt = Wd(g) / wt;
  const WideSum<V> ws = wide_expsum<V>(x, n, m, temp);
  const Wd L = ws.L(), Z = ws.k + ws.S;
  Wd loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Wd d = (Wd(x[i]) - wm) / wt;
    Wd a = y ? Wd(scale) * Wd(y[i]) + Wd(add) : Wd(add);
    if (!y && std::int64_t(i) == t) a += Wd(scale);
    if (w) a *= Wd(w[i]);
    if (a > 0) loss += a * (L - d);
    // (x[i] is read before grad[i] is written; g/T overflowing the wide type, T subnormal for float
    // rows: (v·g)/T, so that an entry whose derivative is exactly 0 stays 0, not 0·inf)
    if (grad) {
      const Wd v = math::libm_exp(d) / Z * wA - a;
      grad[i] = gt - gt == 0 ? T(gt * v) : T((v * Wd(g)) / wt);
    }
  }
  return T(loss);
}

// (x_t - m)/T as the pair the vector passes form for that entry (row_diff with TEMP), in double.
template <class V>
inline double ce_temp_nll_at(scalar_t<V> xt, scalar_t<V> m, double temp, double L, double& d_out) {
  using T = scalar_t<V>;
  if (xt == -lim<V>::inf) {
    // (a constant: a call of numeric_limits would be a weak symbol shared by the ISA objects)
    constexpr double inf = std::numeric_limits<double>::infinity();
    d_out = -inf;
    return inf;  // p_t = 0
  }
  const V t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))), invt = V::set1(T(1.0 / temp));
  V lo;
  const V hi = row_diff<V, true, true>(V::set1(xt), V::set1(-m), t, tl, invt, lo);
  alignas(64) T h[V::size], l[V::size];
  store(h, hi);
  store(l, lo);
  d_out = double(h[0]) + double(l[0]);
  return (L - double(h[0])) - double(l[0]);
}

// Cross-entropy of one row at temperature temp != 1 (finite, > 0). y: soft target or nullptr for
// the hard label t >= 0 (the caller has handled t < 0); coef = A = Σ a_c. Returns the row's loss
// and writes grad (unless nullptr; it may equal x) with respect to the raw logits.
template <class V>
LOGITKIT_CE_TEMP_OUTLINE inline scalar_t<V> ce_temp_row(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, std::int64_t t,
                               const scalar_t<V>* w, scalar_t<V> eps, double coef, scalar_t<V> g,
                               scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  const T scale = T(1) - eps, add = eps / T(n);
  T m{}, mn{};
  if (row_max<V>(x, n, m, &mn) != row_ok) {
    if (grad)
      for (std::size_t i = 0; i < n; ++i) grad[i] = lim<V>::nan;
    return lim<V>::nan;
  }
  constexpr double T_max = double(std::numeric_limits<T>::max()), T_min = double(std::numeric_limits<T>::min());
  const double gd = double(g) / temp, agd = math::libm_fabs(gd);
  if (temp_needs_wide<V>(x, n, m, mn, temp) || agd > T_max || (agd != 0 && agd < T_min))
    return ce_temp_wide<V>(x, y, n, t, w, scale, add, coef, m, g, grad, temp);
  const T gt = T(gd);
  const RowSum<V> rs = row_expsum<V, true>(x, n, m, temp);
  CeRow<V> r;
  r.m = m;
  r.L = rs.L();
  r.inv = 1.0 / (rs.k + rs.Sp);
  r.k = rs.k;
  r.Sp = rs.Sp;
  const bool hard = y == nullptr;
  const T wt = hard && w ? w[t] : T(1), xt = hard ? x[t] : T(0);  // (read before the gradient may overwrite x)
  double dt = 0;
  const double nll_t = hard ? ce_temp_nll_at<V>(xt, m, temp, r.L, dt) : 0.0;
  // As at T = 1: a hard row without smoothing can only cancel in the label's entry, computed apart.
  const CeFix<V> fix = ce_fix_setup<V>(x, n, (hard && eps == T(0)) ? nullptr : grad, gd, coef);
  const T thr = fix.thr;
  bool flagged = false;
  double loss = 0;
  if (hard) {
    const double label_coef = double(scale) * double(wt);  // 0: nothing from the label (see ce_hard_row)
    loss = label_coef == 0 ? 0.0 : label_coef * nll_t;
    if (eps == T(0) && !grad) return T(loss);
  }
  const T sc = hard ? T(0) : scale;
  double term;
  if (grad) {
    if (hard)
      term = w ? ce_last_pass<V, true, true, false, true>(x, n, r, w, nullptr, sc, add, T(coef), gt, grad, thr, &flagged, temp)
               : ce_last_pass<V, true, false, false, true>(x, n, r, w, nullptr, sc, add, T(coef), gt, grad, thr, &flagged, temp);
    else
      term = w ? ce_last_pass<V, true, true, true, true>(x, n, r, w, y, sc, add, T(coef), gt, grad, thr, &flagged, temp)
               : ce_last_pass<V, true, false, true, true>(x, n, r, w, y, sc, add, T(coef), gt, grad, thr, &flagged, temp);
    if (hard) {
      // the label's entry, (1-ε)·w_t·(p_t - 1) + (ε/C)·(W·p_t - w_t) with W·(ε/C) = coef - (1-ε)·w_t,
      // in double; p_t - 1 = -S'/(1 + S') when the label is the unique max
      const double pt = math::libm_exp(dt) * r.inv;
      const double pt_m1 = (xt == m && r.k == 1.0) ? -r.Sp * r.inv : pt - 1.0;
      const double sw = double(scale) * double(wt);
      const double u = sw * pt_m1 + (coef - sw) * pt - double(add) * double(wt);
      const double pc = pt * coef;
      if (math::libm_fabs(u) < 0.75 * pc && double(thr) < pc) flagged = true;
      grad[t] = T(gd * u);
    }
    if (flagged && fix.can_fix) ce_grad_accurate<V, true>(x, n, m, w, y, hard ? t : -1, eps, gt, grad, temp);
  } else {
    term = w ? (hard ? ce_last_pass<V, false, true, false, true>(x, n, r, w, nullptr, sc, add, T(0), gt, grad, T(0), nullptr, temp)
                     : ce_last_pass<V, false, true, true, true>(x, n, r, w, y, sc, add, T(0), gt, grad, T(0), nullptr, temp))
             : (hard ? ce_last_pass<V, false, false, false, true>(x, n, r, w, nullptr, sc, add, T(0), gt, grad, T(0), nullptr, temp)
                     : ce_last_pass<V, false, false, true, true>(x, n, r, w, y, sc, add, T(0), gt, grad, T(0), nullptr, temp));
  }
  if (!hard || eps != T(0)) loss += term;
  return T(loss);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
