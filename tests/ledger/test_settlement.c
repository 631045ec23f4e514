/*
 * test_settlement.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: money: funding, settlement and each of its refusals, daily limits, device
 * messages and usage, ownership over time, refunds.
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

/* Records a refused message of dev-a at seq with hash, as the plugin does
 * for an authentic refusal. */
static void record_refusal(fogpay_ledger *l, uint64_t seq, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    static const uint8_t receipt[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x58, 0x20};
    CU_ASSERT_EQUAL(fogpay_ledger_message_record(l, "dev-a", seq, FOGPAY_RECEIPT_INTENT, hash,
                                                 FOGPAY_STATUS_REJECTED, FOGPAY_ERR_UNKNOWN_PAYEE,
                                                 0, receipt, sizeof receipt, NOW_MS),
                    FOGPAY_OK);
}

/* The device chain: each message links to the recorded one just below its
 * seq; a second continuation is a fork; a missing predecessor is a gap. */
static void test_device_chain(void)
{
    fixture fx;
    fixture_open(&fx);
    static const uint8_t zero[FOGPAY_PREV_HASH_BYTES];
    uint8_t h1[FOGPAY_HASH_BYTES], h1000[FOGPAY_HASH_BYTES], other[FOGPAY_PREV_HASH_BYTES];
    intent_hash_of("dev-a", 1, h1);
    intent_hash_of("dev-a", 1000, h1000);
    memset(other, 0xaa, sizeof other);
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_message_head(fx.l, "dev-a", &head, head_hash),
                    FOGPAY_ERR_NOT_FOUND);
    /* The first message links to zeros; anything else has a gap before it. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1, other), FOGPAY_ERR_CHAIN_GAP);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1, zero), FOGPAY_OK);
    record_refusal(fx.l, 1, h1);
    /* Seqs may skip; the link may not. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1000, zero), FOGPAY_ERR_CHAIN_GAP);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1000, h1), FOGPAY_OK);
    record_refusal(fx.l, 1000, h1000);
    CU_ASSERT_EQUAL(fogpay_ledger_message_head(fx.l, "dev-a", &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 1000);
    CU_ASSERT(memcmp(head_hash, h1000, sizeof h1000) == 0);
    /* 1, 1000, then 2 or 1000 again continuing from 1: a fork. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 2, h1), FOGPAY_ERR_CHAIN_FORK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1000, h1), FOGPAY_ERR_CHAIN_FORK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1, zero), FOGPAY_ERR_CHAIN_FORK);
    /* Below the head without a link: a stale seq. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 999, other), FOGPAY_ERR_SEQ_CONFLICT);
    /* After the head: linked to it, or a gap. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1001, h1000), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 1001, h1), FOGPAY_ERR_CHAIN_GAP);
    /* Another device's chain is its own. */
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-b", 2, zero), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_message_link(fx.l, "dev-a", 0, zero), FOGPAY_ERR_FIELD_RANGE);
    /* A fork suspends the device with the reason in its status event. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_suspend_for(fx.l, "dev-a", FOGPAY_ERR_CHAIN_FORK, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_suspend_for(fx.l, "dev-a", FOGPAY_ERR_STORAGE, NOW_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_SUSPENDED);
    uint64_t position = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_event e;
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &position, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, position, &e, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(e.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(e.reason, FOGPAY_ERR_CHAIN_FORK);
    fogpay_ledger_close(fx.l);
}

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

int main(void)
{
    static const ledger_test tests[] = {
        {"funding from the system account", test_fund},
        {"settle device to device and to an account", test_settle_device_to_device},
        {"every settlement refusal moves no money", test_settle_refusals},
        {"per-day limit across payments and days", test_daily_limit},
        {"message lookup, record, duplicate, conflict; usage", test_messages},
        {"the device chain: link, gap, fork, stale seq; a fork suspends", test_device_chain},
        {"ownership over time and attribution", test_ownership},
        {"refund partial, full, reversal, refused", test_refund},
    };
    return ledger_fixture_run("ledger_settlement", tests, sizeof tests / sizeof tests[0]);
}
