#!/usr/bin/env bash
# Runs edo's benchmarks side by side with their Tokio counterparts and prints
# medians and ratios on stdout (build logs and warnings go to stderr):
#
#   bench=NAME peer=edo ns_per_op=MEDIAN ops=N
#   bench=NAME peer=tokio ns_per_op=MEDIAN ops=N
#   bench=NAME ratio=R            R = tokio / edo; above 1 means edo is faster
#
# Memory rows print bytes_per_task=MEDIAN instead, and the same ratio.
#
# Environment:
#   RUNS=5            runs per (workload, peer), each its own process
#   WORKERS=2         worker threads for both runtimes
#   WORKLOADS="..."   space-separated subset of the edo workloads in PAIRS
#   OPS=N             pass --ops N to both (quick tests); unset = defaults
#   EDO_BENCH=path    use this edo-bench and skip the CMake build
#   TOKIO_BENCH=path  use this tokio-bench and skip the cargo build
#
# Exit status: 0 when every row ran on both sides, 1 otherwise (the rows that
# could run are still printed).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1 # the repo root

RUNS=${RUNS:-5}
WORKERS=${WORKERS:-2}
OPS=${OPS:-}

# Each edo workload and the Tokio workload it is compared against; "-" marks
# an edo-only row (no Tokio equivalent), which prints the edo line alone.
# The coro_* variants measure edo's coroutine tasks against the same Tokio
# workload as their plain counterparts.
PAIRS=(
    "spawn_many          spawn_many"
    "spawn_many_remote   spawn_many_remote"
    "yield_many          yield_many"
    "chained_spawn       chained_spawn"
    "idle_task_memory    idle_task_memory"
    "coro_yield_many     yield_many"
    "coro_spawn_many     spawn_many"
    "coro_chained_spawn  chained_spawn"
    "switch              -"
    "coro_self_yield     -"
    "idle_coro_memory    -"
)

# edo-bench's exit status for a workload it does not know (yet): skip the row.
EXIT_UNKNOWN_WORKLOAD=2

status=0
ERRFILE=$(mktemp) || exit 1
trap 'rm -f "$ERRFILE"' EXIT

warn() { echo "run.sh: $*" >&2; }

build_edo() {
    if [ -n "${EDO_BENCH:-}" ]; then return 0; fi
    EDO_BENCH=build/release/bench/edo-bench
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 &&
        cmake --build build/release -j2 >&2
}

build_tokio() {
    if [ -n "${TOKIO_BENCH:-}" ]; then return 0; fi
    TOKIO_BENCH=$(bench/tokio/build.sh)
}

# tokio_peer EDO_NAME: prints the Tokio workload for EDO_NAME ("-" if none).
tokio_peer() {
    local pair edo tokio
    for pair in "${PAIRS[@]}"; do
        read -r edo tokio <<<"$pair"
        if [ "$edo" = "$1" ]; then
            echo "$tokio"
            return 0
        fi
    done
    warn "$1 is not in PAIRS; running it on edo only"
    echo "-"
}

# run_one BIN WORKLOAD: runs one process and prints "VALUE OPS" where VALUE is
# ns_per_op (OPS the op count) or bytes_per_task (OPS "-"). Returns the
# binary's exit status, or 1 when its line cannot be parsed.
run_one() {
    local bin=$1 workload=$2 line rc
    local args=("$workload" --workers "$WORKERS")
    [ -n "$OPS" ] && args+=(--ops "$OPS")
    # Hold stderr back: a row edo does not know yet is skipped silently,
    # anything else a binary says on stderr is passed on.
    line=$("$bin" "${args[@]}" 2>"$ERRFILE")
    rc=$?
    [ $rc -eq $EXIT_UNKNOWN_WORKLOAD ] || cat "$ERRFILE" >&2
    [ $rc -eq 0 ] || return $rc
    if [[ $line =~ ns_per_op=([0-9.]+)\ ops=([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    elif [[ $line =~ bytes_per_task=([0-9.]+) ]]; then
        echo "${BASH_REMATCH[1]} -"
    else
        warn "$bin $workload: unexpected output: $line"
        return 1
    fi
}

# median V...: the middle value (mean of the two middle ones for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'
}

# result_line NAME PEER OPS VALUES...: one median line in edo-bench's format.
result_line() {
    local name=$1 peer=$2 ops=$3
    shift 3
    if [ "$ops" = "-" ]; then
        printf 'bench=%s peer=%s bytes_per_task=%.0f\n' "$name" "$peer" "$(median "$@")"
    else
        printf 'bench=%s peer=%s ns_per_op=%.1f ops=%s\n' "$name" "$peer" "$(median "$@")" "$ops"
    fi
}

# bench_row NAME TOKIO_NAME: RUNS rounds of edo then Tokio, then the medians.
# Tokio is skipped when TOKIO_NAME is "-" or the Tokio build failed.
bench_row() {
    local name=$1 peer=$2 i out rc
    local edo_vals=() tokio_vals=() edo_ops="" tokio_ops=""
    [ -n "$TOKIO_BENCH" ] || peer="-"
    for ((i = 0; i < RUNS; i++)); do
        # Alternate the two peers run by run so that drift on a noisy
        # machine (other load, thermal state) hits both alike.
        out=$(run_one "$EDO_BENCH" "$name")
        rc=$?
        if [ $rc -eq $EXIT_UNKNOWN_WORKLOAD ]; then return 0; fi # edo lacks it
        if [ $rc -ne 0 ]; then
            warn "edo-bench $name failed (exit $rc)"
            status=1
            return 0
        fi
        edo_vals+=("${out% *}")
        edo_ops=${out#* }
        [ "$peer" != "-" ] || continue
        if out=$(run_one "$TOKIO_BENCH" "$peer"); then
            tokio_vals+=("${out% *}")
            tokio_ops=${out#* }
        else
            warn "tokio-bench $peer failed (exit $?)"
            status=1
            peer="-"
        fi
    done
    result_line "$name" edo "$edo_ops" "${edo_vals[@]}"
    [ "$peer" != "-" ] || return 0
    result_line "$name" tokio "$tokio_ops" "${tokio_vals[@]}"
    awk -v n="$name" -v e="$(median "${edo_vals[@]}")" -v t="$(median "${tokio_vals[@]}")" \
        'BEGIN { if (e > 0) printf "bench=%s ratio=%.2f\n", n, t / e; else printf "bench=%s ratio=inf\n", n }'
}

main() {
    if ! [[ $RUNS =~ ^[1-9][0-9]*$ && $WORKERS =~ ^[1-9][0-9]*$ ]]; then
        warn "RUNS and WORKERS must be positive integers"
        exit 1
    fi
    if ! build_edo; then
        warn "edo build failed"
        exit 1
    fi
    if [ ! -x "$EDO_BENCH" ]; then
        warn "no edo-bench at $EDO_BENCH"
        exit 1
    fi
    # Without Tokio there is still something to show: the edo lines.
    if ! build_tokio || [ ! -x "${TOKIO_BENCH:-}" ]; then
        warn "Tokio build failed; printing edo results only"
        TOKIO_BENCH=""
        status=1
    fi

    local names=() pair
    if [ -n "${WORKLOADS:-}" ]; then
        read -r -a names <<<"$WORKLOADS"
    else
        for pair in "${PAIRS[@]}"; do names+=("${pair%% *}"); done
    fi
    local name
    for name in "${names[@]}"; do
        bench_row "$name" "$(tokio_peer "$name")"
    done
    exit $status
}

main
