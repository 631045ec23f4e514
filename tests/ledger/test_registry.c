/*
 * test_registry.c - the gateway's ledger (ledger/ledger*.c) on SQLite files in a
 * temporary directory: the registry: legal entities and their personal data, devices, key rotation,
 * accounts.
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

/* The registry. */

static void test_entities(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL(strlen(fx.entity_a), 19);
    CU_ASSERT_EQUAL(strncmp(fx.entity_a, "le-", 3), 0);
    CU_ASSERT_EQUAL(strspn(fx.entity_a + 3, "0123456789abcdef"), 16);
    CU_ASSERT_STRING_NOT_EQUAL(fx.entity_a, fx.entity_b);

    char id[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_entity_personal p = {.name = NULL};
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_INVALID_ARGUMENT);
    p.name = "";
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    char long_text[FOGPAY_ENTITY_NAME_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    p.name = long_text;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    p.name = "Gamma";
    p.bank_ref = long_text;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, &p, NOW_MS, id), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_create(fx.l, NULL, NOW_MS, id),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_ledger_close(fx.l);

    /* Personal data is in entity_personal and nowhere else. */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM entity_personal WHERE name = "
                                      "'Alpha Leasing GmbH' AND contact = 'ops@example.invalid'"),
                    1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM sqlite_master AS m, "
                                      "pragma_table_info(m.name) AS c WHERE m.type = 'table' AND "
                                      "m.name <> 'entity_personal' AND c.name IN ('name', "
                                      "'contact', 'bank_ref')"),
                    0);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM entities"), 2);
}

static void test_devices(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_device_limits limits = {250, 1000, 5000};
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "meter-7", key_one,
                                                  "pbkdf2-sha256$1000$00$11", fx.entity_a, &limits,
                                                  NOW_MS),
                    FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(d.device_id, "meter-7");
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_ACTIVE);
    CU_ASSERT_EQUAL(d.alg, FOGPAY_ALG_EDDSA);
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0;
    CU_ASSERT_EQUAL(fogpay_key_public(key_one, pub, sizeof pub, &pub_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.public_key_len, pub_len);
    CU_ASSERT_EQUAL(memcmp(d.public_key, pub, pub_len), 0);
    CU_ASSERT_STRING_EQUAL(d.password_hash, "pbkdf2-sha256$1000$00$11");
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 250);
    CU_ASSERT_EQUAL(d.limits.per_day_minor, 1000);
    CU_ASSERT_EQUAL(d.limits.wallet_max_minor, 5000);
    CU_ASSERT_EQUAL(d.created_ms, NOW_MS);
    CU_ASSERT_EQUAL(d.last_command_seq, 0);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(d.password_hash, "");

    /* Refusals: duplicate, unknown owner (nothing left behind), bad ids. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "meter-7", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "meter-8", key_one, NULL,
                                                  "le-0000000000000000", NULL, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-8", &d), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "a/b", key_one, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_ledger_device_register(fx.l, "abcdefghijklmnopqrstuvwx", key_one, NULL,
                                                  fx.entity_a, NULL, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_register(fx.l, "meter-9", NULL, NULL, fx.entity_a, NULL, NOW_MS),
        FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "nobody", &d), FOGPAY_ERR_NOT_FOUND);

    /* Status and limits. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_SUSPENDED, NOW_MS + 1),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "nobody", FOGPAY_DEVICE_ACTIVE, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", (fogpay_device_status)7, NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    fogpay_device_limits new_limits = {1, 2, 3};
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "meter-7", &new_limits, NOW_MS + 2),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.limits.per_payment_minor, 1);
    CU_ASSERT_EQUAL(d.limits.per_day_minor, 2);
    CU_ASSERT_EQUAL(d.limits.wallet_max_minor, 3);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "nobody", &new_limits, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_limits(fx.l, "meter-7", NULL, NOW_MS),
                    FOGPAY_ERR_INVALID_ARGUMENT);

    /* Command sequence numbers are stored and increase. */
    uint64_t seq = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "meter-7", &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 1);
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "meter-7", &seq), FOGPAY_OK);
    CU_ASSERT_EQUAL(seq, 2);
    CU_ASSERT_EQUAL(fogpay_ledger_device_next_command_seq(fx.l, "nobody", &seq),
                    FOGPAY_ERR_NOT_FOUND);

    /* Revocation is final. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_REVOKED, NOW_MS + 3),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "meter-7", FOGPAY_DEVICE_ACTIVE, NOW_MS + 4),
        FOGPAY_ERR_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "meter-7", key_two, NOW_MS + 4),
                    FOGPAY_ERR_DEVICE_REVOKED);
    fogpay_ledger_close(fx.l);

    /* Durable across reopening. */
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "meter-7", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.status, FOGPAY_DEVICE_REVOKED);
    CU_ASSERT_EQUAL(d.last_command_seq, 2);
    fogpay_ledger_close(fx.l);
}

static void test_key_rotation(void)
{
    fixture fx;
    fixture_open(&fx);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_two, NOW_MS + 10),
                    FOGPAY_OK);
    fogpay_device d;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_get(fx.l, "dev-a", &d), FOGPAY_OK);
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0;
    CU_ASSERT_EQUAL(fogpay_key_public(key_two, pub, sizeof pub, &pub_len), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.public_key_len, pub_len);
    CU_ASSERT_EQUAL(memcmp(d.public_key, pub, pub_len), 0);
    /* A key the device held before is not taken again. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-a", key_one, NOW_MS + 20),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "nobody", key_one, NOW_MS),
                    FOGPAY_ERR_NOT_FOUND);
    /* A P-256 device. */
    fogpay_key *p256 = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_ES256, &p256), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key(fx.l, "dev-b", p256, NOW_MS + 30), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_get(fx.l, "dev-b", &d), FOGPAY_OK);
    CU_ASSERT_EQUAL(d.alg, FOGPAY_ALG_ES256);
    CU_ASSERT_EQUAL(d.public_key_len, 65);
    fogpay_key_free(p256);
    fogpay_ledger_close(fx.l);
    /* The history keeps every key; one is active. */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM device_keys WHERE device_id = 'dev-a'"),
                    2);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM device_keys WHERE device_id = 'dev-a' "
                                      "AND active = 1"),
                    1);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT revoked_ms FROM device_keys WHERE device_id = "
                                      "'dev-a' AND active = 0"),
                    (long)(NOW_MS + 10));
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM device_keys"), SQLITE_OK);
}

/* The event at position, or a zeroed one. */
static fogpay_event event_at(fogpay_ledger *l, uint64_t position)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    CU_ASSERT_EQUAL(fogpay_ledger_event_get(l, position, &e, NULL), FOGPAY_OK);
    return e;
}

/* A rotation with an overlap keeps the old key valid until the window's
 * end; a second rotation or a revocation ends it now, each with its event;
 * the window never grows, not even through SQL. */
static void test_key_overlap(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_key *key_three = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_three), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key_overlap(
                        fx.l, "dev-a", key_two, FOGPAY_KEY_OVERLAP_MAX_S * 1000ull + 1, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_device_revoke_keys(fx.l, "dev-a", NOW_MS), FOGPAY_ERR_NOT_FOUND);
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_head(fx.l, &head, head_hash), FOGPAY_OK);

    CU_ASSERT_EQUAL(fogpay_ledger_device_rotate_key_overlap(fx.l, "dev-a", key_two, 60000, NOW_MS),
                    FOGPAY_OK);
    int alg = 0;
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX], one[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0, one_len = 0;
    uint64_t until = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_device_retired_key(fx.l, "dev-a", 0, &alg, pub, &pub_len, &until),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_public(key_one, one, sizeof one, &one_len), FOGPAY_OK);
    CU_ASSERT(pub_len == one_len && memcmp(pub, one, one_len) == 0);
    CU_ASSERT_EQUAL(until, NOW_MS + 60000);
    fogpay_event e = event_at(fx.l, head + 1);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_KEY_ROTATED);
    CU_ASSERT_EQUAL(e.effective_ms, NOW_MS + 60000);

    /* A second rotation inside the window ends the first old key now. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_rotate_key_overlap(fx.l, "dev-a", key_three, 30000, NOW_MS + 10),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_retired_key(fx.l, "dev-a", 1, &alg, pub, &pub_len, &until),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(until, NOW_MS + 10);
    uint8_t kid_one[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_id(key_one, kid_one), FOGPAY_OK);
    e = event_at(fx.l, head + 2);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_KEY_REVOKED);
    CU_ASSERT_EQUAL(memcmp(e.kid, kid_one, FOGPAY_KID_BYTES), 0);
    CU_ASSERT_EQUAL(event_at(fx.l, head + 3).kind, FOGPAY_EVENT_KEY_ROTATED);

    /* Revoking ends key_two's window at once, and only once. */
    CU_ASSERT_EQUAL(fogpay_ledger_device_revoke_keys(fx.l, "dev-a", NOW_MS + 20), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_device_retired_key(fx.l, "dev-a", 0, &alg, pub, &pub_len, &until),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(until, NOW_MS + 20);
    CU_ASSERT_EQUAL(event_at(fx.l, head + 4).kind, FOGPAY_EVENT_KEY_REVOKED);
    CU_ASSERT_EQUAL(fogpay_ledger_device_revoke_keys(fx.l, "dev-a", NOW_MS + 21),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_key_free(key_three);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE device_keys SET revoked_ms = revoked_ms + 1 "
                                          "WHERE active = 0"),
                        SQLITE_OK);
    CU_ASSERT_EQUAL(raw_exec(fx.path, "UPDATE device_keys SET revoked_ms = revoked_ms - 1 "
                                      "WHERE active = 0 AND device_id = 'dev-a'"),
                    SQLITE_OK);
}

/* The gateway's key history: the first key is taken at start, only the
 * active one starts after that, a rotation ends it where the next begins,
 * and a key's validity covers its signed times to the second. */
static void test_gateway_keys(void)
{
    fixture fx;
    fixture_open(&fx);
    uint8_t kid_one[FOGPAY_KID_BYTES], kid_two[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(key_one, kid_one), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_id(key_two, kid_two), FOGPAY_OK);
    fogpay_gateway_key k;
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_rotate(fx.l, key_two, NOW_MS), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_start(fx.l, key_one, NOW_MS), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_start(fx.l, key_one, NOW_MS + 5), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_start(fx.l, key_two, NOW_MS + 5),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_get(fx.l, kid_two, &k), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_rotate(fx.l, key_two, NOW_MS + 60000), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_start(fx.l, key_one, NOW_MS + 60001),
                    FOGPAY_ERR_KEY_REVOKED);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_start(fx.l, key_two, NOW_MS + 60001), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_gateway_key_rotate(fx.l, key_one, NOW_MS + 70000),
                    FOGPAY_ERR_EXISTS);

    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_gateway_key_get(fx.l, kid_one, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL(k.from_ms, NOW_MS);
    CU_ASSERT_EQUAL(k.until_ms, NOW_MS + 60000);
    CU_ASSERT_EQUAL(memcmp(k.kid, kid_one, FOGPAY_KID_BYTES), 0);
    CU_ASSERT_EQUAL(fogpay_gateway_key_valid_at(&k, NOW_MS / 1000), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_gateway_key_valid_at(&k, (NOW_MS + 60000) / 1000), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_gateway_key_valid_at(&k, (NOW_MS + 60000) / 1000 + 1),
                    FOGPAY_ERR_KEY_REVOKED);
    CU_ASSERT_EQUAL(fogpay_gateway_key_valid_at(&k, NOW_MS / 1000 - 1), FOGPAY_ERR_KEY_REVOKED);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_gateway_key_get(fx.l, kid_two, &k), FOGPAY_OK);
    CU_ASSERT_EQUAL(k.from_ms, NOW_MS + 60000);
    CU_ASSERT_EQUAL(k.until_ms, 0);
    CU_ASSERT_EQUAL(fogpay_gateway_key_valid_at(&k, UINT64_MAX / 1000), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    /* The history is kept: no row deleted, an end never moved. */
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "DELETE FROM gateway_keys"), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "UPDATE gateway_keys SET until_ms = until_ms + 1 "
                                          "WHERE until_ms IS NOT NULL"),
                        SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(raw_exec(fx.path, "INSERT INTO gateway_keys (kid, alg, public_key, "
                                          "from_ms) VALUES (zeroblob(8), -8, zeroblob(32), 1)"),
                        SQLITE_OK);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM gateway_keys"), 2);
}

static void test_accounts(void)
{
    fixture fx;
    fixture_open(&fx);
    uint64_t a1 = 0, a2 = 0, e1 = 0, e2 = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &a1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", EUR, &a2), FOGPAY_OK);
    CU_ASSERT_EQUAL(a1, a2);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", USD, &a2), FOGPAY_OK);
    CU_ASSERT_NOT_EQUAL(a1, a2);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &e1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, fx.entity_b, EUR, &e2), FOGPAY_OK);
    CU_ASSERT_EQUAL(e1, e2);
    int64_t balance = -1;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, e1, &balance), FOGPAY_OK);
    CU_ASSERT_EQUAL(balance, 0);
    /* Asking never creates an account for an owner that does not exist. */
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "nobody", EUR, &a1), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_account(fx.l, "le-0000000000000000", EUR, &e1),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", 0, &a1), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_wallet(fx.l, "dev-a", 1000, &a1), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, 9999, &balance), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_balance(fx.l, 0, &balance), FOGPAY_ERR_NOT_FOUND);
    fogpay_ledger_close(fx.l);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM accounts"), 3);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"legal entities and their personal data", test_entities},
        {"devices: register, status, limits, command seq", test_devices},
        {"device key rotation and history", test_key_rotation},
        {"device key overlap window, revocation, events", test_key_overlap},
        {"gateway key history", test_gateway_keys},
        {"wallets and entity accounts", test_accounts},
    };
    return ledger_fixture_run("ledger_registry", tests, sizeof tests / sizeof tests[0]);
}
