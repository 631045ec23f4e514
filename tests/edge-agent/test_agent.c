/*
 * test_agent.c - the edge agent against a real Mosquitto with the real
 * plugin on loopback: two devices paying each other through the CLI with
 * balances that agree with the gateway's; SIGKILL at random points of a
 * burst, then every journaled intent settled exactly once; payments queued
 * while the broker is down settling in order when it returns; forged,
 * foreign and replayed receipts and forged commands changing nothing; an
 * operator's suspend reaching an offline device, running its hook, and
 * stopping payments until resume. Pay-per-use: the operator's tariffs
 * defined online, agents binding their meters and sending a reading a
 * "minute", each settled at once as a usage charge; the charges sum to
 * floor(total * price) exactly, the balances follow, and every refusal (an
 * unknown or not yet effective tariff, a tariff paying the binder itself, a
 * reading backwards, repeated, implausible, in another unit, unpaid, a
 * charge over the largest amount) has its reason and moves no money.
 * The EV charging session (README "An EV charging session, end to end"),
 * twice: a car's hold of 30.00, its meter read a "minute" apart, the
 * charger capturing what the readings cost at 0.3917 EUR per kWh (summed
 * by the test), 3% of it to the platform's entity account by a fee
 * schedule, the rest back to the car; and a hold left to time out, given
 * back whole by the broker's tick. And paid from the hold: the car's
 * meter bound to the charger's tariff and the hold, each reading charged
 * from the hold at once (3% to the platform), the rest released when the
 * charger captures its connection fee. Balances and verify agree, and
 * every currency sums to zero.
 *
 * argv[1] is the fogpay-agent program, argv[2] fogpayctl; FOGPAY_PLUGIN the
 * plugin. The ledger is provisioned through the ledger API before the
 * broker starts and read through it (a second connection, as WAL allows).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_internal.h"
#include "agent_fixture.h"
#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "ledger.h"
#include "testutil.h"

#include <sqlite3.h>

#define EUR         978
#define KILL_ROUNDS 6
/* How long a line may take to show in an agent's output or a hook's marker. */
#define WAIT_TEXT_MS 10000u

static agent_fixture fx;
static char platform_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* takes a fee of the EV session */

static int suite_init(void)
{
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
    fogpay_entity_personal p = {"Example Charging Ltd", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity), FOGPAY_OK);
    agent_fixture_register(&fx, l, "dev-a", entity, 100000);
    agent_fixture_register(&fx, l, "dev-b", entity, 1000);
    agent_fixture_register(&fx, l, "dev-r", entity, 100000);
    /* Pay-per-use: car charges at charger; poor holds 0.10; big is for a
     * charge over the largest amount. */
    agent_fixture_register(&fx, l, "car", entity, 5000);
    agent_fixture_register(&fx, l, "charger", entity, 1);
    agent_fixture_register(&fx, l, "poor", entity, 10);
    agent_fixture_register(&fx, l, "big", entity, 100);
    /* The EV charging session: ev-car holds 50.00, ev-charger's takings
     * pay the platform's fee. */
    agent_fixture_register(&fx, l, "ev-car", entity, 5000);
    agent_fixture_register(&fx, l, "ev-charger", entity, 1);
    fogpay_entity_personal platform = {"Platform Operator SE", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &platform, 1000, platform_entity),
                          FOGPAY_OK);
    fogpay_ledger_close(l);
    agent_fixture_start(&fx, "gw-test", NULL);
}

/* ---- running the agent ---------------------------------------------------- */

/* fogpay-agent for device run to its end (agent_fixture_spawn's out_name
 * and extra); its exit status. */
static int agent(const char *device, const char *out_name, const char *const *extra)
{
    return agent_fixture_agent(&fx, device, NULL, out_name, extra);
}

static long long status_value(const char *device, const char *key)
{
    return agent_fixture_status(&fx, device, NULL, key);
}

/* The EUR balance of device's wallet in the gateway's ledger. */
static int64_t gateway_balance(const char *device)
{
    return agent_fixture_balance(&fx, device, NULL);
}

/* Settled payments of device with seq >= from: seqs in chain order. */
typedef struct paid {
    uint64_t seqs[4096];
    size_t count;
    const char *device;
    uint64_t from;
    uint64_t last_position;
    size_t visited;
} paid;

static int paid_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    paid *p = ctx;
    p->visited++;
    p->last_position = t->position;
    if (t->kind == FOGPAY_TRANSFER_PAYMENT && strcmp(t->device_id, p->device) == 0 &&
        t->seq >= p->from && p->count < 4096) {
        p->seqs[p->count++] = t->seq;
    }
    return 0;
}

static void ledger_paid(paid *p, const char *device, uint64_t from)
{
    memset(p, 0, sizeof *p);
    p->device = device;
    p->from = from;
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_transfer_filter f = {.device_id = device, .limit = 1000};
    for (int page = 0; page < 64; page++) {
        p->visited = 0;
        f.after_position = p->last_position;
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, paid_visit, p), FOGPAY_OK);
        if (p->visited < 1000) {
            break;
        }
    }
    fogpay_ledger_close(l);
}

/* ---- the tests ------------------------------------------------------------ */

static void test_two_devices_pay_each_other(void)
{
    const char *a_pays[] = {"pay",        "--to", "dev-b", "--amount", "1.50",
                            "--currency", "EUR",  "--ref", "coffee",   NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, a_pays), 0);
    const char *b_pays[] = {"--mqtt",   "3",    "pay",        "--to", "dev-a",
                            "--amount", "0.25", "--currency", "EUR",  NULL};
    CU_ASSERT_EQUAL(agent("dev-b", NULL, b_pays), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 0);
    CU_ASSERT_EQUAL(status_value("dev-b", "pending "), 0);
    /* B paid last: its view is the gateway's. A's view is from its own
     * receipt, before B's 0.25 reached it. */
    CU_ASSERT_EQUAL(status_value("dev-b", "balance EUR "), gateway_balance("dev-b"));
    CU_ASSERT_EQUAL(status_value("dev-b", "balance EUR "), 1000 + 150 - 25);
    CU_ASSERT_EQUAL(status_value("dev-a", "balance EUR ") + 25, gateway_balance("dev-a"));
    /* A pays again: now A agrees with the gateway too. */
    const char *again[] = {"pay", "--to", "dev-b", "--amount", "0.10", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, again), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "balance EUR "), gateway_balance("dev-a"));
    /* Refused before anything is signed: the sequence does not move. */
    long long next = status_value("dev-a", "next_seq ");
    const char *bad_amount[] = {"pay",   "--to",       "dev-b", "--amount",
                                "1.234", "--currency", "EUR",   NULL};
    const char *bad_currency[] = {"pay", "--to",       "dev-b", "--amount",
                                  "1",   "--currency", "XXX",   NULL};
    const char *bad_ref[] = {"pay",      "--to",  "dev-b",
                             "--amount", "1",     "--currency",
                             "EUR",      "--ref", "a-reference-longer-than-thirty-two-bytes",
                             NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, bad_amount), 2);
    CU_ASSERT_EQUAL(agent("dev-a", NULL, bad_currency), 2);
    CU_ASSERT_EQUAL(agent("dev-a", NULL, bad_ref), 2);
    CU_ASSERT_EQUAL(status_value("dev-a", "next_seq "), next);
    /* A rejection: more than B holds. Exit 3, and the message is answered. */
    const char *too_much[] = {"pay", "--to", "dev-a", "--amount", "500", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-b", NULL, too_much), 3);
    CU_ASSERT_EQUAL(status_value("dev-b", "pending "), 0);
    /* A usage reading is journaled and stored. */
    const char *usage[] = {"usage", "--meter", "m1", "--quantity", "42", "--unit", "kWh", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, usage), 0);
}

/* The hold id in an authorise's output ("held seq N hold ID ..."). */
static uint64_t held_hold_id(const char *out_name)
{
    char path[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, out_name, path);
    char *text = testutil_read_file(path, NULL);
    const char *at = text ? strstr(text, " hold ") : NULL;
    uint64_t id = at ? strtoull(at + 6, NULL, 10) : 0;
    free(text);
    return id;
}

static bool ledger_verifies(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_error err = fogpay_ledger_verify(l, NULL, NULL, NULL, 0);
    fogpay_ledger_close(l);
    return err == FOGPAY_OK;
}

/* A charging session between two real agents: the car authorises 30.00,
 * the charger captures what was used, the rest goes back; a second
 * capture or a void after it is refused; a second hold is voided by the
 * car. status shows available and held apart. */
static void test_charging_session(void)
{
    int64_t car_before = gateway_balance("dev-a"), charger_before = gateway_balance("dev-b");
    const char *authorise[] = {"authorise",  "--to", "dev-b",    "--amount", "30.00",
                               "--currency", "EUR",  "--hold-s", "600",      NULL};
    CU_ASSERT_EQUAL(agent("dev-a", "authorise.out", authorise), 0);
    uint64_t id = held_hold_id("authorise.out");
    CU_ASSERT_FATAL(id != 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "held EUR "), 3000);
    CU_ASSERT_EQUAL(status_value("dev-a", "balance EUR "), car_before - 3000);
    CU_ASSERT_EQUAL(gateway_balance("dev-a"), car_before - 3000);

    char hold[24];
    snprintf(hold, sizeof hold, "%llu", (unsigned long long)id);
    const char *capture[] = {"capture", "--hold",     hold,  "--amount",
                             "12.40",   "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-b", NULL, capture), 0);
    CU_ASSERT_EQUAL(gateway_balance("dev-a"), car_before - 1240);
    CU_ASSERT_EQUAL(gateway_balance("dev-b"), charger_before + 1240);
    CU_ASSERT_EQUAL(status_value("dev-b", "balance EUR "), gateway_balance("dev-b"));
    CU_ASSERT_EQUAL(agent("dev-b", NULL, capture), 3); /* hold_captured */
    const char *void_it[] = {"void", "--hold", hold, NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, void_it), 3); /* hold_captured */
    CU_ASSERT_EQUAL(gateway_balance("dev-a"), car_before - 1240);

    CU_ASSERT_EQUAL(agent("dev-a", "authorise2.out", authorise), 0);
    id = held_hold_id("authorise2.out");
    snprintf(hold, sizeof hold, "%llu", (unsigned long long)id);
    CU_ASSERT_EQUAL(agent("dev-a", NULL, void_it), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "held EUR "), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "balance EUR "), car_before - 1240);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 0);
    CU_ASSERT(ledger_verifies());
}

/* "journaled seq N" lines of a file into seqs; returns the count. */
static size_t journaled_seqs(const char *name, uint64_t *seqs, size_t cap, size_t n)
{
    char path[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, name, path);
    char *text = testutil_read_file(path, NULL);
    for (char *p = text; p && (p = strstr(p, "journaled seq ")) != NULL && n < cap; p++) {
        seqs[n++] = strtoull(p + 14, NULL, 10);
    }
    free(text);
    return n;
}

static void test_kill_during_burst(void)
{
    uint64_t first = (uint64_t)status_value("dev-a", "next_seq ");
    int64_t before = gateway_balance("dev-a");
    srandom((unsigned)time(NULL));
    static uint64_t journaled[4096];
    size_t count = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        char out[32];
        snprintf(out, sizeof out, "burst-%d.out", round);
        const char *burst[] = {"pay",        "--to", "dev-b",   "--amount", "0.01",
                               "--currency", "EUR",  "--count", "40",       NULL};
        pid_t pid = agent_fixture_spawn(&fx, "dev-a", NULL, out, burst);
        struct timespec ts = {0, (long)(200 + random() % 700) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        testutil_wait_exit(pid);
        count = journaled_seqs(out, journaled, 4096, count);
    }
    const char *drain[] = {"run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, drain), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 0);
    paid p;
    ledger_paid(&p, "dev-a", first);
    /* Every journaled intent settled exactly once, nothing else settled. */
    for (size_t i = 0; i < count; i++) {
        size_t seen = 0;
        for (size_t k = 0; k < p.count; k++) {
            seen += p.seqs[k] == journaled[i];
        }
        CU_ASSERT_EQUAL(seen, 1);
    }
    /* A line may be lost if the kill came between the fsync and the print,
     * so the ledger may hold more than the lines, never a seq twice. */
    CU_ASSERT(p.count >= count);
    for (size_t i = 0; i < p.count; i++) {
        for (size_t k = i + 1; k < p.count; k++) {
            CU_ASSERT_NOT_EQUAL(p.seqs[i], p.seqs[k]);
        }
    }
    CU_ASSERT_EQUAL(gateway_balance("dev-a"), before - (int64_t)p.count);
    CU_ASSERT_EQUAL(status_value("dev-a", "balance EUR "), gateway_balance("dev-a"));
    fprintf(stderr, "kill test: %zu journaled lines, %zu settled\n", count, p.count);
}

static void test_broker_down_queues(void)
{
    uint64_t first = (uint64_t)status_value("dev-a", "next_seq ");
    test_broker_stop(&fx.broker);
    const char *pay[] = {"--timeout", "300",  "pay",        "--to", "dev-b",
                         "--amount",  "0.05", "--currency", "EUR",  NULL};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(agent("dev-a", NULL, pay), 4);
    }
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 3);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    const char *drain[] = {"run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, drain), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 0);
    paid p;
    ledger_paid(&p, "dev-a", first);
    CU_ASSERT_EQUAL_FATAL(p.count, 3);
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(p.seqs[i], first + i); /* in order, once each */
    }
}

/* Restarts the gateway on the same ledger with extra mosquitto.conf lines. */
static void gateway_restart_with(const char *extra)
{
    test_broker_stop(&fx.broker);
    agent_fixture_start(&fx, "gw-test", extra);
}

static void test_over_answers_per_second(void)
{
    /* Six payments queue while the gateway is down; it comes back answering
     * two a second: the agent resends at once, gets too_many_pending for
     * the third and nothing for the rest, keeps them pending, and sends
     * them again until every one has settled, in order, once: none of them
     * is taken for refused. */
    uint64_t first = (uint64_t)status_value("dev-a", "next_seq ");
    test_broker_stop(&fx.broker);
    const char *pay[] = {"--timeout", "300",  "pay",        "--to", "dev-b",
                         "--amount",  "0.01", "--currency", "EUR",  NULL};
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(agent("dev-a", NULL, pay), 4);
    }
    gateway_restart_with("plugin_opt_device_answers_per_s 2\n");
    const char *drain[] = {"--timeout", "500", "run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, drain), 0);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), 0);
    paid p;
    ledger_paid(&p, "dev-a", first);
    CU_ASSERT_EQUAL_FATAL(p.count, 6);
    for (size_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(p.seqs[i], first + i);
    }
    gateway_restart_with("");
}

static int operator_run(const char *const *command)
{
    return agent_fixture_operator(&fx, command, NULL);
}

static int operator_command(const char *command, const char *device)
{
    const char *args[] = {command, "--device", device, NULL};
    return operator_run(args);
}

static void test_operator_suspend(void)
{
    char hook[TEST_BROKER_PATH_MAX], marker[TEST_BROKER_PATH_MAX];
    agent_fixture_hook(&fx, "hook", hook, marker);
    /* dev-b is offline when the operator suspends it. */
    CU_ASSERT_EQUAL_FATAL(operator_command("suspendDevice", "dev-b"), 0);
    const char *run[] = {"--hook", hook, "run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "dev-b", NULL, NULL, run);
    CU_ASSERT(agent_fixture_wait_text(marker, "suspend", WAIT_TEXT_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    CU_ASSERT_EQUAL(status_value("dev-b", "suspended yes"), 0); /* the line is there */
    long long next = status_value("dev-b", "next_seq ");
    const char *pay[] = {"pay", "--to", "dev-a", "--amount", "0.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-b", NULL, pay), 5);
    CU_ASSERT_EQUAL(status_value("dev-b", "next_seq "), next);
    /* Resumed while online. */
    pid = agent_fixture_spawn(&fx, "dev-b", NULL, NULL, run);
    struct timespec ts = {0, 300000000L};
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(operator_command("resumeDevice", "dev-b"), 0);
    CU_ASSERT(agent_fixture_wait_text(marker, "resume", WAIT_TEXT_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    CU_ASSERT_EQUAL(agent("dev-b", NULL, pay), 0);
}

/* ---- pay-per-use ---------------------------------------------------------- */

/* 0.3917 EUR per kWh, read in Wh: 3917/100000 cents per Wh. */
#define PRICE_NUM 3917u
#define PRICE_DEN 100000u

/* fogpay-agent for device with extra; its exit status, its output (the
 * log lines with it) into *text, which the caller frees. */
static int agent_text(const char *device, const char *const *extra, char **text)
{
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "tariff.out", out);
    unlink(out);
    int rc = agent(device, "tariff.out", extra);
    *text = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*text);
    return rc;
}

/* A reading of device's meter dc-1 in unit; exit status, output. */
static int reading(const char *device, uint64_t quantity, const char *unit, char **text)
{
    char q[24];
    snprintf(q, sizeof q, "%" PRIu64, quantity);
    const char *args[] = {"usage", "--meter", "dc-1", "--quantity", q, "--unit", unit, NULL};
    return agent_text(device, args, text);
}

static int bind_meter(const char *device, const char *meter, const char *tariff, char **text)
{
    const char *args[] = {"bind", "--meter", meter, "--tariff", tariff, NULL};
    return agent_text(device, args, text);
}

/* The number after word in text (0 when absent). */
static uint64_t number_after(const char *text, const char *word)
{
    const char *p = strstr(text, word);
    return p ? strtoull(p + strlen(word), NULL, 10) : 0;
}

/* The charge in cents of a "charge 0.12" in text. */
static uint64_t charge_cents(const char *text)
{
    const char *p = strstr(text, " charge ");
    if (p == NULL) {
        return 0;
    }
    uint64_t euros = strtoull(p + 8, NULL, 10);
    const char *dot = strchr(p + 8, '.');
    return euros * 100 + (dot ? strtoull(dot + 1, NULL, 10) : 0);
}

/* ---- the tests ------------------------------------------------------------ */

static void test_tariffs_and_bindings(void)
{
    const char *ev[] = {"define-tariff", "--tariff",  "ev-ac",   "--device",    "charger",
                        "--unit",        "Wh",        "--price", "3917/100000", "--currency",
                        "EUR",           "--minimum", "0.01",    NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(ev), 0);
    const char *later[] = {"define-tariff", "--tariff",   "ev-2099", "--device",
                           "charger",       "--unit",     "Wh",      "--price",
                           "1/1",           "--currency", "EUR",     "--effective",
                           "4102444800000", NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(later), 0);
    const char *huge[] = {"define-tariff",   "--tariff",   "huge", "--device",
                          "charger",         "--unit",     "Wh",   "--price",
                          "1000000000000/1", "--currency", "EUR",  NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(huge), 0);
    int64_t car = gateway_balance("car"), charger = gateway_balance("charger");
    char *text = NULL;
    CU_ASSERT_EQUAL(bind_meter("car", "dc-1", "ev-ac", &text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "stored seq 1 tariff ev-ac"));
    free(text);
    /* Refused, each with its reason, nothing moved. */
    CU_ASSERT_EQUAL(bind_meter("car", "dc-2", "ev-dc", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_unknown"));
    free(text);
    CU_ASSERT_EQUAL(bind_meter("car", "dc-2", "ev-2099", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_not_effective"));
    free(text);
    CU_ASSERT_EQUAL(bind_meter("charger", "dc-1", "ev-ac", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_own_payee"));
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("car"), car);
    CU_ASSERT_EQUAL(gateway_balance("charger"), charger);
}

/* A charging session: a baseline and a reading a "minute" at up to 50 kW;
 * the charges sum to floor(total * price), the balances follow. */
static void test_session(void)
{
    int64_t car = gateway_balance("car"), charger = gateway_balance("charger");
    char *text = NULL;
    uint64_t quantity = 1234567;
    CU_ASSERT_EQUAL(reading("car", quantity, "Wh", &text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "stored seq")); /* the baseline */
    free(text);
    uint64_t total = 0, charged = 0, settled = 0;
    int64_t last_balance = 0;
    for (uint64_t minute = 1; minute <= 24; minute++) {
        uint64_t delta = 1 + (minute * 7919) % 833; /* up to 50 kW for a minute */
        quantity += delta;
        total += delta;
        CU_ASSERT_EQUAL_FATAL(reading("car", quantity, "Wh", &text), 0);
        CU_ASSERT_EQUAL(number_after(text, " consumption "), delta);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff ev-ac"));
        if (strstr(text, "settled seq") != NULL) {
            settled++;
            charged += charge_cents(text);
            last_balance = (int64_t)number_after(text, " balance ") * 100 +
                           (int64_t)number_after(strstr(text, " balance ") + 9, ".");
        }
        free(text);
    }
    /* Each charged reading pays at least the minimum (1 cent), so the sum
     * is exact here: no charge is below one cent. */
    uint64_t expected = total * PRICE_NUM / PRICE_DEN;
    CU_ASSERT(settled > 0);
    CU_ASSERT_EQUAL(charged, expected);
    CU_ASSERT_EQUAL(gateway_balance("car"), car - (int64_t)expected);
    CU_ASSERT_EQUAL(gateway_balance("charger"), charger + (int64_t)expected);
    CU_ASSERT_EQUAL(last_balance, gateway_balance("car"));
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_meter m;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(l, "car", "dc-1", &m), FOGPAY_OK);
    CU_ASSERT_EQUAL(m.last_quantity, quantity);
    CU_ASSERT_EQUAL(m.carry, total * PRICE_NUM % PRICE_DEN);
    fogpay_ledger_close(l);
}

/* A refused reading of car: its reason, nothing moved. */
static void car_refused(uint64_t quantity, const char *unit, const char *reason)
{
    int64_t car = gateway_balance("car"), charger = gateway_balance("charger");
    char *text = NULL;
    CU_ASSERT_EQUAL(reading("car", quantity, unit, &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, reason));
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("car"), car);
    CU_ASSERT_EQUAL(gateway_balance("charger"), charger);
}

static void test_refusals(void)
{
    fogpay_ledger *l;
    fogpay_meter m;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_meter_get(l, "car", "dc-1", &m), FOGPAY_OK);
    fogpay_ledger_close(l);
    uint64_t last = m.last_quantity;
    car_refused(last - 1, "Wh", "reading_backwards");
    car_refused(last, "Wh", "reading_repeated");
    car_refused(last + FOGPAY_METER_DELTA_MAX + 1, "Wh", "reading_implausible");
    car_refused(last + 10, "kWh", "unit_mismatch");
    /* poor holds 0.10: a reading worth 0.39 is unpaid; funded, the next
     * reading charges everything since the baseline, once. */
    char *text = NULL;
    CU_ASSERT_EQUAL(bind_meter("poor", "dc-1", "ev-ac", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("poor", 500, "Wh", &text), 0);
    free(text);
    int64_t charger = gateway_balance("charger");
    CU_ASSERT_EQUAL(reading("poor", 500 + 100000, "Wh", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "charge_unpaid"));
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("poor"), 10);
    CU_ASSERT_EQUAL(gateway_balance("charger"), charger);
    const char *fund[] = {"fund", "--device", "poor", "--currency", "EUR", "--amount", "50", NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(fund), 0);
    CU_ASSERT_EQUAL(reading("poor", 500 + 100001, "Wh", &text), 0);
    CU_ASSERT_EQUAL(number_after(text, " consumption "), 100001);
    CU_ASSERT_EQUAL(charge_cents(text), 100001ull * PRICE_NUM / PRICE_DEN);
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("poor"), 5010 - (int64_t)(100001ull * PRICE_NUM / PRICE_DEN));
    CU_ASSERT_EQUAL(gateway_balance("charger"),
                    charger + (int64_t)(100001ull * PRICE_NUM / PRICE_DEN));
    /* Two units at 10^12 cents each: over the largest single amount. */
    CU_ASSERT_EQUAL(bind_meter("big", "dc-1", "huge", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("big", 0, "Wh", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("big", 2, "Wh", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "charge_too_large"));
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("big"), 100);
}

/* The charges on the chain, the tariff and binding events, verify. */
typedef struct charges {
    uint64_t count;
    uint64_t sum;
    bool named;
} charges;

static int charges_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    charges *c = ctx;
    if (t->kind == FOGPAY_TRANSFER_USAGE_CHARGE) {
        c->count++;
        c->sum += t->amount_minor;
        c->named = c->named && strcmp(t->meter_id, "dc-1") == 0 && t->tariff_id[0] != '\0';
    }
    return 0;
}

static int events_visit(void *ctx, const fogpay_event *e, const uint8_t *hash)
{
    (void)hash;
    uint64_t *kinds = ctx;
    kinds[e->kind]++;
    return 0;
}

static void test_ledger_agrees(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    charges c = {0, 0, true};
    const char *payers[] = {"car", "poor"};
    for (size_t i = 0; i < 2; i++) {
        fogpay_transfer_filter f = {.device_id = payers[i], .limit = 1000};
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, charges_visit, &c), FOGPAY_OK);
    }
    CU_ASSERT(c.count > 0);
    CU_ASSERT(c.named);
    uint64_t kinds[FOGPAY_EVENT_METER_BOUND + 1] = {0};
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(l, 0, 1000, events_visit, kinds), FOGPAY_OK);
    CU_ASSERT_EQUAL(kinds[FOGPAY_EVENT_TARIFF], 3);
    CU_ASSERT_EQUAL(kinds[FOGPAY_EVENT_METER_BOUND], 3);
    char problem[256] = "";
    CU_ASSERT_EQUAL(fogpay_ledger_verify(l, NULL, NULL, problem, sizeof problem), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* ---- the EV charging session (README "An EV charging session") ---------- */

/* The platform's fee on ev-charger's takings: 3% in basis points. */
#define PLATFORM_FEE_BP 300u
#define BASIS_POINTS    10000u
/* Readings of a session, one a "minute", and the hold that pays it. */
#define SESSION_MINUTES    24
#define SESSION_HOLD       "30.00"
#define SESSION_HOLD_MINOR 3000
/* The hold left to time out lasts 1 s; the tick expires it. Waited for
 * with a bound far above the tick, so no timing decides the test. */
#define SESSION_EXPIRY_WAIT_MS 30000

/* The platform operator's EUR account. */
static int64_t platform_balance(void)
{
    return agent_fixture_balance(&fx, NULL, platform_entity);
}

/* The sum of every account's balance per currency is zero, and verify
 * agrees. */
static void ledger_sums_zero(void)
{
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(fx.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "SELECT currency, sum(balance), count(*) FROM "
                                             "accounts GROUP BY currency",
                                             -1, &s, NULL),
                          SQLITE_OK);
    int currencies = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        currencies++;
        CU_ASSERT_EQUAL(sqlite3_column_int64(s, 1), 0);
    }
    CU_ASSERT(currencies > 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    CU_ASSERT(ledger_verifies());
}

/* The operator's fee schedule: 3% of every payment to ev-charger to the
 * platform's account, the remainder's cent to the charger. */
static void test_session_fee(void)
{
    char leg[64];
    snprintf(leg, sizeof leg, "%u:%s", PLATFORM_FEE_BP, platform_entity);
    const char *fee[] = {"set-fee", "--payee", "ev-charger", "--currency",
                         "EUR",     "--leg",   leg,          NULL};
    CU_ASSERT_EQUAL(operator_run(fee), 0);
}

/* ev-car authorises the session's hold to ev-charger for hold_s; its id. */
static uint64_t session_authorise(const char *hold_s)
{
    const char *authorise[] = {"authorise",  "--to", "ev-charger", "--amount", SESSION_HOLD,
                               "--currency", "EUR",  "--hold-s",   hold_s,     NULL};
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "ev-authorise.out", out);
    unlink(out); /* the agent appends; this session's hold is the one read */
    CU_ASSERT_EQUAL(agent("ev-car", "ev-authorise.out", authorise), 0);
    uint64_t id = held_hold_id("ev-authorise.out");
    CU_ASSERT_EQUAL(status_value("ev-car", "held EUR "), SESSION_HOLD_MINOR);
    return id;
}

/* The car's meter readings of a session from *quantity: a baseline, then
 * one a "minute" of up to 50 kW, each stored. The price of each at 0.3917
 * EUR per kWh with its fraction carried to the next, summed here by the
 * test alone: what the charger captures. */
static uint64_t session_readings(uint64_t *quantity)
{
    char *text = NULL;
    CU_ASSERT_EQUAL(reading("ev-car", *quantity, "Wh", &text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "stored seq"));
    free(text);
    uint64_t price = 0, carry = 0, total = 0;
    for (uint64_t minute = 1; minute <= SESSION_MINUTES; minute++) {
        uint64_t delta = 1 + (minute * 6133) % 833;
        *quantity += delta;
        total += delta;
        CU_ASSERT_EQUAL(reading("ev-car", *quantity, "Wh", &text), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, "stored seq"));
        free(text);
        price += (delta * PRICE_NUM + carry) / PRICE_DEN;
        carry = (delta * PRICE_NUM + carry) % PRICE_DEN;
    }
    CU_ASSERT_EQUAL(price, total * PRICE_NUM / PRICE_DEN);
    return price;
}

/* The transfers naming hold id (its authorisation included) on the
 * chain: per kind, the count and the sum of every leg. */
typedef struct session_chain {
    uint64_t hold;
    uint64_t count[FOGPAY_TRANSFER_HOLD_CHARGE + 1];
    uint64_t total[FOGPAY_TRANSFER_HOLD_CHARGE + 1];
    uint64_t fee_legs;
} session_chain;

static int session_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    session_chain *c = ctx;
    if ((t->position == c->hold || t->related_position == c->hold) &&
        t->kind <= FOGPAY_TRANSFER_HOLD_CHARGE) {
        c->count[t->kind]++;
        c->total[t->kind] += fogpay_transfer_total(t);
        c->fee_legs += t->leg_count;
    }
    return 0;
}

static session_chain session_transfers(uint64_t hold)
{
    session_chain c;
    memset(&c, 0, sizeof c);
    c.hold = hold;
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_transfer_filter f = {.after_position = hold - 1, .limit = 1000};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, session_visit, &c), FOGPAY_OK);
    fogpay_ledger_close(l);
    return c;
}

/* A session's start: the balances before, the hold authorised for
 * hold_s, and the price of its readings from quantity on. */
typedef struct session {
    int64_t car, charger, platform;
    uint64_t hold, price;
} session;

static session session_start(const char *hold_s, uint64_t quantity)
{
    session v = {gateway_balance("ev-car"), gateway_balance("ev-charger"), platform_balance(), 0,
                 0};
    v.hold = session_authorise(hold_s);
    CU_ASSERT_FATAL(v.hold != 0);
    v.price = session_readings(&quantity);
    CU_ASSERT_FATAL(v.price > 0 && v.price < SESSION_HOLD_MINOR);
    return v;
}

/* Captured: the charger takes what the readings cost, 3% of it goes to
 * the platform, the rest of the hold goes back to the car at once. */
static void test_session_captured(void)
{
    session v = session_start("600", 7654321);
    int64_t car = v.car, charger = v.charger, platform = v.platform;
    uint64_t hold = v.hold, price = v.price;
    char id[24], amount[32];
    snprintf(id, sizeof id, "%" PRIu64, hold);
    snprintf(amount, sizeof amount, "%" PRIu64 ".%02" PRIu64, price / 100, price % 100);
    const char *capture[] = {"capture", "--hold",     id,    "--amount",
                             amount,    "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("ev-charger", NULL, capture), 0);
    uint64_t fee = price * PLATFORM_FEE_BP / BASIS_POINTS;
    CU_ASSERT_EQUAL(gateway_balance("ev-car"), car - (int64_t)price);
    CU_ASSERT_EQUAL(gateway_balance("ev-charger"), charger + (int64_t)(price - fee));
    CU_ASSERT_EQUAL(platform_balance(), platform + (int64_t)fee);
    fogpay_ledger *l;
    uint64_t held = 1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_held(l, "ev-car", EUR, &held), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(held, 0);
    CU_ASSERT_EQUAL(status_value("ev-charger", "balance EUR "), gateway_balance("ev-charger"));
    session_chain c = session_transfers(hold);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_AUTHORISATION], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_AUTHORISATION], SESSION_HOLD_MINOR);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_CAPTURE], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_CAPTURE], price);
    CU_ASSERT_EQUAL(c.fee_legs, 1);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_RELEASE], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_RELEASE], SESSION_HOLD_MINOR - price);
    ledger_sums_zero();
}

/* Left to time out: no capture; the tick expires the hold and all of it
 * goes back to the car; charger and platform get nothing. */
static void test_session_expired(void)
{
    session v = session_start("1", 9876543);
    int64_t car = v.car, charger = v.charger, platform = v.platform;
    uint64_t hold = v.hold;
    fogpay_hold h = {.state = FOGPAY_HOLD_OPEN};
    for (int waited_ms = 0; h.state == FOGPAY_HOLD_OPEN && waited_ms < SESSION_EXPIRY_WAIT_MS;
         waited_ms += 100) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        fogpay_ledger *l;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_ledger_hold_get(l, hold, &h), FOGPAY_OK);
        fogpay_ledger_close(l);
    }
    CU_ASSERT_EQUAL_FATAL(h.state, FOGPAY_HOLD_EXPIRED);
    CU_ASSERT_EQUAL(gateway_balance("ev-car"), car);
    CU_ASSERT_EQUAL(gateway_balance("ev-charger"), charger);
    CU_ASSERT_EQUAL(platform_balance(), platform);
    session_chain c = session_transfers(hold);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_AUTHORISATION], 1);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_CAPTURE], 0);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_EXPIRY], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_EXPIRY], SESSION_HOLD_MINOR);
    /* The capture comes too late. */
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, hold);
    const char *capture[] = {"capture", "--hold",     id,    "--amount",
                             "1.00",    "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("ev-charger", NULL, capture), 3); /* hold_expired */
    CU_ASSERT_EQUAL(gateway_balance("ev-charger"), charger);
    ledger_sums_zero();
}

/* Paid from the hold: the car binds its meter to the charger's tariff and
 * the session's hold, each reading a "minute" is charged from the hold at
 * once (kind 18, 3% of it to the platform by the charger's schedule), the
 * car's wallet untouched and its held amount going down; the charger's
 * capture of a connection fee takes it from what the hold has left and
 * the rest goes back to the car. A reading after that is refused. */
static void test_session_from_hold(void)
{
    const char *tariff[] = {"define-tariff", "--tariff",   "ev-session", "--device",
                            "ev-charger",    "--unit",     "Wh",         "--price",
                            "3917/100000",   "--currency", "EUR",        NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(tariff), 0);
    int64_t car = gateway_balance("ev-car"), charger = gateway_balance("ev-charger");
    int64_t platform = platform_balance();
    uint64_t hold = session_authorise("600");
    CU_ASSERT_FATAL(hold != 0);
    char id[24], *text = NULL;
    snprintf(id, sizeof id, "%" PRIu64, hold);
    const char *bind[] = {"bind", "--meter", "ac-1", "--tariff", "ev-session", "--hold", id, NULL};
    CU_ASSERT_EQUAL_FATAL(agent_text("ev-car", bind, &text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff ev-session"));
    free(text);
    uint64_t quantity = 5550000, total = 0, charged = 0, fees = 0;
    char q[24];
    snprintf(q, sizeof q, "%" PRIu64, quantity);
    const char *baseline[] = {"usage", "--meter", "ac-1", "--quantity", q, "--unit", "Wh", NULL};
    CU_ASSERT_EQUAL(agent_text("ev-car", baseline, &text), 0);
    free(text);
    for (uint64_t minute = 1; minute <= SESSION_MINUTES; minute++) {
        uint64_t delta = 1 + (minute * 5279) % 833; /* up to 50 kW for a minute */
        quantity += delta;
        total += delta;
        snprintf(q, sizeof q, "%" PRIu64, quantity);
        const char *usage[] = {"usage", "--meter", "ac-1", "--quantity", q, "--unit", "Wh", NULL};
        CU_ASSERT_EQUAL_FATAL(agent_text("ev-car", usage, &text), 0);
        uint64_t charge = charge_cents(text);
        charged += charge;
        fees += charge * PLATFORM_FEE_BP / BASIS_POINTS;
        if (charge != 0) {
            CU_ASSERT_EQUAL(number_after(text, " hold "), hold);
            char left[64];
            snprintf(left, sizeof left, " left %" PRIu64 ".%02" PRIu64 " ",
                     (SESSION_HOLD_MINOR - charged) / 100, (SESSION_HOLD_MINOR - charged) % 100);
            CU_ASSERT_PTR_NOT_NULL(strstr(text, left));
        }
        free(text);
    }
    CU_ASSERT_EQUAL(charged, total * PRICE_NUM / PRICE_DEN);
    CU_ASSERT_FATAL(charged > 0 && charged + 50 < SESSION_HOLD_MINOR);
    CU_ASSERT_EQUAL(gateway_balance("ev-car"), car - SESSION_HOLD_MINOR);
    CU_ASSERT_EQUAL(gateway_balance("ev-charger"), charger + (int64_t)(charged - fees));
    CU_ASSERT_EQUAL(platform_balance(), platform + (int64_t)fees);
    CU_ASSERT_EQUAL(status_value("ev-car", "held EUR "), (long long)(SESSION_HOLD_MINOR - charged));

    /* A capture above what the hold has left is refused; a connection
     * fee of 0.50 is taken and the rest goes back. */
    char over[32];
    uint64_t rest = SESSION_HOLD_MINOR - charged + 1;
    snprintf(over, sizeof over, "%" PRIu64 ".%02" PRIu64, rest / 100, rest % 100);
    const char *capture_over[] = {"capture", "--hold",     id,    "--amount",
                                  over,      "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("ev-charger", NULL, capture_over), 3); /* hold_over_amount */
    const char *capture[] = {"capture", "--hold",     id,    "--amount",
                             "0.50",    "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("ev-charger", NULL, capture), 0);
    uint64_t fee = 50 * PLATFORM_FEE_BP / BASIS_POINTS;
    CU_ASSERT_EQUAL(gateway_balance("ev-car"), car - (int64_t)(charged + 50));
    CU_ASSERT_EQUAL(gateway_balance("ev-charger"), charger + (int64_t)(charged - fees + 50 - fee));
    CU_ASSERT_EQUAL(platform_balance(), platform + (int64_t)(fees + fee));
    session_chain c = session_transfers(hold);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_AUTHORISATION], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_HOLD_CHARGE], charged);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_CAPTURE], 50);
    CU_ASSERT_EQUAL(c.count[FOGPAY_TRANSFER_RELEASE], 1);
    CU_ASSERT_EQUAL(c.total[FOGPAY_TRANSFER_RELEASE], SESSION_HOLD_MINOR - charged - 50);

    /* The hold is captured: a reading now charges nothing. */
    snprintf(q, sizeof q, "%" PRIu64, quantity + 500);
    const char *late[] = {"usage", "--meter", "ac-1", "--quantity", q, "--unit", "Wh", NULL};
    CU_ASSERT_EQUAL(agent_text("ev-car", late, &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "hold_resolved"));
    free(text);
    CU_ASSERT_EQUAL(gateway_balance("ev-car"), car - (int64_t)(charged + 50));
    ledger_sums_zero();
}

/* ---- device key rotation ------------------------------------------------- */

/* Journals count payments of device while the broker is down (each times
 * out, exit 4), then starts the broker again: they wait, signed with the
 * device's key of now, to be resent. Returns the first seq. */
static uint64_t journal_offline(const char *device, int count)
{
    uint64_t first = (uint64_t)status_value(device, "next_seq ");
    test_broker_stop(&fx.broker);
    const char *pay[] = {"--timeout", "300",  "pay",        "--to", "dev-b",
                         "--amount",  "0.07", "--currency", "EUR",  NULL};
    for (int i = 0; i < count; i++) {
        CU_ASSERT_EQUAL(agent(device, NULL, pay), 4);
    }
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    return first;
}

/* The device makes a new key (rotate-key), the operator registers it with
 * overlap_s (and, with revoke, ends the old key's window at once), and the
 * device switches to it. */
static void rotate_device(const char *device, const char *overlap_s, bool revoke)
{
    char out[TEST_BROKER_PATH_MAX], public_key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    agent_fixture_path(&fx, "rotate.out", out);
    unlink(out);
    const char *rotate[] = {"rotate-key", NULL};
    CU_ASSERT_EQUAL_FATAL(agent(device, "rotate.out", rotate), 0);
    char *text = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    snprintf(public_key, sizeof public_key, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    CU_ASSERT_EQUAL(strncmp(public_key, "ed25519:", 8), 0);
    const char *command[] = {"rotateDeviceKey", "--device",          device,    "--public-key",
                             public_key,        "--overlap-seconds", overlap_s, NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(command), 0);
    if (revoke) {
        CU_ASSERT_EQUAL_FATAL(operator_command("revokeDeviceKey", device), 0);
    }
    const char *use[] = {"switch-key", NULL};
    CU_ASSERT_EQUAL_FATAL(agent(device, NULL, use), 0);
}

/* Drains the device's journal, its log in drain.out; the log as text. */
static char *drain_logged(const char *device)
{
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "drain.out", out);
    unlink(out);
    const char *drain[] = {"run", "--drain", NULL};
    CU_ASSERT_EQUAL(agent(device, "drain.out", drain), 0);
    CU_ASSERT_EQUAL(status_value(device, "pending "), 0);
    return testutil_read_file(out, NULL);
}

typedef struct key_events {
    const char *device;
    size_t rotated;
    size_t revoked;
} key_events;

static int key_events_visit(void *ctx, const fogpay_event *e, const uint8_t *hash)
{
    (void)hash;
    key_events *k = ctx;
    if (strcmp(e->device_id, k->device) == 0) {
        k->rotated += e->kind == FOGPAY_EVENT_KEY_ROTATED;
        k->revoked += e->kind == FOGPAY_EVENT_KEY_REVOKED;
    }
    return 0;
}

/* Intents the device journaled with its old key, resent after the
 * rotation: settled inside the overlap window; key_revoked after the window
 * ended by time or by revokeDeviceKey, moving nothing. Each step is an
 * event on the chain. */
static void test_device_key_rotation(void)
{
    /* Inside the window: both settle, then the new key pays. */
    uint64_t first = journal_offline("dev-r", 2);
    rotate_device("dev-r", "3600", false);
    free(drain_logged("dev-r"));
    paid p;
    ledger_paid(&p, "dev-r", first);
    CU_ASSERT_EQUAL(p.count, 2);
    const char *pay[] = {"pay", "--to", "dev-b", "--amount", "0.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-r", NULL, pay), 0);
    ledger_paid(&p, "dev-r", first);
    CU_ASSERT_EQUAL(p.count, 3);

    /* After a window of 2 s has ended: key_revoked, nothing moves. */
    int64_t balance = gateway_balance("dev-r");
    first = journal_offline("dev-r", 1);
    rotate_device("dev-r", "2", false);
    struct timespec past_window = {3, 0};
    nanosleep(&past_window, NULL);
    char *log = drain_logged("dev-r");
    CU_ASSERT_PTR_NOT_NULL(log ? strstr(log, "rejected: key_revoked") : NULL);
    free(log);
    ledger_paid(&p, "dev-r", first);
    CU_ASSERT_EQUAL(p.count, 0);
    CU_ASSERT_EQUAL(gateway_balance("dev-r"), balance);

    /* Revoked at once, inside a long window: key_revoked too. */
    first = journal_offline("dev-r", 1);
    rotate_device("dev-r", "3600", true);
    log = drain_logged("dev-r");
    CU_ASSERT_PTR_NOT_NULL(log ? strstr(log, "rejected: key_revoked") : NULL);
    free(log);
    ledger_paid(&p, "dev-r", first);
    CU_ASSERT_EQUAL(p.count, 0);
    CU_ASSERT_EQUAL(gateway_balance("dev-r"), balance);
    CU_ASSERT_EQUAL(agent("dev-r", NULL, pay), 0);

    /* Three rotations; the second ended the first window early, and the
     * operator ended the third's. */
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    key_events k = {"dev-r", 0, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(l, 0, 0, key_events_visit, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL(k.rotated, 3);
    CU_ASSERT_EQUAL(k.revoked, 2);
    CU_ASSERT_EQUAL(fogpay_ledger_verify(l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* ---- receipts and commands through the library ---------------------------- */

/* Signs as the gateway does, the key's kid in the header. */
static size_t sign_with(const fogpay_key *key, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t n = 0;
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, len, NULL, 0, out,
                                                 FOGPAY_MESSAGE_MAX, &n),
                          FOGPAY_OK);
    return n;
}

static size_t receipt_bytes_at(const fogpay_key *key, const char *device, uint64_t seq,
                               const uint8_t hash[FOGPAY_HASH_BYTES], int64_t balance,
                               uint64_t time_s, uint8_t *out)
{
    fogpay_receipt r;
    memset(&r, 0, sizeof r);
    strcpy(r.device_id, device);
    r.seq = seq;
    r.kind = FOGPAY_RECEIPT_INTENT;
    r.status = FOGPAY_STATUS_SETTLED;
    r.transfer_id = 7;
    r.position = 7;
    r.chain_hash[0] = 1;
    r.has_balance = true;
    r.balance_after_minor = balance;
    r.currency = EUR;
    strcpy(r.gateway_id, "gw-test");
    r.time_s = time_s;
    memcpy(r.intent_hash, hash, FOGPAY_HASH_BYTES);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_receipt_encode(&r, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_with(key, payload, len, out);
}

static size_t receipt_bytes(const fogpay_key *key, const char *device, uint64_t seq,
                            const uint8_t hash[FOGPAY_HASH_BYTES], int64_t balance, uint8_t *out)
{
    return receipt_bytes_at(key, device, seq, hash, balance, (uint64_t)time(NULL), out);
}

static size_t command_bytes(const fogpay_key *key, const char *device, uint64_t seq, uint8_t kind,
                            uint8_t *out)
{
    fogpay_command c;
    memset(&c, 0, sizeof c);
    strcpy(c.device_id, device);
    c.command_seq = seq;
    c.kind = kind;
    c.issued_s = (uint64_t)time(NULL);
    strcpy(c.gateway_id, "gw-test");
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_command_encode(&c, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_with(key, payload, len, out);
}

static void test_forged_messages_change_nothing(void)
{
    char dir[TEST_BROKER_PATH_MAX], key_path[TEST_BROKER_PATH_MAX], hook[TEST_BROKER_PATH_MAX],
        marker[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "state-lib", dir);
    agent_fixture_path(&fx, "lib.key", key_path);
    agent_fixture_hook(&fx, "lib-hook", hook, marker);
    fogpay_key *device_key = NULL, *other = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &device_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(device_key, key_path, false), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &other), FOGPAY_OK);
    fogpay_agent_config cfg = {.state_dir = dir,
                               .key_path = key_path,
                               .device_id = "dev-lib",
                               .gateway_key = fx.gateway_text,
                               .port = 1,
                               .timeout_ms = 200,
                               .hook = hook};
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_open(&cfg, &a), FOGPAY_OK);
    fogpay_agent_outcome o;
    /* Not connected: the intent is journaled and waits. */
    CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-b", 100, EUR, NULL, &o), FOGPAY_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(o.seq, 1);
    /* The hash of the journaled bytes, as the gateway would compute it. */
    char journal[TEST_BROKER_PATH_MAX + 16];
    snprintf(journal, sizeof journal, "%s/journal", dir);
    size_t jlen = 0;
    uint8_t *jbytes = (uint8_t *)testutil_read_file(journal, &jlen);
    CU_ASSERT_FATAL(jbytes && jlen > 22);
    uint8_t hash[FOGPAY_HASH_BYTES], wrong[FOGPAY_HASH_BYTES] = {1};
    fogpay_sha256(jbytes + 22, jlen - 22, hash); /* header 12, type, seq, kind */
    free(jbytes);
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t n;
    fogpay_agent_status s;
    n = receipt_bytes(other, "dev-lib", 1, hash, 900, msg);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_BAD_SIGNATURE);
    n = receipt_bytes(fx.gateway_key, "dev-b", 1, hash, 900, msg);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_DEVICE_MISMATCH);
    n = receipt_bytes(fx.gateway_key, "dev-lib", 1, wrong, 900, msg);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_SEQ_CONFLICT);
    msg[n - 1] ^= 1;
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_BAD_SIGNATURE);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.pending, 1);
    CU_ASSERT_EQUAL(s.balance_count, 0);
    /* The real one applies; replayed, it changes nothing. */
    uint8_t good[FOGPAY_MESSAGE_MAX];
    size_t good_len = receipt_bytes(fx.gateway_key, "dev-lib", 1, hash, 900, good);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, good, good_len), FOGPAY_OK);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL_FATAL(s.balance_count, 1);
    CU_ASSERT_EQUAL(s.balances[0].balance_minor, 900);
    n = receipt_bytes(fx.gateway_key, "dev-lib", 1, hash, 5, msg);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, msg, n), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(a, good, good_len), FOGPAY_ERR_NOT_FOUND);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.balances[0].balance_minor, 900);
    /* Commands: forged, unsigned, foreign are ignored. */
    n = command_bytes(other, "dev-lib", 1, FOGPAY_COMMAND_SUSPEND, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_ERR_BAD_SIGNATURE);
    uint8_t unsigned_cmd[4] = {0x84, 0x40, 0xa0, 0x40};
    CU_ASSERT_NOT_EQUAL(fogpay_agent_command_handle(a, unsigned_cmd, sizeof unsigned_cmd),
                        FOGPAY_OK);
    n = command_bytes(fx.gateway_key, "dev-b", 1, FOGPAY_COMMAND_SUSPEND, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_ERR_DEVICE_MISMATCH);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_FALSE(s.suspended);
    CU_ASSERT_EQUAL(access(marker, F_OK), -1);
    /* A real suspend: hook runs, pay refused, state survives a reopen. */
    n = command_bytes(fx.gateway_key, "dev-lib", 2, FOGPAY_COMMAND_SUSPEND, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-b", 100, EUR, NULL, &o), FOGPAY_ERR_DEVICE_SUSPENDED);
    fogpay_agent_close(a);
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_open(&cfg, &a), FOGPAY_OK);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT(s.suspended);
    CU_ASSERT_EQUAL(s.next_seq, 2);
    /* An old resume replayed does nothing; a new one resumes. */
    n = command_bytes(fx.gateway_key, "dev-lib", 1, FOGPAY_COMMAND_RESUME, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_ERR_SEQ_CONFLICT);
    CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-b", 100, EUR, NULL, &o), FOGPAY_ERR_DEVICE_SUSPENDED);
    n = command_bytes(fx.gateway_key, "dev-lib", 3, FOGPAY_COMMAND_RESUME, msg);
    CU_ASSERT_EQUAL(fogpay_agent_command_handle(a, msg, n), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-b", 100, EUR, NULL, &o), FOGPAY_ERR_TIMEOUT);
    char *hooked = testutil_read_file(marker, NULL);
    CU_ASSERT_PTR_NOT_NULL(hooked);
    CU_ASSERT_STRING_EQUAL(hooked ? hooked : "", "suspend\nresume\n");
    free(hooked);
    fogpay_agent_close(a);
    fogpay_key_free(device_key);
    fogpay_key_free(other);
}

/* ---- gateway key rotation ------------------------------------------------ */

/* The signed receipt of device's newest recorded message, as the gateway
 * answers a repeat of it (the ledger API puts back what it stores once). */
static size_t ledger_receipt(const char *device, uint8_t *out)
{
    fogpay_ledger *l = NULL;
    uint64_t seq = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    if (fogpay_ledger_message_head(l, device, &seq, hash) != FOGPAY_OK ||
        fogpay_ledger_message_lookup(l, device, seq, hash, out, FOGPAY_MESSAGE_MAX, &len) !=
            FOGPAY_OK) {
        len = 0;
    }
    fogpay_ledger_close(l);
    return len;
}

/* fogpayctl --db LEDGER verify-receipt on msg; its exit status, its output
 * in verify-receipt.out. */
static int ctl_verify_receipt(const uint8_t *msg, size_t len)
{
    char file[TEST_BROKER_PATH_MAX], out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "receipt.cbor", file);
    agent_fixture_path(&fx, "verify-receipt.out", out);
    FILE *f = fopen(file, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(msg, 1, len, f), len);
    fclose(f);
    const char *argv[] = {fx.ctl_bin, "--db", fx.db_path, "verify-receipt", "--file", file, NULL};
    return testutil_command(argv, out);
}

/* An agent on device's state directory, configured with the gateway key text (the
 * key it was provisioned with), not connected. */
/* The agent of device on its state directory, in this process: offline
 * (port 1, nobody listens) unless online, then on the gateway with the
 * device's password (its id) and a receipt timeout no healthy gateway
 * reaches. */
static fogpay_agent *agent_on_state(const char *device, bool online)
{
    static char dir[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX];
    char name[64];
    snprintf(name, sizeof name, "state-%s", device);
    agent_fixture_path(&fx, name, dir);
    snprintf(name, sizeof name, "%s.key", device);
    agent_fixture_path(&fx, name, key);
    fogpay_agent_config cfg = {.state_dir = dir,
                               .key_path = key,
                               .device_id = device,
                               .gateway_key = fx.gateway_text,
                               .port = online ? fx.broker.port : 1,
                               .password = online ? device : NULL,
                               .timeout_ms = online ? 30000 : 0};
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_open(&cfg, &a), FOGPAY_OK);
    return a;
}

static void test_resend_in_windows(void)
{
    /* Four windows of payments queue while the gateway is down. When the
     * agent connects again it sends them in windows, taking in each
     * window's receipts before it sends more: so when the connect returns
     * no more than a window is unanswered (had it sent them all at once,
     * every receipt would be waiting in paho's queue and all of them
     * pending). Then every one settles, once, in order. */
    const int count = 4 * FOGPAY_AGENT_SEND_WINDOW;
    char count_text[16];
    snprintf(count_text, sizeof count_text, "%d", count);
    uint64_t first = (uint64_t)status_value("dev-a", "next_seq ");
    test_broker_stop(&fx.broker);
    const char *pay[] = {"--timeout", "300",        "pay", "--to",    "dev-b",    "--amount",
                         "0.01",      "--currency", "EUR", "--count", count_text, NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, pay), 4);
    CU_ASSERT_EQUAL(status_value("dev-a", "pending "), count);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    fogpay_agent *a = agent_on_state("dev-a", true);
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_connect(a), FOGPAY_OK);
    fogpay_agent_status st;
    fogpay_agent_status_get(a, &st);
    CU_ASSERT(st.pending > 0 && st.pending <= FOGPAY_AGENT_SEND_WINDOW);
    CU_ASSERT_EQUAL(fogpay_agent_drain(a, 30000), FOGPAY_OK);
    fogpay_agent_close(a);
    paid p;
    ledger_paid(&p, "dev-a", first);
    CU_ASSERT_EQUAL_FATAL(p.count, (size_t)count);
    for (size_t i = 0; i < (size_t)count; i++) {
        CU_ASSERT_EQUAL(p.seqs[i], first + i);
    }
}

/* The operator rotates the gateway key while dev-a's agent is connected:
 * dev-a takes in the announcement and then accepts receipts signed by the
 * new key, and so does dev-b, offline at the time (its persistent session
 * kept the command); a receipt from before still verifies against the old
 * key, and one signed by the old key but dated after its end is refused;
 * the gateway restarts on the new key. */
static void test_gateway_key_rotation(void)
{
    const char *b_pays[] = {"pay", "--to", "dev-a", "--amount", "0.02", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-b", NULL, b_pays), 0);
    uint8_t old_receipt[FOGPAY_MESSAGE_MAX];
    size_t old_len = ledger_receipt("dev-b", old_receipt);
    CU_ASSERT_FATAL(old_len > 0);

    char log[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "rotation-a.out", log);
    unlink(log);
    const char *run[] = {"run", NULL};
    pid_t pid = agent_fixture_spawn(&fx, "dev-a", NULL, "rotation-a.out", run);
    CU_ASSERT(agent_fixture_wait_text(log, "connected", WAIT_TEXT_MS));
    const char *rotate[] = {"rotateGatewayKey", NULL};
    CU_ASSERT_EQUAL_FATAL(agent_fixture_operator(&fx, rotate, "rotate-gateway.out"), 0);
    CU_ASSERT(agent_fixture_wait_text(log, "applied: gateway key", WAIT_TEXT_MS));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(testutil_wait_exit(pid), 0);
    char out[TEST_BROKER_PATH_MAX];
    agent_fixture_path(&fx, "rotate-gateway.out", out);
    char *printed = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(printed);
    CU_ASSERT_EQUAL(strncmp(printed, "ed25519:", 8), 0);
    CU_ASSERT_PTR_NOT_EQUAL(strstr(printed, fx.gateway_text), printed); /* another key */
    free(printed);

    /* Receipts signed by the new key: accepted by the connected agent and
     * by the one that was offline. */
    const char *a_pays[] = {"pay", "--to", "dev-b", "--amount", "0.03", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent("dev-a", NULL, a_pays), 0);
    CU_ASSERT_EQUAL(agent("dev-b", NULL, b_pays), 0);
    uint8_t new_receipt[FOGPAY_MESSAGE_MAX];
    size_t new_len = ledger_receipt("dev-b", new_receipt);
    fogpay_cose_sign1 old_cose, new_cose;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(old_receipt, old_len, &old_cose), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(new_receipt, new_len, &new_cose), FOGPAY_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(old_cose.kid.ptr, new_cose.kid.ptr, FOGPAY_KID_BYTES), 0);

    /* dev-b, still configured with the old key: both receipts verify, each
     * against the key valid at its time; the old key signing later does not. */
    fogpay_agent *b = agent_on_state("dev-b", false);
    fogpay_receipt r;
    CU_ASSERT_EQUAL(fogpay_agent_receipt_verify(b, old_receipt, old_len, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_verify(b, new_receipt, new_len, &r), FOGPAY_OK);
    uint8_t forged[FOGPAY_MESSAGE_MAX], hash[FOGPAY_HASH_BYTES] = {7};
    size_t n = receipt_bytes_at(fx.gateway_key, "dev-b", r.seq, hash, 5, r.time_s + 60, forged);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_verify(b, forged, n, &r), FOGPAY_ERR_KEY_REVOKED);
    CU_ASSERT_EQUAL(fogpay_agent_receipt_handle(b, forged, n), FOGPAY_ERR_KEY_REVOKED);
    fogpay_agent_close(b);

    /* fogpayctl checks a receipt against the ledger's key history alike. */
    CU_ASSERT_EQUAL(ctl_verify_receipt(old_receipt, old_len), 0);
    CU_ASSERT_EQUAL(ctl_verify_receipt(new_receipt, new_len), 0);
    CU_ASSERT_EQUAL(ctl_verify_receipt(forged, n), 1);
    agent_fixture_path(&fx, "verify-receipt.out", out);
    char *said = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL(said ? strstr(said, "refused: key_revoked") : NULL);
    free(said);

    /* The ledger's history: the old key ended, the new one active. */
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    fogpay_gateway_key old_key, new_key;
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_get(l, old_cose.kid.ptr, &old_key), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_get(l, new_cose.kid.ptr, &new_key), FOGPAY_OK);
    CU_ASSERT_NOT_EQUAL(old_key.until_ms, 0);
    CU_ASSERT_EQUAL(old_key.until_ms, new_key.from_ms);
    CU_ASSERT_EQUAL(new_key.until_ms, 0);
    fogpay_ledger_close(l);

    /* The gateway starts again on the new key file. */
    test_broker_stop(&fx.broker);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    CU_ASSERT_EQUAL(agent("dev-a", NULL, a_pays), 0);

    /* A rotation cut off by a crash after the ledger's commit (the key file
     * still the old key, KEY.next the new, nothing announced) is finished
     * at the next start: announced, renamed, signing. The announcement
     * reaches dev-b, offline, through its session, which the broker keeps
     * across the restart as deploy/mosquitto.conf has it (persistence). */
    test_broker_stop(&fx.broker);
    FILE *conf = fopen(fx.broker.conf_path, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    fprintf(conf, "persistence true\npersistence_location %s/\n", fx.broker.dir);
    fclose(conf);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    CU_ASSERT_EQUAL(agent("dev-b", NULL, b_pays), 0); /* its session, then saved */
    test_broker_stop(&fx.broker);
    char key_path[TEST_BROKER_PATH_MAX], next_path[TEST_BROKER_PATH_MAX + 8];
    agent_fixture_path(&fx, "gateway.key", key_path);
    snprintf(next_path, sizeof next_path, "%s.next", key_path);
    fogpay_key *third = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &third), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(third, next_path, true), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_rotate(l, third, (uint64_t)time(NULL) * 1000),
                    FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_FATAL(test_broker_restart(&fx.broker));
    CU_ASSERT_EQUAL(agent("dev-b", NULL, b_pays), 0);
    CU_ASSERT_EQUAL(access(next_path, F_OK), -1);
    fogpay_key *in_file = NULL;
    uint8_t kid_file[FOGPAY_KID_BYTES], kid_third[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_load(key_path, &in_file), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_id(in_file, kid_file), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_id(third, kid_third), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(kid_file, kid_third, FOGPAY_KID_BYTES), 0);
    fogpay_key_free(in_file);
    fogpay_key_free(third);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_agent FOGPAY_AGENT FOGPAYCTL\n");
        return 2;
    }
    fx.agent_bin = argv[1];
    fx.ctl_bin = argv[2];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("agent", suite_init, suite_clean);
    CU_add_test(s, "gateway starts", test_start);
    CU_add_test(s, "two devices pay each other; balances agree", test_two_devices_pay_each_other);
    CU_add_test(s, "tariffs defined online; bindings and their refusals",
                test_tariffs_and_bindings);
    CU_add_test(s, "a session: a reading a minute, charges sum to floor(total * price)",
                test_session);
    CU_add_test(s, "every reading refusal moves nothing; unpaid is charged once later",
                test_refusals);
    CU_add_test(s, "the chain holds the charges and events; the ledger verifies",
                test_ledger_agrees);
    CU_add_test(s, "a charging session: authorise, capture in part, void", test_charging_session);
    CU_add_test(s, "EV session: the platform's 3% fee schedule", test_session_fee);
    CU_add_test(s, "EV session captured: readings priced, captured, 3% to the platform",
                test_session_captured);
    CU_add_test(s, "EV session left to time out: the tick gives it all back", test_session_expired);
    CU_add_test(s, "EV session paid from its hold: readings charged, the rest released on capture",
                test_session_from_hold);
    CU_add_test(s, "SIGKILL during a burst: each intent settles once", test_kill_during_burst);
    CU_add_test(s, "broker down: payments queue and settle in order", test_broker_down_queues);
    CU_add_test(s, "over the gateway's answers a second: pending, then settled in order",
                test_over_answers_per_second);
    CU_add_test(s, "a long journal is resent in windows: settled once, in order",
                test_resend_in_windows);
    CU_add_test(s, "operator suspend reaches an offline device", test_operator_suspend);
    CU_add_test(s, "forged receipts and commands change nothing",
                test_forged_messages_change_nothing);
    CU_add_test(s, "device key rotation: overlap window, its end, revocation",
                test_device_key_rotation);
    CU_add_test(s, "gateway key rotation with an agent connected", test_gateway_key_rotation);
    return testutil_run();
}
