// Cross-entropy's max-relative path: a row's m, k, S' and L as the softmax kernels compute them
// (kernels/row/max_relative.hpp, or top_heavy.hpp for a top-heavy row the direct pass summed), then
// one last pass that writes the gradient and sums the smoothing or soft-target term.
//
// Chosen by losses.hpp for every row that ce_direct.hpp declines: top-heavy rows (one class above
// half the mass), rows with NaN or infinities, logits outside exp's normal range, gradients in place.
//
// Invariant: -log p_c = L - d_c is a sum of two non-negative terms (no cancellation), d_c = x_c - m
// exact as hi + lo; a coefficient a_c = 0 adds 0 even where L - d_c is infinite.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>

#include "../../math/exp.hpp"
#include "../common.hpp"
#include "../row/basics.hpp"
#include "../row/max_relative.hpp"
#include "../row/top_heavy.hpp"
#include "loss_sum.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

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
  if (s == -double(lim<V>::inf)) return double(lim<V>::inf);  // x_t - m past double's range: no low part
  return (r.L - s) - err;
}

// The last pass. COEF: gradient p_c·coef - w_c·b (hard label: b = (ε/C)·g; soft: a_c·g).
// SUM: accumulate Σ a_c·(L - d_c) with a_c = w_c·(soft_scale·y_c + soft_add) (y = nullptr: a_c = w_c·soft_add).
// thr: the flag threshold of ce_cancel_threshold; `flagged` is set when some entry needs
// ce_grad_accurate (never cleared).
// TEMP: d = (x - m)/temp (temp != 1, in the lane type's normal range; loss/ce_temperature.hpp), the
// exact pair of row_diff; r then holds the row's sums at that temperature.
template <class V, bool GRAD, bool HAS_W, bool SOFT, bool TEMP = false>
inline double ce_last_pass(const scalar_t<V>* x, std::size_t n, const CeRow<V>& r, const scalar_t<V>* w,
                           const scalar_t<V>* y, scalar_t<V> soft_scale, scalar_t<V> soft_add,
                           scalar_t<V> coef, scalar_t<V> g, scalar_t<V>* grad, scalar_t<V> thr = 0,
                           bool* flagged = nullptr, double temp = 1.0) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const V negm = V::set1(-r.m), vinv = V::set1(T(r.inv)), vcoef = V::set1(coef), vg = V::set1(g);
  const V vt = V::set1(T(temp)), vtl = V::set1(T(temp - double(T(temp)))), vinvt = V::set1(T(1.0 / temp));
  const T Lh = T(r.L), Ll = T(r.L - double(Lh));
  const V vLh = V::set1(Lh), vLl = V::set1(Ll), vss = V::set1(soft_scale), vsa = V::set1(soft_add);
  const V dummy = V::zero(), vthr = V::set1(thr), vq = V::set1(T(0.75));
  const bool check = flagged != nullptr && thr < lim<V>::inf;
  auto flags = lt(V::zero(), V::zero());
  LossAcc<V> acc;
  auto step = [&](V xv, V wv, V yv, V& gout) LOGITKIT_INLINE {
    V lo;
    V hi;
    if constexpr (TEMP) hi = row_diff<V, true, true>(xv, negm, vt, vtl, vinvt, lo);
    else hi = row_diff<V, false, true>(xv, negm, dummy, dummy, dummy, lo);
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

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
