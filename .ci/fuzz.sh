#!/usr/bin/env bash
# Fuzzes edo with libFuzzer (clang, -fsanitize=fuzzer,address,undefined), each target for a
# bounded time: FUZZ_SECONDS each (default 20), the targets in FUZZ_TARGETS (default all of
# tests/fuzz/fuzz-*.c):
#   lines, length-delimited, resp   the decoders, fed in pieces (only the codec sources);
#   bytes                           edo_bytes and its slices against a model (bytes.c alone);
#   framed                          edo_framed + RESP over a duplex pair, cut into random
#                                   writes, against decoding all at once;
#   addr                            address parsing and printing (edo/net.h);
#   sched                           the scheduler's API from a byte string (the whole library).
# A crash, a leak, an undefined behaviour, a hang (-timeout) or a broken invariant
# (tests/fuzz/fuzz-*.c say which) fails the script and leaves the input that caused it in
# build/fuzz/. Seeds: tests/fuzz/corpus/<target>/; what a run finds goes to
# build/fuzz/corpus/<target>/ (start the next run from there to go deeper). An input that found
# a bug goes, once fixed, to tests/fuzz/regressions/<target>/, which ctest replays
# (fuzz-<target>.replay) in every build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq clang
fi

each=${FUZZ_SECONDS:-20}
read -r -a targets <<<"${FUZZ_TARGETS:-lines length-delimited resp bytes framed addr sched}"
out=build/fuzz
mkdir -p "$out"
flags=(-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Iinclude -Isrc -Wall -Wextra -Werror)

# The decoders and the byte buffer need only the codec sources and bytes.c: no runtime.
codec_srcs=(src/codec/codec.c src/codec/lines.c src/codec/length_delimited.c src/codec/resp.c
            src/codec/resp_build.c src/codec/resp_encode.c src/codec/resp_scan.c
            src/stream/bytes.c)
# The other targets link the whole library, built by clang with the fuzzer's coverage
# instrumentation (fuzzer-no-link) and the sanitizers (EDO_SANITIZE=address: ASan + UBSan).
lib=$out/lib/libedo.a
lib_built=false
build_lib() {
    $lib_built && return
    CC=clang cmake -S . -B "$out/lib" -DCMAKE_BUILD_TYPE=None -DEDO_SANITIZE=address \
        -DCMAKE_C_FLAGS="-O1 -g -fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
        -DEDO_WITH_TLS=OFF -DEDO_BUILD_TESTS=OFF -DEDO_BUILD_EXAMPLES=OFF \
        -DEDO_BUILD_BENCH=OFF >/dev/null
    cmake --build "$out/lib" -j"$(nproc)" --target edo_static >/dev/null
    lib_built=true
}

for t in "${targets[@]}"; do
    case $t in
    lines | length-delimited | resp | bytes)
        clang "${flags[@]}" "tests/fuzz/fuzz-$t.c" "${codec_srcs[@]}" -o "$out/fuzz-$t" ;;
    *)
        build_lib
        clang "${flags[@]}" "tests/fuzz/fuzz-$t.c" "$lib" -lpthread -lm -o "$out/fuzz-$t" ;;
    esac
done

for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t"
    echo "== fuzz $t: ${each}s =="
    # -rss_limit_mb: nothing here may buffer much (ASan's quarantine is most of it); leaks are
    # checked after every input; -timeout: one input running 10 s is a hang; -seed: fixed
    # (FUZZ_SEED, default 1), so a run takes the same path through the inputs each time and CI
    # does not pass or fail by the draw (FUZZ_SEED=0: a random seed, for longer runs).
    rc=0
    (cd "$out" && "./fuzz-$t" -max_total_time="$each" -max_len=4096 -rss_limit_mb=1024 \
        -timeout=10 -seed="${FUZZ_SEED:-1}" -print_final_stats=1 \
        "corpus/$t" "../../tests/fuzz/corpus/$t") \
        >"$out/fuzz-$t.log" 2>&1 || rc=$?
    grep -E "^(==|SUMMARY|#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss)" \
        "$out/fuzz-$t.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $t FAILED (exit $rc): $out/fuzz-$t.log, the input is in $out/" >&2
        exit 1
    fi
done
echo "fuzz: no finding in ${#targets[@]} targets, ${each}s each"
