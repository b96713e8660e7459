// The kernel list: every function of the dispatch table, stated once. The dispatch table's fields
// (dispatch.hpp), each ISA's table (kernels/table.hpp), the ufunc registrations and the metadata
// _core.kernel_list (cpp/bindings/register_list.cpp, register_losses.cpp), the C++ API's
// activation and row-wise functions (api.hpp) and the Python stub _core.pyi (generated at build
// time by cpp/bindings/make_stub.py) are all expanded from LOGITKIT_KERNEL_LIST below, and from
// nowhere else. docs/architecture.md explains the layers; docs/adding-a-function.md the steps.
//
// This header declares no kernel and includes none: it is safe to include anywhere (api.hpp,
// the bindings, the per-ISA translation units).
#pragma once
#include <cstddef>
#include <cstdint>

// LOGITKIT_KERNEL_LIST(UNARY, BINARY, ROW, REDUCE, ROW_BINARY, LOSS, INTERNAL, SELECT) expands to one
// call of the macro named by an entry's kind per entry. The kinds, their arguments, and what an
// entry becomes (T: float or double; the kernel templates live in namespace logitkit::kernels and
// take the ISA's vector type V):
//
//   UNARY(name, kernel, doc)
//     Elementwise y = f(x). Field `name` of type kernel_types::unary<T>, bound to kernel<V>;
//     ufunc `name` (1 input, no core dimensions); C++ API name(x, y).
//   BINARY(name, kernel, arg, doc)
//     Elementwise out = f(grad, arg), a backward rule. Field of type kernel_types::binary<T>;
//     ufunc `name` (2 inputs); C++ API name(grad, arg, out) (`arg` names the second input in
//     messages).
//   ROW(name, row_kernel, rows_kernel, masked, doc, ext_doc)
//     One row (n)->(n) at a temperature. Fields `name` (kernel_types::row<T>, row_kernel<V>) and
//     `name_rows` (kernel_types::rows<T>, rows_kernel<V>: a block of contiguous rows, the same
//     bits as row_kernel row by row); gufunc `name` (n)->(n), gufunc `name_ext` (n),(n),()->(n)
//     taking (x, where, temperature) where a masked-out entry becomes `masked` (an expression of
//     the compute type C); the small-call function `name_small(x, out)`; C++ API name(x, y, t).
//   REDUCE(name, row_kernel, rows_kernel, doc, ext_doc)
//     One row (n)->(). Fields `name` (kernel_types::reduce<T>) and `name_rows`
//     (kernel_types::reduce_rows<T>); gufuncs `name` (n)->() and `name_ext` (n),(n),()->() (-inf
//     when no entry is unmasked); `name_small(x, out)`; C++ API name(x, out, t).
//   ROW_BINARY(name, kernel, arg, doc)
//     One row (n),(n)->(n), a row-wise backward rule. Field of type kernel_types::row_binary<T>;
//     gufunc `name` (n),(n)->(n); C++ API name(grad, arg, out).
//   LOSS(name, kernel, loop, nin, types, grad_types, signature, grad_signature, doc, grad_doc)
//     A loss with its own hand-written ufunc loop. Field `name` of type kernel_types::name<T>
//     (declared below with its contract); ufuncs `name` (nin inputs, the loss) and `name_grad`
//     (nin inputs, the loss and the gradient), both with the loop template loop<T, bool grad>
//     and the type arrays `types`, `grad_types` of cpp/bindings/register_losses.cpp (float32 and
//     float64 loops). `signature` is nullptr for an elementwise loss. The C++ API's losses are
//     written by hand (api.hpp).
//   INTERNAL(name, math_fn, doc)
//     The vector math underneath, exposed for the accuracy tests only: field `name`
//     (kernel_types::unary<T>) maps math::math_fn over the elements; ufunc `_name`; not public.
//   SELECT(name, kernel, doc)
//     A kernel that is not a ufunc (top_k's selection, softmax at the selected entries, a batch of
//     cross-entropy rows): field `name` of type kernel_types::name<T> (declared below with its
//     contract), bound to kernel<V>. Its callers are written by hand (the C++ API in api.hpp, the
//     bindings: cpp/bindings/register_top_k.cpp with stub lines in cpp/bindings/_core.pyi.in, the
//     loss loops of register_losses.cpp): no ufunc, no kernel_list entry.
//
// Every ufunc is registered for float16 (computed in float32), float32 and float64, except the
// losses (float32 and float64). Docstrings are the ufuncs' __doc__. The list is parsed by
// cpp/bindings/make_stub.py: keep one entry per line group, arguments separated by top-level
// commas, docstrings as (adjacent) string literals.
#define LOGITKIT_KERNEL_LIST(UNARY, BINARY, ROW, REDUCE, ROW_BINARY, LOSS, INTERNAL, SELECT)              \
  UNARY(sigmoid, sigmoid, "sigmoid(x): 1/(1 + exp(-x)), exact over the whole range.")                     \
  UNARY(log_sigmoid, log_sigmoid, "log_sigmoid(x): log(sigmoid(x)) = -softplus(-x), exact over the whole range.") \
  UNARY(softplus, softplus, "softplus(x): log(1 + exp(x)), exact over the whole range.")                  \
  BINARY(sigmoid_backward, sigmoid_backward, y, "sigmoid_backward(grad, y): grad·y·(1 - y), y = sigmoid(x).") \
  BINARY(log_sigmoid_backward, log_sigmoid_backward, x, "log_sigmoid_backward(grad, x): grad·sigmoid(-x).") \
  ROW(softmax, softmax_row, softmax_rows, C(0),                                                           \
      "softmax(x): exp(x - logsumexp(x)) along the last core axis.",                                      \
      "softmax_ext(x, where, temperature): softmax of x/temperature over the entries where "              \
      "`where` is true; 0 elsewhere.")                                                                    \
  ROW(log_softmax, log_softmax_row, log_softmax_rows, -std::numeric_limits<C>::infinity(),                \
      "log_softmax(x): x - logsumexp(x) along the last core axis.",                                       \
      "log_softmax_ext(x, where, temperature): log_softmax of x/temperature over the entries "            \
      "where `where` is true; -inf elsewhere.")                                                           \
  REDUCE(logsumexp, logsumexp_row, logsumexp_rows,                                                        \
         "logsumexp(x): log(sum(exp(x))) along the last core axis.",                                      \
         "logsumexp_ext(x, where, temperature): logsumexp of x/temperature over the entries "             \
         "where `where` is true (-inf when none is).")                                                    \
  ROW_BINARY(softmax_backward, softmax_backward_row, y,                                                   \
             "softmax_backward(grad, y): y·(grad - Σ grad·y), y = softmax(x).")                           \
  ROW_BINARY(log_softmax_backward, log_softmax_backward_row, y,                                           \
             "log_softmax_backward(grad, y): grad - exp(y)·Σ grad, y = log_softmax(x).")                  \
  LOSS(cross_entropy_hard, ce_hard_row, ce_hard_loop, 7, ce_hard_types, ce_hard_grad_types,               \
       "(n),(),(n),(),(),(),()->()", "(n),(),(n),(),(),(),()->(),(n)",                                    \
       "cross_entropy_hard(x, label, weight, weight_sum, eps, g, temperature): per-row cross-entropy "   \
       "of x/temperature (label < 0: 0; temperature float64).",                                           \
       "cross_entropy_hard_grad(x, label, weight, weight_sum, eps, g, temperature) -> (loss, "           \
       "g·dloss/dx), the gradient with respect to x.")                                                    \
  LOSS(cross_entropy_soft, ce_soft_row, ce_soft_loop, 6, ce_soft_types, ce_soft_grad_types,               \
       "(n),(n),(n),(),(),()->()", "(n),(n),(n),(),(),()->(),(n)",                                        \
       "cross_entropy_soft(x, target, weight, eps, g, temperature): per-row cross-entropy of "           \
       "x/temperature with soft targets (temperature float64).",                                          \
       "cross_entropy_soft_grad(x, target, weight, eps, g, temperature) -> (loss, g·dloss/dx), the "     \
       "gradient with respect to x.")                                                                     \
  LOSS(bce_with_logits, bce_entry, bce_loop, 8, bce_types, bce_grad_types, nullptr, nullptr,             \
       "bce_with_logits(x, y, pos_weight, weight, eps, gscale, temperature, bias): elementwise BCE with " \
       "logits of x/temperature + bias (temperature and bias float64).",                                  \
       "bce_with_logits_grad(x, y, pos_weight, weight, eps, gscale, temperature, bias) -> (loss, "       \
       "gscale·dloss/dx), the gradient with respect to x.")                                               \
  LOSS(entropy, entropy_row, entropy_loop, 3, entropy_types, entropy_grad_types, "(n),(),()->()",          \
       "(n),(),()->(),(n)",                                                                               \
       "entropy(x, g, temperature): the entropy of softmax(x/temperature) in nats, per row (temperature " \
       "float64).",                                                                                       \
       "entropy_grad(x, g, temperature) -> (H, g·dH/dx), the gradient with respect to x.")               \
  LOSS(kl_divergence, kl_row, kl_loop, 4, kl_types, kl_grad_types, "(n),(n),(),()->()",                   \
       "(n),(n),(),()->(),(n)",                                                                           \
       "kl_divergence(p, q, g, temperature): KL(softmax(p/T) || softmax(q/T)) per row, from the logits " \
       "p and q (temperature float64).",                                                                  \
       "kl_divergence_grad(p, q, g, temperature) -> (KL, g·dKL/dq), the gradient with respect to q.")    \
  LOSS(js_divergence, js_row, js_loop, 4, kl_types, kl_grad_types, "(n),(n),(),()->()",                      \
       "(n),(n),(),()->(),(n)",                                                                           \
       "js_divergence(p, q, g, temperature): the Jensen-Shannon divergence of softmax(p/T) and "         \
       "softmax(q/T) per row, from the logits p and q (temperature float64).",                            \
       "js_divergence_grad(p, q, g, temperature) -> (JS, g·dJS/dq), the gradient with respect to q.")    \
  LOSS(distillation, distillation_row, distillation_loop, 7, distillation_types, distillation_grad_types,     \
       "(n),(n),(),(),(),(),()->()", "(n),(n),(),(),(),(),()->(),(n)",                                    \
       "distillation(s, t, label, a_kl, a_ce, eps, temperature): per row, a_kl·KL(softmax(t/T) || "       \
       "softmax(s/T)) + a_ce·cross_entropy(s, label) (label < 0: the KL term alone; temperature "         \
       "float64).",                                                                                       \
       "distillation_grad(s, t, label, a_kl, a_ce, eps, temperature) -> (loss, dloss/ds), the gradient "  \
       "with respect to the student's logits s.")                                                         \
  LOSS(binary_entropy, binary_entropy_kernel, binary_entropy_loop, 3, binary_entropy_types,                  \
       binary_entropy_grad_types, nullptr, nullptr,                                                       \
       "binary_entropy(x, g, temperature): the entropy of sigmoid(x/temperature) in nats, elementwise "   \
       "(temperature float64).",                                                                          \
       "binary_entropy_grad(x, g, temperature) -> (H, g·dH/dx), the gradient with respect to x.")        \
  LOSS(binary_kl_divergence, binary_kl_kernel, binary_kl_loop, 4, binary_kl_types, binary_kl_grad_types,  \
       nullptr, nullptr,                                                                                  \
       "binary_kl_divergence(p, q, g, temperature): KL(Bernoulli(sigmoid(p/T)) || "                      \
       "Bernoulli(sigmoid(q/T))), elementwise, from the logits p and q (temperature float64).",           \
       "binary_kl_divergence_grad(p, q, g, temperature) -> (KL, g·dKL/dq), the gradient with respect to " \
       "q.")                                                                                              \
  INTERNAL(exp, exp, "internal: the kernels' vector exp")                                                 \
  INTERNAL(log1p_unit, log1p_unit, "internal: the kernels' vector log1p, valid on [0, 1]")                \
  INTERNAL(log1p_exp_term, log1p_exp_term, "internal: the sigmoid family's log1p, valid on [0, 1]")   \
  SELECT(cross_entropy_hard_rows, ce_hard_rows, "cross_entropy_hard_rows(x, ..., loss): hard-label cross-entropy and its gradient, a batch of rows.") \
  SELECT(entropy_rows, entropy_rows, "entropy_rows(x, rows, n, g, h, grad): entropy (and its gradient) of a batch of rows at temperature 1.") \
  SELECT(top_k, top_k_row, "top_k(x, k): the k largest entries of a row, largest first, ties to the lower index.") \
  SELECT(softmax_at, softmax_at_row, "softmax_at(x, idx): softmax of a row at some of its entries, softmax's bits.") \
  SELECT(sample_scan, sample_scan_row, "sample_scan(x, t, delta): a row's max, its max-relative sum and the weight below edges.") \
  SELECT(sample_at_least, sample_at_least_row, "sample_at_least(x, edge): the indices of the entries >= edge, in order.") \
  SELECT(sample_quotients, sample_quotients_row, "sample_quotients(x, idx, b, t): (x - b)/t as q + r at some entries.")

// A macro that expands an entry to nothing, for expansions that take only some kinds.
#define LOGITKIT_LIST_SKIP(...)

namespace logitkit::kernel_types {

// Elementwise over n contiguous elements (y may equal x).
template <class T> using unary = void (*)(const T* x, T* y, std::size_t n);
template <class T> using binary = void (*)(const T* g, const T* a, T* out, std::size_t n);
// One contiguous row of n (temperature > 0, 1 for none; y may equal x).
template <class T> using row = void (*)(const T* x, T* y, std::size_t n, double temperature);
template <class T> using reduce = T (*)(const T* x, std::size_t n, double temperature);
// `rows` contiguous rows of n (row i at x + i·n; y may equal x; a reduction writes out[i]): the
// same bits as the row kernel row by row, short rows several at a time.
template <class T> using rows = void (*)(const T* x, T* y, std::size_t rows, std::size_t n, double temperature);
template <class T> using reduce_rows = void (*)(const T* x, T* out, std::size_t rows, std::size_t n, double temperature);
// One contiguous row of n from two inputs (out may equal either).
template <class T> using row_binary = void (*)(const T* g, const T* y, T* out, std::size_t n);

// Losses (kernels/losses.hpp). Cross-entropy of one row of n logits: hard label t (t < 0: ignored
// row) or soft target y; w: class weights or nullptr; Wsum = Σ w; eps: label smoothing; g: the
// gradient's scale; grad: nullptr for the loss alone (may equal x); temperature > 0 finite (1 for
// none): the loss of x/temperature, the gradient with respect to x. Returns the row's loss.
template <class T>
using cross_entropy_hard = T (*)(const T* x, std::size_t n, std::int64_t t, const T* w, T Wsum, T eps, T g, T* grad,
                                 double temperature);
template <class T>
using cross_entropy_soft = T (*)(const T* x, const T* y, std::size_t n, const T* w, T eps, T g, T* grad,
                                 double temperature);
// Binary cross-entropy with logits over n contiguous elements: loss (and grad unless nullptr)
// from logits x, targets y, pos_weight p, weight w, label smoothing eps; grad is scaled by gscale
// (the reduction's factor). With loss == nullptr the losses are summed instead of stored: the
// sum (in double) is returned, NaN if some target is outside [0, 1]; else returns 0. temp, bias:
// nullptr (1, 0) or n float64 values each: the loss of x/temp + bias, the gradient with respect to x.
template <class T>
using bce_with_logits = double (*)(const T* x, const T* y, const T* p, const T* w, T eps, T gscale, T* loss, T* grad,
                                   std::size_t n, const double* temp, const double* bias);

// Entropy and divergences (kernels/divergence.hpp), one row of n at temperature > 0 (finite; 1 for
// none). entropy: H(softmax(x/T)) in nats; with grad (may equal x), g·dH/dx. kl_divergence:
// KL(softmax(p/T) || softmax(q/T)); with grad (may equal p or q), g·dKL/dq. A row holding NaN or
// +inf, or only -inf, gives NaN (and a NaN gradient row).
template <class T>
using entropy = T (*)(const T* x, std::size_t n, T g, T* grad, double temperature);
template <class T>
using kl_divergence = T (*)(const T* p, const T* q, std::size_t n, T g, T* grad, double temperature);
// entropy_rows: `rows` contiguous rows of n at temperature 1, h[r] = H of row r; with grad (else
// nullptr; rows contiguous rows, which may be x's), g[r]·dH/dx into row r of grad (g may be nullptr
// without grad). The bits entropy gives row by row; short rows several at a time.
template <class T>
using entropy_rows = void (*)(const T* x, std::size_t rows, std::size_t n, const T* g, T* h, T* grad);
// js_divergence: JS(softmax(p/T), softmax(q/T)) in [0, log 2]; with grad, g·dJS/dq.
template <class T>
using js_divergence = T (*)(const T* p, const T* q, std::size_t n, T g, T* grad, double temperature);

// Knowledge distillation (kernels/distillation.hpp), one row of n: a_kl·KL(softmax(t/T) ‖
// softmax(s/T)) + a_ce·CE(s, label) with label smoothing eps (label < 0: no CE term); with grad, the
// gradient with respect to s (scratch: n elements the kernel may use, not s, t or grad; grad may be s's
// memory, not t's).
template <class T>
using distillation = T (*)(const T* s, const T* t, std::size_t n, std::int64_t label, T a_kl, T a_ce, T eps,
                           T* grad, T* scratch, double temperature);

// Binary (Bernoulli) entropy and KL divergence (kernels/binary_divergence.hpp), elementwise over n
// contiguous elements at temperature > 0 (finite; 1 for none): h[i] = H(sigmoid(x[i]/T)),
// kl[i] = KL(Bernoulli(sigmoid(p[i]/T)) || Bernoulli(sigmoid(q[i]/T))); with grad (else nullptr),
// g·dH/dx or g·dKL/dq. Outputs may equal inputs. NaN gives NaN.
template <class T>
using binary_entropy = void (*)(const T* x, std::size_t n, T g, T* h, T* grad, double temperature);
template <class T>
using binary_kl_divergence = void (*)(const T* p, const T* q, std::size_t n, T g, T* kl, T* grad, double temperature);

// Cross-entropy with hard labels and its gradient over a batch of rows (kernels/loss/ce_rows.hpp),
// without class weights, label smoothing or temperature: row r's logits at x + r·x_stride, its
// gradient row at grad + r·grad_stride (overlapping no other gradient row and no logits row: a row
// keeps its exps there until its queued pass), label t[r] < n (< 0: ignored),
// gradient scale g[r]; loss[r] and the gradient rows have the bits cross_entropy_hard(x_r, n, t[r],
// nullptr, n, 0, g[r], grad_r, 1) gives row by row.
template <class T>
using cross_entropy_hard_rows = void (*)(const T* x, std::ptrdiff_t x_stride, T* grad, std::ptrdiff_t grad_stride,
                                         std::size_t rows, std::size_t n, const std::int64_t* t, const T* g, T* loss);
// Top-k selection (kernels/top_k.hpp): the k largest of the n contiguous entries of x
// (1 <= k <= min(n, top_k_small_max)), largest first, equal values by the lower index, into vals[0..k)
// and idx[0..k); false (outputs unspecified) when the row holds a NaN. Larger k: api.hpp's top_k
// selects by itself (the kept set would cost O(k) per entry that enters it).
constexpr std::size_t top_k_small_max = 64;
template <class T>
using top_k = bool (*)(const T* x, std::size_t n, std::size_t k, T* vals, std::int64_t* idx);
// softmax(x / temperature) of the row x[0..n) (n >= 1) at the entries idx[0..k) (each in [0, n)),
// into out[0..k): the same bits as the row kernel softmax gives at those entries (not in place).
// y: scratch for n elements, which it may use.
template <class T>
using softmax_at = void (*)(const T* x, std::size_t n, double temperature, const std::int64_t* idx, std::size_t k,
                            T* out, T* y);

// The row pass of sampling (kernels/sample.hpp): of the row x[0..n) at temperature > 0 (finite),
// kind 0 (a row to sample) or 1 (it holds a NaN), 2 (a +inf), 3 (only -inf); for kind 0 its max,
// ties = the number of entries equal to it, rest = Σ exp((x_j - max)/temperature) over the others,
// and for j < edges (= min(K, sample_edges)): edge[j] = the row type's rounding of
// max - temperature·delta[j], below[j] = the sum of those weights over the entries below edge[j].
// Error bounds: kernels/sample.hpp.
constexpr std::size_t sample_edges = 4;
struct SampleScan {
  int kind;
  std::size_t edges;
  double max, ties, rest;
  double edge[sample_edges], below[sample_edges];
};
// known_max: the row's max when the caller knows it and that the row holds no NaN, else nullptr.
template <class T>
using sample_scan = void (*)(const T* x, std::size_t n, double temperature, const double* delta, std::size_t K,
                             const T* known_max, SampleScan* out);
// The indices i of the entries x[i] >= edge of the row x[0..n) (no NaN), in increasing order, into
// idx (room for n); returns their number.
template <class T>
using sample_at_least = std::size_t (*)(const T* x, std::size_t n, T edge, std::uint32_t* idx);
// (x_i - b)/t as q[j] + r[j] (their sum exact to about 2^-100 relatively; -inf: q = -inf, r = 0) and
// xs[j] = x_i at the entries i = idx[j] (idx null: i = j), j < m; returns the smallest finite x_i
// (+inf when none).
template <class T>
using sample_quotients = double (*)(const T* x, const std::uint32_t* idx, std::size_t m, double b, double t,
                                    double* xs, double* q, double* r);

}  // namespace logitkit::kernel_types
