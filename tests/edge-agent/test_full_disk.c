/*
 * test_full_disk.c - the edge agent whose own disk fills up, against a real
 * Mosquitto with the real plugin on loopback: the state directory is a
 * small tmpfs, filled with a filler file once an intent is journaled, so
 * that saving the balance of its receipt fails with ENOSPC. The receipt
 * is then not applied: the intent stays pending and the status keeps the
 * balance the device recorded. Once the filler is deleted, the connected
 * agent resends the unanswered intent after its timeout, without a
 * reconnect, and the gateway's repeat of the receipt is applied.
 *
 * The gateway's ledger is on a tmpfs of its own: filled, the gateway's
 * group commit fails and the receipt is withheld; an agent in run mode
 * gets it, on the same connection, once the filler is deleted.
 *
 * Needs root for the mount; exits 77 (skipped) when the mount fails.
 * FOGPAY_PLUGIN names the plugin.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent_fixture.h"
#include "broker.h"
#include "ledger.h"
#include "testutil.h"

#define EUR  978
#define FUND 10000

static agent_fixture fx;
static char fs_dir[TEST_BROKER_PATH_MAX];
static char filler[TEST_BROKER_PATH_MAX + 16];
static char gw_dir[TEST_BROKER_PATH_MAX];
static char gw_filler[TEST_BROKER_PATH_MAX + 16];
static bool gw_mounted;
static bool mounted;
static bool fill_on_journal;

/* Writes the filler until the file system has no block left. */
static void fill_disk_with(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    static uint8_t block[4096];
    while (write(fd, block, sizeof block) > 0) {
    }
    CU_ASSERT_EQUAL(errno, ENOSPC);
    close(fd);
}

static void fill_disk(void)
{
    fill_disk_with(filler);
}

static void on_journaled(void *ctx, uint64_t seq, uint8_t kind)
{
    (void)ctx;
    (void)seq;
    (void)kind;
    if (fill_on_journal) {
        fill_disk();
    }
}

static int64_t gateway_balance(const char *device)
{
    return agent_fixture_balance(&fx, device, NULL);
}

static void test_start(void)
{
    /* The gateway's ledger on its own small file system. */
    CU_ASSERT_FATAL(snprintf(fx.db_path, sizeof fx.db_path, "%s/ledger.db", gw_dir) <
                    (int)sizeof fx.db_path);
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal p = {"Example Charging Ltd", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity), FOGPAY_OK);
    agent_fixture_register(&fx, l, "dev-f", entity, FUND);
    agent_fixture_register(&fx, l, "dev-p", entity, FUND);
    fogpay_ledger_close(l);
    agent_fixture_start(&fx, "gw-test", NULL);
}

static void open_agent(fogpay_agent **a)
{
    static char state[TEST_BROKER_PATH_MAX + 16], key[TEST_BROKER_PATH_MAX];
    snprintf(state, sizeof state, "%s/state", fs_dir);
    agent_fixture_path(&fx, "dev-f.key", key);
    fogpay_agent_config cfg = {.state_dir = state,
                               .key_path = key,
                               .device_id = "dev-f",
                               .gateway_key = fx.gateway_text,
                               .port = fx.broker.port,
                               .password = "dev-f",
                               .timeout_ms = 300,
                               .journaled = on_journaled};
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_open(&cfg, a), FOGPAY_OK);
}

static int64_t agent_balance(const fogpay_agent *a)
{
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    return s.balance_count == 1 ? s.balances[0].balance_minor : -1;
}

static void test_full_state_disk(void)
{
    fogpay_agent *a = NULL;
    open_agent(&a);
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_connect(a), FOGPAY_OK);
    fogpay_agent_outcome o;
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_pay(a, "dev-p", 100, EUR, NULL, &o), FOGPAY_OK);
    CU_ASSERT_EQUAL(agent_balance(a), FUND - 100);
    /* The disk fills between the journal's fsync and the receipt. */
    fill_on_journal = true;
    CU_ASSERT_NOT_EQUAL(fogpay_agent_pay(a, "dev-p", 100, EUR, NULL, &o), FOGPAY_OK);
    fill_on_journal = false;
    CU_ASSERT_EQUAL(gateway_balance("dev-f"), FUND - 200); /* settled at the gateway */
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.pending, 1);
    CU_ASSERT_EQUAL(agent_balance(a), FUND - 100); /* what the device recorded */
    /* Space returns; the connected agent resends and applies the repeat. */
    CU_ASSERT_EQUAL(unlink(filler), 0);
    CU_ASSERT_EQUAL(fogpay_agent_drain(a, 10000), FOGPAY_OK);
    CU_ASSERT(fogpay_agent_connected(a));
    CU_ASSERT_EQUAL(agent_balance(a), FUND - 200);
    fogpay_agent_close(a);
    open_agent(&a);
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL(agent_balance(a), FUND - 200);
    fogpay_agent_close(a);
}

/* Lines of the broker's log that tell of device's connection. */
static int broker_connections(const char *device)
{
    char *log = testutil_read_file(fx.broker.log_path, NULL);
    char needle[64];
    snprintf(needle, sizeof needle, "as %s ", device);
    int n = 0;
    for (char *p = log; p && (p = strstr(p, "New client connected")) != NULL; p++) {
        char *end = strchr(p, '\n');
        char *at = strstr(p, needle);
        n += at && (!end || at < end);
    }
    free(log);
    return n;
}

static volatile sig_atomic_t run_stop;

/* Deletes the gateway's filler after a second, and stops run after ten
 * more, which it must not need. */
static void *free_gateway_disk(void *arg)
{
    (void)arg;
    testutil_sleep_ms(1000);
    unlink(gw_filler);
    for (int i = 0; i < 100 && !run_stop; i++) {
        testutil_sleep_ms(100);
    }
    run_stop = 1;
    return NULL;
}

static void test_full_gateway_disk(void)
{
    fogpay_agent *a = NULL;
    open_agent(&a);
    CU_ASSERT_EQUAL_FATAL(fogpay_agent_connect(a), FOGPAY_OK);
    int connections = broker_connections("dev-f");
    int64_t before = gateway_balance("dev-f");
    fill_disk_with(gw_filler);
    fogpay_agent_outcome o;
    CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-p", 100, EUR, NULL, &o), FOGPAY_ERR_TIMEOUT);
    CU_ASSERT(fogpay_agent_connected(a));
    CU_ASSERT(connections > 0);
    char *log = testutil_read_file(fx.broker.log_path, NULL);
    CU_ASSERT_PTR_NOT_NULL(log ? strstr(log, "device messages failed") : NULL);
    free(log);
    pthread_t t;
    run_stop = 0;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, free_gateway_disk, NULL), 0);
    CU_ASSERT_EQUAL(fogpay_agent_run(a, &run_stop, true), FOGPAY_OK);
    bool drained = !run_stop;
    run_stop = 1;
    pthread_join(t, NULL);
    CU_ASSERT(drained);
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL(gateway_balance("dev-f"), before - 100);
    CU_ASSERT_EQUAL(agent_balance(a), before - 100);
    CU_ASSERT_EQUAL(broker_connections("dev-f"), connections); /* no reconnect */
    fogpay_agent_close(a);
}

static int suite_init(void)
{
    if (!agent_fixture_init(&fx)) {
        return 1;
    }
    agent_fixture_path(&fx, "agent-fs", fs_dir);
    snprintf(filler, sizeof filler, "%s/filler", fs_dir);
    if (mkdir(fs_dir, 0700) != 0) {
        return 1;
    }
    mounted = mount("tmpfs", fs_dir, "tmpfs", 0, "size=512k,mode=0700") == 0;
    agent_fixture_path(&fx, "gateway-fs", gw_dir);
    snprintf(gw_filler, sizeof gw_filler, "%s/filler", gw_dir);
    if (mkdir(gw_dir, 0700) != 0) {
        return 1;
    }
    gw_mounted = mount("tmpfs", gw_dir, "tmpfs", 0, "size=4m,mode=0700") == 0;
    return mounted && gw_mounted ? 0 : 1;
}

static int suite_clean(void)
{
    test_broker_stop(&fx.broker);
    if (mounted) {
        umount(fs_dir);
    }
    if (gw_mounted) {
        umount(gw_dir);
    }
    agent_fixture_cleanup(&fx);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("agent_full_disk", suite_init, suite_clean);
    CU_add_test(s, "gateway starts", test_start);
    CU_add_test(s, "a full device disk: the receipt waits, then applies", test_full_state_disk);
    CU_add_test(s, "a full gateway disk: run resends and settles", test_full_gateway_disk);
    /* A trial mount decides whether the test can run here at all. */
    char probe[256];
    testutil_tempdir(probe, sizeof probe);
    if (mount("tmpfs", probe, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "mounting a tmpfs failed (%s): skipped\n", strerror(errno));
        testutil_rmtree(probe);
        return 77;
    }
    umount(probe);
    testutil_rmtree(probe);
    return testutil_run();
}
