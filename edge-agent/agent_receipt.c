/*
 * agent_receipt.c - receipts from the gateway: verified, matched to the
 * journaled message they answer, then applied.
 *
 * A receipt changes the device only when all of this holds: its COSE
 * signature verifies with the gateway key its kid names, and its time lies
 * within that key's validity (agent_gateway_key.c); it names this
 * device; a message with its seq is pending in the journal; its kind and
 * intent_hash (SHA-256 of the whole signed message) are that message's.
 * Then the message leaves the journal (settled, stored or rejected: the
 * gateway's answer to a (device, seq) never changes, so there is nothing
 * to resend) and a settled receipt's balance becomes the last known one
 * for its currency, unless a receipt from a later chain position was seen.
 * Anything else is ignored and logged: a forged receipt, another device's,
 * a replay of an old one (its message is no longer pending). The second
 * copy of a receipt that MQTT 5 delivers on both the receipt and the reply
 * topic is such a replay too, and is logged only when verbose.
 *
 * A receipt that answers a pending message also gives agent_plan.c the
 * gateway's signed time and, on a settled instalment, where the plan
 * stands (agent_plan_receipt), before anything else of it is applied.
 */
#include <string.h>

#include "agent_internal.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_note.h"

fogpay_error fogpay_agent_receipt_verify(const fogpay_agent *a, const uint8_t *msg, size_t len,
                                         fogpay_receipt *out)
{
    fogpay_bytes payload;
    fogpay_gateway_key signer;
    fogpay_receipt r;
    fogpay_error err = agent_gateway_open(a, msg, len, &payload, &signer);
    if (err == FOGPAY_OK) {
        err = fogpay_receipt_decode(payload.ptr, payload.len, &r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_gateway_key_valid_at(&signer, r.time_s);
    }
    if (err == FOGPAY_OK) {
        *out = r;
    }
    return err;
}

/* Remembers a settled balance, and what is held beside it, keeping the
 * ones from the latest position. */
static void receipt_balance(agent_state *s, const fogpay_receipt *r)
{
    for (size_t i = 0; i < s->balance_count; i++) {
        if (s->balances[i].currency == r->currency) {
            if (r->position >= s->balances[i].position) {
                s->balances[i].balance_minor = r->balance_after_minor;
                s->balances[i].position = r->position;
                s->balances[i].held_minor = r->held_minor;
            }
            return;
        }
    }
    if (s->balance_count == FOGPAY_AGENT_CURRENCIES_MAX) {
        agent_log("balance in currency %u not kept: %d currencies known already",
                  (unsigned)r->currency, FOGPAY_AGENT_CURRENCIES_MAX);
        return;
    }
    fogpay_agent_balance *b = &s->balances[s->balance_count++];
    b->currency = r->currency;
    b->balance_minor = r->balance_after_minor;
    b->position = r->position;
    b->held_minor = r->held_minor;
}

/* Checks r against the pending message it claims to answer. */
static fogpay_error receipt_match(const fogpay_agent *a, const fogpay_receipt *r)
{
    if (strcmp(r->device_id, a->device_id) != 0) {
        return FOGPAY_ERR_DEVICE_MISMATCH;
    }
    const fogpay_journal_entry *e = fogpay_journal_find(a->journal, r->seq);
    if (!e) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    if (e->kind != r->kind || memcmp(e->hash, r->intent_hash, FOGPAY_HASH_BYTES) != 0) {
        return FOGPAY_ERR_SEQ_CONFLICT;
    }
    return FOGPAY_OK;
}

/* The link the pending message of seq holds (its prev-hash). */
static fogpay_error receipt_link_of(const fogpay_agent *a, uint64_t seq,
                                    uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    const fogpay_journal_entry *e = fogpay_journal_find(a->journal, seq);
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_journal_read(a->journal, e, msg, sizeof msg);
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_parse(msg, e->len, &cose);
    }
    if (err == FOGPAY_OK && e->kind == FOGPAY_RECEIPT_USAGE) {
        fogpay_usage u;
        err = fogpay_usage_decode(cose.payload.ptr, cose.payload.len, &u);
        memcpy(prev, u.prev_hash, FOGPAY_PREV_HASH_BYTES);
    } else if (err == FOGPAY_OK && e->kind == FOGPAY_RECEIPT_BIND) {
        fogpay_bind b;
        err = fogpay_bind_decode(cose.payload.ptr, cose.payload.len, &b);
        memcpy(prev, b.prev_hash, FOGPAY_PREV_HASH_BYTES);
    } else if (err == FOGPAY_OK &&
               (e->kind == FOGPAY_RECEIPT_NOTE_PAYMENT || e->kind == FOGPAY_RECEIPT_NOTE_REDEEM)) {
        fogpay_note_payment m;
        err = fogpay_note_payment_decode(cose.payload.ptr, cose.payload.len, &m);
        memcpy(prev, m.prev_hash, FOGPAY_PREV_HASH_BYTES);
    } else if (err == FOGPAY_OK && e->kind == FOGPAY_RECEIPT_WITHDRAW) {
        fogpay_note_withdraw m;
        err = fogpay_note_withdraw_decode(cose.payload.ptr, cose.payload.len, &m);
        memcpy(prev, m.prev_hash, FOGPAY_PREV_HASH_BYTES);
    } else if (err == FOGPAY_OK && e->kind == FOGPAY_RECEIPT_HOLD) {
        fogpay_hold_message m;
        err = fogpay_hold_message_decode(cose.payload.ptr, cose.payload.len, &m);
        memcpy(prev, m.prev_hash, FOGPAY_PREV_HASH_BYTES);
    } else if (err == FOGPAY_OK) {
        fogpay_intent in;
        err = fogpay_intent_decode(cose.payload.ptr, cose.payload.len, &in);
        memcpy(prev, in.prev_hash, FOGPAY_PREV_HASH_BYTES);
    }
    return err;
}

/* Takes the answered message out of the journal. A refusal the gateway
 * did not put on the device's chain leaves the chain where the refused
 * message found it, so the next message links to what that one linked to. */
static fogpay_error receipt_complete(fogpay_agent *a, const fogpay_receipt *r)
{
    if (r->status != FOGPAY_STATUS_REJECTED ||
        !fogpay_error_is_off_chain((fogpay_error)r->reason)) {
        return fogpay_journal_complete(a->journal, r->seq);
    }
    uint8_t prev[FOGPAY_PREV_HASH_BYTES];
    fogpay_error err = receipt_link_of(a, r->seq, prev);
    return err == FOGPAY_OK ? fogpay_journal_complete_unlinked(a->journal, r->seq, prev) : err;
}

fogpay_error fogpay_agent_receipt_handle(fogpay_agent *a, const uint8_t *msg, size_t len)
{
    fogpay_receipt r;
    fogpay_error err = fogpay_agent_receipt_verify(a, msg, len, &r);
    if (err == FOGPAY_OK) {
        err = receipt_match(a, &r);
    }
    if (err != FOGPAY_OK) {
        if (err != FOGPAY_ERR_NOT_FOUND || a->verbose) {
            agent_log("receipt ignored: %s; nothing in it counts, a paid-up-to time neither",
                      fogpay_error_name(err));
        }
        return err;
    }
    agent_plan_receipt(a, &r);
    if (r.status == FOGPAY_STATUS_REJECTED && fogpay_error_is_transient((fogpay_error)r.reason)) {
        /* "Not now": the message stays pending and is sent again. */
        agent_log("seq %llu not taken now (%s); it stays pending and is sent again",
                  (unsigned long long)r.seq, fogpay_error_name((fogpay_error)r.reason));
        return FOGPAY_OK;
    }
    /* The balance first, then the journal: a crash in between resends the
     * message, and the same receipt sets the same balance again. A balance
     * that could not be saved leaves the message pending: it is resent, and
     * the gateway's repeat of this receipt applies it then. */
    if ((r.status == FOGPAY_STATUS_SETTLED || r.status == FOGPAY_STATUS_HELD) && r.has_balance) {
        agent_state next = a->state;
        receipt_balance(&next, &r);
        err = agent_state_store(a, &next);
        if (err != FOGPAY_OK) {
            agent_log("receipt for seq %llu not applied: its balance was not saved (%s); the "
                      "message stays pending",
                      (unsigned long long)r.seq, fogpay_error_name(err));
            return err;
        }
    }
    if ((r.kind == FOGPAY_RECEIPT_NOTE_PAYMENT && r.status == FOGPAY_STATUS_STORED) ||
        (r.kind == FOGPAY_RECEIPT_NOTE_REDEEM && r.status == FOGPAY_STATUS_SETTLED)) {
        /* The notes are the payee's now: out of the store before the
         * journal lets the message go (a crash in between resends it, and
         * the repeat of this receipt takes out nothing more). */
        const fogpay_journal_entry *e = fogpay_journal_find(a->journal, r.seq);
        uint8_t sent[FOGPAY_MESSAGE_MAX];
        err = fogpay_journal_read(a->journal, e, sent, sizeof sent);
        if (err == FOGPAY_OK) {
            err = agent_notes_remove(a, sent, e->len);
        }
        if (err != FOGPAY_OK) {
            agent_log("receipt for seq %llu not applied: its notes stay in the store (%s)",
                      (unsigned long long)r.seq, fogpay_error_name(err));
            return err;
        }
    }
    err = receipt_complete(a, &r);
    if (err != FOGPAY_OK) {
        agent_log("receipt for seq %llu not applied: %s", (unsigned long long)r.seq,
                  fogpay_error_name(err));
        return err;
    }
    fogpay_agent_outcome *o = &a->last_outcome;
    memset(o, 0, sizeof *o);
    o->seq = r.seq;
    o->kind = r.kind;
    o->status = r.status;
    o->reason = (fogpay_error)r.reason;
    o->transfer_id = r.transfer_id;
    o->has_balance = r.has_balance;
    o->balance_after_minor = r.balance_after_minor;
    o->legs_minor = r.legs_minor;
    o->currency = r.currency;
    o->charge_minor = r.charge_minor;
    o->consumption = r.consumption;
    memcpy(o->tariff_id, r.tariff_id, sizeof o->tariff_id);
    o->hold_id = r.hold_id;
    o->hold_expiry_s = r.hold_expiry_s;
    o->held_minor = r.held_minor;
    o->hold_left_minor = r.hold_left_minor;
    o->note_count = r.note_count;
    if (o->seq == a->awaited_seq) {
        a->awaited_outcome = *o;
    }
    if (r.status == FOGPAY_STATUS_REJECTED) {
        agent_log("seq %llu rejected: %s", (unsigned long long)r.seq,
                  fogpay_error_name((fogpay_error)r.reason));
    }
    return FOGPAY_OK;
}
