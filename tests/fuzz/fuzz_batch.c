/*
 * fuzz_batch.c - libFuzzer target for reading upstream batches:
 * fogpay_batch_open() and then fogpay_batch_next() (or, for a batch of
 * events, fogpay_batch_next_event()) until it reports the end.
 *
 * Any input is either refused with an error of the malformed-input or
 * policy group, or read whole. Every record read re-encodes to exactly the
 * bytes the reader returned for it (the bytes the chain hashes), and a batch
 * read whole is written again by fogpay_batch_begin(), fogpay_batch_add()
 * (or fogpay_batch_add_event()) and fogpay_batch_finish() byte for byte. A mismatch aborts, which
 * libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The records of one input, and the batch written again from them; static
 * because a full batch is larger than a fuzzer's stack should be. */
static fogpay_transfer records[FOGPAY_BATCH_RECORDS_MAX];
static fogpay_event events[FOGPAY_BATCH_RECORDS_MAX];
static uint8_t rewritten[FOGPAY_BATCH_BYTES_MAX];

static void check_record(const fogpay_batch_header *h, uint32_t i, fogpay_bytes record_cbor)
{
    uint8_t encoded[FOGPAY_RECORD_BYTES_MAX];
    size_t len = 0;
    fogpay_error err = h->stream == FOGPAY_STREAM_EVENTS
                           ? fogpay_event_encode(&events[i], encoded, sizeof encoded, &len)
                           : fogpay_transfer_encode(&records[i], encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK || len != record_cbor.len || memcmp(encoded, record_cbor.ptr, len) != 0) {
        abort();
    }
}

static void check_rewrite(const fogpay_batch_header *h, const uint8_t *data, size_t size)
{
    fogpay_batch_writer bw;
    if (fogpay_batch_begin(&bw, h, rewritten, sizeof rewritten) != FOGPAY_OK) {
        abort();
    }
    for (uint32_t i = 0; i < h->record_count; i++) {
        fogpay_error err = h->stream == FOGPAY_STREAM_EVENTS
                               ? fogpay_batch_add_event(&bw, &events[i])
                               : fogpay_batch_add(&bw, &records[i]);
        if (err != FOGPAY_OK) {
            abort();
        }
    }
    size_t len = 0;
    if (fogpay_batch_finish(&bw, &len) != FOGPAY_OK || len != size ||
        memcmp(rewritten, data, size) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fogpay_batch_reader br;
    fogpay_batch_header h;
    fogpay_error err = fogpay_batch_open(&br, data, size, &h);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    if (h.record_count == 0 || h.record_count > FOGPAY_BATCH_RECORDS_MAX) {
        abort();
    }
    /* One call per record and one more for the end: a bounded loop. */
    for (uint32_t i = 0; i <= h.record_count; i++) {
        fogpay_bytes record_cbor = {NULL, 0};
        uint32_t slot = i < FOGPAY_BATCH_RECORDS_MAX ? i : 0;
        err = h.stream == FOGPAY_STREAM_EVENTS
                  ? fogpay_batch_next_event(&br, &events[slot], &record_cbor)
                  : fogpay_batch_next(&br, &records[slot], &record_cbor);
        if (err == FOGPAY_ERR_NOT_FOUND) {
            if (i != h.record_count) {
                abort();
            }
            check_rewrite(&h, data, size);
            return 0;
        }
        if (err != FOGPAY_OK) {
            if (!fogpay_error_is_reason(err)) {
                abort();
            }
            return 0;
        }
        if (i == h.record_count || record_cbor.ptr < data ||
            record_cbor.ptr + record_cbor.len > data + size) {
            abort();
        }
        check_record(&h, i, record_cbor);
    }
    abort(); /* the reader never reported the end */
}
