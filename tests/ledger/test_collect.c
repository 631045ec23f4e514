/*
 * test_collect.c - what the gateway does about a plan's instalments by
 * itself (ledger_collect.c, ledger_statement.c) on SQLite files: a late
 * instalment collected from the wallet and counted as paid; arrears
 * entered when it cannot be (the device suspended, its other payments
 * refused, its instalments taken) and cleared when money arrives or the
 * device pays; instalments and collections attributed to the holder when
 * they fell due across a resale, and each entity's statement; early
 * settlement; and every refusal moving no money.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_fixture.h"

#define MONTH_MS (30 * DAY_MS)
#define GRACE_MS (3 * DAY_MS)

/* The i-th instalment's due time of plan_of's plan. */
#define DUE_MS(i) (NOW_MS + (uint64_t)(i)*MONTH_MS)

/* A third entity, the lender, so that both fixture entities can own dev-a. */
static char lender[FOGPAY_ENTITY_ID_MAX + 1];

/* dev-a's plan "loan": 1200.00 EUR at 9.5 % in 12 monthly instalments of
 * 10936 cents (the last 10947), 3 days' grace, suspend on shortfall. */
static fogpay_plan plan_of(fogpay_ledger *l, bool collect)
{
    entity_new(l, "Gamma Finance SA", lender);
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "loan");
    snprintf(p.device_id, sizeof p.device_id, "dev-a");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 120000;
    p.rate_bp = 950;
    p.instalment_count = 12;
    p.period_ms = MONTH_MS;
    p.grace_ms = GRACE_MS;
    p.collect = collect;
    p.effective_ms = NOW_MS;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, NOW_MS), FOGPAY_OK);
    return p;
}

static uint64_t lender_account(fogpay_ledger *l)
{
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, lender, EUR, &account), FOGPAY_OK);
    return account;
}

/* dev-a's instalment intent of amount with seq, settled at now_ms. */
static fogpay_error instalment(fogpay_ledger *l, uint64_t seq, uint64_t amount, uint64_t now_ms,
                               fogpay_transfer *out)
{
    fogpay_intent in = intent_of("dev-a", seq, NULL, lender_account(l), amount, EUR);
    snprintf(in.plan_id, sizeof in.plan_id, "loan");
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", seq, hash);
    fogpay_transfer t;
    return fogpay_ledger_settle(l, &in, hash, now_ms, out ? out : &t, NULL);
}

/* One pass at now_ms, which must succeed. */
static fogpay_plan_collect_result pass(fogpay_ledger *l, uint64_t now_ms)
{
    fogpay_plan_collect_result r;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_collect(l, "", now_ms, &r), FOGPAY_OK);
    return r;
}

static uint8_t device_status(fogpay_ledger *l, const char *device)
{
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_get(l, device, &d), FOGPAY_OK);
    return d.status;
}

static void ledger_verifies(fogpay_ledger *l)
{
    uint64_t checked = 0;
    uint64_t bad = 0;
    char problem[256] = "";
    CU_ASSERT_EQUAL(verify(l, &checked, &bad, problem, sizeof problem), FOGPAY_OK);
    if (bad != 0) {
        fprintf(stderr, "verify: %s\n", problem);
    }
}

/* Before the grace ends nothing happens; after it the pass collects the
 * instalment (kind 13, its amount, number and attribution), counted as
 * paid: the device's next intent pays instalment 2. */
static void test_collect_late(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true);
    fund(fx.l, "dev-a", EUR, 50000);
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_chain_head(fx.l, &head, hash), FOGPAY_OK);
    fogpay_plan_collect_result r = pass(fx.l, DUE_MS(1) + GRACE_MS - 1);
    CU_ASSERT_EQUAL(r.plans, 1);
    CU_ASSERT_EQUAL(r.collected, 0);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 50000);

    r = pass(fx.l, DUE_MS(1) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 1);
    CU_ASSERT_EQUAL(r.change_count, 0);
    CU_ASSERT_STRING_EQUAL(r.after, "");
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 50000 - 10936);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, head + 1, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_COLLECTION);
    CU_ASSERT_EQUAL(t.amount_minor, 10936);
    CU_ASSERT_EQUAL(t.credit_account, lender_account(fx.l));
    CU_ASSERT_STRING_EQUAL(t.plan_id, "loan");
    CU_ASSERT_EQUAL(t.instalment, 1);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, lender);
    CU_ASSERT_STRING_EQUAL(t.device_id, "");
    /* Collected once: a second pass takes nothing more. */
    r = pass(fx.l, DUE_MS(1) + GRACE_MS + 1);
    CU_ASSERT_EQUAL(r.collected, 0);
    /* Counted as the instalment paid: the device's next pays number 2. */
    fogpay_transfer next;
    CU_ASSERT_EQUAL(instalment(fx.l, 1, 10936, DUE_MS(1) + GRACE_MS + 2, &next), FOGPAY_OK);
    CU_ASSERT_EQUAL(next.instalment, 2);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* The event at position of kind, for plan "loan" of dev-a. */
static fogpay_event event_at(fogpay_ledger *l, uint64_t position, uint8_t kind)
{
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, kind);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    return e;
}

static int arrears_first(void *ctx, const fogpay_plan_arrears *a)
{
    *(fogpay_plan_arrears *)ctx = *a;
    return 1;
}

/* The wallet cannot pay: arrears (the row, event 13 with what is owed,
 * the device suspended with reason plan_arrears); its other payments are
 * refused with plan_arrears and move nothing; money arrives and the next
 * pass collects, clears (event 14) and resumes the device. */
static void test_arrears_then_funded(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true);
    fund(fx.l, "dev-a", EUR, 5000);
    uint64_t events = event_head(fx.l);
    fogpay_plan_collect_result r = pass(fx.l, DUE_MS(1) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 0);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_TRUE(r.changes[0].entered);
    CU_ASSERT_TRUE(r.changes[0].suspended);
    CU_ASSERT_STRING_EQUAL(r.changes[0].device_id, "dev-a");
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);
    fogpay_event status = event_at(fx.l, events + 1, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(status.reason, FOGPAY_ERR_PLAN_ARREARS);
    fogpay_event e = event_at(fx.l, events + 2, FOGPAY_EVENT_ARREARS_ENTERED);
    CU_ASSERT_STRING_EQUAL(e.plan_id, "loan");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_a);
    CU_ASSERT_EQUAL(e.arrears_minor, 10936);
    CU_ASSERT_EQUAL(e.currency, EUR);
    fogpay_plan_arrears a;
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(fx.l, "dev-a", true, arrears_first, &a),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(a.instalment, 1);
    CU_ASSERT_EQUAL(a.owed_minor, 10936);
    CU_ASSERT_EQUAL(a.reason, FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_TRUE(a.suspended);
    CU_ASSERT_EQUAL(a.cleared_ms, 0);
    /* Still in arrears: another pass changes nothing. */
    r = pass(fx.l, DUE_MS(1) + GRACE_MS + 1);
    CU_ASSERT_EQUAL(r.change_count, 0);

    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_ERR_PLAN_ARREARS);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));

    /* Money arrives: the next pass collects and resumes by itself. */
    fund(fx.l, "dev-a", EUR, 10000);
    events = event_head(fx.l);
    r = pass(fx.l, DUE_MS(1) + GRACE_MS + 2);
    CU_ASSERT_EQUAL(r.collected, 1);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_FALSE(r.changes[0].entered);
    CU_ASSERT_TRUE(r.changes[0].suspended);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 15000 - 10936);
    fogpay_event cleared = event_at(fx.l, events + 1, FOGPAY_EVENT_ARREARS_CLEARED);
    CU_ASSERT_STRING_EQUAL(cleared.plan_id, "loan");
    event_at(fx.l, events + 2, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(fx.l, "dev-a", false, arrears_first, &a),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(a.cleared_ms, DUE_MS(1) + GRACE_MS + 2);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_OK);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* A plan without collection is in arrears with collection_refused; the
 * suspended device pays its instalment itself (accepted, only that), and
 * the next pass clears and resumes. A device suspended by an operator,
 * in no arrears, pays no instalment. */
static void test_arrears_device_pays(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, false);
    fund(fx.l, "dev-a", EUR, 50000);
    fogpay_plan_collect_result r = pass(fx.l, DUE_MS(1) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 0);
    CU_ASSERT_EQUAL(r.change_count, 1);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 50000);
    fogpay_plan_arrears a;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(fx.l, NULL, true, arrears_first, &a),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(a.reason, FOGPAY_ERR_COLLECTION_REFUSED);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(pay(fx.l, "dev-a", 1, "dev-b", 100), FOGPAY_ERR_PLAN_ARREARS);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(instalment(fx.l, 2, 10936, DUE_MS(1) + GRACE_MS + 1, &t), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_INSTALMENT);
    CU_ASSERT_EQUAL(t.instalment, 1);
    r = pass(fx.l, DUE_MS(1) + GRACE_MS + 2);
    CU_ASSERT_EQUAL(r.change_count, 1);
    CU_ASSERT_FALSE(r.changes[0].entered);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);

    /* An operator's suspension is not the plan's: no instalment passes. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED,
                                                    DUE_MS(1) + GRACE_MS + 3),
                    FOGPAY_OK);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(instalment(fx.l, 3, 10936, DUE_MS(1) + GRACE_MS + 4, NULL),
                    FOGPAY_ERR_DEVICE_SUSPENDED);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* A resale between instalments 1 and 2: instalment 1 (paid by the device)
 * is entity a's, instalment 2 (collected after the resale's effective
 * time) entity b's, and so is instalment 3 that the device pays before it
 * is due; each statement shows what its entity paid and owes. */
static void test_resale_attribution(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true);
    fund(fx.l, "dev-a", EUR, 40000);
    fogpay_transfer t1;
    CU_ASSERT_EQUAL(instalment(fx.l, 1, 10936, DUE_MS(1) - DAY_MS, &t1), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t1.payer_entity, fx.entity_a);
    uint64_t resale_ms = DUE_MS(1) + 10 * DAY_MS;
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner", resale_ms, DUE_MS(1)),
        FOGPAY_OK);
    /* b owes instalment 2 once it is due and unpaid. */
    fogpay_plan_statement st;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", fx.entity_b, DUE_MS(2) + 1, &st),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 0);
    CU_ASSERT_EQUAL(st.due_count, 1);
    CU_ASSERT_EQUAL(st.owed_count, 1);
    CU_ASSERT_EQUAL(st.owed_minor, 10936);
    fogpay_plan_collect_result r = pass(fx.l, DUE_MS(2) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 1);
    fogpay_transfer t3;
    CU_ASSERT_EQUAL(instalment(fx.l, 2, 10936, DUE_MS(2) + GRACE_MS + 1, &t3), FOGPAY_OK);
    CU_ASSERT_EQUAL(t3.instalment, 3);
    CU_ASSERT_STRING_EQUAL(t3.payer_entity, fx.entity_b);

    uint64_t at = DUE_MS(3) + 1;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", fx.entity_a, at, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 1);
    CU_ASSERT_EQUAL(st.paid_minor, 10936);
    CU_ASSERT_EQUAL(st.due_count, 1);
    CU_ASSERT_EQUAL(st.owed_count, 0);
    CU_ASSERT_EQUAL(st.currency, EUR);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", fx.entity_b, at, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 2);
    CU_ASSERT_EQUAL(st.paid_minor, 2 * 10936);
    CU_ASSERT_EQUAL(st.due_count, 2);
    CU_ASSERT_EQUAL(st.owed_count, 0);
    /* The lender never held the device; an unknown plan has no statement. */
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", lender, at, &st),
                    FOGPAY_ERR_STATEMENT_ENTITY);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "none", fx.entity_a, at, &st),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", fx.entity_a, NOW_MS - 1, &st),
                    FOGPAY_ERR_PLAN_NOT_STARTED);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* Early settlement: the principal left (11 x 10000) and the interest of
 * the due and unpaid instalment 2 (936), in one kind 12 transfer from the
 * wallet; the plan is closed (event 12) and its arrears cleared, the
 * device resumed. Refusals first, each moving nothing. */
static void test_early_settlement(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, false);
    fogpay_transfer t;
    fogpay_plan_change change;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "loan", false, NOW_MS - 1, &t, &change),
                    FOGPAY_ERR_PLAN_NOT_STARTED);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "none", false, NOW_MS + 1, &t, &change),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    fund(fx.l, "dev-a", EUR, 10936);
    CU_ASSERT_EQUAL(instalment(fx.l, 1, 10936, DUE_MS(1), NULL), FOGPAY_OK);
    pass(fx.l, DUE_MS(2) + GRACE_MS); /* instalment 2 unpaid: arrears */
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);

    uint64_t at = DUE_MS(2) + GRACE_MS + 1;
    uint64_t amount = 11 * 10000 + 936;
    fund(fx.l, "dev-a", EUR, amount - 1);
    snapshot before;
    snapshot_take(&fx, &before);
    uint64_t events = event_head(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "loan", false, at, &t, &change),
                    FOGPAY_ERR_SETTLEMENT_FUNDS);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "loan", true, at, &t, &change),
                    FOGPAY_ERR_SETTLEMENT_FUNDS);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(event_head(fx.l), events);

    fund(fx.l, "dev-a", EUR, 1);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_settle(fx.l, "loan", false, at, &t, &change),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_EARLY_SETTLEMENT);
    CU_ASSERT_EQUAL(t.amount_minor, amount);
    CU_ASSERT_EQUAL(t.instalment, 2);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_EQUAL(t.credit_account, lender_account(fx.l));
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 0);
    CU_ASSERT_FALSE(change.entered);
    CU_ASSERT_TRUE(change.suspended);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);
    fogpay_plan p;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "loan", at, &p, NULL), FOGPAY_OK);
    CU_ASSERT_TRUE(p.closed);
    bool closed_event = false;
    for (uint64_t pos = events + 1; pos <= event_head(fx.l); pos++) {
        fogpay_event e;
        CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, pos, &e, NULL), FOGPAY_OK);
        closed_event = closed_event || e.kind == FOGPAY_EVENT_PLAN_CLOSED;
    }
    CU_ASSERT_TRUE(closed_event);
    fogpay_plan_statement st;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_statement(fx.l, "loan", fx.entity_a, at, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid_count, 2);
    CU_ASSERT_EQUAL(st.paid_minor, 10936 + amount);
    CU_ASSERT_EQUAL(st.owed_minor, 0);
    /* Closed: nothing more is settled, paid or collected. */
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "loan", false, at + 1, &t, &change),
                    FOGPAY_ERR_PLAN_CLOSED);
    CU_ASSERT_EQUAL(instalment(fx.l, 2, 10936, at + 1, NULL), FOGPAY_ERR_PLAN_CLOSED);
    fogpay_plan_collect_result r = pass(fx.l, DUE_MS(5));
    CU_ASSERT_EQUAL(r.plans, 0);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* Settled from the holder's account: the entity pays, not the wallet; a
 * plan with every instalment paid has nothing to settle. */
static void test_settlement_from_entity(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true);
    uint64_t account_a = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &account_a),
                          FOGPAY_OK);
    fund(fx.l, "dev-b", EUR, 120000);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, NULL, account_a, 120000, EUR, NOW_MS + 1, NULL),
                    FOGPAY_OK);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_settle(fx.l, "loan", true, NOW_MS + 2, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.amount_minor, 120000);
    CU_ASSERT_EQUAL(t.debit_account, account_a);
    CU_ASSERT_EQUAL(t.instalment, 1);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 0);

    /* Another plan, paid in full by collections: nothing to settle. */
    fogpay_plan q;
    memset(&q, 0, sizeof q);
    snprintf(q.plan_id, sizeof q.plan_id, "short");
    snprintf(q.device_id, sizeof q.device_id, "dev-b");
    snprintf(q.lender_entity, sizeof q.lender_entity, "%s", lender);
    q.currency = EUR;
    q.principal_minor = 1000;
    q.instalment_count = 2;
    q.period_ms = MONTH_MS;
    q.collect = true;
    q.effective_ms = NOW_MS + 10;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &q, NOW_MS + 10), FOGPAY_OK);
    fund(fx.l, "dev-b", EUR, 1000);
    fogpay_plan_collect_result r = pass(fx.l, NOW_MS + 10 + 2 * MONTH_MS);
    CU_ASSERT_EQUAL(r.collected, 2);
    CU_ASSERT_EQUAL(
        fogpay_ledger_plan_settle(fx.l, "short", false, NOW_MS + 11 + 2 * MONTH_MS, &t, NULL),
        FOGPAY_ERR_PLAN_PAID);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* Several periods missed and then funded: the passes catch up, at most
 * FOGPAY_PLAN_COLLECT_INSTALMENTS a pass, and the arrears stay until the
 * last late one is collected. */
static void test_collect_catches_up(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true);
    uint64_t at = DUE_MS(10) + GRACE_MS;
    fogpay_plan_collect_result r = pass(fx.l, at);
    CU_ASSERT_EQUAL(r.change_count, 1);
    fogpay_plan_arrears a;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_arrears_list(fx.l, "dev-a", true, arrears_first, &a),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(a.owed_minor, 10 * 10936);
    fund(fx.l, "dev-a", EUR, 10 * 10936);
    r = pass(fx.l, at + 1);
    CU_ASSERT_EQUAL(r.collected, FOGPAY_PLAN_COLLECT_INSTALMENTS);
    CU_ASSERT_EQUAL(r.change_count, 0);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);
    r = pass(fx.l, at + 2);
    CU_ASSERT_EQUAL(r.collected, 10 - FOGPAY_PLAN_COLLECT_INSTALMENTS);
    CU_ASSERT_EQUAL(r.change_count, 1);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 0);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* A small plan of dev-a: 10.00 EUR in 10 monthly instalments of 1.00. */
static void small_plan(fogpay_ledger *l, const char *id)
{
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "%s", id);
    snprintf(p.device_id, sizeof p.device_id, "dev-a");
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 1000;
    p.instalment_count = 10;
    p.period_ms = MONTH_MS;
    p.collect = true;
    p.effective_ms = NOW_MS;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(l, &p, NOW_MS), FOGPAY_OK);
}

/* Two plans of one device in arrears: clearing the one that suspended it
 * leaves it suspended while the other lasts, and clearing that resumes
 * it. A plan closed from a later time is still collected until then. */
static void test_two_plans_in_arrears(void)
{
    fixture fx;
    fixture_open(&fx);
    plan_of(fx.l, true); /* "loan": 109.36 an instalment */
    small_plan(fx.l, "a-small");
    uint64_t at = DUE_MS(1) + GRACE_MS;
    fogpay_plan_collect_result r = pass(fx.l, at);
    CU_ASSERT_EQUAL(r.change_count, 2);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);
    fund(fx.l, "dev-a", EUR, 100);
    r = pass(fx.l, at + 1); /* a-small is collected and cleared, loan is not */
    CU_ASSERT_EQUAL(r.collected, 1);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_FALSE(r.changes[0].entered);
    CU_ASSERT_FALSE(r.changes[0].suspended);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_SUSPENDED);
    fund(fx.l, "dev-a", EUR, 40000);
    r = pass(fx.l, at + 2);
    CU_ASSERT_EQUAL(r.collected, 1);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_STRING_EQUAL(r.changes[0].plan_id, "loan");
    CU_ASSERT_TRUE(r.changes[0].suspended);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);

    /* Closed from month 3 on: instalment 2 is still collected. */
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "a-small", DUE_MS(3), at + 3), FOGPAY_OK);
    r = pass(fx.l, DUE_MS(2) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 2); /* loan's and a-small's second */
    r = pass(fx.l, DUE_MS(3) + GRACE_MS);
    CU_ASSERT_EQUAL(r.collected, 1); /* loan's third only */
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"a late instalment is collected and counted as paid", test_collect_late},
        {"arrears: suspended, other payments refused, funded and resumed",
         test_arrears_then_funded},
        {"arrears without collection: the suspended device pays its instalment",
         test_arrears_device_pays},
        {"resale: instalments attributed to the holder when due; statements",
         test_resale_attribution},
        {"early settlement from the wallet, every refusal moving nothing", test_early_settlement},
        {"early settlement from the holder's account; a paid plan", test_settlement_from_entity},
        {"missed periods are collected over several passes", test_collect_catches_up},
        {"two plans in arrears: resumed when the last is cleared", test_two_plans_in_arrears},
    };
    return ledger_fixture_run("collect", tests, sizeof tests / sizeof tests[0]);
}
