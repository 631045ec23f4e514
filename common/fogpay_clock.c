/*
 * fogpay_clock.c - the wall and monotonic clocks in milliseconds, and the
 * compressed wall clock of tests.
 */
#include "fogpay_clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* The test clock; rate 0 is off. Written once at start, read after. */
static uint32_t clock_rate;
static uint64_t clock_epoch_ms;

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t fogpay_clock_wall_ms(void)
{
    uint64_t real = clock_ms(CLOCK_REALTIME);
    if (clock_rate == 0 || real < clock_epoch_ms) {
        return real;
    }
    return clock_epoch_ms + (real - clock_epoch_ms) * clock_rate;
}

uint64_t fogpay_clock_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

bool fogpay_clock_parse_test(const char *text, uint32_t *rate, uint64_t *epoch_ms)
{
    if (text == NULL || *text < '1' || *text > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long r = strtoul(text, &end, 10);
    if (errno != 0 || *end != '@' || r < 1 || r > FOGPAY_CLOCK_RATE_MAX) {
        return false;
    }
    const char *e = end + 1;
    if (*e < '0' || *e > '9') {
        return false;
    }
    unsigned long long ms = strtoull(e, &end, 10);
    if (errno != 0 || *end != '\0' || ms > clock_ms(CLOCK_REALTIME)) {
        return false;
    }
    *rate = (uint32_t)r;
    *epoch_ms = (uint64_t)ms;
    return true;
}

void fogpay_clock_set_test(uint32_t rate, uint64_t epoch_ms)
{
    clock_rate = rate;
    clock_epoch_ms = epoch_ms;
}
