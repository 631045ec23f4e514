/*
 * fogpay_hash.c - SHA-256 and hex through wolfSSL.
 */
#include "fogpay_hash.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

fogpay_error fogpay_sha256(const uint8_t *data, size_t len, uint8_t out[FOGPAY_HASH_BYTES])
{
    return fogpay_sha256_pair(data, len, NULL, 0, out);
}

fogpay_error fogpay_sha256_pair(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                                uint8_t out[FOGPAY_HASH_BYTES])
{
    wc_Sha256 sha;
    if (a_len > UINT32_MAX || b_len > UINT32_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (wc_InitSha256(&sha) != 0) {
        return FOGPAY_ERR_CRYPTO;
    }
    int rc = 0;
    if (a_len > 0) {
        rc = wc_Sha256Update(&sha, a, (word32)a_len);
    }
    if (rc == 0 && b_len > 0) {
        rc = wc_Sha256Update(&sha, b, (word32)b_len);
    }
    if (rc == 0) {
        rc = wc_Sha256Final(&sha, out);
    }
    wc_Sha256Free(&sha);
    return rc == 0 ? FOGPAY_OK : FOGPAY_ERR_CRYPTO;
}

void fogpay_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

fogpay_error fogpay_hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
    size_t i = 0;
    for (; i < 2 * out_len; i++) {
        if (hex[i] == '\0') {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        if (hex_value(hex[i]) < 0) {
            return FOGPAY_ERR_TEXT_INVALID;
        }
    }
    if (hex[i] != '\0') {
        return hex_value(hex[i]) < 0 ? FOGPAY_ERR_TEXT_INVALID : FOGPAY_ERR_FIELD_RANGE;
    }
    for (i = 0; i < out_len; i++) {
        out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    }
    return FOGPAY_OK;
}
