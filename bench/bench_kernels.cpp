// google-benchmark benchmarks of the logitkit kernels: every ISA this CPU supports x every kernel of
// the dispatch table x float/double x a few sizes, called through logitkit::active_kernels() as the
// library's users call them.
//
// Names: <dtype>_<kernel>/<isa>/n:<elements>          elementwise kernels over n contiguous elements
//        <dtype>_<kernel>/<isa>/row:<n>/rows:<rows>    row-wise kernels, rows of n, one call per row
//        <dtype>_copy/memcpy/n:<elements>              memcpy of the same bytes: the memory limit
// bytes_per_second counts the bytes a kernel must move at least (inputs read once, output written
// once), so it compares directly with the memcpy rows; items_per_second counts elements.
// Select with --benchmark_filter, e.g. 'f32_log_softmax/avx2' or 'f32_(sigmoid|copy)/.*/n:1048576'.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "logitkit/dispatch.hpp"

namespace {

using logitkit::TypedKernels;

template <class T> const char* dtype_name();
template <> const char* dtype_name<float>() { return "f32"; }
template <> const char* dtype_name<double>() { return "f64"; }

// Logits with a spread like a trained network's (standard normal x 3), fixed seed.
template <class T> std::vector<T> logits(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d(0.0, 3.0);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(d(gen));
  return v;
}

// Switch the dispatch to `isa` for this benchmark and return its table for T.
template <class T> const TypedKernels<T>* select(benchmark::State& state, const std::string& isa) {
  std::string err;
  if (!logitkit::set_simd_target(isa, &err)) {
    state.SkipWithError(err.c_str());
    return nullptr;
  }
  return &logitkit::active_kernels().get<T>();
}

void set_counters(benchmark::State& state, std::size_t elements, std::size_t bytes_per_pass) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * elements));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes_per_pass));
  // Time per element (printed with an SI prefix: "1.2n" is 1.2 ns per element).
  state.counters["t/elem"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// ------------------------------------------------------------------------------ elementwise

enum class Unary { sigmoid, log_sigmoid, softplus, exp };
enum class Binary { sigmoid_backward, log_sigmoid_backward };

template <class T> void bm_unary(benchmark::State& state, std::string isa, Unary op, std::size_t n) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  auto x = logits<T>(n, 1);
  std::vector<T> y(n);
  auto fn = op == Unary::sigmoid       ? k->sigmoid
            : op == Unary::log_sigmoid ? k->log_sigmoid
            : op == Unary::softplus    ? k->softplus
                                       : k->exp;
  for (auto _ : state) {
    fn(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 2 * n * sizeof(T));
}

template <class T> void bm_binary(benchmark::State& state, std::string isa, Binary op, std::size_t n) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  auto g = logits<T>(n, 2);
  auto x = logits<T>(n, 1);
  std::vector<T> in(n), out(n);
  if (op == Binary::sigmoid_backward) {
    k->sigmoid(x.data(), in.data(), n);  // the rule takes y = sigmoid(x)
  } else {
    in = x;  // the rule takes x
  }
  auto fn = op == Binary::sigmoid_backward ? k->sigmoid_backward : k->log_sigmoid_backward;
  for (auto _ : state) {
    fn(g.data(), in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 3 * n * sizeof(T));
}

// ------------------------------------------------------------------------------ row-wise

enum class Row { softmax, log_softmax, logsumexp, softmax_backward, log_softmax_backward };

template <class T> void bm_row(benchmark::State& state, std::string isa, Row op, std::size_t n,
                               std::size_t rows) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  const std::size_t total = n * rows;
  auto x = logits<T>(total, 1);
  std::vector<T> y(total), out(total), red(rows);
  std::size_t bytes = 2 * total * sizeof(T);
  switch (op) {
    case Row::softmax:
      for (auto _ : state) {
        for (std::size_t r = 0; r < rows; ++r) k->softmax(x.data() + r * n, y.data() + r * n, n, T(1));
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
      }
      break;
    case Row::log_softmax:
      for (auto _ : state) {
        for (std::size_t r = 0; r < rows; ++r) k->log_softmax(x.data() + r * n, y.data() + r * n, n, T(1));
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
      }
      break;
    case Row::logsumexp:
      bytes = (total + rows) * sizeof(T);
      for (auto _ : state) {
        for (std::size_t r = 0; r < rows; ++r) red[r] = k->logsumexp(x.data() + r * n, n, T(1));
        benchmark::DoNotOptimize(red.data());
        benchmark::ClobberMemory();
      }
      break;
    case Row::softmax_backward:
    case Row::log_softmax_backward: {
      // The rules take the forward output y (probabilities or log-probabilities) and the gradient g.
      const bool log = op == Row::log_softmax_backward;
      for (std::size_t r = 0; r < rows; ++r) {
        (log ? k->log_softmax : k->softmax)(x.data() + r * n, y.data() + r * n, n, T(1));
      }
      auto g = logits<T>(total, 2);
      auto fn = log ? k->log_softmax_backward : k->softmax_backward;
      bytes = 3 * total * sizeof(T);
      for (auto _ : state) {
        for (std::size_t r = 0; r < rows; ++r) fn(g.data() + r * n, y.data() + r * n, out.data() + r * n, n);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
      }
      break;
    }
  }
  set_counters(state, total, bytes);
}

// ------------------------------------------------------------------------------ memory limit

template <class T> void bm_copy(benchmark::State& state, std::size_t n) {
  auto x = logits<T>(n, 1);
  std::vector<T> y(n);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), n * sizeof(T));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 2 * n * sizeof(T));
}

// L1-resident call, L2-resident, and beyond L2 (4 MiB x + 4 MiB y in float32).
const std::vector<int64_t> kElementwiseSizes = {1000, 1 << 16, 1 << 20};
// (row length, rows): many short rows, a cache-resident block of vocabulary-1000 rows, then 1M
// elements of classifier rows (1000) and of LM-vocabulary rows (32000).
const std::vector<std::pair<int64_t, int64_t>> kRowShapes = {{10, 4096}, {1000, 64}, {1000, 1024}, {32000, 32}};

template <class T> void register_for(const std::string& isa) {
  const std::string dt = dtype_name<T>();
  const std::pair<const char*, Unary> unary[] = {{"sigmoid", Unary::sigmoid},
                                                 {"log_sigmoid", Unary::log_sigmoid},
                                                 {"softplus", Unary::softplus},
                                                 {"exp", Unary::exp}};
  for (auto [name, op] : unary) {
    for (auto n : kElementwiseSizes) {
      benchmark::RegisterBenchmark((dt + "_" + name + "/" + isa + "/n:" + std::to_string(n)).c_str(),
                                   bm_unary<T>, isa, op, std::size_t(n));
    }
  }
  const std::pair<const char*, Binary> binary[] = {{"sigmoid_backward", Binary::sigmoid_backward},
                                                   {"log_sigmoid_backward", Binary::log_sigmoid_backward}};
  for (auto [name, op] : binary) {
    for (auto n : kElementwiseSizes) {
      benchmark::RegisterBenchmark((dt + "_" + name + "/" + isa + "/n:" + std::to_string(n)).c_str(),
                                   bm_binary<T>, isa, op, std::size_t(n));
    }
  }
  const std::pair<const char*, Row> row[] = {{"softmax", Row::softmax},
                                             {"log_softmax", Row::log_softmax},
                                             {"logsumexp", Row::logsumexp},
                                             {"softmax_backward", Row::softmax_backward},
                                             {"log_softmax_backward", Row::log_softmax_backward}};
  for (auto [name, op] : row) {
    for (auto [n, rows] : kRowShapes) {
      benchmark::RegisterBenchmark(
          (dt + "_" + name + "/" + isa + "/row:" + std::to_string(n) + "/rows:" + std::to_string(rows)).c_str(),
          bm_row<T>, isa, op, std::size_t(n), std::size_t(rows));
    }
  }
}

template <class T> void register_copy() {
  std::vector<int64_t> sizes = kElementwiseSizes;
  for (auto [n, rows] : kRowShapes) sizes.push_back(n * rows);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (auto n : sizes) {
    benchmark::RegisterBenchmark((std::string(dtype_name<T>()) + "_copy/memcpy/n:" + std::to_string(n)).c_str(),
                                 bm_copy<T>, std::size_t(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  // google-benchmark < 1.8 takes --benchmark_min_time as a bare number of seconds; >= 1.8 wants a
  // unit ("0.05s"). Accept the suffixed form on both so that one command line works everywhere.
  std::vector<std::string> args(argv, argv + argc);
#if defined(LOGITKIT_BENCHMARK_VERSION_MAJOR) && \
    (LOGITKIT_BENCHMARK_VERSION_MAJOR < 1 || (LOGITKIT_BENCHMARK_VERSION_MAJOR == 1 && LOGITKIT_BENCHMARK_VERSION_MINOR < 8))
  const std::string flag = "--benchmark_min_time=";
  for (auto& a : args) {
    if (a.rfind(flag, 0) == 0 && a.size() > flag.size() && a.back() == 's') a.pop_back();
  }
#endif
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  int n_args = static_cast<int>(argp.size());

  const std::string default_isa = logitkit::simd_target();
  const auto isas = logitkit::simd_targets_available();
  std::string isa_list;
  for (const auto& isa : isas) isa_list += (isa_list.empty() ? "" : ",") + isa;
  benchmark::AddCustomContext("logitkit_default_isa", default_isa);
  benchmark::AddCustomContext("logitkit_isas", isa_list);

  for (const auto& isa : isas) {
    register_for<float>(isa);
    register_for<double>(isa);
  }
  register_copy<float>();
  register_copy<double>();

  benchmark::Initialize(&n_args, argp.data());
  if (benchmark::ReportUnrecognizedArguments(n_args, argp.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
