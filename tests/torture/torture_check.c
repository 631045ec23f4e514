/*
 * torture_check.c - the invariants after a round (torture_check.h).
 *
 * What the agents said comes from their out files, every line any of their
 * processes printed: "journaled seq N" once an intent is fsync'd in the
 * journal, "settled seq N transfer T ..." once its receipt verified,
 * "rejected seq N: reason: ...". What the devices keep comes from their
 * state directories, opened with the agent library while no agent runs.
 * The ledger is read with SQLite directly, read-only, for what the ledger
 * API does not answer (a message by (device, seq), a wallet's balance at
 * a position), and verified with fogpay_ledger_verify().
 */
#include "torture_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "agent.h"
#include "ledger.h"
#include "testutil.h"

/* How long the cloud is given to catch up after a round: the gateway's
 * sync timeout is a second and doubles while the cloud is away. */
#define CHECK_CLOUD_WAIT_MS 60000
/* Violations printed per invariant and round; the rest are only counted. */
#define CHECK_PRINT_MAX 5

static const char *const check_names[INV_COUNT] = {
    [INV_RECEIPT_LOST] = "receipt_lost",
    [INV_SETTLED_TWICE] = "settled_twice",
    [INV_INTENT_LOST] = "intent_lost",
    [INV_SEQ_REUSED] = "seq_reused",
    [INV_CHAIN] = "chain",
    [INV_SUM] = "sum",
    [INV_AGENT_BALANCE] = "agent_balance",
    [INV_CLOUD] = "cloud",
};

const char *torture_invariant_name(torture_invariant inv)
{
    return inv < INV_COUNT ? check_names[inv] : "?";
}

typedef struct check_run {
    torture_world *w;
    unsigned round;
    torture_tally *t;
    uint64_t found[INV_COUNT]; /* this round */
    sqlite3 *db;
} check_run;

__attribute__((format(printf, 3, 4))) static void check_fail(check_run *c, torture_invariant inv,
                                                             const char *fmt, ...)
{
    c->t->violations[inv]++;
    if (c->found[inv]++ >= CHECK_PRINT_MAX) {
        return;
    }
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("torture: round %u: VIOLATION %s: %s\n", c->round, check_names[inv], text);
}

/* One statement, bound with up to two integers and a text (NULL: none),
 * stepped once: true with a row, whose columns the caller reads before
 * check_done(). */
static sqlite3_stmt *check_query(check_run *c, const char *sql, const char *text, int64_t a,
                                 int64_t b)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        printf("torture: cannot read the ledger: %s\n", sqlite3_errmsg(c->db));
        return NULL;
    }
    int n = sqlite3_bind_parameter_count(st);
    int k = 1;
    if (text && k <= n) {
        sqlite3_bind_text(st, k++, text, -1, SQLITE_TRANSIENT);
    }
    if (k <= n) {
        sqlite3_bind_int64(st, k++, a);
    }
    if (k <= n) {
        sqlite3_bind_int64(st, k++, b);
    }
    return st;
}

/* ---- what each device's agents printed ---------------------------------- */

typedef struct check_seen {
    uint64_t seq;
    uint64_t transfer; /* settled: the receipt's transfer; 0 otherwise */
} check_seen;

typedef struct check_lines {
    check_seen *journaled;
    size_t journaled_count;
    check_seen *settled;
    size_t settled_count;
    size_t conflicts; /* "rejected seq N: seq_conflict" */
} check_lines;

static void check_push(check_seen **v, size_t *n, uint64_t seq, uint64_t transfer)
{
    if ((*n & (*n + 1)) == 0) { /* grow at 0, 1, 3, 7, ... */
        check_seen *grown = realloc(*v, (*n * 2 + 2) * sizeof **v);
        if (!grown) {
            return;
        }
        *v = grown;
    }
    (*v)[(*n)++] = (check_seen){seq, transfer};
}

static void check_read_lines(const torture_device *d, check_lines *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(d->out_path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long seq = 0, transfer = 0;
        char reason[64];
        if (sscanf(line, "journaled seq %llu intent", &seq) == 1) {
            check_push(&out->journaled, &out->journaled_count, seq, 0);
        } else if (sscanf(line, "settled seq %llu transfer %llu", &seq, &transfer) == 2) {
            check_push(&out->settled, &out->settled_count, seq, transfer);
        } else if (sscanf(line, "rejected seq %llu: %63[a-z_]", &seq, reason) == 2 &&
                   strcmp(reason, "seq_conflict") == 0) {
            out->conflicts++;
        }
    }
    if (f) {
        fclose(f);
    }
}

static void check_lines_free(check_lines *l)
{
    free(l->journaled);
    free(l->settled);
}

static int check_seen_order(const void *a, const void *b)
{
    const check_seen *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every receipt the device got names a transfer the ledger holds for that
 * (device, seq), and its answer there is that transfer. */
static void check_receipts(check_run *c, const torture_device *d, const check_lines *l)
{
    for (size_t i = 0; i < l->settled_count; i++) {
        const check_seen *s = &l->settled[i];
        sqlite3_stmt *st = check_query(
            c,
            "SELECT t.device_id = ?1 AND t.seq = ?2, m.status, m.position FROM transfers t "
            "LEFT JOIN messages m ON m.device_id = ?1 AND m.seq = ?2 WHERE t.position = ?3",
            d->id, (int64_t)s->seq, (int64_t)s->transfer);
        if (!st) {
            return;
        }
        bool found = sqlite3_step(st) == SQLITE_ROW;
        bool same = found && sqlite3_column_int(st, 0) == 1 &&
                    sqlite3_column_type(st, 1) != SQLITE_NULL &&
                    sqlite3_column_int(st, 1) == FOGPAY_STATUS_SETTLED &&
                    (uint64_t)sqlite3_column_int64(st, 2) == s->transfer;
        sqlite3_finalize(st);
        if (!same) {
            check_fail(
                c, INV_RECEIPT_LOST,
                "%s seq %" PRIu64 " was receipted as transfer %" PRIu64 ", which the ledger %s",
                d->id, s->seq, s->transfer, found ? "holds for another message" : "does not hold");
        }
    }
}

/* Each journaled intent has an answer in the ledger, and no sequence
 * number was journaled twice. */
static void check_journaled(check_run *c, const torture_device *d, check_lines *l)
{
    qsort(l->journaled, l->journaled_count, sizeof *l->journaled, check_seen_order);
    for (size_t i = 0; i < l->journaled_count; i++) {
        uint64_t seq = l->journaled[i].seq;
        if (i > 0 && l->journaled[i - 1].seq == seq) {
            check_fail(c, INV_SEQ_REUSED, "%s journaled seq %" PRIu64 " twice", d->id, seq);
            continue;
        }
        sqlite3_stmt *st = check_query(
            c, "SELECT 1 FROM messages WHERE device_id = ?1 AND seq = ?2", d->id, (int64_t)seq, 0);
        if (!st) {
            return;
        }
        bool answered = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!answered) {
            check_fail(c, INV_INTENT_LOST,
                       "%s journaled seq %" PRIu64 ", which the gateway never answered", d->id,
                       seq);
        }
    }
    if (l->conflicts > 0) {
        check_fail(c, INV_SEQ_REUSED, "%s was refused %zu times with seq_conflict", d->id,
                   l->conflicts);
    }
}

/* The wallet's balance in currency as of chain position (inclusive). */
static bool check_balance_at(check_run *c, const char *device, uint16_t currency, uint64_t position,
                             int64_t *out)
{
    sqlite3_stmt *st = check_query(
        c,
        "SELECT coalesce(sum(CASE WHEN t.credit_account = a.id THEN t.amount_minor ELSE "
        "-t.amount_minor END), 0) FROM accounts a JOIN transfers t ON (t.credit_account = a.id "
        "OR t.debit_account = a.id) AND t.position <= ?2 WHERE a.kind = 'wallet' AND "
        "a.device_id = ?1 AND a.currency = ?3",
        device, (int64_t)position, currency);
    bool ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        *out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return ok;
}

/* The device's journal is empty, and the balance it keeps is the
 * gateway's at the position it came from. */
static void check_agent(check_run *c, const torture_device *d)
{
    fogpay_agent_config cfg = {.state_dir = d->state_dir,
                               .key_path = d->key_path,
                               .device_id = d->id,
                               .gateway_key = c->w->gateway_key_text};
    fogpay_agent *a = NULL;
    fogpay_error err = fogpay_agent_open(&cfg, &a);
    if (err != FOGPAY_OK) {
        check_fail(c, INV_INTENT_LOST, "%s: its state cannot be opened: %s", d->id,
                   fogpay_error_name(err));
        return;
    }
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    fogpay_agent_close(a);
    if (s.pending != 0) {
        check_fail(c, INV_INTENT_LOST, "%s still holds %zu journaled messages after the drain",
                   d->id, s.pending);
    }
    for (size_t i = 0; i < s.balance_count; i++) {
        const fogpay_agent_balance *b = &s.balances[i];
        int64_t gateway = 0;
        if (!check_balance_at(c, d->id, b->currency, b->position, &gateway) ||
            gateway != b->balance_minor) {
            check_fail(c, INV_AGENT_BALANCE,
                       "%s keeps %" PRId64 " at position %" PRIu64 ", the gateway had %" PRId64,
                       d->id, b->balance_minor, b->position, gateway);
        }
    }
}

/* ---- the ledger as a whole ------------------------------------------------ */

static void check_ledger(check_run *c)
{
    sqlite3_stmt *st = check_query(c,
                                   "SELECT device_id, seq, count(*) FROM transfers WHERE seq IS "
                                   "NOT NULL GROUP BY device_id, seq HAVING count(*) > 1",
                                   NULL, 0, 0);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        check_fail(c, INV_SETTLED_TWICE, "%s seq %lld has %d transfers",
                   (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
                   sqlite3_column_int(st, 2));
    }
    sqlite3_finalize(st);
    st = check_query(c,
                     "SELECT count(*) FROM rejections WHERE reason = ?1 AND client_id LIKE 'dev-%'",
                     NULL, FOGPAY_ERR_SEQ_CONFLICT, 0);
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        check_fail(c, INV_SEQ_REUSED, "the gateway refused %lld messages with seq_conflict",
                   sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    st =
        check_query(c, "SELECT currency, sum(balance) FROM accounts GROUP BY currency", NULL, 0, 0);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 1) != 0) {
            check_fail(c, INV_SUM, "currency %d sums to %lld", sqlite3_column_int(st, 0),
                       sqlite3_column_int64(st, 1));
        }
    }
    sqlite3_finalize(st);
    fogpay_ledger *l = NULL;
    uint64_t checked = 0, bad = 0;
    char problem[256] = "";
    if (fogpay_ledger_open(c->w->db, false, &l) != FOGPAY_OK) {
        check_fail(c, INV_CHAIN, "the ledger cannot be opened");
        return;
    }
    if (fogpay_ledger_verify(l, &checked, &bad, problem, sizeof problem) != FOGPAY_OK) {
        check_fail(c, INV_CHAIN, "verify: position %" PRIu64 ": %s", bad, problem);
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_ledger_chain_head(l, &c->t->transfers, hash);
    fogpay_ledger_close(l);
}

/* ---- the cloud ------------------------------------------------------------ */

typedef struct check_heads {
    uint64_t position, event_position;
    uint8_t hash[FOGPAY_HASH_BYTES], event_hash[FOGPAY_HASH_BYTES];
} check_heads;

static bool check_gateway_heads(const torture_world *w, check_heads *h)
{
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(w->db, false, &l) != FOGPAY_OK) {
        return false;
    }
    bool ok = fogpay_ledger_chain_head(l, &h->position, h->hash) == FOGPAY_OK &&
              fogpay_ledger_event_head(l, &h->event_position, h->event_hash) == FOGPAY_OK;
    fogpay_ledger_close(l);
    return ok;
}

/* The cloud's copy holds both chains up to the gateway's heads with the
 * same hashes, and the store verifies. A cloud ahead of the gateway holds
 * what the gateway lost, and fails at once. */
static void check_cloud(check_run *c)
{
    check_heads g = {0};
    fogpay_store_gateway row = {0};
    bool converged = false;
    for (uint64_t end = testutil_now_ms() + CHECK_CLOUD_WAIT_MS;
         !converged && testutil_now_ms() < end; testutil_sleep_ms(100)) {
        fogpay_store *s = NULL;
        if (!check_gateway_heads(c->w, &g) ||
            fogpay_store_open(c->w->store, false, &s) != FOGPAY_OK) {
            continue;
        }
        bool got = fogpay_store_gateway_get(s, TORTURE_GATEWAY_ID, &row) == FOGPAY_OK;
        fogpay_store_close(s);
        if (got && (row.position > g.position || row.event_position > g.event_position)) {
            check_fail(c, INV_CLOUD,
                       "the cloud holds transfers to %" PRIu64 " and events to %" PRIu64
                       ", past the gateway's %" PRIu64 " and %" PRIu64,
                       row.position, row.event_position, g.position, g.event_position);
            return;
        }
        converged = got && row.position == g.position && row.event_position == g.event_position &&
                    memcmp(row.hash, g.hash, sizeof g.hash) == 0 &&
                    memcmp(row.event_hash, g.event_hash, sizeof g.event_hash) == 0;
    }
    if (!converged) {
        check_fail(c, INV_CLOUD,
                   "after %d ms the cloud holds transfers to %" PRIu64 " and events to %" PRIu64
                   " of the gateway's %" PRIu64 " and %" PRIu64 " (or other hashes)",
                   CHECK_CLOUD_WAIT_MS, row.position, row.event_position, g.position,
                   g.event_position);
        return;
    }
    fogpay_store *s = NULL;
    char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1] = "", problem[256] = "";
    uint64_t bad = 0;
    if (fogpay_store_open(c->w->store, false, &s) != FOGPAY_OK ||
        fogpay_store_verify(s, NULL, bad_gateway, &bad, problem, sizeof problem) != FOGPAY_OK) {
        check_fail(c, INV_CLOUD, "the store does not verify: %s %" PRIu64 ": %s", bad_gateway, bad,
                   problem);
    }
    fogpay_store_close(s);
}

void torture_check(torture_world *w, unsigned round, torture_tally *t)
{
    check_run c = {.w = w, .round = round, .t = t};
    if (sqlite3_open_v2(w->db, &c.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        check_fail(&c, INV_CHAIN, "the ledger cannot be read: %s", sqlite3_errmsg(c.db));
        sqlite3_close(c.db);
        return;
    }
    t->receipts = t->journaled = 0;
    for (unsigned i = 0; i < w->device_count; i++) {
        check_lines l;
        check_read_lines(&w->devices[i], &l);
        t->receipts += l.settled_count;
        t->journaled += l.journaled_count;
        check_receipts(&c, &w->devices[i], &l);
        check_journaled(&c, &w->devices[i], &l);
        check_lines_free(&l);
        check_agent(&c, &w->devices[i]);
    }
    check_ledger(&c);
    sqlite3_close(c.db);
    if (w->sync) {
        check_cloud(&c);
    }
}
