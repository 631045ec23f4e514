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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cose.h"
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
    {LEDGER_STMT_NOTE_PICK,
     "SELECT serial, note, last_link FROM notes WHERE state = 0 AND currency = ?1 "
     "AND denomination_minor = ?2 AND holder_key = ?3 ORDER BY serial LIMIT ?4"},
    {LEDGER_STMT_NOTE_HAND_OUT,
     "UPDATE notes SET state = 1, holder_key = ?2, holder_device = ?3, last_link = ?4, "
     "movement = ?5 WHERE serial = ?1 AND state = 0"},
    {LEDGER_STMT_NOTE_BYTES, "SELECT note FROM notes WHERE serial = ?1"},
    {LEDGER_STMT_NOTE_LINK, "SELECT last_link FROM notes WHERE serial = ?1"},
    {LEDGER_STMT_NOTE_WITHDRAWN,
     "SELECT m.position, m.kind, m.time_ms, m.serial, m.record, m.hash FROM notes AS n "
     "JOIN note_movements AS m ON m.position = n.movement WHERE n.holder_device = ?1 "
     "AND n.state = 1 AND m.kind = 1 ORDER BY m.position"},
    {LEDGER_STMT_NOTE_BACK,
     "UPDATE notes SET state = 0, holder_key = ?2, holder_device = ?3, last_link = ?4, "
     "movement = ?5 WHERE serial = ?1 AND state = 1"},
    {LEDGER_STMT_NOTE_PASS_ON,
     "UPDATE notes SET holder_key = ?2, holder_device = ?3, last_link = ?4, movement = ?5 "
     "WHERE serial = ?1 AND state = 1"},
    {LEDGER_STMT_NOTE_RETURNABLE,
     "SELECT n.serial FROM notes AS n JOIN note_movements AS m ON m.position = n.movement "
     "WHERE n.state = 0 AND n.holder_key = ?1 AND m.kind = 3 ORDER BY n.serial LIMIT ?2"},
    {LEDGER_STMT_NOTE_RETURN,
     "UPDATE notes SET state = 2, holder_key = ?2, holder_device = NULL, last_link = ?3, "
     "movement = ?4 WHERE serial = ?1 AND state = 0"},
    {LEDGER_STMT_NOTE_ENTRY,
     "SELECT issuer_kid, currency, denomination_minor, expiry_s, holder_key, holder_device, "
     "state, movement FROM notes WHERE serial = ?1"},
    {LEDGER_STMT_NOTE_HISTORY,
     "SELECT position, kind, time_ms, serial, record, hash FROM note_movements "
     "WHERE serial = ?1 ORDER BY position LIMIT ?2"},
    {LEDGER_STMT_NOTE_HELD, "SELECT n.note, m.custody FROM notes AS n JOIN note_movements AS m "
                            "ON m.position = n.movement WHERE n.serial = ?1"},
    {LEDGER_STMT_NOTE_HELD_SUM,
     "SELECT coalesce(sum(denomination_minor), 0) FROM notes WHERE state = 1 "
     "AND holder_device = ?1 AND currency = ?2"},
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

fogpay_error ledger__note_movement_read(sqlite3_stmt *s, fogpay_note_movement *m,
                                        uint8_t hash[FOGPAY_HASH_BYTES], const uint8_t **record,
                                        size_t *record_len)
{
    memset(m, 0, sizeof *m);
    const uint8_t *stored = sqlite3_column_blob(s, 4);
    int stored_len = sqlite3_column_bytes(s, 4);
    const void *serial = sqlite3_column_blob(s, 3);
    const void *stored_hash = sqlite3_column_blob(s, 5);
    if (stored == NULL || stored_len < 1 || stored_len > FOGPAY_RECORD_BYTES_MAX ||
        fogpay_note_movement_decode(stored, (size_t)stored_len, m) != FOGPAY_OK || serial == NULL ||
        sqlite3_column_bytes(s, 3) != FOGPAY_NOTE_SERIAL_BYTES || stored_hash == NULL ||
        sqlite3_column_bytes(s, 5) != FOGPAY_HASH_BYTES) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (sqlite3_column_int64(s, 0) != (int64_t)m->position ||
        sqlite3_column_int64(s, 1) != (int64_t)m->kind ||
        sqlite3_column_int64(s, 2) != (int64_t)m->time_ms ||
        memcmp(serial, m->serial, FOGPAY_NOTE_SERIAL_BYTES) != 0) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    memcpy(hash, stored_hash, FOGPAY_HASH_BYTES);
    if (record != NULL) {
        *record = stored;
        *record_len = (size_t)stored_len;
    }
    return FOGPAY_OK;
}

static fogpay_error movement__read(fogpay_ledger *l, sqlite3_stmt *s, void *record,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)l;
    note_movement_row *r = record;
    memset(r, 0, sizeof *r);
    return ledger__note_movement_read(s, &r->m, hash, NULL, NULL);
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

/* ---- withdrawal ----------------------------------------------------------- */

/* A withdrawal on its way: the device's key, the notes chosen. */
typedef struct withdraw_state {
    char device_key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint8_t device_kid[FOGPAY_KID_BYTES];
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    size_t count;
    uint8_t serial[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t last_link[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_HASH_BYTES];
} withdraw_state;

/* The device's status as a refusal, its key as text and kid, and its
 * wallet limit. */
static fogpay_error withdraw__device(fogpay_ledger *l, const char *device_id, withdraw_state *w,
                                     uint64_t *wallet_max)
{
    fogpay_device d;
    fogpay_error err = fogpay_ledger_device_get(l, device_id, &d);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_UNKNOWN_DEVICE;
    }
    if (err == FOGPAY_OK && d.status != FOGPAY_DEVICE_ACTIVE) {
        err = d.status == FOGPAY_DEVICE_SUSPENDED ? FOGPAY_ERR_DEVICE_SUSPENDED
                                                  : FOGPAY_ERR_DEVICE_REVOKED;
    }
    fogpay_key *key = NULL;
    if (err == FOGPAY_OK) {
        err = fogpay_key_from_public((fogpay_alg)d.alg, d.public_key, d.public_key_len, &key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(key, w->device_key, sizeof w->device_key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(key, w->device_kid);
    }
    fogpay_key_free(key);
    *wallet_max = d.limits.wallet_max_minor;
    return err;
}

/* Takes up to want notes of one denomination from the stock into w. */
static fogpay_error withdraw__take(fogpay_ledger *l, withdraw_state *w, uint16_t currency,
                                   uint64_t denomination, uint64_t want, uint64_t *taken)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_PICK);
    ledger__bind_int64(l, s, 1, currency);
    ledger__bind_u64(l, s, 2, denomination);
    ledger__bind_text(l, s, 3, w->gateway_text);
    ledger__bind_u64(l, s, 4, want);
    fogpay_error err = FOGPAY_OK;
    *taken = 0;
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc != SQLITE_ROW) {
            err = rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
            break;
        }
        if (w->count >= FOGPAY_NOTE_WITHDRAW_MAX || sqlite3_column_bytes(s, 0) != 16 ||
            sqlite3_column_bytes(s, 2) != FOGPAY_HASH_BYTES) {
            err = w->count >= FOGPAY_NOTE_WITHDRAW_MAX ? FOGPAY_ERR_NOTE_STOCK_SHORT
                                                       : FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        memcpy(w->serial[w->count], sqlite3_column_blob(s, 0), FOGPAY_NOTE_SERIAL_BYTES);
        memcpy(w->last_link[w->count], sqlite3_column_blob(s, 2), FOGPAY_HASH_BYTES);
        w->count++;
        (*taken)++;
    }
    ledger__finish(s);
    return err;
}

/* Chooses notes that make amount exactly, the largest first. */
static fogpay_error withdraw__choose(fogpay_ledger *l, withdraw_state *w, uint16_t currency,
                                     uint64_t amount_minor)
{
    const uint64_t *list = NULL;
    size_t n = fogpay_note_denominations(currency, &list);
    uint64_t need = amount_minor;
    fogpay_error err = FOGPAY_OK;
    for (size_t i = n; err == FOGPAY_OK && i > 0 && need > 0; i--) {
        uint64_t want = need / list[i - 1];
        uint64_t taken = 0;
        if (want > 0) {
            want = want > FOGPAY_NOTE_WITHDRAW_MAX ? FOGPAY_NOTE_WITHDRAW_MAX + 1 : want;
            err = withdraw__take(l, w, currency, list[i - 1], want, &taken);
        }
        need -= taken * list[i - 1];
    }
    return err == FOGPAY_OK && need != 0 ? FOGPAY_ERR_NOTE_STOCK_SHORT : err;
}

/* The kind 14 transfer of the withdrawal, appended. */
static fogpay_error withdraw__transfer(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                       uint64_t amount_minor, uint64_t seq, const uint8_t *hash,
                                       uint64_t now_ms, fogpay_note_withdrawal *out)
{
    ledger_account wallet;
    ledger_account notes;
    fogpay_transfer *t = &out->transfer;
    memset(t, 0, sizeof *t);
    fogpay_error err = ledger__account_find(l, LEDGER_ACCOUNT_WALLET, device_id, currency, &wallet);
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && wallet.balance < (int64_t)amount_minor)) {
        return FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_NOTES, NULL, currency, &notes);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &wallet, now_ms, t->payer_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = FOGPAY_TRANSFER_NOTE_WITHDRAWAL;
    t->debit_account = wallet.id;
    t->credit_account = notes.id;
    t->amount_minor = amount_minor;
    t->currency = currency;
    t->time_ms = now_ms;
    if (seq != 0) {
        snprintf(t->device_id, sizeof t->device_id, "%s", device_id);
        t->seq = seq;
        memcpy(t->intent_hash, hash, FOGPAY_HASH_BYTES);
    }
    return ledger__transfer_append(l, t, &out->balance_after_minor);
}

/* Hands note i of w to the device: its custody entry signed by the
 * gateway, its movement (withdrawn against the transfer at
 * transfer_position, or change without one), its register row. */
static fogpay_error withdraw__hand_out(fogpay_ledger *l, const fogpay_key *gateway_key,
                                       const withdraw_state *w, size_t i, const char *device_id,
                                       uint64_t transfer_position, uint64_t now_ms,
                                       fogpay_held_note *held)
{
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, w->serial[i], FOGPAY_NOTE_SERIAL_BYTES);
    memcpy(c.prev_link, w->last_link[i], FOGPAY_HASH_BYTES);
    snprintf(c.holder_key, sizeof c.holder_key, "%s", w->device_key);
    c.time_s = now_ms / 1000u;
    note_movement_row r;
    memset(&r, 0, sizeof r);
    fogpay_error err = fogpay_custody_sign(gateway_key, &c, held->custody, sizeof held->custody,
                                           &held->custody_len);
    if (err == FOGPAY_OK) {
        err = fogpay_note_link(held->custody, held->custody_len, r.m.link);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    r.m.kind = transfer_position != 0 ? FOGPAY_NOTE_WITHDRAWN : FOGPAY_NOTE_CHANGE;
    r.m.time_ms = now_ms;
    memcpy(r.m.serial, c.serial, FOGPAY_NOTE_SERIAL_BYTES);
    memcpy(r.m.holder_kid, w->device_kid, FOGPAY_KID_BYTES);
    snprintf(r.m.device_id, sizeof r.m.device_id, "%s", device_id);
    r.m.transfer_position = transfer_position;
    r.custody = held->custody;
    r.custody_len = held->custody_len;
    err = ledger__chain_append(l, &ledger_note_movement_chain, &r);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_HAND_OUT);
    ledger__bind_blob(l, s, 1, c.serial, FOGPAY_NOTE_SERIAL_BYTES);
    ledger__bind_text(l, s, 2, w->device_key);
    ledger__bind_text(l, s, 3, device_id);
    ledger__bind_blob(l, s, 4, r.m.link, FOGPAY_HASH_BYTES);
    ledger__bind_u64(l, s, 5, r.m.position);
    err = ledger__exec(l, s);
    return err == FOGPAY_OK && sqlite3_changes(l->db) != 1 ? FOGPAY_ERR_LEDGER_CORRUPT : err;
}

/* The signed note of serial into held. */
static fogpay_error withdraw__note_bytes(fogpay_ledger *l, const uint8_t *serial,
                                         fogpay_held_note *held)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_BYTES);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = ledger__step(l, s);
    fogpay_error err = rc == SQLITE_ROW ? FOGPAY_OK : ledger__error(l, rc);
    int n = rc == SQLITE_ROW ? sqlite3_column_bytes(s, 0) : 0;
    if (err == FOGPAY_OK && (n < 1 || n > FOGPAY_NOTE_SIGNED_MAX)) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err == FOGPAY_OK) {
        memcpy(held->note, sqlite3_column_blob(s, 0), (size_t)n);
        held->note_len = (size_t)n;
    }
    ledger__finish(s);
    return err;
}

/* The checks of a withdrawal that read: the device, its notes against its
 * wallet limit, the stock. */
static fogpay_error withdraw__check(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                    uint64_t amount_minor, withdraw_state *w)
{
    uint64_t wallet_max = 0;
    fogpay_error err = withdraw__device(l, device_id, w, &wallet_max);
    uint64_t held = 0;
    if (err == FOGPAY_OK && wallet_max != 0) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_HELD_SUM);
        ledger__bind_text(l, s, 1, device_id);
        ledger__bind_int64(l, s, 2, currency);
        err = ledger__scalar(l, s, &held);
        if (err == FOGPAY_OK && held + amount_minor > wallet_max) {
            err = FOGPAY_ERR_WALLET_MAX;
        }
    }
    return err == FOGPAY_OK ? withdraw__choose(l, w, currency, amount_minor) : err;
}

fogpay_error fogpay_ledger_note_withdraw(fogpay_ledger *l, const fogpay_key *gateway_key,
                                         const char *device_id, uint16_t currency,
                                         uint64_t amount_minor, uint64_t seq,
                                         const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                         fogpay_note_withdrawal *out)
{
    if (l == NULL || gateway_key == NULL || device_id == NULL || out == NULL ||
        (seq != 0 && hash == NULL)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (amount_minor == 0 || amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        return amount_minor == 0 ? FOGPAY_ERR_AMOUNT_ZERO : FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    withdraw_state w;
    memset(&w, 0, sizeof w);
    /* About 17 KiB: on the heap, freed before return. */
    fogpay_note_withdrawal *result = calloc(1, sizeof *result);
    if (result == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = fogpay_key_public_text(gateway_key, w.gateway_text, sizeof w.gateway_text);
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        free(result);
        return err;
    }
    err = withdraw__check(l, device_id, currency, amount_minor, &w);
    if (err == FOGPAY_OK) {
        err = withdraw__transfer(l, device_id, currency, amount_minor, seq, hash, now_ms, result);
    }
    for (size_t i = 0; err == FOGPAY_OK && i < w.count; i++) {
        err = withdraw__note_bytes(l, w.serial[i], &result->notes[i]);
        if (err == FOGPAY_OK) {
            err = withdraw__hand_out(l, gateway_key, &w, i, device_id, result->transfer.position,
                                     now_ms, &result->notes[i]);
        }
    }
    result->count = w.count;
    memcpy(result->serials, w.serial, sizeof result->serials);
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = *result;
    }
    free(result);
    return err;
}

fogpay_error fogpay_ledger_note_held(fogpay_ledger *l,
                                     const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                     fogpay_held_note *out)
{
    if (l == NULL || serial == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_HELD);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = ledger__step(l, s);
    fogpay_error err = rc == SQLITE_ROW    ? FOGPAY_OK
                       : rc == SQLITE_DONE ? FOGPAY_ERR_NOT_FOUND
                                           : ledger__error(l, rc);
    int note_len = err == FOGPAY_OK ? sqlite3_column_bytes(s, 0) : 0;
    int custody_len = err == FOGPAY_OK ? sqlite3_column_bytes(s, 1) : 0;
    if (err == FOGPAY_OK && (note_len < 1 || note_len > FOGPAY_NOTE_SIGNED_MAX || custody_len < 1 ||
                             custody_len > FOGPAY_CUSTODY_SIGNED_MAX)) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err == FOGPAY_OK) {
        memset(out, 0, sizeof *out);
        memcpy(out->note, sqlite3_column_blob(s, 0), (size_t)note_len);
        out->note_len = (size_t)note_len;
        memcpy(out->custody, sqlite3_column_blob(s, 1), (size_t)custody_len);
        out->custody_len = (size_t)custody_len;
    }
    ledger__finish(s);
    return err;
}

/* ---- the register and the history of a serial -------------------------- */

/* Reads the NOTE_ENTRY row into out. */
static fogpay_error note__entry_read(sqlite3_stmt *s, fogpay_note_entry *out)
{
    int64_t currency = sqlite3_column_int64(s, 1);
    int64_t denomination = sqlite3_column_int64(s, 2);
    int64_t expiry = sqlite3_column_int64(s, 3);
    int64_t state = sqlite3_column_int64(s, 6);
    int64_t movement = sqlite3_column_int64(s, 7);
    if (sqlite3_column_bytes(s, 0) != FOGPAY_KID_BYTES || currency < FOGPAY_CURRENCY_MIN ||
        currency > FOGPAY_CURRENCY_MAX || denomination < 1 || expiry < 0 || state < 0 ||
        state > FOGPAY_NOTE_CAME_BACK || movement < 1 ||
        !ledger__column_text(s, 4, out->holder_key, sizeof out->holder_key) ||
        !ledger__column_text(s, 5, out->holder_device, sizeof out->holder_device)) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    memcpy(out->issuer_kid, sqlite3_column_blob(s, 0), FOGPAY_KID_BYTES);
    out->currency = (uint16_t)currency;
    out->denomination_minor = (uint64_t)denomination;
    out->expiry_s = (uint64_t)expiry;
    out->state = (uint8_t)state;
    out->movement = (uint64_t)movement;
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_note_get(fogpay_ledger *l,
                                    const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                    fogpay_note_entry *out)
{
    if (l == NULL || serial == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_note_entry e;
    memset(&e, 0, sizeof e);
    memcpy(e.serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_ENTRY);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = ledger__step(l, s);
    fogpay_error err = rc == SQLITE_ROW    ? note__entry_read(s, &e)
                       : rc == SQLITE_DONE ? FOGPAY_ERR_NOT_FOUND
                                           : ledger__error(l, rc);
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = e;
    }
    return err;
}

fogpay_error fogpay_ledger_note_history(fogpay_ledger *l,
                                        const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                        fogpay_note_movement_visit visit, void *ctx, size_t *count)
{
    if (l == NULL || serial == NULL || visit == NULL || count == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_HISTORY);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    ledger__bind_int64(l, s, 2, FOGPAY_LEDGER_NOTE_HISTORY_MAX);
    fogpay_error err = FOGPAY_OK;
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc != SQLITE_ROW) {
            err = rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
            break;
        }
        fogpay_note_movement m;
        uint8_t hash[FOGPAY_HASH_BYTES];
        err = ledger__note_movement_read(s, &m, hash, NULL, NULL);
        if (err != FOGPAY_OK) {
            break;
        }
        (*count)++;
        if (visit(ctx, &m) != 0) {
            break;
        }
    }
    ledger__finish(s);
    return err;
}

/* ---- payments with notes ------------------------------------------------- */

/* A device's active key as a verify key and as text. */
static fogpay_error pay__device_key(fogpay_ledger *l, const char *device_id, bool payer,
                                    fogpay_key **key, char text[FOGPAY_PUBLIC_KEY_TEXT_MAX])
{
    fogpay_device d;
    fogpay_error err = fogpay_ledger_device_get(l, device_id, &d);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return payer ? FOGPAY_ERR_UNKNOWN_DEVICE : FOGPAY_ERR_UNKNOWN_PAYEE;
    }
    if (err == FOGPAY_OK && d.status != FOGPAY_DEVICE_ACTIVE) {
        err = !payer                                ? FOGPAY_ERR_PAYEE_INACTIVE
              : d.status == FOGPAY_DEVICE_SUSPENDED ? FOGPAY_ERR_DEVICE_SUSPENDED
                                                    : FOGPAY_ERR_DEVICE_REVOKED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_from_public((fogpay_alg)d.alg, d.public_key, d.public_key_len, key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(*key, text, FOGPAY_PUBLIC_KEY_TEXT_MAX);
    }
    return err;
}

/* The last link of a held note. */
static fogpay_error pay__last_link(fogpay_ledger *l, const uint8_t *serial,
                                   uint8_t link[FOGPAY_HASH_BYTES])
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_LINK);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = ledger__step(l, s);
    fogpay_error err = rc == SQLITE_ROW ? FOGPAY_OK : ledger__error(l, rc);
    if (err == FOGPAY_OK && sqlite3_column_bytes(s, 0) != FOGPAY_HASH_BYTES) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    if (err == FOGPAY_OK) {
        memcpy(link, sqlite3_column_blob(s, 0), FOGPAY_HASH_BYTES);
    }
    ledger__finish(s);
    return err;
}

/* Moves a held note on from its device (r: its movement, kind, link,
 * holder kid, device and transfer set, its custody entry) to holder_text:
 * the movement onto the chain, the register's row to the device named,
 * or back into the stock without one. */
static fogpay_error note__move(fogpay_ledger *l, note_movement_row *r, const uint8_t *serial,
                               const char *holder_text, uint64_t now_ms)
{
    r->m.time_ms = now_ms;
    memcpy(r->m.serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    fogpay_error err = ledger__chain_append(l, &ledger_note_movement_chain, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    const char *device = r->m.device_id[0] != '\0' ? r->m.device_id : NULL;
    sqlite3_stmt *s = ledger__stmt(l, device ? LEDGER_STMT_NOTE_PASS_ON : LEDGER_STMT_NOTE_BACK);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    ledger__bind_text(l, s, 2, holder_text);
    ledger__bind_text_or_null(l, s, 3, device);
    ledger__bind_blob(l, s, 4, r->m.link, FOGPAY_HASH_BYTES);
    ledger__bind_u64(l, s, 5, r->m.position);
    err = ledger__exec(l, s);
    return err == FOGPAY_OK && sqlite3_changes(l->db) != 1 ? FOGPAY_ERR_LEDGER_CORRUPT : err;
}

/* Checks note i and moves it to the payee's key: to its device when
 * to_device is given (paid), else back into the stock (redeemed, its
 * value by the transfer at transfer_position; tendered for change
 * without one). */
static fogpay_error pay__one(fogpay_ledger *l, const fogpay_note_payment *p, size_t i,
                             const fogpay_key *payer_key, const char *payee_text,
                             const uint8_t payee_kid[FOGPAY_KID_BYTES], const char *to_device,
                             uint64_t transfer_position, uint64_t now_ms, uint64_t *sum)
{
    const fogpay_note_pay_entry *n = &p->notes[i];
    fogpay_note_entry e;
    fogpay_error err = fogpay_ledger_note_get(l, n->serial, &e);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_NOTE_UNKNOWN;
    }
    if (err == FOGPAY_OK &&
        (e.state != FOGPAY_NOTE_HELD || strcmp(e.holder_device, p->device_id) != 0)) {
        return FOGPAY_ERR_NOTE_DOUBLE_SPEND;
    }
    if (err == FOGPAY_OK && e.currency != p->currency) {
        return FOGPAY_ERR_NOTE_SUM_MISMATCH;
    }
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, n->serial, FOGPAY_NOTE_SERIAL_BYTES);
    snprintf(c.holder_key, sizeof c.holder_key, "%s", payee_text);
    c.time_s = p->custody_s;
    uint8_t entry[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t entry_len = 0;
    err = err == FOGPAY_OK ? pay__last_link(l, n->serial, c.prev_link) : err;
    err = err == FOGPAY_OK ? fogpay_custody_assemble(payer_key, &c, n->signature, entry,
                                                     sizeof entry, &entry_len)
                           : err;
    fogpay_custody opened;
    err = err == FOGPAY_OK
              ? fogpay_custody_open(entry, entry_len, payer_key, n->serial, c.prev_link, &opened)
              : err;
    note_movement_row r;
    memset(&r, 0, sizeof r);
    err = err == FOGPAY_OK ? fogpay_note_link(entry, entry_len, r.m.link) : err;
    if (err != FOGPAY_OK) {
        return err;
    }
    r.m.kind = to_device                ? FOGPAY_NOTE_PAID
               : transfer_position != 0 ? FOGPAY_NOTE_REDEEMED
                                        : FOGPAY_NOTE_TENDERED;
    memcpy(r.m.holder_kid, payee_kid, FOGPAY_KID_BYTES);
    snprintf(r.m.device_id, sizeof r.m.device_id, "%s", to_device ? to_device : "");
    r.m.transfer_position = transfer_position;
    r.custody = entry;
    r.custody_len = entry_len;
    *sum += e.denomination_minor;
    return note__move(l, &r, n->serial, payee_text, now_ms);
}

/* The value of p's notes, each held by its sender, in its currency. */
static fogpay_error note__tendered_sum(fogpay_ledger *l, const fogpay_note_payment *p,
                                       uint64_t *sum)
{
    *sum = 0;
    for (size_t i = 0; i < p->count; i++) {
        fogpay_note_entry e;
        fogpay_error err = fogpay_ledger_note_get(l, p->notes[i].serial, &e);
        if (err != FOGPAY_OK) {
            return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_NOTE_UNKNOWN : err;
        }
        if (e.state != FOGPAY_NOTE_HELD || strcmp(e.holder_device, p->device_id) != 0) {
            return FOGPAY_ERR_NOTE_DOUBLE_SPEND;
        }
        if (e.currency != p->currency) {
            return FOGPAY_ERR_NOTE_SUM_MISMATCH;
        }
        *sum += e.denomination_minor;
    }
    return FOGPAY_OK;
}

/* The payer's and the payee's keys. */
typedef struct pay_keys {
    fogpay_key *payer;
    fogpay_key *payee;
    char payer_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    char payee_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint8_t payee_kid[FOGPAY_KID_BYTES];
} pay_keys;

static fogpay_error pay__keys(fogpay_ledger *l, const fogpay_note_payment *p, pay_keys *k)
{
    if (strcmp(p->device_id, p->payee_device) == 0) {
        return FOGPAY_ERR_PAYEE_SELF;
    }
    fogpay_error err = pay__device_key(l, p->device_id, true, &k->payer, k->payer_text);
    if (err == FOGPAY_OK) {
        err = pay__device_key(l, p->payee_device, false, &k->payee, k->payee_text);
    }
    return err == FOGPAY_OK ? fogpay_key_id(k->payee, k->payee_kid) : err;
}

/* Hands device_id (its key text and kid) notes of the stock making
 * amount_minor, as change, into ids; FOGPAY_ERR_NOTE_CHANGE_SHORT when
 * the stock cannot make it. */
static fogpay_error change__hand(fogpay_ledger *l, const fogpay_key *gateway_key,
                                 const char *gateway_text, const char *device_id,
                                 const char *device_text, const uint8_t kid[FOGPAY_KID_BYTES],
                                 uint16_t currency, uint64_t amount_minor, uint64_t now_ms,
                                 size_t *count, uint8_t ids[][FOGPAY_NOTE_SERIAL_BYTES])
{
    withdraw_state w;
    memset(&w, 0, sizeof w);
    snprintf(w.device_key, sizeof w.device_key, "%s", device_text);
    memcpy(w.device_kid, kid, FOGPAY_KID_BYTES);
    snprintf(w.gateway_text, sizeof w.gateway_text, "%s", gateway_text);
    fogpay_error err = withdraw__choose(l, &w, currency, amount_minor);
    if (err == FOGPAY_ERR_NOTE_STOCK_SHORT) {
        return FOGPAY_ERR_NOTE_CHANGE_SHORT;
    }
    fogpay_held_note held;
    for (size_t i = 0; err == FOGPAY_OK && i < w.count; i++) {
        err = withdraw__hand_out(l, gateway_key, &w, i, device_id, 0, now_ms, &held);
    }
    *count = w.count;
    memcpy(ids, w.serial, w.count * FOGPAY_NOTE_SERIAL_BYTES);
    return err;
}

/* Settles p with change, inside the caller's operation: its notes
 * (summing to sum) into the stock, then the payee's amount and the
 * payer's change out of it. */
static fogpay_error pay__change(fogpay_ledger *l, const fogpay_key *gateway_key,
                                const fogpay_note_payment *p, const pay_keys *k, uint64_t sum,
                                uint64_t now_ms, fogpay_note_paid *out)
{
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint8_t gateway_kid[FOGPAY_KID_BYTES], payer_kid[FOGPAY_KID_BYTES];
    fogpay_error err = fogpay_key_public_text(gateway_key, gateway_text, sizeof gateway_text);
    err = err == FOGPAY_OK ? fogpay_key_id(gateway_key, gateway_kid) : err;
    err = err == FOGPAY_OK ? fogpay_key_id(k->payer, payer_kid) : err;
    for (size_t i = 0; err == FOGPAY_OK && i < p->count; i++) {
        uint64_t ignored = 0;
        err = pay__one(l, p, i, k->payer, gateway_text, gateway_kid, NULL, 0, now_ms, &ignored);
    }
    if (err == FOGPAY_OK) {
        err =
            change__hand(l, gateway_key, gateway_text, p->payee_device, k->payee_text, k->payee_kid,
                         p->currency, p->amount_minor, now_ms, &out->count, out->serials);
    }
    if (err == FOGPAY_OK) {
        err = change__hand(l, gateway_key, gateway_text, p->device_id, k->payer_text, payer_kid,
                           p->currency, sum - p->amount_minor, now_ms, &out->change_count,
                           out->change_serials);
    }
    return err;
}

/* Settles p exactly, inside the caller's operation: its notes to the
 * payee. */
static fogpay_error pay__exact(fogpay_ledger *l, const fogpay_note_payment *p, const pay_keys *k,
                               uint64_t now_ms, fogpay_note_paid *out)
{
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; err == FOGPAY_OK && i < p->count; i++) {
        uint64_t ignored = 0;
        err = pay__one(l, p, i, k->payer, k->payee_text, k->payee_kid, p->payee_device, 0, now_ms,
                       &ignored);
        memcpy(out->serials[i], p->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES);
    }
    out->count = p->count;
    return err;
}

fogpay_error fogpay_ledger_note_pay(fogpay_ledger *l, const fogpay_key *gateway_key,
                                    const fogpay_note_payment *p, uint64_t now_ms,
                                    fogpay_note_paid *out)
{
    if (l == NULL || p == NULL || out == NULL || p->count == 0 ||
        p->count > FOGPAY_NOTE_PAYMENT_NOTES_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    pay_keys k;
    memset(&k, 0, sizeof k);
    fogpay_error err = pay__keys(l, p, &k);
    /* About 1 KiB of serials: on the heap, freed before return. */
    fogpay_note_paid *result = err == FOGPAY_OK ? calloc(1, sizeof *result) : NULL;
    if (err == FOGPAY_OK && result == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    ledger_op op;
    if (err == FOGPAY_OK && (err = ledger__op_begin(l, &op)) == FOGPAY_OK) {
        uint64_t sum = 0;
        err = note__tendered_sum(l, p, &sum);
        if (err == FOGPAY_OK &&
            (sum < p->amount_minor || (sum > p->amount_minor && gateway_key == NULL))) {
            err = FOGPAY_ERR_NOTE_SUM_MISMATCH;
        }
        if (err == FOGPAY_OK) {
            err = sum == p->amount_minor ? pay__exact(l, p, &k, now_ms, result)
                                         : pay__change(l, gateway_key, p, &k, sum, now_ms, result);
        }
        err = ledger__op_end(l, &op, err);
    }
    fogpay_key_free(k.payer);
    fogpay_key_free(k.payee);
    if (err == FOGPAY_OK) {
        *out = *result;
    }
    free(result);
    return err;
}

/* The value of p's notes, each held by its sender, in its currency:
 * what a redemption credits. */
static fogpay_error redeem__sum(fogpay_ledger *l, const fogpay_note_payment *p, uint64_t *sum)
{
    fogpay_error err = note__tendered_sum(l, p, sum);
    return err == FOGPAY_OK && *sum != p->amount_minor ? FOGPAY_ERR_NOTE_SUM_MISMATCH : err;
}

/* The kind 16 transfer of a redemption, appended. */
static fogpay_error redeem__transfer(fogpay_ledger *l, const fogpay_note_payment *p,
                                     const uint8_t *hash, uint64_t now_ms,
                                     fogpay_note_redemption *out)
{
    ledger_account notes;
    ledger_account wallet;
    fogpay_transfer *t = &out->transfer;
    memset(t, 0, sizeof *t);
    fogpay_error err = ledger__account_find(l, LEDGER_ACCOUNT_NOTES, NULL, p->currency, &notes);
    if (err == FOGPAY_OK) {
        uint64_t id = 0;
        err = fogpay_ledger_wallet(l, p->payee_device, p->currency, &id);
        err = err == FOGPAY_OK ? ledger__account_get(l, id, &wallet) : err;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &wallet, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_LEDGER_CORRUPT : err;
    }
    t->kind = FOGPAY_TRANSFER_NOTE_REDEMPTION;
    t->debit_account = notes.id;
    t->credit_account = wallet.id;
    t->amount_minor = p->amount_minor;
    t->currency = p->currency;
    t->time_ms = now_ms;
    if (hash != NULL) {
        snprintf(t->device_id, sizeof t->device_id, "%s", p->device_id);
        t->seq = p->seq;
        memcpy(t->intent_hash, hash, FOGPAY_HASH_BYTES);
    }
    int64_t ignored = 0;
    err = ledger__transfer_append(l, t, &ignored);
    return err == FOGPAY_OK ? fogpay_ledger_balance(l, wallet.id, &out->balance_after_minor) : err;
}

fogpay_error fogpay_ledger_note_redeem(fogpay_ledger *l, const char *gateway_text,
                                       const fogpay_note_payment *p,
                                       const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                       fogpay_note_redemption *out)
{
    if (l == NULL || gateway_text == NULL || p == NULL || out == NULL || p->count == 0 ||
        p->count > FOGPAY_NOTE_PAYMENT_NOTES_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    pay_keys k;
    memset(&k, 0, sizeof k);
    fogpay_error err = pay__device_key(l, p->device_id, true, &k.payer, k.payer_text);
    if (err == FOGPAY_OK) {
        err = pay__device_key(l, p->payee_device, false, &k.payee, k.payee_text);
    }
    err = err == FOGPAY_OK ? note__kid(gateway_text, k.payee_kid) : err;
    fogpay_note_redemption result;
    memset(&result, 0, sizeof result);
    ledger_op op;
    if (err == FOGPAY_OK && (err = ledger__op_begin(l, &op)) == FOGPAY_OK) {
        uint64_t sum = 0;
        err = redeem__sum(l, p, &sum);
        err = err == FOGPAY_OK ? redeem__transfer(l, p, hash, now_ms, &result) : err;
        for (size_t i = 0; err == FOGPAY_OK && i < p->count; i++) {
            uint64_t ignored = 0;
            err = pay__one(l, p, i, k.payer, gateway_text, k.payee_kid, NULL,
                           result.transfer.position, now_ms, &ignored);
            memcpy(result.paid.serials[i], p->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES);
        }
        result.paid.count = p->count;
        err = ledger__op_end(l, &op, err);
    }
    fogpay_key_free(k.payer);
    fogpay_key_free(k.payee);
    if (err == FOGPAY_OK) {
        *out = result;
    }
    return err;
}

fogpay_error fogpay_ledger_note_withdrawn(fogpay_ledger *l, const char *device_id,
                                          uint64_t transfer_position,
                                          uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES],
                                          size_t *count)
{
    if (l == NULL || device_id == NULL || serials == NULL || count == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_WITHDRAWN);
    ledger__bind_text(l, s, 1, device_id);
    fogpay_error err = FOGPAY_OK;
    /* Bounded by the notes the device holds: its wallet's worth. */
    while (*count < FOGPAY_NOTE_WITHDRAW_MAX) {
        int rc = ledger__step(l, s);
        if (rc != SQLITE_ROW) {
            err = rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
            break;
        }
        fogpay_note_movement m;
        uint8_t hash[FOGPAY_HASH_BYTES];
        err = ledger__note_movement_read(s, &m, hash, NULL, NULL);
        if (err != FOGPAY_OK) {
            break;
        }
        if (m.transfer_position == transfer_position) {
            memcpy(serials[(*count)++], m.serial, FOGPAY_NOTE_SERIAL_BYTES);
        }
    }
    ledger__finish(s);
    return err;
}

/* ---- redemption into a legal entity's account ---------------------------- */

/* Checks one note handed back (the signed note and the custody entry by
 * which its holder names gateway_text) against the register, into *e and
 * *r (the movement's link). */
static fogpay_error entity__check(fogpay_ledger *l, const char *gateway_text,
                                  const fogpay_held_note *h, fogpay_note_entry *e,
                                  note_movement_row *r)
{
    fogpay_cose_sign1 cose;
    fogpay_note n;
    fogpay_error err = fogpay_cose_sign1_parse(h->note, h->note_len, &cose);
    err = err == FOGPAY_OK ? fogpay_note_decode(cose.payload.ptr, cose.payload.len, &n) : err;
    if (err != FOGPAY_OK || h->custody_len == 0) {
        return err != FOGPAY_OK ? FOGPAY_ERR_NOTE_FORGED : FOGPAY_ERR_CUSTODY_OTHER_HOLDER;
    }
    err = fogpay_ledger_note_get(l, n.serial, e);
    if (err != FOGPAY_OK || e->state != FOGPAY_NOTE_HELD) {
        return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_NOTE_UNKNOWN
               : err != FOGPAY_OK          ? err
                                           : FOGPAY_ERR_NOTE_DOUBLE_SPEND;
    }
    fogpay_held_note stored;
    err = withdraw__note_bytes(l, n.serial, &stored);
    if (err == FOGPAY_OK &&
        (stored.note_len != h->note_len || memcmp(stored.note, h->note, h->note_len) != 0)) {
        err = FOGPAY_ERR_NOTE_FORGED;
    }
    fogpay_key *holder = NULL;
    uint8_t link[FOGPAY_HASH_BYTES];
    fogpay_custody c;
    err = err == FOGPAY_OK ? fogpay_key_from_public_text(e->holder_key, &holder) : err;
    err = err == FOGPAY_OK ? pay__last_link(l, n.serial, link) : err;
    err = err == FOGPAY_OK
              ? fogpay_custody_open(h->custody, h->custody_len, holder, n.serial, link, &c)
              : err;
    fogpay_key_free(holder);
    if (err == FOGPAY_OK && strcmp(c.holder_key, gateway_text) != 0) {
        err = FOGPAY_ERR_CUSTODY_OTHER_HOLDER;
    }
    return err == FOGPAY_OK ? fogpay_note_link(h->custody, h->custody_len, r->m.link) : err;
}

/* The kind 17 transfer of a redemption into entity_id's account. */
static fogpay_error entity__transfer(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                     uint64_t amount_minor, uint64_t now_ms,
                                     fogpay_note_entity_redemption *out)
{
    ledger_account notes;
    ledger_account account;
    fogpay_transfer *t = &out->transfer;
    memset(t, 0, sizeof *t);
    fogpay_error err = ledger__account_find(l, LEDGER_ACCOUNT_NOTES, NULL, currency, &notes);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_LEDGER_CORRUPT; /* notes out with devices, and no notes account */
    }
    err = err == FOGPAY_OK
              ? ledger__account_ensure(l, LEDGER_ACCOUNT_ENTITY, entity_id, currency, &account)
              : err;
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = FOGPAY_TRANSFER_NOTE_ENTITY_REDEMPTION;
    t->debit_account = notes.id;
    t->credit_account = account.id;
    t->amount_minor = amount_minor;
    t->currency = currency;
    t->time_ms = now_ms;
    snprintf(t->payee_entity, sizeof t->payee_entity, "%s", entity_id);
    int64_t ignored = 0;
    err = ledger__transfer_append(l, t, &ignored);
    return err == FOGPAY_OK ? fogpay_ledger_balance(l, account.id, &out->balance_after_minor) : err;
}

/* Checks every note of notes, of one currency, into their sum. */
static fogpay_error entity__sum(fogpay_ledger *l, const char *gateway_text,
                                const fogpay_held_note *notes, size_t count, uint16_t *currency,
                                uint64_t *sum, size_t *refused)
{
    *sum = 0;
    for (size_t i = 0; i < count; i++) {
        fogpay_note_entry e;
        note_movement_row r;
        fogpay_error err = entity__check(l, gateway_text, &notes[i], &e, &r);
        if (err == FOGPAY_OK && i > 0 && e.currency != *currency) {
            err = FOGPAY_ERR_NOTE_SUM_MISMATCH;
        }
        if (err != FOGPAY_OK) {
            *refused = i;
            return err;
        }
        *currency = e.currency;
        *sum += e.denomination_minor;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_note_redeem_entity(fogpay_ledger *l, const char *gateway_text,
                                              const char *entity_id, const fogpay_held_note *notes,
                                              size_t count, uint64_t now_ms,
                                              fogpay_note_entity_redemption *out, size_t *refused)
{
    if (l == NULL || gateway_text == NULL || entity_id == NULL || notes == NULL || out == NULL ||
        refused == NULL || count == 0 || count > FOGPAY_LEDGER_NOTE_LOAD_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = note__kid(gateway_text, kid);
    err = err == FOGPAY_OK ? ledger__entity_exists(l, entity_id) : err;
    err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_ENTITY_UNKNOWN : err;
    ledger_op op;
    if (err != FOGPAY_OK || (err = ledger__op_begin(l, &op)) != FOGPAY_OK) {
        return err;
    }
    fogpay_note_entity_redemption result;
    memset(&result, 0, sizeof result);
    uint64_t sum = 0;
    err = entity__sum(l, gateway_text, notes, count, &result.currency, &sum, refused);
    err = err == FOGPAY_OK ? entity__transfer(l, entity_id, result.currency, sum, now_ms, &result)
                           : err;
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        fogpay_note_entry e;
        note_movement_row r;
        memset(&r, 0, sizeof r);
        err = entity__check(l, gateway_text, &notes[i], &e, &r);
        r.m.kind = FOGPAY_NOTE_REDEEMED;
        memcpy(r.m.holder_kid, kid, FOGPAY_KID_BYTES);
        r.m.transfer_position = result.transfer.position;
        r.custody = notes[i].custody;
        r.custody_len = notes[i].custody_len;
        err = err == FOGPAY_OK ? note__move(l, &r, e.serial, gateway_text, now_ms) : err;
    }
    result.count = count;
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = result;
    }
    return err;
}

/* ---- the stock returned to the issuer ------------------------------------ */

/* Hands the stock's note serial back to its issuer: a custody entry
 * signed by gateway_key naming the issuer's key, its movement (returned),
 * its register row (state 2, the issuer its holder), into *out. */
static fogpay_error return__one(fogpay_ledger *l, const fogpay_key *gateway_key,
                                const fogpay_note_issuers *issuers, const uint8_t *serial,
                                uint64_t now_ms, fogpay_held_note *out)
{
    fogpay_note_entry e;
    fogpay_error err = fogpay_ledger_note_get(l, serial, &e);
    const fogpay_note_issuer *issuer =
        err == FOGPAY_OK ? fogpay_note_issuers_find(issuers, e.issuer_kid) : NULL;
    if (err == FOGPAY_OK && issuer == NULL) {
        err = FOGPAY_ERR_NOTE_ISSUER_UNKNOWN;
    }
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    c.time_s = now_ms / 1000u;
    err = err == FOGPAY_OK ? withdraw__note_bytes(l, serial, out) : err;
    err = err == FOGPAY_OK ? pay__last_link(l, serial, c.prev_link) : err;
    if (err != FOGPAY_OK) {
        return err;
    }
    snprintf(c.holder_key, sizeof c.holder_key, "%s", issuer->public_text);
    note_movement_row r;
    memset(&r, 0, sizeof r);
    err =
        fogpay_custody_sign(gateway_key, &c, out->custody, sizeof out->custody, &out->custody_len);
    err = err == FOGPAY_OK ? fogpay_note_link(out->custody, out->custody_len, r.m.link) : err;
    if (err != FOGPAY_OK) {
        return err;
    }
    r.m.kind = FOGPAY_NOTE_RETURNED;
    r.m.time_ms = now_ms;
    memcpy(r.m.serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    memcpy(r.m.holder_kid, issuer->kid, FOGPAY_KID_BYTES);
    r.custody = out->custody;
    r.custody_len = out->custody_len;
    err = ledger__chain_append(l, &ledger_note_movement_chain, &r);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_RETURN);
    ledger__bind_blob(l, s, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    ledger__bind_text(l, s, 2, issuer->public_text);
    ledger__bind_blob(l, s, 3, r.m.link, FOGPAY_HASH_BYTES);
    ledger__bind_u64(l, s, 4, r.m.position);
    err = ledger__exec(l, s);
    return err == FOGPAY_OK && sqlite3_changes(l->db) != 1 ? FOGPAY_ERR_LEDGER_CORRUPT : err;
}

/* The serials of up to FOGPAY_LEDGER_NOTE_LOAD_MAX notes of the stock
 * held by holder_text that came back from devices. */
static fogpay_error return__pick(fogpay_ledger *l, const char *holder_text,
                                 uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES], size_t *count)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_NOTE_RETURNABLE);
    ledger__bind_text(l, s, 1, holder_text);
    ledger__bind_int64(l, s, 2, FOGPAY_LEDGER_NOTE_LOAD_MAX);
    fogpay_error err = FOGPAY_OK;
    *count = 0;
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc != SQLITE_ROW) {
            err = rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
            break;
        }
        if (*count >= FOGPAY_LEDGER_NOTE_LOAD_MAX ||
            sqlite3_column_bytes(s, 0) != FOGPAY_NOTE_SERIAL_BYTES) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        memcpy(serials[(*count)++], sqlite3_column_blob(s, 0), FOGPAY_NOTE_SERIAL_BYTES);
    }
    ledger__finish(s);
    return err;
}

fogpay_error fogpay_ledger_note_return(fogpay_ledger *l, const fogpay_key *gateway_key,
                                       const fogpay_note_issuers *issuers, uint64_t now_ms,
                                       fogpay_held_note *out, size_t *count)
{
    if (l == NULL || gateway_key == NULL || issuers == NULL || out == NULL || count == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    char holder_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = fogpay_key_public_text(gateway_key, holder_text, sizeof holder_text);
    ledger_op op;
    if (err != FOGPAY_OK || (err = ledger__op_begin(l, &op)) != FOGPAY_OK) {
        return err;
    }
    uint8_t serials[FOGPAY_LEDGER_NOTE_LOAD_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    size_t n = 0;
    err = return__pick(l, holder_text, serials, &n);
    for (size_t i = 0; err == FOGPAY_OK && i < n; i++) {
        err = return__one(l, gateway_key, issuers, serials[i], now_ms, &out[i]);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *count = n;
    }
    return err;
}
