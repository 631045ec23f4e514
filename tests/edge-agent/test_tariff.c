/*
 * test_tariff.c - pay-per-use end to end: a real Mosquitto with the real
 * plugin on loopback, the operator's tariffs defined online with
 * fogpayctl, real agents (the fogpay-agent program) binding their meters
 * and sending a reading a "minute". Each reading of a bound meter settles
 * at once as a usage charge: the charges the agent prints sum to
 * floor(total * price) exactly, the balances of payer and payee on the
 * gateway follow them, and the ledger verifies. Every refusal (an unknown
 * or not yet effective tariff, a tariff paying the binder itself, a
 * reading backwards, repeated, implausible, in the wrong unit, unpaid, a
 * charge over the largest amount) is answered with its reason and moves no
 * money; an unpaid reading's consumption is charged by the next one, once.
 *
 * argv[1] is the fogpay-agent program, argv[2] fogpayctl; FOGPAY_PLUGIN the
 * plugin. Devices are provisioned through the ledger API before the broker
 * starts; the ledger is read through a second connection (WAL).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR      978
#define ARGS_MAX 40

/* 0.3917 EUR per kWh, read in Wh: 3917/100000 cents per Wh. */
#define PRICE_NUM 3917u
#define PRICE_DEN 100000u

static const char *agent_bin;
static const char *fogpayctl_bin;
static test_broker broker;
static char db_path[TEST_BROKER_PATH_MAX];
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];

static void path_in(const char *name, char *out)
{
    test_broker_path(&broker, name, out, TEST_BROKER_PATH_MAX);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

/* A device with its key and password file in the broker dir, funded. */
static void device_new(fogpay_ledger *l, const char *id, const char *entity, uint64_t fund)
{
    fogpay_key *key = NULL;
    char path[TEST_BROKER_PATH_MAX], name[64], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.key", id);
    path_in(name, path);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(key, path, false), FOGPAY_OK);
    snprintf(name, sizeof name, "%s.pass", id);
    path_in(name, path);
    write_text(path, id);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash(id, strlen(id), 1000, hash, sizeof hash), FOGPAY_OK);
    fogpay_device_limits none = {0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, key, hash, entity, &none, 1000),
                          FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, id, EUR, fund, "initial", 2000, &t), FOGPAY_OK);
    fogpay_key_free(key);
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
    fogpay_key *gateway_key = NULL;
    bool ok = fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key) == FOGPAY_OK &&
              fogpay_key_save(gateway_key, key_path, false) == FOGPAY_OK &&
              fogpay_key_public_text(gateway_key, gateway_text, sizeof gateway_text) == FOGPAY_OK;
    fogpay_key_free(gateway_key);
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX], line[FOGPAY_PASSWORD_HASH_TEXT_MAX + 8];
    fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash);
    snprintf(line, sizeof line, "ops:%s\n", hash);
    FILE *f = ok ? fopen(operators, "w") : NULL;
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

/* car pays for charging at charger; poor holds 0.10; big is for the
 * charge over the largest amount. */
static void test_start(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal p = {"Example Charging Ltd", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity), FOGPAY_OK);
    device_new(l, "car", entity, 5000);
    device_new(l, "charger", entity, 1);
    device_new(l, "poor", entity, 10);
    device_new(l, "big", entity, 100);
    fogpay_ledger_close(l);
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    path_in("gateway.key", key_path);
    path_in("operators", operators);
    char conf[TEST_BROKER_CONF_MAX];
    CU_ASSERT_FATAL(
        test_broker_gateway_conf(conf, sizeof conf, "gw-test", db_path, key_path, operators));
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

/* ---- the programs --------------------------------------------------------- */

/* Runs argv (NULL-terminated, at most ARGS_MAX - 1) with its output in
 * out.txt of the broker dir, which *text receives (the caller frees). */
static int run_to_text(const char *const *argv, char **text)
{
    char out[TEST_BROKER_PATH_MAX];
    path_in("out.txt", out);
    int rc = testutil_command(argv, out);
    *text = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*text);
    return rc;
}

/* fogpay-agent for device with extra (NULL-terminated); its exit status,
 * its output into *text. */
static int agent(const char *device, const char *const *extra, char **text)
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
        agent_bin, "--dir",           dir,          "--key", key,         "--device",
        device,    "--gateway-key",   gateway_text, "-h",    "127.0.0.1", "-p",
        port,      "--password-file", pass};
    size_t n = 15;
    for (size_t i = 0; extra[i] && n < ARGS_MAX - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return run_to_text(argv, text);
}

/* fogpayctl online as the operator; its exit status. */
static int operator_run(const char *const *command)
{
    char port[16], password_file[TEST_BROKER_PATH_MAX];
    snprintf(port, sizeof port, "%d", broker.port);
    path_in("ops.password", password_file);
    write_text(password_file, "ops-pass\n");
    const char *argv[ARGS_MAX] = {fogpayctl_bin, "-h",  "127.0.0.1",       "-p",         port,
                                  "-u",          "ops", "--password-file", password_file};
    size_t n = 9;
    for (size_t i = 0; command[i] && n < ARGS_MAX - 1; i++) {
        argv[n++] = command[i];
    }
    argv[n] = NULL;
    char *text = NULL;
    int rc = run_to_text(argv, &text);
    free(text);
    return rc;
}

/* The gateway's balance of device's wallet. */
static int64_t balance(const char *device)
{
    fogpay_ledger *l;
    uint64_t account = 0;
    int64_t b = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(l, device, EUR, &account), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, account, &b), FOGPAY_OK);
    fogpay_ledger_close(l);
    return b;
}

/* A reading of device's meter dc-1 in unit; exit status, output. */
static int reading(const char *device, uint64_t quantity, const char *unit, char **text)
{
    char q[24];
    snprintf(q, sizeof q, "%" PRIu64, quantity);
    const char *args[] = {"usage", "--meter", "dc-1", "--quantity", q, "--unit", unit, NULL};
    return agent(device, args, text);
}

static int bind(const char *device, const char *meter, const char *tariff, char **text)
{
    const char *args[] = {"bind", "--meter", meter, "--tariff", tariff, NULL};
    return agent(device, args, text);
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
    int64_t car = balance("car"), charger = balance("charger");
    char *text = NULL;
    CU_ASSERT_EQUAL(bind("car", "dc-1", "ev-ac", &text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "stored seq 1 tariff ev-ac"));
    free(text);
    /* Refused, each with its reason, nothing moved. */
    CU_ASSERT_EQUAL(bind("car", "dc-2", "ev-dc", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_unknown"));
    free(text);
    CU_ASSERT_EQUAL(bind("car", "dc-2", "ev-2099", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_not_effective"));
    free(text);
    CU_ASSERT_EQUAL(bind("charger", "dc-1", "ev-ac", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "tariff_own_payee"));
    free(text);
    CU_ASSERT_EQUAL(balance("car"), car);
    CU_ASSERT_EQUAL(balance("charger"), charger);
}

/* A charging session: a baseline and a reading a "minute" at up to 50 kW;
 * the charges sum to floor(total * price), the balances follow. */
static void test_session(void)
{
    int64_t car = balance("car"), charger = balance("charger");
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
    CU_ASSERT_EQUAL(balance("car"), car - (int64_t)expected);
    CU_ASSERT_EQUAL(balance("charger"), charger + (int64_t)expected);
    CU_ASSERT_EQUAL(last_balance, balance("car"));
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_meter m;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(l, "car", "dc-1", &m), FOGPAY_OK);
    CU_ASSERT_EQUAL(m.last_quantity, quantity);
    CU_ASSERT_EQUAL(m.carry, total * PRICE_NUM % PRICE_DEN);
    fogpay_ledger_close(l);
}

/* A refused reading of car: its reason, nothing moved. */
static void car_refused(uint64_t quantity, const char *unit, const char *reason)
{
    int64_t car = balance("car"), charger = balance("charger");
    char *text = NULL;
    CU_ASSERT_EQUAL(reading("car", quantity, unit, &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, reason));
    free(text);
    CU_ASSERT_EQUAL(balance("car"), car);
    CU_ASSERT_EQUAL(balance("charger"), charger);
}

static void test_refusals(void)
{
    fogpay_ledger *l;
    fogpay_meter m;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
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
    CU_ASSERT_EQUAL(bind("poor", "dc-1", "ev-ac", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("poor", 500, "Wh", &text), 0);
    free(text);
    int64_t charger = balance("charger");
    CU_ASSERT_EQUAL(reading("poor", 500 + 100000, "Wh", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "charge_unpaid"));
    free(text);
    CU_ASSERT_EQUAL(balance("poor"), 10);
    CU_ASSERT_EQUAL(balance("charger"), charger);
    const char *fund[] = {"fund", "--device", "poor", "--currency", "EUR", "--amount", "50", NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(fund), 0);
    CU_ASSERT_EQUAL(reading("poor", 500 + 100001, "Wh", &text), 0);
    CU_ASSERT_EQUAL(number_after(text, " consumption "), 100001);
    CU_ASSERT_EQUAL(charge_cents(text), 100001ull * PRICE_NUM / PRICE_DEN);
    free(text);
    CU_ASSERT_EQUAL(balance("poor"), 5010 - (int64_t)(100001ull * PRICE_NUM / PRICE_DEN));
    CU_ASSERT_EQUAL(balance("charger"), charger + (int64_t)(100001ull * PRICE_NUM / PRICE_DEN));
    /* Two units at 10^12 cents each: over the largest single amount. */
    CU_ASSERT_EQUAL(bind("big", "dc-1", "huge", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("big", 0, "Wh", &text), 0);
    free(text);
    CU_ASSERT_EQUAL(reading("big", 2, "Wh", &text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "charge_too_large"));
    free(text);
    CU_ASSERT_EQUAL(balance("big"), 100);
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
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    charges c = {0, 0, true};
    fogpay_transfer_filter f = {.limit = 1000};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &f, charges_visit, &c), FOGPAY_OK);
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_tariff FOGPAY_AGENT FOGPAYCTL\n");
        return 2;
    }
    agent_bin = argv[1];
    fogpayctl_bin = argv[2];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("tariff", suite_init, suite_clean);
    CU_add_test(s, "gateway starts", test_start);
    CU_add_test(s, "tariffs defined online; bindings and their refusals",
                test_tariffs_and_bindings);
    CU_add_test(s, "a session: a reading a minute, charges sum to floor(total * price)",
                test_session);
    CU_add_test(s, "every reading refusal moves nothing; unpaid is charged once later",
                test_refusals);
    CU_add_test(s, "the chain holds the charges and events; the ledger verifies",
                test_ledger_agrees);
    return testutil_run();
}
