/*
 * ledger_event.c - the event chain: what the back office must know besides
 * transfers (a device registered with its owner, its status changed, its
 * ownership changed, one of its usage readings stored), appended and read.
 *
 * Design. An event is appended by the writer of the change it records,
 * inside that change's write operation and after it, so the change and its
 * event commit together or not at all. The event chain is a descriptor of
 * the one chain mechanism (ledger_chain.c): its statements and its codec
 * (fogpay_event_encode, ledger__event_read); head, get, list and append
 * are that mechanism's.
 * The record is the event: reading one decodes the stored record and
 * requires the row's own columns (kept for retrieval) to agree with it.
 *
 * Ownership. Nothing here allocates; events are copied into the caller's
 * structs; the visitor of a list receives pointers valid only during its
 * call.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_event__sql[] = {
    {LEDGER_STMT_EVENT_HEAD, "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"},
    {LEDGER_STMT_EVENT_INSERT,
     "INSERT INTO events (position, kind, time_ms, device_id, record, hash) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {LEDGER_STMT_EVENT_GET, "SELECT " LEDGER_EVENT_COLUMNS " FROM events WHERE position = ?1"},
    {LEDGER_STMT_EVENT_LIST,
     "SELECT " LEDGER_EVENT_COLUMNS " FROM events WHERE position > ?1 ORDER BY position "
     "LIMIT ?2"},
};
const size_t ledger_event__sql_count = sizeof ledger_event__sql / sizeof ledger_event__sql[0];

static fogpay_error event__check(const void *record, uint64_t head)
{
    (void)head;
    return ((const fogpay_event *)record)->time_ms > LEDGER_INT_MAX ? FOGPAY_ERR_FIELD_RANGE
                                                                    : FOGPAY_OK;
}

static fogpay_error event__encode(const void *record, uint8_t *out, size_t cap, size_t *len)
{
    return fogpay_event_encode(record, out, cap, len);
}

static void event__bind(fogpay_ledger *l, sqlite3_stmt *s, const void *record)
{
    const fogpay_event *e = record;
    ledger__bind_u64(l, s, 1, e->position);
    ledger__bind_int64(l, s, 2, e->kind);
    ledger__bind_u64(l, s, 3, e->time_ms);
    ledger__bind_text_or_null(l, s, 4, e->device_id); /* none: an entity login's */
}

static fogpay_error event__read(fogpay_ledger *l, sqlite3_stmt *s, void *record,
                                uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)l;
    return ledger__event_read(s, record, hash, NULL, NULL);
}

const ledger_chain ledger_event_chain = {
    .name = "event",
    .head = LEDGER_STMT_EVENT_HEAD,
    .get = LEDGER_STMT_EVENT_GET,
    .insert = LEDGER_STMT_EVENT_INSERT,
    .record_param = 5,
    .record_size = sizeof(fogpay_event),
    .position_offset = offsetof(fogpay_event, position),
    .check = event__check,
    .encode = event__encode,
    .bind = event__bind,
    .read = event__read,
};

fogpay_error ledger__event_head(fogpay_ledger *l, uint64_t *position,
                                uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__chain_head_of(l, &ledger_event_chain, position, hash);
}

fogpay_error ledger__event_append(fogpay_ledger *l, const fogpay_event *e_without_position)
{
    assert(e_without_position != NULL);
    fogpay_event e = *e_without_position;
    return ledger__chain_append(l, &ledger_event_chain, &e);
}

fogpay_error ledger__event_read(sqlite3_stmt *s, fogpay_event *e, uint8_t hash[FOGPAY_HASH_BYTES],
                                const uint8_t **record, size_t *record_len)
{
    const uint8_t *stored = sqlite3_column_blob(s, 4);
    int stored_len = sqlite3_column_bytes(s, 4);
    if (stored == NULL || stored_len < 1 || stored_len > FOGPAY_RECORD_BYTES_MAX ||
        fogpay_event_decode(stored, (size_t)stored_len, e) != FOGPAY_OK) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    if (sqlite3_column_int64(s, 0) != (int64_t)e->position ||
        sqlite3_column_int64(s, 1) != (int64_t)e->kind ||
        sqlite3_column_int64(s, 2) != (int64_t)e->time_ms ||
        !ledger__column_text(s, 3, device_id, sizeof device_id) ||
        strcmp(device_id, e->device_id) != 0) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    const void *stored_hash = sqlite3_column_blob(s, 5);
    if (stored_hash == NULL || sqlite3_column_bytes(s, 5) != FOGPAY_HASH_BYTES) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (hash != NULL) {
        memcpy(hash, stored_hash, FOGPAY_HASH_BYTES);
    }
    if (record != NULL) {
        *record = stored;
        *record_len = (size_t)stored_len;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_event_head(fogpay_ledger *l, uint64_t *position,
                                      uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__chain_head_public(l, &ledger_event_chain, position, hash);
}

fogpay_error fogpay_ledger_event_get(fogpay_ledger *l, uint64_t position, fogpay_event *out,
                                     uint8_t hash[FOGPAY_HASH_BYTES])
{
    fogpay_event scratch;
    return ledger__chain_get(l, &ledger_event_chain, position, out, &scratch, hash);
}

/* The typed visitor behind the chain's walk. */
typedef struct event_visit_ctx {
    fogpay_event_visit visit;
    void *ctx;
} event_visit_ctx;

static int event__visit(void *ctx, const void *record, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    const event_visit_ctx *v = ctx;
    return v->visit(v->ctx, record, hash);
}

fogpay_error fogpay_ledger_event_list(fogpay_ledger *l, uint64_t after_position, uint32_t limit,
                                      fogpay_event_visit visit, void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (limit > FOGPAY_TRANSFER_LIST_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_EVENT_LIST);
    ledger__bind_u64(l, s, 1, after_position > LEDGER_INT_MAX ? LEDGER_INT_MAX : after_position);
    ledger__bind_int64(l, s, 2, limit == 0 ? FOGPAY_TRANSFER_LIST_MAX : limit);
    event_visit_ctx v = {visit, ctx};
    fogpay_event scratch;
    return ledger__chain_walk(l, &ledger_event_chain, s, &scratch, event__visit, &v);
}
