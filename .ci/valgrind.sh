#!/usr/bin/env bash
# Runs the coroutine, context-switch and task tests under valgrind's memcheck: every stack switch
# must be understood (coroutine stacks are registered with valgrind) and nothing may leak or
# touch memory it should not. Installs valgrind with apt when missing. Extra arguments: case
# names to skip (the slow scale tests are skipped by default).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind
fi

# Skipped: the scale test, and two whose busy loops crawl under valgrind's one-thread-at-a-time
# scheduling (ASan and TSan run them).
skip=" million_live_coroutines migrates_under_stealing abort_while_yielding $* "
cmake -S . -B build/valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDO_BUILD_BENCH=OFF \
    -DEDO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/valgrind -j"$(nproc)" --target test-context test-coro test-task >/dev/null

failed=0
ran=0
for file in test-context test-coro test-task; do
    src=(tests/*/"$file.c") # tests/<module>/test-<area>.c
    [ -f "${src[0]}" ] || { echo "valgrind: no source for $file" >&2; exit 1; }
    for name in $(sed -n 's/^TEST(\([a-z0-9_]*\)).*/\1/p' "${src[0]}"); do
        case "$skip" in *" $name "*) continue ;; esac
        ran=$((ran + 1))
        if ! valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
            "build/valgrind/tests/$file" "$name" 2>"build/valgrind/$file.$name.log"; then
            echo "valgrind: $file.$name FAILED"
            cat "build/valgrind/$file.$name.log"
            failed=$((failed + 1))
        fi
    done
done
echo "valgrind: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
