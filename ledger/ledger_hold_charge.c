/*
 * ledger_hold_charge.c - pay-per-use from a hold: a meter bound to a
 * tariff and to an open hold of its own device is charged from that hold,
 * so that one authorisation pays a whole session and its rest goes back.
 *
 * Design. The binding names the hold (meter_bindings.hold_position); the
 * charge of each settled reading is computed as for a wallet
 * (ledger_meter.c: the exact arithmetic, the carry, the minimum) and paid
 * as a hold charge (transfer kind 18) from the currency's holds account to
 * the tariff's payee, split by the payee's fee schedule like every charge,
 * naming the hold by related_position. The hold's row keeps what its
 * charges took (charged_minor); its rest, amount less that, is what it
 * still holds, so the holds account equals the open holds' rests and a
 * capture, release or expiry moves at most the rest (ledger_hold.c). The
 * hold must be the device's own, open, in the tariff's currency and to the
 * tariff's payee, when it is bound and at every reading (a newer tariff
 * version may name another); a charge over the rest is refused
 * (hold_insufficient) and, as every refused reading, advances nothing:
 * the consumption stays unsettled on the meter and is charged once, when
 * the meter is bound again, never from the hold's rest, which goes back to
 * the payer.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

/* Whether hold h pays the payee of tariff t: the offering device's wallet,
 * or the payee entity's account in the hold's currency. */
static fogpay_error charge__same_payee(fogpay_ledger *l, const fogpay_hold *h,
                                       const fogpay_tariff *t, bool *same)
{
    *same = false;
    if (t->payee_entity[0] == '\0') {
        *same = strcmp(h->payee_device, t->device_id) == 0;
        return FOGPAY_OK;
    }
    if (h->payee_device[0] != '\0') {
        return FOGPAY_OK;
    }
    ledger_account a;
    fogpay_error err =
        ledger__account_find_db(l, LEDGER_ACCOUNT_ENTITY, t->payee_entity, h->currency, &a);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK;
    }
    *same = err == FOGPAY_OK && a.id == h->payee_account;
    return err;
}

fogpay_error ledger__hold_payer_check(fogpay_ledger *l, uint64_t hold_id, const char *device_id,
                                      uint64_t now_ms, fogpay_hold *out, size_t *index)
{
    fogpay_hold h;
    size_t at = SIZE_MAX;
    fogpay_error err = ledger__hold_find(l, hold_id, &h, &at);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_HOLD_UNKNOWN;
    }
    if (err == FOGPAY_OK && strcmp(h.payer_device, device_id) != 0) {
        err = FOGPAY_ERR_HOLD_FOREIGN;
    }
    if (err == FOGPAY_OK && (h.state != FOGPAY_HOLD_OPEN || now_ms >= h.expires_ms)) {
        err = FOGPAY_ERR_HOLD_RESOLVED;
    }
    if (err == FOGPAY_OK) {
        *out = h;
        if (index != NULL) {
            *index = at;
        }
    }
    return err;
}

fogpay_error ledger__hold_tariff_check(fogpay_ledger *l, const fogpay_hold *h,
                                       const fogpay_tariff *t)
{
    if (h->currency != t->currency) {
        return FOGPAY_ERR_HOLD_TARIFF_CURRENCY;
    }
    bool same = false;
    fogpay_error err = charge__same_payee(l, h, t, &same);
    return err == FOGPAY_OK && !same ? FOGPAY_ERR_HOLD_TARIFF_PAYEE : err;
}

fogpay_error ledger__hold_charge_check(fogpay_ledger *l, uint64_t hold_id, const char *device_id,
                                       const fogpay_tariff *t, uint64_t now_ms, fogpay_hold *out,
                                       size_t *index)
{
    fogpay_hold h;
    fogpay_error err = ledger__hold_payer_check(l, hold_id, device_id, now_ms, &h, index);
    if (err == FOGPAY_OK) {
        err = ledger__hold_tariff_check(l, &h, t);
    }
    if (err == FOGPAY_OK && out != NULL) {
        *out = h;
    }
    return err;
}

/* The payee device's wallet maximum (none for an account payee) against
 * charge_minor more. */
static fogpay_error charge__payee_room(fogpay_ledger *l, const fogpay_hold *h,
                                       uint64_t charge_minor)
{
    uint64_t wallet_max = 0;
    fogpay_error err = FOGPAY_OK;
    if (h->payee_device[0] != '\0') {
        err = ledger__payee_wallet_max(l, h->payee_device, &wallet_max);
    }
    ledger_account payee;
    if (err == FOGPAY_OK && wallet_max != 0) {
        err = ledger__account_get(l, h->payee_account, &payee);
        if (err == FOGPAY_OK &&
            (payee.balance < 0 || (uint64_t)payee.balance + charge_minor > wallet_max)) {
            err = FOGPAY_ERR_WALLET_MAX;
        }
    }
    return err;
}

/* Appends the hold charge of reading u from h: holds account to the
 * payee, the reading as its origin, split by the payee's schedule. */
static fogpay_error charge__append(fogpay_ledger *l, const fogpay_hold *h, const fogpay_usage *u,
                                   const uint8_t hash[FOGPAY_HASH_BYTES], const fogpay_tariff *t,
                                   uint64_t charge_minor, uint64_t now_ms, fogpay_transfer *out)
{
    ledger_account payee;
    memset(out, 0, sizeof *out);
    fogpay_error err = ledger__hold_account(l, h->currency, &out->debit_account);
    if (err == FOGPAY_OK) {
        err = ledger__account_get(l, h->payee_account, &payee);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &payee, now_ms, out->payee_entity);
    }
    fogpay_fee_schedule schedule;
    bool fees = false;
    if (err == FOGPAY_OK) {
        err = ledger__fee_schedule_for(l, &payee, h->currency, now_ms, &schedule, &fees);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    out->kind = FOGPAY_TRANSFER_HOLD_CHARGE;
    out->credit_account = h->payee_account;
    out->amount_minor = charge_minor;
    out->currency = h->currency;
    out->time_ms = now_ms;
    out->related_position = h->id;
    snprintf(out->device_id, sizeof out->device_id, "%s", u->device_id);
    out->seq = u->seq;
    memcpy(out->intent_hash, hash, FOGPAY_HASH_BYTES);
    snprintf(out->meter_id, sizeof out->meter_id, "%s", u->meter_id);
    snprintf(out->tariff_id, sizeof out->tariff_id, "%s", t->tariff_id);
    return ledger__split_append(l, out, fees ? &schedule : NULL, NULL);
}

fogpay_error ledger__hold_charge(fogpay_ledger *l, uint64_t hold_id, const fogpay_usage *u,
                                 const uint8_t hash[FOGPAY_HASH_BYTES], const fogpay_tariff *t,
                                 uint64_t charge_minor, uint64_t now_ms,
                                 fogpay_usage_settlement *out)
{
    fogpay_hold h;
    size_t index = SIZE_MAX;
    fogpay_error err = ledger__hold_charge_check(l, hold_id, u->device_id, t, now_ms, &h, &index);
    if (err == FOGPAY_OK && charge_minor > h.amount_minor - h.charged_minor) {
        err = FOGPAY_ERR_HOLD_INSUFFICIENT;
    }
    if (err == FOGPAY_OK) {
        err = charge__payee_room(l, &h, charge_minor);
    }
    if (err == FOGPAY_OK) {
        err = charge__append(l, &h, u, hash, t, charge_minor, now_ms, &out->transfer);
    }
    if (err == FOGPAY_OK) {
        err = ledger__hold_add_charge(l, &h, index, charge_minor);
    }
    ledger_account payer;
    if (err == FOGPAY_OK) {
        err = ledger__account_get(l, h.payer_account, &payer);
    }
    if (err == FOGPAY_OK) {
        out->balance_after_minor = payer.balance;
        out->hold_id = h.id;
        out->hold_left_minor = h.amount_minor - h.charged_minor;
    }
    return err;
}
