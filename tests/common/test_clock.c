/*
 * test_clock.c - the two clocks of common/fogpay_clock.h: the wall clock
 * agrees with CLOCK_REALTIME in unix milliseconds, the monotonic clock never goes
 * back and measures a sleep, and the test clock's option is parsed and
 * compresses the wall clock from its epoch on.
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

static void test_parse(void)
{
    uint32_t rate = 7;
    uint64_t epoch = 9;
    CU_ASSERT_TRUE(fogpay_clock_parse_test("600@1767225600000", &rate, &epoch));
    CU_ASSERT_EQUAL(rate, 600);
    CU_ASSERT_EQUAL(epoch, 1767225600000ull);
    const char *bad[] = {"",       "600",    "0@1767225600000",    "1001@1767225600000",
                         "600@",   "600@x",  "-1@1767225600000",   "600@1767225600000x",
                         "600 @1", "600@-1", "600@99999999999999", "+6@1767225600000",
                         NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        rate = 7;
        epoch = 9;
        CU_ASSERT_FALSE(fogpay_clock_parse_test(bad[i], &rate, &epoch));
        CU_ASSERT_EQUAL(rate, 7);
        CU_ASSERT_EQUAL(epoch, 9);
    }
}

/* Runs last: the test clock stays set for the rest of the process. */
static void test_compressed(void)
{
    uint64_t epoch = fogpay_clock_wall_ms();
    fogpay_clock_set_test(100, epoch);
    testutil_sleep_ms(50);
    uint64_t now = fogpay_clock_wall_ms();
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    CU_ASSERT(now >= epoch + 50 * 100);
    CU_ASSERT(now <= epoch + (ms_of(&real) - epoch) * 100);
    uint64_t mono = fogpay_clock_monotonic_ms();
    testutil_sleep_ms(20);
    CU_ASSERT(fogpay_clock_monotonic_ms() - mono < 5000);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("clock", NULL, NULL);
    CU_add_test(s, "the wall clock", test_wall);
    CU_add_test(s, "the monotonic clock", test_monotonic);
    CU_add_test(s, "the test clock's option", test_parse);
    CU_add_test(s, "the compressed wall clock", test_compressed);
    return testutil_run();
}
