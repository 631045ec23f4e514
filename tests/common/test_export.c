/*
 * test_export.c - the CSV and JSON lines of common/fogpay_export.c: every
 * line has as many fields as its header, text is quoted only when CSV needs
 * it, JSON objects parse back (cJSON) with each field's value, amounts are
 * in the currency's exponent, and the intent hash is empty for a transfer
 * without a device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fogpay_export.h"
#include "testutil.h"

/* Runs one writer into memory; the caller frees the text. */
#define CAPTURE(text, call)                                                                    \
    do {                                                                                       \
        size_t cap_len_;                                                                       \
        FILE *out = open_memstream(&(text), &cap_len_);                                        \
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);                                                     \
        call;                                                                                  \
        fclose(out);                                                                           \
    } while (0)

static fogpay_transfer sample_transfer(void)
{
    fogpay_transfer t;
    memset(&t, 0, sizeof t);
    t.position = 7;
    t.kind = 1;
    t.debit_account = 11;
    t.credit_account = 12;
    t.amount_minor = 150;
    t.currency = 978;
    t.time_ms = 1764000000123ull;
    strcpy(t.device_id, "meter-07");
    t.seq = 42;
    strcpy(t.payer_entity, "le-a");
    strcpy(t.payee_entity, "le-b");
    memset(t.intent_hash, 0xab, sizeof t.intent_hash);
    strcpy(t.reference, "kWh 12");
    return t;
}

/* Fields of one CSV line, counting quoted commas as text. */
static int csv_fields(const char *line)
{
    int fields = 1;
    bool quoted = false;
    for (const char *p = line; *p != '\0' && *p != '\n'; p++) {
        if (*p == '"') {
            quoted = !quoted;
        } else if (*p == ',' && !quoted) {
            fields++;
        }
    }
    return fields;
}

static void test_transfer_csv(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0x01, sizeof hash);
    fogpay_transfer t = sample_transfer();
    char *header = NULL, *line = NULL;
    CAPTURE(header, fogpay_export_csv_header(out));
    CAPTURE(line, fogpay_export_csv(out, &t, hash));
    CU_ASSERT_EQUAL(csv_fields(header), 15);
    CU_ASSERT_EQUAL(csv_fields(line), csv_fields(header));
    CU_ASSERT_EQUAL(strncmp(line, "7,1,11,12,1.50,EUR,1764000000123,meter-07,42,le-a,le-b,abab", 59),
                    0);
    CU_ASSERT(strstr(line, ",0101010101010101010101010101010101010101010101010101010101010101,0,"
                           "kWh 12\n") != NULL);
    free(line);

    /* A reference with a comma and a quote is quoted, the quote doubled. */
    strcpy(t.reference, "a,\"b\"");
    t.device_id[0] = '\0';
    CAPTURE(line, fogpay_export_csv(out, &t, hash));
    CU_ASSERT_EQUAL(csv_fields(line), 15);
    CU_ASSERT(strstr(line, ",\"a,\"\"b\"\"\"\n") != NULL);
    /* No device: no intent hash. */
    CU_ASSERT(strstr(line, ",le-a,le-b,,0101") != NULL);
    free(line);
    free(header);
}

static void test_transfer_json(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0xff, sizeof hash);
    fogpay_transfer t = sample_transfer();
    t.currency = 392; /* JPY, exponent 0 */
    strcpy(t.reference, "q\"\\\x01z");
    char *text = NULL;
    CAPTURE(text, fogpay_export_json(out, &t, hash, true));
    cJSON *o = cJSON_Parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "position")), 7);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "amount")), "150");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "currency")), "JPY");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "device")), "meter-07");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "payerEntity")), "le-a");
    CU_ASSERT_EQUAL(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "chainHash"))), 64);
    /* The quote and backslash escaped, the control character dropped. */
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reference")), "q\"\\z");
    cJSON_Delete(o);
    free(text);

    /* Not the first object: a separator before it, and the two form an array. */
    char *two = NULL;
    CAPTURE(two, fputs("[\n", out); fogpay_export_json(out, &t, hash, true);
            fogpay_export_json(out, &t, hash, false); fputs("\n]\n", out));
    cJSON *array = cJSON_Parse(two);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(array), 2);
    cJSON_Delete(array);
    free(two);
}

static void test_events(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0x22, sizeof hash);
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.position = 3;
    e.kind = FOGPAY_EVENT_USAGE;
    e.time_ms = 1000;
    strcpy(e.device_id, "meter-07");
    e.seq = 5;
    strcpy(e.meter_id, "m1");
    e.quantity = 12;
    strcpy(e.unit, "Wh");
    memset(e.usage_hash, 0x33, sizeof e.usage_hash);
    char *header = NULL, *line = NULL, *json = NULL;
    CAPTURE(header, fogpay_export_event_csv_header(out));
    CAPTURE(line, fogpay_export_event_csv(out, &e, hash));
    CU_ASSERT_EQUAL(csv_fields(header), 14);
    CU_ASSERT_EQUAL(csv_fields(line), 14);
    CU_ASSERT_EQUAL(strncmp(line, "3,3,1000,meter-07,5,m1,12,Wh,,0,0,0,3333", 40), 0);
    CAPTURE(json, fogpay_export_event_json(out, &e, hash, true));
    cJSON *o = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "quantity")), 12);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "unit")), "Wh");
    CU_ASSERT_EQUAL(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "usageHash"))), 64);
    cJSON_Delete(o);
    free(line);
    free(json);

    /* Only a usage event has a usage hash. */
    e.kind = FOGPAY_EVENT_STATUS;
    e.status = 1;
    CAPTURE(line, fogpay_export_event_csv(out, &e, hash));
    CU_ASSERT(strstr(line, ",1,," "2222") != NULL);
    free(line);
    free(header);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("export", NULL, NULL);
    CU_add_test(s, "transfers as CSV", test_transfer_csv);
    CU_add_test(s, "transfers as JSON", test_transfer_json);
    CU_add_test(s, "events as CSV and JSON", test_events);
    return testutil_run();
}
