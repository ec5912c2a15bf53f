#!/usr/bin/env bash
# bench=copy: a TCP proxy built on copy_bidirectional, edo's (examples/tcp_proxy, which
# splices) against Tokio's (bench/tokio/src/proxy.rs, tokio::io::copy_bidirectional), both
# driven by the same two ends (bench/net/copygen.c: a splice echo server and a bulk client).
#
#   bench/net/copy.sh                      (or: make bench-copy)
#   RUNS=1 DURATION=1 bench/net/copy.sh    a quick check
#
# Each run starts the echo server and the proxy on free ports, the client sends through the
# proxy for DURATION seconds on C connections (bench copy_1: 1, copy_50: 50) and reads the echo
# back; the proxy's CPU time (user + system, all threads, /proc/PID/stat, as getrusage would
# give inside it) is read before and after. The proxy runs on CPU 0 with one worker, the client
# and the echo server on CPU 1 (PIN=1 on a machine with 2 CPUs or more).
#
# Output on stdout (progress and build logs go to stderr), medians over RUNS runs, the peers
# taking turns within each round:
#   bench=copy_C peer=P mib_per_s=X cpu_ns_per_mib=Y
#       X: MiB the proxy forwarded per second, both directions together (each echoed byte
#          passes it twice); Y: the proxy's CPU nanoseconds per MiB forwarded
#   bench=copy_C ratio=R ratio_mib_per_s=T
#       R: throughput per CPU, edo's over Tokio's (= Tokio's cpu_ns_per_mib / edo's; above 1:
#          edo ahead); T: edo's mib_per_s / Tokio's. Each the median of the rounds' ratios.
#
# Environment: RUNS=5, DURATION=3 (seconds per run), BENCHES="copy_1 copy_50", PIN=1,
# PEERS="edo tokio".
# Exit status: 0 when every run succeeded, 1 otherwise (what ran is printed).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1 # the repo root

RUNS=${RUNS:-5}
DURATION=${DURATION:-3}
BENCHES=${BENCHES:-copy_1 copy_50}
PIN=${PIN:-1}
PEERS=${PEERS:-edo tokio}
BIN=build/release/bench
CLK_TCK=$(getconf CLK_TCK)
PROXY_CPU=()
LOAD_CPU=()
status=0
ECHO_PID="" PROXY_PID=""
LOG=$(mktemp) || exit 1
trap 'kill $ECHO_PID $PROXY_PID 2>/dev/null; rm -f "$LOG"' EXIT

warn() { echo "copy.sh: $*" >&2; }

build() {
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 &&
        cmake --build build/release -j2 --target tcp_proxy copygen >&2 || return 1
    if [[ " $PEERS " == *" tokio "* ]]; then
        local tokio
        if tokio=$(bench/tokio/build.sh); then
            TOKIO_PROXY=$(dirname "$tokio")/tokio-proxy
        else
            warn "Tokio build failed; edo only"
            PEERS=edo
            status=1
        fi
    fi
}

# A port below the ephemeral range that nothing listens on.
free_port() {
    local low port
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    while :; do
        port=$((10000 + RANDOM % (low - 10000)))
        [ -z "$(ss -Hltn "sport = :$port")" ] && { echo "$port"; return; }
    done
}

# wait_listen PORT PID: until PORT listens (10 s), or PID exits.
wait_listen() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

stop() {
    kill $ECHO_PID $PROXY_PID 2>/dev/null
    wait $ECHO_PID $PROXY_PID 2>/dev/null
    ECHO_PID="" PROXY_PID=""
}

# cpu_ticks PID: its user + system time so far, in clock ticks.
cpu_ticks() {
    local stat f
    stat=$(<"/proc/$1/stat") || return 1
    read -r -a f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}

field() { [[ " $2 " =~ \ $1=([^ ]+)\  ]] && echo "${BASH_REMATCH[1]}"; }

# run_one CONNS PEER: one run; sets RES to "mib_per_s=.. cpu_ns_per_mib=..".
run_one() {
    local conns=$1 peer=$2 echo_port proxy_port t0 t1 line
    echo_port=$(free_port)
    "${LOAD_CPU[@]}" "$BIN/copygen" --serve "$echo_port" 2>>"$LOG" &
    ECHO_PID=$!
    wait_listen "$echo_port" "$ECHO_PID" || { warn "echo server did not start"; stop; return 1; }
    proxy_port=$(free_port)
    case $peer in
    edo) "${PROXY_CPU[@]}" build/release/examples/tcp_proxy --listen "127.0.0.1:$proxy_port" \
        --to "127.0.0.1:$echo_port" --workers 1 >>"$LOG" 2>&1 & ;;
    tokio) "${PROXY_CPU[@]}" "$TOKIO_PROXY" --port "$proxy_port" --to "127.0.0.1:$echo_port" \
        --workers 1 >>"$LOG" 2>&1 & ;;
    esac
    PROXY_PID=$!
    wait_listen "$proxy_port" "$PROXY_PID" || { warn "$peer proxy did not start: $(tail -3 "$LOG")"; stop; return 1; }
    t0=$(cpu_ticks "$PROXY_PID")
    line=$(timeout $((DURATION + 30)) "${LOAD_CPU[@]}" "$BIN/copygen" --port "$proxy_port" \
        --connections "$conns" --seconds "$DURATION")
    local rc=$?
    t1=$(cpu_ticks "$PROXY_PID")
    stop
    if [ $rc -ne 0 ] || [ -z "$t1" ]; then
        warn "$peer copy_$conns failed (client exit $rc): $(tail -3 "$LOG")"
        return 1
    fi
    RES=$(awk -v b="$(field bytes "$line")" -v s="$(field seconds "$line")" -v c=$((t1 - t0)) \
        -v hz="$CLK_TCK" 'BEGIN { mib = 2 * b / 1048576
            printf "mib_per_s=%.1f cpu_ns_per_mib=%.0f", mib / s, c / hz * 1e9 / mib }')
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RESULTS # [bench/peer/run] = fields

# column BENCH PEER KEY: KEY's values over the runs.
column() {
    local run
    for ((run = 0; run < RUNS; run++)); do
        [ -n "${RESULTS[$1/$2/$run]:-}" ] && field "$3" "${RESULTS[$1/$2/$run]}"
    done
}

# paired BENCH KEY INVERT: the median over the rounds of edo's KEY / Tokio's (Tokio's / edo's
# with INVERT 1, for costs).
paired() {
    local run e t vals=()
    for ((run = 0; run < RUNS; run++)); do
        e=${RESULTS[$1/edo/$run]:-} t=${RESULTS[$1/tokio/$run]:-}
        [ -n "$e" ] && [ -n "$t" ] || continue
        e=$(field "$2" "$e") t=$(field "$2" "$t")
        if [ "$3" = 1 ]; then vals+=("$(awk -v a="$t" -v b="$e" 'BEGIN { print a / b }')")
        else vals+=("$(awk -v a="$e" -v b="$t" 'BEGIN { print a / b }')"); fi
    done
    printf '%.2f' "$(median "${vals[@]}")"
}

main() {
    if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        PROXY_CPU=(taskset -c 0)
        LOAD_CPU=(taskset -c 1)
    fi
    build || { warn "build failed"; exit 1; }
    local -a peers benches
    read -r -a peers <<<"$PEERS"
    read -r -a benches <<<"$BENCHES"
    local bench conns run k peer n=${#peers[@]}
    for bench in "${benches[@]}"; do
        [[ $bench =~ ^copy_([0-9]+)$ ]] || { warn "unknown benchmark $bench"; status=1; continue; }
        conns=${BASH_REMATCH[1]}
        for ((run = 0; run < RUNS; run++)); do
            for ((k = 0; k < n; k++)); do
                peer=${peers[(run + k) % n]}
                RES=""
                if ! run_one "$conns" "$peer"; then
                    status=1
                    continue
                fi
                warn "$bench $peer run $((run + 1)): $RES"
                RESULTS[$bench/$peer/$run]=$RES
            done
        done
        for peer in "${peers[@]}"; do
            [ -n "$(column "$bench" "$peer" mib_per_s)" ] || continue
            printf 'bench=%s peer=%s mib_per_s=%.1f cpu_ns_per_mib=%.0f\n' "$bench" "$peer" \
                "$(median $(column "$bench" "$peer" mib_per_s))" \
                "$(median $(column "$bench" "$peer" cpu_ns_per_mib))"
        done
        if [ -n "$(column "$bench" edo mib_per_s)" ] && [ -n "$(column "$bench" tokio mib_per_s)" ]; then
            echo "bench=$bench ratio=$(paired "$bench" cpu_ns_per_mib 1)" \
                "ratio_mib_per_s=$(paired "$bench" mib_per_s 0)"
        fi
    done
    exit $status
}

main
