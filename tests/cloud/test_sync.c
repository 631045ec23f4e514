/*
 * test_sync.c - upstream sync end to end, with nothing simulated: two
 * gateways (Mosquitto with the fogpay plugin, each bridged to the cloud
 * broker as deploy/mosquitto.conf shows), a cloud broker (plain Mosquitto),
 * real fogpay-ingest processes and the cloud store, devices paying through
 * fogpay-agent. The whole suite runs twice: on a SQLite store file, then on
 * a throwaway PostgreSQL server (skipped, with the reason printed, only
 * where PostgreSQL cannot run).
 *
 *   - both gateways' transfers reach the cloud row for row (the cloud's
 *     export equals each gateway's own export) and the cloud verifies;
 *   - partition: the cloud broker is stopped under traffic, settlement goes
 *     on, and after it returns nothing is lost, doubled or out of order;
 *   - an ingest process killed with SIGKILL mid-burst and restarted; two
 *     ingest processes sharing the subscription;
 *   - fees: a payment to a payee with a fee schedule settles through the
 *     plugin as one position of two legs, a schedule that cannot apply
 *     refuses with its reason and moves nothing, and the cloud's copy
 *     gives every account the ledger's balance, summing to zero;
 *   - holds: an EV session's hold captured with the platform's fee leg and
 *     the rest released, another left to expire on the tick, a third
 *     paying the session's readings (kind 18, split by the fee schedule)
 *     and then captured, all in the cloud with every account's balance
 *     equal to the ledger's;
 *   - financing: a financed device sold mid-plan, its instalments collected
 *     on the tick and attributed to the owner when each fell due, its
 *     arrears entered and cleared, what is left settled early; the same
 *     sums per owner in the ledger, the JSON export and the cloud store;
 *   - financing: a device's plan of 12 instalments created by the operator
 *     online, every instalment paid by the device itself (fogpay-agent
 *     pay-instalment, from the retained plan notice); the cloud's copy
 *     holds the 12, summing to principal plus interest exactly, and every
 *     account has the ledger's balance, as the agent has its wallet's; a
 *     plan limiting its device to a named payee has them in the cloud;
 *   - batches published by hand on the cloud broker: a duplicate is acked
 *     stored again and stored once, a flipped byte and an unknown key get no
 *     ack, a gap gets a resend from the right position, a fork is refused.
 *
 * argv: fogpay-agent, fogpayctl, fogpay-ingest, fogpay-cloud; FOGPAY_PLUGIN
 * the plugin. Gateways are provisioned through the ledger API before their
 * brokers start, and read through it while they run (WAL allows a second
 * connection).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <cjson/cJSON.h>

#include "agent_fixture.h"
#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "ledger.h"
#include "pg.h"
#include "store.h"
#include "testutil.h"

#define EUR         978
#define GATEWAYS    2
#define INGESTS_MAX 2
/* Longest wait for the cloud to catch up: the gateways' sync timeout is
 * 1 s and doubles while the cloud is away, so a few seconds of partition
 * are made up well within this. */
#define SYNC_WAIT_MS 60000
/* How long a batch that must not be acked is given to be acked anyway. */
#define NO_ACK_WAIT_MS 1500
/* A signed batch: the largest payload and its COSE_Sign1 around it. */
#define SIGNED_BATCH_MAX (FOGPAY_BATCH_BYTES_MAX + 256)

static const char *agent_bin;
static const char *ctl_bin;
static const char *ingest_bin;
static const char *cloud_bin;

/* A gateway: its broker, ledger, key and operator as the agent tests
 * have theirs (agent_fixture.h), and where its key is. */
typedef struct gateway {
    const char *id;
    agent_fixture fx;
    char key_path[TEST_BROKER_PATH_MAX];
} gateway;

static gateway gws[GATEWAYS] = {{.id = "gw-north"}, {.id = "gw-south"}};
static test_broker cloud;
static char work[TEST_BROKER_DIR_MAX];
static char store_conninfo[FOGPAY_STORE_CONNINFO_MAX];
static char cloud_key_path[TEST_BROKER_PATH_MAX];
static char cloud_key_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
static pid_t ingest_pid[INGESTS_MAX];
static test_pg pg;
static bool pg_running;

static void path_work(const char *name, char *out)
{
    snprintf(out, TEST_BROKER_PATH_MAX, "%s/%s", work, name);
}

static void gw_path(const gateway *g, const char *name, char *out)
{
    test_broker_path(&g->fx.broker, name, out, TEST_BROKER_PATH_MAX);
}

/* ---- the cloud: store, broker, ingest ------------------------------------ */

static int cloud_tool(const char *out_path, const char *a1, const char *a2, const char *a3,
                      const char *a4, const char *a5)
{
    const char *argv[] = {cloud_bin, "--store", store_conninfo, a1, a2, a3, a4, a5, NULL};
    return testutil_command(argv, out_path);
}

/* Starts ingest process i with its log in work/ingest-<i>.log and waits for
 * its ready line. */
static bool ingest_start(int i)
{
    char log[TEST_BROKER_PATH_MAX], name[32], broker_uri[64], client_id[32];
    snprintf(name, sizeof name, "ingest-%d.log", i);
    path_work(name, log);
    snprintf(broker_uri, sizeof broker_uri, "tcp://127.0.0.1:%d", cloud.port);
    snprintf(client_id, sizeof client_id, "ingest-%d", i);
    size_t mark = 0;
    char *before = testutil_read_file(log, &mark);
    free(before);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(ingest_bin, ingest_bin, "--broker", broker_uri, "--store", store_conninfo, "--key",
              cloud_key_path, "--client-id", client_id, (char *)NULL);
        _exit(127);
    }
    ingest_pid[i] = pid;
    for (uint64_t end = testutil_now_ms() + 15000; testutil_now_ms() < end;) {
        size_t len = 0;
        char *text = testutil_read_file(log, &len);
        bool ready = text && len > mark && strstr(text + mark, "fogpay-ingest: ready");
        free(text);
        if (ready) {
            return true;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            ingest_pid[i] = 0;
            break;
        }
        testutil_sleep_ms(50);
    }
    fprintf(stderr, "ingest %d did not become ready; its log:\n", i);
    char *text = testutil_read_file(log, NULL);
    fprintf(stderr, "%s\n", text ? text : "(none)");
    free(text);
    return false;
}

static void ingest_signal(int i, int sig)
{
    if (ingest_pid[i] > 0) {
        kill(ingest_pid[i], sig);
        waitpid(ingest_pid[i], NULL, 0);
        ingest_pid[i] = 0;
    }
}

/* Count of lines of ingest i's log that contain text. */
static int ingest_log_count(int i, const char *text)
{
    char log[TEST_BROKER_PATH_MAX], name[32];
    snprintf(name, sizeof name, "ingest-%d.log", i);
    path_work(name, log);
    char *all = testutil_read_file(log, NULL);
    int n = 0;
    for (char *p = all; p && (p = strstr(p, text)) != NULL; p += strlen(text)) {
        n++;
    }
    free(all);
    return n;
}

/* ---- gateways ------------------------------------------------------------- */

/* Provisions gateway g (key, ledger with a legal entity and two funded
 * devices), registers its key with the cloud and starts its broker with the
 * plugin, sync and the bridge to the cloud broker. */
static bool gateway_start(gateway *g)
{
    g->fx.agent_bin = agent_bin;
    g->fx.ctl_bin = ctl_bin;
    if (!agent_fixture_init(&g->fx)) {
        return false;
    }
    gw_path(g, "gateway.key", g->key_path);
    /* The operator "ops" (password "ops-pass") for fogpayctl online. */
    char operators[TEST_BROKER_PATH_MAX];
    gw_path(g, "operators", operators);
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(g->fx.db_path, true, &l) != FOGPAY_OK) {
        return false;
    }
    fogpay_entity_personal p = {"Example Vending GmbH", "ops@example.invalid", NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(l, &p, 1000, entity), FOGPAY_OK);
    agent_fixture_register(&g->fx, l, "dev-a", entity, 1000000);
    agent_fixture_register(&g->fx, l, "dev-b", entity, 100);
    fogpay_ledger_close(l);
    if (cloud_tool(NULL, "add-gateway", "--id", g->id, "--public-key", g->fx.gateway_text) != 0) {
        return false;
    }
    char conf[TEST_BROKER_CONF_MAX];
    snprintf(conf, sizeof conf,
             "allow_anonymous false\n"
             "plugin %s\n"
             "plugin_opt_database %s\n"
             "plugin_opt_gateway_id %s\n"
             "plugin_opt_gateway_key %s\n"
             "plugin_opt_currencies EUR\n"
             "plugin_opt_operators %s\n"
             "plugin_opt_cloud_key %s\n"
             "plugin_opt_sync_batch 8\n"
             "plugin_opt_sync_interval 50\n"
             "plugin_opt_sync_window 4\n"
             "plugin_opt_sync_timeout 1000\n"
             "connection cloud\n"
             "address 127.0.0.1:%d\n"
             "remote_clientid bridge-%s\n"
             "cleansession false\n"
             "restart_timeout 1\n"
             "topic fogpay/v1/gw/%s/batch out 1\n"
             "topic fogpay/v1/gw/%s/ack in 1\n",
             getenv("FOGPAY_PLUGIN"), g->fx.db_path, g->id, g->key_path, operators, cloud_key_text,
             cloud.port, g->id, g->id, g->id);
    return test_broker_start(&g->fx.broker, conf);
}

/* Runs fogpay-agent as dev-a of gateway g with the subcommand words in
 * tail (NULL-terminated); returns its pid when background, else waits and
 * returns the exit status, its output in out_path (NULL: the test's). */
static int agent_run_to(gateway *g, const char *const *tail, bool background, pid_t *pid_out,
                        const char *out_path)
{
    if (!background) {
        return agent_fixture_command(&g->fx, "dev-a", tail, out_path);
    }
    *pid_out = agent_fixture_spawn(&g->fx, "dev-a", NULL, NULL, tail);
    return 0;
}

static int agent_run(gateway *g, const char *const *tail, bool background, pid_t *pid_out)
{
    return agent_run_to(g, tail, background, pid_out, NULL);
}

/* dev-a pays dev-b count times on gateway g. */
static int agent_pay(gateway *g, int count, bool background, pid_t *pid_out)
{
    char count_text[16];
    snprintf(count_text, sizeof count_text, "%d", count);
    const char *tail[] = {"pay",        "--to", "dev-b",   "--amount", "0.25",
                          "--currency", "EUR",  "--count", count_text, NULL};
    return agent_run(g, tail, background, pid_out);
}

/* Where a gateway's two chains stand: in its ledger, in its acked sync
 * state, and in the cloud store. */
typedef struct positions {
    uint64_t head, acked, cloud;
    uint64_t event_head, event_acked, event_cloud;
} positions;

static positions positions_of(const gateway *g)
{
    positions p = {0};
    fogpay_ledger *l = NULL;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sync_state st = {0};
    if (fogpay_ledger_open(g->fx.db_path, false, &l) == FOGPAY_OK) {
        fogpay_ledger_chain_head(l, &p.head, hash);
        fogpay_ledger_event_head(l, &p.event_head, hash);
        fogpay_ledger_sync_get(l, &st);
        p.acked = st.acked_position;
        p.event_acked = st.acked_event_position;
        fogpay_ledger_close(l);
    }
    fogpay_store *s = NULL;
    fogpay_store_gateway row;
    if (fogpay_store_open(store_conninfo, false, &s) == FOGPAY_OK &&
        fogpay_store_gateway_get(s, g->id, &row) == FOGPAY_OK) {
        p.cloud = row.position;
        p.event_cloud = row.event_position;
    }
    fogpay_store_close(s);
    return p;
}

/* The transfer position the cloud store holds for g (0 when none). */
static uint64_t cloud_position(const gateway *g)
{
    return positions_of(g).cloud;
}

/* Waits until the cloud holds both of g's chains whole and g knows it (its
 * acked positions are its heads). */
static bool sync_wait(const gateway *g)
{
    positions p = {0};
    for (uint64_t end = testutil_now_ms() + SYNC_WAIT_MS; testutil_now_ms() < end;
         testutil_sleep_ms(100)) {
        p = positions_of(g);
        if (p.head > 0 && p.acked == p.head && p.cloud == p.head && p.event_head > 0 &&
            p.event_acked == p.event_head && p.event_cloud == p.event_head) {
            return true;
        }
    }
    fprintf(stderr,
            "\n%s after %d ms: transfers head %llu, acked %llu, cloud %llu; events head %llu, "
            "acked %llu, cloud %llu\n",
            g->id, SYNC_WAIT_MS, (unsigned long long)p.head, (unsigned long long)p.acked,
            (unsigned long long)p.cloud, (unsigned long long)p.event_head,
            (unsigned long long)p.event_acked, (unsigned long long)p.event_cloud);
    test_broker_dump_log(&g->fx.broker);
    return false;
}

/* Runs two exports (gateway, cloud) into files and asserts they are the
 * same bytes, and not empty. */
static void compare_exports(const gateway *g, const char *ctl_command, const char *cloud_command)
{
    char ours[TEST_BROKER_PATH_MAX], theirs[TEST_BROKER_PATH_MAX];
    gw_path(g, "export.csv", ours);
    path_work("cloud-export.csv", theirs);
    const char *export_argv[] = {ctl_bin,    "--db", g->fx.db_path, ctl_command,
                                 "--format", "csv",  NULL};
    CU_ASSERT_EQUAL(testutil_command(export_argv, ours), 0);
    CU_ASSERT_EQUAL(cloud_tool(theirs, cloud_command, "--gateway", g->id, "--format", "csv"), 0);
    size_t ours_len = 0, theirs_len = 0;
    char *a = testutil_read_file(ours, &ours_len);
    char *b = testutil_read_file(theirs, &theirs_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(ours_len > 0);
    bool same = ours_len == theirs_len && memcmp(a, b, ours_len) == 0;
    CU_ASSERT(same);
    if (!same) {
        fprintf(stderr, "\n%s: gateway %s:\n%s\ncloud %s:\n%s\n", g->id, ctl_command, a,
                cloud_command, b);
    }
    free(a);
    free(b);
}

/* The gateway's own CSV exports of both chains equal the cloud's, row for
 * row, and both the cloud store and the gateway ledger verify. */
static void compare_with_cloud(const gateway *g)
{
    compare_exports(g, "export", "transfers");
    compare_exports(g, "export-events", "events");
    CU_ASSERT_EQUAL(cloud_tool(NULL, "verify", NULL, NULL, NULL, NULL), 0);
    const char *verify_argv[] = {ctl_bin, "--db", g->fx.db_path, "verify", NULL};
    CU_ASSERT_EQUAL(testutil_command(verify_argv, NULL), 0);
}

/* ---- suite set-up, for either store --------------------------------------- */

/* The first test of each suite: the cloud key, store, broker and one
 * ingest process, then both gateways. */
static void test_start(void)
{
    path_work("cloud.key", cloud_key_path);
    char pub[TEST_BROKER_PATH_MAX];
    path_work("cloud.pub", pub);
    const char *keygen[] = {cloud_bin, "keygen", "--out", cloud_key_path, NULL};
    CU_ASSERT_EQUAL_FATAL(testutil_command(keygen, pub), 0);
    char *text = testutil_read_file(pub, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(cloud_key_text, sizeof cloud_key_text, "%s", text);
    free(text);
    CU_ASSERT_EQUAL_FATAL(cloud_tool(NULL, "init", NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_FATAL(test_broker_init(&cloud));
    CU_ASSERT_FATAL(test_broker_start(&cloud, "allow_anonymous true\n"));
    CU_ASSERT_FATAL(ingest_start(0));
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_FATAL(gateway_start(&gws[i]));
    }
}

static int suite_stop(void)
{
    for (int i = 0; i < INGESTS_MAX; i++) {
        ingest_signal(i, SIGTERM);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        agent_fixture_cleanup(&gws[i].fx);
    }
    test_broker_cleanup(&cloud);
    testutil_rmtree(work);
    return 0;
}

static int suite_init_sqlite(void)
{
    testutil_tempdir(work, sizeof work);
    snprintf(store_conninfo, sizeof store_conninfo, "sqlite:%s/cloud.db", work);
    return 0;
}

static int suite_init_postgresql(void)
{
    testutil_tempdir(work, sizeof work);
    return pg_running &&
                   test_pg_create_db(&pg, "fogpay_sync", store_conninfo, sizeof store_conninfo)
               ? 0
               : 1;
}

/* ---- the tests ------------------------------------------------------------ */

/* What the back office must know besides transfers, made on gateway g: a
 * usage reading through the agent, dev-b suspended and resumed, dev-b
 * leased to a second legal entity, and that entity's personal data erased
 * (the last four by the operator's tool's way, the ledger API on the
 * running gateway's file). */
static void make_events(gateway *g)
{
    const char *usage[] = {"usage", "--meter", "m-1", "--quantity", "7", "--unit", "kWh", NULL};
    CU_ASSERT_EQUAL(agent_run(g, usage, false, NULL), 0); /* stored */
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(l, "dev-b", FOGPAY_DEVICE_SUSPENDED, now),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(l, "dev-b", FOGPAY_DEVICE_ACTIVE, now),
                    FOGPAY_OK);
    fogpay_entity_personal p = {"Example Leasing AG", NULL, NULL};
    char lessee[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(l, &p, now, lessee), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(l, "dev-b", lessee, "lessee", now, now),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_erase(l, lessee, now, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* Two gateways settle; the cloud ends with exactly both ledgers, transfers
 * and events. */
static void test_two_gateways(void)
{
    pid_t pid[GATEWAYS];
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_EQUAL(agent_pay(&gws[i], 12 + 8 * i, true, &pid[i]), 0);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_EQUAL(testutil_wait_exit(pid[i]), 0);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        make_events(&gws[i]);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_FATAL(sync_wait(&gws[i]));
        compare_with_cloud(&gws[i]);
    }
    /* Both chains are there: funding (2) plus the payments; and every
     * event of each kind. */
    CU_ASSERT_EQUAL(cloud_position(&gws[0]), 2 + 12);
    CU_ASSERT_EQUAL(cloud_position(&gws[1]), 2 + 20);
    for (int i = 0; i < GATEWAYS; i++) {
        char out[TEST_BROKER_PATH_MAX];
        path_work("cloud-events.json", out);
        CU_ASSERT_EQUAL(cloud_tool(out, "events", "--gateway", gws[i].id, "--format", "json"), 0);
        char *json = testutil_read_file(out, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        for (int kind = FOGPAY_EVENT_REGISTERED; kind <= FOGPAY_EVENT_USAGE; kind++) {
            char needle[32];
            snprintf(needle, sizeof needle, "\"kind\":%d,", kind);
            CU_ASSERT_PTR_NOT_NULL(strstr(json, needle));
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"unit\":\"kWh\""));
        /* The erasure, synced and stored: it names the entity, not its data. */
        CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"kind\":18,"));
        CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"erasedFields\":1"));
        free(json);
    }

    /* The cloud holds pseudonyms, never the entities' personal data: not a
     * byte of the name or contact is in the store's files. */
    if (strncmp(store_conninfo, "sqlite:", 7) == 0) {
        static const char *const files[] = {"", "-wal"};
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            char path[FOGPAY_STORE_CONNINFO_MAX + 8];
            snprintf(path, sizeof path, "%s%s", store_conninfo + 7, files[f]);
            size_t len = 0;
            char *bytes = testutil_read_file(path, &len);
            bool personal = false;
            for (size_t i = 0; bytes && i + 8 <= len && !personal; i++) {
                personal =
                    memcmp(bytes + i, "Example ", 8) == 0 || memcmp(bytes + i, "ops@exam", 8) == 0;
            }
            CU_ASSERT_FALSE(personal);
            free(bytes);
        }
    }
}

/* The cloud broker is away under traffic: the gateways settle on, and all
 * of it arrives, once and in order, when the cloud is back. */
static void test_partition(void)
{
    uint64_t before[GATEWAYS];
    for (int i = 0; i < GATEWAYS; i++) {
        before[i] = cloud_position(&gws[i]);
    }
    test_broker_stop(&cloud);
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_EQUAL(agent_pay(&gws[i], 15, false, NULL), 0); /* settled, every one */
    }
    testutil_sleep_ms(2500); /* several sync timeouts pass without an ack */
    for (int i = 0; i < GATEWAYS; i++) {
        positions p = positions_of(&gws[i]);
        CU_ASSERT_EQUAL(p.head, before[i] + 15);
        CU_ASSERT_EQUAL(p.acked, before[i]); /* the backlog waits, on disk */
        CU_ASSERT_EQUAL(p.cloud, before[i]);
    }
    CU_ASSERT_FATAL(test_broker_restart(&cloud));
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_FATAL(sync_wait(&gws[i]));
        compare_with_cloud(&gws[i]);
    }
}

/* An ingest process killed mid-burst and started again loses nothing.
 * First with no ingest at all while batches go out: the cloud broker has
 * nobody to give them to and drops them, so only the gateway's re-send
 * after its timeout brings them. */
static void test_ingest_killed(void)
{
    uint64_t before = cloud_position(&gws[0]);
    ingest_signal(0, SIGKILL);
    CU_ASSERT_EQUAL(agent_pay(&gws[0], 10, false, NULL), 0);
    testutil_sleep_ms(500);
    CU_ASSERT_EQUAL(cloud_position(&gws[0]), before);
    CU_ASSERT_FATAL(ingest_start(0));
    CU_ASSERT_FATAL(sync_wait(&gws[0]));
    compare_with_cloud(&gws[0]);

    pid_t payer;
    CU_ASSERT_EQUAL(agent_pay(&gws[0], 30, true, &payer), 0);
    testutil_sleep_ms(600);
    ingest_signal(0, SIGKILL);
    testutil_sleep_ms(400);
    CU_ASSERT_FATAL(ingest_start(0));
    CU_ASSERT_EQUAL(testutil_wait_exit(payer), 0);
    CU_ASSERT_FATAL(sync_wait(&gws[0]));
    compare_with_cloud(&gws[0]);
}

/* Two ingest processes share the subscription: both store batches, every
 * transfer is stored once. */
static void test_two_ingests(void)
{
    CU_ASSERT_FATAL(ingest_start(1));
    int stored_before[INGESTS_MAX];
    for (int i = 0; i < INGESTS_MAX; i++) {
        stored_before[i] = ingest_log_count(i, ": stored");
    }
    pid_t pid[GATEWAYS];
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_EQUAL(agent_pay(&gws[i], 24, true, &pid[i]), 0);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_EQUAL(testutil_wait_exit(pid[i]), 0);
    }
    for (int i = 0; i < GATEWAYS; i++) {
        CU_ASSERT_FATAL(sync_wait(&gws[i]));
        compare_with_cloud(&gws[i]);
    }
    for (int i = 0; i < INGESTS_MAX; i++) {
        int stored = ingest_log_count(i, ": stored") - stored_before[i];
        if (stored == 0) {
            fprintf(stderr, "\ningest %d stored no batch while sharing the subscription\n", i);
        }
        CU_ASSERT(stored > 0);
    }
    ingest_signal(1, SIGTERM);
}

/* ---- batches published by hand on the cloud broker ----------------------- */

typedef struct hand {
    MQTTClient client;
    char batch_topic[128];
    char ack_topic[128];
} hand;

static bool hand_open(hand *h, const gateway *g)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", cloud.port);
    snprintf(h->batch_topic, sizeof h->batch_topic, "fogpay/v1/gw/%s/batch", g->id);
    snprintf(h->ack_topic, sizeof h->ack_topic, "fogpay/v1/gw/%s/ack", g->id);
    if (MQTTClient_create(&h->client, uri, "test-hand", MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
        MQTTCLIENT_SUCCESS) {
        return false;
    }
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    return MQTTClient_connect(h->client, &opts) == MQTTCLIENT_SUCCESS &&
           MQTTClient_subscribe(h->client, h->ack_topic, 1) == MQTTCLIENT_SUCCESS;
}

static void hand_close(hand *h)
{
    MQTTClient_disconnect(h->client, 1000);
    MQTTClient_destroy(&h->client);
}

/* Publishes bytes as a batch and waits up to wait_ms for the ack of
 * batch_seq, verified with the cloud key; true when one came. */
static bool hand_send(hand *h, const uint8_t *bytes, size_t len, uint64_t batch_seq,
                      unsigned wait_ms, fogpay_batch_ack *ack)
{
    MQTTClient_deliveryToken token;
    if (MQTTClient_publish(h->client, h->batch_topic, (int)len, bytes, 1, 0, &token) !=
            MQTTCLIENT_SUCCESS ||
        MQTTClient_waitForCompletion(h->client, token, 5000) != MQTTCLIENT_SUCCESS) {
        return false;
    }
    fogpay_key *cloud_key = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_from_public_text(cloud_key_text, &cloud_key), FOGPAY_OK);
    bool found = false;
    for (uint64_t end = testutil_now_ms() + wait_ms; !found && testutil_now_ms() < end;) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        if (MQTTClient_receive(h->client, &topic, &topic_len, &m, 200) != MQTTCLIENT_SUCCESS ||
            m == NULL) {
            continue;
        }
        fogpay_cose_sign1 msg;
        if (fogpay_cose_sign1_parse(m->payload, (size_t)m->payloadlen, &msg) == FOGPAY_OK &&
            fogpay_cose_sign1_verify(&msg, cloud_key, NULL, 0) == FOGPAY_OK &&
            fogpay_batch_ack_decode(msg.payload.ptr, msg.payload.len, ack) == FOGPAY_OK &&
            ack->batch_seq == batch_seq) {
            found = true;
        }
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
    }
    fogpay_key_free(cloud_key);
    return found;
}

typedef struct batch_build {
    fogpay_batch_writer writer;
    fogpay_error err;
} batch_build;

static int batch_add_visit(void *ctx, const fogpay_transfer *t, const uint8_t *hash)
{
    (void)hash;
    batch_build *b = ctx;
    b->err = fogpay_batch_add(&b->writer, t);
    return b->err != FOGPAY_OK;
}

/* Signs a batch of g's real transfers first..last with key (the gateway's
 * own unless another is given), under batch_seq. With amount_delta, the
 * amount of the first record is changed; with shift, every position is
 * moved up by it; the batch's hashes always follow its records, so the
 * batch is consistent in itself (a validly signed fork, or transfers from
 * past the cloud's head). */
static size_t batch_of(const gateway *g, uint64_t first, uint64_t last, uint64_t batch_seq,
                       const char *key_path, uint64_t amount_delta, uint64_t shift, uint8_t *out,
                       size_t cap)
{
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    fogpay_batch_header h = {0};
    snprintf(h.gateway_id, sizeof h.gateway_id, "%s", g->id);
    h.batch_seq = batch_seq;
    h.first_position = first;
    h.last_position = last;
    h.created_ms = 1;
    h.record_count = (uint32_t)(last - first + 1);
    fogpay_transfer t[FOGPAY_BATCH_RECORDS_MAX];
    uint8_t hash[FOGPAY_HASH_BYTES] = {0};
    if (first > 1) {
        fogpay_transfer before;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, first - 1, &before, hash), FOGPAY_OK);
    }
    memcpy(h.hash_before, hash, FOGPAY_HASH_BYTES);
    for (uint64_t p = first; p <= last; p++) {
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, p, &t[p - first], NULL), FOGPAY_OK);
    }
    fogpay_ledger_close(l);
    t[0].amount_minor += amount_delta;
    h.first_position += shift;
    h.last_position += shift;
    for (uint64_t i = 0; i < h.record_count; i++) {
        t[i].position += shift;
    }
    for (uint64_t i = 0; i < h.record_count; i++) {
        uint8_t record[FOGPAY_RECORD_BYTES_MAX],
            joined[FOGPAY_HASH_BYTES + FOGPAY_RECORD_BYTES_MAX];
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t[i], record, sizeof record, &len),
                              FOGPAY_OK);
        memcpy(joined, hash, FOGPAY_HASH_BYTES);
        memcpy(joined + FOGPAY_HASH_BYTES, record, len);
        CU_ASSERT_EQUAL_FATAL(fogpay_sha256(joined, FOGPAY_HASH_BYTES + len, hash), FOGPAY_OK);
    }
    memcpy(h.hash_after, hash, FOGPAY_HASH_BYTES);
    static uint8_t payload[FOGPAY_BATCH_BYTES_MAX];
    batch_build b = {.err = FOGPAY_OK};
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&b.writer, &h, payload, sizeof payload), FOGPAY_OK);
    for (uint64_t i = 0; i < h.record_count; i++) {
        batch_add_visit(&b, &t[i], NULL);
        CU_ASSERT_EQUAL_FATAL(b.err, FOGPAY_OK);
    }
    size_t payload_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_finish(&b.writer, &payload_len), FOGPAY_OK);
    fogpay_key *key = NULL;
    if (key_path) {
        CU_ASSERT_EQUAL_FATAL(fogpay_key_load(key_path, &key), FOGPAY_OK);
    } else {
        CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    }
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_key_id(key, kid);
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, payload_len, NULL, 0, out, cap, &len),
        FOGPAY_OK);
    fogpay_key_free(key);
    return len;
}

static void test_hand_batches(void)
{
    gateway *g = &gws[0];
    CU_ASSERT_FATAL(sync_wait(g));
    uint64_t head = cloud_position(g);
    CU_ASSERT_FATAL(head >= 5);
    hand h;
    CU_ASSERT_FATAL(hand_open(&h, g));
    static uint8_t bytes[SIGNED_BATCH_MAX];
    fogpay_batch_ack ack;

    /* A duplicate of stored transfers: acked stored again, stored once. */
    size_t len = batch_of(g, head - 3, head, 9001, g->key_path, 0, 0, bytes, sizeof bytes);
    memset(&ack, 0, sizeof ack);
    CU_ASSERT_FATAL(hand_send(&h, bytes, len, 9001, 10000, &ack));
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_STORED);
    CU_ASSERT_EQUAL(ack.stored_position, head);
    CU_ASSERT_EQUAL(cloud_position(g), head);

    /* One flipped byte in the payload: the signature fails, no ack. */
    len = batch_of(g, head - 1, head, 9002, g->key_path, 0, 0, bytes, sizeof bytes);
    bytes[len / 2] ^= 0x01;
    CU_ASSERT_FALSE(hand_send(&h, bytes, len, 9002, NO_ACK_WAIT_MS, &ack));

    /* Signed by a key the cloud does not know for this gateway: no ack. */
    len = batch_of(g, head - 1, head, 9003, NULL, 0, 0, bytes, sizeof bytes);
    CU_ASSERT_FALSE(hand_send(&h, bytes, len, 9003, NO_ACK_WAIT_MS, &ack));

    /* A fork: the same positions with another amount, validly signed. */
    len = batch_of(g, head - 1, head, 9004, g->key_path, 1, 0, bytes, sizeof bytes);
    memset(&ack, 0, sizeof ack);
    CU_ASSERT_FATAL(hand_send(&h, bytes, len, 9004, 10000, &ack));
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_REFUSED);
    CU_ASSERT_EQUAL(ack.reason, FOGPAY_ERR_CHAIN_MISMATCH);

    /* A gap: a consistent, validly signed batch that starts two positions
     * past the cloud's head. */
    len = batch_of(g, head - 1, head, 9005, g->key_path, 0, 3, bytes, sizeof bytes);
    memset(&ack, 0, sizeof ack);
    CU_ASSERT_FATAL(hand_send(&h, bytes, len, 9005, 10000, &ack));
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_RESEND);
    CU_ASSERT_EQUAL(ack.resend_from, head + 1);
    CU_ASSERT_EQUAL(ack.stored_position, head);
    CU_ASSERT_EQUAL(cloud_position(g), head);
    hand_close(&h);

    /* Nothing of it was stored; the gateway, which saw every ack through
     * its bridge, still settles and syncs. */
    CU_ASSERT_EQUAL(agent_pay(g, 3, false, NULL), 0);
    CU_ASSERT_FATAL(sync_wait(g));
    CU_ASSERT_EQUAL(cloud_position(g), head + 3);
    compare_with_cloud(g);
}

/* What the cloud's copy of g's chain says each account holds: every leg
 * of every transfer, summed, in minor units; accounts numbered below
 * FEES_ACCOUNTS_MAX. */
#define FEES_ACCOUNTS_MAX 64
typedef struct cloud_balances {
    int64_t balance[FEES_ACCOUNTS_MAX];
    uint64_t last;
    uint64_t legs;
    bool out_of_range;
} cloud_balances;

static int cloud_balances_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                                const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    cloud_balances *b = ctx;
    for (uint32_t i = 0; i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        if (leg.debit_account >= FEES_ACCOUNTS_MAX || leg.credit_account >= FEES_ACCOUNTS_MAX) {
            b->out_of_range = true;
            return 1;
        }
        b->balance[leg.debit_account] -= (int64_t)leg.amount_minor;
        b->balance[leg.credit_account] += (int64_t)leg.amount_minor;
    }
    b->legs += t->leg_count;
    b->last = t->position;
    return 0;
}

static cloud_balances cloud_balances_of(const gateway *g)
{
    cloud_balances b;
    memset(&b, 0, sizeof b);
    fogpay_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_open(store_conninfo, false, &s), FOGPAY_OK);
    for (uint64_t before = UINT64_MAX; before != b.last && !b.out_of_range;) {
        before = b.last;
        fogpay_store_filter f = {
            .gateway_id = g->id, .after_gateway = g->id, .after_position = b.last};
        CU_ASSERT_EQUAL(fogpay_store_transfers(s, &f, cloud_balances_visit, &b), FOGPAY_OK);
    }
    fogpay_store_close(s);
    CU_ASSERT_FALSE(b.out_of_range);
    return b;
}

/* Synced: the cloud verifies, exports the same rows as g's ledger l up to
 * its head, and its copy gives every account the ledger's balance, with
 * a fee leg at least, summing to zero. */
static void cloud_agrees(const gateway *g, fogpay_ledger *l, uint64_t head)
{
    CU_ASSERT_FATAL(sync_wait(g));
    compare_with_cloud(g);
    cloud_balances cb = cloud_balances_of(g);
    CU_ASSERT_EQUAL(cb.last, head);
    CU_ASSERT(cb.legs >= 1);
    int64_t sum = 0;
    for (uint64_t id = 1; id < FEES_ACCOUNTS_MAX; id++) {
        int64_t balance = 0;
        fogpay_error err = fogpay_ledger_balance(l, id, &balance);
        CU_ASSERT(err == FOGPAY_OK || err == FOGPAY_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(cb.balance[id], err == FOGPAY_OK ? balance : 0);
        sum += cb.balance[id];
    }
    CU_ASSERT_EQUAL(sum, 0);
}

/* A fee schedule on gateway 0: dev-b's payments give 3% to a platform
 * operator's account. dev-a pays dev-b 30.01 through the agent: one chain
 * position of two legs (29.10 and 0.91, the remainder's cent to the
 * platform as the schedule names it); a schedule whose fee leg credits
 * the payer's own wallet refuses the next payment with fee_leg_payer and
 * moves nothing. The cloud's copy, synced and verified, gives every account
 * the ledger's balance, and the balances sum to zero. */
static void test_fees(void)
{
    gateway *g = &gws[0];
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    fogpay_entity_personal p = {"Platform Operator SE", NULL, NULL};
    char platform[FOGPAY_ENTITY_ID_MAX + 1];
    uint64_t platform_account = 0, wallet_a = 0, wallet_b = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, now, platform), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, platform, EUR, &platform_account),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(l, "dev-b", EUR, &wallet_b), FOGPAY_OK);
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    snprintf(f.payee_device, sizeof f.payee_device, "dev-b");
    f.currency = EUR;
    f.effective_ms = now - 1000;
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){platform_account, 300};
    f.remainder_leg = 1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(l, &f, now, NULL), FOGPAY_OK);
    int64_t a_before = 0, b_before = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_a, &a_before), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_b, &b_before), FOGPAY_OK);
    fogpay_ledger_close(l);

    const char *pay[] = {"pay", "--to", "dev-b", "--amount", "30.01", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(agent_run(g, pay, false, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(l, head, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 1);
    CU_ASSERT_EQUAL(t.credit_account, wallet_b);
    CU_ASSERT_EQUAL(t.amount_minor, 2910);
    CU_ASSERT_EQUAL(t.legs[0].credit_account, platform_account);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 91);
    int64_t a = 0, b = 0, fee = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_a, &a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_b, &b), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, platform_account, &fee), FOGPAY_OK);
    CU_ASSERT_EQUAL(a, a_before - 3001);
    CU_ASSERT_EQUAL(b, b_before + 2910);
    CU_ASSERT_EQUAL(fee, 91);

    /* A later schedule whose fee leg is the payer's own wallet. */
    f.effective_ms = now;
    f.legs[0] = (fogpay_fee_leg){wallet_a, 300};
    f.remainder_leg = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(l, &f, now, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
    char out[TEST_BROKER_PATH_MAX];
    gw_path(g, "fee-refused.txt", out);
    CU_ASSERT_EQUAL(agent_run_to(g, pay, false, NULL, out), 3);
    char *text = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL(text != NULL ? strstr(text, "fee_leg_payer") : NULL);
    free(text);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t head_after = 0;
    int64_t a_after = 0, b_after = 0, fee_after = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &head_after, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head_after, head);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_a, &a_after), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet_b, &b_after), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, platform_account, &fee_after), FOGPAY_OK);
    CU_ASSERT(a_after == a && b_after == b && fee_after == fee);

    cloud_agrees(g, l, head);
    /* A schedule without legs ends dev-b's fees for the tests after. */
    f.leg_count = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(l, &f, now, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* The instalments to account in the cloud's copy of g (the store's rows
 * carry kind and accounts; the plan is in the record): count and sum. */
typedef struct cloud_instalments {
    uint64_t account;
    uint32_t count;
    uint64_t sum_minor;
    uint64_t last;
} cloud_instalments;

static int cloud_instalments_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                                   const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    cloud_instalments *c = ctx;
    if (t->kind == FOGPAY_TRANSFER_INSTALMENT && t->credit_account == c->account) {
        c->count++;
        c->sum_minor += t->amount_minor;
    }
    c->last = t->position;
    return 0;
}

static cloud_instalments cloud_instalments_of(const gateway *g, uint64_t account)
{
    cloud_instalments c = {.account = account};
    fogpay_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_open(store_conninfo, false, &s), FOGPAY_OK);
    for (uint64_t before = UINT64_MAX; before != c.last;) {
        before = c.last;
        fogpay_store_filter f = {
            .gateway_id = g->id, .after_gateway = g->id, .after_position = c.last};
        CU_ASSERT_EQUAL(fogpay_store_transfers(s, &f, cloud_instalments_visit, &c), FOGPAY_OK);
    }
    fogpay_store_close(s);
    return c;
}

/* fogpayctl online on g as the operator, with args (NULL-terminated). */
static int operator_run(gateway *g, const char *const *args)
{
    return agent_fixture_operator_logged(&g->fx, args);
}

/* The first number after key at the start of a line of dev-a's status. */
static long long agent_status_value(gateway *g, const char *key)
{
    return agent_fixture_status(&g->fx, "dev-a", NULL, key);
}

/* Gateway 1's dev-a financed: 1200.00 EUR at 950 bp in 12 instalments of
 * 30 days, all paid by the device now (early); the ledger, the cloud and
 * the agent agree, and the instalments sum to principal plus interest
 * exactly (11243 cents: README's worked example). */
static void test_financing(void)
{
    gateway *g = &gws[1];
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    fogpay_entity_personal p = {"Charger Finance AG", NULL, NULL};
    char lender[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, (uint64_t)time(NULL) * 1000u, lender),
                          FOGPAY_OK);
    fogpay_ledger_close(l);
    const char *create[] = {"plan",
                            "create",
                            "--plan",
                            "dev-a-loan",
                            "--device",
                            "dev-a",
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
                            "2592000000",
                            "--grace-ms",
                            "259200000",
                            NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(g, create), 0);
    const char *pay[] = {"pay-instalment", NULL};
    for (int i = 0; i < 12; i++) {
        CU_ASSERT_EQUAL(agent_run(g, pay, false, NULL), 0);
    }
    CU_ASSERT_EQUAL(agent_run(g, pay, false, NULL), 5); /* paid off: refused on the device */
    CU_ASSERT_FATAL(sync_wait(g));
    compare_with_cloud(g);
    cloud_balances cb = cloud_balances_of(g);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t lender_account = 0, wallet = 0;
    int64_t lent = 0, balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(l, lender, EUR, &lender_account), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(l, "dev-a", EUR, &wallet), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, lender_account, &lent), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(l, wallet, &balance), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(lent, 120000 + 11243);
    cloud_instalments c = cloud_instalments_of(g, lender_account);
    CU_ASSERT_EQUAL(c.count, 12);
    CU_ASSERT_EQUAL(c.sum_minor, 120000 + 11243);
    CU_ASSERT_FATAL(lender_account < FEES_ACCOUNTS_MAX && wallet < FEES_ACCOUNTS_MAX);
    CU_ASSERT_EQUAL(cb.balance[lender_account], lent);
    CU_ASSERT_EQUAL(cb.balance[wallet], balance);
    CU_ASSERT_EQUAL(agent_status_value(g, "balance EUR "), balance);
    CU_ASSERT_EQUAL(agent_status_value(g, "plan_left "), 0);

    /* A plan limiting dev-b to dev-a in arrears: its payees go upstream
     * with its event (key 37). */
    const char *limit[] = {"plan",
                           "create",
                           "--plan",
                           "dev-b-loan",
                           "--device",
                           "dev-b",
                           "--lender",
                           lender,
                           "--currency",
                           "EUR",
                           "--principal",
                           "10.00",
                           "--rate-basis-points",
                           "0",
                           "--instalments",
                           "2",
                           "--period-ms",
                           "2592000000",
                           "--shortfall",
                           "limit",
                           "--allowed-payee",
                           "dev-a",
                           NULL};
    CU_ASSERT_EQUAL_FATAL(operator_run(g, limit), 0);
    CU_ASSERT_FATAL(sync_wait(g));
    compare_with_cloud(g);
    char out[TEST_BROKER_PATH_MAX];
    path_work("cloud-plan-events.json", out);
    CU_ASSERT_EQUAL(cloud_tool(out, "events", "--gateway", g->id, "--format", "json"), 0);
    char *json = testutil_read_file(out, NULL);
    CU_ASSERT_PTR_NOT_NULL(json);
    CU_ASSERT_PTR_NOT_NULL(json ? strstr(json, "\"plan\":\"dev-b-loan\"") : NULL);
    CU_ASSERT_PTR_NOT_NULL(json ? strstr(json, "\"payees\":[\"dev-a\"]") : NULL);
    free(json);
}

/* dev-a's authorisation of 30.00 to dev-b for hold_s on gateway g, through
 * the agent; the hold's id from its output. */
static uint64_t session_hold(gateway *g, const char *hold_s)
{
    char out[TEST_BROKER_PATH_MAX];
    gw_path(g, "authorise.txt", out);
    const char *authorise[] = {"authorise",  "--to", "dev-b",    "--amount", "30.00",
                               "--currency", "EUR",  "--hold-s", hold_s,     NULL};
    CU_ASSERT_EQUAL(agent_run_to(g, authorise, false, NULL, out), 0);
    char *text = testutil_read_file(out, NULL);
    const char *at = text != NULL ? strstr(text, " hold ") : NULL;
    uint64_t id = at != NULL ? strtoull(at + 6, NULL, 10) : 0;
    free(text);
    return id;
}

/* dev-a's readings of meter m-sync through the agent, from quantity on
 * by step each; the exit statuses summed (0: all answered). */
static int session_readings(gateway *g, uint64_t quantity, uint64_t step, int count)
{
    int status = 0;
    for (int i = 0; i < count; i++, quantity += step) {
        char q[24];
        snprintf(q, sizeof q, "%llu", (unsigned long long)quantity);
        const char *usage[] = {"usage", "--meter", "m-sync", "--quantity", q, "--unit", "Wh", NULL};
        status += agent_run(g, usage, false, NULL);
    }
    return status;
}

/* A session paid from its hold on gateway g: dev-a binds m-sync to dev-b's
 * tariff and the hold, a baseline and two readings of 20000 Wh each charge
 * 7.83 from the hold (kind 18, split by dev-b's schedule), the operator
 * captures 1.00 and 12.34 goes back. The hold charges' count. */
static uint64_t session_from_hold(gateway *g, uint64_t hold)
{
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    fogpay_tariff t = {.tariff_id = "ev-sync",
                       .device_id = "dev-b",
                       .unit = "Wh",
                       .price_num = 3917,
                       .price_den = 100000,
                       .currency = EUR,
                       .effective_ms = (uint64_t)time(NULL) * 1000u - 1000};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_tariff_define(l, &t, t.effective_ms + 1000), FOGPAY_OK);
    fogpay_ledger_close(l);
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)hold);
    const char *bind[] = {"bind", "--meter", "m-sync", "--tariff", "ev-sync", "--hold", id, NULL};
    CU_ASSERT_EQUAL(agent_run(g, bind, false, NULL), 0);
    CU_ASSERT_EQUAL(session_readings(g, 1000, 20000, 3), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    fogpay_hold h;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_get(l, hold, &h), FOGPAY_OK);
    CU_ASSERT_EQUAL(h.charged_minor, 783 + 783);
    const fogpay_hold_actor by_operator = {NULL, 0, NULL};
    fogpay_hold_result r;
    CU_ASSERT_EQUAL(
        fogpay_ledger_hold_capture(l, hold, 100, &by_operator, (uint64_t)time(NULL) * 1000u, &r),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(r.release.amount_minor, 3000 - 783 - 783 - 100);
    uint64_t charges = 0;
    uint64_t position = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &position, hash), FOGPAY_OK);
    for (uint64_t p = hold; p <= position; p++) {
        fogpay_transfer x;
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(l, p, &x, NULL), FOGPAY_OK);
        charges += x.kind == FOGPAY_TRANSFER_HOLD_CHARGE && x.related_position == hold;
    }
    fogpay_ledger_close(l);
    return charges;
}

/* The EV session's endings on gateway 0, in the cloud: a hold of 30.00
 * captured at 4.17 by the operator, split by dev-b's schedule (0.12 to
 * the platform) with 25.83 released; a hold of a second expired by the
 * tick; a hold paying the session's readings, then captured. The cloud's
 * copy gives every account the ledger's balance. */
static void test_session_holds(void)
{
    gateway *g = &gws[0];
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    fogpay_entity_personal p = {"Charging Platform SE", NULL, NULL};
    char platform[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    snprintf(f.payee_device, sizeof f.payee_device, "dev-b");
    f.currency = EUR;
    f.effective_ms = now;
    f.leg_count = 1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, now, platform), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, platform, EUR, &f.legs[0].account),
                          FOGPAY_OK);
    f.legs[0].basis_points = 300;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(l, &f, now, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
    uint64_t captured = session_hold(g, "600"), expiring = session_hold(g, "1");
    CU_ASSERT_FATAL(captured != 0 && expiring != 0 && captured != expiring);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    const fogpay_hold_actor by_operator = {NULL, 0, NULL};
    fogpay_hold_result r;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(l, captured, 417, &by_operator,
                                               (uint64_t)time(NULL) * 1000u, &r),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.leg_count, 1);
    CU_ASSERT_EQUAL(r.transfer.legs[0].amount_minor, 12);
    CU_ASSERT_EQUAL(r.release.amount_minor, 3000 - 417);
    fogpay_ledger_close(l);
    /* The tick expires it on the broker's connection; each look is a
     * connection of its own, so it reads the database, not a memory of it. */
    fogpay_hold h = {.state = FOGPAY_HOLD_OPEN};
    for (uint64_t end = testutil_now_ms() + SYNC_WAIT_MS;
         h.state == FOGPAY_HOLD_OPEN && testutil_now_ms() < end; testutil_sleep_ms(100)) {
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_ledger_hold_get(l, expiring, &h), FOGPAY_OK);
        fogpay_ledger_close(l);
    }
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_EXPIRED);
    uint64_t paying = session_hold(g, "600");
    CU_ASSERT_FATAL(paying != 0);
    CU_ASSERT_EQUAL(session_from_hold(g, paying), 2);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &head, hash), FOGPAY_OK);
    cloud_agrees(g, l, head);
    f.leg_count = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(l, &f, now, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* ---- financing: collections, arrears, resale, early settlement --------- */

#define FIN_PERIOD_MS 60000ull

/* What the chains hold of plan fin-loan: each transfer of the plan's
 * kinds (11 to 13) summed by the entity that owed it, and the arrears
 * events. */
typedef struct fin_sums {
    const char *entity[2];
    uint64_t lender_account; /* the cloud's rows: the plan's transfers are those to it */
    uint64_t paid[2];
    size_t collections;
    size_t settlements;
    size_t entered;
    size_t cleared;
} fin_sums;

static void fin_add(fin_sums *f, const fogpay_transfer *t)
{
    if (strcmp(t->plan_id, "fin-loan") != 0) {
        return;
    }
    f->collections += t->kind == FOGPAY_TRANSFER_COLLECTION;
    f->settlements += t->kind == FOGPAY_TRANSFER_EARLY_SETTLEMENT;
    for (int i = 0; i < 2; i++) {
        if (strcmp(t->payer_entity, f->entity[i]) == 0) {
            f->paid[i] += fogpay_transfer_total(t);
        }
    }
}

static int fin_cloud_transfer(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                              const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    fin_sums *f = ctx;
    /* The store's columns carry no plan: the plan's kinds to its lender. */
    fogpay_transfer row = *t;
    bool planned = t->kind >= FOGPAY_TRANSFER_INSTALMENT && t->kind <= FOGPAY_TRANSFER_COLLECTION;
    if (planned && t->credit_account == f->lender_account) {
        snprintf(row.plan_id, sizeof row.plan_id, "fin-loan");
    }
    fin_add(f, &row);
    return 0;
}

static int fin_cloud_event(void *ctx, const char *gateway_id, const fogpay_event *e,
                           const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    fin_sums *f = ctx;
    f->entered += e->kind == FOGPAY_EVENT_ARREARS_ENTERED && strcmp(e->plan_id, "fin-loan") == 0;
    f->cleared += e->kind == FOGPAY_EVENT_ARREARS_CLEARED && strcmp(e->plan_id, "fin-loan") == 0;
    return 0;
}

static int fin_ledger_transfer(void *ctx, const fogpay_transfer *t,
                               const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)hash;
    fin_add(ctx, t);
    return 0;
}

/* The sums of the cloud store's copy of g: the back office's queries,
 * every transfer of each owner (payer or payee) to the lender's account
 * and every event naming the device fin-c. */
static fin_sums fin_cloud(const gateway *g, const char *a, const char *b, uint64_t lender_account)
{
    fin_sums f = {.entity = {a, b}, .lender_account = lender_account};
    fogpay_store *s = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_open(store_conninfo, false, &s), FOGPAY_OK);
    for (int i = 0; i < 2; i++) {
        fogpay_store_filter of = {.gateway_id = g->id, .entity_id = f.entity[i]};
        CU_ASSERT_EQUAL(fogpay_store_transfers(s, &of, fin_cloud_transfer, &f), FOGPAY_OK);
    }
    fogpay_store_filter events = {.gateway_id = g->id, .device_id = "fin-c"};
    CU_ASSERT_EQUAL(fogpay_store_events(s, &events, fin_cloud_event, &f), FOGPAY_OK);
    fogpay_store_close(s);
    return f;
}

/* The same sums from fogpayctl's JSON export of g's ledger. */
static fin_sums fin_export(const gateway *g, const char *a, const char *b)
{
    fin_sums f = {.entity = {a, b}};
    char out[TEST_BROKER_PATH_MAX];
    gw_path(g, "export.json", out);
    const char *argv[] = {ctl_bin, "--db", g->fx.db_path, "export", "--format", "json", NULL};
    CU_ASSERT_EQUAL(testutil_command(argv, out), 0);
    char *text = testutil_read_file(out, NULL);
    cJSON *all = text != NULL ? cJSON_Parse(text) : NULL;
    CU_ASSERT_FATAL(cJSON_IsArray(all));
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, all)
    {
        const cJSON *plan = cJSON_GetObjectItem(item, "plan");
        const cJSON *payer = cJSON_GetObjectItem(item, "payerEntity");
        const cJSON *kind = cJSON_GetObjectItem(item, "kind");
        const cJSON *amount = cJSON_GetObjectItem(item, "amount"); /* "1.00" EUR */
        if (!cJSON_IsString(plan) || strcmp(plan->valuestring, "fin-loan") != 0 ||
            !cJSON_IsString(payer) || !cJSON_IsNumber(kind)) {
            continue;
        }
        fogpay_transfer t = {.kind = (uint8_t)kind->valueint};
        snprintf(t.plan_id, sizeof t.plan_id, "%s", plan->valuestring);
        snprintf(t.payer_entity, sizeof t.payer_entity, "%s", payer->valuestring);
        for (const char *c = cJSON_IsString(amount) ? amount->valuestring : ""; *c; c++) {
            t.amount_minor =
                *c == '.' ? t.amount_minor : t.amount_minor * 10 + (uint64_t)(*c - '0');
        }
        fin_add(&f, &t);
    }
    cJSON_Delete(all);
    free(text);
    return f;
}

/* Waits until fin-c's plan has count collections and open arrears
 * (true) or none; each look is a connection of its own. */
static int fin_open_visit(void *ctx, const fogpay_plan_arrears *a)
{
    (void)a;
    (*(size_t *)ctx)++;
    return 0;
}

static bool fin_wait(const gateway *g, size_t collections, bool in_arrears)
{
    for (uint64_t end = testutil_now_ms() + SYNC_WAIT_MS; testutil_now_ms() < end;
         testutil_sleep_ms(100)) {
        fogpay_ledger *l = NULL;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
        fin_sums f = {.entity = {"", ""}};
        fogpay_transfer_filter tf = {.device_id = "fin-c"};
        size_t open = 0;
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &tf, fin_ledger_transfer, &f), FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(l, "fin-c", true, fin_open_visit, &open),
                        FOGPAY_OK);
        fogpay_ledger_close(l);
        if (f.collections == collections && (open == 1) == in_arrears) {
            return true;
        }
    }
    test_broker_dump_log(&g->fx.broker);
    return false;
}

/* Resale mid-plan on gateway 1. fin-c (owner a) is financed from 2.5
 * periods ago, 6.00 EUR in 6 instalments of 1.00 collected by the gateway;
 * it was sold to b effective 1.5 periods ago, so instalment 1 fell due
 * with a and instalment 2 with b. Its wallet pays instalment 1 and not 2:
 * arrears (event 13); funded, the tick collects 2 and clears them (event
 * 14); then b settles what is left early (kind 12: the four principals).
 * In the ledger, in fogpayctl's JSON export and in the cloud store (both
 * engines) instalment 1 is a's and the rest b's; the cloud agrees. */
static void test_financing_resale(void)
{
    gateway *g = &gws[1];
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    char a[FOGPAY_ENTITY_ID_MAX + 1], b[FOGPAY_ENTITY_ID_MAX + 1], lender[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_entity_personal pa = {"First Owner GmbH", NULL, NULL};
    fogpay_entity_personal pb = {"Second Owner BV", NULL, NULL};
    fogpay_entity_personal pl = {"Charger Finance SA", NULL, NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &pa, now, a), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &pb, now, b), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &pl, now, lender), FOGPAY_OK);
    agent_fixture_register(&g->fx, l, "fin-c", a, 150);
    uint64_t start = now - 5 * FIN_PERIOD_MS / 2;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_ownership_change(l, "fin-c", b, "owner", start + 3 * FIN_PERIOD_MS / 2, now),
        FOGPAY_OK);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "fin-loan");
    snprintf(p.device_id, sizeof p.device_id, "fin-c");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 600;
    p.instalment_count = 6;
    p.period_ms = FIN_PERIOD_MS;
    p.collect = true;
    p.effective_ms = start;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, now), FOGPAY_OK);
    fogpay_ledger_close(l);

    CU_ASSERT_FATAL(fin_wait(g, 1, true));
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_fund(l, "fin-c", EUR, 1000, "top-up", now, &t), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_FATAL(fin_wait(g, 2, false));
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(g->fx.db_path, false, &l), FOGPAY_OK);
    now = (uint64_t)time(NULL) * 1000u;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(l, "fin-loan", false, now, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.amount_minor, 400);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, b);
    fogpay_plan_statement st;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(l, "fin-loan", a, now, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 1);
    CU_ASSERT_EQUAL(st.paid_minor, 100);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(l, "fin-loan", b, now, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 2);
    CU_ASSERT_EQUAL(st.paid_minor, 500);
    fin_sums ledger = {.entity = {a, b}};
    fogpay_transfer_filter tf = {.device_id = "fin-c"};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, &tf, fin_ledger_transfer, &ledger), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &head, hash), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(ledger.paid[0], 100);
    CU_ASSERT_EQUAL(ledger.paid[1], 500);
    CU_ASSERT_EQUAL(ledger.collections, 2);
    CU_ASSERT_EQUAL(ledger.settlements, 1);

    fin_sums exported = fin_export(g, a, b);
    CU_ASSERT_EQUAL(exported.paid[0], 100);
    CU_ASSERT_EQUAL(exported.paid[1], 500);
    CU_ASSERT_EQUAL(exported.collections, 2);
    CU_ASSERT_EQUAL(exported.settlements, 1);

    CU_ASSERT_FATAL(sync_wait(g));
    compare_with_cloud(g);
    fin_sums stored = fin_cloud(g, a, b, t.credit_account);
    CU_ASSERT_EQUAL(stored.paid[0], 100);
    CU_ASSERT_EQUAL(stored.paid[1], 500);
    CU_ASSERT_EQUAL(stored.collections, 2);
    CU_ASSERT_EQUAL(stored.settlements, 1);
    CU_ASSERT_EQUAL(stored.entered, 1);
    CU_ASSERT_EQUAL(stored.cleared, 1);
}

static void add_tests(CU_pSuite s)
{
    CU_add_test(s, "start the cloud and two gateways", test_start);
    CU_add_test(s, "two gateways reach the cloud row for row", test_two_gateways);
    CU_add_test(s, "partition: settlement goes on, nothing lost or doubled", test_partition);
    CU_add_test(s, "ingest killed with SIGKILL mid-burst", test_ingest_killed);
    CU_add_test(s, "two ingest processes share the subscription", test_two_ingests);
    CU_add_test(s, "a payment with a fee: two legs at one position, in the cloud", test_fees);
    CU_add_test(s,
                "an EV session's holds, captured with a fee, expired and paying readings, in "
                "the cloud",
                test_session_holds);
    CU_add_test(s, "financing: resale mid-plan, arrears, early settlement, in the cloud",
                test_financing_resale);
    CU_add_test(s, "a device's 12 instalments, paid by itself, in the cloud", test_financing);
    CU_add_test(s, "duplicate, flipped byte, unknown key, fork, gap", test_hand_batches);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s FOGPAY-AGENT FOGPAYCTL FOGPAY-INGEST FOGPAY-CLOUD\n", argv[0]);
        return 2;
    }
    agent_bin = argv[1];
    ctl_bin = argv[2];
    ingest_bin = argv[3];
    cloud_bin = argv[4];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    add_tests(CU_add_suite("sync on a SQLite store", suite_init_sqlite, suite_stop));
    pg_running = test_pg_start(&pg);
    if (pg_running) {
        add_tests(CU_add_suite("sync on a PostgreSQL store", suite_init_postgresql, suite_stop));
    } else {
        printf("PostgreSQL suite skipped: PostgreSQL cannot run here (the reason is above)\n");
    }
    int rc = testutil_run();
    if (pg_running) {
        test_pg_stop(&pg);
    }
    return rc;
}
