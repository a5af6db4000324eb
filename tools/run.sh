#!/usr/bin/env bash
# tools/run.sh - the two entry points the README gives for a fresh Debian machine.
#   bash tools/run.sh main   install dependencies, build, run the main job
#   bash tools/run.sh test   install dependencies, build, run every test suite
# Run as root (or with sudo available); it installs Debian packages with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=(meson ninja-build gcc clang pkg-config libsleef-dev check zlib1g-dev libpng-dev valgrind python3-numpy)

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

# meson setup DIR ARGS...: a fresh folder, or an existing one reconfigured
# with these options (a folder configured before a dependency was installed
# would otherwise keep building without it); the output is shown on failure.
setup() {
    local dir=$1 out
    shift
    if [ -f "$dir/build.ninja" ]; then
        out=$(meson setup --reconfigure "$dir" "$@" 2>&1) || { echo "$out" >&2; echo "meson setup --reconfigure $dir failed" >&2; return 1; }
    else
        rm -rf "$dir"
        out=$(meson setup "$dir" "$@" 2>&1) || { echo "$out" >&2; echo "meson setup $dir failed" >&2; return 1; }
    fi
    echo "== configured $dir: $*"
}

# Every feature the commands rely on is required: a missing dependency stops
# the build here instead of silently dropping suites or the CLI.
build() {
    setup build -Dtests=enabled -Dtools=enabled
    ninja -C build
}

case "${1:-}" in
main)
    # Train the classifier `tapegrad evaluate` scores digits with (once: 5
    # epochs, 5 s and 97.8% test accuracy when last measured), then the reference
    # GAN on real MNIST (EPOCHS=30 by default; about 2 minutes on 2 cores) with its samples
    # scored after every epoch (RUN_DIR/eval.csv); then draw 100 digits for a
    # picture and 10000 for a final `tapegrad evaluate`.
    install_deps
    bash tools/fetch-mnist.sh data/mnist
    build
    clf=${TAPEGRAD_CLASSIFIER:-data/classifier/classifier.safetensors}
    if [ ! -f "$clf" ]; then
        ./build/tools/tapegrad train-classifier --data data/mnist --out "$(dirname "$clf")" --epochs 5
    fi
    run=${RUN_DIR:-runs/reference}
    if [ -f "$run/checkpoint.safetensors" ]; then
        ./build/tools/tapegrad train-gan --resume "$run" --data data/mnist --epochs "${EPOCHS:-30}" \
            --eval-every 1 --classifier "$clf"
    else
        ./build/tools/tapegrad train-gan --data data/mnist --out "$run" --epochs "${EPOCHS:-30}" \
            --eval-every 1 --classifier "$clf"
    fi
    ./build/tools/tapegrad sample --checkpoint "$run/checkpoint.safetensors" --n 100 --seed 1 --out "$run/samples/final-100.png"
    ./build/tools/tapegrad sample --checkpoint "$run/checkpoint.safetensors" --n 10000 --seed 1 --out "$run/samples/final-10000.idx"
    ./build/tools/tapegrad evaluate "$run/samples/final-10000.idx" --classifier "$clf" --data data/mnist
    echo "samples: $run/samples/ (epoch-NNN.png per epoch, final-100.png); losses: $run/losses.png; scores: $run/eval.csv"
    ;;
test)
    install_deps
    build
    meson test -C build -v --print-errorlogs
    # every suite ran (none dropped from the build, none skipped but for a
    # kernel variant this CPU lacks, every Check suite ran checks)
    python3 tools/check-tests.py build
    ;;
*)
    echo "usage: bash tools/run.sh main|test" >&2
    exit 2
    ;;
esac
