/*
 * histogram.c - fixed-bucket histograms and their one-minute window
 * (histogram.h has the design).
 */
#include <string.h>

#include "histogram.h"

static const uint64_t histogram_bounds[FOGPAY_HISTOGRAM_BOUNDS] = {
    1,    2,     5,     10,    20,     50,     100,    200,     500,     1000,    2000,
    5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000, 2000000, 5000000, 10000000,
};

uint64_t fogpay_histogram_bound(size_t i)
{
    return i < FOGPAY_HISTOGRAM_BOUNDS ? histogram_bounds[i] : UINT64_MAX;
}

void fogpay_histogram_record(fogpay_histogram *h, uint64_t value)
{
    size_t i = 0;
    while (i < FOGPAY_HISTOGRAM_BOUNDS && value > histogram_bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

uint64_t fogpay_histogram_quantile(const fogpay_histogram *h, double q)
{
    if (h->count == 0) {
        return 0;
    }
    /* The rank of the quantile, counted from 1: ceil(q * count). */
    double want = q * (double)h->count;
    uint64_t rank = (uint64_t)want;
    rank += (double)rank < want;
    rank = rank == 0 ? 1 : rank;
    uint64_t seen = 0;
    for (size_t i = 0; i < FOGPAY_HISTOGRAM_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            return fogpay_histogram_bound(i);
        }
    }
    return UINT64_MAX;
}

void fogpay_histogram_window_record(fogpay_histogram_window *w, uint64_t now_ms, uint64_t value)
{
    uint64_t number = now_ms / FOGPAY_METRICS_SLICE_MS + 1;
    size_t i = (size_t)(number % FOGPAY_METRICS_SLICES);
    if (w->slice_number[i] != number) {
        memset(&w->slices[i], 0, sizeof w->slices[i]);
        w->slice_number[i] = number;
    }
    fogpay_histogram_record(&w->slices[i], value);
}

void fogpay_histogram_window_sum(const fogpay_histogram_window *w, uint64_t now_ms,
                                 fogpay_histogram *out)
{
    uint64_t number = now_ms / FOGPAY_METRICS_SLICE_MS + 1;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < FOGPAY_METRICS_SLICES; i++) {
        if (w->slice_number[i] == 0 || w->slice_number[i] + FOGPAY_METRICS_SLICES <= number) {
            continue; /* unused, or older than the minute */
        }
        for (size_t b = 0; b < FOGPAY_HISTOGRAM_BUCKETS; b++) {
            out->counts[b] += w->slices[i].counts[b];
        }
        out->count += w->slices[i].count;
        out->sum += w->slices[i].sum;
    }
}
