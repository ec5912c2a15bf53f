#!/usr/bin/env bash
# Model-checks the run queues (src/core/queue.pml) and the task state word
# (src/core/task_state.pml) with spin (docs/models.md). Each model must pass, and each of its
# broken variants (-DBROKEN_..., one transition flipped) must give a counterexample: a model
# that cannot fail proves nothing. Bounded: every verifier run has a memory limit and a
# timeout; a real model that runs out of either fails, as does a broken variant that is not
# caught in time. Work and the counterexamples' trails go to build/models/<run>/; replay one
# with `cd build/models/<run> && spin -t -p <defines> ../../../src/core/<model>.pml`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v spin >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq spin
fi
command -v gcc >/dev/null || { echo "models: gcc is needed to build the verifiers" >&2; exit 1; }

out=build/models
mkdir -p "$out"
MODELS_TIMEOUT=${MODELS_TIMEOUT:-600} # seconds for any one verifier run
failed=0

# verify NAME MODEL EXPECT "SPIN DEFINES" "PAN CFLAGS" "PAN ARGS"
# EXPECT: pass (no error, search complete unless bitstate) or fail (a counterexample).
verify() {
    local name=$1 model=$2 expect=$3 defines=$4 cflags=$5 args=$6
    local dir="$out/$name"
    rm -rf "$dir" && mkdir -p "$dir"
    # shellcheck disable=SC2086 # the defines and flags are word lists
    (cd "$dir" && spin $defines -a "../../../src/core/$model.pml" >spin.log 2>&1 &&
        gcc -O2 -w -DSAFETY -DMEMLIM=2048 $cflags -o pan pan.c >>spin.log 2>&1) || {
        echo "models: $name: spin or gcc failed:" >&2
        cat "$dir/spin.log" >&2
        failed=1
        return
    }
    local rc=0 start=$SECONDS
    # shellcheck disable=SC2086
    (cd "$dir" && timeout "$MODELS_TIMEOUT" ./pan -m1000000 $args >pan.log 2>&1) || rc=$?
    local secs=$((SECONDS - start))
    local errors states
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | tail -1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.log" | tail -1)
    local verdict
    if [ "$rc" -eq 124 ]; then
        verdict="timed out after ${MODELS_TIMEOUT}s"
    elif [ -z "$errors" ]; then
        verdict="no verdict (exit $rc)"
    elif [ "$errors" -gt 0 ]; then
        verdict="counterexample: $(grep -m1 -E 'violated|invalid end state|acceptance cycle' "$dir/pan.log" || echo "errors: $errors")"
    elif grep -q -E 'max search depth too small|out of memory' "$dir/pan.log"; then
        verdict="incomplete search"
    else
        verdict="pass"
    fi
    printf '%-44s %-6s %12s states %5ss  %s\n' "$name" "$expect" "${states:-?}" "$secs" "$verdict"
    case "$expect:$verdict" in
    pass:pass | fail:counterexample*) ;;
    *)
        echo "models: $name: expected $expect, got: $verdict ($dir/pan.log)" >&2
        failed=1
        ;;
    esac
}

echo "== spin: the real models (must pass) =="
# The run queues: 2 workers, 1 remote thread, 3 tasks; exhaustive.
verify queue queue pass "" "-DCOLLAPSE" ""
# The state word with one task and every actor around it (2 workers, the remote waker thread,
# the handle): exhaustive.
verify task_state.nt1 task_state pass "-DNT=1" "-DCOLLAPSE" ""
# Three tasks waking each other: too many states to store them all, so a bitstate search
# (2^25 bits; a hash collision can skip a state, never report a false error).
verify task_state.nt3 task_state pass "-DNT=3" "-DBITSTATE" "-w25"

echo "== spin: the broken variants (each must give a counterexample) =="
for b in STEAL_RELEASE_FIRST POP_STORE PUSH_TAIL_FIRST; do
    verify "queue.broken.$b" queue fail "-DBROKEN_$b" "-DCOLLAPSE" ""
done
for b in WAKE_RUNNING_NO_NOTIFY POLL_END_STORE ABORT_QUEUED_SCHEDULES FREE_DEC_FIRST \
    COMPLETE_IGNORES_JOIN_WAKER; do
    verify "task_state.broken.$b" task_state fail "-DNT=1 -DBROKEN_$b" "-DCOLLAPSE" ""
done

if [ "$failed" -ne 0 ]; then
    echo "models: FAILED" >&2
    exit 1
fi
echo "models: the real models pass, every broken variant is caught"
