/*
 * test_entities.c - legal entities' own logins and their payments
 * (ledger_entity_login.c, fogpay_ledger_entity_pay): a login created and
 * removed with its events, the names it may not take, the devices an
 * entity holds, and a device paying an entity's account that then pays a
 * device (kind 10), with every refusal moving nothing.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "fogpay_password.h"
#include "ledger_fixture.h"

static void verifier_of(const char *password, char out[FOGPAY_PASSWORD_HASH_MAX])
{
    CU_ASSERT_EQUAL_FATAL(
        fogpay_password_hash(password, strlen(password), 1000, out, FOGPAY_PASSWORD_HASH_TEXT_MAX),
        FOGPAY_OK);
}

/* A login is created and removed by its username, each with an event of
 * kind 10 that names the entity and no device. */
static void test_login_lifecycle(void)
{
    fixture fx;
    fixture_open(&fx);
    char verifier[FOGPAY_PASSWORD_HASH_MAX];
    verifier_of("correct horse battery", verifier);
    uint64_t before = event_head(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "alpha", fx.entity_a, verifier, NOW_MS),
                    FOGPAY_OK);
    fogpay_entity_login login;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_login_get(fx.l, "alpha", &login), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(login.entity_id, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(login.password_hash, verifier);
    CU_ASSERT_EQUAL(login.created_ms, NOW_MS);
    fogpay_event e;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, before + 1, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_ENTITY_LOGIN);
    CU_ASSERT_STRING_EQUAL(e.entity_id, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(e.login, "alpha");
    CU_ASSERT_STRING_EQUAL(e.device_id, "");
    CU_ASSERT_EQUAL(e.login_removed, 0);

    /* A certificate login has no verifier. */
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "beta-cert", fx.entity_b, NULL, NOW_MS),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_login_get(fx.l, "beta-cert", &login), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(login.password_hash, "");

    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_remove(fx.l, "alpha", NOW_MS + 1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_get(fx.l, "alpha", &login), FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_get(fx.l, before + 3, &e, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(e.kind, FOGPAY_EVENT_ENTITY_LOGIN);
    CU_ASSERT_STRING_EQUAL(e.login, "alpha");
    CU_ASSERT_EQUAL(e.login_removed, 1);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_remove(fx.l, "alpha", NOW_MS + 2),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(event_head(fx.l), before + 3);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Names a login may not take, verifiers it may not have, entities it may
 * not name: each refused, no row and no event. */
static void test_login_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    char verifier[FOGPAY_PASSWORD_HASH_MAX];
    verifier_of("correct horse battery", verifier);
    char device_verifier[FOGPAY_PASSWORD_HASH_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_device_secret_verifier("0123456789abcdef0123456789abcdef", 32,
                                                        device_verifier,
                                                        FOGPAY_PASSWORD_HASH_TEXT_MAX),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "alpha", fx.entity_a, NULL, NOW_MS),
                    FOGPAY_OK);
    uint64_t before = event_head(fx.l);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "alpha", fx.entity_b, NULL, NOW_MS),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "dev-a", fx.entity_a, NULL, NOW_MS),
                    FOGPAY_ERR_EXISTS);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "a/b", fx.entity_a, NULL, NOW_MS),
                    FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_login_create(fx.l, "", fx.entity_a, NULL, NOW_MS),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_login_create(fx.l, "gamma", "le-00000000000000ff", NULL, NOW_MS),
        FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_login_create(fx.l, "gamma", fx.entity_a, device_verifier, NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_login_create(fx.l, "gamma", fx.entity_a, "pbkdf2-sha256$x", NOW_MS),
        FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(event_head(fx.l), before);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM entity_logins"), 1);
    fogpay_ledger_close(fx.l);
}

/* The devices an entity holds now: its own, a leased one while the lease
 * lasts, not one it sold. */
static void test_entity_devices(void)
{
    fixture fx;
    fixture_open(&fx);
    device_new(fx.l, "dev-a2", fx.entity_a, NULL);
    device_new(fx.l, "dev-c", fx.entity_b, NULL);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-c", fx.entity_a, "lessee", NOW_MS + 10, NOW_MS),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(
        fogpay_ledger_ownership_change(fx.l, "dev-a2", fx.entity_b, "owner", NOW_MS + 20, NOW_MS),
        FOGPAY_OK);
    char ids[8][FOGPAY_DEVICE_ID_MAX + 1];
    size_t count = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_devices(fx.l, fx.entity_a, NOW_MS, "", ids, 8, &count),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(count, 2);
    CU_ASSERT_STRING_EQUAL(ids[0], "dev-a");
    CU_ASSERT_STRING_EQUAL(ids[1], "dev-a2");
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_devices(fx.l, fx.entity_a, NOW_MS + 30, "", ids, 8, &count),
        FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(count, 2);
    CU_ASSERT_STRING_EQUAL(ids[0], "dev-a");
    CU_ASSERT_STRING_EQUAL(ids[1], "dev-c");
    CU_ASSERT_EQUAL(
        fogpay_ledger_entity_devices(fx.l, fx.entity_a, NOW_MS + 30, "dev-a", ids, 1, &count),
        FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(count, 1);
    CU_ASSERT_STRING_EQUAL(ids[0], "dev-c");
    CU_ASSERT_EQUAL(fogpay_ledger_entity_holds(fx.l, fx.entity_a, "dev-b", NOW_MS + 30),
                    FOGPAY_ERR_ENTITY_FOREIGN_DEVICE);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_holds(fx.l, fx.entity_a, "no-such", NOW_MS + 30),
                    FOGPAY_ERR_ENTITY_FOREIGN_DEVICE);
    fogpay_ledger_close(fx.l);
}

/* Machine to person and back: dev-b pays entity A's account (intent payee
 * key 4), A pays dev-a (kind 10) and dev-b; the records name the entities. */
static void test_entity_payment(void)
{
    fixture fx;
    fixture_open(&fx);
    fund(fx.l, "dev-b", EUR, 1000);
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &account),
                          FOGPAY_OK);
    fogpay_transfer in;
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-b", 1, NULL, account, 600, EUR, NOW_MS, &in),
                          FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(in.payee_entity, fx.entity_a);
    fogpay_transfer t;
    int64_t left = -1;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_pay(fx.l, fx.entity_a, "dev-a", EUR, 250, "top-up",
                                                   NOW_MS + 1, &t, &left),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_ENTITY_PAYMENT);
    CU_ASSERT_EQUAL(t.debit_account, account);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_a);
    CU_ASSERT_STRING_EQUAL(t.device_id, "");
    CU_ASSERT_EQUAL(left, 350);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 250);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_entity_pay(fx.l, fx.entity_a, "dev-b", EUR, 50, NULL, NOW_MS + 2, &t, NULL),
        FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(t.payee_entity, fx.entity_b);
    fogpay_transfer read;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_transfer_get(fx.l, t.position, &read, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(memcmp(&read, &t, sizeof t), 0);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* What an entity payment refuses, each with its reason, nothing moved. */
static void test_entity_payment_refusals(void)
{
    fixture fx;
    fixture_open(&fx);
    fogpay_device_limits capped = {0, 0, 100};
    device_new(fx.l, "dev-cap", fx.entity_b, &capped);
    device_new(fx.l, "dev-gone", fx.entity_b, NULL);
    CU_ASSERT_EQUAL(
        fogpay_ledger_device_set_status(fx.l, "dev-gone", FOGPAY_DEVICE_REVOKED, NOW_MS),
        FOGPAY_OK);
    fund(fx.l, "dev-b", EUR, 1000);
    uint64_t account = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(fx.l, fx.entity_a, EUR, &account),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(pay_full(fx.l, "dev-b", 1, NULL, account, 500, EUR, NOW_MS, NULL),
                          FOGPAY_OK);
    snapshot before;
    snapshot_take(&fx, &before);
    fogpay_transfer t;
    const char *a = fx.entity_a;
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-a", EUR, 501, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-a", USD, 1, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_INSUFFICIENT_FUNDS);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-cap", EUR, 101, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_WALLET_MAX);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-gone", EUR, 1, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_PAYEE_INACTIVE);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "no-such", EUR, 1, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, "le-00000000000000ff", "dev-a", EUR, 1, NULL,
                                             NOW_MS, &t, NULL),
                    FOGPAY_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-a", EUR, 0, NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_AMOUNT_ZERO);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-a", EUR, FOGPAY_AMOUNT_MAX_MINOR + 1,
                                             NULL, NOW_MS, &t, NULL),
                    FOGPAY_ERR_AMOUNT_TOO_LARGE);
    CU_ASSERT_EQUAL(fogpay_ledger_entity_pay(fx.l, a, "dev-a", EUR, 1,
                                             "a reference longer than thirty-two bytes", NOW_MS, &t,
                                             NULL),
                    FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT(snapshot_same(&fx, &before));
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"an entity login created and removed, with its events", test_login_lifecycle},
        {"entity login refusals: names, verifiers, entities", test_login_refusals},
        {"the devices an entity holds now", test_entity_devices},
        {"a device pays an entity's account, the entity pays devices", test_entity_payment},
        {"entity payment refusals move nothing", test_entity_payment_refusals},
    };
    return ledger_fixture_run("ledger_entities", tests, sizeof tests / sizeof tests[0]);
}
