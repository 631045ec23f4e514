/*
 * ledger.c - the ledger's database: open and close, pragmas, the schema
 * version, the prepared statements, SQLite codes converted to fogpay_error,
 * transactions and savepoints.
 *
 * Design. Open hands the file to the one SQLite opener
 * (common/fogpay_sqlite.c), which sets the pragmas the guarantees rest on
 * (WAL journal, synchronous=FULL so a commit has reached the disk when it
 * returns, foreign keys on, defensive mode), checks PRAGMA user_version,
 * creates the schema (schemas/ledger.sql) when asked to or runs the
 * migrations (schemas/ledger_migrate_N.sql), all embedded at build time;
 * then it prepares every statement of every file once. A file that is not
 * this ledger, or another version of it, is refused without being changed,
 * and the sentence saying why outlives the failed open
 * (fogpay_ledger_open_why).
 *
 * Ownership. fogpay_ledger_open() allocates the struct, with its hot state
 * (ledger_hot.c) and its checkpoint thread (ledger_checkpoint.c), and the
 * caller frees it with fogpay_ledger_close(), which stops the thread,
 * frees the hot state, finalizes the statements and closes the database
 * (an open transaction is rolled back).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_core__sql[] = {
    {LEDGER_STMT_BEGIN, "BEGIN IMMEDIATE"},
    {LEDGER_STMT_BEGIN_READ, "BEGIN DEFERRED"},
    {LEDGER_STMT_COMMIT, "COMMIT"},
    {LEDGER_STMT_ROLLBACK, "ROLLBACK"},
    {LEDGER_STMT_SAVEPOINT, "SAVEPOINT fogpay_caller"},
    {LEDGER_STMT_RELEASE, "RELEASE fogpay_caller"},
    {LEDGER_STMT_ROLLBACK_TO, "ROLLBACK TO fogpay_caller"},
    {LEDGER_STMT_OP_SAVEPOINT, "SAVEPOINT ledger_op"},
    {LEDGER_STMT_OP_RELEASE, "RELEASE ledger_op"},
    {LEDGER_STMT_OP_ROLLBACK_TO, "ROLLBACK TO ledger_op"},
    {LEDGER_STMT_DATA_VERSION, "PRAGMA data_version"},
};
const size_t ledger_core__sql_count = sizeof ledger_core__sql / sizeof ledger_core__sql[0];

/* Every file's statements, prepared together at open. */
static const struct {
    const ledger_stmt_sql *table;
    const size_t *count;
} ledger__tables[] = {
    {ledger_core__sql, &ledger_core__sql_count},
    {ledger_registry__sql, &ledger_registry__sql_count},
    {ledger_entity_login__sql, &ledger_entity_login__sql_count},
    {ledger_account__sql, &ledger_account__sql_count},
    {ledger_settle__sql, &ledger_settle__sql_count},
    {ledger_message__sql, &ledger_message__sql_count},
    {ledger_query__sql, &ledger_query__sql_count},
    {ledger_event__sql, &ledger_event__sql_count},
    {ledger_fee__sql, &ledger_fee__sql_count},
    {ledger_sync__sql, &ledger_sync__sql_count},
    {ledger_gateway_key__sql, &ledger_gateway_key__sql_count},
    {ledger_tariff__sql, &ledger_tariff__sql_count},
    {ledger_hold__sql, &ledger_hold__sql_count},
    {ledger_plan__sql, &ledger_plan__sql_count},
    {ledger_collect__sql, &ledger_collect__sql_count},
    {ledger_plan_statement__sql, &ledger_plan_statement__sql_count},
    {ledger_note__sql, &ledger_note__sql_count},
    {ledger_verify__sql, &ledger_verify__sql_count},
    {ledger_gauge__sql, &ledger_gauge__sql_count},
    {ledger_statement__sql, &ledger_statement__sql_count},
    {ledger_payout__sql, &ledger_payout__sql_count},
    {ledger_personal__sql, &ledger_personal__sql_count},
};

sqlite3_stmt *ledger__stmt(fogpay_ledger *l, ledger_stmt_id id)
{
    assert(id < LEDGER_STMT_COUNT);
    assert(l->stmt[id] != NULL);
    return l->stmt[id];
}

void ledger__bind_int64(fogpay_ledger *l, sqlite3_stmt *s, int index, int64_t value)
{
    if (l->bind_rc == SQLITE_OK) {
        l->bind_rc = sqlite3_bind_int64(s, index, value);
    }
}

void ledger__bind_u64(fogpay_ledger *l, sqlite3_stmt *s, int index, uint64_t value)
{
    /* Callers check their values against LEDGER_INT_MAX first; a larger one
     * here is a programmer error. */
    assert(value <= LEDGER_INT_MAX);
    ledger__bind_int64(l, s, index, (int64_t)value);
}

void ledger__bind_text(fogpay_ledger *l, sqlite3_stmt *s, int index, const char *text)
{
    assert(text != NULL);
    if (l->bind_rc == SQLITE_OK) {
        l->bind_rc = sqlite3_bind_text(s, index, text, -1, SQLITE_STATIC);
    }
}

void ledger__bind_text_or_null(fogpay_ledger *l, sqlite3_stmt *s, int index, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        ledger__bind_null(l, s, index);
    } else {
        ledger__bind_text(l, s, index, text);
    }
}

void ledger__bind_blob(fogpay_ledger *l, sqlite3_stmt *s, int index, const void *data, size_t len)
{
    assert(len <= (size_t)INT32_MAX);
    if (l->bind_rc == SQLITE_OK) {
        l->bind_rc = sqlite3_bind_blob(s, index, data, (int)len, SQLITE_STATIC);
    }
}

void ledger__bind_null(fogpay_ledger *l, sqlite3_stmt *s, int index)
{
    if (l->bind_rc == SQLITE_OK) {
        l->bind_rc = sqlite3_bind_null(s, index);
    }
}

int ledger__step(fogpay_ledger *l, sqlite3_stmt *s)
{
    int rc = l->bind_rc;
    l->bind_rc = SQLITE_OK;
    if (rc != SQLITE_OK) {
        return rc;
    }
    return sqlite3_step(s);
}

void ledger__finish(sqlite3_stmt *s)
{
    /* The step's result was checked where it was made; reset repeats it. */
    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
}

fogpay_error ledger__error(fogpay_ledger *l, int rc)
{
    assert(rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE);
    const char *text =
        sqlite3_extended_errcode(l->db) == rc ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc);
    snprintf(l->message, sizeof l->message, "%s", text);
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return FOGPAY_ERR_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return FOGPAY_ERR_NOT_FOUND;
    default:
        return fogpay_sqlite_error(rc);
    }
}

fogpay_error ledger__scalar(fogpay_ledger *l, sqlite3_stmt *s, uint64_t *out)
{
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) >= 0) {
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    } else {
        err = rc == SQLITE_ROW ? FOGPAY_ERR_LEDGER_CORRUPT
                               : ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__exec(fogpay_ledger *l, sqlite3_stmt *s)
{
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__complete(fogpay_ledger *l, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        return rc == SQLITE_ROW ? FOGPAY_ERR_STORAGE : ledger__error(l, rc);
    }
    return FOGPAY_OK;
}

void ledger__note(fogpay_ledger *l, const char *sentence)
{
    snprintf(l->message, sizeof l->message, "%s", sentence);
}

bool ledger__column_text(sqlite3_stmt *s, int column, char *out, size_t cap)
{
    assert(cap > 0);
    const unsigned char *text = sqlite3_column_text(s, column);
    size_t len = (size_t)sqlite3_column_bytes(s, column);
    out[0] = '\0';
    if (text == NULL) {
        return true;
    }
    if (len >= cap || memchr(text, '\0', len) != NULL) {
        return false;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return true;
}

fogpay_error ledger__check_text(const char *text, size_t max)
{
    if (text == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    size_t len = strnlen(text, max + 1);
    if (len == 0 || len > max) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* Opening. */

/* Version N to N + 1: schemas/ledger_migrate_N.sql, embedded at build time. */
static const char *const ledger__migrations[] = {ledger_migrate_1_sql, ledger_migrate_2_sql,
                                                 ledger_migrate_3_sql, ledger_migrate_4_sql,
                                                 ledger_migrate_5_sql, ledger_migrate_6_sql};

static const fogpay_sqlite_schema ledger__schema = {
    .what = "ledger",
    .version = FOGPAY_LEDGER_SCHEMA_VERSION,
    .create_sql = ledger_schema_sql,
    .migrations = ledger__migrations,
    .migration_count = sizeof ledger__migrations / sizeof ledger__migrations[0],
    .busy_timeout_ms = LEDGER_BUSY_TIMEOUT_MS,
    .cache_kib = LEDGER_CACHE_KIB,
};

static fogpay_error ledger__prepare_all(fogpay_ledger *l)
{
    for (size_t t = 0; t < sizeof ledger__tables / sizeof ledger__tables[0]; t++) {
        for (size_t i = 0; i < *ledger__tables[t].count; i++) {
            const ledger_stmt_sql *entry = &ledger__tables[t].table[i];
            assert(entry->id < LEDGER_STMT_COUNT);
            assert(l->stmt[entry->id] == NULL);
            int rc = sqlite3_prepare_v3(l->db, entry->sql, -1, SQLITE_PREPARE_PERSISTENT,
                                        &l->stmt[entry->id], NULL);
            if (rc != SQLITE_OK) {
                return ledger__error(l, rc);
            }
        }
    }
    for (size_t id = 0; id < LEDGER_STMT_COUNT; id++) {
        assert(l->stmt[id] != NULL);
    }
    return FOGPAY_OK;
}

static void ledger__free(fogpay_ledger *l)
{
    ledger__checkpoint_stop(l);
    ledger__hot_free(l);
    for (size_t id = 0; id < LEDGER_STMT_COUNT; id++) {
        sqlite3_finalize(l->stmt[id]);
    }
    /* Every statement is finalized, so the close cannot be deferred. */
    sqlite3_close(l->db);
    free(l);
}

fogpay_error fogpay_ledger_open_why(const char *path, bool create, fogpay_ledger **out, char *why,
                                    size_t cap)
{
    if (why != NULL && cap > 0) {
        why[0] = '\0';
    }
    if (path == NULL || out == NULL || path[0] == '\0') {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    fogpay_ledger *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = ledger__hot_init(l);
    if (err == FOGPAY_OK) {
        err = fogpay_sqlite_open(path, create, &ledger__schema, &l->db, NULL, l->message,
                                 sizeof l->message);
    }
    if (err == FOGPAY_OK) {
        err = ledger__prepare_all(l);
    }
    if (err == FOGPAY_OK) {
        err = ledger__checkpoint_start(l);
    }
    if (err != FOGPAY_OK) {
        if (why != NULL && cap > 0) {
            snprintf(why, cap, "%s", l->message);
        }
        ledger__free(l);
        return err == FOGPAY_ERR_STORAGE_BUSY || err == FOGPAY_ERR_SCHEMA_VERSION ||
                       err == FOGPAY_ERR_NO_MEMORY
                   ? err
                   : FOGPAY_ERR_STORAGE;
    }
    *out = l;
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_open(const char *path, bool create, fogpay_ledger **out)
{
    return fogpay_ledger_open_why(path, create, out, NULL, 0);
}

void fogpay_ledger_close(fogpay_ledger *l)
{
    if (l != NULL) {
        ledger__free(l);
    }
}

const char *fogpay_ledger_last_message(const fogpay_ledger *l)
{
    if (l == NULL) {
        return "no ledger";
    }
    return l->message;
}

/* Transactions. */

fogpay_error fogpay_ledger_begin(fogpay_ledger *l)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (!sqlite3_get_autocommit(l->db)) {
        ledger__note(l, "a transaction is already open");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    l->savepoint_depth = 0;
    fogpay_error err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_BEGIN));
    if (err == FOGPAY_OK) {
        err = ledger__hot_begin(l);
        if (err != FOGPAY_OK) {
            (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
        }
    }
    return err;
}

fogpay_error fogpay_ledger_commit(fogpay_ledger *l)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (sqlite3_get_autocommit(l->db)) {
        ledger__note(l, "no transaction is open");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_COMMIT));
    if (err == FOGPAY_OK) {
        ledger__hot_commit(l);
    } else if (sqlite3_get_autocommit(l->db)) {
        ledger__hot_undo_all(l); /* SQLite rolled the transaction back */
    }
    if (err == FOGPAY_OK || sqlite3_get_autocommit(l->db)) {
        l->savepoint_depth = 0;
    }
    return err;
}

void fogpay_ledger_rollback(fogpay_ledger *l)
{
    if (l == NULL) {
        return;
    }
    if (!sqlite3_get_autocommit(l->db)) {
        (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
    }
    ledger__hot_undo_all(l);
    l->savepoint_depth = 0;
}

fogpay_error fogpay_ledger_savepoint(fogpay_ledger *l)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (sqlite3_get_autocommit(l->db)) {
        ledger__note(l, "a savepoint needs an open transaction");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (l->savepoint_depth >= LEDGER_SAVEPOINT_DEPTH_MAX) {
        ledger__note(l, "too many savepoints are open");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_SAVEPOINT));
    if (err == FOGPAY_OK) {
        l->savepoint_depth++;
        ledger__hot_mark(l);
    }
    return err;
}

fogpay_error fogpay_ledger_release(fogpay_ledger *l)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (l->savepoint_depth == 0 || sqlite3_get_autocommit(l->db)) {
        l->savepoint_depth = 0;
        ledger__note(l, "no savepoint is open");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_RELEASE));
    if (err == FOGPAY_OK) {
        l->savepoint_depth--;
        ledger__hot_release(l);
    }
    return err;
}

void fogpay_ledger_rollback_to(fogpay_ledger *l)
{
    if (l == NULL) {
        return;
    }
    if (l->savepoint_depth == 0 || sqlite3_get_autocommit(l->db)) {
        if (sqlite3_get_autocommit(l->db)) {
            ledger__hot_undo_all(l);
        }
        l->savepoint_depth = 0;
        return;
    }
    (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK_TO));
    (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_RELEASE));
    ledger__hot_undo_to_mark(l);
    l->savepoint_depth--;
}

fogpay_error ledger__op_begin(fogpay_ledger *l, ledger_op *op)
{
    op->own_transaction = sqlite3_get_autocommit(l->db) != 0;
    ledger_stmt_id id = op->own_transaction ? LEDGER_STMT_BEGIN : LEDGER_STMT_OP_SAVEPOINT;
    fogpay_error err = ledger__exec(l, ledger__stmt(l, id));
    if (err != FOGPAY_OK) {
        return err;
    }
    if (!op->own_transaction) {
        ledger__hot_mark(l);
        return FOGPAY_OK;
    }
    err = ledger__hot_begin(l);
    if (err != FOGPAY_OK) {
        (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
    }
    return err;
}

fogpay_error ledger__op_end(fogpay_ledger *l, ledger_op *op, fogpay_error err)
{
    /* SQLite may have rolled the whole transaction back itself (a full
     * disk, an I/O error): then there is nothing left to end. */
    if (sqlite3_get_autocommit(l->db)) {
        ledger__hot_undo_all(l);
        if (!op->own_transaction) {
            l->savepoint_depth = 0;
        }
        return err;
    }
    if (op->own_transaction) {
        if (err == FOGPAY_OK) {
            err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_COMMIT));
        }
        if (err != FOGPAY_OK && !sqlite3_get_autocommit(l->db)) {
            (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
        }
        if (err == FOGPAY_OK) {
            ledger__hot_commit(l);
        } else {
            ledger__hot_undo_all(l);
        }
        return err;
    }
    if (err == FOGPAY_OK) {
        err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_OP_RELEASE));
        if (err == FOGPAY_OK) {
            ledger__hot_release(l);
            return FOGPAY_OK;
        }
    }
    (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_OP_ROLLBACK_TO));
    (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_OP_RELEASE));
    ledger__hot_undo_to_mark(l);
    return err;
}

fogpay_error ledger__read_begin(fogpay_ledger *l, bool *own)
{
    *own = sqlite3_get_autocommit(l->db) != 0;
    if (!*own) {
        return FOGPAY_OK;
    }
    fogpay_error err = ledger__exec(l, ledger__stmt(l, LEDGER_STMT_BEGIN_READ));
    if (err == FOGPAY_OK) {
        err = ledger__hot_begin(l);
        if (err != FOGPAY_OK) {
            (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
        }
    }
    return err;
}

void ledger__read_end(fogpay_ledger *l, bool own)
{
    if (own && !sqlite3_get_autocommit(l->db)) {
        /* A read transaction wrote nothing: ending it cannot lose work, and
         * what it loaded into the hot state was committed. */
        (void)ledger__exec(l, ledger__stmt(l, LEDGER_STMT_ROLLBACK));
        ledger__hot_commit(l);
    }
}
