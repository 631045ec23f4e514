/*
 * fogpay_key.h - signing keys of devices and gateways: generation, files,
 * and the public key as text for the registry.
 *
 * A key is EdDSA over Ed25519 (required everywhere) or ES256 over P-256
 * (accepted where hardware only has P-256). A fogpay_key is opaque and
 * heap-allocated; whoever obtained one frees it with fogpay_key_free(). The
 * wolfSSL objects inside are prepared once, so signing and verifying do no
 * key parsing on the hot path. A key is used by one thread at a time.
 *
 * Key files hold one line of text, "fogpay-key v1 <alg> <private hex>", and
 * are created with mode 0600; loading refuses a file that group or others may
 * read (FOGPAY_ERR_KEY_FILE). The public key as text is "<alg>:<hex>", for
 * example "ed25519:3d4017c3...", the form the gateway's register command
 * takes.
 */
#ifndef FOGPAY_KEY_H
#define FOGPAY_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "fogpay_error.h"
#include "fogpay_limits.h"

/* COSE algorithm identifiers (RFC 9053). */
typedef enum fogpay_alg {
    FOGPAY_ALG_EDDSA = -8,
    FOGPAY_ALG_ES256 = -7,
} fogpay_alg;

typedef struct fogpay_key fogpay_key;

/* Longest public key text: "ed25519:" or "p256:" plus hex of 65 bytes. */
#define FOGPAY_PUBLIC_KEY_TEXT_MAX (8 + 2 * FOGPAY_PUBLIC_KEY_MAX + 1)

/* A new random key pair. *out is the caller's to free. */
fogpay_error fogpay_key_generate(fogpay_alg alg, fogpay_key **out);

/* A verify-only key from its public bytes (32 for Ed25519, 65 for P-256
 * uncompressed). FOGPAY_ERR_CRYPTO for bytes that are not a valid point. */
fogpay_error fogpay_key_from_public(fogpay_alg alg, const uint8_t *pub, size_t pub_len,
                                    fogpay_key **out);

/* A verify-only key from "<alg>:<hex>". */
fogpay_error fogpay_key_from_public_text(const char *text, fogpay_key **out);

/* Loads a private key file; FOGPAY_ERR_KEY_FILE if missing, malformed, or
 * readable by group or others. */
fogpay_error fogpay_key_load(const char *path, fogpay_key **out);

/* Writes the private key to path, created exclusively with mode 0600 unless
 * overwrite is true, then fsyncs it. */
fogpay_error fogpay_key_save(const fogpay_key *key, const char *path, bool overwrite);

/* Puts the key file from in to's place with one rename, then fsyncs to's
 * directory, so that after a crash the path holds the old key or the new,
 * never neither: how a device and a gateway switch to a rotated key.
 * FOGPAY_ERR_IO when the rename or the fsync fails. */
fogpay_error fogpay_key_file_replace(const char *from, const char *to);

/* A new key pair written to path (created exclusively, mode 0600, fsynced)
 * and its public text "<alg>:<hex>" into public_text (cap bytes, at least
 * FOGPAY_PUBLIC_KEY_TEXT_MAX): what every tool's keygen does. */
fogpay_error fogpay_key_create_file(fogpay_alg alg, const char *path, char *public_text,
                                    size_t cap);
/* "ed25519" or "p256" to its algorithm; false for any other name. */
bool fogpay_alg_from_name(const char *name, fogpay_alg *out);
void fogpay_key_free(fogpay_key *key);
/* Frees what the crypto library keeps for the calling thread (wolfSSL's
 * P-256 fixed-point cache, when it is built with one). A thread that used
 * keys and ends before the process does calls it last. */
void fogpay_key_thread_done(void);

fogpay_alg fogpay_key_alg(const fogpay_key *key);
bool fogpay_key_has_private(const fogpay_key *key);

/* The public key bytes; *len receives their count. */
fogpay_error fogpay_key_public(const fogpay_key *key, uint8_t *out, size_t cap, size_t *len);

/* "<alg>:<hex>" into out (at least FOGPAY_PUBLIC_KEY_TEXT_MAX bytes). */
fogpay_error fogpay_key_public_text(const fogpay_key *key, char *out, size_t cap);

/* The key id: the first 8 bytes of SHA-256 of the public key bytes. */
#define FOGPAY_KID_BYTES 8
fogpay_error fogpay_key_id(const fogpay_key *key, uint8_t out[FOGPAY_KID_BYTES]);

/* One key of a gateway's key history: it signed receipts, commands and
 * batches from from_ms until until_ms, when the next one took over (0 while
 * it is the active key). The gateway's ledger keeps the history; an agent
 * keeps the keys it was told of. */
typedef struct fogpay_gateway_key {
    uint8_t kid[FOGPAY_KID_BYTES];
    int alg; /* fogpay_alg */
    uint8_t public_key[FOGPAY_PUBLIC_KEY_MAX];
    size_t public_key_len;
    uint64_t from_ms;
    uint64_t until_ms;
} fogpay_gateway_key;

/* Whether a message the key signed, dated time_s (receipts and commands
 * carry seconds), lies within the key's validity, to the second: FOGPAY_OK,
 * or FOGPAY_ERR_KEY_REVOKED. */
fogpay_error fogpay_gateway_key_valid_at(const fogpay_gateway_key *k, uint64_t time_s);

/* Raw signature over msg (64 bytes: Ed25519, or ES256 r||s over SHA-256). */
fogpay_error fogpay_key_sign(const fogpay_key *key, const uint8_t *msg, size_t msg_len,
                             uint8_t sig[FOGPAY_SIGNATURE_BYTES]);

/* FOGPAY_OK for a good signature, FOGPAY_ERR_BAD_SIGNATURE otherwise. */
fogpay_error fogpay_key_verify(const fogpay_key *key, const uint8_t *msg, size_t msg_len,
                               const uint8_t *sig, size_t sig_len);

#endif
