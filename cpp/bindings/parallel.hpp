// Multi-threading of the ufunc inner loops: rows (or, for the elementwise functions, blocks of
// elements) are split into contiguous parts when the call is large enough to pay for waking the
// threads. The parts depend on the call and the thread count only; the threads claim them in any
// order, and every row or element is computed by the same kernel whichever thread runs it, so
// results are bit-identical to a single-threaded run. NumPy releases the GIL around our loops
// (they need no Python API), so the workers never touch Python.
//
// The pool is created on first use with set_num_threads(n) - 1 workers (default: every core the
// process may run on; LOGITKIT_NUM_THREADS or logitkit.set_num_threads change it), never more than
// max_num_threads() - 1. A call made while another thread is using the pool (e.g. Dask's own
// threads) runs single-threaded instead of waiting. A worker the system refuses to create (thread
// or address-space limits) is not an error: the parts run on the threads that exist, the caller
// included, and the next call tries again. A worker that took part in a call, and the caller
// waiting for the workers, busy-wait a short while (parallel.cpp's spin_time) before they sleep,
// unless there are more threads than cores. An exception thrown by a part on any thread is handed
// to the caller and rethrown there once every part has finished. The workers take the calling
// thread's MXCSR control bits (rounding mode, FTZ/DAZ). After fork() the child starts a fresh pool.
//
// Scratch buffers (contiguous copies of strided, broadcast or float16 rows) are per thread. A
// buffer of at most scratch_keep_bytes is kept for the next call; a larger one is freed when the
// part that needed it ends, so a single huge row does not pin its copy for the life of the thread.
#pragma once
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <new>

#include <numpy/npy_common.h>

namespace logitkit::bindings {

int num_threads();
// n clamped to [1, max_num_threads()].
void set_num_threads(int n);
int default_num_threads();
// The most threads a call may use: max(8, 4 × default_num_threads()).
int max_num_threads();

// Work below this many elements (rows × row length, or elements) runs on the calling thread; each
// part gets at least this much.
constexpr npy_intp parallel_grain = npy_intp(1) << 15;

// Scratch buffers up to this size stay allocated between calls; larger ones are freed after use.
constexpr std::size_t scratch_keep_bytes = std::size_t(1) << 20;

// The thrown std::bad_alloc when a scratch buffer cannot be allocated; what() names the size.
class ScratchAllocError : public std::bad_alloc {
 public:
  explicit ScratchAllocError(std::size_t bytes);
  const char* what() const noexcept override { return msg_; }

 private:
  char msg_[160];
};

// This thread's scratch buffer `which` (0..3) with room for at least `bytes` bytes, aligned for any
// scalar type; its contents are unspecified. Throws ScratchAllocError.
void* scratch_bytes(int which, std::size_t bytes);
// Frees this thread's scratch buffers larger than scratch_keep_bytes.
void release_large_scratch() noexcept;

namespace detail {
extern std::atomic<long> large_scratch_held;  // scratch buffers above the keep size, all threads
extern std::atomic<bool> fault_armed;         // any fault of inject_fault armed
void fault_point_part_armed();
}  // namespace detail

// Fault injection for the tests (logitkit._core._inject_fault); each hook costs one relaxed atomic
// load when nothing is armed. kind 0 "alloc": the count-th next scratch allocation fails with
// ScratchAllocError; 1 "part": the count-th next part to start (on any thread, split or not) throws
// std::bad_alloc; 2 "thread": the next count worker creations are refused; 3 "worker": as "part",
// counting the parts that start on pool workers only. count 0 disarms.
void inject_fault(int kind, long count);
// Throws std::bad_alloc if the "part" or "worker" fault fires.
inline void fault_point_part() {
  if (detail::fault_armed.load(std::memory_order_relaxed)) detail::fault_point_part_armed();
}

// Runs fn(part) for every part in [0, parts) on the calling thread and at most num_threads() - 1
// workers: the caller runs part 0 and worker i part i + 1, then each claims the parts left (also
// when the system refused some workers); false if the pool is busy with another caller or has no
// worker (nothing was run).
// The first exception a part throws is rethrown here after every running part has finished (the
// parts not yet started are skipped).
bool run_parallel(int parts, const std::function<void(int)>& fn);

// body(begin, end) over [0, N), split into contiguous parts of whole `align`-multiples when
// N·cost (elements of work) is large enough, else in one call on this thread. parts_per_thread > 1
// cuts the work finer (at most that many parts per thread, claimed as the threads come free), for
// items whose costs differ.
template <class F>
inline void parallel_for(npy_intp N, npy_intp cost, npy_intp align, F&& body, npy_intp parts_per_thread = 1) {
  struct Release {  // also when body throws; a global load when no thread holds a large buffer
    ~Release() {
      if (detail::large_scratch_held.load(std::memory_order_relaxed) > 0) release_large_scratch();
    }
  };
  const npy_intp work = N * (cost > 0 ? cost : 1);
  npy_intp parts = work / parallel_grain;
  const npy_intp threads = num_threads();
  if (threads < 2) parts = 1;
  if (parts > threads * parts_per_thread) parts = threads * parts_per_thread;
  if (parts > N / align) parts = N / align;
  if (parts >= 2) {
    // part p covers [b(p), b(p+1)), boundaries rounded down to multiples of align
    auto bound = [&](npy_intp p) -> npy_intp {
      if (p >= parts) return N;
      return (N / align * p / parts) * align;
    };
    const bool ran = run_parallel(int(parts), [&](int p) {
      Release release;
      fault_point_part();
      const npy_intp b = bound(p), e = bound(p + 1);
      if (b < e) body(b, e);
    });
    if (ran) return;
  }
  Release release;
  fault_point_part();
  body(npy_intp(0), N);
}

// The row splitter the C++ API's functions take (`par(n, cost_per_item, body)`: body(begin, end)
// over [0, n)), run on this pool. The API never throws, so an exception of the pool (a part that
// could not run) is kept in `failure`; the caller rethrows it once the API call has returned.
struct PoolFor {
  std::exception_ptr& failure;
  npy_intp parts_per_thread = 1;  // > 1: rows of different costs (sampling), claimed part by part
  template <class Body>
  void operator()(std::size_t n, std::size_t cost, Body&& body) const noexcept {
    try {
      parallel_for(
          npy_intp(n), npy_intp(cost), 1, [&](npy_intp b, npy_intp e) { body(std::size_t(b), std::size_t(e)); },
          parts_per_thread);
    } catch (...) {
      failure = std::current_exception();
    }
  }
};

}  // namespace logitkit::bindings
