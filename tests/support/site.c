/*
 * site.c - a provisioned gateway site on a real Mosquitto (site.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "site.h"
#include "testutil.h"

#define SITE_ARGS_MAX 40

static void site_path(const test_site *s, const char *name, char *out)
{
    test_broker_path(&s->broker, name, out, TEST_BROKER_PATH_MAX);
}

static bool site_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return false;
    }
    fputs(text, f);
    return fclose(f) == 0;
}

/* The first line of a file, without its newline, into out. */
static bool site_first_line(const char *path, char *out, size_t cap)
{
    char *text = testutil_read_file(path, NULL);
    if (text == NULL) {
        return false;
    }
    text[strcspn(text, "\r\n")] = '\0';
    bool fits = strlen(text) < cap && text[0] != '\0';
    if (fits) {
        strcpy(out, text);
    }
    free(text);
    return fits;
}

/* Runs program with args, stdout into out_path (the log when NULL),
 * stderr into the log. */
static int site_run(test_site *s, const char *program, const char *const *args,
                    const char *out_path)
{
    const char *argv[SITE_ARGS_MAX];
    size_t n = 0;
    argv[n++] = "/bin/sh";
    argv[n++] = "-c";
    argv[n++] = out_path ? "exec \"$0\" \"$@\" 2>>\"$LOG\"" : "exec \"$0\" \"$@\" >>\"$LOG\" 2>&1";
    argv[n++] = program;
    while (*args != NULL && n < SITE_ARGS_MAX - 1) {
        argv[n++] = *args++;
    }
    argv[n] = NULL;
    setenv("LOG", s->log, 1);
    int rc = testutil_command(argv, out_path);
    if (rc != 0) {
        fprintf(stderr, "site: %s %s exited %d (log %s)\n", program, argv[4] ? argv[4] : "", rc,
                s->log);
    }
    return rc;
}

int test_site_ctl(test_site *s, bool online, const char *const *args, const char *out_path)
{
    const char *argv[SITE_ARGS_MAX];
    char port[16];
    snprintf(port, sizeof port, "%d", s->broker.port);
    size_t n = 0;
    if (online) {
        const char *login[] = {"-h",
                               "127.0.0.1",
                               "-p",
                               port,
                               "-u",
                               TEST_SITE_OPERATOR,
                               "--password-file",
                               s->operator_password_file};
        for (size_t i = 0; i < sizeof login / sizeof login[0]; i++) {
            argv[n++] = login[i];
        }
    } else {
        argv[n++] = "--db";
        argv[n++] = s->db;
    }
    while (*args != NULL && n < SITE_ARGS_MAX - 1) {
        argv[n++] = *args++;
    }
    argv[n] = NULL;
    return site_run(s, s->fogpayctl, argv, out_path);
}

/* The operators file with "ops" and a fresh password. */
static bool site_operator(test_site *s)
{
    char out[TEST_BROKER_PATH_MAX];
    snprintf(s->operator_password, sizeof s->operator_password, "ops-%08x%08x", (unsigned)random(),
             (unsigned)random());
    site_path(s, "ops.password", s->operator_password_file);
    site_path(s, "operators", s->operators);
    site_path(s, "operators.line", out);
    const char *args[] = {
        "passwd", "--user", TEST_SITE_OPERATOR, "--password-file", s->operator_password_file, NULL};
    return site_write(s->operator_password_file, s->operator_password) &&
           site_run(s, s->fogpayctl, args, out) == 0 && rename(out, s->operators) == 0;
}

static bool site_device(test_site *s, const char *device)
{
    char key[TEST_BROKER_PATH_MAX], pub_path[TEST_BROKER_PATH_MAX], pw[TEST_BROKER_PATH_MAX];
    char name[64], pub[TEST_SITE_TEXT_MAX], secret[40];
    snprintf(name, sizeof name, "%s.key", device);
    site_path(s, name, key);
    snprintf(name, sizeof name, "%s.pub", device);
    site_path(s, name, pub_path);
    snprintf(name, sizeof name, "%s.password", device);
    site_path(s, name, pw);
    snprintf(secret, sizeof secret, "%08x%08x%08x%08x", (unsigned)random(), (unsigned)random(),
             (unsigned)random(), (unsigned)random());
    const char *keygen[] = {"keygen", "--out", key, NULL};
    if (!site_write(pw, secret) || site_run(s, s->agent, keygen, pub_path) != 0 ||
        !site_first_line(pub_path, pub, sizeof pub)) {
        return false;
    }
    const char *reg[] = {"register-device",
                         "--device",
                         device,
                         "--public-key",
                         pub,
                         "--owner",
                         s->entity,
                         "--per-payment",
                         "20.00",
                         "--per-day",
                         "100.00",
                         "--currency",
                         "EUR",
                         "--password-file",
                         pw,
                         NULL};
    const char *fund[] = {"fund",     "--device", device,        "--currency", "EUR",
                          "--amount", "50.00",    "--reference", "test",       NULL};
    return test_site_ctl(s, false, reg, NULL) == 0 && test_site_ctl(s, false, fund, NULL) == 0;
}

bool test_site_provision(test_site *s, const char *const *devices)
{
    memset(s, 0, sizeof *s);
    s->fogpayctl = getenv("FOGPAYCTL");
    s->agent = getenv("FOGPAY_AGENT");
    if (s->fogpayctl == NULL || s->agent == NULL || !test_broker_init(&s->broker)) {
        fprintf(stderr, "site: FOGPAYCTL and FOGPAY_AGENT name the programs\n");
        return false;
    }
    srandom((unsigned)testutil_now_ms());
    site_path(s, "ledger.db", s->db);
    site_path(s, "gateway.key", s->gateway_key);
    site_path(s, "programs.log", s->log);
    char pub_path[TEST_BROKER_PATH_MAX], entity_path[TEST_BROKER_PATH_MAX];
    site_path(s, "gateway.pub", pub_path);
    site_path(s, "entity", entity_path);
    const char *keygen[] = {"keygen", "--out", s->gateway_key, NULL};
    const char *init[] = {"init", NULL};
    const char *entity[] = {"create-entity", "--name", "Test Site Ltd", NULL};
    if (site_run(s, s->fogpayctl, keygen, pub_path) != 0 ||
        !site_first_line(pub_path, s->gateway_public, sizeof s->gateway_public) ||
        test_site_ctl(s, false, init, NULL) != 0 ||
        test_site_ctl(s, false, entity, entity_path) != 0 ||
        !site_first_line(entity_path, s->entity, sizeof s->entity) || !site_operator(s)) {
        return false;
    }
    for (size_t i = 0; devices[i] != NULL && i < TEST_SITE_DEVICES_MAX; i++) {
        if (!site_device(s, devices[i])) {
            return false;
        }
    }
    return true;
}

bool test_site_start(test_site *s, const char *extra_conf)
{
    char conf[TEST_BROKER_CONF_MAX];
    if (!test_broker_gateway_conf(conf, sizeof conf, "gw-test", s->db, s->gateway_key,
                                  s->operators)) {
        return false;
    }
    size_t used = strlen(conf);
    if (extra_conf != NULL) {
        if (used + strlen(extra_conf) >= sizeof conf) {
            return false;
        }
        strcpy(conf + used, extra_conf);
    }
    return test_broker_start(&s->broker, conf);
}

bool test_site_device_password(const test_site *s, const char *device, char *out, size_t cap)
{
    char name[64], path[TEST_BROKER_PATH_MAX];
    snprintf(name, sizeof name, "%s.password", device);
    site_path(s, name, path);
    return site_first_line(path, out, cap);
}

/* Runs the agent as device `from` with its options, then the subcommand
 * and its arguments (tail, NULL-terminated). */
static int site_agent(test_site *s, const char *from, const char *const *tail)
{
    char dir[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], pw[TEST_BROKER_PATH_MAX];
    char name[64], port[16];
    snprintf(name, sizeof name, "%s.state", from);
    site_path(s, name, dir);
    snprintf(name, sizeof name, "%s.key", from);
    site_path(s, name, key);
    snprintf(name, sizeof name, "%s.password", from);
    site_path(s, name, pw);
    snprintf(port, sizeof port, "%d", s->broker.port);
    const char *args[SITE_ARGS_MAX] = {"--dir",
                                       dir,
                                       "--device",
                                       from,
                                       "--key",
                                       key,
                                       "--password-file",
                                       pw,
                                       "--gateway-key",
                                       s->gateway_public,
                                       "-h",
                                       "127.0.0.1",
                                       "-p",
                                       port};
    size_t n = 14;
    while (*tail != NULL && n < SITE_ARGS_MAX - 1) {
        args[n++] = *tail++;
    }
    args[n] = NULL;
    return site_run(s, s->agent, args, NULL);
}

int test_site_pay(test_site *s, const char *from, const char *to, const char *amount,
                  const char *ref)
{
    const char *tail[] = {"pay",        "--to", to,      "--amount", amount,
                          "--currency", "EUR",  "--ref", ref,        NULL};
    return site_agent(s, from, tail);
}

int test_site_authorise(test_site *s, const char *from, const char *to, const char *amount,
                        const char *hold_s)
{
    const char *tail[] = {"authorise",  "--to", to,         "--amount", amount,
                          "--currency", "EUR",  "--hold-s", hold_s,     NULL};
    return site_agent(s, from, tail);
}

bool test_site_plan_in_arrears(test_site *s, const char *device)
{
    char effective[32], plan_id[64];
    snprintf(effective, sizeof effective, "%llu",
             (unsigned long long)(time(NULL) - 10 * 86400) * 1000ull);
    snprintf(plan_id, sizeof plan_id, "%s-loan", device);
    const char *plan[] = {"plan",
                          "create",
                          "--plan",
                          plan_id,
                          "--device",
                          device,
                          "--lender",
                          s->entity,
                          "--currency",
                          "EUR",
                          "--principal",
                          "100.00",
                          "--rate-basis-points",
                          "0",
                          "--instalments",
                          "10",
                          "--period-ms",
                          "86400000",
                          "--collect",
                          "false",
                          "--shortfall",
                          "limit",
                          "--effective",
                          effective,
                          NULL};
    return test_site_ctl(s, false, plan, NULL) == 0;
}

void test_site_cleanup(test_site *s)
{
    test_broker_cleanup(&s->broker);
}
