// The kernels' double-lane log(k + S') (math/log.hpp, log_k_plus) against long double, header-only
// for the ISA of the compiler flags:
//  - with every term of log1p_unit's series: within 2 ulp of double;
//  - with the terms the short-row kernels take for the L of float rows (math::log_terms_for_float):
//    within 2^-40 of the result, the margin kernels/row/short_rows.hpp (short_log) relies on.
// Both on log1p(S') itself (k = 1, S' <= 1: the relative accuracy a confident row's top output
// needs, S' down to 2^-80) and on log(k + S') up to rows of 64.
// And the sigmoid family's float log1p(e) on [0, 1] (math/log1p.hpp, log1p_exp_term: the polynomial
// where the ISA has FMA, else log1p_unit) against double, on 2^16 floats of every binade and the
// 2^20 floats below 1: within 1.3 ulp (the polynomial's measured worst over every float in [0, 1]
// is 1.243).
// And the float KL kernel's φ(u) = e^u - 1 - u on [-1, 2] (kernels/divergence.hpp, phi_fit_f) against
// expm1(u) - u in double, on 2^16 floats of every binade from 2^-40 to 1 (both signs) and to 2, and
// the 2^20 floats above -1 and below 1 and 2: within 3.1·2^-24 relatively with FMA (the worst over
// every such float is 2.975, at u = 1.948, which this sample holds), 4·2^-24 without.
// And two pieces of the float KL kernel's sums: acc_add_mem(acc, p) gives the bits of
// acc_add(acc, V::load(p)) (values of every magnitude, subnormals and zeros of both signs), and
// RowScratch::get returns a buffer on a 64-byte boundary, for every size asked, after a growth too.
// And CompensatedSum (kernels/row/basics.hpp) on sums of either sign that cancel, and the entropy
// kernel's log1p (math/libm.hpp, log1p_nonneg) within 4 ulp of double.
// Prints its lines, exits non-zero on a failure (77: this CPU lacks the ISA). Run by
// ctest (LOGITKIT_BUILD_TESTS=ON) and, for arm64, under qemu by
// tests/cpp/run_arm64_qemu.sh.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "logitkit/header_only.hpp"
#include "logitkit/math/log.hpp"
#include "logitkit/math/log1p.hpp"
#include "logitkit/kernels/divergence.hpp"

#include "compiled_isa.hpp"

namespace {

using D = logitkit::simd::LOGITKIT_HEADER_ONLY_SIMD::VD;
using F = logitkit::simd::LOGITKIT_HEADER_ONLY_SIMD::VF;
namespace math = logitkit::math;

float float_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The largest err(input, output) of a float kernel over the inputs v, a vector at a time (v is padded
// with 0.5 to whole vectors); NaN as soon as one error is NaN.
template <class Kernel, class Err>
double worst_over(std::vector<float> v, Kernel kernel, Err err) {
  constexpr std::size_t W = std::size_t(F::size);
  while (v.size() % W) v.push_back(0.5f);
  double w = 0;
  for (std::size_t i = 0; i < v.size(); i += W) {
    alignas(64) float out[W];
    store(out, kernel(F::load(v.data() + i)));
    for (std::size_t l = 0; l < W; ++l) {
      const double e = err(v[i + l], out[l]);
      if (std::isnan(e)) return e;
      if (e > w) w = e;
    }
  }
  return w;
}

// The largest error of log1p_exp_term<F> in ulps of the float result (its spacing at the double
// value), over floats e in [0, 1].
double worst_log1p_float() {
  std::vector<float> e;
  for (int b = 0; b < 127; ++b)  // the binade [2^(b-127), 2^(b-126)) (0: the subnormals): 2^16 floats
    for (std::uint32_t j = 0; j < (1u << 23); j += 1u << 7) e.push_back(float_bits(std::uint32_t(b) << 23 | j));
  for (std::uint32_t j = 0; j < (1u << 20); ++j) e.push_back(float_bits((126u << 23) | ((1u << 23) - 1 - j)));
  e.push_back(1.0f);
  e.push_back(0.0f);
  return worst_over(
      e, [](F v) { return math::log1p_exp_term(v); },
      [](float in, float out) {
        const double exact = std::log1p(double(in));
        const float r = float(exact);
        const double ulp = double(std::nextafter(r, INFINITY)) - double(r);
        return exact == 0 ? (out == 0 ? 0 : INFINITY) : std::fabs(double(out) - exact) / ulp;
      });
}

// φ(u) = e^u - 1 - u in double: its Taylor series where expm1(u) - u would cancel.
double phi_exact(double u) {
  if (std::fabs(u) >= 1e-3) return std::expm1(u) - u;
  double term = 0.5, sum = 0;
  for (int j = 0; j < 8; ++j, term *= u / (j + 2)) sum += term;  // term: u^j/(j + 2)! at each sum
  return sum * u * u;
}

// The largest relative error of phi_fit_f<F> over floats u in [-1, 2] with |u| >= 2^-40 (below,
// u² leaves float's normal range).
double worst_phi_float() {
  std::vector<float> u;
  for (int b = 127 - 40; b < 128; ++b)  // the binade [2^(b-127), 2^(b-126)): 2^16 floats, both signs up to 1
    for (std::uint32_t j = 0; j < (1u << 23); j += 1u << 7) {
      const float v = float_bits(std::uint32_t(b) << 23 | j);
      u.push_back(v);
      if (b < 127) u.push_back(-v);
    }
  for (std::uint32_t j = 0; j < (1u << 20); ++j) {
    const float below1 = float_bits((126u << 23) | ((1u << 23) - 1 - j));
    u.push_back(below1);  // just below 1
    u.push_back(-below1);  // just above -1
    u.push_back(float_bits((127u << 23) | ((1u << 23) - 1 - j)));  // just below 2
  }
  u.push_back(-1.0f);
  u.push_back(1.0f);
  u.push_back(2.0f);
  const auto rel = [](float in, float out) {
    const double exact = phi_exact(double(in));
    return std::fabs(double(out) - exact) / exact;
  };
  return worst_over(u, [](F v) { return logitkit::kernels::phi_fit_f(v); }, rel) * 0x1p24;
}

// acc_add_mem against acc_add of the loaded vector: the same sum, bit for bit, over values that span
// float's range; and one vector of values near 1 alone, whose double sum is exact, so that a lane
// dropped or added twice shows (the wide values' sum could absorb a small one).
bool acc_add_mem_same() {
  constexpr std::size_t W = std::size_t(F::size);
  std::vector<float> v;
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < 64 * W; ++i) {
    state = state * 1664525u + 1013904223u;
    v.push_back(float_bits(state & 0xff7fffffu));  // every sign and fraction, no inf or NaN
  }
  v[0] = 0.0f, v[W - 1] = -0.0f, v[W] = float_bits(1), v[2 * W - 1] = float_bits(0x80000001u);
  auto a = acc_make(F::zero()), b = acc_make(F::zero());
  for (std::size_t i = 0; i < v.size(); i += W) {
    acc_add(a, F::load(v.data() + i));
    acc_add_mem(b, v.data() + i);
  }
  // the vector near 1, against long double
  std::vector<float> w(W);
  for (std::size_t l = 0; l < W; ++l) w[l] = 1.0f + float(l) * 0x1p-20f;
  auto c = acc_make(F::zero());
  acc_add_mem(c, w.data());
  long double exact = 0;
  for (std::size_t l = 0; l < W; ++l) exact += (long double)w[l];
  const double sa = acc_sum(a), sb = acc_sum(b);
  return std::memcmp(&sa, &sb, sizeof sa) == 0 && (long double)acc_sum(c) == exact;
}

// RowScratch::get's buffers start on a 64-byte boundary and hold what was asked (every entry
// written: the sanitizer run checks the bounds).
bool scratch_aligned() {
  const auto on_line = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; };
  bool ok = true;
  logitkit::kernels::RowScratch<float> sf;
  logitkit::kernels::RowScratch<double> sd;
  for (std::size_t n : {1, 3, 16, 17, 1000, 4097, 70000, 300001}) {
    float* pf = sf.get(n);
    double* pd = sd.get(n);
    ok = ok && pf && pd && on_line(pf) && on_line(pd);
    if (!ok) break;
    for (std::size_t i = 0; i < n; ++i) pf[i] = float(i), pd[i] = double(i);
    ok = sf.get(n / 2 + 1) == pf;  // a smaller row keeps the buffer
  }
  sf.release_if_large();
  float* again = sf.get(5);
  return ok && again && on_line(again);
}

// CompensatedSum keeps each addition's rounding error whatever the signs: 1 + (-2^54) + 2^54 is 1
// (the first addition's error, 1, is the sum), and so is every order and sign flip of it; and 2000
// terms of mixed sign that cancel to 2^-40 of their size sum within 2^-50 relative.
bool compensated_sums_exact() {
  bool ok = true;
  const double big = std::ldexp(1.0, 54);
  for (double sign : {1.0, -1.0}) {
    const double orders[3][3] = {{1, -big, big}, {-big, 1, big}, {1, big, -big}};
    for (const auto& o : orders) {
      logitkit::kernels::CompensatedSum<D> c;
      for (double v : o) c.add(sign * v);
      ok = ok && c.value() == sign;
    }
  }
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) {
    const double a = std::ldexp(1.0 + i / 1024.0, (i * 37) % 60 - 30);
    v.push_back(a);
    v.push_back(-a * (1 + std::ldexp(1.0, -40)));
  }
  long double exact = 0;
  for (int i = 0; i < 1000; ++i) exact += -(long double)(v[2 * i]) * std::ldexp(1.0L, -40);
  logitkit::kernels::CompensatedSum<D> c;
  for (double x : v) c.add(x);
  return ok && fabsl((c.value() - exact) / exact) <= std::ldexp(1.0L, -50);
}

// log1p_nonneg (math/libm.hpp) against log1pl, in ulps of double: x from 2^-60 to 2^40 (each
// binade at 512 points, plus the doubles next to 2^-53 and 1), 0, +inf and NaN.
double worst_log1p_nonneg() {
  std::vector<double> xs = {0.0, std::ldexp(1.0, -53), std::nextafter(std::ldexp(1.0, -53), 1.0), 1.0,
                            std::nextafter(1.0, 2.0), std::nextafter(1.0, 0.0)};
  for (int e = -60; e < 40; ++e)
    for (int j = 0; j < 512; ++j) xs.push_back(std::ldexp(1.0 + (j + 0.37) / 512.0, e));
  double w = 0;
  for (double x : xs) {
    const double got = math::log1p_nonneg(x);
    const long double exact = log1pl((long double)x);
    int ex;
    std::frexp(double(exact), &ex);
    const double err = exact == 0 ? (got == 0 ? 0.0 : 1e30) : double(fabsl(got - exact) / std::ldexp(1.0L, ex - 53));
    if (!(err <= w)) w = err;
  }
  const double inf = std::numeric_limits<double>::infinity();
  if (math::log1p_nonneg(inf) != inf || !std::isnan(math::log1p_nonneg(std::nan("")))) w = 1e30;
  return w;
}

// The largest relative error of log_k_plus<D, NR> over the (k, S') pairs.
template <int NR>
long double worst(const std::vector<double>& k, const std::vector<double>& s) {
  constexpr std::size_t W = std::size_t(D::size);
  long double w = 0;
  for (std::size_t i = 0; i + W <= k.size(); i += W) {
    alignas(64) double out[W];
    store(out, math::log_k_plus<D, NR>(D::load(k.data() + i), D::load(s.data() + i)));
    for (std::size_t l = 0; l < W; ++l) {
      const long double kk = k[i + l], ss = s[i + l];
      const long double exact = kk == 1 ? log1pl(ss) : logl(kk + ss);
      const long double err = exact == 0 ? fabsl(out[l]) : fabsl((out[l] - exact) / exact);
      if (!(err <= w)) w = err;  // (a NaN result counts as the worst)
      if (std::isnan(out[l])) w = INFINITY;
    }
  }
  return w;
}

}  // namespace

int main() {
  if (!cpu_has_compiled_isa()) {
    std::printf("skipped: this CPU cannot run the header-only %s kernels\n", LOGITKIT_HEADER_ONLY_NAME);
    return 77;
  }
  std::vector<double> k, s;
  const auto add = [&](double kk, double ss) { k.push_back(kk), s.push_back(ss); };
  for (int e = -80; e <= 0; ++e)  // log1p(S') for tiny S': relative accuracy
    for (int j = 0; j < 64; ++j) add(1, std::ldexp(1.0 + j / 64.0, e - 1));
  for (double kk : {1.0, 2.0, 3.0, 5.0, 16.0, 63.0})
    for (int j = 0; j <= 4096; ++j) add(kk, 64.0 * j / 4096.0);
  const std::size_t W = std::size_t(D::size);
  while (k.size() % W) add(1, 0.5);
  const long double full = worst<math::log1p_consts<double>::nR>(k, s);
  const long double for_float = worst<math::log_terms_for_float>(k, s);
  const long double ulp = std::ldexp(1.0L, -52);
  const double lf = worst_log1p_float();
  const double phi = worst_phi_float(), phi_bound = F::has_fma ? 3.1 : 4.0;
  const bool sums = acc_add_mem_same(), aligned = scratch_aligned(), compensated = compensated_sums_exact();
  const double l1p = worst_log1p_nonneg();
  const bool ok = full <= 2 * ulp && for_float <= std::ldexp(1.0L, -40) && lf <= 1.3 && phi <= phi_bound && sums &&
                  aligned && compensated && l1p <= 4;
  std::printf("%s log_k_plus: every term %.2f ulp of double (bound 2); the float rows' terms 2^%.1f (bound 2^-40)\n",
              LOGITKIT_HEADER_ONLY_NAME, double(full / ulp), double(std::log2(for_float)));
  std::printf("%s log1p_exp_term (float, %s): %.3f ulp (bound 1.3)\n", LOGITKIT_HEADER_ONLY_NAME,
              F::has_fma ? "polynomial" : "log1p_unit", lf);
  std::printf("%s phi_fit_f (float): %.3f x 2^-24 relative (bound %.1f)\n", LOGITKIT_HEADER_ONLY_NAME, phi, phi_bound);
  std::printf("%s acc_add_mem: %s; RowScratch: %s\n", LOGITKIT_HEADER_ONLY_NAME,
              sums ? "the bits of acc_add" : "FAIL, not the bits of acc_add",
              aligned ? "64-byte aligned" : "FAIL, not 64-byte aligned");
  std::printf("%s log1p_nonneg: %.2f ulp of double (bound 4)\n", LOGITKIT_HEADER_ONLY_NAME, l1p);
  std::printf("%s CompensatedSum: %s\n", LOGITKIT_HEADER_ONLY_NAME,
              compensated ? "keeps every rounding error, either sign" : "FAIL, loses rounding errors of some signs");
  std::printf("%s\n", ok ? "all math tests passed" : "FAILED");
  return ok ? 0 : 1;
}
