# The soak's verdict, plot and report: sourced by tests/soak.sh once the servers have stopped,
# with its variables set (out, seconds, asan, the pids' exit statuses, the baselines and the
# counts after the load). Writes the report in Markdown to fd 3, the plot to $out/soak.png,
# and sets `failures` to the number of criteria that failed.

failures=0
verdicts=()
# judge NAME OK DETAIL: one criterion's line in the report.
judge() {
    if [ "$2" = 1 ]; then
        verdicts+=("| $1 | pass | $3 |")
    else
        verdicts+=("| $1 | **FAIL** | $3 |")
        failures=$((failures + 1))
    fi
}
# field FILE NAME: NAME=value from the last line of FILE that has it.
field() { grep -o "\b$2=[0-9.]*" "$1" | tail -1 | cut -d= -f2; }

# ---- bytes: every checked byte right, no connection failing ----
fe_total=$(grep '^total' "$out/faults-echo.out" || true)
fr_total=$(grep '^total' "$out/faults-resp.out" || true)
bad=0
for f in faults-echo faults-resp; do
    for k in lost corrupt errors; do
        v=$(field "$out/$f.out" "$k")
        [ "${v:-x}" = 0 ] || bad=1
    done
done
[ "$rc_load" = 0 ] && [ "$rc_fe" = 0 ] && [ "$rc_fr" = 0 ] || bad=1
load_requests=$(field "$out/loadgen.out" requests)
judge bytes $((1 - bad)) "loadgen: ${load_requests:-?} echo requests checked (exit $rc_load); \
faults echo: $(field "$out/faults-echo.out" bytes) bytes checked, \
lost $(field "$out/faults-echo.out" lost), corrupt $(field "$out/faults-echo.out" corrupt), \
connect errors $(field "$out/faults-echo.out" errors) (exit $rc_fe); \
faults resp: $(field "$out/faults-resp.out" bytes) reply bytes checked, \
lost $(field "$out/faults-resp.out" lost), corrupt $(field "$out/faults-resp.out" corrupt), \
connect errors $(field "$out/faults-resp.out" errors) (exit $rc_fr)"

# ---- fds and tasks back to their baselines ----
ok=0
[ "$after_echo_fds" = "$base_echo_fds" ] && [ "$after_redis_fds" = "$base_redis_fds" ] && ok=1
judge fds $ok "echo_server $base_echo_fds before, $after_echo_fds after; \
mini_redis $base_redis_fds before, $after_redis_fds after"
ok=0
[ "$after_echo_tasks" = "$base_echo_tasks" ] && [ "$after_redis_tasks" = "$base_redis_tasks" ] &&
    ok=1
judge tasks $ok "echo_server $base_echo_tasks before, $after_echo_tasks after; \
mini_redis $base_redis_tasks before, $after_redis_tasks after"

# ---- RSS flat over the second half ----
# slope COLUMN: "slope_kib_per_s mean_kib growth_kib limit_kib" over the second half's samples.
slope() {
    awk -v col="$1" -v from="$((seconds / 2))" -v to="$seconds" 'NR > 1 && $1 > from && $1 <= to {
            n++; x = $1; y = $col; sx += x; sy += y; sxx += x * x; sxy += x * y
            if (n == 1) x0 = x; x1 = x
        } END {
            if (n < 2) { print "0 0 0 0"; exit }
            b = (n * sxy - sx * sy) / (n * sxx - sx * sx); mean = sy / n
            growth = b * (x1 - x0); limit = mean * 0.05 > 1024 ? mean * 0.05 : 1024
            printf "%.3f %.0f %.0f %.0f\n", b, mean, growth, limit
        }' "$out/samples.tsv"
}
read -r echo_slope echo_mean echo_growth echo_limit < <(slope 2)
read -r redis_slope redis_mean redis_growth redis_limit < <(slope 5)
ok=0
awk -v a="$echo_growth" -v b="$echo_limit" -v c="$redis_growth" -v d="$redis_limit" \
    'BEGIN { exit !(a < b && c < d) }' && ok=1
judge rss $ok "second half: echo_server mean ${echo_mean} KiB, slope ${echo_slope} KiB/s \
(${echo_growth} KiB over the half, limit ${echo_limit}); mini_redis mean ${redis_mean} KiB, \
slope ${redis_slope} KiB/s (${redis_growth} KiB, limit ${redis_limit})"

# ---- the servers' logs: nothing but the expected lines ----
known='listening on|ready on|status live_tasks|shutting down|done \(|stopped'
unexpected=$(cat "$out/echo_server.log" "$out/mini_redis.log" | grep -Ev "$known" || true)
ok=0
[ -z "$unexpected" ] && ok=1
judge log $ok "$(printf '%s' "$unexpected" | wc -l) unexpected lines on the servers' stderr"

# ---- clean shutdown ----
ok=0
[ "$echo_exit" = 0 ] && [ "$redis_exit" = 0 ] && ok=1
judge shutdown $ok "SIGTERM: echo_server exit $echo_exit, mini_redis exit $redis_exit\
$([ "$asan" = 1 ] && echo ' (AddressSanitizer builds: LeakSanitizer reports none)')"

# ---- throughput per second, and the plot ----
awk 'FNR == 1 { file++ }
     file == 1 && /^progress/ { split($2, t, "="); split($3, r, "="); load[t[2]] = r[2] }
     file == 2 && /^second=/ { split($1, t, "="); split($2, r, "="); fe[t[2]] = r[2] }
     file == 3 && /^second=/ { split($1, t, "="); split($2, r, "="); fr[t[2]] = r[2] }
     END { print "second\tloadgen_rps\tfaults_echo_rounds\tfaults_resp_rounds"
           for (s = 1; s in load || s in fe || s in fr; s++)
               printf "%d\t%d\t%d\t%d\n", s, load[s], fe[s], fr[s] }' \
    "$out/loadgen.err" "$out/faults-echo.out" "$out/faults-resp.out" >"$out/throughput.tsv"
mean_col() { awk -v c="$1" 'NR > 1 { s += $c; n++ } END { printf "%.0f", n ? s / n : 0 }' "$2"; }

gnuplot <<EOF
set terminal pngcairo size 1000,1100 font ",10" noenhanced
set output "$out/soak.png"
set multiplot layout 4,1 title "edo soak: ${seconds} s of load and faults (dashed line: the load stops), then idle"
set grid
set key inside top left horizontal
set lmargin 10
set rmargin 10
set xrange [0:*]
set autoscale xfix
set arrow from ${seconds}, graph 0 to ${seconds}, graph 1 nohead dashtype 2
set ylabel "RSS (MiB)"
plot "$out/samples.tsv" using 1:(\$2/1024) skip 1 with lines title "echo_server", \
     "" using 1:(\$5/1024) skip 1 with lines title "mini_redis"
set ylabel "open fds"
plot "$out/samples.tsv" using 1:3 skip 1 with lines title "echo_server", \
     "" using 1:6 skip 1 with lines title "mini_redis"
set ylabel "live tasks"
plot "$out/samples.tsv" using 1:4 skip 1 with lines title "echo_server", \
     "" using 1:7 skip 1 with lines title "mini_redis"
set ylabel "loadgen requests/s"
set y2label "faults rounds/s"
set ytics nomirror
set y2tics
set xlabel "seconds"
plot "$out/throughput.tsv" using 1:2 skip 1 with lines title "loadgen echo requests", \
     "" using 1:3 skip 1 axes x1y2 with lines title "faults echo rounds", \
     "" using 1:4 skip 1 axes x1y2 with lines title "faults resp rounds"
unset multiplot
EOF

# ---- the report ----
max_col() { awk -v c="$1" 'NR > 1 && $c > m { m = $c } END { print m + 0 }' "$out/samples.tsv"; }
{
    echo "# Soak report"
    echo
    echo "The last run of \`tests/soak.sh\` (issue 17): examples/echo_server and"
    echo "examples/mini_redis under load and injected faults, sampled every second. Regenerate with"
    echo
    echo '```'
    echo "SOAK_SECONDS=$seconds SOAK_ASAN=$asan SOAK_PUBLISH=1 tests/soak.sh"
    echo '```'
    echo
    echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
    echo "  Linux $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "  The machine is shared: throughput figures were measured on a loaded machine and say"
    echo "  nothing about edo's speed; the correctness figures are what this run is for."
    echo "- servers: $([ "$asan" = 1 ] && echo 'AddressSanitizer' || echo 'release') builds, 2 workers each"
    echo "- load: loadgen on echo_server (16 connections x 4 requests of 512 bytes in flight);"
    echo "  tests/soak/faults on each server (32 connection slots, sessions with resets,"
    echo "  half-closes, slow readers, stalled writers, 10% aborted mid-request)"
    echo
    echo "## Verdict: $([ "$failures" -eq 0 ] && echo PASS || echo "FAIL ($failures criteria)")"
    echo
    echo "| criterion | result | figures |"
    echo "|---|---|---|"
    printf '%s\n' "${verdicts[@]}"
    echo
    echo "RSS criterion: the least-squares slope of RSS over the second half of the run, times"
    echo "the half's length, must stay below max(1 MiB, 5% of the half's mean RSS)."
    echo
    echo "## Figures"
    echo
    echo "| | echo_server | mini_redis |"
    echo "|---|---|---|"
    echo "| peak RSS (KiB) | $(max_col 2) | $(max_col 5) |"
    echo "| peak open fds | $(max_col 3) | $(max_col 6) |"
    echo "| peak live tasks | $(max_col 4) | $(max_col 7) |"
    echo
    echo "- loadgen (echo): $(cat "$out/loadgen.out")"
    echo "- faults echo: ${fe_total:-none}"
    echo "- faults resp: ${fr_total:-none}"
    echo "- mean per second: loadgen $(mean_col 2 "$out/throughput.tsv") echo requests, faults"
    echo "  $(mean_col 3 "$out/throughput.tsv") echo rounds and $(mean_col 4 "$out/throughput.tsv") resp rounds"
    echo
    echo "![RSS, open fds, live tasks and throughput over time](soak.png)"
    if [ -n "$unexpected" ]; then
        echo
        echo "## Unexpected server output"
        echo
        echo '```'
        printf '%s\n' "$unexpected" | head -40
        echo '```'
    fi
} >&3
