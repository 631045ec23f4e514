/*
 * ingest.h - the cloud's ingest of gateway batches: the decision for one
 * signed batch, without MQTT, so that it can be tested on its own.
 *
 * A batch arrives on {prefix}/gw/{gateway}/batch and carries one of the
 * gateway's two chains, transfers or events (its header's stream); each is
 * placed against the head of its own chain and acked with the ack's
 * stream set to the batch's. fogpay_ingest_batch()
 * checks who sent it (size, COSE_Sign1, the payload's gateway against the
 * topic's, the kid and signature of the key the store registers for that
 * gateway), whether it holds together (positions, the chain recomputed
 * over the records' exact bytes), and where it falls against the store's
 * head for the gateway; it appends what is new in one compare-and-set
 * transaction and returns the outcome with the signed ack to publish on
 * {prefix}/gw/{gateway}/ack:
 *
 *   outcome     ack               when
 *   STORED      stored            new records committed (the ack follows the commit)
 *   DUPLICATE   stored            every record already stored with the same chain
 *   RESEND      resend, P+1       the batch starts after the head P: a gap
 *   REFUSED     refused, reason   the batch does not chain: in itself, or a fork
 *   DROPPED     none              untrusted: cannot say whom it comes from
 *   FAILED      none              the store failed; the gateway resends later
 *
 * Ownership: a fogpay_ingest is heap-allocated by fogpay_ingest_create()
 * and freed by fogpay_ingest_destroy(); it borrows the store and the cloud
 * key, which must outlive it, and holds the buffers for the largest batch,
 * so nothing is allocated per message. One thread at a time, like the store.
 * A result holds its own copy of the ack bytes and owes nothing.
 */
#ifndef FOGPAY_CLOUD_INGEST_H
#define FOGPAY_CLOUD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_cose.h"
#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "store.h"

/* Compare-and-set attempts for one batch. Each failed attempt means another
 * ingest process moved the head in between, so a few suffice; a bound keeps
 * a store that always answers "moved" from holding a worker forever. */
#define FOGPAY_INGEST_ATTEMPTS_MAX 8

/* The explanation of an outcome, for the log line. */
#define FOGPAY_INGEST_DETAIL_MAX 256

static_assert(FOGPAY_SIG_STRUCTURE_MAX >= FOGPAY_BATCH_BYTES_MAX + 64,
              "the largest batch payload can be verified");

typedef enum fogpay_ingest_outcome {
    FOGPAY_INGEST_STORED = 0,
    FOGPAY_INGEST_DUPLICATE = 1,
    FOGPAY_INGEST_RESEND = 2,
    FOGPAY_INGEST_REFUSED = 3,
    FOGPAY_INGEST_DROPPED = 4,
    FOGPAY_INGEST_FAILED = 5,
} fogpay_ingest_outcome;

/* What happened to one batch. Header fields are zero (and gateway_id the
 * topic's) when the batch could not be read that far. */
typedef struct fogpay_ingest_result {
    fogpay_ingest_outcome outcome;
    fogpay_error reason;                        /* FOGPAY_OK when stored or a duplicate */
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1]; /* from the topic */
    uint64_t batch_seq;
    uint8_t stream; /* fogpay_stream of the batch: which chain positions are of */
    uint64_t first_position;
    uint64_t last_position;
    uint64_t appended;                     /* records this call committed */
    uint64_t stored_position;              /* the head the ack reports */
    uint32_t attempts;                     /* compare-and-set attempts made */
    char detail[FOGPAY_INGEST_DETAIL_MAX]; /* a sentence on the reason */
    size_t ack_len;                        /* 0: publish nothing */
    uint8_t ack[FOGPAY_BATCH_ACK_MAX];
} fogpay_ingest_result;

typedef struct fogpay_ingest fogpay_ingest;

/* cloud_key must hold a private key. *out is the caller's to destroy. */
fogpay_error fogpay_ingest_create(fogpay_store *store, const fogpay_key *cloud_key,
                                  fogpay_ingest **out);
void fogpay_ingest_destroy(fogpay_ingest *in);

/* Decides on one message (msg, len: the MQTT payload as received, only read)
 * that arrived on the batch topic of topic_gateway at now_ms, and fills
 * *out. Returns out->reason. The ack in *out is to be published only after
 * this returns: any records were committed before. */
fogpay_error fogpay_ingest_batch(fogpay_ingest *in, const char *topic_gateway, const uint8_t *msg,
                                 size_t len, uint64_t now_ms, fogpay_ingest_result *out);

/* "stored", "duplicate", "resend", "refused", "dropped", "failed". */
const char *fogpay_ingest_outcome_name(fogpay_ingest_outcome outcome);

/* The one log line of a result (no newline) into out (cap bytes): gateway,
 * batch seq, positions (preceded by "events" for a batch of events),
 * outcome, reason and detail. */
void fogpay_ingest_format(const fogpay_ingest_result *r, char *out, size_t cap);

#endif
