/*
 * hold_message.c - holds at the gateway: a device's hold message (capture
 * or void, dev/{device}/hold) settled in the group transaction, the held
 * receipt of an authorisation, and the expiry of holds on the broker's
 * tick.
 *
 * Design. A hold message takes the path of every device message
 * (device_message.c): admitted, verified and decoded by a worker, checked
 * for repeats and against the device's chain, then settled here on the
 * broker's thread in a savepoint of the open group, signed by a worker,
 * recorded and answered after the commit. Every rule of a hold is the
 * ledger's (ledger/ledger_hold.c), so a hold resolved by a device, by an
 * operator (control/control_hold.c) or by its timeout is resolved once
 * whichever comes first: in the ring's order within a group, and in
 * commit order across groups. The receipt of a settled hold message names
 * the hold (key 14), the transfer made for the sender (the capture, or the
 * release of a void), the sender's available balance after and what it
 * still holds (key 16) in open holds of its own.
 *
 * Expiry runs on the tick between groups (no group transaction open), in
 * one transaction of its own of at most FOGPAY_HOLD_EXPIRE_PER_TICK
 * holds, so it never waits for a device and no device message waits
 * long for it; a hold past its expiry and not yet expired is refused
 * (hold_expired) to whoever asks first.
 *
 * Ownership: nothing here allocates; the job is the ring's.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "gateway.h"

/* The account of the sender in the hold, whose balance the receipt
 * carries: the payer's wallet, or the payee's account when the sender is
 * the payee device. */
static uint64_t hold_sender_account(const fogpay_hold *h, const char *device_id)
{
    return strcmp(device_id, h->payer_device) == 0 ? h->payer_account : h->payee_account;
}

/* Resolves the hold as the message says; r is the ledger's result. */
static fogpay_error hold_resolve(fogpay_gateway *gw, const fogpay_job *job, fogpay_hold_result *r)
{
    const fogpay_hold_message *m = &job->hold;
    fogpay_hold_actor actor = {.device_id = job->device_id, .seq = job->seq, .hash = job->hash};
    if (m->op == FOGPAY_HOLD_CAPTURE) {
        return fogpay_ledger_hold_capture(gw->ledger, m->hold_id, m->amount_minor, &actor,
                                          job->now_ms, r);
    }
    return fogpay_ledger_hold_void(gw->ledger, m->hold_id, &actor, job->now_ms, r);
}

/* Fills the settled receipt of a resolved hold. */
static fogpay_error hold_receipt(fogpay_gateway *gw, fogpay_job *job, const fogpay_hold_result *r)
{
    fogpay_hold h;
    fogpay_error err = fogpay_ledger_hold_get(gw->ledger, job->hold.hold_id, &h);
    int64_t balance = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_balance(gw->ledger, hold_sender_account(&h, job->device_id), &balance);
    }
    fogpay_device_message_receipt_base(gw, job);
    fogpay_receipt *rc = &job->receipt;
    fogpay_transfer t;
    if (err == FOGPAY_OK) {
        rc->status = FOGPAY_STATUS_SETTLED;
        rc->transfer_id = r->transfer.position;
        rc->position = r->transfer.position;
        rc->balance_after_minor = balance;
        rc->has_balance = true;
        rc->currency = h.currency;
        rc->hold_id = h.id;
        err = fogpay_ledger_transfer_get(gw->ledger, r->transfer.position, &t, rc->chain_hash);
        rc->legs_minor = fogpay_transfer_total(&t) - t.amount_minor; /* a capture's fees */
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_hold_held(gw->ledger, job->device_id, h.currency, &rc->held_minor);
    }
    return err;
}

void fogpay_hold_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    fogpay_error err = fogpay_device_message_open(gw, job, job->hold.created_s, FOGPAY_TTL_MAX_S);
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    fogpay_hold_result r;
    err = hold_resolve(gw, job, &r);
    if (err == FOGPAY_OK) {
        err = hold_receipt(gw, job, &r);
    }
    fogpay_device_message_settled(gw, job, err, err == FOGPAY_OK ? r.transfer.position : 0);
}

fogpay_error fogpay_hold_receipt_held(fogpay_gateway *gw, fogpay_job *job)
{
    fogpay_receipt *r = &job->receipt;
    fogpay_hold h;
    fogpay_error err = fogpay_ledger_hold_get(gw->ledger, r->position, &h);
    uint64_t held = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_hold_held(gw->ledger, job->device_id, h.currency, &held);
    }
    if (err == FOGPAY_OK) {
        r->status = FOGPAY_STATUS_HELD;
        r->hold_id = h.id;
        r->hold_expiry_s = h.expires_ms / 1000;
        r->held_minor = held;
    }
    return err;
}

void fogpay_hold_tick(fogpay_gateway *gw, uint64_t now_ms)
{
    if (gw->in_transaction) {
        return; /* between groups only */
    }
    size_t expired = 0;
    fogpay_error err =
        fogpay_ledger_hold_expire(gw->ledger, now_ms, FOGPAY_HOLD_EXPIRE_PER_TICK, &expired);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: expiring holds failed: %s (%s)",
                             fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
    } else if (expired > 0) {
        mosquitto_log_printf(MOSQ_LOG_INFO, "fogpay: %zu holds expired, their amounts released",
                             expired);
    }
}
