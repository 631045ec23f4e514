/*
 * ledger_meter.c - settling the readings of bound meters: the exact charge
 * arithmetic, the checks of a reading against its meter's state, and the
 * charge paid from the device's wallet to the tariff's payee.
 *
 * Design. A reading of a bound meter settles in the operation that stores
 * it: the consumption since the meter's last settled reading is priced at
 * the tariff version applying now, the charge is floor((consumption * num
 * + carry) / den) and the remainder is the new carry, so the charges of a
 * binding under one version sum to floor(total * num / den) however the
 * readings are spaced (fogpay_tariff_charge, 128-bit, exact). A version
 * other than the one the carry was counted in starts the carry at 0: the
 * fraction under one minor unit of the old price is not charged. The
 * minimum charge applies per reading whose charge is positive, so a
 * binding's charges are that sum plus what the minimum adds. A refused
 * reading leaves everything as it was, its state included (the operation
 * rolls back and the hot state with it): the next reading's consumption
 * starts from the same last settled reading, so what the refused one
 * would have charged is charged once by the next one that settles, never
 * twice and never lost. Every read comes from the hot state (the device's
 * entry holds its meters, each with its tariff version). A meter bound
 * with a hold is charged from it instead of the wallet
 * (ledger_hold_charge.c).
 *
 * Ownership. Nothing here allocates; the settlement is copied to the
 * caller's struct only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

/* The exact product of two values under 2^63: GCC's and Clang's 128-bit
 * integer (__extension__: not ISO C, which has no type this wide). */
__extension__ typedef unsigned __int128 meter_u128;

fogpay_error fogpay_tariff_charge(uint64_t delta, uint64_t num, uint64_t den, uint64_t carry,
                                  uint64_t *charge_minor, uint64_t *carry_out)
{
    if (charge_minor == NULL || carry_out == NULL || num == 0 || den == 0 ||
        delta > FOGPAY_STORED_INT_MAX || num > FOGPAY_STORED_INT_MAX ||
        den > FOGPAY_STORED_INT_MAX || carry >= den) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    /* Under 2^63 * 2^63 + 2^63 < 2^127: no overflow. */
    meter_u128 value = (meter_u128)delta * num + carry;
    meter_u128 charge = value / den;
    if (charge > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_CHARGE_TOO_LARGE;
    }
    *charge_minor = (uint64_t)charge;
    *carry_out = (uint64_t)(value % den);
    return FOGPAY_OK;
}

/* A reading against its meter's state and tariff: the unit, strictly
 * increasing, within FOGPAY_METER_DELTA_MAX. *consumption since the last
 * settled reading (0 for a baseline). */
static fogpay_error meter__check_reading(const fogpay_usage *u, const fogpay_meter *m,
                                         const fogpay_tariff *t, uint64_t *consumption)
{
    if (strcmp(u->unit, t->unit) != 0) {
        return FOGPAY_ERR_UNIT_MISMATCH;
    }
    *consumption = 0;
    if (!m->has_last) {
        return FOGPAY_OK;
    }
    if (u->quantity < m->last_quantity) {
        return FOGPAY_ERR_READING_BACKWARDS;
    }
    if (u->quantity == m->last_quantity) {
        return FOGPAY_ERR_READING_REPEATED;
    }
    if (u->quantity - m->last_quantity > FOGPAY_METER_DELTA_MAX) {
        return FOGPAY_ERR_READING_IMPLAUSIBLE;
    }
    *consumption = u->quantity - m->last_quantity;
    return FOGPAY_OK;
}

/* Pays charge_minor of the reading to the tariff's payee (ledger__pay: the
 * payer's and payee's checks, the funds). */
static fogpay_error meter__pay(fogpay_ledger *l, const fogpay_usage *u,
                               const uint8_t hash[FOGPAY_HASH_BYTES], const fogpay_tariff *t,
                               uint64_t charge_minor, uint64_t now_ms, fogpay_usage_settlement *out)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", u->device_id);
    in.seq = u->seq;
    in.amount_minor = charge_minor;
    in.currency = t->currency;
    fogpay_error err = FOGPAY_OK;
    if (t->payee_entity[0] != '\0') {
        err = fogpay_ledger_entity_account(l, t->payee_entity, t->currency, &in.payee_account);
        err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_UNKNOWN_PAYEE : err;
    } else {
        snprintf(in.payee_device, sizeof in.payee_device, "%s", t->device_id);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_payment pay = {.intent = &in,
                          .hash = hash,
                          .kind = FOGPAY_TRANSFER_USAGE_CHARGE,
                          .meter_id = u->meter_id,
                          .tariff_id = t->tariff_id};
    err = ledger__pay(l, &pay, now_ms, &out->transfer, &out->balance_after_minor);
    if (err == FOGPAY_ERR_INSUFFICIENT_FUNDS) {
        err = FOGPAY_ERR_CHARGE_UNPAID;
    }
    return err;
}

/* Settles a reading of a bound meter (hm, of device d): checks, charge,
 * payment, the new state. Inside the caller's operation. */
static fogpay_error meter__settle(fogpay_ledger *l, ledger_hot_device *d, ledger_hot_meter *hm,
                                  const fogpay_usage *u, const uint8_t hash[FOGPAY_HASH_BYTES],
                                  uint64_t now_ms, fogpay_usage_settlement *out)
{
    const fogpay_tariff *t = NULL;
    fogpay_error err = ledger__hot_meter_tariff(l, d, hm, now_ms, &t);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_meter next = hm->meter;
    if (next.hold_id != 0) {
        /* The hold pays every reading or none: refused ones advance nothing. */
        err = ledger__hold_charge_check(l, next.hold_id, u->device_id, t, now_ms, NULL, NULL);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    uint64_t consumption = 0;
    err = meter__check_reading(u, &next, t, &consumption);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (next.version_ms != t->effective_ms) {
        next.carry = 0; /* a carry is counted in its own version's denominator */
        next.version_ms = t->effective_ms;
    }
    uint64_t charge = 0;
    err = fogpay_tariff_charge(consumption, t->price_num, t->price_den, next.carry, &charge,
                               &next.carry);
    if (err == FOGPAY_OK && charge != 0 && charge < t->minimum_minor) {
        charge = t->minimum_minor;
    }
    if (err == FOGPAY_OK && charge != 0) {
        err = next.hold_id != 0
                  ? ledger__hold_charge(l, next.hold_id, u, hash, t, charge, now_ms, out)
                  : meter__pay(l, u, hash, t, charge, now_ms, out);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    out->bound = true;
    out->consumption = consumption;
    out->charge_minor = charge;
    snprintf(out->tariff_id, sizeof out->tariff_id, "%s", t->tariff_id);
    next.has_last = true;
    next.last_quantity = u->quantity;
    return ledger__meter_state_write(l, u->device_id, u->meter_id, &next);
}

fogpay_error fogpay_ledger_usage_settle(fogpay_ledger *l, const fogpay_usage *usage,
                                        const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                        fogpay_usage_settlement *out)
{
    if (l == NULL || usage == NULL || hash == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_usage_settlement result;
    memset(&result, 0, sizeof result);
    err = fogpay_ledger_store_usage(l, usage, hash, now_ms);
    ledger_hot_device *d = NULL;
    ledger_hot_meter *hm = NULL;
    if (err == FOGPAY_OK) {
        err = ledger__hot_device(l, usage->device_id, &d);
    }
    if (err == FOGPAY_OK) {
        err = ledger__hot_meter(l, d, usage->meter_id, &hm);
    }
    if (err == FOGPAY_OK && hm->meter.binding_id != 0) {
        err = meter__settle(l, d, hm, usage, hash, now_ms, &result);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = result;
    }
    return err;
}
