/*
 * agent_hold.c - the device's side of holds: capturing or voiding a hold
 * (schemas/hold.cddl) by a signed hold message, journaled, sent and
 * answered like a payment (agent_pay.c has the order and why). A hold is
 * made by fogpay_agent_authorise(), an intent with a hold timeout.
 *
 * Nothing is checked here that only the gateway knows (whether the hold
 * is open, who its parties are, the held amount): those refusals come
 * back in the receipt, with their reasons.
 */
#include <string.h>
#include <time.h>

#include "agent_internal.h"

/* Builds, journals and sends a hold message of op on hold_id. */
static fogpay_error agent_hold_send(fogpay_agent *a, uint8_t op, uint64_t hold_id,
                                    uint64_t amount_minor, fogpay_agent_outcome *out)
{
    if (!a || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    fogpay_hold_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.device_id, a->device_id);
    m.op = op;
    m.hold_id = hold_id;
    m.amount_minor = amount_minor;
    m.created_s = (uint64_t)time(NULL);
    m.seq = fogpay_journal_next_seq(a->journal);
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    /* A trial encoding validates every field before anything is reserved. */
    fogpay_error err = fogpay_hold_message_encode(&m, payload, sizeof payload, &len);
    if (err == FOGPAY_OK) {
        err = agent_may_send(a);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_journal_reserve(a->journal, &m.seq);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_journal_prev_hash(a->journal, m.prev_hash);
    err = fogpay_hold_message_encode(&m, payload, sizeof payload, &len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return agent_submit(a, m.seq, FOGPAY_RECEIPT_HOLD, payload, len, out);
}

fogpay_error fogpay_agent_capture(fogpay_agent *a, uint64_t hold_id, uint64_t amount_minor,
                                  fogpay_agent_outcome *out)
{
    if (amount_minor == 0) {
        return FOGPAY_ERR_AMOUNT_ZERO;
    }
    return agent_hold_send(a, FOGPAY_HOLD_CAPTURE, hold_id, amount_minor, out);
}

fogpay_error fogpay_agent_void(fogpay_agent *a, uint64_t hold_id, fogpay_agent_outcome *out)
{
    return agent_hold_send(a, FOGPAY_HOLD_VOID, hold_id, 0, out);
}
