#!/bin/sh
# provision.sh - an example of provisioning a fogpay gateway with fogpayctl.
#
# Offline (before the broker starts), on the database file:
#   deploy/provision.sh offline /var/lib/fogpay/ledger.db
# Online (a running gateway, as an operator over MQTT):
#   FOGPAY_HOST=gw.example FOGPAY_PORT=8884 FOGPAY_USER=ops FOGPAY_PASS=... \
#       deploy/provision.sh online
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
    ENTITY=$("$FOGPAYCTL" --db "$DB" create-entity --name "Example Charging Ltd" \
        --contact "ops@example.invalid")
    "$FOGPAYCTL" --db "$DB" register-device --device "$DEVICE" --public-key "$PUBKEY" \
        --owner "$ENTITY" --per-payment 50.00 --per-day 200.00 --wallet-max 500.00 \
        --currency "$CURRENCY"
    "$FOGPAYCTL" --db "$DB" fund --device "$DEVICE" --currency "$CURRENCY" \
        --amount 100.00 --reference initial
    "$FOGPAYCTL" --db "$DB" verify
    ;;
online)
    [ $# -eq 1 ] || usage
    CONN="-h ${FOGPAY_HOST:-localhost} -p ${FOGPAY_PORT:-8884} -u ${FOGPAY_USER:?} -P ${FOGPAY_PASS:?}"
    [ -n "${FOGPAY_CAFILE:-}" ] && CONN="$CONN --cafile $FOGPAY_CAFILE"
    # shellcheck disable=SC2086
    ENTITY=$("$FOGPAYCTL" $CONN createLegalEntity --name "Example Charging Ltd" \
        --contact "ops@example.invalid" | sed -n 's/.*"entity":[[:space:]]*"\([^"]*\)".*/\1/p')
    [ -n "$ENTITY" ] || { echo "$0: createLegalEntity gave no entity id" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$FOGPAYCTL" $CONN registerDevice --device "$DEVICE" --public-key "$PUBKEY" \
        --owner "$ENTITY" --per-payment 50.00 --per-day 200.00 --wallet-max 500.00 \
        --currency "$CURRENCY"
    # shellcheck disable=SC2086
    "$FOGPAYCTL" $CONN fundWallet --device "$DEVICE" --currency "$CURRENCY" \
        --amount 100.00 --reference initial
    # shellcheck disable=SC2086
    "$FOGPAYCTL" $CONN getBalance --device "$DEVICE" --currency "$CURRENCY"
    ;;
*)
    usage
    ;;
esac
