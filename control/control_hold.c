/*
 * control_hold.c - the operator's commands on holds: holdList, holdCapture
 * and holdVoid (schemas/control.schema.json).
 *
 * Design. An operator may capture (the whole amount or less) or void any
 * open hold; the ledger checks it as it checks a device's hold message
 * (ledger/ledger_hold.c) but for the parties, so an operator's resolution
 * and a device's are resolved once whichever comes first. Amounts are
 * decimal strings of the hold's currency, as everywhere in the control
 * API.
 *
 * Ownership. The reply's cJSON objects belong to r->data.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"
#include "fogpay_currency.h"

/* Most holds in one holdList page, and the default page. */
#define CONTROL_HOLD_LIST_MAX     1000u
#define CONTROL_HOLD_LIST_DEFAULT 100u

static const char *const control_hold_states[] = {
    [FOGPAY_HOLD_OPEN] = "open",
    [FOGPAY_HOLD_CAPTURED] = "captured",
    [FOGPAY_HOLD_VOIDED] = "voided",
    [FOGPAY_HOLD_EXPIRED] = "expired",
};

typedef struct control_hold_list {
    cJSON *array;
    uint64_t last_id;
    uint32_t count;
    bool no_memory;
} control_hold_list;

static cJSON *control_hold_object(const fogpay_hold *h)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(h->currency, &exponent);
    cJSON_AddNumberToObject(o, "id", (double)h->id);
    cJSON_AddStringToObject(o, "payer", h->payer_device);
    if (h->payee_device[0] != '\0') {
        cJSON_AddStringToObject(o, "payee", h->payee_device);
    }
    cJSON_AddNumberToObject(o, "payeeAccount", (double)h->payee_account);
    control__add_amount(o, "amount", (int64_t)h->amount_minor, exponent);
    cJSON_AddStringToObject(o, "currency", code);
    cJSON_AddNumberToObject(o, "expires", (double)h->expires_ms);
    cJSON_AddStringToObject(o, "state", control_hold_states[h->state]);
    if (h->state == FOGPAY_HOLD_CAPTURED) {
        control__add_amount(o, "captured", (int64_t)h->captured_minor, exponent);
    }
    if (h->charged_minor != 0) {
        control__add_amount(o, "charged", (int64_t)h->charged_minor, exponent);
    }
    if (h->resolved_position != 0) {
        cJSON_AddNumberToObject(o, "resolvedBy", (double)h->resolved_position);
    }
    return o;
}

static int control_hold_visit(void *ctx, const fogpay_hold *h)
{
    control_hold_list *list = ctx;
    cJSON *o = control_hold_object(h);
    if (o == NULL) {
        list->no_memory = true;
        return 1;
    }
    cJSON_AddItemToArray(list->array, o);
    list->last_id = h->id;
    list->count++;
    return 0;
}

fogpay_error control__hold_list(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r)
{
    (void)now_ms;
    const char *device = NULL;
    uint64_t after = 0;
    uint64_t limit = CONTROL_HOLD_LIST_DEFAULT;
    fogpay_error err = control__text(cmd, "device", false, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "after", false, &after, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "limit", false, &limit, r);
    }
    if (err == FOGPAY_OK && (limit == 0 || limit > CONTROL_HOLD_LIST_MAX)) {
        r->message = "limit is 1 to 1000";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(cmd, "all");
    if (err == FOGPAY_OK && all != NULL && !cJSON_IsBool(all)) {
        r->message = "all is true or false";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    control_hold_list list = {cJSON_AddArrayToObject(r->data, "holds"), after, 0, false};
    if (list.array == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    err = fogpay_ledger_hold_list(c->ledger, device, !cJSON_IsTrue(all), after, (uint32_t)limit,
                                  control_hold_visit, &list);
    if (err == FOGPAY_OK && list.no_memory) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "count", list.count);
        cJSON_AddNumberToObject(r->data, "last", (double)list.last_id);
    }
    return err;
}

/* The hold named by "id", for its currency. */
static fogpay_error control_hold_named(const fogpay_control_context *c, const cJSON *cmd,
                                       fogpay_hold *h, control_reply *r)
{
    uint64_t id = 0;
    fogpay_error err = control__u64(cmd, "id", true, &id, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_hold_get(c->ledger, id, h);
    }
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "no hold has that id";
        err = FOGPAY_ERR_HOLD_UNKNOWN;
    }
    return err;
}

/* The transfers a resolution made, into the reply. */
static void control_hold_result(const fogpay_hold_result *res, control_reply *r)
{
    cJSON_AddNumberToObject(r->data, "transfer", (double)res->transfer.position);
    if (res->release.position != 0) {
        cJSON_AddNumberToObject(r->data, "release", (double)res->release.position);
    }
}

fogpay_error control__hold_capture(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r)
{
    fogpay_hold h;
    fogpay_error err = control_hold_named(c, cmd, &h, r);
    int exponent = 0;
    uint64_t amount = h.amount_minor;
    if (err == FOGPAY_OK) {
        fogpay_currency_code(h.currency, &exponent);
        err = control__amount(cmd, "amount", false, exponent, &amount, r);
    }
    fogpay_hold_result res;
    if (err == FOGPAY_OK) {
        fogpay_hold_actor operator_actor = {NULL, 0, NULL};
        err = fogpay_ledger_hold_capture(c->ledger, h.id, amount, &operator_actor, now_ms, &res);
    }
    if (err == FOGPAY_OK) {
        control_hold_result(&res, r);
    }
    return err;
}

fogpay_error control__hold_void(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r)
{
    fogpay_hold h;
    fogpay_error err = control_hold_named(c, cmd, &h, r);
    fogpay_hold_result res;
    if (err == FOGPAY_OK) {
        fogpay_hold_actor operator_actor = {NULL, 0, NULL};
        err = fogpay_ledger_hold_void(c->ledger, h.id, &operator_actor, now_ms, &res);
    }
    if (err == FOGPAY_OK) {
        control_hold_result(&res, r);
    }
    return err;
}
