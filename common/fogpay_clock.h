/*
 * fogpay_clock.h - the two clocks of fogpay, in milliseconds.
 *
 * The wall clock (CLOCK_REALTIME) is for what others read: intent expiry,
 * transfer and event times, receipts, the cloud store. The monotonic clock
 * (CLOCK_MONOTONIC) is for waits and timeouts within one process, which a
 * wall clock stepped by NTP must not stretch or cut.
 */
#ifndef FOGPAY_CLOCK_H
#define FOGPAY_CLOCK_H

#include <stdint.h>

/* Unix time in milliseconds. */
uint64_t fogpay_clock_wall_ms(void);

/* Milliseconds since an unspecified start, never going back; only
 * differences within one process mean anything. */
uint64_t fogpay_clock_monotonic_ms(void);

#endif
