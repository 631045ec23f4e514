/*
 * test_holds.c - holds in the gateway's ledger (ledger/ledger_hold.c) on
 * SQLite files: an authorisation moves the amount into the holds
 * account, a capture in part pays the payee and releases the rest, a void
 * releases it all, the tick's expiry releases what is due; a capture to a
 * payee with a fee schedule is split into legs as a payment; every refusal
 * has its own reason and moves no money; a rolled-back savepoint restores
 * the hot state of the holds; verify checks the holds account.
 *
 * Shared setup in ledger_fixture.h: each test opens a ledger file of its
 * own.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_fixture.h"

#define HOLD_S 600

/* dev-a authorises amount to dev-b at NOW_MS, held HOLD_S; the hold id. */
static uint64_t authorise(fixture *fx, uint64_t seq, uint64_t amount)
{
    fogpay_intent in = intent_of("dev-a", seq, "dev-b", 0, amount, EUR);
    in.hold_s = HOLD_S;
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", seq, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_settle(fx->l, &in, hash, NOW_MS, &t, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_AUTHORISATION);
    CU_ASSERT_EQUAL(balance, balance_of(fx->l, "dev-a", EUR));
    return t.position;
}

static uint64_t held_of(fixture *fx, const char *device)
{
    uint64_t held = 99;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_held(fx->l, device, EUR, &held), FOGPAY_OK);
    return held;
}

static void assert_verifies(fixture *fx)
{
    char problem[256] = "";
    fogpay_error err = verify(fx->l, NULL, NULL, problem, sizeof problem);
    if (err != FOGPAY_OK) {
        printf("\n  verify: %s\n", problem);
    }
    CU_ASSERT_EQUAL(err, FOGPAY_OK);
}

static const fogpay_hold_actor operator_actor = {NULL, 0, NULL};

static fogpay_hold_actor device_actor(const char *device, uint64_t seq, uint8_t *hash)
{
    intent_hash_of(device, seq, hash);
    return (fogpay_hold_actor){device, seq, hash};
}

static void test_capture_in_part(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    uint64_t id = authorise(&fx, 1, 3000);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 2000);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 3000);
    fogpay_hold h;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_get(fx.l, id, &h), FOGPAY_OK);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_OPEN);
    CU_ASSERT_STRING_EQUAL(h.payee_device, "dev-b");
    CU_ASSERT_EQUAL(h.expires_ms, NOW_MS + HOLD_S * 1000);
    assert_verifies(&fx);

    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_hold_actor b = device_actor("dev-b", 1, hash);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_capture(fx.l, id, 1234, &b, NOW_MS + 1000, &r),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_CAPTURE);
    CU_ASSERT_EQUAL(r.transfer.related_position, id);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 1234);
    CU_ASSERT_STRING_EQUAL(r.transfer.device_id, "dev-b");
    CU_ASSERT_EQUAL(r.release.kind, FOGPAY_TRANSFER_RELEASE);
    CU_ASSERT_EQUAL(r.release.amount_minor, 3000 - 1234);
    CU_ASSERT_EQUAL(r.release.related_position, id);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 1234);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 1234);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_get(fx.l, id, &h), FOGPAY_OK);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_CAPTURED);
    CU_ASSERT_EQUAL(h.captured_minor, 1234);
    CU_ASSERT_EQUAL(h.resolved_position, r.transfer.position);
    assert_verifies(&fx);

    /* A second capture, and a void after the capture. */
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 10, &operator_actor, NOW_MS + 2000, &r),
                    FOGPAY_ERR_HOLD_CAPTURED);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, id, &operator_actor, NOW_MS + 2000, &r),
                    FOGPAY_ERR_HOLD_CAPTURED);
    CU_ASSERT(snapshot_same(&fx, &before));
    fogpay_ledger_close(fx.l);
}

/* A capture to a payee with a fee schedule of 3% is split as a payment
 * is: the authorisation holds the whole amount in one leg, the capture
 * pays the payee floor(2501 * 9700 / 10000) and the remainder's unit, the
 * fee leg floor(2501 * 300 / 10000), both from the holds account, and the
 * rest goes back to the payer unsplit. */
static void test_capture_with_fees(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t fee_account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &fee_account),
                          FOGPAY_OK);
    fee_set(fx.l, "dev-b", fee_account, 300, NOW_MS - 1);
    fund(fx.l, "dev-a", EUR, 5000);
    uint64_t id = authorise(&fx, 1, 3001);
    fogpay_transfer auth;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, id, &auth, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(auth.leg_count, 0);
    CU_ASSERT_EQUAL(auth.amount_minor, 3001);

    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_hold_actor b = device_actor("dev-b", 1, hash);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_capture(fx.l, id, 2501, &b, NOW_MS + 1000, &r),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_CAPTURE);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 2426);
    CU_ASSERT_EQUAL_FATAL(r.transfer.leg_count, 1);
    CU_ASSERT_EQUAL(r.transfer.legs[0].debit_account, r.transfer.debit_account);
    CU_ASSERT_EQUAL(r.transfer.legs[0].credit_account, fee_account);
    CU_ASSERT_EQUAL(r.transfer.legs[0].amount_minor, 75);
    CU_ASSERT_EQUAL(fogpay_transfer_total(&r.transfer), 2501);
    CU_ASSERT_EQUAL(r.release.amount_minor, 500);
    CU_ASSERT_EQUAL(r.release.leg_count, 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 2501);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 2426);
    int64_t fees = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, fee_account, &fees), FOGPAY_OK);
    CU_ASSERT_EQUAL(fees, 75);
    fogpay_transfer stored;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, r.transfer.position, &stored, NULL),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(stored.leg_count, 1);
    CU_ASSERT_EQUAL(stored.legs[0].amount_minor, 75);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

static void test_void_and_expiry(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    uint64_t voided = authorise(&fx, 1, 1000);
    uint64_t expiring = authorise(&fx, 2, 700);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 1700);
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_hold_actor a = device_actor("dev-a", 3, hash);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_void(fx.l, voided, &a, NOW_MS + 1, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_RELEASE);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 1000);
    CU_ASSERT_EQUAL(r.release.position, 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 4300);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 700);

    size_t expired = 9;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_expire(fx.l, NOW_MS + HOLD_S * 1000 - 1, 16, &expired),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(expired, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_expire(fx.l, NOW_MS + HOLD_S * 1000, 16, &expired),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(expired, 1);
    fogpay_hold h;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_get(fx.l, expiring, &h), FOGPAY_OK);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_EXPIRED);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, h.resolved_position, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_EXPIRY);
    CU_ASSERT_EQUAL(t.related_position, expiring);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 0);
    assert_verifies(&fx);

    /* Reopened: the hot state reloads from the file and agrees. */
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_expire(fx.l, NOW_MS + 10 * HOLD_S * 1000, 16, &expired),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(expired, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, voided, &operator_actor, NOW_MS + 2, &r),
                    FOGPAY_ERR_HOLD_VOIDED);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, expiring, 1, &operator_actor, NOW_MS + 2, &r),
                    FOGPAY_ERR_HOLD_EXPIRED);
    fogpay_ledger_close(fx.l);
}

/* Every refusal, each with its reason, moves nothing. */
static void test_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    fund(fx.l, "dev-a", EUR, 5000);
    uint64_t id = authorise(&fx, 1, 1000);
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_hold_actor a = device_actor("dev-a", 2, hash);
    fogpay_hold_actor c = device_actor("dev-c", 1, hash);
    fogpay_hold_result r;
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id + 100, 1, &operator_actor, NOW_MS, &r),
                    FOGPAY_ERR_HOLD_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, 1, &operator_actor, NOW_MS, &r),
                    FOGPAY_ERR_HOLD_UNKNOWN); /* position 1 is the funding, not a hold */
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 1001, &operator_actor, NOW_MS, &r),
                    FOGPAY_ERR_HOLD_OVER_AMOUNT);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 0, &operator_actor, NOW_MS, &r),
                    FOGPAY_ERR_AMOUNT_ZERO);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 10, &a, NOW_MS, &r),
                    FOGPAY_ERR_HOLD_PAYER_CAPTURE);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 10, &c, NOW_MS, &r),
                    FOGPAY_ERR_HOLD_NOT_PARTY);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, id, &c, NOW_MS, &r), FOGPAY_ERR_HOLD_NOT_PARTY);
    CU_ASSERT_EQUAL(
        fogpay_ledger_hold_capture(fx.l, id, 10, &operator_actor, NOW_MS + HOLD_S * 1000, &r),
        FOGPAY_ERR_HOLD_EXPIRED);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, id, &operator_actor, NOW_MS + HOLD_S * 1000, &r),
                    FOGPAY_ERR_HOLD_EXPIRED);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 1000);

    /* The wallet maximum of the payee holds at the capture. */
    fogpay_device_limits small = {0, 0, 500};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_set_limits(fx.l, "dev-b", &small, NOW_MS),
                          FOGPAY_OK);
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 501, &operator_actor, NOW_MS, &r),
                    FOGPAY_ERR_WALLET_MAX);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 500, &operator_actor, NOW_MS, &r),
                    FOGPAY_OK);

    /* The timeout is bounded; the limits count the hold. */
    fogpay_intent in = intent_of("dev-a", 3, "dev-b", 0, 10, EUR);
    in.hold_s = FOGPAY_HOLD_TIMEOUT_MAX_S + 1;
    fogpay_transfer t;
    intent_hash_of("dev-a", 3, hash);
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, &in, hash, NOW_MS, &t, NULL),
                    FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG);
    limit_per_day(fx.l, "dev-a", 1500);
    in.hold_s = HOLD_S;
    in.amount_minor = 501; /* 1000 held today already */
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, &in, hash, NOW_MS, &t, NULL),
                    FOGPAY_ERR_LIMIT_PER_DAY);
    in.amount_minor = 4501; /* over the available 4500 */
    limit_per_day(fx.l, "dev-a", 0);
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, &in, hash, NOW_MS, &t, NULL),
                    FOGPAY_ERR_INSUFFICIENT_FUNDS);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

/* A capture rolled back with its savepoint leaves the hold open, in the
 * hot state as in the file; the next capture takes it. */
static void test_rollback(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    uint64_t id = authorise(&fx, 1, 1000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 1000, &operator_actor, NOW_MS, &r),
                    FOGPAY_OK);
    fogpay_ledger_rollback_to(fx.l);
    fogpay_hold h;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_get(fx.l, id, &h), FOGPAY_OK);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_OPEN);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 1000);
    /* An authorisation rolled back leaves no hold behind. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    uint64_t gone = authorise(&fx, 2, 300);
    fogpay_ledger_rollback_to(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_get(fx.l, gone, &h), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(held_of(&fx, "dev-a"), 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, id, &operator_actor, NOW_MS, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

/* verify finds a holds account that does not hold its open holds. */
static void test_verify_holds(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    authorise(&fx, 1, 1000);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_exec(fx.path, "DROP TRIGGER holds_resolve_once;"
                                      "UPDATE holds SET state = 2, resolved_position = 1"),
                    0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    char problem[256] = "";
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, problem, sizeof problem), FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, "open holds sum to 0"));
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"a hold captured in part, the rest released", test_capture_in_part},
        {"a capture split by the payee's fee schedule", test_capture_with_fees},
        {"a hold voided, a hold expired", test_void_and_expiry},
        {"every refusal of a hold moves no money", test_refusals},
        {"a rolled-back capture or authorisation", test_rollback},
        {"verify checks the holds account", test_verify_holds},
    };
    return ledger_fixture_run("ledger_holds", tests, sizeof tests / sizeof tests[0]);
}
