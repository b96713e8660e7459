// A per-thread scratch row for kernels that keep a row's intermediate values between passes.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdlib>
#include <limits>

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// A per-thread scratch row (malloc-based: no std:: container is instantiated under an ISA's flags,
// simd/isa_namespace.hpp). get(n) gives room for n values, nullptr if it cannot be allocated; the
// contents are unspecified. A buffer of at most kKeepBytes is kept for the thread's next row; a
// larger one is freed when the row that needed it is done (release_if_large), so that one huge row
// does not pin its copy for the life of the thread (the rule of cpp/bindings/parallel.hpp's scratch).
template <class T>
class RowScratch {
 public:
  static constexpr std::size_t kKeepBytes = std::size_t(1) << 20;
  RowScratch() = default;
  RowScratch(const RowScratch&) = delete;
  RowScratch& operator=(const RowScratch&) = delete;
  ~RowScratch() { std::free(p_); }
  T* get(std::size_t n) {
    if (n <= cap_) return p_;
    std::free(p_);
    p_ = nullptr;
    cap_ = 0;
    constexpr std::size_t max_n = std::numeric_limits<std::size_t>::max() / sizeof(T);
    if (n > max_n) return nullptr;
    p_ = static_cast<T*>(std::malloc(n * sizeof(T)));
    if (p_) cap_ = n;
    return p_;
  }
  void release_if_large() {
    if (cap_ * sizeof(T) <= kKeepBytes) return;
    std::free(p_);
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  T* p_ = nullptr;
  std::size_t cap_ = 0;
};

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
