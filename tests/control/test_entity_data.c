/*
 * test_entity_data.c - GDPR requests on the control API
 * (control/control_entity_data.c, ledger/ledger_personal.c) on a real
 * ledger file: an erasure deletes the one row of personal data (and its
 * bytes from the file), records an erasure event without the data, and
 * leaves every transfer and both chains verifying; an access request
 * exports everything the gateway holds about the entity; an entity's own
 * login can do both for itself and neither for another entity.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_fixture.h"
#include "ledger_fixture.h"

#define PERSON_NAME "Chloe Personne-Erasable"
#define PERSON_IBAN "DE89370400440532013000"

/* The ledger: C (a person with a contact and an IBAN) owns dev-c, is paid
 * by dev-a and pays out once. */
typedef struct world {
    fixture fx;
    char entity_c[FOGPAY_ENTITY_ID_MAX + 1];
    uint64_t account_c;
} world;

static cJSON *send_as(world *w, const char *entity, const char *json, const cJSON **resp)
{
    return control_fixture_send(w->fx.l, entity, "login", json, NOW_MS + 1000, resp);
}

static void world_open(world *w)
{
    fixture_open(&w->fx);
    fogpay_entity_personal p = {
        .name = PERSON_NAME, .contact = "chloe@example.invalid", .bank_ref = PERSON_IBAN};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(w->fx.l, &p, NOW_MS, w->entity_c), FOGPAY_OK);
    device_new(w->fx.l, "dev-c", w->entity_c, NULL);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(w->fx.l, w->entity_c, EUR, &w->account_c),
                          FOGPAY_OK);
    fund(w->fx.l, "dev-a", EUR, 10000);
    CU_ASSERT_EQUAL_FATAL(
        pay_full(w->fx.l, "dev-a", 1, NULL, w->account_c, 4000, EUR, NOW_MS, NULL), FOGPAY_OK);
    char json[512];
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"15.00\"}]}",
             w->entity_c);
    const cJSON *resp = NULL;
    cJSON *reply = send_as(w, NULL, json, &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    cJSON_Delete(reply);
}

/* True when the file at path holds the bytes of text. */
static bool file_holds(const char *path, const char *text)
{
    size_t len = 0;
    char *bytes = testutil_read_file(path, &len);
    if (bytes == NULL) {
        return false;
    }
    bool found = false;
    for (size_t i = 0; !found && i + strlen(text) <= len; i++) {
        found = memcmp(bytes + i, text, strlen(text)) == 0;
    }
    free(bytes);
    return found;
}

static void test_erasure(void)
{
    world w;
    world_open(&w);
    uint64_t transfers_before = 0;
    CU_ASSERT_EQUAL(verify(w.fx.l, &transfers_before, NULL, NULL, 0), FOGPAY_OK);
    char json[512];
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"eraseEntityData\",\"entity\":\"%s\"}]}", w.entity_c);
    const cJSON *resp = NULL;
    cJSON *reply = send_as(&w, NULL, json, &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    uint64_t position =
        (uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "event")->valuedouble;
    cJSON_Delete(reply);
    /* The row is gone; the event says so, without the data. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM entity_personal WHERE entity_id = '%s'",
             w.entity_c);
    CU_ASSERT_EQUAL(raw_long(w.fx.path, sql), 0);
    CU_ASSERT_EQUAL(position, event_head(w.fx.l));
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(w.fx.l, position, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_ERASURE);
    CU_ASSERT_STRING_EQUAL(e.entity_id, w.entity_c);
    CU_ASSERT_EQUAL(e.erased_fields,
                    FOGPAY_ERASED_NAME | FOGPAY_ERASED_CONTACT | FOGPAY_ERASED_BANK_REF);
    CU_ASSERT_STRING_EQUAL(e.device_id, "");
    /* Every transfer and both chains still verify; the entity's stay. */
    uint64_t transfers_after = 0;
    CU_ASSERT_EQUAL(verify(w.fx.l, &transfers_after, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(transfers_after, transfers_before);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(w.fx.l, transfers_after, &t, NULL), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, w.entity_c);
    /* Once is all: again, and a payout to the erased bank account, are refused. */
    reply = send_as(&w, NULL, json, &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "personal_data_erased");
    cJSON_Delete(reply);
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"1.00\"},{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
             "\"from\":0,\"to\":%llu,\"debtorName\":\"Ops\","
             "\"debtorIban\":\"FR1420041010050500013M02606\"}]}",
             w.entity_c, (unsigned long long)(NOW_MS + 10000));
    reply = send_as(&w, NULL, json, &resp);
    const cJSON *responses = cJSON_GetObjectItem(reply, "responses");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 0)),
                           "bank_reference_missing");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 1)),
                           "bank_reference_missing");
    cJSON_Delete(reply);
    /* The bytes are gone from the file too, once the ledger is closed. */
    fogpay_ledger_close(w.fx.l);
    CU_ASSERT(!file_holds(w.fx.path, PERSON_NAME));
    CU_ASSERT(!file_holds(w.fx.path, PERSON_IBAN));
    CU_ASSERT(file_holds(w.fx.path, w.entity_c));
}

/* The value under name in the export's data. */
static const cJSON *field(const cJSON *resp, const char *name)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), name);
}

static bool events_hold_kind(const cJSON *events, int kind)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        if (cJSON_GetObjectItem(e, "kind")->valueint == kind) {
            return true;
        }
    }
    return false;
}

static void test_export(void)
{
    world w;
    world_open(&w);
    /* The entity's own login, the entity left out: its own export. */
    const cJSON *resp = NULL;
    cJSON *reply =
        send_as(&w, w.entity_c, "{\"commands\":[{\"command\":\"exportEntityData\"}]}", &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(field(resp, "personal"), "name")->valuestring,
                           PERSON_NAME);
    CU_ASSERT_STRING_EQUAL(
        cJSON_GetObjectItem(field(resp, "personal"), "bankReference")->valuestring, PERSON_IBAN);
    const cJSON *accounts = field(resp, "accounts");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(accounts), 1);
    CU_ASSERT_STRING_EQUAL(
        cJSON_GetObjectItem(cJSON_GetArrayItem(accounts, 0), "balance")->valuestring, "25.00");
    const cJSON *devices = field(resp, "devices");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(devices), 1);
    CU_ASSERT_STRING_EQUAL(
        cJSON_GetObjectItem(cJSON_GetArrayItem(devices, 0), "device")->valuestring, "dev-c");
    /* The payment to it and its payout; its device's registration. */
    CU_ASSERT_EQUAL(cJSON_GetArraySize(field(resp, "transfers")), 2);
    CU_ASSERT(events_hold_kind(field(resp, "events"), FOGPAY_EVENT_REGISTERED));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(field(resp, "events")), 1);
    cJSON_Delete(reply);
    /* After an erasure: no personal data, the erasure among its events. */
    reply = send_as(&w, w.entity_c, "{\"commands\":[{\"command\":\"eraseEntityData\"}]}", &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    cJSON_Delete(reply);
    reply = send_as(&w, w.entity_c, "{\"commands\":[{\"command\":\"exportEntityData\"}]}", &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    CU_ASSERT_PTR_NULL(field(resp, "personal"));
    CU_ASSERT(cJSON_IsTrue(field(resp, "personalErased")));
    CU_ASSERT(events_hold_kind(field(resp, "events"), FOGPAY_EVENT_ERASURE));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(field(resp, "transfers")), 2);
    char *text = cJSON_PrintUnformatted(reply);
    CU_ASSERT_PTR_NULL(strstr(text, PERSON_NAME));
    free(text);
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

/* Entity A's login names B: refused, B's data untouched and unread. */
static void test_isolation(void)
{
    world w;
    world_open(&w);
    char json[512];
    const char *commands[] = {"eraseEntityData", "exportEntityData"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(json, sizeof json, "{\"commands\":[{\"command\":\"%s\",\"entity\":\"%s\"}]}",
                 commands[i], w.entity_c);
        const cJSON *resp = NULL;
        cJSON *reply = send_as(&w, w.fx.entity_a, json, &resp);
        CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "entity_foreign_account");
        char *text = cJSON_PrintUnformatted(reply);
        CU_ASSERT_PTR_NULL(strstr(text, PERSON_NAME));
        CU_ASSERT_PTR_NULL(strstr(text, "transfers"));
        free(text);
        cJSON_Delete(reply);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM entity_personal WHERE entity_id = '%s'",
             w.entity_c);
    CU_ASSERT_EQUAL(raw_long(w.fx.path, sql), 1);
    /* Unknown entities, for an operator. */
    const cJSON *resp = NULL;
    cJSON *reply = send_as(&w, NULL,
                           "{\"commands\":[{\"command\":\"eraseEntityData\","
                           "\"entity\":\"le-0123456789abcdef\"}]}",
                           &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "entity_unknown");
    cJSON_Delete(reply);
    reply = send_as(&w, NULL,
                    "{\"commands\":[{\"command\":\"exportEntityData\","
                    "\"entity\":\"le-0123456789abcdef\"}]}",
                    &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "entity_unknown");
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"erasure: the row and its bytes go, the chains verify", test_erasure},
        {"an access request exports everything held about the entity", test_export},
        {"an entity login cannot erase or export another entity", test_isolation},
    };
    return ledger_fixture_run("entity_data", tests, sizeof tests / sizeof tests[0]);
}
