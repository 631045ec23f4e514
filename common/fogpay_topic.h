/*
 * fogpay_topic.h - the topics of the wire contract and the ids they carry.
 *
 * Every fogpay topic lives under one prefix (FOGPAY_TOPIC_PREFIX_MAX):
 *
 *   {prefix}/dev/{device}/intent         device to gateway
 *   {prefix}/dev/{device}/usage          device to gateway
 *   {prefix}/dev/{device}/bind           device to gateway
 *   {prefix}/dev/{device}/hold           device to gateway
 *   {prefix}/dev/{device}/withdraw       device to gateway (bearer notes)
 *   {prefix}/dev/{device}/note           gateway to device (a note handed over)
 *   {prefix}/dev/{device}/notepay        device to gateway (a payment with notes)
 *   {prefix}/dev/{device}/redeem         device to gateway (notes given back)
 *   {prefix}/dev/{device}/receipt        gateway to device
 *   {prefix}/dev/{device}/cmd            gateway to device
 *   {prefix}/dev/{device}/plan           gateway to device, the retained plan notice
 *   {prefix}/dev/{device}/reply/{name}   gateway to device, MQTT 5 response topic
 *   {prefix}/gw/{gateway}/batch          gateway to cloud
 *   {prefix}/gw/{gateway}/ack            cloud to gateway
 *
 * Device, gateway, entity and meter ids share one alphabet, the contract's
 * (schemas/common.cddl): letters, digits and ". _ : -", none of which
 * means anything in an MQTT topic. The codec checks ids with
 * fogpay_id_char(), so a topic and a message accept the same ids.
 *
 * Nothing here allocates; ids are copied into the caller's buffers.
 */
#ifndef FOGPAY_TOPIC_H
#define FOGPAY_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_limits.h"

/* A buffer for the id of a topic, device or gateway. */
#define FOGPAY_TOPIC_ID_MAX FOGPAY_DEVICE_ID_MAX
static_assert(FOGPAY_GATEWAY_ID_MAX <= FOGPAY_TOPIC_ID_MAX, "a gateway id fits a topic id");

typedef enum fogpay_topic_kind {
    FOGPAY_TOPIC_NONE = 0, /* not under the prefix */
    FOGPAY_TOPIC_INTENT,   /* dev/{device}/intent */
    FOGPAY_TOPIC_USAGE,    /* dev/{device}/usage */
    FOGPAY_TOPIC_RECEIPT,  /* dev/{device}/receipt */
    FOGPAY_TOPIC_COMMAND,  /* dev/{device}/cmd */
    FOGPAY_TOPIC_REPLY,    /* dev/{device}/reply/{name} */
    FOGPAY_TOPIC_BATCH,    /* gw/{gateway}/batch */
    FOGPAY_TOPIC_ACK,      /* gw/{gateway}/ack */
    FOGPAY_TOPIC_GATEWAY,  /* any other topic under gw/ */
    FOGPAY_TOPIC_OTHER,    /* under the prefix but none of the above */
    FOGPAY_TOPIC_BIND,     /* dev/{device}/bind */
    FOGPAY_TOPIC_HOLD,     /* dev/{device}/hold */
    FOGPAY_TOPIC_PLAN,     /* dev/{device}/plan */
    FOGPAY_TOPIC_WITHDRAW, /* dev/{device}/withdraw */
    FOGPAY_TOPIC_NOTE,     /* dev/{device}/note */
    FOGPAY_TOPIC_NOTEPAY,  /* dev/{device}/notepay */
    FOGPAY_TOPIC_REDEEM,   /* dev/{device}/redeem */
} fogpay_topic_kind;

/* True for the characters of an id: [A-Za-z0-9._:-]. */
bool fogpay_id_char(uint8_t c);

/* True when id is 1 to max bytes, all of them fogpay_id_char(). */
bool fogpay_id_valid(const char *id, size_t max);

/* fogpay_id_valid() with FOGPAY_DEVICE_ID_MAX and FOGPAY_GATEWAY_ID_MAX. */
bool fogpay_device_id_valid(const char *id);
bool fogpay_gateway_id_valid(const char *id);

/* True for a usable prefix: 1 to FOGPAY_TOPIC_PREFIX_MAX bytes, no
 * wildcard, no empty level, not starting with '/' or '$', not ending with
 * '/'. */
bool fogpay_topic_prefix_valid(const char *prefix);

/* Classifies topic under prefix. For the device kinds (INTENT to REPLY)
 * id receives the device id, for BATCH and ACK the gateway id; otherwise
 * id is "". A topic with a wildcard, an empty or extra level, an id that
 * fails fogpay_id_valid(), or FOGPAY_TOPIC_MAX bytes or more is OTHER
 * (GATEWAY under gw/ without wildcards). A reply name is one or more
 * non-empty levels. */
fogpay_topic_kind fogpay_topic_parse_id(const char *prefix, const char *topic,
                                        char id[FOGPAY_TOPIC_ID_MAX + 1]);

/* True for BATCH, ACK and GATEWAY: the topics that are the gateway's and
 * the cloud's, never a device's. */
bool fogpay_topic_is_gateway(fogpay_topic_kind kind);

/* Builds the topic of kind (INTENT to ACK) for id under prefix into out
 * (cap bytes; FOGPAY_TOPIC_MAX always suffices). reply is the name of a
 * REPLY topic (non-empty levels of id characters) and NULL for the
 * others; a built topic always parses back to kind and id. FOGPAY_ERR_INVALID_ARGUMENT for
 * another kind, a bad prefix or reply name, FOGPAY_ERR_TEXT_INVALID for a
 * bad id, FOGPAY_ERR_BUFFER_TOO_SMALL when out is too small. */
fogpay_error fogpay_topic_build(const char *prefix, fogpay_topic_kind kind, const char *id,
                                const char *reply, char *out, size_t cap);

/* The subscription filter for kind (BATCH or ACK) of every gateway:
 * {prefix}/gw/+/{leaf}; the errors of fogpay_topic_build(). */
fogpay_error fogpay_topic_filter(const char *prefix, fogpay_topic_kind kind, char *out, size_t cap);

#endif
