#!/usr/bin/env bash
# tests/debian/test_packages.sh - the Debian packages, built, checked,
# installed, used and purged on this machine:
#
#   1. dpkg-buildpackage -us -uc -b in a temporary copy of the tree (without
#      the package's own checks: the suite runs them);
#   2. lintian on the .changes: any error (E:) fails, and so does any tag
#      of a manual page missing or wrong (every program has its page);
#   3. apt-get install of fogpay-gateway, fogpay-agent, libfogpay-agent-dev,
#      fogpay-cloud and fogpay-issuer from the built files;
#   4. a gateway provisioned the packaged way: the gateway key made with the
#      packaged fogpayctl, the ledger in /var/lib/fogpay (the mosquitto
#      user's), two devices with keys from the packaged fogpay-agent, and
#      /etc/mosquitto/conf.d/fogpay.conf enabled as its comment says;
#   5. Mosquitto started on that snippet and a free port of 127.0.0.1 (not
#      the system's service), dropping to the mosquitto user as Debian's
#      broker does; one payment by the packaged fogpay-agent, one by
#      firmware built against the packaged library with its pkg-config
#      file alone, one by the command of fogpay-agent.service as its user
#      on /etc/fogpay/agent.conf, provisioned as that file says;
#   6. the cloud provisioned as /etc/fogpay/cloud.conf says, two workers
#      run by the command of fogpay-cloud@.service as its user on a plain
#      Mosquitto, the gateway bridged to it with the snippet's cloud key:
#      every transfer reaches the cloud store, which verifies;
#   7. the balances read with the packaged fogpayctl and the ledger
#      verified, the units checked by systemd-analyze; the packages
#      installed again over themselves (as an upgrade runs their scripts),
#      keeping the ledger, its owner and the enabled snippet;
#   8. apt-get purge (with what apt installed for them), and the machine
#      checked to be as it was: no fogpay package, file, directory, user
#      or group left, the same packages installed.
#
# Needs root (it installs packages); otherwise, or without the packaging
# tools, or where fogpay is installed already, it prints why and skips
# (exit 77). tests/run.sh installs the tools. Usage: test_packages.sh [SRCDIR]
set -euo pipefail

src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
packages=(fogpay-gateway fogpay-agent libfogpay-agent-dev fogpay-cloud fogpay-issuer)
skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || skip "installing packages needs root"
for tool in dpkg-buildpackage dh lintian apt-get mosquitto pkg-config cc runuser flock python3 hostname; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (tests/run.sh installs it)"
done
# One run at a time on a machine: another tree's run would find the
# packages installed, or purge them under this one.
exec 9> /run/lock/fogpay-packages-test.lock
flock -w 300 9 || skip "another run of this test held the machine for 5 minutes"
for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
        skip "$p is installed on this machine already; the test would remove it"
    fi
done
for path in /etc/fogpay /var/lib/fogpay /var/lib/fogpay-agent /var/lib/fogpay-cloud \
    /etc/mosquitto/conf.d/fogpay.conf; do
    [ ! -e "$path" ] || skip "$path exists on this machine; the test would change it"
done

work=$(mktemp -d /tmp/fogpay-packages-XXXXXX)
chmod 0755 "$work"
broker_pid=
cloud_pids=()
installed_by_us=0
pulled=()
finish() {
    local status=$?
    for pid in $broker_pid "${cloud_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$installed_by_us" = 1 ]; then
        rm -f /var/lib/fogpay/ledger.db /var/lib/fogpay/ledger.db-wal \
            /var/lib/fogpay/ledger.db-shm /etc/fogpay/gateway.key /etc/fogpay/gateway.pub
        rm -rf /var/lib/fogpay-agent/* /var/lib/fogpay-cloud/*
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${packages[@]}" "${pulled[@]}" \
            > /dev/null 2>&1 || true
    fi
    if [ "$status" -ne 0 ]; then
        for log in "$work"/*.log; do
            echo "--- $(basename "$log")"
            tail -n 15 "$log"
        done
    fi
    rm -rf "$work"
}
trap finish EXIT
# meson's timeout ends the test with SIGTERM: the machine is cleaned then too.
trap 'exit 143' TERM INT

installed_packages() {
    dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' | grep -v ' not-installed$' | sort
}
installed_packages > "$work/packages.before"
getent passwd | cut -d: -f1 | sort > "$work/users.before"
getent group | cut -d: -f1 | sort > "$work/groups.before"

echo "== building the packages in a copy of the tree"
mkdir "$work/src" "$work/src/fogpay"
# The tree's files as they are, committed or not, without what git ignores
# (builds, fuzz corpora); outside git, without the build directories.
if git -C "$src" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            [ ! -e "$file" ] || printf '%s\0' "$file"
        done | tar --null -T - -cf -) | tar -C "$work/src/fogpay" -xf -
else
    tar -C "$src" --exclude=./.git --exclude='./build*' --exclude=./fuzz-build --exclude=./run \
        -cf - . | tar -C "$work/src/fogpay" -xf -
fi
if ! (cd "$work/src/fogpay" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -us -uc -b -Pnocheck > "$work/build.log" 2>&1); then
    tail -n 40 "$work/build.log"
    fail "dpkg-buildpackage failed"
fi
changes=$(ls "$work"/src/fogpay_*.changes)

echo "== lintian $(basename "$changes")"
lintian_status=0
lintian "$changes" > "$work/lintian.log" 2>&1 || lintian_status=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
# 1 is "tags found" (any error among them fails below), 2 a lintian that did not run.
[ "$lintian_status" -le 1 ] || fail "lintian did not run (exit status $lintian_status)"
if grep -q '^E:' "$work/lintian.log"; then
    fail "lintian reports errors"
fi
# Every program has its manual page, and lintian finds nothing wrong in one.
if grep -E '^[EW]: .*(no-manual-page|manpage|groff-message)' "$work/lintian.log"; then
    fail "lintian finds a manual page missing or wrong"
fi

echo "== installing ${packages[*]}"
debs=()
for p in "${packages[@]}"; do
    debs+=("$(ls "$work"/src/"$p"_*.deb)")
done
installed_by_us=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}" \
    > "$work/install.log" 2>&1 || {
    tail -n 20 "$work/install.log"
    fail "apt-get install failed"
}
# What apt installed for them goes again with them at the purge.
installed_packages > "$work/packages.installed"
while read -r name; do
    case " ${packages[*]} " in
    *" ${name%:*} "*) ;;
    *) pulled+=("$name") ;;
    esac
done < <(comm -13 <(cut -d' ' -f1 "$work/packages.before") <(cut -d' ' -f1 "$work/packages.installed"))
[ ${#pulled[@]} -eq 0 ] || echo "(apt installed ${pulled[*]} with them)"
[ "$(stat -c %U "/var/lib/fogpay")" = mosquitto ] || fail "/var/lib/fogpay is not the mosquitto user's"
for user in fogpay-agent fogpay-cloud; do
    getent passwd "$user" >/dev/null || fail "the package made no user $user"
done
[ -x /usr/bin/fogpay-exporter ] || fail "fogpay-gateway holds no fogpay-exporter"
/usr/bin/fogpay-issuer --db "$work/issuer.db" init >/dev/null || fail "the packaged fogpay-issuer cannot make its ledger"

echo "== provisioning the gateway the packaged way"
ctl=/usr/bin/fogpayctl
agent=/usr/bin/fogpay-agent
as_broker() { runuser -u mosquitto -- "$@"; }
"$ctl" keygen --out /etc/fogpay/gateway.key > "$work/gateway.pub"
chown mosquitto:mosquitto /etc/fogpay/gateway.key
db=/var/lib/fogpay/ledger.db
as_broker "$ctl" --db "$db" init
entity=$(as_broker "$ctl" --db "$db" create-entity --name "Packages Test Ltd")
for device in charger-1 car-7; do
    "$agent" keygen --out "$work/$device.key" > "$work/$device.pub"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/$device.password"
    chmod 0644 "$work/$device.password"
    as_broker "$ctl" --db "$db" register-device --device "$device" \
        --public-key "$(cat "$work/$device.pub")" --owner "$entity" --per-payment 20.00 \
        --per-day 100.00 --currency EUR --password-file "$work/$device.password"
done
as_broker "$ctl" --db "$db" fund --device car-7 --currency EUR --amount 50.00 --reference test
as_broker "$ctl" --db "$db" fund --device charger-1 --currency EUR --amount 5.00 --reference test

# The service's device, provisioned as /etc/fogpay/agent.conf says.
as_agent() { runuser -u fogpay-agent -- "$@"; }
as_agent "$agent" keygen --out /var/lib/fogpay-agent/device.key > "$work/meter-3.pub"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/meter-3.password"
chmod 0644 "$work/meter-3.password"
install -m 0600 -o fogpay-agent -g fogpay-agent "$work/meter-3.password" /var/lib/fogpay-agent/password
cp "$work/gateway.pub" /etc/fogpay/gateway.pub
as_broker "$ctl" --db "$db" register-device --device meter-3 \
    --public-key "$(cat "$work/meter-3.pub")" --owner "$entity" --per-payment 20.00 \
    --per-day 100.00 --currency EUR --password-file "$work/meter-3.password"
as_broker "$ctl" --db "$db" fund --device meter-3 --currency EUR --amount 10.00 --reference test

echo "== provisioning the cloud as /etc/fogpay/cloud.conf says"
as_cloud() { runuser -u fogpay-cloud -- "$@"; }
store=sqlite:/var/lib/fogpay-cloud/cloud.db
as_cloud fogpay-cloud --store "$store" init
as_cloud fogpay-cloud keygen --out /var/lib/fogpay-cloud/cloud.key > "$work/cloud.pub"
as_cloud fogpay-cloud --store "$store" add-gateway --id gw-packages \
    --public-key "$(cat "$work/gateway.pub")"
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # port pid
    for _ in $(seq 100); do
        (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
        kill -0 "$2" 2>/dev/null || fail "the broker on port $1 exited"
        sleep 0.1
    done
    fail "nothing listens on port $1"
}
cloud_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n' \
    "$cloud_port" > "$work/cloud-broker.conf"
mosquitto -c "$work/cloud-broker.conf" > "$work/cloud-broker.log" 2>&1 &
cloud_pids+=($!)
wait_port "$cloud_port" "${cloud_pids[0]}"
sed -i -e "s|--broker ssl://cloud.example:8883 --cafile /etc/fogpay/tls/ca.crt |--broker tcp://127.0.0.1:$cloud_port |" \
    -e 's| --username ingest --password-file /var/lib/fogpay-cloud/broker.password"$|"|' \
    /etc/fogpay/cloud.conf
grep -q "^FOGPAY_INGEST_OPTIONS=\"--broker tcp://127.0.0.1:$cloud_port --key [^ ]*\"$" /etc/fogpay/cloud.conf ||
    fail "cloud.conf has changed its shape"
unit=/lib/systemd/system/fogpay-cloud@.service
[ "$(sed -n 's/^User=//p' "$unit")" = fogpay-cloud ] || fail "the workers run as another user"
for worker in 1 2; do
    # The unit's own command for instance $worker, its specifiers filled
    # and $FOGPAY_INGEST_OPTIONS split as systemd does.
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e "s/%H/$(hostname)/g" -e "s/%i/$worker/g")
    (
        set -a
        # shellcheck disable=SC1091
        . /etc/fogpay/cloud.conf
        eval "exec runuser -u fogpay-cloud -- $exec_start"
    ) > "$work/ingest-$worker.log" 2>&1 &
    cloud_pids+=($!)
done
for worker in 1 2; do
    for _ in $(seq 100); do
        grep -q 'fogpay-ingest: ready' "$work/ingest-$worker.log" && break
        sleep 0.1
    done
    grep -q 'fogpay-ingest: ready' "$work/ingest-$worker.log" || fail "worker $worker is not ready"
done

# Enabled as the snippet's own comment says, with the cloud's key; the
# test's broker includes only this snippet and a bridge to the cloud's
# broker, beside a listener of its own.
sed -i 's/^#\([a-z]\)/\1/' /etc/mosquitto/conf.d/fogpay.conf
sed -i 's/^plugin_opt_gateway_id .*/plugin_opt_gateway_id gw-packages/' \
    /etc/mosquitto/conf.d/fogpay.conf
sed -i "s|^# plugin_opt_cloud_key .*|plugin_opt_cloud_key $(cat "$work/cloud.pub")|" \
    /etc/mosquitto/conf.d/fogpay.conf
grep -q "^plugin /usr/lib/.*/mosquitto/fogpay.so$" /etc/mosquitto/conf.d/fogpay.conf ||
    fail "the snippet does not load the packaged plugin"
grep -q "^plugin_opt_cloud_key ed25519:" /etc/mosquitto/conf.d/fogpay.conf ||
    fail "the snippet has no cloud key to enable"
mkdir "$work/conf.d"
ln -s /etc/mosquitto/conf.d/fogpay.conf "$work/conf.d/fogpay.conf"
cat > "$work/conf.d/sync.conf" <<EOF
connection cloud
address 127.0.0.1:$cloud_port
remote_clientid bridge-gw-packages
cleansession false
restart_timeout 1
topic fogpay/v1/gw/gw-packages/batch out 1
topic fogpay/v1/gw/gw-packages/ack in 1
EOF
port=$(free_port)
cat > "$work/mosquitto.conf" <<EOF
include_dir $work/conf.d
listener $port 127.0.0.1
persistence false
log_dest stderr
EOF

echo "== Mosquitto on 127.0.0.1:$port with the packaged configuration"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker_pid=$!
wait_port "$port" "$broker_pid"
[ "$(stat -c %U "/proc/$broker_pid")" = mosquitto ] || fail "the broker does not run as mosquitto"

echo "== car-7 pays charger-1 4.20 EUR with the packaged fogpay-agent"
"$agent" pay --dir "$work/car-7.state" --device car-7 --key "$work/car-7.key" \
    --password-file "$work/car-7.password" --gateway-key "$work/gateway.pub" \
    -h 127.0.0.1 -p "$port" --to charger-1 --amount 4.20 --currency EUR --ref "kWh 12.0"

echo "== charger-1 pays car-7 1.00 EUR from firmware built on libfogpay-agent-dev"
# shellcheck disable=SC2046
cc -std=c11 -o "$work/firmware" "$here/firmware.c" $(pkg-config --static --cflags --libs fogpay-agent)
"$work/firmware" "$work/charger-1.state" "$work/charger-1.key" charger-1 \
    "$(cat "$work/gateway.pub")" "$(cat "$work/charger-1.password")" "$port" car-7 1.00

echo "== meter-3 pays charger-1 0.50 EUR as fogpay-agent.service would run it"
unit=/lib/systemd/system/fogpay-agent.service
condition=$(sed -n 's/^ConditionPathExists=//p' "$unit")
[ -e "$condition" ] || fail "provisioned as agent.conf says, the service's condition $condition fails"
sed -i -e 's/--device charger-1 /--device meter-3 /' \
    -e "s|-h gateway.example -p 8884 --cafile /etc/fogpay/tls/ca.crt |-h 127.0.0.1 -p $port |" \
    /etc/fogpay/agent.conf
grep -q -- "--device meter-3 .*-p $port " /etc/fogpay/agent.conf || fail "agent.conf has changed its shape"
[ "$(sed -n 's/^User=//p' "$unit")" = fogpay-agent ] || fail "the service runs as another user"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
(
    set -a
    # shellcheck disable=SC1091
    . /etc/fogpay/agent.conf
    # The unit's own command, its $FOGPAY_AGENT_OPTIONS split as systemd
    # splits it: once paying, once the daemon until its journal is empty.
    eval "as_agent ${exec_start% run} pay --to charger-1 --amount 0.50 --currency EUR"
    eval "as_agent $exec_start --drain"
)

echo "== the cloud's workers store every transfer"
cloud_transfers() {
    as_cloud fogpay-cloud --store "$store" transfers --gateway gw-packages --format csv | tail -n +2 | wc -l
}
for _ in $(seq 150); do
    [ "$(cloud_transfers)" -eq 6 ] && break
    sleep 0.1
done
[ "$(cloud_transfers)" -eq 6 ] || fail "the cloud has $(cloud_transfers) of the 6 transfers"
as_cloud fogpay-cloud --store "$store" verify

kill "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
broker_pid=
for pid in "${cloud_pids[@]}"; do
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
cloud_pids=()

echo "== the balances, read with the packaged fogpayctl"
expect_balance() { # device expected-line
    local got
    got=$(as_broker "$ctl" --db "$db" balance --device "$1" --currency EUR)
    echo "$got"
    [ "$got" = "$2" ] || fail "expected '$2'"
}
expect_balance car-7 "car-7: balance 46.80 EUR, held 0.00"
expect_balance charger-1 "charger-1: balance 8.70 EUR, held 0.00"
expect_balance meter-3 "meter-3: balance 9.50 EUR, held 0.00"
as_broker "$ctl" --db "$db" verify

echo "== the services' units"
for unit in fogpay-agent.service fogpay-cloud@.service; do
    [ -f "/lib/systemd/system/$unit" ] || fail "no unit $unit"
done
if command -v systemd-analyze >/dev/null; then
    cp /lib/systemd/system/fogpay-cloud@.service "$work/fogpay-cloud@1.service"
    systemd-analyze verify /lib/systemd/system/fogpay-agent.service "$work/fogpay-cloud@1.service"
fi

echo "== installing the packages again over themselves"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall --no-install-recommends "${debs[@]}" \
    > "$work/reinstall.log" 2>&1 || {
    tail -n 20 "$work/reinstall.log"
    fail "apt-get install --reinstall failed"
}
[ "$(stat -c %U:%a /var/lib/fogpay)" = mosquitto:750 ] || fail "/var/lib/fogpay changed its owner or mode"
grep -q "^plugin_opt_cloud_key ed25519:" /etc/mosquitto/conf.d/fogpay.conf ||
    fail "the enabled snippet was replaced"
expect_balance car-7 "car-7: balance 46.80 EUR, held 0.00"
as_broker "$ctl" --db "$db" verify

echo "== purging ${packages[*]}"
rm -f "$db" "$db-wal" "$db-shm" /etc/fogpay/gateway.key /etc/fogpay/gateway.pub
rm -rf /var/lib/fogpay-agent/* /var/lib/fogpay-cloud/*
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${packages[@]}" "${pulled[@]}" \
    > "$work/purge.log" 2>&1 || {
    tail -n 20 "$work/purge.log"
    fail "apt-get purge failed"
}
installed_by_us=0
installed_packages > "$work/packages.after"
getent passwd | cut -d: -f1 | sort > "$work/users.after"
getent group | cut -d: -f1 | sort > "$work/groups.after"
diff "$work/packages.before" "$work/packages.after" || fail "the installed packages changed"
diff "$work/users.before" "$work/users.after" || fail "the users changed"
diff "$work/groups.before" "$work/groups.after" || fail "the groups changed"
for path in /etc/fogpay /var/lib/fogpay /var/lib/fogpay-agent /var/lib/fogpay-cloud \
    /etc/mosquitto/conf.d/fogpay.conf /usr/bin/fogpayctl /usr/bin/fogpay-exporter \
    /usr/bin/fogpay-issuer; do
    [ ! -e "$path" ] || fail "$path is left after the purge"
done
left=$(find /etc/systemd /var/lib/systemd -name '*fogpay*' 2>/dev/null)
[ -z "$left" ] || fail "left after the purge: $left"
echo "ok: built, lintian clean of errors, installed, paid, purged"
