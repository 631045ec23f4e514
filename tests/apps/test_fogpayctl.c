/*
 * test_fogpayctl.c - fogpayctl's offline mode on a real ledger file: init,
 * keygen, create-entity, register-device, fund, verify, export,
 * export-events, and
 * tampering with the file through the sqlite3 shell.
 *
 * The program under test is the built fogpayctl, passed as argv[1]; each
 * test runs it through /bin/sh in its own temporary directory and checks
 * the exit status and output.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define OUT_MAX 65536

static const char *fogpayctl;
static char dir[256];
static char pub[256];   /* public key text of dev-a */
static char entity[64]; /* owner of dev-a */

static void strip_newline(char *s)
{
    s[strcspn(s, "\n")] = '\0';
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

/* A fresh directory with an initialised ledger holding one entity, one
 * registered device "dev-a" and two fundings (10.00 and 2.50 EUR). */
/* Copies a line of output into a smaller buffer, cut at its size. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void provision(void)
{
    static char out[OUT_MAX];
    snprintf(dir, sizeof dir, "/tmp/fogpay-ctl-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out, "%s --db %s/l.db init", fogpayctl, dir),
                          0);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out, "%s keygen --out %s/dev.key", fogpayctl, dir), 0);
    strip_newline(out);
    CU_ASSERT_FATAL(strncmp(out, "ed25519:", 8) == 0);
    copy_text(pub, sizeof pub, out);
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out,
                                         "%s --db %s/l.db create-entity --name 'Ex Ltd'", fogpayctl,
                                         dir),
                          0);
    strip_newline(out);
    CU_ASSERT_FATAL(strncmp(out, "le-", 3) == 0);
    copy_text(entity, sizeof entity, out);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db register-device --device dev-a --public-key %s "
                       "--owner %s --per-payment 5.00 --currency EUR",
                       fogpayctl, dir, pub, entity),
        0);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db fund --device dev-a --currency EUR --amount 10.00",
                       fogpayctl, dir),
        0);
    CU_ASSERT_EQUAL_FATAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db fund --device dev-a --currency EUR --amount 2.50 "
                       "--reference top-up",
                       fogpayctl, dir),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 12.50 EUR"));
}

static void cleanup(void)
{
    char out[256];
    testutil_shell(out, sizeof out, "rm -rf %s", dir);
}

static void test_offline_verify_ok(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok: 2 transfers checked"));
    cleanup();
}

static void test_offline_export_csv_json(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db export --format csv", fogpayctl, dir), 0);
    /* A header and one line per transfer. */
    CU_ASSERT_EQUAL(count_lines(out), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",10.00,EUR,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",top-up,\n"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db export --format json --device dev-a", fogpayctl,
                                   dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"amount\":\"2.50\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"position\":2"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db export --format xml", fogpayctl, dir), 2);
    cleanup();
}

/* The event chain of the provisioned ledger: the registration (kind 0) of
 * dev-a by its owner; fundings are transfers, not events. */
static void test_offline_export_events(void)
{
    static char out[OUT_MAX], again[OUT_MAX];
    char expected[128];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-events --format csv",
                                   fogpayctl, dir),
                    0);
    /* A header and one line. */
    CU_ASSERT_EQUAL(count_lines(out), 2);
    const char *header = "position,kind,time_ms,device,";
    CU_ASSERT_EQUAL(strncmp(out, header, strlen(header)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n1,0,"));
    snprintf(expected, sizeof expected, ",dev-a,0,,0,,%s,0,0,0,,", entity);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expected));
    /* CSV is the default. */
    CU_ASSERT_EQUAL(
        testutil_shell(again, sizeof again, "%s --db %s/l.db export-events", fogpayctl, dir), 0);
    CU_ASSERT_STRING_EQUAL(again, out);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-events --format json",
                                   fogpayctl, dir),
                    0);
    const char *first = "[\n{\"position\":1,\"kind\":0,";
    CU_ASSERT_EQUAL(strncmp(out, first, strlen(first)), 0);
    snprintf(expected, sizeof expected, "\"entity\":\"%s\"", entity);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expected));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\"dev-a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "}\n]\n"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db export-events --format xml 2>&1", fogpayctl,
                                   dir),
                    2);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s export-events 2>&1", fogpayctl), 2);
    /* verify counts the events it walked. */
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok: 2 transfers checked, 1 events checked"));
    cleanup();
}

/* Fee schedules: set with a leg to an entity, listed, exported as an event
 * of kind 9; refusals with their codes (exit 1), a malformed leg (exit 2). */
static void test_offline_fees(void)
{
    static char out[OUT_MAX];
    char platform[64];
    provision();
    CU_ASSERT_EQUAL_FATAL(testutil_shell(out, sizeof out,
                                         "%s --db %s/l.db create-entity --name 'Platform SE'",
                                         fogpayctl, dir),
                          0);
    strip_newline(out);
    copy_text(platform, sizeof platform, out);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db set-fee --payee dev-a --currency EUR --leg 300:%s "
                       "--remainder-leg 1",
                       fogpayctl, dir, platform),
        0);
    CU_ASSERT_STRING_EQUAL(out, "fee schedule set (event 2)\n");
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db list-fees", fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"payee\":\t\"dev-a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"basisPoints\":\t300"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-events --format json",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"kind\":9,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"feeLegs\":[{\"account\":"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db set-fee --currency EUR --leg 6000:%s --leg 4000:%s 2>&1",
                       fogpayctl, dir, platform, platform),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(fee_over_total)"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db set-fee --payee dev-a --currency EUR --leg 300:dev-a 2>&1",
                       fogpayctl, dir),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(fee_leg_payee)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db set-fee --currency EUR --leg 300:999 2>&1",
                                   fogpayctl, dir),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(fee_account_unknown)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db set-fee --currency EUR --leg 300 2>&1",
                                   fogpayctl, dir),
                    2);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    cleanup();
}

/* What a plan's parties paid and owe: "plan statement" of the holder,
 * "plan arrears" (none: no tick ran), "plan settle" paying it off from the
 * wallet and closing it; refusals with their codes. */
static void test_offline_plan_settle(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan lease --device dev-a --lender %s "
                       "--currency EUR --principal 10.00 --rate-basis-points 0 "
                       "--instalments 2 --period-ms 2592000000 --effective 1700000000000",
                       fogpayctl, dir, entity),
        0);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan statement --plan lease --entity %s --at 1700000000001",
                       fogpayctl, dir, entity),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "on plan lease: paid 0.00 EUR in 0, owes 0.00 (0 of the 0"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan arrears --device dev-a --all true",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"arrears\":\t[]"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan settle --plan lease --payer lender 2>&1",
                                   fogpayctl, dir),
                    2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(field_range)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan settle --plan lease --payer entity 2>&1",
                                   fogpayctl, dir),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(settlement_funds)"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db plan settle --plan lease", fogpayctl, dir),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "plan lease settled: 10.00 EUR from instalment 1"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db plan settle --plan lease 2>&1",
                                   fogpayctl, dir),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(plan_closed)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan statement --plan lease --entity %s",
                                   fogpayctl, dir, entity),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "paid 10.00 EUR in 1, owes 0.00"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    cleanup();
}

/* Financing plans: "plan create" prints the plan's total, "plan show" its
 * full schedule, "plan list" every version, "plan close" closes it, each a
 * plan event exported; refusals with their codes, no transfer made. */
/* list-devices: each device with its status, limits and balance, paged
 * by device id (--after a device id, not a number). */
static void test_offline_list_devices(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db register-device --device dev-b --public-key "
                                   "ed25519:%064d --owner %s --certificate-only true",
                                   fogpayctl, dir, 7, entity),
                    0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db suspend-device --device dev-b",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db list-devices --currency EUR --limit 1",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\t\"dev-a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"balance\":\t\"12.50\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"perPayment\":\t\"5.00\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"next\":\t\"dev-a\""));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db list-devices --currency EUR --limit 1 --after dev-a",
                       fogpayctl, dir),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\t\"dev-b\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"status\":\t\"suspended\""));
    CU_ASSERT_PTR_NULL(strstr(out, "dev-a"));
    cleanup();
}

static void test_offline_plans(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan loan --device dev-a --lender %s "
                       "--currency EUR --principal 1200.00 --rate-basis-points 950 "
                       "--instalments 12 --period-ms 2592000000 --grace-ms 259200000 "
                       "--collect true --effective 1700000000000",
                       fogpayctl, dir, entity),
        0);
    CU_ASSERT_STRING_EQUAL(out, "plan loan for dev-a: 1200.00 + 112.43 EUR in 12 instalments\n");
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan show --plan loan --at 1700000000000",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"amount\":\t\"109.36\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"number\":\t12,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"amount\":\t\"109.47\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"collect\":\ttrue"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan close --plan loan --effective 1700000000001",
                       fogpayctl, dir),
        0);
    CU_ASSERT_STRING_EQUAL(out, "plan loan closed from 1700000000001\n");
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db plan list --device dev-a", fogpayctl, dir),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"closed\":\ttrue"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-events --format json",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"kind\":11,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"kind\":12,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"plan\":\"loan\""));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan close --plan loan --effective 1700000000002 2>&1",
                       fogpayctl, dir),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(plan_closed)"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan p2 --device dev-a --lender %s "
                       "--currency EUR --principal 10.00 --rate-basis-points 0 --instalments 0 "
                       "--period-ms 2592000000 2>&1",
                       fogpayctl, dir, entity),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(plan_terms)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db plan show --plan none 2>&1",
                                   fogpayctl, dir),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(plan_unknown)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok: 2 transfers checked"));
    cleanup();
}

/* "plan create --shortfall limit --allowed-payee": repeated or a comma
 * list, shown by "plan show", carried by the plan's event; an unknown
 * payee refused. */
static void test_offline_plan_payees(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db register-device --device dev-b --public-key "
                                   "ed25519:%064d --owner %s --certificate-only true",
                                   fogpayctl, dir, 7, entity),
                    0);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan loan --device dev-a --lender %s "
                       "--currency EUR --principal 300.00 --rate-basis-points 0 "
                       "--instalments 3 --period-ms 2592000000 --shortfall limit "
                       "--allowed-payee dev-b --allowed-payee %s --effective 1700000000000",
                       fogpayctl, dir, entity, entity),
        0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db plan show --plan loan --at 1700000000000",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"allowedPayees\":\t[\"dev-b\", \""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, entity));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan loan --device dev-a --lender %s "
                       "--currency EUR --principal 200.00 --rate-basis-points 0 "
                       "--instalments 2 --period-ms 2592000000 --shortfall limit "
                       "--allowed-payee %s,dev-b --effective 1700000000001",
                       fogpayctl, dir, entity, entity),
        0);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/l.db plan show --plan loan", fogpayctl, dir),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\", \"dev-b\"]"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-events --format json",
                                   fogpayctl, dir),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"payees\":[\"dev-b\","));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db plan create --plan p2 --device dev-a --lender %s "
                       "--currency EUR --principal 10.00 --rate-basis-points 0 --instalments 1 "
                       "--period-ms 2592000000 --shortfall limit --allowed-payee nobody 2>&1",
                       fogpayctl, dir, entity),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(unknown_payee)"));
    cleanup();
}

static void test_offline_refusals(void)
{
    static char out[OUT_MAX];
    provision();
    /* The same device again: the ledger refuses a duplicate. */
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db register-device --device dev-a --public-key "
                                   "%s --owner %s 2>&1",
                                   fogpayctl, dir, pub, entity),
                    1);
    /* More decimals than the currency has, and an unknown currency. */
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db fund --device dev-a --currency EUR --amount 1.505 2>&1",
                       fogpayctl, dir),
        2);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db fund --device dev-a --currency XXZ --amount 1 2>&1",
                       fogpayctl, dir),
        2);
    /* Funding a device that does not exist. */
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db fund --device nobody --currency EUR --amount 1 2>&1",
                       fogpayctl, dir),
        1);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out, "%s --db %s/none.db verify 2>&1", fogpayctl, dir), 1);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s frobnicate 2>&1", fogpayctl), 2);
    cleanup();
}

/* Drops every trigger that guards the transfers, then changes the amount of
 * the second transfer: verify must fail and name position 2. */
static void test_offline_tamper(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "sqlite3 %s/l.db \"SELECT 'DROP TRIGGER ' || name || ';' FROM "
                                   "sqlite_master WHERE type = 'trigger'\" | sqlite3 %s/l.db",
                                   dir, dir),
                    0);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "sqlite3 %s/l.db \"SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name LIKE 'transfer%%' ORDER BY length(name) LIMIT 1\"",
                       dir),
        0);
    strip_newline(out);
    char table[64];
    copy_text(table, sizeof table, out);
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "sqlite3 %s/l.db \"SELECT name FROM pragma_table_info('%s') WHERE name "
                       "LIKE 'amount%%' LIMIT 1\"",
                       dir, table),
        0);
    strip_newline(out);
    char column[64];
    copy_text(column, sizeof column, out);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "sqlite3 %s/l.db \"UPDATE %s SET %s = %s + 1 WHERE rowid = 2\"",
                                   dir, table, column, column),
                    0);
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "corrupt at position 2"));
    cleanup();
}

/* Bank documents and GDPR requests offline: a statement's XML on stdout,
 * payouts refused without a bank reference or the money, an export, an
 * erasure once. */
static void test_offline_bank(void)
{
    static char out[OUT_MAX];
    provision();
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out,
                                   "%s --db %s/l.db statement --entity %s --currency EUR --from 0 "
                                   "--to 99999999999999 2>/dev/null",
                                   fogpayctl, dir, entity),
                    0);
    CU_ASSERT_EQUAL(strncmp(out, "<?xml", 5), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db statement --entity %s --currency EUR --from 5 --to 4 "
                       "2>&1",
                       fogpayctl, dir, entity),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(period_reversed)"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db payout --entity %s --currency EUR --amount 1.00 2>&1",
                       fogpayctl, dir, entity),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(bank_reference_missing)"));
    CU_ASSERT_EQUAL(
        testutil_shell(out, sizeof out,
                       "%s --db %s/l.db payout-initiation --currency EUR --from 0 --to 5 "
                       "--debtor-name Ops --debtor-iban FR1420041010050500013M02606 2>&1",
                       fogpayctl, dir),
        1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(payout_none)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-entity --entity %s",
                                   fogpayctl, dir, entity),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"name\":\t\"Ex Ltd\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\t\"dev-a\""));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db erase-entity --entity %s",
                                   fogpayctl, dir, entity),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "erased (event"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db export-entity --entity %s",
                                   fogpayctl, dir, entity),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"personalErased\":\ttrue"));
    CU_ASSERT_PTR_NULL(strstr(out, "Ex Ltd"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db erase-entity --entity %s 2>&1",
                                   fogpayctl, dir, entity),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(personal_data_erased)"));
    CU_ASSERT_EQUAL(testutil_shell(out, sizeof out, "%s --db %s/l.db verify", fogpayctl, dir), 0);
    cleanup();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-OF-FOGPAYCTL\n", argv[0]);
        return 2;
    }
    fogpayctl = argv[1];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("fogpayctl offline", NULL, NULL);
    CU_add_test(s, "init, register, fund, verify ok", test_offline_verify_ok);
    CU_add_test(s, "export csv and json", test_offline_export_csv_json);
    CU_add_test(s, "export-events csv and json", test_offline_export_events);
    CU_add_test(s, "refusals: duplicate, bad amount, unknown device", test_offline_refusals);
    CU_add_test(s, "fee schedules: set, list, exported, refused", test_offline_fees);
    CU_add_test(s, "financing plans: create, show, list, close, exported, refused",
                test_offline_plans);
    CU_add_test(s, "offline: plan statement, arrears and settle", test_offline_plan_settle);
    CU_add_test(s, "plan create --allowed-payee, shown and exported", test_offline_plan_payees);
    CU_add_test(s, "list-devices, paged by device id", test_offline_list_devices);
    CU_add_test(s, "tampered amount found at its position", test_offline_tamper);
    CU_add_test(s, "statements, payouts, erasure and export", test_offline_bank);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}
