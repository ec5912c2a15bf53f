#!/usr/bin/env bash
# mini_redis driven by the real redis-cli and redis-benchmark (Debian's redis-tools).
#
#   run.sh CASE PATH/TO/mini_redis
#
# Starts mini_redis on a free port with two workers, runs one case against it, stops it. The
# tools are installed with apt when missing; where there is no apt the case is skipped with a
# loud message (exit 0 would hide it: ctest shows the message with --output-on-failure, and
# the script exits 77, which examples/CMakeLists.txt marks as "skipped").
set -euo pipefail
case_name=$1
server_bin=$2

if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if command -v apt-get >/dev/null; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
        apt-get -o DPkg::Lock::Timeout=300 install -y -qq redis-tools >/dev/null
    else
        echo "!!!!! SKIPPED: redis-cli/redis-benchmark missing and no apt-get to install them !!!!!"
        exit 77
    fi
fi

log=$(mktemp)
pid=
cleanup() {
    local rc=$?
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$log"
    exit "$rc"
}
trap cleanup EXIT

# A free port: bind fails (and we try another) when it is taken.
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 20000))
    "$server_bin" --port "$port" --workers 2 2>"$log" &
    pid=$!
    for _ in $(seq 200); do
        if grep -q "ready on" "$log"; then break 2; fi
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
    pid=
done
[ -n "$pid" ] || { echo "mini_redis did not start:"; cat "$log"; exit 1; }

cli() { redis-cli -p "$port" "$@"; }
# expect WANT CMD...: the command's output (redis-cli's plain text) must be WANT.
expect() {
    local want=$1
    shift
    local got
    got=$("$@" 2>&1)
    if [ "$got" != "$want" ]; then
        printf 'FAILED: %s\n  want: %q\n  got:  %q\n' "$*" "$want" "$got"
        exit 1
    fi
}
# expect_ttl SECONDS KEY: the key's TTL is SECONDS, or a second less (time passes between two
# redis-cli runs, seconds on a loaded machine).
expect_ttl() {
    local got
    got=$(cli ttl "$2")
    if [ "$got" != "$1" ] && [ "$got" != "$(($1 - 1))" ]; then
        printf 'FAILED: ttl %s: want %s, got %q\n' "$2" "$1" "$got"
        exit 1
    fi
}
# raw BYTES: sends BYTES on a new connection and prints what comes back until the server
# closes it (or 5 s pass), then a '|' (so $(raw ...) keeps the last CRLF).
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '%b' "$1" >&3
    timeout 5 cat <&3 || true
    exec 3>&-
    printf '|'
}

case $case_name in
ping_echo)
    expect PONG cli ping
    expect hello cli ping hello
    expect "hello world" cli echo "hello world"
    expect "ERR wrong number of arguments for 'echo' command" cli echo
    expect "ERR unknown command 'nosuch'" cli nosuch a b
    ;;
get_set)
    expect "" cli get missing
    expect OK cli set k v1
    expect v1 cli get k
    expect OK cli set k "a value with spaces"
    expect "a value with spaces" cli get k
    # A 1 MiB value (redis-cli -x: the last argument from stdin).
    head -c 1048576 /dev/zero | tr '\0' x | cli -x set big >/dev/null
    [ "$(cli get big | wc -c)" -eq 1048577 ] || { echo "FAILED: 1 MiB value"; exit 1; }
    ;;
set_options)
    expect OK cli set k v
    expect "" cli set k w nx
    expect v cli get k
    expect OK cli set k w xx
    expect w cli get k
    expect "" cli set other v xx
    expect 0 cli exists other
    expect OK cli set k v ex 100
    expect_ttl 100 k
    expect OK cli set k v px 50000
    expect_ttl 50 k
    expect OK cli set k v2 keepttl
    expect_ttl 50 k
    expect "ERR syntax error" cli set k v ex 10 px 10
    expect "ERR syntax error" cli set k v nx xx
    expect "ERR invalid expire time in 'set' command" cli set k v ex 0
    expect "ERR value is not an integer or out of range" cli set k v ex ten
    ;;
del_exists)
    cli mset a 1 b 2 c 3 >/dev/null
    expect 3 cli exists a b c
    expect 2 cli exists a a
    expect 2 cli del a b nosuch
    expect 1 cli exists a b c
    expect 0 cli del a
    ;;
incr_decr)
    expect 1 cli incr n
    expect 2 cli incr n
    expect 1 cli decr n
    expect 11 cli incrby n 10
    expect 8 cli decrby n 3
    expect OK cli set s abc
    expect "ERR value is not an integer or out of range" cli incr s
    expect OK cli set big 9223372036854775807
    expect "ERR increment or decrement would overflow" cli incr big
    expect -1 cli decr fresh
    ;;
expire_ttl)
    expect -2 cli ttl nosuch
    expect OK cli set k v
    expect -1 cli ttl k
    expect 1 cli expire k 100
    expect_ttl 100 k
    expect 0 cli expire nosuch 100
    expect 1 cli pexpire k 1
    # Expired keys vanish: asked for (lazily), or swept. No sleep past what the TTL needs.
    for _ in $(seq 1000); do [ "$(cli exists k)" = 0 ] && break; sleep 0.01; done
    expect 0 cli exists k
    expect -2 cli ttl k
    expect OK cli set gone v px 1
    for _ in $(seq 1000); do [ "$(cli exists gone)" = 0 ] && break; sleep 0.01; done
    expect "" cli get gone
    expect 0 cli expire k2 0 # a missing key
    ;;
mget_mset)
    expect OK cli mset a 1 b 2
    expect "$(printf '1\n2\n\n')" cli mget a b nosuch
    expect "ERR wrong number of arguments for 'mset' command" cli mset a 1 b
    ;;
pipelining)
    # 10,000 commands in one go (redis-cli --pipe writes them all, then reads the replies).
    for i in $(seq 10000); do printf 'SET key:%d %d\r\n' "$i" "$i"; done |
        cli --pipe >"$log.pipe" 2>&1
    grep -q "errors: 0, replies: 10000" "$log.pipe" || { cat "$log.pipe"; exit 1; }
    expect 9999 cli get key:9999
    # Inline and multibulk requests pipelined in one write: every reply comes, in order.
    got=$(raw 'PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*2\r\n$3\r\nGET\r\n$7\r\nkey:100\r\nQUIT\r\n')
    want=$'+PONG\r\n$2\r\nhi\r\n$3\r\n100\r\n+OK\r\n|'
    [ "$got" = "$want" ] || { printf 'FAILED pipelined: %q\n' "$got"; exit 1; }
    rm -f "$log.pipe"
    ;;
pubsub)
    # Two subscribers on one channel, one on another; messages in order to each.
    out1=$(mktemp) out2=$(mktemp)
    cli subscribe news >"$out1" & s1=$!
    cli subscribe news sport >"$out2" & s2=$!
    for _ in $(seq 1000); do # up to 20 s on a loaded machine
        [ "$(cli publish news probe)" = 2 ] && break
        sleep 0.02
    done
    expect 2 cli publish news first
    expect 1 cli publish sport goal
    expect 2 cli publish news second
    expect 0 cli publish nobody x
    # Each subscriber has seen the last message: then stop them.
    for _ in $(seq 1000); do
        grep -q second "$out1" && grep -q second "$out2" && break
        sleep 0.02
    done
    kill "$s1" "$s2"; wait "$s1" "$s2" 2>/dev/null || true
    sed -n '/^first$/,$p' "$out1" | tr '\n' ' ' | grep -q "^first message news second" ||
        { echo "FAILED: subscriber 1 saw:"; cat "$out1"; exit 1; }
    grep -q goal "$out2" && sed -n '/^first$/,$p' "$out2" | grep -q second ||
        { echo "FAILED: subscriber 2 saw:"; cat "$out2"; exit 1; }
    rm -f "$out1" "$out2"
    # Subscribed mode: only (un)subscribe, ping and quit; unsubscribing everything leaves it.
    got=$(raw 'SUBSCRIBE a b\r\nGET x\r\nPING\r\nUNSUBSCRIBE\r\nGET x\r\nQUIT\r\n')
    want=$'*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n'
    want+=$'-ERR Can\'t execute \'get\': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n'
    want+=$'*2\r\n$4\r\npong\r\n$0\r\n\r\n'
    want+=$'*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n'
    want+=$'$-1\r\n+OK\r\n|'
    [ "$got" = "$want" ] || { printf 'FAILED subscribed mode:\n%q\n%q\n' "$got" "$want"; exit 1; }
    ;;
malformed)
    # A request that is RESP but not a command: -ERR, and the connection goes on.
    got=$(raw '*1\r\n:1\r\nPING\r\n*0\r\n*2\r\n$4\r\nECHO\r\n+x\r\nPING\r\nQUIT\r\n')
    want=$'-ERR Protocol error: expected an array of bulk strings\r\n+PONG\r\n'
    want+=$'-ERR Protocol error: expected an array of bulk strings\r\n+PONG\r\n+OK\r\n|'
    [ "$got" = "$want" ] || { printf 'FAILED recoverable: %q\n' "$got"; exit 1; }
    # A 1 GiB bulk header: refused at once (no 1 GiB is waited for), and the connection closes.
    got=$(raw 'PING\r\n*2\r\n$3\r\nGET\r\n$1073741824\r\n')
    [ "$got" = $'+PONG\r\n-ERR Protocol error: invalid bulk length\r\n|' ] ||
        { printf 'FAILED 1 GiB bulk: %q\n' "$got"; exit 1; }
    got=$(raw '*1\r\n$abc\r\n')
    [ "$got" = $'-ERR Protocol error: invalid bulk length\r\n|' ] ||
        { printf 'FAILED bad bulk length: %q\n' "$got"; exit 1; }
    got=$(raw 'SET k "unbalanced\r\n')
    [ "$got" = $'-ERR Protocol error: unbalanced quotes in request\r\n|' ] ||
        { printf 'FAILED unbalanced quotes: %q\n' "$got"; exit 1; }
    # The server is still up for everyone else.
    expect PONG cli ping
    ;;
quit)
    got=$(raw 'QUIT\r\nPING\r\n')
    [ "$got" = $'+OK\r\n|' ] || { printf 'FAILED quit: %q\n' "$got"; exit 1; }
    ;;
benchmark)
    # redis-benchmark's own check: every request answered (-q prints requests per second).
    out=$(redis-benchmark -p "$port" -t set,get,incr,mset -n 20000 -c 20 -P 8 -q 2>&1)
    echo "$out"
    [ "$(echo "$out" | grep -c "requests per second")" -eq 4 ] || { echo FAILED; exit 1; }
    expect PONG cli ping
    ;;
shutdown)
    # SIGUSR1: a status line. SIGTERM with a subscriber and an idle client connected: both are
    # closed, everything is freed (an ASan build's LeakSanitizer checks it), and it exits 0.
    redis-cli -p "$port" subscribe news >/dev/null &
    sub=$!
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    expect OK cli set k v   # a key to count
    kill -USR1 "$pid"
    for _ in $(seq 200); do grep -q "status" "$log" && break; sleep 0.05; done
    grep -q "status live_tasks=[0-9]* connections=[0-9]* keys=1" "$log" ||
        { echo "FAILED: no status line:"; cat "$log"; exit 1; }
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=
    exec 3>&-
    wait "$sub" 2>/dev/null || true
    [ "$rc" -eq 0 ] && grep -q "mini_redis: stopped" "$log" ||
        { echo "FAILED: exit status $rc after SIGTERM:"; cat "$log"; exit 1; }
    ;;
*)
    echo "no such case: $case_name"
    exit 1
    ;;
esac
# A sanitizer build's server reports what it found on stderr as it runs.
if grep -q "Sanitizer" "$log"; then
    echo "FAILED: the server's sanitizer reported:"
    cat "$log"
    exit 1
fi
echo "ok: $case_name"
