/*
 * fogpay_password.h - stored verifiers of device secrets and operator
 * passwords. Neither is ever stored; the ledger and the operators file keep
 * a verifier whose text names its scheme:
 *
 *   "sha256$<salt hex>$<digest hex>"  a device secret: SHA-256 of a random
 *       16-byte salt followed by the secret. Device secrets are generated,
 *       high-entropy values (fogpay_device_secret_generate: 256 bits), so a
 *       slow hash would protect nothing and would cost the broker's one
 *       thread milliseconds at every login; one SHA-256 costs about a
 *       microsecond. Registration refuses a device secret shorter than
 *       FOGPAY_DEVICE_SECRET_MIN characters or made of fewer than
 *       FOGPAY_DEVICE_SECRET_DISTINCT_MIN different ones
 *       (FOGPAY_ERR_SECRET_WEAK): the stated minimum is 128 bits, the
 *       length of a 128-bit value in hex.
 *   "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"  a human's password
 *       (operators): PBKDF2-HMAC-SHA256 (RFC 8018), 16-byte salt, 32-byte
 *       output. Device verifiers of this scheme, stored before device
 *       secrets had a fast scheme, still verify at their cost; they are left
 *       as they are, since the secret behind one was never checked for
 *       entropy and a fast verifier of a weak secret would be easy to guess
 *       from a copy of the ledger.
 *
 * Checking reads the scheme from the stored text and compares in constant
 * time. Nothing here allocates.
 */
#ifndef FOGPAY_PASSWORD_H
#define FOGPAY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"

/* Iterations for new PBKDF2 hashes; stored in each hash, so raising it later
 * keeps old hashes valid. */
#define FOGPAY_PASSWORD_ITERATIONS 10000u
/* Stored hashes with fewer or more iterations are refused as malformed. */
#define FOGPAY_PASSWORD_ITERATIONS_MIN 1000u
#define FOGPAY_PASSWORD_ITERATIONS_MAX 10000000u
/* Longest password accepted; MQTT allows 65535 bytes, nobody needs them. */
#define FOGPAY_PASSWORD_MAX 256
/* "pbkdf2-sha256$" + iterations + "$" + 32 hex + "$" + 64 hex + NUL. */
#define FOGPAY_PASSWORD_HASH_TEXT_MAX 160
/* A device secret: at least this many characters, of at least this many
 * different ones (128 bits as hex). */
#define FOGPAY_DEVICE_SECRET_MIN          32
#define FOGPAY_DEVICE_SECRET_DISTINCT_MIN 8
/* fogpay_device_secret_generate: 32 random bytes as 64 hex characters. */
#define FOGPAY_DEVICE_SECRET_BYTES     32
#define FOGPAY_DEVICE_SECRET_TEXT_SIZE (2 * FOGPAY_DEVICE_SECRET_BYTES + 1)

/* Hashes password (len bytes) with PBKDF2 and a fresh salt into out (at
 * least FOGPAY_PASSWORD_HASH_TEXT_MAX bytes). iterations 0 means the
 * default. For operators' passwords. */
fogpay_error fogpay_password_hash(const char *password, size_t len, uint32_t iterations, char *out,
                                  size_t cap);

/* FOGPAY_OK when secret (len bytes) is long and varied enough for a device
 * (see above), FOGPAY_ERR_SECRET_WEAK when not. */
fogpay_error fogpay_device_secret_check(const char *secret, size_t len);

/* The fast verifier of a device secret with a fresh salt into out (at least
 * FOGPAY_PASSWORD_HASH_TEXT_MAX bytes); FOGPAY_ERR_SECRET_WEAK for a secret
 * that fogpay_device_secret_check refuses. */
fogpay_error fogpay_device_secret_verifier(const char *secret, size_t len, char *out, size_t cap);

/* A fresh random device secret into out (FOGPAY_DEVICE_SECRET_TEXT_SIZE
 * bytes, NUL-terminated). */
fogpay_error fogpay_device_secret_generate(char out[FOGPAY_DEVICE_SECRET_TEXT_SIZE]);

/* len bytes from the system's random generator (wolfSSL's DRBG) into
 * out: salts, device secrets, note serials. FOGPAY_ERR_CRYPTO on failure. */
fogpay_error fogpay_random_bytes(uint8_t *out, size_t len);

/* FOGPAY_OK when password matches stored (either scheme),
 * FOGPAY_ERR_NOT_AUTHORISED when it does not, FOGPAY_ERR_FIELD_RANGE when
 * stored is not a verifier of a known scheme. */
fogpay_error fogpay_password_check(const char *password, size_t len, const char *stored);

/* FOGPAY_OK when stored has the form of a verifier of either scheme (prefix,
 * iteration count in range, salt and digest in hex), FOGPAY_ERR_FIELD_RANGE
 * when not; derives nothing, so it costs no PBKDF2 run. */
fogpay_error fogpay_password_hash_parse(const char *stored);

/* True when stored names the fast device scheme ("sha256$"). */
bool fogpay_password_is_device_verifier(const char *stored);

#endif
