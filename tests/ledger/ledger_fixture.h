/*
 * ledger_fixture.h - the shared setup of the ledger's tests (tests/ledger/):
 * each test opens a ledger file of its own in the suite's temporary
 * directory, so tests do not depend on each other's order. The raw sqlite3
 * connections play an attacker or a second process; they never go through
 * the ledger's API.
 */
#ifndef FOGPAY_TEST_LEDGER_FIXTURE_H
#define FOGPAY_TEST_LEDGER_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_hash.h"
#include "fogpay_key.h"
#include "ledger.h"
#include "testutil.h"

#define EUR 978
#define USD 840

/* 2023-11-14 22:13:20 UTC; its UTC day ends 6,400,000 ms later. */
#define NOW_MS      1700000000000ull
#define DAY_MS      86400000ull
#define NEXT_DAY_MS (NOW_MS - NOW_MS % DAY_MS + DAY_MS)

/* A ledger with two legal entities, each owning one device. */
typedef struct fixture {
    char path[512];
    fogpay_ledger *l;
    char entity_a[FOGPAY_ENTITY_ID_MAX + 1];
    char entity_b[FOGPAY_ENTITY_ID_MAX + 1];
} fixture;

/* Balances and chain head: what a refused operation must leave alone. */
typedef struct snapshot {
    uint64_t head;
    uint8_t hash[FOGPAY_HASH_BYTES];
    char accounts[2048];
} snapshot;

/* The suite's temporary directory, ledger files made in it, and two keys. */
extern char dir[256];
extern int ledger_count;
extern fogpay_key *key_one;
extern fogpay_key *key_two;

/* A test program's tests, run as one suite named suite whose init and
 * clean make and remove the directory and the keys; the exit status of
 * testutil_run(). */
typedef struct ledger_test {
    const char *name;
    CU_TestFunc run;
} ledger_test;
int ledger_fixture_run(const char *suite, const ledger_test *tests, size_t n);

/* A fresh path in the directory, named after name. */
void path_new(char *path, size_t cap, const char *name);

/* Raw SQLite on path: a statement's result code, the first column of the
 * first row as text ("" if none) or as a number; a copy of a file. */
int raw_exec(const char *path, const char *sql);
void raw_text(const char *path, const char *sql, char *out, size_t cap);
long raw_long(const char *path, const char *sql);
void copy_file(const char *from, const char *to);

/* Fixture helpers. */
void entity_new(fogpay_ledger *l, const char *name, char id[FOGPAY_ENTITY_ID_MAX + 1]);
void device_new(fogpay_ledger *l, const char *device, const char *owner,
                const fogpay_device_limits *limits);
void fixture_open(fixture *fx);
void fund(fogpay_ledger *l, const char *device, uint16_t currency, uint64_t amount);
/* Sets payee_device's fee schedule in EUR from effective_ms on (recorded
 * then): one fee leg of basis_points to account, the remainder to the payee. */
void fee_set(fogpay_ledger *l, const char *payee_device, uint64_t account, uint32_t basis_points,
             uint64_t effective_ms);
/* Sets device's per-day limit (and no other). */
void limit_per_day(fogpay_ledger *l, const char *device, uint64_t per_day_minor);
void intent_hash_of(const char *device, uint64_t seq, uint8_t hash[FOGPAY_HASH_BYTES]);
fogpay_intent intent_of(const char *payer, uint64_t seq, const char *payee_device,
                        uint64_t payee_account, uint64_t amount, uint16_t currency);
/* Settles a payment; out may be NULL. */
fogpay_error pay_full(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee_device,
                      uint64_t payee_account, uint64_t amount, uint16_t currency, uint64_t now_ms,
                      fogpay_transfer *out);
fogpay_error pay(fogpay_ledger *l, const char *payer, uint64_t seq, const char *payee,
                 uint64_t amount);
int64_t balance_of(fogpay_ledger *l, const char *device, uint16_t currency);
void snapshot_take(const fixture *fx, snapshot *s);
bool snapshot_same(const fixture *fx, const snapshot *before);
fogpay_error verify(fogpay_ledger *l, uint64_t *checked, uint64_t *bad, char *problem, size_t cap);

/* The event chain: its head's position; a usage reading of device. */
uint64_t event_head(fogpay_ledger *l);
fogpay_usage usage_of(const char *device, uint64_t seq, uint64_t quantity);

#endif
