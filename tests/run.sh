#!/usr/bin/env bash
# tests/run.sh - installs what fogpay needs from Debian's packages, builds,
# and runs every test: unit, conformance, integration, the same unit tests
# again under AddressSanitizer and UndefinedBehaviorSanitizer, and every
# fuzz target for FOGPAY_FUZZ_SECONDS (default 10) each.
#
# Run it from anywhere, as root on a fresh Debian machine (or as a user with
# the packages already installed). The closing line is meson's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  mosquitto mosquitto-dev mosquitto-clients libmosquitto-dev
  libpaho-mqtt-dev paho.mqtt.c-examples libsqlite3-dev sqlite3 libcbor-dev libwolfssl-dev
  libcunit1-dev libcjson-dev libmicrohttpd-dev libxml2-dev postgresql libpq-dev openssl
  clang-format python3-jsonschema debhelper dpkg-dev fakeroot lintian)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The web monitor's browser test (tests/web): Debian's chromium, node and
# npm, the npm packages of web/ (npm ci, from its package-lock.json) and the
# page's bundle (npm run build). Where one cannot be had, the web_monitor
# test is skipped and prints why; nothing else depends on them.
web_missing=()
command -v chromium >/dev/null || web_missing+=(chromium)
command -v node >/dev/null || web_missing+=(nodejs)
command -v npm >/dev/null || web_missing+=(npm)
if [ ${#web_missing[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y --no-install-recommends "${web_missing[@]}"; } ||
    echo "tests/run.sh: cannot install ${web_missing[*]}: the web_monitor test will be skipped"
fi
if command -v npm >/dev/null; then
  (cd web && npm ci --no-audit --no-fund && npm run build) ||
    echo "tests/run.sh: npm ci or the bundle build failed in web/: the web_monitor test will be skipped"
else
  echo "tests/run.sh: npm is not installed: the web_monitor test will be skipped"
fi

# Debian starts a system mosquitto on port 1883 when the package is
# installed; the tests start their own brokers and never use it.

jobs=$(nproc)
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
ninja -C build
if [ ! -f build-asan/build.ninja ]; then
  CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan

# Unit tests under the sanitizers first (fast), then the whole suite. Both
# runs are counted in the closing line.
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs --num-processes "$jobs" || status=1
# The whole suite includes the benchmark in quick mode (bench-smoke: what bench/run.sh --quick runs)
# and, as root, the Debian packages built, installed, used and purged (packages:
# tests/debian/test_packages.sh).
meson test -C build --print-errorlogs --num-processes "$jobs" || status=1

# Every libFuzzer target briefly (tests/fuzz/run.sh builds them with clang in
# build-fuzz/): a crash fails the run and names its file.
bash tests/fuzz/run.sh "${FOGPAY_FUZZ_SECONDS:-10}" || status=1

python3 - build-asan/meson-logs/testlog.json build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as log:
        for line in log:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
