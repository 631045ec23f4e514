/*
 * store.c - the cloud store's engine-independent half: the engine chosen by
 * the connection string, argument checks, the compare-and-set append of
 * either chain (transfers, events), paging and messages. Verification is
 * in store_verify.c.
 *
 * Design. An engine (store_sqlite.c, store_pg.c) knows how to run a
 * transaction and read and write single rows and pages of rows; every rule
 * is here, written once, so both engines keep the same ones. Append is a
 * compare-and-set: inside one write transaction the gateway's head is read
 * with a lock (SQLite's write lock taken by BEGIN IMMEDIATE, PostgreSQL's
 * row lock of SELECT ... FOR UPDATE), compared with what the caller expects,
 * and only then are the transfers inserted and the head moved; a head that
 * moved is FOGPAY_ERR_CHAIN_MISMATCH with nothing written. Events are
 * appended by the same code (store_append says which chain), against the
 * event head of the same gateway row, so the two chains never wait on
 * different locks.
 *
 * Ownership. fogpay_store_open() allocates the handle; the caller closes it
 * with fogpay_store_close(), also after a failed open that returned one (it
 * then holds only the message). Visitors receive views valid during their
 * call.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_hash.h"
#include "fogpay_topic.h"
#include "store_engine.h"

/* The prefix of a SQLite connection string; without it, a plain path. */
#define STORE_SQLITE_PREFIX "sqlite:"

void store__note(fogpay_store *s, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(s->message, sizeof s->message, format, ap);
    va_end(ap);
}

void store__note_version(fogpay_store *s, long version, bool empty, const char *where)
{
    if (version == 1) {
        store__note(s,
                    "schema version 1 found where version %d of the cloud store is needed: "
                    "version 1 has no event chain and there is no migration (no version 1 store "
                    "was deployed); create a new store",
                    STORE_SCHEMA_VERSION);
        return;
    }
    store__note(s, "schema version %ld found where version %d of the cloud store is needed%s%s%s",
                version, STORE_SCHEMA_VERSION, empty ? " (an empty " : "", empty ? where : "",
                empty ? ")" : "");
}

/* Checks a gateway id: 1..FOGPAY_GATEWAY_ID_MAX bytes of the id alphabet
 * (fogpay_topic.h), the contract's rule. */
static fogpay_error store__check_gateway_id(fogpay_store *s, const char *id)
{
    if (id == NULL) {
        store__note(s, "no gateway id was given");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    size_t len = strnlen(id, FOGPAY_GATEWAY_ID_MAX + 1);
    if (len == 0 || len > FOGPAY_GATEWAY_ID_MAX) {
        store__note(s, "a gateway id is 1 to %d bytes", FOGPAY_GATEWAY_ID_MAX);
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (!fogpay_gateway_id_valid(id)) {
        store__note(s, "a gateway id is made of letters, digits, '.', '_', ':' and '-'");
        return FOGPAY_ERR_TEXT_INVALID;
    }
    return FOGPAY_OK;
}

/* Checks optional filter text: NULL or "" for none, else at most max bytes. */
static fogpay_error store__check_filter_text(fogpay_store *s, const char *what, const char *text,
                                             size_t max)
{
    if (text != NULL && strnlen(text, max + 1) > max) {
        store__note(s, "the %s filter is longer than %zu bytes", what, max);
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* A handle that holds a message, and whether its engine is usable. */
static bool store__usable(const fogpay_store *s)
{
    return s != NULL && s->engine != NULL && s->engine_state != NULL;
}

/* Chooses the engine and its target from a connection string. */
static fogpay_error store__parse(fogpay_store *s, const char *conninfo, const store_engine **engine,
                                 const char **target)
{
    size_t len = strnlen(conninfo, FOGPAY_STORE_CONNINFO_MAX + 1);
    if (len == 0 || len > FOGPAY_STORE_CONNINFO_MAX) {
        store__note(s, "a store connection string is 1 to %d bytes", FOGPAY_STORE_CONNINFO_MAX);
        return FOGPAY_ERR_CONFIG;
    }
    if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0) {
        *engine = &store_pg__engine;
        *target = conninfo;
        return FOGPAY_OK;
    }
    *engine = &store_sqlite__engine;
    *target = conninfo;
    if (strncmp(conninfo, STORE_SQLITE_PREFIX, strlen(STORE_SQLITE_PREFIX)) == 0) {
        *target = conninfo + strlen(STORE_SQLITE_PREFIX);
    } else if (strstr(conninfo, "://") != NULL) {
        store__note(s, "\"%.40s\" is neither sqlite:PATH, a path nor postgresql://...", conninfo);
        return FOGPAY_ERR_CONFIG;
    }
    if ((*target)[0] == '\0') {
        store__note(s, "the SQLite store needs a file path after \"sqlite:\"");
        return FOGPAY_ERR_CONFIG;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_store_open(const char *conninfo, bool create, fogpay_store **out)
{
    if (out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    fogpay_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    *out = s;
    if (conninfo == NULL) {
        store__note(s, "no store connection string was given");
        return FOGPAY_ERR_CONFIG;
    }
    const store_engine *engine = NULL;
    const char *target = NULL;
    fogpay_error err = store__parse(s, conninfo, &engine, &target);
    if (err != FOGPAY_OK) {
        return err;
    }
    s->engine = engine;
    err = engine->open(s, target, create);
    if (err != FOGPAY_OK) {
        /* The handle keeps the message; the engine keeps nothing. */
        engine->close(s);
        assert(s->engine_state == NULL);
        return err;
    }
    assert(s->engine_state != NULL);
    return FOGPAY_OK;
}

void fogpay_store_close(fogpay_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->engine != NULL && s->engine_state != NULL) {
        s->engine->close(s);
    }
    free(s);
}

const char *fogpay_store_last_message(const fogpay_store *s)
{
    return s == NULL ? "no store" : s->message;
}

const char *fogpay_store_engine(const fogpay_store *s)
{
    return s == NULL || s->engine == NULL ? "none" : s->engine->name;
}

/* The common entry check of every call after open. */
fogpay_error store__enter(fogpay_store *s)
{
    if (s == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (!store__usable(s)) {
        store__note(s, "this store handle is from a failed open");
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    assert(!s->in_transaction);
    return FOGPAY_OK;
}

fogpay_error store__begin(fogpay_store *s, store_txn kind)
{
    fogpay_error err = s->engine->begin(s, kind);
    s->in_transaction = err == FOGPAY_OK;
    return err;
}

/* Commits on FOGPAY_OK and rolls back otherwise; returns err or the
 * commit's failure. */
fogpay_error store__end(fogpay_store *s, fogpay_error err)
{
    assert(s->in_transaction);
    if (err == FOGPAY_OK) {
        err = s->engine->commit(s);
    }
    if (err != FOGPAY_OK) {
        s->engine->rollback(s);
    }
    s->in_transaction = false;
    return err;
}

/* Gateways. */

/* A gateway's key text: "<alg>:<hex>" of a valid key, within its column. */
static fogpay_error store__check_public_key(fogpay_store *s, const char *gateway_id,
                                            const char *public_key_text)
{
    fogpay_key *key = NULL;
    if (public_key_text == NULL ||
        strnlen(public_key_text, FOGPAY_PUBLIC_KEY_TEXT_MAX) >= FOGPAY_PUBLIC_KEY_TEXT_MAX ||
        fogpay_key_from_public_text(public_key_text, &key) != FOGPAY_OK) {
        store__note(s, "the public key of %s is not \"ed25519:<hex>\" or \"p256:<hex>\"",
                    gateway_id);
        return FOGPAY_ERR_TEXT_INVALID;
    }
    fogpay_key_free(key);
    return FOGPAY_OK;
}

fogpay_error fogpay_store_gateway_set_key(fogpay_store *s, const char *gateway_id,
                                          const char *public_key_text)
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err == FOGPAY_OK) {
        err = store__check_public_key(s, gateway_id, public_key_text);
    }
    if (err == FOGPAY_OK) {
        err = s->engine->gateway_set_key(s, gateway_id, public_key_text);
    }
    if (err == FOGPAY_ERR_UNKNOWN_GATEWAY) {
        store__note(s, "no gateway %s is registered", gateway_id);
    }
    return err;
}

fogpay_error fogpay_store_gateway_add(fogpay_store *s, const char *gateway_id,
                                      const char *public_key_text, uint64_t now_ms)
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    err = store__check_public_key(s, gateway_id, public_key_text);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_store_gateway g = {0};
    if (now_ms > STORE_INT_MAX) {
        store__note(s, "the time %llu is out of range", (unsigned long long)now_ms);
        return FOGPAY_ERR_FIELD_RANGE;
    }
    memcpy(g.gateway_id, gateway_id, strlen(gateway_id) + 1);
    memcpy(g.public_key, public_key_text, strlen(public_key_text) + 1);
    g.added_ms = now_ms;
    return s->engine->gateway_insert(s, &g);
}

fogpay_error fogpay_store_gateway_get(fogpay_store *s, const char *gateway_id,
                                      fogpay_store_gateway *out)
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err == FOGPAY_OK && out == NULL) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return s->engine->gateway_get(s, gateway_id, false, out);
}

/* Passes gateways on to the caller's visitor and remembers the last id,
 * where the next page starts. */
typedef struct store_gateway_walk {
    fogpay_store_gateway_visit visit;
    void *ctx;
    char last_id[FOGPAY_GATEWAY_ID_MAX + 1];
    bool stopped;
} store_gateway_walk;

static int store__gateway_walk_visit(void *ctx, const fogpay_store_gateway *g)
{
    store_gateway_walk *w = ctx;
    memcpy(w->last_id, g->gateway_id, sizeof w->last_id);
    if (w->visit(w->ctx, g) != 0) {
        w->stopped = true;
        return 1;
    }
    return 0;
}

fogpay_error fogpay_store_gateway_list(fogpay_store *s, fogpay_store_gateway_visit visit, void *ctx)
{
    fogpay_error err = store__enter(s);
    if (err != FOGPAY_OK || visit == NULL) {
        return err != FOGPAY_OK ? err : FOGPAY_ERR_INVALID_ARGUMENT;
    }
    store_gateway_walk w = {.visit = visit, .ctx = ctx};
    for (;;) {
        uint32_t count = 0;
        err = s->engine->gateway_page(s, w.last_id, STORE_GATEWAY_PAGE, store__gateway_walk_visit,
                                      &w, &count);
        if (err != FOGPAY_OK || w.stopped || count < STORE_GATEWAY_PAGE) {
            return err;
        }
    }
}

/* Appending. */

/* One append of any chain: which, and its n rows (records for
 * transfers, events for events, notes for note movements; the others
 * NULL). Views of the caller's. */
typedef struct store_append {
    fogpay_stream stream;
    const fogpay_store_record *records;
    const fogpay_store_event *events;
    const fogpay_store_note *notes;
    size_t n;
} store_append;

static const char *store__chain_noun(fogpay_stream stream)
{
    return stream == FOGPAY_STREAM_EVENTS  ? "event"
           : stream == FOGPAY_STREAM_NOTES ? "note movement"
                                           : "transfer";
}

/* The position, record bytes and chain hash of row i of a; NULL record
 * when the caller gave none. */
static uint64_t store__append_row(const store_append *a, size_t i, const uint8_t **record,
                                  size_t *record_len, const uint8_t **hash)
{
    if (a->stream == FOGPAY_STREAM_NOTES) {
        const fogpay_store_note *m = &a->notes[i];
        *record = m->movement != NULL ? m->record : NULL;
        *record_len = m->record_len;
        *hash = m->hash;
        return m->movement != NULL ? m->movement->position : 0;
    }
    if (a->stream == FOGPAY_STREAM_EVENTS) {
        const fogpay_store_event *e = &a->events[i];
        *record = e->event != NULL ? e->record : NULL;
        *record_len = e->record_len;
        *hash = e->hash;
        return e->event != NULL ? e->event->position : 0;
    }
    const fogpay_store_record *r = &a->records[i];
    *record = r->transfer != NULL ? r->record : NULL;
    *record_len = r->record_len;
    *hash = r->hash;
    return r->transfer != NULL ? r->transfer->position : 0;
}

/* Whether row i's numbers fit a BIGINT (positions are checked apart). */
static bool store__append_row_fits(const store_append *a, size_t i)
{
    if (a->stream == FOGPAY_STREAM_NOTES) {
        const fogpay_note_movement *m = a->notes[i].movement;
        return m->time_ms <= STORE_INT_MAX && m->transfer_position <= STORE_INT_MAX;
    }
    if (a->stream == FOGPAY_STREAM_EVENTS) {
        return a->events[i].event->time_ms <= STORE_INT_MAX;
    }
    const fogpay_transfer *t = a->records[i].transfer;
    return t->debit_account <= STORE_INT_MAX && t->credit_account <= STORE_INT_MAX &&
           t->amount_minor <= STORE_INT_MAX && t->time_ms <= STORE_INT_MAX &&
           t->seq <= STORE_INT_MAX && t->related_position <= STORE_INT_MAX;
}

/* The checks of append that need no engine: counts, positions that follow,
 * record sizes, integers that fit a BIGINT. */
static fogpay_error store__check_append(fogpay_store *s, uint64_t expect_position,
                                        const store_append *a)
{
    const char *noun = store__chain_noun(a->stream);
    const void *rows = a->stream == FOGPAY_STREAM_NOTES    ? (const void *)a->notes
                       : a->stream == FOGPAY_STREAM_EVENTS ? (const void *)a->events
                                                           : (const void *)a->records;
    if (rows == NULL || a->n == 0 || a->n > FOGPAY_BATCH_RECORDS_MAX) {
        store__note(s, "an append takes 1 to %d records, not %zu", FOGPAY_BATCH_RECORDS_MAX, a->n);
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (expect_position > STORE_INT_MAX - a->n) {
        store__note(s, "the position %llu is out of range", (unsigned long long)expect_position);
        return FOGPAY_ERR_FIELD_RANGE;
    }
    for (size_t i = 0; i < a->n; i++) {
        const uint8_t *record = NULL;
        size_t len = 0;
        const uint8_t *hash = NULL;
        uint64_t position = store__append_row(a, i, &record, &len, &hash);
        if (record == NULL || len == 0 || len > FOGPAY_RECORD_BYTES_MAX) {
            store__note(s, "record %zu has no %s, or its bytes are not 1 to %d", i, noun,
                        FOGPAY_RECORD_BYTES_MAX);
            return FOGPAY_ERR_INVALID_ARGUMENT;
        }
        if (position != expect_position + 1 + i) {
            store__note(s, "record %zu is at position %llu where %llu follows", i,
                        (unsigned long long)position,
                        (unsigned long long)(expect_position + 1 + i));
            return FOGPAY_ERR_INVALID_ARGUMENT;
        }
        if (!store__append_row_fits(a, i)) {
            store__note(s, "the %s at position %llu has a number out of range", noun,
                        (unsigned long long)position);
            return FOGPAY_ERR_FIELD_RANGE;
        }
    }
    return FOGPAY_OK;
}

/* Inserts a's rows and moves the head of its chain in g (in memory). */
static fogpay_error store__append_insert(fogpay_store *s, const char *gateway_id,
                                         const store_append *a, fogpay_store_gateway *g)
{
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < a->n && err == FOGPAY_OK; i++) {
        if (a->stream == FOGPAY_STREAM_NOTES) {
            err = s->engine->note_insert(s, gateway_id, &a->notes[i]);
        } else if (a->stream == FOGPAY_STREAM_EVENTS) {
            err = s->engine->event_insert(s, gateway_id, &a->events[i]);
        } else {
            err = s->engine->transfer_insert(s, gateway_id, &a->records[i]);
            if (a->records[i].transfer->time_ms > g->last_transfer_ms) {
                g->last_transfer_ms = a->records[i].transfer->time_ms;
            }
        }
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    const uint8_t *record = NULL;
    size_t len = 0;
    const uint8_t *hash = NULL;
    uint64_t last = store__append_row(a, a->n - 1, &record, &len, &hash);
    if (a->stream == FOGPAY_STREAM_EVENTS) {
        g->event_position = last;
        memcpy(g->event_hash, hash, FOGPAY_HASH_BYTES);
    } else if (a->stream == FOGPAY_STREAM_TRANSFERS) {
        g->position = last;
        memcpy(g->hash, hash, FOGPAY_HASH_BYTES);
    }
    return FOGPAY_OK;
}

/* Inside the write transaction: compare the locked head of a's chain,
 * insert, move it. */
static fogpay_error store__append_locked(fogpay_store *s, const char *gateway_id,
                                         uint64_t expect_position,
                                         const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                         const store_append *a, uint64_t batch_seq,
                                         uint64_t received_ms)
{
    fogpay_store_gateway g;
    fogpay_error err = s->engine->gateway_get(s, gateway_id, true, &g);
    if (err != FOGPAY_OK) {
        return err;
    }
    bool events = a->stream == FOGPAY_STREAM_EVENTS;
    uint64_t position = events ? g.event_position : g.position;
    const uint8_t *hash = events ? g.event_hash : g.hash;
    uint8_t note_hash[FOGPAY_HASH_BYTES];
    if (a->stream == FOGPAY_STREAM_NOTES) {
        /* The note chain's head is its last row, read under the gateway's lock. */
        err = s->engine->note_head(s, gateway_id, &position, note_hash);
        if (err != FOGPAY_OK) {
            return err;
        }
        hash = note_hash;
    }
    if (position != expect_position || memcmp(hash, expect_hash, FOGPAY_HASH_BYTES) != 0) {
        store__note(s,
                    "the %s chain of %s is at position %llu (or another hash there), not at "
                    "%llu as the append expected: nothing was written",
                    store__chain_noun(a->stream), gateway_id, (unsigned long long)position,
                    (unsigned long long)expect_position);
        return FOGPAY_ERR_CHAIN_MISMATCH;
    }
    err = store__append_insert(s, gateway_id, a, &g);
    if (err != FOGPAY_OK) {
        return err;
    }
    g.batch_seq = batch_seq;
    g.batches++;
    g.last_batch_ms = received_ms;
    return s->engine->gateway_set_head(s, &g);
}

/* fogpay_store_append and fogpay_store_append_events: the checks, then
 * the compare-and-set in one write transaction. */
static fogpay_error store__append(fogpay_store *s, const char *gateway_id, uint64_t expect_position,
                                  const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                  const store_append *a, uint64_t batch_seq, uint64_t received_ms)
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err == FOGPAY_OK && expect_hash == NULL) {
        store__note(s, "no expected hash was given");
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err == FOGPAY_OK) {
        err = store__check_append(s, expect_position, a);
    }
    if (err == FOGPAY_OK && (batch_seq > STORE_INT_MAX || received_ms > STORE_INT_MAX)) {
        store__note(s, "the batch sequence or time is out of range");
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    err = store__begin(s, STORE_TXN_WRITE);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = store__append_locked(s, gateway_id, expect_position, expect_hash, a, batch_seq,
                               received_ms);
    return store__end(s, err);
}

fogpay_error fogpay_store_append(fogpay_store *s, const char *gateway_id, uint64_t expect_position,
                                 const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                 const fogpay_store_record *records, size_t n, uint64_t batch_seq,
                                 uint64_t received_ms)
{
    store_append a = {.stream = FOGPAY_STREAM_TRANSFERS, .records = records, .n = n};
    return store__append(s, gateway_id, expect_position, expect_hash, &a, batch_seq, received_ms);
}

fogpay_error fogpay_store_append_events(fogpay_store *s, const char *gateway_id,
                                        uint64_t expect_position,
                                        const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                        const fogpay_store_event *events, size_t n,
                                        uint64_t batch_seq, uint64_t received_ms)
{
    store_append a = {.stream = FOGPAY_STREAM_EVENTS, .events = events, .n = n};
    return store__append(s, gateway_id, expect_position, expect_hash, &a, batch_seq, received_ms);
}

fogpay_error fogpay_store_append_notes(fogpay_store *s, const char *gateway_id,
                                       uint64_t expect_position,
                                       const uint8_t expect_hash[FOGPAY_HASH_BYTES],
                                       const fogpay_store_note *notes, size_t n, uint64_t batch_seq,
                                       uint64_t received_ms)
{
    store_append a = {.stream = FOGPAY_STREAM_NOTES, .notes = notes, .n = n};
    return store__append(s, gateway_id, expect_position, expect_hash, &a, batch_seq, received_ms);
}

fogpay_error fogpay_store_note_head(fogpay_store *s, const char *gateway_id, uint64_t *position,
                                    uint8_t hash[FOGPAY_HASH_BYTES])
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err == FOGPAY_OK && (position == NULL || hash == NULL)) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return s->engine->note_head(s, gateway_id, position, hash);
}

fogpay_error fogpay_store_note_home_get(fogpay_store *s,
                                        const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                        fogpay_store_note_home *out)
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK && (serial == NULL || out == NULL)) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return s->engine->note_home_get(s, serial, out);
}

/* fogpay_store_chain_hash and fogpay_store_event_hash. */
static fogpay_error store__hash_at(fogpay_store *s, fogpay_stream stream, const char *gateway_id,
                                   uint64_t position, uint8_t hash[FOGPAY_HASH_BYTES])
{
    fogpay_error err = store__enter(s);
    if (err == FOGPAY_OK) {
        err = store__check_gateway_id(s, gateway_id);
    }
    if (err == FOGPAY_OK && hash == NULL) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (position == 0 || position > STORE_INT_MAX) {
        store__note(s, "there is no %s chain hash at position %llu", store__chain_noun(stream),
                    (unsigned long long)position);
        return FOGPAY_ERR_NOT_FOUND;
    }
    return s->engine->chain_hash(s, stream, gateway_id, position, hash);
}

fogpay_error fogpay_store_chain_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                     uint8_t hash[FOGPAY_HASH_BYTES])
{
    return store__hash_at(s, FOGPAY_STREAM_TRANSFERS, gateway_id, position, hash);
}

fogpay_error fogpay_store_event_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                     uint8_t hash[FOGPAY_HASH_BYTES])
{
    return store__hash_at(s, FOGPAY_STREAM_EVENTS, gateway_id, position, hash);
}

fogpay_error fogpay_store_note_hash(fogpay_store *s, const char *gateway_id, uint64_t position,
                                    uint8_t hash[FOGPAY_HASH_BYTES])
{
    return store__hash_at(s, FOGPAY_STREAM_NOTES, gateway_id, position, hash);
}

/* Queries. */

/* Resolves a back-office filter into q: empty text as no filter, the
 * limit, the end of time. *nothing is set when no row can match. */
static fogpay_error store__filter_prepare(fogpay_store *s, const fogpay_store_filter *f,
                                          const char *noun, fogpay_store_filter *q, bool *nothing)
{
    *q = *f;
    *nothing = false;
    q->gateway_id = f->gateway_id != NULL && f->gateway_id[0] != '\0' ? f->gateway_id : NULL;
    q->device_id = f->device_id != NULL && f->device_id[0] != '\0' ? f->device_id : NULL;
    q->entity_id = f->entity_id != NULL && f->entity_id[0] != '\0' ? f->entity_id : NULL;
    q->after_gateway = f->after_gateway != NULL ? f->after_gateway : "";
    fogpay_error err = store__check_filter_text(s, "gateway", q->gateway_id, FOGPAY_GATEWAY_ID_MAX);
    if (err == FOGPAY_OK) {
        err = store__check_filter_text(s, "device", q->device_id, FOGPAY_DEVICE_ID_MAX);
    }
    if (err == FOGPAY_OK) {
        err = store__check_filter_text(s, "entity", q->entity_id, FOGPAY_ENTITY_ID_MAX);
    }
    if (err == FOGPAY_OK) {
        err = store__check_filter_text(s, "after-gateway", q->after_gateway, FOGPAY_GATEWAY_ID_MAX);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (q->limit == 0) {
        q->limit = FOGPAY_STORE_LIST_MAX;
    }
    if (q->limit > FOGPAY_STORE_LIST_MAX) {
        store__note(s, "a page holds at most %d %ss", FOGPAY_STORE_LIST_MAX, noun);
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (q->to_ms == 0 || q->to_ms > STORE_INT_MAX) {
        q->to_ms = STORE_INT_MAX;
    }
    /* Nothing is stored beyond a BIGINT. */
    *nothing = q->from_ms > STORE_INT_MAX || q->after_position > STORE_INT_MAX;
    return FOGPAY_OK;
}

/* The first column in which the decoded event a differs from the columns
 * b, or NULL when they agree. Only the columns are compared: the rest of
 * an event lives in its record alone. */
static const char *store__event_difference(const fogpay_event *a, const fogpay_event *b)
{
    if (a->position != b->position) {
        return "position";
    }
    if (a->kind != b->kind) {
        return "kind";
    }
    if (a->time_ms != b->time_ms) {
        return "time";
    }
    if (strcmp(a->device_id, b->device_id) != 0) {
        return "device";
    }
    if (strcmp(a->entity_id, b->entity_id) != 0) {
        return "entity";
    }
    return NULL;
}

/* Decodes an event row's record into *out and checks it against the
 * columns; NULL when it holds, else a static sentence. */
const char *store__event_decode(const store_row *row, fogpay_event *out, const char **difference)
{
    *difference = NULL;
    if (row->problem != NULL) {
        return row->problem;
    }
    if (fogpay_event_decode(row->record, row->record_len, out) != FOGPAY_OK) {
        return "the record does not decode as an event";
    }
    *difference = store__event_difference(out, &row->e);
    return *difference != NULL ? "the record and the columns differ" : NULL;
}

bool store__legs_parse(const char *text, fogpay_transfer *t)
{
    t->leg_count = 0;
    if (text == NULL || text[0] == '\0') {
        return true;
    }
    bool seen[FOGPAY_LEGS_MAX + 1] = {false};
    const char *p = text;
    /* Bounded: each leg consumes text, and more than the legs is refused. */
    for (uint32_t n = 0; *p != '\0'; n++) {
        unsigned long long leg = 0, debit = 0, credit = 0, amount = 0;
        int used = 0;
        if (n >= FOGPAY_LEGS_MAX - 1 ||
            sscanf(p, "%llu:%llu:%llu:%llu%n", &leg, &debit, &credit, &amount, &used) != 4 ||
            leg < 2 || leg > FOGPAY_LEGS_MAX || seen[leg] || debit < 1 || credit < 1 ||
            debit > STORE_INT_MAX || credit > STORE_INT_MAX || debit == credit || amount < 1 ||
            amount > FOGPAY_AMOUNT_MAX_MINOR || (p[used] != ';' && p[used] != '\0')) {
            return false;
        }
        seen[leg] = true;
        t->legs[leg - 2] = (fogpay_leg){debit, credit, amount};
        t->leg_count++;
        p += used + (p[used] == ';');
    }
    for (uint32_t leg = 2; leg < 2u + t->leg_count; leg++) {
        if (!seen[leg]) {
            return false;
        }
    }
    return true;
}

/* Passes rows on to the caller's visitor of their chain: transfers as
 * read, with their further legs, events each decoded from its record. A row that cannot be read, or
 * an event whose record is not its columns, stops the walk as corrupt. */
typedef struct store_query_walk {
    fogpay_store *s;
    fogpay_stream stream;
    fogpay_store_transfer_visit transfer_visit; /* FOGPAY_STREAM_TRANSFERS */
    fogpay_store_event_visit event_visit;       /* FOGPAY_STREAM_EVENTS */
    void *ctx;
    bool corrupt;
} store_query_walk;

static int store__query_visit(void *ctx, const store_row *row)
{
    store_query_walk *w = ctx;
    if (w->stream == FOGPAY_STREAM_TRANSFERS) {
        if (row->problem != NULL) {
            store__note(w->s, "the transfer of %s at position %llu is corrupt: %s", row->gateway_id,
                        (unsigned long long)row->t.position, row->problem);
            w->corrupt = true;
            return 1;
        }
        return w->transfer_visit(w->ctx, row->gateway_id, &row->t, row->hash);
    }
    fogpay_event e;
    const char *difference = NULL;
    const char *problem = store__event_decode(row, &e, &difference);
    if (problem != NULL) {
        store__note(w->s, "the event of %s at position %llu is corrupt: %s%s%s", row->gateway_id,
                    (unsigned long long)row->e.position, problem, difference ? " in: " : "",
                    difference ? difference : "");
        w->corrupt = true;
        return 1;
    }
    return w->event_visit(w->ctx, row->gateway_id, &e, row->hash);
}

/* fogpay_store_transfers and fogpay_store_events: the filter resolved,
 * one page of w's chain walked. */
static fogpay_error store__query(fogpay_store *s, const fogpay_store_filter *f, store_query_walk *w)
{
    fogpay_error err = store__enter(s);
    bool visit =
        w->stream == FOGPAY_STREAM_EVENTS ? w->event_visit != NULL : w->transfer_visit != NULL;
    if (err != FOGPAY_OK || f == NULL || !visit) {
        return err != FOGPAY_OK ? err : FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_store_filter q;
    bool nothing = false;
    err = store__filter_prepare(s, f, w->stream == FOGPAY_STREAM_EVENTS ? "event" : "transfer", &q,
                                &nothing);
    if (err != FOGPAY_OK || nothing) {
        return err;
    }
    uint32_t count = 0;
    err = s->engine->page(s, w->stream, &q, store__query_visit, w, &count);
    if (err == FOGPAY_OK && w->corrupt) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    return err;
}

fogpay_error fogpay_store_transfers(fogpay_store *s, const fogpay_store_filter *f,
                                    fogpay_store_transfer_visit visit, void *ctx)
{
    store_query_walk w = {
        .s = s, .stream = FOGPAY_STREAM_TRANSFERS, .transfer_visit = visit, .ctx = ctx};
    return store__query(s, f, &w);
}

fogpay_error fogpay_store_events(fogpay_store *s, const fogpay_store_filter *f,
                                 fogpay_store_event_visit visit, void *ctx)
{
    store_query_walk w = {.s = s, .stream = FOGPAY_STREAM_EVENTS, .event_visit = visit, .ctx = ctx};
    return store__query(s, f, &w);
}
