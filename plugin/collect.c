/*
 * collect.c - financing on the broker's tick: a pass of the ledger's
 * collection over the open plans (ledger_collect.c), and the signed
 * suspend or resume command to each device whose plan entered or left
 * arrears in it.
 *
 * Design. The pass runs between groups only (never inside the group
 * transaction of device messages), at most once every
 * FOGPAY_PLAN_COLLECT_INTERVAL_MS of real time whatever the wall clock
 * (a compressed test clock included), and looks at
 * FOGPAY_PLAN_COLLECT_PER_TICK plans at most, going on from the last one
 * the next time: so its cost on the broker's thread is bounded and off
 * the path of every message. The ledger has already committed what the
 * pass did when the commands go out; a command is retained (command.c),
 * so a device that is offline gets its current state when it comes back.
 * A command that cannot be sent is logged: the device's status in the
 * ledger is what the gateway enforces, the command tells the device.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "gateway.h"

/* The commands of one pass's changes, and the plan notices of the plans
 * it collected for or whose arrears changed. */
static void collect_commands(fogpay_gateway *gw, const fogpay_plan_collect_result *r)
{
    for (size_t i = 0; i < r->noticed_count; i++) {
        fogpay_command_send_plan(gw, r->noticed[i]);
    }
    for (size_t i = 0; i < r->change_count; i++) {
        const fogpay_plan_change *c = &r->changes[i];
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: plan %s of %s %s arrears%s", c->plan_id,
                             c->device_id, c->entered ? "entered" : "left",
                             c->suspended ? (c->entered ? ", device suspended" : ", device resumed")
                                          : "");
        if (!c->suspended) {
            continue;
        }
        fogpay_command_kind kind = c->entered ? FOGPAY_COMMAND_SUSPEND : FOGPAY_COMMAND_RESUME;
        fogpay_error err = fogpay_command_send_for(gw, c->device_id, kind, FOGPAY_ERR_PLAN_ARREARS);
        if (err != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: command %u to %s not sent: %s",
                                 (unsigned)kind, c->device_id, fogpay_error_name(err));
        }
    }
}

void fogpay_collect_tick(fogpay_gateway *gw, uint64_t now_ms)
{
    if (gw->in_transaction) {
        return; /* between groups only */
    }
    uint64_t real_ms = fogpay_clock_monotonic_ms();
    if (gw->collect_last_ms != 0 &&
        real_ms - gw->collect_last_ms < FOGPAY_PLAN_COLLECT_INTERVAL_MS) {
        return;
    }
    gw->collect_last_ms = real_ms;
    fogpay_plan_collect_result r;
    fogpay_error err = fogpay_ledger_plan_collect(gw->ledger, gw->collect_after, now_ms, &r);
    /* On a failure the next pass goes on after the plan that failed. */
    memcpy(gw->collect_after, r.after, sizeof gw->collect_after);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: collecting instalments failed: %s (%s)",
                             fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
    }
    if (r.collected > 0) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "fogpay: %zu late instalments collected", r.collected);
    }
    collect_commands(gw, &r);
}
