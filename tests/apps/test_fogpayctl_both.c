/*
 * test_fogpayctl_both.c - every control command of fogpayctl works both
 * ways with the same answer: online (-h, a real Mosquitto with the real
 * plugin on loopback) and offline (--db, the same control handler on a
 * ledger file). Two ledgers are provisioned alike with fogpayctl; each
 * command then runs on both, and the output (stdout, stderr and the exit
 * status) must be the same, up to what differs between two ledgers by
 * nature (entity ids, times, chain hashes, the correlation data).
 *
 * Passwords: a device password from standard input offline and from a file
 * online both reach the ledger (the device logs in with it); a password on
 * the command line (-P, --password) is refused on both paths.
 *
 * argv[1] is the built fogpayctl; FOGPAY_PLUGIN the plugin.
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTClient.h>

#include "broker.h"
#include "testutil.h"

#define CMD_MAX 4096
#define OUT_MAX 65536

static const char *fogpayctl;
static test_broker broker;
static char offline_db[TEST_BROKER_PATH_MAX], online_db[TEST_BROKER_PATH_MAX];
static char offline_entity[64], online_entity[64];
static char ops_password[TEST_BROKER_PATH_MAX], dev_password[TEST_BROKER_PATH_MAX];

/* What differs between two ledgers by nature: entity ids, times, ages and
 * chain hashes (which hash the times). */
#define NORMALISE                                                                                  \
    "sed -E 's/le-[0-9a-f]+/LE/g; s/fogpayctl-[0-9]+-[0-9]+/CORRELATION/; "                        \
    "s/(\"(time|oldestUnackedAgeMs|chainHash|lastAckMs)\":[[:space:]]*)[^,]*/\\1X/'"

/* Runs a shell command line with stderr joined to stdout and "exit N"
 * appended, through NORMALISE, into out. Returns false when it could not
 * run. */
static bool run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool run(char *out, size_t cap, const char *fmt, ...)
{
    char inner[CMD_MAX], cmd[CMD_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof inner) {
        return false;
    }
    snprintf(cmd, sizeof cmd, "{ %s; echo \"exit $?\"; } 2>&1 | " NORMALISE, inner);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return false;
    }
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    return pclose(p) == 0;
}

/* The first line of a command's stdout, unnormalised (an entity id). */
static void first_line(char *out, size_t cap, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (fgets(out, (int)cap, p) == NULL) {
        out[0] = '\0';
    }
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* One ledger: an entity, dev-a (password from standard input) and dev-b,
 * and a funding of dev-a. */
static void provision(const char *db, char *entity, size_t cap)
{
    char out[OUT_MAX], cmd[CMD_MAX], key[TEST_BROKER_PATH_MAX];
    CU_ASSERT_FATAL(run(out, sizeof out, "%s --db %s init", fogpayctl, db));
    snprintf(cmd, sizeof cmd, "%s --db %s create-entity --name 'Both Ways Ltd'", fogpayctl, db);
    first_line(entity, cap, cmd);
    CU_ASSERT_FATAL(strncmp(entity, "le-", 3) == 0);
    test_broker_path(&broker, "dev.key", key, sizeof key);
    for (int i = 0; i < 2; i++) {
        const char *device = i == 0 ? "dev-a" : "dev-b";
        CU_ASSERT_FATAL(
            run(out, sizeof out,
                "rm -f %s && %s keygen --out %s > %s.pub && echo secret-%s-0123456789abcdefghij | "
                "%s --db %s register-device --device %s --public-key \"$(cat %s.pub)\" "
                "--owner %s --password-file -",
                key, fogpayctl, key, key, device, fogpayctl, db, device, key, entity));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "exit 0"));
    }
    CU_ASSERT_FATAL(run(out, sizeof out,
                        "%s --db %s fund --device dev-a --currency EUR --amount 10.00", fogpayctl,
                        db));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "transfer 1, balance 10.00 EUR, held 0.00\nexit 0"));
}

static int suite_init(void)
{
    if (!test_broker_init(&broker)) {
        return 1;
    }
    test_broker_path(&broker, "offline.db", offline_db, sizeof offline_db);
    test_broker_path(&broker, "online.db", online_db, sizeof online_db);
    test_broker_path(&broker, "ops.password", ops_password, sizeof ops_password);
    test_broker_path(&broker, "dev.password", dev_password, sizeof dev_password);
    return 0;
}

static int suite_clean(void)
{
    test_broker_cleanup(&broker);
    return 0;
}

static void test_start(void)
{
    char out[OUT_MAX], key[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    provision(offline_db, offline_entity, sizeof offline_entity);
    provision(online_db, online_entity, sizeof online_entity);
    test_broker_path(&broker, "gateway.key", key, sizeof key);
    test_broker_path(&broker, "operators", operators, sizeof operators);
    write_file(ops_password, "ops-pass\n");
    write_file(dev_password, "secret-dev-c-0123456789abcdefghij\n");
    CU_ASSERT_FATAL(run(out, sizeof out,
                        "%s keygen --out %s >/dev/null && %s passwd --user ops --password-file %s "
                        "> %s",
                        fogpayctl, key, fogpayctl, ops_password, operators));
    char conf[TEST_BROKER_CONF_MAX];
    CU_ASSERT_FATAL(
        test_broker_gateway_conf(conf, sizeof conf, "gw-both", online_db, key, operators));
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

/* Runs the control command line args both ways, entity ids given as
 * "{LE}", and checks both print the same and end with "exit <status>". */
static void both(const char *args, int status)
{
    static char online[OUT_MAX], offline[OUT_MAX];
    char with_online[CMD_MAX], with_offline[CMD_MAX];
    /* {LE} is each ledger's own entity. */
    const char *mark = strstr(args, "{LE}");
    if (mark != NULL) {
        int head = (int)(mark - args);
        snprintf(with_online, sizeof with_online, "%.*s%s%s", head, args, online_entity, mark + 4);
        snprintf(with_offline, sizeof with_offline, "%.*s%s%s", head, args, offline_entity,
                 mark + 4);
    } else {
        snprintf(with_online, sizeof with_online, "%s", args);
        snprintf(with_offline, sizeof with_offline, "%s", args);
    }
    CU_ASSERT_FATAL(run(online, sizeof online, "%s -h 127.0.0.1 -p %d -u ops --password-file %s %s",
                        fogpayctl, broker.port, ops_password, with_online));
    CU_ASSERT_FATAL(
        run(offline, sizeof offline, "%s --db %s %s", fogpayctl, offline_db, with_offline));
    if (strcmp(online, offline) != 0) {
        printf("\n  %s\n  online:\n%s  offline:\n%s", args, online, offline);
    }
    CU_ASSERT_STRING_EQUAL(online, offline);
    char tail[32];
    snprintf(tail, sizeof tail, "exit %d\n", status);
    size_t n = strlen(offline), t = strlen(tail);
    CU_ASSERT(n >= t && strcmp(offline + n - t, tail) == 0);
    if (n < t || strcmp(offline + n - t, tail) != 0) {
        printf("\n  %s: expected %s  got:\n%s", args, tail, offline);
    }
}

/* Tariffs and meter bindings, each with a success and a refusal. */
static void test_tariffs(void)
{
    both("define-tariff --tariff ev --device dev-b --unit Wh --price 3917/100000 --currency EUR "
         "--minimum 0.01 --effective 1700000000000",
         0);
    both("defineTariff --tariff ev --device dev-b --unit Wh --price 3917/100000 --currency EUR "
         "--effective 1600000000000",
         2);
    both("define-tariff --tariff ev2 --device dev-b --unit Wh --price 0.39 --currency EUR", 2);
    both("tariff --tariff ev --at 1700000000001", 0);
    both("getTariff --tariff ev --at 1600000000000", 1);
    both("bind-meter --device dev-a --meter dc-1 --tariff ev", 0);
    both("bindMeter --device dev-b --meter dc-1 --tariff ev", 1);
    both("bind-meter --device dev-a --meter dc-1 --tariff nope", 1);
    /* Charged from a hold: no hold has that id; a hold id not a number. */
    both("bind-meter --device dev-a --meter dc-2 --tariff ev --hold 9999", 1);
    both("bindMeter --device dev-a --meter dc-2 --tariff ev --hold first", 2);
    both("meter --device dev-a --meter dc-1", 0);
    both("getMeter --device dev-a --meter dc-9", 1);
}

/* The commands fogpayctl had only online, each with a success and a
 * refusal, in an order that leaves both ledgers alike. */
static void test_formerly_online_only(void)
{
    both("getBalance --device dev-a --currency EUR", 0);
    both("balance --device nobody --currency EUR", 1);
    both("suspend-device --device dev-b --reason inspection", 0);
    both("suspendDevice --device nobody", 1);
    both("resume-device --device dev-b", 0);
    both("set-limits --device dev-b --currency EUR --per-payment 2.50 --per-day 20", 0);
    both("setLimits --device dev-b --currency XXZ --per-payment 1", 2);
    both("transfer-ownership --device dev-b --entity {LE} --role lessee", 0);
    both("transferOwnership --device dev-b --entity {LE} --role boss", 2);
    both("fund --device dev-b --currency EUR --amount 1.00 --reference top-up", 0);
    both("fundWallet --device dev-b --currency EUR --amount 1.505", 2);
    /* Only a payment can be refunded: a funding is refused alike. */
    both("refund --id 2 --amount 0.50", 2);
    both("refund --id 99", 1);
    both("get-transfer --id 1", 0);
    both("getTransfer --id nine", 2);
    both("list-transfers --device dev-b --limit 1", 0);
    both("listTransfers --limit 5000", 2);
    both("verify-ledger", 0);
    both("sync-status", 0);
    both("revoke-device --device dev-b", 0);
    both("revokeDevice", 2);
    both("--json getBalance --device dev-a --currency EUR", 0);
    both("frobnicate --device dev-a", 1);
}

/* Registration both ways: the answer is the same, and the password read
 * from a file (online) or standard input (offline, in provision) is the
 * one the device logs in with. */
static void test_register_and_password(void)
{
    both("registerDevice --device dev-c --public-key ed25519:00 --owner {LE}", 2);
    char line[CMD_MAX];
    snprintf(line, sizeof line,
             "register-device --device dev-c --owner {LE} --password-file %s --per-payment 1.00 "
             "--currency EUR --public-key \"$(cat %s/dev.key.pub)\"",
             dev_password, broker.dir);
    both(line, 0);
    both(line, 1);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    const char *logins[][3] = {{"dev-a", "secret-dev-a-0123456789abcdefghij", "0"},
                               {"dev-c", "secret-dev-c-0123456789abcdefghij", "0"},
                               {"dev-c", "wrong", "refused"}};
    for (size_t i = 0; i < 3; i++) {
        MQTTClient client;
        MQTTClient_create(&client, uri, logins[i][0], MQTTCLIENT_PERSISTENCE_NONE, NULL);
        MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
        opts.username = logins[i][0];
        opts.password = logins[i][1];
        opts.cleansession = 1;
        int rc = MQTTClient_connect(client, &opts);
        if (strcmp(logins[i][2], "0") == 0) {
            CU_ASSERT_EQUAL(rc, MQTTCLIENT_SUCCESS);
            MQTTClient_disconnect(client, 1000);
        } else {
            CU_ASSERT_NOT_EQUAL(rc, MQTTCLIENT_SUCCESS);
        }
        MQTTClient_destroy(&client);
    }
}

/* A password on the command line, where ps shows it, is refused on both
 * paths before anything is sent or stored. */
static void test_no_password_on_the_command_line(void)
{
    static char out[OUT_MAX];
    both("registerDevice --device dev-d --public-key ed25519:00 --owner {LE} --password secret", 2);
    CU_ASSERT_FATAL(run(out, sizeof out, "%s --db %s register-device --device dev-d --password x",
                        fogpayctl, offline_db));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "shows in the process list"));
    CU_ASSERT_FATAL(run(out, sizeof out,
                        "%s -h 127.0.0.1 -p %d -u ops -P ops-pass getBalance "
                        "--device dev-a --currency EUR",
                        fogpayctl, broker.port));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "process list"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exit 2"));
    /* Only one password can come from standard input. */
    CU_ASSERT_FATAL(run(out, sizeof out,
                        "echo ops-pass | %s -h 127.0.0.1 -p %d -u ops --password-file - "
                        "registerDevice --device dev-d --password-file - --public-key x --owner y",
                        fogpayctl, broker.port));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "standard input already holds"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exit 2"));
    /* The operator's password from standard input logs in. */
    CU_ASSERT_FATAL(run(out, sizeof out,
                        "echo ops-pass | %s -h 127.0.0.1 -p %d -u ops --password-file - "
                        "getBalance --device dev-a --currency EUR",
                        fogpayctl, broker.port));
    CU_ASSERT_STRING_EQUAL(out, "dev-a: balance 10.00 EUR, held 0.00\nexit 0\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-OF-FOGPAYCTL\n", argv[0]);
        return 2;
    }
    fogpayctl = argv[1];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("fogpayctl both ways", suite_init, suite_clean);
    CU_add_test(s, "provision two ledgers, start the gateway on one", test_start);
    CU_add_test(s, "tariffs and meter bindings: same answer offline", test_tariffs);
    CU_add_test(s, "formerly online-only commands: same answer offline", test_formerly_online_only);
    CU_add_test(s, "registerDevice both ways; the password logs in", test_register_and_password);
    CU_add_test(s, "no password on the command line", test_no_password_on_the_command_line);
    return testutil_run();
}
