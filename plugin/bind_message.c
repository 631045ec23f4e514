/*
 * bind_message.c - a device's binding of one of its meters to a tariff
 * (schemas/bind.cddl, on dev/{device}/bind). It takes the path of every
 * device message (device_message.c): admitted, verified by a worker (here
 * the decode), settled on the broker's thread in the group transaction,
 * signed, recorded, answered after the commit. Bindings take their place
 * on the device's chain like intents and readings.
 *
 * A binding moves no money: its receipt is of kind bind, stored, naming
 * the tariff (or rejected with the reason: tariff_unknown,
 * tariff_not_effective, tariff_own_payee, ...). From then on the meter's
 * readings settle at the tariff (ledger/ledger_meter.c), charged from the
 * hold the binding names (key 7: hold_foreign, hold_resolved,
 * hold_tariff_payee, hold_tariff_currency when it cannot pay them;
 * ledger/ledger_hold_charge.c) or else from the device's wallet.
 */
#include <stdio.h>
#include <string.h>

#include "gateway.h"

fogpay_error fogpay_bind_message_decode(fogpay_job *job, fogpay_bytes payload, const char **named)
{
    fogpay_error err = fogpay_bind_decode(payload.ptr, payload.len, &job->bind);
    *named = job->bind.device_id;
    if (err == FOGPAY_OK) {
        job->seq = job->bind.seq;
    }
    return err;
}

fogpay_error fogpay_bind_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_bind *b = &job->bind;
    fogpay_error err =
        fogpay_ledger_meter_bind_hold(gw->ledger, b->device_id, b->meter_id, b->tariff_id,
                                      b->hold_id, b->seq, job->hash, job->now_ms);
    if (err == FOGPAY_OK) {
        snprintf(job->receipt.tariff_id, sizeof job->receipt.tariff_id, "%s", b->tariff_id);
    }
    return err;
}
