/*
 * test_fees.c - fees and splits in the ledger: the split's arithmetic over
 * random amounts and basis points, fee schedules set and refused, payments
 * settled as one transfer of several legs, their records, balances,
 * listing and verification, and every refusal moving no money; usage
 * charges and captures split like payments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <sqlite3.h>

#include "ledger_fixture.h"

/* The account of entity in currency, created when it has none. */
static uint64_t account_of(fogpay_ledger *l, const char *entity, uint16_t currency)
{
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, entity, currency, &account), FOGPAY_OK);
    return account;
}

/* A schedule for payee (a device, or "" for the default) in EUR. */
static fogpay_fee_schedule schedule_of(const char *payee_device, uint64_t effective_ms)
{
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    snprintf(f.payee_device, sizeof f.payee_device, "%s", payee_device);
    f.currency = EUR;
    f.effective_ms = effective_ms;
    return f;
}

/* Every split sums to the amount; each fee leg is floor(amount * bp /
 * 10000), the payee's floor(amount * (10000 - sum) / 10000), and only the
 * named leg holds more, by less than the number of legs. */
static void test_split_property(void)
{
    srand(13);
    for (int round = 0; round < 200000; round++) {
        fogpay_fee_leg legs[FOGPAY_LEGS_MAX - 1];
        size_t count = (size_t)rand() % FOGPAY_LEGS_MAX;
        uint64_t room = FOGPAY_BASIS_POINTS - 1;
        for (size_t i = 0; i < count; i++) {
            uint64_t bp = room > count ? 1 + (uint64_t)rand() % (room / count) : 1;
            legs[i] = (fogpay_fee_leg){(uint64_t)i + 1, bp};
            room -= bp;
        }
        uint64_t amount = round % 3 == 0 ? 1 + (uint64_t)rand() % 100
                                         : 1 + ((uint64_t)rand() << 20 ^ (uint64_t)rand()) %
                                                   FOGPAY_AMOUNT_MAX_MINOR;
        uint8_t remainder = (uint8_t)((size_t)rand() % (count + 1));
        uint64_t amounts[FOGPAY_LEGS_MAX];
        CU_ASSERT_EQUAL_FATAL(fogpay_fee_split(amount, legs, count, remainder, amounts), FOGPAY_OK);
        uint64_t fee_bp = 0;
        uint64_t sum = 0;
        for (size_t i = 0; i < count; i++) {
            fee_bp += legs[i].basis_points;
        }
        for (size_t i = 0; i <= count; i++) {
            uint64_t bp = i == 0 ? FOGPAY_BASIS_POINTS - fee_bp : legs[i - 1].basis_points;
            uint64_t floor = amount * bp / FOGPAY_BASIS_POINTS;
            if (i == remainder) {
                CU_ASSERT(amounts[i] >= floor && amounts[i] - floor < count + 1);
            } else {
                CU_ASSERT_EQUAL(amounts[i], floor);
            }
            sum += amounts[i];
        }
        CU_ASSERT_EQUAL(sum, amount);
    }
}

/* The split's refusals, each with its own code. */
static void test_split_refusals(void)
{
    uint64_t amounts[FOGPAY_LEGS_MAX];
    fogpay_fee_leg legs[FOGPAY_LEGS_MAX] = {{1, 300}, {2, 9700}, {3, 1}, {4, 1}, {5, 1}, {6, 1}};
    CU_ASSERT_EQUAL(fogpay_fee_split(100, legs, 2, 0, amounts), FOGPAY_ERR_FEE_OVER_TOTAL);
    CU_ASSERT_EQUAL(fogpay_fee_split(100, legs, FOGPAY_LEGS_MAX, 0, amounts),
                    FOGPAY_ERR_FEE_LEGS_TOO_MANY);
    CU_ASSERT_EQUAL(fogpay_fee_split(100, legs, 1, 2, amounts), FOGPAY_ERR_FEE_REMAINDER_LEG);
    legs[0].basis_points = 0;
    CU_ASSERT_EQUAL(fogpay_fee_split(100, legs, 1, 0, amounts), FOGPAY_ERR_FEE_LEG_ZERO);
    legs[0].basis_points = 300;
    CU_ASSERT_EQUAL(fogpay_fee_split(0, legs, 1, 0, amounts), FOGPAY_ERR_AMOUNT_ZERO);
    CU_ASSERT_EQUAL(fogpay_fee_split(1001, legs, 1, 1, amounts), FOGPAY_OK);
    CU_ASSERT_EQUAL(amounts[0], 970);
    CU_ASSERT_EQUAL(amounts[1], 31); /* 30.03 rounded down, and the remainder 1 */
}

/* A payment to a payee with a 3% schedule to an entity account settles as
 * one position of two legs; balances, record, listing and verify agree. */
static void test_payment_with_fee(void)
{
    fixture fx;
    fixture_open(&fx);
    char platform[FOGPAY_ENTITY_ID_MAX + 1];
    entity_new(fx.l, "Platform Operator SE", platform);
    uint64_t platform_account = account_of(fx.l, platform, EUR);
    fogpay_fee_schedule f = schedule_of("dev-b", NOW_MS - 1000);
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){platform_account, 300};
    uint64_t before = event_head(fx.l);
    uint64_t event_position = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS - 500, &event_position),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(event_position, before + 1);
    fogpay_event e;
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, event_position, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_FEE_SCHEDULE);
    CU_ASSERT_EQUAL(e.fee_legs[0].basis_points, 300);

    fund(fx.l, "dev-a", EUR, 5000);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 3001, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 1);
    CU_ASSERT_EQUAL(t.amount_minor, 2911); /* floor(3001 * 0.97) */
    CU_ASSERT_EQUAL(t.legs[0].credit_account, platform_account);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 90);
    CU_ASSERT_EQUAL(fogpay_transfer_total(&t), 3001);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 3001);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 2911);
    int64_t fee_balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, platform_account, &fee_balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(fee_balance, 90);

    /* Read back from the database, the legs are the record's. */
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    fogpay_transfer back;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, t.position, &back, hash), FOGPAY_OK);
    uint8_t mine[FOGPAY_RECORD_BYTES_MAX], stored[FOGPAY_RECORD_BYTES_MAX];
    size_t mine_len = 0, stored_len = 0;
    CU_ASSERT_EQUAL(fogpay_transfer_encode(&t, mine, sizeof mine, &mine_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_transfer_encode(&back, stored, sizeof stored, &stored_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(back.leg_count, 1);
    CU_ASSERT(mine_len == stored_len && memcmp(mine, stored, mine_len) == 0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM transfer_legs"), 1);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);

    /* Another payee, no schedule: one leg. */
    fund(fx.l, "dev-b", EUR, 10);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, "dev-a", 0, 100, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 0);

    /* An edited leg breaks the chain at its position. */
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_exec(fx.path, "DROP TRIGGER transfer_legs_no_update; "
                                      "UPDATE transfer_legs SET amount_minor = 91"),
                    SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    uint64_t bad = 0;
    CU_ASSERT_EQUAL(verify(fx.l, NULL, &bad, NULL, 0), FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_EQUAL(bad, 2);
    fogpay_ledger_close(fx.l);
}

/* A transfer list by the fee account's entity finds the fee. */
static int count_visit(void *ctx, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)t;
    (void)hash;
    (*(int *)ctx)++;
    return 0;
}

/* The default schedule applies to every payee without its own; the
 * remainder goes to the named fee leg; a schedule without legs exempts. */
static void test_default_and_remainder(void)
{
    fixture fx;
    fixture_open(&fx);
    char platform[FOGPAY_ENTITY_ID_MAX + 1];
    entity_new(fx.l, "Platform Operator SE", platform);
    uint64_t platform_account = account_of(fx.l, platform, EUR);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    fogpay_fee_schedule f = schedule_of("", NOW_MS - 1000);
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){platform_account, 250};
    f.remainder_leg = 1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS - 500, NULL), FOGPAY_OK);
    fogpay_fee_schedule exempt = schedule_of("dev-c", NOW_MS - 1000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &exempt, NOW_MS - 500, NULL),
                          FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 99, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.amount_minor, 96);        /* floor(99 * 0.975) */
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 3); /* floor(2.475) and the remainder 1 */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, "dev-c", 0, 99, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 0);
    /* One minor unit: the payee's leg is zero and left out. */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, "dev-b", 0, 1, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.leg_count, 0);
    CU_ASSERT_EQUAL(t.credit_account, platform_account);
    fogpay_transfer_filter by_platform = {.entity_id = platform};
    int listed = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, &by_platform, count_visit, &listed),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(listed, 1); /* the fee of seq 1; seq 3 credits it but names dev-b's holder */
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* The schedule in force at a payment's time is the payee's latest one in
 * effect then, among schedules of other payees, currencies and times. */
static void test_schedule_in_force(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t fee_account = account_of(fx.l, fx.entity_a, EUR);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    static const struct {
        const char *payee;
        uint16_t currency;
        int64_t offset_ms;
        uint64_t bp;
    } set[] = {
        {"", EUR, -5000, 900},      {"dev-b", EUR, -3000, 100}, {"dev-c", EUR, -3000, 700},
        {"dev-b", USD, -3000, 800}, {"dev-b", EUR, -3000, 150}, {"dev-b", EUR, 2000, 200},
    };
    uint64_t usd_account = account_of(fx.l, fx.entity_a, USD);
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        fogpay_fee_schedule f = schedule_of(set[i].payee, NOW_MS + (uint64_t)set[i].offset_ms);
        f.currency = set[i].currency;
        f.leg_count = 1;
        f.legs[0] = (fogpay_fee_leg){set[i].currency == EUR ? fee_account : usd_account, set[i].bp};
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS - 6000, NULL),
                              FOGPAY_OK);
    }
    fund(fx.l, "dev-a", EUR, 100000);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 10000, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 150); /* the later of two at the same time */
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 2, "dev-b", 0, 10000, EUR, NOW_MS + 2000, &t),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 200);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 3, "dev-c", 0, 10000, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 700);
    uint64_t entity_b_account = account_of(fx.l, fx.entity_b, EUR);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 4, "", entity_b_account, 10000, EUR, NOW_MS, &t),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, 900); /* an entity payee without its own */
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A refund of a payment of several legs returns its first leg, the
 * payee's, at most; the fees stay. */
static void test_refund_of_legs(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t fee_account = account_of(fx.l, fx.entity_a, EUR);
    fogpay_fee_schedule f = schedule_of("dev-b", NOW_MS - 1);
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){fee_account, 300};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 1000, EUR, NOW_MS, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.amount_minor, 970);
    fogpay_transfer r;
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, t.position, 971, NOW_MS, &r),
                    FOGPAY_ERR_AMOUNT_TOO_LARGE);
    CU_ASSERT_EQUAL(fogpay_ledger_refund(fx.l, t.position, 970, NOW_MS, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL(r.kind, FOGPAY_TRANSFER_REVERSAL);
    CU_ASSERT_EQUAL(r.leg_count, 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 970);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 0);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Schedules refused when set, each with its code, and nothing written. */
static void test_schedule_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t wallet_a = 0;
    uint64_t wallet_b = 0;
    uint64_t usd = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-b", EUR, &wallet_b), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-a", USD, &usd), FOGPAY_OK);
    device_new(fx.l, "dev-r", fx.entity_a, NULL);
    uint64_t revoked = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-r", EUR, &revoked), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_set_status(fx.l, "dev-r", FOGPAY_DEVICE_REVOKED, NOW_MS), FOGPAY_OK);
    uint64_t events = event_head(fx.l);
    struct {
        uint64_t account;
        uint64_t bp;
        const char *payee;
        fogpay_error expected;
    } cases[] = {
        {999, 300, "dev-b", FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN},
        {usd, 300, "dev-b", FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN},
        {revoked, 300, "dev-b", FOGPAY_ERR_FEE_ACCOUNT_CLOSED},
        {wallet_b, 300, "dev-b", FOGPAY_ERR_FEE_LEG_PAYEE},
        {wallet_a, 10000, "dev-b", FOGPAY_ERR_FEE_OVER_TOTAL},
        {wallet_a, 0, "dev-b", FOGPAY_ERR_FEE_LEG_ZERO},
        {wallet_a, 300, "nobody", FOGPAY_ERR_UNKNOWN_PAYEE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fogpay_fee_schedule f = schedule_of(cases[i].payee, NOW_MS);
        f.leg_count = 1;
        f.legs[0] = (fogpay_fee_leg){cases[i].account, cases[i].bp};
        CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL), cases[i].expected);
    }
    fogpay_fee_schedule f = schedule_of("dev-b", NOW_MS);
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){wallet_a, 300};
    f.remainder_leg = 2;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL),
                    FOGPAY_ERR_FEE_REMAINDER_LEG);
    f.remainder_leg = 0;
    f.leg_count = FOGPAY_LEGS_MAX;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL),
                    FOGPAY_ERR_FEE_LEGS_TOO_MANY);
    CU_ASSERT_EQUAL(event_head(fx.l), events);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM fee_schedules"), 0);
    f.leg_count = 1;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL), FOGPAY_OK);
    f.effective_ms = NOW_MS - 1;
    CU_ASSERT_EQUAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS, NULL),
                    FOGPAY_ERR_FEE_NOT_IN_ORDER);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM fee_schedules"), 1);
    fogpay_ledger_close(fx.l);
}

/* Payments refused for their schedule: the fee wallet's device revoked
 * since, the payer a fee account, a fee wallet at its maximum; no money
 * moves, and the payment goes through once the schedule is mended. */
static void test_payment_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_device_limits small = {0, 0, 50};
    device_new(fx.l, "dev-f", fx.entity_a, &small);
    uint64_t fee_wallet = 0;
    uint64_t wallet_a = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-f", EUR, &fee_wallet), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &wallet_a), FOGPAY_OK);
    fogpay_fee_schedule f = schedule_of("dev-b", NOW_MS - 10);
    f.leg_count = 2;
    f.legs[0] = (fogpay_fee_leg){fee_wallet, 1000};
    f.legs[1] = (fogpay_fee_leg){wallet_a, 100};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx.l, &f, NOW_MS - 10, NULL), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 10000);
    device_new(fx.l, "dev-p", fx.entity_b, NULL);
    fund(fx.l, "dev-p", EUR, 10000);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_ERR_FEE_LEG_PAYER);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-p", 1, "dev-b", 1000), FOGPAY_ERR_FEE_WALLET_MAX);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(pay(fx.l, "dev-p", 2, "dev-b", 400), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-f", EUR), 40);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "dev-f", FOGPAY_DEVICE_REVOKED, NOW_MS),
                    FOGPAY_OK);
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-p", 3, "dev-b", 10), FOGPAY_ERR_FEE_ACCOUNT_CLOSED);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* dev-b's schedule of 3% to a platform's entity account, set before
 * NOW_MS; the platform's account. */
static uint64_t platform_fee(fixture *fx)
{
    char platform[FOGPAY_ENTITY_ID_MAX + 1];
    entity_new(fx->l, "Platform Operator SE", platform);
    uint64_t account = account_of(fx->l, platform, EUR);
    fogpay_fee_schedule f = schedule_of("dev-b", NOW_MS - 1000);
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){account, 300};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(fx->l, &f, NOW_MS - 500, NULL), FOGPAY_OK);
    return account;
}

/* The one transfer at position: of kind, total across its legs, the
 * platform's fee leg of fee to account. */
static void assert_split(fixture *fx, uint64_t position, uint8_t kind, uint64_t total,
                         uint64_t account, uint64_t fee)
{
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx->l, position, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, kind);
    CU_ASSERT_EQUAL(t.leg_count, 1);
    CU_ASSERT_EQUAL(t.legs[0].credit_account, account);
    CU_ASSERT_EQUAL(t.legs[0].amount_minor, fee);
    CU_ASSERT_EQUAL(t.amount_minor, total - fee);
    CU_ASSERT_EQUAL(fogpay_transfer_total(&t), total);
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx->l, account, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, (int64_t)fee);
    CU_ASSERT_EQUAL(balance_of(fx->l, "dev-b", EUR), (int64_t)(total - fee));
    CU_ASSERT_EQUAL(verify(fx->l, NULL, NULL, NULL, 0), FOGPAY_OK);
}

/* A usage charge (kind 9) to a payee with a schedule is split like a
 * payment: 30 kWh at 0.3917 EUR is 11.75, of which 0.35 to the platform. */
static void test_usage_charge_with_fee(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t platform = platform_fee(&fx);
    fund(fx.l, "dev-a", EUR, 10000);
    fogpay_tariff tariff;
    memset(&tariff, 0, sizeof tariff);
    snprintf(tariff.tariff_id, sizeof tariff.tariff_id, "ev");
    snprintf(tariff.device_id, sizeof tariff.device_id, "dev-b");
    snprintf(tariff.unit, sizeof tariff.unit, "kWh");
    tariff.price_num = 3917;
    tariff.price_den = 100000;
    tariff.currency = EUR;
    tariff.effective_ms = NOW_MS - 1000;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_tariff_define(fx.l, &tariff, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "ev", 0, NULL, NOW_MS),
                          FOGPAY_OK);
    fogpay_usage_settlement s;
    uint8_t hash[FOGPAY_HASH_BYTES];
    for (uint64_t seq = 1; seq <= 2; seq++) {
        fogpay_usage u = usage_of("dev-a", seq, 100000 + (seq - 1) * 30000);
        intent_hash_of("dev-a", seq, hash);
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_usage_settle(fx.l, &u, hash, NOW_MS, &s), FOGPAY_OK);
    }
    CU_ASSERT_EQUAL(s.charge_minor, 1175);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 10000 - 1175);
    assert_split(&fx, s.transfer.position, FOGPAY_TRANSFER_USAGE_CHARGE, 1175, platform,
                 1175 * 300 / 10000);
    fogpay_ledger_close(fx.l);
}

/* A capture (kind 6) to a payee with a schedule is split like a payment:
 * 11.75 of a hold of 30.00, 0.35 of it to the platform; the authorisation
 * and the release of the rest are the payer's own money and carry no fee. */
static void test_capture_with_fee(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t platform = platform_fee(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    fogpay_intent in = intent_of("dev-a", 1, "dev-b", 0, 3000, EUR);
    in.hold_s = 600;
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_settle(fx.l, &in, hash, NOW_MS, &t, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_AUTHORISATION);
    CU_ASSERT_EQUAL(t.leg_count, 0);
    const fogpay_hold_actor by_operator = {NULL, 0, NULL};
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_hold_capture(fx.l, t.position, 1175, &by_operator, NOW_MS + 1000, &r),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(r.release.kind, FOGPAY_TRANSFER_RELEASE);
    CU_ASSERT_EQUAL(r.release.leg_count, 0);
    CU_ASSERT_EQUAL(r.release.amount_minor, 3000 - 1175);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 1175);
    assert_split(&fx, r.transfer.position, FOGPAY_TRANSFER_CAPTURE, 1175, platform,
                 1175 * 300 / 10000);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"the split sums exactly, remainder where stated", test_split_property},
        {"the split's refusals", test_split_refusals},
        {"a payment with a fee is one position of two legs", test_payment_with_fee},
        {"the default schedule, the remainder leg, an exemption", test_default_and_remainder},
        {"the schedule in force at the payment's time", test_schedule_in_force},
        {"a refund of a payment of several legs", test_refund_of_legs},
        {"fee schedules refused when set", test_schedule_refusals},
        {"payments refused for their schedule move nothing", test_payment_refusals},
        {"a usage charge is split by the payee's schedule", test_usage_charge_with_fee},
        {"a capture is split by the payee's schedule, its release is not", test_capture_with_fee},
    };
    return ledger_fixture_run("ledger_fees", tests, sizeof tests / sizeof tests[0]);
}
