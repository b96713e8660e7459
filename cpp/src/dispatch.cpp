// CPU detection and the choice of kernel table. Compiled with the baseline flags only.
#include "logitkit/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

namespace logitkit {
namespace {

struct IsaEntry {
  const char* name;
  const KernelTable* (*table)();
  bool (*supported)();
};

bool always() { return true; }

#if defined(LOGITKIT_HAVE_SSE2) || defined(LOGITKIT_HAVE_AVX2) || defined(LOGITKIT_HAVE_AVX512)
#if defined(_MSC_VER)
void cpuid(int leaf, int sub, int out[4]) { __cpuidex(out, leaf, sub); }
unsigned long long xgetbv0() { return _xgetbv(0); }
#else
void cpuid(int leaf, int sub, int out[4]) {
  unsigned a, b, c, d;
  __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
  out[0] = int(a), out[1] = int(b), out[2] = int(c), out[3] = int(d);
}
unsigned long long xgetbv0() {
  unsigned lo, hi;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif
struct X86Features {
  bool avx2 = false, avx512 = false;
  X86Features() {
    int r[4];
    cpuid(0, 0, r);
    const int max_leaf = r[0];
    cpuid(1, 0, r);
    const bool osxsave = (r[2] >> 27) & 1, fma = (r[2] >> 12) & 1, avx = (r[2] >> 28) & 1;
    const bool f16c = (r[2] >> 29) & 1;  // the avx2 objects convert float16 with it (every AVX2 CPU has it)
    if (!osxsave || !avx || max_leaf < 7) return;
    const unsigned long long xcr0 = xgetbv0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = (xcr0 & 0xe6) == 0xe6;
    cpuid(7, 0, r);
    const bool avx2_bit = (r[1] >> 5) & 1;
    const bool f = (r[1] >> 16) & 1, dq = (r[1] >> 17) & 1, bw = (r[1] >> 30) & 1, vl = (r[1] >> 31) & 1;
    avx2 = os_ymm && avx2_bit && fma && f16c;
    avx512 = avx2 && os_zmm && f && dq && bw && vl;
  }
};
const X86Features& x86() {
  static const X86Features f;
  return f;
}
#endif

const std::vector<IsaEntry>& compiled() {
  static const std::vector<IsaEntry> isas = {
      {"scalar", &detail::table_scalar, &always},
#ifdef LOGITKIT_HAVE_SSE2
      {"sse2", &detail::table_sse2, &always},
#endif
#ifdef LOGITKIT_HAVE_AVX2
      {"avx2", &detail::table_avx2, [] { return x86().avx2; }},
#endif
#ifdef LOGITKIT_HAVE_AVX512
      {"avx512", &detail::table_avx512, [] { return x86().avx512; }},
#endif
#ifdef LOGITKIT_HAVE_NEON
      {"neon", &detail::table_neon, &always},
#endif
  };
  return isas;
}

std::string& env_error() {
  static std::string e;
  return e;
}

std::atomic<const KernelTable*> g_active{nullptr};
std::once_flag g_init;

bool set_target_impl(const std::string& name, std::string* error);

std::string join_available() {
  std::string s;
  for (const auto& n : simd_targets_available()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

void init_once() {
  const KernelTable* best = nullptr;
  for (const auto& e : compiled())
    if (e.supported()) best = e.table();
  g_active.store(best);
  if (const char* env = std::getenv("LOGITKIT_SIMD"); env && *env) {
    std::string err;
    if (!set_target_impl(env, &err)) env_error() = "LOGITKIT_SIMD=" + std::string(env) + ": " + err;
  }
}

}  // namespace

const KernelTable& active_kernels() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (!t) {
    std::call_once(g_init, init_once);
    t = g_active.load(std::memory_order_acquire);
  }
  return *t;
}

const char* simd_target() { return active_kernels().name; }

std::vector<std::string> simd_targets_compiled() {
  std::vector<std::string> out;
  for (const auto& e : compiled()) out.emplace_back(e.name);
  return out;
}

std::vector<std::string> simd_targets_available() {
  std::vector<std::string> out;
  for (const auto& e : compiled())
    if (e.supported()) out.emplace_back(e.name);
  return out;
}

namespace {
bool set_target_impl(const std::string& name, std::string* error) {
  for (const auto& e : compiled()) {
    if (name != e.name) continue;
    if (!e.supported()) {
      if (error) *error = "this CPU does not support '" + name + "'; it supports: " + join_available();
      return false;
    }
    g_active.store(e.table(), std::memory_order_release);
    return true;
  }
  if (error) {
    std::string all;
    for (const auto& n : simd_targets_compiled()) all += (all.empty() ? "" : ", ") + n;
    *error = "unknown or not compiled SIMD target '" + name + "'; this build has: " + all +
             "; this CPU supports: " + join_available();
  }
  return false;
}
}  // namespace

bool set_simd_target(const std::string& name, std::string* error) {
  std::call_once(g_init, init_once);
  return set_target_impl(name, error);
}

const std::string& simd_env_error() {
  active_kernels();
  return env_error();
}

}  // namespace logitkit
