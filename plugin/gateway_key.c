/*
 * gateway_key.c - the gateway's signing key: loaded at start and checked
 * against the ledger's key history, and rotated on the operator's
 * rotateGatewayKey.
 *
 * A rotation, on the broker's thread, with no group transaction open (the
 * control path commits the outbox first):
 *   1. a new key of the same algorithm is written to KEY.next (mode 0600,
 *      fsynced), KEY being plugin_opt_gateway_key;
 *   2. the ledger ends the current key and makes the new one active, at the
 *      same time T, in one commit; a failure here changes nothing;
 *   3. every device that is not revoked is told the new key, valid from T,
 *      in a command signed with the current key (which a device already
 *      trusts), at QoS 1 without retain, so an offline device with a
 *      persistent session gets it when it returns;
 *   4. KEY.next is renamed over KEY and the gateway signs with the new key.
 * A crash after step 2 leaves KEY holding a key the ledger has ended and
 * KEY.next the active one: the next start finishes steps 4 and 3 (it signs
 * with the new key at once, and announces it, signed with the ended key,
 * on its first tick, when the broker can publish), so no device is left
 * without the announcement because of the crash. A device
 * that misses it (no persistent session) is configured with the new key
 * (fogpay-agent --gateway-key).
 *
 * Receipts already signed, and batches in flight, stay valid: a verifier
 * picks the key by the kid in the COSE header and checks the signed time
 * against that key's validity (fogpay_gateway_key_valid_at).
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "gateway.h"

/* Device ids read per page while announcing. */
#define GATEWAY_KEY_ANNOUNCE_PAGE 64

static void gateway_key_next_path(const fogpay_gateway *gw, char *out, size_t cap)
{
    snprintf(out, cap, "%s.next", gw->options.gateway_key_path);
}

/* Tells every device that is not revoked the key in gw->announce_text,
 * signed with signer; *announced counts the commands published. */
static void gateway_key_announce(fogpay_gateway *gw, const fogpay_key *signer, size_t *announced)
{
    char ids[GATEWAY_KEY_ANNOUNCE_PAGE][FOGPAY_DEVICE_ID_MAX + 1];
    char after[FOGPAY_DEVICE_ID_MAX + 1] = "";
    size_t count = 0, sent = 0, failed = 0;
    do {
        if (fogpay_ledger_device_ids(gw->ledger, after, ids, GATEWAY_KEY_ANNOUNCE_PAGE, &count) !=
            FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: listing devices to announce the gateway "
                                 "key failed: %s",
                                 fogpay_ledger_last_message(gw->ledger));
            break;
        }
        for (size_t i = 0; i < count; i++) {
            if (fogpay_command_send_gateway_key(gw, signer, ids[i], gw->announce_text,
                                                gw->announce_from_s) == FOGPAY_OK) {
                sent++;
            } else {
                failed++;
                mosquitto_log_printf(MOSQ_LOG_ERR,
                                     "fogpay: the gateway key was not announced to %s", ids[i]);
            }
        }
        if (count > 0) {
            strcpy(after, ids[count - 1]);
        }
    } while (count == GATEWAY_KEY_ANNOUNCE_PAGE);
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "fogpay: gateway key %s announced to %zu devices (%zu "
                         "failed)",
                         gw->announce_text, sent, failed);
    *announced = sent;
}

/* Makes next the signing key (KEY.next renamed over KEY); the key it
 * replaces is freed. */
static fogpay_error gateway_key_take(fogpay_gateway *gw, fogpay_key *next)
{
    char next_path[sizeof gw->options.gateway_key_path + 8];
    gateway_key_next_path(gw, next_path, sizeof next_path);
    fogpay_error err = fogpay_key_file_replace(next_path, gw->options.gateway_key_path);
    if (err != FOGPAY_OK) {
        /* The ledger has the new key active: the next start takes KEY.next. */
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: renaming %s to %s failed; the next start "
                             "finishes the rotation",
                             next_path, gw->options.gateway_key_path);
    }
    fogpay_key_free(gw->key);
    gw->key = next;
    fogpay_error id = fogpay_key_id(gw->key, gw->kid);
    if (id == FOGPAY_OK) {
        /* The workers sign receipts with copies of their own. */
        id = fogpay_engine_rekey(gw, err == FOGPAY_OK ? gw->options.gateway_key_path : next_path);
    }
    return id;
}

/* At start: KEY was ended by a rotation that a crash interrupted; KEY.next
 * holds the ledger's active key. The gateway signs with it from now on
 * (KEY.next renamed over KEY) and keeps the ended key only to sign the
 * announcements on the first tick, when the broker can publish. */
static fogpay_error gateway_key_resume(fogpay_gateway *gw)
{
    char next_path[sizeof gw->options.gateway_key_path + 8];
    gateway_key_next_path(gw, next_path, sizeof next_path);
    fogpay_key *next = NULL;
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_gateway_key entry;
    fogpay_error err = fogpay_key_load(next_path, &next);
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(next, kid);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_gateway_key_get(gw->ledger, kid, &entry);
    }
    if (err != FOGPAY_OK || entry.until_ms != 0) {
        fogpay_key_free(next);
        return FOGPAY_ERR_KEY_REVOKED;
    }
    fogpay_key_public_text(next, gw->announce_text, sizeof gw->announce_text);
    gw->announce_from_s = entry.from_ms / 1000;
    gw->announce_key = gw->key;
    gw->key = NULL;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: finishing the rotation to gateway key %s",
                         gw->announce_text);
    return gateway_key_take(gw, next);
}

fogpay_error fogpay_gateway_key_open(fogpay_gateway *gw)
{
    fogpay_error err = fogpay_key_load(gw->options.gateway_key_path, &gw->key);
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(gw->key, gw->kid);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: plugin_opt_gateway_key %s: %s (it must exist, hold a "
                             "fogpay key, and be readable by its owner only)",
                             gw->options.gateway_key_path, fogpay_error_string(err));
        return err;
    }
    err = fogpay_ledger_gateway_key_start(gw->ledger, gw->key, fogpay_clock_wall_ms());
    if (err == FOGPAY_ERR_KEY_REVOKED) {
        err = gateway_key_resume(gw);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_gateway_key %s: %s (%s)",
                             gw->options.gateway_key_path, fogpay_error_string(err),
                             fogpay_ledger_last_message(gw->ledger));
    }
    return err;
}

void fogpay_gateway_key_tick(fogpay_gateway *gw)
{
    if (gw->announce_key == NULL) {
        return;
    }
    size_t announced = 0;
    gateway_key_announce(gw, gw->announce_key, &announced);
    fogpay_key_free(gw->announce_key);
    gw->announce_key = NULL;
}

fogpay_error fogpay_gateway_key_rotate(void *gateway, char *public_text, size_t cap,
                                       size_t *announced)
{
    fogpay_gateway *gw = gateway;
    if (gw->announce_key != NULL) {
        return FOGPAY_ERR_STORAGE_BUSY; /* a rotation is being finished */
    }
    char next_path[sizeof gw->options.gateway_key_path + 8];
    gateway_key_next_path(gw, next_path, sizeof next_path);
    fogpay_key *next = NULL;
    uint64_t now_ms = fogpay_clock_wall_ms();
    fogpay_error err = fogpay_key_generate(fogpay_key_alg(gw->key), &next);
    if (err == FOGPAY_OK) {
        err = fogpay_key_save(next, next_path, true);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_gateway_key_rotate(gw->ledger, next, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(next, gw->announce_text, sizeof gw->announce_text);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: gateway key rotation failed: %s (%s)",
                             fogpay_error_string(err), fogpay_ledger_last_message(gw->ledger));
        fogpay_key_free(next);
        return err;
    }
    gw->announce_from_s = now_ms / 1000;
    gateway_key_announce(gw, gw->key, announced);
    snprintf(public_text, cap, "%s", gw->announce_text);
    return gateway_key_take(gw, next);
}
