/*
 * test_control.c - the operator's JSON commands (control/control.c) on a
 * real ledger file: every command's round trip and its refusals, with the
 * device commands it asks to send recorded by a test sender.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "fogpay_export.h"
#include "fogpay_key.h"

#define NOW_MS 1700000000000ull

static char dir[256];
static char db_path[300];
static fogpay_ledger *ledger;
static fogpay_control_context ctx;
static char entity[64];
static char pub[FOGPAY_PUBLIC_KEY_TEXT_MAX];

/* What the control asked to send to devices. */
static struct {
    int count;
    char device[FOGPAY_DEVICE_ID_MAX + 1];
    fogpay_command_kind kind;
    fogpay_device_limits limits;
} sent;

static fogpay_error record_send(void *unused, const char *device_id, fogpay_command_kind kind,
                                const fogpay_device_limits *limits)
{
    (void)unused;
    sent.count++;
    snprintf(sent.device, sizeof sent.device, "%s", device_id);
    sent.kind = kind;
    sent.limits = limits ? *limits : (fogpay_device_limits){0};
    return FOGPAY_OK;
}

/* Sends one request and returns the parsed first response (the whole reply
 * is kept in *reply for freeing). */
static const cJSON *request(const char *json, cJSON **reply)
{
    char *text = fogpay_control_handle(&ctx, json, strlen(json), NOW_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    *reply = cJSON_Parse(text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*reply);
    const cJSON *responses = cJSON_GetObjectItem(*reply, "responses");
    CU_ASSERT_FATAL(cJSON_IsArray(responses));
    return cJSON_GetArrayItem(responses, 0);
}

static const char *error_of(const cJSON *resp)
{
    const cJSON *e = cJSON_GetObjectItem(resp, "error");
    return cJSON_IsString(e) ? e->valuestring : "";
}

static const char *data_text(const cJSON *resp, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Runs a command expecting the given error name ("" for success). */
static void expect(const char *json, const char *error)
{
    cJSON *reply = NULL;
    const cJSON *resp = request(json, &reply);
    if (strcmp(error_of(resp), error) != 0) {
        fprintf(stderr, "\n%s -> error \"%s\", expected \"%s\"\n", json, error_of(resp), error);
    }
    CU_ASSERT_STRING_EQUAL(error_of(resp), error);
    cJSON_Delete(reply);
}

static int setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fogpay-control-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
    if (fogpay_ledger_open(db_path, true, &ledger) != FOGPAY_OK) {
        return 1;
    }
    ctx = (fogpay_control_context){.ledger = ledger, .send_command = record_send};
    fogpay_key *key = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK ||
        fogpay_key_public_text(key, pub, sizeof pub) != FOGPAY_OK) {
        return 1;
    }
    fogpay_key_free(key);
    return 0;
}

static int teardown(void)
{
    fogpay_ledger_close(ledger);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_create_and_register(void)
{
    cJSON *reply = NULL;
    const cJSON *resp = request("{\"commands\":[{\"command\":\"createLegalEntity\",\"name\":\"Ex "
                                "Ltd\",\"contact\":\"a@b.invalid\",\"correlationData\":\"c1\"}]}",
                                &reply);
    CU_ASSERT_STRING_EQUAL(error_of(resp), "");
    snprintf(entity, sizeof entity, "%s", data_text(resp, "entity"));
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(resp, "correlationData")->valuestring, "c1");
    cJSON_Delete(reply);
    CU_ASSERT(strncmp(entity, "le-", 3) == 0);
    /* The reply carries no personal data. */
    char json[1024];
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"registerDevice\",\"device\":\"dev-a\",\"publicKey\":"
             "\"%s\",\"owner\":\"%s\",\"limits\":{\"perPayment\":\"5.00\",\"currency\":\"EUR\"}}]}",
             pub, entity);
    expect(json, "");
    expect(json, "exists");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"registerDevice\",\"device\":\"dev-b\",\"publicKey\":"
             "\"%s\",\"owner\":\"%s\"}]}",
             pub, entity);
    expect(json, "");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"registerDevice\",\"device\":\"dev-c\",\"publicKey\":"
             "\"ed25519:zz\",\"owner\":\"%s\"}]}",
             entity);
    expect(json, "text_invalid");
    expect("{\"commands\":[{\"command\":\"registerDevice\",\"device\":\"dev-c\"}]}",
           "missing_field");
    expect("{\"commands\":[{\"command\":\"createLegalEntity\",\"name\":7}]}", "text_invalid");
}

static void test_fund_and_balance(void)
{
    cJSON *reply = NULL;
    const cJSON *resp = request("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\","
                                "\"currency\":\"EUR\",\"amount\":\"10.00\"}]}",
                                &reply);
    CU_ASSERT_STRING_EQUAL(error_of(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "balance"), "10.00");
    cJSON_Delete(reply);
    resp = request("{\"commands\":[{\"command\":\"getBalance\",\"device\":\"dev-a\","
                   "\"currency\":\"EUR\"}]}",
                   &reply);
    CU_ASSERT_STRING_EQUAL(data_text(resp, "balance"), "10.00");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "currency"), "EUR");
    cJSON_Delete(reply);
    /* More decimals than EUR has: refused, as a range or a text fault. */
    resp = request("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\","
                   "\"currency\":\"EUR\",\"amount\":\"1.505\"}]}",
                   &reply);
    CU_ASSERT(strcmp(error_of(resp), "field_range") == 0 ||
              strcmp(error_of(resp), "text_invalid") == 0);
    cJSON_Delete(reply);
    expect("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\",\"currency\":\"EUR\","
           "\"amount\":1.5}]}",
           "text_invalid");
    expect("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\",\"currency\":\"XXZ\","
           "\"amount\":\"1\"}]}",
           "currency_unsupported");
    expect("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"nobody\",\"currency\":\"EUR\","
           "\"amount\":\"1\"}]}",
           "not_found");
    expect(
        "{\"commands\":[{\"command\":\"getBalance\",\"device\":\"nobody\",\"currency\":\"EUR\"}]}",
        "not_found");
}

static void test_suspend_resume_limits(void)
{
    sent.count = 0;
    expect("{\"commands\":[{\"command\":\"suspendDevice\",\"device\":\"dev-b\"}]}", "");
    CU_ASSERT_EQUAL(sent.count, 1);
    CU_ASSERT_EQUAL(sent.kind, FOGPAY_COMMAND_SUSPEND);
    CU_ASSERT_STRING_EQUAL(sent.device, "dev-b");
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(ledger, "dev-b", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_SUSPENDED);
    expect("{\"commands\":[{\"command\":\"resumeDevice\",\"device\":\"dev-b\"}]}", "");
    CU_ASSERT_EQUAL(sent.count, 2);
    CU_ASSERT_EQUAL(sent.kind, FOGPAY_COMMAND_RESUME);
    expect("{\"commands\":[{\"command\":\"suspendDevice\",\"device\":\"nobody\"}]}", "not_found");
    CU_ASSERT_EQUAL(sent.count, 2);
    expect("{\"commands\":[{\"command\":\"setLimits\",\"device\":\"dev-b\",\"perPayment\":\"2.50\","
           "\"perDay\":\"20\",\"walletMax\":\"100.00\",\"currency\":\"EUR\"}]}",
           "");
    CU_ASSERT_EQUAL(sent.count, 3);
    CU_ASSERT_EQUAL(sent.kind, FOGPAY_COMMAND_LIMITS);
    CU_ASSERT_EQUAL(sent.limits.per_payment_minor, 250);
    CU_ASSERT_EQUAL(sent.limits.per_day_minor, 2000);
    CU_ASSERT_EQUAL(sent.limits.wallet_max_minor, 10000);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(ledger, "dev-b", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 250);
}

static void test_transfers_and_verify(void)
{
    expect("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\",\"currency\":\"EUR\","
           "\"amount\":\"0.07\",\"reference\":\"r2\"}]}",
           "");
    cJSON *reply = NULL;
    const cJSON *resp = request("{\"commands\":[{\"command\":\"getTransfer\",\"id\":2}]}", &reply);
    const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "transfer");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "amount")->valuestring, "0.07");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "reference")->valuestring, "r2");
    CU_ASSERT_EQUAL(strlen(cJSON_GetObjectItem(t, "chainHash")->valuestring), 64);
    /* The reply's transfer is the export's object, byte for byte: a funding
     * has no device, so no "device", "seq" or "intentHash" at all. */
    fogpay_transfer stored;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(ledger, 2, &stored, hash), FOGPAY_OK);
    cJSON *exported = fogpay_export_transfer_object(&stored, hash);
    char *want = cJSON_PrintUnformatted(exported);
    char *got = cJSON_PrintUnformatted(t);
    CU_ASSERT_STRING_EQUAL(got, want);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(t, "device"));
    free(want);
    free(got);
    cJSON_Delete(exported);
    cJSON_Delete(reply);
    expect("{\"commands\":[{\"command\":\"getTransfer\",\"id\":99}]}", "not_found");
    expect("{\"commands\":[{\"command\":\"getTransfer\",\"id\":-1}]}", "field_range");
    resp = request("{\"commands\":[{\"command\":\"listTransfers\",\"device\":\"dev-a\","
                   "\"limit\":1}]}",
                   &reply);
    const cJSON *data = cJSON_GetObjectItem(resp, "data");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(data, "transfers")), 1);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(data, "next")->valueint, 1);
    cJSON_Delete(reply);
    resp = request("{\"commands\":[{\"command\":\"listTransfers\",\"device\":\"dev-a\","
                   "\"after\":1,\"limit\":10}]}",
                   &reply);
    data = cJSON_GetObjectItem(resp, "data");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(data, "transfers")), 1);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(data, "next"));
    cJSON_Delete(reply);
    resp = request("{\"commands\":[{\"command\":\"verifyLedger\"}]}", &reply);
    CU_ASSERT_STRING_EQUAL(error_of(resp), "");
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "ok")));
    cJSON_Delete(reply);
}

static double data_number(const cJSON *resp, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The sync backlog: transfers past the cloud's last ack, and the age of the
 * oldest of them; nothing once an ack covers the chain. */
static void test_sync_status(void)
{
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(ledger, &head, head_hash), FOGPAY_OK);
    CU_ASSERT_FATAL(head >= 2);
    fogpay_transfer first;
    uint8_t first_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(ledger, 1, &first, first_hash), FOGPAY_OK);
    fogpay_transfer second;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(ledger, 2, &second, NULL), FOGPAY_OK);

    cJSON *reply = NULL;
    const cJSON *resp = request("{\"commands\":[{\"command\":\"getSyncStatus\"}]}", &reply);
    CU_ASSERT_STRING_EQUAL(error_of(resp), "");
    CU_ASSERT_EQUAL(data_number(resp, "chainPosition"), (double)head);
    CU_ASSERT_EQUAL(data_number(resp, "ackedPosition"), 0);
    CU_ASSERT_EQUAL(data_number(resp, "backlog"), (double)head);
    CU_ASSERT_EQUAL(data_number(resp, "oldestUnackedAgeMs"), (double)(NOW_MS - first.time_ms));
    uint64_t event_head = 0;
    uint8_t event_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_head(ledger, &event_head, event_hash), FOGPAY_OK);
    CU_ASSERT(event_head >= 2); /* the devices registered by the earlier tests */
    CU_ASSERT_EQUAL(data_number(resp, "eventPosition"), (double)event_head);
    CU_ASSERT_EQUAL(data_number(resp, "ackedEventPosition"), 0);
    CU_ASSERT_EQUAL(data_number(resp, "eventBacklog"), (double)event_head);
    cJSON_Delete(reply);

    fogpay_sync_state st = {.acked_position = 1, .batch_seq = 3, .acked_ms = NOW_MS - 5};
    memcpy(st.acked_hash, first_hash, FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_set(ledger, &st), FOGPAY_OK);
    resp = request("{\"commands\":[{\"command\":\"getSyncStatus\"}]}", &reply);
    CU_ASSERT_EQUAL(data_number(resp, "ackedPosition"), 1);
    CU_ASSERT_EQUAL(data_number(resp, "backlog"), (double)(head - 1));
    CU_ASSERT_EQUAL(data_number(resp, "oldestUnackedAgeMs"), (double)(NOW_MS - second.time_ms));
    CU_ASSERT_EQUAL(data_number(resp, "lastBatchSeq"), 3);
    CU_ASSERT_EQUAL(data_number(resp, "lastAckMs"), (double)(NOW_MS - 5));
    cJSON_Delete(reply);

    st.acked_position = head;
    memcpy(st.acked_hash, head_hash, FOGPAY_HASH_BYTES);
    st.acked_event_position = event_head;
    memcpy(st.acked_event_hash, event_hash, FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_set(ledger, &st), FOGPAY_OK);
    resp = request("{\"commands\":[{\"command\":\"getSyncStatus\"}]}", &reply);
    CU_ASSERT_EQUAL(data_number(resp, "backlog"), 0);
    CU_ASSERT_EQUAL(data_number(resp, "oldestUnackedAgeMs"), 0);
    CU_ASSERT_EQUAL(data_number(resp, "eventBacklog"), 0);
    cJSON_Delete(reply);
}

/* listDevices: every device not revoked with its status, limits and
 * balance; pages; a bad limit or currency refused. */
static void test_list_devices(void)
{
    expect("{\"commands\":[{\"command\":\"suspendDevice\",\"device\":\"dev-b\"}]}", "");
    cJSON *reply = NULL;
    const cJSON *resp =
        request("{\"commands\":[{\"command\":\"listDevices\",\"currency\":\"EUR\"}]}", &reply);
    CU_ASSERT_STRING_EQUAL(error_of(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "currency"), "EUR");
    const cJSON *devices = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "devices");
    CU_ASSERT_TRUE(cJSON_GetArraySize(devices) >= 2);
    const cJSON *b = NULL;
    for (int i = 0; i < cJSON_GetArraySize(devices); i++) {
        const cJSON *d = cJSON_GetArrayItem(devices, i);
        if (strcmp(cJSON_GetObjectItem(d, "device")->valuestring, "dev-b") == 0) {
            b = d;
        }
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(b, "status")->valuestring, "suspended");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(b, "perPayment")->valuestring, "2.50");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(b, "walletMax")->valuestring, "100.00");
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "next"));
    cJSON_Delete(reply);
    resp = request("{\"commands\":[{\"command\":\"listDevices\",\"currency\":\"EUR\","
                   "\"limit\":1}]}",
                   &reply);
    CU_ASSERT_EQUAL(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "devices")), 1);
    CU_ASSERT_STRING_NOT_EQUAL(data_text(resp, "next"), "");
    cJSON_Delete(reply);
    expect("{\"commands\":[{\"command\":\"listDevices\",\"currency\":\"EUR\",\"limit\":0}]}",
           "field_range");
    expect("{\"commands\":[{\"command\":\"listDevices\",\"currency\":\"EUR\",\"limit\":101}]}",
           "field_range");
    expect("{\"commands\":[{\"command\":\"listDevices\",\"currency\":\"XXX\"}]}",
           "currency_unsupported");
    expect("{\"commands\":[{\"command\":\"listDevices\"}]}", "missing_field");
    expect("{\"commands\":[{\"command\":\"resumeDevice\",\"device\":\"dev-b\"}]}", "");
}

static void test_malformed(void)
{
    expect("{\"commands\":[{\"command\":", "text_invalid");
    expect("{\"other\":1}", "missing_field");
    expect("{\"commands\":[{\"command\":\"dropLedger\"}]}", "not_found");
    expect("{\"commands\":[42]}", "missing_field");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("control", setup, teardown);
    CU_add_test(s, "createLegalEntity and registerDevice", test_create_and_register);
    CU_add_test(s, "fundWallet and getBalance", test_fund_and_balance);
    CU_add_test(s, "suspend, resume, setLimits send commands", test_suspend_resume_limits);
    CU_add_test(s, "getTransfer, listTransfers paging, verifyLedger", test_transfers_and_verify);
    CU_add_test(s, "getSyncStatus: the backlog past the cloud's ack", test_sync_status);
    CU_add_test(s, "listDevices", test_list_devices);
    CU_add_test(s, "malformed requests", test_malformed);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}
