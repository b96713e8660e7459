// The kernels' double-lane log(k + S') (math/log.hpp, log_k_plus) against long double, header-only
// for the ISA of the compiler flags:
//  - with every term of log1p_unit's series: within 2 ulp of double;
//  - with the terms the short-row kernels take for the L of float rows (math::log_terms_for_float):
//    within 2^-40 of the result, the margin kernels/row/short_rows.hpp (short_log) relies on.
// Both on log1p(S') itself (k = 1, S' <= 1: the relative accuracy a confident row's top output
// needs, S' down to 2^-80) and on log(k + S') up to rows of 64. Prints one line, exits non-zero on a
// failure. Run by ctest (LOGITKIT_BUILD_TESTS=ON) and, for arm64, under qemu by
// tests/cpp/run_arm64_qemu.sh.
#include <cmath>
#include <cstdio>
#include <vector>

#include "logitkit/header_only.hpp"
#include "logitkit/math/log.hpp"

namespace {

using D = logitkit::simd::LOGITKIT_HEADER_ONLY_SIMD::VD;
namespace math = logitkit::math;

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
  const bool ok = full <= 2 * ulp && for_float <= std::ldexp(1.0L, -40);
  std::printf("%s log_k_plus: every term %.2f ulp of double (bound 2); the float rows' terms 2^%.1f (bound 2^-40)\n",
              LOGITKIT_HEADER_ONLY_NAME, double(full / ulp), double(std::log2(for_float)));
  std::printf("%s\n", ok ? "all math tests passed" : "FAILED");
  return ok ? 0 : 1;
}
