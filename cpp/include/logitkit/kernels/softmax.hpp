// Row kernels: softmax, log_softmax and logsumexp of contiguous rows, optionally at a temperature,
// and which strategy each row takes. Every strategy computes the quantities of the max-relative
// algorithm (docs/numerics.md, "Row-wise functions: softmax, log_softmax, logsumexp"); the faster
// ones do it in fewer passes where that is exact enough, and decline the rows where it is not.
//
//   row/short_rows.hpp    rows shorter than four vectors at temperature 1: V::size rows at a time,
//                         one row per lane (a reduction per row would cost more than the row).
//   row/short_whole.hpp   softmax (not in place) and logsumexp rows of one to three whole vectors,
//                         float log_softmax rows of two or three (AVX2, AVX-512), at temperature 1:
//                         the direct sum where each row lies, several rows' sums through one
//                         transposition.
//   row/row_groups.hpp    log_softmax and logsumexp rows of four vectors or more at temperature 1:
//                         direct sums of up to 16 rows, their exps and logs together in vector lanes.
//   row/direct_sum.hpp    softmax rows at temperature 1, not in place: S = Σ exp(x_j) without a max
//                         pass, then y = exp(x)·(1/S); long rows queue each output pass into the
//                         next row's sum pass (row/output_queue.hpp).
//   row/top_heavy.hpp     rows with one entry above half the mass, after a direct sum: S' from the
//                         exps already computed.
//   row/max_relative.hpp  everything else, and every row the others decline: temperatures, NaN,
//                         infinities, logits outside exp's normal range.
//   row/wide.hpp          the max-relative path's fallback in a wider type: extreme temperatures,
//                         x - m overflowing, logsumexp cancelling.
//
// temp > 0 finite (the bindings check it); temp == 1 takes the paths without a temperature.
// Invariant: a row's result depends only on the row, its length, the temperature and whether it is
// computed in place (softmax in place skips the direct path, which would lose its input when it
// declines): never on the rows around it, on how many come together, or on the thread
// (tests/test_layouts.py, tests/cpp/test_kernels.cpp).
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>

#include "common.hpp"
#include "row/direct_sum.hpp"
#include "row/max_relative.hpp"
#include "row/row_groups.hpp"
#include "row/short_whole.hpp"
#include "row/short_rows.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// Rows of n at this temperature take the short-row kernel: V::size of them in one vector pass.
template <class V>
inline bool short_rows(std::size_t n, double temp) {
  return temp == 1.0 && n >= 2 && n < short_rows_below<V>;
}

// Rows of n at this temperature take row groups (log_softmax, logsumexp) or the direct path
// (softmax): long enough that their vector loop dominates.
template <class V>
inline bool group_rows(std::size_t n, double temp) {
  return temp == 1.0 && n >= 4 * std::size_t(V::size);
}

// log_softmax of `rows` contiguous rows of n (row i at x + i·n); y may equal x.
template <class V>
inline void log_softmax_rows(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) {
    if (short_whole_fits_lsm<V>(n)) return log_softmax_rows_whole<V>(x, y, rows, n);
    return rows_short<V, ShortKind::log_softmax>(x, y, rows, n);
  }
  if (group_rows<V>(n, temp)) return log_softmax_rows_grouped<V>(x, y, rows, n);
  for (std::size_t r = 0; r < rows; ++r) log_softmax_row_maxrel<V>(x + r * n, y + r * n, n, temp);
}

// softmax of `rows` contiguous rows of n; y may equal x. Rows over kRowGroupMaxN / 2 (a group of
// one each), not in place, queue each row's last pass into the next row's sum pass.
template <class V>
inline void softmax_rows(const scalar_t<V>* x, scalar_t<V>* y, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) {
    if (x != y && short_whole_fits<V>(n)) return softmax_rows_whole<V>(x, y, rows, n);
    return rows_short<V, ShortKind::softmax>(x, y, rows, n);
  }
  if (group_rows<V>(n, temp) && rows_per_group(n) == 1 && x != y) return softmax_rows_queued<V>(x, y, rows, n);
  MaskedRows masked;
  for (std::size_t r = 0; r < rows; ++r) softmax_row_direct_or_maxrel<V>(x + r * n, y + r * n, n, temp, &masked);
}

// out[r] = logsumexp of row r of `rows` contiguous rows of n.
template <class V>
inline void logsumexp_rows(const scalar_t<V>* x, scalar_t<V>* out, std::size_t rows, std::size_t n, double temp) {
  if (short_rows<V>(n, temp)) {
    if (short_whole_fits_lse<V>(n)) return logsumexp_rows_whole<V>(x, out, rows, n);
    return rows_short<V, ShortKind::logsumexp>(x, out, rows, n);
  }
  if (group_rows<V>(n, temp)) return logsumexp_rows_grouped<V>(x, out, rows, n);
  for (std::size_t r = 0; r < rows; ++r) out[r] = logsumexp_row_maxrel<V>(x + r * n, n, temp);
}

// One row: a batch of one, so that a row gets the same bits alone as in a batch.
template <class V>
inline void log_softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  log_softmax_rows<V>(x, y, 1, n, temp);
}
template <class V>
inline void softmax_row(const scalar_t<V>* x, scalar_t<V>* y, std::size_t n, double temp) {
  softmax_rows<V>(x, y, 1, n, temp);
}
template <class V>
inline scalar_t<V> logsumexp_row(const scalar_t<V>* x, std::size_t n, double temp) {
  scalar_t<V> r;
  logsumexp_rows<V>(x, &r, 1, n, temp);
  return r;
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
