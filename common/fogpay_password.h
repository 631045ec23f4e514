/*
 * fogpay_password.h - salted slow hashes of device and operator passwords.
 *
 * Passwords are never stored: the ledger keeps
 * "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>", PBKDF2-HMAC-SHA256
 * (RFC 8018) with a random 16-byte salt and a 32-byte output. Checking
 * compares in constant time. The check runs on the broker's one thread at
 * each connection, so the default iteration count is a compromise: about
 * 5 ms per login here, a hundred times Mosquitto's own password file, while
 * the second factor (the device's signing key) never leaves the device.
 */
#ifndef FOGPAY_PASSWORD_H
#define FOGPAY_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"

/* Iterations for new hashes; stored in each hash, so raising it later keeps
 * old hashes valid. */
#define FOGPAY_PASSWORD_ITERATIONS 10000u
/* Stored hashes with fewer or more iterations are refused as malformed. */
#define FOGPAY_PASSWORD_ITERATIONS_MIN 1000u
#define FOGPAY_PASSWORD_ITERATIONS_MAX 10000000u
/* Longest password accepted; MQTT allows 65535 bytes, nobody needs them. */
#define FOGPAY_PASSWORD_MAX 256
/* "pbkdf2-sha256$" + iterations + "$" + 32 hex + "$" + 64 hex + NUL. */
#define FOGPAY_PASSWORD_HASH_TEXT_MAX 160

/* Hashes password (len bytes) with a fresh salt into out (at least
 * FOGPAY_PASSWORD_HASH_TEXT_MAX bytes). iterations 0 means the default. */
fogpay_error fogpay_password_hash(const char *password, size_t len, uint32_t iterations, char *out,
                                  size_t cap);

/* FOGPAY_OK when password matches stored, FOGPAY_ERR_NOT_AUTHORISED when it
 * does not, FOGPAY_ERR_FIELD_RANGE when stored is not a hash of this form. */
fogpay_error fogpay_password_check(const char *password, size_t len, const char *stored);

/* FOGPAY_OK when stored has the form of a hash (prefix, iteration count in
 * range, salt and derived key in hex), FOGPAY_ERR_FIELD_RANGE when not;
 * derives nothing, so it costs no PBKDF2 run. */
fogpay_error fogpay_password_hash_parse(const char *stored);

#endif
