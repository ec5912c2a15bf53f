#!/usr/bin/env bash
# Builds tokio-bench offline against Debian's packaged crates and prints the
# binary's path on stdout (everything else goes to stderr), so callers can do
#   bin=$(bench/tokio/build.sh)
#
# crates.io cannot be reached on the project's machines; Debian's archive can.
# .cargo/config.toml points cargo at /usr/share/cargo/registry, where the
# librust-*-dev packages put their sources. Works with whatever cargo is on
# PATH (rustup's, or Debian 12's cargo 0.66 / rustc 1.63).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
registry=/usr/share/cargo/registry
# Where the binary lands; a relative CARGO_TARGET_DIR is relative to the
# caller's directory, but cargo runs from $here below, so make it absolute.
target_dir=${CARGO_TARGET_DIR:-$here/target}
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
export CARGO_TARGET_DIR=$target_dir

have_tokio_sources() {
    compgen -G "$registry/tokio-1.*/Cargo.toml" >/dev/null
}

# apt-get needs root; use sudo when we are not root and it exists.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "build.sh: need root to run: $*" >&2
        return 1
    fi
}

install_missing() {
    if command -v cargo >/dev/null && have_tokio_sources; then
        return 0
    fi
    echo "build.sh: installing cargo and librust-tokio-dev with apt" >&2
    # A fresh machine has empty package lists; one update is enough.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends cargo librust-tokio-dev >&2
    hash -r
    command -v cargo >/dev/null || { echo "build.sh: cargo still not on PATH" >&2; return 1; }
    have_tokio_sources || { echo "build.sh: no tokio sources in $registry" >&2; return 1; }
}

build() {
    cd "$here"
    # Cargo.lock is not kept (see .gitignore): resolve afresh against whatever
    # crate versions Debian has installed, so a package update cannot leave a
    # lock that names a version or checksum that is no longer there.
    rm -f Cargo.lock
    cargo build --release --offline >&2
    echo "$target_dir/release/tokio-bench"
}

install_missing
build
