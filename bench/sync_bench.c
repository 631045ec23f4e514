/*
 * sync_bench.c - what upstream sync costs and how fast it catches up,
 * measured side by side in one run on real components: Mosquitto with the
 * fogpay plugin as the gateway, a plain Mosquitto as the cloud broker, the
 * Mosquitto bridge between them, fogpay-ingest on a SQLite store.
 *
 *   drain       a gateway ledger with a backlog of N transfers (default
 *               100,000) starts with sync on: transfers per second until the
 *               cloud holds them all, for each batch size and window tried;
 *   settlement  one device's signed intents pushed as fast as the gateway
 *               takes them (QoS 1, up to 1,000 in flight), receipts counted:
 *               intents settled per second with sync off and with sync on
 *               (the cloud draining beside it), alternated, and their ratio.
 *
 * Usage: sync_bench FOGPAY-INGEST FOGPAY-CLOUD [BACKLOG [INTENTS]]
 * with FOGPAY_PLUGIN naming the plugin (meson's `bench` target sets both).
 * Prints a table; never fails on a timing.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "store.h"
#include "testutil.h"

#define EUR           978
#define INTENTS_MAX   200000
#define INFLIGHT_MAX  1000
#define DRAIN_WAIT_MS 600000
#define ROUNDS        2

static const char *ingest_bin;
static const char *cloud_bin;
static char work[TEST_BROKER_DIR_MAX];
static char store_conninfo[FOGPAY_STORE_CONNINFO_MAX];
static char cloud_key_path[TEST_BROKER_PATH_MAX];
static char cloud_key_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
static test_broker cloud;
static pid_t ingest_pid;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "sync_bench: %s\n", what);
    exit(1);
}

/* ---- the cloud ------------------------------------------------------------ */

static void cloud_start(void)
{
    snprintf(cloud_key_path, sizeof cloud_key_path, "%s/cloud.key", work);
    char pub[TEST_BROKER_PATH_MAX];
    snprintf(pub, sizeof pub, "%s/cloud.pub", work);
    snprintf(store_conninfo, sizeof store_conninfo, "sqlite:%s/cloud.db", work);
    const char *keygen[] = {cloud_bin, "keygen", "--out", cloud_key_path, NULL};
    const char *init[] = {cloud_bin, "--store", store_conninfo, "init", NULL};
    if (testutil_command(keygen, pub) != 0 || testutil_command(init, NULL) != 0) {
        die("fogpay-cloud keygen or init failed");
    }
    char *text = testutil_read_file(pub, NULL);
    if (!text) {
        die("no cloud public key");
    }
    text[strcspn(text, "\r\n")] = '\0';
    snprintf(cloud_key_text, sizeof cloud_key_text, "%s", text);
    free(text);
    if (!test_broker_init(&cloud) ||
        !test_broker_start(&cloud, "allow_anonymous true\nset_tcp_nodelay true\n")) {
        die("the cloud broker did not start");
    }
    char uri[64], log[TEST_BROKER_PATH_MAX];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", cloud.port);
    snprintf(log, sizeof log, "%s/ingest.log", work);
    ingest_pid = fork();
    if (ingest_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(ingest_bin, ingest_bin, "--broker", uri, "--store", store_conninfo, "--key",
              cloud_key_path, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        char *all = testutil_read_file(log, NULL);
        bool ready = all && strstr(all, "fogpay-ingest: ready");
        free(all);
        if (ready) {
            return;
        }
        testutil_sleep_ms(50);
    }
    die("fogpay-ingest did not become ready");
}

static uint64_t cloud_position(const char *gateway_id)
{
    fogpay_store *s = NULL;
    fogpay_store_gateway row;
    uint64_t position = 0;
    if (fogpay_store_open(store_conninfo, false, &s) == FOGPAY_OK &&
        fogpay_store_gateway_get(s, gateway_id, &row) == FOGPAY_OK) {
        position = row.position;
    }
    fogpay_store_close(s);
    return position;
}

/* ---- gateways ------------------------------------------------------------- */

typedef struct gateway {
    char id[FOGPAY_GATEWAY_ID_MAX + 1];
    test_broker broker;
    char db[TEST_BROKER_PATH_MAX];
    char key_path[TEST_BROKER_PATH_MAX];
    fogpay_key *payer_key;
    uint8_t prev[FOGPAY_PREV_HASH_BYTES]; /* dev-a's chain: its last signed intent */
} gateway;

/* A ledger with a legal entity, dev-a (funded) and dev-b, plus backlog
 * further funding transfers, written in one transaction. The gateway key is
 * registered with the cloud. */
static void gateway_provision(gateway *g, const char *id, uint64_t backlog)
{
    snprintf(g->id, sizeof g->id, "%s", id);
    memset(g->prev, 0, sizeof g->prev);
    if (!test_broker_init(&g->broker)) {
        die("no broker directory");
    }
    test_broker_path(&g->broker, "ledger.db", g->db, sizeof g->db);
    test_broker_path(&g->broker, "gateway.key", g->key_path, sizeof g->key_path);
    fogpay_key *key = NULL;
    char key_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK ||
        fogpay_key_save(key, g->key_path, false) != FOGPAY_OK ||
        fogpay_key_public_text(key, key_text, sizeof key_text) != FOGPAY_OK) {
        die("gateway key");
    }
    fogpay_key_free(key);
    const char *add[] = {cloud_bin, "--store",      store_conninfo, "add-gateway", "--id",
                         g->id,     "--public-key", key_text,       NULL};
    if (testutil_command(add, NULL) != 0) {
        die("fogpay-cloud add-gateway failed");
    }
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(g->db, true, &l) != FOGPAY_OK) {
        die("ledger");
    }
    fogpay_entity_personal p = {"Bench Energy AG", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_device_limits none = {0, 0, 0};
    fogpay_key *b_key = NULL;
    fogpay_transfer t;
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    fogpay_password_hash("bench", 5, 1000, hash, sizeof hash);
    if (fogpay_ledger_entity_create(l, &p, 1000, entity) != FOGPAY_OK ||
        fogpay_key_generate(FOGPAY_ALG_EDDSA, &g->payer_key) != FOGPAY_OK ||
        fogpay_key_generate(FOGPAY_ALG_EDDSA, &b_key) != FOGPAY_OK ||
        fogpay_ledger_device_register(l, "dev-a", g->payer_key, hash, entity, &none, 1000) !=
            FOGPAY_OK ||
        fogpay_ledger_device_register(l, "dev-b", b_key, hash, entity, &none, 1000) != FOGPAY_OK ||
        fogpay_ledger_fund(l, "dev-a", EUR, 100000000000ull, "bench", 2000, &t) != FOGPAY_OK) {
        die("provisioning");
    }
    fogpay_key_free(b_key);
    if (backlog > 0) {
        fogpay_ledger_begin(l);
        for (uint64_t i = 0; i < backlog; i++) {
            if (fogpay_ledger_fund(l, "dev-b", EUR, 1, "backlog", 3000 + i, &t) != FOGPAY_OK) {
                die("backlog");
            }
        }
        if (fogpay_ledger_commit(l) != FOGPAY_OK) {
            die("backlog commit");
        }
    }
    fogpay_ledger_close(l);
}

static void gateway_start(gateway *g, bool sync, unsigned batch, unsigned window)
{
    char conf[TEST_BROKER_CONF_MAX], sync_conf[2048] = "";
    if (sync) {
        snprintf(sync_conf, sizeof sync_conf,
                 "plugin_opt_cloud_key %s\n"
                 "plugin_opt_sync_batch %u\n"
                 "plugin_opt_sync_window %u\n"
                 "connection cloud\n"
                 "address 127.0.0.1:%d\n"
                 "remote_clientid bridge-%s\n"
                 "cleansession false\n"
                 "restart_timeout 1\n"
                 "topic fogpay/v1/gw/%s/batch out 1\n"
                 "topic fogpay/v1/gw/%s/ack in 1\n",
                 cloud_key_text, batch, window, cloud.port, g->id, g->id, g->id);
    }
    snprintf(conf, sizeof conf,
             "allow_anonymous false\nset_tcp_nodelay true\nmax_inflight_messages "
             "%d\nmax_queued_messages 0\n"
             "plugin %s\nplugin_opt_database %s\nplugin_opt_gateway_id %s\n"
             "plugin_opt_gateway_key %s\nplugin_opt_currencies EUR\n%s",
             INFLIGHT_MAX, getenv("FOGPAY_PLUGIN"), g->db, g->id, g->key_path, sync_conf);
    if (!test_broker_start(&g->broker, conf)) {
        die("the gateway did not start");
    }
}

/* ---- drain ---------------------------------------------------------------- */

static double drain(uint64_t backlog, unsigned batch, unsigned window, int index)
{
    gateway g;
    char id[32];
    snprintf(id, sizeof id, "gw-drain-%d", index);
    gateway_provision(&g, id, backlog);
    uint64_t total = backlog + 1;
    double t0 = now_s();
    gateway_start(&g, true, batch, window);
    while (cloud_position(g.id) < total) {
        if (now_s() - t0 > DRAIN_WAIT_MS / 1000.0) {
            die("the drain did not finish");
        }
        testutil_sleep_ms(20);
    }
    double rate = (double)total / (now_s() - t0);
    test_broker_cleanup(&g.broker);
    fogpay_key_free(g.payer_key);
    return rate;
}

/* ---- settlement ----------------------------------------------------------- */

typedef struct counter {
    atomic_ulong receipts;
} counter;

static int on_message(void *ctx, char *topic, int topic_len, MQTTClient_message *m)
{
    counter *c = ctx;
    atomic_fetch_add(&c->receipts, 1);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
}

static void on_lost(void *ctx, char *cause)
{
    (void)ctx;
    fprintf(stderr, "sync_bench: connection lost: %s\n", cause ? cause : "");
}

/* Signs count intents of dev-a to dev-b, seqs from first_seq, each linked
 * to the one before. */
static uint8_t (*sign_intents(gateway *g, uint64_t first_seq, size_t count,
                              size_t *lens))[FOGPAY_MESSAGE_MAX]
{
    uint8_t(*out)[FOGPAY_MESSAGE_MAX] = malloc(count * sizeof *out);
    if (!out) {
        die("out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        fogpay_intent in;
        memset(&in, 0, sizeof in);
        memcpy(in.prev_hash, g->prev, sizeof in.prev_hash);
        strcpy(in.device_id, "dev-a");
        in.seq = first_seq + i;
        strcpy(in.payee_device, "dev-b");
        in.amount_minor = 1;
        in.currency = EUR;
        in.created_s = (uint64_t)time(NULL);
        in.ttl_s = 3600;
        uint8_t payload[FOGPAY_MESSAGE_MAX];
        size_t len = 0;
        if (fogpay_intent_encode(&in, payload, sizeof payload, &len) != FOGPAY_OK ||
            fogpay_cose_sign1_sign(g->payer_key, NULL, 0, payload, len, NULL, 0, out[i],
                                   FOGPAY_MESSAGE_MAX, &lens[i]) != FOGPAY_OK) {
            die("signing");
        }
        uint8_t hash[FOGPAY_HASH_BYTES];
        fogpay_sha256(out[i], lens[i], hash);
        memcpy(g->prev, hash, sizeof g->prev);
    }
    return out;
}

/* Publishes count signed intents as fast as the gateway takes them and
 * waits for every receipt; intents settled per second. */
static double settle(gateway *g, uint64_t first_seq, size_t count)
{
    size_t *lens = malloc(count * sizeof *lens);
    uint8_t(*msgs)[FOGPAY_MESSAGE_MAX] = sign_intents(g, first_seq, count, lens);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", g->broker.port);
    MQTTClient c;
    counter n = {0};
    MQTTClient_create(&c, uri, "dev-a", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_setCallbacks(c, &n, on_lost, on_message, NULL);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    opts.username = "dev-a";
    opts.password = "bench";
    opts.maxInflightMessages = INFLIGHT_MAX;
    if (MQTTClient_connect(c, &opts) != MQTTCLIENT_SUCCESS ||
        MQTTClient_subscribe(c, "fogpay/v1/dev/dev-a/receipt", 1) != MQTTCLIENT_SUCCESS) {
        die("the bench device cannot connect");
    }
    double t0 = now_s();
    for (size_t i = 0; i < count; i++) {
        MQTTClient_deliveryToken token;
        int rc;
        while ((rc = MQTTClient_publish(c, "fogpay/v1/dev/dev-a/intent", (int)lens[i], msgs[i], 1,
                                        0, &token)) == MQTTCLIENT_MAX_MESSAGES_INFLIGHT) {
            testutil_sleep_ms(1);
        }
        if (rc != MQTTCLIENT_SUCCESS) {
            die("publish failed");
        }
    }
    while (atomic_load(&n.receipts) < count) {
        if (now_s() - t0 > 300) {
            die("receipts missing");
        }
        testutil_sleep_ms(1);
    }
    double rate = (double)count / (now_s() - t0);
    MQTTClient_disconnect(c, 1000);
    MQTTClient_destroy(&c);
    free(msgs);
    free(lens);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FOGPAY-INGEST FOGPAY-CLOUD [BACKLOG [INTENTS]]\n", argv[0]);
        return 2;
    }
    ingest_bin = argv[1];
    cloud_bin = argv[2];
    uint64_t backlog = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
    size_t intents = argc > 4 ? strtoul(argv[4], NULL, 10) : 20000;
    if (backlog == 0 || intents == 0 || intents > INTENTS_MAX || !getenv("FOGPAY_PLUGIN")) {
        fprintf(stderr,
                "sync_bench: BACKLOG and INTENTS (1..%d) must be positive, and "
                "FOGPAY_PLUGIN set\n",
                INTENTS_MAX);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    testutil_tempdir(work, sizeof work);
    cloud_start();

    printf("fogpay sync benchmark: Mosquitto + plugin -> bridge -> Mosquitto -> fogpay-ingest "
           "(SQLite store)\n\n");
    printf("drain of a backlog (transfers/s until the cloud holds all):\n");
    static const struct {
        unsigned batch, window;
        int full;
    } drains[] = {{500, 4, 1}, {100, 4, 0}, {500, 1, 0}, {500, 8, 0}};
    for (size_t i = 0; i < sizeof drains / sizeof drains[0]; i++) {
        uint64_t n = drains[i].full ? backlog : backlog / 5;
        double rate = drain(n, drains[i].batch, drains[i].window, (int)i);
        printf("  %7llu transfers, batch %3u, window %u: %9.0f transfers/s\n",
               (unsigned long long)n, drains[i].batch, drains[i].window, rate);
        fflush(stdout);
    }

    printf("\nsettlement, %zu signed intents per round, QoS 1, %d in flight:\n", intents,
           INFLIGHT_MAX);
    gateway off, on;
    gateway_provision(&off, "gw-sync-off", 0);
    gateway_provision(&on, "gw-sync-on", 0);
    gateway_start(&off, false, 500, 4);
    gateway_start(&on, true, 500, 4);
    double sum_off = 0, sum_on = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = settle(&off, 1 + (uint64_t)r * intents, intents);
        double b = settle(&on, 1 + (uint64_t)r * intents, intents);
        printf("  round %d: sync off %8.0f/s   sync on %8.0f/s   on/off %.2f\n", r + 1, a, b,
               b / a);
        fflush(stdout);
        sum_off += a;
        sum_on += b;
    }
    printf("  mean:    sync off %8.0f/s   sync on %8.0f/s   on/off %.2f\n", sum_off / ROUNDS,
           sum_on / ROUNDS, sum_on / sum_off);
    uint64_t want = 1 + (uint64_t)ROUNDS * intents;
    double t0 = now_s();
    while (cloud_position(on.id) < want && now_s() - t0 < 120) {
        testutil_sleep_ms(50);
    }
    printf("  the cloud holds %llu of %llu transfers of the synced gateway\n",
           (unsigned long long)cloud_position(on.id), (unsigned long long)want);

    test_broker_cleanup(&off.broker);
    test_broker_cleanup(&on.broker);
    kill(ingest_pid, SIGTERM);
    waitpid(ingest_pid, NULL, 0);
    test_broker_cleanup(&cloud);
    testutil_rmtree(work);
    return 0;
}
