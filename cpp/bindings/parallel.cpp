// The thread pool behind parallel.hpp.
#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
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
namespace {

struct Pool {
  std::mutex run_mutex;  // one caller at a time
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  const std::function<void(int)>* task = nullptr;
  int parts = 0;
  int pending = 0;
  std::uint64_t generation = 0;
  unsigned csr = 0;
  int started = 0;  // workers running; worker i runs part i + 1

  void worker(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* fn;
      unsigned caller_csr;
      {
        std::unique_lock<std::mutex> lock(m);
        work_cv.wait(lock, [&] { return generation != seen; });
        seen = generation;
        if (index + 1 >= parts) continue;
        fn = task;
        caller_csr = csr;
      }
#ifdef LOGITKIT_X86
      _mm_setcsr(caller_csr & ~0x3fu);  // the caller's control bits, no flags
#else
      (void)caller_csr;
#endif
      (*fn)(index + 1);
      {
        std::lock_guard<std::mutex> lock(m);
        if (--pending == 0) done_cv.notify_one();
      }
    }
  }

  void ensure(int workers) {
    while (started < workers) {
      std::thread([this, i = started] { worker(i); }).detach();
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

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = default_num_threads();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

bool run_parallel(int parts, const std::function<void(int)>& fn) {
  Pool& p = pool();
  std::unique_lock<std::mutex> busy(p.run_mutex, std::try_to_lock);
  if (!busy.owns_lock()) return false;
  {
    std::lock_guard<std::mutex> lock(p.m);
    p.ensure(parts - 1);
    p.task = &fn;
    p.parts = parts;
    p.pending = parts - 1;
#ifdef LOGITKIT_X86
    p.csr = _mm_getcsr();
#endif
    ++p.generation;
  }
  p.work_cv.notify_all();
  fn(0);
  std::unique_lock<std::mutex> lock(p.m);
  p.done_cv.wait(lock, [&] { return p.pending == 0; });
  p.task = nullptr;
  return true;
}

}  // namespace logitkit::bindings
