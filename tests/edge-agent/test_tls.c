/*
 * test_tls.c - device login by TLS client certificate, end to end: a real
 * Mosquitto with the real plugin on a loopback listener with
 * require_certificate and use_identity_as_username, and fogpay-agent as a
 * process, as deploy/mosquitto.conf sets the gateway up.
 *
 * The certificates are made with the openssl command line (certs.h) in the
 * broker's temporary directory: a test CA, a server certificate for
 * 127.0.0.1, device certificates for dev-a and dev-b, and an unrelated CA
 * with its own certificate for "dev-a". The cases: a device with its own
 * certificate and no password settles (MQTT 5 and 3.1.1); a device with
 * another device's certificate, a certificate of the unrelated CA, no
 * certificate (with the right password), and a revoked device with a valid
 * certificate all move no money. Each refused attempt leaves the payment in
 * the agent's journal (exit 4): the agent cannot tell a refused login from
 * a gateway that is away. After dev-a's refused attempts, dev-a with its own
 * certificate again drains its journal: the broker still serves, and what
 * was refused for the wrong certificate settles once the right one is shown.
 *
 * argv[1] is the fogpay-agent program (argv[2], fogpayctl, is accepted for
 * the same command line as test_agent and not used); FOGPAY_PLUGIN the
 * plugin. Exits 77 (skipped) when the openssl program is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "broker.h"
#include "certs.h"
#include "fogpay_key.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR      978
#define ARGS_MAX 40

/* meson's exit status for a skipped test. */
#define TEST_EXIT_SKIP 77

/* The agent's exit statuses (fogpay-agent.c, its usage text). */
#define AGENT_EXIT_OK      0
#define AGENT_EXIT_TIMEOUT 4

/* Funding of the two devices, and the payment each case tries (1.00 EUR). */
#define DEV_A_FUND_MINOR 100000
#define DEV_B_FUND_MINOR 1000
#define PAYMENT_MINOR    100

/* The agent's wait for a connection and a receipt in the refused cases:
 * a refusal comes at once, so this bounds only a test that goes wrong. */
#define REFUSED_TIMEOUT_MS "2000"

static const char *agent_bin;
static test_broker broker;
static char db_path[TEST_BROKER_PATH_MAX];
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];

static void path_in(const char *name, char *out)
{
    test_broker_path(&broker, name, out, TEST_BROKER_PATH_MAX);
}

static void print_file(const char *path)
{
    char *text = testutil_read_file(path, NULL);
    fprintf(stderr, "---- %s ----\n%s---- end ----\n", path, text ? text : "(none)\n");
    free(text);
}

/* ---- certificates --------------------------------------------------------- */

static void test_certificates(void)
{
    const char *dir = broker.dir;
    CU_ASSERT_FATAL(test_certs_config(dir));
    CU_ASSERT_FATAL(test_certs_ca(dir, "ca", "/CN=fogpay test CA"));
    CU_ASSERT_FATAL(test_certs_issue(dir, "server", "/CN=127.0.0.1", "ca", TEST_CERT_SERVER, "1"));
    CU_ASSERT_FATAL(test_certs_issue(dir, "dev-a", "/CN=dev-a", "ca", TEST_CERT_CLIENT, "2"));
    CU_ASSERT_FATAL(test_certs_issue(dir, "dev-b", "/CN=dev-b", "ca", TEST_CERT_CLIENT, "3"));
    CU_ASSERT_FATAL(test_certs_ca(dir, "other-ca", "/CN=fogpay test CA"));
    CU_ASSERT_FATAL(
        test_certs_issue(dir, "other-dev-a", "/CN=dev-a", "other-ca", TEST_CERT_CLIENT, "2"));
    CU_ASSERT_FATAL(test_certs_issue(dir, "alpha", "/CN=alpha", "ca", TEST_CERT_CLIENT, "4"));
}

/* ---- the gateway ---------------------------------------------------------- */

/* Registers device id with a fresh signing key in <id>.sign; with a
 * password (the id itself, in <id>.pass) or, password false, none: a
 * device that logs in by certificate only. */
static void register_device(fogpay_ledger *l, const char *id, const char *entity, bool password,
                            uint64_t fund_minor)
{
    fogpay_key *key = NULL;
    char path[TEST_BROKER_PATH_MAX], name[64], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.sign", id);
    path_in(name, path);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(key, path, false), FOGPAY_OK);
    if (password) {
        snprintf(name, sizeof name, "%s.pass", id);
        path_in(name, path);
        FILE *f = fopen(path, "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fputs(id, f);
        fclose(f);
        CU_ASSERT_EQUAL_FATAL(fogpay_password_hash(id, strlen(id), 1000, hash, sizeof hash),
                              FOGPAY_OK);
    }
    fogpay_device_limits none = {0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_register(l, id, key, password ? hash : NULL, entity, &none, 1000),
        FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, id, EUR, fund_minor, "initial", 2000, &t),
                          FOGPAY_OK);
    fogpay_key_free(key);
}

static void test_start(void)
{
    char key_path[TEST_BROKER_PATH_MAX];
    path_in("ledger.db", db_path);
    path_in("gateway.key", key_path);
    fogpay_key *gateway_key = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(gateway_key, key_path, false), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(gateway_key, gateway_text, sizeof gateway_text),
                          FOGPAY_OK);
    fogpay_key_free(gateway_key);

    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal p = {"Example Charging Ltd", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity), FOGPAY_OK);
    register_device(l, "dev-a", entity, false, DEV_A_FUND_MINOR);
    register_device(l, "dev-b", entity, true, DEV_B_FUND_MINOR);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_login_create(l, "alpha", entity, NULL, 1000),
                          FOGPAY_OK);
    fogpay_ledger_close(l);

    /* broker.h has written "listener <port> 127.0.0.1" (and log lines,
     * which are global); the TLS lines below belong to that listener. */
    char ca[TEST_BROKER_PATH_MAX], crt[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX];
    path_in("ca.crt", ca);
    path_in("server.crt", crt);
    path_in("server.key", key);
    char conf[TEST_BROKER_CONF_MAX];
    snprintf(conf, sizeof conf,
             "cafile %s\n"
             "certfile %s\n"
             "keyfile %s\n"
             "tls_version tlsv1.2\n"
             "require_certificate true\n"
             "use_identity_as_username true\n"
             "use_username_as_clientid true\n"
             "allow_anonymous false\n"
             "plugin %s\n"
             "plugin_opt_database %s\n"
             "plugin_opt_create_db false\n"
             "plugin_opt_gateway_id gw-test\n"
             "plugin_opt_gateway_key %s\n"
             "plugin_opt_currencies EUR\n",
             ca, crt, key, getenv("FOGPAY_PLUGIN"), db_path, key_path);
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

/* ---- the agent and the ledger --------------------------------------------- */

/* How one agent run logs in. */
typedef struct login {
    const char *device; /* --device and the signing key <device>.sign */
    const char *cert;   /* <cert>.crt and <cert>.key, or NULL for none */
    bool password;      /* --password-file <device>.pass */
} login;

/* Runs fogpay-agent with the state of login->device, the test CA, the
 * login's certificate and password, then extra (NULL-terminated); its
 * output is appended to agent.log. The exit status. */
static int agent(const login *who, const char *const *extra)
{
    char dir[TEST_BROKER_PATH_MAX], sign[TEST_BROKER_PATH_MAX], ca[TEST_BROKER_PATH_MAX],
        crt[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], pass[TEST_BROKER_PATH_MAX],
        log[TEST_BROKER_PATH_MAX], port[16], name[64];
    snprintf(name, sizeof name, "state-%s", who->device);
    path_in(name, dir);
    snprintf(name, sizeof name, "%s.sign", who->device);
    path_in(name, sign);
    path_in("ca.crt", ca);
    path_in("agent.log", log);
    snprintf(port, sizeof port, "%d", broker.port);
    const char *argv[ARGS_MAX] = {
        agent_bin,    "--dir", dir,         "--key", sign, "--device", who->device, "--gateway-key",
        gateway_text, "-h",    "127.0.0.1", "-p",    port, "--cafile", ca};
    size_t n = 15;
    if (who->cert) {
        snprintf(name, sizeof name, "%s.crt", who->cert);
        path_in(name, crt);
        snprintf(name, sizeof name, "%s.key", who->cert);
        path_in(name, key);
        argv[n++] = "--cert";
        argv[n++] = crt;
        argv[n++] = "--keyfile";
        argv[n++] = key;
    }
    if (who->password) {
        snprintf(name, sizeof name, "%s.pass", who->device);
        path_in(name, pass);
        argv[n++] = "--password-file";
        argv[n++] = pass;
    }
    for (size_t i = 0; extra[i] && n < ARGS_MAX - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    FILE *f = fopen(log, "a");
    if (f) {
        fprintf(f, "== %s, certificate %s, %s password:", who->device,
                who->cert ? who->cert : "none", who->password ? "with" : "no");
        for (size_t i = 0; extra[i]; i++) {
            fprintf(f, " %s", extra[i]);
        }
        fprintf(f, "\n");
        fclose(f);
    }
    return testutil_command_logged(argv, log);
}

/* The number after "pending " in `fogpay-agent status`: payments journaled
 * and not yet answered. Status reads the state only; it does not connect. */
static long long agent_pending(const login *who)
{
    char out[TEST_BROKER_PATH_MAX];
    path_in("agent.log", out);
    size_t before = 0;
    free(testutil_read_file(out, &before));
    const char *status[] = {"status", NULL};
    CU_ASSERT_EQUAL(agent(who, status), AGENT_EXIT_OK);
    char *text = testutil_read_file(out, NULL);
    long long pending = -1;
    const char *line = text ? strstr(text + before, "\npending ") : NULL;
    if (line) {
        pending = strtoll(line + strlen("\npending "), NULL, 10);
    }
    free(text);
    return pending;
}

/* What the ledger says, read through a second connection while the broker
 * runs (WAL): both wallets, and the payments dev-a made to dev-b. */
typedef struct ledger_view {
    int64_t balance_a_minor;
    int64_t balance_b_minor;
    uint64_t wallet_b;
    size_t payments_a_to_b;
    size_t payments_b;
    uint64_t last_amount_minor;
} ledger_view;

static int view_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    ledger_view *v = ctx;
    if (t->kind != FOGPAY_TRANSFER_PAYMENT) {
        return 0;
    }
    if (strcmp(t->device_id, "dev-a") == 0 && t->credit_account == v->wallet_b) {
        v->payments_a_to_b++;
        v->last_amount_minor = t->amount_minor;
    }
    if (strcmp(t->device_id, "dev-b") == 0) {
        v->payments_b++;
    }
    return 0;
}

static ledger_view ledger_read(void)
{
    ledger_view v;
    memset(&v, 0, sizeof v);
    fogpay_ledger *l;
    uint64_t wallet_a = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(l, "dev-b", EUR, &v.wallet_b), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_a, &v.balance_a_minor), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, v.wallet_b, &v.balance_b_minor), FOGPAY_OK);
    /* A handful of transfers: one page holds them all. */
    fogpay_transfer_filter f = {.limit = FOGPAY_TRANSFER_LIST_MAX};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, view_visit, &v), FOGPAY_OK);
    fogpay_ledger_close(l);
    return v;
}

/* Asserts that nothing moved between two readings of the ledger. */
static void assert_nothing_moved(const ledger_view *before, const ledger_view *after)
{
    CU_ASSERT_EQUAL(after->balance_a_minor, before->balance_a_minor);
    CU_ASSERT_EQUAL(after->balance_b_minor, before->balance_b_minor);
    CU_ASSERT_EQUAL(after->payments_a_to_b, before->payments_a_to_b);
    CU_ASSERT_EQUAL(after->payments_b, before->payments_b);
}

/* True when a line of the broker log contains both needles. */
static bool broker_log_line(const char *first, const char *second)
{
    char *text = testutil_read_file(broker.log_path, NULL);
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *end = strchr(line, '\n');
        if (end) {
            *end = '\0';
        }
        found = strstr(line, first) && strstr(line, second);
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

/* ---- the cases ------------------------------------------------------------ */

static const login dev_a_own = {"dev-a", "dev-a", false};
static const char *const pay_b[] = {"pay",  "--to",       "dev-b", "--amount",
                                    "1.00", "--currency", "EUR",   NULL};

static void assert_settles(const char *const *args)
{
    ledger_view before = ledger_read();
    CU_ASSERT_EQUAL(agent(&dev_a_own, args), AGENT_EXIT_OK);
    ledger_view after = ledger_read();
    CU_ASSERT_EQUAL(after.payments_a_to_b, before.payments_a_to_b + 1);
    CU_ASSERT_EQUAL(after.last_amount_minor, PAYMENT_MINOR);
    CU_ASSERT_EQUAL(after.balance_a_minor, before.balance_a_minor - PAYMENT_MINOR);
    CU_ASSERT_EQUAL(after.balance_b_minor, before.balance_b_minor + PAYMENT_MINOR);
    CU_ASSERT_EQUAL(agent_pending(&dev_a_own), 0);
}

static void test_own_certificate_mqtt5(void)
{
    assert_settles(pay_b);
    /* The login was the certificate's: dev-a has no password at all. */
    CU_ASSERT(broker_log_line("as dev-a (p5", "u'dev-a'"));
}

static void test_own_certificate_mqtt311(void)
{
    const char *args[] = {"--mqtt",   "3",    "pay",        "--to", "dev-b",
                          "--amount", "1.00", "--currency", "EUR",  NULL};
    assert_settles(args);
    /* Mosquitto's log names MQTT 3.1.1 "p2" (its protocol enum). */
    CU_ASSERT(broker_log_line("as dev-a (p2", "u'dev-a'"));
}

/* A refused login: the agent journals the payment and exits 4, as for a
 * gateway that cannot be reached; nothing moves; the broker keeps running. */
static void assert_refused(const login *who, const char *const *pay, long long pending)
{
    ledger_view before = ledger_read();
    CU_ASSERT_EQUAL(agent(who, pay), AGENT_EXIT_TIMEOUT);
    ledger_view after = ledger_read();
    assert_nothing_moved(&before, &after);
    CU_ASSERT_EQUAL(agent_pending(who), pending);
    CU_ASSERT(test_broker_running(&broker));
}

static void test_another_devices_certificate(void)
{
    /* Client id dev-a with dev-b's certificate: Mosquitto makes both the
     * username and (use_username_as_clientid) the client id dev-b, so the
     * client never holds dev-a's session, and the ACL refuses dev-b on
     * dev-a's topics. */
    const login who = {"dev-a", "dev-b", false};
    const char *pay[] = {"--timeout", REFUSED_TIMEOUT_MS, "pay", "--to", "dev-b", "--amount",
                         "1.00",      "--currency",       "EUR", NULL};
    assert_refused(&who, pay, 1);
    CU_ASSERT(broker_log_line("as dev-b (p5", "u'dev-b'"));
    CU_ASSERT_FALSE(broker_log_line("as dev-a (p5", "u'dev-b'"));
}

static void test_unrelated_ca(void)
{
    /* CN dev-a, but signed by a CA the gateway does not trust: the
     * handshake fails, so nobody named dev-a connects. */
    const login who = {"dev-a", "other-dev-a", false};
    const char *pay[] = {"--timeout", REFUSED_TIMEOUT_MS, "pay", "--to", "dev-b", "--amount",
                         "1.00",      "--currency",       "EUR", NULL};
    assert_refused(&who, pay, 2);
}

static void test_own_certificate_drains(void)
{
    /* The two payments journaled while dev-a showed the wrong certificates
     * settle now, once each. */
    ledger_view before = ledger_read();
    const char *drain[] = {"run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent(&dev_a_own, drain), AGENT_EXIT_OK);
    ledger_view after = ledger_read();
    CU_ASSERT_EQUAL(after.payments_a_to_b, before.payments_a_to_b + 2);
    CU_ASSERT_EQUAL(after.balance_a_minor, before.balance_a_minor - 2 * PAYMENT_MINOR);
    CU_ASSERT_EQUAL(after.balance_b_minor, before.balance_b_minor + 2 * PAYMENT_MINOR);
    CU_ASSERT_EQUAL(agent_pending(&dev_a_own), 0);
}

static void test_no_certificate(void)
{
    /* dev-b's right password does not open a listener that requires a
     * certificate. */
    const login who = {"dev-b", NULL, true};
    const char *pay[] = {"--timeout", REFUSED_TIMEOUT_MS, "pay", "--to", "dev-a", "--amount",
                         "1.00",      "--currency",       "EUR", NULL};
    assert_refused(&who, pay, 1);
}

static void test_revoked_device(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(l, "dev-b", FOGPAY_DEVICE_REVOKED, 3000),
                    FOGPAY_OK);
    fogpay_ledger_close(l);
    /* The certificate is valid, so the broker lets dev-b in; the ACL then
     * refuses its subscriptions, so the agent never publishes (a published
     * intent would be answered "revoked", exit 3). */
    const login who = {"dev-b", "dev-b", false};
    const char *pay[] = {"--timeout", REFUSED_TIMEOUT_MS, "pay", "--to", "dev-a", "--amount",
                         "1.00",      "--currency",       "EUR", NULL};
    assert_refused(&who, pay, 2);
    CU_ASSERT(broker_log_line("as dev-b (p5", "u'dev-b'"));
}

/* ---- running -------------------------------------------------------------- */

static int suite_init(void)
{
    return test_broker_init(&broker) ? 0 : 1;
}

static int suite_clean(void)
{
    if (CU_get_number_of_failures() > 0) {
        char log[TEST_BROKER_PATH_MAX];
        path_in("agent.log", log);
        print_file(log);
        test_broker_dump_log(&broker);
    }
    test_broker_cleanup(&broker);
    return 0;
}

/* The legal entity's login "alpha" by its certificate (CN alpha, no
 * password): it reads its own devices on its own reply topic, and is
 * refused a device's topic. */
static void test_entity_certificate(void)
{
    char uri[64], ca[TEST_BROKER_PATH_MAX], crt[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX];
    snprintf(uri, sizeof uri, "ssl://127.0.0.1:%d", broker.port);
    path_in("ca.crt", ca);
    path_in("alpha.crt", crt);
    path_in("alpha.key", key);
    MQTTClient c = NULL;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    CU_ASSERT_EQUAL_FATAL(
        MQTTClient_createWithOptions(&c, uri, "alpha", MQTTCLIENT_PERSISTENCE_NONE, NULL, &create),
        MQTTCLIENT_SUCCESS);
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    ssl.trustStore = ca;
    ssl.keyStore = crt;
    ssl.privateKey = key;
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer5;
    o.cleanstart = 1;
    o.ssl = &ssl;
    MQTTResponse r = MQTTClient_connect5(c, &o, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(r.reasonCode, MQTTCLIENT_SUCCESS);
    MQTTResponse_free(r);
    r = MQTTClient_subscribe5(c, "fogpay/v1/dev/dev-a/receipt", 1, NULL, NULL);
    CU_ASSERT(r.reasonCode > MQTTREASONCODE_GRANTED_QOS_2);
    MQTTResponse_free(r);
    r = MQTTClient_subscribe5(c, "$CONTROL/fogpay/v1/response/alpha", 1, NULL, NULL);
    CU_ASSERT(r.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2);
    MQTTResponse_free(r);
    const char *request =
        "{\"commands\":[{\"command\":\"listEntityDevices\",\"correlationData\":\"tls\"}]}";
    MQTTClient_deliveryToken token = 0;
    r = MQTTClient_publish5(c, "$CONTROL/fogpay/v1", (int)strlen(request), (void *)request, 1, 0,
                            NULL, &token);
    MQTTResponse_free(r);
    CU_ASSERT_EQUAL(MQTTClient_waitForCompletion(c, token, 5000), MQTTCLIENT_SUCCESS);
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    CU_ASSERT_EQUAL(MQTTClient_receive(c, &topic, &topic_len, &m, 5000), MQTTCLIENT_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    char *text = strndup(m->payload, (size_t)m->payloadlen);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"devices\":[\"dev-a\",\"dev-b\"]"));
    free(text);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    MQTTClient_disconnect5(c, 1000, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
    MQTTClient_destroy(&c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_tls FOGPAY_AGENT [FOGPAYCTL]\n");
        return 2;
    }
    agent_bin = argv[1];
    if (!test_certs_available()) {
        printf("skipped: the openssl program is not installed (it makes the certificates)\n");
        return TEST_EXIT_SKIP;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("agent_tls", suite_init, suite_clean);
    CU_add_test(s, "certificates are made", test_certificates);
    CU_add_test(s, "gateway starts with a certificate listener", test_start);
    CU_add_test(s, "own certificate, no password: settles (MQTT 5)", test_own_certificate_mqtt5);
    CU_add_test(s, "own certificate: settles (MQTT 3.1.1)", test_own_certificate_mqtt311);
    CU_add_test(s, "another device's certificate: nothing moves", test_another_devices_certificate);
    CU_add_test(s, "certificate of an unrelated CA: nothing moves", test_unrelated_ca);
    CU_add_test(s, "own certificate again: the refused payments settle",
                test_own_certificate_drains);
    CU_add_test(s, "no certificate, right password: nothing moves", test_no_certificate);
    CU_add_test(s, "revoked device, valid certificate: nothing moves", test_revoked_device);
    CU_add_test(s, "an entity's certificate login: its own commands only", test_entity_certificate);
    return testutil_run();
}
