#!/usr/bin/env bash
# bench/run.sh - builds what the benchmark needs if it is not built (meson
# build directory `build`), runs fogpay_bench and ends with its one
# "fogpay-bench ..." summary line. Full runs (without --quick) write their
# figures and the machine's description as JSON to bench/results/.
#
#   bench/run.sh [--quick] [--daily|--storm [--pbkdf2]|--provision|--scale [--transfers T]|--mix]
#                [--listen-backlog N]
#                [--devices N] [--seconds S] [--rate R] [--window W]
#   bench/run.sh [--quick] --agent-memory
#
# --quick: 100 devices, 3 s a phase, 500 intents/s fixed rate, under 60 s.
# Defaults: 1,000 devices, 10 s a phase, 1,000 intents/s, a window of 2
# intents per device. --daily, --storm, --provision, --scale and --mix
# (holds and tariff readings beside plain payments, "fogpay-bench-mix ...")
# are modes of their own, with their own summary line and no JSON. --agent-memory is
# the device agent's memory beside paho's sample publisher
# (bench/agent_memory_bench.c), with its own summary line and JSON. See
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
program=fogpay_bench
for arg in "$@"; do
  [ "$arg" = "--quick" ] && quick=1
  [ "$arg" = "--agent-memory" ] && program=agent_memory_bench
done
if [ ! -f build/build.ninja ]; then
  meson setup build >&2
fi
ninja -C build -j2 "bench/$program" plugin/fogpay.so apps/fogpayctl/fogpayctl \
  edge-agent/fogpay-agent >&2

results=()
if [ "$quick" -eq 0 ]; then
  results=(--results bench/results)
fi
export FOGPAY_PLUGIN="$PWD/build/plugin/fogpay.so" FOGPAYCTL="$PWD/build/apps/fogpayctl/fogpayctl"
export FOGPAY_AGENT="$PWD/build/edge-agent/fogpay-agent"
exec "build/bench/$program" "$@" "${results[@]}"
