/*
 * store_pg.c - the cloud store on PostgreSQL, through libpq.
 *
 * Design. One connection per store handle. Open connects, makes sure every
 * commit waits for the write-ahead log to reach the disk
 * (synchronous_commit on, whatever the server's default), reads the version
 * from the one-row table fogpay_schema, creates the schema
 * (schemas/cloud.sql, embedded, the same text SQLite runs) with its version
 * row in one transaction under an advisory lock when the database is empty
 * and creation was asked for, and prepares every statement once. Every
 * statement is parameterised: values travel as binary parameters (BIGINT
 * as 8 bytes in network order, BYTEA and TEXT as their bytes), never inside
 * SQL text, and rows come back in binary. A write transaction is a plain
 * BEGIN in which store.c reads the gateway's head with SELECT ... FOR UPDATE:
 * a second appender blocks on the row until the first commits and then
 * reads the moved head, which makes the compare-and-set safe across
 * processes and machines.
 *
 * Ownership. The PGconn lives in a store_pg made by open and freed by close.
 * Every PGresult is cleared in the function that got it; rows are copied
 * out before a visitor sees them.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_engine.h"

/* Type OIDs of the parameters (PostgreSQL's catalog, stable since 7.x;
 * server/catalog/pg_type_d.h is not part of libpq-dev). */
#define PG_OID_BYTEA 17
#define PG_OID_INT8  20
#define PG_OID_TEXT  25

/* Parameters of the widest statement (a transfer insert). */
#define PG_PARAMS_MAX 17

/* The longest statement text built at open (the transfer and event pages). */
#define PG_SQL_MAX 1024

/* The key of the advisory lock that serialises creating the schema, so two
 * processes creating one store at once make it once ("fogpay" in ASCII). */
#define PG_CREATE_LOCK_KEY 0x666f67706179LL

/* The variants of the transfer and event pages, as in store_sqlite.c. */
#define PG_PAGE_GATEWAY  1u
#define PG_PAGE_DEVICE   2u
#define PG_PAGE_ENTITY   4u
#define PG_PAGE_VARIANTS 8u

#define PG_GATEWAY_COLUMNS                                                                         \
    "id, public_key, position, hash, batch_seq, batches, last_batch_ms, last_transfer_ms, "        \
    "added_ms, event_position, event_hash"
#define PG_TRANSFER_COLUMNS                                                                        \
    "gateway_id, position, kind, debit_account, credit_account, amount_minor, currency, "          \
    "time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference, "                \
    "related_position, record, hash"
#define PG_EVENT_COLUMNS "gateway_id, position, kind, time_ms, device_id, entity_id, record, hash"

/* The fixed statements: name, text, parameter types. */
typedef struct pg_statement {
    const char *name;
    const char *sql;
    int param_count;
    Oid types[PG_PARAMS_MAX];
} pg_statement;

static const pg_statement pg__sql_gateway_insert = {
    "fogpay_gateway_insert",
    "INSERT INTO gateways (" PG_GATEWAY_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    11,
    {PG_OID_TEXT, PG_OID_TEXT, PG_OID_INT8, PG_OID_BYTEA, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8,
     PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_BYTEA}};
static const pg_statement pg__sql_gateway_set_key = {
    "fogpay_gateway_set_key",
    "UPDATE gateways SET public_key = $2 WHERE id = $1",
    2,
    {PG_OID_TEXT, PG_OID_TEXT}};
static const pg_statement pg__sql_gateway_get = {"fogpay_gateway_get",
                                                 "SELECT " PG_GATEWAY_COLUMNS
                                                 " FROM gateways WHERE id = $1",
                                                 1,
                                                 {PG_OID_TEXT}};
static const pg_statement pg__sql_gateway_lock = {"fogpay_gateway_lock",
                                                  "SELECT " PG_GATEWAY_COLUMNS
                                                  " FROM gateways WHERE id = $1 FOR UPDATE",
                                                  1,
                                                  {PG_OID_TEXT}};
static const pg_statement pg__sql_gateway_page = {
    "fogpay_gateway_page",
    "SELECT " PG_GATEWAY_COLUMNS " FROM gateways WHERE id > $1 ORDER BY id LIMIT $2",
    2,
    {PG_OID_TEXT, PG_OID_INT8}};
static const pg_statement pg__sql_gateway_set_head = {
    "fogpay_gateway_set_head",
    "UPDATE gateways SET position = $2, hash = $3, batch_seq = $4, batches = $5,"
    " last_batch_ms = $6, last_transfer_ms = $7, event_position = $8, event_hash = $9"
    " WHERE id = $1",
    9,
    {PG_OID_TEXT, PG_OID_INT8, PG_OID_BYTEA, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8,
     PG_OID_INT8, PG_OID_BYTEA}};
static const pg_statement pg__sql_transfer_insert = {
    "fogpay_transfer_insert",
    "INSERT INTO transfers (" PG_TRANSFER_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
    " $10, $11, $12, $13, $14, $15, $16, $17)",
    17,
    {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8,
     PG_OID_INT8, PG_OID_TEXT, PG_OID_INT8, PG_OID_TEXT, PG_OID_TEXT, PG_OID_BYTEA, PG_OID_TEXT,
     PG_OID_INT8, PG_OID_BYTEA, PG_OID_BYTEA}};
static const pg_statement pg__sql_leg_insert = {
    "fogpay_leg_insert",
    "INSERT INTO transfer_legs (gateway_id, position, leg, debit_account, credit_account,"
    " amount_minor) VALUES ($1, $2, $3, $4, $5, $6)",
    6,
    {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8}};
static const pg_statement pg__sql_chain_hash = {
    "fogpay_chain_hash",
    "SELECT hash FROM transfers WHERE gateway_id = $1 AND position = $2",
    2,
    {PG_OID_TEXT, PG_OID_INT8}};

static const pg_statement pg__sql_event_insert = {
    "fogpay_event_insert",
    "INSERT INTO events (" PG_EVENT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    8,
    {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_TEXT, PG_OID_TEXT, PG_OID_BYTEA,
     PG_OID_BYTEA}};
static const pg_statement pg__sql_event_hash = {
    "fogpay_event_hash",
    "SELECT hash FROM events WHERE gateway_id = $1 AND position = $2",
    2,
    {PG_OID_TEXT, PG_OID_INT8}};

static const pg_statement pg__sql_note_insert = {
    "fogpay_note_insert",
    "INSERT INTO note_movements (" STORE_NOTE_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    8,
    {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8, PG_OID_BYTEA, PG_OID_TEXT, PG_OID_BYTEA,
     PG_OID_BYTEA}};
static const pg_statement pg__sql_note_home_set = {
    "fogpay_note_home_set",
    STORE_NOTE_HOME_SET_SQL("$1", "$2", "$3", "$4"),
    4,
    {PG_OID_BYTEA, PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8}};
static const pg_statement pg__sql_note_hash = {
    "fogpay_note_hash",
    "SELECT hash FROM note_movements WHERE gateway_id = $1 AND position = $2",
    2,
    {PG_OID_TEXT, PG_OID_INT8}};
static const pg_statement pg__sql_note_head = {
    "fogpay_note_head", STORE_NOTE_HEAD_SQL("$1"), 1, {PG_OID_TEXT}};
static const pg_statement pg__sql_note_page = {"fogpay_note_page",
                                               STORE_NOTE_PAGE_SQL("$1", "$2", "$3"),
                                               3,
                                               {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8}};
static const pg_statement pg__sql_note_home_get = {
    "fogpay_note_home_get", STORE_NOTE_HOME_GET_SQL("$1"), 1, {PG_OID_BYTEA}};

static const pg_statement *const pg__statements[] = {
    &pg__sql_gateway_insert,  &pg__sql_gateway_get,      &pg__sql_gateway_lock,
    &pg__sql_gateway_page,    &pg__sql_gateway_set_head, &pg__sql_transfer_insert,
    &pg__sql_chain_hash,      &pg__sql_event_insert,     &pg__sql_event_hash,
    &pg__sql_gateway_set_key, &pg__sql_leg_insert,       &pg__sql_note_insert,
    &pg__sql_note_home_set,   &pg__sql_note_hash,        &pg__sql_note_head,
    &pg__sql_note_home_get,   &pg__sql_note_page,
};

/* Parameters of a transfer or event page: $1 after gateway, $2 after position,
 * $3 from_ms, $4 to_ms, $5 gateway, $6 device, $7 entity, $8 limit. Every
 * variant declares all eight, used or not. */
static const Oid pg__page_types[8] = {PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8, PG_OID_INT8,
                                      PG_OID_TEXT, PG_OID_TEXT, PG_OID_TEXT, PG_OID_INT8};

typedef struct store_pg {
    PGconn *conn;
} store_pg;

/* The parameters of one call, binary, with the integers' bytes kept here. */
typedef struct pg_params {
    const char *values[PG_PARAMS_MAX];
    int lengths[PG_PARAMS_MAX];
    int formats[PG_PARAMS_MAX];
    char ints[PG_PARAMS_MAX][8];
    int count;
} pg_params;

static store_pg *pg__state(fogpay_store *s)
{
    assert(s->engine_state != NULL);
    return s->engine_state;
}

static void pg__add_u64(pg_params *p, uint64_t value)
{
    assert(p->count < PG_PARAMS_MAX);
    assert(value <= STORE_INT_MAX);
    char *b = p->ints[p->count];
    for (int i = 0; i < 8; i++) {
        b[i] = (char)(uint8_t)(value >> (56 - 8 * i));
    }
    p->values[p->count] = b;
    p->lengths[p->count] = 8;
    p->formats[p->count] = 1;
    p->count++;
}

static void pg__add_bytes(pg_params *p, const void *data, size_t len)
{
    assert(p->count < PG_PARAMS_MAX);
    assert(len <= FOGPAY_RECORD_BYTES_MAX);
    p->values[p->count] = data;
    p->lengths[p->count] = (int)len;
    p->formats[p->count] = 1;
    p->count++;
}

/* Text, or NULL for NULL or "" (optional text is stored as NULL). */
static void pg__add_text(pg_params *p, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        pg__add_bytes(p, NULL, 0);
    } else {
        pg__add_bytes(p, text, strlen(text));
    }
}

/* Keeps libpq's message, one line, with what was being done, and converts
 * the SQLSTATE: a unique violation is FOGPAY_ERR_EXISTS; serialization
 * failure, deadlock and lock timeout FOGPAY_ERR_STORAGE_BUSY. */
static fogpay_error pg__error(fogpay_store *s, const PGresult *res, const char *doing)
{
    store_pg *q = pg__state(s);
    const char *text = res != NULL ? PQresultErrorMessage(res) : "";
    if (text[0] == '\0') {
        text = PQerrorMessage(q->conn);
    }
    store__note(s, "PostgreSQL could not %s: %.*s", doing, (int)strcspn(text, "\n"), text);
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL) {
        return FOGPAY_ERR_STORAGE;
    }
    if (strcmp(state, "23505") == 0) {
        return FOGPAY_ERR_EXISTS;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        return FOGPAY_ERR_STORAGE_BUSY;
    }
    return FOGPAY_ERR_STORAGE;
}

/* Runs a prepared statement; *out receives the result on success (the
 * caller clears it). */
static fogpay_error pg__run(fogpay_store *s, const char *name, const pg_params *p,
                            ExecStatusType expect, const char *doing, PGresult **out)
{
    store_pg *q = pg__state(s);
    PGresult *res = PQexecPrepared(q->conn, name, p->count, p->values, p->lengths, p->formats, 1);
    if (res == NULL || PQresultStatus(res) != expect) {
        fogpay_error err = pg__error(s, res, doing);
        PQclear(res);
        *out = NULL;
        return err;
    }
    *out = res;
    return FOGPAY_OK;
}

/* Runs a fixed command with no parameters and no data (BEGIN, COMMIT...). */
static fogpay_error pg__command(fogpay_store *s, const char *sql, const char *doing)
{
    store_pg *q = pg__state(s);
    PGresult *res = PQexec(q->conn, sql);
    fogpay_error err = FOGPAY_OK;
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = pg__error(s, res, doing);
    }
    PQclear(res);
    return err;
}

/* Reading binary columns. Each returns false for a value outside its type
 * or limit. NULL reads as 0, "" or zeros. */

static bool pg__u64(const PGresult *res, int row, int column, uint64_t *out)
{
    *out = 0;
    if (PQgetisnull(res, row, column)) {
        return true;
    }
    if (PQgetlength(res, row, column) != 8) {
        return false;
    }
    const uint8_t *b = (const uint8_t *)PQgetvalue(res, row, column);
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) {
        value = value << 8 | b[i];
    }
    if (value > STORE_INT_MAX) {
        return false;
    }
    *out = value;
    return true;
}

static bool pg__text(const PGresult *res, int row, int column, char *out, size_t cap)
{
    out[0] = '\0';
    if (PQgetisnull(res, row, column)) {
        return true;
    }
    size_t len = (size_t)PQgetlength(res, row, column);
    const char *text = PQgetvalue(res, row, column);
    if (len >= cap || memchr(text, '\0', len) != NULL) {
        return false;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return true;
}

static bool pg__hash(const PGresult *res, int row, int column, bool optional,
                     uint8_t out[FOGPAY_HASH_BYTES])
{
    memset(out, 0, FOGPAY_HASH_BYTES);
    if (PQgetisnull(res, row, column)) {
        return optional;
    }
    if (PQgetlength(res, row, column) != FOGPAY_HASH_BYTES) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, column), FOGPAY_HASH_BYTES);
    return true;
}

static bool pg__gateway_read(const PGresult *res, int row, fogpay_store_gateway *g)
{
    memset(g, 0, sizeof *g);
    return pg__text(res, row, 0, g->gateway_id, sizeof g->gateway_id) &&
           pg__text(res, row, 1, g->public_key, sizeof g->public_key) &&
           pg__u64(res, row, 2, &g->position) && pg__hash(res, row, 3, false, g->hash) &&
           pg__u64(res, row, 4, &g->batch_seq) && pg__u64(res, row, 5, &g->batches) &&
           pg__u64(res, row, 6, &g->last_batch_ms) && pg__u64(res, row, 7, &g->last_transfer_ms) &&
           pg__u64(res, row, 8, &g->added_ms) && pg__u64(res, row, 9, &g->event_position) &&
           pg__hash(res, row, 10, false, g->event_hash);
}

static void pg__row_read(const PGresult *res, int r, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_transfer *t = &row->t;
    uint64_t kind = 0;
    uint64_t currency = 0;
    if (!pg__text(res, r, 0, row->gateway_id, sizeof row->gateway_id) ||
        !pg__u64(res, r, 1, &t->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!pg__u64(res, r, 2, &kind) || !pg__u64(res, r, 3, &t->debit_account) ||
               !pg__u64(res, r, 4, &t->credit_account) || !pg__u64(res, r, 5, &t->amount_minor) ||
               !pg__u64(res, r, 6, &currency) || !pg__u64(res, r, 7, &t->time_ms) ||
               !pg__u64(res, r, 9, &t->seq) || !pg__u64(res, r, 14, &t->related_position) ||
               kind > STORE_TRANSFER_KIND_MAX || currency > FOGPAY_CURRENCY_MAX) {
        row->problem = "a number column is out of its range";
    } else if (!pg__text(res, r, 8, t->device_id, sizeof t->device_id) ||
               !pg__text(res, r, 10, t->payer_entity, sizeof t->payer_entity) ||
               !pg__text(res, r, 11, t->payee_entity, sizeof t->payee_entity) ||
               !pg__text(res, r, 13, t->reference, sizeof t->reference) ||
               !pg__hash(res, r, 12, true, t->intent_hash)) {
        row->problem = "a text column or the intent hash is over its limit";
    } else if (!pg__hash(res, r, 16, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    } else if (!store__legs_parse(PQgetisnull(res, r, 17) ? NULL : PQgetvalue(res, r, 17), t)) {
        row->problem = "its further legs are not legs 2 on of accounts and amounts";
    }
    t->kind = (uint8_t)kind;
    t->currency = (uint16_t)currency;
    int len = PQgetlength(res, r, 15);
    if (PQgetisnull(res, r, 15) || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, PQgetvalue(res, r, 15), (size_t)len);
        row->record_len = (size_t)len;
    }
}

static void pg__event_row_read(const PGresult *res, int r, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_event *e = &row->e;
    uint64_t kind = 0;
    if (!pg__text(res, r, 0, row->gateway_id, sizeof row->gateway_id) ||
        !pg__u64(res, r, 1, &e->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!pg__u64(res, r, 2, &kind) || !pg__u64(res, r, 3, &e->time_ms) ||
               (kind > STORE_EVENT_KIND_MAX || kind == 4)) {
        row->problem = "a number column is out of its range";
    } else if (!pg__text(res, r, 4, e->device_id, sizeof e->device_id) ||
               !pg__text(res, r, 5, e->entity_id, sizeof e->entity_id)) {
        row->problem = "a text column is over its limit";
    } else if (!pg__hash(res, r, 7, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    }
    e->kind = (uint8_t)kind;
    int len = PQgetlength(res, r, 6);
    if (PQgetisnull(res, r, 6) || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, PQgetvalue(res, r, 6), (size_t)len);
        row->record_len = (size_t)len;
    }
}

/* Reads a note movement row (STORE_NOTE_COLUMNS from column 0). */
static void pg__note_row_read(const PGresult *res, int r, store_row *row)
{
    memset(row, 0, sizeof *row);
    fogpay_note_movement *m = &row->m;
    uint64_t kind = 0;
    if (!pg__text(res, r, 0, row->gateway_id, sizeof row->gateway_id) ||
        !pg__u64(res, r, 1, &m->position)) {
        row->problem = "its gateway id or position is not of its type";
    } else if (!pg__u64(res, r, 2, &kind) || !pg__u64(res, r, 3, &m->time_ms) ||
               kind > STORE_NOTE_KIND_MAX) {
        row->problem = "a number column is out of its range";
    } else if (PQgetisnull(res, r, 4) || PQgetlength(res, r, 4) != FOGPAY_NOTE_SERIAL_BYTES ||
               !pg__text(res, r, 5, m->device_id, sizeof m->device_id)) {
        row->problem = "the serial is not 16 bytes or the device id is over its limit";
    } else if (!pg__hash(res, r, 7, false, row->hash)) {
        row->problem = "the chain hash is not 32 bytes";
    } else {
        memcpy(m->serial, PQgetvalue(res, r, 4), FOGPAY_NOTE_SERIAL_BYTES);
    }
    m->kind = (uint8_t)kind;
    int len = PQgetlength(res, r, 6);
    if (PQgetisnull(res, r, 6) || len <= 0 || len > FOGPAY_RECORD_BYTES_MAX) {
        row->problem = row->problem ? row->problem : "the record is not 1 to 384 bytes";
    } else {
        memcpy(row->record, PQgetvalue(res, r, 6), (size_t)len);
        row->record_len = (size_t)len;
    }
}

/* Opening. */

/* Runs a query of one text value at open; *value receives the first
 * column of the first row ("" when there is no row). Text results: these
 * are counts and names. */
static fogpay_error pg__open_value(fogpay_store *s, const char *sql, char *value, size_t cap)
{
    store_pg *q = pg__state(s);
    PGresult *res = PQexec(q->conn, sql);
    fogpay_error err = FOGPAY_OK;
    value[0] = '\0';
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = pg__error(s, res, "read the database's state");
    } else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        snprintf(value, cap, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return err;
}

/* The schema version (0 when there is no fogpay_schema table) and whether
 * the current schema holds any table at all. */
static fogpay_error pg__read_version(fogpay_store *s, long *version, bool *empty)
{
    char text[64];
    fogpay_error err = pg__open_value(
        s, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()", text,
        sizeof text);
    if (err != FOGPAY_OK) {
        return err;
    }
    *empty = strcmp(text, "0") == 0;
    *version = 0;
    err = pg__open_value(s, "SELECT to_regclass('fogpay_schema') IS NOT NULL", text, sizeof text);
    if (err == FOGPAY_OK && strcmp(text, "t") == 0) {
        err = pg__open_value(s, "SELECT max(version) FROM fogpay_schema", text, sizeof text);
        *version = strtol(text, NULL, 10);
    }
    return err;
}

/* Runs sql (the schema or a migration) as one command. */
static fogpay_error pg__script(fogpay_store *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg__state(s)->conn, sql);
    fogpay_error err = FOGPAY_OK;
    ExecStatusType status = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
    /* A script of comments alone is an empty query: nothing to do. */
    if (status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY) {
        err = pg__error(s, res, what);
    }
    PQclear(res);
    return err;
}

/* Creates the schema and the version row, or migrates a version 2, 3 or 4
 * store (cloud_migrate_N.sql), in one transaction under the advisory lock; a
 * store created or migrated meanwhile by another process is checked
 * instead. */
static fogpay_error pg__create_schema(fogpay_store *s)
{
    fogpay_error err = pg__command(s, "BEGIN", "begin creating the schema");
    if (err != FOGPAY_OK) {
        return err;
    }
    char text[64];
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", PG_CREATE_LOCK_KEY);
    err = pg__open_value(s, lock, text, sizeof text);
    long version = 0;
    bool empty = false;
    if (err == FOGPAY_OK) {
        err = pg__read_version(s, &version, &empty);
    }
    if (err == FOGPAY_OK && version == 2) {
        err = pg__script(s, cloud_migrate_2_sql, "migrate the schema to version 3");
        if (err == FOGPAY_OK) {
            err = pg__command(s, "UPDATE fogpay_schema SET version = 3", "record the version");
        }
        if (err == FOGPAY_OK) {
            err = pg__read_version(s, &version, &empty);
        }
    }
    if (err == FOGPAY_OK && version == 3) {
        err = pg__script(s, cloud_migrate_3_sql, "migrate the schema to version 4");
        if (err == FOGPAY_OK) {
            err = pg__command(s, "UPDATE fogpay_schema SET version = 4", "record the version");
        }
        if (err == FOGPAY_OK) {
            err = pg__read_version(s, &version, &empty);
        }
    }
    if (err == FOGPAY_OK && version == 4) {
        err = pg__script(s, cloud_migrate_4_sql, "migrate the schema to version 5");
        if (err == FOGPAY_OK) {
            err = pg__command(s, "UPDATE fogpay_schema SET version = 5", "record the version");
        }
        if (err == FOGPAY_OK) {
            err = pg__read_version(s, &version, &empty);
        }
    }
    if (err == FOGPAY_OK && version == 0 && empty) {
        err = pg__script(s, cloud_schema_sql, "create the schema");
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE fogpay_schema (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),"
                 " version BIGINT NOT NULL); INSERT INTO fogpay_schema (version) VALUES (%d)",
                 STORE_SCHEMA_VERSION);
        if (err == FOGPAY_OK) {
            err = pg__command(s, sql, "record the schema version");
        }
        if (err == FOGPAY_OK) {
            err = pg__read_version(s, &version, &empty);
        }
    }
    if (err == FOGPAY_OK && version != STORE_SCHEMA_VERSION) {
        store__note_version(s, version, empty, "database");
        err = FOGPAY_ERR_SCHEMA_VERSION;
    }
    if (err == FOGPAY_OK) {
        err = pg__command(s, "COMMIT", "commit the schema");
    }
    if (err != FOGPAY_OK) {
        char kept[STORE_MESSAGE_MAX];
        memcpy(kept, s->message, sizeof kept);
        (void)pg__command(s, "ROLLBACK", "roll back");
        memcpy(s->message, kept, sizeof kept);
    }
    return err;
}

static fogpay_error pg__schema(fogpay_store *s, bool create)
{
    long version = 0;
    bool empty = false;
    fogpay_error err = pg__read_version(s, &version, &empty);
    if (err != FOGPAY_OK) {
        return err;
    }
    bool fresh = version == 0 && empty;
    bool migrates = version >= 2 && version <= 4;
    if (version != STORE_SCHEMA_VERSION && !(fresh && create) && !migrates) {
        store__note_version(s, version, fresh, "database");
        return FOGPAY_ERR_SCHEMA_VERSION;
    }
    return fresh || migrates ? pg__create_schema(s) : FOGPAY_OK;
}

/* The text of a page variant of transfers or events, as in
 * store_sqlite.c. */
static void pg__page_sql(bool events, unsigned mask, char *sql, size_t cap)
{
    const char *entity =
        events ? " AND entity_id = $7" : " AND (payer_entity = $7 OR payee_entity = $7)";
    int n = snprintf(sql, cap,
                     "SELECT %s%s FROM %s WHERE %s"
                     " AND time_ms >= $3 AND time_ms < $4%s%s"
                     " ORDER BY gateway_id, position LIMIT $8",
                     events ? PG_EVENT_COLUMNS : PG_TRANSFER_COLUMNS,
                     events ? "" : ", " STORE_LEGS_SQL("string_agg(" STORE_LEG_TEXT ", ';')"),
                     events ? "events" : "transfers",
                     (mask & PG_PAGE_GATEWAY) ? "gateway_id = $5 AND position > $2"
                                              : "(gateway_id, position) > ($1, $2)",
                     (mask & PG_PAGE_DEVICE) ? " AND device_id = $6" : "",
                     (mask & PG_PAGE_ENTITY) ? entity : "");
    assert(n > 0 && (size_t)n < cap);
}

static void pg__page_name(bool events, unsigned mask, char *name, size_t cap)
{
    snprintf(name, cap, "fogpay_%s_page_%u", events ? "event" : "transfer", mask);
}

static fogpay_error pg__prepare(fogpay_store *s, const char *name, const char *sql, int count,
                                const Oid *types)
{
    store_pg *q = pg__state(s);
    PGresult *res = PQprepare(q->conn, name, sql, count, types);
    fogpay_error err = FOGPAY_OK;
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = pg__error(s, res, "prepare its statements");
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__prepare_all(fogpay_store *s)
{
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < sizeof pg__statements / sizeof pg__statements[0] && !err; i++) {
        const pg_statement *st = pg__statements[i];
        err = pg__prepare(s, st->name, st->sql, st->param_count, st->types);
    }
    for (unsigned i = 0; i < 2 * PG_PAGE_VARIANTS && !err; i++) {
        bool events = i >= PG_PAGE_VARIANTS;
        char sql[PG_SQL_MAX];
        char name[64];
        pg__page_sql(events, i % PG_PAGE_VARIANTS, sql, sizeof sql);
        pg__page_name(events, i % PG_PAGE_VARIANTS, name, sizeof name);
        err = pg__prepare(s, name, sql, 8, pg__page_types);
    }
    return err;
}

static fogpay_error pg__open(fogpay_store *s, const char *target, bool create)
{
    store_pg *q = calloc(1, sizeof *q);
    if (q == NULL) {
        store__note(s, "no memory for the PostgreSQL store");
        return FOGPAY_ERR_NO_MEMORY;
    }
    s->engine_state = q;
    q->conn = PQconnectdb(target);
    if (q->conn == NULL) {
        store__note(s, "no memory for a PostgreSQL connection");
        return FOGPAY_ERR_NO_MEMORY;
    }
    if (PQstatus(q->conn) != CONNECTION_OK) {
        const char *text = PQerrorMessage(q->conn);
        store__note(s, "PostgreSQL could not connect: %.*s", (int)strcspn(text, "\n"), text);
        return FOGPAY_ERR_STORAGE;
    }
    fogpay_error err = pg__command(s, "SET synchronous_commit TO on", "require durable commits");
    if (err == FOGPAY_OK) {
        err = pg__command(s, "SET client_min_messages TO warning", "quieten notices");
    }
    if (err == FOGPAY_OK) {
        err = pg__schema(s, create);
    }
    if (err == FOGPAY_OK) {
        err = pg__prepare_all(s);
    }
    return err;
}

static void pg__close(fogpay_store *s)
{
    store_pg *q = s->engine_state;
    if (q == NULL) {
        return;
    }
    /* Closing the connection rolls back an open transaction. */
    PQfinish(q->conn);
    free(q);
    s->engine_state = NULL;
}

/* Transactions. */

static fogpay_error pg__begin(fogpay_store *s, store_txn kind)
{
    return pg__command(
        s, kind == STORE_TXN_WRITE ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "begin a transaction");
}

static fogpay_error pg__commit(fogpay_store *s)
{
    store_pg *q = pg__state(s);
    PGresult *res = PQexec(q->conn, "COMMIT");
    fogpay_error err = FOGPAY_OK;
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = pg__error(s, res, "commit");
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        /* A failed transaction answers COMMIT with ROLLBACK. */
        store__note(s, "PostgreSQL rolled the transaction back instead of committing it");
        err = FOGPAY_ERR_STORAGE;
    }
    PQclear(res);
    return err;
}

static void pg__rollback(fogpay_store *s)
{
    char kept[STORE_MESSAGE_MAX];
    memcpy(kept, s->message, sizeof kept);
    (void)pg__command(s, "ROLLBACK", "roll back");
    memcpy(s->message, kept, sizeof kept);
}

/* Gateways. */

static fogpay_error pg__gateway_insert(fogpay_store *s, const fogpay_store_gateway *g)
{
    pg_params p = {0};
    pg__add_text(&p, g->gateway_id);
    pg__add_text(&p, g->public_key);
    pg__add_u64(&p, g->position);
    pg__add_bytes(&p, g->hash, FOGPAY_HASH_BYTES);
    pg__add_u64(&p, g->batch_seq);
    pg__add_u64(&p, g->batches);
    pg__add_u64(&p, g->last_batch_ms);
    pg__add_u64(&p, g->last_transfer_ms);
    pg__add_u64(&p, g->added_ms);
    pg__add_u64(&p, g->event_position);
    pg__add_bytes(&p, g->event_hash, FOGPAY_HASH_BYTES);
    PGresult *res = NULL;
    fogpay_error err =
        pg__run(s, pg__sql_gateway_insert.name, &p, PGRES_COMMAND_OK, "add the gateway", &res);
    PQclear(res);
    if (err == FOGPAY_ERR_EXISTS) {
        store__note(s, "the gateway %s is registered already", g->gateway_id);
    }
    return err;
}

static fogpay_error pg__gateway_set_key(fogpay_store *s, const char *gateway_id,
                                        const char *public_key_text)
{
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    pg__add_text(&p, public_key_text);
    PGresult *res = NULL;
    fogpay_error err = pg__run(s, pg__sql_gateway_set_key.name, &p, PGRES_COMMAND_OK,
                               "set the gateway's key", &res);
    if (err == FOGPAY_OK && strcmp(PQcmdTuples(res), "0") == 0) {
        err = FOGPAY_ERR_UNKNOWN_GATEWAY;
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__gateway_get(fogpay_store *s, const char *gateway_id, bool for_update,
                                    fogpay_store_gateway *out)
{
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    PGresult *res = NULL;
    const char *name = for_update ? pg__sql_gateway_lock.name : pg__sql_gateway_get.name;
    fogpay_error err = pg__run(s, name, &p, PGRES_TUPLES_OK, "read the gateway", &res);
    if (err == FOGPAY_OK && PQntuples(res) == 0) {
        store__note(s, "there is no gateway %s", gateway_id);
        err = FOGPAY_ERR_UNKNOWN_GATEWAY;
    } else if (err == FOGPAY_OK && !pg__gateway_read(res, 0, out)) {
        store__note(s, "the row of gateway %s holds values out of their range", gateway_id);
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__gateway_page(fogpay_store *s, const char *after_id, uint32_t limit,
                                     fogpay_store_gateway_visit visit, void *ctx, uint32_t *count)
{
    pg_params p = {0};
    pg__add_bytes(&p, after_id, strlen(after_id));
    pg__add_u64(&p, limit);
    PGresult *res = NULL;
    *count = 0;
    fogpay_error err =
        pg__run(s, pg__sql_gateway_page.name, &p, PGRES_TUPLES_OK, "list the gateways", &res);
    for (int r = 0; err == FOGPAY_OK && r < PQntuples(res); r++) {
        fogpay_store_gateway g;
        if (!pg__gateway_read(res, r, &g)) {
            store__note(s, "a gateway row holds values out of their range");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        ++*count;
        if (visit(ctx, &g) != 0) {
            break;
        }
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__gateway_set_head(fogpay_store *s, const fogpay_store_gateway *g)
{
    pg_params p = {0};
    pg__add_text(&p, g->gateway_id);
    pg__add_u64(&p, g->position);
    pg__add_bytes(&p, g->hash, FOGPAY_HASH_BYTES);
    pg__add_u64(&p, g->batch_seq);
    pg__add_u64(&p, g->batches);
    pg__add_u64(&p, g->last_batch_ms);
    pg__add_u64(&p, g->last_transfer_ms);
    pg__add_u64(&p, g->event_position);
    pg__add_bytes(&p, g->event_hash, FOGPAY_HASH_BYTES);
    PGresult *res = NULL;
    fogpay_error err = pg__run(s, pg__sql_gateway_set_head.name, &p, PGRES_COMMAND_OK,
                               "move the gateway's head", &res);
    if (err == FOGPAY_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        store__note(s, "the head of gateway %s was not moved", g->gateway_id);
        err = FOGPAY_ERR_STORAGE;
    }
    PQclear(res);
    return err;
}

/* Transfers. */

static fogpay_error pg__transfer_insert(fogpay_store *s, const char *gateway_id,
                                        const fogpay_store_record *r)
{
    const fogpay_transfer *t = r->transfer;
    bool device = t->device_id[0] != '\0';
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    pg__add_u64(&p, t->position);
    pg__add_u64(&p, t->kind);
    pg__add_u64(&p, t->debit_account);
    pg__add_u64(&p, t->credit_account);
    pg__add_u64(&p, t->amount_minor);
    pg__add_u64(&p, t->currency);
    pg__add_u64(&p, t->time_ms);
    pg__add_text(&p, t->device_id);
    if (device) {
        pg__add_u64(&p, t->seq);
    } else {
        pg__add_bytes(&p, NULL, 0);
    }
    pg__add_text(&p, t->payer_entity);
    pg__add_text(&p, t->payee_entity);
    pg__add_bytes(&p, device ? t->intent_hash : NULL, device ? FOGPAY_HASH_BYTES : 0);
    pg__add_text(&p, t->reference);
    if (t->related_position != 0) {
        pg__add_u64(&p, t->related_position);
    } else {
        pg__add_bytes(&p, NULL, 0);
    }
    pg__add_bytes(&p, r->record, r->record_len);
    pg__add_bytes(&p, r->hash, FOGPAY_HASH_BYTES);
    PGresult *res = NULL;
    fogpay_error err =
        pg__run(s, pg__sql_transfer_insert.name, &p, PGRES_COMMAND_OK, "store a transfer", &res);
    PQclear(res);
    for (uint32_t i = 1; i <= t->leg_count && err == FOGPAY_OK; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        pg_params legp = {0};
        pg__add_text(&legp, gateway_id);
        pg__add_u64(&legp, t->position);
        pg__add_u64(&legp, (uint64_t)i + 1);
        pg__add_u64(&legp, leg.debit_account);
        pg__add_u64(&legp, leg.credit_account);
        pg__add_u64(&legp, leg.amount_minor);
        res = NULL;
        err = pg__run(s, pg__sql_leg_insert.name, &legp, PGRES_COMMAND_OK, "store a transfer's leg",
                      &res);
        PQclear(res);
    }
    return err;
}

/* Events. */

static fogpay_error pg__event_insert(fogpay_store *s, const char *gateway_id,
                                     const fogpay_store_event *r)
{
    const fogpay_event *e = r->event;
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    pg__add_u64(&p, e->position);
    pg__add_u64(&p, e->kind);
    pg__add_u64(&p, e->time_ms);
    pg__add_text(&p, e->device_id);
    pg__add_text(&p, e->entity_id);
    pg__add_bytes(&p, r->record, r->record_len);
    pg__add_bytes(&p, r->hash, FOGPAY_HASH_BYTES);
    PGresult *res = NULL;
    fogpay_error err =
        pg__run(s, pg__sql_event_insert.name, &p, PGRES_COMMAND_OK, "store an event", &res);
    PQclear(res);
    return err;
}

/* Note movements and the notes' homes. */

static fogpay_error pg__note_insert(fogpay_store *s, const char *gateway_id,
                                    const fogpay_store_note *r)
{
    const fogpay_note_movement *m = r->movement;
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    pg__add_u64(&p, m->position);
    pg__add_u64(&p, m->kind);
    pg__add_u64(&p, m->time_ms);
    pg__add_bytes(&p, m->serial, FOGPAY_NOTE_SERIAL_BYTES);
    pg__add_text(&p, m->device_id);
    pg__add_bytes(&p, r->record, r->record_len);
    pg__add_bytes(&p, r->hash, FOGPAY_HASH_BYTES);
    PGresult *res = NULL;
    fogpay_error err =
        pg__run(s, pg__sql_note_insert.name, &p, PGRES_COMMAND_OK, "store a note movement", &res);
    PQclear(res);
    if (err != FOGPAY_OK) {
        return err;
    }
    pg_params home = {0};
    pg__add_bytes(&home, m->serial, FOGPAY_NOTE_SERIAL_BYTES);
    pg__add_text(&home, gateway_id);
    pg__add_u64(&home, m->position);
    pg__add_u64(&home, m->time_ms);
    res = NULL;
    err =
        pg__run(s, pg__sql_note_home_set.name, &home, PGRES_COMMAND_OK, "move a note's home", &res);
    PQclear(res);
    return err;
}

static fogpay_error pg__note_head(fogpay_store *s, const char *gateway_id, uint64_t *position,
                                  uint8_t hash[FOGPAY_HASH_BYTES])
{
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    PGresult *res = NULL;
    *position = 0;
    memset(hash, 0, FOGPAY_HASH_BYTES);
    fogpay_error err =
        pg__run(s, pg__sql_note_head.name, &p, PGRES_TUPLES_OK, "read the note chain's head", &res);
    if (err == FOGPAY_OK && PQntuples(res) == 1 &&
        (!pg__u64(res, 0, 0, position) || !pg__hash(res, 0, 1, false, hash))) {
        store__note(s, "the note chain head of %s is malformed", gateway_id);
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__note_home_get(fogpay_store *s,
                                      const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                      fogpay_store_note_home *out)
{
    pg_params p = {0};
    pg__add_bytes(&p, serial, FOGPAY_NOTE_SERIAL_BYTES);
    PGresult *res = NULL;
    memset(out, 0, sizeof *out);
    fogpay_error err =
        pg__run(s, pg__sql_note_home_get.name, &p, PGRES_TUPLES_OK, "read a note's home", &res);
    if (err == FOGPAY_OK && PQntuples(res) == 0) {
        store__note(s, "no gateway's note chain has moved this note");
        err = FOGPAY_ERR_NOT_FOUND;
    } else if (err == FOGPAY_OK) {
        const char *id = PQgetvalue(res, 0, 0);
        if (PQgetisnull(res, 0, 0) || strlen(id) > FOGPAY_GATEWAY_ID_MAX ||
            !pg__u64(res, 0, 1, &out->position) || !pg__u64(res, 0, 2, &out->time_ms)) {
            store__note(s, "a note's home row is malformed");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            strcpy(out->gateway_id, id);
        }
    }
    PQclear(res);
    return err;
}

static fogpay_error pg__chain_hash(fogpay_store *s, fogpay_stream stream, const char *gateway_id,
                                   uint64_t position, uint8_t hash[FOGPAY_HASH_BYTES])
{
    pg_params p = {0};
    pg__add_text(&p, gateway_id);
    pg__add_u64(&p, position);
    PGresult *res = NULL;
    const char *name = stream == FOGPAY_STREAM_NOTES    ? pg__sql_note_hash.name
                       : stream == FOGPAY_STREAM_EVENTS ? pg__sql_event_hash.name
                                                        : pg__sql_chain_hash.name;
    fogpay_error err = pg__run(s, name, &p, PGRES_TUPLES_OK, "read a chain hash", &res);
    if (err == FOGPAY_OK && PQntuples(res) == 0) {
        store__note(s, "the chain of %s has no position %llu", gateway_id,
                    (unsigned long long)position);
        err = FOGPAY_ERR_NOT_FOUND;
    } else if (err == FOGPAY_OK && !pg__hash(res, 0, 0, false, hash)) {
        store__note(s, "the chain hash of %s at %llu is not 32 bytes", gateway_id,
                    (unsigned long long)position);
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    PQclear(res);
    return err;
}

/* Runs the page variant of f over transfers or events; *out receives the
 * rows (the caller clears it). */
static fogpay_error pg__page_run(fogpay_store *s, bool events, const fogpay_store_filter *f,
                                 PGresult **out)
{
    unsigned mask = (f->gateway_id ? PG_PAGE_GATEWAY : 0) | (f->device_id ? PG_PAGE_DEVICE : 0) |
                    (f->entity_id ? PG_PAGE_ENTITY : 0);
    uint64_t after_position = f->after_position;
    if (f->gateway_id != NULL) {
        int order = strcmp(f->after_gateway, f->gateway_id);
        after_position = order < 0 ? 0 : order > 0 ? STORE_INT_MAX : after_position;
    }
    pg_params p = {0};
    pg__add_bytes(&p, f->after_gateway, strlen(f->after_gateway));
    pg__add_u64(&p, after_position);
    pg__add_u64(&p, f->from_ms);
    pg__add_u64(&p, f->to_ms);
    pg__add_text(&p, f->gateway_id);
    pg__add_text(&p, f->device_id);
    pg__add_text(&p, f->entity_id);
    pg__add_u64(&p, f->limit);
    char name[64];
    pg__page_name(events, mask, name, sizeof name);
    return pg__run(s, name, &p, PGRES_TUPLES_OK, events ? "read events" : "read transfers", out);
}

static fogpay_error pg__page(fogpay_store *s, fogpay_stream stream, const fogpay_store_filter *f,
                             store_row_visit visit, void *ctx, uint32_t *count)
{
    bool events = stream == FOGPAY_STREAM_EVENTS;
    bool notes = stream == FOGPAY_STREAM_NOTES;
    PGresult *res = NULL;
    *count = 0;
    fogpay_error err = FOGPAY_OK;
    if (notes) {
        pg_params p = {0};
        pg__add_text(&p, f->gateway_id);
        pg__add_u64(&p, f->after_position);
        pg__add_u64(&p, f->limit);
        err = pg__run(s, pg__sql_note_page.name, &p, PGRES_TUPLES_OK, "read note movements", &res);
    } else {
        err = pg__page_run(s, events, f, &res);
    }
    store_row row;
    for (int r = 0; err == FOGPAY_OK && r < PQntuples(res); r++) {
        if (notes) {
            pg__note_row_read(res, r, &row);
        } else if (events) {
            pg__event_row_read(res, r, &row);
        } else {
            pg__row_read(res, r, &row);
        }
        ++*count;
        if (visit(ctx, &row) != 0) {
            break;
        }
    }
    PQclear(res);
    return err;
}

const store_engine store_pg__engine = {
    .name = "postgresql",
    .open = pg__open,
    .close = pg__close,
    .begin = pg__begin,
    .commit = pg__commit,
    .rollback = pg__rollback,
    .gateway_insert = pg__gateway_insert,
    .gateway_set_key = pg__gateway_set_key,
    .gateway_get = pg__gateway_get,
    .gateway_page = pg__gateway_page,
    .gateway_set_head = pg__gateway_set_head,
    .transfer_insert = pg__transfer_insert,
    .event_insert = pg__event_insert,
    .note_insert = pg__note_insert,
    .note_head = pg__note_head,
    .note_home_get = pg__note_home_get,
    .chain_hash = pg__chain_hash,
    .page = pg__page,
};
