/*
 * test_events.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: the event chain: each writer appends its one event, a change whose event
 * fails fails whole, listing, get, head and the sync position.
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

/* The event chain. */

/* Reads the event at position and checks that its hash chains onto the
 * previous event's: SHA-256(hash(n-1) || fogpay_event_encode(event n)). */
static fogpay_event event_at(fogpay_ledger *l, uint64_t position)
{
    fogpay_event e;
    uint8_t hash[FOGPAY_HASH_BYTES], previous[FOGPAY_HASH_BYTES] = {0};
    memset(&e, 0, sizeof e);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position, &e, hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.position, position);
    if (position > 1) {
        fogpay_event before;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(l, position - 1, &before, previous),
                              FOGPAY_OK);
    }
    uint8_t record[FOGPAY_RECORD_BYTES_MAX], expected[FOGPAY_HASH_BYTES];
    size_t record_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_event_encode(&e, record, sizeof record, &record_len), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_sha256_pair(previous, sizeof previous, record, record_len, expected), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(hash, expected, FOGPAY_HASH_BYTES), 0);
    return e;
}

/* Each of the four writers appends exactly one event with its fields; a
 * status set to what it is appends none; a refused change appends none. */
static void test_event_writers(void)
{
    fixture fx;
    fixture_open(&fx);
    /* The fixture registered dev-a and dev-b. */
    CU_ASSERT_EQUAL(event_head(fx.l), 2);
    fogpay_event e = event_at(fx.l, 1);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_REGISTERED);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_a);
    CU_ASSERT_EQUAL(e.role, 0);
    CU_ASSERT_EQUAL(e.effective_ms, 0);
    CU_ASSERT_EQUAL(e.status, 0);
    CU_ASSERT_EQUAL(e.seq, 0);
    e = event_at(fx.l, 2);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-b");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_b);

    /* A status change; the same status again is none. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 10),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 3);
    e = event_at(fx.l, 3);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_STATUS);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 10);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_EQUAL(e.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_STRING_EQUAL(e.entity_id, "");
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 11),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 3);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_ACTIVE, NOW_MS + 12),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 4);
    e = event_at(fx.l, 4);
    CU_ASSERT_EQUAL(e.status, FOGPAY_DEVICE_ACTIVE);

    /* Ownership: a lessee (role 1), then an owner (role 0). */
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "lessee",
                                                   NOW_MS + 1000, NOW_MS + 20),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 5);
    e = event_at(fx.l, 5);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_OWNERSHIP);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 20);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-a");
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_b);
    CU_ASSERT_EQUAL(e.role, 1);
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 1000);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner",
                                                   NOW_MS + 2000, NOW_MS + 21),
                    FOGPAY_OK);
    e = event_at(fx.l, 6);
    CU_ASSERT_EQUAL(e.role, 0);
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 2000);

    /* A stored usage reading, with the reading's message hash. */
    fogpay_usage u = usage_of("dev-b", 5, 1234);
    uint8_t reading_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-b", 5, reading_hash);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS + 30), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 7);
    e = event_at(fx.l, 7);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_USAGE);
    CU_ASSERT_EQUAL(e.time_ms, NOW_MS + 30);
    CU_ASSERT_STRING_EQUAL(e.device_id, "dev-b");
    CU_ASSERT_EQUAL(e.seq, 5);
    CU_ASSERT_STRING_EQUAL(e.meter_id, "m1");
    CU_ASSERT_EQUAL(e.quantity, 1234);
    CU_ASSERT_STRING_EQUAL(e.unit, "kWh");
    CU_ASSERT_EQUAL(memcmp(e.usage_hash, reading_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_STRING_EQUAL(e.entity_id, "");
    /* A reading of quantity 0 is an event without key 7. */
    u = usage_of("dev-b", 6, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS + 31), FOGPAY_OK);
    e = event_at(fx.l, 8);
    CU_ASSERT_EQUAL(e.quantity, 0);

    /* Refused changes append nothing. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "dev-a", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "dev-z", key_one, NULL,
                                                  "le-0000000000000000", NULL, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "nobody", FOGPAY_DEVICE_SUSPENDED, NOW_MS),
        FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_a, "owner", NOW_MS + 1999, NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_ownership_change(fx.l, "dev-c", fx.entity_a, "owner", 0, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    u = usage_of("dev-b", 5, 1234);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_ERR_EXISTS);
    u = usage_of("ghost", 1, 1);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_REVOKED, NOW_MS + 40),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-b", FOGPAY_DEVICE_ACTIVE, NOW_MS + 41),
        FOGPAY_ERR_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);

    /* An event shares its change's transaction: rolled back with it. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    device_new(fx.l, "dev-c", fx.entity_a, NULL);
    CU_ASSERT_EQUAL(event_head(fx.l), 10);
    fogpay_ledger_rollback(fx.l);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-c", &d), FOGPAY_ERR_NOT_FOUND);
    /* Other writers append none. */
    fund(fx.l, "dev-a", EUR, 100);
    fogpay_device_limits limits = {1, 2, 3};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "dev-a", &limits, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 9);
    /* A rotation appends its key event: the new key's kid, the old key's end. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_two, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(event_head(fx.l), 10);
    fogpay_event rotated;
    uint8_t kid_two[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 10, &rotated, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(rotated.kind, FOGPAY_EVENT_KEY_ROTATED);
    CU_ASSERT_EQUAL(rotated.effective_ms, NOW_MS);
    CU_ASSERT_EQUAL(fogpay_key_id(key_two, kid_two), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(rotated.kid, kid_two, FOGPAY_KID_BYTES), 0);
    uint64_t checked = 0;
    CU_ASSERT_EQUAL(verify(fx.l, &checked, NULL, NULL, 0), FOGPAY_OK);
    CU_ASSERT_EQUAL(checked, 1);
    fogpay_ledger_close(fx.l);

    /* The chain cannot be changed through SQL while its triggers stand. */
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE events SET time_ms = 1 WHERE position = 1"),
                        SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM events WHERE position = 9"), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "INSERT INTO events SELECT 12, kind, time_ms, device_id, "
                                          "record, hash FROM events WHERE position = 1"),
                        SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM events"), 10);
}

/* When its event cannot be appended (here a trigger refuses every event),
 * each writer's change fails as a whole and leaves nothing behind. */
static void test_event_append_failure(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, "CREATE TRIGGER events_refuse BEFORE INSERT ON events "
                                            "BEGIN SELECT RAISE(ABORT, 'no events'); END"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "dev-c", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_STORAGE);
    fogpay_device d;
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-c", &d), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_ERR_STORAGE);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a", fx.entity_b, "owner", NOW_MS + 1000, NOW_MS),
        FOGPAY_ERR_STORAGE);
    char who[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL(fogpay_ledger_owner_at(fx.l, "dev-a", NOW_MS + 1000, who), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(who, fx.entity_a);
    /* Inside the plugin's group transaction, the savepoint is undone and the
     * transaction's other work stays. */
    fogpay_usage u = usage_of("dev-b", 1, 10);
    uint8_t reading_hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-b", 1, reading_hash);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(fx.l), FOGPAY_OK);
    fund(fx.l, "dev-a", EUR, 100);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_ERR_STORAGE);
    CU_ASSERT_EQUAL(fogpay_ledger_commit(fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 100);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM usage_readings"), 0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM ownership"), 2);
    CU_ASSERT_EQUAL(event_head(fx.l), 2);
    /* Without the trigger the same changes go through, one event each. */
    CU_ASSERT_EQUAL_FATAL(raw_exec(fx.path, "DROP TRIGGER events_refuse"), SQLITE_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_store_usage(fx.l, &u, reading_hash, NOW_MS), FOGPAY_OK);
    device_new(fx.l, "dev-c", fx.entity_a, NULL);
    CU_ASSERT_EQUAL(event_head(fx.l), 4);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

typedef struct collected_events {
    uint64_t positions[64];
    size_t count;
    size_t stop_after; /* 0: never stop */
} collected_events;

static int collect_event(void *ctx, const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    collected_events *c = ctx;
    (void)hash;
    if (c->count < sizeof c->positions / sizeof c->positions[0]) {
        c->positions[c->count] = e->position;
    }
    c->count++;
    return c->stop_after != 0 && c->count >= c->stop_after;
}

static collected_events event_list(fogpay_ledger *l, uint64_t after, uint32_t limit,
                                   size_t stop_after)
{
    collected_events c;
    memset(&c, 0, sizeof c);
    c.stop_after = stop_after;
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(l, after, limit, collect_event, &c), FOGPAY_OK);
    return c;
}

static void test_event_list(void)
{
    fixture fx;
    fixture_open(&fx);
    for (int i = 0; i < 5; i++) {
        char device[16];
        snprintf(device, sizeof device, "meter-%d", i);
        device_new(fx.l, device, fx.entity_a, NULL);
    }
    /* Seven events: two from the fixture, five here. Pages of three. */
    collected_events c = event_list(fx.l, 0, 3, 0);
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.positions[0], 1);
    CU_ASSERT_EQUAL(c.positions[2], 3);
    c = event_list(fx.l, 3, 3, 0);
    CU_ASSERT_EQUAL(c.count, 3);
    CU_ASSERT_EQUAL(c.positions[0], 4);
    CU_ASSERT_EQUAL(c.positions[2], 6);
    c = event_list(fx.l, 6, 3, 0);
    CU_ASSERT_EQUAL(c.count, 1);
    CU_ASSERT_EQUAL(c.positions[0], 7);
    c = event_list(fx.l, 7, 3, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    c = event_list(fx.l, UINT64_MAX, 0, 0);
    CU_ASSERT_EQUAL(c.count, 0);
    /* 0 is the maximum page; the visitor may stop the walk. */
    c = event_list(fx.l, 0, 0, 0);
    CU_ASSERT_EQUAL(c.count, 7);
    c = event_list(fx.l, 1, FOGPAY_TRANSFER_LIST_MAX, 2);
    CU_ASSERT_EQUAL(c.count, 2);
    CU_ASSERT_EQUAL(c.positions[1], 3);
    CU_ASSERT_EQUAL(
        fogpay_ledger_event_list(fx.l, 0, FOGPAY_TRANSFER_LIST_MAX + 1, collect_event, &c),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(fx.l, 0, 1, NULL, &c), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_event_list(NULL, 0, 1, collect_event, &c),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    /* One by one, and the head. */
    fogpay_event e;
    uint8_t hash[FOGPAY_HASH_BYTES], head_hash[FOGPAY_HASH_BYTES];
    uint64_t head = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, &head, head_hash), FOGPAY_OK);
    CU_ASSERT_EQUAL(head, 7);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 7, &e, hash), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(e.device_id, "meter-4");
    CU_ASSERT_EQUAL(memcmp(hash, head_hash, FOGPAY_HASH_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 7, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 0, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 8, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, UINT64_MAX, &e, NULL), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(fx.l, 1, NULL, NULL), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_event_head(fx.l, NULL, head_hash), FOGPAY_ERR_INVALID_ARGUMENT);

    /* The sync state's event position: up to the head, kept with its hash. */
    fogpay_sync_state st;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_sync_get(fx.l, &st), FOGPAY_OK);
    st.acked_event_position = 8;
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(fx.l, &st), FOGPAY_ERR_FIELD_RANGE);
    st.acked_event_position = 7;
    memcpy(st.acked_event_hash, head_hash, FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_set(fx.l, &st), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    memset(&st, 0, sizeof st);
    CU_ASSERT_EQUAL(fogpay_ledger_sync_get(fx.l, &st), FOGPAY_OK);
    CU_ASSERT_EQUAL(st.acked_event_position, 7);
    CU_ASSERT_EQUAL(st.acked_position, 0);
    CU_ASSERT_EQUAL(memcmp(st.acked_event_hash, head_hash, FOGPAY_HASH_BYTES), 0);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"each writer appends its one event", test_event_writers},
        {"a change whose event fails fails whole", test_event_append_failure},
        {"event list paging, get, head, sync position", test_event_list},
    };
    return ledger_fixture_run("ledger_events", tests, sizeof tests / sizeof tests[0]);
}
