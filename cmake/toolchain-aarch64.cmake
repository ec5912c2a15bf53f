# Cross build for AArch64 Linux with Debian's cross toolchain (gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross); ctest runs the test binaries through qemu-user.
#
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
#
# EDO_AARCH64_PREFIX (default aarch64-linux-gnu) picks another toolchain; EDO_QEMU_AARCH64 another
# emulator (default: qemu-aarch64 from qemu-user, else qemu-aarch64-static from qemu-user-static).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(EDO_AARCH64_PREFIX "aarch64-linux-gnu" CACHE STRING "Cross toolchain prefix")
set(CMAKE_C_COMPILER ${EDO_AARCH64_PREFIX}-gcc)
set(CMAKE_ASM_COMPILER ${EDO_AARCH64_PREFIX}-gcc)

# Debian puts the target's libc, headers and loader here.
set(EDO_AARCH64_SYSROOT "/usr/${EDO_AARCH64_PREFIX}" CACHE PATH "Target libraries for qemu -L")
set(CMAKE_FIND_ROOT_PATH ${EDO_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config answers for the target, never with the build machine's libraries: OpenSSL (for
# TLS) only where the target's is installed (libssl-dev:arm64), else edo is built without TLS.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${EDO_AARCH64_PREFIX}/pkgconfig")

if(NOT EDO_QEMU_AARCH64)
  find_program(EDO_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
endif()
if(EDO_QEMU_AARCH64)
  # add_test(NAME ... COMMAND <target> ...) runs <target> through this.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDO_QEMU_AARCH64} -L ${EDO_AARCH64_SYSROOT})
else()
  message(WARNING "qemu-aarch64 not found (apt-get install qemu-user): ctest cannot run the tests")
endif()
