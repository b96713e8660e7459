// A consumer of logitkit's CMake package: probabilities and a loss, checked against values from
// docs/semantics.md ("cross_entropy"). Built twice by each consumer project, against
// logitkit::logitkit and logitkit::headers.
#include <cmath>
#include <cstdint>
#include <cstdio>

#include <logitkit/logitkit.hpp>

int main() {
  const double x[12] = {1, 2, 3, 1, 0, -1, .5, .5, .5, -2, 4, 0};
  const std::int64_t t[4] = {2, 1, 1, 0};
  double p[12], loss = 0;
  logitkit::Status s = logitkit::softmax(logitkit::view(x, 4, 3), logitkit::view(p, 4, 3));
  if (!s || std::fabs(p[2] - 0.66524095577482188953) > 1e-15) {
    std::printf("softmax failed (%s, p[2] = %.17g)\n", logitkit::errc_name(s.code), p[2]);
    return 1;
  }
  s = logitkit::cross_entropy(logitkit::view(x, 4, 3), logitkit::vec(t, 4), logitkit::vec(&loss, 1));
  if (!s || std::fabs(loss - 2.23360133912605) > 1e-13) {
    std::printf("cross_entropy failed (%s, loss = %.17g)\n", logitkit::errc_name(s.code), loss);
    return 1;
  }
  std::printf("logitkit %s consumer: kernels %s, loss %.15f\n", LOGITKIT_CONSUMER_KIND, logitkit::kernel_isa(), loss);
  return 0;
}
