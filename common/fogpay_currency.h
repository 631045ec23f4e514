/*
 * fogpay_currency.h - ISO 4217 currencies and exact decimal amounts: the
 * currency table fogpay knows and amounts as integer minor units, parsed
 * and formatted without floating point.
 */
#ifndef FOGPAY_CURRENCY_H
#define FOGPAY_CURRENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"

/* ISO 4217: alphabetic code to numeric and minor-unit exponent, for the
 * currencies fogpay knows (EUR, USD, GBP, CHF, JPY, SEK, ...). Returns false
 * for an unknown code. */
bool fogpay_currency_from_code(const char *alpha3, uint16_t *numeric, int *exponent);
/* The alphabetic code of a numeric one, or NULL. Static storage. */
const char *fogpay_currency_code(uint16_t numeric, int *exponent);

/* Parses a decimal amount ("1.50", "12", "0.07") exactly into minor units
 * for a currency with the given exponent: no floating point, no more
 * decimals than the exponent, no sign, no exponent notation, at most
 * FOGPAY_AMOUNT_MAX_MINOR. FOGPAY_ERR_FIELD_RANGE or FOGPAY_ERR_TEXT_INVALID. */
fogpay_error fogpay_amount_parse(const char *text, int exponent, uint64_t *amount_minor);

/* Formats minor units as a decimal with exponent digits after the point,
 * with a leading '-' for negative balances, into out (at least 32 bytes). */
void fogpay_amount_format(int64_t amount_minor, int exponent, char *out, size_t cap);

#endif
