/*
 * fogpay_sqlite.h - the one SQLite opener of fogpay: the gateway's ledger
 * (ledger/ledger.c) and the cloud store's SQLite engine (cloud/store_sqlite.c)
 * open their files here.
 *
 * What an open does, in order: open the file (created only when asked);
 * extended result codes, the busy timeout, defensive mode, untrusted schema;
 * foreign keys on, and verified; read PRAGMA user_version. Then, only for a
 * file that is this program's (its version, an older version with a
 * migration, or an empty file to create): WAL journaling (verified) and
 * synchronous=FULL, the page cache's size, each migration in its own
 * transaction, or the schema created in one transaction. Anything else (another application's file,
 * a newer version, an older one without a migration) is refused without being changed, with a
 * sentence naming the version found and the version needed.
 *
 * Ownership: on success *db is the caller's to close with sqlite3_close();
 * on failure *db is NULL and why holds the sentence.
 */
#ifndef FOGPAY_SQLITE_H
#define FOGPAY_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "fogpay_error.h"

/* What a program's file is: the schema of its version and how older
 * versions reach it. */
typedef struct fogpay_sqlite_schema {
    const char *what;              /* "ledger", "cloud store": in the sentences */
    long version;                  /* the PRAGMA user_version this program needs */
    const char *create_sql;        /* the whole schema, run on an empty file */
    const char *const *migrations; /* migrations[i] takes version i + 1 to i + 2; NULL: none */
    size_t migration_count;
    int busy_timeout_ms;
    int cache_kib; /* the page cache in KiB (PRAGMA cache_size = -N); 0: SQLite's */
} fogpay_sqlite_schema;

/* An SQLite result code as a fogpay_error: FOGPAY_ERR_STORAGE_BUSY for a
 * busy or locked database, FOGPAY_ERR_NO_MEMORY, else FOGPAY_ERR_STORAGE.
 * The callers map their constraint codes first. */
fogpay_error fogpay_sqlite_error(int rc);

/* Opens path as schema describes. found receives the version the file held
 * before any migration (0 for an empty file or one that is not a database;
 * may be NULL). Errors: FOGPAY_ERR_SCHEMA_VERSION (another version, not
 * this program's file, an empty file without create), FOGPAY_ERR_STORAGE_BUSY,
 * FOGPAY_ERR_NO_MEMORY, FOGPAY_ERR_STORAGE (cannot open, not a database,
 * a pragma refused, a failed migration); why says which, in a sentence. */
fogpay_error fogpay_sqlite_open(const char *path, bool create, const fogpay_sqlite_schema *schema,
                                sqlite3 **db, long *found, char *why, size_t cap);

#endif
