/*
 * gateway_harness.c - the broker for the whole-handler fuzz target: the
 * Mosquitto broker-API functions the plugin calls, a recorder of what it
 * publishes, and the scratch ledger (gateway_harness.h).
 *
 * The MQTT 5 property functions are libmosquitto's own (linked), so the
 * plugin reads response topics and correlation data as in the broker.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "fogpay_password.h"
#include "gateway_harness.h"
#include "ledger.h"

/* The broker API has no context argument: the one harness of the process. */
static harness *harness_current;

/* Callbacks the plugin registered, by event (MOSQ_EVT_* are small). */
#define HARNESS_EVENTS 16
static MOSQ_FUNC_generic_callback harness_callbacks[HARNESS_EVENTS];
static void *harness_user_data[HARNESS_EVENTS];
/* The plugin's identifier, as the broker would hand it out. */
static int harness_plugin_identity;

static _Noreturn void harness_fail(const char *what, const char *detail)
{
    fprintf(stderr, "gateway harness: %s: %s\n", what, detail);
    exit(1);
}

/* ---- The broker API the plugin calls ---------------------------------- */

/* The broker's header declares it without the attribute. */
void mosquitto_log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void mosquitto_log_printf(int level, const char *fmt, ...)
{
    /* Formatted even when not printed, so the sanitizers see every
     * argument read; printed when FUZZ_GATEWAY_LOG is set (to replay a
     * crash with the plugin's own account of it). */
    static int print = -1;
    if (print < 0) {
        print = getenv("FUZZ_GATEWAY_LOG") != NULL;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (print) {
        fprintf(stderr, "log %d: %s\n", level, line);
    }
}

const char *mosquitto_client_id(const struct mosquitto *client)
{
    return client ? client->id : NULL;
}

const char *mosquitto_client_username(const struct mosquitto *client)
{
    return client ? client->username : NULL;
}

void *mosquitto_malloc(size_t size)
{
    return malloc(size);
}

void mosquitto_free(void *mem)
{
    free(mem);
}

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
                                MOSQ_FUNC_generic_callback cb_func, const void *event_data,
                                void *userdata)
{
    (void)event_data;
    if (identifier == NULL || event < 0 || event >= HARNESS_EVENTS || harness_callbacks[event]) {
        return MOSQ_ERR_INVAL;
    }
    harness_callbacks[event] = cb_func;
    harness_user_data[event] = userdata;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
                                  MOSQ_FUNC_generic_callback cb_func, const void *event_data)
{
    (void)identifier;
    (void)event_data;
    if (event < 0 || event >= HARNESS_EVENTS || harness_callbacks[event] != cb_func) {
        return MOSQ_ERR_NOT_FOUND;
    }
    harness_callbacks[event] = NULL;
    harness_user_data[event] = NULL;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
    (void)with_will;
    if (clientid == NULL) {
        return MOSQ_ERR_INVAL;
    }
    harness_current->kicks++;
    return MOSQ_ERR_SUCCESS;
}

/* Records a copy of one publish; the broker's own checks on its arguments
 * are made here too. */
static int harness_record(const char *clientid, const char *topic, int payloadlen,
                          const void *payload)
{
    harness *h = harness_current;
    if (topic == NULL || payloadlen < 0 || (payloadlen > 0 && payload == NULL)) {
        return MOSQ_ERR_INVAL;
    }
    if (h->published_count == h->published_cap) {
        size_t cap = h->published_cap ? 2 * h->published_cap : 64;
        harness_publish *grown = realloc(h->published, cap * sizeof *grown);
        if (!grown) {
            harness_fail("recording a publish", "out of memory");
        }
        h->published = grown;
        h->published_cap = cap;
    }
    harness_publish *p = &h->published[h->published_count];
    p->topic = strdup(topic);
    p->client_id = clientid ? strdup(clientid) : NULL;
    p->len = (size_t)payloadlen;
    p->payload = malloc(p->len > 0 ? p->len : 1);
    if (!p->topic || !p->payload || (clientid && !p->client_id)) {
        harness_fail("recording a publish", "out of memory");
    }
    if (p->len > 0) {
        memcpy(p->payload, payload, p->len);
    }
    p->in_transaction = h->gw != NULL && h->gw->in_transaction;
    h->published_count++;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_broker_publish(const char *clientid, const char *topic, int payloadlen, void *payload,
                             int qos, bool retain, mosquitto_property *properties)
{
    (void)qos;
    (void)retain;
    int rc = harness_record(clientid, topic, payloadlen, payload);
    if (rc == MOSQ_ERR_SUCCESS) {
        /* The broker owns both now, and frees them when delivered. */
        mosquitto_free(payload);
        mosquitto_property_free_all(&properties);
    }
    return rc;
}

int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen,
                                  const void *payload, int qos, bool retain,
                                  mosquitto_property *properties)
{
    (void)qos;
    (void)retain;
    int rc = harness_record(clientid, topic, payloadlen, payload);
    if (rc == MOSQ_ERR_SUCCESS) {
        mosquitto_property_free_all(&properties);
    }
    return rc;
}

/* ---- The scratch directory and ledger --------------------------------- */

static void harness_path(harness *h, char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", h->dir, name);
    if (n < 0 || (size_t)n >= cap) {
        harness_fail("scratch path too long", h->dir);
    }
}

static void harness_check(fogpay_error err, const char *what)
{
    if (err != FOGPAY_OK) {
        harness_fail(what, fogpay_error_name(err));
    }
}

/* Registers the devices (one with limits, one on P-256, one with a rotated
 * key) and funds each wallet in both currencies. */
static void harness_provision(harness *h, fogpay_ledger *l)
{
    fogpay_entity_personal p = {.name = "fuzz owner", .contact = NULL, .bank_ref = NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    harness_check(fogpay_ledger_entity_create(l, &p, 1000, entity), "entity");
    static const fogpay_device_limits limited = {5000, 20000, 2000000};
    for (int i = 0; i < HARNESS_DEVICES; i++) {
        snprintf(h->device_id[i], sizeof h->device_id[i], "dev-%d", i);
        fogpay_alg alg = i == 2 ? FOGPAY_ALG_ES256 : FOGPAY_ALG_EDDSA;
        harness_check(fogpay_key_generate(alg, &h->device_key[i]), "device key");
        fogpay_key *first = h->device_key[i];
        if (i == HARNESS_ROTATED_DEVICE) {
            harness_check(fogpay_key_generate(FOGPAY_ALG_EDDSA, &h->retired_key), "key");
            first = h->retired_key;
        }
        harness_check(fogpay_ledger_device_register(l, h->device_id[i], first, NULL, entity,
                                                    i == 1 ? &limited : NULL, 1000),
                      "register");
        if (i == HARNESS_ROTATED_DEVICE) {
            harness_check(
                fogpay_ledger_device_rotate_key(l, h->device_id[i], h->device_key[i], 2000),
                "rotate");
        }
        static const uint16_t currencies[] = {978, 840};
        for (size_t c = 0; c < sizeof currencies / sizeof currencies[0]; c++) {
            fogpay_transfer t;
            harness_check(fogpay_ledger_fund(l, h->device_id[i], currencies[c],
                                             HARNESS_FUNDING_MINOR, "seed", 3000, &t),
                          "fund");
        }
    }
}

static void harness_make_template(harness *h)
{
    fogpay_ledger *l = NULL;
    harness_check(fogpay_ledger_open(h->template_path, true, &l), "template ledger");
    harness_provision(h, l);
    fogpay_ledger_close(l);
}

static void harness_write_operators(harness *h, const char *path)
{
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    harness_check(fogpay_password_hash("pw", 2, FOGPAY_PASSWORD_ITERATIONS_MIN, hash, sizeof hash),
                  "operator password");
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s:%s\n", HARNESS_OPERATOR, hash) < 0 || fclose(f) != 0) {
        harness_fail("operators file", path);
    }
    (void)h;
}

static void harness_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    if (!in || !out) {
        harness_fail("copying the ledger template", to);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            harness_fail("copying the ledger template", to);
        }
    }
    fclose(in);
    if (fclose(out) != 0) {
        harness_fail("copying the ledger template", to);
    }
}

/* ---- The plugin's lifetime --------------------------------------------- */

/* The plugin_opt_* lines of the gateway under test. */
typedef struct harness_options {
    char key_path[320];
    char operators_path[320];
    char cloud_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
} harness_options;

static harness_options harness_opts;

static void harness_start(harness *h)
{
    struct mosquitto_opt opts[] = {
        {"database", h->db_path},
        {"gateway_id", HARNESS_GATEWAY_ID},
        {"gateway_key", harness_opts.key_path},
        {"currencies", "EUR,USD"},
        {"operators", harness_opts.operators_path},
        {"cloud_key", harness_opts.cloud_text},
        {"sync_batch", "16"},
        {"sync_interval", "10"},
        {"sync_window", "2"},
        {"sync_timeout", "100"},
    };
    void *user_data = NULL;
    int rc = mosquitto_plugin_init((mosquitto_plugin_id_t *)&harness_plugin_identity, &user_data,
                                   opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc != MOSQ_ERR_SUCCESS || user_data == NULL) {
        harness_fail("mosquitto_plugin_init", mosquitto_strerror(rc));
    }
    h->gw = user_data;
}

static void harness_stop(harness *h)
{
    mosquitto_plugin_cleanup(h->gw, NULL, 0);
    h->gw = NULL;
}

/* At exit: the plugin stopped, the scratch directory removed. */
static void harness_remove(void)
{
    harness *h = harness_current;
    if (h->gw) {
        harness_stop(h);
    }
    static const char *const files[] = {"ledger.db",   "ledger.db-wal",   "ledger.db-shm",
                                        "template.db", "template.db-wal", "template.db-shm",
                                        "gateway.key", "operators"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[320];
        harness_path(h, path, sizeof path, files[i]);
        unlink(path);
    }
    rmdir(h->dir);
}

harness *harness_open(void)
{
    static harness h;
    harness_current = &h;
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(h.dir, sizeof h.dir, "%s/fogpay-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof h.dir || !mkdtemp(h.dir)) {
        harness_fail("cannot create a scratch directory", h.dir);
    }
    harness_path(&h, h.db_path, sizeof h.db_path, "ledger.db");
    harness_path(&h, h.template_path, sizeof h.template_path, "template.db");
    harness_path(&h, harness_opts.key_path, sizeof harness_opts.key_path, "gateway.key");
    harness_path(&h, harness_opts.operators_path, sizeof harness_opts.operators_path, "operators");
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    harness_check(fogpay_key_create_file(FOGPAY_ALG_EDDSA, harness_opts.key_path, gateway_text,
                                         sizeof gateway_text),
                  "gateway key");
    harness_check(fogpay_key_from_public_text(gateway_text, &h.gateway_public), "gateway key");
    harness_check(fogpay_key_id(h.gateway_public, h.gateway_kid), "gateway kid");
    harness_check(fogpay_key_generate(FOGPAY_ALG_EDDSA, &h.cloud_key), "cloud key");
    harness_check(fogpay_key_id(h.cloud_key, h.cloud_kid), "cloud kid");
    harness_check(fogpay_key_public_text(h.cloud_key, harness_opts.cloud_text,
                                         sizeof harness_opts.cloud_text),
                  "cloud key");
    harness_write_operators(&h, harness_opts.operators_path);
    atexit(harness_remove);
    harness_make_template(&h);
    harness_copy(h.template_path, h.db_path);
    harness_start(&h);
    return &h;
}

void harness_reset(harness *h)
{
    harness_stop(h);
    /* WAL mode: the last close checkpoints and removes -wal and -shm. */
    harness_copy(h->template_path, h->db_path);
    harness_start(h);
}

/* ---- Events ------------------------------------------------------------- */

static int harness_call(int event, void *event_data)
{
    if (!harness_callbacks[event]) {
        harness_fail("the plugin did not register event", "see mosquitto_plugin_init");
    }
    return harness_callbacks[event](event, event_data, harness_user_data[event]);
}

int harness_message(harness *h, struct mosquitto *client, const char *topic, const uint8_t *payload,
                    size_t len, const mosquitto_property *props, int *acl)
{
    (void)h;
    struct mosquitto_evt_acl_check check = {0};
    check.client = client;
    check.topic = topic;
    check.payload = payload;
    check.payloadlen = (uint32_t)len;
    check.properties = (mosquitto_property *)props;
    check.qos = 1;
    check.access = MOSQ_ACL_WRITE;
    *acl = harness_call(MOSQ_EVT_ACL_CHECK, &check);
    /* Delivered whatever the ACL said: the message path must hold on its
     * own (defence in depth), and the fuzzer reaches it either way. */
    struct mosquitto_evt_message ev = {0};
    ev.client = client;
    ev.topic = (char *)topic;
    ev.payload = (void *)payload;
    ev.payloadlen = (uint32_t)len;
    ev.properties = (mosquitto_property *)props;
    ev.qos = 1;
    return harness_call(MOSQ_EVT_MESSAGE, &ev);
}

int harness_control(harness *h, struct mosquitto *client, const char *payload, size_t len)
{
    (void)h;
    struct mosquitto_evt_control ev = {0};
    ev.client = client;
    ev.topic = "$CONTROL/fogpay/v1";
    ev.payload = payload;
    ev.payloadlen = (uint32_t)len;
    return harness_call(MOSQ_EVT_CONTROL, &ev);
}

void harness_tick(harness *h)
{
    (void)h;
    struct mosquitto_evt_tick ev = {0};
    harness_call(MOSQ_EVT_TICK, &ev);
}

void harness_drain(harness *h)
{
    /* The workers verify and sign on their own threads: tick and flush
     * until every message admitted has been answered. */
    for (int i = 0; i < HARNESS_DRAIN_ROUNDS; i++) {
        harness_tick(h);
        fogpay_outbox_flush(h->gw);
        if (h->gw->engine.head == h->gw->engine.tail) {
            return;
        }
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
    }
    harness_fail("drain", "the plugin did not answer every message it took");
}

void harness_published_clear(harness *h)
{
    for (size_t i = 0; i < h->published_count; i++) {
        free(h->published[i].topic);
        free(h->published[i].payload);
        free(h->published[i].client_id);
    }
    h->published_count = 0;
}
