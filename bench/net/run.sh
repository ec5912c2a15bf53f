#!/usr/bin/env bash
# edo's TCP stack beside Tokio, Go and raw epoll and io_uring C servers, on
# loopback, every server driven by the same load generator (bench/net/loadgen.c)
# or by wrk.
#
#   bench/net/run.sh                       (or: make bench-net)
#   DURATION=2 RUNS=1 bench/net/run.sh     a quick check
#
# It builds what it needs (edo's release build with examples/echo_server and
# the bench/net programs, bench/tokio/build.sh, Go's server from bench/go with
# Debian's golang-go, and wrk: missing packages are installed with apt), then
# runs every benchmark RUNS times per server, the servers taking turns within
# each round (and each round starting with the next one), so that drift on a
# noisy machine hits them all alike. Each run starts its server afresh on a
# free port and kills it afterwards.
#
# Benchmarks (BENCHES selects some):
#   echo_cC_dD   loadgen: C connections, each keeping D 64-byte requests in
#                flight (D=1: request/response, D=16: pipelined), DURATION s
#   http_c50     wrk -t1 -c50 -d${DURATION}s against a minimal HTTP/1.1
#                keep-alive hello world (the same hand-written responder in
#                each runtime: bench/net/http.h)
#   idle_conn_memory  IDLE_CONNS connections, one round trip each, then idle;
#                edo's echo server runs in its three styles (examples/
#                echo_server.c): peer edo parks each connection in a read with
#                a 4 KiB stack buffer (as the others park theirs), edo-ready
#                in a readiness wait holding no buffer, edo-future as a future
#                task
#
# Output on stdout (progress, per-run numbers and build logs go to stderr);
# every number is the median over the RUNS runs:
#   bench=B peer=P rps=R p50_us=L p99_us=T cpu_us_per_req=U
#       rps: requests (echoes, HTTP responses) completed per second;
#       p50_us, p99_us: request latency percentiles in µs (loadgen: from the
#       write of a request to the last byte of its echo; wrk: its own);
#       cpu_us_per_req: the server's CPU time (user + system, all threads, from
#       /proc/PID/stat before and after the load, so it includes setting up
#       and closing the connections) divided by the requests completed;
#       user_us_per_req: its user part alone: the runtime's own code (and
#       libc's), without the kernel's TCP path, which is most of the cost.
#   bench=B ratio_cpu=X ratio_user=U ratio_rps=Y   edo against Tokio:
#       X = Tokio's cpu_us_per_req / edo's (above 1: edo spends less CPU),
#       U = the same for user_us_per_req,
#       Y = edo's rps / Tokio's (above 1: edo serves more);
#       each the median over the rounds of the two runs' ratio in that round
#       (runs of one round are seconds apart, so drift cancels out)
#   bench=B vs=go ratio_cpu=X ratio_rps=Y   the same against Go (and vs=epoll,
#       vs=uring, vs=uring2)
#   bench=B edo=edo-uring ratio_cpu=X ...    the same for edo on io_uring (peer
#       edo-uring: edo's servers with EDO_IO_BACKEND=uring), against Tokio (and
#       vs=go, vs=epoll, vs=uring, vs=uring2, and vs=edo: edo on io_uring against
#       edo on epoll)
#   bench=B edo=edo-uring vs=edo-uring-base ratio_cpu=X ...   with BASE set: the
#       same against another build of edo (peers edo-base, edo-uring-base)
#   bench=idle_conn_memory peer=P bytes_per_conn=M
#       growth of the server's VmRSS while it holds IDLE_CONNS idle
#       connections, per connection (kernel socket buffers are not in RSS)
#   bench=idle_conn_memory ratio=X          Tokio's bytes_per_conn / edo's
#                                           (and vs=go, vs=epoll, vs=uring...)
#   bench=idle_conn_memory style=S ratio=X  Tokio's / edo's in style S
#
# The load generator and the server share the machine: with WORKERS=1 (the
# default) each gets one of 2 cores (with PIN=1, the default, the server is
# pinned to CPU 0 and the load generator to CPU 1, which takes the
# scheduler's migrations out of the noise); WORKERS=2 gives each server two
# worker threads (oversubscribed on 2 cores). When the load generator is the
# bottleneck, rps ties and cpu_us_per_req is the number that tells servers
# apart.
#
# Environment:
#   RUNS=3            runs per (benchmark, server)
#   DURATION=5        seconds of load per run (SECONDS=N works too)
#   WORKERS=1         server worker threads (GOMAXPROCS for Go)
#   PEERS="edo edo-uring tokio go epoll uring"   servers to run (edo or
#                                edo-uring must be among them for the ratios;
#                                epoll and uring are the raw C servers,
#                                bench/net/epoll_echo.c and uring_echo.c, the
#                                floors for edo on each backend; edo-ready and
#                                edo-future, edo's other echo styles, may be
#                                added for echo; so may uring2, uring_echo
#                                --two-rings: its sends in a second ring)
#   BENCHES="echo_c50_d1 echo_c50_d16 echo_c500_d1 echo_c500_d16 http_c50
#            idle_conn_memory"
#   IDLE_CONNS=9000   idle connections (needs about that many fds on each side)
#   BASE=DIR          another build folder of edo (say main's build/release):
#                     its echo and HTTP servers run as the peers edo-base
#                     (epoll) and edo-uring-base (io_uring), for a before and
#                     after in one interleaved run (add them to PEERS)
#   PIN=1             pin server and load generator to CPUs 0 and 1 (WORKERS=1
#                     on a machine with at least 2 CPUs only)
#
# Exit status: 0 when every run succeeded, 1 otherwise (what ran is printed).
DURATION=${DURATION:-$SECONDS} # bash's SECONDS: a value from the environment, else ~0
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1 # the repo root

[ "$DURATION" -gt 0 ] 2>/dev/null || DURATION=5
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-1}
PEERS=${PEERS:-edo edo-uring tokio go epoll uring}
BENCHES=${BENCHES:-echo_c50_d1 echo_c50_d16 echo_c500_d1 echo_c500_d16 http_c50 idle_conn_memory}
IDLE_CONNS=${IDLE_CONNS:-9000}
PIN=${PIN:-1}
BASE=${BASE:-}
SERVER_CPU=() # taskset prefixes, set in main
LOAD_CPU=()

BIN=build/release/bench
TOKIO_DIR=""
CLK_TCK=$(getconf CLK_TCK)
LOG=$(mktemp) || exit 1 # the servers' stderr
OUT=$(mktemp) || exit 1 # the idle load generator's stdout
SERVER_PID=""
IDLE_PID=""
RES=""
status=0

warn() { echo "run.sh: $*" >&2; }

# shellcheck disable=SC2317 # (run from the trap)
cleanup() {
    [ -z "$IDLE_PID" ] || kill "$IDLE_PID" 2>/dev/null
    [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null
    rm -f "$LOG" "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through the EXIT trap

# apt_install PACKAGE...: installs Debian packages (as root, or through sudo).
apt_install() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    warn "installing $* with apt"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@" >&2
}

build() {
    if ! cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2 ||
        ! cmake --build build/release -j2 --target echo_server edo_http epoll_echo uring_echo loadgen >&2; then
        warn "edo build failed"
        exit 1
    fi
    local tokio_bench base
    for base in edo-base edo-uring-base; do
        if [[ " $PEERS " == *" $base "* ]] && ! [ -x "$BASE/examples/echo_server" ]; then
            warn "no $BASE/examples/echo_server (BASE): leaving $base out"
            drop_peer $base
        fi
    done
    if [[ " $PEERS " == *" tokio "* ]]; then
        if tokio_bench=$(bench/tokio/build.sh); then
            TOKIO_DIR=$(dirname "$tokio_bench")
        else
            warn "Tokio build failed; leaving Tokio out"
            drop_peer tokio
        fi
    fi
    if [[ " $PEERS " == *" go "* ]]; then
        command -v go >/dev/null || apt_install golang-go
        # Standard library only: no module proxy, no toolchain download.
        if ! (cd bench/go && GOCACHE="$PWD/../../build/go-cache" GOPROXY=off GOTOOLCHAIN=local \
            go build -o "../../$BIN/go-server" . >&2); then
            warn "Go build failed; leaving Go out"
            drop_peer go
        fi
    fi
    if [[ " $BENCHES " == *" http_"* ]] && ! command -v wrk >/dev/null; then
        apt_install wrk || { warn "no wrk; leaving out the HTTP benchmarks"; status=1; }
    fi
}

drop_peer() {
    PEERS=$(echo " $PEERS " | sed "s/ $1 / /")
    status=1
}

# server_cmd KIND PEER: the command line of PEER's server for KIND (echo, http).
server_cmd() {
    case $1/$2 in
    echo/edo) echo build/release/examples/echo_server ;;
    echo/edo-ready) echo build/release/examples/echo_server --style ready ;;
    echo/edo-future) echo build/release/examples/echo_server --style future ;;
    http/edo) echo "$BIN/edo_http" ;;
    echo/edo-uring) echo env EDO_IO_BACKEND=uring build/release/examples/echo_server ;;
    http/edo-uring) echo env EDO_IO_BACKEND=uring "$BIN/edo_http" ;;
    echo/edo-base) echo "$BASE/examples/echo_server" ;;
    http/edo-base) echo "$BASE/bench/edo_http" ;;
    echo/edo-uring-base) echo env EDO_IO_BACKEND=uring "$BASE/examples/echo_server" ;;
    http/edo-uring-base) echo env EDO_IO_BACKEND=uring "$BASE/bench/edo_http" ;;
    echo/tokio) echo "$TOKIO_DIR/tokio-echo" ;;
    http/tokio) echo "$TOKIO_DIR/tokio-http" ;;
    echo/go) echo "$BIN/go-server" ;;
    http/go) echo "$BIN/go-server --http" ;;
    echo/epoll) echo "$BIN/epoll_echo" ;;
    http/epoll) echo "$BIN/epoll_echo --http" ;;
    echo/uring) echo "$BIN/uring_echo" ;;
    http/uring) echo "$BIN/uring_echo --http" ;;
    echo/uring2) echo "$BIN/uring_echo --two-rings" ;;
    http/uring2) echo "$BIN/uring_echo --two-rings --http" ;;
    esac
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

# start_server KIND PEER: starts it on a free port (PORT) and waits until it
# listens. Returns 1 when it exits or does not listen within 10 s.
start_server() {
    local cmd i
    read -r -a cmd <<<"$(server_cmd "$1" "$2")"
    PORT=$(free_port)
    : >"$LOG"
    "${SERVER_CPU[@]}" "${cmd[@]}" --port "$PORT" --workers "$WORKERS" 2>"$LOG" &
    SERVER_PID=$!
    for ((i = 0; i < 200; i++)); do
        [ -n "$(ss -Hltn "sport = :$PORT")" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    warn "$2 $1 server did not start: $(tail -3 "$LOG")"
    stop_server
    return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

# cpu_ticks: the server's "user system" time so far, in clock ticks.
cpu_ticks() {
    local stat f
    stat=$(<"/proc/$SERVER_PID/stat") || return 1
    read -r -a f <<<"${stat##*) }" # fields from the 3rd (state) on
    echo "${f[11]} ${f[12]}"       # utime (14th), stime (15th)
}

# field KEY LINE: KEY's value in a "key=value ..." LINE.
field() { [[ " $2 " =~ \ $1=([^ ]+)\  ]] && echo "${BASH_REMATCH[1]}"; }

# wrk_us VALUE: wrk's "123.45us" / "1.20ms" / "1.01s" in µs.
wrk_us() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        printf "%.1f", n * (u == "s" ? 1e6 : u == "ms" ? 1e3 : 1) }'
}

# per_req "USER0 SYS0" "USER1 SYS1" REQUESTS: "cpu_us_per_req=.. user_us_per_req=..".
per_req() {
    echo "$1 $2" | awk -v n="$3" -v hz="$CLK_TCK" '{
        printf "cpu_us_per_req=%.3f user_us_per_req=%.3f", ($3 + $4 - $1 - $2) / hz * 1e6 / n,
            ($3 - $1) / hz * 1e6 / n }'
}

# load_echo C D: runs loadgen against PORT; prints "rps=.. p50_us=.. p99_us=.. requests=..".
load_echo() {
    local line
    line=$(timeout $((DURATION + 60)) "${LOAD_CPU[@]}" "$BIN/loadgen" --port "$PORT" --connections "$1" \
        --depth "$2" --seconds "$DURATION" --size 64) || return 1
    echo "rps=$(field rps "$line") p50_us=$(field p50_us "$line") p99_us=$(field p99_us "$line") requests=$(field requests "$line")"
}

# load_http C: runs wrk against PORT; prints the same fields as load_echo.
load_http() {
    local out reqs
    out=$(timeout $((DURATION + 60)) "${LOAD_CPU[@]}" wrk -t1 -c"$1" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/") || return 1
    if [[ $out == *"Non-2xx"* || $out == *"Socket errors"* ]]; then
        warn "wrk reported errors: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
        return 1
    fi
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    echo "rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")" \
        "p50_us=$(wrk_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "p99_us=$(wrk_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
        "requests=$reqs"
}

# run_load BENCH PEER: one run of a load benchmark; sets RES to its fields.
# (Not in a subshell: SERVER_PID must stay visible to the EXIT trap.)
run_load() {
    local bench=$1 peer=$2 kind=echo c d t0 t1 res
    if [[ $bench =~ ^echo_c([0-9]+)_d([0-9]+)$ ]]; then
        c=${BASH_REMATCH[1]} d=${BASH_REMATCH[2]}
    elif [[ $bench =~ ^http_c([0-9]+)$ ]]; then
        kind=http c=${BASH_REMATCH[1]}
    else
        warn "unknown benchmark $bench"
        return 1
    fi
    start_server "$kind" "$peer" || return 1
    t0=$(cpu_ticks)
    if [ $kind = echo ]; then res=$(load_echo "$c" "$d"); else res=$(load_http "$c"); fi
    local rc=$?
    t1=$(cpu_ticks)
    if [ $rc -ne 0 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
        warn "$peer $bench failed (load exit $rc); server said: $(tail -3 "$LOG")"
        stop_server
        return 1
    fi
    stop_server
    RES="$res $(per_req "$t0" "$t1" "$(field requests "$res")")"
}

# run_idle PEER: one run of idle_conn_memory; sets RES to "bytes_per_conn=B".
run_idle() {
    local peer=$1 rss0 rss1 i
    start_server echo "$peer" || return 1
    sleep 0.2
    rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
    : >"$OUT"
    "${LOAD_CPU[@]}" "$BIN/loadgen" --port "$PORT" --idle "$IDLE_CONNS" >"$OUT" &
    IDLE_PID=$!
    for ((i = 0; i < 1200; i++)); do # 60 s
        grep -q '^idle=' "$OUT" && break
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.05
    done
    sleep 0.5 # let the server settle
    rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
    kill "$IDLE_PID" 2>/dev/null
    wait "$IDLE_PID"
    local rc=$?
    IDLE_PID=""
    stop_server
    if ! grep -q "^idle=$IDLE_CONNS\$" "$OUT" || [ $rc -ne 0 ] || [ -z "$rss1" ]; then
        warn "$peer idle_conn_memory failed (loadgen exit $rc)"
        return 1
    fi
    RES="bytes_per_conn=$(((rss1 - rss0) * 1024 / IDLE_CONNS))"
}

# run_one BENCH PEER: one run of BENCH against PEER's server; sets RES.
run_one() {
    if [ "$1" = idle_conn_memory ]; then run_idle "$2"; else run_load "$1" "$2"; fi
}

# median V...: the middle value (the mean of the two middle ones for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RESULTS # [bench/peer] = one "fields" line per run

# med BENCH PEER KEY: the median of KEY over the runs of PEER in BENCH.
med() {
    local line vals=()
    while IFS= read -r line; do
        [ -n "$line" ] && vals+=("$(field "$3" "$line")")
    done <<<"${RESULTS[$1/$2]:-}"
    median "${vals[@]}"
}

# ratio NUM DEN: NUM / DEN with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

# paired BENCH MINE OTHER KEY INVERT: the median over the rounds in which both MINE (edo or
# edo-uring) and OTHER ran of MINE's KEY / OTHER's (OTHER's / MINE's when INVERT is 1, for
# costs).
paired() {
    local line run a b vals=()
    declare -A mine=()
    while IFS= read -r line; do
        [ -n "$line" ] && mine[$(field run "$line")]=$(field "$4" "$line")
    done <<<"${RESULTS[$1/$2]:-}"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        run=$(field run "$line")
        [ -n "${mine[$run]:-}" ] || continue
        a=${mine[$run]} b=$(field "$4" "$line")
        if [ "$5" = 1 ]; then vals+=("$(ratio "$b" "$a")"); else vals+=("$(ratio "$a" "$b")"); fi
    done <<<"${RESULTS[$1/$3]:-}"
    printf '%.2f' "$(median "${vals[@]}")"
}

report() {
    local bench=$1 peer other
    local -a peers
    read -r -a peers <<<"$PEERS"
    [[ " $PEERS " == *" edo-ready "* ]] || peers+=(edo-ready) # measured for idle memory
    [[ " $PEERS " == *" edo-future "* ]] || peers+=(edo-future)
    for peer in "${peers[@]}"; do
        [ -n "${RESULTS[$bench/$peer]:-}" ] || continue
        if [ "$bench" = idle_conn_memory ]; then
            printf 'bench=%s peer=%s bytes_per_conn=%.0f\n' "$bench" "$peer" "$(med "$bench" "$peer" bytes_per_conn)"
        else
            printf 'bench=%s peer=%s rps=%.0f p50_us=%.1f p99_us=%.1f cpu_us_per_req=%.3f user_us_per_req=%.3f\n' \
                "$bench" "$peer" "$(med "$bench" "$peer" rps)" "$(med "$bench" "$peer" p50_us)" \
                "$(med "$bench" "$peer" p99_us)" "$(med "$bench" "$peer" cpu_us_per_req)" \
                "$(med "$bench" "$peer" user_us_per_req)"
        fi
    done
    [ -n "${RESULTS[$bench/edo]:-}" ] && ratios "$bench" edo
    [ -n "${RESULTS[$bench/edo-uring]:-}" ] && ratios "$bench" edo-uring
    return 0
}

# ratios BENCH MINE: MINE's (edo's or edo-uring's) ratios against the other servers.
ratios() {
    local bench=$1 mine=$2 other tag=""
    [ "$mine" = edo ] || tag=" edo=$mine"
    for other in tokio go epoll uring uring2 edo edo-base edo-uring-base; do
        [ "$other" != "$mine" ] && [ -n "${RESULTS[$bench/$other]:-}" ] || continue
        local vs="$tag"
        [ $other = tokio ] || vs="$tag vs=$other"
        if [ "$bench" = idle_conn_memory ]; then
            echo "bench=$bench$vs ratio=$(ratio "$(med "$bench" $other bytes_per_conn)" "$(med "$bench" "$mine" bytes_per_conn)")"
            [ "$mine" = edo ] || continue
            local style
            for style in ready future; do
                [ -n "${RESULTS[$bench/edo-$style]:-}" ] || continue
                echo "bench=$bench$vs style=$style ratio=$(ratio "$(med "$bench" $other bytes_per_conn)" \
                    "$(med "$bench" "edo-$style" bytes_per_conn)")"
            done
        else
            echo "bench=$bench$vs ratio_cpu=$(paired "$bench" "$mine" $other cpu_us_per_req 1)" \
                "ratio_user=$(paired "$bench" "$mine" $other user_us_per_req 1)" \
                "ratio_rps=$(paired "$bench" "$mine" $other rps 0)"
        fi
    done
}

main() {
    if ! [[ $RUNS =~ ^[1-9][0-9]*$ && $WORKERS =~ ^[1-9][0-9]*$ && $IDLE_CONNS =~ ^[1-9][0-9]*$ ]]; then
        warn "RUNS, WORKERS and IDLE_CONNS must be positive integers"
        exit 1
    fi
    # The idle benchmark holds IDLE_CONNS fds in the load generator and as many in the server.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null
    if [[ " $BENCHES " == *" idle_conn_memory "* ]] && [ "$(ulimit -n)" != unlimited ] &&
        [ "$(ulimit -n)" -lt $((IDLE_CONNS + 100)) ]; then
        IDLE_CONNS=$(($(ulimit -n) - 100))
        warn "ulimit -n is $(ulimit -n): $IDLE_CONNS idle connections"
    fi
    if [ "$PIN" = 1 ] && [ "$WORKERS" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        SERVER_CPU=(taskset -c 0)
        LOAD_CPU=(taskset -c 1)
    fi
    build
    local -a peers benches
    read -r -a peers <<<"$PEERS"
    read -r -a benches <<<"$BENCHES"
    warn "peers: ${peers[*]}; $RUNS runs of ${DURATION} s, $WORKERS server workers"
    local bench run k peer n
    for bench in "${benches[@]}"; do
        [[ $bench != http_* ]] || command -v wrk >/dev/null || continue
        read -r -a peers <<<"$PEERS"
        if [ "$bench" = idle_conn_memory ] && [[ " $PEERS " == *" edo "* ]]; then
            peers+=(edo-ready edo-future) # the idle-friendly styles of edo's server
        fi
        n=${#peers[@]}
        for ((run = 0; run < RUNS; run++)); do
            for ((k = 0; k < n; k++)); do
                peer=${peers[(run + k) % n]} # each round starts with the next server
                RES=""
                if ! run_one "$bench" "$peer" || [ -z "$RES" ]; then
                    status=1
                    continue
                fi
                warn "$bench $peer run $((run + 1)): $RES"
                RESULTS[$bench/$peer]+="run=$run $RES"$'\n'
            done
        done
        report "$bench"
    done
    exit $status
}

main
