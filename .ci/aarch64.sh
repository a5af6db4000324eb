#!/usr/bin/env bash
# CI, AArch64: cross-build with Debian's gcc-aarch64-linux-gnu against the
# arm64 packages of the dependencies (.ci/aarch64.ini), then run the suites
# under qemu-user, on the neon kernels and on the portable ones, and
# `tapegrad gradcheck --all` on both. .ci/run calls it; it also runs alone:
#   bash .ci/aarch64.sh            (build folder: build-aarch64)
#
# Which suites, and why: every per-variant suite (kernels, gemm, plan,
# conv_plan, ops, losses, conv, gan_grad, gan_traj, conv_traj) as -neon and
# -portable (their -avx512 and -avx2 twins are not run: on AArch64 they only
# skip), and the engine, gradient-check, settings and file-format suites that
# run in-process (tape, optim, models, gradcheck, gc_cases, settings,
# safetensors, io, fid). Not run: cli, train, presets, crash, evaluate,
# classifier and st_python, which start other AArch64 programs (the tapegrad
# binary, st_tool); qemu-user emulates one process and cannot follow an exec without
# binfmt_misc, which a container may not register. They test the command line
# and files, not the kernels, and run natively in the other CI steps, as do
# fetch_mnist and docs (scripts, no AArch64 code). The gradient checks run
# through the f64 reference kernels, so the kernel variant does not change
# them; the gradcheck suite and `tapegrad gradcheck --all` still run once per
# variant.
#
# qemu-aarch64 runs with -L / (the cross file's exe_wrapper): the arm64
# packages bring libc6:arm64, and its loader must load its own libc.so.6.
# With -L /usr/aarch64-linux-gnu the cross toolchain's ld.so (Debian 12:
# libc6-arm64-cross 2.36-8cross1) would load libc6:arm64's libc.so.6
# (2.36-9+deb12u14), and pthread_create then spins forever: every suite that
# starts a thread pool hangs, and so did Check's forked mode.
set -euo pipefail
cd "$(dirname "$0")/.."
export CK_VERBOSITY=normal
build=build-aarch64

echo "=== aarch64: toolchain, qemu-user and the arm64 packages"
pkgs=(gcc-aarch64-linux-gnu qemu-user libsleef-dev:arm64 check:arm64 zlib1g-dev:arm64 libpng-dev:arm64)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${missing[@]}"
fi
aarch64-linux-gnu-gcc --version | head -n1
qemu-aarch64 --version | head -n1

echo "=== aarch64: cross-build (-Werror, release)"
rm -rf "$build"
out=$(meson setup "$build" --cross-file .ci/aarch64.ini -Dtests=enabled -Dtools=enabled 2>&1) ||
    { echo "$out"; echo "meson setup $build failed"; exit 1; }
ninja -C "$build" -j2
qemu=(qemu-aarch64 -L /)

variant_suites=(kernels gemm plan conv_plan ops losses conv gan_grad gan_traj conv_traj)
inproc_suites=(tape optim models gradcheck gc_cases settings safetensors io fid)

echo "=== aarch64: suites under qemu-user, neon kernels (the default on AArch64)"
tests=()
for s in "${variant_suites[@]}"; do tests+=("$s-neon"); done
tests+=("${inproc_suites[@]}")
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 --timeout-multiplier 4 "${tests[@]}"
python3 tools/check-tests.py "$build" "${tests[@]}"

echo "=== aarch64: suites under qemu-user, portable kernels"
tests=()
for s in "${variant_suites[@]}"; do tests+=("$s-portable"); done
tests+=(gradcheck)
TG_KERNEL=portable meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
    "${tests[@]}"
python3 tools/check-tests.py "$build" "${tests[@]}"

echo "=== aarch64: tapegrad gradcheck --all, neon and portable"
for k in neon portable; do
    TG_KERNEL=$k "${qemu[@]}" "$build/tools/tapegrad" gradcheck --all > "$build/gradcheck-$k.txt" ||
        { cat "$build/gradcheck-$k.txt"; echo "gradcheck --all failed on $k"; exit 1; }
    echo "$k: $(tail -n1 "$build/gradcheck-$k.txt")"
done

echo "=== aarch64 passed"
