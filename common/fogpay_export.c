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
          "payee_entity,intent_hash,chain_hash,related_position,reference\n",
          out);
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
    if (ok && t->meter_id[0] != '\0') {
        ok = cJSON_AddStringToObject(o, "meter", t->meter_id) != NULL &&
             cJSON_AddStringToObject(o, "tariff", t->tariff_id) != NULL;
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

/* The fields of a tariff (kind 7) or meter-bound (kind 8) event into o;
 * false when out of memory. */
static bool export_event_tariff(cJSON *o, const fogpay_event *e, const char *usage_hex)
{
    if (cJSON_AddStringToObject(o, "tariff", e->tariff_id) == NULL) {
        return false;
    }
    if (e->kind == FOGPAY_EVENT_METER_BOUND) {
        return cJSON_AddStringToObject(o, "meter", e->meter_id) != NULL &&
               (e->seq == 0 || (export_json_u64(o, "seq", e->seq) &&
                                cJSON_AddStringToObject(o, "bindHash", usage_hex) != NULL));
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
    bool ok = export_json_u64(o, "position", e->position) && export_json_u64(o, "kind", e->kind) &&
              export_json_u64(o, "time", e->time_ms) &&
              cJSON_AddStringToObject(o, "device", e->device_id) != NULL;
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
