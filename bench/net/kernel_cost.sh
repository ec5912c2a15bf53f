#!/usr/bin/env bash
# What an echo request costs the server in system calls and context switches (numbers that a
# noisy machine does not move much, where wall-clock and CPU time do), beside its CPU time and
# p99, for edo on epoll and on io_uring, Tokio, and optionally an older build of edo's echo
# server (BEFORE): the servers take turns within each round, as in run.sh.
#
#   BEFORE=/tmp/old/build/release/examples/echo_server ROUNDS=5 SECS=3 CONNS=50 \
#       bench/net/kernel_cost.sh
#
# Expects the release build (build/release: examples/echo_server, bench/loadgen) and, for Tokio,
# bench/tokio/build.sh's output; it builds nothing (run.sh does). One worker (WORKERS=N for
# more); with one, the server on CPU 0 and the load generator on CPU 1, with more neither
# pinned (as run.sh does); 64-byte requests at depth 1.
#
# Output: a line per run, then per server the medians:
#   server=S cpu_us_per_req=.. p99_us=.. vol_cs_per_req=.. invol_cs_per_req=..
#            syscalls_per_req=.. io_uring_enter=.. epoll_wait=.. recvfrom=.. sendto=..
# context switches summed over the server's threads (/proc/PID/task/*/status), system calls
# counted by `perf stat` on the syscall tracepoints (left out without perf).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

ROUNDS=${ROUNDS:-3} SECS=${SECS:-3} CONNS=${CONNS:-50} BEFORE=${BEFORE:-} WORKERS=${WORKERS:-1}
SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1)
[ "$WORKERS" = 1 ] || SERVER_CPU=() LOAD_CPU=()
EDO=build/release/examples/echo_server
TOKIO=bench/tokio/target/release/tokio-echo
LOADGEN=build/release/bench/loadgen
HZ=$(getconf CLK_TCK)
EVENTS=raw_syscalls:sys_enter
for s in io_uring_enter epoll_wait recvfrom sendto; do EVENTS+=",syscalls:sys_enter_$s"; done
PERF_OUT=$(mktemp) || exit 1
trap 'rm -f "$PERF_OUT"' EXIT

SERVERS=(edo edo-uring)
[ -x "$TOKIO" ] && SERVERS+=(tokio)
[ -n "$BEFORE" ] && SERVERS+=(before before-uring)
for bin in "$EDO" "$LOADGEN"; do
    [ -x "$bin" ] || { echo "kernel_cost.sh: $bin missing (build/release)" >&2; exit 1; }
done
command -v perf >/dev/null || echo "kernel_cost.sh: no perf: system calls left out" >&2

server_cmd() {
    case $1 in
    edo) echo "env EDO_IO_BACKEND=epoll $EDO" ;;
    edo-uring) echo "env EDO_IO_BACKEND=uring $EDO" ;;
    tokio) echo "$TOKIO" ;;
    before) echo "env EDO_IO_BACKEND=epoll $BEFORE" ;;
    before-uring) echo "env EDO_IO_BACKEND=uring $BEFORE" ;;
    esac
}

# switches PID: "voluntary involuntary", summed over its threads.
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt/ { v += $2 } /^nonvoluntary_ctxt/ { n += $2 } END { print v, n }'
}

# ticks PID: user + system clock ticks so far.
ticks() {
    local stat f
    stat=$(<"/proc/$1/stat") || return 1
    read -r -a f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}

# one NAME ROUND: a run; prints its line.
one() {
    local cmd port pid perf_pid i line c0 c1 t0 t1 req p99
    read -r -a cmd <<<"$(server_cmd "$1")"
    port=$((20000 + RANDOM % 20000))
    "${SERVER_CPU[@]}" "${cmd[@]}" --port "$port" --workers "$WORKERS" 2>/dev/null &
    pid=$! # env execs the server: this is its pid
    for ((i = 0; i < 200; i++)); do
        [ -n "$(ss -Hltn "sport = :$port")" ] && break
        sleep 0.05
    done
    c0=$(switches "$pid") t0=$(ticks "$pid")
    : >"$PERF_OUT"
    perf_pid=""
    if command -v perf >/dev/null; then
        perf stat -x, -e "$EVENTS" -p "$pid" -o "$PERF_OUT" &
        perf_pid=$!
        sleep 0.2 # attached before the load
    fi
    line=$("${LOAD_CPU[@]}" "$LOADGEN" --port "$port" --connections "$CONNS" --depth 1 \
        --seconds "$SECS" --size 64)
    [ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null; }
    c1=$(switches "$pid") t1=$(ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null
    req=$(sed -nE 's/.*requests=([0-9]+).*/\1/p' <<<"$line")
    p99=$(sed -nE 's/.*p99_us=([0-9.]+).*/\1/p' <<<"$line")
    if [ -z "$req" ] || [ "$req" -eq 0 ]; then
        echo "kernel_cost.sh: $1 run failed" >&2
        return 1
    fi
    awk -F, -v name="$1" -v r="$2" -v req="$req" -v p99="$p99" -v cpu=$((t1 - t0)) -v hz="$HZ" \
        -v c0="$c0" -v c1="$c1" '
        $3 == "raw_syscalls:sys_enter" { calls = sprintf(" syscalls_per_req=%.4f", $1 / req) }
        $3 ~ /^syscalls:sys_enter_/ { n = $3; sub(/.*sys_enter_/, "", n)
            calls = calls sprintf(" %s=%.4f", n, $1 / req) }
        END { split(c0, a, " "); split(c1, b, " ")
            printf "round=%d server=%s requests=%d cpu_us_per_req=%.3f p99_us=%s", r, name, req,
                cpu / hz * 1e6 / req, p99
            printf " vol_cs_per_req=%.4f invol_cs_per_req=%.4f%s\n", (b[1] - a[1]) / req,
                (b[2] - a[2]) / req, calls }' "$PERF_OUT"
}

RUNS=()
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < ${#SERVERS[@]}; k++)); do # each round starts with the next server
        name=${SERVERS[$(((k + r) % ${#SERVERS[@]}))]}
        if line=$(one "$name" "$r"); then
            echo "$line" >&2
            RUNS+=("$line")
        fi
    done
done

# The medians, per server, of every key=value field but round and server.
printf '%s\n' "${RUNS[@]}" | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[i] = kv[1]; v[kv[1]] = kv[2] }
      s = v["server"]; if (!(s in seen)) { seen[s] = 1; order[++ns] = s }
      for (i = 3; i <= NF; i++) { k = f[i]; if (!((s, k) in cnt)) keys[s] = keys[s] " " k
          vals[s, k, ++cnt[s, k]] = v[k] } }
    END { for (j = 1; j <= ns; j++) { s = order[j]; out = "server=" s; nk = split(keys[s], ks, " ")
          for (i = 1; i <= nk; i++) { k = ks[i]; n = cnt[s, k]
              for (a = 1; a <= n; a++) x[a] = vals[s, k, a] + 0
              for (a = 2; a <= n; a++) for (b = a; b > 1 && x[b - 1] > x[b]; b--) {
                  t = x[b]; x[b] = x[b - 1]; x[b - 1] = t }
              m = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
              out = out sprintf(" %s=%g", k, m) }
          print out } }'
