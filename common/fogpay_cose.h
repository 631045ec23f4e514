/*
 * fogpay_cose.h - COSE_Sign1 (RFC 9052 section 4.2), the envelope of every
 * fogpay message.
 *
 *   COSE_Sign1 = #6.18([ protected : bstr .cbor {1: alg, ...},
 *                        unprotected : {? 4: kid},
 *                        payload : bstr,
 *                        signature : bstr ])
 *
 * The algorithm is carried in the protected header. Signing emits the tag,
 * a protected header of exactly {1: alg}, and an unprotected header holding
 * the kid when one is given, else empty. Parsing accepts tagged and untagged
 * messages, any protected header that is a well-formed map with an alg, and
 * returns views into the caller's buffer; verification rebuilds the
 * Sig_structure ["Signature1", protected, external_aad, payload] into a
 * bounded buffer and checks the signature with the caller's key. Opening
 * is the three in one (parse, kid, verify) that every receiver of a fogpay
 * message uses before it reads the payload.
 */
#ifndef FOGPAY_COSE_H
#define FOGPAY_COSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "fogpay_cbor.h"
#include "fogpay_error.h"
#include "fogpay_key.h"

/* COSE_Sign1 overhead of fogpay's own encoding without kid: tag, array,
 * protected header, empty unprotected map, the payload's bstr head (2 bytes
 * up to 255 bytes of payload) and a 64-byte signature. */
#define FOGPAY_COSE_OVERHEAD 75

/* The Sig_structure of a device message is built on the stack in a buffer of
 * FOGPAY_SIG_STRUCTURE_STACK bytes; a larger one (a batch) in one heap
 * buffer of at most FOGPAY_SIG_STRUCTURE_MAX bytes, freed before return. */
#define FOGPAY_SIG_STRUCTURE_STACK 1024
#define FOGPAY_SIG_STRUCTURE_MAX   (FOGPAY_BATCH_BYTES_MAX + 256)

/* A parsed COSE_Sign1: views into the buffer given to the parser. */
typedef struct fogpay_cose_sign1 {
    bool tagged;
    int64_t alg;                   /* from the protected header */
    fogpay_bytes protected_header; /* the serialized map, as signed */
    fogpay_bytes kid;              /* empty when absent */
    fogpay_bytes payload;
    fogpay_bytes signature;
} fogpay_cose_sign1;

/* Signs payload with key into out (capacity cap); *out_len receives the
 * length. kid may be NULL. external_aad may be NULL when aad_len is 0. */
fogpay_error fogpay_cose_sign1_sign(const fogpay_key *key, const uint8_t *kid, size_t kid_len,
                                    const uint8_t *payload, size_t payload_len,
                                    const uint8_t *external_aad, size_t aad_len, uint8_t *out,
                                    size_t cap, size_t *out_len);

/* Parses msg without verifying. Writes *out only on success. Errors:
 * FOGPAY_ERR_COSE_TAG, FOGPAY_ERR_COSE_STRUCTURE, FOGPAY_ERR_COSE_HEADER,
 * FOGPAY_ERR_COSE_ALG_UNSUPPORTED, and the CBOR errors. */
fogpay_error fogpay_cose_sign1_parse(const uint8_t *msg, size_t len, fogpay_cose_sign1 *out);

/* Verifies a parsed message with key: the algorithm must match the key's
 * (FOGPAY_ERR_COSE_ALG_UNSUPPORTED otherwise), the signature must be good
 * (FOGPAY_ERR_BAD_SIGNATURE otherwise). */
fogpay_error fogpay_cose_sign1_verify(const fogpay_cose_sign1 *msg, const fogpay_key *key,
                                      const uint8_t *external_aad, size_t aad_len);

/* Verifies a parsed message with the key of a gateway's key history entry
 * (fogpay_key.h), as fogpay_cose_sign1_verify does with a key; an entry
 * whose bytes are no valid key is FOGPAY_ERR_BAD_SIGNATURE, and so is a
 * kid in msg other than the entry's. The caller checks the signed time
 * against the entry (fogpay_gateway_key_valid_at). */
fogpay_error fogpay_cose_sign1_verify_gateway(const fogpay_cose_sign1 *msg,
                                              const fogpay_gateway_key *k);

/* Opens a message signed without external_aad: parses msg, checks that it
 * names kid (FOGPAY_KID_BYTES; NULL when the kid is not checked) and
 * verifies it with key. *payload, a view into msg, is written only on
 * success. Errors, in the order checked: the parser's, FOGPAY_ERR_BAD_SIGNATURE
 * for another kid, FOGPAY_ERR_COSE_ALG_UNSUPPORTED for an algorithm other
 * than the key's, FOGPAY_ERR_BAD_SIGNATURE for a signature that fails. A
 * caller that accepts any of several keys calls it once for each. */
fogpay_error fogpay_cose_sign1_open(const uint8_t *msg, size_t len, const fogpay_key *key,
                                    const uint8_t *kid, fogpay_bytes *payload);

#endif
