/*
 * test_cli.c - the command-line scaffolding (common/fogpay_cli.c): strict
 * number parsing, reading one line from a file or standard input, the
 * messages and exit statuses, and keygen writing a key that loads.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fogpay_cli.h"
#include "fogpay_key.h"
#include "testutil.h"

static char dir[256];

static void path_of(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_parse_u64(void)
{
    uint64_t v = 7;
    CU_ASSERT(fogpay_cli_parse_u64("0", 10, &v) && v == 0);
    CU_ASSERT(fogpay_cli_parse_u64("65535", 65535, &v) && v == 65535);
    CU_ASSERT(fogpay_cli_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    v = 7;
    const char *bad[] = {
        "", "-1", "+1", " 1", "1 ", "0x10", "1.5", "65536", "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_FALSE(fogpay_cli_parse_u64(bad[i], i == 7 ? 65535 : UINT64_MAX, &v));
    }
    CU_ASSERT_FALSE(fogpay_cli_parse_u64(NULL, 1, &v));
    CU_ASSERT_EQUAL(v, 7); /* untouched on failure */
}

static void test_read_line(void)
{
    char path[512], out[8];
    path_of("line", path, sizeof path);
    write_file(path, "secret\r\nsecond line\n");
    CU_ASSERT(fogpay_cli_read_line(path, out, sizeof out));
    CU_ASSERT_STRING_EQUAL(out, "secret");
    /* Seven bytes fit in eight with their NUL. */
    write_file(path, "1234567\n");
    CU_ASSERT(fogpay_cli_read_line(path, out, sizeof out));
    CU_ASSERT_STRING_EQUAL(out, "1234567");
    /* Eight do not: refused and wiped, not cut. */
    write_file(path, "12345678\n");
    CU_ASSERT_FALSE(fogpay_cli_read_line(path, out, sizeof out));
    CU_ASSERT_EQUAL(out[0], '\0');
    write_file(path, "\nnext\n");
    CU_ASSERT_FALSE(fogpay_cli_read_line(path, out, sizeof out));
    write_file(path, "");
    CU_ASSERT_FALSE(fogpay_cli_read_line(path, out, sizeof out));
    path_of("absent", path, sizeof path);
    CU_ASSERT_FALSE(fogpay_cli_read_line(path, out, sizeof out));
    /* "-" is standard input. */
    path_of("stdin", path, sizeof path);
    write_file(path, "from-in\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(freopen(path, "r", stdin));
    CU_ASSERT(fogpay_cli_read_line("-", out, sizeof out));
    CU_ASSERT_STRING_EQUAL(out, "from-in");
}

static void test_messages_and_statuses(void)
{
    CU_ASSERT_EQUAL(fogpay_cli_usage_error("prog", "cmd", "a message"), FOGPAY_CLI_EXIT_USAGE);
    CU_ASSERT_EQUAL(fogpay_cli_usage_error("prog", NULL, "a message"), 2);
    CU_ASSERT_EQUAL(fogpay_cli_fail("prog", "opening", FOGPAY_ERR_IO), FOGPAY_CLI_EXIT_FAILURE);
    CU_ASSERT_EQUAL(FOGPAY_CLI_EXIT_OK, 0);
    CU_ASSERT_EQUAL(FOGPAY_CLI_EXIT_FAILURE, 1);
}

static void test_keygen(void)
{
    char path[512];
    path_of("k.key", path, sizeof path);
    CU_ASSERT_EQUAL(fogpay_cli_keygen("prog", path, "p256"), FOGPAY_CLI_EXIT_OK);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    fogpay_key *key = NULL;
    CU_ASSERT_EQUAL(fogpay_key_load(path, &key), FOGPAY_OK);
    fogpay_key_free(key);
    /* An existing file is not overwritten; a bad algorithm and no --out
     * are usage errors. */
    CU_ASSERT_EQUAL(fogpay_cli_keygen("prog", path, NULL), FOGPAY_CLI_EXIT_FAILURE);
    CU_ASSERT_EQUAL(fogpay_cli_keygen("prog", path, "rsa"), FOGPAY_CLI_EXIT_USAGE);
    CU_ASSERT_EQUAL(fogpay_cli_keygen("prog", NULL, NULL), FOGPAY_CLI_EXIT_USAGE);
}

int main(void)
{
    testutil_tempdir(dir, sizeof dir);
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "numbers: whole, decimal, in range", test_parse_u64);
    CU_add_test(s, "one line from a file or standard input", test_read_line);
    CU_add_test(s, "messages and exit statuses", test_messages_and_statuses);
    CU_add_test(s, "keygen", test_keygen);
    int rc = testutil_run();
    testutil_rmtree(dir);
    return rc;
}
