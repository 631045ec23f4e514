/*
 * fuzz_note_delivery.c - libFuzzer target for fogpay_note_delivery_decode(),
 * which the agent runs on every note the gateway hands it on its note
 * topic.
 *
 * Any input is either refused with an error of the malformed-input group,
 * or decoded into two byte strings that fit their bounds; what decodes
 * re-encodes byte for byte with fogpay_note_delivery_encode(). A mismatch
 * aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fogpay_held_note decoded;
    fogpay_error err = fogpay_note_delivery_decode(data, size, &decoded);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    if (decoded.note_len == 0 || decoded.note_len > FOGPAY_NOTE_SIGNED_MAX ||
        decoded.custody_len == 0 || decoded.custody_len > FOGPAY_CUSTODY_SIGNED_MAX) {
        abort();
    }
    static uint8_t encoded[FOGPAY_NOTE_LINE_MAX];
    size_t len = 0;
    err = fogpay_note_delivery_encode(&decoded, encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK || len != size || memcmp(encoded, data, size) != 0) {
        abort();
    }
    return 0;
}
