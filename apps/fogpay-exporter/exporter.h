/*
 * exporter.h - fogpay-exporter's figures: the gateway's metrics as read
 * from $SYS/broker/fogpay/ and their Prometheus text (exporter_figures.c).
 *
 * Threads. The MQTT loop stores figures on the main thread; libmicrohttpd
 * renders the page on its own thread; the store's mutex is held by both
 * only while copying. The store lives in the caller's struct; nothing is
 * allocated.
 */
#ifndef FOGPAY_EXPORTER_H
#define FOGPAY_EXPORTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "fogpay_limits.h"

/* The metrics topics' root, as the plugin publishes them (metrics.c). */
#define EXPORTER_TOPIC_ROOT   "$SYS/broker/fogpay/"
#define EXPORTER_TOPIC_FILTER "$SYS/broker/fogpay/#"
#define EXPORTER_LEAF_MAX     96

typedef struct exporter_figure {
    char leaf[EXPORTER_LEAF_MAX]; /* the topic below the root */
    char text[FOGPAY_EXPORTER_TEXT_MAX];
} exporter_figure;

typedef struct exporter_store {
    pthread_mutex_t lock;
    exporter_figure figures[FOGPAY_EXPORTER_FIGURES_MAX];
    size_t count;
    bool connected; /* to the broker, as of the MQTT loop's last look */
} exporter_store;

void exporter_store_init(exporter_store *s);
/* Keeps the figure of topic (under the root; others are ignored). False
 * when the store is full or the text does not fit. */
bool exporter_store_put(exporter_store *s, const char *topic, const char *payload, size_t len);
void exporter_store_set_connected(exporter_store *s, bool connected);
/* The Prometheus text exposition (version 0.0.4) of every figure kept,
 * into out (cap bytes); its length, or 0 when it does not fit. */
size_t exporter_render(exporter_store *s, char *out, size_t cap);

#endif
