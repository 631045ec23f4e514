/*
 * fuzz_note.c - libFuzzer target for fogpay_note_decode() and
 * fogpay_note_open(), which a gateway runs on every note a device or an
 * operator hands it.
 *
 * The input is tried as a note's payload and as a whole signed note. A
 * payload is refused with an error of the malformed-input or policy group
 * (fogpay_error_is_reason()) or decoded, and what decodes re-encodes byte
 * for byte. A signed note is opened against a set of one issuer key (the
 * Ed25519 key of RFC 8032's first test vector): it is refused with a
 * reason, never with another error. A mismatch aborts, which libFuzzer reports as a
 * crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8032, section 7.1, TEST 1: a valid Ed25519 public key. */
#define ISSUER_KEY "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static const fogpay_note_issuers *issuers(void)
{
    static fogpay_note_issuers set;
    if (set.count == 0 && fogpay_note_issuers_add(&set, ISSUER_KEY, false) != FOGPAY_OK) {
        abort();
    }
    return &set;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fogpay_note decoded;
    fogpay_error err = fogpay_note_decode(data, size, &decoded);
    if (err != FOGPAY_OK && !fogpay_error_is_reason(err)) {
        abort();
    }
    if (err == FOGPAY_OK) {
        uint8_t encoded[FOGPAY_MESSAGE_MAX];
        size_t len = 0;
        err = fogpay_note_encode(&decoded, encoded, sizeof encoded, &len);
        if (err != FOGPAY_OK || len != size || memcmp(encoded, data, size) != 0) {
            abort();
        }
    }
    fogpay_note opened;
    err = fogpay_note_open(data, size, issuers(), 1764000000, &opened, NULL);
    if (err != FOGPAY_OK && !fogpay_error_is_reason(err)) {
        abort();
    }
    return 0;
}
