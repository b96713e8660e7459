// The divergences' φ(u) = e^u - 1 - u in vector lanes, the part of e^u they need without the
// cancellation of e^u - 1 - u (kernels/divergence.hpp, kernels/binary_divergence.hpp).
#pragma once
#include "../simd/isa_namespace.hpp"

#include "common.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

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
// (Horner's steps unrolled at compile time, each coefficient a constant of the lane type: a loop
// over the table is not always unrolled, and then converts and broadcasts every coefficient per call.)
template <class D, int J, int DEG>
LOGITKIT_INLINE inline D phi_horner(D p, D u) {
  if constexpr (J < 0) {
    return p;
  } else {
    using S = scalar_t<D>;
    constexpr S cj = S(PhiTaylor<DEG>{}.c[J]);
    return phi_horner<D, J - 1, DEG>(mul_add(p, u, D::set1(cj)), u);
  }
}
template <class D, int DEG>
LOGITKIT_INLINE inline D phi_taylor(D u) {
  using S = scalar_t<D>;
  constexpr S top = S(PhiTaylor<DEG>{}.c[DEG]);
  return phi_horner<D, DEG - 1, DEG>(D::set1(top), u) * (u * u);
}
template <class D, class T>
LOGITKIT_INLINE inline D phi_small(D u) {
  return phi_taylor<D, sizeof(T) == 4 ? 9 : 16>(u);
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
