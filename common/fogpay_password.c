/*
 * fogpay_password.c - PBKDF2-HMAC-SHA256 password hashes through wolfSSL.
 */
#include "fogpay_password.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/random.h>

#include "fogpay_hash.h"

#define SALT_BYTES    16
#define DERIVED_BYTES 32
#define PREFIX        "pbkdf2-sha256$"

static fogpay_error derive(const char *password, size_t len, const uint8_t *salt,
                           uint32_t iterations, uint8_t out[DERIVED_BYTES])
{
    if (wc_PBKDF2(out, (const byte *)password, (int)len, salt, SALT_BYTES, (int)iterations,
                  DERIVED_BYTES, WC_SHA256) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_password_hash(const char *password, size_t len, uint32_t iterations, char *out,
                                  size_t cap)
{
    if (!password || !out || len > FOGPAY_PASSWORD_MAX || cap < FOGPAY_PASSWORD_HASH_TEXT_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (iterations == 0) {
        iterations = FOGPAY_PASSWORD_ITERATIONS;
    }
    if (iterations < FOGPAY_PASSWORD_ITERATIONS_MIN ||
        iterations > FOGPAY_PASSWORD_ITERATIONS_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint8_t salt[SALT_BYTES];
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    int rc = wc_RNG_GenerateBlock(&rng, salt, sizeof salt);
    wc_FreeRng(&rng);
    if (rc != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    uint8_t derived[DERIVED_BYTES];
    fogpay_error err = derive(password, len, salt, iterations, derived);
    if (err != FOGPAY_OK) {
        return err;
    }
    char salt_hex[2 * SALT_BYTES + 1], derived_hex[2 * DERIVED_BYTES + 1];
    fogpay_hex_encode(salt, sizeof salt, salt_hex);
    fogpay_hex_encode(derived, sizeof derived, derived_hex);
    snprintf(out, cap, PREFIX "%u$%s$%s", iterations, salt_hex, derived_hex);
    return FOGPAY_OK;
}

/* Splits stored into its iteration count, salt and derived key;
 * FOGPAY_ERR_FIELD_RANGE when it is not a hash of this form. */
static fogpay_error parse(const char *stored, uint32_t *iterations, uint8_t salt[SALT_BYTES],
                          uint8_t expected[DERIVED_BYTES])
{
    size_t prefix_len = strlen(PREFIX);
    if (strncmp(stored, PREFIX, prefix_len) != 0) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    const char *p = stored + prefix_len;
    char *end;
    unsigned long n = strtoul(p, &end, 10);
    if (end == p || *end != '$' || n < FOGPAY_PASSWORD_ITERATIONS_MIN ||
        n > FOGPAY_PASSWORD_ITERATIONS_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    char salt_hex[2 * SALT_BYTES + 1];
    const char *salt_start = end + 1;
    if (strlen(salt_start) != 2 * SALT_BYTES + 1 + 2 * DERIVED_BYTES ||
        salt_start[2 * SALT_BYTES] != '$') {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    memcpy(salt_hex, salt_start, 2 * SALT_BYTES);
    salt_hex[2 * SALT_BYTES] = '\0';
    if (fogpay_hex_decode(salt_hex, salt, SALT_BYTES) != FOGPAY_OK ||
        fogpay_hex_decode(salt_start + 2 * SALT_BYTES + 1, expected, DERIVED_BYTES) != FOGPAY_OK) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    *iterations = (uint32_t)n;
    return FOGPAY_OK;
}

fogpay_error fogpay_password_hash_parse(const char *stored)
{
    uint32_t iterations;
    uint8_t salt[SALT_BYTES], expected[DERIVED_BYTES];
    if (!stored) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return parse(stored, &iterations, salt, expected);
}

fogpay_error fogpay_password_check(const char *password, size_t len, const char *stored)
{
    if (!password || !stored) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (len > FOGPAY_PASSWORD_MAX) {
        return FOGPAY_ERR_NOT_AUTHORISED;
    }
    uint32_t iterations;
    uint8_t salt[SALT_BYTES], expected[DERIVED_BYTES], derived[DERIVED_BYTES];
    fogpay_error err = parse(stored, &iterations, salt, expected);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = derive(password, len, salt, iterations, derived);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint8_t diff = 0;
    for (size_t i = 0; i < DERIVED_BYTES; i++) {
        diff |= (uint8_t)(derived[i] ^ expected[i]);
    }
    return diff == 0 ? FOGPAY_OK : FOGPAY_ERR_NOT_AUTHORISED;
}
