/*
 * fuzz_custody.c - libFuzzer target for fogpay_custody_decode() and
 * fogpay_custody_open(), which a gateway runs on every custody entry of a
 * note paid to it.
 *
 * The input is tried as an entry's payload and as a whole signed entry. A
 * payload is refused with an error of the malformed-input or policy group
 * (fogpay_error_is_reason()) or decoded, and what decodes re-encodes byte
 * for byte. A signed entry is opened as the step of a holder (the Ed25519
 * key of RFC 8032's first test vector) after a link of zeros: it is
 * refused with a reason, never with another error. A mismatch aborts,
 * which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8032, section 7.1, TEST 1: a valid Ed25519 public key. */
#define HOLDER_KEY "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static const fogpay_key *holder(void)
{
    static fogpay_key *key;
    if (key == NULL && fogpay_key_from_public_text(HOLDER_KEY, &key) != FOGPAY_OK) {
        abort();
    }
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fogpay_custody decoded;
    fogpay_error err = fogpay_custody_decode(data, size, &decoded);
    if (err != FOGPAY_OK && !fogpay_error_is_reason(err)) {
        abort();
    }
    if (err == FOGPAY_OK) {
        uint8_t encoded[FOGPAY_MESSAGE_MAX];
        size_t len = 0;
        err = fogpay_custody_encode(&decoded, encoded, sizeof encoded, &len);
        if (err != FOGPAY_OK || len != size || memcmp(encoded, data, size) != 0) {
            abort();
        }
    }
    static const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    static const uint8_t link[FOGPAY_HASH_BYTES];
    fogpay_custody opened;
    err = fogpay_custody_open(data, size, holder(), serial, link, &opened);
    if (err != FOGPAY_OK && !fogpay_error_is_reason(err)) {
        abort();
    }
    return 0;
}
