/*
 * issuer_db.c - the issuer's ledger: its keys and the notes in circulation
 * (issuer.h, schemas/issuer.sql).
 *
 * The file is opened by the one SQLite opener (fogpay_sqlite.c) with the
 * schema embedded at build time. The tool runs one command and exits, so
 * each statement is prepared where it is used and finalized before the
 * function returns; every step's result is checked.
 */
#include "issuer.h"

#include <inttypes.h>
#include <string.h>

#include "fogpay_cose.h"
#include "fogpay_currency.h"
#include "fogpay_sqlite.h"

extern const char issuer_schema_sql[];

/* The tool waits this long for a file another run holds. */
#define ISSUER_BUSY_TIMEOUT_MS 5000

static const fogpay_sqlite_schema issuer_schema = {
    .what = "issuer ledger",
    .version = ISSUER_SCHEMA_VERSION,
    .busy_timeout_ms = ISSUER_BUSY_TIMEOUT_MS,
};

fogpay_error issuer_open(const char *path, bool create, sqlite3 **db, char *why, size_t cap)
{
    fogpay_sqlite_schema schema = issuer_schema;
    schema.create_sql = issuer_schema_sql;
    return fogpay_sqlite_open(path, create, &schema, db, NULL, why, cap);
}

void issuer_close(sqlite3 *db)
{
    sqlite3_close(db);
}

/* Prepares sql; FOGPAY_OK or the storage error. */
static fogpay_error prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

/* Steps a statement that returns no row, then finalizes it. */
static fogpay_error step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        err = FOGPAY_ERR_EXISTS;
    } else if (rc != SQLITE_DONE) {
        err = fogpay_sqlite_error(rc);
    }
    sqlite3_finalize(st);
    return err;
}

fogpay_error issuer_key_add(sqlite3 *db, const fogpay_key *key, uint64_t now_ms)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = fogpay_key_id(key, kid);
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(key, text, sizeof text);
    }
    sqlite3_stmt *st = NULL;
    if (err == FOGPAY_OK) {
        err = prepare(db,
                      "INSERT INTO issuer_keys (kid, public_key, state, created_ms) "
                      "VALUES (?1, ?2, 0, ?3)",
                      &st);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_blob(st, 1, kid, sizeof kid, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms);
    return step_done(st);
}

fogpay_error issuer_key_count(sqlite3 *db, uint64_t *active)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err = prepare(db, "SELECT count(*) FROM issuer_keys WHERE state = 0", &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *active = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

fogpay_error issuer_key_state_of(sqlite3 *db, const fogpay_key *key, issuer_key_state *state)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = fogpay_key_id(key, kid);
    sqlite3_stmt *st = NULL;
    if (err == FOGPAY_OK) {
        err = prepare(db, "SELECT state FROM issuer_keys WHERE kid = ?1", &st);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_blob(st, 1, kid, sizeof kid, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *state = (issuer_key_state)sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    return rc == SQLITE_ROW ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

/* Whether public_text is an active key of the issuer. */
static fogpay_error key_active(sqlite3 *db, const char *public_text, bool *active)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err =
        prepare(db, "SELECT 1 FROM issuer_keys WHERE public_key = ?1 AND state = 0", &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_text(st, 1, public_text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *active = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

fogpay_error issuer_key_retire(sqlite3 *db, const char *public_text, uint64_t now_ms)
{
    bool active = false;
    uint64_t count = 0;
    fogpay_error err = key_active(db, public_text, &active);
    if (err == FOGPAY_OK && !active) {
        err = FOGPAY_ERR_NOT_FOUND;
    }
    if (err == FOGPAY_OK) {
        err = issuer_key_count(db, &count);
    }
    if (err == FOGPAY_OK && count <= 1) {
        err = FOGPAY_ERR_INVALID_ARGUMENT; /* nothing would be left to issue with */
    }
    sqlite3_stmt *st = NULL;
    if (err == FOGPAY_OK) {
        err = prepare(db, "UPDATE issuer_keys SET state = 1, retired_ms = ?2 WHERE public_key = ?1",
                      &st);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_text(st, 1, public_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now_ms);
    return step_done(st);
}

fogpay_error issuer_keys_write(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err =
        prepare(db, "SELECT public_key, state FROM issuer_keys ORDER BY created_ms, kid", &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    fprintf(out, "# fogpay note issuer keys: one key a line, active or retired\n");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(out, "%s %s\n", (const char *)sqlite3_column_text(st, 0),
                sqlite3_column_int(st, 1) == ISSUER_KEY_ACTIVE ? "active" : "retired");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

/* Inserts one issued note. */
static fogpay_error note_insert(sqlite3_stmt *st, const uint8_t kid[FOGPAY_KID_BYTES],
                                const fogpay_note *n, const fogpay_held_note *held)
{
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, n->serial, sizeof n->serial, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, kid, FOGPAY_KID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, n->currency);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n->denomination_minor);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)n->issued_s);
    if (n->expiry_s != 0) {
        sqlite3_bind_int64(st, 6, (sqlite3_int64)n->expiry_s);
    } else {
        sqlite3_bind_null(st, 6);
    }
    sqlite3_bind_blob(st, 7, held->note, (int)held->note_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return FOGPAY_ERR_EXISTS; /* a serial drawn twice: 2^-128, but never issued twice */
    }
    return rc == SQLITE_DONE ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

fogpay_error issuer_notes_record(sqlite3 *db, const fogpay_key *key, const fogpay_note *notes,
                                 const fogpay_held_note *held, size_t count)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = fogpay_key_id(key, kid);
    sqlite3_stmt *st = NULL;
    if (err == FOGPAY_OK) {
        err = prepare(db,
                      "INSERT INTO issued_notes (serial, kid, currency, denomination_minor, "
                      "issued_s, expiry_s, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    err = rc == SQLITE_OK ? FOGPAY_OK : fogpay_sqlite_error(rc);
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = note_insert(st, kid, &notes[i], &held[i]);
    }
    sqlite3_finalize(st);
    if (err == FOGPAY_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        err = rc == SQLITE_OK ? FOGPAY_OK : fogpay_sqlite_error(rc);
    }
    if (err != FOGPAY_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}

fogpay_error issuer_circulation_write(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err = prepare(db,
                               "SELECT currency, count(*), sum(denomination_minor) "
                               "FROM issued_notes WHERE state = 0 GROUP BY currency "
                               "ORDER BY currency",
                               &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int exponent = 2;
        const char *code = fogpay_currency_code((uint16_t)sqlite3_column_int(st, 0), &exponent);
        char total[32];
        fogpay_amount_format(sqlite3_column_int64(st, 2), exponent, total, sizeof total);
        fprintf(out, "%s %" PRId64 " %s\n", code ? code : "?", (int64_t)sqlite3_column_int64(st, 1),
                total);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

/* Whether public_text is a key of the issuer, active or retired. */
static fogpay_error key_known(sqlite3 *db, const char *public_text, bool *known)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err = prepare(db, "SELECT 1 FROM issuer_keys WHERE public_key = ?1", &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_text(st, 1, public_text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *known = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? FOGPAY_OK : fogpay_sqlite_error(rc);
}

/* Why note held could not be marked redeemed: not issued here, redeemed
 * before, or other bytes than the note issued. */
static fogpay_error redeem_why(sqlite3 *db, const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES])
{
    sqlite3_stmt *st = NULL;
    fogpay_error err = prepare(db, "SELECT state FROM issued_notes WHERE serial = ?1", &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_bind_blob(st, 1, serial, FOGPAY_NOTE_SERIAL_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_DONE                ? FOGPAY_ERR_NOTE_UNKNOWN
          : rc != SQLITE_ROW               ? fogpay_sqlite_error(rc)
          : sqlite3_column_int(st, 0) != 0 ? FOGPAY_ERR_NOTE_DOUBLE_SPEND
                                           : FOGPAY_ERR_NOTE_FORGED;
    sqlite3_finalize(st);
    return err;
}

/* Checks one note handed back and marks it redeemed (st: the update). */
static fogpay_error redeem_one(sqlite3 *db, sqlite3_stmt *st, const fogpay_key *from,
                               const fogpay_held_note *held, uint64_t now_ms)
{
    fogpay_cose_sign1 cose;
    fogpay_note n;
    fogpay_error err = fogpay_cose_sign1_parse(held->note, held->note_len, &cose);
    err = err == FOGPAY_OK ? fogpay_note_decode(cose.payload.ptr, cose.payload.len, &n) : err;
    if (err != FOGPAY_OK) {
        return FOGPAY_ERR_NOTE_FORGED;
    }
    fogpay_bytes payload;
    fogpay_custody c;
    if (held->custody_len == 0 || fogpay_cose_sign1_open(held->custody, held->custody_len, from,
                                                         NULL, &payload) != FOGPAY_OK) {
        return FOGPAY_ERR_CUSTODY_NOT_HOLDER; /* not handed back by that gateway */
    }
    err = fogpay_custody_decode(payload.ptr, payload.len, &c);
    if (err == FOGPAY_OK && memcmp(c.serial, n.serial, sizeof c.serial) != 0) {
        err = FOGPAY_ERR_CUSTODY_BROKEN;
    }
    bool ours = false;
    err = err == FOGPAY_OK ? key_known(db, c.holder_key, &ours) : err;
    if (err == FOGPAY_OK && !ours) {
        err = FOGPAY_ERR_CUSTODY_OTHER_HOLDER; /* handed to another key than the issuer's */
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms);
    sqlite3_bind_blob(st, 2, n.serial, sizeof n.serial, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, held->note, (int)held->note_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        return fogpay_sqlite_error(rc);
    }
    return sqlite3_changes(db) == 1 ? FOGPAY_OK : redeem_why(db, n.serial);
}

fogpay_error issuer_notes_redeem(sqlite3 *db, const fogpay_key *from, const fogpay_held_note *held,
                                 size_t count, uint64_t now_ms, size_t *refused)
{
    sqlite3_stmt *st = NULL;
    fogpay_error err = prepare(db,
                               "UPDATE issued_notes SET state = 1, redeemed_ms = ?1 "
                               "WHERE serial = ?2 AND note = ?3 AND state = 0",
                               &st);
    if (err != FOGPAY_OK) {
        return err;
    }
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    err = rc == SQLITE_OK ? FOGPAY_OK : fogpay_sqlite_error(rc);
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = redeem_one(db, st, from, &held[i], now_ms);
        *refused = i;
    }
    sqlite3_finalize(st);
    if (err == FOGPAY_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        err = rc == SQLITE_OK ? FOGPAY_OK : fogpay_sqlite_error(rc);
    }
    if (err != FOGPAY_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}
