/*
 * metrics.h - the gateway's figures, published retained under
 * $SYS/broker/fogpay/ the way Mosquitto publishes its own $SYS/broker/
 * figures (metrics.c has the topics).
 *
 * Cost. What happens on the settlement path is counting only: a refusal
 * adds one to its reason's counter, a commit records its group's size and
 * its duration in two histograms and their one-minute windows, a device's
 * login and logout add or remove one pointer in the table of connections.
 * Everything else (the ledger's gauges, formatting, publishing) runs on
 * the tick between groups, every plugin_opt_metrics_interval.
 *
 * Ownership. fogpay_metrics lives in the gateway struct; its table of
 * connections comes from calloc in fogpay_metrics_open() and is freed by
 * fogpay_metrics_close(). Every call is on the broker's thread.
 */
#ifndef FOGPAY_METRICS_H
#define FOGPAY_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "histogram.h"

struct mosquitto;
struct fogpay_gateway;

/* The root of every metrics topic. */
#define FOGPAY_METRICS_TOPIC_ROOT "$SYS/broker/fogpay/"

typedef struct fogpay_metrics {
    uint64_t refused[FOGPAY_METRICS_REASONS]; /* by fogpay_error */
    uint64_t commits;
    fogpay_histogram group_size; /* messages a commit, since start */
    fogpay_histogram_window group_size_minute;
    fogpay_histogram commit_us; /* a commit's duration (its fsync), microseconds */
    fogpay_histogram_window commit_us_minute;
    const struct mosquitto **clients; /* FOGPAY_METRICS_CLIENTS_MAX slots, owned; NULL free */
    uint64_t connected;               /* slots in use */
    bool clients_full_logged;
    uint64_t next_publish_ms; /* monotonic */
} fogpay_metrics;

/* Allocates the table of connections (FOGPAY_ERR_NO_MEMORY) and sets the
 * first publication one interval_ms from now. */
fogpay_error fogpay_metrics_open(fogpay_metrics *m, uint32_t interval_ms);
void fogpay_metrics_close(fogpay_metrics *m);
/* A message refused with reason. */
void fogpay_metrics_refused(fogpay_metrics *m, fogpay_error reason);
/* A group of messages committed in commit_us microseconds. */
void fogpay_metrics_commit(fogpay_metrics *m, uint64_t messages, uint64_t commit_us);
/* A device's connection logged in, and a client gone (counted only when
 * it was a device's). */
void fogpay_metrics_connected(fogpay_metrics *m, const struct mosquitto *client);
void fogpay_metrics_disconnected(fogpay_metrics *m, const struct mosquitto *client);
/* On the tick, with no group open: publishes every figure when the
 * interval has passed (never when plugin_opt_metrics_interval is 0). */
void fogpay_metrics_tick(struct fogpay_gateway *gw);

#endif
