#!/usr/bin/env bash
# Allocation-failure runs (docs/reliability.md): builds edo with -DEDO_FAULT_ALLOC=ON under
# AddressSanitizer (so a leak fails a run) and runs every case of tests/alloc/test-alloc-*.c with
# its 1st, 2nd, 3rd... allocation failing (EDO_FAIL_ALLOC_AT=N), until a run ends with no
# allocation failed (N passed the case's last one). A run passes when it exits 0: the case
# accepted -ENOMEM where it came, and ASan found no leak or bad access. It fails on a crash, a
# check, a leak, or a hang (ALLOC_FAIL_TIMEOUT seconds, default 30). Prints a table of
# (case, runs, outcome) and exits 1 if any run failed; the logs of failed runs are kept in
# <build>/alloc-fail-logs/.
#
#   .ci/alloc-fail.sh [case-pattern]     e.g. .ci/alloc-fail.sh 'core\.'
#   ALLOC_FAIL_MAX=N    give up on a case after N runs (default 2000)
#   ALLOC_FAIL_EVERY=K  fail every Kth allocation after the Nth too (EDO_FAIL_ALLOC_EVERY)
#   ALLOC_FAIL_BUILD    build directory (default build/alloc-fail)
#   JOBS                cases run at once (default: the number of CPUs)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${ALLOC_FAIL_BUILD:-build/alloc-fail}
MAX=${ALLOC_FAIL_MAX:-2000}
TIMEOUT=${ALLOC_FAIL_TIMEOUT:-30}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
PATTERN=${1:-.}

sources=(tests/alloc/test-alloc-*.c)
targets=()
for src in "${sources[@]}"; do
    targets+=("$(basename "$src" .c)")
done
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDO_FAULT_ALLOC=ON \
    -DEDO_SANITIZE=address -DEDO_BUILD_BENCH=OFF -DEDO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" >/dev/null

LOGS=$BUILD/alloc-fail-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# One case: runs N = 1, 2, ... and writes its table row to $LOGS/<case>.row.
run_case() {
    local exe=$1 name=$2 n=1 failed=() log rc summary kind
    local row=$LOGS/${exe#test-alloc-}.$name
    while ((n <= MAX)); do
        log=$row.$n.log
        rc=0
        EDO_FAIL_ALLOC_AT=$n EDO_FAIL_ALLOC_EVERY=${ALLOC_FAIL_EVERY:-0} ASAN_OPTIONS=detect_leaks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            timeout "$TIMEOUT" "$BUILD/tests/$exe" "$name" >"$log" 2>&1 || rc=$?
        summary=$(grep -o 'edo-fault-alloc: [0-9]* allocations, [0-9]* failed' "$log" || true)
        # The function that made the failed allocation: the frame after the wrapper's.
        grep -A4 'edo-fault-alloc: allocation' "$log" | sed -n 's/^ *#3 0x[0-9a-f]* in \([^ ]*\) .*/\1/p' \
            >>"$row.sites" || true
        if ((rc == 0)); then
            rm -f "$log"
            if [[ $summary == *", 0 failed" ]]; then
                break
            fi
        else
            if ((rc == 124)); then
                kind="hang"
            elif grep -q 'LeakSanitizer' "$log"; then
                kind="leak"
            elif grep -q 'AddressSanitizer\|runtime error' "$log"; then
                kind="$(grep -o -m1 'AddressSanitizer: [a-z-]*\|runtime error: .*' "$log")"
            elif grep -q 'CHECK.*failed\|: -[0-9]* (' "$log"; then
                kind="check: $(grep -m1 'CHECK.*failed\|: -[0-9]* (' "$log" | sed 's|^.*/||')"
            else
                kind="exit $rc"
            fi
            failed+=("N=$n: $kind")
        fi
        n=$((n + 1))
    done
    local runs=$((n - 1)) outcome
    if ((n > MAX)); then
        outcome="gave up after $MAX runs"
    elif ((${#failed[@]} == 0)); then
        outcome="clean"
    else
        outcome="${#failed[@]} failed: $(printf '%s; ' "${failed[@]}")"
    fi
    local sites
    sites=$(sort -u "$row.sites" 2>/dev/null | wc -l)
    printf '%s\t%s\t%s\t%s\n' "${exe#test-alloc-}.$name" "$runs" "$sites" "$outcome" >"$row.row"
}
export -f run_case
export BUILD MAX TIMEOUT LOGS ALLOC_FAIL_EVERY

cases=()
for src in "${sources[@]}"; do
    exe=$(basename "$src" .c)
    for name in $(sed -n 's/^TEST(\([a-z0-9_]*\)).*/\1/p' "$src"); do
        if [[ ${exe#test-alloc-}.$name =~ $PATTERN ]]; then
            cases+=("$exe $name")
        fi
    done
done
printf '%s\n' "${cases[@]}" | xargs -P "$JOBS" -L 1 bash -c 'run_case "$0" "$1"'

echo
printf '| %-22s | %s | %s | %s |\n' "test" "allocations failed (one per run)" "allocating functions" \
    "outcome"
printf '|%s|%s|%s|%s|\n' "------------------------" "----------------------------------" \
    "----------------------" "---------"
status=0
for row in "$LOGS"/*.row; do
    IFS=$'\t' read -r name runs sites outcome <"$row"
    printf '| %-22s | %34s | %20s | %s |\n' "$name" "$runs" "$sites" "$outcome"
    [[ $outcome == clean ]] || status=1
done
exit $status
