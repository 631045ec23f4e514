/*
 * control_statement.c - the operator's commands of what a financing plan's
 * parties paid and owe: getPlanStatement (an entity's statement of a
 * plan), listArrears (the plans' arrears, open or all) and settlePlan (the
 * plan's early settlement, which closes it).
 *
 * Amounts are decimal strings of the plan's currency, times unix
 * milliseconds. The ledger's rules are ledger.h's (ledger_collect.c,
 * ledger_statement.c); its refusals are the replies' errors
 * (plan_unknown, plan_not_started, plan_closed, plan_paid,
 * statement_entity, settlement_funds). A settlement that clears arrears
 * during which the gateway suspended the device sends the device its
 * signed resume, as the tick would have.
 */
#include <string.h>

#include "control_internal.h"
#include "fogpay_currency.h"

fogpay_error control__get_plan_statement(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    const char *plan = NULL, *entity = NULL;
    uint64_t at_ms = now_ms;
    fogpay_error err = control__text(cmd, "plan", true, FOGPAY_PLAN_ID_MAX, &plan, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "at", false, &at_ms, r);
    }
    fogpay_plan_statement st;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_statement(c->ledger, plan, entity, at_ms, &st);
    }
    int exponent = 0;
    const char *code = err == FOGPAY_OK ? fogpay_currency_code(st.currency, &exponent) : NULL;
    if (err == FOGPAY_OK && code == NULL) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "plan", plan);
        cJSON_AddStringToObject(r->data, "entity", entity);
        cJSON_AddNumberToObject(r->data, "at", (double)at_ms);
        cJSON_AddStringToObject(r->data, "currency", code);
        cJSON_AddNumberToObject(r->data, "paidCount", st.paid_count);
        control__add_amount(r->data, "paid", (int64_t)st.paid_minor, exponent);
        cJSON_AddNumberToObject(r->data, "dueCount", st.due_count);
        cJSON_AddNumberToObject(r->data, "owedCount", st.owed_count);
        control__add_amount(r->data, "owed", (int64_t)st.owed_minor, exponent);
    }
    return err;
}

/* One episode of arrears into listArrears' array. */
static int statement__arrears_visit(void *ctx, const fogpay_plan_arrears *a)
{
    int exponent = 0;
    const char *code = fogpay_currency_code(a->currency, &exponent);
    cJSON *item = code != NULL ? cJSON_CreateObject() : NULL;
    if (item == NULL) {
        return 1;
    }
    cJSON_AddItemToArray((cJSON *)ctx, item);
    cJSON_AddStringToObject(item, "plan", a->plan_id);
    cJSON_AddStringToObject(item, "device", a->device_id);
    if (a->entity_id[0] != '\0') {
        cJSON_AddStringToObject(item, "entity", a->entity_id);
    }
    cJSON_AddStringToObject(item, "currency", code);
    cJSON_AddNumberToObject(item, "instalment", a->instalment);
    control__add_amount(item, "owed", (int64_t)a->owed_minor, exponent);
    cJSON_AddStringToObject(item, "reason", fogpay_error_name((fogpay_error)a->reason));
    cJSON_AddBoolToObject(item, "suspended", a->suspended);
    cJSON_AddNumberToObject(item, "entered", (double)a->entered_ms);
    if (a->cleared_ms != 0) {
        cJSON_AddNumberToObject(item, "cleared", (double)a->cleared_ms);
    }
    return 0;
}

fogpay_error control__list_arrears(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    const char *device = NULL;
    fogpay_error err = control__text(cmd, "device", false, FOGPAY_DEVICE_ID_MAX, &device, r);
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(cmd, "all");
    if (err == FOGPAY_OK && all != NULL && !cJSON_IsBool(all)) {
        r->message = "all is true (cleared arrears too) or false (open ones only)";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    cJSON *list = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "arrears") : NULL;
    if (err == FOGPAY_OK && list == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_arrears_list(c->ledger, device, !cJSON_IsTrue(all),
                                              statement__arrears_visit, list);
    }
    return err;
}

/* settlePlan's payer: "device" (its wallet, the default) or "entity" (the
 * account of the entity holding the device). */
static fogpay_error statement__from(const cJSON *cmd, bool *from_entity, control_reply *r)
{
    const char *from = NULL;
    fogpay_error err = control__text(cmd, "payer", false, 8, &from, r);
    *from_entity = err == FOGPAY_OK && from != NULL && strcmp(from, "entity") == 0;
    if (err == FOGPAY_OK && from != NULL && !*from_entity && strcmp(from, "device") != 0) {
        r->message = "payer is \"device\" (its wallet) or \"entity\" (its holder's account)";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    return err;
}

fogpay_error control__settle_plan(const fogpay_control_context *c, const cJSON *cmd,
                                  uint64_t now_ms, control_reply *r)
{
    const char *plan = NULL;
    bool from_entity = false;
    fogpay_error err = control__text(cmd, "plan", true, FOGPAY_PLAN_ID_MAX, &plan, r);
    if (err == FOGPAY_OK) {
        err = statement__from(cmd, &from_entity, r);
    }
    fogpay_transfer t;
    fogpay_plan_change change;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_settle(c->ledger, plan, from_entity, now_ms, &t, &change);
    }
    int exponent = 0;
    const char *code = err == FOGPAY_OK ? fogpay_currency_code(t.currency, &exponent) : NULL;
    if (err == FOGPAY_OK && code == NULL) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddStringToObject(r->data, "plan", plan);
    cJSON_AddNumberToObject(r->data, "transfer", (double)t.position);
    cJSON_AddStringToObject(r->data, "currency", code);
    control__add_amount(r->data, "amount", (int64_t)t.amount_minor, exponent);
    cJSON_AddNumberToObject(r->data, "fromInstalment", t.instalment);
    cJSON_AddBoolToObject(r->data, "closed", true);
    control__plan_notice(c, plan);
    if (change.suspended && c->send_command != NULL) {
        /* Committed already; a resume that cannot be sent leaves the
         * device's status in the ledger active all the same. */
        bool sent = c->send_command(c->send_ctx, change.device_id, FOGPAY_COMMAND_RESUME, NULL) ==
                    FOGPAY_OK;
        cJSON_AddBoolToObject(r->data, "resumed", sent);
    }
    return FOGPAY_OK;
}
