// One namespace per ISA. Every function compiled under an ISA's flags (simd/, math/, kernels/) is
// declared inside logitkit::LOGITKIT_ISA_NAMESPACE, an inline namespace named after the ISA and the
// build mode:
//
//   cpp/src/kernels/<isa>/kernels.cpp   isa_scalar, isa_sse2, isa_avx2, isa_avx512, isa_neon
//   header_only.hpp                     header_only_scalar, ..., header_only_neon
//
// so that two object files compiled with different flags never hold one symbol: an inline function
// (a template's instantiation included) that the compiler emits out of line in the AVX-512 object
// has a name of its own, and the linker cannot keep it for the SSE2 table (Highway's per-target
// namespaces, HWY_NAMESPACE, follow the same rule). Inline, so that the code names
// logitkit::kernels::f and logitkit::simd::avx2::VF without the ISA.
//
// For the same reason the code under these namespaces instantiates no template and calls no inline
// function of the C++ standard library (std::vector, std::max, std::exp(long double), ...): those
// would keep their std:: names under every ISA's flags. Constants (std::numeric_limits in constant
// expressions) and types (type traits) emit no code and are allowed. The check:
// tests/test_isa_symbols.py compiles each kernels.cpp and fails on any weak symbol that two ISA
// objects share.
#pragma once

#ifndef LOGITKIT_ISA_NAMESPACE
#error "Define LOGITKIT_ISA_NAMESPACE (the ISA's namespace: see simd/isa_namespace.hpp) before including logitkit's simd/, math/ or kernels/ headers; a program includes logitkit.hpp instead"
#endif
