/*
 * device_message.c - the path of every device message (MOSQ_EVT_MESSAGE):
 * payment intents and meter readings, each checked, settled or stored in
 * the group transaction, and answered through the outbox.
 *
 * Order of checks, cheapest and least trusting first: topic and size;
 * the COSE envelope; the signature with the key the registry binds to the
 * publishing client's id; the payload; the device named inside; then, in
 * the group transaction, (device, seq) repeat or conflict, time window,
 * currency, and the ledger's own checks (status, payee, limits, funds).
 *
 * Before any of them, the device's flow (flow.c): a device owed too many
 * answers is refused with too_many_pending before its signature is
 * checked. After the repeat check, the device's chain
 * (fogpay_ledger_message_link): the message must link to the device's
 * recorded message just below its seq. A second message continuing the
 * chain from the same place is a fork: the device's key signs for two
 * devices, so the device is suspended, with the reason in its status event
 * and a warning in the broker's log.
 *
 * Only an authentic message (its signature verified) is recorded under its
 * (device, seq): a forged message must never use up a device's sequence
 * number. Authentic refusals are recorded with their signed rejection, so a
 * repeat gets the same answer, except the refusals that say "not now" or
 * "not here" (too_many_pending, chain_gap, chain_fork, seq_conflict): they
 * leave the seq free and the chain as it was. Every refusal returns
 * MOSQ_ERR_ACL_DENIED, which drops the message without disconnecting the
 * device, and is logged.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "gateway.h"

/* What is known about a message while it is checked. */
typedef struct message_context {
    fogpay_gateway *gw;
    const struct mosquitto_evt_message *ev;
    const char *device_id;
    uint8_t kind; /* fogpay_receipt_kind */
    uint64_t seq;
    uint8_t hash[FOGPAY_HASH_BYTES];
    bool authentic;
    uint64_t now_ms;
} message_context;

static void intent_receipt_base(const message_context *c, fogpay_receipt *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->device_id, c->device_id);
    r->seq = c->seq;
    r->kind = c->kind;
    strcpy(r->gateway_id, c->gw->options.gateway_id);
    r->time_s = c->now_ms / 1000;
    memcpy(r->intent_hash, c->hash, FOGPAY_HASH_BYTES);
}

/* Answers a refused message with a signed rejection and returns
 * MOSQ_ERR_ACL_DENIED. Authentic refusals are recorded under their seq. */
static int intent_reject(message_context *c, fogpay_error reason)
{
    fogpay_gateway *gw = c->gw;
    gw->rejected_total++;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: %s %s seq %llu refused: %s",
                         c->kind == FOGPAY_RECEIPT_USAGE ? "usage" : "intent", c->device_id,
                         (unsigned long long)c->seq, fogpay_error_name(reason));
    if (fogpay_outbox_begin(gw) != FOGPAY_OK) {
        return MOSQ_ERR_ACL_DENIED;
    }
    fogpay_ledger_rejection_log(gw->ledger, c->device_id, c->seq, reason, c->now_ms);
    fogpay_receipt r;
    intent_receipt_base(c, &r);
    r.status = FOGPAY_STATUS_REJECTED;
    r.reason = (uint16_t)reason;
    uint8_t signed_receipt[FOGPAY_MESSAGE_MAX];
    size_t len;
    if (fogpay_receipt_sign(gw, &r, signed_receipt, sizeof signed_receipt, &len) != FOGPAY_OK) {
        return MOSQ_ERR_ACL_DENIED;
    }
    if (c->authentic && !fogpay_error_is_off_chain(reason)) {
        fogpay_error err = fogpay_ledger_message_record(
            gw->ledger, c->device_id, c->seq, c->kind, c->hash, FOGPAY_STATUS_REJECTED,
            (uint16_t)reason, 0, signed_receipt, len, c->now_ms);
        if (err != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: recording a refusal failed: %s",
                                 fogpay_ledger_last_message(gw->ledger));
        }
    }
    fogpay_outbox_queue(gw, c->device_id, signed_receipt, len, c->ev);
    return MOSQ_ERR_ACL_DENIED;
}

/* Retired keys tried when a signature fails, to name the refusal. */
#define INTENT_RETIRED_KEYS_CHECKED 4

/* When the registered key refuses the signature: tries the device's
 * recently retired keys. One that opens the message and whose overlap window
 * has not ended at the gateway's now (the device's own clock is not trusted
 * for this) authenticates it: FOGPAY_OK and the payload view set. One whose
 * window has ended: FOGPAY_ERR_KEY_REVOKED. None: `refusal`, the registered
 * key's own verdict (FOGPAY_ERR_BAD_SIGNATURE, or
 * FOGPAY_ERR_COSE_ALG_UNSUPPORTED when the header names an algorithm other
 * than the key's). */
static fogpay_error intent_verify_retired(message_context *c, fogpay_error refusal,
                                          fogpay_bytes *payload)
{
    for (uint32_t i = 0; i < INTENT_RETIRED_KEYS_CHECKED; i++) {
        int alg = 0;
        uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
        size_t pub_len = 0;
        uint64_t until_ms = 0;
        fogpay_key *old = NULL;
        if (fogpay_ledger_device_retired_key(c->gw->ledger, c->device_id, i, &alg, pub, &pub_len,
                                             &until_ms) != FOGPAY_OK) {
            break;
        }
        if (fogpay_key_from_public((fogpay_alg)alg, pub, pub_len, &old) != FOGPAY_OK) {
            continue;
        }
        fogpay_error err =
            fogpay_cose_sign1_open(c->ev->payload, c->ev->payloadlen, old, NULL, payload);
        fogpay_key_free(old);
        if (err == FOGPAY_OK) {
            return c->now_ms < until_ms ? FOGPAY_OK : FOGPAY_ERR_KEY_REVOKED;
        }
    }
    return refusal;
}

/* Verifies the envelope with the device's registered key; on success the
 * payload view is set. */
static fogpay_error intent_verify(message_context *c, const fogpay_device *device,
                                  fogpay_bytes *payload)
{
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_from_public((fogpay_alg)device->alg, device->public_key,
                                              device->public_key_len, &key);
    if (err != FOGPAY_OK) {
        return FOGPAY_ERR_KEY_REVOKED; /* no usable key is registered */
    }
    err = fogpay_cose_sign1_open(c->ev->payload, c->ev->payloadlen, key, NULL, payload);
    fogpay_key_free(key);
    if (err == FOGPAY_ERR_COSE_ALG_UNSUPPORTED || err == FOGPAY_ERR_BAD_SIGNATURE) {
        err = intent_verify_retired(c, err, payload);
    }
    return err;
}

static fogpay_error intent_time_window(const message_context *c, uint64_t created_s, uint64_t ttl_s)
{
    uint64_t now_s = c->now_ms / 1000;
    if (created_s > now_s + FOGPAY_CLOCK_SKEW_MAX_S) {
        return FOGPAY_ERR_NOT_YET_VALID;
    }
    if (created_s + ttl_s < now_s) {
        return FOGPAY_ERR_EXPIRED;
    }
    return FOGPAY_OK;
}

/* Settles an authentic intent inside the group; answers it either way. */
static int intent_settle(message_context *c, const fogpay_intent *in)
{
    fogpay_gateway *gw = c->gw;
    fogpay_error err = intent_time_window(c, in->created_s, in->ttl_s);
    if (err == FOGPAY_OK && !fogpay_options_currency_enabled(&gw->options, in->currency)) {
        err = FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if (err != FOGPAY_OK) {
        return intent_reject(c, err);
    }
    if (fogpay_ledger_savepoint(gw->ledger) != FOGPAY_OK) {
        return intent_reject(c, FOGPAY_ERR_STORAGE);
    }
    fogpay_transfer t;
    int64_t balance = 0;
    err = fogpay_ledger_settle(gw->ledger, in, c->hash, c->now_ms, &t, &balance);
    fogpay_receipt r;
    intent_receipt_base(c, &r);
    if (err == FOGPAY_OK) {
        r.status = FOGPAY_STATUS_SETTLED;
        r.transfer_id = t.position;
        r.position = t.position;
        r.balance_after_minor = balance;
        r.has_balance = true;
        r.currency = in->currency;
        err = fogpay_ledger_transfer_get(gw->ledger, t.position, &t, r.chain_hash);
    }
    uint8_t signed_receipt[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_receipt_sign(gw, &r, signed_receipt, sizeof signed_receipt, &len);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_message_record(gw->ledger, c->device_id, c->seq, c->kind, c->hash,
                                           FOGPAY_STATUS_SETTLED, 0, t.position, signed_receipt,
                                           len, c->now_ms);
    }
    if (err != FOGPAY_OK) {
        fogpay_ledger_rollback_to(gw->ledger);
        fogpay_ledger_release(gw->ledger);
        if (!fogpay_error_is_reason(err)) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: settling %s seq %llu failed: %s (%s)",
                                 c->device_id, (unsigned long long)c->seq, fogpay_error_name(err),
                                 fogpay_ledger_last_message(gw->ledger));
        }
        return intent_reject(c, err);
    }
    fogpay_ledger_release(gw->ledger);
    gw->settled_total++;
    fogpay_outbox_queue(gw, c->device_id, signed_receipt, len, c->ev);
    return MOSQ_ERR_SUCCESS;
}

static int intent_store_usage(message_context *c, const fogpay_usage *u)
{
    fogpay_gateway *gw = c->gw;
    fogpay_error err = intent_time_window(c, u->created_s, FOGPAY_TTL_MAX_S);
    if (err != FOGPAY_OK) {
        return intent_reject(c, err);
    }
    fogpay_receipt r;
    intent_receipt_base(c, &r);
    r.status = FOGPAY_STATUS_STORED;
    uint8_t signed_receipt[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    if (fogpay_ledger_savepoint(gw->ledger) != FOGPAY_OK) {
        return intent_reject(c, FOGPAY_ERR_STORAGE);
    }
    err = fogpay_ledger_store_usage(gw->ledger, u, c->hash, c->now_ms);
    if (err == FOGPAY_OK) {
        err = fogpay_receipt_sign(gw, &r, signed_receipt, sizeof signed_receipt, &len);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_message_record(gw->ledger, c->device_id, c->seq, c->kind, c->hash,
                                           FOGPAY_STATUS_STORED, 0, 0, signed_receipt, len,
                                           c->now_ms);
    }
    if (err != FOGPAY_OK) {
        fogpay_ledger_rollback_to(gw->ledger);
        fogpay_ledger_release(gw->ledger);
        return intent_reject(c, err);
    }
    fogpay_ledger_release(gw->ledger);
    fogpay_outbox_queue(gw, c->device_id, signed_receipt, len, c->ev);
    return MOSQ_ERR_SUCCESS;
}

/* Decodes the authentic payload; fills c->seq and the decoded message. */
static fogpay_error intent_decode(message_context *c, fogpay_bytes payload, fogpay_intent *in,
                                  fogpay_usage *u)
{
    fogpay_error err;
    const char *named;
    if (c->kind == FOGPAY_RECEIPT_INTENT) {
        err = fogpay_intent_decode(payload.ptr, payload.len, in);
        named = in->device_id;
        c->seq = err == FOGPAY_OK ? in->seq : c->seq;
    } else {
        err = fogpay_usage_decode(payload.ptr, payload.len, u);
        named = u->device_id;
        c->seq = err == FOGPAY_OK ? u->seq : c->seq;
    }
    if (err == FOGPAY_OK && strcmp(named, c->device_id) != 0) {
        err = FOGPAY_ERR_DEVICE_MISMATCH;
    }
    return err;
}

/* A fork of the device's chain: suspends the device (in the group, with
 * the reason in its status event), warns, and refuses the message. */
static int intent_fork(message_context *c)
{
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "fogpay: device %s forked its chain at seq %llu: another message already "
                         "continues it, so its key signs for two devices; the device is suspended",
                         c->device_id, (unsigned long long)c->seq);
    fogpay_error err = fogpay_ledger_device_suspend_for(c->gw->ledger, c->device_id,
                                                        FOGPAY_ERR_CHAIN_FORK, c->now_ms);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: suspending %s failed: %s (%s)", c->device_id,
                             fogpay_error_name(err), fogpay_ledger_last_message(c->gw->ledger));
    }
    return intent_reject(c, FOGPAY_ERR_CHAIN_FORK);
}

/* Finds the seq a message claims without checking it, for the answer to a
 * message refused before its signature is checked. */
static void intent_peek_seq(message_context *c)
{
    fogpay_cose_sign1 msg;
    if (fogpay_cose_sign1_parse(c->ev->payload, c->ev->payloadlen, &msg) == FOGPAY_OK) {
        fogpay_message_peek_seq(msg.payload.ptr, msg.payload.len, &c->seq);
    }
}

/* A device over its flow limit (flow.c): answered too_many_pending, and
 * disconnected when it kept on through FOGPAY_FLOW_STRIKES_MAX windows. */
static int intent_over_flow(message_context *c, fogpay_flow_verdict verdict)
{
    intent_peek_seq(c);
    int rc = intent_reject(c, FOGPAY_ERR_TOO_MANY_PENDING);
    if (verdict == FOGPAY_FLOW_REFUSE_DISCONNECT) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: device %s was over its limit of %u answers a second in %u "
                             "windows in a row; disconnecting it",
                             c->device_id, (unsigned)c->gw->options.device_answers_max,
                             FOGPAY_FLOW_STRIKES_MAX);
        mosquitto_kick_client_by_clientid(c->device_id, false);
    }
    return rc;
}

int fogpay_device_message_handle(fogpay_gateway *gw, struct mosquitto_evt_message *ev,
                                 uint64_t now_ms)
{
    char owner[FOGPAY_TOPIC_ID_MAX + 1];
    fogpay_topic_kind topic = fogpay_topic_parse_id(gw->options.topic_prefix, ev->topic, owner);
    if (topic != FOGPAY_TOPIC_INTENT && topic != FOGPAY_TOPIC_USAGE) {
        return MOSQ_ERR_SUCCESS; /* not a device message; the ACL decided who may send it */
    }
    const char *client_id = mosquitto_client_id(ev->client);
    fogpay_device device;
    if (!client_id || strcmp(client_id, owner) != 0 ||
        fogpay_ledger_device_get(gw->ledger, owner, &device) != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: message on %s from %s dropped: %s",
                             ev->topic, client_id ? client_id : "(none)",
                             fogpay_error_name(FOGPAY_ERR_UNKNOWN_DEVICE));
        return MOSQ_ERR_ACL_DENIED;
    }
    fogpay_flow_verdict flow =
        fogpay_flow_admit(&gw->flow, owner, gw->options.device_answers_max, now_ms);
    if (flow == FOGPAY_FLOW_REFUSE_SILENT) {
        gw->dropped_total++;
        return MOSQ_ERR_ACL_DENIED;
    }
    if (gw->outbox_count >= FOGPAY_GROUP_MAX) {
        fogpay_outbox_commit(gw);
    }
    message_context c = {.gw = gw,
                         .ev = ev,
                         .device_id = owner,
                         .now_ms = now_ms,
                         .kind = topic == FOGPAY_TOPIC_USAGE ? FOGPAY_RECEIPT_USAGE
                                                             : FOGPAY_RECEIPT_INTENT};
    const uint8_t *bytes = ev->payload;
    size_t len = ev->payloadlen;
    if (fogpay_sha256(bytes, len, c.hash) != FOGPAY_OK) { /* also for an empty message */
        return MOSQ_ERR_ACL_DENIED;
    }
    if (len > FOGPAY_MESSAGE_MAX) {
        return intent_reject(&c, FOGPAY_ERR_PAYLOAD_TOO_LARGE);
    }
    if (len == 0) {
        return intent_reject(&c, FOGPAY_ERR_CBOR_TRUNCATED);
    }
    if (flow != FOGPAY_FLOW_ADMIT) {
        return intent_over_flow(&c, flow);
    }
    fogpay_bytes payload = {NULL, 0};
    fogpay_error err = intent_verify(&c, &device, &payload);
    if (err != FOGPAY_OK) {
        intent_peek_seq(&c);
        return intent_reject(&c, err);
    }
    c.authentic = true;
    fogpay_intent in;
    fogpay_usage u;
    err = intent_decode(&c, payload, &in, &u);
    if (err != FOGPAY_OK) {
        if (c.seq == 0) {
            fogpay_message_peek_seq(payload.ptr, payload.len, &c.seq);
        }
        c.authentic = false; /* no valid seq to record it under */
        return intent_reject(&c, err);
    }
    if (device.status == FOGPAY_DEVICE_REVOKED) {
        return intent_reject(&c, FOGPAY_ERR_DEVICE_REVOKED);
    }
    if (fogpay_outbox_begin(gw) != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot begin a transaction: %s",
                             fogpay_ledger_last_message(gw->ledger));
        return MOSQ_ERR_ACL_DENIED;
    }
    uint8_t earlier[FOGPAY_MESSAGE_MAX];
    size_t earlier_len = 0;
    err = fogpay_ledger_message_lookup(gw->ledger, c.device_id, c.seq, c.hash, earlier,
                                       sizeof earlier, &earlier_len);
    if (err == FOGPAY_OK) {
        /* A repeat: the original answer again, nothing moves. */
        fogpay_outbox_queue(gw, c.device_id, earlier, earlier_len, ev);
        return MOSQ_ERR_SUCCESS;
    }
    if (err != FOGPAY_ERR_NOT_FOUND && err != FOGPAY_ERR_SEQ_CONFLICT) {
        return intent_reject(&c, err);
    }
    err = fogpay_ledger_message_link(gw->ledger, c.device_id, c.seq,
                                     c.kind == FOGPAY_RECEIPT_INTENT ? in.prev_hash : u.prev_hash);
    if (err == FOGPAY_ERR_CHAIN_FORK) {
        return intent_fork(&c);
    }
    if (err != FOGPAY_OK) {
        return intent_reject(&c, err);
    }
    return c.kind == FOGPAY_RECEIPT_INTENT ? intent_settle(&c, &in) : intent_store_usage(&c, &u);
}
