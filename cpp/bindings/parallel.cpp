// The thread pool and the scratch buffers behind parallel.hpp.
#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <new>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define LOGITKIT_X86 1
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#define LOGITKIT_POSIX 1
#endif

namespace logitkit::bindings {

// ---------------------------------------------------------------- fault injection

namespace detail {
std::atomic<long> large_scratch_held{0};
std::atomic<bool> fault_armed{false};
}  // namespace detail

namespace {
std::atomic<long> g_fault[4] = {};
thread_local bool t_worker = false;  // this thread is a pool worker

// Whether a countdown fault fires now: true for the one event that takes the count from 1 to 0.
bool countdown_fires(std::atomic<long>& c) {
  long v = c.load(std::memory_order_relaxed);
  while (v > 0)
    if (c.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) return v == 1;
  return false;
}
// Whether a refusal fault fires now: true while the count lasts.
bool refusal_fires(std::atomic<long>& c) {
  long v = c.load(std::memory_order_relaxed);
  while (v > 0)
    if (c.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) return true;
  return false;
}
}  // namespace

void inject_fault(int kind, long count) {
  g_fault[kind].store(count > 0 ? count : 0, std::memory_order_relaxed);
  bool any = false;
  for (auto& f : g_fault) any |= f.load(std::memory_order_relaxed) > 0;
  detail::fault_armed.store(any, std::memory_order_relaxed);
}

void detail::fault_point_part_armed() {
  if (countdown_fires(g_fault[1]) || (t_worker && countdown_fires(g_fault[3]))) throw std::bad_alloc();
}

// ---------------------------------------------------------------- scratch buffers

ScratchAllocError::ScratchAllocError(std::size_t bytes) {
  std::snprintf(msg_, sizeof(msg_),
                "logitkit: cannot allocate %zu bytes of scratch memory (a strided, broadcast or "
                "float16 row is copied to a contiguous buffer)",
                bytes);
}

namespace {
// Cache-line aligned: the kernels' vector loads of a scratch row never straddle more lines than
// those of an aligned array.
constexpr std::align_val_t scratch_align{64};

struct ScratchBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  void free() noexcept {
    if (p) ::operator delete(p, scratch_align);
    if (bytes > scratch_keep_bytes) detail::large_scratch_held.fetch_sub(1, std::memory_order_relaxed);
    p = nullptr;
    bytes = 0;
  }
};
// Freed when the thread exits.
struct ThreadScratch {
  ScratchBuffer buf[4];
  ~ThreadScratch() {
    for (auto& b : buf) b.free();
  }
};
thread_local ThreadScratch t_scratch;
}  // namespace

void* scratch_bytes(int which, std::size_t bytes) {
  ScratchBuffer& b = t_scratch.buf[which];
  if (b.bytes >= bytes && b.p) return b.p;
  b.free();  // the old contents are not needed: no copy
  const bool fail = detail::fault_armed.load(std::memory_order_relaxed) && countdown_fires(g_fault[0]);
  void* p = fail ? nullptr : ::operator new(bytes > 0 ? bytes : 1, scratch_align, std::nothrow);
  if (!p) throw ScratchAllocError(bytes);
  b.p = p;
  b.bytes = bytes;
  if (bytes > scratch_keep_bytes) detail::large_scratch_held.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void release_large_scratch() noexcept {
  for (auto& b : t_scratch.buf)
    if (b.bytes > scratch_keep_bytes) b.free();
}

// ---------------------------------------------------------------- the pool

namespace {

// How long a thread busy-waits before it sleeps on a condition variable: a worker after its task
// (the next call of a loop finds it awake), the caller for the workers' last parts. Waking a
// sleeping thread costs a system call on each side and, on a virtual machine, a halted vCPU's
// wake-up, tens of microseconds: longer than many whole calls. Only when the threads fit on the
// cores the process may use: a spinning worker would otherwise take the caller's core.
constexpr auto spin_time = std::chrono::microseconds(200);

inline void cpu_relax() {
#ifdef LOGITKIT_X86
  _mm_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
  __asm__ __volatile__("yield");
#endif
}

// Busy-waits until done() or spin_time has passed; whether done() held.
template <class Done>
bool spin_until(Done&& done) {
  if (done()) return true;
  const auto end = std::chrono::steady_clock::now() + spin_time;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= end) return false;
  }
}

bool may_spin();

struct Pool {
  std::mutex run_mutex;  // one caller at a time
  std::mutex m;          // guards everything below but `next` and `failed`
  std::condition_variable work_cv, done_cv;
  const std::function<void(int)>* task = nullptr;
  int parts = 0;    // parts of the current task
  int helpers = 0;  // workers taking part in the current task: those with index < helpers
  std::atomic<int> pending{0};  // helpers that have not finished (changed with m held)
  std::atomic<std::uint64_t> generation{0};  // changed with m held
  unsigned csr = 0;
  int started = 0;             // workers running
  std::exception_ptr error;    // the first exception a part of the current task threw
  std::atomic<int> next{0};    // the next part to claim
  std::atomic<bool> failed{false};

  // Runs part `own` (when >= 0), then claims and runs parts of the current task until none is
  // left or one has thrown. Never throws: the first exception is kept for the caller.
  void run_parts(const std::function<void(int)>& fn, int own, int count) {
    for (int p = own;; p = next.fetch_add(1, std::memory_order_relaxed)) {
      if (p >= count || failed.load(std::memory_order_relaxed)) return;
      if (p < 0) continue;
      try {
        fn(p);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
    }
  }

  void worker(int index) {
    t_worker = true;
    std::uint64_t seen = 0;
    bool took_part = false;  // in the last task: spin for the next one
    for (;;) {
      const std::function<void(int)>* fn;
      int count;
      unsigned caller_csr;
      if (took_part && may_spin())
        spin_until([&] { return generation.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(m);
        work_cv.wait(lock, [&] { return generation.load(std::memory_order_relaxed) != seen; });
        seen = generation.load(std::memory_order_relaxed);
        took_part = index < helpers;
        if (!took_part) continue;
        fn = task;
        count = parts;
        caller_csr = csr;
      }
#ifdef LOGITKIT_X86
      _mm_setcsr(caller_csr & ~0x3fu);  // the caller's control bits, no flags
#else
      (void)caller_csr;
#endif
      run_parts(*fn, index + 1, count);
      {
        std::lock_guard<std::mutex> lock(m);
        if (pending.fetch_sub(1, std::memory_order_release) == 1) done_cv.notify_one();
      }
    }
  }

  // Starts workers until `workers` run; stops at the first the system refuses (std::thread throws
  // std::system_error, or std::bad_alloc), leaving the pool with those it has. Called with m held.
  void ensure(int workers) noexcept {
    while (started < workers) {
      if (detail::fault_armed.load(std::memory_order_relaxed) && refusal_fires(g_fault[2])) return;
      try {
        std::thread([this, i = started] { worker(i); }).detach();
      } catch (...) {
        return;
      }
      ++started;
    }
  }
};

// Never destroyed: detached workers may still wait on it at exit. Replaced in a fork()ed child,
// which has none of the parent's threads.
Pool* g_pool = nullptr;
std::mutex g_pool_mutex;
std::atomic<int> g_threads{0};

#ifdef LOGITKIT_POSIX
void after_fork_in_child() {
  g_pool = nullptr;  // the old one (and its possibly held mutexes) is abandoned
  new (&g_pool_mutex) std::mutex();
  // the parent's other threads, and their scratch, do not exist here
  long held = 0;
  for (const auto& b : t_scratch.buf) held += b.bytes > scratch_keep_bytes;
  detail::large_scratch_held.store(held, std::memory_order_relaxed);
}
#endif

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool) {
#ifdef LOGITKIT_POSIX
    static const bool registered = (pthread_atfork(nullptr, nullptr, &after_fork_in_child), true);
    (void)registered;
#endif
    g_pool = new Pool();
  }
  return *g_pool;
}

}  // namespace

int default_num_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
#endif
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? int(hc) : 1;
}

int max_num_threads() {
  const int c = std::min(default_num_threads(), 1 << 20);
  return std::max(8, 4 * c);
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = default_num_threads();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

namespace {
bool may_spin() {
  static const int cores = default_num_threads();
  return num_threads() <= cores;
}
}  // namespace

void set_num_threads(int n) { g_threads.store(std::clamp(n, 1, max_num_threads()), std::memory_order_relaxed); }

bool run_parallel(int parts, const std::function<void(int)>& fn) {
  Pool& p = pool();
  std::unique_lock<std::mutex> busy(p.run_mutex, std::try_to_lock);
  if (!busy.owns_lock()) return false;
  {
    std::lock_guard<std::mutex> lock(p.m);
    // parts may exceed the thread count (parallel_for's parts_per_thread): the workers beyond
    // num_threads() - 1 stay out, the threads that take part claim the rest
    const int wanted = std::min(parts, num_threads()) - 1;
    p.ensure(wanted);
    const int helpers = std::min(p.started, wanted);
    if (helpers < 1) return false;
    p.task = &fn;
    p.parts = parts;
    p.helpers = helpers;
    p.pending.store(helpers, std::memory_order_relaxed);
    p.error = nullptr;
    p.next.store(helpers + 1, std::memory_order_relaxed);  // parts 0..helpers: the caller, the helpers
    p.failed.store(false, std::memory_order_relaxed);
#ifdef LOGITKIT_X86
    p.csr = _mm_getcsr();
#endif
    p.generation.fetch_add(1, std::memory_order_release);
  }
  p.work_cv.notify_all();
  p.run_parts(fn, 0, parts);
  std::exception_ptr error;
  if (may_spin()) spin_until([&] { return p.pending.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lock(p.m);
    p.done_cv.wait(lock, [&] { return p.pending.load(std::memory_order_relaxed) == 0; });
    p.task = nullptr;
    error = p.error;
    p.error = nullptr;
  }
  if (error) std::rethrow_exception(error);
  return true;
}

}  // namespace logitkit::bindings
