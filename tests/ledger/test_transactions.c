/*
 * test_transactions.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: durability across close and reopen, transactions and savepoints, the bounded
 * rejection log and a busy database; the hot state following rolled-back savepoints and
 * transactions and another connection's commits; checkpoints left to the ledger's thread.
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

/* The hot state (ledger/ledger_hot.c). */

/* What the database holds of dev-a's EUR wallet, read past the ledger. */
static long raw_balance(const char *path, const char *device)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT balance FROM accounts WHERE kind = 'wallet' AND device_id = '%s' AND "
             "currency = 978",
             device);
    return raw_long(path, sql);
}

/* A settlement undone by a rolled-back savepoint or transaction leaves no
 * trace in memory: not in the day's total, the balances, the chain head,
 * the last answered seq. */
static void test_hot_state_rolls_back(void)
{
    fixture fx;
    fixture_open(&fx);
    limit_per_day(fx.l, "dev-a", 150);
    fund(fx.l, "dev-a", EUR, 1000);
    uint64_t head_before = 0;
    uint8_t hash_before[FOGPAY_HASH_BYTES], hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx.l, &head_before, hash_before), FOGPAY_OK);

    /* A savepoint rolled back inside a group that commits. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    uint8_t receipt[8] = {1, 2, 3, 4, 5, 6, 7, 8}, answer[16];
    size_t answer_len = 0;
    intent_hash_of("dev-a", 1, hash);
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(fx.l, "dev-a", 1, FOGPAY_RECEIPT_INTENT, hash,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_EXPIRED, 0,
                                                 receipt, sizeof receipt, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 900);
    fogpay_ledger_rollback_to(fx.l);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1000);
    CU_ASSERT_EQUAL(
        fogpay_ledger_message_lookup(fx.l, "dev-a", 1, hash, answer, sizeof answer, &answer_len),
        FOGPAY_ERR_NOT_FOUND);
    /* 100 again fits the limit of 150 only if the first 100 is gone. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 51), FOGPAY_ERR_LIMIT_PER_DAY);
    uint64_t head = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before + 1);

    /* A whole group rolled back. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 50), FOGPAY_OK);
    fund(fx.l, "dev-b", EUR, 5);
    fogpay_ledger_rollback(fx.l);
    uint8_t hash_after[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash_after), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, head_before + 1);
    CU_ASSERT_EQUAL(memcmp(hash_after, hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 900);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 100);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 50), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 3, "dev-b", 1), FOGPAY_ERR_LIMIT_PER_DAY);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), raw_balance(fx.path, "dev-a"));
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), raw_balance(fx.path, "dev-b"));
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* What another connection commits to the file (fogpayctl beside the
 * running gateway) is what this handle sees next: a suspension, funding, a
 * new limit. */
static void test_hot_state_sees_other_writers(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 100);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 10), FOGPAY_OK);
    fogpay_ledger *other = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &other), FOGPAY_OK);
    fund(other, "dev-a", EUR, 1000);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1090);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 2, "dev-b", 1000), FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(other, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 3, "dev-b", 1), FOGPAY_ERR_DEVICE_SUSPENDED);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_SUSPENDED);
    fogpay_device_limits limits = {5, 0, 0};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(other, "dev-b", &limits, NOW_MS + 2),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-b", 1, "dev-a", 6), FOGPAY_ERR_LIMIT_PER_PAYMENT);
    /* The other handle sees this one's payments too. */
    CU_ASSERT_EQUAL(pay(fx.l, "dev-b", 2, "dev-a", 5), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(other, "dev-b", EUR), 1005);
    uint64_t head = 0, other_head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES], other_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(other, &other_head, other_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, other_head);
    CU_ASSERT_EQUAL(memcmp(hash, other_hash, FOGPAY_HASH_BYTES), 0);
    fogpay_ledger_close(other);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* The checkpoint thread's length in frames (LEDGER_WAL_CHECKPOINT_FRAMES,
 * private to the ledger). */
#define LEDGER_TEST_WAL_FRAMES 8192

/* The writer's commits leave checkpoints to the ledger's own thread: once
 * the WAL passes its length, the thread checkpoints (waited for, not
 * timed), and the ledger stays whole. */
static void test_checkpoints_on_their_thread(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000000);
    CU_ASSERT_EQUAL(fogpay_ledger_checkpoints(fx.l), 0);
    /* Each committed payment writes a few pages to the WAL: pay until the
     * thread has checkpointed, up to well past its length. */
    uint64_t paid = 0;
    while (paid < 4 * LEDGER_TEST_WAL_FRAMES && fogpay_ledger_checkpoints(fx.l) == 0) {
        CU_ASSERT_EQUAL_FATAL(pay(fx.l, "dev-a", ++paid, "dev-b", 1), FOGPAY_OK);
        for (int i = 0; paid % 1000 == 0 && i < 50 && fogpay_ledger_checkpoints(fx.l) == 0; i++) {
            usleep(20 * 1000);
        }
    }
    CU_ASSERT(fogpay_ledger_checkpoints(fx.l) >= 1);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, paid + 1);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_checkpoints(NULL), 0);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"durable across close and reopen", test_durability},
        {"transactions and savepoints", test_transactions_savepoints},
        {"rejection log is bounded", test_rejection_log_bound},
        {"a busy database is reported, readers go on", test_busy},
        {"the hot state follows rolled-back savepoints and transactions",
         test_hot_state_rolls_back},
        {"the hot state sees another connection's commits", test_hot_state_sees_other_writers},
        {"checkpoints run on the ledger's own thread", test_checkpoints_on_their_thread},
    };
    return ledger_fixture_run("ledger_transactions", tests, sizeof tests / sizeof tests[0]);
}
