/*
 * ledger_event.c - the event chain: what the back office must know besides
 * transfers (a device registered with its owner, its status changed, its
 * ownership changed, one of its usage readings stored), appended and read.
 *
 * Design. An event is appended by the writer of the change it records,
 * inside that change's write operation and after it, so the change and its
 * event commit together or not at all. Appending takes the next position,
 * encodes the record deterministically (fogpay_event_encode), hashes it
 * onto the previous event's hash as the transfer chain does, and inserts
 * the row; the schema's triggers refuse anything but the next position.
 * The record is the event: reading one decodes the stored record and
 * requires the row's own columns (kept for retrieval) to agree with it.
 *
 * Ownership. Nothing here allocates; events are copied into the caller's
 * structs; the visitor of a list receives pointers valid only during its
 * call.
 */
#include <assert.h>
#include <string.h>

#include "fogpay_hash.h"
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

fogpay_error ledger__event_head(fogpay_ledger *l, uint64_t *position,
                                uint8_t hash[FOGPAY_HASH_BYTES])
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_EVENT_HEAD);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t head = sqlite3_column_int64(s, 0);
        const void *stored = sqlite3_column_blob(s, 1);
        if (head < 1 || stored == NULL || sqlite3_column_bytes(s, 1) != FOGPAY_HASH_BYTES) {
            ledger__note(l, "the event chain head is not a position with a 32-byte hash");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            *position = (uint64_t)head;
            memcpy(hash, stored, FOGPAY_HASH_BYTES);
        }
    } else if (rc == SQLITE_DONE) {
        *position = 0;
        memset(hash, 0, FOGPAY_HASH_BYTES);
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

static fogpay_error event__insert(fogpay_ledger *l, const fogpay_event *e, const uint8_t *record,
                                  size_t record_len, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_EVENT_INSERT);
    ledger__bind_u64(l, s, 1, e->position);
    ledger__bind_int64(l, s, 2, e->kind);
    ledger__bind_u64(l, s, 3, e->time_ms);
    ledger__bind_text(l, s, 4, e->device_id);
    ledger__bind_blob(l, s, 5, record, record_len);
    ledger__bind_blob(l, s, 6, hash, FOGPAY_HASH_BYTES);
    return ledger__exec(l, s);
}

fogpay_error ledger__event_append(fogpay_ledger *l, const fogpay_event *e_without_position)
{
    assert(e_without_position != NULL);
    assert(!sqlite3_get_autocommit(l->db));
    uint64_t head = 0;
    uint8_t previous[FOGPAY_HASH_BYTES];
    fogpay_error err = ledger__event_head(l, &head, previous);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_event e = *e_without_position;
    if (head >= LEDGER_INT_MAX || e.time_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    e.position = head + 1;
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t record_len = 0;
    err = fogpay_event_encode(&e, record, sizeof record, &record_len);
    if (err != FOGPAY_OK) {
        ledger__note(l, "the event does not encode as a record of the contract");
        return err;
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    err = fogpay_sha256_pair(previous, sizeof previous, record, record_len, hash);
    if (err == FOGPAY_OK) {
        err = event__insert(l, &e, record, record_len, hash);
    }
    /* The chain's positions are the table's row ids: contiguous from 1. */
    assert(err != FOGPAY_OK || sqlite3_last_insert_rowid(l->db) == (sqlite3_int64)e.position);
    return err;
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
    if (l == NULL || position == NULL || hash == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    fogpay_error err = ledger__event_head(l, &head, head_hash);
    if (err == FOGPAY_OK) {
        *position = head;
        memcpy(hash, head_hash, FOGPAY_HASH_BYTES);
    }
    return err;
}

fogpay_error fogpay_ledger_event_get(fogpay_ledger *l, uint64_t position, fogpay_event *out,
                                     uint8_t hash[FOGPAY_HASH_BYTES])
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (position == 0 || position > LEDGER_INT_MAX) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    fogpay_event e;
    uint8_t stored_hash[FOGPAY_HASH_BYTES];
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_EVENT_GET);
    ledger__bind_u64(l, s, 1, position);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        err = ledger__event_read(s, &e, stored_hash, NULL, NULL);
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = e;
        if (hash != NULL) {
            memcpy(hash, stored_hash, FOGPAY_HASH_BYTES);
        }
    }
    return err;
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
    fogpay_error err = FOGPAY_OK;
    /* The SQL LIMIT bounds the walk to one page. */
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = ledger__error(l, rc);
            break;
        }
        fogpay_event e;
        uint8_t hash[FOGPAY_HASH_BYTES];
        err = ledger__event_read(s, &e, hash, NULL, NULL);
        if (err != FOGPAY_OK || visit(ctx, &e, hash) != 0) {
            break;
        }
    }
    ledger__finish(s);
    return err;
}
