// C++ kernel tests: every ISA this CPU supports against the scalar path and against a long double
// reference, float and double, on random rows and known values. Prints one line per ISA and exits
// non-zero on any failure. Run by ctest (LOGITKIT_BUILD_TESTS=ON) and, for arm64, under qemu by
// tests/cpp/run_arm64_qemu.sh.
#include <cmath>
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
// within numerics.md's bound: 8 / 16 ulp or 2^-24 / 2^-53 (times max(1, Σa)) absolute.
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
      if (kind == 2) k.cross_entropy_hard(x.data(), n, t, nullptr, T(n), eps, T(1), grad.data());
      else k.cross_entropy_soft(x.data(), y.data(), n, nullptr, eps, T(1), grad.data());
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
  for (std::size_t n : {5u, 16u, 33u, 64u, 100u, 257u, 1025u, 2048u, 2049u, 40000u}) {
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
      // S = k + S' with the max entries counted apart, L = log1p(S') when k = 1 (numerics.md):
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
  // Known values (numerics.md).
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
  }
  std::printf("%s\n", failures ? "FAILED" : "all kernel tests passed");
  return failures ? 1 : 0;
}
