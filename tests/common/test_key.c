/*
 * test_key.c - key files, public key text and key ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fogpay_key.h"
#include "testutil.h"

static char dir[256];

static int suite_init(void)
{
    testutil_tempdir(dir, sizeof dir);
    return 0;
}

static int suite_clean(void)
{
    testutil_rmtree(dir);
    return 0;
}

static void save_load(fogpay_alg alg, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    fogpay_key *key, *loaded;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(alg, &key), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_save(key, path, false), FOGPAY_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    /* Exclusive creation: an existing key is never silently replaced. */
    CU_ASSERT_EQUAL(fogpay_key_save(key, path, false), FOGPAY_ERR_KEY_FILE);

    CU_ASSERT_EQUAL_FATAL(fogpay_key_load(path, &loaded), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_alg(loaded), alg);
    CU_ASSERT(fogpay_key_has_private(loaded));
    char a[FOGPAY_PUBLIC_KEY_TEXT_MAX], b[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL(fogpay_key_public_text(key, a, sizeof a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_public_text(loaded, b, sizeof b), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_EQUAL(strncmp(a, alg == FOGPAY_ALG_EDDSA ? "ed25519:" : "p256:", 5), 0);

    /* The loaded key signs what the original's public key verifies. */
    uint8_t sig[FOGPAY_SIGNATURE_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_sign(loaded, (const uint8_t *)"abc", 3, sig), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_verify(key, (const uint8_t *)"abc", 3, sig, sizeof sig), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_verify(key, (const uint8_t *)"abd", 3, sig, sizeof sig),
                    FOGPAY_ERR_BAD_SIGNATURE);
    CU_ASSERT_EQUAL(fogpay_key_verify(key, (const uint8_t *)"abc", 3, sig, 63),
                    FOGPAY_ERR_BAD_SIGNATURE);
    uint8_t kid1[FOGPAY_KID_BYTES], kid2[FOGPAY_KID_BYTES];
    CU_ASSERT_EQUAL(fogpay_key_id(key, kid1), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_id(loaded, kid2), FOGPAY_OK);
    CU_ASSERT(memcmp(kid1, kid2, sizeof kid1) == 0);

    /* A key file others can read is refused. */
    CU_ASSERT_EQUAL(chmod(path, 0640), 0);
    fogpay_key *refused = NULL;
    CU_ASSERT_EQUAL(fogpay_key_load(path, &refused), FOGPAY_ERR_KEY_FILE);
    CU_ASSERT_PTR_NULL(refused);
    CU_ASSERT_EQUAL(fogpay_key_save(key, path, true), FOGPAY_OK);
    stat(path, &st);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    fogpay_key_free(key);
    fogpay_key_free(loaded);
}

static void test_files_eddsa(void)
{
    save_load(FOGPAY_ALG_EDDSA, "ed");
}

static void test_files_es256(void)
{
    save_load(FOGPAY_ALG_ES256, "ec");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

/* What every tool's keygen does: a new key file and its public text. */
static void test_create_file(void)
{
    fogpay_alg alg = FOGPAY_ALG_EDDSA;
    CU_ASSERT(fogpay_alg_from_name("p256", &alg));
    CU_ASSERT_EQUAL(alg, FOGPAY_ALG_ES256);
    CU_ASSERT(fogpay_alg_from_name("ed25519", &alg));
    CU_ASSERT_EQUAL(alg, FOGPAY_ALG_EDDSA);
    CU_ASSERT_FALSE(fogpay_alg_from_name("rsa", &alg));
    CU_ASSERT_FALSE(fogpay_alg_from_name(NULL, &alg));

    char path[512], text[FOGPAY_PUBLIC_KEY_TEXT_MAX], again[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    snprintf(path, sizeof path, "%s/created.key", dir);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_create_file(FOGPAY_ALG_ES256, path, text, sizeof text),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(strncmp(text, "p256:", 5), 0);
    fogpay_key *loaded = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_load(path, &loaded), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_key_public_text(loaded, again, sizeof again), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(text, again);
    fogpay_key_free(loaded);
    /* An existing file is never replaced; the text is left alone then. */
    CU_ASSERT_EQUAL(fogpay_key_create_file(FOGPAY_ALG_EDDSA, path, again, sizeof again),
                    FOGPAY_ERR_KEY_FILE);
    CU_ASSERT_EQUAL(fogpay_key_create_file(FOGPAY_ALG_EDDSA, NULL, again, sizeof again),
                    FOGPAY_ERR_INVALID_ARGUMENT);
}

static void test_bad_files(void)
{
    static const char *bodies[] = {
        "",
        "fogpay-key v2 ed25519 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
        "fogpay-key v1 rsa 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
        "fogpay-key v1 ed25519 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6\n",
        "fogpay-key v1 ed25519 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7fzz\n",
        /* a trailing field after the key */
        ("fogpay-key v1 ed25519 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60 "
         "x\n"),
    };
    char path[512];
    snprintf(path, sizeof path, "%s/bad.key", dir);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        write_file(path, bodies[i]);
        fogpay_key *key = NULL;
        CU_ASSERT_EQUAL(fogpay_key_load(path, &key), FOGPAY_ERR_KEY_FILE);
        CU_ASSERT_PTR_NULL(key);
    }
    fogpay_key *key = NULL;
    snprintf(path, sizeof path, "%s/absent.key", dir);
    CU_ASSERT_EQUAL(fogpay_key_load(path, &key), FOGPAY_ERR_KEY_FILE);

    /* RFC 8032 test 1: the secret gives the known public key. */
    snprintf(path, sizeof path, "%s/rfc8032.key", dir);
    write_file(path, "fogpay-key v1 ed25519 "
                     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n");
    CU_ASSERT_EQUAL_FATAL(fogpay_key_load(path, &key), FOGPAY_OK);
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL(fogpay_key_public_text(key, text, sizeof text), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(
        text, "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    fogpay_key_free(key);
}

static void test_public_text(void)
{
    static const struct {
        const char *text;
        fogpay_error err;
    } cases[] = {
        {"ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", FOGPAY_OK},
        {"ed448:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         FOGPAY_ERR_TEXT_INVALID},
        {"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         FOGPAY_ERR_TEXT_INVALID},
        {"ed25519:d75a98", FOGPAY_ERR_FIELD_RANGE},
        {"ed25519:g75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         FOGPAY_ERR_TEXT_INVALID},
        /* Not a point on P-256. */
        {"p256:04"
         "0000000000000000000000000000000000000000000000000000000000000001"
         "0000000000000000000000000000000000000000000000000000000000000001",
         FOGPAY_ERR_CRYPTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fogpay_key *key = NULL;
        fogpay_error err = fogpay_key_from_public_text(cases[i].text, &key);
        if (err != cases[i].err) {
            printf("\n  %s: %s\n", cases[i].text, fogpay_error_name(err));
        }
        CU_ASSERT_EQUAL(err, cases[i].err);
        fogpay_key_free(key);
    }
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("key", suite_init, suite_clean);
    CU_add_test(s, "Ed25519 key files", test_files_eddsa);
    CU_add_test(s, "P-256 key files", test_files_es256);
    CU_add_test(s, "a key file as keygen makes it", test_create_file);
    CU_add_test(s, "malformed key files", test_bad_files);
    CU_add_test(s, "public key text", test_public_text);
    return testutil_run();
}
