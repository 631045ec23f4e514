/*
 * test_provision.c - provisioning devices and their logins, through a real
 * Mosquitto with the plugin on loopback and offline on a ledger file:
 *
 * - a device secret is stored as its fast verifier and logs in; a wrong
 *   one is refused; a device holding a PBKDF2 hash (as ledgers provisioned
 *   before the device scheme do) still logs in with its password;
 * - a device password shorter than the minimum is refused (secret_weak);
 * - fogpayctl import-devices, offline and online through the control
 *   topic: the generated secrets written once log the devices in; a bad
 *   line names its line and imports nothing; a re-run skips what exists
 *   identically; a conflicting device is refused with its line;
 * - the broker's listener has the backlog the plugin sets;
 * - an operator cannot be given the device scheme.
 *
 * usage: test_provision FOGPAYCTL (FOGPAY_PLUGIN names the plugin)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "broker.h"
#include "fogpay_key.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define LINE_MAX_TEXT 512

static const char *fogpayctl;
static test_broker broker;
static char db[TEST_BROKER_PATH_MAX], offline_db[TEST_BROKER_PATH_MAX];
static char out[TEST_BROKER_PATH_MAX], ops_pw[TEST_BROKER_PATH_MAX];
static char entity[FOGPAY_ENTITY_ID_MAX + 1], offline_entity[FOGPAY_ENTITY_ID_MAX + 1];
static char port[16];

/* A device secret as fogpayctl would generate it, fixed for the test. */
#define FAST_SECRET "9c1f4e7a2b8d03f6a5c9e1b7d4f20a8e"

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

/* Runs fogpayctl with args (NULL-terminated, at most 16) on the offline
 * ledger (db non-NULL) or the gateway; its exit status, its output and
 * errors in out. */
static int ctl(const char *ledger, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = "/bin/sh";
    argv[n++] = "-c";
    argv[n++] = "exec \"$0\" \"$@\" 2>&1";
    argv[n++] = fogpayctl;
    if (ledger != NULL) {
        argv[n++] = "--db";
        argv[n++] = ledger;
    } else {
        const char *online[] = {"-h",  "127.0.0.1",       "-p",  port, "-u",
                                "ops", "--password-file", ops_pw};
        for (size_t i = 0; i < sizeof online / sizeof online[0]; i++) {
            argv[n++] = online[i];
        }
    }
    while (*args != NULL && n < 31) {
        argv[n++] = *args++;
    }
    argv[n] = NULL;
    return testutil_command(argv, out);
}

/* True when what the last ctl() printed contains text. */
static bool printed(const char *text)
{
    char *got = testutil_read_file(out, NULL);
    bool found = got != NULL && strstr(got, text) != NULL;
    if (!found) {
        printf("\n  expected \"%s\" in: %s\n", text, got ? got : "(nothing)");
    }
    free(got);
    return found;
}

/* MQTT CONNECT as device id with password; true when accepted. */
static bool login(const char *id, const char *password)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient c;
    MQTTClient_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    o.username = id;
    o.password = password;
    o.cleansession = 1;
    bool ok = MQTTClient_connect(c, &o) == MQTTCLIENT_SUCCESS;
    if (ok) {
        MQTTClient_disconnect(c, 1000);
    }
    MQTTClient_destroy(&c);
    return ok;
}

/* The secret written for device in a secrets file, into secret. */
static bool secret_of(const char *secrets, const char *device, char *secret, size_t cap)
{
    FILE *f = fopen(secrets, "r");
    char line[LINE_MAX_TEXT], id[64], value[LINE_MAX_TEXT];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
        found = sscanf(line, "%63s %511s", id, value) == 2 && strcmp(id, device) == 0;
    }
    if (f != NULL) {
        fclose(f);
    }
    if (found) {
        snprintf(secret, cap, "%s", value);
    }
    return found;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* A fresh public key's text. */
static void new_public_key(char *text, size_t cap)
{
    fogpay_key *k = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(k, text, cap), FOGPAY_OK);
    fogpay_key_free(k);
}

/* Registers id through the ledger API with the given stored verifier. */
static void register_with(fogpay_ledger *l, const char *id, const char *verifier)
{
    fogpay_key *k = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, k, verifier, entity, NULL, 1000),
                          FOGPAY_OK);
    fogpay_key_free(k);
}

static void make_ledger(const char *path, char *entity_out)
{
    fogpay_ledger *l;
    fogpay_entity_personal p = {"Provisioning Ltd", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity_out), FOGPAY_OK);
    fogpay_ledger_close(l);
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

/* The gateway's ledger holds dev-fast (a device verifier) and dev-old (a
 * PBKDF2 hash of the default iterations, as older ledgers hold). */
static void test_start(void)
{
    char key[TEST_BROKER_PATH_MAX], ops[TEST_BROKER_PATH_MAX], conf[TEST_BROKER_CONF_MAX];
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    path_in("ledger.db", db);
    path_in("offline.db", offline_db);
    path_in("ctl.out", out);
    path_in("gateway.key", key);
    path_in("operators", ops);
    path_in("ops.pw", ops_pw);
    make_ledger(db, entity);
    make_ledger(offline_db, offline_entity);
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_device_secret_verifier(FAST_SECRET, strlen(FAST_SECRET), hash, sizeof hash),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(strncmp(hash, "sha256$", 7), 0);
    register_with(l, "dev-fast", hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("old-pw", 6, 0, hash, sizeof hash), FOGPAY_OK);
    register_with(l, "dev-old", hash);
    fogpay_ledger_close(l);
    fogpay_key *gk = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &gk), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(gk, key, false), FOGPAY_OK);
    fogpay_key_free(gk);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash), FOGPAY_OK);
    char line[256];
    snprintf(line, sizeof line, "ops:%s\n", hash);
    write_file(ops, line);
    write_file(ops_pw, "ops-pass\n");
    CU_ASSERT_FATAL(test_broker_gateway_conf(conf, sizeof conf, "gw-prov", db, key, ops));
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
    snprintf(port, sizeof port, "%d", broker.port);
}

/* The broker's listener holds a site's devices connecting at once: the
 * plugin set its backlog (ss shows it as Send-Q) above Mosquitto's 100. */
static void test_listen_backlog(void)
{
    char cmd[128], line[256];
    /* The first tick comes within the broker's 100 ms loop. */
    testutil_sleep_ms(300);
    snprintf(cmd, sizeof cmd, "ss -ltnH 'sport = :%d'", broker.port);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    unsigned long recv_q = 0, send_q = 0;
    bool read =
        fgets(line, sizeof line, p) != NULL && sscanf(line, "%*s %lu %lu", &recv_q, &send_q) == 2;
    pclose(p);
    CU_ASSERT_FATAL(read);
    CU_ASSERT(send_q > 100);
}

static void test_logins(void)
{
    CU_ASSERT(login("dev-fast", FAST_SECRET));
    CU_ASSERT(!login("dev-fast", "9c1f4e7a2b8d03f6a5c9e1b7d4f20a8f"));
    CU_ASSERT(!login("dev-fast", ""));
    CU_ASSERT(login("dev-old", "old-pw"));
    CU_ASSERT(!login("dev-old", "old-pX"));
}

/* A short or uniform device password is refused on both paths, and the
 * device is not registered. */
static void test_weak_secret(void)
{
    char pw[TEST_BROKER_PATH_MAX], key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    path_in("weak.pw", pw);
    new_public_key(key, sizeof key);
    const char *secrets[] = {"short-password\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"};
    for (size_t i = 0; i < 2; i++) {
        write_file(pw, secrets[i]);
        const char *reg[] = {
            "register-device", "--device", "dev-weak", "--public-key", key, "--owner", entity,
            "--password-file", pw,         NULL};
        CU_ASSERT_EQUAL(ctl(NULL, reg), 1);
        CU_ASSERT(printed("(secret_weak)"));
        const char *offline_reg[] = {"register-device",
                                     "--device",
                                     "dev-weak",
                                     "--public-key",
                                     key,
                                     "--owner",
                                     offline_entity,
                                     "--password-file",
                                     pw,
                                     NULL};
        CU_ASSERT_EQUAL(ctl(offline_db, offline_reg), 1);
        CU_ASSERT(printed("at least 32 characters"));
    }
    CU_ASSERT(!login("dev-weak", "short-password"));
}

/* Writes an import file of count devices imp-<tag>-N owned by owner; the
 * first gives its own password, the others none. Extra is appended. */
static void write_import(const char *path, const char *tag, int count, const char *owner,
                         const char *extra)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "# devices of site %s\n\n", tag);
    for (int i = 0; i < count; i++) {
        char key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
        new_public_key(key, sizeof key);
        fprintf(f,
                "{\"device\":\"imp-%s-%d\",\"publicKey\":\"%s\",\"owner\":\"%s\",\"limits\":"
                "{\"currency\":\"EUR\",\"perPayment\":\"5.00\"}%s}\n",
                tag, i, key, owner, i == 0 ? ",\"password\":\"" FAST_SECRET "\"" : "");
    }
    fputs(extra, f);
    fclose(f);
}

/* One import file both ways: online to the gateway (ledger NULL) or
 * offline on ledger. */
static void import_both(const char *ledger, const char *owner, const char *tag)
{
    char file[TEST_BROKER_PATH_MAX], secrets[TEST_BROKER_PATH_MAX], bad[TEST_BROKER_PATH_MAX];
    char name[64], secret[LINE_MAX_TEXT];
    snprintf(name, sizeof name, "import-%s.jsonl", tag);
    path_in(name, file);
    snprintf(name, sizeof name, "secrets-%s.txt", tag);
    path_in(name, secrets);
    snprintf(name, sizeof name, "bad-%s.jsonl", tag);
    path_in(name, bad);
    /* A bad line (line 7: a key that is not one) imports nothing. */
    char bad_line[256];
    snprintf(bad_line, sizeof bad_line,
             "{\"device\":\"imp-%s-x\",\"publicKey\":\"ed25519:00\",\"owner\":\"%s\"}\n", tag,
             owner);
    write_import(bad, tag, 4, owner, bad_line);
    const char *import_bad[] = {"import-devices", "--file", bad, "--secrets-out", secrets, NULL};
    CU_ASSERT_EQUAL(ctl(ledger, import_bad), 1);
    CU_ASSERT(printed(":7: publicKey is not"));
    CU_ASSERT(printed("nothing imported"));
    CU_ASSERT(!exists(secrets));
    /* Without --secrets-out the generated secrets would be lost: refused. */
    write_import(file, tag, 3, owner, "");
    const char *no_out[] = {"import-devices", "--file", file, NULL};
    CU_ASSERT_EQUAL(ctl(ledger, no_out), 2);
    const char *import[] = {"import-devices", "--file", file, "--secrets-out", secrets, NULL};
    CU_ASSERT_EQUAL(ctl(ledger, import), 0);
    CU_ASSERT(printed("imported 3 devices, skipped 0"));
    /* The first device gave its own secret: only the others are written. */
    snprintf(name, sizeof name, "imp-%s-0", tag);
    CU_ASSERT(!secret_of(secrets, name, secret, sizeof secret));
    snprintf(name, sizeof name, "imp-%s-2", tag);
    CU_ASSERT_FATAL(secret_of(secrets, name, secret, sizeof secret));
    CU_ASSERT_EQUAL(strlen(secret), 2 * FOGPAY_DEVICE_SECRET_BYTES);
    if (ledger == NULL) {
        CU_ASSERT(login(name, secret));
        snprintf(name, sizeof name, "imp-%s-0", tag);
        CU_ASSERT(login(name, FAST_SECRET));
        snprintf(name, sizeof name, "imp-%s-x", tag);
        CU_ASSERT(!login(name, secret));
    }
    /* Again: every device is there as the file says, so all are skipped,
     * and no secrets file is left. */
    char again[TEST_BROKER_PATH_MAX];
    snprintf(name, sizeof name, "secrets-%s.again", tag);
    path_in(name, again);
    const char *rerun[] = {"import-devices", "--file", file, "--secrets-out", again, NULL};
    CU_ASSERT_EQUAL(ctl(ledger, rerun), 0);
    CU_ASSERT(printed("imported 0 devices, skipped 3"));
    CU_ASSERT(!exists(again));
    /* One more device in the file: it alone is imported, and only its
     * secret is written. */
    char key[FOGPAY_PUBLIC_KEY_TEXT_MAX], extra[LINE_MAX_TEXT];
    new_public_key(key, sizeof key);
    snprintf(extra, sizeof extra,
             "{\"device\":\"imp-%s-3\",\"publicKey\":\"%s\",\"owner\":\"%s\",\"limits\":"
             "{\"currency\":\"EUR\",\"perPayment\":\"5.00\"}}\n",
             tag, key, owner);
    FILE *f = fopen(file, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(extra, f);
    fclose(f);
    CU_ASSERT_EQUAL(ctl(ledger, rerun), 0);
    CU_ASSERT(printed("imported 1 devices, skipped 3"));
    snprintf(name, sizeof name, "imp-%s-3", tag);
    CU_ASSERT(secret_of(again, name, secret, sizeof secret));
    snprintf(name, sizeof name, "imp-%s-2", tag);
    CU_ASSERT(!secret_of(again, name, secret, sizeof secret));
    unlink(again);
    /* A device of the file registered with another key: refused with its
     * line (the file's third device line is line 5), nothing imported. */
    write_import(bad, tag, 3, owner, "");
    const char *conflict[] = {"import-devices", "--file", bad, "--secrets-out", again, NULL};
    CU_ASSERT_EQUAL(ctl(ledger, conflict), 1);
    CU_ASSERT(printed(":3: the device is registered already with another key"));
}

static void test_import_online(void)
{
    import_both(NULL, entity, "on");
    /* The secret of the first import still logs its device in. */
    char secrets[TEST_BROKER_PATH_MAX], secret[LINE_MAX_TEXT];
    path_in("secrets-on.txt", secrets);
    CU_ASSERT_FATAL(secret_of(secrets, "imp-on-1", secret, sizeof secret));
    CU_ASSERT(login("imp-on-1", secret));
}

static void test_import_offline(void)
{
    import_both(offline_db, offline_entity, "off");
    fogpay_ledger *l;
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(offline_db, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(l, "imp-off-1", &d), FOGPAY_OK);
    CU_ASSERT(fogpay_password_is_device_verifier(d.password_hash));
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 500u);
    /* The bad file's devices were not imported. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(l, "imp-off-x", &d), FOGPAY_ERR_NOT_FOUND);
    fogpay_ledger_close(l);
}

/* Operators' passwords are chosen by people: the fast device scheme is not
 * accepted for them, and the broker does not start with one. */
static void test_operator_scheme(void)
{
    test_broker other;
    char key[TEST_BROKER_PATH_MAX], ops[TEST_BROKER_PATH_MAX], conf[TEST_BROKER_CONF_MAX];
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX], line[256];
    CU_ASSERT_FATAL(test_broker_init(&other));
    path_in("gateway.key", key);
    test_broker_path(&other, "operators", ops, sizeof ops);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_device_secret_verifier(FAST_SECRET, strlen(FAST_SECRET), hash, sizeof hash),
        FOGPAY_OK);
    snprintf(line, sizeof line, "ops:%s\n", hash);
    write_file(ops, line);
    CU_ASSERT_FATAL(test_broker_gateway_conf(conf, sizeof conf, "gw-other", db, key, ops));
    CU_ASSERT(!test_broker_start(&other, conf));
    char *log = testutil_read_file(other.log_path, NULL);
    CU_ASSERT(log != NULL && strstr(log, "plugin_opt_operators: line 1") != NULL);
    free(log);
    test_broker_cleanup(&other);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_provision FOGPAYCTL\n");
        return 2;
    }
    fogpayctl = argv[1];
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("provision", suite_init, suite_clean);
    CU_add_test(s, "provision and start the gateway", test_start);
    CU_add_test(s, "the listen backlog is raised", test_listen_backlog);
    CU_add_test(s, "fast verifiers and old PBKDF2 hashes log in", test_logins);
    CU_add_test(s, "a weak device secret is refused", test_weak_secret);
    CU_add_test(s, "import-devices online through the control topic", test_import_online);
    CU_add_test(s, "import-devices offline", test_import_offline);
    CU_add_test(s, "operators keep PBKDF2", test_operator_scheme);
    return testutil_run();
}
