/*
 * control_internal.h - shared by the command handlers of control.c,
 * control_import.c and control_hold.c: the reply under construction and the field readers
 * that validate every field before the ledger sees it.
 */
#ifndef FOGPAY_CONTROL_INTERNAL_H
#define FOGPAY_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "control.h"

/* A response under construction: handlers add to data and may set message. */
typedef struct control_reply {
    cJSON *data;
    const char *message; /* static sentence for a failure, or NULL */
} control_reply;

/* Each returns FOGPAY_ERR_MISSING_FIELD for an absent required field and
 * sets r->message naming the rule. */
fogpay_error control__text(const cJSON *cmd, const char *name, bool required, size_t max_len,
                           const char **out, control_reply *r);

/* A whole JSON number in 0..2^53; absent and optional leaves *out. */
fogpay_error control__u64(const cJSON *cmd, const char *name, bool required, uint64_t *out,
                          control_reply *r);

/* A decimal-string amount in the given exponent; absent and optional
 * leaves *out. */
fogpay_error control__amount(const cJSON *cmd, const char *name, bool required, int exponent,
                             uint64_t *out, control_reply *r);

/* Adds minor units as a decimal string of the currency's exponent. */
void control__add_amount(cJSON *obj, const char *name, int64_t minor, int exponent);

/* A device's limits from an optional "limits" object of cmd
 * {perPayment, perDay, walletMax, currency}; absent: no limits. */
fogpay_error control__device_limits(const cJSON *cmd, fogpay_device_limits *limits,
                                    control_reply *r);

/* The stored verifier of a device's login from cmd's "password" (checked
 * for entropy and hashed) or "passwordVerifier" (a "sha256$" verifier made
 * elsewhere), at most one of them; out is left empty when neither is
 * given (certificate login only). out holds FOGPAY_PASSWORD_HASH_MAX. */
fogpay_error control__device_verifier(const cJSON *cmd, char *out, control_reply *r);

/* The bulk import of devices (control_import.c). */
fogpay_error control__import_devices(const fogpay_control_context *c, const cJSON *cmd,
                                     uint64_t now_ms, control_reply *r);

/* Holds (control_hold.c): list, capture and void by the operator. */
fogpay_error control__hold_list(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r);
fogpay_error control__hold_capture(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);
fogpay_error control__hold_void(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r);

#endif
