/*
 * fogpay_currency.c - ISO 4217 currencies and exact decimal amounts.
 *
 * Money in fogpay is an integer count of minor units with an ISO 4217
 * numeric currency code; the exponent (digits after the decimal point)
 * comes from the table below. Text amounts are parsed digit by digit with
 * overflow checks; no floating point is involved anywhere.
 */
#include "fogpay_currency.h"

#include <stdio.h>
#include <string.h>

#include "fogpay_limits.h"

typedef struct currency_row {
    char alpha[4];
    uint16_t numeric;
    uint8_t exponent;
} currency_row;

/* The currencies a gateway may enable; extend by appending rows. */
static const currency_row currency_rows[] = {
    {"AUD", 36, 2},  {"CAD", 124, 2}, {"CHF", 756, 2}, {"CNY", 156, 2}, {"CZK", 203, 2},
    {"DKK", 208, 2}, {"EUR", 978, 2}, {"GBP", 826, 2}, {"HUF", 348, 2}, {"INR", 356, 2},
    {"JPY", 392, 0}, {"KRW", 410, 0}, {"NOK", 578, 2}, {"PLN", 985, 2}, {"SEK", 752, 2},
    {"USD", 840, 2}, {"KWD", 414, 3}, {"BHD", 48, 3},
};

#define CURRENCY_COUNT (sizeof(currency_rows) / sizeof(currency_rows[0]))

bool fogpay_currency_from_code(const char *alpha3, uint16_t *numeric, int *exponent)
{
    if (!alpha3) {
        return false;
    }
    for (size_t i = 0; i < CURRENCY_COUNT; i++) {
        if (strcmp(currency_rows[i].alpha, alpha3) == 0) {
            if (numeric) {
                *numeric = currency_rows[i].numeric;
            }
            if (exponent) {
                *exponent = currency_rows[i].exponent;
            }
            return true;
        }
    }
    return false;
}

const char *fogpay_currency_code(uint16_t numeric, int *exponent)
{
    for (size_t i = 0; i < CURRENCY_COUNT; i++) {
        if (currency_rows[i].numeric == numeric) {
            if (exponent) {
                *exponent = currency_rows[i].exponent;
            }
            return currency_rows[i].alpha;
        }
    }
    return NULL;
}

/* The largest number of characters an amount may have: 13 integer digits
 * (10^12), a point and three decimals. Longer text is refused before any
 * arithmetic. */
#define AMOUNT_TEXT_MAX 20

fogpay_error fogpay_amount_parse(const char *text, int exponent, uint64_t *amount_minor)
{
    if (!text || !amount_minor || exponent < 0 || exponent > 3) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    size_t n = strlen(text);
    if (n == 0) {
        return FOGPAY_ERR_TEXT_INVALID;
    }
    if (n > AMOUNT_TEXT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t value = 0;
    int decimals = -1; /* -1 until the point is seen */
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c == '.') {
            if (decimals >= 0 || digits == 0) {
                return FOGPAY_ERR_TEXT_INVALID;
            }
            decimals = 0;
            continue;
        }
        if (c < '0' || c > '9') {
            return FOGPAY_ERR_TEXT_INVALID;
        }
        if (decimals >= 0 && ++decimals > exponent) {
            return FOGPAY_ERR_FIELD_RANGE; /* more decimals than the currency has */
        }
        value = value * 10 + (uint64_t)(c - '0');
        digits++;
        if (value > FOGPAY_AMOUNT_MAX_MINOR * 1000) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
    }
    if (decimals == 0) {
        return FOGPAY_ERR_TEXT_INVALID; /* "1." */
    }
    for (int d = decimals < 0 ? 0 : decimals; d < exponent; d++) {
        value *= 10;
    }
    if (value > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    *amount_minor = value;
    return FOGPAY_OK;
}

void fogpay_amount_format(int64_t amount_minor, int exponent, char *out, size_t cap)
{
    uint64_t magnitude =
        amount_minor < 0 ? (uint64_t)0 - (uint64_t)amount_minor : (uint64_t)amount_minor;
    if (exponent < 0 || exponent > 3) {
        exponent = 0;
    }
    uint64_t scale = 1;
    for (int i = 0; i < exponent; i++) {
        scale *= 10;
    }
    const char *sign = amount_minor < 0 ? "-" : "";
    if (exponent <= 0) {
        snprintf(out, cap, "%s%llu", sign, (unsigned long long)magnitude);
    } else {
        char fraction[4];
        uint64_t rest = magnitude % scale;
        for (int i = exponent - 1; i >= 0; i--) {
            fraction[i] = (char)('0' + rest % 10);
            rest /= 10;
        }
        fraction[exponent] = '\0';
        snprintf(out, cap, "%s%llu.%s", sign, (unsigned long long)(magnitude / scale), fraction);
    }
}
