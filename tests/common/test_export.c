/*
 * test_export.c - the export writers (common/fogpay_export.c): a transfer's
 * JSON object omits what the transfer does not have, writes integers
 * exactly above 2^53, escapes text, and the array writer prints the same
 * object; the CSV line keeps every column, one per header field, and quotes
 * text only where CSV needs it, doubling quotes; an event's object has the fields
 * of its kind.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_export.h"
#include "testutil.h"

#define EUR 978

/* A payment a device caused, with every optional field set. */
static fogpay_transfer payment(void)
{
    fogpay_transfer t = {.position = 7,
                         .kind = FOGPAY_TRANSFER_PAYMENT,
                         .debit_account = 3,
                         .credit_account = 4,
                         .amount_minor = 150,
                         .currency = EUR,
                         .time_ms = 1700000000123ull,
                         .seq = 9007199254740993ull,
                         .related_position = 2};
    strcpy(t.device_id, "dev-a");
    strcpy(t.payer_entity, "le-payer");
    strcpy(t.payee_entity, "le-payee");
    strcpy(t.reference, "say \"hi\"\\");
    memset(t.intent_hash, 0xab, sizeof t.intent_hash);
    return t;
}

/* A funding: no device, no entities, no reference. */
static fogpay_transfer funding(void)
{
    fogpay_transfer t = {.position = 1,
                         .kind = FOGPAY_TRANSFER_FUNDING,
                         .debit_account = 1,
                         .credit_account = 3,
                         .amount_minor = 1000,
                         .currency = EUR,
                         .time_ms = 1000};
    return t;
}

/* Prints the object of t with cJSON, unformatted; the caller frees. */
static char *object_text(const fogpay_transfer *t, const uint8_t *hash)
{
    cJSON *o = fogpay_export_transfer_object(t, hash);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    return text;
}

static void test_absent_fields_are_omitted(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0x01, sizeof hash);
    fogpay_transfer t = funding();
    char *text = object_text(&t, hash);
    CU_ASSERT_STRING_EQUAL(text, "{\"position\":1,\"kind\":1,\"debit\":1,\"credit\":3,"
                                 "\"amount\":\"10.00\",\"currency\":\"EUR\",\"time\":1000,"
                                 "\"chainHash\":\"0101010101010101010101010101010101010101010"
                                 "101010101010101010101\"}");
    free(text);
    /* Without a chain hash (a transfer not yet on the chain) there is none. */
    text = object_text(&t, NULL);
    CU_ASSERT_PTR_NULL(strstr(text, "chainHash"));
    free(text);
    /* A transfer of several legs: its further legs and its total. */
    t.leg_count = 1;
    t.legs[0] = (fogpay_leg){1, 4, 31};
    text = object_text(&t, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(
        text, "\"legs\":[{\"debit\":1,\"credit\":4,\"amount\":\"0.31\"}],\"total\":\"10.31\""));
    free(text);
}

static void test_every_field_exact_and_escaped(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0x02, sizeof hash);
    fogpay_transfer t = payment();
    char *text = object_text(&t, hash);
    /* 2^53 + 1 is not a double: written from the integer, not through one. */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"seq\":9007199254740993,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"time\":1700000000123,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"device\":\"dev-a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"relatedPosition\":2"));
    cJSON *back = cJSON_Parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(back, "reference")->valuestring, "say \"hi\"\\");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(back, "intentHash")->valuestring,
                           "abababababababababababababababababababababababababababababababab");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(back, "payerEntity")->valuestring, "le-payer");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(back, "payeeEntity")->valuestring, "le-payee");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(back), 15);
    cJSON_Delete(back);
    free(text);
}

/* The array writer prints the same object, separated by ",\n". */
static void test_array_writer_prints_the_object(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES] = {0};
    fogpay_transfer a = funding(), b = payment();
    char *ta = object_text(&a, hash), *tb = object_text(&b, hash);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(fogpay_export_json(f, &a, hash, true));
    CU_ASSERT(fogpay_export_json(f, &b, hash, false));
    fclose(f);
    char expected[2048];
    snprintf(expected, sizeof expected, "%s,\n%s", ta, tb);
    CU_ASSERT_STRING_EQUAL(buf, expected);
    free(buf);
    free(ta);
    free(tb);
}

/* CSV keeps a column for every field, empty or 0 when absent. */
/* Runs one writer into memory; the caller frees the text. */
#define CAPTURE(text, call)                                                                        \
    do {                                                                                           \
        size_t cap_len_;                                                                           \
        FILE *out = open_memstream(&(text), &cap_len_);                                            \
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);                                                         \
        call;                                                                                      \
        fclose(out);                                                                               \
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
    CU_ASSERT_EQUAL(csv_fields(header), 16);
    CU_ASSERT_EQUAL(csv_fields(line), csv_fields(header));
    CU_ASSERT_EQUAL(
        strncmp(line, "7,1,11,12,1.50,EUR,1764000000123,meter-07,42,le-a,le-b,abab", 59), 0);
    CU_ASSERT(strstr(line, ",0101010101010101010101010101010101010101010101010101010101010101,0,"
                           "kWh 12,\n") != NULL);
    free(line);

    /* Two further legs: debit:credit:amount each, after the reference. */
    t.leg_count = 2;
    t.legs[0] = (fogpay_leg){11, 13, 5};
    t.legs[1] = (fogpay_leg){11, 14, 120};
    CAPTURE(line, fogpay_export_csv(out, &t, hash));
    CU_ASSERT_EQUAL(csv_fields(line), 16);
    CU_ASSERT(strstr(line, ",kWh 12,11:13:0.05;11:14:1.20\n") != NULL);
    free(line);
    t.leg_count = 0;

    /* A reference with a comma and a quote is quoted, the quote doubled. */
    strcpy(t.reference, "a,\"b\"");
    t.device_id[0] = '\0';
    CAPTURE(line, fogpay_export_csv(out, &t, hash));
    CU_ASSERT_EQUAL(csv_fields(line), 16);
    CU_ASSERT(strstr(line, ",\"a,\"\"b\"\"\",\n") != NULL);
    /* No device: no intent hash. */
    CU_ASSERT(strstr(line, ",le-a,le-b,,0101") != NULL);
    free(line);
    free(header);
}

static void test_csv_columns(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES] = {0};
    fogpay_transfer t = funding();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fogpay_export_csv(f, &t, hash);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "1,1,1,3,10.00,EUR,1000,,0,,,,"
                                "0000000000000000000000000000000000000000000000000000000000000000"
                                ",0,,\n");
    free(buf);
}

/* An event has the fields of its kind, 0 included, and no others. */
static void test_event_fields_of_its_kind(void)
{
    uint8_t hash[FOGPAY_HASH_BYTES] = {0};
    fogpay_event status = {.position = 2, .kind = FOGPAY_EVENT_STATUS, .time_ms = 5, .status = 0};
    strcpy(status.device_id, "dev-a");
    cJSON *o = fogpay_export_event_object(&status, NULL);
    char *text = cJSON_PrintUnformatted(o);
    CU_ASSERT_STRING_EQUAL(
        text, "{\"position\":2,\"kind\":1,\"time\":5,\"device\":\"dev-a\",\"status\":0}");
    free(text);
    cJSON_Delete(o);
    fogpay_event usage = {
        .position = 3, .kind = FOGPAY_EVENT_USAGE, .time_ms = 6, .seq = 4, .quantity = 12};
    strcpy(usage.device_id, "dev-a");
    strcpy(usage.meter_id, "m1");
    strcpy(usage.unit, "kWh");
    memset(usage.usage_hash, 0xcd, sizeof usage.usage_hash);
    o = fogpay_export_event_object(&usage, hash);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "entity"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "status"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "role"));
    /* Integers are raw JSON text in the tree, exact when printed. */
    text = cJSON_PrintUnformatted(o);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"seq\":4,\"meter\":\"m1\",\"quantity\":12,"));
    free(text);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "unit")->valuestring, "kWh");
    CU_ASSERT_EQUAL(strlen(cJSON_GetObjectItem(o, "usageHash")->valuestring), 64);
    CU_ASSERT_EQUAL(strlen(cJSON_GetObjectItem(o, "chainHash")->valuestring), 64);
    cJSON_Delete(o);
}

/* A plan's arrears: entered with the holder, currency and what was owed,
 * cleared with the plan alone. */
static void test_event_arrears(void)
{
    fogpay_event in = {.position = 8,
                       .kind = FOGPAY_EVENT_ARREARS_ENTERED,
                       .time_ms = 9,
                       .currency = 978,
                       .arrears_minor = 10936};
    strcpy(in.device_id, "charger-1");
    strcpy(in.plan_id, "charger-1-loan");
    strcpy(in.entity_id, "le-0011223344556677");
    cJSON *o = fogpay_export_event_object(&in, NULL);
    char *text = cJSON_PrintUnformatted(o);
    CU_ASSERT_STRING_EQUAL(text, "{\"position\":8,\"kind\":13,\"time\":9,\"device\":\"charger-1\","
                                 "\"plan\":\"charger-1-loan\",\"entity\":\"le-0011223344556677\","
                                 "\"currency\":\"EUR\",\"owedMinor\":10936}");
    free(text);
    cJSON_Delete(o);
    fogpay_event out = {.position = 9, .kind = FOGPAY_EVENT_ARREARS_CLEARED, .time_ms = 10};
    strcpy(out.device_id, "charger-1");
    strcpy(out.plan_id, "charger-1-loan");
    o = fogpay_export_event_object(&out, NULL);
    text = cJSON_PrintUnformatted(o);
    CU_ASSERT_STRING_EQUAL(text, "{\"position\":9,\"kind\":14,\"time\":10,\"device\":\"charger-1\","
                                 "\"plan\":\"charger-1-loan\"}");
    free(text);
    cJSON_Delete(o);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("export", NULL, NULL);
    CU_add_test(s, "JSON: absent fields omitted", test_absent_fields_are_omitted);
    CU_add_test(s, "JSON: every field, exact integers, escaped text",
                test_every_field_exact_and_escaped);
    CU_add_test(s, "JSON array writer prints the same object", test_array_writer_prints_the_object);
    CU_add_test(s, "CSV: a column for every field", test_csv_columns);
    CU_add_test(s, "CSV: quoting, a field per header column", test_transfer_csv);
    CU_add_test(s, "event JSON: the fields of its kind", test_event_fields_of_its_kind);
    CU_add_test(s, "event JSON: a plan's arrears entered and cleared", test_event_arrears);
    return testutil_run();
}
