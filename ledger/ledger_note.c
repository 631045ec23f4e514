/*
 * ledger_note.c - bearer notes: the register, the stock and the chain of
 * note movements (ledger_note.h, schemas/ledger.sql: notes, note_movements).
 *
 * Design. The chain of movements is a descriptor of the one chain
 * mechanism (ledger_chain.c); its record is the movement, and the row keeps
 * beside it the signed custody entry that made the movement, for the
 * note's history. A load checks every note as a receiver must (issuer,
 * signature, denomination, expiry, the issuer's custody entry to this
 * gateway, a serial new to the register) inside one write operation, so
 * that a refusal of any note loads none.
 *
 * Ownership. Nothing here allocates; blobs are bound without copying and
 * the statements finished before return.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "ledger_internal.h"
#include "ledger_note.h"

const ledger_stmt_sql ledger_note__sql[] = {
    {LEDGER_STMT_NOTE_GET, "SELECT state FROM notes WHERE serial = ?1"},
    {LEDGER_STMT_NOTE_INSERT,
     "INSERT INTO notes (serial, issuer_kid, currency, denomination_minor, expiry_s, note, "
     "holder_key, holder_device, last_link, state, movement) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    {LEDGER_STMT_NOTE_STOCK,
     "SELECT currency, denomination_minor, count(*) FROM notes WHERE state = 0 "
     "GROUP BY currency, denomination_minor ORDER BY currency, denomination_minor"},
    {LEDGER_STMT_NOTE_MOVEMENT_HEAD,
     "SELECT position, hash FROM note_movements ORDER BY position DESC LIMIT 1"},
    {LEDGER_STMT_NOTE_MOVEMENT_INSERT,
     "INSERT INTO note_movements (position, kind, time_ms, serial, custody, record, hash) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {LEDGER_STMT_NOTE_MOVEMENT_GET,
     "SELECT position, kind, time_ms, serial, record, hash FROM note_movements "
     "WHERE position = ?1"},
};
const size_t ledger_note__sql_count = sizeof ledger_note__sql / sizeof ledger_note__sql[0];

/* A movement on its way into the chain, with the custody entry its row
 * keeps (NULL when read back: the record is what the chain holds). */
typedef struct note_movement_row {
    fogpay_note_movement m;
    const uint8_t *custody;
    size_t custody_len;
} note_movement_row;

static fogpay_error movement__check(const void *record, uint64_t head)
{
    (void)head;
    const note_movement_row *r = record;
    return r->m.time_ms > LEDGER_INT_MAX ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

static fogpay_error movement__encode(const void *record, uint8_t *out, size_t cap, size_t *len)
{
    return fogpay_note_movement_encode(&((const note_movement_row *)record)->m, out, cap, len);
}

static void movement__bind(fogpay_ledger *l, sqlite3_stmt *s, const void *record)
{
    const note_movement_row *r = record;
    ledger__bind_u64(l, s, 1, r->m.position);
    ledger__bind_int64(l, s, 2, r->m.kind);
    ledger__bind_u64(l, s, 3, r->m.time_ms);
    ledger__bind_blob(l, s, 4, r->m.serial, sizeof r->m.serial);
    ledger__bind_blob(l, s, 5, r->custody, r->custody_len);
}

/* Decodes the row's record and requires its own columns to agree. */
static fogpay_error movement__read(fogpay_ledger *l, sqlite3_stmt *s, void *record,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)l;
    note_movement_row *r = record;
    memset(r, 0, sizeof *r);
    const uint8_t *stored = sqlite3_column_blob(s, 4);
    int stored_len = sqlite3_column_bytes(s, 4);
    const void *serial = sqlite3_column_blob(s, 3);
    const void *stored_hash = sqlite3_column_blob(s, 5);
    if (stored == NULL || stored_len < 1 || stored_len > FOGPAY_RECORD_BYTES_MAX ||
        fogpay_note_movement_decode(stored, (size_t)stored_len, &r->m) != FOGPAY_OK ||
        serial == NULL || sqlite3_column_bytes(s, 3) != FOGPAY_NOTE_SERIAL_BYTES ||
        stored_hash == NULL || sqlite3_column_bytes(s, 5) != FOGPAY_HASH_BYTES) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (sqlite3_column_int64(s, 0) != (int64_t)r->m.position ||
        sqlite3_column_int64(s, 1) != (int64_t)r->m.kind ||
        sqlite3_column_int64(s, 2) != (int64_t)r->m.time_ms ||
        memcmp(serial, r->m.serial, FOGPAY_NOTE_SERIAL_BYTES) != 0) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    memcpy(hash, stored_hash, FOGPAY_HASH_BYTES);
    return FOGPAY_OK;
}

const ledger_chain ledger_note_movement_chain = {
    .name = "note movement",
    .head = LEDGER_STMT_NOTE_MOVEMENT_HEAD,
    .get = LEDGER_STMT_NOTE_MOVEMENT_GET,
    .insert = LEDGER_STMT_NOTE_MOVEMENT_INSERT,
    .record_param = 6,
    .record_size = sizeof(note_movement_row),
    .position_offset = offsetof(note_movement_row, m.position),
    .check = movement__check,
    .encode = movement__encode,
    .bind = movement__bind,
    .read = movement__read,
};

fogpay_error fogpay_ledger_note_movement_head(fogpay_ledger *l, uint64_t *position,
                                              uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__chain_head_public(l, &ledger_note_movement_chain, position, hash);
}

/* Whether serial is in the register (in any state). */
static fogpay_error note__known(fogpay_ledger *l, const uint8_t *serial, bool *known)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_GET);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = ledger__step(l, s);
    fogpay_error err = rc == SQLITE_ROW || rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
    *known = rc == SQLITE_ROW;
    ledger__finish(s);
    return err;
}

/* A note as it enters the register, checked. */
typedef struct note_entry {
    fogpay_note note;
    const fogpay_note_issuer *issuer;
    uint8_t link[FOGPAY_HASH_BYTES]; /* of the custody entry that named the holder */
} note_entry;

/* Checks one note of a load: it opens, its issuer hands it to holder_key,
 * its serial is new. */
static fogpay_error load__check(fogpay_ledger *l, const fogpay_note_issuers *issuers,
                                const char *holder_key, const fogpay_held_note *h, uint64_t now_ms,
                                note_entry *e)
{
    fogpay_error err =
        fogpay_note_open(h->note, h->note_len, issuers, now_ms / 1000u, &e->note, &e->issuer);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (h->custody_len == 0) {
        return FOGPAY_ERR_CUSTODY_OTHER_HOLDER; /* the issuer holds it still */
    }
    uint8_t note_link[FOGPAY_HASH_BYTES];
    fogpay_custody c;
    err = fogpay_note_link(h->note, h->note_len, note_link);
    if (err == FOGPAY_OK) {
        err = fogpay_custody_open(h->custody, h->custody_len, e->issuer->key, e->note.serial,
                                  note_link, &c);
    }
    if (err == FOGPAY_OK && strcmp(c.holder_key, holder_key) != 0) {
        err = FOGPAY_ERR_CUSTODY_OTHER_HOLDER;
    }
    bool known = false;
    if (err == FOGPAY_OK) {
        err = note__known(l, e->note.serial, &known);
    }
    if (err == FOGPAY_OK && known) {
        err = FOGPAY_ERR_NOTE_SERIAL_SEEN;
    }
    return err == FOGPAY_OK ? fogpay_note_link(h->custody, h->custody_len, e->link) : err;
}

/* Inserts the register's row of a note at movement position. */
static fogpay_error note__insert(fogpay_ledger *l, const note_entry *e, const fogpay_held_note *h,
                                 const char *holder_key, uint64_t position)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_INSERT);
    ledger__bind_blob(l, s, 1, e->note.serial, FOGPAY_NOTE_SERIAL_BYTES);
    ledger__bind_blob(l, s, 2, e->issuer->kid, FOGPAY_KID_BYTES);
    ledger__bind_int64(l, s, 3, e->note.currency);
    ledger__bind_u64(l, s, 4, e->note.denomination_minor);
    if (e->note.expiry_s != 0) {
        ledger__bind_u64(l, s, 5, e->note.expiry_s);
    }
    ledger__bind_blob(l, s, 6, h->note, h->note_len);
    ledger__bind_text(l, s, 7, holder_key);
    ledger__bind_blob(l, s, 9, e->link, FOGPAY_HASH_BYTES);
    ledger__bind_int64(l, s, 10, 0); /* in stock */
    ledger__bind_u64(l, s, 11, position);
    return ledger__exec(l, s);
}

/* Loads one checked note: its movement onto the chain, its row. */
static fogpay_error load__one(fogpay_ledger *l, const note_entry *e, const fogpay_held_note *h,
                              const char *holder_key, const uint8_t kid[FOGPAY_KID_BYTES],
                              uint64_t now_ms)
{
    note_movement_row r;
    memset(&r, 0, sizeof r);
    r.m.kind = FOGPAY_NOTE_LOADED;
    r.m.time_ms = now_ms;
    memcpy(r.m.serial, e->note.serial, FOGPAY_NOTE_SERIAL_BYTES);
    memcpy(r.m.link, e->link, FOGPAY_HASH_BYTES);
    memcpy(r.m.holder_kid, kid, FOGPAY_KID_BYTES);
    r.custody = h->custody;
    r.custody_len = h->custody_len;
    /* The row first, naming the movement about to be appended: the
     * movement references the note. */
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_error err = ledger__chain_head_of(l, &ledger_note_movement_chain, &head, hash);
    if (err == FOGPAY_OK) {
        err = note__insert(l, e, h, holder_key, head + 1);
    }
    if (err == FOGPAY_OK) {
        err = ledger__chain_append(l, &ledger_note_movement_chain, &r);
    }
    assert(err != FOGPAY_OK || r.m.position == head + 1);
    return err;
}

/* The key id of a public key text. */
static fogpay_error note__kid(const char *public_text, uint8_t kid[FOGPAY_KID_BYTES])
{
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_from_public_text(public_text, &key);
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(key, kid);
    }
    fogpay_key_free(key);
    return err;
}

fogpay_error fogpay_ledger_note_load(fogpay_ledger *l, const fogpay_note_issuers *issuers,
                                     const char *holder_key, const fogpay_held_note *notes,
                                     size_t count, uint64_t now_ms, size_t *refused)
{
    if (l == NULL || issuers == NULL || holder_key == NULL || notes == NULL || refused == NULL ||
        count == 0) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (count > FOGPAY_LEDGER_NOTE_LOAD_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = note__kid(holder_key, kid);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        note_entry e;
        err = load__check(l, issuers, holder_key, &notes[i], now_ms, &e);
        if (err == FOGPAY_OK) {
            err = load__one(l, &e, &notes[i], holder_key, kid, now_ms);
        }
        if (err != FOGPAY_OK) {
            *refused = i;
        }
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_note_stock(fogpay_ledger *l, fogpay_note_stock_visit visit, void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_STOCK);
    fogpay_error err = FOGPAY_OK;
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc != SQLITE_ROW) {
            err = rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
            break;
        }
        int64_t currency = sqlite3_column_int64(s, 0);
        int64_t denomination = sqlite3_column_int64(s, 1);
        int64_t n = sqlite3_column_int64(s, 2);
        if (currency < FOGPAY_CURRENCY_MIN || currency > FOGPAY_CURRENCY_MAX || denomination < 1 ||
            n < 1) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        if (visit(ctx, (uint16_t)currency, (uint64_t)denomination, (uint64_t)n) != 0) {
            break;
        }
    }
    ledger__finish(s);
    return err;
}
