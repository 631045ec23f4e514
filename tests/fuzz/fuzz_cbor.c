/*
 * fuzz_cbor.c - libFuzzer target for the CBOR walk: fogpay_cbor_diagnose()
 * into a fixed buffer, and fogpay_cbor_skip() in strict and generic mode.
 *
 * Properties: nothing reads or writes out of bounds (the sanitizers' part);
 * diagnostic output is always NUL-terminated inside its buffer; the
 * diagnosis and the generic skip walk the same way, so they fail with the
 * same error, and when the skip succeeds the diagnosis reports only
 * trailing bytes or a full buffer, if anything; whatever the strict reader
 * skips, the generic reader skips to the same position. A broken property
 * aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_diag.h"
#include "fogpay_cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that long inputs overflow it, so both outcomes are reached. */
#define DIAGNOSTIC_CAP 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[DIAGNOSTIC_CAP];
    fogpay_error diag_err = fogpay_cbor_diagnose(data, size, text, sizeof text);
    if (memchr(text, '\0', sizeof text) == NULL) {
        abort();
    }

    fogpay_cbor_reader generic;
    fogpay_cbor_reader_init_generic(&generic, data, size);
    fogpay_error generic_err = fogpay_cbor_skip(&generic);
    if (generic.pos > size) {
        abort();
    }
    if (generic_err != FOGPAY_OK) {
        if (diag_err != generic_err) {
            abort();
        }
    } else if (fogpay_cbor_reader_done(&generic)) {
        if (diag_err != FOGPAY_OK && diag_err != FOGPAY_ERR_BUFFER_TOO_SMALL) {
            abort();
        }
    } else if (diag_err != FOGPAY_ERR_CBOR_TRAILING && diag_err != FOGPAY_ERR_BUFFER_TOO_SMALL) {
        abort();
    }

    fogpay_cbor_reader strict;
    fogpay_cbor_reader_init(&strict, data, size);
    fogpay_error strict_err = fogpay_cbor_skip(&strict);
    if (strict.pos > size) {
        abort();
    }
    if (strict_err == FOGPAY_OK && (generic_err != FOGPAY_OK || strict.pos != generic.pos)) {
        abort();
    }
    return 0;
}
