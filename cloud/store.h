/*
 * store.h - the cloud's store of every gateway's settled transfers: a
 * registry of gateway keys, each gateway's copy of the transfer chain, and
 * the queries of the back office.
 *
 * One interface, two engines behind it, chosen by the connection string:
 *   "sqlite:/path/to/cloud.db" or a plain path   SQLite, one file (default)
 *   "postgresql://..." or "postgres://..."      PostgreSQL through libpq
 * Both hold the same schema (schemas/cloud.sql) and pass the same tests.
 *
 * Ownership: a fogpay_store is opaque and heap-allocated by
 * fogpay_store_open(); whoever opened it closes it. It is used by one thread
 * at a time. Several processes may share one store: fogpay_store_append()
 * is a compare-and-set on the gateway's chain head inside one transaction,
 * so two ingest processes racing on the same batch store it once.
 *
 * Errors are fogpay_error values; after any error other than FOGPAY_OK,
 * fogpay_store_last_message() says what happened in a sentence (the
 * engine's own message included), valid until the next call.
 */
#ifndef FOGPAY_CLOUD_STORE_H
#define FOGPAY_CLOUD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"
#include "fogpay_note.h"

/* Longest connection string accepted. */
#define FOGPAY_STORE_CONNINFO_MAX 1024
/* Most transfers one query returns; paging continues after the last. */
#define FOGPAY_STORE_LIST_MAX 1000

typedef struct fogpay_store fogpay_store;

/* Opens the store. With create true, an empty store gets the schema; an
 * existing one is checked either way (FOGPAY_ERR_SCHEMA_VERSION when it
 * holds another version or something else). FOGPAY_ERR_CONFIG for a
 * connection string of no known form, FOGPAY_ERR_STORAGE when the engine
 * cannot open it. *out is the caller's to close. */
fogpay_error fogpay_store_open(const char *conninfo, bool create, fogpay_store **out);
void fogpay_store_close(fogpay_store *s);
const char *fogpay_store_last_message(const fogpay_store *s);
/* "sqlite" or "postgresql". */
const char *fogpay_store_engine(const fogpay_store *s);

/* A gateway as the cloud knows it: its key and how far its chain reaches. */
typedef struct fogpay_store_gateway {
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1];
    char public_key[FOGPAY_PUBLIC_KEY_TEXT_MAX]; /* "<alg>:<hex>" */
    uint64_t position;                           /* last stored, 0 for none */
    uint8_t hash[FOGPAY_HASH_BYTES];             /* chain hash there, zeros for none */
    uint64_t batch_seq;                          /* last batch stored from it */
    uint64_t batches;                            /* batches stored */
    uint64_t last_batch_ms;                      /* when the last one was stored, 0 none */
    uint64_t last_transfer_ms;                   /* time of its newest transfer, 0 none */
    uint64_t added_ms;
    uint64_t event_position;               /* last stored event, 0 for none */
    uint8_t event_hash[FOGPAY_HASH_BYTES]; /* event chain hash there */
} fogpay_store_gateway;

/* Registers a gateway and its public key ("<alg>:<hex>", checked).
 * FOGPAY_ERR_EXISTS when the id is taken. */
fogpay_error fogpay_store_gateway_add(fogpay_store *s, const char *gateway_id,
                                      const char *public_key_text, uint64_t now_ms);
/* Replaces a gateway's key after its rotation (the gateway's operator runs
 * rotateGatewayKey, which prints the new key): batches signed with the new
 * key are accepted from then on, and any the gateway sent signed with the
 * old one are refused without an ack, so it sends them again signed with
 * the new key. The stored transfers and events keep their meaning: their
 * chain, not the batch signature, is what fogpay_store_verify checks.
 * FOGPAY_ERR_TEXT_INVALID for a bad key, FOGPAY_ERR_UNKNOWN_GATEWAY. */
fogpay_error fogpay_store_gateway_set_key(fogpay_store *s, const char *gateway_id,
                                          const char *public_key_text);
/* FOGPAY_ERR_UNKNOWN_GATEWAY when there is no such gateway. */
fogpay_error fogpay_store_gateway_get(fogpay_store *s, const char *gateway_id,
                                      fogpay_store_gateway *out);
typedef int (*fogpay_store_gateway_visit)(void *ctx, const fogpay_store_gateway *g);
/* Every gateway in id order; a non-zero return from visit stops the walk. */
fogpay_error fogpay_store_gateway_list(fogpay_store *s, fogpay_store_gateway_visit visit,
                                       void *ctx);

/* One transfer to append: its decoded fields, the record bytes exactly as
 * the batch carried them (what the chain hashes), and the chain hash at its
 * position. The caller has verified the batch signature and the chain; the
 * store keeps what it is given. Views: nothing is owned. */
typedef struct fogpay_store_record {
    const fogpay_transfer *transfer;
    const uint8_t *record;
    size_t record_len;
    uint8_t hash[FOGPAY_HASH_BYTES];
} fogpay_store_record;

/* Appends n records (consecutive positions, the first one at
 * expect_position + 1) to the gateway's chain in one transaction, and moves
 * its head to the last of them with batch_seq and received_ms. A
 * compare-and-set: when the stored head is no longer (expect_position,
 * expect_hash), nothing is written and the result is
 * FOGPAY_ERR_CHAIN_MISMATCH; the caller reads the head again and decides
 * anew. FOGPAY_ERR_UNKNOWN_GATEWAY for an unregistered gateway;
 * FOGPAY_ERR_INVALID_ARGUMENT for n of 0 or over FOGPAY_BATCH_RECORDS_MAX or
 * positions that do not follow. Returns only after the commit is durable. */
fogpay_error fogpay_store_append(fogpay_store *s, const char *gateway_id, uint64_t expect_position,
                                 const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                 const fogpay_store_record *records, size_t n, uint64_t batch_seq,
                                 uint64_t received_ms);

/* One event to append, as fogpay_store_record is for transfers. */
typedef struct fogpay_store_event {
    const fogpay_event *event;
    const uint8_t *record;
    size_t record_len;
    uint8_t hash[FOGPAY_HASH_BYTES];
} fogpay_store_event;

/* Appends n events to the gateway's event chain exactly as
 * fogpay_store_append() does for transfers: one transaction, a
 * compare-and-set on the event head (expect_position, expect_hash),
 * FOGPAY_ERR_CHAIN_MISMATCH with nothing written when it moved. The
 * gateway's batch_seq and last_batch_ms move as well. */
fogpay_error fogpay_store_append_events(fogpay_store *s, const char *gateway_id,
                                        uint64_t expect_position,
                                        const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                        const fogpay_store_event *events, size_t n,
                                        uint64_t batch_seq, uint64_t received_ms);

/* The stored event chain hash at a position; FOGPAY_ERR_NOT_FOUND beyond
 * the event head or at 0. */
fogpay_error fogpay_store_event_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                     uint8_t hash[FOGPAY_HASH_BYTES]);

/* One note movement to append, as fogpay_store_record is for transfers. */
typedef struct fogpay_store_note {
    const fogpay_note_movement *movement;
    const uint8_t *record;
    size_t record_len;
    uint8_t hash[FOGPAY_HASH_BYTES];
} fogpay_store_note;

/* Appends n movements to the gateway's note chain exactly as
 * fogpay_store_append() does for transfers: one transaction, a
 * compare-and-set on the note chain's head (its last stored row, or 0 and
 * 32 zero bytes), FOGPAY_ERR_CHAIN_MISMATCH with nothing written when it
 * moved. In the same transaction each moved note's home becomes this
 * gateway at that position; the gateway's batch_seq and last_batch_ms
 * move as well. */
fogpay_error fogpay_store_append_notes(fogpay_store *s, const char *gateway_id,
                                       uint64_t expect_position,
                                       const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                       const fogpay_store_note *notes, size_t n, uint64_t batch_seq,
                                       uint64_t received_ms);

/* The head of the gateway's note chain in the store: its last position (0
 * when it holds none) and the chain hash there (32 zero bytes for 0). */
fogpay_error fogpay_store_note_head(fogpay_store *s, const char *gateway_id, uint64_t *position,
                                    uint8_t hash[FOGPAY_HASH_BYTES]);

/* The stored note chain hash at a position; FOGPAY_ERR_NOT_FOUND beyond
 * the note chain's head or at 0. */
fogpay_error fogpay_store_note_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                    uint8_t hash[FOGPAY_HASH_BYTES]);

/* A note's home: the gateway whose note chain moved it last, the position
 * of that movement there and its time. */
typedef struct fogpay_store_note_home {
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1];
    uint64_t position;
    uint64_t time_ms;
} fogpay_store_note_home;

/* The home of serial; FOGPAY_ERR_NOT_FOUND when no gateway's chain ever
 * moved it. */
fogpay_error fogpay_store_note_home_get(fogpay_store *s,
                                        const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                        fogpay_store_note_home *out);

/* The stored chain hash at a position of a gateway's chain;
 * FOGPAY_ERR_NOT_FOUND beyond the head or at 0. */
fogpay_error fogpay_store_chain_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                     uint8_t hash[FOGPAY_HASH_BYTES]);

/* Transfers for the back office. Every set field narrows the result: a
 * gateway; a device (the transfers its intents caused: a transfer names
 * its paying device, and its payee only by account); a legal entity (payer
 * or payee pseudonym); a time range [from_ms, to_ms) with to_ms 0
 * for no end. Results come in (gateway_id, position) order; paging goes on
 * after (after_gateway, after_position). limit 0 means
 * FOGPAY_STORE_LIST_MAX; more is FOGPAY_ERR_FIELD_RANGE. */
typedef struct fogpay_store_filter {
    const char *gateway_id;
    const char *device_id;
    const char *entity_id;
    uint64_t from_ms;
    uint64_t to_ms;
    const char *after_gateway;
    uint64_t after_position;
    uint32_t limit;
} fogpay_store_filter;

typedef int (*fogpay_store_transfer_visit)(void *ctx, const char *gateway_id,
                                           const fogpay_transfer *t,
                                           const uint8_t hash[FOGPAY_HASH_BYTES]);
fogpay_error fogpay_store_transfers(fogpay_store *s, const fogpay_store_filter *f,
                                    fogpay_store_transfer_visit visit, void *ctx);

/* Events for the back office, in (gateway_id, position) order: every set
 * field narrows (gateway, device, legal entity of registered and ownership
 * events, time range [from_ms, to_ms)); paging and limit as for transfers. */
typedef int (*fogpay_store_event_visit)(void *ctx, const char *gateway_id, const fogpay_event *e,
                                        const uint8_t hash[FOGPAY_HASH_BYTES]);
fogpay_error fogpay_store_events(fogpay_store *s, const fogpay_store_filter *f,
                                 fogpay_store_event_visit visit, void *ctx);

/* Checks the whole store: for every gateway and each of its three chains
 * (transfers, events, note movements), positions contiguous from 1, every chain hash
 * recomputed from the stored record bytes, every record decoding to exactly
 * the stored columns, the head equal to the last row.
 * FOGPAY_OK with *checked the count of transfers, or
 * FOGPAY_ERR_LEDGER_CORRUPT with the gateway, the first bad position and a
 * sentence. Output pointers may be NULL. */
fogpay_error fogpay_store_verify(fogpay_store *s, uint64_t *checked,
                                 char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1],
                                 uint64_t *bad_position, char *problem, size_t problem_cap);

#endif
