/*
 * fogpay_sqlite.c - the one SQLite opener (fogpay_sqlite.h): pragmas set and
 * verified, the version checked, the schema created or migrated.
 *
 * Where it lives. It needs nothing of fogpay but the error enum, and both of
 * its users (the ledger library and the cloud store) link common/ already,
 * so it sits beside the other shared mechanisms. It is built as a library of
 * its own (fogpay_sqlite in common/meson.build) so that the programs that
 * never touch SQLite (the edge agent, the ingest's codec users) do not link
 * sqlite3 through common_dep.
 *
 * The migrations and the schema are the .sql files of schemas/, embedded at
 * build time by schemas/embed_sql.py; the opener sets PRAGMA user_version
 * after each of them, in the same transaction.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_sqlite.h"

typedef struct opener {
    sqlite3 *db;
    const fogpay_sqlite_schema *schema;
    char *why;
    size_t cap;
} opener;

static void opener__note(opener *o, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void opener__note(opener *o, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(o->why, o->cap, format, ap);
    va_end(ap);
}

fogpay_error fogpay_sqlite_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return FOGPAY_ERR_STORAGE_BUSY;
    case SQLITE_NOMEM:
        return FOGPAY_ERR_NO_MEMORY;
    default:
        return FOGPAY_ERR_STORAGE;
    }
}

/* An SQLite code as a fogpay_error, with SQLite's sentence for doing. */
static fogpay_error opener__error(opener *o, int rc, const char *doing)
{
    const char *text = o->db != NULL && sqlite3_extended_errcode(o->db) == rc
                           ? sqlite3_errmsg(o->db)
                           : sqlite3_errstr(rc);
    opener__note(o, "SQLite could not %s of the %s: %s", doing, o->schema->what, text);
    return fogpay_sqlite_error(rc);
}

/* Runs one statement and copies the first column of its first row, if
 * any, into value (may be NULL). */
static fogpay_error opener__query(opener *o, const char *sql, char *value, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(o->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return opener__error(o, rc, "read the settings");
    }
    fogpay_error err = FOGPAY_OK;
    if (value != NULL) {
        value[0] = '\0';
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && value != NULL) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        if (text != NULL && len >= cap) {
            opener__note(o, "SQLite answered \"%s\" unexpectedly", sql);
            err = FOGPAY_ERR_STORAGE;
        } else if (text != NULL) {
            memcpy(value, text, len);
            value[len] = '\0';
        }
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = opener__error(o, rc, "read the settings");
    }
    sqlite3_finalize(st);
    return err;
}

/* The schema version, and whether the file holds any object at all. */
static fogpay_error opener__version(opener *o, long *version, bool *empty)
{
    char text[32];
    fogpay_error err = opener__query(o, "PRAGMA user_version", text, sizeof text);
    if (err == FOGPAY_OK) {
        *version = strtol(text, NULL, 10);
        err = opener__query(o, "SELECT count(*) FROM sqlite_master", text, sizeof text);
    }
    if (err == FOGPAY_OK) {
        *empty = strcmp(text, "0") == 0;
    }
    return err;
}

/* Connection settings, before anything is read. */
static fogpay_error opener__configure(opener *o)
{
    int rc = sqlite3_extended_result_codes(o->db, 1);
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(o->db, o->schema->busy_timeout_ms);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_db_config(o->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_db_config(o->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    }
    if (rc != SQLITE_OK) {
        return opener__error(o, rc, "configure the connection");
    }
    char value[16];
    fogpay_error err = opener__query(o, "PRAGMA foreign_keys = ON", NULL, 0);
    if (err == FOGPAY_OK) {
        err = opener__query(o, "PRAGMA foreign_keys", value, sizeof value);
    }
    if (err == FOGPAY_OK && strcmp(value, "1") != 0) {
        opener__note(o, "this SQLite cannot enforce foreign keys");
        err = FOGPAY_ERR_STORAGE;
    }
    return err;
}

/* The journal and durability pragmas (WAL is kept in the file), the
 * overwriting of deleted content and the page cache. secure_delete=FAST
 * zeroes a deleted row's bytes in its page (where that costs no extra
 * write), so that erased personal data do not linger in the file's free
 * space once the WAL is checkpointed. synchronous=FULL in WAL mode syncs the WAL at every commit,
 * so a commit has reached the disk when it returns; NORMAL would sync only at checkpoints, and a
 * power cut could lose commits whose receipts were sent. */
static fogpay_error opener__durability(opener *o)
{
    char mode[16];
    fogpay_error err = opener__query(o, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    if (err == FOGPAY_OK && strcmp(mode, "wal") != 0) {
        opener__note(o, "the %s needs WAL journaling, which this file cannot use", o->schema->what);
        err = FOGPAY_ERR_STORAGE;
    }
    if (err == FOGPAY_OK) {
        err = opener__query(o, "PRAGMA synchronous = FULL", NULL, 0);
    }
    if (err == FOGPAY_OK) {
        err = opener__query(o, "PRAGMA secure_delete = FAST", NULL, 0);
    }
    if (err == FOGPAY_OK && o->schema->cache_kib > 0) {
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", o->schema->cache_kib);
        err = opener__query(o, pragma, NULL, 0);
    }
    return err;
}

/* Runs script and sets the version to version, in one transaction of its
 * own; unless only_on_empty finds the file no longer empty (another process
 * created it in the meantime). */
static fogpay_error opener__step(opener *o, const char *script, long version, bool only_on_empty,
                                 const char *doing)
{
    fogpay_error err = opener__query(o, "BEGIN IMMEDIATE", NULL, 0);
    if (err != FOGPAY_OK) {
        return err;
    }
    long found = 0;
    bool empty = true;
    if (only_on_empty) {
        err = opener__version(o, &found, &empty);
    }
    if (err == FOGPAY_OK && found == 0 && empty) {
        int rc = sqlite3_exec(o->db, script, NULL, NULL, NULL);
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %ld", version);
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(o->db, pragma, NULL, NULL, NULL);
        }
        err = rc == SQLITE_OK ? FOGPAY_OK : opener__error(o, rc, doing);
    }
    if (err == FOGPAY_OK) {
        err = opener__query(o, "COMMIT", NULL, 0);
    }
    if (err != FOGPAY_OK && !sqlite3_get_autocommit(o->db)) {
        (void)sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}

/* Sets the connection's defensive flag (on from opener__configure). */
static fogpay_error opener__defensive(opener *o, bool on)
{
    int rc = sqlite3_db_config(o->db, SQLITE_DBCONFIG_DEFENSIVE, on ? 1 : 0, (int *)NULL);
    return rc == SQLITE_OK ? FOGPAY_OK : opener__error(o, rc, "configure the connection");
}

/* The sentence for a file of a version this program does not open. */
static void opener__note_version(opener *o, long version, bool empty)
{
    const fogpay_sqlite_schema *sc = o->schema;
    if (version == 0 && empty) {
        opener__note(o,
                     "schema version 0 found where version %ld of the %s is needed (an empty "
                     "file; it is created only when asked)",
                     sc->version, sc->what);
    } else if (version == 0) {
        opener__note(o,
                     "schema version 0 found where version %ld of the %s is needed: the file "
                     "holds something other than a %s",
                     sc->version, sc->what, sc->what);
    } else if (version > sc->version) {
        opener__note(o,
                     "schema version %ld found where version %ld of the %s is needed: a newer "
                     "fogpay wrote this file",
                     version, sc->version, sc->what);
    } else {
        opener__note(o,
                     "schema version %ld found where version %ld of the %s is needed, and "
                     "there is no migration from it",
                     version, sc->version, sc->what);
    }
}

/* Checks the version; creates the schema in an empty file when asked;
 * migrates an older file one version at a time. */
static fogpay_error opener__schema(opener *o, bool create, long *found)
{
    const fogpay_sqlite_schema *sc = o->schema;
    long version = 0;
    bool empty = false;
    fogpay_error err = opener__version(o, &version, &empty);
    if (err != FOGPAY_OK) {
        return err;
    }
    *found = version;
    bool fresh = version == 0 && empty;
    bool migrates =
        version >= 1 && version < sc->version && (size_t)(sc->version - 1) <= sc->migration_count;
    for (long v = version; migrates && v < sc->version; v++) {
        migrates = sc->migrations[v - 1] != NULL;
    }
    if (version != sc->version && !(fresh && create) && !migrates) {
        opener__note_version(o, version, empty);
        return FOGPAY_ERR_SCHEMA_VERSION;
    }
    err = opener__durability(o);
    /* A migration may loosen a CHECK by editing the stored schema
     * (writable_schema), which the defensive flag forbids: it is off for
     * the migrations only, on the one connection that runs them. */
    if (err == FOGPAY_OK && migrates) {
        err = opener__defensive(o, false);
    }
    for (long v = version; err == FOGPAY_OK && migrates && v < sc->version; v++) {
        err = opener__step(o, sc->migrations[v - 1], v + 1, false, "migrate the schema");
    }
    if (migrates) {
        fogpay_error restored = opener__defensive(o, true);
        err = err == FOGPAY_OK ? restored : err;
    }
    if (err == FOGPAY_OK && fresh) {
        err = opener__step(o, sc->create_sql, sc->version, true, "create the schema");
    }
    if (err == FOGPAY_OK && (fresh || migrates)) {
        err = opener__version(o, &version, &empty);
        if (err == FOGPAY_OK && version != sc->version) {
            opener__note_version(o, version, empty);
            err = FOGPAY_ERR_SCHEMA_VERSION;
        }
    }
    return err;
}

fogpay_error fogpay_sqlite_open(const char *path, bool create, const fogpay_sqlite_schema *schema,
                                sqlite3 **db, long *found, char *why, size_t cap)
{
    opener o = {.db = NULL, .schema = schema, .why = why, .cap = cap};
    long version = 0;
    *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (create) {
        flags |= SQLITE_OPEN_CREATE;
    }
    fogpay_error err = FOGPAY_OK;
    int rc = sqlite3_open_v2(path, &o.db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = opener__error(&o, rc, "open the file");
        opener__note(&o, "SQLite could not open %s as the %s: %s", path, schema->what,
                     o.db != NULL ? sqlite3_errmsg(o.db) : sqlite3_errstr(rc));
    }
    if (err == FOGPAY_OK) {
        err = opener__configure(&o);
    }
    if (err == FOGPAY_OK) {
        err = opener__schema(&o, create, &version);
    }
    if (found != NULL) {
        *found = version;
    }
    if (err != FOGPAY_OK) {
        sqlite3_close(o.db);
        return err;
    }
    *db = o.db;
    return FOGPAY_OK;
}
