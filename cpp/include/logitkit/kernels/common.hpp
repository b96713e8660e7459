// Helpers shared by the kernel templates: tail loads/stores, exact two-term arithmetic.
// Like everything under simd/, math/ and kernels/, they live in the ISA's own namespace
// (simd/isa_namespace.hpp): no inline function is compiled under two different -m flags into one
// symbol.
#pragma once
#include "../simd/isa_namespace.hpp"
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

// Forces inlining of the small lambdas that kernels call several times per iteration (GCC would
// otherwise keep some out of line, costing a call per vector).
#if defined(__GNUC__) || defined(__clang__)
#define LOGITKIT_INLINE __attribute__((always_inline))
#else
#define LOGITKIT_INLINE
#endif

// Keeps a rarely taken branch's body (a call, loops) out of line, so that the hot loop around it is
// compiled as it would be without it.
#if defined(__GNUC__) || defined(__clang__)
#define LOGITKIT_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define LOGITKIT_NOINLINE __declspec(noinline)
#else
#define LOGITKIT_NOINLINE
#endif

namespace logitkit {
inline namespace LOGITKIT_ISA_NAMESPACE {
namespace kernels {

template <class V> using scalar_t = typename V::scalar;

// Constants as data (constant expressions: no function of std::numeric_limits is emitted).
template <class V> struct lim {
  static constexpr scalar_t<V> inf = std::numeric_limits<scalar_t<V>>::infinity();
  static constexpr scalar_t<V> nan = std::numeric_limits<scalar_t<V>>::quiet_NaN();
};

// Lane indices 0, 1, 2, ... as a vector, for masks of the first k lanes of a tail.
template <class V> struct lane_index {
  static constexpr scalar_t<V> values[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
};
template <class V>
inline auto first_lanes(std::size_t k) {
  return lt(V::load(lane_index<V>::values), V::set1(scalar_t<V>(k)));
}

// Whether V has masked loads and stores of its first n lanes (AVX2, AVX-512).
template <class V, class = void> struct has_load_n : std::false_type {};
template <class V>
struct has_load_n<V, std::void_t<decltype(V::load_n(nullptr, 0, scalar_t<V>(0)))>> : std::true_type {};

// Whether V has max_bits (an integer max of bit patterns: AVX2 floats, AVX-512).
template <class V, class = void> struct has_max_bits : std::false_type {};
template <class V>
struct has_max_bits<V, std::void_t<decltype(max_bits(V::zero(), V::zero()))>> : std::true_type {};

// Whether some lane of a0..a3 has |a| > hi or is NaN (hi >= 0). Every lane of every vector counts:
// never a float min/max across the vectors, which would let a NaN in one vector hide an out-of-range
// value in the same lane of another (docs/numerics.md, "Special values and lane isolation"). With an
// integer max the |a|'s bit patterns are combined (nonnegative floats order as their bit patterns,
// NaNs above +inf) and compared once; else each vector has its own NaN-aware compare.
template <class V>
LOGITKIT_INLINE inline bool any_abs_beyond4(V a0, V a1, V a2, V a3, V hi) {
  if constexpr (has_max_bits<V>::value) {
    const V m = max_bits(max_bits(abs(a0), abs(a1)), max_bits(abs(a2), abs(a3)));
    return any(nge(hi, m));
  } else {
    return any(mask_or(mask_or(nge(hi, abs(a0)), nge(hi, abs(a1))), mask_or(nge(hi, abs(a2)), nge(hi, abs(a3)))));
  }
}

// Load n < V::size elements, the other lanes set to `fill` (masked load where the ISA has one: a
// row's tail then costs no store-to-load forwarding stall through a stack buffer).
template <class V>
inline V load_partial(const scalar_t<V>* p, std::size_t n, scalar_t<V> fill) {
  if constexpr (has_load_n<V>::value) {
    return V::load_n(p, n, fill);
  } else {
    alignas(64) scalar_t<V> buf[V::size];
    store(buf, V::set1(fill));
    for (std::size_t i = 0; i < n; ++i) buf[i] = p[i];
    return V::load(buf);
  }
}
template <class V>
inline void store_partial(scalar_t<V>* p, V a, std::size_t n) {
  if constexpr (has_load_n<V>::value) {
    V::store_n(p, a, n);
  } else {
    alignas(64) scalar_t<V> buf[V::size];
    store(buf, a);
    for (std::size_t i = 0; i < n; ++i) p[i] = buf[i];
  }
}

// Cache hints. prefetch_read(p, ahead) asks for the line `ahead` bytes past p, which may lie past the
// end of the array (the next row, or nothing: a prefetch never faults and its address is never
// dereferenced); prefetch_write(p, ahead) asks for that line in a state ready to be written.
template <class V>
LOGITKIT_INLINE inline void prefetch_read(const scalar_t<V>* p, std::size_t ahead) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + ahead), 0, 3);
#else
  (void)p, (void)ahead;
#endif
}
template <class V>
LOGITKIT_INLINE inline void prefetch_write(scalar_t<V>* p, std::size_t ahead = 0) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) + ahead), 1, 3);
#else
  (void)p, (void)ahead;
#endif
}
// Streaming stores. An output pass whose output is not read again by the kernel writes it with
// non-temporal stores (store_stream: AVX-512, a whole aligned line) where the call's output is larger
// than the caches keep (stream_min_bytes): a plain store first reads each line of the output from
// memory, then writes it back; a non-temporal one only writes it. Smaller outputs keep plain stores,
// which leave the result in cache for whatever reads it next. Only the instruction differs, never
// the value stored: the outputs' bits do not depend on this choice. A kernel that streamed calls
// stream_fence() before it returns (non-temporal stores are not ordered with later stores, and
// another thread may read the output once the kernel returns).
template <class V, class = void> struct has_stream : std::false_type {};
template <class V>
struct has_stream<V, std::void_t<decltype(store_stream(std::declval<scalar_t<V>*>(), std::declval<V>()))>>
    : std::true_type {};
// An output of `rows` rows of n streams where the call writes at least stream_min_bytes and each row
// at least stream_min_row_bytes: shorter rows leave too little between their first and last lines
// (stored plainly: they are partly the neighbouring rows'), and their output passes come in bursts
// too short to overlap with the next rows' arithmetic.
constexpr std::size_t stream_min_bytes = std::size_t(24) << 20;
constexpr std::size_t stream_min_row_bytes = 3072;
template <class V>
inline bool streams_output(std::size_t rows, std::size_t n) {
  constexpr std::size_t size = sizeof(scalar_t<V>);
  return has_stream<V>::value && n >= stream_min_row_bytes / size && rows * n >= stream_min_bytes / size;
}
// How many entries of y to store plainly before y + head lies on a 64-byte line boundary (at most
// n); n where y is not aligned to its own scalar type (a misaligned array never streams).
template <class V>
inline std::size_t stream_head(const scalar_t<V>* y, std::size_t n) {
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(y);
  if (a % sizeof(scalar_t<V>) != 0) return n;
  const std::size_t head = std::size_t((64 - a % 64) % 64) / sizeof(scalar_t<V>);
  return head < n ? head : n;
}
template <class V>
inline void stream_fence() {
  if constexpr (has_stream<V>::value) store_stream_fence(V::zero());
}
// A whole vector stored at p: non-temporally with STREAM (p then aligned to 64 bytes), else plainly.
template <bool STREAM, class V>
LOGITKIT_INLINE inline void store_or_stream(scalar_t<V>* p, V a) {
  if constexpr (STREAM && has_stream<V>::value) store_stream(p, a);
  else store(p, a);
}
// y[i] = f(i, m) for i in [i0, end), a vector at a time: f(i, m) returns entries i .. i + m - 1
// (m <= V::size; lanes past m are not stored). Whole vectors by store_or_stream<STREAM>, the last
// partial one plainly.
template <bool STREAM, class V, class F>
LOGITKIT_INLINE inline void store_vectors(scalar_t<V>* y, std::size_t i0, std::size_t end, F&& f) {
  constexpr std::size_t W = V::size;
  std::size_t i = i0;
  for (; i + W <= end; i += W) store_or_stream<STREAM, V>(y + i, f(i, W));
  if (i < end) store_partial(y + i, f(i, end - i), end - i);
}
// body(stream, i, m) writes y[i .. i + m), stream a std::bool_constant: with stream true (where the
// ISA has streaming stores), the entries before y's first 64-byte line plainly and the rest
// streamed (y + i aligned there); else all plainly.
template <class V, class Body>
LOGITKIT_INLINE inline void split_at_line(scalar_t<V>* y, std::size_t n, bool stream, Body&& body) {
  if (!has_stream<V>::value || !stream) return body(std::false_type{}, std::size_t(0), n);
  const std::size_t head = stream_head<V>(y, n);
  body(std::false_type{}, std::size_t(0), head);
  body(std::true_type{}, head, n - head);
}
// y[i] = f(i, m) for i in [0, n) (store_vectors), with STREAM streamed from y's first 64-byte line on;
// the stored values are the same either way.
template <class V, bool STREAM, class F>
LOGITKIT_INLINE inline void store_range(scalar_t<V>* y, std::size_t n, F&& f) {
  split_at_line<V>(y, n, STREAM, [&](auto stream, std::size_t i, std::size_t m) LOGITKIT_INLINE {
    store_vectors<decltype(stream)::value, V>(y, i, i + m, f);
  });
}
// An elementwise kernel's n outputs y: split_at_line, streamed where the output streams
// (streams_output; y not an input: in_place false), then the fence.
template <class V, class Body>
inline void elementwise_stream_split(scalar_t<V>* y, std::size_t n, bool in_place, Body&& body) {
  const bool stream = !in_place && streams_output<V>(1, n);
  split_at_line<V>(y, n, stream, body);
  if (stream) stream_fence<V>();
}

// How far ahead the streaming passes prefetch their input: a few microseconds of work, far enough to
// hide a memory access on the machines measured (bench/README.md), near enough to stay in L1.
constexpr std::size_t prefetch_ahead = 4096;

// The `bytes` of rows that begin `ahead` bytes past x, asked for now, and with y (the same rows'
// outputs; null for a kernel that writes one value per row) their output lines, in a state ready
// to be written: a kernel that stores a group's outputs at its end would otherwise wait for each
// line the cache does not hold. The row kernels call it once per group, for a group a few ahead.
template <class V>
LOGITKIT_INLINE inline void prefetch_rows(const scalar_t<V>* x, scalar_t<V>* y, std::size_t bytes, std::size_t ahead) {
  for (std::size_t b = 0; b < bytes; b += 64) {
    prefetch_read<V>(x, ahead + b);
    if (y) prefetch_write<V>(y, ahead + b);
  }
}

// TwoSum (Knuth): a + b = s + err exactly, for any finite a, b whose sum does not overflow.
template <class V>
inline V two_sum(V a, V b, V& err) {
  V s = a + b;
  V bb = s - a;
  err = (a - (s - bb)) + (b - bb);
  return s;
}

// a·b - p exactly for p = fl(a·b), by Dekker's splitting (the ISAs without FMA). The splitting
// multiplies each operand by 2^s + 1 (s = 12 float, 27 double), which overflows for |operand| above
// max/(2^s + 1) and then gives NaN; dekker_err repairs those lanes (below).
template <class V>
inline V dekker_err_split(V a, V b, V p) {
  using T = scalar_t<V>;
  const V split = V::set1(std::numeric_limits<T>::digits == 24 ? T(4097) : T(134217729));
  V ac = a * split, bc = b * split;
  V ah = ac - (ac - a), bh = bc - (bc - b);
  V al = a - ah, bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

// dekker_err_split for every finite a, b whose product p is finite: where a lane's result is NaN
// (a split overflowed, or an operand or p is not finite), the larger operand and p are multiplied
// by 2^-r (r = 14 float, 28 double: the splitting and the partial products then stay below the
// largest finite value) and the error found is multiplied back by 2^r. Every scaling is exact: the
// scaled operand is above max/(2^s + 1), and p and its error are multiples of ulp(a)·ulp(b), which
// stays inside the normal range even times 2^-r (the operand's ulp is that large, the other's at
// least the smallest subnormal). The lanes that were not NaN keep their
// bits; lanes whose p overflows, or with a non-finite operand, stay NaN or non-finite (the caller's
// sum is not finite there anyway).
template <class V>
inline V dekker_err(V a, V b, V p) {
  using T = scalar_t<V>;
  V err = dekker_err_split(a, b, p);
  const auto bad = isnan(err);
  if (any(bad)) {
    constexpr bool F = std::numeric_limits<T>::digits == 24;
    const V down = V::set1(F ? T(0x1p-14) : T(0x1p-28)), up = V::set1(F ? T(0x1p14) : T(0x1p28));
    const V one = V::set1(T(1));
    const auto a_big = le(abs(b), abs(a));
    const V sa = select(a_big, down, one), sb = select(a_big, one, down);
    err = select(bad, dekker_err_split(a * sa, b * sb, p * down) * up, err);
  }
  return err;
}

// TwoProduct: a·b = p + err exactly (no overflow or underflow), with FMA where the ISA has one, else
// with Dekker's splitting.
template <class V>
inline V two_prod(V a, V b, V& err) {
  V p = a * b;
  if constexpr (V::has_fma) {
    err = mul_add(a, b, neg(p));
  } else {
    err = dekker_err(a, b, p);
  }
  return p;
}

// a - q·b exactly (the residual of a quotient q ~ a/b), with FMA where the ISA has one, else with
// Dekker's product: a - q·b = (a - p) - e where p + e = q·b exactly and a - p is exact (Sterbenz).
template <class V>
inline V quotient_residual(V a, V q, V b) {
  if constexpr (V::has_fma) {
    return mul_add(neg(q), b, a);
  } else {
    V p = q * b;
    return (a - p) - dekker_err(q, b, p);
  }
}

}  // namespace kernels
}  // namespace LOGITKIT_ISA_NAMESPACE
}  // namespace logitkit
