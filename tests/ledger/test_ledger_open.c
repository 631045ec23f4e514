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
    "ALTER TABLE events_v3 RENAME TO events;"
    "CREATE INDEX events_device ON events (device_id);"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;"
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;"
    "CREATE TRIGGER events_next_position BEFORE INSERT ON events"
    " WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)"
    " BEGIN SELECT RAISE(ABORT, 'an event takes the next chain position'); END;"
    "PRAGMA user_version = 3;";

/* A version 3 ledger with events is migrated to version 4: the events and
 * their hashes stay (verify passes), the key events can be appended, and a
 * retired key's overlap window can be ended early. */
static void test_schema_migration_3_to_4(void)
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
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, schema_down_to_3), SQLITE_OK);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), 4);
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
    CU_ASSERT_EQUAL(raw_exec(path,
                             "DROP TABLE gateway_keys; DROP TABLE events; DROP TABLE sync_state; "
                             "PRAGMA user_version = 1"),
                    SQLITE_OK);
    l = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(path, false, &l), FOGPAY_OK);
    CU_ASSERT_EQUAL(raw_long(path, "PRAGMA user_version"), 4);
    CU_ASSERT_EQUAL(FOGPAY_LEDGER_SCHEMA_VERSION, 4);
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
    CU_ASSERT_EQUAL(raw_long(fx.path, "PRAGMA user_version"), 4);
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

int main(void)
{
    static const ledger_test tests[] = {
        {"open, create, reopen, refuse other files", test_open_create_reopen},
        {"another schema version is refused", test_schema_version_refused},
        {"a version 1 ledger is migrated", test_schema_migration},
        {"a version 2 ledger is migrated, events not backfilled", test_schema_migration_2_to_3},
        {"a version 3 ledger is migrated, its events kept", test_schema_migration_3_to_4},
    };
    return ledger_fixture_run("ledger_ledger_open", tests, sizeof tests / sizeof tests[0]);
}
