/*
 * test_ledger_open.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: opening and schema versions: create, reopen, files of another kind or
 * version refused, migrations from each older version.
 *
 * Shared setup in ledger_fixture.h: each test opens a ledger file of its
 * own, so tests do not depend on each other's order.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger_fixture.h"

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
 * the table put back as version 2 created it; and version 4's gateway key
 * history. */
static const char *const schema_down_to_2 =
    "DROP TABLE gateway_keys;"
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

/* The ledger at path has the shape of one created now. */
static void shaped_as_created(const char *path)
{
    char fresh[512], shape[4096], fresh_shape[4096];
    fogpay_ledger *l = NULL;
    path_new(fresh, sizeof fresh, "fresh");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fresh, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    schema_shape(path, shape, sizeof shape);
    schema_shape(fresh, fresh_shape, sizeof fresh_shape);
    CU_ASSERT_STRING_EQUAL(shape, fresh_shape);
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

/* The index and triggers of the events table, made again on a copy of it. */
#define EVENTS_INDEX_AND_TRIGGERS                                                                  \
    "CREATE INDEX events_device ON events (device_id);"                                            \
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"                                      \
    " BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;"                                 \
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"                                      \
    " BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;"                                 \
    "CREATE TRIGGER events_next_position BEFORE INSERT ON events"                                  \
    " WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)"                \
    " BEGIN SELECT RAISE(ABORT, 'an event takes the next chain position'); END;"

/* What a version 5 ledger has where version 6 differs: no holds table and
 * no holds account kind, no entity logins, no fee, tariff, binding or plan tables, the transfers
 * without their meter and tariff columns and with kinds 0..4, messages of kinds 0 and 1 with
 * statuses 0..2, and the event kinds of version 5, every event with a device. Foreign keys are off
 * on this connection. */
static const char *const schema_down_to_5 =
    "DROP TABLE holds; DROP INDEX accounts_holds; DROP INDEX accounts_notes;"
    "DROP TABLE note_movements; DROP TABLE notes;"
    "DROP TABLE entity_logins; DROP TABLE plans;"
    "DROP TABLE fee_schedule_legs; DROP TABLE fee_schedules; DROP TABLE transfer_legs;"
    "DROP TABLE meter_bindings; DROP TABLE tariffs;"
    "CREATE TABLE transfers_v5 ("
    " position INTEGER PRIMARY KEY CHECK (position >= 1),"
    " kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),"
    " debit_account INTEGER NOT NULL REFERENCES accounts (id),"
    " credit_account INTEGER NOT NULL REFERENCES accounts (id),"
    " amount_minor INTEGER NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),"
    " currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),"
    " time_ms INTEGER NOT NULL CHECK (time_ms >= 0),"
    " device_id TEXT REFERENCES devices (id),"
    " seq INTEGER CHECK (seq IS NULL OR seq >= 1),"
    " payer_entity TEXT REFERENCES entities (id),"
    " payee_entity TEXT REFERENCES entities (id),"
    " intent_hash BLOB CHECK (intent_hash IS NULL OR length(intent_hash) = 32),"
    " reference TEXT CHECK (reference IS NULL OR length(reference) <= 32),"
    " related_position INTEGER REFERENCES transfers (position),"
    " record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " CHECK (debit_account <> credit_account),"
    " CHECK ((device_id IS NULL) = (seq IS NULL) AND (device_id IS NULL) = (intent_hash IS NULL)));"
    "INSERT INTO transfers_v5 SELECT position, kind, debit_account, credit_account, amount_minor,"
    " currency, time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference,"
    " related_position, record, hash FROM transfers;"
    "DROP TABLE transfers;"
    "ALTER TABLE transfers_v5 RENAME TO transfers;"
    "CREATE UNIQUE INDEX transfers_device_seq ON transfers (device_id, seq)"
    " WHERE device_id IS NOT NULL;"
    "CREATE INDEX transfers_debit ON transfers (debit_account) WHERE kind <> 0;"
    "CREATE INDEX transfers_credit ON transfers (credit_account);"
    "CREATE INDEX transfers_related ON transfers (related_position)"
    " WHERE related_position IS NOT NULL;"
    "CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers"
    " BEGIN SELECT RAISE(ABORT, 'transfers are never changed: correct with a new transfer'); END;"
    "CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers"
    " BEGIN SELECT RAISE(ABORT, 'transfers are never deleted: correct with a new transfer'); END;"
    "CREATE TRIGGER transfers_next_position BEFORE INSERT ON transfers"
    " WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM transfers)"
    " BEGIN SELECT RAISE(ABORT, 'a transfer takes the next chain position'); END;"
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(replace(sql,"
    " 'kind IN (''wallet'', ''entity'', ''system'', ''holds'', ''notes'')',"
    " 'kind IN (''wallet'', ''entity'', ''system'')'),"
    " 'kind IN (''system'', ''holds'', ''notes'')', 'kind = ''system''') WHERE name = 'accounts';"
    "UPDATE sqlite_schema SET sql = replace(replace(sql, 'CHECK (kind BETWEEN 0 AND 7)',"
    " 'CHECK (kind IN (0, 1))'), 'CHECK (status IN (0, 1, 2, 3))', 'CHECK (status IN (0, 1, 2))')"
    " WHERE type = 'table' AND name = 'messages';"
    "PRAGMA writable_schema = RESET;"
    "CREATE TABLE events_v5 (position INTEGER PRIMARY KEY CHECK (position >= 1),"
    " kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6)),"
    " time_ms INTEGER NOT NULL CHECK (time_ms >= 1),"
    " device_id TEXT NOT NULL REFERENCES devices (id),"
    " record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32));"
    "INSERT INTO events_v5 SELECT * FROM events;"
    "DROP TABLE events;"
    "ALTER TABLE events_v5 RENAME TO events;" EVENTS_INDEX_AND_TRIGGERS "PRAGMA user_version = 5;";

/* What a version 3 ledger has where version 4 differs: no gateway key
 * history, the trigger that lets a retired device key only be retired, and
 * the events table without the key event kinds (its rows kept). */
static const char *const schema_down_to_3 =
    "DROP TABLE gateway_keys;"
    "DROP TRIGGER device_keys_retire_only;"
    "CREATE TRIGGER device_keys_retire_only BEFORE UPDATE ON device_keys"
    " WHEN NEW.id IS NOT OLD.id OR NEW.device_id IS NOT OLD.device_id OR NEW.alg IS NOT OLD.alg"
    " OR NEW.public_key IS NOT OLD.public_key OR NEW.from_ms IS NOT OLD.from_ms"
    " OR OLD.active = 0 OR NEW.active <> 0"
    " BEGIN SELECT RAISE(ABORT, 'a device key can only be retired'); END;"
    "CREATE TABLE events_v3 (position INTEGER PRIMARY KEY CHECK (position >= 1),"
    " kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),"
    " time_ms INTEGER NOT NULL CHECK (time_ms >= 1),"
    " device_id TEXT NOT NULL REFERENCES devices (id),"
    " record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32));"
    "INSERT INTO events_v3 SELECT * FROM events;"
    "DROP TABLE events;"
    "ALTER TABLE events_v3 RENAME TO events;" EVENTS_INDEX_AND_TRIGGERS "PRAGMA user_version = 3;";

/* A version 3 ledger with events is migrated to the current version (through
 * 4, the keys' version): the events and
 * their hashes stay (verify passes), the key events can be appended, and a
 * retired key's overlap window can be ended early. */
static void test_schema_migration_keys(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    uint64_t head_before = 0;
    uint8_t hash_before[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_head(fx.l, &head_before, hash_before), FOGPAY_OK);
    CU_ASSERT(head_before >= 3);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_3), SQLITE_OK);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before);
    CU_ASSERT_EQUAL(memcmp(hash, hash_before, FOGPAY_HASH_BYTES), 0);
    fogpay_key *next = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &next), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key_overlap(fx.l, "dev-a", next, 60000, NOW_MS + 2),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_revoke_keys(fx.l, "dev-a", NOW_MS + 3), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before + 2);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_key_free(next);
    fogpay_ledger_close(fx.l);
    shaped_as_created(fx.path);
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
    CU_ASSERT_EQUAL_FATAL(raw_exec(path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_exec(path,
                             "DROP TABLE gateway_keys; DROP TABLE events; DROP TABLE sync_state; "
                             "PRAGMA user_version = 1"),
                    SQLITE_OK);
    l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(FOGPAY_LEDGER_SCHEMA_VERSION, 7);
    char shape[16384], fresh_shape[16384];
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
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_2), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM pragma_table_info('sync_state')"), 5);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
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
    shaped_as_created(fx.path);
}

/* The schema of version 3 as it shipped, embedded at build time from
 * tests/ledger/ledger_v3.sql. */
extern const char ledger_v3_sql[];

/* A receipt as the gateway signs one: bytes of its own around two 32-byte
 * values (the message's hash and its transfer's chain hash, either order). */
#define V3_RECEIPT_LEN 160
static void receipt_around(const uint8_t *first, const uint8_t *second, uint8_t out[V3_RECEIPT_LEN])
{
    for (size_t i = 0; i < V3_RECEIPT_LEN; i++) {
        out[i] = (uint8_t)(0xd2 + i * 7);
    }
    memcpy(out + 17, first, FOGPAY_HASH_BYTES);
    memcpy(out + 101, second, FOGPAY_HASH_BYTES);
}

/* Makes v3 a version 3 ledger holding what the closed ledger v4 holds,
 * as version 3 stored it: every table copied, each transfer with the
 * record its hash covers, and one answered message (dev-a, seq 1) with
 * receipt. */
static void v3_build(const char *v4, const char *v3, const uint8_t hash[FOGPAY_HASH_BYTES],
                     uint64_t position, const uint8_t receipt[V3_RECEIPT_LEN])
{
    FILE *f = fopen(v3, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(raw_exec(v3, ledger_v3_sql), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(raw_long(v3, "PRAGMA user_version"), 3);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(v3, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "ATTACH '%s' AS n; DELETE FROM sync_state; "
             "INSERT INTO entities SELECT * FROM n.entities; "
             "INSERT INTO entity_personal SELECT * FROM n.entity_personal; "
             "INSERT INTO devices SELECT * FROM n.devices; "
             "INSERT INTO device_keys SELECT * FROM n.device_keys; "
             "INSERT INTO ownership SELECT * FROM n.ownership; "
             "INSERT INTO accounts SELECT * FROM n.accounts; "
             "INSERT INTO events SELECT * FROM n.events ORDER BY position; "
             "INSERT INTO sync_state SELECT * FROM n.sync_state",
             v4);
    CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    CU_ASSERT_EQUAL_FATAL(
        sqlite3_prepare_v2(db,
                           "INSERT INTO transfers SELECT position, kind, debit_account, "
                           "credit_account, amount_minor, currency, time_ms, device_id, seq, "
                           "payer_entity, payee_entity, intent_hash, reference, related_position, "
                           "?2, hash FROM n.transfers WHERE position = ?1",
                           -1, &s, NULL),
        SQLITE_OK);
    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(v4, false, &l), FOGPAY_OK);
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(l, &head, head_hash), FOGPAY_OK);
    for (uint64_t p = 1; p <= head; p++) {
        fogpay_transfer t;
        uint8_t record[FOGPAY_RECORD_BYTES_MAX];
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, p, &t, NULL), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_transfer_encode(&t, record, sizeof record, &len), FOGPAY_OK);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)p);
        sqlite3_bind_blob(s, 2, record, (int)len, SQLITE_TRANSIENT);
        CU_ASSERT_EQUAL_FATAL(sqlite3_step(s), SQLITE_DONE);
        sqlite3_reset(s);
    }
    fogpay_ledger_close(l);
    sqlite3_finalize(s);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "INSERT INTO messages VALUES ('dev-a', 1, 0, ?1, 0, "
                                             "0, ?2, ?3, 1700000000000)",
                                             -1, &s, NULL),
                          SQLITE_OK);
    sqlite3_bind_blob(s, 1, hash, FOGPAY_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)position);
    sqlite3_bind_blob(s, 3, receipt, V3_RECEIPT_LEN, SQLITE_STATIC);
    CU_ASSERT_EQUAL_FATAL(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "DETACH n", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A ledger made by the version 3 schema, with payments of today under a
 * per-day limit, a refund and an answered message, is migrated to this
 * version: it verifies with every transfer, its old rows keep their
 * records, the day's running total is what the payments made, the stored
 * receipt is answered byte for byte, new transfers and receipts are stored
 * without second copies, and the file is shaped as a created one. */
static void test_schema_migration_hot(void)
{
    fixture fx;
    fixture_open(&fx);
    limit_per_day(fx.l, "dev-a", 300);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_transfer first;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 100, EUR, NOW_MS, &first),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", 2, "dev-b", 150), FOGPAY_OK);
    fogpay_transfer refund;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_refund(fx.l, 3, 50, NOW_MS + 1, &refund), FOGPAY_OK);
    uint8_t hash[FOGPAY_HASH_BYTES], chain_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, first.position, &first, chain_hash),
                          FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    uint8_t receipt[V3_RECEIPT_LEN];
    receipt_around(hash, chain_hash, receipt);
    char path[512];
    path_new(path, sizeof path, "v3");
    v3_build(fx.path, path, hash, first.position, receipt);
    CU_ASSERT_EQUAL(raw_long(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                   "('transfers_time', 'transfers_device_day')"),
                    2);

    fogpay_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 4);
    CU_ASSERT_EQUAL(balance_of(l, "dev-a", EUR), 1000 - 250 + 50);
    CU_ASSERT_EQUAL(raw_long(path, "SELECT count(*) FROM transfers WHERE length(record) > 1"), 4);
    /* The stored receipt comes back whole. */
    uint8_t answer[FOGPAY_MESSAGE_MAX];
    size_t answer_len = 0;
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(l, "dev-a", 1, hash, answer, sizeof answer, &answer_len),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(answer_len, V3_RECEIPT_LEN);
    CU_ASSERT_EQUAL(memcmp(answer, receipt, V3_RECEIPT_LEN), 0);
    /* Today's 250 count against the limit of 300 (the refund does not). */
    CU_ASSERT_EQUAL(pay(l, "dev-a", 3, "dev-b", 51), FOGPAY_ERR_LIMIT_PER_DAY);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(pay_full(l, "dev-a", 4, "dev-b", 0, 50, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(l, "dev-a", 5, "dev-b", 1), FOGPAY_ERR_LIMIT_PER_DAY);
    CU_ASSERT_EQUAL(pay_full(l, "dev-a", 6, "dev-b", 0, 1, EUR, NEXT_DAY_MS, NULL), FOGPAY_OK);
    /* A new receipt is stored without the two hashes, here in the other
     * order, and answered whole. */
    uint8_t new_hash[FOGPAY_HASH_BYTES], new_chain[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 4, new_hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(l, t.position, &t, new_chain), FOGPAY_OK);
    receipt_around(new_chain, new_hash, receipt);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(l, "dev-a", 4, FOGPAY_RECEIPT_INTENT, new_hash,
                                                 FOGPAY_STATUS_SETTLED, 0, t.position, receipt,
                                                 V3_RECEIPT_LEN, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(path, "SELECT length(receipt) FROM messages WHERE seq = 4"),
                    V3_RECEIPT_LEN - 2 * FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(l, "dev-a", 4, new_hash, answer, sizeof answer, &answer_len),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(answer_len, V3_RECEIPT_LEN);
    CU_ASSERT_EQUAL(memcmp(answer, receipt, V3_RECEIPT_LEN), 0);
    CU_ASSERT_EQUAL(raw_long(path, "SELECT count(*) FROM transfers WHERE record = x'01'"), 2);
    CU_ASSERT_EQUAL(verify(l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 6);
    fogpay_ledger_close(l);
    /* Shaped as a created ledger: the four dropped indexes are gone. */
    char fresh[512], shape[4096], fresh_shape[4096];
    path_new(fresh, sizeof fresh, "fresh");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fresh, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    schema_shape(path, shape, sizeof shape);
    schema_shape(fresh, fresh_shape, sizeof fresh_shape);
    CU_ASSERT_STRING_EQUAL(shape, fresh_shape);
    CU_ASSERT_PTR_NULL(strstr(shape, "transfers_time"));
}

/* Closes fx's ledger, takes its file down to version 5 (the narrower
 * CHECKs found there) and opens it again, migrated to the current version. */
static void reopen_from_5(fixture *fx)
{
    fogpay_ledger_close(fx->l);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx->path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx->path, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE "
                                       "'%''holds''%' OR sql LIKE '%status IN (0, 1, 2, 3)%'"),
                    0);
    CU_ASSERT_EQUAL(raw_long(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                       "'transfers' AND sql LIKE '%kind BETWEEN 0 AND 4)%'"),
                    1);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx->path, false, &fx->l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx->path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
}

/* The CHECK constraints of table in the stored CREATE text of the file at
 * path, each with its runs of white space made one space, in their order. */
static void table_checks(const char *path, const char *table, char *out, size_t cap)
{
    char query[128], sql[4096];
    snprintf(query, sizeof query, "SELECT sql FROM sqlite_schema WHERE name = '%s'", table);
    raw_text(path, query, sql, sizeof sql);
    size_t n = 0;
    out[0] = '\0';
    for (const char *c = strstr(sql, "CHECK ("); c != NULL; c = strstr(c, "CHECK (")) {
        int depth = 0;
        bool space = false;
        do {
            bool blank = *c == ' ' || *c == '\n' || *c == '\t';
            if (!(blank && space) && n + 2 < cap) {
                out[n++] = blank ? ' ' : *c;
            }
            space = blank;
            depth += (*c == '(') - (*c == ')');
            c++;
        } while (*c != '\0' && (depth > 0 || c[-1] != ')'));
        if (n + 2 < cap) {
            out[n++] = ';';
        }
        out[n] = '\0';
    }
}

/* The tables whose CHECKs version 6 widens have the same CHECKs in the
 * file at path as in one created now. */
static void checks_as_created(const char *path)
{
    static const char *const widened[] = {"accounts", "transfers", "messages", "events"};
    char fresh[512];
    fogpay_ledger *l = NULL;
    path_new(fresh, sizeof fresh, "fresh");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fresh, true, &l), FOGPAY_OK);
    fogpay_ledger_close(l);
    for (size_t i = 0; i < sizeof widened / sizeof widened[0]; i++) {
        char migrated[2048], created[2048];
        table_checks(path, widened[i], migrated, sizeof migrated);
        table_checks(fresh, widened[i], created, sizeof created);
        CU_ASSERT_PTR_NOT_NULL(strstr(created, "CHECK ("));
        CU_ASSERT_STRING_EQUAL(migrated, created);
    }
}

/* A version 5 ledger with payments and answered messages is migrated to
 * version 6 and takes what each product adds: a hold made and captured,
 * a payment split by a fee schedule, and an entity's payment; its chain
 * stays, it verifies, and its CHECKs are those of a created ledger. */
static void test_schema_migration_5_holds(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    static const uint8_t receipt[] = {0xa0};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_message_record(fx.l, "dev-a", 1, FOGPAY_RECEIPT_INTENT,
                                                       hash, FOGPAY_STATUS_SETTLED, 0, 2, receipt,
                                                       sizeof receipt, NOW_MS),
                          FOGPAY_OK);
    uint64_t head_before = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx.l, &head_before, head_hash), FOGPAY_OK);
    reopen_from_5(&fx);
    uint64_t head = 0;
    uint8_t after_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, after_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before);
    CU_ASSERT_EQUAL(memcmp(after_hash, head_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM messages"), 1);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 100);
    fogpay_intent in = intent_of("dev-a", 2, "dev-b", 0, 300, EUR);
    in.hold_s = 60;
    intent_hash_of("dev-a", 2, hash);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_settle(fx.l, &in, hash, NOW_MS, &t, NULL), FOGPAY_OK);
    fogpay_hold_actor operator_actor = {NULL, 0, NULL};
    fogpay_hold_result r;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, t.position, 200, &operator_actor, NOW_MS, &r),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 300);

    uint64_t fee_account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &fee_account),
                          FOGPAY_OK);
    fee_set(fx.l, "dev-b", fee_account, 300, NOW_MS - 1);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, "dev-b", 0, 100, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 1);
    CU_ASSERT_EQUAL(t.amount_minor, 97);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 3);
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_pay(fx.l, fx.entity_a, "dev-a", EUR, 2, NULL, NOW_MS + 1, &t, NULL),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_ENTITY_PAYMENT);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, head_before + 5);
    fogpay_ledger_close(fx.l);
    shaped_as_created(fx.path);
    checks_as_created(fx.path);
}

/* A version 5 ledger with transfers and events is migrated to version 6:
 * it verifies with its chains, the kinds of the products are taken (an
 * entity payment, kind 10; an entity login's event, without a device),
 * the new kinds' CHECK holds on the migrated file as on a created one,
 * and the file is shaped as a created one. */
static void test_schema_migration_5_to_6(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-b", EUR, 1000);
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &account),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-b", 1, NULL, account, 400, EUR, NOW_MS, NULL),
                          FOGPAY_OK);
    uint64_t events = event_head(fx.l);
    reopen_from_5(&fx);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 2);
    CU_ASSERT_EQUAL(event_head(fx.l), events);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_pay(fx.l, fx.entity_a, "dev-a", EUR, 150, NULL, NOW_MS + 1, &t, NULL),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_ENTITY_PAYMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "alpha", fx.entity_a, NULL, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), events + 1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM events WHERE device_id IS NULL"), 1);
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 3);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                      "'transfers' AND sql LIKE '%kind BETWEEN 0 AND 18)%'"),
                    1);
    /* Only an entity login's event is without a device. */
    CU_ASSERT_EQUAL(raw_exec(fx.path, "INSERT INTO events (position, kind, time_ms, record, hash) "
                                      "SELECT max(position) + 1, 1, 1, x'00', zeroblob(32) "
                                      "FROM events"),
                    SQLITE_CONSTRAINT);
    shaped_as_created(fx.path);
}

/* A version 5 ledger with transfers and events is migrated to version 6,
 * for fees: its chains stay and verify, and then a fee schedule (an event
 * without a device) and a payment of two legs are written and verify. */
static void test_schema_migration_5_fees(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    uint64_t events = event_head(fx.l);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES], hash_after[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    reopen_from_5(&fx);
    uint64_t head_after = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head_after, hash_after), FOGPAY_OK);
    CU_ASSERT(head_after == head && memcmp(hash, hash_after, FOGPAY_HASH_BYTES) == 0);
    CU_ASSERT_EQUAL(event_head(fx.l), events);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    uint64_t fee_account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &fee_account),
                          FOGPAY_OK);
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    f.currency = EUR;
    f.effective_ms = NOW_MS - 1;
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){fee_account, 500};
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), events + 1);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, "dev-b", 0, 200, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 1);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 10);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    shaped_as_created(fx.path);
}

/* A version 5 ledger with payments, a refund and recorded receipts is
 * migrated to 6: every transfer keeps its hash (verify passes, the head is
 * the same), receipts still come back, and a meter bound to a tariff is
 * charged with a transfer of kind 9, which version 5's CHECK refused. */
static void test_schema_migration_5_tariffs(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_transfer first;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 100, EUR, NOW_MS, &first),
                          FOGPAY_OK);
    fogpay_transfer refund;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_refund(fx.l, first.position, 40, NOW_MS + 1, &refund),
                          FOGPAY_OK);
    uint8_t hash[FOGPAY_HASH_BYTES], receipt[64];
    intent_hash_of("dev-a", 1, hash);
    memset(receipt, 0xa5, sizeof receipt);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_message_record(
                              fx.l, "dev-a", 1, FOGPAY_RECEIPT_INTENT, hash, FOGPAY_STATUS_SETTLED,
                              0, first.position, receipt, sizeof receipt, NOW_MS),
                          FOGPAY_OK);
    uint64_t head_before = 0;
    uint8_t chain_before[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx.l, &head_before, chain_before), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM sqlite_master WHERE sql LIKE "
                                      "'%kind BETWEEN 0 AND 4%'"),
                    1);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    uint64_t head = 0;
    uint8_t chain[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, chain), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before);
    CU_ASSERT_EQUAL(memcmp(chain, chain_before, sizeof chain), 0);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    uint8_t answer[FOGPAY_MESSAGE_MAX];
    size_t answer_len = 0;
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(fx.l, "dev-a", 1, hash, answer, sizeof answer, &answer_len),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(answer_len, sizeof receipt);
    fogpay_tariff t = {.tariff_id = "t",
                       .device_id = "dev-b",
                       .unit = "kWh",
                       .price_num = 2,
                       .price_den = 1,
                       .currency = EUR,
                       .effective_ms = NOW_MS};
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "t", 0, NULL, NOW_MS), FOGPAY_OK);
    fogpay_usage_settlement s;
    fogpay_usage u = usage_of("dev-a", 2, 10);
    intent_hash_of("dev-a", 2, hash);
    CU_ASSERT_EQUAL(fogpay_ledger_usage_settle(fx.l, &u, hash, NOW_MS, &s), FOGPAY_OK);
    u = usage_of("dev-a", 3, 15);
    intent_hash_of("dev-a", 3, hash);
    CU_ASSERT_EQUAL(fogpay_ledger_usage_settle(fx.l, &u, hash, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 10);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    shaped_as_created(fx.path);
}

/* A version 5 ledger gains the plans table and the plan event kinds: a
 * plan is defined and closed on it, the chains kept before. */
static void test_schema_migration_5_plans(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t events = event_head(fx.l);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_5), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "SELECT count(*) FROM plans"), SQLITE_OK);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), FOGPAY_LEDGER_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(event_head(fx.l), events);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "loan");
    snprintf(p.device_id, sizeof p.device_id, "dev-a");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", fx.entity_b);
    p.currency = EUR;
    p.principal_minor = 120000;
    p.rate_bp = 950;
    p.instalment_count = 12;
    p.period_ms = 30 * DAY_MS;
    p.effective_ms = NOW_MS;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "loan", NOW_MS + 1, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), events + 2);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM events WHERE kind IN (11, 12)"), 2);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    shaped_as_created(fx.path);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"open, create, reopen, refuse other files", test_open_create_reopen},
        {"another schema version is refused", test_schema_version_refused},
        {"a version 1 ledger is migrated", test_schema_migration},
        {"a version 2 ledger is migrated, events not backfilled", test_schema_migration_2_to_3},
        {"a version 3 ledger is migrated, its events kept", test_schema_migration_keys},
        {"a version 3 ledger is migrated: totals, records, receipts", test_schema_migration_hot},
        {"a version 5 ledger is migrated: a hold, a split, an entity payment, its CHECKs",
         test_schema_migration_5_holds},
        {"a version 5 ledger is migrated: entity logins, kinds 10", test_schema_migration_5_to_6},
        {"a version 5 ledger is migrated: fee tables, a fee schedule and its legs",
         test_schema_migration_5_fees},
        {"a version 5 ledger is migrated: hashes and receipts kept, tariffs",
         test_schema_migration_5_tariffs},
        {"a version 5 ledger is migrated: plans, plan events", test_schema_migration_5_plans},
    };
    return ledger_fixture_run("ledger_ledger_open", tests, sizeof tests / sizeof tests[0]);
}
