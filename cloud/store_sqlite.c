/*
 * store_sqlite.c - the cloud store on one SQLite file (the default engine).
 *
 * Design. Open goes through the one SQLite opener that the gateway's
 * ledger uses too (common/fogpay_sqlite.c): WAL journaling, synchronous=FULL
 * so a commit has reached the disk when it returns, foreign keys on,
 * defensive mode, a busy timeout so that two ingest processes on one file
 * wait for each other instead of failing. It checks PRAGMA user_version and
 * creates the schema (schemas/cloud.sql, embedded) in one BEGIN IMMEDIATE
 * transaction when the file is empty and creation was asked for; then this
 * file prepares every statement once. A file that is not this store, or another version of it, is
 * refused without being changed. A write transaction is BEGIN IMMEDIATE:
 * the write lock is taken before the head is read, which makes the
 * compare-and-set of store.c safe across processes.
 *
 * Ownership. The sqlite3 handle and the statements live in a store_sqlite
 * made by open and freed by close. Every statement is used as bind, step,
 * check, then sqlite__finish(), so text and blobs bound without copying
 * never outlive the call that bound them.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fogpay_sqlite.h"
#include "store_engine.h"

/* How long a call waits for another connection's write lock (another
 * ingest process appending, the back office reading) before it gives up
 * with FOGPAY_ERR_STORAGE_BUSY. An append of a full batch commits in well
 * under a second even with synchronous=FULL; ten seconds rides out a
 * queue of several without letting a stuck process hang the rest. */
#define SQLITE_STORE_BUSY_TIMEOUT_MS 10000

/* The longest statement text built at open (the transfer and event pages). */
#define SQLITE_STORE_SQL_MAX 1024

/* The variants of the transfer page and of the event page: which of the
 * optional filters are set, as bits. Each has its own statement so SQLite
 * can use the index that fits. */
#define SQLITE_PAGE_GATEWAY  1u
#define SQLITE_PAGE_DEVICE   2u
#define SQLITE_PAGE_ENTITY   4u
#define SQLITE_PAGE_VARIANTS 8u

typedef enum sqlite_stmt_id {
    SQLITE_STMT_BEGIN_WRITE,
    SQLITE_STMT_BEGIN_READ,
    SQLITE_STMT_COMMIT,
    SQLITE_STMT_ROLLBACK,
    SQLITE_STMT_GATEWAY_INSERT,
    SQLITE_STMT_GATEWAY_SET_KEY,
    SQLITE_STMT_GATEWAY_GET,
    SQLITE_STMT_GATEWAY_PAGE,
    SQLITE_STMT_GATEWAY_SET_HEAD,
    SQLITE_STMT_TRANSFER_INSERT,
    SQLITE_STMT_LEG_INSERT,
    SQLITE_STMT_CHAIN_HASH,
    SQLITE_STMT_EVENT_INSERT,
    SQLITE_STMT_EVENT_HASH,
    SQLITE_STMT_NOTE_INSERT,
    SQLITE_STMT_NOTE_HOME_SET,
    SQLITE_STMT_NOTE_HASH,
    SQLITE_STMT_NOTE_HEAD,
    SQLITE_STMT_NOTE_HOME_GET,
    SQLITE_STMT_NOTE_PAGE,
    SQLITE_STMT_FIXED_COUNT
} sqlite_stmt_id;

#define SQLITE_GATEWAY_COLUMNS                                                                     \
    "id, public_key, position, hash, batch_seq, batches, last_batch_ms, last_transfer_ms, "        \
    "added_ms, event_position, event_hash"
#define SQLITE_TRANSFER_COLUMNS                                                                    \
    "gateway_id, position, kind, debit_account, credit_account, amount_minor, currency, "          \
    "time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference, "                \
    "related_position, record, hash"
#define SQLITE_EVENT_COLUMNS                                                                       \
    "gateway_id, position, kind, time_ms, device_id, entity_id, record, hash"

static const char *const sqlite__sql[SQLITE_STMT_FIXED_COUNT] = {
    [SQLITE_STMT_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQLITE_STMT_BEGIN_READ] = "BEGIN DEFERRED",
    [SQLITE_STMT_COMMIT] = "COMMIT",
    [SQLITE_STMT_ROLLBACK] = "ROLLBACK",
    [SQLITE_STMT_GATEWAY_INSERT] = "INSERT INTO gateways (" SQLITE_GATEWAY_COLUMNS
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQLITE_STMT_GATEWAY_SET_KEY] = "UPDATE gateways SET public_key = ?2 WHERE id = ?1",
    [SQLITE_STMT_GATEWAY_GET] = "SELECT " SQLITE_GATEWAY_COLUMNS " FROM gateways WHERE id = ?1",
    [SQLITE_STMT_GATEWAY_PAGE] =
        "SELECT " SQLITE_GATEWAY_COLUMNS " FROM gateways WHERE id > ?1 ORDER BY id LIMIT ?2",
    [SQLITE_STMT_GATEWAY_SET_HEAD] =
        "UPDATE gateways SET position = ?2, hash = ?3, batch_seq = ?4, batches = ?5,"
        " last_batch_ms = ?6, last_transfer_ms = ?7, event_position = ?8, event_hash = ?9"
        " WHERE id = ?1",
    [SQLITE_STMT_TRANSFER_INSERT] =
        "INSERT INTO transfers (" SQLITE_TRANSFER_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
        " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [SQLITE_STMT_LEG_INSERT] =
        "INSERT INTO transfer_legs (gateway_id, position, leg, debit_account,"
        " credit_account, amount_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQLITE_STMT_CHAIN_HASH] = "SELECT hash FROM transfers WHERE gateway_id = ?1 AND position = ?2",
    [SQLITE_STMT_EVENT_INSERT] =
        "INSERT INTO events (" SQLITE_EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQLITE_STMT_EVENT_HASH] = "SELECT hash FROM events WHERE gateway_id = ?1 AND position = ?2",
    [SQLITE_STMT_NOTE_INSERT] = "INSERT INTO note_movements (" STORE_NOTE_COLUMNS
                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQLITE_STMT_NOTE_HOME_SET] = STORE_NOTE_HOME_SET_SQL("?1", "?2", "?3", "?4"),
    [SQLITE_STMT_NOTE_HASH] =
        "SELECT hash FROM note_movements WHERE gateway_id = ?1 AND position = ?2",
    [SQLITE_STMT_NOTE_HEAD] = STORE_NOTE_HEAD_SQL("?1"),
    [SQLITE_STMT_NOTE_HOME_GET] = STORE_NOTE_HOME_GET_SQL("?1"),
    [SQLITE_STMT_NOTE_PAGE] = STORE_NOTE_PAGE_SQL("?1", "?2", "?3"),
};

typedef struct store_sqlite {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQLITE_STMT_FIXED_COUNT];
    sqlite3_stmt *page[SQLITE_PAGE_VARIANTS];
    sqlite3_stmt *event_page[SQLITE_PAGE_VARIANTS];
    /* The first failed bind since the last step (SQLITE_OK if none). */
    int bind_rc;
} store_sqlite;

static store_sqlite *sqlite__state(fogpay_store *s)
{
    assert(s->engine_state != NULL);
    return s->engine_state;
}

/* Converts a SQLite code and keeps the database's message with what was
 * being done. Busy and locked become FOGPAY_ERR_STORAGE_BUSY, a unique or
 * primary-key violation FOGPAY_ERR_EXISTS. */
static fogpay_error sqlite__error(fogpay_store *s, sqlite3 *db, int rc, const char *doing)
{
    assert(rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE);
    const char *text =
        db != NULL && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    store__note(s, "SQLite could not %s: %s", doing, text);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return FOGPAY_ERR_EXISTS;
    }
    return fogpay_sqlite_error(rc);
}

/* Binders: the first failure sticks in bind_rc and is returned by the next
 * sqlite__step(). Text and blobs are bound without copying. */
static void sqlite__bind_u64(store_sqlite *q, sqlite3_stmt *st, int index, uint64_t value)
{
    /* store.c checks every value against STORE_INT_MAX first. */
    assert(value <= STORE_INT_MAX);
    if (q->bind_rc == SQLITE_OK) {
        q->bind_rc = sqlite3_bind_int64(st, index, (int64_t)value);
    }
}

static void sqlite__bind_text(store_sqlite *q, sqlite3_stmt *st, int index, const char *text)
{
    if (q->bind_rc == SQLITE_OK) {
        q->bind_rc = text == NULL || text[0] == '\0'
                         ? sqlite3_bind_null(st, index)
                         : sqlite3_bind_text(st, index, text, -1, SQLITE_STATIC);
    }
}

static void sqlite__bind_blob(store_sqlite *q, sqlite3_stmt *st, int index, const void *data,
                              size_t len)
{
    assert(len <= FOGPAY_RECORD_BYTES_MAX);
    if (q->bind_rc == SQLITE_OK) {
        q->bind_rc = data == NULL ? sqlite3_bind_null(st, index)
                                  : sqlite3_bind_blob(st, index, data, (int)len, SQLITE_STATIC);
    }
}

static int sqlite__step(store_sqlite *q, sqlite3_stmt *st)
{
    int rc = q->bind_rc;
    q->bind_rc = SQLITE_OK;
    return rc != SQLITE_OK ? rc : sqlite3_step(st);
}

static void sqlite__finish(sqlite3_stmt *st)
{
    /* The step's result was checked where it was made; reset repeats it. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no row and finishes it. */
static fogpay_error sqlite__exec(fogpay_store *s, sqlite3_stmt *st, const char *doing)
{
    store_sqlite *q = sqlite__state(s);
    int rc = sqlite__step(q, st);
    fogpay_error err = FOGPAY_OK;
    if (rc != SQLITE_DONE) {
        err = rc == SQLITE_ROW ? FOGPAY_ERR_STORAGE : sqlite__error(s, q->db, rc, doing);
    }
    sqlite__finish(st);
    return err;
}

/* Reading columns. Each returns false for a value outside its type or
 * limit: stored data that this store did not write. */

static bool sqlite__u64(sqlite3_stmt *st, int column, uint64_t *out)
{
    int type = sqlite3_column_type(st, column);
    int64_t value = sqlite3_column_int64(st, column);
    *out = value >= 0 ? (uint64_t)value : 0;
    return (type == SQLITE_INTEGER && value >= 0) || type == SQLITE_NULL;
}

static bool sqlite__text(sqlite3_stmt *st, int column, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(st, column);
    size_t len = (size_t)sqlite3_column_bytes(st, column);
    out[0] = '\0';
    if (text == NULL) {
        return sqlite3_column_type(st, column) == SQLITE_NULL;
    }
    if (len >= cap || memchr(text, '\0', len) != NULL) {
        return false;
    }
    memcpy(out, text, len + 1);
    return true;
}

/* A blob of exactly FOGPAY_HASH_BYTES; NULL reads as zeros when optional. */
static bool sqlite__hash(sqlite3_stmt *st, int column, bool optional,
                         uint8_t out[FOGPAY_HASH_BYTES])
{
    memset(out, 0, FOGPAY_HASH_BYTES);
    if (sqlite3_column_type(st, column) == SQLITE_NULL) {
        return optional;
    }
    const void *blob = sqlite3_column_blob(st, column);
    if (blob == NULL || sqlite3_column_bytes(st, column) != FOGPAY_HASH_BYTES) {
        return false;
    }
    memcpy(out, blob, FOGPAY_HASH_BYTES);
    return true;
}

/* Reads a gateway row (SQLITE_GATEWAY_COLUMNS from column 0). */
static bool sqlite__gateway_read(sqlite3_stmt *st, fogpay_store_gateway *g)
{
    memset(g, 0, sizeof *g);
    return sqlite__text(st, 0, g->gateway_id, sizeof g->gateway_id) &&
           sqlite__text(st, 1, g->public_key, sizeof g->public_key) &&
           sqlite__u64(st, 2, &g->position) && sqlite__hash(st, 3, false, g->hash) &&
           sqlite__u64(st, 4, &g->batch_seq) && sqlite__u64(st, 5, &g->batches) &&
           sqlite__u64(st, 6, &g->last_batch_ms) && sqlite__u64(st, 7, &g->last_transfer_ms) &&
           sqlite__u64(st, 8, &g->added_ms) && sqlite__u64(st, 9, &g->event_position) &&
           sqlite__hash(st, 10, false, g->event_hash);
}

/* Reads a transfer row (SQLITE_TRANSFER_COLUMNS from column 0). */
static void sqlite__row_read(sqlite3_stmt *st, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_transfer *t = &row->t;
    uint64_t kind = 0;
    uint64_t currency = 0;
    if (!sqlite__text(st, 0, row->gateway_id, sizeof row->gateway_id) ||
        !sqlite__u64(st, 1, &t->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!sqlite__u64(st, 2, &kind) || !sqlite__u64(st, 3, &t->debit_account) ||
               !sqlite__u64(st, 4, &t->credit_account) || !sqlite__u64(st, 5, &t->amount_minor) ||
               !sqlite__u64(st, 6, &currency) || !sqlite__u64(st, 7, &t->time_ms) ||
               !sqlite__u64(st, 9, &t->seq) || !sqlite__u64(st, 14, &t->related_position) ||
               kind > STORE_TRANSFER_KIND_MAX || currency > FOGPAY_CURRENCY_MAX) {
        row->problem = "a number column is out of its range";
    } else if (!sqlite__text(st, 8, t->device_id, sizeof t->device_id) ||
               !sqlite__text(st, 10, t->payer_entity, sizeof t->payer_entity) ||
               !sqlite__text(st, 11, t->payee_entity, sizeof t->payee_entity) ||
               !sqlite__text(st, 13, t->reference, sizeof t->reference) ||
               !sqlite__hash(st, 12, true, t->intent_hash)) {
        row->problem = "a text column or the intent hash is over its limit";
    } else if (!sqlite__hash(st, 16, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    } else if (!store__legs_parse((const char *)sqlite3_column_text(st, 17), t)) {
        row->problem = "its further legs are not legs 2 on of accounts and amounts";
    }
    t->kind = (uint8_t)kind;
    t->currency = (uint16_t)currency;
    const void *record = sqlite3_column_blob(st, 15);
    int len = sqlite3_column_bytes(st, 15);
    if (record == NULL || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, record, (size_t)len);
        row->record_len = (size_t)len;
    }
}

/* Reads an event row (SQLITE_EVENT_COLUMNS from column 0). */
static void sqlite__event_row_read(sqlite3_stmt *st, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_event *e = &row->e;
    uint64_t kind = 0;
    if (!sqlite__text(st, 0, row->gateway_id, sizeof row->gateway_id) ||
        !sqlite__u64(st, 1, &e->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!sqlite__u64(st, 2, &kind) || !sqlite__u64(st, 3, &e->time_ms) ||
               (kind > STORE_EVENT_KIND_MAX || kind == 4)) {
        row->problem = "a number column is out of its range";
    } else if (!sqlite__text(st, 4, e->device_id, sizeof e->device_id) ||
               !sqlite__text(st, 5, e->entity_id, sizeof e->entity_id)) {
        row->problem = "a text column is over its limit";
    } else if (!sqlite__hash(st, 7, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    }
    e->kind = (uint8_t)kind;
    const void *record = sqlite3_column_blob(st, 6);
    int len = sqlite3_column_bytes(st, 6);
    if (record == NULL || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, record, (size_t)len);
        row->record_len = (size_t)len;
    }
}

/* Reads a note movement row (STORE_NOTE_COLUMNS from column 0). */
static void sqlite__note_row_read(sqlite3_stmt *st, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_note_movement *m = &row->m;
    uint64_t kind = 0;
    const void *serial = sqlite3_column_blob(st, 4);
    if (!sqlite__text(st, 0, row->gateway_id, sizeof row->gateway_id) ||
        !sqlite__u64(st, 1, &m->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!sqlite__u64(st, 2, &kind) || !sqlite__u64(st, 3, &m->time_ms) ||
               kind > STORE_NOTE_KIND_MAX) {
        row->problem = "a number column is out of its range";
    } else if (serial == NULL || sqlite3_column_bytes(st, 4) != FOGPAY_NOTE_SERIAL_BYTES ||
               !sqlite__text(st, 5, m->device_id, sizeof m->device_id)) {
        row->problem = "the serial is not 16 bytes or the device id is over its limit";
    } else if (!sqlite__hash(st, 7, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    } else {
        memcpy(m->serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    }
    m->kind = (uint8_t)kind;
    const void *record = sqlite3_column_blob(st, 6);
    int len = sqlite3_column_bytes(st, 6);
    if (record == NULL || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, record, (size_t)len);
        row->record_len = (size_t)len;
    }
}

/* Opening. */

/* Versions 2 to 3, 3 to 4 and 4 to 5: no version 1 store was deployed. */
static const char *const sqlite__migrations[] = {NULL, cloud_migrate_2_sql, cloud_migrate_3_sql,
                                                 cloud_migrate_4_sql};
static const fogpay_sqlite_schema sqlite__schema = {
    .what = "cloud store",
    .version = STORE_SCHEMA_VERSION,
    .create_sql = cloud_schema_sql,
    .migrations = sqlite__migrations,
    .migration_count = sizeof sqlite__migrations / sizeof sqlite__migrations[0],
    .busy_timeout_ms = SQLITE_STORE_BUSY_TIMEOUT_MS,
};

/* The text of a page variant of transfers or events: the optional
 * filters of mask. With a gateway, paging is by position alone (?5 is the
 * gateway, ?2 the position to go on after); without, by (gateway_id,
 * position). A transfer names an entity on either side, an event in
 * entity_id. */
static void sqlite__page_sql(bool events, unsigned mask, char *sql, size_t cap)
{
    const char *entity =
        events ? " AND entity_id = ?7" : " AND (payer_entity = ?7 OR payee_entity = ?7)";
    int n = snprintf(sql, cap,
                     "SELECT %s%s FROM %s WHERE %s"
                     " AND time_ms >= ?3 AND time_ms < ?4%s%s"
                     " ORDER BY gateway_id, position LIMIT ?8",
                     events ? SQLITE_EVENT_COLUMNS : SQLITE_TRANSFER_COLUMNS,
                     events ? "" : ", " STORE_LEGS_SQL("group_concat(" STORE_LEG_TEXT ", ';')"),
                     events ? "events" : "transfers",
                     (mask & SQLITE_PAGE_GATEWAY) ? "gateway_id = ?5 AND position > ?2"
                                                  : "(gateway_id, position) > (?1, ?2)",
                     (mask & SQLITE_PAGE_DEVICE) ? " AND device_id = ?6" : "",
                     (mask & SQLITE_PAGE_ENTITY) ? entity : "");
    assert(n > 0 && (size_t)n < cap);
}

static fogpay_error sqlite__prepare_all(fogpay_store *s)
{
    store_sqlite *q = sqlite__state(s);
    for (size_t i = 0; i < SQLITE_STMT_FIXED_COUNT; i++) {
        int rc = sqlite3_prepare_v3(q->db, sqlite__sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &q->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            return sqlite__error(s, q->db, rc, "prepare its statements");
        }
    }
    for (unsigned i = 0; i < 2 * SQLITE_PAGE_VARIANTS; i++) {
        bool events = i >= SQLITE_PAGE_VARIANTS;
        unsigned mask = i % SQLITE_PAGE_VARIANTS;
        char sql[SQLITE_STORE_SQL_MAX];
        sqlite__page_sql(events, mask, sql, sizeof sql);
        sqlite3_stmt **st = events ? &q->event_page[mask] : &q->page[mask];
        int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
        if (rc != SQLITE_OK) {
            return sqlite__error(s, q->db, rc, "prepare its statements");
        }
    }
    return FOGPAY_OK;
}

static fogpay_error sqlite__open(fogpay_store *s, const char *target, bool create)
{
    store_sqlite *q = calloc(1, sizeof *q);
    if (q == NULL) {
        store__note(s, "no memory for the SQLite store");
        return FOGPAY_ERR_NO_MEMORY;
    }
    s->engine_state = q;
    long found = 0;
    fogpay_error err = fogpay_sqlite_open(target, create, &sqlite__schema, &q->db, &found,
                                          s->message, sizeof s->message);
    if (err == FOGPAY_ERR_SCHEMA_VERSION && found == 1) {
        /* The store's own sentence on why there is no migration. */
        store__note_version(s, found, false, "file");
    }
    if (err == FOGPAY_OK) {
        err = sqlite__prepare_all(s);
    }
    if (err == FOGPAY_ERR_STORAGE && strstr(s->message, "file is not a database") != NULL) {
        /* A file of something else is a store of no version of ours. */
        err = FOGPAY_ERR_SCHEMA_VERSION;
    }
    return err;
}

static void sqlite__close(fogpay_store *s)
{
    store_sqlite *q = s->engine_state;
    if (q == NULL) {
        return;
    }
    for (size_t i = 0; i < SQLITE_STMT_FIXED_COUNT; i++) {
        sqlite3_finalize(q->stmt[i]);
    }
    for (size_t i = 0; i < SQLITE_PAGE_VARIANTS; i++) {
        sqlite3_finalize(q->page[i]);
        sqlite3_finalize(q->event_page[i]);
    }
    /* Every statement is finalized, so the close is not deferred; an open
     * transaction is rolled back by it. */
    sqlite3_close(q->db);
    free(q);
    s->engine_state = NULL;
}

/* Transactions. */

static fogpay_error sqlite__begin(fogpay_store *s, store_txn kind)
{
    store_sqlite *q = sqlite__state(s);
    sqlite_stmt_id id = kind == STORE_TXN_WRITE ? SQLITE_STMT_BEGIN_WRITE : SQLITE_STMT_BEGIN_READ;
    return sqlite__exec(s, q->stmt[id], "begin a transaction");
}

static fogpay_error sqlite__commit(fogpay_store *s)
{
    store_sqlite *q = sqlite__state(s);
    return sqlite__exec(s, q->stmt[SQLITE_STMT_COMMIT], "commit");
}

static void sqlite__rollback(fogpay_store *s)
{
    store_sqlite *q = sqlite__state(s);
    if (!sqlite3_get_autocommit(q->db)) {
        char kept[STORE_MESSAGE_MAX];
        memcpy(kept, s->message, sizeof kept);
        (void)sqlite__exec(s, q->stmt[SQLITE_STMT_ROLLBACK], "roll back");
        memcpy(s->message, kept, sizeof kept);
    }
}

/* Gateways. */

static fogpay_error sqlite__gateway_insert(fogpay_store *s, const fogpay_store_gateway *g)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_GATEWAY_INSERT];
    sqlite__bind_text(q, st, 1, g->gateway_id);
    sqlite__bind_text(q, st, 2, g->public_key);
    sqlite__bind_u64(q, st, 3, g->position);
    sqlite__bind_blob(q, st, 4, g->hash, FOGPAY_HASH_BYTES);
    sqlite__bind_u64(q, st, 5, g->batch_seq);
    sqlite__bind_u64(q, st, 6, g->batches);
    sqlite__bind_u64(q, st, 7, g->last_batch_ms);
    sqlite__bind_u64(q, st, 8, g->last_transfer_ms);
    sqlite__bind_u64(q, st, 9, g->added_ms);
    sqlite__bind_u64(q, st, 10, g->event_position);
    sqlite__bind_blob(q, st, 11, g->event_hash, FOGPAY_HASH_BYTES);
    fogpay_error err = sqlite__exec(s, st, "add the gateway");
    if (err == FOGPAY_ERR_EXISTS) {
        store__note(s, "the gateway %s is registered already", g->gateway_id);
    }
    return err;
}

static fogpay_error sqlite__gateway_set_key(fogpay_store *s, const char *gateway_id,
                                            const char *public_key_text)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_GATEWAY_SET_KEY];
    sqlite__bind_text(q, st, 1, gateway_id);
    sqlite__bind_text(q, st, 2, public_key_text);
    fogpay_error err = sqlite__exec(s, st, "set the gateway's key");
    if (err == FOGPAY_OK && sqlite3_changes(q->db) == 0) {
        err = FOGPAY_ERR_UNKNOWN_GATEWAY;
    }
    return err;
}

static fogpay_error sqlite__gateway_get(fogpay_store *s, const char *gateway_id, bool for_update,
                                        fogpay_store_gateway *out)
{
    /* BEGIN IMMEDIATE already holds the write lock: no row lock to take. */
    (void)for_update;
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_GATEWAY_GET];
    sqlite__bind_text(q, st, 1, gateway_id);
    int rc = sqlite__step(q, st);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        if (!sqlite__gateway_read(st, out)) {
            store__note(s, "the row of gateway %s holds values out of their range", gateway_id);
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
    } else if (rc == SQLITE_DONE) {
        store__note(s, "there is no gateway %s", gateway_id);
        err = FOGPAY_ERR_UNKNOWN_GATEWAY;
    } else {
        err = sqlite__error(s, q->db, rc, "read the gateway");
    }
    sqlite__finish(st);
    return err;
}

static fogpay_error sqlite__gateway_page(fogpay_store *s, const char *after_id, uint32_t limit,
                                         fogpay_store_gateway_visit visit, void *ctx,
                                         uint32_t *count)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_GATEWAY_PAGE];
    if (q->bind_rc == SQLITE_OK) {
        q->bind_rc = sqlite3_bind_text(st, 1, after_id, -1, SQLITE_STATIC);
    }
    sqlite__bind_u64(q, st, 2, limit);
    fogpay_error err = FOGPAY_OK;
    *count = 0;
    int rc;
    while ((rc = sqlite__step(q, st)) == SQLITE_ROW) {
        fogpay_store_gateway g;
        if (!sqlite__gateway_read(st, &g)) {
            store__note(s, "a gateway row holds values out of their range");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        ++*count;
        if (visit(ctx, &g) != 0) {
            break;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = sqlite__error(s, q->db, rc, "list the gateways");
    }
    sqlite__finish(st);
    return err;
}

static fogpay_error sqlite__gateway_set_head(fogpay_store *s, const fogpay_store_gateway *g)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_GATEWAY_SET_HEAD];
    sqlite__bind_text(q, st, 1, g->gateway_id);
    sqlite__bind_u64(q, st, 2, g->position);
    sqlite__bind_blob(q, st, 3, g->hash, FOGPAY_HASH_BYTES);
    sqlite__bind_u64(q, st, 4, g->batch_seq);
    sqlite__bind_u64(q, st, 5, g->batches);
    sqlite__bind_u64(q, st, 6, g->last_batch_ms);
    sqlite__bind_u64(q, st, 7, g->last_transfer_ms);
    sqlite__bind_u64(q, st, 8, g->event_position);
    sqlite__bind_blob(q, st, 9, g->event_hash, FOGPAY_HASH_BYTES);
    fogpay_error err = sqlite__exec(s, st, "move the gateway's head");
    if (err == FOGPAY_OK && sqlite3_changes(q->db) != 1) {
        store__note(s, "the head of gateway %s was not moved", g->gateway_id);
        err = FOGPAY_ERR_STORAGE;
    }
    return err;
}

/* Transfers. */

static fogpay_error sqlite__transfer_insert(fogpay_store *s, const char *gateway_id,
                                            const fogpay_store_record *r)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_TRANSFER_INSERT];
    const fogpay_transfer *t = r->transfer;
    bool device = t->device_id[0] != '\0';
    sqlite__bind_text(q, st, 1, gateway_id);
    sqlite__bind_u64(q, st, 2, t->position);
    sqlite__bind_u64(q, st, 3, t->kind);
    sqlite__bind_u64(q, st, 4, t->debit_account);
    sqlite__bind_u64(q, st, 5, t->credit_account);
    sqlite__bind_u64(q, st, 6, t->amount_minor);
    sqlite__bind_u64(q, st, 7, t->currency);
    sqlite__bind_u64(q, st, 8, t->time_ms);
    sqlite__bind_text(q, st, 9, t->device_id);
    sqlite__bind_blob(q, st, 13, device ? t->intent_hash : NULL, FOGPAY_HASH_BYTES);
    if (device) {
        sqlite__bind_u64(q, st, 10, t->seq);
    }
    sqlite__bind_text(q, st, 11, t->payer_entity);
    sqlite__bind_text(q, st, 12, t->payee_entity);
    sqlite__bind_text(q, st, 14, t->reference);
    if (t->related_position != 0) {
        sqlite__bind_u64(q, st, 15, t->related_position);
    }
    sqlite__bind_blob(q, st, 16, r->record, r->record_len);
    sqlite__bind_blob(q, st, 17, r->hash, FOGPAY_HASH_BYTES);
    fogpay_error err = sqlite__exec(s, st, "store a transfer");
    for (uint32_t i = 1; i <= t->leg_count && err == FOGPAY_OK; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        st = q->stmt[SQLITE_STMT_LEG_INSERT];
        sqlite__bind_text(q, st, 1, gateway_id);
        sqlite__bind_u64(q, st, 2, t->position);
        sqlite__bind_u64(q, st, 3, (uint64_t)i + 1);
        sqlite__bind_u64(q, st, 4, leg.debit_account);
        sqlite__bind_u64(q, st, 5, leg.credit_account);
        sqlite__bind_u64(q, st, 6, leg.amount_minor);
        err = sqlite__exec(s, st, "store a transfer's leg");
    }
    return err;
}

/* Events. */

static fogpay_error sqlite__event_insert(fogpay_store *s, const char *gateway_id,
                                         const fogpay_store_event *r)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_EVENT_INSERT];
    const fogpay_event *e = r->event;
    sqlite__bind_text(q, st, 1, gateway_id);
    sqlite__bind_u64(q, st, 2, e->position);
    sqlite__bind_u64(q, st, 3, e->kind);
    sqlite__bind_u64(q, st, 4, e->time_ms);
    sqlite__bind_text(q, st, 5, e->device_id);
    sqlite__bind_text(q, st, 6, e->entity_id);
    sqlite__bind_blob(q, st, 7, r->record, r->record_len);
    sqlite__bind_blob(q, st, 8, r->hash, FOGPAY_HASH_BYTES);
    return sqlite__exec(s, st, "store an event");
}

/* Note movements and the notes' homes. */

static fogpay_error sqlite__note_insert(fogpay_store *s, const char *gateway_id,
                                        const fogpay_store_note *r)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_NOTE_INSERT];
    const fogpay_note_movement *m = r->movement;
    sqlite__bind_text(q, st, 1, gateway_id);
    sqlite__bind_u64(q, st, 2, m->position);
    sqlite__bind_u64(q, st, 3, m->kind);
    sqlite__bind_u64(q, st, 4, m->time_ms);
    sqlite__bind_blob(q, st, 5, m->serial, FOGPAY_NOTE_SERIAL_BYTES);
    sqlite__bind_text(q, st, 6, m->device_id);
    sqlite__bind_blob(q, st, 7, r->record, r->record_len);
    sqlite__bind_blob(q, st, 8, r->hash, FOGPAY_HASH_BYTES);
    fogpay_error err = sqlite__exec(s, st, "store a note movement");
    if (err != FOGPAY_OK) {
        return err;
    }
    st = q->stmt[SQLITE_STMT_NOTE_HOME_SET];
    sqlite__bind_blob(q, st, 1, m->serial, FOGPAY_NOTE_SERIAL_BYTES);
    sqlite__bind_text(q, st, 2, gateway_id);
    sqlite__bind_u64(q, st, 3, m->position);
    sqlite__bind_u64(q, st, 4, m->time_ms);
    return sqlite__exec(s, st, "move a note's home");
}

static fogpay_error sqlite__note_head(fogpay_store *s, const char *gateway_id, uint64_t *position,
                                      uint8_t hash[FOGPAY_HASH_BYTES])
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_NOTE_HEAD];
    sqlite__bind_text(q, st, 1, gateway_id);
    int rc = sqlite__step(q, st);
    fogpay_error err = FOGPAY_OK;
    *position = 0;
    memset(hash, 0, FOGPAY_HASH_BYTES);
    if (rc == SQLITE_ROW) {
        if (!sqlite__u64(st, 0, position) || !sqlite__hash(st, 1, false, hash)) {
            store__note(s, "the note chain head of %s is malformed", gateway_id);
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
    } else if (rc != SQLITE_DONE) {
        err = sqlite__error(s, q->db, rc, "read the note chain's head");
    }
    sqlite__finish(st);
    return err;
}

static fogpay_error sqlite__note_home_get(fogpay_store *s,
                                          const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                          fogpay_store_note_home *out)
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[SQLITE_STMT_NOTE_HOME_GET];
    sqlite__bind_blob(q, st, 1, serial, FOGPAY_NOTE_SERIAL_BYTES);
    int rc = sqlite__step(q, st);
    fogpay_error err = FOGPAY_OK;
    memset(out, 0, sizeof *out);
    if (rc == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        if (id == NULL || strlen((const char *)id) > FOGPAY_GATEWAY_ID_MAX ||
            !sqlite__u64(st, 1, &out->position) || !sqlite__u64(st, 2, &out->time_ms)) {
            store__note(s, "a note's home row is malformed");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            strcpy(out->gateway_id, (const char *)id);
        }
    } else if (rc == SQLITE_DONE) {
        store__note(s, "no gateway's note chain has moved this note");
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = sqlite__error(s, q->db, rc, "read a note's home");
    }
    sqlite__finish(st);
    return err;
}

static fogpay_error sqlite__chain_hash(fogpay_store *s, fogpay_stream stream,
                                       const char *gateway_id, uint64_t position,
                                       uint8_t hash[FOGPAY_HASH_BYTES])
{
    store_sqlite *q = sqlite__state(s);
    sqlite3_stmt *st = q->stmt[stream == FOGPAY_STREAM_NOTES    ? SQLITE_STMT_NOTE_HASH
                               : stream == FOGPAY_STREAM_EVENTS ? SQLITE_STMT_EVENT_HASH
                                                                : SQLITE_STMT_CHAIN_HASH];
    sqlite__bind_text(q, st, 1, gateway_id);
    sqlite__bind_u64(q, st, 2, position);
    int rc = sqlite__step(q, st);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        if (!sqlite__hash(st, 0, false, hash)) {
            store__note(s, "the chain hash of %s at %llu is not 32 bytes", gateway_id,
                        (unsigned long long)position);
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
    } else if (rc == SQLITE_DONE) {
        store__note(s, "the chain of %s has no position %llu", gateway_id,
                    (unsigned long long)position);
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = sqlite__error(s, q->db, rc, "read a chain hash");
    }
    sqlite__finish(st);
    return err;
}

/* Picks the page variant of f among pages (transfers' or events') and
 * binds f to it. */
static sqlite3_stmt *sqlite__page_bind(store_sqlite *q, sqlite3_stmt *const *pages,
                                       const fogpay_store_filter *f)
{
    unsigned mask = (f->gateway_id ? SQLITE_PAGE_GATEWAY : 0) |
                    (f->device_id ? SQLITE_PAGE_DEVICE : 0) |
                    (f->entity_id ? SQLITE_PAGE_ENTITY : 0);
    sqlite3_stmt *st = pages[mask];
    uint64_t after_position = f->after_position;
    if (f->gateway_id != NULL) {
        /* Paging inside one gateway's chain: before it, from the start;
         * after it, nothing is left. */
        int order = strcmp(f->after_gateway, f->gateway_id);
        after_position = order < 0 ? 0 : order > 0 ? STORE_INT_MAX : after_position;
        sqlite__bind_text(q, st, 5, f->gateway_id);
    } else if (q->bind_rc == SQLITE_OK) {
        q->bind_rc = sqlite3_bind_text(st, 1, f->after_gateway, -1, SQLITE_STATIC);
    }
    sqlite__bind_u64(q, st, 2, after_position);
    sqlite__bind_u64(q, st, 3, f->from_ms);
    sqlite__bind_u64(q, st, 4, f->to_ms);
    sqlite__bind_text(q, st, 6, f->device_id);
    sqlite__bind_text(q, st, 7, f->entity_id);
    sqlite__bind_u64(q, st, 8, f->limit);
    return st;
}

static fogpay_error sqlite__page(fogpay_store *s, fogpay_stream stream,
                                 const fogpay_store_filter *f, store_row_visit visit, void *ctx,
                                 uint32_t *count)
{
    store_sqlite *q = sqlite__state(s);
    bool events = stream == FOGPAY_STREAM_EVENTS;
    bool notes = stream == FOGPAY_STREAM_NOTES;
    sqlite3_stmt *st = NULL;
    if (notes) {
        st = q->stmt[SQLITE_STMT_NOTE_PAGE];
        sqlite__bind_text(q, st, 1, f->gateway_id);
        sqlite__bind_u64(q, st, 2, f->after_position);
        sqlite__bind_u64(q, st, 3, f->limit);
    } else {
        st = sqlite__page_bind(q, events ? q->event_page : q->page, f);
    }
    *count = 0;
    int rc;
    store_row row;
    while ((rc = sqlite__step(q, st)) == SQLITE_ROW) {
        if (notes) {
            sqlite__note_row_read(st, &row);
        } else if (events) {
            sqlite__event_row_read(st, &row);
        } else {
            sqlite__row_read(st, &row);
        }
        ++*count;
        if (visit(ctx, &row) != 0) {
            break;
        }
    }
    fogpay_error err = FOGPAY_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = sqlite__error(s, q->db, rc,
                            notes    ? "read note movements"
                            : events ? "read events"
                                     : "read transfers");
    }
    sqlite__finish(st);
    return err;
}

const store_engine store_sqlite__engine = {
    .name = "sqlite",
    .open = sqlite__open,
    .close = sqlite__close,
    .begin = sqlite__begin,
    .commit = sqlite__commit,
    .rollback = sqlite__rollback,
    .gateway_insert = sqlite__gateway_insert,
    .gateway_set_key = sqlite__gateway_set_key,
    .gateway_get = sqlite__gateway_get,
    .gateway_page = sqlite__gateway_page,
    .gateway_set_head = sqlite__gateway_set_head,
    .transfer_insert = sqlite__transfer_insert,
    .event_insert = sqlite__event_insert,
    .note_insert = sqlite__note_insert,
    .note_head = sqlite__note_head,
    .note_home_get = sqlite__note_home_get,
    .chain_hash = sqlite__chain_hash,
    .page = sqlite__page,
};
