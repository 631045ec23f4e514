#!/usr/bin/env bash
# run.sh SECONDS - runs every libFuzzer target of tests/fuzz/ (one per
# fuzz_<name>.c) for SECONDS each, with ASan and UBSan, on the seeds of
# seeds.sh and the committed seeds and regressions (and with the dictionary
# tests/fuzz/<name>.dict when there is one); prints one line per
# target (runs, speed, coverage) and fails when a target crashes, saying
# where the crash file is.
#
# It builds the targets with clang and -Dfuzz=true in build-fuzz/ (or
# $FUZZ_BUILD) when that directory is not set up yet. The corpus grows in
# $FUZZ_BUILD/corpus/<name>/ from run to run; crash files are written to
# $FUZZ_BUILD/crashes/<name>/, and each target's output to
# $FUZZ_BUILD/fuzz-<name>.log. Scratch ledgers of fuzz_gateway go to
# /dev/shm when it exists (commits there do not wait for a disk).
#
# Usage: bash tests/fuzz/run.sh SECONDS
set -euo pipefail

if [ "$#" -ne 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 SECONDS (per target, at least 1)" >&2
    exit 2
fi
seconds=$1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FUZZ_BUILD:-$root/build-fuzz}"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false
fi
targets=()
for source in "$root"/tests/fuzz/fuzz_*.c; do
    name="$(basename "$source" .c)"
    targets+=("${name#fuzz_}")
done
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz_}"

bash "$root/tests/fuzz/seeds.sh" "$build/corpus"
scratch_parent=/tmp
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    scratch_parent=/dev/shm
fi
scratch="$(mktemp -d "$scratch_parent/fogpay-fuzz-run.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

failed=0
for name in "${targets[@]}"; do
    crashes="$build/crashes/$name"
    log="$build/fuzz-$name.log"
    mkdir -p "$crashes" "$build/corpus/$name"
    dirs=("$build/corpus/$name")
    for committed in seeds regressions; do
        if [ -d "$root/tests/fuzz/$committed/$name" ]; then
            dirs+=("$root/tests/fuzz/$committed/$name")
        fi
    done
    options=()
    if [ -f "$root/tests/fuzz/$name.dict" ]; then
        options+=(-dict="$root/tests/fuzz/$name.dict")
    fi
    status=0
    TMPDIR="$scratch" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/tests/fuzz/fuzz_$name" "${dirs[@]}" -max_total_time="$seconds" -timeout=10 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "${options[@]}" >"$log" 2>&1 ||
        status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)"
    if [ "$status" -ne 0 ]; then
        failed=1
        crash="$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | cut -d' ' -f5 || true)"
        echo "fuzz_$name: FAILED (exit $status): crash file ${crash:-none written}; log $log" >&2
        grep -E '^(fuzz_[a-z_]+:|SUMMARY:|==[0-9]+==ERROR)' "$log" | head -n 5 >&2 || true
    else
        echo "fuzz_$name: ${runs:-0} runs in ${seconds} s (${speed:-0}/s), ${cov:-cov: ?}"
    fi
done
exit "$failed"
