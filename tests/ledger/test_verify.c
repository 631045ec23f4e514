/*
 * test_verify.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: verification against files tampered with through SQLite directly, in the
 * transfer chain and in the event chain.
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

int main(void)
{
    static const ledger_test tests[] = {
        {"verify finds each kind of tampering", test_verify_tampering},
        {"verify finds each kind of event tampering", test_verify_event_tampering},
    };
    return ledger_fixture_run("ledger_verify", tests, sizeof tests / sizeof tests[0]);
}
