#!/usr/bin/env bash
# deploy/demo.sh - the README's run command: a fogpay gateway (Mosquitto
# with the plugin, on an embedded SQLite ledger) and two devices paying each
# other through fogpay-agent, all on 127.0.0.1.
#
# Run it from anywhere, as root on a fresh Debian machine (or as a user with
# the packages installed). It installs what it needs, builds, provisions a
# legal entity and two devices with fogpayctl, starts the gateway, makes the
# payments, prints both agents' status and the gateway's balances and
# transfers, verifies the ledger, and stops the gateway. Everything lives in
# a temporary directory that is removed at the end (FOGPAY_DEMO_KEEP=1
# keeps it).
#
# Without --once it then keeps the gateway running with the devices paying
# each other every second or so (now and then a payment over the limit, to
# be refused), and prints the address of the live web monitor (web/,
# served by the gateway's Mosquitto on a websockets listener) with the
# operator's login, and of the Prometheus exporter's /metrics, until it is
# interrupted (Ctrl-C); then it exports and verifies the ledger as --once
# does. Scripts and CI use --once.
set -euo pipefail
cd "$(dirname "$0")/.."

once=false
case "${1:-}" in
  --once) once=true ;;
  "") ;;
  *) echo "usage: deploy/demo.sh [--once]" >&2; exit 2 ;;
esac

packages=(meson ninja-build pkg-config gcc mosquitto mosquitto-dev libmosquitto-dev
  libpaho-mqtt-dev libsqlite3-dev libcbor-dev libwolfssl-dev libcunit1-dev libcjson-dev
  libmicrohttpd-dev libxml2-dev python3)
# The monitor's bundle is built with node and npm (Debian's, unless a node
# is there already).
if ! $once; then
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "deploy/demo.sh: missing packages: ${missing[*]} (run as root)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build plugin/fogpay.so apps/fogpayctl/fogpayctl edge-agent/fogpay-agent \
  apps/fogpay-exporter/fogpay-exporter
if ! $once && [ ! -f web/dist/monitor.js ]; then
  (cd web && npm ci --no-audit --no-fund && npm run build)
fi

root=$PWD
ctl=$root/build/apps/fogpayctl/fogpayctl
agent=$root/build/edge-agent/fogpay-agent
plugin=$root/build/plugin/fogpay.so
work=$(mktemp -d /tmp/fogpay-demo-XXXXXX)
broker_pid=
exporter_pid=
finish() {
  [ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null && wait "$exporter_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  if [ "${FOGPAY_DEMO_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap finish EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
ws_port=$(free_port)
exporter_port=$(free_port)
db=$work/ledger.db

echo "== provisioning the gateway ledger ($db)"
"$ctl" keygen --out "$work/gateway.key" > "$work/gateway.pub"
"$ctl" --db "$db" init
entity=$("$ctl" --db "$db" create-entity --name "Demo Charging Ltd" --contact "ops@example.invalid")
echo "legal entity $entity (its name stays in the gateway's personal-data table)"
for device in charger-1 car-7; do
  "$agent" keygen --out "$work/$device.key" > "$work/$device.pub"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/$device.password"
  chmod 600 "$work/$device.password"
  "$ctl" --db "$db" register-device --device "$device" --public-key "$(cat "$work/$device.pub")" \
    --owner "$entity" --per-payment 20.00 --per-day 100.00 --currency EUR \
    --password-file "$work/$device.password"
done
"$ctl" --db "$db" fund --device car-7 --currency EUR --amount 50.00 --reference demo
"$ctl" --db "$db" fund --device charger-1 --currency EUR --amount 5.00 --reference demo
# The operator of the monitor and the exporter, with a generated password.
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/ops.password"
chmod 600 "$work/ops.password"
"$ctl" passwd --user ops --password-file "$work/ops.password" > "$work/operators"

echo "== starting the gateway on 127.0.0.1:$port"
{
  [ "$(id -u)" -eq 0 ] && echo "user root"
  cat <<EOF
per_listener_settings false
set_tcp_nodelay true
listener $port 127.0.0.1
allow_anonymous false
persistence false
log_dest file $work/mosquitto.log
plugin $plugin
plugin_opt_database $db
plugin_opt_gateway_id gw-demo
plugin_opt_gateway_key $work/gateway.key
plugin_opt_currencies EUR
plugin_opt_operators $work/operators
EOF
  $once || cat <<EOF
plugin_opt_metrics_interval 2000
plugin_opt_metrics_live true
listener $ws_port 127.0.0.1
protocol websockets
http_dir $root/web/dist
EOF
} > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" &
broker_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

pay() { # device payee amount reference
  "$agent" pay --dir "$work/$1.state" --device "$1" --key "$work/$1.key" \
    --password-file "$work/$1.password" --gateway-key "$(cat "$work/gateway.pub")" \
    -h 127.0.0.1 -p "$port" --to "$2" --amount "$3" --currency EUR --ref "$4"
}
status() {
  "$agent" status --dir "$work/$1.state" --device "$1" --key "$work/$1.key" \
    --gateway-key "$(cat "$work/gateway.pub")"
}

echo "== car-7 charges three times at charger-1, charger-1 buys a coffee from car-7"
pay car-7 charger-1 4.20 "kWh 12.0"
pay car-7 charger-1 3.85 "kWh 11.0"
pay car-7 charger-1 7.10 "kWh 20.3"
pay charger-1 car-7 1.50 coffee
echo "== a payment over the per-payment limit is refused with its reason"
pay car-7 charger-1 25.00 "too much" || echo "(refused, as it should be: exit status $?)"

echo "== what the devices know"
status car-7
status charger-1

run_on() {
  "$root/build/apps/fogpay-exporter/fogpay-exporter" -h 127.0.0.1 -p "$port" -u ops \
    --password-file "$work/ops.password" --listen "127.0.0.1:$exporter_port" 2>>"$work/exporter.log" &
  exporter_pid=$!
  online() { "$ctl" -h 127.0.0.1 -p "$port" -u ops --password-file "$work/ops.password" "$@"; }
  # No daily limit while the demo runs on: the devices pay all day.
  for device in charger-1 car-7; do
    online set-limits --device "$device" --currency EUR --per-payment 20.00 --per-day 0 >/dev/null
  done
  cat <<EOF

== the gateway keeps running and the devices keep paying; Ctrl-C stops it
   live web monitor: http://127.0.0.1:$ws_port/index.html
                     log in as ops, password $(cat "$work/ops.password")
   Prometheus:       http://127.0.0.1:$exporter_port/metrics
   metrics topics:   mosquitto_sub -p $port -u ops -P $(cat "$work/ops.password") -t '\$SYS/broker/fogpay/#' -v

EOF
  stop=false
  trap 'stop=true' INT TERM
  local round=0 payer payee amount
  while ! $stop; do
    round=$((round + 1))
    if [ $((round % 2)) -eq 0 ]; then payer=car-7 payee=charger-1; else payer=charger-1 payee=car-7; fi
    amount=$(printf '0.%02d' $((RANDOM % 90 + 10)))
    [ $((round % 15)) -eq 0 ] && amount=25.00 # over the per-payment limit: refused
    if [ $((round % 40)) -eq 0 ]; then
      online fund --device "$payer" --currency EUR --amount 10.00 --reference demo >/dev/null || true
    fi
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      echo; echo "the gateway stopped ($work/mosquitto.log says why)"
      break
    fi
    pay "$payer" "$payee" "$amount" "round $round" >>"$work/payments.log" 2>&1 || true
    printf '\r%d payments sent (the last: %s paid %s %s EUR)   ' "$round" "$payer" "$payee" "$amount"
    $stop || sleep 1 || true
  done
  trap - INT TERM
  echo
  kill "$exporter_pid" 2>/dev/null && wait "$exporter_pid" 2>/dev/null || true
  exporter_pid=
}
$once || run_on

kill "$broker_pid" 2>/dev/null || true # Ctrl-C reached it too
wait "$broker_pid" 2>/dev/null || true
broker_pid=

echo "== what the gateway's ledger holds"
"$ctl" --db "$db" export --format csv
"$ctl" --db "$db" verify
