/*
 * test_error.c - the error table of common/fogpay_error.h against the
 * contract: every reason code in schemas/reason.cddl has the same name and
 * value in fogpay_error_name(), fogpay_error_is_reason() is true for exactly
 * those values, and every value has a sentence of its own.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_error.h"
#include "testutil.h"

/* The "name: value," lines of reason.cddl, checked one by one. */
static void test_reason_table(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/schemas/reason.cddl", getenv("FOGPAY_SOURCE_DIR"));
    char *text = testutil_read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    bool listed[256] = {false};
    int count = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        int value;
        if (sscanf(line, " %63[a-z0-9_]: %d", name, &value) != 2) {
            continue;
        }
        CU_ASSERT_FATAL(value > 0 && value < 256);
        if (strcmp(fogpay_error_name((fogpay_error)value), name) != 0) {
            printf("\n  %d: %s in reason.cddl, %s in fogpay_error.c\n", value, name,
                   fogpay_error_name((fogpay_error)value));
        }
        CU_ASSERT_STRING_EQUAL(fogpay_error_name((fogpay_error)value), name);
        CU_ASSERT(fogpay_error_is_reason((fogpay_error)value));
        listed[value] = true;
        count++;
    }
    free(text);
    CU_ASSERT(count > 40);
    for (int v = 0; v < 256; v++) {
        if (!listed[v] && fogpay_error_is_reason((fogpay_error)v)) {
            printf("\n  %d (%s) is a reason but not in reason.cddl\n", v,
                   fogpay_error_name((fogpay_error)v));
        }
        CU_ASSERT(listed[v] || !fogpay_error_is_reason((fogpay_error)v));
    }
}

/* Every known value has a distinct name and a sentence; unknown values say
 * so. */
static void test_names_and_sentences(void)
{
    CU_ASSERT_STRING_EQUAL(fogpay_error_name(FOGPAY_OK), "ok");
    CU_ASSERT_STRING_EQUAL(fogpay_error_name((fogpay_error)9999), "unknown_error");
    CU_ASSERT_PTR_NOT_NULL(fogpay_error_string((fogpay_error)9999));
    CU_ASSERT_FALSE(fogpay_error_is_reason(FOGPAY_OK));
    CU_ASSERT_FALSE(fogpay_error_is_reason(FOGPAY_ERR_STORAGE));
    int known = 0;
    for (int a = 0; a < 256; a++) {
        const char *name = fogpay_error_name((fogpay_error)a);
        if (strcmp(name, "unknown_error") == 0) {
            continue;
        }
        known++;
        const char *sentence = fogpay_error_string((fogpay_error)a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sentence);
        CU_ASSERT(strlen(sentence) > 0);
        for (int b = a + 1; b < 256; b++) {
            CU_ASSERT(strcmp(name, fogpay_error_name((fogpay_error)b)) != 0 ||
                      strcmp(name, "unknown_error") == 0);
        }
    }
    CU_ASSERT(known > 50);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("error", NULL, NULL);
    CU_add_test(s, "the reason codes of reason.cddl", test_reason_table);
    CU_add_test(s, "names and sentences", test_names_and_sentences);
    return testutil_run();
}
