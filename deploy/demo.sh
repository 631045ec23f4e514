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
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc mosquitto mosquitto-dev libmosquitto-dev
  libpaho-mqtt-dev libsqlite3-dev libcbor-dev libwolfssl-dev libcunit1-dev libcjson-dev
  libmicrohttpd-dev libxml2-dev python3)
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
ninja -C build plugin/fogpay.so apps/fogpayctl/fogpayctl edge-agent/fogpay-agent

root=$PWD
ctl=$root/build/apps/fogpayctl/fogpayctl
agent=$root/build/edge-agent/fogpay-agent
plugin=$root/build/plugin/fogpay.so
work=$(mktemp -d /tmp/fogpay-demo-XXXXXX)
broker_pid=
finish() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  if [ "${FOGPAY_DEMO_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap finish EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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

kill "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
broker_pid=

echo "== what the gateway's ledger holds"
"$ctl" --db "$db" export --format csv
"$ctl" --db "$db" verify
