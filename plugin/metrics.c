/*
 * metrics.c - the gateway's figures under $SYS/broker/fogpay/, retained,
 * QoS 0, as text (a decimal number, seconds with six decimals), every
 * plugin_opt_metrics_interval milliseconds (metrics.h has the cost):
 *
 *   intents/settled                 settled messages that moved money
 *   intents/refused                 refused messages, all reasons
 *   intents/refused/<reason>        refused with that reason (its name)
 *   messages/dropped                refused at admission without an answer
 *   holds/open                      open holds
 *   commit/count                    group commits
 *   commit/group_size/...           messages a commit
 *   commit/latency/...              a commit's duration (the fsync), seconds
 *   outbox/depth                    device messages in the ring
 *   sync/backlog                    transfers the cloud has not acknowledged
 *   sync/oldest_unacked_age         seconds since the oldest of them settled
 *   devices/registered, devices/suspended   devices not revoked, suspended
 *   devices/connected               device connections logged in by password
 *   plans/arrears                   financing plans with an instalment overdue
 *
 * A histogram (commit/group_size, commit/latency) has count, sum, p50,
 * p99 (since start), minute/count, minute/p50, minute/p99 (the last
 * minute), and buckets: one line "<upper bound> <cumulative count>" a
 * bucket, the last "+Inf", the form fogpay-exporter turns into
 * Prometheus' _bucket series. A quantile is its bucket's upper bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "gateway.h"

static_assert(FOGPAY_METRICS_REASONS > FOGPAY_ERR_PRODUCT_LAST,
              "every reason code has its own counter");

/* A figure's payload: a number or a histogram's bucket lines. */
#define METRICS_PAYLOAD_MAX (FOGPAY_HISTOGRAM_BUCKETS * 32)
#define METRICS_TOPIC_MAX   128

fogpay_error fogpay_metrics_open(fogpay_metrics *m, uint32_t interval_ms)
{
    m->next_publish_ms = fogpay_engine_now_ns() / 1000000u + interval_ms;
    m->clients = calloc(FOGPAY_METRICS_CLIENTS_MAX, sizeof *m->clients);
    return m->clients ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
}

void fogpay_metrics_close(fogpay_metrics *m)
{
    free(m->clients);
    m->clients = NULL;
}

void fogpay_metrics_refused(fogpay_metrics *m, fogpay_error reason)
{
    unsigned code = (unsigned)reason;
    m->refused[code < FOGPAY_METRICS_REASONS ? code : FOGPAY_METRICS_REASONS - 1]++;
}

void fogpay_metrics_commit(fogpay_metrics *m, uint64_t messages, uint64_t commit_us)
{
    uint64_t now_ms = fogpay_engine_now_ns() / 1000000u;
    m->commits++;
    fogpay_histogram_record(&m->group_size, messages);
    fogpay_histogram_window_record(&m->group_size_minute, now_ms, messages);
    fogpay_histogram_record(&m->commit_us, commit_us);
    fogpay_histogram_window_record(&m->commit_us_minute, now_ms, commit_us);
}

/* The slot of a connection in the table, or of the free slot where it
 * would go (open addressing, linear probing). */
static size_t metrics_slot(const fogpay_metrics *m, const struct mosquitto *client)
{
    uint64_t h = ((uint64_t)(uintptr_t)client >> 4) * 0x9e3779b97f4a7c15ull;
    size_t mask = FOGPAY_METRICS_CLIENTS_MAX - 1;
    size_t i = (size_t)(h >> 32) & mask;
    while (m->clients[i] != NULL && m->clients[i] != client) {
        i = (i + 1) & mask;
    }
    return i;
}

void fogpay_metrics_connected(fogpay_metrics *m, const struct mosquitto *client)
{
    if (m->clients == NULL) {
        return;
    }
    if (m->connected >= FOGPAY_METRICS_CLIENTS_MAX / 2) {
        if (!m->clients_full_logged) {
            mosquitto_log_printf(MOSQ_LOG_WARNING,
                                 "fogpay: metrics count at most %u device connections; more are "
                                 "not counted in devices/connected",
                                 FOGPAY_METRICS_CLIENTS_MAX / 2);
            m->clients_full_logged = true;
        }
        return;
    }
    size_t i = metrics_slot(m, client);
    if (m->clients[i] == NULL) {
        m->clients[i] = client;
        m->connected++;
    }
}

void fogpay_metrics_disconnected(fogpay_metrics *m, const struct mosquitto *client)
{
    if (m->clients == NULL) {
        return;
    }
    size_t mask = FOGPAY_METRICS_CLIENTS_MAX - 1;
    size_t i = metrics_slot(m, client);
    if (m->clients[i] == NULL) {
        return; /* not a device's connection */
    }
    m->clients[i] = NULL;
    m->connected--;
    /* Moves the entries after the hole back, so that probing finds them. */
    for (size_t j = (i + 1) & mask; m->clients[j] != NULL; j = (j + 1) & mask) {
        const struct mosquitto *moved = m->clients[j];
        m->clients[j] = NULL;
        m->clients[metrics_slot(m, moved)] = moved;
    }
}

static void metrics_publish(const char *leaf, const char *text)
{
    char topic[METRICS_TOPIC_MAX];
    int n = snprintf(topic, sizeof topic, FOGPAY_METRICS_TOPIC_ROOT "%s", leaf);
    size_t len = strlen(text);
    char *copy = mosquitto_malloc(len + 1);
    if (n < 0 || (size_t)n >= sizeof topic || copy == NULL) {
        mosquitto_free(copy);
        return;
    }
    memcpy(copy, text, len + 1);
    if (mosquitto_broker_publish(NULL, topic, (int)len, copy, 0, true, NULL) != MOSQ_ERR_SUCCESS) {
        mosquitto_free(copy);
    }
}

static void metrics_number(const char *leaf, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    metrics_publish(leaf, text);
}

/* A value in the histogram's unit as text: divided by scale (1e6 for
 * microseconds as seconds), "+Inf" past the last bound. */
static void metrics_value_text(uint64_t value, double scale, char *out, size_t cap)
{
    if (value == UINT64_MAX) {
        snprintf(out, cap, "+Inf");
    } else if (scale == 1.0) {
        snprintf(out, cap, "%llu", (unsigned long long)value);
    } else {
        snprintf(out, cap, "%.6f", (double)value / scale);
    }
}

static void metrics_value(const char *family, const char *leaf, uint64_t value, double scale)
{
    char topic[METRICS_TOPIC_MAX];
    char text[32];
    snprintf(topic, sizeof topic, "%s/%s", family, leaf);
    metrics_value_text(value, scale, text, sizeof text);
    metrics_publish(topic, text);
}

/* The bucket lines of h: "<bound> <cumulative count>\n" each. */
static void metrics_buckets(const char *family, const fogpay_histogram *h, double scale)
{
    char text[METRICS_PAYLOAD_MAX];
    size_t used = 0;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < FOGPAY_HISTOGRAM_BUCKETS; i++) {
        char bound[32];
        cumulative += h->counts[i];
        metrics_value_text(fogpay_histogram_bound(i), scale, bound, sizeof bound);
        int n = snprintf(text + used, sizeof text - used, "%s %llu\n", bound,
                         (unsigned long long)cumulative);
        if (n < 0 || (size_t)n >= sizeof text - used) {
            return;
        }
        used += (size_t)n;
    }
    char topic[METRICS_TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/buckets", family);
    metrics_publish(topic, text);
}

static void metrics_histogram(const char *family, const fogpay_histogram *h,
                              const fogpay_histogram_window *w, double scale, uint64_t now_ms)
{
    fogpay_histogram minute;
    fogpay_histogram_window_sum(w, now_ms, &minute);
    char topic[METRICS_TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/count", family);
    metrics_number(topic, h->count);
    metrics_value(family, "sum", h->sum, scale);
    metrics_value(family, "p50", fogpay_histogram_quantile(h, 0.50), scale);
    metrics_value(family, "p99", fogpay_histogram_quantile(h, 0.99), scale);
    snprintf(topic, sizeof topic, "%s/minute/count", family);
    metrics_number(topic, minute.count);
    metrics_value(family, "minute/p50", fogpay_histogram_quantile(&minute, 0.50), scale);
    metrics_value(family, "minute/p99", fogpay_histogram_quantile(&minute, 0.99), scale);
    metrics_buckets(family, h, scale);
}

/* The refusals of every reason seen since start, and their total. */
static void metrics_refusals(const fogpay_metrics *m)
{
    uint64_t total = 0;
    for (unsigned code = 0; code < FOGPAY_METRICS_REASONS; code++) {
        if (m->refused[code] == 0) {
            continue;
        }
        char leaf[METRICS_TOPIC_MAX];
        snprintf(leaf, sizeof leaf, "intents/refused/%s",
                 code == FOGPAY_METRICS_REASONS - 1 ? "other"
                                                    : fogpay_error_name((fogpay_error)code));
        metrics_number(leaf, m->refused[code]);
        total += m->refused[code];
    }
    metrics_number("intents/refused", total);
}

/* The ledger's gauges; a failure is logged and they are left out. */
static void metrics_ledger(fogpay_gateway *gw)
{
    fogpay_ledger_gauge g;
    uint64_t now_ms = fogpay_clock_wall_ms();
    fogpay_error err = fogpay_ledger_gauges(gw->ledger, now_ms, &g);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: metrics: reading the ledger failed (%s: %s)",
                             fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
        return;
    }
    uint64_t age_ms =
        g.sync_oldest_ms != 0 && now_ms > g.sync_oldest_ms ? now_ms - g.sync_oldest_ms : 0;
    metrics_number("holds/open", g.holds_open);
    metrics_number("sync/backlog", g.sync_backlog);
    metrics_value("sync", "oldest_unacked_age", age_ms, 1000.0);
    metrics_number("devices/registered", g.devices_registered);
    metrics_number("devices/suspended", g.devices_suspended);
    metrics_number("plans/arrears", g.plans_arrears);
}

void fogpay_metrics_tick(fogpay_gateway *gw)
{
    fogpay_metrics *m = &gw->metrics;
    uint64_t now_ms = fogpay_engine_now_ns() / 1000000u;
    if (gw->options.metrics_interval_ms == 0 || gw->in_transaction || now_ms < m->next_publish_ms) {
        return;
    }
    m->next_publish_ms = now_ms + gw->options.metrics_interval_ms;
    const fogpay_engine *e = &gw->engine;
    metrics_number("intents/settled", gw->settled_total);
    metrics_refusals(m);
    metrics_number("messages/dropped", gw->refused_busy_total + gw->dropped_total);
    metrics_number("commit/count", m->commits);
    metrics_histogram("commit/group_size", &m->group_size, &m->group_size_minute, 1.0, now_ms);
    metrics_histogram("commit/latency", &m->commit_us, &m->commit_us_minute, 1e6, now_ms);
    metrics_number("outbox/depth", e->tail - e->head);
    metrics_number("devices/connected", m->connected);
    metrics_ledger(gw);
}
