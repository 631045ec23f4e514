/*
 * agent.c - the agent as a whole: opening and closing it, its persisted
 * state, status, the loop that takes in messages, and the daemon.
 *
 * The state file (suspended, the last command applied, limits, last known
 * balances) is small and replaced atomically through the journal's
 * fogpay_journal_file_replace(), so after a crash it is either the old or
 * the new state, never a mix. Incoming messages are dispatched by topic:
 * receipts (receipt topic, or the MQTT 5 reply topic) to agent_receipt.c,
 * commands to agent_command.c; anything else is ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_internal.h"

#define AGENT_PREFIX_DEFAULT "fogpay/v1"
#define AGENT_HOST_DEFAULT "127.0.0.1"
#define AGENT_PORT_DEFAULT 1883

/* version, suspended, hook, command seq, three limits, count, balances */
#define AGENT_STATE_BALANCE_BYTES (2 + 8 + 8)
#define AGENT_STATE_BYTES_MAX                                                                      \
    (3 + 8 * 4 + 1 + FOGPAY_AGENT_CURRENCIES_MAX * AGENT_STATE_BALANCE_BYTES)
static_assert(AGENT_STATE_BYTES_MAX <= FOGPAY_JOURNAL_BODY_MAX, "state fits a framed file");

void agent_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fogpay-agent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

uint64_t agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

fogpay_error agent_state_store(fogpay_agent *a, const agent_state *next)
{
    const agent_state *s = next;
    uint8_t body[AGENT_STATE_BYTES_MAX];
    size_t n = 0;
    body[n++] = FOGPAY_AGENT_STATE_VERSION;
    body[n++] = s->suspended ? 1 : 0;
    body[n++] = s->hook_pending;
    put_u64(body + n, s->last_command_seq);
    put_u64(body + n + 8, s->per_payment_minor);
    put_u64(body + n + 16, s->per_day_minor);
    put_u64(body + n + 24, s->wallet_max_minor);
    n += 32;
    body[n++] = (uint8_t)s->balance_count;
    for (size_t i = 0; i < s->balance_count; i++) {
        body[n] = (uint8_t)(s->balances[i].currency >> 8);
        body[n + 1] = (uint8_t)s->balances[i].currency;
        put_u64(body + n + 2, (uint64_t)s->balances[i].balance_minor);
        put_u64(body + n + 10, s->balances[i].position);
        n += AGENT_STATE_BALANCE_BYTES;
    }
    fogpay_error err = fogpay_journal_file_replace(a->journal, FOGPAY_AGENT_STATE_FILE, body, n);
    if (err != FOGPAY_OK) {
        agent_log("saving the state failed (%s); the state stays as it was", fogpay_error_name(err));
        return err;
    }
    a->state = *next;
    return FOGPAY_OK;
}

static fogpay_error agent_state_load(fogpay_agent *a)
{
    uint8_t body[AGENT_STATE_BYTES_MAX];
    size_t len = 0;
    memset(&a->state, 0, sizeof a->state);
    fogpay_error err =
        fogpay_journal_file_load(a->journal, FOGPAY_AGENT_STATE_FILE, body, sizeof body, &len);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    agent_state *s = &a->state;
    if (len < 36 || body[0] != FOGPAY_AGENT_STATE_VERSION || body[35] > FOGPAY_AGENT_CURRENCIES_MAX ||
        len != 36 + (size_t)body[35] * AGENT_STATE_BALANCE_BYTES) {
        return FOGPAY_ERR_STORAGE;
    }
    s->suspended = body[1] != 0;
    s->hook_pending = body[2];
    s->last_command_seq = get_u64(body + 3);
    s->per_payment_minor = get_u64(body + 11);
    s->per_day_minor = get_u64(body + 19);
    s->wallet_max_minor = get_u64(body + 27);
    s->balance_count = body[35];
    for (size_t i = 0; i < s->balance_count; i++) {
        const uint8_t *p = body + 36 + i * AGENT_STATE_BALANCE_BYTES;
        s->balances[i].currency = (uint16_t)(p[0] << 8 | p[1]);
        s->balances[i].balance_minor = (int64_t)get_u64(p + 2);
        s->balances[i].position = get_u64(p + 10);
    }
    return FOGPAY_OK;
}

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

static void agent_topic(const char *prefix, const char *device, const char *leaf, char *out)
{
    snprintf(out, FOGPAY_CLIENT_TOPIC_MAX + 1, "%s/dev/%s/%s", prefix, device, leaf);
}

static fogpay_error agent_open_parts(fogpay_agent *a, const fogpay_agent_config *cfg)
{
    const char *prefix = cfg->prefix ? cfg->prefix : AGENT_PREFIX_DEFAULT;
    fogpay_client_options copts;
    if (!cfg->state_dir || !cfg->key_path || !cfg->device_id || !cfg->gateway_key ||
        strlen(prefix) > FOGPAY_AGENT_PREFIX_MAX ||
        !agent_copy(a->device_id, sizeof a->device_id, cfg->device_id) ||
        !agent_copy(a->hook, sizeof a->hook, cfg->hook) || !agent_client_options(cfg, &copts)) {
        return FOGPAY_ERR_CONFIG;
    }
    a->timeout_ms = copts.timeout_ms;
    a->mqtt_version = copts.mqtt_version;
    a->verbose = cfg->verbose;
    a->journaled = cfg->journaled;
    a->journaled_ctx = cfg->journaled_ctx;
    agent_topic(prefix, a->device_id, "intent", a->topic_intent);
    agent_topic(prefix, a->device_id, "usage", a->topic_usage);
    agent_topic(prefix, a->device_id, "receipt", a->topic_receipt);
    agent_topic(prefix, a->device_id, "cmd", a->topic_command);
    agent_topic(prefix, a->device_id, "reply/receipt", a->topic_reply);
    fogpay_error err = fogpay_key_load(cfg->key_path, &a->key);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (fogpay_key_from_public_text(cfg->gateway_key, &a->gateway_key) != FOGPAY_OK) {
        return FOGPAY_ERR_CONFIG;
    }
    err = fogpay_journal_open(cfg->state_dir, &a->journal);
    if (err == FOGPAY_OK) {
        err = agent_state_load(a);
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

static void agent_dispatch(fogpay_agent *a, const fogpay_client_message *m)
{
    bool receipt = strcmp(m->topic, a->topic_receipt) == 0 || strcmp(m->topic, a->topic_reply) == 0;
    bool command = strcmp(m->topic, a->topic_command) == 0;
    if (!receipt && !command) {
        return;
    }
    if (m->oversized) {
        agent_log("message on %s over %d bytes ignored", m->topic, FOGPAY_MESSAGE_MAX);
        return;
    }
    if (receipt) {
        fogpay_agent_receipt_handle(a, m->payload, m->len);
    } else {
        fogpay_agent_command_handle(a, m->payload, m->len);
    }
}

fogpay_error agent_poll(fogpay_agent *a, uint32_t timeout_ms)
{
    if (fogpay_client_connected(a->client)) {
        agent_resend_due(a, agent_now_ms());
    }
    fogpay_error err = fogpay_client_receive(a->client, timeout_ms, &a->incoming);
    if (err == FOGPAY_OK) {
        agent_dispatch(a, &a->incoming);
    }
    return err;
}

fogpay_error fogpay_agent_connect(fogpay_agent *a)
{
    const char *topics[FOGPAY_CLIENT_SUBSCRIPTIONS_MAX] = {a->topic_command, a->topic_receipt,
                                                           a->topic_reply};
    size_t count = a->mqtt_version == 5 ? 3 : 2;
    fogpay_error err = fogpay_client_connect(a->client, topics, count);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* Take in what the session held (a retained or queued command above
     * all) before sending anything. */
    uint64_t until = agent_now_ms() + FOGPAY_AGENT_SETTLE_IN_MS;
    while (err == FOGPAY_OK || err == FOGPAY_ERR_TIMEOUT) {
        uint64_t now = agent_now_ms();
        if (now >= until) {
            break;
        }
        err = agent_poll(a, (uint32_t)(until - now));
    }
    if (err == FOGPAY_ERR_NETWORK) {
        return err;
    }
    a->resend_seq = 0; /* the timer starts again for what was resent */
    return agent_resend_all(a);
}

bool fogpay_agent_connected(const fogpay_agent *a)
{
    return fogpay_client_connected(a->client);
}

fogpay_error fogpay_agent_drain(fogpay_agent *a, uint32_t timeout_ms)
{
    uint64_t until = agent_now_ms() + timeout_ms;
    while (fogpay_journal_count(a->journal) > 0) {
        uint64_t now = agent_now_ms();
        if (now >= until) {
            return FOGPAY_ERR_TIMEOUT;
        }
        uint64_t left = until - now;
        fogpay_error err = agent_poll(a, left < FOGPAY_AGENT_POLL_MS ? (uint32_t)left
                                                                    : FOGPAY_AGENT_POLL_MS);
        if (err == FOGPAY_ERR_NETWORK) {
            return err;
        }
    }
    return FOGPAY_OK;
}

/* Sleeps ms in short steps, returning early when stop is set. */
static void agent_sleep(uint32_t ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        uint32_t step = ms < FOGPAY_AGENT_POLL_MS ? ms : FOGPAY_AGENT_POLL_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

fogpay_error fogpay_agent_run(fogpay_agent *a, const volatile sig_atomic_t *stop,
                              bool until_drained)
{
    unsigned attempt = 0;
    while (!*stop) {
        if (!fogpay_agent_connected(a)) {
            fogpay_error err = fogpay_agent_connect(a);
            if (err != FOGPAY_OK) {
                uint32_t wait_ms = fogpay_client_backoff_ms(attempt);
                if (attempt < 32) {
                    attempt++;
                }
                agent_log("not connected (%s); next attempt in %u ms", fogpay_error_name(err),
                          (unsigned)wait_ms);
                agent_sleep(wait_ms, stop);
                continue;
            }
            attempt = 0;
            agent_log("connected; %zu pending message(s) sent again",
                      fogpay_journal_count(a->journal));
        }
        if (until_drained && fogpay_journal_count(a->journal) == 0) {
            return FOGPAY_OK;
        }
        agent_poll(a, FOGPAY_AGENT_POLL_MS);
    }
    fogpay_client_disconnect(a->client);
    return FOGPAY_OK;
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
}
