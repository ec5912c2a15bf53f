#!/usr/bin/env bash
# Fuzzes the lines, length-delimited and RESP2 decoders with libFuzzer (clang,
# -fsanitize=fuzzer,address,undefined) for a bounded time: FUZZ_SECONDS in all (default 60),
# shared between the three targets. A crash, a leak, an undefined behaviour or a broken
# invariant (tests/fuzz/fuzz-*.c say which) fails the script and leaves the input that caused it
# in build/fuzz/. Seeds: tests/fuzz/corpus/<target>/; what a run finds goes to
# build/fuzz/corpus/<target>/ (start the next run from there to go deeper).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq clang
fi

total=${FUZZ_SECONDS:-60}
targets=(lines length-delimited resp)
each=$((total / ${#targets[@]}))
[ "$each" -ge 1 ] || each=1
out=build/fuzz
mkdir -p "$out"

# The decoders need only the codec sources and the byte buffer: no runtime.
srcs=(src/codec/codec.c src/codec/lines.c src/codec/length_delimited.c src/codec/resp.c
      src/codec/resp_build.c src/codec/resp_encode.c src/codec/resp_scan.c src/stream/bytes.c)
flags=(-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Iinclude -Isrc -Wall -Wextra -Werror)

for t in "${targets[@]}"; do
    clang "${flags[@]}" "tests/fuzz/fuzz-$t.c" "${srcs[@]}" -o "$out/fuzz-$t"
done

for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t"
    echo "== fuzz $t: ${each}s =="
    # -rss_limit_mb: the decoders must never buffer much; leaks are checked at exit.
    rc=0
    (cd "$out" && "./fuzz-$t" -max_total_time="$each" -max_len=4096 -rss_limit_mb=512 \
        -print_final_stats=1 "corpus/$t" "../../tests/fuzz/corpus/$t") >"$out/fuzz-$t.log" 2>&1 ||
        rc=$?
    grep -E "^(==|SUMMARY|stat::number_of_executed_units|stat::peak_rss)" "$out/fuzz-$t.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $t FAILED (exit $rc): $out/fuzz-$t.log, the input is in $out/" >&2
        exit 1
    fi
done
echo "fuzz: no crash, no leak in ${total}s"
