/*
 * test_journal.c - the agent's journal alone, on files in a temporary
 * directory: reopening keeps pending messages and the sequence, a torn last
 * record is cut off without reusing its number, damage before valid records
 * is refused, a full journal refuses new messages and keeps the old ones,
 * compaction keeps the chain link.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_journal.h"
#include "fogpay_hash.h"
#include "testutil.h"

static char dir[256];
static char journal_path[320];

static void fresh(void)
{
    if (dir[0]) {
        testutil_rmtree(dir);
    }
    testutil_tempdir(dir, sizeof dir);
    snprintf(journal_path, sizeof journal_path, "%s/journal", dir);
}

/* Reserves a number and journals a message of len bytes derived from it. */
static uint64_t add(fogpay_journal *j, size_t len)
{
    uint64_t seq = 0;
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_reserve(j, &seq), FOGPAY_OK);
    memset(msg, (int)(seq & 0xff), len);
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_append(j, seq, 0, msg, len), FOGPAY_OK);
    return seq;
}

static fogpay_journal *reopen(fogpay_journal *j)
{
    fogpay_journal_close(j);
    fogpay_journal *k = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &k), FOGPAY_OK);
    return k;
}

static void test_reopen_keeps_pending(void)
{
    fresh();
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), 1);
    CU_ASSERT_EQUAL(add(j, 100), 1);
    CU_ASSERT_EQUAL(add(j, 100), 2);
    CU_ASSERT_EQUAL(add(j, 100), 3);
    CU_ASSERT_EQUAL(fogpay_journal_complete(j, 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_complete(j, 2), FOGPAY_ERR_NOT_FOUND);
    j = reopen(j);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), 2);
    CU_ASSERT_EQUAL(fogpay_journal_at(j, 0)->seq, 1);
    CU_ASSERT_EQUAL(fogpay_journal_at(j, 1)->seq, 3);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), 4);
    uint8_t buf[FOGPAY_MESSAGE_MAX];
    CU_ASSERT_EQUAL(fogpay_journal_read(j, fogpay_journal_at(j, 1), buf, sizeof buf), FOGPAY_OK);
    CU_ASSERT_EQUAL(buf[0], 3);
    uint8_t expect[FOGPAY_HASH_BYTES], prev[FOGPAY_PREV_HASH_BYTES];
    fogpay_sha256(buf, 100, expect);
    fogpay_journal_prev_hash(j, prev);
    CU_ASSERT_EQUAL(memcmp(prev, expect, sizeof prev), 0);
    /* A number reserved but never journaled (a crash after signing) is
     * skipped, not reused. */
    uint64_t seq = 0;
    CU_ASSERT_EQUAL(fogpay_journal_reserve(j, &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 4);
    j = reopen(j);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), 5);
    fogpay_journal_close(j);
}

static void test_torn_tail(void)
{
    fresh();
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    add(j, 90);
    add(j, 90);
    fogpay_journal_close(j);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(journal_path, &st), 0);
    /* Cut in the middle of the second record, as a crash during its append. */
    CU_ASSERT_EQUAL_FATAL(truncate(journal_path, st.st_size - 40), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), 1);
    CU_ASSERT_EQUAL(fogpay_journal_at(j, 0)->seq, 1);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), 3); /* 2 was reserved: never again */
    CU_ASSERT_EQUAL(add(j, 90), 3);
    j = reopen(j);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), 2);
    fogpay_journal_close(j);
    /* Only the header of a record survived. */
    CU_ASSERT_EQUAL_FATAL(stat(journal_path, &st), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    add(j, 90);
    fogpay_journal_close(j);
    CU_ASSERT_EQUAL_FATAL(truncate(journal_path, st.st_size + 5), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), 2);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), 5);
    fogpay_journal_close(j);
}

static void test_damage_before_valid_records(void)
{
    fresh();
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    add(j, 60);
    add(j, 60);
    fogpay_journal_close(j);
    int fd = open(journal_path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t byte = 0x55;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, 30), 1); /* inside the first message */
    close(fd);
    CU_ASSERT_EQUAL(fogpay_journal_open(dir, &j), FOGPAY_ERR_STORAGE);
}

static void test_full(void)
{
    fresh();
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    for (int i = 0; i < FOGPAY_JOURNAL_ENTRIES_MAX; i++) {
        add(j, 120);
    }
    uint64_t seq = 0;
    CU_ASSERT_EQUAL(fogpay_journal_reserve(j, &seq), FOGPAY_ERR_JOURNAL_FULL);
    uint8_t msg[120] = {0};
    CU_ASSERT_EQUAL(fogpay_journal_append(j, 5000, 0, msg, sizeof msg), FOGPAY_ERR_JOURNAL_FULL);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), FOGPAY_JOURNAL_ENTRIES_MAX);
    j = reopen(j);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), FOGPAY_JOURNAL_ENTRIES_MAX);
    CU_ASSERT_EQUAL(fogpay_journal_reserve(j, &seq), FOGPAY_ERR_JOURNAL_FULL);
    CU_ASSERT_EQUAL(fogpay_journal_complete(j, 1), FOGPAY_OK);
    CU_ASSERT_EQUAL(add(j, 120), FOGPAY_JOURNAL_ENTRIES_MAX + 1);
    /* Answer everything: the file is compacted and the chain link kept. */
    uint8_t last[FOGPAY_PREV_HASH_BYTES], after[FOGPAY_PREV_HASH_BYTES];
    fogpay_journal_prev_hash(j, last);
    while (fogpay_journal_count(j) > 0) {
        CU_ASSERT_EQUAL_FATAL(fogpay_journal_complete(j, fogpay_journal_at(j, 0)->seq), FOGPAY_OK);
    }
    CU_ASSERT(fogpay_journal_size(j) <= FOGPAY_JOURNAL_COMPACT_BYTES);
    j = reopen(j);
    fogpay_journal_prev_hash(j, after);
    CU_ASSERT_EQUAL(memcmp(last, after, sizeof last), 0);
    CU_ASSERT_EQUAL(fogpay_journal_next_seq(j), FOGPAY_JOURNAL_ENTRIES_MAX + 2);
    CU_ASSERT_EQUAL(fogpay_journal_count(j), 0);
    fogpay_journal_close(j);
}

static void test_state_file(void)
{
    fresh();
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(dir, &j), FOGPAY_OK);
    uint8_t body[16] = "state-bytes", out[16];
    size_t len = 0;
    CU_ASSERT_EQUAL(fogpay_journal_file_load(j, "state", out, sizeof out, &len),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_journal_file_replace(j, "state", body, sizeof body), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_file_load(j, "state", out, sizeof out, &len), FOGPAY_OK);
    CU_ASSERT_EQUAL(len, sizeof body);
    CU_ASSERT_EQUAL(memcmp(out, body, sizeof body), 0);
    fogpay_journal_close(j);
    testutil_rmtree(dir);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("journal", NULL, NULL);
    CU_add_test(s, "reopen keeps pending messages and the sequence", test_reopen_keeps_pending);
    CU_add_test(s, "a torn tail is cut off, its number not reused", test_torn_tail);
    CU_add_test(s, "damage before valid records is refused", test_damage_before_valid_records);
    CU_add_test(s, "a full journal refuses new messages, keeps old", test_full);
    CU_add_test(s, "state files replace atomically and check", test_state_file);
    return testutil_run();
}
