#!/usr/bin/env bash
# Build the libFuzzer targets (clang, -Dfuzz=enabled), replay the committed
# corpora, then fuzz every target for a while.
#
#   bash tests/fuzz/run.sh [SECONDS]
#
# SECONDS per target (default $FUZZ_SECONDS, else 60; 0: replay only).
# Targets run $FUZZ_JOBS at a time (default 2). Each fuzzes a fresh copy of
# its committed corpus in a temporary folder, so the repository is not
# modified. Exit status 1 if any input crashes, leaks, times out or trips a
# sanitizer or an invariant; the input is copied to $FUZZ_BUILD/fuzz-artifacts/
# and its path printed, with the command that reproduces it.
#
# Environment: FUZZ_BUILD build folder (default build-fuzz), FUZZ_CC compiler
# (default clang), FUZZ_TARGETS a space-separated subset, FUZZ_KEEP=1 keeps
# the working corpora (their folder is printed).
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-${FUZZ_SECONDS:-60}}
jobs=${FUZZ_JOBS:-2}
bdir=${FUZZ_BUILD:-build-fuzz}
all_targets="fuzz_idx fuzz_idx_gz fuzz_safetensors fuzz_checkpoint fuzz_metrics_csv fuzz_cli_args"
targets=${FUZZ_TARGETS:-$all_targets}
case $seconds in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;; esac

# -max_len per target: a little above the largest seed
max_len() {
    case $1 in
    fuzz_idx) echo 16384 ;;
    fuzz_safetensors) echo 8192 ;;
    fuzz_idx_gz | fuzz_metrics_csv) echo 4096 ;;
    fuzz_checkpoint) echo 2048 ;;
    *) echo 1024 ;;
    esac
}

echo "=== fuzz: build ($bdir)"
if [ -f "$bdir/build.ninja" ]; then
    meson configure "$bdir" -Dfuzz=enabled >/dev/null || exit 1
else
    CC=${FUZZ_CC:-clang} meson setup "$bdir" -Dfuzz=enabled -Dtests=disabled -Dtools=enabled \
        -Dbuildtype=debugoptimized >/dev/null || exit 1
fi
# shellcheck disable=SC2086
ninja -C "$bdir" -j "$jobs" $(for t in $targets; do echo "tests/fuzz/$t"; done) || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-fuzz.XXXXXX")
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    echo "working corpora kept in $work"
else
    trap 'rm -rf "$work"' EXIT
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0

# Report target $1's failure: its log's tail and every input it saved.
report() {
    local t=$1 log=$2 dir=$3 found=0
    echo "--- $t FAILED; last lines of $log:"
    tail -n 40 "$log"
    mkdir -p "$bdir/fuzz-artifacts"
    for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
        [ -e "$a" ] || continue
        found=1
        cp "$a" "$bdir/fuzz-artifacts/$t-$(basename "$a")"
        echo "--- $t: input $bdir/fuzz-artifacts/$t-$(basename "$a")"
        echo "    reproduce: $bdir/tests/fuzz/$t $bdir/fuzz-artifacts/$t-$(basename "$a")"
    done
    [ $found = 1 ] || echo "--- $t: no input saved (see the log above)"
}

echo "=== fuzz: replay the committed corpora"
for t in $targets; do
    mkdir -p "$work/$t/replay"
    log=$work/$t/replay.log
    files=(tests/fuzz/corpus/"$t"/*)
    if "$bdir/tests/fuzz/$t" -close_fd_mask=3 -artifact_prefix="$work/$t/replay/" "${files[@]}" >"$log" 2>&1; then
        echo "$t: ${#files[@]} inputs ok"
    else
        last=$(grep '^Running: ' "$log" | tail -n 1 | cut -c 10-)
        echo "$t: replay failed on $last"
        report "$t" "$log" "$work/$t/replay"
        failed=1
    fi
done

if [ "$seconds" -gt 0 ]; then
    echo "=== fuzz: $seconds s per target, $jobs at a time"
    fuzz_one() {
        local t=$1 dict=tests/fuzz/$1.dict args=()
        mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
        cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
        [ -f "$dict" ] && args+=("-dict=$dict")
        "$bdir/tests/fuzz/$t" "$work/$t/corpus" "${args[@]}" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
            -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
            -artifact_prefix="$work/$t/artifacts/" >"$work/$t/fuzz.log" 2>&1
        echo $? >"$work/$t/status"
    }
    running=0
    for t in $targets; do
        if [ $running -ge "$jobs" ]; then
            wait -n
            running=$((running - 1))
        fi
        fuzz_one "$t" &
        running=$((running + 1))
    done
    wait
    printf '%-18s %12s %9s %6s %7s %7s  %s\n' target executions exec/s cov ft corpus result
    for t in $targets; do
        log=$work/$t/fuzz.log
        status=$(cat "$work/$t/status" 2>/dev/null || echo 1)
        execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log" | tail -n 1)
        rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log" | tail -n 1)
        line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        cov=$(echo "$line" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
        ft=$(echo "$line" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
        corp=$(find "$work/$t/corpus" -type f | wc -l)
        result=ok
        if [ "$status" != 0 ] || [ -n "$(ls -A "$work/$t/artifacts" 2>/dev/null | grep -v '^slow-unit-')" ]; then
            result=FAILED
        fi
        printf '%-18s %12s %9s %6s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corp" \
            "$result"
    done
    for t in $targets; do
        status=$(cat "$work/$t/status" 2>/dev/null || echo 1)
        if [ "$status" != 0 ] || [ -n "$(ls -A "$work/$t/artifacts" 2>/dev/null | grep -v '^slow-unit-')" ]; then
            report "$t" "$work/$t/fuzz.log" "$work/$t/artifacts"
            failed=1
        fi
    done
fi

if [ $failed = 0 ]; then echo "=== fuzz: passed"; else echo "=== fuzz: FAILED"; fi
exit $failed
