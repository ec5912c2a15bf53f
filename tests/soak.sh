#!/usr/bin/env bash
# The soak (issue 17): examples/echo_server and examples/mini_redis under load and faults for
# a long while, watched every second. Not in CI (it takes minutes); `make soak` runs it.
#
#   tests/soak.sh                    10 minutes
#   SOAK_SECONDS=60 tests/soak.sh    a short one
#   SOAK_ASAN=1 tests/soak.sh        the servers built with AddressSanitizer: LeakSanitizer
#                                    checks at their exit that they freed everything
#   SOAK_PUBLISH=1 tests/soak.sh     also copy the report and plot to docs/soak.md, docs/soak.png
#
# Load, for SOAK_SECONDS:
#   echo_server  bench/net/loadgen (16 connections, 4 requests of 512 bytes in flight each, every
#                echoed byte checked) and tests/soak/faults --proto echo (32 connection slots,
#                sessions with resets, half-closes, slow readers, stalled writers, 10% aborted
#                mid-request; every byte of the sessions not cut on purpose checked)
#   mini_redis   tests/soak/faults --proto resp (the same faults, pipelines of SET/GET/INCR/DEL/
#                MGET/PING whose every reply byte is checked)
# Sampled every second for each server: RSS (VmRSS), open fds (/proc/PID/fd), live tasks (the
# server's status line, printed on SIGUSR1 from edo_runtime_metrics_get), and the load
# generators' throughput and errors.
#
# Pass criteria (the script exits 1 when one fails):
#   bytes     0 bytes lost or corrupted on the connections not cut on purpose, no connect error
#   fds       each server's fd count back to its count before the load, within 10 s after it
#   tasks     each server's live tasks back to their count before the load
#   rss       RSS flat over the second half of the load: the least-squares slope, times the
#             half's length, below max(1 MiB, 5% of the half's mean RSS)
#   log       nothing on the servers' stderr but their startup, status and shutdown lines
#   shutdown  SIGTERM at the end: each server exits 0 within 30 s (and, with SOAK_ASAN=1,
#             with no leak reported)
# The report (report.md, samples.tsv, soak.png, the logs) is in build/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${SOAK_SECONDS:-600}
asan=${SOAK_ASAN:-0}
out=$root/build/soak
jobs=${JOBS:-2}
rm -rf "$out"
mkdir -p "$out"

if ! command -v gnuplot >/dev/null; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

echo "soak: building" >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs" --target echo_server mini_redis loadgen soak_faults >/dev/null
bin=build/release
if [ "$asan" = 1 ]; then
    cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDO_SANITIZE=address \
        -DEDO_BUILD_BENCH=OFF >/dev/null
    cmake --build build/asan -j"$jobs" --target echo_server mini_redis >/dev/null
    bin=build/asan
    # A small quarantine: ASan's RSS then levels off within the warm-up.
    export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:malloc_context_size=10
fi

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_ready NAME PID LINE: waits for the server's LINE ("... on ADDR:PORT"), prints the port.
wait_ready() {
    local name=$1 pid=$2 line=$3
    for _ in $(seq 300); do
        if grep -q "$line" "$out/$name.log"; then
            sed -n "s/.*$line [0-9.]*:\([0-9]*\).*/\1/p" "$out/$name.log"
            return
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "soak: $name did not start:" >&2
    cat "$out/$name.log" >&2
    return 1
}
# The servers are this shell's children, so that `wait` gives their exit status at the end.
"$root/$bin/examples/echo_server" --port 0 --workers 2 2>"$out/echo_server.log" &
echo_pid=$!
pids+=("$echo_pid")
"$root/$bin/examples/mini_redis" --port 0 --workers 2 2>"$out/mini_redis.log" &
redis_pid=$!
pids+=("$redis_pid")
echo_port=$(wait_ready echo_server "$echo_pid" "listening on")
redis_port=$(wait_ready mini_redis "$redis_pid" "ready on")

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# The live tasks of the server's last status line (asked for by the previous sample).
live_tasks() { grep -o 'live_tasks=[0-9]*' "$1" | tail -1 | cut -d= -f2; }
ask_status() { kill -USR1 "$echo_pid" "$redis_pid"; }
sample() { # SECOND: one line of samples.tsv
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" \
        "$(rss_kib "$echo_pid")" "$(fd_count "$echo_pid")" "$(live_tasks "$out/echo_server.log")" \
        "$(rss_kib "$redis_pid")" "$(fd_count "$redis_pid")" "$(live_tasks "$out/mini_redis.log")"
}

# Baselines: the servers idle, before any load.
ask_status
sleep 0.5
base_echo_fds=$(fd_count "$echo_pid")
base_redis_fds=$(fd_count "$redis_pid")
base_echo_tasks=$(live_tasks "$out/echo_server.log")
base_redis_tasks=$(live_tasks "$out/mini_redis.log")

echo "soak: ${seconds} s against echo_server :$echo_port and mini_redis :$redis_port" >&2
printf 'second\techo_rss_kib\techo_fds\techo_tasks\tredis_rss_kib\tredis_fds\tredis_tasks\n' \
    >"$out/samples.tsv"
sample 0 >>"$out/samples.tsv" # the baseline
"$root/build/release/bench/loadgen" --port "$echo_port" --connections 16 --depth 4 --size 512 \
    --seconds "$seconds" --progress 1 >"$out/loadgen.out" 2>"$out/loadgen.err" &
load_pid=$!
"$root/build/release/tests/soak_faults" --port "$echo_port" --proto echo --connections 32 \
    --seconds "$seconds" >"$out/faults-echo.out" 2>"$out/faults-echo.err" &
fe_pid=$!
"$root/build/release/tests/soak_faults" --port "$redis_port" --proto resp --connections 32 \
    --seconds "$seconds" >"$out/faults-resp.out" 2>"$out/faults-resp.err" &
fr_pid=$!
pids+=("$load_pid" "$fe_pid" "$fr_pid")
start=$(date +%s)
for ((t = 1; t <= seconds; t++)); do
    # Sleep to the next whole second of the run, however long sampling took.
    sleep "$(awk -v s="$start" -v t="$t" -v now="$(date +%s.%N)" \
        'BEGIN { d = s + t - now; print (d > 0 ? d : 0) }')"
    ask_status
    sample "$t" >>"$out/samples.tsv"
done
rc_load=0; wait "$load_pid" || rc_load=$?
rc_fe=0; wait "$fe_pid" || rc_fe=$?
rc_fr=0; wait "$fr_pid" || rc_fr=$?

# After the load: sampled on for 5 s, and until the servers are back to their baselines (at
# most 15 s: what the clients left must be closed by then).
after_echo_fds=; after_redis_fds=; after_echo_tasks=; after_redis_tasks=
for ((t = seconds + 1; t <= seconds + 15; t++)); do
    ask_status
    sleep 1
    sample "$t" >>"$out/samples.tsv"
    after_echo_fds=$(fd_count "$echo_pid"); after_redis_fds=$(fd_count "$redis_pid")
    after_echo_tasks=$(live_tasks "$out/echo_server.log")
    after_redis_tasks=$(live_tasks "$out/mini_redis.log")
    if [ "$t" -ge $((seconds + 5)) ] && [ "$after_echo_fds" = "$base_echo_fds" ] &&
        [ "$after_redis_fds" = "$base_redis_fds" ] &&
        [ "$after_echo_tasks" = "$base_echo_tasks" ] &&
        [ "$after_redis_tasks" = "$base_redis_tasks" ]; then
        break
    fi
done

# Clean shutdown: SIGTERM, exit 0 within 30 s.
kill -TERM "$echo_pid" "$redis_pid"
# stop PID VAR: waits up to 30 s for the server to exit (then kills it: "hung") and sets VAR to
# its exit status. Not in a subshell: only this shell can wait for its children.
stop() {
    local state=
    for _ in $(seq 300); do
        state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo gone)
        [ "$state" = Z ] || [ "$state" = gone ] && break # exited, not yet waited for
        sleep 0.1
    done
    local rc=0
    if [ "$state" != Z ] && [ "$state" != gone ]; then
        kill -9 "$1"
        wait "$1" || true
        rc=hung
    else
        wait "$1" || rc=$?
    fi
    printf -v "$2" '%s' "$rc"
}
stop "$echo_pid" echo_exit
stop "$redis_pid" redis_exit

exec 3>"$out/report.md"
. "$root/tests/soak/report.sh"
exec 3>&-
cat "$out/report.md"
if [ "${SOAK_PUBLISH:-0}" = 1 ]; then
    cp "$out/report.md" docs/soak.md
    cp "$out/soak.png" docs/soak.png
fi
[ "$failures" -eq 0 ]
