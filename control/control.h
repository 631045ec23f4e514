/*
 * control.h - operator control of the gateway: the JSON commands of
 * $CONTROL/fogpay/v1, in the style of Mosquitto's dynamic-security plugin.
 *
 * A request is {"commands":[{"command":"<name>", ..., "correlationData":"..."}]};
 * the reply is {"responses":[{"command":"<name>", "error":"<fogpay_error_name>"
 * (absent on success), "errorMessage":"<sentence>" (with error), "data":{...},
 * "correlationData":"..."}]}, one response per command, in order.
 *
 * The requests and replies of every command are published as JSON Schema in
 * schemas/control.schema.json, with examples in schemas/control-examples/.
 *
 * fogpay_control_handle() does the work on a ledger and knows nothing of the
 * broker: fogpayctl's offline path and the tests drive it directly on a
 * ledger file; the plugin's fogpay_control_event() (control_event.c) calls it
 * with the gateway's ledger and a function that signs and publishes device
 * commands.
 * The operator ACL is enforced by the plugin core before this is reached;
 * a request of a legal entity's own login is scoped to that entity
 * (control_entity.c).
 */
#ifndef FOGPAY_CONTROL_H
#define FOGPAY_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_message.h"
#include "ledger.h"

/* Largest request accepted on the control topic (but see
 * FOGPAY_CONTROL_IMPORT_REQUEST_MAX); larger ones are answered with
 * payload_too_large. */
#define FOGPAY_CONTROL_REQUEST_MAX (64 * 1024)

/* Most commands in one request. */
#define FOGPAY_CONTROL_COMMANDS_MAX 100

/* A request that holds one importDevices command alone may be this large,
 * with at most this many devices (about 330 bytes each). */
#define FOGPAY_CONTROL_IMPORT_REQUEST_MAX (8 * 1024 * 1024)
#define FOGPAY_CONTROL_IMPORT_DEVICES_MAX 20000

/* Sends a signed command (suspend, resume, limits) to a device; limits is
 * NULL except for FOGPAY_COMMAND_LIMITS. */
typedef fogpay_error (*fogpay_control_send_fn)(void *ctx, const char *device_id,
                                               fogpay_command_kind kind,
                                               const fogpay_device_limits *limits);

/* Rotates the running gateway's key (rotateGatewayKey): the new key's
 * public text into public_text (cap bytes), the count of devices told it
 * into *announced. */
typedef fogpay_error (*fogpay_control_rotate_fn)(void *ctx, char *public_text, size_t cap,
                                                 size_t *announced);

/* Sends the notice of plan_id to its device (createPlan, closePlan). */
typedef fogpay_error (*fogpay_control_plan_fn)(void *ctx, const char *plan_id);

typedef struct fogpay_control_context {
    fogpay_ledger *ledger;
    fogpay_control_send_fn send_command;         /* may be NULL: no device commands */
    void *send_ctx;                              /* for send_command and rotate_gateway_key */
    fogpay_control_rotate_fn rotate_gateway_key; /* NULL offline: the command is refused */
    /* The legal entity whose own login sent the request (control_entity.c
     * scopes every command to it), and that login's username; both NULL
     * for an operator and offline. */
    const char *entity;
    const char *login;
    fogpay_control_plan_fn send_plan_notice; /* may be NULL: offline, no notices */
    /* The issuer keys whose notes the gateway takes (plugin_opt_note_issuers,
     * fogpayctl --note-issuers); NULL: bearer notes are refused. */
    const struct fogpay_note_issuers *note_issuers;
} fogpay_control_context;

/* The shortest password of an entity's login: a person's passphrase, kept
 * only as a PBKDF2 verifier. */
#define FOGPAY_ENTITY_PASSWORD_MIN 12

/* An entity login's replies come on a topic of its own,
 * FOGPAY_CONTROL_RESPONSE_TOPIC "/" username, to that client only, so
 * that no other login reads them (plugin/acl.c). Writes it into out (cap
 * bytes); FOGPAY_ERR_BUFFER_TOO_SMALL when it does not fit. */
fogpay_error fogpay_control_entity_response_topic(const char *login, char *out, size_t cap);
#define FOGPAY_CONTROL_ENTITY_RESPONSE_TOPIC_MAX                                                   \
    (sizeof FOGPAY_CONTROL_RESPONSE_TOPIC + 1 + FOGPAY_LOGIN_NAME_MAX)

/* Handles one request payload (len bytes, not NUL-terminated) at now_ms and
 * returns the reply as a NUL-terminated JSON string from malloc, which the
 * caller frees with free(); NULL only when memory ran out. Malformed JSON
 * gets a reply with one response carrying the error. */
char *fogpay_control_handle(const fogpay_control_context *c, const char *payload, size_t len,
                            uint64_t now_ms);

/* The request and reply topics. */
#define FOGPAY_CONTROL_TOPIC          "$CONTROL/fogpay/v1"
#define FOGPAY_CONTROL_RESPONSE_TOPIC "$CONTROL/fogpay/v1/response"

struct mosquitto_evt_control;

/* Broker side (control_event.c): handles the MOSQ_EVT_CONTROL event of one
 * request on FOGPAY_CONTROL_TOPIC and publishes the reply (QoS 0, not
 * retained) on FOGPAY_CONTROL_RESPONSE_TOPIC with
 * mosquitto_broker_publish_copy, the way the dynamic-security plugin
 * answers. Returns a MOSQ_ERR_* value. Called on the broker's main thread;
 * the event's payload is only read. */
int fogpay_control_event(const fogpay_control_context *c, const struct mosquitto_evt_control *ev,
                         uint64_t now_ms);

#endif
