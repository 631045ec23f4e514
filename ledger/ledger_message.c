/*
 * ledger_message.c - what the ledger keeps of device messages: the answer
 * to every (device, seq) with its signed receipt, usage readings, and the
 * bounded log of refused messages.
 *
 * Design. Exactly once rests on the messages table: its primary key is
 * (device_id, seq), a repeat of the same message (same hash) is answered
 * with the stored receipt bytes, and the same seq with another hash is a
 * conflict.
 *
 * The device's chain. Each message carries the first bytes of the hash of
 * the message the device signed before it (zeros for its first), and seqs
 * rise along the chain, with gaps where the device skipped a number. The
 * recorded messages of a device are its chain as the gateway knows it: a
 * new message must link to the recorded message just below its seq, and
 * nothing may be recorded at or above its seq (fogpay_ledger_message_link).
 * A message that links correctly below a recorded successor is a second
 * continuation of the chain: the device's key signs for two devices.
 *
 * The rejection log is for monitoring only and takes messages
 * from any client, so it stores a bounded prefix of the client id and keeps
 * only the newest FOGPAY_LEDGER_REJECTIONS_MAX rows. A stored usage reading
 * appends its event (ledger_event.c) in the same operation.
 *
 * Ownership. Receipt bytes are copied into the caller's buffer; nothing
 * here allocates.
 */
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_message__sql[] = {
    {LEDGER_STMT_MESSAGE_LOOKUP,
     "SELECT hash, receipt FROM messages WHERE device_id = ?1 AND seq = ?2"},
    {LEDGER_STMT_MESSAGE_BEFORE,
     "SELECT hash FROM messages WHERE device_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1"},
    {LEDGER_STMT_MESSAGE_FROM, "SELECT 1 FROM messages WHERE device_id = ?1 AND seq >= ?2 LIMIT 1"},
    {LEDGER_STMT_MESSAGE_HEAD,
     "SELECT seq, hash FROM messages WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1"},
    {LEDGER_STMT_MESSAGE_INSERT,
     "INSERT INTO messages (device_id, seq, kind, hash, status, reason, position, receipt, "
     "time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {LEDGER_STMT_USAGE_INSERT,
     "INSERT INTO usage_readings (device_id, seq, meter_id, quantity, unit, created_s, hash, "
     "time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {LEDGER_STMT_REJECTION_INSERT,
     "INSERT INTO rejections (client_id, seq, reason, time_ms) VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_REJECTION_TRIM, "DELETE FROM rejections WHERE id <= ?1"},
};
const size_t ledger_message__sql_count = sizeof ledger_message__sql / sizeof ledger_message__sql[0];

/* Copies a stored receipt into the caller's buffer. */
static fogpay_error message__copy_receipt(sqlite3_stmt *s, uint8_t *receipt, size_t cap,
                                          size_t *receipt_len)
{
    const void *stored = sqlite3_column_blob(s, 1);
    int stored_len = sqlite3_column_bytes(s, 1);
    if (stored_len < 0 || stored_len > FOGPAY_MESSAGE_MAX) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    *receipt_len = (size_t)stored_len;
    if ((size_t)stored_len > cap) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    if (stored_len > 0) {
        memcpy(receipt, stored, (size_t)stored_len);
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_message_lookup(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                          const uint8_t hash[FOGPAY_HASH_BYTES], uint8_t *receipt,
                                          size_t cap, size_t *receipt_len)
{
    if (l == NULL || hash == NULL || receipt_len == NULL || (receipt == NULL && cap > 0)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    *receipt_len = 0;
    if (seq == 0 || seq > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_LOOKUP);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, seq);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        const void *stored_hash = sqlite3_column_blob(s, 0);
        if (sqlite3_column_bytes(s, 0) != FOGPAY_HASH_BYTES || stored_hash == NULL) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else if (memcmp(stored_hash, hash, FOGPAY_HASH_BYTES) != 0) {
            err = FOGPAY_ERR_SEQ_CONFLICT;
        } else {
            err = message__copy_receipt(s, receipt, cap, receipt_len);
        }
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* Whether the device's recorded message just below seq links: its hash
 * begins with prev, or there is none and prev is all zeros. */
static fogpay_error message__links(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                   const uint8_t prev[FOGPAY_PREV_HASH_BYTES], bool *links)
{
    static const uint8_t first[FOGPAY_PREV_HASH_BYTES] = {0};
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_BEFORE);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, seq);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        const void *hash = sqlite3_column_blob(s, 0);
        if (hash == NULL || sqlite3_column_bytes(s, 0) != FOGPAY_HASH_BYTES) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            *links = memcmp(hash, prev, FOGPAY_PREV_HASH_BYTES) == 0;
        }
    } else if (rc == SQLITE_DONE) {
        *links = memcmp(first, prev, FOGPAY_PREV_HASH_BYTES) == 0;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* Whether the device has a recorded message at seq or above. */
static fogpay_error message__has_from(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                      bool *found)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_FROM);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, seq);
    int rc = ledger__step(l, s);
    *found = rc == SQLITE_ROW;
    fogpay_error err = rc == SQLITE_ROW || rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
    ledger__finish(s);
    return err;
}

fogpay_error fogpay_ledger_message_link(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                        const uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    if (l == NULL || prev == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK && (seq == 0 || seq > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    bool links = false;
    bool later = false;
    if (err == FOGPAY_OK) {
        err = message__links(l, device_id, seq, prev, &links);
    }
    if (err == FOGPAY_OK) {
        err = message__has_from(l, device_id, seq, &later);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (links) {
        return later ? FOGPAY_ERR_CHAIN_FORK : FOGPAY_OK;
    }
    return later ? FOGPAY_ERR_SEQ_CONFLICT : FOGPAY_ERR_CHAIN_GAP;
}

fogpay_error fogpay_ledger_message_head(fogpay_ledger *l, const char *device_id, uint64_t *seq,
                                        uint8_t hash[FOGPAY_HASH_BYTES])
{
    if (l == NULL || seq == NULL || hash == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_HEAD);
    ledger__bind_text(l, s, 1, device_id);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(s, 1);
        int64_t stored_seq = sqlite3_column_int64(s, 0);
        if (stored == NULL || sqlite3_column_bytes(s, 1) != FOGPAY_HASH_BYTES || stored_seq < 1) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            *seq = (uint64_t)stored_seq;
            memcpy(hash, stored, FOGPAY_HASH_BYTES);
        }
    } else {
        err = rc == SQLITE_DONE ? FOGPAY_ERR_NOT_FOUND : ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error fogpay_ledger_message_record(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                          uint8_t kind, const uint8_t hash[FOGPAY_HASH_BYTES],
                                          uint8_t status, uint16_t reason, uint64_t position,
                                          const uint8_t *receipt, size_t receipt_len,
                                          uint64_t now_ms)
{
    if (l == NULL || hash == NULL || receipt == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK &&
        (seq == 0 || seq > LEDGER_INT_MAX || kind > FOGPAY_RECEIPT_USAGE ||
         status > FOGPAY_STATUS_STORED || position > LEDGER_INT_MAX || receipt_len == 0 ||
         receipt_len > FOGPAY_MESSAGE_MAX || now_ms > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_INSERT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, seq);
    ledger__bind_int64(l, s, 3, kind);
    ledger__bind_blob(l, s, 4, hash, FOGPAY_HASH_BYTES);
    ledger__bind_int64(l, s, 5, status);
    ledger__bind_int64(l, s, 6, reason);
    if (position != 0) {
        ledger__bind_u64(l, s, 7, position);
    } else {
        ledger__bind_null(l, s, 7);
    }
    ledger__bind_blob(l, s, 8, receipt, receipt_len);
    ledger__bind_u64(l, s, 9, now_ms);
    /* A repeat is FOGPAY_ERR_EXISTS; an unknown device or position
     * FOGPAY_ERR_NOT_FOUND (foreign keys). */
    err = ledger__exec(l, s);
    return ledger__op_end(l, &op, err);
}

/* Appends the event of a stored reading; hash is the signed reading's. */
static fogpay_error message__usage_event(fogpay_ledger *l, const fogpay_usage *usage,
                                         const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_USAGE;
    e.time_ms = now_ms;
    memcpy(e.device_id, usage->device_id, sizeof e.device_id);
    e.seq = usage->seq;
    memcpy(e.meter_id, usage->meter_id, sizeof e.meter_id);
    e.quantity = usage->quantity;
    memcpy(e.unit, usage->unit, sizeof e.unit);
    memcpy(e.usage_hash, hash, FOGPAY_HASH_BYTES);
    return ledger__event_append(l, &e);
}

fogpay_error fogpay_ledger_store_usage(fogpay_ledger *l, const fogpay_usage *usage,
                                       const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms)
{
    if (l == NULL || usage == NULL || hash == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (memchr(usage->device_id, '\0', sizeof usage->device_id) == NULL ||
        memchr(usage->meter_id, '\0', sizeof usage->meter_id) == NULL ||
        memchr(usage->unit, '\0', sizeof usage->unit) == NULL) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err = ledger__check_text(usage->device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__check_text(usage->meter_id, FOGPAY_METER_ID_MAX);
    }
    if (err == FOGPAY_OK) {
        err = ledger__check_text(usage->unit, FOGPAY_UNIT_MAX);
    }
    if (err == FOGPAY_OK &&
        (usage->seq == 0 || usage->seq > LEDGER_INT_MAX || usage->quantity > LEDGER_INT_MAX ||
         usage->created_s > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_USAGE_INSERT);
    ledger__bind_text(l, s, 1, usage->device_id);
    ledger__bind_u64(l, s, 2, usage->seq);
    ledger__bind_text(l, s, 3, usage->meter_id);
    ledger__bind_u64(l, s, 4, usage->quantity);
    ledger__bind_text(l, s, 5, usage->unit);
    ledger__bind_u64(l, s, 6, usage->created_s);
    ledger__bind_blob(l, s, 7, hash, FOGPAY_HASH_BYTES);
    ledger__bind_u64(l, s, 8, now_ms);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        err = message__usage_event(l, usage, hash, now_ms);
    }
    return ledger__op_end(l, &op, err);
}

/* The stored prefix of a client id: at most
 * FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX bytes, cut before a UTF-8
 * continuation byte so a multi-byte character is never split. */
static void message__client_prefix(const char *client_id,
                                   char out[FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX + 1])
{
    size_t len = strnlen(client_id, FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX + 1);
    if (len > FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX) {
        len = FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX;
        while (len > 0 && ((unsigned char)client_id[len] & 0xc0) == 0x80) {
            len--;
        }
    }
    memcpy(out, client_id, len);
    out[len] = '\0';
}

fogpay_error fogpay_ledger_rejection_log(fogpay_ledger *l, const char *client_id, uint64_t seq,
                                         fogpay_error reason, uint64_t now_ms)
{
    if (l == NULL || client_id == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    char client[FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX + 1];
    message__client_prefix(client_id, client);
    /* A refused message may carry any seq; the log keeps it saturated. */
    uint64_t stored_seq = seq > LEDGER_INT_MAX ? LEDGER_INT_MAX : seq;
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_REJECTION_INSERT);
    ledger__bind_text(l, s, 1, client);
    ledger__bind_u64(l, s, 2, stored_seq);
    ledger__bind_int64(l, s, 3, (int64_t)reason);
    ledger__bind_u64(l, s, 4, now_ms);
    err = ledger__exec(l, s);
    /* Row ids grow by one per insert, so the newest rows are the last
     * FOGPAY_LEDGER_REJECTIONS_MAX ids. */
    sqlite3_int64 oldest_kept = sqlite3_last_insert_rowid(l->db) - FOGPAY_LEDGER_REJECTIONS_MAX + 1;
    if (err == FOGPAY_OK && oldest_kept > 1) {
        s = ledger__stmt(l, LEDGER_STMT_REJECTION_TRIM);
        ledger__bind_int64(l, s, 1, oldest_kept - 1);
        err = ledger__exec(l, s);
    }
    return ledger__op_end(l, &op, err);
}
