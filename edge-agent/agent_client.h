/*
 * agent_client.h - the agent's MQTT connection, over paho.mqtt.c's
 * synchronous client (MQTTClient) in its single-threaded mode.
 *
 * Design. No callbacks are set, so paho runs no thread of its own: every
 * network operation happens inside a call made by the agent (connect,
 * publish and wait for the PUBACK, receive with a timeout), and incoming
 * messages that arrive meanwhile wait in paho's queue until
 * fogpay_client_receive() takes them. The session is persistent (MQTT
 * 3.1.1 cleansession 0; MQTT 5 cleanstart 0 with a session expiry), so
 * receipts and commands published while the device was away are delivered
 * when it comes back. TLS uses the CA file and, optionally, a client
 * certificate and key. Reconnection policy (exponential backoff with
 * jitter) is fogpay_client_backoff_ms(); the caller sleeps.
 *
 * Ownership: fogpay_client_create() returns a client the caller frees with
 * fogpay_client_destroy(); the options are copied. A received message is
 * copied into the caller's fogpay_client_message.
 */
#ifndef FOGPAY_AGENT_CLIENT_H
#define FOGPAY_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "fogpay_error.h"
#include "fogpay_limits.h"
#include "fogpay_password.h"

/* Topics subscribed: command, plan, receipt, note, and the MQTT 5 reply topic. */
#define FOGPAY_CLIENT_SUBSCRIPTIONS_MAX 5

/* Keep-alive: short enough that a dead gateway is noticed within a minute. */
#define FOGPAY_CLIENT_KEEPALIVE_S 30

/* MQTT 5 session expiry: a week offline keeps the session (and the
 * receipts and commands queued in it). */
#define FOGPAY_CLIENT_SESSION_EXPIRY_S (7u * 24u * 3600u)

/* Reconnect backoff: from 250 ms doubling to 30 s, each wait drawn
 * uniformly between half and all of the current step (jitter), so that a
 * fleet of devices does not return in lockstep after a gateway restart. */
#define FOGPAY_CLIENT_BACKOFF_MIN_MS 250u
#define FOGPAY_CLIENT_BACKOFF_MAX_MS 30000u
/* Tries at one publish while paho's in-flight window is full, each after
 * waiting for the oldest message in it. */
#define FOGPAY_CLIENT_PUBLISH_ATTEMPTS 4

typedef struct fogpay_client_options {
    char host[FOGPAY_AGENT_HOST_MAX + 1];
    int port;
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    char password[FOGPAY_PASSWORD_MAX + 1];
    bool has_password;
    char cafile[FOGPAY_AGENT_PATH_MAX + 1];   /* empty: plain TCP */
    char certfile[FOGPAY_AGENT_PATH_MAX + 1]; /* empty: no client certificate */
    char keyfile[FOGPAY_AGENT_PATH_MAX + 1];
    int mqtt_version; /* 5 or 3 */
    uint32_t timeout_ms;
} fogpay_client_options;

typedef struct fogpay_client_message {
    char topic[FOGPAY_TOPIC_MAX];
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len;
    bool oversized; /* longer than FOGPAY_MESSAGE_MAX: payload not copied */
} fogpay_client_message;

typedef struct fogpay_client fogpay_client;

fogpay_error fogpay_client_create(const fogpay_client_options *opts, fogpay_client **out);
void fogpay_client_destroy(fogpay_client *c);

/* Connects and subscribes at QoS 1 to count topics. FOGPAY_ERR_NETWORK
 * (refused, unreachable, TLS failure, subscription refused). */
fogpay_error fogpay_client_connect(fogpay_client *c, const char *const *topics, size_t count);
void fogpay_client_disconnect(fogpay_client *c);
bool fogpay_client_connected(fogpay_client *c);

/* Hands a QoS 1 publish to paho without waiting for its PUBACK: the next
 * fogpay_client_receive() reads it, and the receipt the caller waits for
 * says more than a PUBACK could. (paho's synchronous waitForCompletion
 * spends a whole 100 ms yield slice however early the PUBACK comes.) When
 * paho's in-flight window is full, waits for the oldest message in it
 * first. On MQTT 5, response_topic (may be NULL) and the 8-byte big-endian
 * correlation go with it. FOGPAY_ERR_NETWORK, FOGPAY_ERR_TIMEOUT. */
fogpay_error fogpay_client_publish(fogpay_client *c, const char *topic, const uint8_t *payload,
                                   size_t len, const char *response_topic, uint64_t correlation);

/* Takes the next incoming message, waiting at most timeout_ms.
 * FOGPAY_OK with *out filled, FOGPAY_ERR_TIMEOUT when none came,
 * FOGPAY_ERR_NETWORK when the connection is gone. */
fogpay_error fogpay_client_receive(fogpay_client *c, uint32_t timeout_ms,
                                   fogpay_client_message *out);

/* The wait before reconnect attempt number attempt (0 for the first). */
uint32_t fogpay_client_backoff_ms(unsigned attempt);

#endif
