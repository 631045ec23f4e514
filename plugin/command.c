/*
 * command.c - signed commands from the gateway to a device: suspend,
 * resume, new limits, the gateway's next key, plan notices.
 *
 * A command carries a per-device sequence number, stored in the ledger
 * before it is sent, so a device can refuse an old command replayed to it.
 * Suspend and resume are published retained at QoS 1 on the device's
 * command topic: the retained message is the device's current state, which
 * a device that was offline (or never subscribed before) receives when it
 * subscribes. New limits and the gateway's next key go at QoS 1 without
 * retain and reach an offline device through its persistent session;
 * retaining them would replace the retained suspend or resume. A plan
 * notice (a financed device's schedule and paid-up-to time) is retained
 * on a topic of its own, dev/{device}/plan, so that the latest reaches a
 * device that reconnects without touching its retained suspension.
 *
 * Revocation takes effect at once: the control handler sends a suspend to
 * a revoked device, and this module then ends the device's connection
 * (mosquitto_kick_client_by_clientid). What the device sent before is
 * answered as usual; it cannot send more, and its login is refused from
 * then on (auth.c), so no intent of a revoked device goes unanswered on an
 * open connection.
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "fogpay_cose.h"
#include "gateway.h"

/* Disconnects a revoked device's client (client id = device id, as auth.c
 * and the certificate listener's use_username_as_clientid require). */
static void command_end_revoked(fogpay_gateway *gw, const char *device_id)
{
    fogpay_device d;
    if (fogpay_ledger_device_get(gw->ledger, device_id, &d) != FOGPAY_OK ||
        d.status != FOGPAY_DEVICE_REVOKED) {
        return;
    }
    int rc = mosquitto_kick_client_by_clientid(device_id, false);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: device %s revoked: %s", device_id,
                         rc == MOSQ_ERR_SUCCESS ? "its connection is closed"
                                                : "it was not connected");
}

/* Numbers cmd for its device, signs it with key and publishes it at QoS 1
 * on the device's topic of kind (retained when retain). */
static fogpay_error command_publish_on(fogpay_gateway *gw, const fogpay_key *key,
                                       fogpay_command *cmd, fogpay_topic_kind kind, bool retain)
{
    fogpay_error err =
        fogpay_ledger_device_next_command_seq(gw->ledger, cmd->device_id, &cmd->command_seq);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t payload_len = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_command_encode(cmd, payload, sizeof payload, &payload_len);
    }
    uint8_t *signed_command = mosquitto_malloc(FOGPAY_MESSAGE_MAX);
    if (!signed_command) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    size_t len = 0;
    uint8_t kid[FOGPAY_KID_BYTES];
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(key, kid);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, payload_len, NULL, 0,
                                     signed_command, FOGPAY_MESSAGE_MAX, &len);
    }
    char topic[FOGPAY_TOPIC_MAX];
    if (err == FOGPAY_OK) {
        err = fogpay_topic_build(gw->options.topic_prefix, kind, cmd->device_id, NULL, topic,
                                 sizeof topic);
    }
    if (err != FOGPAY_OK) {
        mosquitto_free(signed_command);
        return err;
    }
    if (mosquitto_broker_publish(NULL, topic, (int)len, signed_command, 1, retain, NULL) !=
        MOSQ_ERR_SUCCESS) {
        mosquitto_free(signed_command);
        return FOGPAY_ERR_NETWORK;
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "fogpay: command %u (seq %llu) sent to %s",
                         (unsigned)cmd->kind, (unsigned long long)cmd->command_seq, cmd->device_id);
    return FOGPAY_OK;
}

/* A command on the device's command topic. */
static fogpay_error command_publish(fogpay_gateway *gw, const fogpay_key *key, fogpay_command *cmd,
                                    bool retain)
{
    return command_publish_on(gw, key, cmd, FOGPAY_TOPIC_COMMAND, retain);
}

/* The fields every command has, for device_id (checked) and kind. */
static fogpay_error command_base(const fogpay_gateway *gw, const char *device_id,
                                 fogpay_command_kind kind, fogpay_command *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    if (!device_id || strlen(device_id) > FOGPAY_DEVICE_ID_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    strcpy(cmd->device_id, device_id);
    strcpy(cmd->gateway_id, gw->options.gateway_id);
    cmd->kind = (uint8_t)kind;
    cmd->issued_s = fogpay_clock_wall_ms() / 1000;
    return FOGPAY_OK;
}

fogpay_error fogpay_command_send(void *gateway, const char *device_id, fogpay_command_kind kind,
                                 const fogpay_device_limits *limits)
{
    fogpay_gateway *gw = gateway;
    fogpay_command cmd;
    fogpay_error err = command_base(gw, device_id, kind, &cmd);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (kind == FOGPAY_COMMAND_LIMITS && limits) {
        cmd.per_payment_minor = limits->per_payment_minor;
        cmd.per_day_minor = limits->per_day_minor;
        cmd.wallet_max_minor = limits->wallet_max_minor;
    }
    err = command_publish(gw, gw->key, &cmd, kind != FOGPAY_COMMAND_LIMITS);
    if (err == FOGPAY_OK) {
        command_end_revoked(gw, device_id);
    }
    return err;
}

fogpay_error fogpay_command_send_for(fogpay_gateway *gw, const char *device_id,
                                     fogpay_command_kind kind, fogpay_error reason)
{
    fogpay_command cmd;
    fogpay_error err = command_base(gw, device_id, kind, &cmd);
    if (err == FOGPAY_OK && (kind == FOGPAY_COMMAND_LIMITS || kind == FOGPAY_COMMAND_GATEWAY_KEY ||
                             !fogpay_error_is_reason(reason))) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    cmd.reason = (uint16_t)reason;
    return command_publish(gw, gw->key, &cmd, true);
}

fogpay_error fogpay_command_send_gateway_key(fogpay_gateway *gw, const fogpay_key *signer,
                                             const char *device_id, const char *next_key_text,
                                             uint64_t from_s)
{
    fogpay_command cmd;
    fogpay_error err = command_base(gw, device_id, FOGPAY_COMMAND_GATEWAY_KEY, &cmd);
    if (err == FOGPAY_OK && strlen(next_key_text) >= sizeof cmd.gateway_key) {
        err = FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    strcpy(cmd.gateway_key, next_key_text);
    cmd.issued_s = from_s;
    return command_publish(gw, signer, &cmd, false);
}

/* The notice's figures from the plan's status: the next instalment while
 * one is left, none once it is paid off or closed. */
static void command_plan_fill(const fogpay_plan_status *st, fogpay_command *cmd)
{
    snprintf(cmd->plan_id, sizeof cmd->plan_id, "%s", st->plan_id);
    cmd->paid_up_to_s = st->paid_up_to_ms / 1000;
    cmd->plan_left = st->left;
    if (st->left == 0) {
        return;
    }
    cmd->plan_arrears = st->arrears;
    cmd->next_due_s = st->next.due_ms / 1000;
    cmd->amount_minor = st->next.amount_minor;
    cmd->lender_account = st->lender_account;
    cmd->currency = st->currency;
    cmd->instalment = st->next.number;
}

fogpay_error fogpay_command_send_plan(void *gateway, const char *plan_id)
{
    fogpay_gateway *gw = gateway;
    fogpay_plan_status st;
    fogpay_error err = fogpay_ledger_plan_status(gw->ledger, plan_id, fogpay_clock_wall_ms(), &st);
    fogpay_command cmd;
    if (err == FOGPAY_OK) {
        err = command_base(gw, st.device_id, FOGPAY_COMMAND_PLAN, &cmd);
    }
    if (err == FOGPAY_OK) {
        command_plan_fill(&st, &cmd);
        err = command_publish_on(gw, gw->key, &cmd, FOGPAY_TOPIC_PLAN, true);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "fogpay: the notice of plan %s was not sent: %s",
                             plan_id, fogpay_error_name(err));
    }
    return err;
}

/* A batch of plan ids after a given one, read by fogpay_ledger_plan_list. */
typedef struct command_plan_batch {
    const char *after; /* ids up to this one are announced already ("": none) */
    char ids[FOGPAY_PLAN_ANNOUNCE_BATCH][FOGPAY_PLAN_ID_MAX + 1];
    size_t count;
} command_plan_batch;

static int command_plan_batch_visit(void *ctx, const fogpay_plan *plan)
{
    command_plan_batch *b = ctx;
    if (strcmp(plan->plan_id, b->after) <= 0 ||
        (b->count > 0 && strcmp(plan->plan_id, b->ids[b->count - 1]) == 0)) {
        return 0; /* announced, or a later version of the last id */
    }
    if (b->count == FOGPAY_PLAN_ANNOUNCE_BATCH) {
        return 1;
    }
    snprintf(b->ids[b->count++], sizeof b->ids[0], "%s", plan->plan_id);
    return 0;
}

void fogpay_command_announce_plans(fogpay_gateway *gw)
{
    if (gw->plans_announced || gw->in_transaction) {
        return;
    }
    command_plan_batch b = {.after = gw->plans_announced_after};
    if (fogpay_ledger_plan_list(gw->ledger, NULL, command_plan_batch_visit, &b) != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "fogpay: the plans could not be listed; their "
                                               "notices are not sent again");
        gw->plans_announced = true;
        return;
    }
    for (size_t i = 0; i < b.count; i++) {
        fogpay_command_send_plan(gw, b.ids[i]);
    }
    if (b.count < FOGPAY_PLAN_ANNOUNCE_BATCH) {
        gw->plans_announced = true;
        return;
    }
    snprintf(gw->plans_announced_after, sizeof gw->plans_announced_after, "%s", b.ids[b.count - 1]);
}
