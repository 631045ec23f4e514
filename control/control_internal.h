/*
 * control_internal.h - shared by the command handlers of control.c,
 * control_device.c,
 * control_import.c, control_entity.c, control_fee.c, control_hold.c,
 * control_plan.c, control_statement.c, control_tariff.c, control_bank.c and
 * control_entity_data.c: the reply under construction and the
 * field readers that validate every field before the ledger sees it.
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

typedef fogpay_error (*control_handler)(const fogpay_control_context *c, const cJSON *cmd,
                                        uint64_t now_ms, control_reply *r);

/* Copies text (checked for length by control__text; NULL is "") into out. */
void control__copy_text(char *out, size_t cap, const char *text);

/* Each returns FOGPAY_ERR_MISSING_FIELD for an absent required field and
 * sets r->message naming the rule. */
fogpay_error control__text(const cJSON *cmd, const char *name, bool required, size_t max_len,
                           const char **out, control_reply *r);

/* The optional "password" and "passwordVerifier" of cmd, NULL when absent. */
fogpay_error control__password_fields(const cJSON *cmd, const char **password,
                                      const char **verifier, control_reply *r);

/* A device's limits from an optional "limits" object of cmd
 * {perPayment, perDay, walletMax, currency}; absent: no limits. */
fogpay_error control__device_limits(const cJSON *cmd, fogpay_device_limits *limits,
                                    control_reply *r);

/* The stored verifier of a device's login from cmd's "password" (checked
 * for entropy and hashed) or "passwordVerifier" (a "sha256$" verifier made
 * elsewhere), at most one of them; out is left empty when neither is
 * given (certificate login only). out holds FOGPAY_PASSWORD_HASH_MAX. */
fogpay_error control__device_verifier(const cJSON *cmd, char *out, control_reply *r);

/* Fee schedules (control_fee.c): setFeeSchedule and listFeeSchedules. */
fogpay_error control__set_fee_schedule(const fogpay_control_context *c, const cJSON *cmd,
                                       uint64_t now_ms, control_reply *r);
fogpay_error control__list_fee_schedules(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r);
/* A whole JSON number up to 2^53 (FOGPAY_ERR_FIELD_RANGE otherwise);
 * absent and optional leaves *out as it was. */
fogpay_error control__u64(const cJSON *cmd, const char *name, bool required, uint64_t *out,
                          control_reply *r);
/* The numeric currency and its exponent from a "currency" field. */
fogpay_error control__currency(const cJSON *cmd, uint16_t *currency, int *exponent,
                               control_reply *r);
/* A decimal-string amount in the given exponent; absent and optional
 * leaves *out as it was. */
fogpay_error control__amount(const cJSON *cmd, const char *name, bool required, int exponent,
                             uint64_t *out, control_reply *r);
/* Adds minor as a decimal string in the exponent under name. */
void control__add_amount(cJSON *obj, const char *name, int64_t minor, int exponent);

/* Money credited to a device's wallet (fundWallet, payDevice): "device",
 * "currency", "amount" and an optional "reference" ("" when absent); the
 * strings are cmd's. */
typedef struct control_credit {
    const char *device;
    uint16_t currency;
    int exponent;
    uint64_t amount_minor;
    const char *reference;
} control_credit;
fogpay_error control__credit(const cJSON *cmd, control_credit *out, control_reply *r);

/* Legal entities (control_entity.c): a request of an entity's own login
 * runs handler on a copy of cmd scoped to c->entity when the command
 * called name is open to entities, and is refused otherwise. */
fogpay_error control__entity_run(const fogpay_control_context *c, const char *name,
                                 control_handler handler, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__create_entity_login(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r);
fogpay_error control__remove_entity_login(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r);
fogpay_error control__get_entity_account(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r);
/* control_device.c: listDevices. */
fogpay_error control__list_devices(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);
fogpay_error control__list_entity_devices(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r);
fogpay_error control__pay_device(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);

/* The bulk import of devices (control_import.c). */
fogpay_error control__import_devices(const fogpay_control_context *c, const cJSON *cmd,
                                     uint64_t now_ms, control_reply *r);

/* Financing plans (control_plan.c). */
fogpay_error control__create_plan(const fogpay_control_context *c, const cJSON *cmd,
                                  uint64_t now_ms, control_reply *r);
fogpay_error control__get_plan(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                               control_reply *r);
fogpay_error control__list_plans(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__close_plan(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
/* control_plan.c: tells the plan's device where it stands, when online (the
 * context's send_plan_notice); a notice not sent does not undo a command. */
void control__plan_notice(const fogpay_control_context *c, const char *plan_id);
/* What a plan's parties paid and owe (control_statement.c). */
fogpay_error control__get_plan_statement(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r);
fogpay_error control__list_arrears(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);
fogpay_error control__settle_plan(const fogpay_control_context *c, const cJSON *cmd,
                                  uint64_t now_ms, control_reply *r);
/* Tariffs and meter bindings (control_tariff.c). */
fogpay_error control__define_tariff(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r);
fogpay_error control__get_tariff(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__bind_meter(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__get_meter(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r);

/* Bearer notes (control_note.c): the stock loaded and listed. */
fogpay_error control__load_notes(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__note_stock(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r);
fogpay_error control__note_register(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r);
fogpay_error control__note_history(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);
fogpay_error control__redeem_notes(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);

/* Holds (control_hold.c): list, capture and void by the operator. */
fogpay_error control__hold_list(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r);
fogpay_error control__hold_capture(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r);
fogpay_error control__hold_void(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                control_reply *r);

/* Bank documents (control_bank.c): the camt.053 statement of an entity's
 * account, payouts and the pain.001 initiation of a period's payouts. */
fogpay_error control__get_statement(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r);
fogpay_error control__payout(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                             control_reply *r);
fogpay_error control__get_payout_initiation(const fogpay_control_context *c, const cJSON *cmd,
                                            uint64_t now_ms, control_reply *r);

/* GDPR requests (control_entity_data.c): erasure and export. */
fogpay_error control__erase_entity_data(const fogpay_control_context *c, const cJSON *cmd,
                                        uint64_t now_ms, control_reply *r);
fogpay_error control__export_entity_data(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r);

#endif
