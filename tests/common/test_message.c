/*
 * test_message.c - the messages of the wire contract: the vectors of
 * schemas/vectors/payloads.json, round trips, a settled receipt's balance,
 * the intent hash of an untagged message, the size of a signed intent,
 * damage to a signed intent at every byte and bit, batches, and amounts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_message.h"
#include "fogpay_note.h"
#include "cbor_diag.h"
#include "testutil.h"

/* Decodes buf as a message of the named type and re-encodes it into out.
 * Returns the decoder's error. */
static fogpay_error decode_named(const char *type, const uint8_t *buf, size_t len, uint8_t *out,
                                 size_t cap, size_t *out_len)
{
#define ROUND_TRIP(name, st)                                                                       \
    if (strcmp(type, #name) == 0) {                                                                \
        st m;                                                                                      \
        fogpay_error e = fogpay_##name##_decode(buf, len, &m);                                     \
        if (e == FOGPAY_OK) {                                                                      \
            CU_ASSERT_EQUAL(fogpay_##name##_encode(&m, out, cap, out_len), FOGPAY_OK);             \
        }                                                                                          \
        return e;                                                                                  \
    }
    ROUND_TRIP(intent, fogpay_intent)
    ROUND_TRIP(usage, fogpay_usage)
    ROUND_TRIP(bind, fogpay_bind)
    ROUND_TRIP(event, fogpay_event)
    ROUND_TRIP(hold_message, fogpay_hold_message)
    ROUND_TRIP(receipt, fogpay_receipt)
    ROUND_TRIP(command, fogpay_command)
    ROUND_TRIP(transfer, fogpay_transfer)
    ROUND_TRIP(event, fogpay_event)
    ROUND_TRIP(batch_ack, fogpay_batch_ack)
    ROUND_TRIP(note, fogpay_note)
    ROUND_TRIP(custody, fogpay_custody)
    ROUND_TRIP(note_movement, fogpay_note_movement)
    ROUND_TRIP(note_withdraw, fogpay_note_withdraw)
    ROUND_TRIP(note_delivery, fogpay_held_note)
    ROUND_TRIP(note_payment, fogpay_note_payment)
#undef ROUND_TRIP
    CU_FAIL("unknown message type in a vector");
    return FOGPAY_ERR_INVALID_ARGUMENT;
}

static void test_vectors(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/schemas/vectors/payloads.json", getenv("FOGPAY_SOURCE_DIR"));
    char *text = testutil_read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *vectors = cJSON_GetObjectItem(root, "vectors");
    CU_ASSERT_FATAL(cJSON_GetArraySize(vectors) > 40);
    const cJSON *v;
    cJSON_ArrayForEach(v, vectors)
    {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(v, "type"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(v, "name"));
        size_t len;
        uint8_t *bytes = testutil_hex(cJSON_GetStringValue(cJSON_GetObjectItem(v, "hex")), &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
        uint8_t again[FOGPAY_MESSAGE_MAX];
        size_t again_len = 0;
        fogpay_error err = decode_named(type, bytes, len, again, sizeof again, &again_len);
        const char *want_error = cJSON_GetStringValue(cJSON_GetObjectItem(v, "error"));
        if (want_error) {
            if (strcmp(fogpay_error_name(err), want_error) != 0) {
                printf("\n  %s %s: %s, expected %s\n", type, name, fogpay_error_name(err),
                       want_error);
            }
            CU_ASSERT_STRING_EQUAL(fogpay_error_name(err), want_error);
        } else {
            if (err != FOGPAY_OK) {
                printf("\n  %s %s: %s\n", type, name, fogpay_error_name(err));
            }
            CU_ASSERT_EQUAL(err, FOGPAY_OK);
            CU_ASSERT(again_len == len && memcmp(again, bytes, len) == 0);
            char diag[1024];
            CU_ASSERT_EQUAL(fogpay_cbor_diagnose(bytes, len, diag, sizeof diag), FOGPAY_OK);
            CU_ASSERT_STRING_EQUAL(diag,
                                   cJSON_GetStringValue(cJSON_GetObjectItem(v, "diagnostic")));
        }
        free(bytes);
    }
    cJSON_Delete(root);
}

static fogpay_intent sample_intent(void)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    strcpy(in.device_id, "meter-07");
    in.seq = 42;
    strcpy(in.payee_device, "charger1");
    in.amount_minor = 150;
    in.currency = 978;
    in.created_s = 1764000000;
    in.ttl_s = 300;
    memcpy(in.prev_hash, "\x00\x11\x22\x33\x44\x55\x66\x77", 8);
    return in;
}

static void test_intent_fields(void)
{
    fogpay_intent in = sample_intent();
    strcpy(in.reference, "kWh 12");
    uint8_t buf[FOGPAY_MESSAGE_MAX];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&in, buf, sizeof buf, &len), FOGPAY_OK);
    fogpay_intent out;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_decode(buf, len, &out), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(out.device_id, "meter-07");
    CU_ASSERT_EQUAL(out.seq, 42);
    CU_ASSERT_STRING_EQUAL(out.payee_device, "charger1");
    CU_ASSERT_EQUAL(out.payee_account, 0);
    CU_ASSERT_EQUAL(out.amount_minor, 150);
    CU_ASSERT_EQUAL(out.currency, 978);
    CU_ASSERT_EQUAL(out.created_s, 1764000000);
    CU_ASSERT_EQUAL(out.ttl_s, 300);
    CU_ASSERT_STRING_EQUAL(out.reference, "kWh 12");
    CU_ASSERT(memcmp(out.prev_hash, in.prev_hash, 8) == 0);

    /* The encoder refuses what the decoder would, with the same error. */
    fogpay_intent bad = sample_intent();
    bad.amount_minor = 0;
    CU_ASSERT_EQUAL(fogpay_intent_encode(&bad, buf, sizeof buf, &len), FOGPAY_ERR_AMOUNT_ZERO);
    bad = sample_intent();
    bad.payee_account = 9;
    CU_ASSERT_EQUAL(fogpay_intent_encode(&bad, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    bad = sample_intent();
    bad.device_id[3] = '/';
    CU_ASSERT_EQUAL(fogpay_intent_encode(&bad, buf, sizeof buf, &len), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_intent_encode(&in, buf, 10, &len), FOGPAY_ERR_BUFFER_TOO_SMALL);
}

static fogpay_receipt sample_settled_receipt(void)
{
    fogpay_receipt r;
    memset(&r, 0, sizeof r);
    strcpy(r.device_id, "meter-07");
    r.seq = 42;
    r.kind = FOGPAY_RECEIPT_INTENT;
    r.status = FOGPAY_STATUS_SETTLED;
    r.transfer_id = 7;
    r.position = 7;
    memset(r.chain_hash, 0xa5, sizeof r.chain_hash);
    r.has_balance = true;
    r.balance_after_minor = 0;
    r.currency = 978;
    strcpy(r.gateway_id, "gw-1");
    r.time_s = 1764000001;
    memset(r.intent_hash, 0x5a, sizeof r.intent_hash);
    return r;
}

/* A settled receipt always carries its balance, and 0 is a balance: it is
 * sent as key 7 = 0 and read back as present. Without a balance, or with
 * one on a rejection, the encoder refuses as the decoder does. */
static void test_receipt_balance(void)
{
    fogpay_receipt r = sample_settled_receipt();
    uint8_t buf[FOGPAY_MESSAGE_MAX];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_receipt_encode(&r, buf, sizeof buf, &len), FOGPAY_OK);
    static const uint8_t balance_zero[] = {0x06, 0x07, 0x07, 0x00, 0x08}; /* 6: 7, 7: 0, 8 */
    bool found = false;
    for (size_t i = 0; i + sizeof balance_zero <= len; i++) {
        found = found || memcmp(buf + i, balance_zero, sizeof balance_zero) == 0;
    }
    CU_ASSERT(found);
    fogpay_receipt out;
    CU_ASSERT_EQUAL_FATAL(fogpay_receipt_decode(buf, len, &out), FOGPAY_OK);
    CU_ASSERT(out.has_balance);
    CU_ASSERT_EQUAL(out.balance_after_minor, 0);
    CU_ASSERT_EQUAL(out.currency, 978);

    fogpay_receipt bad = sample_settled_receipt();
    bad.has_balance = false;
    bad.currency = 0;
    CU_ASSERT_EQUAL(fogpay_receipt_encode(&bad, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    bad = sample_settled_receipt();
    bad.status = FOGPAY_STATUS_REJECTED;
    bad.reason = FOGPAY_ERR_INSUFFICIENT_FUNDS;
    bad.transfer_id = 0;
    bad.position = 0;
    memset(bad.chain_hash, 0, sizeof bad.chain_hash);
    CU_ASSERT_EQUAL(fogpay_receipt_encode(&bad, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    bad.has_balance = false;
    bad.currency = 0;
    CU_ASSERT_EQUAL(fogpay_receipt_encode(&bad, buf, sizeof buf, &len), FOGPAY_OK);
}

/* The same signed intent sent untagged is another message: its payload and
 * signature are the same and both forms verify, but the intent hash (the
 * SHA-256 of the bytes as sent) differs, so the ledger holds (device, seq)
 * under one hash and answers the other form with seq_conflict. */
static void test_untagged_is_another_message(void)
{
    fogpay_key *key;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    fogpay_intent in = sample_intent();
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t payload_len, msg_len;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&in, payload, sizeof payload, &payload_len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(key, NULL, 0, payload, payload_len, NULL, 0, msg,
                                                 sizeof msg, &msg_len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(msg[0], 0xd2); /* tag 18, COSE_Sign1 */
    const uint8_t *untagged = msg + 1;
    size_t untagged_len = msg_len - 1;
    fogpay_cose_sign1 tagged_msg, untagged_msg;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(msg, msg_len, &tagged_msg), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(untagged, untagged_len, &untagged_msg),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&tagged_msg, key, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&untagged_msg, key, NULL, 0), FOGPAY_OK);
    CU_ASSERT(untagged_msg.payload.len == payload_len &&
              memcmp(untagged_msg.payload.ptr, payload, payload_len) == 0);
    uint8_t tagged_hash[FOGPAY_HASH_BYTES], untagged_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_sha256(msg, msg_len, tagged_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_sha256(untagged, untagged_len, untagged_hash), FOGPAY_OK);
    CU_ASSERT(memcmp(tagged_hash, untagged_hash, FOGPAY_HASH_BYTES) != 0);
    fogpay_key_free(key);
}

/* A signed intent between devices with 8-character ids, a seq and an
 * amount under 65536 and no reference fits the 128-byte wire target. */
static void test_intent_size(void)
{
    fogpay_key *key;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    fogpay_intent in = sample_intent();
    in.seq = 65535;
    in.amount_minor = 65535;
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t payload_len, msg_len;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&in, payload, sizeof payload, &payload_len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(key, NULL, 0, payload, payload_len, NULL, 0, msg,
                                                 sizeof msg, &msg_len),
                          FOGPAY_OK);
    printf("\n  signed intent: %zu bytes (payload %zu) ", msg_len, payload_len);
    CU_ASSERT(msg_len <= FOGPAY_INTENT_TARGET_BYTES);
    CU_ASSERT_EQUAL(msg_len, payload_len + FOGPAY_COSE_OVERHEAD);
    fogpay_key_free(key);
}

/* Every truncation and every single-bit flip of a signed intent is either
 * refused with a specific error or, where the flip leaves a well-formed
 * message, caught by the signature. Run under the sanitizers too. */
static void test_damage(void)
{
    fogpay_key *key;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    fogpay_intent in = sample_intent();
    uint8_t payload[FOGPAY_MESSAGE_MAX], msg[FOGPAY_MESSAGE_MAX];
    size_t payload_len, msg_len;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&in, payload, sizeof payload, &payload_len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(key, NULL, 0, payload, payload_len, NULL, 0, msg,
                                                 sizeof msg, &msg_len),
                          FOGPAY_OK);
    for (size_t cut = 0; cut < msg_len; cut++) {
        uint8_t *copy = malloc(cut + 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, msg, cut);
        fogpay_cose_sign1 parsed;
        fogpay_error err = fogpay_cose_sign1_parse(copy, cut, &parsed);
        CU_ASSERT(err == FOGPAY_ERR_CBOR_TRUNCATED);
        free(copy);
    }
    for (size_t cut = 0; cut < payload_len; cut++) {
        fogpay_intent out;
        CU_ASSERT_EQUAL(fogpay_intent_decode(payload, cut, &out),
                        cut == 0 ? FOGPAY_ERR_CBOR_TRUNCATED : FOGPAY_ERR_CBOR_TRUNCATED);
    }
    int accepted = 0;
    for (size_t bit = 0; bit < msg_len * 8; bit++) {
        uint8_t copy[FOGPAY_MESSAGE_MAX];
        memcpy(copy, msg, msg_len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fogpay_cose_sign1 parsed;
        fogpay_error err = fogpay_cose_sign1_parse(copy, msg_len, &parsed);
        if (err == FOGPAY_OK) {
            err = fogpay_cose_sign1_verify(&parsed, key, NULL, 0);
        }
        if (err == FOGPAY_OK) {
            fogpay_intent out;
            err = fogpay_intent_decode(parsed.payload.ptr, parsed.payload.len, &out);
            accepted += err == FOGPAY_OK;
        }
        CU_ASSERT_NOT_EQUAL(err, FOGPAY_OK);
        CU_ASSERT(err != FOGPAY_ERR_INVALID_ARGUMENT);
    }
    CU_ASSERT_EQUAL(accepted, 0);

    /* Wrong types where the envelope's items belong. */
    static const char *envelopes[] = {
        "d2830102",             /* three items */
        "d28401a0f640",         /* protected header is an integer */
        "d28443a10127a0f640",   /* detached (nil) payload */
        "d3844043a10127a04040", /* tag 19 */
        "a10102",               /* a map */
    };
    static const fogpay_error want[] = {FOGPAY_ERR_COSE_STRUCTURE, FOGPAY_ERR_COSE_STRUCTURE,
                                        FOGPAY_ERR_COSE_STRUCTURE, FOGPAY_ERR_COSE_TAG,
                                        FOGPAY_ERR_COSE_STRUCTURE};
    for (size_t i = 0; i < sizeof envelopes / sizeof envelopes[0]; i++) {
        size_t len;
        uint8_t *bytes = testutil_hex(envelopes[i], &len);
        fogpay_cose_sign1 parsed;
        fogpay_error err = fogpay_cose_sign1_parse(bytes, len, &parsed);
        if (err != want[i]) {
            printf("\n  %s: %s\n", envelopes[i], fogpay_error_name(err));
        }
        CU_ASSERT_EQUAL(err, want[i]);
        free(bytes);
    }

    /* A valid intent wrapped in deep nesting is refused, not recursed into. */
    uint8_t deep[FOGPAY_MESSAGE_MAX];
    size_t depth = sizeof deep - payload_len;
    memset(deep, 0x81, depth);
    memcpy(deep + depth, payload, payload_len);
    fogpay_intent out;
    CU_ASSERT_EQUAL(fogpay_intent_decode(deep, sizeof deep, &out), FOGPAY_ERR_CBOR_TYPE);
    CU_ASSERT_EQUAL(fogpay_intent_decode(deep, sizeof deep + 1, &out),
                    FOGPAY_ERR_PAYLOAD_TOO_LARGE);
    fogpay_key_free(key);
}

static fogpay_transfer sample_transfer(uint64_t position)
{
    fogpay_transfer t;
    memset(&t, 0, sizeof t);
    t.position = position;
    t.kind = FOGPAY_TRANSFER_PAYMENT;
    t.debit_account = 3;
    t.credit_account = 5;
    t.amount_minor = 100 + position;
    t.currency = 978;
    t.time_ms = 1764000000000ull + position;
    strcpy(t.device_id, "meter-07");
    t.seq = position;
    strcpy(t.payer_entity, "le-0011223344556677");
    memset(t.intent_hash, 0xab, sizeof t.intent_hash);
    return t;
}

static void test_batch(void)
{
    fogpay_batch_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.gateway_id, "gw-1");
    h.batch_seq = 3;
    h.first_position = 11;
    h.last_position = 20;
    h.record_count = 10;
    memset(h.hash_before, 1, sizeof h.hash_before);
    memset(h.hash_after, 2, sizeof h.hash_after);
    h.created_ms = 1764000000000ull;
    size_t cap = 8192;
    uint8_t *buf = malloc(cap);
    fogpay_batch_writer bw;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&bw, &h, buf, cap), FOGPAY_OK);
    for (uint64_t p = 11; p <= 20; p++) {
        fogpay_transfer t = sample_transfer(p);
        CU_ASSERT_EQUAL(fogpay_batch_add(&bw, &t), FOGPAY_OK);
    }
    fogpay_transfer extra = sample_transfer(21);
    CU_ASSERT_EQUAL(fogpay_batch_add(&bw, &extra), FOGPAY_ERR_CBOR_TOO_LONG);
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_finish(&bw, &len), FOGPAY_OK);

    fogpay_batch_reader br;
    fogpay_batch_header got;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_open(&br, buf, len, &got), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(got.gateway_id, "gw-1");
    CU_ASSERT_EQUAL(got.record_count, 10);
    CU_ASSERT(memcmp(got.hash_after, h.hash_after, 32) == 0);
    uint64_t expect = 11;
    fogpay_transfer t;
    fogpay_bytes record;
    fogpay_error err;
    while ((err = fogpay_batch_next(&br, &t, &record)) == FOGPAY_OK) {
        CU_ASSERT_EQUAL(t.position, expect);
        uint8_t again[FOGPAY_RECORD_BYTES_MAX];
        size_t again_len;
        fogpay_transfer want = sample_transfer(expect);
        CU_ASSERT_EQUAL(fogpay_transfer_encode(&want, again, sizeof again, &again_len), FOGPAY_OK);
        CU_ASSERT(again_len == record.len && memcmp(again, record.ptr, record.len) == 0);
        expect++;
    }
    CU_ASSERT_EQUAL(err, FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(expect, 21);

    /* Truncated batches never yield a record past the cut. */
    for (size_t cut = 0; cut < len; cut += 7) {
        fogpay_batch_reader cr;
        if (fogpay_batch_open(&cr, buf, cut, &got) != FOGPAY_OK) {
            continue;
        }
        while ((err = fogpay_batch_next(&cr, &t, &record)) == FOGPAY_OK) {
            CU_ASSERT(record.ptr + record.len <= buf + cut);
        }
        CU_ASSERT_NOT_EQUAL(err, FOGPAY_ERR_NOT_FOUND);
    }

    /* A header whose count disagrees with its positions. */
    h.record_count = 9;
    CU_ASSERT_EQUAL(fogpay_batch_begin(&bw, &h, buf, cap), FOGPAY_ERR_FIELD_RANGE);
    free(buf);
}

static fogpay_event sample_event(uint64_t position, uint8_t kind)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.position = position;
    e.kind = kind;
    e.time_ms = 1764000000000ull + position;
    strcpy(e.device_id, "charger-1");
    switch (kind) {
    case FOGPAY_EVENT_REGISTERED:
        strcpy(e.entity_id, "le-00112233445566aa");
        break;
    case FOGPAY_EVENT_STATUS:
        e.status = 1;
        break;
    case FOGPAY_EVENT_OWNERSHIP:
        strcpy(e.entity_id, "le-00112233445566bb");
        e.role = 1;
        e.effective_ms = 1764000000000ull;
        break;
    default:
        e.seq = 7;
        strcpy(e.meter_id, "m-1");
        e.quantity = 12;
        strcpy(e.unit, "kWh");
        memset(e.usage_hash, 0x5a, sizeof e.usage_hash);
        break;
    }
    return e;
}

/* Events: each kind round-trips byte for byte; fields of another kind, or
 * missing ones of its own, are refused by both encoder and decoder. */
static void test_events(void)
{
    for (uint8_t kind = FOGPAY_EVENT_REGISTERED; kind <= FOGPAY_EVENT_USAGE; kind++) {
        fogpay_event e = sample_event(3, kind), back;
        uint8_t buf[FOGPAY_RECORD_BYTES_MAX], again[FOGPAY_RECORD_BYTES_MAX];
        size_t len = 0, again_len = 0;
        CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_event_decode(buf, len, &back), FOGPAY_OK);
        CU_ASSERT_EQUAL(memcmp(&e, &back, sizeof e), 0);
        CU_ASSERT_EQUAL(fogpay_event_encode(&back, again, sizeof again, &again_len), FOGPAY_OK);
        CU_ASSERT(len == again_len && memcmp(buf, again, len) == 0);
    }
    /* Zero values that mean something: an active status, an owner role, a
     * reading of nothing. */
    fogpay_event e = sample_event(1, FOGPAY_EVENT_STATUS);
    e.status = 0;
    uint8_t buf[FOGPAY_RECORD_BYTES_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_OK);
    e = sample_event(1, FOGPAY_EVENT_USAGE);
    e.quantity = 0;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_OK);

    e = sample_event(1, FOGPAY_EVENT_STATUS);
    strcpy(e.entity_id, "le-00112233445566aa");
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_REGISTERED);
    e.status = 2;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_REGISTERED);
    e.entity_id[0] = '\0';
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_OWNERSHIP);
    e.effective_ms = 0;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_USAGE);
    memset(e.usage_hash, 0, sizeof e.usage_hash);
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_STATUS);
    e.quantity = 5;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    e = sample_event(1, FOGPAY_EVENT_USAGE);
    e.kind = 4;
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    /* A decoder sees a role of 2 the same way: out of range. */
    e = sample_event(1, FOGPAY_EVENT_OWNERSHIP);
    CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_OK);
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == 0x0a && buf[i + 1] == 0x01) { /* key 10, role 1 */
            buf[i + 1] = 0x02;
        }
    }
    CU_ASSERT_EQUAL(fogpay_event_decode(buf, len, NULL), FOGPAY_ERR_FIELD_RANGE);
}

/* A batch of events is keyed 9, read only as events; a transfer batch only
 * as transfers; the ack names its stream. */
static void test_event_batch(void)
{
    fogpay_batch_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.gateway_id, "gw-1");
    h.batch_seq = 4;
    h.first_position = 5;
    h.last_position = 8;
    h.record_count = 4;
    h.stream = FOGPAY_STREAM_EVENTS;
    memset(h.hash_before, 1, sizeof h.hash_before);
    memset(h.hash_after, 2, sizeof h.hash_after);
    h.created_ms = 1764000000000ull;
    uint8_t buf[4096];
    fogpay_batch_writer bw;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&bw, &h, buf, sizeof buf), FOGPAY_OK);
    fogpay_transfer wrong = sample_transfer(5);
    CU_ASSERT_EQUAL(fogpay_batch_add(&bw, &wrong), FOGPAY_ERR_CBOR_TYPE);
    for (uint64_t p = 5; p <= 8; p++) {
        fogpay_event e = sample_event(p, (uint8_t)(p % 4));
        CU_ASSERT_EQUAL(fogpay_batch_add_event(&bw, &e), FOGPAY_OK);
    }
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_finish(&bw, &len), FOGPAY_OK);

    fogpay_batch_reader br;
    fogpay_batch_header got;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_open(&br, buf, len, &got), FOGPAY_OK);
    CU_ASSERT_EQUAL(got.stream, FOGPAY_STREAM_EVENTS);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_batch_next(&br, &t, NULL), FOGPAY_ERR_CBOR_TYPE);
    fogpay_event e;
    uint64_t expect = 5;
    fogpay_error err;
    while ((err = fogpay_batch_next_event(&br, &e, NULL)) == FOGPAY_OK) {
        CU_ASSERT_EQUAL(e.position, expect);
        CU_ASSERT_EQUAL(e.kind, expect % 4);
        expect++;
    }
    CU_ASSERT_EQUAL(err, FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(expect, 9);

    /* The same header as transfers: key 8, and events are refused. */
    h.stream = FOGPAY_STREAM_TRANSFERS;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_begin(&bw, &h, buf, sizeof buf), FOGPAY_OK);
    fogpay_event ev = sample_event(5, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(fogpay_batch_add_event(&bw, &ev), FOGPAY_ERR_CBOR_TYPE);

    fogpay_batch_ack ack, back;
    memset(&ack, 0, sizeof ack);
    strcpy(ack.gateway_id, "gw-1");
    ack.batch_seq = 4;
    ack.status = FOGPAY_ACK_STORED;
    ack.stored_position = 8;
    memset(ack.stored_hash, 2, sizeof ack.stored_hash);
    ack.stream = FOGPAY_STREAM_EVENTS;
    uint8_t abuf[FOGPAY_MESSAGE_MAX];
    size_t alen = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_ack_encode(&ack, abuf, sizeof abuf, &alen), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_ack_decode(abuf, alen, &back), FOGPAY_OK);
    CU_ASSERT_EQUAL(back.stream, FOGPAY_STREAM_EVENTS);
    ack.stream = FOGPAY_STREAM_TRANSFERS;
    size_t plain_len = 0;
    CU_ASSERT_EQUAL(fogpay_batch_ack_encode(&ack, abuf, sizeof abuf, &plain_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(plain_len + 2, alen); /* key 8 absent for transfers */
    ack.stream = FOGPAY_STREAM_NOTES;
    CU_ASSERT_EQUAL(fogpay_batch_ack_encode(&ack, abuf, sizeof abuf, &alen), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_batch_ack_decode(abuf, alen, &back), FOGPAY_OK);
    CU_ASSERT_EQUAL(back.stream, FOGPAY_STREAM_NOTES);
    ack.stream = 3;
    CU_ASSERT_EQUAL(fogpay_batch_ack_encode(&ack, abuf, sizeof abuf, &plain_len),
                    FOGPAY_ERR_FIELD_RANGE);
}

static void test_peek_seq(void)
{
    fogpay_intent in = sample_intent();
    uint8_t buf[FOGPAY_MESSAGE_MAX];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_intent_encode(&in, buf, sizeof buf, &len), FOGPAY_OK);
    buf[len - 1] ^= 0xff; /* still a map; seq readable */
    uint64_t seq = 0;
    CU_ASSERT_EQUAL(fogpay_message_peek_seq(buf, len, &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 42);
    CU_ASSERT_EQUAL(fogpay_message_peek_seq(buf, 3, &seq), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_message_peek_seq((const uint8_t *)"\x82\x01\x02", 3, &seq),
                    FOGPAY_ERR_NOT_FOUND);
}

static void test_amounts(void)
{
    static const struct {
        const char *text;
        int exponent;
        fogpay_error err;
        uint64_t minor;
    } cases[] = {
        {"1.50", 2, FOGPAY_OK, 150},
        {"12", 2, FOGPAY_OK, 1200},
        {"0.07", 2, FOGPAY_OK, 7},
        {"0.1", 2, FOGPAY_OK, 10},
        {"500", 0, FOGPAY_OK, 500},
        {"1.234", 3, FOGPAY_OK, 1234},
        {"10000000000.00", 2, FOGPAY_OK, 1000000000000ull},
        {"10000000000.01", 2, FOGPAY_ERR_FIELD_RANGE, 0},
        {"1.505", 2, FOGPAY_ERR_FIELD_RANGE, 0},
        {"1.5", 0, FOGPAY_ERR_FIELD_RANGE, 0},
        {"-1", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"+1", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"1e3", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"1,50", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {".5", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"1.", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"1..5", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"", 2, FOGPAY_ERR_TEXT_INVALID, 0},
        {"99999999999999999999999", 2, FOGPAY_ERR_FIELD_RANGE, 0},
        {"18446744073709551616", 2, FOGPAY_ERR_FIELD_RANGE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t minor = 0;
        fogpay_error err = fogpay_amount_parse(cases[i].text, cases[i].exponent, &minor);
        if (err != cases[i].err) {
            printf("\n  \"%s\": %s\n", cases[i].text, fogpay_error_name(err));
        }
        CU_ASSERT_EQUAL(err, cases[i].err);
        if (err == FOGPAY_OK) {
            CU_ASSERT_EQUAL(minor, cases[i].minor);
        }
    }
    char text[32];
    fogpay_amount_format(150, 2, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "1.50");
    fogpay_amount_format(-7, 2, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "-0.07");
    fogpay_amount_format(500, 0, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "500");
    fogpay_amount_format(INT64_MIN, 2, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "-92233720368547758.08");

    uint16_t numeric;
    int exponent;
    CU_ASSERT(fogpay_currency_from_code("EUR", &numeric, &exponent));
    CU_ASSERT_EQUAL(numeric, 978);
    CU_ASSERT_EQUAL(exponent, 2);
    CU_ASSERT(fogpay_currency_from_code("JPY", &numeric, &exponent));
    CU_ASSERT_EQUAL(exponent, 0);
    CU_ASSERT(!fogpay_currency_from_code("XXX", &numeric, &exponent));
    CU_ASSERT(!fogpay_currency_from_code("eur", &numeric, &exponent));
    CU_ASSERT_STRING_EQUAL(fogpay_currency_code(840, &exponent), "USD");
    CU_ASSERT_PTR_NULL(fogpay_currency_code(999, &exponent));
}

/* The largest transfer, every optional field at its longest and every leg
 * at its largest, fits a record; legs decode back, a leg from an account
 * to itself or one too many is refused. */
static void test_transfer_legs(void)
{
    fogpay_transfer t;
    memset(&t, 0, sizeof t);
    t.position = FOGPAY_STORED_INT_MAX;
    t.kind = FOGPAY_TRANSFER_REFUND;
    t.related_position = FOGPAY_STORED_INT_MAX - 1;
    t.debit_account = FOGPAY_STORED_INT_MAX;
    t.credit_account = FOGPAY_STORED_INT_MAX - 1;
    t.amount_minor = FOGPAY_AMOUNT_MAX_MINOR;
    t.currency = 999;
    t.time_ms = 0x7fffffffffffull;
    memset(t.device_id, 'd', FOGPAY_DEVICE_ID_MAX);
    t.seq = FOGPAY_STORED_INT_MAX;
    memset(t.payer_entity, 'p', FOGPAY_ENTITY_ID_MAX);
    memset(t.payee_entity, 'q', FOGPAY_ENTITY_ID_MAX);
    memset(t.intent_hash, 0xab, sizeof t.intent_hash);
    memset(t.reference, 'r', FOGPAY_REFERENCE_MAX);
    t.leg_count = FOGPAY_LEGS_MAX - 1;
    for (int i = 0; i < FOGPAY_LEGS_MAX - 1; i++) {
        t.legs[i] = (fogpay_leg){FOGPAY_STORED_INT_MAX, FOGPAY_STORED_INT_MAX - 2 - (uint64_t)i,
                                 FOGPAY_AMOUNT_MAX_MINOR};
    }
    uint8_t buf[FOGPAY_RECORD_BYTES_MAX + 64];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, buf, sizeof buf, &len), FOGPAY_OK);
    CU_ASSERT(len <= FOGPAY_RECORD_BYTES_MAX);
    fogpay_transfer back;
    CU_ASSERT_EQUAL(fogpay_transfer_decode(buf, len, &back), FOGPAY_OK);
    CU_ASSERT_EQUAL(back.leg_count, FOGPAY_LEGS_MAX - 1);
    CU_ASSERT_EQUAL(fogpay_transfer_total(&back), FOGPAY_LEGS_MAX * FOGPAY_AMOUNT_MAX_MINOR);
    t.legs[0].credit_account = t.legs[0].debit_account;
    CU_ASSERT_EQUAL(fogpay_transfer_encode(&t, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
    t.legs[0].credit_account = 7;
    t.leg_count = FOGPAY_LEGS_MAX;
    CU_ASSERT_NOT_EQUAL(fogpay_transfer_encode(&t, buf, sizeof buf, &len), FOGPAY_OK);
}

/* The largest plan version, every text at its longest, a usage price of
 * the longest and every payee it may name, fits a record; its payees
 * decode back in order. */
static void test_plan_event_largest(void)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.position = FOGPAY_STORED_INT_MAX;
    e.kind = FOGPAY_EVENT_PLAN;
    e.time_ms = 0x7fffffffffffull;
    e.effective_ms = 0x7fffffffffffull;
    memset(e.device_id, 'd', FOGPAY_DEVICE_ID_MAX);
    memset(e.meter_id, 'm', FOGPAY_METER_ID_MAX);
    memset(e.entity_id, 'e', FOGPAY_ENTITY_ID_MAX);
    snprintf(e.price, sizeof e.price, "9223372036854775807/9223372036854775807");
    e.currency = 999;
    memset(e.plan_id, 'p', FOGPAY_PLAN_ID_MAX);
    e.principal_minor = FOGPAY_AMOUNT_MAX_MINOR;
    e.plan_schedule_count = 1;
    e.plan_schedule[0] = FOGPAY_PLAN_RATE_BP_MAX;
    e.plan_schedule[1] = FOGPAY_PLAN_INSTALMENTS_MAX;
    e.plan_schedule[2] = FOGPAY_PLAN_PERIOD_MS_MAX;
    e.plan_terms_count = 1;
    e.plan_terms[0] = FOGPAY_PLAN_PERIOD_MS_MAX;
    e.plan_terms[1] = 1;
    e.plan_terms[2] = 1;
    e.plan_payee_count = FOGPAY_PLAN_PAYEES_MAX;
    for (int i = 0; i < FOGPAY_PLAN_PAYEES_MAX; i++) {
        memset(e.plan_payees[i], 'a' + i, FOGPAY_PLAN_PAYEE_ID_MAX);
    }
    uint8_t buf[FOGPAY_RECORD_BYTES_MAX + 64];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_OK);
    CU_ASSERT(len <= FOGPAY_RECORD_BYTES_MAX);
    fogpay_event back;
    CU_ASSERT_EQUAL_FATAL(fogpay_event_decode(buf, len, &back), FOGPAY_OK);
    CU_ASSERT_EQUAL(back.plan_payee_count, FOGPAY_PLAN_PAYEES_MAX);
    CU_ASSERT_STRING_EQUAL(back.plan_payees[5], e.plan_payees[5]);
    e.plan_terms[1] = 0; /* payees without the limit */
    CU_ASSERT_EQUAL(fogpay_event_encode(&e, buf, sizeof buf, &len), FOGPAY_ERR_FIELD_RANGE);
}

/* Every error value has a distinct name and a sentence; reasons are the
 * malformed and policy groups only. */
static void test_errors(void)
{
    int named = 0;
    for (int e = 0; e < 200; e++) {
        const char *name = fogpay_error_name((fogpay_error)e);
        if (strcmp(name, "unknown_error") == 0) {
            continue;
        }
        named++;
        CU_ASSERT(strlen(fogpay_error_string((fogpay_error)e)) > 4);
        for (int f = 0; f < e; f++) {
            CU_ASSERT(strcmp(name, fogpay_error_name((fogpay_error)f)) != 0);
        }
        CU_ASSERT_EQUAL(fogpay_error_is_reason((fogpay_error)e) != 0,
                        (e >= 1 && e < 60) || (e >= 100 && e < 200));
    }
    CU_ASSERT_EQUAL(named, 139);
    CU_ASSERT(fogpay_error_is_transient(FOGPAY_ERR_TOO_MANY_PENDING));
    CU_ASSERT(fogpay_error_is_transient(FOGPAY_ERR_CHAIN_GAP));
    CU_ASSERT(!fogpay_error_is_transient(FOGPAY_ERR_CHAIN_FORK));
    CU_ASSERT(!fogpay_error_is_transient(FOGPAY_ERR_INSUFFICIENT_FUNDS));
    CU_ASSERT_STRING_EQUAL(fogpay_error_name(FOGPAY_ERR_INSUFFICIENT_FUNDS), "insufficient_funds");
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("message", NULL, NULL);
    CU_add_test(s, "schemas/vectors/payloads.json", test_vectors);
    CU_add_test(s, "the largest plan version fits a record", test_plan_event_largest);
    CU_add_test(s, "intent fields and encoder checks", test_intent_fields);
    CU_add_test(s, "a settled receipt's balance, 0 included", test_receipt_balance);
    CU_add_test(s, "untagged and tagged are two messages", test_untagged_is_another_message);
    CU_add_test(s, "signed intent size", test_intent_size);
    CU_add_test(s, "truncation, bit flips, wrong types, nesting", test_damage);
    CU_add_test(s, "batch write and read", test_batch);
    CU_add_test(s, "events of each kind", test_events);
    CU_add_test(s, "event batches and the ack's stream", test_event_batch);
    CU_add_test(s, "seq of an undecodable message", test_peek_seq);
    CU_add_test(s, "exact amounts and currencies", test_amounts);
    CU_add_test(s, "error names", test_errors);
    CU_add_test(s, "transfer legs", test_transfer_legs);
    return testutil_run();
}
