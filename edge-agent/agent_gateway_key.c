/*
 * agent_gateway_key.c - the gateway's keys as the device knows them: the
 * configured key, and the keys its gateway announced in signed commands,
 * each with its validity (agent_state's gateway_keys, persisted).
 *
 * A receipt or command names its signer by the kid in its COSE header. The
 * key with that kid is taken from the announced keys, or else is the
 * configured key (valid from the start, without end, until an announcement
 * ends it); the message must verify with it and its signed time (a
 * receipt's time, a command's issue time) must lie within that key's
 * validity. So a receipt signed before a rotation still verifies with the
 * key it names, and one signed by a retired key but dated after that key's
 * end is refused (FOGPAY_ERR_KEY_REVOKED), whoever holds the retired key.
 *
 * An announcement, once verified (with the current key, at its issue time
 * T), ends the key that signed it at T and adds the new key from T. The
 * device keeps FOGPAY_AGENT_GATEWAY_KEYS_MAX keys; when more are known, the
 * one that ended first is forgotten, and receipts it signed no longer
 * verify on this device (the gateway's ledger keeps the whole history).
 */
#include <string.h>

#include "agent_internal.h"
#include "fogpay_cose.h"

/* The entry for the configured key: valid from the start, without end. */
static fogpay_error gateway_key_configured(const fogpay_agent *a, fogpay_gateway_key *out)
{
    memset(out, 0, sizeof *out);
    out->alg = fogpay_key_alg(a->gateway_key);
    fogpay_error err = fogpay_key_id(a->gateway_key, out->kid);
    if (err == FOGPAY_OK) {
        err = fogpay_key_public(a->gateway_key, out->public_key, sizeof out->public_key,
                                &out->public_key_len);
    }
    return err;
}

/* The known key with kid: announced, else configured; FOGPAY_ERR_BAD_SIGNATURE
 * for a kid the device does not know. */
static fogpay_error gateway_key_find(const fogpay_agent *a, const agent_state *s,
                                     const uint8_t *kid, size_t kid_len, fogpay_gateway_key *out)
{
    if (kid_len != FOGPAY_KID_BYTES) {
        return FOGPAY_ERR_BAD_SIGNATURE;
    }
    for (size_t i = 0; i < s->gateway_key_count; i++) {
        if (memcmp(s->gateway_keys[i].kid, kid, FOGPAY_KID_BYTES) == 0) {
            *out = s->gateway_keys[i];
            return FOGPAY_OK;
        }
    }
    fogpay_error err = gateway_key_configured(a, out);
    if (err == FOGPAY_OK && memcmp(out->kid, kid, FOGPAY_KID_BYTES) != 0) {
        err = FOGPAY_ERR_BAD_SIGNATURE;
    }
    return err;
}

fogpay_error agent_gateway_open(const fogpay_agent *a, const uint8_t *msg, size_t len,
                                fogpay_bytes *payload, fogpay_gateway_key *signer)
{
    if (!msg || len == 0 || len > FOGPAY_MESSAGE_MAX) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err == FOGPAY_OK) {
        err = gateway_key_find(a, &a->state, cose.kid.ptr, cose.kid.len, signer);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_verify_gateway(&cose, signer);
    }
    if (err == FOGPAY_OK) {
        *payload = cose.payload;
    }
    return err;
}

/* Forgets the key that ended first while next holds more than the maximum. */
static void gateway_key_trim(agent_state *next)
{
    while (next->gateway_key_count > FOGPAY_AGENT_GATEWAY_KEYS_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < next->gateway_key_count; i++) {
            uint64_t end = next->gateway_keys[i].until_ms;
            if (end != 0 && (next->gateway_keys[oldest].until_ms == 0 ||
                             end < next->gateway_keys[oldest].until_ms)) {
                oldest = i;
            }
        }
        memmove(&next->gateway_keys[oldest], &next->gateway_keys[oldest + 1],
                (next->gateway_key_count - oldest - 1) * sizeof next->gateway_keys[0]);
        next->gateway_key_count--;
    }
}

fogpay_error agent_gateway_key_announced(const fogpay_agent *a, const fogpay_gateway_key *signer,
                                         const fogpay_command *cmd, agent_state *next)
{
    fogpay_key *key = NULL;
    fogpay_gateway_key added;
    memset(&added, 0, sizeof added);
    fogpay_error err = fogpay_key_from_public_text(cmd->gateway_key, &key);
    if (err == FOGPAY_OK) {
        added.alg = fogpay_key_alg(key);
        added.from_ms = cmd->issued_s * 1000;
        err = fogpay_key_id(key, added.kid);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public(key, added.public_key, sizeof added.public_key,
                                &added.public_key_len);
    }
    fogpay_key_free(key);
    if (err != FOGPAY_OK) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_gateway_key known;
    if (gateway_key_find(a, next, added.kid, FOGPAY_KID_BYTES, &known) == FOGPAY_OK) {
        return FOGPAY_ERR_EXISTS; /* announced before, or the configured key */
    }
    /* The signer ends where its successor starts. */
    size_t i = 0;
    while (i < next->gateway_key_count &&
           memcmp(next->gateway_keys[i].kid, signer->kid, FOGPAY_KID_BYTES) != 0) {
        i++;
    }
    next->gateway_keys[i] = *signer;
    next->gateway_keys[i].until_ms = added.from_ms;
    if (i == next->gateway_key_count) {
        next->gateway_key_count++;
    }
    next->gateway_keys[next->gateway_key_count++] = added;
    gateway_key_trim(next);
    return FOGPAY_OK;
}
