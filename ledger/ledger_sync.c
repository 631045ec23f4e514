/*
 * ledger_sync.c - the upstream sync state: how far the cloud's last signed
 * acknowledgements say its copies of the transfer chain and of the event
 * chain reach, and the last batch sequence number the gateway used. One row
 * of sync_state.
 */
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_sync__sql[] = {
    {LEDGER_STMT_SYNC_GET,
     "SELECT acked_position, acked_hash, batch_seq, acked_ms, acked_event_position, "
     "acked_event_hash FROM sync_state WHERE id = 1"},
    {LEDGER_STMT_SYNC_SET,
     "UPDATE sync_state SET acked_position = ?1, acked_hash = ?2, batch_seq = ?3, acked_ms = ?4, "
     "acked_event_position = ?5, acked_event_hash = ?6 WHERE id = 1"},
};
const size_t ledger_sync__sql_count = sizeof ledger_sync__sql / sizeof ledger_sync__sql[0];

fogpay_error fogpay_ledger_sync_get(fogpay_ledger *l, fogpay_sync_state *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_SYNC_GET);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        const void *hash = sqlite3_column_blob(s, 1);
        sqlite3_int64 position = sqlite3_column_int64(s, 0);
        sqlite3_int64 seq = sqlite3_column_int64(s, 2);
        sqlite3_int64 acked_ms = sqlite3_column_int64(s, 3);
        sqlite3_int64 event_position = sqlite3_column_int64(s, 4);
        const void *event_hash = sqlite3_column_blob(s, 5);
        if (hash == NULL || sqlite3_column_bytes(s, 1) != FOGPAY_HASH_BYTES || position < 0 ||
            seq < 0 || acked_ms < 0 || event_position < 0 || event_hash == NULL ||
            sqlite3_column_bytes(s, 5) != FOGPAY_HASH_BYTES) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            ledger__note(l, "the sync state row is malformed");
        } else {
            out->acked_position = (uint64_t)position;
            memcpy(out->acked_hash, hash, FOGPAY_HASH_BYTES);
            out->batch_seq = (uint64_t)seq;
            out->acked_ms = (uint64_t)acked_ms;
            out->acked_event_position = (uint64_t)event_position;
            memcpy(out->acked_event_hash, event_hash, FOGPAY_HASH_BYTES);
        }
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
        ledger__note(l, "the sync state row is missing");
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error fogpay_ledger_sync_set(fogpay_ledger *l, const fogpay_sync_state *in)
{
    if (l == NULL || in == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (in->batch_seq > LEDGER_INT_MAX || in->acked_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_ledger_chain_head(l, &head, head_hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (in->acked_position > head) {
        ledger__note(l, "an acknowledged position past the chain head");
        return FOGPAY_ERR_FIELD_RANGE;
    }
    err = ledger__event_head(l, &head, head_hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (in->acked_event_position > head) {
        ledger__note(l, "an acknowledged event position past the event chain's head");
        return FOGPAY_ERR_FIELD_RANGE;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_SYNC_SET);
    ledger__bind_u64(l, s, 1, in->acked_position);
    ledger__bind_blob(l, s, 2, in->acked_hash, FOGPAY_HASH_BYTES);
    ledger__bind_u64(l, s, 3, in->batch_seq);
    ledger__bind_u64(l, s, 4, in->acked_ms);
    ledger__bind_u64(l, s, 5, in->acked_event_position);
    ledger__bind_blob(l, s, 6, in->acked_event_hash, FOGPAY_HASH_BYTES);
    return ledger__exec(l, s);
}
