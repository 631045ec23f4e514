/*
 * fogpay_hash.h - SHA-256, the one hash of fogpay (chains, intent links,
 * key ids), through wolfSSL.
 */
#ifndef FOGPAY_HASH_H
#define FOGPAY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_limits.h"

/* out receives FOGPAY_HASH_BYTES bytes. */
fogpay_error fogpay_sha256(const uint8_t *data, size_t len, uint8_t out[FOGPAY_HASH_BYTES]);

/* SHA-256 of a || b: a chain step, hash(previous hash || record). */
fogpay_error fogpay_sha256_pair(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                                uint8_t out[FOGPAY_HASH_BYTES]);

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void fogpay_hex_encode(const uint8_t *data, size_t len, char *out);

/* Decodes exactly out_len bytes from hex (either case); FOGPAY_ERR_FIELD_RANGE
 * for a wrong length, FOGPAY_ERR_TEXT_INVALID for a non-hex character. */
fogpay_error fogpay_hex_decode(const char *hex, uint8_t *out, size_t out_len);

#endif
