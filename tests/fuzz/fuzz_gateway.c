/*
 * fuzz_gateway.c - libFuzzer target for the whole gateway: every input is a
 * short session of messages delivered to the real plugin, loaded by the
 * broker harness (gateway_harness.h) on a scratch ledger, followed by the
 * broker's tick that commits the group.
 *
 * An input is a sequence of messages, each `head who len body[len]` (len
 * 255: the rest of the input). head's low three bits pick what is sent:
 *   0 body as the raw payload          4 an operator command built from body
 *   1 body signed as the payload        5 a cloud ack built from body, signed
 *   2 an intent built from body, signed 6 body signed by the cloud as an ack
 *   3 a usage reading built, signed     7 the broker's tick
 * head bits 3-5 pick the topic (the sender's intent or usage topic, another
 * device's intent topic, the ack topic, the sender's receipt topic, a topic
 * taken from body, the intent topic with MQTT 5 response topic and
 * correlation data, an unregistered device's topic); bit 6 signs with
 * another key (another device's, or the rotated device's retired key);
 * bit 7 sends as a client that is no device (or no operator). who's low
 * bits pick the sending device, the next two another device. Intents and
 * readings built from body take a one-byte seq relative to the session's
 * own range (SESSION_SEQS), or an eight-byte seq as it is.
 *
 * After each input, with the group committed:
 *   - the ledger verifies (fogpay_ledger_verify), and, read with a
 *     connection of its own, every currency's balances sum to zero and no
 *     wallet is below zero;
 *   - nothing was published while the group transaction was open;
 *   - every receipt verifies with the gateway key, names the device of its
 *     topic and answers a message sent to it (its intent hash), of the
 *     receipt's kind; a settled or stored one answers a message signed with
 *     that device's current key, and a settled one names its transfer in
 *     the chain (the device, seq and intent hash there, and the chain hash);
 *     a rejection carries a reason of the reason groups;
 *   - every message of a registered device on its own intent or usage topic
 *     got exactly one receipt there, and no other message got any;
 *   - without operator commands, the chain grew by exactly the transfers
 *     the settled receipts name: no money moves unreceipted;
 *   - device commands and upstream batches verify with the gateway key;
 *     control replies are JSON with responses.
 * A broken property aborts. The ledger is reused across inputs and
 * replaced by a fresh copy when a chain grows past HARNESS_CHAIN_MAX or a
 * session left a device suspended or revoked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sqlite3.h>

#include "fogpay_clock.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_message.h"
#include "fogpay_topic.h"
#include "gateway_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX "fogpay/v1"
/* Messages of one input past this are not sent: a session, not a flood. */
#define SESSION_MESSAGES_MAX 64
/* A one-byte seq picks one of the session's own SESSION_SEQS numbers, so
 * that sessions do not use up the seqs of later ones (which would make
 * every later intent a conflict); an eight-byte seq is taken as it is. */
#define SESSION_SEQS 256

enum {
    MODE_RAW,
    MODE_SIGNED,
    MODE_INTENT,
    MODE_USAGE,
    MODE_CONTROL,
    MODE_ACK,
    MODE_ACK_RAW,
    MODE_TICK
};
enum {
    TOPIC_INTENT,
    TOPIC_USAGE,
    TOPIC_OTHER_INTENT,
    TOPIC_ACK,
    TOPIC_RECEIPT,
    TOPIC_RAW,
    TOPIC_INTENT_MQTT5,
    TOPIC_UNKNOWN_DEVICE,
};

/* The fuzz input, read front to back; past its end every byte is 0. */
typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t read_u8(reader *r)
{
    if (r->n == 0) {
        return 0;
    }
    r->n--;
    return *r->p++;
}

static uint64_t read_be(reader *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | read_u8(r);
    }
    return v;
}

static void read_bytes(reader *r, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[i] = read_u8(r);
    }
}

/* A message of this input, as sent, and what it was answered with. */
typedef struct sent_message {
    char owner[FOGPAY_TOPIC_ID_MAX + 1]; /* the device of the topic */
    uint8_t kind;                        /* fogpay_receipt_kind by topic */
    uint8_t hash[FOGPAY_HASH_BYTES];
    bool device_message; /* a registered device's, from it, on its own topic */
    bool authentic;      /* signed with the owner's current key */
    uint32_t receipts;
} sent_message;

typedef struct session {
    harness *h;
    sent_message sent[SESSION_MESSAGES_MAX];
    size_t sent_count;
    bool operator_commands;
    uint64_t now_s;
    uint64_t seq_base; /* small seqs are counted from here: fresh in each session */
    uint64_t dropped;  /* device messages the plugin dropped unanswered by design */
} session;

static harness *gateway;
static sqlite3 *observer; /* the ledger read by a connection of its own */

/* Messages sent, receipts seen by fogpay_receipt_status, and ledger
 * resets: printed at exit when FUZZ_GATEWAY_STATS is set, to see how deep
 * the inputs reach. */
static uint64_t messages_sent;
static uint64_t receipts_seen[3];
static uint64_t resets;

static void stats_print(void)
{
    fprintf(stderr,
            "fuzz_gateway: %llu messages; receipts settled %llu, rejected %llu, stored %llu; %llu "
            "resets\n",
            (unsigned long long)messages_sent,
            (unsigned long long)receipts_seen[FOGPAY_STATUS_SETTLED],
            (unsigned long long)receipts_seen[FOGPAY_STATUS_REJECTED],
            (unsigned long long)receipts_seen[FOGPAY_STATUS_STORED], (unsigned long long)resets);
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_gateway: %s\n", what);
    abort();
}

static void observer_open(void)
{
    if (sqlite3_open_v2(gateway->db_path, &observer, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fail("cannot open the ledger to observe it");
    }
}

static bool is_registered(const char *id)
{
    for (int i = 0; i < HARNESS_DEVICES; i++) {
        if (strcmp(gateway->device_id[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static const fogpay_key *device_key_of(const char *id)
{
    for (int i = 0; i < HARNESS_DEVICES; i++) {
        if (strcmp(gateway->device_id[i], id) == 0) {
            return gateway->device_key[i];
        }
    }
    return NULL;
}

/* ---- Building what is sent --------------------------------------------- */

/* The fields intents and readings share: a flags byte (returned), the
 * device named (the sender, or the other device), a seq of the session's
 * range or of eight bytes; and a creation time skewed from now by seconds
 * or ten minutes a step. */
static uint8_t read_head(const session *s, reader *r, const char *device, const char *other,
                         char id[FOGPAY_DEVICE_ID_MAX + 1], uint64_t *seq)
{
    uint8_t flags = read_u8(r);
    snprintf(id, FOGPAY_DEVICE_ID_MAX + 1, "%s", flags & 0x40 ? other : device);
    *seq = flags & 1 ? read_be(r, 8) : s->seq_base + read_u8(r);
    return flags;
}

static uint64_t read_created(const session *s, reader *r, uint8_t flags)
{
    int8_t skew = (int8_t)read_u8(r);
    return (uint64_t)((int64_t)s->now_s + (flags & 0x20 ? 600 : 1) * (int64_t)skew);
}

/* An intent of device from body's fields; false when they do not encode. */
static bool build_intent(session *s, reader *r, const char *device, const char *other, uint8_t *out,
                         size_t *len)
{
    fogpay_intent in = {0};
    uint8_t flags = read_head(s, r, device, other, in.device_id, &in.seq);
    if (flags & 2) {
        in.payee_account = read_be(r, 2);
    } else {
        snprintf(in.payee_device, sizeof in.payee_device, "%s",
                 flags & 0x80 ? HARNESS_UNKNOWN_DEV : other);
    }
    in.amount_minor = flags & 4 ? read_be(r, 8) : read_be(r, 2);
    static const uint16_t currencies[] = {978, 840, 826};
    uint8_t c = (flags >> 3) & 3;
    in.currency = c < 3 ? currencies[c] : (uint16_t)read_be(r, 2);
    in.created_s = read_created(s, r, flags);
    in.ttl_s = (uint32_t)read_be(r, 2);
    size_t ref_len = read_u8(r) % (FOGPAY_REFERENCE_MAX + 1);
    for (size_t i = 0; i < ref_len; i++) {
        in.reference[i] = (char)('a' + read_u8(r) % 26);
    }
    read_bytes(r, in.prev_hash, sizeof in.prev_hash);
    return fogpay_intent_encode(&in, out, FOGPAY_MESSAGE_MAX, len) == FOGPAY_OK;
}

static bool build_usage(session *s, reader *r, const char *device, const char *other, uint8_t *out,
                        size_t *len)
{
    fogpay_usage u = {0};
    uint8_t flags = read_head(s, r, device, other, u.device_id, &u.seq);
    snprintf(u.meter_id, sizeof u.meter_id, "m-%u", read_u8(r) % 4u);
    u.quantity = flags & 4 ? read_be(r, 8) : read_be(r, 2);
    snprintf(u.unit, sizeof u.unit, "%s", flags & 8 ? "" : "kWh");
    u.created_s = read_created(s, r, flags);
    read_bytes(r, u.prev_hash, sizeof u.prev_hash);
    return fogpay_usage_encode(&u, out, FOGPAY_MESSAGE_MAX, len) == FOGPAY_OK;
}

/* A cloud ack for one of the two streams, with the ledger's own chain hash
 * at the position it names unless body asks for another. */
static bool build_ack(reader *r, uint8_t *out, size_t *len)
{
    fogpay_batch_ack a;
    memset(&a, 0, sizeof a);
    uint8_t flags = read_u8(r);
    snprintf(a.gateway_id, sizeof a.gateway_id, "%s",
             flags & 0x80 ? "gw-other" : HARNESS_GATEWAY_ID);
    a.stream = flags & 1;
    a.status = (flags >> 1) & 3;
    a.reason = a.status == FOGPAY_ACK_REFUSED ? (uint16_t)read_be(r, 2) : 0;
    a.batch_seq = read_u8(r);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES] = {0};
    if (a.stream == FOGPAY_STREAM_EVENTS) {
        fogpay_ledger_event_head(gateway->gw->ledger, &head, hash);
    } else {
        fogpay_ledger_chain_head(gateway->gw->ledger, &head, hash);
    }
    a.stored_position = read_u8(r) % (head + 2);
    if (flags & 0x40) {
        read_bytes(r, a.stored_hash, sizeof a.stored_hash);
    } else if (a.stored_position > 0 && a.stored_position <= head) {
        fogpay_error err = a.stream == FOGPAY_STREAM_EVENTS
                               ? fogpay_ledger_event_get(gateway->gw->ledger, a.stored_position,
                                                         &(fogpay_event){0}, a.stored_hash)
                               : fogpay_ledger_transfer_get(gateway->gw->ledger, a.stored_position,
                                                            &(fogpay_transfer){0}, a.stored_hash);
        if (err != FOGPAY_OK) {
            fail("the chain has no hash at a position below its head");
        }
    }
    if (a.status == FOGPAY_ACK_RESEND) {
        a.resend_from = read_u8(r) % (head + 2);
    }
    return fogpay_batch_ack_encode(&a, out, FOGPAY_MESSAGE_MAX, len) == FOGPAY_OK;
}

/* An operator request from body: one of the money- and status-changing
 * commands, or body itself as the JSON. */
static size_t build_control(reader *r, char *out, size_t cap)
{
    uint8_t op = read_u8(r);
    const char *device =
        op & 0x40 ? HARNESS_UNKNOWN_DEV : gateway->device_id[(op >> 4) & (HARNESS_DEVICES - 1)];
    const char *currency = op & 0x80 ? "USD" : "EUR";
    unsigned amount = (unsigned)read_be(r, 2);
    int n;
    switch (op & 7) {
    case 0:
        n = snprintf(out, cap,
                     "{\"commands\":[{\"command\":\"fundWallet\",\"device\":\"%s\","
                     "\"currency\":\"%s\",\"amount\":\"%u.%02u\"}]}",
                     device, currency, amount / 100, amount % 100);
        break;
    case 1:
        n = snprintf(out, cap, "{\"commands\":[{\"command\":\"%sDevice\",\"device\":\"%s\"}]}",
                     amount & 1 ? "suspend" : "resume", device);
        break;
    case 2:
        n = snprintf(out, cap,
                     "{\"commands\":[{\"command\":\"setLimits\",\"device\":\"%s\","
                     "\"currency\":\"%s\",\"perPayment\":\"%u.%02u\",\"walletMax\":\"%u.00\"}]}",
                     device, currency, amount / 100, amount % 100, read_u8(r) * 100u);
        break;
    case 3:
        n = snprintf(out, cap,
                     "{\"commands\":[{\"command\":\"refund\",\"id\":%u,\"amount\":\"%u.%02u\"}]}",
                     read_u8(r), amount / 100, amount % 100);
        break;
    case 4:
        n = snprintf(out, cap, "{\"commands\":[{\"command\":\"revokeDevice\",\"device\":\"%s\"}]}",
                     device);
        break;
    case 5:
        n = snprintf(
            out, cap,
            "{\"commands\":[{\"command\":\"verifyLedger\"},{\"command\":\"getSyncStatus\"},"
            "{\"command\":\"listTransfers\",\"device\":\"%s\",\"limit\":5}]}",
            device);
        break;
    default: {
        size_t len = r->n < cap ? r->n : cap;
        memcpy(out, r->p, len);
        r->p += len;
        r->n -= len;
        return len;
    }
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The topic of a device message, per head bits 3-5; raw topics come from
 * body (first byte its length). */
static void build_topic(reader *r, int kind, const char *device, const char *other, char *out,
                        size_t cap)
{
    fogpay_topic_kind t = kind == TOPIC_USAGE ? FOGPAY_TOPIC_USAGE : FOGPAY_TOPIC_INTENT;
    const char *id = device;
    switch (kind) {
    case TOPIC_OTHER_INTENT:
        id = other;
        break;
    case TOPIC_ACK:
        t = FOGPAY_TOPIC_ACK;
        id = HARNESS_GATEWAY_ID;
        break;
    case TOPIC_RECEIPT:
        t = FOGPAY_TOPIC_RECEIPT;
        break;
    case TOPIC_UNKNOWN_DEVICE:
        id = HARNESS_UNKNOWN_DEV;
        break;
    case TOPIC_RAW: {
        size_t len = read_u8(r) % cap;
        for (size_t i = 0; i < len; i++) {
            uint8_t c = read_u8(r);
            out[i] = (char)(c ? c : '/');
        }
        out[len] = '\0';
        return;
    }
    default:
        break;
    }
    if (fogpay_topic_build(PREFIX, t, id, NULL, out, cap) != FOGPAY_OK) {
        fail("cannot build a topic of the contract");
    }
}

/* MQTT 5 response topic (the device's own reply topic, its receipt topic,
 * another device's reply topic) and correlation data, per one body byte. */
static mosquitto_property *build_properties(reader *r, const char *device, const char *other)
{
    uint8_t flags = read_u8(r);
    char topic[FOGPAY_TOPIC_MAX];
    fogpay_topic_kind kind = flags & 1 ? FOGPAY_TOPIC_RECEIPT : FOGPAY_TOPIC_REPLY;
    const char *name = kind == FOGPAY_TOPIC_REPLY ? "r1" : NULL;
    if (fogpay_topic_build(PREFIX, kind, flags & 2 ? other : device, name, topic, sizeof topic) !=
        FOGPAY_OK) {
        fail("cannot build a response topic");
    }
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, topic);
    if (flags & 4) {
        uint8_t corr[8];
        read_bytes(r, corr, sizeof corr);
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, sizeof corr);
    }
    return props;
}

/* ---- Sending ------------------------------------------------------------ */

static void send_device_message(session *s, uint8_t head, uint8_t who, reader *body)
{
    harness *h = s->h;
    int mode = head & 7;
    int topic_kind = (head >> 3) & 7;
    const char *device = h->device_id[who & 3];
    const char *other = h->device_id[(who >> 2) & 3];
    bool stranger = head & 0x80;
    char topic[FOGPAY_TOPIC_MAX];
    mosquitto_property *props = NULL;
    if (mode == MODE_ACK || mode == MODE_ACK_RAW) {
        topic_kind = TOPIC_ACK;
    }
    build_topic(body, topic_kind, device, other, topic, sizeof topic);
    if (topic_kind == TOPIC_INTENT_MQTT5) {
        props = build_properties(body, device, other);
    }
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t payload_len = 0;
    bool built = false;
    if (mode == MODE_INTENT) {
        built = build_intent(s, body, device, other, payload, &payload_len);
    } else if (mode == MODE_USAGE) {
        built = build_usage(s, body, device, other, payload, &payload_len);
    } else if (mode == MODE_ACK) {
        built = build_ack(body, payload, &payload_len);
    }
    if (!built) { /* the body itself, raw or signed */
        payload_len = body->n < sizeof payload ? body->n : sizeof payload;
        memcpy(payload, body->p, payload_len);
    }
    uint8_t message[FOGPAY_MESSAGE_MAX + 256];
    const uint8_t *bytes = body->p;
    size_t len = body->n;
    const fogpay_key *key = NULL;
    const uint8_t *kid = NULL;
    if (mode == MODE_ACK || mode == MODE_ACK_RAW) {
        key = h->cloud_key;
        kid = h->cloud_kid;
    } else if (mode != MODE_RAW) {
        key = h->device_key[who & 3];
        if (head & 0x40) {
            key = (who & 3) == HARNESS_ROTATED_DEVICE && (who & 0x10)
                      ? h->retired_key
                      : h->device_key[(who >> 2) & 3];
        }
    }
    if (key) {
        if (fogpay_cose_sign1_sign(key, kid, kid ? FOGPAY_KID_BYTES : 0, payload, payload_len, NULL,
                                   0, message, sizeof message, &len) != FOGPAY_OK) {
            fail("cannot sign a message");
        }
        bytes = message;
    }
    struct mosquitto client = {stranger ? HARNESS_STRANGER : device, NULL};
    if (topic_kind == TOPIC_UNKNOWN_DEVICE) {
        client.id = HARNESS_UNKNOWN_DEV;
    }
    sent_message *m = &s->sent[s->sent_count++];
    memset(m, 0, sizeof *m);
    fogpay_topic_kind parsed = fogpay_topic_parse_id(PREFIX, topic, m->owner);
    m->kind = parsed == FOGPAY_TOPIC_USAGE  ? FOGPAY_RECEIPT_USAGE
              : parsed == FOGPAY_TOPIC_BIND ? FOGPAY_RECEIPT_BIND
                                            : FOGPAY_RECEIPT_INTENT;
    m->device_message = (parsed == FOGPAY_TOPIC_INTENT || parsed == FOGPAY_TOPIC_USAGE ||
                         parsed == FOGPAY_TOPIC_BIND) &&
                        is_registered(m->owner) && strcmp(client.id, m->owner) == 0;
    m->authentic = key != NULL && key == device_key_of(m->owner);
    fogpay_sha256(bytes, len, m->hash);
    int acl = 0;
    harness_message(h, &client, topic, bytes, len, props, &acl);
    mosquitto_property_free_all(&props);
}

static void send_control(session *s, uint8_t head, reader *body)
{
    char request[1024];
    size_t len = build_control(body, request, sizeof request);
    struct mosquitto client = {HARNESS_OPERATOR, head & 0x80 ? HARNESS_STRANGER : HARNESS_OPERATOR};
    s->operator_commands = true;
    harness_control(s->h, &client, request, len);
}

/* ---- Checking what was published ---------------------------------------- */

/* The device message that a receipt of owner's answers: the
 * first of owner's with this hash and kind not answered yet, as receipts
 * leave in arrival order. */
static sent_message *answered(session *s, const char *owner, const fogpay_receipt *r)
{
    for (size_t i = 0; i < s->sent_count; i++) {
        sent_message *m = &s->sent[i];
        if (m->device_message && m->receipts == 0 && m->kind == r->kind &&
            strcmp(m->owner, owner) == 0 &&
            memcmp(m->hash, r->intent_hash, FOGPAY_HASH_BYTES) == 0) {
            return m;
        }
    }
    return NULL;
}

/* Checks one receipt published for owner, on its receipt topic or, for a
 * message with an MQTT 5 response topic of the device's own, there
 * instead; counts it. Returns the position of a settled transfer, else 0. */
static uint64_t check_receipt(session *s, const harness_publish *p, const char *owner)
{
    fogpay_bytes payload;
    fogpay_receipt r;
    if (fogpay_cose_sign1_open(p->payload, p->len, s->h->gateway_public, s->h->gateway_kid,
                               &payload) != FOGPAY_OK ||
        fogpay_receipt_decode(payload.ptr, payload.len, &r) != FOGPAY_OK) {
        fail("a receipt does not verify with the gateway key");
    }
    if (strcmp(r.device_id, owner) != 0 || strcmp(r.gateway_id, HARNESS_GATEWAY_ID) != 0) {
        fail("a receipt names another device or gateway than its topic");
    }
    sent_message *m = answered(s, owner, &r);
    if (!m || strcmp(m->owner, owner) != 0 ||
        memcmp(m->hash, r.intent_hash, FOGPAY_HASH_BYTES) != 0 || m->kind != r.kind) {
        char hex[2 * FOGPAY_HASH_BYTES + 1];
        fogpay_hex_encode(r.intent_hash, FOGPAY_HASH_BYTES, hex);
        fprintf(stderr,
                "fuzz_gateway: receipt on %s: %s seq %llu kind %u status %u reason %s, intent %s\n",
                p->topic, r.device_id, (unsigned long long)r.seq, r.kind, r.status,
                fogpay_error_name((fogpay_error)r.reason), hex);
        for (size_t i = 0; i < s->sent_count; i++) {
            fogpay_hex_encode(s->sent[i].hash, FOGPAY_HASH_BYTES, hex);
            fprintf(stderr, "  sent %zu: %s kind %u device message %d receipts %u %s\n", i,
                    s->sent[i].owner, s->sent[i].kind, s->sent[i].device_message,
                    s->sent[i].receipts, hex);
        }
        fail("a receipt answers no message of its device sent in this session");
    }
    m->receipts++;
    receipts_seen[r.status < 3 ? r.status : FOGPAY_STATUS_REJECTED]++;
    if (r.status == FOGPAY_STATUS_REJECTED) {
        if (!fogpay_error_is_reason((fogpay_error)r.reason)) {
            fail("a rejection carries a reason outside the reason groups");
        }
        return 0;
    }
    if (!m->authentic) {
        fail("a message not signed with its device's current key was settled or stored");
    }
    if (r.status == FOGPAY_STATUS_STORED) {
        return 0;
    }
    fogpay_transfer t;
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (fogpay_ledger_transfer_get(s->h->gw->ledger, r.position, &t, hash) != FOGPAY_OK ||
        memcmp(hash, r.chain_hash, FOGPAY_HASH_BYTES) != 0 || strcmp(t.device_id, owner) != 0 ||
        t.seq != r.seq || memcmp(t.intent_hash, r.intent_hash, FOGPAY_HASH_BYTES) != 0 ||
        t.kind != (r.kind == FOGPAY_RECEIPT_USAGE ? FOGPAY_TRANSFER_USAGE_CHARGE
                                                  : FOGPAY_TRANSFER_PAYMENT)) {
        fail("a settled receipt names no transfer of its message in the chain");
    }
    return r.position;
}

static void check_signed_by_gateway(const harness_publish *p, fogpay_bytes *payload)
{
    if (fogpay_cose_sign1_open(p->payload, p->len, gateway->gateway_public, gateway->gateway_kid,
                               payload) != FOGPAY_OK) {
        fail("a command or batch does not verify with the gateway key");
    }
}

static void check_control_reply(const harness_publish *p)
{
    cJSON *reply = cJSON_ParseWithLength((const char *)p->payload, p->len);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "responses"))) {
        fail("a control reply is not JSON with responses");
    }
    cJSON_Delete(reply);
}

/* Checks everything published; returns how many new transfers the settled
 * receipts name (positions past head_before, each counted once). */
static uint64_t check_published(session *s, uint64_t head_before)
{
    harness *h = s->h;
    uint64_t highest = head_before;
    uint64_t new_positions = 0;
    for (size_t i = 0; i < h->published_count; i++) {
        const harness_publish *p = &h->published[i];
        if (p->in_transaction) {
            fail("a message left while the group transaction was open");
        }
        if (strcmp(p->topic, "$CONTROL/fogpay/v1/response") == 0) {
            check_control_reply(p);
            continue;
        }
        char owner[FOGPAY_TOPIC_ID_MAX + 1];
        fogpay_bytes payload;
        fogpay_command cmd;
        fogpay_batch_reader br;
        fogpay_batch_header header;
        uint64_t position = 0;
        switch (fogpay_topic_parse_id(PREFIX, p->topic, owner)) {
        case FOGPAY_TOPIC_RECEIPT:
            position = check_receipt(s, p, owner);
            break;
        case FOGPAY_TOPIC_REPLY:
            if (!p->client_id || strcmp(p->client_id, owner) != 0) {
                fail("a response went to another client than the device of its topic");
            }
            position = check_receipt(s, p, owner);
            break;
        case FOGPAY_TOPIC_COMMAND:
            check_signed_by_gateway(p, &payload);
            if (fogpay_command_decode(payload.ptr, payload.len, &cmd) != FOGPAY_OK ||
                strcmp(cmd.device_id, owner) != 0) {
                fail("a device command is malformed or names another device");
            }
            break;
        case FOGPAY_TOPIC_BATCH:
            check_signed_by_gateway(p, &payload);
            if (strcmp(owner, HARNESS_GATEWAY_ID) != 0 ||
                fogpay_batch_open(&br, payload.ptr, payload.len, &header) != FOGPAY_OK) {
                fail("an upstream batch is malformed or on another gateway's topic");
            }
            break;
        default:
            fail("the plugin published on a topic outside the contract");
        }
        if (position > highest) {
            new_positions += position - highest;
            highest = position;
        }
    }
    /* Each device message is answered once, except those the plugin drops
     * unanswered at admission by design (over a device's bounds): as many
     * as its counters say. */
    uint64_t unanswered = 0;
    for (size_t i = 0; i < s->sent_count; i++) {
        const sent_message *m = &s->sent[i];
        unanswered += m->device_message && m->receipts == 0;
        if (m->device_message ? m->receipts > 1 : m->receipts != 0) {
            fprintf(stderr,
                    "fuzz_gateway: message %zu of the session, on %s's %s topic: %u receipts\n", i,
                    m->owner,
                    m->kind == FOGPAY_RECEIPT_USAGE  ? "usage"
                    : m->kind == FOGPAY_RECEIPT_BIND ? "bind"
                                                     : "intent",
                    m->receipts);
            fail(
                "a device message got more than one receipt, or a message that is not one got one");
        }
    }
    if (unanswered != s->dropped) {
        fprintf(stderr, "fuzz_gateway: %llu device messages unanswered, %llu dropped by design\n",
                (unsigned long long)unanswered, (unsigned long long)s->dropped);
        fail("a device message got no receipt");
    }
    return new_positions;
}

/* ---- The ledger's invariants -------------------------------------------- */

static uint64_t observe_count(const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(observer, sql, -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW) {
        fprintf(stderr, "fuzz_gateway: %s: %s\n", sql, sqlite3_errmsg(observer));
        fail("cannot read the ledger");
    }
    uint64_t n = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static void check_ledger(fogpay_ledger *l)
{
    uint64_t checked = 0;
    uint64_t bad = 0;
    char problem[256] = "";
    if (fogpay_ledger_verify(l, &checked, &bad, problem, sizeof problem) != FOGPAY_OK) {
        fprintf(stderr, "fuzz_gateway: ledger verify: position %llu: %s\n", (unsigned long long)bad,
                problem);
        fail("the ledger does not verify");
    }
    if (observe_count("SELECT count(*) FROM (SELECT currency FROM accounts GROUP BY currency "
                      "HAVING sum(balance) != 0)") != 0) {
        fail("the balances of a currency do not sum to zero");
    }
    if (observe_count("SELECT count(*) FROM accounts WHERE kind = 'wallet' AND balance < 0") != 0) {
        fail("a wallet is below zero");
    }
}

static uint64_t chain_head(fogpay_ledger *l, bool events)
{
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_error err = events ? fogpay_ledger_event_head(l, &head, hash)
                              : fogpay_ledger_chain_head(l, &head, hash);
    if (err != FOGPAY_OK) {
        fail("cannot read a chain head");
    }
    return head;
}

/* ---- The session -------------------------------------------------------- */

static void run_session(session *s, reader *in)
{
    while (in->n > 0 && s->sent_count < SESSION_MESSAGES_MAX) {
        uint8_t head = read_u8(in);
        uint8_t who = read_u8(in);
        size_t len = read_u8(in);
        if (len == 255 || len > in->n) {
            len = in->n;
        }
        reader body = {in->p, len};
        in->p += len;
        in->n -= len;
        messages_sent++;
        switch (head & 7) {
        case MODE_CONTROL:
            send_control(s, head, &body);
            break;
        case MODE_TICK:
            harness_tick(s->h);
            break;
        default:
            send_device_message(s, head, who, &body);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!gateway) {
        gateway = harness_open();
        observer_open();
        if (getenv("FUZZ_GATEWAY_STATS")) {
            atexit(stats_print);
        }
    }
    static session s;
    memset(&s, 0, sizeof s);
    s.h = gateway;
    s.now_s = fogpay_clock_wall_ms() / 1000;
    static uint64_t sessions;
    s.seq_base = 1 + SESSION_SEQS * sessions++;
    uint64_t head_before = chain_head(gateway->gw->ledger, false);
    reader in = {data, size};
    uint64_t dropped_before = gateway->gw->dropped_total + gateway->gw->refused_busy_total;
    run_session(&s, &in);
    harness_drain(gateway);
    s.dropped = gateway->gw->dropped_total + gateway->gw->refused_busy_total - dropped_before;
    uint64_t settled = check_published(&s, head_before);
    harness_published_clear(gateway);
    fogpay_ledger *l = gateway->gw->ledger;
    uint64_t head_after = chain_head(l, false);
    if (!s.operator_commands && head_after - head_before != settled) {
        fail("the chain grew by other transfers than the settled receipts name");
    }
    check_ledger(l);
    /* A suspension or revocation would refuse every later session's
     * intents of that device: it lasts one session. */
    if (head_after > HARNESS_CHAIN_MAX || chain_head(l, true) > HARNESS_CHAIN_MAX ||
        observe_count("SELECT count(*) FROM devices WHERE status != 0") != 0) {
        sqlite3_close(observer);
        harness_reset(gateway);
        observer_open();
        resets++;
    }
    return 0;
}
