/*
 * ledger_schedule.c - a financing plan's schedule: its terms' ranges, its
 * fixed interest and each instalment, computed exactly in integer minor
 * units.
 *
 * Design. Simple interest on the principal over the plan's term, at the
 * annual rate in basis points of a 365-day year, rounded down once for the
 * whole term. The principal and that interest are each split into equal
 * parts rounded down, and the last instalment takes what the rounding
 * leaves of both, so the instalments of a version sum to its principal
 * plus its interest exactly whatever the count. The usage part of an
 * instalment is the exact charge of the units metered in its period
 * (fogpay_tariff_charge, no carry between instalments: each is rounded
 * down on its own). Every product is taken in 128 bits; the limits of
 * fogpay_limits.h keep it under 2^102.
 *
 * Ownership. Nothing here allocates; *out is written only on success.
 */
#include <string.h>

#include "ledger_internal.h"

/* GCC's and Clang's 128-bit integer, as ledger_meter.c uses it
 * (__extension__: ISO C has no type this wide). */
__extension__ typedef unsigned __int128 schedule_u128;

/* principal * rate * count * period stays under 2^40 * 2^17 * 2^10 * 2^35
 * = 2^102: exact in 128 bits. */
_Static_assert(FOGPAY_AMOUNT_MAX_MINOR < (1ull << 40), "principal under 2^40");
_Static_assert(FOGPAY_PLAN_RATE_BP_MAX < (1ull << 17), "rate under 2^17");
_Static_assert(FOGPAY_PLAN_INSTALMENTS_MAX < (1ull << 10), "count under 2^10");
_Static_assert(FOGPAY_PLAN_PERIOD_MS_MAX < (1ull << 35), "period under 2^35");
_Static_assert(FOGPAY_PLAN_PERIOD_MS_MIN <= FOGPAY_PLAN_PERIOD_MS_MAX, "a period range");

fogpay_error fogpay_plan_check(const fogpay_plan *p)
{
    if (p == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (p->closed) {
        return FOGPAY_OK;
    }
    bool usage = p->usage_num != 0;
    if (p->principal_minor == 0 || p->principal_minor > FOGPAY_AMOUNT_MAX_MINOR ||
        p->rate_bp > FOGPAY_PLAN_RATE_BP_MAX || p->instalment_count == 0 ||
        p->instalment_count > FOGPAY_PLAN_INSTALMENTS_MAX ||
        p->period_ms < FOGPAY_PLAN_PERIOD_MS_MIN || p->period_ms > FOGPAY_PLAN_PERIOD_MS_MAX ||
        p->grace_ms > p->period_ms || p->shortfall > FOGPAY_PLAN_SHORTFALL_LIMIT) {
        return FOGPAY_ERR_PLAN_TERMS;
    }
    if (usage != (p->usage_den != 0) || usage != (p->meter_id[0] != '\0') ||
        p->usage_num > FOGPAY_STORED_INT_MAX || p->usage_den > FOGPAY_STORED_INT_MAX) {
        return FOGPAY_ERR_PLAN_TERMS; /* a usage price and its meter come together */
    }
    if (p->payee_count > FOGPAY_PLAN_PAYEES_MAX ||
        (p->payee_count != 0 && p->shortfall != FOGPAY_PLAN_SHORTFALL_LIMIT)) {
        return FOGPAY_ERR_PLAN_TERMS; /* named payees are the limit's */
    }
    for (uint8_t i = 0; i < p->payee_count; i++) {
        if (memchr(p->payees[i], '\0', sizeof p->payees[i]) == NULL || p->payees[i][0] == '\0' ||
            strcmp(p->payees[i], p->device_id) == 0) {
            return FOGPAY_ERR_PLAN_TERMS;
        }
        for (uint8_t j = 0; j < i; j++) {
            if (strcmp(p->payees[i], p->payees[j]) == 0) {
                return FOGPAY_ERR_PLAN_TERMS; /* each payee once */
            }
        }
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_plan_interest(const fogpay_plan *p, uint64_t *interest_minor)
{
    if (interest_minor == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = fogpay_plan_check(p);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p->closed) {
        *interest_minor = 0;
        return FOGPAY_OK;
    }
    schedule_u128 term_ms = (schedule_u128)p->instalment_count * p->period_ms;
    schedule_u128 value = (schedule_u128)p->principal_minor * p->rate_bp * term_ms;
    schedule_u128 interest = value / ((schedule_u128)FOGPAY_BASIS_POINTS * FOGPAY_PLAN_YEAR_MS);
    if (interest > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_CHARGE_TOO_LARGE;
    }
    *interest_minor = (uint64_t)interest;
    return FOGPAY_OK;
}

/* The number-th of count equal parts of total, rounded down, the last
 * taking what the rounding leaves. */
static uint64_t schedule__part(uint64_t total, uint32_t count, uint32_t number)
{
    uint64_t part = total / count;
    return number == count ? total - part * (count - 1) : part;
}

fogpay_error fogpay_plan_instalment(const fogpay_plan *p, uint32_t number, uint64_t usage_units,
                                    fogpay_instalment *out)
{
    if (out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint64_t interest = 0;
    fogpay_error err = fogpay_plan_interest(p, &interest);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p->closed || number == 0 || number > p->instalment_count ||
        p->effective_ms > FOGPAY_STORED_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_instalment in;
    memset(&in, 0, sizeof in);
    in.number = number;
    in.due_ms = p->effective_ms + (uint64_t)number * p->period_ms;
    in.principal_minor = schedule__part(p->principal_minor, p->instalment_count, number);
    in.interest_minor = schedule__part(interest, p->instalment_count, number);
    if (p->usage_num != 0 && usage_units != 0) {
        uint64_t carry = 0;
        err = fogpay_tariff_charge(usage_units, p->usage_num, p->usage_den, 0, &in.usage_minor,
                                   &carry);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    in.amount_minor = in.principal_minor + in.interest_minor + in.usage_minor;
    if (in.amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_CHARGE_TOO_LARGE;
    }
    *out = in;
    return FOGPAY_OK;
}
