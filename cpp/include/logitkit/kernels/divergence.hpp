// Entropy and divergences straight from logits, one row at a time, each with its gradient from the
// same passes (docs/numerics.md, "Entropy and divergences").
//
// Entropy of p = softmax(x/T), in the lane type: m = max x, d_i = (x_i - m)/T exact as hi + lo
// (row_diff), L = log(k + S') (log1p(S') for k = 1), p_i = exp(d_i)/(k + S'), and
//   H = L + A,  A = Σ p_i·(-d_i):
// two non-negative terms, so no cancellation: a confident row's H (1e-30, say) is as accurate as a
// flat row's log n. Gradient with respect to x: dH/dx_i = -(p_i/T)·(log p_i + H) = -(p_i/T)·(d_i + A).
//
// KL(p ‖ q) with p = softmax(x/T), q = softmax(y/T), in the lane type with pairs of it (float rows:
// kl_lanes_f, double rows: kl_lanes): with d_i = (x_i - y_i)/T and c = Σ p_j d_j,
//   KL = log Σ p_i·e^(u_i), u_i = c - d_i  (Σ p_i u_i = 0)  = log1p(F),  F = Σ p_i·φ(u_i),
// φ(u) = e^u - 1 - u >= 0. Never negative, exactly 0 when every u_i is 0 (rows equal up to a
// shift), and as accurate for a KL of 1e-24 as for one of 1. d is taken relative to the entry k where
// x is largest, d'_i = ((x_i - x_k) - (y_i - y_k))/T, exact as a pair (TwoSum), so a shift between
// the rows cancels exactly and u_i keeps its relative accuracy however small it is. An error in c
// moves every u_i alike, which changes F only by that error times F (because Σ p u = 0): c is a
// plain sum. φ is a Taylor polynomial for |u| <= 1; beyond, p·φ(u) is p·((e^u - 1) - u) for u < -1
// (a sum of positive terms) and e^w - p·(1 + u) for u > 1, with w = log(p·e^u) =
// (y_i - y_k)/T - L_x + c formed directly (e^u alone could overflow where p is tiny; at most a
// 3.8-fold cancellation). Where some e^w leaves double's range the divergence is above 600 and the
// closed form c - L_x + L_y + (max y - y_k)/T is used.
// Gradient with respect to y (the student): dKL/dy_i = (q_i - p_i)/T.
//
// Entries where p_i = 0 (x_i = -inf) add nothing to c, but q's mass there does enter the sum
// Σ p_i·e^(u_i) (which is Σ_i e^(y_i - ...), over every i): as e^((y_i - y_k)/T - L_x + c).
//
// Special rows: a NaN or +inf in x or y, or a row of only -inf, gives NaN (and a NaN gradient row).
// x_i = -inf and y_i = -inf: the entry adds nothing; y_i = -inf where x_i is finite: KL = +inf (its
// gradient is still (q - p)/T, finite).
//
// Rows the lane type cannot do exactly (a temperature or its reciprocal outside the normal range,
// x - m overflowing) take the same formulas scalar in the wide type (row/wide.hpp).
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "../math/exp.hpp"
#include "../math/exp_dd.hpp"
#include "../math/libm.hpp"
#include "../math/log.hpp"
#include "../math/log1p.hpp"
#include "common.hpp"
#include "phi.hpp"
#include "loss/loss_sum.hpp"
#include "row/basics.hpp"
#include "row/max_relative.hpp"
#include "row/scratch.hpp"
#include "row/short_rows.hpp"
#include "row/wide.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Rows up to this many bytes prefetch the next row during their compute pass (longer ones would
// push their own data out of L2).
constexpr std::size_t next_row_prefetch_max = std::size_t(64) << 10;

// v as the lane type is a normal number there, or 0.
template <class V>
inline bool normal_or_zero(double v) {
  using T = scalar_t<V>;
  constexpr double lo = double(std::numeric_limits<T>::min()), hi = double(std::numeric_limits<T>::max());
  const double a = math::libm_fabs(v);
  return a == 0 || (a >= lo && a <= hi);
}

// g/T as the lane type, when it is a normal number there (or 0).
template <class V>
inline bool grad_scale_fits(scalar_t<V> g, double temp) {
  return normal_or_zero<V>(double(g) / temp);
}

// ---------------------------------------------------------------------------------------- entropy

template <class V>
inline scalar_t<V> entropy_wide(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> g, scalar_t<V>* grad,
                                double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wm = Wd(m), wt = Wd(temp);
  const WideSum<V> ws = wide_expsum<V>(x, n, m, temp);
  const Wd L = ws.L(), Z = ws.k + ws.S;
  Wd A = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Wd d = (Wd(x[i]) - wm) / wt;
    const Wd p = math::libm_exp(d) / Z;
    if (p > 0) A -= p * d;
  }
  if (grad) {
    // g/T overflows the wide type only for a subnormal T (float rows): then (v·g)/T, so that an
    // entry whose derivative is exactly 0 stays 0 (not 0·inf)
    const Wd gs = Wd(g) / wt;
    const bool gs_fin = gs - gs == 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Wd d = (Wd(x[i]) - wm) / wt;
      const Wd p = math::libm_exp(d) / Z;
      grad[i] = !(p > 0) ? T(0) : gs_fin ? T(-gs * p * (d + A)) : T(-(p * (d + A) * Wd(g)) / wt);
    }
  }
  return T(L + A);
}

// One vector of the entropy's gradient, -g·p_i·(d_i + A) with d_i as hi + lo and A as Ah + Al
// (log p_i + H = d_i + A), 0 where p_i = 0 (d_i may be -inf there): entropy_lanes's gradient pass and
// entropy_rows_short's lanes take the same formula.
template <class V>
LOGITKIT_INLINE inline V entropy_grad_term(V hi, V lo, V p, V Ah, V Al, V gs) {
  const V s = (hi + Ah) + (lo + Al);
  return mask_zero(lt(V::zero(), p), neg(gs * (p * s)));
}

// The gradient pass of entropy_lanes: g·dH/dx_i = -(g/T)·p_i·(d_i + A) into
// grad (which may be x), p_i = exp(d_i)/Z, from the row's max m, Z = k + S' and A = A'/Z.
template <class V, bool TEMP>
inline void entropy_grad_out(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> g, scalar_t<V>* grad,
                             double temp, double Z, double A) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp));
  const V vinv = V::set1(T(1.0 / Z));
  const T Ah = T(A), Al = T(A - double(Ah));
  const V vAh = V::set1(Ah), vAl = V::set1(Al), vgs = V::set1(T(double(g) / temp));
  const auto out = [&](V a) LOGITKIT_INLINE {
    V lo;
    const V hi = row_diff<V, TEMP, true>(a, negm, t, tl, invt, lo);
    return entropy_grad_term(hi, lo, math::exp_neg_lo(hi, lo) * vinv, vAh, vAl, vgs);
  };
  std::size_t j = 0;
  for (; j + W <= n; j += W) store(grad + j, out(V::load(x + j)));
  if (j < n) store_partial(grad + j, out(load_partial<V>(x + j, n - j, m)), n - j);
}

// One pass sums, with e_j = exp(d_j): S' = Σ e_j over the entries below the max (k of them at it)
// and A' = Σ e_j·(-d_j); then L = log(k + S') (log1p(S') for k = 1: math::log1p_nonneg) and
// A = A'/(k + S'). Terms whose e_j is below the lane type's normal range are summed in the wide type
// (a confident row's entropy may be made of them alone). Two vectors are added in the lane type
// before each widening add (which costs the float pass more than its exp): every term is >= 0, so
// that rounding is at most one unit of the lane type relative to the sums, far below the budget.
// A second pass writes the gradient.
template <class V, bool TEMP>
inline scalar_t<V> entropy_lanes(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> g,
                                 scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  using EC = math::exp_consts<T>;
  constexpr std::size_t W = V::size;
  constexpr T cutoff = sizeof(T) == 4 ? T(-200) : T(-1500);
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp)), vm = V::set1(m), one = V::set1(T(1)), lowest = V::set1(EC::fast_lo);
  double k = 0;
  Wd S2 = 0, A2 = 0;  // the tiny terms, in the wide type
  LossAcc<V> sacc, aacc;  // aacc sums e_j·d_j (<= 0): A' is its negation
  // e_j and e_j·d_j of one vector. Lanes where d_j < fast_lo (exp's result not normal there, and
  // d_j may be -inf) and the lanes at the max are rare: one test finds them, and they are taken
  // out of the lane sums after the fact. The row's tail is read with -inf past its end: those lanes
  // are low, below the cutoff and not at the max, so they add nothing.
  const auto step = [&](V a, V& e_out, V& ed_out) LOGITKIT_INLINE {
    V lo;  // (NaN where hi = -inf: such a lane is low, and cleared)
    const V hi = row_diff<V, TEMP, false>(a, negm, t, tl, invt, lo);
    V e = math::exp_normal<V, true>(hi, lo);  // (garbage where hi < fast_lo: cleared below)
    V ed = e * (hi + lo);
    const auto low = lt(hi, lowest);
    const auto at_max = eq(a, vm);
    if (any(mask_or(at_max, low))) {
      k += hsum(mask_zero(at_max, one));
      const auto tiny = mask_and(low, lt(V::set1(cutoff), hi));
      if (any(tiny)) {
        alignas(64) T h[V::size], l[V::size], f[V::size];
        store(h, hi);
        store(l, lo);
        store(f, mask_zero(tiny, one));
        for (int j = 0; j < V::size; ++j)
          if (f[j] != T(0)) {
            const Wd d = Wd(h[j]) + Wd(l[j]), ex = math::libm_exp(d);
            S2 += ex;
            A2 -= ex * d;
          }
      }
      const auto out = mask_or(at_max, low);
      e = mask_zero(mask_not(out), e);
      ed = mask_zero(mask_not(out), ed);
    }
    e_out = e;
    ed_out = ed;
  };
  // step's terms added to the sums, for a vector on its own (a block's odd one, the row's tail)
  const auto add_one = [&](V a) LOGITKIT_INLINE {
    V e, ed;
    step(a, e, ed);
    sacc.add(e);
    aacc.add(ed);
  };
  std::size_t i = 0;
  // The next row (of a batch of contiguous rows) is asked for while this one, in L1, is computed:
  // its max pass then reads from cache (a prefetch past the array is harmless).
  const std::size_t next = n * sizeof(T) <= next_row_prefetch_max ? n * sizeof(T) : 0;
  while (i + W <= n) {
    const std::size_t stop = n - i > sacc.block ? i + sacc.block : n;
    for (; i + 2 * W <= stop; i += 2 * W) {
      if (next) {
        prefetch_read<V>(x + i, next);
        prefetch_read<V>(x + i + W, next);
      }
      V e0, a0, e1, a1;
      step(V::load(x + i), e0, a0);
      step(V::load(x + i + W), e1, a1);
      sacc.add(e0 + e1);
      aacc.add(a0 + a1);
    }
    if (i + W <= stop) {
      add_one(V::load(x + i));
      i += W;
    }
    sacc.flush();
    aacc.flush();
  }
  if (i < n) add_one(load_partial<V>(x + i, n - i, -lim<V>::inf));
  const Wd Sp = Wd(sacc.sum()) + S2, Z = Wd(k) + Sp;
  const double L = double(k == 1 ? math::log1p_nonneg(Sp) : math::libm_log(Z));
  const double A = double((A2 - Wd(aacc.sum())) / Z);
  if (grad) entropy_grad_out<V, TEMP>(x, n, m, g, grad, temp, double(Z), A);
  return T(L + A);
}

// The entropy of softmax(x/temp) of one row by its own passes; with grad, g·dH/dx into grad (which
// may be x).
template <class V>
inline scalar_t<V> entropy_row_alone(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* grad,
                                     double temp) {
  using T = scalar_t<V>;
  T m, mn;
  // (the min only matters with a temperature: without one, the max pass skips it)
  if ((temp == 1.0 ? row_max<V>(x, n, m) : row_max<V>(x, n, m, &mn)) != row_ok) {
    if (grad) fill_row<V>(grad, n, lim<V>::nan);
    return lim<V>::nan;
  }
  if ((temp != 1.0 && temp_needs_wide<V>(x, n, m, mn, temp)) || (grad && !grad_scale_fits<V>(g, temp)))
    return entropy_wide<V>(x, n, m, g, grad, temp);
  return temp == 1.0 ? entropy_lanes<V, false>(x, n, m, g, grad, temp) : entropy_lanes<V, true>(x, n, m, g, grad, temp);
}

// A sum per double lane that keeps each addition's rounding error (TwoSum): entropy_rows_short's
// S' and A' of double rows, which short_exp_term adds to through acc_add. A row of up to 31 terms
// (AVX-512) summed plainly could carry 30 roundings into H, all of them relative to it; the row
// kernel's block sums carry a few.
template <class V>
struct LaneSum2 {
  V s = V::zero(), c = V::zero();
  V value() const { return s + c; }
};
template <class V>
LOGITKIT_INLINE inline void acc_add(LaneSum2<V>& acc, V v) {
  V e;
  acc.s = two_sum(acc.s, v, e);
  acc.c = acc.c + e;
}

// Entropy of short rows at temperature 1, V::size rows at a time, one row per lane
// (row/short_rows.hpp): per lane m, then with x_j - m exact as hi + lo and e_j = exp(hi + lo),
// S' = Σ_{x_j<m} e_j and A' = Σ e_j·(hi + lo) (<= 0) in double lanes (float rows) or in the lanes
// with their rounding errors kept (double rows: LaneSum2), k = #{x_j = m},
// L = log(k + S') (math::log_k_plus) and H = L - A'/(k + S') in double lanes. The terms are the lane
// type's, as entropy_lanes's: S' and A' are sums of terms of one sign, each good to about an ulp, so
// H = L + A (two non-negative terms) is too. A lane whose
// row needs more (a NaN, an infinity, an entry below m + fast_lo other than a masked class's -inf,
// a gradient scale outside the lane type's normal range) is redone by entropy_row_alone.
// rows contiguous rows of n (2 <= n < short_rows_below<V>) at x; h[r] = H of row r; with grad
// (rows contiguous rows, which may be x's), g[r]·dH/dx into row r of grad.
// Invariant: no lane depends on another: a row gets the same bits in any group, alone or in a batch.
template <class V>
inline void entropy_rows_short(const scalar_t<V>* x, std::size_t rows, std::size_t n, const scalar_t<V>* g,
                               scalar_t<V>* h, scalar_t<V>* grad) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  alignas(64) T cols[short_rows_below<V>][W];
  alignas(64) T ecol[short_rows_below<V>][W];  // with grad: e_j per lane
  alignas(64) T redo[W], ht[W], gl[W];
  const V one = V::set1(T(1)), zero = V::zero();
  const T* const xend = x + rows * n;
  for (std::size_t r0 = 0; r0 < rows; r0 += W) {
    const std::size_t gsz = rows - r0 < W ? rows - r0 : W;
    {
      const std::size_t bytes = W * n * sizeof(T), ahead = bytes < prefetch_ahead ? prefetch_ahead : bytes;
      prefetch_rows<V>(x + r0 * n, nullptr, bytes, ahead);
    }
    rows_to_lanes<V>(x + r0 * n, xend, gsz, n, cols);
    V m;
    auto masked = lt(zero, zero);
    const auto bad = short_lanes_max<V>(cols, n, m, masked);
    const V negm = neg(m), ninf = V::set1(-lim<V>::inf);
    using Wide = decltype(acc_make(V::zero()));
    using Acc = std::conditional_t<acc_has_b<Wide>::value, Wide, LaneSum2<V>>;
    Acc sacc{}, aacc{};
    V k = zero;
    const auto sum_pass = [&](auto masked_c) LOGITKIT_INLINE {
      constexpr bool MASKED = decltype(masked_c)::value;
      for (std::size_t j = 0; j < n; ++j) {
        V hi, lo;
        const V v = V::load(cols[j]);
        const V e = short_exp_term<V, Acc, MASKED>(v, m, negm, k, sacc, hi, lo);
        if (grad) store(ecol[j], e);
        V ed = e * (hi + lo);  // (0 at the max, where hi = lo = 0)
        if constexpr (MASKED) ed = select(eq(v, ninf), zero, ed);  // (0·-inf)
        acc_add(aacc, ed);
      }
    };
    if (any(masked)) sum_pass(std::true_type{});
    else sum_pass(std::false_type{});
    // S' and A' in double lanes, the accumulators' layout
    Wide S, A;
    if constexpr (acc_has_b<Wide>::value) {
      S = sacc, A = aacc;
    } else {
      S.a = sacc.value(), A.a = aacc.value();
    }
    const auto kw = wide_of(k);
    const auto L = short_log(kw, S);
    // Z = k + S', H = L - A'/Z, lane by lane in double
    auto Z = kw, H = L;
    Z.a = kw.a + S.a;
    H.a = L.a - A.a / Z.a;
    if constexpr (acc_has_b<Wide>::value) {
      Z.b = kw.b + S.b;
      H.b = L.b - A.b / Z.b;
      store(ht, narrow(H.a, H.b));
    } else {
      store(ht, H.a);
    }
    // the lanes whose rows are redone (a gradient scale outside the normal range included)
    store(redo, mask_zero(bad, one));
    if (grad) {
      for (std::size_t l = 0; l < W; ++l) {
        const bool fits = l < gsz && grad_scale_fits<V>(g[r0 + l], 1.0);
        gl[l] = fits ? g[r0 + l] : T(0);
        if (l < gsz && !fits) redo[l] = T(1);
      }
      // entropy_grad_term lane by lane with p_j = e_j·(1/Z), 1/Z and A = -A'/Z rounded from double
      // as entropy_grad_out rounds them; transposed back into the rows (lanes_to_rows)
      auto inv = Z, Aq = A;
      inv.a = decltype(Z.a)::set1(1.0) / Z.a;
      Aq.a = neg(A.a / Z.a);
      V vinv;
      if constexpr (acc_has_b<Wide>::value) {
        inv.b = decltype(Z.b)::set1(1.0) / Z.b;
        Aq.b = neg(A.b / Z.b);
        vinv = narrow(inv.a, inv.b);
      } else {
        vinv = inv.a;
      }
      V vAh, vAl;
      short_split(Aq, vAh, vAl);
      const V vgs = V::load(gl);
      lanes_to_rows<V>(grad + r0 * n, gsz, n, redo, [&](std::size_t j) LOGITKIT_INLINE {
        V lo;
        const V hi = two_sum(V::load(cols[j]), negm, lo);
        return entropy_grad_term(hi, lo, V::load(ecol[j]) * vinv, vAh, vAl, vgs);
      });
    }
    for (std::size_t l = 0; l < gsz; ++l) {
      const std::size_t r = r0 + l;
      if (redo[l] != T(0)) h[r] = entropy_row_alone<V>(x + r * n, n, grad ? g[r] : T(0), grad ? grad + r * n : nullptr, 1.0);
      else h[r] = ht[l];
    }
  }
}

// The entropy of softmax(x/temp) of one row; with grad, g·dH/dx into grad (which may be x). Short
// rows at temperature 1 go to entropy_rows_short as a group of one (a row gets the bits a batch
// gives it).
template <class V>
inline scalar_t<V> entropy_row(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  if constexpr (short_rows_below<V> > 0) {
    if (temp == 1.0 && n >= 2 && n < short_rows_below<V>) {
      T h;
      entropy_rows_short<V>(x, 1, n, &g, &h, grad);
      return h;
    }
  }
  return entropy_row_alone<V>(x, n, g, grad, temp);
}

// `rows` contiguous rows of n at temperature 1: h[r] = the entropy of row r, with grad (rows
// contiguous rows, which may be x's) g[r]·dH/dx into row r of grad (g may be null without grad).
// The bits entropy_row gives row by row.
template <class V>
inline void entropy_rows(const scalar_t<V>* x, std::size_t rows, std::size_t n, const scalar_t<V>* g,
                         scalar_t<V>* h, scalar_t<V>* grad) {
  using T = scalar_t<V>;
  if constexpr (short_rows_below<V> > 0)
    if (n >= 2 && n < short_rows_below<V>) return entropy_rows_short<V>(x, rows, n, g, h, grad);
  for (std::size_t r = 0; r < rows; ++r)
    h[r] = entropy_row<V>(x + r * n, n, grad ? g[r] : T(0), grad ? grad + r * n : nullptr, 1.0);
}

// ------------------------------------------------------------------------------- KL divergence

// KL of a row in the wide type, scalar (extreme temperatures); the formulas of the file comment.
template <class V>
inline scalar_t<V> kl_wide(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx, scalar_t<V> my,
                           std::size_t k, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  using Wd = wide_t<V>;
  const Wd wt = Wd(temp), wmx = Wd(mx), wmy = Wd(my), wyk = Wd(y[k]);
  const Wd Lx = wide_expsum<V>(x, n, mx, temp).L(), Ly = wide_expsum<V>(y, n, my, temp).L();
  const auto logp = [&](std::size_t i) { return (Wd(x[i]) - wmx) / wt - Lx; };
  const auto dprime = [&](std::size_t i) { return ((Wd(x[i]) - wmx) - (Wd(y[i]) - wyk)) / wt; };
  bool infinite = false;
  Wd c = 0, P1 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] == -lim<V>::inf) continue;
    if (y[i] == -lim<V>::inf) infinite = true;
    const Wd p = math::libm_exp(logp(i));
    P1 += p;
    if (!infinite && p > 0) c += p * dprime(i);  // (p = 0: d' may be infinite)
  }
  c /= P1;  // the weights p_i/P1, as in kl_lanes
  const Wd LxP = Lx + math::libm_log(P1);
  Wd kl = std::numeric_limits<Wd>::infinity();
  if (!infinite) {
    // F as in kl_lanes: p·φ(u) where p > 0 (φ by its series for |u| <= 1), q's mass where p = 0
    const auto qmass = [&](std::size_t i) { return (Wd(y[i]) - wyk) / wt - LxP + c; };  // log(p·e^u)
    Wd F = 0, M = -std::numeric_limits<Wd>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      if (y[i] == -lim<V>::inf) continue;
      M = qmass(i) > M ? qmass(i) : M;
      const Wd p = x[i] > -lim<V>::inf ? math::libm_exp(logp(i)) / P1 : Wd(0);
      if (p == 0) {
        F += math::libm_exp(qmass(i));
        continue;
      }
      const Wd u = c - dprime(i);
      if (u > 1) {
        F += math::libm_exp(qmass(i)) - p * (1 + u);
      } else if (u < -1) {
        F += p * ((math::libm_exp(u) - 1) - u);
      } else {
        Wd term = 0, pw = u * u / 2;
        for (int j = 3; j < 40 && pw != 0; ++j) {
          term += pw;
          pw *= u / Wd(j);
        }
        F += p * term;
      }
    }
    // a divergence beyond the wide type's exp range: the closed form (no cancellation there)
    kl = M < 700 ? math::libm_log1p(F) : c - Lx + Ly + (wmy - wyk) / wt;
    if (!(kl > 0)) kl = 0;
  }
  if (grad) {
    const Wd gs = Wd(g) / wt;  // (overflowing: as in entropy_wide)
    const bool gs_fin = gs - gs == 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Wd p = math::libm_exp(logp(i)), q = math::libm_exp((Wd(y[i]) - wmy) / wt - Ly);
      grad[i] = gs_fin ? T(gs * (q - p)) : T(((q - p) * Wd(g)) / wt);
    }
  }
  return T(kl);
}

// φ(u) for u in [-1, 2] in float lanes (kl_stored_f): u²·G(u), G a degree-8 polynomial fitted to
// (e^u - 1 - u)/u² on [-1, 2] with its coefficients chosen among floats (each rounded in turn,
// the higher ones refitted to it), within 2^-26.5 of G relatively. With FMA Horner steps in float
// and the product by u², φ is within 2.975·2^-24 relatively on every float in [-1, 2] with
// |u| >= 2^-40; without FMA (each step rounded twice), within 4·2^-24 on tests/cpp/test_math.cpp's
// sample.
template <class V>
LOGITKIT_INLINE inline V phi_fit_f(V u) {
  const auto c = [](float v) { return V::set1(v); };
  V p = mul_add(c(0x1.c06952p-22f), u, c(0x1.61f67ep-19f));
  p = mul_add(p, u, c(0x1.9be90cp-16f));
  p = mul_add(p, u, c(0x1.a0b53cp-13f));
  p = mul_add(p, u, c(0x1.6c204cp-10f));
  p = mul_add(p, u, c(0x1.110faep-7f));
  p = mul_add(p, u, c(0x1.555546p-5f));
  p = mul_add(p, u, c(0x1.555558p-3f));
  p = mul_add(p, u, c(0x1p-1f));
  return p * (u * u);
}

// d'_i = ((a - x_k) - (b - y_k))/T as hi + r, in pairs of the lane type: each difference exact
// (TwoSum), their difference exact when they are close (Sterbenz) and otherwise rounded relative to
// itself, and the quotient by T = t + tl (the lane type's pair of the temperature; tl = 0 for double)
// with its residual, exact by FMA. (Multiplying by a rounded 1/T instead would scale every d' by up
// to 1 + 2^-24, which moves F relatively by that much times the largest u: tens of ulps where a
// confident row's F comes from an entry with u of a few units and (x_i - x_k)/T near -60.)
template <class V, bool TEMP>
LOGITKIT_INLINE inline V kl_dprime(V a, V b, V negmx, V negyk, V t, V tl, V invt, V& r) {
  V al, bl, se;
  const V ah = two_sum(a, negmx, al), bh = two_sum(b, negyk, bl);
  const V sh = two_sum(ah, neg(bh), se);
  const V dl = se + (al - bl);
  r = dl;
  if constexpr (TEMP) return pair_over_t(sh, r, t, tl, invt);
  return sh;
}

// A sum of many vectors of terms: plain over blocks of B vectors (float lanes widened to double,
// acc_add), the block sums added with Neumaier's compensation (a plain sum of a 1000-entry row
// drifts by tens of ulps).
template <class V, int B = 8>
struct BlockSum {
  decltype(acc_make(V::zero())) acc{};
  int k = 0;
  CompensatedSum<V> total;
  LOGITKIT_INLINE void add(V v) {
    acc_add(acc, v);
    if (++k == B) flush();
  }
  // add(V::load(p)), the same sum, widened as it is loaded
  LOGITKIT_INLINE void add_mem(const scalar_t<V>* p) {
    acc_add_mem(acc, p);
    if (++k == B) flush();
  }
  void flush() {
    total.add(acc_sum(acc));
    acc = {};
    k = 0;
  }
  double value() {
    flush();
    return total.value();
  }
};

// A sum of pairs kept as an unevaluated pair in each lane (TwoSum at each addition; the low parts,
// of a few 2^-53 each, summed plainly): for a sum near 1 whose difference from 1, a few 2^-53, is
// wanted to far more than a double near 1 can hold.
template <class D>
struct PairSum {
  D hi = D::zero(), lo = D::zero();
  // adds the pair vh + vl
  LOGITKIT_INLINE void add(D vh, D vl) {
    D e;
    hi = two_sum(hi, vh, e);
    lo = lo + (e + vl);
  }
  // the sum, rounded once at the end
  double value() const { return sum_from(0.0); }
  // the sum minus 1, rounded once at the end
  double minus_one() const { return sum_from(-1.0); }
  double sum_from(double s) const {
    double h[D::size], l[D::size];
    store(h, hi);
    store(l, lo);
    double sl = 0.0;
    for (std::size_t i = 0; i < D::size; ++i) {
      double e;
      s = two_sum(s, h[i], e);
      sl += e + l[i];
    }
    return s + sl;
  }
};

// (a + negm)/T as hi + lo in double lanes: TwoSum, then the quotient by T with its residual (exact
// by FMA or Dekker's product) folded into lo, exact but for the quotient's last rounding; lo may be
// NaN where a = -inf. vinvt = 1/T; TEMP false: T = 1.
template <class D, bool TEMP>
LOGITKIT_INLINE inline D diff_over_t_lanes(D a, D negm, D vt, D vinvt, D& lo) {
  D h = two_sum(a, negm, lo);
  if constexpr (TEMP) {
    const D q = h * vinvt;
    lo = (quotient_residual(h, q, vt) + lo) * vinvt;
    h = q;
  }
  return h;
}

// KL of double rows in double lanes (float rows: kl_lanes_f below).
template <class V, bool TEMP>
inline scalar_t<V> kl_lanes(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx,
                            scalar_t<V> my, std::size_t k, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  static_assert(sizeof(T) == 8, "kl_lanes takes double rows");
  using D = V;
  constexpr std::size_t W = D::size;
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  const double Lx = row_expsum<V, TEMP>(x, n, mx, temp).L(), Ly = row_expsum<V, TEMP>(y, n, my, temp).L();
  const double yk = double(y[k]);
  const D negmx = D::set1(-double(mx)), negmy = D::set1(-double(my)), negyk = D::set1(-yk), vt = D::set1(temp),
          vinvt = D::set1(1.0 / temp), vninf = D::set1(ninf);
  const D nLxh = D::set1(-Lx), nLyh = D::set1(-Ly), zero = D::zero();
  // (a - b)/T - L as hi + lo (a <= b: an argument for exp_neg_lo); lo may be NaN where a = -inf
  const auto logprob = [&](D a, D negb, D negL, D& lo) LOGITKIT_INLINE {
    D al;
    const D ah = diff_over_t_lanes<D, TEMP>(a, negb, vt, vinvt, al);
    D sl;
    const D sh = two_sum(ah, negL, sl);
    lo = sl + al;
    return sh;
  };
  const auto dprime = [&](D a, D b, D& r) LOGITKIT_INLINE {
    return kl_dprime<D, TEMP>(a, b, negmx, negyk, vt, zero, vinvt, r);
  };
  // p_i from its logarithm as a pair. The weights of F carry their rounding into the result
  // relatively, one for one: the double-length exp (about 2^-58), rounded once.
  const auto pexp = [&](D h, D l) LOGITKIT_INLINE {
    D H, L;
    math::exp_dd(h, l, H, L);
    return H + L;
  };
  // Every lane of a chunk, the tail padded with x's max and y's entry at k (then masked out).
  const auto lanes = [&](const double* xd, const double* yd, std::size_t m, auto&& body) LOGITKIT_INLINE {
    std::size_t j = 0;
    for (; j + W <= m; j += W) body(j, D::load(xd + j), D::load(yd + j), eq(zero, zero));
    if (j < m)
      body(j, load_partial<D>(xd + j, m - j, double(mx)), load_partial<D>(yd + j, m - j, yk), first_lanes<D>(m - j));
  };

  // Pass 1: c = Σ p_i d'_i and P1 = Σ p_i; an entry with p's mass where y is -inf makes KL
  // infinite. The weights are p_i/P1 from here on: the rounding of L_x, common to every p_i,
  // cancels (F carries a common relative error of the weights one for one). With a gradient, also
  // Q1 = Σ q_i, for the same reason: q - p of entries near 1/2 would otherwise carry both offsets'
  // roundings (each up to about half an ulp of L, and L's own summation error) on top of both exps'.
  bool infinite = false;
  BlockSum<D> csum;
  PairSum<D> psum, qsum;
  {
    auto bad = lt(zero, zero);
    lanes(x, y, n, [&](std::size_t, D a, D b, auto valid) LOGITKIT_INLINE {
      D lo, r, H, L;
      math::exp_dd(logprob(a, negmx, nLxh, lo), lo, H, L);
      const D p = H + L;
      const auto has_mass = mask_and(valid, lt(vninf, a));
      bad = mask_or(bad, mask_and(has_mass, eq(b, vninf)));
      const D dq = dprime(a, b, r);
      csum.add(mask_zero(has_mass, p * (dq + r)));
      psum.add(mask_zero(has_mass, H), mask_zero(has_mass, L));
      if (grad) {
        D ql;
        math::exp_dd(logprob(b, negmy, nLyh, ql), ql, H, L);
        qsum.add(mask_zero(valid, H), mask_zero(valid, L));
      }
    });
    infinite = any(bad);
  }
  // log P1 and log Q1, the errors of the offsets L, taken out of each p_i and q_i in their exps' low
  // parts (they are a few 2^-53: P1 - 1 rounded to a double near 1, or subtracted from L, they would
  // be rounded away)
  const double P1m1 = psum.minus_one(), c = csum.value() / (1.0 + P1m1);
  const double lP1 = math::libm_log1p(P1m1), lQ1 = grad ? math::libm_log1p(qsum.minus_one()) : 0.0;

  // Pass 2: F = Σ p_i φ(u_i), and the gradient (q - p)·g/T.
  const D vc = D::set1(c), one = D::set1(1.0), big = D::set1(600.0), vgs = D::set1(double(g) / temp);
  // (y_i - y_k)/T - L_x - log P1 + c as hi + lo: the log of (p_i/P1)·e^(u_i) formed in one
  // exponent, its low part carried into exp (an exponent near -60 rounded alone would cost its exp
  // 60·2^-53 relative); c - L_x - log P1 is a pair too, for the same reason and for log P1's sake
  double cLl1, cLl2;
  const double cL = two_sum(two_sum(c, -Lx, cLl1), -lP1, cLl2);
  const D cLx = D::set1(cL), cLxl = D::set1(cLl1 + cLl2);
  const D vlP1 = D::set1(lP1), vlQ1 = D::set1(lQ1), vclamp = D::set1(math::exp_dd_consts<double>::clamp);
  // For the gradient, v = exp(h + l) from pexp, except below exp_dd's range (where it gives 0):
  // there exp_neg_lo, whose tiny and subnormal results are still the probabilities
  const auto full_range = [&](D v, D h, D l) LOGITKIT_INLINE {
    const auto low = lt(h, vclamp);
    return any(low) ? select(low, math::exp_neg_lo(h, l), v) : v;
  };
  const auto q_arg = [&](D b, D& lo) LOGITKIT_INLINE {
    const D h = logprob(b, negyk, cLx, lo);
    lo = lo + cLxl;
    return h;
  };
  BlockSum<D> fsum;
  bool overflow = false;
  {
    auto huge = lt(zero, zero);
    double* const go = grad;
    const std::size_t m = n;
    lanes(x, y, n, [&](std::size_t j, D a, D b, auto valid) LOGITKIT_INLINE {
      D lo;
      const D ph = logprob(a, negmx, nLxh, lo), pl = lo - vlP1;
      const D pn = pexp(ph, pl);  // the weight p_i/P1
      if (!infinite) {
        // p·φ(u) where p > 0; where p is 0 (x_i = -inf, or exp underflowed), q's own mass there.
        // log(p_i·e^(u_i)) = (y_i - y_k)/T - L_x + c: e^u is never formed where it is large.
        const auto pos = mask_and(valid, lt(zero, pn));
        D r;
        const D u = (vc - dprime(a, b, r)) - r;
        D term = mask_zero(pos, pn * phi_small<D, T>(u));
        const auto above = mask_and(pos, lt(one, u)), below = mask_and(pos, lt(u, neg(one)));
        const auto q_only = mask_and(valid, mask_and(le(pn, zero), lt(vninf, b)));
        const auto by_q = mask_or(above, q_only);
        if (any(by_q)) {
          D el;
          const D e = q_arg(b, el);
          huge = mask_or(huge, mask_and(by_q, lt(big, e)));
          const D qe = math::exp_any<D, true, true>(e, el);
          term = select(above, qe - pn * (one + u), term);
          term = select(q_only, qe, term);
        }
        if (any(below)) term = select(below, pn * ((math::exp(u) - one) - u), term);
        fsum.add(term);
      }
      if (grad) {
        D ql;
        const D qh = logprob(b, negmy, nLyh, ql);
        ql = ql - vlQ1;  // q_i/Q1
        const D gv = vgs * (full_range(pexp(qh, ql), qh, ql) - full_range(pn, ph, pl));
        if (j + W <= m) store(go + j, gv);
        else store_partial(go + j, gv, m - j);
      }
    });
    overflow = any(huge);
  }
  if (infinite) return lim<V>::inf;
  if (!overflow) return T(math::libm_log1p(fsum.value()));
  // Some p_i·e^(u_i) leaves double's range: KL >= 600, and the closed form
  // log Σ e^((y_i - y_k)/T - L_x + c) = c - L_x + L_y + (max y - y_k)/T has no cancellation to fear.
  const double kl = c - Lx + Ly + (double(my) - yk) / temp;
  return T(kl > 0 ? kl : 0.0);
}

// KL of float rows in float lanes, the same formulas as kl_lanes with float pairs where kl_lanes
// has double pairs, in two passes over the rows: the first sums e_i = exp((x_i - max x)/T), the
// same of y, and e_i·d'_i (so P's sum, Q's sum and c come from one exp of each row); the second
// forms F and the gradient with one more exp per entry, e^(u_i). d' and u are exact as pairs
// (TwoSum, and the quotient by T with its residual), the weights p_i = e_i/S_x are those the sums
// used, and e_i and e^u come from the lane type's exp (within about an ulp of float, which F
// carries one for one); every sum is widened to double, and F is summed in units of e (S_x·F,
// divided once in double). Where e·e^u cannot be a product of the two (e subnormal, u > 80, p = 0
// with q > 0) it is exp(w) with w = (y_i - y_k)/T + c as a pair; above w = 80 the closed form, in
// double. With a gradient row (not x's or y's memory), e_i is kept there between the passes.
template <class V, bool TEMP>
inline scalar_t<V> kl_lanes_f(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx,
                              scalar_t<V> my, std::size_t k, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  constexpr T ninf_s = -lim<V>::inf;
  const T yk = y[k];
  const V negmx = V::set1(-mx), negmy = V::set1(-my), negyk = V::set1(-yk), vninf = V::set1(ninf_s),
          zero = V::zero(), one = V::set1(T(1));
  const V t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))), invt = V::set1(T(1.0 / temp));
  // exp((a - b)/T), b a row's max
  const auto expd = [&](V a, V negb) LOGITKIT_INLINE {
    V lo;
    const V hi = row_diff<V, TEMP, true>(a, negb, t, tl, invt, lo);
    return math::exp_neg_lo(hi, lo);
  };
  const auto dprime = [&](V a, V b, V& r) LOGITKIT_INLINE {
    return kl_dprime<V, TEMP>(a, b, negmx, negyk, t, tl, invt, r);
  };
  const auto each = [&](auto&& body) LOGITKIT_INLINE {
    std::size_t i = 0;
    for (; i + W <= n; i += W) body(i, W, V::load(x + i), V::load(y + i), eq(zero, zero));
    if (i < n)
      body(i, n - i, load_partial<V>(x + i, n - i, mx), load_partial<V>(y + i, n - i, yk), first_lanes<V>(n - i));
  };
  const auto overlaps = [&](const T* a) { return grad && grad < a + n && a < grad + n; };
  T* const estore = overlaps(x) || overlaps(y) ? nullptr : grad;

  // Pass 1: S_x = Σ e_i, S_y, Σ e_i·d'_i; an entry with P's mass where y is -inf makes KL infinite.
  BlockSum<V> sx, sy, cs;
  bool infinite;
  {
    auto bad = lt(zero, zero);
    // the next rows of a batch, asked for while these are computed (as entropy_lanes)
    const std::size_t next = n * sizeof(T) <= next_row_prefetch_max ? n * sizeof(T) : 0;
    each([&](std::size_t i, std::size_t m, V a, V b, auto valid) LOGITKIT_INLINE {
      if (next) {
        prefetch_read<V>(x + i, next);
        prefetch_read<V>(y + i, next);
      }
      const V ex = mask_zero(valid, expd(a, negmx)), ey = mask_zero(valid, expd(b, negmy));
      bad = mask_or(bad, mask_and(mask_and(valid, lt(vninf, a)), eq(b, vninf)));
      V r;
      const V dq = dprime(a, b, r);
      sx.add(ex);
      sy.add(ey);
      cs.add(mask_zero(lt(zero, ex), ex * (dq + r)));  // (e = 0: d' may be inf or NaN)
      if (estore) {
        if (m == W) store(estore + i, ex);
        else store_partial(estore + i, ex, m);
      }
    });
    infinite = any(bad);
  }
  const double Sx = sx.value(), Sy = sy.value(), c = cs.value() / Sx, Lx = math::libm_log(Sx);
  const T ch = T(c);
  const V vch = V::set1(ch), vcl = V::set1(T(c - double(ch))), vinvSx = V::set1(T(1.0 / Sx)),
          vinvSy = V::set1(T(1.0 / Sy));
  // F is summed in units of e (F·S_x): w = log(e_i·e^(u_i)) = (y_i - y_k)/T + c, c as a float pair
  const V big = V::set1(T(80));
  const auto q_arg = [&](V b, V& lo) LOGITKIT_INLINE {
    V pe;
    const V bh = two_sum(b, negyk, pe);
    const V ph = TEMP ? pair_over_t(bh, pe, t, tl, invt) : bh;
    V se;
    const V sh = two_sum(ph, vch, se);
    lo = se + (pe + vcl);
    return sh;
  };
  const V vgs = V::set1(T(double(g) / temp));
  // g·(q_i - p_i)/T with q_i by itself, exp((y_i - max y)/T)/S_y
  const auto grad_direct = [&](V b, V e) LOGITKIT_INLINE {
    return vgs * (expd(b, negmy) * vinvSy - e * vinvSx);
  };
  // The gradient's q_i from pass 2's e^(u_i): Σ_j e_j·e^(u_j) = S_x(1 + F) = e^c·e^((max y - y_k)/T)·S_y,
  // so with F~ = e^(KL~) - 1 (KL~ the closed form from pass 1's sums),
  //   q_i - p_i = e_i·(e^(u_i) - 1 - F~)·K,  K = 1/(S_x(1 + F~)) = e^(-c - (max y - y_k)/T)/S_y,
  // which keeps q - p relative to p where the rows nearly agree (e^u - 1 = u + φ(u) for |u| <= 1).
  // F~ carries pass 1's roundings (an ulp or two of S_x and S_y), an absolute error of about p·ulp
  // in q - p, as q and p rounded apart would. Rows far apart (KL~ > 40, where K would leave float's
  // normal range) and rows with an infinite KL take q_i = exp((y_i - max y)/T)/S_y directly.
  constexpr T smallest_normal = std::numeric_limits<T>::min();  // (constexpr: no call emitted)
  const double klt = c - Lx + math::libm_log(Sy) + (double(my) - double(yk)) / temp;
  const bool direct_q = infinite || !(klt <= 40);
  const bool factors = grad && !direct_q;  // (K and F~ serve the gradient alone)
  const V vK = V::set1(T(factors ? math::libm_exp(-c - (double(my) - double(yk)) / temp) / Sy : 0.0)),
          vFt = V::set1(T(factors ? math::libm_expm1(klt) : 0.0)), tiny = V::set1(smallest_normal);

  // Pass 2: F = Σ p_i φ(u_i) (q's mass where p is 0), and the gradient (q - p)·g/T. One exp per
  // entry, e^u from u as a pair: φ(u) is the polynomial for |u| <= 1 and (e^u - 1) - u beyond (at
  // most a 3.8-fold cancellation, at u = 1). Rare lanes take e·e^u as exp(w) instead: where p has
  // no mass but q has, where e is subnormal (too few bits to carry e·e^u) and where u > 80 (e^u
  // near float's overflow).
  BlockSum<V> fsum;
  bool huge_any = false;
  {
    each([&](std::size_t i, std::size_t m, V a, V b, auto valid) LOGITKIT_INLINE {
      V e;
      if (estore) e = m == W ? V::load(estore + i) : load_partial<V>(estore + i, m, T(0));
      else e = mask_zero(valid, expd(a, negmx));
      V gv = zero;
      if (!infinite) {
        const auto pos = mask_and(valid, lt(zero, e));
        V r;
        const V dq = dprime(a, b, r);
        // u = c - d' as uh + ul
        V s1e;
        const V s1 = two_sum(vch, neg(dq), s1e);
        const V s1l = s1e + (vcl - r);
        const V u = s1 + s1l, ul = (s1 - u) + s1l;
        const V ph = phi_small<V, T>(u);
        V em1 = u + ph, phi = ph;  // e^u - 1 and φ(u) for |u| <= 1 (at a high temperature, every lane)
        const auto small = le(abs(u), one), beyond = mask_and(pos, mask_not(small));
        V E = zero;
        if (any(beyond)) {
          E = math::exp_any<V, true, true>(u, ul);
          em1 = select(small, em1, E - one);
          phi = select(small, ph, (em1 - u) - ul);
        }
        V term = mask_zero(pos, e * phi);
        if (factors) {
          gv = mask_zero(pos, ((e * (em1 - vFt)) * vK) * vgs);
          // |u| > 1: q_i by itself, as kl_stored_f's f_i/S_y - e_i/S_x (e^u - 1 - F~ near
          // u = KL~ > 1 subtracts numbers of 2 to 6, and exp's rounding times a weight near 1
          // passed the gradient's bound)
          if (grad && any(beyond)) gv = select(beyond, grad_direct(b, e), gv);
        }
        const auto q_only = mask_and(valid, mask_and(le(e, zero), lt(vninf, b)));
        const auto rare =
            mask_or(q_only, mask_and(mask_and(pos, lt(one, u)), mask_or(lt(big, u), lt(e, tiny))));
        if (any(rare)) {
          V wl;
          const V w = q_arg(b, wl);
          if (any(mask_and(rare, lt(big, w)))) huge_any = true;
          const V qe = math::exp_any<V, true, true>(w, wl);  // e·e^u
          term = select(rare, select(q_only, qe, qe - e * (one + u)), term);
          if (factors) gv = select(rare, (qe * vK - e * vinvSx) * vgs, gv);
        }
        fsum.add(term);
      }
      if (grad) {
        if (direct_q) gv = grad_direct(b, e);
        if (m == W) store(grad + i, gv);
        else store_partial(grad + i, gv, m);
      }
    });
  }
  if (infinite) return lim<V>::inf;
  if (!huge_any) return T(math::libm_log1p(fsum.value() / Sx));
  return T(klt > 0 ? klt : 0.0);
}

// The entries of a row kl_stored_f keeps its four scratch rows for: 4·this many floats, 1 MiB (the
// scratch's kept size). Longer rows take kl_lanes_f.
constexpr std::size_t kl_scratch_max = std::size_t(1) << 16;
template <class V>
inline RowScratch<scalar_t<V>>& kl_scratch() {
  thread_local RowScratch<scalar_t<V>> scratch;
  return scratch;
}

// KL of float rows by kl_lanes_f's formulas in fewer operations, pass 1's values kept in a
// per-thread scratch row for pass 2: e_i = exp((x_i - max x)/T), d'_i as a pair, and
// f_i = exp((y_i - max y)/T). Here d' is taken relative to y's own max,
// d'_i = ((x_i - max x) - (y_i - max y))/T, exact as a pair: a shift between the rows still cancels
// exactly, and kl_lanes_f's (max y - y_k)/T moves c and every d' alike, leaving u as it is. Then
//   e_i·e^(u_i) = e^c·f_i,
// and pass 2 needs no exp: φ(u) is phi_fit_f on [-1, 2], and beyond,
// e_i·φ(u_i) = e^c·f_i - e_i·((1 + u_i) + ul_i): a sum of non-negative terms for u < -1 and at most
// a 1.7-fold cancellation for u > 2 (f_i within about an ulp, e^c rounded once). That holds where
// p_i is 0 too (q's own mass there: e^c·f_i).
// e^c·f_i needs no rare lanes: its share of Σ_j e_j·e^(u_j) = S_x(1 + F) is q_i, so a q_i below
// float's normal range (f_i subnormal) moves F by at most q_i·(1 + F)/F relatively, and F can be small
// only where the rows nearly agree, where c is near 0 and e^c·f_i is as exact as f_i.
// The gradient is kl_lanes_f's e_i·(e^(u_i) - 1 - F~)·K for |u_i| <= 1, and (f_i/S_y - e_i/S_x)·g/T
// beyond (g/T folded into each factor): where u_i is near KL~ > 1 (q_i close to p_i), the first
// form subtracts two numbers near 2 to 6 and the polynomial's rounding of e^u - 1, times a weight
// p_i near 1, passed the gradient's bound (2·2^-24/T); the second carries only p's and q's own
// roundings. Rows outside its assumptions take
// kl_lanes_f: an infinite KL, KL~ > 40, more than kl_scratch_max entries, or no scratch.
// Its sums widen each vector to double lanes as they load it back (over_row) and add them plainly
// over blocks of 64 vectors (a block's rounding, below 2^-46 relatively, is far under float's), the
// blocks with Neumaier's compensation.
template <class V, bool TEMP>
inline scalar_t<V> kl_stored_f(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx,
                               scalar_t<V> my, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  constexpr T ninf_s = -lim<V>::inf;
  const auto fallback = [&] {
    return kl_lanes_f<V, TEMP>(x, y, n, mx, my, first_index_of<V>(x, n, mx), g, grad, temp);
  };
  const std::size_t np = (n + W - 1) / W * W;  // scratch rows padded to whole vectors
  T* const s_e = n <= kl_scratch_max ? kl_scratch<V>().get(4 * np) : nullptr;
  if (!s_e) return fallback();
  T* const s_dh = s_e + np;
  T* const s_dl = s_dh + np;
  T* const s_f = s_dl + np;
  const V negmx = V::set1(-mx), negmy = V::set1(-my), vninf = V::set1(ninf_s), zero = V::zero(),
          one = V::set1(T(1));
  const V t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))), invt = V::set1(T(1.0 / temp));
  // A whole vector (FULL) needs no lane mask; the last, partial one has its padding lanes' e and f
  // zeroed, which leaves them out of every sum and of pass 2's terms.
  // The passes go over the row in chunks of CH entries: body computes and stores each vector's
  // values (into the scratch rows, and into buf, at the entry's offset in the chunk, the sum terms
  // the scratch rows do not hold), then sums(j, j - chunk start) adds the chunk's vectors to the sums
  // from memory, while they are in L1 (acc_add_mem: on AVX2 and AVX-512, widening a stored vector
  // takes no shuffle, widening a register does).
  constexpr std::size_t CH = 64 * W;
  alignas(64) T buf[CH];
  const auto over_row = [&](auto&& body, auto&& sums) LOGITKIT_INLINE {
    for (std::size_t c = 0; c < n; c += CH) {
      const std::size_t end = n - c < CH ? n : c + CH;
      std::size_t i = c;
      for (; i + W <= end; i += W) body(i, std::true_type{}, W);
      if (i < end) body(i, std::false_type{}, end - i);
      for (std::size_t j = c; j < end; j += W) sums(j, j - c);
    }
  };

  // Pass 1: S_x = Σ e_i, S_y = Σ f_i, Σ e_i·d'_i; an entry with P's mass where y is -inf makes KL
  // infinite.
  BlockSum<V, 64> sx, sy, cs;
  bool infinite;
  {
    auto bad = lt(zero, zero);
    // the next rows of a batch, asked for while these are computed (as entropy_lanes)
    const std::size_t next = n * sizeof(T) <= next_row_prefetch_max ? n * sizeof(T) : 0;
    const auto pass1 = [&](std::size_t i, auto full, std::size_t m) LOGITKIT_INLINE {
      constexpr bool FULL = decltype(full)::value;
      if (next) {
        prefetch_read<V>(x + i, next);
        prefetch_read<V>(y + i, next);
      }
      const V a = FULL ? V::load(x + i) : load_partial<V>(x + i, m, mx);
      const V b = FULL ? V::load(y + i) : load_partial<V>(y + i, m, my);
      V ax0l, by0l;
      const V ax0 = two_sum(a, negmx, ax0l), by0 = two_sum(b, negmy, by0l);
      V se;
      V dh = two_sum(ax0, neg(by0), se), dl = se + (ax0l - by0l);
      V hx = ax0, lx = ax0l, hy = by0, ly = by0l;
      if constexpr (TEMP) {
        dh = pair_over_t(dh, dl, t, tl, invt);
        hx = pair_over_t(hx, lx, t, tl, invt);
        hy = pair_over_t(hy, ly, t, tl, invt);
      }
      // (lo may be NaN where hi is -inf: exp_neg_lo drops lo below its range)
      V ex = math::exp_neg_lo(hx, lx), ey = math::exp_neg_lo(hy, ly);
      if constexpr (!FULL) {
        const auto valid = first_lanes<V>(m);
        ex = mask_zero(valid, ex);
        ey = mask_zero(valid, ey);
      }
      // (padding lanes hold b = max y, never -inf: never bad)
      bad = mask_or(bad, mask_and(lt(vninf, a), eq(b, vninf)));
      store(s_e + i, ex);
      store(s_dh + i, dh);
      store(s_dl + i, dl);
      store(s_f + i, ey);
      store(buf + i % CH, mask_zero(lt(zero, ex), ex * (dh + dl)));  // (e = 0: d' may be inf or NaN)
    };
    over_row(pass1, [&](std::size_t j, std::size_t jc) LOGITKIT_INLINE {
      sx.add_mem(s_e + j);
      sy.add_mem(s_f + j);
      cs.add_mem(buf + jc);
    });
    infinite = any(bad);
  }
  const double Sx = sx.value(), Sy = sy.value(), c = cs.value() / Sx;
  const double klt = c - math::libm_log(Sx) + math::libm_log(Sy);  // KL~, the closed form
  if (infinite || !(klt <= 40)) return fallback();
  // -log n <= c = KL~ + L_x - L_y <= KL~ + log n (L_x, L_y in [0, log n]): e^c is a normal float
  const T ch = T(c);
  // The gradient's factors with g/T folded in, each rounded once from double: K·g/T, g/(T·S_y) and
  // g/(T·S_x). A row where one of them is not a normal float (g/T near float's smallest normal)
  // takes kl_lanes_f.
  // (only with a gradient: without one, the row's libm calls are its largest per-row cost)
  double kK = 0, kq = 0, kp = 0, Ft = 0;
  if (grad) {
    const double gs = double(g) / temp;
    kK = math::libm_exp(-c) / Sy * gs, kq = gs / Sy, kp = gs / Sx;
    if (!(normal_or_zero<V>(kK) && normal_or_zero<V>(kq) && normal_or_zero<V>(kp))) return fallback();
    Ft = math::libm_expm1(klt);
  }
  const V vch = V::set1(ch), vcl = V::set1(T(c - double(ch))), vec = V::set1(T(math::libm_exp(c))),
          two = V::set1(T(2)), vFt = V::set1(T(Ft)), vKg = V::set1(T(kK)), vq = V::set1(T(kq)), vp = V::set1(T(kp));

  // Pass 2: F·S_x = Σ e_i·φ(u_i) (q's mass where e_i is 0), and the gradient.
  BlockSum<V, 64> fsum;
  const auto pass2 = [&](std::size_t i, auto full, std::size_t m) LOGITKIT_INLINE {
    constexpr bool FULL = decltype(full)::value;
    const V e = V::load(s_e + i), dh = V::load(s_dh + i), dl = V::load(s_dl + i), f = V::load(s_f + i);
    // u = c - d' as u + ul
    V s1e;
    const V s1 = two_sum(vch, neg(dh), s1e);
    const V s1l = s1e + (vcl - dl);
    const V u = s1 + s1l, ul = (s1 - u) + s1l;
    const auto pos = lt(zero, e);  // (padding lanes: e = 0)
    const auto poly = mask_and(pos, mask_and(le(neg(one), u), le(u, two)));
    const V ph = phi_fit_f(u);
    const V E = vec * f;  // e_i·e^(u_i)
    const V term = select(poly, e * ph, E - mask_zero(pos, e * ((one + u) + ul)));
    if (grad) {
      const auto near = mask_and(pos, le(abs(u), one));
      const V gv = select(near, (e * ((u + ph) - vFt)) * vKg, neg_mul_add(e, vp, f * vq));
      if constexpr (FULL) store(grad + i, gv);
      else store_partial(grad + i, gv, m);
    }
    store(buf + i % CH, term);
  };
  over_row(pass2, [&](std::size_t, std::size_t jc) LOGITKIT_INLINE { fsum.add_mem(buf + jc); });
  return T(math::libm_log1p(fsum.value() / Sx));
}

// KL(softmax(x/temp) ‖ softmax(y/temp)) of one pair of rows; with grad, g·dKL/dy into grad (which
// may be y: every entry of a chunk is read before the chunk's gradient is written).
template <class V>
inline scalar_t<V> kl_row(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> g, scalar_t<V>* grad,
                          double temp) {
  using T = scalar_t<V>;
  T mx, my, mnx, mny;
  const RowKind kx = row_max<V>(x, n, mx, &mnx), ky = row_max<V>(y, n, my, &mny);
  if (kx != row_ok || ky != row_ok) {
    if (grad) fill_row<V>(grad, n, lim<V>::nan);
    return lim<V>::nan;
  }
  // (also at temperature 1: a difference x_i - x_k or y_i - y_k that overflows; and below 1, a
  // difference over T that does: the lanes' pairs would meet inf - inf)
  const auto span_overflows = [&](const T* v, T m, T mn) {
    if (temp >= 1.0) return false;
    constexpr double huge = double(std::numeric_limits<T>::max());
    if ((double(m) - double(mn)) / temp <= huge) return false;  // mn: at most every finite entry
    double lo = double(m);
    for (std::size_t i = 0; i < n; ++i)
      if (v[i] > -lim<V>::inf && double(v[i]) < lo) lo = double(v[i]);
    return !((double(m) - lo) / temp <= huge);
  };
  const bool wide = temp_needs_wide<V>(x, n, mx, mnx, temp) || temp_needs_wide<V>(y, n, my, mny, temp) ||
                    span_overflows(x, mx, mnx) || span_overflows(y, my, mny) ||
                    (grad && !grad_scale_fits<V>(g, temp));
  if (wide) return kl_wide<V>(x, y, n, mx, my, first_index_of<V>(x, n, mx), g, grad, temp);
  if constexpr (std::is_same_v<T, float>) {
    return temp == 1.0 ? kl_stored_f<V, false>(x, y, n, mx, my, g, grad, temp)
                       : kl_stored_f<V, true>(x, y, n, mx, my, g, grad, temp);
  } else {
    const std::size_t k = first_index_of<V>(x, n, mx);
    return temp == 1.0 ? kl_lanes<V, false>(x, y, n, mx, my, k, g, grad, temp)
                       : kl_lanes<V, true>(x, y, n, mx, my, k, g, grad, temp);
  }
}

// ----------------------------------------------------------------------- Jensen-Shannon divergence

// JS(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q)/2, of one pair of rows, scalar in double (float
// rows too). Written per entry as m_i·D(r_i) with r_i = log(q_i/p_i) and
//   D(r) = log 2 - H(sigmoid(r)) = y·tanh(y) - log cosh(y),  y = |r|/2,
// H the binary entropy in nats: every term is >= 0 (JS is a sum of non-negative terms, bounded by
// log 2), D(r) ≈ r²/8 near 0. D is its Taylor series for y < 2e-3, y·tanh(y) - log1p(cosh(y) - 1)
// up to y = 1 (at most a 2.3-fold cancellation) and log 2 - log1p(e^-a) - a·σ(-a) beyond (at most
// 2.1-fold).
// r_i = δ_i - ΔL with δ_i = ((y_i - y_k) - (x_i - x_k))/T exact as a pair (k: x's largest entry;
// rows that differ by a constant give δ = 0 exactly) and ΔL = L_y - L_x, the difference of the two
// rows' log-sums relative to entry k. An error ε in ΔL is common to every r_i; it changes JS only
// by ε·KL(Q ‖ M)/2, second order, because q_i = p_i·e^(r_i) is taken from the same r_i.
// Entries where p_i = 0 add q_i·log(2)/2 (and where q_i = 0, p_i·log(2)/2).
// Gradient with respect to y: dJS/dy_i = (q_i/(2T))·(log(q_i/m_i) - KL(Q ‖ M)), log(q/m) =
// -log1p(expm1(-r)/2).
namespace js_detail {

// (a - b)/T as hi + lo, exact but for the quotient's last rounding (TwoSum, then FMA residual).
inline void diff_over_t(double a, double b, double temp, double& hi, double& lo) {
  const double s = a - b, bb = s - a, e = (a - (s - bb)) + (-b - bb);
  if (temp == 1.0) {
    hi = s;
    lo = e;
    return;
  }
  const double q = s / temp;
  hi = q;
  lo = (std::fma(-q, temp, s) + e) / temp;
}

// D(r) = log 2 - H(sigmoid(r)) >= 0.
inline double d_of(double r) {
  const double a = r < 0 ? -r : r, y = a / 2;
  if (y < 2e-3) {  // D = ∫_0^y t·sech²(t) dt = y²/2 - y⁴/4 + y⁶/9 - 17y⁸/360 + ...: no cancellation
    const double y2 = y * y;
    return y2 * (0.5 - y2 * (0.25 - y2 / 9));
  }
  if (y <= 1) {
    const double em2 = ::expm1(2 * y), em = ::expm1(y);
    const double tanh_y = em2 / (em2 + 2);
    const double cosh_m1 = em * em / (2 * (1 + em));  // cosh(y) - 1 = (e^y - 1)²/(2e^y)
    const double d = y * tanh_y - math::libm_log1p(cosh_m1);
    return d < 0 ? 0.0 : d;
  }
  const double e = math::libm_exp(-a);
  const double d = 0.69314718055994530942 - math::libm_log1p(e) - a * (e / (1 + e));
  return d < 0 ? 0.0 : d;
}

}  // namespace js_detail

// ------------------------------------------------------------ Jensen-Shannon divergence in lanes

// The same terms as js_row in double lanes (float rows widened), for rows with only finite logits
// or -inf (a masked class), no difference over T beyond double's range, 2^-1000 <= T <= 2^1000
// and, with a gradient, g/(2T) finite; js_row takes every other row scalar. Three passes:
//   1. x'_i = (x_i - max x)/T and y'_i = (y_i - max y)/T as pairs, e_i = e^(x'_i),
//      f_i = e^(y'_i), δ_i = y'_i - x'_i (kept for the later passes in a scratch row, or
//      recomputed there by the same operations); sums E = Σ e_i, S = Σ f_i and
//      N = Σ (f_i - e_i) = Σ e_i·expm1(δ_i), the latter as e_i·(δ_i + φ(δ_i)) for |δ_i| <= 1 (no
//      cancellation) and f_i - e_i beyond. Then ΔL = log(S/E) = log1p(N/E), exact relative to the
//      δ_i that it offsets; where N/E < -1/2, N is a cancelling difference of S and E much larger
//      than their own roundings, and log S - log E is the better one.
//   2. p_i = e_i/E, q_i = f_i/S, r_i = δ_i - ΔL; JS = Σ ½(p_i + q_i)·D(r_i) and, with a
//      gradient, KL(Q ‖ M) = Σ q_i·log(q_i/m_i).
//   3. the gradient (q_i/(2T))·(log(q_i/m_i) - KL(Q ‖ M)).
// Each row is taken relative to its own max, so no e^δ is ever formed and no entry overflows:
// rows that differ by a constant still give δ = 0 exactly (their maxima differ by it too).
// q_i comes from y alone (not p_i·e^(r_i)): its rounding, about an ulp, moves JS by as much
// relatively. An error ε in ΔL changes JS by about ε²/8 beside JS ~ r²/8 (the first-order change,
// -ε·Σ m_i·r_i·σ(r_i)σ(-r_i), is of third order in r): hence ΔL from the δ_i, not from log S - log E
// where the rows nearly agree.
// With y = r/2 and t = y²: D(r) = y·tanh y - log cosh y = t·PD(t) and log(q/m) = log(2σ(r)) =
// y - log cosh y = y - t·PL(t) for |r| <= 2, PD and PL polynomials; beyond, with a = |r| and
// e = e^-a, D = log 2 - log1p(e) - a·e/(1 + e) (at most a 2.1-fold cancellation) and
// log(q/m) = log 2 - log1p(e) (r > 0) or log 2 - a - log1p(e) (r < 0).
namespace js_detail {

// PD(t) = D(y)/y² and PL(t) = log(cosh y)/y² on t = y² in [0, 1]: Chebyshev interpolants, their
// coefficients rounded to double; in exact arithmetic within 0.2·2^-53 (PD, degree 16) and
// 0.1·2^-53 (PL, degree 15) of the functions relatively, and for float rows within 2^-30 (degree 8).
struct PolyD64 {
  static constexpr double c[] = {
      0x1.0000000000000p-1,  -0x1.fffffffffffecp-3, 0x1.c71c71c71b806p-4,  -0x1.82d82d82900e1p-5,
      0x1.427a8e03e67e6p-6,  -0x1.0a3a5a7ec00a0p-7, 0x1.b53242ef9a0b0p-9,  -0x1.65c79907f580bp-10,
      0x1.241b8a68245eep-11, -0x1.dbcaefdccd9d5p-13, 0x1.8124fdc242854p-14, -0x1.31b064d2e7cf1p-15,
      0x1.cb8cd4956e52ap-17, -0x1.32550b632ad0bp-18, 0x1.47179bca8ea53p-20, -0x1.dec20b409b4bdp-23,
      0x1.5d6ddb4f68adep-26};
};
struct PolyL64 {
  static constexpr double c[] = {
      0x1.0000000000000p-1,  -0x1.5555555555547p-4, 0x1.6c16c16c15861p-6,  -0x1.ba1ba1b974eb8p-8,
      0x1.1ea5d384968cap-9,  -0x1.833d9891399c2p-11, 0x1.0d0b1acb3eab3p-12, -0x1.7d9f0df1b3037p-14,
      0x1.12da15f2192a9p-15, -0x1.8fecbf42815e4p-17, 0x1.22acedf7e51acp-18, -0x1.9a380fafb434ap-20,
      0x1.08625c5bffb10p-21, -0x1.18a2f464e65b8p-23, 0x1.a0ec04c62e6c9p-26, -0x1.38de66ccf0ffcp-29};
};
struct PolyD32 {
  static constexpr double c[] = {
      0x1.fffffffa03167p-2, -0x1.fffff86706200p-3, 0x1.c71ad76531f35p-4,  -0x1.82b67385f9231p-5,
      0x1.4111986596881p-6, -0x1.018d5d60a60dap-7, 0x1.73f66d61c5a51p-9, -0x1.971900cb1c547p-11,
      0x1.d51bfe5f30a1ap-14};
};
struct PolyL32 {
  static constexpr double c[] = {
      0x1.ffffffffa2a04p-2, -0x1.55555468730d4p-4,  0x1.6c165d983f331p-6,  -0x1.ba0b441dda6f7p-8,
      0x1.1df76ac4f608cp-9, -0x1.7ae9d417f5628p-11, 0x1.dc299864864d5p-13, -0x1.dbf632fb2419fp-15,
      0x1.03d37c8fe3404p-17};
};
// D(a) and log(cosh(a/2)) for a = |r| in [2, 4], as polynomials in a - 3: Chebyshev interpolants,
// within about 2^-53 (degrees 17 and 16) and 2^-32 (degrees 10 and 9, float rows).
struct PolyD64m {
  static constexpr double c[] = {
      0x1.012b223dee4b2p-1, 0x1.1590bde215396p-3, -0x1.3d6e9c3771d1fp-5, 0x1.7397422be5c42p-9,
      0x1.d18e4f9a2f2fap-10, -0x1.8894b9a027337p-11, 0x1.14106853fe4d4p-13, 0x1.153fa4d8247bcp-20,
      -0x1.fe0acd4151d2bp-18, 0x1.399c85e817e12p-19, -0x1.5dee35c386e10p-22, -0x1.89bb5a4f9b628p-26,
      0x1.a9aea062271fdp-26, -0x1.c7ebac6953792p-28, 0x1.af0844b8d253cp-31, 0x1.f1aed2b37ed6ap-34,
      -0x1.64aea65ea00e3p-34, 0x1.17cc5fcf49b81p-36};
};
struct PolyL64m {
  static constexpr double c[] = {
      0x1.b5fc410c60b81p-1, 0x1.cf6f9786df576p-2, 0x1.72165282c6f63p-6, -0x1.bea5214ef565cp-8,
      0x1.67b1f6914d7f6p-10, -0x1.47373ded7f93ep-13, -0x1.d0d1a8ba61ff6p-18, 0x1.09ab8efe3c968p-17,
      -0x1.03e4e382583cbp-19, 0x1.d995128d0ef70p-23, 0x1.47bf9b7778071p-26, -0x1.03031da146732p-26,
      0x1.e85c8f23d44d6p-29, -0x1.95f183b65c4c5p-32, -0x1.e0b0a687b82e0p-35, 0x1.2fcdfca22bd00p-35,
      -0x1.c7410828cc2a1p-38};
};
struct PolyD32m {
  static constexpr double c[] = {
      0x1.012b223dee4b2p-1, 0x1.1590bdd32189dp-3, -0x1.3d6e9c104168ap-5, 0x1.73978c5ac34dcp-9,
      0x1.d18dedbba8576p-10, -0x1.889b16110d12dp-11, 0x1.14217cd2c3a9cp-13, 0x1.31203cffd3436p-20,
      -0x1.01727aa1fc740p-17, 0x1.2cfd75d21194dp-19, -0x1.11504958c7e66p-22};
};
struct PolyL32m {
  static constexpr double c[] = {
      0x1.b5fc410cd7b43p-1, 0x1.cf6f9786571cbp-2, 0x1.72164f9cf11cep-6, -0x1.bea51aa8b2dd4p-8,
      0x1.67b364b4710d3p-10, -0x1.473de0fd4720dp-13, -0x1.d4b5273518036p-18, 0x1.0ad3a216c1b54p-17,
      -0x1.f733cc4658ef6p-20, 0x1.85d35d9ef7db5p-23};
};
template <class D, class P, int J>
LOGITKIT_INLINE inline D horner(D p, D t) {
  if constexpr (J < 0) {
    return p;
  } else {
    return horner<D, P, J - 1>(mul_add(p, t, D::set1(P::c[J])), t);
  }
}
template <class D, class P>
LOGITKIT_INLINE inline D poly(D t) {
  constexpr int last = int(sizeof(P::c) / sizeof(P::c[0])) - 1;
  return horner<D, P, last - 1>(D::set1(P::c[last]), t);
}

}  // namespace js_detail

// The entries of a row whose e_i, f_i and δ_i js_lanes keeps between its passes: 3·this many
// doubles, 1 MiB (the scratch's kept size). Longer rows recompute them in each pass.
constexpr std::size_t js_scratch_max = (std::size_t(1) << 20) / (3 * sizeof(double)) / 16 * 16;
inline RowScratch<double>& js_scratch() {
  thread_local RowScratch<double> scratch;
  return scratch;
}

// JS of one pair of rows in double lanes (the comment above), mx and my their maxima; false where
// an entry leaves what the lanes take (a difference over T that overflows), with nothing written.
// With `keep` (room for 3·n rounded up to V::size doubles), pass 1 stores e_i, f_i and δ_i there
// for the later passes; without, each pass computes them again, the same bits.
template <class V, bool TEMP>
inline bool js_lanes(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx, scalar_t<V> my,
                     scalar_t<V> g, scalar_t<V>* grad, double temp, double* keep, scalar_t<V>& out) {
  using T = scalar_t<V>;
  using D = wide_lanes_t<V>;
  using M = decltype(eq(D::zero(), D::zero()));
  constexpr bool FLOAT = sizeof(T) == 4;
  using PD = std::conditional_t<FLOAT, js_detail::PolyD32, js_detail::PolyD64>;
  using PL = std::conditional_t<FLOAT, js_detail::PolyL32, js_detail::PolyL64>;
  using PDm = std::conditional_t<FLOAT, js_detail::PolyD32m, js_detail::PolyD64m>;
  using PLm = std::conditional_t<FLOAT, js_detail::PolyL32m, js_detail::PolyL64m>;
  constexpr int NR = FLOAT ? math::log_terms_for_float : math::log1p_consts<double>::nR;
  constexpr std::size_t W = V::size, DW = D::size;
  constexpr double ln2 = 0.69314718055994530942, ninf = -std::numeric_limits<double>::infinity();
  const D zero = D::zero(), one = D::set1(1.0), two = D::set1(2.0), half = D::set1(0.5), vln2 = D::set1(ln2),
          hln2 = D::set1(0.5 * ln2), vninf = D::set1(ninf);
  const D negmx = D::set1(-double(mx)), negmy = D::set1(-double(my)), vt = D::set1(temp), vinvt = D::set1(1.0 / temp);
  const M all = eq(zero, zero);
  const std::size_t np = (n + W - 1) / W * W;
  double* const ke = keep;
  double* const kf = keep ? keep + np : nullptr;
  double* const kd = keep ? keep + 2 * np : nullptr;
  // (a - m)/T as hi + lo; -inf (lo NaN) for a = -inf
  const auto over_t = [&](D a, D negm, D& lo) LOGITKIT_INLINE {
    return diff_over_t_lanes<D, TEMP>(a, negm, vt, vinvt, lo);
  };
  // One entry's e, f, δ, and its masks: p = 0 (x = -inf), q = 0 (y = -inf). From the kept values
  // at j where there are, else from the logits (xh and yh then set).
  struct Entry {
    D e, f, d;
    M p0, q0;
  };
  const auto compute = [&](D a, D b, D& xh, D& yh) LOGITKIT_INLINE {
    Entry v;
    v.p0 = eq(a, vninf);
    v.q0 = eq(b, vninf);
    D xl, yl, dl;
    xh = over_t(a, negmx, xl);
    yh = over_t(b, negmy, yl);
    v.e = math::exp_neg_lo(xh, xl);
    v.f = math::exp_neg_lo(yh, yl);
    const D ds = two_sum(yh, neg(xh), dl);
    v.d = ds + (dl + (yl - xl));
    return v;
  };
  const auto entry = [&](D a, D b, std::size_t j) LOGITKIT_INLINE {
    if (!keep) {
      D xh, yh;
      return compute(a, b, xh, yh);
    }
    Entry v;
    v.e = D::load(ke + j), v.f = D::load(kf + j), v.d = D::load(kd + j);
    v.p0 = eq(a, vninf);
    v.q0 = eq(b, vninf);
    return v;
  };
  // D(r) and log(q/m) from r (finite), each where asked for
  const auto dist = [&](D r, D& dv, D& lqm, bool want_d, bool want_lqm, M valid) LOGITKIT_INLINE {
    const D ar = abs(r), yv = r * half, t = yv * yv;
    if (want_d) dv = t * js_detail::poly<D, PD>(t);
    if (want_lqm) lqm = yv - t * js_detail::poly<D, PL>(t);
    const auto mid = mask_and(valid, lt(two, ar));
    if (!any(mid)) return;
    const D s = ar - D::set1(3.0);
    if (want_d) dv = select(mid, js_detail::poly<D, PDm>(s), dv);
    if (want_lqm) lqm = select(mid, yv - js_detail::poly<D, PLm>(s), lqm);
    const auto far = mask_and(valid, lt(D::set1(4.0), ar));
    if (any(far)) {
      const D e = math::exp_neg(neg(ar)), l1 = math::log1p_unit<D, NR>(e);
      if (want_d) dv = select(far, (vln2 - l1) - ar * (e / (one + e)), dv);
      if (want_lqm) lqm = select(far, select(lt(zero, r), vln2 - l1, (vln2 - ar) - l1), lqm);
    }
  };
  // body(a, b, valid, j) on each double vector of the rows, V::size entries at a time (a tail padded
  // with the rows' maxima, its lanes left out of valid; j: the vector's first entry, in the kept
  // rows); with `to`, what body returns is stored there
  const auto chunks = [&](T* to, auto&& body) LOGITKIT_INLINE {
    for (std::size_t i = 0; i < n; i += W) {
      const std::size_t m = n - i < W ? n - i : W;
      const V a = m == W ? V::load(x + i) : load_partial<V>(x + i, m, mx);
      const V b = m == W ? V::load(y + i) : load_partial<V>(y + i, m, my);
      V res;
      if constexpr (FLOAT) {
        auto wa = acc_make(V::zero()), wb = acc_make(V::zero());  // the lanes in double, exactly
        acc_add(wa, a), acc_add(wb, b);
        const D r0 = body(wa.a, wb.a, m >= DW ? all : first_lanes<D>(m), i);
        const D r1 = m > DW ? body(wa.b, wb.b, m == W ? all : first_lanes<D>(m - DW), i + DW) : zero;
        if (to) res = narrow(r0, r1);
      } else {
        const D r0 = body(a, b, m == W ? all : first_lanes<D>(m), i);
        if (to) res = r0;
      }
      if (to) {
        if (m == W) store(to + i, res);
        else store_partial(to + i, res, m);
      }
    }
  };

  // Pass 1: E, S, N; a difference over T that overflowed (-inf for a finite logit) declines the row.
  // (E and S with TwoSum in each lane: every p_i and q_i carries their rounding, and KL(Q ‖ M), about
  // log 2 where the rows are apart, carries S's into every gradient entry; plain block sums reached
  // 2^-53·q_i/T there)
  BlockSum<D> nsum;
  PairSum<D> esum, fsum;
  M bad = lt(zero, zero);
  chunks(nullptr, [&](D a, D b, M valid, std::size_t j) LOGITKIT_INLINE {
    D xh, yh;
    const Entry v = compute(a, b, xh, yh);
    if (keep) store(ke + j, v.e), store(kf + j, v.f), store(kd + j, v.d);
    if constexpr (!FLOAT || TEMP)  // (float logits minus their max never overflow a double)
      bad = mask_or(bad, mask_and(valid, mask_or(mask_and(eq(xh, vninf), lt(vninf, a)),
                                                 mask_and(eq(yh, vninf), lt(vninf, b)))));
    // (p = 0 or q = 0: δ is not finite, and f - e is the term: f, -e or 0)
    const auto near = le(abs(v.d), one);
    const D dn = mask_zero(near, v.d);
    const D term = select(near, v.e * (dn + phi_small<D, T>(dn)), v.f - v.e);
    esum.add(mask_zero(valid, v.e), zero);
    fsum.add(mask_zero(valid, v.f), zero);
    nsum.add(mask_zero(valid, term));
    return zero;
  });
  if (any(bad)) return false;
  const double E = esum.value(), S = fsum.value(), z = nsum.value() / E;
  const double dL = z >= -0.5 ? math::libm_log1p(z) : math::libm_log(S) - math::libm_log(E);
  const D vdL = D::set1(dL), invE = D::set1(1.0 / E), invS = D::set1(1.0 / S);
  // r_i, 0 where p_i or q_i is 0 (where it is not used)
  const auto r_of = [&](const Entry& v) LOGITKIT_INLINE { return select(mask_or(v.p0, v.q0), zero, v.d - vdL); };

  // Pass 2: JS, and KL(Q ‖ M) with a gradient
  BlockSum<D> jsum;
  // (KL(Q ‖ M) sums terms of both signs to a result that every gradient entry carries, times q_i:
  // with TwoSum in each lane, not a block's plain sum, whose rounding reached 2^-53·q_i/T there)
  PairSum<D> ksum;
  chunks(nullptr, [&](D a, D b, M valid, std::size_t j) LOGITKIT_INLINE {
    D dv, lqm;
    const Entry v = entry(a, b, j);
    const D p = v.e * invE, q = v.f * invS;
    dist(r_of(v), dv, lqm, true, grad != nullptr, valid);
    // one side 0: m·log 2
    const D term = select(v.p0, hln2 * q, select(v.q0, hln2 * p, (half * (p + q)) * dv));
    jsum.add(mask_zero(valid, term));
    if (grad) ksum.add(mask_zero(valid, q * select(v.p0, vln2, lqm)), zero);
    return zero;
  });
  double js = jsum.value();
  js = js < 0 ? 0.0 : (js > ln2 ? ln2 : js);
  out = T(js);
  if (!grad) return true;

  // Pass 3: the gradient, 0 where q_i = 0
  const D vklq = D::set1(ksum.value()), vgs = D::set1(double(g) / (2 * temp));
  chunks(grad, [&](D a, D b, M valid, std::size_t j) LOGITKIT_INLINE {
    D dv, lqm;
    const Entry v = entry(a, b, j);
    const D q = v.f * invS;
    dist(r_of(v), dv, lqm, false, true, valid);
    return mask_zero(mask_not(v.q0), vgs * (q * (select(v.p0, vln2, lqm) - vklq)));
  });
  return true;
}

template <class V>
inline scalar_t<V> js_row(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> g, scalar_t<V>* grad,
                          double temp) {
  using T = scalar_t<V>;
  constexpr double ninf = -std::numeric_limits<double>::infinity(), ln2 = 0.69314718055994530942;
  T mx, my, mnx, mny;
  const RowKind kx = row_max<V>(x, n, mx, &mnx), ky = row_max<V>(y, n, my, &mny);
  if (kx != row_ok || ky != row_ok) {
    if (grad) fill_row<V>(grad, n, lim<V>::nan);
    return lim<V>::nan;
  }
  if constexpr (V::size > 1) {
    const bool g_fits = !grad || math::is_finite(double(g) / (2 * temp));
    if (temp >= 0x1p-1000 && temp <= 0x1p1000 && g_fits) {
      T v;
      const std::size_t np = (n + V::size - 1) / V::size * V::size;
      double* const keep = n <= js_scratch_max ? js_scratch().get(3 * np) : nullptr;
      if (temp == 1.0 ? js_lanes<V, false>(x, y, n, mx, my, g, grad, temp, keep, v)
                      : js_lanes<V, true>(x, y, n, mx, my, g, grad, temp, keep, v))
        return v;
    }
  }
  // Entry i: x'_i = (x_i - max x)/T and y'_i = (y_i - max y)/T as pairs, δ_i = y'_i - x'_i (exact
  // but for its last rounding; 0 for rows that differ by a constant), e_i = e^(x'_i).
  const double xk = double(mx), yk = double(my);
  struct Pair {
    double xh, xl, yh, yl, d;
  };
  const auto pair = [&](std::size_t i) {
    Pair e{};
    const double a = double(x[i]), b = double(y[i]);
    if (a != ninf) js_detail::diff_over_t(a, xk, temp, e.xh, e.xl);
    if (b != ninf) js_detail::diff_over_t(b, yk, temp, e.yh, e.yl);
    if (a != ninf && b != ninf) {
      const double s2 = e.yh - e.xh, bb = s2 - e.yh, err = (e.yh - (s2 - bb)) + (-e.xh - bb);
      e.d = s2 + (err + (e.yl - e.xl));
    }
    return e;
  };
  const auto expp = [](double h, double l) { return math::libm_exp(h) * (1 + l); };
  // E = Σ e_i, and ΔL = L_y - L_x = log(Σ_i e^(y'_i) / E) = log1p(Σ_i e_i·expm1(δ_i) / E) (plus
  // e^(y'_i) where x_i = -inf): formed from the δ_i, so that it is exact relative to them (an error
  // ε in ΔL changes JS by ε²/8 beside δ²/8); the same e_i in E and in the sum, so that their
  // common rounding cancels. For |δ_i| > 1 the term is e^(y'_i) - e_i (no e^δ to overflow); where
  // the sum is below -E/2 the rows are far apart and ΔL = log S_y - log E.
  const auto neumaier = [](double& sum, double& c, double v) {
    const double t = sum + v;
    c += math::libm_fabs(sum) >= math::libm_fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  };
  // q_direct(i) = e^((y_i - max y)/T) / Sy: Q's probabilities by themselves, for the entries where
  // q_i = p_i·e^(r_i) would carry p_i's underflow (|r_i| > 1)
  const auto ey = [&](std::size_t i) {
    double h, l;
    js_detail::diff_over_t(double(y[i]), double(my), temp, h, l);
    return expp(h, l);
  };
  // p_i = 0 where x_i = -inf or (x_i - x_k)/T overflows to -inf; q_i = 0 likewise for y (its own max)
  const auto zero_p = [&](std::size_t i, const Pair& e) { return x[i] == -lim<V>::inf || !(e.xh > ninf); };
  const auto y_over_t = [&](std::size_t i, double& l) {
    double h;
    js_detail::diff_over_t(double(y[i]), double(my), temp, h, l);
    return h;
  };
  const auto zero_q = [&](std::size_t i) {
    double l;
    return y[i] == -lim<V>::inf || !(y_over_t(i, l) > ninf);
  };
  double E = 0, E_c = 0, Sy = 0, Sy_c = 0, num = 0, num_c = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Pair e = pair(i);
    const bool p0 = zero_p(i, e), q0 = zero_q(i);
    if (!p0) neumaier(E, E_c, expp(e.xh, e.xl));
    if (!q0) neumaier(Sy, Sy_c, ey(i));
    if (p0 && q0) continue;
    double v;
    if (p0) v = ey(i);
    else if (q0) v = -expp(e.xh, e.xl);
    else if (math::libm_fabs(e.d) <= 1) v = expp(e.xh, e.xl) * ::expm1(e.d);
    else v = ey(i) - expp(e.xh, e.xl);
    neumaier(num, num_c, v);
  }
  E += E_c;
  Sy += Sy_c;
  const double z = (num + num_c) / E;
  const double dL = z >= -0.5 ? math::libm_log1p(z) : math::libm_log(Sy) - math::libm_log(E);
  // per entry: p_i = e_i/E (not e^(x'_i - L_x), whose exponent's rounding would be a relative error
  // of p_i), q_i = p_i·e^(r_i) from the same r_i where |r_i| <= 1 (else by itself), and r_i
  struct Entry {
    double p, q, r;
    bool p0, q0;  // p_i = 0, q_i = 0
  };
  const auto entry = [&](std::size_t i) {
    const Pair q = pair(i);
    Entry e{0, 0, 0, zero_p(i, q), zero_q(i)};
    if (!e.p0) e.p = expp(q.xh, q.xl) / E;
    if (e.p0 || e.q0) {
      if (!e.q0) e.q = ey(i) / Sy;
      return e;
    }
    e.r = q.d - dL;
    e.q = math::libm_fabs(e.r) <= 1 ? e.p * math::libm_exp(e.r) : ey(i) / Sy;
    return e;
  };
  double sum = 0, comp = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Entry e = entry(i);
    if (e.p0 && e.q0) continue;
    if (e.p0 || e.q0) {  // one of p_i, q_i is 0: m_i·log 2
      neumaier(sum, comp, 0.5 * ln2 * (e.p0 ? e.q : e.p));
      continue;
    }
    neumaier(sum, comp, 0.5 * (e.p + e.q) * js_detail::d_of(e.r));
  }
  double js = sum + comp;
  js = js < 0 ? 0.0 : (js > ln2 ? ln2 : js);  // (NaN stays NaN)
  if (grad) {
    // KL(Q ‖ M) = Σ q_i·log(q_i/m_i), log(q/m) = log 2 - log1p(e^-r) (log 2 where p_i = 0)
    // (-log1p(expm1(-r)/2): no cancellation near r = 0, where the gradient is small)
    const auto log_q_over_m = [&](const Entry& e) {
      if (e.p0) return ln2;
      return e.r > -30 ? -math::libm_log1p(::expm1(-e.r) / 2) : ln2 + e.r - math::libm_log1p(math::libm_exp(e.r));
    };
    double klq = 0, klq_c = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Entry e = entry(i);
      if (!e.q0) neumaier(klq, klq_c, e.q * log_q_over_m(e));
    }
    klq += klq_c;
    // g/(2T) overflows for a subnormal T: then (v·g)/(2T), so that a derivative that is exactly 0
    // stays 0 (not 0·inf)
    const double t2 = 2 * temp, gs = double(g) / t2;
    const bool gs_fin = gs - gs == 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Entry e = entry(i);
      grad[i] = e.q0      ? T(0)
                : gs_fin ? T(gs * e.q * (log_q_over_m(e) - klq))
                         : T((e.q * (log_q_over_m(e) - klq) * double(g)) / t2);
    }
  }
  return T(js);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
