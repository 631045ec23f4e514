/*
 * ingest.c - the decision on one gateway batch (see ingest.h).
 *
 * Checks run cheapest and least trusting first, and each refusal has its
 * own reason: the size, the COSE envelope, the payload's header (decoding
 * never trusts its input), the topic's gateway against the payload's, the
 * key the store registers for that gateway (its kid, then its signature).
 * Until the signature verifies nobody knows who sent the message, so
 * nothing is answered: an ack to a forger would tell the real gateway
 * something false. From there on the gateway is known and every refusal is
 * answered with a signed ack naming the reason, except a store failure,
 * which is not the batch's fault: it is left unanswered and the gateway
 * sends it again after its ack timeout.
 *
 * A batch carries one of the gateway's two chains (fogpay_stream):
 * transfers or events. Both are decided by the same rules against the
 * head of their own chain (the gateway row's position and hash, or its
 * event_position and event_hash), appended with fogpay_store_append or
 * fogpay_store_append_events, and acked with the ack's stream set to the
 * batch's and that chain's head; one never moves the other.
 *
 * Placement against the stored head is a compare-and-set (store.h): the
 * head is read, the decision made, and the append succeeds only if the
 * head is still where it was read. Another ingest process that stored the
 * same batch in between makes the append fail with chain_mismatch; the
 * head is read again and the batch now falls out as a duplicate, or as an
 * overlap whose new tail is appended.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_hash.h"
#include "fogpay_message.h"
#include "ingest.h"

struct fogpay_ingest {
    fogpay_store *store;         /* borrowed */
    const fogpay_key *cloud_key; /* borrowed */
    uint8_t cloud_kid[FOGPAY_KID_BYTES];
    fogpay_batch_header header;        /* of the batch in hand */
    fogpay_transfer *transfers;        /* FOGPAY_BATCH_RECORDS_MAX, owned */
    fogpay_store_record *records;      /* FOGPAY_BATCH_RECORDS_MAX, owned; views into the message */
    fogpay_event *events;              /* FOGPAY_BATCH_RECORDS_MAX, owned */
    fogpay_store_event *event_records; /* the same for a batch of events */
    fogpay_note_movement *notes;       /* FOGPAY_BATCH_RECORDS_MAX, owned */
    fogpay_store_note *note_records;   /* the same for a batch of note movements */
};

/* The head of one of a gateway's chains, as the store holds it. */
typedef struct ingest_head {
    uint64_t position;
    uint8_t hash[FOGPAY_HASH_BYTES];
} ingest_head;

fogpay_error fogpay_ingest_create(fogpay_store *store, const fogpay_key *cloud_key,
                                  fogpay_ingest **out)
{
    if (!store || !cloud_key || !out || !fogpay_key_has_private(cloud_key)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_ingest *in = calloc(1, sizeof *in);
    if (!in) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    in->store = store;
    in->cloud_key = cloud_key;
    in->transfers = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->transfers);
    in->records = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->records);
    in->events = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->events);
    in->event_records = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->event_records);
    in->notes = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->notes);
    in->note_records = calloc(FOGPAY_BATCH_RECORDS_MAX, sizeof *in->note_records);
    fogpay_error err = in->transfers && in->records && in->events && in->event_records &&
                               in->notes && in->note_records
                           ? FOGPAY_OK
                           : FOGPAY_ERR_NO_MEMORY;
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(cloud_key, in->cloud_kid);
    }
    if (err != FOGPAY_OK) {
        fogpay_ingest_destroy(in);
        return err;
    }
    *out = in;
    return FOGPAY_OK;
}

void fogpay_ingest_destroy(fogpay_ingest *in)
{
    if (!in) {
        return;
    }
    free(in->transfers);
    free(in->records);
    free(in->events);
    free(in->event_records);
    free(in->notes);
    free(in->note_records);
    free(in);
}

/* Sets the outcome and reason of *out and its detail from fmt. Returns
 * reason, so that callers can return through it. */
static fogpay_error ingest_set(fogpay_ingest_result *out, fogpay_ingest_outcome outcome,
                               fogpay_error reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fogpay_error ingest_set(fogpay_ingest_result *out, fogpay_ingest_outcome outcome,
                               fogpay_error reason, const char *fmt, ...)
{
    out->outcome = outcome;
    out->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
    return reason;
}

/* Encodes and signs the ack of the batch in hand into out->ack. A failure
 * here is the cloud's own (its key, its buffer): the outcome becomes
 * FAILED and nothing is published, and the gateway sends the batch again. */
static void ingest_ack(fogpay_ingest *in, fogpay_ingest_result *out, fogpay_ack_status status,
                       uint64_t position, const uint8_t hash[FOGPAY_HASH_BYTES],
                       uint64_t resend_from)
{
    fogpay_batch_ack ack;
    memset(&ack, 0, sizeof ack);
    memcpy(ack.gateway_id, in->header.gateway_id, sizeof ack.gateway_id);
    ack.batch_seq = in->header.batch_seq;
    ack.status = (uint8_t)status;
    ack.reason = status == FOGPAY_ACK_REFUSED ? (uint16_t)out->reason : 0;
    ack.stored_position = position;
    memcpy(ack.stored_hash, hash, FOGPAY_HASH_BYTES);
    ack.resend_from = status == FOGPAY_ACK_RESEND ? resend_from : 0;
    ack.stream = in->header.stream;
    uint8_t payload[FOGPAY_BATCH_ACK_MAX];
    size_t payload_len = 0;
    fogpay_error err = fogpay_batch_ack_encode(&ack, payload, sizeof payload, &payload_len);
    if (err == FOGPAY_OK) {
        err =
            fogpay_cose_sign1_sign(in->cloud_key, in->cloud_kid, sizeof in->cloud_kid, payload,
                                   payload_len, NULL, 0, out->ack, sizeof out->ack, &out->ack_len);
    }
    if (err != FOGPAY_OK) {
        out->ack_len = 0;
        ingest_set(out, FOGPAY_INGEST_FAILED, err, "the ack could not be encoded or signed: %s",
                   fogpay_error_string(err));
        return;
    }
    out->stored_position = position;
}

/* Establishes who sent msg: fills in->header, and *payload with the
 * verified payload. Any failure is DROPPED (or FAILED for the store's own). */
static fogpay_error ingest_check_sender(fogpay_ingest *in, const char *topic_gateway,
                                        const uint8_t *msg, size_t len, fogpay_store_gateway *gw,
                                        fogpay_batch_reader *reader, fogpay_ingest_result *out)
{
    if (len > FOGPAY_BATCH_SIGNED_MAX) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, FOGPAY_ERR_PAYLOAD_TOO_LARGE,
                          "%zu bytes, over the %d a signed batch may take", len,
                          FOGPAY_BATCH_SIGNED_MAX);
    }
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, err, "not a COSE_Sign1 message");
    }
    err = fogpay_batch_open(reader, cose.payload.ptr, cose.payload.len, &in->header);
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, err, "the payload is not a batch");
    }
    out->batch_seq = in->header.batch_seq;
    out->stream = in->header.stream;
    out->first_position = in->header.first_position;
    out->last_position = in->header.last_position;
    if (strcmp(in->header.gateway_id, topic_gateway) != 0) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, FOGPAY_ERR_WRONG_TOPIC,
                          "the payload names gateway %s", in->header.gateway_id);
    }
    err = fogpay_store_gateway_get(in->store, topic_gateway, gw);
    if (err == FOGPAY_ERR_UNKNOWN_GATEWAY) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, err, "no such gateway is registered");
    }
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_FAILED, err, "reading the gateway: %s",
                          fogpay_store_last_message(in->store));
    }
    fogpay_key *key = NULL;
    err = fogpay_key_from_public_text(gw->public_key, &key);
    uint8_t kid[FOGPAY_KID_BYTES];
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(key, kid);
    }
    if (err != FOGPAY_OK) {
        fogpay_key_free(key);
        return ingest_set(out, FOGPAY_INGEST_FAILED, err, "the registered key is unusable");
    }
    if (cose.kid.len != FOGPAY_KID_BYTES || memcmp(cose.kid.ptr, kid, FOGPAY_KID_BYTES) != 0) {
        fogpay_key_free(key);
        return ingest_set(out, FOGPAY_INGEST_DROPPED, FOGPAY_ERR_BAD_SIGNATURE,
                          "signed under a kid that is not the registered key's");
    }
    fogpay_bytes verified;
    err = fogpay_cose_sign1_open(msg, len, key, NULL, &verified);
    fogpay_key_free(key);
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, err,
                          "the signature does not verify with the registered key");
    }
    return FOGPAY_OK;
}

/* The chain hash slot of record i of the batch in hand. */
static uint8_t *ingest_record_hash(fogpay_ingest *in, size_t i)
{
    return in->header.stream == FOGPAY_STREAM_NOTES    ? in->note_records[i].hash
           : in->header.stream == FOGPAY_STREAM_EVENTS ? in->event_records[i].hash
                                                       : in->records[i].hash;
}

/* Reads the next record of the batch's stream into slot i (when i is in
 * range) and gives its position and bytes; FOGPAY_ERR_NOT_FOUND after the
 * last. */
static fogpay_error ingest_next_record(fogpay_ingest *in, fogpay_batch_reader *reader, uint32_t i,
                                       uint64_t *position, fogpay_bytes *record)
{
    bool room = i < FOGPAY_BATCH_RECORDS_MAX;
    fogpay_error err;
    if (in->header.stream == FOGPAY_STREAM_NOTES) {
        fogpay_note_movement m;
        err = fogpay_batch_next_note(reader, &m, record);
        if (err == FOGPAY_OK && room) {
            in->notes[i] = m;
            in->note_records[i] = (fogpay_store_note){
                .movement = &in->notes[i], .record = record->ptr, .record_len = record->len};
        }
        *position = m.position;
        return err;
    }
    if (in->header.stream == FOGPAY_STREAM_EVENTS) {
        fogpay_event e;
        err = fogpay_batch_next_event(reader, &e, record);
        if (err == FOGPAY_OK && room) {
            in->events[i] = e;
            in->event_records[i] = (fogpay_store_event){
                .event = &in->events[i], .record = record->ptr, .record_len = record->len};
        }
        *position = e.position;
        return err;
    }
    fogpay_transfer t;
    err = fogpay_batch_next(reader, &t, record);
    if (err == FOGPAY_OK && room) {
        in->transfers[i] = t;
        in->records[i] = (fogpay_store_record){
            .transfer = &in->transfers[i], .record = record->ptr, .record_len = record->len};
    }
    *position = t.position;
    return err;
}

/* Reads every record of a verified batch (of either stream) into
 * in->records or in->event_records, checks its position and chains it
 * from hash_before. FOGPAY_ERR_CHAIN_MISMATCH (a refusal to answer) when
 * positions or the chain do not hold together; a decoding error (DROPPED)
 * when a record is malformed. */
static fogpay_error ingest_read_records(fogpay_ingest *in, fogpay_batch_reader *reader,
                                        fogpay_ingest_result *out)
{
    const fogpay_batch_header *h = &in->header;
    const uint8_t *previous = h->hash_before;
    uint32_t count = 0;
    fogpay_error err;
    for (;;) {
        uint64_t position = 0;
        fogpay_bytes record;
        err = ingest_next_record(in, reader, count, &position, &record);
        if (err != FOGPAY_OK) {
            break;
        }
        if (count >= h->record_count || count >= FOGPAY_BATCH_RECORDS_MAX) {
            return ingest_set(out, FOGPAY_INGEST_DROPPED, FOGPAY_ERR_CBOR_TOO_LONG,
                              "more records than the header counts");
        }
        if (position != h->first_position + count) {
            return ingest_set(out, FOGPAY_INGEST_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH,
                              "record %" PRIu32 " carries position %" PRIu64 ", not %" PRIu64,
                              count, position, h->first_position + count);
        }
        uint8_t *hash = ingest_record_hash(in, count);
        err = fogpay_sha256_pair(previous, FOGPAY_HASH_BYTES, record.ptr, record.len, hash);
        if (err != FOGPAY_OK) {
            return ingest_set(out, FOGPAY_INGEST_FAILED, err, "hashing record %" PRIu32, count);
        }
        previous = hash;
        count++;
    }
    if (err != FOGPAY_ERR_NOT_FOUND) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, err, "record %" PRIu32 " is malformed",
                          count);
    }
    if (count != h->record_count || count == 0) {
        return ingest_set(out, FOGPAY_INGEST_DROPPED, FOGPAY_ERR_MISSING_FIELD,
                          "%" PRIu32 " records where the header counts %" PRIu32, count,
                          h->record_count);
    }
    if (memcmp(previous, h->hash_after, FOGPAY_HASH_BYTES) != 0) {
        return ingest_set(out, FOGPAY_INGEST_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH,
                          "the chain recomputed from hash_before over the records does not end "
                          "at hash_after");
    }
    return FOGPAY_OK;
}

/* The batch's own chain hash at position (first - 1 .. last). */
static const uint8_t *ingest_batch_hash(fogpay_ingest *in, uint64_t position)
{
    if (position + 1 == in->header.first_position) {
        return in->header.hash_before;
    }
    return ingest_record_hash(in, (size_t)(position - in->header.first_position));
}

/* The head of the batch's chain: in the gateway row gw, or for the note
 * chain its last stored row. */
static fogpay_error ingest_head_of(const fogpay_ingest *in, const fogpay_store_gateway *gw,
                                   ingest_head *head)
{
    if (in->header.stream == FOGPAY_STREAM_NOTES) {
        return fogpay_store_note_head(in->store, gw->gateway_id, &head->position, head->hash);
    }
    bool events = in->header.stream == FOGPAY_STREAM_EVENTS;
    head->position = events ? gw->event_position : gw->position;
    memcpy(head->hash, events ? gw->event_hash : gw->hash, FOGPAY_HASH_BYTES);
    return FOGPAY_OK;
}

/* A batch that ends at or before the head: stored before if the stored
 * chain at its last position is its hash_after, else a fork. */
static fogpay_error ingest_duplicate(fogpay_ingest *in, const char *gateway_id,
                                     const ingest_head *head, fogpay_ingest_result *out)
{
    const fogpay_batch_header *h = &in->header;
    uint8_t stored[FOGPAY_HASH_BYTES];
    fogpay_error err =
        h->stream == FOGPAY_STREAM_NOTES
            ? fogpay_store_note_hash(in->store, gateway_id, h->last_position, stored)
        : h->stream == FOGPAY_STREAM_EVENTS
            ? fogpay_store_event_hash(in->store, gateway_id, h->last_position, stored)
            : fogpay_store_chain_hash(in->store, gateway_id, h->last_position, stored);
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_FAILED, err, "reading the stored chain hash: %s",
                          fogpay_store_last_message(in->store));
    }
    if (memcmp(stored, h->hash_after, FOGPAY_HASH_BYTES) != 0) {
        ingest_set(out, FOGPAY_INGEST_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH,
                   "a fork: the stored chain at %" PRIu64 " is not this batch's hash_after",
                   h->last_position);
        ingest_ack(in, out, FOGPAY_ACK_REFUSED, head->position, head->hash, 0);
        return out->reason;
    }
    ingest_set(out, FOGPAY_INGEST_DUPLICATE, FOGPAY_OK, "stored before; acked again");
    ingest_ack(in, out, FOGPAY_ACK_STORED, head->position, head->hash, 0);
    return out->reason;
}

/* Appends records skip.. of the batch in hand after head, to its chain. */
static fogpay_error ingest_append(fogpay_ingest *in, const char *gateway_id,
                                  const ingest_head *head, size_t skip, size_t n, uint64_t now_ms)
{
    const fogpay_batch_header *h = &in->header;
    if (h->stream == FOGPAY_STREAM_NOTES) {
        return fogpay_store_append_notes(in->store, gateway_id, head->position, head->hash,
                                         in->note_records + skip, n, h->batch_seq, now_ms);
    }
    if (h->stream == FOGPAY_STREAM_EVENTS) {
        return fogpay_store_append_events(in->store, gateway_id, head->position, head->hash,
                                          in->event_records + skip, n, h->batch_seq, now_ms);
    }
    return fogpay_store_append(in->store, gateway_id, head->position, head->hash,
                               in->records + skip, n, h->batch_seq, now_ms);
}

/* One attempt to place the batch against the head in *gw. Returns
 * FOGPAY_ERR_CHAIN_MISMATCH with *moved set when the head moved under the
 * append; otherwise the decision is final and in *out. */
static fogpay_error ingest_place(fogpay_ingest *in, const fogpay_store_gateway *gw, uint64_t now_ms,
                                 bool *moved, fogpay_ingest_result *out)
{
    const fogpay_batch_header *h = &in->header;
    ingest_head head;
    *moved = false;
    fogpay_error err = ingest_head_of(in, gw, &head);
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_FAILED, err, "reading the chain's head: %s",
                          fogpay_store_last_message(in->store));
    }
    if (h->last_position <= head.position) {
        return ingest_duplicate(in, gw->gateway_id, &head, out);
    }
    if (h->first_position > head.position + 1) {
        ingest_set(out, FOGPAY_INGEST_RESEND, FOGPAY_ERR_GAP,
                   "the store holds up to %" PRIu64 "; asked to resend from %" PRIu64,
                   head.position, head.position + 1);
        ingest_ack(in, out, FOGPAY_ACK_RESEND, head.position, head.hash, head.position + 1);
        return out->reason;
    }
    if (memcmp(ingest_batch_hash(in, head.position), head.hash, FOGPAY_HASH_BYTES) != 0) {
        ingest_set(out, FOGPAY_INGEST_REFUSED, FOGPAY_ERR_CHAIN_MISMATCH,
                   "a fork: at the stored head %" PRIu64 " the batch's chain differs",
                   head.position);
        ingest_ack(in, out, FOGPAY_ACK_REFUSED, head.position, head.hash, 0);
        return out->reason;
    }
    size_t skip = (size_t)(head.position + 1 - h->first_position);
    size_t n = h->record_count - skip;
    err = ingest_append(in, gw->gateway_id, &head, skip, n, now_ms);
    if (err == FOGPAY_ERR_CHAIN_MISMATCH) {
        *moved = true;
        return err;
    }
    if (err != FOGPAY_OK) {
        return ingest_set(out, FOGPAY_INGEST_FAILED, err, "appending: %s",
                          fogpay_store_last_message(in->store));
    }
    out->appended = n;
    ingest_set(out, FOGPAY_INGEST_STORED, FOGPAY_OK, "%zu new records committed", n);
    ingest_ack(in, out, FOGPAY_ACK_STORED, h->last_position, h->hash_after, 0);
    return out->reason;
}

fogpay_error fogpay_ingest_batch(fogpay_ingest *in, const char *topic_gateway, const uint8_t *msg,
                                 size_t len, uint64_t now_ms, fogpay_ingest_result *out)
{
    memset(out, 0, offsetof(fogpay_ingest_result, ack));
    snprintf(out->gateway_id, sizeof out->gateway_id, "%s", topic_gateway);
    fogpay_store_gateway gw;
    fogpay_batch_reader reader;
    fogpay_error err = ingest_check_sender(in, topic_gateway, msg, len, &gw, &reader, out);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = ingest_read_records(in, &reader, out);
    if (err == FOGPAY_ERR_CHAIN_MISMATCH) {
        ingest_head head;
        fogpay_error head_err = ingest_head_of(in, &gw, &head);
        if (head_err != FOGPAY_OK) {
            return ingest_set(out, FOGPAY_INGEST_FAILED, head_err, "reading the chain's head: %s",
                              fogpay_store_last_message(in->store));
        }
        ingest_ack(in, out, FOGPAY_ACK_REFUSED, head.position, head.hash, 0);
        return out->reason;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    for (uint32_t attempt = 1; attempt <= FOGPAY_INGEST_ATTEMPTS_MAX; attempt++) {
        out->attempts = attempt;
        if (attempt > 1) {
            err = fogpay_store_gateway_get(in->store, topic_gateway, &gw);
            if (err != FOGPAY_OK) {
                return ingest_set(out, FOGPAY_INGEST_FAILED, err, "reading the head again: %s",
                                  fogpay_store_last_message(in->store));
            }
        }
        bool moved;
        err = ingest_place(in, &gw, now_ms, &moved, out);
        if (!moved) {
            return err;
        }
    }
    return ingest_set(out, FOGPAY_INGEST_FAILED, FOGPAY_ERR_STORAGE_BUSY,
                      "the head moved under each of %d attempts", FOGPAY_INGEST_ATTEMPTS_MAX);
}

const char *fogpay_ingest_outcome_name(fogpay_ingest_outcome outcome)
{
    static const char *const names[] = {"stored",  "duplicate", "resend",
                                        "refused", "dropped",   "failed"};
    if ((size_t)outcome >= sizeof names / sizeof names[0]) {
        return "unknown";
    }
    return names[outcome];
}

void fogpay_ingest_format(const fogpay_ingest_result *r, char *out, size_t cap)
{
    snprintf(out, cap,
             "gateway %s batch %" PRIu64 " %spositions %" PRIu64 "..%" PRIu64 ": %s (%s: %s; %s)%s",
             r->gateway_id, r->batch_seq,
             r->stream == FOGPAY_STREAM_NOTES    ? "note movements "
             : r->stream == FOGPAY_STREAM_EVENTS ? "events "
                                                 : "",
             r->first_position, r->last_position, fogpay_ingest_outcome_name(r->outcome),
             fogpay_error_name(r->reason), fogpay_error_string(r->reason), r->detail,
             r->ack_len ? "" : "; no ack");
}
