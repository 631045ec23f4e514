/*
 * test_control_entity.c - the control API under a legal entity's own login
 * (control/control_entity.c) on a real ledger file: what entity A may do on
 * its own accounts and devices, and every attempt on entity B's money,
 * devices and transfers or on an operator's command refused with its
 * reason while nothing moves.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_fixture.h"
#include "ledger_fixture.h"

/* The ledger: A owns dev-a and has 500 in its account, paid by dev-b;
 * B owns dev-b and has 300 in its account, paid by dev-a. */
typedef struct world {
    fixture fx;
    uint64_t account_a;
    uint64_t account_b;
    uint64_t paid_b; /* the position of dev-a's payment to B */
} world;

static void world_open(world *w)
{
    fixture_open(&w->fx);
    fund(w->fx.l, "dev-a", EUR, 1000);
    fund(w->fx.l, "dev-b", EUR, 1000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(w->fx.l, w->fx.entity_a, EUR, &w->account_a),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(w->fx.l, w->fx.entity_b, EUR, &w->account_b),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(pay_full(w->fx.l, "dev-b", 1, NULL, w->account_a, 500, EUR, NOW_MS, NULL),
                          FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(pay_full(w->fx.l, "dev-a", 1, NULL, w->account_b, 300, EUR, NOW_MS, &t),
                          FOGPAY_OK);
    w->paid_b = t.position;
}

/* Sends one command as entity (NULL: an operator) and returns the reply,
 * the caller's to free; *resp is its first response. */
static cJSON *send_as(world *w, const char *entity, const char *login, const char *json,
                      const cJSON **resp)
{
    return control_fixture_send(w->fx.l, entity, login, json, NOW_MS + 100, resp);
}

/* A's request refused with error, nothing moved. */
static void refused(world *w, const char *json, const char *error)
{
    snapshot before;
    snapshot_take(&w->fx, &before);
    const cJSON *resp = NULL;
    cJSON *reply = send_as(w, w->fx.entity_a, "alpha", json, &resp);
    if (strcmp(control_fixture_error(resp), error) != 0) {
        fprintf(stderr, "\n%s -> \"%s\", expected \"%s\"\n", json, control_fixture_error(resp),
                error);
    }
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), error);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "balance"));
    CU_ASSERT(snapshot_same(&w->fx, &before));
    cJSON_Delete(reply);
}

static const char *data_text(const cJSON *resp, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* A tops up its own device and buys from B's, reads its account, its
 * devices, its transfers. */
static void test_entity_own(void)
{
    world w;
    world_open(&w);
    const cJSON *resp = NULL;
    cJSON *reply =
        send_as(&w, w.fx.entity_a, "alpha",
                "{\"commands\":[{\"command\":\"getEntityAccount\",\"currency\":\"EUR\"}]}", &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "balance"), "5.00");
    const cJSON *account = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "account");
    CU_ASSERT(cJSON_IsNumber(account) && account->valuedouble == (double)w.account_a);
    cJSON_Delete(reply);
    reply = send_as(&w, w.fx.entity_a, "alpha",
                    "{\"commands\":[{\"command\":\"payDevice\",\"device\":\"dev-a\","
                    "\"currency\":\"EUR\",\"amount\":\"2.00\",\"reference\":\"top-up\"}]}",
                    &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "balance"), "3.00");
    cJSON_Delete(reply);
    CU_ASSERT_EQUAL(balance_of(w.fx.l, "dev-a", EUR), 1000 - 300 + 200);
    /* A purchase from B's device. */
    reply = send_as(&w, w.fx.entity_a, "alpha",
                    "{\"commands\":[{\"command\":\"payDevice\",\"device\":\"dev-b\","
                    "\"currency\":\"EUR\",\"amount\":\"0.50\"}]}",
                    &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    cJSON_Delete(reply);
    reply = send_as(&w, w.fx.entity_a, "alpha",
                    "{\"commands\":[{\"command\":\"getBalance\",\"device\":\"dev-a\","
                    "\"currency\":\"EUR\"}]}",
                    &resp);
    CU_ASSERT_STRING_EQUAL(data_text(resp, "balance"), "9.00");
    cJSON_Delete(reply);
    reply = send_as(&w, w.fx.entity_a, "alpha",
                    "{\"commands\":[{\"command\":\"listEntityDevices\"}]}", &resp);
    const cJSON *devices = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "devices");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(devices), 1);
    const cJSON *first = cJSON_GetArrayItem(devices, 0);
    CU_ASSERT(cJSON_IsString(first) && strcmp(first->valuestring, "dev-a") == 0);
    cJSON_Delete(reply);
    /* Its transfers: those it is payer or payee of, none of B's alone. */
    reply = send_as(&w, w.fx.entity_a, "alpha", "{\"commands\":[{\"command\":\"listTransfers\"}]}",
                    &resp);
    const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "transfers");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(list), 5); /* funding, both payments, both of its own */
    const cJSON *t = NULL;
    cJSON_ArrayForEach(t, list)
    {
        const cJSON *payer = cJSON_GetObjectItem(t, "payerEntity");
        const cJSON *payee = cJSON_GetObjectItem(t, "payeeEntity");
        CU_ASSERT((cJSON_IsString(payer) && strcmp(payer->valuestring, w.fx.entity_a) == 0) ||
                  (cJSON_IsString(payee) && strcmp(payee->valuestring, w.fx.entity_a) == 0));
    }
    cJSON_Delete(reply);
    CU_ASSERT_EQUAL(verify(w.fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(w.fx.l);
}

/* Every attempt of A on B's money, devices and transfers, and on the
 * operators' commands, refused with its reason; nothing moves. */
static void test_entity_isolation(void)
{
    world w;
    world_open(&w);
    char json[512];
    refused(&w,
            "{\"commands\":[{\"command\":\"getBalance\",\"device\":\"dev-b\",\"currency\":"
            "\"EUR\"}]}",
            "entity_foreign_device");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getEntityAccount\",\"entity\":\"%s\",\"currency\":"
             "\"EUR\"}]}",
             w.fx.entity_b);
    refused(&w, json, "entity_foreign_account");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payDevice\",\"entity\":\"%s\",\"device\":\"dev-b\","
             "\"currency\":\"EUR\",\"amount\":\"1.00\"}]}",
             w.fx.entity_b);
    refused(&w, json, "entity_foreign_account");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"listTransfers\",\"entity\":\"%s\"}]}", w.fx.entity_b);
    refused(&w, json, "entity_foreign_account");
    refused(&w, "{\"commands\":[{\"command\":\"listTransfers\",\"device\":\"dev-b\"}]}",
            "entity_foreign_device");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"listEntityDevices\",\"entity\":\"%s\"}]}",
             w.fx.entity_b);
    refused(&w, json, "entity_foreign_account");
    /* The funding of dev-b: B's alone. */
    refused(&w, "{\"commands\":[{\"command\":\"getTransfer\",\"id\":2}]}",
            "entity_foreign_transfer");
    refused(&w,
            "{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\",\"currency\":"
            "\"EUR\",\"amount\":\"1.00\"}]}",
            "entity_command");
    snprintf(json, sizeof json, "{\"commands\":[{\"command\":\"refund\",\"id\":%llu}]}",
             (unsigned long long)w.paid_b);
    refused(&w, json, "entity_command");
    refused(&w, "{\"commands\":[{\"command\":\"suspendDevice\",\"device\":\"dev-b\"}]}",
            "entity_command");
    refused(&w,
            "{\"commands\":[{\"command\":\"createEntityLogin\",\"entity\":\"x\","
            "\"login\":\"x\",\"certificateOnly\":true}]}",
            "entity_command");
    refused(&w, "{\"commands\":[{\"command\":\"verifyLedger\"}]}", "entity_command");
    /* Financing plans are the operator's: an entity neither makes nor closes one. */
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"createPlan\",\"plan\":\"p\",\"device\":\"dev-a\","
             "\"lender\":\"%s\",\"currency\":\"EUR\",\"principal\":\"1.00\","
             "\"rateBasisPoints\":0,\"instalments\":1,\"periodMs\":60000}]}",
             w.fx.entity_a);
    refused(&w, json, "entity_command");
    refused(&w, "{\"commands\":[{\"command\":\"closePlan\",\"plan\":\"p\"}]}", "entity_command");
    refused(&w, "{\"commands\":[{\"command\":\"settlePlan\",\"plan\":\"p\"}]}", "entity_command");
    refused(&w, "{\"commands\":[{\"command\":\"listArrears\"}]}", "entity_command");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getPlanStatement\",\"plan\":\"p\",\"entity\":\"%s\"}]}",
             w.fx.entity_b);
    refused(&w, json, "entity_foreign_account");
    /* Its own money, but more than it holds. */
    refused(&w,
            "{\"commands\":[{\"command\":\"payDevice\",\"device\":\"dev-a\",\"currency\":"
            "\"EUR\",\"amount\":\"5.01\"}]}",
            "insufficient_funds");
    /* A device sold to B stops being A's at once. */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(w.fx.l, "dev-a", w.fx.entity_b, "owner",
                                                   NOW_MS + 50, NOW_MS + 50),
                    FOGPAY_OK);
    refused(&w,
            "{\"commands\":[{\"command\":\"getBalance\",\"device\":\"dev-a\",\"currency\":"
            "\"EUR\"}]}",
            "entity_foreign_device");
    CU_ASSERT_EQUAL(verify(w.fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(w.fx.l);
}

/* A's own statement of a plan financing its device: the entity is its
 * own without being named. */
static void test_entity_statement(void)
{
    world w;
    world_open(&w);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "loan");
    snprintf(p.device_id, sizeof p.device_id, "dev-a");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", w.fx.entity_b);
    p.currency = EUR;
    p.principal_minor = 1000;
    p.instalment_count = 10;
    p.period_ms = 60000;
    p.effective_ms = NOW_MS + 50 - 60000; /* the first due at NOW_MS + 50, A's */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(w.fx.l, &p, NOW_MS), FOGPAY_OK);
    const cJSON *resp = NULL;
    cJSON *reply =
        send_as(&w, w.fx.entity_a, "alpha",
                "{\"commands\":[{\"command\":\"getPlanStatement\",\"plan\":\"loan\"}]}", &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "entity"), w.fx.entity_a);
    CU_ASSERT_STRING_EQUAL(data_text(resp, "owed"), "1.00"); /* due and unpaid */
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

/* Operators create and remove logins and may name any entity. */
static void test_operator_logins(void)
{
    world w;
    world_open(&w);
    char json[512];
    const cJSON *resp = NULL;
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"createEntityLogin\",\"entity\":\"%s\","
             "\"login\":\"alpha\",\"password\":\"correct horse battery\"},"
             "{\"command\":\"createEntityLogin\",\"entity\":\"%s\",\"login\":\"beta\","
             "\"password\":\"short\"},"
             "{\"command\":\"createEntityLogin\",\"entity\":\"%s\",\"login\":\"dev-a\","
             "\"certificateOnly\":true},"
             "{\"command\":\"createEntityLogin\",\"entity\":\"%s\",\"login\":\"beta\","
             "\"certificateOnly\":true,\"password\":\"correct horse battery\"}]}",
             w.fx.entity_a, w.fx.entity_b, w.fx.entity_b, w.fx.entity_b);
    cJSON *reply = send_as(&w, NULL, NULL, json, &resp);
    const cJSON *responses = cJSON_GetObjectItem(reply, "responses");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 0)), "");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 1)), "secret_weak");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 2)), "exists");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 3)), "field_range");
    cJSON_Delete(reply);
    fogpay_entity_login login;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_login_get(w.fx.l, "alpha", &login), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(login.entity_id, w.fx.entity_a);
    CU_ASSERT_EQUAL(strncmp(login.password_hash, "pbkdf2-sha256$", 14), 0);
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getEntityAccount\",\"entity\":\"%s\","
             "\"currency\":\"EUR\"},{\"command\":\"removeEntityLogin\",\"login\":\"alpha\"},"
             "{\"command\":\"removeEntityLogin\",\"login\":\"alpha\"}]}",
             w.fx.entity_b);
    reply = send_as(&w, NULL, NULL, json, &resp);
    responses = cJSON_GetObjectItem(reply, "responses");
    CU_ASSERT_STRING_EQUAL(data_text(cJSON_GetArrayItem(responses, 0), "balance"), "3.00");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 1)), "");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 2)), "not_found");
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"an entity on its own accounts and devices", test_entity_own},
        {"an entity cannot read or move another's money or devices", test_entity_isolation},
        {"operators create and remove entity logins", test_operator_logins},
        {"an entity's own statement of a plan", test_entity_statement},
    };
    return ledger_fixture_run("control_entity", tests, sizeof tests / sizeof tests[0]);
}
