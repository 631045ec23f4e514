/*
 * live_feed.h - the live feed of answered device messages for operators'
 * monitors (web/): with plugin_opt_metrics_live true, every answer
 * published after a group's commit is also described, as one JSON object,
 * on FOGPAY_LIVE_FEED_TOPIC (QoS 0, not retained), which operators may
 * read (acl.c). Off by default: it costs a JSON object and a publish a
 * message on the broker's thread.
 *
 * Ownership: the payload comes from mosquitto_malloc and is the broker's
 * once published; nothing is kept.
 */
#ifndef FOGPAY_LIVE_FEED_H
#define FOGPAY_LIVE_FEED_H

#include "metrics.h"

#define FOGPAY_LIVE_FEED_TOPIC FOGPAY_METRICS_TOPIC_ROOT "live"

struct fogpay_gateway;
struct fogpay_job;

/* Describes a committed, answered job on the feed (broker's thread). */
void fogpay_live_feed_publish(const struct fogpay_gateway *gw, const struct fogpay_job *job);

#endif
