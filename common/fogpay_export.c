/*
 * fogpay_export.c - transfers as CSV lines and JSON objects (see
 * fogpay_export.h), shared by fogpayctl, fogpay-cloud and the control
 * replies so that all write the same fields. A transfer's JSON object is
 * built with cJSON in one place (fogpay_export_transfer_object).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_error.h"
#include "fogpay_export.h"
#include "fogpay_hash.h"

/* Writes a CSV field, quoted when it holds a comma, quote or line break. */
static void export_csv_text(FILE *out, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '"') {
            fputc('"', out);
        }
        fputc(*p, out);
    }
    fputc('"', out);
}

/* The fields both formats print as text: amount, currency code, hashes. */
typedef struct export_text {
    char amount[32];
    const char *code;
    char intent_hex[2 * FOGPAY_HASH_BYTES + 1];
    char chain_hex[2 * FOGPAY_HASH_BYTES + 1];
} export_text;

/* hash may be NULL: the chain hash is then empty. */
static void export_text_of(const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES],
                           export_text *x)
{
    int exponent = 0;
    x->code = fogpay_currency_code(t->currency, &exponent);
    if (x->code == NULL) {
        x->code = "";
    }
    fogpay_amount_format((int64_t)t->amount_minor, exponent, x->amount, sizeof x->amount);
    x->intent_hex[0] = '\0';
    if (t->device_id[0] != '\0') {
        fogpay_hex_encode(t->intent_hash, FOGPAY_HASH_BYTES, x->intent_hex);
    }
    x->chain_hex[0] = '\0';
    if (hash != NULL) {
        fogpay_hex_encode(hash, FOGPAY_HASH_BYTES, x->chain_hex);
    }
}

void fogpay_export_csv_header(FILE *out)
{
    fputs("position,kind,debit,credit,amount,currency,time_ms,device,seq,payer_entity,"
          "payee_entity,intent_hash,chain_hash,related_position,reference,legs\n",
          out);
}

/* The further legs of t in CSV: "debit:credit:amount" each, joined by
 * ';', empty for a transfer of one leg. */
static void export_csv_legs(FILE *out, const fogpay_transfer *t)
{
    int exponent = 0;
    (void)fogpay_currency_code(t->currency, &exponent);
    for (uint32_t i = 1; i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        char amount[32];
        fogpay_amount_format((int64_t)leg.amount_minor, exponent, amount, sizeof amount);
        fprintf(out, "%s%" PRIu64 ":%" PRIu64 ":%s", i == 1 ? "" : ";", leg.debit_account,
                leg.credit_account, amount);
    }
}

void fogpay_export_csv(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    export_text x;
    export_text_of(t, hash, &x);
    fprintf(out, "%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64 ",%s,%s,%" PRIu64 ",", t->position,
            (unsigned)t->kind, t->debit_account, t->credit_account, x.amount, x.code, t->time_ms);
    export_csv_text(out, t->device_id);
    fprintf(out, ",%" PRIu64 ",%s,%s,%s,%s,%" PRIu64 ",", t->seq, t->payer_entity, t->payee_entity,
            x.intent_hex, x.chain_hex, t->related_position);
    export_csv_text(out, t->reference);
    fputc(',', out);
    export_csv_legs(out, t);
    fputc('\n', out);
}

/* Adds an unsigned integer as a JSON number written exactly: cJSON keeps
 * numbers as doubles, which lose digits above 2^53. */
static bool export_json_u64(cJSON *o, const char *name, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    return cJSON_AddRawToObject(o, name, text) != NULL;
}

/* The further legs of t as "legs": [{debit, credit, amount}, ...] and the
 * sum of every leg as "total"; nothing for a transfer of one leg. */
static bool export_json_legs(cJSON *o, const fogpay_transfer *t)
{
    if (t->leg_count == 0) {
        return true;
    }
    int exponent = 0;
    (void)fogpay_currency_code(t->currency, &exponent);
    char amount[32];
    fogpay_amount_format((int64_t)fogpay_transfer_total(t), exponent, amount, sizeof amount);
    cJSON *legs = cJSON_AddArrayToObject(o, "legs");
    bool ok = legs != NULL && cJSON_AddStringToObject(o, "total", amount) != NULL;
    for (uint32_t i = 1; ok && i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(legs, item);
        fogpay_amount_format((int64_t)leg.amount_minor, exponent, amount, sizeof amount);
        ok = ok && export_json_u64(item, "debit", leg.debit_account) &&
             export_json_u64(item, "credit", leg.credit_account) &&
             cJSON_AddStringToObject(item, "amount", amount) != NULL;
    }
    return ok;
}

cJSON *fogpay_export_transfer_object(const fogpay_transfer *t,
                                     const uint8_t hash[FOGPAY_HASH_BYTES])
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    export_text x;
    export_text_of(t, hash, &x);
    bool ok = export_json_u64(o, "position", t->position) && export_json_u64(o, "kind", t->kind) &&
              export_json_u64(o, "debit", t->debit_account) &&
              export_json_u64(o, "credit", t->credit_account) &&
              cJSON_AddStringToObject(o, "amount", x.amount) != NULL &&
              cJSON_AddStringToObject(o, "currency", x.code) != NULL &&
              export_json_u64(o, "time", t->time_ms);
    if (ok && t->device_id[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "device", t->device_id) != NULL &&
             export_json_u64(o, "seq", t->seq) &&
             cJSON_AddStringToObject(o, "intentHash", x.intent_hex) != NULL;
    }
    if (ok && t->payer_entity[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "payerEntity", t->payer_entity) != NULL;
    }
    if (ok && t->payee_entity[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "payeeEntity", t->payee_entity) != NULL;
    }
    if (ok && hash != NULL) {
        ok = cJSON_AddStringToObject(o, "chainHash", x.chain_hex) != NULL;
    }
    if (ok && t->related_position != 0) {
        ok = export_json_u64(o, "relatedPosition", t->related_position);
    }
    if (ok && t->reference[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "reference", t->reference) != NULL;
    }
    ok = ok && export_json_legs(o, t);
    if (ok && t->meter_id[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "meter", t->meter_id) != NULL &&
             cJSON_AddStringToObject(o, "tariff", t->tariff_id) != NULL;
    }
    if (ok && t->plan_id[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "plan", t->plan_id) != NULL &&
             export_json_u64(o, "instalment", t->instalment);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

bool fogpay_export_json(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES],
                        bool first)
{
    cJSON *o = fogpay_export_transfer_object(t, hash);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        return false;
    }
    fprintf(out, "%s%s", first ? "" : ",\n", text);
    free(text);
    return true;
}

void fogpay_export_event_csv_header(FILE *out)
{
    fputs("position,kind,time_ms,device,seq,meter,quantity,unit,entity,role,effective_ms,status,"
          "usage_hash,chain_hash\n",
          out);
}

/* The hashes of an event as hex; the usage hash empty unless it has one. */
static void export_event_hex(const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES],
                             char usage_hex[2 * FOGPAY_HASH_BYTES + 1],
                             char chain_hex[2 * FOGPAY_HASH_BYTES + 1])
{
    usage_hex[0] = '\0';
    if (e->kind == FOGPAY_EVENT_USAGE) {
        fogpay_hex_encode(e->usage_hash, FOGPAY_HASH_BYTES, usage_hex);
    }
    fogpay_hex_encode(hash, FOGPAY_HASH_BYTES, chain_hex);
}

void fogpay_export_event_csv(FILE *out, const fogpay_event *e,
                             const uint8_t hash[FOGPAY_HASH_BYTES])
{
    char usage_hex[2 * FOGPAY_HASH_BYTES + 1], chain_hex[2 * FOGPAY_HASH_BYTES + 1];
    export_event_hex(e, hash, usage_hex, chain_hex);
    fprintf(out,
            "%" PRIu64 ",%u,%" PRIu64 ",%s,%" PRIu64 ",%s,%" PRIu64 ",%s,%s,%u,%" PRIu64
            ",%u,%s,%s\n",
            e->position, (unsigned)e->kind, e->time_ms, e->device_id, e->seq, e->meter_id,
            e->quantity, e->unit, e->entity_id, (unsigned)e->role, e->effective_ms,
            (unsigned)e->status, usage_hex, chain_hex);
}

/* A fee schedule's fields: the payee entity (a device payee is "device"),
 * currency, effective time, the fee legs and the remainder's leg. */
static bool export_event_fee(cJSON *o, const fogpay_event *e)
{
    int exponent = 0;
    const char *code = fogpay_currency_code(e->fee_currency, &exponent);
    cJSON *legs = NULL;
    bool ok =
        (e->entity_id[0] == '\0' || cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL) &&
        cJSON_AddStringToObject(o, "currency", code != NULL ? code : "") != NULL &&
        export_json_u64(o, "effective", e->effective_ms) &&
        export_json_u64(o, "remainderLeg", e->fee_remainder) &&
        (legs = cJSON_AddArrayToObject(o, "feeLegs")) != NULL;
    for (uint32_t i = 0; ok && i < e->fee_leg_count && i < FOGPAY_LEGS_MAX - 1; i++) {
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(legs, item) &&
             export_json_u64(item, "account", e->fee_legs[i].account) &&
             export_json_u64(item, "basisPoints", e->fee_legs[i].basis_points);
    }
    return ok;
}

/* The fields of a plan version (kind 11) or closing (kind 12) event into
 * o: the plan, its effective time, and a version's lender, currency,
 * principal (minor units), schedule and terms, its usage price with the
 * meter; false when out of memory. */
static bool export_event_plan(cJSON *o, const fogpay_event *e)
{
    bool ok = cJSON_AddStringToObject(o, "plan", e->plan_id) != NULL &&
              export_json_u64(o, "effective", e->effective_ms);
    if (!ok || e->kind == FOGPAY_EVENT_PLAN_CLOSED) {
        return ok;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(e->currency, &exponent);
    ok = cJSON_AddStringToObject(o, "lender", e->entity_id) != NULL &&
         cJSON_AddStringToObject(o, "currency", code ? code : "") != NULL &&
         export_json_u64(o, "principalMinor", e->principal_minor) &&
         export_json_u64(o, "rateBasisPoints", e->plan_schedule[0]) &&
         export_json_u64(o, "instalments", e->plan_schedule[1]) &&
         export_json_u64(o, "periodMs", e->plan_schedule[2]) &&
         export_json_u64(o, "graceMs", e->plan_terms[0]) &&
         export_json_u64(o, "shortfall", e->plan_terms[1]) &&
         cJSON_AddBoolToObject(o, "collect", e->plan_terms[2] != 0) != NULL;
    if (ok && e->price[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "usagePrice", e->price) != NULL &&
             cJSON_AddStringToObject(o, "meter", e->meter_id) != NULL;
    }
    cJSON *payees = NULL;
    if (ok && e->plan_payee_count != 0) {
        ok = (payees = cJSON_AddArrayToObject(o, "payees")) != NULL;
    }
    for (uint8_t i = 0; ok && i < e->plan_payee_count && i < FOGPAY_PLAN_PAYEES_MAX; i++) {
        cJSON *id = cJSON_CreateString(e->plan_payees[i]);
        ok = id != NULL && cJSON_AddItemToArray(payees, id);
    }
    return ok;
}

/* The fields of an arrears event into o: the plan, and for arrears
 * entered the holder that owed (when one held the device), the currency
 * and what was owed (minor units); false when out of memory. */
static bool export_event_arrears(cJSON *o, const fogpay_event *e)
{
    bool ok = cJSON_AddStringToObject(o, "plan", e->plan_id) != NULL;
    if (!ok || e->kind == FOGPAY_EVENT_ARREARS_CLEARED) {
        return ok;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(e->currency, &exponent);
    return (e->entity_id[0] == '\0' ||
            cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL) &&
           cJSON_AddStringToObject(o, "currency", code ? code : "") != NULL &&
           export_json_u64(o, "owedMinor", e->arrears_minor);
}

/* The fields of a tariff (kind 7) or meter-bound (kind 8, with the hold
 * that pays its readings) event into o; false when out of memory. */
static bool export_event_tariff(cJSON *o, const fogpay_event *e, const char *usage_hex)
{
    if (cJSON_AddStringToObject(o, "tariff", e->tariff_id) == NULL) {
        return false;
    }
    if (e->kind == FOGPAY_EVENT_METER_BOUND) {
        return cJSON_AddStringToObject(o, "meter", e->meter_id) != NULL &&
               (e->seq == 0 || (export_json_u64(o, "seq", e->seq) &&
                                cJSON_AddStringToObject(o, "bindHash", usage_hex) != NULL)) &&
               (e->hold_id == 0 || export_json_u64(o, "hold", e->hold_id));
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(e->currency, &exponent);
    return cJSON_AddStringToObject(o, "unit", e->unit) != NULL &&
           cJSON_AddStringToObject(o, "price", e->price) != NULL &&
           export_json_u64(o, "minimumMinor", e->minimum_minor) &&
           cJSON_AddStringToObject(o, "currency", code ? code : "") != NULL &&
           export_json_u64(o, "effective", e->effective_ms) &&
           (e->entity_id[0] == '\0' ||
            cJSON_AddStringToObject(o, "payeeEntity", e->entity_id) != NULL);
}

cJSON *fogpay_export_event_object(const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    char usage_hex[2 * FOGPAY_HASH_BYTES + 1], chain_hex[2 * FOGPAY_HASH_BYTES + 1] = "";
    export_event_hex(e, hash ? hash : (const uint8_t[FOGPAY_HASH_BYTES]){0}, usage_hex, chain_hex);
    bool ok =
        export_json_u64(o, "position", e->position) && export_json_u64(o, "kind", e->kind) &&
        export_json_u64(o, "time", e->time_ms) &&
        (e->device_id[0] == '\0' || cJSON_AddStringToObject(o, "device", e->device_id) != NULL);
    /* The fields of the event's kind, each also when it is 0 (an active
     * status, an owner role), none of the other kinds. */
    switch (ok ? e->kind : -1) {
    case FOGPAY_EVENT_REGISTERED:
        ok = cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL;
        break;
    case FOGPAY_EVENT_STATUS:
        ok = export_json_u64(o, "status", e->status) &&
             (e->reason == 0 ||
              cJSON_AddStringToObject(o, "reason", fogpay_error_name(e->reason)) != NULL);
        break;
    case FOGPAY_EVENT_OWNERSHIP:
        ok = cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL &&
             export_json_u64(o, "role", e->role) &&
             export_json_u64(o, "effective", e->effective_ms);
        break;
    case FOGPAY_EVENT_USAGE:
        ok = export_json_u64(o, "seq", e->seq) &&
             cJSON_AddStringToObject(o, "meter", e->meter_id) != NULL &&
             export_json_u64(o, "quantity", e->quantity) &&
             cJSON_AddStringToObject(o, "unit", e->unit) != NULL &&
             cJSON_AddStringToObject(o, "usageHash", usage_hex) != NULL;
        break;
    case FOGPAY_EVENT_TARIFF:
    case FOGPAY_EVENT_METER_BOUND:
        ok = export_event_tariff(o, e, usage_hex);
        break;
    case FOGPAY_EVENT_KEY_ROTATED:
    case FOGPAY_EVENT_KEY_REVOKED: {
        char kid_hex[2 * FOGPAY_KID_BYTES + 1];
        fogpay_hex_encode(e->kid, FOGPAY_KID_BYTES, kid_hex);
        ok = cJSON_AddStringToObject(o, "kid", kid_hex) != NULL &&
             (e->kind == FOGPAY_EVENT_KEY_REVOKED ||
              export_json_u64(o, "effective", e->effective_ms));
        break;
    }
    case FOGPAY_EVENT_FEE_SCHEDULE:
        ok = export_event_fee(o, e);
        break;
    case FOGPAY_EVENT_PLAN:
    case FOGPAY_EVENT_PLAN_CLOSED:
        ok = export_event_plan(o, e);
        break;
    case FOGPAY_EVENT_ARREARS_ENTERED:
    case FOGPAY_EVENT_ARREARS_CLEARED:
        ok = export_event_arrears(o, e);
        break;
    case FOGPAY_EVENT_ENTITY_LOGIN:
        ok = cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL &&
             cJSON_AddStringToObject(o, "login", e->login) != NULL &&
             cJSON_AddBoolToObject(o, "removed", e->login_removed != 0) != NULL;
        break;
    case FOGPAY_EVENT_ERASURE:
        ok = cJSON_AddStringToObject(o, "entity", e->entity_id) != NULL &&
             export_json_u64(o, "erasedFields", e->erased_fields);
        break;
    default:
        break;
    }
    if (ok && hash != NULL) {
        ok = cJSON_AddStringToObject(o, "chainHash", chain_hex) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

bool fogpay_export_event_json(FILE *out, const fogpay_event *e,
                              const uint8_t hash[FOGPAY_HASH_BYTES], bool first)
{
    cJSON *o = fogpay_export_event_object(e, hash);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        return false;
    }
    fprintf(out, "%s%s", first ? "" : ",\n", text);
    free(text);
    return true;
}
