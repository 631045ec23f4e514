/*
 * fogpay_clock.c - the wall and monotonic clocks in milliseconds.
 */
#include "fogpay_clock.h"

#include <time.h>

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t fogpay_clock_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

uint64_t fogpay_clock_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}
