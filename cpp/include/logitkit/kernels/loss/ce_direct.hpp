// Cross-entropy's direct path: no max pass, two passes over the row (kernels/row/direct_sum.hpp's
// sum, then the gradient and the smoothing or soft-target term).
//
// Chosen by losses.hpp first for every row; it declines (returns false) the rows it cannot do
// exactly, which then take ce_max_relative.hpp: a logit outside exp's normal range (except masked
// entries with a hard label and no smoothing: -inf, or far below the max), NaN or infinities, a
// gradient written over the logits, and top-heavy rows (one class above half the
// mass: flagged in `heavy`, so that the max-relative path reuses the exps of this pass) unless the
// loss is a hard label's alone (no smoothing) and that label is not the heavy class.
//
// Invariant: where it accepts a row, log S - x_c >= log 2 for every c whose -log p_c it uses (every
// c with smoothing or a soft target; the label's alone otherwise), so -log p_c = log S - x_c does not
// cancel; p_c = exp(x_c)/S keeps the relative accuracy of exp for every c, and p_t - 1 does not
// cancel where p_t < 1/2.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "../../math/libm.hpp"
#include "../common.hpp"
#include "../row/direct_sum.hpp"
#include "loss_sum.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// R = Σ_{c != t} exp(x_c) for the loss alone, the exps computed again and summed in the order of
// ce_direct's pass 2 (LossAcc::over_row), so that the loss has the same bits with and without the
// gradient; an entry the direct sum took as masked (below exp's range) adds 0, as there.
template <class V>
inline double rest_sum(const scalar_t<V>* x, std::size_t n, std::size_t t) {
  constexpr std::size_t W = V::size;
  LossAcc<V> acc;
  const V low = V::set1(-direct_sum_limit<scalar_t<V>>);
  auto step = [&](std::size_t i, std::size_t m) LOGITKIT_INLINE {
    const V xv = m == W ? V::load(x + i) : load_partial<V>(x + i, m, x[i]);
    const auto masked = lt(xv, low);  // (a masked entry, as the direct sum took it: 0)
    V e = math::exp_normal_masked(xv, masked);
    if (m < W) e = mask_zero(first_lanes<V>(m), e);
    if (t >= i && t < i + W) e = select(mask_and(first_lanes<V>(t - i + 1), mask_not(first_lanes<V>(t - i))), V::zero(), e);
    acc.add(e);
  };
  acc.over_row(n, step);
  return acc.sum();
}

// The direct path of cross-entropy (no max, two passes): when every |x_c| is inside exp's normal
// range, the gradient is not written over x, and no class holds more than half the probability
// mass, S = Σ exp(x_c) (in double), log S - x_c >= log 2 for every c, and
//   -log p_c = log S - x_c, p_c = exp(x_c)/S
// are accurate without the max (the confident rows, p > 1/2, need the max-relative path: they return
// false here, as do NaN/inf rows and rows out of range; a hard label's loss alone keeps a confident
// row: with the label below the max only the label's -log p_t and p_t - 1 are formed, and
// p_t < 1/2 there; with the label on the max see *rest below). Pass 1 writes exp(x) into grad
// (when asked) and sums it; pass 2 scales it into the gradient and sums the smoothing/soft term.
// a_c = w_c·(soft_scale·y_c + soft_add); coef = Σ_c a_c + (hard) (1-ε)·w_t.
template <class V, bool HAS_W, bool SOFT, bool SMOOTH>
inline bool ce_direct(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n,
                      const scalar_t<V>* w, scalar_t<V> soft_scale, scalar_t<V> soft_add, double coef,
                      scalar_t<V> g, scalar_t<V>* grad, double& S_out, double& term_out,
                      scalar_t<V>& m_out, scalar_t<V> thr, bool& flagged, bool& heavy,
                      std::int64_t label = -1, double* rest = nullptr, MaskedRows* masked = nullptr) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  if (grad == x || n == 0) return false;
  double S;
  T m;
  // A hard label without smoothing takes masked rows (row_direct_sum: -inf entries, or far below the
  // max, as terms of 0; their gradient entries are then 0), unless the label's own logit is below
  // exp's range. With smoothing or a soft target every class's -log p_c enters the loss: declined.
  constexpr bool can_mask = !SOFT && !SMOOTH;
  MaskedRows row_only;  // (a row alone: the masked pass after the unmasked one declines)
  MaskedRows* mr = can_mask && label >= 0 ? (masked ? masked : &row_only) : nullptr;
  const bool ok = grad ? row_direct_sum<V, true>(x, n, S, m, grad, mr) : row_direct_sum<V, false>(x, n, S, m, nullptr, mr);
  if (!ok) return false;
  if (can_mask && label >= 0 && !(x[label] >= -direct_sum_limit<T>)) return false;
  // top-heavy: m is the max (unique: p > 1/2), exp(x) is in grad (if given). A hard label's loss
  // alone (label >= 0: no smoothing, no soft target) keeps the row when the label is below the max,
  // and with a gradient row also when the label holds the max: its -log p_t = log1p(R/e_t) and
  // p_t - 1 = -R/S then come from R = Σ_{c != t} e_c, summed in pass 2 (positive terms: no
  // cancellation), returned in *rest.
  bool top = false;
  if (math::libm_exp(double(m)) > 0.5 * S) {
    const bool hard = !SOFT && !SMOOTH && label >= 0;
    top = hard && rest && x[label] == m;
    if (!(hard && (x[label] < m || top))) {
      heavy = true;
      m_out = m;
      return false;
    }
  }
  const double logS = math::libm_log(S);
  S_out = S;
  m_out = m;
  term_out = 0;
  if (!grad && !SMOOTH && !SOFT) {
    if (top) *rest = rest_sum<V>(x, n, std::size_t(label));
    return true;
  }
  if (top) grad[label] = T(0);  // out of R's sum (label_entry writes the label's entry afterwards)
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
      if constexpr (!SOFT && !SMOOTH)
        if (top) acc.add(e);
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
  acc.over_row(n, step);
  term_out = acc.sum();
  if (top) {
    *rest = term_out;
    term_out = 0;
  }
  if (any(flags)) flagged = true;
  return true;
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
