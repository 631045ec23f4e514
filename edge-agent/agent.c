/*
 * agent.c - the agent as a whole: opening it (configuration, keys, the
 * journal, the state, the client), closing it, and its status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"
#include "fogpay_topic.h"

#define AGENT_PREFIX_DEFAULT "fogpay/v1"
#define AGENT_HOST_DEFAULT   "127.0.0.1"
#define AGENT_PORT_DEFAULT   1883

static bool agent_copy(char *dst, size_t cap, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return true;
    }
    if (strlen(src) >= cap) {
        return false;
    }
    strcpy(dst, src);
    return true;
}

/* Copies the connection options; false when one is too long. */
static bool agent_client_options(const fogpay_agent_config *cfg, fogpay_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->port = cfg->port > 0 ? cfg->port : AGENT_PORT_DEFAULT;
    o->mqtt_version = cfg->mqtt_version == 3 ? 3 : 5;
    o->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : FOGPAY_AGENT_TIMEOUT_MS_DEFAULT;
    o->has_password = cfg->password != NULL;
    return agent_copy(o->host, sizeof o->host, cfg->host ? cfg->host : AGENT_HOST_DEFAULT) &&
           agent_copy(o->device_id, sizeof o->device_id, cfg->device_id) &&
           agent_copy(o->password, sizeof o->password, cfg->password) &&
           agent_copy(o->cafile, sizeof o->cafile, cfg->cafile) &&
           agent_copy(o->certfile, sizeof o->certfile, cfg->certfile) &&
           agent_copy(o->keyfile, sizeof o->keyfile, cfg->keyfile);
}

/* Builds the agent's six topics under prefix; FOGPAY_ERR_CONFIG when one
 * cannot be built. */
static fogpay_error agent_topics(fogpay_agent *a, const char *prefix)
{
    const char *id = a->device_id;
    bool ok = fogpay_topic_build(prefix, FOGPAY_TOPIC_INTENT, id, NULL, a->topic_intent,
                                 sizeof a->topic_intent) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_USAGE, id, NULL, a->topic_usage,
                                 sizeof a->topic_usage) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_BIND, id, NULL, a->topic_bind,
                                 sizeof a->topic_bind) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_HOLD, id, NULL, a->topic_hold,
                                 sizeof a->topic_hold) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_WITHDRAW, id, NULL, a->topic_withdraw,
                                 sizeof a->topic_withdraw) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_NOTE, id, NULL, a->topic_note,
                                 sizeof a->topic_note) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_NOTEPAY, id, NULL, a->topic_notepay,
                                 sizeof a->topic_notepay) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_REDEEM, id, NULL, a->topic_redeem,
                                 sizeof a->topic_redeem) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_RECEIPT, id, NULL, a->topic_receipt,
                                 sizeof a->topic_receipt) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_COMMAND, id, NULL, a->topic_command,
                                 sizeof a->topic_command) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_PLAN, id, NULL, a->topic_plan,
                                 sizeof a->topic_plan) == FOGPAY_OK &&
              fogpay_topic_build(prefix, FOGPAY_TOPIC_REPLY, id, "receipt", a->topic_reply,
                                 sizeof a->topic_reply) == FOGPAY_OK;
    return ok ? FOGPAY_OK : FOGPAY_ERR_CONFIG;
}

static fogpay_error agent_open_parts(fogpay_agent *a, const fogpay_agent_config *cfg)
{
    const char *prefix = cfg->prefix ? cfg->prefix : AGENT_PREFIX_DEFAULT;
    fogpay_client_options copts;
    if (!cfg->state_dir || !cfg->key_path || !cfg->device_id || !cfg->gateway_key ||
        !fogpay_topic_prefix_valid(prefix) || !fogpay_device_id_valid(cfg->device_id) ||
        !agent_copy(a->device_id, sizeof a->device_id, cfg->device_id) ||
        !agent_copy(a->hook, sizeof a->hook, cfg->hook) || !agent_client_options(cfg, &copts)) {
        return FOGPAY_ERR_CONFIG;
    }
    a->timeout_ms = copts.timeout_ms;
    a->mqtt_version = copts.mqtt_version;
    a->verbose = cfg->verbose;
    a->journaled = cfg->journaled;
    a->journaled_ctx = cfg->journaled_ctx;
    fogpay_error err = agent_topics(a, prefix);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_key_load(cfg->key_path, &a->key);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (fogpay_key_from_public_text(cfg->gateway_key, &a->gateway_key) != FOGPAY_OK) {
        return FOGPAY_ERR_CONFIG;
    }
    int n = snprintf(a->notes_path, sizeof a->notes_path, "%s/notes", cfg->state_dir);
    if (n < 0 || (size_t)n >= sizeof a->notes_path) {
        return FOGPAY_ERR_CONFIG;
    }
    err = fogpay_journal_open(cfg->state_dir, &a->journal);
    if (err == FOGPAY_OK) {
        err = agent_state_load(a);
    }
    if (err == FOGPAY_OK) {
        err = agent_plan_load(a);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_client_create(&copts, &a->client);
    }
    return err;
}

fogpay_error fogpay_agent_open(const fogpay_agent_config *config, fogpay_agent **out)
{
    if (!config || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_agent *a = calloc(1, sizeof *a);
    if (!a) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = agent_open_parts(a, config);
    if (err != FOGPAY_OK) {
        fogpay_agent_close(a);
        return err;
    }
    agent_command_resume_hook(a);
    agent_plan_enforce(a);
    *out = a;
    return FOGPAY_OK;
}

void fogpay_agent_close(fogpay_agent *a)
{
    if (!a) {
        return;
    }
    fogpay_client_destroy(a->client);
    fogpay_journal_close(a->journal);
    fogpay_key_free(a->key);
    fogpay_key_free(a->gateway_key);
    free(a);
}

void fogpay_agent_last_outcome(const fogpay_agent *a, fogpay_agent_outcome *out)
{
    *out = a->last_outcome;
}

void fogpay_agent_status_get(const fogpay_agent *a, fogpay_agent_status *out)
{
    memset(out, 0, sizeof *out);
    out->pending = fogpay_journal_count(a->journal);
    out->next_seq = fogpay_journal_next_seq(a->journal);
    out->journal_bytes = fogpay_journal_size(a->journal);
    out->suspended = a->state.suspended;
    out->last_command_seq = a->state.last_command_seq;
    out->per_payment_minor = a->state.per_payment_minor;
    out->per_day_minor = a->state.per_day_minor;
    out->wallet_max_minor = a->state.wallet_max_minor;
    out->balance_count = a->state.balance_count;
    memcpy(out->balances, a->state.balances, sizeof out->balances);
    const agent_plan *p = &a->plan;
    memcpy(out->plan_id, p->plan_id, sizeof out->plan_id);
    out->plan_next_due_ms = p->next_due_ms;
    out->plan_amount_minor = p->amount_minor;
    out->plan_currency = p->currency;
    out->plan_instalment = p->instalment;
    out->plan_left = p->left;
    out->plan_arrears = p->arrears;
    out->plan_paid_up_to_ms = p->paid_up_to_ms;
    out->plan_lapsed = p->lapsed;
    out->plan_clock_ms = agent_plan_now_ms(a);
}
