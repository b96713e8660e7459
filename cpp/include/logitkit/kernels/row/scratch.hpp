// A per-thread scratch row for kernels that keep a row's intermediate values between passes.
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
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
  // get()'s buffer starts on a 64-byte boundary: a vector of 64 bytes (AVX-512) at a multiple of
  // 64 bytes from it spans one cache line, not two (malloc promises only alignof(max_align_t), 16
  // bytes on x86-64).
  static constexpr std::size_t kAlign = 64;
  RowScratch() = default;
  RowScratch(const RowScratch&) = delete;
  RowScratch& operator=(const RowScratch&) = delete;
  ~RowScratch() { std::free(raw_); }
  T* get(std::size_t n) {
    if (n <= cap_) return p_;
    std::free(raw_);
    raw_ = nullptr;
    p_ = nullptr;
    cap_ = 0;
    constexpr std::size_t max_n = (std::numeric_limits<std::size_t>::max() - kAlign) / sizeof(T);
    if (n > max_n) return nullptr;
    raw_ = std::malloc(n * sizeof(T) + kAlign - 1);
    if (!raw_) return nullptr;
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(raw_);
    p_ = reinterpret_cast<T*>((a + kAlign - 1) & ~std::uintptr_t(kAlign - 1));
    cap_ = n;
    return p_;
  }
  void release_if_large() {
    if (cap_ * sizeof(T) <= kKeepBytes) return;
    std::free(raw_);
    raw_ = nullptr;
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  void* raw_ = nullptr;
  T* p_ = nullptr;
  std::size_t cap_ = 0;
};

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
