/*
 * fogpay_export.c - transfers as CSV lines and JSON objects (see
 * fogpay_export.h), shared by fogpayctl and fogpay-cloud so that both write
 * the same bytes.
 */
#include <inttypes.h>
#include <string.h>

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
    fogpay_hex_encode(hash, FOGPAY_HASH_BYTES, x->chain_hex);
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

void fogpay_export_json(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES],
                        bool first)
{
    export_text x;
    export_text_of(t, hash, &x);
    fprintf(out,
            "%s{\"position\":%" PRIu64 ",\"kind\":%u,\"debit\":%" PRIu64 ",\"credit\":%" PRIu64
            ",\"amount\":\"%s\",\"currency\":\"%s\",\"time\":%" PRIu64
            ",\"device\":\"%s\",\"seq\":%" PRIu64
            ",\"payerEntity\":\"%s\",\"payeeEntity\":\"%s\",\"intentHash\":\"%s\","
            "\"chainHash\":\"%s\",\"relatedPosition\":%" PRIu64 ",\"reference\":",
            first ? "" : ",\n", t->position, (unsigned)t->kind, t->debit_account, t->credit_account,
            x.amount, x.code, t->time_ms, t->device_id, t->seq, t->payer_entity, t->payee_entity,
            x.intent_hex, x.chain_hex, t->related_position);
    /* References are short codes; escape the two characters JSON needs and
     * drop control characters. */
    fputc('"', out);
    for (const char *p = t->reference; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', out);
        }
        if ((unsigned char)*p >= 0x20) {
            fputc(*p, out);
        }
    }
    fputs("\"}", out);
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

void fogpay_export_event_json(FILE *out, const fogpay_event *e,
                              const uint8_t hash[FOGPAY_HASH_BYTES], bool first)
{
    char usage_hex[2 * FOGPAY_HASH_BYTES + 1], chain_hex[2 * FOGPAY_HASH_BYTES + 1];
    export_event_hex(e, hash, usage_hex, chain_hex);
    fprintf(out,
            "%s{\"position\":%" PRIu64 ",\"kind\":%u,\"time\":%" PRIu64
            ",\"device\":\"%s\",\"seq\":%" PRIu64 ",\"meter\":\"%s\",\"quantity\":%" PRIu64
            ",\"unit\":\"%s\",\"entity\":\"%s\",\"role\":%u,\"effective\":%" PRIu64
            ",\"status\":%u,\"usageHash\":\"%s\",\"chainHash\":\"%s\"}",
            first ? "" : ",\n", e->position, (unsigned)e->kind, e->time_ms, e->device_id, e->seq,
            e->meter_id, e->quantity, e->unit, e->entity_id, (unsigned)e->role, e->effective_ms,
            (unsigned)e->status, usage_hex, chain_hex);
}
