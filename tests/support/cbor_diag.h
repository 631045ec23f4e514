/*
 * cbor_diag.h - CBOR diagnostic notation (RFC 8949 section 8) for the tests.
 */
#ifndef FOGPAY_TEST_CBOR_DIAG_H
#define FOGPAY_TEST_CBOR_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_cbor.h"

/* Checks that [ptr, ptr+len) is exactly one well-formed item (generic
 * rules) and writes its diagnostic notation into out, NUL-terminated. */
fogpay_error fogpay_cbor_diagnose(const uint8_t *ptr, size_t len, char *out, size_t out_cap);

#endif
