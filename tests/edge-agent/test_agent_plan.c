/*
 * test_agent_plan.c - the financed device against a real Mosquitto with the
 * real plugin on loopback, gateway and agents on the same compressed clock
 * (plugin_opt_test_clock and --test-clock, a thousand times real time):
 *
 *   - a plan of 12 instalments created online: the agent learns it from
 *     the retained plan notice and pays every instalment itself as it
 *     falls due, in run mode; the ledger holds 12 instalments summing to
 *     principal plus interest exactly, the lender's account has them, and
 *     the agent's balance and plan (nothing left) agree with the ledger;
 *   - offline: the gateway goes away after the first instalment; with no
 *     message the agent puts the device out of action when its paid-up-to
 *     time passes (its hook runs "suspend", other payments are refused with
 *     plan_lapsed, nothing signed); the gateway back, it pays what fell
 *     due and resumes by itself (the hook runs "resume");
 *   - refusals, each moving no money: an instalment of a plan closed
 *     meanwhile (plan_closed at the gateway; the closing, made offline,
 *     reaches the device from the gateway's notices sent again at start), an instalment of another
 *     device's plan (plan_device), a forged receipt and a forged plan
 *     notice carrying a later paid-up-to time, and a genuine receipt
 *     replayed (ignored: the paid-up-to time stays);
 *   - usage-dependent: the device's readings of the plan's meter raise its
 *     first instalment; paid at the notice's amount it is refused
 *     (instalment_amount), the gateway's fresh notice names the amount due
 *     and the device pays exactly that;
 *   - the clock rules: a clock set back does not bring a lapsed device
 *     back; a clock far forward puts it out of action at once, and the
 *     gateway's signed time in the next receipt sets it right.
 *
 * argv[1] is fogpay-agent, argv[2] fogpayctl; FOGPAY_PLUGIN the plugin.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_internal.h"
#include "agent_fixture.h"
#include "broker.h"
#include "fogpay_clock.h"
#include "fogpay_cose.h"
#include "ledger.h"
#include "testutil.h"

#define EUR      978
#define ARGS_MAX 48
#define RATE     1000u
/* Compressed: 20 minutes a period is 1.2 s of real time. */
#define PERIOD_MS    1200000ull
#define PERIOD_TEXT  "1200000"
#define PRINCIPAL    120000u
#define WAIT_REAL_MS 60000u

static agent_fixture fx;
static char lender[FOGPAY_ENTITY_ID_MAX + 1];
static uint64_t epoch_ms;
static char clock_text[48];

static const char *const devices[] = {"fin-a", "fin-b", "fin-c", "fin-d",
                                      "fin-e", "fin-f", "fin-g", "fin-h"};

static int suite_init(void)
{
    /* The test's own clock is the agents' and the gateway's. */
    epoch_ms = fogpay_clock_wall_ms() - 1;
    fogpay_clock_set_test(RATE, epoch_ms);
    snprintf(clock_text, sizeof clock_text, "%u@%" PRIu64, RATE, epoch_ms);
    return agent_fixture_init(&fx) ? 0 : 1;
}

static int suite_clean(void)
{
    agent_fixture_cleanup(&fx);
    return 0;
}

static void test_start(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal owner = {"Charging Site Ltd", NULL, NULL};
    fogpay_entity_personal bank = {"Charger Finance AG", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &owner, 1000, entity), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &bank, 1000, lender), FOGPAY_OK);
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        agent_fixture_register(&fx, l, devices[i], entity, 200000);
    }
    fogpay_ledger_close(l);
    char extra[96];
    snprintf(extra, sizeof extra, "plugin_opt_test_clock %s\n", clock_text);
    agent_fixture_start(&fx, "gw-fin", extra);
}

/* ---- the agent and the operator -------------------------------------------- */

/* fogpay-agent for device run to its end on the test clock clock (agent:
 * the common one), its output appended to agent.log; its exit status. */
static int agent_at(const char *device, const char *clock, const char *const *extra)
{
    return agent_fixture_agent(&fx, device, clock, "agent.log", extra);
}

static int agent(const char *device, const char *const *extra)
{
    return agent_at(device, clock_text, extra);
}

static long long status_value(const char *device, const char *key)
{
    return agent_fixture_status(&fx, device, clock_text, key);
}

/* A plan of 1200.00 EUR at 950 bp in 12 instalments of period_ms for
 * device, with grace_ms of grace (and more, NULL-terminated), created
 * online. */
static void plan_create_with(const char *plan, const char *device, const char *period_ms,
                             const char *grace_ms, const char *const *more)
{
    const char *args[ARGS_MAX] = {"plan",
                                  "create",
                                  "--plan",
                                  plan,
                                  "--device",
                                  device,
                                  "--lender",
                                  lender,
                                  "--currency",
                                  "EUR",
                                  "--principal",
                                  "1200.00",
                                  "--rate-basis-points",
                                  "950",
                                  "--instalments",
                                  "12",
                                  "--period-ms",
                                  period_ms,
                                  "--grace-ms",
                                  grace_ms,
                                  NULL};
    size_t n = 20;
    for (size_t i = 0; more && more[i] && n < ARGS_MAX - 1; i++) {
        args[n++] = more[i];
    }
    args[n] = NULL;
    CU_ASSERT_EQUAL_FATAL(agent_fixture_operator_logged(&fx, args), 0);
}

static void plan_create_every(const char *plan, const char *device, const char *period_ms,
                              const char *grace_ms)
{
    plan_create_with(plan, device, period_ms, grace_ms, NULL);
}

static void plan_create(const char *plan, const char *device, const char *grace_ms)
{
    plan_create_every(plan, device, PERIOD_TEXT, grace_ms);
}

/* ---- the ledger ------------------------------------------------------------ */

typedef struct instalments {
    const char *plan;
    uint32_t count;
    uint64_t sum_minor;
    uint32_t numbers[16];
} instalments;

static int instalments_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    instalments *in = ctx;
    if (t->kind == FOGPAY_TRANSFER_INSTALMENT && strcmp(t->plan_id, in->plan) == 0) {
        if (in->count < 16) {
            in->numbers[in->count] = t->instalment;
        }
        in->count++;
        in->sum_minor += t->amount_minor;
    }
    return 0;
}

static instalments ledger_instalments(const char *device, const char *plan)
{
    instalments in = {.plan = plan};
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_transfer_filter f = {.device_id = device, .limit = 1000};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, instalments_visit, &in), FOGPAY_OK);
    fogpay_ledger_close(l);
    return in;
}

/* Waits until device paid count instalments of plan. */
static bool wait_instalments(const char *device, const char *plan, uint32_t count)
{
    uint64_t until = testutil_now_ms() + WAIT_REAL_MS;
    while (testutil_now_ms() < until) {
        if (ledger_instalments(device, plan).count >= count) {
            return true;
        }
        testutil_sleep_ms(100);
    }
    return false;
}

static int64_t ledger_balance(const char *device)
{
    return agent_fixture_balance(&fx, device, lender);
}

static uint64_t lender_account(void)
{
    fogpay_ledger *l;
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(l, lender, EUR, &account), FOGPAY_OK);
    fogpay_ledger_close(l);
    return account;
}

static fogpay_plan ledger_plan(const char *plan)
{
    fogpay_ledger *l;
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(l, plan, fogpay_clock_wall_ms(), &p, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
    return p;
}

/* ---- the tests -------------------------------------------------------------- */

/* All 12 paid by the device itself as they fall due; ledger and agent
 * agree; the sum is principal plus interest exactly. */
static void test_twelve_instalments(void)
{
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX];
    agent_fixture_hook(&fx, "hook-fin-a", hook, marker);
    plan_create("fin-a-loan", "fin-a", PERIOD_TEXT);
    int64_t lender_before = ledger_balance(NULL);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "fin-a", clock_text, "fin-a.log", run);
    CU_ASSERT(wait_instalments("fin-a", "fin-a-loan", 12));
    testutil_sleep_ms(500); /* the last notice */
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    instalments in = ledger_instalments("fin-a", "fin-a-loan");
    CU_ASSERT_EQUAL(in.count, 12);
    fogpay_plan p = ledger_plan("fin-a-loan");
    uint64_t interest = 0;
    CU_ASSERT_EQUAL(fogpay_plan_interest(&p, &interest), FOGPAY_OK);
    /* floor(120000 * 950 * 12 * 1200000 / (10000 * 365 days)): 4 hours of
     * a loan at 9.5 % is 0.05 EUR. */
    CU_ASSERT_EQUAL(interest, 5);
    CU_ASSERT_EQUAL(in.sum_minor, PRINCIPAL + interest);
    for (uint32_t i = 0; i < 12 && i < in.count; i++) {
        CU_ASSERT_EQUAL(in.numbers[i], i + 1);
    }
    CU_ASSERT_EQUAL(ledger_balance(NULL) - lender_before, (int64_t)(PRINCIPAL + interest));
    CU_ASSERT_EQUAL(ledger_balance("fin-a"), 200000 - (int64_t)(PRINCIPAL + interest));
    CU_ASSERT_EQUAL(status_value("fin-a", "balance EUR "), ledger_balance("fin-a"));
    CU_ASSERT_EQUAL(status_value("fin-a", "plan_left "), 0);
    CU_ASSERT_EQUAL(status_value("fin-a", "plan_next_instalment "), 0);
    CU_ASSERT_EQUAL(status_value("fin-a", "plan_lapsed no"), 0);
    char *hooks = testutil_read_file(marker, NULL);
    CU_ASSERT_PTR_NULL(hooks); /* never out of action */
    free(hooks);
    /* Paid off: nothing more to pay, by hand either. */
    const char *again[] = {"pay-instalment", NULL};
    CU_ASSERT_EQUAL(agent("fin-a", again), 5);
}

/* Offline past the paid-up-to time: out of action with no message; back
 * and paid: resumed. */
static void test_offline_lapse(void)
{
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX];
    agent_fixture_hook(&fx, "hook-fin-b", hook, marker);
    plan_create("fin-b-loan", "fin-b", "600000");
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "fin-b", clock_text, "fin-b.log", run);
    CU_ASSERT_FATAL(wait_instalments("fin-b", "fin-b-loan", 1));
    test_broker_stop(&fx.broker);
    /* No gateway: paid up to the second instalment's grace end, 1.8 s of
     * real time away. */
    CU_ASSERT(agent_fixture_wait_text(marker, "suspend", WAIT_REAL_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    CU_ASSERT_EQUAL(status_value("fin-b", "plan_lapsed yes"), 0);
    long long next = status_value("fin-b", "next_seq ");
    const char *pay[] = {"pay", "--to", "fin-a", "--amount", "0.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("fin-b", pay), 5); /* plan_lapsed, on the device */
    CU_ASSERT_EQUAL(status_value("fin-b", "next_seq "), next);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    pid = agent_fixture_spawn(&fx, "fin-b", clock_text, "fin-b.log", run);
    CU_ASSERT(agent_fixture_wait_text(marker, "resume", WAIT_REAL_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    CU_ASSERT(ledger_instalments("fin-b", "fin-b-loan").count >= 2);
    CU_ASSERT_EQUAL(status_value("fin-b", "plan_lapsed no"), 0);
    CU_ASSERT_EQUAL(status_value("fin-b", "pending "), 0);
}

/* Plans defined offline for fin-h, more than one batch of the gateway's
 * notices at start. */
#define OFFLINE_PLANS 20

static void plans_offline(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    for (int i = 0; i < OFFLINE_PLANS; i++) {
        fogpay_plan p;
        memset(&p, 0, sizeof p);
        snprintf(p.plan_id, sizeof p.plan_id, "fin-h-%02d", i);
        snprintf(p.device_id, sizeof p.device_id, "fin-h");
        snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
        p.currency = EUR;
        p.principal_minor = PRINCIPAL;
        p.instalment_count = 12;
        p.period_ms = PERIOD_MS;
        p.effective_ms = fogpay_clock_wall_ms();
        CU_ASSERT_EQUAL(fogpay_ledger_plan_define(l, &p, p.effective_ms), FOGPAY_OK);
    }
    fogpay_ledger_close(l);
}

/* Waits until the gateway numbered count commands of device. */
static bool wait_commands(const char *device, uint64_t count)
{
    uint64_t until = testutil_now_ms() + WAIT_REAL_MS;
    while (testutil_now_ms() < until) {
        fogpay_ledger *l;
        fogpay_device d;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
        bool done =
            fogpay_ledger_device_get(l, device, &d) == FOGPAY_OK && d.last_command_seq >= count;
        fogpay_ledger_close(l);
        if (done) {
            return true;
        }
        testutil_sleep_ms(100);
    }
    return false;
}

/* An instalment of a plan closed while the device was away: refused by
 * the gateway, no money moved. */
static void test_closed_plan(void)
{
    plan_create("fin-c-loan", "fin-c", PERIOD_TEXT);
    const char *run[] = {"run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent("fin-c", run), 0); /* learns its plan */
    CU_ASSERT_EQUAL(status_value("fin-c", "plan_next_instalment "), 1);
    test_broker_stop(&fx.broker);
    const char *pay[] = {"--timeout", "300", "pay-instalment", NULL};
    CU_ASSERT_EQUAL(agent("fin-c", pay), 4); /* journaled, no gateway */
    char at[24];
    snprintf(at, sizeof at, "%" PRIu64, fogpay_clock_wall_ms()); /* the gateway's clock */
    const char *close[] = {fx.ctl_bin, "--db",       fx.db_path,    "plan", "close",
                           "--plan",   "fin-c-loan", "--effective", at,     NULL};
    char log[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "fogpayctl.log", log);
    CU_ASSERT_EQUAL(testutil_command_logged(close, log), 0);
    plans_offline();
    int64_t device = ledger_balance("fin-c"), lent = ledger_balance(NULL);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "fin-c.out", out);
    CU_ASSERT_EQUAL(
        testutil_wait_exit(agent_fixture_spawn(&fx, "fin-c", clock_text, "fin-c.out", run)), 0);
    char *text = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text ? text : "", "rejected: plan_closed"));
    free(text);
    CU_ASSERT_EQUAL(ledger_balance("fin-c"), device);
    CU_ASSERT_EQUAL(ledger_balance(NULL), lent);
    CU_ASSERT_EQUAL(ledger_instalments("fin-c", "fin-c-loan").count, 0);
    CU_ASSERT_EQUAL(status_value("fin-c", "pending "), 0);
    /* The gateway announced its plans again at start: the closing made
     * offline reached the device as a notice with nothing left. */
    CU_ASSERT_EQUAL(status_value("fin-c", "plan_left "), 0);
    CU_ASSERT_EQUAL(status_value("fin-c", "plan_lapsed no"), 0);
    /* fin-h's 20 plans, defined offline, each announced (two batches). */
    CU_ASSERT(wait_commands("fin-h", OFFLINE_PLANS));
}

/* The agent of device in this process, on its state dir. */
static fogpay_agent *agent_open_here(const char *device)
{
    char dir[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], name[64];
    snprintf(name, sizeof name, "state-%s", device);
    agent_fixture_path(&fx, name, dir);
    snprintf(name, sizeof name, "%s.key", device);
    agent_fixture_path(&fx, name, key);
    fogpay_agent_config c = {.state_dir = dir,
                             .key_path = key,
                             .device_id = device,
                             .gateway_key = fx.gateway_text,
                             .host = "127.0.0.1",
                             .port = fx.broker.port,
                             .password = device,
                             .timeout_ms = 3000};
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL(fogpay_agent_open(&c, &a), FOGPAY_OK);
    return a;
}

/* fin-d names fin-e's plan in its instalment: refused (plan_device), no
 * money moved. */
static void test_another_devices_plan(void)
{
    plan_create("fin-e-loan", "fin-e", "600000");
    fogpay_plan p = ledger_plan("fin-e-loan");
    fogpay_instalment due;
    CU_ASSERT_EQUAL_FATAL(fogpay_plan_instalment(&p, 1, 0, &due), FOGPAY_OK);
    fogpay_agent *a = agent_open_here("fin-d");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(fogpay_agent_connect(a), FOGPAY_OK);
    agent_plan forged = a->plan;
    snprintf(forged.plan_id, sizeof forged.plan_id, "fin-e-loan");
    forged.lender_account = lender_account();
    forged.amount_minor = due.amount_minor;
    forged.currency = EUR;
    forged.instalment = 1;
    forged.left = 12;
    a->plan = forged;
    int64_t payer = ledger_balance("fin-d"), lent = ledger_balance(NULL);
    fogpay_agent_outcome out;
    CU_ASSERT_EQUAL(fogpay_agent_pay_instalment(a, &out), FOGPAY_OK);
    CU_ASSERT_EQUAL(out.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(out.reason, FOGPAY_ERR_PLAN_DEVICE);
    fogpay_agent_close(a);
    CU_ASSERT_EQUAL(ledger_balance("fin-d"), payer);
    CU_ASSERT_EQUAL(ledger_balance(NULL), lent);
}

/* The signed bytes of payload (len) with key. */
static size_t sign_with(const fogpay_key *key, const uint8_t *payload, size_t len, uint8_t *out)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    size_t n = 0;
    CU_ASSERT_EQUAL(fogpay_key_id(key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, len, NULL, 0, out,
                                           FOGPAY_MESSAGE_MAX, &n),
                    FOGPAY_OK);
    return n;
}

/* fogpay_agent_receipt_handle(a, msg, len) with the agent's log (stderr)
 * in the file log_name of the broker dir. */
static fogpay_error receipt_logged(fogpay_agent *a, const uint8_t *msg, size_t len,
                                   const char *log_name)
{
    char path[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, log_name, path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
    fogpay_error err = fogpay_agent_receipt_handle(a, msg, len);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    return err;
}

/* A forged receipt and notice naming a paid-up-to time a year on, and a
 * genuine receipt replayed: none counts, nothing moves. fin-e pays its
 * first instalment first, so a receipt of it exists. */
static void test_forged_paid_up_to(void)
{
    const char *pay[] = {"pay-instalment", NULL};
    CU_ASSERT_EQUAL(agent("fin-e", pay), 0);
    long long paid_up_to = status_value("fin-e", "plan_paid_up_to_ms ");
    /* The ledger's figure, signed in the receipt (in seconds): one
     * instalment paid, so up to the second's due time plus its grace. */
    fogpay_plan p = ledger_plan("fin-e-loan");
    CU_ASSERT_EQUAL(paid_up_to,
                    (long long)((p.effective_ms + 2 * PERIOD_MS + 600000) / 1000 * 1000));
    int64_t balance = ledger_balance("fin-e"), lent = ledger_balance(NULL);
    fogpay_agent *a = agent_open_here("fin-e");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    fogpay_key *forger = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &forger), FOGPAY_OK);
    uint64_t year_s = (uint64_t)paid_up_to / 1000 + 365ull * 86400;
    fogpay_receipt r;
    memset(&r, 0, sizeof r);
    strcpy(r.device_id, "fin-e");
    r.seq = fogpay_journal_next_seq(a->journal) - 1;
    r.kind = FOGPAY_RECEIPT_INTENT;
    r.status = FOGPAY_STATUS_SETTLED;
    r.transfer_id = r.position = 999;
    memset(r.chain_hash, 0x5a, sizeof r.chain_hash);
    r.has_balance = true;
    r.balance_after_minor = 1;
    r.currency = EUR;
    strcpy(r.gateway_id, "gw-fin");
    r.time_s = fogpay_clock_wall_ms() / 1000;
    memset(r.intent_hash, 0x11, sizeof r.intent_hash);
    strcpy(r.plan_id, "fin-e-loan");
    r.paid_up_to_s = year_s;
    r.plan_left = 1;
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_receipt_encode(&r, payload, sizeof payload, &len), FOGPAY_OK);
    size_t n = sign_with(forger, payload, len, msg);
    CU_ASSERT_EQUAL(receipt_logged(a, msg, n, "forged.log"), FOGPAY_ERR_BAD_SIGNATURE);
    char log[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "forged.log", log);
    char *said = testutil_read_file(log, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(said ? said : "", "bad_signature; nothing in it counts"));
    free(said);
    /* Signed by the gateway's key but answering nothing pending: a replay. */
    n = sign_with(fx.gateway_key, payload, len, msg);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_NOT_FOUND);
    fogpay_command c;
    memset(&c, 0, sizeof c);
    strcpy(c.device_id, "fin-e");
    c.command_seq = 1000000;
    c.kind = FOGPAY_COMMAND_PLAN;
    c.issued_s = r.time_s;
    strcpy(c.gateway_id, "gw-fin");
    strcpy(c.plan_id, "fin-e-loan");
    c.paid_up_to_s = year_s;
    CU_ASSERT_EQUAL_FATAL(fogpay_command_encode(&c, payload, sizeof payload, &len), FOGPAY_OK);
    n = sign_with(forger, payload, len, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_ERR_BAD_SIGNATURE);
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.plan_paid_up_to_ms, (uint64_t)paid_up_to);
    CU_ASSERT_EQUAL(s.plan_left, 11);
    fogpay_agent_close(a);
    fogpay_key_free(forger);
    CU_ASSERT_EQUAL(status_value("fin-e", "plan_paid_up_to_ms "), paid_up_to);
    CU_ASSERT_EQUAL(ledger_balance("fin-e"), balance);
    CU_ASSERT_EQUAL(ledger_balance(NULL), lent);
}

/* fin-g's plan charges 3/100 cents a unit of meter m1 besides: its
 * readings of 1000 and 5000 units in the first period make the first
 * instalment 120 cents more than the notice sent at creation says. */
static void test_usage_instalment(void)
{
    const char *usage_price[] = {"--usage-price", "3/100", "--meter", "m1", NULL};
    plan_create_with("fin-g-loan", "fin-g", "3600000", "3600000", usage_price);
    const char *first[] = {"usage", "--meter", "m1", "--quantity", "1000", "--unit", "kWh", NULL};
    const char *second[] = {"usage", "--meter", "m1", "--quantity", "5000", "--unit", "kWh", NULL};
    CU_ASSERT_EQUAL(agent("fin-g", first), 0);
    CU_ASSERT_EQUAL(agent("fin-g", second), 0);
    fogpay_plan p = ledger_plan("fin-g-loan");
    fogpay_instalment fixed;
    CU_ASSERT_EQUAL_FATAL(fogpay_plan_instalment(&p, 1, 0, &fixed), FOGPAY_OK);
    /* The notice at creation: the fixed part only. */
    CU_ASSERT_EQUAL(status_value("fin-g", "plan_amount "), (long long)fixed.amount_minor);
    const char *run[] = {"run", NULL};
    char log[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "fin-g.log", log);
    pid_t pid = agent_fixture_spawn(&fx, "fin-g", clock_text, "fin-g.log", run);
    CU_ASSERT(wait_instalments("fin-g", "fin-g-loan", 1));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    instalments in = ledger_instalments("fin-g", "fin-g-loan");
    CU_ASSERT_EQUAL(in.count, 1);
    CU_ASSERT_EQUAL(in.sum_minor, fixed.amount_minor + 4000 * 3 / 100);
    char *text = testutil_read_file(log, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text ? text : "", "rejected: instalment_amount"));
    free(text);
}

/* A --test-clock whose wall clock reads shift_ms later (earlier when
 * negative) than the common one: epoch' = epoch - shift / (RATE - 1). */
static void clock_shifted(int64_t shift_ms, char *out, size_t cap)
{
    int64_t epoch = (int64_t)epoch_ms - shift_ms / (int64_t)(RATE - 1);
    snprintf(out, cap, "%u@%lld", RATE, (long long)epoch);
}

/* fin-e (paid up to the second instalment's grace end) lapses when that
 * time passes; a clock set back an hour, even across a restart, does not
 * bring it back. */
static void test_clock_set_back(void)
{
    long long paid_up_to = status_value("fin-e", "plan_paid_up_to_ms ");
    while ((long long)fogpay_clock_wall_ms() < paid_up_to + 1000) {
        testutil_sleep_ms(100);
    }
    CU_ASSERT_EQUAL(status_value("fin-e", "plan_lapsed yes"), 0);
    char back[48];
    clock_shifted(-3600000, back, sizeof back);
    while (fogpay_clock_wall_ms() < epoch_ms + 3700 * RATE) {
        testutil_sleep_ms(100); /* the set-back epoch must be in the past */
    }
    CU_ASSERT_EQUAL(agent_fixture_status(&fx, "fin-e", back, "plan_lapsed yes"), 0);
    CU_ASSERT(agent_fixture_status(&fx, "fin-e", back, "plan_clock_ms ") >= paid_up_to);
    const char *pay[] = {"pay", "--to", "fin-a", "--amount", "0.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent_at("fin-e", back, pay), 5);
}

/* fin-f, paid up, started with a clock 30 days on: out of action at once;
 * the gateway's signed time in the receipt of its next message sets the
 * clock right and it resumes. */
static void test_clock_far_forward(void)
{
    plan_create_every("fin-f-loan", "fin-f", "3600000", "3600000"); /* 3.6 s real a period */
    const char *pay[] = {"pay-instalment", NULL};
    CU_ASSERT_EQUAL(agent("fin-f", pay), 0);
    CU_ASSERT_EQUAL(status_value("fin-f", "plan_lapsed no"), 0);
    char ahead[48];
    clock_shifted(30ll * 86400000, ahead, sizeof ahead);
    CU_ASSERT_EQUAL(agent_fixture_status(&fx, "fin-f", ahead, "plan_lapsed yes"), 0);
    /* The next instalment, signed on the clock ahead: the gateway refuses
     * it as not yet valid, and its receipt carries the gateway's time. */
    CU_ASSERT_EQUAL(agent_at("fin-f", ahead, pay), 3);
    CU_ASSERT_EQUAL(agent_fixture_status(&fx, "fin-f", ahead, "plan_lapsed no"), 0);
    long long clock = agent_fixture_status(&fx, "fin-f", ahead, "plan_clock_ms ");
    CU_ASSERT(clock < (long long)fogpay_clock_wall_ms() + 600000);
    CU_ASSERT_EQUAL(agent_at("fin-f", ahead, pay), 0);
    CU_ASSERT_EQUAL(ledger_instalments("fin-f", "fin-f-loan").count, 2);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_agent_plan FOGPAY_AGENT FOGPAYCTL\n");
        return 2;
    }
    fx.agent_bin = argv[1];
    fx.ctl_bin = argv[2];
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("agent_plan", suite_init, suite_clean);
    CU_add_test(s, "gateway with a compressed clock", test_start);
    CU_add_test(s, "12 instalments paid by the device, summing exactly", test_twelve_instalments);
    CU_add_test(s, "offline: out of action when paid-up-to passes, back when paid",
                test_offline_lapse);
    CU_add_test(s, "refused: an instalment of a closed plan", test_closed_plan);
    CU_add_test(s, "refused: an instalment of another device's plan", test_another_devices_plan);
    CU_add_test(s, "ignored: forged and replayed paid-up-to times", test_forged_paid_up_to);
    CU_add_test(s, "usage-dependent: the amount due now, from a fresh notice",
                test_usage_instalment);
    CU_add_test(s, "clock set back: still out of action", test_clock_set_back);
    CU_add_test(s, "clock far forward: out of action until the gateway's time",
                test_clock_far_forward);
    return testutil_run();
}
