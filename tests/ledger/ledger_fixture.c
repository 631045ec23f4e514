/*
 * ledger_fixture.c - what the ledger's tests share (ledger_fixture.h): the
 * temporary directory and two keys made by the suite's init, fresh ledger
 * paths, raw SQLite as another process or an attacker would use it, a
 * ledger with two entities and their devices, payments, balances and
 * snapshots.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_fixture.h"

char dir[256];
int ledger_count;
fogpay_key *key_one;
fogpay_key *key_two;

static int ledger_fixture_init(void)
{
    testutil_tempdir(dir, sizeof dir);
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_one) != FOGPAY_OK ||
        fogpay_key_generate(FOGPAY_ALG_EDDSA, &key_two) != FOGPAY_OK) {
        return 1;
    }
    return 0;
}

static int ledger_fixture_clean(void)
{
    fogpay_key_free(key_one);
    fogpay_key_free(key_two);
    testutil_rmtree(dir);
    return 0;
}

void path_new(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "%s/%s-%d.db", dir, name, ++ledger_count);
}

/* Raw SQLite, as another process or an attacker would use it. */

int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

/* The first column of the first row of sql as text ("" if none). */
void raw_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

long raw_long(const char *path, const char *sql)
{
    char text[64];
    raw_text(path, sql, text, sizeof text);
    return strtol(text, NULL, 10);
}

void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = testutil_read_file(from, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    FILE *f = fopen(to, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

/* Fixture helpers. */

void entity_new(fogpay_ledger *l, const char *name, char id[FOGPAY_ENTITY_ID_MAX + 1])
{
    fogpay_entity_personal p = {.name = name, .contact = "ops@example.invalid", .bank_ref = NULL};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(l, &p, NOW_MS, id), FOGPAY_OK);
}

void device_new(fogpay_ledger *l, const char *device, const char *owner,
                const fogpay_device_limits *limits)
{
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_register(l, device, key_one, "", owner, limits, NOW_MS), FOGPAY_OK);
}

void fixture_open(fixture *fx)
{
    path_new(fx->path, sizeof fx->path, "ledger");
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx->path, true, &fx->l), FOGPAY_OK);
    entity_new(fx->l, "Alpha Leasing GmbH", fx->entity_a);
    entity_new(fx->l, "Beta Charging AG", fx->entity_b);
    device_new(fx->l, "dev-a", fx->entity_a, NULL);
    device_new(fx->l, "dev-b", fx->entity_b, NULL);
}

void fund(fogpay_ledger *l, const char *device, uint16_t currency, uint64_t amount)
{
    fogpay_transfer t;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fund(l, device, currency, amount, "top-up", NOW_MS, &t),
                          FOGPAY_OK);
}

void fee_set(fogpay_ledger *l, const char *payee_device, uint64_t account, uint32_t basis_points,
             uint64_t effective_ms)
{
    fogpay_fee_schedule f;
    memset(&f, 0, sizeof f);
    snprintf(f.payee_device, sizeof f.payee_device, "%s", payee_device);
    f.currency = EUR;
    f.effective_ms = effective_ms;
    f.leg_count = 1;
    f.legs[0] = (fogpay_fee_leg){account, basis_points};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_fee_schedule_set(l, &f, effective_ms, NULL), FOGPAY_OK);
}

void limit_per_day(fogpay_ledger *l, const char *device, uint64_t per_day_minor)
{
    fogpay_device_limits limits = {0, per_day_minor, 0};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_device_set_limits(l, device, &limits, NOW_MS), FOGPAY_OK);
}

void intent_hash_of(const char *device, uint64_t seq, uint8_t hash[FOGPAY_HASH_BYTES])
{
    char text[64];
    int len = snprintf(text, sizeof text, "%s/%llu", device, (unsigned long long)seq);
    CU_ASSERT_EQUAL_FATAL(fogpay_sha256((const uint8_t *)text, (size_t)len, hash), FOGPAY_OK);
}

fogpay_intent intent_of(const char *payer, uint64_t seq, const char *payee_device,
                        uint64_t payee_account, uint64_t amount, uint16_t currency)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    snprintf(in.device_id, sizeof in.device_id, "%s", payer);
    in.seq = seq;
    snprintf(in.payee_device, sizeof in.payee_device, "%s", payee_device ? payee_device : "");
    in.payee_account = payee_account;
    in.amount_minor = amount;
    in.currency = currency;
    in.created_s = NOW_MS / 1000;
    in.ttl_s = 60;
    snprintf(in.reference, sizeof in.reference, "charge-%llu", (unsigned long long)seq);
    return in;
}

/* Settles a payment; out may be NULL. */
fogpay_error pay_full(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee_device,
                      uint64_t payee_account, uint64_t amount, uint16_t currency, uint64_t now_ms,
                      fogpay_transfer *out)
{
    fogpay_intent in = intent_of(payer, seq, payee_device, payee_account, amount, currency);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of(payer, seq, hash);
    fogpay_transfer t;
    int64_t balance = 0;
    fogpay_error err = fogpay_ledger_settle(l, &in, hash, now_ms, out ? out : &t, &balance);
    return err;
}

fogpay_error pay(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee,
                 uint64_t amount)
{
    return pay_full(l, payer, seq, payee, 0, amount, EUR, NOW_MS, NULL);
}

int64_t balance_of(fogpay_ledger *l, const char *device, uint16_t currency)
{
    uint64_t account = 0;
    int64_t balance = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_wallet(l, device, currency, &account), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_balance(l, account, &balance), FOGPAY_OK);
    return balance;
}

void snapshot_take(const fixture *fx, snapshot *s)
{
    memset(s, 0, sizeof *s);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_chain_head(fx->l, &s->head, s->hash), FOGPAY_OK);
    raw_text(fx->path,
             "SELECT group_concat(id || ':' || balance, ';') FROM "
             "(SELECT id, balance FROM accounts ORDER BY id)",
             s->accounts, sizeof s->accounts);
}

bool snapshot_same(const fixture *fx, const snapshot *before)
{
    snapshot now;
    snapshot_take(fx, &now);
    return now.head == before->head && memcmp(now.hash, before->hash, sizeof now.hash) == 0 &&
           strcmp(now.accounts, before->accounts) == 0;
}

fogpay_error verify(fogpay_ledger *l, uint64_t *checked, uint64_t *bad, char *problem, size_t cap)
{
    return fogpay_ledger_verify(l, checked, bad, problem, cap);
}

/* The event chain. */

uint64_t event_head(fogpay_ledger *l)
{
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_event_head(l, &head, hash), FOGPAY_OK);
    return head;
}

fogpay_usage usage_of(const char *device, uint64_t seq, uint64_t quantity)
{
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    snprintf(u.device_id, sizeof u.device_id, "%s", device);
    u.seq = seq;
    snprintf(u.meter_id, sizeof u.meter_id, "m1");
    u.quantity = quantity;
    snprintf(u.unit, sizeof u.unit, "kWh");
    u.created_s = NOW_MS / 1000;
    return u;
}

int ledger_fixture_run(const char *suite, const ledger_test *tests, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite(suite, ledger_fixture_init, ledger_fixture_clean);
    for (size_t i = 0; i < n; i++) {
        CU_add_test(s, tests[i].name, tests[i].run);
    }
    return testutil_run();
}
