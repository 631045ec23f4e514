#!/bin/sh
# provision.sh - an example of provisioning a fogpay gateway with fogpayctl.
#
# Offline (before the broker starts), on the database file:
#   deploy/provision.sh offline /var/lib/fogpay/ledger.db
# Online (a running gateway, as an operator over MQTT):
#   FOGPAY_HOST=gw.example FOGPAY_PORT=8884 FOGPAY_USER=ops \
#       FOGPAY_PASSWORD_FILE=/etc/fogpay/ops.pw deploy/provision.sh online
#
# Both ways run the same commands through the same control handler; the
# operator's password is read from FOGPAY_PASSWORD_FILE, and the device's
# (when DEVICE_PASSWORD_FILE names one) from that file, never from the
# command line.
#
# It creates one legal entity, registers one device owned by it with the
# public key in device.pub (written by the device's own keygen; the private
# key never leaves the device), sets its limits and funds its wallet.
# Personal data (the entity's name and contact) goes only into the ledger's
# personal table; everything else names the entity by its pseudonymous id.
set -eu

FOGPAYCTL=${FOGPAYCTL:-fogpayctl}
DEVICE=${DEVICE:-charger-0001}
PUBKEY_FILE=${PUBKEY_FILE:-device.pub}
CURRENCY=${CURRENCY:-EUR}
DEVICE_PASSWORD_FILE=${DEVICE_PASSWORD_FILE:-}

usage() {
    echo "usage: $0 offline DBFILE | online" >&2
    exit 2
}

[ $# -ge 1 ] || usage
[ -r "$PUBKEY_FILE" ] || { echo "$0: cannot read the device public key $PUBKEY_FILE" >&2; exit 1; }
PUBKEY=$(cat "$PUBKEY_FILE")

case "$1" in
offline)
    [ $# -eq 2 ] || usage
    DB=$2
    [ -e "$DB" ] || "$FOGPAYCTL" --db "$DB" init
    set -- --db "$DB"
    ;;
online)
    [ $# -eq 1 ] || usage
    set -- -h "${FOGPAY_HOST:-localhost}" -p "${FOGPAY_PORT:-8884}" -u "${FOGPAY_USER:?}" \
        --password-file "${FOGPAY_PASSWORD_FILE:?}"
    if [ -n "${FOGPAY_CAFILE:-}" ]; then
        set -- "$@" --cafile "$FOGPAY_CAFILE"
    fi
    ;;
*)
    usage
    ;;
esac

# "$@" is now how to reach the ledger: the file, or the gateway.
ENTITY=$("$FOGPAYCTL" "$@" create-entity --name "Example Charging Ltd" \
    --contact "ops@example.invalid")
if [ -n "$DEVICE_PASSWORD_FILE" ]; then
    "$FOGPAYCTL" "$@" register-device --device "$DEVICE" --public-key "$PUBKEY" \
        --owner "$ENTITY" --per-payment 50.00 --per-day 200.00 --wallet-max 500.00 \
        --currency "$CURRENCY" --password-file "$DEVICE_PASSWORD_FILE"
else
    "$FOGPAYCTL" "$@" register-device --device "$DEVICE" --public-key "$PUBKEY" \
        --owner "$ENTITY" --per-payment 50.00 --per-day 200.00 --wallet-max 500.00 \
        --currency "$CURRENCY"
fi
"$FOGPAYCTL" "$@" fund --device "$DEVICE" --currency "$CURRENCY" \
    --amount 100.00 --reference initial
"$FOGPAYCTL" "$@" balance --device "$DEVICE" --currency "$CURRENCY"
"$FOGPAYCTL" "$@" verify-ledger
