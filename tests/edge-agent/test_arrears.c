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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "broker.h"
#include "ledger.h"
#include "testutil.h"

#define EUR 978
/* How long a hook's marker may take to show. */
#define WAIT_TEXT_MS 15000u

/* The compression: 100 times the real clock, so the plan's 60-second
 * period (the shortest a plan takes) is 0.6 s of the test. */
#define RATE      100u
#define PERIOD_MS 60000ull

static agent_fixture fx;
static char test_clock[64];
static char owner[FOGPAY_ENTITY_ID_MAX + 1];
static char lender[FOGPAY_ENTITY_ID_MAX + 1];
static uint64_t test_epoch_ms; /* the test clock's epoch */

/* The owner's account holds money to pay in with: its shop device pays it. */
static void owner_account_funded(fogpay_ledger *l, uint64_t amount)
{
    agent_fixture_register(&fx, l, "shop", owner, amount);
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

/* plan_id financing device from epoch_ms: 12.00 EUR in 12 instalments of
 * period_ms, collected by the gateway, lent by lender; the rest of the
 * terms (a meter, usage) the caller's to add. */
static fogpay_plan plan_terms(const char *plan_id, const char *device, uint64_t period_ms,
                              uint64_t epoch_ms)
{
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "%s", plan_id);
    snprintf(p.device_id, sizeof p.device_id, "%s", device);
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 1200;
    p.instalment_count = 12;
    p.period_ms = period_ms;
    p.collect = true;
    p.effective_ms = epoch_ms;
    return p;
}

/* "fin" is financed from epoch_ms: 12.00 EUR in 12 instalments of 1.00,
 * one a (compressed) minute, collected by the gateway, suspend on
 * shortfall. Its wallet holds 2.50: two instalments and a half. */
static void provision(uint64_t epoch_ms)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal o = {"Charging Owner Ltd", NULL, NULL};
    fogpay_entity_personal f = {"Device Finance SA", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &o, 1000, owner), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &f, 1000, lender), FOGPAY_OK);
    agent_fixture_register(&fx, l, "fin", owner, 250);
    agent_fixture_register(&fx, l, "other", owner, 1);
    agent_fixture_register(&fx, l, "use-a", owner, 10000);
    agent_fixture_register(&fx, l, "use-b", owner, 10000);
    agent_fixture_register(&fx, l, "set-a", owner, 50);
    agent_fixture_register(&fx, l, "lim", owner, 50);
    agent_fixture_register(&fx, l, "named", owner, 1);
    owner_account_funded(l, 5000);
    fogpay_plan p = plan_terms("fin-loan", "fin", PERIOD_MS, epoch_ms);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, epoch_ms), FOGPAY_OK);
    fogpay_ledger_close(l);
}

static int suite_init(void)
{
    return agent_fixture_init(&fx) ? 0 : 1;
}

static int suite_clean(void)
{
    agent_fixture_cleanup(&fx);
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
    char extra[128];
    snprintf(extra, sizeof extra, "plugin_opt_test_clock %s\n", test_clock);
    agent_fixture_start(&fx, "gw-fin", extra);
}

static int agent(const char *device, const char *const *extra)
{
    return agent_fixture_agent(&fx, device, test_clock, NULL, extra);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
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
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX];
    agent_fixture_hook(&fx, "hook", hook, marker);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "fin", test_clock, NULL, run);
    bool suspended = agent_fixture_wait_text(marker, "suspend", WAIT_TEXT_MS);
    CU_ASSERT(suspended);
    if (!suspended) {
        test_broker_dump_log(&fx.broker);
    }
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);

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
    pid = agent_fixture_spawn(&fx, "fin", test_clock, NULL, run);
    testutil_sleep_ms(300);
    const char *pay_in[] = {"pay-device", "--entity", owner,      "--device", "fin",
                            "--currency", "EUR",      "--amount", "20.00",    NULL};
    CU_ASSERT_EQUAL(agent_fixture_operator(&fx, pay_in, NULL), 0);
    CU_ASSERT(agent_fixture_wait_text(marker, "resume", WAIT_TEXT_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
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
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    const char *devices[2] = {"use-a", "use-b"};
    for (int i = 0; i < 2; i++) {
        char plan_id[FOGPAY_PLAN_ID_MAX + 1];
        snprintf(plan_id, sizeof plan_id, "%s-loan", devices[i]);
        fogpay_plan p = plan_terms(plan_id, devices[i], 5 * PERIOD_MS, start);
        snprintf(p.meter_id, sizeof p.meter_id, "dc-1");
        p.usage_num = 3;
        p.usage_den = 100;
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
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX];
    agent_fixture_hook(&fx, "settle-hook", hook, marker);
    uint64_t start = compressed_now_ms();
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_plan p = plan_terms("set-loan", "set-a", PERIOD_MS, start);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, start), FOGPAY_OK);
    fogpay_ledger_close(l);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "set-a", test_clock, NULL, run);
    CU_ASSERT(agent_fixture_wait_text(marker, "suspend", WAIT_TEXT_MS));
    const char *settle[] = {"plan", "settle", "--plan", "set-loan", "--payer", "entity", NULL};
    CU_ASSERT_EQUAL(agent_fixture_operator(&fx, settle, NULL), 0);
    CU_ASSERT(agent_fixture_wait_text(marker, "resume", WAIT_TEXT_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &r), FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(r, "lim", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    fogpay_ledger_close(r);

    limit_state before = limit_now();
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "lim-pay.out", out);
    const char *to_other[] = {"pay",  "--to",       "other", "--amount",
                              "0.01", "--currency", "EUR",   NULL};
    CU_ASSERT_EQUAL(agent_fixture_agent(&fx, "lim", test_clock, "lim-pay.out", to_other), 3);
    CU_ASSERT(agent_fixture_wait_text(out, "plan_limited", WAIT_TEXT_MS));
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
    CU_ASSERT_EQUAL(agent_fixture_operator(&fx, pay_in, NULL), 0);
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
    fx.agent_bin = argv[1];
    fx.ctl_bin = argv[2];
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
