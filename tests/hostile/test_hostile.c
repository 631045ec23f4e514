/*
 * test_hostile.c - the hostile catalogue: named attacks sent through a real
 * Mosquitto with the real plugin by a provisioned device (dev-a), another
 * device (dev-b), an operator (ops) and a stranger. Each case asserts its
 * specific outcome (the reason of a signed rejection receipt that verifies
 * against the gateway key and names the sent bytes' hash, or an MQTT-level
 * refusal); then the harness asserts that no balance and no transfer count
 * changed (ledger API, read-only, on the database file), that the ledger
 * verifies, and that a witness device (dev-w1 paying dev-w2) is served.
 * Hold messages (capture, void) and authorisations have their own cases.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "broker.h"
#include "fogpay_cbor.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_message.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "mqtt5.h"
#include "test_chain.h"
#include "testutil.h"

#define EUR        978
#define USD        840
#define WAIT_MS    3000
#define SILENCE_MS 250

static test_broker broker;
static char db_path[TEST_BROKER_PATH_MAX];
static fogpay_key *gateway_key;
static char entity[FOGPAY_ENTITY_ID_MAX + 1];

typedef struct known_device {
    const char *id;
    const char *password;
    fogpay_device_limits limits;
    int64_t funds;
    fogpay_key *key;
} known_device;

/* dev-a attacks; dev-b is another device; dev-w1/dev-w2 the witness pair;
 * dev-s suspended, dev-r revoked, dev-k rotated (key_k_old is stale),
 * dev-d with a daily limit, dev-m with a wallet maximum, dev-v revoked by a
 * case while connected, dev-x at the highest seq, dev-f forking its chain,
 * dev-p over its flow limit. */
static known_device devices[] = {
    {"dev-a", "pass-a", {5000, 10000, 0}, 20000, NULL},
    {"dev-b", "pass-b", {0, 0, 0}, 1000, NULL},
    {"dev-w1", "pass-w1", {0, 0, 0}, 100000, NULL},
    {"dev-w2", "pass-w2", {0, 0, 0}, 0, NULL},
    {"dev-s", "pass-s", {0, 0, 0}, 1000, NULL},
    {"dev-r", "pass-r", {0, 0, 0}, 1000, NULL},
    {"dev-k", "pass-k", {0, 0, 0}, 1000, NULL},
    {"dev-d", "pass-d", {0, 100, 0}, 1000, NULL},
    {"dev-m", "pass-m", {0, 0, 1000}, 1000, NULL},
    {"dev-v", "pass-v", {0, 0, 0}, 1000, NULL},
    {"dev-x", "pass-x", {0, 0, 0}, 1000, NULL},
    {"dev-f", "pass-f", {0, 0, 0}, 1000, NULL},
    {"dev-p", "pass-p", {0, 0, 0}, 1000, NULL},
};
#define DEVICE_COUNT (sizeof devices / sizeof devices[0])
static fogpay_key *key_k_old;

static fogpay_key *key_of(const char *id)
{
    for (size_t i = 0; i < DEVICE_COUNT; i++) {
        if (strcmp(devices[i].id, id) == 0) {
            return devices[i].key;
        }
    }
    return NULL;
}

/* ---- outcome reporting ----------------------------------------------------- */

static char failure[512];

__attribute__((format(printf, 1, 2))) static bool fail(const char *fmt, ...)
{
    if (!failure[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(failure, sizeof failure, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* ---- provisioning and the broker ------------------------------------------ */

/* The holds the bind cases name (bind key 7), made in provisioning as the
 * ledger makes them from authorisations, on the real clock and for the
 * longest timeout so that none expires during the run. */
enum { HOLD_FOREIGN, HOLD_VOIDED, HOLD_OTHER_PAYEE, HOLD_DOLLARS, HOLD_CENT, HOLDS_MADE };
static uint64_t hold_ids[HOLDS_MADE];

/* payer's hold of amount in currency to payee, with seq (far above any the
 * cases send); its id into *id. */
static bool provision_hold(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee,
                           uint64_t amount, uint16_t currency, uint64_t *id)
{
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", payer);
    in.seq = seq;
    snprintf(in.payee_device, sizeof in.payee_device, "%s", payee);
    in.amount_minor = amount;
    in.currency = currency;
    in.created_s = now / 1000;
    in.ttl_s = 3600;
    in.hold_s = FOGPAY_HOLD_TIMEOUT_MAX_S;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256((const uint8_t *)&in, sizeof in, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    bool ok = fogpay_ledger_settle(l, &in, hash, now, &t, &balance) == FOGPAY_OK;
    *id = t.position;
    return ok;
}

/* dev-v's hold, dev-a's voided, dev-a's to dev-v (not the tariff's payee),
 * dev-a's in dollars, dev-a's of one cent to dev-b. */
static bool provision_holds(fogpay_ledger *l)
{
    fogpay_transfer t;
    const fogpay_hold_actor by_operator = {NULL, 0, NULL};
    fogpay_hold_result r;
    uint64_t *id = hold_ids;
    return fogpay_ledger_fund(l, "dev-a", USD, 100, "initial", 2000, &t) == FOGPAY_OK &&
           provision_hold(l, "dev-v", 900001, "dev-b", 10, EUR, &id[HOLD_FOREIGN]) &&
           provision_hold(l, "dev-a", 900001, "dev-b", 10, EUR, &id[HOLD_VOIDED]) &&
           fogpay_ledger_hold_void(l, id[HOLD_VOIDED], &by_operator, (uint64_t)time(NULL) * 1000u,
                                   &r) == FOGPAY_OK &&
           provision_hold(l, "dev-a", 900002, "dev-v", 10, EUR, &id[HOLD_OTHER_PAYEE]) &&
           provision_hold(l, "dev-a", 900003, "dev-b", 10, USD, &id[HOLD_DOLLARS]) &&
           provision_hold(l, "dev-a", 900004, "dev-b", 1, EUR, &id[HOLD_CENT]);
}

static bool provision(void)
{
    fogpay_ledger *l;
    if (fogpay_ledger_open(db_path, true, &l) != FOGPAY_OK) {
        return false;
    }
    fogpay_entity_personal p = {"Hostile Test Ltd", "ops@example.invalid", NULL};
    bool ok = fogpay_ledger_entity_create(l, &p, 1000, entity) == FOGPAY_OK;
    for (size_t i = 0; ok && i < DEVICE_COUNT; i++) {
        known_device *d = &devices[i];
        char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
        fogpay_key *first = NULL;
        ok = fogpay_key_generate(FOGPAY_ALG_EDDSA, &first) == FOGPAY_OK &&
             fogpay_password_hash(d->password, strlen(d->password), 1000, hash, sizeof hash) ==
                 FOGPAY_OK &&
             fogpay_ledger_device_register(l, d->id, first, hash, entity, &d->limits, 1000) ==
                 FOGPAY_OK;
        d->key = first;
        fogpay_transfer t;
        if (ok && d->funds > 0) {
            ok = fogpay_ledger_fund(l, d->id, EUR, d->funds, "initial", 2000, &t) == FOGPAY_OK;
        }
    }
    if (ok) {
        key_k_old = devices[6].key;
        ok = fogpay_key_generate(FOGPAY_ALG_EDDSA, &devices[6].key) == FOGPAY_OK &&
             fogpay_ledger_device_rotate_key(l, "dev-k", devices[6].key, 1500) == FOGPAY_OK &&
             fogpay_ledger_device_set_status(l, "dev-s", FOGPAY_DEVICE_SUSPENDED, 3000) ==
                 FOGPAY_OK &&
             fogpay_ledger_device_set_status(l, "dev-r", FOGPAY_DEVICE_REVOKED, 3000) == FOGPAY_OK;
    }
    /* Tariffs for the bind cases: one dev-b offers, one dev-a offers. */
    fogpay_tariff t = {.tariff_id = "t-b",
                       .device_id = "dev-b",
                       .unit = "Wh",
                       .price_num = 1,
                       .price_den = 10,
                       .currency = EUR,
                       .effective_ms = 1000};
    ok = ok && fogpay_ledger_tariff_define(l, &t, 3000) == FOGPAY_OK;
    t = (fogpay_tariff){.tariff_id = "t-a",
                        .device_id = "dev-a",
                        .unit = "Wh",
                        .price_num = 1,
                        .price_den = 10,
                        .currency = EUR,
                        .effective_ms = 1000};
    ok = ok && fogpay_ledger_tariff_define(l, &t, 3000) == FOGPAY_OK;
    ok = ok && provision_holds(l);
    fogpay_ledger_close(l);
    return ok;
}

/* (Re)starts the gateway on the provisioned ledger, with extra plugin
 * options (lines of mosquitto.conf). */
static bool restart_gateway(const char *extra)
{
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "gateway.key", key_path, sizeof key_path);
    test_broker_path(&broker, "operators", operators, sizeof operators);
    char conf[TEST_BROKER_CONF_MAX];
    if (!test_broker_gateway_conf(conf, sizeof conf, "gw-hostile", db_path, key_path, operators) ||
        strlen(conf) + strlen(extra) >= sizeof conf) {
        return false;
    }
    strcat(conf, extra);
    test_broker_stop(&broker);
    return test_broker_start(&broker, conf);
}

static bool start_gateway(void)
{
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "ledger.db", db_path, sizeof db_path);
    test_broker_path(&broker, "gateway.key", key_path, sizeof key_path);
    test_broker_path(&broker, "operators", operators, sizeof operators);
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key) != FOGPAY_OK ||
        fogpay_key_save(gateway_key, key_path, false) != FOGPAY_OK || !provision()) {
        return false;
    }
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash);
    FILE *f = fopen(operators, "w");
    if (!f) {
        return false;
    }
    fprintf(f, "ops:%s\n", hash);
    fclose(f);
    return restart_gateway("");
}

/* ---- clients --------------------------------------------------------------- */

static int connect_as(MQTTClient *c, const char *client_id, const char *user, const char *pass,
                      int version)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = version;
    if (MQTTClient_createWithOptions(c, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                     &create) != MQTTCLIENT_SUCCESS) {
        return -100;
    }
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    MQTTClient_connectOptions opts5 = MQTTClient_connectOptions_initializer5;
    MQTTClient_connectOptions *o = version == MQTTVERSION_5 ? &opts5 : &opts;
    o->username = user;
    o->password = pass;
    if (version == MQTTVERSION_5) {
        o->cleanstart = 1;
        MQTTResponse r = MQTTClient_connect5(*c, o, NULL, NULL);
        int rc = r.reasonCode;
        MQTTResponse_free(r);
        return rc;
    }
    o->cleansession = 1;
    return MQTTClient_connect(*c, o);
}

static void client_close(MQTTClient *c)
{
    MQTTClient_disconnect(*c, 0);
    MQTTClient_destroy(c);
}

/* A device's session: connected as itself and subscribed to its receipts. */
static bool device_open(MQTTClient *c, const char *id)
{
    known_device *d = NULL;
    for (size_t i = 0; i < DEVICE_COUNT; i++) {
        if (strcmp(devices[i].id, id) == 0) {
            d = &devices[i];
        }
    }
    if (connect_as(c, id, id, d->password, MQTTVERSION_3_1_1) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(c);
        return fail("%s could not connect", id);
    }
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/%s/receipt", id);
    if (MQTTClient_subscribe(*c, topic, 1) != MQTTCLIENT_SUCCESS) {
        client_close(c);
        return fail("%s could not subscribe to its receipts", id);
    }
    return true;
}

static void publish_to(MQTTClient c, const char *topic, const void *bytes, size_t len, int retained)
{
    MQTTClient_deliveryToken token;
    if (MQTTClient_publish(c, topic, (int)len, (void *)bytes, 1, retained, &token) ==
        MQTTCLIENT_SUCCESS) {
        MQTTClient_waitForCompletion(c, token, 2000);
    }
}

/* Publishes at QoS 0: nothing waits for the broker. */
static void publish_now(MQTTClient c, const char *topic, const void *bytes, size_t len)
{
    MQTTClient_deliveryToken token;
    MQTTClient_publish(c, topic, (int)len, (void *)bytes, 0, 0, &token);
}

/* The next message on any subscription, or false after wait_ms. */
static bool next_message(MQTTClient c, int wait_ms, uint8_t *out, size_t *len, char *topic_out)
{
    uint64_t until = testutil_now_ms() + (uint64_t)wait_ms;
    while (testutil_now_ms() < until) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        if (MQTTClient_receive(c, &topic, &topic_len, &m, 100) != MQTTCLIENT_SUCCESS) {
            return false;
        }
        if (m) {
            size_t n = (size_t)m->payloadlen < 4096 ? (size_t)m->payloadlen : 4096;
            if (out) {
                memcpy(out, m->payload, n);
            }
            if (len) {
                *len = n;
            }
            if (topic_out) {
                snprintf(topic_out, 256, "%s", topic);
            }
            MQTTClient_freeMessage(&m);
            MQTTClient_free(topic);
            return true;
        }
    }
    return false;
}

/* Waits for a receipt and checks it: verifies with the gateway key, names
 * the hash of sent. */
static bool take_receipt(MQTTClient c, const uint8_t *sent, size_t sent_len, fogpay_receipt *r)
{
    uint8_t raw[4096];
    size_t len = 0;
    if (!next_message(c, WAIT_MS, raw, &len, NULL)) {
        return fail("no receipt came");
    }
    fogpay_cose_sign1 msg;
    if (fogpay_cose_sign1_parse(raw, len, &msg) != FOGPAY_OK ||
        fogpay_cose_sign1_verify(&msg, gateway_key, NULL, 0) != FOGPAY_OK ||
        fogpay_receipt_decode(msg.payload.ptr, msg.payload.len, r) != FOGPAY_OK) {
        return fail("the receipt does not verify against the gateway key");
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256(sent, sent_len, hash);
    if (memcmp(r->intent_hash, hash, sizeof hash) != 0) {
        return fail("the receipt names another message hash than the sent bytes'");
    }
    return true;
}

/* Sends bytes as device `by` on its own `leaf` topic; expects a signed
 * rejection with reason. */
static bool expect_reason_as(const char *by, const char *leaf, const uint8_t *bytes, size_t len,
                             fogpay_error reason)
{
    MQTTClient c;
    if (!device_open(&c, by)) {
        return false;
    }
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/%s/%s", by, leaf);
    publish_to(c, topic, bytes, len, 0);
    fogpay_receipt r;
    bool ok = take_receipt(c, bytes, len, &r);
    if (ok && (r.status != FOGPAY_STATUS_REJECTED || r.reason != (int)reason)) {
        ok = fail("got %s (status %lld)",
                  r.status == FOGPAY_STATUS_REJECTED ? fogpay_error_name((fogpay_error)r.reason)
                                                     : "no rejection",
                  (long long)r.status);
    }
    if (!ok) {
        size_t n = strlen(failure);
        snprintf(failure + n, sizeof failure - n, ", expected %s", fogpay_error_name(reason));
    }
    client_close(&c);
    return ok;
}

static bool expect_reason(const uint8_t *bytes, size_t len, fogpay_error reason)
{
    return expect_reason_as("dev-a", "intent", bytes, len, reason);
}

/* ---- building messages ----------------------------------------------------- */

static uint64_t seq_a = 1;

static fogpay_intent intent(const char *from, uint64_t seq, const char *to, uint64_t amount)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", from);
    in.seq = seq;
    snprintf(in.payee_device, sizeof in.payee_device, "%s", to);
    in.amount_minor = amount;
    in.currency = EUR;
    in.created_s = (uint64_t)time(NULL);
    in.ttl_s = 300;
    test_chain_prev(db_path, from, in.prev_hash);
    return in;
}

/* Links in to the signed message before it, sent but not yet answered. */
static void link_after(fogpay_intent *in, const uint8_t *prev_msg, size_t prev_len)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256(prev_msg, prev_len, hash);
    memcpy(in->prev_hash, hash, sizeof in->prev_hash);
}

static size_t sign_bytes(const fogpay_key *key, const uint8_t *payload, size_t len, uint8_t *out,
                         size_t cap)
{
    size_t out_len = 0;
    if (fogpay_cose_sign1_sign(key, NULL, 0, payload, len, NULL, 0, out, cap, &out_len) !=
        FOGPAY_OK) {
        return 0;
    }
    return out_len;
}

static size_t sign_intent(const fogpay_key *key, const fogpay_intent *in, uint8_t *out)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_intent_encode(in, payload, sizeof payload, &len) != FOGPAY_OK) {
        return 0;
    }
    return sign_bytes(key, payload, len, out, FOGPAY_MESSAGE_MAX);
}

/* A valid signed intent of dev-a to dev-b with a fresh seq. */
static size_t good_intent_a(uint8_t *out, uint64_t amount)
{
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", amount);
    return sign_intent(key_of("dev-a"), &in, out);
}

/* An intent map written field by field, so that the encoder's refusals
 * can be sent: values given as uint64, a field skipped when its key is in
 * `skip`, `extra_key` appended (0 for none) with value 1. */
typedef struct raw_fields {
    const char *device;
    uint64_t seq, amount, currency, created, ttl;
    const char *payee;
    int skip;
    uint64_t extra_key;
} raw_fields;

static raw_fields fields_a(void)
{
    raw_fields f = {"dev-a", 0, 10, EUR, (uint64_t)time(NULL), 300, "dev-b", 0, 0};
    f.seq = seq_a++;
    return f;
}

static size_t raw_intent(const raw_fields *f, uint8_t *out, size_t cap)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, cap);
    uint64_t pairs = 8 - (f->skip ? 1 : 0) + (f->extra_key ? 1 : 0);
    fogpay_cbor_put_map(&w, pairs);
    if (f->skip != 1) {
        fogpay_cbor_put_uint(&w, 1);
        fogpay_cbor_put_text(&w, f->device, strlen(f->device));
    }
    if (f->skip != 2) {
        fogpay_cbor_put_uint(&w, 2);
        fogpay_cbor_put_uint(&w, f->seq);
    }
    if (f->skip != 3) {
        fogpay_cbor_put_uint(&w, 3);
        fogpay_cbor_put_text(&w, f->payee, strlen(f->payee));
    }
    if (f->skip != 5) {
        fogpay_cbor_put_uint(&w, 5);
        fogpay_cbor_put_uint(&w, f->amount);
    }
    if (f->skip != 6) {
        fogpay_cbor_put_uint(&w, 6);
        fogpay_cbor_put_uint(&w, f->currency);
    }
    if (f->skip != 7) {
        fogpay_cbor_put_uint(&w, 7);
        fogpay_cbor_put_uint(&w, f->created);
    }
    if (f->skip != 8) {
        fogpay_cbor_put_uint(&w, 8);
        fogpay_cbor_put_uint(&w, f->ttl);
    }
    if (f->skip != 10) {
        uint8_t prev[FOGPAY_PREV_HASH_BYTES];
        test_chain_prev(db_path, f->device, prev);
        fogpay_cbor_put_uint(&w, 10);
        fogpay_cbor_put_bytes(&w, prev, sizeof prev);
    }
    if (f->extra_key) {
        fogpay_cbor_put_uint(&w, f->extra_key);
        fogpay_cbor_put_uint(&w, 1);
    }
    size_t len = 0;
    fogpay_cbor_writer_finish(&w, &len);
    return len;
}

/* Signs raw fields with dev-a's key and expects reason. */
static bool raw_expect(const raw_fields *f, fogpay_error reason)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t len = raw_intent(f, payload, sizeof payload);
    return expect_reason(msg, sign_bytes(key_of("dev-a"), payload, len, msg, sizeof msg), reason);
}

/* Signs an arbitrary payload with dev-a's key and expects reason. */
static bool signed_payload_expect(const uint8_t *payload, size_t len, fogpay_error reason)
{
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    return expect_reason(msg, sign_bytes(key_of("dev-a"), payload, len, msg, sizeof msg), reason);
}

/* A COSE_Sign1 assembled by hand from its parts. */
static size_t envelope(uint64_t tag, const uint8_t *protected_map, size_t protected_len,
                       const uint8_t *unprotected, size_t unprotected_len, const uint8_t *payload,
                       size_t payload_len, const uint8_t *sig, size_t sig_len, uint8_t *out)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, FOGPAY_MESSAGE_MAX);
    fogpay_cbor_put_tag(&w, tag);
    fogpay_cbor_put_array(&w, 4);
    fogpay_cbor_put_bytes(&w, protected_map, protected_len);
    fogpay_cbor_put_raw(&w, unprotected, unprotected_len);
    fogpay_cbor_put_bytes(&w, payload, payload_len);
    fogpay_cbor_put_bytes(&w, sig, sig_len);
    size_t len = 0;
    fogpay_cbor_writer_finish(&w, &len);
    return len;
}

static void snapshot_take(void);

/* ---- the cases --------------------------------------------------------------- */

static const uint8_t eddsa_header[] = {0xa1, 0x01, 0x27};
static const uint8_t empty_map[] = {0xa0};
static const uint8_t zero_sig[64];

static bool c_bad_signature(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    m[n - 1] ^= 1;
    return expect_reason(m, n, FOGPAY_ERR_BAD_SIGNATURE);
}

static bool c_other_devices_key(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", 10);
    return expect_reason(m, sign_intent(key_of("dev-b"), &in, m), FOGPAY_ERR_BAD_SIGNATURE);
}

static bool c_device_mismatch(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-b", 900, "dev-a", 10);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_DEVICE_MISMATCH);
}

static bool c_stolen_intent_replayed(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-b", 901, "dev-a", 10);
    /* Verified with the sender's (dev-a's) key, the only one it may use. */
    return expect_reason(m, sign_intent(key_of("dev-b"), &in, m), FOGPAY_ERR_BAD_SIGNATURE);
}

static bool c_stale_key_after_rotation(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-k", 1, "dev-b", 10);
    return expect_reason_as("dev-k", "intent", m, sign_intent(key_k_old, &in, m),
                            FOGPAY_ERR_KEY_REVOKED);
}

static bool c_suspended_pays(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-s", 1, "dev-b", 10);
    return expect_reason_as("dev-s", "intent", m, sign_intent(key_of("dev-s"), &in, m),
                            FOGPAY_ERR_DEVICE_SUSPENDED);
}

static bool c_expired(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", 10);
    in.created_s -= 10000;
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_EXPIRED);
}

static bool c_future(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", 10);
    in.created_s += 7200;
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_NOT_YET_VALID);
}

static bool c_currency(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", 10);
    in.currency = USD;
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_CURRENCY_UNSUPPORTED);
}

static bool c_unknown_payee(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-nobody", 10);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_UNKNOWN_PAYEE);
}

static bool c_payee_self(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-a", 10);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_PAYEE_SELF);
}

static bool c_payee_inactive(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-r", 10);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_PAYEE_INACTIVE);
}

static bool c_amount_zero(void)
{
    raw_fields f = fields_a();
    f.amount = 0;
    return raw_expect(&f, FOGPAY_ERR_AMOUNT_ZERO);
}

static bool c_amount_too_large(void)
{
    raw_fields f = fields_a();
    f.amount = FOGPAY_AMOUNT_MAX_MINOR + 1;
    return raw_expect(&f, FOGPAY_ERR_AMOUNT_TOO_LARGE);
}

static bool c_amount_u64_max(void)
{
    raw_fields f = fields_a();
    f.amount = UINT64_MAX;
    return raw_expect(&f, FOGPAY_ERR_AMOUNT_TOO_LARGE);
}

static bool c_amount_2p63(void)
{
    raw_fields f = fields_a();
    f.amount = 0x8000000000000000ull;
    return raw_expect(&f, FOGPAY_ERR_AMOUNT_TOO_LARGE);
}

static bool c_limit_per_payment(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    return expect_reason(m, good_intent_a(m, 5001), FOGPAY_ERR_LIMIT_PER_PAYMENT);
}

static bool c_limit_per_day(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-d", 1, "dev-b", 101);
    return expect_reason_as("dev-d", "intent", m, sign_intent(key_of("dev-d"), &in, m),
                            FOGPAY_ERR_LIMIT_PER_DAY);
}

static bool c_insufficient(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-b", 1, "dev-a", 1001);
    return expect_reason_as("dev-b", "intent", m, sign_intent(key_of("dev-b"), &in, m),
                            FOGPAY_ERR_INSUFFICIENT_FUNDS);
}

static bool c_wallet_max(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-m", 1);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_WALLET_MAX);
}

static bool c_seq_zero(void)
{
    raw_fields f = fields_a();
    f.seq = 0;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_seq_u64_max(void)
{
    raw_fields f = fields_a();
    f.seq = UINT64_MAX;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_seq_stored_max(void)
{
    /* dev-x: the highest seq ends its chain, which no other case uses. */
    raw_fields f = fields_a();
    f.device = "dev-x";
    f.seq = FOGPAY_STORED_INT_MAX;
    f.payee = "dev-nobody";
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t len = raw_intent(&f, payload, sizeof payload);
    return expect_reason_as("dev-x", "intent", msg,
                            sign_bytes(key_of("dev-x"), payload, len, msg, sizeof msg),
                            FOGPAY_ERR_UNKNOWN_PAYEE);
}

static bool c_ttl_zero(void)
{
    raw_fields f = fields_a();
    f.ttl = 0;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_ttl_huge(void)
{
    raw_fields f = fields_a();
    f.ttl = UINT64_MAX;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_created_huge(void)
{
    raw_fields f = fields_a();
    f.created = UINT64_MAX;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_currency_huge(void)
{
    raw_fields f = fields_a();
    f.currency = 70000;
    return raw_expect(&f, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_missing_field(void)
{
    raw_fields f = fields_a();
    f.skip = 6;
    return raw_expect(&f, FOGPAY_ERR_MISSING_FIELD);
}

static bool c_unknown_field(void)
{
    raw_fields f = fields_a();
    f.extra_key = 99;
    return raw_expect(&f, FOGPAY_ERR_UNKNOWN_FIELD);
}

static bool c_text_invalid(void)
{
    raw_fields f = fields_a();
    f.payee = "dev-\xff\xfe";
    return raw_expect(&f, FOGPAY_ERR_TEXT_INVALID);
}

static bool c_duplicate_key(void)
{
    /* {1:"dev-a", 1:"dev-a", ...}: the device id twice. */
    uint8_t p[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    uint8_t d[FOGPAY_MESSAGE_MAX];
    d[0] = (uint8_t)(p[0] + 1);
    memcpy(d + 1, p + 1, 7);
    memcpy(d + 8, p + 1, n - 1);
    return signed_payload_expect(d, n + 7, FOGPAY_ERR_DUPLICATE_KEY);
}

static bool c_unsorted_keys(void)
{
    /* {2:seq, 1:"dev-a", ...}: keys out of canonical order. */
    uint8_t p[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    uint8_t d[FOGPAY_MESSAGE_MAX];
    size_t seq_len = (p[9] < 24) ? 2 : 3;
    d[0] = p[0];
    memcpy(d + 1, p + 8, seq_len);
    memcpy(d + 1 + seq_len, p + 1, 7);
    memcpy(d + 8 + seq_len, p + 8 + seq_len, n - 8 - seq_len);
    return signed_payload_expect(d, n, FOGPAY_ERR_CBOR_NOT_DETERMINISTIC);
}

static bool c_non_shortest_uint(void)
{
    /* The amount 10 as 0x19 0x00 0x0a. */
    uint8_t p[FOGPAY_MESSAGE_MAX], d[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    f.amount = 10;
    size_t n = raw_intent(&f, p, sizeof p), o = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == 0x05 && p[i + 1] == 0x0a) {
            memcpy(d, p, i + 1);
            d[i + 1] = 0x19;
            d[i + 2] = 0x00;
            d[i + 3] = 0x0a;
            memcpy(d + i + 4, p + i + 2, n - i - 2);
            o = n + 2;
            break;
        }
    }
    return signed_payload_expect(d, o, FOGPAY_ERR_CBOR_NOT_DETERMINISTIC);
}

static bool c_non_shortest_envelope(void)
{
    /* The COSE array head 0x84 written as 0x98 0x04. */
    uint8_t m[FOGPAY_MESSAGE_MAX], d[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    d[0] = m[0];
    d[1] = 0x98;
    d[2] = 0x04;
    memcpy(d + 3, m + 2, n - 2);
    return expect_reason(d, n + 1, FOGPAY_ERR_CBOR_NOT_DETERMINISTIC);
}

static bool c_payload_array(void)
{
    static const uint8_t p[] = {0x83, 0x01, 0x02, 0x03};
    return signed_payload_expect(p, sizeof p, FOGPAY_ERR_CBOR_TYPE);
}

static bool c_negative_amount(void)
{
    uint8_t p[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    f.amount = 10;
    size_t n = raw_intent(&f, p, sizeof p);
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == 0x05 && p[i + 1] == 0x0a) {
            p[i + 1] = 0x29; /* -10 */
            break;
        }
    }
    return signed_payload_expect(p, n, FOGPAY_ERR_CBOR_TYPE);
}

static bool c_deep_nesting(void)
{
    uint8_t p[64];
    memset(p, 0x81, 40);
    p[40] = 0x00;
    /* Refused at its first item, without descending. */
    return signed_payload_expect(p, 41, FOGPAY_ERR_CBOR_TYPE);
}

static bool c_deep_nesting_envelope(void)
{
    uint8_t p[64];
    p[0] = 0xd2;
    memset(p + 1, 0x81, 40);
    p[41] = 0x00;
    return expect_reason(p, 42, FOGPAY_ERR_COSE_STRUCTURE);
}

static bool c_huge_bstr_length(void)
{
    /* Tag 18, array of 4, a protected bstr declaring 2^64-1 bytes. */
    static const uint8_t m[] = {0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xa1, 0x01, 0x27};
    /* The declared length runs past the input. */
    return expect_reason(m, sizeof m, FOGPAY_ERR_CBOR_TRUNCATED);
}

static bool c_huge_map_count(void)
{
    static const uint8_t p[] = {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    return signed_payload_expect(p, sizeof p, FOGPAY_ERR_CBOR_TOO_LONG);
}

static bool c_huge_array_count(void)
{
    static const uint8_t m[] = {0xd2, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x40};
    return expect_reason(m, sizeof m, FOGPAY_ERR_COSE_STRUCTURE);
}

static bool c_indefinite_envelope(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX], d[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    d[0] = m[0];
    d[1] = 0x9f;
    memcpy(d + 2, m + 2, n - 2);
    d[n] = 0xff;
    return expect_reason(d, n + 1, FOGPAY_ERR_CBOR_INDEFINITE);
}

static bool c_indefinite_map_payload(void)
{
    uint8_t p[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    p[0] = 0xbf;
    p[n] = 0xff;
    return signed_payload_expect(p, n + 1, FOGPAY_ERR_CBOR_INDEFINITE);
}

static bool c_indefinite_text(void)
{
    static const uint8_t p[] = {0xa1, 0x01, 0x7f, 0x63, 'd', 'e', 'v', 0x62, '-', 'a', 0xff};
    return signed_payload_expect(p, sizeof p, FOGPAY_ERR_CBOR_INDEFINITE);
}

static bool c_reserved_info(void)
{
    static const uint8_t m[] = {0xd2, 0x1c};
    return expect_reason(m, sizeof m, FOGPAY_ERR_CBOR_ILL_FORMED);
}

static bool c_trailing(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    m[n] = 0x00;
    return expect_reason(m, n + 1, FOGPAY_ERR_CBOR_TRAILING);
}

static bool c_trailing_payload(void)
{
    uint8_t p[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    p[n] = 0x00;
    return signed_payload_expect(p, n + 1, FOGPAY_ERR_CBOR_TRAILING);
}

static bool c_truncated_every_offset(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    MQTTClient c;
    if (!device_open(&c, "dev-a")) {
        return false;
    }
    /* All cuts are sent first, then the receipts taken in order: one
     * session's messages are answered in the order they came. */
    for (size_t cut = 1; cut < n; cut++) {
        MQTTClient_deliveryToken t;
        MQTTClient_publish(c, "fogpay/v1/dev/dev-a/intent", (int)cut, m, 1, 0, &t);
    }
    bool ok = true;
    for (size_t cut = 1; ok && cut < n; cut++) {
        fogpay_receipt r;
        ok = take_receipt(c, m, cut, &r);
        if (ok && (r.status != FOGPAY_STATUS_REJECTED || r.reason != FOGPAY_ERR_CBOR_TRUNCATED)) {
            ok = fail("cut at %s%lld: not cbor_truncated", "", (long long)cut);
        }
    }
    client_close(&c);
    return ok;
}

static bool c_payload_too_large(void)
{
    uint8_t big[FOGPAY_MESSAGE_MAX + 1];
    memset(big, 0x41, sizeof big);
    return expect_reason(big, sizeof big, FOGPAY_ERR_PAYLOAD_TOO_LARGE);
}

static bool c_empty_payload(void)
{
    return expect_reason((const uint8_t *)"", 0, FOGPAY_ERR_CBOR_TRUNCATED);
}

static bool c_cose_three_items(void)
{
    static const uint8_t m[] = {0xd2, 0x83, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x40};
    return expect_reason(m, sizeof m, FOGPAY_ERR_COSE_STRUCTURE);
}

static bool c_cose_not_array(void)
{
    static const uint8_t m[] = {0xd2, 0xa0};
    return expect_reason(m, sizeof m, FOGPAY_ERR_COSE_STRUCTURE);
}

static bool c_cose_tag_17(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    m[0] = 0xd1;
    return expect_reason(m, n, FOGPAY_ERR_COSE_TAG);
}

static bool c_alg_unknown(void)
{
    static const uint8_t h[] = {0xa1, 0x01, 0x39, 0x03, 0xe6}; /* {1: -999} */
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    return expect_reason(m, envelope(18, h, sizeof h, empty_map, 1, p, n, zero_sig, 64, m),
                         FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
}

static bool c_alg_absent(void)
{
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    return expect_reason(m, envelope(18, empty_map, 1, empty_map, 1, p, n, zero_sig, 64, m),
                         FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
}

static bool c_protected_not_map(void)
{
    static const uint8_t h[] = {0x01};
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    return expect_reason(m, envelope(18, h, sizeof h, empty_map, 1, p, n, zero_sig, 64, m),
                         FOGPAY_ERR_COSE_HEADER);
}

static bool c_alg_confusion(void)
{
    /* ES256 named in the header over dev-a's Ed25519 signature. */
    static const uint8_t h[] = {0xa1, 0x01, 0x26};
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX], s[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    size_t sn = sign_bytes(key_of("dev-a"), p, n, s, sizeof s);
    return expect_reason(m, envelope(18, h, sizeof h, empty_map, 1, p, n, s + sn - 64, 64, m),
                         FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
}

static bool c_kid_of_other_device(void)
{
    /* dev-a's valid signature with dev-b's kid in the unprotected header:
     * the gateway takes the key from the client id, never from a kid, so
     * the message goes on to policy (an unknown payee here). */
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX], s[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    f.payee = "dev-nobody";
    size_t n = raw_intent(&f, p, sizeof p);
    size_t sn = sign_bytes(key_of("dev-a"), p, n, s, sizeof s);
    static const uint8_t kid_b[] = {0xa1, 0x04, 0x48, 'd', 'e', 'v', '-', 'b', 0, 0, 0};
    return expect_reason(m,
                         envelope(18, eddsa_header, sizeof eddsa_header, kid_b, sizeof kid_b, p, n,
                                  s + sn - 64, 64, m),
                         FOGPAY_ERR_UNKNOWN_PAYEE);
}

static bool c_short_signature(void)
{
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    raw_fields f = fields_a();
    size_t n = raw_intent(&f, p, sizeof p);
    return expect_reason(
        m, envelope(18, eddsa_header, sizeof eddsa_header, empty_map, 1, p, n, zero_sig, 10, m),
        FOGPAY_ERR_BAD_SIGNATURE);
}

static bool c_usage_quantity_max(void)
{
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    strcpy(u.device_id, "dev-a");
    strcpy(u.meter_id, "m1");
    strcpy(u.unit, "Wh");
    u.seq = seq_a++;
    u.created_s = (uint64_t)time(NULL);
    fogpay_cbor_writer w;
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    fogpay_cbor_writer_init(&w, p, sizeof p);
    fogpay_cbor_put_map(&w, 7);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, "dev-a", 5);
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, u.seq);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_text(&w, "m1", 2);
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_uint(&w, UINT64_MAX);
    fogpay_cbor_put_uint(&w, 5);
    fogpay_cbor_put_text(&w, "Wh", 2);
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_uint(&w, u.created_s);
    fogpay_cbor_put_uint(&w, 7);
    fogpay_cbor_put_bytes(&w, (const uint8_t *)"\0\0\0\0\0\0\0\0", 8);
    size_t n = 0;
    fogpay_cbor_writer_finish(&w, &n);
    return expect_reason_as("dev-a", "usage", m, sign_bytes(key_of("dev-a"), p, n, m, sizeof m),
                            FOGPAY_ERR_FIELD_RANGE);
}

static bool c_intent_on_usage_topic(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    return expect_reason_as("dev-a", "usage", m, n, FOGPAY_ERR_CBOR_TYPE);
}

/* ---- meter bindings and bound readings ------------------------------------ */

static fogpay_bind bind_of(const char *device, const char *meter, const char *tariff)
{
    fogpay_bind b;
    memset(&b, 0, sizeof b);
    snprintf(b.device_id, sizeof b.device_id, "%s", device);
    b.seq = seq_a++;
    snprintf(b.meter_id, sizeof b.meter_id, "%s", meter);
    snprintf(b.tariff_id, sizeof b.tariff_id, "%s", tariff);
    b.created_s = (uint64_t)time(NULL);
    test_chain_prev(db_path, "dev-a", b.prev_hash);
    return b;
}

static size_t sign_bind(const fogpay_key *key, const fogpay_bind *b, uint8_t *out)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_bind_encode(b, payload, sizeof payload, &len) != FOGPAY_OK) {
        return 0;
    }
    return sign_bytes(key, payload, len, out, FOGPAY_MESSAGE_MAX);
}

static bool bind_expect(const fogpay_bind *b, const fogpay_key *key, fogpay_error reason)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    return expect_reason_as("dev-a", "bind", m, sign_bind(key, b, m), reason);
}

static bool c_bind_unknown_tariff(void)
{
    fogpay_bind b = bind_of("dev-a", "m1", "t-none");
    return bind_expect(&b, key_of("dev-a"), FOGPAY_ERR_TARIFF_UNKNOWN);
}

static bool c_bind_own_payee(void)
{
    fogpay_bind b = bind_of("dev-a", "m1", "t-a");
    return bind_expect(&b, key_of("dev-a"), FOGPAY_ERR_TARIFF_OWN_PAYEE);
}

static bool c_bind_for_other_device(void)
{
    fogpay_bind b = bind_of("dev-b", "m1", "t-b");
    return bind_expect(&b, key_of("dev-a"), FOGPAY_ERR_DEVICE_MISMATCH);
}

static bool c_bind_other_devices_key(void)
{
    fogpay_bind b = bind_of("dev-a", "m1", "t-b");
    return bind_expect(&b, key_of("dev-b"), FOGPAY_ERR_BAD_SIGNATURE);
}

static bool c_bind_expired(void)
{
    fogpay_bind b = bind_of("dev-a", "m1", "t-b");
    b.created_s -= 2 * FOGPAY_TTL_MAX_S;
    return bind_expect(&b, key_of("dev-a"), FOGPAY_ERR_EXPIRED);
}

/* A bind map whose tariff id is 24 bytes, one over the limit. */
static bool c_bind_tariff_overlong(void)
{
    fogpay_bind b = bind_of("dev-a", "m1", "t-b");
    uint8_t p[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, p, sizeof p);
    fogpay_cbor_put_map(&w, 6);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, "dev-a", 5);
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, b.seq);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_text(&w, "m1", 2);
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_text(&w, "t-bbbbbbbbbbbbbbbbbbbbbb", 24);
    fogpay_cbor_put_uint(&w, 5);
    fogpay_cbor_put_uint(&w, b.created_s);
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_bytes(&w, b.prev_hash, sizeof b.prev_hash);
    size_t n = 0;
    fogpay_cbor_writer_finish(&w, &n);
    return expect_reason_as("dev-a", "bind", m, sign_bytes(key_of("dev-a"), p, n, m, sizeof m),
                            FOGPAY_ERR_CBOR_TOO_LONG);
}

static bool c_intent_on_bind_topic(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    return expect_reason_as("dev-a", "bind", m, n, FOGPAY_ERR_CBOR_TYPE);
}

/* Sends bytes as dev-a on leaf; expects a signed receipt of status. */
static bool expect_status(const char *leaf, const uint8_t *bytes, size_t len, uint8_t status)
{
    MQTTClient c;
    if (!device_open(&c, "dev-a")) {
        return false;
    }
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/dev-a/%s", leaf);
    publish_to(c, topic, bytes, len, 0);
    fogpay_receipt r;
    bool ok = take_receipt(c, bytes, len, &r);
    if (ok && r.status != status) {
        ok = fail("status %u, expected %u", (unsigned)r.status, (unsigned)status);
    }
    client_close(&c);
    return ok;
}

static size_t reading_a(const char *meter, uint64_t quantity, uint8_t *out)
{
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    strcpy(u.device_id, "dev-a");
    u.seq = seq_a++;
    snprintf(u.meter_id, sizeof u.meter_id, "%s", meter);
    u.quantity = quantity;
    strcpy(u.unit, "Wh");
    u.created_s = (uint64_t)time(NULL);
    test_chain_prev(db_path, "dev-a", u.prev_hash);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_usage_encode(&u, payload, sizeof payload, &len) != FOGPAY_OK) {
        return 0;
    }
    return sign_bytes(key_of("dev-a"), payload, len, out, FOGPAY_MESSAGE_MAX);
}

/* A meter bound and its baseline taken (nothing paid), then a reading
 * going back: refused, nothing paid. */
static bool c_bound_reading_backwards(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_bind b = bind_of("dev-a", "m-h", "t-b");
    size_t n = sign_bind(key_of("dev-a"), &b, m);
    if (!expect_status("bind", m, n, FOGPAY_STATUS_STORED)) {
        return false;
    }
    n = reading_a("m-h", 1000, m);
    if (!expect_status("usage", m, n, FOGPAY_STATUS_STORED)) {
        return false;
    }
    n = reading_a("m-h", 999, m);
    return expect_reason_as("dev-a", "usage", m, n, FOGPAY_ERR_READING_BACKWARDS);
}

/* Bindings naming a hold that cannot pay dev-a's readings at t-b. */
static bool bind_hold_expect(uint64_t hold, fogpay_error reason)
{
    fogpay_bind b = bind_of("dev-a", "m-hold", "t-b");
    b.hold_id = hold;
    return bind_expect(&b, key_of("dev-a"), reason);
}

static bool c_bind_hold_unknown(void)
{
    return bind_hold_expect(999999999, FOGPAY_ERR_HOLD_UNKNOWN);
}

static bool c_bind_hold_foreign(void)
{
    return bind_hold_expect(hold_ids[HOLD_FOREIGN], FOGPAY_ERR_HOLD_FOREIGN);
}

static bool c_bind_hold_resolved(void)
{
    return bind_hold_expect(hold_ids[HOLD_VOIDED], FOGPAY_ERR_HOLD_RESOLVED);
}

static bool c_bind_hold_other_payee(void)
{
    return bind_hold_expect(hold_ids[HOLD_OTHER_PAYEE], FOGPAY_ERR_HOLD_TARIFF_PAYEE);
}

static bool c_bind_hold_dollars(void)
{
    return bind_hold_expect(hold_ids[HOLD_DOLLARS], FOGPAY_ERR_HOLD_TARIFF_CURRENCY);
}

/* A meter bound with a hold of one cent, its baseline taken (nothing
 * paid), then a reading of 2 cents: refused, nothing paid. */
static bool c_hold_insufficient(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_bind b = bind_of("dev-a", "m-cent", "t-b");
    b.hold_id = hold_ids[HOLD_CENT];
    size_t n = sign_bind(key_of("dev-a"), &b, m);
    if (!expect_status("bind", m, n, FOGPAY_STATUS_STORED)) {
        return false;
    }
    n = reading_a("m-cent", 1000, m);
    if (!expect_status("usage", m, n, FOGPAY_STATUS_STORED)) {
        return false;
    }
    n = reading_a("m-cent", 1020, m);
    return expect_reason_as("dev-a", "usage", m, n, FOGPAY_ERR_HOLD_INSUFFICIENT);
}

/* Beyond the plausibility limit: refused, nothing paid. */
static bool c_bound_reading_implausible(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = reading_a("m-h", 1000 + FOGPAY_METER_DELTA_MAX + 1, m);
    return expect_reason_as("dev-a", "usage", m, n, FOGPAY_ERR_READING_IMPLAUSIBLE);
}

/* ---- MQTT-level refusals -------------------------------------------------- */

static bool expect_connect_refused(const char *id, const char *user, const char *pass)
{
    MQTTClient c;
    int rc = connect_as(&c, id, user, pass, MQTTVERSION_3_1_1);
    if (rc == MQTTCLIENT_SUCCESS) {
        MQTTClient_disconnect(c, 100);
    }
    MQTTClient_destroy(&c);
    if (rc != 4 && rc != 5) {
        return fail("CONNACK %s%lld, expected 4 or 5 (bad credentials / not authorised)", "",
                    (long long)rc);
    }
    return true;
}

static bool c_login_wrong_password(void)
{
    return expect_connect_refused("dev-a", "dev-a", "wrong");
}
static bool c_login_unknown_device(void)
{
    return expect_connect_refused("dev-zz", "dev-zz", "pass-a");
}
static bool c_login_revoked(void)
{
    return expect_connect_refused("dev-r", "dev-r", "pass-r");
}
static bool c_login_empty(void)
{
    return expect_connect_refused("dev-a", "", "");
}
static bool c_login_anonymous(void)
{
    return expect_connect_refused("stranger", NULL, NULL);
}
static bool c_login_client_id_of_other(void)
{
    return expect_connect_refused("dev-b", "dev-a", "pass-a");
}
static bool c_login_operator_wrong(void)
{
    return expect_connect_refused("ops-x", "ops", "nope");
}

static bool c_client_id_overlong(void)
{
    char id[300];
    memset(id, 'd', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    return expect_connect_refused(id, id, "pass-a");
}

/* Subscribing as dev-a to topic must be refused in the SUBACK. */
static bool expect_sub_refused_as(const char *by, const char *topic)
{
    MQTTClient c;
    if (!device_open(&c, by)) {
        return false;
    }
    int rc = MQTTClient_subscribe(c, topic, 1);
    client_close(&c);
    if (rc == MQTTCLIENT_SUCCESS) {
        return fail("SUBACK granted %s", topic);
    }
    return true;
}

static bool c_sub_all(void)
{
    return expect_sub_refused_as("dev-a", "#");
}
static bool c_sub_plus_receipts(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/+/receipt");
}
static bool c_sub_fogpay_all(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/#");
}
static bool c_sub_sys(void)
{
    return expect_sub_refused_as("dev-a", "$SYS/#");
}
static bool c_sub_control(void)
{
    return expect_sub_refused_as("dev-a", "$CONTROL/fogpay/v1/response");
}
static bool c_sub_share_other(void)
{
    return expect_sub_refused_as("dev-a", "$share/g/fogpay/v1/dev/dev-b/receipt");
}
static bool c_sub_share_all(void)
{
    return expect_sub_refused_as("dev-a", "$share/g/#");
}
static bool c_sub_other_receipt(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/dev-b/receipt");
}
static bool c_sub_other_cmd(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/dev-b/cmd");
}
static bool c_sub_other_plan(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/dev-b/plan");
}
static bool c_sub_other_intent(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/dev-b/intent");
}
static bool c_sub_own_reply_wild(void)
{
    return expect_sub_refused_as("dev-a", "fogpay/v1/dev/dev-a/reply/#");
}

/* dev-a publishes on a topic that is not its own: nothing is answered to
 * anyone, dev-b hears nothing. */
static bool expect_ignored(const char *topic, const uint8_t *bytes, size_t len, int retained)
{
    MQTTClient a, b;
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    if (!device_open(&b, "dev-b")) {
        client_close(&a);
        return false;
    }
    publish_to(a, topic, bytes, len, retained);
    bool heard_a = next_message(a, SILENCE_MS, NULL, NULL, NULL);
    bool heard_b = next_message(b, SILENCE_MS, NULL, NULL, NULL);
    client_close(&a);
    client_close(&b);
    if (heard_a || heard_b) {
        return fail("a message came to %s", heard_a ? "dev-a" : "dev-b");
    }
    return true;
}

static bool c_pub_other_intent(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-b", 902, "dev-a", 10);
    size_t n = sign_intent(key_of("dev-b"), &in, m);
    return expect_ignored("fogpay/v1/dev/dev-b/intent", m, n, 0);
}

static bool c_pub_forged_receipt(void)
{
    static const uint8_t m[] = {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40};
    return expect_ignored("fogpay/v1/dev/dev-b/receipt", m, sizeof m, 0);
}

static bool c_pub_own_receipt(void)
{
    static const uint8_t m[] = {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40};
    return expect_ignored("fogpay/v1/dev/dev-a/receipt", m, sizeof m, 0);
}

/* A device writing its own plan notice (a later paid-up-to time, say). */
static bool c_pub_own_plan(void)
{
    static const uint8_t m[] = {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40};
    return expect_ignored("fogpay/v1/dev/dev-a/plan", m, sizeof m, 0);
}

static bool c_pub_control_from_device(void)
{
    const char *cmd = "{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\","
                      "\"currency\":\"EUR\",\"amount\":\"100.00\",\"bankReference\":\"x\"}]}";
    return expect_ignored("$CONTROL/fogpay/v1", (const uint8_t *)cmd, strlen(cmd), 0);
}

static bool c_pub_overlong_topic(void)
{
    static char topic[20000];
    memset(topic, 'x', sizeof topic - 1);
    memcpy(topic, "fogpay/v1/dev/dev-a/", 20);
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    return expect_ignored(topic, m, n, 0);
}

static bool c_pub_intent_subtopic(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    return expect_ignored("fogpay/v1/dev/dev-a/intent/x", m, n, 0);
}

static bool c_retained_intent_not_kept(void)
{
    /* A retained intent (to an unknown payee) is answered once and not
     * kept: a later operator subscriber hears nothing. */
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-nobody", 10);
    size_t n = sign_intent(key_of("dev-a"), &in, m);
    MQTTClient a, ops;
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    publish_to(a, "fogpay/v1/dev/dev-a/intent", m, n, 1);
    fogpay_receipt r;
    bool ok = take_receipt(a, m, n, &r) && r.reason == FOGPAY_ERR_UNKNOWN_PAYEE;
    client_close(&a);
    if (!ok) {
        return fail("the retained intent was not refused as unknown_payee");
    }
    if (connect_as(&ops, "ops-r", "ops", "ops-pass", MQTTVERSION_3_1_1) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(&ops);
        return fail("the operator could not connect");
    }
    MQTTClient_subscribe(ops, "fogpay/v1/dev/dev-a/intent", 1);
    bool kept = next_message(ops, SILENCE_MS, NULL, NULL, NULL);
    client_close(&ops);
    return kept ? fail("the intent was retained") : true;
}

static bool c_will_on_other_topic(void)
{
    /* dev-a's will names dev-b's intent topic with a stolen dev-b intent;
     * dev-a drops its connection. Nothing may settle. */
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-b", 903, "dev-a", 10);
    size_t n = sign_intent(key_of("dev-b"), &in, m);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient c;
    MQTTClient_create(&c, uri, "dev-a", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
    will.topicName = "fogpay/v1/dev/dev-b/intent";
    will.payload.data = m;
    will.payload.len = (int)n;
    will.qos = 1;
    o.will = &will;
    o.username = "dev-a";
    o.password = "pass-a";
    int rc = MQTTClient_connect(c, &o);
    MQTTClient_destroy(&c); /* no DISCONNECT: the will is due */
    testutil_sleep_ms(SILENCE_MS);
    (void)rc;
    return true;
}

static bool c_will_own_intent(void)
{
    /* A will carrying dev-a's intent to an unknown payee: at most a
     * rejection, nothing moves. */
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-nobody", 10);
    size_t n = sign_intent(key_of("dev-a"), &in, m);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient c;
    MQTTClient_create(&c, uri, "dev-a", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
    will.topicName = "fogpay/v1/dev/dev-a/intent";
    will.payload.data = m;
    will.payload.len = (int)n;
    will.qos = 1;
    o.will = &will;
    o.username = "dev-a";
    o.password = "pass-a";
    MQTTClient_connect(c, &o);
    MQTTClient_destroy(&c);
    testutil_sleep_ms(SILENCE_MS);
    return true;
}

/* MQTT 5: dev-a asks for its receipt on response_topic with correlation
 * data of corr_len bytes; dev-b listens on its reply topic. */
static bool response_topic_abuse(const char *response_topic, int corr_len)
{
    MQTTClient a, b;
    if (connect_as(&a, "dev-a", "dev-a", "pass-a", MQTTVERSION_5) != 0) {
        MQTTClient_destroy(&a);
        return fail("dev-a could not connect with MQTT 5");
    }
    if (!device_open(&b, "dev-b")) {
        client_close(&a);
        return false;
    }
    MQTTClient_subscribe(b, "fogpay/v1/dev/dev-b/reply/x", 1);
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-nobody", 10);
    size_t n = sign_intent(key_of("dev-a"), &in, m);
    static char corr[70000];
    memset(corr, 'c', sizeof corr);
    test_mqtt5_publish(a, "fogpay/v1/dev/dev-a/intent", m, n, response_topic, corr, corr_len, 2000);
    bool heard_b = next_message(b, SILENCE_MS, NULL, NULL, NULL);
    MQTTClient_disconnect5(a, 100, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_destroy(&a);
    client_close(&b);
    return heard_b ? fail("dev-b heard dev-a's answer") : true;
}

static bool c_response_topic_other_device(void)
{
    return response_topic_abuse("fogpay/v1/dev/dev-b/reply/x", 4);
}
static bool c_response_topic_wildcard(void)
{
    return response_topic_abuse("fogpay/v1/dev/+/reply/x", 4);
}
static bool c_response_topic_control(void)
{
    return response_topic_abuse("$CONTROL/fogpay/v1", 4);
}
static bool c_correlation_huge(void)
{
    return response_topic_abuse("fogpay/v1/dev/dev-a/reply/x", 65535);
}

static bool c_flood_garbage(void)
{
    /* 500 malformed messages at QoS 0 from dev-a; the witness must still
     * settle within its wait, checked after the case. */
    MQTTClient a;
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    static const uint8_t g[] = {0xd2, 0x84, 0x41};
    for (int i = 0; i < 500; i++) {
        publish_now(a, "fogpay/v1/dev/dev-a/intent", g, sizeof g);
    }
    client_close(&a);
    /* dev-a's next case starts in a fresh window of its flow limit. */
    testutil_sleep_ms(2 * FOGPAY_FLOW_WINDOW_MS);
    return true;
}

static bool c_flood_signed(void)
{
    MQTTClient a;
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        fogpay_intent in = intent("dev-a", seq_a++, "dev-nobody", 10);
        if (i > 0) {
            link_after(&in, m, n);
        }
        n = sign_intent(key_of("dev-a"), &in, m);
        publish_now(a, "fogpay/v1/dev/dev-a/intent", m, n);
    }
    client_close(&a);
    /* dev-a's next case starts in a fresh window of its flow limit. */
    testutil_sleep_ms(2 * FOGPAY_FLOW_WINDOW_MS);
    return true;
}

static bool c_operator_writes_intent(void)
{
    MQTTClient ops;
    if (connect_as(&ops, "ops-w", "ops", "ops-pass", MQTTVERSION_3_1_1) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(&ops);
        return fail("the operator could not connect");
    }
    MQTTClient_subscribe(ops, "fogpay/v1/dev/dev-a/receipt", 1);
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    publish_to(ops, "fogpay/v1/dev/dev-a/intent", m, n, 0);
    /* A late receipt of an earlier case may pass by on dev-a's topic; only
     * one that names this intent's hash is an answer to the operator. */
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256(m, n, hash);
    bool answered = false;
    uint8_t raw[4096];
    size_t len = 0;
    uint64_t until = testutil_now_ms() + SILENCE_MS;
    while (!answered && testutil_now_ms() < until &&
           next_message(ops, (int)(until - testutil_now_ms()), raw, &len, NULL)) {
        fogpay_cose_sign1 msg;
        fogpay_receipt r;
        answered = fogpay_cose_sign1_parse(raw, len, &msg) == FOGPAY_OK &&
                   fogpay_receipt_decode(msg.payload.ptr, msg.payload.len, &r) == FOGPAY_OK &&
                   memcmp(r.intent_hash, hash, sizeof hash) == 0;
    }
    client_close(&ops);
    return answered ? fail("the operator's intent was answered") : true;
}

/* The operator sends a control request; the response must carry an error
 * and no "ok" result for it. */
static bool operator_expects_error(const char *request)
{
    MQTTClient ops;
    if (connect_as(&ops, "ops-c", "ops", "ops-pass", MQTTVERSION_3_1_1) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(&ops);
        return fail("the operator could not connect");
    }
    MQTTClient_subscribe(ops, "$CONTROL/fogpay/v1/response", 1);
    publish_to(ops, "$CONTROL/fogpay/v1", request, strlen(request), 0);
    uint8_t reply[4097];
    size_t len = 0;
    bool got = next_message(ops, WAIT_MS, reply, &len, NULL);
    client_close(&ops);
    if (!got) {
        return fail("no control response");
    }
    reply[len] = '\0';
    if (!strstr((char *)reply, "\"error\"")) {
        return fail("the response carries no error: %.200s", (char *)reply);
    }
    return true;
}

static bool c_op_fund_negative(void)
{
    return operator_expects_error(
        "{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\","
        "\"currency\":\"EUR\",\"amount\":\"-5.00\",\"bankReference\":\"x\"}]}");
}
static bool c_op_fund_huge(void)
{
    return operator_expects_error("{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-a\","
                                  "\"currency\":\"EUR\",\"amount\":\"99999999999999999999.00\","
                                  "\"bankReference\":\"x\"}]}");
}
static bool c_op_fund_unknown(void)
{
    return operator_expects_error(
        "{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"dev-zz\","
        "\"currency\":\"EUR\",\"amount\":\"1.00\",\"bankReference\":\"x\"}]}");
}
static bool c_op_bad_json(void)
{
    return operator_expects_error("{\"commands\":[{\"command\":");
}
static bool c_op_unknown_command(void)
{
    return operator_expects_error("{\"commands\":[{\"command\":\"transferAll\"}]}");
}

static bool c_replay_across_restart(void)
{
    /* A settled intent is sent again after the broker restarts: the same
     * receipt, no second transfer. */
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 1);
    MQTTClient a;
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    publish_to(a, "fogpay/v1/dev/dev-a/intent", m, n, 0);
    fogpay_receipt first, again;
    bool ok = take_receipt(a, m, n, &first) && first.status == FOGPAY_STATUS_SETTLED;
    client_close(&a);
    if (!ok) {
        return fail("the first send did not settle");
    }
    snapshot_take();
    test_broker_stop(&broker);
    if (!test_broker_restart(&broker)) {
        return fail("the broker did not restart");
    }
    if (!device_open(&a, "dev-a")) {
        return false;
    }
    publish_to(a, "fogpay/v1/dev/dev-a/intent", m, n, 0);
    ok = take_receipt(a, m, n, &again) && again.status == FOGPAY_STATUS_SETTLED &&
         again.position == first.position;
    client_close(&a);
    return ok ? true : fail("the replay was not answered with the first receipt");
}

static bool c_revoked_while_connected(void)
{
    /* dev-v is revoked by the operator while connected: its session must
     * end at once. */
    MQTTClient v, ops;
    if (!device_open(&v, "dev-v")) {
        return false;
    }
    if (connect_as(&ops, "ops-v", "ops", "ops-pass", MQTTVERSION_3_1_1) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(&ops);
        client_close(&v);
        return fail("the operator could not connect");
    }
    MQTTClient_subscribe(ops, "$CONTROL/fogpay/v1/response", 1);
    const char *req = "{\"commands\":[{\"command\":\"revokeDevice\",\"device\":\"dev-v\"}]}";
    publish_to(ops, "$CONTROL/fogpay/v1", req, strlen(req), 0);
    next_message(ops, WAIT_MS, NULL, NULL, NULL);
    client_close(&ops);
    testutil_sleep_ms(500);
    bool still = MQTTClient_isConnected(v);
    client_close(&v);
    return still ? fail("dev-v is still connected after its revocation") : true;
}

static bool c_broken_device_chain(void)
{
    /* prev-hash naming no message of dev-a's (schemas/README.md, device
     * chain): its predecessor never arrived, so nothing may settle. */
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a++, "dev-b", 1);
    memset(in.prev_hash, 0xaa, sizeof in.prev_hash);
    return expect_reason(m, sign_intent(key_of("dev-a"), &in, m), FOGPAY_ERR_CHAIN_GAP);
}

/* Sends a signed intent of dev-f's and expects reason; keeps the bytes. */
static bool fork_step(fogpay_intent *in, uint8_t *m, size_t *n, fogpay_error reason)
{
    *n = sign_intent(key_of("dev-f"), in, m);
    return expect_reason_as("dev-f", "intent", m, *n, reason);
}

/* Whether dev-f is suspended with a status event that names chain_fork. */
static bool fork_reported(void)
{
    fogpay_ledger *l;
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        return fail("the ledger does not open");
    }
    fogpay_device d;
    uint64_t position = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_event e;
    memset(&e, 0, sizeof e);
    bool suspended = fogpay_ledger_device_get(l, "dev-f", &d) == FOGPAY_OK &&
                     d.status == FOGPAY_DEVICE_SUSPENDED;
    bool event = fogpay_ledger_event_head(l, &position, hash) == FOGPAY_OK &&
                 fogpay_ledger_event_get(l, position, &e, hash) == FOGPAY_OK &&
                 e.kind == FOGPAY_EVENT_STATUS && strcmp(e.device_id, "dev-f") == 0 &&
                 e.reason == FOGPAY_ERR_CHAIN_FORK;
    fogpay_ledger_close(l);
    size_t log_len = 0;
    char *log = testutil_read_file(broker.log_path, &log_len);
    bool logged = log && strstr(log, "device dev-f forked its chain at seq 2") != NULL;
    free(log);
    if (!suspended || !event || !logged) {
        return fail("the fork was not reported: suspended %d, status event %d, log line %d",
                    suspended, event, logged);
    }
    return true;
}

static bool c_chain_fork(void)
{
    /* seqs 1, 1000, then 2 continuing from 1 again, as a second device
     * with dev-f's key would send: two messages continue the chain from
     * seq 1. Each is refused (unknown payee), so no money moves. */
    uint8_t m1[FOGPAY_MESSAGE_MAX], m2[FOGPAY_MESSAGE_MAX], m3[FOGPAY_MESSAGE_MAX];
    size_t n1 = 0, n2 = 0, n3 = 0;
    fogpay_intent first = intent("dev-f", 1, "dev-nobody", 10);
    if (!fork_step(&first, m1, &n1, FOGPAY_ERR_UNKNOWN_PAYEE)) {
        return false;
    }
    fogpay_intent far = intent("dev-f", 1000, "dev-nobody", 10);
    if (!fork_step(&far, m2, &n2, FOGPAY_ERR_UNKNOWN_PAYEE)) {
        return false;
    }
    fogpay_intent clone = intent("dev-f", 2, "dev-nobody", 10);
    link_after(&clone, m1, n1);
    return fork_step(&clone, m3, &n3, FOGPAY_ERR_CHAIN_FORK) && fork_reported();
}

/* dev-p's intents to nobody, each linked to the one before. */
#define FLOW_ANSWERS 3
#define FLOW_BURST   9
static uint8_t flow_msgs[FLOW_BURST][FOGPAY_MESSAGE_MAX];
static size_t flow_lens[FLOW_BURST];

static void flow_sign_burst(uint64_t first_seq)
{
    fogpay_intent in = intent("dev-p", first_seq, "dev-nobody", 10);
    for (size_t i = 0; i < FLOW_BURST; i++) {
        in.seq = first_seq + i;
        if (i > 0) {
            link_after(&in, flow_msgs[i - 1], flow_lens[i - 1]);
        }
        flow_lens[i] = sign_intent(key_of("dev-p"), &in, flow_msgs[i]);
    }
}

/* Sends dev-p's messages from index `from` on at QoS 0 without reading,
 * then reads every answer until silence, counting them by reason. */
static bool flow_round(MQTTClient p, size_t from, int *answered, int *pending, int *other)
{
    for (size_t i = from; i < FLOW_BURST; i++) {
        publish_to(p, "fogpay/v1/dev/dev-p/intent", flow_msgs[i], flow_lens[i], 0);
    }
    uint8_t raw[4096];
    size_t len = 0;
    while (next_message(p, WAIT_MS / 3, raw, &len, NULL)) {
        fogpay_cose_sign1 msg;
        fogpay_receipt r;
        if (fogpay_cose_sign1_parse(raw, len, &msg) != FOGPAY_OK ||
            fogpay_cose_sign1_verify(&msg, gateway_key, NULL, 0) != FOGPAY_OK ||
            fogpay_receipt_decode(msg.payload.ptr, msg.payload.len, &r) != FOGPAY_OK) {
            return fail("an answer does not verify");
        }
        *answered += r.reason == FOGPAY_ERR_UNKNOWN_PAYEE;
        *pending += r.reason == FOGPAY_ERR_TOO_MANY_PENDING;
        /* chain_gap answers a message that arrived in a new window after
         * its predecessor was refused: sent again, it is answered. */
        *other += r.reason != FOGPAY_ERR_UNKNOWN_PAYEE && r.reason != FOGPAY_ERR_TOO_MANY_PENDING &&
                  r.reason != FOGPAY_ERR_CHAIN_GAP;
    }
    return true;
}

/* Part one: the answers owed are bounded, and every message is answered
 * when the device sends the unanswered ones again in later windows. */
static bool flow_answered_later(MQTTClient p)
{
    flow_sign_burst(1);
    int answered = 0, pending = 0, other = 0, rounds = 0;
    uint8_t prev[FOGPAY_PREV_HASH_BYTES];
    uint64_t head = 0;
    bool ok = true;
    while (ok && head < FLOW_BURST && rounds++ < FLOW_BURST) {
        ok = flow_round(p, (size_t)head, &answered, &pending, &other);
        head = test_chain_prev(db_path, "dev-p", prev);
        testutil_sleep_ms(2 * FOGPAY_FLOW_WINDOW_MS);
    }
    if (!ok || head != FLOW_BURST || answered != FLOW_BURST || other != 0 || pending < 1) {
        return fail("after %d rounds: head %llu, %d answered, %d too_many_pending, %d other",
                    rounds, (unsigned long long)head, answered, pending, other);
    }
    return true;
}

/* Part two: a device that keeps over its limit through
 * FOGPAY_FLOW_STRIKES_MAX windows in a row is disconnected. */
static bool flow_disconnected(MQTTClient p)
{
    flow_sign_burst(FLOW_BURST + 1);
    uint64_t until = testutil_now_ms() + 4 * FOGPAY_FLOW_STRIKES_MAX * FOGPAY_FLOW_WINDOW_MS;
    for (size_t i = 0; MQTTClient_isConnected(p) && testutil_now_ms() < until; i++) {
        publish_to(p, "fogpay/v1/dev/dev-p/intent", flow_msgs[i % FLOW_BURST],
                   flow_lens[i % FLOW_BURST], 0);
    }
    return MQTTClient_isConnected(p)
               ? fail("dev-p is still connected after sending over its limit for %u windows",
                      4 * FOGPAY_FLOW_STRIKES_MAX)
               : true;
}

static bool c_flow_limit(void)
{
    /* The gateway runs with FLOW_ANSWERS answers per device a second. */
    char option[64];
    snprintf(option, sizeof option, "plugin_opt_device_answers_per_s %d\n", FLOW_ANSWERS);
    if (!restart_gateway(option)) {
        return fail("the gateway did not start with the lower limit");
    }
    MQTTClient p;
    bool ok = device_open(&p, "dev-p");
    ok = ok && flow_answered_later(p) && flow_disconnected(p);
    client_close(&p);
    size_t log_len = 0;
    char *log = testutil_read_file(broker.log_path, &log_len);
    bool dropped = log && strstr(log, "Outgoing messages are being dropped") != NULL;
    bool kicked = log && strstr(log, "device dev-p was over its limit") != NULL;
    free(log);
    if (!restart_gateway("")) {
        return fail("the gateway did not start again");
    }
    if (ok && (dropped || !kicked)) {
        ok = fail("the broker dropped receipts (%d) or the disconnection was not logged (%d)",
                  dropped, !kicked);
    }
    return ok;
}

/* ---- the tables ------------------------------------------------------------ */

/* ---- holds (schemas/hold.cddl) ----------------------------------------------- */

/* A hold message of dev-a by hand: keys 1..7 with op, id and, when
 * amount_key, key 5 = amount; linked after dev-a's last answered message. */
static size_t hold_raw(uint64_t op, uint64_t id, bool amount_key, uint64_t amount, uint8_t *out)
{
    uint8_t prev[FOGPAY_PREV_HASH_BYTES];
    uint64_t seq = test_chain_prev(db_path, "dev-a", prev) + 1;
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, payload, sizeof payload);
    fogpay_cbor_put_map(&w, amount_key ? 7 : 6);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, "dev-a", 5);
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, seq);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_uint(&w, op);
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_uint(&w, id);
    if (amount_key) {
        fogpay_cbor_put_uint(&w, 5);
        fogpay_cbor_put_uint(&w, amount);
    }
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_uint(&w, (uint64_t)time(NULL));
    fogpay_cbor_put_uint(&w, 7);
    fogpay_cbor_put_bytes(&w, prev, sizeof prev);
    size_t len = 0;
    fogpay_cbor_writer_finish(&w, &len);
    return sign_bytes(key_of("dev-a"), payload, len, out, FOGPAY_MESSAGE_MAX);
}

static bool hold_expect(uint64_t op, uint64_t id, bool amount_key, uint64_t amount,
                        fogpay_error reason)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = hold_raw(op, id, amount_key, amount, m);
    return expect_reason_as("dev-a", "hold", m, n, reason);
}

static bool c_hold_unknown(void)
{
    return hold_expect(FOGPAY_HOLD_VOID, 999999999, false, 0, FOGPAY_ERR_HOLD_UNKNOWN);
}

static bool c_hold_of_a_payment(void)
{
    return hold_expect(FOGPAY_HOLD_CAPTURE, 1, true, 1, FOGPAY_ERR_HOLD_UNKNOWN);
}

static bool c_hold_id_u64_max(void)
{
    return hold_expect(FOGPAY_HOLD_VOID, UINT64_MAX, false, 0, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_hold_capture_no_amount(void)
{
    return hold_expect(FOGPAY_HOLD_CAPTURE, 1, false, 0, FOGPAY_ERR_MISSING_FIELD);
}

static bool c_hold_capture_amount_u64_max(void)
{
    return hold_expect(FOGPAY_HOLD_CAPTURE, 1, true, UINT64_MAX, FOGPAY_ERR_AMOUNT_TOO_LARGE);
}

static bool c_hold_void_with_amount(void)
{
    return hold_expect(FOGPAY_HOLD_VOID, 1, true, 5, FOGPAY_ERR_FIELD_RANGE);
}

static bool c_hold_unknown_op(void)
{
    return hold_expect(7, 1, false, 0, FOGPAY_ERR_FIELD_RANGE);
}

/* A valid intent on the hold topic is no hold message: its key 3 is text. */
static bool c_hold_intent_on_hold_topic(void)
{
    uint8_t m[FOGPAY_MESSAGE_MAX];
    size_t n = good_intent_a(m, 10);
    return expect_reason_as("dev-a", "hold", m, n, FOGPAY_ERR_CBOR_TYPE);
}

/* An authorisation held longer than FOGPAY_HOLD_TIMEOUT_MAX_S. */
static bool c_hold_timeout_too_long(void)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX], m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-a", seq_a, "dev-b", 10);
    in.seq = test_chain_prev(db_path, "dev-a", in.prev_hash) + 1;
    in.hold_s = 10;
    size_t len = 0;
    if (fogpay_intent_encode(&in, payload, sizeof payload, &len) != FOGPAY_OK) {
        return fail("cannot encode an authorisation");
    }
    /* The last key is 11: its value, 10 (one byte), becomes 2^32-1. */
    payload[len - 1] = 0x1a;
    memset(payload + len, 0xff, 4);
    len += 4;
    return expect_reason(m, sign_bytes(key_of("dev-a"), payload, len, m, sizeof m),
                         FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG);
}

typedef struct hostile_case {
    const char *name;
    const char *by;
    const char *sent;
    const char *expected;
    bool (*run)(void);
} hostile_case;

#define CASE(n, by, sent, exp)                                                                     \
    {                                                                                              \
#n, by, sent, exp, c_##n                                                                   \
    }
static const hostile_case cases[] = {
    CASE(bad_signature, "dev-a", "valid intent, last signature bit flipped", "bad_signature"),
    CASE(other_devices_key, "dev-a", "own intent signed with dev-b's key", "bad_signature"),
    CASE(device_mismatch, "dev-a", "intent naming dev-b, signed by dev-a", "device_mismatch"),
    CASE(stolen_intent_replayed, "dev-a", "dev-b's signed intent on dev-a's topic",
         "bad_signature"),
    CASE(stale_key_after_rotation, "dev-k", "intent signed with the replaced key", "key_revoked"),
    CASE(suspended_pays, "dev-s", "intent of a suspended device", "device_suspended"),
    CASE(expired, "dev-a", "created 10000 s ago, ttl 300", "expired"),
    CASE(future, "dev-a", "created 2 h ahead", "not_yet_valid"),
    CASE(currency, "dev-a", "USD on an EUR gateway", "currency_unsupported"),
    CASE(unknown_payee, "dev-a", "payee dev-nobody", "unknown_payee"),
    CASE(payee_self, "dev-a", "payee dev-a", "payee_self"),
    CASE(payee_inactive, "dev-a", "payee revoked dev-r", "payee_inactive"),
    CASE(amount_zero, "dev-a", "amount 0", "amount_zero"),
    CASE(amount_too_large, "dev-a", "amount FOGPAY_AMOUNT_MAX_MINOR+1", "amount_too_large"),
    CASE(amount_u64_max, "dev-a", "amount 2^64-1", "amount_too_large"),
    CASE(amount_2p63, "dev-a", "amount 2^63", "amount_too_large"),
    CASE(limit_per_payment, "dev-a", "5001 over a 5000 per-payment limit", "limit_per_payment"),
    CASE(limit_per_day, "dev-d", "101 over a 100 daily limit", "limit_per_day"),
    CASE(insufficient, "dev-b", "balance + 1", "insufficient_funds"),
    CASE(wallet_max, "dev-a", "1 to dev-m at its wallet maximum", "wallet_max"),
    CASE(seq_zero, "dev-a", "seq 0", "field_range"),
    CASE(seq_u64_max, "dev-a", "seq 2^64-1", "field_range"),
    CASE(seq_stored_max, "dev-a", "seq 2^63-1 to an unknown payee", "unknown_payee"),
    CASE(ttl_zero, "dev-a", "ttl 0", "field_range"),
    CASE(ttl_huge, "dev-a", "ttl 2^64-1", "field_range"),
    CASE(created_huge, "dev-a", "created 2^64-1", "field_range"),
    CASE(currency_huge, "dev-a", "currency 70000", "field_range"),
    CASE(missing_field, "dev-a", "intent without key 6", "missing_field"),
    CASE(unknown_field, "dev-a", "intent with key 99", "unknown_field"),
    CASE(text_invalid, "dev-a", "payee with bytes ff fe", "text_invalid"),
    CASE(duplicate_key, "dev-a", "key 1 twice", "duplicate_key"),
    CASE(unsorted_keys, "dev-a", "key 2 before key 1", "cbor_not_deterministic"),
    CASE(non_shortest_uint, "dev-a", "amount 10 as 19 00 0a", "cbor_not_deterministic"),
    CASE(non_shortest_envelope, "dev-a", "COSE array head 98 04", "cbor_not_deterministic"),
    CASE(payload_array, "dev-a", "signed payload [1,2,3]", "cbor_type"),
    CASE(negative_amount, "dev-a", "amount -10", "cbor_type"),
    CASE(deep_nesting, "dev-a", "signed payload of 40 nested arrays", "cbor_type (not a map)"),
    CASE(deep_nesting_envelope, "dev-a", "tag 18 over 40 nested arrays", "cose_structure"),
    CASE(huge_bstr_length, "dev-a", "protected bstr declaring 2^64-1 bytes", "cbor_truncated"),
    CASE(huge_map_count, "dev-a", "payload map declaring 2^64-1 pairs", "cbor_too_long"),
    CASE(huge_array_count, "dev-a", "envelope array declaring 2^32-1 items", "cose_structure"),
    CASE(indefinite_envelope, "dev-a", "COSE array as 9f ... ff", "cbor_indefinite"),
    CASE(indefinite_map_payload, "dev-a", "intent map as bf ... ff", "cbor_indefinite"),
    CASE(indefinite_text, "dev-a", "device id as indefinite text", "cbor_indefinite"),
    CASE(reserved_info, "dev-a", "d2 1c", "cbor_ill_formed"),
    CASE(trailing, "dev-a", "valid message + 00", "cbor_trailing"),
    CASE(trailing_payload, "dev-a", "signed payload + 00", "cbor_trailing"),
    CASE(truncated_every_offset, "dev-a", "a valid intent cut at every offset",
         "cbor_truncated each"),
    CASE(payload_too_large, "dev-a", "513 bytes", "payload_too_large"),
    CASE(hold_unknown, "dev-a", "void of hold 999999999", "hold_unknown"),
    CASE(hold_of_a_payment, "dev-a", "capture of position 1, a funding", "hold_unknown"),
    CASE(hold_id_u64_max, "dev-a", "void of hold 2^64-1", "field_range"),
    CASE(hold_capture_no_amount, "dev-a", "capture without key 5", "missing_field"),
    CASE(hold_capture_amount_u64_max, "dev-a", "capture of 2^64-1", "amount_too_large"),
    CASE(hold_void_with_amount, "dev-a", "void with key 5", "field_range"),
    CASE(hold_unknown_op, "dev-a", "op 7", "field_range"),
    CASE(hold_intent_on_hold_topic, "dev-a", "a valid intent on the hold topic", "cbor_type"),
    CASE(hold_timeout_too_long, "dev-a", "authorisation with hold-s 2^32-1",
         "hold_timeout_too_long"),
    CASE(cose_three_items, "dev-a", "COSE array of three", "cose_structure"),
    CASE(cose_not_array, "dev-a", "tag 18 over a map", "cose_structure"),
    CASE(cose_tag_17, "dev-a", "valid message tagged 17", "cose_tag"),
    CASE(alg_unknown, "dev-a", "protected {1:-999}", "cose_alg_unsupported"),
    CASE(alg_absent, "dev-a", "protected {}", "cose_alg_unsupported"),
    CASE(protected_not_map, "dev-a", "protected bstr holding 01", "cose_header"),
    CASE(kid_of_other_device, "dev-a", "unprotected {4: dev-b kid}", "kid ignored: unknown_payee"),
    CASE(short_signature, "dev-a", "signature of 10 bytes", "bad_signature"),
    CASE(usage_quantity_max, "dev-a", "usage quantity 2^64-1", "field_range"),
    CASE(intent_on_usage_topic, "dev-a", "an intent on the usage topic", "cbor_type"),
    CASE(bind_unknown_tariff, "dev-a", "bind to a tariff never defined", "tariff_unknown"),
    CASE(bind_own_payee, "dev-a", "bind to a tariff paying dev-a", "tariff_own_payee"),
    CASE(bind_for_other_device, "dev-a", "bind naming dev-b", "device_mismatch"),
    CASE(bind_other_devices_key, "dev-a", "bind signed with dev-b's key", "bad_signature"),
    CASE(bind_expired, "dev-a", "bind created two days ago", "expired"),
    CASE(bind_tariff_overlong, "dev-a", "tariff id of 24 bytes", "cbor_too_long"),
    CASE(intent_on_bind_topic, "dev-a", "an intent on the bind topic", "cbor_type"),
    CASE(bind_hold_unknown, "dev-a", "bind naming hold 999999999", "hold_unknown"),
    CASE(bind_hold_foreign, "dev-a", "bind naming dev-v's hold", "hold_foreign"),
    CASE(bind_hold_resolved, "dev-a", "bind naming its voided hold", "hold_resolved"),
    CASE(bind_hold_other_payee, "dev-a", "bind to t-b naming its hold to dev-v",
         "hold_tariff_payee"),
    CASE(bind_hold_dollars, "dev-a", "bind to t-b (EUR) naming its USD hold",
         "hold_tariff_currency"),
    CASE(hold_insufficient, "dev-a", "a reading of 2 cents charged from a hold of 1",
         "hold_insufficient"),
    CASE(bound_reading_backwards, "dev-a", "bound meter read below its last reading",
         "reading_backwards"),
    CASE(bound_reading_implausible, "dev-a", "bound meter read 10^9+1 above its last",
         "reading_implausible"),
    CASE(login_wrong_password, "stranger", "dev-a, wrong password", "CONNACK refused"),
    CASE(login_unknown_device, "stranger", "unknown device dev-zz", "CONNACK refused"),
    CASE(login_revoked, "dev-r", "revoked device's credentials", "CONNACK refused"),
    CASE(login_empty, "stranger", "empty username and password", "CONNACK refused"),
    CASE(login_anonymous, "stranger", "no credentials", "CONNACK refused"),
    CASE(login_client_id_of_other, "dev-a", "client id dev-b, user dev-a", "CONNACK refused"),
    CASE(login_operator_wrong, "stranger", "operator name, wrong password", "CONNACK refused"),
    CASE(client_id_overlong, "stranger", "299-byte client id", "CONNACK refused"),
    CASE(sub_all, "dev-a", "subscribe #", "SUBACK failure"),
    CASE(sub_plus_receipts, "dev-a", "subscribe fogpay/v1/dev/+/receipt", "SUBACK failure"),
    CASE(sub_fogpay_all, "dev-a", "subscribe fogpay/#", "SUBACK failure"),
    CASE(sub_sys, "dev-a", "subscribe $SYS/#", "SUBACK failure"),
    CASE(sub_control, "dev-a", "subscribe the control response", "SUBACK failure"),
    CASE(sub_share_other, "dev-a", "$share/g/ on dev-b's receipts", "SUBACK failure"),
    CASE(sub_share_all, "dev-a", "$share/g/#", "SUBACK failure"),
    CASE(sub_other_receipt, "dev-a", "dev-b's receipts", "SUBACK failure"),
    CASE(sub_other_cmd, "dev-a", "dev-b's commands", "SUBACK failure"),
    CASE(sub_other_plan, "dev-a", "dev-b's plan notices", "SUBACK failure"),
    CASE(sub_other_intent, "dev-a", "dev-b's intents", "SUBACK failure"),
    CASE(sub_own_reply_wild, "dev-a", "own reply/# (a wildcard)", "SUBACK failure"),
    CASE(pub_other_intent, "dev-a", "dev-b's intent on dev-b's topic", "dropped, no answer"),
    CASE(pub_forged_receipt, "dev-a", "a receipt to dev-b", "dropped, dev-b hears nothing"),
    CASE(pub_own_receipt, "dev-a", "a receipt to itself", "dropped"),
    CASE(pub_own_plan, "dev-a", "a plan notice to itself", "dropped"),
    CASE(pub_control_from_device, "dev-a", "fundWallet on $CONTROL", "dropped, no money"),
    CASE(pub_overlong_topic, "dev-a", "a 20000-byte topic", "dropped"),
    CASE(pub_intent_subtopic, "dev-a", "intent on .../intent/x", "dropped"),
    CASE(retained_intent_not_kept, "dev-a", "retained intent", "answered once, not retained"),
    CASE(will_on_other_topic, "dev-a", "will: dev-b's intent on dev-b's topic", "nothing settles"),
    CASE(will_own_intent, "dev-a", "will: own intent to an unknown payee", "nothing settles"),
    CASE(response_topic_other_device, "dev-a", "MQTT 5 response topic of dev-b",
         "dev-b hears nothing"),
    CASE(response_topic_wildcard, "dev-a", "response topic with +", "not written"),
    CASE(response_topic_control, "dev-a", "response topic $CONTROL/fogpay/v1", "not written"),
    CASE(correlation_huge, "dev-a", "65535 bytes of correlation data", "no harm"),
    CASE(flood_garbage, "dev-a", "500 malformed messages at QoS 0", "witness served"),
    CASE(flood_signed, "dev-a", "200 signed refused intents at QoS 0", "witness served"),
    CASE(operator_writes_intent, "ops", "an intent on dev-a's topic", "dropped"),
    CASE(op_fund_negative, "ops", "fundWallet -5.00", "error response"),
    CASE(op_fund_huge, "ops", "fundWallet 10^20", "error response"),
    CASE(op_fund_unknown, "ops", "fundWallet to dev-zz", "error response"),
    CASE(op_bad_json, "ops", "truncated JSON", "error response"),
    CASE(op_unknown_command, "ops", "command transferAll", "error response"),
    CASE(replay_across_restart, "dev-a", "a settled intent after a restart", "same receipt"),
    CASE(empty_payload, "dev-a", "zero bytes", "cbor_truncated naming sha256(empty)"),
    CASE(alg_confusion, "dev-a", "ES256 header over an Ed25519 signature", "cose_alg_unsupported"),
    CASE(revoked_while_connected, "dev-v", "revoked by the operator while connected",
         "session ended"),
    CASE(broken_device_chain, "dev-a", "intent whose prev-hash continues nothing", "chain_gap"),
    CASE(chain_fork, "dev-f", "seqs 1, 1000, then 2 continuing 1 again",
         "chain_fork, suspended, status event, log line"),
    CASE(flow_limit, "dev-p", "9 pipelined intents over a limit of 3 a second, none read",
         "too_many_pending; all answered in later windows; disconnected after 3 windows over"),
};

/* ---- the harness ------------------------------------------------------------ */

static int64_t snap_balances[DEVICE_COUNT];
static uint64_t snap_chain;

static void read_state(int64_t *balances, uint64_t *chain)
{
    fogpay_ledger *l;
    *chain = 0;
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        return;
    }
    for (size_t i = 0; i < DEVICE_COUNT; i++) {
        uint64_t account;
        balances[i] = -1;
        if (fogpay_ledger_wallet(l, devices[i].id, EUR, &account) == FOGPAY_OK) {
            fogpay_ledger_balance(l, account, &balances[i]);
        }
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_ledger_chain_head(l, chain, hash);
    fogpay_ledger_close(l);
}

static void snapshot_take(void)
{
    read_state(snap_balances, &snap_chain);
}

static bool no_money_moved(void)
{
    int64_t now[DEVICE_COUNT];
    uint64_t chain;
    read_state(now, &chain);
    for (size_t i = 0; i < DEVICE_COUNT; i++) {
        if (now[i] != snap_balances[i]) {
            return fail("money moved: %s's balance changed by %lld", devices[i].id,
                        (long long)(now[i] - snap_balances[i]));
        }
    }
    return chain == snap_chain
               ? true
               : fail("money moved: %s%lld transfers more", "", (long long)(chain - snap_chain));
}

static bool ledger_verifies(void)
{
    fogpay_ledger *l;
    uint64_t checked = 0, bad = 0;
    char problem[256] = "";
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        return fail("the ledger does not open");
    }
    fogpay_error err = fogpay_ledger_verify(l, &checked, &bad, problem, sizeof problem);
    fogpay_ledger_close(l);
    return err == FOGPAY_OK
               ? true
               : fail("the ledger does not verify: %s at %lld", problem, (long long)bad);
}

static uint64_t seq_w1 = 1;

/* dev-w1 pays dev-w2 one cent: it must settle. Its session stays open
 * across cases, reopened when a case restarted the broker. */
static MQTTClient witness;
static bool witness_open;

static bool witness_served(void)
{
    if (witness_open && !MQTTClient_isConnected(witness)) {
        MQTTClient_destroy(&witness);
        witness_open = false;
    }
    if (!witness_open && !device_open(&witness, "dev-w1")) {
        return false;
    }
    witness_open = true;
    MQTTClient w = witness;
    uint8_t m[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent("dev-w1", seq_w1++, "dev-w2", 1);
    size_t n = sign_intent(key_of("dev-w1"), &in, m);
    publish_to(w, "fogpay/v1/dev/dev-w1/intent", m, n, 0);
    fogpay_receipt r;
    bool ok = take_receipt(w, m, n, &r) && r.status == FOGPAY_STATUS_SETTLED;
    if (!ok) {
        char why[sizeof failure];
        snprintf(why, sizeof why, "%s", failure);
        failure[0] = '\0';
        fail("the witness was not served: %.400s", why);
    }
    return ok;
}

static bool run_case(const hostile_case *c)
{
    failure[0] = '\0';
    snapshot_take();
    bool ok = c->run() && no_money_moved() && ledger_verifies() && witness_served();
    if (!test_broker_running(&broker)) {
        fail("the broker is not running");
        ok = false;
        test_broker_restart(&broker);
    }
    return ok;
}

int main(void)
{
    if (!getenv("FOGPAY_PLUGIN") || !test_broker_init(&broker) || !start_gateway()) {
        fprintf(stderr, "hostile: the gateway did not start\n");
        return 1;
    }
    int passed = 0, failed = 0;
    uint64_t t0 = testutil_now_ms();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t start = testutil_now_ms();
        bool ok = run_case(&cases[i]);
        printf("%5llu ms ", (unsigned long long)(testutil_now_ms() - start));
        printf("%-4s %-28s by %-8s %s -> %s%s%s\n", ok ? "ok" : "FAIL", cases[i].name, cases[i].by,
               cases[i].sent, cases[i].expected, ok ? "" : ": ", ok ? "" : failure);
        ok ? passed++ : failed++;
    }
    printf("%zu cases in %llu ms\n", sizeof cases / sizeof cases[0],
           (unsigned long long)(testutil_now_ms() - t0));
    if (witness_open) {
        client_close(&witness);
    }
    if (failed) {
        test_broker_dump_log(&broker);
    }
    test_broker_cleanup(&broker);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
