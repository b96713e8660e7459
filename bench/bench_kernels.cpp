// google-benchmark benchmarks of the logitkit kernels: every ISA this CPU supports x every kernel of
// the dispatch table x float/double x a few sizes, called through logitkit::active_kernels() as the
// library's users call them.
//
// Names: <dtype>_<kernel>/<isa>/n:<elements>          elementwise kernels over n contiguous elements
//        <dtype>_<kernel>/<isa>/row:<n>/rows:<rows>    row-wise kernels, rows of n, one call per row
//        <dtype>_copy/memcpy/n:<elements>              memcpy of the same bytes: the memory limit
//        <dtype>_<kernel>_confident/<isa>/row:<n>/rows:<rows>   the row kernel on a confident
//                                                      classifier's rows (one entry holds ~95 % of the
//                                                      mass: the top-heavy paths)
// Besides the grid of shapes, the row kernels run on the shapes that reach the kernels' specialised
// paths (kPathRowShapes: a 64 MiB float output, long rows in a big output), so that each path has a
// named case here as in compare.py's PATH_CASES.
// bytes_per_second counts the bytes a kernel must move at least (inputs read once, output written
// once), so it compares directly with the memcpy rows; items_per_second counts elements.
// Select with --benchmark_filter, e.g. 'f32_log_softmax/avx2' or 'f32_(sigmoid|copy)/.*/n:1048576'.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
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

// Confident rows: row r's entry (r * 7919) mod n set to the logsumexp of the others plus 3, so that it
// holds about 95 % of the row's probability (compare.py's confident_make, without its randomness).
template <class T> void make_confident(std::vector<T>& x, std::size_t n, std::size_t rows) {
  for (std::size_t r = 0; r < rows; ++r) {
    T* xr = x.data() + r * n;
    const std::size_t top = (r * 7919) % n;
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (std::size_t j = 0; j < n; ++j)
      if (j != top) m = std::max(m, double(xr[j]));
    for (std::size_t j = 0; j < n; ++j)
      if (j != top) s += std::exp(double(xr[j]) - m);
    xr[top] = static_cast<T>(m + std::log(s) + 3.0);
  }
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

enum class Unary { sigmoid, log_sigmoid, softplus, exp, log1p_unit };
enum class Binary { sigmoid_backward, log_sigmoid_backward };

template <class T> void bm_unary(benchmark::State& state, std::string isa, Unary op, std::size_t n) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  auto x = logits<T>(n, 1);
  std::vector<T> y(n);
  if (op == Unary::log1p_unit)  // its domain is [0, 1]: the sigmoid family's e = exp(-|x|)
    for (auto& v : x) v = std::exp(-std::fabs(v));
  auto fn = op == Unary::sigmoid       ? k->sigmoid
            : op == Unary::log_sigmoid ? k->log_sigmoid
            : op == Unary::softplus    ? k->softplus
            : op == Unary::exp         ? k->exp
                                       : k->log1p_unit;
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
                               std::size_t rows, bool confident = false) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  const std::size_t total = n * rows;
  auto x = logits<T>(total, 1);
  if (confident) make_confident(x, n, rows);
  const bool backward = op == Row::softmax_backward || op == Row::log_softmax_backward;
  std::vector<T> y(total), out(backward ? total : 0), red(rows);
  std::size_t bytes = 2 * total * sizeof(T);
  switch (op) {
    case Row::softmax:  // the rows entries, as the gufuncs call them (short rows several per vector)
      for (auto _ : state) {
        k->softmax_rows(x.data(), y.data(), rows, n, 1.0);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
      }
      break;
    case Row::log_softmax:
      for (auto _ : state) {
        k->log_softmax_rows(x.data(), y.data(), rows, n, 1.0);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
      }
      break;
    case Row::logsumexp:
      bytes = (total + rows) * sizeof(T);
      for (auto _ : state) {
        k->logsumexp_rows(x.data(), red.data(), rows, n, 1.0);
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

// ------------------------------------------------------------------------------ losses

// Cross-entropy of `rows` rows of n logits: hard labels (label = row mod n) or soft targets (a
// softmax of other logits), the loss alone or with the gradient (written to its own array).
template <class T> void bm_cross_entropy(benchmark::State& state, std::string isa, bool soft, bool grad,
                                         std::size_t n, std::size_t rows) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  const std::size_t total = n * rows;
  auto x = logits<T>(total, 1);
  std::vector<T> g(grad ? total : 0), y;
  if (soft) {
    y = logits<T>(total, 2);
    for (std::size_t r = 0; r < rows; ++r) k->softmax(y.data() + r * n, y.data() + r * n, n, 1.0);
  }
  const T scale = T(1.0 / double(rows));
  T sink = 0;
  for (auto _ : state) {
    for (std::size_t r = 0; r < rows; ++r) {
      T* gp = grad ? g.data() + r * n : nullptr;
      sink += soft ? k->cross_entropy_soft(x.data() + r * n, y.data() + r * n, n, nullptr, T(0), scale, gp, 1.0)
                   : k->cross_entropy_hard(x.data() + r * n, n, std::int64_t(r % n), nullptr, T(n), T(0), scale, gp, 1.0);
    }
    benchmark::DoNotOptimize(sink);
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, total, ((soft ? 2 : 1) + (grad ? 1 : 0)) * total * sizeof(T));
}

// Binary cross-entropy with logits over n elements, targets 0/1, no weights: per-element losses
// stored (reduction 'none'), or summed by the kernel (mean/sum), with or without the gradient.
enum class Bce { store, sum, sum_grad };
template <class T> void bm_bce(benchmark::State& state, std::string isa, Bce mode, std::size_t n) {
  const TypedKernels<T>* k = select<T>(state, isa);
  if (!k) return;
  auto x = logits<T>(n, 1);
  auto y = logits<T>(n, 2);
  for (auto& v : y) v = v > T(1.5) ? T(1) : T(0);
  std::vector<T> loss(mode == Bce::store ? n : 0), g(mode == Bce::sum_grad ? n : 0);
  double sink = 0;
  for (auto _ : state) {
    sink += k->bce_with_logits(x.data(), y.data(), nullptr, nullptr, T(0), T(1.0 / double(n)),
                               mode == Bce::store ? loss.data() : nullptr,
                               mode == Bce::sum_grad ? g.data() : nullptr, n, nullptr, nullptr);
    benchmark::DoNotOptimize(sink);
    benchmark::DoNotOptimize(loss.data());
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, (2 + (mode == Bce::sum ? 0 : 1)) * n * sizeof(T));
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
const std::vector<std::pair<int64_t, int64_t>> kRowShapes = {{10, 4096}, {32, 4096}, {100, 1024}, {1000, 64}, {1000, 1024}, {32000, 32}};
// The specialised paths' shapes (forward row kernels, plain and confident rows): many grouped rows
// (row groups), rows of 1000 in an output of 16 MiB or more, long rows in a small and in a big
// output (cache-missing outputs, where the row kernels' order of passes matters most).
const std::vector<std::pair<int64_t, int64_t>> kPathRowShapes = {{32, 65536}, {100, 16384}, {1000, 16384}, {32000, 64}, {32000, 256}};

template <class T> void register_for(const std::string& isa) {
  const std::string dt = dtype_name<T>();
  const std::pair<const char*, Unary> unary[] = {{"sigmoid", Unary::sigmoid},
                                                 {"log_sigmoid", Unary::log_sigmoid},
                                                 {"softplus", Unary::softplus},
                                                 {"exp", Unary::exp},
                                                 {"log1p_unit", Unary::log1p_unit}};
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
          bm_row<T>, isa, op, std::size_t(n), std::size_t(rows), false);
    }
  }
  for (auto [name, op] : {std::pair<const char*, Row>{"softmax", Row::softmax},
                          {"log_softmax", Row::log_softmax},
                          {"logsumexp", Row::logsumexp}}) {
    for (bool confident : {false, true}) {
      if (confident && op != Row::log_softmax) continue;  // the top-heavy paths are log_softmax's
      for (auto [n, rows] : kPathRowShapes) {
        const bool in_grid = std::find(kRowShapes.begin(), kRowShapes.end(), std::make_pair(n, rows)) != kRowShapes.end();
        if (in_grid && !confident) continue;
        benchmark::RegisterBenchmark((dt + "_" + name + (confident ? "_confident/" : "/") + isa + "/row:" +
                                      std::to_string(n) + "/rows:" + std::to_string(rows))
                                         .c_str(),
                                     bm_row<T>, isa, op, std::size_t(n), std::size_t(rows), confident);
      }
    }
  }
  const std::tuple<const char*, bool, bool> ce[] = {{"cross_entropy_hard", false, false},
                                                     {"cross_entropy_hard_grad", false, true},
                                                     {"cross_entropy_soft", true, false},
                                                     {"cross_entropy_soft_grad", true, true}};
  for (auto [name, soft, grad] : ce) {
    for (auto [n, rows] : kRowShapes) {
      benchmark::RegisterBenchmark(
          (dt + "_" + name + "/" + isa + "/row:" + std::to_string(n) + "/rows:" + std::to_string(rows)).c_str(),
          bm_cross_entropy<T>, isa, soft, grad, std::size_t(n), std::size_t(rows));
    }
  }
  const std::pair<const char*, Bce> bce[] = {
      {"bce_with_logits", Bce::store}, {"bce_with_logits_sum", Bce::sum}, {"bce_with_logits_sum_grad", Bce::sum_grad}};
  for (auto [name, mode] : bce) {
    for (auto n : kElementwiseSizes) {
      benchmark::RegisterBenchmark((dt + "_" + name + "/" + isa + "/n:" + std::to_string(n)).c_str(), bm_bce<T>, isa,
                                   mode, std::size_t(n));
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
