#!/usr/bin/env bash
# The arm64 (NEON) build under qemu-user, cross-compiled with Debian's g++-aarch64-linux-gnu:
#  1. the C++ tests: the kernel tests (scalar and NEON against a long double reference), the
#     double-lane log against long double (header-only), the API tests through the compiled library
#     and header-only;
#  2. the Python test suite's numeric families, run by an arm64 CPython under qemu-aarch64 against
#     the logitkit._core extension cross-compiled for arm64.
#
# The arm64 CPython is Debian's (python3-minimal's version, from the release this machine's apt
# sources name), unpacked into a scratch root with a private apt state: the host's dpkg configuration
# and installed packages are not touched. NumPy, pytest and mpmath are PyPI's manylinux aarch64
# wheels, put there by the host's pip (`--platform`): the wheels an arm64 machine would install;
# pybind11 (headers and CMake package only) comes with them.
#
# The pytest families (each per-ISA test on NEON, LOGITKIT_TEST_ISA=neon; every other test dispatches
# to NEON too, LOGITKIT_SIMD=neon): the registry's accuracy tests against the oracles
# (test_accuracy.py), special values (test_special_values.py), NaN/inf at every lane offset
# (test_lane_isolation.py) and the kernels' extreme inputs (test_kernel_extremes.py): the tests whose
# outcome depends on an ISA's kernels. The scalar kernels are the source the x86-64 run tests; their
# arm64 build is checked by the C++ kernel tests of step 1. Under qemu a test runs tens of times
# slower than natively, so the rest of the suite (the Python layer, options, layouts, all
# ISA-independent) is left to the x86-64 run, and CI's time budget holds these four families.
#
# Usage: run_arm64_qemu.sh [WORKDIR [PYTEST ARGS...]]; PYTEST ARGS replace the default test files.
# Exit status: 0 when both steps ran and passed; 77 when the cross compiler and qemu-user could not
# be installed (nothing ran), or when the arm64 Python could not be (step 1 ran and passed, step 2
# did not run): a line "skipped: ..." says which; anything else is a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
host_python="${PYTHON:-python3}"
pytest_args=(tests/test_accuracy.py tests/test_special_values.py tests/test_lane_isolation.py
             tests/test_kernel_extremes.py)

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           g++-aarch64-linux-gnu qemu-user; } >/dev/null 2>&1; then
    echo "skipped: the arm64 run: g++-aarch64-linux-gnu and qemu-user could not be installed here"
    exit 77
  fi
fi

if [ $# -ge 1 ]; then
  work="$1"
  shift
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
if [ $# -ge 1 ]; then
  pytest_args=("$@")
fi
mkdir -p "$work"
work="$(cd "$work" && pwd)"
sysroot="$work/arm64-root"     # Debian's arm64 packages, unpacked: qemu-aarch64 -L loads from here
site="$work/arm64-site"        # the aarch64 wheels, and pybind11
build="$work/build"
pkg="$work/package"            # python/logitkit plus the cross-compiled _core: on PYTHONPATH

# ---------------------------------------------------------------- the arm64 Python and its wheels
# Sets pyver and arm64_python; on failure sets missing (what) and missing_log (the log saying why).
missing=""
missing_log=""
fetch_arm64_python() {
  local apt_state="$work/apt" p q want debs deb glibc_minor m
  mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial" "$apt_state/debs"
  : >"$apt_state/status"
  local apt_opts=(-o "Dir::State=$apt_state" -o "Dir::State::Lists=$apt_state/lists"
                  -o "Dir::State::status=$apt_state/status" -o "Dir::Cache=$apt_state/cache"
                  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
                  -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    missing="Debian's arm64 Python (needs apt-get and dpkg-deb)"
    return 1
  fi
  # FindPython runs an interpreter through the toolchain's emulator from CMake 4.1 on (CMP0190).
  if ! printf '%s\n' 4.1 "$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')" |
       sort -C -V; then
    missing="CMake 4.1 or later (to cross-compile the extension)"
    return 1
  fi
  missing="the arm64 package lists (apt-get update)" missing_log="$apt_state/update.log"
  apt-get "${apt_opts[@]}" update >"$missing_log" 2>&1 || return 1
  pyver="$(apt-cache "${apt_opts[@]}" depends python3-minimal 2>/dev/null |
           sed -n 's/.*Depends: python\(3\.[0-9][0-9]*\)-minimal.*/\1/p' | head -n 1)"
  missing="python3-minimal for arm64 (apt-cache)" missing_log=""
  [ -n "$pyver" ] || return 1

  # The interpreter, its standard library and headers, and the shared libraries they and the
  # extension load: the Depends closure over library packages only (a library pulls in no tools).
  want="python$pyver-minimal libpython$pyver-minimal libpython$pyver-stdlib libstdc++6"
  debs=""
  while [ -n "${want// /}" ]; do
    read -r p want <<<"$want"
    case " $debs " in *" $p "*) continue ;; esac
    debs="$debs $p"
    for q in $(apt-cache "${apt_opts[@]}" depends --no-recommends --no-suggests --no-conflicts \
                 --no-breaks --no-replaces --no-enhances "$p" |
               sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^ <]*\).*/\2/p' | grep -E '^(lib|zlib)'); do
      want="$want $q"
    done
  done
  missing="Debian's arm64 Python $pyver (apt-get download)" missing_log="$apt_state/download.log"
  # shellcheck disable=SC2086
  (cd "$apt_state/debs" && apt-get "${apt_opts[@]}" download $debs "libpython$pyver-dev") \
    >"$missing_log" 2>&1 || return 1
  rm -rf "$sysroot"
  for deb in "$apt_state/debs"/*.deb; do
    dpkg-deb -x "$deb" "$sysroot"
  done
  arm64_python="$sysroot/usr/bin/python$pyver"

  # Every manylinux tag the unpacked glibc satisfies.
  glibc_minor="$(dpkg-deb -f "$apt_state/debs"/libc6_*.deb Version | sed -n 's/^2\.\([0-9]*\).*/\1/p')"
  local platforms=(--platform manylinux2014_aarch64)
  for m in $(seq 17 "$glibc_minor"); do
    platforms+=(--platform "manylinux_2_${m}_aarch64")
  done
  missing="the aarch64 wheels of numpy, pytest, mpmath and pybind11 for CPython $pyver (pip)"
  missing_log="$work/pip.log"
  "$host_python" -m pip install -q --disable-pip-version-check --target "$site" --upgrade \
    "${platforms[@]}" --implementation cp --python-version "$pyver" --abi "cp${pyver/./}" \
    --only-binary=:all: "numpy>=1.25" "pytest>=7" "mpmath>=1.3" "pybind11>=2.12" \
    >"$missing_log" 2>&1 || return 1
  missing="" missing_log=""
}

# qemu-aarch64 with the scratch root: the interpreter, the C++ tests and the extension load their
# libraries from it. The .pyc files go beside the build, not into the source tree.
arm64() {
  PYTHONPATH="$pkg:$site" PYTHONPYCACHEPREFIX="$work/pycache" \
    qemu-aarch64 -L "$sysroot" "$@"
}

cmake_args=(-DCMAKE_TOOLCHAIN_FILE="$here/aarch64-toolchain.cmake" -DCMAKE_BUILD_TYPE=Release
            -DLOGITKIT_BUILD_TESTS=ON -DLOGITKIT_BUILD_EXAMPLES=OFF -DLOGITKIT_INSTALL=OFF)
targets=(logitkit_test_kernels logitkit_test_math logitkit_test_api logitkit_test_api_headers)
# Ninja where there is one: it builds the targets side by side (Makefiles build them one by one).
if ninja --version >/dev/null 2>&1; then
  cmake_args+=(-G Ninja)
fi
if fetch_arm64_python; then
  # CMP0190 NEW: FindPython runs the arm64 interpreter through the toolchain's emulator for its
  # version, ABI and headers; pybind11 then names the module from that ABI. Debian's pyconfig.h
  # includes the per-architecture header from <aarch64-linux-gnu/...>: the root's include directory
  # goes after the compiler's own, so that the cross compiler's libc headers are the ones used.
  numpy_include="$(arm64 "$arm64_python" -c 'import numpy; print(numpy.get_include())')"
  cmake_args+=(-DLOGITKIT_QEMU_SYSROOT="$sysroot" -DLOGITKIT_BUILD_PYTHON=ON
               -DCMAKE_POLICY_DEFAULT_CMP0190=NEW -DPYBIND11_USE_CROSSCOMPILING=ON
               -DPython_EXECUTABLE="$arm64_python" -DPython_NumPy_INCLUDE_DIR="$numpy_include"
               -Dpybind11_DIR="$(arm64 "$arm64_python" -m pybind11 --cmakedir)"
               -DCMAKE_CXX_FLAGS="-idirafter $sysroot/usr/include")
  targets+=(_core)
else
  sysroot=/usr/aarch64-linux-gnu   # the cross compiler's libc (libc6-arm64-cross)
  cmake_args+=(-DLOGITKIT_BUILD_PYTHON=OFF)
fi

# ---------------------------------------------------------------- one arm64 build: C++ tests and _core
cmake -S "$root" -B "$build" "${cmake_args[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$build" -j 2 --target "${targets[@]}"

# Both steps run whatever the other's outcome; the exit status is a failure if either failed.
echo "-- the C++ tests (arm64, qemu-aarch64)"
cxx_failed=""
for t in logitkit_test_kernels logitkit_test_math logitkit_test_api logitkit_test_api_headers; do
  arm64 "$build/tests/cpp/$t" || cxx_failed="$cxx_failed $t"
done
if [ -n "$cxx_failed" ]; then
  echo "FAILED: the arm64 C++ tests:$cxx_failed"
fi

if [ -n "$missing" ]; then
  echo "skipped: pytest under qemu-aarch64 (the NEON kernels): $missing could not be installed here"
  if [ -n "$missing_log" ] && [ -f "$missing_log" ]; then tail -n 5 "$missing_log"; fi
  [ -z "$cxx_failed" ] || exit 1
  exit 77
fi

echo "-- pytest (arm64 CPython $pyver under qemu-aarch64, the NEON kernels)"
rm -rf "$pkg"
mkdir -p "$pkg"
cp -R "$root/python/logitkit" "$pkg/"
cp "$build"/_core.*.so "$pkg/logitkit/"
cd "$root"
pytest_rc=0
LOGITKIT_SIMD=neon LOGITKIT_TEST_ISA=neon \
  arm64 "$arm64_python" -m pytest -p no:cacheprovider "${pytest_args[@]}" || pytest_rc=$?
if [ -n "$cxx_failed" ]; then
  echo "FAILED: the arm64 C++ tests:$cxx_failed (see above)"
  exit 1
fi
exit "$pytest_rc"
