/*
 * test_queries.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: listing transfers: filters and paging.
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

/* Listing. */

typedef struct collected {
    uint64_t positions[64];
    size_t count;
    size_t stop_after; /* 0: never stop */
} collected;

static int collect(void *ctx, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected *c = ctx;
    (void)hash;
    if (c->count < sizeof c->positions / sizeof c->positions[0]) {
        c->positions[c->count] = t->position;
    }
    c->count++;
    return c->stop_after != 0 && c->count >= c->stop_after;
}

static collected list(fogpay_ledger *l, const fogpay_transfer_filter *f)
{
    collected c;
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(l, f, collect, &c), FOGPAY_OK);
    return c;
}

static void test_transfer_list(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    /* Positions: 1 funds a, 2 funds c, 3 a pays b, 4 c pays b, 5 b pays a,
     * 6 c pays a; A holds dev-a, B holds dev-b and dev-c. */
    fund(fx.l, "dev-a", EUR, 1000);
    fund(fx.l, "dev-c", EUR, 1000);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-a", 1, "dev-b", 0, 1, EUR, NOW_MS + 10, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-c", 1, "dev-b", 0, 1, EUR, NOW_MS + 20, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-b", 1, "dev-a", 0, 1, EUR, NOW_MS + 30, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(pay_full(fx.l, "dev-c", 2, "dev-a", 0, 1, EUR, NOW_MS + 40, NULL), FOGPAY_OK);

    collected c = list(fx.l, NULL);
    CU_ASSERT_EQUAL(c.count, 6);
    fogpay_transfer_filter f = {.device_id = "dev-a"};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 4);
    CU_ASSERT_EQUAL(c.positions[0], 1);
    CU_ASSERT_EQUAL(c.positions[1], 3);
    CU_ASSERT_EQUAL(c.positions[2], 5);
    CU_ASSERT_EQUAL(c.positions[3], 6);
    f = (fogpay_transfer_filter){.device_id = "dev-b"};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 3);
    /* By entity. */
    f = (fogpay_transfer_filter){.entity_id = fx.entity_a};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 4);
    f = (fogpay_transfer_filter){.entity_id = fx.entity_b};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 5);
    /* Device and entity together. */
    f = (fogpay_transfer_filter){.device_id = "dev-a", .entity_id = fx.entity_b};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 3);
    /* Time range [from, to). */
    f = (fogpay_transfer_filter){.from_ms = NOW_MS + 20, .to_ms = NOW_MS + 40};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[0], 4);
    CU_ASSERT_EQUAL(c.positions[1], 5);
    /* Paging. */
    f = (fogpay_transfer_filter){.limit = 2};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[1], 2);
    f.after_position = 2;
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[0], 3);
    f.after_position = 6;
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 0);
    f = (fogpay_transfer_filter){.device_id = "dev-a", .after_position = 3, .limit = 1};
    c = list(fx.l, &f);
    CU_ASSERT_EQUAL(c.count, 1);
    CU_ASSERT_EQUAL(c.positions[0], 5);
    /* The visitor stops the walk. */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, NULL, collect, &c), FOGPAY_OK);
    CU_ASSERT_EQUAL(c.count, 2);
    /* Unknown device or entity: nothing; bad arguments refused. */
    f = (fogpay_transfer_filter){.device_id = "nobody"};
    CU_ASSERT_EQUAL(list(fx.l, &f).count, 0);
    f = (fogpay_transfer_filter){.limit = FOGPAY_TRANSFER_LIST_MAX + 1};
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, &f, collect, &c), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_list(fx.l, NULL, NULL, &c), FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"transfer list filters and paging", test_transfer_list},
    };
    return ledger_fixture_run("ledger_queries", tests, sizeof tests / sizeof tests[0]);
}
