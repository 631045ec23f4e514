/*
 * fogpay_key.c - Ed25519 and P-256 keys through wolfSSL.
 *
 * A fogpay_key holds the prepared wolfSSL key, its public bytes, and for a
 * P-256 private key the random generator ECDSA needs, so the hot path does
 * no parsing. Signatures are always 64 raw bytes: Ed25519's own form, and
 * r||s for ES256 (COSE's form; wolfSSL speaks DER, converted here only).
 */
#include "fogpay_key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include "fogpay_hash.h"

#define ED25519_BYTES     32
#define P256_SCALAR_BYTES 32
#define P256_POINT_BYTES  65

/* "fogpay-key v1 ed25519 " + 64 hex digits + newline, with room to spare. */
#define KEY_FILE_MAX 256

struct fogpay_key {
    fogpay_alg alg;
    bool has_private;
    bool rng_ready;
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len;
    union {
        ed25519_key ed;
        ecc_key ecc;
    } k;
    WC_RNG rng;
};

static fogpay_key *key_new(fogpay_alg alg)
{
    fogpay_key *key = calloc(1, sizeof *key);
    if (!key) {
        return NULL;
    }
    key->alg = alg;
    int rc = alg == FOGPAY_ALG_EDDSA ? wc_ed25519_init(&key->k.ed) : wc_ecc_init(&key->k.ecc);
    if (rc != 0) {
        free(key);
        return NULL;
    }
    return key;
}

void fogpay_key_free(fogpay_key *key)
{
    if (!key) {
        return;
    }
    if (key->alg == FOGPAY_ALG_EDDSA) {
        wc_ed25519_free(&key->k.ed);
    } else {
        wc_ecc_free(&key->k.ecc);
    }
    if (key->rng_ready) {
        wc_FreeRng(&key->rng);
    }
    /* The private key must not linger in freed memory. */
    volatile uint8_t *p = (volatile uint8_t *)key;
    for (size_t i = 0; i < sizeof *key; i++) {
        p[i] = 0;
    }
    free(key);
}

static fogpay_error key_fill_public(fogpay_key *key)
{
    word32 len = sizeof key->pub;
    int rc = key->alg == FOGPAY_ALG_EDDSA ? wc_ed25519_export_public(&key->k.ed, key->pub, &len)
                                          : wc_ecc_export_x963(&key->k.ecc, key->pub, &len);
    if (rc != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    key->pub_len = len;
    return FOGPAY_OK;
}

static fogpay_error key_start_rng(fogpay_key *key)
{
    if (wc_InitRng(&key->rng) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    key->rng_ready = true;
    if (key->alg == FOGPAY_ALG_ES256 && wc_ecc_set_rng(&key->k.ecc, &key->rng) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_key_generate(fogpay_alg alg, fogpay_key **out)
{
    if (!out || (alg != FOGPAY_ALG_EDDSA && alg != FOGPAY_ALG_ES256)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_key *key = key_new(alg);
    if (!key) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = key_start_rng(key);
    if (err == FOGPAY_OK) {
        int rc = alg == FOGPAY_ALG_EDDSA
                     ? wc_ed25519_make_key(&key->rng, ED25519_BYTES, &key->k.ed)
                     : wc_ecc_make_key_ex(&key->rng, P256_SCALAR_BYTES, &key->k.ecc, ECC_SECP256R1);
        err = rc == 0 ? key_fill_public(key) : FOGPAY_ERR_CRYPTO;
    }
    if (err != FOGPAY_OK) {
        fogpay_key_free(key);
        return err;
    }
    key->has_private = true;
    *out = key;
    return FOGPAY_OK;
}

fogpay_error fogpay_key_from_public(fogpay_alg alg, const uint8_t *pub, size_t pub_len,
                                    fogpay_key **out)
{
    if (!out || !pub) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    size_t want = alg == FOGPAY_ALG_EDDSA   ? ED25519_BYTES
                  : alg == FOGPAY_ALG_ES256 ? P256_POINT_BYTES
                                            : 0;
    if (want == 0 || pub_len != want) {
        return FOGPAY_ERR_CRYPTO;
    }
    fogpay_key *key = key_new(alg);
    if (!key) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    int rc;
    if (alg == FOGPAY_ALG_EDDSA) {
        rc = wc_ed25519_import_public(pub, (word32)pub_len, &key->k.ed);
    } else {
        rc = wc_ecc_import_x963_ex(pub, (word32)pub_len, &key->k.ecc, ECC_SECP256R1);
        if (rc == 0) {
            rc = wc_ecc_check_key(&key->k.ecc); /* the point is on the curve */
        }
    }
    if (rc != 0) {
        fogpay_key_free(key);
        return FOGPAY_ERR_CRYPTO;
    }
    memcpy(key->pub, pub, pub_len);
    key->pub_len = pub_len;
    *out = key;
    return FOGPAY_OK;
}

/* Parses "ed25519" or "p256". */
static bool alg_from_name(const char *name, size_t len, fogpay_alg *alg)
{
    if (len == 7 && memcmp(name, "ed25519", 7) == 0) {
        *alg = FOGPAY_ALG_EDDSA;
        return true;
    }
    if (len == 4 && memcmp(name, "p256", 4) == 0) {
        *alg = FOGPAY_ALG_ES256;
        return true;
    }
    return false;
}

static const char *alg_name(fogpay_alg alg)
{
    return alg == FOGPAY_ALG_EDDSA ? "ed25519" : "p256";
}

fogpay_error fogpay_key_from_public_text(const char *text, fogpay_key **out)
{
    if (!text || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    const char *colon = strchr(text, ':');
    fogpay_alg alg;
    if (!colon || !alg_from_name(text, (size_t)(colon - text), &alg)) {
        return FOGPAY_ERR_TEXT_INVALID;
    }
    uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t len = alg == FOGPAY_ALG_EDDSA ? ED25519_BYTES : P256_POINT_BYTES;
    fogpay_error err = fogpay_hex_decode(colon + 1, pub, len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return fogpay_key_from_public(alg, pub, len, out);
}

/* Builds a private key from its 32-byte secret. */
static fogpay_error key_from_private(fogpay_alg alg, const uint8_t secret[32], fogpay_key **out)
{
    fogpay_key *key = key_new(alg);
    if (!key) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    int rc;
    if (alg == FOGPAY_ALG_EDDSA) {
        uint8_t pub[ED25519_BYTES];
        rc = wc_ed25519_import_private_only(secret, ED25519_BYTES, &key->k.ed);
        if (rc == 0) {
            rc = wc_ed25519_make_public(&key->k.ed, pub, sizeof pub);
        }
        if (rc == 0) {
            rc = wc_ed25519_import_private_key(secret, ED25519_BYTES, pub, sizeof pub, &key->k.ed);
        }
    } else {
        rc = wc_ecc_import_private_key_ex(secret, P256_SCALAR_BYTES, NULL, 0, &key->k.ecc,
                                          ECC_SECP256R1);
        if (rc == 0) {
            rc = wc_ecc_make_pub(&key->k.ecc, NULL);
        }
    }
    fogpay_error err = rc == 0 ? key_fill_public(key) : FOGPAY_ERR_KEY_FILE;
    if (err == FOGPAY_OK) {
        err = key_start_rng(key);
    }
    if (err != FOGPAY_OK) {
        fogpay_key_free(key);
        return err;
    }
    key->has_private = true;
    *out = key;
    return FOGPAY_OK;
}

fogpay_error fogpay_key_load(const char *path, fogpay_key **out)
{
    if (!path || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return FOGPAY_ERR_KEY_FILE;
    }
    struct stat st;
    char text[KEY_FILE_MAX + 1];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0) {
        n = read(fd, text, KEY_FILE_MAX);
    }
    close(fd);
    if (n <= 0 || n == KEY_FILE_MAX) {
        return FOGPAY_ERR_KEY_FILE;
    }
    text[n] = '\0';
    char name[8] = {0};
    char hex[2 * P256_SCALAR_BYTES + 2] = {0};
    char extra = 0;
    fogpay_alg alg;
    uint8_t secret[32];
    fogpay_error err = FOGPAY_ERR_KEY_FILE;
    if (sscanf(text, "fogpay-key v1 %7s %65s %c", name, hex, &extra) == 2 &&
        alg_from_name(name, strlen(name), &alg) &&
        fogpay_hex_decode(hex, secret, sizeof secret) == FOGPAY_OK) {
        err = key_from_private(alg, secret, out);
    }
    memset(secret, 0, sizeof secret);
    memset(hex, 0, sizeof hex);
    memset(text, 0, sizeof text);
    return err;
}

fogpay_error fogpay_key_save(const fogpay_key *key, const char *path, bool overwrite)
{
    if (!key || !path) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (!key->has_private) {
        return FOGPAY_ERR_KEY_FILE;
    }
    uint8_t secret[32];
    word32 len = sizeof secret;
    fogpay_key *k = (fogpay_key *)key; /* wolfSSL's export takes a non-const key */
    int rc = key->alg == FOGPAY_ALG_EDDSA ? wc_ed25519_export_private_only(&k->k.ed, secret, &len)
                                          : wc_ecc_export_private_only(&k->k.ecc, secret, &len);
    if (rc != 0 || len != sizeof secret) {
        return FOGPAY_ERR_CRYPTO;
    }
    char hex[2 * sizeof secret + 1];
    fogpay_hex_encode(secret, sizeof secret, hex);
    memset(secret, 0, sizeof secret);
    char text[KEY_FILE_MAX];
    int n = snprintf(text, sizeof text, "fogpay-key v1 %s %s\n", alg_name(key->alg), hex);
    memset(hex, 0, sizeof hex);

    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0600);
    fogpay_error err = FOGPAY_ERR_KEY_FILE;
    if (fd >= 0) {
        if (fchmod(fd, 0600) == 0 && write(fd, text, (size_t)n) == n && fsync(fd) == 0) {
            err = FOGPAY_OK;
        }
        if (close(fd) != 0) {
            err = FOGPAY_ERR_KEY_FILE;
        }
    }
    memset(text, 0, sizeof text);
    return err;
}

fogpay_alg fogpay_key_alg(const fogpay_key *key)
{
    return key->alg;
}

bool fogpay_key_has_private(const fogpay_key *key)
{
    return key->has_private;
}

fogpay_error fogpay_key_public(const fogpay_key *key, uint8_t *out, size_t cap, size_t *len)
{
    if (!key || !out || !len) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (cap < key->pub_len) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(out, key->pub, key->pub_len);
    *len = key->pub_len;
    return FOGPAY_OK;
}

fogpay_error fogpay_key_public_text(const fogpay_key *key, char *out, size_t cap)
{
    if (!key || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    const char *name = alg_name(key->alg);
    size_t need = strlen(name) + 1 + 2 * key->pub_len + 1;
    if (cap < need) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    size_t n = strlen(name);
    memcpy(out, name, n);
    out[n] = ':';
    fogpay_hex_encode(key->pub, key->pub_len, out + n + 1);
    return FOGPAY_OK;
}

fogpay_error fogpay_key_id(const fogpay_key *key, uint8_t out[FOGPAY_KID_BYTES])
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_sha256(key->pub, key->pub_len, hash);
    if (err == FOGPAY_OK) {
        memcpy(out, hash, FOGPAY_KID_BYTES);
    }
    return err;
}

fogpay_error fogpay_key_sign(const fogpay_key *key, const uint8_t *msg, size_t msg_len,
                             uint8_t sig[FOGPAY_SIGNATURE_BYTES])
{
    if (!key || !sig || (!msg && msg_len > 0) || msg_len > UINT32_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (!key->has_private) {
        return FOGPAY_ERR_KEY_FILE;
    }
    fogpay_key *k = (fogpay_key *)key; /* the RNG state advances; one thread at a time */
    if (key->alg == FOGPAY_ALG_EDDSA) {
        word32 len = FOGPAY_SIGNATURE_BYTES;
        int rc = wc_ed25519_sign_msg(msg, (word32)msg_len, sig, &len, &k->k.ed);
        return rc == 0 && len == FOGPAY_SIGNATURE_BYTES ? FOGPAY_OK : FOGPAY_ERR_CRYPTO;
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    uint8_t der[ECC_MAX_SIG_SIZE];
    word32 der_len = sizeof der;
    fogpay_error err = fogpay_sha256(msg, msg_len, hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (wc_ecc_sign_hash(hash, sizeof hash, der, &der_len, &k->rng, &k->k.ecc) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    uint8_t r[P256_SCALAR_BYTES], s[P256_SCALAR_BYTES];
    word32 r_len = sizeof r, s_len = sizeof s;
    if (wc_ecc_sig_to_rs(der, der_len, r, &r_len, s, &s_len) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    /* r and s come without leading zeros; COSE wants each left-padded. */
    memset(sig, 0, FOGPAY_SIGNATURE_BYTES);
    memcpy(sig + P256_SCALAR_BYTES - r_len, r, r_len);
    memcpy(sig + 2 * P256_SCALAR_BYTES - s_len, s, s_len);
    return FOGPAY_OK;
}

fogpay_error fogpay_key_verify(const fogpay_key *key, const uint8_t *msg, size_t msg_len,
                               const uint8_t *sig, size_t sig_len)
{
    if (!key || !sig || (!msg && msg_len > 0) || msg_len > UINT32_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (sig_len != FOGPAY_SIGNATURE_BYTES) {
        return FOGPAY_ERR_BAD_SIGNATURE;
    }
    fogpay_key *k = (fogpay_key *)key; /* wolfSSL's verify takes a non-const key */
    int result = 0;
    int rc;
    if (key->alg == FOGPAY_ALG_EDDSA) {
        rc = wc_ed25519_verify_msg(sig, (word32)sig_len, msg, (word32)msg_len, &result, &k->k.ed);
    } else {
        uint8_t hash[FOGPAY_HASH_BYTES];
        uint8_t der[ECC_MAX_SIG_SIZE];
        word32 der_len = sizeof der;
        if (fogpay_sha256(msg, msg_len, hash) != FOGPAY_OK) {
            return FOGPAY_ERR_CRYPTO;
        }
        rc = wc_ecc_rs_raw_to_sig(sig, P256_SCALAR_BYTES, sig + P256_SCALAR_BYTES,
                                  P256_SCALAR_BYTES, der, &der_len);
        if (rc == 0) {
            rc = wc_ecc_verify_hash(der, der_len, hash, sizeof hash, &result, &k->k.ecc);
        }
    }
    return rc == 0 && result == 1 ? FOGPAY_OK : FOGPAY_ERR_BAD_SIGNATURE;
}

fogpay_error fogpay_key_create_file(fogpay_alg alg, const char *path, char *public_text, size_t cap)
{
    if (path == NULL || public_text == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_generate(alg, &key);
    if (err == FOGPAY_OK) {
        err = fogpay_key_save(key, path, false);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(key, public_text, cap);
    }
    fogpay_key_free(key);
    return err;
}

bool fogpay_alg_from_name(const char *name, fogpay_alg *out)
{
    if (name != NULL && strcmp(name, "ed25519") == 0) {
        *out = FOGPAY_ALG_EDDSA;
        return true;
    }
    if (name != NULL && strcmp(name, "p256") == 0) {
        *out = FOGPAY_ALG_ES256;
        return true;
    }
    return false;
}

fogpay_error fogpay_gateway_key_valid_at(const fogpay_gateway_key *k, uint64_t time_s)
{
    if (k == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (time_s < k->from_ms / 1000 || (k->until_ms != 0 && time_s > k->until_ms / 1000)) {
        return FOGPAY_ERR_KEY_REVOKED;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_key_file_replace(const char *from, const char *to)
{
    if (from == NULL || to == NULL || rename(from, to) != 0) {
        return FOGPAY_ERR_IO;
    }
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", to) >= (int)sizeof dir) {
        return FOGPAY_ERR_IO;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok ? FOGPAY_OK : FOGPAY_ERR_IO;
}

void fogpay_key_thread_done(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}
