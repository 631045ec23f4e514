/*
 * device_message_check.c - the check shared by the libFuzzer targets of a
 * device's signed messages with a seq (device_message_check.h).
 */
#include "device_message_check.h"

#include <stdlib.h>
#include <string.h>

#include "fogpay_message.h"

int fuzz_device_message(const uint8_t *data, size_t size, fuzz_device_roundtrip roundtrip)
{
    uint64_t peeked = 0;
    fogpay_error peek_err = fogpay_message_peek_seq(data, size, &peeked);
    if (peek_err != FOGPAY_OK && peek_err != FOGPAY_ERR_NOT_FOUND) {
        abort();
    }
    uint64_t seq = 0;
    uint8_t encoded[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    fogpay_error err = roundtrip(data, size, &seq, encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    if (peek_err != FOGPAY_OK || peeked != seq) {
        abort();
    }
    if (len != size || memcmp(encoded, data, size) != 0) {
        abort();
    }
    return 0;
}
