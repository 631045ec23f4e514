/*
 * agent_pay.c - paying, reporting usage and binding a meter to a tariff:
 * build the message, sign it, journal it, send it, wait for its receipt.
 *
 * Order, and why. Everything that can refuse the message without the
 * gateway is checked first (arguments through the encoder, suspension,
 * local limits, journal room), so a refused payment signs nothing and uses
 * up no sequence number. Then the number is reserved durably
 * (fogpay_journal_reserve), the message signed, and appended to the
 * journal with fsync: only a message that is durable is ever sent, so a
 * crash at any point either leaves nothing (the number is skipped, never
 * reused) or a journaled message that is sent again with the same bytes.
 * Intents, usage readings and bindings share the sequence and the previous-message
 * chain: prev_hash is the first bytes of the SHA-256 of the last journaled
 * signed message.
 *
 * Intents carry the longest ttl the gateway accepts (a day), so a payment
 * queued while the gateway is unreachable still settles when it returns.
 * An authorisation is a payment intent with a hold timeout.
 */
#include <stdio.h>
#include <string.h>

#include "agent_internal.h"
#include "fogpay_clock.h"
#include "fogpay_cose.h"
#include "fogpay_note.h"

/* Refusals that need no gateway: suspension. Limits are checked by the
 * caller that knows the amount. */
fogpay_error agent_may_send(const fogpay_agent *a)
{
    return a->state.suspended ? FOGPAY_ERR_DEVICE_SUSPENDED : FOGPAY_OK;
}

/* Waits for the receipt of seq, handling everything else that comes. */
static fogpay_error agent_wait_receipt(fogpay_agent *a, uint64_t seq, fogpay_agent_outcome *out)
{
    uint64_t until = fogpay_clock_monotonic_ms() + a->timeout_ms;
    a->awaited_seq = seq;
    for (;;) {
        if (!fogpay_journal_find(a->journal, seq)) {
            /* Answered: agent_receipt.c kept the outcome of the receipt
             * that took it out of the journal. */
            *out = a->awaited_outcome;
            a->awaited_seq = 0;
            return FOGPAY_OK;
        }
        uint64_t now = fogpay_clock_monotonic_ms();
        if (now >= until || !fogpay_agent_connected(a)) {
            a->awaited_seq = 0;
            return FOGPAY_ERR_TIMEOUT;
        }
        uint64_t left = until - now;
        agent_poll(a, left < FOGPAY_AGENT_POLL_MS ? (uint32_t)left : FOGPAY_AGENT_POLL_MS);
    }
}

fogpay_error agent_submit(fogpay_agent *a, uint64_t seq, uint8_t kind, const uint8_t *payload,
                          size_t payload_len, fogpay_agent_outcome *out)
{
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    fogpay_error err = fogpay_cose_sign1_sign(a->key, NULL, 0, payload, payload_len, NULL, 0, msg,
                                              sizeof msg, &len);
    if (err == FOGPAY_OK) {
        err = fogpay_journal_append(a->journal, seq, kind, msg, len);
    }
    if (err != FOGPAY_OK) {
        return err; /* seq stays reserved and is skipped */
    }
    out->seq = seq;
    out->kind = kind;
    if (a->journaled) {
        a->journaled(a->journaled_ctx, seq, kind);
    }
    if (!fogpay_agent_connected(a)) {
        return FOGPAY_ERR_TIMEOUT;
    }
    err = agent_send_entry(a, fogpay_journal_find(a->journal, seq));
    if (err != FOGPAY_OK) {
        agent_log("sending seq %llu failed (%s); it stays journaled", (unsigned long long)seq,
                  fogpay_error_name(err));
        return FOGPAY_ERR_TIMEOUT;
    }
    return agent_wait_receipt(a, seq, out);
}

/* A payment to a device (payee) or an account (payee NULL, account), or an
 * authorisation held hold_s (0: a payment), or an instalment of plan_id:
 * the one way an intent is made, journaled and sent. */
fogpay_error agent_pay_to(fogpay_agent *a, const char *payee, uint64_t account,
                          uint64_t amount_minor, uint16_t currency, uint32_t hold_s,
                          const char *reference, const char *plan_id, fogpay_agent_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (!fogpay_currency_code(currency, NULL)) {
        return FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if ((payee && strlen(payee) > FOGPAY_DEVICE_ID_MAX) ||
        (reference && strlen(reference) > FOGPAY_REFERENCE_MAX)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    strcpy(in.device_id, a->device_id);
    if (payee) {
        strcpy(in.payee_device, payee);
    }
    in.payee_account = account;
    in.amount_minor = amount_minor;
    in.currency = currency;
    in.created_s = agent_plan_now_ms(a) / 1000;
    in.ttl_s = FOGPAY_TTL_MAX_S;
    in.hold_s = hold_s;
    if (reference) {
        strcpy(in.reference, reference);
    }
    if (plan_id) {
        snprintf(in.plan_id, sizeof in.plan_id, "%s", plan_id);
    }
    in.seq = fogpay_journal_next_seq(a->journal);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    /* A trial encoding validates every field before anything is reserved. */
    fogpay_error err = fogpay_intent_encode(&in, payload, sizeof payload, &len);
    /* An instalment goes out suspended too: the gateway takes a suspended
     * device's instalments (a plan's arrears end so) and decides. */
    if (err == FOGPAY_OK && plan_id == NULL) {
        err = agent_may_send(a);
    }
    if (err == FOGPAY_OK) {
        err = agent_plan_may_pay(a, plan_id != NULL);
    }
    if (err == FOGPAY_OK && a->state.per_payment_minor > 0 &&
        amount_minor > a->state.per_payment_minor) {
        err = FOGPAY_ERR_LIMIT_PER_PAYMENT;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_journal_reserve(a->journal, &in.seq);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_journal_prev_hash(a->journal, in.prev_hash);
    err = fogpay_intent_encode(&in, payload, sizeof payload, &len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return agent_submit(a, in.seq, FOGPAY_RECEIPT_INTENT, payload, len, out);
}

fogpay_error fogpay_agent_pay(fogpay_agent *a, const char *payee, uint64_t amount_minor,
                              uint16_t currency, const char *reference, fogpay_agent_outcome *out)
{
    if (!a || !payee || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return agent_pay_to(a, payee, 0, amount_minor, currency, 0, reference, NULL, out);
}

fogpay_error fogpay_agent_pay_account(fogpay_agent *a, uint64_t account, uint64_t amount_minor,
                                      uint16_t currency, const char *reference,
                                      fogpay_agent_outcome *out)
{
    if (!a || account == 0 || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return agent_pay_to(a, NULL, account, amount_minor, currency, 0, reference, NULL, out);
}

fogpay_error fogpay_agent_authorise(fogpay_agent *a, const char *payee, uint64_t amount_minor,
                                    uint16_t currency, uint32_t hold_s, const char *reference,
                                    fogpay_agent_outcome *out)
{
    if (!a || !payee || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (hold_s == 0) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return agent_pay_to(a, payee, 0, amount_minor, currency, hold_s, reference, NULL, out);
}

/* Encodes a reading or a binding (msg) into buf. */
typedef fogpay_error (*agent_encode_fn)(const void *msg, uint8_t *buf, size_t cap, size_t *len);

static fogpay_error agent_encode_usage(const void *msg, uint8_t *buf, size_t cap, size_t *len)
{
    return fogpay_usage_encode(msg, buf, cap, len);
}

static fogpay_error agent_encode_bind(const void *msg, uint8_t *buf, size_t cap, size_t *len)
{
    return fogpay_bind_encode(msg, buf, cap, len);
}

/* The way of a message that no local limit refuses (a reading, a
 * binding): a trial encoding, suspension, the seq reserved into *seq and
 * the chain's link into prev_hash, both members of msg, then the message
 * signed, journaled, sent and answered. */
static fogpay_error agent_send_message(fogpay_agent *a, const void *msg, uint64_t *seq,
                                       uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES],
                                       agent_encode_fn encode, uint8_t kind,
                                       fogpay_agent_outcome *out)
{
    *seq = fogpay_journal_next_seq(a->journal);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    fogpay_error err = encode(msg, payload, sizeof payload, &len);
    if (err == FOGPAY_OK) {
        err = agent_may_send(a);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_journal_reserve(a->journal, seq);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_journal_prev_hash(a->journal, prev_hash);
    err = encode(msg, payload, sizeof payload, &len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return agent_submit(a, *seq, kind, payload, len, out);
}

fogpay_error fogpay_agent_bind(fogpay_agent *a, const char *meter_id, const char *tariff_id,
                               fogpay_agent_outcome *out)
{
    return fogpay_agent_bind_hold(a, meter_id, tariff_id, 0, out);
}

fogpay_error fogpay_agent_bind_hold(fogpay_agent *a, const char *meter_id, const char *tariff_id,
                                    uint64_t hold_id, fogpay_agent_outcome *out)
{
    if (!a || !meter_id || !tariff_id || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (strlen(meter_id) > FOGPAY_METER_ID_MAX || strlen(tariff_id) > FOGPAY_TARIFF_ID_MAX ||
        hold_id > FOGPAY_STORED_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_bind b;
    memset(&b, 0, sizeof b);
    strcpy(b.device_id, a->device_id);
    strcpy(b.meter_id, meter_id);
    strcpy(b.tariff_id, tariff_id);
    b.hold_id = hold_id;
    b.created_s = agent_plan_now_ms(a) / 1000;
    return agent_send_message(a, &b, &b.seq, b.prev_hash, agent_encode_bind, FOGPAY_RECEIPT_BIND,
                              out);
}

static fogpay_error agent_encode_withdraw(const void *msg, uint8_t *buf, size_t cap, size_t *len)
{
    return fogpay_note_withdraw_encode(msg, buf, cap, len);
}

fogpay_error fogpay_agent_withdraw(fogpay_agent *a, uint64_t amount_minor, uint16_t currency,
                                   fogpay_agent_outcome *out)
{
    if (!a || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    uint64_t held = 0;
    fogpay_error err = agent_notes_held(a, currency, &held);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint64_t wallet_max = a->state.wallet_max_minor;
    if (wallet_max != 0 && (amount_minor > wallet_max || held > wallet_max - amount_minor)) {
        return FOGPAY_ERR_WALLET_MAX;
    }
    fogpay_note_withdraw m;
    memset(&m, 0, sizeof m);
    strcpy(m.device_id, a->device_id);
    m.amount_minor = amount_minor;
    m.currency = currency;
    m.created_s = agent_plan_now_ms(a) / 1000;
    return agent_send_message(a, &m, &m.seq, m.prev_hash, agent_encode_withdraw,
                              FOGPAY_RECEIPT_WITHDRAW, out);
}

static fogpay_error agent_encode_note_payment(const void *msg, uint8_t *buf, size_t cap,
                                              size_t *len)
{
    return fogpay_note_payment_encode(msg, buf, cap, len);
}

/* Signs the custody entry of each chosen note to payee_key into p. */
static fogpay_error agent_sign_notes(const fogpay_agent *a, const char *payee_key,
                                     uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES],
                                     uint8_t links[][FOGPAY_HASH_BYTES], size_t count,
                                     fogpay_note_payment *p)
{
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        fogpay_custody c;
        memset(&c, 0, sizeof c);
        memcpy(c.serial, serials[i], FOGPAY_NOTE_SERIAL_BYTES);
        memcpy(c.prev_link, links[i], FOGPAY_HASH_BYTES);
        snprintf(c.holder_key, sizeof c.holder_key, "%s", payee_key);
        c.time_s = p->custody_s;
        uint8_t entry[FOGPAY_CUSTODY_SIGNED_MAX];
        size_t len = 0;
        err = fogpay_custody_sign(a->key, &c, entry, sizeof entry, &len);
        if (err == FOGPAY_OK) {
            memcpy(p->notes[i].serial, serials[i], FOGPAY_NOTE_SERIAL_BYTES);
            err = fogpay_custody_signature(entry, len, p->notes[i].signature);
        }
    }
    p->count = (uint8_t)count;
    return err;
}

/* A note payment (kind) of the store's notes making amount_minor, each
 * handed to payee_key, credited to payee. */
static fogpay_error agent_notes_send(fogpay_agent *a, const char *payee, const char *payee_key,
                                     uint64_t amount_minor, uint16_t currency, uint8_t kind,
                                     fogpay_agent_outcome *out);

fogpay_error fogpay_agent_redeem(fogpay_agent *a, uint64_t amount_minor, uint16_t currency,
                                 fogpay_agent_outcome *out)
{
    if (!a || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = fogpay_key_public_text(a->gateway_key, gateway_text, sizeof gateway_text);
    if (err != FOGPAY_OK) {
        return err;
    }
    return agent_notes_send(a, a->device_id, gateway_text, amount_minor, currency,
                            FOGPAY_RECEIPT_NOTE_REDEEM, out);
}

fogpay_error fogpay_agent_pay_notes(fogpay_agent *a, const char *payee, const char *payee_key,
                                    uint64_t amount_minor, uint16_t currency,
                                    fogpay_agent_outcome *out)
{
    return agent_notes_send(a, payee, payee_key, amount_minor, currency,
                            FOGPAY_RECEIPT_NOTE_PAYMENT, out);
}

static fogpay_error agent_notes_send(fogpay_agent *a, const char *payee, const char *payee_key,
                                     uint64_t amount_minor, uint16_t currency, uint8_t kind,
                                     fogpay_agent_outcome *out)
{
    if (!a || !payee || !payee_key || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (strlen(payee) > FOGPAY_DEVICE_ID_MAX || strlen(payee_key) >= FOGPAY_PUBLIC_KEY_TEXT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint8_t serials[FOGPAY_NOTE_PAYMENT_NOTES_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t links[FOGPAY_NOTE_PAYMENT_NOTES_MAX][FOGPAY_HASH_BYTES];
    size_t count = 0;
    fogpay_error err = agent_notes_choose(a, currency, amount_minor, serials, links, &count);
    fogpay_note_payment p;
    memset(&p, 0, sizeof p);
    strcpy(p.device_id, a->device_id);
    strcpy(p.payee_device, payee);
    p.currency = currency;
    p.amount_minor = amount_minor;
    p.created_s = agent_plan_now_ms(a) / 1000;
    p.custody_s = p.created_s;
    if (err == FOGPAY_OK) {
        err = agent_sign_notes(a, payee_key, serials, links, count, &p);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return agent_send_message(a, &p, &p.seq, p.prev_hash, agent_encode_note_payment, kind, out);
}

fogpay_error fogpay_agent_usage(fogpay_agent *a, const char *meter_id, uint64_t quantity,
                                const char *unit, fogpay_agent_outcome *out)
{
    if (!a || !meter_id || !unit || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (strlen(meter_id) > FOGPAY_METER_ID_MAX || strlen(unit) > FOGPAY_UNIT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_usage u;
    memset(&u, 0, sizeof u);
    strcpy(u.device_id, a->device_id);
    strcpy(u.meter_id, meter_id);
    strcpy(u.unit, unit);
    u.quantity = quantity;
    u.created_s = agent_plan_now_ms(a) / 1000;
    return agent_send_message(a, &u, &u.seq, u.prev_hash, agent_encode_usage, FOGPAY_RECEIPT_USAGE,
                              out);
}
