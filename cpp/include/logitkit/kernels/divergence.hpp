// Entropy and divergences straight from logits, one row at a time, each with its gradient from the
// same passes (docs/numerics.md, "Entropy and divergences").
//
// Entropy of p = softmax(x/T), in the lane type: m = max x, d_i = (x_i - m)/T exact as hi + lo
// (row_diff), L = log(k + S') as the softmax kernels compute it, p_i = exp(d_i)/(k + S'), and
//   H = L + A,  A = Σ p_i·(-d_i):
// two non-negative terms, so no cancellation: a confident row's H (1e-30, say) is as accurate as a
// flat row's log n. Gradient with respect to x: dH/dx_i = -(p_i/T)·(log p_i + H) = -(p_i/T)·(d_i + A).
//
// KL(p ‖ q) with p = softmax(x/T), q = softmax(y/T), in double lanes (float rows widened a chunk at
// a time): with d_i = (x_i - y_i)/T and c = Σ p_j d_j,
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
#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

#include "../math/exp.hpp"
#include "../math/exp_dd.hpp"
#include "../math/libm.hpp"
#include "common.hpp"
#include "loss/loss_sum.hpp"
#include "row/basics.hpp"
#include "row/max_relative.hpp"
#include "row/wide.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// The ISA's double-lane vector (VD for either lane type).
template <class V>
using double_lanes_t = decltype(double_lanes(std::declval<V>()));

// g/T as the lane type, when it is a normal number there (or 0).
template <class V>
inline bool grad_scale_fits(scalar_t<V> g, double temp) {
  using T = scalar_t<V>;
  constexpr double lo = double(std::numeric_limits<T>::min()), hi = double(std::numeric_limits<T>::max());
  const double gs = math::libm_fabs(double(g) / temp);
  return gs == 0 || (gs >= lo && gs <= hi);
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
    const Wd gs = Wd(g) / wt;
    for (std::size_t i = 0; i < n; ++i) {
      const Wd d = (Wd(x[i]) - wm) / wt;
      const Wd p = math::libm_exp(d) / Z;
      grad[i] = p > 0 ? T(-gs * p * (d + A)) : T(0);
    }
  }
  return T(L + A);
}

template <class V, bool TEMP>
inline scalar_t<V> entropy_lanes(const scalar_t<V>* x, std::size_t n, scalar_t<V> m, scalar_t<V> g,
                                 scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  constexpr std::size_t W = V::size;
  const RowSum<V> rs = row_expsum<V, TEMP>(x, n, m, temp);
  const double L = rs.L(), inv = 1.0 / (rs.k + rs.Sp);
  const V negm = V::set1(-m), t = V::set1(T(temp)), tl = V::set1(T(temp - double(T(temp)))),
          invt = V::set1(T(1.0 / temp)), vinv = V::set1(T(inv));
  // p and d = hi + lo of one vector; p = 0 where x = -inf (lo is cleared there)
  const auto pd = [&](V a, V& hi, V& lo) LOGITKIT_INLINE {
    hi = row_diff<V, TEMP, true>(a, negm, t, tl, invt, lo);
    return math::exp_neg_lo(hi, lo) * vinv;
  };
  // A = Σ p·(-d): non-negative terms; p = 0 adds 0 even where d = -inf. Terms whose p is below the
  // lane type's normal range are summed in the wide type instead (A2): a confident row's entropy
  // may be made of them alone.
  using Wd = wide_t<V>;
  using EC = math::exp_consts<T>;
  constexpr T cutoff = sizeof(T) == 4 ? T(-200) : T(-1500);
  Wd A2 = 0;
  const auto term = [&](V a) LOGITKIT_INLINE {
    V hi, lo;
    const V p = pd(a, hi, lo);
    const auto tiny = mask_and(lt(hi, V::set1(EC::fast_lo)), lt(V::set1(cutoff), hi));
    V t = mask_zero(lt(V::zero(), p), p * (neg(hi) - lo));
    if (any(tiny)) {
      alignas(64) T h[V::size], l[V::size], f[V::size];
      store(h, hi);
      store(l, lo);
      store(f, mask_zero(tiny, V::set1(T(1))));
      for (int j = 0; j < V::size; ++j)
        if (f[j] != T(0)) {
          const Wd d = Wd(h[j]) + Wd(l[j]);
          A2 -= math::libm_exp(d) * Wd(inv) * d;
        }
      t = mask_zero(mask_not(tiny), t);
    }
    return t;
  };
  LossAcc<V> acc;
  std::size_t i = 0;
  while (i + W <= n) {
    const std::size_t stop = n - i > acc.block ? i + acc.block : n;
    for (; i + W <= stop; i += W) acc.add(term(V::load(x + i)));
    acc.flush();
  }
  if (i < n) acc.add(mask_zero(first_lanes<V>(n - i), term(load_partial<V>(x + i, n - i, m))));
  const double A = double(Wd(acc.sum()) + A2);
  if (grad) {
    const T Ah = T(A), Al = T(A - double(Ah));
    const V vAh = V::set1(Ah), vAl = V::set1(Al), vgs = V::set1(T(double(g) / temp));
    const auto out = [&](V a) LOGITKIT_INLINE {
      V hi, lo;
      const V p = pd(a, hi, lo);
      const V s = (hi + vAh) + (lo + vAl);  // log p_i + H = d_i + A
      return mask_zero(lt(V::zero(), p), neg(vgs * (p * s)));
    };
    std::size_t j = 0;
    for (; j + W <= n; j += W) store(grad + j, out(V::load(x + j)));
    if (j < n) store_partial(grad + j, out(load_partial<V>(x + j, n - j, m)), n - j);
  }
  return T(L + A);
}

// The entropy of softmax(x/temp) of one row; with grad, g·dH/dx into grad (which may be x).
template <class V>
inline scalar_t<V> entropy_row(const scalar_t<V>* x, std::size_t n, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  T m, mn;
  if (row_max<V>(x, n, m, &mn) != row_ok) {
    if (grad) fill_row<V>(grad, n, lim<V>::nan);
    return lim<V>::nan;
  }
  if ((temp != 1.0 && temp_needs_wide<V>(x, n, m, mn, temp)) || (grad && !grad_scale_fits<V>(g, temp)))
    return entropy_wide<V>(x, n, m, g, grad, temp);
  return temp == 1.0 ? entropy_lanes<V, false>(x, n, m, g, grad, temp) : entropy_lanes<V, true>(x, n, m, g, grad, temp);
}

// ------------------------------------------------------------------------------- KL divergence

// Calls f(xd, yd, i0, m) for consecutive chunks [i0, i0 + m) of the rows x and y as double arrays: a
// double row as it is, a float row widened 256 entries at a time.
template <class T, class F>
inline void widened_chunks(const T* x, const T* y, std::size_t n, F&& f) {
  if constexpr (std::is_same_v<T, double>) {
    if (n) f(x, y, std::size_t(0), n);
  } else {
    constexpr std::size_t chunk = 256;
    alignas(64) double xb[chunk], yb[chunk];
    for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
      const std::size_t m = n - i0 < chunk ? n - i0 : chunk;
      for (std::size_t j = 0; j < m; ++j) {
        xb[j] = double(x[i0 + j]);
        yb[j] = double(y[i0 + j]);
      }
      f(static_cast<const double*>(xb), static_cast<const double*>(yb), i0, m);
    }
  }
}

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
    if (!infinite) c += p * dprime(i);
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
    const Wd gs = Wd(g) / wt;
    for (std::size_t i = 0; i < n; ++i) {
      const Wd p = math::libm_exp(logp(i)), q = math::libm_exp((Wd(y[i]) - wmy) / wt - Ly);
      grad[i] = T(gs * (q - p));
    }
  }
  return T(kl);
}

// φ(u) = e^u - 1 - u for |u| <= 1: u²·Σ_j u^j/(j + 2)!, degree by the result's precision (the
// first term left out is below 2^-26 (float) or 2^-54 (double) of φ).
template <int DEG>
struct PhiTaylor {
  double c[DEG + 1];  // c[j] = 1/(j + 2)!
  constexpr PhiTaylor() : c() {
    double f = 2;
    for (int j = 0; j <= DEG; ++j) {
      c[j] = 1.0 / f;
      f *= double(j + 3);
    }
  }
};
template <class D, class T>
LOGITKIT_INLINE inline D phi_small(D u) {
  constexpr int deg = sizeof(T) == 4 ? 9 : 16;
  static constexpr PhiTaylor<deg> tc{};
  D p = D::set1(tc.c[deg]);
  for (int j = deg - 1; j >= 0; --j) p = mul_add(p, u, D::set1(tc.c[j]));
  return p * (u * u);
}

// A sum of many vectors of terms: plain over blocks of 8 vectors, the block sums added with
// Neumaier's compensation (a plain sum of a 1000-entry row drifts by tens of ulps).
template <class D>
struct BlockSum {
  D acc = D::zero();
  int k = 0;
  CompensatedSum<D> total;
  LOGITKIT_INLINE void add(D v) {
    acc = acc + v;
    if (++k == 8) flush();
  }
  void flush() {
    total.add(hsum(acc));
    acc = D::zero();
    k = 0;
  }
  double value() {
    flush();
    return total.value();
  }
};

template <class V, bool TEMP>
inline scalar_t<V> kl_lanes(const scalar_t<V>* x, const scalar_t<V>* y, std::size_t n, scalar_t<V> mx,
                            scalar_t<V> my, std::size_t k, scalar_t<V> g, scalar_t<V>* grad, double temp) {
  using T = scalar_t<V>;
  using D = double_lanes_t<V>;
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
    D ah = two_sum(a, negb, al);
    if constexpr (TEMP) {
      const D qt = ah * vinvt;
      al = (quotient_residual(ah, qt, vt) + al) * vinvt;
      ah = qt;
    }
    D sl;
    const D sh = two_sum(ah, negL, sl);
    lo = sl + al;
    return sh;
  };
  // d'_i = ((x_i - x_k) - (y_i - y_k))/T as hi + r
  const auto dprime = [&](D a, D b, D& r) LOGITKIT_INLINE {
    D al, bl, se;
    const D ah = two_sum(a, negmx, al), bh = two_sum(b, negyk, bl);
    const D sh = two_sum(ah, neg(bh), se);
    const D dl = se + (al - bl);
    if constexpr (TEMP) {
      const D qt = sh * vinvt;
      r = (quotient_residual(sh, qt, vt) + dl) * vinvt;
      return qt;
    } else {
      r = dl;
      return sh;
    }
  };
  // p_i from its logarithm as a pair. The weights of F carry their rounding into the result
  // relatively, one for one: for float rows exp's few ulps of double are far below float's; for
  // double rows the double-length exp (about 2^-58), rounded once.
  const auto pexp = [&](D h, D l) LOGITKIT_INLINE {
    if constexpr (sizeof(T) == 8) {
      D H, L;
      math::exp_dd(h, l, H, L);
      return H + L;
    } else {
      return math::exp_neg_lo(h, l);
    }
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
  // cancels (F carries a common relative error of the weights one for one).
  bool infinite = false;
  BlockSum<D> csum, psum;
  widened_chunks<T>(x, y, n, [&](const double* xd, const double* yd, std::size_t, std::size_t m) {
    auto bad = lt(zero, zero);
    lanes(xd, yd, m, [&](std::size_t, D a, D b, auto valid) LOGITKIT_INLINE {
      D lo, r;
      const D p = pexp(logprob(a, negmx, nLxh, lo), lo);
      const auto has_mass = mask_and(valid, lt(vninf, a));
      bad = mask_or(bad, mask_and(has_mass, eq(b, vninf)));
      const D dq = dprime(a, b, r);
      csum.add(mask_zero(has_mass, p * (dq + r)));
      psum.add(mask_zero(has_mass, p));
    });
    infinite = infinite || any(bad);
  });
  const double P1 = psum.value(), c = csum.value() / P1;

  // Pass 2: F = Σ p_i φ(u_i), and the gradient (q - p)·g/T.
  const D vc = D::set1(c), one = D::set1(1.0), big = D::set1(600.0), vgs = D::set1(double(g) / temp),
          vinvP1 = D::set1(1.0 / P1);
  // (y_i - y_k)/T - L_x - log P1 + c: the log of (p_i/P1)·e^(u_i) formed in one exponent
  const D cLx = D::set1(c - (Lx + math::libm_log1p(P1 - 1.0)));
  const auto q_arg = [&](D b) LOGITKIT_INLINE {
    D bl;
    const D bh = two_sum(b, negyk, bl);
    return TEMP ? mul_add(bh, vinvt, cLx) : bh + cLx;
  };
  BlockSum<D> fsum;
  bool overflow = false;
  alignas(64) double gb[256];
  widened_chunks<T>(x, y, n, [&](const double* xd, const double* yd, std::size_t i0, std::size_t m) {
    auto huge = lt(zero, zero);
    double* go = nullptr;
    if (grad) {
      if constexpr (std::is_same_v<T, double>) go = grad + i0;
      else go = gb;
    }
    lanes(xd, yd, m, [&](std::size_t j, D a, D b, auto valid) LOGITKIT_INLINE {
      D lo;
      const D p = pexp(logprob(a, negmx, nLxh, lo), lo);
      if (!infinite) {
        // p·φ(u) where p > 0; where p is 0 (x_i = -inf, or exp underflowed), q's own mass there.
        // log(p_i·e^(u_i)) = (y_i - y_k)/T - L_x + c: e^u is never formed where it is large.
        const auto pos = mask_and(valid, lt(zero, p));
        const D pn = p * vinvP1;  // the weight p_i/P1
        D r;
        const D u = (vc - dprime(a, b, r)) - r;
        D term = mask_zero(pos, pn * phi_small<D, T>(u));
        const auto above = mask_and(pos, lt(one, u)), below = mask_and(pos, lt(u, neg(one)));
        const auto q_only = mask_and(valid, mask_and(le(p, zero), lt(vninf, b)));
        const auto by_q = mask_or(above, q_only);
        if (any(by_q)) {
          const D e = q_arg(b);
          huge = mask_or(huge, mask_and(by_q, lt(big, e)));
          const D qe = math::exp(e);
          term = select(above, qe - pn * (one + u), term);
          term = select(q_only, qe, term);
        }
        if (any(below)) term = select(below, pn * ((math::exp(u) - one) - u), term);
        fsum.add(term);
      }
      if (grad) {
        D ql;
        const D q = math::exp_neg_lo(logprob(b, negmy, nLyh, ql), ql);
        const D gv = vgs * (q - p);
        if (j + W <= m) store(go + j, gv);
        else store_partial(go + j, gv, m - j);
      }
    });
    overflow = overflow || any(huge);
    if constexpr (!std::is_same_v<T, double>)
      if (grad)
        for (std::size_t j = 0; j < m; ++j) grad[i0 + j] = T(gb[j]);
  });
  if (infinite) return lim<V>::inf;
  if (!overflow) return T(math::libm_log1p(fsum.value()));
  // Some p_i·e^(u_i) leaves double's range: KL >= 600, and the closed form
  // log Σ e^((y_i - y_k)/T - L_x + c) = c - L_x + L_y + (max y - y_k)/T has no cancellation to fear.
  const double kl = c - Lx + Ly + (double(my) - yk) / temp;
  return T(kl > 0 ? kl : 0.0);
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
  std::size_t k = 0;
  while (x[k] != mx) ++k;
  bool wide = (temp != 1.0 && (temp_needs_wide<V>(x, n, mx, mnx, temp) || temp_needs_wide<V>(y, n, my, mny, temp))) ||
              (grad && !grad_scale_fits<V>(g, temp));
  if constexpr (std::is_same_v<T, float>) wide = wide && !(temp >= 1e-30 && temp <= 1e30);
  if (wide) return kl_wide<V>(x, y, n, mx, my, k, g, grad, temp);
  return temp == 1.0 ? kl_lanes<V, false>(x, y, n, mx, my, k, g, grad, temp)
                     : kl_lanes<V, true>(x, y, n, mx, my, k, g, grad, temp);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
