#!/usr/bin/env bash
# ctest "install" (tests/CMakeLists.txt): edo installed as a user installs it, and
# tests/install/hello.c built out of tree against the installed files and run, three ways:
#   pkg-config edo          the shared library; the program must start with no LD_LIBRARY_PATH
#   pkg-config edo-static   libedo.a; the program must not need libedo.so
#                           (and pkg-config --static edo for a cc -static program, given libc.a)
#   find_package(edo)       tests/install/consumer: edo::edo (static) and edo::edo_shared
# Each program must print its line and exit 0. Three installs, in a mktemp -d folder removed at
# the end:
#   1. this build, `cmake --install BUILD_DIR --prefix <tmp>/default` (`make install`'s step);
#   2. a library-only build with the multiarch libdir lib/<arch>, configured for the prefix
#      /opt/edo-install-test, installed with DESTDIR and then moved: the .pc files (${pcfiledir}
#      three levels up) and the CMake package must follow the tree; installed with DESTDIR and
#      --prefix /usr, its edo.pc must say prefix=/usr and give no rpath;
#   3. the same build reconfigured with an absolute libdir outside its prefix.
#
# Usage: run.sh SOURCE_DIR BUILD_DIR [C_COMPILER [CMAKE_GENERATOR [BUILD_TYPE [LIBRARY_ARCH
#        [PKGCONFIG_RPATH]]]]]
# (tests/CMakeLists.txt passes the build's own values). Installs pkg-config with apt if missing.
# $(pkg-config ...) is split into words unquoted, as users write it; '${pcfiledir}' and
# '${prefix}' are the .pc files' text, not the shell's.
# shellcheck disable=SC2046,SC2016
set -euo pipefail

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
cc=${3:-cc}
generator=${4:-Unix Makefiles}
build_type=${5:-Release}
arch=${6:-}
want_rpath=${7:-ON}
jobs=2

version=$(sed -n 's/^#define EDO_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/edo.h")
expected="edo $version: 0+1+4+9 = 14"

fail() {
    echo "install test: FAIL: $*" >&2
    exit 1
}
step() { echo "== $*"; }

# Runs a command with its output kept aside, shown only if it fails.
quiet() {
    if ! "$@" >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2
        fail "$*"
    fi
}

if ! command -v pkg-config >/dev/null; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo -n true 2>/dev/null || fail "pkg-config is missing (apt-get install pkg-config)"
        sudo=(sudo -n)
    fi
    step "installing pkg-config with apt"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        pkg-config >/dev/null
fi
command -v readelf >/dev/null || fail "readelf is missing (apt-get install binutils)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edo-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH

# (Output is captured before grep -q reads it: grep -q stops early, and under pipefail the
# writer's SIGPIPE would be a failure.)
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }

# run_program PROGRAM [LIBDIR]: runs it (no LD_LIBRARY_PATH: an RPATH or nothing finds
# libedo.so) and checks its output; with LIBDIR, first that the loader takes libedo.so.0 from
# there (not from another edo installed on the system).
run_program() {
    local prog=$1 libdir=${2:-} env=() deps
    deps=$(needed "$prog")
    if [ -n "$libdir" ]; then
        grep -qx 'libedo\.so\.[0-9]*' <<<"$deps" || fail "$prog does not need libedo.so"
        if [ "$want_rpath" = OFF ]; then
            env=(env LD_LIBRARY_PATH="$libdir")
        fi
        local loaded
        loaded=$("${env[@]}" env LD_TRACE_LOADED_OBJECTS=1 "$prog" |
            sed -n 's/^[[:space:]]*libedo\.so\.[0-9]* => \(\/[^ ]*\) .*/\1/p' || true)
        [ -n "$loaded" ] || fail "$prog: the loader does not find libedo.so"
        [ "$(cd "$(dirname "$loaded")" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] ||
            fail "$prog loads $loaded, not the one in $libdir"
    else
        ! grep -q '^libedo\.' <<<"$deps" || fail "$prog needs libedo.so: not static"
    fi
    local out
    out=$("${env[@]}" "$prog") || fail "$prog exited with $?"
    [ "$out" = "$expected" ] || fail "$prog printed '$out', not '$expected'"
    echo "   $(basename "$prog"): $out"
}

# check PREFIX LIBDIR FIND_ARGS...: the three ways against the edo installed in PREFIX, its
# libraries, .pc files and CMake package in the absolute LIBDIR; FIND_ARGS tell the consumer
# project where to look.
check() {
    local prefix=$1 libdir=$2 name
    shift 2
    name=$(basename "$prefix")
    local out="$tmp/out-$name"
    mkdir -p "$out"
    if [ ! -f "$libdir/pkgconfig/edo.pc" ] || [ ! -f "$libdir/pkgconfig/edo-static.pc" ]; then
        fail "no edo.pc, edo-static.pc in $libdir/pkgconfig"
    fi
    # Only this install's .pc files, not any in the system's directories.
    export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
    [ "$(pkg-config --modversion edo)" = "$version" ] || fail "pkg-config --modversion edo"
    [[ " $(pkg-config --static --libs edo) " = *" -lpthread "* ]] ||
        fail "pkg-config --static --libs edo lacks -lpthread"

    step "$name: pkg-config edo: $(pkg-config --cflags --libs edo)"
    quiet "$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/install/hello.c" \
        $(pkg-config --cflags --libs edo) -o "$out/hello-pkgconfig-shared"
    if [ "$want_rpath" = ON ]; then
        local dynamic
        dynamic=$(readelf -d "$out/hello-pkgconfig-shared")
        [[ $dynamic = *"(RUNPATH)"* || $dynamic = *"(RPATH)"* ]] ||
            fail "pkg-config --libs edo gave no rpath"
    fi
    run_program "$out/hello-pkgconfig-shared" "$libdir"

    step "$name: pkg-config edo-static: $(pkg-config --cflags --libs edo-static)"
    quiet "$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/install/hello.c" \
        $(pkg-config --cflags --libs edo-static) -o "$out/hello-pkgconfig-static"
    run_program "$out/hello-pkgconfig-static"

    # --static: what a fully static program needs (Libs.private), where there is a libc.a.
    if [[ $("$cc" -print-file-name=libc.a) = /* ]]; then
        step "$name: cc -static, pkg-config --static edo: $(pkg-config --static --libs edo)"
        quiet "$cc" -static -std=c11 -Wall -Wextra -Werror "$src/tests/install/hello.c" \
            $(pkg-config --static --cflags --libs edo) -o "$out/hello-pkgconfig-all-static"
        run_program "$out/hello-pkgconfig-all-static"
    fi
    unset PKG_CONFIG_LIBDIR

    step "$name: find_package(edo) $*"
    quiet cmake -S "$src/tests/install/consumer" -B "$out/consumer" -G "$generator" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$build_type" "$@"
    local found
    found=$(sed -n 's/^edo_DIR:[A-Z]*=//p' "$out/consumer/CMakeCache.txt")
    [ "$(cd "$found" && pwd -P)" = "$(cd "$libdir/cmake/edo" && pwd -P)" ] ||
        fail "find_package(edo) found $found, not $libdir/cmake/edo"
    quiet cmake --build "$out/consumer" -j"$jobs"
    run_program "$out/consumer/hello_static"
    run_program "$out/consumer/hello_shared" "$libdir"
}

# 1. This build, as `make install` installs it.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
libdir1=$(cache CMAKE_INSTALL_LIBDIR)
includedir1=$(cache CMAKE_INSTALL_INCLUDEDIR)
if [[ $libdir1 = /* || $includedir1 = /* ]]; then
    # --prefix would not keep these inside the temporary folder; 3. tests an absolute libdir.
    step "1: skipped: $build installs to absolute directories ($libdir1, $includedir1)"
else
    step "1: cmake --install $build --prefix <tmp>/default (libdir $libdir1)"
    quiet cmake --install "$build" --prefix "$tmp/default"
    check "$tmp/default" "$tmp/default/$libdir1" -DCMAKE_PREFIX_PATH="$tmp/default"
fi

# 2. The multiarch libdir, staged with DESTDIR, then moved.
if [ -z "$arch" ]; then
    arch=$("$cc" -print-multiarch 2>/dev/null || true)
    [ -n "$arch" ] || arch="$(uname -m)-linux-gnu"
    find_multiarch=(-Dedo_DIR="$tmp/multiarch/lib/$arch/cmake/edo")
else
    # CMake looks in <prefix>/lib/<arch>/cmake/edo by itself.
    find_multiarch=(-DCMAKE_PREFIX_PATH="$tmp/multiarch")
fi
step "2: a library-only build, libdir lib/$arch, installed with DESTDIR and moved"
quiet cmake -S "$src" -B "$tmp/build" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE="$build_type" -DEDO_BUILD_TESTS=OFF -DEDO_BUILD_EXAMPLES=OFF \
    -DEDO_BUILD_BENCH=OFF -DEDO_PKGCONFIG_RPATH="$want_rpath" \
    -DCMAKE_INSTALL_PREFIX=/opt/edo-install-test -DCMAKE_INSTALL_LIBDIR="lib/$arch"
quiet cmake --build "$tmp/build" -j"$jobs"
quiet env DESTDIR="$tmp/stage" cmake --install "$tmp/build"
[ -f "$tmp/stage/opt/edo-install-test/lib/$arch/pkgconfig/edo.pc" ] ||
    fail "DESTDIR install: no lib/$arch/pkgconfig/edo.pc"
mv "$tmp/stage/opt/edo-install-test" "$tmp/multiarch"
grep -qx 'prefix=${pcfiledir}/../../..' "$tmp/multiarch/lib/$arch/pkgconfig/edo.pc" ||
    fail "lib/$arch/pkgconfig/edo.pc: prefix is not \${pcfiledir}/../../.."
check "$tmp/multiarch" "$tmp/multiarch/lib/$arch" "${find_multiarch[@]}"
if [ -n "${6:-}" ]; then
    # /usr/lib/<arch>, where CMake found the arch, is a system libdir: plain paths, no rpath.
    quiet env DESTDIR="$tmp/stage-usr" cmake --install "$tmp/build" --prefix /usr
    pc=$(grep -E '^(prefix|libdir|rpath)=' "$tmp/stage-usr/usr/lib/$arch/pkgconfig/edo.pc")
    [ "$pc" = "$(printf 'prefix=/usr\nlibdir=${prefix}/lib/%s\nrpath=' "$arch")" ] ||
        fail "--prefix /usr: edo.pc has $pc"
    echo "   --prefix /usr: edo.pc has prefix=/usr, no rpath"
fi

# 3. An absolute libdir, outside the prefix: the .pc files hold absolute paths.
step "3: the same build, libdir <tmp>/abs-libdir/lib (absolute)"
quiet cmake "$tmp/build" -DCMAKE_INSTALL_PREFIX="$tmp/abs-prefix" \
    -DCMAKE_INSTALL_LIBDIR="$tmp/abs-libdir/lib"
quiet cmake --build "$tmp/build" -j"$jobs"
quiet cmake --install "$tmp/build"
[ -f "$tmp/abs-prefix/include/edo.h" ] || fail "absolute libdir: no <prefix>/include/edo.h"
check "$tmp/abs-prefix" "$tmp/abs-libdir/lib" -Dedo_DIR="$tmp/abs-libdir/lib/cmake/edo"

echo "install test: all passed"
