# Cross-compiling for arm64 with Debian's g++-aarch64-linux-gnu (tests/cpp/run_arm64_qemu.sh).
# LOGITKIT_QEMU_SYSROOT: the arm64 root qemu-aarch64 loads libraries from (-L). The cross compiler's
# own libc by default; the arm64 Python's root when the Python extension is built too.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
if(NOT LOGITKIT_QEMU_SYSROOT)
  set(LOGITKIT_QEMU_SYSROOT /usr/aarch64-linux-gnu)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${LOGITKIT_QEMU_SYSROOT})
