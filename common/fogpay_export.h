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
 * hash empty in CSV for a transfer no device caused).
 *
 * A transfer's JSON object is the one of fogpay_export_transfer_object(),
 * also used by the control replies (getTransfer, listTransfers): fields
 * that a transfer does not have are absent, never empty or 0 (device, seq
 * and intentHash only for a transfer a device caused; payerEntity,
 * payeeEntity, relatedPosition, reference only when set; legs and total
 * only for a transfer of several legs: debit, credit and amount are its
 * first leg, legs the others, total the sum of all), and integers are
 * written exactly, whatever their size. CSV's last column, legs, holds the
 * further legs as debit:credit:amount joined by ';'.
 */
#ifndef FOGPAY_EXPORT_H
#define FOGPAY_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "fogpay_limits.h"
#include "fogpay_message.h"

/* Writes the CSV header line. */
void fogpay_export_csv_header(FILE *out);

/* Writes one transfer and its chain hash as a CSV line. */
void fogpay_export_csv(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES]);

/* The JSON object of one transfer; hash may be NULL (no "chainHash").
 * Returns a tree the caller frees with cJSON_Delete (or adds to its own
 * tree), or NULL when memory ran out. */
cJSON *fogpay_export_transfer_object(const fogpay_transfer *t,
                                     const uint8_t hash[FOGPAY_HASH_BYTES]);

/* Writes one transfer as a JSON object, preceded by ",\n" unless first;
 * false (nothing written) when memory ran out. */
bool fogpay_export_json(FILE *out, const fogpay_transfer *t, const uint8_t hash[FOGPAY_HASH_BYTES],
                        bool first);

/* Events (fogpay_event) the same way: a header line, then one line per
 * event with its chain hash; ids and units are of [A-Za-z0-9._:-], so no
 * field needs quoting. In JSON, an event has position, kind, time and
 * device (absent for an entity login's), then the fields of its kind and
 * none of the others' (registered: entity; status: status; ownership:
 * entity, role, effective; usage: seq, meter, quantity, unit, usageHash;
 * key rotated: kid, effective (the end of the replaced key's window); key
 * revoked: kid; entity login: entity, login, removed), then chainHash when
 * hash is given. The CSV has no kid or login column: an entity login's
 * line has its entity and an empty device. */
void fogpay_export_event_csv_header(FILE *out);
void fogpay_export_event_csv(FILE *out, const fogpay_event *e,
                             const uint8_t hash[FOGPAY_HASH_BYTES]);

/* The JSON object of one event, as fogpay_export_transfer_object. */
cJSON *fogpay_export_event_object(const fogpay_event *e, const uint8_t hash[FOGPAY_HASH_BYTES]);

/* Writes one event as a JSON object, preceded by ",\n" unless first; false
 * (nothing written) when memory ran out. */
bool fogpay_export_event_json(FILE *out, const fogpay_event *e,
                              const uint8_t hash[FOGPAY_HASH_BYTES], bool first);

#endif
