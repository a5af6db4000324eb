#!/usr/bin/env bash
# dist_bench.sh - data-parallel GAN training measured on this machine, for
# bench/dist_project.py to tabulate and project to many machines.
#
#   bench/dist_bench.sh [OUT]        # OUT: JSON lines (default /tmp/dist_bench.jsonl)
#   python3 bench/dist_project.py OUT
#
# For each model (reference, dcgan) and global batch (64, 256), three runs of
# `tapegrad bench gan-step --json`:
#   1proc       one process, 2 threads: --threads 2
#   2ranks-on   mpirun -np 2, 1 thread per rank, --overlap on: each rank takes
#               half the batch; the gradients' all-reduces start during
#               backward, as train-gan runs them
#   2ranks-off  the same with --overlap off: every all-reduce starts after
#               backward, so its wait is the whole un-hidden communication
# in ROUNDS rounds (the order of the three alternates from round to round, so
# a slow phase of the machine hits each); dist_project.py keeps each
# configuration's best round. Every line tapegrad prints is kept, tagged with
# "dist_bench" (the run), "round" and "bind"; the summary lines (those with
# "repeats") are what the projection reads. The first line describes the
# machine, the second and third are the binding probe (below).
#
# Steps per repeat, so that a repeat lasts about a second on a 2-core machine
# (as bench/compare_torch.py sizes its runs: fewer steps at larger batches,
# a fifth for the DCGAN, whose iteration costs ~13x the reference GAN's):
# reference STEPS*64/B (at least 10), dcgan STEPS*64/(5 B) (at least 8), with
# STEPS = 100 and 5 repeats (tapegrad bench's default), best of the repeats
# and then of 3 rounds. The whole script takes about 5-8 minutes on the
# 2-core machine the project's benchmarks run on.
#
# Every mpirun runs on shared memory and loopback only (--mca btl self,vader
# --mca oob_tcp_if_include lo), as root allowed, and under `timeout`.
#
# Binding. With one thread per rank, `--bind-to core` pins each rank to a
# core of its own: no migrations, caches stay warm, and the rank that spins
# in MPI's wait does not share a core with the one computing. On a virtual
# machine whose cores are shared with other guests, a pinned rank cannot move
# off a core the host is busy with, and `--bind-to none` can be faster. So
# the script measures both once (the reference GAN at batch 64, overlap on),
# keeps the faster for every mpirun, and records both lines. Set
# DIST_BENCH_BIND=core or none to skip the probe.
#
# Environment:
#   TAPEGRAD            the tapegrad binary (default: build/tools/tapegrad of
#                       this checkout); it must be built with MPI (-Dmpi)
#   MPIRUN              mpirun (default: the one on PATH)
#   DIST_BENCH_STEPS    STEPS above (default 100)
#   DIST_BENCH_REPEATS  repeats per run (default 5)
#   DIST_BENCH_ROUNDS   rounds (default 3)
#   DIST_BENCH_BIND     core or none: skip the probe
#   DIST_BENCH_QUICK=1  a smoke test: 2 steps, 1 repeat, 1 round (well under a
#                       minute; its numbers mean nothing)
#
# Do not run it while the machine does other work: every figure is a
# best-of, but two ranks on two cores leave no room for anything else.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-/tmp/dist_bench.jsonl}
bin=${TAPEGRAD:-$root/build/tools/tapegrad}
mpirun=${MPIRUN:-mpirun}
steps=${DIST_BENCH_STEPS:-100}
repeats=${DIST_BENCH_REPEATS:-5}
rounds=${DIST_BENCH_ROUNDS:-3}
limit=600 # seconds for one run
if [ "${DIST_BENCH_QUICK:-0}" = 1 ]; then
    steps=2 repeats=1 rounds=1 limit=120
fi

die() {
    echo "dist_bench: $*" >&2
    exit 1
}
[ -x "$bin" ] || die "no tapegrad at $bin (build it, or set TAPEGRAD)"
command -v "$mpirun" >/dev/null || die "no $mpirun on PATH (apt-get install openmpi-bin, or set MPIRUN)"
command -v timeout >/dev/null || die "no timeout (coreutils)"
mpi=("$mpirun" --allow-run-as-root --oversubscribe --mca btl "self,vader" --mca oob_tcp_if_include lo -np 2)

# steps per repeat for a model and global batch
steps_for() {
    local s
    if [ "$1" = dcgan ]; then
        s=$((steps * 64 / (5 * $2)))
        [ "${DIST_BENCH_QUICK:-0}" = 1 ] || [ $s -ge 8 ] || s=8
    else
        s=$((steps * 64 / $2))
        [ "${DIST_BENCH_QUICK:-0}" = 1 ] || [ $s -ge 10 ] || s=10
    fi
    [ $s -ge 1 ] || s=1
    echo $s
}

# run TAG ROUND BIND MODEL BATCH: one configuration, its lines tagged and appended to $out
run() {
    local tag=$1 round=$2 bind=$3 model=$4 batch=$5 err
    local args=(bench gan-step --model "$model" --batch "$batch" --steps "$(steps_for "$model" "$batch")"
        --repeats "$repeats" --json)
    local cmd
    case $tag in
    1proc) cmd=(timeout -k 10 "$limit" "$bin" "${args[@]}" --threads 2) ;;
    2ranks-on) cmd=(timeout -k 10 "$limit" "${mpi[@]}" --bind-to "$bind" "$bin" "${args[@]}" --threads 1 --overlap on) ;;
    2ranks-off) cmd=(timeout -k 10 "$limit" "${mpi[@]}" --bind-to "$bind" "$bin" "${args[@]}" --threads 1 --overlap off) ;;
    *) die "unknown run $tag" ;;
    esac
    err=$(mktemp)
    if ! "${cmd[@]}" 2>"$err" | sed "s/^{/{\"dist_bench\":\"$tag\",\"round\":$round,\"bind\":\"$bind\",/" >>"$out"; then
        cat "$err" >&2
        rm -f "$err"
        die "failed: ${cmd[*]}"
    fi
    rm -f "$err"
    # the summary line just written: samples/s, for the progress line
    tail -n 1 "$out" | sed -n 's/.*"samples_per_s":\([0-9.]*\).*/\1/p'
}

: >"$out"
t0=$(date +%s)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
ver=$("$bin" --version) || die "$bin --version failed"
mver=$("$mpirun" --version 2>/dev/null | head -n 1) || die "$mpirun --version failed"
printf '{"dist_bench":"machine","nproc":%s,"cpu":"%s","tapegrad":"%s","mpirun":"%s","steps":%s,"repeats":%s,"rounds":%s,"quick":%s}\n' \
    "$(nproc)" "${cpu//\"/}" "${ver//\"/}" "${mver//\"/}" "$steps" "$repeats" "$rounds" "${DIST_BENCH_QUICK:-0}" >>"$out"

if [ -n "${DIST_BENCH_BIND:-}" ]; then
    case $DIST_BENCH_BIND in core | none) bind=$DIST_BENCH_BIND ;; *) die "DIST_BENCH_BIND is core or none" ;; esac
    echo "binding: $bind (DIST_BENCH_BIND)"
else
    core=$(run 2ranks-on 0 core reference 64)
    none=$(run 2ranks-on 0 none reference 64)
    bind=$(awk -v c="$core" -v n="$none" 'BEGIN { print (c + 0 >= n + 0) ? "core" : "none" }')
    echo "binding probe (reference, batch 64, 2 ranks): --bind-to core $core samples/s, none $none: $bind"
fi

for ((r = 1; r <= rounds; r++)); do
    # the three runs in another order each round
    case $((r % 3)) in
    1) order=(1proc 2ranks-on 2ranks-off) ;;
    2) order=(2ranks-off 1proc 2ranks-on) ;;
    0) order=(2ranks-on 2ranks-off 1proc) ;;
    esac
    for model in reference dcgan; do
        for batch in 64 256; do
            line="round $r/$rounds  $model  batch $batch:"
            for tag in "${order[@]}"; do
                line+="  $tag $(run "$tag" "$r" "$bind" "$model" "$batch")"
            done
            echo "$line samples/s"
        done
    done
done
echo "done in $(($(date +%s) - t0)) s: $out (python3 $here/dist_project.py $out)"
