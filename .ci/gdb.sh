#!/usr/bin/env bash
# Checks that gdb unwinds a coroutine: stopped inside one, its backtrace must show the
# coroutine's frames and end cleanly at edo's trampoline (no "corrupt stack" or endless frames).
# Installs gdb with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v gdb >/dev/null; then
    apt-get update -qq && apt-get install -y -qq gdb
fi

cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DEDO_BUILD_BENCH=OFF >/dev/null
cmake --build build/debug -j"$(nproc)" --target coro_backtrace >/dev/null

out=$(gdb -q -batch -ex 'handle SIGTRAP stop' -ex run -ex bt build/debug/tests/coro_backtrace 2>&1)
echo "$out" | sed -n '/^#0/,$p'
fail=0
for frame in inner_frame middle_frame coro_body edo__context_trampoline; do
    if ! echo "$out" | grep -q "in $frame\|#0  $frame\| $frame ("; then
        echo "gdb: frame $frame missing from the coroutine's backtrace"
        fail=1
    fi
done
if echo "$out" | grep -qi "corrupt stack\|previous frame identical\|previous frame inner"; then
    echo "gdb: the backtrace did not end cleanly"
    fail=1
fi
frames=$(echo "$out" | grep -c '^#[0-9]')
if [ "$frames" -gt 30 ]; then
    echo "gdb: $frames frames: the unwinder ran past the coroutine's first frame"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "gdb: coroutine backtrace ok ($frames frames)"
exit "$fail"
