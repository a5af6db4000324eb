#!/usr/bin/env bash
# tools/run.sh - the two entry points the README gives for a fresh Debian machine.
#   bash tools/run.sh main   install dependencies, build, run the main job
#   bash tools/run.sh test   install dependencies, build, run every test suite
# Run as root (or with sudo available); it installs Debian packages with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=(meson ninja-build gcc clang pkg-config libsleef-dev check zlib1g-dev libpng-dev valgrind)

install_deps() {
    local missing=()
    for p in "${DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        local SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO=sudo
        echo "== installing: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

build() {
    [ -f build/build.ninja ] || meson setup build
    ninja -C build
}

case "${1:-}" in
main)
    install_deps
    build
    ./build/tools/tapegrad gradcheck --all
    ./build/tools/tapegrad demo
    ;;
test)
    install_deps
    build
    meson test -C build -v --print-errorlogs
    ;;
*)
    echo "usage: bash tools/run.sh main|test" >&2
    exit 2
    ;;
esac
