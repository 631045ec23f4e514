/*
 * store_engine.h - what cloud/store.c asks of an engine, and nothing else
 * sees: the struct behind fogpay_store, the table of engine operations, and
 * the one row type of either chain (transfers, events) as an engine reads
 * it. A chain is named by its fogpay_stream: hash, page and append are one
 * operation each over both chains; what differs is the chain's codec (an
 * engine's insert and row reader of that table).
 *
 * Files. store.c holds everything that does not depend on the engine: the
 * choice of engine by connection string, argument checks, the
 * compare-and-set of fogpay_store_append and fogpay_store_append_events
 * written once over the engine's transaction and row operations, paging,
 * verification of both chains and the messages.
 * store_sqlite.c and store_pg.c each implement the operations below over
 * the same schema (schemas/cloud.sql), with their SQL prepared once at
 * open.
 *
 * Contract of every operation: it returns a fogpay_error and, for anything
 * other than FOGPAY_OK, has written a sentence into s->message with
 * store__note() (the engine's own message included). Values passed in have
 * been checked by store.c: ids within their limits, integers at most
 * STORE_INT_MAX, records 1..FOGPAY_RECORD_BYTES_MAX bytes.
 */
#ifndef FOGPAY_CLOUD_STORE_ENGINE_H
#define FOGPAY_CLOUD_STORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The last message kept for fogpay_store_last_message(): one sentence of
 * ours and the engine's own, which for PostgreSQL may carry a detail line.
 * Longer ones are cut. */
#define STORE_MESSAGE_MAX 512

/* Largest value a BIGINT column holds: every uint64_t stored is checked
 * against it. */
#define STORE_INT_MAX ((uint64_t)INT64_MAX)

/* Gateways read per page when verification walks them all: a page is held
 * in memory (about 250 bytes a gateway), so this bounds verify's memory
 * whatever the number of gateways. */
#define STORE_GATEWAY_PAGE 256

/* Rows read per page by verification; the same as a back-office page. */
#define STORE_VERIFY_PAGE FOGPAY_STORE_LIST_MAX

/* The note chain's SQL, the same in both engines but for the parameters'
 * spelling (?1 or $1). A note's home is inserted or replaced
 * (INSERT ... ON CONFLICT, SQLite 3.24 and PostgreSQL 9.5 on). */
#define STORE_NOTE_COLUMNS "gateway_id, position, kind, time_ms, serial, device_id, record, hash"
#define STORE_NOTE_HOME_SET_SQL(p1, p2, p3, p4)                                                    \
    "INSERT INTO note_homes (serial, gateway_id, position, time_ms) VALUES (" p1 ", " p2 ", " p3   \
    ", " p4 ") ON CONFLICT (serial) DO UPDATE SET gateway_id = excluded.gateway_id,"               \
    " position = excluded.position, time_ms = excluded.time_ms"
#define STORE_NOTE_HEAD_SQL(p1)                                                                    \
    "SELECT position, hash FROM note_movements WHERE gateway_id = " p1                             \
    " ORDER BY position DESC LIMIT 1"
#define STORE_NOTE_PAGE_SQL(p1, p2, p3)                                                            \
    "SELECT " STORE_NOTE_COLUMNS " FROM note_movements WHERE gateway_id = " p1                     \
    " AND position > " p2 " ORDER BY position LIMIT " p3
/* Largest note movement kind a row may hold (fogpay_note_movement_kind). */
#define STORE_NOTE_KIND_MAX 6
#define STORE_NOTE_HOME_GET_SQL(p1)                                                                \
    "SELECT gateway_id, position, time_ms FROM note_homes WHERE serial = " p1

/* How a transaction is begun. A write transaction takes the store's write
 * lock at once (SQLite BEGIN IMMEDIATE) or row locks as it reads the head
 * (PostgreSQL SELECT ... FOR UPDATE); a read transaction sees one snapshot. */
typedef enum store_txn {
    STORE_TXN_READ,
    STORE_TXN_WRITE,
} store_txn;

/* One row of either chain as stored, the one row type of both: the
 * columns read into t for transfers (NULL as 0 or "") or into e for events
 * (position, kind, time_ms, device_id, entity_id; the other fields zero, as
 * the record alone holds them), the record bytes and the hash. problem is
 * NULL for a row whose columns fit their types and limits, or a static
 * sentence saying which does not (verification reports it at the row's
 * position, queries refuse with FOGPAY_ERR_LEDGER_CORRUPT). */
typedef struct store_row {
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1];
    union {
        fogpay_transfer t;      /* FOGPAY_STREAM_TRANSFERS */
        fogpay_event e;         /* FOGPAY_STREAM_EVENTS */
        fogpay_note_movement m; /* FOGPAY_STREAM_NOTES: position, kind, time_ms, serial,
                                 * device_id */
    };
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t record_len;
    uint8_t hash[FOGPAY_HASH_BYTES];
    const char *problem;
} store_row;

/* Visitors receive views valid only during the call; a non-zero return
 * stops the walk. */
typedef int (*store_row_visit)(void *ctx, const store_row *row);

typedef struct store_engine {
    const char *name;
    /* Connects to target (the connection string without the "sqlite:"
     * prefix for SQLite, the whole URI for PostgreSQL), sets durability,
     * creates the schema when the store is empty and create is true, checks
     * the version, prepares the statements. s->engine_state is the
     * engine's; on failure what was made is released by close. */
    fogpay_error (*open)(fogpay_store *s, const char *target, bool create);
    /* Releases everything open made; an open transaction is rolled back.
     * Safe after a failed open. */
    void (*close)(fogpay_store *s);
    fogpay_error (*begin)(fogpay_store *s, store_txn kind);
    fogpay_error (*commit)(fogpay_store *s);
    /* Ends an open transaction without keeping anything; never fails in a
     * way the caller could act on, so it keeps the first message. */
    void (*rollback)(fogpay_store *s);
    /* Inserts g as it is; FOGPAY_ERR_EXISTS when the id is taken. */
    fogpay_error (*gateway_insert)(fogpay_store *s, const fogpay_store_gateway *g);
    /* Replaces the gateway's key text; FOGPAY_ERR_UNKNOWN_GATEWAY when there
     * is no such gateway. */
    fogpay_error (*gateway_set_key)(fogpay_store *s, const char *gateway_id,
                                    const char *public_key_text);
    /* Reads one gateway; inside a write transaction it is locked until the
     * end of it. FOGPAY_ERR_UNKNOWN_GATEWAY when there is none. */
    fogpay_error (*gateway_get)(fogpay_store *s, const char *gateway_id, bool for_update,
                                fogpay_store_gateway *out);
    /* Gateways with id after after_id ("" for the first) in id order, at
     * most limit of them; *count receives how many were visited. */
    fogpay_error (*gateway_page)(fogpay_store *s, const char *after_id, uint32_t limit,
                                 fogpay_store_gateway_visit visit, void *ctx, uint32_t *count);
    /* Writes g's head fields (position, hash, event_position, event_hash,
     * batch_seq, batches, last_batch_ms, last_transfer_ms) to its row. */
    fogpay_error (*gateway_set_head)(fogpay_store *s, const fogpay_store_gateway *g);
    fogpay_error (*transfer_insert)(fogpay_store *s, const char *gateway_id,
                                    const fogpay_store_record *r);
    fogpay_error (*event_insert)(fogpay_store *s, const char *gateway_id,
                                 const fogpay_store_event *e);
    /* Inserts a note movement and makes the note's home this gateway at
     * its position (inserted or replaced). */
    fogpay_error (*note_insert)(fogpay_store *s, const char *gateway_id,
                                const fogpay_store_note *m);
    /* The last row of the gateway's note chain: its position and hash, or
     * 0 and zeros when there is none. */
    fogpay_error (*note_head)(fogpay_store *s, const char *gateway_id, uint64_t *position,
                              uint8_t hash[FOGPAY_HASH_BYTES]);
    /* The home of serial; FOGPAY_ERR_NOT_FOUND when it has none. */
    fogpay_error (*note_home_get)(fogpay_store *s, const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                  fogpay_store_note_home *out);
    /* The hash of the row at that position of stream's table (transfers,
     * events or note_movements); FOGPAY_ERR_NOT_FOUND when there is none. */
    fogpay_error (*chain_hash)(fogpay_store *s, fogpay_stream stream, const char *gateway_id,
                               uint64_t position, uint8_t hash[FOGPAY_HASH_BYTES]);
    /* The rows of stream's chain that match f (of the note chain, only
     * f's gateway, after_position and limit count) (its limit already resolved,
     * 1..FOGPAY_STORE_LIST_MAX; after_gateway never NULL) in (gateway_id,
     * position) order; *count receives how many were visited. The entity
     * filter matches either side of a transfer, an event's entity_id. */
    fogpay_error (*page)(fogpay_store *s, fogpay_stream stream, const fogpay_store_filter *f,
                         store_row_visit visit, void *ctx, uint32_t *count);
} store_engine;

struct fogpay_store {
    const store_engine *engine;
    void *engine_state; /* the engine's, made by open and freed by close */
    bool in_transaction;
    char message[STORE_MESSAGE_MAX];
};

extern const store_engine store_sqlite__engine;
extern const store_engine store_pg__engine;

/* store.c: keeps a sentence for fogpay_store_last_message(), printf-style. */
void store__note(fogpay_store *s, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* store.c: the sentence of an open that found schema version `version`
 * where STORE_SCHEMA_VERSION is needed; where says what was found empty
 * ("file", "database") when the store holds nothing. The caller returns
 * FOGPAY_ERR_SCHEMA_VERSION. */
void store__note_version(fogpay_store *s, long version, bool empty, const char *where);

/* store.c, for store_verify.c: the entry check of every call after open;
 * a transaction of the given kind; its end (commit on FOGPAY_OK, rollback
 * otherwise; err or the commit's failure); and an event row decoded and
 * checked against its columns (NULL when it holds, else a static sentence,
 * with *difference naming the field that differs). */
fogpay_error store__enter(fogpay_store *s);
fogpay_error store__begin(fogpay_store *s, store_txn kind);
fogpay_error store__end(fogpay_store *s, fogpay_error err);
const char *store__event_decode(const store_row *row, fogpay_event *out, const char **difference);

/* The further legs of a transfer row from the text its page reads of
 * transfer_legs, "leg:debit:credit:amount" joined by ';' in any order (NULL
 * or "": none), into t. False when it is not legs 2.. without a gap, each
 * of accounts and an amount in range. */
bool store__legs_parse(const char *text, fogpay_transfer *t);

/* What a transfer page selects after the row's columns: its further legs
 * in the form store__legs_parse() reads (each engine's aggregate). */
#define STORE_LEGS_SQL(aggregate)                                                                  \
    "(SELECT " aggregate " FROM transfer_legs AS g WHERE g.gateway_id = transfers.gateway_id"      \
    " AND g.position = transfers.position)"
#define STORE_LEG_TEXT "leg || ':' || debit_account || ':' || credit_account || ':' || amount_minor"

/* schemas/cloud.sql, NUL-terminated, generated at build time by
 * schemas/embed_sql.py (schemas/meson.build); and its version. */
extern const char cloud_schema_sql[];
extern const char cloud_migrate_2_sql[]; /* version 2 to 3 */
extern const char cloud_migrate_3_sql[]; /* version 3 to 4 */
extern const char cloud_migrate_4_sql[]; /* version 4 to 5 */
#define STORE_SCHEMA_VERSION 5

/* The transfer kinds the schema takes (cloud.sql): every product's. */
#define STORE_TRANSFER_KIND_MAX 18
/* The event kinds it takes: 0 to 20 but 4. */
#define STORE_EVENT_KIND_MAX 20

#endif
