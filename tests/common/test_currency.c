/*
 * test_currency.c - the ISO 4217 table and the exact decimal amounts of
 * common/fogpay_currency.c: codes both ways, minor-unit exponents, parsing
 * at and past every bound, and formatting that parses back.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fogpay_currency.h"
#include "fogpay_limits.h"
#include "testutil.h"

static void test_codes(void)
{
    uint16_t numeric = 0;
    int exponent = -1;
    CU_ASSERT_TRUE(fogpay_currency_from_code("EUR", &numeric, &exponent));
    CU_ASSERT_EQUAL(numeric, 978);
    CU_ASSERT_EQUAL(exponent, 2);
    CU_ASSERT_TRUE(fogpay_currency_from_code("JPY", &numeric, &exponent));
    CU_ASSERT_EQUAL(numeric, 392);
    CU_ASSERT_EQUAL(exponent, 0);
    CU_ASSERT_TRUE(fogpay_currency_from_code("KWD", &numeric, &exponent));
    CU_ASSERT_EQUAL(exponent, 3);
    CU_ASSERT_FALSE(fogpay_currency_from_code("eur", &numeric, &exponent));
    CU_ASSERT_FALSE(fogpay_currency_from_code("XXX", &numeric, &exponent));
    CU_ASSERT_FALSE(fogpay_currency_from_code("EURO", &numeric, &exponent));
    CU_ASSERT_FALSE(fogpay_currency_from_code(NULL, &numeric, &exponent));
    CU_ASSERT_STRING_EQUAL(fogpay_currency_code(840, &exponent), "USD");
    CU_ASSERT_EQUAL(exponent, 2);
    CU_ASSERT_PTR_NULL(fogpay_currency_code(999, &exponent));
    /* Every numeric code from 1 to 999 that has a name maps back to itself. */
    int named = 0;
    for (uint16_t n = 1; n < 1000; n++) {
        int e1 = -1, e2 = -1;
        const char *code = fogpay_currency_code(n, &e1);
        if (!code) {
            continue;
        }
        named++;
        uint16_t back = 0;
        CU_ASSERT_TRUE(fogpay_currency_from_code(code, &back, &e2));
        CU_ASSERT_EQUAL(back, n);
        CU_ASSERT_EQUAL(e1, e2);
    }
    CU_ASSERT(named >= 16);
}

static void test_parse(void)
{
    uint64_t v = 0;
    CU_ASSERT_EQUAL(fogpay_amount_parse("1.50", 2, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 150);
    CU_ASSERT_EQUAL(fogpay_amount_parse("12", 2, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 1200);
    CU_ASSERT_EQUAL(fogpay_amount_parse("0.07", 2, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(fogpay_amount_parse("0.5", 2, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 50);
    CU_ASSERT_EQUAL(fogpay_amount_parse("7", 0, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(fogpay_amount_parse("1.234", 3, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, 1234);
    /* The bound: FOGPAY_AMOUNT_MAX_MINOR and one past it. */
    CU_ASSERT_EQUAL(fogpay_amount_parse("10000000000.00", 2, &v), FOGPAY_OK);
    CU_ASSERT_EQUAL(v, FOGPAY_AMOUNT_MAX_MINOR);
    CU_ASSERT_EQUAL(fogpay_amount_parse("10000000000.01", 2, &v), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_amount_parse("99999999999999999999", 0, &v), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_amount_parse("1.505", 2, &v), FOGPAY_ERR_FIELD_RANGE);
    CU_ASSERT_EQUAL(fogpay_amount_parse("1.5", 0, &v), FOGPAY_ERR_FIELD_RANGE);
    static const char *invalid[] = {"",    "1.",   ".5",    "-1", "+1",
                                    "1e3", "1,50", "1.2.3", " 1", "0x10"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        v = 12345;
        CU_ASSERT_EQUAL(fogpay_amount_parse(invalid[i], 2, &v), FOGPAY_ERR_TEXT_INVALID);
        CU_ASSERT_EQUAL(v, 12345); /* untouched on error */
    }
    CU_ASSERT_EQUAL(fogpay_amount_parse("1", 4, &v), FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(fogpay_amount_parse(NULL, 2, &v), FOGPAY_ERR_INVALID_ARGUMENT);
}

static void test_format(void)
{
    char out[32];
    fogpay_amount_format(150, 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "1.50");
    fogpay_amount_format(7, 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "0.07");
    fogpay_amount_format(-1205, 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "-12.05");
    fogpay_amount_format(42, 0, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "42");
    fogpay_amount_format(1001, 3, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "1.001");
    fogpay_amount_format(INT64_MIN, 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "-92233720368547758.08");
    /* Formatting and parsing are inverse for every exponent. */
    static const uint64_t samples[] = {0, 1, 9, 10, 99, 100, 123456789, FOGPAY_AMOUNT_MAX_MINOR};
    for (int e = 0; e <= 3; e++) {
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            uint64_t back = 0;
            fogpay_amount_format((int64_t)samples[i], e, out, sizeof out);
            CU_ASSERT_EQUAL(fogpay_amount_parse(out, e, &back), FOGPAY_OK);
            CU_ASSERT_EQUAL(back, samples[i]);
        }
    }
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("currency", NULL, NULL);
    CU_add_test(s, "ISO 4217 codes", test_codes);
    CU_add_test(s, "parsing amounts", test_parse);
    CU_add_test(s, "formatting amounts", test_format);
    return testutil_run();
}
