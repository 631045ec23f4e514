/*
 * control_device.c - the devices of a gateway at a glance, for operators:
 * listDevices, a page of the devices not revoked, each with its status,
 * its limits and its wallet's balance and held amount in one currency (the
 * web monitor's table of devices, web/).
 *
 * Ownership: nothing is allocated but the reply's cJSON items, owned by
 * the reply.
 */
#include <string.h>

#include "control_internal.h"

static const char *device_status_name(uint8_t status)
{
    return status == FOGPAY_DEVICE_ACTIVE      ? "active"
           : status == FOGPAY_DEVICE_SUSPENDED ? "suspended"
                                               : "revoked";
}

/* One device's entry: status, limits, balance and held in currency. */
static fogpay_error device_entry(const fogpay_control_context *c, const char *id, uint16_t currency,
                                 int exponent, cJSON *list)
{
    fogpay_device d;
    uint64_t account = 0, held = 0;
    int64_t balance = 0;
    fogpay_error err = fogpay_ledger_device_get(c->ledger, id, &d);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_wallet(c->ledger, id, currency, &account);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_balance(c->ledger, account, &balance);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_hold_held(c->ledger, id, currency, &held);
    }
    cJSON *o = err == FOGPAY_OK ? cJSON_CreateObject() : NULL;
    if (err == FOGPAY_OK && o == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddItemToArray(list, o);
    cJSON_AddStringToObject(o, "device", id);
    cJSON_AddStringToObject(o, "status", device_status_name(d.status));
    control__add_amount(o, "perPayment", (int64_t)d.limits.per_payment_minor, exponent);
    control__add_amount(o, "perDay", (int64_t)d.limits.per_day_minor, exponent);
    control__add_amount(o, "walletMax", (int64_t)d.limits.wallet_max_minor, exponent);
    control__add_amount(o, "balance", balance, exponent);
    control__add_amount(o, "held", (int64_t)held, exponent);
    return FOGPAY_OK;
}

fogpay_error control__list_devices(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    uint16_t currency = 0;
    int exponent = 0;
    const char *after = NULL;
    uint64_t limit = FOGPAY_CONTROL_DEVICES_PAGE;
    fogpay_error err = control__currency(cmd, &currency, &exponent, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "after", false, FOGPAY_DEVICE_ID_MAX, &after, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "limit", false, &limit, r);
    }
    if (err == FOGPAY_OK && (limit == 0 || limit > FOGPAY_CONTROL_DEVICES_PAGE)) {
        r->message = "limit is 1 to 100 devices";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    char ids[FOGPAY_CONTROL_DEVICES_PAGE][FOGPAY_DEVICE_ID_MAX + 1];
    size_t count = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_device_ids(c->ledger, after ? after : "", ids, (size_t)limit, &count);
    }
    cJSON *list = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "devices") : NULL;
    if (err == FOGPAY_OK && list == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = device_entry(c, ids[i], currency, exponent, list);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
        if (count == limit) {
            cJSON_AddStringToObject(r->data, "next", ids[count - 1]);
        }
    }
    return err;
}
