/*
 * test_gateway.c - the gateway plugin inside a real Mosquitto on loopback:
 * payments between devices, exactly-once answers to repeats, every refusal
 * with its own reason and no money moved, the ACL between devices, operator
 * control, durability across kill -9, and options that stop the broker.
 *
 * The ledger file is provisioned through the ledger API before the broker
 * starts and read through it (a second SQLite connection, as WAL allows)
 * while the broker runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <MQTTClient.h>

#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "mqtt5.h"
#include "test_chain.h"
#include "testutil.h"

#define EUR             978
#define USD             840
#define RECEIPT_WAIT_MS 5000

static test_broker broker;
static char db_path[TEST_BROKER_PATH_MAX];
static fogpay_key *gateway_key;
static fogpay_key *key_a, *key_b, *key_c, *key_k_old, *key_k, *key_r, *key_f, *key_w;
static fogpay_key *key_h, *key_p, *key_x; /* holds: payer, payee, a third device */
static char entity_a[FOGPAY_ENTITY_ID_MAX + 1];

static void path_in(const char *name, char *out)
{
    test_broker_path(&broker, name, out, TEST_BROKER_PATH_MAX);
}

static void register_device(fogpay_ledger *l, const char *id, fogpay_key **key,
                            const char *password, const fogpay_device_limits *limits)
{
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash(password, strlen(password), 1000, hash, sizeof hash),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_register(l, id, *key, hash, entity_a, limits, 1000),
                          FOGPAY_OK);
}

static void provision(void)
{
    fogpay_ledger *l;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, true, &l), FOGPAY_OK);
    fogpay_entity_personal p = {"Example Vending Ltd", "ops@example.invalid", NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, 1000, entity_a), FOGPAY_OK);
    fogpay_device_limits limits_a = {5000, 10000, 0};
    fogpay_device_limits none = {0, 0, 0};
    register_device(l, "dev-a", &key_a, "pass-a", &limits_a);
    register_device(l, "dev-b", &key_b, "pass-b", &none);
    register_device(l, "dev-c", &key_c, "pass-c", &none);
    register_device(l, "dev-r", &key_r, "pass-r", &none);
    register_device(l, "dev-f", &key_f, "pass-f", &none); /* floods */
    register_device(l, "dev-w", &key_w, "pass-w", &none); /* pays meanwhile */
    fogpay_device_limits limits_h = {5000, 100000, 0};
    register_device(l, "dev-h", &key_h, "pass-h", &limits_h);
    register_device(l, "dev-p", &key_p, "pass-p", &none);
    register_device(l, "dev-x", &key_x, "pass-x", &none);
    /* A device named as the gateway: its name must not open the gateway's topics. */
    fogpay_key *key_gw_named = NULL;
    register_device(l, "gw-test", &key_gw_named, "pass-gw", &none);
    fogpay_key_free(key_gw_named);
    /* dev-k had its first key replaced: the old one is revoked. */
    register_device(l, "dev-k", &key_k_old, "pass-k", &none);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_k), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_rotate_key(l, "dev-k", key_k, 1500), FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-k", EUR, 1000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-a", EUR, 20000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-b", EUR, 1000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-c", EUR, 1000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-r", EUR, 1000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-w", EUR, 1000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-f", EUR, 10000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, "dev-h", EUR, 50000, "initial", 2000, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_set_status(l, "dev-c", FOGPAY_DEVICE_SUSPENDED, 3000), FOGPAY_OK);
    fogpay_ledger_close(l);
}

static int suite_init(void)
{
    return test_broker_init(&broker) ? 0 : 1;
}

/* Provisions the ledger and starts the gateway: the first test. */
static void test_start(void)
{
    path_in("ledger.db", db_path);
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    path_in("gateway.key", key_path);
    path_in("operators", operators);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_save(gateway_key, key_path, false), FOGPAY_OK);
    provision();
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash);
    FILE *f = fopen(operators, "w");
    fprintf(f, "ops:%s\n", hash);
    fclose(f);
    char conf[TEST_BROKER_CONF_MAX];
    CU_ASSERT_FATAL(
        test_broker_gateway_conf(conf, sizeof conf, "gw-test", db_path, key_path, operators));
    CU_ASSERT_FATAL(test_broker_start(&broker, conf));
}

static int suite_clean(void)
{
    test_broker_cleanup(&broker);
    fogpay_key_free(gateway_key);
    fogpay_key_free(key_a);
    fogpay_key_free(key_b);
    fogpay_key_free(key_c);
    fogpay_key_free(key_k_old);
    fogpay_key_free(key_k);
    fogpay_key_free(key_r);
    fogpay_key_free(key_f);
    fogpay_key_free(key_w);
    fogpay_key_free(key_h);
    fogpay_key_free(key_p);
    fogpay_key_free(key_x);
    return 0;
}

/* ---- a device's side, by hand ------------------------------------------ */

typedef struct device {
    MQTTClient client;
    const char *id;
} device;

static int mqtt_connect(MQTTClient *client, const char *id, const char *user, const char *pass)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_create(client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    opts.username = user;
    opts.password = pass;
    opts.cleansession = 1;
    opts.keepAliveInterval = 30;
    return MQTTClient_connect(*client, &opts);
}

static bool device_open(device *d, const char *id, const char *pass)
{
    d->id = id;
    if (mqtt_connect(&d->client, id, id, pass) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(&d->client);
        return false;
    }
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/%s/receipt", id);
    return MQTTClient_subscribe(d->client, topic, 1) == MQTTCLIENT_SUCCESS;
}

static void device_close(device *d)
{
    MQTTClient_disconnect(d->client, 1000);
    MQTTClient_destroy(&d->client);
}

static fogpay_intent intent_to(const char *from, uint64_t seq, const char *to, uint64_t amount)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    strcpy(in.device_id, from);
    in.seq = seq;
    strcpy(in.payee_device, to);
    in.amount_minor = amount;
    in.currency = EUR;
    in.created_s = (uint64_t)time(NULL);
    in.ttl_s = 300;
    return in;
}

static size_t sign_payload(const fogpay_key *key, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t out_len = 0;
    CU_ASSERT_EQUAL(fogpay_cose_sign1_sign(key, NULL, 0, payload, len, NULL, 0, out,
                                           FOGPAY_MESSAGE_MAX, &out_len),
                    FOGPAY_OK);
    return out_len;
}

/* Signs in linked to its device's last recorded message (test_chain.h). */
static size_t sign_intent(const fogpay_key *key, const fogpay_intent *in, uint8_t *out)
{
    fogpay_intent linked = *in;
    CU_ASSERT(test_chain_prev(db_path, in->device_id, linked.prev_hash) != UINT64_MAX);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&linked, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_payload(key, payload, len, out);
}

static void publish(device *d, const char *topic_device, const char *leaf, const void *bytes,
                    size_t len, int qos)
{
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/%s/%s", topic_device, leaf);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(d->client, topic, (int)len, bytes, qos, 0, &token);
    if (qos > 0) {
        MQTTClient_waitForCompletion(d->client, token, 5000);
    }
}

/* Waits for the next receipt; verifies it with the gateway key. Returns
 * false when none came. raw receives the signed bytes when not NULL. */
static bool receive_receipt(device *d, fogpay_receipt *r, uint8_t *raw, size_t *raw_len,
                            int wait_ms)
{
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    if (MQTTClient_receive(d->client, &topic, &topic_len, &m, (unsigned long)wait_ms) !=
            MQTTCLIENT_SUCCESS ||
        !m) {
        return false;
    }
    fogpay_cose_sign1 msg;
    bool ok = fogpay_cose_sign1_parse(m->payload, (size_t)m->payloadlen, &msg) == FOGPAY_OK &&
              fogpay_cose_sign1_verify(&msg, gateway_key, NULL, 0) == FOGPAY_OK &&
              fogpay_receipt_decode(msg.payload.ptr, msg.payload.len, r) == FOGPAY_OK;
    CU_ASSERT(ok);
    if (raw && raw_len) {
        memcpy(raw, m->payload, (size_t)m->payloadlen);
        *raw_len = (size_t)m->payloadlen;
    }
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return ok;
}

/* ---- the ledger's view ---------------------------------------------------- */

static int64_t balance_of(const char *device_id)
{
    fogpay_ledger *l;
    int64_t balance = -1;
    uint64_t account;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    if (fogpay_ledger_wallet(l, device_id, EUR, &account) == FOGPAY_OK) {
        fogpay_ledger_balance(l, account, &balance);
    }
    fogpay_ledger_close(l);
    return balance;
}

static uint64_t chain_length(void)
{
    fogpay_ledger *l;
    uint64_t position = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(l, &position, hash), FOGPAY_OK);
    fogpay_ledger_close(l);
    return position;
}

static void assert_ledger_verifies(void)
{
    fogpay_ledger *l;
    uint64_t checked = 0, bad = 0;
    char problem[256] = "";
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    fogpay_error err = fogpay_ledger_verify(l, &checked, &bad, problem, sizeof problem);
    if (err != FOGPAY_OK) {
        printf("\n  verify: %s at %llu: %s\n", fogpay_error_name(err), (unsigned long long)bad,
               problem);
    }
    CU_ASSERT_EQUAL(err, FOGPAY_OK);
    fogpay_ledger_close(l);
}

static uint64_t next_seq_a = 1;

/* ---- tests ----------------------------------------------------------------- */

static void test_pay(void)
{
    device a, b;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    CU_ASSERT_FATAL(device_open(&b, "dev-b", "pass-b"));
    int64_t before_a = balance_of("dev-a"), before_b = balance_of("dev-b");
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 150);
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_a, &in, msg);
    publish(&a, "dev-a", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(r.seq, in.seq);
    CU_ASSERT_STRING_EQUAL(r.device_id, "dev-a");
    CU_ASSERT_STRING_EQUAL(r.gateway_id, "gw-test");
    CU_ASSERT_EQUAL(r.balance_after_minor, before_a - 150);
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256(msg, len, hash);
    CU_ASSERT(memcmp(r.intent_hash, hash, sizeof hash) == 0);
    CU_ASSERT_EQUAL(balance_of("dev-a"), before_a - 150);
    CU_ASSERT_EQUAL(balance_of("dev-b"), before_b + 150);
    CU_ASSERT_EQUAL(r.position, chain_length());
    assert_ledger_verifies();
    device_close(&a);
    device_close(&b);
}

static void test_repeats(void)
{
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    uint8_t msg[FOGPAY_MESSAGE_MAX], first[FOGPAY_MESSAGE_MAX], again[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_a, &in, msg), first_len = 0, again_len = 0;
    int64_t before = balance_of("dev-a");
    uint64_t chain_before = chain_length();
    static const int qos[] = {1, 1, 1, 1, 1, 2, 2, 0};
    for (size_t i = 0; i < sizeof qos / sizeof qos[0]; i++) {
        publish(&a, "dev-a", "intent", msg, len, qos[i]);
        fogpay_receipt r;
        CU_ASSERT_FATAL(receive_receipt(&a, &r, i == 0 ? first : again,
                                        i == 0 ? &first_len : &again_len, RECEIPT_WAIT_MS));
        CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
        if (i > 0) {
            CU_ASSERT(again_len == first_len && memcmp(again, first, first_len) == 0);
        }
    }
    CU_ASSERT_EQUAL(balance_of("dev-a"), before - 100);
    CU_ASSERT_EQUAL(chain_length(), chain_before + 1);

    /* The same seq with other content is a conflict and moves nothing. */
    in.amount_minor = 101;
    len = sign_intent(key_a, &in, msg);
    publish(&a, "dev-a", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_SEQ_CONFLICT);
    CU_ASSERT_EQUAL(balance_of("dev-a"), before - 100);
    device_close(&a);
}

/* Encodes an intent map by hand, so fields the library's encoder refuses
 * (a zero amount) can be sent. */
static size_t raw_intent(uint64_t seq, uint64_t amount, uint8_t *out)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, FOGPAY_MESSAGE_MAX);
    fogpay_cbor_put_map(&w, 8);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, "dev-a", 5);
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, seq);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_text(&w, "dev-b", 5);
    fogpay_cbor_put_uint(&w, 5);
    fogpay_cbor_put_uint(&w, amount);
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_uint(&w, EUR);
    fogpay_cbor_put_uint(&w, 7);
    fogpay_cbor_put_uint(&w, (uint64_t)time(NULL));
    fogpay_cbor_put_uint(&w, 8);
    fogpay_cbor_put_uint(&w, 300);
    uint8_t prev[FOGPAY_PREV_HASH_BYTES];
    CU_ASSERT(test_chain_prev(db_path, "dev-a", prev) != UINT64_MAX);
    fogpay_cbor_put_uint(&w, 10);
    fogpay_cbor_put_bytes(&w, prev, sizeof prev);
    size_t len = 0;
    fogpay_cbor_writer_finish(&w, &len);
    return len;
}

/* Sends bytes as dev-a and expects a rejection with reason; nothing moves. */
static void expect_refused(device *a, const uint8_t *bytes, size_t len, fogpay_error reason,
                           const char *what)
{
    int64_t before_a = balance_of("dev-a"), before_b = balance_of("dev-b");
    uint64_t chain_before = chain_length();
    publish(a, "dev-a", "intent", bytes, len, 1);
    fogpay_receipt r;
    bool got = receive_receipt(a, &r, NULL, NULL, RECEIPT_WAIT_MS);
    if (!got || r.status != FOGPAY_STATUS_REJECTED || r.reason != reason) {
        printf("\n  %s: %s, expected %s\n", what,
               got ? fogpay_error_name((fogpay_error)r.reason) : "no receipt",
               fogpay_error_name(reason));
    }
    CU_ASSERT(got && r.status == FOGPAY_STATUS_REJECTED && r.reason == reason);
    CU_ASSERT_EQUAL(balance_of("dev-a"), before_a);
    CU_ASSERT_EQUAL(balance_of("dev-b"), before_b);
    CU_ASSERT_EQUAL(chain_length(), chain_before);
}

static void test_refusals(void)
{
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    uint8_t msg[FOGPAY_MESSAGE_MAX], payload[FOGPAY_MESSAGE_MAX];
    size_t len;

    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    len = sign_intent(key_a, &in, msg);
    msg[len - 1] ^= 0x01;
    expect_refused(&a, msg, len, FOGPAY_ERR_BAD_SIGNATURE, "bad signature");
    len = sign_intent(key_b, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_BAD_SIGNATURE, "another device's key");
    /* Neither forgery used up the seq: the real intent settles. */
    len = sign_intent(key_a, &in, msg);
    publish(&a, "dev-a", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);

    in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    in.created_s -= 1000;
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_EXPIRED, "expired");
    in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    in.created_s += 3600;
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_NOT_YET_VALID, "from the future");
    in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    in.currency = USD;
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_CURRENCY_UNSUPPORTED, "unsupported currency");
    in = intent_to("dev-a", next_seq_a++, "dev-zz", 100);
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_UNKNOWN_PAYEE, "unknown payee");
    in = intent_to("dev-a", next_seq_a++, "dev-a", 100);
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_PAYEE_SELF, "pays itself");
    len = sign_payload(key_a, payload, raw_intent(next_seq_a++, 0, payload), msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_AMOUNT_ZERO, "zero amount");
    len = sign_payload(key_a, payload,
                       raw_intent(next_seq_a++, FOGPAY_AMOUNT_MAX_MINOR + 1, payload), msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_AMOUNT_TOO_LARGE, "oversized amount");
    in = intent_to("dev-a", next_seq_a++, "dev-b", 5001);
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_LIMIT_PER_PAYMENT, "over the per-payment limit");

    /* The daily limit (100.00) after payments that each pass. */
    uint64_t spent_today = 150 + 100 + 100;
    while (spent_today + 5000 <= 10000) {
        in = intent_to("dev-a", next_seq_a++, "dev-b", 5000);
        len = sign_intent(key_a, &in, msg);
        publish(&a, "dev-a", "intent", msg, len, 1);
        CU_ASSERT_FATAL(receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS));
        CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
        spent_today += 5000;
    }
    in = intent_to("dev-a", next_seq_a++, "dev-b", 5000);
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len, FOGPAY_ERR_LIMIT_PER_DAY, "over the daily limit");

    static const uint8_t garbage[] = {0xff, 0x00, 0x13, 0x37};
    expect_refused(&a, garbage, sizeof garbage, FOGPAY_ERR_CBOR_INDEFINITE, "malformed CBOR");
    in = intent_to("dev-a", next_seq_a++, "dev-b", 100);
    len = sign_intent(key_a, &in, msg);
    expect_refused(&a, msg, len - 10, FOGPAY_ERR_CBOR_TRUNCATED, "truncated");
    uint8_t big[FOGPAY_MESSAGE_MAX + 100];
    memset(big, 0x41, sizeof big);
    expect_refused(&a, big, sizeof big, FOGPAY_ERR_PAYLOAD_TOO_LARGE, "oversized payload");
    device_close(&a);
}

/* Refusals whose details the contract names: a header naming an algorithm
 * other than the device key's is cose_alg_unsupported (not bad_signature),
 * and an empty message's rejection carries the SHA-256 of the empty message. */
static void test_refusal_details(void)
{
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_key *p256 = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_ES256, &p256), FOGPAY_OK);
    fogpay_intent in = intent_to("dev-a", next_seq_a, "dev-b", 100);
    size_t len = sign_intent(p256, &in, msg);
    fogpay_key_free(p256);
    expect_refused(&a, msg, len, FOGPAY_ERR_COSE_ALG_UNSUPPORTED, "ES256 header, EdDSA key");

    publish(&a, "dev-a", "intent", "", 0, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_CBOR_TRUNCATED);
    uint8_t empty_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_sha256(NULL, 0, empty_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(r.intent_hash, empty_hash, FOGPAY_HASH_BYTES), 0);
    device_close(&a);
}

static void test_insufficient_and_suspended(void)
{
    device b, c;
    CU_ASSERT_FATAL(device_open(&b, "dev-b", "pass-b"));
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent_to("dev-b", 1, "dev-a", (uint64_t)balance_of("dev-b") + 1);
    size_t len = sign_intent(key_b, &in, msg);
    int64_t before = balance_of("dev-b");
    publish(&b, "dev-b", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&b, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_EQUAL(balance_of("dev-b"), before);
    device_close(&b);

    /* A suspended device may connect (to hear its resume) but not pay. */
    CU_ASSERT_FATAL(device_open(&c, "dev-c", "pass-c"));
    in = intent_to("dev-c", 1, "dev-a", 10);
    len = sign_intent(key_c, &in, msg);
    publish(&c, "dev-c", "intent", msg, len, 1);
    CU_ASSERT_FATAL(receive_receipt(&c, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(balance_of("dev-c"), 1000);
    device_close(&c);
}

/* A message signed with a replaced key is refused as such; the current key
 * pays. */
static void test_revoked_key(void)
{
    device k;
    CU_ASSERT_FATAL(device_open(&k, "dev-k", "pass-k"));
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent_to("dev-k", 1, "dev-a", 10);
    size_t len = sign_intent(key_k_old, &in, msg);
    publish(&k, "dev-k", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&k, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_KEY_REVOKED);
    CU_ASSERT_EQUAL(balance_of("dev-k"), 1000);
    len = sign_intent(key_k, &in, msg);
    publish(&k, "dev-k", "intent", msg, len, 1);
    CU_ASSERT_FATAL(receive_receipt(&k, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(balance_of("dev-k"), 990);
    device_close(&k);
}

/* dev-a publishes intent in over MQTT 5 at QoS 1 with response_topic and
 * the correlation data (NULL: none). */
static void mqtt5_pay_a(MQTTClient client, const fogpay_intent *in, const char *response_topic,
                        const char *correlation)
{
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_a, in, msg);
    test_mqtt5_publish(client, "fogpay/v1/dev/dev-a/intent", msg, len, response_topic, correlation,
                       correlation ? (int)strlen(correlation) : 0, 5000);
}

/* MQTT 5: the receipt also comes on the device's response topic with the
 * request's correlation data; a response topic of another device is not
 * written to. */
static void test_mqtt5_response(void)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient client;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    CU_ASSERT_EQUAL_FATAL(MQTTClient_createWithOptions(&client, uri, "dev-a",
                                                       MQTTCLIENT_PERSISTENCE_NONE, NULL, &create),
                          MQTTCLIENT_SUCCESS);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer5;
    opts.username = "dev-a";
    opts.password = "pass-a";
    MQTTResponse resp = MQTTClient_connect5(client, &opts, NULL, NULL);
    CU_ASSERT_EQUAL_FATAL(resp.reasonCode, MQTTREASONCODE_SUCCESS);
    MQTTResponse_free(resp);
    MQTTSubscribe_options sub_opts = MQTTSubscribe_options_initializer;
    resp = MQTTClient_subscribe5(client, "fogpay/v1/dev/dev-a/reply/r1", 1, &sub_opts, NULL);
    CU_ASSERT(resp.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2);
    MQTTResponse_free(resp);

    for (int round = 0; round < 2; round++) {
        fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 5);
        mqtt5_pay_a(client, &in,
                    round == 0 ? "fogpay/v1/dev/dev-a/reply/r1" : "fogpay/v1/dev/dev-b/reply/x",
                    "req-42");

        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        int rc =
            MQTTClient_receive(client, &topic, &topic_len, &m, round == 0 ? RECEIPT_WAIT_MS : 1000);
        if (round == 0) {
            CU_ASSERT_FATAL(rc == MQTTCLIENT_SUCCESS && m != NULL);
            CU_ASSERT_STRING_EQUAL(topic, "fogpay/v1/dev/dev-a/reply/r1");
            MQTTProperty *corr =
                MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
            CU_ASSERT(corr && corr->value.data.len == 6 &&
                      memcmp(corr->value.data.data, "req-42", 6) == 0);
            fogpay_cose_sign1 parsed;
            fogpay_receipt r;
            CU_ASSERT(
                fogpay_cose_sign1_parse(m->payload, (size_t)m->payloadlen, &parsed) == FOGPAY_OK &&
                fogpay_cose_sign1_verify(&parsed, gateway_key, NULL, 0) == FOGPAY_OK &&
                fogpay_receipt_decode(parsed.payload.ptr, parsed.payload.len, &r) == FOGPAY_OK &&
                r.status == FOGPAY_STATUS_SETTLED && r.seq == in.seq);
        } else {
            CU_ASSERT(m == NULL); /* nothing on another device's topic, nothing here */
        }
        if (m) {
            MQTTClient_freeMessage(&m);
            MQTTClient_free(topic);
        }
    }
    MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_destroy(&client);
}

/* An MQTT 5 client with the given reply topic subscribed besides its
 * receipt topic. */
static bool mqtt5_open(MQTTClient *client, const char *id, const char *pass, const char *reply)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    if (MQTTClient_createWithOptions(client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &create) !=
        MQTTCLIENT_SUCCESS) {
        return false;
    }
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer5;
    opts.username = id;
    opts.password = pass;
    MQTTResponse resp = MQTTClient_connect5(*client, &opts, NULL, NULL);
    bool ok = resp.reasonCode == MQTTREASONCODE_SUCCESS;
    MQTTResponse_free(resp);
    char receipt[96];
    snprintf(receipt, sizeof receipt, "fogpay/v1/dev/%s/receipt", id);
    MQTTSubscribe_options sub_opts = MQTTSubscribe_options_initializer;
    for (int i = 0; ok && i < 2; i++) {
        resp = MQTTClient_subscribe5(*client, i == 0 ? receipt : reply, 1, &sub_opts, NULL);
        ok = resp.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2;
        MQTTResponse_free(resp);
    }
    return ok;
}

/* MQTT 5: a device subscribed to both its receipt topic and the reply
 * topic it names gets its receipt once, on the reply topic. */
static void test_mqtt5_single_receipt(void)
{
    MQTTClient client;
    CU_ASSERT_FATAL(mqtt5_open(&client, "dev-a", "pass-a", "fogpay/v1/dev/dev-a/reply/r2"));
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 5);
    mqtt5_pay_a(client, &in, "fogpay/v1/dev/dev-a/reply/r2", NULL);
    int received = 0;
    bool on_reply = false;
    for (;;) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        int rc = MQTTClient_receive(client, &topic, &topic_len, &m,
                                    received == 0 ? RECEIPT_WAIT_MS : 1000);
        if (rc != MQTTCLIENT_SUCCESS || !m) {
            break;
        }
        received++;
        on_reply = strcmp(topic, "fogpay/v1/dev/dev-a/reply/r2") == 0;
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
    }
    CU_ASSERT_EQUAL(received, 1);
    CU_ASSERT(on_reply);
    MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_SUCCESS, NULL);
    MQTTClient_destroy(&client);
}

static uint64_t next_seq_w = 1;

/* The same intent twice at once: both answered with the same bytes, the
 * money moves once, whether the second arrives while the first is still
 * being signed or after it is recorded. */
static void test_repeat_in_flight(void)
{
    device w;
    CU_ASSERT_FATAL(device_open(&w, "dev-w", "pass-w"));
    int64_t before = balance_of("dev-w");
    for (int round = 0; round < 10; round++) {
        fogpay_intent in = intent_to("dev-w", next_seq_w++, "dev-b", 1);
        uint8_t msg[FOGPAY_MESSAGE_MAX];
        size_t len = sign_intent(key_w, &in, msg);
        publish(&w, "dev-w", "intent", msg, len, 0);
        publish(&w, "dev-w", "intent", msg, len, 0);
        uint8_t raw[2][FOGPAY_MESSAGE_MAX];
        size_t raw_len[2] = {0, 0};
        fogpay_receipt r[2];
        for (int i = 0; i < 2; i++) {
            CU_ASSERT_FATAL(receive_receipt(&w, &r[i], raw[i], &raw_len[i], RECEIPT_WAIT_MS));
            CU_ASSERT_EQUAL(r[i].status, FOGPAY_STATUS_SETTLED);
        }
        CU_ASSERT(raw_len[0] == raw_len[1] && memcmp(raw[0], raw[1], raw_len[0]) == 0);
    }
    CU_ASSERT_EQUAL(balance_of("dev-w"), before - 10);
    device_close(&w);
    assert_ledger_verifies();
}

/* A lone payment is answered without waiting for Mosquitto's next wake
 * (its epoll_wait sleeps up to 100 ms when idle): counted, the payments
 * answered within 50 ms, which a gateway that waits for the wake misses
 * nearly every time. */
#define LONE_PAYMENTS      20
#define LONE_ANSWER_MAX_MS 50

/* dev-w pays dev-b one cent and waits for the receipt, which must say
 * settled. */
static void pay_from_w(device *w, int qos, fogpay_receipt *r)
{
    fogpay_intent in = intent_to("dev-w", next_seq_w++, "dev-b", 1);
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_w, &in, msg);
    publish(w, "dev-w", "intent", msg, len, qos);
    CU_ASSERT_FATAL(receive_receipt(w, r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r->status, FOGPAY_STATUS_SETTLED);
}

static void test_lone_payment_answered(void)
{
    device w;
    CU_ASSERT_FATAL(device_open(&w, "dev-w", "pass-w"));
    int fast = 0;
    for (int i = 0; i < LONE_PAYMENTS; i++) {
        testutil_sleep_ms(30); /* the broker idles in epoll_wait */
        uint64_t sent_ms = testutil_now_ms();
        fogpay_receipt r;
        pay_from_w(&w, 0, &r);
        fast += testutil_now_ms() - sent_ms <= LONE_ANSWER_MAX_MS;
    }
    CU_ASSERT(fast >= LONE_PAYMENTS - 2);
    device_close(&w);
}

#define FLOOD_INTENTS 3000

/* dev-f floods FLOOD_INTENTS signed payments at QoS 0 as fast as its socket
 * takes them, not reading its receipts; dev-w pays once meanwhile. Counted
 * in the chain: dev-w's message waits behind at most
 * FOGPAY_DEVICE_PENDING_MAX of dev-f's (the device's bound), plus what
 * settles between reading the chain and dev-w's message reaching the
 * gateway; twice the bound allows generously for that and is a small share
 * of the flood. (When the broker's thread is the slower side, TCP's
 * back-pressure and Mosquitto's reading one packet of each client a loop
 * already keep the flood's lead short; the bound holds it when the workers
 * are.) */
static void test_flood_bounded(void)
{
    static uint64_t seq_f = 1;
    uint8_t(*flood)[FOGPAY_MESSAGE_MAX] = calloc(FLOOD_INTENTS, FOGPAY_MESSAGE_MAX);
    size_t *flood_len = calloc(FLOOD_INTENTS, sizeof *flood_len);
    CU_ASSERT_FATAL(flood && flood_len);
    for (int i = 0; i < FLOOD_INTENTS; i++) {
        fogpay_intent in = intent_to("dev-f", seq_f++, "dev-b", 1);
        flood_len[i] = sign_intent(key_f, &in, flood[i]);
    }
    device f = {.id = "dev-f"};
    CU_ASSERT_EQUAL_FATAL(mqtt_connect(&f.client, "dev-f", "dev-f", "pass-f"), MQTTCLIENT_SUCCESS);
    device w;
    CU_ASSERT_FATAL(device_open(&w, "dev-w", "pass-w"));
    int64_t w_before = balance_of("dev-w");
    int64_t f_before = balance_of("dev-f");
    uint64_t chain_before = chain_length();

    for (int i = 0; i < FLOOD_INTENTS; i++) {
        publish(&f, "dev-f", "intent", flood[i], flood_len[i], 0);
    }
    uint64_t chain_at_send = chain_length();
    fogpay_receipt r;
    pay_from_w(&w, 1, &r);
    CU_ASSERT(r.position > chain_at_send);
    CU_ASSERT(r.position - chain_at_send - 1 <= 2 * FOGPAY_DEVICE_PENDING_MAX);

    /* The flood ends: what settled of it is paid once each, and the
     * ledger verifies. */
    uint64_t settled = 0;
    for (int quiet = 0; quiet < 10; quiet++) {
        testutil_sleep_ms(100);
        uint64_t now = chain_length() - chain_before - 1;
        quiet = now == settled ? quiet : 0;
        settled = now;
    }
    fprintf(stderr, "(%llu of %d flooded payments settled, %llu ahead of dev-w's) ",
            (unsigned long long)settled, FLOOD_INTENTS,
            (unsigned long long)(r.position - chain_at_send - 1));
    CU_ASSERT(settled <= FLOOD_INTENTS);
    CU_ASSERT_EQUAL(balance_of("dev-f"), f_before - (int64_t)settled);
    CU_ASSERT_EQUAL(balance_of("dev-w"), w_before - 1);
    device_close(&w);
    device_close(&f);
    free(flood);
    free(flood_len);
    assert_ledger_verifies();
}

static void test_authentication(void)
{
    MQTTClient client;
    CU_ASSERT_NOT_EQUAL(mqtt_connect(&client, "dev-a", "dev-a", "wrong"), MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&client);
    CU_ASSERT_NOT_EQUAL(mqtt_connect(&client, "dev-x", "dev-x", "pass-a"), MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&client);
    /* Another device's password under one's own client id. */
    CU_ASSERT_NOT_EQUAL(mqtt_connect(&client, "dev-b", "dev-a", "pass-a"), MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&client);
    CU_ASSERT_NOT_EQUAL(mqtt_connect(&client, "anon", NULL, NULL), MQTTCLIENT_SUCCESS);
    MQTTClient_destroy(&client);
}

/* dev-a cannot publish as dev-b nor read dev-b's receipts. */
static void test_acl(void)
{
    device a, b;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    CU_ASSERT_FATAL(device_open(&b, "dev-b", "pass-b"));
    int granted = MQTTClient_subscribe(a.client, "fogpay/v1/dev/dev-b/receipt", 1);
    CU_ASSERT_NOT_EQUAL(granted, MQTTCLIENT_SUCCESS);
    granted = MQTTClient_subscribe(a.client, "fogpay/v1/dev/+/receipt", 1);
    CU_ASSERT_NOT_EQUAL(granted, MQTTCLIENT_SUCCESS);

    int64_t before_b = balance_of("dev-b");
    uint64_t chain_before = chain_length();
    fogpay_intent in = intent_to("dev-b", 2, "dev-a", 10);
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_b, &in, msg);
    publish(&a, "dev-b", "intent", msg, len, 1); /* wrong topic for dev-a */
    fogpay_receipt r;
    CU_ASSERT(!receive_receipt(&a, &r, NULL, NULL, 500));
    CU_ASSERT(!receive_receipt(&b, &r, NULL, NULL, 500));
    CU_ASSERT_EQUAL(balance_of("dev-b"), before_b);
    CU_ASSERT_EQUAL(chain_length(), chain_before);

    /* dev-b's own payment: dev-b hears it, dev-a does not. */
    publish(&b, "dev-b", "intent", msg, len, 1);
    CU_ASSERT(receive_receipt(&b, &r, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT(!receive_receipt(&a, &r, NULL, NULL, 500));
    device_close(&a);
    device_close(&b);
}

/* The batch and ack topics are the gateway's and the cloud's: a device may
 * neither read nor write them, not even one whose id is the gateway's. */
static void test_acl_gateway_topics(void)
{
    MQTTClient ops;
    CU_ASSERT_EQUAL_FATAL(mqtt_connect(&ops, "ops-g", "ops", "ops-pass"), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL(MQTTClient_subscribe(ops, "fogpay/v1/gw/#", 1), MQTTCLIENT_SUCCESS);
    device g;
    CU_ASSERT_FATAL(device_open(&g, "gw-test", "pass-gw"));
    const char *topics[] = {"fogpay/v1/gw/gw-test/batch", "fogpay/v1/gw/gw-test/ack",
                            "fogpay/v1/gw/gw-test/other"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        CU_ASSERT_NOT_EQUAL(MQTTClient_subscribe(g.client, topics[i], 1), MQTTCLIENT_SUCCESS);
        MQTTClient_deliveryToken token;
        MQTTClient_publish(g.client, topics[i], 1, "x", 1, 0, &token);
        MQTTClient_waitForCompletion(g.client, token, 5000);
    }
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    MQTTClient_receive(ops, &topic, &topic_len, &m, 500);
    CU_ASSERT_PTR_NULL(m);
    if (m) {
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
    }
    device_close(&g);
    MQTTClient_disconnect(ops, 1000);
    MQTTClient_destroy(&ops);
}

/* Sends request as an operator on $CONTROL/fogpay/v1 and returns the
 * reply (the caller frees it), or NULL when none came in time. */
static char *control_request(const char *client_id, const char *request)
{
    MQTTClient ops;
    CU_ASSERT_EQUAL_FATAL(mqtt_connect(&ops, client_id, "ops", "ops-pass"), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL(MQTTClient_subscribe(ops, "$CONTROL/fogpay/v1/response", 1),
                    MQTTCLIENT_SUCCESS);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(ops, "$CONTROL/fogpay/v1", (int)strlen(request), request, 1, 0, &token);
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    char *reply = NULL;
    if (MQTTClient_receive(ops, &topic, &topic_len, &m, RECEIPT_WAIT_MS) == MQTTCLIENT_SUCCESS &&
        m != NULL) {
        reply = strndup(m->payload, (size_t)m->payloadlen);
    }
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    MQTTClient_disconnect(ops, 1000);
    MQTTClient_destroy(&ops);
    CU_ASSERT_PTR_NOT_NULL(reply);
    return reply;
}

static void test_control(void)
{
    char *reply = control_request(
        "ops-1", "{\"commands\":[{\"command\":\"getBalance\",\"device\":\"dev-a\",\"currency\":"
                 "\"EUR\"},{\"command\":\"verifyLedger\"}]}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "\"getBalance\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "\"verifyLedger\""));
    CU_ASSERT_PTR_NULL(strstr(reply, "\"error\""));
    free(reply);

    /* A device cannot send control commands. */
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    CU_ASSERT_NOT_EQUAL(MQTTClient_subscribe(a.client, "$CONTROL/fogpay/v1/response", 1),
                        MQTTCLIENT_SUCCESS);
    device_close(&a);
}

/* Revocation takes effect at once: the connected device is disconnected,
 * can neither pay nor log in again, and other devices are served. */
static void test_revoke_connected(void)
{
    device r;
    CU_ASSERT_FATAL(device_open(&r, "dev-r", "pass-r"));
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent_to("dev-r", 1, "dev-b", 10);
    size_t len = sign_intent(key_r, &in, msg);
    publish(&r, "dev-r", "intent", msg, len, 1);
    fogpay_receipt rc;
    CU_ASSERT_FATAL(receive_receipt(&r, &rc, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(rc.status, FOGPAY_STATUS_SETTLED);

    char *reply = control_request(
        "ops-r", "{\"commands\":[{\"command\":\"revokeDevice\",\"device\":\"dev-r\"}]}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    CU_ASSERT_PTR_NULL(strstr(reply, "\"error\""));
    free(reply);
    MQTTClient_deliveryToken token;

    /* The broker closes the revoked device's connection. */
    bool closed = false;
    for (int i = 0; i < 50 && !closed; i++) {
        MQTTClient_yield();
        closed = !MQTTClient_isConnected(r.client);
        if (!closed) {
            usleep(100 * 1000);
        }
    }
    CU_ASSERT(closed);
    int64_t before = balance_of("dev-r");
    in = intent_to("dev-r", 2, "dev-b", 10);
    len = sign_intent(key_r, &in, msg);
    MQTTClient_publish(r.client, "fogpay/v1/dev/dev-r/intent", (int)len, msg, 1, 0, &token);
    CU_ASSERT_EQUAL(balance_of("dev-r"), before);
    device_close(&r);
    CU_ASSERT_FALSE(device_open(&r, "dev-r", "pass-r"));

    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    in = intent_to("dev-a", next_seq_a++, "dev-b", 10);
    len = sign_intent(key_a, &in, msg);
    publish(&a, "dev-a", "intent", msg, len, 1);
    CU_ASSERT_FATAL(receive_receipt(&a, &rc, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(rc.status, FOGPAY_STATUS_SETTLED);
    device_close(&a);
}

/* dev-a pays dev-b amount and returns the receipt. */
static fogpay_receipt pay_a_to_b(uint64_t amount)
{
    device a;
    fogpay_receipt rc;
    memset(&rc, 0, sizeof rc);
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", amount);
    size_t len = sign_intent(key_a, &in, msg);
    publish(&a, "dev-a", "intent", msg, len, 1);
    CU_ASSERT(receive_receipt(&a, &rc, NULL, NULL, RECEIPT_WAIT_MS));
    device_close(&a);
    return rc;
}

/* Fee schedules set online apply to the next payment at once: 3% of dev-a's
 * payment to dev-b goes to dev-c's wallet in the same transfer, and the
 * receipt says so; a schedule whose leg is the payer's own wallet refuses
 * the payment (fee_leg_payer) and moves nothing; one naming a revoked
 * device's wallet is refused when set (fee_account_closed); a schedule
 * without legs ends the fees. */
static void test_fees_online(void)
{
    char *reply = control_request(
        "ops-f", "{\"commands\":[{\"command\":\"setFeeSchedule\",\"payee\":\"dev-b\","
                 "\"currency\":\"EUR\",\"legs\":[{\"device\":\"dev-c\",\"basisPoints\":300}]}]}");
    CU_ASSERT_PTR_NOT_NULL(reply != NULL ? strstr(reply, "\"event\":") : NULL);
    free(reply);
    int64_t a = balance_of("dev-a"), b = balance_of("dev-b"), c = balance_of("dev-c");
    fogpay_receipt rc = pay_a_to_b(100);
    CU_ASSERT_EQUAL(rc.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(rc.legs_minor, 3);
    CU_ASSERT_EQUAL(balance_of("dev-a"), a - 100);
    CU_ASSERT_EQUAL(balance_of("dev-b"), b + 97);
    CU_ASSERT_EQUAL(balance_of("dev-c"), c + 3);

    reply = control_request(
        "ops-f", "{\"commands\":[{\"command\":\"setFeeSchedule\",\"payee\":\"dev-b\","
                 "\"currency\":\"EUR\",\"legs\":[{\"device\":\"dev-r\",\"basisPoints\":300}]},"
                 "{\"command\":\"setFeeSchedule\",\"payee\":\"dev-b\",\"currency\":\"EUR\","
                 "\"legs\":[{\"device\":\"dev-a\",\"basisPoints\":300}]}]}");
    CU_ASSERT_PTR_NOT_NULL(reply != NULL ? strstr(reply, "\"error\":\"fee_account_closed\"")
                                         : NULL);
    free(reply);
    a = balance_of("dev-a");
    b = balance_of("dev-b");
    rc = pay_a_to_b(100);
    CU_ASSERT_EQUAL(rc.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(rc.reason, FOGPAY_ERR_FEE_LEG_PAYER);
    CU_ASSERT_EQUAL(balance_of("dev-a"), a);
    CU_ASSERT_EQUAL(balance_of("dev-b"), b);

    reply = control_request("ops-f", "{\"commands\":[{\"command\":\"setFeeSchedule\","
                                     "\"payee\":\"dev-b\",\"currency\":\"EUR\"}]}");
    CU_ASSERT_PTR_NULL(reply != NULL ? strstr(reply, "\"error\"") : "no reply");
    free(reply);
    rc = pay_a_to_b(100);
    CU_ASSERT_EQUAL(rc.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(rc.legs_minor, 0);
    CU_ASSERT_EQUAL(balance_of("dev-b"), b + 100);
}

/* fogpayctl online: one control command over MQTT 5, reply printed. */
/* fogpayctl online, as an operator, with the args after the login; its
 * output into out. The exit status. */
static int fogpayctl_ops(char *out, size_t cap, const char *args)
{
    char command[1024], password_file[TEST_BROKER_PATH_MAX];
    path_in("ops.password", password_file);
    FILE *f = fopen(password_file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("ops-pass\n", f);
    fclose(f);
    snprintf(command, sizeof command, "%s -h 127.0.0.1 -p %d -u ops --password-file %s %s",
             getenv("FOGPAYCTL"), broker.port, password_file, args);
    FILE *p = popen(command, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p);
}

static void test_fogpayctl_online(void)
{
    char out[4096];
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, "getBalance --device dev-a --currency EUR"), 0);
    char expect[64];
    int64_t minor = balance_of("dev-a");
    snprintf(expect, sizeof expect, "%lld.%02lld", (long long)(minor / 100),
             (long long)(minor % 100));
    if (!strstr(out, expect)) {
        printf("\n  fogpayctl printed: %s (expected %s)\n", out, expect);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));

    char command[1024];
    /* A wrong operator password is refused. */
    snprintf(command, sizeof command,
             "echo wrong | %s -h 127.0.0.1 -p %d -u ops --password-file - getBalance --device "
             "dev-a --currency EUR >/dev/null 2>&1",
             getenv("FOGPAYCTL"), broker.port);
    CU_ASSERT_NOT_EQUAL(system(command), 0);
}

/* A settled receipt means a durable transfer: kill -9 right after it. */
static void test_durability(void)
{
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 1);
    in.amount_minor = 1;
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_a, &in, msg);
    int64_t before = balance_of("dev-a");
    publish(&a, "dev-a", "intent", msg, len, 1);
    fogpay_receipt r;
    bool got = receive_receipt(&a, &r, NULL, NULL, RECEIPT_WAIT_MS);
    CU_ASSERT(got && r.status == FOGPAY_STATUS_SETTLED);
    test_broker_kill(&broker);
    device_close(&a);
    CU_ASSERT_EQUAL(balance_of("dev-a"), before - 1);
    assert_ledger_verifies();
    CU_ASSERT_FATAL(test_broker_restart(&broker));
}

/* ---- holds (plugin/hold_message.c) ----------------------------------------- */

#define HOLD_S 600

/* The next seq of device_id, after its last recorded message. */
static uint64_t next_seq_of(const char *device_id)
{
    uint8_t prev[FOGPAY_PREV_HASH_BYTES];
    uint64_t last = test_chain_prev(db_path, device_id, prev);
    CU_ASSERT_FATAL(last != UINT64_MAX);
    return last + 1;
}

/* dev-h authorises amount to dev-p, held hold_s; the held receipt. */
static bool authorise(device *h, uint64_t amount, uint32_t hold_s, fogpay_receipt *r)
{
    fogpay_intent in = intent_to("dev-h", next_seq_of("dev-h"), "dev-p", amount);
    in.hold_s = hold_s;
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_h, &in, msg);
    publish(h, "dev-h", "intent", msg, len, 1);
    return receive_receipt(h, r, NULL, NULL, RECEIPT_WAIT_MS) && r->status == FOGPAY_STATUS_HELD;
}

/* A signed hold message of d (key) on hold id, linked to d's last
 * recorded message. */
static size_t sign_hold(const fogpay_key *key, const char *device_id, uint8_t op, uint64_t id,
                        uint64_t amount, uint8_t *out)
{
    fogpay_hold_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.device_id, device_id);
    m.seq = test_chain_prev(db_path, device_id, m.prev_hash) + 1;
    m.op = op;
    m.hold_id = id;
    m.amount_minor = amount;
    m.created_s = (uint64_t)time(NULL);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_hold_message_encode(&m, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_payload(key, payload, len, out);
}

/* d sends op on hold id; its receipt. */
static bool hold_send(device *d, const fogpay_key *key, uint8_t op, uint64_t id, uint64_t amount,
                      fogpay_receipt *r)
{
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = sign_hold(key, d->id, op, id, amount, msg);
    publish(d, d->id, "hold", msg, len, 1);
    return receive_receipt(d, r, NULL, NULL, RECEIPT_WAIT_MS);
}

static fogpay_hold hold_state(uint64_t id)
{
    fogpay_ledger *l;
    fogpay_hold h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_get(l, id, &h), FOGPAY_OK);
    fogpay_ledger_close(l);
    return h;
}

static void test_hold_capture(void)
{
    device h, p;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 3000, HOLD_S, &r));
    CU_ASSERT_EQUAL(r.kind, FOGPAY_RECEIPT_INTENT);
    CU_ASSERT_EQUAL(r.hold_id, r.transfer_id);
    CU_ASSERT_EQUAL(r.held_minor, 3000);
    CU_ASSERT(r.hold_expiry_s >= (uint64_t)time(NULL) + HOLD_S - 5);
    CU_ASSERT_EQUAL(r.balance_after_minor, before_h - 3000);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h - 3000);
    uint64_t id = r.hold_id;

    CU_ASSERT_FATAL(hold_send(&p, key_p, FOGPAY_HOLD_CAPTURE, id, 1200, &r));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(r.kind, FOGPAY_RECEIPT_HOLD);
    CU_ASSERT_EQUAL(r.hold_id, id);
    CU_ASSERT_EQUAL(r.balance_after_minor, before_p + 1200);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h - 1200);
    CU_ASSERT_EQUAL(balance_of("dev-p"), before_p + 1200);
    fogpay_hold st = hold_state(id);
    CU_ASSERT_EQUAL(st.state, FOGPAY_HOLD_CAPTURED);
    CU_ASSERT_EQUAL(st.captured_minor, 1200);
    assert_ledger_verifies();
    device_close(&h);
    device_close(&p);
}

static void test_hold_void(void)
{
    device h;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    int64_t before_h = balance_of("dev-h");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 800, HOLD_S, &r));
    uint64_t id = r.hold_id;
    CU_ASSERT_FATAL(hold_send(&h, key_h, FOGPAY_HOLD_VOID, id, 0, &r));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(r.balance_after_minor, before_h);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h);
    CU_ASSERT_EQUAL(hold_state(id).state, FOGPAY_HOLD_VOIDED);
    assert_ledger_verifies();
    device_close(&h);
}

/* A hold of a second is expired by the broker's tick with nobody asking:
 * waited for by its state, up to ten seconds. */
static void test_hold_expiry(void)
{
    device h;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    int64_t before_h = balance_of("dev-h");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 500, 1, &r));
    uint64_t id = r.hold_id;
    for (int i = 0; i < 100 && hold_state(id).state == FOGPAY_HOLD_OPEN; i++) {
        usleep(100 * 1000);
    }
    fogpay_hold st = hold_state(id);
    CU_ASSERT_EQUAL(st.state, FOGPAY_HOLD_EXPIRED);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h);
    fogpay_ledger *l;
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(l, st.resolved_position, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_EXPIRY);
    CU_ASSERT_EQUAL(t.related_position, id);
    fogpay_ledger_close(l);
    /* A capture of the expired hold is refused. */
    device p;
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    CU_ASSERT_FATAL(hold_send(&p, key_p, FOGPAY_HOLD_CAPTURE, id, 100, &r));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_HOLD_EXPIRED);
    assert_ledger_verifies();
    device_close(&p);
    device_close(&h);
}

/* d's op on hold id is refused with reason and moves nothing. */
static void expect_hold_refused(device *d, const fogpay_key *key, uint8_t op, uint64_t id,
                                uint64_t amount, fogpay_error reason)
{
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    uint64_t chain_before = chain_length();
    fogpay_receipt r;
    bool got = hold_send(d, key, op, id, amount, &r);
    if (!got || r.status != FOGPAY_STATUS_REJECTED || r.reason != reason) {
        printf("\n  %s on hold %llu: %s, expected %s\n", d->id, (unsigned long long)id,
               got ? fogpay_error_name((fogpay_error)r.reason) : "no receipt",
               fogpay_error_name(reason));
    }
    CU_ASSERT(got && r.status == FOGPAY_STATUS_REJECTED && r.reason == reason);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h);
    CU_ASSERT_EQUAL(balance_of("dev-p"), before_p);
    CU_ASSERT_EQUAL(chain_length(), chain_before);
}

static void test_hold_refusals(void)
{
    device h, p, x;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    CU_ASSERT_FATAL(device_open(&x, "dev-x", "pass-x"));
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 1000, HOLD_S, &r));
    uint64_t open_id = r.hold_id;
    expect_hold_refused(&p, key_p, FOGPAY_HOLD_CAPTURE, open_id + 1000, 10,
                        FOGPAY_ERR_HOLD_UNKNOWN);
    expect_hold_refused(&p, key_p, FOGPAY_HOLD_CAPTURE, open_id, 1001, FOGPAY_ERR_HOLD_OVER_AMOUNT);
    expect_hold_refused(&h, key_h, FOGPAY_HOLD_CAPTURE, open_id, 10, FOGPAY_ERR_HOLD_PAYER_CAPTURE);
    expect_hold_refused(&x, key_x, FOGPAY_HOLD_CAPTURE, open_id, 10, FOGPAY_ERR_HOLD_NOT_PARTY);
    expect_hold_refused(&x, key_x, FOGPAY_HOLD_VOID, open_id, 0, FOGPAY_ERR_HOLD_NOT_PARTY);
    CU_ASSERT_FATAL(hold_send(&p, key_p, FOGPAY_HOLD_CAPTURE, open_id, 1000, &r));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    expect_hold_refused(&p, key_p, FOGPAY_HOLD_CAPTURE, open_id, 1, FOGPAY_ERR_HOLD_CAPTURED);
    expect_hold_refused(&h, key_h, FOGPAY_HOLD_VOID, open_id, 0, FOGPAY_ERR_HOLD_CAPTURED);

    CU_ASSERT_FATAL(authorise(&h, 200, HOLD_S, &r));
    uint64_t voided = r.hold_id;
    CU_ASSERT_FATAL(hold_send(&p, key_p, FOGPAY_HOLD_VOID, voided, 0, &r)); /* payee may void */
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    expect_hold_refused(&p, key_p, FOGPAY_HOLD_CAPTURE, voided, 1, FOGPAY_ERR_HOLD_VOIDED);
    expect_hold_refused(&h, key_h, FOGPAY_HOLD_VOID, voided, 0, FOGPAY_ERR_HOLD_VOIDED);
    assert_ledger_verifies();
    device_close(&h);
    device_close(&p);
    device_close(&x);
}

/* A capture and a void of one hold, each exactly once whatever comes
 * first: the first settled wins, the other is refused. */
static void expect_one_winner(const fogpay_receipt *capture, const fogpay_receipt *voiding,
                              uint64_t id, int64_t before_h, int64_t before_p)
{
    bool captured = capture->status == FOGPAY_STATUS_SETTLED;
    bool voided = voiding->status == FOGPAY_STATUS_SETTLED;
    CU_ASSERT(captured != voided);
    const fogpay_receipt *loser = captured ? voiding : capture;
    CU_ASSERT_EQUAL(loser->status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(loser->reason, captured ? FOGPAY_ERR_HOLD_CAPTURED : FOGPAY_ERR_HOLD_VOIDED);
    fogpay_hold st = hold_state(id);
    CU_ASSERT_EQUAL(st.state, captured ? FOGPAY_HOLD_CAPTURED : FOGPAY_HOLD_VOIDED);
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h - (captured ? 300 : 0));
    CU_ASSERT_EQUAL(balance_of("dev-p"), before_p + (captured ? 300 : 0));
    assert_ledger_verifies();
}

/* Receives one receipt each on p and h, for the two messages sent. */
static void receive_pair(device *p, device *h, fogpay_receipt *capture, fogpay_receipt *voiding)
{
    CU_ASSERT(receive_receipt(p, capture, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT(receive_receipt(h, voiding, NULL, NULL, RECEIPT_WAIT_MS));
}

static void test_hold_race(void)
{
    device h, p;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 300, HOLD_S, &r));
    uint64_t id = r.hold_id;
    uint8_t capture[FOGPAY_MESSAGE_MAX], voiding[FOGPAY_MESSAGE_MAX];
    size_t capture_len = sign_hold(key_p, "dev-p", FOGPAY_HOLD_CAPTURE, id, 300, capture);
    size_t void_len = sign_hold(key_h, "dev-h", FOGPAY_HOLD_VOID, id, 0, voiding);
    /* Both sent at QoS 0 without waiting: the broker reads them in one
     * pass of its loop. */
    publish(&p, "dev-p", "hold", capture, capture_len, 0);
    publish(&h, "dev-h", "hold", voiding, void_len, 0);
    fogpay_receipt rc, rv;
    receive_pair(&p, &h, &rc, &rv);
    expect_one_winner(&rc, &rv, id, before_h, before_p);
    device_close(&h);
    device_close(&p);
}

/* dev-h's binding of meter m-race to tariff with hold, or its reading of
 * quantity, linked to its last recorded message and signed. */
static size_t sign_bind_h(const char *tariff, uint64_t hold, uint8_t *out)
{
    fogpay_bind b;
    memset(&b, 0, sizeof b);
    strcpy(b.device_id, "dev-h");
    b.seq = test_chain_prev(db_path, "dev-h", b.prev_hash) + 1;
    strcpy(b.meter_id, "m-race");
    snprintf(b.tariff_id, sizeof b.tariff_id, "%s", tariff);
    b.created_s = (uint64_t)time(NULL);
    b.hold_id = hold;
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_bind_encode(&b, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_payload(key_h, payload, len, out);
}

static size_t sign_reading_h(uint64_t quantity, uint8_t *out)
{
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    strcpy(u.device_id, "dev-h");
    u.seq = test_chain_prev(db_path, "dev-h", u.prev_hash) + 1;
    strcpy(u.meter_id, "m-race");
    u.quantity = quantity;
    strcpy(u.unit, "Wh");
    u.created_s = (uint64_t)time(NULL);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_usage_encode(&u, payload, sizeof payload, &len), FOGPAY_OK);
    return sign_payload(key_h, payload, len, out);
}

/* A reading charged from a hold and the payee's capture of the whole held
 * amount, sent in the same tick: whichever settles first wins and the
 * other is refused; the hold never pays out more than it held. The
 * reading first: charged 40, the capture over what is left
 * (hold_over_amount), the hold open with 260. The capture first: 300 to
 * dev-p, the reading refused (hold_resolved). */
static void test_hold_reading_race(void)
{
    fogpay_ledger *l;
    uint64_t now = (uint64_t)time(NULL) * 1000u;
    fogpay_tariff t = {.tariff_id = "t-race",
                       .device_id = "dev-p",
                       .unit = "Wh",
                       .price_num = 1,
                       .price_den = 1,
                       .currency = EUR,
                       .effective_ms = now - 1000};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(db_path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_tariff_define(l, &t, now), FOGPAY_OK);
    fogpay_ledger_close(l);
    device h, p;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 300, HOLD_S, &r));
    uint64_t id = r.hold_id;
    uint8_t msg[FOGPAY_MESSAGE_MAX], capture[FOGPAY_MESSAGE_MAX];
    size_t len = sign_bind_h("t-race", id, msg);
    publish(&h, "dev-h", "bind", msg, len, 1);
    CU_ASSERT_FATAL(receive_receipt(&h, &r, NULL, NULL, RECEIPT_WAIT_MS) &&
                    r.status == FOGPAY_STATUS_STORED);
    len = sign_reading_h(1000, msg); /* the baseline */
    publish(&h, "dev-h", "usage", msg, len, 1);
    CU_ASSERT_FATAL(receive_receipt(&h, &r, NULL, NULL, RECEIPT_WAIT_MS) &&
                    r.status == FOGPAY_STATUS_STORED);
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    len = sign_reading_h(1040, msg);
    size_t capture_len = sign_hold(key_p, "dev-p", FOGPAY_HOLD_CAPTURE, id, 300, capture);
    publish(&h, "dev-h", "usage", msg, len, 0);
    publish(&p, "dev-p", "hold", capture, capture_len, 0);
    fogpay_receipt rr, rc;
    CU_ASSERT(receive_receipt(&h, &rr, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT(receive_receipt(&p, &rc, NULL, NULL, RECEIPT_WAIT_MS));
    bool charged = rr.status == FOGPAY_STATUS_SETTLED;
    CU_ASSERT(charged != (rc.status == FOGPAY_STATUS_SETTLED));
    fogpay_hold st = hold_state(id);
    if (charged) {
        CU_ASSERT_EQUAL(rr.hold_id, id);
        CU_ASSERT_EQUAL(rr.hold_left_minor, 260);
        CU_ASSERT_EQUAL(rc.reason, FOGPAY_ERR_HOLD_OVER_AMOUNT);
        CU_ASSERT_EQUAL(st.state, FOGPAY_HOLD_OPEN);
        CU_ASSERT_EQUAL(st.charged_minor, 40);
        CU_ASSERT_EQUAL(balance_of("dev-p"), before_p + 40);
        CU_ASSERT_FATAL(hold_send(&h, key_h, FOGPAY_HOLD_VOID, id, 0, &r));
        CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
        CU_ASSERT_EQUAL(balance_of("dev-h"), before_h + 260);
    } else {
        CU_ASSERT_EQUAL(rr.reason, FOGPAY_ERR_HOLD_RESOLVED);
        CU_ASSERT_EQUAL(st.state, FOGPAY_HOLD_CAPTURED);
        CU_ASSERT_EQUAL(st.charged_minor, 0);
        CU_ASSERT_EQUAL(balance_of("dev-p"), before_p + 300);
        CU_ASSERT_EQUAL(balance_of("dev-h"), before_h);
    }
    assert_ledger_verifies();
    device_close(&h);
    device_close(&p);
}

/* The race across a kill -9: the void reaches the broker, which dies
 * around its commit; after the restart both devices send again (as their
 * journals make them). Exactly one wins, and each device gets the same
 * answer to a repeat. */
static void test_hold_race_kill(void)
{
    device h, p;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 300, HOLD_S, &r));
    uint64_t id = r.hold_id;
    uint8_t capture[FOGPAY_MESSAGE_MAX], voiding[FOGPAY_MESSAGE_MAX];
    size_t capture_len = sign_hold(key_p, "dev-p", FOGPAY_HOLD_CAPTURE, id, 300, capture);
    size_t void_len = sign_hold(key_h, "dev-h", FOGPAY_HOLD_VOID, id, 0, voiding);
    publish(&h, "dev-h", "hold", voiding, void_len, 1);
    test_broker_kill(&broker);
    device_close(&h);
    device_close(&p);
    CU_ASSERT_FATAL(test_broker_restart(&broker));
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    CU_ASSERT_FATAL(device_open(&p, "dev-p", "pass-p"));
    publish(&p, "dev-p", "hold", capture, capture_len, 0);
    publish(&h, "dev-h", "hold", voiding, void_len, 0);
    fogpay_receipt rc, rv;
    receive_pair(&p, &h, &rc, &rv);
    expect_one_winner(&rc, &rv, id, before_h, before_p);
    /* Repeats are answered as before and move nothing. */
    fogpay_receipt again;
    publish(&h, "dev-h", "hold", voiding, void_len, 1);
    CU_ASSERT(receive_receipt(&h, &again, NULL, NULL, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(again.status, rv.status);
    CU_ASSERT_EQUAL(again.reason, rv.reason);
    expect_one_winner(&rc, &rv, id, before_h, before_p);
    device_close(&h);
    device_close(&p);
}

/* The operator lists, captures and voids holds with fogpayctl; balances
 * show what is held apart from what is available. */
static void test_hold_operator(void)
{
    device h;
    CU_ASSERT_FATAL(device_open(&h, "dev-h", "pass-h"));
    int64_t before_h = balance_of("dev-h"), before_p = balance_of("dev-p");
    fogpay_receipt r;
    CU_ASSERT_FATAL(authorise(&h, 2500, HOLD_S, &r));
    uint64_t captured = r.hold_id;
    CU_ASSERT_FATAL(authorise(&h, 400, HOLD_S, &r));
    uint64_t voided = r.hold_id;
    CU_ASSERT_EQUAL(r.held_minor, 2900);
    char out[8192], args[256], expect[128];
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, "balance --device dev-h --currency EUR"), 0);
    snprintf(expect, sizeof expect, "held 29.00");
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, "hold-list --device dev-h"), 0);
    snprintf(expect, sizeof expect, "\"id\":\t%llu", (unsigned long long)captured);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\t\"open\""));
    snprintf(args, sizeof args, "hold-capture --id %llu --amount 12.40",
             (unsigned long long)captured);
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, args), 0);
    snprintf(expect, sizeof expect, "hold %llu captured: transfer", (unsigned long long)captured);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
    snprintf(args, sizeof args, "hold-void --id %llu", (unsigned long long)voided);
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, args), 0);
    CU_ASSERT_NOT_EQUAL(fogpayctl_ops(out, sizeof out, args), 0); /* voided already */
    CU_ASSERT_EQUAL(balance_of("dev-h"), before_h - 1240);
    CU_ASSERT_EQUAL(balance_of("dev-p"), before_p + 1240);
    CU_ASSERT_EQUAL(fogpayctl_ops(out, sizeof out, "hold-list --device dev-h --all true"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\t\"captured\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\t\"voided\""));
    assert_ledger_verifies();
    device_close(&h);
}

/* With plugin_opt_allow_other_clients true, a client that is neither a
 * device nor an operator uses other topics as before, but no fogpay topic. */
static void test_other_clients(void)
{
    test_broker b;
    CU_ASSERT_FATAL(test_broker_init(&b));
    char key_path[TEST_BROKER_PATH_MAX], acl_path[TEST_BROKER_PATH_MAX], conf[2048];
    path_in("gateway.key", key_path);
    /* The broker's own rules for other clients: an acl_file. With no rule
     * at all, Mosquitto denies what every plugin deferred. */
    path_in("other-clients.acl", acl_path);
    FILE *acl = fopen(acl_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(acl);
    fputs("topic readwrite plant/#\ntopic readwrite fogpay/#\n", acl);
    fclose(acl);
    snprintf(conf, sizeof conf,
             "allow_anonymous true\nacl_file %s\nplugin %s\nplugin_opt_database %s\n"
             "plugin_opt_gateway_id gw-test\nplugin_opt_gateway_key %s\n"
             "plugin_opt_currencies EUR\nplugin_opt_allow_other_clients true\n",
             acl_path, getenv("FOGPAY_PLUGIN"), db_path, key_path);
    test_broker_stop(&broker); /* one gateway on the ledger at a time */
    CU_ASSERT_FATAL(test_broker_start(&b, conf));
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", b.port);
    MQTTClient c;
    MQTTClient_create(&c, uri, "sensor-logger", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    CU_ASSERT_EQUAL_FATAL(MQTTClient_connect(c, &opts), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL(MQTTClient_subscribe(c, "plant/temperature", 1), MQTTCLIENT_SUCCESS);
    CU_ASSERT_NOT_EQUAL(MQTTClient_subscribe(c, "fogpay/v1/dev/dev-a/receipt", 1),
                        MQTTCLIENT_SUCCESS);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(c, "plant/temperature", 4, "21.5", 1, 0, &token);
    MQTTClient_waitForCompletion(c, token, 5000);
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    CU_ASSERT_EQUAL(MQTTClient_receive(c, &topic, &topic_len, &m, RECEIPT_WAIT_MS),
                    MQTTCLIENT_SUCCESS);
    CU_ASSERT(m && m->payloadlen == 4 && memcmp(m->payload, "21.5", 4) == 0);
    if (m) {
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
    }
    MQTTClient_disconnect(c, 1000);
    MQTTClient_destroy(&c);
    test_broker_cleanup(&b);
    CU_ASSERT_FATAL(test_broker_restart(&broker));
}

/* True when needle occurs in the len bytes at hay. */
static bool bytes_contain(const void *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n > 0 && i + n <= len; i++) {
        if (memcmp((const char *)hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* The legal entity's name and contact stay in the ledger's personal-data
 * table: no receipt, no exported transfer, no broker log line holds them,
 * while the entity's pseudonym is in the transfers. */
static void test_no_personal_data(void)
{
    static const char *const personal[] = {"Example Vending Ltd", "ops@example.invalid"};
    device a;
    CU_ASSERT_FATAL(device_open(&a, "dev-a", "pass-a"));
    fogpay_intent in = intent_to("dev-a", next_seq_a++, "dev-b", 5);
    uint8_t msg[FOGPAY_MESSAGE_MAX], raw[FOGPAY_MESSAGE_MAX];
    size_t len = sign_intent(key_a, &in, msg), raw_len = 0;
    publish(&a, "dev-a", "intent", msg, len, 1);
    fogpay_receipt r;
    CU_ASSERT_FATAL(receive_receipt(&a, &r, raw, &raw_len, RECEIPT_WAIT_MS));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    device_close(&a);

    char export_path[TEST_BROKER_PATH_MAX];
    path_in("export.csv", export_path);
    const char *argv[] = {getenv("FOGPAYCTL"), "--db", db_path, "export", "--format", "csv", NULL};
    CU_ASSERT_EQUAL_FATAL(testutil_command(argv, export_path), 0);
    size_t export_len = 0, log_len = 0;
    char *exported = testutil_read_file(export_path, &export_len);
    char *log = testutil_read_file(broker.log_path, &log_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exported);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT(bytes_contain(exported, export_len, entity_a)); /* the pseudonym is there */
    for (size_t i = 0; i < sizeof personal / sizeof personal[0]; i++) {
        CU_ASSERT_FALSE(bytes_contain(raw, raw_len, personal[i]));
        CU_ASSERT_FALSE(bytes_contain(exported, export_len, personal[i]));
        CU_ASSERT_FALSE(bytes_contain(log, log_len, personal[i]));
    }
    free(exported);
    free(log);
}

/* Options: a missing or invalid one stops the broker and is named. */
/* Starts a broker on the test's ledger and key with operators file text;
 * true when it stopped and its log holds sentence. */
static bool operators_refused(const char *operators_text, const char *sentence)
{
    test_broker b;
    CU_ASSERT_FATAL(test_broker_init(&b));
    char key_path[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX];
    path_in("gateway.key", key_path);
    test_broker_path(&b, "operators", operators, sizeof operators);
    FILE *f = fopen(operators, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(operators_text, f);
    fclose(f);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "allow_anonymous false\nplugin %s\nplugin_opt_database %s\n"
             "plugin_opt_gateway_id gw\nplugin_opt_gateway_key %s\n"
             "plugin_opt_currencies EUR\nplugin_opt_operators %s\n",
             getenv("FOGPAY_PLUGIN"), db_path, key_path, operators);
    bool started = test_broker_start(&b, conf);
    char *log = testutil_read_file(b.log_path, NULL);
    bool said = log && strstr(log, sentence);
    if (!said) {
        printf("\n  the log does not say \"%s\"\n", sentence);
    }
    free(log);
    test_broker_cleanup(&b);
    return !started && said;
}

/* The operators file is checked by its format, not by a PBKDF2 run, and
 * the log says which problem a refused file has. */
static void test_bad_operators(void)
{
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("x", 1, 1000, hash, sizeof hash), FOGPAY_OK);
    size_t cap = 64 * (FOGPAY_PASSWORD_HASH_TEXT_MAX + 16);
    char *many = malloc(cap);
    CU_ASSERT_FATAL(many != NULL);
    size_t used = 0;
    for (int i = 0; i < 33; i++) {
        used += (size_t)snprintf(many + used, cap - used, "ops%d:%s\n", i, hash);
    }
    CU_ASSERT(operators_refused(many, "line 33 of"));
    CU_ASSERT(operators_refused(many, "one operator too many: at most 32 operators"));
    free(many);
    char bad[FOGPAY_PASSWORD_HASH_TEXT_MAX + 16];
    snprintf(bad, sizeof bad, "ops:%s\n", hash);
    bad[strlen(bad) - 2] = 'g'; /* not hex */
    CU_ASSERT(operators_refused(bad, "line 1 of"));
    CU_ASSERT(operators_refused(bad, "is malformed: expected name:pbkdf2-sha256$"));
    CU_ASSERT(operators_refused("ops:pbkdf2-sha256$1000$00$00\n", "is malformed"));
}

static void test_bad_options(void)
{
    static const struct {
        const char *conf;
        const char *named;
    } cases[] = {
        {"plugin_opt_gateway_id gw\nplugin_opt_gateway_key /nonexistent\nplugin_opt_currencies "
         "EUR\n",
         "plugin_opt_database"},
        {"\nplugin_opt_gateway_id gw\nplugin_opt_gateway_key /nonexistent\n"
         "plugin_opt_currencies EUR\n",
         "plugin_opt_gateway_key"},
        {"\nplugin_opt_gateway_id gw\nplugin_opt_gateway_key /x\n"
         "plugin_opt_currencies EURO\n",
         "plugin_opt_currencies"},
        {"\nplugin_opt_gateway_id gw/1\nplugin_opt_gateway_key /x\n"
         "plugin_opt_currencies EUR\n",
         "plugin_opt_gateway_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_broker b;
        CU_ASSERT_FATAL(test_broker_init(&b));
        char conf[2048];
        snprintf(conf, sizeof conf, "allow_anonymous false\nplugin %s\n%s%s%s",
                 getenv("FOGPAY_PLUGIN"), i == 0 ? "" : "plugin_opt_database ",
                 i == 0 ? "" : db_path, cases[i].conf);
        bool started = test_broker_start(&b, conf);
        CU_ASSERT(!started);
        char *log = testutil_read_file(b.log_path, NULL);
        bool named = log && strstr(log, cases[i].named);
        if (!named) {
            printf("\n  case %zu: the log does not name %s\n", i, cases[i].named);
        }
        CU_ASSERT(named);
        free(log);
        test_broker_cleanup(&b);
    }
}

/* A ledger that cannot be opened stops the broker, and the log carries the
 * ledger's own sentence: SQLite's for a file that is not a database, the
 * two versions for a ledger of a newer schema (not "not initialised"). */
static void test_unopenable_ledger(void)
{
    static const struct {
        const char *name;
        const char *said;
    } cases[] = {
        {"junk.db", "file is not a database"},
        {"newer.db", "schema version 99 found where version 7 of the ledger is needed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_broker b;
        CU_ASSERT_FATAL(test_broker_init(&b));
        char path[TEST_BROKER_PATH_MAX];
        test_broker_path(&b, cases[i].name, path, sizeof path);
        if (i == 0) {
            FILE *f = fopen(path, "w");
            CU_ASSERT_PTR_NOT_NULL_FATAL(f);
            for (int n = 0; n < 200; n++) {
                fputs("this is not a database. ", f);
            }
            fclose(f);
        } else {
            fogpay_ledger *l = NULL;
            CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
            fogpay_ledger_close(l);
            sqlite3 *raw = NULL;
            CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &raw), SQLITE_OK);
            CU_ASSERT_EQUAL(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL),
                            SQLITE_OK);
            sqlite3_close(raw);
        }
        char conf[2048];
        snprintf(conf, sizeof conf,
                 "allow_anonymous false\nplugin %s\nplugin_opt_database %s\n"
                 "plugin_opt_gateway_id gw\nplugin_opt_gateway_key /nonexistent\n"
                 "plugin_opt_currencies EUR\n",
                 getenv("FOGPAY_PLUGIN"), path);
        CU_ASSERT(!test_broker_start(&b, conf));
        char *log = testutil_read_file(b.log_path, NULL);
        bool said = log && strstr(log, cases[i].said) && !strstr(log, "not initialised") &&
                    !strstr(log, "see the ledger's message");
        if (!said) {
            printf("\n  %s: the log does not say \"%s\"\n", cases[i].name, cases[i].said);
            test_broker_dump_log(&b);
        }
        CU_ASSERT(said);
        free(log);
        test_broker_cleanup(&b);
    }
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("gateway", suite_init, suite_clean);
    CU_add_test(s, "provision and start the gateway", test_start);
    CU_add_test(s, "device pays device", test_pay);
    CU_add_test(s, "repeats settle once, conflicts refused", test_repeats);
    CU_add_test(s, "each refusal has its reason and moves nothing", test_refusals);
    CU_add_test(s, "wrong algorithm, empty message: the named reason and hash",
                test_refusal_details);
    CU_add_test(s, "insufficient funds, suspended device", test_insufficient_and_suspended);
    CU_add_test(s, "revoked key", test_revoked_key);
    CU_add_test(s, "MQTT 5 response topic and correlation data", test_mqtt5_response);
    CU_add_test(s, "MQTT 5: one receipt, on the response topic", test_mqtt5_single_receipt);
    CU_add_test(s, "a repeat while the original is in flight", test_repeat_in_flight);
    CU_add_test(s, "a lone payment is answered without waiting for a wake",
                test_lone_payment_answered);
    CU_add_test(s, "a flooding device does not hold up another", test_flood_bounded);
    CU_add_test(s, "authentication", test_authentication);
    CU_add_test(s, "ACL between devices", test_acl);
    CU_add_test(s, "ACL of the gateway topics", test_acl_gateway_topics);
    CU_add_test(s, "operator control", test_control);
    CU_add_test(s, "revoking a connected device ends its session", test_revoke_connected);
    CU_add_test(s, "fee schedules set online apply at once", test_fees_online);
    CU_add_test(s, "fogpayctl online", test_fogpayctl_online);
    CU_add_test(s, "settled means durable across kill -9", test_durability);
    CU_add_test(s, "a hold captured in part", test_hold_capture);
    CU_add_test(s, "a hold voided by its payer", test_hold_void);
    CU_add_test(s, "a hold expired by the tick", test_hold_expiry);
    CU_add_test(s, "each refusal of a hold has its reason and moves nothing", test_hold_refusals);
    CU_add_test(s, "capture and void in the same tick: one wins", test_hold_race);
    CU_add_test(s, "a reading charged from a hold and its capture in the same tick: one wins",
                test_hold_reading_race);
    CU_add_test(s, "the operator lists, captures and voids holds", test_hold_operator);
    CU_add_test(s, "capture and void across a kill -9: one wins", test_hold_race_kill);
    CU_add_test(s, "other clients, when allowed", test_other_clients);
    CU_add_test(s, "no personal data in receipts, transfers or logs", test_no_personal_data);
    CU_add_test(s, "bad options stop the broker", test_bad_options);
    CU_add_test(s, "an unopenable ledger's sentence reaches the log", test_unopenable_ledger);
    CU_add_test(s, "a bad operators file stops the broker, saying why", test_bad_operators);
    return testutil_run();
}
