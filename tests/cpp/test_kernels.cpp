// C++ kernel tests: every ISA this CPU supports against the scalar path and against a long double
// reference, float and double, on random rows and known values. Prints one line per ISA and exits
// non-zero on any failure. Run by ctest (LOGITKIT_BUILD_TESTS=ON) and, for arm64, under qemu by
// tests/cpp/run_arm64_qemu.sh.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "logitkit/dispatch.hpp"

using namespace logitkit;

namespace {

int failures = 0;

template <class T>
double ulps(T got, long double exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(exact)) return got == exact ? 0 : 1e30;
  const long double a = std::fabs(exact);
  const long double tiny = std::numeric_limits<T>::min();
  const long double err = std::fabs((long double)got - exact);
  if (a < tiny) return double(err / (2 * std::numeric_limits<T>::denorm_min()));
  int e;
  std::frexp(double(a), &e);
  return double(err / std::ldexp(1.0L, e - std::numeric_limits<T>::digits));
}

template <class T>
void check(const char* isa, const char* what, double worst, double bound) {
  if (!(worst <= bound)) {
    std::printf("FAIL %s %s %s: %.3g ulp > %.3g\n", isa, what, sizeof(T) == 4 ? "f32" : "f64", worst, bound);
    ++failures;
  }
}

// Cross-entropy gradients that cancel: logits log y' built from the (smoothed) target itself, so
// that p_c·Σa - a_c is nearly 0 for every class; the kernels flag such rows and recompute them in
// double-length arithmetic (losses.hpp, ce_grad_accurate, math/exp_dd.hpp). Every entry must be
// within the bound of docs/numerics.md ("The bounds"): 8 / 16 ulp or 2^-24 / 2^-53
// (times max(1, Σa)) absolute.
template <class T>
void test_ce_cancellation(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const bool f = sizeof(T) == 4;
  const long double abs_bound = std::ldexp(1.0L, f ? -24 : -53);
  const double ulp_bound = f ? 8 : 16;
  std::mt19937_64 rng(7);
  std::gamma_distribution<double> gd(0.3, 1.0);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  double worst = 0;
  for (std::size_t n : {3u, 8u, 19u, 64u, 1000u}) {
    for (int kind = 0; kind < 3; ++kind) {  // soft, soft + smoothing, hard + smoothing
      const T eps = kind == 0 ? T(0) : T(0.1);
      std::vector<T> y(n), x(n), grad(n);
      std::int64_t t = std::int64_t(ud(rng) * double(n)) % std::int64_t(n);
      long double sum = 0;
      for (auto& v : y) sum += (v = T(gd(rng)));
      y[0] = T(y[0] + 0.5L * sum);
      sum = 0;
      for (T v : y) sum += v;
      for (auto& v : y) v = T(v / sum);
      std::vector<long double> a(n);
      long double A = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const long double yi = kind == 2 ? (std::int64_t(i) == t ? 1.0L : 0.0L) : (long double)y[i];
        a[i] = (1.0L - (long double)eps) * yi + (long double)eps / (long double)n;
        A += a[i];
        x[i] = T(std::log(a[i]));
      }
      if (kind == 2) k.cross_entropy_hard(x.data(), n, t, nullptr, T(n), eps, T(1), grad.data(), 1.0);
      else k.cross_entropy_soft(x.data(), y.data(), n, nullptr, eps, T(1), grad.data(), 1.0);
      long double m = x[0], S = 0;
      for (T v : x) m = v > m ? v : m;
      for (T v : x) S += std::exp((long double)v - m);
      for (std::size_t i = 0; i < n; ++i) {
        const long double exact = std::exp((long double)x[i] - m) / S * A - a[i];
        const long double err = std::fabs((long double)grad[i] - exact);
        const double frac = std::fmin(ulps(grad[i], exact) / ulp_bound,
                                      double(err / (abs_bound * (A > 1 ? A : 1.0L))));
        worst = std::fmax(worst, frac);
      }
    }
  }
  if (!(worst <= 1)) {
    std::printf("FAIL %s cross-entropy cancelling gradient %s: %.3g x the bound\n", isa, f ? "f32" : "f64", worst);
    ++failures;
  }
  std::printf("%s %s: cross-entropy cancelling gradients %.3f x the bound\n", isa, f ? "f32" : "f64", worst);
}

// The rows entries (one row per lane for short rows, row groups up to 2048) give each row the bits
// that row gets alone, special rows (NaN, inf, out of exp's range, top-heavy) included.
template <class T>
void test_rows_same_bits(const char* isa) {
  const auto& k = active_kernels().get<T>();
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (std::size_t n : {2u, 4u, 5u, 16u, 24u, 32u, 33u, 48u, 64u, 100u, 257u, 1025u, 2048u, 2049u, 40000u}) {
    const std::size_t rows = 37;
    std::vector<T> x(rows * n), y(rows * n), y1(n), lse(rows);
    for (auto& v : x) v = T(nd(rng) * 4.0);
    x[1 * n + 1] = nan;
    x[2 * n] = -inf;
    x[3 * n + n - 1] = inf;
    x[4 * n] = T(200);      // outside exp's range: the max-relative path
    x[5 * n + n / 2] = T(60);  // top-heavy
    for (std::size_t j = 0; j < n; ++j) x[6 * n + j] = -inf;
    for (std::size_t r = 7; r < 10; ++r) x[r * n + r % n] = T(60);  // top-heavy rows in a row (long rows:
    x[10 * n + 3] = T(-100);  // the sums store their exps for the next ones); a subnormal term
    for (std::size_t j = 0; j < n; ++j)  // logsumexp: m < 0 cancelling against L, in a group with the above
      x[12 * n + j] = T(-0.8 * std::log(double(n)) + 1e-3 * double(j));
    std::vector<T> ys(rows * n), ys1(n);
    k.log_softmax_rows(x.data(), y.data(), rows, n, 1.0);
    k.logsumexp_rows(x.data(), lse.data(), rows, n, 1.0);
    k.softmax_rows(x.data(), ys.data(), rows, n, 1.0);
    for (std::size_t r = 0; r < rows; ++r) {
      k.log_softmax(x.data() + r * n, y1.data(), n, 1.0);
      k.softmax(x.data() + r * n, ys1.data(), n, 1.0);
      const T l1 = k.logsumexp(x.data() + r * n, n, 1.0);
      const bool same_lse = std::memcmp(&l1, &lse[r], sizeof(T)) == 0;
      if (std::memcmp(y1.data(), y.data() + r * n, n * sizeof(T)) != 0 || !same_lse ||
          std::memcmp(ys1.data(), ys.data() + r * n, n * sizeof(T)) != 0) {
        std::printf("FAIL %s rows entry differs from one row: n=%zu row %zu\n", isa, n, r);
        ++failures;
        return;
      }
    }
    // in place: the same bits as out of place
    std::vector<T> xi(x);
    k.log_softmax_rows(xi.data(), xi.data(), rows, n, 1.0);
    if (std::memcmp(xi.data(), y.data(), rows * n * sizeof(T)) != 0) {
      std::printf("FAIL %s log_softmax_rows in place differs: n=%zu\n", isa, n);
      ++failures;
      return;
    }
  }
}


// Lane isolation (docs/numerics.md): special values (NaN, +-inf, just outside exp's range, huge,
// subnormal) at every position of a 64-entry array (a multiple of every ISA's 4-vector group), alone
// and in pairs whose second value sits in the same lane of another vector of the group (offsets
// +-k·W, W = 4, 8, 16). Elementwise functions and BCE: every entry has the bits it has alone (lane 0
// of an array of zeros). Row functions and cross-entropy: the special row of a batch has the bits
// it has alone, and the clean rows around it are unchanged.
template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  return true;
}

// cross_entropy_hard_rows (kernels/loss/ce_rows.hpp: each row's gradient pass queued into the next
// row's sum pass) gives every row the loss and gradient bits cross_entropy_hard gives it alone:
// random rows around special ones (NaN, infinities, out of exp's range, confident rows with the
// label on and off the max, several in a row, an ignored row, a subnormal term), per-row gradient
// scales, rows apart in memory, and any split of the batch.
template <class T>
void test_ce_hard_rows(const char* isa) {
  const auto& k = active_kernels().get<T>();
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (std::size_t n : {2u, 3u, 16u, 33u, 64u, 100u, 257u, 1000u, 1025u, 2049u, 40000u}) {
    const std::size_t rows = 29, xs = n + 3, gs = n + 5;
    std::vector<T> x(rows * xs), grad(rows * gs), grad1(n), loss(rows), g(rows);
    std::vector<std::int64_t> t(rows);
    for (auto& v : x) v = T(nd(rng) * 3.0);
    for (std::size_t r = 0; r < rows; ++r) {
      t[r] = std::int64_t(rng() % n);
      g[r] = T(0.25 + double(r % 5) / 7.0);
    }
    const auto at = [&](std::size_t r) { return x.data() + r * xs; };
    at(1)[n / 2] = nan;
    at(2)[0] = -inf;
    at(3)[n - 1] = inf;
    at(4)[0] = T(200);  // outside exp's range
    for (std::size_t r = 5; r < 9; ++r) {  // confident rows, the label on the max (R summed)
      at(r)[r % n] = T(40);
      t[r] = std::int64_t(r % n);
    }
    at(9)[1 % n] = T(40);  // confident, the label elsewhere
    t[9] = 0;
    t[10] = -1;  // ignored
    at(11)[n - 1] = T(-100);  // a subnormal exp
    at(12)[0] = T(40);        // confident, label on the max, next to ordinary rows
    t[12] = 0;
    for (std::size_t c = 0; c < n; ++c) at(13)[c] = T(-3);  // a flat row
    for (std::size_t split : {rows, std::size_t(1), std::size_t(7)}) {
      std::fill(grad.begin(), grad.end(), T(0));
      for (std::size_t r0 = 0; r0 < rows; r0 += split) {
        const std::size_t m = rows - r0 < split ? rows - r0 : split;
        k.cross_entropy_hard_rows(x.data() + r0 * xs, std::ptrdiff_t(xs), grad.data() + r0 * gs, std::ptrdiff_t(gs),
                                  m, n, t.data() + r0, g.data() + r0, loss.data() + r0);
      }
      for (std::size_t r = 0; r < rows; ++r) {
        const T l1 = k.cross_entropy_hard(x.data() + r * xs, n, t[r], nullptr, T(n), T(0), g[r], grad1.data(), 1.0);
        if (!same_bits(&l1, &loss[r], 1) || !same_bits(grad1.data(), grad.data() + r * gs, n)) {
          std::printf("FAIL %s %s cross_entropy_hard_rows differs from cross_entropy_hard: n=%zu row %zu split %zu\n",
                      isa, sizeof(T) == 4 ? "f32" : "f64", n, r, split);
          ++failures;
          return;
        }
      }
    }
  }
}

// entropy_rows (kernels/divergence.hpp: short rows one per lane, several at a time) gives every row
// the entropy and gradient bits entropy gives it alone: random rows around special ones (NaN, +inf,
// a masked -inf entry, out of exp's range, a subnormal term, confident, flat), per-row gradient
// scales (one outside the normal range), with and without the gradient, in place, and any split of
// the batch.
template <class T>
void test_entropy_rows(const char* isa) {
  const auto& k = active_kernels().get<T>();
  std::mt19937_64 rng(12);
  std::normal_distribution<double> nd;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const T far = sizeof(T) == 4 ? T(100) : T(800);
  for (std::size_t n : {2u, 3u, 4u, 7u, 16u, 31u, 33u, 63u, 64u, 100u}) {
    const std::size_t rows = 37;
    std::vector<T> x(rows * n), grad(rows * n), grad1(n), h(rows), g(rows), x2;
    for (auto& v : x) v = T(nd(rng) * 3.0);
    for (std::size_t r = 0; r < rows; ++r) g[r] = T(0.25 + double(r % 5) / 7.0);
    g[20] = std::numeric_limits<T>::denorm_min();  // g/T not normal: the row's wide path
    const auto at = [&](std::size_t r) { return x.data() + r * n; };
    at(1)[n / 2] = nan;
    at(2)[0] = -inf;  // a masked class
    at(3)[n - 1] = inf;
    at(4)[0] = far;        // the rest outside exp's range
    at(5)[n - 1] = -far;   // one term outside exp's range
    at(6)[0] = T(-100);    // a float term below the normal range
    at(7)[1] = T(40);      // confident
    for (std::size_t c = 0; c < n; ++c) at(8)[c] = T(-3);  // flat
    for (std::size_t c = 0; c < n; ++c) at(9)[c] = -inf;   // no class
    at(17)[n - 1] = -inf, at(17)[0] = -inf;  // masked lanes next to ordinary ones
    for (const bool with_grad : {false, true})
      for (const bool in_place : {false, true}) {
        if (in_place && !with_grad) continue;
        for (std::size_t split : {rows, std::size_t(1), std::size_t(5), std::size_t(16)}) {
          x2 = x;
          T* gout = in_place ? x2.data() : grad.data();
          for (std::size_t r0 = 0; r0 < rows; r0 += split) {
            const std::size_t m = rows - r0 < split ? rows - r0 : split;
            k.entropy_rows(x2.data() + r0 * n, m, n, with_grad ? g.data() + r0 : nullptr, h.data() + r0,
                           with_grad ? gout + r0 * n : nullptr);
          }
          for (std::size_t r = 0; r < rows; ++r) {
            const T h1 = k.entropy(x.data() + r * n, n, g[r], with_grad ? grad1.data() : nullptr, 1.0);
            if (!same_bits(&h1, &h[r], 1) || (with_grad && !same_bits(grad1.data(), gout + r * n, n))) {
              std::printf("FAIL %s %s entropy_rows differs from entropy: n=%zu row %zu split %zu grad %d in place %d\n",
                          isa, sizeof(T) == 4 ? "f32" : "f64", n, r, split, int(with_grad), int(in_place));
              ++failures;
              return;
            }
          }
        }
      }
  }
}

// binary_entropy (kernels/binary_divergence.hpp): its vector lanes, and the elements they hand to
// the scalar path (NaN, ±inf, |x/T| > 700), against a long double reference and against each
// element alone, bit for bit, at every lane offset, with and without the gradient, in place.
template <class T>
void test_binary_entropy_lanes(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const bool f = sizeof(T) == 4;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const std::vector<T> specials = {nan, inf, -inf, T(700.5), T(-701), std::numeric_limits<T>::max(),
                                   std::numeric_limits<T>::denorm_min(), T(0), T(-0.0), T(90), T(-745)};
  constexpr std::size_t N = 70;
  std::mt19937_64 rng(13);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(-10.0, 2.88);  // |x| from 1e-10 to 760
  std::vector<T> x(N);
  double worst_h = 0, worst_g = 0;
  for (const double temp : {1.0, 0.3, 7.0})
    for (std::size_t off = 0; off < 2 * specials.size() + 20; ++off) {
      for (auto& v : x) v = T((nd(rng) < 0 ? -1 : 1) * std::pow(10.0, ud(rng)));
      for (std::size_t s = 0; s < specials.size(); ++s) x[(off + 5 * s) % N] = specials[s];
      const T g = T(0.375);
      std::vector<T> h(N), gr(N), h0(N), io(N);
      k.binary_entropy(x.data(), N, g, h.data(), gr.data(), temp);
      k.binary_entropy(x.data(), N, g, h0.data(), nullptr, temp);
      bool ok = same_bits(h.data(), h0.data(), N);
      io = x;  // h in place of x
      k.binary_entropy(io.data(), N, g, io.data(), h0.data(), temp);
      ok = ok && same_bits(io.data(), h.data(), N) && same_bits(h0.data(), gr.data(), N);
      io = x;  // the gradient in place of x
      k.binary_entropy(io.data(), N, g, h0.data(), io.data(), temp);
      ok = ok && same_bits(io.data(), gr.data(), N) && same_bits(h0.data(), h.data(), N);
      for (std::size_t i = 0; i < N && ok; ++i) {
        T h1, g1;
        k.binary_entropy(x.data() + i, 1, g, &h1, &g1, temp);
        ok = same_bits(&h1, &h[i], 1) && same_bits(&g1, &gr[i], 1);
        const long double z = (long double)x[i] / temp, a = std::fabs(z);
        if (std::isnan(z)) {
          ok = ok && std::isnan(h[i]) && std::isnan(gr[i]);
          continue;
        }
        const long double e = std::exp(-a), sp = 1 / (1 + e), sm = e * sp;
        const long double H = std::isinf(z) ? 0.0L : std::log1p(e) + a * sm;
        const long double G = std::isinf(z) ? 0.0L : -z * sp * sm * ((long double)g / temp);
        worst_h = std::fmax(worst_h, ulps(h[i], H));
        if (std::fabs(G) >= std::numeric_limits<T>::min()) worst_g = std::fmax(worst_g, ulps(gr[i], G));
        else ok = ok && std::fabs(gr[i] - G) <= std::numeric_limits<T>::min();
      }
      if (!ok) {
        std::printf("FAIL %s %s binary_entropy: an element differs from itself alone or in place (T=%g, offset %zu)\n",
                    isa, f ? "f32" : "f64", temp, off);
        ++failures;
        return;
      }
    }
  check<T>(isa, "binary_entropy", worst_h, f ? 8 : 16);
  check<T>(isa, "binary_entropy gradient", worst_g, 8);
  std::printf("%s %s: binary_entropy %.2f ulp, gradient %.2f ulp\n", isa, f ? "f32" : "f64", worst_h, worst_g);
}

// binary_kl_divergence (kernels/binary_divergence.hpp): its vector lanes and the pairs they hand to
// the scalar path, against the scalar form binary_kl_one (tests/test_binary_divergence.py holds both
// to mpmath), and against each pair alone, bit for bit, with special values in either logit at
// every lane offset, with and without the gradient, in place of either input.
template <class T>
void test_binary_kl_lanes(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const auto& ref = detail::table_scalar()->get<T>();
  const bool f = sizeof(T) == 4;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const std::vector<T> specials = {nan, inf, -inf, T(700.5), T(-701), std::numeric_limits<T>::max(), T(0), T(-0.0)};
  constexpr std::size_t N = 70;
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> mag(-6.0, 2.88), gap(-12.0, 1.0), ud(0.0, 1.0);
  std::vector<T> x(N), y(N);
  double worst_k = 0, worst_g = 0;
  for (const double temp : {1.0, 0.3, 7.0})
    for (std::size_t off = 0; off < 2 * specials.size() + 20; ++off) {
      for (std::size_t i = 0; i < N; ++i) {
        const double a = (ud(rng) < 0.5 ? -1 : 1) * std::pow(10.0, mag(rng));
        const double d = (ud(rng) < 0.5 ? -1 : 1) * std::pow(10.0, gap(rng)) * (std::fabs(a) + 1);
        x[i] = T(a), y[i] = T(ud(rng) < 0.2 ? -a : a + d);
      }
      y[(off + 3) % N] = x[(off + 3) % N];  // equal logits: KL 0, gradient -0
      for (std::size_t s = 0; s < specials.size(); ++s) (s % 2 ? y : x)[(off + 7 * s) % N] = specials[s];
      const T g = T(0.375);
      std::vector<T> kl(N), gr(N), k0(N), io(N);
      k.binary_kl_divergence(x.data(), y.data(), N, g, kl.data(), gr.data(), temp);
      k.binary_kl_divergence(x.data(), y.data(), N, g, k0.data(), nullptr, temp);
      bool ok = same_bits(kl.data(), k0.data(), N);
      io = x;  // the values in place of p
      k.binary_kl_divergence(io.data(), y.data(), N, g, io.data(), k0.data(), temp);
      ok = ok && same_bits(io.data(), kl.data(), N) && same_bits(k0.data(), gr.data(), N);
      io = y;  // the gradient in place of q
      k.binary_kl_divergence(x.data(), io.data(), N, g, k0.data(), io.data(), temp);
      ok = ok && same_bits(io.data(), gr.data(), N) && same_bits(k0.data(), kl.data(), N);
      for (std::size_t i = 0; i < N && ok; ++i) {
        T k1, g1;
        k.binary_kl_divergence(x.data() + i, y.data() + i, 1, g, &k1, &g1, temp);
        ok = same_bits(&k1, &kl[i], 1) && same_bits(&g1, &gr[i], 1);
        T ks, gs;  // the scalar ISA runs binary_kl_one on every pair
        ref.binary_kl_divergence(x.data() + i, y.data() + i, 1, g, &ks, &gs, temp);
        if (std::isnan(ks)) {
          ok = ok && std::isnan(kl[i]) && std::isnan(gr[i]);
          continue;
        }
        worst_k = std::fmax(worst_k, ulps(kl[i], (long double)ks));
        if (std::fabs(gs) >= std::numeric_limits<T>::min()) worst_g = std::fmax(worst_g, ulps(gr[i], (long double)gs));
        else ok = ok && std::fabs(gr[i] - gs) <= std::numeric_limits<T>::min();
        if (gs == 0) ok = ok && std::signbit(gs) == std::signbit(gr[i]);  // (equal logits: -0, as expm1(-0))
      }
      if (!ok) {
        std::printf("FAIL %s %s binary_kl: a pair differs from itself alone or in place (T=%g, offset %zu)\n", isa,
                    f ? "f32" : "f64", temp, off);
        ++failures;
        return;
      }
    }
  // (from the scalar form, which is within 8 / 16 ulp of mpmath itself)
  check<T>(isa, "binary_kl against its scalar form", worst_k, f ? 8 : 16);
  check<T>(isa, "binary_kl gradient against its scalar form", worst_g, 8);
  std::printf("%s %s: binary_kl %.2f ulp, gradient %.2f ulp from the scalar form\n", isa, f ? "f32" : "f64", worst_k,
              worst_g);
}

// js_divergence in vector lanes (js_lanes) against the scalar ISA's js_row, which keeps the scalar
// form: rows of 2 to 40 entries, 301 (every tail) and 50001, nearly equal rows, rows far apart
// (|r| > 2 and a disjoint entry), -inf (a masked class) at every offset, in either row, huge
// logits, and differences over T that overflow (declined to the scalar form); the value with and
// without the gradient, and with the gradient written over y, must keep its bits.
template <class T>
void test_js_lanes(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const auto& ref = detail::table_scalar()->get<T>();
  const bool f = sizeof(T) == 4;
  const T inf = std::numeric_limits<T>::infinity(), huge = std::numeric_limits<T>::max() / T(2);
  std::mt19937_64 rng(21);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  double worst_j = 0, worst_g = 0;
  std::size_t rows = 0;
  for (const double temp : {1.0, 0.3, 7.0})
    for (std::size_t n = 1; n <= 42; ++n)
      for (int kind = 0; kind < 8; ++kind) {
        // (50001: longer than js_scratch_max, each pass computing its entries again)
        const std::size_t len = n == 41 ? 301 : n == 42 ? 50001 : n;
        if (len < 2 || (len == 50001 && kind != 0 && kind != 3)) continue;  // (the long row: its own path)
        std::vector<T> x(len), y(len);
        const double spread = kind == 2 ? 8.0 : 3.0, gap = kind == 0 ? 1e-9 : kind == 1 ? 1e-3 : 1.0;
        for (std::size_t i = 0; i < len; ++i) {
          x[i] = T(nd(rng) * spread);
          y[i] = T(double(x[i]) + 5.0 + gap * nd(rng) * (kind == 2 ? 4.0 : 1.0));
        }
        const std::size_t at = (len * 7 + kind) % len;
        if (kind == 3) x[at] = -inf;                        // p_i = 0
        if (kind == 4) y[at] = -inf;                        // q_i = 0
        if (kind == 5) x[at] = -inf, y[(at + 1) % len] = -inf, y[at] = T(40);  // both, and q's mass at x's -inf
        if (kind == 5 && len > 3) x[(at + 2) % len] = -huge;  // (x_i - max x)/T overflows below 1
        if (kind == 6) x[at] = huge;  // one entry holds all of P, its logit far above the others'
        if (kind == 7) y[at] = -huge, x[(at + 1) % len] = T(1e-30);  // and Q nothing there; a tiny logit
        const T g = T(0.625);
        std::vector<T> gr(len), gs(len), io = y;
        const T js = k.js_divergence(x.data(), y.data(), len, g, gr.data(), temp);
        const T j0 = k.js_divergence(x.data(), y.data(), len, g, nullptr, temp);
        const T j1 = k.js_divergence(x.data(), io.data(), len, g, io.data(), temp);
        const T jr = ref.js_divergence(x.data(), y.data(), len, g, gs.data(), temp);
        ++rows;
        if (!same_bits(&js, &j0, 1) || !same_bits(&js, &j1, 1) || !same_bits(io.data(), gr.data(), len) ||
            std::isnan(js) != std::isnan(jr)) {
          std::printf("FAIL %s %s js_divergence: n=%zu kind %d T=%g: bits differ with the gradient or in place\n", isa,
                      f ? "f32" : "f64", len, kind, temp);
          ++failures;
          return;
        }
        if (std::isnan(jr)) continue;
        worst_j = std::fmax(worst_j, ulps(js, (long double)jr));
        // the gradient's bound is absolute, 2·2^-24/T or 2·2^-53/T (docs/numerics.md)
        const double eps = f ? 0x1p-24 : 0x1p-53;
        for (std::size_t i = 0; i < len; ++i) {
          worst_g = std::fmax(worst_g, std::fabs(double(gr[i]) - double(gs[i])) / (double(g) * eps / temp));
          if (y[i] == -inf && !(gr[i] == T(0) && !std::signbit(gr[i]))) {  // q_i = 0: +0, as the scalar form
            std::printf("FAIL %s %s js_divergence: gradient %g where q = 0 (n=%zu)\n", isa, f ? "f32" : "f64",
                        double(gr[i]), len);
            ++failures;
            return;
          }
        }
      }
  // (each form within a few ulp of mpmath, tests/test_divergence.py; the gradients within the
  // bound 2·2^-p·g/T of it)
  check<T>(isa, "js_divergence against its scalar form", worst_j, f ? 2 : 8);
  check<T>(isa, "js_divergence gradient against its scalar form (2^-p·g/T)", worst_g, 2);
  std::printf("%s %s: js_divergence %.2f ulp, gradient %.2f·2^-p·g/T from the scalar form (%zu rows)\n", isa,
              f ? "f32" : "f64", worst_j, worst_g, rows);
}

template <class T>
void test_lane_isolation(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const bool f = sizeof(T) == 4;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const T out = f ? T(100) : T(800), just = f ? T(88.5) : T(709.5), huge = std::numeric_limits<T>::max();
  const T sub = std::numeric_limits<T>::denorm_min();
  const std::vector<T> firsts = {nan, inf, -inf, out, -out, just, -just, T(-1e5), huge, sub};
  const std::vector<T> seconds = {nan, inf, T(-1e5)};
  std::vector<int> offsets;
  for (int d : {1, 4, 8, 12, 16, 24, 32, 48}) offsets.push_back(d), offsets.push_back(-d);  // (1: scalar pairs)
  constexpr std::size_t N = 64;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd;
  std::vector<T> base(N), tgt(N), pw(N), wt(N);
  for (auto& v : base) v = T(nd(rng) * 4.0);
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  for (auto& v : tgt) v = T(ud(rng));
  for (auto& v : pw) v = T(0.5 + std::fabs(nd(rng)));
  for (auto& v : wt) v = T(0.5 + std::fabs(nd(rng)));
  // each value alone: lane 0 of a vector of zeros (the others ordinary), one array of N per value
  auto alone = [&](void (*fn)(const T*, T*, std::size_t), T v) {
    std::vector<T> a(N, T(0)), r(N);
    a[0] = v;
    fn(a.data(), r.data(), N);
    return r[0];
  };
  auto bce_alone = [&](T v, std::size_t i, T eps, T& l, T& g) {
    std::vector<T> a(N, T(0)), y(N, T(0)), p(N, T(1)), w(N, T(1)), lo(N), gr(N);
    a[0] = v, y[0] = tgt[i], p[0] = pw[i], w[0] = wt[i];
    const bool plain = eps == T(0);
    k.bce_with_logits(a.data(), y.data(), plain ? nullptr : p.data(), plain ? nullptr : w.data(), eps, T(1),
                      lo.data(), gr.data(), N, nullptr, nullptr);
    l = lo[0], g = gr[0];
  };
  struct Fn { const char* name; void (*fn)(const T*, T*, std::size_t); };
  const Fn fns[] = {{"sigmoid", k.sigmoid}, {"log_sigmoid", k.log_sigmoid}, {"softplus", k.softplus}};
  // per-entry references of the base array
  std::vector<T> ref[3], bl[2], bg[2];
  for (int q = 0; q < 3; ++q) {
    ref[q].resize(N);
    for (std::size_t i = 0; i < N; ++i) ref[q][i] = alone(fns[q].fn, base[i]);
  }
  for (int q = 0; q < 2; ++q) {
    bl[q].resize(N), bg[q].resize(N);
    for (std::size_t i = 0; i < N; ++i) bce_alone(base[i], i, q ? T(0.1) : T(0), bl[q][i], bg[q][i]);
  }
  // rows: a batch of 3 rows (clean, special, clean) of each length, hard and soft cross-entropy
  const std::size_t rows = 3;
  int fails = 0;
  auto fail = [&](const char* what, std::size_t i, std::ptrdiff_t j, T a, T b) {
    if (fails++ < 5)
      std::printf("FAIL %s %s %s: lane isolation, %g at %zu and %g at %td\n", isa, f ? "f32" : "f64", what,
                  double(a), i, double(b), j);
  };
  std::vector<T> x(N), y(N), l(N), g(N), ysm(N * rows), ylsm(N * rows), one(N), xr(N * rows), lse(rows);
  std::vector<T> soft(N * rows, T(1) / T(N)), gce(N * rows), gce1(N);
  for (std::size_t i = 0; i < N; ++i) {
    for (T a : firsts) {
      for (int oi = -1; oi < int(offsets.size()); ++oi) {
        const std::ptrdiff_t j = oi < 0 ? -1 : std::ptrdiff_t(i) + offsets[oi];
        if (oi >= 0 && (j < 0 || j >= std::ptrdiff_t(N))) continue;
        for (T b : (oi < 0 ? std::vector<T>{T(0)} : seconds)) {
          x = base;
          x[i] = a;
          if (j >= 0) x[std::size_t(j)] = b;
          auto expect = [&](int q, std::size_t e) {
            return (e == i || std::ptrdiff_t(e) == j) ? alone(fns[q].fn, x[e]) : ref[q][e];
          };
          for (int q = 0; q < 3; ++q) {
            fns[q].fn(x.data(), y.data(), N);
            for (std::size_t e = 0; e < N; ++e) {
              const T r = expect(q, e);
              if (!same_bits(&y[e], &r, 1)) fail(fns[q].name, i, j, a, b);
            }
          }
          for (T eps : {T(0), T(0.1)}) {
            const bool plain = eps == T(0);
            k.bce_with_logits(x.data(), tgt.data(), plain ? nullptr : pw.data(), plain ? nullptr : wt.data(), eps,
                              T(1), l.data(), g.data(), N, nullptr, nullptr);
            for (std::size_t e = 0; e < N; ++e) {
              T le = bl[plain ? 0 : 1][e], ge = bg[plain ? 0 : 1][e];
              if (e == i || std::ptrdiff_t(e) == j) bce_alone(x[e], e, eps, le, ge);
              if (!same_bits(&l[e], &le, 1) || !same_bits(&g[e], &ge, 1)) fail("bce", i, j, a, b);
            }
          }
          // rows of several lengths ending at this array's entries: the special row between clean ones
          // (rows: the pairs whose second value is a NaN or none, in rows of 17 and 64: the row kernels
          // reduce whole rows, so a NaN is the value that can hide another; fewer calls under the
          // sanitizers)
          const bool row_case = oi < 0 || std::isnan(b);
          for (std::size_t n : {std::size_t(17), std::size_t(N)}) {
            if (!row_case || i >= n || j >= std::ptrdiff_t(n)) continue;
            for (std::size_t r = 0; r < rows; ++r)
              for (std::size_t c = 0; c < n; ++c) xr[r * n + c] = r == 1 ? x[c] : base[(c + r) % N];
            k.softmax_rows(xr.data(), ysm.data(), rows, n, 1.0);
            k.log_softmax_rows(xr.data(), ylsm.data(), rows, n, 1.0);
            k.logsumexp_rows(xr.data(), lse.data(), rows, n, 1.0);
            for (std::size_t r = 0; r < rows; ++r) {
              k.softmax(xr.data() + r * n, one.data(), n, 1.0);
              if (!same_bits(one.data(), ysm.data() + r * n, n)) fail("softmax rows", i, j, a, b);
              k.log_softmax(xr.data() + r * n, one.data(), n, 1.0);
              if (!same_bits(one.data(), ylsm.data() + r * n, n)) fail("log_softmax rows", i, j, a, b);
              const T l1 = k.logsumexp(xr.data() + r * n, n, 1.0);
              if (!same_bits(&l1, &lse[r], 1)) fail("logsumexp rows", i, j, a, b);
              if (r != 1) {  // a clean row against the oracle's kind of value: finite, a distribution
                double s = 0;
                for (std::size_t c = 0; c < n; ++c) s += double(ysm[r * n + c]);
                if (!(std::fabs(s - 1) < 1e-5)) fail("softmax clean row", i, j, a, b);
              }
              // cross-entropy of the row (hard label r, soft uniform target), with gradient
              const T lh = k.cross_entropy_hard(xr.data() + r * n, n, std::int64_t(r), nullptr, T(n), T(0.1), T(1),
                                                gce.data() + r * n, 1.0);
              const T lh1 = k.cross_entropy_hard(xr.data() + r * n, n, std::int64_t(r), nullptr, T(n), T(0.1), T(1),
                                                 gce1.data(), 1.0);
              if (!same_bits(&lh, &lh1, 1) || !same_bits(gce1.data(), gce.data() + r * n, n))
                fail("cross_entropy_hard", i, j, a, b);
              const T ls = k.cross_entropy_soft(xr.data() + r * n, soft.data(), n, nullptr, T(0), T(1), gce1.data(), 1.0);
              const bool row_nan = r == 1 && (std::isnan(a) || std::isnan(b) || a == inf || b == inf);
              if (row_nan != std::isnan(ls)) fail("cross_entropy_soft NaN", i, j, a, b);
            }
          }
        }
      }
    }
  }
  if (fails) failures += fails;
  std::printf("%s %s: lane isolation %s\n", isa, f ? "f32" : "f64", fails ? "FAILED" : "ok");
}

// Soft-label cross-entropy of long rows (C = 5000..20000, integer-valued logits, uniform targets):
// Σ_c t_c·(L - d_c) is a sum of C positive terms, which a plain double sum lets drift by tens of
// ulps; the bound of docs/numerics.md ("The bounds") is 8 / 16 ulp per item.
template <class T>
void test_ce_soft_long_rows(const char* isa) {
  const auto& k = active_kernels().get<T>();
  const bool f = sizeof(T) == 4;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> ud(-10, 10);
  double worst = 0;
  for (std::size_t n : {5000u, 12000u, 20000u}) {
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<T> x(n), y(n, T(1) / T(n)), grad(n);
      for (auto& v : x) v = T(ud(rng));
      for (T eps : {T(0), T(0.1)}) {
        for (bool with_grad : {false, true}) {
          const T got = k.cross_entropy_soft(x.data(), y.data(), n, nullptr, eps, T(1), with_grad ? grad.data() : nullptr, 1.0);
          long double m = x[0], S = 0, loss = 0;
          for (T v : x) m = v > m ? v : m;
          for (T v : x) S += std::exp((long double)v - m);
          const long double L = m + std::log(S);
          for (std::size_t i = 0; i < n; ++i)
            loss += ((1.0L - (long double)eps) * (long double)y[i] + (long double)eps / (long double)n) * (L - (long double)x[i]);
          worst = std::fmax(worst, ulps(got, loss));
        }
      }
    }
  }
  check<T>(isa, "cross_entropy soft, long rows", worst, f ? 8 : 16);
  std::printf("%s %s: cross-entropy soft long rows %.2f ulp\n", isa, f ? "f32" : "f64", worst);
}

// softmax_backward with a gradient entry near the largest finite value (either sign, at every
// position): the products g·y are split exactly even where Dekker's splitting (ISAs without FMA)
// overflows (kernels/common.hpp, dekker_err). Every entry finite, within 16 units of 2^-p·Σ|g·y|
// of the long double value y_i·(g_i - Σ g·y).
template <class T>
void test_backward_huge(const char* isa) {
  const auto& k = active_kernels().get<T>();
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd;
  const T mx = std::numeric_limits<T>::max();
  const T huge[] = {mx, T(mx / 2), T(mx / 4097), T(mx / 100000)};
  double worst = 0;
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 8u, 9u, 16u, 17u, 33u}) {
    std::vector<T> x(n), y(n), g(n), out(n);
    for (T h : huge) {
      for (std::size_t pos = 0; pos < n; ++pos) {
        for (auto& v : x) v = T(nd(rng) * 3);
        for (auto& v : g) v = T(nd(rng));
        g[pos] = pos % 2 ? -h : h;
        k.softmax(x.data(), y.data(), n, 1.0);
        k.softmax_backward(g.data(), y.data(), out.data(), n);
        long double dot = 0, scale = 0;
        for (std::size_t i = 0; i < n; ++i) {
          dot += (long double)g[i] * y[i];
          scale += std::fabs((long double)g[i] * y[i]);
        }
        for (std::size_t i = 0; i < n; ++i) {
          const long double exact = (long double)y[i] * ((long double)g[i] - dot);
          double e = 1e30;
          if (std::isfinite(out[i])) {
            const long double unit = 16 * scale * std::numeric_limits<T>::epsilon();
            e = double(std::fabs((long double)out[i] - exact) / unit);
          }
          worst = std::fmax(worst, e);
        }
      }
    }
  }
  check<T>(isa, "softmax_backward huge gradients (units of 16 eps Σ|g·y|)", worst, 1);
}

template <class T>
void test_isa(const char* isa) {
  const auto& k = active_kernels().get<T>();
  std::mt19937_64 rng(42);
  std::normal_distribution<double> nd;
  double w_lsm = 0, w_sm = 0, w_lse = 0, w_sig = 0, w_lsig = 0, w_sp = 0;
  for (std::size_t n : {1u, 2u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 64u, 100u, 1000u, 4099u}) {
    for (double scale : {1.0, 10.0, 1000.0}) {
      std::vector<T> x(n), y(n);
      for (auto& v : x) v = T(nd(rng) * scale);
      long double m = x[0];
      for (T v : x) m = v > m ? v : m;
      // S = k + S' with the max entries counted apart, L = log1p(S') when k = 1
      // (docs/numerics.md, "Where the textbook formulas lose accuracy", point 1):
      // log(S) in long double would round the top entry's tiny log-probability to 0.
      long double Sp = 0, kk = 0;
      for (T v : x) {
        if (v == m) kk += 1;
        else Sp += std::exp((long double)v - m);
      }
      const long double S = kk + Sp;
      const long double L = kk == 1 ? std::log1p(Sp) : std::log(S);
      k.log_softmax(x.data(), y.data(), n, 1.0);
      for (std::size_t i = 0; i < n; ++i) w_lsm = std::fmax(w_lsm, ulps(y[i], (long double)x[i] - m - L));
      k.softmax(x.data(), y.data(), n, 1.0);
      for (std::size_t i = 0; i < n; ++i) w_sm = std::fmax(w_sm, ulps(y[i], std::exp((long double)x[i] - m) / S));
      w_lse = std::fmax(w_lse, ulps(k.logsumexp(x.data(), n, 1.0), m + L));
      k.sigmoid(x.data(), y.data(), n);
      for (std::size_t i = 0; i < n; ++i) w_sig = std::fmax(w_sig, ulps(y[i], 1.0L / (1.0L + std::exp(-(long double)x[i]))));
      k.log_sigmoid(x.data(), y.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const long double v = x[i];
        w_lsig = std::fmax(w_lsig, ulps(y[i], (v < 0 ? v : 0) - std::log1p(std::exp(-std::fabs(v)))));
      }
      k.softplus(x.data(), y.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const long double v = x[i];
        w_sp = std::fmax(w_sp, ulps(y[i], (v > 0 ? v : 0) + std::log1p(std::exp(-std::fabs(v)))));
      }
    }
  }
  const bool f = sizeof(T) == 4;
  check<T>(isa, "log_softmax", w_lsm, f ? 4 : 8);
  check<T>(isa, "softmax", w_sm, f ? 4 : 8);
  check<T>(isa, "logsumexp", w_lse, f ? 3 : 8);
  check<T>(isa, "sigmoid", w_sig, f ? 3 : 4);
  check<T>(isa, "log_sigmoid", w_lsig, f ? 3 : 4);
  check<T>(isa, "softplus", w_sp, f ? 3 : 4);
  // Known values (docs/numerics.md, "Known values").
  const T a[2] = {T(0), T(-40)};
  const T lse = k.logsumexp(a, 2, 1.0);
  if (!(ulps(lse, 4.248354255291589e-18L) <= 3)) {
    std::printf("FAIL %s logsumexp([0,-40]) = %.17g\n", isa, double(lse));
    ++failures;
  }
  const T b[1] = {T(-750)};
  T out;
  k.log_sigmoid(b, &out, 1);
  if (!(out == T(-750) || (f && std::isinf(out) == false && out == T(-750)))) {
    std::printf("FAIL %s log_sigmoid(-750) = %.17g\n", isa, double(out));
    ++failures;
  }
  std::printf("%s %s: log_softmax %.2f, softmax %.2f, logsumexp %.2f, sigmoid %.2f, log_sigmoid %.2f, softplus %.2f ulp\n",
              isa, f ? "f32" : "f64", w_lsm, w_sm, w_lse, w_sig, w_lsig, w_sp);
  test_ce_cancellation<T>(isa);
  test_rows_same_bits<T>(isa);
  test_ce_hard_rows<T>(isa);
  test_entropy_rows<T>(isa);
  test_binary_entropy_lanes<T>(isa);
  test_binary_kl_lanes<T>(isa);
  test_js_lanes<T>(isa);
  test_lane_isolation<T>(isa);
  test_ce_soft_long_rows<T>(isa);
  test_backward_huge<T>(isa);
}

// ------------------------------------------------------------ float16 / bfloat16 conversions
// Oracles independent of the kernels' code: a 16-bit pattern's value from its fields (ldexp, exact),
// and a float rounded to the 16-bit format by dividing by the format's quantum at its binade (exact:
// a power of two) and rounding to the nearest integer, ties to even (nearbyint, default mode).
std::uint32_t float_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
// 16-bit pattern -> the float32 bits it must widen to (NaN: quieted, payload kept).
std::uint32_t widen_oracle(std::uint16_t h, bool bf16) {
  const int mant_bits = bf16 ? 7 : 10, exp_bits = bf16 ? 8 : 5, bias = bf16 ? 127 : 15;
  const std::uint32_t sign = std::uint32_t(h >> 15) << 31;
  const std::uint32_t e = (h >> mant_bits) & ((1u << exp_bits) - 1), m = h & ((1u << mant_bits) - 1);
  if (e == (1u << exp_bits) - 1) return sign | 0x7f800000u | (m << (23 - mant_bits)) | (m ? 0x400000u : 0u);
  const double v = e == 0 ? std::ldexp(double(m), 1 - bias - mant_bits)
                          : std::ldexp(double(m + (1u << mant_bits)), int(e) - bias - mant_bits);
  return sign | float_bits(float(v));  // exact: every such value is a float
}
// float -> the 16-bit pattern it must narrow to.
std::uint16_t narrow_oracle(float f, bool bf16) {
  const std::uint32_t b = float_bits(f);
  const int mant_bits = bf16 ? 7 : 10, bias = bf16 ? 127 : 15;
  const std::uint16_t sign = std::uint16_t((b >> 31) << 15);
  if (std::isnan(f))  // quiet, the payload's top bits
    return std::uint16_t(sign | (bf16 ? 0x7fc0u | ((b >> 16) & 0x7fu) : 0x7e00u | ((b >> 13) & 0x3ffu)));
  const std::uint32_t inf = ((1u << (bf16 ? 8 : 5)) - 1) << mant_bits;
  if (std::isinf(f)) return std::uint16_t(sign | inf);
  const double a = std::fabs(double(f));
  const double min_normal = std::ldexp(1.0, 1 - bias);
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const int E = a < min_normal ? 1 - bias : e - 1;
  const double q = std::ldexp(1.0, E - mant_bits);
  const double r = std::nearbyint(a / q);
  if (a < min_normal) return std::uint16_t(sign | std::uint32_t(r));  // r = 2^mant_bits: the smallest normal
  const std::uint32_t bits = (std::uint32_t(E + bias) << mant_bits) + (std::uint32_t(r) - (1u << mant_bits));
  return std::uint16_t(sign | (bits > inf ? inf : bits));  // past the largest: infinity
}

// Every 16-bit pattern widened, and floats at every rounding boundary narrowed, contiguous (the
// vector path and its tail) and strided (the scalar path), against the oracles.
void test_conversions(const char* isa) {
  const Conversions& c = active_kernels().convert;
  for (const bool bf16 : {false, true}) {
    const char* what = bf16 ? "bfloat16" : "float16";
    std::vector<std::uint16_t> h(65536 + 3);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = std::uint16_t(i);
    std::vector<float> out(h.size()), out_s(h.size());
    (bf16 ? c.bf16_to_float : c.half_to_float)(h.data(), 2, out.data(), h.size());
    // every other pattern, at a stride of 4 bytes
    (bf16 ? c.bf16_to_float : c.half_to_float)(h.data(), 4, out_s.data(), h.size() / 2);
    int bad = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
      const std::uint32_t want = widen_oracle(h[i], bf16);
      if (float_bits(out[i]) != want || (i < h.size() / 2 && float_bits(out_s[i]) != widen_oracle(h[2 * i], bf16))) {
        if (bad++ < 3) std::printf("FAIL %s widen %s 0x%04x: 0x%08x, want 0x%08x\n", isa, what, unsigned(h[i]), float_bits(out[i]), want);
      }
    }
    // floats: every pattern whose low bits sit at or next to a rounding boundary of the format
    // (ties, one below, one above, exact), over every high part; then random patterns
    const int drop = bf16 ? 16 : 13;
    const std::uint32_t lows[] = {0u, 1u, (1u << (drop - 1)) - 1, 1u << (drop - 1), (1u << (drop - 1)) + 1, (1u << drop) - 1};
    std::vector<float> f;
    for (std::uint32_t hi = 0; hi < (1u << (32 - drop)); ++hi)
      for (const std::uint32_t lo : lows) {
        const std::uint32_t b = (hi << drop) | lo;
        float v;
        std::memcpy(&v, &b, 4);
        f.push_back(v);
      }
    std::mt19937 rng(7);
    for (int i = 0; i < 200003; ++i) {
      const std::uint32_t b = rng();
      float v;
      std::memcpy(&v, &b, 4);
      f.push_back(v);
    }
    std::vector<std::uint16_t> n16(f.size()), n16_s(2 * f.size());
    (bf16 ? c.float_to_bf16 : c.float_to_half)(f.data(), n16.data(), 2, f.size());
    (bf16 ? c.float_to_bf16 : c.float_to_half)(f.data(), n16_s.data(), 4, f.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::uint16_t want = narrow_oracle(f[i], bf16);
      if (n16[i] != want || n16_s[2 * i] != want) {
        if (bad++ < 6)
          std::printf("FAIL %s narrow %s 0x%08x: 0x%04x (strided 0x%04x), want 0x%04x\n", isa, what, float_bits(f[i]),
                      unsigned(n16[i]), unsigned(n16_s[2 * i]), unsigned(want));
      }
    }
    if (bad) ++failures;
    std::printf("%s %s conversions: 65536 patterns widened, %zu floats narrowed, %d wrong\n", isa, what, f.size(), bad);
  }
}

}  // namespace

int main() {
  for (const auto& isa : simd_targets_available()) {
    std::string err;
    if (!set_simd_target(isa, &err)) {
      std::printf("FAIL cannot select %s: %s\n", isa.c_str(), err.c_str());
      return 1;
    }
    test_isa<float>(isa.c_str());
    test_isa<double>(isa.c_str());
    test_conversions(isa.c_str());
  }
  std::printf("%s\n", failures ? "FAILED" : "all kernel tests passed");
  return failures ? 1 : 0;
}
