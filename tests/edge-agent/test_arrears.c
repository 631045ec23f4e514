/*
 * test_arrears.c - financing's shortfall end to end: a real Mosquitto with
 * the real plugin on loopback and a compressed wall clock
 * (plugin_opt_test_clock, the agent's --test-clock: a 60-second period
 * passes in 0.6 s), a financed device whose wallet pays two instalments
 * by the gateway's collection and then runs dry. The plan goes into
 * arrears, the gateway suspends the device with its signed command, the
 * running agent's hook runs, the agent refuses other payments; the owner
 * pays into the device's wallet (payDevice from its account), the next
 * tick collects what is owed, clears the arrears and resumes the device,
 * whose hook runs again and whose payments settle again. The ledger
 * agrees at each step: instalments paid (the running agent's own, kind
 * 11, as they fall due, and the gateway's collections, kind 13), the
 * arrears' events (13, 14), the status events with reason plan_arrears.
 * And usage-dependent interest: two devices on the same plan terms whose
 * agents report different metered usage are collected different,
 * exactly computed instalments. And early settlement online: a suspended
 * device's plan settled from its owner's account, the device resumed. And
 * the shortfall action limit: a device in arrears on such a plan stays in
 * action, its agent's payment to a payee the plan does not name is
 * refused by the gateway (plan_limited), to the named one settled; the
 * owner pays in and the limit lifts by itself.
 *
 * argv[1] is the fogpay-agent program, argv[2] fogpayctl; FOGPAY_PLUGIN the
 * plugin. The ledger is provisioned through the ledger API before the
 * broker starts and read through it (a second connection, as WAL allows).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR      978
#define ARGS_MAX 32

/* The compression: 100 times the real clock, so the plan's 60-second
 * period (the shortest a plan takes) is 0.6 s of the test. */
#define RATE      100u
#define PERIOD_MS 60000ull

static const char *agent_bin;
static const char *fogpayctl_bin;
static test_broker broker;
static char db_path[TEST_BROKER_PATH_MAX];
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
static char test_clock[64];
static char owner[FOGPAY_ENTITY_ID_MAX + 1];
static char lender[FOGPAY_ENTITY_ID_MAX + 1];
static uint64_t test_epoch_ms; /* the test clock's epoch */

static void path_in(const char *name, char *out)
{
    test_broker_path(&broker, name, out, TEST_BROKER_PATH_MAX);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void register_device(fogpay_ledger *l, const char *id, const char *entity, uint64_t fund)
{
    fogpay_key *key = NULL;
    char path[TEST_BROKER_PATH_MAX], name[64], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.key", id);
    path_in(name, path);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(key, path, false), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.pass", id);
    path_in(name, path);
    write_text(path, id, 0600);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash(id, strlen(id), 1000, hash, sizeof hash), FOGPAY_OK);
    fogpay_device_limits none = {0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, key, hash, entity, &none, 1000),
                          FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, id, EUR, fund, "initial", 2000, &t), FOGPAY_OK);
    fogpay_key_free(key);
}

/* The owner's account holds money to pay in with: its shop device pays it. */
static void owner_account_funded(fogpay_ledger *l, uint64_t amount)
{
    register_device(l, "shop", owner, amount);
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, owner, EUR, &account), FOGPAY_OK);
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "shop");
    in.seq = 1;
    in.payee_account = account;
    in.amount_minor = amount;
    in.currency = EUR;
    uint8_t hash[FOGPAY_HASH_BYTES];
    memset(hash, 0x5a, sizeof hash);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_settle(l, &in, hash, 3000, &t, NULL), FOGPAY_OK);
}

/* "fin" is financed from epoch_ms: 12.00 EUR in 12 instalments of 1.00,
 * one a (compressed) minute, collected by the gateway, suspend on
 * shortfall. Its wallet holds 2.50: two instalments and a half. */
static void provision(uint64_t epoch_ms)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal o = {"Charging Owner Ltd", NULL, NULL};
    fogpay_entity_personal f = {"Device Finance SA", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &o, 1000, owner), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &f, 1000, lender), FOGPAY_OK);
    register_device(l, "fin", owner, 250);
    register_device(l, "other", owner, 1);
    register_device(l, "use-a", owner, 10000);
    register_device(l, "use-b", owner, 10000);
    register_device(l, "set-a", owner, 50);
    register_device(l, "lim", owner, 50);
    register_device(l, "named", owner, 1);
    owner_account_funded(l, 5000);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "fin-loan");
    snprintf(p.device_id, sizeof p.device_id, "fin");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 1200;
    p.instalment_count = 12;
    p.period_ms = PERIOD_MS;
    p.collect = true;
    p.effective_ms = epoch_ms;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, epoch_ms), FOGPAY_OK);
    fogpay_ledger_close(l);
}

static int suite_init(void)
{
    if (!test_broker_init(&broker)) {
        return 1;
    }
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    path_in("ledger.db", db_path);
    path_in("gateway.key", key_path);
    path_in("operators", operators);
    fogpay_key *key = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK ||
        fogpay_key_save(key, key_path, false) != FOGPAY_OK ||
        fogpay_key_public_text(key, gateway_text, sizeof gateway_text) != FOGPAY_OK) {
        fogpay_key_free(key);
        return 1;
    }
    fogpay_key_free(key);
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX], line[FOGPAY_PASSWORD_HASH_TEXT_MAX + 8];
    fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash);
    snprintf(line, sizeof line, "ops:%s\n", hash);
    FILE *f = fopen(operators, "w");
    if (!f) {
        return 1;
    }
    fputs(line, f);
    fclose(f);
    return 0;
}

static int suite_clean(void)
{
    test_broker_cleanup(&broker);
    return 0;
}

/* The gateway on the compressed clock from now, with the plan provisioned
 * from that epoch. */
static void test_start(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t epoch_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    test_epoch_ms = epoch_ms;
    snprintf(test_clock, sizeof test_clock, "%u@%llu", RATE, (unsigned long long)epoch_ms);
    provision(epoch_ms);
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    path_in("gateway.key", key_path);
    path_in("operators", operators);
    char conf[TEST_BROKER_CONF_MAX], extra[128];
    CU_ASSERT_FATAL(
        test_broker_gateway_conf(conf, sizeof conf, "gw-fin", db_path, key_path, operators));
    snprintf(extra, sizeof extra, "plugin_opt_test_clock %s\n", test_clock);
    CU_ASSERT_FATAL(strlen(conf) + strlen(extra) < sizeof conf);
    strcat(conf, extra);
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

/* Starts fogpay-agent for device on the same compressed clock, then extra
 * (NULL-terminated); its output to the file out. */
static pid_t agent_spawn_to(const char *device, const char *const *extra, const char *out)
{
    char dir[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], pass[TEST_BROKER_PATH_MAX], port[16],
        name[64];
    snprintf(name, sizeof name, "state-%s", device);
    path_in(name, dir);
    snprintf(name, sizeof name, "%s.key", device);
    path_in(name, key);
    snprintf(name, sizeof name, "%s.pass", device);
    path_in(name, pass);
    snprintf(port, sizeof port, "%d", broker.port);
    const char *argv[ARGS_MAX] = {
        agent_bin, "--dir",           dir,          "--key",        key,         "--device",
        device,    "--gateway-key",   gateway_text, "-h",           "127.0.0.1", "-p",
        port,      "--password-file", pass,         "--test-clock", test_clock};
    size_t n = 17;
    for (size_t i = 0; extra[i] && n < ARGS_MAX - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        execv(agent_bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static pid_t agent_spawn(const char *device, const char *const *extra)
{
    return agent_spawn_to(device, extra, "/dev/null");
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int agent(const char *device, const char *const *extra)
{
    return wait_exit(agent_spawn(device, extra));
}

/* fogpayctl online as the operator with the control command and its
 * "--field value" pairs (NULL-terminated); its exit status. */
static int operator_run(const char *const *command)
{
    char port[16], password_file[TEST_BROKER_PATH_MAX];
    snprintf(port, sizeof port, "%d", broker.port);
    path_in("ops.password", password_file);
    write_text(password_file, "ops-pass\n", 0600);
    const char *argv[ARGS_MAX] = {fogpayctl_bin, "-h",  "127.0.0.1",       "-p",         port,
                                  "-u",          "ops", "--password-file", password_file};
    size_t n = 9;
    for (size_t i = 0; command[i] && n < ARGS_MAX - 1; i++) {
        argv[n++] = command[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        execv(fogpayctl_bin, (char *const *)argv);
        _exit(127);
    }
    return wait_exit(pid);
}

/* True once path holds text (up to 15 s). */
static bool wait_for_text(const char *path, const char *text)
{
    for (int i = 0; i < 150; i++) {
        char *s = testutil_read_file(path, NULL);
        bool found = s && strstr(s, text);
        free(s);
        if (found) {
            return true;
        }
        testutil_sleep_ms(100);
    }
    return false;
}

/* What the ledger says of fin's plan now. */
typedef struct plan_state {
    uint8_t status;
    size_t paid; /* instalments of fin's plan paid: the agent's (kind 11) and collected (13) */
    size_t open_arrears;
    size_t all_arrears;
    fogpay_plan_arrears last;
    size_t entered_events;
    size_t cleared_events;
    size_t arrears_status_events;
} plan_state;

static int state_transfers(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    plan_state *s = ctx;
    s->paid += (t->kind == FOGPAY_TRANSFER_COLLECTION || t->kind == FOGPAY_TRANSFER_INSTALMENT) &&
               strcmp(t->plan_id, "fin-loan") == 0;
    return 0;
}

static int state_arrears(void *ctx, const fogpay_plan_arrears *a)
{
    plan_state *s = ctx;
    if (s->all_arrears++ == 0) {
        s->last = *a;
    }
    s->open_arrears += a->cleared_ms == 0;
    return 0;
}

static int state_events(void *ctx, const fogpay_event *e, const uint8_t *hash)
{
    (void)hash;
    plan_state *s = ctx;
    s->entered_events += e->kind == FOGPAY_EVENT_ARREARS_ENTERED;
    s->cleared_events += e->kind == FOGPAY_EVENT_ARREARS_CLEARED;
    s->arrears_status_events +=
        e->kind == FOGPAY_EVENT_STATUS && e->reason == FOGPAY_ERR_PLAN_ARREARS;
    return 0;
}

static plan_state ledger_state(void)
{
    plan_state s;
    memset(&s, 0, sizeof s);
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(l, "fin", &d), FOGPAY_OK);
    s.status = d.status;
    fogpay_transfer_filter f = {.device_id = "fin"};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, state_transfers, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(l, "fin", false, state_arrears, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(l, 0, 0, state_events, &s), FOGPAY_OK);
    fogpay_ledger_close(l);
    return s;
}

/* The wallet runs dry: arrears, suspended (the hook runs), other payments
 * refused; the owner pays in; resumed by itself (the hook runs), paying. */
static void test_shortfall_and_resume(void)
{
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX], script[2 * TEST_BROKER_PATH_MAX];
    path_in("hook.sh", hook);
    path_in("hook.marker", marker);
    snprintf(script, sizeof script, "#!/bin/sh\necho \"$1\" >> %s\n", marker);
    write_text(hook, script, 0700);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_spawn("fin", run);
    bool suspended = wait_for_text(marker, "suspend");
    CU_ASSERT(suspended);
    if (!suspended) {
        test_broker_dump_log(&broker);
    }
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid), 0);

    plan_state s = ledger_state();
    CU_ASSERT_EQUAL(s.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(s.paid, 2);
    CU_ASSERT_EQUAL(s.open_arrears, 1);
    CU_ASSERT_EQUAL(s.last.instalment, 3);
    CU_ASSERT_EQUAL(s.last.reason, FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_STRING_EQUAL(s.last.entity_id, owner);
    CU_ASSERT_EQUAL(s.entered_events, 1);
    CU_ASSERT_EQUAL(s.arrears_status_events, 1);
    /* Other payments are refused (the agent's own refusal, exit 5). */
    const char *pay[] = {"pay", "--to", "other", "--amount", "0.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("fin", pay), 5);

    /* The owner pays in from its account; the tick does the rest. */
    pid = agent_spawn("fin", run);
    testutil_sleep_ms(300);
    const char *pay_in[] = {"pay-device", "--entity", owner,      "--device", "fin",
                            "--currency", "EUR",      "--amount", "20.00",    NULL};
    CU_ASSERT_EQUAL(operator_run(pay_in), 0);
    CU_ASSERT(wait_for_text(marker, "resume"));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid), 0);
    s = ledger_state();
    CU_ASSERT_EQUAL(s.status, FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(s.open_arrears, 0);
    CU_ASSERT_EQUAL(s.all_arrears, 1);
    CU_ASSERT(s.paid >= 3);
    CU_ASSERT_EQUAL(s.cleared_events, 1);
    CU_ASSERT_EQUAL(agent("fin", pay), 0);
}

/* The compressed wall clock of the gateway and the agents, in the test. */
static uint64_t compressed_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t real = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    return test_epoch_ms + (real - test_epoch_ms) * RATE;
}

/* device's reading of meter dc-1, through its agent. */
static void reading(const char *device, const char *quantity)
{
    const char *args[] = {"usage", "--meter", "dc-1", "--quantity", quantity, "--unit", "Wh", NULL};
    CU_ASSERT_EQUAL(agent(device, args), 0);
}

typedef struct collected {
    const char *plan;
    uint64_t amount;
    size_t count;
} collected;

static int collected_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    collected *c = ctx;
    if (t->kind == FOGPAY_TRANSFER_COLLECTION && strcmp(t->plan_id, c->plan) == 0) {
        c->amount = t->amount_minor;
        c->count++;
    }
    return 0;
}

/* The first collection of plan on device (waits up to 15 s): its amount. */
static uint64_t first_collection(const char *device, const char *plan)
{
    collected c = {plan, 0, 0};
    for (int i = 0; i < 150 && c.count == 0; i++) {
        testutil_sleep_ms(100);
        fogpay_ledger *l;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
        fogpay_transfer_filter f = {.device_id = device};
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, collected_visit, &c), FOGPAY_OK);
        fogpay_ledger_close(l);
    }
    CU_ASSERT_EQUAL(c.count, 1);
    return c.amount;
}

/* Usage-dependent interest: use-a and use-b are financed on the same terms
 * (12.00 EUR in 12, a five-minute period, 3/100 cent a Wh of meter dc-1);
 * their agents read 120 Wh and 7470 Wh in the first period; the gateway
 * collects 1.00 + floor(120 * 3 / 100) = 1.03 and 1.00 + floor(7470 * 3 /
 * 100) = 3.24, exactly. */
static void test_usage_dependent_instalments(void)
{
    uint64_t start = compressed_now_ms();
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    const char *devices[2] = {"use-a", "use-b"};
    for (int i = 0; i < 2; i++) {
        fogpay_plan p;
        memset(&p, 0, sizeof p);
        snprintf(p.plan_id, sizeof p.plan_id, "%s-loan", devices[i]);
        snprintf(p.device_id, sizeof p.device_id, "%s", devices[i]);
        snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
        snprintf(p.meter_id, sizeof p.meter_id, "dc-1");
        p.currency = EUR;
        p.principal_minor = 1200;
        p.usage_num = 3;
        p.usage_den = 100;
        p.instalment_count = 12;
        p.period_ms = 5 * PERIOD_MS;
        p.collect = true;
        p.effective_ms = start;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, start), FOGPAY_OK);
    }
    fogpay_ledger_close(l);
    reading("use-a", "1000");
    reading("use-b", "1000");
    reading("use-a", "1120");
    reading("use-b", "8470");
    CU_ASSERT(compressed_now_ms() < start + 5 * PERIOD_MS); /* all in the first period */
    CU_ASSERT_EQUAL(first_collection("use-a", "use-a-loan"), 100 + 120 * 3 / 100);
    CU_ASSERT_EQUAL(first_collection("use-b", "use-b-loan"), 100 + 7470 * 3 / 100);
}

/* Early settlement online: set-a's wallet cannot pay its first
 * instalment, so it is suspended (its hook runs); the operator settles
 * its plan from the owner's account (fogpayctl plan settle --payer
 * entity): one transfer of kind 12 of the whole principal, the plan
 * closed, the arrears cleared and the device resumed by the signed resume
 * the control command sends (its hook runs again). */
static void test_settled_online(void)
{
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX], script[2 * TEST_BROKER_PATH_MAX];
    path_in("settle-hook.sh", hook);
    path_in("settle-hook.marker", marker);
    snprintf(script, sizeof script, "#!/bin/sh\necho \"$1\" >> %s\n", marker);
    write_text(hook, script, 0700);
    uint64_t start = compressed_now_ms();
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "set-loan");
    snprintf(p.device_id, sizeof p.device_id, "set-a");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 1200;
    p.instalment_count = 12;
    p.period_ms = PERIOD_MS;
    p.collect = true;
    p.effective_ms = start;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, start), FOGPAY_OK);
    fogpay_ledger_close(l);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_spawn("set-a", run);
    CU_ASSERT(wait_for_text(marker, "suspend"));
    const char *settle[] = {"plan", "settle", "--plan", "set-loan", "--payer", "entity", NULL};
    CU_ASSERT_EQUAL(operator_run(settle), 0);
    CU_ASSERT(wait_for_text(marker, "resume"));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(l, "set-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    fogpay_plan now;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(l, "set-loan", compressed_now_ms(), &now, NULL),
                    FOGPAY_OK);
    CU_ASSERT_TRUE(now.closed);
    fogpay_plan_statement st;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(l, "set-loan", owner, compressed_now_ms(), &st),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 1);
    CU_ASSERT_EQUAL(st.paid_minor, 1200);
    fogpay_ledger_close(l);
}

/* lim's open arrears and the balances of lim, other and named. */
typedef struct limit_state {
    size_t open_arrears;
    int64_t lim, other, named;
} limit_state;

static int limit_arrears(void *ctx, const fogpay_plan_arrears *a)
{
    ((limit_state *)ctx)->open_arrears += a->cleared_ms == 0;
    return 0;
}

static int64_t wallet_balance(fogpay_ledger *l, const char *device)
{
    uint64_t account = 0;
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(l, device, EUR, &account), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, account, &balance), FOGPAY_OK);
    return balance;
}

static limit_state limit_now(void)
{
    limit_state s;
    memset(&s, 0, sizeof s);
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(l, "lim", true, limit_arrears, &s), FOGPAY_OK);
    s.lim = wallet_balance(l, "lim");
    s.other = wallet_balance(l, "other");
    s.named = wallet_balance(l, "named");
    fogpay_ledger_close(l);
    return s;
}

/* True once lim's open arrears are open (or, open false, none; up to 15 s). */
static bool limit_wait(bool open)
{
    for (int i = 0; i < 150; i++) {
        if ((limit_now().open_arrears > 0) == open) {
            return true;
        }
        testutil_sleep_ms(100);
    }
    return false;
}

/* The shortfall action limit: lim's plan (12.00 EUR in 12, a three-minute
 * period, collected, limited to "named") cannot take its first
 * instalment from 0.50: arrears, the device still active. Its agent pays
 * "other" (refused by the gateway, exit 3, plan_limited, nothing moved)
 * and "named" (settled); the owner pays in 5.00, the tick collects and
 * clears, and "other" is paid. */
static void test_limited_payees(void)
{
    uint64_t start = compressed_now_ms();
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "lim-loan");
    snprintf(p.device_id, sizeof p.device_id, "lim");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 1200;
    p.instalment_count = 12;
    p.period_ms = 3 * PERIOD_MS;
    p.collect = true;
    p.shortfall = FOGPAY_PLAN_SHORTFALL_LIMIT;
    p.payee_count = 1;
    snprintf(p.payees[0], sizeof p.payees[0], "named");
    p.effective_ms = start;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, start), FOGPAY_OK);
    fogpay_ledger_close(l);
    bool entered = limit_wait(true);
    CU_ASSERT_FATAL(entered);
    fogpay_ledger *r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &r), FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(r, "lim", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    fogpay_ledger_close(r);

    limit_state before = limit_now();
    char out[TEST_BROKER_PATH_MAX];
    path_in("lim-pay.out", out);
    const char *to_other[] = {"pay",  "--to",       "other", "--amount",
                              "0.01", "--currency", "EUR",   NULL};
    CU_ASSERT_EQUAL(wait_exit(agent_spawn_to("lim", to_other, out)), 3);
    CU_ASSERT(wait_for_text(out, "plan_limited"));
    limit_state after = limit_now();
    CU_ASSERT_EQUAL(after.lim, before.lim);
    CU_ASSERT_EQUAL(after.other, before.other);
    const char *to_named[] = {"pay",  "--to",       "named", "--amount",
                              "0.02", "--currency", "EUR",   NULL};
    CU_ASSERT_EQUAL(agent("lim", to_named), 0);
    after = limit_now();
    CU_ASSERT_EQUAL(after.named, before.named + 2);
    CU_ASSERT_EQUAL(after.lim, before.lim - 2);

    const char *pay_in[] = {"pay-device", "--entity", owner,      "--device", "lim",
                            "--currency", "EUR",      "--amount", "5.00",     NULL};
    CU_ASSERT_EQUAL(operator_run(pay_in), 0);
    CU_ASSERT(limit_wait(false));
    CU_ASSERT_EQUAL(agent("lim", to_other), 0);
    CU_ASSERT_EQUAL(limit_now().other, before.other + 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_arrears FOGPAY_AGENT FOGPAYCTL\n");
        return 2;
    }
    agent_bin = argv[1];
    fogpayctl_bin = argv[2];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("arrears", suite_init, suite_clean);
    CU_add_test(s, "gateway starts on a compressed clock", test_start);
    CU_add_test(s,
                "financing: the wallet runs dry, suspended (its hook runs), other payments "
                "refused, the owner pays in, resumed by itself",
                test_shortfall_and_resume);
    CU_add_test(s,
                "usage-dependent interest: two devices on the same plan terms, different "
                "metered usage, different and exactly computed instalments",
                test_usage_dependent_instalments);
    CU_add_test(s, "early settlement online: the plan closed, the suspended device resumed",
                test_settled_online);
    CU_add_test(s,
                "shortfall limit: in arrears, the device's payment to an unnamed payee refused "
                "(plan_limited), to the named one settled; the owner pays in, the limit lifts",
                test_limited_payees);
    return testutil_run();
}
