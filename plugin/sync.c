/*
 * sync.c - upstream sync: every committed transfer and every event (device
 * registered, status and ownership changes, usage readings) reaches the
 * cloud, in chain order, in signed batches, and is forgotten only when the
 * cloud's signed acknowledgement says it holds it. The two chains go up
 * independently, each with its own window, timeout and backoff, in batches
 * of their own (transfers under key 8, events under key 9: batch.cddl).
 *
 * The way upstream is Mosquitto's own bridge (deploy/mosquitto.conf): the
 * plugin publishes each batch on <prefix>/gw/<gateway>/batch into its own
 * broker, the bridge forwards that topic to the cloud broker and forwards
 * <prefix>/gw/<gateway>/ack back. The bridge's MQTT hop delivers nothing
 * by itself; only an ack signed by the cloud key (plugin_opt_cloud_key)
 * that names a position and the chain hash there moves the acked state.
 *
 * On each tick, and after each ack that frees room in the window, with no
 * group transaction open (so only committed transfers are read):
 *   - when the oldest batch in flight has waited timeout_ms without an ack,
 *     everything in flight is dropped and sending starts again from the
 *     acked position (go-back-N: the cloud stores a batch once however often
 *     it comes); the timeout then doubles, up to FOGPAY_SYNC_BACKOFF_MAX_MS,
 *     and returns to plugin_opt_sync_timeout with the next ack that moves;
 *   - while fewer than sync_window batches are in flight and transfers past
 *     the last sent position exist, a batch of up to sync_batch of them is
 *     built, signed and published, unless it would be partial and the last
 *     batch went out less than sync_interval_ms ago.
 *
 * An ack is applied, to the chain it names, only when its signature
 * verifies with the cloud key, it names this gateway, and the chain hash it
 * reports at its position is the ledger's own hash there. stored: the acked position moves forward
 * (never back) and is written to the ledger; resend: sending restarts at the
 * cloud's position; refused: the refusal is logged with its reason and
 * sending restarts after the current timeout.
 *
 * Everything here runs on the broker's main thread (see gateway.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_cose.h"
#include "gateway.h"

/* ---- the two chains, seen alike ---------------------------------------- */

static const char *sync_stream_name(const fogpay_sync_stream *st)
{
    return st->stream == FOGPAY_STREAM_EVENTS ? "events" : "transfers";
}

/* The chain's last position and hash. */
static fogpay_error sync_head(fogpay_gateway *gw, const fogpay_sync_stream *st, uint64_t *position,
                              uint8_t hash[FOGPAY_HASH_BYTES])
{
    return st->stream == FOGPAY_STREAM_EVENTS
               ? fogpay_ledger_event_head(gw->ledger, position, hash)
               : fogpay_ledger_chain_head(gw->ledger, position, hash);
}

/* The chain hash at a position (1 or more). */
static fogpay_error sync_hash_at(fogpay_gateway *gw, const fogpay_sync_stream *st,
                                 uint64_t position, uint8_t hash[FOGPAY_HASH_BYTES])
{
    if (st->stream == FOGPAY_STREAM_EVENTS) {
        fogpay_event e;
        return fogpay_ledger_event_get(gw->ledger, position, &e, hash);
    }
    fogpay_transfer t;
    return fogpay_ledger_transfer_get(gw->ledger, position, &t, hash);
}

/* The acked position and hash of a chain in the ledger's sync state. */
static void sync_state_put(fogpay_sync_state *state, const fogpay_sync_stream *st)
{
    if (st->stream == FOGPAY_STREAM_EVENTS) {
        state->acked_event_position = st->acked_position;
        memcpy(state->acked_event_hash, st->acked_hash, FOGPAY_HASH_BYTES);
    } else {
        state->acked_position = st->acked_position;
        memcpy(state->acked_hash, st->acked_hash, FOGPAY_HASH_BYTES);
    }
}

/* Starts sending a chain again from its acked position: batches in flight
 * are forgotten (the cloud stores what it already has once). */
static void sync_rewind(fogpay_sync_stream *st)
{
    st->flight_count = 0;
    st->sent_position = st->acked_position;
    memcpy(st->sent_hash, st->acked_hash, FOGPAY_HASH_BYTES);
}

static void sync_stream_init(fogpay_sync_stream *st, uint8_t stream, uint64_t position,
                             const uint8_t hash[FOGPAY_HASH_BYTES], uint32_t timeout_ms)
{
    memset(st, 0, sizeof *st);
    st->stream = stream;
    st->acked_position = position;
    memcpy(st->acked_hash, hash, FOGPAY_HASH_BYTES);
    st->timeout_ms = timeout_ms;
    sync_rewind(st);
}

fogpay_error fogpay_sync_open(fogpay_gateway *gw)
{
    fogpay_sync *s = &gw->sync;
    const fogpay_gateway_options *o = &gw->options;
    memset(s, 0, sizeof *s);
    if (o->cloud_key[0] == '\0') {
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             "fogpay: upstream sync is off (no plugin_opt_cloud_key)");
        return FOGPAY_OK;
    }
    fogpay_error err = fogpay_key_from_public_text(o->cloud_key, &s->cloud_key);
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(s->cloud_key, s->cloud_kid);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_cloud_key: %s",
                             fogpay_error_string(err));
        return err;
    }
    err = fogpay_ledger_sync_get(gw->ledger, &s->state);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: sync: cannot read the sync state: %s (%s)",
                             fogpay_error_string(err), fogpay_ledger_last_message(gw->ledger));
        return err;
    }
    s->buf = malloc(FOGPAY_BATCH_SIGNED_MAX);
    s->payload = malloc(FOGPAY_BATCH_BYTES_MAX);
    if (s->buf == NULL || s->payload == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    err = fogpay_topic_build(o->topic_prefix, FOGPAY_TOPIC_BATCH, o->gateway_id, NULL,
                             s->batch_topic, sizeof s->batch_topic);
    if (err == FOGPAY_OK) {
        err = fogpay_topic_build(o->topic_prefix, FOGPAY_TOPIC_ACK, o->gateway_id, NULL,
                                 s->ack_topic, sizeof s->ack_topic);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: sync: cannot build the batch and ack topics: %s",
                             fogpay_error_string(err));
        return err;
    }
    sync_stream_init(&s->streams[FOGPAY_STREAM_TRANSFERS], FOGPAY_STREAM_TRANSFERS,
                     s->state.acked_position, s->state.acked_hash, o->sync_timeout_ms);
    sync_stream_init(&s->streams[FOGPAY_STREAM_EVENTS], FOGPAY_STREAM_EVENTS,
                     s->state.acked_event_position, s->state.acked_event_hash, o->sync_timeout_ms);
    s->enabled = true;
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "fogpay: sync: batches to %s, acks from %s; the cloud holds transfers "
                         "up to %" PRIu64 " and events up to %" PRIu64,
                         s->batch_topic, s->ack_topic, s->state.acked_position,
                         s->state.acked_event_position);
    return FOGPAY_OK;
}

void fogpay_sync_close(fogpay_gateway *gw)
{
    fogpay_sync *s = &gw->sync;
    fogpay_key_free(s->cloud_key);
    free(s->buf);
    free(s->payload);
    memset(s, 0, sizeof *s);
}

/* ---- sending ------------------------------------------------------------- */

typedef struct sync_batch_fill {
    fogpay_batch_writer *writer;
    fogpay_error err;
} sync_batch_fill;

static int sync_add_transfer(void *ctx, const fogpay_transfer *t,
                             const uint8_t hash[FOGPAY_HASH_BYTES])
{
    sync_batch_fill *fill = ctx;
    (void)hash;
    fill->err = fogpay_batch_add(fill->writer, t);
    return fill->err != FOGPAY_OK;
}

static int sync_add_event(void *ctx, const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    sync_batch_fill *fill = ctx;
    (void)hash;
    fill->err = fogpay_batch_add_event(fill->writer, e);
    return fill->err != FOGPAY_OK;
}

/* Builds, signs and publishes the batch of the count records after the
 * chain's sent position. */
static fogpay_error sync_send(fogpay_gateway *gw, fogpay_sync_stream *st, uint64_t count,
                              uint64_t now_ms)
{
    fogpay_sync *s = &gw->sync;
    fogpay_batch_header h;
    memset(&h, 0, sizeof h);
    strcpy(h.gateway_id, gw->options.gateway_id);
    h.batch_seq = s->state.batch_seq + 1;
    h.first_position = st->sent_position + 1;
    h.last_position = st->sent_position + count;
    memcpy(h.hash_before, st->sent_hash, FOGPAY_HASH_BYTES);
    h.created_ms = now_ms;
    h.record_count = (uint32_t)count;
    h.stream = st->stream;
    fogpay_error err = sync_hash_at(gw, st, h.last_position, h.hash_after);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_batch_writer writer;
    err = fogpay_batch_begin(&writer, &h, s->payload, FOGPAY_BATCH_BYTES_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    sync_batch_fill fill = {&writer, FOGPAY_OK};
    if (st->stream == FOGPAY_STREAM_EVENTS) {
        err = fogpay_ledger_event_list(gw->ledger, st->sent_position, (uint32_t)count,
                                       sync_add_event, &fill);
    } else {
        fogpay_transfer_filter filter = {.after_position = st->sent_position,
                                         .limit = (uint32_t)count};
        err = fogpay_ledger_transfer_list(gw->ledger, &filter, sync_add_transfer, &fill);
    }
    if (err == FOGPAY_OK) {
        err = fill.err;
    }
    size_t payload_len = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_batch_finish(&writer, &payload_len);
    }
    size_t signed_len = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_sign(gw->key, gw->kid, sizeof gw->kid, s->payload, payload_len,
                                     NULL, 0, s->buf, FOGPAY_BATCH_SIGNED_MAX, &signed_len);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    /* The sequence number is spent before the batch leaves, so that no two
     * batches of this gateway ever carry the same one. */
    fogpay_sync_state next = s->state;
    next.batch_seq = h.batch_seq;
    err = fogpay_ledger_sync_set(gw->ledger, &next);
    if (err != FOGPAY_OK) {
        return err;
    }
    s->state = next;
    int rc = mosquitto_broker_publish_copy(NULL, s->batch_topic, (int)signed_len, s->buf, 1, false,
                                           NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        return FOGPAY_ERR_NETWORK;
    }
    st->flight[st->flight_count++] =
        (fogpay_sync_flight){h.batch_seq, h.first_position, h.last_position, now_ms};
    st->sent_position = h.last_position;
    memcpy(st->sent_hash, h.hash_after, FOGPAY_HASH_BYTES);
    st->last_send_ms = now_ms;
    return FOGPAY_OK;
}

/* One chain's share of a tick: a timeout, then new batches while its
 * window has room. */
static void sync_stream_tick(fogpay_gateway *gw, fogpay_sync_stream *st, uint64_t now_ms)
{
    const fogpay_gateway_options *o = &gw->options;
    if (now_ms < st->quiet_until_ms) {
        return;
    }
    if (st->flight_count > 0 && now_ms - st->flight[0].sent_ms >= st->timeout_ms) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: sync: no ack for batch %" PRIu64 " (%s %" PRIu64 "..%" PRIu64
                             ") after %" PRIu32 " ms; sending again from %" PRIu64,
                             st->flight[0].batch_seq, sync_stream_name(st), st->flight[0].first,
                             st->flight[0].last, st->timeout_ms, st->acked_position + 1);
        sync_rewind(st);
        st->timeout_ms = st->timeout_ms >= FOGPAY_SYNC_BACKOFF_MAX_MS / 2
                             ? FOGPAY_SYNC_BACKOFF_MAX_MS
                             : st->timeout_ms * 2;
    }
    while (st->flight_count < o->sync_window) {
        uint64_t head = 0;
        uint8_t head_hash[FOGPAY_HASH_BYTES];
        fogpay_error err = sync_head(gw, st, &head, head_hash);
        if (err != FOGPAY_OK || head <= st->sent_position) {
            return;
        }
        uint64_t pending = head - st->sent_position;
        if (pending < o->sync_batch && now_ms - st->last_send_ms < o->sync_interval_ms) {
            return;
        }
        uint64_t count = pending < o->sync_batch ? pending : o->sync_batch;
        err = sync_send(gw, st, count, now_ms);
        if (err != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: sync: cannot send %s %" PRIu64 "..%" PRIu64
                                 ": %s (%s); trying again in %" PRIu32 " ms",
                                 sync_stream_name(st), st->sent_position + 1,
                                 st->sent_position + count, fogpay_error_string(err),
                                 fogpay_ledger_last_message(gw->ledger), st->timeout_ms);
            st->quiet_until_ms = now_ms + st->timeout_ms;
            return;
        }
    }
}

void fogpay_sync_tick(fogpay_gateway *gw, uint64_t now_ms)
{
    fogpay_sync *s = &gw->sync;
    if (!s->enabled || gw->in_transaction) {
        return;
    }
    for (size_t i = 0; i < FOGPAY_SYNC_STREAMS; i++) {
        sync_stream_tick(gw, &s->streams[i], now_ms);
    }
}

/* ---- acks ---------------------------------------------------------------- */

/* Verifies and decodes an ack; FOGPAY_OK only for one this gateway may
 * act on. */
static fogpay_error sync_read_ack(fogpay_gateway *gw, const uint8_t *bytes, size_t len,
                                  fogpay_batch_ack *ack)
{
    fogpay_sync *s = &gw->sync;
    if (len > FOGPAY_BATCH_ACK_MAX) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    fogpay_bytes payload;
    fogpay_error err = fogpay_cose_sign1_open(bytes, len, s->cloud_key, s->cloud_kid, &payload);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_batch_ack_decode(payload.ptr, payload.len, ack);
    if (err != FOGPAY_OK) {
        return err;
    }
    return strcmp(ack->gateway_id, gw->options.gateway_id) == 0 ? FOGPAY_OK
                                                                : FOGPAY_ERR_WRONG_TOPIC;
}

/* True when the ledger's chain hash at position is hash (position 0 has
 * the zero hash). */
static bool sync_chain_agrees(fogpay_gateway *gw, const fogpay_sync_stream *st, uint64_t position,
                              const uint8_t hash[FOGPAY_HASH_BYTES])
{
    uint8_t ours[FOGPAY_HASH_BYTES] = {0};
    if (position > 0 && sync_hash_at(gw, st, position, ours) != FOGPAY_OK) {
        return false;
    }
    return memcmp(ours, hash, FOGPAY_HASH_BYTES) == 0;
}

/* Sets a chain's acked state to the cloud's position and writes it down;
 * the batches it covers leave the window. */
static void sync_set_acked(fogpay_gateway *gw, fogpay_sync_stream *st, const fogpay_batch_ack *ack,
                           uint64_t now_ms)
{
    fogpay_sync *s = &gw->sync;
    fogpay_sync_stream moved = *st;
    moved.acked_position = ack->stored_position;
    memcpy(moved.acked_hash, ack->stored_hash, FOGPAY_HASH_BYTES);
    fogpay_sync_state next = s->state;
    sync_state_put(&next, &moved);
    next.acked_ms = now_ms;
    fogpay_error err = fogpay_ledger_sync_set(gw->ledger, &next);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: sync: cannot record the ack: %s (%s)",
                             fogpay_error_string(err), fogpay_ledger_last_message(gw->ledger));
        return;
    }
    s->state = next;
    st->acked_position = moved.acked_position;
    memcpy(st->acked_hash, moved.acked_hash, FOGPAY_HASH_BYTES);
    size_t keep = 0;
    for (size_t i = 0; i < st->flight_count; i++) {
        if (st->flight[i].last > st->acked_position) {
            st->flight[keep++] = st->flight[i];
        }
    }
    st->flight_count = keep;
    if (st->sent_position < st->acked_position) {
        sync_rewind(st);
    }
    st->timeout_ms = gw->options.sync_timeout_ms;
    st->quiet_until_ms = 0;
}

bool fogpay_sync_on_message(fogpay_gateway *gw, const struct mosquitto_evt_message *ev,
                            uint64_t now_ms)
{
    fogpay_sync *s = &gw->sync;
    if (!s->enabled || strcmp(ev->topic, s->ack_topic) != 0) {
        return false;
    }
    fogpay_batch_ack ack;
    fogpay_error err = sync_read_ack(gw, ev->payload, ev->payloadlen, &ack);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "fogpay: sync: ack ignored: %s",
                             fogpay_error_string(err));
        return true;
    }
    if (ack.stream >= FOGPAY_SYNC_STREAMS) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: sync: ack ignored: it answers a chain this gateway does not "
                             "sync (stream %u)",
                             (unsigned)ack.stream);
        return true;
    }
    fogpay_sync_stream *st = &s->streams[ack.stream];
    if (ack.status != FOGPAY_ACK_REFUSED &&
        !sync_chain_agrees(gw, st, ack.stored_position, ack.stored_hash)) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: sync: the cloud reports %s position %" PRIu64
                             " with a chain hash this ledger does not have there; ack ignored",
                             sync_stream_name(st), ack.stored_position);
        return true;
    }
    switch (ack.status) {
    case FOGPAY_ACK_STORED:
        if (ack.stored_position > st->acked_position) {
            sync_set_acked(gw, st, &ack, now_ms);
            /* The window has room again: a backlog drains at the pace of
             * the acks, not of the broker's ticks. */
            fogpay_sync_tick(gw, now_ms);
        }
        break;
    case FOGPAY_ACK_RESEND:
        /* The cloud's position decides, also below the acked one: a cloud
         * restored from a backup asks for what it lost. */
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: sync: the cloud holds %s up to %" PRIu64
                             " and asks for batch %" PRIu64 " again from %" PRIu64,
                             sync_stream_name(st), ack.stored_position, ack.batch_seq,
                             ack.resend_from);
        sync_set_acked(gw, st, &ack, now_ms);
        sync_rewind(st);
        break;
    default:
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: sync: the cloud refused batch %" PRIu64 " (%s): %s; sending "
                             "again from %" PRIu64 " in %" PRIu32 " ms",
                             ack.batch_seq, sync_stream_name(st),
                             fogpay_error_string((fogpay_error)ack.reason), st->acked_position + 1,
                             st->timeout_ms);
        sync_rewind(st);
        st->quiet_until_ms = now_ms + st->timeout_ms;
        break;
    }
    return true;
}
