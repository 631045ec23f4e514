/*
 * histogram.h - a fixed-bucket histogram of whole numbers (microseconds of
 * a commit, messages in a group), and a window of them over the last
 * minute, for the gateway's metrics (metrics.c).
 *
 * Design. Buckets follow the 1-2-5 series from 1 to 10,000,000 and one for
 * everything larger, as Prometheus' own buckets do, so that a value in
 * microseconds reads as seconds with the bound divided by a million.
 * Recording is a short scan of the bounds and three additions: cheap
 * enough for every commit on the broker's thread. A quantile is the upper
 * bound of the bucket it falls in (a bound is exact to a factor of 2.5).
 * Nothing allocates; a histogram lives inside its owner's struct.
 */
#ifndef FOGPAY_HISTOGRAM_H
#define FOGPAY_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_limits.h"

/* Bounds of the 1-2-5 series from 1 to 1e7, then the bucket of larger. */
#define FOGPAY_HISTOGRAM_BOUNDS  22
#define FOGPAY_HISTOGRAM_BUCKETS (FOGPAY_HISTOGRAM_BOUNDS + 1)

typedef struct fogpay_histogram {
    uint64_t counts[FOGPAY_HISTOGRAM_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    uint64_t sum;
} fogpay_histogram;

/* The last minute: FOGPAY_METRICS_SLICES histograms, each the values of
 * one FOGPAY_METRICS_SLICE_MS slice of a monotonic clock. */
typedef struct fogpay_histogram_window {
    fogpay_histogram slices[FOGPAY_METRICS_SLICES];
    uint64_t slice_number[FOGPAY_METRICS_SLICES]; /* now_ms / SLICE_MS of each, + 1; 0 unused */
} fogpay_histogram_window;

/* The upper bound of bucket i (i < FOGPAY_HISTOGRAM_BOUNDS). */
uint64_t fogpay_histogram_bound(size_t i);
void fogpay_histogram_record(fogpay_histogram *h, uint64_t value);
/* The bound of the bucket holding quantile q (0 < q <= 1); 0 when empty,
 * UINT64_MAX for the bucket past the last bound. */
uint64_t fogpay_histogram_quantile(const fogpay_histogram *h, double q);
/* Records value in the slice of now_ms (monotonic), clearing a stale one. */
void fogpay_histogram_window_record(fogpay_histogram_window *w, uint64_t now_ms, uint64_t value);
/* The sum of the slices of the minute before now_ms into out. */
void fogpay_histogram_window_sum(const fogpay_histogram_window *w, uint64_t now_ms,
                                 fogpay_histogram *out);

#endif
