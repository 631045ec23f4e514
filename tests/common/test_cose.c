/*
 * test_cose.c - COSE_Sign1 against the COSE working group's examples
 * (../shared/conformance/cose-wg-examples), fogpay's own sign/verify
 * round trips with Ed25519 and ES256, and the refusals of
 * fogpay_cose_sign1_open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fogpay_cose.h"
#include "testutil.h"

typedef struct example {
    cJSON *root;
    uint8_t *cbor;
    size_t cbor_len;
    uint8_t *aad;
    size_t aad_len;
    fogpay_key *key; /* NULL when the example's curve is not one fogpay has */
    bool fail;
} example;

static fogpay_key *key_from_jwk(const cJSON *jwk)
{
    const char *crv = cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "crv"));
    fogpay_key *key = NULL;
    if (strcmp(crv, "Ed25519") == 0) {
        size_t len;
        uint8_t *x = testutil_hex(cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "x_hex")), &len);
        CU_ASSERT_EQUAL(fogpay_key_from_public(FOGPAY_ALG_EDDSA, x, len, &key), FOGPAY_OK);
        free(x);
    } else if (strcmp(crv, "P-256") == 0) {
        uint8_t point[65];
        point[0] = 0x04;
        size_t x_len =
            testutil_base64url(cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "x")), point + 1, 32);
        size_t y_len =
            testutil_base64url(cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "y")), point + 33, 32);
        CU_ASSERT_FATAL(x_len == 32 && y_len == 32);
        CU_ASSERT_EQUAL(fogpay_key_from_public(FOGPAY_ALG_ES256, point, sizeof point, &key),
                        FOGPAY_OK);
    } else {
        /* Ed448, P-384, P-521: the key itself is refused, so no registry
         * can hold it and no message can be verified with it. */
        const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "x_hex"));
        uint8_t raw[160];
        size_t len = 0;
        if (x) {
            uint8_t *bytes = testutil_hex(x, &len);
            memcpy(raw, bytes, len < sizeof raw ? len : sizeof raw);
            free(bytes);
        } else {
            raw[0] = 0x04;
            len = 1 + testutil_base64url(cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "x")),
                                         raw + 1, 66);
            len += testutil_base64url(cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "y")),
                                      raw + len, 66);
        }
        fogpay_alg alg = x ? FOGPAY_ALG_EDDSA : FOGPAY_ALG_ES256;
        CU_ASSERT_EQUAL(fogpay_key_from_public(alg, raw, len, &key), FOGPAY_ERR_CRYPTO);
        key = NULL;
    }
    return key;
}

static void example_load(const char *relative, example *ex)
{
    char path[512];
    snprintf(path, sizeof path, "%s/conformance/cose-wg-examples/%s", testutil_shared_dir(),
             relative);
    char *text = testutil_read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(ex, 0, sizeof *ex);
    ex->root = cJSON_Parse(text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex->root);
    const cJSON *output = cJSON_GetObjectItem(ex->root, "output");
    ex->cbor =
        testutil_hex(cJSON_GetStringValue(cJSON_GetObjectItem(output, "cbor")), &ex->cbor_len);
    const cJSON *sign0 = cJSON_GetObjectItem(cJSON_GetObjectItem(ex->root, "input"), "sign0");
    const char *external = cJSON_GetStringValue(cJSON_GetObjectItem(sign0, "external"));
    ex->aad = testutil_hex(external ? external : "", &ex->aad_len);
    ex->key = key_from_jwk(cJSON_GetObjectItem(sign0, "key"));
    ex->fail = cJSON_IsTrue(cJSON_GetObjectItem(ex->root, "fail"));
}

static void example_free(example *ex)
{
    fogpay_key_free(ex->key);
    free(ex->cbor);
    free(ex->aad);
    cJSON_Delete(ex->root);
}

/* Parses and verifies an example; returns the first error. */
static fogpay_error example_check(const example *ex)
{
    fogpay_cose_sign1 msg;
    fogpay_error err = fogpay_cose_sign1_parse(ex->cbor, ex->cbor_len, &msg);
    if (err == FOGPAY_OK && !ex->key) {
        return FOGPAY_ERR_COSE_ALG_UNSUPPORTED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_verify(&msg, ex->key, ex->aad, ex->aad_len);
    }
    return err;
}

static void expect(const char *relative, fogpay_error want)
{
    example ex;
    example_load(relative, &ex);
    fogpay_error err = example_check(&ex);
    if (err != want) {
        printf("\n  %s: %s, expected %s\n", relative, fogpay_error_name(err),
               fogpay_error_name(want));
    }
    CU_ASSERT_EQUAL(err, want);
    CU_ASSERT_EQUAL(ex.fail, want != FOGPAY_OK && strstr(relative, "sign-fail") != NULL);
    example_free(&ex);
}

static void test_wg_verify(void)
{
    expect("eddsa-examples/eddsa-sig-01.json", FOGPAY_OK);
    expect("ecdsa-examples/ecdsa-sig-01.json", FOGPAY_OK);
    expect("RFC8152/Appendix_C_2_1.json", FOGPAY_OK);
}

static void test_wg_pass(void)
{
    expect("sign1-tests/sign-pass-01.json", FOGPAY_OK); /* empty protected, alg unprotected */
    expect("sign1-tests/sign-pass-02.json", FOGPAY_OK); /* external AAD */
    expect("sign1-tests/sign-pass-03.json", FOGPAY_OK); /* untagged */
}

static void test_wg_fail(void)
{
    expect("sign1-tests/sign-fail-01.json", FOGPAY_ERR_COSE_TAG);
    expect("sign1-tests/sign-fail-02.json", FOGPAY_ERR_BAD_SIGNATURE);
    expect("sign1-tests/sign-fail-03.json", FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
    expect("sign1-tests/sign-fail-04.json", FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
    expect("sign1-tests/sign-fail-06.json", FOGPAY_ERR_BAD_SIGNATURE);
    expect("sign1-tests/sign-fail-07.json", FOGPAY_ERR_BAD_SIGNATURE);
}

static void test_wg_unsupported(void)
{
    expect("eddsa-examples/eddsa-sig-02.json", FOGPAY_ERR_COSE_ALG_UNSUPPORTED); /* Ed448 */
    expect("ecdsa-examples/ecdsa-sig-02.json", FOGPAY_ERR_COSE_ALG_UNSUPPORTED); /* ES384 */
    expect("ecdsa-examples/ecdsa-sig-03.json", FOGPAY_ERR_COSE_ALG_UNSUPPORTED); /* ES512 */
    expect("ecdsa-examples/ecdsa-sig-04.json",
           FOGPAY_ERR_COSE_ALG_UNSUPPORTED); /* ES512 on P-256 */
}

static void round_trip(fogpay_alg alg)
{
    fogpay_key *key, *other;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(alg, &key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(alg, &other), FOGPAY_OK);
    uint8_t kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_id(key, kid), FOGPAY_OK);
    const uint8_t payload[] = "\xa1\x01\x02";
    const uint8_t aad[] = "gw-1";
    uint8_t msg[256];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, 3, aad, 4, msg, sizeof msg, &len),
        FOGPAY_OK);
    fogpay_cose_sign1 parsed;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(msg, len, &parsed), FOGPAY_OK);
    CU_ASSERT(parsed.tagged);
    CU_ASSERT_EQUAL(parsed.alg, alg);
    CU_ASSERT(parsed.kid.len == sizeof kid && memcmp(parsed.kid.ptr, kid, sizeof kid) == 0);
    CU_ASSERT(parsed.payload.len == 3 && memcmp(parsed.payload.ptr, payload, 3) == 0);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&parsed, key, aad, 4), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&parsed, other, aad, 4), FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&parsed, key, NULL, 0), FOGPAY_ERR_BAD_SIGNATURE);

    /* A verify-only key from the public text verifies too. */
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL(fogpay_key_public_text(key, text, sizeof text), FOGPAY_OK);
    fogpay_key *pub;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_from_public_text(text, &pub), FOGPAY_OK);
    CU_ASSERT(!fogpay_key_has_private(pub));
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&parsed, pub, aad, 4), FOGPAY_OK);
    uint8_t sig[FOGPAY_SIGNATURE_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_sign(pub, payload, 3, sig), FOGPAY_ERR_KEY_FILE);

    /* Without kid, fogpay's envelope overhead is what the header says,
     * less one byte: a payload under 24 bytes has a one-byte head. */
    CU_ASSERT_EQUAL_FATAL(
        fogpay_cose_sign1_sign(key, NULL, 0, payload, 3, NULL, 0, msg, sizeof msg, &len),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(len, 3 + FOGPAY_COSE_OVERHEAD - 1);
    fogpay_key_free(pub);
    fogpay_key_free(key);
    fogpay_key_free(other);
}

static void test_round_trip_eddsa(void)
{
    round_trip(FOGPAY_ALG_EDDSA);
}

static void test_round_trip_es256(void)
{
    round_trip(FOGPAY_ALG_ES256);
}

/* An Ed25519 key must not verify an ES256-labelled message and the other
 * way round, even if the bytes happened to fit. */
static void test_alg_confusion(void)
{
    fogpay_key *ed, *ec;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &ed), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_ES256, &ec), FOGPAY_OK);
    uint8_t msg[256];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(ed, NULL, 0, (const uint8_t *)"x", 1, NULL, 0, msg,
                                                 sizeof msg, &len),
                          FOGPAY_OK);
    fogpay_cose_sign1 parsed;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(msg, len, &parsed), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&parsed, ec, NULL, 0),
                    FOGPAY_ERR_COSE_ALG_UNSUPPORTED);

    /* alg in both buckets, and a repeated label, are header errors. */
    size_t blen;
    uint8_t *both = testutil_hex("d28443a10127a10127414040", &blen);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_parse(both, blen, &parsed), FOGPAY_ERR_COSE_HEADER);
    free(both);
    uint8_t *twice = testutil_hex("d28447a201270127a0414040", &blen);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_parse(twice, blen, &parsed), FOGPAY_ERR_COSE_HEADER);
    free(twice);
    uint8_t *none = testutil_hex("d28440a0414040", &blen);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_parse(none, blen, &parsed), FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
    free(none);
    fogpay_key_free(ed);
    fogpay_key_free(ec);
}

/* fogpay_cose_sign1_open: each way a message fails has its own answer, and
 * the payload view is given out only for one that opens. */
static void test_open(void)
{
    fogpay_key *key, *other, *ec;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &other), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_ES256, &ec), FOGPAY_OK);
    uint8_t kid[FOGPAY_KID_BYTES], other_kid[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_id(key, kid), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_id(other, other_kid), FOGPAY_OK);
    const uint8_t body[] = "\xa1\x01\x02";
    uint8_t msg[256];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_cose_sign1_sign(key, kid, sizeof kid, body, 3, NULL, 0, msg, sizeof msg, &len),
        FOGPAY_OK);
    const fogpay_bytes untouched = {.ptr = NULL, .len = 99};
    fogpay_bytes payload = untouched;

    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, key, kid, &payload), FOGPAY_OK);
    CU_ASSERT(payload.len == 3 && memcmp(payload.ptr, body, 3) == 0);
    CU_ASSERT(payload.ptr > msg && payload.ptr < msg + len); /* a view into msg */
    payload = untouched;
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, key, NULL, &payload), FOGPAY_OK);
    CU_ASSERT_EQUAL(payload.len, 3);

    payload = untouched;
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, other, NULL, &payload),
                    FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, key, other_kid, &payload),
                    FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, ec, NULL, &payload),
                    FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
    fogpay_error truncated = fogpay_cose_sign1_open(msg, len - 1, key, kid, &payload);
    CU_ASSERT_NOT_EQUAL(truncated, FOGPAY_OK);
    CU_ASSERT_NOT_EQUAL(truncated, FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_NOT_EQUAL(truncated, FOGPAY_ERR_COSE_ALG_UNSUPPORTED);
    uint8_t retagged[256];
    memcpy(retagged, msg, len);
    CU_ASSERT_EQUAL_FATAL(retagged[0], 0xd2); /* tag 18, COSE_Sign1 */
    retagged[0] = 0xd1;                       /* tag 17, COSE_Mac0 */
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(retagged, len, key, kid, &payload), FOGPAY_ERR_COSE_TAG);

    /* The payload's last byte changed in place, 0x02 to 0x03. */
    uint8_t tampered[256];
    memcpy(tampered, msg, len);
    fogpay_cose_sign1 parsed;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(tampered, len, &parsed), FOGPAY_OK);
    tampered[(size_t)(parsed.payload.ptr - tampered) + 2] = 0x03;
    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(tampered, len, key, kid, &payload),
                    FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT(payload.ptr == untouched.ptr && payload.len == untouched.len);

    CU_ASSERT_EQUAL(fogpay_cose_sign1_open(msg, len, NULL, NULL, &payload),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    fogpay_key_free(key);
    fogpay_key_free(other);
    fogpay_key_free(ec);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("cose", NULL, NULL);
    CU_add_test(s, "COSE WG: Ed25519 and ES256 examples verify", test_wg_verify);
    CU_add_test(s, "COSE WG: sign-pass accepted", test_wg_pass);
    CU_add_test(s, "COSE WG: sign-fail refused", test_wg_fail);
    CU_add_test(s, "COSE WG: unsupported algorithms refused", test_wg_unsupported);
    CU_add_test(s, "EdDSA sign/verify", test_round_trip_eddsa);
    CU_add_test(s, "ES256 sign/verify", test_round_trip_es256);
    CU_add_test(s, "algorithm confusion and header rules", test_alg_confusion);
    CU_add_test(s, "open: parse, kid, algorithm and signature each refuse", test_open);
    return testutil_run();
}
