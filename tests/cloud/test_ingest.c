/*
 * test_ingest.c - the cloud's ingest core against a real SQLite store in a
 * temporary directory, with batches built by the real codec and signed by
 * real keys: storing, acking again, overlaps, gaps, forks, broken chains,
 * forgeries and wrong topics, and the signed acks themselves.
 *
 * Each test starts from a fresh store with two registered gateways, gw-1
 * and gw-2, each with its own key. The chain of a gateway is made of
 * sample transfers; a "variant" other than 0 changes every record's
 * amount, which gives another chain over the same positions: a fork.
 * Its event chain is made of sample events the same way (a variant moves
 * their times), batched on the events stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_message.h"
#include "ingest.h"
#include "store.h"
#include "testutil.h"

/* Highest position any test builds; chain hashes are recomputed from 1. */
#define TEST_POSITIONS_MAX 64

typedef struct fixture {
    char dir[256];
    fogpay_store *store;
    fogpay_key *cloud_key;
    fogpay_key *gw1_key;
    fogpay_key *gw2_key;
    fogpay_ingest *ingest;
    fogpay_ingest_result result;
    uint8_t msg[FOGPAY_BATCH_SIGNED_MAX + 1];
    size_t msg_len;
} fixture;

static fixture fx;

static const uint64_t now = 1764000500000ull;

static fogpay_transfer sample_transfer(uint64_t position, int variant)
{
    fogpay_transfer t;
    memset(&t, 0, sizeof t);
    t.position = position;
    t.kind = FOGPAY_TRANSFER_PAYMENT;
    t.debit_account = 3;
    t.credit_account = 5;
    t.amount_minor = 100 + position + 1000 * (uint64_t)variant;
    t.currency = 978;
    t.time_ms = 1764000000000ull + position;
    strcpy(t.device_id, "meter-07");
    t.seq = position;
    strcpy(t.payer_entity, "le-0011223344556677");
    memset(t.intent_hash, 0xab, sizeof t.intent_hash);
    return t;
}

/* The event at position of the event chain of variant: a registration,
 * a status change, an ownership change and a usage reading in turn. */
static fogpay_event sample_event(uint64_t position, int variant)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.position = position;
    e.time_ms = 1764000000000ull + position + 1000 * (uint64_t)variant;
    strcpy(e.device_id, "meter-07");
    switch (position % 4) {
    case 1:
        e.kind = FOGPAY_EVENT_REGISTERED;
        strcpy(e.entity_id, "le-0011223344556677");
        break;
    case 2:
        e.kind = FOGPAY_EVENT_STATUS;
        e.status = 1;
        break;
    case 3:
        e.kind = FOGPAY_EVENT_OWNERSHIP;
        strcpy(e.entity_id, "le-8899aabbccddeeff");
        e.effective_ms = e.time_ms;
        break;
    default:
        e.kind = FOGPAY_EVENT_USAGE;
        e.seq = position;
        strcpy(e.meter_id, "m-1");
        e.quantity = position;
        strcpy(e.unit, "kWh");
        memset(e.usage_hash, 0xcd, sizeof e.usage_hash);
        break;
    }
    return e;
}

/* The record at position of the chain of variant (events or transfers),
 * encoded into record; misplaced shifts its position by one. */
static size_t sample_record(bool events, uint64_t position, int variant, bool misplaced,
                            uint8_t record[FOGPAY_RECORD_BYTES_MAX])
{
    size_t len = 0;
    if (events) {
        fogpay_event e = sample_event(position, variant);
        e.position += misplaced;
        CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, record, FOGPAY_RECORD_BYTES_MAX, &len),
                              FOGPAY_OK);
    } else {
        fogpay_transfer t = sample_transfer(position, variant);
        t.position += misplaced;
        CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, record, FOGPAY_RECORD_BYTES_MAX, &len),
                              FOGPAY_OK);
    }
    return len;
}

/* The chain hash at position of the transfer or event chain of variant
 * (zeros at 0). */
static void stream_hash(bool events, uint64_t position, int variant, uint8_t out[FOGPAY_HASH_BYTES])
{
    memset(out, 0, FOGPAY_HASH_BYTES);
    for (uint64_t p = 1; p <= position; p++) {
        uint8_t record[FOGPAY_RECORD_BYTES_MAX];
        size_t len = sample_record(events, p, variant, false, record);
        CU_ASSERT_EQUAL_FATAL(fogpay_sha256_pair(out, FOGPAY_HASH_BYTES, record, len, out),
                              FOGPAY_OK);
    }
}

/* The chain hash at position of the transfer chain of variant. */
static void chain_hash(uint64_t position, int variant, uint8_t out[FOGPAY_HASH_BYTES])
{
    stream_hash(false, position, variant, out);
}

/* How a test batch departs from a good one. */
typedef struct batch_spec {
    const char *gateway;
    uint64_t seq;
    uint64_t first;
    uint64_t last;
    int variant;           /* records of this chain, from first */
    int before_variant;    /* hash_before from this chain */
    bool bad_hash_after;   /* hash_after not where the records lead */
    uint64_t misplaced;    /* a record carrying another position, 0 none */
    const fogpay_key *key; /* signs the batch */
    bool events;           /* a batch of the event chain */
} batch_spec;

/* Builds and signs the batch of spec into fx.msg. */
static void build_batch(const batch_spec *spec)
{
    fogpay_batch_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.gateway_id, sizeof h.gateway_id, "%s", spec->gateway);
    h.batch_seq = spec->seq;
    h.first_position = spec->first;
    h.last_position = spec->last;
    h.record_count = (uint32_t)(spec->last - spec->first + 1);
    h.created_ms = now - 1000;
    h.stream = spec->events ? FOGPAY_STREAM_EVENTS : FOGPAY_STREAM_TRANSFERS;
    stream_hash(spec->events, spec->first - 1, spec->before_variant, h.hash_before);
    uint8_t running[FOGPAY_HASH_BYTES];
    memcpy(running, h.hash_before, sizeof running);
    uint8_t payload_records[TEST_POSITIONS_MAX][FOGPAY_RECORD_BYTES_MAX];
    size_t lens[TEST_POSITIONS_MAX];
    CU_ASSERT_FATAL(h.record_count <= TEST_POSITIONS_MAX);
    for (uint32_t i = 0; i < h.record_count; i++) {
        size_t len = sample_record(spec->events, spec->first + i, spec->variant,
                                   spec->misplaced == spec->first + i, payload_records[i]);
        lens[i] = len;
        CU_ASSERT_EQUAL_FATAL(
            fogpay_sha256_pair(running, sizeof running, payload_records[i], len, running),
            FOGPAY_OK);
    }
    memcpy(h.hash_after, running, sizeof running);
    if (spec->bad_hash_after) {
        h.hash_after[0] ^= 0x01;
    }
    static uint8_t payload[FOGPAY_BATCH_BYTES_MAX];
    fogpay_batch_writer bw;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&bw, &h, payload, sizeof payload), FOGPAY_OK);
    for (uint32_t i = 0; i < h.record_count; i++) {
        if (spec->events) {
            fogpay_event e;
            CU_ASSERT_EQUAL_FATAL(fogpay_event_decode(payload_records[i], lens[i], &e), FOGPAY_OK);
            CU_ASSERT_EQUAL_FATAL(fogpay_batch_add_event(&bw, &e), FOGPAY_OK);
        } else {
            fogpay_transfer t;
            CU_ASSERT_EQUAL_FATAL(fogpay_transfer_decode(payload_records[i], lens[i], &t),
                                  FOGPAY_OK);
            CU_ASSERT_EQUAL_FATAL(fogpay_batch_add(&bw, &t), FOGPAY_OK);
        }
    }
    size_t payload_len;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_finish(&bw, &payload_len), FOGPAY_OK);
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(spec->key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(spec->key, kid, sizeof kid, payload, payload_len,
                                                 NULL, 0, fx.msg, sizeof fx.msg, &fx.msg_len),
                          FOGPAY_OK);
}

/* A good batch of gw-1's main chain. */
static batch_spec good(uint64_t seq, uint64_t first, uint64_t last)
{
    batch_spec s = {.gateway = "gw-1", .seq = seq, .first = first, .last = last, .key = fx.gw1_key};
    return s;
}

/* A good batch of gw-1's event chain. */
static batch_spec good_events(uint64_t seq, uint64_t first, uint64_t last)
{
    batch_spec s = good(seq, first, last);
    s.events = true;
    return s;
}

static fogpay_ingest_result *ingest_on(const char *topic_gateway)
{
    fogpay_error err =
        fogpay_ingest_batch(fx.ingest, topic_gateway, fx.msg, fx.msg_len, now, &fx.result);
    CU_ASSERT_EQUAL(err, fx.result.reason);
    return &fx.result;
}

static int count_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                       const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    uint64_t *count = ctx;
    (*count)++;
    CU_ASSERT_EQUAL(t->position, *count);
    return 0;
}

/* Rows stored for gateway, checked to run 1..count. */
static uint64_t stored_rows(const char *gateway)
{
    fogpay_store_filter f;
    memset(&f, 0, sizeof f);
    f.gateway_id = gateway;
    uint64_t count = 0;
    CU_ASSERT_EQUAL(fogpay_store_transfers(fx.store, &f, count_visit, &count), FOGPAY_OK);
    return count;
}

static int count_event_visit(void *ctx, const char *gateway_id, const fogpay_event *e,
                             const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    uint64_t *count = ctx;
    (*count)++;
    CU_ASSERT_EQUAL(e->position, *count);
    return 0;
}

/* Events stored for gateway, checked to run 1..count. */
static uint64_t stored_events(const char *gateway)
{
    fogpay_store_filter f;
    memset(&f, 0, sizeof f);
    f.gateway_id = gateway;
    uint64_t count = 0;
    CU_ASSERT_EQUAL(fogpay_store_events(fx.store, &f, count_event_visit, &count), FOGPAY_OK);
    return count;
}

/* Verifies the result's ack with the cloud's public key alone and decodes
 * it into *ack. */
static void read_ack(fogpay_batch_ack *ack)
{
    CU_ASSERT_FATAL(fx.result.ack_len > 0);
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(fx.cloud_key, text, sizeof text), FOGPAY_OK);
    fogpay_key *pub = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_from_public_text(text, &pub), FOGPAY_OK);
    fogpay_cose_sign1 cose;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(fx.result.ack, fx.result.ack_len, &cose),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&cose, pub, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&cose, fx.gw1_key, NULL, 0), FOGPAY_ERR_BAD_SIGNATURE);
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_id(pub, kid), FOGPAY_OK);
    CU_ASSERT(cose.kid.len == sizeof kid && memcmp(cose.kid.ptr, kid, sizeof kid) == 0);
    fogpay_key_free(pub);
    memset(ack, 0, sizeof *ack);
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_ack_decode(cose.payload.ptr, cose.payload.len, ack),
                          FOGPAY_OK);
}

/* Checks the ack of the last result: its stream, status, reason, head and
 * that chain's hash there, the batch it answers. */
static void expect_stream_ack(bool events, uint8_t status, fogpay_error reason,
                              uint64_t stored_position, uint64_t batch_seq)
{
    fogpay_batch_ack ack;
    read_ack(&ack);
    CU_ASSERT_STRING_EQUAL(ack.gateway_id, "gw-1");
    CU_ASSERT_EQUAL(ack.stream, events ? FOGPAY_STREAM_EVENTS : FOGPAY_STREAM_TRANSFERS);
    CU_ASSERT_EQUAL(ack.batch_seq, batch_seq);
    CU_ASSERT_EQUAL(ack.status, status);
    CU_ASSERT_EQUAL(ack.reason, (uint16_t)reason);
    CU_ASSERT_EQUAL(ack.stored_position, stored_position);
    uint8_t want[FOGPAY_HASH_BYTES];
    stream_hash(events, stored_position, 0, want);
    CU_ASSERT(memcmp(ack.stored_hash, want, sizeof want) == 0);
    CU_ASSERT_EQUAL(fx.result.stored_position, stored_position);
    CU_ASSERT_EQUAL(fx.result.stream, ack.stream);
}

static void expect_ack(uint8_t status, fogpay_error reason, uint64_t stored_position,
                       uint64_t batch_seq)
{
    expect_stream_ack(false, status, reason, stored_position, batch_seq);
}

/* Checks a result that must not be answered. */
static void expect_dropped(fogpay_error reason)
{
    CU_ASSERT_EQUAL(fx.result.outcome, FOGPAY_INGEST_DROPPED);
    CU_ASSERT_EQUAL(fx.result.reason, reason);
    CU_ASSERT_EQUAL(fx.result.ack_len, 0);
    CU_ASSERT_EQUAL(fx.result.appended, 0);
}

/* Checks a refusal of gw-1's batch seq as a chain mismatch, answered with
 * the head, with nothing stored past it. */
static void expect_refused(uint64_t batch_seq, uint64_t head)
{
    CU_ASSERT_EQUAL(fx.result.outcome, FOGPAY_INGEST_REFUSED);
    CU_ASSERT_EQUAL(fx.result.appended, 0);
    expect_ack(FOGPAY_ACK_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH, head, batch_seq);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), head);
}

static void head_is(const char *gateway, uint64_t position)
{
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_gateway_get(fx.store, gateway, &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, position);
    uint8_t want[FOGPAY_HASH_BYTES];
    chain_hash(position, 0, want);
    CU_ASSERT(memcmp(g.hash, want, sizeof want) == 0);
}

/* Both heads of gateway: the transfer chain at transfers, the event chain
 * at events, each with its own chain's hash. */
static void heads_are(const char *gateway, uint64_t transfers, uint64_t events)
{
    head_is(gateway, transfers);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_gateway_get(fx.store, gateway, &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, events);
    uint8_t want[FOGPAY_HASH_BYTES];
    stream_hash(true, events, 0, want);
    CU_ASSERT(memcmp(g.event_hash, want, sizeof want) == 0);
}

static void register_gateway(const char *id, const fogpay_key *key)
{
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(key, text, sizeof text), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_store_gateway_add(fx.store, id, text, now - 86400000ull),
                          FOGPAY_OK);
}

static void setup(void)
{
    testutil_tempdir(fx.dir, sizeof fx.dir);
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "sqlite:%s/cloud.db", fx.dir);
    CU_ASSERT_EQUAL_FATAL(fogpay_store_open(conninfo, true, &fx.store), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &fx.cloud_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &fx.gw1_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &fx.gw2_key), FOGPAY_OK);
    register_gateway("gw-1", fx.gw1_key);
    register_gateway("gw-2", fx.gw2_key);
    CU_ASSERT_EQUAL_FATAL(fogpay_ingest_create(fx.store, fx.cloud_key, &fx.ingest), FOGPAY_OK);
}

static void teardown(void)
{
    fogpay_ingest_destroy(fx.ingest);
    fogpay_store_close(fx.store);
    fogpay_key_free(fx.cloud_key);
    fogpay_key_free(fx.gw1_key);
    fogpay_key_free(fx.gw2_key);
    testutil_rmtree(fx.dir);
    memset(&fx, 0, sizeof fx);
}

/* Stores gw-1's positions 1..last as batch 1 and checks it was stored. */
static void store_prefix(uint64_t last)
{
    batch_spec s = good(1, 1, last);
    build_batch(&s);
    CU_ASSERT_EQUAL_FATAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_STORED);
}

static void test_first_batch(void)
{
    setup();
    batch_spec s = good(1, 1, 10);
    build_batch(&s);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(r->reason, FOGPAY_OK);
    CU_ASSERT_EQUAL(r->appended, 10);
    CU_ASSERT_EQUAL(r->first_position, 1);
    CU_ASSERT_EQUAL(r->last_position, 10);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 10, 1);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 10);
    CU_ASSERT_EQUAL(stored_rows("gw-2"), 0);
    head_is("gw-1", 10);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(fx.store, "gw-1", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.batch_seq, 1);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 10);
    teardown();
}

static void test_same_batch_again(void)
{
    setup();
    store_prefix(10);
    for (int round = 0; round < 3; round++) {
        fogpay_ingest_result *r = ingest_on("gw-1");
        CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_DUPLICATE);
        CU_ASSERT_EQUAL(r->reason, FOGPAY_OK);
        CU_ASSERT_EQUAL(r->appended, 0);
        expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 10, 1);
    }
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 10);
    /* An older batch wholly inside what is stored is acked with the head. */
    batch_spec s = good(2, 3, 7);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_DUPLICATE);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 10, 2);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 10);
    teardown();
}

static void test_overlap(void)
{
    setup();
    store_prefix(10);
    batch_spec s = good(2, 6, 15);
    build_batch(&s);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(r->appended, 5);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 15, 2);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 15);
    head_is("gw-1", 15);
    /* The next batch continues right after the head. */
    s = good(3, 16, 16);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->appended, 1);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 16, 3);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 16);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 16);
    teardown();
}

static void test_flipped_byte(void)
{
    setup();
    store_prefix(5);
    batch_spec s = good(2, 6, 10);
    build_batch(&s);
    fogpay_cose_sign1 cose;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(fx.msg, fx.msg_len, &cose), FOGPAY_OK);
    size_t at = (size_t)(cose.payload.ptr - fx.msg) + cose.payload.len - 1;
    fx.msg[at] ^= 0x01;
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_PTR_NULL(strstr(fx.result.detail, "kid"));
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 5);
    /* The same batch undamaged is stored: the refusal was the flip's. */
    fx.msg[at] ^= 0x01;
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 10);
    teardown();
}

static void test_unknown_key_and_gateway(void)
{
    setup();
    store_prefix(5);
    fogpay_key *stranger = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &stranger), FOGPAY_OK);
    batch_spec s = good(2, 6, 10);
    s.key = stranger;
    build_batch(&s);
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.result.detail, "kid"));
    /* gw-2's key is known, but not as gw-1's. */
    s.key = fx.gw2_key;
    build_batch(&s);
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 5);
    /* A gateway that is not registered at all. */
    s.gateway = "gw-9";
    s.key = stranger;
    build_batch(&s);
    ingest_on("gw-9");
    expect_dropped(FOGPAY_ERR_UNKNOWN_GATEWAY);
    CU_ASSERT_STRING_EQUAL(fx.result.gateway_id, "gw-9");
    fogpay_key_free(stranger);
    teardown();
}

/* After the gateway rotates its key, the operator sets the new one: the
 * batch signed by it, refused before (no ack, so the gateway sends it
 * again), is stored after, on the chain the old key's batches began; the
 * old key's batches are refused from then on. */
static void test_rotated_gateway_key(void)
{
    setup();
    store_prefix(5);
    fogpay_key *next = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &next), FOGPAY_OK);
    batch_spec s = good(2, 6, 10);
    s.key = next;
    build_batch(&s);
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_BAD_SIGNATURE);
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(next, text, sizeof text), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_set_key(fx.store, "gw-1", text), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_set_key(fx.store, "gw-9", text),
                    FOGPAY_ERR_UNKNOWN_GATEWAY);
    CU_ASSERT_EQUAL(fogpay_store_gateway_set_key(fx.store, "gw-1", "ed25519:00"),
                    FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_STORED);
    head_is("gw-1", 10);
    s = good(3, 11, 12);
    build_batch(&s);
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_key_free(next);
    teardown();
}

static void test_wrong_topic(void)
{
    setup();
    batch_spec s = good(1, 1, 4);
    build_batch(&s);
    ingest_on("gw-2");
    expect_dropped(FOGPAY_ERR_WRONG_TOPIC);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 0);
    CU_ASSERT_EQUAL(stored_rows("gw-2"), 0);
    /* gw-2 signing a batch that names gw-1, on gw-2's topic. */
    s.key = fx.gw2_key;
    build_batch(&s);
    ingest_on("gw-2");
    expect_dropped(FOGPAY_ERR_WRONG_TOPIC);
    CU_ASSERT_EQUAL(stored_rows("gw-2"), 0);
    teardown();
}

static void test_gap(void)
{
    setup();
    store_prefix(10);
    batch_spec s = good(3, 14, 20);
    build_batch(&s);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_RESEND);
    CU_ASSERT_EQUAL(r->reason, FOGPAY_ERR_GAP);
    fogpay_batch_ack ack;
    read_ack(&ack);
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_RESEND);
    CU_ASSERT_EQUAL(ack.resend_from, 11);
    CU_ASSERT_EQUAL(ack.stored_position, 10);
    CU_ASSERT_EQUAL(ack.batch_seq, 3);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 10);
    head_is("gw-1", 10);
    /* On an empty chain a batch not starting at 1 is a gap from 1. */
    s = good(1, 2, 3);
    s.gateway = "gw-2";
    s.key = fx.gw2_key;
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-2")->outcome, FOGPAY_INGEST_RESEND);
    read_ack(&ack);
    CU_ASSERT_EQUAL(ack.resend_from, 1);
    CU_ASSERT_STRING_EQUAL(ack.gateway_id, "gw-2");
    teardown();
}

static void test_fork(void)
{
    setup();
    store_prefix(10);
    /* Same positions, other records, a chain of their own from 6. */
    batch_spec s = good(2, 6, 10);
    s.variant = 1;
    build_batch(&s);
    ingest_on("gw-1");
    expect_refused(2, 10);
    /* A fork that overlaps the head and would add 11..12. */
    s = good(3, 9, 12);
    s.variant = 1;
    build_batch(&s);
    ingest_on("gw-1");
    expect_refused(3, 10);
    /* A fork right at the head: hash_before is not the stored hash. */
    s = good(4, 11, 12);
    s.before_variant = 1;
    s.variant = 1;
    build_batch(&s);
    ingest_on("gw-1");
    expect_refused(4, 10);
    head_is("gw-1", 10);
    teardown();
}

static void test_broken_chain(void)
{
    setup();
    store_prefix(5);
    batch_spec s = good(2, 6, 10);
    s.bad_hash_after = true;
    build_batch(&s);
    ingest_on("gw-1");
    expect_refused(2, 5);
    /* A record that carries the wrong position. */
    s = good(3, 6, 10);
    s.misplaced = 8;
    build_batch(&s);
    ingest_on("gw-1");
    expect_refused(3, 5);
    /* Internally broken even where it would be a duplicate: refused. */
    s = good(4, 1, 5);
    s.bad_hash_after = true;
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_REFUSED);
    head_is("gw-1", 5);
    teardown();
}

static void test_malformed(void)
{
    setup();
    fx.msg_len = FOGPAY_BATCH_SIGNED_MAX + 1;
    memset(fx.msg, 0, fx.msg_len);
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_PAYLOAD_TOO_LARGE);
    static const uint8_t junk[] = {0xa1, 0x01, 0x02};
    memcpy(fx.msg, junk, sizeof junk);
    fx.msg_len = sizeof junk;
    ingest_on("gw-1");
    expect_dropped(FOGPAY_ERR_COSE_STRUCTURE);
    /* A valid signature over a payload that is not a batch. */
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(fx.gw1_key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(fx.gw1_key, kid, sizeof kid, junk, sizeof junk,
                                                 NULL, 0, fx.msg, sizeof fx.msg, &fx.msg_len),
                          FOGPAY_OK);
    ingest_on("gw-1");
    CU_ASSERT_EQUAL(fx.result.outcome, FOGPAY_INGEST_DROPPED);
    CU_ASSERT_NOT_EQUAL(fx.result.reason, FOGPAY_OK);
    CU_ASSERT_EQUAL(fx.result.ack_len, 0);
    /* Cut short: never a record from past the cut. */
    batch_spec s = good(1, 1, 3);
    build_batch(&s);
    fx.msg_len -= 70;
    ingest_on("gw-1");
    CU_ASSERT_EQUAL(fx.result.outcome, FOGPAY_INGEST_DROPPED);
    CU_ASSERT_EQUAL(fx.result.ack_len, 0);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 0);
    teardown();
}

/* A second ingest on the same file (another process's view) that stored
 * ahead: the first one's duplicate and overlap see the new head. */
static void test_two_ingests(void)
{
    setup();
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "sqlite:%s/cloud.db", fx.dir);
    fogpay_store *other_store = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_store_open(conninfo, false, &other_store), FOGPAY_OK);
    fogpay_ingest *other = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ingest_create(other_store, fx.cloud_key, &other), FOGPAY_OK);
    batch_spec s = good(1, 1, 8);
    build_batch(&s);
    static fogpay_ingest_result r;
    CU_ASSERT_EQUAL(fogpay_ingest_batch(other, "gw-1", fx.msg, fx.msg_len, now, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL(r.outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_DUPLICATE);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 8);
    fogpay_ingest_destroy(other);
    fogpay_store_close(other_store);
    teardown();
}

static void test_log_line(void)
{
    setup();
    store_prefix(3);
    batch_spec s = good(7, 1, 5);
    s.variant = 1;
    build_batch(&s);
    ingest_on("gw-1");
    char line[FOGPAY_INGEST_DETAIL_MAX + 256];
    fogpay_ingest_format(&fx.result, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "gateway gw-1 batch 7 positions 1..5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "refused"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "chain_mismatch"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, fogpay_error_string(FOGPAY_ERR_CHAIN_MISMATCH)));
    CU_ASSERT_STRING_EQUAL(fogpay_ingest_outcome_name(FOGPAY_INGEST_DROPPED), "dropped");
    teardown();
}

/* Event batches. */

/* Stores gw-1's events 1..last as batch seq. */
static void store_event_prefix(uint64_t seq, uint64_t last)
{
    batch_spec s = good_events(seq, 1, last);
    build_batch(&s);
    CU_ASSERT_EQUAL_FATAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_STORED);
}

static void test_event_batch_stored(void)
{
    setup();
    batch_spec s = good_events(1, 1, 10);
    build_batch(&s);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(r->reason, FOGPAY_OK);
    CU_ASSERT_EQUAL(r->appended, 10);
    CU_ASSERT_EQUAL(r->stream, FOGPAY_STREAM_EVENTS);
    expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 10, 1);
    CU_ASSERT_EQUAL(stored_events("gw-1"), 10);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 0);
    CU_ASSERT_EQUAL(stored_events("gw-2"), 0);
    heads_are("gw-1", 0, 10);
    char line[FOGPAY_INGEST_DETAIL_MAX + 256];
    fogpay_ingest_format(r, line, sizeof line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "gateway gw-1 batch 1 events positions 1..10: stored"));
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    /* The next batch continues after the event head, overlapping it. */
    s = good_events(2, 8, 12);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->appended, 2);
    expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 12, 2);
    heads_are("gw-1", 0, 12);
    teardown();
}

static void test_event_duplicate(void)
{
    setup();
    store_event_prefix(1, 10);
    for (int round = 0; round < 2; round++) {
        fogpay_ingest_result *r = ingest_on("gw-1");
        CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_DUPLICATE);
        CU_ASSERT_EQUAL(r->appended, 0);
        expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 10, 1);
    }
    /* An older batch inside what is stored is acked with the event head. */
    batch_spec s = good_events(2, 3, 7);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_DUPLICATE);
    expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 10, 2);
    CU_ASSERT_EQUAL(stored_events("gw-1"), 10);
    heads_are("gw-1", 0, 10);
    teardown();
}

static void test_event_gap(void)
{
    setup();
    store_event_prefix(1, 10);
    batch_spec s = good_events(3, 14, 20);
    build_batch(&s);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_RESEND);
    CU_ASSERT_EQUAL(r->reason, FOGPAY_ERR_GAP);
    fogpay_batch_ack ack;
    read_ack(&ack);
    CU_ASSERT_EQUAL(ack.stream, FOGPAY_STREAM_EVENTS);
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_RESEND);
    CU_ASSERT_EQUAL(ack.resend_from, 11);
    CU_ASSERT_EQUAL(ack.stored_position, 10);
    CU_ASSERT_EQUAL(stored_events("gw-1"), 10);
    heads_are("gw-1", 0, 10);
    teardown();
}

static void test_event_fork(void)
{
    setup();
    store_event_prefix(1, 10);
    /* Same positions, other events: a chain of their own from 6. */
    batch_spec s = good_events(2, 6, 10);
    s.variant = 1;
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_REFUSED);
    expect_stream_ack(true, FOGPAY_ACK_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH, 10, 2);
    /* A fork across the head that would add 11..12. */
    s = good_events(3, 9, 12);
    s.variant = 1;
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_REFUSED);
    expect_stream_ack(true, FOGPAY_ACK_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH, 10, 3);
    /* Broken in itself: refused with the event head. */
    s = good_events(4, 11, 12);
    s.bad_hash_after = true;
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_REFUSED);
    expect_stream_ack(true, FOGPAY_ACK_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH, 10, 4);
    CU_ASSERT_EQUAL(stored_events("gw-1"), 10);
    heads_are("gw-1", 0, 10);
    teardown();
}

/* The two chains of one gateway move apart: a batch of either is placed
 * against its own head only. */
/* Builds and signs a batch of gw-1's note chain into fx.msg: one note,
 * withdrawn by dev-a at position 1 and paid to dev-b at position 2. */
static void build_note_batch(uint64_t seq)
{
    fogpay_note_movement m[2];
    uint8_t records[2][FOGPAY_RECORD_BYTES_MAX];
    fogpay_batch_header h = {.batch_seq = seq,
                             .first_position = 1,
                             .last_position = 2,
                             .created_ms = now - 1000,
                             .record_count = 2,
                             .stream = FOGPAY_STREAM_NOTES};
    snprintf(h.gateway_id, sizeof h.gateway_id, "gw-1");
    uint8_t running[FOGPAY_HASH_BYTES] = {0};
    for (size_t i = 0; i < 2; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].position = i + 1;
        m[i].kind = i == 0 ? FOGPAY_NOTE_WITHDRAWN : FOGPAY_NOTE_PAID;
        m[i].time_ms = now - 5000 + i;
        memset(m[i].serial, 0x5a, FOGPAY_NOTE_SERIAL_BYTES);
        memset(m[i].link, (int)(i + 1), FOGPAY_HASH_BYTES);
        memset(m[i].holder_kid, (int)(i + 3), FOGPAY_KID_BYTES);
        snprintf(m[i].device_id, sizeof m[i].device_id, "%s", i == 0 ? "dev-a" : "dev-b");
        m[i].transfer_position = i == 0 ? 1 : 0;
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(
            fogpay_note_movement_encode(&m[i], records[i], sizeof records[i], &len), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_sha256_pair(running, sizeof running, records[i], len, running),
                              FOGPAY_OK);
    }
    memcpy(h.hash_after, running, sizeof running);
    static uint8_t payload[FOGPAY_BATCH_BYTES_MAX];
    fogpay_batch_writer bw;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&bw, &h, payload, sizeof payload), FOGPAY_OK);
    for (size_t i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(fogpay_batch_add_note(&bw, &m[i]), FOGPAY_OK);
    }
    size_t payload_len;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_finish(&bw, &payload_len), FOGPAY_OK);
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(fx.gw1_key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(fx.gw1_key, kid, sizeof kid, payload, payload_len,
                                                 NULL, 0, fx.msg, sizeof fx.msg, &fx.msg_len),
                          FOGPAY_OK);
}

/* A batch of note movements: stored on the note chain, acked on its
 * stream, the note's home the gateway; once only. */
static void test_note_batch_stored(void)
{
    setup();
    build_note_batch(1);
    fogpay_ingest_result *r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_STORED);
    CU_ASSERT_EQUAL(r->appended, 2);
    CU_ASSERT_EQUAL(r->stream, FOGPAY_STREAM_NOTES);
    fogpay_batch_ack ack;
    read_ack(&ack);
    CU_ASSERT_EQUAL(ack.stream, FOGPAY_STREAM_NOTES);
    CU_ASSERT_EQUAL(ack.status, FOGPAY_ACK_STORED);
    CU_ASSERT_EQUAL(ack.stored_position, 2);
    heads_are("gw-1", 0, 0);
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    memset(serial, 0x5a, sizeof serial);
    fogpay_store_note_home home;
    CU_ASSERT_EQUAL(fogpay_store_note_home_get(fx.store, serial, &home), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(home.gateway_id, "gw-1");
    CU_ASSERT_EQUAL(home.position, 2);
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    build_note_batch(2);
    r = ingest_on("gw-1");
    CU_ASSERT_EQUAL(r->outcome, FOGPAY_INGEST_DUPLICATE);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_store_note_head(fx.store, "gw-1", &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 2);
    teardown();
}

static void test_chains_independent(void)
{
    setup();
    store_prefix(10);
    heads_are("gw-1", 10, 0);
    /* Events 1..5 while transfers stand at 10: not a duplicate of them. */
    store_event_prefix(2, 5);
    expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 5, 2);
    heads_are("gw-1", 10, 5);
    /* Transfers 11..12 leave the event head at 5. */
    batch_spec s = good(3, 11, 12);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_STORED);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 12, 3);
    heads_are("gw-1", 12, 5);
    /* Events from 13 are a gap in the event chain, whatever the transfer
     * head: resend from 6. */
    s = good_events(4, 13, 14);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_RESEND);
    fogpay_batch_ack ack;
    read_ack(&ack);
    CU_ASSERT_EQUAL(ack.stream, FOGPAY_STREAM_EVENTS);
    CU_ASSERT_EQUAL(ack.resend_from, 6);
    /* Transfers 1..5 again are a duplicate of the transfer chain. */
    s = good(5, 1, 5);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->outcome, FOGPAY_INGEST_DUPLICATE);
    expect_ack(FOGPAY_ACK_STORED, FOGPAY_OK, 12, 5);
    /* Events 6..8 leave the transfer head at 12. */
    s = good_events(6, 6, 8);
    build_batch(&s);
    CU_ASSERT_EQUAL(ingest_on("gw-1")->appended, 3);
    expect_stream_ack(true, FOGPAY_ACK_STORED, FOGPAY_OK, 8, 6);
    heads_are("gw-1", 12, 8);
    CU_ASSERT_EQUAL(stored_rows("gw-1"), 12);
    CU_ASSERT_EQUAL(stored_events("gw-1"), 8);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(fx.store, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 12);
    teardown();
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("ingest", NULL, NULL);
    CU_add_test(s, "first batch stored", test_first_batch);
    CU_add_test(s, "a rotated gateway key, once set, is the one accepted",
                test_rotated_gateway_key);
    CU_add_test(s, "same batch again: acked stored, stored once", test_same_batch_again);
    CU_add_test(s, "overlap stores only the new tail", test_overlap);
    CU_add_test(s, "a flipped byte: bad signature, no ack", test_flipped_byte);
    CU_add_test(s, "unknown key or gateway: no ack", test_unknown_key_and_gateway);
    CU_add_test(s, "topic gateway differs from the payload's: no ack", test_wrong_topic);
    CU_add_test(s, "gap: resend from the head", test_gap);
    CU_add_test(s, "fork: refused, nothing stored", test_fork);
    CU_add_test(s, "records not chaining to hash_after: refused", test_broken_chain);
    CU_add_test(s, "oversized and malformed: no ack", test_malformed);
    CU_add_test(s, "a second ingest on the same store", test_two_ingests);
    CU_add_test(s, "the log line", test_log_line);
    CU_add_test(s, "event batch stored, acked on the events stream", test_event_batch_stored);
    CU_add_test(s, "note batch stored, acked on the notes stream, the note's home moved",
                test_note_batch_stored);
    CU_add_test(s, "event batch again: acked stored on the events stream", test_event_duplicate);
    CU_add_test(s, "event gap: resend from the event head", test_event_gap);
    CU_add_test(s, "event fork or broken event chain: refused", test_event_fork);
    CU_add_test(s, "transfer and event chains move independently", test_chains_independent);
    return testutil_run();
}
