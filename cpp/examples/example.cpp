// logitkit from C++: probabilities of a small batch of logits and its cross-entropy loss with the
// gradient, through the compiled library (runtime ISA dispatch).
#include <cstdint>
#include <cstdio>
#include <vector>

#include <logitkit/logitkit.hpp>

namespace lk = logitkit;

namespace {
int report(const lk::Status& s) {
  char msg[256];
  lk::describe(s, msg, sizeof msg);
  std::fprintf(stderr, "logitkit error (%s): %s\n", lk::errc_name(s.code), msg);
  return 1;
}
}  // namespace

int main() {
  constexpr std::size_t N = 3, C = 4;  // three inputs, four classes, row-major
  const std::vector<float> logits = {2.0f, 1.0f, 0.1f, -1.0f,   //
                                     0.5f, 2.5f, 0.3f, 0.0f,    //
                                     -1.0f, 0.0f, 1.0f, 3.0f};
  const std::vector<std::int64_t> labels = {0, 1, 3};

  std::vector<float> probs(N * C);
  if (lk::Status s = lk::softmax(lk::view(logits.data(), N, C), lk::view(probs.data(), N, C)); !s) return report(s);
  std::printf("kernels: %s\n", lk::kernel_isa());
  for (std::size_t i = 0; i < N; ++i) {
    std::printf("p[%zu] =", i);
    for (std::size_t c = 0; c < C; ++c) std::printf(" %.6f", probs[i * C + c]);
    std::printf("   (label %lld)\n", static_cast<long long>(labels[i]));
  }

  // Loss and gradient from one fused pass per row; the mean over the three rows.
  float loss = 0;
  std::vector<float> grad(N * C);
  if (lk::Status s = lk::cross_entropy_with_grad(lk::view(logits.data(), N, C), lk::vec(labels.data(), N),
                                                  lk::vec(&loss, 1), lk::view(grad.data(), N, C));
      !s)
    return report(s);
  std::printf("mean cross-entropy %.6f\n", loss);
  std::printf("d loss / d logits[0] = %.6f %.6f %.6f %.6f\n", grad[0], grad[1], grad[2], grad[3]);

  // A bad label is an error value, not an exception.
  const std::vector<std::int64_t> bad = {0, 7, 3};
  const lk::Status s = lk::cross_entropy(lk::view(logits.data(), N, C), lk::vec(bad.data(), N), lk::vec(&loss, 1));
  char msg[256];
  lk::describe(s, msg, sizeof msg);
  std::printf("with label 7: %s (%s)\n", lk::errc_name(s.code), msg);
  return s.code == lk::Errc::invalid_label ? 0 : 1;
}
