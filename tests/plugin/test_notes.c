/*
 * test_notes.c - bearer notes into a gateway's stock through a real
 * Mosquitto with the plugin (plugin_opt_note_issuers): notes issued by
 * fogpay-issuer to the gateway's key, loaded with fogpayctl online, the
 * stock listed; and each refusal of a load, with its reason, loading
 * nothing (a load is all or none): a serial loaded before, an unknown
 * issuer, a retired issuer key, a forged note, a note its issuer still
 * holds, a note handed to another key. Then offline on the same ledger:
 * refused without the issuers' trust file, loaded with it.
 *
 * The programs under test are the built plugin ($FOGPAY_PLUGIN), fogpayctl
 * and fogpay-issuer (argv[1], argv[2]).
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "broker.h"
#include "testutil.h"

#define CMD_MAX 8192
#define OUT_MAX 65536

static const char *fogpayctl;
static const char *issuer;
static test_broker broker;
static char dir[TEST_BROKER_DIR_MAX];
static char out[OUT_MAX];

/* Runs a shell command line in the broker's directory, stderr joined to
 * stdout, into out; its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char inner[CMD_MAX], cmd[CMD_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof inner) {
        return -1;
    }
    snprintf(cmd, sizeof cmd, "cd %s && { %s; } 2>&1", dir, inner);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* fogpayctl online as the operator, with the arguments. */
static int online(const char *args)
{
    return run("%s -h 127.0.0.1 -p %d -u ops --password-file ops.pw %s", fogpayctl, broker.port,
               args);
}

/* fogpay-issuer on the issuer's ledger db, with the arguments. */
static int issue(const char *db, const char *args)
{
    return run("%s --db %s %s", issuer, db, args);
}

/* The gateway's stock as fogpayctl prints it, on one line. */
static const char *stock(void)
{
    CU_ASSERT_EQUAL(online("notes stock | tr -d ' \\t\\n'"), 0);
    return out;
}

static char gateway_key[256];

/* The first line of out, without its newline, into text. */
static void first_line(char *text, size_t cap)
{
    size_t n = strcspn(out, "\n");
    n = n < cap - 1 ? n : cap - 1;
    memcpy(text, out, n);
    text[n] = '\0';
}

static int suite_init(void)
{
    if (!test_broker_init(&broker)) {
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", broker.dir);
    char conf[TEST_BROKER_CONF_MAX], path[TEST_BROKER_PATH_MAX];
    if (run("%s --db l.db init && echo ops-pass > ops.pw && %s passwd --user ops "
            "--password-file ops.pw > operators",
            fogpayctl, fogpayctl) != 0 ||
        run("%s keygen --out gateway.key", fogpayctl) != 0) {
        return 1;
    }
    first_line(gateway_key, sizeof gateway_key);
    /* The issuer: a key that issued the notes of r.txt and was retired after a
     * rotation, and its second key, which issues the rest; another issuer the
     * gateway does not know. */
    char issue_to[512];
    snprintf(issue_to, sizeof issue_to, "issue --key k2.key --currency EUR --to %s", gateway_key);
    char args[1024];
    char k1[256] = "";
    bool ok = issue("i.db", "init") == 0 && issue("i.db", "keygen --out k1.key") == 0;
    first_line(k1, sizeof k1);
    snprintf(args, sizeof args,
             "issue --key k1.key --currency EUR --denomination 5.00 --count 1 --to %s --out r.txt",
             gateway_key);
    ok = ok && issue("i.db", args) == 0 && issue("i.db", "rotate --out k2.key") == 0;
    snprintf(args, sizeof args, "retire --public-key %s", k1);
    ok = ok && issue("i.db", args) == 0;
    static const char *const runs[] = {
        "--denomination 5.00 --count 3 --out a.txt",
        "--denomination 0.50 --count 2 --expiry-days 30 --out b.txt",
        "--denomination 1.00 --count 1 --out f.txt",
        "--denomination 2.00 --count 1 --out g.txt",
    };
    for (size_t i = 0; ok && i < sizeof runs / sizeof runs[0]; i++) {
        snprintf(args, sizeof args, "%s %s", issue_to, runs[i]);
        ok = issue("i.db", args) == 0;
    }
    ok = ok && issue("i.db", "issue --key k2.key --currency EUR --denomination 5.00 --count 1 "
                             "--out d.txt") == 0; /* the issuer holds it */
    ok = ok && run("%s keygen --out dev.key > dev.pub", fogpayctl) == 0;
    ok = ok && run("%s --db i.db issue --key k2.key --currency EUR --denomination 5.00 --count 1 "
                   "--to \"$(cat dev.pub)\" --out e.txt",
                   issuer) == 0; /* handed to a device's key */
    ok = ok && issue("o.db", "init") == 0 && issue("o.db", "keygen --out o.key") == 0;
    snprintf(args, sizeof args,
             "issue --key o.key --currency EUR --denomination 5.00 --count 1 --to %s --out c.txt",
             gateway_key);
    ok = ok && issue("o.db", args) == 0 && issue("i.db", "keys --out issuers.txt") == 0;
    /* A forged note: a.txt's first with its value byte changed (5.00 to 50.00). */
    ok = ok && run("head -1 a.txt | sed -E 's/031901f4/03191388/' > forged.txt && "
                   "cmp -s forged.txt a.txt; test $? -eq 1") == 0;
    /* f's good note and the forged one in one file: all or none. */
    ok = ok && run("cat f.txt forged.txt > mixed.txt") == 0;
    if (!ok) {
        fprintf(stderr, "test_notes: setting up the issuers failed:\n%s\n", out);
        return 1;
    }
    test_broker_path(&broker, "l.db", path, sizeof path);
    char key[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX], trust[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "gateway.key", key, sizeof key);
    test_broker_path(&broker, "operators", operators, sizeof operators);
    test_broker_path(&broker, "issuers.txt", trust, sizeof trust);
    if (!test_broker_gateway_conf(conf, sizeof conf, "gw-notes", path, key, operators)) {
        return 1;
    }
    size_t used = strlen(conf);
    snprintf(conf + used, sizeof conf - used, "plugin_opt_note_issuers %s\n", trust);
    return test_broker_start(&broker, conf) ? 0 : 1;
}

static int suite_clean(void)
{
    test_broker_cleanup(&broker);
    return 0;
}

static void test_load_and_stock(void)
{
    const char *s = stock();
    if (strcmp(s, "{\"stock\":[]}") != 0) {
        printf("\n  stock: %s\n", s);
    }
    CU_ASSERT_STRING_EQUAL(s, "{\"stock\":[]}");
    CU_ASSERT_EQUAL(online("notes load --file a.txt"), 0);
    CU_ASSERT_STRING_EQUAL(out, "loaded 3 notes\n");
    CU_ASSERT_EQUAL(online("notes load --file b.txt"), 0);
    CU_ASSERT_STRING_EQUAL(stock(), "{\"stock\":[{\"currency\":\"EUR\",\"denomination\":\"0.50\","
                                    "\"count\":2},{\"currency\":\"EUR\",\"denomination\":\"5.00\","
                                    "\"count\":3}]}");
}

/* Loads file, which must be refused at line with reason. */
static void refused(const char *file, int line, const char *reason)
{
    char args[256], want[128];
    snprintf(args, sizeof args, "notes load --file %s", file);
    CU_ASSERT_EQUAL(online(args), 1);
    snprintf(want, sizeof want, "line %d refused: ", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    snprintf(want, sizeof want, "(%s)", reason);
    if (strstr(out, want) == NULL) {
        printf("\n  %s: %s", file, out);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
}

static void test_refusals(void)
{
    refused("a.txt", 1, "note_serial_seen");
    refused("c.txt", 1, "note_issuer_unknown");
    refused("r.txt", 1, "note_issuer_retired");
    refused("forged.txt", 1, "note_forged");
    refused("d.txt", 1, "custody_other_holder");
    refused("e.txt", 1, "custody_other_holder");
    refused("mixed.txt", 2, "note_forged");
    /* Nothing of those moved: the 1.00 note of mixed.txt loads alone now. */
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*) FROM note_movements'"), 0);
    CU_ASSERT_STRING_EQUAL(out, "5\n");
    CU_ASSERT_EQUAL(online("notes load --file f.txt"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(stock(), "{\"currency\":\"EUR\",\"denomination\":\"1.00\","
                                           "\"count\":1}"));
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*), sum(denomination_minor) FROM notes "
                        "WHERE state = 0'"),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "6|1700\n");
}

static void test_offline(void)
{
    test_broker_stop(&broker);
    CU_ASSERT_EQUAL(run("%s --db l.db notes load --file g.txt", fogpayctl), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(config)"));
    CU_ASSERT_EQUAL(
        run("%s --db l.db --note-issuers issuers.txt notes load --file g.txt", fogpayctl), 0);
    CU_ASSERT_STRING_EQUAL(out, "loaded 1 notes\n");
    CU_ASSERT_EQUAL(run("%s --db l.db verify", fogpayctl), 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FOGPAYCTL FOGPAY_ISSUER\n", argv[0]);
        return 2;
    }
    static char ctl[4096], iss[4096];
    if (realpath(argv[1], ctl) == NULL || realpath(argv[2], iss) == NULL) {
        perror("realpath");
        return 2;
    }
    fogpayctl = ctl;
    issuer = iss;
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("notes", suite_init, suite_clean);
    CU_add_test(s, "notes loaded into the stock online, the stock listed", test_load_and_stock);
    CU_add_test(s, "each refusal of a load, and a load is all or none", test_refusals);
    CU_add_test(s, "offline: refused without the issuers, loaded with them", test_offline);
    return testutil_run();
}
