/*
 * test_entity_login.c - legal entities logged in as themselves, through a
 * real Mosquitto with the real plugin on loopback: entity A ("alpha") and
 * entity B ("beta"), each owning a device. A device pays A's account (the
 * real agent library), A tops up its own device and reads its own
 * transfers with `fogpayctl -u alpha --entity`; every attempt of A on B's
 * money, devices and transfers is refused with its reason and moves
 * nothing; A reads its own ISO 20022 statement of what the devices paid
 * it, exports and erases its own personal data and none of B's; A's login
 * may publish only its control requests and read only its own replies
 * (the ACL), and a wrong password is refused.
 *
 * argv[1] is the built fogpayctl, argv[2] fogpay-agent; FOGPAY_PLUGIN the
 * plugin.
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTClient.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "agent.h"
#include "broker.h"
#include "control.h"
#include "fogpay_key.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR     978
#define OUT_MAX 16384

#define SECRET_A "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define SECRET_B "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static const char *fogpayctl;
static const char *agent_bin;
static test_broker broker;
static char db[TEST_BROKER_PATH_MAX], ops_pw[TEST_BROKER_PATH_MAX];
static char alpha_pw[TEST_BROKER_PATH_MAX], beta_pw[TEST_BROKER_PATH_MAX];
static char key_b[TEST_BROKER_PATH_MAX];
static char entity_a[FOGPAY_ENTITY_ID_MAX + 1], entity_b[FOGPAY_ENTITY_ID_MAX + 1];
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
static uint64_t b_funding; /* the position of dev-b's funding: B's alone */

static void path_in(const char *name, char *path)
{
    test_broker_path(&broker, name, path, TEST_BROKER_PATH_MAX);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Runs a shell command line, stderr joined to stdout, into out; its exit
 * status. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof cmd - 8);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* fogpayctl as the entity login `login` (password file pw), online. */
static int as_entity(char *out, const char *login, const char *pw, const char *args)
{
    return run(out, OUT_MAX, "%s -h 127.0.0.1 -p %d -u %s --password-file %s --entity %s",
               fogpayctl, broker.port, login, pw, args);
}

/* fogpayctl as the operator, online. */
static int as_operator(char *out, const char *args)
{
    return run(out, OUT_MAX, "%s -h 127.0.0.1 -p %d -u ops --password-file %s %s", fogpayctl,
               broker.port, ops_pw, args);
}

/* What a refusal must leave alone: every balance and the chain's length. */
static void money_state(char *out, size_t cap)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h,
                                             "SELECT (SELECT count(*) FROM transfers) || '/' || "
                                             "(SELECT group_concat(id || ':' || balance, ';') FROM "
                                             "(SELECT id, balance FROM accounts ORDER BY id))",
                                             -1, &s, NULL),
                          SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
}

/* A's command refused: exit 1, the reason printed, nothing moved. */
static void refused(const char *args, const char *reason)
{
    char before[4096], after[4096], out[OUT_MAX];
    money_state(before, sizeof before);
    int status = as_entity(out, "alpha", alpha_pw, args);
    if (status != 1 || strstr(out, reason) == NULL) {
        fprintf(stderr, "\n  %s -> exit %d: %s(expected %s)\n", args, status, out, reason);
    }
    CU_ASSERT_EQUAL(status, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, reason));
    money_state(after, sizeof after);
    CU_ASSERT_STRING_EQUAL(before, after);
}

static void register_device(fogpay_ledger *l, const char *id, const char *owner, const char *secret,
                            const char *key_path)
{
    fogpay_key *k = NULL;
    char verifier[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(k, key_path, false), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_device_secret_verifier(secret, strlen(secret), verifier, sizeof verifier),
        FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, k, verifier, owner, NULL, 1000),
                          FOGPAY_OK);
    fogpay_key_free(k);
}

/* The ledger: A owns dev-a, B owns dev-b with 50.00; the logins alpha and
 * beta (passwords) and gamma (certificate only, B's), made with fogpayctl
 * offline. */
static void provision(void)
{
    char key_a[TEST_BROKER_PATH_MAX], out[OUT_MAX];
    path_in("ledger.db", db);
    path_in("dev-a.key", key_a);
    path_in("dev-b.key", key_b);
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db, true, &l), FOGPAY_OK);
    fogpay_entity_personal pa = {"Alice Example", NULL, NULL};
    fogpay_entity_personal pb = {"Bob Example", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &pa, 1000, entity_a), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &pb, 1000, entity_b), FOGPAY_OK);
    register_device(l, "dev-a", entity_a, SECRET_A, key_a);
    register_device(l, "dev-b", entity_b, SECRET_B, key_b);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-b", EUR, 5000, "", 2000, &t), FOGPAY_OK);
    b_funding = t.position;
    fogpay_ledger_close(l);
    path_in("alpha.pw", alpha_pw);
    path_in("beta.pw", beta_pw);
    write_file(alpha_pw, "alpha passphrase 1\n");
    write_file(beta_pw, "beta passphrase 22\n");
    CU_ASSERT_EQUAL(run(out, sizeof out,
                        "%s --db %s create-entity-login --entity %s --login alpha "
                        "--password-file %s",
                        fogpayctl, db, entity_a, alpha_pw),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "login alpha for"));
    CU_ASSERT_EQUAL(run(out, sizeof out,
                        "%s --db %s create-entity-login --entity %s --login beta "
                        "--password-file %s",
                        fogpayctl, db, entity_b, beta_pw),
                    0);
    CU_ASSERT_EQUAL(run(out, sizeof out,
                        "%s --db %s create-entity-login --entity %s --login gamma "
                        "--certificate-only true",
                        fogpayctl, db, entity_b),
                    0);
}

static int suite_init(void)
{
    return test_broker_init(&broker) ? 0 : 1;
}

static int suite_clean(void)
{
    test_broker_cleanup(&broker);
    return 0;
}

static void test_start(void)
{
    char key[TEST_BROKER_PATH_MAX], ops[TEST_BROKER_PATH_MAX], conf[TEST_BROKER_CONF_MAX];
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX], line[256];
    provision();
    path_in("gateway.key", key);
    path_in("operators", ops);
    path_in("ops.pw", ops_pw);
    fogpay_key *gk = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &gk), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(gk, key, false), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(gk, gateway_text, sizeof gateway_text), FOGPAY_OK);
    fogpay_key_free(gk);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash), FOGPAY_OK);
    snprintf(line, sizeof line, "ops:%s\n", hash);
    write_file(ops, line);
    write_file(ops_pw, "ops-pass\n");
    CU_ASSERT_FATAL(test_broker_gateway_conf(conf, sizeof conf, "gw-people", db, key, ops));
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

/* An MQTT 5 client connected as user; the connect's reason code. */
static int connect_as(MQTTClient *c, const char *client_id, const char *user, const char *pass)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    CU_ASSERT_EQUAL_FATAL(
        MQTTClient_createWithOptions(c, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &create),
        MQTTCLIENT_SUCCESS);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer5;
    o.username = user;
    o.password = pass;
    o.cleanstart = 1;
    MQTTResponse r = MQTTClient_connect5(*c, &o, NULL, NULL);
    int rc = r.reasonCode;
    MQTTResponse_free(r);
    return rc;
}

static void client_close(MQTTClient *c)
{
    MQTTClient_disconnect5(*c, 1000, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
    MQTTClient_destroy(c);
}

/* A wrong password, a certificate-only login's password, a removed login:
 * refused; the right password accepted. */
static void test_logins(void)
{
    MQTTClient c;
    CU_ASSERT_NOT_EQUAL(connect_as(&c, "alpha-1", "alpha", "alpha passphrase 2"),
                        MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&c);
    CU_ASSERT_NOT_EQUAL(connect_as(&c, "gamma-1", "gamma", "anything at all"), MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&c);
    CU_ASSERT_EQUAL(connect_as(&c, "alpha-1", "alpha", "alpha passphrase 1"), MQTTCLIENT_SUCCESS);
    client_close(&c);
    char out[OUT_MAX];
    CU_ASSERT_NOT_EQUAL(run(out, sizeof out,
                            "echo wrong-password | %s -h 127.0.0.1 -p %d -u alpha "
                            "--password-file - --entity entity-account --currency EUR",
                            fogpayctl, broker.port),
                        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot connect"));
}

/* Machine to person: dev-b's agent pays A's account, which A reads. */
static void test_device_pays_entity(void)
{
    char out[OUT_MAX], dir[TEST_BROKER_PATH_MAX];
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "--json entity-account --currency EUR"), 0);
    cJSON *reply = cJSON_Parse(out);
    const cJSON *data =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "responses"), 0), "data");
    const cJSON *account = cJSON_GetObjectItem(data, "account");
    CU_ASSERT_FATAL(cJSON_IsNumber(account));
    uint64_t account_a = (uint64_t)account->valuedouble;
    const cJSON *entity = cJSON_GetObjectItem(data, "entity");
    CU_ASSERT(cJSON_IsString(entity) && strcmp(entity->valuestring, entity_a) == 0);
    cJSON_Delete(reply);

    path_in("agent-b", dir);
    fogpay_agent_config cfg = {.state_dir = dir,
                               .key_path = key_b,
                               .device_id = "dev-b",
                               .gateway_key = gateway_text,
                               .port = broker.port,
                               .password = SECRET_B,
                               .timeout_ms = 5000};
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_open(&cfg, &a), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_connect(a), FOGPAY_OK);
    fogpay_agent_outcome o;
    CU_ASSERT_EQUAL(fogpay_agent_pay_account(a, account_a, 1200, EUR, "coffee", &o), FOGPAY_OK);
    CU_ASSERT_EQUAL(o.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(o.balance_after_minor, 5000 - 1200);
    fogpay_agent_close(a);
    /* The same from the command line, on the same state. */
    char pw[TEST_BROKER_PATH_MAX];
    path_in("dev-b.pw", pw);
    write_file(pw, SECRET_B "\n");
    CU_ASSERT_EQUAL(run(out, sizeof out,
                        "%s --dir %s --key %s --device dev-b --gateway-key %s -p %d "
                        "--password-file %s pay --to-account %llu --amount 0.30 --currency EUR",
                        agent_bin, dir, key_b, gateway_text, broker.port, pw,
                        (unsigned long long)account_a),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 37.70 EUR"));
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "entity-account --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 12.30 EUR"));
}

/* Person to machine: A tops up its own device, reads its own transfers. */
static void test_entity_tops_up(void)
{
    char out[OUT_MAX];
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw,
                              "pay-device --device dev-a --currency EUR --amount 7.50 "
                              "--reference top-up"),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 4.80 EUR"));
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "balance --device dev-a --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dev-a: balance 7.50 EUR"));
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "--json list-transfers"), 0);
    cJSON *reply = cJSON_Parse(out);
    const cJSON *list = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "responses"), 0), "data"),
        "transfers");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(list), 3); /* two coffees and the top-up */
    const cJSON *t = NULL;
    cJSON_ArrayForEach(t, list)
    {
        const cJSON *payer = cJSON_GetObjectItem(t, "payerEntity");
        const cJSON *payee = cJSON_GetObjectItem(t, "payeeEntity");
        CU_ASSERT((cJSON_IsString(payer) && strcmp(payer->valuestring, entity_a) == 0) ||
                  (cJSON_IsString(payee) && strcmp(payee->valuestring, entity_a) == 0));
    }
    const cJSON *kind = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 2), "kind");
    CU_ASSERT(cJSON_IsNumber(kind) && kind->valuedouble == FOGPAY_TRANSFER_ENTITY_PAYMENT);
    cJSON_Delete(reply);
    CU_ASSERT_EQUAL(as_operator(out, "balance --device dev-a --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dev-a: balance 7.50 EUR"));
}

/* A cannot read or move B's money or devices, nor use operators'
 * commands: each refused with its reason, nothing moved. */
static void test_isolation(void)
{
    char args[512];
    refused("balance --device dev-b --currency EUR", "entity_foreign_device");
    refused("list-transfers --device dev-b", "entity_foreign_device");
    snprintf(args, sizeof args, "entity-account --entity %s --currency EUR", entity_b);
    refused(args, "entity_foreign_account");
    snprintf(args, sizeof args, "list-transfers --entity %s", entity_b);
    refused(args, "entity_foreign_account");
    snprintf(args, sizeof args, "pay-device --entity %s --device dev-a --currency EUR --amount 1",
             entity_b);
    refused(args, "entity_foreign_account");
    snprintf(args, sizeof args, "get-transfer --id %llu", (unsigned long long)b_funding);
    refused(args, "entity_foreign_transfer");
    refused("fund --device dev-a --currency EUR --amount 1.00", "entity_command");
    refused("suspend-device --device dev-b", "entity_command");
    refused("pay-device --device dev-a --currency EUR --amount 4.81", "insufficient_funds");
    /* B, logged in, sees its own and not A's. */
    char out[OUT_MAX];
    CU_ASSERT_EQUAL(as_entity(out, "beta", beta_pw, "balance --device dev-b --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dev-b: balance 37.70 EUR"));
    CU_ASSERT_EQUAL(as_entity(out, "beta", beta_pw, "balance --device dev-a --currency EUR"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "entity_foreign_device"));
}

/* The rows of entity_personal naming entity. */
static long personal_rows(const char *entity)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    long n = -1;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(
        sqlite3_prepare_v2(h, "SELECT count(*) FROM entity_personal WHERE entity_id = ?1", -1, &s,
                           NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, entity, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        n = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

/* How often needle occurs in text. */
static int occurrences(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* A's statement of what the agents paid it, its export and its erasure,
 * through the broker; B's statement, data and erasure refused to A. */
static void test_statement_and_gdpr(void)
{
    char out[OUT_MAX], args[512];
    /* The document on stdout, then its figures (run() joins stderr). */
    CU_ASSERT_EQUAL(
        as_entity(out, "alpha", alpha_pw, "statement --currency EUR --from 0 --to 99999999999999"),
        0);
    CU_ASSERT_EQUAL(strncmp(out, "<?xml", 5), 0);
    CU_ASSERT_EQUAL(occurrences(out, "<Ntry>"), 3); /* two payments by dev-b, the top-up */
    CU_ASSERT_EQUAL(occurrences(out, "<RmtInf>"), 2);
    CU_ASSERT_EQUAL(occurrences(out, entity_b), 2); /* the payer, by its pseudonymous id */
    CU_ASSERT_PTR_NULL(strstr(out, "Alice Example"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "3 entries, 0.00 to 4.80 EUR"));
    snprintf(args, sizeof args, "statement --entity %s --currency EUR --from 0 --to 9", entity_b);
    refused(args, "entity_foreign_account");
    snprintf(args, sizeof args, "export-entity --entity %s", entity_b);
    refused(args, "entity_foreign_account");
    snprintf(args, sizeof args, "erase-entity --entity %s", entity_b);
    refused(args, "entity_foreign_account");
    refused("payout --currency EUR --amount 1.00", "entity_command");
    CU_ASSERT_EQUAL(personal_rows(entity_b), 1);
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "export-entity"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Alice Example"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\t\"dev-a\""));
    CU_ASSERT_PTR_NULL(strstr(out, "Bob Example"));
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "erase-entity"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "erased (event"));
    CU_ASSERT_EQUAL(personal_rows(entity_a), 0);
    CU_ASSERT_EQUAL(personal_rows(entity_b), 1);
    CU_ASSERT_EQUAL(as_operator(out, "verify-ledger"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok:"));
    CU_ASSERT_EQUAL(as_entity(out, "alpha", alpha_pw, "entity-account --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 4.80 EUR"));
}

/* The ACL of an entity's login: no device topic, no other reply topic;
 * its own replies reach it alone. */
static void test_acl(void)
{
    MQTTClient alpha, dev, ops;
    CU_ASSERT_EQUAL_FATAL(connect_as(&alpha, "alpha-acl", "alpha", "alpha passphrase 1"),
                          MQTTCLIENT_SUCCESS);
    static const char *const closed[] = {
        "fogpay/v1/dev/dev-a/receipt",      "fogpay/v1/dev/dev-b/receipt",
        "fogpay/v1/dev/dev-a/cmd",          "fogpay/v1/#",
        FOGPAY_CONTROL_RESPONSE_TOPIC,      FOGPAY_CONTROL_RESPONSE_TOPIC "/beta",
        FOGPAY_CONTROL_RESPONSE_TOPIC "/#", "$CONTROL/#",
    };
    for (size_t i = 0; i < sizeof closed / sizeof closed[0]; i++) {
        MQTTResponse r = MQTTClient_subscribe5(alpha, closed[i], 1, NULL, NULL);
        if (r.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2) {
            fprintf(stderr, "\n  alpha was granted %s\n", closed[i]);
        }
        CU_ASSERT(r.reasonCode > MQTTREASONCODE_GRANTED_QOS_2);
        MQTTResponse_free(r);
    }
    MQTTResponse r =
        MQTTClient_subscribe5(alpha, FOGPAY_CONTROL_RESPONSE_TOPIC "/alpha", 1, NULL, NULL);
    CU_ASSERT(r.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2);
    MQTTResponse_free(r);

    /* A publish of alpha's on dev-a's intent topic reaches nobody: an
     * operator reading that topic gets dev-a's own message first. */
    CU_ASSERT_EQUAL_FATAL(connect_as(&ops, "ops-acl", "ops", "ops-pass"), MQTTCLIENT_SUCCESS);
    r = MQTTClient_subscribe5(ops, "fogpay/v1/dev/dev-a/intent", 1, NULL, NULL);
    CU_ASSERT(r.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2);
    MQTTResponse_free(r);
    MQTTClient_deliveryToken token = 0;
    r = MQTTClient_publish5(alpha, "fogpay/v1/dev/dev-a/intent", 5, "alpha", 1, 0, NULL, &token);
    MQTTResponse_free(r);
    MQTTClient_waitForCompletion(alpha, token, 5000);
    CU_ASSERT_EQUAL_FATAL(connect_as(&dev, "dev-a", "dev-a", SECRET_A), MQTTCLIENT_SUCCESS);
    r = MQTTClient_publish5(dev, "fogpay/v1/dev/dev-a/intent", 5, "dev-a", 1, 0, NULL, &token);
    MQTTResponse_free(r);
    MQTTClient_waitForCompletion(dev, token, 5000);
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    CU_ASSERT_EQUAL(MQTTClient_receive(ops, &topic, &topic_len, &m, 5000), MQTTCLIENT_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->payloadlen, 5);
    CU_ASSERT_EQUAL(memcmp(m->payload, "dev-a", 5), 0);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);

    /* Beta's request is answered to beta alone: alpha, subscribed to its
     * own topic, and the operator's shared topic get nothing of it, and
     * alpha's next reply is its own. */
    r = MQTTClient_subscribe5(ops, FOGPAY_CONTROL_RESPONSE_TOPIC, 1, NULL, NULL);
    MQTTResponse_free(r);
    char out[OUT_MAX];
    CU_ASSERT_EQUAL(as_entity(out, "beta", beta_pw, "balance --device dev-b --currency EUR"), 0);
    const char *mine = "{\"commands\":[{\"command\":\"listEntityDevices\","
                       "\"correlationData\":\"alpha-own\"}]}";
    r = MQTTClient_publish5(alpha, FOGPAY_CONTROL_TOPIC, (int)strlen(mine), (void *)mine, 1, 0,
                            NULL, &token);
    MQTTResponse_free(r);
    MQTTClient_waitForCompletion(alpha, token, 5000);
    CU_ASSERT_EQUAL(MQTTClient_receive(alpha, &topic, &topic_len, &m, 5000), MQTTCLIENT_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(topic, FOGPAY_CONTROL_RESPONSE_TOPIC "/alpha");
    char *text = strndup(m->payload, (size_t)m->payloadlen);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "alpha-own"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "dev-a"));
    CU_ASSERT_PTR_NULL(strstr(text, "dev-b"));
    free(text);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    /* The operator's next message on the shared topic is its own reply. */
    const char *op_request = "{\"commands\":[{\"command\":\"verifyLedger\","
                             "\"correlationData\":\"ops-own\"}]}";
    r = MQTTClient_publish5(ops, FOGPAY_CONTROL_TOPIC, (int)strlen(op_request), (void *)op_request,
                            1, 0, NULL, &token);
    MQTTResponse_free(r);
    MQTTClient_waitForCompletion(ops, token, 5000);
    CU_ASSERT_EQUAL(MQTTClient_receive(ops, &topic, &topic_len, &m, 5000), MQTTCLIENT_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    text = strndup(m->payload, (size_t)m->payloadlen);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "ops-own"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"ok\":true"));
    free(text);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    client_close(&dev);
    client_close(&ops);
    client_close(&alpha);
}

/* A removed login cannot log in, and its session's commands stop. */
static void test_removed_login(void)
{
    char out[OUT_MAX];
    CU_ASSERT_EQUAL(as_operator(out, "remove-entity-login --login beta"), 0);
    CU_ASSERT_NOT_EQUAL(as_entity(out, "beta", beta_pw, "entity-devices"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot connect"));
    CU_ASSERT_EQUAL(as_operator(out, "verify-ledger"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok:"));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FOGPAYCTL FOGPAY-AGENT\n", argv[0]);
        return 2;
    }
    fogpayctl = argv[1];
    agent_bin = argv[2];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("entity_login", suite_init, suite_clean);
    CU_add_test(s, "a gateway with two entities, their devices and logins", test_start);
    CU_add_test(s, "wrong passwords and certificate-only logins refused", test_logins);
    CU_add_test(s, "a device pays an entity's account", test_device_pays_entity);
    CU_add_test(s, "an entity tops up its device and reads its transfers", test_entity_tops_up);
    CU_add_test(s, "an entity cannot read or move another's money or devices", test_isolation);
    CU_add_test(s, "an entity's statement, export and erasure, none of another's",
                test_statement_and_gdpr);
    CU_add_test(s, "an entity login's ACL: its control topic and its replies only", test_acl);
    CU_add_test(s, "a removed login can no longer log in", test_removed_login);
    return testutil_run();
}
