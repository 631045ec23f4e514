/*
 * fogpay_password.c - device secret verifiers (salted SHA-256) and
 * PBKDF2-HMAC-SHA256 password hashes through wolfSSL.
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
#define DEVICE_PREFIX "sha256$"
#define SALT_HEX      (2 * SALT_BYTES)
#define DERIVED_HEX   (2 * DERIVED_BYTES)

static fogpay_error random_bytes(uint8_t *out, size_t len)
{
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    int rc = wc_RNG_GenerateBlock(&rng, out, (word32)len);
    wc_FreeRng(&rng);
    return rc == 0 ? FOGPAY_OK : FOGPAY_ERR_CRYPTO;
}

fogpay_error fogpay_random_bytes(uint8_t *out, size_t len)
{
    return random_bytes(out, len);
}

static fogpay_error derive(const char *password, size_t len, const uint8_t *salt,
                           uint32_t iterations, uint8_t out[DERIVED_BYTES])
{
    if (wc_PBKDF2(out, (const byte *)password, (int)len, salt, SALT_BYTES, (int)iterations,
                  DERIVED_BYTES, WC_SHA256) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    return FOGPAY_OK;
}

/* The device scheme: SHA-256(salt || secret). */
static fogpay_error digest(const char *secret, size_t len, const uint8_t *salt,
                           uint8_t out[DERIVED_BYTES])
{
    return fogpay_sha256_pair(salt, SALT_BYTES, (const uint8_t *)secret, len, out);
}

/* "<prefix><salt hex>$<derived hex>" after an optional "<iterations>$". */
static void format_verifier(const char *prefix, uint32_t iterations, const uint8_t *salt,
                            const uint8_t *derived, char *out, size_t cap)
{
    char salt_hex[SALT_HEX + 1], derived_hex[DERIVED_HEX + 1];
    fogpay_hex_encode(salt, SALT_BYTES, salt_hex);
    fogpay_hex_encode(derived, DERIVED_BYTES, derived_hex);
    if (iterations > 0) {
        snprintf(out, cap, "%s%u$%s$%s", prefix, iterations, salt_hex, derived_hex);
    } else {
        snprintf(out, cap, "%s%s$%s", prefix, salt_hex, derived_hex);
    }
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
    uint8_t salt[SALT_BYTES], derived[DERIVED_BYTES];
    fogpay_error err = random_bytes(salt, sizeof salt);
    if (err == FOGPAY_OK) {
        err = derive(password, len, salt, iterations, derived);
    }
    if (err == FOGPAY_OK) {
        format_verifier(PREFIX, iterations, salt, derived, out, cap);
    }
    return err;
}

fogpay_error fogpay_device_secret_check(const char *secret, size_t len)
{
    if (!secret || len < FOGPAY_DEVICE_SECRET_MIN || len > FOGPAY_PASSWORD_MAX) {
        return FOGPAY_ERR_SECRET_WEAK;
    }
    bool seen[256] = {false};
    int distinct = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)secret[i];
        distinct += !seen[c];
        seen[c] = true;
    }
    return distinct >= FOGPAY_DEVICE_SECRET_DISTINCT_MIN ? FOGPAY_OK : FOGPAY_ERR_SECRET_WEAK;
}

fogpay_error fogpay_device_secret_verifier(const char *secret, size_t len, char *out, size_t cap)
{
    if (!out || cap < FOGPAY_PASSWORD_HASH_TEXT_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = fogpay_device_secret_check(secret, len);
    uint8_t salt[SALT_BYTES], derived[DERIVED_BYTES];
    if (err == FOGPAY_OK) {
        err = random_bytes(salt, sizeof salt);
    }
    if (err == FOGPAY_OK) {
        err = digest(secret, len, salt, derived);
    }
    if (err == FOGPAY_OK) {
        format_verifier(DEVICE_PREFIX, 0, salt, derived, out, cap);
    }
    return err;
}

fogpay_error fogpay_device_secret_generate(char out[FOGPAY_DEVICE_SECRET_TEXT_SIZE])
{
    uint8_t bytes[FOGPAY_DEVICE_SECRET_BYTES];
    fogpay_error err = random_bytes(bytes, sizeof bytes);
    if (err == FOGPAY_OK) {
        fogpay_hex_encode(bytes, sizeof bytes, out);
    }
    return err;
}

/* A parsed verifier: iterations 0 for the device scheme. */
typedef struct verifier {
    uint32_t iterations;
    uint8_t salt[SALT_BYTES];
    uint8_t expected[DERIVED_BYTES];
} verifier;

/* Reads "<salt hex>$<derived hex>" (the whole rest of the text). */
static fogpay_error parse_salt_and_derived(const char *p, verifier *v)
{
    char salt_hex[SALT_HEX + 1];
    if (strlen(p) != SALT_HEX + 1 + DERIVED_HEX || p[SALT_HEX] != '$') {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    memcpy(salt_hex, p, SALT_HEX);
    salt_hex[SALT_HEX] = '\0';
    if (fogpay_hex_decode(salt_hex, v->salt, SALT_BYTES) != FOGPAY_OK ||
        fogpay_hex_decode(p + SALT_HEX + 1, v->expected, DERIVED_BYTES) != FOGPAY_OK) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* Splits stored into its scheme's fields; FOGPAY_ERR_FIELD_RANGE when it is
 * a verifier of neither scheme. */
static fogpay_error parse(const char *stored, verifier *v)
{
    if (strncmp(stored, DEVICE_PREFIX, strlen(DEVICE_PREFIX)) == 0) {
        v->iterations = 0;
        return parse_salt_and_derived(stored + strlen(DEVICE_PREFIX), v);
    }
    if (strncmp(stored, PREFIX, strlen(PREFIX)) != 0) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    const char *p = stored + strlen(PREFIX);
    char *end;
    unsigned long n = strtoul(p, &end, 10);
    if (end == p || *end != '$' || n < FOGPAY_PASSWORD_ITERATIONS_MIN ||
        n > FOGPAY_PASSWORD_ITERATIONS_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    v->iterations = (uint32_t)n;
    return parse_salt_and_derived(end + 1, v);
}

fogpay_error fogpay_password_hash_parse(const char *stored)
{
    verifier v;
    if (!stored) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return parse(stored, &v);
}

bool fogpay_password_is_device_verifier(const char *stored)
{
    return stored && strncmp(stored, DEVICE_PREFIX, strlen(DEVICE_PREFIX)) == 0;
}

fogpay_error fogpay_password_check(const char *password, size_t len, const char *stored)
{
    if (!password || !stored) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (len > FOGPAY_PASSWORD_MAX) {
        return FOGPAY_ERR_NOT_AUTHORISED;
    }
    verifier v;
    uint8_t derived[DERIVED_BYTES];
    fogpay_error err = parse(stored, &v);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = v.iterations == 0 ? digest(password, len, v.salt, derived)
                            : derive(password, len, v.salt, v.iterations, derived);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint8_t diff = 0;
    for (size_t i = 0; i < DERIVED_BYTES; i++) {
        diff |= (uint8_t)(derived[i] ^ v.expected[i]);
    }
    return diff == 0 ? FOGPAY_OK : FOGPAY_ERR_NOT_AUTHORISED;
}
