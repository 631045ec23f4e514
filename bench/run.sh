#!/usr/bin/env bash
# bench/run.sh - builds what the benchmark needs if it is not built (meson
# build directory `build`), runs fogpay_bench and ends with its one
# "fogpay-bench ..." summary line. Full runs (without --quick) write their
# figures and the machine's description as JSON to bench/results/.
#
#   bench/run.sh [--quick] [--daily|--storm [--pbkdf2]|--provision|--scale [--transfers T]]
#                [--listen-backlog N]
#                [--devices N] [--seconds S] [--rate R] [--window W]
#
# --quick: 100 devices, 3 s a phase, 500 intents/s fixed rate, under 60 s.
# Defaults: 1,000 devices, 10 s a phase, 1,000 intents/s, a window of 2
# intents per device. --daily, --storm, --provision and --scale are modes
# of their own, with their own summary line and no JSON. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  [ "$arg" = "--quick" ] && quick=1
done
if [ ! -f build/build.ninja ]; then
  meson setup build >&2
fi
ninja -C build -j2 bench/fogpay_bench plugin/fogpay.so apps/fogpayctl/fogpayctl >&2

results=()
if [ "$quick" -eq 0 ]; then
  results=(--results bench/results)
fi
export FOGPAY_PLUGIN="$PWD/build/plugin/fogpay.so" FOGPAYCTL="$PWD/build/apps/fogpayctl/fogpayctl"
exec build/bench/fogpay_bench "$@" "${results[@]}"
