/*
 * fuzz_event.c - libFuzzer target for fogpay_event_decode().
 *
 * Any input is either refused with an error of the malformed-input or
 * policy group (fogpay_error_is_reason(): bad bytes are never reported as
 * a storage or internal fault), or decoded; what decodes re-encodes byte
 * for byte with fogpay_event_encode(). A mismatch aborts, which libFuzzer
 * reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fogpay_event decoded;
    fogpay_error err = fogpay_event_decode(data, size, &decoded);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    uint8_t encoded[FOGPAY_RECORD_BYTES_MAX];
    size_t len = 0;
    err = fogpay_event_encode(&decoded, encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK || len != size || memcmp(encoded, data, size) != 0) {
        abort();
    }
    return 0;
}
