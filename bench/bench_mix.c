/*
 * bench_mix.c - the sessions of fogpay_bench's --mix phase (bench_mix.h):
 * a payer authorises MIX_HOLD_MINOR to its charger, binds its meter to the
 * charger's tariff and the hold, sends MIX_READINGS readings of MIX_DELTA
 * units each (one minor unit a unit: each charged from the hold), and its
 * charger captures MIX_CAPTURE_MINOR of what the hold has left, the rest
 * going back; then the next session. A payer's very first reading is its
 * meter's baseline (stored); a new binding keeps the last settled reading,
 * so later sessions charge every reading.
 *
 * Each device signs its messages in order, so its chain links: every
 * message's prev is the hash of the one the device signed before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_mix.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"

#define EUR 978
/* A session: the authorisation, the binding, the readings. */
#define MIX_READINGS      8
#define MIX_SESSION_MAX   (2 + MIX_READINGS)
#define MIX_DELTA         10
#define MIX_HOLD_MINOR    1000
#define MIX_CAPTURE_MINOR 20
#define MIX_HOLD_S        3600
/* Room for a signed message (about 150 bytes). */
#define MIX_ROOM 256
/* Devices in a group: the payer, its charger, two plain payers. */
#define MIX_GROUP 4

_Static_assert(MIX_READINGS *MIX_DELTA + MIX_CAPTURE_MINOR <= MIX_HOLD_MINOR,
               "a session's charges and capture fit its hold");

typedef enum mix_role { MIX_PLAIN = 0, MIX_PAYER = 1, MIX_CHARGER = 2 } mix_role;

typedef struct mix_message {
    uint64_t seq;
    uint8_t hash[FOGPAY_HASH_BYTES];
    uint16_t len;
    uint8_t bytes[MIX_ROOM];
    const char *leaf; /* the topic's last level */
    bool answered;    /* a repeat of its receipt (QoS 1) is not counted again */
} mix_message;

typedef struct mix_device {
    uint8_t role;
    int partner; /* the payer's charger, the charger's payer */
    uint64_t next_seq;
    bool baseline_done;
    uint64_t quantity;
    uint64_t hold;
    bool active; /* in a session, its capture included */
    int count;   /* messages of the session signed */
    int sent;
    int answered;
    mix_message messages[MIX_SESSION_MAX]; /* a charger uses the first, its capture */
} mix_device;

static bench_mix_fleet fleet;
static mix_device *mix;
static bool running;
static double window_end;
static bench_mix_counts counts;

static void mix__die(const char *what)
{
    fprintf(stderr, "fogpay_bench: mix: %s\n", what);
    exit(1);
}

bool bench_mix_plain(int d, int devices)
{
    int first = d - d % MIX_GROUP;
    return d % MIX_GROUP > 1 || first + 1 >= devices;
}

static char *mix__tariff_id(char (*ids)[FOGPAY_DEVICE_ID_MAX + 1], int charger, char *out,
                            size_t cap)
{
    snprintf(out, cap, "t-%s", ids[charger]);
    return out;
}

fogpay_error bench_mix_provision(fogpay_ledger *l, char (*ids)[FOGPAY_DEVICE_ID_MAX + 1],
                                 int devices, uint64_t now_ms)
{
    fogpay_error err = FOGPAY_OK;
    for (int d = 1; d < devices && err == FOGPAY_OK; d += MIX_GROUP) {
        if (bench_mix_plain(d, devices)) {
            continue;
        }
        fogpay_tariff t;
        memset(&t, 0, sizeof t);
        mix__tariff_id(ids, d, t.tariff_id, sizeof t.tariff_id);
        snprintf(t.device_id, sizeof t.device_id, "%s", ids[d]);
        snprintf(t.unit, sizeof t.unit, "Wh");
        t.price_num = 1;
        t.price_den = 1;
        t.currency = EUR;
        t.effective_ms = now_ms - 1000;
        err = fogpay_ledger_tariff_define(l, &t, now_ms);
    }
    return err;
}

/* Signs payload (len bytes) as device d's next message into m, and makes
 * it the one the device's next message links to. */
static void mix__sign(int d, const uint8_t *payload, size_t len, const char *leaf, mix_message *m)
{
    size_t signed_len = 0;
    if (fogpay_cose_sign1_sign(fleet.keys[d], NULL, 0, payload, len, NULL, 0, m->bytes, MIX_ROOM,
                               &signed_len) != FOGPAY_OK) {
        mix__die("cannot sign a message");
    }
    m->len = (uint16_t)signed_len;
    m->leaf = leaf;
    m->answered = false;
    fogpay_sha256(m->bytes, signed_len, m->hash);
    memcpy(fleet.prev[d], m->hash, FOGPAY_PREV_HASH_BYTES);
}

static void mix__send(int d, const mix_message *m)
{
    char topic[96];
    snprintf(topic, sizeof topic, "fogpay/v1/dev/%s/%s", fleet.ids[d], m->leaf);
    if (!bench_conn_publish(&fleet.conns[d], topic, m->bytes, m->len, 1, NULL)) {
        mix__die("a connection's write buffer is full");
    }
}

/* Device d's first message of a session (payload of len bytes with seq,
 * published under leaf): signed, the device active with that one message,
 * and sent. */
static void mix__start(int d, const uint8_t *payload, size_t len, uint64_t seq, const char *leaf)
{
    mix_device *p = &mix[d];
    p->messages[0].seq = seq;
    mix__sign(d, payload, len, leaf, &p->messages[0]);
    p->active = true;
    p->count = 1;
    p->sent = 1;
    p->answered = 0;
    mix__send(d, &p->messages[0]);
}

/* The payer's authorisation, the session's first message. */
static void mix__authorise(int d)
{
    mix_device *p = &mix[d];
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", fleet.ids[d]);
    in.seq = p->next_seq++;
    snprintf(in.payee_device, sizeof in.payee_device, "%s", fleet.ids[p->partner]);
    in.amount_minor = MIX_HOLD_MINOR;
    in.currency = EUR;
    in.created_s = (uint64_t)time(NULL);
    in.ttl_s = 3600;
    in.hold_s = MIX_HOLD_S;
    memcpy(in.prev_hash, fleet.prev[d], FOGPAY_PREV_HASH_BYTES);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_intent_encode(&in, payload, sizeof payload, &len) != FOGPAY_OK) {
        mix__die("cannot encode an authorisation");
    }
    p->hold = 0;
    mix__start(d, payload, len, in.seq, "intent");
}

/* The binding of the payer's meter to its charger's tariff and the hold,
 * and the session's readings, signed in order. */
static void mix__sign_session(int d)
{
    mix_device *p = &mix[d];
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    fogpay_bind b;
    memset(&b, 0, sizeof b);
    snprintf(b.device_id, sizeof b.device_id, "%s", fleet.ids[d]);
    b.seq = p->next_seq++;
    snprintf(b.meter_id, sizeof b.meter_id, "m1");
    mix__tariff_id(fleet.ids, p->partner, b.tariff_id, sizeof b.tariff_id);
    b.created_s = (uint64_t)time(NULL);
    b.hold_id = p->hold;
    memcpy(b.prev_hash, fleet.prev[d], FOGPAY_PREV_HASH_BYTES);
    if (fogpay_bind_encode(&b, payload, sizeof payload, &len) != FOGPAY_OK) {
        mix__die("cannot encode a binding");
    }
    p->messages[1].seq = b.seq;
    mix__sign(d, payload, len, "bind", &p->messages[1]);
    for (int i = 0; i < MIX_READINGS; i++) {
        fogpay_usage u;
        memset(&u, 0, sizeof u);
        snprintf(u.device_id, sizeof u.device_id, "%s", fleet.ids[d]);
        u.seq = p->next_seq++;
        snprintf(u.meter_id, sizeof u.meter_id, "m1");
        p->quantity += MIX_DELTA;
        u.quantity = p->quantity;
        snprintf(u.unit, sizeof u.unit, "Wh");
        u.created_s = (uint64_t)time(NULL);
        memcpy(u.prev_hash, fleet.prev[d], FOGPAY_PREV_HASH_BYTES);
        if (fogpay_usage_encode(&u, payload, sizeof payload, &len) != FOGPAY_OK) {
            mix__die("cannot encode a reading");
        }
        p->messages[2 + i].seq = u.seq;
        mix__sign(d, payload, len, "usage", &p->messages[2 + i]);
    }
    p->count = MIX_SESSION_MAX;
}

/* The charger's capture of its payer's hold. */
static void mix__capture(int charger)
{
    mix_device *c = &mix[charger];
    const mix_device *p = &mix[c->partner];
    fogpay_hold_message m;
    memset(&m, 0, sizeof m);
    snprintf(m.device_id, sizeof m.device_id, "%s", fleet.ids[charger]);
    m.seq = c->next_seq++;
    m.op = FOGPAY_HOLD_CAPTURE;
    m.hold_id = p->hold;
    m.amount_minor = MIX_CAPTURE_MINOR;
    m.created_s = (uint64_t)time(NULL);
    memcpy(m.prev_hash, fleet.prev[charger], FOGPAY_PREV_HASH_BYTES);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_hold_message_encode(&m, payload, sizeof payload, &len) != FOGPAY_OK) {
        mix__die("cannot encode a capture");
    }
    mix__start(charger, payload, len, m.seq, "hold");
}

/* Sends the payer's signed messages while its window has room. */
static void mix__refill(int d)
{
    mix_device *p = &mix[d];
    while (p->sent < p->count && p->sent - p->answered < fleet.window) {
        mix__send(d, &p->messages[p->sent++]);
    }
}

void bench_mix_begin(const bench_mix_fleet *f, double end)
{
    fleet = *f;
    window_end = end;
    memset(&counts, 0, sizeof counts);
    free(mix);
    mix = calloc((size_t)f->devices, sizeof *mix);
    if (mix == NULL) {
        mix__die("no memory for the sessions");
    }
    for (int d = 0; d < f->devices; d++) {
        mix[d].next_seq = f->seq_base + 1;
        if (!bench_mix_plain(d, f->devices)) {
            mix[d].role = d % MIX_GROUP == 0 ? MIX_PAYER : MIX_CHARGER;
            mix[d].partner = d % MIX_GROUP == 0 ? d + 1 : d - 1;
        }
    }
    running = true;
    for (int d = 0; d < f->devices; d += MIX_GROUP) {
        if (mix[d].role == MIX_PAYER) {
            mix__authorise(d);
        }
    }
}

void bench_mix_stop(void)
{
    running = false;
}

bool bench_mix_idle(void)
{
    for (int d = 0; mix != NULL && d < fleet.devices; d++) {
        if (mix[d].active) {
            return false;
        }
    }
    return true;
}

void bench_mix_counts_get(bench_mix_counts *out)
{
    *out = counts;
}

/* What message index of a payer's session should come to. */
static const char *mix__payer_outcome(mix_device *p, int index, const fogpay_receipt *r)
{
    if (index == 0) {
        if (r->kind != FOGPAY_RECEIPT_INTENT || r->status != FOGPAY_STATUS_HELD || !r->hold_id) {
            return "the authorisation is not held";
        }
        p->hold = r->hold_id;
        return NULL;
    }
    if (index == 1) {
        return r->kind == FOGPAY_RECEIPT_BIND && r->status == FOGPAY_STATUS_STORED
                   ? NULL
                   : "the binding to the hold is not stored";
    }
    if (r->kind != FOGPAY_RECEIPT_USAGE) {
        return "not a reading's receipt";
    }
    if (!p->baseline_done) {
        p->baseline_done = true;
        return r->status == FOGPAY_STATUS_STORED ? NULL : "the baseline is not stored";
    }
    if (r->status != FOGPAY_STATUS_SETTLED || r->hold_id != p->hold ||
        r->charge_minor != MIX_DELTA) {
        return "the reading is not charged from its hold";
    }
    counts.readings++;
    return NULL;
}

/* A payer's receipt: its outcome, then the next step of the session. */
static const char *mix__payer_receipt(int d, const fogpay_receipt *r)
{
    mix_device *p = &mix[d];
    uint64_t index = r->seq - p->messages[0].seq;
    if (!p->active || r->seq < p->messages[0].seq || index >= (uint64_t)p->sent ||
        memcmp(p->messages[index].hash, r->intent_hash, FOGPAY_HASH_BYTES) != 0) {
        return "does not match a message of the session";
    }
    if (p->messages[index].answered) {
        return NULL;
    }
    const char *why = mix__payer_outcome(p, (int)index, r);
    if (why != NULL) {
        return why;
    }
    p->messages[index].answered = true;
    p->answered++;
    counts.messages++;
    if (index == 0) {
        mix__sign_session(d);
    }
    mix__refill(d);
    if (p->answered == MIX_SESSION_MAX) {
        mix__capture(p->partner);
    }
    return NULL;
}

/* A charger's receipt: its capture settled; the payer's next session. */
static const char *mix__charger_receipt(int d, const fogpay_receipt *r)
{
    mix_device *c = &mix[d];
    if (r->seq != c->messages[0].seq ||
        memcmp(c->messages[0].hash, r->intent_hash, FOGPAY_HASH_BYTES) != 0) {
        return "does not match the capture sent";
    }
    if (c->messages[0].answered) {
        return NULL;
    }
    if (r->kind != FOGPAY_RECEIPT_HOLD || r->status != FOGPAY_STATUS_SETTLED) {
        return "the capture is not settled";
    }
    c->messages[0].answered = true;
    c->active = false;
    mix[c->partner].active = false;
    counts.holds++;
    counts.messages++;
    if (running) {
        mix__authorise(c->partner);
    }
    return NULL;
}

const char *bench_mix_receipt(bench_conn *c, const fogpay_receipt *r, double now)
{
    int d = c->index;
    if (mix == NULL || d < 0 || d >= fleet.devices || mix[d].role == MIX_PLAIN) {
        return "not a device of the mix";
    }
    uint64_t before = counts.messages;
    const char *why =
        mix[d].role == MIX_PAYER ? mix__payer_receipt(d, r) : mix__charger_receipt(d, r);
    counts.messages_in_window += now <= window_end ? counts.messages - before : 0;
    return why;
}
