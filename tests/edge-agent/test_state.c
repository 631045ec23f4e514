/*
 * test_state.c - the agent's state file: format 1 (hand-packed, big
 * endian) migrated to the CBOR of format 3 at open with every field kept,
 * format 3 read back after a reopen, format 2 (format 3 without gateway
 * keys) read, and a file of no known format refused; the plan file read
 * with every field, a plan paid up to a time past lapsed at open and kept
 * so, and a plan file of no known format refused.
 * No broker: opening the agent does not connect.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "agent_bytes.h"
#include "agent_journal.h"
#include "fogpay_key.h"
#include "testutil.h"

#define EUR 978

static char dir[256], state_dir[300], key_path[300], gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];

static fogpay_error open_agent(fogpay_agent **a)
{
    fogpay_agent_config cfg = {.state_dir = state_dir,
                               .key_path = key_path,
                               .device_id = "dev-s",
                               .gateway_key = gateway_text,
                               .port = 1};
    return fogpay_agent_open(&cfg, a);
}

static void write_file(const char *name, const uint8_t *body, size_t len)
{
    fogpay_journal *j = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(state_dir, &j), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_file_replace(j, name, body, len), FOGPAY_OK);
    fogpay_journal_close(j);
}

static void write_state(const uint8_t *body, size_t len)
{
    write_file("state", body, len);
}

static void check_status(fogpay_agent *a)
{
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    CU_ASSERT(s.suspended);
    CU_ASSERT_EQUAL(s.last_command_seq, 7);
    CU_ASSERT_EQUAL(s.per_payment_minor, 100);
    CU_ASSERT_EQUAL(s.per_day_minor, 200);
    CU_ASSERT_EQUAL(s.wallet_max_minor, 300);
    CU_ASSERT_EQUAL_FATAL(s.balance_count, 1);
    CU_ASSERT_EQUAL(s.balances[0].currency, EUR);
    CU_ASSERT_EQUAL(s.balances[0].balance_minor, -5);
    CU_ASSERT_EQUAL(s.balances[0].position, 9);
}

static void test_migrate_format_1(void)
{
    uint8_t v1[36 + 18] = {1, 1, 0};
    agent_store_be64(v1 + 3, 7);
    agent_store_be64(v1 + 11, 100);
    agent_store_be64(v1 + 19, 200);
    agent_store_be64(v1 + 27, 300);
    v1[35] = 1;
    v1[36] = EUR >> 8;
    v1[37] = EUR & 0xff;
    agent_store_be64(v1 + 38, (uint64_t)(int64_t)-5);
    agent_store_be64(v1 + 46, 9);
    write_state(v1, sizeof v1);
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL_FATAL(open_agent(&a), FOGPAY_OK);
    check_status(a);
    fogpay_agent_close(a);
    /* Written again as a CBOR map of nine pairs, and read back as such. */
    fogpay_journal *j = NULL;
    uint8_t body[512];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_journal_open(state_dir, &j), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_journal_file_load(j, "state", body, sizeof body, &len), FOGPAY_OK);
    fogpay_journal_close(j);
    CU_ASSERT(len > 0 && body[0] == 0xa9);
    CU_ASSERT_EQUAL_FATAL(open_agent(&a), FOGPAY_OK);
    check_status(a);
    fogpay_agent_close(a);
}

/* Format 2: the map of format 3 without its key 9, the gateway keys. */
static void test_read_format_2(void)
{
    /* {1: 2, 2: true, 3: 0, 4: 7, 5: 100, 6: 200, 7: 300, 8: [[978, -5, 9]]} */
    const uint8_t v2[] = {0xa8, 0x01, 0x02, 0x02, 0xf5, 0x03, 0x00, 0x04, 0x07,
                          0x05, 0x18, 0x64, 0x06, 0x18, 0xc8, 0x07, 0x19, 0x01,
                          0x2c, 0x08, 0x81, 0x83, 0x19, 0x03, 0xd2, 0x24, 0x09};
    write_state(v2, sizeof v2);
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL_FATAL(open_agent(&a), FOGPAY_OK);
    check_status(a);
    fogpay_agent_close(a);
}

static void test_unknown_format_refused(void)
{
    const uint8_t unknown[] = {0xa1, 0x01, 0x09}; /* {1: 9}: a format not known */
    write_state(unknown, sizeof unknown);
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL(open_agent(&a), FOGPAY_ERR_STORAGE);
    const uint8_t short_v1[] = {1, 0, 0};
    write_state(short_v1, sizeof short_v1);
    CU_ASSERT_EQUAL(open_agent(&a), FOGPAY_ERR_STORAGE);
}

/* [1, "p1", notice 5, paid up to 1000 ms, due 2000 ms, 109.36, account 17,
 * EUR, instalment 2, 3 left, 1 in arrears, 1 sent, not lapsed, 0, 0] */
static const uint8_t plan_v1[] = {0x8f, 0x01, 0x62, 'p',  '1',  0x05, 0x19, 0x03, 0xe8,
                                  0x19, 0x07, 0xd0, 0x19, 0x2a, 0xb8, 0x11, 0x19, 0x03,
                                  0xd2, 0x02, 0x03, 0x01, 0x01, 0xf4, 0x00, 0x00};

static void test_plan_file(void)
{
    const uint8_t v2[] = {0xa8, 0x01, 0x02, 0x02, 0xf4, 0x03, 0x00, 0x04, 0x07,
                          0x05, 0x18, 0x64, 0x06, 0x18, 0xc8, 0x07, 0x19, 0x01,
                          0x2c, 0x08, 0x81, 0x83, 0x19, 0x03, 0xd2, 0x24, 0x09};
    write_state(v2, sizeof v2); /* not suspended */
    write_file("plan", plan_v1, sizeof plan_v1);
    for (int round = 0; round < 2; round++) {
        fogpay_agent *a = NULL;
        CU_ASSERT_EQUAL_FATAL(open_agent(&a), FOGPAY_OK);
        fogpay_agent_status s;
        fogpay_agent_status_get(a, &s);
        CU_ASSERT_STRING_EQUAL(s.plan_id, "p1");
        CU_ASSERT_EQUAL(s.plan_paid_up_to_ms, 1000);
        CU_ASSERT_EQUAL(s.plan_next_due_ms, 2000);
        CU_ASSERT_EQUAL(s.plan_amount_minor, 10936);
        CU_ASSERT_EQUAL(s.plan_currency, EUR);
        CU_ASSERT_EQUAL(s.plan_instalment, 2);
        CU_ASSERT_EQUAL(s.plan_left, 3);
        CU_ASSERT_EQUAL(s.plan_arrears, 1);
        CU_ASSERT(s.plan_lapsed); /* paid up to 1970: out of action at open */
        CU_ASSERT(s.plan_clock_ms > 1000);
        fogpay_agent_outcome out;
        CU_ASSERT_EQUAL(fogpay_agent_pay(a, "dev-x", 1, EUR, NULL, &out), FOGPAY_ERR_PLAN_LAPSED);
        fogpay_agent_close(a);
    }
    const uint8_t unknown[] = {0x81, 0x02}; /* [2]: a format not known */
    write_file("plan", unknown, sizeof unknown);
    fogpay_agent *a = NULL;
    CU_ASSERT_EQUAL(open_agent(&a), FOGPAY_ERR_STORAGE);
}

int main(void)
{
    testutil_tempdir(dir, sizeof dir);
    snprintf(state_dir, sizeof state_dir, "%s/state", dir);
    snprintf(key_path, sizeof key_path, "%s/dev.key", dir);
    fogpay_key *k = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &k) != FOGPAY_OK ||
        fogpay_key_save(k, key_path, false) != FOGPAY_OK ||
        fogpay_key_public_text(k, gateway_text, sizeof gateway_text) != FOGPAY_OK) {
        return 1;
    }
    fogpay_key_free(k);
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("agent_state", NULL, NULL);
    CU_add_test(s, "format 1 migrated to CBOR, every field kept", test_migrate_format_1);
    CU_add_test(s, "format 2 read, without gateway keys", test_read_format_2);
    CU_add_test(s, "a state of no known format refused", test_unknown_format_refused);
    CU_add_test(s, "the plan file: read, lapsed at open, unknown format refused", test_plan_file);
    int rc = testutil_run();
    testutil_rmtree(dir);
    return rc;
}
