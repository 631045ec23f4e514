/*
 * exporter_figures.c - the gateway's figures in Prometheus' text format.
 *
 * Names follow Prometheus' conventions: counters end in _total, durations
 * are in seconds with the unit last, a histogram is _bucket{le}, _sum and
 * _count. The table below names each metric once with its type and help
 * and the topic it comes from; refusals become one counter with a reason
 * label (the reason code's name), histograms come from the bucket lines
 * the plugin publishes ("<bound> <cumulative count>", the last "+Inf").
 * The quantiles the plugin computes are gauges with a quantile label, for
 * dashboards without PromQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter.h"

typedef enum exporter_kind {
    EXPORTER_COUNTER,
    EXPORTER_GAUGE,
} exporter_kind;

typedef struct exporter_metric {
    const char *leaf;
    const char *name;
    exporter_kind kind;
    const char *help;
} exporter_metric;

static const exporter_metric exporter_metrics[] = {
    {"intents/settled", "fogpay_intents_settled_total", EXPORTER_COUNTER,
     "Settled device messages that moved money."},
    {"messages/dropped", "fogpay_messages_dropped_total", EXPORTER_COUNTER,
     "Device messages refused at admission without an answer."},
    {"commit/count", "fogpay_commits_total", EXPORTER_COUNTER, "Group commits of the ledger."},
    {"holds/open", "fogpay_holds_open", EXPORTER_GAUGE, "Open holds."},
    {"outbox/depth", "fogpay_outbox_depth", EXPORTER_GAUGE,
     "Device messages between admission and their answer."},
    {"sync/backlog", "fogpay_sync_backlog_transfers", EXPORTER_GAUGE,
     "Transfers the cloud has not acknowledged."},
    {"sync/oldest_unacked_age", "fogpay_sync_oldest_unacked_age_seconds", EXPORTER_GAUGE,
     "Seconds since the oldest unacknowledged transfer settled."},
    {"devices/registered", "fogpay_devices_registered", EXPORTER_GAUGE,
     "Devices registered and not revoked."},
    {"devices/suspended", "fogpay_devices_suspended", EXPORTER_GAUGE, "Devices suspended."},
    {"devices/connected", "fogpay_devices_connected", EXPORTER_GAUGE,
     "Device connections logged in by password."},
    {"plans/arrears", "fogpay_plans_arrears", EXPORTER_GAUGE,
     "Financing plans with an instalment unpaid past its due time and grace."},
};

/* The two histograms: their topic family, name and help. */
static const exporter_metric exporter_histograms[] = {
    {"commit/latency", "fogpay_commit_latency_seconds", EXPORTER_GAUGE,
     "Duration of a group commit (its fsync)."},
    {"commit/group_size", "fogpay_commit_group_size_messages", EXPORTER_GAUGE,
     "Device messages in a group commit."},
};

#define EXPORTER_REFUSED_PREFIX "intents/refused/"

void exporter_store_init(exporter_store *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

bool exporter_store_put(exporter_store *s, const char *topic, const char *payload, size_t len)
{
    size_t root = strlen(EXPORTER_TOPIC_ROOT);
    if (strncmp(topic, EXPORTER_TOPIC_ROOT, root) != 0 ||
        strlen(topic + root) >= EXPORTER_LEAF_MAX || len >= FOGPAY_EXPORTER_TEXT_MAX) {
        return false;
    }
    const char *leaf = topic + root;
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->count && strcmp(s->figures[i].leaf, leaf) != 0) {
        i++;
    }
    bool kept = i < FOGPAY_EXPORTER_FIGURES_MAX;
    if (kept) {
        if (i == s->count) {
            strcpy(s->figures[i].leaf, leaf);
            s->count++;
        }
        memcpy(s->figures[i].text, payload, len);
        s->figures[i].text[len] = '\0';
    }
    pthread_mutex_unlock(&s->lock);
    return kept;
}

void exporter_store_set_connected(exporter_store *s, bool connected)
{
    pthread_mutex_lock(&s->lock);
    s->connected = connected;
    pthread_mutex_unlock(&s->lock);
}

/* Appends to the page; false once it is full. */
typedef struct exporter_page {
    char *out;
    size_t cap;
    size_t used;
    bool full;
} exporter_page;

static void page_add(exporter_page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void page_add(exporter_page *p, const char *fmt, ...)
{
    if (p->full) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->out + p->used, p->cap - p->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= p->cap - p->used) {
        p->full = true;
        return;
    }
    p->used += (size_t)n;
}

static const char *figure_text(const exporter_figure *figures, size_t count, const char *leaf)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(figures[i].leaf, leaf) == 0) {
            return figures[i].text;
        }
    }
    return NULL;
}

/* True when text is one number (as the plugin writes them). */
static bool figure_number(const char *text)
{
    char *end = NULL;
    if (text == NULL || *text == '\0') {
        return false;
    }
    strtod(text, &end);
    return *end == '\0';
}

static void render_simple(exporter_page *p, const exporter_figure *f, size_t n)
{
    for (size_t i = 0; i < sizeof exporter_metrics / sizeof exporter_metrics[0]; i++) {
        const exporter_metric *m = &exporter_metrics[i];
        const char *text = figure_text(f, n, m->leaf);
        if (!figure_number(text)) {
            continue;
        }
        page_add(p, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", m->name, m->help, m->name,
                 m->kind == EXPORTER_COUNTER ? "counter" : "gauge", m->name, text);
    }
}

static void render_refusals(exporter_page *p, const exporter_figure *f, size_t n)
{
    size_t prefix = strlen(EXPORTER_REFUSED_PREFIX);
    page_add(p, "# HELP fogpay_intents_refused_total Refused device messages, by reason code.\n"
                "# TYPE fogpay_intents_refused_total counter\n");
    for (size_t i = 0; i < n; i++) {
        const char *reason = f[i].leaf + prefix;
        if (strncmp(f[i].leaf, EXPORTER_REFUSED_PREFIX, prefix) != 0 ||
            strspn(reason, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(reason) ||
            !figure_number(f[i].text)) {
            continue;
        }
        page_add(p, "fogpay_intents_refused_total{reason=\"%s\"} %s\n", reason, f[i].text);
    }
}

/* One histogram from its bucket lines, sum and count; its quantiles as a
 * gauge. Left out while any part is missing. */
static void render_histogram(exporter_page *p, const exporter_metric *h, const exporter_figure *f,
                             size_t n)
{
    char leaf[EXPORTER_LEAF_MAX];
    snprintf(leaf, sizeof leaf, "%s/buckets", h->leaf);
    const char *buckets = figure_text(f, n, leaf);
    snprintf(leaf, sizeof leaf, "%s/sum", h->leaf);
    const char *sum = figure_text(f, n, leaf);
    snprintf(leaf, sizeof leaf, "%s/count", h->leaf);
    const char *count = figure_text(f, n, leaf);
    if (buckets == NULL || !figure_number(sum) || !figure_number(count)) {
        return;
    }
    page_add(p, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    for (const char *line = buckets; *line != '\0';) {
        char bound[32];
        unsigned long long cumulative = 0;
        if (sscanf(line, "%31s %llu", bound, &cumulative) == 2) {
            page_add(p, "%s_bucket{le=\"%s\"} %llu\n", h->name, bound, cumulative);
        }
        const char *next = strchr(line, '\n');
        line = next ? next + 1 : line + strlen(line);
    }
    page_add(p, "%s_sum %s\n%s_count %s\n", h->name, sum, h->name, count);
    static const char *const windows[][3] = {
        {"p50", "0.5", "start"},
        {"p99", "0.99", "start"},
        {"minute/p50", "0.5", "minute"},
        {"minute/p99", "0.99", "minute"},
    };
    page_add(p,
             "# HELP %s_quantile %s Upper bound of the bucket of each quantile.\n"
             "# TYPE %s_quantile gauge\n",
             h->name, h->help, h->name);
    for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        snprintf(leaf, sizeof leaf, "%s/%s", h->leaf, windows[i][0]);
        const char *q = figure_text(f, n, leaf);
        if (figure_number(q) || (q != NULL && strcmp(q, "+Inf") == 0)) {
            page_add(p, "%s_quantile{quantile=\"%s\",since=\"%s\"} %s\n", h->name, windows[i][1],
                     windows[i][2], q);
        }
    }
}

size_t exporter_render(exporter_store *s, char *out, size_t cap)
{
    static exporter_figure copy[FOGPAY_EXPORTER_FIGURES_MAX];
    static pthread_mutex_t copy_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&copy_lock);
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    bool connected = s->connected;
    memcpy(copy, s->figures, n * sizeof copy[0]);
    pthread_mutex_unlock(&s->lock);
    exporter_page p = {out, cap, 0, false};
    page_add(&p,
             "# HELP fogpay_exporter_broker_connected Whether the exporter is logged in to "
             "the gateway's broker.\n# TYPE fogpay_exporter_broker_connected gauge\n"
             "fogpay_exporter_broker_connected %d\n",
             connected ? 1 : 0);
    render_simple(&p, copy, n);
    render_refusals(&p, copy, n);
    for (size_t i = 0; i < sizeof exporter_histograms / sizeof exporter_histograms[0]; i++) {
        render_histogram(&p, &exporter_histograms[i], copy, n);
    }
    pthread_mutex_unlock(&copy_lock);
    return p.full ? 0 : p.used;
}
