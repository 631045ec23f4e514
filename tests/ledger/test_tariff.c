/*
 * test_tariff.c - tariffs and metered use in the ledger (ledger_tariff.c,
 * ledger_meter.c) on SQLite files: tariff versions, meter bindings, the
 * settlement of readings of bound meters, every refusal leaving money and
 * meter state alone, and the property of the charge arithmetic: over
 * random prices and random reading sequences the charges sum to
 * floor(total * num / den) exactly, through fogpay_tariff_charge() and
 * through the ledger's own settlement.
 *
 * The random sequences come from a fixed seed (printed when a property
 * fails), so a failure repeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_fixture.h"

__extension__ typedef unsigned __int128 u128;

/* A small, seeded generator (xorshift64*): the same sequence each run. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* A value in 1..max, of a random magnitude (so small and huge both come). */
static uint64_t rng_magnitude(uint64_t max)
{
    unsigned bits = 1 + (unsigned)(rng_next() % 63);
    uint64_t v = rng_next() >> (64 - bits);
    v = v % max + 1;
    return v;
}

static fogpay_tariff tariff_of(const char *id, const char *device, uint64_t num, uint64_t den,
                               uint64_t minimum, uint64_t effective_ms)
{
    fogpay_tariff t;
    memset(&t, 0, sizeof t);
    snprintf(t.tariff_id, sizeof t.tariff_id, "%s", id);
    snprintf(t.device_id, sizeof t.device_id, "%s", device);
    snprintf(t.unit, sizeof t.unit, "kWh");
    t.price_num = num;
    t.price_den = den;
    t.minimum_minor = minimum;
    t.currency = EUR;
    t.effective_ms = effective_ms;
    return t;
}

/* A reading of dev-a's meter m1 (seq, quantity), settled at now_ms. */
static fogpay_error reading(fogpay_ledger *l, uint64_t seq, uint64_t quantity, uint64_t now_ms,
                            fogpay_usage_settlement *out)
{
    fogpay_usage u = usage_of("dev-a", seq, quantity);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", seq, hash);
    fogpay_usage_settlement s;
    return fogpay_ledger_usage_settle(l, &u, hash, now_ms, out ? out : &s);
}

/* A fixture with dev-a funded and its meter m1 bound to tariff "t" of
 * dev-b at num/den with a minimum. */
static void bound_fixture(fixture *fx, uint64_t num, uint64_t den, uint64_t minimum, uint64_t funds)
{
    fixture_open(fx);
    fund(fx->l, "dev-a", EUR, funds);
    fogpay_tariff t = tariff_of("t", "dev-b", num, den, minimum, NOW_MS - 1000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_tariff_define(fx->l, &t, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_meter_bind(fx->l, "dev-a", "m1", "t", 0, NULL, NOW_MS),
                          FOGPAY_OK);
}

/* The arithmetic alone: many prices, many readings, every spacing. */
static void test_charge_property(void)
{
    rng_state = 0x5eed7a41ffull;
    for (int round = 0; round < 2000; round++) {
        uint64_t seed = rng_state;
        uint64_t num = rng_magnitude(FOGPAY_STORED_INT_MAX);
        uint64_t den = rng_magnitude(FOGPAY_STORED_INT_MAX);
        uint64_t carry = 0;
        u128 sum = 0;
        u128 total = 0;
        int readings = 1 + (int)(rng_next() % 40);
        bool refused = false;
        for (int i = 0; i < readings && !refused; i++) {
            uint64_t delta = rng_magnitude(FOGPAY_METER_DELTA_MAX);
            uint64_t charge = 0;
            uint64_t next = 0;
            fogpay_error err = fogpay_tariff_charge(delta, num, den, carry, &charge, &next);
            u128 exact = ((u128)delta * num + carry) / den;
            if (exact > FOGPAY_AMOUNT_MAX_MINOR) {
                CU_ASSERT_EQUAL(err, FOGPAY_ERR_CHARGE_TOO_LARGE);
                refused = true;
                continue;
            }
            CU_ASSERT_EQUAL_FATAL(err, FOGPAY_OK);
            CU_ASSERT(next < den);
            carry = next;
            sum += charge;
            total += delta;
        }
        u128 expected = total * num / den;
        if (sum != expected) {
            printf("\nproperty failed: round %d seed %llu num %llu den %llu\n", round,
                   (unsigned long long)seed, (unsigned long long)num, (unsigned long long)den);
        }
        CU_ASSERT(sum == expected);
    }
}

/* Bounds: the largest values do not overflow, a charge over the largest
 * amount is refused, arguments out of range are refused. */
static void test_charge_bounds(void)
{
    uint64_t charge = 7;
    uint64_t carry = 7;
    uint64_t max = FOGPAY_STORED_INT_MAX;
    CU_ASSERT_EQUAL(fogpay_tariff_charge(max, max, 1, 0, &charge, &carry),
                    FOGPAY_ERR_CHARGE_TOO_LARGE);
    CU_ASSERT_EQUAL(charge, 7);
    /* max * 1000 does not fit 64 bits; the charge, 1000, is exact. */
    CU_ASSERT_EQUAL(fogpay_tariff_charge(max, 1000, max, max - 1, &charge, &carry), FOGPAY_OK);
    CU_ASSERT_EQUAL(charge, 1000);
    CU_ASSERT_EQUAL(carry, max - 1);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(FOGPAY_AMOUNT_MAX_MINOR, 1, 1, 0, &charge, &carry),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(FOGPAY_AMOUNT_MAX_MINOR, 1, 1, 0, &charge, &carry),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(FOGPAY_AMOUNT_MAX_MINOR + 1, 1, 1, 0, &charge, &carry),
                    FOGPAY_ERR_CHARGE_TOO_LARGE);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(1, 0, 1, 0, &charge, &carry), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(1, 1, 0, 0, &charge, &carry), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(1, 1, 5, 5, &charge, &carry), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(max + 1, 1, 5, 0, &charge, &carry),
                    FOGPAY_ERR_FIELD_RANGE);
    /* 0.3917 EUR per kWh read in Wh: 3917/100000 cents per Wh. 1 kWh is
     * 39.17 cents: 39 charged, 0.17 carried; 2 kWh more make 3 kWh, 117.51
     * cents: 78 charged, 0.51 carried. */
    CU_ASSERT_EQUAL(fogpay_tariff_charge(1000, 3917, 100000, 0, &charge, &carry), FOGPAY_OK);
    CU_ASSERT_EQUAL(charge, 39);
    CU_ASSERT_EQUAL(carry, 17000);
    CU_ASSERT_EQUAL(fogpay_tariff_charge(2000, 3917, 100000, carry, &charge, &carry), FOGPAY_OK);
    CU_ASSERT_EQUAL(charge, 78);
    CU_ASSERT_EQUAL(carry, 51000);
}

/* Through the ledger: random prices and readings settle as usage charges
 * whose sum, and the payee's balance, are floor(total * num / den). */
static void test_settle_property(void)
{
    rng_state = 0xfeedbeefull;
    for (int round = 0; round < 12; round++) {
        uint64_t seed = rng_state;
        uint64_t den = rng_magnitude(100000000);
        uint64_t num = rng_magnitude(den * 5); /* up to 5 cents a unit */
        fixture fx;
        bound_fixture(&fx, num, den, 0, FOGPAY_AMOUNT_MAX_MINOR);
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
        uint64_t quantity = rng_next() % 1000000;
        uint64_t total = 0;
        u128 sum = 0;
        CU_ASSERT_EQUAL(reading(fx.l, 1, quantity, NOW_MS, NULL), FOGPAY_OK); /* the baseline */
        for (uint64_t seq = 2; seq < 40; seq++) {
            uint64_t delta = 1 + rng_next() % (rng_next() % 2 ? 50 : 5000000);
            quantity += delta;
            total += delta;
            fogpay_usage_settlement s;
            CU_ASSERT_EQUAL_FATAL(reading(fx.l, seq, quantity, NOW_MS + seq * 60000, &s),
                                  FOGPAY_OK);
            CU_ASSERT(s.bound);
            CU_ASSERT_EQUAL(s.consumption, delta);
            CU_ASSERT_EQUAL(s.charge_minor, s.charge_minor ? s.transfer.amount_minor : 0);
            sum += s.charge_minor;
        }
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
        u128 expected = (u128)total * num / den;
        if (sum != expected) {
            printf("\nsettlement property failed: round %d seed %llu\n", round,
                   (unsigned long long)seed);
        }
        CU_ASSERT(sum == expected);
        CU_ASSERT(balance_of(fx.l, "dev-b", EUR) == (int64_t)expected);
        CU_ASSERT(balance_of(fx.l, "dev-a", EUR) ==
                  (int64_t)(FOGPAY_AMOUNT_MAX_MINOR - (uint64_t)expected));
        CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
        fogpay_ledger_close(fx.l);
    }
}

/* A charge: kind 9 from the payer's wallet to the payee, naming the
 * reading (device, seq, hash), the meter and the tariff. */
static void test_charge_transfer(void)
{
    fixture fx;
    bound_fixture(&fx, 3917, 100000, 0, 10000);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL(reading(fx.l, 1, 100000, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT(s.bound); /* the baseline: stored, nothing consumed or charged */
    CU_ASSERT_EQUAL(s.consumption, 0);
    CU_ASSERT_EQUAL(s.charge_minor, 0);
    CU_ASSERT_EQUAL(reading(fx.l, 2, 130000, NOW_MS + 60000, &s), FOGPAY_OK);
    CU_ASSERT(s.bound);
    CU_ASSERT_EQUAL(s.consumption, 30000);
    CU_ASSERT_EQUAL(s.charge_minor, 1175); /* 30 kWh at 0.3917 EUR: 11.751 EUR */
    CU_ASSERT_STRING_EQUAL(s.tariff_id, "t");
    CU_ASSERT_EQUAL(s.balance_after_minor, 10000 - 1175);
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, s.transfer.position, &t, NULL),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_USAGE_CHARGE);
    CU_ASSERT_EQUAL(t.amount_minor, 1175);
    CU_ASSERT_STRING_EQUAL(t.device_id, "dev-a");
    CU_ASSERT_EQUAL(t.seq, 2);
    CU_ASSERT_STRING_EQUAL(t.meter_id, "m1");
    CU_ASSERT_STRING_EQUAL(t.tariff_id, "t");
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL(fogpay_transfer_encode(&t, record, sizeof record, &len), FOGPAY_OK);
    /* A reading with no whole cent yet: stored with its consumption. */
    CU_ASSERT_EQUAL(reading(fx.l, 3, 130001, NOW_MS + 120000, &s), FOGPAY_OK);
    CU_ASSERT(s.bound);
    CU_ASSERT_EQUAL(s.consumption, 1);
    CU_ASSERT_EQUAL(s.charge_minor, 0);
    fogpay_meter m;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(fx.l, "dev-a", "m1", &m), FOGPAY_OK);
    CU_ASSERT(m.has_last);
    CU_ASSERT_EQUAL(m.last_quantity, 130001);
    CU_ASSERT_EQUAL(m.carry, 10000 + 3917);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A refused reading moves no money and leaves the meter's state; the next
 * good reading charges the consumption since the last settled one once. */
static void refused_then_charged(fixture *fx, uint64_t seq, uint64_t quantity,
                                 fogpay_error expected)
{
    snapshot before;
    snapshot_take(fx, &before);
    fogpay_meter m_before;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(fx->l, "dev-a", "m1", &m_before), FOGPAY_OK);
    uint64_t events = event_head(fx->l);
    CU_ASSERT_EQUAL(reading(fx->l, seq, quantity, NOW_MS + seq * 60000, NULL), expected);
    CU_ASSERT(snapshot_same(fx, &before));
    CU_ASSERT_EQUAL(event_head(fx->l), events);
    fogpay_meter m;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(fx->l, "dev-a", "m1", &m), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(&m, &m_before, sizeof m), 0);
}

static void test_reading_refusals(void)
{
    fixture fx;
    bound_fixture(&fx, 1, 1, 0, 100);
    CU_ASSERT_EQUAL(reading(fx.l, 1, 1000, NOW_MS, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 2, 1010, NOW_MS, NULL), FOGPAY_OK); /* 10 paid */
    refused_then_charged(&fx, 3, 999, FOGPAY_ERR_READING_BACKWARDS);
    refused_then_charged(&fx, 4, 1010, FOGPAY_ERR_READING_REPEATED);
    refused_then_charged(&fx, 5, 1010 + FOGPAY_METER_DELTA_MAX + 1, FOGPAY_ERR_READING_IMPLAUSIBLE);
    refused_then_charged(&fx, 6, 1010 + 91, FOGPAY_ERR_CHARGE_UNPAID); /* 91 over the 90 left */
    fogpay_usage u = usage_of("dev-a", 7, 1020);
    snprintf(u.unit, sizeof u.unit, "Wh");
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 7, hash);
    fogpay_usage_settlement s;
    snapshot before;
    snapshot_take(&fx, &before);
    CU_ASSERT_EQUAL(fogpay_ledger_usage_settle(fx.l, &u, hash, NOW_MS, &s),
                    FOGPAY_ERR_UNIT_MISMATCH);
    CU_ASSERT(snapshot_same(&fx, &before));
    /* Funded again, the next reading charges from 1010, once. */
    fund(fx.l, "dev-a", EUR, 100);
    CU_ASSERT_EQUAL(reading(fx.l, 8, 1010 + 95, NOW_MS + 600000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.consumption, 95);
    CU_ASSERT_EQUAL(s.charge_minor, 95);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 200 - 10 - 95);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 105);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A charge over the largest single amount is refused, nothing moves. */
static void test_charge_too_large(void)
{
    fixture fx;
    bound_fixture(&fx, FOGPAY_AMOUNT_MAX_MINOR, 1, 0, 100);
    CU_ASSERT_EQUAL(reading(fx.l, 1, 0, NOW_MS, NULL), FOGPAY_OK);
    refused_then_charged(&fx, 2, 2, FOGPAY_ERR_CHARGE_TOO_LARGE);
    fogpay_ledger_close(fx.l);
}

/* The minimum charge applies to a reading whose charge is positive. */
static void test_minimum_charge(void)
{
    fixture fx;
    bound_fixture(&fx, 1, 10, 5, 1000);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL(reading(fx.l, 1, 0, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 2, 9, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 0); /* 0.9: nothing, no minimum */
    CU_ASSERT_EQUAL(reading(fx.l, 3, 20, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 5); /* 2.0 raised to the minimum 5 */
    CU_ASSERT_EQUAL(reading(fx.l, 4, 90, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 7); /* 7.0, over the minimum */
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 12);
    fogpay_ledger_close(fx.l);
}

/* Versions: append-only; a reading is priced at the version applying at
 * its time, and a new version starts the carry at 0. */
static void test_tariff_versions(void)
{
    fixture fx;
    bound_fixture(&fx, 1, 3, 0, 1000);
    fogpay_tariff early = tariff_of("t", "dev-b", 2, 1, 0, NOW_MS - 2000);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &early, NOW_MS), FOGPAY_ERR_FIELD_RANGE);
    fogpay_tariff same = tariff_of("t", "dev-b", 2, 1, 0, NOW_MS - 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &same, NOW_MS), FOGPAY_ERR_EXISTS);
    fogpay_tariff later = tariff_of("t", "dev-b", 2, 1, 0, NOW_MS + 3600000);
    uint64_t events = event_head(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &later, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), events + 1);
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, events + 1, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_TARIFF);
    CU_ASSERT_STRING_EQUAL(e.price, "2/1");
    CU_ASSERT_STRING_EQUAL(e.tariff_id, "t");
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 3600000);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL(reading(fx.l, 1, 0, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 2, 2, NOW_MS + 60000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 0); /* 2/3: carried */
    CU_ASSERT_EQUAL(reading(fx.l, 3, 3, NOW_MS + 3600000, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 2); /* 1 unit at 2/1; the 2/3 of before is not charged */
    fogpay_tariff got;
    uint64_t until = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_at(fx.l, "t", NOW_MS, &got, &until), FOGPAY_OK);
    CU_ASSERT_EQUAL(got.price_den, 3);
    CU_ASSERT_EQUAL(until, NOW_MS + 3600000);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_at(fx.l, "t", NOW_MS - 5000, &got, NULL),
                    FOGPAY_ERR_TARIFF_NOT_EFFECTIVE);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_at(fx.l, "nope", NOW_MS, &got, NULL),
                    FOGPAY_ERR_TARIFF_UNKNOWN);
    fogpay_ledger_close(fx.l);
}

/* Definitions and bindings refused with their reasons; a payee entity's
 * account receives the charges. */
static void test_define_and_bind(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-a", EUR, 1000);
    fogpay_tariff t = tariff_of("t", "dev-x", 1, 1, 0, NOW_MS);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_ERR_NOT_FOUND);
    t = tariff_of("bad id", "dev-b", 1, 1, 0, NOW_MS);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_ERR_TEXT_INVALID);
    t = tariff_of("t", "dev-b", 0, 1, 0, NOW_MS);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_ERR_FIELD_RANGE);
    t = tariff_of("own", "dev-a", 1, 1, 0, NOW_MS);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_OK);
    t = tariff_of("later", "dev-b", 1, 1, 0, NOW_MS + 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_OK);
    t = tariff_of("ent", "dev-b", 1, 1, 0, NOW_MS);
    snprintf(t.payee_entity, sizeof t.payee_entity, "%s", fx.entity_b);
    CU_ASSERT_EQUAL(fogpay_ledger_tariff_define(fx.l, &t, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "nope", 0, NULL, NOW_MS),
                    FOGPAY_ERR_TARIFF_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "later", 0, NULL, NOW_MS),
                    FOGPAY_ERR_TARIFF_NOT_EFFECTIVE);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "own", 0, NULL, NOW_MS),
                    FOGPAY_ERR_TARIFF_OWN_PAYEE);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-z", "m1", "ent", 0, NULL, NOW_MS),
                    FOGPAY_ERR_UNKNOWN_DEVICE);
    fogpay_meter m;
    CU_ASSERT_EQUAL(fogpay_ledger_meter_get(fx.l, "dev-a", "m1", &m), FOGPAY_ERR_METER_UNKNOWN);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 9, hash);
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "ent", 9, hash, NOW_MS),
                    FOGPAY_OK);
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, event_head(fx.l), &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_METER_BOUND);
    CU_ASSERT_EQUAL(e.seq, 9);
    CU_ASSERT_STRING_EQUAL(e.meter_id, "m1");
    CU_ASSERT_STRING_EQUAL(e.tariff_id, "ent");
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL(reading(fx.l, 10, 5, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 11, 25, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.charge_minor, 20);
    uint64_t account = 0;
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &account), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, account, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, 20);
    /* Rebound: the baseline stays 25. */
    CU_ASSERT_EQUAL(fogpay_ledger_meter_bind(fx.l, "dev-a", "m1", "ent", 0, NULL, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 12, 30, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.consumption, 5);
    CU_ASSERT_EQUAL(s.charge_minor, 5);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A settlement rolled back with its savepoint (a group's refused member)
 * takes the hot meter state back with it. */
static void test_rollback_restores_state(void)
{
    fixture fx;
    bound_fixture(&fx, 1, 1, 0, 1000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 1, 100, NOW_MS, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_savepoint(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(reading(fx.l, 2, 150, NOW_MS, NULL), FOGPAY_OK);
    fogpay_ledger_rollback_to(fx.l);
    fogpay_usage_settlement s;
    CU_ASSERT_EQUAL(reading(fx.l, 3, 160, NOW_MS, &s), FOGPAY_OK);
    CU_ASSERT_EQUAL(s.consumption, 60);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-b", EUR), 60);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"charge arithmetic: sum of charges is floor(total * num / den)", test_charge_property},
        {"charge arithmetic: bounds and overflow refused", test_charge_bounds},
        {"settled readings sum to floor(total * num / den)", test_settle_property},
        {"a charge is a kind 9 transfer naming reading, meter and tariff", test_charge_transfer},
        {"refused readings move nothing; the next charges once", test_reading_refusals},
        {"a charge over the largest amount is refused", test_charge_too_large},
        {"the minimum charge", test_minimum_charge},
        {"tariff versions: append-only, priced at the time, carry restarts", test_tariff_versions},
        {"definitions and bindings refused; an entity payee", test_define_and_bind},
        {"a rolled-back settlement restores the meter's state", test_rollback_restores_state},
    };
    return ledger_fixture_run("ledger_tariff", tests, sizeof tests / sizeof tests[0]);
}
