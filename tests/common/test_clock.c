/*
 * test_clock.c - the two clocks of common/fogpay_clock.h: the wall clock
 * agrees with CLOCK_REALTIME in unix milliseconds, the monotonic clock never goes
 * back and measures a sleep.
 */
#include <stdint.h>
#include <time.h>

#include "fogpay_clock.h"
#include "testutil.h"

/* ts in milliseconds. */
static uint64_t ms_of(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000u + (uint64_t)ts->tv_nsec / 1000000u;
}

static void test_wall(void)
{
    struct timespec before, after;
    clock_gettime(CLOCK_REALTIME, &before);
    uint64_t ms = fogpay_clock_wall_ms();
    clock_gettime(CLOCK_REALTIME, &after);
    CU_ASSERT(ms >= ms_of(&before));
    CU_ASSERT(ms <= ms_of(&after));
    /* Unix milliseconds: after 2020, before 2100. */
    CU_ASSERT(ms > 1577836800000ull);
    CU_ASSERT(ms < 4102444800000ull);
}

static void test_monotonic(void)
{
    uint64_t last = fogpay_clock_monotonic_ms();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = fogpay_clock_monotonic_ms();
        CU_ASSERT_FATAL(now >= last);
        last = now;
    }
    uint64_t start = fogpay_clock_monotonic_ms();
    testutil_sleep_ms(50);
    uint64_t slept = fogpay_clock_monotonic_ms() - start;
    CU_ASSERT(slept >= 50);
    CU_ASSERT(slept < 5000);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("clock", NULL, NULL);
    CU_add_test(s, "the wall clock", test_wall);
    CU_add_test(s, "the monotonic clock", test_monotonic);
    return testutil_run();
}
