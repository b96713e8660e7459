// Cross-entropy with hard labels and its gradient over a batch of rows (the kernel list's
// cross_entropy_hard_rows): each row's gradient pass queued to run inside the next row's sum pass,
// as softmax's long rows queue their scaling (row/output_queue.hpp). The gradient pass of the direct
// path (ce_direct.hpp, pass 2) is a load, two multiplications and a store per vector, waiting on the
// caches; the sum pass is arithmetic: together they overlap. Kept while it pays (docs/architecture.md,
// "Fast paths"): bench/compare.py case cross_entropy+grad/4096x1000.
//
// On 64-byte vectors (AVX-512); narrower ones take the rows one at a time (see ce_hard_rows).
// Only rows without class weights, label smoothing (+0) or temperature, their gradient rows apart
// from each other and from the logits (the callers check: api.hpp's ce_hard, the gufunc loop of cpp/bindings/register_losses.cpp),
// whose gradient pass then scales the row's exps by one factor (and, for a confident row whose label
// holds the max, sums the other classes' exps, R). A row the direct path declines takes
// ce_hard_row's max-relative path (ce_hard_declined) once the queue is empty; an ignored row (label
// < 0) ce_hard_row itself.
//
// Invariant: every row's loss and gradient have the bits ce_hard_row gives that row alone: the
// queued pass performs ce_direct's operations in the same order (R in LossAcc's blocks), and the
// label's entry is written after it, as ce_hard_row writes it after its pass
// (tests/cpp/test_kernels.cpp, test_ce_hard_rows).
#pragma once
#include "../../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>

#include "../../math/libm.hpp"
#include "../common.hpp"
#include "../losses.hpp"
#include "../row/direct_sum.hpp"
#include "loss_sum.hpp"

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

// One row's pending gradient pass (row_direct_sum's side job: step() does four vectors, finish()
// the rest, then the label's entry and the row's loss). At most one row is pending.
template <class V>
struct CeGradQueue {
  using T = scalar_t<V>;
  static constexpr std::size_t W = V::size;
  T* grad = nullptr;  // the row's exps, scaled in place into its gradient
  std::size_t n = 0, off = 0;
  bool pending = false, top = false;
  V vc = V::zero(), vg = V::zero();
  LossAcc<V> acc;  // R, for a top row
  double S = 0;
  std::int64_t t = 0;
  T xt = 0, g = 0;
  T* loss = nullptr;

  void push(T* grad_row, std::size_t len, double sum, std::int64_t label, T x_label, T scale, bool is_top,
            T* loss_slot) {
    grad = grad_row;
    n = len;
    off = 0;
    S = sum;
    t = label;
    xt = x_label;
    g = scale;
    top = is_top;
    loss = loss_slot;
    vc = V::set1(T(1.0 / sum));  // coef/S, coef = 1 without weights or smoothing
    vg = V::set1(scale);
    acc = LossAcc<V>{};
    pending = true;
  }
  // ce_direct's pass 2 over [i, end): g·(e·coef/S - a_c) with a_c = 0, R += e for a top row; R's
  // block sums flushed where LossAcc::over_row flushes them (after every kBlock vectors, and after
  // the last whole vector).
  LOGITKIT_INLINE void run(std::size_t i, std::size_t end) {
    const V na = neg(V::zero());
    for (; i + W <= end; i += W) {
      const V e = V::load(grad + i);
      if (top) acc.add(e);
      store(grad + i, vg * mul_add(e, vc, na));
      if (top && ((i / W + 1) % LossAcc<V>::kBlock == 0 || i + 2 * W > n)) acc.flush();
    }
    if (i < end) {
      const V e = load_partial<V>(grad + i, end - i, T(0));
      if (top) acc.add(e);
      store_partial(grad + i, vg * mul_add(e, vc, na), end - i);
    }
  }
  LOGITKIT_INLINE void step() {
    if (!pending) return;
    if (off + 4 * W < n) {
      run(off, off + 4 * W);
      off += 4 * W;
    } else {
      run(off, n);
      complete();
    }
  }
  void finish() {
    if (!pending) return;
    run(off, n);
    complete();
  }
  // ce_hard_row's steps after its direct pass, with ε = 0 and w_t = 1.
  void complete() {
    pending = false;
    bool flagged = false;
    const T inf = lim<V>::inf, W_sum = T(n), wt = T(1), eps = T(0), add = T(0);
    const double coef = 1.0;
    if (top) {
      const double rest = acc.sum(), et = math::libm_exp(double(xt));
      grad[t] = ce_label_entry<T>(et / (et + rest), -rest / (et + rest), eps, wt, add, W_sum, coef, inf, g, flagged);
      *loss = ce_direct_loss<T>(S, 0.0, rest, et, xt, wt, eps);
    } else {
      const double pt = math::libm_exp(double(xt)) / S;
      grad[t] = ce_label_entry<T>(pt, pt - 1.0, eps, wt, add, W_sum, coef, inf, g, flagged);
      *loss = ce_direct_loss<T>(S, 0.0, -1.0, 0.0, xt, wt, eps);
    }
  }
};

// loss[r] and gradient row r of `rows` rows of n as ce_hard_row(x_r, n, t[r], nullptr, n, 0, g[r],
// grad_r, 1) gives them: row r's logits at x + r·x_stride, its gradient at grad + r·grad_stride
// (overlapping no other gradient row and no logits row), its label t[r] < n (< 0: ignored).
template <class V>
inline void ce_hard_rows(const scalar_t<V>* x, std::ptrdiff_t x_stride, scalar_t<V>* grad, std::ptrdiff_t grad_stride,
                         std::size_t rows, std::size_t n, const std::int64_t* t, const scalar_t<V>* g,
                         scalar_t<V>* loss) {
  using T = scalar_t<V>;
  if constexpr (V::size * sizeof(T) < 64) {
    // Vectors narrower than 64 bytes (AVX2, SSE2, NEON, scalar): the sum pass takes twice the
    // instructions or more per byte and is bound by them, leaving no memory wait for a queued pass
    // to fill; the rows go one at a time.
    for (std::size_t r = 0; r < rows; ++r)
      loss[r] = ce_hard_row<V>(x + std::ptrdiff_t(r) * x_stride, n, t[r], nullptr, T(n), T(0), g[r],
                               grad + std::ptrdiff_t(r) * grad_stride, 1.0);
  } else {
    CeGradQueue<V> queue;
    MaskedRows masked;  // masked rows as ce_direct takes them (the same bits)
    for (std::size_t r = 0; r < rows; ++r) {
      const T* xr = x + std::ptrdiff_t(r) * x_stride;
      T* gr = grad + std::ptrdiff_t(r) * grad_stride;
      const std::int64_t tr = t[r];
      if (tr < 0 || n == 0) {
        queue.finish();
        loss[r] = ce_hard_row<V>(xr, n, tr, nullptr, T(n), T(0), g[r], gr, 1.0);
        continue;
      }
      const T xt = xr[tr];
      double S = 0;
      T m = 0;
      const bool ok = row_direct_sum<V, true>(xr, n, S, m, gr, &masked, &queue) && xt >= -direct_sum_limit<T>;
      queue.finish();
      if (!ok) {
        const CeFix<V> no_fix{lim<V>::inf, false};  // (ce_fix_setup's answer without smoothing)
        loss[r] = ce_hard_declined<V>(xr, n, tr, nullptr, T(n), T(0), g[r], gr, no_fix, false, m, xt);
        continue;
      }
      // a top-heavy row stays on the direct path with a hard label (ce_direct): below the max as any
      // other row, on the max with R summed in the gradient pass (the label's exp out of it)
      const bool top = math::libm_exp(double(m)) > 0.5 * S && xt == m;
      if (top) gr[tr] = T(0);
      queue.push(gr, n, S, tr, xt, g[r], top, loss + r);
    }
    queue.finish();
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
