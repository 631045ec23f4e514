/*
 * ledger_gauge.c - the figures of the ledger that the gateway's metrics
 * publish as gauges: open holds, devices registered and suspended, and how
 * far the cloud's acknowledgements lag behind the transfer chain.
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

fogpay_error fogpay_ledger_gauges(fogpay_ledger *l, fogpay_ledger_gauge *out)
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
        *out = g;
    }
    return err;
}
