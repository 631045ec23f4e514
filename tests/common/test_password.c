/*
 * test_password.c - the salted PBKDF2 hashes of common/fogpay_password.h:
 * round trip, salt, malformed stored hashes, the iteration bounds, the
 * password length bound, and an RFC 7914 section 11 PBKDF2-HMAC-SHA256 vector
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

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("password", NULL, NULL);
    CU_add_test(s, "password hashes", test_passwords);
    CU_add_test(s, "the stored format", test_stored_format);
    CU_add_test(s, "the default iteration count", test_default_iterations);
    return testutil_run();
}
