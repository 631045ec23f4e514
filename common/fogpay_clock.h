/*
 * fogpay_clock.h - the two clocks of fogpay, in milliseconds.
 *
 * The wall clock (CLOCK_REALTIME) is for what others read: intent expiry,
 * transfer and event times, receipts, the cloud store. The monotonic clock
 * (CLOCK_MONOTONIC) is for waits and timeouts within one process, which a
 * wall clock stepped by NTP must not stretch or cut.
 *
 * For tests only, the wall clock can be compressed: from an epoch on it
 * runs RATE times faster than the real one, so that a gateway and an agent
 * given the same epoch and rate agree on a time that passes a month of
 * instalments in minutes. It is off unless a program's test option turns it
 * on; the monotonic clock is never compressed.
 */
#ifndef FOGPAY_CLOCK_H
#define FOGPAY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Unix time in milliseconds (compressed if a test clock is set). */
uint64_t fogpay_clock_wall_ms(void);

/* Milliseconds since an unspecified start, never going back; only
 * differences within one process mean anything. */
uint64_t fogpay_clock_monotonic_ms(void);

/* The largest compression: a year passes in about nine hours. */
#define FOGPAY_CLOCK_RATE_MAX 1000u

/* Parses a test clock option, "RATE@EPOCH_MS" (e.g. "600@1767225600000"):
 * RATE 1 to FOGPAY_CLOCK_RATE_MAX, EPOCH_MS a Unix time in ms not after
 * now. False for anything else, with *rate and *epoch_ms untouched. */
bool fogpay_clock_parse_test(const char *text, uint32_t *rate, uint64_t *epoch_ms);

/* Sets the process's test clock: wall = epoch + (real - epoch) * rate.
 * Called once at start, before any thread reads the clock. */
void fogpay_clock_set_test(uint32_t rate, uint64_t epoch_ms);

#endif
