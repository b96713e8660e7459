// Multi-threading of the ufunc inner loops: rows (or, for the elementwise functions, blocks of
// elements) are split into contiguous parts, one per thread, when the call is large enough to pay
// for waking the threads. Every row or element is computed by the same kernel whichever thread runs
// it, so results are bit-identical to a single-threaded run. NumPy releases the GIL around our
// loops (they need no Python API), so the workers never touch Python.
//
// The pool is created on first use with set_num_threads(n) - 1 workers (default: every core the
// process may run on; LOGITKIT_NUM_THREADS or logitkit.set_num_threads change it). A call made while
// another thread is using the pool (e.g. Dask's own threads) runs single-threaded instead of
// waiting. The workers take the calling thread's MXCSR control bits (rounding mode, FTZ/DAZ). After
// fork() the child starts a fresh pool.
#pragma once
#include <cstddef>
#include <functional>

#include <numpy/npy_common.h>

namespace logitkit::bindings {

int num_threads();
void set_num_threads(int n);
int default_num_threads();

// Work below this many elements (rows × row length, or elements) runs on the calling thread; each
// part gets at least this much.
constexpr npy_intp parallel_grain = npy_intp(1) << 15;

// Runs fn(part) for part in [0, parts) on the pool (the caller runs part 0); false if the pool is
// busy with another caller (nothing was run).
bool run_parallel(int parts, const std::function<void(int)>& fn);

// body(begin, end) over [0, N), split into contiguous parts of whole `align`-multiples when
// N·cost (elements of work) is large enough, else in one call on this thread.
template <class F>
inline void parallel_for(npy_intp N, npy_intp cost, npy_intp align, F&& body) {
  const npy_intp work = N * (cost > 0 ? cost : 1);
  npy_intp parts = work / parallel_grain;
  const npy_intp threads = num_threads();
  if (parts > threads) parts = threads;
  if (parts > N / align) parts = N / align;
  if (parts >= 2) {
    // part p covers [b(p), b(p+1)), boundaries rounded down to multiples of align
    auto bound = [&](npy_intp p) -> npy_intp {
      if (p >= parts) return N;
      return (N / align * p / parts) * align;
    };
    const bool ran = run_parallel(int(parts), [&](int p) {
      const npy_intp b = bound(p), e = bound(p + 1);
      if (b < e) body(b, e);
    });
    if (ran) return;
  }
  body(npy_intp(0), N);
}

}  // namespace logitkit::bindings
