/*
 * gateway_harness.h - the broker's side of the plugin, for the whole-handler
 * fuzz target (fuzz_gateway.c): the few Mosquitto broker-API functions the
 * plugin calls, a recorder of what it publishes, and a scratch ledger
 * provisioned with devices whose keys the harness holds.
 *
 * The harness loads the plugin the way the broker does: it calls
 * mosquitto_plugin_init() with plugin_opt_* options, keeps the callbacks
 * the plugin registers, and delivers events to them. Nothing of the plugin
 * is replaced; only the broker is.
 *
 * Ownership and lifetime: one harness per process (the broker API has no
 * context argument, so its functions reach the harness through a static
 * pointer). harness_open() creates a scratch directory under $TMPDIR (or
 * /tmp) with the gateway key, the cloud key, the operators file and a
 * provisioned ledger template; harness_reset() replaces the ledger by a
 * fresh copy of the template and restarts the plugin on it; at exit the
 * plugin is stopped and the directory removed (a crash leaves it, for the
 * post-mortem). Published
 * messages are owned by the harness until harness_published_clear().
 * Single-threaded, as the broker's main thread is.
 */
#ifndef FOGPAY_GATEWAY_HARNESS_H
#define FOGPAY_GATEWAY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "gateway.h"

#define HARNESS_DEVICES     4
#define HARNESS_OPERATOR    "op-fuzz"
#define HARNESS_GATEWAY_ID  "gw-fuzz"
#define HARNESS_STRANGER    "stranger"
#define HARNESS_UNKNOWN_DEV "dev-unknown"
/* The device whose key was rotated once, so that it has a retired key. */
#define HARNESS_ROTATED_DEVICE 3
/* Funding of every device wallet in each enabled currency. */
#define HARNESS_FUNDING_MINOR 1000000u
/* The ledger is replaced by a fresh copy once either chain passes this, so
 * that verifying it after every input stays cheap. */
#define HARNESS_CHAIN_MAX 64

/* The broker's view of a connected client (opaque to the plugin). */
struct mosquitto {
    const char *id;       /* may be NULL */
    const char *username; /* may be NULL */
};

/* One message the plugin handed to the broker. */
typedef struct harness_publish {
    char *topic;
    uint8_t *payload;
    size_t len;
    char *client_id;     /* NULL: to every subscriber */
    bool in_transaction; /* the group transaction was open when it left */
} harness_publish;

typedef struct harness {
    char dir[256];
    char db_path[320];
    char template_path[320];
    char device_id[HARNESS_DEVICES][FOGPAY_DEVICE_ID_MAX + 1];
    fogpay_key *device_key[HARNESS_DEVICES];
    fogpay_key *retired_key; /* HARNESS_ROTATED_DEVICE's first key */
    fogpay_key *gateway_public;
    uint8_t gateway_kid[FOGPAY_KID_BYTES];
    fogpay_key *cloud_key;
    uint8_t cloud_kid[FOGPAY_KID_BYTES];
    fogpay_gateway *gw; /* the plugin's user data, while it runs */
    harness_publish *published;
    size_t published_count;
    size_t published_cap;
    uint64_t kicks;
} harness;

/* Creates the scratch directory, keys, operators file and ledger template,
 * then starts the plugin on a copy. Exits the process on failure: a
 * harness that cannot start has nothing to fuzz. */
harness *harness_open(void);
/* Stops the plugin, replaces the ledger with a fresh copy, starts again. */
void harness_reset(harness *h);

/* Delivers one message as MOSQ_EVT_MESSAGE (after the ACL check the
 * broker makes, whose verdict is returned in *acl). props may be NULL and
 * stays the caller's. */
int harness_message(harness *h, struct mosquitto *client, const char *topic, const uint8_t *payload,
                    size_t len, const mosquitto_property *props, int *acl);
/* Delivers one request on the control topic as MOSQ_EVT_CONTROL. */
int harness_control(harness *h, struct mosquitto *client, const char *payload, size_t len);
/* The broker's tick: commits the group, then runs upstream sync. */
void harness_tick(harness *h);
/* Ticks and flushes until the plugin has answered every message it took
 * (its workers run on threads of their own); gives up after
 * HARNESS_DRAIN_ROUNDS rounds, which is a failure. */
#define HARNESS_DRAIN_ROUNDS 100000
void harness_drain(harness *h);

void harness_published_clear(harness *h);

#endif
