#!/usr/bin/env bash
# Builds the C++ tests (kernels on every ISA of this CPU, the public API compiled and header-only,
# the example) with AddressSanitizer and UndefinedBehaviorSanitizer, and runs them: any report, leaks
# included, fails the run. Debug build (-O0 -g): optimizing the instrumented kernels would take
# several times longer to compile. Usage: tests/cpp/run_sanitizers.sh [build-dir]   (GCC or Clang)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$(mktemp -d)/sanitize}"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# LeakSanitizer cannot run under ptrace (some sandboxes and debuggers): prove it works here first, on
# a program that leaks, so that "no leaks reported" below means something.
canary="$build/lsan_canary"
mkdir -p "$build"
printf '#include <cstdlib>\nvoid* volatile p;\nint main() { p = std::malloc(64); p = nullptr; return 0; }\n' >"$canary.cpp"
${CXX:-c++} $san -g "$canary.cpp" -o "$canary"
if "$canary" >"$canary.log" 2>&1 || ! grep -q "detected memory leaks" "$canary.log"; then
  echo "LeakSanitizer does not work in this environment (a known leak was not reported):"
  cat "$canary.log"
  exit 1
fi
echo "LeakSanitizer works here (a known leak was reported)"

cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
  -DLOGITKIT_BUILD_TESTS=ON -DLOGITKIT_BUILD_EXAMPLES=ON -DLOGITKIT_TEST_CONSUMERS=OFF \
  -DLOGITKIT_TEST_HEADER_ONLY_ISAS=ON \
  -DLOGITKIT_BUILD_PYTHON=OFF >/dev/null
cmake --build "$build" --parallel 2
(cd "$build" && ctest --output-on-failure)
echo "sanitizers: all C++ tests ran clean (ASan, UBSan, LSan)"
