/*
 * fuzz_usage.c - libFuzzer target for fogpay_usage_decode() and
 * fogpay_message_peek_seq(), which the gateway runs on every usage a device
 * publishes.
 *
 * The check is fuzz_device_message() (device_message_check.h): refused with
 * a reason, or re-encoded byte for byte with fogpay_usage_encode() and the
 * same seq peeked.
 */
#include <stddef.h>
#include <stdint.h>

#include "device_message_check.h"
#include "fogpay_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fogpay_error roundtrip(const uint8_t *data, size_t size, uint64_t *seq, uint8_t *out,
                              size_t cap, size_t *len)
{
    fogpay_usage decoded;
    fogpay_error err = fogpay_usage_decode(data, size, &decoded);
    if (err != FOGPAY_OK) {
        return err;
    }
    *seq = decoded.seq;
    if (fogpay_usage_encode(&decoded, out, cap, len) != FOGPAY_OK) {
        *len = 0;
    }
    return FOGPAY_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_device_message(data, size, roundtrip);
}
