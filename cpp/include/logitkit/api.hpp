// logitkit's C++ API: the functions of the Python package over strided views of float or double
// memory. Include <logitkit/logitkit.hpp>, which includes this file.
//
// Layout. A MatrixView is rows × cols elements with a stride (in elements, not bytes) per
// dimension; every row-wise function works along the columns, so the class axis is the column axis.
// Other layouts are strides: (C, N) class-major memory is MatrixView(p, N, C, 1, N). A stride of 0
// repeats one row or column (broadcasting), for inputs only. A VectorView is n elements with a
// stride. Outputs may be exactly their input (same data and strides: in place) or must not overlap it.
//
// Errors. Every function returns a Status and never throws; a function that returns an error has
// written nothing to its outputs (one documented exception: BceOptions::check_targets_after). Status::code
// says what went wrong, Status::argument names the argument, and row/col/value locate the offending
// element where there is one; describe() formats the message, the same text the Python package
// raises for the same error. No function allocates except where a row buffer outgrows Scratch's
// 512-element stack buffer (strided rows longer than 256 elements, 512 for logsumexp), for the
// partial sums of a binary cross-entropy over more than 2^23 elements, for top_k's row buffers
// (one buffer each per call, new(std::nothrow)), and, for an in-place cross-entropy gradient whose
// row needs the cancellation recompute, a per-thread copy of that row (malloc, kept for the
// thread's next row up to 1 MiB: kernels/loss/ce_accurate.hpp; without it the row keeps its
// one-pass gradient). Errc::out_of_memory if one of the others fails.
//
// Threads. The functions keep no state: call them from any number of threads at once (each call
// runs on the calling thread; the kernel table is chosen once, thread-safely, at first use).
//
// Numbers. The same kernels as the Python package (same results, bit for bit, on the same ISA), the
// same special values (docs/numerics.md, "Special values and lane isolation") and the same loss semantics
// (torch.nn.functional's options; docs/semantics.md). Reductions (mean, sum) are summed in
// double: cross-entropy row by row in order, binary cross-entropy in fixed blocks of elements whose
// sums are added in order (the same bits for any split of the blocks between threads). Kernels may set floating-point
// status flags; run them with floating-point traps off (the default).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "dispatch.hpp"
#ifdef LOGITKIT_HEADER_ONLY
#include "header_only.hpp"
#endif

namespace logitkit {

// ------------------------------------------------------------------------------------- status

enum class Errc : int {
  ok = 0,
  null_pointer,      // a view with elements has no data
  shape_mismatch,    // a view's shape does not fit the others
  invalid_argument,  // a scalar option is out of range (temperature, label_smoothing, reduction)
  invalid_label,     // a class label outside [0, C) that is not ignore_index
  invalid_target,    // a target outside its domain (probabilities; soft-label rows that do not sum to 1)
  invalid_weight,    // a negative pos_weight
  out_of_memory,     // the buffer for strided rows could not be allocated
};

struct [[nodiscard]] Status {
  Errc code = Errc::ok;
  const char* argument = "";  // the offending argument ("logits", "target", "temperature", ...)
  const char* what = "";      // the rule it breaks
  bool has_value = false, has_row = false, has_col = false;
  double value = 0;             // the offending value, if has_value
  std::size_t row = 0, col = 0;  // its position (a vector's element index is its row)
  // Errc::invalid_label: the label exactly (value holds it rounded to double; label_unsigned: the
  // bits are a std::uint64_t), the number of classes and the ignore_index it did not equal.
  bool has_label = false, label_unsigned = false;
  std::int64_t label = 0, ignore_index = 0;
  std::size_t classes = 0;

  constexpr bool ok() const noexcept { return code == Errc::ok; }
  constexpr explicit operator bool() const noexcept { return ok(); }
};

inline const char* errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::null_pointer: return "null_pointer";
    case Errc::shape_mismatch: return "shape_mismatch";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::invalid_label: return "invalid_label";
    case Errc::invalid_target: return "invalid_target";
    case Errc::invalid_weight: return "invalid_weight";
    case Errc::out_of_memory: return "out_of_memory";
  }
  return "unknown";
}

// The rules the error messages state, one text per kind of error: the C++ functions put them in
// Status::what, and the Python package raises them through _core.describe_status, so that both
// languages say the same thing (one vocabulary; tests/test_diagnostics.py compares the texts).
namespace messages {
inline constexpr char probabilities_in_unit[] = "probabilities must be in [0, 1]";
inline constexpr char probabilities_not_nan[] = "probabilities must not be NaN";
inline constexpr char probabilities_nonnegative[] = "probabilities must be >= 0";
// describe() writes a row sum as "...; row (i,) sums to S", with the multi-label hint when S > 1
inline constexpr char row_sum[] = "each row of probabilities must sum to 1";
inline constexpr char row_sum_hint[] =
    "; if each input can be in several classes at once, the logits are multi-label: use logitkit.multilabel "
    "(binary_cross_entropy_with_logits)";
inline constexpr char weight_nonnegative[] = "must be >= 0";
inline constexpr char positive_finite[] = "must be a positive finite number";
inline constexpr char unit_interval[] = "must be in [0, 1]";
inline constexpr char distillation_temperature[] =
    "distillation weighs its KL term by T^2, which must be a normal number of the logits' type: "
    "2^-511 <= T <= 2^511 for float64, 2^-63 <= T <= 2^63 for float32";
}  // namespace messages

namespace describe_detail {
// v with the fewest significant digits (%.1g .. %.17g) that read back as v; NaN as "nan". The
// Python package formats the values of its messages by the same rule (_validation.py).
inline void number(double v, char* buf, std::size_t size) noexcept {
  if (std::isnan(v)) {
    std::snprintf(buf, size, "nan");
    return;
  }
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, size, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) return;
  }
}
// "(i,)" or "(i, j, ...)": Python's tuple notation, so that messages read the same in both languages.
inline void position(const std::size_t* idx, std::size_t n, char* buf, std::size_t size) noexcept {
  int k = std::snprintf(buf, size, "(");
  for (std::size_t d = 0; d < n && k >= 0 && std::size_t(k) < size; ++d)
    k += std::snprintf(buf + k, size - std::size_t(k), d ? ", %zu" : "%zu", idx[d]);
  if (k >= 0 && std::size_t(k) < size) std::snprintf(buf + k, size - std::size_t(k), n == 1 ? ",)" : ")");
}
}  // namespace describe_detail

// The offending element's position as indices (returns how many; at most 32): (row) or (row, col),
// or with a shape (0 < ndim <= 32) its row-major index in the view (row·shape[ndim-1] + col, or row)
// as an index into an array of that shape. 0 when the status has no position.
inline std::size_t status_position(const Status& s, std::size_t* idx, const std::size_t* shape = nullptr,
                                   std::size_t ndim = 0) noexcept {
  if (!s.has_row) return 0;
  if (shape && ndim > 0 && ndim <= 32) {
    std::size_t flat = s.has_col ? s.row * shape[ndim - 1] + s.col : s.row;
    for (std::size_t d = ndim; d-- > 0;) {
      idx[d] = shape[d] ? flat % shape[d] : 0;
      flat = shape[d] ? flat / shape[d] : 0;
    }
    return ndim;
  }
  idx[0] = s.row;
  if (!s.has_col) return 1;
  idx[1] = s.col;
  return 2;
}

// describe() with the position given as indices (n of them; Python's tuple notation): the one
// formatter of every message, which the Python package calls through _core.describe_status.
inline int describe_at(const Status& s, const std::size_t* idx, std::size_t n, char* buf, std::size_t size) noexcept {
  if (s.ok()) return std::snprintf(buf, size, "ok");
  char value[48] = "", pos[160] = "";
  const bool has_pos = s.has_row && n > 0;
  if (has_pos) describe_detail::position(idx, n, pos, sizeof pos);
  if (s.code == Errc::invalid_label && s.has_label) {
    char label[32];
    if (s.label_unsigned)
      std::snprintf(label, sizeof label, "%llu", static_cast<unsigned long long>(static_cast<std::uint64_t>(s.label)));
    else
      std::snprintf(label, sizeof label, "%lld", static_cast<long long>(s.label));
    return std::snprintf(buf, size, "%s: label %s at position %s is outside [0, %zu) and is not ignore_index=%lld",
                         s.argument, label, pos, s.classes, static_cast<long long>(s.ignore_index));
  }
  if (s.code == Errc::invalid_target && s.has_value && has_pos && std::strcmp(s.what, messages::row_sum) == 0)
    return std::snprintf(buf, size, "%s: %s; row %s sums to %.6g%s", s.argument, s.what, pos, s.value,
                         s.value > 1.0 ? messages::row_sum_hint : "");
  if (s.has_value) describe_detail::number(s.value, value, sizeof value);
  if (s.has_value && has_pos) return std::snprintf(buf, size, "%s: %s; %s at position %s", s.argument, s.what, value, pos);
  if (s.has_value) return std::snprintf(buf, size, "%s: %s; got %s", s.argument, s.what, value);
  if (has_pos) return std::snprintf(buf, size, "%s: %s at position %s", s.argument, s.what, pos);
  return std::snprintf(buf, size, "%s: %s", s.argument, s.what);
}

// Writes a one-line message into buf (always terminated when size > 0) and returns its full length,
// like snprintf:
//   "target: probabilities must be in [0, 1]; 1.5 at position (2, 0)"
//   "labels: label 3 at position (2,) is outside [0, 3) and is not ignore_index=-100"
//   "target: each row of probabilities must sum to 1; row (1,) sums to 0.8"
//   "temperature: must be a positive finite number; got 0"
// A row sum above 1 adds the hint that the logits may be multi-label (messages::row_sum_hint).
// The position is (row,) for a vector element or a row, (row, col) for a matrix element. With a shape
// (ndim > 0), the element's row-major index in the view (row·shape[ndim-1] + col, or row) is written
// as an index into an array of that shape instead: a caller that flattened an N-d array into the view
// names the element in the array's own terms.
inline int describe(const Status& s, char* buf, std::size_t size, const std::size_t* shape = nullptr,
                    std::size_t ndim = 0) noexcept {
  std::size_t idx[32];
  const std::size_t n = s.has_row ? status_position(s, idx, shape, ndim) : 0;
  return describe_at(s, idx, n, buf, size);
}

// -------------------------------------------------------------------------------------- views

template <class T>
struct VectorView {
  T* data = nullptr;
  std::size_t size = 0;
  std::ptrdiff_t stride = 1;

  constexpr VectorView() noexcept = default;
  constexpr VectorView(T* d, std::size_t n, std::ptrdiff_t s = 1) noexcept : data(d), size(n), stride(s) {}
  // A view of U converts to a view of const U.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  constexpr VectorView(const VectorView<U>& o) noexcept : data(o.data), size(o.size), stride(o.stride) {}

  constexpr T& operator[](std::size_t i) const noexcept { return data[std::ptrdiff_t(i) * stride]; }
  constexpr bool empty() const noexcept { return size == 0; }
};

template <class T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0, cols = 0;
  std::ptrdiff_t row_stride = 0, col_stride = 1;

  constexpr MatrixView() noexcept = default;
  // One contiguous row of n elements.
  constexpr MatrixView(T* d, std::size_t n) noexcept : data(d), rows(1), cols(n), row_stride(std::ptrdiff_t(n)) {}
  // rows × cols, row-major and contiguous.
  constexpr MatrixView(T* d, std::size_t r, std::size_t c) noexcept
      : data(d), rows(r), cols(c), row_stride(std::ptrdiff_t(c)) {}
  // Any strides, in elements.
  constexpr MatrixView(T* d, std::size_t r, std::size_t c, std::ptrdiff_t rs, std::ptrdiff_t cs) noexcept
      : data(d), rows(r), cols(c), row_stride(rs), col_stride(cs) {}
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  constexpr MatrixView(const MatrixView<U>& o) noexcept
      : data(o.data), rows(o.rows), cols(o.cols), row_stride(o.row_stride), col_stride(o.col_stride) {}

  constexpr T& operator()(std::size_t r, std::size_t c) const noexcept {
    return data[std::ptrdiff_t(r) * row_stride + std::ptrdiff_t(c) * col_stride];
  }
  constexpr T* row(std::size_t r) const noexcept { return data + std::ptrdiff_t(r) * row_stride; }
  constexpr std::size_t size() const noexcept { return rows * cols; }
  constexpr bool empty() const noexcept { return rows == 0 || cols == 0; }
};

// Shorthands: view(p, n) is one row, view(p, rows, cols) row-major; vec(p, n, stride) a vector.
template <class T> constexpr MatrixView<T> view(T* p, std::size_t n) noexcept { return {p, n}; }
template <class T> constexpr MatrixView<T> view(T* p, std::size_t rows, std::size_t cols) noexcept {
  return {p, rows, cols};
}
template <class T>
constexpr MatrixView<T> view(T* p, std::size_t rows, std::size_t cols, std::ptrdiff_t rs, std::ptrdiff_t cs) noexcept {
  return {p, rows, cols, rs, cs};
}
template <class T> constexpr VectorView<T> vec(T* p, std::size_t n, std::ptrdiff_t stride = 1) noexcept {
  return {p, n, stride};
}

// ------------------------------------------------------------------------------------ options

enum class Reduction { none, mean, sum };

// Options of cross_entropy (torch.nn.functional.cross_entropy's, plus sample_weight).
template <class T>
struct CrossEntropyOptions {
  VectorView<const T> weight{};         // one weight per class (C), or empty for none
  std::int64_t ignore_index = -100;     // hard labels equal to it count for nothing (not in the mean)
  T label_smoothing = 0;                // ε in [0, 1]: the target becomes (1 - ε)·target + ε/C
  Reduction reduction = Reduction::mean;
  VectorView<const T> sample_weight{};  // one weight per row (N; stride 0 repeats one), or empty
  bool validate = true;                 // soft targets: check they are >= 0 and each row sums to 1
  // T > 0 finite: the loss of z = x/T, the gradient with respect to the raw logits x (dL/dx =
  // (dL/dz)/T); 1 is plain cross-entropy. Computed inside the row kernel (no x/T array).
  double temperature = 1.0;
};

// Options of binary_cross_entropy_with_logits (torch's).
template <class T>
struct BceOptions {
  MatrixView<const T> weight{};      // the logits' shape (strides 0 broadcast a row or a column), or empty
  VectorView<const T> pos_weight{};  // one per class (C; stride 0 repeats one), or empty
  T label_smoothing = 0;             // ε in [0, 1]: the target becomes y·(1 - ε) + ε/2
  Reduction reduction = Reduction::mean;
  bool validate = true;  // check targets are in [0, 1] and pos_weight >= 0
  // One pos_weight per element (the logits' shape; strides 0 broadcast), instead of pos_weight.
  MatrixView<const T> pos_weight_elements{};
  // Mean and sum (none ignores it): check the targets, whatever validate says, without a pass of
  // their own: after the pass over the data and only when the reduced loss is NaN (a target outside
  // [0, 1] makes it NaN), or first when grad is the logits' memory. On Errc::invalid_target grad may
  // then have been written (the one exception to "an error writes nothing").
  bool check_targets_after = false;
  // Per-class temperature T_c > 0 and bias b_c (C values each, finite; stride 0 repeats one; empty:
  // 1 and 0): the loss of z = x/T_c + b_c, the gradient with respect to the raw logits x
  // (dL/dx = (dL/dz)/T_c). Computed in the kernel (loss/bce.hpp, bce_affine; no z array).
  VectorView<const double> temperature{};
  VectorView<const double> bias{};
};

// The tolerance of the soft-target check (each row of probabilities sums to 1 within it) for rows of
// C classes: 1e-3·sqrt(C) when the targets or the logits are float32 or narrower (coarse), else
// 1e-6·sqrt(C). The Python package uses this function too.
inline double soft_target_tolerance(bool coarse, std::size_t C) noexcept {
  return (coarse ? 1e-3 : 1e-6) * std::sqrt(double(C > 1 ? C : 1));
}

// ------------------------------------------------------------------------------- implementation

// The functions live in an inline namespace named after the mode: logitkit::dispatched, or
// logitkit::header_only_<isa> (header_only.hpp). A program may hold translation units of several
// modes without two different definitions of one symbol; callers write logitkit::softmax either way.
#ifdef LOGITKIT_HEADER_ONLY
#define LOGITKIT_API_NAMESPACE LOGITKIT_HEADER_ONLY_NAMESPACE
#else
#define LOGITKIT_API_NAMESPACE dispatched
#endif

inline namespace LOGITKIT_API_NAMESPACE {
namespace detail {

template <class T> struct identity { using type = T; };
template <class T> using id_t = typename identity<T>::type;  // keeps T from being deduced here

template <class T>
constexpr bool is_real_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
inline const TypedKernels<T>& kernels() noexcept {
#ifdef LOGITKIT_HEADER_ONLY
  return header_only_table().template get<T>();
#else
  return active_kernels().get<T>();
#endif
}

inline Status fail(Errc code, const char* argument, const char* what) noexcept {
  Status s;
  s.code = code;
  s.argument = argument;
  s.what = what;
  return s;
}
inline Status fail_at(Errc code, const char* argument, const char* what, double value, std::size_t row,
                      bool has_col = false, std::size_t col = 0) noexcept {
  Status s = fail(code, argument, what);
  s.has_value = s.has_row = true;
  s.value = value;
  s.row = row;
  s.has_col = has_col;
  s.col = col;
  return s;
}

template <class V>
inline bool has_data(const V& v) noexcept {
  return v.data != nullptr || v.size == 0;
}
template <class T>
inline bool has_data(const MatrixView<T>& v) noexcept {
  return v.data != nullptr || v.empty();
}

template <class T, class U>
inline Status same_shape(const MatrixView<T>& ref, const MatrixView<U>& v, const char* name) noexcept {
  if (v.rows != ref.rows || v.cols != ref.cols)
    return fail(Errc::shape_mismatch, name, "must have the shape of the logits (rows x cols)");
  if (!has_data(v)) return fail(Errc::null_pointer, name, "null data for a non-empty view");
  return {};
}

// A buffer for strided rows: on the stack up to 512 elements, else one nothrow allocation.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n) noexcept : p_(n <= kLocal ? local_ : new (std::nothrow) T[n]) {}
  ~Scratch() {
    if (p_ != local_) delete[] p_;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const noexcept { return p_; }

 private:
  static constexpr std::size_t kLocal = 512;
  T local_[kLocal];
  T* p_;
};

// Row r of v as a contiguous pointer: the row itself, or its elements gathered into buf.
template <class T>
inline const T* row_in(const MatrixView<const T>& v, std::size_t r, T* buf) noexcept {
  const T* p = v.row(r);
  if (v.col_stride == 1) return p;
  for (std::size_t c = 0; c < v.cols; ++c) buf[c] = p[std::ptrdiff_t(c) * v.col_stride];
  return buf;
}
// Where to write row r of v: the row itself, or buf (then row_done copies it out).
template <class T>
inline T* row_out(const MatrixView<T>& v, std::size_t r, T* buf) noexcept {
  return v.col_stride == 1 ? v.row(r) : buf;
}
template <class T>
inline void row_done(const MatrixView<T>& v, std::size_t r, const T* buf) noexcept {
  if (v.col_stride == 1) return;
  T* p = v.row(r);
  for (std::size_t c = 0; c < v.cols; ++c) p[std::ptrdiff_t(c) * v.col_stride] = buf[c];
}
template <class T>
inline bool dense(const MatrixView<T>& v) noexcept {
  return v.col_stride == 1 && (v.rows <= 1 || v.row_stride == std::ptrdiff_t(v.cols));
}

constexpr std::size_t kChunk = 256;

// Elementwise y = f(x) over any strides (f may work in place).
template <class T, class F>
inline Status map1(MatrixView<const T> x, MatrixView<T> y, F f) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (!has_data(x)) return fail(Errc::null_pointer, "x", "null data for a non-empty view");
  if (Status s = same_shape(x, y, "out"); !s) return s;
  if (x.empty()) return {};
  if (dense(x) && dense(y)) {
    f(x.data, y.data, x.size());
    return {};
  }
  T buf[kChunk];
  for (std::size_t r = 0; r < x.rows; ++r) {
    const T* xp = x.row(r);
    T* yp = y.row(r);
    if (x.col_stride == 1 && y.col_stride == 1) {
      f(xp, yp, x.cols);
      continue;
    }
    for (std::size_t c0 = 0; c0 < x.cols; c0 += kChunk) {
      const std::size_t m = x.cols - c0 < kChunk ? x.cols - c0 : kChunk;
      for (std::size_t j = 0; j < m; ++j) buf[j] = xp[std::ptrdiff_t(c0 + j) * x.col_stride];
      f(buf, buf, m);
      for (std::size_t j = 0; j < m; ++j) yp[std::ptrdiff_t(c0 + j) * y.col_stride] = buf[j];
    }
  }
  return {};
}

// Elementwise out = f(a, b) over any strides (f may write over a).
template <class T, class F>
inline Status map2(MatrixView<const T> a, MatrixView<const T> b, MatrixView<T> out, const char* bname, F f) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (!has_data(a)) return fail(Errc::null_pointer, "grad", "null data for a non-empty view");
  if (Status s = same_shape(a, b, bname); !s) return s;
  if (Status s = same_shape(a, out, "out"); !s) return s;
  if (a.empty()) return {};
  if (dense(a) && dense(b) && dense(out)) {
    f(a.data, b.data, out.data, a.size());
    return {};
  }
  T ba[kChunk], bb[kChunk];
  for (std::size_t r = 0; r < a.rows; ++r) {
    const T *ap = a.row(r), *bp = b.row(r);
    T* op = out.row(r);
    if (a.col_stride == 1 && b.col_stride == 1 && out.col_stride == 1) {
      f(ap, bp, op, a.cols);
      continue;
    }
    for (std::size_t c0 = 0; c0 < a.cols; c0 += kChunk) {
      const std::size_t m = a.cols - c0 < kChunk ? a.cols - c0 : kChunk;
      for (std::size_t j = 0; j < m; ++j) {
        ba[j] = ap[std::ptrdiff_t(c0 + j) * a.col_stride];
        bb[j] = bp[std::ptrdiff_t(c0 + j) * b.col_stride];
      }
      f(ba, bb, ba, m);
      for (std::size_t j = 0; j < m; ++j) op[std::ptrdiff_t(c0 + j) * out.col_stride] = ba[j];
    }
  }
  return {};
}

inline Status check_temperature(double t) noexcept {
  if (!(t > 0) || !std::isfinite(t)) {
    Status s = fail(Errc::invalid_argument, "temperature", messages::positive_finite);
    s.has_value = true;
    s.value = t;
    return s;
  }
  return {};
}

// Distillation's temperature: the loss is α·T²·KL and its gradient α·T²·(Q - P)/T, with T² formed
// as a number of the logits' type T; past the bounds T² is not a normal number there (it overflows,
// or underflows and loses its digits) while T²·KL has a finite nonzero limit.
template <class T>
inline Status check_distillation_temperature(double t) noexcept {
  if (Status s = check_temperature(t); !s) return s;
  constexpr bool f32 = std::numeric_limits<T>::digits == 24;
  constexpr double lo = f32 ? 0x1p-63 : 0x1p-511, hi = f32 ? 0x1p63 : 0x1p511;
  if (!(t >= lo && t <= hi)) {
    Status s = fail(Errc::invalid_argument, "temperature", messages::distillation_temperature);
    s.has_value = true;
    s.value = t;
    return s;
  }
  return {};
}

template <class T>
inline Status check_smoothing(T eps) noexcept {
  if (!(eps >= T(0) && eps <= T(1))) {
    Status s = fail(Errc::invalid_argument, "label_smoothing", messages::unit_interval);
    s.has_value = true;
    s.value = double(eps);
    return s;
  }
  return {};
}

inline Status check_reduction(Reduction r) noexcept {
  if (r != Reduction::none && r != Reduction::mean && r != Reduction::sum)
    return fail(Errc::invalid_argument, "reduction", "must be Reduction::none, mean or sum");
  return {};
}

// Row-wise y = f(x row, y row, n, temperature).
template <class T, class F>
inline Status rows1(MatrixView<const T> x, MatrixView<T> y, double temperature, F f) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (Status s = check_temperature(temperature); !s) return s;
  if (!has_data(x)) return fail(Errc::null_pointer, "x", "null data for a non-empty view");
  if (Status s = same_shape(x, y, "out"); !s) return s;
  if (x.empty()) return {};
  // Separate buffers for x and y: a strided row takes the same kernel path as a contiguous one
  // (some kernels take another path in place), so strides never change a result.
  const bool strided = x.col_stride != 1 || y.col_stride != 1;
  Scratch<T> scratch(strided ? 2 * x.cols : 0);
  T* buf = scratch.get();
  if (!buf) return fail(Errc::out_of_memory, "x", "no memory for a buffer of one strided row");
  for (std::size_t r = 0; r < x.rows; ++r) {
    const T* xp = row_in(x, r, buf);
    T* yp = row_out(y, r, buf + (strided ? x.cols : 0));
    f(xp, yp, x.cols, temperature);
    row_done(y, r, yp);
  }
  return {};
}

// Valid arguments of contiguous rows, y == x or apart: the rows entries take them a block at a
// time (short rows several per SIMD vector), with the same bits as row by row.
template <class T>
inline bool contiguous_rows(MatrixView<const T> x, MatrixView<T> y, double temperature) noexcept {
  const std::ptrdiff_t c = std::ptrdiff_t(x.cols);
  return x.col_stride == 1 && y.col_stride == 1 && x.row_stride == c && y.row_stride == c && x.data && y.data &&
         x.rows == y.rows && x.cols == y.cols && bool(check_temperature(temperature)) &&
         (static_cast<const void*>(x.data) == static_cast<const void*>(y.data) || x.data + x.size() <= y.data ||
          y.data + y.size() <= x.data);
}

// Row-wise out = f(g row, y row, out row, n).
template <class T, class F>
inline Status rows2(MatrixView<const T> g, MatrixView<const T> y, MatrixView<T> out, F f) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (!has_data(g)) return fail(Errc::null_pointer, "grad", "null data for a non-empty view");
  if (Status s = same_shape(g, y, "y"); !s) return s;
  if (Status s = same_shape(g, out, "out"); !s) return s;
  if (g.empty()) return {};
  const bool strided = g.col_stride != 1 || y.col_stride != 1 || out.col_stride != 1;
  Scratch<T> scratch(strided ? 2 * g.cols : 0);
  T* buf = scratch.get();
  if (!buf) return fail(Errc::out_of_memory, "grad", "no memory for a buffer of one strided row");
  for (std::size_t r = 0; r < g.rows; ++r) {
    const T* gp = row_in(g, r, buf);
    const T* yp = row_in(y, r, buf + (strided ? g.cols : 0));
    T* op = row_out(out, r, buf);  // the kernels read g[i], y[i] before they write out[i]
    f(gp, yp, op, g.cols);
    row_done(out, r, op);
  }
  return {};
}

template <class T>
inline double weight_sum(const VectorView<const T>& w) noexcept {
  double s = 0;
  for (std::size_t i = 0; i < w.size; ++i) s += double(w[i]);
  return s;
}

// Checks shared by the cross-entropy variants.
template <class T>
inline Status ce_common(const MatrixView<const T>& x, const VectorView<T>& loss, const CrossEntropyOptions<T>& o,
                        const MatrixView<T>* grad) noexcept {
  if (!has_data(x)) return fail(Errc::null_pointer, "logits", "null data for a non-empty view");
  if (Status s = check_reduction(o.reduction); !s) return s;
  if (Status s = check_smoothing(o.label_smoothing); !s) return s;
  if (Status s = check_temperature(o.temperature); !s) return s;
  if (!o.weight.empty() && o.weight.size != x.cols)
    return fail(Errc::shape_mismatch, "weight", "must hold one weight per class (the logits' cols)");
  if (!has_data(o.weight)) return fail(Errc::null_pointer, "weight", "null data for a non-empty view");
  if (!o.sample_weight.empty() && o.sample_weight.size != x.rows)
    return fail(Errc::shape_mismatch, "sample_weight", "must hold one weight per row of the logits");
  if (!has_data(o.sample_weight)) return fail(Errc::null_pointer, "sample_weight", "null data for a non-empty view");
  const std::size_t need = o.reduction == Reduction::none ? x.rows : 1;
  if (o.reduction == Reduction::none ? loss.size != need : loss.size < 1)
    return fail(Errc::shape_mismatch, "loss",
                "must hold one element (mean, sum) or one per row of the logits (Reduction::none)");
  if (!has_data(loss)) return fail(Errc::null_pointer, "loss", "null data for a non-empty view");
  if (grad)
    if (Status s = same_shape(x, *grad, "grad"); !s) return s;
  return {};
}

template <class T>
inline void finish(const VectorView<T>& loss, Reduction red, double total, double denom) noexcept {
  if (red == Reduction::sum) loss[0] = T(total);
  if (red == Reduction::mean) loss[0] = denom != 0 ? T(total / denom) : std::numeric_limits<T>::quiet_NaN();
}

// Cross-entropy, hard labels (per row: docs/semantics.md, "Cross-entropy"), row by row.
// Scratch elements for one strided row of logits and one of the gradient (0 when both are contiguous).
template <class T>
inline std::size_t ce_row_buffers(const MatrixView<const T>& x, const MatrixView<T>* grad) noexcept {
  return (x.col_stride != 1 || (grad && grad->col_stride != 1)) ? 2 * x.cols : 0;
}

// The class weights as a contiguous row: the view's data, or copied into wb when strided; null
// when there are none.
template <class T>
inline const T* class_weights(const CrossEntropyOptions<T>& o, T* wb) noexcept {
  if (o.weight.empty()) return nullptr;
  if (o.weight.stride == 1) return o.weight.data;
  for (std::size_t c = 0; c < o.weight.size; ++c) wb[c] = o.weight[c];
  return wb;
}

// The row loop of ce_hard / ce_soft: row i's logits (gathered into buf when strided) and gradient
// row (buf + cols when strided, written back after), g = the reduction's factor times the sample
// weight; row_loss(i, x row, g, gradient row or null) is the kernel call. block(i0, m, g, li), tried
// first for each block of up to ce_block rows, computes rows [i0, i0 + m) at once (li[j]: row
// i0 + j's loss; the same bits as row_loss row by row) or returns false. Then the reduction.
constexpr std::size_t ce_block = 64;
template <class T, class F, class B>
inline void ce_rows(MatrixView<const T> x, VectorView<T> loss, const CrossEntropyOptions<T>& o, MatrixView<T>* grad,
                    double denom, T* buf, F row_loss, B block) noexcept {
  const std::size_t C = x.cols;
  const bool has_sw = !o.sample_weight.empty();
  const double factor = o.reduction == Reduction::mean ? (denom != 0 ? 1.0 / denom : 0.0) : 1.0;
  double total = 0;
  T gs[ce_block], ls[ce_block];
  for (std::size_t i0 = 0; i0 < x.rows; i0 += ce_block) {
    const std::size_t m = x.rows - i0 < ce_block ? x.rows - i0 : ce_block;
    for (std::size_t j = 0; j < m; ++j) gs[j] = T(factor * (has_sw ? double(o.sample_weight[i0 + j]) : 1.0));
    if (C == 0 || !block(i0, m, gs, ls)) {
      for (std::size_t j = 0, i = i0; j < m; ++j, ++i) {
        ls[j] = T(0);
        if (C == 0) continue;
        if (grad) {
          // x gathered into buf, the gradient into buf + C (as for contiguous rows: not in place)
          const T* xp = row_in(x, i, buf);
          T* gp = row_out(*grad, i, buf + C);
          ls[j] = row_loss(i, xp, gs[j], gp);
          row_done(*grad, i, gp);
        } else {
          ls[j] = row_loss(i, row_in(x, i, buf), gs[j], static_cast<T*>(nullptr));
        }
      }
    }
    for (std::size_t j = 0, i = i0; j < m; ++j, ++i) {
      T li = ls[j];
      if (has_sw) li = li * T(double(o.sample_weight[i]));
      if (o.reduction == Reduction::none) loss[i] = li;
      else total += double(li);
    }
  }
  finish(loss, o.reduction, total, denom);
}

template <class T, class L>
inline Status ce_hard(MatrixView<const T> x, VectorView<L> labels, VectorView<T> loss, const CrossEntropyOptions<T>& o,
                      MatrixView<T>* grad) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  static_assert(std::is_integral_v<std::remove_const_t<L>>, "labels are integers");
  if (Status s = ce_common(x, loss, o, grad); !s) return s;
  if (labels.size != x.rows)
    return fail(Errc::shape_mismatch, "labels", "must hold one label per row of the logits");
  if (!has_data(labels)) return fail(Errc::null_pointer, "labels", "null data for a non-empty view");
  const std::size_t N = x.rows, C = x.cols;
  const bool has_w = !o.weight.empty(), has_sw = !o.sample_weight.empty();
  // Labels: every one in [0, C) or ignore_index; Σ w[t]·sw over the counted rows is the mean's denominator.
  double denom = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const auto raw = labels[i];
    const std::int64_t t = static_cast<std::int64_t>(raw);
    const bool fits = !(std::is_unsigned_v<std::remove_const_t<L>> &&
                        static_cast<std::uint64_t>(raw) > std::uint64_t(std::numeric_limits<std::int64_t>::max()));
    if (fits && t == o.ignore_index) continue;
    if (!fits || t < 0 || std::uint64_t(t) >= C) {
      const double v = fits ? double(t) : double(static_cast<std::uint64_t>(raw));
      Status s = fail_at(Errc::invalid_label, "labels", "a label must be in [0, C) or equal ignore_index", v, i);
      s.has_label = true;
      s.label_unsigned = !fits || (std::is_unsigned_v<std::remove_const_t<L>> && t < 0);
      s.label = t;
      s.ignore_index = o.ignore_index;
      s.classes = C;
      return s;
    }
    const double wt = has_w ? double(o.weight[std::size_t(t)]) : 1.0;
    denom += has_sw ? wt * double(o.sample_weight[i]) : wt;
  }
  const bool strided_w = has_w && o.weight.stride != 1;
  Scratch<T> scratch(ce_row_buffers(x, grad) + (strided_w ? C : 0));
  T* buf = scratch.get();
  if (!buf) return fail(Errc::out_of_memory, "logits", "no memory for a buffer of one strided row");
  const T* w = class_weights(o, buf + ce_row_buffers(x, grad));
  const T Wsum = has_w ? T(weight_sum(o.weight)) : T(C);
  const auto& table = kernels<T>();
  const auto f = table.cross_entropy_hard;
  const auto label_at = [&](std::size_t i) {
    const std::int64_t raw = static_cast<std::int64_t>(labels[i]);
    return raw == o.ignore_index ? std::int64_t(-1) : raw;  // validated above
  };
  // a smoothing of -0 is none (+0), as the Python layer passes it: the sign of a zero label entry
  // would otherwise follow the sign of ε
  const T eps = o.label_smoothing + T(0);
  // rows with a gradient, contiguous along the classes, apart from each other and not in place,
  // without class weights, smoothing or temperature: a block at a time (cross_entropy_hard_rows,
  // the same bits)
  const std::ptrdiff_t Cs = std::ptrdiff_t(C);
  const bool by_blocks = grad && !has_w && eps == T(0) && o.temperature == 1.0 && x.col_stride == 1 &&
                         grad->col_stride == 1 &&
                         (grad->row_stride >= Cs || grad->row_stride <= -Cs) &&
                         static_cast<const T*>(grad->data) != x.data;
  const auto block = [&](std::size_t i0, std::size_t m, const T* g, T* li) {
    if (!by_blocks) return false;
    std::int64_t t[ce_block];
    for (std::size_t j = 0; j < m; ++j) t[j] = label_at(i0 + j);
    table.cross_entropy_hard_rows(x.row(i0), x.row_stride, grad->row(i0), grad->row_stride, m, C, t, g, li);
    return true;
  };
  ce_rows(
      x, loss, o, grad, denom, buf,
      [&](std::size_t i, const T* xp, T g, T* gp) {
        return f(xp, C, label_at(i), w, Wsum, eps, g, gp, o.temperature);
      },
      block);
  return {};
}

// Cross-entropy, soft labels (probabilities with the logits' shape).
template <class T>
inline Status ce_soft(MatrixView<const T> x, MatrixView<const T> y, VectorView<T> loss, const CrossEntropyOptions<T>& o,
                      MatrixView<T>* grad) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (Status s = ce_common(x, loss, o, grad); !s) return s;
  if (Status s = same_shape(x, y, "target"); !s) return s;
  const std::size_t N = x.rows, C = x.cols;
  const bool has_w = !o.weight.empty(), has_sw = !o.sample_weight.empty();
  if (o.validate) {
    const double tol = soft_target_tolerance(std::is_same_v<T, float>, C);
    for (std::size_t i = 0; i < N; ++i) {
      double sum = 0;
      for (std::size_t c = 0; c < C; ++c) {
        const T v = y(i, c);
        if (std::isnan(v))
          return fail_at(Errc::invalid_target, "target", messages::probabilities_not_nan, double(v), i, true, c);
        if (v < T(0))
          return fail_at(Errc::invalid_target, "target", messages::probabilities_nonnegative, double(v), i, true, c);
        sum += double(v);
      }
      if (!(std::fabs(sum - 1.0) <= tol))
        return fail_at(Errc::invalid_target, "target", messages::row_sum,
                       sum, i);
    }
  }
  double denom = double(N);
  if (has_sw) {
    denom = 0;
    for (std::size_t i = 0; i < N; ++i) denom += double(o.sample_weight[i]);
  }
  const bool strided_y = y.col_stride != 1, strided_w = has_w && o.weight.stride != 1;
  const std::size_t nb = ce_row_buffers(x, grad);
  Scratch<T> scratch(nb + (strided_y ? C : 0) + (strided_w ? C : 0));
  T* buf = scratch.get();
  if (!buf) return fail(Errc::out_of_memory, "logits", "no memory for a buffer of one strided row");
  T* ybuf = buf + nb;
  const T* w = class_weights(o, ybuf + (strided_y ? C : 0));
  const auto f = kernels<T>().cross_entropy_soft;
  ce_rows(
      x, loss, o, grad, denom, buf,
      [&](std::size_t i, const T* xp, T g, T* gp) {
        return f(xp, row_in(y, i, ybuf), C, w, o.label_smoothing, g, gp, o.temperature);
      },
      [](std::size_t, std::size_t, const T*, T*) { return false; });
  return {};
}

// Binary cross-entropy with logits: one loop over the elements in row-major order, in blocks of
// kBceBlock elements whose sums are kept apart and added in order at the end (par may run the blocks
// on several threads: the same bits), each block in kernel calls of at most kBceSegment elements (a
// segment stays in its row when a weight is per class). Contiguous operands are read in place, others
// gathered a segment at a time; either way the kernel sees the same segments, so strides never change
// a result. Weights: 0 none (the kernel's all-ones variant), 1 per class, 2 per element, 3 one value.
constexpr std::size_t kBceSegment = 1024;
constexpr std::size_t kBceBlock = std::size_t(1) << 14;

// The serial split: every block on the calling thread.
struct SerialFor {
  template <class F>
  void operator()(std::size_t n, std::size_t /*elements_per_item*/, F&& body) const {
    if (n) body(std::size_t(0), n);
  }
};

template <class T>
inline int bce_weight_mode(const MatrixView<const T>& w) noexcept {
  if (w.empty()) return 0;
  if (w.row_stride == 0 && w.col_stride == 0) return 3;
  if (w.row_stride == 0 || w.rows == 1) return 1;
  return 2;
}

// Elements [e, e + m) of v (v.cols per row) in row-major order: a pointer into v when it is dense,
// else gathered into buf.
template <class T>
inline const T* flat_in(const MatrixView<const T>& v, std::size_t e, std::size_t m, T* buf) noexcept {
  if (dense(v)) return v.data + e;
  std::size_t r = e / v.cols, c = e % v.cols;
  for (std::size_t j = 0; j < m; ++j) {
    buf[j] = v(r, c);
    if (++c == v.cols) c = 0, ++r;
  }
  return buf;
}
template <class T>
inline T* flat_out(const MatrixView<T>& v, std::size_t e, T* buf) noexcept {
  return dense(v) ? v.data + e : buf;
}
template <class T>
inline void flat_done(const MatrixView<T>& v, std::size_t e, std::size_t m, const T* buf) noexcept {
  if (dense(v)) return;
  std::size_t r = e / v.cols, c = e % v.cols;
  for (std::size_t j = 0; j < m; ++j) {
    v(r, c) = buf[j];
    if (++c == v.cols) c = 0, ++r;
  }
}

// The first target outside [0, 1] (or NaN), row-major; ok when there is none.
template <class T>
inline Status bce_check_targets(const MatrixView<const T>& y) noexcept {
  for (std::size_t i = 0; i < y.rows; ++i)
    for (std::size_t c = 0; c < y.cols; ++c) {
      const T v = y(i, c);
      if (!(v >= T(0) && v <= T(1)))
        return fail_at(Errc::invalid_target, "target", messages::probabilities_in_unit, double(v), i, true, c);
    }
  return {};
}

template <class T, class Par>
inline Status bce(MatrixView<const T> x, MatrixView<const T> y, MatrixView<T> loss, const BceOptions<T>& o,
                  MatrixView<T>* grad, Par&& par) noexcept {
  static_assert(is_real_v<T>, "logitkit works on float and double");
  if (!has_data(x)) return fail(Errc::null_pointer, "logits", "null data for a non-empty view");
  if (Status s = check_reduction(o.reduction); !s) return s;
  if (Status s = check_smoothing(o.label_smoothing); !s) return s;
  if (Status s = same_shape(x, y, "target"); !s) return s;
  const bool has_w = !o.weight.empty(), has_p = !o.pos_weight.empty(), has_pe = !o.pos_weight_elements.empty();
  if (has_w)
    if (Status s = same_shape(x, o.weight, "weight"); !s) return s;
  if (has_p && o.pos_weight.size != x.cols)
    return fail(Errc::shape_mismatch, "pos_weight", "must hold one weight per class (the logits' cols)");
  if (!has_data(o.pos_weight)) return fail(Errc::null_pointer, "pos_weight", "null data for a non-empty view");
  if (has_pe) {
    if (has_p) return fail(Errc::invalid_argument, "pos_weight_elements", "must be empty when pos_weight is given");
    if (Status s = same_shape(x, o.pos_weight_elements, "pos_weight_elements"); !s) return s;
  }
  const bool has_t = !o.temperature.empty(), has_b = !o.bias.empty();
  if (has_t && o.temperature.size != x.cols)
    return fail(Errc::shape_mismatch, "temperature", "must hold one temperature per class (the logits' cols)");
  if (!has_data(o.temperature)) return fail(Errc::null_pointer, "temperature", "null data for a non-empty view");
  if (has_b && o.bias.size != x.cols)
    return fail(Errc::shape_mismatch, "bias", "must hold one bias per class (the logits' cols)");
  if (!has_data(o.bias)) return fail(Errc::null_pointer, "bias", "null data for a non-empty view");
  for (std::size_t c = 0; has_t && c < x.cols; ++c)
    if (!(o.temperature[c] > 0) || !std::isfinite(o.temperature[c]))
      return fail_at(Errc::invalid_argument, "temperature", "must be a positive finite number", o.temperature[c], c);
  for (std::size_t c = 0; has_b && c < x.cols; ++c)
    if (!std::isfinite(o.bias[c])) return fail_at(Errc::invalid_argument, "bias", "must be finite", o.bias[c], c);
  const bool none = o.reduction == Reduction::none;
  if (none) {
    if (Status s = same_shape(x, loss, "loss"); !s) return s;
  } else if (loss.empty() || !loss.data) {
    return fail(Errc::shape_mismatch, "loss", "must hold one element (mean, sum) or the logits' shape (none)");
  }
  if (grad)
    if (Status s = same_shape(x, *grad, "grad"); !s) return s;
  const std::size_t C = x.cols;
  // Lazily (reductions only), the kernel's NaN sum reveals a bad target after the pass; in place, the
  // gradient would replace the logits before that, so the targets are checked first.
  const bool lazy = o.check_targets_after && !none && !(grad && grad->data == x.data);
  if ((o.validate || (o.check_targets_after && !none)) && !lazy)
    if (Status s = bce_check_targets(y); !s) return s;
  if (o.validate) {
    if (has_p)
      for (std::size_t c = 0; c < C; ++c)
        if (o.pos_weight[c] < T(0))
          return fail_at(Errc::invalid_weight, "pos_weight", messages::weight_nonnegative, double(o.pos_weight[c]), c);
    if (has_pe)
      for (std::size_t i = 0; i < x.rows; ++i)
        for (std::size_t c = 0; c < C; ++c)
          if (o.pos_weight_elements(i, c) < T(0))
            return fail_at(Errc::invalid_weight, "pos_weight", messages::weight_nonnegative, double(o.pos_weight_elements(i, c)), i,
                           true, c);
  }
  const std::size_t n = x.size();
  const T gscale = T(o.reduction == Reduction::mean ? (n ? 1.0 / double(n) : 0.0) : 1.0);
  const int wm = bce_weight_mode(o.weight);
  const MatrixView<const T> pv = has_pe ? o.pos_weight_elements
                                 : has_p ? MatrixView<const T>(o.pos_weight.data, x.rows, C, 0, o.pos_weight.stride)
                                         : MatrixView<const T>();
  const int pm = bce_weight_mode(pv);
  const std::size_t nblocks = (n + kBceBlock - 1) / kBceBlock;
  Scratch<double> partial(none ? 0 : nblocks);
  if (!partial.get()) return fail(Errc::out_of_memory, "logits", "no memory for the partial sums");
  if (!none)
    for (std::size_t b = 0; b < nblocks; ++b) partial.get()[b] = 0;  // defined if par skips a range
  const auto f = kernels<T>().bce_with_logits;
  const T eps = o.label_smoothing;
  par(nblocks, kBceBlock, [&](std::size_t b0, std::size_t b1) {
    T pc[kBceSegment], wc[kBceSegment];  // a weight of one value, repeated
    T bx[kBceSegment], by[kBceSegment], bp[kBceSegment], bw[kBceSegment], bl[kBceSegment], bg[kBceSegment];
    double bt[kBceSegment], bb[kBceSegment];  // the segment's temperatures and biases (per class)
    if (pm == 3)
      for (std::size_t j = 0; j < kBceSegment; ++j) pc[j] = pv.data[0];
    if (wm == 3)
      for (std::size_t j = 0; j < kBceSegment; ++j) wc[j] = o.weight.data[0];
    // a per-class weight's row segment [c, c + m): in place when its columns are contiguous
    auto per_class = [&](const MatrixView<const T>& v, std::size_t c, std::size_t m, T* buf) -> const T* {
      if (v.col_stride == 1) return v.data + c;
      for (std::size_t j = 0; j < m; ++j) buf[j] = v.data[std::ptrdiff_t(c + j) * v.col_stride];
      return buf;
    };
    auto weight = [&](int mode, const MatrixView<const T>& v, std::size_t e, std::size_t c, std::size_t m, T* one,
                      T* buf) -> const T* {
      switch (mode) {
        case 0: return nullptr;
        case 1: return per_class(v, c, m, buf);
        case 2: return flat_in(v, e, m, buf);
        default: return one;
      }
    };
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t e0 = b * kBceBlock, e1 = e0 + kBceBlock < n ? e0 + kBceBlock : n;
      double s = 0;
      for (std::size_t e = e0; e < e1;) {
        const std::size_t c = e % C;
        std::size_t end = e + kBceSegment < e1 ? e + kBceSegment : e1;
        if ((pm == 1 || wm == 1 || has_t || has_b) && end > e - c + C) end = e - c + C;
        const std::size_t m = end - e;
        const T* xp = flat_in(x, e, m, bx);
        const T* yp = flat_in(y, e, m, by);
        const T* pp = weight(pm, pv, e, c, m, pc, bp);
        const T* wp = weight(wm, o.weight, e, c, m, wc, bw);
        T* lp = none ? flat_out(loss, e, bl) : nullptr;
        T* gp = grad ? flat_out(*grad, e, bg) : nullptr;
        const double* tp = nullptr;
        const double* bp2 = nullptr;
        if (has_t) {
          for (std::size_t j = 0; j < m; ++j) bt[j] = o.temperature[c + j];
          tp = bt;
        }
        if (has_b) {
          for (std::size_t j = 0; j < m; ++j) bb[j] = o.bias[c + j];
          bp2 = bb;
        }
        s += f(xp, yp, pp, wp, eps, gscale, lp, gp, m, tp, bp2);
        if (lp) flat_done(loss, e, m, lp);
        if (gp) flat_done(*grad, e, m, gp);
        e = end;
      }
      if (!none) partial.get()[b] = s;
    }
  });
  if (none) return {};
  double total = 0;
  for (std::size_t b = 0; b < nblocks; ++b) total += partial.get()[b];
  // the kernel's sum is NaN for a target outside [0, 1] or NaN (and for a NaN logit or weight,
  // which are no error)
  if (lazy && std::isnan(total))
    if (Status s = bce_check_targets(y); !s) return s;
  loss(0, 0) = o.reduction == Reduction::sum ? T(total) : (n ? T(total / double(n)) : std::numeric_limits<T>::quiet_NaN());
  return {};
}

}  // namespace detail

// ------------------------------------------------------------------------------ the functions
// T (float or double) is taken from the output view; inputs convert from views of T or const T.

// The ISA the functions below run on: the dispatched one ("scalar", "sse2", "avx2", "avx512",
// "neon"; see set_simd_target in dispatch.hpp), or in the header-only mode the one this translation
// unit's compiler flags allow.
inline const char* kernel_isa() noexcept {
#ifdef LOGITKIT_HEADER_ONLY
  return header_only_table().name;
#else
  return active_kernels().name;
#endif
}

// The activations, the row-wise functions and their backward rules: one function per entry of the
// kernel list (kernels/list.hpp; its docstrings say what each computes), of the form its kind gives:
//   UNARY       name(x, y): y = f(x) elementwise (sigmoid, log_sigmoid, softplus). y may be x.
//   BINARY      name(grad, arg, out): an elementwise backward rule, out = grad·y·(1 - y) for
//               sigmoid_backward (arg: y = sigmoid(x)), grad·sigmoid(-x) for log_sigmoid_backward
//               (arg: the forward input x). out may be grad.
//   ROW         name(x, y, temperature = 1): each row of x (the class axis is the columns) at x /
//               temperature (temperature > 0, finite); softmax, log_softmax. An empty row has an
//               empty result. y may be x (in place).
//   REDUCE      name(x, out, temperature = 1): out[r] = f(row r of x / temperature), one element
//               per row; logsumexp (an empty row gives -inf).
//   ROW_BINARY  name(grad, y, out): a row-wise backward rule from the forward output y:
//               softmax_backward out = y ⊙ (grad - Σ grad⊙y); log_softmax_backward
//               out = grad - exp(y)·Σ grad. out may be grad or y.
#define LOGITKIT_API_UNARY(name, ...)                                                                     \
  template <class T>                                                                                      \
  inline Status name(MatrixView<const detail::id_t<T>> x, MatrixView<T> y) noexcept {                     \
    return detail::map1<T>(x, y, detail::kernels<T>().name);                                              \
  }
#define LOGITKIT_API_BINARY(name, kernel, arg, doc)                                                       \
  template <class T>                                                                                      \
  inline Status name(MatrixView<const detail::id_t<T>> grad, MatrixView<const detail::id_t<T>> arg,       \
                     MatrixView<T> out) noexcept {                                                        \
    return detail::map2<T>(grad, arg, out, #arg, detail::kernels<T>().name);                              \
  }
#define LOGITKIT_API_ROW(name, ...)                                                                       \
  template <class T>                                                                                      \
  inline Status name(MatrixView<const detail::id_t<T>> x, MatrixView<T> y, double temperature = 1.0) noexcept { \
    if (detail::contiguous_rows(x, y, temperature)) {                                                     \
      if (!x.empty()) detail::kernels<T>().name##_rows(x.data, y.data, x.rows, x.cols, temperature);     \
      return {};                                                                                          \
    }                                                                                                     \
    return detail::rows1<T>(x, y, temperature, detail::kernels<T>().name);                                \
  }
#define LOGITKIT_API_REDUCE(name, ...)                                                                    \
  template <class T>                                                                                      \
  inline Status name(MatrixView<const detail::id_t<T>> x, VectorView<T> out, double temperature = 1.0) noexcept { \
    static_assert(detail::is_real_v<T>, "logitkit works on float and double");                           \
    if (Status s = detail::check_temperature(temperature); !s) return s;                                  \
    if (!detail::has_data(x)) return detail::fail(Errc::null_pointer, "x", "null data for a non-empty view"); \
    if (out.size != x.rows) return detail::fail(Errc::shape_mismatch, "out", "must hold one element per row of x"); \
    if (!detail::has_data(out)) return detail::fail(Errc::null_pointer, "out", "null data for a non-empty view"); \
    if (x.rows == 0) return {};                                                                           \
    detail::Scratch<T> scratch(x.col_stride != 1 ? x.cols : 0);                                           \
    T* buf = scratch.get();                                                                               \
    if (!buf) return detail::fail(Errc::out_of_memory, "x", "no memory for a buffer of one strided row"); \
    const auto f = detail::kernels<T>().name;                                                             \
    for (std::size_t r = 0; r < x.rows; ++r)                                                              \
      out[r] = x.cols == 0 ? -std::numeric_limits<T>::infinity() : f(detail::row_in(x, r, buf), x.cols, temperature); \
    return {};                                                                                            \
  }
#define LOGITKIT_API_ROW_BINARY(name, kernel, arg, doc)                                                   \
  template <class T>                                                                                      \
  inline Status name(MatrixView<const detail::id_t<T>> grad, MatrixView<const detail::id_t<T>> arg,       \
                     MatrixView<T> out) noexcept {                                                        \
    return detail::rows2<T>(grad, arg, out, detail::kernels<T>().name);                                   \
  }
LOGITKIT_KERNEL_LIST(LOGITKIT_API_UNARY, LOGITKIT_API_BINARY, LOGITKIT_API_ROW, LOGITKIT_API_REDUCE,
                     LOGITKIT_API_ROW_BINARY, LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP, LOGITKIT_LIST_SKIP)
#undef LOGITKIT_API_UNARY
#undef LOGITKIT_API_BINARY
#undef LOGITKIT_API_ROW
#undef LOGITKIT_API_REDUCE
#undef LOGITKIT_API_ROW_BINARY

// Cross-entropy of each row of logits (N × C) against a hard label per row (any integer type) or a
// soft target (N × C probabilities), with CrossEntropyOptions. loss: one element for Reduction::mean
// and ::sum, N for ::none. mean divides by Σ weight[label]·sample_weight over the counted rows (hard
// labels; NaN when every row is ignored) or by Σ sample_weight (soft labels; N without sample weights).
// A label outside [0, C) that is not ignore_index is an error (Errc::invalid_label, row = its index).
template <class T, class L, class = std::enable_if_t<std::is_integral_v<std::remove_const_t<L>>>>
inline Status cross_entropy(MatrixView<const detail::id_t<T>> logits, VectorView<L> labels, VectorView<T> loss,
                            const CrossEntropyOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::ce_hard<T>(logits, labels, loss, options, nullptr);
}
template <class T>
inline Status cross_entropy(MatrixView<const detail::id_t<T>> logits, MatrixView<const detail::id_t<T>> target,
                            VectorView<T> loss, const CrossEntropyOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::ce_soft<T>(logits, target, loss, options, nullptr);
}
// The same loss and, from the same passes over each row, its gradient for the chosen reduction
// (d loss / d logits, N × C). grad may be logits' own memory (in place).
template <class T, class L, class = std::enable_if_t<std::is_integral_v<std::remove_const_t<L>>>>
inline Status cross_entropy_with_grad(MatrixView<const detail::id_t<T>> logits, VectorView<L> labels,
                                      VectorView<T> loss, MatrixView<detail::id_t<T>> grad,
                                      const CrossEntropyOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::ce_hard<T>(logits, labels, loss, options, &grad);
}
template <class T>
inline Status cross_entropy_with_grad(MatrixView<const detail::id_t<T>> logits,
                                      MatrixView<const detail::id_t<T>> target, VectorView<T> loss,
                                      MatrixView<detail::id_t<T>> grad,
                                      const CrossEntropyOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::ce_soft<T>(logits, target, loss, options, &grad);
}

// Binary cross-entropy with logits, elementwise over logits and targets of one shape (targets in
// [0, 1], soft allowed), with BceOptions. loss: one element for mean and sum (e.g. view(&l, 1)),
// the logits' shape for Reduction::none. mean divides by the number of elements (weights do not
// enter it). Infinite logits give the finite limit where there is one.
// par (optional) splits the work: par(n, elements_per_item, body) calls body(b, e) over disjoint
// ranges [b, e) that cover [0, n), on any threads, and returns when all have returned (the Python
// package hands it its thread pool). The result is the same bits for every split. par must not
// throw; one that could not run every range reports that to its own caller (the result is then
// unspecified, a finite or NaN number).
template <class T, class Par = detail::SerialFor>
inline Status binary_cross_entropy_with_logits(MatrixView<const detail::id_t<T>> logits,
                                               MatrixView<const detail::id_t<T>> target, MatrixView<T> loss,
                                               const BceOptions<detail::id_t<T>>& options = {},
                                               Par&& par = {}) noexcept {
  return detail::bce<T>(logits, target, loss, options, nullptr, par);
}
template <class T, class Par = detail::SerialFor>
inline Status binary_cross_entropy_with_logits_with_grad(MatrixView<const detail::id_t<T>> logits,
                                                         MatrixView<const detail::id_t<T>> target, MatrixView<T> loss,
                                                         MatrixView<detail::id_t<T>> grad,
                                                         const BceOptions<detail::id_t<T>>& options = {},
                                                         Par&& par = {}) noexcept {
  return detail::bce<T>(logits, target, loss, options, &grad, par);
}

// --------------------------------------------------------------------- entropy and divergences

namespace detail {

// The rows of entropy (q null), kl_divergence or js_divergence (js), one value per row into out, the
// gradient rows into grad when given (kernels/divergence.hpp; strided rows gathered into a scratch
// row).
template <class T>
inline Status divergence_rows(const MatrixView<const T>& p, const MatrixView<const T>* q, const VectorView<T>& out,
                              const MatrixView<T>* grad, double temperature, bool js = false) noexcept {
  const char* pname = q ? "p_logits" : "logits";
  if (!has_data(p)) return fail(Errc::null_pointer, pname, "null data for a non-empty view");
  if (q) {
    if (Status s = same_shape(p, *q, "q_logits"); !s) return s;
    if (!has_data(*q)) return fail(Errc::null_pointer, "q_logits", "null data for a non-empty view");
  }
  if (Status s = check_temperature(temperature); !s) return s;
  if (out.size != p.rows) return fail(Errc::shape_mismatch, "out", "must hold one value per row of the logits");
  if (!has_data(out)) return fail(Errc::null_pointer, "out", "null data for a non-empty view");
  if (grad) {
    if (Status s = same_shape(p, *grad, "grad"); !s) return s;
    if (!has_data(*grad)) return fail(Errc::null_pointer, "grad", "null data for a non-empty view");
  }
  const std::size_t C = p.cols;
  const bool strided = p.col_stride != 1 || (q && q->col_stride != 1) || (grad && grad->col_stride != 1);
  Scratch<T> scratch(strided ? 3 * C : 0);
  T* buf = scratch.get();
  if (strided && !buf) return fail(Errc::out_of_memory, pname, "no memory for a buffer of one strided row");
  const auto& k = kernels<T>();
  for (std::size_t i = 0; i < p.rows; ++i) {
    const T* pr = row_in(p, i, buf);
    T* gr = grad ? row_out(*grad, i, buf + 2 * C) : nullptr;
    out[i] = !q   ? k.entropy(pr, C, T(1), gr, temperature)
             : js ? k.js_divergence(pr, row_in(*q, i, buf + C), C, T(1), gr, temperature)
                  : k.kl_divergence(pr, row_in(*q, i, buf + C), C, T(1), gr, temperature);
    if (grad) row_done(*grad, i, gr);
  }
  return {};
}

}  // namespace detail

// The entropy of softmax(logits / temperature) of each row, in nats: out[i] for row i
// (docs/numerics.md, "Entropy and divergences"; within 8 ulp (float) / 16 ulp (double) of the exact
// value however small). A row holding NaN or +inf, or only -inf, gives NaN.
template <class T>
inline Status entropy(MatrixView<const detail::id_t<T>> logits, VectorView<T> out, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(logits, nullptr, out, nullptr, temperature);
}
// The same and each row's gradient dH_i/dx_i (logits' shape; may be the logits' own memory).
template <class T>
inline Status entropy_with_grad(MatrixView<const detail::id_t<T>> logits, VectorView<T> out,
                                MatrixView<detail::id_t<T>> grad, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(logits, nullptr, out, &grad, temperature);
}
// KL(P || Q) of each row, P = softmax(p_logits / T), Q = softmax(q_logits / T): never negative,
// exactly 0 for rows that differ by a constant, +inf where Q is 0 (a -inf logit) where P is not.
template <class T>
inline Status kl_divergence(MatrixView<const detail::id_t<T>> p_logits, MatrixView<const detail::id_t<T>> q_logits,
                            VectorView<T> out, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(p_logits, &q_logits, out, nullptr, temperature);
}
// The same and each row's gradient with respect to q_logits, (Q - P)/T (may be q_logits' memory).
template <class T>
inline Status kl_divergence_with_grad(MatrixView<const detail::id_t<T>> p_logits,
                                      MatrixView<const detail::id_t<T>> q_logits, VectorView<T> out,
                                      MatrixView<detail::id_t<T>> grad, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(p_logits, &q_logits, out, &grad, temperature);
}

// The Jensen-Shannon divergence of each row's P = softmax(p_logits / T) and Q = softmax(q_logits / T):
// ½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q)/2, in [0, log 2], exact for nearly equal rows.
template <class T>
inline Status js_divergence(MatrixView<const detail::id_t<T>> p_logits, MatrixView<const detail::id_t<T>> q_logits,
                            VectorView<T> out, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(p_logits, &q_logits, out, nullptr, temperature, true);
}
// The same and each row's gradient with respect to q_logits (may be q_logits' memory).
template <class T>
inline Status js_divergence_with_grad(MatrixView<const detail::id_t<T>> p_logits,
                                      MatrixView<const detail::id_t<T>> q_logits, VectorView<T> out,
                                      MatrixView<detail::id_t<T>> grad, double temperature = 1.0) noexcept {
  return detail::divergence_rows<T>(p_logits, &q_logits, out, &grad, temperature, true);
}

// Knowledge distillation (Hinton et al., 2015), per row: alpha·T²·KL(softmax(teacher/T) ‖
// softmax(student/T)) + (1 - alpha)·CE(student, label) (the cross-entropy at temperature 1, with
// label smoothing). labels empty: the KL term alone (alpha must be 1); a label equal to
// ignore_index: that row's KL term alone. T² must be a normal number of T (invalid_argument
// otherwise): 2^-511 <= T <= 2^511 for double, 2^-63 <= T <= 2^63 for float.
template <class T>
struct DistillationOptions {
  double temperature = 1.0;
  double alpha = 1.0;  // the weight of the KL term, in [0, 1]
  T label_smoothing = 0;
  std::int64_t ignore_index = -100;
};

namespace detail {

template <class T>
inline Status distillation_rows(const MatrixView<const T>& s, const MatrixView<const T>& t,
                                const VectorView<const std::int64_t>& labels, const VectorView<T>& out,
                                const MatrixView<T>* grad, const DistillationOptions<T>& o) noexcept {
  if (!has_data(s)) return fail(Errc::null_pointer, "student_logits", "null data for a non-empty view");
  if (Status st = same_shape(s, t, "teacher_logits"); !st) return st;
  if (!has_data(t)) return fail(Errc::null_pointer, "teacher_logits", "null data for a non-empty view");
  if (Status st = check_distillation_temperature<T>(o.temperature); !st) return st;
  if (!(o.alpha >= 0 && o.alpha <= 1)) return fail(Errc::invalid_argument, "alpha", "must be in [0, 1]");
  if (!(o.label_smoothing >= 0 && o.label_smoothing <= 1))
    return fail(Errc::invalid_argument, "label_smoothing", "must be in [0, 1]");
  if (labels.size == 0 && o.alpha != 1 && s.rows != 0)
    return fail(Errc::invalid_argument, "labels", "alpha < 1 weighs a cross-entropy term: labels are needed");
  if (labels.size != 0 && labels.size != s.rows)
    return fail(Errc::shape_mismatch, "labels", "must hold one label per row of the logits");
  if (out.size != s.rows) return fail(Errc::shape_mismatch, "out", "must hold one value per row of the logits");
  if (!has_data(out)) return fail(Errc::null_pointer, "out", "null data for a non-empty view");
  if (grad) {
    if (Status st = same_shape(s, *grad, "grad"); !st) return st;
    if (!has_data(*grad)) return fail(Errc::null_pointer, "grad", "null data for a non-empty view");
  }
  const std::size_t C = s.cols;
  for (std::size_t i = 0; i < labels.size; ++i) {
    const std::int64_t y = labels[i];
    if (y != o.ignore_index && (y < 0 || std::uint64_t(y) >= C))
      return fail_at(Errc::invalid_label, "labels", "a label must be in [0, C) or equal ignore_index", double(y), i);
  }
  // scratch: a strided row of each input, the gradient row, the kernel's cross-entropy row
  Scratch<T> scratch(4 * C);
  T* buf = scratch.get();
  if (C != 0 && !buf) return fail(Errc::out_of_memory, "student_logits", "no memory for the row buffers");
  const auto f = kernels<T>().distillation;
  const T a_kl = T(o.alpha * o.temperature * o.temperature), a_ce = T(1 - o.alpha);
  for (std::size_t i = 0; i < s.rows; ++i) {
    const T* sr = row_in(s, i, buf);
    const T* tr = row_in(t, i, buf + C);
    T* gr = grad ? buf + 2 * C : nullptr;  // not in place: the kernel reads s after the KL gradient
    const std::int64_t y = labels.size == 0 || labels[i] == o.ignore_index ? -1 : labels[i];
    out[i] = C == 0 ? T(0) : f(sr, tr, C, y, a_kl, a_ce, o.label_smoothing, gr, buf + 3 * C, o.temperature);
    if (grad)
      for (std::size_t j = 0; j < C; ++j) (*grad)(i, j) = gr[j];
  }
  return {};
}

}  // namespace detail

// The distillation loss of each row into out (labels: one per row, or empty).
template <class T>
inline Status distillation_loss(MatrixView<const detail::id_t<T>> student_logits,
                                MatrixView<const detail::id_t<T>> teacher_logits,
                                VectorView<const std::int64_t> labels, VectorView<T> out,
                                const DistillationOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::distillation_rows<T>(student_logits, teacher_logits, labels, out, nullptr, options);
}
// The same and each row's gradient with respect to the student's logits (may be their memory).
template <class T>
inline Status distillation_loss_with_grad(MatrixView<const detail::id_t<T>> student_logits,
                                          MatrixView<const detail::id_t<T>> teacher_logits,
                                          VectorView<const std::int64_t> labels, VectorView<T> out,
                                          MatrixView<detail::id_t<T>> grad,
                                          const DistillationOptions<detail::id_t<T>>& options = {}) noexcept {
  return detail::distillation_rows<T>(student_logits, teacher_logits, labels, out, &grad, options);
}

// Binary (multi-label) forms, elementwise (kernels/binary_divergence.hpp): each element of the
// logits is one label's Bernoulli distribution sigmoid(x/T).

namespace detail {

// binary_entropy (q null) or binary_kl_divergence over the elements, out[i, j] the value, grad[i, j]
// its derivative (with respect to x, or to q) when grad is given; outputs may alias the inputs.
template <class T>
inline Status binary_divergence(const MatrixView<const T>& p, const MatrixView<const T>* q, const MatrixView<T>& out,
                                const MatrixView<T>* grad, double temperature) noexcept {
  const char* pname = q ? "p_logits" : "logits";
  if (!has_data(p)) return fail(Errc::null_pointer, pname, "null data for a non-empty view");
  if (q) {
    if (Status s = same_shape(p, *q, "q_logits"); !s) return s;
    if (!has_data(*q)) return fail(Errc::null_pointer, "q_logits", "null data for a non-empty view");
  }
  if (Status s = check_temperature(temperature); !s) return s;
  if (Status s = same_shape(p, out, "out"); !s) return s;
  if (!has_data(out)) return fail(Errc::null_pointer, "out", "null data for a non-empty view");
  if (grad) {
    if (Status s = same_shape(p, *grad, "grad"); !s) return s;
    if (!has_data(*grad)) return fail(Errc::null_pointer, "grad", "null data for a non-empty view");
  }
  const auto& k = kernels<T>();
  for (std::size_t i = 0; i < p.rows; ++i)
    for (std::size_t j = 0; j < p.cols; ++j) {  // one element per call: any strides, any aliasing
      const T a = p(i, j);
      T v, g = T(0);
      if (q) {
        const T b = (*q)(i, j);
        k.binary_kl_divergence(&a, &b, 1, T(1), &v, grad ? &g : nullptr, temperature);
      } else {
        k.binary_entropy(&a, 1, T(1), &v, grad ? &g : nullptr, temperature);
      }
      out(i, j) = v;
      if (grad) (*grad)(i, j) = g;
    }
  return {};
}

}  // namespace detail

// The entropy of sigmoid(logits / temperature) of each element, in nats (exact in both tails).
template <class T>
inline Status binary_entropy(MatrixView<const detail::id_t<T>> logits, MatrixView<T> out,
                             double temperature = 1.0) noexcept {
  return detail::binary_divergence<T>(logits, nullptr, out, nullptr, temperature);
}
// The same and dH/dx of each element.
template <class T>
inline Status binary_entropy_with_grad(MatrixView<const detail::id_t<T>> logits, MatrixView<T> out,
                                       MatrixView<detail::id_t<T>> grad, double temperature = 1.0) noexcept {
  return detail::binary_divergence<T>(logits, nullptr, out, &grad, temperature);
}
// KL(Bernoulli(sigmoid(p/T)) || Bernoulli(sigmoid(q/T))) of each element: never negative, 0 for equal
// logits, +inf where Q is certain (±inf) and P is not the same.
template <class T>
inline Status binary_kl_divergence(MatrixView<const detail::id_t<T>> p_logits,
                                   MatrixView<const detail::id_t<T>> q_logits, MatrixView<T> out,
                                   double temperature = 1.0) noexcept {
  return detail::binary_divergence<T>(p_logits, &q_logits, out, nullptr, temperature);
}
// The same and dKL/dq of each element, (q - p)/T.
template <class T>
inline Status binary_kl_divergence_with_grad(MatrixView<const detail::id_t<T>> p_logits,
                                             MatrixView<const detail::id_t<T>> q_logits, MatrixView<T> out,
                                             MatrixView<detail::id_t<T>> grad, double temperature = 1.0) noexcept {
  return detail::binary_divergence<T>(p_logits, &q_logits, out, &grad, temperature);
}

// ------------------------------------------------------------------------------------- top_k

namespace detail {

template <class T>
struct TopKEntry {
  T v;
  std::int64_t i;
};

// Rows [b, e) of top_k (arguments checked). Returns the first of these rows that holds a NaN, or e;
// sets *oom (and returns e) when a buffer could not be allocated. Rows are read a block at a time
// (at most kTopKBlock elements, at least one row), gathered into a buffer when x is not dense; each
// row's k winners are selected, then their probabilities: rows shorter than kTopKShort (which the
// short-row kernel may take several per vector) from the rows kernel's softmax of the whole block,
// longer ones by softmax_at (the sum pass over the row, the outputs at the winners only). Both give
// the softmax ufunc's bits (the row kernels' invariant: not in place, any block of rows).
constexpr std::size_t kTopKBlock = 512;
constexpr std::size_t kTopKShort = 64;
template <class T>
inline std::size_t top_k_range(const MatrixView<const T>& x, std::size_t k, const MatrixView<std::int64_t>& ix,
                               const MatrixView<T>& p, bool probs, double temperature, std::size_t b, std::size_t e,
                               bool* oom) noexcept {
  const std::size_t n = x.cols;
  const bool dense_x = x.col_stride == 1 && (x.row_stride == std::ptrdiff_t(n) || x.rows == 1);
  const bool whole = probs && n < kTopKShort;  // softmax of whole blocks
  const std::size_t B = whole ? kTopKBlock / n : 1;
  const bool large = k > kernel_types::top_k_small_max;
  Scratch<T> xbuf(dense_x ? 0 : B * n), ybuf(probs ? B * n : 0), vbuf(k);
  Scratch<TopKEntry<T>> ebuf(large ? n : 0);
  Scratch<std::int64_t> ibuf(ix.col_stride == 1 ? 0 : k);
  if ((!dense_x && !xbuf.get()) || (probs && !ybuf.get()) || !vbuf.get() || (large && !ebuf.get()) ||
      (ix.col_stride != 1 && !ibuf.get())) {
    *oom = true;
    return e;
  }
  const auto& kt = kernels<T>();
  for (std::size_t r0 = b; r0 < e; r0 += B) {
    const std::size_t m = e - r0 < B ? e - r0 : B;
    const T* xs = x.row(r0);
    if (!dense_x) {
      for (std::size_t i = 0; i < m; ++i) {  // rows gathered, or copied whole (row_in gives a contiguous row as it is)
        T* dst = xbuf.get() + i * n;
        const T* src = row_in(x, r0 + i, dst);
        if (src != dst) std::memcpy(dst, src, n * sizeof(T));
      }
      xs = xbuf.get();
    }
    if (whole) kt.softmax_rows(xs, ybuf.get(), m, n, temperature);
    for (std::size_t i = 0; i < m; ++i) {
      const T* row = xs + i * n;
      std::int64_t* id = ix.col_stride == 1 ? ix.row(r0 + i) : ibuf.get();
      if (!large) {
        if (!kt.top_k(row, n, k, vbuf.get(), id)) return r0 + i;
      } else {
        // Large k: nth_element on (value, index) by the same order (largest first, equal values by
        // the lower index: a strict total order once the row has no NaN), then sort the k winners.
        TopKEntry<T>* es = ebuf.get();
        for (std::size_t j = 0; j < n; ++j) {
          if (row[j] != row[j]) return r0 + i;
          es[j] = {row[j], std::int64_t(j)};
        }
        const auto before = [](const TopKEntry<T>& a, const TopKEntry<T>& c) {
          return a.v > c.v || (a.v == c.v && a.i < c.i);
        };
        if (k < n) std::nth_element(es, es + (k - 1), es + n, before);
        std::sort(es, es + k, before);
        for (std::size_t j = 0; j < k; ++j) id[j] = es[j].i;
      }
      if (ix.col_stride != 1)
        for (std::size_t j = 0; j < k; ++j) ix(r0 + i, j) = id[j];
      if (whole) {
        const T* y = ybuf.get() + i * n;
        for (std::size_t j = 0; j < k; ++j) p(r0 + i, j) = y[id[j]];
      } else if (probs) {
        T* pr = p.col_stride == 1 ? p.row(r0 + i) : vbuf.get();
        kt.softmax_at(row, n, temperature, id, k, pr, ybuf.get());
        if (p.col_stride != 1)
          for (std::size_t j = 0; j < k; ++j) p(r0 + i, j) = pr[j];
      }
    }
  }
  return e;
}

}  // namespace detail

// The k largest logits of each row (rows × C) and their softmax probabilities, most likely first:
// indices[r][j] is the class of row r's j-th largest logit, equal logits ordered by the lower class
// index (a stable sort of -logits), +inf above every finite value, a row of only -inf giving
// 0..k-1; probs[r][j] = softmax(logits row r / temperature) at that class, the same bits as the
// softmax functions give it. probs may be MatrixView<T>{} (no data, 0 × 0): indices only.
// Errors: k outside [1, C] (Errc::invalid_argument, argument "k"); indices (or probs) not rows × k
// (shape_mismatch); a row holding a NaN (Errc::invalid_argument, argument "logits", row = the first
// such row; the outputs are then unspecified). Allocates per row block: buffers of the block's
// softmax (rows shorter than 512 several at a time), of strided rows, and for k >
// kernel_types::top_k_small_max of one row's (value, index) pairs (new(std::nothrow);
// Errc::out_of_memory if it fails).
// par (optional) splits the rows as for binary_cross_entropy_with_logits: par(rows, C, body).
template <class T, class Par = detail::SerialFor>
inline Status top_k(MatrixView<const detail::id_t<T>> logits, std::size_t k, MatrixView<std::int64_t> indices,
                    MatrixView<T> probs, double temperature = 1.0, Par&& par = {}) noexcept {
  static_assert(detail::is_real_v<T>, "logitkit works on float and double");
  if (Status s = detail::check_temperature(temperature); !s) return s;
  if (!detail::has_data(logits)) return detail::fail(Errc::null_pointer, "logits", "null data for a non-empty view");
  if (k < 1 || k > logits.cols) {
    Status s = detail::fail(Errc::invalid_argument, "k", "must be in [1, C] (the number of classes)");
    s.has_value = true;
    s.value = double(k);
    return s;
  }
  if (indices.rows != logits.rows || indices.cols != k)
    return detail::fail(Errc::shape_mismatch, "indices", "must be rows x k");
  if (!detail::has_data(indices)) return detail::fail(Errc::null_pointer, "indices", "null data for a non-empty view");
  const bool want = !(probs.data == nullptr && probs.rows == 0 && probs.cols == 0);
  if (want && (probs.rows != logits.rows || probs.cols != k))
    return detail::fail(Errc::shape_mismatch, "probs", "must be rows x k (or MatrixView<T>{} for none)");
  if (want && !detail::has_data(probs)) return detail::fail(Errc::null_pointer, "probs", "null data for a non-empty view");
  if (logits.rows == 0) return {};
  std::atomic<std::size_t> first_nan{logits.rows};
  std::atomic<bool> oom{false};
  par(logits.rows, logits.cols, [&](std::size_t b, std::size_t e) {
    bool o = false;
    const std::size_t r =
        detail::top_k_range<T>(logits, k, indices, probs, want, temperature, b, e, &o);
    if (o) oom.store(true, std::memory_order_relaxed);
    std::size_t cur = first_nan.load(std::memory_order_relaxed);
    while (r < e && r < cur && !first_nan.compare_exchange_weak(cur, r, std::memory_order_relaxed)) {
    }
  });
  if (oom.load()) return detail::fail(Errc::out_of_memory, "logits", "no memory for the buffers of a block of rows");
  const std::size_t r = first_nan.load();
  if (r < logits.rows)
    return detail::fail_at(Errc::invalid_argument, "logits", "a row containing NaN has no top k",
                           std::numeric_limits<double>::quiet_NaN(), r);
  return {};
}

// ------------------------------------------------------------------------------------ sample
//
// Sampling a token per row (docs/semantics.md, "Sampling"). Per row, with z = logits / temperature:
//   w = exp(z - max z) in double (the difference and the quotient carried to first order, so each
//     w is as exact as the vector exp of double), computed where needed: at the top-k winners when
//     top-k filters, at the candidates of top-p and min-p otherwise (the scan below); without
//     filters P is softmax(z), the softmax row kernel of the logits' type; only ratios of w matter;
//   order: by logit, largest first, equal logits by the lower index (top_k's order);
//   top-k keeps the first k of that order (0, or k >= C: no filter);
//   top-p keeps the shortest prefix of the order (within the top-k set) whose weight reaches
//     top_p times the weight of the top-k set (the crossing token is kept; 1: no filter);
//   min-p keeps, of those, the tokens with w_i >= min_p * max(w) (0: no filter);
//   P_i = w_i / (sum of the kept w) on the kept set, 0 elsewhere (sample_proba's output);
//   the draw: the smallest index j with C_j > u * C_total, C_j = P_0 + ... + P_j in double by
//     blocks of 64 indices (sample_draw; the last index with P_j > 0 when rounding leaves none).
// temperature 0 is greedy: the first largest logit (P one-hot there). The sums that decide the top-p
// set are carried in two doubles (a sum and its accumulated rounding errors), so the set is that of
// exact arithmetic on w except where the two sides agree to about 30 digits. No sort of the row:
// top-k is top_k's selection; top-p and min-p without top-k take one scan of the row (the kernel
// list's sample_scan: max, sum, the weight below a few edges on the logits), which bounds the kept
// set from below by an edge; the tokens above it (sample_at_least) are the only ones weighed in
// double and cut (top_p_cut: 2048 buckets spread linearly over their logits' range, with the count
// and weight of each; only the bucket that crosses the target is refined; a set of equal logits is
// walked in index order). A crossing within the scan's error bound is decided over the whole row.

// Options of sample and sample_proba. A per-row view, when it has elements, gives row r's value
// (its size must be the number of rows) and overrides the scalar.
struct SampleOptions {
  double temperature = 1.0;  // >= 0, finite; 0 is greedy
  std::size_t top_k = 0;     // 0 or >= C: no filter
  double top_p = 1.0;        // in (0, 1]; 1: no filter
  double min_p = 0.0;        // in [0, 1]; 0: no filter
  VectorView<const double> temperatures;
  VectorView<const std::int64_t> top_ks;  // each >= 0
  VectorView<const double> top_ps, min_ps;
};

namespace detail {

// A sum and the accumulated rounding errors of its additions (Neumaier's two-sum per term).
struct WideSum {
  double hi = 0, lo = 0;
  void add(double x) noexcept {
    const double s = hi + x, bp = s - hi;
    lo += (hi - (s - bp)) + (x - bp);
    hi = s;
  }
  void add(const WideSum& o) noexcept {
    add(o.hi);
    lo += o.lo;
  }
  double value() const noexcept { return hi + lo; }
};
// a >= b, the difference taken in two parts (a.hi - b.hi is exact when the two are close).
inline bool wide_ge(const WideSum& a, const WideSum& b) noexcept { return (a.hi - b.hi) + (a.lo - b.lo) >= 0; }
// p * s with the rounding error of p * s.hi kept.
inline WideSum wide_scale(double p, const WideSum& s) noexcept {
  WideSum r;
  r.hi = p * s.hi;
  r.lo = std::fma(p, s.hi, -r.hi) + p * s.lo;
  return r;
}

// Why a row cannot be sampled (the first such row is reported).
enum class SampleRowError : int { none = 0, nan, pos_inf, all_neg_inf };

// Per-thread buffers of the row pass, grown as needed (new(std::nothrow)); never shrunk. One slot
// per candidate token of the kept set (every token on the exact path).
struct SampleScratch {
  double* z = nullptr;   // the residuals of (x - max)/t, then the kept probabilities
  double* w = nullptr;   // the weights (the full softmax without filters), then the draw's sums
  double* xs = nullptr;  // the logits
  double* xd = nullptr;  // a float row widened, for a scan at a temperature outside float's range
  std::uint32_t* cand = nullptr;  // the token indices, in index order
  std::uint32_t* pos = nullptr;   // top_p_cut's working list
  std::size_t cap = 0;
  void* sel = nullptr;  // top-k: k values and k indices (or n (value, index) pairs)
  std::size_t sel_bytes = 0;
  ~SampleScratch() {
    release();
    ::operator delete(sel, std::nothrow);
  }
  void release() noexcept {
    delete[] z;
    delete[] w;
    delete[] xs;
    delete[] xd;
    delete[] cand;
    delete[] pos;
    z = w = xs = xd = nullptr;
    cand = pos = nullptr;
    cap = 0;
  }
  bool reserve(std::size_t n) noexcept {
    if (n <= cap) return true;
    release();
    z = new (std::nothrow) double[n];
    w = new (std::nothrow) double[n];
    xs = new (std::nothrow) double[n];
    xd = new (std::nothrow) double[n];
    cand = new (std::nothrow) std::uint32_t[n];
    pos = new (std::nothrow) std::uint32_t[n];
    if (z && w && xs && xd && cand && pos) {
      cap = n;
      return true;
    }
    release();
    return false;
  }
  void* reserve_sel(std::size_t bytes) noexcept {
    if (bytes <= sel_bytes) return sel;
    ::operator delete(sel, std::nothrow);
    sel = ::operator new(bytes, std::nothrow);
    sel_bytes = sel ? bytes : 0;
    return sel;
  }
};
inline SampleScratch& sample_scratch() noexcept {
  thread_local SampleScratch s;
  return s;
}

struct SampleRow {
  double temperature;
  std::size_t top_k;
  double top_p, min_p;
};

// The cut of a prefix of the order among m candidates (positions 0..m, in index order): every
// candidate, or those ahead of position pos (a larger logit, or the same logit at a position <= pos).
struct SampleCut {
  bool all = true;
  std::size_t pos = 0;
};

// A plain double sum (the fast pass of top_p_cut).
struct PlainSum {
  double v = 0;
  void add(double x) noexcept { v += x; }
};
inline void wide_add(WideSum& a, const PlainSum& b) noexcept { a.add(b.v); }
inline void wide_add(WideSum& a, const WideSum& b) noexcept { a.add(b); }

// The top-p cut, found by selection, among m0 >= 1 candidates: positions 0..m0 in index order, with
// logits xs (no NaN or +inf; the largest xmax, the smallest finite one xmin) and weights w >= 0; the
// rest of the row lies behind every candidate and weighs `rest`, known to within `slack`. Each level
// spreads the candidates (all of them at first) over B buckets by logit, linearly over their range
// [lo, hi]: b(x) = floor((hi - x) · B / (hi - lo)) capped at B - 1 (monotone: a larger logit never
// falls in a later bucket, equal logits in the same one; -inf in the last), sums each bucket's count
// and weight in Sum (PlainSum or WideSum), finds the bucket where the running weight, from the
// largest logits down, reaches top_p · (the candidates' weight + rest), and keeps its candidates (in
// position order) for the next level. It ends when the candidates are few (then sorted by logit,
// largest first, ties by position) or all equal (already in order), and walks them in two doubles on
// top of the weight ahead of them. *close: the crossing is within the rounding error of the sums
// ((m0 + 2·B)·2^-52 of the total: a bound of the error of sums of positive terms; exact for WideSum
// to about 30 digits) plus slack, so the caller decides with better sums.
template <class Sum>
inline SampleCut top_p_cut(const double* xs, const double* w, std::size_t m0, double p, double rest, double slack,
                           double xmin, double xmax, std::uint32_t* cand, bool* close) noexcept {
  // B buckets: about one per eight candidates (the per-level cost of the buckets themselves stays
  // below that of the candidates), between 64 and Bmax
  constexpr std::size_t Bmax = 2048, small = 16;
  std::size_t B = 64;
  while (B < Bmax && 8 * B < m0) B *= 2;
  std::uint32_t count[Bmax];
  Sum sum[Bmax];
  WideSum before;  // weight of the candidates ahead of the current ones
  WideSum target, total;
  std::size_t m = m0;  // current candidates: cand[0..m) (all of 0..m0 at the first level)
  bool first = true;
  double lo = xmin, hi = xmax;
  while (m > small && lo < hi) {
    const double scale = double(B) / (hi - lo);
    const auto bucket = [&](std::size_t j) {
      const double d = (hi - xs[j]) * scale;
      return d < double(B - 1) ? std::size_t(d) : B - 1;
    };
    std::memset(count, 0, B * sizeof count[0]);
    for (std::size_t b = 0; b < B; ++b) sum[b] = Sum{};
    if (first) {
      for (std::size_t j = 0; j < m0; ++j) {
        const std::size_t b = bucket(j);
        ++count[b];
        sum[b].add(w[j]);
      }
      for (std::size_t b = 0; b < B; ++b)  // the bucket sums in order, as the walk below adds them
        if (count[b]) wide_add(total, sum[b]);
      total.add(rest);
      target = wide_scale(p, total);
    } else {
      for (std::size_t k = 0; k < m; ++k) {
        const std::size_t b = bucket(cand[k]);
        ++count[b];
        sum[b].add(w[cand[k]]);
      }
    }
    // the bucket where the running weight reaches the target (the last non-empty one if rounding
    // leaves it short)
    std::size_t hit = B;
    for (std::size_t b = 0; b < B; ++b) {
      if (!count[b]) continue;
      WideSum t = before;
      wide_add(t, sum[b]);
      hit = b;
      if (wide_ge(t, target)) break;
      before = t;
    }
    // its candidates, in position order, and their range
    std::size_t k = 0;
    double nlo = std::numeric_limits<double>::infinity(), nhi = -nlo;
    const auto take = [&](std::uint32_t j) {
      cand[k] = j;
      const bool in = bucket(j) == hit;
      k += std::size_t(in);
      if (in) {
        nlo = xs[j] < nlo ? xs[j] : nlo;
        nhi = xs[j] > nhi ? xs[j] : nhi;
      }
    };
    if (first) {
      for (std::size_t j = 0; j < m0; ++j) take(std::uint32_t(j));
    } else {
      for (std::size_t j = 0; j < m; ++j) take(cand[j]);
    }
    m = k;
    lo = nlo;
    hi = nhi;
    first = false;
  }
  if (first) {  // few candidates or equal logits: all of them
    for (std::size_t j = 0; j < m0; ++j) {
      cand[j] = std::uint32_t(j);
      total.add(w[j]);
    }
    total.add(rest);
    target = wide_scale(p, total);
  }
  if (lo < hi)  // by logit, largest first, equal ones by position
    std::sort(cand, cand + m, [xs](std::uint32_t a, std::uint32_t b) { return xs[a] > xs[b] || (xs[a] == xs[b] && a < b); });
  SampleCut cut;
  cut.all = false;
  cut.pos = cand[m - 1];
  const auto margin = [](const WideSum& a, const WideSum& b) { return (a.hi - b.hi) + (a.lo - b.lo); };
  const double tol = double(m0 + 2 * B) * 0x1p-52 * total.value() + slack;
  *close = true;
  for (std::size_t j = 0; j < m; ++j) {
    const WideSum prev = before;
    before.add(w[cand[j]]);
    if (wide_ge(before, target)) {
      cut.pos = cand[j];
      *close = !(margin(before, target) > tol && margin(target, prev) > tol);
      break;
    }
  }
  return cut;
}

// The sum of a[0..n) for the normalisation, in four interleaved two-double sums (a plain double sum
// of many terms would cost the probabilities their last digits).
inline double sample_sum(const double* a, std::size_t n) noexcept {
  WideSum s0, s1, s2, s3;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) s0.add(a[i]), s1.add(a[i + 1]), s2.add(a[i + 2]), s3.add(a[i + 3]);
  for (; i < n; ++i) s0.add(a[i]);
  s0.add(s1);
  s2.add(s3);
  s0.add(s2);
  return s0.value();
}

// The weights w[j] = exp((x_i - b)/t) of the tokens i = idx[j] (idx null: i = j), j < m, in double
// (the kernel list's sample_quotients and vector exp, then the first-order correction), and their
// logits xs[j]; r: scratch. Returns the smallest finite logit among them.
template <class T>
inline double sample_weights(const T* x, const std::uint32_t* idx, std::size_t m, double b, double t, double* xs,
                             double* w, double* r) noexcept {
  const double xmin = kernels<T>().sample_quotients(x, idx, m, b, t, xs, w, r);
  kernels<double>().exp(w, w, m);
  for (std::size_t j = 0; j < m; ++j) w[j] *= 1 + r[j];
  return xmin;
}

// log P of token i of a row under softmax(x / t), the row's max b and log-sum L (its logsumexp minus
// b/t): (x_i - b)/t - L, the quotient as q + r (the kernel list's sample_quotients).
template <class T>
inline double sample_logprob(const T* x, std::size_t i, double b, double t, double L) noexcept {
  const std::uint32_t j = std::uint32_t(i);
  double a, q, r;
  kernels<T>().sample_quotients(x, &j, 1, b, t, &a, &q, &r);
  return q == -std::numeric_limits<double>::infinity() ? q : (q - L) + r;
}

// The result of one row: greedy (the token, at temperature 0), or the kept tokens idx[0..m) in
// index order (idx null: every token, 0..n) with their probabilities P[0..m). With logprobs asked
// for: the row's max and L = log Σ exp((x_j - max)/lt) at lt (the temperature; 1 for a greedy row);
// L is NaN where it is undefined (a greedy row holding +inf).
struct SampleKept {
  std::size_t greedy;  // < n at temperature 0
  const std::uint32_t* idx;
  const double* P;
  std::size_t m;
  double max = 0, L = 0, lt = 1;
  const std::int64_t* top = nullptr;  // the row's first ntop tokens in top_k's order, when known
  std::size_t ntop = 0;
  std::size_t token(std::size_t j) const noexcept { return idx ? idx[j] : j; }
};

// The k largest entries of x[0..n) in top_k's order (largest first, equal values by the lower index)
// into idx[0..k) (1 <= k <= n), the largest into *best; false when the row holds a NaN. Up to
// top_k_small_max the kernel list's top_k; beyond, std::nth_element over (value, index) pairs in es
// (room for n).
template <class T>
inline bool sample_select(const T* x, std::size_t n, std::size_t k, std::int64_t* idx, TopKEntry<T>* es,
                          T* best) noexcept {
  if (k <= kernel_types::top_k_small_max) {
    T vals[kernel_types::top_k_small_max];
    if (!kernels<T>().top_k(x, n, k, vals, idx)) return false;
    *best = vals[0];
    return true;
  }
  std::int64_t arg;
  if (!kernels<T>().top_k(x, n, 1, best, &arg)) return false;
  for (std::size_t j = 0; j < n; ++j) es[j] = {x[j], std::int64_t(j)};
  const auto before = [](const TopKEntry<T>& a, const TopKEntry<T>& c) { return a.v > c.v || (a.v == c.v && a.i < c.i); };
  if (k < n) std::nth_element(es, es + (k - 1), es + n, before);
  std::sort(es, es + k, before);
  for (std::size_t j = 0; j < k; ++j) idx[j] = es[j].i;
  return true;
}

// The kind of a row that cannot be sampled: NaN first, then +inf, else only -inf.
template <class T>
inline SampleRowError sample_row_kind(const T* x, std::size_t n) noexcept {
  bool nan = false, pinf = false;
  for (std::size_t i = 0; i < n; ++i) nan |= x[i] != x[i], pinf |= x[i] == std::numeric_limits<T>::infinity();
  return nan ? SampleRowError::nan : pinf ? SampleRowError::pos_inf : SampleRowError::all_neg_inf;
}

inline SampleRowError sample_scan_error(int kind) noexcept {
  return kind == 1 ? SampleRowError::nan : kind == 2 ? SampleRowError::pos_inf : SampleRowError::all_neg_inf;
}

// The kernel list's sample_scan of the row x[0..n) at temperature t. The float kernel holds t and
// 1/t as floats: outside [2^-100, 2^100] (or when asked for: wide) the row is widened into xd (n
// doubles) and scanned by the double kernel, its edges then rounded up to float (x < edge holds for
// the same float x).
template <class T>
inline void sample_scan_at(const T* x, std::size_t n, double t, const double* delta, std::size_t K, const T* known_max,
                           double* xd, kernel_types::SampleScan* sc, bool wide = false) noexcept {
  if constexpr (sizeof(T) == 4) {
    if ((wide || !(t >= 0x1p-100 && t <= 0x1p100)) && xd) {
      for (std::size_t i = 0; i < n; ++i) xd[i] = double(x[i]);
      const double km = known_max ? double(*known_max) : 0.0;
      kernels<double>().sample_scan(xd, n, t, delta, K, known_max ? &km : nullptr, sc);
      for (std::size_t j = 0; j < sc->edges; ++j) {
        const double e = sc->edge[j];
        T f = e < double(std::numeric_limits<T>::lowest()) ? -std::numeric_limits<T>::infinity() : T(e);
        if (double(f) < e) f = std::nextafter(f, std::numeric_limits<T>::infinity());
        sc->edge[j] = double(f);
      }
      return;
    }
  }
  kernels<T>().sample_scan(x, n, t, delta, K, known_max, sc);
}

// One row: x[0..n) contiguous (n >= 1), options checked; want_L: fill out->max, L, lt. Returns the
// row's error; *out as above (pointing into s) otherwise.
template <class T>
inline SampleRowError sample_row(const T* x, std::size_t n, const SampleRow& o, bool want_L, SampleScratch& s,
                                 SampleKept* out, bool* oom) noexcept {
  const auto& kt = kernels<T>();
  constexpr T pinf = std::numeric_limits<T>::infinity();
  constexpr std::size_t E = kernel_types::sample_edges;
  out->greedy = n;
  const double t = o.temperature;
  // L of the whole row at temperature lt (a pass over the row; no edges)
  const auto scan_L = [&](double lt, const T* known_max) {
    kernel_types::SampleScan sc;
    sample_scan_at(x, n, lt, nullptr, 0, known_max, s.cap >= n ? s.xd : nullptr, &sc);
    out->lt = lt;
    if (sc.kind != 0) {
      out->L = std::numeric_limits<double>::quiet_NaN();
      return sample_scan_error(sc.kind);
    }
    out->max = sc.max;
    out->L = sc.ties == 1 ? std::log1p(sc.rest) : std::log(sc.ties + sc.rest);
    return SampleRowError::none;
  };
  if (t == 0) {
    // greedy: the first largest logit (top_k's selection of one entry, which also finds a NaN)
    T best;
    std::int64_t arg;
    if (!kt.top_k(x, n, 1, &best, &arg)) return SampleRowError::nan;
    if (best == -pinf) return SampleRowError::all_neg_inf;
    out->greedy = std::size_t(arg);
    // a row holding +inf has no logprobs (L is NaN: the scan finds the +inf); t = 1: no widening
    if (want_L) scan_L(1.0, best < pinf ? &best : nullptr);
    return SampleRowError::none;
  }
  if (!s.reserve(n)) {
    *oom = true;
    return SampleRowError::none;
  }
  const std::size_t k = o.top_k == 0 || o.top_k >= n ? n : o.top_k;
  if (k < n) {
    // the k winners in order (the selection finds a NaN), then the top-p prefix of them
    const bool large = k > kernel_types::top_k_small_max;
    void* buf = s.reserve_sel(k * sizeof(std::int64_t) + (large ? n * sizeof(TopKEntry<T>) : 0));
    if (!buf) {
      *oom = true;
      return SampleRowError::none;
    }
    std::int64_t* idx = static_cast<std::int64_t*>(buf);
    T best;
    if (!sample_select(x, n, k, idx, reinterpret_cast<TopKEntry<T>*>(idx + k), &best)) return SampleRowError::nan;
    if (best == -pinf) return SampleRowError::all_neg_inf;
    if (best == pinf) return SampleRowError::pos_inf;
    // the winners' weights (only the kept set is renormalised: no sum over the row is needed)
    const double b = double(best);
    double* w = s.w;
    std::uint32_t* kept = s.cand;
    for (std::size_t j = 0; j < k; ++j) kept[j] = std::uint32_t(idx[j]);
    sample_weights(x, kept, k, b, t, s.xs, w, s.z);
    std::size_t last = k - 1;
    if (o.top_p < 1) {
      WideSum total, run;
      for (std::size_t j = 0; j < k; ++j) total.add(w[j]);
      const WideSum target = wide_scale(o.top_p, total);
      for (std::size_t j = 0; j < k; ++j) {
        run.add(w[j]);
        if (wide_ge(run, target)) {
          last = j;
          break;
        }
      }
    }
    // min-p against the top token's weight (w[0] = 1); the kept winners in index order, with their
    // weights
    const double floor_w = o.min_p > 0 ? o.min_p * w[0] : 0.0;
    std::uint32_t* pos = s.pos;
    std::size_t m = 0;
    for (std::size_t j = 0; j <= last; ++j)
      if (w[j] >= floor_w) pos[m++] = std::uint32_t(j);
    std::sort(pos, pos + m, [idx](std::uint32_t a, std::uint32_t c) { return idx[a] < idx[c]; });
    double* P = s.z;
    for (std::size_t j = 0; j < m; ++j) {
      kept[j] = std::uint32_t(idx[pos[j]]);
      P[j] = w[pos[j]];
    }
    const double S = sample_sum(P, m);
    for (std::size_t j = 0; j < m; ++j) P[j] /= S;
    *out = SampleKept{n, kept, P, m};
    out->top = idx;
    out->ntop = k;
    if (want_L) scan_L(t, &best);  // the selection found the max and no NaN
    return SampleRowError::none;
  }
  // The whole row: one scan gives its max, its sum, and the weight below a few edges, from which a
  // superset of the kept set follows (the candidates, one compare per token); only the candidates
  // are weighed exactly and cut.
  const bool by_p = o.top_p < 1, by_min_p = o.min_p > 0;
  double delta[E];
  std::size_t K = 0;
  if (by_p) {
    // The token that crosses top_p weighs more than (1 - top_p)·S/n (the rest of the order weighs
    // more than (1 - top_p)·S and holds at most n tokens), and S >= 1 (the max weighs 1): it lies
    // within D = log(n / (1 - top_p)) of the max (in units of t).
    const double D = std::log(double(n) / (1 - o.top_p)) + 0.01;
    // Four edges (each costs a compare and an add per token): the crossing usually lies between
    // D/2 and 3D/4 below the max, so the edges are denser there.
    static_assert(E == 4, "the edges below are four");
    K = E;
    const double f[E] = {0.5, 0.625, 0.75, 1.0};
    for (std::size_t j = 0; j < K; ++j) delta[j] = D * f[j];
  }
  if (!by_p && !by_min_p) {
    // every token: P = softmax(x / t), the softmax row kernel of the logits' type (lk.softmax's
    // values); a special row gives NaN there, and its kind is read again; the scan only for the
    // logprobs
    double* P = s.z;
    if constexpr (std::is_same_v<T, double>) {
      kernels<double>().softmax(x, P, n, t);
    } else {
      T* y = reinterpret_cast<T*>(s.xs);
      kernels<T>().softmax(x, y, n, t);
      for (std::size_t i = 0; i < n; ++i) P[i] = double(y[i]);
    }
    if (!(P[0] == P[0])) return sample_row_kind(x, n);
    *out = SampleKept{n, nullptr, P, n};
    if (want_L) scan_L(t, nullptr);
    return SampleRowError::none;
  }
  kernel_types::SampleScan sc;
  sample_scan_at(x, n, t, delta, K, static_cast<const T*>(nullptr), s.xd, &sc);
  if (sc.kind != 0) return sample_scan_error(sc.kind);
  out->max = sc.max;
  out->lt = t;
  out->L = sc.ties == 1 ? std::log1p(sc.rest) : std::log(sc.ties + sc.rest);
  const double b = sc.max;
  // the candidates: the tokens at or above an edge on the logits
  bool cands = true;
  T edge = -pinf;
  double rest = 0, slack = 0;
  // The kept set lies at or above edge j when the weight below it is at most (1 - top_p)·S. The
  // scan's sums err by at most rho relatively (kernels/sample.hpp: (sample_block + 3) roundings of
  // the lane type and exp's ulp, 21·2^-24 for float, with a margin) plus the dropped terms below
  // exp's range (tiny). Sets edge, rest (the weight below it) and slack (a bound of rest's error).
  // The choice decides speed only: with a wrong edge the cut finds no crossing among the candidates
  // (or a close one) and the decision falls to the float64 sums below.
  const auto choose = [&](const kernel_types::SampleScan& c) {
    const double rho = sizeof(T) == 4 ? 0x1p-19 : 0x1p-47;
    const double tiny = double(n) * (sizeof(T) == 4 ? 0x1p-124 : 0x1p-1020);
    const double S = c.ties + c.rest;
    for (std::size_t j = 0; j < c.edges; ++j) {
      if (c.below[j] * (1 + rho) + tiny <= (1 - o.top_p) * S * (1 - rho)) {
        edge = T(c.edge[j]);
        rest = c.below[j];
        slack = rest * rho + tiny;
        return true;
      }
    }
    return false;
  };
  if (by_p) {
    cands = choose(sc);
  } else {
    // min-p alone: w_i >= min_p exactly when x_i >= b + t·log(min_p); the edge a little below
    double c = b + t * std::log(o.min_p);
    c -= 0x1p-40 * (std::fabs(b) + std::fabs(c - b)) + 0x1p-1000;
    constexpr double lowest = double(std::numeric_limits<T>::lowest());
    edge = c < lowest ? -pinf : T(c);
    if (double(edge) > c) edge = std::nextafter(edge, -pinf);
  }
  // Weighs the m candidates exactly and cuts them; false when the cut is within the rest's error.
  const auto keep = [&](const std::uint32_t* idx, std::size_t m, double rest, double slack) {
    double* w = s.w;
    double* xs = s.xs;
    const double xmin = sample_weights(x, idx, m, b, t, xs, w, s.z);
    SampleCut cut;
    if (by_p) {
      bool close = false;
      cut = top_p_cut<PlainSum>(xs, w, m, o.top_p, rest, slack, xmin, b, s.pos, &close);
      if (close) cut = top_p_cut<WideSum>(xs, w, m, o.top_p, rest, slack, xmin, b, s.pos, &close);
      if (close && slack > 0) return false;
    }
    // kept: ahead of the cut and at or above the min-p floor (the max weighs exactly 1); written over
    // the candidates' slots (position k <= j)
    const double floor_w = by_min_p ? o.min_p : 0.0;
    const double xb = cut.all ? -std::numeric_limits<double>::infinity() : xs[cut.pos];
    const std::size_t pb = cut.all ? m : cut.pos;
    std::uint32_t* kept = s.cand;
    double* P = s.z;
    std::size_t c = 0;
    for (std::size_t j = 0; j < m; ++j) {  // without branches: the kept tokens are few or many
      const bool ahead = (xs[j] > xb) | ((xs[j] == xb) & (j <= pb));
      kept[c] = idx ? idx[j] : std::uint32_t(j);
      P[c] = w[j];
      c += std::size_t(ahead & (w[j] >= floor_w));
    }
    const double iS = 1 / sample_sum(P, c);
    for (std::size_t j = 0; j < c; ++j) P[j] *= iS;
    *out = SampleKept{n, kept, P, c, out->max, out->L, out->lt};
    return true;
  };
  const std::size_t mc = cands ? kt.sample_at_least(x, n, edge, s.cand) : 0;
  if (cands && keep(s.cand, mc, rest, slack)) return SampleRowError::none;
  if constexpr (sizeof(T) == 4) {
    // The crossing lies within the float scan's error: the row's sum again in double (the double
    // kernel on the row widened, to about 2^-47), and the rest as that sum minus the candidates'
    // exact weights (left in s.w by the failed cut), then the same cut with that rest.
    if (cands) {
      kernel_types::SampleScan wide;
      sample_scan_at(x, n, t, nullptr, 0, static_cast<const T*>(nullptr), s.xd, &wide, true);
      const double S = wide.ties + wide.rest, r2 = S - sample_sum(s.w, mc);
      if (wide.kind == 0 && r2 >= 0 && keep(s.cand, mc, r2, S * 0x1p-45 + double(n) * 0x1p-1020))
        return SampleRowError::none;
    }
  }
  keep(nullptr, n, 0.0, 0.0);  // every token: exact, as the candidates are not decisive
  return SampleRowError::none;
}

// The inverse-CDF draw over the kept tokens (index order): C_j, the kept probabilities summed up to
// token j, is taken by blocks of sample_draw_block token indices: P summed left to right within a
// block (B_b, its whole sum), the blocks' sums added left to right (prefix_b), C_j = prefix_b +
// (the block's sum up to j). The token is the first with C_j > u · C_total (C_total = the prefix
// after the last block; the last kept token with P > 0 when rounding leaves none). The blocks make
// the sums of a long row independent chains; the result is a function of P and u alone.
constexpr std::size_t sample_draw_block = 64;
// bsum, first: room for min(m, C / sample_draw_block + 1) block sums and first positions.
inline std::size_t sample_draw(const SampleKept& k, double u, double* bsum, std::uint32_t* first) noexcept {
  constexpr std::size_t L = sample_draw_block;
  const std::size_t m = k.m;
  // the blocks' sums (bsum[b], b < nb) and, for each, the first kept position in it (first[b])
  std::size_t nb = 0;
  if (!k.idx) {
    // dense: four blocks at a time, each summed left to right
    const std::size_t full = m / L;
    std::size_t b = 0;
    for (; b + 4 <= full; b += 4) {
      const double* p = k.P + b * L;
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (std::size_t j = 0; j < L; ++j) {
        s0 += p[j];
        s1 += p[L + j];
        s2 += p[2 * L + j];
        s3 += p[3 * L + j];
      }
      bsum[b] = s0, bsum[b + 1] = s1, bsum[b + 2] = s2, bsum[b + 3] = s3;
    }
    for (; b * L < m; ++b) {
      double s0 = 0;
      for (std::size_t j = b * L; j < m && j < (b + 1) * L; ++j) s0 += k.P[j];
      bsum[b] = s0;
    }
    nb = b;
    for (std::size_t c = 0; c < nb; ++c) first[c] = std::uint32_t(c * L);
  } else {
    std::size_t cur = std::size_t(-1);
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t blk = k.idx[j] / L;
      if (blk != cur) {
        cur = blk;
        first[nb] = std::uint32_t(j);
        bsum[nb++] = 0;
      }
      bsum[nb - 1] += k.P[j];
    }
  }
  double total = 0;
  for (std::size_t c = 0; c < nb; ++c) total += bsum[c];
  const double t = u * total;
  double prefix = 0;
  for (std::size_t c = 0; c < nb; ++c) {
    if (prefix + bsum[c] > t) {
      const std::size_t end = c + 1 < nb ? first[c + 1] : m;
      double part = 0;
      for (std::size_t j = first[c]; j < end; ++j) {
        part += k.P[j];
        if (prefix + part > t) return k.token(j);
      }
    }
    prefix += bsum[c];
  }
  std::size_t last = m - 1;  // none: the last kept token with P > 0
  while (last > 0 && !(k.P[last] > 0)) --last;
  return k.token(last);
}

inline SampleRow sample_row_options(const SampleOptions& o, std::size_t r) noexcept {
  SampleRow s{o.temperature, o.top_k, o.top_p, o.min_p};
  if (!o.temperatures.empty()) s.temperature = o.temperatures[r];
  if (!o.top_ks.empty()) s.top_k = std::size_t(o.top_ks[r]);
  if (!o.top_ps.empty()) s.top_p = o.top_ps[r];
  if (!o.min_ps.empty()) s.min_p = o.min_ps[r];
  return s;
}

inline Status sample_check_value(const char* name, const char* what, double v, bool ok, bool per_row, std::size_t r) noexcept {
  if (ok) return {};
  Status s = fail(Errc::invalid_argument, name, what);
  s.has_value = true;
  s.value = v;
  if (per_row) s.has_row = true, s.row = r;
  return s;
}

inline Status sample_check_options(const SampleOptions& o, std::size_t rows) noexcept {
  const auto t_ok = [](double t) { return t >= 0 && std::isfinite(t); };
  const auto p_ok = [](double p) { return p > 0 && p <= 1; };
  const auto m_ok = [](double p) { return p >= 0 && p <= 1; };
  if (Status s = sample_check_value("temperature", "must be a finite number >= 0", o.temperature,
                                    t_ok(o.temperature), false, 0); !s) return s;
  if (Status s = sample_check_value("top_p", "must be in (0, 1]", o.top_p, p_ok(o.top_p), false, 0); !s) return s;
  if (Status s = sample_check_value("min_p", "must be in [0, 1]", o.min_p, m_ok(o.min_p), false, 0); !s) return s;
  const auto sized = [rows](const auto& v, const char* name) -> Status {
    if (v.empty() || v.size == rows) {
      if (!has_data(v)) return fail(Errc::null_pointer, name, "null data for a non-empty view");
      return {};
    }
    return fail(Errc::shape_mismatch, name, "must have one value per row (or none)");
  };
  if (Status s = sized(o.temperatures, "temperature"); !s) return s;
  if (Status s = sized(o.top_ks, "top_k"); !s) return s;
  if (Status s = sized(o.top_ps, "top_p"); !s) return s;
  if (Status s = sized(o.min_ps, "min_p"); !s) return s;
  for (std::size_t r = 0; r < o.temperatures.size; ++r)
    if (Status s = sample_check_value("temperature", "must be a finite number >= 0", o.temperatures[r],
                                      t_ok(o.temperatures[r]), true, r); !s) return s;
  for (std::size_t r = 0; r < o.top_ks.size; ++r)
    if (Status s = sample_check_value("top_k", "must be >= 0", double(o.top_ks[r]), o.top_ks[r] >= 0, true, r); !s)
      return s;
  for (std::size_t r = 0; r < o.top_ps.size; ++r)
    if (Status s = sample_check_value("top_p", "must be in (0, 1]", o.top_ps[r], p_ok(o.top_ps[r]), true, r); !s)
      return s;
  for (std::size_t r = 0; r < o.min_ps.size; ++r)
    if (Status s = sample_check_value("min_p", "must be in [0, 1]", o.min_ps[r], m_ok(o.min_ps[r]), true, r); !s)
      return s;
  return {};
}

inline const char* sample_row_message(SampleRowError e) noexcept {
  switch (e) {
    case SampleRowError::nan: return "a row containing NaN cannot be sampled";
    case SampleRowError::pos_inf: return "a row containing +inf cannot be sampled at a temperature > 0";
    case SampleRowError::all_neg_inf: return "a row of only -inf has no token to sample";
    default: return "";
  }
}

// Rows of sample (tokens) or sample_proba (probs), split by par; the first failing row reported.
// want_L: each row's SampleKept carries max and L (logprobs). out(r, row, kept), row: the row's logits
// (contiguous).
template <class T, class Par, class Out>
inline Status sample_rows(const MatrixView<const T>& logits, const SampleOptions& o, bool want_L, Par&& par,
                          Out&& out) noexcept {
  if (logits.rows == 0) return {};
  // the first failing row and its kind, as row · 4 + kind (the smallest wins)
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  std::atomic<std::size_t> first_bad{none};
  std::atomic<bool> oom{false};
  par(logits.rows, logits.cols, [&](std::size_t b, std::size_t e) {
    SampleScratch& s = sample_scratch();
    Scratch<T> xbuf(logits.col_stride == 1 ? 0 : logits.cols);
    if (logits.col_stride != 1 && !xbuf.get()) {
      oom.store(true, std::memory_order_relaxed);
      return;
    }
    for (std::size_t r = b; r < e; ++r) {
      const T* row = row_in(logits, r, xbuf.get());
      SampleKept kept{};
      bool o2 = false;
      const SampleRowError err = sample_row<T>(row, logits.cols, sample_row_options(o, r), want_L, s, &kept, &o2);
      if (o2) {
        oom.store(true, std::memory_order_relaxed);
        return;
      }
      if (err != SampleRowError::none) {
        const std::size_t code = r * 4 + std::size_t(err);
        std::size_t cur = first_bad.load(std::memory_order_relaxed);
        while (code < cur && !first_bad.compare_exchange_weak(cur, code, std::memory_order_relaxed)) {
        }
        return;  // later rows of this part cannot be the first bad one
      }
      if (!out(r, row, kept)) {
        oom.store(true, std::memory_order_relaxed);
        return;
      }
    }
  });
  if (oom.load()) return fail(Errc::out_of_memory, "logits", "no memory for the buffers of a row");
  const std::size_t code = first_bad.load();
  if (code == none) return {};
  const auto k = SampleRowError(code % 4);
  const double v = k == SampleRowError::nan ? std::numeric_limits<double>::quiet_NaN()
                   : k == SampleRowError::pos_inf ? std::numeric_limits<double>::infinity()
                                                  : -std::numeric_limits<double>::infinity();
  return fail_at(Errc::invalid_argument, "logits", sample_row_message(k), v, code / 4);
}

}  // namespace detail

// The logprobs of sample (docs/semantics.md, "Sampling"): chosen[r], the log-probability of row r's
// token, and top_tokens(r, j), top_logprobs(r, j) for j < n = top_tokens.cols, the row's n most
// likely tokens (largest logit first, equal logits by the lower index) and theirs; all under
// softmax(logits / temperature) before top-k, top-p and min-p (a greedy row: at temperature 1; NaN
// where that is undefined, a greedy row holding +inf). Accurate to the logits' type: the row's
// log-sum is the max-relative sum of the kernels (float: within a few ulps of float). Any view may
// be empty (not computed).
struct SampleLogprobs {
  VectorView<double> chosen{};
  MatrixView<std::int64_t> top_tokens{};
  MatrixView<double> top_logprobs{};
};

namespace detail {

// The first n >= 1 tokens of a row in top_k's order into idx[0..n) (n <= C; the row has no NaN);
// false when the scratch cannot be had.
template <class T>
inline bool sample_top_n(const T* x, std::size_t C, std::size_t n, SampleScratch& s, std::int64_t* idx) noexcept {
  void* es = n > kernel_types::top_k_small_max ? s.reserve_sel(C * sizeof(TopKEntry<T>)) : s.sel;
  if (n > kernel_types::top_k_small_max && !es) return false;
  T best;
  sample_select(x, C, n, idx, static_cast<TopKEntry<T>*>(es), &best);
  return true;
}

template <class T, class Par>
inline Status sample_impl(MatrixView<const T> logits, VectorView<const double> uniforms, VectorView<std::int64_t> tokens,
                          const SampleLogprobs& lp, const SampleOptions& options, Par&& par) noexcept {
  if (!has_data(logits)) return fail(Errc::null_pointer, "logits", "null data for a non-empty view");
  if (logits.rows > 0 && logits.cols == 0) return fail(Errc::shape_mismatch, "logits", "a row needs at least one class");
  if (logits.cols > std::size_t(0xffffffffu)) return fail(Errc::shape_mismatch, "logits", "at most 2^32 - 1 classes");
  if (uniforms.size != logits.rows) return fail(Errc::shape_mismatch, "uniforms", "must have one value per row");
  if (tokens.size != logits.rows) return fail(Errc::shape_mismatch, "tokens", "must have one value per row");
  if (!has_data(uniforms)) return fail(Errc::null_pointer, "uniforms", "null data for a non-empty view");
  if (!has_data(tokens)) return fail(Errc::null_pointer, "tokens", "null data for a non-empty view");
  if (!lp.chosen.empty() && lp.chosen.size != logits.rows)
    return fail(Errc::shape_mismatch, "chosen", "must have one value per row (or none)");
  if (!has_data(lp.chosen)) return fail(Errc::null_pointer, "chosen", "null data for a non-empty view");
  const std::size_t n = lp.top_tokens.cols;
  if (lp.top_tokens.rows != (n ? logits.rows : lp.top_tokens.rows) || lp.top_logprobs.rows != lp.top_tokens.rows ||
      lp.top_logprobs.cols != n)
    return fail(Errc::shape_mismatch, "top_tokens", "top_tokens and top_logprobs must be rows × n, n alike");
  if (n > logits.cols) return fail(Errc::shape_mismatch, "top_tokens", "n must be at most the number of classes");
  if (!has_data(lp.top_tokens)) return fail(Errc::null_pointer, "top_tokens", "null data for a non-empty view");
  if (!has_data(lp.top_logprobs)) return fail(Errc::null_pointer, "top_logprobs", "null data for a non-empty view");
  if (Status s = sample_check_options(options, logits.rows); !s) return s;
  for (std::size_t r = 0; r < uniforms.size; ++r)
    if (!(uniforms[r] >= 0 && uniforms[r] < 1))
      return fail_at(Errc::invalid_argument, "uniforms", "must be in [0, 1)", uniforms[r], r);
  const std::size_t C = logits.cols;
  const bool want_L = !lp.chosen.empty() || n > 0;
  return sample_rows<T>(logits, options, want_L, par, [&](std::size_t r, const T* row, const SampleKept& k) {
    SampleScratch& s = sample_scratch();
    const std::size_t tok = k.greedy < C ? k.greedy : sample_draw(k, uniforms[r], s.w, s.pos);
    tokens[r] = std::int64_t(tok);
    if (!want_L) return true;
    const auto logprob = [&](std::size_t i) { return sample_logprob(row, i, k.max, k.lt, k.L); };
    if (!lp.chosen.empty()) lp.chosen[r] = logprob(tok);
    if (n == 0) return true;
    if (k.ntop >= n) {  // the top-k selection's first n
      for (std::size_t j = 0; j < n; ++j) lp.top_tokens(r, j) = k.top[j];
    } else if (lp.top_tokens.col_stride == 1) {
      if (!sample_top_n(row, C, n, s, lp.top_tokens.row(r))) return false;
    } else {  // into the scratch, then copied
      if (!s.reserve(C)) return false;
      std::int64_t* top = reinterpret_cast<std::int64_t*>(s.w);
      if (!sample_top_n(row, C, n, s, top)) return false;
      for (std::size_t j = 0; j < n; ++j) lp.top_tokens(r, j) = top[j];
    }
    for (std::size_t j = 0; j < n; ++j) lp.top_logprobs(r, j) = logprob(std::size_t(lp.top_tokens(r, j)));
    return true;
  });
}

}  // namespace detail

// One token per row of logits (rows × C, C >= 1), drawn with the caller's uniforms[r] in [0, 1)
// (docs/semantics.md, "Sampling": temperature, top-k, top-p, min-p, then the inverse-CDF draw of
// the kept set in index order); tokens[r] in [0, C). The same uniforms give the same tokens for any
// split of the rows. Errors: an option out of range (argument "temperature", "top_k", "top_p",
// "min_p"; a per-row value with its row), uniforms or tokens not one per row (shape_mismatch), a
// uniform outside [0, 1) ("uniforms"), a row holding NaN, a row of only -inf, or a row holding
// +inf at a temperature > 0 (argument "logits", row = the first such row; tokens unspecified).
// Buffers: per thread, kept for the thread's next call (new(std::nothrow); out_of_memory if it fails).
template <class T, class Par = detail::SerialFor>
inline Status sample(MatrixView<const detail::id_t<T>> logits, VectorView<const double> uniforms,
                     VectorView<std::int64_t> tokens, const SampleOptions& options = {}, Par&& par = {}) noexcept {
  static_assert(detail::is_real_v<T>, "logitkit works on float and double");
  return detail::sample_impl<T>(logits, uniforms, tokens, SampleLogprobs{}, options, par);
}

// sample, and the logprobs of its tokens (SampleLogprobs above; errors also for its views' shapes:
// argument "chosen" or "top_tokens").
template <class T, class Par = detail::SerialFor>
inline Status sample(MatrixView<const detail::id_t<T>> logits, VectorView<const double> uniforms,
                     VectorView<std::int64_t> tokens, const SampleLogprobs& logprobs, const SampleOptions& options = {},
                     Par&& par = {}) noexcept {
  static_assert(detail::is_real_v<T>, "logitkit works on float and double");
  return detail::sample_impl<T>(logits, uniforms, tokens, logprobs, options, par);
}

// The distribution sample draws from (rows × C, C >= 1): P of docs/semantics.md, "Sampling" (0
// outside the kept set; one-hot at the first largest logit at temperature 0), rounded to T.
// Errors as sample's.
template <class T, class Par = detail::SerialFor>
inline Status sample_proba(MatrixView<const detail::id_t<T>> logits, MatrixView<T> probs,
                           const SampleOptions& options = {}, Par&& par = {}) noexcept {
  static_assert(detail::is_real_v<T>, "logitkit works on float and double");
  if (!detail::has_data(logits)) return detail::fail(Errc::null_pointer, "logits", "null data for a non-empty view");
  if (logits.rows > 0 && logits.cols == 0)
    return detail::fail(Errc::shape_mismatch, "logits", "a row needs at least one class");
  if (logits.cols > std::size_t(0xffffffffu))
    return detail::fail(Errc::shape_mismatch, "logits", "at most 2^32 - 1 classes");
  if (Status s = detail::same_shape(logits, probs, "probs"); !s) return s;
  if (Status s = detail::sample_check_options(options, logits.rows); !s) return s;
  const std::size_t C = logits.cols;
  return detail::sample_rows<T>(logits, options, false, par, [&](std::size_t r, const T*, const detail::SampleKept& k) {
    if (k.greedy < C || k.idx) {
      for (std::size_t c = 0; c < C; ++c) probs(r, c) = T(c == k.greedy ? 1 : 0);
      if (k.greedy < C) return true;
      for (std::size_t j = 0; j < k.m; ++j) probs(r, k.idx[j]) = T(k.P[j]);
    } else {
      for (std::size_t c = 0; c < C; ++c) probs(r, c) = T(k.P[c]);
    }
    return true;
  });
}

}  // namespace LOGITKIT_API_NAMESPACE
}  // namespace logitkit
