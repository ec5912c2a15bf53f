#!/usr/bin/env bash
# Runs edo's benchmarks side by side with their Tokio counterparts and prints
# medians and ratios on stdout (build logs and warnings go to stderr):
#
#   bench=NAME peer=edo ns_per_op=MEDIAN ops=N
#   bench=NAME peer=tokio ns_per_op=MEDIAN ops=N
#   bench=NAME ratio=R            R = tokio / edo; above 1 means edo is faster
#
# Memory rows print bytes_per_task=MEDIAN instead (RSS growth per task parked
# on a Notify), and the same ratio; idle_conn_memory prints bytes_per_conn
# (RSS growth per idle echo connection, 10,000 of them, each echoed once, the
# clients in another process: edo's coroutines wait in edo_stream_ready and
# take a buffer only for a burst, Tokio's tasks are tokio-echo's, parked in a
# read into their 4 KiB buffer; bench/net/run.sh measures echo_server's styles
# from outside). Rows with several fields print the median
# of each, and one ratio (tokio / edo) for each field they are compared on:
#
#   bench=NAME peer=edo p50_us=MEDIAN p99_us=MEDIAN max_us=MEDIAN wall_ms=MEDIAN
#   bench=NAME ratio_p99=R ratio_max=R           timer lateness: p99 and max
#   bench=NAME peer=edo all_ran_ms=MEDIAN late_max_ms=MEDIAN
#   bench=NAME ratio_all_ran=R ratio_late=R      fairness
#
# The rows beyond Tokio's own benchmark shapes (issue 13):
#   sleep_overshoot, coro_sleep_overshoot   100,000 tasks each sleep a seeded
#       1-1,000 ms once; how late they woke (p50, p99, max).
#   ping_pong_pairs, coro_ping_pong_pairs   1,000 long-lived pairs, each round
#       trip a new oneshot sent over the last (Tokio's Ball(oneshot::Sender));
#       ns per hop, 8,000,000 hops.
#   fairness, coro_fairness   one busy task per worker spins 1 ms and yields, over
#       and over; meanwhile a plain thread spawns 1,000 tiny tasks (all_ran_ms:
#       until the last has run) and a task sleeps 1 ms twenty times (late_max_ms:
#       the worst lateness). A side not done after 60 s prints 60000 (the cap).
#   lines   1 GiB of 80-byte lines written by one task into an in-memory duplex
#       pair of 64 KiB, read by another through a buffered reader of 8 KiB (edo:
#       edo_buf_reader_next_line; Tokio: BufReader::lines); ns per line.
#   fs_read_small   10,000 files of 4 KiB read whole (edo_fs_read / tokio::fs::read)
#       by 64 tasks at once; ns per file. fs_read_small_sync: the same files read
#       by one plain thread with open/fstat/read/close, no runtime (the limit).
#   fs_metadata     the metadata of fs_read_small's files (edo_fs_metadata /
#       tokio::fs::metadata) by 64 tasks at once; ns per file. fs_metadata_sync:
#       statx(2) on each by one plain thread, no runtime (the limit).
#   fs_write_fsync  2,000 files of 4 KiB each created, written, fsync'd and
#       closed by 64 tasks at once; ns per file.
#   read_dir        a directory of 100,000 files listed; ns per entry.
#   The files live in $TMPDIR/edo-bench-fs/ (made on first use, then kept).
#   signal, signal_unblocked_main   a task sends SIGUSR1 to its own process and
#       waits for its listener to wake, 10,000 times; ns_per_op is the median
#       latency of one delivery. signal: main blocks the signal as edo/signal.h
#       advises (signalfd); signal_unblocked_main: it does not (edo's handler).
# The coro_* rows run edo's coroutine tasks against the same Tokio workload.
#   process   spawn /bin/true and wait for it, 1,000 times, 32 at a time
#       (tokio::process); ns per child.
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
    "spawn_many           spawn_many"
    "spawn_many_remote    spawn_many_remote"
    "yield_many           yield_many"
    "chained_spawn        chained_spawn"
    "idle_task_memory     idle_task_memory"
    "idle_conn_memory     idle_conn_memory"
    "coro_yield_many      yield_many"
    "coro_spawn_many      spawn_many"
    "coro_chained_spawn   chained_spawn"
    "switch               -"
    "coro_self_yield      -"
    "idle_coro_memory     -"
    "timeout_cancel       timeout_cancel"
    "sleep_overshoot      sleep_overshoot"
    "coro_sleep_overshoot sleep_overshoot"
    "mutex_contended      mutex_contended"
    "semaphore_contended  semaphore_contended"
    "ping_pong            ping_pong"
    "ping_pong_pairs      ping_pong_pairs"
    "coro_ping_pong_pairs ping_pong_pairs"
    "mpsc                 mpsc"
    "fairness             fairness"
    "coro_fairness        fairness"
    "lines                lines"
    "fs_read_small        fs_read_small"
    "fs_read_small_sync   -"
    "fs_metadata          fs_metadata"
    "fs_metadata_sync     -"
    "fs_write_fsync       fs_write_fsync"
    "read_dir             read_dir"
    "signal               signal"
    "signal_unblocked_main signal"
    "process              process"
)

# Every field a result line may carry after bench= and peer=, with the printf
# format its median is printed in. ops is a count, the same in every run.
declare -A FIELD_FORMAT=(
    [ns_per_op]=%.1f [ops]=%s
    [bytes_per_task]=%.0f [bytes_per_conn]=%.0f
    [p50_us]=%.0f [p99_us]=%.0f [max_us]=%.0f [wall_ms]=%.1f
    [all_ran_ms]=%.1f [late_max_ms]=%.2f
)
# The fields the two peers are compared on, and the name of each one's ratio;
# each kind of line has at least one of these.
declare -A RATIO_NAME=([ns_per_op]=ratio [bytes_per_task]=ratio [bytes_per_conn]=ratio
    [p99_us]=ratio_p99 [max_us]=ratio_max
    [all_ran_ms]=ratio_all_ran [late_max_ms]=ratio_late)

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

# run_one BIN WORKLOAD: runs one process and prints the measured fields of its
# line, "KEY=VALUE ..." (all after bench= and peer=). Returns the binary's exit
# status, or 1 when its line is not made of known fields with numeric values.
run_one() {
    local bin=$1 workload=$2 line rc fields=()
    local args=("$workload" --workers "$WORKERS")
    [ -n "$OPS" ] && args+=(--ops "$OPS")
    # Hold stderr back: a row edo does not know yet is skipped silently,
    # anything else a binary says on stderr is passed on.
    line=$("$bin" "${args[@]}" 2>"$ERRFILE")
    rc=$?
    [ $rc -eq $EXIT_UNKNOWN_WORKLOAD ] || cat "$ERRFILE" >&2
    [ $rc -eq 0 ] || return $rc
    [[ $line =~ ^bench=[^\ ]+\ peer=[^\ ]+\ (.*)$ ]] &&
        read -r -a fields <<<"${BASH_REMATCH[1]}"
    if ! known_fields "${fields[@]}"; then
        warn "$bin $workload: unexpected output: $line"
        return 1
    fi
    echo "${fields[*]}"
}

# known_fields FIELD...: whether every FIELD is KEY=NUMBER with KEY in
# FIELD_FORMAT, and at least one of them says what the peers are compared on.
known_fields() {
    local field
    for field in "$@"; do
        [[ $field =~ ^([a-z0-9_]+)=[0-9.]+$ && -n ${FIELD_FORMAT[${BASH_REMATCH[1]}]:-} ]] || return 1
    done
    [ -n "$(ratio_keys "$*")" ]
}

# ratio_keys FIELDS: the keys in FIELDS that the peers are compared on, in
# their order, space-separated.
ratio_keys() {
    local field keys=()
    for field in $1; do
        [ -z "${RATIO_NAME[${field%%=*}]:-}" ] || keys+=("${field%%=*}")
    done
    echo "${keys[*]}"
}

# field_values KEY RUN...: KEY's value in each RUN's fields, one per line.
field_values() {
    local key=$1 run
    shift
    for run in "$@"; do
        [[ " $run " =~ \ $key=([0-9.]+)\  ]] && echo "${BASH_REMATCH[1]}"
    done
}

# field_median KEY RUN...: the median of KEY over the RUNs.
field_median() {
    local vals
    mapfile -t vals < <(field_values "$@")
    median "${vals[@]}"
}

# median V...: the middle value (mean of the two middle ones for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'
}

# result_line NAME PEER RUN...: one line in the binaries' format, with the
# fields of the first RUN in their order, each the median over the RUNs.
result_line() {
    local name=$1 peer=$2 line field key
    shift 2
    line="bench=$name peer=$peer"
    for field in $1; do
        key=${field%%=*}
        # shellcheck disable=SC2059 # the formats come from FIELD_FORMAT
        line+=" $key=$(printf "${FIELD_FORMAT[$key]}" "$(field_median "$key" "$@")")"
    done
    echo "$line"
}

# bench_row NAME TOKIO_NAME: RUNS rounds of edo then Tokio, then the medians.
# Tokio is skipped when TOKIO_NAME is "-" or the Tokio build failed.
bench_row() {
    local name=$1 peer=$2 i out rc key
    local edo_runs=() tokio_runs=()
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
        edo_runs+=("$out")
        [ "$peer" != "-" ] || continue
        if out=$(run_one "$TOKIO_BENCH" "$peer"); then
            tokio_runs+=("$out")
        else
            warn "tokio-bench $peer failed (exit $?)"
            status=1
            peer="-"
        fi
    done
    result_line "$name" edo "${edo_runs[@]}"
    [ "$peer" != "-" ] || return 0
    result_line "$name" tokio "${tokio_runs[@]}"
    local line="bench=$name"
    for key in $(ratio_keys "${edo_runs[0]}"); do
        line+=" ${RATIO_NAME[$key]}=$(awk -v e="$(field_median "$key" "${edo_runs[@]}")" \
            -v t="$(field_median "$key" "${tokio_runs[@]}")" \
            'BEGIN { if (e <= 0) printf "inf"; else printf (t / e >= 0.1 ? "%.2f" : "%.2g"), t / e }')"
    done
    echo "$line"
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
