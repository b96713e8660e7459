// logitkit: exact, fast logit transforms for the CPU. The umbrella header of the C++ API.
//
//   #include <logitkit/logitkit.hpp>
//
//   std::vector<float> logits = {...};                 // N rows of C classes, row-major
//   std::vector<float> probs(logits.size());
//   logitkit::Status s = logitkit::softmax(logitkit::view(logits.data(), N, C),
//                                          logitkit::view(probs.data(), N, C));
//   std::vector<std::int64_t> labels = {...};          // one class per row
//   float loss;
//   s = logitkit::cross_entropy(logitkit::view(logits.data(), N, C),
//                               logitkit::vec(labels.data(), N), logitkit::vec(&loss, 1));
//   if (!s) { char msg[256]; logitkit::describe(s, msg, sizeof msg); ... }
//
// Two ways to build against it (CMake):
//   logitkit::logitkit  the compiled static library: every ISA compiled in, the best one this CPU has
//                       chosen at first use (dispatch.hpp: simd_target(), set_simd_target(),
//                       environment variable LOGITKIT_SIMD). For programs that run anywhere.
//   logitkit::headers   header-only: the kernels are compiled into your translation unit for the
//                       ISA your own flags allow (header_only.hpp). For builds with -march=... .
// Both give the same functions, in api.hpp: views, Status, the functions and their options.
#pragma once

#include "api.hpp"
