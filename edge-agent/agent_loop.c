/*
 * agent_loop.c - taking in messages: the wait for one incoming message and
 * its dispatch by topic (receipts on the receipt topic or the MQTT 5 reply
 * topic to agent_receipt.c, commands to agent_command.c, anything else
 * ignored), connecting, draining and the daemon. Every wait while
 * connected first resends what has waited too long for its receipt (when
 * agent_send.c says it is due), in windows of FOGPAY_AGENT_SEND_WINDOW
 * whose receipts are taken in before more go out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent_internal.h"
#include "fogpay_clock.h"

static void agent_dispatch(fogpay_agent *a, const fogpay_client_message *m)
{
    bool receipt = strcmp(m->topic, a->topic_receipt) == 0 || strcmp(m->topic, a->topic_reply) == 0;
    bool command = strcmp(m->topic, a->topic_command) == 0 || strcmp(m->topic, a->topic_plan) == 0;
    if (strcmp(m->topic, a->topic_note) == 0) {
        agent_note_handle(a, m->payload, m->len);
        return;
    }
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

/* Waits at most timeout_ms for one incoming message and handles it. */
static fogpay_error agent_take_in(fogpay_agent *a, uint32_t timeout_ms)
{
    fogpay_error err = fogpay_client_receive(a->client, timeout_ms, &a->incoming);
    if (err == FOGPAY_OK) {
        agent_dispatch(a, &a->incoming);
    }
    return err;
}

fogpay_error agent_resend_all(fogpay_agent *a)
{
    uint64_t from_seq = 0;
    for (;;) {
        uint64_t until = fogpay_clock_monotonic_ms() + a->timeout_ms;
        while (agent_unanswered(a, from_seq) >= FOGPAY_AGENT_SEND_WINDOW) {
            uint64_t now = fogpay_clock_monotonic_ms();
            if (now >= until) {
                return FOGPAY_OK; /* the gateway holds its receipts back: the timer resends */
            }
            uint64_t left = until - now;
            fogpay_error err = agent_take_in(a, left < FOGPAY_AGENT_POLL_MS ? (uint32_t)left
                                                                            : FOGPAY_AGENT_POLL_MS);
            if (err == FOGPAY_ERR_NETWORK) {
                return err;
            }
        }
        fogpay_error err = agent_send_next(a, &from_seq);
        if (err != FOGPAY_OK) {
            return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
        }
    }
}

fogpay_error agent_poll(fogpay_agent *a, uint32_t timeout_ms)
{
    if (fogpay_client_connected(a->client) && agent_resend_due(a, fogpay_clock_monotonic_ms())) {
        agent_resend_all(a); /* a failure to send is a lost connection: run reconnects */
    }
    return agent_take_in(a, timeout_ms);
}

fogpay_error fogpay_agent_connect(fogpay_agent *a)
{
    const char *topics[FOGPAY_CLIENT_SUBSCRIPTIONS_MAX] = {
        a->topic_command, a->topic_plan, a->topic_receipt, a->topic_note, a->topic_reply};
    size_t count = a->mqtt_version == 5 ? 4 : 3;
    fogpay_error err = fogpay_client_connect(a->client, topics, count);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* Take in what the session held (a retained or queued command above
     * all) before sending anything. */
    uint64_t until = fogpay_clock_monotonic_ms() + FOGPAY_AGENT_SETTLE_IN_MS;
    while (err == FOGPAY_OK || err == FOGPAY_ERR_TIMEOUT) {
        uint64_t now = fogpay_clock_monotonic_ms();
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
    uint64_t until = fogpay_clock_monotonic_ms() + timeout_ms;
    while (fogpay_journal_count(a->journal) > 0) {
        uint64_t now = fogpay_clock_monotonic_ms();
        if (now >= until) {
            return FOGPAY_ERR_TIMEOUT;
        }
        uint64_t left = until - now;
        fogpay_error err =
            agent_poll(a, left < FOGPAY_AGENT_POLL_MS ? (uint32_t)left : FOGPAY_AGENT_POLL_MS);
        if (err == FOGPAY_ERR_NETWORK) {
            return err;
        }
    }
    return FOGPAY_OK;
}

/* Sleeps ms in short steps, returning early when stop is set; the plan is
 * enforced at each step, offline too. */
static void agent_sleep(fogpay_agent *a, uint32_t ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        agent_plan_tick(a);
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
                agent_sleep(a, wait_ms, stop);
                continue;
            }
            attempt = 0;
            agent_log("connected; %zu pending message(s) sent again",
                      fogpay_journal_count(a->journal));
        }
        if (until_drained && fogpay_journal_count(a->journal) == 0) {
            return FOGPAY_OK;
        }
        agent_plan_tick(a);
        agent_poll(a, FOGPAY_AGENT_POLL_MS);
    }
    fogpay_client_disconnect(a->client);
    return FOGPAY_OK;
}
