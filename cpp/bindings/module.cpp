// The extension module logitkit._core: the ufunc objects and the SIMD target controls.
// The ufuncs come from the kernel list (register_list.cpp, register_losses.cpp); this file wires
// them up and adds the controls.
#define LOGITKIT_IMPORT_NUMPY
#include "ufunc_util.hpp"

#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

namespace py = pybind11;
using namespace logitkit;

PYBIND11_MODULE(_core, m) {
  if (_import_array() < 0) throw py::error_already_set();
  if (_import_umath() < 0) throw py::error_already_set();
  // LOGITKIT_SIMD (read once, here) may name a lower ISA; naming one that cannot run is an error.
  if (const std::string& err = simd_env_error(); !err.empty()) throw std::runtime_error(err);

  m.attr("__version__") = LOGITKIT_VERSION;
  m.def("simd_target", [] { return std::string(simd_target()); },
        "Name of the SIMD instruction set the kernels run on: scalar, sse2, avx2, avx512 or neon.");
  m.def("simd_targets_available", &simd_targets_available,
        "Instruction sets compiled into this build that this CPU supports, lowest first.");
  m.def("simd_targets_compiled", &simd_targets_compiled,
        "Instruction sets compiled into this build, lowest first.");
  m.def(
      "set_simd_target",
      [](const std::string& name) {
        std::string err;
        if (!set_simd_target(name, &err)) throw py::value_error(err);
      },
      py::arg("name"), "Switch every kernel to the named instruction set (testing and benchmarking).");

  m.def("get_num_threads", &bindings::num_threads,
        "Number of threads the kernels split large calls across (default: the CPUs this process may use).");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1) throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
        bindings::set_num_threads(n);
      },
      py::arg("n"), "Use up to n threads for large calls, at most max_num_threads(). Results do not depend on n.");
  m.def("default_num_threads", &bindings::default_num_threads,
        "The default thread count: the CPUs this process may run on.");
  m.def("max_num_threads", &bindings::max_num_threads,
        "The largest thread count: max(8, 4 x the CPUs this process may run on).");

  m.def(
      "_inject_fault",
      [](const std::string& kind, long count) {
        const int k = kind == "alloc" ? 0 : kind == "part" ? 1 : kind == "thread" ? 2 : kind == "worker" ? 3 : -1;
        if (k < 0)
          throw py::value_error("_inject_fault: kind must be 'alloc', 'part', 'thread' or 'worker', got '" + kind + "'");
        bindings::inject_fault(k, count);
      },
      py::arg("kind"), py::arg("count"),
      "Testing only: 'alloc': the count-th next scratch allocation fails; 'part': the count-th next "
      "part of a call to start raises an allocation failure; 'thread': the next count worker "
      "creations are refused; 'worker': as 'part', counting parts run by pool workers only. count 0 "
      "disarms.");

  bindings::register_list(m);
  bindings::register_losses(m);
  bindings::register_top_k(m);
  bindings::register_sample(m);
  // logitkit/__init__.py calls this with ml_dtypes.bfloat16's type number when ml_dtypes is
  // importable; once per process (NumPy replaces a loop registered again for the same types).
  m.def(
      "_register_bfloat16",
      [m](int type) mutable {
        static int registered = -1;
        if (registered == type) return;
        // the caller passes a 2-byte dtype (ml_dtypes.bfloat16); NumPy's own types cannot take user loops
        if (type < NPY_USERDEF || type >= NPY_USERDEF + NPY_NUMUSERTYPES)
          throw py::value_error("_register_bfloat16: type " + std::to_string(type) + " is not a user dtype");
        bindings::register_bfloat16(m, type);
        registered = type;
      },
      py::arg("type"), "Add the bfloat16 loops for the user dtype with this type number (ml_dtypes.bfloat16).");
}
