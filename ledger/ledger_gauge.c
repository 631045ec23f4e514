/*
 * ledger_gauge.c - the figures of the ledger that the gateway's metrics
 * publish as gauges: open holds, devices registered and suspended,
 * financing plans in arrears, and how far the cloud's acknowledgements lag
 * behind the transfer chain.
 *
 * A plan is in arrears when its version in effect (not a closing one) has
 * fewer instalments paid since its effective time than have fallen due and
 * passed their grace: instalment n is due at effective + n periods.
 *
 * Design. One call reads everything, with a few indexed or small
 * statements, outside the settlement path: the plugin calls it on the tick
 * between groups, every plugin_opt_metrics_interval. Nothing here
 * allocates; the output is written only on success.
 */
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_gauge__sql[] = {
    {LEDGER_STMT_GAUGE_HOLDS_OPEN, "SELECT count(*) FROM holds WHERE state = 0"},
    {LEDGER_STMT_GAUGE_DEVICES,
     "SELECT count(*), coalesce(sum(status = 1), 0) FROM devices WHERE status <> 2"},
};
const size_t ledger_gauge__sql_count = sizeof ledger_gauge__sql / sizeof ledger_gauge__sql[0];

/* Devices not revoked, and those of them suspended. */
static fogpay_error gauge_devices(fogpay_ledger *l, uint64_t *registered, uint64_t *suspended)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_GAUGE_DEVICES);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) >= 0 && sqlite3_column_int64(s, 1) >= 0) {
        *registered = (uint64_t)sqlite3_column_int64(s, 0);
        *suspended = (uint64_t)sqlite3_column_int64(s, 1);
    } else {
        err = rc == SQLITE_ROW ? FOGPAY_ERR_LEDGER_CORRUPT
                               : ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    }
    ledger__finish(s);
    return err;
}

/* The transfers past the cloud's last ack and the time the oldest of them
 * was settled (0 when none waits). */
static fogpay_error gauge_sync(fogpay_ledger *l, uint64_t *backlog, uint64_t *oldest_ms)
{
    fogpay_sync_state st;
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_ledger_sync_get(l, &st);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_chain_head(l, &head, head_hash);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    *backlog = head > st.acked_position ? head - st.acked_position : 0;
    *oldest_ms = 0;
    if (*backlog > 0) {
        fogpay_transfer oldest;
        err = fogpay_ledger_transfer_get(l, st.acked_position + 1, &oldest, NULL);
        *oldest_ms = err == FOGPAY_OK ? oldest.time_ms : 0;
    }
    return err;
}

/* The plans visited in order, the version in effect of the current one
 * kept until the next plan starts. */
typedef struct gauge_plans {
    fogpay_ledger *l;
    uint64_t now_ms;
    fogpay_plan current;
    bool have;
    uint64_t arrears;
    fogpay_error err;
} gauge_plans;

/* Counts version p if it is in arrears at g->now_ms. */
static void gauge_plan_judge(gauge_plans *g, const fogpay_plan *p)
{
    uint64_t start_ms = p->effective_ms + p->grace_ms;
    if (p->closed || p->period_ms == 0 || g->now_ms <= start_ms + p->period_ms) {
        return;
    }
    uint64_t overdue = (g->now_ms - start_ms - 1) / p->period_ms;
    if (overdue > p->instalment_count) {
        overdue = p->instalment_count;
    }
    uint64_t paid = 0;
    sqlite3_stmt *s = ledger__stmt(g->l, LEDGER_STMT_PLAN_PAID);
    ledger__bind_text(g->l, s, 1, p->plan_id);
    ledger__bind_u64(g->l, s, 2, p->effective_ms);
    fogpay_error err = ledger__scalar(g->l, s, &paid);
    if (err != FOGPAY_OK) {
        g->err = err;
    } else if (paid < overdue) {
        g->arrears++;
    }
}

static int gauge_plan_visit(void *ctx, const fogpay_plan *p)
{
    gauge_plans *g = ctx;
    if (g->have && strcmp(p->plan_id, g->current.plan_id) != 0) {
        gauge_plan_judge(g, &g->current);
        g->have = false;
    }
    if (p->effective_ms <= g->now_ms) {
        g->current = *p;
        g->have = true;
    }
    return g->err != FOGPAY_OK;
}

static fogpay_error gauge_plans_arrears(fogpay_ledger *l, uint64_t now_ms, uint64_t *arrears)
{
    gauge_plans g = {.l = l, .now_ms = now_ms, .err = FOGPAY_OK};
    fogpay_error err = fogpay_ledger_plan_list(l, NULL, gauge_plan_visit, &g);
    if (err == FOGPAY_OK && g.err == FOGPAY_OK && g.have) {
        gauge_plan_judge(&g, &g.current);
    }
    *arrears = g.arrears;
    return err != FOGPAY_OK ? err : g.err;
}

fogpay_error fogpay_ledger_gauges(fogpay_ledger *l, uint64_t now_ms, fogpay_ledger_gauge *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_ledger_gauge g;
    memset(&g, 0, sizeof g);
    fogpay_error err =
        ledger__scalar(l, ledger__stmt(l, LEDGER_STMT_GAUGE_HOLDS_OPEN), &g.holds_open);
    if (err == FOGPAY_OK) {
        err = gauge_devices(l, &g.devices_registered, &g.devices_suspended);
    }
    if (err == FOGPAY_OK) {
        err = gauge_sync(l, &g.sync_backlog, &g.sync_oldest_ms);
    }
    if (err == FOGPAY_OK) {
        err = gauge_plans_arrears(l, now_ms, &g.plans_arrears);
    }
    if (err == FOGPAY_OK) {
        *out = g;
    }
    return err;
}
