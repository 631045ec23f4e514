/*
 * test_ledger.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in
 * a temporary directory: opening and schema versions, the registry,
 * funding, settlement and each of its refusals, daily limits, device
 * messages, ownership over time, refunds, verification against files
 * tampered with through SQLite directly, listing, durability, transactions
 * and savepoints, the bounded rejection log and a busy database.
 *
 * Each test opens a ledger file of its own, so tests do not depend on each
 * other's order. The raw sqlite3 connections here play an attacker or a
 * second process; they never go through the ledger's API.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fogpay_hash.h"
#include "fogpay_key.h"
#include "ledger.h"
#include "testutil.h"

#define EUR 978
#define USD 840

/* 2023-11-14 22:13:20 UTC; its UTC day ends 6,400,000 ms later. */
#define NOW_MS      1700000000000ull
#define DAY_MS      86400000ull
#define NEXT_DAY_MS (NOW_MS - NOW_MS % DAY_MS + DAY_MS)

static char dir[256];
static int ledger_count;
static fogpay_key *key_one;
static fogpay_key *key_two;

/* A ledger with two legal entities, each owning one device. */
typedef struct fixture {
    char path[512];
    fogpay_ledger *l;
    char entity_a[FOGPAY_ENTITY_ID_MAX + 1];
    char entity_b[FOGPAY_ENTITY_ID_MAX + 1];
} fixture;

/* Balances and chain head: what a refused operation must leave alone. */
typedef struct snapshot {
    uint64_t head;
    uint8_t hash[FOGPAY_HASH_BYTES];
    char accounts[2048];
} snapshot;

static int suite_init(void)
{
    testutil_tempdir(dir, sizeof dir);
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_one) != FOGPAY_OK ||
        fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_two) != FOGPAY_OK) {
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    fogpay_key_free(key_one);
    fogpay_key_free(key_two);
    testutil_rmtree(dir);
    return 0;
}

static void path_new(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "%s/%s-%d.db", dir, name, ++ledger_count);
}

/* Raw SQLite, as another process or an attacker would use it. */

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

/* The first column of the first row of sql as text ("" if none). */
static void raw_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static long raw_long(const char *path, const char *sql)
{
    char text[64];
    raw_text(path, sql, text, sizeof text);
    return strtol(text, NULL, 10);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = testutil_read_file(from, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    FILE *f = fopen(to, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

/* Fixture helpers. */

static void entity_new(fogpay_ledger *l, const char *name, char id[FOGPAY_ENTITY_ID_MAX + 1])
{
    fogpay_entity_personal p = {.name = name, .contact = "ops@example.invalid", .bank_ref = NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, NOW_MS, id), FOGPAY_OK);
}

static void device_new(fogpay_ledger *l, const char *device, const char *owner,
                       const fogpay_device_limits *limits)
{
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_register(l, device, key_one, "", owner, limits, NOW_MS), FOGPAY_OK);
}

static void fixture_open(fixture *fx)
{
    path_new(fx->path, sizeof fx->path, "ledger");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx->path, true, &fx->l), FOGPAY_OK);
    entity_new(fx->l, "Alpha Leasing GmbH", fx->entity_a);
    entity_new(fx->l, "Beta Charging AG", fx->entity_b);
    device_new(fx->l, "dev-a", fx->entity_a, NULL);
    device_new(fx->l, "dev-b", fx->entity_b, NULL);
}

static void fund(fogpay_ledger *l, const char *device, uint16_t currency, uint64_t amount)
{
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, device, currency, amount, "top-up", NOW_MS, &t),
                          FOGPAY_OK);
}

static void intent_hash_of(const char *device, uint64_t seq, uint8_t hash[FOGPAY_HASH_BYTES])
{
    char text[64];
    int len = snprintf(text, sizeof text, "%s/%llu", device, (unsigned long long)seq);
    CU_ASSERT_EQUAL_FATAL(fogpay_sha256((const uint8_t *)text, (size_t)len, hash), FOGPAY_OK);
}

static fogpay_intent intent_of(const char *payer, uint64_t seq, const char *payee_device,
                               uint64_t payee_account, uint64_t amount, uint16_t currency)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", payer);
    in.seq = seq;
    snprintf(in.payee_device, sizeof in.payee_device, "%s", payee_device ? payee_device : "");
    in.payee_account = payee_account;
    in.amount_minor = amount;
    in.currency = currency;
    in.created_s = NOW_MS / 1000;
    in.ttl_s = 60;
    snprintf(in.reference, sizeof in.reference, "charge-%llu", (unsigned long long)seq);
    return in;
}

/* Settles a payment; out may be NULL. */
static fogpay_error pay_full(fogpay_ledger *l, const char *payer, uint64_t seq,
                             const char *payee_device, uint64_t payee_account, uint64_t amount,
                             uint16_t currency, uint64_t now_ms, fogpay_transfer *out)
{
    fogpay_intent in = intent_of(payer, seq, payee_device, payee_account, amount, currency);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of(payer, seq, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    fogpay_error err = fogpay_ledger_settle(l, &in, hash, now_ms, out ? out : &t, &balance);
    return err;
}

static fogpay_error pay(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee,
                        uint64_t amount)
{
    return pay_full(l, payer, seq, payee, 0, amount, EUR, NOW_MS, NULL);
}

static int64_t balance_of(fogpay_ledger *l, const char *device, uint16_t currency)
{
    uint64_t account = 0;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(l, device, currency, &account), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_balance(l, account, &balance), FOGPAY_OK);
    return balance;
}

static void snapshot_take(const fixture *fx, snapshot *s)
{
    memset(s, 0, sizeof *s);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx->l, &s->head, s->hash), FOGPAY_OK);
    raw_text(fx->path,
             "SELECT group_concat(id || ':' || balance, ';') FROM "
             "(SELECT id, balance FROM accounts ORDER BY id)",
             s->accounts, sizeof s->accounts);
}

static bool snapshot_same(const fixture *fx, const snapshot *before)
{
    snapshot now;
    snapshot_take(fx, &now);
    return now.head == before->head && memcmp(now.hash, before->hash, sizeof now.hash) == 0 &&
           strcmp(now.accounts, before->accounts) == 0;
}

static fogpay_error verify(fogpay_ledger *l, uint64_t *checked, uint64_t *bad, char *problem,
                           size_t cap)
{
    return fogpay_ledger_verify(l, checked, bad, problem, cap);
}

/* Opening and schema versions. */

static void test_open_create_reopen(void)
{
    char path[512];
    fogpay_ledger *l = NULL;
    path_new(path, sizeof path, "open");
    /* Without create, a missing file is an error and stays missing. */
    CU_ASSERT_EQUAL(fogpay_ledger_open(path, false, &l), FOGPAY_ERR_STORAGE);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    char mode[16];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    CU_ASSERT_STRING_EQUAL(mode, "wal");
    /* The schema came from the library, not from a file beside it. */
    CU_ASSERT_EQUAL(raw_long(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name IN ('entities', 'entity_personal', 'devices', "
                                   "'device_keys', 'ownership', 'accounts', 'transfers', "
                                   "'messages', 'usage_readings', 'rejections', 'events', "
                                   "'sync_state')"),
                    12);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);

    /* A file that is not a database. */
    char junk[512];
    path_new(junk, sizeof junk, "junk");
    FILE *f = fopen(junk, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 200; i++) {
        fputs("this is not a database. ", f);
    }
    fclose(f);
    CU_ASSERT_EQUAL(fogpay_ledger_open(junk, true, &l), FOGPAY_ERR_STORAGE);
    CU_ASSERT_PTR_NULL(l);

    /* An empty file: not initialised; created only when asked. */
    char empty[512];
    path_new(empty, sizeof empty, "empty");
    f = fopen(empty, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(fogpay_ledger_open(empty, false, &l), FOGPAY_ERR_SCHEMA_VERSION);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(empty, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);

    /* Another application's database is refused and left as it was. */
    char other[512];
    path_new(other, sizeof other, "other");
    f = fopen(other, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(raw_exec(other, "CREATE TABLE notes (body TEXT)"), SQLITE_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_open(other, true, &l), FOGPAY_ERR_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(raw_long(other, "SELECT count(*) FROM sqlite_master"), 1);
    char journal[16];
    raw_text(other, "PRAGMA journal_mode", journal, sizeof journal);
    CU_ASSERT_STRING_EQUAL(journal, "delete");

    CU_ASSERT_EQUAL(fogpay_ledger_open(NULL, true, &l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_open(path, true, NULL), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_STRING_EQUAL(fogpay_ledger_last_message(NULL), "no ledger");
}

static void test_schema_version_refused(void)
{
    char path[512];
    fogpay_ledger *l = NULL;
    path_new(path, sizeof path, "version");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(raw_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
    l = NULL;
    CU_ASSERT_EQUAL(fogpay_ledger_open(path, false, &l), FOGPAY_ERR_SCHEMA_VERSION);
    CU_ASSERT_PTR_NULL(l);
    /* A newer ledger is named as such, with both versions, after the open. */
    char why[FOGPAY_LEDGER_WHY_MAX];
    CU_ASSERT_EQUAL(fogpay_ledger_open_why(path, false, &l, why, sizeof why),
                    FOGPAY_ERR_SCHEMA_VERSION);
    char expected[128];
    snprintf(expected, sizeof expected,
             "schema version 99 found where version %d of the ledger is needed: a newer fogpay",
             FOGPAY_LEDGER_SCHEMA_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, expected));
    CU_ASSERT_EQUAL(fogpay_ledger_open(path, true, &l), FOGPAY_ERR_SCHEMA_VERSION);
    /* Refusing changed nothing. */
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), 99);
    char restore[64];
    snprintf(restore, sizeof restore, "PRAGMA user_version = %d", FOGPAY_LEDGER_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(raw_exec(path, restore), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
}

/* What a version 2 ledger lacks of version 3: the event chain (its table,
 * index and triggers go with it) and sync_state's two acked_event_ columns,
 * the table put back as version 2 created it. */
static const char *const schema_down_to_2 =
    "DROP TABLE events;"
    "CREATE TABLE sync_state_v2 ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " acked_position INTEGER NOT NULL CHECK (acked_position >= 0),"
    " acked_hash BLOB NOT NULL CHECK (length(acked_hash) = 32),"
    " batch_seq INTEGER NOT NULL CHECK (batch_seq >= 0),"
    " acked_ms INTEGER NOT NULL CHECK (acked_ms >= 0));"
    "INSERT INTO sync_state_v2 SELECT id, acked_position, acked_hash, batch_seq, acked_ms "
    "FROM sync_state;"
    "DROP TABLE sync_state;"
    "ALTER TABLE sync_state_v2 RENAME TO sync_state;"
    "PRAGMA user_version = 2;";

/* A description of the tables, indexes and triggers of a ledger file that
 * is the same for a created and a migrated one: names, and each column's
 * name, type, NOT NULL and default (the stored CREATE text differs after
 * ALTER TABLE). */
static void schema_shape(const char *path, char *out, size_t cap)
{
    raw_text(path,
             "SELECT group_concat(line, ';') FROM (SELECT m.type || ' ' || m.name || "
             "coalesce((SELECT group_concat(c.name || ':' || c.type || ':' || c.\"notnull\" || "
             "':' || coalesce(c.dflt_value, ''), ',') FROM pragma_table_info(m.name) AS c "
             "WHERE m.type = 'table'), '') AS line FROM sqlite_master AS m "
             "WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name)",
             out, cap);
}

static void sync_state_is_empty(fogpay_ledger *l)
{
    static const uint8_t zero[FOGPAY_HASH_BYTES] = {0};
    fogpay_sync_state st;
    memset(&st, 0xff, sizeof st);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(l, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.acked_position, 0);
    CU_ASSERT_EQUAL(memcmp(st.acked_hash, zero, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(st.acked_event_position, 0);
    CU_ASSERT_EQUAL(memcmp(st.acked_event_hash, zero, FOGPAY_HASH_BYTES), 0);
}

/* A version 1 ledger (before upstream sync) is migrated on open through
 * version 2 to this one: the sync state appears at position 0, the event
 * chain empty, and everything else stays. */
static void test_schema_migration(void)
{
    char path[512], fresh[512];
    fogpay_ledger *l = NULL;
    path_new(fresh, sizeof fresh, "fresh");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fresh, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    path_new(path, sizeof path, "migrate");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    CU_ASSERT_EQUAL(raw_exec(path, "DROP TABLE events; DROP TABLE sync_state; "
                                   "PRAGMA user_version = 1"),
                    SQLITE_OK);
    l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), 3);
    CU_ASSERT_EQUAL(FOGPAY_LEDGER_SCHEMA_VERSION, 3);
    char shape[4096], fresh_shape[4096];
    schema_shape(path, shape, sizeof shape);
    schema_shape(fresh, fresh_shape, sizeof fresh_shape);
    CU_ASSERT_STRING_EQUAL(shape, fresh_shape);
    CU_ASSERT_PTR_NOT_NULL(strstr(shape, "trigger events_next_position"));
    sync_state_is_empty(l);
    fogpay_sync_state st;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(l, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.batch_seq, 0);
    /* The acked positions cannot pass the chain heads (empty here). */
    st.acked_position = 1;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(l, &st), FOGPAY_ERR_FIELD_RANGE);
    st.acked_position = 0;
    st.acked_event_position = 1;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(l, &st), FOGPAY_ERR_FIELD_RANGE);
    st.acked_event_position = 0;
    st.batch_seq = 7;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(l, &st), FOGPAY_OK);
    fogpay_ledger_close(l);
    l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(l, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.batch_seq, 7);
    fogpay_ledger_close(l);
}

/* A version 2 ledger with devices, transfers and an acknowledged sync is
 * migrated to version 3: its rows and sync state stay, the event chain
 * starts empty (what happened before is not backfilled) and the next
 * change is event 1. */
static void test_schema_migration_2_to_3(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    fogpay_sync_state st;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_get(fx.l, &st), FOGPAY_OK);
    st.acked_position = 1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, 1, &(fogpay_transfer){0}, st.acked_hash),
                          FOGPAY_OK);
    st.batch_seq = 4;
    st.acked_ms = NOW_MS;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_set(fx.l, &st), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_2), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM pragma_table_info('sync_state')"), 5);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), 3);
    fogpay_sync_state after;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(fx.l, &after), FOGPAY_OK);
    CU_ASSERT_EQUAL(after.acked_position, 1);
    CU_ASSERT_EQUAL(memcmp(after.acked_hash, st.acked_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(after.batch_seq, 4);
    CU_ASSERT_EQUAL(after.acked_ms, NOW_MS);
    CU_ASSERT_EQUAL(after.acked_event_position, 0);
    uint64_t head = 99;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 0);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 100);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 2);
    /* The first change after the migration is event 1. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    fogpay_event e;
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 1, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_STATUS);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-b");
    after.acked_event_position = 1;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(fx.l, &after), FOGPAY_OK);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    /* The migrated ledger is shaped as a created one. */
    char fresh[512], shape[4096], fresh_shape[4096];
    path_new(fresh, sizeof fresh, "fresh");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fresh, true, &fx.l), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    schema_shape(fx.path, shape, sizeof shape);
    schema_shape(fresh, fresh_shape, sizeof fresh_shape);
    CU_ASSERT_STRING_EQUAL(shape, fresh_shape);
}

/* The registry. */

static void test_entities(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL(strlen(fx.entity_a), 19);
    CU_ASSERT_EQUAL(strncmp(fx.entity_a, "le-", 3), 0);
    CU_ASSERT_EQUAL(strspn(fx.entity_a + 3, "0123456789abcdef"), 16);
    CU_ASSERT_STRING_NOT_EQUAL(fx.entity_a, fx.entity_b);

    char id[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_entity_personal p = {.name = NULL};
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_INVALID_ARGUMENT);
    p.name = "";
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    char long_text[FOGPAY_ENTITY_NAME_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    p.name = long_text;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    p.name = "Gamma";
    p.bank_ref = long_text;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, NULL, NOW_MS, id),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_ledger_close(fx.l);

    /* Personal data is in entity_personal and nowhere else. */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM entity_personal WHERE name = "
                                      "'Alpha Leasing GmbH' AND contact = 'ops@example.invalid'"),
                    1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM sqlite_master AS m, "
                                      "pragma_table_info(m.name) AS c WHERE m.type = 'table' AND "
                                      "m.name <> 'entity_personal' AND c.name IN ('name', "
                                      "'contact', 'bank_ref')"),
                    0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM entities"), 2);
}

static void test_devices(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_device_limits limits = {250, 1000, 5000};
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "meter-7", key_one,
                                                  "pbkdf2-sha256$1000$00$11", fx.entity_a, &limits,
                                                  NOW_MS),
                    FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(d.device_id, "meter-7");
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(d.alg, FOGPAY_ALG_EDDSA);
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0;
    CU_ASSERT_EQUAL(fogpay_key_public(key_one, pub, sizeof pub, &pub_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.public_key_len, pub_len);
    CU_ASSERT_EQUAL(memcmp(d.public_key, pub, pub_len), 0);
    CU_ASSERT_STRING_EQUAL(d.password_hash, "pbkdf2-sha256$1000$00$11");
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 250);
    CU_ASSERT_EQUAL(d.limits.per_day_minor, 1000);
    CU_ASSERT_EQUAL(d.limits.wallet_max_minor, 5000);
    CU_ASSERT_EQUAL(d.created_ms, NOW_MS);
    CU_ASSERT_EQUAL(d.last_command_seq, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(d.password_hash, "");

    /* Refusals: duplicate, unknown owner (nothing left behind), bad ids. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "meter-7", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "meter-8", key_one, NULL,
                                                  "le-0000000000000000", NULL, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-8", &d), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "a/b", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "abcdefghijklmnopqrstuvwx", key_one, NULL,
                                                  fx.entity_a, NULL, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "meter-9", NULL, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "nobody", &d), FOGPAY_ERR_NOT_FOUND);

    /* Status and limits. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "nobody", FOGPAY_DEVICE_ACTIVE, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", (fogpay_device_status)7, NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    fogpay_device_limits new_limits = {1, 2, 3};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "meter-7", &new_limits, NOW_MS + 2),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 1);
    CU_ASSERT_EQUAL(d.limits.per_day_minor, 2);
    CU_ASSERT_EQUAL(d.limits.wallet_max_minor, 3);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "nobody", &new_limits, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "meter-7", NULL, NOW_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    /* Command sequence numbers are stored and increase. */
    uint64_t seq = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "meter-7", &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 1);
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "meter-7", &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 2);
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "nobody", &seq),
                    FOGPAY_ERR_NOT_FOUND);

    /* Revocation is final. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_REVOKED, NOW_MS + 3),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_ACTIVE, NOW_MS + 4),
        FOGPAY_ERR_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "meter-7", key_two, NOW_MS + 4),
                    FOGPAY_ERR_DEVICE_REVOKED);
    fogpay_ledger_close(fx.l);

    /* Durable across reopening. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(d.last_command_seq, 2);
    fogpay_ledger_close(fx.l);
}

static void test_key_rotation(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_two, NOW_MS + 10),
                    FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0;
    CU_ASSERT_EQUAL(fogpay_key_public(key_two, pub, sizeof pub, &pub_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.public_key_len, pub_len);
    CU_ASSERT_EQUAL(memcmp(d.public_key, pub, pub_len), 0);
    /* A key the device held before is not taken again. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_one, NOW_MS + 20),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "nobody", key_one, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    /* A P-256 device. */
    fogpay_key *p256 = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_ES256, &p256), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-b", p256, NOW_MS + 30), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-b", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.alg, FOGPAY_ALG_ES256);
    CU_ASSERT_EQUAL(d.public_key_len, 65);
    fogpay_key_free(p256);
    fogpay_ledger_close(fx.l);
    /* The history keeps every key; one is active. */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM device_keys WHERE device_id = 'dev-a'"),
                    2);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM device_keys WHERE device_id = 'dev-a' "
                                      "AND active = 1"),
                    1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT revoked_ms FROM device_keys WHERE device_id = "
                                      "'dev-a' AND active = 0"),
                    (long)(NOW_MS + 10));
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM device_keys"), SQLITE_OK);
}

static void test_accounts(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t a1 = 0, a2 = 0, e1 = 0, e2 = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &a1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &a2), FOGPAY_OK);
    CU_ASSERT_EQUAL(a1, a2);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", USD, &a2), FOGPAY_OK);
    CU_ASSERT_NOT_EQUAL(a1, a2);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &e1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &e2), FOGPAY_OK);
    CU_ASSERT_EQUAL(e1, e2);
    int64_t balance = -1;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, e1, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, 0);
    /* Asking never creates an account for an owner that does not exist. */
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "nobody", EUR, &a1), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, "le-0000000000000000", EUR, &e1),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", 0, &a1), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", 1000, &a1), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, 9999, &balance), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, 0, &balance), FOGPAY_ERR_NOT_FOUND);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM accounts"), 3);
}

/* Money. */

static void test_fund(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 1000, "top-up", NOW_MS, &t),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(t.position, 1);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_FUNDING);
    CU_ASSERT_EQUAL(t.amount_minor, 1000);
    CU_ASSERT_EQUAL(t.currency, EUR);
    CU_ASSERT_EQUAL(t.time_ms, NOW_MS);
    CU_ASSERT_STRING_EQUAL(t.reference, "top-up");
    CU_ASSERT_STRING_EQUAL(t.device_id, "");
    CU_ASSERT_STRING_EQUAL(t.payer_entity, "");
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_a);
    uint64_t wallet = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &wallet), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.credit_account, wallet);
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, wallet, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, 1000);
    /* The system account is the counterpart: it goes negative. */
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, t.debit_account, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, -1000);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 500, NULL, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.position, 2);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1500);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, t.debit_account, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, -1500);

    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "nobody", EUR, 1, "", NOW_MS, &t),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 0, "", NOW_MS, &t),
                    FOGPAY_ERR_AMOUNT_ZERO);
    CU_ASSERT_EQUAL(
        fogpay_ledger_fund(fx.l, "dev-a", EUR, FOGPAY_AMOUNT_MAX_MINOR + 1, "", NOW_MS, &t),
        FOGPAY_ERR_AMOUNT_TOO_LARGE);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", 0, 1, "", NOW_MS, &t),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 1,
                                       "a reference longer than thirty-two bytes", NOW_MS, &t),
                    FOGPAY_ERR_FIELD_RANGE);
    fogpay_device_limits limits = {0, 0, 2000};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 501, "", NOW_MS, &t),
                    FOGPAY_ERR_WALLET_MAX);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_REVOKED, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-b", EUR, 1, "", NOW_MS, &t),
                    FOGPAY_ERR_DEVICE_REVOKED);
    CU_ASSERT(snapshot_same(&fx, &before));
    /* Exactly up to the maximum is allowed. */
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 500, "", NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 2000);
    fogpay_ledger_close(fx.l);
}

static void test_settle_device_to_device(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    uint64_t head_before = 0;
    uint8_t hash_before[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head_before, hash_before), FOGPAY_OK);
    CU_ASSERT_EQUAL(head_before, 1);

    fogpay_intent in = intent_of("dev-a", 1, "dev-b", 0, 250, EUR);
    uint8_t intent_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, intent_hash);
    fogpay_transfer t;
    int64_t balance_after = 0;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_settle(fx.l, &in, intent_hash, NOW_MS + 5, &t, &balance_after), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_after, 750);
    CU_ASSERT_EQUAL(t.position, 2);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_PAYMENT);
    CU_ASSERT_EQUAL(t.amount_minor, 250);
    CU_ASSERT_EQUAL(t.currency, EUR);
    CU_ASSERT_EQUAL(t.time_ms, NOW_MS + 5);
    CU_ASSERT_STRING_EQUAL(t.device_id, "dev-a");
    CU_ASSERT_EQUAL(t.seq, 1);
    CU_ASSERT_EQUAL(memcmp(t.intent_hash, intent_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    CU_ASSERT_STRING_EQUAL(t.reference, "charge-1");
    CU_ASSERT_EQUAL(t.related_position, 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 750);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 250);
    uint64_t wallet_a = 0, wallet_b = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-b", EUR, &wallet_b), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.debit_account, wallet_a);
    CU_ASSERT_EQUAL(t.credit_account, wallet_b);

    /* The chain: hash(2) = SHA-256(hash(1) || record(2)). */
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t record_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, record, sizeof record, &record_len),
                          FOGPAY_OK);
    uint8_t expected[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(
        fogpay_sha256_pair(hash_before, sizeof hash_before, record, record_len, expected),
        FOGPAY_OK);
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 2);
    CU_ASSERT_EQUAL(memcmp(head_hash, expected, FOGPAY_HASH_BYTES), 0);
    /* And hash(1) chains from 32 zero bytes. */
    fogpay_transfer first;
    uint8_t first_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, 1, &first, first_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&first, record, sizeof record, &record_len),
                          FOGPAY_OK);
    uint8_t zero[FOGPAY_HASH_BYTES] = {0};
    CU_ASSERT_EQUAL(fogpay_sha256_pair(zero, sizeof zero, record, record_len, expected), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(first_hash, expected, FOGPAY_HASH_BYTES), 0);

    /* What is read back is what was settled. */
    fogpay_transfer read;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 2, &read, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(&read, &t, sizeof t), 0);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 3, &read, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 0, &read, NULL), FOGPAY_ERR_NOT_FOUND);

    /* Paying an entity's account by its id. */
    uint64_t shop = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &shop), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, NULL, shop, 100, EUR, NOW_MS + 6, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.credit_account, shop);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, shop, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, 100);
    /* Paying a device's wallet by its account id. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, NULL, wallet_b, 50, EUR, NOW_MS + 7, &t), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 300);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 600);
    /* The same (device, seq) never settles twice, even if asked to. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, NULL, wallet_b, 50, EUR, NOW_MS + 8, &t),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 600);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* One refused settlement: the error, and nothing moved. */
static void refused(const fixture *fx, const char *payer, uint64_t seq, const char *payee_device,
                    uint64_t payee_account, uint64_t amount, uint16_t currency,
                    fogpay_error expected)
{
    snapshot before;
    snapshot_take(fx, &before);
    fogpay_error err =
        pay_full(fx->l, payer, seq, payee_device, payee_account, amount, currency, NOW_MS, NULL);
    if (err != expected) {
        fprintf(stderr, "\n%s pays %llu to %s/%llu: %s, expected %s\n", payer,
                (unsigned long long)amount, payee_device ? payee_device : "",
                (unsigned long long)payee_account, fogpay_error_name(err),
                fogpay_error_name(expected));
    }
    CU_ASSERT_EQUAL(err, expected);
    CU_ASSERT(snapshot_same(fx, &before));
}

static void test_settle_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-revoked", fx.entity_a, NULL);
    device_new(fx.l, "dev-suspended", fx.entity_a, NULL);
    fund(fx.l, "dev-a", EUR, 1000);
    fund(fx.l, "dev-revoked", EUR, 1000);
    fund(fx.l, "dev-suspended", EUR, 1000);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-revoked", FOGPAY_DEVICE_REVOKED, NOW_MS),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-suspended", FOGPAY_DEVICE_SUSPENDED, NOW_MS),
        FOGPAY_OK);
    uint64_t wallet_a = 0, usd_shop = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, USD, &usd_shop), FOGPAY_OK);
    fogpay_transfer funding;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 1, &funding, NULL), FOGPAY_OK);
    uint64_t system_eur = funding.debit_account;

    /* In the order ledger.h gives; each case also breaks later rules, so
     * the earlier rule is seen to win. */
    refused(&fx, "ghost", 1, "dev-b", 0, 5000, EUR, FOGPAY_ERR_UNKNOWN_DEVICE);
    refused(&fx, "dev-revoked", 1, "nobody", 0, 10, EUR, FOGPAY_ERR_DEVICE_REVOKED);
    refused(&fx, "dev-suspended", 1, "nobody", 0, 10, EUR, FOGPAY_ERR_DEVICE_SUSPENDED);
    refused(&fx, "dev-a", 1, "nobody", 0, 5000, EUR, FOGPAY_ERR_UNKNOWN_PAYEE);
    refused(&fx, "dev-a", 1, NULL, 9999, 10, EUR, FOGPAY_ERR_UNKNOWN_PAYEE);
    refused(&fx, "dev-a", 1, NULL, system_eur, 10, EUR, FOGPAY_ERR_UNKNOWN_PAYEE);
    refused(&fx, "dev-a", 1, NULL, usd_shop, 10, EUR, FOGPAY_ERR_UNKNOWN_PAYEE);
    refused(&fx, "dev-a", 1, "dev-a", 0, 5000, EUR, FOGPAY_ERR_PAYEE_SELF);
    refused(&fx, "dev-a", 1, NULL, wallet_a, 10, EUR, FOGPAY_ERR_PAYEE_SELF);
    refused(&fx, "dev-a", 1, "dev-revoked", 0, 5000, EUR, FOGPAY_ERR_PAYEE_INACTIVE);
    fogpay_device_limits limits = {100, 150, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    refused(&fx, "dev-a", 1, "dev-b", 0, 5000, EUR, FOGPAY_ERR_LIMIT_PER_PAYMENT);
    limits = (fogpay_device_limits){0, 150, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    refused(&fx, "dev-a", 1, "dev-b", 0, 5000, EUR, FOGPAY_ERR_LIMIT_PER_DAY);
    limits = (fogpay_device_limits){0, 0, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    refused(&fx, "dev-a", 1, "dev-b", 0, 1001, EUR, FOGPAY_ERR_INSUFFICIENT_FUNDS);
    /* No wallet in that currency yet: nothing to pay with, none created. */
    refused(&fx, "dev-a", 1, NULL, usd_shop, 10, USD, FOGPAY_ERR_INSUFFICIENT_FUNDS);
    limits = (fogpay_device_limits){0, 0, 300};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-b", &limits, NOW_MS), FOGPAY_OK);
    refused(&fx, "dev-a", 1, "dev-b", 0, 301, EUR, FOGPAY_ERR_WALLET_MAX);

    /* Malformed arguments. */
    refused(&fx, "dev-a", 1, "dev-b", 0, 0, EUR, FOGPAY_ERR_AMOUNT_ZERO);
    refused(&fx, "dev-a", 1, "dev-b", 0, FOGPAY_AMOUNT_MAX_MINOR + 1, EUR,
            FOGPAY_ERR_AMOUNT_TOO_LARGE);
    refused(&fx, "dev-a", 1, "dev-b", wallet_a, 10, EUR, FOGPAY_ERR_FIELD_RANGE);
    refused(&fx, "dev-a", 1, NULL, 0, 10, EUR, FOGPAY_ERR_FIELD_RANGE);
    refused(&fx, "dev-a", 0, "dev-b", 0, 10, EUR, FOGPAY_ERR_FIELD_RANGE);
    refused(&fx, "dev-a", 1, "dev-b", 0, 10, 0, FOGPAY_ERR_FIELD_RANGE);
    fogpay_intent in = intent_of("dev-a", 1, "dev-b", 0, 10, EUR);
    uint8_t hash[FOGPAY_HASH_BYTES] = {1};
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, NULL, hash, NOW_MS, &t, NULL),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, &in, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    /* Exactly the wallet maximum, and a suspended payee still receives. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 300), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-suspended", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-suspended", EUR), 1100);
    /* Exactly the whole balance. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 3, "dev-suspended", 600), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 0);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

static void test_daily_limit(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    fund(fx.l, "dev-a", USD, 5000);
    fogpay_device_limits limits = {0, 1000, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    uint64_t day_start = NOW_MS - NOW_MS % DAY_MS;
    /* The day before does not count. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 900, EUR, day_start - 1, NULL),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, "dev-b", 0, 400, EUR, day_start, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, "dev-b", 0, 400, EUR, NOW_MS, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 4, "dev-b", 0, 201, EUR, NOW_MS, NULL),
                    FOGPAY_ERR_LIMIT_PER_DAY);
    /* Another currency has its own sum. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 5, "dev-b", 0, 900, USD, NOW_MS, NULL), FOGPAY_OK);
    /* Up to exactly the limit. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 6, "dev-b", 0, 200, EUR, NOW_MS, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 7, "dev-b", 0, 1, EUR, NOW_MS, NULL),
                    FOGPAY_ERR_LIMIT_PER_DAY);
    /* Received money and fundings are not spending. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, "dev-a", 0, 100, EUR, NOW_MS, NULL), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 10);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 8, "dev-b", 0, 1, EUR, NOW_MS, NULL),
                    FOGPAY_ERR_LIMIT_PER_DAY);
    /* The next UTC day starts again. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 9, "dev-b", 0, 1000, EUR, NEXT_DAY_MS, NULL),
                    FOGPAY_OK);
    /* Payments not yet committed in the same group count too. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    uint64_t later = NEXT_DAY_MS + DAY_MS;
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 10, "dev-b", 0, 600, EUR, later, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 11, "dev-b", 0, 600, EUR, later, NULL),
                    FOGPAY_ERR_LIMIT_PER_DAY);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR),
                    5000 - 900 - 400 - 400 - 200 + 100 + 10 - 1000 - 600);
    fogpay_ledger_close(fx.l);
}

/* Device messages and usage. */

static void test_messages(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    uint8_t hash[FOGPAY_HASH_BYTES], other[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    intent_hash_of("dev-a", 99, other);
    uint8_t receipt[FOGPAY_MESSAGE_MAX];
    size_t receipt_len = 0;
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(fx.l, "dev-a", 1, hash, receipt, sizeof receipt, &receipt_len),
        FOGPAY_ERR_NOT_FOUND);

    /* The plugin's path: a group transaction, a savepoint per message. */
    const uint8_t signed_receipt[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x58, 0x20};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 100, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 1, FOGPAY_RECEIPT_INTENT, hash,
                                                 FOGPAY_STATUS_SETTLED, 0, t.position,
                                                 signed_receipt, sizeof signed_receipt, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);

    /* A repeat gets the same bytes. */
    memset(receipt, 0, sizeof receipt);
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(fx.l, "dev-a", 1, hash, receipt, sizeof receipt, &receipt_len),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(receipt_len, sizeof signed_receipt);
    CU_ASSERT_EQUAL(memcmp(receipt, signed_receipt, sizeof signed_receipt), 0);
    CU_ASSERT_EQUAL(fogpay_ledger_message_lookup(fx.l, "dev-a", 1, hash, receipt, 4, &receipt_len),
                    FOGPAY_ERR_BUFFER_TOO_SMALL);
    CU_ASSERT_EQUAL(receipt_len, sizeof signed_receipt);
    /* The same seq with other content is a conflict. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_lookup(fx.l, "dev-a", 1, other, receipt, sizeof receipt,
                                                 &receipt_len),
                    FOGPAY_ERR_SEQ_CONFLICT);
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(fx.l, "dev-b", 1, hash, receipt, sizeof receipt, &receipt_len),
        FOGPAY_ERR_NOT_FOUND);
    /* Recording twice, for an unknown device, or an unknown position. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 1, FOGPAY_RECEIPT_INTENT, other,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_EXPIRED, 0,
                                                 signed_receipt, sizeof signed_receipt, NOW_MS),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "ghost", 1, FOGPAY_RECEIPT_INTENT, hash,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_EXPIRED, 0,
                                                 signed_receipt, sizeof signed_receipt, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 2, FOGPAY_RECEIPT_INTENT, other,
                                                 FOGPAY_STATUS_SETTLED, 0, 77, signed_receipt,
                                                 sizeof signed_receipt, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 2, FOGPAY_RECEIPT_INTENT, other,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_EXPIRED, 0,
                                                 signed_receipt, 0, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 2, 9, other, FOGPAY_STATUS_REJECTED,
                                                 FOGPAY_ERR_EXPIRED, 0, signed_receipt,
                                                 sizeof signed_receipt, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    /* A refusal is recorded with no position. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 2, FOGPAY_RECEIPT_INTENT, other,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_EXPIRED, 0,
                                                 signed_receipt, sizeof signed_receipt, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_lookup(fx.l, "dev-a", 2, other, receipt, sizeof receipt,
                                                 &receipt_len),
                    FOGPAY_OK);

    /* Usage readings share the device's sequence. */
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    snprintf(u.device_id, sizeof u.device_id, "dev-b");
    u.seq = 5;
    snprintf(u.meter_id, sizeof u.meter_id, "m1");
    u.quantity = 1234;
    snprintf(u.unit, sizeof u.unit, "kWh");
    u.created_s = NOW_MS / 1000;
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, hash, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, hash, NOW_MS), FOGPAY_ERR_EXISTS);
    snprintf(u.device_id, sizeof u.device_id, "ghost");
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, hash, NOW_MS), FOGPAY_ERR_NOT_FOUND);
    snprintf(u.device_id, sizeof u.device_id, "dev-b");
    u.unit[0] = '\0';
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, hash, NOW_MS), FOGPAY_ERR_FIELD_RANGE);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT quantity FROM usage_readings WHERE device_id = "
                                      "'dev-b' AND seq = 5"),
                    1234);
}

/* Ownership and attribution. */

static void test_ownership(void)
{
    fixture fx;
    fixture_open(&fx);
    char lessee[FOGPAY_ENTITY_ID_MAX + 1], buyer[FOGPAY_ENTITY_ID_MAX + 1];
    entity_new(fx.l, "Lessee Logistics Ltd", lessee);
    entity_new(fx.l, "Buyer SA", buyer);
    fund(fx.l, "dev-a", EUR, 1000);
    char who[FOGPAY_ENTITY_ID_MAX + 1];
    const uint64_t t0 = NOW_MS;
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, fx.entity_a);
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0 - 1, who), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_STRING_EQUAL(who, "");
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "nobody", t0, who), FOGPAY_ERR_NOT_FOUND);

    /* Leased from t0 + 1000, sold from t0 + 2000 (which ends the lease). */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", lessee, "lessee", t0 + 1000, t0),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", buyer, "owner", t0 + 2000, t0),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0 + 999, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, fx.entity_a);
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0 + 1000, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, lessee);
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0 + 2500, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, buyer);
    /* Leased again from the moment of a later sale, the lease recorded
     * first: at equal times a lessee goes before an owner. */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", lessee, "lessee", t0 + 3000, t0),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner", t0 + 3000, t0),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", t0 + 3000, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, lessee);

    /* Refusals: back in time, bad role, unknown entity or device. */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", buyer, "owner", t0 + 2999, t0),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", buyer, "tenant", t0 + 4000, t0),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", "le-0000000000000000", "owner",
                                                   t0 + 4000, t0),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "nobody", buyer, "owner", t0 + 4000, t0),
                    FOGPAY_ERR_NOT_FOUND);

    /* Each payment records who stood behind payer and payee at its time. */
    fogpay_transfer t;
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 10, EUR, t0 + 500, &t), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, "dev-b", 0, 10, EUR, t0 + 1500, &t), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, lessee);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, "dev-b", 0, 10, EUR, t0 + 2500, &t), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, buyer);
    /* The device's money belongs to whoever holds it when it is paid back. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, "dev-a", 0, 5, EUR, t0 + 3500, &t), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, lessee);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 3, &t, NULL), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, lessee);
    fogpay_ledger_close(fx.l);

    /* The history cannot be rewritten through SQL either. */
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE ownership SET entity_id = entity_id"), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM ownership"), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM ownership WHERE device_id = 'dev-a'"),
                    5);
}

static void test_refund(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_transfer payment, t;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 500, EUR, NOW_MS, &payment),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 200, NOW_MS + 1, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_REFUND);
    CU_ASSERT_EQUAL(t.related_position, payment.position);
    CU_ASSERT_EQUAL(t.debit_account, payment.credit_account);
    CU_ASSERT_EQUAL(t.credit_account, payment.debit_account);
    CU_ASSERT_EQUAL(t.amount_minor, 200);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_b);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.device_id, "");
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 700);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 300);
    /* The rest: the payment is now refunded in full. */
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 300, NOW_MS + 2, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_REFUND);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1000);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 0);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 1, NOW_MS + 3, &t),
                    FOGPAY_ERR_AMOUNT_TOO_LARGE);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 0, NOW_MS + 3, &t),
                    FOGPAY_ERR_AMOUNT_ZERO);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, 99, 1, NOW_MS + 3, &t), FOGPAY_ERR_NOT_FOUND);
    /* Only payments are refunded: not a funding, not a refund. */
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, 1, 1, NOW_MS + 3, &t), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position + 1, 1, NOW_MS + 3, &t),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT(snapshot_same(&fx, &before));

    /* A whole payment undone at once is a reversal. */
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 2, "dev-b", 0, 100, EUR, NOW_MS, &payment),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 100, NOW_MS + 4, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_REVERSAL);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 100, NOW_MS + 5, &t),
                    FOGPAY_ERR_AMOUNT_TOO_LARGE);

    /* The payee must still hold the money. */
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 3, "dev-b", 0, 300, EUR, NOW_MS, &payment),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-b", 1, "dev-c", 250), FOGPAY_OK);
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 300, NOW_MS + 6, &t),
                    FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, payment.position, 50, NOW_MS + 6, &t), FOGPAY_OK);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, t.position);
    fogpay_ledger_close(fx.l);
}

/* The event chain. */

static uint64_t event_head(fogpay_ledger *l)
{
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_head(l, &head, hash), FOGPAY_OK);
    return head;
}

/* Reads the event at position and checks that its hash chains onto the
 * previous event's: SHA-256(hash(n-1) || fogpay_event_encode(event n)). */
static fogpay_event event_at(fogpay_ledger *l, uint64_t position)
{
    fogpay_event e;
    uint8_t hash[FOGPAY_HASH_BYTES], previous[FOGPAY_HASH_BYTES] = {0};
    memset(&e, 0, sizeof e);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position, &e, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.position, position);
    if (position > 1) {
        fogpay_event before;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position - 1, &before, previous),
                              FOGPAY_OK);
    }
    uint8_t record[FOGPAY_RECORD_BYTES_MAX], expected[FOGPAY_HASH_BYTES];
    size_t record_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, record, sizeof record, &record_len), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_sha256_pair(previous, sizeof previous, record, record_len, expected), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(hash, expected, FOGPAY_HASH_BYTES), 0);
    return e;
}

static fogpay_usage usage_of(const char *device, uint64_t seq, uint64_t quantity)
{
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    snprintf(u.device_id, sizeof u.device_id, "%s", device);
    u.seq = seq;
    snprintf(u.meter_id, sizeof u.meter_id, "m1");
    u.quantity = quantity;
    snprintf(u.unit, sizeof u.unit, "kWh");
    u.created_s = NOW_MS / 1000;
    return u;
}

/* Each of the four writers appends exactly one event with its fields; a
 * status set to what it is appends none; a refused change appends none. */
static void test_event_writers(void)
{
    fixture fx;
    fixture_open(&fx);
    /* The fixture registered dev-a and dev-b. */
    CU_ASSERT_EQUAL(event_head(fx.l), 2);
    fogpay_event e = event_at(fx.l, 1);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_REGISTERED);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_a);
    CU_ASSERT_EQUAL(e.role, 0);
    CU_ASSERT_EQUAL(e.effective_ms, 0);
    CU_ASSERT_EQUAL(e.status, 0);
    CU_ASSERT_EQUAL(e.seq, 0);
    e = event_at(fx.l, 2);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-b");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_b);

    /* A status change; the same status again is none. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 10),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 3);
    e = event_at(fx.l, 3);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 10);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_EQUAL(e.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_STRING_EQUAL(e.entity_id, "");
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 11),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 3);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_ACTIVE, NOW_MS + 12),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 4);
    e = event_at(fx.l, 4);
    CU_ASSERT_EQUAL(e.status, FOGPAY_DEVICE_ACTIVE);

    /* Ownership: a lessee (role 1), then an owner (role 0). */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "lessee",
                                                   NOW_MS + 1000, NOW_MS + 20),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 5);
    e = event_at(fx.l, 5);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_OWNERSHIP);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 20);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_b);
    CU_ASSERT_EQUAL(e.role, 1);
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner",
                                                   NOW_MS + 2000, NOW_MS + 21),
                    FOGPAY_OK);
    e = event_at(fx.l, 6);
    CU_ASSERT_EQUAL(e.role, 0);
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 2000);

    /* A stored usage reading, with the reading's message hash. */
    fogpay_usage u = usage_of("dev-b", 5, 1234);
    uint8_t reading_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-b", 5, reading_hash);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS + 30), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 7);
    e = event_at(fx.l, 7);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_USAGE);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 30);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-b");
    CU_ASSERT_EQUAL(e.seq, 5);
    CU_ASSERT_STRING_EQUAL(e.meter_id, "m1");
    CU_ASSERT_EQUAL(e.quantity, 1234);
    CU_ASSERT_STRING_EQUAL(e.unit, "kWh");
    CU_ASSERT_EQUAL(memcmp(e.usage_hash, reading_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_STRING_EQUAL(e.entity_id, "");
    /* A reading of quantity 0 is an event without key 7. */
    u = usage_of("dev-b", 6, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS + 31), FOGPAY_OK);
    e = event_at(fx.l, 8);
    CU_ASSERT_EQUAL(e.quantity, 0);

    /* Refused changes append nothing. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "dev-a", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "dev-z", key_one, NULL,
                                                  "le-0000000000000000", NULL, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "nobody", FOGPAY_DEVICE_SUSPENDED, NOW_MS),
        FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_a, "owner", NOW_MS + 1999, NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-c", fx.entity_a, "owner", 0, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    u = usage_of("dev-b", 5, 1234);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_ERR_EXISTS);
    u = usage_of("ghost", 1, 1);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_REVOKED, NOW_MS + 40),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_ACTIVE, NOW_MS + 41),
        FOGPAY_ERR_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);

    /* An event shares its change's transaction: rolled back with it. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    device_new(fx.l, "dev-c", fx.entity_a, NULL);
    CU_ASSERT_EQUAL(event_head(fx.l), 10);
    fogpay_ledger_rollback(fx.l);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-c", &d), FOGPAY_ERR_NOT_FOUND);
    /* Other writers append none. */
    fund(fx.l, "dev-a", EUR, 100);
    fogpay_device_limits limits = {1, 2, 3};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_two, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 1);
    fogpay_ledger_close(fx.l);

    /* The chain cannot be changed through SQL while its triggers stand. */
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE events SET time_ms = 1 WHERE position = 1"),
                        SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM events WHERE position = 9"), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "INSERT INTO events SELECT 11, kind, time_ms, device_id, "
                                          "record, hash FROM events WHERE position = 1"),
                        SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM events"), 9);
}

/* When its event cannot be appended (here a trigger refuses every event),
 * each writer's change fails as a whole and leaves nothing behind. */
static void test_event_append_failure(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, "CREATE TRIGGER events_refuse BEFORE INSERT ON events "
                                            "BEGIN SELECT RAISE(ABORT, 'no events'); END"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "dev-c", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_STORAGE);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-c", &d), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_ERR_STORAGE);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner", NOW_MS + 1000, NOW_MS),
        FOGPAY_ERR_STORAGE);
    char who[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", NOW_MS + 1000, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, fx.entity_a);
    /* Inside the plugin's group transaction, the savepoint is undone and the
     * transaction's other work stays. */
    fogpay_usage u = usage_of("dev-b", 1, 10);
    uint8_t reading_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-b", 1, reading_hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 100);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_ERR_STORAGE);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 100);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM usage_readings"), 0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM ownership"), 2);
    CU_ASSERT_EQUAL(event_head(fx.l), 2);
    /* Without the trigger the same changes go through, one event each. */
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, "DROP TRIGGER events_refuse"), SQLITE_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_OK);
    device_new(fx.l, "dev-c", fx.entity_a, NULL);
    CU_ASSERT_EQUAL(event_head(fx.l), 4);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

typedef struct collected_events {
    uint64_t positions[64];
    size_t count;
    size_t stop_after; /* 0: never stop */
} collected_events;

static int collect_event(void *ctx, const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected_events *c = ctx;
    (void)hash;
    if (c->count < sizeof c->positions / sizeof c->positions[0]) {
        c->positions[c->count] = e->position;
    }
    c->count++;
    return c->stop_after != 0 && c->count >= c->stop_after;
}

static collected_events event_list(fogpay_ledger *l, uint64_t after, uint32_t limit,
                                   size_t stop_after)
{
    collected_events c;
    memset(&c, 0, sizeof c);
    c.stop_after = stop_after;
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(l, after, limit, collect_event, &c), FOGPAY_OK);
    return c;
}

static void test_event_list(void)
{
    fixture fx;
    fixture_open(&fx);
    for (int i = 0; i < 5; i++) {
        char device[16];
        snprintf(device, sizeof device, "meter-%d", i);
        device_new(fx.l, device, fx.entity_a, NULL);
    }
    /* Seven events: two from the fixture, five here. Pages of three. */
    collected_events c = event_list(fx.l, 0, 3, 0);
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.positions[0], 1);
    CU_ASSERT_EQUAL(c.positions[2], 3);
    c = event_list(fx.l, 3, 3, 0);
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.positions[0], 4);
    CU_ASSERT_EQUAL(c.positions[2], 6);
    c = event_list(fx.l, 6, 3, 0);
    CU_ASSERT_EQUAL(c.count, 1);
    CU_ASSERT_EQUAL(c.positions[0], 7);
    c = event_list(fx.l, 7, 3, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    c = event_list(fx.l, UINT64_MAX, 0, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    /* 0 is the maximum page; the visitor may stop the walk. */
    c = event_list(fx.l, 0, 0, 0);
    CU_ASSERT_EQUAL(c.count, 7);
    c = event_list(fx.l, 1, FOGPAY_TRANSFER_LIST_MAX, 2);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[1], 3);
    CU_ASSERT_EQUAL(
        fogpay_ledger_event_list(fx.l, 0, FOGPAY_TRANSFER_LIST_MAX + 1, collect_event, &c),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(fx.l, 0, 1, NULL, &c), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(NULL, 0, 1, collect_event, &c),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    /* One by one, and the head. */
    fogpay_event e;
    uint8_t hash[FOGPAY_HASH_BYTES], head_hash[FOGPAY_HASH_BYTES];
    uint64_t head = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 7);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 7, &e, hash), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(e.device_id, "meter-4");
    CU_ASSERT_EQUAL(memcmp(hash, head_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 7, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 0, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 8, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, UINT64_MAX, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 1, NULL, NULL), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, NULL, head_hash), FOGPAY_ERR_INVALID_ARGUMENT);

    /* The sync state's event position: up to the head, kept with its hash. */
    fogpay_sync_state st;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_get(fx.l, &st), FOGPAY_OK);
    st.acked_event_position = 8;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(fx.l, &st), FOGPAY_ERR_FIELD_RANGE);
    st.acked_event_position = 7;
    memcpy(st.acked_event_hash, head_hash, FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(fx.l, &st), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    memset(&st, 0, sizeof st);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(fx.l, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.acked_event_position, 7);
    CU_ASSERT_EQUAL(st.acked_position, 0);
    CU_ASSERT_EQUAL(memcmp(st.acked_event_hash, head_hash, FOGPAY_HASH_BYTES), 0);
    fogpay_ledger_close(fx.l);
}

/* Verification and tampering. */

/* A closed ledger file with five transfers: a funding and four payments. */
static void tamper_base(char *path, size_t cap)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    for (uint64_t seq = 1; seq <= 4; seq++) {
        CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", seq, "dev-b", 10 * seq), FOGPAY_OK);
    }
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 5);
    fogpay_ledger_close(fx.l);
    snprintf(path, cap, "%s", fx.path);
}

/* A copy of base with every trigger of transfers and events dropped: what
 * an attacker with the file can do. */
static void tamper_copy(const char *base, char *path, size_t cap)
{
    path_new(path, cap, "tampered");
    copy_file(base, path);
    char drops[512];
    raw_text(path,
             "SELECT group_concat('DROP TRIGGER ' || name, '; ') FROM sqlite_master WHERE "
             "type = 'trigger' AND tbl_name IN ('transfers', 'events')",
             drops, sizeof drops);
    CU_ASSERT_EQUAL_FATAL(raw_exec(path, drops), SQLITE_OK);
}

/* Verifies a tampered file: corrupt, first found at bad_expected. */
static void tamper_verify(const char *path, const char *what, uint64_t bad_expected)
{
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    uint64_t checked = 99, bad = 99;
    char problem[256] = "";
    fogpay_error err = verify(l, &checked, &bad, problem, sizeof problem);
    if (err != FOGPAY_ERR_LEDGER_CORRUPT || bad != bad_expected) {
        fprintf(stderr, "\n%s: %s at %llu (%s), expected %llu\n", what, fogpay_error_name(err),
                (unsigned long long)bad, problem, (unsigned long long)bad_expected);
    }
    CU_ASSERT_EQUAL(err, FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_EQUAL(bad, bad_expected);
    CU_ASSERT(strlen(problem) > 10);
    CU_ASSERT_STRING_EQUAL(fogpay_ledger_last_message(l), problem);
    if (bad_expected > 0) {
        CU_ASSERT_EQUAL(checked, bad_expected - 1);
    }
    fogpay_ledger_close(l);
}

static void tamper_sql(const char *base, const char *sql, uint64_t bad_expected)
{
    char path[512];
    tamper_copy(base, path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(raw_exec(path, sql), SQLITE_OK);
    tamper_verify(path, sql, bad_expected);
}

/* Changes the amount at position and rewrites its record and chain hash to
 * match, as a careful forger would: the next position no longer chains. */
static void tamper_rechained(const char *base, uint64_t position)
{
    char path[512];
    tamper_copy(base, path, sizeof path);
    fogpay_ledger *l = NULL;
    fogpay_transfer t;
    uint8_t previous[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, position - 1, &t, previous), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, position, &t, NULL), FOGPAY_OK);
    fogpay_ledger_close(l);
    t.amount_minor += 1;
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t record_len = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, record, sizeof record, &record_len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_sha256_pair(previous, sizeof previous, record, record_len, hash),
                          FOGPAY_OK);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "UPDATE transfers SET amount_minor = ?1, record = "
                                             "?2, hash = ?3 WHERE position = ?4",
                                             -1, &s, NULL),
                          SQLITE_OK);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)t.amount_minor);
    sqlite3_bind_blob(s, 2, record, (int)record_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, sizeof hash, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)position);
    CU_ASSERT_EQUAL(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
    tamper_verify(path, "a re-hashed amount", position + 1);
}

static void test_verify_tampering(void)
{
    char base[512];
    tamper_base(base, sizeof base);
    /* Without dropping the triggers, SQL cannot change a transfer. */
    CU_ASSERT_NOT_EQUAL(raw_exec(base, "UPDATE transfers SET amount_minor = 1 WHERE position = 3"),
                        SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(base, "DELETE FROM transfers WHERE position = 5"), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(base, "INSERT INTO transfers SELECT 9, kind, debit_account, "
                                       "credit_account, amount_minor, currency, time_ms, NULL, "
                                       "NULL, NULL, NULL, NULL, NULL, NULL, record, hash FROM "
                                       "transfers WHERE position = 1"),
                        SQLITE_OK);

    tamper_sql(base, "UPDATE transfers SET amount_minor = amount_minor + 1 WHERE position = 3", 3);
    tamper_sql(base, "UPDATE transfers SET hash = zeroblob(32) WHERE position = 2", 2);
    tamper_sql(base,
               "UPDATE transfers SET record = CAST(record || x'00' AS BLOB) "
               "WHERE position = 4",
               4);
    tamper_sql(base,
               "UPDATE transfers SET record = CAST(substr(record, 1, length(record) - 1) "
               "|| x'7e' AS BLOB) WHERE position = 4",
               4);
    tamper_sql(base, "UPDATE transfers SET payer_entity = payee_entity WHERE position = 5", 5);
    tamper_sql(base, "DELETE FROM transfers WHERE position = 3", 3);
    tamper_sql(base, "DELETE FROM transfers WHERE position = 1", 1);
    tamper_rechained(base, 2);
    /* An account moved to another currency. */
    tamper_sql(base, "UPDATE accounts SET currency = 840 WHERE device_id = 'dev-b'", 2);
    /* A balance that does not follow from the transfers: not at a position. */
    tamper_sql(base, "UPDATE accounts SET balance = balance + 5 WHERE device_id = 'dev-b'", 0);
}

/* A closed ledger file with the five transfers of tamper_base's kind and
 * five events: two registrations, a status change, an ownership change and
 * a usage reading. */
static void event_tamper_base(char *path, size_t cap)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    for (uint64_t seq = 1; seq <= 4; seq++) {
        CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", seq, "dev-b", 10 * seq), FOGPAY_OK);
    }
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "lessee",
                                                         NOW_MS + 100, NOW_MS + 2),
                          FOGPAY_OK);
    fogpay_usage u = usage_of("dev-a", 9, 42);
    uint8_t reading_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 9, reading_hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS + 3), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 5);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 5);
    fogpay_ledger_close(fx.l);
    snprintf(path, cap, "%s", fx.path);
}

/* Tampers with a copy of base through sql and verifies it: corrupt, found
 * at event event_expected, with bad_position 0 (it names transfers only)
 * and every transfer checked. */
static void event_tamper_sql(const char *base, const char *sql, uint64_t event_expected)
{
    char path[512];
    tamper_copy(base, path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(raw_exec(path, sql), SQLITE_OK);
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    uint64_t checked = 99, bad = 99;
    char problem[256] = "", prefix[64];
    fogpay_error err = verify(l, &checked, &bad, problem, sizeof problem);
    snprintf(prefix, sizeof prefix, "event %llu: ", (unsigned long long)event_expected);
    if (err != FOGPAY_ERR_LEDGER_CORRUPT || strncmp(problem, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "\n%s: %s (%s), expected event %llu\n", sql, fogpay_error_name(err),
                problem, (unsigned long long)event_expected);
    }
    CU_ASSERT_EQUAL(err, FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(checked, 5);
    CU_ASSERT_EQUAL(strncmp(problem, prefix, strlen(prefix)), 0);
    CU_ASSERT_STRING_EQUAL(fogpay_ledger_last_message(l), problem);
    fogpay_ledger_close(l);
}

static void test_verify_event_tampering(void)
{
    char base[512];
    event_tamper_base(base, sizeof base);
    /* An edited record, a row that no longer matches its record, a hash. */
    event_tamper_sql(base,
                     "UPDATE events SET record = CAST(substr(record, 1, length(record) - 1) "
                     "|| x'7e' AS BLOB) WHERE position = 3",
                     3);
    event_tamper_sql(base,
                     "UPDATE events SET record = CAST(record || x'00' AS BLOB) "
                     "WHERE position = 5",
                     5);
    event_tamper_sql(base, "UPDATE events SET time_ms = time_ms + 1 WHERE position = 2", 2);
    event_tamper_sql(base, "UPDATE events SET device_id = 'dev-b' WHERE position = 1", 1);
    event_tamper_sql(base, "UPDATE events SET hash = zeroblob(32) WHERE position = 4", 4);
    /* The record of another event, whole, with its hash. */
    event_tamper_sql(base,
                     "UPDATE events SET (kind, time_ms, device_id, record, hash) = (SELECT kind, "
                     "time_ms, device_id, record, hash FROM events WHERE position = 1) "
                     "WHERE position = 2",
                     2);
    /* Deleted: in the middle, the first, and the last but one. */
    event_tamper_sql(base, "DELETE FROM events WHERE position = 3", 3);
    event_tamper_sql(base, "DELETE FROM events WHERE position = 1", 1);
    event_tamper_sql(base, "DELETE FROM events WHERE position = 4", 4);
    /* Inserted: after the head, and in the middle (the later ones moved up
     * by one). */
    event_tamper_sql(base,
                     "INSERT INTO events SELECT 6, kind, time_ms, device_id, record, hash "
                     "FROM events WHERE position = 5",
                     6);
    event_tamper_sql(base,
                     "UPDATE events SET position = position + 10 WHERE position >= 3; "
                     "UPDATE events SET position = position - 9 WHERE position >= 13; "
                     "INSERT INTO events SELECT 3, kind, time_ms, device_id, record, hash "
                     "FROM events WHERE position = 2",
                     3);
    /* A transfer fault is reported first, at its transfer position. */
    char path[512];
    tamper_copy(base, path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DELETE FROM events WHERE position = 2; "
                                         "DELETE FROM transfers WHERE position = 4"),
                          SQLITE_OK);
    tamper_verify(path, "a transfer and an event deleted", 4);
}

/* Listing. */

typedef struct collected {
    uint64_t positions[64];
    size_t count;
    size_t stop_after; /* 0: never stop */
} collected;

static int collect(void *ctx, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected *c = ctx;
    (void)hash;
    if (c->count < sizeof c->positions / sizeof c->positions[0]) {
        c->positions[c->count] = t->position;
    }
    c->count++;
    return c->stop_after != 0 && c->count >= c->stop_after;
}

static collected list(fogpay_ledger *l, const fogpay_transfer_filter *f)
{
    collected c;
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, f, collect, &c), FOGPAY_OK);
    return c;
}

static void test_transfer_list(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    /* Positions: 1 funds a, 2 funds c, 3 a pays b, 4 c pays b, 5 b pays a,
     * 6 c pays a; A holds dev-a, B holds dev-b and dev-c. */
    fund(fx.l, "dev-a", EUR, 1000);
    fund(fx.l, "dev-c", EUR, 1000);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 1, EUR, NOW_MS + 10, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-c", 1, "dev-b", 0, 1, EUR, NOW_MS + 20, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, "dev-a", 0, 1, EUR, NOW_MS + 30, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-c", 2, "dev-a", 0, 1, EUR, NOW_MS + 40, NULL), FOGPAY_OK);

    collected c = list(fx.l, NULL);
    CU_ASSERT_EQUAL(c.count, 6);
    fogpay_transfer_filter f = {.device_id = "dev-a"};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 4);
    CU_ASSERT_EQUAL(c.positions[0], 1);
    CU_ASSERT_EQUAL(c.positions[1], 3);
    CU_ASSERT_EQUAL(c.positions[2], 5);
    CU_ASSERT_EQUAL(c.positions[3], 6);
    f = (fogpay_transfer_filter){.device_id = "dev-b"};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 3);
    /* By entity. */
    f = (fogpay_transfer_filter){.entity_id = fx.entity_a};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 4);
    f = (fogpay_transfer_filter){.entity_id = fx.entity_b};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 5);
    /* Device and entity together. */
    f = (fogpay_transfer_filter){.device_id = "dev-a", .entity_id = fx.entity_b};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 3);
    /* Time range [from, to). */
    f = (fogpay_transfer_filter){.from_ms = NOW_MS + 20, .to_ms = NOW_MS + 40};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[0], 4);
    CU_ASSERT_EQUAL(c.positions[1], 5);
    /* Paging. */
    f = (fogpay_transfer_filter){.limit = 2};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[1], 2);
    f.after_position = 2;
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[0], 3);
    f.after_position = 6;
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 0);
    f = (fogpay_transfer_filter){.device_id = "dev-a", .after_position = 3, .limit = 1};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 1);
    CU_ASSERT_EQUAL(c.positions[0], 5);
    /* The visitor stops the walk. */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, NULL, collect, &c), FOGPAY_OK);
    CU_ASSERT_EQUAL(c.count, 2);
    /* Unknown device or entity: nothing; bad arguments refused. */
    f = (fogpay_transfer_filter){.device_id = "nobody"};
    CU_ASSERT_EQUAL(list(fx.l, &f).count, 0);
    f = (fogpay_transfer_filter){.limit = FOGPAY_TRANSFER_LIST_MAX + 1};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, &f, collect, &c), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, NULL, NULL, &c), FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_ledger_close(fx.l);
}

/* Durability and transactions. */

static void test_durability(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 400), FOGPAY_OK);
    /* Committed in a group. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 3, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    /* Rolled back. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 4, "dev-b", 100), FOGPAY_OK);
    fogpay_ledger_rollback(fx.l);
    /* Left open when the ledger is closed: lost, as it was never committed. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 5, "dev-b", 100), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_ledger_close(fx.l);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 4);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 400);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 600);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 4, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.seq, 3);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 4);
    /* The chain continues where it stopped. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 4, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 5);
    fogpay_ledger_close(fx.l);
}

static void test_transactions_savepoints(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_savepoint(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_begin(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    /* Kept: settled inside a released savepoint. */
    CU_ASSERT_EQUAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_OK);
    /* Undone: rolled back to its savepoint. */
    CU_ASSERT_EQUAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 200), FOGPAY_OK);
    fogpay_ledger_rollback_to(fx.l);
    /* A refusal inside the group leaves the rest of the group alone. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 3, "dev-b", 5000), FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 4, "dev-b", 300), FOGPAY_OK);
    /* Registry calls inside the open transaction join it. */
    device_new(fx.l, "dev-late", fx.entity_a, NULL);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 3);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 600);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, 3, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.seq, 4);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-late", &d), FOGPAY_OK);
    /* Savepoints nest, and rolling back the transaction undoes all. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 5, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_OK);
    fogpay_ledger_rollback(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_release(fx.l), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 600);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

static void test_rejection_log_bound(void)
{
    fixture fx;
    fixture_open(&fx);
    const long extra = 25;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    for (long i = 0; i < FOGPAY_LEDGER_REJECTIONS_MAX + extra; i++) {
        fogpay_error err = fogpay_ledger_rejection_log(fx.l, "dev-a", (uint64_t)i,
                                                       FOGPAY_ERR_BAD_SIGNATURE, NOW_MS);
        if (err != FOGPAY_OK) {
            CU_FAIL("rejection_log failed");
            break;
        }
    }
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    /* A client id of any length, cut without splitting a character. */
    char long_id[200];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    memcpy(long_id + FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX - 1, "\xc3\xa9", 2);
    CU_ASSERT_EQUAL(
        fogpay_ledger_rejection_log(fx.l, long_id, UINT64_MAX, FOGPAY_ERR_CBOR_TRUNCATED, NOW_MS),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_rejection_log(fx.l, NULL, 1, FOGPAY_ERR_CBOR_TRUNCATED, NOW_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM rejections"),
                    FOGPAY_LEDGER_REJECTIONS_MAX);
    /* The oldest went first: seq 0..extra are gone. */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT min(seq) FROM rejections"), extra + 1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT length(CAST(client_id AS BLOB)) FROM rejections "
                                      "ORDER BY id DESC LIMIT 1"),
                    FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX - 1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT reason FROM rejections ORDER BY id DESC LIMIT 1"),
                    FOGPAY_ERR_CBOR_TRUNCATED);
}

static void test_busy(void)
{
    fixture fx;
    fixture_open(&fx);
    sqlite3 *other = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(fx.path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 1, "", NOW_MS, &t),
                    FOGPAY_ERR_STORAGE_BUSY);
    CU_ASSERT(strlen(fogpay_ledger_last_message(fx.l)) > 0);
    /* Readers are not blocked by a writer in WAL mode. */
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    CU_ASSERT_EQUAL(fogpay_ledger_fund(fx.l, "dev-a", EUR, 1, "", NOW_MS, &t), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("ledger", suite_init, suite_clean);
    CU_add_test(s, "open, create, reopen, refuse other files", test_open_create_reopen);
    CU_add_test(s, "another schema version is refused", test_schema_version_refused);
    CU_add_test(s, "a version 1 ledger is migrated", test_schema_migration);
    CU_add_test(s, "a version 2 ledger is migrated, events not backfilled",
                test_schema_migration_2_to_3);
    CU_add_test(s, "legal entities and their personal data", test_entities);
    CU_add_test(s, "devices: register, status, limits, command seq", test_devices);
    CU_add_test(s, "device key rotation and history", test_key_rotation);
    CU_add_test(s, "wallets and entity accounts", test_accounts);
    CU_add_test(s, "funding from the system account", test_fund);
    CU_add_test(s, "settle device to device and to an account", test_settle_device_to_device);
    CU_add_test(s, "every settlement refusal moves no money", test_settle_refusals);
    CU_add_test(s, "per-day limit across payments and days", test_daily_limit);
    CU_add_test(s, "message lookup, record, duplicate, conflict; usage", test_messages);
    CU_add_test(s, "ownership over time and attribution", test_ownership);
    CU_add_test(s, "refund partial, full, reversal, refused", test_refund);
    CU_add_test(s, "each writer appends its one event", test_event_writers);
    CU_add_test(s, "a change whose event fails fails whole", test_event_append_failure);
    CU_add_test(s, "event list paging, get, head, sync position", test_event_list);
    CU_add_test(s, "verify finds each kind of tampering", test_verify_tampering);
    CU_add_test(s, "verify finds each kind of event tampering", test_verify_event_tampering);
    CU_add_test(s, "transfer list filters and paging", test_transfer_list);
    CU_add_test(s, "durable across close and reopen", test_durability);
    CU_add_test(s, "transactions and savepoints", test_transactions_savepoints);
    CU_add_test(s, "rejection log is bounded", test_rejection_log_bound);
    CU_add_test(s, "a busy database is reported, readers go on", test_busy);
    return testutil_run();
}
