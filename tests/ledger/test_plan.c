/*
 * test_plan.c - financing plans in the ledger (ledger_plan.c,
 * ledger_schedule.c) on SQLite files: the schedule's arithmetic (a worked
 * example, and the property that over random plans the instalments sum to
 * principal plus interest exactly, the interest being the stated formula),
 * the usage-dependent part, plan versions (append-only, effective-dated,
 * each an event), closing, and every refusal leaving money and the chains
 * alone.
 *
 * The random plans come from a fixed seed (printed when a property
 * fails), so a failure repeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_fixture.h"

__extension__ typedef unsigned __int128 u128;

#define MONTH_MS (30 * DAY_MS)

/* A small, seeded generator (xorshift64*): the same sequence each run. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* A value in lo..hi. */
static uint64_t rng_between(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

/* dev-a's plan of id, lent by lender: 1200.00 EUR at 9.5 % in 12 months. */
static fogpay_plan plan_of(const char *id, const char *device, const char *lender)
{
    fogpay_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.plan_id, sizeof p.plan_id, "%s", id);
    snprintf(p.device_id, sizeof p.device_id, "%s", device);
    snprintf(p.lender_entity, sizeof p.lender_entity, "%s", lender);
    p.currency = EUR;
    p.principal_minor = 120000;
    p.rate_bp = 950;
    p.instalment_count = 12;
    p.period_ms = MONTH_MS;
    p.grace_ms = 3 * DAY_MS;
    p.collect = true;
    p.effective_ms = NOW_MS;
    return p;
}

/* The worked example of README.md: 1200.00 EUR at 950 bp over 12 periods
 * of 30 days is floor(120000 * 950 * 360 / (10000 * 365)) = 11243 cents
 * of interest; 11 instalments of 10000 + 936, the last 10000 + 947. */
static void test_schedule_example(void)
{
    fogpay_plan p = plan_of("loan", "dev-a", "ent");
    uint64_t interest = 0;
    CU_ASSERT_EQUAL(fogpay_plan_interest(&p, &interest), FOGPAY_OK);
    CU_ASSERT_EQUAL(interest, 11243);
    fogpay_instalment in;
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 1, 0, &in), FOGPAY_OK);
    CU_ASSERT_EQUAL(in.number, 1);
    CU_ASSERT_EQUAL(in.due_ms, NOW_MS + MONTH_MS);
    CU_ASSERT_EQUAL(in.principal_minor, 10000);
    CU_ASSERT_EQUAL(in.interest_minor, 936);
    CU_ASSERT_EQUAL(in.amount_minor, 10936);
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 12, 0, &in), FOGPAY_OK);
    CU_ASSERT_EQUAL(in.due_ms, NOW_MS + 12 * MONTH_MS);
    CU_ASSERT_EQUAL(in.interest_minor, 947);
    CU_ASSERT_EQUAL(in.amount_minor, 10947);
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 0, 0, &in), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 13, 0, &in), FOGPAY_ERR_FIELD_RANGE);
}

/* One random plan's instalments: they sum to principal plus the formula's
 * interest exactly, all but the last are equal, the last is the largest
 * by less than count minor units of each part. */
static bool schedule_holds(const fogpay_plan *p)
{
    u128 formula = (u128)p->principal_minor * p->rate_bp * p->instalment_count * p->period_ms /
                   ((u128)10000 * FOGPAY_PLAN_YEAR_MS);
    uint64_t interest = 0;
    if (fogpay_plan_interest(p, &interest) != FOGPAY_OK || interest != (uint64_t)formula) {
        return false;
    }
    u128 sum = 0;
    fogpay_instalment first = {0};
    for (uint32_t i = 1; i <= p->instalment_count; i++) {
        fogpay_instalment in;
        if (fogpay_plan_instalment(p, i, 0, &in) != FOGPAY_OK ||
            in.amount_minor != in.principal_minor + in.interest_minor ||
            in.due_ms != p->effective_ms + i * p->period_ms) {
            return false;
        }
        if (i == 1) {
            first = in;
        } else if (i < p->instalment_count && in.amount_minor != first.amount_minor) {
            return false;
        } else if (i == p->instalment_count &&
                   (in.principal_minor - first.principal_minor >= p->instalment_count ||
                    in.interest_minor - first.interest_minor >= p->instalment_count)) {
            return false;
        }
        sum += in.amount_minor;
    }
    return sum == (u128)p->principal_minor + interest;
}

static void test_schedule_property(void)
{
    uint64_t seed = 0x5eed14f1aull;
    rng_state = seed;
    for (int round = 0; round < 2000; round++) {
        fogpay_plan p = plan_of("loan", "dev-a", "ent");
        p.principal_minor = rng_between(1, FOGPAY_AMOUNT_MAX_MINOR);
        if (round % 3 == 0) {
            p.principal_minor = rng_between(1, 1000); /* fewer units than instalments too */
        }
        p.rate_bp = (uint32_t)rng_between(0, FOGPAY_PLAN_RATE_BP_MAX);
        p.instalment_count = (uint32_t)rng_between(1, FOGPAY_PLAN_INSTALMENTS_MAX);
        p.period_ms = rng_between(FOGPAY_PLAN_PERIOD_MS_MIN, FOGPAY_PLAN_PERIOD_MS_MAX);
        p.grace_ms = 0;
        uint64_t interest = 0;
        fogpay_error err = fogpay_plan_interest(&p, &interest);
        if (err == FOGPAY_ERR_CHARGE_TOO_LARGE) {
            continue; /* more interest than one amount holds: refused, checked below */
        }
        if (err != FOGPAY_OK || !schedule_holds(&p)) {
            printf("\n  schedule property failed, seed %llx round %d\n", (unsigned long long)seed,
                   round);
            CU_FAIL("the instalments do not sum to principal plus interest");
            return;
        }
    }
    fogpay_plan huge = plan_of("loan", "dev-a", "ent");
    huge.principal_minor = FOGPAY_AMOUNT_MAX_MINOR;
    huge.rate_bp = FOGPAY_PLAN_RATE_BP_MAX;
    huge.instalment_count = FOGPAY_PLAN_INSTALMENTS_MAX;
    huge.period_ms = FOGPAY_PLAN_PERIOD_MS_MAX;
    uint64_t interest = 0;
    CU_ASSERT_EQUAL(fogpay_plan_interest(&huge, &interest), FOGPAY_ERR_CHARGE_TOO_LARGE);
}

/* Two devices with the same plan and different metered usage pay
 * different instalments, each floor(units * num / den) over the fixed. */
static void test_usage_interest(void)
{
    fogpay_plan p = plan_of("loan", "dev-a", "ent");
    p.usage_num = 3;
    p.usage_den = 100; /* 0.03 cents a Wh: 30 cents a kWh */
    snprintf(p.meter_id, sizeof p.meter_id, "m1");
    fogpay_instalment light;
    fogpay_instalment heavy;
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 1, 12345, &light), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_plan_instalment(&p, 1, 250001, &heavy), FOGPAY_OK);
    CU_ASSERT_EQUAL(light.usage_minor, 370);
    CU_ASSERT_EQUAL(heavy.usage_minor, 7500);
    CU_ASSERT_EQUAL(light.amount_minor, 10936 + 370);
    CU_ASSERT_EQUAL(heavy.amount_minor, 10936 + 7500);
    fogpay_plan half = p;
    snprintf(half.meter_id, sizeof half.meter_id, "%s", "");
    CU_ASSERT_EQUAL(fogpay_plan_check(&half), FOGPAY_ERR_PLAN_TERMS);
    half = p;
    half.usage_den = 0;
    CU_ASSERT_EQUAL(fogpay_plan_check(&half), FOGPAY_ERR_PLAN_TERMS);
}

/* Terms out of their ranges are refused, each by plan_terms. */
static void test_terms_refused(void)
{
    fogpay_plan base = plan_of("loan", "dev-a", "ent");
    fogpay_plan bad[7];
    for (size_t i = 0; i < 7; i++) {
        bad[i] = base;
    }
    bad[0].principal_minor = 0;
    bad[1].principal_minor = FOGPAY_AMOUNT_MAX_MINOR + 1;
    bad[2].rate_bp = FOGPAY_PLAN_RATE_BP_MAX + 1;
    bad[3].instalment_count = FOGPAY_PLAN_INSTALMENTS_MAX + 1;
    bad[4].period_ms = FOGPAY_PLAN_PERIOD_MS_MIN - 1;
    bad[5].grace_ms = base.period_ms + 1;
    bad[6].shortfall = 2;
    for (size_t i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(fogpay_plan_check(&bad[i]), FOGPAY_ERR_PLAN_TERMS);
    }
    CU_ASSERT_EQUAL(fogpay_plan_check(&base), FOGPAY_OK);
}

/* A plan's events: kind 11 with the terms, 12 closing. */
static void check_plan_event(fogpay_ledger *l, uint64_t position, const fogpay_plan *p)
{
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position, &e, NULL), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(e.plan_id, p->plan_id);
    CU_ASSERT_STRING_EQUAL(e.device_id, p->device_id);
    CU_ASSERT_EQUAL(e.effective_ms, p->effective_ms);
    if (p->closed) {
        CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_PLAN_CLOSED);
        CU_ASSERT_EQUAL(e.principal_minor, 0);
        return;
    }
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_PLAN);
    CU_ASSERT_STRING_EQUAL(e.entity_id, p->lender_entity);
    CU_ASSERT_EQUAL(e.currency, p->currency);
    CU_ASSERT_EQUAL(e.principal_minor, p->principal_minor);
    CU_ASSERT_EQUAL(e.plan_schedule[0], p->rate_bp);
    CU_ASSERT_EQUAL(e.plan_schedule[1], p->instalment_count);
    CU_ASSERT_EQUAL(e.plan_schedule[2], p->period_ms);
    CU_ASSERT_EQUAL(e.plan_terms[0], p->grace_ms);
    CU_ASSERT_EQUAL(e.plan_terms[1], p->shortfall);
    CU_ASSERT_EQUAL(e.plan_terms[2], p->collect ? 1 : 0);
}

static int count_visit(void *ctx, const fogpay_plan *plan)
{
    (void)plan;
    (*(int *)ctx)++;
    return 0;
}

/* Versions: the first creates, a later one restates, the one applying at
 * a time is found; closing ends the plan; each is an event. */
static void test_plan_versions(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = plan_of("loan", "dev-a", fx.entity_b);
    uint64_t events = event_head(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    check_plan_event(fx.l, events + 1, &p);
    fogpay_plan later = p;
    later.effective_ms = NOW_MS + 4 * MONTH_MS;
    later.principal_minor = 80000;
    later.instalment_count = 8;
    later.usage_num = 1;
    later.usage_den = 1000;
    snprintf(later.meter_id, sizeof later.meter_id, "m1");
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &later, NOW_MS + 1), FOGPAY_OK);
    check_plan_event(fx.l, events + 2, &later);
    fogpay_event e;
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, events + 2, &e, NULL), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(e.price, "1/1000");
    CU_ASSERT_STRING_EQUAL(e.meter_id, "m1");

    fogpay_plan got;
    uint64_t until = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "loan", NOW_MS + MONTH_MS, &got, &until),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(got.principal_minor, 120000);
    CU_ASSERT_EQUAL(until, later.effective_ms);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "loan", later.effective_ms, &got, &until),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(got.principal_minor, 80000);
    CU_ASSERT_EQUAL(got.usage_den, 1000);
    CU_ASSERT_STRING_EQUAL(got.lender_entity, fx.entity_b);
    CU_ASSERT_EQUAL(until, UINT64_MAX);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "loan", NOW_MS - 1, &got, NULL),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "none", NOW_MS, &got, NULL),
                    FOGPAY_ERR_PLAN_UNKNOWN);

    uint64_t close_ms = NOW_MS + 6 * MONTH_MS;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "loan", close_ms, NOW_MS + 2), FOGPAY_OK);
    fogpay_plan closed = later;
    closed.closed = true;
    closed.effective_ms = close_ms;
    check_plan_event(fx.l, events + 3, &closed);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_at(fx.l, "loan", close_ms, &got, NULL), FOGPAY_OK);
    CU_ASSERT_TRUE(got.closed);
    int all = 0;
    int of_b = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_list(fx.l, NULL, count_visit, &all), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_list(fx.l, "dev-b", count_visit, &of_b), FOGPAY_OK);
    CU_ASSERT_EQUAL(all, 3);
    CU_ASSERT_EQUAL(of_b, 0);
    uint64_t checked = 0;
    uint64_t bad = 0;
    char problem[256];
    CU_ASSERT_EQUAL(verify(fx.l, &checked, &bad, problem, sizeof problem), FOGPAY_OK);
    CU_ASSERT_EQUAL(bad, 0);
    fogpay_ledger_close(fx.l);
}

/* Every refusal: its reason, and nothing written (balances, both chains). */
static void test_plan_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = plan_of("loan", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    snapshot before;
    snapshot_take(&fx, &before);
    uint64_t events = event_head(fx.l);

    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_ERR_EXISTS);
    fogpay_plan v = p;
    v.effective_ms = NOW_MS - 1;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_PLAN_NOT_IN_ORDER);
    v = p;
    v.effective_ms = NOW_MS + 1;
    snprintf(v.device_id, sizeof v.device_id, "dev-b");
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_PLAN_DEVICE);
    v = plan_of("other", "dev-x", fx.entity_b);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_UNKNOWN_DEVICE);
    v = plan_of("other", "dev-a", "nobody");
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_NOT_FOUND);
    v = plan_of("other", "dev-a", fx.entity_b);
    v.rate_bp = FOGPAY_PLAN_RATE_BP_MAX + 1;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_PLAN_TERMS);
    v.rate_bp = 0;
    v.closed = true;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_PLAN_TERMS);
    v = plan_of("bad id!", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "none", NOW_MS, NOW_MS),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "loan", NOW_MS, NOW_MS), FOGPAY_ERR_EXISTS);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(event_head(fx.l), events);

    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "loan", NOW_MS + 1, NOW_MS), FOGPAY_OK);
    events = event_head(fx.l);
    v = p;
    v.effective_ms = NOW_MS + 2;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_define(fx.l, &v, NOW_MS), FOGPAY_ERR_PLAN_CLOSED);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_close(fx.l, "loan", NOW_MS + 2, NOW_MS),
                    FOGPAY_ERR_PLAN_CLOSED);
    CU_ASSERT_EQUAL(event_head(fx.l), events);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    /* The table itself refuses a changed or deleted version. */
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE plans SET principal_minor = 1"), 0);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM plans"), 0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM plans"), 2);
    fogpay_ledger_close(fx.l);
}

/* An instalment intent of payer for plan_id to account, settled at now_ms. */
static fogpay_error instalment(fogpay_ledger *l, const char *payer, uint64_t seq,
                               const char *plan_id, uint64_t account, uint64_t amount,
                               uint64_t now_ms, fogpay_transfer *out)
{
    fogpay_intent in = intent_of(payer, seq, NULL, account, amount, EUR);
    snprintf(in.plan_id, sizeof in.plan_id, "%s", plan_id);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of(payer, seq, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    return fogpay_ledger_settle(l, &in, hash, now_ms, out ? out : &t, &balance);
}

/* The device pays all 12 instalments (early, one after another): each a
 * kind 11 transfer to the lender naming plan and number; they sum to
 * principal plus interest exactly; a 13th is refused. */
static void test_instalments_paid(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = plan_of("loan", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 200000);
    uint64_t lender = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &lender), FOGPAY_OK);
    uint64_t sum = 0;
    for (uint32_t i = 1; i <= 12; i++) {
        fogpay_instalment due;
        CU_ASSERT_EQUAL_FATAL(fogpay_plan_instalment(&p, i, 0, &due), FOGPAY_OK);
        fogpay_transfer t;
        CU_ASSERT_EQUAL_FATAL(
            instalment(fx.l, "dev-a", i, "loan", lender, due.amount_minor, NOW_MS, &t), FOGPAY_OK);
        CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_INSTALMENT);
        CU_ASSERT_STRING_EQUAL(t.plan_id, "loan");
        CU_ASSERT_EQUAL(t.instalment, i);
        CU_ASSERT_EQUAL(t.credit_account, lender);
        fogpay_transfer again;
        CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(fx.l, t.position, &again, NULL), FOGPAY_OK);
        CU_ASSERT_STRING_EQUAL(again.plan_id, "loan");
        CU_ASSERT_EQUAL(again.instalment, i);
        sum += due.amount_minor;
    }
    CU_ASSERT_EQUAL(sum, 120000 + 11243);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 200000 - (int64_t)sum);
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 13, "loan", lender, 10947, NOW_MS, NULL),
                    FOGPAY_ERR_PLAN_PAID);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Every refusal of an instalment: its code, and no money moved. */
static void test_instalment_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = plan_of("loan", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    fogpay_plan gone = plan_of("gone", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &gone, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_close(fx.l, "gone", NOW_MS + 1, NOW_MS), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 200000);
    fund(fx.l, "dev-b", EUR, 200000);
    uint64_t lender = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &lender), FOGPAY_OK);
    uint64_t other = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &other), FOGPAY_OK);
    snapshot before;
    snapshot_take(&fx, &before);
    uint64_t at = NOW_MS + 2;
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 1, "loan", lender, 10935, at, NULL),
                    FOGPAY_ERR_INSTALMENT_AMOUNT);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 2, "gone", lender, 10936, at, NULL),
                    FOGPAY_ERR_PLAN_CLOSED);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-b", 3, "loan", lender, 10936, at, NULL),
                    FOGPAY_ERR_PLAN_DEVICE);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 4, "none", lender, 10936, at, NULL),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 5, "loan", other, 10936, at, NULL),
                    FOGPAY_ERR_PLAN_PAYEE);
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 6, "loan", lender, 10936, NOW_MS - 1, NULL),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_TRUE(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(instalment(fx.l, "dev-a", 7, "loan", lender, 10936, at, NULL), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Two devices on the same plan terms with different metered usage pay
 * different instalments, each exactly its fixed part plus
 * floor(units * 3 / 100) for the units of its stored readings. */
static void test_usage_instalments(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t lender = 0;
    const char *devices[2] = {"dev-a", "dev-b"};
    const uint64_t readings[2][2] = {{1000, 5000}, {1000, 250001}};
    const uint64_t usage[2] = {120, 7470};
    for (int d = 0; d < 2; d++) {
        char id[8];
        snprintf(id, sizeof id, "loan-%d", d);
        fogpay_plan p = plan_of(id, devices[d], fx.entity_b);
        p.usage_num = 3;
        p.usage_den = 100;
        snprintf(p.meter_id, sizeof p.meter_id, "m1");
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
        fund(fx.l, devices[d], EUR, 200000);
        for (int r = 0; r < 2; r++) {
            fogpay_usage u = usage_of(devices[d], 100 + (uint64_t)r, readings[d][r]);
            uint8_t hash[FOGPAY_HASH_BYTES];
            intent_hash_of(devices[d], 100 + (uint64_t)r, hash);
            CU_ASSERT_EQUAL_FATAL(
                fogpay_ledger_store_usage(fx.l, &u, hash, NOW_MS + 1000 * (uint64_t)(r + 1)),
                FOGPAY_OK);
        }
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &lender),
                              FOGPAY_OK);
        CU_ASSERT_EQUAL(instalment(fx.l, devices[d], 1, id, lender, 10936, NOW_MS + 3000, NULL),
                        FOGPAY_ERR_INSTALMENT_AMOUNT);
        fogpay_transfer t;
        CU_ASSERT_EQUAL(
            instalment(fx.l, devices[d], 2, id, lender, 10936 + usage[d], NOW_MS + 3000, &t),
            FOGPAY_OK);
        CU_ASSERT_EQUAL(t.amount_minor, 10936 + usage[d]);
    }
    fogpay_ledger_close(fx.l);
}

/* The status of a plan through its life: before any instalment paid up
 * to the first's grace end, one period more per instalment paid, arrears
 * counted once a grace has ended, paid off after the 12th, closed. */
static void test_plan_status(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_plan p = plan_of("loan", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &p, NOW_MS), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 200000);
    uint64_t lender = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &lender), FOGPAY_OK);
    fogpay_plan_status st;
    CU_ASSERT_EQUAL(fogpay_ledger_plan_status(fx.l, "loan", NOW_MS - 1, &st),
                    FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_ledger_plan_status(fx.l, "none", NOW_MS, &st), FOGPAY_ERR_PLAN_UNKNOWN);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_status(fx.l, "loan", NOW_MS + 1, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.paid, 0);
    CU_ASSERT_EQUAL(st.left, 12);
    CU_ASSERT_EQUAL(st.arrears, 0);
    CU_ASSERT_EQUAL(st.lender_account, lender);
    CU_ASSERT_EQUAL(st.paid_up_to_ms, NOW_MS + MONTH_MS + 3 * DAY_MS);
    CU_ASSERT_EQUAL(st.next.number, 1);
    CU_ASSERT_EQUAL(st.next.amount_minor, 10936);
    CU_ASSERT_EQUAL(st.next.due_ms, NOW_MS + MONTH_MS);
    /* Two graces over and nothing paid: two in arrears. */
    uint64_t late = NOW_MS + 2 * MONTH_MS + 3 * DAY_MS;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_status(fx.l, "loan", late, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.arrears, 2);
    CU_ASSERT_EQUAL(st.paid_up_to_ms, NOW_MS + MONTH_MS + 3 * DAY_MS);
    for (uint32_t i = 1; i <= 12; i++) {
        fogpay_instalment due;
        CU_ASSERT_EQUAL_FATAL(fogpay_plan_instalment(&p, i, 0, &due), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(
            instalment(fx.l, "dev-a", i, "loan", lender, due.amount_minor, NOW_MS + i, NULL),
            FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_status(fx.l, "loan", NOW_MS + i, &st), FOGPAY_OK);
        CU_ASSERT_EQUAL(st.paid, i);
        CU_ASSERT_EQUAL(st.left, 12 - i);
        uint64_t periods = i < 12 ? i + 1 : 12;
        CU_ASSERT_EQUAL(st.paid_up_to_ms, NOW_MS + periods * MONTH_MS + 3 * DAY_MS);
        CU_ASSERT_EQUAL(st.next.number, i < 12 ? i + 1 : 0);
    }
    CU_ASSERT_EQUAL(st.arrears, 0);
    fogpay_plan other = plan_of("gone", "dev-a", fx.entity_b);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_define(fx.l, &other, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_close(fx.l, "gone", NOW_MS + 5, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_plan_status(fx.l, "gone", NOW_MS + 6, &st), FOGPAY_OK);
    CU_ASSERT_TRUE(st.closed);
    CU_ASSERT_EQUAL(st.left, 0);
    CU_ASSERT_EQUAL(st.arrears, 0);
    CU_ASSERT_EQUAL(st.next.number, 0);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"schedule: the worked example", test_schedule_example},
        {"schedule: instalments sum to principal plus interest exactly", test_schedule_property},
        {"schedule: usage-dependent interest, exactly", test_usage_interest},
        {"schedule: terms out of range refused", test_terms_refused},
        {"plans: versions, events, closing", test_plan_versions},
        {"plans: refusals write nothing", test_plan_refusals},
        {"instalments: all 12 paid, summing to principal plus interest", test_instalments_paid},
        {"instalments: every refusal, no money moved", test_instalment_refusals},
        {"instalments: usage-dependent, two devices pay differently", test_usage_instalments},
        {"status: paid-up-to, arrears, paid off, closed", test_plan_status},
    };
    return ledger_fixture_run("ledger_plan", tests, sizeof tests / sizeof tests[0]);
}
