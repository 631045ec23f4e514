/*
 * test_histogram.c - the metrics' histograms (plugin/histogram.c): values
 * land in the bucket of the 1-2-5 series whose bound is at least the
 * value, a quantile is its bucket's bound, the bucket past 10,000,000 is
 * "+Inf", and the one-minute window forgets slices older than a minute.
 */
#include <stdint.h>
#include <string.h>

#include "histogram.h"
#include "testutil.h"

static void test_buckets_and_quantiles(void)
{
    fogpay_histogram h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100; v++) {
        fogpay_histogram_record(&h, v);
    }
    CU_ASSERT_EQUAL(h.count, 100);
    CU_ASSERT_EQUAL(h.sum, 5050);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.5), 50);   /* 50 of 100 are <= 50 */
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.51), 100); /* the 51st is in (50, 100] */
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.01), 1);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.02), 2);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 0.99), 100);
    CU_ASSERT_EQUAL(h.counts[0], 1); /* 1 */
    CU_ASSERT_EQUAL(h.counts[2], 3); /* 3, 4, 5 */
    fogpay_histogram_record(&h, 10000001);
    CU_ASSERT_EQUAL(h.counts[FOGPAY_HISTOGRAM_BOUNDS], 1);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&h, 1.0), UINT64_MAX);
    CU_ASSERT_EQUAL(fogpay_histogram_bound(FOGPAY_HISTOGRAM_BOUNDS - 1), 10000000);
    CU_ASSERT_EQUAL(fogpay_histogram_bound(FOGPAY_HISTOGRAM_BOUNDS), UINT64_MAX);
}

static void test_window(void)
{
    static fogpay_histogram_window w;
    fogpay_histogram sum;
    uint64_t t0 = 1000000;
    fogpay_histogram_window_record(&w, t0, 2000);
    fogpay_histogram_window_record(&w, t0 + 10000, 20);
    fogpay_histogram_window_sum(&w, t0 + 10000, &sum);
    CU_ASSERT_EQUAL(sum.count, 2);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&sum, 0.99), 2000);
    /* A minute later the first slice is gone, the second still counts. */
    fogpay_histogram_window_sum(&w, t0 + 60000, &sum);
    CU_ASSERT_EQUAL(sum.count, 1);
    CU_ASSERT_EQUAL(fogpay_histogram_quantile(&sum, 0.99), 20);
    /* Recording into a reused slot clears what it held a minute before. */
    fogpay_histogram_window_record(&w, t0 + 60000, 5);
    fogpay_histogram_window_sum(&w, t0 + 60000, &sum);
    CU_ASSERT_EQUAL(sum.count, 2);
    CU_ASSERT_EQUAL(sum.sum, 25);
    fogpay_histogram_window_sum(&w, t0 + 200000, &sum);
    CU_ASSERT_EQUAL(sum.count, 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("histogram", NULL, NULL);
    CU_add_test(s, "buckets and quantiles", test_buckets_and_quantiles);
    CU_add_test(s, "the one-minute window", test_window);
    return testutil_run();
}
