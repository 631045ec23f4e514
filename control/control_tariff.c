/*
 * control_tariff.c - the operator's commands of pay-per-use: defineTariff
 * (a version of a tariff), getTariff (the version applying at a time),
 * bindMeter (a device's meter to a tariff, as the device's own bind
 * message does) and getMeter (a meter's binding and settlement state).
 *
 * A price is exact: "price" is the text "<num>/<den>", num minor units of
 * the currency per den units of the meter ("3917/100000" is 0.3917 EUR
 * per kWh read in Wh), each 1..2^63-1; the minimum charge is a decimal
 * amount of the currency ("0.50"). Effective times are unix milliseconds,
 * now when absent. The ledger's refusals are the replies' errors
 * (tariff_unknown, tariff_not_effective, tariff_own_payee, meter_unknown,
 * exists, not_found, field_range).
 */
#include <stdio.h>
#include <string.h>

#include "control_internal.h"
#include "fogpay_currency.h"

/* The tariff's reply object: its fields as defineTariff takes them. */
static fogpay_error tariff__into(const fogpay_tariff *t, uint64_t until_ms, cJSON *data)
{
    int exponent = 0;
    const char *code = fogpay_currency_code(t->currency, &exponent);
    char price[FOGPAY_PRICE_TEXT_MAX + 1];
    char minimum[32];
    if (code == NULL || fogpay_price_format(t->price_num, t->price_den, price) != FOGPAY_OK) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    fogpay_amount_format((int64_t)t->minimum_minor, exponent, minimum, sizeof minimum);
    bool ok = cJSON_AddStringToObject(data, "tariff", t->tariff_id) != NULL &&
              cJSON_AddStringToObject(data, "device", t->device_id) != NULL &&
              cJSON_AddStringToObject(data, "unit", t->unit) != NULL &&
              cJSON_AddStringToObject(data, "price", price) != NULL &&
              cJSON_AddStringToObject(data, "minimum", minimum) != NULL &&
              cJSON_AddStringToObject(data, "currency", code) != NULL &&
              cJSON_AddNumberToObject(data, "effective", (double)t->effective_ms) != NULL;
    if (ok && t->payee_entity[0] != '\0') {
        ok = cJSON_AddStringToObject(data, "payeeEntity", t->payee_entity) != NULL;
    }
    if (ok && until_ms != UINT64_MAX) {
        ok = cJSON_AddNumberToObject(data, "until", (double)until_ms) != NULL;
    }
    return ok ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
}

/* The ids of a defineTariff: tariff, device, unit, payeeEntity. */
static fogpay_error tariff__read_ids(const cJSON *cmd, fogpay_tariff *t, control_reply *r)
{
    const char *id = NULL, *device = NULL, *unit = NULL, *entity = NULL;
    fogpay_error err = control__text(cmd, "tariff", true, FOGPAY_TARIFF_ID_MAX, &id, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "unit", true, FOGPAY_UNIT_MAX, &unit, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "payeeEntity", false, FOGPAY_ENTITY_ID_MAX, &entity, r);
    }
    if (err == FOGPAY_OK) {
        control__copy_text(t->tariff_id, sizeof t->tariff_id, id);
        control__copy_text(t->device_id, sizeof t->device_id, device);
        control__copy_text(t->unit, sizeof t->unit, unit);
        control__copy_text(t->payee_entity, sizeof t->payee_entity, entity);
    }
    return err;
}

fogpay_error control__define_tariff(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    fogpay_tariff t;
    memset(&t, 0, sizeof t);
    t.effective_ms = now_ms;
    const char *price = NULL;
    int exponent = 0;
    fogpay_error err = tariff__read_ids(cmd, &t, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "price", true, FOGPAY_PRICE_TEXT_MAX, &price, r);
    }
    if (err == FOGPAY_OK && fogpay_price_parse(price, &t.price_num, &t.price_den) != FOGPAY_OK) {
        r->message = "a price is \"<num>/<den>\": num minor units per den units, each "
                     "1..2^63-1, decimal without leading zeros";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &t.currency, &exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(cmd, "minimum", false, exponent, &t.minimum_minor, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "effective", false, &t.effective_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_tariff_define(c->ledger, &t, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = tariff__into(&t, UINT64_MAX, r->data);
    }
    return err;
}

fogpay_error control__get_tariff(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    const char *id = NULL;
    uint64_t at_ms = now_ms;
    fogpay_error err = control__text(cmd, "tariff", true, FOGPAY_TARIFF_ID_MAX, &id, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "at", false, &at_ms, r);
    }
    fogpay_tariff t;
    uint64_t until_ms = UINT64_MAX;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_tariff_at(c->ledger, id, at_ms, &t, &until_ms);
    }
    if (err == FOGPAY_OK) {
        err = tariff__into(&t, until_ms, r->data);
    }
    return err;
}

/* The device and meter of bindMeter and getMeter. */
static fogpay_error meter__read(const cJSON *cmd, const char **device, const char **meter,
                                control_reply *r)
{
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, device, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "meter", true, FOGPAY_METER_ID_MAX, meter, r);
    }
    return err;
}

fogpay_error control__bind_meter(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    const char *device = NULL, *meter = NULL, *tariff = NULL;
    uint64_t hold = 0;
    fogpay_error err = meter__read(cmd, &device, &meter, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "tariff", true, FOGPAY_TARIFF_ID_MAX, &tariff, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "hold", false, &hold, r);
    }
    if (err == FOGPAY_OK) {
        err =
            fogpay_ledger_meter_bind_hold(c->ledger, device, meter, tariff, hold, 0, NULL, now_ms);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "device", device);
        cJSON_AddStringToObject(r->data, "meter", meter);
        cJSON_AddStringToObject(r->data, "tariff", tariff);
        if (hold != 0) {
            cJSON_AddNumberToObject(r->data, "hold", (double)hold);
        }
    }
    return err;
}

fogpay_error control__get_meter(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r)
{
    (void)now_ms;
    const char *device = NULL, *meter = NULL;
    fogpay_meter m;
    fogpay_error err = meter__read(cmd, &device, &meter, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_meter_get(c->ledger, device, meter, &m);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddStringToObject(r->data, "device", device);
    cJSON_AddStringToObject(r->data, "meter", meter);
    cJSON_AddStringToObject(r->data, "tariff", m.tariff_id);
    /* Readings and the carry are up to 2^63-1, beyond what a JSON number
     * holds exactly: decimal strings. The carry is below one minor unit,
     * carry/den of one at the tariff's price num/den. */
    char text[24];
    if (m.has_last) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)m.last_quantity);
        cJSON_AddStringToObject(r->data, "lastReading", text);
    }
    snprintf(text, sizeof text, "%llu", (unsigned long long)m.carry);
    cJSON_AddStringToObject(r->data, "carry", text);
    if (m.hold_id != 0) {
        cJSON_AddNumberToObject(r->data, "hold", (double)m.hold_id);
    }
    return FOGPAY_OK;
}
