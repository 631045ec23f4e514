/*
 * test_password.c - the salted PBKDF2 hashes of common/fogpay_password.h:
 * round trip, salt, malformed stored hashes, the iteration bounds, the
 * password length bound, the device secrets' fast scheme and its minimum,
 * and an RFC 7914 section 11 PBKDF2-HMAC-SHA256 vector
 * checked through a stored hash built from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_password.h"
#include "testutil.h"

static void test_passwords(void)
{
    char stored[FOGPAY_PASSWORD_HASH_TEXT_MAX], again[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("s3cret", 6, 1000, stored, sizeof stored),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(strncmp(stored, "pbkdf2-sha256$1000$", 19), 0);
    CU_ASSERT_EQUAL(fogpay_password_check("s3cret", 6, stored), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_password_check("s3creT", 6, stored), FOGPAY_ERR_NOT_AUTHORISED);
    CU_ASSERT_EQUAL(fogpay_password_check("s3cre", 5, stored), FOGPAY_ERR_NOT_AUTHORISED);
    /* Salted: the same password hashes differently each time. */
    CU_ASSERT_EQUAL(fogpay_password_hash("s3cret", 6, 1000, again, sizeof again), FOGPAY_OK);
    CU_ASSERT_STRING_NOT_EQUAL(stored, again);
    CU_ASSERT_EQUAL(fogpay_password_check("s3cret", 6, "plain"), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_password_check("s3cret", 6, "pbkdf2-sha256$10$00$00"),
                    FOGPAY_ERR_FIELD_RANGE);
    stored[strlen(stored) - 1] = 'x';
    CU_ASSERT_EQUAL(fogpay_password_check("s3cret", 6, stored), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_password_hash("s3cret", 6, 10, again, sizeof again),
                    FOGPAY_ERR_INVALID_ARGUMENT);
}

/* A stored hash made outside fogpay: RFC 7914 section 11, PBKDF2-HMAC-SHA256
 * of "passwd" with salt "salt", 1 iteration, first 32 bytes of the 64 shown
 * there. One iteration is below the minimum, so it is refused as
 * malformed; the same vector shows that the check reads the format. */
static void test_stored_format(void)
{
    const char *rfc = "pbkdf2-sha256$1$73616c74$"
                      "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc";
    CU_ASSERT_EQUAL(fogpay_password_check("passwd", 6, rfc), FOGPAY_ERR_FIELD_RANGE);
    char stored[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(
        fogpay_password_hash("pw", 2, FOGPAY_PASSWORD_ITERATIONS_MIN, stored, sizeof stored),
        FOGPAY_OK);
    /* The fields: scheme, iterations, 16-byte salt, 32-byte hash. */
    char *salt = strchr(stored + strlen("pbkdf2-sha256$"), '$');
    CU_ASSERT_PTR_NOT_NULL_FATAL(salt);
    char *hash = strchr(salt + 1, '$');
    CU_ASSERT_PTR_NOT_NULL_FATAL(hash);
    CU_ASSERT_EQUAL(hash - salt - 1, 32);
    CU_ASSERT_EQUAL(strlen(hash + 1), 64);
    CU_ASSERT(strlen(stored) < FOGPAY_PASSWORD_HASH_TEXT_MAX);
    /* A wrong scheme name is malformed, not a wrong password. */
    char other[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    snprintf(other, sizeof other, "pbkdf2-sha512%s", stored + strlen("pbkdf2-sha256"));
    CU_ASSERT_EQUAL(fogpay_password_check("pw", 2, other), FOGPAY_ERR_FIELD_RANGE);
    /* Iterations above the maximum are malformed too. */
    snprintf(other, sizeof other, "pbkdf2-sha256$%u%s", FOGPAY_PASSWORD_ITERATIONS_MAX + 1, salt);
    CU_ASSERT_EQUAL(fogpay_password_check("pw", 2, other), FOGPAY_ERR_FIELD_RANGE);
}

static void test_default_iterations(void)
{
    char stored[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_password_hash("pw", 2, 0, stored, sizeof stored), FOGPAY_OK);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "pbkdf2-sha256$%u$", FOGPAY_PASSWORD_ITERATIONS);
    CU_ASSERT_EQUAL(strncmp(stored, prefix, strlen(prefix)), 0);
    CU_ASSERT_EQUAL(fogpay_password_check("pw", 2, stored), FOGPAY_OK);
    /* Too small an output buffer is refused, not cut. */
    CU_ASSERT_NOT_EQUAL(fogpay_password_hash("pw", 2, 0, stored, 20), FOGPAY_OK);
}

/* Device secrets: the fast scheme, its minimum, and a verifier made
 * outside fogpay (SHA-256 of the salt bytes followed by the secret). */
static void test_device_secrets(void)
{
    const char *secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    char stored[FOGPAY_PASSWORD_HASH_TEXT_MAX], again[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(
        fogpay_device_secret_verifier(secret, strlen(secret), stored, sizeof stored), FOGPAY_OK);
    CU_ASSERT_EQUAL(strncmp(stored, "sha256$", 7), 0);
    CU_ASSERT_EQUAL(strlen(stored), 7 + 32 + 1 + 64);
    CU_ASSERT(fogpay_password_is_device_verifier(stored));
    CU_ASSERT_EQUAL(fogpay_password_hash_parse(stored), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_password_check(secret, strlen(secret), stored), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_password_check(secret, strlen(secret) - 1, stored),
                    FOGPAY_ERR_NOT_AUTHORISED);
    CU_ASSERT_EQUAL(fogpay_device_secret_verifier(secret, strlen(secret), again, sizeof again),
                    FOGPAY_OK);
    CU_ASSERT_STRING_NOT_EQUAL(stored, again);
    /* Too short, or too few different characters. */
    CU_ASSERT_EQUAL(fogpay_device_secret_verifier(secret, 31, stored, sizeof stored),
                    FOGPAY_ERR_SECRET_WEAK);
    CU_ASSERT_EQUAL(fogpay_device_secret_check("abababababababababababababababab", 32),
                    FOGPAY_ERR_SECRET_WEAK);
    CU_ASSERT_EQUAL(fogpay_device_secret_check("abcdefgabcdefgabcdefgabcdefgabcd", 32),
                    FOGPAY_ERR_SECRET_WEAK);
    CU_ASSERT_EQUAL(fogpay_device_secret_check("abcdefghabcdefghabcdefghabcdefgh", 32), FOGPAY_OK);
    /* Generated secrets pass the check. */
    char generated[FOGPAY_DEVICE_SECRET_TEXT_SIZE];
    CU_ASSERT_EQUAL_FATAL(fogpay_device_secret_generate(generated), FOGPAY_OK);
    CU_ASSERT_EQUAL(strlen(generated), 64);
    CU_ASSERT_EQUAL(fogpay_device_secret_check(generated, strlen(generated)), FOGPAY_OK);
    /* Salt 00..0f, secret "x" * 32: sha256(salt || secret) computed
     * independently (Python hashlib). */
    const char *outside = "sha256$000102030405060708090a0b0c0d0e0f$"
                          "eabeff7284d8f5f9226f8ca898f91ba2a4f72267f899100fc8f4c94aeb0be49e";
    const char *xs = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    CU_ASSERT_EQUAL(fogpay_password_check(xs, 32, outside), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_password_check(xs, 31, outside), FOGPAY_ERR_NOT_AUTHORISED);
    /* A malformed device verifier is malformed, not a wrong password. */
    CU_ASSERT_EQUAL(fogpay_password_check(secret, strlen(secret), "sha256$00$11"),
                    FOGPAY_ERR_FIELD_RANGE);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("password", NULL, NULL);
    CU_add_test(s, "device secrets: fast verifier, minimum", test_device_secrets);
    CU_add_test(s, "password hashes", test_passwords);
    CU_add_test(s, "the stored format", test_stored_format);
    CU_add_test(s, "the default iteration count", test_default_iterations);
    return testutil_run();
}
