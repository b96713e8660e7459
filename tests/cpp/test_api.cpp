// Tests of the public C++ API (logitkit.hpp) against known values: the worked values of
// docs/semantics.md, values computed with mpmath at 40 digits, hand-derived backward rules, and central
// finite differences of the losses for their gradients. Strided and in-place layouts must give
// exactly the contiguous results; errors must be reported (and write nothing).
//
// Built three ways (tests/cpp/CMakeLists.txt): against the compiled library, where it runs on every
// ISA this CPU supports, and header-only for the ISA of its compiler flags, where it exits with 77
// (skipped) if this CPU lacks that ISA.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <logitkit/logitkit.hpp>
#ifdef LOGITKIT_HEADER_ONLY
#include "compiled_isa.hpp"
#endif

namespace lk = logitkit;

namespace {

int failures = 0;
const char* g_isa = "";

template <class T>
const char* tname() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

template <class T>
void close(double got, double want, const char* what, double rel = -1) {
  if (rel < 0) rel = sizeof(T) == 4 ? 2e-6 : 2e-14;
  const bool ok = (std::isnan(want) && std::isnan(got)) || got == want ||
                  std::fabs(got - want) <= rel * std::fabs(want);
  if (!ok) {
    std::printf("FAIL %s %s %s: got %.17g, want %.17g\n", g_isa, tname<T>(), what, got, want);
    ++failures;
  }
}

void expect(bool cond, const char* what) {
  if (!cond) {
    std::printf("FAIL %s: %s\n", g_isa, what);
    ++failures;
  }
}

void expect_ok(const lk::Status& s, const char* what) {
  if (!s) {
    char msg[256];
    lk::describe(s, msg, sizeof msg);
    std::printf("FAIL %s %s: unexpected error %s (%s)\n", g_isa, what, lk::errc_name(s.code), msg);
    ++failures;
  }
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// ------------------------------------------------------------------------- activations, softmax

template <class T>
void test_activations() {
  const std::vector<T> x = {T(0), T(2), T(1), T(-750)};
  std::vector<T> y(4);
  expect_ok(lk::sigmoid(lk::view(x.data(), 4), lk::view(y.data(), 4)), "sigmoid");
  close<T>(y[0], 0.5, "sigmoid(0)");
  close<T>(y[1], 0.88079707797788244406, "sigmoid(2)");
  expect(y[3] == T(0), "sigmoid(-750) is 0");
  expect_ok(lk::softplus(lk::view(x.data(), 4), lk::view(y.data(), 4)), "softplus");
  close<T>(y[2], 1.313261687518222834, "softplus(1)");
  expect_ok(lk::log_sigmoid(lk::view(x.data(), 4), lk::view(y.data(), 4)), "log_sigmoid");
  close<T>(y[2], -(1.313261687518222834 - 1.0), "log_sigmoid(1)");
  close<T>(y[3], -750.0, "log_sigmoid(-750)");

  // backward rules: g·y·(1-y) and g·sigmoid(-x)
  const std::vector<T> g = {T(2), T(1)}, ys = {T(0.25), T(0)};
  std::vector<T> out(2);
  expect_ok(lk::sigmoid_backward(lk::view(g.data(), 2), lk::view(ys.data(), 2), lk::view(out.data(), 2)),
            "sigmoid_backward");
  close<T>(out[0], 0.375, "sigmoid_backward");
  expect_ok(lk::log_sigmoid_backward(lk::view(g.data(), 2), lk::view(ys.data(), 2), lk::view(out.data(), 2)),
            "log_sigmoid_backward");
  close<T>(out[0], 2 * 0.43782349911420193, "log_sigmoid_backward(2, 0.25)");  // 2·σ(-0.25)
  close<T>(out[1], 0.5, "log_sigmoid_backward(1, 0)");

  // a strided 2 × 3 view (every other element) gives the contiguous results, in place too
  std::vector<T> big = {T(-3), T(9), T(-0.5), T(9), T(4), T(9), T(7), T(9), T(0.25), T(9), T(-8), T(9)};
  const std::vector<T> dense = {T(-3), T(-0.5), T(4), T(7), T(0.25), T(-8)};
  std::vector<T> want(6);
  expect_ok(lk::softplus(lk::view(dense.data(), 2, 3), lk::view(want.data(), 2, 3)), "softplus dense");
  auto sv = lk::view(big.data(), 2, 3, 6, 2);
  expect_ok(lk::softplus(sv, sv), "softplus strided in place");
  for (std::size_t i = 0; i < 6; ++i) expect(big[2 * i] == want[i] && big[2 * i + 1] == T(9), "softplus strided");
}

template <class T>
void test_softmax() {
  // x = [[1, 2, 3], [0, -40, x]]: mpmath values at 40 digits
  const std::vector<T> x = {T(1), T(2), T(3)};
  std::vector<T> y(3), lse(1);
  expect_ok(lk::softmax(lk::view(x.data(), 3), lk::view(y.data(), 3)), "softmax");
  close<T>(y[0], 0.090030573170380457998, "softmax[0]");
  close<T>(y[1], 0.24472847105479765247, "softmax[1]");
  close<T>(y[2], 0.66524095577482188953, "softmax[2]");
  expect_ok(lk::log_softmax(lk::view(x.data(), 3), lk::view(y.data(), 3)), "log_softmax");
  close<T>(y[0], 1 - 3.4076059644443803045, "log_softmax[0]");
  close<T>(y[2], 3 - 3.4076059644443803045, "log_softmax[2]");
  expect_ok(lk::logsumexp(lk::view(x.data(), 3), lk::vec(lse.data(), 1)), "logsumexp");
  close<T>(lse[0], 3.4076059644443803045, "logsumexp");
  expect_ok(lk::logsumexp(lk::view(x.data(), 3), lk::vec(lse.data(), 1), 2.0), "logsumexp T=2");
  close<T>(lse[0], 2.1802696706417345759, "logsumexp T=2");
  expect_ok(lk::softmax(lk::view(x.data(), 3), lk::view(y.data(), 3), 2.0), "softmax T=2");
  close<T>(y[0], 0.18632372322584757702, "softmax T=2 [0]");
  close<T>(y[2], 0.5064803910556540259, "softmax T=2 [2]");
  // the tiny log-probability of a confident row keeps its digits
  const std::vector<T> c = {T(0), T(-40)};
  expect_ok(lk::log_softmax(lk::view(c.data(), 2), lk::view(y.data(), 2)), "log_softmax confident");
  close<T>(y[0], -4.2483542552915889863e-18, "log_softmax([0, -40])[0]");

  // class-major memory (C = 3 rows of N = 4) read through strides equals the row-major result
  const std::vector<T> rm = {T(1), T(2), T(3), T(-1), T(0), T(5), T(0.5), T(0.5), T(0.5), T(-7), T(2), T(100)};
  std::vector<T> cm(12), want(12), got_cm(12), lse_rm(4), lse_cm(8);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t k = 0; k < 3; ++k) cm[k * 4 + i] = rm[i * 3 + k];
  for (int log = 0; log < 2; ++log) {
    auto f = [&](lk::MatrixView<const T> a, lk::MatrixView<T> b) {
      return log ? lk::log_softmax(a, b, 0.7) : lk::softmax(a, b, 0.7);
    };
    expect_ok(f(lk::view(rm.data(), 4, 3), lk::view(want.data(), 4, 3)), "softmax row-major");
    expect_ok(f(lk::view(cm.data(), 4, 3, 1, 4), lk::view(got_cm.data(), 4, 3, 1, 4)), "softmax class-major");
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t k = 0; k < 3; ++k) expect(got_cm[k * 4 + i] == want[i * 3 + k], "softmax class-major values");
    std::vector<T> inplace = rm;
    auto v = lk::view(inplace.data(), 4, 3);
    expect_ok(f(v, v), "softmax in place");
    for (std::size_t k = 0; k < 12; ++k)  // (in place may take another, equally accurate, path)
      close<T>(inplace[k], want[k], "softmax in place values", sizeof(T) == 4 ? 1e-6 : 1e-15);
    std::vector<T> cm_inplace = cm;
    auto cv = lk::view(cm_inplace.data(), 4, 3, 1, 4);
    expect_ok(f(cv, cv), "softmax strided in place");
    expect(cm_inplace == got_cm, "softmax strided in place values");
  }
  expect_ok(lk::logsumexp(lk::view(rm.data(), 4, 3), lk::vec(lse_rm.data(), 4)), "logsumexp rows");
  expect_ok(lk::logsumexp(lk::view(cm.data(), 4, 3, 1, 4), lk::vec(lse_cm.data(), 4, 2)), "logsumexp strided");
  for (std::size_t i = 0; i < 4; ++i) expect(lse_cm[2 * i] == lse_rm[i], "logsumexp strided values");
  close<T>(lse_rm[3], 100 + std::log1p(std::exp(-102.0) + std::exp(-107.0)), "logsumexp row 3");

  // backward rules, from the forward output y
  const std::vector<T> p = {T(0.2), T(0.3), T(0.5)}, g1 = {T(1), T(0), T(0)}, g2 = {T(1), T(2), T(3)};
  std::vector<T> out(3), lp(3);
  expect_ok(lk::softmax_backward(lk::view(g1.data(), 3), lk::view(p.data(), 3), lk::view(out.data(), 3)),
            "softmax_backward");
  close<T>(out[0], 0.16, "softmax_backward[0]");
  close<T>(out[1], -0.06, "softmax_backward[1]");
  close<T>(out[2], -0.1, "softmax_backward[2]");
  for (int i = 0; i < 3; ++i) lp[i] = std::log(p[i]);
  expect_ok(lk::log_softmax_backward(lk::view(g2.data(), 3), lk::view(lp.data(), 3), lk::view(out.data(), 3)),
            "log_softmax_backward");
  close<T>(out[0], -0.2, "log_softmax_backward[0]", sizeof(T) == 4 ? 1e-5 : 1e-13);
  close<T>(out[1], 0.2, "log_softmax_backward[1]", sizeof(T) == 4 ? 1e-5 : 1e-13);
  expect(std::fabs(double(out[2])) <= (sizeof(T) == 4 ? 1e-6 : 1e-15), "log_softmax_backward[2] ~ 0");
  // strided: g and y read with column stride 2, out written with column stride 3
  std::vector<T> gs(6), ys(6), os(9, T(-1));
  for (int i = 0; i < 3; ++i) gs[2 * i] = g1[i], ys[2 * i] = p[i];
  expect_ok(lk::softmax_backward(lk::view(gs.data(), 1, 3, 6, 2), lk::view(ys.data(), 1, 3, 6, 2),
                                 lk::view(os.data(), 1, 3, 9, 3)),
            "softmax_backward strided");
  expect_ok(lk::softmax_backward(lk::view(g1.data(), 3), lk::view(p.data(), 3), lk::view(out.data(), 3)),
            "softmax_backward again");
  for (int i = 0; i < 3; ++i) expect(os[3 * i] == out[i] && os[3 * i + 1] == T(-1), "softmax_backward strided values");

  // empty rows: nothing to write, logsumexp -inf
  std::vector<T> none(2, T(5));
  expect_ok(lk::logsumexp(lk::view(x.data(), 2, 0), lk::vec(none.data(), 2)), "logsumexp of empty rows");
  expect(std::isinf(none[0]) && none[0] < 0, "logsumexp of an empty row is -inf");
  expect_ok(lk::softmax(lk::MatrixView<const T>(nullptr, 0, 3), lk::MatrixView<T>(nullptr, 0, 3)), "no rows");
}

// --------------------------------------------------------------------------------------- losses

// docs/semantics.md, "Cross-entropy": x = [[1,2,3],[1,0,-1],[.5,.5,.5],[-2,4,0]], t = [2,1,1,0], weight = [0.2, 0.3, 0.5]
const std::vector<double> kX = {1, 2, 3, 1, 0, -1, .5, .5, .5, -2, 4, 0};
const std::vector<std::int64_t> kT = {2, 1, 1, 0};
const std::vector<double> kW = {0.2, 0.3, 0.5};

template <class T>
double ce(const std::vector<T>& x, const std::vector<std::int64_t>& t, const lk::CrossEntropyOptions<T>& o) {
  T loss = T(-1);
  expect_ok(lk::cross_entropy(lk::view(x.data(), t.size(), x.size() / t.size()), lk::vec(t.data(), t.size()),
                              lk::vec(&loss, 1), o),
            "cross_entropy");
  return double(loss);
}

template <class T>
void test_cross_entropy_values() {
  const auto x = cast<T>(kX);
  const auto w = cast<T>(kW);
  lk::CrossEntropyOptions<T> o;
  close<T>(ce(x, kT, o), 2.23360133912605, "ce plain mean");
  o.weight = lk::vec(w.data(), 3);
  close<T>(ce(x, kT, o), 1.6613728353426178, "ce weight mean");
  o.ignore_index = 1;
  close<T>(ce(x, kT, o), 2.011313157159509, "ce weight ignore mean");
  o = {};
  o.label_smoothing = T(0.15);
  close<T>(ce(x, kT, o), 2.17110133912605, "ce smoothing mean");
  o.weight = lk::vec(w.data(), 3);
  close<T>(ce(x, kT, o), 1.6865671160606173, "ce smoothing weight mean");
  o.ignore_index = 1;
  close<T>(ce(x, kT, o), 2.018772405256419, "ce smoothing weight ignore mean");
  o.reduction = lk::Reduction::sum;
  close<T>(ce(x, kT, o), 1.4131406836794933, "ce smoothing weight ignore sum");
  o.reduction = lk::Reduction::none;
  std::vector<T> per(4, T(-1));
  expect_ok(lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(kT.data(), 4), lk::vec(per.data(), 4), o), "ce none");
  close<T>(per[0], 0.2286128331110807, "ce none[0]");
  expect(per[1] == T(0) && per[2] == T(0), "ce none: ignored rows are 0");
  close<T>(per[3], 1.1845278505684125, "ce none[3]");

  // labels of another integer type, strided logits (class-major), sample weights with stride 0
  std::vector<T> cm(12);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t k = 0; k < 3; ++k) cm[k * 4 + i] = x[i * 3 + k];
  const std::vector<int> t32 = {2, 1, 1, 0};
  const T two = T(2);
  lk::CrossEntropyOptions<T> o2;
  o2.weight = lk::vec(w.data(), 3);
  o2.sample_weight = lk::vec(&two, 4, 0);
  T loss = 0;
  expect_ok(lk::cross_entropy(lk::view(cm.data(), 4, 3, 1, 4), lk::vec(t32.data(), 4), lk::vec(&loss, 1), o2),
            "ce class-major int labels");
  close<T>(loss, 1.6613728353426178, "ce: a constant sample weight cancels in the mean");
  o2.reduction = lk::Reduction::sum;
  expect_ok(lk::cross_entropy(lk::view(cm.data(), 4, 3, 1, 4), lk::vec(t32.data(), 4), lk::vec(&loss, 1), o2),
            "ce sum sample weight");
  close<T>(loss, 2 * 1.6613728353426178 * (0.5 + 0.3 + 0.3 + 0.2), "ce sum with sample weight 2");

  // every row ignored: the mean is NaN (torch's 0/0)
  lk::CrossEntropyOptions<T> o3;
  o3.ignore_index = 1;
  const std::vector<std::int64_t> ones = {1, 1};
  T m = 0;
  expect_ok(lk::cross_entropy(lk::view(x.data(), 2, 3), lk::vec(ones.data(), 2), lk::vec(&m, 1), o3), "ce all ignored");
  expect(std::isnan(m), "ce mean over ignored rows is NaN");

  // soft labels: one-hot targets give the hard-label loss; smoothing mixes in ε/C
  std::vector<T> onehot(12, T(0));
  for (std::size_t i = 0; i < 4; ++i) onehot[i * 3 + std::size_t(kT[i])] = T(1);
  lk::CrossEntropyOptions<T> os;
  os.label_smoothing = T(0.15);
  expect_ok(lk::cross_entropy(lk::view(x.data(), 4, 3), lk::view(onehot.data(), 4, 3), lk::vec(&loss, 1), os),
            "ce soft");
  close<T>(loss, 2.17110133912605, "ce soft one-hot smoothing mean");
  // a zero target probability contributes 0 even where the logit is -inf
  const std::vector<T> xi = {-std::numeric_limits<T>::infinity(), T(0)}, yi = {T(0), T(1)};
  expect_ok(lk::cross_entropy(lk::view(xi.data(), 1, 2), lk::view(yi.data(), 1, 2), lk::vec(&loss, 1)), "ce soft -inf");
  close<T>(loss, 0.0, "ce soft: 0·log 0 = 0");
}

template <class T>
void test_bce_values() {
  // docs/semantics.md, "BCE with logits", reduction none
  const std::vector<T> x = {T(0), T(-120), T(120), T(-1e4), T(1e4), T(3)};
  const std::vector<T> y = {T(0), T(1), T(0), T(1), T(1), T(0.25)};
  const std::vector<double> want = {0.6931471805599453, 120, 120, 1e4, 0, 2.298587351573742};
  std::vector<T> per(6, T(-1));
  lk::BceOptions<T> o;
  o.reduction = lk::Reduction::none;
  expect_ok(lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                 lk::view(per.data(), 2, 3), o),
            "bce none");
  for (int i = 0; i < 6; ++i) close<T>(per[i], want[i], "bce none value");
  double sum = 0;
  for (double v : want) sum += v;
  T loss = 0;
  expect_ok(lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                 lk::view(&loss, 1)),
            "bce mean");
  close<T>(loss, sum / 6, "bce mean");
  // the limits at infinite logits (torch gives NaN)
  const T inf = std::numeric_limits<T>::infinity();
  const std::vector<T> xi = {inf, -inf, inf}, yi = {T(1), T(0), T(0)};
  std::vector<T> li(3);
  expect_ok(lk::binary_cross_entropy_with_logits(lk::view(xi.data(), 3), lk::view(yi.data(), 3), lk::view(li.data(), 3), o),
            "bce inf");
  expect(li[0] == T(0) && li[1] == T(0) && li[2] == inf, "bce limits at ±inf");
  // pos_weight per class, and a weight per row repeated along the columns (column stride 0)
  const std::vector<T> pw = {T(2), T(1), T(0.5)}, rw = {T(3), T(0.5)};
  o.pos_weight = lk::vec(pw.data(), 3);
  o.weight = lk::view(rw.data(), 2, 3, 1, 0);  // weight of row i, repeated along the columns
  expect_ok(lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                 lk::view(per.data(), 2, 3), o),
            "bce weights");
  // ℓ = w·[(1-y)·x + (1 + (p-1)·y)·softplus(-x)], in long double
  for (int i = 0; i < 6; ++i) {
    const long double xv = x[i], yv = y[i], p = pw[i % 3], wv = rw[i / 3];
    const long double sp = (xv < 0 ? -xv : 0) + std::log1p(std::exp(-std::fabs(xv)));  // softplus(-x)
    const long double lin = (1 - yv) == 0 ? 0 : (1 - yv) * xv;
    close<T>(per[i], double(wv * (lin + (1 + (p - 1) * yv) * sp)), "bce weighted value", sizeof(T) == 4 ? 2e-6 : 1e-13);
  }
}

// Temperature (cross-entropy) and per-class temperature and bias (BCE): the loss of x/T (+ b) and
// the gradient with respect to x, against long double; bad values are errors naming the argument.
template <class T>
void test_temperature() {
  const std::vector<T> x = {T(1), T(-2), T(3.5), T(0.25), T(7), T(-1)};
  const std::vector<std::int64_t> t = {2, 0};
  std::vector<T> per(2), grad(6);
  lk::CrossEntropyOptions<T> o;
  o.reduction = lk::Reduction::none;
  o.temperature = 2.5;
  expect_ok(lk::cross_entropy_with_grad(lk::view(x.data(), 2, 3), lk::vec(t.data(), 2), lk::vec(per.data(), 2),
                                        lk::view(grad.data(), 2, 3), o),
            "cross_entropy temperature");
  for (int i = 0; i < 2; ++i) {
    long double m = -1e300L, S = 0;
    for (int c = 0; c < 3; ++c) m = std::max(m, (long double)x[i * 3 + c] / 2.5L);
    for (int c = 0; c < 3; ++c) S += std::exp((long double)x[i * 3 + c] / 2.5L - m);
    close<T>(per[i], double(m + std::log(S) - (long double)x[i * 3 + t[i]] / 2.5L), "ce temperature loss");
    for (int c = 0; c < 3; ++c) {
      const long double p = std::exp((long double)x[i * 3 + c] / 2.5L - m) / S;
      close<T>(grad[i * 3 + c], double((p - (c == t[i] ? 1 : 0)) / 2.5L), "ce temperature grad", sizeof(T) == 4 ? 1e-5 : 1e-13);
    }
  }
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    o.temperature = bad;
    const lk::Status s = lk::cross_entropy(lk::view(x.data(), 2, 3), lk::vec(t.data(), 2), lk::vec(per.data(), 2), o);
    expect(!s && s.code == lk::Errc::invalid_argument && std::string(s.argument) == "temperature",
           "cross_entropy: a bad temperature is an error naming it");
  }
  // BCE, per class
  const std::vector<T> y = {T(1), T(0), T(0.25), T(0), T(1), T(1)};
  const std::vector<double> tc = {0.5, 2.0, 1.3}, bc = {0.1, -1.0, 2.0};
  lk::BceOptions<T> b;
  b.reduction = lk::Reduction::none;
  b.temperature = lk::vec(tc.data(), 3);
  b.bias = lk::vec(bc.data(), 3);
  std::vector<T> bl(6), bg(6);
  expect_ok(lk::binary_cross_entropy_with_logits_with_grad(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                           lk::view(bl.data(), 2, 3), lk::view(bg.data(), 2, 3), b),
            "bce temperature/bias");
  for (int i = 0; i < 6; ++i) {
    const long double z = (long double)x[i] / tc[i % 3] + bc[i % 3], yv = y[i];
    const long double sp = (z < 0 ? -z : 0) + std::log1p(std::exp(-std::fabs(z)));  // softplus(-z)
    close<T>(bl[i], double((1 - yv) * z + sp), "bce temperature/bias loss", sizeof(T) == 4 ? 2e-6 : 1e-13);
    const long double sg = 1 / (1 + std::exp(-z));
    close<T>(bg[i], double((sg - yv) / tc[i % 3]), "bce temperature/bias grad", sizeof(T) == 4 ? 1e-5 : 1e-12);
  }
  const std::vector<double> short_t = {1.0, 2.0}, bad_t = {1.0, 0.0, 1.0};
  const std::vector<double> bad_b = {0.0, std::numeric_limits<double>::quiet_NaN(), 0.0};
  auto bce_err = [&](const lk::BceOptions<T>& bo) {
    return lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                lk::view(bl.data(), 2, 3), bo);
  };
  b.temperature = lk::vec(short_t.data(), 2);
  lk::Status s = bce_err(b);
  expect(!s && s.code == lk::Errc::shape_mismatch && std::string(s.argument) == "temperature", "bce: temperature length");
  b.temperature = lk::vec(bad_t.data(), 3);
  s = bce_err(b);
  expect(!s && s.code == lk::Errc::invalid_argument && std::string(s.argument) == "temperature", "bce: temperature 0");
  b.temperature = lk::vec(tc.data(), 3);
  b.bias = lk::vec(bad_b.data(), 3);
  s = bce_err(b);
  expect(!s && s.code == lk::Errc::invalid_argument && std::string(s.argument) == "bias", "bce: NaN bias");
}

// Gradients of the fused functions against central differences of the loss (double only: the
// differences need the digits), for every reduction and option mix.
void test_gradients() {
  using T = double;
  const auto x = kX;
  const auto w = kW;
  std::vector<T> soft = {0.1, 0.2, 0.7, 0.5, 0.5, 0, 1, 0, 0, 0.25, 0.25, 0.5};
  for (int variant = 0; variant < 6; ++variant) {
    lk::CrossEntropyOptions<T> o;
    o.weight = lk::vec(w.data(), 3);
    o.label_smoothing = 0.1;
    o.reduction = variant % 3 == 0 ? lk::Reduction::mean : variant % 3 == 1 ? lk::Reduction::sum : lk::Reduction::none;
    if (variant < 3) o.ignore_index = 1;
    const std::vector<T> sw = {1.5, 0.5, 2, 1};
    if (variant == 4) o.sample_weight = lk::vec(sw.data(), 4);
    const bool hard = variant < 3;
    auto loss_of = [&](const std::vector<T>& xs) {
      std::vector<T> l(4, 0);
      const auto lv = lk::vec(l.data(), o.reduction == lk::Reduction::none ? 4 : 1);
      const lk::Status s = hard ? lk::cross_entropy(lk::view(xs.data(), 4, 3), lk::vec(kT.data(), 4), lv, o)
                                : lk::cross_entropy(lk::view(xs.data(), 4, 3), lk::view(soft.data(), 4, 3), lv, o);
      expect_ok(s, "ce for differences");
      double total = 0;
      for (T v : l) total += v;  // none: the gradient is that of each row's own loss
      return total;
    };
    std::vector<T> l(4), grad(12);
    const auto lv = lk::vec(l.data(), o.reduction == lk::Reduction::none ? 4 : 1);
    const lk::Status s =
        hard ? lk::cross_entropy_with_grad(lk::view(x.data(), 4, 3), lk::vec(kT.data(), 4), lv, lk::view(grad.data(), 4, 3), o)
             : lk::cross_entropy_with_grad(lk::view(x.data(), 4, 3), lk::view(soft.data(), 4, 3), lv,
                                           lk::view(grad.data(), 4, 3), o);
    expect_ok(s, "ce with grad");
    double total = 0;
    for (T v : l) total += v;
    close<T>(total, loss_of(x), "ce: the fused loss equals the loss alone", 1e-13);
    for (std::size_t k = 0; k < 12; ++k) {
      std::vector<T> a = x, b = x;
      const double h = 1e-5;
      a[k] += h;
      b[k] -= h;
      const double fd = (loss_of(a) - loss_of(b)) / (2 * h);
      if (!(std::fabs(grad[k] - fd) <= 1e-8 + 1e-7 * std::fabs(fd))) {
        std::printf("FAIL %s ce gradient variant %d [%zu]: %.12g vs differences %.12g\n", g_isa, variant, k, grad[k], fd);
        ++failures;
      }
    }
    // in place over the logits, and through class-major strides: the same gradient
    std::vector<T> inplace = x;
    std::vector<T> l2(4);
    const auto lv2 = lk::vec(l2.data(), lv.size);
    expect_ok(hard ? lk::cross_entropy_with_grad(lk::view(inplace.data(), 4, 3), lk::vec(kT.data(), 4), lv2,
                                                 lk::view(inplace.data(), 4, 3), o)
                   : lk::cross_entropy_with_grad(lk::view(inplace.data(), 4, 3), lk::view(soft.data(), 4, 3), lv2,
                                                 lk::view(inplace.data(), 4, 3), o),
              "ce grad in place");
    for (std::size_t k = 0; k < 12; ++k)  // (in place may take another, equally accurate, path)
      expect(std::fabs(inplace[k] - grad[k]) <= 1e-13 * std::fabs(grad[k]) + 1e-17, "ce grad in place value");
    std::vector<T> cm(12), gcm(12);
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t c = 0; c < 3; ++c) cm[c * 4 + i] = x[i * 3 + c];
    expect_ok(hard ? lk::cross_entropy_with_grad(lk::view(cm.data(), 4, 3, 1, 4), lk::vec(kT.data(), 4), lv2,
                                                 lk::view(gcm.data(), 4, 3, 1, 4), o)
                   : lk::cross_entropy_with_grad(lk::view(cm.data(), 4, 3, 1, 4), lk::view(soft.data(), 4, 3), lv2,
                                                 lk::view(gcm.data(), 4, 3, 1, 4), o),
              "ce grad class-major");
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t c = 0; c < 3; ++c) expect(gcm[c * 4 + i] == grad[i * 3 + c], "ce grad class-major value");
  }
  // BCE: gradient of the mean with weights, pos_weight and smoothing
  const std::vector<T> bx = {0.3, -2, 5, 0, -0.7, 1.5}, by = {0, 1, 0.25, 1, 0.5, 1}, pw = {2, 0.5, 1};
  const std::vector<T> bw = {1, 2, 0.5, 3, 1, 1};
  lk::BceOptions<T> o;
  o.pos_weight = lk::vec(pw.data(), 3);
  o.weight = lk::view(bw.data(), 2, 3);
  o.label_smoothing = 0.2;
  auto loss_of = [&](const std::vector<T>& xs) {
    T l = 0;
    expect_ok(lk::binary_cross_entropy_with_logits(lk::view(xs.data(), 2, 3), lk::view(by.data(), 2, 3), lk::view(&l, 1), o),
              "bce for differences");
    return double(l);
  };
  T l = 0;
  std::vector<T> grad(6);
  expect_ok(lk::binary_cross_entropy_with_logits_with_grad(lk::view(bx.data(), 2, 3), lk::view(by.data(), 2, 3),
                                                           lk::view(&l, 1), lk::view(grad.data(), 2, 3), o),
            "bce with grad");
  close<T>(l, loss_of(bx), "bce: the fused loss equals the loss alone", 1e-13);
  for (std::size_t k = 0; k < 6; ++k) {
    std::vector<T> a = bx, b = bx;
    a[k] += 1e-5;
    b[k] -= 1e-5;
    const double fd = (loss_of(a) - loss_of(b)) / 2e-5;
    if (!(std::fabs(grad[k] - fd) <= 1e-9 + 1e-7 * std::fabs(fd))) {
      std::printf("FAIL %s bce gradient [%zu]: %.12g vs differences %.12g\n", g_isa, k, grad[k], fd);
      ++failures;
    }
  }
}

// ---------------------------------------------------------------------------------------- errors

template <class T>
void test_errors() {
  const auto x = cast<T>(kX);
  std::vector<T> y(12, T(7));
  char msg[256];

  lk::Status s = lk::softmax(lk::view(x.data(), 4, 3), lk::view(y.data(), 4, 3), 0.0);
  expect(s.code == lk::Errc::invalid_argument && std::strcmp(s.argument, "temperature") == 0, "temperature 0");
  expect(y[0] == T(7), "an error writes nothing");
  s = lk::softmax(lk::view(x.data(), 4, 3), lk::view(y.data(), 3, 4));
  expect(s.code == lk::Errc::shape_mismatch && std::strcmp(s.argument, "out") == 0, "softmax shape mismatch");
  s = lk::sigmoid(lk::MatrixView<const T>(nullptr, 2, 2), lk::view(y.data(), 2, 2));
  expect(s.code == lk::Errc::null_pointer, "null data");

  const std::vector<std::int64_t> bad = {2, 1, 3, -100};
  T loss = T(7);
  s = lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(bad.data(), 4), lk::vec(&loss, 1));
  expect(s.code == lk::Errc::invalid_label && s.row == 2 && s.value == 3, "label 3 at row 2");
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "labels: label 3 at position (2,) is outside [0, 3) and is not ignore_index=-100") == 0,
         "describe() of a bad label");
  expect(s.has_label && !s.label_unsigned && s.label == 3 && s.classes == 3 && s.ignore_index == -100,
         "a bad label's exact value, class count and ignore_index");
  expect(loss == T(7), "an error writes no loss");
  std::vector<T> grad(12, T(7));
  s = lk::cross_entropy_with_grad(lk::view(x.data(), 4, 3), lk::vec(bad.data(), 4), lk::vec(&loss, 1),
                                  lk::view(grad.data(), 4, 3));
  expect(s.code == lk::Errc::invalid_label && grad[0] == T(7), "an error writes no gradient");
  s = lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(bad.data(), 3), lk::vec(&loss, 1));
  expect(s.code == lk::Errc::shape_mismatch && std::strcmp(s.argument, "labels") == 0, "labels shape");
  lk::CrossEntropyOptions<T> o;
  o.label_smoothing = T(1.5);
  s = lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(kT.data(), 4), lk::vec(&loss, 1), o);
  expect(s.code == lk::Errc::invalid_argument && std::strcmp(s.argument, "label_smoothing") == 0, "smoothing 1.5");
  o = {};
  o.reduction = lk::Reduction::none;
  s = lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(kT.data(), 4), lk::vec(&loss, 1), o);
  expect(s.code == lk::Errc::shape_mismatch && std::strcmp(s.argument, "loss") == 0, "none needs N outputs");
  const std::vector<T> w2 = {T(1), T(2)};
  o = {};
  o.weight = lk::vec(w2.data(), 2);
  s = lk::cross_entropy(lk::view(x.data(), 4, 3), lk::vec(kT.data(), 4), lk::vec(&loss, 1), o);
  expect(s.code == lk::Errc::shape_mismatch && std::strcmp(s.argument, "weight") == 0, "weight per class");

  std::vector<T> soft = {T(0.2), T(0.8), T(0), T(0.5), T(0.6), T(0)};
  s = lk::cross_entropy(lk::view(x.data(), 2, 3), lk::view(soft.data(), 2, 3), lk::vec(&loss, 1));
  expect(s.code == lk::Errc::invalid_target && s.row == 1 && std::fabs(s.value - 1.1) < 1e-6, "soft row 1 sums to 1.1");
  // the texts Python raises for the same errors (tests/test_diagnostics.py, test_one_error_vocabulary)
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "target: each row of probabilities must sum to 1; row (1,) sums to 1.1; if each input can "
                          "be in several classes at once, the logits are multi-label: use logitkit.multilabel "
                          "(binary_cross_entropy_with_logits)") == 0,
         "describe() of a row sum above 1");
  soft[4] = T(0.1);
  s = lk::cross_entropy(lk::view(x.data(), 2, 3), lk::view(soft.data(), 2, 3), lk::vec(&loss, 1));
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "target: each row of probabilities must sum to 1; row (1,) sums to 0.6") == 0,
         "describe() of a row sum below 1");
  soft[4] = T(0.6);
  soft[4] = T(-0.5);
  soft[5] = T(1);
  s = lk::cross_entropy(lk::view(x.data(), 2, 3), lk::view(soft.data(), 2, 3), lk::vec(&loss, 1));
  expect(s.code == lk::Errc::invalid_target && s.row == 1 && s.col == 1 && s.has_col, "negative probability");
  lk::CrossEntropyOptions<T> nv;
  nv.validate = false;
  s = lk::cross_entropy(lk::view(x.data(), 2, 3), lk::view(soft.data(), 2, 3), lk::vec(&loss, 1), nv);
  expect(s.ok(), "validate = false skips the target checks");

  const std::vector<T> by = {T(0), T(1), T(1.5)};
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 3), lk::view(by.data(), 3), lk::view(&loss, 1));
  expect(s.code == lk::Errc::invalid_target && s.row == 0 && s.col == 2 && s.value == 1.5, "bce target 1.5");
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "target: probabilities must be in [0, 1]; 1.5 at position (0, 2)") == 0,
         "describe() of a bad BCE target");
  const std::vector<T> by2 = {T(0), T(1), T(0.5)}, pw = {T(1), T(-1), T(1)};
  lk::BceOptions<T> bo;
  bo.pos_weight = lk::vec(pw.data(), 3);
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 3), lk::view(by2.data(), 3), lk::view(&loss, 1), bo);
  expect(s.code == lk::Errc::invalid_weight && s.row == 1, "negative pos_weight");
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "pos_weight: must be >= 0; -1 at position (1,)") == 0, "describe() of a negative pos_weight");
  bo.pos_weight = lk::vec(pw.data(), 2);
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 3), lk::view(by2.data(), 3), lk::view(&loss, 1), bo);
  expect(s.code == lk::Errc::shape_mismatch && std::strcmp(s.argument, "pos_weight") == 0, "pos_weight per class");
}

// Rows longer than the stack buffer take the heap path when strided.
template <class T>
void test_long_strided_rows() {
  const std::size_t n = 2000;
  std::vector<T> x(2 * n), y(n), ys(2 * n);
  for (std::size_t i = 0; i < n; ++i) x[2 * i] = T(std::sin(double(i)) * 10), x[2 * i + 1] = T(1e30);
  std::vector<T> dense(n);
  for (std::size_t i = 0; i < n; ++i) dense[i] = x[2 * i];
  expect_ok(lk::log_softmax(lk::view(dense.data(), n), lk::view(y.data(), n)), "log_softmax long");
  expect_ok(lk::log_softmax(lk::view(x.data(), 1, n, 0, 2), lk::view(ys.data(), 1, n, 0, 2)), "log_softmax long strided");
  bool same = true;
  for (std::size_t i = 0; i < n; ++i) same = same && ys[2 * i] == y[i];
  expect(same, "long strided row equals the dense one");
}

// describe(): the value with the fewest digits that read back, positions in Python's tuple notation,
// or in an N-d shape the caller flattened; labels exactly, also beyond double's precision.
template <class T>
void test_describe() {
  char msg[256];
  const std::vector<T> x(12, T(0));
  std::vector<T> y(12, T(0.5));
  y[11] = T(0.1) - T(1);  // -0.9 in T: its shortest decimal form differs between float and double
  T loss = 0;
  lk::Status s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 4, 3), lk::view(y.data(), 4, 3), lk::view(&loss, 1));
  lk::describe(s, msg, sizeof msg);
  char want[128];
  std::snprintf(want, sizeof want, "target: probabilities must be in [0, 1]; %s at position (3, 2)",
                sizeof(T) == 4 ? "-0.8999999761581421" : "-0.9");
  expect(std::strcmp(msg, want) == 0, "describe(): shortest value that reads back");
  const std::size_t shape[3] = {2, 2, 3};
  lk::describe(s, msg, sizeof msg, shape, 3);
  expect(std::strstr(msg, "at position (1, 1, 2)") != nullptr, "describe(): position in an N-d shape");
  std::size_t idx[32];
  expect(lk::status_position(s, idx, shape, 3) == 3 && idx[0] == 1 && idx[1] == 1 && idx[2] == 2, "status_position");
  y[11] = T(2);
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 4, 3), lk::view(y.data(), 4, 3), lk::view(&loss, 1));
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "target: probabilities must be in [0, 1]; 2 at position (3, 2)") == 0, "describe(): 2, not 2.0");
  s = lk::softmax(lk::view(x.data(), 4, 3), lk::view(y.data(), 4, 3), -1.5);
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "temperature: must be a positive finite number; got -1.5") == 0, "describe(): value, no position");

  const std::vector<std::uint64_t> big = {1, 18446744073709551516ull, 2};
  s = lk::cross_entropy(lk::view(x.data(), 3, 4), lk::vec(big.data(), 3), lk::vec(&loss, 1));
  lk::describe(s, msg, sizeof msg);
  expect(std::strcmp(msg, "labels: label 18446744073709551516 at position (1,) is outside [0, 4) and is not ignore_index=-100") == 0,
         "describe(): an unsigned label beyond int64, exactly");
  const std::vector<std::int64_t> huge = {0, 9007199254740993, 1};
  s = lk::cross_entropy(lk::view(x.data(), 3, 4), lk::vec(huge.data(), 3), lk::vec(&loss, 1));
  lk::describe(s, msg, sizeof msg);
  expect(std::strstr(msg, "label 9007199254740993 at") != nullptr, "describe(): a label beyond double's precision, exactly");
}

// A split of the blocks other than the serial one: in reverse order, one at a time.
struct Backwards {
  template <class F>
  void operator()(std::size_t nb, std::size_t, F&& body) const {
    for (std::size_t b = nb; b-- > 0;) body(b, b + 1);
  }
};

// Binary cross-entropy, mean and sum: one blocked sum whatever the layout of the operands and
// whatever split of the blocks the caller's par makes (the Python package hands it its threads).
template <class T>
void test_bce_blocked_sum() {
  const std::size_t N = 301, C = 101, n = N * C;  // two blocks and a part of a third
  std::vector<T> x(n), y(n), w(n), pc(C), xs(2 * n), ys(2 * n);
  std::uint64_t r = 88172645463325252ull;
  auto next = [&] {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    return double(r >> 11) * 0x1p-53;
  };
  for (std::size_t e = 0; e < n; ++e) {
    x[e] = T(8 * next() - 4), y[e] = T(next() < 0.3 ? 0 : next()), w[e] = T(next() + 0.5);
    xs[2 * e] = x[e], ys[2 * e] = y[e];
  }
  for (std::size_t c = 0; c < C; ++c) pc[c] = T(2 * next());
  // with a per-class pos_weight the segments stay in their rows; without, they cross row ends
  for (int k = 0; k < 4; ++k) {
    const auto red = k % 2 ? lk::Reduction::sum : lk::Reduction::mean;
    lk::BceOptions<T> o;
    o.reduction = red;
    o.weight = lk::view(w.data(), N, C);
    if (k < 2) o.pos_weight = lk::vec(pc.data(), C);
    o.label_smoothing = T(0.05);
    T a = 0, b = 0, c = 0;
    std::vector<T> ga(n), gb(n), gc(2 * n);
    expect_ok(lk::binary_cross_entropy_with_logits_with_grad(lk::view(x.data(), N, C), lk::view(y.data(), N, C),
                                                              lk::view(&a, 1), lk::view(ga.data(), N, C), o),
              "bce blocked");
    expect_ok(lk::binary_cross_entropy_with_logits_with_grad(lk::view(x.data(), N, C), lk::view(y.data(), N, C),
                                                              lk::view(&b, 1), lk::view(gb.data(), N, C), o, Backwards{}),
              "bce blocked, another split");
    expect_ok(lk::binary_cross_entropy_with_logits_with_grad(
                  lk::view(xs.data(), N, C, std::ptrdiff_t(2 * C), 2), lk::view(ys.data(), N, C, std::ptrdiff_t(2 * C), 2),
                  lk::view(&c, 1), lk::view(gc.data(), N, C, std::ptrdiff_t(2 * C), 2), o),
              "bce blocked, strided");
    expect(std::memcmp(&a, &b, sizeof(T)) == 0 && ga == gb, "bce: the same bits for any split of the blocks");
    bool same = std::memcmp(&a, &c, sizeof(T)) == 0;
    for (std::size_t e = 0; e < n; ++e) same &= ga[e] == gc[2 * e];
    expect(same, "bce: the same bits for strided operands");
    // against a float64 sum of the per-element losses (reduction none)
    std::vector<T> per(n);
    lk::BceOptions<T> on = o;
    on.reduction = lk::Reduction::none;
    expect_ok(lk::binary_cross_entropy_with_logits(lk::view(x.data(), N, C), lk::view(y.data(), N, C),
                                                   lk::view(per.data(), N, C), on),
              "bce none");
    double sum = 0;
    for (T v : per) sum += double(v);
    const double want = red == lk::Reduction::mean ? sum / double(n) : sum;
    close<T>(a, want, "bce blocked sum vs per-element sum", sizeof(T) == 4 ? 1e-6 : 1e-13);
  }
}

// check_targets_after: a bad target is found after the pass (the sum is NaN), also with
// validate = false; in place it is found before the gradient replaces the logits.
template <class T>
void test_bce_targets_after() {
  std::vector<T> x = {T(1), T(-2), T(3), T(0.5), T(0), T(-1)}, y = {T(0), T(1), T(0.5), T(1.25), T(0), T(1)};
  T loss = T(7);
  lk::BceOptions<T> o;
  o.validate = false;
  o.check_targets_after = true;
  std::vector<T> g(6, T(9));
  lk::Status s = lk::binary_cross_entropy_with_logits_with_grad(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                               lk::view(&loss, 1), lk::view(g.data(), 2, 3), o);
  expect(s.code == lk::Errc::invalid_target && s.row == 1 && s.col == 0 && s.value == 1.25, "targets checked after");
  expect(loss == T(7), "no loss written on a bad target");
  const std::vector<T> x0 = x;
  s = lk::binary_cross_entropy_with_logits_with_grad(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3),
                                                     lk::view(&loss, 1), lk::view(x.data(), 2, 3), o);
  expect(s.code == lk::Errc::invalid_target && x == x0, "in place: the targets are checked before the logits change");
  o.check_targets_after = false;
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3), lk::view(&loss, 1), o);
  expect(s.ok() && std::isnan(loss), "validate = false: a bad target makes the sum NaN");
  y[3] = T(1);
  x[0] = std::numeric_limits<T>::quiet_NaN();
  o.check_targets_after = true;
  s = lk::binary_cross_entropy_with_logits(lk::view(x.data(), 2, 3), lk::view(y.data(), 2, 3), lk::view(&loss, 1), o);
  expect(s.ok() && std::isnan(loss), "a NaN logit is no target error");
  expect(lk::soft_target_tolerance(true, 4) == 2e-3 && lk::soft_target_tolerance(false, 0) == 1e-6,
         "soft_target_tolerance");
}

// A rows × cols matrix of small values with ties on purpose (dense[i] = (lcg % span - span/2) /
// scale), and the same values in two other layouts: rows spaced apart (row stride 2·cols + 3,
// contiguous columns) and every other column (column stride 2). views: the three of them.
template <class T>
struct TestLayouts {
  std::size_t R, C, S;
  std::vector<T> dense, spaced, cols;
  TestLayouts(std::size_t rows, std::size_t n, std::uint32_t seed, int span, T scale)
      : R(rows), C(n), S(2 * n + 3), dense(rows * n), spaced(rows * S, T(-9e9)), cols(rows * n * 2, T(-9e9)) {
    for (std::size_t i = 0; i < R * C; ++i) {
      seed = seed * 1664525u + 1013904223u;
      dense[i] = T(int(seed >> 20) % span - span / 2) / scale;
    }
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t c = 0; c < C; ++c) {
        spaced[r * S + c] = dense[r * C + c];
        cols[(r * C + c) * 2] = dense[r * C + c];
      }
  }
  std::array<lk::MatrixView<const T>, 3> views() const {
    return {lk::view(dense.data(), R, C), lk::MatrixView<const T>(spaced.data(), R, C, std::ptrdiff_t(S), 1),
            lk::MatrixView<const T>(cols.data(), R, C, std::ptrdiff_t(2 * C), 2)};
  }
};

// top_k against a stable sort of -x and against softmax at the winners, over dense rows, rows with a
// larger row stride (contiguous columns), column-strided rows, k on both sides of the SIMD
// selection's limit (64); a NaN row and a bad k are errors naming them.
template <class T>
void test_top_k() {
  const std::size_t R = 7, C = 150;
  const TestLayouts<T> L(R, C, 12345, 41, T(4));
  const std::vector<T>& dense = L.dense;
  std::vector<T> probs(R * C);
  expect_ok(lk::softmax(lk::view(dense.data(), R, C), lk::view(probs.data(), R, C)), "top_k: softmax");
  const auto views = L.views();
  for (const auto& v : views)
    for (std::size_t k : {std::size_t(1), std::size_t(5), std::size_t(64), std::size_t(65), C}) {
      std::vector<std::int64_t> idx(R * k);
      std::vector<T> p(R * k);
      expect_ok(lk::top_k<T>(v, k, lk::MatrixView<std::int64_t>(idx.data(), R, k), lk::view(p.data(), R, k)),
                "top_k");
      for (std::size_t r = 0; r < R; ++r) {
        std::vector<std::int64_t> order(C);
        for (std::size_t c = 0; c < C; ++c) order[c] = std::int64_t(c);
        std::stable_sort(order.begin(), order.end(),
                         [&](std::int64_t a, std::int64_t b) { return dense[r * C + a] > dense[r * C + b]; });
        for (std::size_t j = 0; j < k; ++j) {
          expect(idx[r * k + j] == order[j], "top_k: indices of a stable sort of -x");
          expect(p[r * k + j] == probs[r * C + std::size_t(order[j])], "top_k: softmax's bits at the winners");
        }
      }
    }
  std::vector<std::int64_t> idx(R * 2);
  std::vector<T> bad = dense;
  bad[3 * C + 17] = std::numeric_limits<T>::quiet_NaN();
  lk::Status s = lk::top_k<T>(lk::view(bad.data(), R, C), 2, lk::MatrixView<std::int64_t>(idx.data(), R, 2),
                              lk::MatrixView<T>{});
  expect(!s && s.code == lk::Errc::invalid_argument && std::string(s.argument) == "logits" && s.has_row && s.row == 3,
         "top_k: a NaN row is an error naming the row");
  s = lk::top_k<T>(lk::view(dense.data(), R, C), C + 1, lk::MatrixView<std::int64_t>(idx.data(), R, 2),
                   lk::MatrixView<T>{});
  expect(!s && s.code == lk::Errc::invalid_argument && std::string(s.argument) == "k", "top_k: k > C is an error");
}

// sample and sample_proba: the kept set against a stable sort and long double prefix sums, the
// draw against the inverse CDF of sample_proba's values, strided views, per-row options, errors.
template <class T>
void test_sample() {
  const std::size_t R = 6, C = 200;
  const TestLayouts<T> L(R, C, 777, 61, T(8));
  const std::vector<T>& dense = L.dense;
  const double temps[R] = {1.0, 0.7, 1.5, 1.0, 0.0, 2.0};
  const std::int64_t ks[R] = {0, 10, 0, 150, 3, 1000};
  const double ps[R] = {0.9, 1.0, 0.5, 0.8, 0.5, 0.99};
  const double mps[R] = {0.0, 0.0, 0.1, 0.05, 0.0, 0.2};
  lk::SampleOptions o;
  o.temperatures = lk::VectorView<const double>(temps, R);
  o.top_ks = lk::VectorView<const std::int64_t>(ks, R);
  o.top_ps = lk::VectorView<const double>(ps, R);
  o.min_ps = lk::VectorView<const double>(mps, R);
  std::vector<T> P(R * C);
  expect_ok(lk::sample_proba<T>(lk::view(dense.data(), R, C), lk::view(P.data(), R, C), o), "sample_proba");
  for (std::size_t r = 0; r < R; ++r) {
    const T* x = dense.data() + r * C;
    std::vector<std::size_t> order(C);
    for (std::size_t c = 0; c < C; ++c) order[c] = c;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] > x[b]; });
    std::vector<bool> kept(C, false);
    if (temps[r] == 0) {
      kept[order[0]] = true;
    } else {
      std::vector<long double> w(C);
      long double mx = -1e300L;
      for (std::size_t c = 0; c < C; ++c) mx = std::max(mx, (long double)(double(x[c]) / temps[r]));
      for (std::size_t c = 0; c < C; ++c) w[c] = std::exp((long double)(double(x[c]) / temps[r]) - mx);
      const std::size_t k = ks[r] == 0 || std::size_t(ks[r]) >= C ? C : std::size_t(ks[r]);
      long double total = 0, run = 0;
      for (std::size_t j = 0; j < k; ++j) total += w[order[j]];
      std::size_t m = k;
      for (std::size_t j = 0; j < k && ps[r] < 1; ++j) {
        run += w[order[j]];
        if (run >= (long double)ps[r] * total) {
          m = j + 1;
          break;
        }
      }
      for (std::size_t j = 0; j < m; ++j) kept[order[j]] = w[order[j]] >= (long double)mps[r] * w[order[0]];
      long double sk = 0;
      for (std::size_t c = 0; c < C; ++c) sk += kept[c] ? w[c] : 0;
      for (std::size_t c = 0; c < C; ++c)
        if (kept[c]) close<T>(double(P[r * C + c]), double(w[c] / sk), "sample_proba: value", sizeof(T) == 4 ? 1e-6 : 1e-14);
    }
    for (std::size_t c = 0; c < C; ++c) expect((P[r * C + c] > 0) == kept[c], "sample_proba: the kept set");
  }
  // the draw: tokens of every layout equal, and (double) the inverse CDF of P in index order
  double us[R];
  for (std::size_t r = 0; r < R; ++r) us[r] = (double(r) + 0.37) / double(R);
  const auto views = L.views();
  std::int64_t first[R] = {};
  for (std::size_t v = 0; v < 3; ++v) {
    std::int64_t tok[R] = {};
    expect_ok(lk::sample<T>(views[v], lk::VectorView<const double>(us, R), lk::VectorView<std::int64_t>(tok, R), o),
              "sample");
    for (std::size_t r = 0; r < R; ++r) {
      if (v == 0) first[r] = tok[r];
      expect(tok[r] == first[r], "sample: strided views give the same tokens");
      expect(tok[r] >= 0 && std::size_t(tok[r]) < C && P[r * C + std::size_t(tok[r])] > 0, "sample: a kept token");
      if (std::is_same_v<T, double>) {
        // the draw's sums: by blocks of 64 token indices, each left to right, the blocks' sums left to right
        constexpr std::size_t L = 64;
        const std::size_t nb = (C + L - 1) / L;
        std::vector<double> bs(nb, 0.0);
        for (std::size_t j = 0; j < C; ++j) bs[j / L] += double(P[r * C + j]);
        double c = 0;
        for (std::size_t b = 0; b < nb; ++b) c += bs[b];
        const double t = us[r] * c;
        double prefix = 0;
        std::size_t want = C;
        for (std::size_t b = 0; b < nb && want == C; ++b) {
          double part = 0;
          for (std::size_t j = b * L; j < C && j < (b + 1) * L && want == C; ++j)
            if (prefix + (part += double(P[r * C + j])) > t) want = j;
          prefix += bs[b];
        }
        expect(std::size_t(tok[r]) == want, "sample: the inverse CDF of sample_proba's values");
      }
    }
  }
  // logprobs: the same tokens, and log-softmax at the row's temperature (1 when greedy) of the token
  // and of the 7 largest logits, for every layout
  for (std::size_t v = 0; v < 3; ++v) {
    constexpr std::size_t N = 7;
    std::int64_t tok[R] = {}, top[R * N] = {};
    double chosen[R] = {}, top_lp[R * N] = {};
    lk::SampleLogprobs lp;
    lp.chosen = lk::VectorView<double>(chosen, R);
    lp.top_tokens = lk::MatrixView<std::int64_t>(top, R, N);
    lp.top_logprobs = lk::MatrixView<double>(top_lp, R, N);
    expect_ok(lk::sample<T>(views[v], lk::VectorView<const double>(us, R), lk::VectorView<std::int64_t>(tok, R), lp, o),
              "sample with logprobs");
    for (std::size_t r = 0; r < R; ++r) {
      expect(tok[r] == first[r], "sample with logprobs: the same tokens");
      const T* x = dense.data() + r * C;
      const double t = temps[r] > 0 ? temps[r] : 1.0;
      long double mx = -1e300L, sum = 0;
      for (std::size_t c = 0; c < C; ++c) mx = std::max(mx, (long double)x[c] / t);
      for (std::size_t c = 0; c < C; ++c) sum += std::exp((long double)x[c] / t - mx);
      const auto ref = [&](std::size_t c) { return double((long double)x[c] / t - mx - std::log(sum)); };
      const double tol = sizeof(T) == 4 ? 4e-7 : 4e-15;
      close<T>(chosen[r], ref(std::size_t(tok[r])), "sample: chosen logprob", tol);
      std::vector<std::size_t> order(C);
      for (std::size_t c = 0; c < C; ++c) order[c] = c;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] > x[b]; });
      for (std::size_t j = 0; j < N; ++j) {
        expect(std::size_t(top[r * N + j]) == order[j], "sample: top tokens in top_k's order");
        close<T>(top_lp[r * N + j], ref(order[j]), "sample: top logprobs", tol);
      }
    }
  }
  // u = 0 draws the first token of positive probability: C_j > 0, not C_j >= 0 (token 0 underflows)
  {
    const T zrow[4] = {T(-1000), T(0), T(0), T(-1)};
    const double u0[1] = {0.0};
    std::int64_t t0[1] = {-1};
    expect_ok(lk::sample<T>(lk::view(zrow, 4), lk::VectorView<const double>(u0, 1), lk::VectorView<std::int64_t>(t0, 1)),
              "sample: u = 0");
    expect(t0[0] == 1, "sample: u = 0 never draws a token of probability 0");
  }
  // errors
  std::int64_t tok[R] = {};
  const auto sample_with = [&](const lk::SampleOptions& oo, const double* u, const T* data) {
    return lk::sample<T>(lk::view(data, R, C), lk::VectorView<const double>(u, R), lk::VectorView<std::int64_t>(tok, R),
                         oo);
  };
  lk::SampleOptions bad;
  bad.temperature = -1;
  lk::Status s = sample_with(bad, us, dense.data());
  expect(!s && std::string(s.argument) == "temperature" && s.value == -1, "sample: temperature < 0");
  bad = {};
  bad.top_p = 0;
  s = sample_with(bad, us, dense.data());
  expect(!s && std::string(s.argument) == "top_p", "sample: top_p = 0");
  bad = {};
  bad.min_p = 1.5;
  s = sample_with(bad, us, dense.data());
  expect(!s && std::string(s.argument) == "min_p", "sample: min_p > 1");
  const std::int64_t badk[R] = {1, 2, -3, 4, 5, 6};
  bad = {};
  bad.top_ks = lk::VectorView<const std::int64_t>(badk, R);
  s = sample_with(bad, us, dense.data());
  expect(!s && std::string(s.argument) == "top_k" && s.has_row && s.row == 2, "sample: a negative per-row top_k");
  double badu[R] = {0, 0, 0, 1.0, 0, 0};
  s = sample_with({}, badu, dense.data());
  expect(!s && std::string(s.argument) == "uniforms" && s.row == 3, "sample: a uniform of 1");
  std::vector<T> rows = dense;
  rows[4 * C + 9] = std::numeric_limits<T>::quiet_NaN();
  for (std::size_t c = 0; c < C; ++c) rows[2 * C + c] = -std::numeric_limits<T>::infinity();
  s = sample_with({}, us, rows.data());
  expect(!s && std::string(s.argument) == "logits" && s.row == 2 && s.value < 0, "sample: the first bad row (-inf)");
  rows = dense;
  rows[4 * C + 9] = std::numeric_limits<T>::quiet_NaN();
  s = lk::sample_proba<T>(lk::view(rows.data(), R, C), lk::view(P.data(), R, C));
  expect(!s && std::string(s.argument) == "logits" && s.row == 4 && s.value != s.value, "sample_proba: a NaN row");
}

// entropy and kl_divergence against mpmath (50 digits), strided and in-place layouts against the
// contiguous call, the gradient against central differences, and the errors.
template <class T>
void test_divergences() {
  const T x3[3] = {1, 2, 3}, y3[3] = {3, 1, 2}, conf[2] = {40, 0}, z2[2] = {0, 0};
  T v[2];
  expect_ok(lk::entropy<T>(lk::view(conf, 1, 2), lk::vec(v, 1)), "entropy");
  close<T>(v[0], 1.7418252446695514808e-16, "entropy of a confident row (1.7e-16, not 0)");
  expect_ok(lk::entropy<T>(lk::view(x3, 1, 3), lk::vec(v, 1), 2.0), "entropy T=2");
  close<T>(v[0], 1.0201913367268313514, "entropy T=2");
  expect_ok(lk::kl_divergence<T>(lk::view(x3, 1, 3), lk::view(y3, 1, 3), lk::vec(v, 1)), "kl");
  close<T>(v[0], 0.72990828048885862601, "kl");
  expect_ok(lk::kl_divergence<T>(lk::view(x3, 1, 3), lk::view(y3, 1, 3), lk::vec(v, 1), 0.5), "kl T=0.5");
  close<T>(v[0], 1.9047425601411994021, "kl T=0.5");
  const T tiny[2] = {0, T(1e-6)};
  expect_ok(lk::kl_divergence<T>(lk::view(z2, 1, 2), lk::view(tiny, 1, 2), lk::vec(v, 1)), "kl tiny");
  close<T>(v[0], sizeof(T) == 4 ? double(T(1e-6)) * double(T(1e-6)) / 8 : 1.2499999999999479167e-13,
           "kl of rows 1e-6 apart (1.25e-13)");
  const T shifted[3] = {101, 102, 103};
  expect_ok(lk::kl_divergence<T>(lk::view(x3, 1, 3), lk::view(shifted, 1, 3), lk::vec(v, 1)), "kl shift");
  expect(v[0] == T(0), "kl of rows that differ by a constant is exactly 0");

  // layouts: a 5 × 37 batch, strided (every other column) and in place, against the dense call
  const std::size_t R = 5, C = 37;
  std::vector<T> p(R * C), q(R * C), ps(2 * R * C), qs(2 * R * C);
  for (std::size_t i = 0; i < R * C; ++i) {
    p[i] = T(std::sin(double(i) * 0.7) * 4);
    q[i] = T(std::cos(double(i) * 1.3) * 3);
    ps[2 * i] = p[i];
    qs[2 * i] = q[i];
  }
  std::vector<T> kl(R), kl2(R), g(R * C), g2(2 * R * C), h(R), h2(R), gh(R * C);
  expect_ok(lk::kl_divergence_with_grad<T>(lk::view(p.data(), R, C), lk::view(q.data(), R, C), lk::vec(kl.data(), R),
                                           lk::view(g.data(), R, C), 1.5),
            "kl_with_grad");
  const auto sview = [&](const T* d) { return lk::MatrixView<const T>(d, R, C, std::ptrdiff_t(2 * C), 2); };
  expect_ok(lk::kl_divergence_with_grad<T>(sview(ps.data()), sview(qs.data()), lk::vec(kl2.data(), R),
                                           lk::MatrixView<T>(g2.data(), R, C, std::ptrdiff_t(2 * C), 2), 1.5),
            "kl_with_grad strided");
  bool same = true;
  for (std::size_t i = 0; i < R; ++i) same = same && kl2[i] == kl[i];
  for (std::size_t i = 0; i < R * C; ++i) same = same && g2[2 * i] == g[i];
  expect(same, "kl_with_grad: strided views give the contiguous bits");
  std::vector<T> inplace = q;
  expect_ok(lk::kl_divergence_with_grad<T>(lk::view(p.data(), R, C), lk::view(inplace.data(), R, C),
                                           lk::vec(kl2.data(), R), lk::view(inplace.data(), R, C), 1.5),
            "kl_with_grad in place");
  expect(std::equal(inplace.begin(), inplace.end(), g.begin()) && std::equal(kl.begin(), kl.end(), kl2.begin()),
         "kl_with_grad: in place over q gives the same bits");
  // the gradient against central differences of the divergence, in double
  if constexpr (sizeof(T) == 8) {
    for (std::size_t j : {std::size_t(0), std::size_t(17), std::size_t(36)}) {
      std::vector<T> qp = q, qm = q;
      const double e = 1e-6;
      qp[j] += e;
      qm[j] -= e;
      T a, b;
      expect_ok(lk::kl_divergence<T>(lk::view(p.data(), 1, C), lk::view(qp.data(), 1, C), lk::vec(&a, 1), 1.5), "kl +");
      expect_ok(lk::kl_divergence<T>(lk::view(p.data(), 1, C), lk::view(qm.data(), 1, C), lk::vec(&b, 1), 1.5), "kl -");
      // central differences err by about 1e-16·KL/e: an absolute comparison
      expect(std::fabs(double(g[j]) - (double(a) - double(b)) / (2 * e)) <= 1e-8,
             "kl gradient against central differences");
    }
  }
  expect_ok(lk::entropy_with_grad<T>(lk::view(p.data(), R, C), lk::vec(h.data(), R), lk::view(gh.data(), R, C)),
            "entropy_with_grad");
  expect_ok(lk::entropy<T>(sview(ps.data()), lk::vec(h2.data(), R)), "entropy strided");
  expect(std::equal(h.begin(), h.end(), h2.begin()), "entropy: strided views give the contiguous bits");

  // Jensen-Shannon: a value from mpmath, the shift, the bound, in place over q
  {
    T js[1];
    expect_ok(lk::js_divergence<T>(lk::view(x3, 1, 3), lk::view(y3, 1, 3), lk::vec(js, 1), 0.5), "js");
    close<T>(js[0], 0.44928866158919222376, "js T=0.5");
    expect_ok(lk::js_divergence<T>(lk::view(x3, 1, 3), lk::view(shifted, 1, 3), lk::vec(js, 1)), "js shift");
    expect(js[0] == T(0), "js of rows that differ by a constant is exactly 0");
    std::vector<T> jg(R * C), q2 = q;
    std::vector<T> jv(R), jv2(R);
    expect_ok(lk::js_divergence_with_grad<T>(lk::view(p.data(), R, C), lk::view(q.data(), R, C), lk::vec(jv.data(), R),
                                             lk::view(jg.data(), R, C)),
              "js_with_grad");
    expect_ok(lk::js_divergence_with_grad<T>(lk::view(p.data(), R, C), lk::view(q2.data(), R, C),
                                             lk::vec(jv2.data(), R), lk::view(q2.data(), R, C)),
              "js_with_grad in place");
    expect(std::equal(jg.begin(), jg.end(), q2.begin()) && std::equal(jv.begin(), jv.end(), jv2.begin()),
           "js_with_grad: in place over q gives the same bits");
    bool bounded = true;
    for (T v : jv) bounded = bounded && v >= T(0) && double(v) <= 0.6931471805599453;
    expect(bounded, "js is within [0, log 2]");
  }

  // errors: shapes, temperature, and a NaN row's value
  lk::Status s = lk::kl_divergence<T>(lk::view(p.data(), R, C), lk::view(q.data(), R, C - 1), lk::vec(kl.data(), R));
  expect(!s && std::string(s.argument) == "q_logits", "kl: a shape mismatch names q_logits");
  s = lk::entropy<T>(lk::view(p.data(), R, C), lk::vec(h.data(), R - 1));
  expect(!s && std::string(s.argument) == "out", "entropy: out of the wrong size names out");
  s = lk::entropy<T>(lk::view(p.data(), R, C), lk::vec(h.data(), R), 0.0);
  expect(!s && std::string(s.argument) == "temperature", "entropy: temperature 0 is refused");
  std::vector<T> bad = p;
  bad[C + 3] = std::numeric_limits<T>::quiet_NaN();
  expect_ok(lk::entropy<T>(lk::view(bad.data(), R, C), lk::vec(h2.data(), R)), "entropy with a NaN row");
  expect(std::isnan(h2[1]) && h2[0] == h[0] && h2[2] == h[2], "entropy: a NaN row is NaN, the others keep their bits");
}

template <class T>
void test_binary_divergences() {
  // values from mpmath at 50 digits
  const T x[4] = {0, 40, -40, T(1.5)}, y[4] = {0, 41, -40, T(-0.5)};
  T h[4], g[4], kl[4], gk[4];
  expect_ok(lk::binary_entropy_with_grad<T>(lk::view(x, 1, 4), lk::view(h, 1, 4), lk::view(g, 1, 4)), "binary_entropy");
  close<T>(h[0], 0.69314718055994530942, "binary entropy at 0: log 2");
  close<T>(h[1], 1.7418252446695514808e-16, "binary entropy at 40 (1.7e-16, not 0)");
  close<T>(h[2], 1.7418252446695514808e-16, "binary entropy at -40");
  close<T>(g[3], -0.22371967810549928475, "binary entropy gradient at 1.5: -x·p·(1 - p)");
  expect_ok(lk::binary_kl_divergence_with_grad<T>(lk::view(x, 1, 4), lk::view(y, 1, 4), lk::view(kl, 1, 4),
                                                  lk::view(gk, 1, 4), 2.0),
            "binary_kl_divergence");
  expect(kl[0] == T(0) && kl[2] == T(0), "binary KL of equal logits is exactly 0");
  close<T>(kl[1], 2.1957605438602262240e-10, "binary KL at 40, 41 over T = 2 (both tails)");
  close<T>(kl[3], 0.11824711293933659170, "binary KL at 1.5, -0.5 over T = 2");
  close<T>(gk[3], -0.12067760003059553859, "binary KL gradient (q - p)/T");
  // strided input, output over the input (in place)
  T xs[8] = {0, 9, 40, 9, -40, 9, T(1.5), 9}, io[4] = {0, 40, -40, T(1.5)};
  T h2[4];
  expect_ok(lk::binary_entropy<T>(lk::MatrixView<const T>(xs, 1, 4, 8, 2), lk::view(h2, 1, 4)), "strided");
  expect_ok(lk::binary_entropy<T>(lk::view(io, 1, 4), lk::view(io, 1, 4)), "in place");
  expect(std::equal(h, h + 4, h2) && std::equal(h, h + 4, io), "binary entropy: strided and in place, the same bits");
  lk::Status s = lk::binary_kl_divergence<T>(lk::view(x, 1, 4), lk::view(y, 1, 3), lk::view(kl, 1, 4));
  expect(!s && std::string(s.argument) == "q_logits", "binary KL: a shape mismatch names q_logits");
  s = lk::binary_entropy<T>(lk::view(x, 1, 4), lk::view(h, 1, 4), -1.0);
  expect(!s && std::string(s.argument) == "temperature", "binary entropy: a negative temperature is refused");
}

template <class T>
void test_distillation() {
  // per row: alpha·T²·KL(teacher ‖ student at T) + (1 - alpha)·CE(student, label), against the
  // library's own KL and cross-entropy (each tested against references above) and the gradient
  // against the sum of theirs
  const std::size_t R = 3, C = 5;
  std::vector<T> s(R * C), t(R * C);
  for (std::size_t i = 0; i < R * C; ++i) {
    s[i] = T(std::sin(double(i) * 1.1) * 3);
    t[i] = T(std::cos(double(i) * 0.4) * 2);
  }
  const std::int64_t labels[R] = {4, -100, 0};
  const std::int64_t labels_ce[R] = {4, 1, 0};
  lk::DistillationOptions<T> o;
  o.temperature = 2.5;
  o.alpha = 0.7;
  o.label_smoothing = T(0.1);
  std::vector<T> loss(R), g(R * C), kl(R), gk(R * C), ce(R), gc(R * C);
  expect_ok(lk::distillation_loss_with_grad<T>(lk::view(s.data(), R, C), lk::view(t.data(), R, C),
                                               lk::vec(labels, R), lk::vec(loss.data(), R),
                                               lk::view(g.data(), R, C), o),
            "distillation_loss_with_grad");
  expect_ok(lk::kl_divergence_with_grad<T>(lk::view(t.data(), R, C), lk::view(s.data(), R, C), lk::vec(kl.data(), R),
                                           lk::view(gk.data(), R, C), 2.5),
            "kl for distillation");
  lk::CrossEntropyOptions<T> co;
  co.reduction = lk::Reduction::none;
  co.label_smoothing = T(0.1);
  expect_ok(lk::cross_entropy_with_grad(lk::view(s.data(), R, C), lk::vec(labels_ce, R), lk::vec(ce.data(), R),
                                        lk::view(gc.data(), R, C), co),
            "ce for distillation");
  const double w = 0.7 * 2.5 * 2.5;
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
  bool ok = true;
  for (std::size_t i = 0; i < R; ++i) {
    const double want = w * double(kl[i]) + (i == 1 ? 0.0 : 0.3 * double(ce[i]));
    ok = ok && std::fabs(double(loss[i]) - want) <= tol * std::fabs(want);
    for (std::size_t j = 0; j < C; ++j) {
      const double gw = w * double(gk[i * C + j]) + (i == 1 ? 0.0 : 0.3 * double(gc[i * C + j]));
      ok = ok && std::fabs(double(g[i * C + j]) - gw) <= tol;
    }
  }
  expect(ok, "distillation = alpha·T²·KL + (1 - alpha)·CE per row, the ignored row's KL alone; its gradient");
  // in place over the student's logits
  std::vector<T> s2 = s, loss2(R);
  expect_ok(lk::distillation_loss_with_grad<T>(lk::view(s2.data(), R, C), lk::view(t.data(), R, C),
                                               lk::vec(labels, R), lk::vec(loss2.data(), R),
                                               lk::view(s2.data(), R, C), o),
            "distillation in place");
  expect(std::equal(s2.begin(), s2.end(), g.begin()) && std::equal(loss.begin(), loss.end(), loss2.begin()),
         "distillation: the gradient over the student's logits gives the same bits");
  lk::Status st = lk::distillation_loss<T>(lk::view(s.data(), R, C), lk::view(t.data(), R, C),
                                           lk::VectorView<const std::int64_t>{}, lk::vec(loss.data(), R), o);
  expect(!st && std::string(st.argument) == "labels", "distillation: alpha < 1 without labels names labels");
  const std::int64_t bad[R] = {4, 5, 0};
  st = lk::distillation_loss<T>(lk::view(s.data(), R, C), lk::view(t.data(), R, C), lk::vec(bad, R),
                                lk::vec(loss.data(), R), o);
  expect(!st && std::string(st.argument) == "labels", "distillation: a label out of range names labels");
}

template <class T>
void run_all() {
  test_activations<T>();
  test_softmax<T>();
  test_cross_entropy_values<T>();
  test_bce_values<T>();
  test_errors<T>();
  test_long_strided_rows<T>();
  test_describe<T>();
  test_bce_blocked_sum<T>();
  test_bce_targets_after<T>();
  test_temperature<T>();
  test_top_k<T>();
  test_sample<T>();
  test_divergences<T>();
  test_binary_divergences<T>();
  test_distillation<T>();
}

}  // namespace

int main() {
#ifdef LOGITKIT_HEADER_ONLY
  if (!cpu_has_compiled_isa()) {
    std::printf("skipped: this CPU cannot run the header-only %s kernels\n", LOGITKIT_HEADER_ONLY_NAME);
    return 77;
  }
  g_isa = lk::kernel_isa();
  std::printf("header-only %s\n", g_isa);
  run_all<float>();
  run_all<double>();
  test_gradients();
#else
  for (const auto& isa : lk::simd_targets_available()) {
    std::string err;
    if (!lk::set_simd_target(isa, &err)) {
      std::printf("FAIL cannot select %s: %s\n", isa.c_str(), err.c_str());
      return 1;
    }
    g_isa = lk::kernel_isa();
    std::printf("dispatched %s\n", g_isa);
    run_all<float>();
    run_all<double>();
    test_gradients();
  }
#endif
  std::printf("%s\n", failures ? "FAILED" : "all API tests passed");
  return failures ? 1 : 0;
}
