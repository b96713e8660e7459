#!/usr/bin/env bash
# Builds the C++ kernels and their tests (the kernel tests, the API tests through the compiled library
# and header-only) for arm64 (NEON) with Debian's cross compiler and runs them under qemu-user.
# Installs g++-aarch64-linux-gnu and qemu-user when they are missing (Debian/Ubuntu).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user
fi
build="${1:-$(mktemp -d)/arm64}"
cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$here/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DLOGITKIT_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j 2 --target logitkit_test_kernels logitkit_test_api logitkit_test_api_headers
for t in logitkit_test_kernels logitkit_test_api logitkit_test_api_headers; do
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/tests/cpp/$t"
done
