/*
 * test_store.c - the cloud store (cloud/store.h) on both engines: the same
 * test functions run in the suite "sqlite" against files in a temporary
 * directory and in the suite "postgresql" against a throwaway server
 * (tests/support/pg.h), each test on a fresh store.
 *
 * Transfers are real: encoded with fogpay_transfer_encode and chained with
 * fogpay_sha256_pair as a gateway's ledger chains them. Tampering goes
 * around the store (the sqlite3 library on the file, libpq on the
 * database). The last test runs the built fogpay-cloud (FOGPAY_CLOUD) and
 * compares its CSV with what the built fogpayctl (FOGPAYCTL) exports from
 * a real ledger, transfers and events alike.
 *
 * When PostgreSQL cannot be run here, the postgresql suite says why and its
 * tests are not run; the sqlite suite still is.
 */
#include <CUnit/Basic.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fogpay_hash.h"
#include "fogpay_key.h"
#include "fogpay_message.h"
#include "ledger.h"
#include "pg.h"
#include "store.h"
#include "testutil.h"

/* Transfers of the longest chain a test builds: five full batches and a
 * bit, so paging crosses FOGPAY_STORE_LIST_MAX twice. */
#define CHAIN_MAX    2600
#define CONNINFO_MAX 512
#define OUT_MAX      (1024 * 1024)
/* Rounds of the two-handle race; each is one contested append. */
#define RACE_ROUNDS 12
#define RACE_BATCH  5

#define T0_MS    1700000000000ull
#define ENTITY_A "le-00000000000000a1"
#define ENTITY_B "le-00000000000000b2"
#define ENTITY_C "le-00000000000000c3"

static bool use_pg;
static bool pg_running;
static test_pg server;
static char tmp_dir[256];
static unsigned store_counter;

/* A chain as a gateway would send it: index i holds position i + 1. */
typedef struct chain {
    fogpay_transfer t[CHAIN_MAX];
    uint8_t bytes[CHAIN_MAX][FOGPAY_RECORD_BYTES_MAX];
    fogpay_store_record r[CHAIN_MAX];
    uint64_t n;
} chain;

static chain chain_a;
static chain chain_b;
static const uint8_t zero_hash[FOGPAY_HASH_BYTES];

/* The transfer at position p: every third a funding of no device, the
 * others payments of dev-a or dev-b, with entities and references. */
static void chain_transfer(uint64_t p, fogpay_transfer *t)
{
    memset(t, 0, sizeof *t);
    t->position = p;
    t->currency = 978;
    t->time_ms = T0_MS + p * 10;
    if (p % 3 == 1) {
        t->kind = FOGPAY_TRANSFER_FUNDING;
        t->debit_account = 1;
        t->credit_account = 10;
        t->amount_minor = 1000 + p;
        snprintf(t->payee_entity, sizeof t->payee_entity, ENTITY_A);
        return;
    }
    t->kind = FOGPAY_TRANSFER_PAYMENT;
    t->debit_account = 10;
    t->credit_account = p % 3 == 2 ? 11 : 12;
    t->amount_minor = p;
    snprintf(t->device_id, sizeof t->device_id, "%s", p % 3 == 2 ? "dev-a" : "dev-b");
    t->seq = p;
    uint8_t seed[8] = {(uint8_t)p, (uint8_t)(p >> 8), 1};
    CU_ASSERT_EQUAL(fogpay_sha256(seed, sizeof seed, t->intent_hash), FOGPAY_OK);
    snprintf(t->payer_entity, sizeof t->payer_entity, ENTITY_A);
    snprintf(t->payee_entity, sizeof t->payee_entity, "%s", p % 3 == 2 ? ENTITY_B : ENTITY_C);
    if (p % 5 == 0) {
        snprintf(t->reference, sizeof t->reference, "ref-%llu", (unsigned long long)p);
    }
}

/* Extends c to n transfers, encoding and chaining each. */
static void chain_build(chain *c, uint64_t n)
{
    CU_ASSERT_FATAL(n <= CHAIN_MAX);
    for (uint64_t i = c->n; i < n; i++) {
        fogpay_transfer *t = &c->t[i];
        chain_transfer(i + 1, t);
        fogpay_store_record *r = &c->r[i];
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(t, c->bytes[i], FOGPAY_RECORD_BYTES_MAX, &len),
                              FOGPAY_OK);
        r->transfer = t;
        r->record = c->bytes[i];
        r->record_len = len;
        const uint8_t *prev = i == 0 ? zero_hash : c->r[i - 1].hash;
        CU_ASSERT_EQUAL_FATAL(fogpay_sha256_pair(prev, FOGPAY_HASH_BYTES, r->record, len, r->hash),
                              FOGPAY_OK);
    }
    c->n = n;
}

/* The chain hash at position p of c (zeros at 0). */
static const uint8_t *chain_hash_at(const chain *c, uint64_t p)
{
    return p == 0 ? zero_hash : c->r[p - 1].hash;
}

/* Appends positions first+1 .. first+count of c, expecting the head at
 * first. */
static fogpay_error chain_append(fogpay_store *s, const char *gw, const chain *c, uint64_t first,
                                 size_t count, uint64_t batch_seq)
{
    return fogpay_store_append(s, gw, first, chain_hash_at(c, first), &c->r[first], count,
                               batch_seq, T0_MS + 99999 + batch_seq);
}

/* Appends positions 1..n of c in full batches. */
static void chain_append_all(fogpay_store *s, const char *gw, const chain *c, uint64_t n)
{
    uint64_t seq = 0;
    for (uint64_t done = 0; done < n;) {
        size_t count = n - done > FOGPAY_BATCH_RECORDS_MAX ? FOGPAY_BATCH_RECORDS_MAX : n - done;
        CU_ASSERT_EQUAL_FATAL(chain_append(s, gw, c, done, count, ++seq), FOGPAY_OK);
        done += count;
    }
}

/* Events of the longest event chain a test builds: two full pages and a
 * bit, so paging crosses FOGPAY_STORE_LIST_MAX. */
#define EVENT_CHAIN_MAX 1100

/* An event chain as a gateway would send it: index i holds position i + 1. */
typedef struct event_chain {
    fogpay_event e[EVENT_CHAIN_MAX];
    uint8_t bytes[EVENT_CHAIN_MAX][FOGPAY_RECORD_BYTES_MAX];
    fogpay_store_event r[EVENT_CHAIN_MAX];
    uint64_t n;
} event_chain;

static event_chain events_a;
static event_chain events_b;

/* The event at position p: the four kinds in turn, of dev-a (odd) and
 * dev-b (even); registrations name ENTITY_A, ownership changes ENTITY_B
 * or ENTITY_C. */
static void chain_event(uint64_t p, fogpay_event *e)
{
    memset(e, 0, sizeof *e);
    e->position = p;
    e->time_ms = T0_MS + p * 10;
    snprintf(e->device_id, sizeof e->device_id, "%s", p % 2 ? "dev-a" : "dev-b");
    switch (p % 4) {
    case 0:
        e->kind = FOGPAY_EVENT_REGISTERED;
        snprintf(e->entity_id, sizeof e->entity_id, ENTITY_A);
        break;
    case 1:
        e->kind = FOGPAY_EVENT_STATUS;
        e->status = (uint8_t)(p / 4 % 3);
        break;
    case 2:
        e->kind = FOGPAY_EVENT_OWNERSHIP;
        snprintf(e->entity_id, sizeof e->entity_id, "%s", p % 8 == 2 ? ENTITY_B : ENTITY_C);
        e->role = (uint8_t)(p / 4 % 2);
        e->effective_ms = e->time_ms + 5;
        break;
    default:
        e->kind = FOGPAY_EVENT_USAGE;
        e->seq = p;
        snprintf(e->meter_id, sizeof e->meter_id, "meter-1");
        e->quantity = p % 7;
        snprintf(e->unit, sizeof e->unit, "kWh");
        uint8_t seed[8] = {(uint8_t)p, (uint8_t)(p >> 8), 2};
        CU_ASSERT_EQUAL(fogpay_sha256(seed, sizeof seed, e->usage_hash), FOGPAY_OK);
        break;
    }
}

/* Encodes c's event i (at position i + 1) and chains it onto event i - 1. */
static void event_chain_encode(event_chain *c, uint64_t i)
{
    fogpay_event *e = &c->e[i];
    fogpay_store_event *r = &c->r[i];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(e, c->bytes[i], FOGPAY_RECORD_BYTES_MAX, &len),
                          FOGPAY_OK);
    r->event = e;
    r->record = c->bytes[i];
    r->record_len = len;
    const uint8_t *prev = i == 0 ? zero_hash : c->r[i - 1].hash;
    CU_ASSERT_EQUAL_FATAL(fogpay_sha256_pair(prev, FOGPAY_HASH_BYTES, r->record, len, r->hash),
                          FOGPAY_OK);
}

/* Extends c to n events, encoding and chaining each. */
static void event_chain_build(event_chain *c, uint64_t n)
{
    CU_ASSERT_FATAL(n <= EVENT_CHAIN_MAX);
    for (uint64_t i = c->n; i < n; i++) {
        chain_event(i + 1, &c->e[i]);
        event_chain_encode(c, i);
    }
    c->n = n;
}

static const uint8_t *event_hash_at(const event_chain *c, uint64_t p)
{
    return p == 0 ? zero_hash : c->r[p - 1].hash;
}

/* Appends events first+1 .. first+count of c, expecting the event head at
 * first. */
static fogpay_error event_append(fogpay_store *s, const char *gw, const event_chain *c,
                                 uint64_t first, size_t count, uint64_t batch_seq)
{
    return fogpay_store_append_events(s, gw, first, event_hash_at(c, first), &c->r[first], count,
                                      batch_seq, T0_MS + 99999 + batch_seq);
}

/* Appends events 1..n of c in full batches, numbered from seq_base + 1. */
static void event_append_all(fogpay_store *s, const char *gw, const event_chain *c, uint64_t n,
                             uint64_t seq_base)
{
    uint64_t seq = seq_base;
    for (uint64_t done = 0; done < n;) {
        size_t count = n - done > FOGPAY_BATCH_RECORDS_MAX ? FOGPAY_BATCH_RECORDS_MAX : n - done;
        CU_ASSERT_EQUAL_FATAL(event_append(s, gw, c, done, count, ++seq), FOGPAY_OK);
        done += count;
    }
}

static void public_key_text(char *out, size_t cap)
{
    fogpay_key *key = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_public_text(key, out, cap), FOGPAY_OK);
    fogpay_key_free(key);
}

/* A fresh, empty store of the suite's engine. */
static void fresh_conninfo(char *conninfo, size_t cap)
{
    store_counter++;
    if (use_pg) {
        char name[32];
        snprintf(name, sizeof name, "store_%u", store_counter);
        CU_ASSERT_FATAL(test_pg_create_db(&server, name, conninfo, cap));
    } else {
        snprintf(conninfo, cap, "sqlite:%s/store-%u.db", tmp_dir, store_counter);
    }
}

static fogpay_store *open_store(const char *conninfo, bool create)
{
    fogpay_store *s = NULL;
    fogpay_error err = fogpay_store_open(conninfo, create, &s);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "open %s: %s\n", conninfo, fogpay_store_last_message(s));
        fogpay_store_close(s);
    }
    CU_ASSERT_EQUAL_FATAL(err, FOGPAY_OK);
    return s;
}

/* A fresh store holding gateway gw-a (and gw-b when two). */
static fogpay_store *fresh_store(char *conninfo, size_t cap, bool two)
{
    fresh_conninfo(conninfo, cap);
    fogpay_store *s = open_store(conninfo, true);
    char key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    public_key_text(key, sizeof key);
    CU_ASSERT_EQUAL_FATAL(fogpay_store_gateway_add(s, "gw-a", key, T0_MS), FOGPAY_OK);
    if (two) {
        CU_ASSERT_EQUAL_FATAL(fogpay_store_gateway_add(s, "gw-b", key, T0_MS), FOGPAY_OK);
    }
    return s;
}

/* Changes the stored rows behind the store's back. */
static void tamper(const char *conninfo, const char *sql)
{
    if (use_pg) {
        PGconn *conn = PQconnectdb(conninfo);
        CU_ASSERT_FATAL(PQstatus(conn) == CONNECTION_OK);
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "tamper: %s", PQresultErrorMessage(res));
        }
        CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
        CU_ASSERT_STRING_EQUAL(PQcmdTuples(res), "1");
        PQclear(res);
        PQfinish(conn);
        return;
    }
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(conninfo + strlen("sqlite:"), &db), SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "tamper: %s\n", message);
    }
    CU_ASSERT_EQUAL(rc, SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_changes(db), 1);
    sqlite3_free(message);
    sqlite3_close(db);
}

/* Collecting query results. */

typedef struct collected {
    uint64_t count;
    char gateway[FOGPAY_GATEWAY_ID_MAX + 1];
    uint64_t last_position;
    uint64_t positions[CHAIN_MAX];
    bool hashes_match; /* every hash equal to chain_a's at its position */
    bool in_order;
} collected;

static int collect_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                         const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected *c = ctx;
    int order = strcmp(gateway_id, c->gateway);
    if (c->count > 0 && (order < 0 || (order == 0 && t->position <= c->last_position))) {
        c->in_order = false;
    }
    if (strcmp(gateway_id, "gw-a") == 0 &&
        (t->position == 0 || t->position > chain_a.n ||
         memcmp(hash, chain_hash_at(&chain_a, t->position), FOGPAY_HASH_BYTES) != 0 ||
         t->amount_minor != chain_a.t[t->position - 1].amount_minor ||
         strcmp(t->device_id, chain_a.t[t->position - 1].device_id) != 0)) {
        c->hashes_match = false;
    }
    if (c->count < CHAIN_MAX) {
        c->positions[c->count] = t->position;
    }
    c->count++;
    snprintf(c->gateway, sizeof c->gateway, "%s", gateway_id);
    c->last_position = t->position;
    return 0;
}

/* Every transfer matching f, page by page of page_size; *pages receives
 * the number of queries made. */
static void collect_all(fogpay_store *s, fogpay_store_filter f, uint32_t page_size, collected *c,
                        unsigned *pages)
{
    memset(c, 0, sizeof *c);
    c->hashes_match = true;
    c->in_order = true;
    f.limit = page_size;
    *pages = 0;
    for (;;) {
        uint64_t before = c->count;
        CU_ASSERT_EQUAL_FATAL(fogpay_store_transfers(s, &f, collect_visit, c), FOGPAY_OK);
        ++*pages;
        uint32_t full = page_size == 0 ? FOGPAY_STORE_LIST_MAX : page_size;
        CU_ASSERT_FATAL(c->count - before <= full);
        if (c->count - before < full) {
            return;
        }
        f.after_gateway = c->gateway;
        f.after_position = c->last_position;
    }
}

/* The suite's setup. */

static int sqlite_suite_init(void)
{
    use_pg = false;
    return 0;
}

static int pg_suite_init(void)
{
    use_pg = true;
    return 0;
}

/* The tests. */

static void test_open_and_version(void)
{
    char conninfo[CONNINFO_MAX];
    fresh_conninfo(conninfo, sizeof conninfo);
    fogpay_store *s = NULL;
    if (!use_pg) {
        /* No file at all, without create: the engine cannot open it. */
        CU_ASSERT_EQUAL(fogpay_store_open(conninfo, false, &s), FOGPAY_ERR_STORAGE);
        fogpay_store_close(s);
        s = NULL;
        FILE *f = fopen(conninfo + strlen("sqlite:"), "w");
        CU_ASSERT_FATAL(f != NULL);
        fclose(f);
    }
    /* An empty store is not opened without create, and is not changed. */
    CU_ASSERT_EQUAL(fogpay_store_open(conninfo, false, &s), FOGPAY_ERR_SCHEMA_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "version"));
    fogpay_store_close(s);
    s = open_store(conninfo, true);
    CU_ASSERT_STRING_EQUAL(fogpay_store_engine(s), use_pg ? "postgresql" : "sqlite");
    fogpay_store_close(s);
    s = open_store(conninfo, false);
    fogpay_store_close(s);

    /* Something else is refused, even with create. */
    char other[CONNINFO_MAX];
    fresh_conninfo(other, sizeof other);
    if (use_pg) {
        char path[CONNINFO_MAX];
        snprintf(path, sizeof path, "%s", other);
        PGconn *conn = PQconnectdb(path);
        PGresult *res = PQexec(conn, "CREATE TABLE invoices (id BIGINT)");
        CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(conn);
    } else {
        FILE *f = fopen(other + strlen("sqlite:"), "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs("this is a text file, not a store\n", f);
        fclose(f);
    }
    s = NULL;
    CU_ASSERT_EQUAL(fogpay_store_open(other, true, &s), FOGPAY_ERR_SCHEMA_VERSION);
    CU_ASSERT_NOT_EQUAL(fogpay_store_last_message(s)[0], '\0');
    /* A handle from a failed open holds only the message. */
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_store_close(s);

    /* Connection strings of no known form. */
    const char *bad[] = {"", "mysql://localhost/x", "sqlite:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = NULL;
        CU_ASSERT_EQUAL(fogpay_store_open(bad[i], true, &s), FOGPAY_ERR_CONFIG);
        fogpay_store_close(s);
    }
    char too_long[FOGPAY_STORE_CONNINFO_MAX + 8];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    s = NULL;
    CU_ASSERT_EQUAL(fogpay_store_open(too_long, true, &s), FOGPAY_ERR_CONFIG);
    fogpay_store_close(s);
    /* The engine cannot reach it. */
    s = NULL;
    const char *unreachable =
        use_pg ? "postgresql://postgres@127.0.0.1:1/none" : "sqlite:/nonexistent-dir/store.db";
    CU_ASSERT_EQUAL(fogpay_store_open(unreachable, true, &s), FOGPAY_ERR_STORAGE);
    fogpay_store_close(s);
}

typedef struct gateway_names {
    char ids[8][FOGPAY_GATEWAY_ID_MAX + 1];
    int count;
    int stop_after;
} gateway_names;

static int gateway_names_visit(void *ctx, const fogpay_store_gateway *g)
{
    gateway_names *n = ctx;
    if (n->count < 8) {
        snprintf(n->ids[n->count], sizeof n->ids[0], "%s", g->gateway_id);
    }
    n->count++;
    return n->stop_after != 0 && n->count >= n->stop_after;
}

static void test_gateways(void)
{
    char conninfo[CONNINFO_MAX];
    fresh_conninfo(conninfo, sizeof conninfo);
    fogpay_store *s = open_store(conninfo, true);
    char key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    public_key_text(key, sizeof key);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-c", key, 300), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-a", key, 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-b", key, 200), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-a", key, 400), FOGPAY_ERR_EXISTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "gw-a"));
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-d", "ed25519:zz", 1), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-d", "rsa:00", 1), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw d", key, 1), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "", key, 1), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "gw-0123456789abcdefghijk", key, 1),
                    FOGPAY_ERR_FIELD_RANGE);

    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-b", &g), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(g.gateway_id, "gw-b");
    CU_ASSERT_STRING_EQUAL(g.public_key, key);
    CU_ASSERT_EQUAL(g.added_ms, 200);
    CU_ASSERT_EQUAL(g.position, 0);
    CU_ASSERT_EQUAL(g.batches, 0);
    CU_ASSERT_EQUAL(memcmp(g.hash, zero_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-d", &g), FOGPAY_ERR_UNKNOWN_GATEWAY);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "gw-d"));

    gateway_names names = {0};
    CU_ASSERT_EQUAL(fogpay_store_gateway_list(s, gateway_names_visit, &names), FOGPAY_OK);
    CU_ASSERT_EQUAL(names.count, 3);
    CU_ASSERT_STRING_EQUAL(names.ids[0], "gw-a");
    CU_ASSERT_STRING_EQUAL(names.ids[1], "gw-b");
    CU_ASSERT_STRING_EQUAL(names.ids[2], "gw-c");
    gateway_names first = {.stop_after = 1};
    CU_ASSERT_EQUAL(fogpay_store_gateway_list(s, gateway_names_visit, &first), FOGPAY_OK);
    CU_ASSERT_EQUAL(first.count, 1);

    /* The id alphabet of the contract, ':' included, as the topics take it. */
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "urn:site:4", key, 500), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "urn:site:4", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "site/4", key, 1), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_store_gateway_add(s, "site+", key, 1), FOGPAY_ERR_TEXT_INVALID);
    fogpay_store_close(s);
}

static void test_append_moves_head(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    chain_build(&chain_a, 1001);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 0, 1, 1), FOGPAY_OK);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, 1);
    CU_ASSERT_EQUAL(memcmp(g.hash, chain_hash_at(&chain_a, 1), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batch_seq, 1);
    CU_ASSERT_EQUAL(g.batches, 1);
    CU_ASSERT_EQUAL(g.last_transfer_ms, chain_a.t[0].time_ms);
    CU_ASSERT_EQUAL(g.last_batch_ms, T0_MS + 99999 + 1);

    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 1, 500, 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 501, 500, 7), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, 1001);
    CU_ASSERT_EQUAL(memcmp(g.hash, chain_hash_at(&chain_a, 1001), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batch_seq, 7);
    CU_ASSERT_EQUAL(g.batches, 3);
    CU_ASSERT_EQUAL(g.last_transfer_ms, chain_a.t[1000].time_ms);

    /* Counts and positions that do not follow are refused. */
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 1001, 0, 8), FOGPAY_ERR_INVALID_ARGUMENT);
    chain_build(&chain_a, 1600);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 1001, FOGPAY_BATCH_RECORDS_MAX + 1, 8),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_store_append(s, "gw-a", 1000, chain_hash_at(&chain_a, 1000),
                                        &chain_a.r[1001], 1, 8, T0_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    uint8_t hash[FOGPAY_HASH_BYTES];
    uint64_t probes[] = {1, 2, 500, 501, 1001};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-a", probes[i], hash), FOGPAY_OK);
        CU_ASSERT_EQUAL(memcmp(hash, chain_hash_at(&chain_a, probes[i]), FOGPAY_HASH_BYTES), 0);
    }
    CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-a", 0, hash), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-a", 1002, hash), FOGPAY_ERR_NOT_FOUND);
    fogpay_store_close(s);
}

static void test_append_stale_head(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    fogpay_store *other = open_store(conninfo, false);
    chain_build(&chain_a, 20);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 0, 10, 1), FOGPAY_OK);

    /* An ingest read the head, another stored the next batch meanwhile. */
    fogpay_store_gateway seen;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &seen), FOGPAY_OK);
    CU_ASSERT_EQUAL(chain_append(other, "gw-a", &chain_a, 10, 5, 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_store_append(s, "gw-a", seen.position, seen.hash, &chain_a.r[10], 5, 2, T0_MS),
        FOGPAY_ERR_CHAIN_MISMATCH);
    /* A stale position, and the right position with another hash. */
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 5, 5, 3), FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_EQUAL(fogpay_store_append(s, "gw-a", 15, chain_hash_at(&chain_a, 14), &chain_a.r[15],
                                        5, 3, T0_MS),
                    FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "nothing was written"));

    /* Nothing was written: head and rows as after the second batch. */
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, 15);
    CU_ASSERT_EQUAL(g.batches, 2);
    CU_ASSERT_EQUAL(g.batch_seq, 2);
    fogpay_store_filter f = {.gateway_id = "gw-a"};
    collected c;
    unsigned pages = 0;
    collect_all(s, f, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, 15);
    CU_ASSERT(c.hashes_match);
    /* And the caller that reads the head again goes on. */
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 15, 5, 3), FOGPAY_OK);
    fogpay_store_close(other);
    fogpay_store_close(s);
}

/* Two handles racing on the same append, one round after another: each
 * racer calls append(s, first) for its round's first position. */
typedef fogpay_error (*race_append_fn)(fogpay_store *s, uint64_t first);

typedef struct racer {
    fogpay_store *s;
    race_append_fn append;
    pthread_barrier_t *start;
    uint64_t first;
    fogpay_error result;
} racer;

static void *racer_run(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->start);
    r->result = r->append(r->s, r->first);
    return NULL;
}

/* Runs RACE_ROUNDS rounds of the two racers; counts the wins and the
 * compare-and-set refusals, asserting one winner a round. */
static void race_rounds(racer racers[2], int *wins, int *mismatches)
{
    pthread_barrier_t start;
    *wins = 0;
    *mismatches = 0;
    for (uint64_t round = 0; round < RACE_ROUNDS; round++) {
        CU_ASSERT_FATAL(pthread_barrier_init(&start, NULL, 2) == 0);
        pthread_t threads[2];
        for (int i = 0; i < 2; i++) {
            racers[i].start = &start;
            racers[i].first = round * RACE_BATCH;
            CU_ASSERT_FATAL(pthread_create(&threads[i], NULL, racer_run, &racers[i]) == 0);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(threads[i], NULL);
        }
        pthread_barrier_destroy(&start);
        int round_wins = (racers[0].result == FOGPAY_OK) + (racers[1].result == FOGPAY_OK);
        CU_ASSERT_EQUAL(round_wins, 1);
        *wins += round_wins;
        *mismatches += (racers[0].result == FOGPAY_ERR_CHAIN_MISMATCH) +
                       (racers[1].result == FOGPAY_ERR_CHAIN_MISMATCH);
    }
}

static fogpay_error race_transfers(fogpay_store *s, uint64_t first)
{
    return chain_append(s, "gw-a", &chain_a, first, RACE_BATCH, first + 1);
}

static void test_append_race(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    chain_build(&chain_a, RACE_ROUNDS * RACE_BATCH);
    racer racers[2] = {{.s = s, .append = race_transfers},
                       {.s = open_store(conninfo, false), .append = race_transfers}};
    int wins = 0, mismatches = 0;
    race_rounds(racers, &wins, &mismatches);
    CU_ASSERT_EQUAL(wins, RACE_ROUNDS);
    CU_ASSERT_EQUAL(mismatches, RACE_ROUNDS);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, RACE_ROUNDS * RACE_BATCH);
    CU_ASSERT_EQUAL(g.batches, RACE_ROUNDS);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(s, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, RACE_ROUNDS * RACE_BATCH);
    fogpay_store_close(racers[1].s);
    fogpay_store_close(s);
}

static void test_unknown_gateway(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    chain_build(&chain_a, 3);
    CU_ASSERT_EQUAL(chain_append(s, "gw-x", &chain_a, 0, 3, 1), FOGPAY_ERR_UNKNOWN_GATEWAY);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "gw-x"));
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-x", 1, hash), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(chain_append(s, "bad id", &chain_a, 0, 3, 1), FOGPAY_ERR_TEXT_INVALID);
    fogpay_store_close(s);
}

/* Counts chain_a's transfers among positions 1..n that a predicate keeps. */
static uint64_t expected_count(uint64_t n, const char *device, const char *entity, uint64_t from_ms,
                               uint64_t to_ms)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < n; i++) {
        const fogpay_transfer *t = &chain_a.t[i];
        bool keep = (device == NULL || strcmp(t->device_id, device) == 0) &&
                    (entity == NULL || strcmp(t->payer_entity, entity) == 0 ||
                     strcmp(t->payee_entity, entity) == 0) &&
                    t->time_ms >= from_ms && (to_ms == 0 || t->time_ms < to_ms);
        count += keep;
    }
    return count;
}

static void test_queries_and_paging(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, true);
    const uint64_t n = 2501;
    chain_build(&chain_a, n);
    chain_build(&chain_b, 30);
    chain_append_all(s, "gw-a", &chain_a, n);
    chain_append_all(s, "gw-b", &chain_b, 30);

    collected c;
    unsigned pages = 0;
    /* One gateway, in pages of the maximum: every transfer once, in order. */
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n);
    CU_ASSERT_EQUAL(pages, 3);
    CU_ASSERT(c.in_order);
    CU_ASSERT(c.hashes_match);
    CU_ASSERT_EQUAL(c.positions[0], 1);
    CU_ASSERT_EQUAL(c.positions[n - 1], n);
    /* Everything, across gateways, in small pages. */
    collect_all(s, (fogpay_store_filter){0}, 97, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n + 30);
    CU_ASSERT(c.in_order);
    CU_ASSERT(c.hashes_match);
    CU_ASSERT_STRING_EQUAL(c.gateway, "gw-b");
    /* Paging inside one gateway from a given position. */
    fogpay_store_filter after = {
        .gateway_id = "gw-a", .after_gateway = "gw-a", .after_position = 2400};
    collect_all(s, after, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n - 2400);
    CU_ASSERT_EQUAL(c.positions[0], 2401);

    /* By device, entity, time, and together; gw-b's equal transfers count
     * only where the filter does not name gw-a. */
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a", .device_id = "dev-a"}, 0, &c,
                &pages);
    CU_ASSERT_EQUAL(c.count, expected_count(n, "dev-a", NULL, 0, 0));
    CU_ASSERT(c.hashes_match);
    collect_all(s, (fogpay_store_filter){.device_id = "dev-b"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, expected_count(n, "dev-b", NULL, 0, 0) +
                                 expected_count(30, "dev-b", NULL, 0, 0));
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a", .entity_id = ENTITY_C}, 0, &c,
                &pages);
    CU_ASSERT_EQUAL(c.count, expected_count(n, NULL, ENTITY_C, 0, 0));
    CU_ASSERT(c.count > 0);
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a", .entity_id = ENTITY_A}, 0, &c,
                &pages);
    CU_ASSERT_EQUAL(c.count, n);
    uint64_t from = T0_MS + 1000, to = T0_MS + 2000;
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a", .from_ms = from, .to_ms = to}, 0, &c,
                &pages);
    CU_ASSERT_EQUAL(c.count, 100);
    CU_ASSERT_EQUAL(c.positions[0], 100);
    collect_all(s,
                (fogpay_store_filter){.gateway_id = "gw-a",
                                      .device_id = "dev-a",
                                      .entity_id = ENTITY_B,
                                      .from_ms = from,
                                      .to_ms = to},
                0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, expected_count(n, "dev-a", ENTITY_B, from, to));
    CU_ASSERT(c.count > 0);
    collect_all(s, (fogpay_store_filter){.device_id = "dev-none"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, 0);

    fogpay_store_filter too_many = {.limit = FOGPAY_STORE_LIST_MAX + 1};
    CU_ASSERT_EQUAL(fogpay_store_transfers(s, &too_many, collect_visit, &c),
                    FOGPAY_ERR_FIELD_RANGE);
    fogpay_store_close(s);
}

/* A store of gw-a with 40 transfers and 40 events and gw-b with 30 of
 * each, tampered with by sql; verify must name gw-a at position bad, with
 * a problem that names the event chain exactly when in_events. */
static void verify_tampered_in(const char *sql, uint64_t bad, const char *words, bool in_events)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, true);
    chain_build(&chain_a, 40);
    chain_build(&chain_b, 30);
    event_chain_build(&events_a, 40);
    event_chain_build(&events_b, 30);
    chain_append_all(s, "gw-a", &chain_a, 40);
    chain_append_all(s, "gw-b", &chain_b, 30);
    event_append_all(s, "gw-a", &events_a, 40, 1);
    event_append_all(s, "gw-b", &events_b, 30, 1);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(s, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 70);
    tamper(conninfo, sql);
    char gateway[FOGPAY_GATEWAY_ID_MAX + 1] = "";
    uint64_t position = 0;
    char problem[256] = "";
    CU_ASSERT_EQUAL(fogpay_store_verify(s, &checked, gateway, &position, problem, sizeof problem),
                    FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_STRING_EQUAL(gateway, "gw-a");
    CU_ASSERT_EQUAL(position, bad);
    if (strstr(problem, words) == NULL) {
        fprintf(stderr, "problem: %s\n", problem);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, words));
    CU_ASSERT_EQUAL(strstr(problem, "event chain") != NULL, in_events);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "gw-a"));
    fogpay_store_close(s);
}

static void verify_tampered(const char *sql, uint64_t bad, const char *words)
{
    verify_tampered_in(sql, bad, words, false);
}

static void event_verify_tampered(const char *sql, uint64_t bad, const char *words)
{
    verify_tampered_in(sql, bad, words, true);
}

static void test_verify_finds_tampering(void)
{
    verify_tampered("UPDATE transfers SET amount_minor = amount_minor + 1"
                    " WHERE gateway_id = 'gw-a' AND position = 7",
                    7, "differ");
    verify_tampered("UPDATE transfers SET hash = (SELECT hash FROM transfers"
                    " WHERE gateway_id = 'gw-a' AND position = 8)"
                    " WHERE gateway_id = 'gw-a' AND position = 7",
                    7, "chain hash");
    verify_tampered("UPDATE transfers SET record = (SELECT record FROM transfers"
                    " WHERE gateway_id = 'gw-a' AND position = 13)"
                    " WHERE gateway_id = 'gw-a' AND position = 12",
                    12, "differ");
    verify_tampered("DELETE FROM transfers WHERE gateway_id = 'gw-a' AND position = 7", 7,
                    "missing");
    verify_tampered("DELETE FROM transfers WHERE gateway_id = 'gw-a' AND position = 40", 40,
                    "head");
    verify_tampered("INSERT INTO transfers SELECT gateway_id, position + 1, kind, debit_account,"
                    " credit_account, amount_minor, currency, time_ms, device_id, seq,"
                    " payer_entity, payee_entity, intent_hash, reference, related_position,"
                    " record, hash FROM transfers WHERE gateway_id = 'gw-a' AND position = 40",
                    41, "differ");
    verify_tampered("UPDATE gateways SET position = 39 WHERE id = 'gw-a'", 40, "head");
}

/* Events. */

typedef struct collected_events {
    uint64_t count;
    char gateway[FOGPAY_GATEWAY_ID_MAX + 1];
    uint64_t last_position;
    uint64_t first_position;
    bool same;     /* every gw-a event re-encodes to events_a's record, with its hash */
    bool in_order; /* (gateway, position) ascending */
} collected_events;

static int collect_event_visit(void *ctx, const char *gateway_id, const fogpay_event *e,
                               const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected_events *c = ctx;
    int order = strcmp(gateway_id, c->gateway);
    if (c->count > 0 && (order < 0 || (order == 0 && e->position <= c->last_position))) {
        c->in_order = false;
    }
    if (strcmp(gateway_id, "gw-a") == 0) {
        uint8_t bytes[FOGPAY_RECORD_BYTES_MAX];
        size_t len = 0;
        const fogpay_store_event *want =
            e->position >= 1 && e->position <= events_a.n ? &events_a.r[e->position - 1] : NULL;
        if (want == NULL || fogpay_event_encode(e, bytes, sizeof bytes, &len) != FOGPAY_OK ||
            len != want->record_len || memcmp(bytes, want->record, len) != 0 ||
            memcmp(hash, want->hash, FOGPAY_HASH_BYTES) != 0) {
            c->same = false;
        }
    }
    if (c->count == 0) {
        c->first_position = e->position;
    }
    c->count++;
    snprintf(c->gateway, sizeof c->gateway, "%s", gateway_id);
    c->last_position = e->position;
    return 0;
}

/* Every event matching f, page by page of page_size. */
static void collect_events(fogpay_store *s, fogpay_store_filter f, uint32_t page_size,
                           collected_events *c, unsigned *pages)
{
    memset(c, 0, sizeof *c);
    c->same = true;
    c->in_order = true;
    f.limit = page_size;
    *pages = 0;
    for (;;) {
        uint64_t before = c->count;
        CU_ASSERT_EQUAL_FATAL(fogpay_store_events(s, &f, collect_event_visit, c), FOGPAY_OK);
        ++*pages;
        uint32_t full = page_size == 0 ? FOGPAY_STORE_LIST_MAX : page_size;
        CU_ASSERT_FATAL(c->count - before <= full);
        if (c->count - before < full) {
            return;
        }
        f.after_gateway = c->gateway;
        f.after_position = c->last_position;
    }
}

/* Counts events_a's events among positions 1..n that a filter keeps. */
static uint64_t expected_events(uint64_t n, const char *device, const char *entity,
                                uint64_t from_ms, uint64_t to_ms)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < n; i++) {
        const fogpay_event *e = &events_a.e[i];
        count += (device == NULL || strcmp(e->device_id, device) == 0) &&
                 (entity == NULL || strcmp(e->entity_id, entity) == 0) && e->time_ms >= from_ms &&
                 (to_ms == 0 || e->time_ms < to_ms);
    }
    return count;
}

static void test_events_append_moves_event_head(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    event_chain_build(&events_a, 1001);
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 0, 1, 1), FOGPAY_OK);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, 1);
    CU_ASSERT_EQUAL(memcmp(g.event_hash, event_hash_at(&events_a, 1), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batch_seq, 1);
    CU_ASSERT_EQUAL(g.batches, 1);
    CU_ASSERT_EQUAL(g.last_batch_ms, T0_MS + 99999 + 1);
    /* The transfer chain did not move. */
    CU_ASSERT_EQUAL(g.position, 0);
    CU_ASSERT_EQUAL(memcmp(g.hash, zero_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.last_transfer_ms, 0);

    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 1, 500, 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 501, 500, 7), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, 1001);
    CU_ASSERT_EQUAL(memcmp(g.event_hash, event_hash_at(&events_a, 1001), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batch_seq, 7);
    CU_ASSERT_EQUAL(g.batches, 3);

    /* Transfers appended now leave the event head where it is. */
    chain_build(&chain_a, 5);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &chain_a, 0, 5, 8), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, 5);
    CU_ASSERT_EQUAL(g.event_position, 1001);
    CU_ASSERT_EQUAL(memcmp(g.event_hash, event_hash_at(&events_a, 1001), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batches, 4);

    /* Counts and positions that do not follow are refused. */
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 1001, 0, 9), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, "gw-a", 1000, event_hash_at(&events_a, 1000),
                                               &events_a.r[1000], 1, 9, T0_MS),
                    FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, "gw-a", 1001, event_hash_at(&events_a, 1001),
                                               &events_a.r[999], 1, 9, T0_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_store_event no_event = {0};
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, "gw-a", 1001, event_hash_at(&events_a, 1001),
                                               &no_event, 1, 9, T0_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(event_append(s, "gw-x", &events_a, 0, 1, 1), FOGPAY_ERR_UNKNOWN_GATEWAY);

    uint8_t hash[FOGPAY_HASH_BYTES];
    uint64_t probes[] = {1, 2, 500, 501, 1001};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        CU_ASSERT_EQUAL(fogpay_store_event_hash(s, "gw-a", probes[i], hash), FOGPAY_OK);
        CU_ASSERT_EQUAL(memcmp(hash, event_hash_at(&events_a, probes[i]), FOGPAY_HASH_BYTES), 0);
    }
    CU_ASSERT_EQUAL(fogpay_store_event_hash(s, "gw-a", 0, hash), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_store_event_hash(s, "gw-a", 1002, hash), FOGPAY_ERR_NOT_FOUND);
    /* Each chain answers for its own positions only. */
    CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-a", 6, hash), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_store_chain_hash(s, "gw-a", 5, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(hash, chain_hash_at(&chain_a, 5), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_store_event_hash(s, "gw-a", 5, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(hash, event_hash_at(&events_a, 5), FOGPAY_HASH_BYTES), 0);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(s, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 5);
    fogpay_store_close(s);
}

static void test_events_stale_head(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    fogpay_store *other = open_store(conninfo, false);
    event_chain_build(&events_a, 20);
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 0, 10, 1), FOGPAY_OK);

    /* An ingest read the head, another stored the next batch meanwhile. */
    fogpay_store_gateway seen;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &seen), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_append(other, "gw-a", &events_a, 10, 5, 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, "gw-a", seen.event_position, seen.event_hash,
                                               &events_a.r[10], 5, 2, T0_MS),
                    FOGPAY_ERR_CHAIN_MISMATCH);
    /* A stale position, and the right position with another hash. */
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 5, 5, 3), FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, "gw-a", 15, event_hash_at(&events_a, 14),
                                               &events_a.r[15], 5, 3, T0_MS),
                    FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "nothing was written"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "event chain"));
    /* The transfer head (0) is no event head: expecting it is stale too. */
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 0, 5, 3), FOGPAY_ERR_CHAIN_MISMATCH);

    /* Nothing was written: head and rows as after the second batch. */
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, 15);
    CU_ASSERT_EQUAL(memcmp(g.event_hash, event_hash_at(&events_a, 15), FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(g.batches, 2);
    CU_ASSERT_EQUAL(g.batch_seq, 2);
    collected_events c;
    unsigned pages = 0;
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, 15);
    CU_ASSERT(c.same);
    /* And the caller that reads the head again goes on. */
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events_a, 15, 5, 3), FOGPAY_OK);
    fogpay_store_close(other);
    fogpay_store_close(s);
}

static fogpay_error race_events(fogpay_store *s, uint64_t first)
{
    return event_append(s, "gw-a", &events_a, first, RACE_BATCH, first + 1);
}

static void test_events_race(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    event_chain_build(&events_a, RACE_ROUNDS * RACE_BATCH);
    racer racers[2] = {{.s = s, .append = race_events},
                       {.s = open_store(conninfo, false), .append = race_events}};
    int wins = 0, mismatches = 0;
    race_rounds(racers, &wins, &mismatches);
    CU_ASSERT_EQUAL(wins, RACE_ROUNDS);
    CU_ASSERT_EQUAL(mismatches, RACE_ROUNDS);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, RACE_ROUNDS * RACE_BATCH);
    CU_ASSERT_EQUAL(g.batches, RACE_ROUNDS);
    collected_events c;
    unsigned pages = 0;
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, RACE_ROUNDS * RACE_BATCH);
    CU_ASSERT(c.same);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_store_close(racers[1].s);
    fogpay_store_close(s);
}

static void test_events_queries_and_paging(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, true);
    const uint64_t n = EVENT_CHAIN_MAX;
    event_chain_build(&events_a, n);
    event_chain_build(&events_b, 30);
    event_append_all(s, "gw-a", &events_a, n, 0);
    event_append_all(s, "gw-b", &events_b, 30, 0);

    collected_events c;
    unsigned pages = 0;
    /* One gateway, in pages of the maximum: every event once, in order. */
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n);
    CU_ASSERT_EQUAL(pages, 2);
    CU_ASSERT(c.in_order);
    CU_ASSERT(c.same);
    CU_ASSERT_EQUAL(c.first_position, 1);
    CU_ASSERT_EQUAL(c.last_position, n);
    /* Everything, across gateways, in small pages. */
    collect_events(s, (fogpay_store_filter){0}, 97, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n + 30);
    CU_ASSERT_EQUAL(pages, (n + 30) / 97 + 1);
    CU_ASSERT(c.in_order);
    CU_ASSERT(c.same);
    CU_ASSERT_STRING_EQUAL(c.gateway, "gw-b");
    /* Paging inside one gateway from a given position. */
    collect_events(s,
                   (fogpay_store_filter){
                       .gateway_id = "gw-a", .after_gateway = "gw-a", .after_position = 1050},
                   0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n - 1050);
    CU_ASSERT_EQUAL(c.first_position, 1051);

    /* By device, entity, time, and together. */
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a", .device_id = "dev-a"}, 0, &c,
                   &pages);
    CU_ASSERT_EQUAL(c.count, expected_events(n, "dev-a", NULL, 0, 0));
    CU_ASSERT_EQUAL(c.count, n / 2);
    CU_ASSERT(c.same);
    collect_events(s, (fogpay_store_filter){.device_id = "dev-b"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, n / 2 + 15);
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a", .entity_id = ENTITY_A}, 0, &c,
                   &pages);
    CU_ASSERT_EQUAL(c.count, expected_events(n, NULL, ENTITY_A, 0, 0));
    CU_ASSERT_EQUAL(c.count, n / 4);
    collect_events(s, (fogpay_store_filter){.entity_id = ENTITY_C}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, expected_events(n, NULL, ENTITY_C, 0, 0) + 4);
    CU_ASSERT(c.count > 4);
    uint64_t from = T0_MS + 1000, to = T0_MS + 2000;
    collect_events(s, (fogpay_store_filter){.gateway_id = "gw-a", .from_ms = from, .to_ms = to}, 0,
                   &c, &pages);
    CU_ASSERT_EQUAL(c.count, 100);
    CU_ASSERT_EQUAL(c.first_position, 100);
    fogpay_store_filter all = {
        .device_id = "dev-b", .entity_id = ENTITY_B, .from_ms = from, .to_ms = to};
    collect_events(s, all, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, expected_events(n, "dev-b", ENTITY_B, from, to));
    CU_ASSERT(c.count > 0);
    collect_events(s, (fogpay_store_filter){.device_id = "dev-none"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, 0);
    /* Events are no transfers. */
    collected t;
    collect_all(s, (fogpay_store_filter){0}, 0, &t, &pages);
    CU_ASSERT_EQUAL(t.count, 0);

    fogpay_store_filter too_many = {.limit = FOGPAY_STORE_LIST_MAX + 1};
    CU_ASSERT_EQUAL(fogpay_store_events(s, &too_many, collect_event_visit, &c),
                    FOGPAY_ERR_FIELD_RANGE);
    fogpay_store_close(s);
}

static void test_events_verify_finds_tampering(void)
{
    event_verify_tampered("UPDATE events SET time_ms = time_ms + 1"
                          " WHERE gateway_id = 'gw-a' AND position = 7",
                          7, "differ in: time");
    event_verify_tampered("UPDATE events SET entity_id = 'le-00000000000000c3'"
                          " WHERE gateway_id = 'gw-a' AND position = 8",
                          8, "differ in: entity");
    event_verify_tampered("UPDATE events SET hash = (SELECT hash FROM events"
                          " WHERE gateway_id = 'gw-a' AND position = 8)"
                          " WHERE gateway_id = 'gw-a' AND position = 7",
                          7, "chain hash");
    event_verify_tampered("UPDATE events SET record = (SELECT record FROM events"
                          " WHERE gateway_id = 'gw-a' AND position = 13)"
                          " WHERE gateway_id = 'gw-a' AND position = 12",
                          12, "differ");
    event_verify_tampered("DELETE FROM events WHERE gateway_id = 'gw-a' AND position = 7", 7,
                          "missing");
    event_verify_tampered("DELETE FROM events WHERE gateway_id = 'gw-a' AND position = 40", 40,
                          "head");
    event_verify_tampered("INSERT INTO events SELECT gateway_id, position + 1, kind, time_ms,"
                          " device_id, entity_id, record, hash FROM events"
                          " WHERE gateway_id = 'gw-a' AND position = 40",
                          41, "differ");
    event_verify_tampered("UPDATE gateways SET event_position = 39 WHERE id = 'gw-a'", 40, "head");
}

/* Runs sql on the store behind conninfo with the engine's own client. */
static void store_exec(const char *conninfo, const char *sql)
{
    if (use_pg) {
        PGconn *conn = PQconnectdb(conninfo);
        PGresult *res = PQexec(conn, sql);
        CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(conn);
        return;
    }
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(conninfo + strlen("sqlite:"), &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The events table as version 2 had it (no key event kinds), rows kept. */
/* A note's movements, encoded and chained as a gateway's note chain. */
typedef struct note_chain {
    fogpay_note_movement m[4];
    uint8_t bytes[4][FOGPAY_RECORD_BYTES_MAX];
    fogpay_store_note r[4];
} note_chain;

/* Movement i+1 of the note with serial byte fill: withdrawn by dev-a,
 * paid to dev-b, redeemed into a wallet; chained after prev. */
static void note_chain_put(note_chain *c, size_t i, uint8_t kind, uint8_t fill,
                           const uint8_t prev[FOGPAY_HASH_BYTES])
{
    fogpay_note_movement *m = &c->m[i];
    memset(m, 0, sizeof *m);
    m->position = i + 1;
    m->kind = kind;
    m->time_ms = T0_MS + m->position * 10;
    memset(m->serial, fill, FOGPAY_NOTE_SERIAL_BYTES);
    memset(m->link, (int)(i + 1), FOGPAY_HASH_BYTES);
    memset(m->holder_kid, (int)(i + 7), FOGPAY_KID_BYTES);
    if (kind == FOGPAY_NOTE_WITHDRAWN || kind == FOGPAY_NOTE_PAID) {
        snprintf(m->device_id, sizeof m->device_id, "%s",
                 kind == FOGPAY_NOTE_WITHDRAWN ? "dev-a" : "dev-b");
    }
    if (kind == FOGPAY_NOTE_WITHDRAWN || kind == FOGPAY_NOTE_REDEEMED) {
        m->transfer_position = i + 1;
    }
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_note_movement_encode(m, c->bytes[i], FOGPAY_RECORD_BYTES_MAX, &len), FOGPAY_OK);
    c->r[i] = (fogpay_store_note){.movement = m, .record = c->bytes[i], .record_len = len};
    CU_ASSERT_EQUAL_FATAL(
        fogpay_sha256_pair(prev, FOGPAY_HASH_BYTES, c->bytes[i], len, c->r[i].hash), FOGPAY_OK);
}

/* The note chain: appended under a compare-and-set on its head, each
 * moved note's home the gateway that moved it last. */
static void test_notes_append_moves_homes(void)
{
    static note_chain a;
    static note_chain b;
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, true);
    note_chain_put(&a, 0, FOGPAY_NOTE_WITHDRAWN, 0x11, zero_hash);
    note_chain_put(&a, 1, FOGPAY_NOTE_PAID, 0x11, a.r[0].hash);
    uint64_t head = 9;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_store_note_head(s, "gw-a", &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 0);
    CU_ASSERT_EQUAL(memcmp(head_hash, zero_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_store_append_notes(s, "gw-a", 0, zero_hash, a.r, 2, 1, T0_MS),
                    FOGPAY_OK);
    /* The same batch again: the head moved, nothing is written twice. */
    CU_ASSERT_EQUAL(fogpay_store_append_notes(s, "gw-a", 0, zero_hash, a.r, 2, 1, T0_MS),
                    FOGPAY_ERR_CHAIN_MISMATCH);
    CU_ASSERT_EQUAL(fogpay_store_note_head(s, "gw-a", &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 2);
    CU_ASSERT_EQUAL(memcmp(head_hash, a.r[1].hash, FOGPAY_HASH_BYTES), 0);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.batch_seq, 1);
    CU_ASSERT_EQUAL(g.position, 0);
    CU_ASSERT_EQUAL(g.event_position, 0);
    fogpay_store_note_home home;
    CU_ASSERT_EQUAL(fogpay_store_note_home_get(s, a.m[0].serial, &home), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(home.gateway_id, "gw-a");
    CU_ASSERT_EQUAL(home.position, 2);
    CU_ASSERT_EQUAL(home.time_ms, a.m[1].time_ms);
    /* The note is redeemed at another gateway: its home moves there. */
    note_chain_put(&b, 0, FOGPAY_NOTE_REDEEMED, 0x11, zero_hash);
    CU_ASSERT_EQUAL(fogpay_store_append_notes(s, "gw-b", 0, zero_hash, b.r, 1, 1, T0_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_note_home_get(s, a.m[0].serial, &home), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(home.gateway_id, "gw-b");
    CU_ASSERT_EQUAL(home.position, 1);
    uint8_t other[FOGPAY_NOTE_SERIAL_BYTES];
    memset(other, 0x22, sizeof other);
    CU_ASSERT_EQUAL(fogpay_store_note_home_get(s, other, &home), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_store_close(s);
    /* A movement's device edited: verification names the note chain there. */
    store_exec(conninfo, "UPDATE note_movements SET device_id = 'dev-c' WHERE position = 2");
    s = open_store(conninfo, false);
    char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1] = "";
    uint64_t bad_position = 0;
    char problem[256] = "";
    CU_ASSERT_EQUAL(
        fogpay_store_verify(s, NULL, bad_gateway, &bad_position, problem, sizeof problem),
        FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_STRING_EQUAL(bad_gateway, "gw-a");
    CU_ASSERT_EQUAL(bad_position, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, "note movement chain"));
    fogpay_store_close(s);
}

/* What versions before the note chain did not have. */
#define STORE_NOTES_DROP "DROP TABLE note_homes; DROP TABLE note_movements; "

#define STORE_EVENTS_V2                                                                            \
    STORE_NOTES_DROP                                                                               \
    "CREATE TABLE events_v2 (gateway_id TEXT NOT NULL REFERENCES gateways (id),"                   \
    " position BIGINT NOT NULL CHECK (position >= 1),"                                             \
    " kind BIGINT NOT NULL CHECK (kind BETWEEN 0 AND 3),"                                          \
    " time_ms BIGINT NOT NULL CHECK (time_ms >= 1), device_id TEXT NOT NULL,"                      \
    " entity_id TEXT, record BYTEA NOT NULL, hash BYTEA NOT NULL,"                                 \
    " PRIMARY KEY (gateway_id, position), CHECK ((entity_id IS NULL) = (kind = 1 OR kind = 3)));"  \
    " INSERT INTO events_v2 SELECT * FROM events; DROP TABLE events;"                              \
    " ALTER TABLE events_v2 RENAME TO events; DROP TABLE transfer_legs;"

/* A store of version 2 is migrated at open: its events stay and verify,
 * and the key events of version 3 can then be stored. */
static void test_version_2_migrated(void)
{
    static event_chain keys;
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    event_chain_build(&keys, 3);
    event_append_all(s, "gw-a", &keys, 3, 0);
    /* Then a rotation of dev-a's key and a revocation of the old one. */
    for (uint64_t i = 3; i < 5; i++) {
        fogpay_event *e = &keys.e[i];
        memset(e, 0, sizeof *e);
        e->position = i + 1;
        e->kind = i == 3 ? FOGPAY_EVENT_KEY_ROTATED : FOGPAY_EVENT_KEY_REVOKED;
        e->time_ms = T0_MS + e->position * 10;
        e->effective_ms = i == 3 ? e->time_ms + 60000 : 0;
        snprintf(e->device_id, sizeof e->device_id, "dev-a");
        memset(e->kid, (int)i, FOGPAY_KID_BYTES);
        event_chain_encode(&keys, i);
    }
    keys.n = 5;
    fogpay_store_close(s);
    store_exec(conninfo, use_pg ? STORE_EVENTS_V2 " UPDATE fogpay_schema SET version = 2"
                                : STORE_EVENTS_V2 " PRAGMA user_version = 2");
    s = open_store(conninfo, false);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &keys, 3, 2, 2), FOGPAY_OK);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.event_position, 5);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_store_close(s);
}

/* The events table as version 3 had it (no product kinds, every event a
 * device's), rows kept, and no transfer_legs. */
#define STORE_EVENTS_V3                                                                            \
    STORE_NOTES_DROP                                                                               \
    "DROP TABLE transfer_legs;"                                                                    \
    " CREATE TABLE events_v3 (gateway_id TEXT NOT NULL REFERENCES gateways (id),"                  \
    " position BIGINT NOT NULL CHECK (position >= 1),"                                             \
    " kind BIGINT NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6)),"                                    \
    " time_ms BIGINT NOT NULL CHECK (time_ms >= 1), device_id TEXT NOT NULL,"                      \
    " entity_id TEXT, record BYTEA NOT NULL, hash BYTEA NOT NULL,"                                 \
    " PRIMARY KEY (gateway_id, position), CHECK ((entity_id IS NULL) = (kind NOT IN (0, 2))));"    \
    " INSERT INTO events_v3 SELECT * FROM events; DROP TABLE events;"                              \
    " ALTER TABLE events_v3 RENAME TO events;"

/* Keeps the last transfer visited. */
static int last_transfer_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                               const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)gateway_id;
    (void)hash;
    *(fogpay_transfer *)ctx = *t;
    return 0;
}

/* A store of version 3 is migrated at open: its transfers and events stay
 * and verify, and then a transfer of two legs and a fee schedule's event,
 * which names no device, are stored and verify. */
static void test_version_3_migrated(void)
{
    static chain legs;
    static event_chain events;
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    memset(&legs, 0, sizeof legs);
    memset(&events, 0, sizeof events);
    chain_build(&legs, 6);
    chain_append_all(s, "gw-a", &legs, 6);
    event_chain_build(&events, 3);
    event_append_all(s, "gw-a", &events, 3, 1);
    fogpay_store_close(s);
    store_exec(conninfo, use_pg ? STORE_EVENTS_V3 " UPDATE fogpay_schema SET version = 3"
                                : STORE_EVENTS_V3 " PRAGMA user_version = 3");
    s = open_store(conninfo, false);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    /* Position 7: 97 to the payee, 3 to a platform's account 13. */
    chain_build(&legs, 7);
    legs.t[6].amount_minor = 97;
    legs.t[6].leg_count = 1;
    legs.t[6].legs[0] = (fogpay_leg){legs.t[6].debit_account, 13, 3};
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_transfer_encode(&legs.t[6], legs.bytes[6], FOGPAY_RECORD_BYTES_MAX, &len),
        FOGPAY_OK);
    legs.r[6].record_len = len;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_sha256_pair(legs.r[5].hash, FOGPAY_HASH_BYTES, legs.bytes[6], len, legs.r[6].hash),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(chain_append(s, "gw-a", &legs, 6, 1, 3), FOGPAY_OK);
    fogpay_event *e = &events.e[3];
    memset(e, 0, sizeof *e);
    e->position = 4;
    e->kind = FOGPAY_EVENT_FEE_SCHEDULE;
    e->time_ms = T0_MS + 40;
    e->effective_ms = T0_MS + 40;
    e->fee_currency = 978;
    e->fee_leg_count = 1;
    e->fee_legs[0] = (fogpay_fee_leg){13, 300};
    event_chain_encode(&events, 3);
    events.n = 4;
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events, 3, 1, 4), FOGPAY_OK);
    /* An entity login's event (kind 10, the highest) names no device. */
    e = &events.e[4];
    memset(e, 0, sizeof *e);
    e->position = 5;
    e->kind = FOGPAY_EVENT_ENTITY_LOGIN;
    e->time_ms = T0_MS + 41;
    strcpy(e->entity_id, "le-00112233445566aa");
    strcpy(e->login, "alice");
    event_chain_encode(&events, 4);
    events.n = 5;
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events, 4, 1, 5), FOGPAY_OK);
    /* An erasure of an entity's personal data (kind 18) names the entity
     * and no device; the store holds no personal data, only the event. */
    e = &events.e[5];
    memset(e, 0, sizeof *e);
    e->position = 6;
    e->kind = FOGPAY_EVENT_ERASURE;
    e->time_ms = T0_MS + 42;
    strcpy(e->entity_id, "le-00112233445566aa");
    e->erased_fields = FOGPAY_ERASED_NAME | FOGPAY_ERASED_BANK_REF;
    event_chain_encode(&events, 5);
    events.n = 6;
    CU_ASSERT_EQUAL(event_append(s, "gw-a", &events, 5, 1, 6), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_transfer last;
    memset(&last, 0, sizeof last);
    fogpay_store_filter f = {.gateway_id = "gw-a", .after_gateway = "gw-a", .after_position = 6};
    CU_ASSERT_EQUAL(fogpay_store_transfers(s, &f, last_transfer_visit, &last), FOGPAY_OK);
    CU_ASSERT_EQUAL(last.position, 7);
    CU_ASSERT_EQUAL(last.leg_count, 1);
    CU_ASSERT_EQUAL(last.legs[0].credit_account, 13);
    CU_ASSERT_EQUAL(last.legs[0].amount_minor, 3);
    fogpay_store_close(s);
    /* The legs as stored are checked against the record that carries them. */
    store_exec(conninfo, "UPDATE transfer_legs SET amount_minor = 4");
    s = open_store(conninfo, false);
    uint64_t bad = 0;
    char problem[256] = "";
    CU_ASSERT_EQUAL(fogpay_store_verify(s, NULL, NULL, &bad, problem, sizeof problem),
                    FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_EQUAL(bad, 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, "legs"));
    fogpay_store_close(s);
}

/* A store of version 1 (before events) is refused, saying there is no
 * migration, and is left as it was. */
static void test_version_1_refused(void)
{
    char conninfo[CONNINFO_MAX];
    fresh_conninfo(conninfo, sizeof conninfo);
    const char *v1 = use_pg
                         ? "CREATE TABLE gateways (id TEXT PRIMARY KEY);"
                           " CREATE TABLE fogpay_schema (one BOOLEAN PRIMARY KEY DEFAULT true,"
                           " version BIGINT NOT NULL);"
                           " INSERT INTO fogpay_schema (version) VALUES (1)"
                         : "CREATE TABLE gateways (id TEXT PRIMARY KEY); PRAGMA user_version = 1";
    store_exec(conninfo, v1);
    for (int create = 0; create < 2; create++) {
        fogpay_store *s = NULL;
        CU_ASSERT_EQUAL(fogpay_store_open(conninfo, create == 1, &s), FOGPAY_ERR_SCHEMA_VERSION);
        CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "version 1"));
        CU_ASSERT_PTR_NOT_NULL(strstr(fogpay_store_last_message(s), "no migration"));
        fogpay_store_close(s);
    }
}

static void test_durable_across_reopen(void)
{
    char conninfo[CONNINFO_MAX];
    fogpay_store *s = fresh_store(conninfo, sizeof conninfo, false);
    chain_build(&chain_a, 120);
    chain_append_all(s, "gw-a", &chain_a, 120);
    fogpay_store_close(s);
    s = open_store(conninfo, false);
    fogpay_store_gateway g;
    CU_ASSERT_EQUAL(fogpay_store_gateway_get(s, "gw-a", &g), FOGPAY_OK);
    CU_ASSERT_EQUAL(g.position, 120);
    CU_ASSERT_EQUAL(memcmp(g.hash, chain_hash_at(&chain_a, 120), FOGPAY_HASH_BYTES), 0);
    collected c;
    unsigned pages = 0;
    collect_all(s, (fogpay_store_filter){.gateway_id = "gw-a"}, 0, &c, &pages);
    CU_ASSERT_EQUAL(c.count, 120);
    CU_ASSERT(c.hashes_match);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(fogpay_store_verify(s, &checked, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 120);
    fogpay_store_close(s);
}

/* The tools. */

/* Copies the ledger's chain (record and hash of every transfer, in order)
 * into the store as gateway gw, in one batch. The records are read through
 * the ledger, which rebuilds each from its row (the row does not keep a
 * second copy of it). */
static uint64_t ledger_into_store(const char *ledger_path, fogpay_store *s, const char *gw)
{
    static chain copy;
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(ledger_path, false, &l), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(l, &head, head_hash), FOGPAY_OK);
    copy.n = 0;
    for (uint64_t position = 1; position <= head && copy.n < FOGPAY_BATCH_RECORDS_MAX; position++) {
        size_t i = copy.n++;
        size_t len = 0;
        fogpay_transfer t;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, position, &t, copy.r[i].hash),
                              FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, copy.bytes[i], sizeof copy.bytes[i], &len),
                              FOGPAY_OK);
        CU_ASSERT_FATAL(len <= FOGPAY_RECORD_BYTES_MAX);
        CU_ASSERT_EQUAL(fogpay_transfer_decode(copy.bytes[i], len, &copy.t[i]), FOGPAY_OK);
        copy.r[i].transfer = &copy.t[i];
        copy.r[i].record = copy.bytes[i];
        copy.r[i].record_len = len;
    }
    fogpay_ledger_close(l);
    CU_ASSERT_FATAL(copy.n > 0);
    CU_ASSERT_EQUAL(fogpay_store_append(s, gw, 0, zero_hash, copy.r, copy.n, 1, T0_MS), FOGPAY_OK);
    return copy.n;
}

/* Copies the ledger's event chain into the store as gateway gw's, in one
 * batch. */
static uint64_t ledger_events_into_store(const char *ledger_path, fogpay_store *s, const char *gw)
{
    static event_chain copy;
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CU_ASSERT_EQUAL_FATAL(
        sqlite3_prepare_v2(db, "SELECT record, hash FROM events ORDER BY position", -1, &st, NULL),
        SQLITE_OK);
    copy.n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && copy.n < FOGPAY_BATCH_RECORDS_MAX) {
        size_t i = copy.n++;
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        CU_ASSERT_FATAL(len <= FOGPAY_RECORD_BYTES_MAX);
        memcpy(copy.bytes[i], sqlite3_column_blob(st, 0), len);
        memcpy(copy.r[i].hash, sqlite3_column_blob(st, 1), FOGPAY_HASH_BYTES);
        CU_ASSERT_EQUAL(fogpay_event_decode(copy.bytes[i], len, &copy.e[i]), FOGPAY_OK);
        copy.r[i].event = &copy.e[i];
        copy.r[i].record = copy.bytes[i];
        copy.r[i].record_len = len;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    CU_ASSERT_FATAL(copy.n > 0);
    CU_ASSERT_EQUAL(fogpay_store_append_events(s, gw, 0, zero_hash, copy.r, copy.n, 2, T0_MS),
                    FOGPAY_OK);
    return copy.n;
}

static void test_fogpay_cloud_tool(void)
{
    const char *cloud = getenv("FOGPAY_CLOUD");
    const char *ctl = getenv("FOGPAYCTL");
    CU_ASSERT_FATAL(cloud != NULL && ctl != NULL);
    static char out[OUT_MAX];
    static char expected[OUT_MAX];
    char dir[300];
    snprintf(dir, sizeof dir, "%s/tool-%u", tmp_dir, ++store_counter);
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out, "mkdir -p %s", dir), 0);
    char conninfo[CONNINFO_MAX];
    fresh_conninfo(conninfo, sizeof conninfo);

    /* A real gateway ledger with three fundings, one with a reference. */
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out, "%s --db %s/l.db init", ctl, dir), 0);
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out, "%s keygen --out %s/dev.key", ctl, dir),
                          0);
    char device_key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    snprintf(device_key, sizeof device_key, "%.*s", (int)strcspn(out, "\n"), out);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db create-entity --name 'Ex Ltd'", ctl, dir),
        0);
    char entity[64];
    snprintf(entity, sizeof entity, "%.*s", (int)strcspn(out, "\n"), out);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db register-device --device dev-a --public-key %s "
                       "--owner %s --currency EUR",
                       ctl, dir, device_key, entity),
        0);
    const char *amounts[] = {"10.00", "2.50", "0.07"};
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out,
                                             "%s --db %s/l.db fund --device dev-a --currency EUR "
                                             "--amount %s --reference top-%zu",
                                             ctl, dir, amounts[i], i),
                              0);
    }
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(expected, sizeof expected, "%s --db %s/l.db export --format csv", ctl, dir),
        0);

    /* The cloud: init, its key, the gateway, its chain copied in. */
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' init", cloud, conninfo), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, use_pg ? "postgresql" : "sqlite"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s keygen --out %s/cloud.key", cloud, dir), 0);
    CU_ASSERT_EQUAL(strncmp(out, "ed25519:", 8), 0);
    char gateway_key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    snprintf(gateway_key, sizeof gateway_key, "%.*s", (int)strcspn(out, "\n"), out);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --store '%s' add-gateway --id gw-1 --public-key %s", cloud,
                                   conninfo, gateway_key),
                    0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --store '%s' add-gateway --id gw-1 --public-key %s", cloud,
                                   conninfo, gateway_key),
                    1);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --store '%s' add-gateway --id gw-2", cloud, conninfo),
        2);
    fogpay_store *s = open_store(conninfo, false);
    char path[400];
    snprintf(path, sizeof path, "%s/l.db", dir);
    CU_ASSERT_EQUAL(ledger_into_store(path, s, "gw-1"), 3);
    uint64_t events = ledger_events_into_store(path, s, "gw-1");
    fogpay_store_close(s);

    /* The gateway's CSV, byte for byte. */
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "FOGPAY_STORE='%s' %s transfers --gateway gw-1 --format csv",
                                   conninfo, cloud),
                    0);
    CU_ASSERT_STRING_EQUAL(out, expected);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "top-2"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --store '%s' transfers --format json --from 1", cloud,
                                   conninfo),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"gateway\":\"gw-1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"amount\":\"0.07\""));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --store '%s' transfers --format xml", cloud, conninfo),
        2);

    /* The gateway's event CSV and JSON, byte for byte. */
    CU_ASSERT_EQUAL_FATAL(testutil_shell(expected, sizeof expected,
                                         "%s --db %s/l.db export-events --format csv", ctl, dir),
                          0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --store '%s' events --gateway gw-1 --format csv", cloud,
                                   conninfo),
                    0);
    CU_ASSERT_STRING_EQUAL(out, expected);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dev-a"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, entity));
    CU_ASSERT_EQUAL_FATAL(testutil_shell(expected, sizeof expected,
                                         "%s --db %s/l.db export-events --format json", ctl, dir),
                          0);
    CU_ASSERT_PTR_NOT_NULL(strstr(expected, "\"device\":\"dev-a\""));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --store '%s' events --format json --device dev-a", cloud,
                                   conninfo),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"gateway\":\"gw-1\",\"event\":{\"position\":1,"));
    /* Every event, each line a gateway column and the gateway's line. */
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' events --entity %s", cloud,
                                   conninfo, entity),
                    0);
    CU_ASSERT_EQUAL(strncmp(out, "gateway,position,kind,", 22), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\ngw-1,1,0,"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' events --device dev-none",
                                   cloud, conninfo),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "gateway,position,kind,time_ms,device,seq,meter,quantity,unit,"
                                "entity,role,effective_ms,status,usage_hash,chain_hash\n");
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --store '%s' events --to soon", cloud, conninfo), 2);

    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' gateways", cloud, conninfo),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "gw-1\t3\t2\t2\t"));
    char event_head[64];
    snprintf(event_head, sizeof event_head, "\t%llu\t", (unsigned long long)events);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, event_head));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --store '%s' gateways --format json", cloud, conninfo),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"position\":3"));
    snprintf(event_head, sizeof event_head, "\"eventPosition\":%llu,", (unsigned long long)events);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, event_head));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' verify", cloud, conninfo), 0);
    CU_ASSERT_STRING_EQUAL(out, "ok: 3 transfers checked\n");
    tamper(conninfo, "UPDATE transfers SET amount_minor = 3 WHERE gateway_id = 'gw-1' AND "
                     "position = 2");
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' verify", cloud, conninfo), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "gateway gw-1 at position 2"));
    CU_ASSERT_PTR_NULL(strstr(out, "event chain"));
    tamper(conninfo, "UPDATE transfers SET amount_minor = 250 WHERE gateway_id = 'gw-1' AND "
                     "position = 2");
    tamper(conninfo, "DELETE FROM events WHERE gateway_id = 'gw-1' AND position = 1");
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --store '%s' verify", cloud, conninfo), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "gateway gw-1 at position 1: in the event chain"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s verify 2>/dev/null", cloud), 2);
    testutil_shell(out, sizeof out, "rm -rf %s", dir);
}

static void add_tests(CU_pSuite suite)
{
    CU_add_test(suite, "open, create and the version check", test_open_and_version);
    CU_add_test(suite, "gateways: add, get, list, refusals", test_gateways);
    CU_add_test(suite, "append 1..500 records and the head moves", test_append_moves_head);
    CU_add_test(suite, "append on a stale head writes nothing", test_append_stale_head);
    CU_add_test(suite, "two handles race: exactly one wins", test_append_race);
    CU_add_test(suite, "unknown gateway", test_unknown_gateway);
    CU_add_test(suite, "transfers by gateway, device, entity, time, paging",
                test_queries_and_paging);
    CU_add_test(suite, "verify finds edited, deleted and inserted rows",
                test_verify_finds_tampering);
    CU_add_test(suite, "events: append moves the event head only",
                test_events_append_moves_event_head);
    CU_add_test(suite, "events: append on a stale event head writes nothing",
                test_events_stale_head);
    CU_add_test(suite, "events: two handles race, exactly one wins", test_events_race);
    CU_add_test(suite, "events by gateway, device, entity, time, paging",
                test_events_queries_and_paging);
    CU_add_test(suite, "verify finds edited, deleted and inserted event rows",
                test_events_verify_finds_tampering);
    CU_add_test(suite, "notes: append moves the note chain head and the notes' homes",
                test_notes_append_moves_homes);
    CU_add_test(suite, "a version 1 store is refused: no migration", test_version_1_refused);
    CU_add_test(suite, "a version 2 store is migrated, key events stored after",
                test_version_2_migrated);
    CU_add_test(suite, "a version 3 store is migrated, legs and fee events stored after",
                test_version_3_migrated);
    CU_add_test(suite, "durable across close and reopen", test_durable_across_reopen);
    CU_add_test(suite, "fogpay-cloud against fogpayctl's export", test_fogpay_cloud_tool);
}

int main(void)
{
    testutil_tempdir(tmp_dir, sizeof tmp_dir);
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    add_tests(CU_add_suite("sqlite", sqlite_suite_init, NULL));
    pg_running = test_pg_start(&server);
    if (pg_running) {
        add_tests(CU_add_suite("postgresql", pg_suite_init, NULL));
    } else {
        fprintf(stderr, "test_store: the postgresql suite is skipped: PostgreSQL cannot be "
                        "run here (see above)\n");
    }
    int status = testutil_run();
    if (pg_running) {
        test_pg_stop(&server);
    }
    testutil_rmtree(tmp_dir);
    return status;
}
