#!/usr/bin/env bash
# CI: the AArch64 context switch (and the rest of the suite) cross-built with Debian's
# aarch64-linux-gnu gcc and run under qemu-user. Installs the cross compiler, the target libc and
# qemu-user with apt if missing. Extra arguments go to ctest (e.g. -R test-context).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v make >/dev/null || need+=(make)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/include/stdio.h ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need[@]}"
fi

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
B=build/aarch64

cmake -S . -B "$B" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DEDO_BUILD_BENCH=OFF -DEDO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$B" -j"$JOBS"

# Prove these are AArch64 binaries before trusting a pass.
case "$(od -An -tx1 -j18 -N2 "$B/tests/test-context" | tr -d ' ')" in
    b700) ;;   # e_machine = EM_AARCH64 (183)
    *) echo "aarch64: $B/tests/test-context is not an AArch64 ELF" >&2; exit 1 ;;
esac

cd "$B" && ctest --output-on-failure -j"$JOBS" "$@"
