/*
 * control_fee.c - the operator's fee schedules: setFeeSchedule and
 * listFeeSchedules (schemas/control.schema.json).
 *
 * Design. A schedule names its payee by "payee" (a device's wallet) or
 * "payeeEntity" (that entity's account), neither for the default of every
 * payee; "currency"; "legs", an array of at most FOGPAY_LEGS_MAX - 1 fee
 * legs, each {"basisPoints": 1..9999} and one of "account" (an account
 * number), "entity" (the entity's account in the currency, created when it
 * has none) or "device" (the device's wallet, likewise); "remainderLeg"
 * (0, the default, the payee's; i the i-th fee leg); "effective" (unix ms,
 * default now). Every check the ledger makes of a schedule is made here
 * before a payment meets it (fogpay_ledger_fee_schedule_set), each refusal
 * with its own code (fee_*, 120..129). The reply names the schedule's event.
 * An entity's or device's account a leg names is created as it is named,
 * like getBalance's: a refused schedule may leave such an empty account,
 * and nothing else.
 *
 * Ownership. cJSON trees built here belong to the reply.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"
#include "fogpay_currency.h"

/* The account of one fee leg object: its "account", or the account of its
 * "entity" or "device" in currency. */
static fogpay_error fee__leg_account(const fogpay_control_context *c, const cJSON *leg,
                                     uint16_t currency, uint64_t *account, control_reply *r)
{
    const char *entity = NULL;
    const char *device = NULL;
    *account = 0;
    fogpay_error err = control__u64(leg, "account", false, account, r);
    if (err == FOGPAY_OK) {
        err = control__text(leg, "entity", false, FOGPAY_ENTITY_ID_MAX, &entity, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(leg, "device", false, FOGPAY_DEVICE_ID_MAX, &device, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if ((*account != 0) + (entity != NULL) + (device != NULL) != 1) {
        r->message = "a fee leg names exactly one of account, entity and device";
        return FOGPAY_ERR_MISSING_FIELD;
    }
    if (entity != NULL) {
        err = fogpay_ledger_entity_account(c->ledger, entity, currency, account);
    } else if (device != NULL) {
        err = fogpay_ledger_wallet(c->ledger, device, currency, account);
    }
    if (err == FOGPAY_ERR_NOT_FOUND || err == FOGPAY_ERR_UNKNOWN_DEVICE) {
        r->message = "a fee leg names an entity or device that does not exist";
        err = FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN;
    }
    return err;
}

/* The legs array of cmd into f. */
static fogpay_error fee__legs(const fogpay_control_context *c, const cJSON *cmd,
                              fogpay_fee_schedule *f, control_reply *r)
{
    const cJSON *legs = cJSON_GetObjectItemCaseSensitive(cmd, "legs");
    if (legs == NULL) {
        return FOGPAY_OK; /* no fee from then on */
    }
    if (!cJSON_IsArray(legs)) {
        r->message = "legs is an array of fee legs";
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (cJSON_GetArraySize(legs) > FOGPAY_LEGS_MAX - 1) {
        return FOGPAY_ERR_FEE_LEGS_TOO_MANY;
    }
    fogpay_error err = FOGPAY_OK;
    const cJSON *leg = NULL;
    cJSON_ArrayForEach(leg, legs)
    {
        fogpay_fee_leg *out = &f->legs[f->leg_count];
        err = cJSON_IsObject(leg) ? FOGPAY_OK : FOGPAY_ERR_CBOR_TYPE;
        if (err == FOGPAY_OK) {
            err = control__u64(leg, "basisPoints", true, &out->basis_points, r);
        }
        if (err == FOGPAY_OK) {
            err = fee__leg_account(c, leg, f->currency, &out->account, r);
        }
        if (err != FOGPAY_OK) {
            return err;
        }
        f->leg_count++;
    }
    return err;
}

fogpay_error control__set_fee_schedule(const fogpay_control_context *c, const cJSON *cmd,
                                       uint64_t now_ms, control_reply *r)
{
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    const char *payee = NULL;
    const char *payee_entity = NULL;
    int exponent = 0;
    uint64_t remainder = 0;
    f.effective_ms = now_ms;
    fogpay_error err = control__text(cmd, "payee", false, FOGPAY_DEVICE_ID_MAX, &payee, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "payeeEntity", false, FOGPAY_ENTITY_ID_MAX, &payee_entity, r);
    }
    if (err == FOGPAY_OK && payee != NULL && payee_entity != NULL) {
        r->message = "a fee schedule has one payee: payee or payeeEntity, or neither for all";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &f.currency, &exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "remainderLeg", false, &remainder, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "effective", false, &f.effective_ms, r);
    }
    if (err == FOGPAY_OK && remainder >= FOGPAY_LEGS_MAX) {
        err = FOGPAY_ERR_FEE_REMAINDER_LEG;
    }
    if (err == FOGPAY_OK) {
        f.remainder_leg = (uint8_t)remainder;
        snprintf(f.payee_device, sizeof f.payee_device, "%s", payee ? payee : "");
        snprintf(f.payee_entity, sizeof f.payee_entity, "%s", payee_entity ? payee_entity : "");
        err = fee__legs(c, cmd, &f, r);
    }
    uint64_t event = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_fee_schedule_set(c->ledger, &f, now_ms, &event);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "event", (double)event);
    }
    return err;
}

/* One schedule as the reply's object. */
static int fee__list_visit(void *ctx, const fogpay_fee_schedule *f)
{
    cJSON *array = ctx;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(array, o)) {
        cJSON_Delete(o);
        return 1;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(f->currency, &exponent);
    if (f->payee_device[0] != '\0') {
        cJSON_AddStringToObject(o, "payee", f->payee_device);
    }
    if (f->payee_entity[0] != '\0') {
        cJSON_AddStringToObject(o, "payeeEntity", f->payee_entity);
    }
    cJSON_AddStringToObject(o, "currency", code != NULL ? code : "");
    cJSON_AddNumberToObject(o, "effective", (double)f->effective_ms);
    cJSON_AddNumberToObject(o, "remainderLeg", f->remainder_leg);
    cJSON_AddNumberToObject(o, "event", (double)f->event_position);
    cJSON *legs = cJSON_AddArrayToObject(o, "legs");
    for (uint32_t i = 0; legs != NULL && i < f->leg_count; i++) {
        cJSON *leg = cJSON_CreateObject();
        if (leg != NULL && cJSON_AddItemToArray(legs, leg)) {
            cJSON_AddNumberToObject(leg, "account", (double)f->legs[i].account);
            cJSON_AddNumberToObject(leg, "basisPoints", (double)f->legs[i].basis_points);
        }
    }
    return 0;
}

fogpay_error control__list_fee_schedules(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    (void)cmd;
    (void)now_ms;
    cJSON *array = cJSON_AddArrayToObject(r->data, "schedules");
    if (array == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    return fogpay_ledger_fee_schedule_list(c->ledger, fee__list_visit, array);
}
