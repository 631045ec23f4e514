/*
 * test_hold_charge.c - pay-per-use from a hold in the gateway's ledger
 * (ledger/ledger_hold_charge.c) on SQLite files: a meter bound to a tariff
 * and an open hold of its device is charged from the hold (kind 18, the
 * holds account to the tariff's payee, split by the payee's fee schedule),
 * the hold keeps what its charges took, the charges sum to the exact
 * product rounded once, and a capture, void or expiry moves only the rest;
 * every refusal of a binding or a reading has its reason and moves no
 * money, and a refused reading's consumption is charged once, by the next
 * binding.
 *
 * Shared setup in ledger_fixture.h: each test opens a ledger file of its
 * own.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_fixture.h"

#define HOLD_S 600

/* 0.3917 EUR per kWh read in Wh: 3917/100000 cents a unit of the meter. */
#define PRICE_NUM 3917
#define PRICE_DEN 100000

__extension__ typedef unsigned __int128 u128;

static const fogpay_hold_actor operator_actor = {NULL, 0, NULL};

/* payer authorises amount in currency to payee at NOW_MS; the hold id. */
static uint64_t authorise(fixture *fx, const char *payer, uint64_t seq, const char *payee,
                          uint64_t amount, uint16_t currency)
{
    fogpay_intent in = intent_of(payer, seq, payee, 0, amount, currency);
    in.hold_s = HOLD_S;
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of(payer, seq, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_settle(fx->l, &in, hash, NOW_MS, &t, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(t.kind, FOGPAY_TRANSFER_AUTHORISATION);
    return t.position;
}

/* Tariff "t" of dev-b (wallet payee) at PRICE_NUM/PRICE_DEN in EUR. */
static void tariff_new(fixture *fx)
{
    fogpay_tariff t;
    memset(&t, 0, sizeof t);
    snprintf(t.tariff_id, sizeof t.tariff_id, "t");
    snprintf(t.device_id, sizeof t.device_id, "dev-b");
    snprintf(t.unit, sizeof t.unit, "kWh");
    t.price_num = PRICE_NUM;
    t.price_den = PRICE_DEN;
    t.currency = EUR;
    t.effective_ms = NOW_MS - 1000;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_tariff_define(fx->l, &t, NOW_MS), FOGPAY_OK);
}

static fogpay_error bind_hold(fixture *fx, uint64_t hold_id, uint64_t now_ms)
{
    return fogpay_ledger_meter_bind_hold(fx->l, "dev-a", "m1", "t", hold_id, 0, NULL, now_ms);
}

/* A fixture with dev-a funded with 50.00, a hold of 30.00 to dev-b, the
 * tariff, and dev-a's meter m1 bound to both; the hold id. */
static uint64_t session_fixture(fixture *fx)
{
    fixture_open(fx);
    fund(fx->l, "dev-a", EUR, 5000);
    uint64_t id = authorise(fx, "dev-a", 1, "dev-b", 3000, EUR);
    tariff_new(fx);
    CU_ASSERT_EQUAL_FATAL(bind_hold(fx, id, NOW_MS), FOGPAY_OK);
    return id;
}

/* A reading of dev-a's meter m1, settled at now_ms. */
static fogpay_error reading(fixture *fx, uint64_t seq, uint64_t quantity, uint64_t now_ms,
                            fogpay_usage_settlement *out)
{
    fogpay_usage u = usage_of("dev-a", seq, quantity);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", seq, hash);
    fogpay_usage_settlement s;
    return fogpay_ledger_usage_settle(fx->l, &u, hash, now_ms, out ? out : &s);
}

static fogpay_hold hold_of(fixture *fx, uint64_t id)
{
    fogpay_hold h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_get(fx->l, id, &h), FOGPAY_OK);
    return h;
}

static uint64_t held_of(fixture *fx)
{
    uint64_t held = 99;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_held(fx->l, "dev-a", EUR, &held), FOGPAY_OK);
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

/* An EV session paid from its hold: readings every minute, each charged
 * from the hold to the charger's wallet as kind 18 naming the hold, the
 * wallet left alone, the hold's charged total and its rest exact, the
 * charges summing to floor(total * num / den). */
static void test_session_charged_from_hold(void)
{
    fixture fx;
    uint64_t id = session_fixture(&fx);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 2000);
    fogpay_meter m;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_meter_get(fx.l, "dev-a", "m1", &m), FOGPAY_OK);
    CU_ASSERT_EQUAL(m.hold_id, id);

    uint64_t quantity = 1234567;
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 2, quantity, NOW_MS + 1000, NULL), FOGPAY_OK);
    static const uint64_t deltas[] = {583, 1201, 7, 999, 4444, 12000, 1, 3100, 250};
    uint64_t charged = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        quantity += deltas[i];
        total += deltas[i];
        fogpay_usage_settlement s;
        uint64_t now = NOW_MS + 60000 * (i + 1);
        CU_ASSERT_EQUAL_FATAL(reading(&fx, 3 + i, quantity, now, &s), FOGPAY_OK);
        CU_ASSERT_EQUAL(s.consumption, deltas[i]);
        charged += s.charge_minor;
        if (s.charge_minor == 0) {
            CU_ASSERT_EQUAL(s.transfer.position, 0);
            continue;
        }
        CU_ASSERT_EQUAL(s.transfer.kind, FOGPAY_TRANSFER_HOLD_CHARGE);
        CU_ASSERT_EQUAL(s.transfer.related_position, id);
        CU_ASSERT_EQUAL(s.transfer.amount_minor, s.charge_minor);
        CU_ASSERT_STRING_EQUAL(s.transfer.device_id, "dev-a");
        CU_ASSERT_EQUAL(s.transfer.seq, 3 + i);
        CU_ASSERT_STRING_EQUAL(s.transfer.meter_id, "m1");
        CU_ASSERT_STRING_EQUAL(s.transfer.tariff_id, "t");
        CU_ASSERT_EQUAL(s.hold_id, id);
        CU_ASSERT_EQUAL(s.hold_left_minor, 3000 - charged);
        CU_ASSERT_EQUAL(s.balance_after_minor, 2000);
        fogpay_transfer stored;
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, s.transfer.position, &stored, NULL),
                        FOGPAY_OK);
        CU_ASSERT_EQUAL(stored.kind, FOGPAY_TRANSFER_HOLD_CHARGE);
        CU_ASSERT_EQUAL(stored.related_position, id);
    }
    CU_ASSERT_EQUAL(charged, (uint64_t)((u128)total * PRICE_NUM / PRICE_DEN));
    CU_ASSERT(charged > 0);
    CU_ASSERT_EQUAL(hold_of(&fx, id).charged_minor, charged);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 2000);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), (int64_t)charged);
    CU_ASSERT_EQUAL(held_of(&fx), 3000 - charged);
    assert_verifies(&fx);

    /* The capture takes at most the rest; the rest of it goes back. */
    snapshot before;
    snapshot_take(&fx, &before);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, id, 3000 - charged + 1, &operator_actor,
                                               NOW_MS + 580000, &r),
                    FOGPAY_ERR_HOLD_OVER_AMOUNT);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_hold_capture(fx.l, id, 100, &operator_actor, NOW_MS + 590000, &r), FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 100);
    CU_ASSERT_EQUAL(r.release.amount_minor, 3000 - charged - 100);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), (int64_t)(5000 - charged - 100));
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), (int64_t)(charged + 100));
    CU_ASSERT_EQUAL(held_of(&fx), 0);
    fogpay_hold h = hold_of(&fx, id);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_CAPTURED);
    CU_ASSERT_EQUAL(h.charged_minor, charged);
    assert_verifies(&fx);

    /* A resolved hold charges nothing more. */
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(reading(&fx, 20, quantity + 100000, NOW_MS + 595000, NULL),
                    FOGPAY_ERR_HOLD_RESOLVED);
    CU_ASSERT(snapshot_same(&fx, &before));
    fogpay_ledger_close(fx.l);
}

/* A charge from a hold to a payee with a fee schedule of 3% is split like
 * every charge; the holds account pays every leg. */
static void test_charge_with_fees(void)
{
    fixture fx;
    uint64_t id = session_fixture(&fx);
    uint64_t fee_account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &fee_account),
                          FOGPAY_OK);
    fee_set(fx.l, "dev-b", fee_account, 300, NOW_MS);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 2, 1000, NOW_MS + 1000, NULL), FOGPAY_OK);
    fogpay_usage_settlement s;
    /* 30000 units: 1175.1 cents, 1175 charged. */
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 3, 31000, NOW_MS + 2000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 1175);
    CU_ASSERT_EQUAL(fogpay_transfer_total(&s.transfer), 1175);
    CU_ASSERT_EQUAL_FATAL(s.transfer.leg_count, 1);
    CU_ASSERT_EQUAL(s.transfer.legs[0].credit_account, fee_account);
    CU_ASSERT_EQUAL(s.transfer.legs[0].debit_account, s.transfer.debit_account);
    CU_ASSERT_EQUAL(s.transfer.legs[0].amount_minor, 1175 * 300 / 10000);
    CU_ASSERT_EQUAL(hold_of(&fx, id).charged_minor, 1175);
    CU_ASSERT_EQUAL(held_of(&fx), 3000 - 1175);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

/* A void and an expiry return only the rest; a hold the readings took
 * whole has nothing to void and is resolved by its expiry without a
 * transfer, naming its last charge. */
static void test_rest_released(void)
{
    fixture fx;
    uint64_t id = session_fixture(&fx);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 2, 1000, NOW_MS + 1000, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 3, 11000, NOW_MS + 2000, NULL), FOGPAY_OK); /* 391 */
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_void(fx.l, id, &operator_actor, NOW_MS + 3000, &r),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_RELEASE);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 3000 - 391);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 391);
    assert_verifies(&fx);

    /* An expiry of a hold with charges. */
    uint64_t second = authorise(&fx, "dev-a", 4, "dev-b", 1000, EUR);
    CU_ASSERT_EQUAL_FATAL(bind_hold(&fx, second, NOW_MS + 4000), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 5, 21000, NOW_MS + 5000, NULL), FOGPAY_OK); /* 391 */
    size_t expired = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_hold_expire(fx.l, NOW_MS + HOLD_S * 1000, 10, &expired),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(expired, 1);
    fogpay_transfer t;
    fogpay_hold h = hold_of(&fx, second);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_EXPIRED);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, h.resolved_position, &t, NULL),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_EXPIRY);
    CU_ASSERT_EQUAL(t.amount_minor, 1000 - 391);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 391 - 391);
    assert_verifies(&fx);

    /* A hold of exactly one charge: taken whole. */
    uint64_t third = authorise(&fx, "dev-a", 6, "dev-b", 391, EUR);
    CU_ASSERT_EQUAL_FATAL(bind_hold(&fx, third, NOW_MS + 6000), FOGPAY_OK);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 7, 31000, NOW_MS + 7000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 391);
    CU_ASSERT_EQUAL(s.hold_left_minor, 0);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_void(fx.l, third, &operator_actor, NOW_MS + 8000, &r),
                    FOGPAY_ERR_HOLD_INSUFFICIENT);
    CU_ASSERT_EQUAL(fogpay_ledger_hold_capture(fx.l, third, 1, &operator_actor, NOW_MS + 8000, &r),
                    FOGPAY_ERR_HOLD_OVER_AMOUNT);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(fogpay_ledger_hold_expire(fx.l, NOW_MS + HOLD_S * 1000 + 10000, 10, &expired),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(expired, 1);
    CU_ASSERT(snapshot_same(&fx, &before));
    h = hold_of(&fx, third);
    CU_ASSERT_EQUAL(h.state, FOGPAY_HOLD_EXPIRED);
    CU_ASSERT_EQUAL(h.resolved_position, s.transfer.position);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

/* Binding to a hold that is not the device's own, open, in the tariff's
 * currency and to its payee is refused with its reason, binding nothing
 * and moving nothing. */
static void test_binding_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-c", fx.entity_a, NULL);
    fund(fx.l, "dev-a", EUR, 5000);
    fund(fx.l, "dev-a", USD, 5000);
    fund(fx.l, "dev-c", EUR, 5000);
    tariff_new(&fx);
    uint64_t foreign = authorise(&fx, "dev-c", 1, "dev-b", 1000, EUR);
    uint64_t dollars = authorise(&fx, "dev-a", 1, "dev-b", 1000, USD);
    uint64_t other_payee = authorise(&fx, "dev-a", 2, "dev-c", 1000, EUR);
    uint64_t voided = authorise(&fx, "dev-a", 3, "dev-b", 1000, EUR);
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_void(fx.l, voided, &operator_actor, NOW_MS, &r),
                          FOGPAY_OK);
    uint64_t open = authorise(&fx, "dev-a", 4, "dev-b", 1000, EUR);
    const struct {
        uint64_t hold;
        uint64_t now_ms;
        fogpay_error expected;
    } cases[] = {
        {999999, NOW_MS, FOGPAY_ERR_HOLD_UNKNOWN},
        {foreign, NOW_MS, FOGPAY_ERR_HOLD_FOREIGN},
        {voided, NOW_MS, FOGPAY_ERR_HOLD_RESOLVED},
        {open, NOW_MS + HOLD_S * 1000, FOGPAY_ERR_HOLD_RESOLVED}, /* past its expiry */
        {dollars, NOW_MS, FOGPAY_ERR_HOLD_TARIFF_CURRENCY},
        {other_payee, NOW_MS, FOGPAY_ERR_HOLD_TARIFF_PAYEE},
    };
    uint64_t events = event_head(fx.l);
    snapshot before;
    snapshot_take(&fx, &before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_EQUAL(bind_hold(&fx, cases[i].hold, cases[i].now_ms), cases[i].expected);
        fogpay_meter m;
        CU_ASSERT_EQUAL(fogpay_ledger_meter_get(fx.l, "dev-a", "m1", &m), FOGPAY_ERR_METER_UNKNOWN);
    }
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(event_head(fx.l), events);

    /* The binding that may be made names its hold in its event (key 39). */
    CU_ASSERT_EQUAL_FATAL(bind_hold(&fx, open, NOW_MS), FOGPAY_OK);
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, event_head(fx.l), &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_METER_BOUND);
    CU_ASSERT_EQUAL(e.hold_id, open);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

/* A reading whose charge is over the hold's rest is refused and charges
 * nothing, and so are the ones after it; bound again (to a new hold), the
 * meter charges that consumption once, from the new hold. */
static void test_insufficient(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    tariff_new(&fx);
    uint64_t small = authorise(&fx, "dev-a", 1, "dev-b", 500, EUR);
    CU_ASSERT_EQUAL_FATAL(bind_hold(&fx, small, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 2, 1000, NOW_MS + 1000, NULL), FOGPAY_OK);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 3, 11000, NOW_MS + 2000, &s), FOGPAY_OK); /* 391 */
    snapshot before;
    snapshot_take(&fx, &before);
    /* 10000 units more: 392 cents with the carry, over the 109 left. */
    CU_ASSERT_EQUAL(reading(&fx, 4, 21000, NOW_MS + 3000, NULL), FOGPAY_ERR_HOLD_INSUFFICIENT);
    CU_ASSERT_EQUAL(reading(&fx, 5, 22000, NOW_MS + 4000, NULL), FOGPAY_ERR_HOLD_INSUFFICIENT);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(hold_of(&fx, small).charged_minor, 391);
    fogpay_meter m;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_meter_get(fx.l, "dev-a", "m1", &m), FOGPAY_OK);
    CU_ASSERT_EQUAL(m.last_quantity, 11000);

    /* The hold's rest goes back whole; the new hold pays 21000 - 11000
     * once, its carry from 0. */
    fogpay_hold_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_hold_void(fx.l, small, &operator_actor, NOW_MS + 5000, &r),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 109);
    uint64_t big = authorise(&fx, "dev-a", 6, "dev-b", 2000, EUR);
    CU_ASSERT_EQUAL_FATAL(bind_hold(&fx, big, NOW_MS + 6000), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 7, 21000, NOW_MS + 7000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.consumption, 10000);
    CU_ASSERT_EQUAL(s.charge_minor, 391);
    CU_ASSERT_EQUAL(s.hold_id, big);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 391 - 2000);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 391 + 391);
    assert_verifies(&fx);

    /* Past its expiry, before the tick: refused. */
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(reading(&fx, 8, 22000, NOW_MS + HOLD_S * 1000 + 1, NULL),
                    FOGPAY_ERR_HOLD_RESOLVED);
    CU_ASSERT(snapshot_same(&fx, &before));
    fogpay_ledger_close(fx.l);
}

/* The hot state and the file agree: reopened, the hold's charged total
 * and the binding's hold are read back from the rows. */
static void test_reopen(void)
{
    fixture fx;
    uint64_t id = session_fixture(&fx);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 2, 1000, NOW_MS + 1000, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 3, 11000, NOW_MS + 2000, NULL), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(hold_of(&fx, id).charged_minor, 391);
    CU_ASSERT_EQUAL(held_of(&fx), 3000 - 391);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL_FATAL(reading(&fx, 4, 21000, NOW_MS + 3000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.hold_id, id);
    CU_ASSERT_EQUAL(s.hold_left_minor, 3000 - 391 - 392);
    assert_verifies(&fx);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"an EV session charged from its hold, captured", test_session_charged_from_hold},
        {"a hold charge split by the payee's fee schedule", test_charge_with_fees},
        {"a void and an expiry return only the rest", test_rest_released},
        {"every refusal of a binding to a hold moves nothing", test_binding_refusals},
        {"a charge over the hold's rest is refused and charged once later", test_insufficient},
        {"charged totals and bindings read back after reopening", test_reopen},
    };
    return ledger_fixture_run("ledger_hold_charge", tests, sizeof tests / sizeof tests[0]);
}
