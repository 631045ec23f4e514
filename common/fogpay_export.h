/*
 * fogpay_export.h - one settled transfer (or event) as a line of CSV or a
 * JSON object,
 * the export format of the gateway (fogpayctl export) and of the cloud
 * (fogpay-cloud transfers), so that the two print the same bytes for the
 * same chain and can be compared row for row.
 *
 * CSV: the header line of fogpay_export_csv_header(), then one line per
 * transfer; text fields are quoted only when they hold a comma, a quote or
 * a line break. JSON: an array of objects, one per line; the caller writes
 * "[\n" before the first and "\n]\n" after the last. Amounts are decimals
 * in the currency's minor-unit exponent, hashes lower-case hex (the intent
 * hash empty for a transfer no device caused).
 */
#ifndef FOGPAY_EXPORT_H
#define FOGPAY_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fogpay_limits.h"
#include "fogpay_message.h"

/* Writes the CSV header line. */
void fogpay_export_csv_header(FILE *out);

/* Writes one transfer and its chain hash as a CSV line. */
void fogpay_export_csv(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES]);

/* Writes one transfer as a JSON object, preceded by ",\n" unless first. */
void fogpay_export_json(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES],
                        bool first);

/* Events (fogpay_event) the same way: a header line, then one line per
 * event with its chain hash; ids and units are of [A-Za-z0-9._:-], so no
 * field needs quoting. */
void fogpay_export_event_csv_header(FILE *out);
void fogpay_export_event_csv(FILE *out, const fogpay_event *e,
                             const uint8_t hash[FOGPAY_HASH_BYTES]);
void fogpay_export_event_json(FILE *out, const fogpay_event *e,
                              const uint8_t hash[FOGPAY_HASH_BYTES], bool first);

#endif
