/*
 * fuzz_note_payment.c - libFuzzer target for fogpay_note_payment_decode()
 * and fogpay_message_peek_seq(), which the gateway runs on every payment
 * with notes a device publishes.
 *
 * Any input is either refused with an error of the malformed-input or
 * policy group (fogpay_error_is_reason()), or decoded; what decodes
 * re-encodes byte for byte with fogpay_note_payment_encode(), and peeking
 * finds the same seq. A mismatch aborts, which libFuzzer reports as a
 * crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_message.h"
#include "fogpay_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t peeked = 0;
    fogpay_error peek_err = fogpay_message_peek_seq(data, size, &peeked);
    if (peek_err != FOGPAY_OK && peek_err != FOGPAY_ERR_NOT_FOUND) {
        abort();
    }
    fogpay_note_payment decoded;
    fogpay_error err = fogpay_note_payment_decode(data, size, &decoded);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    if (peek_err != FOGPAY_OK || peeked != decoded.seq) {
        abort();
    }
    uint8_t encoded[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    err = fogpay_note_payment_encode(&decoded, encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK || len != size || memcmp(encoded, data, size) != 0) {
        abort();
    }
    return 0;
}
