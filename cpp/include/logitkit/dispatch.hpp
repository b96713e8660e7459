// Runtime dispatch: one table of kernel entry points per compiled ISA; the best one this CPU
// supports is chosen once, at first use (or the one named by LOGITKIT_SIMD / set_simd_target).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace logitkit {

template <class T>
struct TypedKernels {
  // Elementwise over n contiguous elements (y may equal x).
  void (*sigmoid)(const T* x, T* y, std::size_t n);
  void (*log_sigmoid)(const T* x, T* y, std::size_t n);
  void (*softplus)(const T* x, T* y, std::size_t n);
  void (*sigmoid_backward)(const T* g, const T* y, T* out, std::size_t n);
  void (*log_sigmoid_backward)(const T* g, const T* x, T* out, std::size_t n);
  // One contiguous row of n (temperature > 0, 1 for none; y may equal x).
  void (*softmax)(const T* x, T* y, std::size_t n, double temperature);
  void (*log_softmax)(const T* x, T* y, std::size_t n, double temperature);
  T (*logsumexp)(const T* x, std::size_t n, double temperature);
  // `rows` contiguous rows of n (row i at x + i·n; y may equal x; logsumexp: out[i]): the same bits
  // as the row kernels row by row, short rows several at a time.
  void (*log_softmax_rows)(const T* x, T* y, std::size_t rows, std::size_t n, double temperature);
  void (*softmax_rows)(const T* x, T* y, std::size_t rows, std::size_t n, double temperature);
  void (*logsumexp_rows)(const T* x, T* out, std::size_t rows, std::size_t n, double temperature);
  void (*softmax_backward)(const T* g, const T* y, T* out, std::size_t n);
  void (*log_softmax_backward)(const T* g, const T* y, T* out, std::size_t n);
  // Losses (kernels/losses.hpp). Cross-entropy of one row of n logits: hard label t (t < 0: ignored
  // row) or soft target y; w: class weights or nullptr; Wsum = Σ w; eps: label smoothing; g: the
  // gradient's scale; grad: nullptr for the loss alone (may equal x). Returns the row's loss.
  T (*cross_entropy_hard)(const T* x, std::size_t n, std::int64_t t, const T* w, T Wsum, T eps, T g, T* grad);
  T (*cross_entropy_soft)(const T* x, const T* y, std::size_t n, const T* w, T eps, T g, T* grad);
  // Binary cross-entropy with logits over n contiguous elements: loss (and grad unless nullptr)
  // from logits x, targets y, pos_weight p, weight w, label smoothing eps; grad is scaled by gscale
  // (the reduction's factor). With loss == nullptr the losses are summed instead of stored: the
  // sum (in double) is returned, NaN if some target is outside [0, 1]; else returns 0.
  double (*bce_with_logits)(const T* x, const T* y, const T* p, const T* w, T eps, T gscale, T* loss, T* grad,
                            std::size_t n);
  // The vector math underneath, exposed for the accuracy tests: exp over the whole range, and
  // log1p on [0, 1] (the only range the kernels use).
  void (*exp)(const T* x, T* y, std::size_t n);
  void (*log1p_unit)(const T* x, T* y, std::size_t n);
};

struct KernelTable {
  const char* name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  template <class T> const TypedKernels<T>& get() const;
};
template <> inline const TypedKernels<float>& KernelTable::get<float>() const { return f32; }
template <> inline const TypedKernels<double>& KernelTable::get<double>() const { return f64; }

// The table in use. Thread-safe; the first call reads LOGITKIT_SIMD.
const KernelTable& active_kernels();
// Name of the ISA in use: "scalar", "sse2", "avx2", "avx512" or "neon".
const char* simd_target();
// ISAs compiled into this build that this CPU supports, lowest first.
std::vector<std::string> simd_targets_available();
// ISAs compiled into this build, lowest first.
std::vector<std::string> simd_targets_compiled();
// Switch to the named ISA. Returns false and fills *error when it is unknown, not compiled, or not
// supported by this CPU.
bool set_simd_target(const std::string& name, std::string* error);
// Non-empty when LOGITKIT_SIMD named an ISA that cannot be used (the best one is used instead).
const std::string& simd_env_error();

namespace detail {
const KernelTable* table_scalar();
const KernelTable* table_sse2();
const KernelTable* table_avx2();
const KernelTable* table_avx512();
const KernelTable* table_neon();
}  // namespace detail

}  // namespace logitkit
