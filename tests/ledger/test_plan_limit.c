/*
 * test_plan_limit.c - the shortfall action limit on SQLite files
 * (ledger_plan.c, ledger_collect.c, ledger_settle.c): a plan version names
 * its payees; in arrears its device is not suspended, its payments to any
 * other payee are refused with plan_limited and move nothing, its payments
 * to a named device or entity settle, its instalments pass; when the
 * arrears clear the limit lifts by itself; the device is paid up to the
 * plan's end, so that it does not put itself out of action. And the
 * refusals of a set of payees that cannot be.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_fixture.h"

#define MONTH_MS (30 * DAY_MS)
#define GRACE_MS (3 * DAY_MS)
#define LATE_MS  (NOW_MS + MONTH_MS + GRACE_MS) /* the first instalment's grace ended */

/* The lender, a third entity. */
static char lender[FOGPAY_ENTITY_ID_MAX + 1];

/* dev-a's plan "loan" (instalments of 10936 cents, the last 10947) whose
 * shortfall is limit, naming dev-b and entity b. */
static fogpay_plan limit_plan(fixture *fx, bool collect)
{
    entity_new(fx->l, "Gamma Finance SA", lender);
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
    p.shortfall = FOGPAY_PLAN_SHORTFALL_LIMIT;
    p.collect = collect;
    p.effective_ms = NOW_MS;
    p.payee_count = 2;
    snprintf(p.payees[0], sizeof p.payees[0], "dev-b");
    snprintf(p.payees[1], sizeof p.payees[1], "%s", fx->entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx->l, &p, NOW_MS), FOGPAY_OK);
    device_new(fx->l, "dev-c", fx->entity_b, NULL);
    return p;
}

static uint64_t account_of(fogpay_ledger *l, const char *entity)
{
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(l, entity, EUR, &account), FOGPAY_OK);
    return account;
}

/* dev-a pays amount to a device or an account at now_ms. */
static fogpay_error pay_at(fogpay_ledger *l, uint64_t seq, const char *device, uint64_t account,
                           uint64_t amount, uint64_t now_ms)
{
    return pay_full(l, "dev-a", seq, device, account, amount, EUR, now_ms, NULL);
}

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
    CU_ASSERT_EQUAL(bad, 0);
}

/* The version in force names its payees, in order; its event too. */
static void test_payees_stored(void)
{
    fixture fx;
    fixture_open(&fx);
    limit_plan(&fx, true);
    fogpay_plan p;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_at(fx.l, "loan", NOW_MS + 1, &p, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(p.payee_count, 2);
    CU_ASSERT_STRING_EQUAL(p.payees[0], "dev-b");
    CU_ASSERT_STRING_EQUAL(p.payees[1], fx.entity_b);
    /* The version's event carries them upstream (key 37); dev-c came after. */
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, event_head(fx.l) - 1, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_PLAN);
    CU_ASSERT_EQUAL_FATAL(e.plan_payee_count, 2);
    CU_ASSERT_STRING_EQUAL(e.plan_payees[0], "dev-b");
    CU_ASSERT_STRING_EQUAL(e.plan_payees[1], fx.entity_b);
    fogpay_ledger_close(fx.l);
}

/* In arrears, not suspended: a payment to dev-c (named by nobody) and to
 * the lender's account outside an instalment are refused with
 * plan_limited and move nothing; dev-b and entity b's account are paid.
 * Money arrives, the pass collects and clears, and dev-c is paid. */
static void test_limited_then_lifted(void)
{
    fixture fx;
    fixture_open(&fx);
    limit_plan(&fx, true);
    fund(fx.l, "dev-a", EUR, 5000);
    CU_ASSERT_EQUAL(pay_at(fx.l, 1, "dev-c", 0, 100, NOW_MS + 1), FOGPAY_OK); /* no arrears */

    fogpay_plan_collect_result r = pass(fx.l, LATE_MS);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_TRUE(r.changes[0].entered);
    CU_ASSERT_FALSE(r.changes[0].suspended);
    CU_ASSERT_EQUAL(device_status(fx.l, "dev-a"), FOGPAY_DEVICE_ACTIVE);
    /* Not put out of action by its own clock: paid up to the plan's end. */
    fogpay_plan_status st;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_status(fx.l, "loan", LATE_MS, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.arrears, 1);
    CU_ASSERT_EQUAL(st.paid_up_to_ms, NOW_MS + 12 * MONTH_MS + GRACE_MS);

    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, "dev-c", 0, 100, LATE_MS + 1), FOGPAY_ERR_PLAN_LIMITED);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, NULL, account_of(fx.l, lender), 100, LATE_MS + 1),
                    FOGPAY_ERR_PLAN_LIMITED);
    /* Naming dev-c's wallet by its account number is the same payee. */
    uint64_t wallet_c = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(fx.l, "dev-c", EUR, &wallet_c), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, NULL, wallet_c, 100, LATE_MS + 1), FOGPAY_ERR_PLAN_LIMITED);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));

    CU_ASSERT_EQUAL(pay_at(fx.l, 2, "dev-b", 0, 200, LATE_MS + 2), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_at(fx.l, 3, NULL, account_of(fx.l, fx.entity_b), 300, LATE_MS + 3),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 5000 - 100 - 200 - 300);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 200);

    /* Money arrives: collected, cleared, and the limit lifts. */
    fund(fx.l, "dev-a", EUR, 20000);
    r = pass(fx.l, LATE_MS + 4);
    CU_ASSERT_EQUAL(r.collected, 1);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_FALSE(r.changes[0].entered);
    CU_ASSERT_FALSE(r.changes[0].suspended);
    CU_ASSERT_EQUAL(pay_at(fx.l, 4, "dev-c", 0, 100, LATE_MS + 5), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-c", EUR), 200);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* A plan without collection: in arrears (collection_refused) with money
 * in the wallet, the device's payment to dev-c is refused, its own
 * instalment passes, the pass clears and dev-c is paid. */
static void test_instalment_passes(void)
{
    fixture fx;
    fixture_open(&fx);
    limit_plan(&fx, false);
    fund(fx.l, "dev-a", EUR, 50000);
    fogpay_plan_collect_result r = pass(fx.l, LATE_MS);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(pay_at(fx.l, 1, "dev-c", 0, 100, LATE_MS + 1), FOGPAY_ERR_PLAN_LIMITED);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));

    fogpay_intent in = intent_of("dev-a", 1, NULL, account_of(fx.l, lender), 10936, EUR);
    snprintf(in.plan_id, sizeof in.plan_id, "loan");
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_settle(fx.l, &in, hash, LATE_MS + 2, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_INSTALMENT);
    r = pass(fx.l, LATE_MS + 3);
    CU_ASSERT_EQUAL_FATAL(r.change_count, 1);
    CU_ASSERT_FALSE(r.changes[0].entered);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, "dev-c", 0, 100, LATE_MS + 4), FOGPAY_OK);
    ledger_verifies(fx.l);
    fogpay_ledger_close(fx.l);
}

/* A later version naming dev-c instead of dev-b: from its effective time
 * the limit follows it. */
static void test_version_in_force(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = limit_plan(&fx, true);
    fund(fx.l, "dev-a", EUR, 5000);
    pass(fx.l, LATE_MS);
    p.effective_ms = LATE_MS + 10;
    p.principal_minor = 110000;
    p.instalment_count = 11;
    snprintf(p.payees[0], sizeof p.payees[0], "dev-c");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, LATE_MS + 1), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_at(fx.l, 1, "dev-c", 0, 100, LATE_MS + 2), FOGPAY_ERR_PLAN_LIMITED);
    CU_ASSERT_EQUAL(pay_at(fx.l, 1, "dev-b", 0, 100, LATE_MS + 3), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, "dev-b", 0, 100, LATE_MS + 11), FOGPAY_ERR_PLAN_LIMITED);
    CU_ASSERT_EQUAL(pay_at(fx.l, 2, "dev-c", 0, 100, LATE_MS + 12), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Sets that cannot be: refused with their reason, nothing defined. */
static void test_payees_refused(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = limit_plan(&fx, true);
    snprintf(p.plan_id, sizeof p.plan_id, "other");
    fogpay_plan bad[5];
    for (size_t i = 0; i < 5; i++) {
        bad[i] = p;
    }
    bad[0].shortfall = FOGPAY_PLAN_SHORTFALL_SUSPEND;               /* payees without the limit */
    snprintf(bad[1].payees[1], sizeof bad[1].payees[1], "dev-b");   /* twice */
    snprintf(bad[2].payees[1], sizeof bad[2].payees[1], "dev-a");   /* the device itself */
    snprintf(bad[3].payees[1], sizeof bad[3].payees[1], "dev-zzz"); /* nobody */
    bad[4].payee_count = FOGPAY_PLAN_PAYEES_MAX + 1;
    const fogpay_error want[5] = {FOGPAY_ERR_PLAN_TERMS, FOGPAY_ERR_PLAN_TERMS,
                                  FOGPAY_ERR_PLAN_TERMS, FOGPAY_ERR_UNKNOWN_PAYEE,
                                  FOGPAY_ERR_PLAN_TERMS};
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &bad[i], NOW_MS), want[i]);
    }
    fogpay_plan got;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "other", NOW_MS, &got, NULL),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"a limit plan's payees are stored with its version", test_payees_stored},
        {"in arrears: unnamed payees refused, named paid, lifted when cleared",
         test_limited_then_lifted},
        {"in arrears: the device's instalment passes the limit", test_instalment_passes},
        {"the limit follows the version in force", test_version_in_force},
        {"payee sets that cannot be are refused", test_payees_refused},
    };
    return ledger_fixture_run("plan_limit", tests, sizeof tests / sizeof tests[0]);
}
