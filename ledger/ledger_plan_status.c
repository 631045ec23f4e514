/*
 * ledger_plan_status.c - where a financing plan stands at a time: the
 * instalments paid and left, the arrears, the next instalment and the time
 * the device is paid up to.
 *
 * Design. Everything is computed from the plan's version applying at the
 * time and the transfers naming the plan (kinds 11 and 13, counted from
 * the version's effective time), never stored: the receipt of an
 * instalment and every plan notice carry the same figures because they
 * come from this one function. The paid-up-to time moves only when an
 * instalment is paid, by one period; it never depends on the device's
 * clock. A plan whose shortfall is limit is the exception: its device is
 * limited by the gateway in arrears (which payees it may pay is known only
 * there), not put out of action by its own clock, so it is paid up to the
 * grace end of the last instalment, and goes out of action only when the
 * whole term has passed unpaid.
 *
 * Ownership. Nothing here allocates; *out is written only on success.
 */
#include <string.h>

#include "ledger_internal.h"

/* Due time plus grace of instalment number of p (1..count). */
static uint64_t status__grace_end(const fogpay_plan *p, uint64_t number)
{
    return p->effective_ms + number * p->period_ms + p->grace_ms;
}

/* The figures of version p with paid instalments paid, at time_ms. */
static fogpay_error status__fill(fogpay_ledger *l, const fogpay_plan *p, uint32_t paid,
                                 uint64_t time_ms, fogpay_plan_status *st)
{
    memset(st, 0, sizeof *st);
    memcpy(st->plan_id, p->plan_id, sizeof st->plan_id);
    memcpy(st->device_id, p->device_id, sizeof st->device_id);
    st->closed = p->closed;
    st->currency = p->currency;
    uint64_t count = p->instalment_count;
    st->paid = (uint32_t)(paid < count ? paid : count);
    st->left = p->closed ? 0 : (uint32_t)(count - st->paid);
    bool limit = p->shortfall == FOGPAY_PLAN_SHORTFALL_LIMIT;
    st->paid_up_to_ms =
        status__grace_end(p, st->left == 0 || limit ? count : (uint64_t)st->paid + 1);
    for (uint64_t n = (uint64_t)st->paid + 1; st->left > 0 && n <= count; n++) {
        if (status__grace_end(p, n) > time_ms) {
            break;
        }
        st->arrears++;
    }
    ledger_account lender;
    fogpay_error err =
        ledger__account_find(l, LEDGER_ACCOUNT_ENTITY, p->lender_entity, p->currency, &lender);
    if (err == FOGPAY_OK) {
        st->lender_account = lender.id;
    }
    if (err == FOGPAY_OK && st->left > 0) {
        err = ledger__plan_next(l, p, time_ms, &st->next);
    }
    return err;
}

fogpay_error fogpay_ledger_plan_status(fogpay_ledger *l, const char *plan_id, uint64_t time_ms,
                                       fogpay_plan_status *out)
{
    if (l == NULL || plan_id == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_plan p;
    fogpay_error err = fogpay_ledger_plan_at(l, plan_id, time_ms, &p, NULL);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_PLAN_UNKNOWN; /* not in effect yet */
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    bool own = false;
    err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint32_t paid = 0;
    fogpay_plan_status st;
    err = ledger__plan_paid(l, &p, &paid);
    if (err == FOGPAY_OK) {
        err = status__fill(l, &p, paid, time_ms, &st);
    }
    ledger__read_end(l, own);
    if (err == FOGPAY_OK) {
        *out = st;
    }
    return err;
}
