/*
 * agent_fixture.c - the gateway, its devices, fogpay-agent and fogpayctl as
 * the agent tests run them (agent_fixture.h). Every file it writes is in
 * the broker dir, removed with it.
 */
#include "agent_fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fogpay_password.h"
#include "testutil.h"

#define OPERATOR_PASSWORD "ops-pass"

void agent_fixture_path(const agent_fixture *fx, const char *name, char *out)
{
    test_broker_path(&fx->broker, name, out, TEST_BROKER_PATH_MAX);
}

void agent_fixture_write(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static bool operators_write(const agent_fixture *fx)
{
    char path[TEST_BROKER_PATH_MAX], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    agent_fixture_path(fx, "operators", path);
    if (fogpay_password_hash(OPERATOR_PASSWORD, strlen(OPERATOR_PASSWORD), 1000, hash,
                             sizeof hash) != FOGPAY_OK) {
        return false;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        return false;
    }
    fprintf(f, "ops:%s\n", hash);
    return fclose(f) == 0;
}

bool agent_fixture_init(agent_fixture *fx)
{
    fx->gateway_key = NULL;
    if (!test_broker_init(&fx->broker)) {
        return false;
    }
    char key_path[TEST_BROKER_PATH_MAX];
    agent_fixture_path(fx, "ledger.db", fx->db_path);
    agent_fixture_path(fx, "gateway.key", key_path);
    return fogpay_key_generate(FOGPAY_ALG_EDDSA, &fx->gateway_key) == FOGPAY_OK &&
           fogpay_key_save(fx->gateway_key, key_path, false) == FOGPAY_OK &&
           fogpay_key_public_text(fx->gateway_key, fx->gateway_text, sizeof fx->gateway_text) ==
               FOGPAY_OK &&
           operators_write(fx);
}

void agent_fixture_cleanup(agent_fixture *fx)
{
    test_broker_cleanup(&fx->broker);
    fogpay_key_free(fx->gateway_key);
    fx->gateway_key = NULL;
}

void agent_fixture_hook(const agent_fixture *fx, const char *name, char *hook, char *marker)
{
    char file[64], script[2 * TEST_BROKER_PATH_MAX];
    snprintf(file, sizeof file, "%s.sh", name);
    agent_fixture_path(fx, file, hook);
    snprintf(file, sizeof file, "%s.marker", name);
    agent_fixture_path(fx, file, marker);
    snprintf(script, sizeof script, "#!/bin/sh\necho \"$1\" >> %s\n", marker);
    agent_fixture_write(hook, script, 0700);
}

bool agent_fixture_wait_text(const char *path, const char *text, unsigned ms)
{
    uint64_t until = testutil_now_ms() + ms;
    for (;;) {
        char *s = testutil_read_file(path, NULL);
        bool found = s && strstr(s, text);
        free(s);
        if (found) {
            return true;
        }
        if (testutil_now_ms() >= until) {
            return false;
        }
        testutil_sleep_ms(50);
    }
}

void agent_fixture_register(const agent_fixture *fx, fogpay_ledger *l, const char *id,
                            const char *entity, uint64_t fund)
{
    fogpay_key *key = NULL;
    char path[TEST_BROKER_PATH_MAX], name[64], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.key", id);
    agent_fixture_path(fx, name, path);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(key, path, false), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.pass", id);
    agent_fixture_path(fx, name, path);
    agent_fixture_write(path, id, 0600);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash(id, strlen(id), 1000, hash, sizeof hash), FOGPAY_OK);
    fogpay_device_limits none = {0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, key, hash, entity, &none, 1000),
                          FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, id, AGENT_FIXTURE_EUR, fund, "initial", 2000, &t),
                          FOGPAY_OK);
    fogpay_key_free(key);
}

void agent_fixture_start(agent_fixture *fx, const char *gateway_id, const char *extra)
{
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    agent_fixture_path(fx, "gateway.key", key_path);
    agent_fixture_path(fx, "operators", operators);
    char conf[TEST_BROKER_CONF_MAX];
    CU_ASSERT_FATAL(
        test_broker_gateway_conf(conf, sizeof conf, gateway_id, fx->db_path, key_path, operators));
    if (extra) {
        CU_ASSERT_FATAL(strlen(conf) + strlen(extra) < sizeof conf);
        strcat(conf, extra);
    }
    CU_ASSERT_FATAL(test_broker_start(&fx->broker, conf));
}

/* Appends extra (NULL-terminated) to argv's n arguments and ends it. */
static void args_append(const char **argv, size_t n, const char *const *extra)
{
    for (size_t i = 0; extra && extra[i] && n < AGENT_FIXTURE_ARGS_MAX - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
}

/* A run of fogpay-agent: its argv and the paths and port it names. */
typedef struct agent_argv {
    const char *argv[AGENT_FIXTURE_ARGS_MAX];
    char dir[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], pass[TEST_BROKER_PATH_MAX];
    char port[16];
} agent_argv;

/* fogpay-agent's argv for device with the common options, --test-clock
 * clock unless NULL, then extra (NULL-terminated), into a. */
static void agent_args(const agent_fixture *fx, const char *device, const char *clock,
                       const char *const *extra, agent_argv *a)
{
    char name[64];
    snprintf(name, sizeof name, "state-%s", device);
    agent_fixture_path(fx, name, a->dir);
    snprintf(name, sizeof name, "%s.key", device);
    agent_fixture_path(fx, name, a->key);
    snprintf(name, sizeof name, "%s.pass", device);
    agent_fixture_path(fx, name, a->pass);
    snprintf(a->port, sizeof a->port, "%d", fx->broker.port);
    const char *common[] = {fx->agent_bin, "--dir", a->dir,          "--key",           a->key,
                            "--device",    device,  "--gateway-key", fx->gateway_text,  "-h",
                            "127.0.0.1",   "-p",    a->port,         "--password-file", a->pass};
    memcpy(a->argv, common, sizeof common);
    size_t n = sizeof common / sizeof common[0];
    if (clock) {
        a->argv[n++] = "--test-clock";
        a->argv[n++] = clock;
    }
    args_append(a->argv, n, extra);
}

int agent_fixture_command(const agent_fixture *fx, const char *device, const char *const *extra,
                          const char *out_path)
{
    agent_argv a;
    agent_args(fx, device, NULL, extra, &a);
    return testutil_command(a.argv, out_path);
}

pid_t agent_fixture_spawn(const agent_fixture *fx, const char *device, const char *clock,
                          const char *out_name, const char *const *extra)
{
    char out[TEST_BROKER_PATH_MAX] = "/dev/null";
    if (out_name) {
        agent_fixture_path(fx, out_name, out);
    }
    agent_argv a;
    agent_args(fx, device, clock, extra, &a);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        if (out_name) {
            dup2(fd, STDERR_FILENO); /* the agent's log lines too */
        }
        execv(fx->agent_bin, (char *const *)a.argv);
        _exit(127);
    }
    return pid;
}

int agent_fixture_agent(const agent_fixture *fx, const char *device, const char *clock,
                        const char *out_name, const char *const *extra)
{
    return testutil_wait_exit(agent_fixture_spawn(fx, device, clock, out_name, extra));
}

long long agent_fixture_status(const agent_fixture *fx, const char *device, const char *clock,
                               const char *key)
{
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(fx, "status.out", out);
    unlink(out);
    const char *args[] = {"status", NULL};
    CU_ASSERT_EQUAL(agent_fixture_agent(fx, device, clock, "status.out", args), 0);
    char *text = testutil_read_file(out, NULL);
    long long value = testutil_line_value(text, key);
    free(text);
    return value;
}

/* fogpayctl's argv as the operator for command, its password file written
 * into password_file and its port text into port. */
static void operator_args(const agent_fixture *fx, const char *const *command, const char **argv,
                          char *port, char *password_file)
{
    snprintf(port, 16, "%d", fx->broker.port);
    agent_fixture_path(fx, "ops.password", password_file);
    agent_fixture_write(password_file, OPERATOR_PASSWORD "\n", 0600);
    const char *common[] = {fx->ctl_bin, "-h",  "127.0.0.1",       "-p",         port,
                            "-u",        "ops", "--password-file", password_file};
    memcpy(argv, common, sizeof common);
    args_append(argv, sizeof common / sizeof common[0], command);
}

int agent_fixture_operator(const agent_fixture *fx, const char *const *command,
                           const char *out_name)
{
    char port[16], password_file[TEST_BROKER_PATH_MAX], out[TEST_BROKER_PATH_MAX];
    const char *argv[AGENT_FIXTURE_ARGS_MAX];
    operator_args(fx, command, argv, port, password_file);
    if (out_name) {
        agent_fixture_path(fx, out_name, out);
    }
    return testutil_command(argv, out_name ? out : NULL);
}

int agent_fixture_operator_logged(const agent_fixture *fx, const char *const *command)
{
    char port[16], password_file[TEST_BROKER_PATH_MAX], log[TEST_BROKER_PATH_MAX];
    const char *argv[AGENT_FIXTURE_ARGS_MAX];
    operator_args(fx, command, argv, port, password_file);
    agent_fixture_path(fx, "fogpayctl.log", log);
    int rc = testutil_command_logged(argv, log);
    if (rc != 0) {
        char *text = testutil_read_file(log, NULL);
        fprintf(stderr, "fogpayctl %s: exit %d\n%s\n", command[0], rc, text ? text : "");
        free(text);
    }
    return rc;
}

int64_t agent_fixture_balance(const agent_fixture *fx, const char *device, const char *entity)
{
    fogpay_ledger *l;
    uint64_t account = 0;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx->db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(device ? fogpay_ledger_wallet(l, device, AGENT_FIXTURE_EUR, &account)
                           : fogpay_ledger_entity_account(l, entity, AGENT_FIXTURE_EUR, &account),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, account, &balance), FOGPAY_OK);
    fogpay_ledger_close(l);
    return balance;
}
