/*
 * control_plan.c - the operator's commands of device financing: createPlan
 * (a plan, or a new version of one), getPlan (the version applying at a
 * time with its full schedule), listPlans (every version, of a device or
 * of all) and closePlan.
 *
 * Amounts are decimal strings of the currency ("1200.00"), the rate whole
 * basis points a year ("rateBasisPoints": 950 is 9.5 %), times and
 * durations unix milliseconds (effective now when absent). A usage price
 * is the text "<num>/<den>" with the meter it counts, as a tariff's. A
 * plan whose shortfall is "limit" names in "allowedPayees" the devices
 * and legal entities its device may still pay in arrears. The
 * schedule is computed by the ledger's rule (fogpay_plan_instalment: the
 * last instalment takes what the rounding leaves), with no metered usage:
 * the usage part of an instalment is known only when it falls due. The
 * ledger's refusals are the replies' errors (plan_unknown, plan_closed,
 * plan_terms, plan_not_in_order, plan_device, exists, not_found).
 */
#include <stdio.h>
#include <string.h>

#include "control_internal.h"
#include "fogpay_currency.h"

/* The names of fogpay_plan_shortfall, by value. */
static const char *const plan__shortfalls[] = {"suspend", "limit"};

/* The ids of a createPlan: plan, device, lender, and an optional meter. */
static fogpay_error plan__read_ids(const cJSON *cmd, fogpay_plan *p, control_reply *r)
{
    const char *id = NULL, *device = NULL, *lender = NULL, *meter = NULL;
    fogpay_error err = control__text(cmd, "plan", true, FOGPAY_PLAN_ID_MAX, &id, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "lender", true, FOGPAY_ENTITY_ID_MAX, &lender, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "meter", false, FOGPAY_METER_ID_MAX, &meter, r);
    }
    if (err == FOGPAY_OK) {
        control__copy_text(p->plan_id, sizeof p->plan_id, id);
        control__copy_text(p->device_id, sizeof p->device_id, device);
        control__copy_text(p->lender_entity, sizeof p->lender_entity, lender);
        control__copy_text(p->meter_id, sizeof p->meter_id, meter);
    }
    return err;
}

/* The usage price, the shortfall action and collect of a createPlan. */
static fogpay_error plan__read_options(const cJSON *cmd, fogpay_plan *p, control_reply *r)
{
    const char *price = NULL, *shortfall = NULL;
    fogpay_error err = control__text(cmd, "usagePrice", false, FOGPAY_PRICE_TEXT_MAX, &price, r);
    if (err == FOGPAY_OK && price != NULL &&
        fogpay_price_parse(price, &p->usage_num, &p->usage_den) != FOGPAY_OK) {
        r->message = "a usage price is \"<num>/<den>\": num minor units per den units of the "
                     "meter, each 1..2^63-1";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "shortfall", false, 8, &shortfall, r);
    }
    if (err == FOGPAY_OK && shortfall != NULL) {
        bool limit = strcmp(shortfall, plan__shortfalls[FOGPAY_PLAN_SHORTFALL_LIMIT]) == 0;
        if (!limit && strcmp(shortfall, plan__shortfalls[FOGPAY_PLAN_SHORTFALL_SUSPEND]) != 0) {
            r->message = "shortfall is \"suspend\" or \"limit\"";
            return FOGPAY_ERR_FIELD_RANGE;
        }
        p->shortfall = limit ? FOGPAY_PLAN_SHORTFALL_LIMIT : FOGPAY_PLAN_SHORTFALL_SUSPEND;
    }
    const cJSON *collect = cJSON_GetObjectItemCaseSensitive(cmd, "collect");
    if (err == FOGPAY_OK && collect != NULL && !cJSON_IsBool(collect)) {
        r->message = "collect is true or false";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    p->collect = collect != NULL && cJSON_IsTrue(collect);
    return err;
}

/* The optional "allowedPayees" of a createPlan: an array of 1..
 * FOGPAY_PLAN_PAYEES_MAX device or entity ids (the ledger checks that
 * each is registered, once, and that the shortfall is limit). */
static fogpay_error plan__read_payees(const cJSON *cmd, fogpay_plan *p, control_reply *r)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cmd, "allowedPayees");
    if (list == NULL) {
        return FOGPAY_OK;
    }
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n < 1 || n > FOGPAY_PLAN_PAYEES_MAX) {
        r->message = "allowedPayees is an array of 1 to 6 device or entity ids";
        return FOGPAY_ERR_PLAN_TERMS;
    }
    if (p->shortfall != FOGPAY_PLAN_SHORTFALL_LIMIT) {
        r->message = "allowedPayees are named for a plan whose shortfall is \"limit\"";
        return FOGPAY_ERR_PLAN_TERMS;
    }
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, list)
    {
        const char *id = cJSON_GetStringValue(item);
        if (id == NULL || id[0] == '\0' || strlen(id) > FOGPAY_PLAN_PAYEE_ID_MAX) {
            r->message = "each of allowedPayees is a device or entity id of 1 to 23 characters";
            return FOGPAY_ERR_FIELD_RANGE;
        }
        control__copy_text(p->payees[p->payee_count], sizeof p->payees[0], id);
        p->payee_count++;
    }
    return FOGPAY_OK;
}

/* The numbers of a createPlan, each a whole JSON number. */
static fogpay_error plan__read_numbers(const cJSON *cmd, fogpay_plan *p, control_reply *r)
{
    uint64_t rate = 0, count = 0;
    fogpay_error err = control__u64(cmd, "rateBasisPoints", true, &rate, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "instalments", true, &count, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "periodMs", true, &p->period_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "graceMs", false, &p->grace_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "effective", false, &p->effective_ms, r);
    }
    if (err == FOGPAY_OK &&
        (rate > FOGPAY_PLAN_RATE_BP_MAX || count > FOGPAY_PLAN_INSTALMENTS_MAX)) {
        r->message = "rateBasisPoints is at most 100000, instalments at most 600";
        err = FOGPAY_ERR_PLAN_TERMS;
    }
    p->rate_bp = (uint32_t)rate;
    p->instalment_count = (uint32_t)count;
    return err;
}

/* The plan version's fields as createPlan takes them. */
static fogpay_error plan__into(const fogpay_plan *p, int exponent, cJSON *obj)
{
    int unused = 0;
    const char *code = fogpay_currency_code(p->currency, &unused);
    if (code == NULL) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    cJSON_AddStringToObject(obj, "plan", p->plan_id);
    cJSON_AddStringToObject(obj, "device", p->device_id);
    cJSON_AddNumberToObject(obj, "effective", (double)p->effective_ms);
    if (p->closed) {
        cJSON_AddBoolToObject(obj, "closed", true);
        return FOGPAY_OK;
    }
    cJSON_AddStringToObject(obj, "lender", p->lender_entity);
    cJSON_AddStringToObject(obj, "currency", code);
    control__add_amount(obj, "principal", (int64_t)p->principal_minor, exponent);
    cJSON_AddNumberToObject(obj, "rateBasisPoints", p->rate_bp);
    cJSON_AddNumberToObject(obj, "instalments", p->instalment_count);
    cJSON_AddNumberToObject(obj, "periodMs", (double)p->period_ms);
    cJSON_AddNumberToObject(obj, "graceMs", (double)p->grace_ms);
    cJSON_AddStringToObject(obj, "shortfall", plan__shortfalls[p->shortfall]);
    cJSON_AddBoolToObject(obj, "collect", p->collect);
    if (p->usage_num != 0) {
        char price[FOGPAY_PRICE_TEXT_MAX + 1];
        if (fogpay_price_format(p->usage_num, p->usage_den, price) != FOGPAY_OK) {
            return FOGPAY_ERR_LEDGER_CORRUPT;
        }
        cJSON_AddStringToObject(obj, "usagePrice", price);
        cJSON_AddStringToObject(obj, "meter", p->meter_id);
    }
    cJSON *payees = p->payee_count != 0 ? cJSON_AddArrayToObject(obj, "allowedPayees") : NULL;
    for (uint8_t i = 0; payees != NULL && i < p->payee_count; i++) {
        cJSON_AddItemToArray(payees, cJSON_CreateString(p->payees[i]));
    }
    return FOGPAY_OK;
}

/* The version's interest and every instalment, under "schedule". */
static fogpay_error plan__schedule_into(const fogpay_plan *p, int exponent, cJSON *obj)
{
    uint64_t interest = 0;
    fogpay_error err = fogpay_plan_interest(p, &interest);
    if (err != FOGPAY_OK || p->closed) {
        return err;
    }
    control__add_amount(obj, "interest", (int64_t)interest, exponent);
    cJSON *list = cJSON_AddArrayToObject(obj, "schedule");
    for (uint32_t i = 1; list != NULL && err == FOGPAY_OK && i <= p->instalment_count; i++) {
        fogpay_instalment in;
        err = fogpay_plan_instalment(p, i, 0, &in);
        cJSON *item = err == FOGPAY_OK ? cJSON_CreateObject() : NULL;
        if (item != NULL) {
            cJSON_AddItemToArray(list, item);
            cJSON_AddNumberToObject(item, "number", in.number);
            cJSON_AddNumberToObject(item, "due", (double)in.due_ms);
            control__add_amount(item, "principal", (int64_t)in.principal_minor, exponent);
            control__add_amount(item, "interest", (int64_t)in.interest_minor, exponent);
            control__add_amount(item, "amount", (int64_t)in.amount_minor, exponent);
        }
    }
    return list == NULL ? FOGPAY_ERR_NO_MEMORY : err;
}

/* Tells the plan's device where it stands, when online. A notice that
 * cannot be sent is logged by the sender and does not undo the command:
 * the next instalment's notice carries the same figures. */
void control__plan_notice(const fogpay_control_context *c, const char *plan_id)
{
    if (c->send_plan_notice != NULL) {
        c->send_plan_notice(c->send_ctx, plan_id);
    }
}

fogpay_error control__create_plan(const fogpay_control_context *c, const cJSON *cmd,
                                  uint64_t now_ms, control_reply *r)
{
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    p.effective_ms = now_ms;
    int exponent = 0;
    fogpay_error err = plan__read_ids(cmd, &p, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &p.currency, &exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(cmd, "principal", true, exponent, &p.principal_minor, r);
    }
    if (err == FOGPAY_OK) {
        err = plan__read_numbers(cmd, &p, r);
    }
    if (err == FOGPAY_OK) {
        err = plan__read_options(cmd, &p, r);
    }
    if (err == FOGPAY_OK) {
        err = plan__read_payees(cmd, &p, r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_define(c->ledger, &p, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = plan__into(&p, exponent, r->data);
    }
    if (err == FOGPAY_OK) {
        err = plan__schedule_into(&p, exponent, r->data);
    }
    if (err == FOGPAY_OK) {
        control__plan_notice(c, p.plan_id);
    }
    return err;
}

fogpay_error control__get_plan(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                               control_reply *r)
{
    const char *id = NULL;
    uint64_t at_ms = now_ms;
    fogpay_error err = control__text(cmd, "plan", true, FOGPAY_PLAN_ID_MAX, &id, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "at", false, &at_ms, r);
    }
    fogpay_plan p;
    uint64_t until_ms = UINT64_MAX;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_at(c->ledger, id, at_ms, &p, &until_ms);
    }
    int exponent = 0;
    if (err == FOGPAY_OK && fogpay_currency_code(p.currency, &exponent) == NULL) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err == FOGPAY_OK) {
        err = plan__into(&p, exponent, r->data);
    }
    if (err == FOGPAY_OK && until_ms != UINT64_MAX) {
        cJSON_AddNumberToObject(r->data, "until", (double)until_ms);
    }
    if (err == FOGPAY_OK) {
        err = plan__schedule_into(&p, exponent, r->data);
    }
    return err;
}

/* One version into listPlans' array. */
static int plan__list_visit(void *ctx, const fogpay_plan *plan)
{
    cJSON *item = cJSON_CreateObject();
    int exponent = 0;
    if (item == NULL || fogpay_currency_code(plan->currency, &exponent) == NULL) {
        cJSON_Delete(item);
        return 1;
    }
    cJSON_AddItemToArray((cJSON *)ctx, item);
    return plan__into(plan, exponent, item) == FOGPAY_OK ? 0 : 1;
}

fogpay_error control__list_plans(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    (void)now_ms;
    const char *device = NULL;
    fogpay_error err = control__text(cmd, "device", false, FOGPAY_DEVICE_ID_MAX, &device, r);
    cJSON *list = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "plans") : NULL;
    if (err == FOGPAY_OK && list == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_list(c->ledger, device, plan__list_visit, list);
    }
    return err;
}

fogpay_error control__close_plan(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    const char *id = NULL;
    uint64_t effective_ms = now_ms;
    fogpay_error err = control__text(cmd, "plan", true, FOGPAY_PLAN_ID_MAX, &id, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "effective", false, &effective_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_close(c->ledger, id, effective_ms, now_ms);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "plan", id);
        cJSON_AddNumberToObject(r->data, "effective", (double)effective_ms);
        cJSON_AddBoolToObject(r->data, "closed", true);
        control__plan_notice(c, id);
    }
    return err;
}
