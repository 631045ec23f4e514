/*
 * fogpay_cose.c - COSE_Sign1 signing, parsing and verification.
 *
 * Parsing follows RFC 9052 section 4.2 and section 3: the algorithm may be
 * in the protected or (less wisely) the unprotected bucket, never in both;
 * a label appears at most once in a bucket; an empty protected map is
 * signed as an empty byte string. Verification checks that the message's
 * algorithm is the key's own, so a key is never used with another
 * algorithm than it was registered for.
 */
#include "fogpay_cose.h"

#include <stdlib.h>
#include <string.h>

#define COSE_SIGN1_TAG 18
#define COSE_LABEL_ALG 1
#define COSE_LABEL_KID 4

/* Header maps of more parameters than this are refused; fogpay sends one. */
#define COSE_HEADER_PARAMS_MAX 16

static const char signature1_context[] = "Signature1";

/* Writes the Sig_structure into w. */
static void put_sig_structure(fogpay_cbor_writer *w, fogpay_bytes protected_header,
                              const uint8_t *aad, size_t aad_len, fogpay_bytes payload)
{
    fogpay_cbor_put_array(w, 4);
    fogpay_cbor_put_text(w, signature1_context, sizeof signature1_context - 1);
    fogpay_cbor_put_bytes(w, protected_header.ptr, protected_header.len);
    fogpay_cbor_put_bytes(w, aad, aad_len);
    fogpay_cbor_put_bytes(w, payload.ptr, payload.len);
}

/* The bytes of the Sig_structure: on the stack when small, else one heap
 * buffer. *heap is set when the caller must free *buf. */
static fogpay_error build_sig_structure(fogpay_bytes protected_header, const uint8_t *aad,
                                        size_t aad_len, fogpay_bytes payload, uint8_t *stack,
                                        uint8_t **buf, size_t *len, bool *heap)
{
    size_t need = 32 + protected_header.len + aad_len + payload.len;
    *heap = need > FOGPAY_SIG_STRUCTURE_STACK;
    if (need > FOGPAY_SIG_STRUCTURE_MAX) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    *buf = *heap ? malloc(need) : stack;
    if (!*buf) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, *buf, *heap ? need : FOGPAY_SIG_STRUCTURE_STACK);
    put_sig_structure(&w, protected_header, aad, aad_len, payload);
    fogpay_error err = fogpay_cbor_writer_finish(&w, len);
    if (err != FOGPAY_OK && *heap) {
        free(*buf);
    }
    return err;
}

fogpay_error fogpay_cose_sign1_sign(const fogpay_key *key, const uint8_t *kid, size_t kid_len,
                                    const uint8_t *payload, size_t payload_len,
                                    const uint8_t *external_aad, size_t aad_len, uint8_t *out,
                                    size_t cap, size_t *out_len)
{
    if (!key || !out || !out_len || (!payload && payload_len > 0) ||
        (!external_aad && aad_len > 0) || (!kid && kid_len > 0) || kid_len > FOGPAY_KID_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint8_t protected_buf[8];
    fogpay_cbor_writer hw;
    fogpay_cbor_writer_init(&hw, protected_buf, sizeof protected_buf);
    fogpay_cbor_put_map(&hw, 1);
    fogpay_cbor_put_uint(&hw, COSE_LABEL_ALG);
    fogpay_cbor_put_int(&hw, fogpay_key_alg(key));
    fogpay_bytes protected_header = {protected_buf, 0};
    fogpay_error err = fogpay_cbor_writer_finish(&hw, &protected_header.len);
    if (err != FOGPAY_OK) {
        return err;
    }

    uint8_t stack[FOGPAY_SIG_STRUCTURE_STACK];
    uint8_t *tbs;
    size_t tbs_len;
    bool heap;
    fogpay_bytes body = {payload, payload_len};
    err = build_sig_structure(protected_header, external_aad, aad_len, body, stack, &tbs, &tbs_len,
                              &heap);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint8_t sig[FOGPAY_SIGNATURE_BYTES];
    err = fogpay_key_sign(key, tbs, tbs_len, sig);
    if (heap) {
        free(tbs);
    }
    if (err != FOGPAY_OK) {
        return err;
    }

    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, cap);
    fogpay_cbor_put_tag(&w, COSE_SIGN1_TAG);
    fogpay_cbor_put_array(&w, 4);
    fogpay_cbor_put_bytes(&w, protected_header.ptr, protected_header.len);
    if (kid_len > 0) {
        fogpay_cbor_put_map(&w, 1);
        fogpay_cbor_put_uint(&w, COSE_LABEL_KID);
        fogpay_cbor_put_bytes(&w, kid, kid_len);
    } else {
        fogpay_cbor_put_map(&w, 0);
    }
    fogpay_cbor_put_bytes(&w, payload, payload_len);
    fogpay_cbor_put_bytes(&w, sig, sizeof sig);
    return fogpay_cbor_writer_finish(&w, out_len);
}

/* What a header bucket said about the parameters fogpay reads. */
typedef struct header_params {
    bool has_alg;
    int64_t alg;
    bool alg_is_text; /* a text algorithm name: none is supported */
    bool has_kid;
    fogpay_bytes kid;
} header_params;

/* Reads a header map of pairs pairs from r. Labels are integers or text;
 * a repeated label (compared as encoded) is FOGPAY_ERR_COSE_HEADER. */
static fogpay_error read_header_map(fogpay_cbor_reader *r, uint64_t pairs, header_params *hp)
{
    if (pairs > COSE_HEADER_PARAMS_MAX) {
        return FOGPAY_ERR_COSE_HEADER;
    }
    fogpay_bytes labels[COSE_HEADER_PARAMS_MAX];
    for (uint64_t i = 0; i < pairs; i++) {
        fogpay_cbor_item label;
        fogpay_error err = fogpay_cbor_read(r, &label);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (label.type != FOGPAY_CBOR_UINT && label.type != FOGPAY_CBOR_NEGINT &&
            label.type != FOGPAY_CBOR_TEXT) {
            return FOGPAY_ERR_COSE_HEADER;
        }
        labels[i] = (fogpay_bytes){r->ptr + label.offset, r->pos - label.offset};
        for (uint64_t k = 0; k < i; k++) {
            if (labels[k].len == labels[i].len &&
                memcmp(labels[k].ptr, labels[i].ptr, labels[i].len) == 0) {
                return FOGPAY_ERR_COSE_HEADER;
            }
        }
        bool is_alg = label.type == FOGPAY_CBOR_UINT && label.value == COSE_LABEL_ALG;
        bool is_kid = label.type == FOGPAY_CBOR_UINT && label.value == COSE_LABEL_KID;
        if (!is_alg && !is_kid) {
            err = fogpay_cbor_skip(r);
            if (err != FOGPAY_OK) {
                return err;
            }
            continue;
        }
        fogpay_cbor_item value;
        err = fogpay_cbor_read(r, &value);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (is_kid) {
            if (value.type != FOGPAY_CBOR_BYTES) {
                return FOGPAY_ERR_COSE_HEADER;
            }
            hp->has_kid = true;
            hp->kid = value.bytes;
        } else if (value.type == FOGPAY_CBOR_TEXT) {
            hp->has_alg = true;
            hp->alg_is_text = true;
        } else if (value.type == FOGPAY_CBOR_UINT && value.value <= INT64_MAX) {
            hp->has_alg = true;
            hp->alg = (int64_t)value.value;
        } else if (value.type == FOGPAY_CBOR_NEGINT && value.value <= INT64_MAX) {
            hp->has_alg = true;
            hp->alg = -1 - (int64_t)value.value;
        } else {
            return FOGPAY_ERR_COSE_HEADER;
        }
    }
    return FOGPAY_OK;
}

/* Decodes the serialized protected header. *empty is set for an empty
 * map, which is signed as a zero-length byte string. */
static fogpay_error read_protected(fogpay_bytes serialized, header_params *hp, bool *empty)
{
    *empty = true;
    if (serialized.len == 0) {
        return FOGPAY_OK;
    }
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init(&r, serialized.ptr, serialized.len);
    fogpay_cbor_item map;
    fogpay_error err = fogpay_cbor_read(&r, &map);
    if (err != FOGPAY_OK) {
        return FOGPAY_ERR_COSE_HEADER;
    }
    if (map.type != FOGPAY_CBOR_MAP) {
        return FOGPAY_ERR_COSE_HEADER;
    }
    *empty = map.value == 0;
    err = read_header_map(&r, map.value, hp);
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_COSE_HEADER;
    }
    return err;
}

static fogpay_error read_bstr(fogpay_cbor_reader *r, fogpay_bytes *out)
{
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type != FOGPAY_CBOR_BYTES) {
        return FOGPAY_ERR_COSE_STRUCTURE;
    }
    *out = item.bytes;
    return FOGPAY_OK;
}

fogpay_error fogpay_cose_sign1_parse(const uint8_t *msg, size_t len, fogpay_cose_sign1 *out)
{
    if (!msg || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cose_sign1 m;
    memset(&m, 0, sizeof m);
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init(&r, msg, len);
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(&r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type == FOGPAY_CBOR_TAG) {
        if (item.value != COSE_SIGN1_TAG) {
            return FOGPAY_ERR_COSE_TAG;
        }
        m.tagged = true;
        err = fogpay_cbor_read(&r, &item);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    if (item.type != FOGPAY_CBOR_ARRAY || item.value != 4) {
        return FOGPAY_ERR_COSE_STRUCTURE;
    }

    header_params protected_params = {0}, unprotected_params = {0};
    bool protected_empty;
    err = read_bstr(&r, &m.protected_header);
    if (err == FOGPAY_OK) {
        err = read_protected(m.protected_header, &protected_params, &protected_empty);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_cbor_read(&r, &item);
        if (err == FOGPAY_OK && item.type != FOGPAY_CBOR_MAP) {
            err = FOGPAY_ERR_COSE_STRUCTURE;
        }
    }
    if (err == FOGPAY_OK) {
        err = read_header_map(&r, item.value, &unprotected_params);
    }
    if (err == FOGPAY_OK) {
        err = read_bstr(&r, &m.payload);
    }
    if (err == FOGPAY_OK) {
        err = read_bstr(&r, &m.signature);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (!fogpay_cbor_reader_done(&r)) {
        return FOGPAY_ERR_CBOR_TRAILING;
    }
    if (protected_params.has_alg && unprotected_params.has_alg) {
        return FOGPAY_ERR_COSE_HEADER; /* RFC 9052 section 3: one bucket per label */
    }
    header_params *alg_from = protected_params.has_alg ? &protected_params : &unprotected_params;
    if (!alg_from->has_alg || alg_from->alg_is_text ||
        (alg_from->alg != FOGPAY_ALG_EDDSA && alg_from->alg != FOGPAY_ALG_ES256)) {
        return FOGPAY_ERR_COSE_ALG_UNSUPPORTED;
    }
    m.alg = alg_from->alg;
    if (protected_params.has_kid && unprotected_params.has_kid) {
        return FOGPAY_ERR_COSE_HEADER;
    }
    m.kid = protected_params.has_kid ? protected_params.kid : unprotected_params.kid;
    if (m.kid.len > FOGPAY_KID_MAX) {
        return FOGPAY_ERR_COSE_HEADER;
    }
    if (protected_empty) {
        m.protected_header.len = 0;
    }
    *out = m;
    return FOGPAY_OK;
}

fogpay_error fogpay_cose_sign1_verify(const fogpay_cose_sign1 *msg, const fogpay_key *key,
                                      const uint8_t *external_aad, size_t aad_len)
{
    if (!msg || !key || (!external_aad && aad_len > 0)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (msg->alg != fogpay_key_alg(key)) {
        return FOGPAY_ERR_COSE_ALG_UNSUPPORTED;
    }
    uint8_t stack[FOGPAY_SIG_STRUCTURE_STACK];
    uint8_t *tbs;
    size_t tbs_len;
    bool heap;
    fogpay_error err = build_sig_structure(msg->protected_header, external_aad, aad_len,
                                           msg->payload, stack, &tbs, &tbs_len, &heap);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_key_verify(key, tbs, tbs_len, msg->signature.ptr, msg->signature.len);
    if (heap) {
        free(tbs);
    }
    return err;
}

fogpay_error fogpay_cose_sign1_open(const uint8_t *msg, size_t len, const fogpay_key *key,
                                    const uint8_t *kid, fogpay_bytes *payload)
{
    if (!key || !payload) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cose_sign1 parsed;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &parsed);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (kid && (parsed.kid.len != FOGPAY_KID_BYTES ||
                memcmp(parsed.kid.ptr, kid, FOGPAY_KID_BYTES) != 0)) {
        return FOGPAY_ERR_BAD_SIGNATURE;
    }
    err = fogpay_cose_sign1_verify(&parsed, key, NULL, 0);
    if (err == FOGPAY_OK) {
        *payload = parsed.payload;
    }
    return err;
}

fogpay_error fogpay_cose_sign1_verify_gateway(const fogpay_cose_sign1 *msg,
                                              const fogpay_gateway_key *k)
{
    if (msg == NULL || k == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (msg->kid.len != FOGPAY_KID_BYTES || memcmp(msg->kid.ptr, k->kid, FOGPAY_KID_BYTES) != 0) {
        return FOGPAY_ERR_BAD_SIGNATURE;
    }
    fogpay_key *key = NULL;
    fogpay_error err =
        fogpay_key_from_public((fogpay_alg)k->alg, k->public_key, k->public_key_len, &key);
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_verify(msg, key, NULL, 0);
    } else {
        err = FOGPAY_ERR_BAD_SIGNATURE;
    }
    fogpay_key_free(key);
    return err == FOGPAY_ERR_COSE_ALG_UNSUPPORTED ? FOGPAY_ERR_BAD_SIGNATURE : err;
}
