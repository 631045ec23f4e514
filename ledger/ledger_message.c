/*
 * ledger_message.c - what the ledger keeps of device messages: the answer
 * to every (device, seq) with its signed receipt, usage readings, and the
 * bounded log of refused messages.
 *
 * Design. Exactly once rests on the messages table: its primary key is
 * (device_id, seq), a repeat of the same message (same hash) is answered
 * with the stored receipt bytes, and the same seq with another hash is a
 * conflict. A receipt is stored without the two 32-byte values the ledger
 * holds already and a receipt carries (the message's hash, in the same row,
 * and its transfer's chain hash, in the transfer's row): their offsets are
 * kept instead and a lookup puts them back, so the bytes answered are the
 * bytes recorded. A receipt that carries neither is stored whole.
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
     "SELECT m.hash, m.receipt, m.hash_at, m.chain_hash_at, t.hash FROM messages AS m "
     "LEFT JOIN transfers AS t ON t.position = m.position WHERE m.device_id = ?1 AND m.seq = ?2"},
    {LEDGER_STMT_MESSAGE_LAST_SEQ,
     "SELECT coalesce(max(seq), 0) FROM messages WHERE device_id = ?1"},
    {LEDGER_STMT_MESSAGE_BEFORE,
     "SELECT hash FROM messages WHERE device_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1"},
    {LEDGER_STMT_MESSAGE_FROM, "SELECT 1 FROM messages WHERE device_id = ?1 AND seq >= ?2 LIMIT 1"},
    {LEDGER_STMT_MESSAGE_HEAD,
     "SELECT seq, hash FROM messages WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1"},
    {LEDGER_STMT_MESSAGE_INSERT,
     "INSERT INTO messages (device_id, seq, kind, hash, status, reason, position, receipt, "
     "time_ms, hash_at, chain_hash_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    {LEDGER_STMT_USAGE_INSERT,
     "INSERT INTO usage_readings (device_id, seq, meter_id, quantity, unit, created_s, hash, "
     "time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {LEDGER_STMT_REJECTION_INSERT,
     "INSERT INTO rejections (client_id, seq, reason, time_ms) VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_REJECTION_TRIM, "DELETE FROM rejections WHERE id <= ?1"},
};
const size_t ledger_message__sql_count = sizeof ledger_message__sql / sizeof ledger_message__sql[0];

/* A 32-byte value cut out of a stored receipt: where it goes back, in the
 * receipt as recorded (at is -1 when nothing was cut). */
typedef struct message_cut {
    int64_t at;
    const uint8_t *bytes;
} message_cut;

/* The offset of needle (FOGPAY_HASH_BYTES) in hay[from, to), or -1. */
static int64_t message__find(const uint8_t *hay, size_t from, size_t to, const uint8_t *needle)
{
    for (size_t i = from; needle != NULL && i + FOGPAY_HASH_BYTES <= to; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, FOGPAY_HASH_BYTES) == 0) {
            return (int64_t)i;
        }
    }
    return -1;
}

/* Where the message's hash and the chain hash sit in receipt: cut[0] the
 * hash, cut[1] the chain hash (may be NULL), not overlapping the first. */
static void message__cuts(const uint8_t *receipt, size_t len, const uint8_t *hash,
                          const uint8_t *chain_hash, message_cut cut[2])
{
    cut[0] = (message_cut){message__find(receipt, 0, len, hash), hash};
    cut[1] = (message_cut){-1, chain_hash};
    if (cut[0].at < 0) {
        cut[1].at = message__find(receipt, 0, len, chain_hash);
        return;
    }
    size_t a = (size_t)cut[0].at;
    cut[1].at = message__find(receipt, 0, a, chain_hash);
    if (cut[1].at < 0) {
        cut[1].at = message__find(receipt, a + FOGPAY_HASH_BYTES, len, chain_hash);
    }
}

/* Copies receipt without the cuts' bytes into rest; its length. */
static size_t message__cut_out(const uint8_t *receipt, size_t len, const message_cut cut[2],
                               uint8_t *rest)
{
    int64_t at[2] = {cut[0].at, cut[1].at};
    if (at[0] < 0 || (at[1] >= 0 && at[1] < at[0])) {
        at[0] = cut[1].at;
        at[1] = cut[0].at;
    }
    size_t from = 0, n = 0;
    for (int i = 0; i < 2; i++) {
        if (at[i] >= 0) {
            memcpy(rest + n, receipt + from, (size_t)at[i] - from);
            n += (size_t)at[i] - from;
            from = (size_t)at[i] + FOGPAY_HASH_BYTES;
        }
    }
    memcpy(rest + n, receipt + from, len - from);
    return n + len - from;
}

/* Rebuilds the receipt from the stored rest and the cuts (either order,
 * absent ones at -1) into out (capacity cap); *len is its length.
 * FOGPAY_ERR_LEDGER_CORRUPT for offsets that do not fit the rest. */
static fogpay_error message__splice(const uint8_t *rest, size_t rest_len, message_cut cut[2],
                                    uint8_t *out, size_t cap, size_t *len)
{
    if (cut[0].at >= 0 && cut[1].at >= 0 && cut[1].at < cut[0].at) {
        message_cut first = cut[1];
        cut[1] = cut[0];
        cut[0] = first;
    }
    size_t total = rest_len + FOGPAY_HASH_BYTES * (size_t)((cut[0].at >= 0) + (cut[1].at >= 0));
    *len = total;
    if (total > FOGPAY_MESSAGE_MAX) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (total > cap) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    size_t done = 0, taken = 0;
    for (int i = 0; i < 2; i++) {
        if (cut[i].at < 0) {
            continue;
        }
        size_t at = (size_t)cut[i].at;
        if (cut[i].bytes == NULL || at < done || at - done > rest_len - taken) {
            return FOGPAY_ERR_LEDGER_CORRUPT;
        }
        if (at > done) {
            memcpy(out + done, rest + taken, at - done);
        }
        taken += at - done;
        memcpy(out + at, cut[i].bytes, FOGPAY_HASH_BYTES);
        done = at + FOGPAY_HASH_BYTES;
    }
    if (rest_len > taken) {
        memcpy(out + done, rest + taken, rest_len - taken);
    }
    return FOGPAY_OK;
}

/* Copies a stored receipt into the caller's buffer: the rest (column 1)
 * with the message's hash (column 0) at column 2's offset and the chain
 * hash of its transfer (column 4) at column 3's. */
static fogpay_error message__copy_receipt(sqlite3_stmt *s, uint8_t *receipt, size_t cap,
                                          size_t *receipt_len)
{
    const uint8_t *rest = sqlite3_column_blob(s, 1);
    int rest_len = sqlite3_column_bytes(s, 1);
    message_cut cut[2] = {{-1, sqlite3_column_blob(s, 0)}, {-1, NULL}};
    for (int i = 0; i < 2; i++) {
        if (sqlite3_column_type(s, 2 + i) != SQLITE_NULL) {
            cut[i].at = sqlite3_column_int64(s, 2 + i);
        }
    }
    if (sqlite3_column_bytes(s, 4) == FOGPAY_HASH_BYTES) {
        cut[1].bytes = sqlite3_column_blob(s, 4);
    }
    if (rest_len < 0 || rest_len > FOGPAY_MESSAGE_MAX || (rest == NULL && rest_len > 0) ||
        cut[0].at > FOGPAY_MESSAGE_MAX || cut[1].at > FOGPAY_MESSAGE_MAX) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    return message__splice(rest, (size_t)rest_len, cut, receipt, cap, receipt_len);
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
    /* Past the device's highest answered seq nothing can be found. */
    ledger_hot_device *d = NULL;
    uint64_t last = 0;
    if (ledger__hot_device(l, device_id, &d) == FOGPAY_OK &&
        ledger__hot_last_seq(l, d, &last) == FOGPAY_OK && seq > last) {
        return FOGPAY_ERR_NOT_FOUND;
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
        (seq == 0 || seq > LEDGER_INT_MAX || kind > FOGPAY_RECEIPT_NOTE_REDEEM ||
         status > FOGPAY_STATUS_HELD || position > LEDGER_INT_MAX || receipt_len == 0 ||
         receipt_len > FOGPAY_MESSAGE_MAX || now_ms > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    /* The chain hash of a position that holds no transfer is left in the
     * receipt: the insert then fails on the foreign key. */
    uint8_t chain_hash[FOGPAY_HASH_BYTES];
    bool chained = position != 0 && ledger__transfer_hash(l, position, chain_hash) == FOGPAY_OK;
    message_cut cut[2];
    message__cuts(receipt, receipt_len, hash, chained ? chain_hash : NULL, cut);
    uint8_t rest[FOGPAY_MESSAGE_MAX];
    size_t rest_len = message__cut_out(receipt, receipt_len, cut, rest);
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
    if (rest_len > 0) {
        ledger__bind_blob(l, s, 8, rest, rest_len);
    } else if (l->bind_rc == SQLITE_OK) {
        l->bind_rc = sqlite3_bind_zeroblob(s, 8, 0);
    }
    ledger__bind_u64(l, s, 9, now_ms);
    for (int i = 0; i < 2; i++) {
        if (cut[i].at >= 0) {
            ledger__bind_int64(l, s, 10 + i, cut[i].at);
        } else {
            ledger__bind_null(l, s, 10 + i);
        }
    }
    /* A repeat is FOGPAY_ERR_EXISTS; an unknown device or position
     * FOGPAY_ERR_NOT_FOUND (foreign keys). */
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        ledger__hot_message(l, device_id, seq);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error ledger__last_seq_db(fogpay_ledger *l, const char *device_id, uint64_t *seq)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_MESSAGE_LAST_SEQ);
    ledger__bind_text(l, s, 1, device_id);
    return ledger__scalar(l, s, seq);
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
